#!/usr/bin/env bash
# Admission webhooks served by a pod behind a Service, as upstream users
# deploy them, through one `k3c server` and its agent (root), with real
# kubectl: a python HTTPS webhook (the host's /usr/bin/python3 in the
# busybox image through read-only hostPath mounts; a certificate for
# wh.whns.svc signed by a CA made here with openssl) in namespace whns,
# Service wh 443 -> 8443, readiness by tcpSocket; a
# MutatingWebhookConfiguration and a ValidatingWebhookConfiguration with
# clientConfig.service and the CA as caBundle, for configmaps CREATE/UPDATE
# in namespaces labelled wh-test=on. Checks: the JSONPatch's label, a
# denial (create and update) with upstream's message, a namespace outside
# the selector untouched, then the pod deleted: failurePolicy Fail refuses
# with upstream's `failed calling webhook` error (no endpoints), Ignore lets
# the write through. docs/ADMISSION.md. Run under flock
# /run/k3c-e2e.lock; about 15 s.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e
MUT=label.wh.example.com
VAL=deny.wh.example.com

skip_all() { echo "1..1"; echo "ok 1 - webhook pod e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl openssl /usr/bin/python3; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

. "$here/pods_lib.sh"

on_exit() {
  if [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ]; then
    echo "# pods:"
    kc get pods -A -o wide 2>&1 | sed 's/^/#   /'
    echo "# endpoints:"
    kc get endpoints -n whns -o wide 2>&1 | sed 's/^/#   /'
    echo "# events:"
    kc get events -A 2>&1 | tail -n 20 | sed 's/^/#   /'
    echo "# webhook pod log:"
    kc logs -n whns wh 2>&1 | tail -n 20 | sed 's/^/#   /'
    echo "# server log (last 40 lines):"
    tail -n 40 "$PODS_DIR/server.log" 2>/dev/null | sed 's/^/#   /'
  fi
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_start_node k3c-webhook "$IMAGE"

# ---- the CA, the serving certificate and the webhook server ----
WH=$PODS_DIR/wh
mkdir -p "$WH"
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wh-e2e-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$WH/ca.key" -out "$WH/ca.crt" &&
    openssl req -newkey rsa:2048 -nodes -subj /CN=wh.whns.svc \
      -keyout "$WH/tls.key" -out "$WH/tls.csr" &&
    printf '%s\n' 'subjectAltName=DNS:wh.whns.svc,DNS:wh.whns.svc.cluster.local' \
      'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
      'extendedKeyUsage=serverAuth' >"$WH/tls.ext" &&
    openssl x509 -req -days 1 -in "$WH/tls.csr" -CA "$WH/ca.crt" -CAkey "$WH/ca.key" \
      -CAcreateserial -extfile "$WH/tls.ext" -out "$WH/tls.crt"
} >"$PODS_DIR/openssl.log" 2>&1 || bail "openssl: a CA and a certificate for wh.whns.svc" "$(tail -n 5 "$PODS_DIR/openssl.log")"
rm -f "$WH/ca.key"
chmod 0644 "$WH/tls.key"
CA_B64=$(base64 -w0 <"$WH/ca.crt")

# /mutate adds the label webhook=seen by a JSONPatch; /validate refuses an
# object labelled deny=yes. Each review is one line on stdout (kubectl logs).
cat >"$WH/webhook.py" <<'EOF'
import base64, http.server, json, ssl

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        req = review["request"]
        obj = req.get("object") or {}
        labels = obj.get("metadata", {}).get("labels") or {}
        path = self.path.split("?")[0]
        resp = {"uid": req["uid"], "allowed": True}
        if path == "/mutate":
            ops = ([{"op": "add", "path": "/metadata/labels/webhook", "value": "seen"}] if labels else
                   [{"op": "add", "path": "/metadata/labels", "value": {"webhook": "seen"}}])
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif path == "/validate" and labels.get("deny") == "yes":
            resp["allowed"] = False
            resp["status"] = {"code": 403, "reason": "Forbidden",
                              "message": "%s %s carries deny=yes" % (req["kind"]["kind"], req["name"])}
        print("review %s %s %s/%s allowed=%s" % (path, req["operation"], req.get("namespace"),
                                                 req.get("name"), resp["allowed"]), flush=True)
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

httpd = http.server.ThreadingHTTPServer(("0.0.0.0", 8443), H)
httpd.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/wh/tls.crt", "/wh/tls.key")
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
print("listening on 8443", flush=True)
httpd.serve_forever()
EOF

kc apply -f - >"$PODS_DIR/apply.log" 2>&1 <<EOF || bail "create the webhook's pod and service" "$(cat "$PODS_DIR/apply.log")"
apiVersion: v1
kind: Namespace
metadata: {name: whns}
---
apiVersion: v1
kind: Namespace
metadata: {name: target, labels: {wh-test: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Pod
metadata: {name: wh, namespace: whns, labels: {app: wh}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: webhook
    image: $IMAGE
    imagePullPolicy: Never
    command: ["/usr/bin/python3", "-u", "/wh/webhook.py"]
    ports: [{containerPort: 8443, name: https}]
    readinessProbe: {tcpSocket: {port: 8443}, periodSeconds: 1}
    volumeMounts:
    - {name: usr, mountPath: /usr, readOnly: true}
    - {name: lib, mountPath: /lib, readOnly: true}
    - {name: lib64, mountPath: /lib64, readOnly: true}
    - {name: wh, mountPath: /wh, readOnly: true}
  volumes:
  - {name: usr, hostPath: {path: /usr, type: Directory}}
  - {name: lib, hostPath: {path: /lib}}
  - {name: lib64, hostPath: {path: /lib64}}
  - {name: wh, hostPath: {path: $WH, type: Directory}}
---
apiVersion: v1
kind: Service
metadata: {name: wh, namespace: whns}
spec:
  selector: {app: wh}
  ports: [{port: 443, targetPort: 8443}]
EOF

ready() { [ "$(kc get pod -n whns wh -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
ep_ips() { kc get endpoints -n whns wh -o 'jsonpath={.subsets[*].addresses[*].ip}'; }
pod_ip() { kc get pod -n whns wh -o 'jsonpath={.status.podIP}'; }
ep_is_pod() { local ip; ip=$(pod_ip) && [ -n "$ip" ] && [ "$(ep_ips)" = "$ip" ]; }
if wait_for 40 ready && wait_for 15 ep_is_pod; then
  ok "webhook pod Ready (tcpSocket 8443) and Service wh's endpoints hold its IP $(pod_ip)"
else
  bail "webhook pod Ready and endpoints populated" "$(kc describe pod -n whns wh 2>&1 | tail -n 15)" \
    "endpoints: $(ep_ips)" "log: $(kc logs -n whns wh 2>&1 | tail -n 5)"
fi

# ---- the configurations ----
hooks_yaml() { # KIND NAME HOOK PATH FAILURE-POLICY
  cat <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: $1
metadata: {name: $2}
webhooks:
- name: $3
  clientConfig:
    service: {namespace: whns, name: wh, path: $4, port: 443}
    caBundle: $CA_B64
  rules:
  - {operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}
  namespaceSelector: {matchLabels: {wh-test: "on"}}
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: $5
  timeoutSeconds: 5
EOF
}
apply_hooks() { # MUTATING-POLICY VALIDATING-POLICY
  { hooks_yaml MutatingWebhookConfiguration wh-mutate "$MUT" /mutate "$1"
    echo ---
    hooks_yaml ValidatingWebhookConfiguration wh-validate "$VAL" /validate "$2"; } |
    kc apply -f - >"$PODS_DIR/apply.log" 2>&1
}
apply_hooks Fail Fail || bail "apply the webhook configurations" "$(cat "$PODS_DIR/apply.log")"
ok "MutatingWebhookConfiguration and ValidatingWebhookConfiguration by service reference applied"

cm_yaml() { # NAME NAMESPACE [LABEL=VALUE]
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n' "$1" "$2"
  [ $# -ge 3 ] && printf '  labels: {%s: "%s"}\n' "${3%%=*}" "${3#*=}"
  printf 'data: {a: b}\n'
}
label_of() { kc get configmap -n "$2" "$1" -o "jsonpath={.metadata.labels.$3}"; }

# ---- mutating ----
out=$(kc create configmap cm-a -n target --from-literal=a=b 2>&1)
got=$(label_of cm-a target webhook)
if [ "$got" = seen ]; then
  ok "kubectl create configmap in target: the pod's JSONPatch set label webhook=seen"
else
  fail "mutating webhook's label on cm-a" "create: $out" "label webhook: '$got'"
fi
expect_output "... and the review reached the pod (its log)" '^review /mutate CREATE target/cm-a allowed=True$' \
  kc logs -n whns wh
out=$(cm_yaml cm-lab target keep=me | kc create -f - 2>&1)
got=$(kc get configmap -n target cm-lab -o 'jsonpath={.metadata.labels.keep}/{.metadata.labels.webhook}' 2>&1)
if [ "$got" = me/seen ]; then
  ok "a configmap with its own labels keeps them and gets webhook=seen"
else
  fail "patch into existing labels" "create: $out" "labels keep/webhook: '$got'"
fi

# ---- validating ----
msg='admission webhook "'$VAL'" denied the request: ConfigMap cm-deny carries deny=yes'
out=$(cm_yaml cm-deny target deny=yes | kc create -f - 2>&1)
rc=$?
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -Fq "Error from server (Forbidden): error when creating \"STDIN\": $msg" &&
  ! kc get configmap -n target cm-deny >/dev/null 2>&1; then
  ok "a configmap labelled deny=yes is refused with upstream's message (Forbidden, the webhook's name and text)"
else
  fail "validating webhook denies deny=yes" "exit $rc, stderr: $out" "want: $msg"
fi
out=$(kc label configmap -n target cm-a deny=yes 2>&1)
rc=$?
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -Fq "admission webhook \"$VAL\" denied the request: ConfigMap cm-a carries deny=yes" &&
  [ -z "$(label_of cm-a target deny)" ]; then
  ok "an UPDATE adding deny=yes is refused too, the object unchanged"
else
  fail "validating webhook on UPDATE" "exit $rc: $out" "label deny now: '$(label_of cm-a target deny)'"
fi

# ---- a namespace outside the selector ----
out=$(cm_yaml cm-free other deny=yes | kc create -f - 2>&1)
rc=$?
got=$(kc get configmap -n other cm-free -o 'jsonpath={.metadata.labels}' 2>&1)
sent=$(kc logs -n whns wh 2>&1 | grep ' other/')
if [ "$rc" = 0 ] && [ "$got" = '{"deny":"yes"}' ] && [ -z "$sent" ]; then
  ok "namespace other (not selected): created as sent, no label added, no review sent"
else
  fail "namespaceSelector leaves other alone" "exit $rc: $out" "labels: $got" "reviews: $sent"
fi

# ---- the webhook's pod gone: failurePolicy Fail, then Ignore ----
kc delete pod -n whns wh --wait=true --timeout=30s >/dev/null 2>&1
ep_empty() { [ -z "$(ep_ips)" ]; }
check "webhook pod deleted and Service wh's endpoints emptied" wait_for 15 ep_empty
no_ep='no endpoints available for service "wh"'
out=$(kc create configmap cm-down -n target 2>&1)
rc=$?
want="failed calling webhook \"$MUT\": failed to call webhook: Post \"https://wh.whns.svc:443/mutate?timeout=5s\": $no_ep"
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -Fq "Internal error occurred: $want" &&
  ! kc get configmap -n target cm-down >/dev/null 2>&1; then
  ok "failurePolicy Fail: the create is refused, the error names the mutating webhook and the service"
else
  fail "failurePolicy Fail with no endpoints (mutating)" "exit $rc: $out" "want: $want"
fi
apply_hooks Ignore Fail || fail "apply the mutating webhook with failurePolicy Ignore" "$(cat "$PODS_DIR/apply.log")"
out=$(kc create configmap cm-down -n target 2>&1)
rc=$?
want="failed calling webhook \"$VAL\": failed to call webhook: Post \"https://wh.whns.svc:443/validate?timeout=5s\": $no_ep"
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -Fq "Internal error occurred: $want"; then
  ok "mutating Ignore, validating Fail: refused, the error names the validating webhook"
else
  fail "failurePolicy Fail with no endpoints (validating)" "exit $rc: $out" "want: $want"
fi
apply_hooks Ignore Ignore || fail "apply both webhooks with failurePolicy Ignore" "$(cat "$PODS_DIR/apply.log")"
out=$(kc create configmap cm-down -n target 2>&1)
rc=$?
got=$(kc get configmap -n target cm-down -o 'jsonpath={.metadata.labels}' 2>&1)
if [ "$rc" = 0 ] && [ -z "$got" ]; then
  ok "failurePolicy Ignore on both: the create goes through, unlabelled"
else
  fail "failurePolicy Ignore lets the create through" "exit $rc: $out" "labels: $got"
fi

kc delete mutatingwebhookconfiguration wh-mutate >/dev/null 2>&1
kc delete validatingwebhookconfiguration wh-validate >/dev/null 2>&1
if pods_server_stop 30; then ok "the server stopped on SIGTERM"; else fail "the server stopped on SIGTERM"; fi
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error' "$PODS_DIR/server.log"; then
  fail "no sanitizer report in the server log" "$(grep -E -A5 'Sanitizer|runtime error' "$PODS_DIR/server.log" | head -n 20)"
else
  ok "no sanitizer report in the server log"
fi
done_testing
