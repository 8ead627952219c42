"""Hostile query strings and methods (issue #19) against a real server: each
finding is sent byte-exact over a raw connection (http.client sends the
target as given), and every check also makes sure the server survived and
that nothing was deleted or created behind the client's back."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
srv = Server()
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
    s, b = raw("GET", CM)
    return sorted(i["metadata"]["name"] for i in json.loads(b)["items"])


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

t.ok(cm_names() == ["keep-a", "keep-b"], "nothing was deleted or created", cm_names())
t.ok(srv.stop_clean(), "server exited cleanly (no sanitizer report)", srv.log_tail())
srv.cleanup()
t.done()
