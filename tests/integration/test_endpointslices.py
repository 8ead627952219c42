"""The EndpointSlice controller in a real `k3c server --disable-agent`, driven by kubectl and
the Debian python3-kubernetes client. No kubelet runs: the test creates Node objects and plays
the kubelet by patching pods/status (podIP, phase, Ready). Checked: the placeholder slice of a
Service without endpoints; the slice's labels (service-name, managed-by, the Service's own,
headless), generateName, ownerReference to the Service, addressType IPv4; endpoints with
addresses, conditions ready/serving/terminating, nodeName, zone from the node's label,
targetRef, hostname for a headless Service; ports with name/port/protocol from a named
targetPort; a pod on an unknown node left out until the node exists; a 250-pod Service split
into slices of 100, 100 and 50; a deleted pod changing only the slice that held it and a new
pod going into the slice with room; no rewrites at rest; slices deleted with their Service;
no slices for a selector-less Service without Endpoints, its custom Endpoints mirrored (labels,
ports, ready, owner, updates, skip-mirror); `kubectl get endpointslices`, `kubectl describe svc`;
pods of a Deployment run by a hollow node (`k3c agent --hollow`) in both the Endpoints and the
slices, following a scale-down; and --max-endpoints-per-slice on a second server."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Hollow, Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
NOW = "2026-01-01T00:00:00Z"
MB = "endpointslice.kubernetes.io/managed-by"


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def slices(svc, ns="default", kk=None):
    r = (kk or k).run(["get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=" + svc,
                       "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


def addrs(items, ready=None):
    out = []
    for s in items:
        for e in s.get("endpoints") or []:
            if ready is None or e["conditions"]["ready"] == ready:
                out += e["addresses"]
    return sorted(out)


def make_node(name, zone=None, vapi=None):
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    (vapi or v1).create_node({"apiVersion": "v1", "kind": "Node",
                              "metadata": {"name": name, "labels": labels}})


def make_pod(name, labels, node="node-a", ports=(("http", 8080),), spec_extra=None, vapi=None):
    spec = {"nodeName": node, "containers": [{
        "name": "c", "image": "busybox",
        "ports": [{"name": n, "containerPort": p} for n, p in ports]}]}
    spec.update(spec_extra or {})
    (vapi or v1).create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                                   "metadata": {"name": name, "labels": labels},
                                                   "spec": spec})


def set_status(name, ip, ready, vapi=None):
    (vapi or v1).patch_namespaced_pod_status(name, "default", {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                        "lastTransitionTime": NOW}]}})


make_node("node-a", zone="zone-1")
make_node("node-b")

# ---- the placeholder, then endpoints ----
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"team": "a"}},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
svc_uid = v1.read_namespaced_service("web", "default").metadata.uid
items = wait(lambda: slices("web"))
ok = len(items) == 1 and not items[0].get("endpoints") and not items[0].get("ports")
t.ok(ok, "a Service without endpoints gets one placeholder slice (no endpoints, no ports)",
     json.dumps(items, indent=1))
placeholder = items[0]["metadata"]["name"] if items else None

make_pod("web-1", {"app": "web"}, node="node-a")
make_pod("web-2", {"app": "web"}, node="node-b")
make_pod("web-3", {"app": "web"}, node="node-c")  # no such node yet
make_pod("web-4", {"app": "web"}, node="node-a", ports=(("metrics", 9100),))
set_status("web-1", "10.42.0.1", True)
set_status("web-2", "10.42.0.2", False)
set_status("web-3", "10.42.0.3", True)
set_status("web-4", "10.42.0.4", True)


def with_ports(items, ports):
    return [s for s in items if (s.get("ports") or []) == ports]


HTTP = [{"name": "http", "port": 8080, "protocol": "TCP"}]
items = wait(lambda: (lambda it: it if addrs(with_ports(it, HTTP)) == ["10.42.0.1", "10.42.0.2"]
                      and addrs(with_ports(it, [])) == ["10.42.0.4"] else None)(slices("web")))
t.ok(items and len(items) == 2, "the pods with the named port on known nodes in one slice, the pod "
     "resolving no port in a slice without ports (as upstream), the pod on an unknown node left out",
     json.dumps(slices("web"), indent=1))
t.ok(placeholder in [x["metadata"]["name"] for x in items or []],
     "the placeholder slice was reused, not deleted", placeholder)
s = (with_ports(items or [], HTTP) or [{}])[0]
md = s.get("metadata", {})
t.ok(md.get("labels") == {"team": "a", "kubernetes.io/service-name": "web",
                          MB: "endpointslice-controller.k8s.io"},
     "labels: the Service's, service-name, managed-by", json.dumps(md.get("labels")))
t.ok(md.get("generateName") == "web-" and (md.get("name") or "").startswith("web-"),
     "generateName <service>-", json.dumps(md))
refs = md.get("ownerReferences") or []
t.ok(len(refs) == 1 and refs[0].get("kind") == "Service" and refs[0].get("name") == "web"
     and refs[0].get("uid") == svc_uid and refs[0].get("controller") is True
     and refs[0].get("apiVersion") == "v1", "the controller ownerReference to the Service", json.dumps(refs))
t.ok(s.get("addressType") == "IPv4" and s.get("ports") == HTTP, "addressType IPv4 and the resolved port",
     json.dumps(s))
eps = {e["addresses"][0]: e for e in s.get("endpoints") or []}
uid1 = v1.read_namespaced_pod("web-1", "default").metadata.uid
e1, e2 = eps.get("10.42.0.1", {}), eps.get("10.42.0.2", {})
t.ok(e1.get("conditions") == {"ready": True, "serving": True, "terminating": False}
     and e2.get("conditions") == {"ready": False, "serving": False, "terminating": False},
     "conditions ready/serving/terminating", json.dumps([e1, e2]))
t.ok(e1.get("nodeName") == "node-a" and e1.get("zone") == "zone-1" and "zone" not in e2
     and e1.get("targetRef") == {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": uid1},
     "nodeName, zone from the node's label, targetRef", json.dumps([e1, e2]))
t.ok("endpoints.kubernetes.io/last-change-trigger-time" in (md.get("annotations") or {}),
     "the last-change-trigger-time annotation", json.dumps(md))

make_node("node-c")
ok = wait(lambda: addrs(with_ports(slices("web"), HTTP)) == ["10.42.0.1", "10.42.0.2", "10.42.0.3"])
t.ok(ok, "the pod on the unknown node is added once the node exists", json.dumps(slices("web"), indent=1))

k.ok("get endpointslices -l kubernetes.io/service-name=web", out=["IPv4", "8080", "10.42.0.1"],
     name="kubectl get endpointslices")
k.ok("describe svc web", out=["Endpoints:", "10.42.0.1:8080"], name="kubectl describe svc shows the endpoints")

# ---- headless ----
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
    "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}})
make_pod("db-0", {"app": "db"}, spec_extra={"hostname": "db-0", "subdomain": "db"})
set_status("db-0", "10.42.5.1", True)
items = wait(lambda: (lambda it: it if addrs(it) == ["10.42.5.1"] else None)(slices("db")))
e = ((items or [{}])[0].get("endpoints") or [{}])[0]
lab = (items or [{}])[0].get("metadata", {}).get("labels", {})
t.ok(e.get("hostname") == "db-0" and lab.get("service.kubernetes.io/headless") == "",
     "a headless Service: hostname on the endpoint, the headless label", json.dumps(items))

# ---- 250 pods: 3 slices ----
for i in range(250):
    make_pod("big-%03d" % i, {"app": "big"}, node="node-a" if i % 2 else "node-b")
    set_status("big-%03d" % i, "10.42.%d.%d" % (10 + i // 200, 1 + i % 200), True)
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "big"},
    "spec": {"selector": {"app": "big"}, "ports": [{"port": 80, "targetPort": 8080}]}})
items = wait(lambda: (lambda it: it if len(addrs(it)) == 250 else None)(slices("big")), 60)
sizes = sorted(len(x.get("endpoints") or []) for x in items or [])
t.ok(sizes == [50, 100, 100], "250 pods are split into slices of 100, 100 and 50", repr(sizes))
time.sleep(1.5)
rv0 = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in slices("big")}
time.sleep(1.5)
rv1 = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in slices("big")}
t.ok(rv0 == rv1 and len(rv0) == 3, "no slice is rewritten at rest", "%s\n%s" % (rv0, rv1))

victim = None
for x in slices("big"):
    if len(x.get("endpoints") or []) == 100:
        victim = x["endpoints"][0]["targetRef"]["name"]
        break
v1.delete_namespaced_pod(victim, "default")
items = wait(lambda: (lambda it: it if len(addrs(it)) == 249 else None)(slices("big")))
rv2 = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in items or []}
changed = [n for n in rv2 if rv2[n] != rv1.get(n)]
sizes = sorted(len(x.get("endpoints") or []) for x in items or [])
t.ok(len(changed) == 1 and set(rv2) == set(rv1) and sizes == [50, 99, 100],
     "a deleted pod changes only the slice that held it", "%s\n%s\n%s" % (rv1, rv2, sizes))
make_pod("big-new", {"app": "big"})
set_status("big-new", "10.42.20.1", True)
items = wait(lambda: (lambda it: it if len(addrs(it)) == 250 else None)(slices("big")))
rv3 = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in items or []}
changed = [n for n in rv3 if rv3[n] != rv2.get(n)]
sizes = sorted(len(x.get("endpoints") or []) for x in items or [])
t.ok(len(changed) == 1 and set(rv3) == set(rv2) and sizes == [50, 100, 100],
     "a new pod goes into one existing slice that has room (no new slice)", "%s\n%s\n%s" % (rv2, rv3, sizes))

# ---- selector-less service, deletion ----
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
    "spec": {"ports": [{"port": 5432}]}})
time.sleep(1.5)
t.ok(slices("ext") == [], "no slices for a Service without a selector")

# ---- mirroring of a selector-less Service's Endpoints ----
v1.create_namespaced_endpoints("default", {
    "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "labels": {"x": "y"}},
    "subsets": [{"addresses": [{"ip": "192.168.7.7"}], "notReadyAddresses": [{"ip": "192.168.7.8"}],
                 "ports": [{"name": "pg", "port": 5432}]}]})
ep_uid = v1.read_namespaced_endpoints("ext", "default").metadata.uid
items = wait(lambda: (lambda it: it if addrs(it) == ["192.168.7.7", "192.168.7.8"] else None)(slices("ext")))
m = (items or [{}])[0]
mmd = m.get("metadata", {})
t.ok(items and len(items) == 1 and mmd.get("labels") == {
    "x": "y", "kubernetes.io/service-name": "ext", MB: "endpointslicemirroring-controller.k8s.io"}
    and m.get("ports") == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    and addrs(items, ready=True) == ["192.168.7.7"] and addrs(items, ready=False) == ["192.168.7.8"],
    "a selector-less Service's Endpoints are mirrored into a slice (labels, ports, ready)",
    json.dumps(items, indent=1))
refs = mmd.get("ownerReferences") or [{}]
t.ok(refs[0].get("kind") == "Endpoints" and refs[0].get("uid") == ep_uid,
     "the mirrored slice is owned by the Endpoints", json.dumps(refs))
v1.patch_namespaced_endpoints("ext", "default", {"subsets": [
    {"addresses": [{"ip": "192.168.7.9"}], "ports": [{"name": "pg", "port": 5432}]}]})
t.ok(wait(lambda: addrs(slices("ext")) == ["192.168.7.9"]), "the mirror follows the Endpoints",
     json.dumps(slices("ext")))
v1.patch_namespaced_endpoints("ext", "default", {"metadata": {"labels": {
    "endpointslice.kubernetes.io/skip-mirror": "true"}}})
t.ok(wait(lambda: slices("ext") == []), "the skip-mirror label removes the mirrored slice",
     json.dumps(slices("ext")))
v1.delete_namespaced_service("big", "default")
t.ok(wait(lambda: slices("big") == []), "deleting the Service deletes its slices")

# ---- pods run by a hollow node ----
hollow = Hollow(srv, 1, prefix="hw-").start()
apps = client.AppsV1Api(api)
apps.create_namespaced_deployment("default", {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hw"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "hw"}},
             "template": {"metadata": {"labels": {"app": "hw"}}, "spec": {
                 "nodeName": "hw-0", "containers": [{"name": "c", "image": "busybox",
                                                     "ports": [{"name": "web", "containerPort": 8080}]}]}}}})
v1.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "hw"},
    "spec": {"selector": {"app": "hw"}, "ports": [{"port": 80, "targetPort": "web"}]}})


def hw_state():
    pods = [p for p in v1.list_namespaced_pod("default", label_selector="app=hw").items
            if p.status.pod_ip and not p.metadata.deletion_timestamp]
    try:
        ep = v1.read_namespaced_endpoints("hw", "default")
        ep_ips = sorted(a.ip for ss in ep.subsets or [] for a in ss.addresses or [])
    except ApiException:
        ep_ips = None
    sl = slices("hw")
    return sorted(p.status.pod_ip for p in pods), ep_ips, addrs(sl, ready=True), sl


def hw_ok(n):
    pods, ep_ips, sl_ips, sl = hw_state()
    return len(pods) == n and pods == ep_ips == sl_ips and all(
        e.get("nodeName") == "hw-0" for x in sl for e in x.get("endpoints") or [])


t.ok(wait(lambda: hw_ok(3), 60), "the hollow node's running pods are in the Endpoints and the slice",
     repr(hw_state()[:3]))
apps.patch_namespaced_deployment_scale("hw", "default", {"spec": {"replicas": 1}})
t.ok(wait(lambda: hw_ok(1), 60), "scaled down to 1: both follow", repr(hw_state()[:3]))
t.ok(hollow.stop_clean(), "the hollow agent exited cleanly", hollow.log_text()[-2000:])

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
srv.cleanup()

# ---- --max-endpoints-per-slice ----
srv2 = Server(extra_args=["--disable-agent", "--max-endpoints-per-slice", "2"]).start()
k2 = Kube(t, srv2)
api2 = config.new_client_from_config(config_file=srv2.kubeconfig)
v2 = client.CoreV1Api(api2)
make_node("node-a", vapi=v2)
for i in range(5):
    make_pod("p%d" % i, {"app": "x"}, vapi=v2)
    set_status("p%d" % i, "10.42.0.%d" % (i + 1), True, vapi=v2)
v2.create_namespaced_service("default", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
    "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]}})
items = wait(lambda: (lambda it: it if len(addrs(it)) == 5 else None)(slices("x", kk=k2)))
sizes = sorted(len(x.get("endpoints") or []) for x in items or [])
t.ok(sizes == [1, 2, 2], "--max-endpoints-per-slice 2 splits 5 endpoints into 2, 2, 1", repr(sizes))
k2.finish()
