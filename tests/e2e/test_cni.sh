#!/usr/bin/env bash
# k3c's built-in CNI plugin called directly, as containerd calls it (root):
# in a network namespace of the test's own (the "node") with pod namespaces
# beside it, the k3c binary run as <dir>/k3c-cni and <dir>/loopback with the
# CNI_* environment and a network config on stdin. Checks ADD (the pod's
# eth0, address, MTU, default route; the bridge, its gateway address, the
# hairpin port; the result JSON), traffic to the pod and through a hostPort,
# CHECK (passes, then fails once the address is gone), DEL (twice, and with
# the namespace gone), VERSION and an error's JSON, concurrent ADDs getting
# distinct addresses up to a full subnet, and the address of a pod whose
# namespace vanished without DEL (a crash) reclaimed by the next ADD.
# No containerd; a few seconds. Run it under `flock /run/k3c-e2e.lock`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}

skip_all() { echo "1..1"; echo "ok 1 - CNI plugin e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
for bin in ip busybox curl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

NODE=k3ccni-n$$
P=k3ccni-p$$- # pod namespaces $P1 ...
D=$(mktemp -d /tmp/k3c-cni-e2e.XXXXXX)
HTTPD=
cleanup() {
  [ -n "$HTTPD" ] && kill "$HTTPD" 2>/dev/null
  for n in /var/run/netns/"$P"*; do
    [ -e "$n" ] && ip netns delete "${n##*/}" 2>/dev/null
  done
  ip netns delete "$NODE" 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT

ip netns add "$NODE"
ip -n "$NODE" link set lo up
ln -s "$K3C" "$D/k3c-cni"
ln -s "$K3C" "$D/loopback"
conf() { # conf VERSION [portMappings JSON]
  printf '{"cniVersion":"%s","name":"k3c","type":"k3c-cni","bridge":"k3ccni0","mtu":1400,' "$1"
  printf '"ipam":{"type":"k3c","subnet":"10.77.0.0/29","dataDir":"%s/ipam"}' "$D"
  [ -n "${2:-}" ] && printf ',"capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":%s}' "$2"
  printf '}\n'
}
# cni COMMAND POD [VERSION [PORTS]]: run the plugin in the node namespace
cni() {
  local netns=/var/run/netns/$P$2
  [ "$2" = none ] && netns=
  conf "${3:-1.0.0}" "${4:-}" | ip netns exec "$NODE" env -i CNI_COMMAND="$1" \
    CNI_CONTAINERID="ctr-$2" CNI_NETNS="$netns" CNI_IFNAME=eth0 CNI_PATH="$D" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    LSAN_OPTIONS="${LSAN_OPTIONS:-}" "$D/k3c-cni"
}
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
pod() { local n=$1; shift; ip netns exec "$P$n" "$@"; }
node() { ip netns exec "$NODE" "$@"; }
lease_of() { grep -l "^id=ctr-$1\$" "$D"/ipam/10.* 2>/dev/null | xargs -r -n1 basename; }

# --- ADD ---
ip netns add "${P}1"
# as containerd 1.6 sends them (Go's field names)
ports='[{"HostPort":18080,"ContainerPort":80,"Protocol":"tcp","HostIP":""}]'
out=$(cni ADD 1 1.0.0 "$ports"); rc=$?
if [ $rc = 0 ] && [ "$(printf '%s' "$out" | field "d['ips'][0]['address']")" = 10.77.0.2/29 ]; then
  ok "ADD: exit 0, the pod gets 10.77.0.2/29 (the first after the gateway)"
else
  fail "ADD gives 10.77.0.2/29" "exit $rc" "$out"
fi
expect_output "ADD's result is CNI 1.0.0: cniVersion, gateway, interface index of eth0 with its sandbox, default route" \
  "^1.0.0 10.77.0.1 eth0 /var/run/netns/${P}1 0.0.0.0/0 10.77.0.1 False$" \
  bash -c "printf '%s' '$out' | /usr/bin/python3 -c \"import json,sys; d=json.load(sys.stdin); i=d['ips'][0]; f=d['interfaces'][i['interface']]; r=d['routes'][0]; print(d['cniVersion'], i['gateway'], f['name'], f['sandbox'], r['dst'], r['gw'], 'version' in i)\""
expect_output "the pod's eth0 is up with the address and MTU 1400" \
  "mtu 1400 .*state UP.*inet 10\.77\.0\.2/29" bash -c "ip -n ${P}1 addr show eth0 | tr '\n' ' '"
expect_output "the pod's default route goes via the gateway" "^default via 10\.77\.0\.1 dev eth0" \
  ip -n "${P}1" route show default
VETH=$(printf '%s' "$out" | field "d['interfaces'][1]['name']")
expect_output "the host veth $VETH is a port of k3ccni0 with hairpin on" \
  "master k3ccni0 .*hairpin on" bash -c "ip -n $NODE -d link show $VETH | tr '\n' ' '"
expect_output "the bridge has the gateway address" "inet 10\.77\.0\.1/29" ip -n "$NODE" addr show k3ccni0
check "the node reaches the pod (ping 10.77.0.2)" node busybox ping -c 1 -W 2 10.77.0.2
expect_output "the lease file names the container, its veth and its port mapping" \
  "id=ctr-1 ifname=eth0 hostif=$VETH ports=tcp/18080/80/0.0.0.0" \
  bash -c "tr '\n' ' ' < $D/ipam/10.77.0.2"

# --- hostPort ---
mkdir -p "$D/www"; echo hello-from-pod > "$D/www/x"
ip netns exec "${P}1" busybox httpd -f -p 80 -h "$D/www" & HTTPD=$!
NC=${K3C_BUILD_DIR:-$B}/tests/e2e/net_cleanup
if [ -x "$NC" ]; then
  expect_output "table ip k3c-hostport: hostPort 18080 DNATed to 10.77.0.2:80" \
    "hostports: meta\(16\) ==6 payload\(th:2\) ==18080 imm\(10\.77\.0\.2\) imm\(80\) dnat" node "$NC" rules hostport
fi
got=
for _ in $(seq 1 20); do
  got=$(node curl -s -m 2 http://10.77.0.1:18080/x) && [ "$got" = hello-from-pod ] && break
  sleep 0.2
done
if [ "$got" = hello-from-pod ]; then ok "a node address's hostPort 18080 reaches the pod's port 80"; else fail "hostPort 18080 on 10.77.0.1" "got: $got"; fi
expect_output "localhost:18080 reaches the pod too (route_localnet, masquerade)" "^hello-from-pod$" \
  node curl -s -m 3 http://127.0.0.1:18080/x

# --- loopback ---
lo=$(printf '{"cniVersion":"0.3.1","name":"cni-loopback","type":"loopback"}' |
  ip netns exec "$NODE" env -i CNI_COMMAND=ADD CNI_CONTAINERID=ctr-1 CNI_NETNS="/var/run/netns/${P}1" \
  CNI_IFNAME=lo "$D/loopback")
expect_output "loopback ADD (0.3.1): lo up, result 127.0.0.1/8 with version 4" \
  '"version":"4","address":"127.0.0.1/8"' printf '%s' "$lo"
expect_output "the pod's lo is up" "state UNKNOWN|,UP" ip -n "${P}1" link show lo

# --- CHECK ---
out=$(cni CHECK 1 1.0.0 "$ports"); rc=$?
if [ $rc = 0 ] && [ -z "$out" ]; then ok "CHECK of a good attachment: exit 0, nothing printed"; else fail "CHECK passes" "exit $rc" "$out"; fi
ip -n "${P}1" addr flush dev eth0
out=$(cni CHECK 1 1.0.0 "$ports"); rc=$?
if [ $rc = 1 ] && [ "$(printf '%s' "$out" | field "d['code'], d['details']")" = "(100, \"the pod's interface lacks its address\")" ]; then
  ok "CHECK after the pod's address is removed: exit 1, error JSON with code 100 and the reason"
else
  fail "CHECK fails without the address" "exit $rc" "$out"
fi
expect_output "CHECK with cniVersion 0.3.1: error code 1 (CHECK came with 0.4.0)" '"code":1,' cni CHECK 1 0.3.1

# --- VERSION and errors ---
expect_output "VERSION lists 0.3.0 to 1.0.0" \
  '^\{"cniVersion":"1.0.0","supportedVersions":\["0.3.0","0.3.1","0.4.0","1.0.0"\]\}$' \
  bash -c "ip netns exec $NODE env -i CNI_COMMAND=VERSION $D/k3c-cni </dev/null"
out=$(cni ADD nosuch); rc=$?
if [ $rc = 1 ] && printf '%s' "$out" | grep -q '"code":3,"msg":"container unknown or does not exist","details":"network namespace /var/run/netns/'"$P"'nosuch: No such file'; then
  ok "ADD into a namespace that does not exist: exit 1, code 3 with the path"
else
  fail "ADD with a missing netns: code 3" "exit $rc" "$out"
fi
check "that failed ADD leased nothing" test -z "$(lease_of nosuch)"

# --- DEL ---
kill "$HTTPD" 2>/dev/null; wait "$HTTPD" 2>/dev/null; HTTPD=
out=$(cni DEL 1 1.0.0 "$ports"); rc=$?
if [ $rc = 0 ] && [ -z "$out" ]; then ok "DEL: exit 0, nothing printed"; else fail "DEL" "exit $rc" "$out"; fi
expect_status "DEL removed the pod's eth0" 1 ip -n "${P}1" link show eth0
expect_status "... and the host veth" 1 ip -n "$NODE" link show "$VETH"
check "... and the lease" test ! -e "$D/ipam/10.77.0.2"
[ -x "$NC" ] && expect_status "... and the hostPort table (no mappings left)" 1 node "$NC" exists hostport
expect_status "DEL again: still exit 0" 0 cni DEL 1
ip netns delete "${P}1"
expect_status "DEL with the namespace gone: exit 0" 0 cni DEL 1
expect_status "DEL without CNI_NETNS: exit 0" 0 cni DEL none

# --- concurrent ADDs: 5 at once fill the /29 (.2-.6), each its own address ---
for i in 2 3 4 5 6; do ip netns add "$P$i"; done
for i in 2 3 4 5 6; do cni ADD "$i" >"$D/add$i.out" 2>&1 & done
wait
addrs=$(for i in 2 3 4 5 6; do field "d['ips'][0]['address']" <"$D/add$i.out" 2>/dev/null; done | sort | tr '\n' ' ')
if [ "$addrs" = "10.77.0.2/29 10.77.0.3/29 10.77.0.4/29 10.77.0.5/29 10.77.0.6/29 " ]; then
  ok "5 concurrent ADDs: all succeed with the 5 distinct addresses of the subnet"
else
  fail "5 concurrent ADDs get distinct addresses" "got: $addrs" "$(cat "$D"/add*.out)"
fi
bad=0
for i in 2 3 4 5 6; do
  a=$(field "d['ips'][0]['address']" <"$D/add$i.out" 2>/dev/null)
  ip -n "$P$i" addr show eth0 2>/dev/null | grep -q "inet $a " || bad=$((bad + 1))
done
check "each pod holds the address its result names" test "$bad" = 0
ip netns add "${P}7"
expect_output "a 6th ADD: exit 1, the subnet is full" '"msg":"no pod address","details":"no free address: all 5 addresses' cni ADD 7

# --- a crash: pod 3's namespace vanishes without DEL ---
old=$(lease_of 3)
ip netns delete "${P}3"
gone=0
for _ in $(seq 1 50); do
  [ "$(ip -n "$NODE" -o link show master k3ccni0 2>/dev/null | wc -l)" = 4 ] && { gone=1; break; }
  sleep 0.1
done
check "pod 3's host veth went with its namespace" test "$gone" = 1
out=$(cni ADD 7 0.4.0); rc=$?
if [ $rc = 0 ] && [ "$(printf '%s' "$out" | field "d['ips'][0]['address'], d['ips'][0]['version'], d['cniVersion']")" = "('$old/29', '4', '0.4.0')" ]; then
  ok "the next ADD (a 0.4.0 config) reclaims pod 3's leftover address $old"
else
  fail "ADD reclaims the crashed pod's address $old" "exit $rc" "$out"
fi
check "pod 3's lease is gone" test -z "$(lease_of 3)"
for i in 2 4 5 6 7; do cni DEL "$i" >/dev/null; done
check "DEL of every pod leaves no lease and no port on the bridge" \
  bash -c "! ls $D/ipam/10.* 2>/dev/null && test -z \"\$(ip -n $NODE -o link show master k3ccni0 2>/dev/null)\""

done_testing
