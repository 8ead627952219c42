#!/usr/bin/env bash
# `kubectl logs` end to end (root): one `k3c server` with its agent; pods
# that print; kubectl logs plain, -f (a line written after the command
# started), --tail, --timestamps, --since, -c with two containers and the
# error without it, --previous after a restart, an unknown container, and
# the python client's read_namespaced_pod_log. The API server proxies
# pods/log to the kubelet API on --kubelet-port.
# Part 2 runs `k3c server --disable-agent` and a separate `k3c agent`.
# The harness is tests/e2e/pods_lib.sh (ends by pid what the run started,
# removes what it made).
# Every wait is bounded; about a minute.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - logs e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

on_exit() {
  if [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    echo "# server log (last 30 lines):"
    tail -n 30 "$PODS_DIR/server.log" 2>/dev/null | sed 's/^/#   /'
    [ -f "$PODS_DIR/a2/agent.log" ] && { echo "# agent log (last 20 lines):"; tail -n 20 "$PODS_DIR/a2/agent.log" | sed 's/^/#   /'; }
  fi
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_init k3c-logs || bail "make the data dir"
pods_snapshot
KPORT=$(pods_free_port) || bail "pick a kubelet port"
pods_image "$IMAGE" || bail "busybox image"
pods_server_start --kubelet-port "$KPORT"
wait_for 60 pods_ready_or_dead
pods_node_ready || bail "node Ready" "$(tail -n 5 "$PODS_DIR/server.log")"
ok "node Ready"
expect_output "the Node names the kubelet port" "^$KPORT\$" \
  kc get node "$PODS_NODE" -o 'jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}'

# ---- pods ----
kc apply -f - >/dev/null <<EOF || bail "create the pods"
apiVersion: v1
kind: Pod
metadata: {name: printer}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line-\$i; done; sleep 1; echo to-stderr >&2; exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: late}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo first; sleep 8; echo late-line; exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: a
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo from-a; exec sleep 3600"]
  - name: b
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo from-b; exec sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo run-\$(date +%s); exit 1"]
EOF
running() { [ "$(kc get pod "$1" -o 'jsonpath={.status.phase}')" = Running ]; }
wait_for 60 running printer || bail "pod printer Running"
wait_for 30 running two || bail "pod two Running"

# (stdout and stderr reach the log file through separate pipes: the pause
# keeps line-1 first, which --limit-bytes below relies on)
has_lines() { kc logs printer | grep -q to-stderr; }
wait_for 10 has_lines
expect_output "kubectl logs prints the container's lines" '^line-1
line-2
line-3
line-4
line-5
to-stderr$' kc logs printer
expect_output "--tail=2 prints the last two lines" '^line-5
to-stderr$' kc logs printer --tail=2
expect_output "--timestamps prefixes RFC 3339 times" \
  '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z line-1' kc logs printer --timestamps
expect_output "--since=1h keeps recent lines" '^line-1' kc logs printer --since=1h
expect_output "--limit-bytes=4 cuts the output" '^line$' kc logs printer --limit-bytes=4

# -f: a line written after kubectl started arrives while it runs
wait_for 30 running late || fail "pod late Running"
timeout 30 kubectl --kubeconfig "$PODS_KC" logs -f late >"$PODS_DIR/follow.out" 2>&1 &
fpid=$!
first() { grep -q first "$PODS_DIR/follow.out"; }
wait_for 5 first
if grep -q late-line "$PODS_DIR/follow.out"; then
  skip "logs -f shows a line written after it started" "the line came before kubectl ran"
else
  late() { grep -q late-line "$PODS_DIR/follow.out"; }
  if wait_for 15 late; then ok "logs -f shows a line written after it started"; else
    fail "logs -f shows a line written after it started" "$(cat "$PODS_DIR/follow.out")"; fi
fi
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null

expect_output "-c a" '^from-a$' kc logs two -c a
expect_output "-c b" '^from-b$' kc logs two -c b
# (kubectl itself picks the first container and says "Defaulted container":
# ask the API without one)
expect_output "two containers without a container: upstream's error" \
  'a container name must be specified for pod two, choose one of: \[a b\]' \
  kc get --raw /api/v1/namespaces/default/pods/two/log
expect_output "an unknown container: upstream's error" 'container nope is not valid for pod printer' \
  kc logs printer -c nope

# --previous after a restart
restarted() { [ "$(kc get pod crasher -o 'jsonpath={.status.containerStatuses[0].restartCount}')" -ge 1 ] 2>/dev/null; }
wait_for 60 restarted || fail "crasher restarted"
expect_output "--previous prints the previous run" '^run-[0-9]+$' kc logs crasher --previous
expect_output "--previous on a never restarted container: upstream's error" \
  'previous terminated container "a" in pod "two" not found' kc logs two -c a --previous

# -f ends when the container exits
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: ender}
spec:
  restartPolicy: Never
  containers:
  - {name: e, image: $IMAGE, imagePullPolicy: Never, command: ["sh", "-c", "echo bye; sleep 3"]}
EOF
wait_for 30 running ender
expect_output "logs -f ends when the container exits" '^bye$' \
  timeout 25 kubectl --kubeconfig "$PODS_KC" logs -f ender

# RBAC: pods/log is its own resource (a user who may get pods may not
# read their logs without it)
kc create role pod-reader --verb=get --resource=pods >/dev/null
kc create rolebinding pod-reader --role=pod-reader --user=reader >/dev/null
check "a pod reader may get the pod" kc get pod printer --as=reader
expect_output "pods/log needs its own permission" 'cannot get resource "pods/log"' \
  kc get --raw /api/v1/namespaces/default/pods/printer/log --as=reader

# the kubelet API itself: a client certificate of the client CA is required
TLS=$PODS_DIR/server/tls
expect_output "kubelet API refuses a client without a certificate" '^Unauthorized$' \
  curl -sk "https://127.0.0.1:$KPORT/healthz"
expect_output "kubelet API /healthz with the admin certificate" '^ok$' \
  curl -sk --cert "$TLS/client-admin.crt" --key "$TLS/client-admin.key" "https://127.0.0.1:$KPORT/healthz"
expect_output "kubelet API /pods lists the node's pods" '"kind":"PodList".*"name":"printer"' \
  curl -sk --cert "$TLS/client-admin.crt" --key "$TLS/client-admin.key" "https://127.0.0.1:$KPORT/pods"
# certificates the kubelet API refuses (it verifies with the client CA and wants clientAuth)
kcert() { # name CA EKU: an EC certificate for system:masters signed by CA
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x/O=system:masters \
    -keyout "$PODS_DIR/$1.key" -out "$PODS_DIR/$1.csr" 2>/dev/null &&
    printf 'extendedKeyUsage=%s\n' "$3" >"$PODS_DIR/$1.ext" &&
    openssl x509 -req -in "$PODS_DIR/$1.csr" -CA "$TLS/$2.crt" -CAkey "$TLS/$2.key" -CAcreateserial \
      -days 1 -extfile "$PODS_DIR/$1.ext" -out "$PODS_DIR/$1.crt" 2>/dev/null
}
kcert by-server server-ca clientAuth && kcert server-only client-ca serverAuth ||
  fail "openssl: make test client certificates"
expect_output "kubelet API refuses a certificate of the server CA: 401 saying why" \
  "^Unauthorized: client certificate refused: it is not signed by the cluster's client CA$" \
  curl -sk --cert "$PODS_DIR/by-server.crt" --key "$PODS_DIR/by-server.key" "https://127.0.0.1:$KPORT/healthz"
expect_output "kubelet API refuses a client CA certificate without clientAuth: 401 saying why" \
  "^Unauthorized: client certificate refused: its extended key usage does not include clientAuth$" \
  curl -sk --cert "$PODS_DIR/server-only.crt" --key "$PODS_DIR/server-only.key" "https://127.0.0.1:$KPORT/healthz"

# a pod whose container has not started yet
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: waiting}
spec:
  containers:
  - {name: w, image: "127.0.0.1:1/library/nope:1"}
EOF
waiting_reason() { kc get pod waiting -o 'jsonpath={.status.containerStatuses[0].state.waiting.reason}' | grep -q .; }
wait_for 30 waiting_reason
expect_output "a waiting container: upstream's error" \
  'container "w" in pod "waiting" is waiting to start' kc logs waiting

# the python client
expect_output "python client read_namespaced_pod_log" '^line-1
line-2' timeout 30 /usr/bin/python3 - "$PODS_KC" <<'EOF'
import sys
from kubernetes import client, config
config.load_kube_config(config_file=sys.argv[1])
print(client.CoreV1Api().read_namespaced_pod_log("printer", "default"), end="")
EOF

# the server stops cleanly and the sanitizers saw nothing
pods_server_stop 30
if grep -qE "AddressSanitizer|runtime error" "$PODS_DIR/server.log"; then
  fail "no sanitizer reports in the server log" "$(grep -E -A5 "AddressSanitizer|runtime error" "$PODS_DIR/server.log" | head -n 30)"
else
  ok "no sanitizer reports in the server log"
fi
grep -q LeakSanitizer "$PODS_DIR/server.log" &&
  grep -E "^(SUMMARY|Direct leak)" "$PODS_DIR/server.log" | head -n 10 | sed 's/^/# leak: /'

# ---- `k3c agent` alone: its self-signed serving certificate ----
# (a second server without an agent in its own data dir under the run's,
# the agent's too: cleanup ends and removes both)
S2=$PODS_DIR/s2
A2=$PODS_DIR/a2
mkdir -p "$S2"
KC2=$S2/kubeconfig.yaml
"$K3C" server --config /dev/null --data-dir "$S2" --https-listen-port "$PODS_PORT" \
  --bind-address 127.0.0.1 --write-kubeconfig "$KC2" --disable-agent >>"$S2/server.log" 2>&1 &
PODS_SERVER_PID=$!
kc2() { timeout 30 kubectl --kubeconfig "$KC2" --request-timeout=20s "$@"; }
api_up() { kc2 get --raw /readyz; }
wait_for 30 api_up || bail "second server answers" "$(tail -n 5 "$S2/server.log")"
mkdir -p "$A2/agent/images" && cp "$PODS_DIR"/agent/images/*.tar "$A2/agent/images/" ||
  bail "the agent's images"
pods_agent_start "$A2" "$KC2" "$PODS_NODE-a" --kubelet-port "$KPORT" || bail "start the k3c agent"
agent_ready() {
  [ "$(kc2 get node "$PODS_NODE-a" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
wait_for 60 agent_ready || bail "k3c agent's node Ready" "$(tail -n 5 "$A2/agent.log")"
kc2 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: s, image: $IMAGE, imagePullPolicy: Never, command: ["sh", "-c", "echo from-agent; exec sleep 3600"]}
EOF
running2() { [ "$(kc2 get pod solo -o 'jsonpath={.status.phase}')" = Running ]; }
wait_for 60 running2 || fail "pod on the k3c agent Running"
has_solo() { kc2 logs solo | grep -q from-agent; }
wait_for 10 has_solo
expect_output "kubectl logs of a pod on a \`k3c agent\` node" '^from-agent$' kc2 logs solo
pods_agent_stop 30
pods_server_stop 30
if grep -qE "AddressSanitizer|runtime error" "$S2/server.log" "$A2/agent.log"; then
  fail "no sanitizer reports in the agent's and second server's logs" \
    "$(grep -hE -A5 "AddressSanitizer|runtime error" "$S2/server.log" "$A2/agent.log" | head -n 30)"
else
  ok "no sanitizer reports in the agent's and second server's logs"
fi

done_testing
