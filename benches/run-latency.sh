#!/usr/bin/env bash
# How long a one-off program takes from the command to its exit status:
# `shoal run` against `docker run --rm` on the same machine, side by side
# (farm-bench pairs the runs: A B A B ...). Two pairs: with no network
# (shoal: the node's; docker: --network none), and on a network (shoal:
# an attachable overlay, so a namespace, a veth and an address; docker:
# its default bridge, the same three). The shoal daemon runs in a
# namespace this script makes, the program is busybox `true` for both
# (docker's image is imported from Debian's busybox-static). Needs root,
# Docker Engine, farm-bench and a release build (SHOAL, default
# /var/tmp/shoal-target/release/shoal). Everything it made goes at exit.
set -euo pipefail
SHOAL="${SHOAL:-/var/tmp/shoal-target/release/shoal}"
RUNS="${RUNS:-20}"
P="srl$$"
DIR="$(mktemp -d)"
IMAGE="shoal-bench/busybox:$P"
cleanup() {
  pkill -f "shoal daemon --data-dir $DIR" 2>/dev/null || true
  sleep 0.5
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^shoal-" || true); do
    # Only the task namespaces this daemon made (their tasks are under $DIR).
    [ -d "$DIR/worker/tasks/${ns#shoal-}" ] && ip netns del "$ns" 2>/dev/null || true
  done
  ip netns del "$P" 2>/dev/null || true
  docker rmi -f "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

test -x /bin/busybox || apt-get install -y busybox-static >/dev/null
rootfs="$DIR/rootfs"
mkdir -p "$rootfs/bin"
cp /bin/busybox "$rootfs/bin/"
ln -s busybox "$rootfs/bin/true"
tar -C "$rootfs" -c . | docker import - "$IMAGE" >/dev/null

ip netns add "$P"
ip -n "$P" link set lo up
nsenter --net="/run/netns/$P" "$SHOAL" daemon --data-dir "$DIR" --hostname bench \
  --listen-addr 127.0.0.1:4242 --log-level warn >"$DIR/daemon.log" 2>&1 &
export SHOAL_HOST="unix://$DIR/shoal.sock"
for _ in $(seq 100); do [ -S "$DIR/shoal.sock" ] && break; sleep 0.1; done
"$SHOAL" node init >/dev/null
"$SHOAL" network create --attachable bench >/dev/null
"$SHOAL" run /bin/true # warm: the first run makes the network's devices

echo "== no network: shoal run vs docker run --rm --network none"
farm-bench -n "$RUNS" --timeout 600 --vs "docker run --rm --network none $IMAGE /bin/true" -- \
  "$SHOAL" -H "$SHOAL_HOST" run /bin/true
echo "== on a network: shoal run --network (overlay) vs docker run --rm (bridge)"
farm-bench -n "$RUNS" --timeout 600 --vs "docker run --rm $IMAGE /bin/true" -- \
  "$SHOAL" -H "$SHOAL_HOST" run --network bench /bin/true
