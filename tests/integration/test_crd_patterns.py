"""CRD "pattern"s are bounded (issue #19): a pattern that RE2 refuses
(backreference, repeat count over 1000) or that expands past k3c's
regex size limit is refused at CRD creation with upstream's message; a
pathological but valid pattern is matched in linear time with a per-object
step budget, so the one event loop keeps answering /healthz while such a
custom object is validated; many pattern-checked values validate with the
pattern compiled once."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402


LABEL = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"


def crd(name, patterns):
    props = {f"f{i}": {"type": "string", "pattern": p} for i, p in enumerate(patterns)}
    props["list"] = {"type": "array", "items": {"type": "string", "pattern": LABEL}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{name}s.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": f"{name}s", "singular": name, "kind": name.capitalize()},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": props}}}}}]}}


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    H = {"Content-Type": "application/json"}
    base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

    # Go's regexp/syntax messages: a backreference is an invalid escape, nested
    # counts may multiply to 1000 at most, and k3c's own 10,000-instruction bound.
    for pat, why in ((r"^(a*)\1$", r"invalid escape sequence: `\1`"),
                     ("^a{1001}$", "invalid repeat count: `{1001}`"),
                     ("^((a{1,100}){1,100}){1,100}$", "invalid repeat count: `{1,100}`"),
                     ("^(abcdefghijk){1000}$", "expression too large: `^(abcdefghijk){1000}$`"),
                     ("^(abc$", "missing closing ): `^(abc$`")):
        st, _, body = srv.request("POST", base, json.dumps(crd("bad", [pat])), H)
        msg = json.loads(body).get("message", "") if body else ""
        t.ok(st == 422 and "must be a valid regular expression, but isn't: error parsing regexp: " in msg
             and why in msg, f"a CRD with pattern {pat} is refused: {why}", f"{st} {msg}")

    pats = ["([a-z]{1,20}){1,50}!$", "^(a|b)*a(a|b){20}c$", "^(a+)+$"]
    st, _, body = srv.request("POST", base, json.dumps(crd("hostile", pats)), H)
    t.ok(st == 201, "a CRD with pathological but valid patterns is accepted", f"{st} {body[:300]}")
    deadline = time.time() + 30
    while time.time() < deadline:
        st, _, _ = srv.request("GET", "/apis/example.com/v1/namespaces/default/hostiles")
        if st == 200:
            break
        time.sleep(0.2)
    t.ok(st == 200, "the custom resource is served")

    # /healthz on its own connection every 20 ms while a hostile object is validated.
    worst = [0.0]
    stop = threading.Event()

    def probe():
        c = srv.connect(timeout=120)
        while not stop.is_set():
            t0 = time.time()
            c.request("GET", "/healthz")
            c.getresponse().read()
            worst[0] = max(worst[0], time.time() - t0)
            time.sleep(0.02)
        c.close()

    th = threading.Thread(target=probe)
    th.start()
    time.sleep(0.2)
    cr_path = "/apis/example.com/v1/namespaces/default/hostiles"
    long_ab = ("ab" * 100000) + "x"  # 200 KB against (a|b)*a(a|b){20}c: exponential for glibc's DFA
    long_az = "a" * 200000 + "0"     # 200 KB, unanchored ([a-z]{1,20}){1,50}: ~2,000 live NFA states
    obj = {"apiVersion": "example.com/v1", "kind": "Hostile", "metadata": {"name": "h1"},
           "spec": {"f0": long_az, "f1": long_ab, "f2": "a" * 100000 + "!"}}
    t0 = time.time()
    st, _, body = srv.request("POST", cr_path, json.dumps(obj), H, timeout=120)
    took = time.time() - t0
    msg = json.loads(body).get("message", "") if body else ""
    t.ok(st == 422 and "spec.f0" in msg and
         "matching the object's strings against the schema's patterns takes more than" in msg,
         "values too long for the patterns are refused with a clear message", f"{st} {msg[:400]}")
    stop.set()
    th.join()
    # The sanitized debug build runs the NFA ~15x slower than -O2 (~16 s for
    # the 64 Mi-step budget, ~1 s in a release build: bench/stall.c); without
    # the budget this object would take ~250 s here.
    t.ok(worst[0] < 60.0 and took < 60.0, f"/healthz kept answering (worst {worst[0]:.3f} s, request {took:.3f} s)")

    # Many short values, each checked: the pattern is compiled once, not per value.
    obj = {"apiVersion": "example.com/v1", "kind": "Hostile", "metadata": {"name": "h2"},
           "spec": {"list": [f"name-{i}" for i in range(20000)], "f1": "ab" * 10 + "a" + "ab" * 10 + "c"}}
    obj["spec"]["list"][777] = "Name-777"
    t0 = time.time()
    st, _, body = srv.request("POST", cr_path, json.dumps(obj), H, timeout=120)
    took = time.time() - t0
    msg = json.loads(body).get("message", "") if body else ""
    t.ok(st == 422 and f"spec.list[777] in body should match '{LABEL}'" in msg
         and "spec.list[776]" not in msg, "one bad value of 20,000 is found and named", f"{st} {msg[:300]}")
    obj["spec"]["list"][777] = "name-777"
    st, _, body = srv.request("POST", cr_path, json.dumps(obj), H, timeout=120)
    t.ok(st == 201, f"20,000 pattern-checked values are accepted ({took:.2f} s)", f"{st} {body[:300]}")
    st, _, _ = srv.request("GET", "/healthz")
    t.ok(st == 200, "/healthz answers afterwards")
    t.ok(srv.stop_clean(), "the server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
