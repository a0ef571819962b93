#!/usr/bin/env bash
# A local demo: builds shoal, starts a daemon on 127.0.0.1, makes it a
# one-node cluster and runs a 3-replica service on the process runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/shoal-target}"
cargo build --locked
shoal_bin="$CARGO_TARGET_DIR/debug/shoal"
data="${SHOAL_DEMO_DIR:-/tmp/shoal-demo}"
host="unix://$data/shoal.sock"
shoal() { "$shoal_bin" --host "$host" "$@"; }

mkdir -p "$data"
if ! kill -0 "$(cat "$data/daemon.pid" 2>/dev/null)" 2>/dev/null; then
  nohup "$shoal_bin" daemon --data-dir "$data" --listen-addr 127.0.0.1:4242 --hostname demo-node \
    >"$data/daemon.log" 2>&1 &
  echo $! >"$data/daemon.pid"
  # Up once the CLI reaches it (before init it answers "not a manager").
  for _ in $(seq 100); do shoal node ls 2>&1 | grep -q 'is it running' || break; sleep 0.1; done
fi
shoal node ls >/dev/null 2>&1 || shoal node init --advertise-addr 127.0.0.1:4242
shoal service inspect demo >/dev/null 2>&1 || shoal service create --name demo --replicas 3 sleep 100000

echo; shoal node ls
echo; shoal service ls
echo; shoal service ps demo
cat <<EOT

The daemon runs in the background (log: $data/daemon.log). Try:
  export SHOAL_HOST=$host
  $shoal_bin service scale demo=5
  $shoal_bin service logs demo
To stop (tasks outlive the daemon, so scale to 0 first; scale waits until they are gone):
  $shoal_bin --host $host service scale demo=0 && $shoal_bin --host $host service rm demo \\
    && kill \$(cat $data/daemon.pid) && rm -rf $data
EOT
