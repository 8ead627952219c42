#!/usr/bin/env bash
# Pod start-up and tear-down through k3c, next to the same pods made
# straight over CRI (root). One `k3c server` with its agent; for N in 1 10
# 30: the time from `kubectl apply` of a Deployment with N replicas to all N
# pods Running (polled every 0.1 s), then from its delete to no pod left;
# then bench/cri_direct makes N sandboxes + containers over CRI on the same
# containerd (all at once, as the agent's pod workers would) and removes
# them. Prints a table and the RSS (VmRSS) of the k3c process and of
# containerd plus its shims (and their PSS), idle and with the most pods.
#
#   sudo bash bench/pods.sh     builds k3c and cri_direct in build-bench/
#                               (release); K3C_BIN=... uses that binary and
#                               the cri_direct beside it (K3C_CRI_DIRECT)
#   K3C_BENCH_PODS="1 10 30"    the sizes
# docs/PERFORMANCE.md ("Pods") has figures and how to read them.
set -u
cd "$(dirname "$0")/.."
. tests/e2e/pods_lib.sh
[ "$(id -u)" = 0 ] || { echo "bench/pods.sh: needs root (containerd, cgroups, CNI)" >&2; exit 2; }
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || { echo "bench/pods.sh: $bin is not installed (scripts/deps.sh test group)" >&2; exit 2; }
done
if [ -z "${K3C_BIN:-}" ]; then
  B=${K3C_BENCH_DIR:-build-bench}
  [ -f "$B/build.ninja" ] || meson setup "$B" --buildtype=release >/dev/null || exit 1
  ninja -C "$B" k3c bench/cri_direct >"$B/ninja.log" 2>&1 || { tail -n 30 "$B/ninja.log"; exit 1; }
  K3C=$PWD/$B/k3c
  DIRECT=$PWD/$B/bench/cri_direct
else
  K3C=$K3C_BIN
  DIRECT=${K3C_CRI_DIRECT:-$(dirname "$K3C_BIN")/bench/cri_direct}
fi
[ -x "$DIRECT" ] || { echo "bench/pods.sh: $DIRECT is not built" >&2; exit 1; }
sizes=${K3C_BENCH_PODS:-1 10 30}
IMAGE=docker.io/library/busybox:e2e

trap 'exit 143' TERM INT HUP
trap pods_cleanup EXIT
die() {
  echo "bench/pods.sh: $*" >&2
  tail -n 30 "$PODS_DIR/server.log" >&2
  exit 1
}

pods_init k3c-bench || exit 1
pods_snapshot
pods_image "$IMAGE" || die "could not build the busybox image"
echo "machine: $(nproc) cores $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME"), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "k3c: $K3C ($("$K3C" --version 2>/dev/null | head -n 1)); containerd $(containerd --version | awk '{print $3}')"
t0=$(now_us)
pods_server_start
wait_for 60 pods_node_ready || die "node not Ready within 60 s"
echo "node Ready $(secs_since "$t0") s after start"
sleep 5 # idle: the first status posts and image imports are done
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ctd_rss() { pods_rss_kib $(pods_containerd_pid) $(pods_shim_pids); }
ctd_pss() { pods_pss_kib $(pods_containerd_pid) $(pods_shim_pids); }
rss_idle=$(pods_rss_kib "$PODS_SERVER_PID")
ctd_idle=$(ctd_rss)
ctd_idle_pss=$(ctd_pss)
shims_idle=$(pods_shim_pids | grep -c .)
sock=$PODS_DIR/agent/run/containerd/containerd.sock

deployment() {
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench-$1}
spec:
  replicas: $1
  selector: {matchLabels: {app: bench-$1}}
  template:
    metadata: {labels: {app: bench-$1}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: main
        image: $IMAGE
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
EOF
}
running() { kc get pods -l "app=bench-$1" -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Running$'; }
# poll SECONDS CMD...: CMD every 0.1 s until it succeeds; 1 on time-out.
poll() {
  local end=$(($(now_us) + $1 * 1000000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_us)" -ge "$end" ] && return 1
    sleep 0.1
  done
}
all_running() { [ "$(running "$1")" = "$1" ]; }
shims_back() { [ "$(pods_shim_pids | grep -c .)" -le "$shims_idle" ]; }
none_left() { [ -z "$(kc get pods -l "app=bench-$1" -o name)" ]; }

rows=()
max_n=0
for n in $sizes; do
  t=$(now_us)
  deployment "$n" | kc apply -f - >/dev/null || die "apply of bench-$n failed"
  poll 300 all_running "$n" && up=$(secs_since "$t") || up="timeout($(running "$n")/$n)"
  if [ "$n" -ge "$max_n" ]; then
    max_n=$n
    rss_max=$(pods_rss_kib "$PODS_SERVER_PID")
    ctd_max=$(ctd_rss)
    ctd_max_pss=$(ctd_pss)
    shims_max=$(pods_shim_pids | grep -c .)
  fi
  t=$(now_us)
  kc delete deploy "bench-$n" --wait=false >/dev/null
  poll 300 none_left "$n" && down=$(secs_since "$t") || down=timeout
  # wait until the agent has removed the sandboxes too
  poll 60 shims_back
  out=$("$DIRECT" -n "$n" -s "$sock" -c "/$PODS_CG/direct" -l "$PODS_DIR/direct" 2>"$PODS_DIR/direct.err")
  rc=$?
  dup=$(echo "$out" | sed -n 's/.* up_s=\([^ ]*\).*/\1/p')
  ddown=$(echo "$out" | sed -n 's/.* down_s=\([^ ]*\).*/\1/p')
  [ "$rc" = 0 ] || { dup="failed(${dup:-?})"; head -n 3 "$PODS_DIR/direct.err" >&2; }
  rows+=("$(printf '%5s  %12s  %14s  %15s  %19s' "$n" "$up" "$down" "${dup:-?}" "${ddown:-?}")")
done

echo
printf '%5s  %12s  %14s  %15s  %19s\n' pods "k3c up (s)" "k3c delete (s)" "CRI direct (s)" "CRI direct rm (s)"
printf '%s\n' "${rows[@]}"
echo
echo "k3c server RSS: idle $(mib "$rss_idle") MiB, with $max_n pods $(mib "$rss_max") MiB"
echo "containerd + shims RSS: idle $(mib "$ctd_idle") MiB ($shims_idle shims), with $max_n pods $(mib "$ctd_max") MiB ($shims_max shims)"
echo "containerd + shims PSS: idle $(mib "$ctd_idle_pss") MiB, with $max_n pods $(mib "$ctd_max_pss") MiB (shared pages counted once)"
