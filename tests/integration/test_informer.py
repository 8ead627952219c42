"""pkg/client's HTTPS backend and informer against a real `k3c server`, through the
k3c-probe-informer helper (tests/unit/client/probe_informer.c): a get answers 404
NotFound, a create answers 201, the informer lists, then sees kubectl's creates,
updates and deletes over its watch; after a server restart it reconnects, resumes or
relists (410 Gone), and ends up with exactly the objects that exist; a watch that the
server ends (timeoutSeconds) resumes without a relist."""
import os
import queue
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap, k3c_bin  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)
probe_bin = os.path.join(os.environ["K3C_BUILD_DIR"], "tests/unit/client/k3c-probe-informer")

k.ok(["create", "namespace", "inf"], out="namespace/inf created")
k.ok(["create", "configmap", "a", "-n", "inf", "--from-literal=k=1"], out="configmap/a created")


class Probe:
    def __init__(self):
        env = dict(os.environ, PROBE_CREATE="made-by-probe")
        self.proc = subprocess.Popen(
            [probe_bin, srv.url, srv.ca_file, srv.cert_file, srv.key_file, "", "v1", "configmaps",
             "inf"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.q = queue.Queue()
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def until(self, pred, timeout=20):
        """The first line (already read or new) for which pred holds, else None."""
        for line in self.lines:
            if pred(line):
                return line
        deadline = time.time() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                return None
            if line is None:
                return None
            self.lines.append(line)
            if pred(line):
                return line

    def stats(self):
        s = [l for l in self.lines if l.startswith("STATS")]
        if not s:
            return {}
        return dict(kv.split("=") for kv in s[-1].split()[1:])

    def cache(self):
        """The keys the informer holds, replayed from its ADD/DELETE lines."""
        keys = set()
        for l in self.lines:
            f = l.split()
            if f[0] == "ADD":
                keys.add(f[1])
            elif f[0] == "DELETE":
                keys.discard(f[1])
        return keys

    def diag(self):
        return "\n".join(self.lines[-40:])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        rest = self.proc.stdout.read() if self.proc.stdout else ""
        while True:
            try:
                line = self.q.get(timeout=1)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.proc.returncode, self.proc.stderr.read()


p = Probe()
t.ok(p.until(lambda l: l.startswith("GET")) == "GET 404 NotFound",
     "HTTPS client: a get of a missing object answers 404 NotFound", p.diag())
t.ok(p.until(lambda l: l.startswith("CREATED")) == "CREATED made-by-probe 201",
     "HTTPS client: a create answers 201", p.diag())
t.ok(p.until(lambda l: l == "SYNCED") is not None, "the informer lists and syncs", p.diag())
p.until(lambda l: l.startswith("ADD inf/made-by-probe "))  # by the list or the watch: it raced
t.ok({"inf/a", "inf/made-by-probe"} <= p.cache(),
     "the cache has the existing object and the probe's own create", p.diag())

k.ok(["create", "configmap", "b", "-n", "inf"], out="configmap/b created")
t.ok(p.until(lambda l: l.startswith("ADD inf/b ")) is not None, "a create arrives over the watch",
     p.diag())
k.ok(["label", "configmap", "a", "-n", "inf", "x=y"], out="labeled")
t.ok(p.until(lambda l: l.startswith("UPDATE inf/a ")) is not None, "an update arrives as UPDATE",
     p.diag())
k.ok(["delete", "configmap", "b", "-n", "inf"], out="deleted")
t.ok(p.until(lambda l: l == "DELETE inf/b") is not None, "a delete arrives as DELETE", p.diag())
p.until(lambda l: False, timeout=0.5)
before = p.stats()
t.ok(before.get("lists") == "1" and before.get("gone") == "0",
     "one list so far, no 410", before)

# ---- restart: the watch breaks, the informer retries, resumes or relists ----
t.ok(srv.stop_clean(), "server stopped", srv.log_tail())
time.sleep(1.5)  # the probe's retries fail meanwhile
srv2 = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
k.srv = srv2
k.ok(["create", "configmap", "c", "-n", "inf"], out="configmap/c created")
k.ok(["delete", "configmap", "a", "-n", "inf"], out="deleted")
t.ok(p.until(lambda l: l.startswith("ADD inf/c ")) is not None,
     "after the restart the informer sees a new object", p.diag())
p.until(lambda l: l == "DELETE inf/a", timeout=20)
# kube-root-ca.crt: the root CA publisher's, in every namespace as upstream
want = {"inf/made-by-probe", "inf/c", "inf/kube-root-ca.crt"}
t.ok(p.cache() == want, "and its cache equals what exists (a deleted, c added)",
     "%s\n%s" % (p.cache(), p.diag()))
p.until(lambda l: False, timeout=1)
st = p.stats()
t.ok(int(st.get("errors", "0")) >= 1 and int(st.get("watches", "0")) >= 2,
     "the broken watch was retried after a back-off (errors counted, watch restarted)", st)
print("# after restart: %s" % st)
relisted = int(st.get("lists", "1")) >= 2
t.ok(not relisted or int(st.get("gone", "0")) >= 1,
     "a relist after the restart happened only because of 410 Gone", st)

# ---- a resourceVersion older than the server's window gets 410 and relists ----
# Writes the probe does not watch (another namespace) move the store's revision past
# the last version the probe saw; `k3c datastore compact` on the stopped server then
# drops all history (a restart alone keeps it: the store reloads its event window from
# the database, #18), so the probe's next watch from its older version is too old: 410.
rc, err = p.stop()
t.ok(rc == 0 and "ERROR: " not in err and "runtime error" not in err,
     "the probe exits cleanly (no leaks)", err[-3000:])
p = Probe()
t.ok(p.until(lambda l: l == "SYNCED") is not None, "a second probe syncs", p.diag())
p.until(lambda l: False, timeout=0.5)
k.ok(["create", "namespace", "elsewhere"], out="created")
for i in range(3):
    k.run(["create", "configmap", "x-%d" % i, "-n", "elsewhere"])
t.ok(srv2.stop_clean(), "server stopped again", srv2.log_tail())
r = subprocess.run([k3c_bin(), "datastore", "compact", "--data-dir", srv.data_dir],
                   capture_output=True, text=True, timeout=120)
t.ok(r.returncode == 0, "k3c datastore compact on the stopped server", r.stdout + r.stderr)
srv3 = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
k.srv = srv3
for i in range(3):
    k.run(["create", "configmap", "gone-%d" % i, "-n", "inf"])
got = p.until(lambda l: l.startswith("STATS") and int(dict(kv.split("=") for kv in l.split()[1:])
                                                       .get("gone", "0")) >= 1, timeout=30)
p.until(lambda l: l.startswith("ADD inf/gone-2 "), timeout=20)
st = p.stats()
t.ok(got is not None and int(st.get("lists", "0")) >= 2,
     "a watch from a version the restarted server no longer has gets 410 and relists", p.diag())
t.ok({"inf/gone-0", "inf/gone-1", "inf/gone-2", "inf/c"} <= p.cache(),
     "after the relist the cache has the objects written meanwhile", "%s\n%s" % (p.cache(), p.diag()))
rc, err = p.stop()
t.ok(rc == 0 and "ERROR: " not in err, "the second probe exits cleanly", err[-3000:])
srv = srv3
k.finish()
