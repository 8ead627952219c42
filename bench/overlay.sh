#!/usr/bin/env bash
# Pod-to-pod TCP throughput and latency across two nodes over the VXLAN
# overlay, next to the same between the two node namespaces over the plain
# veth link (root). A two-node cluster from tests/e2e/cluster_lib.sh (server
# in node 0, an agent in node 1), a pod pinned to each node; bench/netpair
# runs in the pods' network namespaces (overlay) and in the node namespaces
# (plain): a stream for K3C_BENCH_SECONDS (5) and K3C_BENCH_ROUNDS (20000)
# one-byte request/response round trips, the two paths measured in turn
# K3C_BENCH_REPEAT (3) times; the medians are printed.
#
#   sudo flock /run/k3c-e2e.lock bash bench/overlay.sh
#       builds k3c and netpair in build-bench/ (release); K3C_BIN=... uses that
#       binary and the netpair beside it (K3C_NETPAIR)
# docs/PERFORMANCE.md ("Overlay") has figures and how to read them.
set -u
cd "$(dirname "$0")/.."
. tests/e2e/pods_lib.sh
. tests/e2e/cluster_lib.sh
[ "$(id -u)" = 0 ] || { echo "bench/overlay.sh: needs root (namespaces, containerd)" >&2; exit 2; }
for bin in containerd runc busybox kubectl nsenter; do
  command -v "$bin" >/dev/null || { echo "bench/overlay.sh: $bin is not installed" >&2; exit 2; }
done
if [ -z "${K3C_BIN:-}" ]; then
  B=${K3C_BENCH_DIR:-build-bench}
  [ -f "$B/build.ninja" ] || meson setup "$B" --buildtype=release >/dev/null || exit 1
  ninja -C "$B" k3c bench/netpair >"$B/ninja.log" 2>&1 || { tail -n 30 "$B/ninja.log"; exit 1; }
  K3C=$PWD/$B/k3c
  NETPAIR=$PWD/$B/bench/netpair
else
  K3C=$K3C_BIN
  NETPAIR=${K3C_NETPAIR:-$(dirname "$K3C_BIN")/bench/netpair}
fi
[ -x "$NETPAIR" ] || { echo "bench/overlay.sh: $NETPAIR is not built" >&2; exit 1; }
SECONDS_EACH=${K3C_BENCH_SECONDS:-5}
ROUNDS=${K3C_BENCH_ROUNDS:-20000}
REPEAT=${K3C_BENCH_REPEAT:-3}
IMAGE=docker.io/library/busybox:e2e

servers=
on_exit() {
  local p
  for p in $servers; do kill "$p" 2>/dev/null; done
  cluster_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT
die() {
  echo "bench/overlay.sh: $*" >&2
  cluster_logs 10 >&2
  exit 1
}

cluster_init k3c-bench-overlay 2 || die "cannot make the test network"
cluster_image "$IMAGE" || die "cannot build the busybox image"
cluster_start || die "the server did not start"
cluster_wait_ready 120 || die "the nodes are not Ready in 120 s"
for i in 0 1; do
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: bench$i, labels: {app: bench-overlay}}
spec:
  nodeName: ${CL_NAME[i]}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMAGE, command: [sleep, "3600"]}
---
EOF
done | kc apply -f - >/dev/null || die "cannot create the pods"
running() { [ "$(kc get pods -l app=bench-overlay -o 'jsonpath={range .items[*]}{.status.phase}{" "}{end}')" = "Running Running " ]; }
wait_for 90 running || die "the pods are not Running in 90 s"
pod_netns() {
  local f
  for f in /var/run/netns/cni-*; do
    nsenter --net="$f" ip -o -4 addr show 2>/dev/null | grep -q " inet $1/" && { echo "$f"; return 0; }
  done
  return 1
}
PIP0=$(kc get pod bench0 -o 'jsonpath={.status.podIP}')
PIP1=$(kc get pod bench1 -o 'jsonpath={.status.podIP}')
PNS0=$(pod_netns "$PIP0") || die "no network namespace for pod IP $PIP0"
PNS1=$(pod_netns "$PIP1") || die "no network namespace for pod IP $PIP1"

# servers: in pod bench1 (overlay) and in node 1's namespace (plain link)
nsenter --net="$PNS1" "$NETPAIR" serve 5201 $((2 * REPEAT)) >"$PODS_DIR/serve-pod.log" 2>&1 &
servers="$servers $!"
nsenter --net="/run/netns/${CL_NS[1]}" "$NETPAIR" serve 5202 $((2 * REPEAT)) >"$PODS_DIR/serve-node.log" 2>&1 &
servers="$servers $!"
listening() { grep -q listening "$PODS_DIR/serve-pod.log" && grep -q listening "$PODS_DIR/serve-node.log"; }
wait_for 10 listening || die "netpair servers did not start"

# measure NETNS HOST PORT: "mbit p50 p99" of a stream and a request/response run
measure() {
  local ns=$1 host=$2 port=$3 s r
  s=$(timeout $((SECONDS_EACH + 40)) nsenter --net="$ns" "$NETPAIR" stream "$host" "$port" "$SECONDS_EACH") || return 1
  r=$(timeout 120 nsenter --net="$ns" "$NETPAIR" rr "$host" "$port" "$ROUNDS") || return 1
  echo "$(echo "$s" | sed -n 's/.*mbit_s=\([0-9.]*\).*/\1/p') $(echo "$r" | sed -n 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p')"
}
mtu_pod=$(nsenter --net="$PNS0" ip -o link show eth0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
mtu_node=$(ip -n "${CL_NS[0]}" -o link show eth0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
: >"$PODS_DIR/ov.txt"
: >"$PODS_DIR/pl.txt"
for ((k = 0; k < REPEAT; k++)); do
  measure "$PNS0" "$PIP1" 5201 >>"$PODS_DIR/ov.txt" || die "the overlay measurement failed"
  measure "/run/netns/${CL_NS[0]}" "${CL_IP[1]}" 5202 >>"$PODS_DIR/pl.txt" || die "the plain measurement failed"
done
# median COLUMN FILE
median() { cut -d' ' -f"$1" "$2" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ov_mbit=$(median 1 "$PODS_DIR/ov.txt") ov_p50=$(median 2 "$PODS_DIR/ov.txt") ov_p99=$(median 3 "$PODS_DIR/ov.txt")
pl_mbit=$(median 1 "$PODS_DIR/pl.txt") pl_p50=$(median 2 "$PODS_DIR/pl.txt") pl_p99=$(median 3 "$PODS_DIR/pl.txt")
echo "runs (Mbit/s p50 p99), overlay: $(tr '\n' ';' <"$PODS_DIR/ov.txt")"
echo "runs (Mbit/s p50 p99), plain:   $(tr '\n' ';' <"$PODS_DIR/pl.txt")"

echo "pod-to-pod across nodes (overlay) vs node-to-node (plain veth link), $(nproc) CPUs,"
echo "stream ${SECONDS_EACH} s, ${ROUNDS} one-byte round trips, TCP_NODELAY; medians of $REPEAT"
printf '%-34s %12s %10s %10s %6s\n' path Mbit/s "p50 us" "p99 us" MTU
printf '%-34s %12s %10s %10s %6s\n' "pod $PIP0 -> pod $PIP1 (VXLAN)" "$ov_mbit" "$ov_p50" "$ov_p99" "$mtu_pod"
printf '%-34s %12s %10s %10s %6s\n' "node ${CL_IP[0]} -> node ${CL_IP[1]}" "$pl_mbit" "$pl_p50" "$pl_p99" "$mtu_node"
awk -v o="$ov_mbit" -v p="$pl_mbit" -v ol="$ov_p50" -v pll="$pl_p50" 'BEGIN {
  printf "overlay throughput = %.0f %% of the plain link (target >= 80 %%); p50 latency %+.1f us\n",
    100 * o / p, ol - pll }'
