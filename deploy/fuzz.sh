#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/, cargo fuzz with libFuzzer), each for a
# bounded time from its committed corpus (fuzz/corpus/TARGET, and for
# compose the real stack files of ../shared/stacks when they are there):
#   deploy/fuzz.sh [SECONDS [TARGET...]]     default: 20 s, every target
# CI runs the short default; longer runs are made by hand (docs/fuzzing.md).
# New inputs go to a scratch directory, so the committed corpus stays as
# committed; a crash fails the run, its input kept under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(compose flags control dispatcher raft docker_api)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# libFuzzer's instrumentation needs nightly flags: the nightly toolchain
# when there is one, else the stable compiler told to accept them.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/shoal-fuzz-target}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  seeds=(fuzz/corpus/"$target")
  [ "$target" = compose ] && [ -d ../shared/stacks ] && seeds+=(../shared/stacks)
  mkdir -p "$scratch/$target" fuzz/corpus/"$target"
  log="$scratch/$target.log"
  echo "fuzz: $target for ${seconds}s" >&2
  if ! cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz --sanitizer none "$target" "$scratch/$target" "${seeds[@]}" \
    -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -60 "$log" >&2
    echo "fuzz: $target failed (its input is under fuzz/artifacts/$target)" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE" "$log" | sed 's/^/  /' >&2 || true
done
