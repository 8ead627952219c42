"""The Endpoints controller in a real `k3c server --disable-agent`, driven by kubectl and the
Debian python3-kubernetes client. No kubelet runs: the test plays it by patching
pods/status (podIP, phase, Ready). Checked: ready pods in addresses and not-ready ones in
notReadyAddresses (pods without an IP or finished left out), targetRef/nodeName, named
targetPort resolution per pod (pods resolving differently get their own subset),
readiness changes and deletions followed, publishNotReadyAddresses, a headless service
without ports with pod hostnames, labels copied from the Service (headless label), the
last-change-trigger-time annotation, a selector-less Service's hand-made Endpoints left
alone, an Endpoints deleted by hand made again, Endpoints deleted with their Service, the
API's own `kubernetes` Endpoints untouched, `kubectl get endpoints` and `kubectl describe
svc`."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
NOW = "2026-01-01T00:00:00Z"


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def ep_json(name, ns="default"):
    r = k.run(["get", "endpoints", name, "-n", ns, "-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else None


def make_pod(name, labels, ports=(("http", 8080),), node="node-a", ns="default", spec_extra=None):
    spec = {"nodeName": node, "containers": [{
        "name": "c", "image": "busybox",
        "ports": [{"name": n, "containerPort": p} for n, p in ports]}]}
    spec.update(spec_extra or {})
    v1.create_namespaced_pod(ns, {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": name, "labels": labels}, "spec": spec})


def set_status(name, ip, ready, ns="default", phase="Running"):
    body = {"status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": NOW}]}}
    if ip:
        body["status"]["podIP"] = ip
        body["status"]["podIPs"] = [{"ip": ip}]
    v1.patch_namespaced_pod_status(name, ns, body)


def ips(ep, field="addresses"):
    out = []
    for s in (ep or {}).get("subsets") or []:
        out += [a["ip"] for a in s.get(field) or []]
    return sorted(out)


def subset_summary(ep):
    """[(sorted ready ips, sorted not-ready ips, sorted (name, port, protocol))]"""
    out = []
    for s in (ep or {}).get("subsets") or []:
        out.append((sorted(a["ip"] for a in s.get("addresses") or []),
                    sorted(a["ip"] for a in s.get("notReadyAddresses") or []),
                    sorted((p.get("name", ""), p["port"], p["protocol"]) for p in s.get("ports") or [])))
    return sorted(out)


# ---- a service with a named targetPort ----
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "labels": {"team": "a"}},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
for n in ("web-1", "web-2", "web-3", "web-4"):
    make_pod(n, {"app": "web"})
make_pod("other", {"app": "other"})
set_status("web-1", "10.42.0.11", True)
set_status("web-2", "10.42.0.12", True)
set_status("web-3", "10.42.0.13", False)
# web-4 has no IP yet; "other" is not selected
set_status("other", "10.42.0.99", True)

ep = wait(lambda: (lambda e: e if ips(e) == ["10.42.0.11", "10.42.0.12"]
                   and ips(e, "notReadyAddresses") == ["10.42.0.13"] else None)(ep_json("web")))
t.ok(ep is not None, "Endpoints list the ready pods in addresses and the not-ready one in "
     "notReadyAddresses (no IP, unselected pods left out)", json.dumps(ep_json("web"), indent=1))
ep = ep or ep_json("web") or {}
sub = (ep.get("subsets") or [{}])[0]
t.ok(sub.get("ports") == [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "the named targetPort resolved to the containerPort", json.dumps(sub.get("ports")))
addr = {a["ip"]: a for a in sub.get("addresses") or []}.get("10.42.0.11", {})
uid = v1.read_namespaced_pod("web-1", "default").metadata.uid
t.ok(addr.get("targetRef") == {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": uid}
     and addr.get("nodeName") == "node-a", "targetRef (kind Pod, namespace, name, uid) and nodeName",
     json.dumps(addr))
md = ep.get("metadata", {})
t.ok(md.get("labels") == {"team": "a"}, "the Service's labels are copied", json.dumps(md))
t.ok("endpoints.kubernetes.io/last-change-trigger-time" in (md.get("annotations") or {}),
     "the last-change-trigger-time annotation", json.dumps(md))
t.ok(not md.get("ownerReferences"), "Endpoints carry no ownerReferences (as upstream)", json.dumps(md))

k.ok("get endpoints web", out=["10.42.0.11:8080,10.42.0.12:8080"], name="kubectl get endpoints")

# readiness and deletion are followed
set_status("web-3", "10.42.0.13", True)
set_status("web-4", "10.42.0.14", False)
ok = wait(lambda: ips(ep_json("web")) == ["10.42.0.11", "10.42.0.12", "10.42.0.13"]
          and ips(ep_json("web"), "notReadyAddresses") == ["10.42.0.14"])
t.ok(ok, "a pod turning ready moves to addresses, a pod getting an IP appears",
     json.dumps(ep_json("web")))
v1.delete_namespaced_pod("web-1", "default")
set_status("web-2", "10.42.0.12", False, phase="Failed")
ok = wait(lambda: ips(ep_json("web")) == ["10.42.0.13"]
          and ips(ep_json("web"), "notReadyAddresses") == ["10.42.0.14"])
t.ok(ok, "a deleted pod and a Failed pod leave the Endpoints", json.dumps(ep_json("web")))

# relabelled pod leaves
v1.patch_namespaced_pod("web-4", "default", {"metadata": {"labels": {"app": "gone"}}})
ok = wait(lambda: ips(ep_json("web"), "notReadyAddresses") == [])
t.ok(ok, "a pod whose labels stop matching leaves", json.dumps(ep_json("web")))

# a pod whose named port resolves to another number gets its own subset
make_pod("web-5", {"app": "web"}, ports=(("http", 9090),))
set_status("web-5", "10.42.0.15", True)
want = [(["10.42.0.13"], [], [("http", 8080, "TCP")]), (["10.42.0.15"], [], [("http", 9090, "TCP")])]
ok = wait(lambda: subset_summary(ep_json("web")) == want)
t.ok(ok, "pods resolving the named port differently are in separate subsets",
     json.dumps(ep_json("web")))
# a pod without the named port is left out
make_pod("web-6", {"app": "web"}, ports=(("metrics", 9100),))
set_status("web-6", "10.42.0.16", True)
time.sleep(1)
t.ok(subset_summary(ep_json("web")) == want, "a pod without the named port is left out",
     json.dumps(ep_json("web")))

# two ports offered by the same pods share a subset
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "multi"},
    "spec": {"selector": {"app": "multi"}, "ports": [
        {"name": "a", "port": 80, "targetPort": 8080},
        {"name": "b", "port": 81, "targetPort": 8081, "protocol": "UDP"}]}})
for i in (1, 2):
    make_pod("multi-%d" % i, {"app": "multi"})
    set_status("multi-%d" % i, "10.42.1.%d" % i, True)
want = [(["10.42.1.1", "10.42.1.2"], [], [("a", 8080, "TCP"), ("b", 8081, "UDP")])]
ok = wait(lambda: subset_summary(ep_json("multi")) == want)
t.ok(ok, "numbered ports of the same pods share one subset", json.dumps(ep_json("multi")))

# publishNotReadyAddresses
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "pub"},
    "spec": {"selector": {"app": "multi"}, "publishNotReadyAddresses": True,
             "ports": [{"port": 80, "targetPort": 8080}]}})
set_status("multi-2", "10.42.1.2", False)
ok = wait(lambda: ips(ep_json("pub")) == ["10.42.1.1", "10.42.1.2"]
          and ips(ep_json("multi"), "notReadyAddresses") == ["10.42.1.2"])
t.ok(ok, "publishNotReadyAddresses lists a not-ready pod in addresses (and only there)",
     json.dumps([ep_json("pub"), ep_json("multi")]))

# headless service without ports, with hostnames
r = k.run(["create", "-f", "-"], input=json.dumps({
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
    "spec": {"clusterIP": "None", "selector": {"app": "db"}}}))
t.ok(r.returncode == 0, "a headless Service without ports is valid (regression: 'spec.ports: "
     "Required value')", k.diag("create -f -", r))
make_pod("db-0", {"app": "db"}, spec_extra={"hostname": "db-0", "subdomain": "db"})
make_pod("db-1", {"app": "db"}, spec_extra={"hostname": "db-1", "subdomain": "elsewhere"})
set_status("db-0", "10.42.2.1", True)
set_status("db-1", "10.42.2.2", True)
ep = wait(lambda: (lambda e: e if ips(e) == ["10.42.2.1", "10.42.2.2"] else None)(ep_json("db")))
t.ok(ep is not None, "a headless service without ports lists its pods", json.dumps(ep_json("db")))
addrs = {a["ip"]: a for a in ((ep or {}).get("subsets") or [{}])[0].get("addresses") or []}
t.ok(addrs.get("10.42.2.1", {}).get("hostname") == "db-0" and "hostname" not in addrs.get("10.42.2.2", {"hostname": 1})
     and "ports" not in ((ep or {}).get("subsets") or [{}])[0],
     "hostname set for the pod whose subdomain is the service, not for the other; no ports",
     json.dumps(ep))
t.ok(((ep or {}).get("metadata", {}).get("labels") or {}).get("service.kubernetes.io/headless") == "",
     "the headless label", json.dumps((ep or {}).get("metadata")))

# a selector-less service keeps hand-made Endpoints
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
    "spec": {"ports": [{"port": 5432}]}})
v1.create_namespaced_endpoints("default", {
    "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
    "subsets": [{"addresses": [{"ip": "192.168.7.7"}], "ports": [{"port": 5432}]}]})
v1.patch_namespaced_service("ext", "default", {"metadata": {"labels": {"touched": "yes"}}})
time.sleep(1.5)
e = ep_json("ext")
t.ok(ips(e) == ["192.168.7.7"] and not (e["metadata"].get("labels") or {}).get("touched"),
     "a selector-less Service's hand-made Endpoints are left alone", json.dumps(e))

# an Endpoints deleted by hand comes back; Endpoints go with their Service
v1.delete_namespaced_endpoints("multi", "default")
ok = wait(lambda: ips(ep_json("multi")) == ["10.42.1.1"])
t.ok(ok, "an Endpoints deleted from under its Service is made again", json.dumps(ep_json("multi")))
v1.delete_namespaced_service("multi", "default")


def gone():
    try:
        v1.read_namespaced_endpoints("multi", "default")
        return False
    except ApiException as e:
        return e.status == 404


t.ok(wait(gone), "deleting the Service deletes its Endpoints")

# another namespace
v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ep2"}})
v1.create_namespaced_service("ep2", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}})
make_pod("w", {"app": "web"}, ns="ep2")
set_status("w", "10.42.3.1", True, ns="ep2")
ok = wait(lambda: ips(ep_json("web", "ep2")) == ["10.42.3.1"])
t.ok(ok and ips(ep_json("web")) == ["10.42.0.13", "10.42.0.15"],
     "services select pods of their own namespace only", json.dumps([ep_json("web", "ep2"), ep_json("web")]))

kep = ep_json("kubernetes")
v1.delete_namespaced_service("kubernetes", "default")
time.sleep(1.5)
t.ok(ep_json("kubernetes") is not None, "deleting svc/kubernetes leaves the API server's own "
     "Endpoints alone (regression: the controller deleted them)")
wait(lambda: k.run(["get", "svc", "kubernetes"]).returncode == 0)

t.ok(kep and (kep.get("metadata", {}).get("labels") or {}).get("endpointslice.kubernetes.io/skip-mirror") == "true"
     and len(ips(kep)) == 1, "the API server's own kubernetes Endpoints are untouched", json.dumps(kep))

k.finish()
