#!/usr/bin/env bash
# The CRI client and containerd supervisor against a real containerd (root):
# runs the C driver tests/e2e/cri_e2e.c (TAP) in a temporary data dir with a
# locally built busybox image, then ends what it started by pid and
# unmounts and removes what it made. Bounded in time by `timeout`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
driver=$B/tests/e2e/cri_e2e

skip_all() { echo "1..1"; echo "ok 1 - cri e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, mounts)"
for bin in containerd runc busybox; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$driver" ] || skip_all "$driver is not built"

dir=$(mktemp -d /tmp/k3c-cri.XXXXXX)
sock=$dir/agent/run/containerd/containerd.sock

# Processes of this test: containerd and the shims, whose command lines
# name our directory, and the containers' processes, which are in the pod
# cgroups under the test's cgroup parent /k3c-e2e (a container whose shim
# died is orphaned there). Found by pid, never by name.
our_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$dir/" && echo "${p#/proc/}"
  done
  find /sys/fs/cgroup/pids/k3c-e2e /sys/fs/cgroup/k3c-e2e -name cgroup.procs -exec cat {} + 2>/dev/null
}
cleanup() {
  local pids p m
  pids=$(our_pids)
  for p in $pids; do kill -TERM "$p" 2>/dev/null; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -z "$(our_pids)" ] && break
    sleep 0.5
  done
  for p in $(our_pids); do kill -KILL "$p" 2>/dev/null; done
  # Mounts under our directory, deepest first.
  for m in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  rm -rf "$dir"
  # The pod cgroups under the test's cgroup parent (empty once its
  # processes are gone), deepest first.
  for c in /sys/fs/cgroup/*/k3c-e2e /sys/fs/cgroup/k3c-e2e; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  return 0
}
trap cleanup EXIT

mkdir -p "$dir/agent/images"
echo "not an image" >"$dir/agent/images/README.txt"
/usr/bin/python3 "$here/oci_image.py" "$dir/agent/images/busybox.tar" docker.io/library/busybox:e2e ||
  { echo "1..1"; echo "not ok 1 - build the busybox OCI image"; exit 1; }

# docker-archive (docker save) tarballs, outside the images folder
/usr/bin/python3 "$here/oci_image.py" --docker-archive --marker docker-archive \
  "$dir/busybox-docker.tar" busybox:docker &&
  /usr/bin/python3 "$here/oci_image.py" --docker-archive --gzip --marker "docker-archive gzip" \
    "$dir/busybox-docker-gz.tar" busybox:docker-gz &&
  /usr/bin/python3 "$here/oci_image.py" --docker-archive --broken missing \
    "$dir/broken-missing.tar" busybox:broken &&
  /usr/bin/python3 "$here/oci_image.py" --docker-archive --broken diff --marker x \
    "$dir/broken-diff.tar" busybox:broken ||
  { echo "1..1"; echo "not ok 1 - build the busybox docker-archive images"; exit 1; }

k3c=${K3C_BIN:-$B/k3c}
pause_name=$("$k3c" pause --write-image "$dir/agent/images/k3c-pause.tar") ||
  { echo "1..1"; echo "not ok 1 - k3c pause --write-image"; exit 1; }

K3C_CRI_E2E_DIR=$dir K3C_CRI_E2E_IMAGE=$dir/agent/images/busybox.tar \
  K3C_CRI_E2E_PAUSE=$dir/agent/images/k3c-pause.tar \
  K3C_CRI_E2E_PAUSE_NAME=$pause_name K3C_CRI_E2E_DOCKER=$dir/busybox-docker.tar \
  K3C_CRI_E2E_DOCKER_GZ=$dir/busybox-docker-gz.tar timeout --kill-after=10 300 "$driver"
rc=$?
if [ "$rc" != 0 ]; then
  echo "# cri_e2e exited with $rc; containerd's log:"
  tail -n 40 "$dir/agent/containerd/containerd.log" 2>/dev/null | sed 's/^/#   /'
fi
exit "$rc"
