#!/usr/bin/env bash
# NetworkPolicy enforcement across nodes (root): one `k3c server` and one
# `k3c agent` in network namespaces of their own (tests/e2e/cluster_lib.sh).
# Pod srv (node 0, app=srv) serves HTTP on 8080 (named port http) and 9090;
# clients cli0 (node 0) and cli1 (node 1) have role=cli, oth1 (node 1) is in
# namespace np-other (team=other). Checks, each bounded, each change timed:
# open before any policy; a default deny of ingress blocks the same-node and
# the cross-node client but not node 0 itself (kubelet probes); a policy
# allowing role=cli on the named port http lets cli0 and cli1 in on 8080,
# not 9090, not oth1; relabelling cli1 (its IP leaves and re-enters the peer
# set) takes it out and back; a namespaceSelector lets oth1 in; an ipBlock
# (the cluster CIDR except cli1's address) on port 9090 lets cli0 in there,
# not cli1; an egress deny for role=cli blocks both clients while oth1 still
# reaches srv; with the policies deleted all is open again. About a minute.
# Run it under `flock /run/k3c-e2e.lock` (it starts containerds and pods).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
. "$here/cluster_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e
LIMIT=5 # seconds a change may take to be enforced (the agent's aim: well under 1 s)

skip_all() { echo "1..1"; echo "ok 1 - netpol e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, containerd)"
for bin in containerd runc busybox kubectl nsenter curl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

on_exit() {
  if [ "$tap__failed" != 0 ] && [ "$CL_N" -gt 0 ]; then
    echo "# pods:"
    kc get pods -A -o wide 2>&1 | sed 's/^/#   /'
    kc get networkpolicies -A 2>&1 | sed 's/^/#   /'
    cluster_logs 25
  fi
  cluster_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

cluster_init k3c-netpol 2 || bail "make the test network (switch and 2 node namespaces)"
cluster_image "$IMAGE" || bail "build the busybox OCI image"
cluster_start || bail "start the server" "$(tail -n 20 "${CL_DIR[0]}/k3c.log")"
cluster_wait_ready 120 || bail "2 nodes Ready within 120 s" "$(kc get nodes -o wide 2>&1)" "$(cluster_logs 15)"
ok "2 nodes Ready"

# client NAME NS NODE: a pod that sleeps, labelled role=cli
client() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $2, labels: {role: cli}}
spec:
  nodeName: ${CL_NAME[$3]}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMAGE, command: [sleep, "3600"]}
---
EOF
}
{
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: np-other, labels: {team: other}}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, labels: {app: srv}}
spec:
  nodeName: ${CL_NAME[0]}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    command: [sh, -c, 'mkdir -p /www && echo hello >/www/index.html && httpd -p 9090 -h /www && exec httpd -f -p 8080 -h /www']
    ports: [{name: http, containerPort: 8080}, {name: other, containerPort: 9090}]
---
EOF
  client cli0 default 0
  client cli1 default 1
  client oth1 np-other 1
} | kc apply -f - >/dev/null || bail "create namespace np-other and pods srv, cli0, cli1, oth1"

phase() { kc get pod -n "$2" "$1" -o 'jsonpath={.status.phase}' 2>/dev/null; }
all_running() {
  [ "$(phase srv default)" = Running ] && [ "$(phase cli0 default)" = Running ] &&
    [ "$(phase cli1 default)" = Running ] && [ "$(phase oth1 np-other)" = Running ]
}
wait_for 90 all_running || bail "pods Running within 90 s" "$(kc get pods -A -o wide 2>&1)"
ok "pods srv, cli0 (node 0), cli1, oth1 (node 1, namespace np-other) Running"
SIP=$(kc get pod srv -o 'jsonpath={.status.podIP}')
C1IP=$(kc get pod cli1 -o 'jsonpath={.status.podIP}')

pod_netns() {
  local f
  for f in /var/run/netns/cni-*; do
    nsenter --net="$f" ip -o -4 addr show 2>/dev/null | grep -q " inet $1/" && { echo "$f"; return 0; }
  done
  return 1
}
declare -A NS
NS[cli0]=$(pod_netns "$(kc get pod cli0 -o 'jsonpath={.status.podIP}')") || bail "find cli0's network namespace"
NS[cli1]=$(pod_netns "$C1IP") || bail "find cli1's network namespace"
NS[oth1]=$(pod_netns "$(kc -n np-other get pod oth1 -o 'jsonpath={.status.podIP}')") || bail "find oth1's network namespace"

# get FROM PORT [SECONDS]: srv answers FROM's GET on PORT within SECONDS
# (default 1; a drop times out)
get() { timeout 5 nsenter --net="${NS[$1]}" curl -sS -m "${3:-1}" "http://$SIP:$2/" 2>/dev/null | grep -q '^hello$'; }
blocked() { ! get "$@"; }
# the timed waits probe every 0.2 s with 0.3 s tries (answers on this
# network take milliseconds); a state reached is confirmed with a 1 s try
fast() { get "$1" "$2" 0.3; }
fast_blocked() { ! fast "$@"; }
# state: "cli0:8080=yes cli0:9090=no ..." for a failure's message
state() {
  local p port out=
  for p in cli0 cli1 oth1; do
    for port in 8080 9090; do
      get "$p" "$port" && out="$out $p:$port=yes" || out="$out $p:$port=no"
    done
  done
  echo "$out"
}
# expect WHAT WANT FROM PORT: wait (bounded) until FROM's GET on PORT
# answers (WANT=open) or not (closed); ok with the time it took
expect() {
  local what=$1 want=$2 t0
  shift 2
  t0=$(now_us)
  local cmd=fast confirm=get
  [ "$want" = closed ] && cmd=fast_blocked confirm=blocked
  if wait_for "$LIMIT" "$cmd" "$@"; then
    local took
    took=$(secs_since "$t0")
    check "$what ($took s after the change)" "$confirm" "$@"
  else
    fail "$what within $LIMIT s" "now:$(state)" "$(nsx 0 "$B/tests/e2e/net_cleanup" exists netpol && echo table there)"
  fi
}
# stays WHAT WANT FROM PORT: the state holds (checked once, after the other
# expectations of the same change have waited)
stays() {
  local what=$1 want=$2
  shift 2
  if [ "$want" = open ]; then check "$what" get "$@"; else check "$what" blocked "$@"; fi
}
policy() { kc apply -f - >/dev/null || fail "apply policy $1"; }

expect "no policy: cli0 (same node) reaches srv" open cli0 8080
stays "no policy: cli1 (other node) reaches srv" open cli1 8080
stays "no policy: oth1 (other namespace) reaches srv on 9090" open oth1 9090

policy deny <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
EOF
expect "default deny: cli0 (same node, bridged) is blocked" closed cli0 8080
expect "default deny: cli1 (over the overlay) is blocked" closed cli1 8080
check "default deny: node 0 itself (kubelet probes) still reaches srv" \
  nsx 0 curl -sS -m 2 -o /dev/null "http://$SIP:8080/"

policy allow-cli <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-cli}
spec:
  podSelector: {matchLabels: {app: srv}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: cli}}}]
    ports: [{port: http}]
EOF
expect "podSelector role=cli on port http: cli0 gets in on 8080" open cli0 8080
expect "and cli1 from the other node" open cli1 8080
stays "but not on 9090 (not the named port)" closed cli0 9090
stays "and not oth1 (role=cli, but in namespace np-other)" closed oth1 8080

kc label pod cli1 role- >/dev/null || fail "unlabel cli1"
expect "cli1 without role=cli: out of the peer set, blocked" closed cli1 8080
kc label pod cli1 role=cli >/dev/null || fail "relabel cli1"
expect "cli1 with role=cli again: back in" open cli1 8080
check "node 0 refilled the peer set in place for the relabels (no table rebuild)" \
  grep -q 'peer set(s) updated' "${CL_DIR[0]}/k3c.log"

policy allow-ns <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns}
spec:
  podSelector: {matchLabels: {app: srv}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: other}}}]
EOF
expect "namespaceSelector team=other: oth1 gets in" open oth1 9090
stays "the policies add up: cli0 still gets in on 8080" open cli0 8080

policy allow-block <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-block}
spec:
  podSelector: {matchLabels: {app: srv}}
  ingress:
  - from: [{ipBlock: {cidr: 10.42.0.0/16, except: [$C1IP/32]}}]
    ports: [{protocol: TCP, port: 9000, endPort: 9099}]
EOF
expect "ipBlock 10.42.0.0/16 on ports 9000-9099: cli0 gets in on 9090" open cli0 9090
stays "but not cli1, the except of the ipBlock" closed cli1 9090

policy deny-egress <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress}
spec:
  podSelector: {matchLabels: {role: cli}}
  policyTypes: [Egress]
EOF
expect "egress deny for role=cli: cli0 can no longer reach srv" closed cli0 8080
expect "nor cli1 (egress checked on its own node)" closed cli1 8080
stays "oth1 (another namespace's pod) still reaches srv" open oth1 9090

kc delete networkpolicy deny-egress >/dev/null || fail "delete deny-egress"
expect "egress deny deleted: cli0 reaches srv again" open cli0 8080
kc delete networkpolicy deny allow-cli allow-ns allow-block >/dev/null || fail "delete the policies"
expect "every policy deleted: cli1 reaches 9090" open cli1 9090
stays "and oth1 8080" open oth1 8080
done_testing
