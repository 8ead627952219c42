"""Joining (issue #15): the time from starting `k3c agent --server URL --token T` to its
Node Ready, for 1 agent and for 10 agents started at once, against a fresh
`k3c server --disable-agent` (K3C_BIN). The agents are hollow (`--hollow 1`: the join,
the certificates, the Node registration and its status as a real agent does them, no
containerd), so the figure is the control-plane side of a join. Reference in the same
run: the same agents started with a ready kubeconfig (no join: no /cacerts, no
certificate issuing), so the join's own cost is the difference. Run through
scripts/bench-join.sh; figures in docs/PERFORMANCE.md ("Joining")."""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from k3ctest import Server, k3c_bin  # noqa: E402

ROUNDS = int(os.environ.get("K3C_BENCH_ROUNDS", "3"))
TIMEOUT = 60


class ReadyWatch:
    """A watch on Nodes noting when each first shows Ready=True."""

    def __init__(self, srv):
        self.ready = {}
        self.cond = threading.Condition()
        c = srv.connect(timeout=TIMEOUT * 4)
        c.request("GET", "/api/v1/nodes?limit=1")
        rv = json.loads(c.getresponse().read())["metadata"]["resourceVersion"]
        c.request("GET", "/api/v1/nodes?watch=1&resourceVersion=%s" % rv)
        self.resp = c.getresponse()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        buf = b""
        while True:
            try:
                chunk = self.resp.read1(65536)
            except (OSError, http.client.HTTPException):
                return  # the server stopped
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                o = json.loads(line).get("object", {})
                name = o.get("metadata", {}).get("name")
                conds = o.get("status", {}).get("conditions", [])
                if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                    with self.cond:
                        self.ready.setdefault(name, time.time())
                        self.cond.notify_all()

    def wait(self, names, deadline):
        with self.cond:
            while not all(n in self.ready for n in names) and time.time() < deadline:
                self.cond.wait(0.5)
            return {n: self.ready.get(n) for n in names}


def start_agents(srv, tmp, prefix, n, token=None, kubeconfig=None):
    procs, names = [], []
    for i in range(n):
        name = "%s%d-" % (prefix, i)
        args = [k3c_bin(), "agent", "--config", "/dev/null", "--hollow", "1", "--hollow-prefix",
                name, "--data-dir", os.path.join(tmp, name)]
        args += ["--kubeconfig", kubeconfig] if kubeconfig else ["--server", srv.url, "--token", token]
        log = open(os.path.join(tmp, name + "log"), "w")
        procs.append((time.time(), subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)))
        names.append(name + "0")
    return procs, names


def stop(procs):
    for _, p in procs:
        p.terminate()
    for _, p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def measure(srv, watch, tmp, prefix, n, **kw):
    procs, names = start_agents(srv, tmp, prefix, n, **kw)
    ready = watch.wait(names, time.time() + TIMEOUT)
    stop(procs)
    times = [ready[nm] - t0 for (t0, _), nm in zip(procs, names) if ready[nm]]
    missing = [nm for nm in names if not ready[nm]]
    return times, missing


def fmt(times, n):
    if len(times) < n:
        return "%d of %d Ready in %d s" % (len(times), n, TIMEOUT)
    times = sorted(times)
    return "max %.2f s, median %.2f s" % (times[-1], times[len(times) // 2])


def main():
    srv = Server(extra_args=["--disable-agent"]).start()
    tmp = tempfile.mkdtemp(prefix="k3c-bench-join-")
    token = open(os.path.join(srv.data_dir, "server", "node-token")).read().strip()
    failed = False
    try:
        watch = ReadyWatch(srv)
        print("| agents at once | round | join with the token (start -> Ready) | reference: "
              "kubeconfig, no join |")
        print("|---:|---:|---|---|")
        for n in (1, 10):
            for rnd in range(ROUNDS):
                jt, jm = measure(srv, watch, tmp, "j%d-%d-" % (n, rnd), n, token=token)
                rt, rm = measure(srv, watch, tmp, "r%d-%d-" % (n, rnd), n,
                                 kubeconfig=srv.kubeconfig)
                failed = failed or jm or rm
                print("| %d | %d | %s | %s |" % (n, rnd + 1, fmt(jt, n), fmt(rt, n)), flush=True)
        print("targets: one agent Ready <= 3 s after it starts; 10 at once all Ready <= 10 s")
        with open("/proc/%d/status" % srv.proc.pid) as f:
            rss = [l.split()[1] for l in f if l.startswith("VmHWM:")]
        print("server peak RSS: %.1f MiB" % (int(rss[0]) / 1024.0))
    finally:
        srv.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
