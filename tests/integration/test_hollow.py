"""Hollow nodes: `k3c agent --hollow 3` against a real `k3c server`, checked with
kubectl and the python client: the nodes Ready in `kubectl get nodes` with the
server's version, capacity, labels, addresses, nodeInfo and the kubelet's
conditions; a Lease per node renewed; a pod bound with spec.nodeName Running with
a unique IP in `kubectl get pods -o wide`, init containers Completed, and a status
that is written once and then left alone; `exit N` pods Failed/Succeeded as
their restartPolicy says, run-seconds delaying the exit, restarts with
CrashLoopBackOff; graceful deletion finished by the agent (the DELETE with a grace
period, then the agent's grace-0 DELETE); a pod on a node no kubelet serves deleted
at once; stopping the agent stops the renewals and leaves deletions pending."""
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
hollow = Hollow(srv, 3, extra_args=["--hollow-lease-seconds", "1"]).start()
t.ok(True, "three hollow nodes became Ready")


def get_json(*args):
    r = k.run(["get"] + list(args) + ["-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else {}


def wait_json(args, cond, timeout=20):
    deadline = time.time() + timeout
    while True:
        o = get_json(*args)
        if cond(o) or time.time() > deadline:
            return o
        time.sleep(0.2)


def cond_of(obj, typ):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == typ:
            return c
    return {}


# ---- nodes ----
_, _, body = srv.request("GET", "/version")
git_version = json.loads(body)["gitVersion"]
r = k.ok("get nodes -o wide", out=["hollow-0", "hollow-1", "hollow-2"], name="kubectl get nodes lists the hollow nodes")
rows = [l.split() for l in r.stdout.splitlines()[1:] if l.strip()]
t.ok(len(rows) == 3 and all(row[1] == "Ready" and row[4] == git_version for row in rows),
     "every node Ready with VERSION = the server's gitVersion " + git_version, r.stdout)
t.ok(all(row[5].startswith("10.244.") for row in rows) and len({row[5] for row in rows}) == 3,
     "INTERNAL-IP: distinct 10.244.x.y addresses", r.stdout)
t.ok(all(row[-1] == "hollow://1.0" for row in rows), "CONTAINER-RUNTIME hollow://1.0", r.stdout)

n0 = get_json("node", "hollow-0")
st = n0.get("status", {})
t.ok(st.get("capacity", {}).get("cpu") == "4" and st.get("capacity", {}).get("memory") == "8Gi"
     and st.get("capacity", {}).get("pods") == "110" and st.get("allocatable") == st.get("capacity"),
     "capacity = allocatable: cpu 4, memory 8Gi, pods 110", st)
labels = n0.get("metadata", {}).get("labels", {})
t.ok(labels.get("kubernetes.io/hostname") == "hollow-0" and labels.get("kubernetes.io/os") == "linux"
     and labels.get("kubernetes.io/arch") in ("amd64", "arm64", "arm"),
     "labels kubernetes.io/hostname, os, arch", labels)
ready = cond_of(n0, "Ready")
t.ok(ready.get("status") == "True" and ready.get("reason") == "KubeletReady"
     and ready.get("message") == "kubelet is posting ready status" and ready.get("lastHeartbeatTime"),
     "Ready=True KubeletReady 'kubelet is posting ready status'", ready)
t.ok(all(cond_of(n0, c).get("status") == "False" for c in ("MemoryPressure", "DiskPressure", "PIDPressure"))
     and cond_of(n0, "MemoryPressure").get("reason") == "KubeletHasSufficientMemory",
     "MemoryPressure, DiskPressure, PIDPressure False as a kubelet reports them", st.get("conditions"))
info = st.get("nodeInfo", {})
t.ok(info.get("kubeletVersion") == git_version and info.get("containerRuntimeVersion") == "hollow://1.0"
     and info.get("operatingSystem") == "linux", "nodeInfo: kubeletVersion, containerRuntimeVersion", info)
addrs = {a["type"]: a["address"] for a in st.get("addresses", [])}
t.ok(addrs.get("Hostname") == "hollow-0" and addrs.get("InternalIP", "").startswith("10.244."),
     "addresses InternalIP and Hostname", addrs)

# ---- leases ----
r = k.ok("get leases -n kube-node-lease", out=["hollow-0", "hollow-1", "hollow-2"],
         name="a Lease per node in kube-node-lease")
lease = get_json("lease", "-n", "kube-node-lease", "hollow-1")
t.ok(lease.get("spec", {}).get("holderIdentity") == "hollow-1"
     and lease.get("spec", {}).get("leaseDurationSeconds") == 40
     and lease.get("metadata", {}).get("ownerReferences", [{}])[0].get("kind") == "Node",
     "the Lease: holderIdentity, leaseDurationSeconds 40, owned by its Node", lease)
first = lease.get("spec", {}).get("renewTime")
later = wait_json(["lease", "-n", "kube-node-lease", "hollow-1"],
                  lambda o: o.get("spec", {}).get("renewTime") not in (None, first), timeout=10)
t.ok(later.get("spec", {}).get("renewTime") not in (None, first),
     "the Lease is renewed (--hollow-lease-seconds 1)", (first, later.get("spec")))

# ---- a running pod ----
POD = """apiVersion: v1
kind: Pod
metadata:
  name: %(name)s
  annotations: {%(ann)s}
spec:
  nodeName: %(node)s
  restartPolicy: %(policy)s
  initContainers: %(init)s
  containers:
  - name: c
    image: busybox:1.36
    %(cmd)s
"""


def pod(name, node="hollow-0", policy="Always", cmd="", init="[]", ann=""):
    k.ok(["apply", "-f", "-"], input=POD % dict(name=name, node=node, policy=policy, cmd=cmd, init=init, ann=ann),
         out="pod/%s" % name, name="create pod %s on %s" % (name, node))


def phase_is(*phases):
    return lambda o: o.get("status", {}).get("phase") in phases


pod("web", init="[{name: setup, image: busybox:1.36}]")
p = wait_json(["pod", "web"], phase_is("Running"))
ps = p.get("status", {})
t.ok(ps.get("phase") == "Running", "a pod bound with spec.nodeName becomes Running", ps)
r = k.ok("get pod web -o wide", out="hollow-0", name="kubectl get pods -o wide")
cells = r.stdout.splitlines()[1].split() if len(r.stdout.splitlines()) > 1 else []
t.ok(len(cells) > 6 and cells[1] == "1/1" and cells[2] == "Running" and cells[5] == ps.get("podIP")
     and cells[5].startswith("10."), "-o wide: READY 1/1, Running, the pod IP", r.stdout)
t.ok(ps.get("hostIP") == addrs.get("InternalIP") and ps.get("hostIPs") == [{"ip": ps.get("hostIP")}]
     and ps.get("podIPs") == [{"ip": ps.get("podIP")}] and ps.get("startTime"),
     "hostIP is the node's InternalIP; podIPs, hostIPs, startTime", ps)
conds = [c["type"] for c in ps.get("conditions", []) if c.get("status") == "True"]
t.ok(set(conds) == {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"},
     "conditions PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled True", ps.get("conditions"))
cs = (ps.get("containerStatuses") or [{}])[0]
t.ok(cs.get("ready") is True and cs.get("started") is True and "running" in cs.get("state", {})
     and cs.get("containerID", "").startswith("hollow://") and cs.get("imageID") and cs.get("restartCount") == 0,
     "containerStatuses: running, ready, containerID hollow://..., imageID", cs)
ics = (ps.get("initContainerStatuses") or [{}])[0]
t.ok(ics.get("state", {}).get("terminated", {}).get("reason") == "Completed"
     and ics.get("state", {}).get("terminated", {}).get("exitCode") == 0,
     "the init container shows terminated Completed", ics)
rv = p["metadata"]["resourceVersion"]
time.sleep(2.5)
t.ok(get_json("pod", "web")["metadata"]["resourceVersion"] == rv,
     "a running pod's status is not rewritten while nothing changes (no write loop)", rv)

pod("web2")
pod("web3", node="hollow-1")
ips = [wait_json(["pod", n], lambda o: o.get("status", {}).get("podIP")).get("status", {}).get("podIP")
       for n in ("web", "web2", "web3")]
t.ok(all(ips) and len(set(ips)) == 3, "pod IPs are unique", ips)

# ---- exit codes ----
pod("fail", node="hollow-1", policy="Never", cmd='command: ["sh", "-c", "exit 1"]')
p = wait_json(["pod", "fail"], phase_is("Failed", "Succeeded"))
term = (p.get("status", {}).get("containerStatuses") or [{}])[0].get("state", {}).get("terminated", {})
t.ok(p.get("status", {}).get("phase") == "Failed" and term.get("exitCode") == 1 and term.get("reason") == "Error",
     "an `exit 1` pod (restartPolicy Never) is Failed, exitCode 1, reason Error", p.get("status"))
k.ok("get pod fail", out="Error", name="kubectl get pod shows STATUS Error")
ready = cond_of(p, "Ready")
t.ok(ready.get("status") == "False" and ready.get("reason") == "PodFailed", "a Failed pod: Ready False PodFailed", ready)

pod("done", node="hollow-2", policy="OnFailure", cmd='command: ["sh", "-c", "exit 0"]',
    ann='"hollow.k3c.io/run-seconds": "3"')
p = wait_json(["pod", "done"], phase_is("Running", "Succeeded", "Failed"))
t.ok(p.get("status", {}).get("phase") == "Running", "with run-seconds 3 the container runs first", p.get("status"))
p = wait_json(["pod", "done"], phase_is("Succeeded", "Failed"), timeout=15)
term = (p.get("status", {}).get("containerStatuses") or [{}])[0].get("state", {}).get("terminated", {})
t.ok(p.get("status", {}).get("phase") == "Succeeded" and term.get("reason") == "Completed"
     and term.get("exitCode") == 0, "then `exit 0` (OnFailure) makes it Succeeded, reason Completed", p.get("status"))
k.ok("get pod done", out="Completed", name="kubectl get pod shows STATUS Completed")

pod("crash", node="hollow-2", policy="Always", cmd='args: ["/bin/sh", "-c", "exit 3"]')
p = wait_json(["pod", "crash"], lambda o: (o.get("status", {}).get("containerStatuses") or [{}])[0].get("restartCount", 0) >= 1)
cs = (p.get("status", {}).get("containerStatuses") or [{}])[0]
t.ok(p.get("status", {}).get("phase") == "Running" and cs.get("restartCount", 0) >= 1
     and cs.get("lastState", {}).get("terminated", {}).get("exitCode") == 3
     and cs.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff",
     "restartPolicy Always restarts: restartCount, lastState exitCode 3, CrashLoopBackOff", cs)
k.ok("get pod crash", out="CrashLoopBackOff", name="kubectl get pod shows CrashLoopBackOff")

# ---- graceful deletion ----
w = k.popen(["get", "pod", "web2", "-w", "--output-watch-events", "-o", "json"])
time.sleep(1)
t0 = time.time()
r = k.run(["delete", "pod", "web2"])
elapsed = time.time() - t0
t.ok(r.returncode == 0 and 'pod "web2" deleted' in r.stdout and elapsed < 10,
     "kubectl delete of a pod on a hollow node completes (%.1f s)" % elapsed, k.diag("delete pod web2", r))
time.sleep(0.5)
w.terminate()
out, _ = w.communicate(timeout=10)
events = []
dec = json.JSONDecoder()
i = 0
while i < len(out):
    while i < len(out) and out[i] in " \r\n\t":
        i += 1
    if i >= len(out):
        break
    ev, i = dec.raw_decode(out, i)
    events.append(ev)
types = [e.get("type") for e in events]
graceful = [e for e in events if e.get("type") == "MODIFIED" and e["object"]["metadata"].get("deletionTimestamp")]
t.ok(graceful and graceful[0]["object"]["metadata"].get("deletionGracePeriodSeconds") == 30 and types[-1] == "DELETED",
     "the delete was graceful (deletionTimestamp, deletionGracePeriodSeconds 30) and the agent finished it", types)
k.fails("get pod web2", err='pods "web2" not found', name="the pod is gone")

# A pod on a node no kubelet serves (a Node written by hand, no Lease) is deleted at once.
k.ok(["apply", "-f", "-"], input="apiVersion: v1\nkind: Node\nmetadata: {name: bare}\n", out="node/bare")
pod("lonely", node="bare")
r = k.run(["delete", "pod", "lonely", "--wait=false"])
k.fails("get pod lonely", err='pods "lonely" not found', name="a pod on a node without a kubelet is deleted at once")
k.ok("delete node bare", out="deleted")

# python client: the hollow node's pods as the client library sees them
try:
    from kubernetes import client, config
    api_client = config.new_client_from_config(config_file=srv.kubeconfig)
    v1 = client.CoreV1Api(api_client)
    lst = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=hollow-0")
    names = sorted(p.metadata.name for p in lst.items)
    running = [p for p in lst.items if p.status.phase == "Running" and p.status.pod_ip]
    t.ok(names == ["web"] and len(running) == 1 and running[0].status.container_statuses[0].ready,
         "python client: the pods on hollow-0 with their status", names)
    node = v1.read_node("hollow-2")
    t.ok(node.status.node_info.container_runtime_version == "hollow://1.0"
         and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions),
         "python client: read_node decodes a hollow node", node.status.node_info)
except ImportError as e:
    t.skip("python client pods", "python3-kubernetes missing: %s" % e)
    t.skip("python client node", "python3-kubernetes missing")

# ---- a Deployment on hollow nodes: the scheduler binds, the agent runs ----
HAS_SCHEDULER = os.path.exists(os.path.join(os.environ.get("K3C_SRC", ""), "pkg/scheduler/scheduler.c"))
if HAS_SCHEDULER:
    k.ok("create deployment dep --image=busybox:1.36 --replicas=6", out="deployment.apps/dep created")
    r = k.run(["rollout", "status", "deployment/dep", "--timeout=90s"])
    t.ok(r.returncode == 0 and "successfully rolled out" in r.stdout,
         "a Deployment's pods are scheduled onto hollow nodes and run: rollout status returns", k.diag("rollout status", r))
    pods = get_json("pods", "-l", "app=dep").get("items", [])
    nodes = {p_["spec"].get("nodeName") for p_ in pods}
    t.ok(len(pods) == 6 and all(p_.get("status", {}).get("phase") == "Running" for p_ in pods)
         and nodes <= {"hollow-0", "hollow-1", "hollow-2"} and len(nodes) >= 2,
         "six Running pods spread over the hollow nodes", [(p_["metadata"]["name"], p_["spec"].get("nodeName")) for p_ in pods])
    k.ok("scale deployment dep --replicas=2", out="scaled")
    left = wait_json(["pods", "-l", "app=dep"], lambda o: len(o.get("items", [])) == 2, timeout=30)
    t.ok(len(left.get("items", [])) == 2, "scaling down: the agent finishes the graceful deletions", left.get("items"))
else:
    for name in ("Deployment rollout on hollow nodes", "pods spread over hollow nodes", "scale down"):
        t.skip(name, "the scheduler is not built yet")

# ---- stopping the agent ----
t.ok(hollow.stop_clean(), "the hollow agent stops cleanly on SIGTERM", hollow.log_tail())
time.sleep(1.5)
before = get_json("lease", "-n", "kube-node-lease", "hollow-0").get("spec", {}).get("renewTime")
time.sleep(2.5)
after = get_json("lease", "-n", "kube-node-lease", "hollow-0").get("spec", {}).get("renewTime")
t.ok(before and before == after, "after the agent stopped its Leases are no longer renewed", (before, after))
# The Lease is still within its 40 s, so a deletion waits for the kubelet, as upstream.
r = k.run(["delete", "pod", "web3", "--wait=false"])
p = get_json("pod", "web3")
t.ok(p.get("metadata", {}).get("deletionTimestamp") and p["metadata"].get("deletionGracePeriodSeconds") == 30,
     "with its kubelet gone a deleted pod stays Terminating", p.get("metadata"))
k.ok("get pod web3", out="Terminating", name="kubectl shows it Terminating")
k.run(["delete", "pod", "web3", "--grace-period=3", "--wait=false"])
p = get_json("pod", "web3")
t.ok(p.get("metadata", {}).get("deletionGracePeriodSeconds") == 3, "a second delete shortens the grace period",
     p.get("metadata"))
r = k.run(["delete", "pod", "web3", "--grace-period=0", "--force"])
k.fails("get pod web3", err='pods "web3" not found', name="--grace-period=0 --force removes it")

# An agent started again takes its nodes back.
hollow2 = Hollow(srv, 3, extra_args=["--hollow-lease-seconds", "1"]).start()
p = wait_json(["pod", "web"], phase_is("Running"))
t.ok(p.get("status", {}).get("podIP") == ips[0], "a restarted agent keeps the running pod and its IP", p.get("status"))
t.ok(hollow2.stop_clean(), "the second agent stops cleanly", hollow2.log_tail())

# An agent whose server does not answer yet waits for it, as a kubelet does.
import socket  # noqa: E402
import subprocess  # noqa: E402
from k3ctest import k3c_bin  # noqa: E402
with socket.socket() as sk:
    sk.bind(("127.0.0.1", 0))
    dead_port = sk.getsockname()[1]
with open(srv.kubeconfig) as f:
    kc = f.read().replace(":%d" % srv.port, ":%d" % dead_port)
dead_kc = os.path.join(srv.tmp, "dead.yaml")
with open(dead_kc, "w") as f:
    f.write(kc)
log_path = os.path.join(srv.tmp, "hollow-dead.log")
with open(log_path, "w") as log:
    proc = subprocess.Popen([k3c_bin(), "agent", "--config", "/dev/null", "--hollow", "1", "--kubeconfig", dead_kc],
                            stdout=log, stderr=subprocess.STDOUT)
    time.sleep(3)
    alive = proc.poll() is None
    proc.terminate()
    rc = proc.wait(30)
with open(log_path) as f:
    text = f.read()
t.ok(alive and rc == 0 and "retrying" in text, "with no server yet the agent keeps retrying, and stops cleanly", text)
k.finish()
