#!/usr/bin/env bash
# Joining a fleet end to end (issue #15; root): scripts/install.sh and the
# freshly built k3c (with its sha256 file, as scripts/release.sh lays them
# out) served over HTTP inside the test network, then, each device a network
# namespace on the test switch (tests/e2e/cluster_lib.sh):
#   - the server installed with `curl -sfL URL/install.sh | ... sh -` into
#     node 0 (bin, unit and data dirs under the run's temp dir; no systemd
#     runs here, so the unit is checked and its ExecStart run by hand, by pid);
#   - an agent installed the same way in node 1 with K3C_URL and K3C_TOKEN,
#     its Node Ready (time printed);
#   - from node 2: a wrong token, a token with a wrong CA hash and a second
#     device claiming node 1's name refused, with clear errors and nothing
#     registered; a bootstrap token (`k3c token create --ttl 1m`) joining
#     node 3 (hollow), and refused once it expired;
#   - node 1's certificate refused another Node and the Secret of a pod not
#     bound to it;
#   - the server stopped: node 1's pod keeps running (same pid) while it is
#     down; restarted: the agent renews its Lease again, the pod still Running;
#   - the uninstallers removing every file they installed, the processes, the
#     mounts and the data dir.
# Run it under `flock /run/k3c-e2e.lock`. Every wait is bounded; about 30 s.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
. "$here/cluster_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
SRC=${K3C_SRC:-$here/../..}
IMAGE=docker.io/library/busybox:e2e

skip_all() { echo "1..1"; echo "ok 1 - fleet e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, containerd)"
for bin in containerd runc busybox kubectl nsenter unshare curl sha256sum; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

HTTP_PID=
HOLLOW_PID=
PNS=
on_exit() {
  if [ "$tap__failed" != 0 ] && [ "$CL_N" -gt 0 ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    cluster_logs 25
  fi
  [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null
  [ -n "$HOLLOW_PID" ] && kill "$HOLLOW_PID" 2>/dev/null
  cluster_cleanup
  # p-own's network namespace, when its container was gone before the cleanup looked
  if [ -n "$PNS" ] && [ -e "$PNS" ]; then umount "$PNS" 2>/dev/null; rm -f "$PNS"; fi
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

# Nodes: 0 the server's device, 1 the agent's, 2 the impostors', 3 a hollow
# agent joining with a bootstrap token (the "other node" of the authz checks).
cluster_init k3c-fleet 4 || bail "make the test network (switch and 4 node namespaces)"
cluster_image "$IMAGE" || bail "build the busybox OCI image"
T0=$(now_us)
SERVER=https://${CL_IP[0]}:6443

# --- the artifacts, served from the switch's namespace ---
WWW=$PODS_DIR/www
mkdir -p "$WWW"
cp "$SRC/scripts/install.sh" "$WWW/install.sh" && cp "$K3C" "$WWW/k3c" &&
  (cd "$WWW" && sha256sum k3c >k3c.sha256) || bail "lay out install.sh, k3c and k3c.sha256"
ip -n "$CL_SW" addr add "$CL_SUBNET.1/24" dev k3cbr0 || bail "an address on the switch for the web server"
URL=http://$CL_SUBNET.1:8080
nsenter --net="/run/netns/$CL_SW" /usr/bin/python3 -m http.server --bind "$CL_SUBNET.1" \
  --directory "$WWW" 8080 >>"$PODS_DIR/http.log" 2>&1 &
HTTP_PID=$!
served() { nsx 0 curl -sf -m 2 -o /dev/null "$URL/k3c.sha256"; }
wait_for 10 served || bail "the web server answers on $URL within 10 s" "$(cat "$PODS_DIR/http.log")"

# The environment the test gives the processes it starts (the installer
# writes every K3C_* variable into the service's environment file, so it runs
# without the test's K3C_BIN...; the sanitizers' options pass through).
SAN_ENV=(ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" LSAN_OPTIONS="${LSAN_OPTIONS:-}")
clean() { env -i PATH="$PATH" HOME=/root TMPDIR=/tmp "$@"; }

# install I VAR=VALUE...: `curl -sfL URL/install.sh | VARS sh -` in node I,
# its files under $PODS_DIR/root$I (bin, systemd).
install_on() {
  local i=$1 r=$PODS_DIR/root$1
  shift
  nsx "$i" timeout 60 env -i PATH="$PATH" HOME=/root TMPDIR=/tmp "$@" \
    INSTALL_K3C_URL_BASE="$URL" INSTALL_K3C_BIN_DIR="$r/bin" INSTALL_K3C_SYSTEMD_DIR="$r/systemd" \
    K3C_DATA_DIR="${CL_DIR[i]}" \
    sh -c "curl -sfL '$URL/install.sh' | sh -"
}

# unit_exec UNIT: the ExecStart of a unit, its lines joined (systemd's
# single-quoted words are the shell's here: the installer quotes each one).
unit_exec() { sed -n '/^ExecStart=/,/[^\\]$/p' "$1" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' '; }

# run_unit I UNIT ENVFILE: start the unit's ExecStart by hand in node I with
# the environment file's variables only (as systemd would); pid in CL_PID[I].
run_unit() {
  local i=$1 unit=$2 envf=$3 line
  local -a cmd=() envs=()
  eval "cmd=($(unit_exec "$unit"))"
  while IFS= read -r line; do envs+=("$line"); done <"$envf"
  nsenter --net="/run/netns/${CL_NS[i]}" env -i PATH="$PATH" HOME=/root "${SAN_ENV[@]}" "${envs[@]}" \
    "${cmd[@]}" >>"${CL_DIR[i]}/k3c.log" 2>&1 &
  CL_PID[i]=$!
}

# --- the server, installed in node 0 ---
R0=$PODS_DIR/root0
out=$(install_on 0 INSTALL_K3C_SKIP_CONTAINERD=true \
  INSTALL_K3C_EXEC="server --disable-agent --tls-san ${CL_IP[0]} --write-kubeconfig $CL_KC" 2>&1)
st=$?
if [ $st = 0 ] && printf '%s' "$out" | grep -q "sha256 verified"; then
  ok "server: curl -sfL $URL/install.sh | sh - installed k3c (sha256 verified)"
else
  bail "server: curl | sh install (status $st)" "$out"
fi
printf '%s\n' "$out" | sed 's/^/#   /'
U0=$R0/systemd/k3c.service E0=$R0/systemd/k3c.service.env
check "server: the installed binary is the served one" cmp "$R0/bin/k3c" "$K3C"
expect_output "server: k3c.service runs $R0/bin/k3c server with INSTALL_K3C_EXEC's flags, quoted" \
  "^$R0/bin/k3c server +'--disable-agent' +'--tls-san' +'${CL_IP[0]}' +'--write-kubeconfig' +'$CL_KC' *\$" unit_exec "$U0"
expect_output "server: unit restarts, delegates cgroups, reads its environment file" '^4$' \
  sh -c "grep -cE '^(Restart=always|Delegate=yes|KillMode=process|EnvironmentFile=-$E0)\$' '$U0'"
expect_output "server: environment file private (0600) with K3C_DATA_DIR only" "^600 K3C_DATA_DIR=${CL_DIR[0]}\$" \
  sh -c "echo \$(stat -c %a '$E0') \$(cat '$E0')"
for s in k3c-killall.sh k3c-uninstall.sh; do
  check "server: $s written, executable, valid sh" sh -c "test -x '$R0/bin/$s' && sh -n '$R0/bin/$s'"
done
expect_output "server: the uninstaller removes the data dir it was given" "rm -rf /etc/k3c ${CL_DIR[0]} " cat "$R0/bin/k3c-uninstall.sh"
# what the server's install wrote, for the uninstall at the end
find "$R0" -type f | sort >"$PODS_DIR/files0.before"

t0=$(now_us)
run_unit 0 "$U0" "$E0"
wait_for 60 cluster__token_ready || bail "server (ExecStart by hand, pid ${CL_PID[0]}) wrote its token within 60 s" "$(tail -n 20 "${CL_DIR[0]}/k3c.log")"
api_up() { kc get --raw /readyz; }
wait_for 30 api_up || bail "server API ready within 30 s"
ok "server: started from the unit's ExecStart (pid ${CL_PID[0]}), API ready in $(secs_since "$t0") s"
CL_TOKEN=$(cat "${CL_DIR[0]}/server/node-token")
HASH=${CL_TOKEN#K10}
HASH=${HASH%%::*}
SECRET=${CL_TOKEN##*:}

# A bootstrap token with a 1 minute TTL (its expiry is brought forward
# near the end rather than waited for).
BT=$(nsx 0 timeout 30 "$K3C" token create --ttl 1m --description fleet-e2e --kubeconfig "$CL_KC" 2>&1)
BT_T0=$(now_us)
case $BT in
  "K10$HASH::"??????.????????????????) ok "k3c token create --ttl 1m: $BT" ;;
  *) fail "k3c token create --ttl 1m prints K10<hash>::<id>.<secret>" "$BT" ;;
esac
BT_ID=${BT##*::}
BT_ID=${BT_ID%%.*}
# --ttl 1m: the Secret's expiration (RFC 3339) one minute after the create
exp=$(kc get secret -n kube-system "bootstrap-token-$BT_ID" -o 'jsonpath={.data.expiration}' | base64 -d)
ttl=$(($(date -d "$exp" +%s 2>/dev/null || echo 0) - BT_T0 / 1000000))
check "the token's Secret expires 60 s after the create (expiration $exp, $ttl s)" test "$ttl" -ge 58 -a "$ttl" -le 61
expect_output "k3c token list shows it" "^$BT_ID\\.[a-z0-9]{16} .*fleet-e2e" \
  nsx 0 timeout 30 "$K3C" token list --kubeconfig "$CL_KC"

# --- the agent, installed in node 1 with K3C_URL and K3C_TOKEN ---
R1=$PODS_DIR/root1
out=$(install_on 1 K3C_URL="$SERVER" K3C_TOKEN="$CL_TOKEN" K3C_NODE_NAME="${CL_NAME[1]}" \
  K3C_NODE_IP="${CL_IP[1]}" INSTALL_K3C_EXEC="--cgroup-root /$PODS_CG/n1" 2>&1)
st=$?
if [ $st = 0 ] && printf '%s' "$out" | grep -q "wrote .*/k3c-agent.service$"; then
  ok "agent: curl | K3C_URL=... K3C_TOKEN=... sh - installed the agent service"
else
  bail "agent: curl | sh install (status $st)" "$out"
fi
U1=$R1/systemd/k3c-agent.service E1=$R1/systemd/k3c-agent.service.env
expect_output "agent: k3c-agent.service runs $R1/bin/k3c agent (chosen from K3C_URL)" \
  "^$R1/bin/k3c agent +'--cgroup-root' +'/$PODS_CG/n1' *\$" unit_exec "$U1"
expect_output "agent: environment file private (0600) with K3C_URL and K3C_TOKEN" "^600 .*K3C_TOKEN=$CL_TOKEN .*K3C_URL=$SERVER" \
  sh -c "echo \$(stat -c %a '$E1') \$(sort '$E1')"
check "agent: k3c-agent-uninstall.sh and no server uninstaller" \
  sh -c "test -x '$R1/bin/k3c-agent-uninstall.sh' && test ! -e '$R1/bin/k3c-uninstall.sh'"
find "$R1" -type f | sort >"$PODS_DIR/files1.before"

t0=$(now_us)
run_unit 1 "$U1" "$E1"
ready1() { pods__gone "${CL_PID[1]}" || cluster_node_ready 1; }
if wait_for 60 ready1 && cluster_node_ready 1; then
  J1=$(secs_since "$t0")
  echo "# agent: start -> Node ${CL_NAME[1]} Ready: $J1 s (target 3 s)"
  ok "agent: started from the unit's ExecStart (pid ${CL_PID[1]}), Node Ready in $J1 s"
else
  bail "agent: Node ${CL_NAME[1]} Ready within 60 s" "$(kc get nodes -o wide 2>&1)" "$(tail -n 30 "${CL_DIR[1]}/k3c.log")"
fi
check "agent: joined with the token: certificates saved under its data dir" \
  test -s "${CL_DIR[1]}/agent/client-kubelet.crt" -a -s "${CL_DIR[1]}/agent/server-ca.crt"
pw_rv() { kc get secret -n kube-system "${CL_NAME[1]}.node-password.k3s" -o 'jsonpath={.metadata.resourceVersion}'; }
PW_RV=$(pw_rv)
check "agent: its node-password Secret exists" test -n "$PW_RV"

# --- impostors, from node 2 ---
# try_join NAME DIR TOKEN [ARGS...]: a `k3c agent` in node 2 with a fresh data
# dir, bounded; its output in $out, its status in $st.
try_join() {
  local name=$1 dir=$2 tok=$3
  shift 3
  out=$(nsx 2 timeout 20 env -i PATH="$PATH" "${SAN_ENV[@]}" "$K3C" agent --config /dev/null \
    --data-dir "$dir" --server "$SERVER" --token "$tok" --node-name "$name" --hollow 1 "$@" 2>&1)
  st=$?
}
nothing_registered() { # NAME DIR
  [ -z "$(kc get node "$1" --ignore-not-found -o name 2>&1)" ] &&
    [ -z "$(kc get secret -n kube-system "$1.node-password.k3s" --ignore-not-found -o name 2>&1)" ] &&
    [ ! -e "$2/agent/client-kubelet.crt" ]
}
D2=$PODS_DIR/n2/imp1
try_join fleet-imp1 "$D2" "K10$HASH::server:wrongsecret0123456789"
if [ $st = 1 ] && printf '%s' "$out" | grep -q "token is wrong"; then
  ok "wrong token refused: $(printf '%s' "$out" | grep -m1 'token is wrong' | cut -c1-200)"
else
  fail "a wrong token refused (exit 1, 'token is wrong')" "status $st" "$out"
fi
check "wrong token: no Node, no node-password Secret, no certificate" nothing_registered fleet-imp1 "$D2"
BAD=0000000000000000000000000000000000000000000000000000000000000000
D2=$PODS_DIR/n2/imp2
joins_before=$(grep -c '\[join\]' "${CL_DIR[0]}/k3c.log")
try_join fleet-imp2 "$D2" "K10$BAD::server:$SECRET"
if [ $st = 1 ] && printf '%s' "$out" | grep -q "$BAD" && printf '%s' "$out" | grep -q "$HASH"; then
  ok "token with a wrong CA hash refused naming both hashes: $(printf '%s' "$out" | grep -m1 "$BAD" | cut -c1-240)"
else
  fail "a wrong CA hash refused (exit 1, both hashes named)" "status $st" "$out"
fi
joins_after=$(grep -c '\[join\]' "${CL_DIR[0]}/k3c.log")
check "wrong CA hash: no certificate request reached the server ($joins_before = $joins_after [join] lines in its log)" \
  test "$joins_before" = "$joins_after"
check "wrong CA hash: no Node, no node-password Secret, no certificate" nothing_registered fleet-imp2 "$D2"
D2=$PODS_DIR/n2/imp3
try_join "${CL_NAME[1]}" "$D2" "$CL_TOKEN"
if [ $st = 1 ] && printf '%s' "$out" | grep -q "node password rejected"; then
  ok "a second device claiming ${CL_NAME[1]} refused: $(printf '%s' "$out" | grep -m1 'node password rejected' | cut -c1-200)"
else
  fail "a second device with node 1's name refused (exit 1, 'node password rejected')" "status $st" "$out"
fi
check "second device: no certificate saved, node 1's password Secret unchanged, node 1 still Ready" \
  sh -c "[ ! -e '$D2/agent/client-kubelet.crt' ] && [ '$(pw_rv)' = '$PW_RV' ] && [ '$(kc get node "${CL_NAME[1]}" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')' = True ]"

# --- the bootstrap token joins node 3 (hollow: the join and the Node, no containers) ---
BT_NODE=fleet-bt-0
nsenter --net="/run/netns/${CL_NS[3]}" env -i PATH="$PATH" "${SAN_ENV[@]}" "$K3C" agent --config /dev/null \
  --data-dir "${CL_DIR[3]}" --server "$SERVER" --token "$BT" --hollow 1 --hollow-prefix fleet-bt- \
  >>"${CL_DIR[3]}/k3c.log" 2>&1 &
HOLLOW_PID=$!
bt_ready() { [ "$(kc get node "$BT_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
t0=$(now_us)
if wait_for 30 bt_ready; then
  ok "a join with the --ttl 1m bootstrap token: Node $BT_NODE Ready in $(secs_since "$t0") s"
else
  fail "a join with the bootstrap token: Node $BT_NODE Ready within 30 s" "$(tail -n 20 "${CL_DIR[3]}/k3c.log")"
fi

# --- node 1's own certificate: its Node and its pods' Secrets only ---
NK=$PODS_DIR/node1.kubeconfig
cat >"$NK" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$SERVER", certificate-authority: "${CL_DIR[1]}/agent/server-ca.crt"}
users:
- name: u
  user: {client-certificate: "${CL_DIR[1]}/agent/client-kubelet.crt", client-key: "${CL_DIR[1]}/agent/client-kubelet.key"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
EOF
nk() { timeout 30 nsenter --net="/run/netns/${CL_NS[1]}" kubectl --kubeconfig "$NK" --request-timeout=20s "$@"; }
cat <<EOF | kc apply -f - >/dev/null || bail "create the Secrets and pods"
apiVersion: v1
kind: Secret
metadata: {name: s-own}
stringData: {v: own}
---
apiVersion: v1
kind: Secret
metadata: {name: s-other}
stringData: {v: other}
---
apiVersion: v1
kind: Pod
metadata: {name: p-own}
spec:
  nodeName: ${CL_NAME[1]}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMAGE
    command: [sleep, "3600"]
    env: [{name: V, valueFrom: {secretKeyRef: {name: s-own, key: v}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: p-other}
spec:
  nodeName: $BT_NODE
  containers:
  - name: c
    image: $IMAGE
    env: [{name: V, valueFrom: {secretKeyRef: {name: s-other, key: v}}}]
EOF
expect_output "node 1's certificate authenticates as system:node:${CL_NAME[1]}" "system:node:${CL_NAME[1]}" \
  nk auth whoami -o 'jsonpath={.status.userInfo.username}'
check "node 1's certificate annotates its own Node" nk annotate node "${CL_NAME[1]}" --overwrite fleet-e2e=own
expect_output "node 1's certificate cannot modify another Node ($BT_NODE)" '(Forbidden|forbidden)' \
  nk annotate node "$BT_NODE" --overwrite fleet-e2e=stolen
check "... and $BT_NODE is unchanged" sh -c "[ -z \"\$(timeout 30 nsenter --net=/run/netns/${CL_NS[0]} kubectl --kubeconfig '$CL_KC' get node '$BT_NODE' -o 'jsonpath={.metadata.annotations.fleet-e2e}')\" ]"
own_secret() { nk get secret s-own -o 'jsonpath={.data.v}'; }
if wait_for 20 own_secret; then
  ok "node 1's certificate reads the Secret of its pod p-own"
else
  fail "node 1's certificate reads the Secret of its own pod" "$(nk get secret s-own 2>&1)"
fi
expect_output "node 1's certificate cannot read the Secret of a pod bound to $BT_NODE" '(Forbidden|forbidden)' \
  nk get secret s-other

# --- the server restarts; the pod keeps running meanwhile ---
pod_running() { [ "$(kc get pod p-own -o 'jsonpath={.status.phase}')" = Running ]; }
wait_for 60 pod_running || bail "pod p-own Running on node 1 within 60 s" "$(kc describe pod p-own 2>&1 | tail -n 15)"
CPID=$(pods_procs "sleep 3600")
[ -n "$CPID" ] && [ "$(echo "$CPID" | wc -l)" = 1 ] || bail "find p-own's container process (got '$CPID')"
ok "pod p-own Running on node 1, its container pid $CPID"
# p-own's network namespace, CNI's /run/netns/cni-* file
PNS=
ino=$(stat -L -c %i "/proc/$CPID/ns/net" 2>/dev/null)
for f in /run/netns/cni-*; do
  [ -n "$ino" ] && [ "$(stat -L -c %i "$f" 2>/dev/null)" = "$ino" ] && PNS=$f
done
lease() { kc get lease -n kube-node-lease "${CL_NAME[1]}" -o 'jsonpath={.spec.renewTime}'; }
log_at=$(wc -l <"${CL_DIR[1]}/k3c.log")
cluster_stop_node 0 30 || fail "the server stops on SIGTERM within 30 s"
t_down=$(now_us)
# While it is down (10 s, past a Lease renewal): the agent, its container and
# the pod's process stay, sampled every 0.5 s.
alive=0 samples=0
while [ $(($(now_us) - t_down)) -lt 10000000 ]; do
  samples=$((samples + 1))
  kill -0 "$CPID" 2>/dev/null && kill -0 "${CL_PID[1]}" 2>/dev/null && alive=$((alive + 1))
  sleep 0.5
done
check "server down 10 s: the agent (pid ${CL_PID[1]}) and p-own's container (pid $CPID) ran throughout ($alive of $samples samples)" \
  test "$alive" = "$samples"
echo "# the agent's log while the server was down ($(sed -n "$((log_at + 1)),\$p" "${CL_DIR[1]}/k3c.log" | wc -l) lines), the first 6:"
sed -n "$((log_at + 1)),\$p" "${CL_DIR[1]}/k3c.log" | head -n 6 | cut -c1-200 | sed 's/^/#   /'
t_up=$(now_us)
run_unit 0 "$U0" "$E0"
wait_for 60 api_up || bail "server restarted (pid ${CL_PID[0]}) API ready within 60 s" "$(tail -n 20 "${CL_DIR[0]}/k3c.log")"
# the server was down from t_down to t_up: a renewTime past t_down + 1 s is a renewal after the restart
up_iso=$(date -u -d "@$((t_down / 1000000 + 1))" +%Y-%m-%dT%H:%M:%S)
renewed() { local r; r=$(lease); [ -n "$r" ] && [[ "${r%%.*}" > "$up_iso" || "${r%Z}" > "$up_iso" ]]; }
if wait_for 40 renewed; then
  ok "agent reconnected: its Lease renewed $(secs_since "$t_up") s after the server was started again ($(lease))"
else
  fail "agent's Lease renewed within 40 s of the restart" "renewTime $(lease), restart at $up_iso" "$(tail -n 20 "${CL_DIR[1]}/k3c.log")"
fi
check "after the restart: p-own still Running, the same container pid $CPID, node 1 Ready" \
  sh -c "kill -0 $CPID && [ \"\$(tr '\0' ' ' </proc/$CPID/cmdline)\" = 'sleep 3600 ' ]"
pod_running && cluster_node_ready 1 && ok "after the restart: p-own Running, ${CL_NAME[1]} Ready" ||
  fail "after the restart: p-own Running and node 1 Ready" "$(kc get pods,nodes -o wide 2>&1)"

# --- the bootstrap token after its expiry ---
# Not a minute's wait: its Secret's expiration is moved to the next second
# (what the TTL set above), then the expiry is what the server and the token
# cleaner see.
exp_s=$(($(now_us) / 1000000 + 1))
exp=$(date -u -d "@$exp_s" +%Y-%m-%dT%H:%M:%SZ)
kc patch secret -n kube-system "bootstrap-token-$BT_ID" --type merge \
  -p "{\"data\":{\"expiration\":\"$(printf '%s' "$exp" | base64)\"}}" >/dev/null ||
  fail "move the token's expiration to $exp"
past_exp() { [ "$(date +%s)" -gt "$exp_s" ]; }
wait_for 3 past_exp
try_join fleet-bt-late "$PODS_DIR/n2/late" "$BT"
if [ $st = 1 ] && printf '%s' "$out" | grep -qE "unauthorized: (token expired|no such bootstrap token|.*expired)"; then
  ok "the bootstrap token refused after its expiry ($exp): $(printf '%s' "$out" | grep -m1 -E 'unauthorized' | cut -c1-160)"
else
  fail "the bootstrap token refused after expiry" "status $st" "$out"
fi
check "after the expiry: nothing registered for the late join" nothing_registered fleet-bt-late "$PODS_DIR/n2/late"
bt_gone() { ! nsx 0 timeout 30 "$K3C" token list --kubeconfig "$CL_KC" | grep -q "^$BT_ID\\."; }
wait_for 10 bt_gone && ok "the expired token is gone from k3c token list (the token cleaner)" ||
  fail "the expired token gone from k3c token list within 10 s" "$(nsx 0 timeout 30 "$K3C" token list --kubeconfig "$CL_KC" 2>&1)"
check "the node that joined with it keeps running: $BT_NODE Ready" bt_ready

# --- uninstall ---
# The uninstallers also remove /etc/k3c, /var/lib/kubelet and /run/k3c: they
# run only where this machine has none of them (a real install's would go).
real=
for d in /etc/k3c /var/lib/kubelet /run/k3c; do [ -e "$d" ] && real="$real $d"; done
if [ -n "$real" ]; then
  skip "uninstall" "this machine has$real, which the uninstallers would remove"
  echo "# whole test: $(secs_since "$T0") s"
  done_testing
  exit
fi
uninstall_on() { nsx "$1" timeout 60 "$2"; } # I SCRIPT
left_of() { # I: the installed files still there, the data dir, processes, mounts
  local i=$1
  comm -12 "$PODS_DIR/files$i.before" <(find "$PODS_DIR/root$i" -type f 2>/dev/null | sort)
  [ -e "${CL_DIR[i]}" ] && echo "data dir ${CL_DIR[i]}"
  awk -v d="${CL_DIR[i]}/" 'index($2, d) == 1 {print "mount " $2}' /proc/mounts
  for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" in *"${CL_DIR[i]}/"*) echo "process ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline" | cut -c1-100)" ;; esac
  done
}
cpid_ok() { ! kill -0 "$CPID" 2>/dev/null; }
echo "# agent's files before uninstall: $(sed "s|$R1/||" "$PODS_DIR/files1.before" | tr '\n' ' ')"
echo "# agent's processes before: k3c ${CL_PID[1]}, container $CPID, $(pods_shim_pids | wc -l) shim(s); p-own's netns ${PNS:-not found}"
check "k3c-agent-uninstall.sh runs (node 1)" uninstall_on 1 "$R1/bin/k3c-agent-uninstall.sh"
if wait_for 10 pods__gone "${CL_PID[1]}"; then
  wait "${CL_PID[1]}" 2>/dev/null
  CL_PID[1]=
  ok "agent uninstalled: its k3c ended"
else
  fail "agent uninstalled: its k3c (pid ${CL_PID[1]}) ended"
fi
left=$(left_of 1)
check "agent uninstalled: its files, data dir, mounts, k3c, containerd and shims gone" test -z "$left"
[ -n "$left" ] && printf '%s\n' "$left" | sed 's/^/#   left: /'
check "agent uninstalled: p-own's container (pid $CPID) ended" cpid_ok
check "agent uninstalled: p-own's network namespace ${PNS:-(not found)} removed" test -n "$PNS" -a ! -e "$PNS"
check "agent uninstalled: the server still runs (pid ${CL_PID[0]})" kill -0 "${CL_PID[0]}"
echo "# server's files before uninstall: $(sed "s|$R0/||" "$PODS_DIR/files0.before" | tr '\n' ' ')"
check "k3c-uninstall.sh runs (node 0)" uninstall_on 0 "$R0/bin/k3c-uninstall.sh"
spid=${CL_PID[0]}
if wait_for 10 pods__gone "$spid"; then
  wait "$spid" 2>/dev/null
  CL_PID[0]=
  ok "server uninstalled: its k3c (pid $spid) ended"
else
  fail "server uninstalled: its k3c (pid $spid) ended"
fi
left=$(left_of 0)
check "server uninstalled: its files, data dir and process gone" test -z "$left"
[ -n "$left" ] && printf '%s\n' "$left" | sed 's/^/#   left: /'
echo "# whole test: $(secs_since "$T0") s"
done_testing
