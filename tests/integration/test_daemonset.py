"""The DaemonSet controller in a real `k3c server` with hollow nodes (`k3c agent
--hollow`), driven with kubectl and the python client: one pod per node, a node
tainted NoSchedule skipped, untainting it and adding a node (a second hollow
agent) each get a pod, the pods' node affinity (matchFields metadata.name),
automatic tolerations, controller-revision-hash and ownerReference; status counts
and `kubectl rollout status`; a RollingUpdate of a new image (never more than
maxUnavailable pods unavailable), `rollout history` and `rollout undo` through
ControllerRevisions; maxSurge keeping every node served; OnDelete; nodeSelector;
a NoExecute taint evicting the pod; SuccessfulCreate/SuccessfulDelete events; and
deleting the DaemonSet removing its pods and revisions."""
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
hollow = Hollow(srv, 3, extra_args=["--hollow-lease-seconds", "2"]).start()

# Until the scheduler is part of the server, the test binds the daemon pods to
# the node their affinity names, as the scheduler would.
HAS_SCHEDULER = os.path.exists(os.path.join(os.environ.get("K3C_SRC", ""), "pkg/scheduler/scheduler.c"))


def bind_pending():
    if HAS_SCHEDULER:
        return
    r = k.run(["get", "pods", "-A", "-o", "json"])
    if r.returncode != 0:
        return
    for p in json.loads(r.stdout)["items"]:
        if p["spec"].get("nodeName") or p["metadata"].get("deletionTimestamp"):
            continue
        try:
            term = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
            node = term["matchFields"][0]["values"][0]
        except (KeyError, IndexError):
            continue
        body = json.dumps({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": p["metadata"]["name"]},
                           "target": {"kind": "Node", "name": node}})
        srv.request("POST", "/api/v1/namespaces/%s/pods/%s/binding" % (p["metadata"]["namespace"], p["metadata"]["name"]),
                    body=body, headers={"Content-Type": "application/json"})


def get_json(*args):
    r = k.run(["get"] + list(args) + ["-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else {}


def ds_pods(name):
    items = get_json("pods", "-l", "app=" + name).get("items", [])
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def pod_node(p):
    return p["spec"].get("nodeName", "")


def ready(p):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in p.get("status", {}).get("conditions", []))


def wait(cond, timeout=30, each=None):
    """Poll (binding pending pods meanwhile) until cond() is truthy; returns its last value."""
    deadline = time.time() + timeout
    while True:
        bind_pending()
        v = cond()
        if each:
            each()
        if v or time.time() > deadline:
            return v
        time.sleep(0.3)


def nodes_of(name, want_ready=True):
    return sorted(pod_node(p) for p in ds_pods(name) if pod_node(p) and (ready(p) or not want_ready))


DS = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: %(name)s
spec:
  selector:
    matchLabels: {app: %(name)s}
  updateStrategy: %(strategy)s
  template:
    metadata:
      labels: {app: %(name)s}
    spec:
      %(extra)s
      containers:
      - name: c
        image: busybox:1.36
"""


def ds(name, strategy="{type: RollingUpdate}", extra=""):
    return k.ok(["apply", "-f", "-"], input=DS % dict(name=name, strategy=strategy, extra=extra),
                out="daemonset.apps/%s" % name, name="create DaemonSet %s" % name)


k.ok("taint node hollow-2 dedicated=db:NoSchedule", out="tainted")
ds("agent")
got = wait(lambda: nodes_of("agent") == ["hollow-0", "hollow-1"])
t.ok(got, "one Running pod on each untainted node, none on the tainted hollow-2", nodes_of("agent", False))
time.sleep(1)
t.ok(len(ds_pods("agent")) == 2, "and no more pods than nodes", [p["metadata"]["name"] for p in ds_pods("agent")])

p = ds_pods("agent")[0]
terms = p["spec"].get("affinity", {}).get("nodeAffinity", {}).get(
    "requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", [])
t.ok(len(terms) == 1 and terms[0].get("matchFields") == [{"key": "metadata.name", "operator": "In", "values": [pod_node(p)]}],
     "the pod asks for its node by required node affinity on metadata.name", terms)
tols = {(x.get("key"), x.get("effect")) for x in p["spec"].get("tolerations", []) if x.get("operator") == "Exists"}
t.ok({("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
      ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
      ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tols,
     "the pod carries the daemon tolerations", p["spec"].get("tolerations"))
ref = p["metadata"].get("ownerReferences", [{}])[0]
t.ok(ref.get("kind") == "DaemonSet" and ref.get("name") == "agent" and ref.get("controller") is True
     and p["metadata"]["labels"].get("controller-revision-hash"),
     "ownerReference to the DaemonSet and a controller-revision-hash label", p["metadata"])

r = k.run(["rollout", "status", "ds/agent", "--timeout=60s"])
t.ok(r.returncode == 0 and 'daemon set "agent" successfully rolled out' in r.stdout,
     "kubectl rollout status ds/agent returns", k.diag("rollout status ds/agent", r))
st = get_json("ds", "agent").get("status", {})
t.ok(st.get("desiredNumberScheduled") == 2 and st.get("currentNumberScheduled") == 2 and st.get("numberReady") == 2
     and st.get("numberAvailable") == 2 and st.get("updatedNumberScheduled") == 2 and st.get("numberMisscheduled") == 0
     and st.get("observedGeneration") == 1 and "numberUnavailable" not in st,
     "status: desired, current, ready, available, updated 2, misscheduled 0, observedGeneration 1", st)
r = k.ok("get ds agent", out="agent")
cells = r.stdout.splitlines()[1].split() if len(r.stdout.splitlines()) > 1 else []
t.ok(cells[1:6] == ["2", "2", "2", "2", "2"], "kubectl get ds: DESIRED CURRENT READY UP-TO-DATE AVAILABLE", r.stdout)
evs = get_json("events", "--field-selector", "involvedObject.name=agent").get("items", [])
created = [e for e in evs if e.get("reason") == "SuccessfulCreate" and e.get("message", "").startswith("Created pod: agent-")]
t.ok(sum(e.get("count", 1) for e in created) == 2 and created[0].get("source", {}).get("component") == "daemonset-controller",
     "SuccessfulCreate events 'Created pod: ...' from daemonset-controller", evs)
revs = get_json("controllerrevisions", "-l", "app=agent").get("items", [])
t.ok(len(revs) == 1 and revs[0].get("revision") == 1
     and revs[0]["metadata"]["labels"].get("controller-revision-hash") == p["metadata"]["labels"]["controller-revision-hash"]
     and revs[0].get("data", {}).get("spec", {}).get("template", {}).get("$patch") == "replace",
     "a ControllerRevision (revision 1) with the pods' hash and the template", revs)

# ---- nodes that become eligible ----
k.ok("taint node hollow-2 dedicated-", out="untainted")
t.ok(wait(lambda: nodes_of("agent") == ["hollow-0", "hollow-1", "hollow-2"]),
     "untainting hollow-2 gives it a pod", nodes_of("agent", False))
extra = Hollow(srv, 1, prefix="extra-", extra_args=["--hollow-lease-seconds", "2"]).start()
t.ok(wait(lambda: nodes_of("agent") == ["extra-0", "hollow-0", "hollow-1", "hollow-2"]),
     "a node added (another hollow agent) gets a pod", nodes_of("agent", False))
t.ok(wait(lambda: get_json("ds", "agent").get("status", {}).get("desiredNumberScheduled") == 4),
     "desiredNumberScheduled follows the nodes: 4", get_json("ds", "agent").get("status"))

# ---- rolling update ----
old_hash = p["metadata"]["labels"]["controller-revision-hash"]
k.ok("set image ds/agent c=busybox:1.37", out="image updated")
worst = [4]


def track():
    pods = ds_pods("agent")
    ok = len([x for x in pods if ready(x)])
    worst[0] = min(worst[0], ok)


def rolled():
    pods = ds_pods("agent")
    return len(pods) == 4 and all(ready(x) and x["spec"]["containers"][0]["image"] == "busybox:1.37" for x in pods)


t.ok(wait(rolled, timeout=60, each=track), "RollingUpdate replaces every pod with the new image",
     [(x["metadata"]["name"], x["spec"]["containers"][0]["image"]) for x in ds_pods("agent")])
t.ok(worst[0] >= 3, "never more than maxUnavailable (1) of 4 pods unavailable during the rollout (min ready %d)" % worst[0])
r = k.run(["rollout", "status", "ds/agent", "--timeout=60s"])
t.ok(r.returncode == 0 and "successfully rolled out" in r.stdout, "rollout status returns after the update",
     k.diag("rollout status", r))
new_hash = ds_pods("agent")[0]["metadata"]["labels"]["controller-revision-hash"]
t.ok(new_hash != old_hash, "the new pods carry the new revision's hash", (old_hash, new_hash))
r = k.ok("rollout history ds/agent", out=["REVISION", "1", "2"], name="kubectl rollout history ds/agent lists revisions 1 and 2")
deleted = [e for e in get_json("events", "--field-selector", "involvedObject.name=agent").get("items", [])
           if e.get("reason") == "SuccessfulDelete"]
t.ok(sum(e.get("count", 1) for e in deleted) >= 4 and deleted[0]["message"].startswith("Deleted pod: agent-"),
     "SuccessfulDelete events 'Deleted pod: ...'", deleted)

k.ok("rollout undo ds/agent", out="rolled back")
t.ok(wait(lambda: len(ds_pods("agent")) == 4 and all(ready(x) and x["spec"]["containers"][0]["image"] == "busybox:1.36"
                                                     for x in ds_pods("agent")), timeout=60),
     "rollout undo brings back busybox:1.36 on every node", [x["spec"]["containers"][0]["image"] for x in ds_pods("agent")])
revs = sorted((r_["revision"], r_["metadata"]["labels"]["controller-revision-hash"])
              for r_ in get_json("controllerrevisions", "-l", "app=agent").get("items", []))
t.ok(revs and revs[-1] == (3, old_hash) and len(revs) == 2,
     "the undone-to revision is renumbered 3 and reused (same hash)", revs)

# ---- maxSurge: every node keeps a ready pod ----
k.ok(["patch", "ds", "agent", "--type=merge", "-p",
      '{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},'
      '"template":{"spec":{"containers":[{"name":"c","image":"busybox:1.38"}]}}}}'], out="patched")
per_node = [True]


def track_surge():
    pods = ds_pods("agent")
    served = {pod_node(x) for x in pods if ready(x)}
    if len(served) < 4:
        per_node[0] = False


t.ok(wait(lambda: len(ds_pods("agent")) == 4 and all(ready(x) and x["spec"]["containers"][0]["image"] == "busybox:1.38"
                                                     for x in ds_pods("agent")), timeout=60, each=track_surge),
     "maxSurge 1 / maxUnavailable 0 rolls every pod", [x["spec"]["containers"][0]["image"] for x in ds_pods("agent")])
t.ok(per_node[0], "with maxSurge every node had a ready pod throughout")

# ---- NoExecute evicts ----
k.ok("taint node hollow-1 evict=now:NoExecute", out="tainted")
t.ok(wait(lambda: "hollow-1" not in nodes_of("agent", False)), "a NoExecute taint the pod does not tolerate removes it",
     nodes_of("agent", False))
k.ok("taint node hollow-1 evict-", out="untainted")

# ---- OnDelete ----
ds("ondel", strategy="{type: OnDelete}")
t.ok(wait(lambda: len(nodes_of("ondel")) == 4), "an OnDelete DaemonSet places its pods", nodes_of("ondel", False))
k.ok("set image ds/ondel c=busybox:1.37", out="image updated")
time.sleep(3)
t.ok(all(x["spec"]["containers"][0]["image"] == "busybox:1.36" for x in ds_pods("ondel")),
     "OnDelete: a new template does not replace running pods", [x["spec"]["containers"][0]["image"] for x in ds_pods("ondel")])
victim = [x for x in ds_pods("ondel") if pod_node(x) == "hollow-0"][0]["metadata"]["name"]
k.ok(["delete", "pod", victim], out="deleted")
t.ok(wait(lambda: [x["spec"]["containers"][0]["image"] for x in ds_pods("ondel") if pod_node(x) == "hollow-0" and ready(x)] == ["busybox:1.37"]),
     "OnDelete: the pod created after a delete has the new template", [(pod_node(x), x["spec"]["containers"][0]["image"]) for x in ds_pods("ondel")])

# ---- nodeSelector ----
ds("picky", extra="nodeSelector: {kubernetes.io/hostname: hollow-1}")
t.ok(wait(lambda: nodes_of("picky") == ["hollow-1"]), "a nodeSelector limits the DaemonSet to the matching node",
     nodes_of("picky", False))
time.sleep(1)
st = get_json("ds", "picky").get("status", {})
t.ok(st.get("desiredNumberScheduled") == 1 and len(ds_pods("picky")) == 1, "desiredNumberScheduled 1", st)

AFF = ("affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
       "[{matchExpressions: [{key: kubernetes.io/hostname, operator: NotIn, values: [hollow-0, extra-0]}]}]}}}")
ds("aff", extra=AFF)
t.ok(wait(lambda: nodes_of("aff") == ["hollow-1", "hollow-2"]), "required node affinity (NotIn) picks the other nodes",
     nodes_of("aff", False))
k.ok("taint node hollow-2 dedicated=db:NoSchedule", out="tainted")
ds("tol", extra="tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]")
t.ok(wait(lambda: "hollow-2" in nodes_of("tol") and len(nodes_of("tol")) == 4),
     "a DaemonSet that tolerates the taint runs on the tainted node too", nodes_of("tol", False))
time.sleep(1)
t.ok(nodes_of("aff") == ["hollow-1", "hollow-2"], "a NoSchedule taint added later keeps the running pod (as upstream)",
     nodes_of("aff", False))
st = get_json("ds", "aff").get("status", {})
t.ok(st.get("desiredNumberScheduled") == 1 and st.get("numberMisscheduled") == 1,
     "... counted as misscheduled: desired 1, misscheduled 1", st)
k.ok("taint node hollow-2 dedicated-", out="untainted")

# ---- python client ----
try:
    from kubernetes import client, config
    api_client = config.new_client_from_config(config_file=srv.kubeconfig)
    apps = client.AppsV1Api(api_client)
    d = apps.read_namespaced_daemon_set("picky", "default")
    t.ok(d.status.desired_number_scheduled == 1 and d.status.number_ready == 1,
         "python client: read_namespaced_daemon_set status", d.status)
except ImportError as e:
    t.skip("python client daemon set", "python3-kubernetes missing: %s" % e)

# ---- deletion ----
k.ok("delete ds agent", out="deleted")
t.ok(wait(lambda: len(get_json("pods", "-l", "app=agent").get("items", [])) == 0),
     "deleting the DaemonSet removes its pods", [x["metadata"]["name"] for x in get_json("pods", "-l", "app=agent").get("items", [])])
t.ok(wait(lambda: len(get_json("controllerrevisions", "-l", "app=agent").get("items", [])) == 0),
     "and its ControllerRevisions", get_json("controllerrevisions", "-l", "app=agent").get("items"))

t.ok(extra.stop_clean(), "the extra hollow agent stops cleanly", extra.log_tail())
t.ok(hollow.stop_clean(), "the hollow agent stops cleanly", hollow.log_tail())
k.finish()
