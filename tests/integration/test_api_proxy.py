"""The proxy subresources with real kubectl (issue #13): nodes/proxy to a fake kubelet
(a TLS server of this test that asks for a client certificate of the cluster: the API
server must present its kubelet one, CN system:kube-apiserver, and not forward the user's
Authorization), nodes/proxy to another port of the node, services/proxy through a
selector-less Service's Endpoints (port by number, by name, the https: scheme), pods/proxy
to a pod's IP and first containerPort, upstream's errors (404, 503 "no endpoints available
for service", "no service port 81 found", "invalid service request", 500 "error trying to
reach service"), the 301 of an empty path, method, query and body passed on, a 6 MiB
answer streamed intact, a chunked answer, a WebSocket-style upgrade relayed both ways, RBAC
on nodes/proxy and services/proxy verbs, and `kubectl proxy` in front of it all."""
import glob
import hashlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap, free_port, wait_until  # noqa: E402

t = Tap()
srv = Server().start()

BIG = os.urandom(6 << 20)


def local_ip():
    """A non-loopback address of this machine (Endpoints may not hold loopback ones)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        return s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG)
            return
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"one ", b"two ", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/upgrade" and self.headers.get("Upgrade"):
            self.send_response(101)
            self.send_header("Upgrade", self.headers.get("Upgrade"))
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            data = self.connection.recv(100)
            self.connection.sendall(b"echo:" + data)
            self.close_connection = True
            return
        peer = None
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                peer = dict(x[0] for x in cert["subject"]).get("commonName")
        out = json.dumps({"method": self.command, "path": self.path, "peer": peer,
                          "server": self.server.name,
                          "authorization": self.headers.get("Authorization"),
                          "x-test": self.headers.get("X-Test"),
                          "body": body.decode(errors="replace")}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer


def serve(name, tls=False):
    s = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Echo)
    s.name = name
    if tls:
        key, crt = os.path.join(srv.tmp, name + ".key"), os.path.join(srv.tmp, name + ".crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=fake-kubelet"], check=True,
                       capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        for ca in glob.glob(os.path.join(srv.data_dir, "server", "**", "*ca.crt"), recursive=True):
            ctx.load_verify_locations(ca)
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


kubelet = serve("kubelet", tls=True)
other = serve("other")
web = serve("web")
ip = local_ip()


def kc(*args, **kw):
    return srv.kubectl(*args, **kw)


def apply(obj):
    return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig, "apply", "-f", "-"],
                          input=json.dumps(obj), capture_output=True, text=True, timeout=60)


def raw(path, *extra):
    r = kc("get", "--raw", path, *extra)
    try:
        return r, json.loads(r.stdout)
    except ValueError:
        return r, None


# ---- nodes/proxy ----
r = apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fake-1"}})
t.ok(r.returncode == 0, "Node fake-1 created", r.stderr)
status = {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                     "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.server_port}}}}
r = kc("patch", "node", "fake-1", "--subresource=status", "--type=merge", "-p", json.dumps(status))
t.ok(r.returncode == 0, "its status names the fake kubelet's address and port", r.stderr)

for path in ("/stats/summary", "/pods", "/healthz"):
    r, got = raw("/api/v1/nodes/fake-1/proxy" + path)
    t.ok(got and got["path"] == path and got["method"] == "GET" and got["server"] == "kubelet",
         "kubectl get --raw nodes/fake-1/proxy%s reaches the kubelet's %s" % (path, path),
         r.stdout + r.stderr)
r, got = raw("/api/v1/nodes/fake-1/proxy/stats/summary?only_cpu_and_memory=true")
t.ok(got and got["path"] == "/stats/summary?only_cpu_and_memory=true", "the query goes on",
     r.stdout + r.stderr)
t.ok(got and got["peer"] == "system:kube-apiserver",
     "the API server presents its kubelet client certificate (CN system:kube-apiserver)",
     r.stdout)

tok_path = os.path.join(srv.tmp, "body.json")
with open(tok_path, "w") as f:
    f.write('{"hello": "kubelet"}')
r = kc("create", "--raw", "/api/v1/nodes/fake-1/proxy/run/default/p/c?cmd=ls", "-f", tok_path)
got = json.loads(r.stdout) if r.returncode == 0 else None
t.ok(got and got["method"] == "POST" and got["body"] == '{"hello": "kubelet"}' and
     got["path"] == "/run/default/p/c?cmd=ls", "POST with its body and query goes on",
     r.stdout + r.stderr)

status_, hdrs, body = srv.request("GET", "/api/v1/nodes/fake-1/proxy/x",
                                  headers={"X-Test": "passed", "Authorization": "Bearer secret"})
got = json.loads(body) if status_ == 200 else {}
t.ok(got.get("x-test") == "passed" and got.get("authorization") is None and
     hdrs.get("x-upstream") == "yes" and hdrs.get("content-type") == "application/json",
     "end-to-end headers pass both ways, Authorization is not forwarded", (status_, hdrs, body))
status_, hdrs, body = srv.request("DELETE", "/api/v1/nodes/fake-1/proxy/thing")
t.ok(status_ == 200 and json.loads(body)["method"] == "DELETE", "DELETE goes on", body)

r, got = raw("/api/v1/nodes/fake-1:%d/proxy/elsewhere" % other.server_port)
t.ok(got and got["server"] == "other" and got["path"] == "/elsewhere",
     "nodes/fake-1:<port>/proxy reaches that port of the node over plain HTTP",
     r.stdout + r.stderr)

r = kc("get", "--raw", "/api/v1/nodes/nope/proxy/healthz")
t.ok(r.returncode != 0 and 'nodes "nope" not found' in r.stderr, "unknown node: NotFound",
     r.stderr)
status_, hdrs, body = srv.request("GET", "/api/v1/nodes/fake-1/proxy")
t.ok(status_ == 301 and hdrs.get("location") == "/api/v1/nodes/fake-1/proxy/",
     "an empty proxy path is redirected to one ending in /", (status_, hdrs))

status_, _, body = srv.request("GET", "/api/v1/nodes/fake-1/proxy/big", timeout=60)
t.ok(status_ == 200 and hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest(),
     "a 6 MiB answer arrives intact", (status_, len(body)))
status_, _, body = srv.request("GET", "/api/v1/nodes/fake-1/proxy/chunked")
t.ok(status_ == 200 and body == b"one two three", "a chunked answer is relayed", body)

# ---- services/proxy ----
if not ip:
    t.skip("services/proxy and pods/proxy", "this machine has no non-loopback IPv4 address")
else:
    apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080},
                              {"name": "tls", "port": 443, "targetPort": 8443}]}})
    r = apply({"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": "web", "namespace": "default"},
               "subsets": [{"addresses": [{"ip": ip}],
                            "ports": [{"name": "http", "port": web.server_port},
                                      {"name": "tls", "port": kubelet.server_port}]}]})
    t.ok(r.returncode == 0, "Service web with Endpoints at %s" % ip, r.stderr)
    for sid in ("web:80", "web:http", "http:web:http"):
        r, got = raw("/api/v1/namespaces/default/services/%s/proxy/hello?a=1&b=2" % sid)
        t.ok(got and got["server"] == "web" and got["path"] == "/hello?a=1&b=2",
             "services/%s/proxy reaches the endpoint's port" % sid, r.stdout + r.stderr)
    r, got = raw("/api/v1/namespaces/default/services/https:web:443/proxy/secure")
    t.ok(got and got["server"] == "kubelet" and got["peer"] is None and got["path"] == "/secure",
         "https:web:443 speaks TLS to the endpoint, without the kubelet client certificate",
         r.stdout + r.stderr)
    r = kc("get", "--raw", "/api/v1/namespaces/default/services/web:81/proxy/")
    t.ok(r.returncode != 0 and 'no service port 81 found for service "web"' in r.stderr,
         "a port number the service lacks: 503 in upstream's words", r.stderr)
    apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty", "namespace": "default"},
           "spec": {"ports": [{"port": 80}]}})
    apply({"apiVersion": "v1", "kind": "Endpoints",
           "metadata": {"name": "empty", "namespace": "default"}, "subsets": []})
    r = kc("get", "--raw", "/api/v1/namespaces/default/services/empty/proxy/")
    t.ok(r.returncode != 0 and "ServiceUnavailable" in r.stderr and
         'no endpoints available for service "empty"' in r.stderr,
         "no ready endpoint: 503 no endpoints available for service", r.stderr)
    r = kc("get", "--raw", "/api/v1/namespaces/default/services/a:b:c:d/proxy/")
    t.ok(r.returncode != 0 and 'invalid service request "a:b:c:d"' in r.stderr,
         "a malformed id: 400 invalid service request", r.stderr)
    r = kc("get", "--raw", "/api/v1/namespaces/default/services/ghost/proxy/")
    t.ok(r.returncode != 0 and 'endpoints "ghost" not found' in r.stderr,
         "a service without Endpoints: NotFound", r.stderr)

    # the upgrade relay
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s = srv.ssl_context().wrap_socket(c, server_hostname="127.0.0.1")
    s.sendall(b"GET /api/v1/namespaces/default/services/web:http/proxy/upgrade HTTP/1.1\r\n"
              b"Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        piece = s.recv(4096)
        if not piece:
            break
        head += piece
    s.sendall(b"ping")
    rest = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
    deadline = time.time() + 10
    while b"echo:ping" not in rest and time.time() < deadline:
        piece = s.recv(4096)
        if not piece:
            break
        rest += piece
    s.close()
    t.ok(head.startswith(b"HTTP/1.1 101") and b"echo:ping" in rest,
         "an Upgrade request is relayed (101, then bytes both ways)", head + rest)

    # ---- pods/proxy ----
    apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox",
                                    "ports": [{"containerPort": web.server_port}]}]}})
    r = kc("get", "--raw", "/api/v1/namespaces/default/pods/p/proxy/x")
    t.ok(r.returncode != 0 and "address not allowed" in r.stderr,
         "pods/proxy of a pod without an IP: 400 address not allowed", r.stderr)
    r = kc("patch", "pod", "p", "--subresource=status", "--type=merge", "-p",
           json.dumps({"status": {"podIP": ip, "podIPs": [{"ip": ip}]}}))
    r, got = raw("/api/v1/namespaces/default/pods/p/proxy/index.html")
    t.ok(got and got["server"] == "web" and got["path"] == "/index.html",
         "pods/p/proxy reaches the pod IP at its first containerPort", r.stdout + r.stderr)
    r, got = raw("/api/v1/namespaces/default/pods/p:%d/proxy/other" % other.server_port)
    t.ok(got and got["server"] == "other", "pods/p:<port>/proxy takes that port",
         r.stdout + r.stderr)

    # ---- kubectl proxy in front ----
    kp_port = free_port()
    env = dict(os.environ, HOME=srv.tmp)
    kp = subprocess.Popen(["kubectl", "--kubeconfig", srv.kubeconfig, "proxy", "--port",
                           str(kp_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=env)
    out = {}

    def through_kubectl_proxy():
        try:
            r = subprocess.run(["curl", "-s", "-f", "http://127.0.0.1:%d/api/v1/namespaces/"
                                "default/services/web:http/proxy/via-kubectl-proxy" % kp_port],
                               capture_output=True, text=True, timeout=10)
            out["body"] = r.stdout
            return r.returncode == 0
        except subprocess.TimeoutExpired:
            return False

    ok = wait_until(through_kubectl_proxy, timeout=15)
    kp.terminate()
    kp.wait(10)
    t.ok(ok and json.loads(out["body"])["path"] == "/via-kubectl-proxy",
         "kubectl proxy -> services/proxy -> the endpoint", out)

# ---- unreachable ----
kubelet.shutdown()
kubelet.socket.close()
r = kc("get", "--raw", "/api/v1/nodes/fake-1/proxy/healthz")
t.ok(r.returncode != 0 and "error trying to reach service: dial tcp 127.0.0.1:%d: connect: "
     "connection refused" % kubelet.server_port in r.stderr, "a kubelet that is down: error trying to reach service",
     r.stderr)

# ---- RBAC ----
apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
       "metadata": {"name": "svc-proxy-get", "namespace": "default"},
       "rules": [{"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"]}]})
apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
       "metadata": {"name": "svc-proxy-get", "namespace": "default"},
       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                   "name": "svc-proxy-get"},
       "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
r = kc("--as", "alice", "get", "--raw", "/api/v1/nodes/fake-1/proxy/healthz")
t.ok(r.returncode != 0 and 'cannot get resource "nodes/proxy"' in r.stderr,
     "RBAC: alice may not get nodes/proxy", r.stderr)
if ip:
    ok = wait_until(lambda: kc("--as", "alice", "get", "--raw", "/api/v1/namespaces/default/"
                               "services/web:http/proxy/rbac").returncode == 0, timeout=10)
    t.ok(ok, "RBAC: alice's Role grants get on services/proxy")
    r = kc("--as", "alice", "create", "--raw", "/api/v1/namespaces/default/services/web:http/"
           "proxy/rbac", "-f", tok_path)
    t.ok(r.returncode != 0 and 'cannot create resource "services/proxy"' in r.stderr,
         "RBAC: but not create (POST)", r.stderr)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
