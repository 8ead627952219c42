#!/usr/bin/env bash
# PersistentVolumeClaims through one `k3c server` and its agent (root), with
# real kubectl: a pod writes into a local-path claim (the default class),
# is deleted and recreated and reads the data back; the volume's directory
# is <data-dir>/storage/pvc-<uid>_<ns>_<name> on the host; a claim mounted
# readOnly refuses writes; a pod placed by nodeName on a WaitForFirstConsumer
# claim (no scheduler, so no node for the provisioner) stays
# ContainerCreating with a FailedMount event; the directory is removed after
# the claim is deleted (reclaimPolicy Delete); an emptyDir of medium Memory
# is a tmpfs of its sizeLimit (seen in the pod's /proc/mounts), unmounted
# when the pod goes; a disk emptyDir over its sizeLimit evicts the pod with
# upstream's message; a grpc readiness probe (tests/e2e/grpc_health.c on
# the host, a hostNetwork pod) keeps the pod un-Ready while the server says
# NOT_SERVING and makes it Ready once it says SERVING. docs/STORAGE.md,
# docs/AGENT.md "Probes"; container logs rotated at --container-log-max-size
# (4Ki here) with never more than --container-log-max-files (3) files, and
# `kubectl logs` reading the current one.
#
# The harness is tests/e2e/pods_lib.sh. Run under flock /run/k3c-e2e.lock.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - persistent volumes e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

. "$here/pods_lib.sh"

GRPC_PID=
on_exit() {
  [ -n "$GRPC_PID" ] && kill "$GRPC_PID" 2>/dev/null
  pods_report pods,pv,pvc
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_start_node k3c-vol2 "$IMAGE" --container-log-max-size 4Ki --container-log-max-files 3

phase() { kc get pod "$1" -o 'jsonpath={.status.phase}' 2>/dev/null; }
is_phase() { [ "$(phase "$1")" = "$2" ]; }
pvc_phase() { kc get pvc "$1" -o 'jsonpath={.status.phase}' 2>/dev/null; }
pvc_bound() { [ "$(pvc_phase "$1")" = Bound ]; }
gone() { ! kc get "$@" >/dev/null 2>&1; }

writer() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "$2"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes:
  - name: d
    persistentVolumeClaim: {claimName: $3${4:+, readOnly: $4}}
EOF
}

kc apply -f - >"$PODS_DIR/apply.log" 2>&1 <<EOF || bail "create the claim" "$(cat "$PODS_DIR/apply.log")"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
EOF
writer pv-write 'echo persisted-$RANDOM >/data/file && cat /data/file' data | kc apply -f - >/dev/null ||
  bail "create the writer pod"
if wait_for 90 is_phase pv-write Succeeded; then
  ok "a pod wrote into a local-path claim (Succeeded)"
else
  bail "writer pod Succeeded within 90 s" "$(kc describe pod pv-write 2>&1 | tail -n 20)"
fi
check "the claim is Bound to a local-path volume" pvc_bound data
written=$(kc logs pv-write 2>/dev/null)
uid=$(kc get pvc data -o 'jsonpath={.metadata.uid}')
dir=$PODS_DIR/storage/pvc-${uid}_default_data
if [ -n "$written" ] && [ "$(cat "$dir/file" 2>/dev/null)" = "$written" ]; then
  ok "the data is in $dir on the host ($written)"
else
  fail "the data is in <data-dir>/storage/pvc-<uid>_default_data" "logs: $written" "$(ls -la "$PODS_DIR/storage" 2>&1)"
fi
kc delete pod pv-write --wait=true --timeout=60s >/dev/null 2>&1
writer pv-read 'cat /data/file' data | kc apply -f - >/dev/null || fail "create the reader pod"
if wait_for 90 is_phase pv-read Succeeded && [ "$(kc logs pv-read 2>/dev/null)" = "$written" ]; then
  ok "a new pod of the claim reads the data back"
else
  fail "a new pod of the claim reads the data back" "want $written" "$(kc logs pv-read 2>&1)" \
    "$(kc describe pod pv-read 2>&1 | tail -n 15)"
fi
kc delete pod pv-read --wait=true --timeout=60s >/dev/null 2>&1

writer pv-ro 'if (echo x >/data/other) 2>/dev/null; then echo wrote; else echo refused; fi' data true |
  kc apply -f - >/dev/null || fail "create the readOnly pod"
if wait_for 90 is_phase pv-ro Succeeded && [ "$(kc logs pv-ro 2>/dev/null)" = refused ]; then
  ok "a readOnly claim mount refuses writes"
else
  fail "a readOnly claim mount refuses writes" "$(kc logs pv-ro 2>&1)"
fi
kc delete pod pv-ro --wait=true --timeout=60s >/dev/null 2>&1

# A pod given nodeName directly: no scheduler, so the claim gets no node
# and is never provisioned; the kubelet waits with FailedMount.
kc apply -f - >/dev/null 2>&1 <<EOF || fail "create the waiting claim and pod"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: lonely}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: pv-wait}
spec:
  nodeName: $PODS_NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    command: ["sleep", "3600"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: lonely}}
EOF
failed_mount() { kc get events --field-selector involvedObject.name=pv-wait,reason=FailedMount -o 'jsonpath={.items[*].message}' 2>/dev/null | grep -q 'has non-bound phase ("Pending")'; }
if wait_for 40 failed_mount; then
  ok "a pod of an unbound claim gets FailedMount (non-bound phase \"Pending\")"
else
  fail "FailedMount for an unbound claim" "$(kc get events 2>&1 | tail -n 10)"
fi
w=$(kc get pod pv-wait -o 'jsonpath={.status.phase} {.status.containerStatuses[0].state.waiting.reason}' 2>/dev/null)
if [ "$(phase pv-wait)" = Pending ] && [ "$(pvc_phase lonely)" = Pending ]; then
  ok "it stays Pending while the claim is unbound ($w)"
else
  fail "the pod stays Pending while the claim is unbound" "$w"
fi
kc delete pod pv-wait --wait=true --timeout=60s >/dev/null 2>&1

# --- emptyDir: medium Memory is a tmpfs of the sizeLimit; a disk sizeLimit evicts ---
kc apply -f - >/dev/null 2>&1 <<EOF || fail "create the emptyDir pods"
apiVersion: v1
kind: Pod
metadata: {name: ed-mem}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "grep ' /cache ' /proc/mounts; exec sleep 3600"]
    volumeMounts: [{name: cache, mountPath: /cache}]
  volumes:
  - {name: cache, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: ed-disk}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "dd if=/dev/zero of=/scratch/big bs=1024 count=3072 2>/dev/null; exec sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - {name: scratch, emptyDir: {sizeLimit: 1Mi}}
EOF
mem_logged() { kc logs ed-mem 2>/dev/null | grep -q '^tmpfs /cache tmpfs'; }
if wait_for 60 mem_logged; then
  line=$(kc logs ed-mem 2>/dev/null | head -n 1)
  case $line in
    *size=16384k*) ok "a Memory emptyDir is a tmpfs of its sizeLimit in the pod ($line)" ;;
    *) fail "the Memory emptyDir's tmpfs has size=16384k" "$line" ;;
  esac
else
  fail "a Memory emptyDir is a tmpfs in the pod" "$(kc logs ed-mem 2>&1)" "$(kc describe pod ed-mem 2>&1 | tail -n 10)"
fi
mem_uid=$(kc get pod ed-mem -o 'jsonpath={.metadata.uid}')
host_mounted() { grep -q "$mem_uid/volumes/kubernetes.io~empty-dir/cache" /proc/mounts; }
check "the tmpfs is mounted on the host under the pod's directory" host_mounted
kc delete pod ed-mem --wait=true --timeout=60s >/dev/null 2>&1
host_unmounted() { ! host_mounted && [ ! -e "$PODS_DIR/agent/pods/$mem_uid" ]; }
if wait_for 60 host_unmounted; then
  ok "the tmpfs is unmounted and the pod's directory removed once the pod is gone"
else
  fail "the tmpfs is unmounted once the pod is gone" "$(grep "$mem_uid" /proc/mounts)"
fi
evicted() { [ "$(kc get pod ed-disk -o 'jsonpath={.status.reason}' 2>/dev/null)" = Evicted ]; }
if wait_for 60 evicted; then
  msg=$(kc get pod ed-disk -o 'jsonpath={.status.phase}: {.status.message}')
  if [ "$msg" = 'Failed: Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". ' ]; then
    ok "a disk emptyDir over its sizeLimit evicts the pod ($msg)"
  else
    fail "the eviction has upstream's message" "$msg"
  fi
else
  fail "a disk emptyDir over its sizeLimit evicts the pod within 60 s" \
    "$(kc get pod ed-disk -o yaml 2>&1 | grep -A12 '^status:')"
fi
kc delete pod ed-disk --wait=true --timeout=60s >/dev/null 2>&1

# --- a grpc readiness probe (h2c health server on the host, hostNetwork pod) ---
GRPC_HEALTH=$B/tests/unit/agent/grpc_health
if [ -x "$GRPC_HEALTH" ]; then
  gport=$(pods_free_port)
  gstate=$PODS_DIR/grpc-state
  "$GRPC_HEALTH" "$gport" "$gstate" 0.0.0.0 >"$PODS_DIR/grpc.log" 2>&1 &
  GRPC_PID=$!
  kc apply -f - >/dev/null 2>&1 <<EOF || fail "create the grpc probe pod"
apiVersion: v1
kind: Pod
metadata: {name: grpc-ready}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      grpc: {port: $gport, service: k3c.test}
      periodSeconds: 1
EOF
  grpc_ready() { [ "$(kc get pod grpc-ready -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
  unhealthy() { kc get events --field-selector involvedObject.name=grpc-ready,reason=Unhealthy -o 'jsonpath={.items[*].message}' 2>/dev/null | grep -q 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")'; }
  if wait_for 60 unhealthy; then
    if grpc_ready; then
      fail "grpc readiness: not Ready while the server says NOT_SERVING"
    else
      ok "grpc readiness: not Ready, Unhealthy event 'service unhealthy (responded with \"NOT_SERVING\")'"
    fi
  else
    fail "grpc readiness: an Unhealthy event for NOT_SERVING" "$(kc get events 2>&1 | grep grpc-ready | tail -n 5)"
  fi
  echo SERVING >"$gstate"
  if wait_for 30 grpc_ready; then
    ok "grpc readiness: Ready once the server answers SERVING"
  else
    fail "grpc readiness: Ready within 30 s of SERVING" "$(kc describe pod grpc-ready 2>&1 | tail -n 10)"
  fi
  if grep -q '^service=k3c.test$' "$gstate.log" 2>/dev/null; then
    ok "the grpc probe sends its service name"
  else
    fail "the grpc probe sends its service name" "$(head -n 3 "$gstate.log" 2>&1)"
  fi
  kc delete pod grpc-ready --wait=true --timeout=60s >/dev/null 2>&1
  kill "$GRPC_PID" 2>/dev/null
  wait "$GRPC_PID" 2>/dev/null
  GRPC_PID=
else
  skip "grpc readiness probe" "$GRPC_HEALTH is not built"
fi

# --- log rotation (the server runs with --container-log-max-size 4Ki, 3 files) ---
kc apply -f - >/dev/null 2>&1 <<EOF || fail "create the chatty pod"
apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "i=0; while true; do i=\$((i+1)); echo line-\$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; sleep 0.05; done"]
EOF
chatty_dir() { echo "$PODS_DIR/agent/logs/default_chatty_$(kc get pod chatty -o 'jsonpath={.metadata.uid}')/c"; }
rotated_count() { ls "$(chatty_dir)" 2>/dev/null | grep -c '^0\.log\.[0-9]\{8\}-[0-9]\{6\}$'; }
two_rotated() { [ "$(rotated_count)" -ge 2 ]; }
if wait_for 60 two_rotated; then
  ok "rotated log files appear ($(ls "$(chatty_dir)" | tr '\n' ' '))"
else
  fail "rotated log files within 60 s" "$(ls -la "$(chatty_dir)" 2>&1)"
fi
max_seen=0
for _ in $(seq 1 25); do
  n=$(ls "$(chatty_dir)" 2>/dev/null | wc -l)
  [ "$n" -gt "$max_seen" ] && max_seen=$n
  sleep 1
done
if [ "$max_seen" -le 3 ] && [ "$max_seen" -ge 2 ]; then
  ok "never more than --container-log-max-files 3 files in 25 s (at most $max_seen)"
else
  fail "never more than 3 log files" "at most $max_seen: $(ls "$(chatty_dir)" 2>&1)"
fi
cur_size=$(stat -c %s "$(chatty_dir)/0.log" 2>/dev/null || echo 0)
last=$(kc logs chatty --tail=1 2>/dev/null)
case $last in
  line-*) ok "kubectl logs --tail=1 reads the current file after rotations ($last; 0.log is $cur_size bytes)" ;;
  *) fail "kubectl logs after rotation" "$last" ;;
esac
if [ "$cur_size" -lt 65536 ]; then
  ok "the current file stays small ($cur_size bytes: containerd reopened it)"
else
  fail "the current file was reopened" "$cur_size bytes"
fi
kc delete pod chatty --wait=true --timeout=60s >/dev/null 2>&1

# Delete reclaim: the volume goes with the claim, the agent removes the directory.
pv=$(kc get pvc data -o 'jsonpath={.spec.volumeName}')
kc delete pvc data >/dev/null 2>&1 || fail "delete the claim"
if wait_for 30 gone pv "$pv"; then
  ok "the PV $pv is deleted with its claim"
else
  fail "the PV is deleted with its claim" "$(kc get pv 2>&1)"
fi
dir_gone() { [ ! -e "$dir" ]; }
if wait_for 60 dir_gone; then
  ok "the volume's directory is removed from the host"
else
  fail "the volume's directory is removed within 60 s" "$(ls -la "$PODS_DIR/storage" 2>&1)"
fi
done_testing
