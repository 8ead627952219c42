"""API aggregation (issue #20) with real kubectl: an HTTPS "extension API server" in this
test (python ssl + http.server on a non-loopback address of this machine, since Endpoints
may not hold loopback ones; its certificate names <service>.<namespace>.svc and is its own
caBundle) serving metrics.k8s.io/v1beta1 (a NodeMetrics list, as metrics-server would) and
wardle.example.com/v1alpha1 (flunders, as the sample-apiserver). Registered with a
selector-less Service + Endpoints and APIServices, it must be reached through the k3c
server: the request-header client certificate (signed by the CA the ConfigMap
kube-system/extension-apiserver-authentication publishes) and X-Remote-User/-Group headers
of the requester, the client's own X-Remote-* dropped, path and query kept, a watch
streamed, an upgrade relayed; discovery (legacy and aggregated v2) lists the group so `kubectl get flunders`
and `kubectl api-resources` work; the Available condition says Passed, then
FailedDiscoveryCheck once the server stops (and requests get 503 "service unavailable"),
ServiceNotFound, MissingEndpoints and a certificate from another CA refused. And k3c's own
API accepts a front proxy: its request-header certificate with X-Remote-* authenticates as
the named user, without X-Remote-User it gets 401, and those fields from an ordinary client
certificate are ignored."""
import base64
import http.client
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
from kube import Kube  # noqa: E402

NS, SVC = "kube-system", "ext-api"


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


def self_signed(tmp, name, dns):
    cert, key = os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:" + dns],
                   check=True, capture_output=True)
    return cert, key


METRICS_DISCOVERY = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
    "resources": [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
         "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
         "verbs": ["get", "list"]}]}
WARDLE_DISCOVERY = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "wardle.example.com/v1alpha1",
    "resources": [
        {"name": "flunders", "singularName": "flunder", "namespaced": True, "kind": "Flunder",
         "verbs": ["create", "delete", "get", "list", "watch"], "shortNames": ["fl"]},
        {"name": "flunders/status", "singularName": "", "namespaced": True, "kind": "Flunder",
         "verbs": ["get", "update"]}]}
NODE_METRICS = {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": "ext-node-1", "creationTimestamp": "2026-12-03T10:00:00Z"},
                "timestamp": "2026-12-03T10:00:00Z", "window": "10s",
                "usage": {"cpu": "123m", "memory": "456Mi"}}


class Extension:
    """The extension API server; self.seen holds (path with query, headers, peer CN)."""

    def __init__(self, tmp, host, client_ca_file, cert=None):
        self.host = host
        self.cert, self.key = cert or self_signed(tmp, "ext", "%s.%s.svc" % (SVC, NS))
        with open(self.cert, "rb") as f:
            self.ca_b64 = base64.b64encode(f.read()).decode()
        self.seen = []
        self.watch_go = threading.Event()
        self.port = free_port()
        ext = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send_json(self, obj, code=200):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                peer = self.connection.getpeercert() or {}
                cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
                ext.seen.append((self.path, self.headers, cn[0] if cn else None))
                path, _, query = self.path.partition("?")
                if path == "/apis/metrics.k8s.io/v1beta1":
                    self.send_json(METRICS_DISCOVERY)
                elif path == "/apis/wardle.example.com/v1alpha1":
                    self.send_json(WARDLE_DISCOVERY)
                elif path == "/apis/metrics.k8s.io/v1beta1/nodes":
                    self.send_json({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                                    "metadata": {}, "items": [NODE_METRICS]})
                elif path == "/apis/metrics.k8s.io/v1beta1/nodes/ext-node-1":
                    self.send_json(NODE_METRICS)
                elif path.endswith("/flunders/first-flunder/attach") and self.headers.get("Upgrade"):
                    self.send_response(101)
                    self.send_header("Upgrade", self.headers.get("Upgrade"))
                    self.send_header("Connection", "Upgrade")
                    self.end_headers()
                    self.wfile.flush()
                    data = self.connection.recv(100)
                    self.connection.sendall(b"echo:" + data)
                    self.close_connection = True
                elif path == "/apis/wardle.example.com/v1alpha1/namespaces/default/flunders":
                    if "watch=true" in query or "watch=1" in query:
                        self.watch()
                        return
                    self.send_json({"kind": "FlunderList", "apiVersion": "wardle.example.com/v1alpha1",
                                    "metadata": {"resourceVersion": "7"},
                                    "items": [flunder("first-flunder")]})
                else:
                    self.send_json({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                    "reason": "NotFound", "code": 404, "message": "not here"}, 404)

            def watch(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def event(name):
                    line = json.dumps({"type": "ADDED", "object": flunder(name)}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
                try:
                    event("watched-1")
                    ext.watch_go.wait(20)  # the second only once the client has the first
                    event("watched-2")
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer((host, self.port), H)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        ctx.verify_mode = ssl.CERT_REQUIRED  # only the front-proxy client gets in
        ctx.load_verify_locations(client_ca_file)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def flunder(name):
    return {"kind": "Flunder", "apiVersion": "wardle.example.com/v1alpha1",
            "metadata": {"name": name, "namespace": "default",
                         "creationTimestamp": "2026-12-03T10:00:00Z"}, "spec": {}}


def apiservice(group, version, ca_b64, svc=SVC, ns=NS):
    spec = {"group": group, "version": version, "groupPriorityMinimum": 1000,
            "versionPriority": 15, "service": {"namespace": ns, "name": svc}}
    if ca_b64:
        spec["caBundle"] = ca_b64
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "%s.%s" % (version, group)}, "spec": spec}


def main():
    t = Tap()
    ip = local_ip()
    srv = Server().start()
    kube = Kube(t, srv)
    k = kube.run

    def api(method, path, body=None, headers=None):
        st, _, data = srv.request(method, path, body=json.dumps(body) if body is not None else None,
                                  headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        try:
            return st, json.loads(data)
        except ValueError:
            return st, data

    def available(name):
        st, obj = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/" + name)
        for c in (obj.get("status", {}).get("conditions", []) if st == 200 else []):
            if c.get("type") == "Available":
                return c
        return {}

    # ---- what extension servers read at start ----
    cm = {}
    wait_until(lambda: api("GET", "/api/v1/namespaces/kube-system/configmaps/"
                                  "extension-apiserver-authentication")[0] == 200)
    st, cm = api("GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
    data = cm.get("data", {}) if st == 200 else {}
    t.ok(st == 200 and "BEGIN CERTIFICATE" in data.get("client-ca-file", "")
         and "BEGIN CERTIFICATE" in data.get("requestheader-client-ca-file", "")
         and data["client-ca-file"] != data["requestheader-client-ca-file"]
         and json.loads(data.get("requestheader-allowed-names", "null")) == ["system:auth-proxy"]
         and json.loads(data.get("requestheader-username-headers", "null")) == ["X-Remote-User"]
         and json.loads(data.get("requestheader-group-headers", "null")) == ["X-Remote-Group"]
         and json.loads(data.get("requestheader-extra-headers-prefix", "null")) == ["X-Remote-Extra-"],
         "ConfigMap kube-system/extension-apiserver-authentication has the CAs and request-header "
         "settings", cm)
    r = k(["patch", "configmap", "-n", "kube-system", "extension-apiserver-authentication",
           "--type=merge", "-p", json.dumps({"data": {"requestheader-allowed-names": '["mallory"]'}})])

    def allowed_names():
        st_c, o = api("GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
        return o.get("data", {}).get("requestheader-allowed-names") if st_c == 200 else None
    back = wait_until(lambda: allowed_names() == '["system:auth-proxy"]', timeout=15)
    t.ok(r.returncode == 0 and back, "an edit of the ConfigMap is put back", (r.stderr, allowed_names()))
    st1, role = api("GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/"
                           "extension-apiserver-authentication-reader")
    st2, cr = api("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:auth-delegator")
    t.ok(st1 == 200 and role["rules"][0]["resourceNames"] == ["extension-apiserver-authentication"]
         and st2 == 200 and any("tokenreviews" in r.get("resources", []) for r in cr["rules"])
         and any("subjectaccessreviews" in r.get("resources", []) for r in cr["rules"]),
         "the Role extension-apiserver-authentication-reader and ClusterRole system:auth-delegator "
         "that extension servers are bound to exist", (role, cr))
    # ---- the front proxy's headers on k3c's own API (upstream's request-header authenticator) ----
    tls_dir = os.path.join(srv.data_dir, "server", "tls")
    proxy_cert = (os.path.join(tls_dir, "client-auth-proxy.crt"), os.path.join(tls_dir, "client-auth-proxy.key"))

    def review(cert, fields):
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        ctx.load_cert_chain(*cert)
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=20, context=ctx)
        body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        c.putrequest("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(body)))
        for name, value in fields:
            c.putheader(name, value)
        c.endheaders(body.encode())
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data

    st_r, rv = review(proxy_cert, [("X-Remote-User", "jane"), ("X-Remote-Group", "devs"),
                                   ("X-Remote-Group", "ops"), ("X-Remote-Extra-Acme.com%2fProject", "p1")])
    ui = rv.get("status", {}).get("userInfo", {}) if isinstance(rv, dict) else {}
    t.ok(st_r == 201 and ui.get("username") == "jane"
         and ui.get("groups") == ["devs", "ops", "system:authenticated"]
         and ui.get("extra") == {"acme.com/project": ["p1"]},
         "the front-proxy certificate with X-Remote-User/-Group/-Extra-* authenticates as that user",
         (st_r, rv))
    st_r, rv = review(proxy_cert, [])
    t.ok(st_r == 401, "the front-proxy certificate without X-Remote-User: 401", (st_r, rv))
    st_r, rv = review((srv.cert_file, srv.key_file), [("X-Remote-User", "jane")])
    ui = rv.get("status", {}).get("userInfo", {}) if isinstance(rv, dict) else {}
    t.ok(st_r == 201 and ui.get("username") == "system:admin",
         "X-Remote-User from an ordinary client certificate is ignored", (st_r, rv))

    if not ip or st != 200:
        t.skip("the aggregated API server", "no non-loopback address or no ConfigMap")
        kube.finish()
        return
    rh_ca = os.path.join(srv.tmp, "requestheader-ca.crt")
    with open(rh_ca, "w") as f:
        f.write(data["requestheader-client-ca-file"])
    ext = Extension(srv.tmp, ip, rh_ca)

    # ---- registration: a selector-less Service, its Endpoints, the APIServices ----
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": SVC, "namespace": NS},
           "spec": {"ports": [{"name": "https", "port": 443, "targetPort": ext.port}]}}
    eps = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": SVC, "namespace": NS},
           "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": ext.port}]}]}
    docs = [svc, eps, apiservice("metrics.k8s.io", "v1beta1", ext.ca_b64),
            apiservice("wardle.example.com", "v1alpha1", ext.ca_b64)]
    r = k(["apply", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    t.ok(r.returncode == 0 and "apiservice.apiregistration.k8s.io/v1alpha1.wardle.example.com created"
         in r.stdout, "kubectl apply of a Service, Endpoints and two APIServices", r.stdout + r.stderr)
    c = wait_until(lambda: available("v1alpha1.wardle.example.com").get("status") == "True"
                   and available("v1beta1.metrics.k8s.io").get("status") == "True", timeout=30)
    c = available("v1alpha1.wardle.example.com")
    t.ok(c.get("status") == "True" and c.get("reason") == "Passed"
         and c.get("message") == "all checks passed" and c.get("lastTransitionTime"),
         "the Available condition turns True (Passed, all checks passed)", c)
    checks = [s for s in ext.seen if s[0] == "/apis/wardle.example.com/v1alpha1"]
    t.ok(checks and checks[0][2] == "system:auth-proxy"
         and checks[0][1].get("X-Remote-User") == "system:kube-aggregator"
         and checks[0][1].get_all("X-Remote-Group") == ["system:masters"],
         "the discovery check comes with the front-proxy certificate as system:kube-aggregator",
         [(p, dict(h), cn) for p, h, cn in checks[:1]])
    r = k(["get", "apiservice", "v1alpha1.wardle.example.com"])
    t.ok(r.returncode == 0 and r.stdout.split("\n")[1].split()[1:3] == ["kube-system/ext-api", "True"],
         "kubectl get apiservice shows the service and True", r.stdout + r.stderr)

    # ---- proxying ----
    n = len(ext.seen)
    r = k(["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"])
    try:
        body = json.loads(r.stdout)
    except ValueError:
        body = {}
    t.ok(r.returncode == 0 and body.get("kind") == "NodeMetricsList"
         and (body.get("items") or [{}])[0].get("metadata", {}).get("name") == "ext-node-1",
         "kubectl get --raw of an aggregated path answers from the extension server",
         r.stdout + r.stderr)
    got = [s for s in ext.seen[n:] if s[0].startswith("/apis/metrics.k8s.io/v1beta1/nodes")]
    p, h, cn = got[0] if got else ("", {}, None)
    groups = h.get_all("X-Remote-Group") if got else []
    t.ok(cn == "system:auth-proxy" and h.get("X-Remote-User") == "system:admin"
         and "system:masters" in groups and "system:authenticated" in groups
         and h.get("Authorization") is None,
         "the extension server sees the front-proxy certificate and X-Remote-User/-Group "
         "(one field per group), no Authorization", (p, dict(h) if got else {}, groups, cn))
    n = len(ext.seen)
    st, _, _ = srv.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes?limit=5&labelSelector=a%3Db")
    p = ext.seen[-1][0] if len(ext.seen) > n else ""
    t.ok(st == 200 and p == "/apis/metrics.k8s.io/v1beta1/nodes?limit=5&labelSelector=a%3Db",
         "the original path and query are sent", (st, p))
    n = len(ext.seen)
    st, _, _ = srv.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes/ext-node-1",
                           headers={"X-Remote-User": "mallory", "X-Remote-Group": "system:masters",
                                    "X-Remote-Extra-Scopes": "all"})
    got = [s for s in ext.seen[n:] if s[0].endswith("/ext-node-1")]
    h = got[0][1] if got else {}
    t.ok(st == 200 and got and h.get_all("X-Remote-User") == ["system:admin"]
         and "mallory" not in str(h) and h.get("X-Remote-Extra-Scopes") is None,
         "X-Remote-* fields the client sends are dropped", (st, dict(h) if got else {}))
    kube.ok(["get", "nodes.metrics.k8s.io"], out=["ext-node-1"],
            name="kubectl get nodes.metrics.k8s.io lists the extension server's NodeMetrics")
    r = k(["--as", "jane", "get", "--raw", "/apis/wardle.example.com/v1alpha1/namespaces/default/flunders"])
    t.ok(r.returncode != 0 and "forbidden" in r.stderr.lower(),
         "RBAC decides before proxying (an unauthorized user gets 403)", r.stderr)

    # ---- discovery ----
    kube.ok(["api-resources", "--api-group", "wardle.example.com"],
            out=["flunders", "fl", "wardle.example.com/v1alpha1", "Flunder"],
            name="kubectl api-resources lists the aggregated group's resources")
    kube.ok(["get", "flunders", "-n", "default"], out=["first-flunder"],
            name="kubectl get flunders (a resource only the extension server has)")
    st, groups_doc = api("GET", "/apis")
    names = [g["name"] for g in groups_doc.get("groups", [])] if st == 200 else []
    t.ok("wardle.example.com" in names and names.count("metrics.k8s.io") == 1,
         "/apis (legacy) lists the aggregated group once", names)
    st, g = api("GET", "/apis/wardle.example.com")
    t.ok(st == 200 and g.get("kind") == "APIGroup"
         and g.get("preferredVersion", {}).get("groupVersion") == "wardle.example.com/v1alpha1",
         "/apis/wardle.example.com answers the APIGroup", g)
    st, v2 = api("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    items = {i["metadata"]["name"]: i for i in v2.get("items", [])} if st == 200 else {}
    w = items.get("wardle.example.com", {}).get("versions", [{}])[0]
    res = {r["resource"]: r for r in w.get("resources", [])}
    fl = res.get("flunders", {})
    t.ok(w.get("version") == "v1alpha1" and w.get("freshness") == "Current"
         and fl.get("scope") == "Namespaced" and fl.get("shortNames") == ["fl"]
         and fl.get("responseKind", {}).get("kind") == "Flunder"
         and [s["subresource"] for s in fl.get("subresources", [])] == ["status"],
         "aggregated discovery (v2) has the extension server's resources", w)

    # ---- a watch streams ----
    conn = srv.connect(timeout=20)
    conn.request("GET", "/apis/wardle.example.com/v1alpha1/namespaces/default/flunders?watch=true")
    resp = conn.getresponse()
    first = resp.fp.readline()
    while first.strip() and not first.strip().startswith(b"{"):  # chunk-size lines
        first = resp.fp.readline()
    ext.watch_go.set()
    rest = b""
    while b"watched-2" not in rest:
        line = resp.fp.readline()
        if not line:
            break
        rest += line
    conn.close()
    t.ok(resp.status == 200 and b"watched-1" in first and b"watched-2" in rest,
         "a watch through the aggregator streams (the first event arrives before the second is sent)",
         (resp.status, first[:200], rest[:200]))

    # ---- an upgrade request is relayed with the X-Remote-* fields ----
    n = len(ext.seen)
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s = srv.ssl_context().wrap_socket(c, server_hostname="127.0.0.1")
    s.sendall(b"GET /apis/wardle.example.com/v1alpha1/namespaces/default/flunders/first-flunder/attach "
              b"HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              b"X-Remote-User: mallory\r\n"
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
    got = [h for p, h, _ in ext.seen[n:] if p.endswith("/attach")]
    t.ok(head.startswith(b"HTTP/1.1 101") and b"echo:ping" in rest and got
         and got[0].get_all("X-Remote-User") == ["system:admin"],
         "an upgrade request is relayed both ways, as the requester (X-Remote-User system:admin)",
         (head + rest, [dict(h) for h in got]))

    # ---- the conditions that say why not ----
    docs = [apiservice("missing.example.com", "v1", ext.ca_b64, svc="nope", ns="default"),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty", "namespace": "default"},
             "spec": {"ports": [{"name": "https", "port": 443}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "empty", "namespace": "default"},
             "subsets": []},
            apiservice("empty.example.com", "v1", ext.ca_b64, svc="empty", ns="default")]
    other_ca, _ = self_signed(srv.tmp, "other", "%s.%s.svc" % (SVC, NS))
    with open(other_ca, "rb") as f:
        docs.append(apiservice("wrongca.example.com", "v1", base64.b64encode(f.read()).decode()))
    docs.append(apiservice("noca.example.com", "v1", None))
    insecure = apiservice("insecure.example.com", "v1", None)  # as metrics-server's manifest
    insecure["spec"]["insecureSkipTLSVerify"] = True
    docs.append(insecure)
    r = k(["apply", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    wait_until(lambda: all(available(n).get("status") == "False" for n in
                           ("v1.missing.example.com", "v1.empty.example.com", "v1.wrongca.example.com",
                            "v1.noca.example.com", "v1.insecure.example.com")),
               timeout=30)
    c = available("v1.noca.example.com")
    t.ok(c.get("reason") == "FailedDiscoveryCheck"
         and c.get("message", "").endswith("x509: certificate signed by unknown authority"),
         "no caBundle and no insecureSkipTLSVerify: the certificate cannot be verified", c)
    c = available("v1.insecure.example.com")
    t.ok(c.get("reason") == "FailedDiscoveryCheck"
         and c.get("message", "").endswith("/apis/insecure.example.com/v1: 404"),
         "insecureSkipTLSVerify: the handshake succeeds without a CA (the server's 404 is what fails)",
         c)
    c = available("v1.missing.example.com")
    t.ok(c.get("status") == "False" and c.get("reason") == "ServiceNotFound"
         and c.get("message") == 'service/nope in "default" is not present',
         "a missing service: Available False, ServiceNotFound", c)
    c = available("v1.empty.example.com")
    t.ok(c.get("status") == "False" and c.get("reason") == "MissingEndpoints"
         and c.get("message") == 'endpoints for service/empty in "default" have no addresses with '
                                 'port name "https"',
         "a service without ready endpoints: Available False, MissingEndpoints", c)
    c = available("v1.wrongca.example.com")
    t.ok(c.get("status") == "False" and c.get("reason") == "FailedDiscoveryCheck"
         and "failing or missing response from https://%s:%d/apis/wrongca.example.com/v1" % (ip, ext.port)
         in c.get("message", "") and c.get("message", "").endswith(": tls: failed to verify certificate"),
         "a server certificate the caBundle does not sign: FailedDiscoveryCheck", c)
    # the right caBundle: the new TLS configuration is used; the server has no such group (404)
    r = k(["patch", "apiservice", "v1.wrongca.example.com", "--type=merge", "-p",
           json.dumps({"spec": {"caBundle": ext.ca_b64}})])
    want = "bad status from https://%s:%d/apis/wrongca.example.com/v1: 404" % (ip, ext.port)
    wait_until(lambda: want in available("v1.wrongca.example.com").get("message", ""), timeout=20)
    c = available("v1.wrongca.example.com")
    t.ok(r.returncode == 0 and c.get("status") == "False" and c.get("reason") == "FailedDiscoveryCheck"
         and c.get("message") == "failing or missing response from https://%s:%d/apis/wrongca.example.com/v1: %s"
         % (ip, ext.port, want),
         "after a caBundle change the check uses it: a 404 discovery answer is FailedDiscoveryCheck "
         "(bad status)", (r.stderr, c))
    r = k(["get", "apiservice", "v1.wrongca.example.com"])
    t.ok(r.returncode == 0 and r.stdout.split("\n")[1].split()[2:4] == ["False", "(FailedDiscoveryCheck)"],
         "kubectl get apiservice shows False (FailedDiscoveryCheck)", r.stdout + r.stderr)
    st, _, body = srv.request("GET", "/apis/missing.example.com/v1")
    t.ok(st == 503 and body == b"service unavailable\n",
         "a request for an unavailable APIService: 503 service unavailable", (st, body))

    # ---- the extension server stops ----
    ext.stop()
    st, _, body = srv.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    t.ok(st == 503, "a request while the extension server is down: 503", (st, body))
    wait_until(lambda: available("v1beta1.metrics.k8s.io").get("status") == "False", timeout=30)
    c = available("v1beta1.metrics.k8s.io")
    t.ok(c.get("status") == "False" and c.get("reason") == "FailedDiscoveryCheck"
         and c.get("message", "").startswith(
             "failing or missing response from https://%s:%d/apis/metrics.k8s.io/v1beta1" % (ip, ext.port))
         and c.get("message", "").endswith("dial tcp %s:%d: connect: connection refused" % (ip, ext.port)),
         "Available turns False (FailedDiscoveryCheck, with the URL) once the server stops", c)
    st, hd, body = srv.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    t.ok(st == 503 and body == b"service unavailable\n"
         and hd.get("content-type", "").startswith("text/plain"),
         "then requests get upstream's 503 service unavailable", (st, hd, body))
    r = k(["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"])
    t.ok(r.returncode != 0 and "the server is currently unable to handle the request" in r.stderr,
         "kubectl get --raw reports the service unavailable", r.stdout + r.stderr)
    st, v2 = api("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    items = {i["metadata"]["name"]: i for i in v2.get("items", [])} if st == 200 else {}
    m = items.get("metrics.k8s.io", {}).get("versions", [{}])[0]
    t.ok(m.get("freshness") == "Stale" and [x["resource"] for x in m.get("resources", [])] == ["nodes", "pods"],
         "aggregated discovery keeps the last resources of the unavailable group, marked Stale", m)
    r = k(["get", "nodes.metrics.k8s.io"])
    t.ok(r.returncode != 0, "kubectl get nodes.metrics.k8s.io fails (client-go skips a Stale group "
         "version)", r.stdout + r.stderr)

    # ---- it comes back on another port: the Endpoints change is checked at once ----
    ext2 = Extension(srv.tmp, ip, rh_ca, cert=(ext.cert, ext.key))
    eps["subsets"][0]["ports"][0]["port"] = ext2.port
    r = k(["apply", "-f", "-"], input=json.dumps(eps))
    t0 = time.time()
    wait_until(lambda: available("v1beta1.metrics.k8s.io").get("status") == "True", timeout=30)
    took = time.time() - t0
    c = available("v1beta1.metrics.k8s.io")
    st, _, body = srv.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    t.ok(r.returncode == 0 and c.get("status") == "True" and c.get("reason") == "Passed" and took < 10
         and st == 200 and b"ext-node-1" in body,
         "a restarted server at new Endpoints is Available again within seconds (%.1f s) and "
         "answers" % took, (r.stderr, c, st, body[:200]))
    ext2.stop()

    # ---- a discovery check in flight (a listener that never answers) when the server stops ----
    mute = socket.socket()
    mute.bind((ip, 0))
    mute.listen(4)  # the kernel completes the TCP handshake; no TLS answer ever comes
    docs = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bh", "namespace": "default"},
             "spec": {"ports": [{"name": "https", "port": 443}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "bh", "namespace": "default"},
             "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https",
                                                                "port": mute.getsockname()[1]}]}]},
            apiservice("bh.example.com", "v1", ext.ca_b64, svc="bh", ns="default")]
    r = k(["apply", "-f", "-"], input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    time.sleep(2.5)
    t.ok(r.returncode == 0 and available("v1.bh.example.com") == {},
         "an APIService whose server does not answer has no condition while the check waits",
         (r.stderr, available("v1.bh.example.com")))
    kube.finish()  # with the check still waiting on mute: the stop must be clean


main()
