"""Server-side apply with real kubectl: create and re-apply, field managers in
managedFields, a conflict with another manager (and --force-conflicts), a
field dropped from the applied configuration is removed; list items removed
from associative lists (Service ports, containers, container ports, env)
leave a valid object, a changed key replaces the item, items another manager
owns stay, kubectl's client-side to server-side migration, and the exact
managedFields upstream writes for a Deployment."""
import json
import time
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
"""


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    env = dict(os.environ, HOME=srv.tmp)

    def k(*args, stdin=None):
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120, env=env)

    def managers():
        r = k("get", "deploy", "web", "-o", "json", "--show-managed-fields")
        obj = json.loads(r.stdout) if r.returncode == 0 else {}
        return {(e["manager"], e["operation"]): e for e in obj.get("metadata", {}).get("managedFields", [])}, obj

    r = k("apply", "--server-side", "-f", "-", stdin=DEPLOY)
    t.ok(r.returncode == 0 and "deployment.apps/web serverside-applied" in r.stdout, "apply --server-side creates", r.stdout + r.stderr)
    m, obj = managers()
    entry = m.get(("kubectl", "Apply"))
    t.ok(entry is not None and entry["fieldsType"] == "FieldsV1"
         and "f:replicas" in entry["fieldsV1"]["f:spec"]
         and 'k:{"name":"nginx"}' in entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"],
         "managedFields records the applier's fields (keyed list items included)", json.dumps(list(m)))
    # the Deployment controller writes status after the create: wait until
    # the object is settled, then the re-apply must not write
    rv = obj.get("metadata", {}).get("resourceVersion")
    settle = time.time() + 20
    while time.time() < settle:
        time.sleep(0.5)
        _, now = managers()
        cur = now.get("metadata", {}).get("resourceVersion")
        if cur == rv:
            break
        rv = cur
    r = k("apply", "--server-side", "-f", "-", "-o", "json", stdin=DEPLOY)
    applied = json.loads(r.stdout) if r.returncode == 0 else {}
    t.ok(r.returncode == 0 and applied.get("metadata", {}).get("resourceVersion") == rv,
         "re-applying the same configuration writes nothing", r.stdout[-300:] + r.stderr)

    r = k("scale", "deploy", "web", "--replicas=5")
    t.ok(r.returncode == 0, "kubectl scale", r.stderr)
    r = k("apply", "--server-side", "-f", "-", stdin=DEPLOY.replace("replicas: 2", "replicas: 3"))
    t.ok(r.returncode != 0 and "Apply failed with 1 conflict" in r.stderr and ".spec.replicas" in r.stderr,
         "a field changed by another manager is a conflict", r.stdout + r.stderr)
    r = k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")
    t.ok(r.stdout == "5", "the conflicting apply changed nothing", r.stdout)
    r = k("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=DEPLOY.replace("replicas: 2", "replicas: 3"))
    r2 = k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")
    t.ok(r.returncode == 0 and r2.stdout == "3", "--force-conflicts takes the field", r.stdout + r.stderr + r2.stdout)

    r = k("apply", "--server-side", "--field-manager=other", "-f", "-",
          stdin=DEPLOY.replace("replicas: 2", "replicas: 3").replace("image: nginx:1.25", "image: nginx:1.26"))
    t.ok(r.returncode != 0 and 'conflict with "kubectl"' in r.stderr and 'containers[name="nginx"].image' in r.stderr,
         "a second applier changing the image conflicts with the first, naming the list item", r.stderr)

    r = k("apply", "--server-side", "-f", "-", stdin=DEPLOY.replace("replicas: 2", "replicas: 3").replace(", tier: front", ""))
    r2 = k("get", "deploy", "web", "-o", "jsonpath={.metadata.labels}")
    t.ok(r.returncode == 0 and "tier" not in r2.stdout and '"app":"web"' in r2.stdout,
         "a label dropped from the applied configuration is removed", r.stdout + r.stderr + r2.stdout)

    status, _, body = srv.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                                  body=b'{"apiVersion":"apps/v1","kind":"Deployment"}',
                                  headers={"Content-Type": "application/apply-patch+yaml"})
    t.ok(status == 422 and b"fieldManager: Required value" in body, "apply without a fieldManager is refused", body)

    r = k("create", "configmap", "cm1", "--from-literal=a=b")
    r2 = k("get", "cm", "cm1", "-o", "json", "--show-managed-fields")
    mf = json.loads(r2.stdout)["metadata"].get("managedFields", []) if r2.returncode == 0 else []
    t.ok(r.returncode == 0 and any(e["manager"] == "kubectl-create" and e["operation"] == "Update" for e in mf),
         "a create records an Update entry for its field manager", r2.stdout + r2.stderr)

    lists(t, k, srv)
    custom(t, k)

    t.ok(srv.stop_clean(), "server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


SVC = """
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  selector: {app: web}
  ports:
%s
"""

DEP2 = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d2}
spec:
  selector: {matchLabels: {app: d2}}
  template:
    metadata: {labels: {app: d2}}
    spec:
      containers:
%s
"""


def container(name, ports=(), env=()):
    s = "      - name: %s\n        image: busybox:1.36\n" % name
    if ports:
        s += "        ports:\n" + "".join("        - containerPort: %d\n" % p for p in ports)
    if env:
        s += "        env:\n" + "".join("        - {name: %s, value: v%s}\n" % (e, e) for e in env)
    return s


def port(name, num, proto=None):
    s = "  - {name: %s, port: %d" % (name, num)
    if proto:
        s += ", protocol: %s" % proto
    return s + "}"


def lists(t, k, srv):
    def get(kind, name):
        r = k("get", kind, name, "-o", "json", "--show-managed-fields")
        return json.loads(r.stdout) if r.returncode == 0 else {}

    def apply(text, *extra):
        return k("apply", "--server-side", *extra, "-f", "-", stdin=text)

    # Service ports a,b -> a
    r = apply(SVC % "\n".join([port("a", 80), port("b", 81)]))
    r2 = apply(SVC % port("a", 80))
    ports = get("svc", "svc").get("spec", {}).get("ports", [])
    t.ok(r.returncode == 0 and r2.returncode == 0 and [(p.get("name"), p.get("port")) for p in ports] == [("a", 80)]
         and all(p.get("protocol") == "TCP" and p.get("targetPort") == 80 for p in ports),
         "removing a Service port removes the item (no port 0, no nameless item)", r.stderr + r2.stderr + json.dumps(ports))
    # changing the protocol (a key field) replaces the item
    r = apply(SVC % port("a", 80, "UDP"))
    ports = get("svc", "svc").get("spec", {}).get("ports", [])
    t.ok(r.returncode == 0 and [(p.get("port"), p.get("protocol")) for p in ports] == [(80, "UDP")],
         "changing a port's protocol replaces the item", r.stderr + json.dumps(ports))
    r = apply(SVC % port("a", 8080, "UDP"))
    ports = get("svc", "svc").get("spec", {}).get("ports", [])
    t.ok(r.returncode == 0 and [(p.get("port"), p.get("protocol")) for p in ports] == [(8080, "UDP")],
         "changing a port number replaces the item", r.stderr + json.dumps(ports))

    # Deployment: remove a container, change a containerPort, env A,B,C -> A,C
    r = apply(DEP2 % (container("app", ports=[80], env="ABC") + container("side")))
    r2 = apply(DEP2 % container("app", ports=[80], env="ABC"))
    obj = get("deploy", "d2")
    cs = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    t.ok(r.returncode == 0 and r2.returncode == 0 and [c.get("name") for c in cs] == ["app"],
         "removing a container from the applied configuration removes it", r.stderr + r2.stderr + json.dumps(cs))
    r = apply(DEP2 % container("app", ports=[8080], env="ABC"))
    cs = get("deploy", "d2").get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    t.ok(r.returncode == 0 and [p.get("containerPort") for p in cs[0].get("ports", [])] == [8080]
         and all(p.get("protocol") == "TCP" for p in cs[0]["ports"]),
         "changing a containerPort replaces the port item", r.stderr + json.dumps(cs))
    r = apply(DEP2 % container("app", ports=[8080], env="AC"))
    cs = get("deploy", "d2").get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    env = cs[0].get("env", []) if cs else []
    t.ok(r.returncode == 0 and [(e.get("name"), e.get("value")) for e in env] == [("A", "vA"), ("C", "vC")],
         "env A,B,C -> A,C stores A and C (no nameless entry)", r.stderr + json.dumps(env))

    # items another manager owns stay
    r = apply(DEP2 % container("app", env="D"), "--field-manager=other")
    r2 = apply(DEP2 % (container("app", ports=[8080], env="A")))
    cs = get("deploy", "d2").get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    env = [e.get("name") for e in cs[0].get("env", [])] if cs else []
    t.ok(r.returncode == 0 and r2.returncode == 0 and env == ["A", "D"],
         "an env item another manager applied stays when kubectl drops C", r.stderr + r2.stderr + json.dumps(env))
    r = apply(DEP2 % (container("app", env="D") + container("extra")), "--field-manager=other")
    r2 = apply(DEP2 % (container("app", ports=[8080], env="A")))
    cs = get("deploy", "d2").get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    t.ok(r.returncode == 0 and r2.returncode == 0 and [c["name"] for c in cs] == ["app", "extra"],
         "a container only another manager applied stays", r.stderr + r2.stderr + json.dumps([c["name"] for c in cs]))
    r = apply(DEP2 % container("app", env="D"), "--field-manager=other")
    cs = get("deploy", "d2").get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    t.ok(r.returncode == 0 and [c["name"] for c in cs] == ["app"],
         "the other manager dropping its container removes it", r.stderr + json.dumps([c["name"] for c in cs]))

    # client-side apply, then server-side apply (kubectl migrates the
    # kubectl-client-side-apply fields): a key dropped from the manifest goes
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mig}\ndata: {a: '1', b: '2'}\n"
    r = k("apply", "-f", "-", stdin=cm)
    r2 = apply(cm.replace(", b: '2'", ""))
    obj = get("cm", "mig")
    mf = obj.get("metadata", {}).get("managedFields", [])
    t.ok(r.returncode == 0 and r2.returncode == 0 and obj.get("data") == {"a": "1"},
         "kubectl apply then apply --server-side: the dropped key is removed", r.stderr + r2.stderr + json.dumps(obj))
    t.ok(not any(e["manager"] == "kubectl-client-side-apply" for e in mf)
         and any(e["manager"] == "kubectl" and e["operation"] == "Apply" for e in mf),
         "the client-side apply fields moved to the server-side applier", json.dumps(mf))

    # clearing managedFields with [{}]
    r = k("patch", "cm", "mig", "--type=merge", "-p", '{"metadata":{"managedFields":[{}]}}')
    obj = get("cm", "mig")
    t.ok(r.returncode == 0 and "managedFields" not in obj.get("metadata", {}),
         "a patch with managedFields [{}] clears them", r.stderr + json.dumps(obj.get("metadata")))

    # managedFields exactly as upstream writes them
    dep = DEP2.replace("d2", "exact") % container("app", ports=[80], env="A")
    r = apply(dep)
    status, _, body = srv.request("GET", "/apis/apps/v1/namespaces/default/deployments/exact")
    obj = json.loads(body) if status == 200 else {}
    entry = [e for e in obj.get("metadata", {}).get("managedFields", []) if e["manager"] == "kubectl"]
    want = {"f:spec": {"f:selector": {}, "f:template": {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"app"}': {
            ".": {}, "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
            "f:image": {}, "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}}}
    got = entry[0] if entry else {}
    t.ok(list(got.keys()) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
         and got.get("operation") == "Apply" and got.get("apiVersion") == "apps/v1" and got.get("fieldsType") == "FieldsV1",
         "the Apply entry has upstream's fields in upstream's order", json.dumps(got))
    t.ok(json.dumps(got.get("fieldsV1")) == json.dumps(want),
         "fieldsV1 of a Deployment apply is upstream's, key for key and in order",
         json.dumps(got.get("fieldsV1")) + "\n want " + json.dumps(want))

    # and the Update entry of `kubectl create deployment`, as upstream writes it
    r = k("create", "deployment", "made", "--image=nginx", "--port=80")
    status, _, body = srv.request("GET", "/apis/apps/v1/namespaces/default/deployments/made")
    obj = json.loads(body) if status == 200 else {}
    entry = [e for e in obj.get("metadata", {}).get("managedFields", []) if e["manager"] == "kubectl-create"]
    labels = {"f:labels": {".": {}, "f:app": {}}}
    want = {"f:metadata": labels, "f:spec": {
        "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
        "f:template": {"f:metadata": labels, "f:spec": {
            "f:containers": {'k:{"name":"nginx"}': {
                ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:protocol": {}}},
                "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
            "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
            "f:terminationGracePeriodSeconds": {}}}}}
    got = entry[0] if entry else {}
    t.ok(r.returncode == 0 and got.get("operation") == "Update"
         and json.dumps(got.get("fieldsV1")) == json.dumps(want),
         "the kubectl-create Update entry of a Deployment is upstream's (\".\" for new maps and items only)",
         r.stderr + json.dumps(got.get("fieldsV1")) + "\n want " + json.dumps(want))


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.ssa.example.com}
spec:
  group: ssa.example.com
  scope: Namespaced
  names: {plural: pools, singular: pool, kind: Pool}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              members:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    weight: {type: integer}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
"""

POOL = """
apiVersion: ssa.example.com/v1
kind: Pool
metadata: {name: p}
spec:
  members:
%s
  tags: [%s]
"""


def custom(t, k):
    """Custom resources are typed by their openAPIV3Schema."""
    r = k("apply", "-f", "-", stdin=CRD)
    r2 = k("wait", "--for=condition=established", "--timeout=20s", "crd/pools.ssa.example.com")
    t.ok(r.returncode == 0 and r2.returncode == 0, "a CRD with list-map and set lists", r.stderr + r2.stderr)
    r = k("apply", "--server-side", "-f", "-", stdin=POOL % ("  - {name: a, weight: 1}\n  - {name: b, weight: 2}", "tx, ty"))
    r2 = k("apply", "--server-side", "-f", "-", stdin=POOL % ("  - {name: b, weight: 3}", "ty"))
    g = k("get", "pool", "p", "-o", "json", "--show-managed-fields")
    obj = json.loads(g.stdout) if g.returncode == 0 else {}
    spec = obj.get("spec", {})
    t.ok(r.returncode == 0 and r2.returncode == 0 and spec.get("members") == [{"name": "b", "weight": 3}]
         and spec.get("tags") == ["ty"],
         "a custom resource's list-map item and set member dropped from the applied configuration go",
         r.stderr + r2.stderr + json.dumps(spec))
    entry = [e for e in obj.get("metadata", {}).get("managedFields", []) if e["manager"] == "kubectl"]
    t.ok(entry and entry[0]["fieldsV1"] == {"f:spec": {"f:members": {'k:{"name":"b"}': {".": {}, "f:name": {}, "f:weight": {}}},
                                                       "f:tags": {'v:"ty"': {}}}},
         "the custom resource's fieldsV1 follows its schema", json.dumps(entry))


if __name__ == "__main__":
    main()
