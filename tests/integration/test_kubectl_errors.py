"""Errors as kubectl users see them from a real `k3c server --disable-agent`:
NotFound, AlreadyExists, Invalid (with the field named), Conflict, Unauthorized,
Forbidden, BadRequest, unknown types, and the Status objects behind them."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, token_kubeconfig  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)


def status_of(method, path, body=None, ctype="application/json", client_cert=True):
    headers = {"Content-Type": ctype} if body is not None else {}
    st, h, data = srv.request(method, path, body=body, headers=headers, client_cert=client_cert)
    try:
        obj = json.loads(data)
    except ValueError:
        obj = {}
    return st, h, obj


# ---- NotFound
k.fails("get cm nope", err='Error from server (NotFound): configmaps "nope" not found')
k.fails("get deploy nope", err='Error from server (NotFound): deployments.apps "nope" not found')
k.fails("get ns nope", err='Error from server (NotFound): namespaces "nope" not found')
k.fails("get pod nope -n kube-system", err='Error from server (NotFound): pods "nope" not found')
k.fails("delete svc nope", err='Error from server (NotFound): services "nope" not found')
k.fails("create configmap x -n nons --from-literal=a=b", err='namespaces "nons" not found')
st, h, obj = status_of("GET", "/api/v1/namespaces/default/configmaps/nope")
t.ok(st == 404 and h.get("content-type", "").startswith("application/json") and obj == {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": 'configmaps "nope" not found', "reason": "NotFound",
    "details": {"name": "nope", "kind": "configmaps"}, "code": 404},
    "a 404 is an upstream-shaped Status", (st, h, obj))
st, _, obj = status_of("GET", "/apis/apps/v1/namespaces/default/deployments/nope")
t.ok(st == 404 and obj.get("details") == {"name": "nope", "group": "apps", "kind": "deployments"}
     and obj.get("message") == 'deployments.apps "nope" not found', "a 404 names the group", obj)
st, _, obj = status_of("GET", "/api/v1/nosuchthings")
t.ok(st == 404 and obj.get("reason") == "NotFound", "an unknown resource path is a 404 Status", (st, obj))
k.fails("get foos", err='error: the server doesn\'t have a resource type "foos"')
k.fails("get --raw /apis/nope.example.com/v1", err="Error from server (NotFound)")

# ---- AlreadyExists
k.ok("create configmap x --from-literal=a=b", out="configmap/x created")
cmf = k.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n")
k.fails(["create", "-f", cmf], err='Error from server (AlreadyExists): error when creating "%s": '
        'configmaps "x" already exists' % cmf)
st, _, obj = status_of("POST", "/api/v1/namespaces/default/configmaps",
                       json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
t.ok(st == 409 and obj.get("reason") == "AlreadyExists" and obj.get("details") == {"name": "x", "kind": "configmaps"},
     "AlreadyExists is a 409 Status", (st, obj))
k.fails("create namespace default", err='Error from server (AlreadyExists): namespaces "default" already exists')

# ---- Invalid: the field is named
noimg = k.write("noimg.yaml", """apiVersion: v1
kind: Pod
metadata:
  name: noimg
spec:
  containers:
  - name: c
""")
k.fails(["apply", "-f", noimg], err='The Pod "noimg" is invalid: spec.containers[0].image: Required value')
badlbl = k.write("badlbl.yaml", """apiVersion: v1
kind: ConfigMap
metadata:
  name: badlbl
  labels: {app: "-bad-"}
""")
k.fails(["create", "-f", badlbl], err=['The ConfigMap "badlbl" is invalid: metadata.labels: Invalid value: '
                                       '"-bad-": a valid label must be an empty string or consist of '
                                       "alphanumeric characters, '-', '_' or '.'"])
k.ok("create configmap goodlbl --from-literal=a=b", out="configmap/goodlbl created")
k.fails(["label", "cm", "goodlbl", "a/b/c=d"], err='metadata.labels: Invalid value: "a/b/c": a qualified name')
k.fails(["label", "cm", "goodlbl", "Bad.Prefix/x=y"], err='metadata.labels: Invalid value: "Bad.Prefix/x": '
        "prefix part a lowercase RFC 1123 subdomain")
k.fails(["annotate", "cm", "goodlbl", "bad_=x"], err='metadata.annotations: Invalid value: "bad_": name part '
        "must consist of alphanumeric characters")
k.ok(["label", "cm", "goodlbl", "example.com/Tier_1=Front.end-2", "empty="], out="configmap/goodlbl labeled")
k.fails(["create", "configmap", "a" * 254, "--from-literal=a=b"],
        err="metadata.name: Invalid value:")
st, _, obj = status_of("POST", "/api/v1/namespaces/default/pods", json.dumps(
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}))
causes = obj.get("details", {}).get("causes", [])
t.ok(st == 422 and obj.get("reason") == "Invalid" and obj.get("details", {}).get("kind") == "Pod"
     and {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"} in causes,
     "Invalid is a 422 Status with causes naming the field", (st, obj))
k.ok("create service clusterip s1 --tcp=80", out="service/s1 created")
k.fails(["patch", "svc", "s1", "-p", '{"spec":{"clusterIP":"10.43.99.99"}}'],
        err=['The Service "s1" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.43.99.99"}: may not change once set'])
k.ok(["create", "-f", k.write("imm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: imm\n"
                              "immutable: true\ndata:\n  a: b\n")], out="configmap/imm created")
k.fails(["patch", "cm", "imm", "--type=merge", "-p", '{"data":{"a":"c"}}'],
        err='The ConfigMap "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set')

# ---- strict field validation (kubectl sends fieldValidation=Strict)
unk = k.write("unk.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unk\n  nmae: typo\ndata:\n  a: b\n")
k.fails(["create", "-f", unk], err=['Error from server (BadRequest): error when creating "%s": ' % unk,
                                    'unknown field "metadata.nmae"'])
# (kubectl folds duplicate YAML keys itself, so send them raw)
st, _, obj = status_of("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                       '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"b","a":"c"}}')
t.ok(st == 400 and 'strict decoding error: duplicate field "data.a"' in obj.get("message", ""),
     "a duplicate map key is refused under fieldValidation=Strict", (st, obj))
k.fails(["create", "-f", k.write("nokind.yaml", "apiVersion: v1\nmetadata:\n  name: nk\n")],
        err="error validating data: kind not set")

# ---- Conflict
cm = json.loads(k.run("get cm x -o json").stdout)
k.ok("label cm x v=2", out="configmap/x labeled")
st, _, obj = status_of("PUT", "/api/v1/namespaces/default/configmaps/x", json.dumps(cm))
t.ok(st == 409 and obj.get("reason") == "Conflict" and obj.get("message") ==
     'Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply '
     'your changes to the latest version and try again', "a stale PUT is a 409 Conflict", (st, obj))
cmf2 = k.write("stale.json", json.dumps(cm))
k.fails(["replace", "-f", cmf2], err='Error from server (Conflict): error when replacing "%s": '
        'Operation cannot be fulfilled on configmaps "x": the object has been modified' % cmf2)
st, _, obj = status_of("DELETE", "/api/v1/namespaces/default/configmaps/x", json.dumps(
    {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}}))
t.ok(st == 409 and obj.get("reason") == "Conflict", "a DELETE with a stale precondition is a 409", (st, obj))
st, _, obj = status_of("DELETE", "/api/v1/namespaces/default/configmaps/x", json.dumps(
    {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "not-the-uid"}}))
t.ok(st == 409 and obj.get("reason") == "Conflict", "a DELETE with a wrong uid precondition is a 409", (st, obj))
k.ok("get cm x", out="x")

# ---- Unauthorized, Forbidden
st, _, obj = status_of("GET", "/api/v1/namespaces", client_cert=False)
t.ok(st == 401 and obj.get("reason") == "Unauthorized" and obj.get("code") == 401,
     "no credentials: 401 Unauthorized Status", (st, obj))
bad = token_kubeconfig(srv, os.path.join(srv.tmp, "bad.kubeconfig"), "k3c-nope.0000")
k.fails(["--kubeconfig", bad, "get", "pods"], err="error: You must be logged in to the server (Unauthorized)")
k.ok("create serviceaccount robot", out="serviceaccount/robot created")
tok = k.run("create token robot").stdout.strip()
rob = token_kubeconfig(srv, os.path.join(srv.tmp, "robot.kubeconfig"), tok)
k.fails(["--kubeconfig", rob, "get", "pods"],
        err='Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:robot" '
            'cannot list resource "pods" in API group "" in the namespace "default"')
k.fails(["--kubeconfig", rob, "delete", "ns", "kube-system"],
        err='Error from server (Forbidden): namespaces "kube-system" is forbidden: User '
            '"system:serviceaccount:default:robot" cannot delete resource "namespaces" in API group "" '
            'in the namespace "kube-system"')
r = k.run(["--kubeconfig", rob, "auth", "can-i", "list", "pods"])
t.ok(r.returncode == 1 and r.stdout.strip() == "no", "auth can-i answers no for a service account",
     k.diag("auth can-i list pods", r))
k.ok(["--kubeconfig", rob, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
     check=lambda o: o == "system:serviceaccount:default:robot")
k.ok(["--kubeconfig", rob, "version"], out="Server Version: v1.32",
     name="version needs no permission")

# ---- BadRequest, media types, methods
st, _, obj = status_of("POST", "/api/v1/namespaces/default/configmaps", "{not json")
t.ok(st == 400 and obj.get("reason") == "BadRequest", "a malformed JSON body is a 400", (st, obj))
st, _, obj = status_of("POST", "/api/v1/namespaces/default/configmaps", "a: b", ctype="text/plain")
t.ok(st == 415 and obj.get("reason") == "UnsupportedMediaType", "an unsupported content type is a 415",
     (st, obj))
st, _, obj = status_of("POST", "/api/v1/namespaces/default/configmaps", json.dumps(
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrongkind"}}))
t.ok(st == 400 and obj.get("reason") == "BadRequest", "a body of the wrong kind is a 400", (st, obj))
st, _, obj = status_of("POST", "/api/v1/namespaces/other/configmaps", json.dumps(
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}))
t.ok(st == 400 and obj.get("reason") == "BadRequest" and "namespace" in obj.get("message", ""),
     "a body whose namespace differs from the path is a 400", (st, obj))
st, _, obj = status_of("PUT", "/api/v1/namespaces/default/configmaps/x", json.dumps(
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}}))
t.ok(st == 400 and obj.get("reason") == "BadRequest", "a PUT whose name differs from the path is a 400",
     (st, obj))
st, _, obj = status_of("PATCH", "/api/v1/namespaces/default/configmaps/x", "{}", ctype="application/json")
t.ok(st == 415 and obj.get("reason") == "UnsupportedMediaType", "PATCH with plain JSON is a 415", (st, obj))
st, _, obj = status_of("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(")
t.ok(st == 400 and obj.get("reason") == "BadRequest", "a malformed label selector is a 400", (st, obj))
k.fails(["get", "pods", "-l", "a in (b"], err="unable to parse requirement")
st, _, obj = status_of("GET", "/api/v1/namespaces/default/pods?watch=1&resourceVersion=abc")
# upstream: the storage's ParseResourceVersion error, answered as a plain 500
t.ok(st == 500 and obj.get("message") == 'resourceVersion: Invalid value: "abc": strconv.ParseUint: '
     'parsing "abc": invalid syntax', "a watch from a non-numeric resourceVersion fails as upstream",
     (st, obj))

k.finish()
