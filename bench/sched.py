"""Scheduler throughput: a fresh `k3c server --disable-agent` (K3C_BIN), NODES Node
objects with status.allocatable written directly (no agents), then PODS pods created
by several client processes over HTTPS keep-alive connections (made before the clock
starts) while one watch records when each pod is bound. Prints pods/s bound,
creation->bound latency p50/p99, the server's CPU time and resident memory.
K3C_BENCH_BACKLOG=1: pods held back by a nodeSelector until the nodes are labelled;
K3C_BENCH_BACKLOG=lease: held back by a foreign holder of the kube-scheduler Lease until
it is released. K3C_BENCH_SETTLE=seconds: wait before stopping the server (so its
scheduler totals include every binding's answer). Run through scripts/bench-sched.sh;
figures in docs/PERFORMANCE.md ("Scheduler")."""
import http.client
import json
import multiprocessing
import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from k3ctest import Hollow, Server  # noqa: E402

NODES = int(os.environ.get("K3C_BENCH_NODES", "100"))
PODS = int(os.environ.get("K3C_BENCH_PODS", "3000"))
CLIENTS = int(os.environ.get("K3C_BENCH_CLIENTS", "4"))
# backlog: create every pod first with a nodeSelector no node matches, then label the
# nodes: the scheduler's own rate, without the creation rate in front of it.
# lease: hold the kube-scheduler Lease with a foreign holder while the pods are created
# (they are never attempted), then release it: k3c's scheduler takes the lease and the
# whole backlog at once, every node already fit (the scheduler's own rate, with its
# bindings and Events, and nothing else competing).
BACKLOG = os.environ.get("K3C_BENCH_BACKLOG") == "1"
LEASE = os.environ.get("K3C_BENCH_BACKLOG") == "lease"
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"
THREADS = int(os.environ.get("K3C_BENCH_THREADS", "16"))  # connections per client process
# hollow: the nodes are `k3c agent --hollow NODES` (registered, heartbeating, playing the
# kubelet's part on the bound pods: their status goes to Running) instead of Node objects
HOLLOW = os.environ.get("K3C_BENCH_HOLLOW") == "1"


def conn(srv):
    ctx = ssl.create_default_context(cafile=srv["ca"])
    ctx.load_cert_chain(srv["cert"], srv["key"])
    return http.client.HTTPSConnection("127.0.0.1", srv["port"], context=ctx, timeout=60)


def req(c, method, path, body=None, ctype="application/json"):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": ctype} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data)


def creator(srv, first, count, out, ready, go):
    """One process: THREADS connections, each creating its share of pods in turn (a
    create is answered once durable, so parallel requests fill the group commits). The
    connections are made (TLS handshakes done) before `go`: the clock measures
    keep-alive clients, not process start-up and handshakes."""
    times = {}
    connected = threading.Barrier(THREADS + 1)

    def run(names):
        # Requests are encoded up front and written to the TLS socket as they are;
        # the answer is read by its Content-Length and checked by its status line
        # (http.client's header parsing cost more client CPU than the server spent).
        reqs = []
        for name in names:
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "pause",
                                             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}
            if BACKLOG:
                body["spec"]["nodeSelector"] = {"bench": "go"}
            data = json.dumps(body).encode()
            reqs.append((name, b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data))
        ctx = ssl.create_default_context(cafile=srv["ca"])
        ctx.load_cert_chain(srv["cert"], srv["key"])
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv["port"]), timeout=60),
                               server_hostname="127.0.0.1")
        connected.wait()
        go.wait()
        buf = b""
        for name, raw in reqs:
            t0 = time.time()
            sock.sendall(raw)
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed creating " + name)
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            status = head.split(b" ", 2)[1]
            clen = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v)
            while len(buf) < clen:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed creating " + name)
                buf += chunk
            body, buf = buf[:clen], buf[clen:]
            if status != b"201":
                raise RuntimeError("POST pod %s: %s %s" % (name, status, body[:300]))
            times[name] = t0
        sock.close()

    names = ["p%05d" % i for i in range(first, first + count)]
    ths = [threading.Thread(target=run, args=(names[k::THREADS],)) for k in range(THREADS)]
    for th in ths:
        th.start()
    connected.wait()
    ready.put(1)
    for th in ths:
        th.join()
    out.put(times)


def cpu_s(pid):
    """utime + stime of pid in seconds (/proc/<pid>/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                vals[line.split(":")[0]] = int(line.split()[1])
    return vals


def set_holder(c, holder, duration):
    """Write the kube-scheduler Lease's holder (retrying on 409: k3c renews meanwhile)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    for _ in range(100):
        lease = req(c, "GET", LEASE_PATH)
        lease["spec"].update({"holderIdentity": holder, "leaseDurationSeconds": duration,
                              "renewTime": now, "acquireTime": now})
        try:
            return req(c, "PUT", LEASE_PATH, lease)
        except RuntimeError as e:
            if ": 409 " not in str(e):
                raise
    raise RuntimeError("could not write the kube-scheduler Lease")


def main():
    extra = ["--leader-elect-retry-period", "1", "--leader-elect-renew-deadline", "2",
             "--leader-elect-lease-duration", "3"] if LEASE else []
    s = Server(extra_args=["--disable-agent", "--node-monitor-grace-period", "3600"] + extra).start()
    hollow = None
    try:
        srv = {"port": s.port, "ca": s.ca_file, "cert": s.cert_file, "key": s.key_file}
        c = conn(srv)
        if LEASE:
            deadline = time.time() + 30
            while "scheduler: leading" not in s.log_text() and time.time() < deadline:
                time.sleep(0.1)
            set_holder(c, "bench-holder", 3600)
            while "kube-scheduler lost" not in s.log_text() and time.time() < deadline:
                time.sleep(0.1)
            if "kube-scheduler lost" not in s.log_text():
                raise RuntimeError("k3c's scheduler did not give up the lease")
        alloc = {"cpu": "32", "memory": "128Gi", "pods": "110"}
        node_names = ["node-%03d" % i for i in range(NODES)]
        if HOLLOW:
            hollow = Hollow(s, NODES, ["--hollow-cpu", alloc["cpu"], "--hollow-memory", alloc["memory"],
                                       "--hollow-pods", alloc["pods"]]).start(timeout=120)
            node_names = hollow.names
        for name in node_names if not HOLLOW else []:
            req(c, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {
                "name": name, "labels": {"kubernetes.io/hostname": name}}})
            req(c, "PATCH", "/api/v1/nodes/%s/status" % name, {"status": {
                "capacity": alloc, "allocatable": alloc,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
                ctype="application/merge-patch+json")
        rss_idle = rss_kib(s.proc.pid)
        bound = {}
        done = threading.Event()

        def watch():
            w = conn(srv)
            lst = req(w, "GET", "/api/v1/namespaces/default/pods?limit=1")
            rv = lst["metadata"]["resourceVersion"]
            w.request("GET", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=%s" % rv)
            r = w.getresponse()
            buf = b""
            while len(bound) < PODS:
                chunk = r.read1(65536) if hasattr(r, "read1") else r.read(4096)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    o = ev.get("object", {})
                    name = o.get("metadata", {}).get("name")
                    if o.get("spec", {}).get("nodeName") and name not in bound:
                        bound[name] = time.time()
            done.set()

        th = threading.Thread(target=watch, daemon=True)
        th.start()
        time.sleep(0.5)
        q = multiprocessing.Queue()
        per = PODS // CLIENTS
        procs = []
        ready, go = multiprocessing.Queue(), multiprocessing.Event()
        for k in range(CLIENTS):
            n = per if k < CLIENTS - 1 else PODS - per * (CLIENTS - 1)
            p = multiprocessing.Process(target=creator, args=(srv, k * per, n, q, ready, go))
            p.start()
            procs.append(p)
        for _ in procs:
            ready.get()
        cpu0 = cpu_s(s.proc.pid)
        t_start = t_create0 = time.time()
        go.set()
        created = {}
        for _ in procs:
            created.update(q.get())
        for p in procs:
            p.join()
        t_created = time.time()
        if BACKLOG:
            time.sleep(11)  # past every pod's back-off (at most 10 s)
            t_start = time.time()
            created = {n: t_start for n in created}

            def label(names):
                lc = conn(srv)
                for name in names:
                    req(lc, "PATCH", "/api/v1/nodes/" + name, {"metadata": {"labels": {"bench": "go"}}},
                        ctype="application/merge-patch+json")

            names = node_names
            ls = [threading.Thread(target=label, args=(names[k::8],)) for k in range(8)]
            for th in ls:
                th.start()
            for th in ls:
                th.join()
        if LEASE:
            time.sleep(1)
            t_start = time.time()
            created = {n: t_start for n in created}
            set_holder(c, "", 1)
        done.wait(120)
        t_end = max(bound.values()) if bound else time.time()
        rss = rss_kib(s.proc.pid)
        cpu1 = cpu_s(s.proc.pid)
        lat = sorted(bound[n] - created[n] for n in bound if n in created)
        first_bind = min(bound.values()) if bound else t_start

        def pct(p):
            return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")

        print("%s %d, pods %d, client processes %d x %d connections%s" % (
            "hollow nodes" if HOLLOW else "nodes", NODES, PODS, CLIENTS, THREADS, ", backlog (times from the first node label)" if BACKLOG
            else ", backlog behind the kube-scheduler Lease (times from its release)" if LEASE else ""))
        print("created: %d pods in %.2f s (%.0f pods/s)" % (len(created), t_created - t_create0,
                                                           len(created) / (t_created - t_create0)))
        print("bound:   %d pods in %.2f s from the first create (%.0f pods/s); "
              "first to last binding %.2f s (%.0f pods/s)" % (
                  len(bound), t_end - t_start, len(bound) / (t_end - t_start), t_end - first_bind,
                  len(bound) / max(t_end - first_bind, 1e-9)))
        print("creation->bound latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
            pct(0.50), pct(0.99), lat[-1] * 1000 if lat else float("nan")))
        print("server RSS: %.1f MiB with %d nodes and no pods, %.1f MiB with %d pods bound (peak %.1f MiB)" % (
            rss_idle["VmRSS"] / 1024, NODES, rss["VmRSS"] / 1024, len(bound), rss["VmHWM"] / 1024))
        time.sleep(float(os.environ.get("K3C_BENCH_SETTLE", "0")))
        print("server CPU: %.2f s from the first create to the last binding (%.0f us a pod, "
              "creates, bindings and Events included)" % (cpu1 - cpu0, (cpu1 - cpu0) * 1e6 / max(len(bound), 1)))
        if hollow:
            hollow.stop()
        s.stop()
        for line in s.log_text().splitlines():
            if ("scheduler:" in line and "cycles" in line) or "leading" in line or " lost" in line:
                print("server log: " + line.split("[server] ", 1)[-1])
        ok = len(bound) == PODS
        if not ok:
            print("NOT ALL PODS BOUND: %d of %d" % (len(bound), PODS))
        return 0 if ok else 1
    finally:
        if hollow:
            hollow.stop()
        s.stop()
        s.cleanup()


if __name__ == "__main__":
    sys.exit(main())
