"""The Deployment controller in a real `k3c server --disable-agent` with kubectl. No
agent runs pods, so a thread here plays the kubelet: it marks every Pending pod Running
and Ready through the status subresource (what hollow nodes will do). Checked: the
ReplicaSet with pod-template-hash and the revision annotations, ScalingReplicaSet
events in `kubectl describe`, scaling 3 -> 10 -> 2, a rolling update that never has
more than replicas + maxSurge pods nor fewer than replicas - maxUnavailable ready,
`kubectl rollout status|history|undo|pause|resume|restart`, and Recreate."""
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

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
apps = client.AppsV1Api(api)

stop = threading.Event()
violations = []
samples = []


def kubelet():
    """Mark Pending pods Running and Ready; sample counts for the rollout checks."""
    while not stop.is_set():
        try:
            for p in v1.list_namespaced_pod("default").items:
                if p.status.phase == "Pending" and not p.metadata.deletion_timestamp:
                    body = {"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}
                    try:
                        v1.patch_namespaced_pod_status(p.metadata.name, "default", body)
                    except client.rest.ApiException:
                        pass
        except Exception as e:  # the server restarting or stopping
            samples.append(("error", str(e)))
        stop.wait(0.2)


def pods(selector):
    return v1.list_namespaced_pod("default", label_selector=selector).items


def ready(p):
    return any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def rss(selector="app=web"):
    return apps.list_namespaced_replica_set("default", label_selector=selector).items


th = threading.Thread(target=kubelet, daemon=True)
th.start()

# ---- create ----
k.ok(["create", "deployment", "web", "--image=nginx:1.25", "--replicas=3"],
     out="deployment.apps/web created")
sets = wait(lambda: [r for r in rss() if (getattr(r.status, 'replicas', 0) or 0) == 3])
t.ok(len(rss()) == 1 and sets, "one ReplicaSet with 3 pods", [(r.metadata.name, r.status) for r in rss()])
rs = rss()[0]
h = rs.metadata.labels.get("pod-template-hash", "")
t.ok(rs.metadata.name == "web-" + h and h and all(c in "bcdfghjklmnpqrstvwxz2456789" for c in h)
     and rs.spec.selector.match_labels.get("pod-template-hash") == h
     and rs.spec.template.metadata.labels.get("pod-template-hash") == h,
     "the ReplicaSet is web-<pod-template-hash> with the hash in labels, selector and template",
     rs.metadata)
ann = rs.metadata.annotations or {}
t.ok(ann.get("deployment.kubernetes.io/revision") == "1"
     and ann.get("deployment.kubernetes.io/desired-replicas") == "3"
     and ann.get("deployment.kubernetes.io/max-replicas") == "4",
     "revision 1, desired-replicas 3, max-replicas 4 (25% surge rounds up)", ann)
t.ok(rs.metadata.owner_references and rs.metadata.owner_references[0].kind == "Deployment"
     and rs.metadata.owner_references[0].controller, "the Deployment is its controller",
     rs.metadata.owner_references)
d = wait(lambda: (lambda d: d if (getattr(d.status, 'available_replicas', 0) or 0) == 3 else None)(
    apps.read_namespaced_deployment("web", "default")))
conds = {c.type: c for c in (d.status.conditions or [])} if d else {}
t.ok(d and d.status.updated_replicas == 3 and d.status.ready_replicas == 3
     and conds.get("Available") and conds["Available"].status == "True"
     and conds["Available"].reason == "MinimumReplicasAvailable"
     and conds.get("Progressing") and conds["Progressing"].reason == "NewReplicaSetAvailable"
     and conds["Progressing"].message == 'ReplicaSet "%s" has successfully progressed.' % rs.metadata.name,
     "status: 3 updated/ready/available, Available True, Progressing NewReplicaSetAvailable",
     d.status if d else None)
k.ok(["rollout", "status", "deployment/web", "--timeout=30s"], out='deployment "web" successfully rolled out')
k.ok(["describe", "deployment", "web"], out=["ScalingReplicaSet", "deployment-controller",
                                             "Scaled up replica set %s to 3" % rs.metadata.name,
                                             "NewReplicaSet:", "MinimumReplicasAvailable"],
     name="kubectl describe deployment shows the ScalingReplicaSet event and the conditions")

# ---- scale 3 -> 10 -> 2 ----
k.ok(["scale", "deployment", "web", "--replicas=10"], out="scaled")
t.ok(wait(lambda: len(pods("app=web")) == 10), "scaled to 10: ten pods", len(pods("app=web")))
k.ok(["scale", "deployment", "web", "--replicas=2"], out="scaled")
t.ok(wait(lambda: len(pods("app=web")) == 2), "scaled to 2: two pods", len(pods("app=web")))
k.ok(["describe", "deployment", "web"], out=["Scaled up replica set %s to 10 from 3" % rs.metadata.name,
                                             "Scaled down replica set %s to 2 from 10" % rs.metadata.name],
     name="the scaling events say 'to N from M'")
k.ok(["rollout", "status", "deployment/web", "--timeout=30s"], out="successfully rolled out")

# ---- rolling update within maxSurge / maxUnavailable ----
k.ok(["patch", "deployment", "web", "-p",
      '{"spec":{"replicas":4,"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}}}'],
     out="patched")
k.ok(["rollout", "status", "deployment/web", "--timeout=30s"], out="successfully rolled out")
watching = [True]
bad = []


def sampler():
    while watching[0]:
        ps = [p for p in pods("app=web") if not p.metadata.deletion_timestamp]
        n_ready = sum(1 for p in ps if ready(p))
        if len(ps) > 4 + 1:
            bad.append("%d pods > replicas + maxSurge" % len(ps))
        if n_ready < 4 - 1:
            bad.append("%d ready < replicas - maxUnavailable" % n_ready)
        time.sleep(0.05)


sm = threading.Thread(target=sampler, daemon=True)
sm.start()
k.ok(["set", "image", "deployment/web", "nginx=nginx:1.26"], out="image updated")
k.ok(["rollout", "status", "deployment/web", "--timeout=60s"], out="successfully rolled out",
     name="rollout status returns once the rolling update is complete")
watching[0] = False
sm.join()
t.ok(not bad, "during the update: never more than 5 pods, never fewer than 3 ready", bad[:10])
images = {p.spec.containers[0].image for p in pods("app=web")}
t.ok(images == {"nginx:1.26"} and len(pods("app=web")) == 4, "all 4 pods run the new image", images)
r = k.ok(["rollout", "history", "deployment/web"], out=["REVISION", "1", "2"])

# ---- undo: the old ReplicaSet becomes the new one again, with revision 3 ----
old_name = rs.metadata.name
k.ok(["rollout", "undo", "deployment/web"], out="rolled back")
k.ok(["rollout", "status", "deployment/web", "--timeout=60s"], out="successfully rolled out")
cur = [r for r in rss() if (r.spec.replicas or 0) > 0]
t.ok(len(cur) == 1 and cur[0].metadata.name == old_name
     and cur[0].metadata.annotations.get("deployment.kubernetes.io/revision") == "3",
     "rollout undo scales the revision-1 ReplicaSet back up and makes it revision 3",
     [(r.metadata.name, r.spec.replicas, r.metadata.annotations) for r in rss()])
t.ok({p.spec.containers[0].image for p in pods("app=web")} == {"nginx:1.25"},
     "the pods run the previous image again")
d = apps.read_namespaced_deployment("web", "default")
t.ok(d.metadata.annotations.get("deployment.kubernetes.io/revision") == "3",
     "the Deployment's revision annotation follows", d.metadata.annotations)

# ---- pause / resume / restart ----
k.ok(["rollout", "pause", "deployment/web"], out="paused")
n_before = len(rss())
k.ok(["set", "image", "deployment/web", "nginx=nginx:1.27"], out="image updated")
time.sleep(1.5)
t.ok(len(rss()) == n_before, "a paused Deployment makes no new ReplicaSet", len(rss()))
d = wait(lambda: (lambda d: d if any(c.reason == "DeploymentPaused" for c in getattr(d.status, 'conditions', None) or [])
                  else None)(apps.read_namespaced_deployment("web", "default")), timeout=10)
t.ok(d is not None, "Progressing says DeploymentPaused")
k.ok(["rollout", "resume", "deployment/web"], out="resumed")
k.ok(["rollout", "status", "deployment/web", "--timeout=60s"], out="successfully rolled out")
t.ok({p.spec.containers[0].image for p in pods("app=web")} == {"nginx:1.27"}, "resumed: the new image rolls out")
k.ok(["rollout", "restart", "deployment/web"], out="restarted")
k.ok(["rollout", "status", "deployment/web", "--timeout=60s"], out="successfully rolled out")
t.ok(len(rss()) == n_before + 2, "restart rolls out one more ReplicaSet", len(rss()))

# ---- revisionHistoryLimit ----
k.ok(["patch", "deployment", "web", "-p", '{"spec":{"revisionHistoryLimit":1}}'], out="patched")
t.ok(wait(lambda: len(rss()) == 2), "revisionHistoryLimit 1 keeps the new ReplicaSet and one old one",
     [r.metadata.name for r in rss()])

# ---- Recreate ----
k.ok(["create", "deployment", "rec", "--image=nginx:1.25", "--replicas=2"], out="created")
k.ok(["patch", "deployment", "rec", "-p", '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}'],
     out="patched")
k.ok(["rollout", "status", "deployment/rec", "--timeout=30s"], out="successfully rolled out")
mixed = []
watching[0] = True


def rec_sampler():
    while watching[0]:
        imgs = {p.spec.containers[0].image for p in pods("app=rec") if not p.metadata.deletion_timestamp}
        if len(imgs) > 1:
            mixed.append(imgs)
        time.sleep(0.05)


sm = threading.Thread(target=rec_sampler, daemon=True)
sm.start()
k.ok(["set", "image", "deployment/rec", "nginx=nginx:1.26"], out="image updated")
k.ok(["rollout", "status", "deployment/rec", "--timeout=60s"], out="successfully rolled out")
watching[0] = False
sm.join()
t.ok(not mixed, "Recreate: old and new pods never exist together", mixed[:5])
t.ok({p.spec.containers[0].image for p in pods("app=rec")} == {"nginx:1.26"}
     and len(pods("app=rec")) == 2, "Recreate: two new pods")

stop.set()
th.join()
# Regression: stopping the server while the controllers have requests in flight
# leaked their per-request state (found by LeakSanitizer at exit).
k.ok(["create", "deployment", "burst", "--image=nginx:1.25", "--replicas=200"], out="created")
time.sleep(0.3)
k.finish()
