"""The ServiceAccount controller and the root CA publisher in a real
`k3c server --disable-agent` with kubectl: a ServiceAccount "default" and a ConfigMap
kube-root-ca.crt (the cluster CA, as in the kubeconfig) in every namespace, the
built-in ones and a new one; both come back when deleted, the ConfigMap also when
its data is edited; `kubectl get sa -A` prints them as upstream does (SECRETS 0)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)
with open(srv.ca_file) as f:
    ca = f.read()
DESC = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
        "endpoints such as the internal service IPs or kubernetes.default.svc. No other usage is "
        "guaranteed across distributions of Kubernetes clusters.")


def get(args):
    r = k.run(args + ["-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait(cond, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def sa(ns):
    return get(["-n", ns, "get", "sa", "default"])


def cm(ns):
    return get(["-n", ns, "get", "configmap", "kube-root-ca.crt"])


def cm_good(ns):
    c = cm(ns)
    return bool(c) and c.get("data") == {"ca.crt": ca} and \
        c["metadata"].get("annotations", {}).get("kubernetes.io/description") == DESC


builtin = ["default", "kube-system", "kube-public", "kube-node-lease"]
for ns in builtin:
    t.ok(wait(lambda: sa(ns)), "ServiceAccount default in %s" % ns)
    t.ok(wait(lambda: cm_good(ns)), "kube-root-ca.crt in %s holds the kubeconfig's CA" % ns,
         json.dumps(cm(ns), indent=1))
t.ok(ca.startswith("-----BEGIN CERTIFICATE-----"), "the kubeconfig's CA is a PEM certificate")

# ---- a new namespace gets both within a few seconds
k.ok("create namespace team-a", out="namespace/team-a created")
start = time.time()
t.ok(wait(lambda: sa("team-a"), timeout=5), "ServiceAccount default in a new namespace")
t.ok(wait(lambda: cm_good("team-a"), timeout=5), "kube-root-ca.crt in a new namespace")
t.ok(time.time() - start < 5, "both within 5 s", "%.1f s" % (time.time() - start))

# ---- deleted, they come back (with a new uid)
uid = sa("team-a")["metadata"]["uid"]
k.ok("-n team-a delete sa default", out='serviceaccount "default" deleted')
t.ok(wait(lambda: (sa("team-a") or {}).get("metadata", {}).get("uid") not in (None, uid)),
     "a deleted default ServiceAccount is created again")
uid = cm("team-a")["metadata"]["uid"]
k.ok("-n team-a delete configmap kube-root-ca.crt", out='configmap "kube-root-ca.crt" deleted')
t.ok(wait(lambda: cm_good("team-a") and cm("team-a")["metadata"]["uid"] != uid),
     "a deleted kube-root-ca.crt is created again")

# ---- edited, it is put back
k.ok(["-n", "team-a", "patch", "configmap", "kube-root-ca.crt", "--type=merge", "-p",
      json.dumps({"data": {"ca.crt": "not a CA", "extra": "x"}})],
     out="configmap/kube-root-ca.crt patched")
t.ok(wait(lambda: cm_good("team-a")), "an edit of its data is undone (ca.crt only, the CA)",
     json.dumps(cm("team-a"), indent=1))
k.ok(["-n", "team-a", "annotate", "configmap", "kube-root-ca.crt",
      "kubernetes.io/description-"], out="annotated")
t.ok(wait(lambda: cm_good("team-a")), "a removed description annotation is put back")
# a ServiceAccount of another name is left alone
k.ok("-n team-a create sa builder", out="serviceaccount/builder created")
k.ok("-n team-a delete sa builder", out='serviceaccount "builder" deleted')
time.sleep(1)
k.fails("-n team-a get sa builder", err="NotFound", name="another ServiceAccount is not re-created")

# ---- kubectl get sa -A: NAMESPACE NAME SECRETS AGE, SECRETS 0
r = k.ok("get sa -A", check=lambda o: header(o) == ["NAMESPACE", "NAME", "SECRETS", "AGE"])
listed = {(row[0], row[1]): row[2] for row in rows(r.stdout)}
for ns in builtin + ["team-a"]:
    t.ok(listed.get((ns, "default")) == "0", "get sa -A lists default in %s with SECRETS 0" % ns,
         r.stdout)
r = k.ok("get configmaps -A", check=lambda o: header(o) == ["NAMESPACE", "NAME", "DATA", "AGE"])
t.ok(all(any(row[0] == ns and row[1] == "kube-root-ca.crt" and row[2] == "1"
             for row in rows(r.stdout)) for ns in builtin + ["team-a"]),
     "get configmaps -A lists kube-root-ca.crt (DATA 1) in each namespace", r.stdout)

# ---- a terminating namespace gets nothing back
k.ok("delete namespace team-a --wait=false", out='namespace "team-a" deleted')
t.ok(wait(lambda: k.run("get namespace team-a").returncode != 0, timeout=30),
     "the namespace goes away (nothing re-created blocks it)")

# ---- after a restart the controllers list first and create nothing twice
sa_uid, cm_rv = sa("kube-system")["metadata"]["uid"], cm("kube-system")["metadata"]["resourceVersion"]
srv.stop()
srv.start()
time.sleep(2)
t.ok((sa("kube-system") or {}).get("metadata", {}).get("uid") == sa_uid,
     "after a restart the ServiceAccount is the same one")
t.ok(cm_good("kube-system") and cm("kube-system")["metadata"]["resourceVersion"] == cm_rv,
     "after a restart kube-root-ca.crt is unchanged (no needless update)")
k.finish()
