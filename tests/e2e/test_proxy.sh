#!/usr/bin/env bash
# The service proxy across nodes (root): one `k3c server` and two `k3c
# agent`s in network namespaces of their own (tests/e2e/cluster_lib.sh).
# Pods px1 (node 1) and px2 (node 2) serve HTTP behind a NodePort Service;
# px3 (node 1) has the same labels but a readiness probe that fails. From a
# pod on node 0 the ClusterIP answers and both ready endpoints are reached
# over several tries, never the not-ready one; px1 reaches itself through
# the Service (hairpin); the NodePort answers on every node's address from
# outside the cluster (the switch), and again on a node whose table was
# deleted by hand once the 30 s resync ran; a LoadBalancer Service gets
# every node's address as its ingress and answers there; sessionAffinity
# ClientIP sticks to one pod; externalTrafficPolicy Local reaches only the
# node's own pod with the client's address kept; an endpoint leaving is in
# the kernel within a second of its EndpointSlice change; pod pc0 reaches
# https://kubernetes.default.svc with its service-account token
# (tests/e2e/tls_get); with no endpoints left the ClusterIP and the
# NodePort refuse the connection.
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
NODEPORT=30080

skip_all() { echo "1..1"; echo "ok 1 - proxy e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, containerd)"
for bin in containerd runc busybox kubectl nsenter curl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

on_exit() {
  if [ "$tap__failed" != 0 ] && [ "$CL_N" -gt 0 ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    kc get endpointslices -o yaml 2>&1 | sed 's/^/#   /' | head -n 60
    cluster_logs 25
  fi
  cluster_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

cluster_init k3c-proxy 3 || bail "make the test network (switch and 3 node namespaces)"
cluster_image "$IMAGE" || bail "build the busybox OCI image"
cluster_start || bail "start the server" "$(tail -n 20 "${CL_DIR[0]}/k3c.log")"
cluster_wait_ready 120 || bail "3 nodes Ready within 120 s" "$(kc get nodes -o wide 2>&1)" "$(cluster_logs 15)"
ok "3 nodes Ready"

# pod NAME NODE READY: an httpd pod with labels app=px; READY=no gives it a
# readiness probe that never passes.
pod() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: px}}
spec:
  nodeName: ${CL_NAME[$2]}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    command: [sh, -c, 'mkdir -p /www/cgi-bin && echo "hello from $1" >/www/index.html && echo "#!/bin/sh" >/www/cgi-bin/ip && echo "echo Content-Type: text/plain; echo; echo \\\$REMOTE_ADDR" >>/www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www']
    ports: [{containerPort: 8080}]
EOF
  [ "$3" = no ] && cat <<EOF
    readinessProbe:
      exec: {command: [cat, /never]}
      periodSeconds: 1
EOF
  echo ---
}
{
  pod px1 1 yes
  pod px2 2 yes
  pod px3 1 no
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: pc0}
spec:
  nodeName: ${CL_NAME[0]}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMAGE, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Service
metadata: {name: px}
spec:
  type: NodePort
  selector: {app: px}
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: $NODEPORT}]
EOF
} | kc apply -f - >/dev/null || bail "create pods px1..px3, pc0 and Service px"

phase() { kc get pod "$1" -o 'jsonpath={.status.phase}' 2>/dev/null; }
all_running() { for p in px1 px2 px3 pc0; do [ "$(phase $p)" = Running ] || return 1; done; }
wait_for 90 all_running || bail "pods Running within 90 s" "$(kc get pods -o wide 2>&1)"
ok "pods px1 (node 1), px2 (node 2), px3 (node 1, never ready), pc0 (node 0) Running"
CIP=$(kc get svc px -o 'jsonpath={.spec.clusterIP}')
[ -n "$CIP" ] || bail "Service px has a ClusterIP"
declare -A PIP
for p in px1 px2 px3 pc0; do PIP[$p]=$(kc get pod "$p" -o 'jsonpath={.status.podIP}'); done
slice_ips() { kc get endpointslices -l kubernetes.io/service-name=px -o 'jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready}{" "}{end}'; }
two_ready() { s=$(slice_ips); [[ "$s" == *"${PIP[px1]}=true"* && "$s" == *"${PIP[px2]}=true"* && "$s" == *"${PIP[px3]}=false"* ]]; }
wait_for 60 two_ready || fail "EndpointSlice: px1, px2 ready, px3 not, within 60 s" "$(slice_ips)"

pod_netns() {
  local f
  for f in /var/run/netns/cni-*; do
    nsenter --net="$f" ip -o -4 addr show 2>/dev/null | grep -q " inet $1/" && { echo "$f"; return 0; }
  done
  return 1
}
PC=$(pod_netns "${PIP[pc0]}") || bail "find pod pc0's network namespace (IP ${PIP[pc0]})"
# from_pc0 URL: an HTTP GET from pod pc0 (node 0), 3 s at most.
from_pc0() { timeout 10 nsenter --net="$PC" curl -sS -m 3 "$1"; }
answers() { from_pc0 "http://$CIP/" | grep -q '^hello from'; }
t0=$(now_us)
if wait_for 30 answers; then
  ok "ClusterIP $CIP:80 answers from pod pc0 on node 0 ($(secs_since "$t0") s after the slices were ready)"
else
  bail "ClusterIP $CIP:80 answers from pod pc0 within 30 s" "$(from_pc0 "http://$CIP/" 2>&1)"
fi
# By name from inside pod pc0 (node 0): its resolv.conf and the cluster DNS
# give px.default.svc.cluster.local's ClusterIP, and an HTTP GET to it (busybox
# nc: busybox-static's wget crashes in this image) reaches px1 or px2 on the
# other nodes.
by_name=$(kc exec -i pc0 -- sh -s 2>&1 <<'EOF'
a=$(nslookup px.default.svc.cluster.local 2>/dev/null | awk '/^Address: / && !/:53$/ {print $2; exit}')
echo "addr=$a"
printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "$a" 80
EOF
)
if printf '%s' "$by_name" | grep -q "^addr=$CIP\$" && printf '%s' "$by_name" | grep -Eq '^hello from px[12]$'; then
  ok "from pod pc0, http://px.default.svc.cluster.local resolves to $CIP and reaches $(printf '%s' "$by_name" | grep '^hello from' | cut -d' ' -f3) on another node"
else
  fail "from pod pc0, http://px.default.svc.cluster.local reaches px1/px2 through ClusterIP $CIP" "$by_name"
fi
declare -A seen=()
other=0
for i in $(seq 1 30); do
  r=$(from_pc0 "http://$CIP/" 2>&1)
  case "$r" in
    "hello from px1" | "hello from px2") seen[$r]=$((${seen[$r]:-0} + 1)) ;;
    *) other=$((other + 1)); echo "# try $i: $r" ;;
  esac
done
n1=${seen["hello from px1"]:-0} n2=${seen["hello from px2"]:-0}
echo "# 30 GETs of the ClusterIP: px1 (node 1) $n1, px2 (node 2) $n2, anything else $other"
check "both ready endpoints reached over 30 tries (px1 $n1, px2 $n2)" test "$n1" -gt 0 -a "$n2" -gt 0
check "the not-ready pod px3 got none of the 30 (and no try failed: $other)" test "$other" = 0

# hairpin: px1 reaching its own Service, sometimes itself (masqueraded,
# else its reply to itself would never go back through the node)
P1=$(pod_netns "${PIP[px1]}") || fail "find pod px1's network namespace"
self=0 others=0 bad=0
for i in $(seq 1 16); do
  r=$(timeout 10 nsenter --net="$P1" curl -sS -m 3 "http://$CIP/" 2>&1)
  case "$r" in
    "hello from px1") self=$((self + 1)) ;;
    "hello from px2") others=$((others + 1)) ;;
    *) bad=$((bad + 1)); echo "# hairpin try $i: $r" ;;
  esac
done
check "px1 through its own Service: 16 answers, itself $self times, px2 $others, failures $bad" \
  test "$self" -gt 0 -a "$bad" = 0

# the NodePort on every node's address, from outside the cluster: the
# switch namespace gets an address of its own on the node subnet
ip -n "$CL_SW" addr add "$CL_SUBNET.250/24" dev k3cbr0 || fail "an address for the switch"
for i in 0 1 2; do
  expect_output "NodePort $NODEPORT answers on node $i's address ${CL_IP[i]} from outside the cluster" \
    "^hello from px[12]" timeout 10 nsenter --net="/run/netns/$CL_SW" curl -sS -m 3 "http://${CL_IP[i]}:$NODEPORT/"
done

# the table deleted by hand on node 1 (net_cleanup, as there is no nft
# program): the NodePort there stops answering, and the 30 s resync brings
# the table back
NC=$B/tests/e2e/net_cleanup
np1() { timeout 10 nsenter --net="/run/netns/$CL_SW" curl -sS -m 3 "http://${CL_IP[1]}:$NODEPORT/" 2>&1 | grep -q '^hello from px[12]'; }
if [ -x "$NC" ] && nsx 1 "$NC" remove proxy && ! nsx 1 "$NC" exists proxy; then
  t0=$(now_us)
  if np1; then
    fail "node 1's table deleted by hand: its NodePort no longer answers"
  else
    ok "node 1's table deleted by hand: its NodePort no longer answers"
  fi
  if wait_for 40 np1; then
    ok "node 1's table is back with the resync: its NodePort answers again ($(secs_since "$t0") s)"
  else
    fail "node 1's NodePort answers again within 40 s of its table's delete"
  fi
else
  fail "delete node 1's table ip k3c-proxy with $NC"
fi

# A LoadBalancer Service (the server's ServiceLB): status.loadBalancer.ingress
# gets every node's address, and the service answers there at its port.
LBPORT=8081
kc apply -f - >/dev/null <<EOF || fail "create Service plb (LoadBalancer, port $LBPORT)"
apiVersion: v1
kind: Service
metadata: {name: plb}
spec:
  type: LoadBalancer
  selector: {app: px}
  ports: [{name: http, port: $LBPORT, targetPort: 8080}]
EOF
want_ing=$(printf '%s\n' "${CL_IP[@]}" | sort | tr '\n' ' ')
ing() { kc get svc plb -o 'jsonpath={range .status.loadBalancer.ingress[*]}{.ip}{" "}{end}'; }
ing_ok() { [ "$(ing)" = "$want_ing" ]; }
if wait_for 20 ing_ok; then
  ok "LoadBalancer plb: status.loadBalancer.ingress is every node's address ($want_ing)"
else
  fail "LoadBalancer plb: ingress $want_ing within 20 s" "$(ing)"
fi
from_sw() { timeout 10 nsenter --net="/run/netns/$CL_SW" curl -sS -m 3 "$1" 2>&1; }
lb_answers() { from_sw "http://$1:$LBPORT/" | grep -q '^hello from px[12]'; }
for i in 0 1 2; do
  if wait_for 10 lb_answers "${CL_IP[i]}"; then
    ok "LoadBalancer plb answers on node $i's address ${CL_IP[i]}:$LBPORT from outside"
  else
    fail "LoadBalancer plb answers on ${CL_IP[i]}:$LBPORT within 10 s" "$(from_sw "http://${CL_IP[i]}:$LBPORT/")"
  fi
done

# sessionAffinity ClientIP: every GET from pc0 reaches the same pod.
kc apply -f - >/dev/null <<EOF || fail "create Service paff (sessionAffinity ClientIP)"
apiVersion: v1
kind: Service
metadata: {name: paff}
spec:
  selector: {app: px}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{name: http, port: 80, targetPort: 8080}]
EOF
ACIP=$(kc get svc paff -o 'jsonpath={.spec.clusterIP}')
aff_answers() { from_pc0 "http://$ACIP/" | grep -q '^hello from'; }
wait_for 20 aff_answers || fail "paff's ClusterIP $ACIP answers within 20 s"
declare -A aseen=()
for i in $(seq 1 12); do
  r=$(from_pc0 "http://$ACIP/" 2>&1)
  aseen[$r]=1
done
check "sessionAffinity ClientIP: 12 GETs from pc0 all reach one pod (${!aseen[*]})" \
  test "${#aseen[@]}" = 1 -a -n "${aseen[hello from px1]:-}${aseen[hello from px2]:-}"

# A pod reaches https://kubernetes.default.svc with its service-account
# token: the name resolves (cluster DNS) to the kubernetes Service's
# ClusterIP, and from pod pc0's network namespace tests/e2e/tls_get (busybox
# wget cannot handshake with k3c's ECDHE-ECDSA suites) checks the server's
# certificate against the pod's ca.crt for that name and asks who it is.
TLS_GET=$B/tests/e2e/tls_get
SA=/var/run/secrets/kubernetes.io/serviceaccount
KIP=$(kc get svc kubernetes -o 'jsonpath={.spec.clusterIP}')
expect_output "kubernetes.default.svc resolves in pod pc0 to the kubernetes Service's ClusterIP $KIP" \
  "$KIP" kc exec pc0 -- nslookup kubernetes.default.svc
if [ -x "$TLS_GET" ] && kc exec pc0 -- cat "$SA/token" >"$PODS_DIR/pc0.token" 2>/dev/null &&
  kc exec pc0 -- cat "$SA/ca.crt" >"$PODS_DIR/pc0.ca" 2>/dev/null; then
  body='{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
  expect_output "pod pc0 reaches https://kubernetes.default.svc ($KIP:443, certificate checked for the name) with its token: system:serviceaccount:default:default" \
    '"username":"system:serviceaccount:default:default"' \
    timeout 20 nsenter --net="$PC" "$TLS_GET" "$PODS_DIR/pc0.ca" kubernetes.default.svc "$KIP" 443 \
    "$PODS_DIR/pc0.token" /apis/authentication.k8s.io/v1/selfsubjectreviews "$body"
else
  fail "pod pc0's service-account token and ca.crt, and $TLS_GET"
fi

# externalTrafficPolicy Local: the NodePort of node 1 reaches px1 (its local
# endpoint) only, with the client's own address (no masquerade); node 0 has
# no endpoint and answers nothing; with policy Cluster the address is not
# the client's.
kc apply -f - >/dev/null <<EOF || fail "create Service ploc (NodePort, externalTrafficPolicy Local)"
apiVersion: v1
kind: Service
metadata: {name: ploc}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: px}
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30081}]
EOF
loc_answers() { from_sw "http://${CL_IP[1]}:30081/" | grep -q '^hello from'; }
wait_for 20 loc_answers || fail "ploc's NodePort on node 1 answers within 20 s"
declare -A lseen=()
for i in $(seq 1 8); do lseen[$(from_sw "http://${CL_IP[1]}:30081/")]=1; done
check "externalTrafficPolicy Local: 8 GETs to node 1's NodePort all reach px1 (${!lseen[*]})" \
  test "${#lseen[@]}" = 1 -a -n "${lseen[hello from px1]:-}"
# client_ip URL: the address the pod's httpd saw (it writes [::ffff:a.b.c.d])
client_ip() { local a; a=$(from_sw "$1"); a=${a#"[::ffff:"}; echo "${a%"]"}"; }
src=$(client_ip "http://${CL_IP[1]}:30081/cgi-bin/ip")
check "externalTrafficPolicy Local keeps the client's address: px1 sees '$src'" \
  test "$src" = "$CL_SUBNET.250"
src=$(client_ip "http://${CL_IP[1]}:$NODEPORT/cgi-bin/ip")
check "externalTrafficPolicy Cluster masquerades: the pod sees '$src', not $CL_SUBNET.250" \
  test -n "$src" -a "$src" != "$CL_SUBNET.250"
loc0() { from_sw "http://${CL_IP[0]}:30081/" >/dev/null 2>&1 && echo answered || echo silent; }
expect_output "externalTrafficPolicy Local: node 0 (no local endpoint) does not answer" "^silent$" loc0

# An endpoint leaving (px2 relabelled out of the selector) reaches node 0's
# table within a second of its EndpointSlice change.
has_px2() { nsx 0 "$NC" rules proxy | grep -q "imm(${PIP[px2]})"; }
slice_has_px2() { [[ "$(slice_ips)" == *"${PIP[px2]}="* ]]; }
if has_px2; then
  kc label pod px2 app=away --overwrite >/dev/null || fail "relabel px2"
  t0=$(now_us) ts="" tk=""
  end=$((t0 + 20000000))
  while [ "$(now_us)" -lt "$end" ] && { [ -z "$ts" ] || [ -z "$tk" ]; }; do
    [ -z "$tk" ] && ! has_px2 && tk=$(now_us)
    [ -z "$ts" ] && ! slice_has_px2 && ts=$(now_us)
    sleep 0.05
  done
  if [ -n "$ts" ] && [ -n "$tk" ]; then
    lag=$(((tk - ts) / 1000))
    check "px2 left: node 0's table without it ${lag} ms after the EndpointSlice showed it gone, $(((tk - t0) / 1000)) ms after the relabel (at most 1000 ms)" \
      test "$lag" -le 1000
  else
    fail "px2 relabelled: the slice and node 0's table drop it within 20 s" "slice: $(slice_ips)"
  fi
  n=0
  for i in $(seq 1 10); do [ "$(from_pc0 "http://$CIP/")" = "hello from px1" ] && n=$((n + 1)); done
  check "after px2 left the ClusterIP reaches px1 only ($n of 10)" test "$n" = 10
else
  fail "node 0's table has px2's endpoint (${PIP[px2]})" "$(nsx 0 "$NC" rules proxy 2>&1 | head -n 20)"
fi

# no endpoints: connection refused (icmp port unreachable). curl says
# "Couldn't connect to server" for a refusal and for other failures alike,
# so a Python connect tells refused from a timeout or no route.
# connect NETNS HOST PORT: "refused", "connected", or the error's name.
connect() {
  timeout 10 nsenter --net="$1" /usr/bin/python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print("connected")
except ConnectionRefusedError: print("refused")
except OSError as e: print(type(e).__name__, e)' "$2" "$3" 2>&1
}
kc delete pod px1 px2 --wait=false >/dev/null 2>&1 || fail "delete px1, px2"
refused() { [ "$(connect "$PC" "$CIP" 80)" = refused ]; }
t0=$(now_us)
if wait_for 40 refused; then
  ok "with no ready endpoint the ClusterIP refuses the connection ($(secs_since "$t0") s after the delete)"
else
  fail "ClusterIP refuses the connection within 40 s of the endpoints' delete" "$(connect "$PC" "$CIP" 80)"
fi
# (a deleted pod stays in its slice, serving and terminating, until its
# readiness goes: until then the proxy still sends it traffic, as upstream's)
np_refused() { [ "$(connect "/run/netns/$CL_SW" "${CL_IP[$1]}" "$NODEPORT")" = refused ]; }
for i in 0 2; do
  if wait_for 20 np_refused "$i"; then
    ok "and so does the NodePort on node $i (from outside)"
  else
    fail "the NodePort on node $i refuses within 20 s" "$(connect "/run/netns/$CL_SW" "${CL_IP[i]}" "$NODEPORT")"
  fi
done
done_testing
