"""The node lifecycle controller in a real `k3c server --disable-agent` with shortened
timings (--node-monitor-grace-period 3, --default-*-toleration-seconds 2). The test plays
the kubelet: it creates a Node with a Ready condition and renews its Lease in
kube-node-lease. Checked: DefaultTolerationSeconds admission adds the two NoExecute
tolerations with the flag's seconds; a node renewing its Lease stays Ready and untainted;
when renewals stop it becomes Ready=Unknown (NodeStatusUnknown, upstream's message) with
the unreachable NoSchedule and NoExecute taints; its pods are deleted once their
toleration expires (TaintManagerEviction event) while a pod tolerating the taint forever
stays; a fresh Ready status removes the taints; a pod with no toleration on a node with a
NoExecute taint goes at once."""
import datetime
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent", "--node-monitor-grace-period", "3",
                         "--default-not-ready-toleration-seconds", "2",
                         "--default-unreachable-toleration-seconds", "2"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
coord = client.CoordinationV1Api(api)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ready_status(name):
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    ts = now()[:19] + "Z"
    v1.patch_node_status(name, {"status": {"capacity": alloc, "allocatable": alloc, "conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
         "lastHeartbeatTime": ts, "lastTransitionTime": ts}]}})


def make_node(name):
    v1.create_node({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    ready_status(name)
    coord.create_namespaced_lease("kube-node-lease", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now()}})


renew = {"h1": True}
hold = set()  # nodes whose kubelet does not finish graceful deletions for now
stop = threading.Event()


def kubelet():
    """Renew the Leases of the live nodes and finish graceful deletions on them (a pod
    bound to a node with a live Lease is deleted gracefully: its kubelet deletes it)."""
    while not stop.is_set():
        for name, on in list(renew.items()):
            if on:
                try:
                    coord.patch_namespaced_lease(name, "kube-node-lease", {"spec": {"renewTime": now()}})
                    for p in v1.list_namespaced_pod("default", field_selector="spec.nodeName=" + name).items:
                        if p.metadata.deletion_timestamp and name not in hold:
                            v1.delete_namespaced_pod(p.metadata.name, "default", grace_period_seconds=0)
                except client.rest.ApiException:
                    pass
        stop.wait(0.5)


def wait(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def ready(name):
    for c in v1.read_node(name).status.conditions or []:
        if c.type == "Ready":
            return c
    return None


def taints(name):
    spec = v1.read_node(name).spec
    return sorted((x.key, x.effect) for x in ((spec and spec.taints) or []))


def going(name):
    """Gone, or being deleted (a pod on a node whose kubelet is not there stays Terminating)."""
    try:
        return v1.read_namespaced_pod(name, "default").metadata.deletion_timestamp is not None
    except client.rest.ApiException as e:
        return e.status == 404


def exists(name):
    try:
        v1.read_namespaced_pod(name, "default")
        return True
    except client.rest.ApiException as e:
        return e.status != 404


def make_pod(name, node, tolerations=None):
    spec = {"containers": [{"name": "c", "image": "busybox"}],
            "nodeSelector": {"kubernetes.io/hostname": node}}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                                "metadata": {"name": name}, "spec": spec})


make_node("h1")
threading.Thread(target=kubelet, daemon=True).start()
p = make_pod("web", "h1")
tols = sorted((x.key, x.effect, x.operator, x.toleration_seconds) for x in p.spec.tolerations)
t.ok(tols == [("node.kubernetes.io/not-ready", "NoExecute", "Exists", 2),
              ("node.kubernetes.io/unreachable", "NoExecute", "Exists", 2)],
     "DefaultTolerationSeconds adds the two tolerations with the flag's seconds", tols)
make_pod("forever", "h1", tolerations=[{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                        "effect": "NoExecute"}])
v1.patch_namespaced_pod_status("forever", "default", {"status": {"phase": "Running", "conditions": [
    {"type": "Ready", "status": "True"}]}})
t.ok(wait(lambda: v1.read_namespaced_pod("web", "default").spec.node_name == "h1" and
          v1.read_namespaced_pod("forever", "default").spec.node_name == "h1"), "pods bound to h1")
time.sleep(5)
c = ready("h1")
t.ok(c.status == "True" and taints("h1") == [], "renewing its Lease, the node stays Ready and untainted",
     (c, taints("h1")))

# ---- the kubelet stops ----
renew["h1"] = False
stopped = time.time()
c = wait(lambda: ready("h1") if ready("h1").status == "Unknown" else None, timeout=15)
t.ok(c and c.reason == "NodeStatusUnknown" and c.message == "Kubelet stopped posting node status.",
     "Ready becomes Unknown after the grace period", c)
t.ok(c and time.time() - stopped >= 2.5, "not before the grace period", time.time() - stopped)
want = [("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")]
t.ok(wait(lambda: taints("h1") == want), "the unreachable NoSchedule and NoExecute taints", taints("h1"))
ta = [x for x in v1.read_node("h1").spec.taints if x.effect == "NoExecute"]
t.ok(ta and ta[0].time_added is not None, "the NoExecute taint has timeAdded", ta)
added = ta[0].time_added.timestamp() if ta else time.time()
t.ok(wait(lambda: going("web"), timeout=15),
     "the pod is evicted when its toleration expires (Terminating: its kubelet is gone)")
# timeAdded has whole seconds; the eviction is due 2 s after it
t.ok(time.time() - added >= 1.9, "not before its 2 s toleration", time.time() - added)
evs = [e for e in v1.list_namespaced_event("default").items
       if e.reason == "TaintManagerEviction" and e.involved_object.name == "web"]
t.ok(evs and evs[0].message == "Marking for deletion Pod default/web", "TaintManagerEviction event",
     [e.message for e in evs])
time.sleep(1)
t.ok(exists("forever") and not going("forever"), "a pod tolerating the taint without tolerationSeconds stays")
rc = [c for c in v1.read_namespaced_pod("forever", "default").status.conditions or [] if c.type == "Ready"]
t.ok(rc and rc[0].status == "False", "its Ready condition became False (MarkPodsNotReady)", rc)
evs = [e for e in v1.list_namespaced_event("default").items if e.reason == "NodeNotReady"]
t.ok(sorted((e.involved_object.kind, e.message) for e in evs) ==
     [("Node", "Node h1 status is now: NodeNotReady"), ("Pod", "Node is not ready")],
     "NodeNotReady events on the node and the pod", [(e.involved_object.kind, e.message) for e in evs])
r = k.run("get nodes h1")
t.ok(r.returncode == 0 and "NotReady" in r.stdout, "kubectl get nodes shows NotReady", r.stdout)

# ---- back ----
ready_status("h1")
renew["h1"] = True
t.ok(wait(lambda: taints("h1") == []), "a fresh Ready status removes the taints", taints("h1"))
t.ok(ready("h1").status == "True", "Ready again")

# ---- a pod that does not tolerate a NoExecute taint goes at once ----
make_pod("plain", "h1", tolerations=[])
t.ok(wait(lambda: exists("plain") and v1.read_namespaced_pod("plain", "default").spec.node_name == "h1"),
     "a pod with no default tolerations... bound")
k.ok("taint node h1 dedicated=x:NoExecute", out="node/h1 tainted")
t.ok(wait(lambda: not exists("plain")), "is evicted at once by an untolerated NoExecute taint (and its kubelet "
     "finishes the deletion)")

# ---- kubectl drain against a PodDisruptionBudget ----
policy = client.PolicyV1Api(api)


def run_pods():
    """The kubelet's part for d1/d2: bound pods become Running and Ready."""
    while not stop.is_set():
        try:
            for p in v1.list_namespaced_pod("default").items:
                if p.spec.node_name in ("d1", "d2") and p.status.phase == "Pending":
                    v1.patch_namespaced_pod_status(p.metadata.name, "default", {"status": {
                        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
        except client.rest.ApiException:
            pass
        stop.wait(0.3)


for n in ("d1", "d2"):
    make_node(n)
    renew[n] = True
k.ok("cordon d2", out="node/d2 cordoned")
threading.Thread(target=run_pods, daemon=True).start()
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                     "metadata": {"name": "guarded1", "labels": {"app": "guarded"}},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                              "nodeSelector": {"kubernetes.io/hostname": "d1"}}})
t.ok(wait(lambda: v1.read_namespaced_pod("guarded1", "default").spec.node_name == "d1"), "guarded1 runs on d1")
t.ok(wait(lambda: v1.read_namespaced_pod("guarded1", "default").status.phase == "Running"), "guarded1 Running")
policy.create_namespaced_pod_disruption_budget("default", {
    "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "keep-one"},
    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}})


def pdb():
    return policy.read_namespaced_pod_disruption_budget("keep-one", "default").status


st = wait(lambda: pdb() if pdb() and pdb().current_healthy == 1 else None)
t.ok(st and st.desired_healthy == 1 and st.disruptions_allowed == 0 and st.expected_pods == 1,
     "PDB status: 1 healthy, 1 desired, 0 disruptions allowed", st)
status, _, body = srv.request("POST", "/api/v1/namespaces/default/pods/guarded1/eviction", body=json.dumps({
    "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded1", "namespace": "default"}}),
    headers={"Content-Type": "application/json"})
b = json.loads(body)
t.ok(status == 429 and b.get("reason") == "TooManyRequests" and
     b.get("message") == "Cannot evict pod as it would violate the pod's disruption budget." and
     b["details"]["causes"] == [{"reason": "DisruptionBudget",
                                 "message": "The disruption budget keep-one needs 1 healthy pods and has 1 currently"}],
     "the eviction API refuses with upstream's 429", (status, b))
r = k.run("drain d1 --force --timeout=6s")
t.ok(r.returncode != 0 and "Cannot evict pod as it would violate the pod's disruption budget." in r.stderr,
     "kubectl drain is refused by the PDB", r.stdout + r.stderr)
t.ok(v1.read_node("d1").spec.unschedulable is True and exists("guarded1"), "d1 cordoned, guarded1 still there")
# A second replica elsewhere makes room in the budget.
k.ok("uncordon d2", out="node/d2 uncordoned")
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                     "metadata": {"name": "guarded2", "labels": {"app": "guarded"}},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
t.ok(wait(lambda: v1.read_namespaced_pod("guarded2", "default").spec.node_name == "d2"), "guarded2 runs on d2")
st = wait(lambda: pdb() if pdb().disruptions_allowed == 1 else None)
t.ok(st and st.current_healthy == 2, "PDB status: 1 disruption allowed", pdb())
r = k.run("drain d1 --force --timeout=20s")
t.ok(r.returncode == 0 and "node/d1 drained" in r.stdout, "kubectl drain then succeeds", r.stdout + r.stderr)
t.ok(not exists("guarded1") and exists("guarded2"), "guarded1 evicted, guarded2 kept")
st = wait(lambda: pdb() if pdb().current_healthy == 1 and pdb().disruptions_allowed == 0 else None)
t.ok(st is not None, "the budget is back to 0 allowed", pdb())

# ---- preemption on a node with a kubelet: the victim terminates gracefully ----
r = k.run(["apply", "-f", "-"], input="""
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: urgent}
value: 1000
""")
t.ok(r.returncode == 0, "priority class urgent", r.stderr)
make_node("pp")
renew["pp"] = True
hold.add("pp")
v1.patch_node_status("pp", {"status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "110"}}})
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lowpp"},
                                     "spec": {"containers": [{"name": "c", "image": "busybox",
                                                              "resources": {"requests": {"cpu": "800m"}}}],
                                              "nodeSelector": {"kubernetes.io/hostname": "pp"}}})
t.ok(wait(lambda: v1.read_namespaced_pod("lowpp", "default").spec.node_name == "pp"), "lowpp runs on pp")
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "urgentpp"},
                                     "spec": {"containers": [{"name": "c", "image": "busybox",
                                                              "resources": {"requests": {"cpu": "800m"}}}],
                                              "priorityClassName": "urgent",
                                              "nodeSelector": {"kubernetes.io/hostname": "pp"}}})
t.ok(wait(lambda: going("lowpp") and exists("lowpp")), "the victim is Terminating (its kubelet holds it)")
# a pod deletion elsewhere makes the scheduler look at the preemptor again
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nudge"},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                              "nodeSelector": {"kubernetes.io/hostname": "d2"}}})
wait(lambda: v1.read_namespaced_pod("nudge", "default").spec.node_name == "d2")
v1.delete_namespaced_pod("nudge", "default", grace_period_seconds=0)
want = "preemption: not eligible due to a terminating pod on the nominated node."
evs = wait(lambda: [e for e in v1.list_namespaced_event("default").items
                    if e.involved_object.name == "urgentpp" and e.message.endswith(want)])
t.ok(evs, "while it terminates, the preemptor does not choose more victims",
     [e.message for e in v1.list_namespaced_event("default").items if e.involved_object.name == "urgentpp"])
hold.discard("pp")
t.ok(wait(lambda: v1.read_namespaced_pod("urgentpp", "default").spec.node_name == "pp"),
     "once the victim is gone the preemptor is bound")

stop.set()
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
