"""The Node authorizer and NodeRestriction (issue #15) with real kubectl: two hollow agents
join a `k3c server --disable-agent` with the token (nodes na-0 and nb-0); each node's own
certificate (a kubeconfig built from its saved files) reads the Secret, ConfigMap and
claim of a pod bound to it, watches one by name, and is refused those of the other
node's pod (upstream's "no relationship found" message), whole-namespace lists, other
nodes' Node, Lease and pods, creating pods or another Node, and tokens of ServiceAccounts
its pods do not use."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import (SANITIZER_MARKS, Server, Tap, join_agent, node_kubeconfig,  # noqa: E402
                     wait_until)

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
token = open(os.path.join(srv.data_dir, "server", "node-token")).read().strip()
procs = []


def agent(prefix):
    p, log = join_agent(srv, prefix, prefix, token)
    procs.append((p, log))
    return os.path.join(srv.tmp, prefix, "agent")


def wait_ready(name, timeout=30):
    return wait_until(lambda: srv.kubectl("get", "node", name, "-o", "jsonpath={.status.conditions"
                                          "[?(@.type=='Ready')].status}").stdout.strip() == "True",
                      timeout)


def apply(obj):
    r = subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig, "apply", "-f", "-"],
                       input=json.dumps(obj), capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=srv.tmp))
    return r.returncode == 0, r.stdout + r.stderr


adir_a, adir_b = agent("na"), agent("nb")
t.ok(wait_ready("na-0") and wait_ready("nb-0"), "two hollow agents joined: na-0 and nb-0 Ready",
     "\n".join(open(l).read()[-400:] for _, l in procs))
ka = node_kubeconfig(srv, adir_a, os.path.join(srv.tmp, "na.kubeconfig"))
kb = node_kubeconfig(srv, adir_b, os.path.join(srv.tmp, "nb.kubeconfig"))


def as_node(kc, *args, stdin=None):
    return subprocess.run(["kubectl", "--kubeconfig", kc] + list(args), capture_output=True,
                          text=True, timeout=60, input=stdin, env=dict(os.environ, HOME=srv.tmp))


for kind, name in (("secret", "sa"), ("secret", "sb"), ("configmap", "ca"), ("configmap", "cb")):
    args = ["create", kind, "generic" if kind == "secret" else None, name, "--from-literal=k=v"]
    srv.kubectl(*[a for a in args if a])
apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}})
for node, sec, cm, sa in (("na-0", "sa", "ca", "robot"), ("nb-0", "sb", "cb", "default")):
    ok, out = apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p-" + node},
                     "spec": {"nodeName": node, "serviceAccountName": sa,
                              "containers": [{"name": "c", "image": "busybox:1.36",
                                              "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {
                                                  "name": cm, "key": "k"}}}]}],
                              "volumes": [{"name": "s", "secret": {"secretName": sec}},
                                          {"name": "d", "persistentVolumeClaim": {
                                              "claimName": "claim-" + node}}]}})
    t.ok(ok, "pod p-%s bound to %s using Secret %s, ConfigMap %s, claim claim-%s" % (
        node, node, sec, cm, node), out)

# ---- reads by relation ----
r = as_node(ka, "get", "secret", "sa", "-o", "jsonpath={.data.k}")
t.ok(r.returncode == 0 and r.stdout == "dg==", "na-0 reads the Secret its pod mounts", r.stderr)
r = as_node(ka, "get", "configmap", "ca", "-o", "jsonpath={.data.k}")
t.ok(r.returncode == 0 and r.stdout == "v", "na-0 reads the ConfigMap its pod's env uses", r.stderr)
r = as_node(ka, "get", "secret", "sb")
t.ok(r.returncode != 0 and 'secrets "sb" is forbidden: User "system:node:na-0" cannot get resource '
     '"secrets" in API group "" in the namespace "default": no relationship found between node '
     "'na-0' and this object" in r.stderr,
     "na-0 is refused nb-0's Secret with upstream's message", r.stderr)
r = as_node(ka, "get", "configmap", "cb")
t.ok(r.returncode != 0 and "no relationship found" in r.stderr, "... and nb-0's ConfigMap", r.stderr)
r = as_node(kb, "get", "secret", "sb")
t.ok(r.returncode == 0, "nb-0 reads its own pod's Secret", r.stderr)
r = as_node(ka, "get", "secrets")
t.ok(r.returncode != 0 and "can only read individual resources" in r.stderr,
     "listing every Secret of a namespace is refused", r.stderr)
r = as_node(ka, "get", "secrets", "-A")
t.ok(r.returncode != 0 and "forbidden" in r.stderr, "... and of all namespaces", r.stderr)
r = as_node(ka, "get", "secrets", "--field-selector", "metadata.name=sa", "-o", "name")
t.ok(r.returncode == 0 and r.stdout.strip() == "secret/sa",
     "a list by metadata.name of a related Secret is allowed (how a kubelet watches)", r.stderr)
r = as_node(ka, "get", "secrets", "--field-selector", "metadata.name=sb", "-o", "name")
t.ok(r.returncode != 0 and "no relationship found" in r.stderr, "... of an unrelated one refused",
     r.stderr)
r = as_node(ka, "get", "pvc", "claim-na-0")
t.ok(r.returncode != 0 and "not found" in r.stderr and "forbidden" not in r.stderr,
     "na-0 may look up its pod's claim (NotFound: it does not exist)", r.stderr)
r = as_node(ka, "get", "pvc", "claim-nb-0")
t.ok(r.returncode != 0 and "no relationship found" in r.stderr, "... not nb-0's claim", r.stderr)
r = as_node(ka, "delete", "secret", "sa")
t.ok(r.returncode != 0 and "forbidden" in r.stderr, "a node may not delete a Secret, related or not",
     r.stderr)

# ---- writes restricted to itself ----
r = as_node(ka, "label", "node", "nb-0", "stolen=yes")
t.ok(r.returncode != 0 and 'node "na-0" is not allowed to modify node "nb-0"' in r.stderr,
     "na-0 may not modify Node nb-0", r.stderr)
r = as_node(ka, "label", "node", "na-0", "mine=yes")
t.ok(r.returncode == 0, "na-0 may label its own Node", r.stderr)
r = as_node(ka, "delete", "node", "nb-0")
t.ok(r.returncode != 0 and "not allowed to modify node" in r.stderr, "... nor delete nb-0", r.stderr)
r = as_node(ka, "create", "-f", "-", stdin=json.dumps(
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "impostor"}}))
t.ok(r.returncode != 0 and 'node "na-0" is not allowed to modify node "impostor"' in r.stderr,
     "na-0 may not create a Node of another name", r.stderr)
r = as_node(ka, "annotate", "lease", "-n", "kube-node-lease", "nb-0", "x=y")
t.ok(r.returncode != 0 and "can only access node lease with the same name" in r.stderr,
     "na-0 may not touch nb-0's Lease", r.stderr)
def node_patch(adir, path, body):
    """A merge patch with a node's certificate (the kubelet patches pod status without a GET,
    which kubectl's --subresource does first and a node may not)."""
    ctx = ssl.create_default_context(cafile=os.path.join(adir, "server-ca.crt"))
    ctx.load_cert_chain(os.path.join(adir, "client-kubelet.crt"), os.path.join(adir, "client-kubelet.key"))
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=30)
    c.request("PATCH", path, body=json.dumps(body),
              headers={"Content-Type": "application/merge-patch+json"})
    r = c.getresponse()
    data = r.read().decode(errors="replace")
    c.close()
    return r.status, data


st, body = node_patch(adir_a, "/api/v1/namespaces/default/pods/p-nb-0/status",
                      {"status": {"message": "hijacked"}})
t.ok(st == 403 and 'node \\"na-0\\" can only update pod status for pods with spec.nodeName set to '
     "itself" in body, "na-0 may not write nb-0's pod status (403, NodeRestriction's message)",
     (st, body[:400]))
st, body = node_patch(adir_a, "/api/v1/namespaces/default/pods/p-na-0/status",
                      {"status": {"message": "fine"}})
t.ok(st == 200, "... but its own pod's", (st, body[:300]))
r = as_node(ka, "delete", "pod", "p-nb-0", "--wait=false")
t.ok(r.returncode != 0 and "can only delete pods with spec.nodeName set to itself" in r.stderr,
     "na-0 may not delete nb-0's pod", r.stderr)
r = as_node(ka, "run", "sneaky", "--image", "busybox:1.36")
t.ok(r.returncode != 0 and "can only create mirror pods" in r.stderr, "a node may not create pods",
     r.stderr)

# ---- service-account tokens ----
r = as_node(ka, "create", "token", "robot")
t.ok(r.returncode == 0 and r.stdout.count(".") >= 1, "na-0 gets a token for its pod's ServiceAccount",
     r.stderr)
r = as_node(ka, "create", "token", "default")
t.ok(r.returncode != 0 and "no relationship found" in r.stderr,
     "... not for one only nb-0's pod uses", r.stderr)

# ---- what the node's cluster DNS (and proxy) watch ----
r = as_node(ka, "get", "endpointslices", "-A", "-o", "name")
t.ok(r.returncode == 0, "na-0 lists EndpointSlices of all namespaces (its cluster DNS watches them)",
     r.stderr)
r = as_node(ka, "get", "services", "-A", "-o", "name")
t.ok(r.returncode == 0 and "service/kube-dns" in r.stdout,
     "... and Services (kube-system/kube-dns among them)", (r.stdout, r.stderr))
r = as_node(ka, "auth", "can-i", "delete", "endpointslices.discovery.k8s.io", "-A")
t.ok(r.returncode != 0 and r.stdout.strip() == "no", "... but may not delete EndpointSlices",
     (r.stdout, r.stderr))

# ---- the admin is unaffected ----
r = srv.kubectl("get", "secrets", "-o", "name")
t.ok(r.returncode == 0 and "secret/sb" in r.stdout, "the admin still lists every Secret", r.stderr)

bad = [l for _, l in procs if any(m in open(l).read() for m in SANITIZER_MARKS)]
for p, _ in procs:
    p.terminate()
for p, _ in procs:
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
t.ok(not bad, "no sanitizer report in the agent logs", bad)
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
