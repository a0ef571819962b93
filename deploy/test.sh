#!/usr/bin/env bash
# Runs shoal's whole test suite: unit tests of every crate and the
# end-to-end tests that start real daemons on loopback addresses
# (127.0.x.y), clippy, and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/deps.sh
# Reuse one build directory outside the clone when there is one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/shoal-target}"
cargo test --workspace --locked --no-fail-fast "$@"
# Lints are part of the suite.
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every fuzz target for a short bounded time (deploy/fuzz.sh).
deploy/fuzz.sh 20
