"""kubectl create/apply/replace/delete -f on multi-document YAML, label, annotate,
the three patch types, edit with a scripted EDITOR, --dry-run=server, an invalid
manifest and a stale update, against a real `k3c server --disable-agent`."""
import json
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)


def jget(args):
    r = k.run(args)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {}


MULTI = """apiVersion: v1
kind: ConfigMap
metadata:
  name: m1
  labels: {app: x}
data:
  a: "1"
---
apiVersion: v1
kind: Service
metadata:
  name: m-svc
spec:
  selector: {app: x}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: m-dep
spec:
  replicas: 2
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: v1
kind: Pod
metadata:
  name: m-pod
  labels: {app: x}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
"""
multi = k.write("multi.yaml", MULTI)
k.ok(["create", "-f", multi], out=["configmap/m1 created", "service/m-svc created",
                                   "deployment.apps/m-dep created", "pod/m-pod created"])
k.fails(["create", "-f", multi], err=[
    'Error from server (AlreadyExists): error when creating "%s": configmaps "m1" already exists' % multi,
    'Error from server (AlreadyExists): error when creating "%s": pods "m-pod" already exists' % multi])
# apply on objects made by create: kubectl warns about the missing annotation, then patches
k.ok(["apply", "-f", multi], out=["configmap/m1 configured", "service/m-svc configured",
                                  "deployment.apps/m-dep configured", "pod/m-pod configured"])
k.ok(["apply", "-f", multi], out=["configmap/m1 unchanged", "service/m-svc unchanged",
                                  "deployment.apps/m-dep unchanged", "pod/m-pod unchanged"])
changed = k.write("multi2.yaml", MULTI.replace('a: "1"', 'a: "2"\n  b: "3"')
                  .replace("replicas: 2", "replicas: 3"))
k.ok(["apply", "-f", changed], out=["configmap/m1 configured", "service/m-svc unchanged",
                                    "deployment.apps/m-dep configured", "pod/m-pod unchanged"])
cm = jget("get cm m1 -o json")
t.ok(cm.get("data") == {"a": "2", "b": "3"}, "apply changed the configmap data", cm)
t.ok("kubectl.kubernetes.io/last-applied-configuration" in cm.get("metadata", {}).get("annotations", {}),
     "apply recorded last-applied-configuration", cm)
k.ok("get deploy m-dep -o jsonpath={.spec.replicas}", out="3")
# apply removing a key drops it (three-way merge with last-applied)
k.ok(["apply", "-f", multi], out="configmap/m1 configured")
cm = jget("get cm m1 -o json")
t.ok(cm.get("data") == {"a": "1"}, "apply dropped the key removed from the manifest", cm)
# replace -f
# The pod's manifest lacks what admission added at create (the kube-api-access volume,
# serviceAccountName), so replacing it changes its spec: upstream refuses that too.
r = k.run(["replace", "-f", changed])
t.ok(r.returncode == 1 and all(x in r.stdout for x in ["configmap/m1 replaced",
                                                        "service/m-svc replaced",
                                                        "deployment.apps/m-dep replaced"]) and
     'The Pod "m-pod" is invalid: spec: Forbidden: pod updates may not change fields' in r.stderr,
     "kubectl replace -f: the others replaced, the pod refused as upstream refuses it",
     r.stdout + r.stderr)
k.ok("get cm m1 -o jsonpath={.data.b}", out="3")
k.ok(["get", "-f", multi], check=lambda o: "m1" in o and "m-svc" in o and "m-dep" in o and "m-pod" in o)
k.ok(["delete", "-f", multi], out=['configmap "m1" deleted', 'service "m-svc" deleted',
                                   'deployment.apps "m-dep" deleted', 'pod "m-pod" deleted'])
k.fails(["get", "-f", multi], err='Error from server (NotFound): configmaps "m1" not found')
k.fails(["delete", "-f", multi], err='Error from server (NotFound): error when deleting "%s": '
        'configmaps "m1" not found' % multi)
# apply creating from nothing
k.ok(["apply", "-f", multi], out=["configmap/m1 created", "service/m-svc created",
                                  "deployment.apps/m-dep created", "pod/m-pod created"])
# server-side apply
ssa = k.write("ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v\n")
k.ok(["apply", "--server-side", "-f", ssa], out="configmap/ssa serverside-applied")
k.ok("get cm ssa -o jsonpath={.data.k}", out="v")

# ---- label, annotate
k.ok("label cm m1 tier=db", out="configmap/m1 labeled")
k.ok("get cm -l app=x,tier=db -o name", check=lambda o: o.split() == ["configmap/m1"])
k.fails("label cm m1 tier=web", err="'tier' already has a value (db), and --overwrite is false")
k.ok("label cm m1 tier=web --overwrite", out="configmap/m1 labeled")
k.ok("label cm m1 tier-", out="configmap/m1 unlabeled")
k.ok("get cm m1 --show-labels", check=lambda o: header(o)[-1] == "LABELS" and "app=x" in o and "tier" not in o)
k.ok("annotate cm m1 owner=me", out="configmap/m1 annotated")
k.ok("get cm m1 -o jsonpath={.metadata.annotations.owner}", out="me")
k.ok("annotate pod m-pod note=hello", out="pod/m-pod annotated")
k.ok("annotate cm m1 owner-", out="configmap/m1 annotated")
k.ok("get cm m1 -o json", check=lambda o: "owner" not in json.loads(o)["metadata"].get("annotations", {}))

# ---- patch: strategic (default), merge, json
k.ok(["patch", "deploy", "m-dep", "-p",
      '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}'],
     out="deployment.apps/m-dep patched")
d = jget("get deploy m-dep -o json")
cs = d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
t.ok(len(cs) == 1 and cs[0].get("image") == "nginx:1.28" and cs[0].get("name") == "web",
     "strategic merge patch merged the container list by name", cs)
k.ok(["patch", "deploy", "m-dep", "-p",
      '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1.36"}]}}}}'],
     out="deployment.apps/m-dep patched")
k.ok("get deploy m-dep -o jsonpath={.spec.template.spec.containers[*].name}",
     check=lambda o: sorted(o.split()) == ["side", "web"])
k.ok(["patch", "cm", "m1", "--type=merge", "-p", '{"data":{"a":null,"b":"3","z":"26"}}'],
     out="configmap/m1 patched")
k.ok("get cm m1 -o json", check=lambda o: json.loads(o)["data"] == {"b": "3", "z": "26"})
k.ok(["patch", "cm", "m1", "--type=json", "-p",
      '[{"op":"add","path":"/data/j","value":"x"},{"op":"remove","path":"/data/b"}]'],
     out="configmap/m1 patched")
k.ok("get cm m1 -o json", check=lambda o: json.loads(o)["data"] == {"j": "x", "z": "26"})
k.ok(["patch", "cm", "m1", "--type=merge", "-p", '{"data":{"j":"x"}}'],
     out="configmap/m1 patched (no change)")
k.fails(["patch", "cm", "m1", "--type=json", "-p", '[{"op":"test","path":"/data/j","value":"y"}]'],
        err="The request is invalid: the server rejected our request due to an error in our "
            "request: testing value /data/j failed")
k.fails(["patch", "cm", "m1", "--type=json", "-p", '[{"op":"remove","path":"/data/nope"}]'],
        err="The request is invalid: the server rejected our request due to an error in our "
            "request: error in remove for path: '/data/nope'")
k.ok(["patch", "pod", "m-pod", "-p", '{"spec":{"containers":[{"name":"c","image":"busybox:1.37"}]}}'],
     out="pod/m-pod patched")
k.fails(["patch", "pod", "m-pod", "-p", '{"spec":{"restartPolicy":"Never"}}'],
        err=['The Pod "m-pod" is invalid: spec: Forbidden: pod updates may not change fields other than'])
# --dry-run=server on patch leaves the object alone (kubectl 1.32 prints no dry-run suffix here)
k.ok(["patch", "cm", "m1", "--type=merge", "-p", '{"data":{"dry":"1"}}', "--dry-run=server"],
     out="configmap/m1 patched")
k.ok("get cm m1 -o json", check=lambda o: "dry" not in json.loads(o)["data"])

# empty metadata maps are omitted as upstream's omitempty does, so this is no change
k.ok("create configmap plain --from-literal=x=1", out="configmap/plain created")
k.ok(["patch", "cm", "plain", "--type=merge", "-p", '{"metadata":{"labels":{},"annotations":{}}}'],
     out="configmap/plain patched (no change)")
k.ok("get cm plain -o json", check=lambda o: "labels" not in o and "annotations" not in o)

# ---- diff (a server-side dry-run apply)
plain = k.write("plain.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  x: \"2\"\n")
r = k.run(["diff", "-f", plain])
t.ok(r.returncode == 1 and '-  x: "1"' in r.stdout and '+  x: "2"' in r.stdout
     and "annotations" not in r.stdout and len([l for l in r.stdout.splitlines() if l[:1] in "+-"
                                                and l[:3] not in ("+++", "---")]) == 2,
     "kubectl diff shows just the changed value", k.diag("diff -f plain.yaml", r))
k.ok("get cm plain -o jsonpath={.data.x}", out="1")
k.ok(["apply", "-f", plain], out="configmap/plain configured")
r = k.run(["diff", "-f", plain])
t.ok(r.returncode == 0 and r.stdout == "", "kubectl diff after apply shows nothing", k.diag("diff", r))

# ---- edit with a scripted editor
editor = k.write("editor.sh", "#!/bin/sh\nsed -i 's/z: \"26\"/z: \"edited\"/' \"$1\"\n")
os.chmod(editor, stat.S_IRWXU)
k.ok("edit cm m1", env={"KUBE_EDITOR": editor, "EDITOR": editor}, out="configmap/m1 edited")
k.ok("get cm m1 -o jsonpath={.data.z}", out="edited")
noop = k.write("noop.sh", "#!/bin/sh\ntrue\n")
os.chmod(noop, stat.S_IRWXU)
r = k.run("edit cm m1", env={"KUBE_EDITOR": noop, "EDITOR": noop})
t.ok(r.returncode == 0 and "Edit cancelled, no changes made." in r.stdout + r.stderr,
     "edit without changes says so", k.diag("edit cm m1", r))
bad = k.write("bad-editor.sh", "#!/bin/sh\nsed -i 's/^  replicas: .*/  replicas: many/' \"$1\"\n")
os.chmod(bad, stat.S_IRWXU)
r = k.run("edit deploy m-dep", env={"KUBE_EDITOR": bad, "EDITOR": bad})
t.ok(r.returncode != 0 and "replicas" in r.stdout + r.stderr, "edit with an invalid value is refused",
     k.diag("edit deploy m-dep", r))

# ---- dry run on create/apply
dry = k.write("dry.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  a: b\n")
k.ok(["create", "-f", dry, "--dry-run=server"], out="configmap/dry created (server dry run)")
k.ok(["apply", "-f", dry, "--dry-run=server"], out="configmap/dry created (server dry run)")
k.fails("get cm dry", err='Error from server (NotFound): configmaps "dry" not found')
k.ok(["delete", "-f", multi, "--dry-run=server"], out='configmap "m1" deleted (server dry run)')
k.ok("get cm m1", out="m1")

# ---- invalid manifests: the field is named
inv = k.write("invalid.yaml", """apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  containers:
  - name: c
""")
k.fails(["create", "-f", inv], err=['The Pod "Bad_Name" is invalid', "metadata.name: Invalid value: "
                                    '"Bad_Name"', "spec.containers[0].image: Required value"])
unknown = k.write("unknown.yaml", """apiVersion: v1
kind: ConfigMap
metadata:
  name: u1
datax:
  a: b
""")
k.fails(["create", "-f", unknown], err='unknown field "datax"')
k.fails(["apply", "-f", unknown], err='unknown field "datax"')
badtype = k.write("badtype.yaml", """apiVersion: apps/v1
kind: Deployment
metadata:
  name: bt
spec:
  replicas: "three"
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x}]
""")
k.fails(["create", "-f", badtype], err="spec.replicas")
k.fails(["create", "service", "nodeport", "badport", "--tcp=80:8080", "--node-port=99"],
        err="spec.ports[0].nodePort: Invalid value: 99: provided port is not in the valid range. "
            "The range of valid ports is 30000-32767")

# ---- a stale update is rejected with 409
cm = jget("get cm m1 -o json")
k.ok(["label", "cm", "m1", "bump=1"], out="configmap/m1 labeled")
cm["data"]["stale"] = "yes"
stale = k.write("stale.json", json.dumps(cm))
k.fails(["replace", "-f", stale],
        err='Error from server (Conflict): error when replacing "%s": Operation cannot be fulfilled '
            'on configmaps "m1": the object has been modified; please apply your changes to the '
            'latest version and try again' % stale)
st, _, body = srv.request("PUT", "/api/v1/namespaces/default/configmaps/m1", body=json.dumps(cm),
                          headers={"Content-Type": "application/json"})
t.ok(st == 409 and b'"reason":"Conflict"' in body.replace(b" ", b""), "stale PUT answers 409 Conflict",
     (st, body))
cm["metadata"].pop("resourceVersion", None)
k.write("stale.json", json.dumps(cm))
k.ok(["replace", "-f", stale], out="configmap/m1 replaced",
     name="replace without resourceVersion is unconditional")
k.ok("get cm m1 -o jsonpath={.data.stale}", out="yes")

k.finish()
