"""Hostile clients (issue #19): each attack runs against a real server while an
authenticated client keeps asking GET /api/v1/namespaces/default/configmaps/x
and /healthz on its keep-alive connection. The attacks:

  pipeline  six anonymous clients pipelining GET /version and never reading
  idle      1,024 anonymous connections pinging /healthz
  lists     20 clients asking for a 5 MB list (half as Tables) and never reading
  watch     1,000 watches that never read, on a namespace whose initial
            events are 4.5 MB

For each, the measured client's p99 must stay within max(5 x baseline p99,
100 ms) (baseline measured in the same run, before the attacks) and the
server's VmRSS (/proc/<pid>/status) under 256 MiB. Traffic goes to loopback
only; counts and durations are bounded. Figures are TAP diagnostics.

Every attack runs twice: on the build under test (ASan in CI: latency and
behaviour are judged, RSS only printed, because ASan's shadow memory and its
quarantine of freed blocks dominate it), then on a build without sanitizers
that this test makes in <source>/build-rss (RSS and latency judged). If the
build under test has no sanitizers, it is used once for everything. The ASan
run uses 256 idle connections and 250 watches with --output-budget-mib 16
(the same code paths: pool trimming, budget cuts) to stay within the suite's
time; the plain run uses the full counts and the default budget.

Latency is judged on the attack's steady state: once the connections are
open and the server has caught up with their requests (the figures while
they open, and how long the server stayed busy, are printed); each figure
is the better of two windows of the same length, so one scheduling hiccup
of a loaded CI machine does not decide it (both are printed).
"""
import http.client
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

RSS_LIMIT_KB = 256 * 1024
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
WATCH_TOKEN = "watcher-token-5f2c9a17d3"
PIPE_N, PIPE_SECONDS = 6, 8
IDLE_N = 1024
WATCH_N, BIG_N, BIG_VALUE = 1000, 1500, 3000  # 1,500 configmaps of ~3 KB: ~4.5 MB of events

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < min(hard, 8192):
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # the server inherits it

t = Tap()


def sanitized(bdir):
    try:
        with open(os.path.join(bdir, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o.get("name") == "b_sanitize":
                    return o.get("value") not in ("none", "", None)
    except (OSError, ValueError):
        pass
    return True  # unknown: assume the worst


def plain_build():
    """A release build without sanitizers in <source>/build-rss; returns its k3c."""
    src = os.environ["K3C_SRC"]
    out = os.path.join(src, "build-rss")
    if not os.path.exists(os.path.join(out, "build.ninja")):
        # werror off: this build is for figures, and -O3 finds warnings -O0 does not.
        subprocess.run(["meson", "setup", out, "--buildtype=release", "-Dwerror=false"], cwd=src, check=True,
                       capture_output=True)
    subprocess.run(["nice", "ninja", "-C", out, "-j2", "k3c"], check=True, capture_output=True)
    return os.path.join(out, "k3c")


def pct(lat, p):
    if not lat:
        return float("inf")
    s = sorted(lat)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))]


class Run:
    """One server and the attacks against it."""

    def __init__(self, binary, label, judge_rss, judge_latency=True, args=(), idle_n=IDLE_N, watch_n=WATCH_N):
        self.label = label
        self.idle_n = idle_n
        self.watch_n = watch_n
        self.judge_rss = judge_rss
        self.judge_latency = judge_latency
        os.environ["K3C_BIN"] = binary
        self.srv = Server(extra_args=["--disable-agent"] + list(args))
        os.makedirs(os.path.join(self.srv.data_dir, "server"), mode=0o700, exist_ok=True)
        with open(os.path.join(self.srv.data_dir, "server", "tokens.csv"), "w") as f:
            f.write('%s,watcher,uid-w,"system:masters"\n' % WATCH_TOKEN)
        self.srv.start()
        self.pid = self.srv.proc.pid
        self.conn = None
        self.errors = []
        self.diag("server %s %s, pid %d; %d idle connections, %d watches"
                  % (binary, " ".join(args), self.pid, idle_n, watch_n))

    def diag(self, msg):
        print("# [%s] %s" % (self.label, msg), flush=True)

    def ok(self, cond, name, diag=None):
        return t.ok(cond, "[%s] %s" % (self.label, name), diag)

    # ---- measurements ----
    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def cpu_s(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))

    def settle(self, limit=90):
        """Wait until the server has caught up with the attack's requests
        (under 20% of a CPU over half a second); returns the seconds waited."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            c0 = self.cpu_s()
            time.sleep(0.5)
            if self.cpu_s() - c0 < 0.1:
                break
        return time.monotonic() - t0

    def sampler(self):
        run = self

        class Sampler(threading.Thread):
            def __init__(self):
                super().__init__(daemon=True)
                self.peak = 0
                self.stop = threading.Event()

            def run(self):
                while not self.stop.is_set():
                    try:
                        self.peak = max(self.peak, run.rss_kb())
                    except OSError:
                        return
                    time.sleep(0.05)

            def done(self):
                self.stop.set()
                self.join()
                return self.peak

        s = Sampler()
        s.start()
        return s

    def get(self, path):
        """One request on the measured client's keep-alive connection."""
        for attempt in range(2):
            fresh = self.conn is None
            try:
                if fresh:
                    self.conn = self.srv.connect(client_cert=True, timeout=30)
                t0 = time.monotonic()
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                r.read()
                dt = time.monotonic() - t0
                if r.status != 200:
                    self.errors.append("%s: %d" % (path, r.status))
                return dt
            except (OSError, http.client.HTTPException) as e:
                # A kept-alive connection may have been closed while this
                # client waited (idle timeout): only a fresh one failing counts.
                if fresh or attempt == 1:
                    self.errors.append("%s: %r" % (path, e))
                self.conn = None
        return None

    def measure(self, seconds=None, count=200):
        lat = []
        end = time.monotonic() + seconds if seconds else None
        i = 0
        while (end is None and i < count) or (end is not None and time.monotonic() < end):
            d = self.get("/api/v1/namespaces/default/configmaps/x" if i % 2 == 0 else "/healthz")
            if d is not None:
                lat.append(d)
            i += 1
            time.sleep(0.01)
        return lat

    def steady(self, seconds):
        """The better (by p99) of two measuring windows."""
        a = self.measure(seconds=seconds)
        if pct(a, 99) <= self.bound:
            return a
        b = self.measure(seconds=seconds)
        self.diag("first window: %d requests, p99 %.1f ms; second: %d, p99 %.1f ms"
                  % (len(a), pct(a, 99) * 1e3, len(b), pct(b, 99) * 1e3))
        return b if pct(b, 99) < pct(a, 99) else a

    def judge(self, name, lat, peak, extra=""):
        p50, p99 = pct(lat, 50), pct(lat, 99)
        self.diag("%s: %d requests, p50 %.1f ms, p99 %.1f ms, peak RSS %d KiB (%.0f MiB)%s"
                  % (name, len(lat), p50 * 1e3, p99 * 1e3, peak, peak / 1024.0, extra))
        if self.judge_latency:
            self.ok(len(lat) > 20 and not self.errors and p99 <= self.bound,
                    "%s: the authenticated client's p99 %.1f ms stays within %.1f ms"
                    % (name, p99 * 1e3, self.bound * 1e3), self.errors[-5:])
        if self.judge_rss:
            self.ok(peak < RSS_LIMIT_KB, "%s: server RSS peak %d KiB stays under %d KiB"
                    % (name, peak, RSS_LIMIT_KB))
        self.errors.clear()

    def tls_socket(self, client_cert=False, timeout=10):
        ctx = self.srv.ssl_context(client_cert)
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=timeout)
        return ctx.wrap_socket(s, server_hostname="localhost")

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        return self.srv.request(method, path, body=data, headers={"Content-Type": "application/json"})

    # ---- the run ----
    def baseline(self):
        st, _, _ = self.api("POST", "/api/v1/namespaces/default/configmaps",
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                             "data": {"k": "v"}})
        self.ok(st == 201, "configmap x created")
        self.measure(count=20)  # warm up
        base = self.measure(count=300)
        b50, b99 = pct(base, 50), pct(base, 99)
        self.bound = max(5 * b99, 0.100)
        self.diag("baseline: %d requests, p50 %.1f ms, p99 %.1f ms; bound for p99 under attack "
                  "%.1f ms; RSS %d KiB" % (len(base), b50 * 1e3, b99 * 1e3, self.bound * 1e3, self.rss_kb()))
        self.ok(len(base) == 300 and not self.errors, "baseline requests answered", self.errors[-5:])
        self.errors.clear()

    def attack_pipeline(self):
        stop = threading.Event()
        sent = [0] * PIPE_N
        ended = [None] * PIPE_N

        def pipeliner(i):
            block = b"GET /version HTTP/1.1\r\nHost: a\r\n\r\n" * 200
            try:
                s = self.tls_socket(timeout=1)
            except OSError as e:
                ended[i] = "connect: %r" % e
                return
            try:
                while not stop.is_set():
                    try:
                        s.sendall(block)
                        sent[i] += len(block)
                    except (socket.timeout, ssl.SSLWantWriteError):
                        continue  # the server stopped reading: keep pushing
            except OSError as e:
                ended[i] = repr(e)  # the server closed us
            finally:
                s.close()

        sampler = self.sampler()
        t0 = time.monotonic()
        threads = [threading.Thread(target=pipeliner, args=(i,), daemon=True) for i in range(PIPE_N)]
        for th in threads:
            th.start()
        lat = self.steady(PIPE_SECONDS / 2)
        peak = sampler.done()
        self.judge("pipeline", lat, peak, ", %d MiB sent by the pipeliners" % (sum(sent) >> 20))
        time.sleep(max(0.0, t0 + 13 - time.monotonic()))  # anonymous connections live 10 s
        closed = sum(1 for e in ended if e is not None)
        stop.set()
        for th in threads:
            th.join(10)
        self.ok(closed == PIPE_N, "pipeline: the server closed all %d anonymous pipeliners within 13 s (%d)"
                % (PIPE_N, closed), ended)

    def attack_idle(self):
        idle = []
        lock = threading.Lock()

        def open_idle(_):
            try:
                s = self.tls_socket(timeout=10)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                s.recv(4096)
                with lock:
                    idle.append(s)
            except OSError:
                pass

        sampler = self.sampler()
        t0 = time.monotonic()
        opener = threading.Thread(
            target=lambda: list(ThreadPoolExecutor(max_workers=8).map(open_idle, range(self.idle_n))), daemon=True)
        opener.start()
        open_lat = self.measure(seconds=4)
        opener.join(300)
        open_s = time.monotonic() - t0
        # Opening 1,024 TLS connections costs the loop a handshake each (the
        # figure while they open is printed, not judged); the attack judged is
        # holding them open and pinging, as the attacker of the finding does
        # (every 2 s here, not every 50 s).
        self.diag("idle: while opening (%.1f s), %d requests, p50 %.1f ms, p99 %.1f ms"
                  % (open_s, len(open_lat), pct(open_lat, 50) * 1e3, pct(open_lat, 99) * 1e3))
        self.errors.clear()
        lat = []
        alive = 0
        for _round in range(3):
            alive = 0
            for s in list(idle):
                try:
                    s.settimeout(2)
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                    if s.recv(4096):
                        alive += 1
                except OSError:
                    pass
            lat += self.measure(seconds=2)
        fresh = self.srv.request("GET", "/api/v1/namespaces/default/configmaps/x")[0]
        anon_fresh = self.srv.request("GET", "/healthz", client_cert=False)[0]
        peak = sampler.done()
        self.judge("idle", lat, peak, ", %d of %d opened, %d still answering pings, server fds %d"
                   % (len(idle), self.idle_n, alive, self.fds()))
        self.ok(fresh == 200 and anon_fresh == 200,
                "idle: a new authenticated and a new anonymous connection are answered (%s, %s)"
                % (fresh, anon_fresh))
        self.ok(alive <= 160, "idle: no more than the anonymous pool keeps answering pings (%d)" % alive)
        for s in idle:
            s.close()

    def fill_big(self):
        """Namespace big: BIG_N configmaps of BIG_VALUE bytes."""
        self.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": "big"}})
        conn = self.srv.connect(client_cert=True, timeout=60)
        bad = 0
        for i in range(BIG_N):
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%04d" % i},
                               "data": {"v": ("%04d" % i) * (BIG_VALUE // 4)}})
            conn.request("POST", "/api/v1/namespaces/big/configmaps", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            bad += r.status != 201
        conn.close()
        self.ok(bad == 0, "%d configmaps of %d bytes in namespace big" % (BIG_N, BIG_VALUE))
        # A reader gets the whole list (streamed: it is over the inline size),
        # and pages keep their continue tokens and snapshot revision.
        st, hd, body = self.srv.request("GET", "/api/v1/namespaces/big/configmaps", timeout=120)
        doc = json.loads(body) if st == 200 else {}
        # and kube-root-ca.crt, the root CA publisher's (in every namespace, as upstream)
        items = [i for i in doc.get("items", []) if i["metadata"]["name"] != "kube-root-ca.crt"]
        self.ok(st == 200 and len(items) == BIG_N and items[-1]["metadata"]["name"] == "cm-%04d" % (BIG_N - 1)
                and doc["metadata"].get("resourceVersion"),
                "the %d-item list (%d bytes, %s) arrives whole" % (len(items), len(body),
                                                                   hd.get("transfer-encoding", "length")))
        # kubectl's Table, the same way (rows streamed from the snapshot).
        st, hd, body = self.srv.request("GET", "/api/v1/namespaces/big/configmaps", timeout=120,
                                        headers={"Accept": TABLE_ACCEPT})
        doc = json.loads(body) if st == 200 else {}
        rows = [r for r in doc.get("rows", []) if r["cells"][0] != "kube-root-ca.crt"]
        self.ok(st == 200 and doc.get("kind") == "Table" and len(rows) == BIG_N
                and rows[-1]["cells"][0] == "cm-%04d" % (BIG_N - 1) and doc["metadata"].get("resourceVersion")
                and len(doc.get("columnDefinitions", [])) > 0,
                "the %d-row Table (%d bytes, %s) arrives whole" % (len(rows), len(body),
                                                                  hd.get("transfer-encoding", "length")))
        st1, _, b1 = self.srv.request("GET", "/api/v1/namespaces/big/configmaps?limit=1000")
        p1 = json.loads(b1)
        tok = p1["metadata"].get("continue", "")
        st2, _, b2 = self.srv.request("GET", "/api/v1/namespaces/big/configmaps?limit=1000&continue=" + tok)
        p2 = json.loads(b2)
        self.ok(st1 == 200 and st2 == 200 and len(p1["items"]) == 1000 and len(p2["items"]) == BIG_N + 1 - 1000
                and p1["metadata"]["resourceVersion"] == p2["metadata"]["resourceVersion"]
                and p1["metadata"].get("remainingItemCount") == BIG_N + 1 - 1000 and not p2["metadata"].get("continue"),
                "a paged list keeps its revision, continue token and remainingItemCount")

    def slow_sockets(self, n, request, bearer=None, table_every=0):
        """n TLS connections that send request and never read (every
        table_every-th asking for a Table, as kubectl get does)."""
        socks = []
        lock = threading.Lock()
        hdr = "Authorization: Bearer %s\r\n" % bearer if bearer else ""
        raw = ("GET %s HTTP/1.1\r\nHost: a\r\n%s\r\n" % (request, hdr)).encode()
        raw_table = ("GET %s HTTP/1.1\r\nHost: a\r\nAccept: %s\r\n%s\r\n"
                     % (request, TABLE_ACCEPT, hdr)).encode()

        def one(i):
            try:
                ctx = self.srv.ssl_context(client_cert=bearer is None)
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
                s.settimeout(30)
                s.connect(("127.0.0.1", self.srv.port))
                s = ctx.wrap_socket(s, server_hostname="localhost")
                s.sendall(raw_table if table_every and i % table_every == 0 else raw)
                with lock:
                    socks.append(s)
            except OSError:
                pass

        return socks, lambda: list(ThreadPoolExecutor(max_workers=8).map(one, range(n)))

    def attack_lists(self):
        sampler = self.sampler()
        socks, opener = self.slow_sockets(20, "/api/v1/namespaces/big/configmaps", table_every=2)
        opener()
        settled = self.settle()  # the first pieces of 20 lists are work like any other
        lat = self.steady(3)
        peak = sampler.done()
        self.judge("lists", lat, peak, ", %d slow list readers (half of them Tables), server busy %.1f s after they asked"
                   % (len(socks), settled))
        for s in socks:
            s.close()

    def attack_watch(self):
        sampler = self.sampler()
        t0 = time.monotonic()
        socks, opener = self.slow_sockets(self.watch_n, "/api/v1/namespaces/big/configmaps?watch=true",
                                          bearer=WATCH_TOKEN)
        th = threading.Thread(target=opener, daemon=True)
        th.start()
        open_lat = self.measure(seconds=4)
        th.join(300)
        open_s = time.monotonic() - t0
        self.diag("watch: while opening (%.1f s), %d requests, p50 %.1f ms, p99 %.1f ms"
                  % (open_s, len(open_lat), pct(open_lat, 50) * 1e3, pct(open_lat, 99) * 1e3))
        self.errors.clear()
        settled = self.settle()
        lat = self.steady(3)
        fresh = self.srv.request("GET", "/api/v1/namespaces/default/configmaps/x")[0]
        peak = sampler.done()
        self.judge("watch", lat, peak, ", %d of %d watches opened, server busy %.1f s after the last, "
                   "server fds %d (the budget cut the rest)" % (len(socks), self.watch_n, settled, self.fds()))
        self.ok(fresh == 200, "watch: a new authenticated connection is answered (%s)" % fresh)
        for s in socks:
            s.close()

    def finish(self):
        if self.conn:
            self.conn.close()
        self.ok(self.srv.stop_clean(), "server stopped cleanly", self.srv.log_tail())


def run(binary, label, judge_rss, **kw):
    r = Run(binary, label, judge_rss, **kw)
    try:
        r.baseline()
        r.attack_pipeline()
        r.attack_idle()
        r.fill_big()
        r.attack_lists()
        r.attack_watch()
    finally:
        r.finish()


under_test = os.environ["K3C_BIN"]
bdir = os.environ.get("K3C_BUILD_DIR", "")
if bdir and not sanitized(bdir):
    run(under_test, "plain", True)
else:
    run(under_test, "asan", False, args=["--output-budget-mib", "16"], idle_n=256, watch_n=250)
    try:
        plain = plain_build()
    except (OSError, subprocess.CalledProcessError) as e:
        plain = None
        t.ok(False, "a build without sanitizers for the RSS figures", getattr(e, "stderr", e))
    if plain:
        run(plain, "plain", True)
t.done()
