"""Deployment scale-up: a fresh `k3c server --disable-agent` (K3C_BIN) and
`k3c agent --hollow NODES` (hollow kubelets: pods become Running without
containers), a Deployment with 0 replicas scaled to PODS; prints the time until all
PODS pods are Running (ReplicaSet controller + scheduler + kubelets) and the server's
resident memory then. As the reference, in the same run, the same number of bare
pods created straight through the API (several HTTPS keep-alive clients, spec.nodeName
set, so neither the controllers nor the scheduler are involved) until all Running.
Run: /usr/bin/python3 bench/deploy.py (K3C_BENCH_NODES=50 K3C_BENCH_PODS=1000); figures in
docs/PERFORMANCE.md ("Deployment scale-up")."""
import http.client
import json
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from k3ctest import Hollow, Server  # noqa: E402

NODES = int(os.environ.get("K3C_BENCH_NODES", "50"))
PODS = int(os.environ.get("K3C_BENCH_PODS", "1000"))
TIMEOUT = float(os.environ.get("K3C_BENCH_TIMEOUT", "300"))


def conn(s):
    ctx = ssl.create_default_context(cafile=s.ca_file)
    ctx.load_cert_chain(s.cert_file, s.key_file)
    return http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=120)


def req(c, method, path, body=None, ctype="application/json"):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": ctype} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data) if data else {}


def rss_mib(pid):
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                vals[line.split(":")[0]] = int(line.split()[1]) / 1024.0
    return vals


def running_watch(s, selector, want, t0):
    """Watch pods matching selector until want of them are Running; the seconds from t0,
    or None after TIMEOUT."""
    c = conn(s)
    lst = req(c, "GET", "/api/v1/namespaces/default/pods?labelSelector=%s" % selector)
    running = {p["metadata"]["name"] for p in lst.get("items", [])
               if p.get("status", {}).get("phase") == "Running"}
    rv = lst["metadata"]["resourceVersion"]
    c.request("GET", "/api/v1/namespaces/default/pods?watch=1&labelSelector=%s&resourceVersion=%s"
              "&timeoutSeconds=%d" % (selector, rv, int(TIMEOUT)))
    r = c.getresponse()
    buf = b""
    while len(running) < want and time.time() - t0 < TIMEOUT:
        chunk = r.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            o = json.loads(line).get("object", {})
            if o.get("status", {}).get("phase") == "Running":
                running.add(o["metadata"]["name"])
    return time.time() - t0 if len(running) >= want else None


def wait_gone(s, selector):
    c = conn(s)
    end = time.time() + TIMEOUT
    while time.time() < end:
        if not req(c, "GET", "/api/v1/namespaces/default/pods?labelSelector=%s&limit=1" % selector)["items"]:
            return True
        time.sleep(0.5)
    return False


def main():
    s = Server(extra_args=["--disable-agent"]).start()
    hollow = None
    try:
        hollow = Hollow(s, NODES, extra_args=["--hollow-status-seconds", "120"]).start(timeout=120)
        c = conn(s)
        rss_idle = rss_mib(s.proc.pid)
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
               "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "bench"}},
                        "template": {"metadata": {"labels": {"app": "bench"}},
                                     "spec": {"containers": [{"name": "c", "image": "pause:1"}]}}}}
        req(c, "POST", "/apis/apps/v1/namespaces/default/deployments", dep)
        time.sleep(1)
        t0 = time.time()
        req(c, "PATCH", "/apis/apps/v1/namespaces/default/deployments/bench",
            {"spec": {"replicas": PODS}}, ctype="application/merge-patch+json")
        t_dep = running_watch(s, "app%3Dbench", PODS, t0)
        rss_dep = rss_mib(s.proc.pid)
        req(c, "DELETE", "/apis/apps/v1/namespaces/default/deployments/bench",
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
        wait_gone(s, "app%3Dbench")

        # Reference: the same pods straight through the API, bound by the client.
        names = ["ref-%05d" % i for i in range(PODS)]
        t0 = time.time()
        watcher_result = {}
        wt = threading.Thread(target=lambda: watcher_result.update(t=running_watch(s, "app%3Dref", PODS, t0)))
        wt.start()

        def create(part):
            cc = conn(s)
            for i, name in part:
                req(cc, "POST", "/api/v1/namespaces/default/pods", {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "labels": {"app": "ref"}},
                    "spec": {"nodeName": "hollow-%d" % (i % NODES),
                             "containers": [{"name": "c", "image": "pause:1"}]}})

        items = list(enumerate(names))
        ths = [threading.Thread(target=create, args=(items[k::8],)) for k in range(8)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        wt.join()
        t_ref = watcher_result.get("t")
        rss_ref = rss_mib(s.proc.pid)

        load = open("/proc/loadavg").read().split()[:3]
        print("machine: %d cores, load %s" % (os.cpu_count(), " ".join(load)))
        print("%d hollow nodes, %d pods" % (NODES, PODS))
        print("%-52s %10s" % ("", "seconds"))
        print("%-52s %10s" % ("Deployment 0 -> %d replicas, all Running" % PODS,
                              "%.2f" % t_dep if t_dep else "timeout"))
        print("%-52s %10s" % ("reference: %d bare pods with nodeName, all Running" % PODS,
                              "%.2f" % t_ref if t_ref else "timeout"))
        print("server RSS: idle %.1f MiB, after the Deployment %.1f MiB (peak %.1f), after the "
              "reference %.1f MiB" % (rss_idle["VmRSS"], rss_dep["VmRSS"], rss_dep["VmHWM"],
                                      rss_ref["VmRSS"]))
        return 0 if t_dep and t_ref else 1
    finally:
        if hollow:
            hollow.stop()
        s.stop()


if __name__ == "__main__":
    sys.exit(main())
