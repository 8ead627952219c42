"""apiregistration.k8s.io/v1 APIService and metrics.k8s.io/v1beta1 against
`k3c server --disable-agent` with real kubectl: the Local APIServices with
upstream's columns, a user APIService (create/get/status/delete, not
Available: its service does not exist), the Local APIService of a CRD's
group/version (gone with the CRD), `kubectl api-resources`, and
NodeMetrics/PodMetrics built from a stand-in kubelet (a TLS server here
that answers /stats/summary only to the API server's kubelet client
certificate), with a second node whose kubelet never answers left out."""
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server, free_port  # noqa: E402

USER_APISERVICE = """
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.example.com}
spec:
  group: example.com
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: true
  service: {namespace: default, name: example-api}
"""

BAD_APISERVICE = """
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.wrong.example.com}
spec: {group: example.com, version: v1, groupPriorityMinimum: 0, versionPriority: 15}
"""


def node_obj(name, port):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"metrics-test": name}},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


def pod_obj(name, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "busybox"},
                                    {"name": "side", "image": "busybox"}]}}


class Kubelet:
    """A TLS server verifying clients against the cluster's client CA, answering
    /stats/summary with self.summary."""

    def __init__(self, tmp, ca_file):
        cert, key = os.path.join(tmp, "kl.crt"), os.path.join(tmp, "kl.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=fake-kubelet", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        self.summary = {}
        self.clients = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                peer = self.connection.getpeercert() or {}
                cn = [v for f in peer.get("subject", ()) for k, v in f if k == "commonName"]
                outer.clients.append((self.path, cn))
                body = json.dumps(outer.summary).encode()
                code = 200 if self.path == "/stats/summary" else 404
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


def usage(cpu_nano, mem, t="2026-12-02T10:00:00Z"):
    return ({"time": t, "usageNanoCores": cpu_nano, "usageCoreNanoSeconds": cpu_nano * 100},
            {"time": t, "workingSetBytes": mem, "usageBytes": mem * 2})


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()

    def k(*args, stdin=None):
        env = dict(os.environ, HOME=srv.tmp)
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120, env=env)

    def api(method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        st, _, data = srv.request(method, path, body=body,
                                  headers={"Content-Type": "application/json"} if body else None)
        try:
            return st, json.loads(data)
        except ValueError:
            return st, data

    # ---- the Local APIServices ----
    r = k("get", "apiservices")
    lines = r.stdout.strip().split("\n")
    rows = {ln.split()[0]: ln.split() for ln in lines[1:] if ln.split()}
    t.ok(r.returncode == 0 and lines[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"],
         "kubectl get apiservices has upstream's columns", r.stdout + r.stderr)
    want = ["v1.", "v1.apps", "v1.batch", "v2.autoscaling", "v1.autoscaling",
            "v1.rbac.authorization.k8s.io", "v1.apiregistration.k8s.io", "v1beta1.metrics.k8s.io",
            "v1.coordination.k8s.io", "v1.apiextensions.k8s.io"]
    missing = [n for n in want if n not in rows]
    t.ok(not missing, "the built-in group/versions have Local APIServices", (missing, r.stdout))
    t.ok(all(rows[n][1:3] == ["Local", "True"] for n in want if n in rows),
         "each shows SERVICE Local and AVAILABLE True", r.stdout)
    st, core = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.")
    t.ok(st == 200 and core["spec"].get("version") == "v1" and not core["spec"].get("group")
         and core["spec"]["groupPriorityMinimum"] == 18000 and core["spec"]["versionPriority"] == 1,
         "v1. has upstream's priorities (18000, 1)", core)
    st, apps = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.apps")
    cond = (apps.get("status", {}).get("conditions") or [{}])[0] if st == 200 else {}
    t.ok(st == 200 and apps["spec"] == {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800,
                                         "versionPriority": 15}
         and cond.get("type") == "Available" and cond.get("status") == "True" and cond.get("reason") == "Local",
         "v1.apps: spec {group, version, priorities} and Available True (Local)", apps)

    # ---- a user APIService ----
    r = k("apply", "-f", "-", stdin=USER_APISERVICE)
    t.ok(r.returncode == 0 and "apiservice.apiregistration.k8s.io/v1alpha1.example.com created" in r.stdout,
         "a user APIService is created", r.stdout + r.stderr)
    # the aggregator's availability check finds no such service (test_aggregation.py has one)
    deadline = time.time() + 20
    while True:
        r = k("get", "apiservice", "v1alpha1.example.com")
        row = r.stdout.strip().split("\n")[-1].split()
        if row[2:4] == ["False", "(ServiceNotFound)"] or time.time() > deadline:
            break
        time.sleep(0.3)
    t.ok(r.returncode == 0 and row[:4] == ["v1alpha1.example.com", "default/example-api", "False",
                                           "(ServiceNotFound)"],
         "it shows its service and Available False (ServiceNotFound)", r.stdout + r.stderr)
    st, obj = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.example.com/status")
    cond = (obj.get("status", {}).get("conditions") or [{}])[0] if st == 200 else {}
    t.ok(st == 200 and cond.get("status") == "False"
         and cond.get("message") == 'service/example-api in "default" is not present'
         and obj["spec"]["service"].get("port") == 443,
         "its status says the service is not present; service port defaults to 443", obj)
    r = k("get", "apiservices", "-o", "name")
    t.ok("apiservice.apiregistration.k8s.io/v1alpha1.example.com" in r.stdout.split(),
         "it is listed beside the local ones", r.stdout)
    r = k("apply", "-f", "-", stdin=BAD_APISERVICE)
    t.ok(r.returncode != 0 and "must be `spec.version+\".\"+spec.group`" in r.stderr
         and "spec.groupPriorityMinimum" in r.stderr,
         "a name that is not version.group and a zero priority are refused", r.stdout + r.stderr)
    r = k("delete", "apiservice", "v1alpha1.example.com")
    t.ok(r.returncode == 0 and "deleted" in r.stdout, "the user APIService is deleted", r.stdout + r.stderr)
    st, _ = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.example.com")
    t.ok(st == 404, "and is gone", st)

    # ---- a CRD's group/version gets a Local APIService, removed with the CRD ----
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.shop.example.com"},
           "spec": {"group": "shop.example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}},
                                 {"name": "v2alpha1", "served": False, "storage": False,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    r = k("apply", "-f", "-", stdin=json.dumps(crd))
    deadline = time.time() + 20
    st, obj = 0, {}
    while time.time() < deadline:
        st, obj = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.shop.example.com")
        if st == 200:
            break
        time.sleep(0.3)
    cond = (obj.get("status", {}).get("conditions") or [{}])[0] if st == 200 else {}
    st2, _ = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v2alpha1.shop.example.com")
    t.ok(r.returncode == 0 and st == 200
         and obj["metadata"]["labels"].get("kube-aggregator.kubernetes.io/automanaged") == "true"
         and obj["spec"].get("groupPriorityMinimum") == 1000 and obj["spec"].get("versionPriority") == 100
         and cond.get("reason") == "Local" and st2 == 404,
         "a CRD's served version gets a Local APIService (automanaged true, 1000/100); an unserved "
         "one none", (r.stderr, obj, st2))
    r = k("delete", "crd", "widgets.shop.example.com")
    deadline = time.time() + 20
    while time.time() < deadline:
        st, _ = api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.shop.example.com")
        if st == 404:
            break
        time.sleep(0.3)
    t.ok(r.returncode == 0 and st == 404, "and it goes with the CRD", (r.stderr, st))

    # ---- discovery ----
    r = k("api-resources")
    res = {}
    for ln in r.stdout.strip().split("\n")[1:]:
        f = ln.split()
        res.setdefault(f[0], []).append(f)
    t.ok(r.returncode == 0 and any(f[-1] == "APIService" and f[-3] == "apiregistration.k8s.io/v1"
                                   for f in res.get("apiservices", [])),
         "kubectl api-resources lists apiservices", r.stdout + r.stderr)
    t.ok(any(f[-1] == "NodeMetrics" and f[-2] == "false" for f in res.get("nodes", []))
         and any(f[-1] == "PodMetrics" and f[-2] == "true" for f in res.get("pods", []))
         and any(f[-1] == "Node" and f[1] == "no" for f in res.get("nodes", []))
         and any(f[-1] == "Pod" and f[1] == "po" for f in res.get("pods", [])),
         "metrics.k8s.io nodes/pods appear beside core nodes and pods", r.stdout)
    r = k("get", "nodes")
    t.ok(r.returncode == 0 and "NodeMetrics" not in r.stdout + r.stderr,
         "kubectl get nodes still means core nodes", r.stdout + r.stderr)

    # ---- metrics.k8s.io from a stand-in kubelet ----
    st, lst = api("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    t.ok(st == 200 and lst.get("kind") == "NodeMetricsList" and lst["items"] == [],
         "without nodes the NodeMetrics list is empty", lst)
    # the API server's kubelet client certificate is signed by the client CA (docs/PKI.md)
    kl = Kubelet(srv.tmp, os.path.join(srv.data_dir, "server", "tls", "client-ca.crt"))
    dead_port = free_port()
    st1, _ = api("POST", "/api/v1/nodes", node_obj("fake-1", kl.port))
    st2, _ = api("POST", "/api/v1/nodes", node_obj("silent-2", dead_port))
    stp, busy = api("POST", "/api/v1/namespaces/default/pods", pod_obj("busy", {"app": "burn"}))
    stq, quiet = api("POST", "/api/v1/namespaces/default/pods", pod_obj("quiet", {"app": "idle"}))
    t.ok(st1 == 201 and st2 == 201 and stp == 201 and stq == 201, "two nodes and two pods created",
         (st1, st2, stp, stq))
    ncpu, nmem = usage(1500000000, 2 << 30)
    bc, bm = usage(900000000, 8 << 20)
    sc, sm = usage(1000000, 1 << 20)
    qc, qm = usage(2000, 3 << 20)
    kl.summary = {
        "node": {"nodeName": "fake-1", "cpu": ncpu, "memory": nmem},
        "pods": [
            {"podRef": {"name": "busy", "namespace": "default", "uid": busy["metadata"]["uid"]},
             "cpu": bc, "memory": bm,
             "containers": [{"name": "main", "cpu": bc, "memory": bm},
                            {"name": "side", "cpu": sc, "memory": sm}]},
            {"podRef": {"name": "quiet", "namespace": "default", "uid": quiet["metadata"]["uid"]},
             "cpu": qc, "memory": qm, "containers": [{"name": "main", "cpu": qc, "memory": qm}]},
            {"podRef": {"name": "ghost", "namespace": "default", "uid": "no-such-uid"},
             "cpu": qc, "memory": qm, "containers": [{"name": "main", "cpu": qc, "memory": qm}]},
        ]}
    t0 = time.time()
    st, lst = api("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    took = time.time() - t0
    names = [i["metadata"]["name"] for i in lst.get("items", [])] if st == 200 else []
    t.ok(st == 200 and names == ["fake-1"], "NodeMetrics lists the answering node, not the silent one",
         lst)
    t.ok(took < 10, "the silent kubelet costs a bounded wait (%.1f s)" % took, took)
    item = lst["items"][0] if names else {}
    t.ok(item.get("usage") == {"cpu": "1500000000n", "memory": "2097152Ki"}
         and item.get("timestamp") == "2026-12-02T10:00:00Z" and item.get("window") == "10s"
         and item["metadata"].get("labels", {}).get("metrics-test") == "fake-1",
         "NodeMetrics: usage in nanocores and Ki, the sample's timestamp, window, node labels", item)
    t.ok(kl.clients and kl.clients[0] == ("/stats/summary", ["system:kube-apiserver"]),
         "the kubelet was asked for /stats/summary with the API server's client certificate",
         kl.clients)
    asked = len(kl.clients)
    r = k("top", "nodes")
    lines = r.stdout.strip().split("\n")
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    t.ok(r.returncode == 0 and lines[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
         and rows.get("fake-1", [])[:2] == ["fake-1", "1500m"] and "2048Mi" in rows["fake-1"]
         and rows.get("silent-2", [])[1:2] == ["<unknown>"], "kubectl top nodes prints the node's figures (the silent one <unknown>)", r.stdout + r.stderr)
    t.ok(len(kl.clients) == asked, "a second request within 15 s is served from the cache",
         kl.clients)
    r = k("top", "pods")
    lines = r.stdout.strip().split("\n")
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    t.ok(r.returncode == 0 and lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
         and rows.get("busy") == ["busy", "901m", "9Mi"] and rows.get("quiet") == ["quiet", "1m", "3Mi"]
         and "ghost" not in rows, "kubectl top pods sums containers; a pod not stored is left out",
         r.stdout + r.stderr)
    r = k("top", "pods", "-l", "app=burn", "--containers")
    t.ok(r.returncode == 0 and "busy" in r.stdout and "quiet" not in r.stdout
         and "main" in r.stdout and "side" in r.stdout,
         "kubectl top pods -l app=burn --containers", r.stdout + r.stderr)
    r = k("get", "nodes.metrics.k8s.io")
    lines = r.stdout.strip().split("\n")
    t.ok(r.returncode == 0 and lines[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
         and lines[1].split() == ["fake-1", "1500m", "2048Mi", "10s"] and len(lines) == 2,
         "kubectl get nodes.metrics.k8s.io prints a Table", r.stdout + r.stderr)
    r = k("get", "pods.metrics.k8s.io", "busy")
    t.ok(r.returncode == 0 and r.stdout.strip().split("\n")[-1].split() == ["busy", "901m", "9Mi", "10s"],
         "kubectl get pods.metrics.k8s.io busy sums its containers", r.stdout + r.stderr)
    st, pm = api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
    t.ok(st == 200 and pm.get("kind") == "PodMetrics" and pm["metadata"]["namespace"] == "default"
         and [c["name"] for c in pm["containers"]] == ["main", "side"]
         and pm["containers"][0]["usage"] == {"cpu": "900000000n", "memory": "8192Ki"},
         "GET of one PodMetrics", pm)
    st, pm = api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods")
    t.ok(st == 200 and pm.get("kind") == "PodMetricsList" and pm["items"] == [],
         "another namespace's PodMetrics list is empty", pm)
    st, nm = api("GET", "/apis/metrics.k8s.io/v1beta1/nodes/silent-2")
    t.ok(st == 404 and "nodemetrics.metrics.k8s.io \"silent-2\" not found" in nm.get("message", ""),
         "the silent node's NodeMetrics is NotFound", nm)
    st, nm = api("GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=metrics-test%3Dnone")
    t.ok(st == 200 and nm["items"] == [], "a label selector filters NodeMetrics", nm)
    st, nm = api("GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=a%20%3D%3D%3D%20b")
    t.ok(st == 400, "a malformed label selector is a 400", nm)
    st, nm = api("DELETE", "/apis/metrics.k8s.io/v1beta1/nodes/fake-1")
    t.ok(st == 405, "metrics are read-only", nm)
    r = k("create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "default")
    ok1 = r.returncode == 0
    r = k("auth", "can-i", "list", "pods.metrics.k8s.io", "--as=alice", "-n", "default")
    r2 = k("top", "pods", "--as=alice", "-n", "default")
    t.ok(ok1 and r.stdout.strip() == "yes" and r2.returncode == 0 and "busy" in r2.stdout,
         "the view role covers metrics.k8s.io (system:aggregated-metrics-reader)",
         r.stdout + r.stderr + r2.stdout + r2.stderr)
    kl.stop()
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    t.done()


if __name__ == "__main__":
    main()
