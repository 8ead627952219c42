#!/usr/bin/env bash
# Streaming through k3c (root): exec round-trip latency and port-forward
# throughput, next to the same work done directly, in one run. One
# `k3c server` with its agent and a busybox pod running httpd.
#   exec (N runs of `true` each, p50/p90 ms):
#     - `kubectl exec p -- true`: the whole kubectl process, what a user
#       typing it waits for (start-up, kubeconfig, a TLS connection and GET
#       of the pod, a second TLS connection upgraded to WebSocket v5, the
#       exec, exit); `kubectl exec -i` (stdin: the WebSocket attempt is
#       refused, kubectl falls back to SPDY/3.1) next to it;
#     - `kubectl get pod p`: kubectl's own part of that (the same start-up,
#       connection and GET, no exec);
#     - k3c's part: bench/ws_exec.py, a raw WebSocket exec client (new TLS
#       connection to the API server, upgrade relayed to the kubelet and
#       containerd, `true` run, exit status back), with its phases; the
#       python client's stream() exec;
#     - the floor without k3c: CRI Exec + WebSocket straight to
#       containerd's streaming server, and CRI ExecSync (bench/cri_exec)
#   port-forward: a 100 MiB file from httpd through `kubectl port-forward`
#           (SPDY, relayed twice) vs. curl straight to the pod IP, MB/s
#
#   sudo bash bench/stream.sh   builds k3c in build-bench/ (release);
#                               K3C_BIN=... uses that binary
#   K3C_BENCH_EXECS=30          execs timed
# Targets (issue #13): exec p50 <= 50 ms (k3c's part: the raw WebSocket
# exec client), port-forward >= 50 MB/s.
set -u
cd "$(dirname "$0")/.."
. tests/e2e/pods_lib.sh
[ "$(id -u)" = 0 ] || { echo "bench/stream.sh: needs root (containerd, cgroups, CNI)" >&2; exit 2; }
for bin in containerd runc busybox kubectl curl; do
  command -v "$bin" >/dev/null || { echo "bench/stream.sh: $bin is not installed" >&2; exit 2; }
done
if [ -z "${K3C_BIN:-}" ]; then
  B=${K3C_BENCH_DIR:-build-bench}
  [ -f "$B/build.ninja" ] || meson setup "$B" --buildtype=release >/dev/null || exit 1
  ninja -C "$B" k3c bench/cri_exec >"$B/ninja.log" 2>&1 || { tail -n 30 "$B/ninja.log"; exit 1; }
  K3C=$PWD/$B/k3c
  CRI_EXEC=$PWD/$B/bench/cri_exec
else
  K3C=$K3C_BIN
  CRI_EXEC=${K3C_CRI_EXEC:-$(dirname "$K3C_BIN")/bench/cri_exec}
fi
[ -x "$CRI_EXEC" ] || { echo "bench/stream.sh: $CRI_EXEC is not built" >&2; exit 1; }
N=${K3C_BENCH_EXECS:-30}
IMAGE=docker.io/library/busybox:e2e
PY=/usr/bin/python3

pf_pid=
cleanup() {
  [ -n "$pf_pid" ] && { kill "$pf_pid" 2>/dev/null; wait "$pf_pid" 2>/dev/null; }
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap cleanup EXIT
die() {
  echo "bench/stream.sh: $*" >&2
  tail -n 30 "$PODS_DIR/server.log" >&2
  exit 1
}

pods_init k3c-bench-stream || exit 1
pods_snapshot
pods_image "$IMAGE" || die "could not build the busybox image"
echo "machine: $(nproc) cores $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME"), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "k3c: $K3C ($("$K3C" --version 2>/dev/null | head -n 1)); containerd $(containerd --version | awk '{print $3}'); kubectl $(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n 1)"
pods_server_start
wait_for 60 pods_node_ready || die "node not Ready within 60 s"
kc apply -f - >/dev/null <<EOF || die "create the pod"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && dd if=/dev/urandom of=/www/big bs=1048576 count=100 2>/dev/null && touch /www/ready && exec httpd -f -p 80 -h /www"]
EOF
ready() { kc exec p -- test -f /www/ready; }
wait_for 60 ready || die "pod p not serving within 60 s"
POD_IP=$(kc get pod p -o 'jsonpath={.status.podIP}')

# ---- exec round trip ----
pct() { # LABEL NOTE: p50/p90 in ms of the microsecond figures on stdin
  sort -n | awk -v l="$1" -v n="$2" '{a[NR]=$1} END {printf "  %-38s p50 %6.1f  p90 %6.1f ms   %s\n", l, a[int(NR*0.5)+1]/1000, a[int(NR*0.9)+1]/1000, n}'
}
echo
echo "exec round trip of \`true\` in pod p ($N runs each)"
path() { # kubectl exec ARGS...: the protocol kubectl ended up with
  local v
  v=$(kubectl --kubeconfig "$PODS_KC" -v=6 exec "$@" 2>&1 </dev/null)
  if printf '%s' "$v" | grep -q 'The subprotocol is v5.channel.k8s.io'; then echo "WebSocket v5"
  elif printf '%s' "$v" | grep -q 'POST .*101 Switching'; then echo "SPDY/3.1 after a refused WebSocket"
  else echo "?"; fi
}
# The three kubectl commands take turns, so that the load of this shared
# machine moves all three alike.
kx() { kubectl --kubeconfig "$PODS_KC" "$@" >/dev/null 2>&1 </dev/null || die "kubectl $* failed"; }
: >"$PODS_DIR/k.exec"; : >"$PODS_DIR/k.execi"; : >"$PODS_DIR/k.get"
for i in $(seq 0 "$N"); do
  t0=$(now_us); kx exec p -- true; t1=$(now_us); kx exec -i p -- true; t2=$(now_us)
  kx get pod p; t3=$(now_us)
  [ "$i" = 0 ] && continue # the first round warms the caches
  echo $((t1 - t0)) >>"$PODS_DIR/k.exec"; echo $((t2 - t1)) >>"$PODS_DIR/k.execi"
  echo $((t3 - t2)) >>"$PODS_DIR/k.get"
done
echo " what a user waits for:"
pct "kubectl exec p -- true" "the whole kubectl process; $(path p -- true)" <"$PODS_DIR/k.exec"
pct "kubectl exec -i p -- true </dev/null" "with stdin; $(path -i p -- true)" <"$PODS_DIR/k.execi"
pct "  of which kubectl's own: get pod p" "start-up, kubeconfig, TLS, GET pod; no exec" <"$PODS_DIR/k.get"
echo " k3c's part (one new TLS connection per exec, as kubectl's):"
"$PY" bench/ws_exec.py "$PODS_KC" p "$N" | sed -n 's/.* protocol=\([^ ]*\) n=[0-9]* p50_ms=\([0-9.]*\) p90_ms=\([0-9.]*\) tls_p50_ms=\([0-9.]*\) up101_p50_ms=\([0-9.]*\) status_p50_ms=\([0-9.]*\).*/\1 \2 \3 \4 \5 \6/p' >"$PODS_DIR/ws.txt"
[ -s "$PODS_DIR/ws.txt" ] || die "ws_exec failed"
read -r wproto w50 w90 wtls wup wst <"$PODS_DIR/ws.txt"
printf '  %-38s p50 %6.1f  p90 %6.1f ms   target p50 <= 50 ms (%s)\n' "WebSocket exec client (ws_exec.py)" "$w50" "$w90" "$wproto"
printf '  %-38s %s\n' "  phases (p50 each)" "TLS handshake $wtls, request to 101 $wup, 101 to exit status $wst ms"
"$PY" - "$PODS_KC" "$N" <<'PYEOF' || die "python exec timing"
import sys, time
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config(config_file=sys.argv[1])
api = client.CoreV1Api()
n = int(sys.argv[2])
ts = []
for i in range(n + 1):
    t = time.perf_counter()
    r = stream(api.connect_get_namespaced_pod_exec, "p", "default", command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    r.run_forever(timeout=20)
    rc = r.returncode
    r.close()
    if rc != 0:
        sys.exit("exec returned %r" % rc)
    if i:  # the first one warms the client
        ts.append((time.perf_counter() - t) * 1000)
ts.sort()
print("  %-38s p50 %6.1f  p90 %6.1f ms   %s" % ("python client stream() exec", ts[len(ts) // 2],
      ts[min(len(ts) - 1, int(0.9 * len(ts)))], "WebSocket v4, the client library's own cost included"))
PYEOF
echo " without k3c (the floor):"
CID=$(kc get pod p -o 'jsonpath={.status.containerStatuses[0].containerID}')
SOCK=$PODS_DIR/agent/run/containerd/containerd.sock
r=$("$CRI_EXEC" -w -s "$SOCK" -c "${CID#*://}" -n "$N" | sed -n 's/.* p50_ms=\([0-9.]*\) p90_ms=\([0-9.]*\) up101_p50_ms=\([0-9.]*\).*/\1 \2 \3/p')
[ -n "$r" ] || die "cri_exec -w failed"
set -- $r
printf '  %-38s p50 %6.1f  p90 %6.1f ms   %s\n' "containerd: CRI Exec + WebSocket" "$1" "$2" "its 101 after $3 ms, then runc exec"
r=$("$CRI_EXEC" -s "$SOCK" -c "${CID#*://}" -n "$N" | sed -n 's/.* p50_ms=\([0-9.]*\) p90_ms=\([0-9.]*\).*/\1 \2/p')
[ -n "$r" ] || die "cri_exec failed"
set -- $r
printf '  %-38s p50 %6.1f  p90 %6.1f ms   %s\n' "containerd: CRI ExecSync" "$1" "$2" "containerd + runc exec alone"

# ---- port-forward throughput ----
LPORT=$(pods_free_port)
kubectl --kubeconfig "$PODS_KC" port-forward pod/p "$LPORT:80" >"$PODS_DIR/pf.log" 2>&1 &
pf_pid=$!
listening() { curl -s -o /dev/null "http://127.0.0.1:$LPORT/ready"; }
wait_for 20 listening || die "port-forward not listening: $(cat "$PODS_DIR/pf.log")"
mbps() { # URL: MB/s of a 100 MiB GET (best of 3)
  local best=0 i r
  for i in 1 2 3; do
    r=$(curl -s -o /dev/null --max-time 120 -w '%{speed_download}' "$1")
    best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
  done
  awk -v b="$best" 'BEGIN { printf "%.0f", b / 1e6 }'
}
rss0=$(pods_rss_kib "$PODS_SERVER_PID")
pf=$(mbps "http://127.0.0.1:$LPORT/big")
rss1=$(pods_rss_kib "$PODS_SERVER_PID")
direct=$(mbps "http://$POD_IP:80/big")
echo
echo "100 MiB over HTTP from busybox httpd (best of 3)"
echo "  kubectl port-forward (SPDY via API server and kubelet): $pf MB/s   (target >= 50 MB/s)"
echo "  direct TCP to the pod IP $POD_IP:                      $direct MB/s"
echo "  k3c RSS before/after the port-forward runs: $((rss0 / 1024)) / $((rss1 / 1024)) MiB"
