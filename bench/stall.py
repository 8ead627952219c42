#!/usr/bin/python3
"""Event-loop stall benchmark (issue #19): how long does the one event loop
of `k3c server` stop answering while it processes worst-case bodies of each
shape within the 3 MiB request limit?

A prober *process* (its own TLS connection, so the client's JSON encoding
cannot hide or inflate a stall) sends GET /healthz every 5 ms and records
each response time; the main process sends one hostile request at a time.
For each shape the table gives the body size, the status, the request's
time and the longest /healthz response that overlapped it, next to the
no-load reference measured in the same run.

    bash scripts/bench-stall.sh            # release build (-O2) in build-stall/
Figures: docs/PERFORMANCE.md ("Event-loop stalls")."""
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from k3ctest import Server  # noqa: E402

LIMIT = 3 * 1024 * 1024
TARGET_MS = 100.0


def prober(port, ca, cert, key, q, stop):
    import http.client
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=600, context=ctx)
    out = []
    while not stop.is_set():
        t0 = time.time()
        c.request("GET", "/healthz")
        c.getresponse().read()
        t1 = time.time()
        out.append((t0, t1))
        time.sleep(0.005)
    c.close()
    q.put(out)


def fit(make, limit=LIMIT):
    """Largest-ish n whose body make(n) stays within limit: bodies grow
    linearly in n, so extrapolate from a small one and step down."""
    n = max(1, 2000 * (limit - 400) // len(make(2000)))
    body = make(n)
    while len(body) > limit:
        n = n * (limit - 400) // len(body)
        body = make(n)
    return n, body


def cm_json(n, name="big", val="v"):
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                       "data": {f"k{i}": val for i in range(n)}}, separators=(",", ":")).encode()


def cm_yaml_aliases(n):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: aliases", "  annotations:"]
    lines += [f"    a{i}: &x{i} v{i}" for i in range(n)]
    lines += ["data:"] + [f"  k{i}: *x{i}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def pod_env(n):
    env = [{"name": f"E{i}", "value": "v"} for i in range(n)]
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "env"},
                       "spec": {"containers": [{"name": "c", "image": "busybox", "env": env}]}},
                      separators=(",", ":")).encode()


def pod_containers(n):
    cs = [{"name": f"c{i}", "image": "b", "ports": [{"containerPort": 80, "name": f"p{i}"}]} for i in range(n)]
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "many"},
                       "spec": {"containers": cs}}, separators=(",", ":")).encode()


def endpoints(n):
    addrs = [{"ip": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"} for i in range(n)]
    return json.dumps({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "eps"},
                       "subsets": [{"addresses": addrs, "ports": [{"port": 80}]}]},
                      separators=(",", ":")).encode()


CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "hostiles.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "hostiles", "singular": "hostile", "kind": "Hostile"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {
                        "bad": {"type": "string", "pattern": "([a-z]{1,20}){1,50}!$"},
                        "dfa": {"type": "string", "pattern": "^(a|b)*a(a|b){20}c$"},
                        "list": {"type": "array", "items": {"type": "string",
                                                            "pattern": "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"}}}}}}}}]}}


def cr(spec, name):
    return json.dumps({"apiVersion": "example.com/v1", "kind": "Hostile", "metadata": {"name": name},
                       "spec": spec}, separators=(",", ":")).encode()


def cpu_s(pid):
    """utime + stime of pid in seconds (contention on a shared machine
    stretches wall time; this is the work itself)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    if not os.environ.get("K3C_BIN"):
        sys.exit("set K3C_BIN (scripts/bench-stall.sh does)")
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    J = {"Content-Type": "application/json"}
    ns = "/api/v1/namespaces/default"
    st, _, _ = srv.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json.dumps(CRD), J)
    assert st == 201, st
    for _ in range(100):
        if srv.request("GET", "/apis/example.com/v1/namespaces/default/hostiles")[0] == 200:
            break
        time.sleep(0.1)

    n_full, cm_full = fit(lambda n: cm_json(n, name="full"))
    # Stored objects carry managedFields (an entry per key), so the largest
    # ConfigMap that is accepted has about a third of the keys of a 3 MiB body.
    n_cm, cm = fit(cm_json, LIMIT // 3)
    n_al, al = fit(cm_yaml_aliases, LIMIT // 2)
    n_env, env = fit(pod_env, LIMIT // 3)
    n_ctr, ctr = fit(pod_containers, LIMIT // 8)  # defaults add ~1 KiB per container
    n_ep, ep = fit(endpoints)
    patch = json.dumps({"data": {f"k{i}": "w" for i in range(n_cm)}}, separators=(",", ":")).encode()
    apply_body = cm_json(n_cm, val="a")
    n_lab, labels = fit(lambda n: cr({"list": [f"name-{i}" for i in range(n)]}, "labels"))
    bad = cr({"bad": "a" * (LIMIT - 300) + "0"}, "badpat")
    dfa = cr({"dfa": ("ab" * ((LIMIT - 300) // 2)) + "x"}, "dfapat")

    cases = [
        ("no load (reference)", None, None, b"", None),
        (f"ConfigMap {n_full} keys (3 MiB): create", "POST", ns + "/configmaps", cm_full, J),
        (f"ConfigMap {n_cm} keys: create", "POST", ns + "/configmaps", cm, J),
        (f"ConfigMap {n_cm} keys: update", "PUT", ns + "/configmaps/big", cm_json(n_cm, val="u"), J),
        (f"ConfigMap {n_cm} keys: strategic merge patch", "PATCH", ns + "/configmaps/big", patch,
         {"Content-Type": "application/strategic-merge-patch+json"}),
        (f"ConfigMap {n_cm} keys: merge patch", "PATCH", ns + "/configmaps/big", patch,
         {"Content-Type": "application/merge-patch+json"}),
        (f"ConfigMap {n_cm} keys: server-side apply", "PATCH", ns + "/configmaps/big?fieldManager=bench&force=true",
         apply_body, {"Content-Type": "application/apply-patch+yaml"}),
        (f"ConfigMap YAML {n_al} anchors+aliases", "POST", ns + "/configmaps", al,
         {"Content-Type": "application/yaml"}),
        (f"Pod {n_env} env entries", "POST", ns + "/pods", env, J),
        (f"Pod {n_ctr} containers+ports", "POST", ns + "/pods", ctr, J),
        (f"Endpoints {n_ep} addresses", "POST", ns + "/endpoints", ep, J),
        (f"CR {n_lab} pattern-checked items", "POST", "/apis/example.com/v1/namespaces/default/hostiles", labels, J),
        ("CR 3 MiB value, ([a-z]{1,20}){1,50}!$", "POST", "/apis/example.com/v1/namespaces/default/hostiles", bad, J),
        ("CR 3 MiB value, ^(a|b)*a(a|b){20}c$", "POST", "/apis/example.com/v1/namespaces/default/hostiles", dfa, J),
        (f"body over the limit ({LIMIT + 1} bytes)", "POST", ns + "/configmaps", b"x" * (LIMIT + 1), J),
    ]

    q = mp.Queue()
    stop = mp.Event()
    p = mp.Process(target=prober, args=(srv.port, srv.ca_file, srv.cert_file, srv.key_file, q, stop))
    p.start()
    time.sleep(0.5)
    windows = []
    conn = srv.connect(timeout=600)
    for name, method, path, body, hdr in cases:
        c0 = cpu_s(srv.proc.pid)
        if method is None:
            t0 = time.time()
            time.sleep(2.0)
            windows.append((name, 0, "-", t0, time.time(), cpu_s(srv.proc.pid) - c0))
            continue
        t0 = time.time()
        try:
            conn.request(method, path, body=body, headers=hdr)
            r = conn.getresponse()
            r.read()
            status = r.status
        except Exception as e:  # noqa: BLE001 (e.g. the server closing after a 413)
            status = type(e).__name__
            conn.close()
            conn = srv.connect(timeout=600)
        t1 = time.time()
        windows.append((name, len(body), status, t0, t1, cpu_s(srv.proc.pid) - c0))
        print(f"# {name}: {status} in {1000 * (t1 - t0):.0f} ms", file=sys.stderr, flush=True)
        time.sleep(0.3)
    conn.close()
    stop.set()
    probes = q.get()
    p.join()
    ok = srv.stop_clean()

    print(f"machine: {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[0]}; "
          f"{len(probes)} /healthz probes, one every ~5 ms on their own connection")
    print(f"{'shape':48} {'bytes':>9} {'status':>6} {'request':>9} {'server CPU':>10} {'longest /healthz':>17}")
    worst_all = 0.0
    for name, size, status, t0, t1, cpu in windows:
        lat = [b - a for a, b in probes if b >= t0 and a <= t1]
        # a probe sent before the window and answered in it waited too
        worst = max(lat) * 1000 if lat else None
        if name != "no load (reference)" and worst is not None:
            worst_all = max(worst_all, worst)
        shown = f"{worst:>15.1f}ms" if worst is not None else f"{'(no probe in it)':>17}"
        print(f"{name:48} {size:>9} {status!s:>6} {1000 * (t1 - t0):>7.0f}ms {1000 * cpu:>8.0f}ms {shown}")
    print(f"longest stall under load: {worst_all:.1f} ms (target <= {TARGET_MS:.0f} ms); "
          f"server exited cleanly: {ok}")
    srv.cleanup()


if __name__ == "__main__":
    main()
