#!/usr/bin/python3
"""Flood benchmark (issue #16): one authenticated client floods the API
server while another client's latency is measured, side by side with the
same client on a quiet server, in one run.

The flooder is user "flood" (a token, bound to `view`, so its requests are
counted against its user limits: docs/SECURITY.md "Connections and
memory"): FLOOD_PROCS processes, each with FLOOD_CONNS keep-alive TLS
connections pipelining PIPELINE GETs of a ConfigMap at a time. The measured
client is user "probe" (another token, also `view`): one keep-alive
connection, one GET every 10 ms. Prints p50/p99 of the probe quiet and
under the flood, the flood's answers by status (200, 429) and its rate.

    bash scripts/bench-flood.sh [seconds]     # release build in build-bench/
Target: the probe's p99 under the flood within 2x of its quiet p99."""
import json
import multiprocessing as mp
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from k3ctest import Server  # noqa: E402

FLOOD_PROCS, FLOOD_CONNS, PIPELINE = 1, 32, 32
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
PATH = "/api/v1/namespaces/default/configmaps/x"


def pct(lat, p):
    s = sorted(lat)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))] if s else float("nan")


def tls_conn(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def flooder(port, ca, token, seconds, q):
    """Pipelines PIPELINE requests per connection, reads the answers, repeats.
    Niced: on this 2-core machine the flooder, the probe and the server share
    the cores, and a real flooder would be elsewhere; without it the probe's
    own wake-ups wait behind the flooder's CPU time, which is not the server's
    doing (the server and the probe keep their priority)."""
    import selectors
    os.nice(10)
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % (PATH, token)).encode()
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(FLOOD_CONNS):
        c = tls_conn(port, ca)
        c.setblocking(False)
        conns.append({"s": c, "buf": b"", "want": 0})
        sel.register(c, selectors.EVENT_READ, conns[-1])
    codes = {}
    end = time.monotonic() + seconds
    for st in conns:
        st["s"].sendall(req * PIPELINE)
        st["want"] = PIPELINE
    while time.monotonic() < end:
        for key, _ in sel.select(0.5):
            st = key.data
            try:
                data = st["s"].recv(1 << 20)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(st["s"])
                codes["closed"] = codes.get("closed", 0) + 1
                continue
            st["buf"] += data
            # count complete answers: status line + Content-Length body
            while True:
                h = st["buf"].find(b"\r\n\r\n")
                if h < 0:
                    break
                head = st["buf"][:h].decode("latin-1")
                n = 0
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        n = int(v)
                if len(st["buf"]) < h + 4 + n:
                    break
                code = head.split(" ", 2)[1]
                codes[code] = codes.get(code, 0) + 1
                st["buf"] = st["buf"][h + 4 + n:]
                st["want"] -= 1
            if st["want"] == 0:
                try:
                    st["s"].setblocking(True)
                    st["s"].sendall(req * PIPELINE)
                    st["s"].setblocking(False)
                    st["want"] = PIPELINE
                except OSError:
                    sel.unregister(st["s"])
    q.put(codes)


def probe(port, ca, token, seconds):
    import http.client
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
    hdr = {"Authorization": "Bearer " + token}
    lat, errors = [], {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        c.request("GET", PATH, headers=hdr)
        r = c.getresponse()
        r.read()
        if r.status == 200:
            lat.append(time.monotonic() - t0)
        else:
            errors[r.status] = errors.get(r.status, 0) + 1
        time.sleep(0.01)
    return lat, errors


def main():
    srv = Server(extra_args=["--disable-agent"])
    os.makedirs(os.path.join(srv.data_dir, "server"), mode=0o700, exist_ok=True)
    with open(os.path.join(srv.data_dir, "server", "tokens.csv"), "w") as f:
        f.write('flood-token-0123456789,flood,uid-f,""\n')
        f.write('probe-token-0123456789,probe,uid-p,""\n')
    srv.start()
    try:
        for u in ("flood", "probe"):
            srv.kubectl("create", "clusterrolebinding", u + "-view", "--clusterrole=view", "--user=" + u)
        srv.kubectl("create", "configmap", "x", "--from-literal=k=v")
        print("machine: %d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
        print("server: %s, pid %d" % (os.environ.get("K3C_BIN", "k3c"), srv.proc.pid))
        quiet, qerr = probe(srv.port, srv.ca_file, "probe-token-0123456789", SECONDS / 2)
        q = mp.Queue()
        procs = [mp.Process(target=flooder, args=(srv.port, srv.ca_file, "flood-token-0123456789", SECONDS + 1, q))
                 for _ in range(FLOOD_PROCS)]
        for p in procs:
            p.start()
        time.sleep(1)
        loaded, lerr = probe(srv.port, srv.ca_file, "probe-token-0123456789", SECONDS - 1)
        codes = {}
        for _ in procs:
            for k, v in q.get(timeout=SECONDS + 60).items():
                codes[k] = codes.get(k, 0) + v
        for p in procs:
            p.join()
        total = sum(v for k, v in codes.items() if k != "closed")
        print("| probe | requests | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|")
        print("| quiet server | %d | %.2f | %.2f | %s |" % (len(quiet), pct(quiet, 50) * 1e3, pct(quiet, 99) * 1e3, qerr or "-"))
        print("| under the flood | %d | %.2f | %.2f | %s |" % (len(loaded), pct(loaded, 50) * 1e3, pct(loaded, 99) * 1e3, lerr or "-"))
        print("flood: %d answers in %.0f s (%.0f/s) by status: %s" % (total, SECONDS + 1, total / (SECONDS + 1), json.dumps(codes, sort_keys=True)))
        ratio = pct(loaded, 99) / pct(quiet, 99)
        print("probe p99 under the flood / quiet: %.2fx (target <= 2x): %s" % (ratio, "met" if ratio <= 2 else "NOT met"))
    finally:
        srv.cleanup()


if __name__ == "__main__":
    main()
