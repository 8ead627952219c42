"""The ReplicaSet controller in a real `k3c server --disable-agent`, driven with
kubectl and the Debian python3-kubernetes client: pods appear with ownerReferences
and SuccessfulCreate events (in `kubectl describe` and `kubectl get events`), scaling
up and down (SuccessfulDelete), a deleted pod replaced, an orphan adopted, a relabelled
pod released and replaced, status counts and observedGeneration, a python-client watch
of the pods of a new ReplicaSet, and the controllers working again after a restart."""
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

RS = """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %(name)s
  labels: {tier: %(name)s}
spec:
  replicas: %(replicas)d
  selector:
    matchLabels: {app: %(name)s}
  template:
    metadata:
      labels: {app: %(name)s, extra: "yes"}
    spec:
      containers:
      - name: c
        image: busybox:1.36
"""


def pods_json(selector):
    r = k.run(["get", "pods", "-l", selector, "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


def wait_pods(selector, n, timeout=20):
    deadline = time.time() + timeout
    while True:
        items = pods_json(selector)
        if len(items) == n or time.time() > deadline:
            return items
        time.sleep(0.2)


def rs_json(name):
    r = k.run(["get", "rs", name, "-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else {}


def wait_status(name, cond, timeout=20):
    deadline = time.time() + timeout
    while True:
        o = rs_json(name)
        if cond(o.get("status", {}), o) or time.time() > deadline:
            return o
        time.sleep(0.2)


def events_for(name):
    r = k.run(["get", "events", "--field-selector", "involvedObject.name=" + name, "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


def wait_events(name, reason, n, timeout=20):
    deadline = time.time() + timeout
    while True:
        evs = [e for e in events_for(name) if e.get("reason") == reason]
        if sum(e.get("count", 1) for e in evs) >= n or time.time() > deadline:
            return evs
        time.sleep(0.2)


# ---- create: pods with ownerReferences, events, status ----
path = k.write("web.yaml", RS % {"name": "web", "replicas": 3})
k.ok(["apply", "-f", path], out="replicaset.apps/web created")
pods = wait_pods("app=web", 3)
t.ok(len(pods) == 3, "three pods appear for replicas: 3", [p["metadata"]["name"] for p in pods])
rs = rs_json("web")
uid = rs["metadata"]["uid"]
refs = [p["metadata"].get("ownerReferences", []) for p in pods]
t.ok(all(len(r) == 1 and r[0]["uid"] == uid and r[0]["kind"] == "ReplicaSet"
         and r[0]["name"] == "web" and r[0]["controller"] is True
         and r[0]["blockOwnerDeletion"] is True and r[0]["apiVersion"] == "apps/v1" for r in refs),
     "each pod has the ReplicaSet as its controller ownerReference", refs)
t.ok(all(p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == 9
         and p["metadata"]["labels"] == {"app": "web", "extra": "yes"} for p in pods),
     "pods are named web-xxxxx and carry the template's labels", [p["metadata"] for p in pods])
rs = wait_status("web", lambda s, o: s.get("replicas") == 3 and s.get("fullyLabeledReplicas") == 3)
st = rs.get("status", {})
t.ok(st.get("replicas") == 3 and st.get("fullyLabeledReplicas") == 3
     and st.get("observedGeneration") == rs["metadata"]["generation"]
     and "readyReplicas" not in st and "availableReplicas" not in st,
     "status: replicas 3, fullyLabeledReplicas 3, observedGeneration, no ready pods", st)
evs = wait_events("web", "SuccessfulCreate", 3)
msgs = sorted(e["message"] for e in evs)
want = sorted("Created pod: " + p["metadata"]["name"] for p in pods)
t.ok(msgs == want and all(e["type"] == "Normal" and e["source"]["component"] == "replicaset-controller"
                          and e["involvedObject"]["uid"] == uid
                          and e["involvedObject"]["kind"] == "ReplicaSet" for e in evs),
     "one SuccessfulCreate event per pod, 'Created pod: <name>' from replicaset-controller",
     json.dumps(evs, indent=1))
r = k.ok(["describe", "rs", "web"], out=["Replicas:", "3 current / 3 desired", "Events:",
                                           "SuccessfulCreate", "replicaset-controller",
                                           "Created pod: " + pods[0]["metadata"]["name"]],
         name="kubectl describe rs shows the replicas and the SuccessfulCreate events")
k.ok(["get", "events"], out=["SuccessfulCreate", "replicaset/web"],
     name="kubectl get events lists the events")
k.ok(["get", "rs", "web"], name="kubectl get rs shows DESIRED 3 CURRENT 3",
     check=lambda out: out.splitlines()[1].split()[1:4] == ["3", "3", "0"])

# ---- scale up, scale down ----
k.ok(["scale", "rs", "web", "--replicas=5"], out="replicaset.apps/web scaled")
pods = wait_pods("app=web", 5)
t.ok(len(pods) == 5, "scaled to 5: five pods", len(pods))
k.ok(["scale", "rs", "web", "--replicas=2"], out="replicaset.apps/web scaled")
pods = wait_pods("app=web", 2)
t.ok(len(pods) == 2, "scaled to 2: two pods", len(pods))
evs = wait_events("web", "SuccessfulDelete", 3)
t.ok(sum(e.get("count", 1) for e in evs) == 3 and all(e["message"].startswith("Deleted pod: web-")
                                                      for e in evs),
     "three SuccessfulDelete events 'Deleted pod: <name>'", json.dumps(evs, indent=1))
rs = wait_status("web", lambda s, o: s.get("replicas") == 2
                 and s.get("observedGeneration") == o["metadata"]["generation"])
t.ok(rs["status"].get("replicas") == 2 and rs["status"]["observedGeneration"] == 3,
     "status follows: replicas 2, observedGeneration 3 after two scales", rs.get("status"))
time.sleep(1)
t.ok(len(pods_json("app=web")) == 2, "the count stays at 2 (no extra pods from a stale cache)")

# ---- a deleted pod is replaced ----
victim = pods[0]["metadata"]["name"]
k.ok(["delete", "pod", victim, "--wait=false"], out='pod "%s" deleted' % victim)
deadline = time.time() + 20
names = []
while time.time() < deadline:
    names = [p["metadata"]["name"] for p in pods_json("app=web")]
    if len(names) == 2 and victim not in names:
        break
    time.sleep(0.2)
t.ok(len(names) == 2 and victim not in names, "a deleted pod is replaced by a new one", names)

# ---- adoption of an orphan, release of a relabelled pod ----
k.ok(["scale", "rs", "web", "--replicas=3"], out="scaled")
wait_pods("app=web", 3)
k.ok(["run", "orphan", "--image=busybox:1.36", "--labels=app=web"], out="pod/orphan created")
# The orphan is adopted; now there are 4 for 3 replicas, and one is deleted.
deadline = time.time() + 20
items = []
while time.time() < deadline:
    items = pods_json("app=web")
    owned = [p for p in items if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences", []))]
    if len(items) == 3 and len(owned) == 3:
        break
    time.sleep(0.2)
t.ok(len(items) == 3 and len(owned) == 3, "a matching orphan is adopted and the surplus removed",
     [(p["metadata"]["name"], p["metadata"].get("ownerReferences")) for p in items])
evs = events_for("orphan")
orphan_gone = k.run(["get", "pod", "orphan"]).returncode != 0
adopted = [p for p in items if p["metadata"]["name"] == "orphan"]
t.ok(orphan_gone or adopted[0]["metadata"]["ownerReferences"][0]["uid"] == uid,
     "the orphan was adopted (kept with an ownerReference) or removed as the newest surplus pod")

rel = pods_json("app=web")[0]["metadata"]["name"]
k.ok(["label", "pod", rel, "app=other", "--overwrite"], out="labeled")
deadline = time.time() + 20
while time.time() < deadline:
    p = json.loads(k.run(["get", "pod", rel, "-o", "json"]).stdout)
    if not p["metadata"].get("ownerReferences") and len(pods_json("app=web")) == 3:
        break
    time.sleep(0.2)
t.ok(not p["metadata"].get("ownerReferences"), "a pod whose labels stop matching is released",
     p["metadata"])
t.ok(len(pods_json("app=web")) == 3, "and replaced so that 3 match again")

# ---- ReplicationController: the same controller with a label-map selector ----
rcpath = k.write("rc.yaml", """apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata:
      labels: {app: legacy}
    spec:
      containers:
      - name: c
        image: busybox:1.36
""")
k.ok(["apply", "-f", rcpath], out="replicationcontroller/legacy created")
items = wait_pods("app=legacy", 2)
t.ok(len(items) == 2 and all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
                             and p["metadata"]["ownerReferences"][0]["apiVersion"] == "v1"
                             for p in items),
     "a ReplicationController gets its pods, owned by kind ReplicationController",
     [p["metadata"].get("ownerReferences") for p in items])
evs = wait_events("legacy", "SuccessfulCreate", 2)
t.ok(len(evs) == 2 and all(e["source"]["component"] == "replication-controller" for e in evs),
     "its events come from replication-controller", json.dumps(evs, indent=1))
k.ok(["scale", "rc", "legacy", "--replicas=1"], out="scaled")
t.ok(len(wait_pods("app=legacy", 1)) == 1, "kubectl scale rc works")
deadline = time.time() + 20
while time.time() < deadline:
    st = json.loads(k.run(["get", "rc", "legacy", "-o", "json"]).stdout).get("status", {})
    if st.get("replicas") == 1 and st.get("observedGeneration") == 2:
        break
    time.sleep(0.2)
t.ok(st.get("replicas") == 1 and st.get("fullyLabeledReplicas") == 1, "RC status follows", st)
t.ok(len(pods_json("app=web")) == 3, "the ReplicaSet's pods are untouched by the RC")

# ---- python client: create a ReplicaSet, watch its pods appear ----
try:
    from kubernetes import client, config, watch
    api_client = config.new_client_from_config(config_file=srv.kubeconfig)
    v1 = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    body = client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="py"),
        spec=client.V1ReplicaSetSpec(
            replicas=4, selector=client.V1LabelSelector(match_labels={"app": "py"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "py"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]))))
    apps.create_namespaced_replica_set("default", body)
    seen = set()
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, "default", label_selector="app=py", timeout_seconds=20):
        if ev["type"] == "ADDED":
            seen.add(ev["object"].metadata.name)
        if len(seen) == 4:
            w.stop()
    t.ok(len(seen) == 4, "python client: a watch sees the four pods of a new ReplicaSet", seen)
    rs = apps.read_namespaced_replica_set_status("py", "default")
    deadline = time.time() + 20
    while (not rs.status or rs.status.replicas != 4) and time.time() < deadline:
        time.sleep(0.2)
        rs = apps.read_namespaced_replica_set_status("py", "default")
    t.ok(rs.status and rs.status.replicas == 4 and rs.status.fully_labeled_replicas == 4,
         "python client: status.replicas 4", rs.status)
except ImportError as e:
    t.skip("python client watch", "python3-kubernetes missing: %s" % e)
    t.skip("python client status", "python3-kubernetes missing")

# ---- a refused create gives up the rest of its batch without waiting for it ----
# Regression: pods a failed slow-start batch never attempted stayed "expected",
# so the ReplicaSet created nothing more for 5 minutes once creating worked again.
k.ok(["create", "namespace", "strict"], out="namespace/strict created")
k.ok(["label", "namespace", "strict", "pod-security.kubernetes.io/enforce=restricted"],
     out="namespace/strict labeled")
path = k.write("strict.yaml", RS % {"name": "strict", "replicas": 3})
k.ok(["apply", "-n", "strict", "-f", path], out="replicaset.apps/strict created")
evs = []
deadline = time.time() + 20
while time.time() < deadline and not evs:
    r = k.run(["get", "events", "-n", "strict", "-o", "json"])
    evs = [e for e in json.loads(r.stdout)["items"] if e.get("reason") == "FailedCreate"] if r.returncode == 0 else []
    time.sleep(0.3)
t.ok(evs and "violates PodSecurity" in evs[0]["message"],
     "pods refused by PodSecurity: a FailedCreate event", evs)
k.ok(["label", "namespace", "strict", "pod-security.kubernetes.io/enforce-"],
     out="namespace/strict unlabeled")
deadline = time.time() + 30
n = 0
while time.time() < deadline:
    r = k.run(["get", "pods", "-n", "strict", "-l", "app=strict", "-o", "name"])
    n = len(r.stdout.split())
    if n == 3:
        break
    time.sleep(0.3)
t.ok(n == 3, "once the namespace allows them the three pods are created within 30 s", n)

# ---- changes made while the server was down are reconciled at start ----
k.ok(["scale", "rs", "web", "--replicas=1"], out="scaled")
wait_pods("app=web", 1)
t.ok(srv.stop_clean(), "server stops cleanly with the controllers running", srv.log_tail())
srv2 = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
k.srv = srv2
k.ok(["scale", "rs", "web", "--replicas=3"], out="scaled")
t.ok(len(wait_pods("app=web", 3)) == 3, "after a restart the controller lists, watches and scales again")
k.srv = srv2
srv = srv2
k.finish()
