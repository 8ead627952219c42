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


def warnings(hdrs):
    return [v for k, v in hdrs if k == "warning"]


def cm_body(meta, data='{"x":"y"}'):
    return '{"apiVersion":"v1","kind":"ConfigMap","metadata":%s,"data":%s}' % (meta, data)


POD_SPEC = '"spec":{"containers":[{"name":"c","image":"busybox"}]}'

# ---- duplicate keys: Strict refuses them with upstream's strict decoding error
st, _, obj = raw("POST", CM + "?fieldValidation=Strict", cm_body('{"name":"s1","name":"s2"}'))
t.ok(st == 400 and msg(obj) == 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
     'error: duplicate field "metadata.name"', "Strict: a duplicate key is a 400 strict decoding error", (st, obj))
st, _, obj = raw("GET", CM + "/s1")
st2, _, _ = raw("GET", CM + "/s2")
t.ok(st == 404 and st2 == 404, "Strict: nothing was stored", (st, st2))
# Warn (the default) keeps the last value and says so in a Warning header
st, hdrs, obj = raw("POST", CM, cm_body('{"name":"w1","name":"w2"}', '{"a":"1","a":"2"}'))
t.ok(st == 201 and obj["metadata"]["name"] == "w2" and obj.get("data") == {"a": "2"},
     "Warn: the last of the duplicate values is kept", (st, obj))
t.ok(warnings(hdrs) == ['299 - "duplicate field \\"metadata.name\\""', '299 - "duplicate field \\"data.a\\""'],
     "Warn: one Warning header per duplicate field, upstream's text", hdrs)
readable_and_deletable(CM, "w2", "duplicate name under Warn")
st, hdrs, obj = raw("POST", CM + "?fieldValidation=Ignore", cm_body('{"name":"i1","name":"i2"}'))
t.ok(st == 201 and obj["metadata"]["name"] == "i2" and not warnings(hdrs), "Ignore: last value, no warning",
     (st, hdrs, obj))
raw("DELETE", CM + "/i2")

# ---- duplicate keys must not set server-owned fields
st, hdrs, obj = raw("POST", PODS, '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dupstatus"},%s,'
                    '"status":{},"status":{"phase":"Running","podIP":"6.6.6.6"}}' % POD_SPEC)
t.ok(st == 201 and "6.6.6.6" not in json.dumps(obj) and obj.get("status", {}).get("phase") != "Running",
     "a pod created with a second status is not stored Running with podIP 6.6.6.6", (st, obj))
st, _, pod = raw("GET", PODS + "/dupstatus")
t.ok(st == 200 and "6.6.6.6" not in json.dumps(pod), "... nor read back so", pod)
raw("DELETE", PODS + "/dupstatus")
meta = ('{"name":"owned","uid":"1","uid":"evil-uid","creationTimestamp":"2001-01-01T00:00:00Z",'
        '"creationTimestamp":"2002-02-02T00:00:00Z","deletionTimestamp":"2003-03-03T00:00:00Z",'
        '"deletionTimestamp":"2004-04-04T00:00:00Z","resourceVersion":"1","resourceVersion":"999",'
        '"generation":5,"generation":6}')
st, _, obj = raw("POST", CM, cm_body(meta))
m = obj.get("metadata", {}) if isinstance(obj, dict) else {}
t.ok(st == 201 and m.get("uid") not in ("1", "evil-uid") and not m.get("creationTimestamp", "").startswith("200")
     and "deletionTimestamp" not in m and m.get("resourceVersion") != "999" and "generation" not in m,
     "second uid, creationTimestamp, deletionTimestamp, resourceVersion, generation are not kept", (st, obj))
readable_and_deletable(CM, "owned", "duplicate server-owned fields")
st, _, obj = raw("POST", CM, cm_body('{"name":"nsdup","namespace":"default","namespace":"kube-system"}'))
t.ok(st == 400 and "namespace of the provided object does not match" in msg(obj),
     "a second namespace is the one checked against the URL", (st, obj))
st, _, obj = raw("GET", "/api/v1/namespaces/kube-system/configmaps/nsdup")
t.ok(st == 404, "... and nothing lands in the other namespace", (st, obj))
st, _, obj = raw("POST", CM, '{"apiVersion":"v1","kind":"ConfigMap","kind":"Secret","metadata":{"name":"kinddup"}}')
t.ok(st == 400 and "kind" in msg(obj), "a second kind is the one checked against the URL", (st, obj))
st, _, obj = raw("GET", "/api/v1/namespaces/default/secrets/kinddup")
t.ok(st == 404, "... and no Secret was made of it", (st, obj))

# ---- \u0000 would be cut by cJSON: refused, with the reason
st, _, obj = raw("POST", CM, cm_body('{"name":"nul"}', '{"x":"a\\u0000b"}'))
t.ok(st == 400 and "NUL" in msg(obj) and "data.x" in msg(obj), "a string with \\u0000 is a 400 naming the field",
     (st, obj))
st, _, obj = raw("POST", CM, cm_body('{"name":"nul\\u0000name"}'))
t.ok(st == 400 and "NUL" in msg(obj), "a name with \\u0000 is a 400", (st, obj))
st, _, obj = raw("GET", CM + "/nul")
t.ok(st == 404, "no object named by the bytes before the NUL", (st, obj))

# ---- trailing data after the object
st, _, obj = raw("POST", CM, cm_body('{"name":"trail"}') + ' {"apiVersion":"v1"}')
t.ok(st == 400 and msg(obj).startswith("the object provided is unrecognized (must be of type ConfigMap): "
                                       "couldn't get version/kind; json parse error: invalid character '{' "
                                       "after top-level value"), "two objects in one body: 400", (st, obj))
st, _, obj = raw("POST", CM, cm_body('{"name":"trail"}') + ' x')
t.ok(st == 400 and "after top-level value" in msg(obj), "garbage after the object: 400", (st, obj))
st, _, obj = raw("GET", CM + "/trail")
t.ok(st == 404, "nothing was stored from them", (st, obj))

# ---- invalid UTF-8 is replaced by U+FFFD, so every answer stays valid JSON
st, _, obj = raw("POST", CM, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"utf",'
                 b'"annotations":{"a":"\xffb"}},"data":{"x":"\xff\xfe\xc0\xaf ok \xe2\x82"}}')
t.ok(st == 201 and obj.get("data", {}).get("x") == "\ufffd\ufffd\ufffd\ufffd ok \ufffd\ufffd",
     "invalid UTF-8 in a value is stored as U+FFFD (Go's rule)", (st, obj))
c = srv.connect()
c.request("GET", CM)
r = c.getresponse()
data = r.read()
c.close()
try:
    lst = json.loads(data.decode("utf-8"))
    ok = any(i["metadata"]["name"] == "utf" for i in lst["items"])
except (ValueError, UnicodeDecodeError) as e:
    ok = False
    data = repr(e)
t.ok(ok, "the list response is valid UTF-8 JSON", data)
readable_and_deletable(CM, "utf", "invalid UTF-8")

# ---- numbers beyond int32 / int64
dep = ('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"big"},"spec":{"replicas":%s,'
       '"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},'
       '"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}')
st, _, obj = raw("POST", DEPLOY, dep % "1.2e29")
t.ok(st == 400 and msg(obj) == 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
     'unmarshal number 1.2e+29 into Go struct field DeploymentSpec.spec.replicas of type int32',
     "replicas 1.2e29 is refused with upstream's int32 error", (st, obj))
st, _, obj = raw("POST", DEPLOY, dep % "2147483648")
t.ok(st == 400 and "of type int32" in msg(obj), "replicas 2^31 is refused", (st, obj))
st, _, obj = raw("POST", PODS, '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bigdl"},"spec":{'
                 '"activeDeadlineSeconds":1e19,"containers":[{"name":"c","image":"busybox"}]}}')
t.ok(st == 400 and msg(obj).endswith("into Go struct field PodSpec.spec.activeDeadlineSeconds of type int64"),
     "an int64 field beyond int64 is refused", (st, obj))
st, _, obj = raw("POST", CM, cm_body('{"name":"inf"}', '{}').replace('"data":{}', '"x":1e400'))
t.ok(st == 400 and "cannot unmarshal number 1e400" in msg(obj), "a number beyond float64 is refused", (st, obj))
st, _, obj = raw("POST", DEPLOY, dep % "3")
t.ok(st == 201 and obj["spec"]["replicas"] == 3, "a deployment with an ordinary replicas is still created", (st, obj))
readable_and_deletable(DEPLOY, "big", "int32 fields")

# ---- metadata limits
st, _, obj = raw("POST", CM, cm_body(json.dumps({"name": "bigann", "annotations": {"a": "x" * (256 * 1024)}})))
t.ok(st == 422 and "metadata.annotations: Too long: must have at most 262144 bytes" in msg(obj),
     "annotations over 256 KiB: upstream's 422", (st, obj))
st, _, obj = raw("POST", CM, cm_body(json.dumps({"name": "okann", "annotations": {"Example.com/A": "x"}})))
t.ok(st == 201, "annotation keys are qualified names regardless of case (upstream lowercases)", (st, obj))
raw("DELETE", CM + "/okann")
longname = "a" * 100 + ".example.com"
st, _, obj = raw("POST", CM, cm_body(json.dumps({"name": longname})))
t.ok(st == 201, "a subdomain name with a part over 63 characters is valid (no per-part limit)", (st, obj))
readable_and_deletable(CM, longname, "long subdomain part")
st, _, obj = raw("POST", CM, cm_body(json.dumps({"name": "a" * 254})))
t.ok(st == 422 and "must be no more than 253 characters" in msg(obj), "a name over 253 characters: 422", (st, obj))

# ---- YAML bodies: duplicate keys as go-yaml reports them
yml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y1\n  name: y2\n"
st, _, obj = raw("POST", CM + "?fieldValidation=Strict", yml, "application/yaml")
t.ok(st == 400 and msg(obj) == 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
     'error: yaml: unmarshal errors:\n  line 5: key "name" already set in map', "Strict YAML duplicate: 400", (st, obj))
st, hdrs, obj = raw("POST", CM, yml, "application/yaml")
t.ok(st == 201 and obj["metadata"]["name"] == "y2" and
     warnings(hdrs) == ['299 - "line 5: key \\"name\\" already set in map"'],
     "Warn YAML duplicate: last value and a warning", (st, hdrs, obj))
readable_and_deletable(CM, "y2", "YAML duplicate")

ayml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  a: one\n  a: two\n"
st, _, obj = raw("PATCH", CM + "/ap?fieldManager=m&fieldValidation=Strict", ayml, "application/apply-patch+yaml")
t.ok(st == 400 and msg(obj) == 'error strict decoding patch: error converting YAML to JSON: yaml: unmarshal '
     'errors:\n  line 7: key "a" already set in map', "Strict apply with a duplicate: upstream's 400", (st, obj))
st, hdrs, obj = raw("PATCH", CM + "/ap?fieldManager=m", ayml, "application/apply-patch+yaml")
t.ok(st == 201 and obj.get("data") == {"a": "two"} and
     warnings(hdrs) == ['299 - "line 7: key \\"a\\" already set in map"'],
     "Warn apply with a duplicate: created with the last value, and a warning", (st, hdrs, obj))
readable_and_deletable(CM, "ap", "applied with a duplicate")

# ---- patches go through the same decoder
st, _, obj = raw("POST", CM, cm_body('{"name":"p1"}'))
st, _, obj = raw("PATCH", CM + "/p1?fieldValidation=Strict", '{"data":{"a":"1","a":"2"}}',
                 "application/merge-patch+json")
t.ok(st == 400 and msg(obj) == 'strict decoding error: duplicate field "data.a"',
     "Strict merge patch with a duplicate: 400", (st, obj))
st, _, obj = raw("PATCH", CM + "/p1", '{"data":{"a":"\\u0000"}}', "application/merge-patch+json")
t.ok(st == 400 and "NUL" in msg(obj), "a patch with \\u0000: 400", (st, obj))
st, _, obj = raw("PATCH", CM + "/p1", '{"data":{"a":"1"}} {}', "application/merge-patch+json")
t.ok(st == 400 and "after top-level value" in msg(obj), "a patch with trailing data: 400", (st, obj))
st, _, obj = raw("PATCH", CM + "/p1", '{"data":{"a":"1","a":"2"}}', "application/merge-patch+json")
t.ok(st == 200 and obj.get("data", {}).get("a") == "2", "Warn merge patch: the last value", (st, obj))
readable_and_deletable(CM, "p1", "patched")

# ---- 40,000 keys, each twice, stay fast: duplicate detection is linear
# (Strict refuses the body right after decoding, so this times the decoder;
# pkg/api/managed.c is quadratic in the number of fields of a create)
import time  # noqa: E402
big = ",".join('"k%d":"v"' % i for i in range(40000))
t0 = time.time()
st, _, obj = raw("POST", CM + "?fieldValidation=Strict", cm_body('{"name":"wide"}', "{%s,%s}" % (big, big)))
took = time.time() - t0
t.ok(st == 400 and msg(obj).startswith('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict '
                                       'decoding error: duplicate field "data.k0", duplicate field "data.k1"')
     and took < 30, "80,000 members with 40,000 duplicates decode in %.1f s" % took, (st, took, msg(obj)))

ylines = "".join("  k%d: v\n" % i for i in range(40000))
t0 = time.time()
st, _, obj = raw("POST", CM + "?fieldValidation=Strict", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                 "  name: ywide\ndata:\n" + ylines + ylines, "application/yaml")
took = time.time() - t0
t.ok(st == 400 and 'line 40006: key "k0" already set in map' in msg(obj) and took < 30,
     "the same in YAML decodes in %.1f s (was quadratic: minutes)" % took, (st, took, msg(obj)[:300]))

t.ok(alive(), "the server still answers at the end")
t.ok(srv.stop_clean(), "server exited cleanly (no sanitizer reports)", srv.log_tail())
t.done()
