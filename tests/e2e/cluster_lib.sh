# A multi-node k3c cluster on one machine, for tests and benchmarks (root):
# a switch (bridge k3cbr0 in a network namespace of its own), one network
# namespace per node joined to it by a veth (eth0 in the node, addresses
# 172.31.250.10+i/24, outside the cluster and service CIDRs), `k3c server`
# in node 0 (listening on its address, which is also its --node-ip and
# --tls-san) and `k3c agent`s in the others joining with the server's token.
# Every node has its own data dir, containerd (root, state, socket under it)
# and cgroup root. Processes run with `nsenter --net` only: they share the
# host's mount namespace, so the cleanup sees their mounts and pod netns.
# Built on pods_lib.sh (source that first); run under flock /run/k3c-e2e.lock.
#
#   cluster_init PREFIX N   N nodes (2..8); sets the names below; data dir in /tmp
#   cluster_image NAME [ENTRYPOINT...]  a busybox image in every node's images dir
#   cluster_start [EXTRA SERVER ARGS...]  server in node 0, then agents 1..N-1
#   cluster_wait_ready SECONDS   every node Ready (0) or not in time (1)
#   cluster_stop_node I [SECONDS]  SIGTERM node I's k3c (then SIGKILL)
#   nsx I CMD...            run CMD in node I's network namespace
#   kc ARGS...              kubectl against the server (from node 0), bounded
#   cluster_cleanup         pods_cleanup, then the node namespaces, the switch
#
#   CL_N                    node count        CL_NS[i]   node i's netns name
#   CL_NAME[i]              node i's name     CL_IP[i]   node i's address
#   CL_DIR[i]               node i's data dir CL_PID[i]  its k3c process
#   CL_SW                   the switch netns  CL_KC      admin kubeconfig
#   CL_TOKEN                the join token (after cluster_start)
CL_N=0
CL_SW=
CL_NS=()
CL_NAME=()
CL_IP=()
CL_DIR=()
CL_PID=()
CL_KC=
CL_TOKEN=
CL_SUBNET=${CL_SUBNET:-172.31.250}

# cluster_init PREFIX N: data dir, names, and the network (switch, nodes).
cluster_init() {
  local prefix=$1 n=$2 i tag
  [ "$n" -ge 2 ] && [ "$n" -le 8 ] || { echo "cluster_init: 2..8 nodes, not $n" >&2; return 1; }
  pods_init "$prefix" || return 1
  pods_snapshot
  CL_N=$n
  tag=$$
  CL_SW=k3c-$tag-sw
  CL_KC=$PODS_DIR/kubeconfig.yaml
  for ((i = 0; i < n; i++)); do
    CL_NS[i]=k3c-$tag-n$i
    CL_NAME[i]=k3c-n$i-$tag
    CL_IP[i]=$CL_SUBNET.$((10 + i))
    CL_DIR[i]=$PODS_DIR/n$i
    CL_PID[i]=
    mkdir -p "${CL_DIR[i]}/agent/images" || return 1
    pods__agent_dirs="$pods__agent_dirs ${CL_DIR[i]}"
  done
  cluster__net_up
}

# The switch and one namespace per node (each step bounded by ip itself).
cluster__net_up() {
  local i
  ip netns add "$CL_SW" || return 1
  ip -n "$CL_SW" link add k3cbr0 type bridge || return 1
  ip -n "$CL_SW" link set k3cbr0 up || return 1
  ip -n "$CL_SW" link set lo up
  for ((i = 0; i < CL_N; i++)); do
    ip netns add "${CL_NS[i]}" || return 1
    ip -n "$CL_SW" link add "p$i" type veth peer name eth0 netns "${CL_NS[i]}" || return 1
    ip -n "$CL_SW" link set "p$i" master k3cbr0 up || return 1
    ip -n "${CL_NS[i]}" link set lo up || return 1
    ip -n "${CL_NS[i]}" addr add "${CL_IP[i]}/24" dev eth0 || return 1
    ip -n "${CL_NS[i]}" link set eth0 up || return 1
    # a default route, as a real node has one (nothing leaves the switch)
    ip -n "${CL_NS[i]}" route add default dev eth0 || return 1
  done
}

# nsx I CMD...: CMD in node I's network namespace (same mounts as the host).
nsx() {
  local i=$1
  shift
  nsenter --net="/run/netns/${CL_NS[i]}" "$@"
}

# kc ARGS...: kubectl against the server, from node 0's namespace, bounded.
kc() { timeout 30 nsenter --net="/run/netns/${CL_NS[0]}" kubectl --kubeconfig "$CL_KC" --request-timeout=20s "$@"; }

# cluster_image NAME [ENTRYPOINT...]: a busybox OCI tarball for every node.
cluster_image() {
  local i file
  pods_image "$@" || return 1
  for file in "$PODS_DIR"/agent/images/*.tar; do
    for ((i = 0; i < CL_N; i++)); do
      cp "$file" "${CL_DIR[i]}/agent/images/" || return 1
    done
  done
}

# Started with nsenter itself, not through nsx: `cmd &` of a simple command
# makes $! the pid that execs it (a function would leave a subshell's pid).
cluster__server_start() {
  nsenter --net="/run/netns/${CL_NS[0]}" "$K3C" server --config /dev/null --data-dir "${CL_DIR[0]}" \
    --bind-address "${CL_IP[0]}" --node-ip "${CL_IP[0]}" --tls-san "${CL_IP[0]}" \
    --https-listen-port 6443 --write-kubeconfig "$CL_KC" --node-name "${CL_NAME[0]}" \
    --cgroup-root "/$PODS_CG/n0" "$@" >>"${CL_DIR[0]}/k3c.log" 2>&1 &
  CL_PID[0]=$!
}

# cluster_agent_start I [EXTRA ARGS...]: node I's agent, joining with the token.
cluster_agent_start() {
  local i=$1
  shift
  nsenter --net="/run/netns/${CL_NS[i]}" "$K3C" agent --config /dev/null --data-dir "${CL_DIR[i]}" \
    --server "https://${CL_IP[0]}:6443" --token "$CL_TOKEN" --node-ip "${CL_IP[i]}" \
    --node-name "${CL_NAME[i]}" --cgroup-root "/$PODS_CG/n$i" "$@" >>"${CL_DIR[i]}/k3c.log" 2>&1 &
  CL_PID[i]=$!
}

cluster__token_ready() { [ -s "${CL_DIR[0]}/server/node-token" ] && [ -s "$CL_KC" ]; }

# cluster_start [EXTRA SERVER ARGS...]: the server, its token (60 s at most),
# then every agent. 0 when all were started.
cluster_start() {
  local i
  cluster__server_start "$@"
  wait_for 60 cluster__token_ready || { echo "cluster_start: no node token in 60 s" >&2; return 1; }
  CL_TOKEN=$(cat "${CL_DIR[0]}/server/node-token")
  for ((i = 1; i < CL_N; i++)); do
    cluster_agent_start "$i"
  done
}

# cluster_node_ready I: node I's Ready condition is True.
cluster_node_ready() {
  [ "$(kc get node "${CL_NAME[$1]}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
cluster__all_ready() {
  local i
  for ((i = 0; i < CL_N; i++)); do
    [ -n "${CL_PID[i]}" ] || continue
    cluster_node_ready "$i" || return 1
  done
}
cluster__all_ready_or_dead() {
  local i
  for ((i = 0; i < CL_N; i++)); do
    [ -n "${CL_PID[i]}" ] && ! kill -0 "${CL_PID[i]}" 2>/dev/null && return 0
  done
  cluster__all_ready
}

# cluster_wait_ready SECONDS: every started node Ready within SECONDS (0);
# 1 when time ran out or a node's k3c exited.
cluster_wait_ready() {
  wait_for "$1" cluster__all_ready_or_dead
  cluster__all_ready
}

# cluster_stop_node I [SECONDS]: SIGTERM node I's k3c, wait (default 30 s),
# then SIGKILL. Its containerd and containers are left to cluster_cleanup.
cluster_stop_node() {
  local i=$1 pid=${CL_PID[$1]}
  CL_PID[i]=
  pods__stop "$pid" "${2:-30}"
}

# cluster_logs [LINES]: the tail of every node's log, as TAP comments.
cluster_logs() {
  local i
  for ((i = 0; i < CL_N; i++)); do
    echo "# node $i (${CL_NAME[i]}) log, last ${1:-30} lines:"
    tail -n "${1:-30}" "${CL_DIR[i]}/k3c.log" 2>/dev/null | sed 's/^/#   /'
  done
}

# cluster_cleanup: pods_cleanup (processes by pid, mounts, pod netns, data
# dir), then the node namespaces (their veths, bridges and flannel.1 go with
# them) and the switch. Idempotent.
cluster_cleanup() {
  local i
  [ "$CL_N" -gt 0 ] || { pods_cleanup; return 0; }
  for ((i = 0; i < CL_N; i++)); do
    [ -n "${CL_PID[i]}" ] && kill -TERM "${CL_PID[i]}" 2>/dev/null
  done
  pods_cleanup
  for ((i = 0; i < CL_N; i++)); do
    [ -n "${CL_PID[i]}" ] && wait "${CL_PID[i]}" 2>/dev/null
    CL_PID[i]=
    [ -e "/run/netns/${CL_NS[i]}" ] && ip netns delete "${CL_NS[i]}" 2>/dev/null
  done
  [ -n "$CL_SW" ] && [ -e "/run/netns/$CL_SW" ] && ip netns delete "$CL_SW" 2>/dev/null
  CL_N=0
  return 0
}
