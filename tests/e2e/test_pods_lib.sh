#!/usr/bin/env bash
# The helpers of tests/e2e/pods_lib.sh without a server (root): bounded
# waits, the busybox image, finding processes by cgroup and command line,
# and a cleanup that ends, unmounts and removes what a run left (processes
# naming the data dir, one ignoring SIGTERM, a process only in the run's
# cgroups, nested mounts, the new network namespace it was in, a new
# bridge, its masquerade rule) while keeping what is not the run's (older
# and foreign namespaces, older and in-use bridges, other sandboxes' rules).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"

skip_all() { echo "1..1"; echo "ok 1 - pods harness # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (cgroups, mounts, namespaces)"
for bin in busybox ip; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done

trap 'exit 143' TERM INT HUP
trap 'pods_cleanup; ip netns delete "cni-e2e-keep-$$" 2>/dev/null; for l in "k3ck$$" "k3cd$$" "k3cu$$"; do ip link delete "$l" 2>/dev/null; done' EXIT

# --- waits ---
t0=$(now_us)
check "wait_for passes at once when the command succeeds" wait_for 5 true
expect_status "wait_for fails when the time is up" 1 wait_for 1 false
el=$(secs_since "$t0")
check "wait_for is bounded (1 s limit took ${el} s)" awk -v e="$el" 'BEGIN { exit !(e >= 1 && e < 3) }'
n=0
bump() { n=$((n + 1)); [ "$n" -ge 3 ]; }
wait_for 5 bump
# bump ran in this shell: the third call succeeded
check "wait_for retries until the command succeeds" test "$n" = 3

# --- a run's leftovers ---
PODS_CG=k3c-e2e-lib-$$
PODS_BRIDGE=k3cl$$
ip netns add "cni-e2e-keep-$$"
pods_init k3c-podslib || { echo "1..1"; echo "not ok 1 - pods_init"; exit 1; }
pods_snapshot
check "pods_init made the data dir and picked a port" test -d "$PODS_DIR/agent/images" -a -n "$PODS_PORT"

check "pods_image writes a busybox OCI tarball" pods_image docker.io/library/busybox:e2e
tarball=$PODS_DIR/agent/images/docker.io_library_busybox_e2e.tar
expect_output "the tarball names the image" 'io.containerd.image.name.*busybox:e2e' \
  sh -c "tar -xOf '$tarball' index.json"

cp "$(command -v busybox)" "$PODS_DIR/busybox"
"$PODS_DIR/busybox" sleep 300 &
naming=$!
sh -c 'trap "" TERM; while :; do sleep 0.2; done' "$PODS_DIR/stubborn" &
stubborn=$!
disown "$stubborn" # no "Killed" notice when cleanup ends it
# A container's process: only its cgroup says it is ours.
made_cg=
for h in pids memory unified; do
  [ -d "/sys/fs/cgroup/$h" ] || continue
  mkdir -p "/sys/fs/cgroup/$h/$PODS_CG/kubepods/podx/c1" && made_cg="$made_cg $h"
done
ip netns add "cni-e2e-new-$$"
ip netns add "cni-e2e-other-$$" # new, but none of the run's processes is in it
ip netns exec "cni-e2e-new-$$" sleep 300 &
orphan=$!
for h in $made_cg; do
  echo "$orphan" >"/sys/fs/cgroup/$h/$PODS_CG/kubepods/podx/c1/cgroup.procs"
done
check "a process moved into the run's cgroups is seen there" pods_in_our_cgroup "$orphan"
expect_output "pods_procs finds it by its command line" "^$orphan\$" pods_procs "sleep 300"
check "pods_rss_kib sums VmRSS" test "$(pods_rss_kib "$orphan" "$naming")" -gt 0
mkdir -p "$PODS_DIR/agent/mnt"
mount -t tmpfs e2e "$PODS_DIR/agent/mnt" && mkdir -p "$PODS_DIR/agent/mnt/inner" &&
  mount -t tmpfs e2e "$PODS_DIR/agent/mnt/inner"
ip link add "$PODS_BRIDGE" type bridge
# The bridge plugin's masquerade rule of a sandbox of the run, and one of
# another sandbox (kept). 192.0.2.254 is a documentation address no pod has.
ours=$(printf '%064d' $$)
theirs=$(printf 'f%063d' $$)
mkdir -p "$PODS_DIR/agent/containerd/io.containerd.grpc.v1.cri/sandboxes/$ours"
nat_rule() { # ID CHAIN
  iptables -w 5 -t nat -N "$2" && iptables -w 5 -t nat -A "$2" -j RETURN &&
    iptables -w 5 -t nat -A POSTROUTING -s 192.0.2.254/32 -m comment --comment "name: \"e2e\" id: \"$1\"" -j "$2"
}
have_iptables=0
command -v iptables >/dev/null && nat_rule "$ours" "CNI-e2e-ours-$$" && nat_rule "$theirs" "CNI-e2e-theirs-$$" && have_iptables=1

t0=$(now_us)
pods_cleanup
el=$(secs_since "$t0")
check "cleanup is bounded (${el} s)" awk -v e="$el" 'BEGIN { exit !(e < 20) }'
check "processes naming the data dir are gone" pods__gone "$naming"
check "a process ignoring SIGTERM is gone" pods__gone "$stubborn"
check "a process only in the run's cgroups is gone" pods__gone "$orphan"
wait "$naming" "$orphan" 2>/dev/null
expect_status "nothing is mounted under the data dir" 1 grep -qF "$PODS_DIR/" /proc/mounts
check "the data dir is removed" test ! -e "$PODS_DIR"
check "the new network namespace of the run's process is removed" test ! -e "/var/run/netns/cni-e2e-new-$$"
check "a new one the run's processes were not in is kept" test -e "/var/run/netns/cni-e2e-other-$$"
ip netns delete "cni-e2e-other-$$"
check "the namespace that existed before is kept" test -e "/var/run/netns/cni-e2e-keep-$$"
expect_status "the bridge the run made is deleted" 1 ip link show "$PODS_BRIDGE"
check "the run's cgroup dirs are removed" test -z "$(pods_cgroup_roots)"
if [ "$have_iptables" = 1 ]; then
  expect_status "the run's sandbox's masquerade rule is deleted" 1 sh -c "iptables -w 5 -t nat -S POSTROUTING | grep -q '$ours'"
  expect_status "and its chain" 1 iptables -w 5 -t nat -S "CNI-e2e-ours-$$"
  check "another sandbox's rule is kept" sh -c "iptables -w 5 -t nat -S POSTROUTING | grep -q '$theirs'"
  iptables -w 5 -t nat -D POSTROUTING -s 192.0.2.254/32 -m comment --comment "name: \"e2e\" id: \"$theirs\"" -j "CNI-e2e-theirs-$$"
  iptables -w 5 -t nat -F "CNI-e2e-theirs-$$"
  iptables -w 5 -t nat -X "CNI-e2e-theirs-$$"
else
  skip "masquerade rules of the run's sandboxes" "iptables is not installed"
fi
check "cleanup again is harmless" pods_cleanup

# --- a bridge that existed before the run stays ---
PODS_BRIDGE=k3ck$$
ip link add "$PODS_BRIDGE" type bridge
pods_init k3c-podslib || { fail "pods_init again"; done_testing; exit; }
pods_snapshot
pods_cleanup
check "a bridge that existed before is kept" ip link show "$PODS_BRIDGE"
ip link delete "$PODS_BRIDGE"

# --- a bridge new since the snapshot but in use by someone else stays ---
PODS_BRIDGE=k3cu$$
pods_init k3c-podslib || { fail "pods_init again"; done_testing; exit; }
pods_snapshot
ip link add "$PODS_BRIDGE" type bridge && ip link add "k3cd$$" type veth peer name "k3ce$$" &&
  ip link set "k3cd$$" master "$PODS_BRIDGE"
pods_cleanup
check "a new bridge something else is attached to is kept" ip link show "$PODS_BRIDGE"
ip link delete "k3cd$$"
ip link delete "$PODS_BRIDGE"
done_testing
