#!/usr/bin/env bash
# What the kernel's VXLAN gives on this machine, without shoal: the same
# topology as benches/mesh.rs (two namespace hosts on a switch namespace,
# a bridge and a VXLAN device in each, a task namespace behind host 1's
# bridge) with no nftables at all. Prints iperf3 throughput to the task
# from host 1 (direct) and from host 2 over VXLAN, side by side, ROUNDS
# times (3). Needs root, iproute2 and iperf3; traffic stays inside the
# namespaces it makes, which go when it ends.
set -euo pipefail
P="vxc$$"
ROUNDS="${ROUNDS:-3}"
cleanup() {
  for n in sw h1 h2 t1; do ip netns del "$P-$n" 2>/dev/null || true; done
}
trap cleanup EXIT
mac() { ip -n "$1" -j link show "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }

ip netns add "$P-sw"
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set br0 up
for i in 1 2; do
  h="$P-h$i"
  ip netns add "$h"
  ip -n "$P-sw" link add "p$i" type veth peer name eth0 netns "$h"
  ip -n "$P-sw" link set "p$i" master br0 up
  ip -n "$h" addr add "192.168.78.$i/24" dev eth0
  ip -n "$h" link set eth0 up
  ip -n "$h" link set lo up
  ip -n "$h" link add br1 type bridge
  ip -n "$h" link add vx1 type vxlan id 42 local "192.168.78.$i" dstport 4789 nolearning proxy
  ip -n "$h" link set vx1 mtu 1450 master br1 up
  ip -n "$h" link set br1 mtu 1450 up
  ip -n "$h" addr add "10.9.0.10$i/24" dev br1
done
t="$P-t1"
ip netns add "$t"
ip -n "$P-h1" link add tv type veth peer name eth0 netns "$t"
ip -n "$P-h1" link set tv master br1 mtu 1450 up
ip -n "$t" link set eth0 mtu 1450 address 02:42:0a:09:00:05 up
ip -n "$t" link set lo up
ip -n "$t" addr add 10.9.0.5/24 dev eth0
# Static neighbours and forwarding entries, as shoal's map gives them.
h2mac=$(mac "$P-h2" br1)
ip -n "$P-h2" neigh add 10.9.0.5 lladdr 02:42:0a:09:00:05 dev vx1 nud permanent
bridge -n "$P-h2" fdb add 02:42:0a:09:00:05 dev vx1 dst 192.168.78.1 self permanent
ip -n "$P-h1" neigh add 10.9.0.102 lladdr "$h2mac" dev vx1 nud permanent
bridge -n "$P-h1" fdb add "$h2mac" dev vx1 dst 192.168.78.2 self permanent
ip -n "$t" neigh add 10.9.0.102 lladdr "$h2mac" dev eth0 nud permanent

ip netns exec "$t" iperf3 -s -p 5201 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; cleanup' EXIT
sleep 0.5
gbits() { ip netns exec "$1" iperf3 -c 10.9.0.5 -p 5201 -t 3 -f g | awk '/receiver/ {print $(NF-2)}'; }
for _ in $(seq "$ROUNDS"); do
  direct=$(gbits "$P-h1")
  vxlan=$(gbits "$P-h2")
  python3 -c "print(f'direct {$direct:.2f} Gbit/s, over VXLAN {$vxlan:.2f} Gbit/s ({$vxlan / $direct * 100:.1f}%)')"
done
