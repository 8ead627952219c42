"""The Debian python3-kubernetes client against a real `k3c server --disable-agent`:
list, create, read, patch (three types), replace, delete and watch pods, and
the ApiException statuses it raises."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
try:
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
except ImportError as e:
    print("Bail out! python3-kubernetes is not installed (%s)" % e)
    sys.exit(1)

# No scheduler: the watch below counts exactly the test's own writes to its pods.
srv = Server(extra_args=["--disable-agent", "--disable-scheduler"]).start()
api_client = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api_client)
apps = client.AppsV1Api(api_client)
NS = "default"


def pod(name, labels=None, image="busybox:1.36"):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image=image,
                                                             command=["sleep", "3600"])]))


def raises(fn, status):
    try:
        fn()
    except ApiException as e:
        return e.status == status, e
    return False, "no exception"


# ---- version and list
ver = client.VersionApi(api_client).get_code()
t.ok(ver.major == "1" and ver.minor.startswith("32") and ver.git_version.startswith("v1.32"),
     "get_code reports v1.32", ver)
pl = v1.list_namespaced_pod(NS)
t.ok(pl.items == [] and pl.metadata.resource_version, "list_namespaced_pod on an empty namespace", pl)
nsl = v1.list_namespace()
t.ok({"default", "kube-system"} <= {n.metadata.name for n in nsl.items}, "list_namespace",
     [n.metadata.name for n in nsl.items])

# ---- watch in a thread while another client writes
events = []
start_rv = pl.metadata.resource_version


def watcher():
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, NS, resource_version=start_rv, timeout_seconds=30):
        events.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.labels or {}))
        if ev["type"] == "DELETED" and ev["object"].metadata.name == "py1":
            w.stop()


th = threading.Thread(target=watcher, daemon=True)
th.start()
time.sleep(0.5)

# ---- create, read
created = v1.create_namespaced_pod(NS, pod("py1"))
t.ok(created.metadata.name == "py1" and created.metadata.uid and created.status.phase == "Pending"
     and created.spec.restart_policy == "Always", "create_namespaced_pod returns the defaulted pod", created)
got = v1.read_namespaced_pod("py1", NS)
t.ok(got.metadata.uid == created.metadata.uid and got.spec.containers[0].image == "busybox:1.36",
     "read_namespaced_pod", got.metadata)
v1.create_namespaced_pod(NS, pod("py2", {"app": "other"}))
ok, e = raises(lambda: v1.create_namespaced_pod(NS, pod("py1")), 409)
t.ok(ok and '"reason":"AlreadyExists"' in e.body.replace(" ", ""), "creating py1 twice raises 409 AlreadyExists", e)
ok, e = raises(lambda: v1.read_namespaced_pod("nope", NS), 404)
t.ok(ok and '"reason":"NotFound"' in e.body.replace(" ", ""), "reading a missing pod raises 404", e)
bad = pod("py-bad")
bad.spec.containers[0].image = None
ok, e = raises(lambda: v1.create_namespaced_pod(NS, bad), 422)
t.ok(ok and "spec.containers[0].image" in e.body, "an invalid pod raises 422 naming the field", e)

# ---- list with selectors
sel = v1.list_namespaced_pod(NS, label_selector="app=py")
t.ok([p.metadata.name for p in sel.items] == ["py1"], "list with label_selector", [p.metadata.name for p in sel.items])
sel = v1.list_namespaced_pod(NS, field_selector="metadata.name=py2")
t.ok([p.metadata.name for p in sel.items] == ["py2"], "list with field_selector", [p.metadata.name for p in sel.items])
page = v1.list_namespaced_pod(NS, limit=1)
rest = v1.list_namespaced_pod(NS, limit=1, _continue=page.metadata._continue)
t.ok(len(page.items) == 1 and page.metadata._continue and len(rest.items) == 1
     and rest.items[0].metadata.name != page.items[0].metadata.name, "paging with limit and _continue",
     (page.metadata, rest.metadata))
allp = v1.list_pod_for_all_namespaces()
t.ok({"py1", "py2"} <= {p.metadata.name for p in allp.items}, "list_pod_for_all_namespaces")

# ---- patch: the client picks the content type from the body
p = v1.patch_namespaced_pod("py1", NS, {"metadata": {"labels": {"stage": "one"}}})
t.ok(p.metadata.labels == {"app": "py", "stage": "one"}, "patch with a dict (strategic merge)", p.metadata.labels)
p = v1.patch_namespaced_pod("py1", NS, [{"op": "add", "path": "/metadata/labels/json", "value": "yes"}])
t.ok(p.metadata.labels.get("json") == "yes", "patch with a list (JSON patch)", p.metadata.labels)
p = v1.patch_namespaced_pod("py1", NS, {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}})
t.ok(len(p.spec.containers) == 1 and p.spec.containers[0].image == "busybox:1.37"
     and p.spec.containers[0].command == ["sleep", "3600"], "strategic merge patch keeps the container's other fields",
     p.spec.containers)
cm = v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="pycm"),
                                                            data={"a": "1", "b": "2"}))
api_client.set_default_header("Content-Type", "application/merge-patch+json")
m = v1.patch_namespaced_config_map("pycm", NS, {"data": {"a": None, "c": "3"}})
api_client.default_headers.pop("Content-Type", None)
t.ok(m.data == {"b": "2", "c": "3"}, "merge patch removes a key set to null", m.data)

# ---- replace with and without a stale resourceVersion
cur = v1.read_namespaced_config_map("pycm", NS)
cur.data["d"] = "4"
rep = v1.replace_namespaced_config_map("pycm", NS, cur)
t.ok(rep.data.get("d") == "4" and int(rep.metadata.resource_version) > int(cur.metadata.resource_version),
     "replace with the current resourceVersion", rep.metadata)
ok, e = raises(lambda: v1.replace_namespaced_config_map("pycm", NS, cur), 409)
t.ok(ok and '"reason":"Conflict"' in e.body.replace(" ", ""), "replace with a stale resourceVersion raises 409", e)

# ---- apps: a deployment round trip
dep = apps.create_namespaced_deployment(NS, {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pyd"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "pyd"}},
             "template": {"metadata": {"labels": {"app": "pyd"}},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
t.ok(dep.spec.replicas == 2 and dep.metadata.generation == 1, "create_namespaced_deployment", dep.metadata)
sc = apps.patch_namespaced_deployment_scale("pyd", NS, {"spec": {"replicas": 3}})
t.ok(sc.spec.replicas == 3 and apps.read_namespaced_deployment("pyd", NS).spec.replicas == 3,
     "patch the scale subresource", sc)
apps.delete_namespaced_deployment("pyd", NS)

# ---- delete and the watch
st = v1.delete_namespaced_pod("py1", NS)
t.ok(getattr(getattr(st, "metadata", None), "name", None) == "py1",
     "delete_namespaced_pod answers with the deleted pod", st)
ok, e = raises(lambda: v1.read_namespaced_pod("py1", NS), 404)
t.ok(ok, "the deleted pod is gone", e)
v1.delete_namespaced_pod("py2", NS, body=client.V1DeleteOptions(grace_period_seconds=0))
v1.delete_namespaced_config_map("pycm", NS)
th.join(20)
t.ok(not th.is_alive(), "the watch ended after seeing py1 deleted", events)
names = [(typ, name) for typ, name, _ in events if name == "py1"]
t.ok(names[0] == ("ADDED", "py1") and names[-1] == ("DELETED", "py1")
     and names.count(("MODIFIED", "py1")) == 3, "watch saw py1 ADDED, MODIFIED three times, DELETED", events)
t.ok(any(lbl.get("stage") == "one" for typ, name, lbl in events if typ == "MODIFIED"),
     "a MODIFIED event carries the patched labels", events)
t.ok(("ADDED", "py2") in [(a, b) for a, b, _ in events], "watch saw py2 ADDED", events)

# a watch from a resourceVersion replays from there
evs = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_pod, NS, resource_version=start_rv, timeout_seconds=3):
    evs.append((ev["type"], ev["object"].metadata.name))
t.ok(evs[:1] == [("ADDED", "py1")] and ("DELETED", "py2") in evs, "a second watch replays the history", evs)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
srv.cleanup()
t.done()
