#!/usr/bin/env bash
# TCP connection rate through a Service's ClusterIP next to the same to the
# pod's IP directly, in one run (root): a two-node cluster from
# tests/e2e/cluster_lib.sh, a server pod on node 1 behind a ClusterIP
# Service with K3C_BENCH_SERVICES (100) other Services beside it (each with
# an endpoint: the proxy's maps and chains are not empty), a client pod on
# node 0; bench/netpair opens new connections one after another for
# K3C_BENCH_SECONDS (3), to the ClusterIP and to the pod IP in turn,
# K3C_BENCH_REPEAT (3) times; the medians are printed with their ratio
# (target: ClusterIP >= 90 % of direct). A new connection is what the
# proxy costs: its first packet goes through the nat chains (verdict map,
# service chain, endpoint chain, DNAT); the rest follow conntrack.
#
#   sudo flock /run/k3c-e2e.lock bash bench/svc.sh
#       builds k3c and netpair in build-bench/ (release); K3C_BIN=... uses that
#       binary and the netpair beside it (K3C_NETPAIR)
# docs/PERFORMANCE.md ("Service proxy") has figures and how to read them.
set -u
cd "$(dirname "$0")/.."
. tests/e2e/pods_lib.sh
. tests/e2e/cluster_lib.sh
[ "$(id -u)" = 0 ] || { echo "bench/svc.sh: needs root (namespaces, containerd)" >&2; exit 2; }
for bin in containerd runc busybox kubectl nsenter; do
  command -v "$bin" >/dev/null || { echo "bench/svc.sh: $bin is not installed" >&2; exit 2; }
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
[ -x "$NETPAIR" ] || { echo "bench/svc.sh: $NETPAIR is not built" >&2; exit 1; }
SECONDS_EACH=${K3C_BENCH_SECONDS:-3}
REPEAT=${K3C_BENCH_REPEAT:-3}
NSVC=${K3C_BENCH_SERVICES:-100}
IMAGE=docker.io/library/busybox:e2e
PORT=5301

server=
on_exit() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  cluster_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT
die() {
  echo "bench/svc.sh: $*" >&2
  cluster_logs 10 >&2
  exit 1
}

cluster_init k3c-bench-svc 2 || die "cannot make the test network"
cluster_image "$IMAGE" || die "cannot build the busybox image"
cluster_start || die "the server did not start"
cluster_wait_ready 120 || die "the nodes are not Ready in 120 s"
{
  for i in 0 1; do
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: bench$i, labels: {app: bench-svc$i}}
spec:
  nodeName: ${CL_NAME[i]}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMAGE, command: [sleep, "3600"]}
---
EOF
  done
  # the measured Service and NSVC others on the same pod (other ports)
  for ((k = 0; k <= NSVC; k++)); do
    cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: bench-svc$k}
spec:
  selector: {app: bench-svc1}
  ports: [{port: $((PORT + k)), targetPort: $((PORT + k))}]
---
EOF
  done
} | kc apply -f - >/dev/null || die "cannot create the pods and services"
running() { [ "$(kc get pods -l 'app in (bench-svc0,bench-svc1)' -o 'jsonpath={range .items[*]}{.status.phase}{" "}{end}')" = "Running Running " ]; }
wait_for 90 running || die "the pods are not Running in 90 s"
pod_netns() {
  local f
  for f in /var/run/netns/cni-*; do
    nsenter --net="$f" ip -o -4 addr show 2>/dev/null | grep -q " inet $1/" && { echo "$f"; return 0; }
  done
  return 1
}
PIP1=$(kc get pod bench1 -o 'jsonpath={.status.podIP}')
PIP0=$(kc get pod bench0 -o 'jsonpath={.status.podIP}')
PNS0=$(pod_netns "$PIP0") || die "no network namespace for pod IP $PIP0"
PNS1=$(pod_netns "$PIP1") || die "no network namespace for pod IP $PIP1"
CIP=$(kc get svc bench-svc0 -o 'jsonpath={.spec.clusterIP}')
nsenter --net="$PNS1" "$NETPAIR" serve "$PORT" 0 >"$PODS_DIR/serve.log" 2>&1 &
server=$!
listening() { grep -q listening "$PODS_DIR/serve.log"; }
wait_for 10 listening || die "the netpair server did not start"
through() { timeout 20 nsenter --net="$PNS0" "$NETPAIR" conn "$CIP" "$PORT" 1 >/dev/null 2>&1; }
wait_for 60 through || die "the ClusterIP $CIP:$PORT does not answer in 60 s"

# rate HOST: connections per second to HOST:PORT from pod bench0
rate() {
  timeout $((SECONDS_EACH + 30)) nsenter --net="$PNS0" "$NETPAIR" conn "$1" "$PORT" "$SECONDS_EACH" |
    sed -n 's/.*conn_s=\([0-9]*\).*/\1/p'
}
: >"$PODS_DIR/svc.txt"
: >"$PODS_DIR/pod.txt"
for ((k = 0; k < REPEAT; k++)); do
  v=$(rate "$CIP") && [ -n "$v" ] || die "the ClusterIP measurement failed"
  echo "$v" >>"$PODS_DIR/svc.txt"
  v=$(rate "$PIP1") && [ -n "$v" ] || die "the direct measurement failed"
  echo "$v" >>"$PODS_DIR/pod.txt"
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
svc=$(median "$PODS_DIR/svc.txt") pod=$(median "$PODS_DIR/pod.txt")
echo "runs (connections/s), ClusterIP: $(tr '\n' ' ' <"$PODS_DIR/svc.txt")"
echo "runs (connections/s), pod IP:    $(tr '\n' ' ' <"$PODS_DIR/pod.txt")"
echo "new TCP connections pod (node 0) -> pod (node 1), $(nproc) CPUs, ${SECONDS_EACH} s each,"
echo "$((NSVC + 1)) Services in the proxy's table; medians of $REPEAT"
printf '%-44s %14s\n' path "connections/s"
printf '%-44s %14s\n' "ClusterIP $CIP:$PORT -> $PIP1" "$svc"
printf '%-44s %14s\n' "pod IP $PIP1:$PORT directly" "$pod"
awk -v s="$svc" -v p="$pod" 'BEGIN {
  printf "ClusterIP connection rate = %.0f %% of direct (target >= 90 %%)\n", 100 * s / p }'
