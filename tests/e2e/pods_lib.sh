# Shell helpers for tests and benchmarks that run a real `k3c server` with
# its agent (root): one data dir, one cgroup root, bounded waits, and a
# cleanup that ends by pid what the run started and removes what it made.
# Sourced by the single-node tests in tests/e2e, by cluster_lib.sh's users,
# and by bench/pods.sh, bench/stream.sh, bench/overlay.sh and bench/svc.sh.
# Nothing here kills by name.
#
# Call pods_init first (sets the variables below), pods_snapshot before the
# server starts, and register `trap pods_cleanup EXIT`. For a TAP test,
# pods_start_node does the usual start-up in one call and pods_report is
# the usual diagnostics; those two (and pods_prepare) need tests/lib.sh.
#
#   PODS_DIR    data dir (mktemp)             PODS_CG     cgroup root name (no slash)
#   PODS_KC     admin kubeconfig              PODS_NODE   node name
#   PODS_PORT   API port (free, loopback)     PODS_BRIDGE the CNI bridge (cni0)
#   PODS_SERVER_PID  the running server, or empty
#   PODS_AGENT_PID   a separate `k3c agent` (pods_agent_start), or empty
export LC_ALL=C # EPOCHREALTIME with a dot

PODS_SERVER_PID=
PODS_AGENT_PID=
pods__agent_dirs=
PODS_BRIDGE=${PODS_BRIDGE:-cni0}
pods__bridge_existed=1
pods__vxlan_existed=1
pods__masq_existed=1
pods__proxy_existed=1
pods__netpol_existed=1
pods__dnslink_existed=1
pods__netns_before=

# now_us: wall clock in microseconds.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# secs_since US: seconds since a now_us value, as "12.345".
secs_since() {
  local d=$(($(now_us) - $1))
  printf '%d.%03d' $((d / 1000000)) $((d % 1000000 / 1000))
}

# wait_for SECONDS CMD...: run CMD (output discarded) every 0.2 s until it
# succeeds (0) or SECONDS pass (1). CMD itself should be bounded.
wait_for() {
  local end=$(($(now_us) + $1 * 1000000))
  shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$(now_us)" -ge "$end" ] && return 1
    sleep 0.2
  done
}

# pods_free_port: a TCP port free on 127.0.0.1 now.
pods_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pods_init PREFIX: make the data dir /tmp/PREFIX.XXXXXX and set the names.
pods_init() {
  PODS_DIR=$(mktemp -d "/tmp/$1.XXXXXX") || return 1
  PODS_CG=${PODS_CG:-k3c-e2e-$$}
  PODS_KC=$PODS_DIR/kubeconfig.yaml
  PODS_NODE=${PODS_NODE:-k3c-e2e-$$}
  PODS_PORT=$(pods_free_port) || return 1
  mkdir -p "$PODS_DIR/agent/images"
}

# pods_snapshot: what exists before the run, so cleanup removes only new
# things: the CNI bridge, the overlay's flannel.1 and masquerade table, the
# cluster DNS's k3c-dns0 and the network namespaces.
pods_snapshot() {
  ip link show "$PODS_BRIDGE" >/dev/null 2>&1 && pods__bridge_existed=1 || pods__bridge_existed=0
  ip link show flannel.1 >/dev/null 2>&1 && pods__vxlan_existed=1 || pods__vxlan_existed=0
  pods__net_cleanup exists && pods__masq_existed=1 || pods__masq_existed=0
  pods__net_cleanup exists proxy && pods__proxy_existed=1 || pods__proxy_existed=0
  pods__net_cleanup exists netpol && pods__netpol_existed=1 || pods__netpol_existed=0
  pods__net_cleanup exists hostport && pods__hostport_existed=1 || pods__hostport_existed=0
  ip link show k3c-dns0 >/dev/null 2>&1 && pods__dnslink_existed=1 || pods__dnslink_existed=0
  pods__netns_before=" $(ls /var/run/netns 2>/dev/null | tr '\n' ' ') "
}

# pods__net_cleanup exists|remove [proxy|netpol]: the overlay's masquerade
# table (or the service proxy's, or the network policies') in this
# network namespace (tests/e2e/net_cleanup.c beside the k3c binary's build;
# "exists" answers yes when the helper is missing, so nothing is removed).
pods__net_cleanup() {
  local b=${K3C_BUILD_DIR:-$(dirname "${K3C:-/nonexistent/k3c}")}
  [ -x "$b/tests/e2e/net_cleanup" ] || { [ "$1" = exists ]; return; }
  "$b/tests/e2e/net_cleanup" "$@" 2>/dev/null
}

# pods_image NAME [ENTRYPOINT...]: a busybox OCI tarball in the images folder
# (imported by the agent at start and while running).
pods_image() {
  local name=$1 file
  shift
  file=$PODS_DIR/agent/images/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_').tar
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/oci_image.py" "$file.tmp" "$name" "$@" &&
    mv "$file.tmp" "$file"
}

# kc ARGS...: kubectl against the server, bounded.
kc() { timeout 30 kubectl --kubeconfig "$PODS_KC" --request-timeout=20s "$@"; }

# pods_server_start [EXTRA ARGS...]: start `k3c server` in the background
# with the run's flags (output appended to $PODS_DIR/server.log).
pods_server_start() {
  "$K3C" server --config /dev/null --data-dir "$PODS_DIR" --https-listen-port "$PODS_PORT" \
    --bind-address 127.0.0.1 --write-kubeconfig "$PODS_KC" --node-name "$PODS_NODE" \
    --cgroup-root "/$PODS_CG" "$@" >>"$PODS_DIR/server.log" 2>&1 &
  PODS_SERVER_PID=$!
}

# pods_server_stop [SECONDS]: SIGTERM the server, wait (default 30 s), then
# SIGKILL. 0 when it exited by itself in time.
pods_server_stop() {
  local pid=$PODS_SERVER_PID
  PODS_SERVER_PID=
  pods__stop "$pid" "${1:-30}"
}

# pods_agent_start DATA_DIR KUBECONFIG NODE [EXTRA ARGS...]: start a separate
# `k3c agent` in the background (one at a time) with its own data dir, which
# must be under $PODS_DIR (cleanup finds its processes, mounts and sandboxes
# there), in the run's cgroup root; output appended to DATA_DIR/agent.log.
pods_agent_start() {
  local dir=$1 kubeconfig=$2 node=$3
  shift 3
  case "$dir" in "$PODS_DIR"/?*) ;; *) return 1 ;; esac
  mkdir -p "$dir/agent/images" || return 1
  pods__agent_dirs="$pods__agent_dirs $dir"
  "$K3C" agent --config /dev/null --data-dir "$dir" --kubeconfig "$kubeconfig" \
    --node-name "$node" --cgroup-root "/$PODS_CG" "$@" >>"$dir/agent.log" 2>&1 &
  PODS_AGENT_PID=$!
}

# pods_agent_stop [SECONDS]: as pods_server_stop, for that agent.
pods_agent_stop() {
  local pid=$PODS_AGENT_PID
  PODS_AGENT_PID=
  pods__stop "$pid" "${1:-30}"
}

# pods__stop PID SECONDS: SIGTERM, wait, SIGKILL (a child of this shell).
pods__stop() {
  local pid=$1 limit=$2
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  if wait_for "$limit" pods__gone "$pid"; then
    wait "$pid" 2>/dev/null
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 1
}
pods__gone() { ! kill -0 "$1" 2>/dev/null; }

# pods_node_ready: the node's Ready condition is True.
pods_node_ready() {
  [ "$(kc get node "$PODS_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# pods_ready_or_dead: the node is Ready, or the server exited (no use
# waiting longer): `wait_for SECONDS pods_ready_or_dead`.
pods_ready_or_dead() { pods_node_ready || ! kill -0 "$PODS_SERVER_PID" 2>/dev/null; }

# pods_prepare PREFIX IMAGE: pods_init PREFIX, pods_snapshot and the
# busybox tarball of IMAGE (pods_image); bails (tests/lib.sh) when the data
# dir or the image cannot be made. The server is not started.
pods_prepare() {
  pods_init "$1" || bail "make the data dir"
  pods_snapshot
  pods_image "$2" || bail "build the busybox OCI image"
}

# pods_start_node PREFIX IMAGE [SERVER ARGS...]: the single-node start-up:
# pods_prepare, pods_server_start with the extra args, then one check
# "node NAME Ready" once the node is Ready (within 90 s). Bails when the
# server exits first (with its log's last lines) or the node is not Ready
# in time, since every later check needs the node.
pods_start_node() {
  pods_prepare "$1" "$2"
  shift 2
  pods_server_start "$@"
  wait_for 90 pods_ready_or_dead
  kill -0 "$PODS_SERVER_PID" 2>/dev/null || bail "k3c server runs" "$(tail -n 5 "$PODS_DIR/server.log")"
  pods_node_ready || bail "node $PODS_NODE Ready within 90 s of start"
  ok "node $PODS_NODE Ready"
}

# pods_report [KINDS]: for an EXIT trap, before pods_cleanup: when a check
# failed and the data dir is still there, TAP comments with `kubectl get
# KINDS -o wide` (default pods; "pods,pv,pvc" is headed "pods, pv, pvc"),
# the last 30 events and the server log's last 40 lines.
pods_report() {
  local kinds=${1:-pods}
  [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ] || return 0
  echo "# ${kinds//,/, }:"
  kc get "$kinds" -o wide 2>&1 | sed 's/^/#   /'
  echo "# events:"
  kc get events 2>&1 | tail -n 30 | sed 's/^/#   /'
  echo "# server log (last 40 lines):"
  tail -n 40 "$PODS_DIR/server.log" 2>/dev/null | sed 's/^/#   /'
}

# pods_containerd_pid: the agent's containerd (pid file checked against
# /proc, else the server's child named containerd).
pods_containerd_pid() {
  local f p
  for f in "$PODS_DIR/agent/containerd/containerd.pid" "$PODS_DIR/agent/run/containerd/containerd.pid"; do
    [ -r "$f" ] || continue
    p=$(tr -dc 0-9 <"$f")
    [ -n "$p" ] && tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q "containerd .*$PODS_DIR/" &&
      { echo "$p"; return 0; }
  done
  [ -n "$PODS_SERVER_PID" ] || return 1
  for p in $(pgrep -P "$PODS_SERVER_PID"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = containerd ] && { echo "$p"; return 0; }
  done
  return 1
}

# pods_cgroup_roots: the run's cgroup root in each mounted hierarchy.
pods_cgroup_roots() {
  local c
  for c in /sys/fs/cgroup/*/"$PODS_CG" /sys/fs/cgroup/"$PODS_CG"; do
    [ -d "$c" ] && echo "$c"
  done
}

# pods_cgroup_pids: every process in a cgroup under the run's root.
pods_cgroup_pids() {
  local c
  for c in $(pods_cgroup_roots); do
    find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# pods_in_our_cgroup PID: the process is in a cgroup under the run's root.
pods_in_our_cgroup() { grep -q ":/$PODS_CG/" "/proc/$1/cgroup" 2>/dev/null; }

# pods_procs CMDLINE: pids of processes in the run's cgroups whose command
# line (arguments joined by spaces) is exactly CMDLINE.
pods_procs() {
  local p
  for p in $(pods_cgroup_pids); do
    [ "$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")" = "$1 " ] && echo "$p"
  done
}

# pods_rss_kib PID...: VmRSS summed over the processes, in KiB.
pods_rss_kib() {
  local p sum=0 v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# pods_pss_kib PID...: proportional set size summed (shared pages split
# among the processes mapping them: the shims share one binary), in KiB.
pods_pss_kib() {
  local p sum=0 v
  for p in "$@"; do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# pods_shim_pids: containerd's shims for this data dir.
pods_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" in
      *containerd-shim*"$PODS_DIR/"*) echo "${p#/proc/}" ;;
    esac
  done
}

# The run's processes: those whose command line names the data dir (the
# server, containerd, the shims, kubectl) and those in its cgroups (the
# containers, also when their shim is gone). Never this shell.
pods__our_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
    case "$cmd" in *"$PODS_DIR/"* | *"$PODS_DIR "*) echo "$p" ;; esac
  done
  pods_cgroup_pids
}

# pods_cleanup: end the run's processes (SIGTERM, up to 5 s, SIGKILL, up to
# 5 s), unmount under the data dir deepest first, remove the network
# namespaces made since pods_snapshot that the run's containers were in,
# the bridge if this run made it (and nothing else uses it), the cgroup
# dirs and the data dir, and the masquerade rules of the run's sandboxes. Idempotent;
# bounded (about 15 s plus the unmounts).
pods_cleanup() {
  local p m n c ids netns
  [ -n "${PODS_DIR:-}" ] || return 0
  ids=$(pods__task_ids)
  # the network namespaces our containers are in, by inode (another run on
  # this machine may have made new ones meanwhile)
  netns=" $(for p in $(pods_cgroup_pids); do stat -L -c %i "/proc/$p/ns/net" 2>/dev/null; done | sort -u | tr '\n' ' ') "
  [ -n "$PODS_SERVER_PID" ] && kill -TERM "$PODS_SERVER_PID" 2>/dev/null
  [ -n "$PODS_AGENT_PID" ] && kill -TERM "$PODS_AGENT_PID" 2>/dev/null
  for p in $(pods__our_pids); do kill -TERM "$p" 2>/dev/null; done
  wait_for 5 pods__none_left
  for p in $(pods__our_pids); do kill -KILL "$p" 2>/dev/null; done
  wait_for 5 pods__none_left
  [ -n "$PODS_SERVER_PID" ] && wait "$PODS_SERVER_PID" 2>/dev/null
  [ -n "$PODS_AGENT_PID" ] && wait "$PODS_AGENT_PID" 2>/dev/null
  PODS_SERVER_PID=
  PODS_AGENT_PID=
  for m in $(awk -v d="$PODS_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  for n in $(ls /var/run/netns 2>/dev/null); do
    case "$pods__netns_before" in *" $n "*) continue ;; esac
    case "$n" in cni-*) ;; *) continue ;; esac
    case "$netns" in *" $(stat -c %i "/var/run/netns/$n" 2>/dev/null) "*) ;; *) continue ;; esac
    umount "/var/run/netns/$n" 2>/dev/null || umount -l "/var/run/netns/$n" 2>/dev/null
    rm -f "/var/run/netns/$n"
  done
  pods__nat_drop $ids
  # the bridge if this run made it and nothing else is attached to it
  [ "$pods__bridge_existed" = 0 ] && [ -z "$(ip -o link show master "$PODS_BRIDGE" 2>/dev/null)" ] &&
    ip link delete "$PODS_BRIDGE" 2>/dev/null
  # the overlay's device if this run's agent made it
  [ "$pods__vxlan_existed" = 0 ] && ip link delete flannel.1 2>/dev/null
  [ "$pods__masq_existed" = 0 ] && pods__net_cleanup remove
  [ "$pods__proxy_existed" = 0 ] && pods__net_cleanup remove proxy
  [ "$pods__netpol_existed" = 0 ] && pods__net_cleanup remove netpol
  [ "$pods__hostport_existed" = 0 ] && pods__net_cleanup remove hostport
  # the cluster DNS's link (it holds --cluster-dns) if this run made it
  [ "$pods__dnslink_existed" = 0 ] && ip link delete k3c-dns0 2>/dev/null
  for c in $(pods_cgroup_roots); do
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$PODS_DIR"
  return 0
}
pods__none_left() { [ -z "$(pods__our_pids)" ]; }

# The ids of the sandboxes and containers containerd ran for this data dir
# and the separate agents' (their task and CRI state folders).
pods__task_ids() {
  local d
  for d in "$PODS_DIR" $pods__agent_dirs; do
    ls "$d/agent/run/containerd/io.containerd.runtime.v2.task/k8s.io" \
      "$d/agent/containerd/io.containerd.grpc.v1.cri/sandboxes" 2>/dev/null
  done | grep -E '^[0-9a-f]{64}$' | sort -u
}

# pods__nat_drop ID...: the bridge plugin's masquerade rules of sandboxes
# that were killed rather than torn down (a POSTROUTING rule commented with
# the sandbox id jumping to a CNI-... chain): delete rule and chain.
pods__nat_drop() {
  local id rule chain
  command -v iptables >/dev/null || return 0
  [ $# -gt 0 ] || return 0
  iptables -w 5 -t nat -S POSTROUTING 2>/dev/null >"$PODS_DIR/nat.rules" || return 0
  for id in "$@"; do
    while read -r rule; do
      case "$rule" in *"$id"*) ;; *) continue ;; esac
      chain=${rule##*-j }
      eval "iptables -w 5 -t nat -D ${rule#-A }" 2>/dev/null
      case "$chain" in CNI-*) iptables -w 5 -t nat -F "$chain" 2>/dev/null; iptables -w 5 -t nat -X "$chain" 2>/dev/null ;; esac
    done <"$PODS_DIR/nat.rules"
  done
}
