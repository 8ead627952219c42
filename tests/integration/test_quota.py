"""ResourceQuota in a real `k3c server --disable-agent` (the resource quota controller and the
quota admission plugin), driven by kubectl and the Debian python3-kubernetes client. Checked:
status.hard/status.used filled by the controller (pods, compute requests and limits, services,
node ports, load balancers, configmaps, secrets, PVCs and requests.storage, count/<resource>.<group>);
the fourth pod refused under pods=3 with upstream's message and 403; a pod without the
constrained values refused with upstream's "failed quota: ... must specify ..." message; usage
charged at admission so parallel creates cannot overshoot; usage given back when pods are
deleted or finish; `kubectl describe quota` showing Used against Hard; dry runs not charged."""
import json
import os
import sys
import threading
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
apps = client.AppsV1Api(api)


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def ns(name):
    v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def quota(name, namespace, hard):
    v1.create_namespaced_resource_quota(namespace, {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard}})


def status(name, namespace):
    q = json.loads(k.run(["get", "quota", name, "-n", namespace, "-o", "json"]).stdout or "{}")
    return q.get("status", {})


def used_is(name, namespace, want):
    st = status(name, namespace)
    return st if all(st.get("used", {}).get(kk) == v for kk, v in want.items()) else None


def pod(name, namespace, resources=None):
    c = {"name": "c", "image": "busybox"}
    if resources is not None:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c]}}


RES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}

# ---- pods and compute ----
ns("q1")
quota("compute", "q1", {"pods": "3", "requests.cpu": "1", "requests.memory": "1Gi",
                        "limits.cpu": "2", "limits.memory": "2Gi"})
st = wait(lambda: used_is("compute", "q1", {"pods": "0", "requests.cpu": "0"}))
t.ok(st and st.get("hard") == {"pods": "3", "requests.cpu": "1", "requests.memory": "1Gi",
                               "limits.cpu": "2", "limits.memory": "2Gi"},
     "the controller fills status.hard and status.used (zeros)", json.dumps(st))
for i in range(3):
    v1.create_namespaced_pod("q1", pod("p%d" % i, "q1", RES))
st = status("compute", "q1")
t.ok(st.get("used") == {"pods": "3", "requests.cpu": "300m", "requests.memory": "192Mi",
                        "limits.cpu": "600m", "limits.memory": "384Mi"},
     "creates are charged at admission (no wait for the controller)", json.dumps(st))
st = wait(lambda: used_is("compute", "q1", {"pods": "3", "requests.cpu": "300m", "limits.memory": "384Mi"}))
t.ok(st, "the controller's recount agrees", json.dumps(status("compute", "q1")))

r = k.run(["create", "-n", "q1", "-f", "-"], input=json.dumps(pod("p3", "q1", RES)))
want = ('Error from server (Forbidden): error when creating "STDIN": pods "p3" is forbidden: '
        'exceeded quota: compute, requested: pods=1, used: pods=3, limited: pods=3')
t.ok(r.returncode != 0 and want in r.stderr, "the fourth pod is refused with upstream's message",
     k.diag("create", r))
try:
    v1.create_namespaced_pod("q1", pod("p3", "q1", RES))
    code, body = 201, {}
except ApiException as e:
    code, body = e.status, json.loads(e.body)
t.ok(code == 403 and body.get("reason") == "Forbidden" and body.get("details", {}).get("kind") == "pods",
     "403 Forbidden with details", json.dumps(body))

r = k.ok("describe quota compute -n q1", name="kubectl describe quota")
lines = [ln.split() for ln in r.stdout.splitlines()]
t.ok(["Resource", "Used", "Hard"] in lines and ["pods", "3", "3"] in lines
     and ["requests.cpu", "300m", "1"] in lines and ["limits.memory", "384Mi", "2Gi"] in lines,
     "kubectl describe quota shows Used against Hard", r.stdout)

# deleting a pod gives its share back
v1.delete_namespaced_pod("p0", "q1")
st = wait(lambda: used_is("compute", "q1", {"pods": "2", "requests.cpu": "200m"}))
t.ok(st, "a deleted pod's usage is given back", json.dumps(status("compute", "q1")))
r = k.run(["create", "-n", "q1", "-f", "-"], input=json.dumps(pod("p4", "q1", RES)))
t.ok(r.returncode == 0 and "pod/p4 created" in r.stdout, "a pod fits again after the deletion",
     k.diag("create", r))
# a finished pod holds no compute
v1.patch_namespaced_pod_status("p1", "q1", {"status": {"phase": "Succeeded"}})
st = wait(lambda: used_is("compute", "q1", {"pods": "2", "requests.cpu": "200m"}))
t.ok(st, "a Succeeded pod no longer counts against pods and compute", json.dumps(status("compute", "q1")))

# a more-than-one-resource overshoot names each resource
big = {"requests": {"cpu": "900m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
r = k.run(["create", "-n", "q1", "-f", "-"], input=json.dumps(pod("huge", "q1", big)))
want = ("exceeded quota: compute, requested: requests.cpu=900m,requests.memory=1Gi, "
        "used: requests.cpu=200m,requests.memory=128Mi, limited: requests.cpu=1,requests.memory=1Gi")
t.ok(r.returncode != 0 and want in r.stderr, "every exceeded resource is listed, sorted", k.diag("create", r))

# missing values
r = k.run(["create", "-n", "q1", "-f", "-"], input=json.dumps(
    pod("bare", "q1", {"requests": {"cpu": "100m"}})))
want = ('pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: c; '
        'limits.memory for: c; requests.memory for: c')
t.ok(r.returncode != 0 and want in r.stderr, "a pod without the constrained values: upstream's "
     "'failed quota: ... must specify' message", k.diag("create", r))

# dry run is not charged
before = status("compute", "q1").get("used")
r = k.run(["create", "-n", "q1", "--dry-run=server", "-f", "-"], input=json.dumps(pod("dry", "q1", RES)))
time.sleep(0.5)
t.ok(r.returncode == 0 and status("compute", "q1").get("used") == before, "a server dry run is not charged",
     k.diag("create --dry-run=server", r) + json.dumps([before, status("compute", "q1").get("used")]))

# ---- parallel creates cannot overshoot ----
ns("q2")
quota("three", "q2", {"pods": "3"})
wait(lambda: used_is("three", "q2", {"pods": "0"}))
results = []


def create(i):
    try:
        client.CoreV1Api(config.new_client_from_config(config_file=srv.kubeconfig)).create_namespaced_pod(
            "q2", pod("c%d" % i, "q2"))
        results.append(201)
    except ApiException as e:
        results.append(e.status)


threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
for th in threads:
    th.start()
for th in threads:
    th.join()
n_pods = len(v1.list_namespaced_pod("q2").items)
t.ok(sorted(results) == [201] * 3 + [403] * 5 and n_pods == 3,
     "8 parallel creates under pods=3: exactly 3 admitted", "%s, %d pods" % (sorted(results), n_pods))

# ---- object counts ----
ns("q3")
# The root CA publisher puts kube-root-ca.crt in every namespace (counted, as upstream):
# wait for it so the base count does not move under the test.
wait(lambda: any(c.metadata.name == "kube-root-ca.crt" for c in v1.list_namespaced_config_map("q3").items))
base_cm = len(v1.list_namespaced_config_map("q3").items)
quota("objects", "q3", {"configmaps": str(base_cm + 2), "secrets": "5", "services": "2",
                        "services.nodeports": "1", "services.loadbalancers": "1",
                        "persistentvolumeclaims": "2", "requests.storage": "3Gi",
                        "count/deployments.apps": "1"})
st = wait(lambda: used_is("objects", "q3", {"configmaps": str(base_cm), "services": "0",
                                            "count/deployments.apps": "0"}))
t.ok(st, "object counts start at what exists", json.dumps(status("objects", "q3")))
for i in range(2):
    v1.create_namespaced_config_map("q3", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm%d" % i}})
r = k.run(["create", "configmap", "cm2", "-n", "q3"])
want = ('configmaps "cm2" is forbidden: exceeded quota: objects, requested: configmaps=1, '
        'used: configmaps=%d, limited: configmaps=%d' % (base_cm + 2, base_cm + 2))
t.ok(r.returncode != 0 and want in r.stderr, "configmaps counted", k.diag("create configmap", r))
v1.create_namespaced_secret("q3", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
v1.create_namespaced_service("q3", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
                                    "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
r = k.run(["create", "service", "loadbalancer", "lb", "--tcp=80:80", "-n", "q3"])
t.ok(r.returncode != 0 and "exceeded quota: objects, requested: services.nodeports=1, used: "
     "services.nodeports=1, limited: services.nodeports=1" in r.stderr,
     "services.nodeports counted for NodePort and LoadBalancer services", k.diag("create service", r))
v1.create_namespaced_persistent_volume_claim("q3", {
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pvc1"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}})
r = k.run(["create", "-n", "q3", "-f", "-"], input=json.dumps({
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pvc2"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}))
t.ok(r.returncode != 0 and "requested: requests.storage=2Gi, used: requests.storage=2Gi, limited: "
     "requests.storage=3Gi" in r.stderr, "requests.storage counted", k.diag("create pvc", r))
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d%d"},
       "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
apps.create_namespaced_deployment("q3", json.loads(json.dumps(dep).replace("d%d", "d0")))
r = k.run(["create", "-n", "q3", "-f", "-"], input=json.dumps(dep).replace("d%d", "d1"))
t.ok(r.returncode != 0 and 'deployments.apps "d1" is forbidden: exceeded quota: objects, requested: '
     'count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1' in r.stderr,
     "count/deployments.apps counted", k.diag("create deployment", r))
st = wait(lambda: used_is("objects", "q3", {"configmaps": str(base_cm + 2), "secrets": "1", "services": "1",
                                            "services.nodeports": "1", "services.loadbalancers": "0",
                                            "persistentvolumeclaims": "1", "requests.storage": "2Gi",
                                            "count/deployments.apps": "1"}))
t.ok(st, "the controller's recount of every counted kind", json.dumps(status("objects", "q3")))
v1.delete_namespaced_config_map("cm0", "q3")
st = wait(lambda: used_is("objects", "q3", {"configmaps": str(base_cm + 1)}), 40)
t.ok(st, "a deleted configmap is given back at the next recount", json.dumps(status("objects", "q3")))

k.finish()
