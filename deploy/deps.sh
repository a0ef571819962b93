#!/usr/bin/env bash
# Installs what building and testing shoal needs on a Debian machine of
# this kind: libclang (RocksDB's bindings are generated with bindgen), a
# C++ compiler; nftables (the routing mesh drives nft), and for the
# data-path tests iproute2 (`ip netns`), util-linux (`nsenter`) and
# python3 (the tasks they run); busybox-static (the root filesystem of
# the images tests and benchmarks import into Docker); chromium (the web
# view's test loads the page in headless Chromium) and curl (its HTTPS
# test, and the Docker API's); tzdata (scheduled jobs read cron fields in
# IANA time zones); the docker CLI (the Docker API's tests drive it).
# Rust itself is expected to be installed (rustup).
set -euo pipefail
missing=()
for pkg in libclang-dev g++ pkg-config nftables iproute2 util-linux python3 busybox-static chromium curl tzdata; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Docker API's tests drive the real docker CLI: the machine's, else
# Debian's.
if ! command -v docker >/dev/null; then
  echo "installing docker.io (the docker CLI)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
