#!/usr/bin/env bash
# Volume files and probes through one `k3c server` and its agent (root),
# driven with real kubectl: a changed ConfigMap reaches a running
# container's file, a secret file has its mode and decoded value, an exec
# readiness probe holds the pod un-Ready until the container makes the
# file, a failing exec liveness probe restarts the container with a Killing
# event, and an httpGet readiness probe on a named port (busybox httpd)
# makes the pod Ready. docs/AGENT.md "Volumes" and "Probes".
#
# The harness is tests/e2e/pods_lib.sh (ends by pid what the run started,
# unmounts under the data dir, removes the run's netns, bridge and cgroups).
# Do not run it next to another `k3c server` with an agent (they share the
# cni0 bridge). Every wait is bounded; it takes about two minutes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - volumes and probes e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

. "$here/pods_lib.sh"

on_exit() {
  pods_report
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

# --- the node ---
pods_start_node k3c-volprobe "$IMAGE"

# --- everything at once ---
kc apply -f - >"$PODS_DIR/apply.log" 2>&1 <<EOF || bail "apply the manifest" "$(cat "$PODS_DIR/apply.log")"
apiVersion: v1
kind: ConfigMap
metadata: {name: vp-cm}
data: {greeting: hello-one}
---
apiVersion: v1
kind: Secret
metadata: {name: vp-secret}
data: {password: czNjcjN0}
---
apiVersion: v1
kind: Pod
metadata: {name: vp-cfg}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do cat /cfg/greeting; echo; sleep 1; done"]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
  volumes:
  - {name: cfg, configMap: {name: vp-cm}}
---
apiVersion: v1
kind: Pod
metadata: {name: vp-secret}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo mode=\$(stat -L -c %a /sec/password); echo value=\$(cat /sec/password); exec sleep 3600"]
    volumeMounts: [{name: sec, mountPath: /sec}]
  volumes:
  - {name: sec, secret: {secretName: vp-secret, defaultMode: 0400}}
---
apiVersion: v1
kind: Pod
metadata: {name: vp-ready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 5; touch /tmp/ready; sleep 3600"]
    readinessProbe:
      exec: {command: ["test", "-f", "/tmp/ready"]}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: vp-live}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    livenessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: vp-http}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo ok >/www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{name: web, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /index.html, port: web}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: vp-refused}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: tcp
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      tcpSocket: {port: 9991}
      periodSeconds: 1
  - name: http
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      httpGet: {path: /healthz, port: 9992}
      periodSeconds: 1
EOF
t_apply=$(now_us)

phase() { kc get pod "$1" -o 'jsonpath={.status.phase}' 2>/dev/null; }
ready() { kc get pod "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null; }
is_running() { [ "$(phase "$1")" = Running ]; }
is_ready() { [ "$(ready "$1")" = True ]; }
uid_of() { kc get pod "$1" -o 'jsonpath={.metadata.uid}'; }

# --- readiness (exec): not Ready while the file is missing, then Ready ---
if wait_for 60 is_running vp-ready; then
  r=$(ready vp-ready)
  since=$((($(now_us) - t_apply) / 1000000))
  # the container makes the file 5 s after it starts: right after Running
  # the probe must still fail
  if [ "$r" = True ]; then
    fail "exec readiness: not Ready before /tmp/ready exists" "Ready=$r ${since}s after apply"
  else
    ok "exec readiness: not Ready before /tmp/ready exists (Ready=$r)"
  fi
  if wait_for 30 is_ready vp-ready; then
    ok "exec readiness: Ready once the container made /tmp/ready"
  else
    fail "exec readiness: Ready within 30 s of Running" "$(kc get pod vp-ready -o yaml | grep -A30 '^status:')"
  fi
else
  fail "pod vp-ready Running within 60 s" "$(kc describe pod vp-ready 2>&1 | tail -n 20)"
fi

# --- configMap: the file, then a change reaches the running container ---
# log_of POD: the CRI log file of container c, attempt 0
log_of() { echo "$PODS_DIR/agent/logs/default_$1_$(uid_of "$1")/c/0.log"; }
log_has() { [ -r "$1" ] && tail -n 3 "$1" | grep -q -- "$2"; }
if wait_for 60 is_running vp-cfg; then
  log=$(log_of vp-cfg)
  if wait_for 20 log_has "$log" hello-one; then
    ok "configMap file read in the container (hello-one)"
  else
    fail "configMap file read in the container" "log $log:" "$(tail -n 5 "$log" 2>&1)"
  fi
  kc patch configmap vp-cm -p '{"data":{"greeting":"hello-two"}}' >/dev/null ||
    fail "patch the configmap"
  t0=$(now_us)
  if wait_for 60 log_has "$log" hello-two; then
    ok "changed configMap value in the container within 60 s ($((($(now_us) - t0) / 1000)) ms)"
  else
    fail "changed configMap value in the container within 60 s" "$(tail -n 5 "$log" 2>&1)"
  fi
  # the host side: the atomic writer's layout
  vd=$PODS_DIR/agent/pods/$(uid_of vp-cfg)/volumes/kubernetes.io~configmap/cfg
  check "configMap volume: ..data -> ..<timestamp>, greeting -> ..data/greeting" \
    sh -c "readlink '$vd/..data' | grep -q '^\.\.20' && [ \"\$(readlink '$vd/greeting')\" = ..data/greeting ]"
else
  fail "pod vp-cfg Running within 60 s" "$(kc describe pod vp-cfg 2>&1 | tail -n 20)"
fi

# --- secret: mode 0400 and the decoded value ---
if wait_for 60 is_running vp-secret; then
  log=$(log_of vp-secret)
  wait_for 20 log_has "$log" value=
  check "secret file mode 0400 in the container (through the symlink)" grep -q ' mode=400$' "$log"
  check "secret file holds the decoded value" grep -q ' value=s3cr3t$' "$log"
else
  fail "pod vp-secret Running within 60 s" "$(kc describe pod vp-secret 2>&1 | tail -n 20)"
fi

# --- liveness (exec false): restarted, Killing event ---
restarts() { kc get pod vp-live -o 'jsonpath={.status.containerStatuses[0].restartCount}' 2>/dev/null; }
restarted() { [ "$(restarts)" -ge 1 ] 2>/dev/null; }
if wait_for 60 is_running vp-live; then
  if wait_for 30 restarted; then
    ok "liveness exec false: restartCount $(restarts) within 30 s"
  else
    fail "liveness exec false: restartCount >= 1 within 30 s" "restartCount=$(restarts)"
  fi
  killing() {
    kc get events --field-selector involvedObject.name=vp-live,reason=Killing \
      -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}' | grep -q "failed liveness probe"
  }
  if wait_for 15 killing; then
    ok "Killing event \"failed liveness probe\""
  else
    fail "Killing event \"failed liveness probe\"" "$(kc get events --field-selector involvedObject.name=vp-live 2>&1)"
  fi
else
  fail "pod vp-live Running within 60 s" "$(kc describe pod vp-live 2>&1 | tail -n 20)"
fi

# --- readiness (httpGet on a named port) ---
if wait_for 60 is_ready vp-http; then
  ok "httpGet readiness on named port web: Ready"
else
  fail "httpGet readiness on named port web: Ready within 60 s" \
    "$(kc get pod vp-http -o yaml 2>&1 | grep -A30 '^status:')" "$(kc get events --field-selector involvedObject.name=vp-http 2>&1)"
fi

# --- probes that reach nothing: upstream's Unhealthy messages (Go's dial errors) ---
unhealthy_msgs() {
  kc get events --field-selector involvedObject.name=vp-refused,reason=Unhealthy \
    -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}' 2>/dev/null
}
both_refused() {
  local ip m
  ip=$(kc get pod vp-refused -o 'jsonpath={.status.podIP}' 2>/dev/null)
  [ -n "$ip" ] || return 1
  m=$(unhealthy_msgs)
  grep -qxF "Readiness probe failed: dial tcp $ip:9991: connect: connection refused" <<<"$m" &&
    grep -qxF "Readiness probe failed: Get \"http://$ip:9992/healthz\": dial tcp $ip:9992: connect: connection refused" <<<"$m"
}
if wait_for 60 both_refused; then
  ok "tcpSocket and httpGet probes refused: Unhealthy events in upstream's words (dial tcp IP:PORT: connect: connection refused)"
else
  fail "Unhealthy events with upstream's dial errors for vp-refused" "$(unhealthy_msgs)"
fi

done_testing
