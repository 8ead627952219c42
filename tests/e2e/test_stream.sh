#!/usr/bin/env bash
# kubectl exec, attach, cp and port-forward end to end (root): one
# `k3c server` with its agent and busybox pods, real kubectl 1.32 and the
# python client. kubectl's WebSocket v5.channel.k8s.io exec without stdin
# is relayed to containerd as v4.channel.k8s.io; with stdin, for attach
# and for the port-forward tunnel its WebSocket attempt is refused by the
# kubelet with 400 and kubectl falls back to SPDY/3.1. Every hop (API server, kubelet)
# relays bytes to containerd's streaming server; the python client's
# v4.channel.k8s.io WebSocket is relayed as it is (docs/AGENT.md).
# Checks: exec output and exit codes, the protocol kubectl ends up with,
# stdin through exec -i (a few MiB counted), a TTY through a
# pseudo-terminal (tty, the window size), attach with stdin and without,
# cp both ways, port-forward to busybox httpd (a GET, 100 MiB by sha256,
# two streams at once), python stream() with the error channel's status.
# Part 2: `k3c server --disable-agent` and a separate `k3c agent` (exec -i,
# port-forward). The harness is tests/e2e/pods_lib.sh (ends by pid what the
# run started, removes what it made). Every wait is bounded; about three
# minutes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e
PY=/usr/bin/python3

skip_all() { echo "1..1"; echo "ok 1 - stream e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI)"
for bin in containerd runc busybox kubectl curl sha256sum; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

pf_pids=
on_exit() {
  for p in $pf_pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    echo "# server log (last 30 lines):"
    tail -n 30 "$PODS_DIR/server.log" 2>/dev/null | sed 's/^/#   /'
  fi
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_init k3c-stream || bail "make the data dir"
pods_snapshot
KPORT=$(pods_free_port) || bail "pick a kubelet port"
pods_image "$IMAGE" || bail "busybox image"
pods_server_start --kubelet-port "$KPORT"
wait_for 60 pods_ready_or_dead
pods_node_ready || bail "node Ready" "$(tail -n 5 "$PODS_DIR/server.log")"
ok "node Ready"

kc apply -f - >/dev/null <<EOF || bail "create the pods"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello-www > /www/index.html && exec httpd -f -p 80 -h /www"]
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    stdin: true
    command: ["sh", "-c", "while read l; do echo got:\$l; done; exec sleep 3600"]
EOF
running() { [ "$(kc get pod "$1" -o 'jsonpath={.status.phase}')" = Running ]; }
wait_for 60 running p || bail "pod p Running"
wait_for 30 running reader || bail "pod reader Running"
ok "pods Running"

# ---- exec ----
expect_output "exec -- echo hi prints hi" '^hi$' kc exec p -- echo hi
expect_status "exec -- sh -c 'exit 3' exits 3" 3 kc exec p -- sh -c 'exit 3'
# the path taken (kubectl -v=6 logs its requests and the subprotocol):
# without stdin one WebSocket v5 upgrade and no SPDY retry; with stdin the
# WebSocket attempt is refused and the SPDY/3.1 POST is upgraded
v6=$(kc exec -v=6 p -- true 2>&1)
if printf '%s' "$v6" | grep -q 'The subprotocol is v5.channel.k8s.io' &&
  ! printf '%s' "$v6" | grep -Eq 'POST https://[^ ]*/pods/p/exec'; then
  ok "exec: kubectl's WebSocket v5 upgrade is served (no SPDY fallback)"
else fail "exec: kubectl's WebSocket v5 upgrade is served (no SPDY fallback)" "$(printf '%s' "$v6" | grep -E 'exec|subprotocol|Error|error' | tail -n 8)"; fi
v6=$(kc exec -i -v=6 p -- true </dev/null 2>&1)
if printf '%s' "$v6" | grep -Eq 'GET https://[^ ]*/pods/p/exec\?' &&
  printf '%s' "$v6" | grep -Eq 'POST https://[^ ]*/pods/p/exec\?[^ ]* 101 Switching Protocols'; then
  ok "exec -i: kubectl's WebSocket attempt is refused and its SPDY/3.1 fallback gets 101"
else fail "exec -i: kubectl's WebSocket attempt is refused and its SPDY/3.1 fallback gets 101" "$(printf '%s' "$v6" | grep -E 'exec|Error|error' | tail -n 8)"; fi
expect_output "exec: stdout and stderr both arrive" '^err,out,$' \
  sh -c "timeout 30 kubectl --kubeconfig '$PODS_KC' exec p -- sh -c 'echo out; echo err >&2' 2>&1 | sort | tr '\\n' ,"
expect_output "stdin piped through exec -i -- cat" '^piped-line$' \
  sh -c "echo piped-line | timeout 30 kubectl --kubeconfig '$PODS_KC' exec -i p -- cat"
head -c $((3 << 20)) /dev/urandom >"$PODS_DIR/blob"
expect_output "exec -i -- wc -c counts 3 MiB of stdin" '^ *3145728$' \
  sh -c "timeout 60 kubectl --kubeconfig '$PODS_KC' exec -i p -- wc -c <'$PODS_DIR/blob'"

# A TTY: kubectl in a pseudo-terminal of 37 rows x 91 columns; the
# container's terminal gets that size through the resize channel. (The
# first resize arrives just after the process starts, as upstream: stty
# waits a moment.)
tty_run() {
  KC="$PODS_KC" RESIZE=${RESIZE:-} timeout 40 "$PY" - "$@" <<'PYEOF'
import os, pty, sys, fcntl, termios, struct, select, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 91, 0, 0))
    os.execvp("kubectl", ["kubectl", "--kubeconfig", os.environ["KC"], "exec", "-it", "p", "--"] + sys.argv[1:])
out = b""
start = time.time()
end = start + 30
resized = not os.environ.get("RESIZE")
while time.time() < end:
    if not resized and time.time() > start + 2.5:
        # the new size reaches kubectl as SIGWINCH, and the container as a resize
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
        resized = True
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.stdout.write("exit=%d\n" % os.waitstatus_to_exitcode(st))
PYEOF
}
expect_output "exec -it: tty prints a /dev/pts device" '^/dev/pts/[0-9]+$' tty_run tty
expect_output "exec -it: the terminal has kubectl's window size (37 91)" '^37 91$' tty_run sh -c 'sleep 1; stty size'
RESIZE=1 expect_output "exec -it: a resize reaches the container (37 91, then 50 120)" '^37 91
50 120$' tty_run sh -c 'sleep 1; stty size; sleep 4; stty size'

# ---- attach ----
attach_out=$( (echo ping; sleep 3) | timeout 15 kubectl --kubeconfig "$PODS_KC" attach -i reader -c main 2>&1)
if printf '%s' "$attach_out" | grep -q '^got:ping'; then ok "attach -i: the container reads stdin and its output comes back"
else fail "attach -i: the container reads stdin and its output comes back" "$attach_out"; fi
# attach without stdin sees what the container prints (a line written to
# its stdout by an exec). The container has stdin open: containerd's
# WebSocket attach would pass nothing here, so the kubelet refuses v5 for
# attach and kubectl's SPDY/3.1 fallback carries it.
timeout 20 kubectl --kubeconfig "$PODS_KC" -v=6 attach reader -c main >"$PODS_DIR/attach2.log" 2>&1 &
watcher=$!
attached() { grep -q 'attach?[^ ]* 101 Switching Protocols' "$PODS_DIR/attach2.log"; }
seen_line() { grep -q '^got:attach-line$' "$PODS_DIR/attach2.log"; }
wait_for 10 attached
kc exec reader -c main -- sh -c 'echo got:attach-line >/proc/1/fd/1' >/dev/null 2>&1
wait_for 10 seen_line
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
if seen_line; then ok "attach without stdin sees the container's output"
else fail "attach without stdin sees the container's output" "$(grep -v loader.go "$PODS_DIR/attach2.log" | tail -n 8)"; fi

# ---- cp ----
head -c $((1 << 20)) /dev/urandom >"$PODS_DIR/cp-src"
check "cp local -> pod" kc cp "$PODS_DIR/cp-src" default/p:/tmp/cp-dst -c main
expect_output "the copied file's sha256 inside the pod" "^$(sha256sum <"$PODS_DIR/cp-src" | cut -d' ' -f1) " \
  kc exec p -- sha256sum /tmp/cp-dst
check "cp pod -> local" kc cp default/p:/tmp/cp-dst "$PODS_DIR/cp-back" -c main
check "the file copied back is the same" cmp "$PODS_DIR/cp-src" "$PODS_DIR/cp-back"

# ---- port-forward ----
LPORT=$(pods_free_port)
kubectl --kubeconfig "$PODS_KC" port-forward pod/p "$LPORT:80" >"$PODS_DIR/pf.log" 2>&1 &
pf_pids="$pf_pids $!"
listening() { curl -s -o /dev/null "http://127.0.0.1:$LPORT/index.html"; }
wait_for 20 listening
expect_output "port-forward: GET through the local port reaches httpd" '^hello-www$' \
  curl -s --max-time 10 "http://127.0.0.1:$LPORT/index.html"
kc exec p -- sh -c 'dd if=/dev/urandom of=/www/big bs=1048576 count=100 2>/dev/null; dd if=/dev/urandom of=/www/mid bs=1048576 count=20 2>/dev/null'
big_sum=$(kc exec p -- sha256sum /www/big | cut -d' ' -f1)
mid_sum=$(kc exec p -- sha256sum /www/mid | cut -d' ' -f1)
t0=$(now_us)
got=$(curl -s --max-time 120 "http://127.0.0.1:$LPORT/big" | sha256sum | cut -d' ' -f1)
secs=$(secs_since "$t0")
if [ -n "$big_sum" ] && [ "$got" = "$big_sum" ]; then ok "port-forward: 100 MiB by sha256 ($secs s)"
else fail "port-forward: 100 MiB by sha256" "want $big_sum got $got after $secs s" "$(tail -n 5 "$PODS_DIR/pf.log")"; fi
curl -s --max-time 60 "http://127.0.0.1:$LPORT/mid" | sha256sum | cut -d' ' -f1 >"$PODS_DIR/c1" &
c1=$!
curl -s --max-time 60 "http://127.0.0.1:$LPORT/mid" | sha256sum | cut -d' ' -f1 >"$PODS_DIR/c2" &
c2=$!
wait "$c1" "$c2"
if [ -n "$mid_sum" ] && [ "$(cat "$PODS_DIR/c1")" = "$mid_sum" ] && [ "$(cat "$PODS_DIR/c2")" = "$mid_sum" ]; then
  ok "port-forward: two concurrent 20 MiB streams, both by sha256"
else fail "port-forward: two concurrent 20 MiB streams, both by sha256" "want $mid_sum got $(cat "$PODS_DIR/c1") $(cat "$PODS_DIR/c2")"; fi

# ---- errors a user can cause: clear answers, and the server stays up ----
expect_output "exec into an unknown container: upstream's message" 'container nope is not valid for pod p' \
  kc exec p -c nope -- true
expect_output "exec into an unknown pod: NotFound" 'pods "nopod" not found' kc exec nopod -- true
LPORT2=$(pods_free_port)
kubectl --kubeconfig "$PODS_KC" port-forward pod/p "$LPORT2:81" >"$PODS_DIR/pf2.log" 2>&1 &
pf2=$!
pf_pids="$pf_pids $pf2"
listening2() { curl -s -o /dev/null "http://127.0.0.1:$LPORT2/" ; [ $? != 7 ]; }
wait_for 20 listening2
curl -s --max-time 10 -o /dev/null "http://127.0.0.1:$LPORT2/"
sleep 1
expect_output "port-forward to a port nobody listens on: kubectl reports the pod's refusal" \
  'refused|error forwarding|lost connection' cat "$PODS_DIR/pf2.log"
expect_output "the first port-forward still works after that" '^hello-www$' \
  curl -s --max-time 10 "http://127.0.0.1:$LPORT/index.html"

# ---- python client: stream() over WebSocket v4.channel.k8s.io ----
expect_output "python stream(): stdout and the error channel's exit status" '^py-out
returncode=5$' timeout 30 "$PY" - "$PODS_KC" <<'PYEOF'
import sys
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config(config_file=sys.argv[1])
api = client.CoreV1Api()
r = stream(api.connect_get_namespaced_pod_exec, "p", "default",
           command=["sh", "-c", "echo py-out; exit 5"], stderr=True, stdin=False, stdout=True,
           tty=False, _preload_content=False)
r.run_forever(timeout=20)
print(r.read_stdout().strip())
print("returncode=%s" % r.returncode)
PYEOF

# a client that goes away in the middle of a stream
timeout 2 kubectl --kubeconfig "$PODS_KC" exec p -- sleep 30 >/dev/null 2>&1
expect_output "an exec cut by its client leaves the relays serving" '^still-here$' kc exec p -- echo still-here

kc delete pod p reader --wait=false >/dev/null 2>&1
for p in $pf_pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pf_pids=
if pods_server_stop 30; then ok "the server stops by itself on SIGTERM"; else fail "the server stops by itself on SIGTERM"; fi
san=$(grep -E -A8 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$PODS_DIR/server.log" | head -n 30)
if [ -z "$san" ]; then ok "no sanitizer report in the server's log (ASan builds: no leak, no bad access)"
else fail "no sanitizer report in the server's log (ASan builds: no leak, no bad access)" "$san"; fi

# ---- a separate `k3c agent` (its own kubelet API and self-signed serving
# certificate; the API server reaches it over TCP) ----
# (a second server without an agent, in a data dir under the run's, the
# agent's too: cleanup ends and removes both)
S2=$PODS_DIR/s2
A2=$PODS_DIR/a2
mkdir -p "$S2"
KC2=$S2/kubeconfig.yaml
"$K3C" server --config /dev/null --data-dir "$S2" --https-listen-port "$PODS_PORT" \
  --bind-address 127.0.0.1 --write-kubeconfig "$KC2" --disable-agent >>"$S2/server.log" 2>&1 &
PODS_SERVER_PID=$!
kc2() { timeout 30 kubectl --kubeconfig "$KC2" --request-timeout=20s "$@"; }
api_up() { kc2 get --raw /readyz; }
wait_for 30 api_up || bail "second server answers" "$(tail -n 5 "$S2/server.log")"
mkdir -p "$A2/agent/images" && cp "$PODS_DIR"/agent/images/*.tar "$A2/agent/images/" ||
  bail "the agent's images"
KPORT2=$(pods_free_port)
pods_agent_start "$A2" "$KC2" "$PODS_NODE-a" --kubelet-port "$KPORT2" || bail "start the k3c agent"
agent_ready() {
  [ "$(kc2 get node "$PODS_NODE-a" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
wait_for 60 agent_ready || bail "k3c agent's node Ready" "$(tail -n 5 "$A2/agent.log")"
kc2 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: s, image: $IMAGE, imagePullPolicy: Never, command: ["sh", "-c", "mkdir -p /www && echo agent-www > /www/index.html && exec httpd -f -p 80 -h /www"]}
EOF
running2() { [ "$(kc2 get pod solo -o 'jsonpath={.status.phase}')" = Running ]; }
wait_for 60 running2 || fail "pod on the k3c agent Running"
expect_output "exec -i on a \`k3c agent\` node" '^via-agent$' \
  sh -c "echo via-agent | timeout 30 kubectl --kubeconfig '$KC2' exec -i solo -- cat"
LPORT3=$(pods_free_port)
kubectl --kubeconfig "$KC2" port-forward pod/solo "$LPORT3:80" >"$PODS_DIR/pf3.log" 2>&1 &
pf_pids="$pf_pids $!"
listening3() { curl -s -o /dev/null "http://127.0.0.1:$LPORT3/index.html"; }
wait_for 20 listening3
expect_output "port-forward to a pod on a \`k3c agent\` node" '^agent-www$' \
  curl -s --max-time 10 "http://127.0.0.1:$LPORT3/index.html"
for p in $pf_pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pf_pids=
pods_agent_stop 30
pods_server_stop 30
san=$(grep -hE -A8 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$S2/server.log" "$A2/agent.log" | head -n 30)
if [ -z "$san" ]; then ok "no sanitizer report in the agent's and second server's logs"
else fail "no sanitizer report in the agent's and second server's logs" "$san"; fi
done_testing
