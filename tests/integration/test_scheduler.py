"""The scheduler in a real `k3c server --disable-agent`, with real kubectl and the python
client. Nodes are API objects (created with the python client, allocatable and a Ready
condition written through the status subresource); no agent runs pods. Checked: a pod
too big for every node stays Pending with upstream's FailedScheduling message (in
`kubectl describe pod`, `kubectl get events` and the PodScheduled condition) and is
bound when a bigger node joins; nodeSelector, tolerations, required pod anti-affinity
and topology spread placing pods where expected; a high-priority pod preempting a
low-priority one (Preempted event, nominatedNodeName); cordon keeping pods off a node
and uncordon letting them on; requests of bound pods counted (assumed pods included)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent", "--node-monitor-grace-period", "3600"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def make_node(name, cpu="2", memory="4Gi", pods="110", labels=None, taints=None):
    lab = {"kubernetes.io/hostname": name}
    lab.update(labels or {})
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": lab},
            "spec": {"taints": taints or []}}
    v1.create_node(body)
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    v1.patch_node_status(name, {"status": {
        "capacity": alloc, "allocatable": alloc,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})


def camel(s):
    head, *rest = s.split("_")
    return head + "".join(w.title() for w in rest)


def make_pod(name, cpu="100m", ns="default", **spec):
    labels = spec.pop("labels", {})
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": dict({"containers": [{"name": "c", "image": "busybox",
                                           "resources": {"requests": {"cpu": cpu}}}]},
                         **{camel(k): v for k, v in spec.items()})}
    return v1.create_namespaced_pod(ns, body)


def wait(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def node_of(name, ns="default"):
    try:
        return v1.read_namespaced_pod(name, ns).spec.node_name
    except client.rest.ApiException:
        return None


def cond(name, ctype="PodScheduled", ns="default"):
    p = v1.read_namespaced_pod(name, ns)
    for c in p.status.conditions or []:
        if c.type == ctype:
            return c
    return None


def events(name, reason, ns="default"):
    return [e for e in v1.list_namespaced_event(ns).items
            if e.involved_object.name == name and e.reason == reason]


# ---- a pod too big for every node ----
make_node("n1", cpu="2")
make_node("n2", cpu="4", taints=[CP_TAINT])
make_node("n3", cpu="4", taints=[CP_TAINT])
make_pod("big", cpu="3")
want = ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod., 2 Preemption is not helpful for scheduling.")
evs = wait(lambda: events("big", "FailedScheduling"))
t.ok(evs and evs[0].message == want and evs[0].type == "Warning" and
     evs[0].source.component == "default-scheduler",
     "FailedScheduling event with upstream's message", [(e.type, e.message) for e in evs or []])
c = wait(lambda: cond("big") if cond("big") and cond("big").status == "False" else None)
t.ok(c and c.reason == "Unschedulable" and c.message == want,
     "PodScheduled=False, reason Unschedulable, the same message", c)
r = k.run("describe pod big")
t.ok(r.returncode == 0 and "FailedScheduling" in r.stdout and want in " ".join(r.stdout.split()),
     "kubectl describe pod shows the FailedScheduling event", r.stdout[-1500:])
r = k.run("get events --field-selector reason=FailedScheduling -o json")
msgs = [e["message"] for e in json.loads(r.stdout)["items"]] if r.returncode == 0 else r.stderr
t.ok(r.returncode == 0 and want in msgs, "kubectl get events lists it", msgs)
time.sleep(1.5)
t.ok(node_of("big") is None, "still Pending while nothing changes")
# A bigger node joins: the pod is retried on that event and bound there.
make_node("n4", cpu="8")
t.ok(wait(lambda: node_of("big") == "n4"), "bound to the bigger node once it joins", node_of("big"))
c = wait(lambda: cond("big") if cond("big").status == "True" else None)
t.ok(c and c.status == "True", "PodScheduled=True after binding (one condition)",
     v1.read_namespaced_pod("big", "default").status.conditions)
evs = wait(lambda: events("big", "Scheduled"))
t.ok(evs and evs[0].message == "Successfully assigned default/big to n4", "Scheduled event",
     [e.message for e in evs or []])

# ---- requests of bound pods count: n4 has 8 cpu, big holds 3 ----
for i in range(5):
    make_pod("fill%d" % i, cpu="1", node_selector={"kubernetes.io/hostname": "n4"})
t.ok(wait(lambda: all(node_of("fill%d" % i) == "n4" for i in range(5))), "five 1-cpu pods fit on n4")
make_pod("fill5", cpu="1", node_selector={"kubernetes.io/hostname": "n4"})
evs = wait(lambda: events("fill5", "FailedScheduling"))
t.ok(evs and evs[0].message.startswith(
    "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, "
    "2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."),
     "the sixth does not fit: bound and assumed requests were counted", [e.message for e in evs or []])
v1.delete_namespaced_pod("fill0", "default", grace_period_seconds=0)
t.ok(wait(lambda: node_of("fill5") == "n4"), "scheduled once a pod on the node is deleted")

# ---- nodeSelector ----
make_node("ssd1", cpu="4", labels={"disk": "ssd"})
make_pod("wants-ssd", node_selector={"disk": "ssd"})
t.ok(wait(lambda: node_of("wants-ssd") == "ssd1"), "nodeSelector puts the pod on the labelled node",
     node_of("wants-ssd"))

# ---- taints and tolerations ----
make_pod("tolerant", tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                                   "effect": "NoSchedule"}],
         affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
             "nodeSelectorTerms": [{"matchExpressions": [
                 {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2", "n3"]}]}]}}})
t.ok(wait(lambda: node_of("tolerant") in ("n2", "n3")), "a tolerating pod goes to a tainted node",
     node_of("tolerant"))
make_pod("intolerant", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2", "n3"]}]}]}}})
evs = wait(lambda: events("intolerant", "FailedScheduling"))
t.ok(evs and "2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }" in evs[0].message
     and "3 node(s) didn't match Pod's node affinity/selector" in evs[0].message,
     "an intolerant one stays Pending", [e.message for e in evs or []])
# Adding a toleration (allowed on a pod update) is a change of the pod itself: retried.
cur = v1.read_namespaced_pod("intolerant", "default").spec.tolerations or []
v1.patch_namespaced_pod("intolerant", "default", {"spec": {"tolerations": [
    {"key": t.key, "operator": t.operator, "effect": t.effect, "tolerationSeconds": t.toleration_seconds}
    for t in cur] + [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                      "effect": "NoSchedule"}]}})
t.ok(wait(lambda: node_of("intolerant") in ("n2", "n3")), "scheduled once it gains the toleration",
     node_of("intolerant"))

# ---- required pod anti-affinity ----
for n in ("a1", "a2", "a3"):
    make_node(n, cpu="4", labels={"pool": "anti"})
anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": "kubernetes.io/hostname"}]}}
for i in range(4):
    make_pod("solo%d" % i, labels={"app": "solo"}, node_selector={"pool": "anti"}, affinity=anti)
placed = wait(lambda: [node_of("solo%d" % i) for i in range(4) if node_of("solo%d" % i)]
              if sum(1 for i in range(4) if node_of("solo%d" % i)) == 3 else None)
t.ok(placed and sorted(placed) == ["a1", "a2", "a3"], "anti-affinity: one pod per node", placed)
pending = [i for i in range(4) if not node_of("solo%d" % i)]
evs = wait(lambda: pending and events("solo%d" % pending[0], "FailedScheduling"))
t.ok(evs and "3 node(s) didn't match pod anti-affinity rules" in evs[0].message,
     "the fourth is Pending: anti-affinity", [e.message for e in evs or []])

# ---- topology spread (DoNotSchedule) ----
make_node("za1", cpu="8", labels={"pool": "spread", "topology.kubernetes.io/zone": "a"})
make_node("za2", cpu="8", labels={"pool": "spread", "topology.kubernetes.io/zone": "a"})
make_node("zb1", cpu="8", labels={"pool": "spread", "topology.kubernetes.io/zone": "b"})
spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
           "labelSelector": {"matchLabels": {"app": "spread"}}}]
for i in range(6):
    make_pod("sp%d" % i, labels={"app": "spread"}, node_selector={"pool": "spread"},
             topology_spread_constraints=spread)
    wait(lambda: node_of("sp%d" % i))
zones = [node_of("sp%d" % i) for i in range(6)]
t.ok(None not in zones and sum(1 for z in zones if z == "zb1") == 3,
     "topology spread: zone b's one node gets half the pods", zones)

# ---- preemption by priority ----
r = k.run(["apply", "-f", "-"], input="""
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: mid}
value: 500
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high-never}
value: 1000
preemptionPolicy: Never
""")
t.ok(r.returncode == 0, "priority classes", r.stderr)
make_node("p1", cpu="1", labels={"pool": "prio"})
make_pod("low", cpu="800m", node_selector={"pool": "prio"}, priority_class_name="low")
t.ok(wait(lambda: node_of("low") == "p1"), "the low-priority pod runs on p1")
low_uid = v1.read_namespaced_pod("low", "default").metadata.uid
high = make_pod("high", cpu="800m", node_selector={"pool": "prio"}, priority_class_name="high")
# A pod of lower priority created while the preemptor waits does not end up in its place
# (its nomination holds p1's cpu; the timing here does not always hit that window).
wait(lambda: v1.read_namespaced_pod("high", "default").status.nominated_node_name == "p1", timeout=10)
make_pod("mid", cpu="800m", node_selector={"pool": "prio"}, priority_class_name="mid")
t.ok(wait(lambda: node_of("high") == "p1"), "the high-priority pod is bound to p1", node_of("high"))
time.sleep(1)
t.ok(node_of("mid") is None and not events("mid", "Preempted"),
     "a lower-priority pod created meanwhile stays Pending (not bound, not preempted)",
     (node_of("mid"), [e.message for e in events("mid", "Preempted")]))


def gone(name):
    try:
        return v1.read_namespaced_pod(name, "default").metadata.uid != low_uid
    except client.rest.ApiException as e:
        return e.status == 404


t.ok(gone("low"), "the low-priority pod was deleted")
evs = events("low", "Preempted")
t.ok(evs and evs[0].message == "Preempted by pod %s on node p1" % high.metadata.uid and evs[0].type == "Normal",
     "Preempted event on the victim", [e.message for e in evs])
evs = events("high", "FailedScheduling")
t.ok(evs and evs[0].message.startswith("0/") and "preemption:" not in evs[0].message,
     "the preemptor's own FailedScheduling has no preemption part", [e.message for e in evs])
p = v1.read_namespaced_pod("high", "default")
# set by the preempting cycle; the binding leaves it, as upstream's does
t.ok(p.status.nominated_node_name == "p1", "nominatedNodeName is p1", p.status.nominated_node_name)
make_pod("low2", cpu="800m", node_selector={"pool": "prio"}, priority_class_name="low")
evs = wait(lambda: events("low2", "FailedScheduling"))
t.ok(evs and evs[0].message.endswith("preemption: 0/%d nodes are available: 1 No preemption victims found "
                                     "for incoming pod., %d Preemption is not helpful for scheduling."
                                     % (len(v1.list_node().items), len(v1.list_node().items) - 1)),
     "a low-priority pod cannot preempt a higher one", [e.message for e in evs or []])
make_pod("never", cpu="800m", node_selector={"pool": "prio"}, priority_class_name="high-never")
evs = wait(lambda: events("never", "FailedScheduling"))
t.ok(evs and evs[0].message.endswith(" preemption: not eligible due to preemptionPolicy=Never."),
     "preemptionPolicy Never", [e.message for e in evs or []])

# ---- the pending queue is ordered by priority ----
for i in range(5):
    make_pod("q-low%d" % i, cpu="800m", node_selector={"pool": "order"}, priority_class_name="low")
make_pod("q-high", cpu="800m", node_selector={"pool": "order"}, priority_class_name="high")
t.ok(wait(lambda: all(events(n, "FailedScheduling") for n in ["q-high"] + ["q-low%d" % i for i in range(5)])),
     "six pods wait for a node of pool=order")
time.sleep(1.2)  # past their first back-off
make_node("o1", cpu="1", labels={"pool": "order"})
t.ok(wait(lambda: node_of("q-high") == "o1"), "the node's one place goes to the highest priority",
     [(n, node_of(n)) for n in ["q-high"] + ["q-low%d" % i for i in range(5)]])
lows = v1.list_namespaced_pod("default", label_selector="").items
lows = {p.metadata.name: p.spec.node_name for p in lows if p.metadata.name.startswith("q-low")}
t.ok(lows == {"q-low%d" % i: None for i in range(5)} and
     not any(events("q-low%d" % i, "Preempted") for i in range(5)),
     "the low-priority ones stay Pending (none was bound first and then preempted)", lows)

# ---- cordon / uncordon ----
make_node("c1", cpu="4", labels={"pool": "cordon"})
k.ok("cordon c1", out="node/c1 cordoned")
make_pod("on-cordoned", node_selector={"pool": "cordon"})
evs = wait(lambda: events("on-cordoned", "FailedScheduling"))
t.ok(evs and "1 node(s) were unschedulable" in evs[0].message, "a cordoned node is excluded",
     [e.message for e in evs or []])
k.ok("uncordon c1", out="node/c1 uncordoned")
t.ok(wait(lambda: node_of("on-cordoned") == "c1"), "scheduled after uncordon", node_of("on-cordoned"))

# ---- pods for another scheduler are left alone ----
make_pod("other", scheduler_name="my-scheduler")
time.sleep(1)
t.ok(node_of("other") is None and not events("other", "FailedScheduling"),
     "a pod with another schedulerName is not touched")

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
