#!/usr/bin/env bash
# The VXLAN overlay across nodes (root): one `k3c server` and two `k3c
# agent`s, each node in a network namespace of its own joined by a veth to a
# test switch (tests/e2e/cluster_lib.sh). Checks that each node made
# flannel.1 as flannel does and published its VTEP on its Node, that every
# node programmed routes, neighbours and FDB entries for the others, that
# pods pinned to different nodes reach each other (ping, HTTP) with the
# traffic seen as VXLAN (UDP 8472) between the node namespaces, that a
# node stopped and deleted has its entries removed from the others, and
# that an agent restarted keeps its VTEP MAC and removes the entries of a
# node deleted while it was down, that a node's new public IP replaces its
# FDB entry on the others, the errors of wrong flags, and a node with
# --flannel-backend=none.
# Run it under `flock /run/k3c-e2e.lock` (it starts containerds and pods).
# Every wait is bounded; about two minutes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
. "$here/cluster_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - overlay e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, containerd)"
for bin in containerd runc busybox kubectl nsenter iptables bridge curl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

on_exit() {
  if [ "$tap__failed" != 0 ] && [ "$CL_N" -gt 0 ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    cluster_logs 25
  fi
  cluster_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

cluster_init k3c-overlay 3 || bail "make the test network (switch and 3 node namespaces)"
cluster_image "$IMAGE" || bail "build the busybox OCI image"
t0=$(now_us)
cluster_start || bail "start the server" "$(tail -n 20 "${CL_DIR[0]}/k3c.log")"
if cluster_wait_ready 120; then
  ok "3 nodes Ready ($(secs_since "$t0") s after the server started)"
else
  bail "3 nodes Ready within 120 s" "$(kc get nodes -o wide 2>&1)" "$(cluster_logs 15)"
fi

# --- each node's device and annotations ---
ann() { kc get node "${CL_NAME[$1]}" -o "jsonpath={.metadata.annotations.flannel\.alpha\.coreos\.com/$2}"; }
cidr() { kc get node "${CL_NAME[$1]}" -o 'jsonpath={.spec.podCIDR}'; }
# net0 CIDR: "10.42.1.0/24" -> "10.42.1.0"
net0() { echo "${1%/*}"; }
annotated() { [ -n "$(ann "$1" public-ip)" ] && [ -n "$(ann "$1" backend-data)" ]; }
all_annotated() { annotated 0 && annotated 1 && annotated 2; }
wait_for 30 all_annotated
declare -a CIDR MAC
for i in 0 1 2; do
  CIDR[i]=$(cidr "$i")
  MAC[i]=$(ip -n "${CL_NS[i]}" -o link show flannel.1 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  dev=$(ip -d -n "${CL_NS[i]}" link show flannel.1 2>&1)
  want_mtu=$(($(ip -n "${CL_NS[i]}" -o link show eth0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p') - 50))
  if printf '%s' "$dev" | grep -q "vxlan id 1 local ${CL_IP[i]} dev eth0 .*dstport 8472 nolearning" &&
    printf '%s' "$dev" | grep -q " mtu $want_mtu " && printf '%s' "$dev" | grep -q "state UNKNOWN\|,UP"; then
    ok "node $i: flannel.1 is VXLAN id 1, local ${CL_IP[i]}, dstport 8472, nolearning, MTU $want_mtu, up"
  else
    fail "node $i: flannel.1 as flannel makes it" "$dev"
  fi
  expect_output "node $i: flannel.1 has $(net0 "${CIDR[i]}")/32 (pod CIDR ${CIDR[i]})" \
    "inet $(net0 "${CIDR[i]}")/32 " ip -n "${CL_NS[i]}" -o -4 addr show dev flannel.1
  got="$(ann "$i" backend-type) $(ann "$i" public-ip) $(ann "$i" kube-subnet-manager) $(ann "$i" backend-data)"
  want="vxlan ${CL_IP[i]} true {\"VNI\":1,\"VtepMAC\":\"${MAC[i]}\"}"
  if [ "$got" = "$want" ]; then
    ok "node $i: Node annotated with flannel's names (VTEP ${MAC[i]})"
  else
    fail "node $i: Node annotated with flannel's names" "got:  $got" "want: $want"
  fi
done
[ -n "${CIDR[0]}" ] && [ -n "${CIDR[1]}" ] && [ -n "${CIDR[2]}" ] || bail "every node has a podCIDR" "${CIDR[*]}"

# --- each node's entries for the others ---
# programmed I J: node I has route, neighbour and FDB entry for node J.
programmed() {
  local i=$1 j=$2 gw
  gw=$(net0 "${CIDR[j]}")
  ip -n "${CL_NS[i]}" route show "${CIDR[j]}" | grep -q "via $gw dev flannel.1 onlink" &&
    ip -n "${CL_NS[i]}" neigh show dev flannel.1 | grep -q "^$gw lladdr ${MAC[j]} PERMANENT" &&
    bridge -n "${CL_NS[i]}" fdb show dev flannel.1 | grep -q "^${MAC[j]} dst ${CL_IP[j]} self permanent"
}
gone() {
  local i=$1 j=$2 gw
  gw=$(net0 "${CIDR[j]}")
  ! ip -n "${CL_NS[i]}" route show "${CIDR[j]}" | grep -q . &&
    ! ip -n "${CL_NS[i]}" neigh show dev flannel.1 | grep -q "^$gw " &&
    ! bridge -n "${CL_NS[i]}" fdb show dev flannel.1 | grep -q "^${MAC[j]} "
}
entries() {
  echo "routes:"; ip -n "${CL_NS[$1]}" route show dev flannel.1
  echo "neigh:"; ip -n "${CL_NS[$1]}" neigh show dev flannel.1
  echo "fdb:"; bridge -n "${CL_NS[$1]}" fdb show dev flannel.1
}
all_programmed() {
  local i j
  for i in 0 1 2; do for j in 0 1 2; do
    [ "$i" = "$j" ] || programmed "$i" "$j" || return 1
  done; done
}
wait_for 30 all_programmed
for i in 0 1 2; do
  for j in 0 1 2; do
    [ "$i" = "$j" ] && continue
    if programmed "$i" "$j"; then
      ok "node $i: route ${CIDR[j]} via $(net0 "${CIDR[j]}") onlink, neighbour and FDB entry (dst ${CL_IP[j]}) for node $j"
    else
      fail "node $i: route, neighbour and FDB entry for node $j" "$(entries "$i")"
    fi
  done
done

# entries removed by hand come back with the next resync (every 30 s)
ip -n "${CL_NS[0]}" route del "${CIDR[2]}" dev flannel.1 2>/dev/null
ip -n "${CL_NS[0]}" neigh del "$(net0 "${CIDR[2]}")" dev flannel.1 2>/dev/null
t0=$(now_us)
if ! programmed 0 2 && wait_for 40 programmed 0 2; then
  ok "node 0's route and neighbour for node 2, deleted by hand, are back ($(secs_since "$t0") s)"
else
  fail "node 0's entries for node 2 back within 40 s of being deleted by hand" "$(entries 0)"
fi

# --- pods on different nodes ---
# VXLAN counters between the node namespaces: UDP 8472 out of node 1 to
# node 2 and into node 2 from node 1 (rules without a target only count).
nsx 1 iptables -w 5 -I OUTPUT -p udp -d "${CL_IP[2]}" --dport 8472 ||
  bail "a counting rule in node 1"
nsx 2 iptables -w 5 -I INPUT -p udp -s "${CL_IP[1]}" --dport 8472 ||
  bail "a counting rule in node 2"
# count NODE CHAIN: packets of the chain's first rule.
count() { nsx "$1" iptables -w 5 -L "$2" 1 -v -x -n | awk '{print $1; exit}'; }

pods() {
  local i
  for i in 0 1 2; do
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: ov$i, labels: {app: overlay}}
spec:
  nodeName: ${CL_NAME[i]}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    command: [sh, -c, 'mkdir -p /www/cgi-bin && echo "hello from ov$i" >/www/index.html && dd if=/dev/zero of=/www/big bs=1024 count=2048 2>/dev/null && printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \\\$REMOTE_ADDR\n" >/www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www']
---
EOF
  done
}
pods | kc apply -f - >/dev/null || bail "create pods ov0, ov1, ov2"
all_running() {
  [ "$(kc get pods -l app=overlay -o 'jsonpath={range .items[*]}{.status.phase}{" "}{end}')" = "Running Running Running " ]
}
wait_for 90 all_running || bail "pods ov0..ov2 Running on their nodes within 90 s" "$(kc get pods -o wide 2>&1)"
declare -a PIP
for i in 0 1 2; do
  PIP[i]=$(kc get pod "ov$i" -o 'jsonpath={.status.podIP}')
  case "${PIP[i]}" in
    "$(net0 "${CIDR[i]}" | cut -d. -f1-3)".*) ok "pod ov$i runs on node $i with IP ${PIP[i]} in ${CIDR[i]}" ;;
    *) fail "pod ov$i's IP in its node's pod CIDR" "IP '${PIP[i]}', CIDR ${CIDR[i]}" ;;
  esac
done
# Commands "in a pod": the host's ping and curl in the pod's network
# namespace (CNI's /var/run/netns/cni-*, found by the pod IP), so the
# traffic is the pod's own; the API server has no pods/exec yet, and
# Debian's static busybox wget crashes (SIGSEGV) on this machine.
declare -a PNS
pod_netns() {
  local f
  for f in /var/run/netns/cni-*; do
    nsenter --net="$f" ip -o -4 addr show 2>/dev/null | grep -q " inet $1/" && { echo "$f"; return 0; }
  done
  return 1
}
for i in 0 1 2; do
  PNS[i]=$(pod_netns "${PIP[i]}") || bail "find pod ov$i's network namespace (IP ${PIP[i]})"
done
# pexec I CMD...: CMD in pod ovI's network namespace, bounded.
pexec() {
  local i=$1
  shift
  timeout 20 nsenter --net="${PNS[i]}" "$@"
}
# get I URL: an HTTP GET from pod ovI (5 s at most).
get() { pexec "$1" curl -sS -m 5 "$2"; }
httpd_up() { get "$1" "http://127.0.0.1:8080/"; }
wait_for 30 httpd_up 2 || fail "ov2's httpd answers on 127.0.0.1:8080 within 30 s"
mtu=$(nsx 1 ip -o link show flannel.1 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
expect_output "pod ov1's eth0 has flannel.1's MTU ($mtu): its packets fit the encapsulation" \
  " mtu $mtu " pexec 1 ip -o link show eth0

out1=$(count 1 OUTPUT) in2=$(count 2 INPUT)
expect_output "ping from ov1 (node 1) to ov2 (node 2) ${PIP[2]}" " 0% packet loss" \
  pexec 1 busybox ping -c 3 -W 2 "${PIP[2]}"
expect_output "HTTP GET from ov1 (node 1) to ov2 (node 2)" "^hello from ov2" \
  get 1 "http://${PIP[2]}:8080/"
expect_output "HTTP GET from ov2 (node 2) to ov0 (the server's node)" "^hello from ov0" \
  get 2 "http://${PIP[0]}:8080/"
expect_output "HTTP GET from ov0 (the server's node) to ov1 (node 1)" "^hello from ov1" \
  get 0 "http://${PIP[1]}:8080/"
expect_output "2 MiB over HTTP from ov2 (node 2) to ov1 (node 1)" "^2097152$" \
  pexec 1 curl -sS -m 10 -o /dev/null -w '%{size_download}\n' "http://${PIP[2]}:8080/big"
out1b=$(count 1 OUTPUT) in2b=$(count 2 INPUT)
d_out=$((${out1b:-0} - ${out1:-0})) d_in=$((${in2b:-0} - ${in2:-0}))
echo "# VXLAN UDP 8472 packets node 1 -> node 2 during ping and HTTP: $d_out sent (node 1), $d_in received (node 2)"
check "VXLAN (UDP 8472) packets sent from node 1 to node 2 ($d_out >= 5)" test "$d_out" -ge 5
check "VXLAN (UDP 8472) packets received by node 2 from node 1 ($d_in >= 5)" test "$d_in" -ge 5
rx=$(nsx 2 awk '/flannel.1:/ {print $2}' /proc/net/dev)
tx=$(nsx 1 awk '/flannel.1:/ {print $10}' /proc/net/dev)
check "flannel.1 counters: node 1 sent ($tx bytes), node 2 received ($rx bytes)" test "${tx:-0}" -gt 0 -a "${rx:-0}" -gt 0
# the pod's own address is not on the switch: no route to it outside the overlay
expect_output "node 1 reaches ${CIDR[2]} only through flannel.1" "dev flannel.1" \
  ip -n "${CL_NS[1]}" route get "${PIP[2]}"
# busybox httpd's REMOTE_ADDR is "[::ffff:a.b.c.d]"
src=$(get 1 "http://${PIP[2]}:8080/cgi-bin/ip" 2>&1 | tail -n 1 | sed 's/.*://; s/\]$//')
check "ov2 (node 2) sees the request from ov1's own address ${PIP[1]} (got '$src'): not masqueraded" \
  test "$src" = "${PIP[1]}"
# leaving the cluster: masqueraded to the node's address (k3c's nf_tables
# rule). A one-shot server in node 0's namespace answers the peer address.
nsx 0 timeout 20 /usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9100)); s.listen(1); s.settimeout(15)
c, a = s.accept(); c.sendall((a[0] + "\n").encode()); c.close()' &
peer_srv=$!
listening9100() { nsx 0 ss -Hltn "sport = :9100" | grep -q .; }
wait_for 5 listening9100
seen=$(pexec 1 /usr/bin/python3 -c '
import socket
c = socket.create_connection(("'"${CL_IP[0]}"'", 9100), timeout=5); print(c.recv(64).decode().strip())' 2>&1)
wait "$peer_srv" 2>/dev/null
check "ov1 to node 0's address ${CL_IP[0]} (outside the cluster) is masqueraded to node 1's ${CL_IP[1]} (got '$seen')" \
  test "$seen" = "${CL_IP[1]}"

# --- a node leaves, another restarts ---
# Node 1's agent is stopped first; node 2 then leaves (agent stopped, Node
# deleted) while node 1 is down, so node 1 must find its leftover entries
# for node 2 when it comes back.
cluster_stop_node 1 || fail "node 1's agent stops on SIGTERM within 30 s"
cluster_stop_node 2 || fail "node 2's agent stops on SIGTERM within 30 s"
kc delete node "${CL_NAME[2]}" --wait=false >/dev/null 2>&1 || fail "delete Node ${CL_NAME[2]}"
t0=$(now_us)
if wait_for 30 gone 0 2; then
  ok "node 2 deleted: its route, neighbour and FDB entry gone from node 0 ($(secs_since "$t0") s)"
else
  fail "node 2's entries gone from node 0 within 30 s" "$(entries 0)"
fi
check "node 0 keeps its entries for node 1 (whose agent is only stopped)" programmed 0 1
check "node 1's kernel still holds its entries for node 2 while its agent is down" programmed 1 2
cluster_agent_start 1 --flannel-iface eth0
t0=$(now_us)
wait_for 60 cluster_node_ready 1 || fail "node 1 Ready again within 60 s of its agent's restart"
if wait_for 30 gone 1 2; then
  ok "node 1's agent restarted: the leftover entries for deleted node 2 removed ($(secs_since "$t0") s)"
else
  fail "node 1's leftover entries for node 2 removed after its restart" "$(entries 1)"
fi
check "node 1 keeps its entries for node 0 across the restart" programmed 1 0
mac_now=$(ip -n "${CL_NS[1]}" -o link show flannel.1 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
check "node 1's VTEP MAC is the same after the restart (${MAC[1]})" test "$mac_now" = "${MAC[1]}"
check "node 0 keeps its entries for node 1 after node 1's restart" programmed 0 1
expect_output "node 1 restarted with --flannel-iface eth0: public-ip ${CL_IP[1]}" "^${CL_IP[1]}\$" \
  ann 1 public-ip
expect_output "HTTP GET from ov1 (node 1) to ov0 after the restart" "^hello from ov0" \
  get 1 "http://${PIP[0]}:8080/"

# --- a node's public IP changes: the others replace its FDB entry ---
NEWIP=${CL_SUBNET}.21 OLDIP=${CL_IP[1]}
cluster_stop_node 1 || fail "node 1's agent stops on SIGTERM within 30 s"
ip -n "${CL_NS[1]}" addr add "$NEWIP/24" dev eth0 || fail "a second address on node 1's eth0"
CL_IP[1]=$NEWIP # cluster_agent_start passes it as --node-ip
cluster_agent_start 1
moved() {
  bridge -n "${CL_NS[0]}" fdb show dev flannel.1 | grep -q "^${MAC[1]} dst $NEWIP self permanent" &&
    ! bridge -n "${CL_NS[0]}" fdb show dev flannel.1 | grep -q "^${MAC[1]} dst $OLDIP "
}
t0=$(now_us)
if wait_for 60 moved; then
  ok "node 1 now at $NEWIP: node 0's FDB entry for its VTEP replaced ($(secs_since "$t0") s)"
else
  fail "node 0's FDB entry for node 1 moves to $NEWIP within 60 s" "$(entries 0)" "$(tail -n 10 "${CL_DIR[1]}/k3c.log")"
fi
expect_output "node 1's flannel.1 made again with local $NEWIP, same MAC" \
  "link/ether ${MAC[1]} .*vxlan id 1 local $NEWIP " ip -d -n "${CL_NS[1]}" -o link show flannel.1
expect_output "node 1's Node: public-ip $NEWIP" "^$NEWIP\$" ann 1 public-ip
reach0() { get 1 "http://${PIP[0]}:8080/" | grep -q "^hello from ov0"; }
check "HTTP GET from ov1 (node 1, now at $NEWIP) to ov0" wait_for 20 reach0

# --- flags a user can get wrong: the agent stops with a reason ---
# (in node 2's namespace, whose Node is gone: the agent stops before it
# registers one)
# agent_fails NAME REGEX NODE_IP [ARGS...]: `k3c agent` exits 1 within 60 s
# and says REGEX.
agent_fails() {
  local name=$1 want=$2 ip=$3 out rc
  shift 3
  out=$(timeout 60 nsenter --net="/run/netns/${CL_NS[2]}" "$K3C" agent --config /dev/null \
    --data-dir "${CL_DIR[2]}" --server "https://${CL_IP[0]}:6443" --token "$CL_TOKEN" \
    --node-ip "$ip" --node-name "${CL_NAME[2]}" --cgroup-root "/$PODS_CG/n2" "$@" 2>&1)
  rc=$?
  if [ "$rc" = 1 ] && printf '%s' "$out" | grep -Eq -- "$want"; then
    ok "$name"
  else
    fail "$name" "exit status $rc (want 1), wanted /$want/ in:" "$(printf '%s' "$out" | tail -n 8)"
  fi
}
agent_fails "--flannel-iface nosuch0: exit 1 with the reason" \
  "flannel-iface nosuch0: no such interface with an IPv4 address" "${CL_IP[2]}" --flannel-iface nosuch0
agent_fails "--flannel-backend host-gw: exit 1 naming the backends there are" \
  "flannel-backend host-gw: k3c has the backends vxlan and none" "${CL_IP[2]}" --flannel-backend host-gw
agent_fails "a node IP on no interface: exit 1 pointing at --node-ip and --flannel-iface" \
  "node IP 172.31.249.9 is on no interface of this host: pass --node-ip" 172.31.249.9
no_node2() { ! kc get node "${CL_NAME[2]}" >/dev/null 2>&1; }
check "those agents registered no Node ${CL_NAME[2]}" no_node2

# --- --flannel-backend=none: no overlay on that node, and the others ignore it ---
ip -n "${CL_NS[2]}" link delete flannel.1 2>/dev/null
cluster_agent_start 2 --flannel-backend none
# as k3s: no CNI of k3c's on that node; containerd looks in its own dirs for
# the one the user installs, so the node registers but is not Ready
node2_waits_for_cni() {
  kc get node "${CL_NAME[2]}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}' 2>/dev/null |
    grep -q '^False .*network not ready'
}
if wait_for 60 node2_waits_for_cni; then
  ok "node 2 joins again with --flannel-backend=none, NotReady until a CNI is installed (network not ready)"
else
  fail "node 2 registered with --flannel-backend=none, Ready False for the network within 60 s" \
    "$(kc get node "${CL_NAME[2]}" -o 'jsonpath={.status.conditions}' 2>&1)" "$(tail -n 15 "${CL_DIR[2]}/k3c.log")"
fi
expect_status "node 2 has no flannel.1" 1 ip -n "${CL_NS[2]}" link show flannel.1
check "node 2's Node has no flannel annotations" test -z "$(ann 2 backend-data)"
check "node 2's agent wrote no CNI config of its own" test ! -e "${CL_DIR[2]}/agent/etc/cni/net.d/10-k3c.conflist"
expect_output "node 2's containerd reads /etc/cni/net.d and runs plugins from /opt/cni/bin" \
  'bin_dir = "/opt/cni/bin" conf_dir = "/etc/cni/net.d"' \
  bash -c "grep -E '^ *(bin|conf)_dir' '${CL_DIR[2]}/agent/etc/containerd/config.toml' | tr -s ' \n' ' ' | sed 's/^ //'"
CIDR[2]=$(cidr 2)
check "nodes 0 and 1 program nothing for node 2 (${CIDR[2]}), which publishes no VTEP" \
  bash -c "! ip -n ${CL_NS[0]} route show dev flannel.1 | grep -q '^${CIDR[2]} ' && ! ip -n ${CL_NS[1]} route show dev flannel.1 | grep -q '^${CIDR[2]} '"

done_testing
