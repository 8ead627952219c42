#!/usr/bin/env bash
# `kubectl top` end to end (root): one `k3c server` with its agent; a pod
# burning CPU (`while :; do :; done`) and an idle one; the kubelet samples
# ListContainerStats and /proc every 10 s (rates need two samples), the
# API server serves metrics.k8s.io from the kubelet's /stats/summary.
# Checks kubectl top nodes/pods figures, the NodeMetrics JSON, and the
# kubelet's /stats/summary and /metrics/resource fetched on :10250 with
# the admin client certificate (there is no nodes/proxy yet).
# Run under `flock /run/k3c-e2e.lock`. Every wait is bounded; about a minute.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - top e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl curl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

on_exit() {
  if [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    echo "# server log (last 30 lines):"
    tail -n 30 "$PODS_DIR/server.log" 2>/dev/null | sed 's/^/#   /'
  fi
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_init k3c-top || bail "make the data dir"
pods_snapshot
KPORT=$(pods_free_port) || bail "pick a kubelet port"
pods_image "$IMAGE" || bail "busybox image"
pods_server_start --kubelet-port "$KPORT"
wait_for 60 pods_ready_or_dead
pods_node_ready || bail "node Ready" "$(tail -n 5 "$PODS_DIR/server.log")"
ok "node Ready"

kc apply -f - >/dev/null <<EOF || bail "create the pods"
apiVersion: v1
kind: Pod
metadata: {name: burner, labels: {app: burn}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: spin
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "while :; do :; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: idler, labels: {app: idle}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: nap
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sleep", "3600"]
EOF
running() { [ "$(kc get pod "$1" -o 'jsonpath={.status.phase}')" = Running ]; }
both_running() { running burner && running idler; }
wait_for 60 both_running || bail "pods Running" "$(kc get pods -o wide 2>&1)"
ok "a busy and an idle pod Running"

# ---- the kubelet API ----
TLS=$PODS_DIR/server/tls
kget() { curl -sfk --max-time 10 --cert "$TLS/client-admin.crt" --key "$TLS/client-admin.key" "https://127.0.0.1:$KPORT$1"; }
# rates need two samples of the running containers: 10 s apart
has_rates() {
  kget /stats/summary | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
names = {p["podRef"]["name"]: p for p in s["pods"]}
ok = all("usageNanoCores" in names.get(n, {}).get("cpu", {}) for n in ("burner", "idler"))
sys.exit(0 if ok and "usageNanoCores" in s["node"]["cpu"] else 1)'
}
t0=$(now_us)
wait_for 45 has_rates || bail "kubelet summary with CPU rates" "$(kget /stats/summary 2>&1 | head -c 1500)"
ok "the kubelet's summary has CPU rates for both pods after $(secs_since "$t0") s"

SUM=$(kget /stats/summary)
check_summary() {
  printf '%s' "$SUM" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
node, pods = s["node"], {p["podRef"]["name"]: p for p in s["pods"]}
b, i = pods["burner"], pods["idler"]
errs = []
if node["nodeName"] != sys.argv[1]: errs.append("nodeName %r" % node["nodeName"])
for k in ("usageNanoCores", "usageCoreNanoSeconds", "time"):
    if k not in node["cpu"]: errs.append("node cpu lacks " + k)
if node["memory"].get("workingSetBytes", 0) <= 0: errs.append("node workingSetBytes")
if b["podRef"]["namespace"] != "default" or not b["podRef"]["uid"]: errs.append("podRef")
if [c["name"] for c in b["containers"]] != ["spin"]: errs.append("burner containers")
c = b["containers"][0]
if c["cpu"]["usageCoreNanoSeconds"] <= 0 or c["memory"]["workingSetBytes"] <= 0: errs.append("spin figures")
bc, ic = b["cpu"]["usageNanoCores"], i["cpu"]["usageNanoCores"]
print("burner %.3f cores, idler %.6f cores, node %.3f cores, node working set %d MiB; spin memory %s"
      % (bc / 1e9, ic / 1e9, node["cpu"]["usageNanoCores"] / 1e9, node["memory"]["workingSetBytes"] >> 20,
         " ".join("%s=%d" % (k, v) for k, v in sorted(c["memory"].items()) if k != "time")))
if bc < 300000000: errs.append("burner below 0.3 cores")
if ic * 20 > bc: errs.append("idler not well below burner")
print("\n".join(errs))
sys.exit(1 if errs else 0)' "$PODS_NODE"
}
if out=$(check_summary 2>&1); then
  ok "GET /stats/summary: node, pods, containers; $(printf '%s' "$out" | head -n 1)"
else
  fail "GET /stats/summary shape and figures" "$out" "$(printf '%s' "$SUM" | head -c 1500)"
fi

MET=$(kget /metrics/resource)
missing=
for m in node_cpu_usage_seconds_total node_memory_working_set_bytes \
  'container_cpu_usage_seconds_total{container="spin",namespace="default",pod="burner"}' \
  'container_memory_working_set_bytes{container="nap",namespace="default",pod="idler"}' \
  'pod_cpu_usage_seconds_total{namespace="default",pod="burner"}' \
  'pod_memory_working_set_bytes{namespace="default",pod="idler"}' 'scrape_error 0'; do
  printf '%s\n' "$MET" | grep -qF -- "$m" || missing="$missing $m"
done
if [ -z "$missing" ]; then ok "GET /metrics/resource has upstream's metric names"; else
  fail "GET /metrics/resource metric names" "missing:$missing" "$(printf '%s' "$MET" | head -n 30)"; fi
expect_output "the kubelet refuses /stats/summary without a client certificate" '^Unauthorized$' \
  curl -sk --max-time 10 "https://127.0.0.1:$KPORT/stats/summary"

# ---- metrics.k8s.io through the API server ----
top_nodes_ok() { kc top nodes --no-headers | awk -v n="$PODS_NODE" '$1 == n && $2 ~ /^[0-9]+m$/ && $2 != "0m" && $4 ~ /^[0-9]+Mi$/ && $4 != "0Mi" {f=1} END {exit !f}'; }
wait_for 30 top_nodes_ok
out=$(kc top nodes 2>&1)
if top_nodes_ok; then ok "kubectl top nodes: $(printf '%s' "$out" | tail -n 1 | tr -s ' ')"; else
  fail "kubectl top nodes prints CPU(cores) and MEMORY(bytes) > 0" "$out"; fi

top_pods() { kc top pods --no-headers; }
# burner's millicores at least 20x idler's (idle rounds up to 1m at most a few)
pods_ok() { top_pods | awk '$1 == "burner" {b = $2 + 0} $1 == "idler" {i = $2 + 0; seen = 1} END {exit !(seen && b >= 300 && b >= 20 * (i > 0 ? i : 1))}'; }
wait_for 30 pods_ok
out=$(kc top pods 2>&1)
if pods_ok; then ok "kubectl top pods: busy well above idle ($(printf '%s' "$out" | awk 'NR > 1 {printf "%s %s %s; ", $1, $2, $3}'))"; else
  fail "kubectl top pods shows burner well above idler" "$out"; fi
expect_output "kubectl top pods -l app=idle --containers" '^idler +nap +[0-9]+m +[0-9]+Mi' \
  kc top pods -l app=idle --containers --no-headers
RAW=$(kc get --raw /apis/metrics.k8s.io/v1beta1/nodes)
if printf '%s' "$RAW" | /usr/bin/python3 -c '
import json, sys
l = json.load(sys.stdin)
assert l["kind"] == "NodeMetricsList" and l["apiVersion"] == "metrics.k8s.io/v1beta1"
n = [i for i in l["items"] if i["metadata"]["name"] == sys.argv[1]][0]
assert n["kind"] == "NodeMetrics" and n["window"] and n["timestamp"].endswith("Z")
assert n["usage"]["cpu"].endswith("n") and set(n["usage"]) == {"cpu", "memory"}
' "$PODS_NODE" 2>/dev/null; then ok "get --raw /apis/metrics.k8s.io/v1beta1/nodes: NodeMetricsList shape"; else
  fail "NodeMetricsList JSON shape" "$RAW"; fi
expect_output "get --raw one PodMetrics" '"kind":"PodMetrics".*"containers":\[\{"name":"spin","usage":\{"cpu":"[0-9]+n","memory":"[0-9]+(Ki)?"\}\}\]' \
  kc get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner

kc delete pod burner idler --wait=false >/dev/null 2>&1
pods_server_stop 30 && ok "server stopped cleanly" || fail "server stopped cleanly"
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$PODS_DIR/server.log"; then
  fail "no sanitizer reports" "$(grep -E -A5 "Sanitizer|runtime error" "$PODS_DIR/server.log" | head -n 20)"
else
  ok "no sanitizer reports"
fi
done_testing
