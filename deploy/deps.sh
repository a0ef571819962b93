#!/usr/bin/env bash
# Installs what building shoal needs on a Debian machine of this kind:
# libclang (RocksDB's bindings are generated with bindgen) and a C++
# compiler. Rust itself is expected to be installed (rustup).
set -euo pipefail
missing=()
for pkg in libclang-dev g++ pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
