"""Namespace lifecycle (issue #11) with real kubectl against `k3c server --disable-agent`: a
deleted namespace is Terminating while content with a finalizer holds it, with upstream's
deletion conditions naming what remains; creates in it are refused with
NamespaceLifecycle's message; once the finalizer goes the namespace goes; content without
finalizers goes at once (kubectl delete ns waits for it); the /finalize subresource empties
spec.finalizers as `kubectl replace --raw .../finalize` does; a recreated namespace of the
same name starts empty."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap, wait_until  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)


def get(args):
    r = k.run(args + ["-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else None


def conds(ns):
    o = get(["get", "namespace", ns]) or {}
    return {c["type"]: c for c in o.get("status", {}).get("conditions", [])}


# ---- plain content goes with the namespace ----
k.ok("create namespace plain", out="namespace/plain created")
ns = get(["get", "namespace", "plain"])
t.ok(ns and ns["spec"].get("finalizers") == ["kubernetes"] and ns["status"]["phase"] == "Active",
     "a new namespace: spec.finalizers [kubernetes], phase Active", json.dumps(ns)[:300])
for i in range(3):
    k.ok("create configmap c%d -n plain --from-literal=a=b" % i, out="configmap/c%d created" % i)
k.ok("create secret generic s -n plain --from-literal=a=b", out="secret/s created")
k.ok("create deployment d -n plain --image=busybox:1.36", out="deployment.apps/d created")
k.ok("delete namespace plain --timeout=60s", out='namespace "plain" deleted')
k.fails("get namespace plain", err='namespaces "plain" not found')
for kind in ("configmaps", "secrets", "deployments", "replicasets", "pods"):
    grp = "/apis/apps/v1" if kind in ("deployments", "replicasets") else "/api/v1"
    st, _, body = srv.request("GET", "%s/namespaces/plain/%s" % (grp, kind))
    items = json.loads(body).get("items") if st == 200 else None
    t.ok(items == [], "its %s are gone" % kind, (st, body[:200]))

# ---- a finalizer holds it Terminating ----
k.ok("create namespace held", out="namespace/held created")
k.ok(["apply", "-f", k.write("held.yaml", """apiVersion: v1
kind: ConfigMap
metadata: {name: keeper, namespace: held, finalizers: [example.com/hold]}
data: {a: b}
""")], out="configmap/keeper created")
k.ok("create configmap other -n held --from-literal=a=b", out="configmap/other created")
k.ok("delete namespace held --wait=false", out='namespace "held" deleted')
ns = get(["get", "namespace", "held"])
t.ok(ns and ns["status"]["phase"] == "Terminating" and ns["metadata"].get("deletionTimestamp"),
     "the namespace is Terminating with a deletionTimestamp", json.dumps(ns)[:400])
c = wait_until(lambda: (lambda c: c if "NamespaceContentRemaining" in c else None)(conds("held")))
t.ok(c and c["NamespaceContentRemaining"]["status"] == "True" and
     c["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain" and
     "configmaps. has 1 resource instances" in c["NamespaceContentRemaining"]["message"],
     "NamespaceContentRemaining True names the configmap left", json.dumps(c)[:800])
t.ok(c and c.get("NamespaceFinalizersRemaining", {}).get("status") == "True" and
     "example.com/hold in 1 resource instances" in c["NamespaceFinalizersRemaining"]["message"],
     "NamespaceFinalizersRemaining True names the finalizer", json.dumps(c)[:800])
t.ok(c and c.get("NamespaceDeletionContentFailure", {}).get("status") == "False" and
     c.get("NamespaceDeletionDiscoveryFailure", {}).get("reason") == "ResourcesDiscovered",
     "the other deletion conditions as upstream", json.dumps(c)[:800])
k.fails("get configmap other -n held", err='configmaps "other" not found')
cm = get(["get", "configmap", "keeper", "-n", "held"])
t.ok(cm and cm["metadata"].get("deletionTimestamp"), "the held configmap is being deleted",
     json.dumps(cm)[:300])
k.fails("create configmap late -n held --from-literal=a=b",
        err='configmaps "late" is forbidden: unable to create new content in namespace held '
            'because it is being terminated')
st, _, body = srv.request("POST", "/api/v1/namespaces/held/secrets", body=json.dumps(
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
    headers={"Content-Type": "application/json"})
b = json.loads(body) if body else {}
t.ok(st == 403 and b.get("reason") == "Forbidden" and
     any(c.get("reason") == "NamespaceTerminating" for c in b.get("details", {}).get("causes", [])),
     "the API's 403 carries the NamespaceTerminating cause", (st, body[:400]))
k.ok(["patch", "configmap", "keeper", "-n", "held", "--type=merge", "-p",
      '{"metadata":{"finalizers":null}}'], out="configmap/keeper patched")
t.ok(wait_until(lambda: k.run("get namespace held").returncode != 0),
     "with the finalizer gone the namespace goes")

# ---- /finalize ----
k.ok("create namespace stuck", out="namespace/stuck created")
k.ok(["apply", "-f", k.write("stuck.yaml", """apiVersion: v1
kind: ConfigMap
metadata: {name: pin, namespace: stuck, finalizers: [example.com/forever]}
""")], out="configmap/pin created")
k.ok("delete namespace stuck --wait=false", out='namespace "stuck" deleted')
time.sleep(1)
t.ok(k.run("get namespace stuck").returncode == 0, "a namespace held by a finalizer stays")
r = k.run(["replace", "--raw", "/api/v1/namespaces/stuck/finalize", "-f",
           k.write("fin.json", json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": "stuck"},
                                           "spec": {"finalizers": []}}))])
t.ok(r.returncode == 0, "kubectl replace --raw .../finalize with no finalizers", r.stderr)
t.ok(wait_until(lambda: k.run("get namespace stuck").returncode != 0, timeout=5),
     "the namespace is gone at once, as upstream")
st, _, _ = srv.request("PATCH", "/api/v1/namespaces/default/finalize", body="{}",
                       headers={"Content-Type": "application/merge-patch+json"})
t.ok(st == 405, "PATCH of /finalize: 405 (PUT only)", st)

# ---- the same name again starts empty ----
k.ok("create namespace plain", out="namespace/plain created")
k.ok("get configmaps -n plain -o name", check=lambda o: "c0" not in o and "c1" not in o)
k.finish()
