#!/usr/bin/env bash
# The rest of issue #13's agent side through one `k3c server` and its agent
# (root), with real kubectl: nodes/proxy to the real kubelet API (healthz,
# pods, stats/summary), services/proxy and pods/proxy to a busybox httpd;
# the kubelet API's /run (output, a failing command's 500); lifecycle hooks
# (postStart exec and httpGet, preStop exec before SIGTERM and httpGet, a
# failing postStart giving FailedPostStartHook and the Killing event);
# hostPath types (DirectoryOrCreate and FileOrCreate made, Directory of a
# missing path refused with upstream's FailedMount message), subPath and
# subPathExpr made on the host, a subPath through a link out of the volume
# refused; and the agent removing a deleted local-path volume's directory
# when its Node carries the binder's cleanup annotation.
# docs/AGENT.md, docs/STORAGE.md. Run under flock /run/k3c-e2e.lock.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - hooks and proxy e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

. "$here/pods_lib.sh"

REC_PID=
on_exit() {
  [ -n "$REC_PID" ] && kill "$REC_PID" 2>/dev/null
  pods_report
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_start_node k3c-hooks "$IMAGE"

NODE_IP=$(kc get node "$PODS_NODE" -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}')
HP=$PODS_DIR/hp
mkdir -p "$PODS_DIR/escape" && ln -s /etc "$PODS_DIR/escape/out"

# A recorder of the httpGet hooks' requests on the node's address.
REC_PORT=$(pods_free_port)
/usr/bin/python3 - "$REC_PORT" "$PODS_DIR/hooks.log" <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[2], "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("User-Agent")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
EOF
REC_PID=$!

kc apply -f - >"$PODS_DIR/apply.log" 2>&1 <<EOF || bail "create the pods" "$(cat "$PODS_DIR/apply.log")"
apiVersion: v1
kind: Pod
metadata: {name: hooks, labels: {app: hooks}}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    command: ["sh", "-c", "trap 'echo term >>/host/order; exit 0' TERM; mkdir -p /www && echo hello-proxy >/www/index.html && httpd -p 8080 -h /www; while :; do sleep 1; done"]
    ports: [{containerPort: 8080, name: http}]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "echo started >/host/poststart"]}}
      preStop: {exec: {command: ["sh", "-c", "echo prestop >>/host/order"]}}
    volumeMounts:
    - {name: hp, mountPath: /host}
    - {name: hp, mountPath: /sub, subPath: sub/deep}
    - {name: hp, mountPath: /expr, subPathExpr: "by-\$(POD_NAME)"}
    - {name: f, mountPath: /f.txt}
  - name: web
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    lifecycle:
      postStart: {httpGet: {host: "$NODE_IP", port: $REC_PORT, path: /poststart}}
      preStop: {httpGet: {host: "$NODE_IP", port: $REC_PORT, path: /prestop}}
  volumes:
  - {name: hp, hostPath: {path: $HP, type: DirectoryOrCreate}}
  - {name: f, hostPath: {path: $PODS_DIR/made.txt, type: FileOrCreate}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: hooks}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "exit 7"]}}
---
apiVersion: v1
kind: Pod
metadata: {name: hpbad}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMAGE, imagePullPolicy: Never, command: ["sleep", "3600"],
     volumeMounts: [{name: v, mountPath: /v}]}
  volumes:
  - {name: v, hostPath: {path: $PODS_DIR/missing, type: Directory}}
---
apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMAGE, imagePullPolicy: Never, command: ["sleep", "3600"],
     volumeMounts: [{name: v, mountPath: /v, subPath: out}]}
  volumes:
  - {name: v, hostPath: {path: $PODS_DIR/escape}}
EOF

ready() { [ "$(kc get pod "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for 60 ready hooks || bail "pod hooks Ready within 60 s" "$(kc describe pod hooks 2>&1 | tail -n 20)"
ok "pod hooks is Ready"

# ---- hooks at start, hostPath types, subPaths ----
check "postStart exec ran in the container (it wrote /host/poststart)" \
  grep -qx started "$HP/poststart"
expect_output "postStart httpGet reached its host with User-Agent kube-lifecycle" \
  '^/poststart kube-lifecycle/' cat "$PODS_DIR/hooks.log"
check "hostPath DirectoryOrCreate made the directory" test -d "$HP"
check "hostPath FileOrCreate made an empty file" test -f "$PODS_DIR/made.txt"
check "subPath sub/deep was made inside the volume" test -d "$HP/sub/deep"
check "subPathExpr by-\$(POD_NAME) was made as by-hooks" test -d "$HP/by-hooks"

has_event() { # POD REASON MESSAGE-REGEX
  kc get events --field-selector "involvedObject.name=$1,reason=$2" -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}' |
    grep -Eq -- "$3"
}
if wait_for 30 has_event hpbad FailedMount "^MountVolume.SetUp failed for volume \"v\" : hostPath type check failed: $PODS_DIR/missing is not a directory\$"; then
  ok "hostPath Directory of a missing path: FailedMount with upstream's message"
else
  fail "hostPath type Directory FailedMount" "$(kc get events --field-selector involvedObject.name=hpbad 2>&1 | tail -n 5)"
fi
check "... and the pod stays Pending" test "$(kc get pod hpbad -o 'jsonpath={.status.phase}')" = Pending
waiting_reason() { kc get pod "$1" -o 'jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}'; }
escape_refused() { waiting_reason escape | grep -q '^CreateContainerConfigError failed to prepare subPath for volumeMount "v" of container "c"$'; }
if wait_for 30 escape_refused; then
  ok "a subPath through a link out of the volume: CreateContainerConfigError, upstream's message"
else
  fail "subPath escape refused" "$(waiting_reason escape)"
fi
if wait_for 30 has_event badhook FailedPostStartHook '^PostStartHook failed$' &&
  wait_for 10 has_event badhook Killing '^FailedPostStartHook$'; then
  ok "a failing postStart: FailedPostStartHook, and the container is killed"
else
  fail "failing postStart events" "$(kc get events --field-selector involvedObject.name=badhook 2>&1 | tail -n 8)"
fi
restarted() { [ "$(kc get pod badhook -o 'jsonpath={.status.containerStatuses[0].restartCount}')" -ge 1 ] 2>/dev/null; }
check "... and it is restarted under restartPolicy Always" wait_for 30 restarted

# ---- the proxy subresources and /run ----
expect_output "nodes/proxy/healthz reaches the kubelet" '^ok$' \
  kc get --raw "/api/v1/nodes/$PODS_NODE/proxy/healthz"
expect_output "nodes/proxy/pods: the kubelet's PodList with pod hooks" '"name":"hooks"' \
  kc get --raw "/api/v1/nodes/$PODS_NODE/proxy/pods"
summary() { kc get --raw "/api/v1/nodes/$PODS_NODE/proxy/stats/summary" | grep -q "\"nodeName\":\"$PODS_NODE\""; }
check "nodes/proxy/stats/summary: the Summary API (within 25 s, after a sample)" wait_for 25 summary
expect_output "services/web:80/proxy reaches httpd at a ready endpoint" '^hello-proxy$' \
  kc get --raw /api/v1/namespaces/default/services/web:80/proxy/index.html
expect_output "services/http:web:http/proxy (scheme and port name)" '^hello-proxy$' \
  kc get --raw /api/v1/namespaces/default/services/http:web:http/proxy/index.html
expect_output "pods/hooks/proxy reaches the pod's first containerPort" '^hello-proxy$' \
  kc get --raw /api/v1/namespaces/default/pods/hooks/proxy/index.html
: >"$PODS_DIR/empty"
expect_output "kubelet /run through nodes/proxy: the command's output" '^started$' \
  kc create --raw "/api/v1/nodes/$PODS_NODE/proxy/run/default/hooks/main?cmd=cat%20/host/poststart" -f "$PODS_DIR/empty"
expect_output "kubelet /run of a failing command: upstream's error" "command 'ls /nope' exited with 1: ls: /nope: No such file or directory" \
  kc create --raw "/api/v1/nodes/$PODS_NODE/proxy/run/default/hooks/main?cmd=ls%20/nope" -f "$PODS_DIR/empty"

# ---- preStop on delete ----
t0=$(now_us)
kc delete pod hooks --wait=true --timeout=40s >/dev/null 2>&1
took=$(secs_since "$t0")
if [ "$(cat "$HP/order" 2>/dev/null | tr '\n' ' ')" = "prestop term " ]; then
  ok "preStop exec ran before the stop signal (order: prestop term; deleted in ${took}s)"
else
  fail "preStop before SIGTERM" "order: $(cat "$HP/order" 2>&1)" "deleted in ${took}s"
fi
expect_output "preStop httpGet reached its host" '^/prestop kube-lifecycle/' cat "$PODS_DIR/hooks.log"

# ---- a deleted local-path volume's directory on this node ----
vol=$PODS_DIR/storage/pvc-e2e0001_default_data
mkdir -p "$vol/inner" && echo x >"$vol/inner/file"
kc annotate node "$PODS_NODE" "local-path.k3c.io/cleanup-pvc-e2e0001=$vol" >/dev/null ||
  fail "annotate the node"
ann_gone() { [ -z "$(kc get node "$PODS_NODE" -o 'jsonpath={.metadata.annotations.local-path\.k3c\.io/cleanup-pvc-e2e0001}')" ]; }
if wait_for 15 ann_gone && [ ! -e "$vol" ]; then
  ok "the agent removed the volume's directory and the cleanup annotation"
else
  fail "local-path cleanup by the agent" "$(ls -la "$vol" 2>&1)" "$(grep -i 'volume' "$PODS_DIR/server.log" | tail -n 3)"
fi
kc annotate node "$PODS_NODE" "local-path.k3c.io/cleanup-pvc-e2e0002=/etc" >/dev/null
ann2_gone() { [ -z "$(kc get node "$PODS_NODE" -o 'jsonpath={.metadata.annotations.local-path\.k3c\.io/cleanup-pvc-e2e0002}')" ]; }
if wait_for 15 ann2_gone && [ -d /etc ] && grep -q "names /etc, not a local-path volume's directory" "$PODS_DIR/server.log"; then
  ok "an annotation naming another directory is refused (logged, dropped, nothing removed)"
else
  fail "a foreign directory is not removed" "$(grep -i 'cleanup' "$PODS_DIR/server.log" | tail -n 3)"
fi

kc delete pod badhook hpbad escape --wait=true --timeout=40s >/dev/null 2>&1
if pods_server_stop 30; then ok "the server stopped on SIGTERM"; else fail "the server stopped on SIGTERM"; fi
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error' "$PODS_DIR/server.log"; then
  fail "no sanitizer report in the server log" "$(grep -E -A5 'Sanitizer|runtime error' "$PODS_DIR/server.log" | head -n 20)"
else
  ok "no sanitizer report in the server log"
fi
done_testing
