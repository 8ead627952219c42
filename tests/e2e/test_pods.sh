#!/usr/bin/env bash
# Real pods through one `k3c server` and its agent (root), driven with real
# kubectl: the node gets Ready, a Deployment's pods run with pod IPs, a
# crashing container backs off, a Job completes, env comes from a ConfigMap
# and a Secret, a memory limit reaches the cgroup, a delete stops the
# containers within the grace period, containerd's death and a server
# restart leave the same pods running, and a missing image backs off.
# Cleanup (tests/e2e/pods_lib.sh) ends by pid what the run started and
# removes what it made. Every wait is bounded; scripts/test.sh bounds the
# file (1200 s); it takes about a minute.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e
# A missing image on a registry that refuses at once on loopback: the pull
# fails without any traffic leaving the machine (docker.io would need DNS
# and the internet).
MISSING=127.0.0.1:1/library/nope:1

skip_all() { echo "1..1"; echo "ok 1 - pods e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

pollers=
on_exit() {
  [ -n "$pollers" ] && kill $pollers 2>/dev/null
  if [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    echo "# server log (last 40 lines):"
    tail -n 40 "$PODS_DIR/server.log" 2>/dev/null | sed 's/^/#   /'
    echo "# containerd log (last 20 lines):"
    tail -n 20 "$PODS_DIR/agent/containerd/containerd.log" 2>/dev/null | sed 's/^/#   /'
  fi
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_prepare k3c-pods "$IMAGE"

# --- 1. the node ---
t_start=$(now_us)
pods_server_start --node-external-ip 192.0.2.10
wait_for 60 pods_ready_or_dead
kill -0 "$PODS_SERVER_PID" 2>/dev/null || bail "k3c server runs" "$(tail -n 5 "$PODS_DIR/server.log")"
if pods_node_ready; then
  t=$(secs_since "$t_start")
  echo "# node $PODS_NODE Ready ${t} s after the server started"
  check "node Ready within 15 s of start (${t} s)" awk -v t="$t" 'BEGIN { exit !(t <= 15) }'
else
  bail "node $PODS_NODE Ready within 60 s of start"
fi

expect_output "--node-external-ip: the Node lists ExternalIP 192.0.2.10 beside its InternalIP" \
  '^192\.0\.2\.10 [0-9.]+$' \
  sh -c "kubectl --kubeconfig '$PODS_KC' get node '$PODS_NODE' -o jsonpath='{.status.addresses[?(@.type==\"ExternalIP\")].address} {.status.addresses[?(@.type==\"InternalIP\")].address}'"

# --- everything the checks below need, at once ---
manifest() {
  cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: e2e-cm}
data: {greeting: from-configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-secret}
stringData: {token: from-secret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: main, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: e2e-crash}
spec:
  restartPolicy: Always
  containers:
  - {name: main, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sh, -c, "echo crashing; exit 1"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: e2e-job}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: $IMAGE, imagePullPolicy: IfNotPresent, command: ["true"]}
---
apiVersion: v1
kind: Pod
metadata: {name: e2e-env}
spec:
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo "CM=\$CM_VAL"; echo "SECRET=\$SECRET_VAL"; exec sleep 3603']
    env:
    - name: CM_VAL
      valueFrom: {configMapKeyRef: {name: e2e-cm, key: greeting}}
    - name: SECRET_VAL
      valueFrom: {secretKeyRef: {name: e2e-secret, key: token}}
---
apiVersion: v1
kind: Pod
metadata: {name: e2e-mem}
spec:
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sleep, "3601"]
    resources: {limits: {memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: e2e-grace}
spec:
  containers:
  - {name: main, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sleep, "3602"]}
---
apiVersion: v1
kind: Pod
metadata: {name: e2e-missing}
spec:
  containers:
  - {name: main, image: "$MISSING", imagePullPolicy: IfNotPresent, command: [sleep, "3604"]}
EOF
}
t_apply=$(now_us)
out=$(manifest | kc apply -f - 2>&1) || bail "kubectl apply of the test objects" "$out"
ok "kubectl apply of the test objects"

# Waiting reasons change while we look elsewhere (ErrImagePull may last
# less than a second): two watchers (bounded, ended at exit) write a line
# "<seconds since apply> <restartCount>/<waiting reason>" for every change
# of the pod, watching again when a watch ends (the server restarts).
poll_container() {
  local pod=$1 file=$2 end=$(($(now_us) + 400 * 1000000)) line
  while [ "$(now_us)" -lt "$end" ]; do
    timeout 100 kubectl --kubeconfig "$PODS_KC" get pod "$pod" -w -o \
      'jsonpath={.status.containerStatuses[0].restartCount}/{.status.containerStatuses[0].state.waiting.reason}{"\n"}' 2>/dev/null |
      while read -r line; do echo "$(secs_since "$t_apply") $line"; done >>"$file"
    sleep 0.5
  done
}
poll_container e2e-crash "$PODS_DIR/crash.poll" &
pollers="$pollers $!"
poll_container e2e-missing "$PODS_DIR/missing.poll" &
pollers="$pollers $!"

# jp POD PATH: one jsonpath value of a pod.
jp() { kc get pod "$1" -o "jsonpath=$2" 2>/dev/null; }
phase_is() { [ "$(jp "$1" '{.status.phase}')" = "$2" ]; }

# --- 2. a Deployment of 3 ---
deploy_ready() { [ "$(kc get deploy web -o 'jsonpath={.status.readyReplicas}')" = 3 ]; }
if wait_for 90 deploy_ready; then
  ok "Deployment web 3/3 ready ($(secs_since "$t_apply") s after apply)"
else
  fail "Deployment web 3/3 ready within 90 s" "$(kc get deploy web 2>&1)"
fi
# the node's pod subnet: the first /24 of --cluster-cidr for the first node
echo "# node podCIDR: $(kc get node "$PODS_NODE" -o 'jsonpath={.spec.podCIDR}')"
wide=$(kc get pods -l app=web -o wide --no-headers 2>&1)
echo "$wide" | sed 's/^/# /'
good=$(echo "$wide" | grep -Ec "^web-[^ ]+ +1/1 +Running .* 10\.42\.0\.[0-9]+ +$PODS_NODE( |\$)")
check "get pods -o wide: 3 pods Running 1/1 with a 10.42.0.x IP on $PODS_NODE" test "$good" = 3
ips=$(kc get pods -l app=web -o 'jsonpath={range .items[*]}{.status.podIP}{"\n"}{end}' | sort -u | grep -c .)
check "the 3 pod IPs differ" test "$ips" = 3

# --- 3. CrashLoopBackOff ---
crash_state() { tail -n 1 "$PODS_DIR/crash.poll" 2>/dev/null; }
crash_looping() { crash_state | awk -F'[ /]' '$2 >= 2 && $3 == "CrashLoopBackOff" { ok = 1 } END { exit !ok }'; }
if wait_for 75 crash_looping; then
  ok "e2e-crash: CrashLoopBackOff with restartCount $(crash_state | cut -d' ' -f2 | cut -d/ -f1) ($(crash_state | cut -d' ' -f1) s after apply)"
else
  fail "e2e-crash: CrashLoopBackOff with restartCount >= 2 within 75 s" "last: $(crash_state)" \
    "$(jp e2e-crash '{.status.containerStatuses}')"
fi
awk -F'[ /]' '$2 >= 2 { print "# restartCount 2 seen " $1 " s after apply"; exit }' "$PODS_DIR/crash.poll"
check "e2e-crash: the last termination has exit code 1" \
  test "$(jp e2e-crash '{.status.containerStatuses[0].lastState.terminated.exitCode}')" = 1
check "e2e-crash: the pod is not Ready" \
  test "$(jp e2e-crash '{.status.conditions[?(@.type=="Ready")].status}')" = False

# --- 4. a Job ---
check "Job e2e-job Complete" timeout 70 kubectl --kubeconfig "$PODS_KC" wait --for=condition=complete job/e2e-job --timeout=60s
check "its pod Succeeded" test "$(kc get pods -l job-name=e2e-job -o 'jsonpath={.items[*].status.phase}')" = Succeeded

# --- 5. env from a ConfigMap and a Secret ---
# kubectl logs goes API server -> kubelet; the CRI log file under
# <data-dir>/agent/logs/ is the fallback. The comment says which was read.
env_from_logs() { kc logs e2e-env >"$PODS_DIR/env.out" 2>&1 && grep -q '^SECRET=' "$PODS_DIR/env.out"; }
env_from_file() {
  grep -rh -e 'CM=' -e 'SECRET=' "$PODS_DIR/agent/logs/" 2>/dev/null | sed 's/^.* [FP] //' >"$PODS_DIR/env.out" &&
    grep -q '^SECRET=' "$PODS_DIR/env.out"
}
wait_for 60 phase_is e2e-env Running
if wait_for 20 env_from_logs; then
  echo "# env read with kubectl logs"
elif wait_for 10 env_from_file; then
  echo "# kubectl logs failed ($(kc logs e2e-env 2>&1 | head -n 1)); env read from the log file under $PODS_DIR/agent/logs/"
fi
check "env CM_VAL from ConfigMap e2e-cm" grep -qx 'CM=from-configmap' "$PODS_DIR/env.out"
check "env SECRET_VAL from Secret e2e-secret" grep -qx 'SECRET=from-secret' "$PODS_DIR/env.out"

# --- 6. a memory limit in the cgroup ---
mem_pid() { pods_procs "sleep 3601" | head -n 1; }
mem_runs() { [ -n "$(mem_pid)" ]; }
wait_for 60 mem_runs
pid=$(mem_pid)
if [ -z "$pid" ]; then
  fail "e2e-mem's container process in the run's cgroups" "$(jp e2e-mem '{.status}')"
else
  ok "e2e-mem's container process in the run's cgroups (pid $pid)"
  sed 's/^/#   /' "/proc/$pid/cgroup"
  bad=$(awk -F: -v r="/$PODS_CG/kubepods/" 'index($3, r) != 1 { print }' "/proc/$pid/cgroup")
  check "its cgroup is under /$PODS_CG/kubepods in every hierarchy" test -z "$bad"
  if [ -d /sys/fs/cgroup/memory ]; then
    f=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")/memory.limit_in_bytes
  else
    f=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")/memory.max
  fi
  expect_output "memory limit 64Mi in $f" '^67108864$' cat "$f"
fi

# --- 7. delete with grace 5 ---
# sleep as PID 1 ignores SIGTERM: the container is killed when the grace
# period ends.
grace_pid() { pods_procs "sleep 3602" | head -n 1; }
grace_runs() { [ -n "$(grace_pid)" ]; }
wait_for 60 grace_runs
pid=$(grace_pid)
uid=$(jp e2e-grace '{.metadata.uid}')
# the pod's cgroup dirs (named after its uid, as pod<uid>)
pod_procs() {
  local c
  for c in $(pods_cgroup_roots); do
    find "$c" -type d \( -name "*$uid*" -o -name "*${uid//-/_}*" \) -exec find {} -name cgroup.procs \; 2>/dev/null
  done | xargs -r cat 2>/dev/null
}
pod_procs_none() { [ -z "$(pod_procs)" ]; }
grace_absent() { kc get pod e2e-grace 2>&1 | grep -q NotFound; }
if [ -z "$pid" ] || [ -z "$uid" ]; then
  fail "e2e-grace runs" "$(jp e2e-grace '{.status}')"
else
  n_before=$(pod_procs | sort -u | grep -c .)
  echo "# e2e-grace: container pid $pid, $n_before processes in cgroups named after uid $uid"
  t0=$(now_us)
  kc delete pod e2e-grace --grace-period=5 --wait=false >/dev/null
  if wait_for 15 pods__gone "$pid"; then
    t=$(secs_since "$t0")
    check "e2e-grace's container stopped within the grace period + 5 s (${t} s)" awk -v t="$t" 'BEGIN { exit !(t <= 10) }'
  else
    fail "e2e-grace's container stopped within 15 s of the delete" "$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  fi
  if [ "$n_before" -gt 0 ]; then
    check "no process left in the pod's cgroups" wait_for 10 pod_procs_none
  else
    skip "no process left in the pod's cgroups" "no cgroup dir is named after the pod uid"
  fi
  check "the pod object is removed" wait_for 20 grace_absent
fi

# --- 8. containerd killed, then the server restarted ---
web_state() {
  kc get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort
}
pause_count() { pods_procs "/pause pause" | grep -c .; }
sleeps() { pods_procs "sleep 3600" | grep -c .; }
before=$(web_state)
echo "$before" | sed 's/^/# before: /'
pauses=$(pause_count)
check "3 'sleep 3600' processes before" test "$(sleeps)" = 3
cpid=$(pods_containerd_pid)
if [ -z "$cpid" ]; then
  fail "find the agent's containerd"
else
  kill -KILL "$cpid"
  t0=$(now_us)
  restarted() { local p; p=$(pods_containerd_pid) && [ "$p" != "$cpid" ] && [ -S "$PODS_DIR/agent/run/containerd/containerd.sock" ]; }
  if wait_for 30 restarted; then
    ok "containerd (pid $cpid) killed with SIGKILL is restarted ($(secs_since "$t0") s, pid $(pods_containerd_pid))"
  else
    fail "containerd restarted within 30 s of SIGKILL"
  fi
  sleep 5 # the agent resyncs with the new containerd
  check "after containerd's restart: 3 'sleep 3600' processes" test "$(sleeps)" = 3
  check "after containerd's restart: same pods, phases and restart counts" test "$(web_state)" = "$before"
fi
t0=$(now_us)
if pods_server_stop 30; then
  ok "the server exits on SIGTERM ($(secs_since "$t0") s)"
else
  fail "the server exits within 30 s of SIGTERM (killed)"
fi
check "containers outlive the server: 3 'sleep 3600' processes" test "$(sleeps)" = 3
t0=$(now_us)
pods_server_start
if wait_for 60 pods_node_ready; then
  ok "node Ready again after the restart ($(secs_since "$t0") s)"
else
  fail "node Ready within 60 s of the restart"
fi
web_running() { [ "$(web_state | awk '$2 == "Running"' | grep -c .)" = 3 ]; }
check "all Deployment pods Running again" wait_for 60 web_running
sleep 5 # a duplicate container would start in this time
after=$(web_state)
echo "$after" | sed 's/^/# after: /'
check "same pod names and restart counts after the restart" test "$after" = "$before"
check "no duplicate containers: 3 'sleep 3600' processes" test "$(sleeps)" = 3
check "no duplicate sandboxes: $pauses pause processes" test "$(pause_count)" = "$pauses"
check "Deployment web 3/3 ready after the restart" wait_for 30 deploy_ready
# The restarted agent manages the containers it found: deleting a pod
# stops its container, and the ReplicaSet's replacement runs.
victim=$(echo "$after" | head -n 1 | cut -d' ' -f1)
uid=$(jp "$victim" '{.metadata.uid}')
vpid=
for p in $(pods_procs "sleep 3600"); do
  grep -q "$uid\|${uid//-/_}" "/proc/$p/cgroup" 2>/dev/null && vpid=$p
done
if [ -z "$victim" ] || [ -z "$vpid" ]; then
  fail "find the container process of a Deployment pod" "pod '$victim' uid '$uid'"
else
  kc delete pod "$victim" --grace-period=1 --wait=false >/dev/null
  check "after the restart, deleting $victim stops its container (pid $vpid)" wait_for 15 pods__gone "$vpid"
  check "and its replacement makes 3/3 ready" wait_for 60 deploy_ready
  three_sleeps() { [ "$(sleeps)" = 3 ]; }
  check "3 'sleep 3600' processes again" wait_for 10 three_sleeps
fi

# --- 9. a missing image ---
missing_seen() { grep -q ImagePullBackOff "$PODS_DIR/missing.poll" 2>/dev/null; }
wait_for 60 missing_seen
first_err=$(awk -F'[ /]' '$3 == "ErrImagePull" { print $1; exit }' "$PODS_DIR/missing.poll")
first_back=$(awk -F'[ /]' '$3 == "ImagePullBackOff" { print $1; exit }' "$PODS_DIR/missing.poll")
echo "# $MISSING: ErrImagePull first seen ${first_err:-never}, ImagePullBackOff ${first_back:-never} (s after apply)"
check "e2e-missing shows ErrImagePull" test -n "$first_err"
check "then ImagePullBackOff" awk -v a="${first_err:-x}" -v b="${first_back:-x}" \
  'BEGIN { exit !(a != "x" && b != "x" && a + 0 <= b + 0) }'
check "e2e-missing is Pending" phase_is e2e-missing Pending

# --- 10. a hostPort (k3c's CNI plugin maps it in table ip k3c-hostport) ---
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: e2e-hostport}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /www && echo hostport-ok > /www/x && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, hostPort: 18089}]
EOF
node_ip=$(kc get node "$PODS_NODE" -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}')
hp_answers() { [ "$(curl -s -m 2 "http://$1:18089/x")" = hostport-ok ]; }
check "hostPort 18089 on the node's address $node_ip reaches the pod's port 8080" wait_for 60 hp_answers "$node_ip"
check "and on 127.0.0.1" hp_answers 127.0.0.1
kc delete pod e2e-hostport --grace-period=1 >/dev/null 2>&1
hp_refused() { ! curl -s -m 2 -o /dev/null "http://$node_ip:18089/x"; }
check "the pod deleted: hostPort 18089 no longer answers (its mapping removed on CNI DEL)" wait_for 30 hp_refused

echo "# total $(secs_since "$t_start") s"
done_testing
