"""The scheduler and the node lifecycle controller with hollow nodes (`k3c agent
--hollow`), the issue's end-to-end shape: a pod bigger than every hollow node stays
Pending with the FailedScheduling message and is scheduled (and Running) once a bigger
hollow node joins; when a hollow agent stops, its nodes' Leases expire, they become
Ready=Unknown with the unreachable taints and their pods are evicted after the shortened
toleration. Flags: --node-monitor-grace-period 4, --default-*-toleration-seconds 2."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Hollow, Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent", "--node-monitor-grace-period", "4",
                         "--default-not-ready-toleration-seconds", "2",
                         "--default-unreachable-toleration-seconds", "2"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def pod(name):
    try:
        return v1.read_namespaced_pod(name, "default")
    except client.rest.ApiException:
        return None


small = Hollow(srv, 2, ["--hollow-cpu", "2", "--hollow-lease-seconds", "1"], prefix="small-").start()
alloc = {n.metadata.name: n.status.allocatable.get("cpu") for n in v1.list_node().items}
t.ok(alloc == {"small-0": "2", "small-1": "2"}, "two hollow nodes with 2 cpu", alloc)
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"},
                                     "spec": {"containers": [{"name": "c", "image": "busybox",
                                                              "resources": {"requests": {"cpu": "3"}}}]}})
want = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
        "2 No preemption victims found for incoming pod..")  # upstream's double period
evs = wait(lambda: [e for e in v1.list_namespaced_event("default").items
                    if e.involved_object.name == "big" and e.reason == "FailedScheduling"])
t.ok(evs and evs[0].message == want, "FailedScheduling with upstream's message", [e.message for e in evs or []])
big = Hollow(srv, 1, ["--hollow-cpu", "8", "--hollow-lease-seconds", "1"], prefix="big-").start()
t.ok(wait(lambda: pod("big").spec.node_name == "big-0"), "bound to the bigger hollow node once it joins",
     pod("big").spec.node_name)
t.ok(wait(lambda: pod("big").status.phase == "Running"), "and Running there (the hollow kubelet)",
     pod("big").status.phase)

# ---- the small agent stops: Leases expire, taints, eviction ----
v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "onsmall"},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                              "nodeSelector": {"kubernetes.io/hostname": "small-0"}}})
t.ok(wait(lambda: pod("onsmall").status.phase == "Running"), "a pod Running on small-0")
small.stop()
stopped = time.time()


def ready(name):
    for c in v1.read_node(name).status.conditions or []:
        if c.type == "Ready":
            return c
    return None


c = wait(lambda: ready("small-0") if ready("small-0").status == "Unknown" else None)
t.ok(c and c.reason == "NodeStatusUnknown", "small-0 becomes Ready=Unknown", c)
taints = wait(lambda: sorted((x.key, x.effect) for x in (v1.read_node("small-0").spec.taints or []))
              if v1.read_node("small-0").spec.taints else None)
t.ok(taints == [("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")],
     "with the unreachable taints", taints)
t.ok(wait(lambda: pod("onsmall") is None or pod("onsmall").metadata.deletion_timestamp is not None),
     "its pod is evicted after the 2 s toleration")
t.ok(ready("big-0").status == "True", "the live hollow node stays Ready")
r = k.run("get nodes")
t.ok(r.returncode == 0 and "NotReady" in r.stdout, "kubectl get nodes shows NotReady", r.stdout)

big.stop()
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
