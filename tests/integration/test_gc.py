"""The garbage collector in a real `k3c server --disable-agent` with kubectl:
deleting a Deployment removes its ReplicaSets and pods (background), `--cascade=orphan`
keeps them without ownerReferences, `--cascade=foreground` keeps the owner (with the
foregroundDeletion finalizer) until its dependents are gone, and the collector works
again after a restart (its caches list first)."""
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


def items(kind, selector):
    r = k.run(["get", kind, "-l", selector, "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else None


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


# ---- background: the default of kubectl delete ----
k.ok(["create", "deployment", "bg", "--image=nginx:1.25", "--replicas=3"], out="created")
t.ok(wait(lambda: len(items("pods", "app=bg") or []) == 3), "three pods")
k.ok(["delete", "deployment", "bg"], out='deployment.apps "bg" deleted')
t.ok(wait(lambda: items("rs", "app=bg") == []), "deleting the Deployment removes its ReplicaSet",
     items("rs", "app=bg"))
t.ok(wait(lambda: items("pods", "app=bg") == []), "and its pods", items("pods", "app=bg"))

# ---- orphan ----
k.ok(["create", "deployment", "orph", "--image=nginx:1.25", "--replicas=2"], out="created")
t.ok(wait(lambda: len(items("pods", "app=orph") or []) == 2), "two pods")
k.ok(["delete", "deployment", "orph", "--cascade=orphan"], out="deleted")
t.ok(wait(lambda: k.run(["get", "deployment", "orph"]).returncode != 0),
     "--cascade=orphan: the Deployment goes")
rs = wait(lambda: [r for r in (items("rs", "app=orph") or []) if not r["metadata"].get("ownerReferences")])
t.ok(rs and len(rs) == 1, "its ReplicaSet stays, without an ownerReference", items("rs", "app=orph"))
time.sleep(1)
t.ok(len(items("pods", "app=orph") or []) == 2, "and its pods stay")
k.ok(["delete", "rs", rs[0]["metadata"]["name"], "--cascade=orphan"], out="deleted")
p = wait(lambda: [x for x in (items("pods", "app=orph") or []) if not x["metadata"].get("ownerReferences")]
         if k.run(["get", "rs", rs[0]["metadata"]["name"]]).returncode != 0 else None)
t.ok(p and len(p) == 2, "orphaning a ReplicaSet keeps its pods without ownerReferences",
     items("pods", "app=orph"))

# ---- foreground: the owner waits for its dependents ----
k.ok(["create", "deployment", "fg", "--image=nginx:1.25", "--replicas=2"], out="created")
t.ok(wait(lambda: len(items("pods", "app=fg") or []) == 2), "two pods")
blocked = items("pods", "app=fg")[0]["metadata"]["name"]
k.ok(["patch", "pod", blocked, "--type=merge", "-p", '{"metadata":{"finalizers":["example.com/block"]}}'],
     out="patched")
r = k.run(["delete", "deployment", "fg", "--cascade=foreground", "--wait=false"])
t.ok(r.returncode == 0, "kubectl delete --cascade=foreground", k.diag("delete", r))
time.sleep(2)
d = json.loads(k.run(["get", "deployment", "fg", "-o", "json"]).stdout or "{}")
t.ok(d and "foregroundDeletion" in d["metadata"].get("finalizers", [])
     and d["metadata"].get("deletionTimestamp"),
     "the Deployment stays, being deleted, with the foregroundDeletion finalizer", d.get("metadata"))
rs = items("rs", "app=fg") or []
t.ok(len(rs) == 1 and "foregroundDeletion" in rs[0]["metadata"].get("finalizers", []),
     "its ReplicaSet too (deleted in the foreground in turn)", [r["metadata"] for r in rs])
left = items("pods", "app=fg") or []
t.ok([p["metadata"]["name"] for p in left] == [blocked] and left[0]["metadata"].get("deletionTimestamp"),
     "only the pod held by its own finalizer is left, being deleted", [p["metadata"] for p in left])
k.ok(["patch", "pod", blocked, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'], out="patched")
t.ok(wait(lambda: k.run(["get", "deployment", "fg"]).returncode != 0),
     "once the last dependent is gone the Deployment goes")
t.ok(items("rs", "app=fg") == [] and items("pods", "app=fg") == [],
     "with its ReplicaSet and pods", (items("rs", "app=fg"), items("pods", "app=fg")))

# ---- after a restart: dependents of an owner deleted meanwhile ----
k.ok(["create", "deployment", "late", "--image=nginx:1.25", "--replicas=2"], out="created")
t.ok(wait(lambda: len(items("pods", "app=late") or []) == 2), "two pods")
t.ok(srv.stop_clean(), "server stops", srv.log_tail())
srv2 = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
k.srv = srv2
k.ok(["delete", "deployment", "late"], out="deleted")
t.ok(wait(lambda: items("rs", "app=late") == [] and items("pods", "app=late") == []),
     "after a restart the collector still cascades", (items("rs", "app=late"), items("pods", "app=late")))
srv = srv2
k.finish()
