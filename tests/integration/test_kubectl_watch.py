"""Listing and watching with kubectl against a real `k3c server --disable-agent`:
output formats, label and field selectors, paging with --chunk-size, get -w seeing
another client's update, delete --wait, namespace deletion, watch replay."""
import json
import os
import queue
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows  # noqa: E402

t = Tap()
# No scheduler: the replayed event sequences below are exactly the test's own writes
# (the scheduler would add a PodScheduled status patch per pod).
srv = Server(extra_args=["--disable-agent", "--disable-scheduler"]).start()
k = Kube(t, srv)


class Lines:
    """Lines of a running process's stdout, read by a thread, with a timeout."""

    def __init__(self, proc):
        self.proc = proc
        self.q = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def until(self, pred, timeout=20):
        """Read lines until pred(line); returns the line or None on timeout/EOF."""
        deadline = time.time() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                return None
            if line is None:
                return None
            self.seen.append(line)
            if pred(line):
                return line

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
        return "\n".join(self.seen) + "\n--- stderr\n" + (self.proc.stderr.read() or "")


r = k.run("get pods")
t.ok(r.returncode == 0 and r.stdout == "" and "No resources found in default namespace." in r.stderr,
     "get pods in an empty namespace says No resources found", k.diag("get pods", r))

pods = []
for name, app in (("pa", "x"), ("pb", "x"), ("pc", "y")):
    pods.append("""apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {app: "%s"}
spec:
  containers:
  - name: c
    image: busybox:1.36
""" % (name, app))
k.ok(["create", "-f", k.write("pods.yaml", "---\n".join(pods))],
     out=["pod/pa created", "pod/pb created", "pod/pc created"])

# ---- output formats
k.ok("get pods -o wide", check=lambda o: header(o) == [
    "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    and [r[0] for r in rows(o)] == ["pa", "pb", "pc"]
    and all(r[1:4] == ["0/1", "Pending", "0"] and r[5:] == ["<none>"] * 4 for r in rows(o)))
r = k.ok("get pods -o yaml", out=["apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n",
                                  "kind: List\nmetadata:\n  resourceVersion: \"\"\n",
                                  "    name: pb\n", "    - image: busybox:1.36\n"])
r = k.ok("get pods -o json")
try:
    lst = json.loads(r.stdout)
except ValueError:
    lst = {}
t.ok(lst.get("kind") == "List" and [i["metadata"]["name"] for i in lst.get("items", [])] == ["pa", "pb", "pc"]
     and all(i.get("kind") == "Pod" and i.get("apiVersion") == "v1" for i in lst["items"]),
     "get pods -o json: a List of the three pods with kind and apiVersion", r.stdout[:2000])
t.ok(all(i["spec"].get("restartPolicy") == "Always" and i["spec"].get("dnsPolicy") == "ClusterFirst"
         and i["status"].get("phase") == "Pending" and i["spec"]["containers"][0].get("imagePullPolicy")
         == "IfNotPresent" for i in lst.get("items", [])), "pods carry upstream defaults", r.stdout[:2000])
k.ok("get pods -o jsonpath={.items[*].metadata.name}", check=lambda o: o == "pa pb pc")
k.ok(["get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.app}{\"\\n\"}{end}"],
     check=lambda o: o == "pa=x\npb=x\npc=y\n")
k.ok("get pod pa -o jsonpath={.kind}/{.metadata.name}", check=lambda o: o == "Pod/pa")
k.ok("get pods -o name", check=lambda o: o == "pod/pa\npod/pb\npod/pc\n")
k.ok("get pods -o custom-columns=N:.metadata.name,APP:.metadata.labels.app",
     check=lambda o: header(o) == ["N", "APP"] and rows(o) == [["pa", "x"], ["pb", "x"], ["pc", "y"]])
k.ok("get pods -A", check=lambda o: header(o)[:2] == ["NAMESPACE", "NAME"]
     and ["default", "pa"] in [r[:2] for r in rows(o)])
k.ok("get pods --sort-by=.metadata.name --no-headers", check=lambda o: [r[0] for r in rows("h\n" + o)]
     == ["pa", "pb", "pc"])

# ---- selectors
for i, app in enumerate(["x", "x", "y", "z"]):
    k.run(["create", "configmap", "c%d" % i, "--from-literal=a=b"])
    k.run(["label", "configmap", "c%d" % i, "app=" + app])
k.ok("get cm -l app=x", check=lambda o: header(o) == ["NAME", "DATA", "AGE"]
     and [r[0] for r in rows(o)] == ["c0", "c1"])
k.ok("get cm -l app!=x -o name", check=lambda o: "configmap/c2" in o and "configmap/c3" in o
     and "c0" not in o and "c1" not in o)
k.ok(["get", "cm", "-l", "app in (y,z)", "-o", "name"], check=lambda o: o == "configmap/c2\nconfigmap/c3\n")
k.ok(["get", "cm", "-l", "app,app notin (x)", "-o", "name"], check=lambda o: o == "configmap/c2\nconfigmap/c3\n")
k.ok(["get", "cm", "-l", "!app", "-o", "name"], check=lambda o: not re.search(r"configmap/c\d", o))
r = k.run("get cm -l app=nothing")
t.ok(r.returncode == 0 and "No resources found in default namespace." in r.stderr,
     "a selector matching nothing says No resources found", k.diag("get cm -l app=nothing", r))
k.ok("get pods --field-selector=metadata.name=pb -o name", check=lambda o: o == "pod/pb\n")
k.ok("get pods --field-selector=status.phase=Pending,metadata.name!=pa -o name",
     check=lambda o: o == "pod/pb\npod/pc\n")
k.ok("get pods --field-selector=status.phase=Running", check=lambda o: o == "")
k.ok("get pods -l app=x --field-selector=metadata.name!=pa -o name", check=lambda o: o == "pod/pb\n")
k.ok("get ns --field-selector=metadata.name=default -o name", check=lambda o: o == "namespace/default\n")
k.fails("get pods --field-selector=spec.bogus=1",
        err='Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
            'selector "", field selector "spec.bogus=1": field label not supported: spec.bogus')

# ---- paging
for i in range(12):
    k.run(["create", "secret", "generic", "page%02d" % i, "--from-literal=a=b"])
r = k.ok("get secrets --chunk-size=2 -v=6", name="get secrets --chunk-size=2 over 12 objects")
names = [row[0] for row in rows(r.stdout)]
t.ok(names == ["page%02d" % i for i in range(12)], "chunked get lists every secret once, in order",
     r.stdout)
gets = [l for l in r.stderr.splitlines() if "GET " in l and "/secrets?" in l]
t.ok(len(gets) >= 6 and all("limit=2" in g for g in gets) and sum("continue=" in g for g in gets) >= 5,
     "kubectl paged with limit=2 and continue tokens", "\n".join(gets))
r = k.ok("get secrets --chunk-size=5 -o json")
try:
    sl = json.loads(r.stdout)
except ValueError:
    sl = {}
t.ok(len(sl.get("items", [])) == 12, "chunked -o json returns all 12 items", r.stdout[:500])
st, _, body = srv.request("GET", "/api/v1/namespaces/default/secrets?limit=5")
page = json.loads(body) if st == 200 else {}
t.ok(len(page.get("items", [])) == 5 and page.get("metadata", {}).get("continue")
     and page["metadata"].get("remainingItemCount") == 7,
     "a raw page has 5 items, a continue token and remainingItemCount 7", body[:300])
st, _, body = srv.request("GET", "/api/v1/namespaces/default/secrets?limit=5&continue=garbage")
t.ok(st == 400 and b"continue" in body, "a garbage continue token is a 400", (st, body[:300]))

# ---- get -w sees an update made by another client
w = Lines(k.popen("get pods -w"))
first = w.until(lambda l: l.startswith("pc "))
t.ok(first is not None and w.seen and w.seen[0].split()[:3] == ["NAME", "READY", "STATUS"],
     "get pods -w prints the table first", "\n".join(w.seen))
time.sleep(0.5)
k.ok("label pod pb seen=yes", out="pod/pb labeled")
upd = w.until(lambda l: l.startswith("pb "), timeout=20)
t.ok(upd is not None and upd.split()[1:3] == ["0/1", "Pending"], "get pods -w prints the labelled pod again",
     "\n".join(w.seen))
k.ok("create -f " + k.write("pd.yaml", pods[0].replace("name: pa", "name: pd")), out="pod/pd created")
t.ok(w.until(lambda l: l.startswith("pd "), timeout=20) is not None, "get pods -w prints a new pod",
     "\n".join(w.seen))
t.ok(w.proc.poll() is None, "the watch is still open", w.stop())
w.stop()

ev = Lines(k.popen("get pods -w --output-watch-events"))
t.ok(ev.until(lambda l: l.split()[:2] == ["ADDED", "pd"]) is not None,
     "--output-watch-events lists existing pods as ADDED", "\n".join(ev.seen))
k.ok("delete pod pd --wait=true", out='pod "pd" deleted')
line = ev.until(lambda l: "pd" in l and l.split()[0] == "DELETED", timeout=20)
t.ok(line is not None, "--output-watch-events shows DELETED for the deleted pod", ev.stop())
ev.stop()
k.fails("get pod pd", err='Error from server (NotFound): pods "pd" not found')

# watch from an old resourceVersion replays the history (nothing is compacted yet)
rv = json.loads(k.run("get pod pa -o json").stdout)["metadata"]["resourceVersion"]
raw = Lines(k.popen(["get", "--raw", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=1"]))
evs = []
while len(evs) < 4:
    l = raw.until(lambda l: l.startswith("{"), timeout=15)
    if l is None:
        break
    evs.append(json.loads(l))
diag = raw.stop()
t.ok([(e["type"], e["object"]["metadata"]["name"]) for e in evs] ==
     [("ADDED", "pa"), ("ADDED", "pb"), ("ADDED", "pc"), ("MODIFIED", "pb")]
     and evs[0]["object"]["metadata"]["resourceVersion"] == rv,
     "get --raw ...pods?watch=1&resourceVersion=1 replays every event since revision 1", diag)

# ---- delete --wait
k.ok("delete pod pa --wait", out='pod "pa" deleted')
k.fails("get pod pa", err='Error from server (NotFound): pods "pa" not found')
k.ok("delete pods -l app=x --wait", out='pod "pb" deleted', check=lambda o: "pc" not in o)
k.ok("get pods -o name", check=lambda o: o == "pod/pc\n")
k.ok("delete cm -l app --wait", out=['configmap "c0" deleted', 'configmap "c3" deleted'])
k.fails("delete pod nope", err='Error from server (NotFound): pods "nope" not found')

# ---- namespace deletion removes its content
k.ok("create namespace gone", out="namespace/gone created")
k.ok("create configmap a -n gone --from-literal=a=b", out="configmap/a created")
k.ok("create secret generic b -n gone --from-literal=a=b", out="secret/b created")
k.ok("create -n gone -f " + k.write("gp.yaml", pods[2]), out="pod/pc created")
k.ok("create service clusterip gs -n gone --tcp=80", out="service/gs created")
k.ok("delete namespace gone --timeout=60s", out='namespace "gone" deleted')
k.fails("get ns gone", err='Error from server (NotFound): namespaces "gone" not found')
for kind in ("configmaps", "secrets", "pods", "services"):
    st, _, body = srv.request("GET", "/api/v1/namespaces/gone/" + kind)
    items = json.loads(body).get("items") if st == 200 else None
    t.ok(items == [], "namespace deletion removed its %s" % kind, (st, body[:300]))
k.fails("create configmap late -n gone --from-literal=a=b",
        err='namespaces "gone" not found')
k.ok("get pods -n default -o name", check=lambda o: o == "pod/pc\n")

k.finish()
