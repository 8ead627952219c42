"""Node IPAM in a real `k3c server --disable-agent`: hollow nodes each get their own
/24 of --cluster-cidr in spec.podCIDR/podCIDRs, kept once set; a Node created with a
podCIDR keeps it and its subnet is not given again; a deleted Node's subnet is reused;
a range used up leaves a Node without one and a CIDRNotAvailable event; a bad
--cluster-cidr stops the server with a message."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Hollow, Server, Tap, k3c_bin  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
# A /22: four node subnets, so the test can use the range up.
srv = Server(extra_args=["--disable-agent", "--cluster-cidr", "10.77.0.0/22"]).start()
k = Kube(t, srv)


def cidrs():
    r = k.run(["get", "nodes", "-o", "json"])
    items = json.loads(r.stdout).get("items", []) if r.returncode == 0 else []
    return {n["metadata"]["name"]: (n.get("spec", {}).get("podCIDR"), n.get("spec", {}).get("podCIDRs"))
            for n in items}


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while True:
        v = cidrs()
        if cond(v) or time.time() > deadline:
            return v
        time.sleep(0.2)


def node(name, pod_cidr=None):
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    return json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec})


# A Node registered with a subnet of its own keeps it.
r = k.run(["create", "-f", "-"], input=node("preset", "10.77.1.0/24"))
t.ok(r.returncode == 0, "a Node with spec.podCIDR 10.77.1.0/24 is created", r.stderr)

hollow = Hollow(srv, 2, extra_args=["--hollow-lease-seconds", "1"]).start()
v = wait_for(lambda v: all(v.get(n, (None,))[0] for n in hollow.names))
got = [v[n][0] for n in hollow.names]
t.ok(all(got), "both hollow nodes got a podCIDR", v)
t.ok(len(set(got)) == 2 and "10.77.1.0/24" not in got, "their subnets are distinct and not the preset one", got)
t.ok(all(c in ("10.77.0.0/24", "10.77.2.0/24", "10.77.3.0/24") for c in got), "subnets are /24s of the cluster CIDR", got)
t.ok(all(v[n][1] == [v[n][0]] for n in hollow.names), "spec.podCIDRs holds the same one subnet", v)
t.ok(v.get("preset", (None,))[0] == "10.77.1.0/24", "the preset Node keeps its subnet", v.get("preset"))

# The fourth subnet goes to the next Node; a fifth Node gets none and an event.
r = k.run(["create", "-f", "-"], input=node("fourth"))
v = wait_for(lambda v: v.get("fourth", (None,))[0])
used = {c for c, _ in v.values() if c}
t.ok(v.get("fourth", (None,))[0] and len(used) == 4, "a fourth Node takes the last free subnet", v)
r = k.run(["create", "-f", "-"], input=node("fifth"))
time.sleep(1.5)
v = cidrs()
t.ok(r.returncode == 0 and not v.get("fifth", ("x",))[0], "a fifth Node gets no podCIDR (range used up)", v)
ev = k.run(["get", "events", "--field-selector", "involvedObject.name=fifth", "-o", "json"])
reasons = [e.get("reason") for e in json.loads(ev.stdout).get("items", [])] if ev.returncode == 0 else []
t.ok("CIDRNotAvailable" in reasons, "a CIDRNotAvailable event names the fifth Node", reasons)

# Deleting a Node frees its subnet for the one waiting.
fourth = v["fourth"][0]
r = k.run(["delete", "node", "fourth"])
v = wait_for(lambda v: v.get("fifth", (None,))[0])
t.ok(r.returncode == 0 and v.get("fifth", (None,))[0] == fourth, "the deleted Node's subnet goes to the fifth", v)
# An update of a Node that has a subnet does not change it.
r = k.run(["label", "node", "preset", "x=y"])
time.sleep(0.5)
t.ok(cidrs().get("preset", (None,))[0] == "10.77.1.0/24", "a labelled Node keeps its subnet")

hollow.stop()
srv.stop()

# A bad cluster CIDR stops the server with a reason.
bad = Server(extra_args=["--disable-agent", "--cluster-cidr", "10.77.0.0/28"])
try:
    bad.start(timeout=20)
    t.ok(False, "--cluster-cidr 10.77.0.0/28 stops the server")
    bad.stop()
except RuntimeError as e:
    t.ok("cluster-cidr" in str(e), "--cluster-cidr 10.77.0.0/28 stops the server with a message", str(e)[-300:])
t.done()
