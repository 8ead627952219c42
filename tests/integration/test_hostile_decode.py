"""Hostile request bodies against a real `k3c server --disable-agent` over HTTPS
(issue #19): each finding is reproduced with raw bytes on srv.connect(), then
the server must still answer and the objects must be readable and deletable
by their names. Run under ASan+UBSan, a use-after-free aborts the server."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
CM = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"


def raw(method, path, body=None, ctype="application/json"):
    """One request with body bytes sent as they are: (status, headers, parsed body or text)."""
    c = srv.connect()
    try:
        headers = {}
        if body is not None:
            if isinstance(body, str):
                body = body.encode()
            headers = {"Content-Type": ctype, "Content-Length": str(len(body))}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        hdrs = [(k.lower(), v) for k, v in r.getheaders()]
    finally:
        c.close()
    try:
        obj = json.loads(data)
    except ValueError:
        obj = data
    return r.status, hdrs, obj


def alive():
    st, _, obj = raw("GET", "/version")
    return st == 200 and isinstance(obj, dict) and "gitVersion" in obj


def msg(obj):
    return obj.get("message", "") if isinstance(obj, dict) else repr(obj)


def readable_and_deletable(path, name, what):
    st, _, obj = raw("GET", "%s/%s" % (path, name))
    t.ok(st == 200 and obj.get("metadata", {}).get("name") == name,
         "%s: the object is readable by its name %s" % (what, name), (st, obj))
    st, _, obj = raw("DELETE", "%s/%s" % (path, name))
    t.ok(st == 200, "%s: the object is deletable by its name" % what, (st, obj))
    st, _, obj = raw("GET", "%s/%s" % (path, name))
    t.ok(st == 404, "%s: and gone afterwards" % what, (st, obj))


# ---- use-after-free: a create whose metadata has two name keys. The name
# the store key was made of pointed into a cJSON item that admission freed.
st, _, obj = raw("POST", CM, '{"apiVersion":"v1","kind":"ConfigMap",'
                 '"metadata":{"name":"twin-a","name":"twin-b"},"data":{"x":"y"}}')
t.ok(st == 201, "a create with two metadata.name keys answers 201", (st, obj))
t.ok(alive(), "the server survives a create with two metadata.name keys", srv.log_tail())
name = obj.get("metadata", {}).get("name") if isinstance(obj, dict) else None
t.ok(name in ("twin-a", "twin-b"), "the created object is named by one of the keys", obj)
st, _, lst = raw("GET", CM)
names = [i["metadata"]["name"] for i in lst.get("items", [])] if isinstance(lst, dict) else []
t.ok(st == 200 and names.count(name) == 1 and all(n.isprintable() for n in names),
     "the list holds it once under that name (no freed bytes in the key)", (st, names))
if name:
    readable_and_deletable(CM, name, "two metadata.name keys")

# ---- use-after-free: server-side apply whose body name differs from the URL.
# The message was printed from the body after the body was freed.
st, _, obj = raw("PATCH", CM + "/url-name?fieldManager=m",
                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: body-name-xxxxxxxxxxxxxxxx\n",
                 "application/apply-patch+yaml")
t.ok(st == 400 and msg(obj) == "the name of the object (body-name-xxxxxxxxxxxxxxxx) does not match "
     "the name on the URL (url-name)", "apply with a body name unlike the URL: 400 naming both", (st, obj))
t.ok(alive(), "the server survives it", srv.log_tail())

t.ok(alive(), "the server still answers at the end")
t.ok(srv.stop_clean(), "server exited cleanly (no sanitizer reports)", srv.log_tail())
t.done()
