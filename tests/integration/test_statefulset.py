"""The StatefulSet controller in a real `k3c server --disable-agent` with kubectl and the
Debian python3-kubernetes client. No agent runs pods: a thread here plays the kubelet
(Pending pods become Running and Ready) and can be paused to show ordering. Checked:
OrderedReady creates web-0 before web-1 and waits for web-0 to be Ready, pods are named
web-<ordinal> with hostname, subdomain, the controller-revision-hash, pod-name and
pod-index labels and a PVC www-web-<ordinal> per volumeClaimTemplate, the
ControllerRevision, status and `kubectl rollout status`, scale-down in reverse ordinal
order, a rolling update from the highest ordinal down, a partitioned one, Parallel
creation, upstream's events, and deletion with the pods."""
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

from kubernetes import client, config, watch  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
apps = client.AppsV1Api(api)
NOW = "2020-01-01T00:00:00Z"

stop = threading.Event()
kubelet_on = threading.Event()


def kubelet():
    while not stop.is_set():
        if kubelet_on.is_set():
            try:
                for p in v1.list_namespaced_pod("default").items:
                    if p.status.phase == "Pending" and not p.metadata.deletion_timestamp:
                        body = {"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": NOW}]}}
                        try:
                            v1.patch_namespaced_pod_status(p.metadata.name, "default", body)
                        except client.rest.ApiException:
                            pass
            except Exception:
                pass
        stop.wait(0.2)


threading.Thread(target=kubelet, daemon=True).start()

# every pod event of the test, in order
log = []


def watcher():
    w = watch.Watch()
    while not stop.is_set():
        try:
            for ev in w.stream(v1.list_namespaced_pod, "default", timeout_seconds=30):
                p = ev["object"]
                log.append((ev["type"], p.metadata.name, p.status.phase, bool(p.metadata.deletion_timestamp)))
                if stop.is_set():
                    return
        except Exception:
            time.sleep(0.2)


threading.Thread(target=watcher, daemon=True).start()


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def pods(sel="app=web"):
    return sorted((p for p in v1.list_namespaced_pod("default", label_selector=sel).items
                   if not p.metadata.deletion_timestamp), key=lambda p: p.metadata.name)


def names(sel="app=web"):
    return [p.metadata.name for p in pods(sel)]


def sts(name="web"):
    return apps.read_namespaced_stateful_set(name, "default")


def events(name):
    r = k.run(["get", "events", "--field-selector", "involvedObject.name=" + name, "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


STS = """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: %(name)s
spec:
  serviceName: %(name)s-svc
  replicas: %(replicas)d
%(extra)s  selector:
    matchLabels: {app: %(name)s}
  template:
    metadata:
      labels: {app: %(name)s}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        volumeMounts:
        - {name: www, mountPath: /usr/share/nginx/html}
  volumeClaimTemplates:
  - metadata:
      name: www
      labels: {tier: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"""

# ---- OrderedReady: web-0 first, web-1 only once web-0 is Ready ----
path = k.write("web.yaml", STS % {"name": "web", "replicas": 3, "extra": ""})
k.ok(["apply", "-f", path], out="statefulset.apps/web created")
t.ok(wait(lambda: names() == ["web-0"]), "web-0 is created first", names())
time.sleep(1.5)
t.ok(names() == ["web-0"], "web-1 waits while web-0 is not Ready", names())
kubelet_on.set()
t.ok(wait(lambda: names() == ["web-0", "web-1", "web-2"]), "with each pod Ready the next one follows: web-0..2",
     names())
added = [n for (typ, n, _, _) in log if typ == "ADDED" and n.startswith("web-")]
t.ok(added == ["web-0", "web-1", "web-2"], "pods were added in ordinal order", added)
s = sts()
rev = s.status.update_revision
p = pods()[1]
t.ok(p.spec.hostname == "web-1" and p.spec.subdomain == "web-svc"
     and p.metadata.labels.get("controller-revision-hash") == rev
     and p.metadata.labels.get("statefulset.kubernetes.io/pod-name") == "web-1"
     and p.metadata.labels.get("apps.kubernetes.io/pod-index") == "1"
     and p.metadata.owner_references[0].kind == "StatefulSet" and p.metadata.owner_references[0].controller
     and any(v.name == "www" and v.persistent_volume_claim and v.persistent_volume_claim.claim_name == "www-web-1"
             for v in p.spec.volumes or []),
     "web-1: hostname, subdomain, revision/pod-name/pod-index labels, the www-web-1 claim as volume",
     (p.metadata.labels, p.spec.hostname, p.spec.volumes))
pvcs = sorted(c.metadata.name for c in v1.list_namespaced_persistent_volume_claim("default").items)
pvc = v1.read_namespaced_persistent_volume_claim("www-web-0", "default")
t.ok(pvcs == ["www-web-0", "www-web-1", "www-web-2"]
     and pvc.metadata.labels == {"tier": "data", "app": "web"}
     and pvc.spec.resources.requests["storage"] == "1Gi",
     "one PVC per pod from volumeClaimTemplates: www-web-<ordinal>, labelled", (pvcs, pvc.metadata.labels))
revs = apps.list_namespaced_controller_revision("default").items
t.ok(len(revs) == 1 and revs[0].metadata.name == rev and rev.startswith("web-") and revs[0].revision == 1
     and revs[0].metadata.owner_references[0].kind == "StatefulSet",
     "one ControllerRevision web-<hash>, revision 1, owned by the set", [(r.metadata.name, r.revision) for r in revs])
s = wait(lambda: (lambda s: s if (s.status.ready_replicas or 0) == 3 else None)(sts()))
st = s.status if s else None
t.ok(st and st.replicas == 3 and st.ready_replicas == 3 and st.current_replicas == 3 and st.updated_replicas == 3
     and st.current_revision == rev and st.update_revision == rev and st.observed_generation == s.metadata.generation,
     "status: 3 replicas ready, current and updated, both revisions the same", st)
k.ok(["rollout", "status", "sts/web", "--timeout=30s"],
     out="partitioned roll out complete: 3 new pods have been updated...")
evs = [e for e in events("web") if e["reason"] == "SuccessfulCreate"]
msgs = {e["message"] for e in evs}
t.ok("create Pod web-0 in StatefulSet web successful" in msgs
     and "create Claim www-web-0 Pod web-0 in StatefulSet web success" in msgs,
     "SuccessfulCreate events for pods and claims, in upstream's words", sorted(msgs))

# ---- rolling update: highest ordinal first, one at a time ----
mark = len(log)
k.ok(["set", "image", "sts/web", "nginx=nginx:1.26"], out="image updated")
k.ok(["rollout", "status", "sts/web", "--timeout=60s"], out="partitioned roll out complete: 3 new pods have been updated...",
     name="rollout status waits for the rolling update")
deleted = [n for (typ, n, _, d) in log[mark:] if typ == "DELETED"]
t.ok(deleted == ["web-2", "web-1", "web-0"], "the update replaced web-2, then web-1, then web-0", deleted)
s = sts()
t.ok(s.status.current_revision == s.status.update_revision != rev
     and {p.spec.containers[0].image for p in pods()} == {"nginx:1.26"}
     and {p.metadata.labels["controller-revision-hash"] for p in pods()} == {s.status.update_revision},
     "all pods run the new template at the new revision", s.status)
t.ok(len(apps.list_namespaced_controller_revision("default").items) == 2, "two ControllerRevisions now")

# ---- partition 2: only web-2 is updated ----
k.ok(["patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}'], out="patched")
k.ok(["set", "image", "sts/web", "nginx=nginx:1.27"], out="image updated")
k.ok(["rollout", "status", "sts/web", "--timeout=60s"],
     out="partitioned roll out complete: 1 new pods have been updated...",
     name="rollout status with partition 2: one new pod")
imgs = {p.metadata.name: p.spec.containers[0].image for p in pods()}
t.ok(imgs == {"web-0": "nginx:1.26", "web-1": "nginx:1.26", "web-2": "nginx:1.27"},
     "below the partition the pods keep the old template", imgs)

# ---- scale down: in reverse ordinal order ----
mark = len(log)
k.ok(["scale", "sts", "web", "--replicas=1"], out="scaled")
t.ok(wait(lambda: names() == ["web-0"]), "scaled to 1: web-0 remains", names())
deleted = [n for (typ, n, _, d) in log[mark:] if typ == "DELETED"]
t.ok(deleted == ["web-2", "web-1"], "web-2 was deleted before web-1", deleted)
t.ok([e for e in events("web") if e["message"] == "delete Pod web-2 in StatefulSet web successful"],
     "a SuccessfulDelete event 'delete Pod web-2 in StatefulSet web successful'")
pvcs = sorted(c.metadata.name for c in v1.list_namespaced_persistent_volume_claim("default").items)
t.ok(pvcs == ["www-web-0", "www-web-1", "www-web-2"], "the claims are retained (whenScaled: Retain)", pvcs)
k.ok(["scale", "sts", "web", "--replicas=2"], out="scaled")
t.ok(wait(lambda: names() == ["web-0", "web-1"]), "scaled back to 2: web-1 again", names())

# ---- Parallel: all pods at once ----
kubelet_on.clear()
path = k.write("par.yaml", STS % {"name": "par", "replicas": 3, "extra": "  podManagementPolicy: Parallel\n"})
k.ok(["apply", "-f", path], out="statefulset.apps/par created")
t.ok(wait(lambda: names("app=par") == ["par-0", "par-1", "par-2"]),
     "Parallel: three pods without waiting for readiness", names("app=par"))
kubelet_on.set()

# ---- deleting the set deletes its pods ----
k.ok(["delete", "sts", "par"], out='statefulset.apps "par" deleted')
t.ok(wait(lambda: not names("app=par")), "deleting the StatefulSet removes its pods", names("app=par"))

stop.set()
k.finish()
