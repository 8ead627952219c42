"""Hostile query strings and methods (issue #19) against a real server: each
finding is sent byte-exact over a raw connection (http.client sends the
target as given), and every check also makes sure the server survived and
that nothing was deleted or created behind the client's back."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
# No scheduler: the GET-then-PUT of a pod's status below would race its status patch.
srv = Server(extra_args=["--disable-scheduler"])
srv.start()

CM = "/api/v1/namespaces/default/configmaps"


def raw(method, target, body=None, headers=None, timeout=30):
    """One request with the target sent exactly as given: (status, body str)."""
    c = srv.connect(timeout=timeout)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Type", "application/json")
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body.encode() if body is not None else None)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def status_of(body):
    try:
        return json.loads(body)
    except ValueError:
        return {}


def alive():
    s, _ = raw("GET", "/version")
    return s == 200 and srv.proc.poll() is None


def make_cm(name, labels=None):
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "labels": labels or {}}, "data": {"k": "v"}}
    s, b = raw("POST", CM, json.dumps(obj))
    assert s == 201, (s, b)


def cm_names():
    """The test's ConfigMaps (kube-root-ca.crt, the root CA publisher's, is in every
    namespace, as upstream)."""
    s, b = raw("GET", CM)
    return sorted(i["metadata"]["name"] for i in json.loads(b)["items"]
                  if i["metadata"]["name"] != "kube-root-ca.crt")


for n in ("keep-a", "keep-b"):
    make_cm(n, {"app": "keep"})

# ---- crash: watch from resourceVersion 2^63-1 ----
t0 = time.time()
s, b = raw("GET", CM + "?watch=1&resourceVersion=9223372036854775807&timeoutSeconds=1")
t.ok(s == 200 and b == "", "watch from resourceVersion 2^63-1 is a quiet watch that times out",
     (s, b))
t.ok(time.time() - t0 < 15, "that watch ends at its timeout")
t.ok(alive(), "server survives a watch from resourceVersion 2^63-1", srv.log_tail())
s, b = raw("GET", CM + "?watch=1&resourceVersion=18446744073709551615&timeoutSeconds=1")
t.ok(s == 200, "watch from resourceVersion 2^64-1 (valid for upstream) is accepted", (s, b))
for rv, why in (("abc", "invalid syntax"), ("-1", "invalid syntax"), ("1e30", "invalid syntax"),
                ("18446744073709551616", "value out of range")):
    s, b = raw("GET", CM + "?watch=1&resourceVersion=" + rv)
    want = ('resourceVersion: Invalid value: "%s": strconv.ParseUint: parsing "%s": %s'
            % (rv, rv, why))
    t.ok(s == 500 and status_of(b).get("message") == want,
         "watch resourceVersion=%s refused as upstream" % rv, (s, b))
t.ok(alive(), "server alive after bad watch resourceVersions", srv.log_tail())

# ---- one bad escape must refuse the whole request, never drop parameters ----
s, b = raw("DELETE", CM + "?labelSelector=app%3Dnone&x=%zz")
t.ok(s == 400 and status_of(b).get("message") == 'invalid URL escape "%zz"',
     "DELETE collection with a bad escape is refused with 400", (s, b))
t.ok(cm_names() == ["keep-a", "keep-b"], "... and deleted nothing", cm_names())
s, b = raw("DELETE", CM + "?labelSelector=app%3Dnone")
t.ok(s == 200 and cm_names() == ["keep-a", "keep-b"],
     "control: the same DELETE without the bad escape selects nothing", (s, b))
for q in ("labelSelector=app%3Dnone&x=%4", "labelSelector=app%3Dnone&x=%", "labelSelector=app%3Dnone&%zz=1",
          "labelSelector=app%3Dnone;x=1"):
    s, b = raw("DELETE", CM + "?" + q)
    t.ok(s == 400, "DELETE collection ?%s refused with 400" % q, (s, b))
t.ok(cm_names() == ["keep-a", "keep-b"], "no malformed DELETE deleted anything", cm_names())

body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}})
s, b = raw("POST", CM + "?dryRun=All&x=%00", body)
t.ok(s == 400 and "%00 (a NUL byte) is not supported" in status_of(b).get("message", ""),
     "POST ?dryRun=All&x=%00 refused with 400 saying why", (s, b))
t.ok("dry" not in cm_names(), "... and created nothing", cm_names())
s, b = raw("POST", CM + "?dryRun=All", body)
t.ok(s == 201 and "dry" not in cm_names(), "control: dryRun=All alone creates nothing", (s, b))
s, b = raw("DELETE", CM + "/keep-a?dryRun=All&x=%00")
t.ok(s == 400 and "keep-a" in cm_names(), "DELETE ?dryRun=All&x=%00 refused, object kept", (s, b))
s, b = raw("POST", CM + "?dryRun=Foo", body)
t.ok(s == 422 and status_of(b).get("message") ==
     'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Foo"}: '
     'supported values: "All"', "dryRun=Foo refused as upstream", (s, b))
t.ok("dry" not in cm_names(), "... and created nothing", cm_names())
s, b = raw("DELETE", CM + "/keep-a?dryRun=all")
t.ok(s == 422 and "keep-a" in cm_names(), "DELETE ?dryRun=all (wrong case) refused, object kept",
     (s, b))

# ---- numbers parsed strictly, with upstream's messages ----
for q, code, msg in (
        ("limit=abc", 400, 'strconv.ParseInt: parsing "abc": invalid syntax'),
        ("limit=1e30", 400, 'strconv.ParseInt: parsing "1e30": invalid syntax'),
        ("limit=99999999999999999999", 400,
         'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
        ("limit=", 400, 'strconv.ParseInt: parsing "": invalid syntax'),
        ("watch=1&timeoutSeconds=5s", 400, 'strconv.ParseInt: parsing "5s": invalid syntax'),
        ("resourceVersion=abc", 500,
         'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'),
        ("resourceVersion=-1", 500,
         'resourceVersion: Invalid value: "-1": strconv.ParseUint: parsing "-1": invalid syntax'),
        ("resourceVersionMatch=Exact", 422,
         'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
         'resourceVersionMatch is forbidden unless resourceVersion is provided'),
        ("resourceVersion=1&resourceVersionMatch=Newest", 422,
         'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": '
         'supported values: "Exact", "NotOlderThan", ""'),
        ("continue=bogus", 400, None)):
    s, b = raw("GET", CM + "?" + q)
    m = status_of(b).get("message")
    t.ok(s == code and (msg is None or m == msg), "GET ?%s answers %d as upstream" % (q, code), (s, b))
s, b = raw("GET", CM + "/keep-a?resourceVersion=1e30")
t.ok(s == 500 and status_of(b).get("message") == 'resourceVersion: Invalid value: "1e30": '
     'strconv.ParseUint: parsing "1e30": invalid syntax', "GET one object ?resourceVersion=1e30 "
     "refused as upstream", (s, b))
s, b = raw("GET", CM + "/keep-a?resourceVersion=0")
t.ok(s == 200, "control: GET one object ?resourceVersion=0", (s, b))
s, b = raw("GET", CM + "?resourceVersion=9223372036854775807")
t.ok(s == 504 and status_of(b).get("reason") == "Timeout" and
     "Too large resource version: 9223372036854775807" in status_of(b).get("message", ""),
     "list at a resourceVersion not reached answers 504 Too large resource version", (s, b))
s, b = raw("GET", CM + "?limit=1")
t.ok(s == 200 and len(json.loads(b)["items"]) == 1, "control: limit=1 still pages", (s, b))
tok = json.loads(b)["metadata"].get("continue", "")
s, b = raw("GET", CM + "?limit=1&resourceVersion=1&continue=" + tok)
t.ok(s == 400 and status_of(b).get("message") ==
     "specifying resource version is not allowed when using continue",
     "continue with a resourceVersion refused as upstream", (s, b))
s, b = raw("GET", CM + "?limit=1&continue=" + tok)
t.ok(s == 200 and len(json.loads(b)["items"]) == 1, "control: the continue token pages on", (s, b))
s, b = raw("DELETE", CM + "/keep-a?gracePeriodSeconds=soon")
t.ok(s == 400 and status_of(b).get("message") ==
     'strconv.ParseInt: parsing "soon": invalid syntax' and "keep-a" in cm_names(),
     "DELETE ?gracePeriodSeconds=soon refused, object kept", (s, b))
s, b = raw("DELETE", CM + "?labelSelector=app%3Dnone&gracePeriodSeconds=x")
t.ok(s == 400 and cm_names() == ["keep-a", "keep-b"],
     "DELETE collection with a bad gracePeriodSeconds deletes nothing", (s, b))

# ---- methods on non-resource paths ----
for m, p in (("POST", "/version"), ("DELETE", "/healthz"), ("PUT", "/livez"), ("PATCH", "/readyz"),
             ("POST", "/readyz/ping"), ("POST", "/api"), ("DELETE", "/api/v1"), ("POST", "/apis"),
             ("PUT", "/apis/apps/v1"), ("POST", "/openapi/v2"), ("DELETE", "/openapi/v3"),
             ("OPTIONS", "/version"), ("TRACE", "/healthz")):
    s, b = raw(m, p, "{}" if m in ("POST", "PUT", "PATCH") else None)
    st = status_of(b)
    t.ok(s == 405 and st.get("reason") == "MethodNotAllowed" and st.get("message") ==
         "the server does not allow this method on the requested resource",
         "%s %s answers 405 MethodNotAllowed" % (m, p), (s, b))
for m, p in (("GET", "/version"), ("GET", "/healthz"), ("HEAD", "/livez"), ("GET", "/readyz"),
             ("GET", "/api"), ("GET", "/apis"), ("GET", "/openapi/v2")):
    s, b = raw(m, p)
    t.ok(s == 200, "%s %s still answers 200" % (m, p), (s, b))
s, b = raw("OPTIONS", CM)
t.ok(s == 405, "OPTIONS on a resource answers 405", (s, b))
s, b = raw("POST", "/no/such/path", "{}")
t.ok(s == 404, "POST on an unknown path stays 404", (s, b))

# ---- restart-count sum: two containers at int32 max (the int sum overflowed) ----
P = "/api/v1/namespaces/default/pods"
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "restarts"},
       "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}}
s, b = raw("POST", P, json.dumps(pod))
t.ok(s == 201, "pod created", (s, b))
o = json.loads(raw("GET", P + "/restarts")[1])
o["status"] = {"containerStatuses": [{"name": n, "image": "x", "imageID": "", "ready": False,
                                      "restartCount": 2147483647} for n in ("a", "b")]}
s, b = raw("PUT", P + "/restarts/status", json.dumps(o))
t.ok(s == 200, "status with restartCount 2^31-1 twice stored", (s, b))
out = srv.kubectl("get", "pod", "restarts", "--no-headers")
t.ok(out.returncode == 0 and out.stdout.split()[3] == "4294967294",
     "RESTARTS sums to 4294967294 (no int overflow)", out.stdout + out.stderr)
s, b = raw("DELETE", P + "/restarts")
t.ok(s == 200, "pod deleted", (s, b))

t.ok(alive(), "server alive after every hostile request", srv.log_tail())
t.ok(cm_names() == ["keep-a", "keep-b"], "nothing was deleted or created", cm_names())
t.ok(srv.stop_clean(), "server exited cleanly (no sanitizer report)", srv.log_tail())
srv.cleanup()


# ---- a full disk: logged with the database path, answered "disk is full" ----
def disk_full_checks():
    mnt = tempfile.mkdtemp(prefix="k3c-full-")
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt],
                                           capture_output=True).returncode != 0:
        os.rmdir(mnt)
        t.skip("a full disk is reported and logged", "cannot mount a small tmpfs here (needs root)")
        return
    full = Server(data_dir=os.path.join(mnt, "data"))
    try:
        full.start()
        global srv
        srv = full
        v = os.statvfs(mnt)
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, v.f_bavail * v.f_frsize - 256 * 1024))
        data = "x" * (100 * 1024)
        s = b = None
        for i in range(40):
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fill-%d" % i},
                   "data": {"k": data}}
            s, b = raw("POST", CM, json.dumps(obj))
            if s != 201:
                break
        msg = status_of(b).get("message", "")
        t.ok(s == 500 and status_of(b).get("reason") == "InternalError" and
             "the datastore's disk is full" in msg and "free space" in msg,
             "a write on a full disk answers 500 \"the datastore's disk is full ...\"", (s, b))
        log = full.log_text()
        db = os.path.join(mnt, "data")
        lines = [l for l in log.splitlines() if "datastore write failed" in l]
        for l in lines[:2]:
            print("# server log: " + l)
        t.ok(lines and db in lines[0] and "SQLite code" in lines[0] and "disk full" in lines[0],
             "the server log names the database, the SQLite code and the cause", log[-2000:])
        t.ok(alive(), "server alive on a full disk", full.log_tail())
        os.unlink(filler)
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-free"}}
        s, b = raw("POST", CM, json.dumps(obj))
        t.ok(s == 201, "after freeing space writes succeed again", (s, b))
        t.ok(full.stop_clean(), "server on the full disk exited cleanly", full.log_tail())
    finally:
        full.stop()
        subprocess.run(["umount", mnt], capture_output=True)
        os.rmdir(mnt)
        shutil.rmtree(full.tmp, ignore_errors=True)


disk_full_checks()
t.done()
