#!/usr/bin/env bash
# The cluster DNS end to end (root): one `k3c server` with its agent, which
# answers on --cluster-dns (10.43.0.10) and forwards other names to a fake
# upstream this test runs on 127.0.0.2:53 (given through --resolv-conf: no
# internet here). From a busybox pod: the pod's resolv.conf, nslookup of
# kubernetes.default (the API's ClusterIP), a ClusterIP service by short
# name and FQDN, a headless service giving its ready pod IPs, an
# ExternalName giving its CNAME, a missing name giving NXDOMAIN, a name
# outside the cluster forwarded, and a busybox httpd reached (nc) at the
# address its headless service name and its pod DNS record resolve to
# (there is no service proxy yet, so a ClusterIP carries no traffic; and
# busybox-static's wget segfaults in this image, even on an address, so
# the pod resolves with nslookup and speaks HTTP with nc). From the
# host: SRV and PTR over UDP and TCP, AAAA NODATA. Then a `k3c agent` joined
# with the token to a server without agent: its DNS watches over HTTPS with
# the node's credentials.
# Run under `flock /run/k3c-e2e.lock`. About a minute.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/pods_lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
K3C=${K3C_BIN:-$B/k3c}
IMAGE=docker.io/library/busybox:e2e
DNS=10.43.0.10
UPSTREAM=127.0.0.2

skip_all() { echo "1..1"; echo "ok 1 - dns e2e # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (containerd, cgroups, CNI, port 53)"
for bin in containerd runc busybox kubectl; do
  command -v "$bin" >/dev/null || skip_all "$bin is not installed (scripts/deps.sh test group)"
done
[ -x "$K3C" ] || { echo "1..1"; echo "not ok 1 - $K3C is not built"; exit 1; }

upstream_pid=
on_exit() {
  [ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null && wait "$upstream_pid" 2>/dev/null
  if [ "$tap__failed" != 0 ] && [ -n "${PODS_DIR:-}" ] && [ -d "$PODS_DIR" ]; then
    echo "# pods:"
    kc get pods -o wide 2>&1 | sed 's/^/#   /'
    echo "# server log (dns and errors):"
    grep -E 'dns|ERROR' "$PODS_DIR/server.log" 2>/dev/null | tail -n 20 | sed 's/^/#   /'
    echo "# client log:"
    kc logs dnsclient 2>&1 | tail -n 60 | sed 's/^/#   /'
  fi
  pods_cleanup
}
trap 'exit 143' TERM INT HUP
trap on_exit EXIT

pods_prepare k3c-dns "$IMAGE"

# --- the fake upstream: outside.example A 198.51.100.7, else NXDOMAIN; counts queries ---
cat >"$PODS_DIR/upstream.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
log = open(sys.argv[2], "a", buffering=1)
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    i, n = 12, []
    while q[i]:
        n.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace")); i += 1 + q[i]
    name = ".".join(n).lower(); qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    qend = i + 5
    log.write("%s %d\n" % (name, qtype))
    hit = name == "outside.example"
    flags = 0x8180 if hit else 0x8183
    an = 1 if hit and qtype == 1 else 0
    r = q[:2] + struct.pack(">HHHHH", flags, 1, an, 0, 0) + q[12:qend]
    if an:
        r += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("198.51.100.7")
    s.sendto(r, peer)
EOF
printf 'nameserver %s\n' "$UPSTREAM" >"$PODS_DIR/resolv.conf"
/usr/bin/python3 "$PODS_DIR/upstream.py" "$UPSTREAM" "$PODS_DIR/upstream.log" &
upstream_pid=$!

# --- the node and its DNS ---
pods_server_start --resolv-conf "$PODS_DIR/resolv.conf"
wait_for 60 pods_ready_or_dead
kill -0 "$PODS_SERVER_PID" 2>/dev/null || bail "k3c server runs" "$(tail -n 5 "$PODS_DIR/server.log")"
pods_node_ready || bail "node $PODS_NODE Ready within 60 s"
expect_output "the agent logs its DNS on $DNS:53 with 1 upstream" \
  "cluster DNS on $DNS:53 .*1 upstream" grep 'cluster DNS on' "$PODS_DIR/server.log"
expect_output "$DNS is on k3c-dns0" "$DNS/32" ip -o addr show dev k3c-dns0
expect_output "Service kube-system/kube-dns has ClusterIP $DNS, no selector, node-local" \
  "^$DNS <none> true dns:53/UDP,dns-tcp:53/TCP,metrics:9153/TCP,$" \
  kc -n kube-system get svc kube-dns -o \
  'jsonpath={.spec.clusterIP} {.spec.selector}{"<none>"} {.metadata.annotations.k3c\.io/node-local} {range .spec.ports[*]}{.name}:{.port}/{.protocol},{end}'

# host-side lookups (busybox nslookup asks A and AAAA)
hns() { timeout 10 busybox nslookup "$@" 2>&1; }
expect_output "host: kubernetes.default.svc.cluster.local is 10.43.0.1" \
  "Address: 10\.43\.0\.1$" hns kubernetes.default.svc.cluster.local "$DNS"

# --- the workloads ---
kc apply -f - >/dev/null <<EOF || bail "apply the workloads"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: $IMAGE
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'mkdir -p /www && echo "hello from \$(hostname)" >/www/index.html && exec httpd -f -p 8080 -h /www']
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: outside.example
EOF
two_ready() {
  [ "$(kc get endpointslices -l kubernetes.io/service-name=web-headless -o \
    'jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]} {end}' | wc -w)" = 2 ]
}
wait_for 90 two_ready || bail "the headless service has 2 ready endpoints within 90 s"
pod_ips=$(kc get pods -l app=web -o 'jsonpath={.items[*].status.podIP}')
web_ip=$(kc get svc web -o 'jsonpath={.spec.clusterIP}')
first_ip=${pod_ips%% *}
echo "# web pods: $pod_ips; web ClusterIP $web_ip"

# --- from a pod ---
kc apply -f - >/dev/null <<EOF || bail "create the client pod"
apiVersion: v1
kind: Pod
metadata: {name: dnsclient}
spec:
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command:
    - sh
    - -c
    - |
      echo "== resolv.conf"; cat /etc/resolv.conf
      for n in kubernetes.default.svc.cluster.local web web.default.svc.cluster.local \
               web-headless.default.svc.cluster.local ext.default.svc.cluster.local \
               nope.default.svc.cluster.local outside.example; do
        echo "== nslookup \$n"; nslookup "\$n" 2>&1; echo "rc=\$?"
      done
      # busybox-static's wget crashes in this image (even on an address) and
      # its resolver crashes on any name: busybox nslookup (our DNS) resolves,
      # nc speaks HTTP to the address
      first() { nslookup "\$1" 2>/dev/null | awk '/^Address: / && !/:53\$/ {print \$2; exit}'; }
      a=\$(first web-headless.default.svc.cluster.local)
      echo "== http headless"; echo "addr=\$a"; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 "\$a" 8080 2>&1; echo "rc=\$?"
      a=\$(first ${first_ip//./-}.default.pod.cluster.local)
      echo "== http pod record"; echo "addr=\$a"; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 "\$a" 8080 2>&1; echo "rc=\$?"
      echo "== done"
      exec sleep 3600
EOF
client_done() { kc logs dnsclient 2>/dev/null | grep -q '^== done'; }
wait_for 90 client_done || bail "the client pod ran its lookups within 90 s" "$(kc logs dnsclient 2>&1 | tail -n 20)"
kc logs dnsclient >"$PODS_DIR/client.log" 2>&1
# section NAME: the client's output between "== NAME" and the next "=="
section() { awk -v h="== $1" '$0 == h {on = 1; next} /^== / {on = 0} on' "$PODS_DIR/client.log"; }

expect_output "pod resolv.conf: nameserver $DNS" "^nameserver $DNS$" section resolv.conf
expect_output "pod resolv.conf: search default.svc.cluster.local svc.cluster.local cluster.local" \
  "^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$" section resolv.conf
expect_output "pod resolv.conf: options ndots:5" "^options .*ndots:5" section resolv.conf
expect_output "pod: kubernetes.default.svc.cluster.local is 10.43.0.1" \
  "Address: 10\.43\.0\.1$" section "nslookup kubernetes.default.svc.cluster.local"
expect_output "pod: short name web is its ClusterIP $web_ip (search domains)" \
  "Address: ${web_ip//./\\.}$" section "nslookup web"
expect_output "pod: web.default.svc.cluster.local is its ClusterIP $web_ip" \
  "Address: ${web_ip//./\\.}$" section "nslookup web.default.svc.cluster.local"
headless=$(section "nslookup web-headless.default.svc.cluster.local" | awk '/^Address: 10\.42\./ {print $2}' | sort | tr '\n' ' ')
want=$(printf '%s\n' $pod_ips | sort | tr '\n' ' ')
check "pod: the headless service gives its 2 ready pod IPs ($headless)" test "$headless" = "$want"
expect_output "pod: ExternalName ext gives CNAME outside.example" \
  "canonical name = outside\.example" section "nslookup ext.default.svc.cluster.local"
expect_output "pod: ExternalName ext also gives the target's address 198.51.100.7 (upstream)" \
  "Address: 198\.51\.100\.7$" section "nslookup ext.default.svc.cluster.local"
expect_output "pod: a missing service is NXDOMAIN" \
  "NXDOMAIN" section "nslookup nope.default.svc.cluster.local"
expect_output "pod: outside.example is forwarded to the upstream (198.51.100.7)" \
  "Address: 198\.51\.100\.7$" section "nslookup outside.example"
check "the upstream saw outside.example" grep -q '^outside.example 1$' "$PODS_DIR/upstream.log"
check "the upstream never saw a cluster.local name" \
  sh -c "! grep -q 'cluster\.local' '$PODS_DIR/upstream.log'"
expect_output "pod: web-headless.default.svc.cluster.local resolves to a web pod" \
  "^addr=(${pod_ips// /|})$" section "http headless"
expect_output "pod: HTTP to that address on 8080 reaches httpd" \
  "^hello from web-" section "http headless"
expect_output "pod: ${first_ip//./-}.default.pod.cluster.local resolves to $first_ip" \
  "^addr=${first_ip//./\\.}$" section "http pod record"
expect_output "pod: HTTP to the pod record's address reaches httpd" \
  "^hello from web-" section "http pod record"

# --- from the host: SRV, PTR, TCP ---
q() { # q NAME TYPE [tcp]: "rcode answer-rdata..." through python's socket
  /usr/bin/python3 - "$DNS" "$@" <<'EOF'
import socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], {"A": 1, "PTR": 12, "SRV": 33, "AAAA": 28}[sys.argv[3]]
tcp = len(sys.argv) > 4
qn = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
m = struct.pack(">HHHHHH", 7, 0x100, 1, 0, 0, 0) + qn + struct.pack(">HH", qtype, 1)
if tcp:
    s = socket.create_connection((server, 53), timeout=5)
    s.sendall(struct.pack(">H", len(m)) + m)
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
        d = s.recv(4096)
        if not d: break
        buf += d
    r = buf[2:]
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
    s.sendto(m, (server, 53)); r = s.recv(4096)
def rname(o):
    out = []
    while True:
        l = r[o]
        if l & 0xc0 == 0xc0:
            return ".".join(out + [rname(((l & 0x3f) << 8) | r[o + 1])[0]]).strip("."), o + 2
        if l == 0: return ".".join(out), o + 1
        out.append(r[o + 1:o + 1 + l].decode()); o += 1 + l
flags, qd, an = struct.unpack(">HHH", r[2:8])
o = 12
for _ in range(qd): o = rname(o)[1] + 4
res = ["rcode=%d" % (flags & 15)]
for _ in range(an):
    _, o = rname(o); t, c, ttl, l = struct.unpack(">HHIH", r[o:o + 10]); o += 10
    if t == 1: res.append(socket.inet_ntoa(r[o:o + 4]))
    elif t == 12: res.append(rname(o)[0])
    elif t == 33: p, w, port = struct.unpack(">HHH", r[o:o + 6]); res.append("%d:%s" % (port, rname(o + 6)[0]))
    o += l
print(" ".join(res))
EOF
}
expect_output "host: SRV _http._tcp.web.default.svc.cluster.local is port 80 of web" \
  "^rcode=0 80:web\.default\.svc\.cluster\.local$" q _http._tcp.web.default.svc.cluster.local SRV
expect_output "host: SRV _http._tcp.web-headless gives one record per pod" \
  "^rcode=0 8080:[0-9-]+\.web-headless\.default\.svc\.cluster\.local 8080:[0-9-]+\.web-headless" \
  q _http._tcp.web-headless.default.svc.cluster.local SRV
rev=$(echo "$web_ip" | awk -F. '{print $4"."$3"."$2"."$1}')
expect_output "host: PTR of $web_ip is web.default.svc.cluster.local" \
  "^rcode=0 web\.default\.svc\.cluster\.local$" q "$rev.in-addr.arpa" PTR
expect_output "host: over TCP, kubernetes.default.svc.cluster.local is 10.43.0.1" \
  "^rcode=0 10\.43\.0\.1$" q kubernetes.default.svc.cluster.local A tcp
expect_output "host: AAAA of an IPv4 service is NODATA (NOERROR, no answer)" \
  "^rcode=0$" q web.default.svc.cluster.local AAAA

# a figure: sequential UDP queries, one at a time (ASan build)
rate=$(/usr/bin/python3 - "$DNS" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
qn = b"".join(bytes([len(l)]) + l.encode() for l in "kubernetes.default.svc.cluster.local".split(".")) + b"\0"
n, ok, t0 = 2000, 0, time.time()
for i in range(n):
    s.sendto(struct.pack(">HHHHHH", i, 0x100, 1, 0, 0, 0) + qn + struct.pack(">HH", 1, 1), (sys.argv[1], 53))
    try:
        r = s.recv(512)
        ok += struct.unpack(">H", r[:2])[0] == i and r[7] == 1
    except socket.timeout:
        pass
print("%d %d %.0f" % (n, ok, n / (time.time() - t0)))
PY
)
echo "# $rate (queries, answered, queries/s one at a time)"
check "host: 2000 queries one after another all answered (${rate##* }/s)" test "${rate% *}" = "2000 2000"

# --- a joined `k3c agent`: the same DNS over HTTPS with the node's credentials ---
pods_server_stop 30 || fail "the server stopped within 30 s"
S2=$PODS_DIR/s2
A2=$PODS_DIR/a2
mkdir -p "$S2" "$A2/agent/images"
KC2=$S2/kubeconfig.yaml
"$K3C" server --config /dev/null --data-dir "$S2" --https-listen-port "$PODS_PORT" \
  --bind-address 127.0.0.1 --write-kubeconfig "$KC2" --disable-agent >>"$S2/server.log" 2>&1 &
PODS_SERVER_PID=$!
kc2() { timeout 30 kubectl --kubeconfig "$KC2" --request-timeout=20s "$@"; }
api_up() { kc2 get --raw /readyz; }
wait_for 30 api_up || bail "a server without agent answers" "$(tail -n 5 "$S2/server.log")"
pods__agent_dirs="$pods__agent_dirs $A2"
"$K3C" agent --config /dev/null --data-dir "$A2" --server "https://127.0.0.1:$PODS_PORT" \
  --token "$(cat "$S2/server/node-token")" --node-name "$PODS_NODE-j" --cgroup-root "/$PODS_CG" \
  --kubelet-port 0 --resolv-conf "$PODS_DIR/resolv.conf" >>"$A2/agent.log" 2>&1 &
PODS_AGENT_PID=$!
dns_up() { grep -q 'cluster.local answered from' "$A2/agent.log"; }
wait_for 60 dns_up || bail "the joined agent's DNS has its caches within 60 s" "$(grep -E 'dns|ERROR' "$A2/agent.log" | tail -n 5)"
expect_output "joined agent: kubernetes.default.svc.cluster.local is 10.43.0.1" \
  "Address: 10\.43\.0\.1$" hns kubernetes.default.svc.cluster.local "$DNS"
kc2 create service clusterip joined-svc --tcp=80:80 >/dev/null || fail "create service joined-svc"
joined_ip=$(kc2 get svc joined-svc -o 'jsonpath={.spec.clusterIP}')
has_joined() { hns joined-svc.default.svc.cluster.local "$DNS" | grep -q "Address: $joined_ip$"; }
wait_for 10 has_joined
expect_output "joined agent: a new service resolves within 10 s ($joined_ip, watched over HTTPS)" \
  "Address: ${joined_ip//./\\.}$" hns joined-svc.default.svc.cluster.local "$DNS"
expect_output "joined agent: outside.example is forwarded" \
  "Address: 198\.51\.100\.7$" hns outside.example "$DNS"
check "joined agent: no forbidden watches in its log" sh -c "! grep -qi forbidden '$A2/agent.log'"
pods_agent_stop 30 || fail "the joined agent stopped within 30 s"
if grep -qE "AddressSanitizer|runtime error" "$PODS_DIR/server.log" "$S2/server.log" "$A2/agent.log"; then
  fail "no sanitizer reports in the logs" \
    "$(grep -hE -A5 "AddressSanitizer|runtime error" "$PODS_DIR/server.log" "$S2/server.log" "$A2/agent.log" | head -n 30)"
else
  ok "no sanitizer reports in the logs"
fi

done_testing
