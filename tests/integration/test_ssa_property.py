"""Property test of server-side apply on lists: two managers apply random
edits (add, remove, reorder, change items) of an associative list
(spec.template.spec.containers, keyed by name), a set (metadata.finalizers)
and an atomic list (containers[].args) of one Deployment, with force. After
every apply the stored object and each manager's ownership are compared with
a reference model of structured-merge-diff's rules written here: merge with
upstream's list order, prune what the applier owned last time and nobody
owns now, move changed fields to the applier. Seeded and bounded."""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("SSA_SEEDS", "7,1234").split(",")]
STEPS = int(os.environ.get("SSA_STEPS", "30"))
FINS = ["ex.com/f%d" % i for i in range(5)]
NAMES = ["a", "b", "c", "d"]
IMAGES = ["img:1", "img:2"]
ARGS = ["x", "y", "z"]


def merge_order(lhs, rhs):
    """The order structured-merge-diff's merge gives the items of a list
    (typed/merge.go visitListItems), by key."""
    obs_r, obs_l = set(rhs), set(lhs)
    shared = [k for k in rhs if k in obs_l]
    out, merged_r = [], set()
    si = 0

    def pop():
        nonlocal si
        if si < len(shared):
            si += 1
            return shared[si - 1]
        return None

    nxt = pop()
    li = ri = 0
    while li < len(lhs) or ri < len(rhs):
        if li < len(lhs) and ri < len(rhs):
            pe = lhs[li]
            if pe == rhs[ri]:
                merged_r.add(pe)
                out.append(pe)
                li += 1
                ri += 1
                nxt = pop()
                continue
            if pe in obs_r and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < len(lhs):
            pe = lhs[li]
            if pe not in obs_r:
                out.append(pe)
                li += 1
                continue
            elif pe in merged_r:
                li += 1
        if ri < len(rhs):
            pe = rhs[ri]
            merged_r.add(pe)
            out.append(pe)
            ri += 1
            if nxt is not None and nxt == pe:
                nxt = pop()
    return out


def paths_of(cfg):
    p = {("fin", f) for f in cfg["fin"]}
    for c in cfg["c"]:
        n = c["name"]
        p |= {("c", n), ("c", n, "name"), ("c", n, "image")}
        if c.get("args") is not None:
            p.add(("c", n, "args"))
    return p


def leaves(obj):
    """Paths of an object in the model's terms."""
    p = {("fin", f) for f in obj["fin"]}
    for n, c in obj["c"].items():
        p |= {("c", n), ("c", n, "name")}
        for k in ("image", "args"):
            if c.get(k) is not None:
                p.add(("c", n, k))
    return p


class Model:
    def __init__(self):
        self.obj = None  # {"fin": [...], "order": [...], "c": {name: {...}}}
        self.own = {}

    def apply(self, mgr, cfg):
        live = self.obj or {"fin": [], "order": [], "c": {}}
        last = self.own.get(mgr, set())
        new = paths_of(cfg)
        fin = merge_order(live["fin"], cfg["fin"])
        order = merge_order(live["order"], [c["name"] for c in cfg["c"]])
        cs = {n: dict(live["c"].get(n, {})) for n in order}
        for c in cfg["c"]:
            cs[c["name"]]["image"] = c["image"]
            if c.get("args") is not None:
                cs[c["name"]]["args"] = c["args"]
        own = {m: set(s) for m, s in self.own.items()}
        own[mgr] = new
        managed = set().union(*own.values())
        gone = last - managed
        fin = [f for f in fin if ("fin", f) not in gone]
        order = [n for n in order if ("c", n) not in gone]
        for n in order:
            for k in ("image", "args"):
                if ("c", n, k) in gone:
                    cs[n].pop(k, None)
        result = {"fin": fin, "order": order, "c": {n: cs[n] for n in order}}
        if not order or any(result["c"][n].get("image") is None for n in order):
            return False  # invalid: the server refuses, nothing changes
        before, after = leaves(live), leaves(result)
        changed = after - before
        for n in order:
            if n in live["c"]:
                for k in ("image", "args"):
                    if result["c"][n].get(k) is not None and live["c"][n].get(k) != result["c"][n].get(k):
                        changed.add(("c", n, k))
        removed = before - after
        for m in own:
            if m != mgr:
                own[m] -= changed | removed
        self.own = {m: s for m, s in own.items() if s}
        self.obj = result
        return True

    def view(self):
        o = self.obj
        return {"fin": o["fin"], "c": [[n, o["c"][n].get("image"), o["c"][n].get("args")] for n in o["order"]]}


def body(name, cfg):
    spec = {"selector": {"matchLabels": {"app": "p"}},
            "template": {"metadata": {"labels": {"app": "p"}}}}
    if cfg["c"]:
        cs = []
        for c in cfg["c"]:
            d = {"name": c["name"], "image": c["image"]}
            if c.get("args") is not None:
                d["args"] = c["args"]
            cs.append(d)
        spec["template"]["spec"] = {"containers": cs}
    meta = {"name": name}
    if cfg["fin"]:
        meta["finalizers"] = cfg["fin"]
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec})


def stored_view(obj):
    cs = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return {"fin": obj.get("metadata", {}).get("finalizers", []),
            "c": [[c["name"], c.get("image"), c.get("args")] for c in cs]}


def owned_view(obj, mgr):
    """An Apply entry's fieldsV1 in the model's terms."""
    for e in obj.get("metadata", {}).get("managedFields", []):
        if e["manager"] == mgr and e["operation"] == "Apply":
            f = e.get("fieldsV1", {})
            p = {("fin", json.loads(k[2:])) for k in f.get("f:metadata", {}).get("f:finalizers", {})}
            cs = f.get("f:spec", {}).get("f:template", {}).get("f:spec", {}).get("f:containers", {})
            for k, v in cs.items():
                n = json.loads(k[2:])["name"]
                if "." in v or not v:
                    p.add(("c", n))
                for fld in ("name", "image", "args"):
                    if "f:" + fld in v:
                        p.add(("c", n, fld))
            return p
    return set()


def random_cfg(rng):
    fins = rng.sample(FINS, rng.randint(0, 3))
    names = rng.sample(NAMES, rng.randint(1, 3))
    cs = []
    for n in names:
        c = {"name": n, "image": rng.choice(IMAGES)}
        if rng.random() < 0.5:
            c["args"] = rng.sample(ARGS, rng.randint(1, 2))
        cs.append(c)
    return {"fin": fins, "c": cs}


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    for seed in SEEDS:
        rng = random.Random(seed)
        model = Model()
        name = "prop-%d" % seed
        path = "/apis/apps/v1/namespaces/default/deployments/" + name
        mismatch = None
        applied = refused = 0
        for step in range(STEPS):
            mgr = rng.choice(["m1", "m2"])
            cfg = random_cfg(rng)
            ok = model.apply(mgr, cfg)
            status, _, resp = srv.request("PATCH", path + "?fieldManager=%s&force=true" % mgr,
                                          body=body(name, cfg).encode(),
                                          headers={"Content-Type": "application/apply-patch+yaml"})
            if ok != (status in (200, 201)):
                mismatch = "step %d %s %s: model %s, server %d %s" % (step, mgr, json.dumps(cfg), ok, status, resp[:300])
                break
            applied += ok
            refused += not ok
            status, _, resp = srv.request("GET", path)
            obj = json.loads(resp) if status == 200 else {}
            if model.obj is not None and stored_view(obj) != model.view():
                mismatch = "step %d %s %s: stored %s, model %s" % (step, mgr, json.dumps(cfg),
                                                                   json.dumps(stored_view(obj)), json.dumps(model.view()))
                break
            for m in ("m1", "m2"):
                if owned_view(obj, m) != model.own.get(m, set()):
                    mismatch = "step %d %s %s: %s owns %s, model %s" % (
                        step, mgr, json.dumps(cfg), m, sorted(owned_view(obj, m)), sorted(model.own.get(m, set())))
                    break
            if mismatch:
                break
        t.ok(mismatch is None and applied > 0,
             "seed %d: %d random applies (%d refused as invalid) match the reference model" % (seed, applied, refused),
             mismatch or "")
    t.ok(srv.stop_clean(), "server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
