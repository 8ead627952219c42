"""Hostile but legal bodies (issue #19) go through the real API without
quadratic work: a 30,000-key ConfigMap is created, merge- and
strategic-merge-patched; a YAML ConfigMap with 20,000 anchors and aliases
decodes; a duplicate container name past the 64th container is found
(only the first 64 names were compared); a duplicated strict-mode field
in a 30,000-key map is reported. /healthz is probed on its own connection
throughout. Times are for the sanitized debug build; bench/stall.py
measures the release build."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

N = 30000


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    J = {"Content-Type": "application/json"}
    ns = "/api/v1/namespaces/default"
    worst = [0.0]
    stop = threading.Event()

    def probe():
        c = srv.connect(timeout=300)
        while not stop.is_set():
            t0 = time.time()
            c.request("GET", "/healthz")
            c.getresponse().read()
            worst[0] = max(worst[0], time.time() - t0)
            time.sleep(0.02)
        c.close()

    th = threading.Thread(target=probe)
    th.start()

    def req(method, path, body, hdr=J):
        t0 = time.time()
        st, _, data = srv.request(method, path, body, hdr, timeout=300)
        return st, data, time.time() - t0

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
          "data": {f"k{i}": "v" for i in range(N)}}
    st, data, took = req("POST", ns + "/configmaps", json.dumps(cm))
    t.ok(st == 201, f"a {N}-key ConfigMap is created ({took:.2f} s)", f"{st} {data[:200]}")
    patch = {"data": {f"k{i}": ("w" if i % 3 else None) for i in range(N)}}
    st, data, took = req("PATCH", ns + "/configmaps/big", json.dumps(patch),
                         {"Content-Type": "application/merge-patch+json"})
    d = json.loads(data).get("data", {}) if st == 200 else {}
    t.ok(st == 200 and len(d) == N - (N + 2) // 3 and d.get("k1") == "w" and "k0" not in d,
         f"a {N}-key merge patch replaces and deletes keys ({took:.2f} s)", f"{st} {len(d)}")
    patch = {"data": {f"k{i}": "s" for i in range(N)}}
    st, data, took = req("PATCH", ns + "/configmaps/big", json.dumps(patch),
                         {"Content-Type": "application/strategic-merge-patch+json"})
    d = json.loads(data).get("data", {}) if st == 200 else {}
    t.ok(st == 200 and len(d) == N and d.get("k0") == "s",
         f"a {N}-key strategic merge patch applies ({took:.2f} s)", f"{st} {len(d)}")

    dup = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{' + \
        ",".join(f'"k{i}":"v"' for i in range(N)) + ',"k7":"again"}}'
    st, data, took = req("POST", ns + "/configmaps?fieldValidation=Strict", dup)
    msg = json.loads(data).get("message", "") if data else ""
    t.ok(st in (400, 422) and 'duplicate field "data.k7"' in msg,
         f"a duplicate key at the end of a {N}-key map is reported ({took:.2f} s)", f"{st} {msg[:300]}")

    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: aliases", "  annotations:"]
    lines += [f"    a{i}: &x{i} v{i}" for i in range(20000)]
    lines += ["data:"] + [f"  k{i}: *x{i}" for i in range(20000)]
    st, data, took = req("POST", ns + "/configmaps", "\n".join(lines) + "\n", {"Content-Type": "application/yaml"})
    d = json.loads(data).get("data", {}) if st == 201 else {}
    t.ok(st == 201 and len(d) == 20000 and d.get("k19999") == "v19999",
         f"a YAML body with 20,000 anchors and aliases decodes ({took:.2f} s)", f"{st} {data[:200]}")

    cs = [{"name": f"c{i}", "image": "busybox"} for i in range(70)]
    cs[69]["name"] = "c68"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "many"}, "spec": {"containers": cs}}
    st, data, took = req("POST", ns + "/pods", json.dumps(pod))
    msg = json.loads(data).get("message", "") if data else ""
    t.ok(st == 422 and 'spec.containers[69].name: Duplicate value: "c68"' in msg,
         "a duplicate container name past the 64th container is refused", f"{st} {msg[:300]}")

    # A CRD with 10,000 properties (all but two required) and a CR with
    # 10,000 keys: crdschema's prune, defaults, required and property lookups
    # were O(keys * props) and now go through a hash index (40,000: 129 s ->
    # 42 s at -O2; the rest is managed fields, pkg/api/managed.c).
    P = 10000
    props = {f"p{i}": {"type": "string"} for i in range(P)}
    props["p1"]["default"] = "d"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "wides.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "wides", "singular": "wide", "kind": "Wide"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": {
                            "type": "object", "required": [f"p{i}" for i in range(2, P)], "properties": props}}}}}]}}
    st, data, took = req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json.dumps(crd))
    t.ok(st == 201, f"a CRD with {P} properties is created ({took:.2f} s)", f"{st} {data[:200]}")
    for _ in range(100):
        if srv.request("GET", "/apis/example.com/v1/namespaces/default/wides")[0] == 200:
            break
        time.sleep(0.2)
    spec = {f"p{i}": "v" for i in range(2, P)}
    spec["x-unknown"] = "pruned"
    cr = {"apiVersion": "example.com/v1", "kind": "Wide", "metadata": {"name": "w"}, "spec": spec}
    st, data, took = req("POST", "/apis/example.com/v1/namespaces/default/wides", json.dumps(cr))
    got = json.loads(data).get("spec", {}) if st == 201 else {}
    t.ok(st == 201 and got.get("p1") == "d" and "x-unknown" not in got and len(got) == P - 1,
         f"a CR with {P} keys is pruned, defaulted and validated ({took:.2f} s)", f"{st} {data[:200]}")

    stop.set()
    th.join()
    t.ok(worst[0] < 60.0, f"/healthz kept answering (worst {worst[0]:.2f} s in the sanitized build)")
    t.ok(srv.stop_clean(), "the server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
