"""CustomResourceDefinitions served in several versions against a real `k3c server
--disable-agent` with real kubectl and the python client: conversion None (apiVersion
rewritten to the version asked for, on create, get, list and watch, both ways), the
deprecation Warning, the scale subresource's paths (specReplicasPath, statusReplicasPath,
labelSelectorPath), list-type set and map uniqueness, <none> for unset printer columns,
and the status workload kinds start with."""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, rows  # noqa: E402

try:
    from kubernetes import client, config, watch
except ImportError as e:  # pragma: no cover
    print("Bail out! python3-kubernetes is not installed (%s)" % e)
    sys.exit(1)

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)
api_client = config.new_client_from_config(config_file=srv.kubeconfig)
custom = client.CustomObjectsApi(api_client)

SCHEMA = """        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
                color: {type: string}
                tags:
                  type: array
                  x-kubernetes-list-type: set
                  items: {type: string}
                ports:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [name]
                  items:
                    type: object
                    properties:
                      name: {type: string}
                      port: {type: integer}
            status:
              type: object
              properties:
                count: {type: integer}
                sel: {type: string}
"""

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1alpha1
    served: true
    storage: false
    deprecated: true
    schema:
%s    subresources:
      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.count}
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    deprecationWarning: "example.com/v1beta1 Widget is going away, move to v1"
    schema:
%s  - name: v1
    served: true
    storage: true
    schema:
%s    selectableFields:
    - {jsonPath: .spec.color}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Size, type: integer, jsonPath: .spec.size}
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.size
        statusReplicasPath: .status.count
        labelSelectorPath: .status.sel
""" % (SCHEMA, SCHEMA, SCHEMA)

k.ok(["apply", "-f", k.write("crd.yaml", CRD)], name="create a CRD with three versions")
k.wait_for("get widgets", lambda r: r.returncode == 0)

# ---- conversion None ----
w1 = k.write("w1.yaml", """apiVersion: example.com/v1
kind: Widget
metadata:
  name: one
spec:
  size: 2
""")
k.ok(["create", "-f", w1], name="create a widget through v1")
r = k.ok("get widgets.v1alpha1.example.com one -o json", name="read it through v1alpha1")
obj = json.loads(r.stdout or "{}")
t.ok(obj.get("apiVersion") == "example.com/v1alpha1" and obj.get("spec", {}).get("size") == 2,
     "apiVersion rewritten to the version asked for", obj.get("apiVersion"))
t.ok("Warning: example.com/v1alpha1 Widget is deprecated; use example.com/v1 Widget" in r.stderr,
     "deprecated version warns with upstream's default text", r.stderr)
st, h, out = srv.request("POST", "/apis/example.com/v1beta1/namespaces/default/widgets",
                         body=json.dumps({"apiVersion": "example.com/v1beta1", "kind": "Widget",
                                          "metadata": {"name": "two"},
                                          "spec": {"color": "red"}}).encode(),
                         headers={"Content-Type": "application/json"})
body = json.loads(out)
t.ok(st == 201 and body["apiVersion"] == "example.com/v1beta1" and
     h.get("warning") == '299 - "example.com/v1beta1 Widget is going away, move to v1"',
     "create through v1beta1 answers v1beta1 with its deprecationWarning", (st, h.get("warning"), body))
got = custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "two")
t.ok(got["apiVersion"] == "example.com/v1" and got["spec"] == {"color": "red"},
     "read back through v1 as v1", got)
lst = custom.list_namespaced_custom_object("example.com", "v1alpha1", "default", "widgets")
t.ok(sorted(i["metadata"]["name"] for i in lst["items"]) == ["one", "two"] and
     all(i["apiVersion"] == "example.com/v1alpha1" for i in lst["items"]),
     "list through v1alpha1: every item as v1alpha1", [i["apiVersion"] for i in lst["items"]])
events = []


def watcher():
    w = watch.Watch()
    for ev in w.stream(custom.list_namespaced_custom_object, "example.com", "v1alpha1", "default",
                       "widgets", resource_version=lst["metadata"]["resourceVersion"],
                       timeout_seconds=20):
        events.append((ev["type"], ev["object"]["apiVersion"], ev["object"]["metadata"]["name"]))
        if len(events) >= 1:
            w.stop()


th = threading.Thread(target=watcher)
th.start()
import time  # noqa: E402
time.sleep(1)
custom.patch_namespaced_custom_object("example.com", "v1", "default", "widgets", "one",
                                      {"spec": {"color": "blue"}})
th.join(25)
t.ok(events[:1] == [("MODIFIED", "example.com/v1alpha1", "one")],
     "watch through v1alpha1 sees v1alpha1 objects", events)

# ---- printer columns ----
# upstream's CRD table convertor answers a null cell for a column that finds
# nothing, which kubectl prints as an empty cell
st, _, out = srv.request("GET", "/apis/example.com/v1/namespaces/default/widgets",
                         headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
tbl = json.loads(out)
cells = {row["cells"][0]: row["cells"][1:3] for row in tbl.get("rows", [])}
t.ok(cells.get("two") == ["red", None] and cells.get("one") == ["blue", 2],
     "unset printer columns are null cells", cells)
r = k.ok("get widgets", name="kubectl get widgets")
table = {row[0]: row for row in rows(r.stdout)}
t.ok(table.get("one", [None] * 4)[1:3] == ["blue", "2"] and table.get("two") == ["two", "red"],
     "kubectl prints them empty, as against upstream", r.stdout)

# ---- selectableFields ----
k.ok("get widgets.v1.example.com --field-selector spec.color=red -o name",
     check=lambda out: out.strip() == "widget.example.com/two", name="select on a selectableField")
k.fails("get widgets.v1.example.com --field-selector spec.size=2",
        name="other fields are refused", err="field label not supported: spec.size")
k.fails("get widgets.v1alpha1.example.com --field-selector spec.color=red",
        name="a version without selectableFields refuses them",
        err='"spec.color" is not a known field selector: only "metadata.name", "metadata.namespace"')

# ---- scale ----
st, _, out = srv.request("GET", "/apis/example.com/v1/namespaces/default/widgets/one/scale")
sc = json.loads(out)
t.ok(st == 200 and sc["spec"].get("replicas") == 2 and sc["status"]["replicas"] == 0 and
     "selector" not in sc["status"], "scale reads specReplicasPath", sc)
st, _, out = srv.request("PATCH", "/apis/example.com/v1/namespaces/default/widgets/one/status",
                         body=json.dumps({"status": {"count": 2, "sel": "app=w"}}).encode(),
                         headers={"Content-Type": "application/merge-patch+json"})
t.ok(st == 200, "status update", out)
k.ok("scale widgets one --replicas=5", name="kubectl scale a custom resource")
got = custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "one")
t.ok(got["spec"]["size"] == 5, "scale writes specReplicasPath", got["spec"])
st, _, out = srv.request("GET", "/apis/example.com/v1/namespaces/default/widgets/one/scale")
sc = json.loads(out)
t.ok(sc["status"] == {"replicas": 2, "selector": "app=w"} and sc["spec"] == {"replicas": 5},
     "status.selector from labelSelectorPath", sc)

# ---- list types ----
bad = k.write("bad.yaml", """apiVersion: example.com/v1
kind: Widget
metadata:
  name: dup
spec:
  tags: [a, b, a, a]
  ports:
  - {name: http, port: 80}
  - {name: http, port: 81}
""")
k.fails(["create", "-f", bad], name="duplicates in list-type set and map are refused",
        err=['spec.tags[2]: Duplicate value: "a"',
             'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"http"}'])
k.ok(["create", "-f", k.write("ok.yaml", """apiVersion: example.com/v1
kind: Widget
metadata:
  name: unique
spec:
  tags: [a, b]
  ports:
  - {name: http, port: 80}
  - {name: https, port: 443}
""")], name="unique items are admitted")

# ---- workload status from creation (the create answer: controllers fill status later) ----
def created_status(args, name, manifest=None):
    if manifest:
        r = k.ok(["create", "-f", k.write(name + ".yaml", manifest), "-o", "json"],
                 name="create " + name)
    else:
        r = k.ok(args + ["-o", "json"], name="create " + name)
    try:
        return json.loads(r.stdout).get("status")
    except ValueError:
        return "no JSON"


st_dep = created_status(["create", "deployment", "sd", "--image=nginx"], "deployment")
t.ok(st_dep == {}, "a new Deployment's status is {}", st_dep)
st_sts = created_status(None, "statefulset", """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ss
spec:
  serviceName: ss
  selector:
    matchLabels: {app: ss}
  template:
    metadata:
      labels: {app: ss}
    spec:
      containers:
      - name: c
        image: nginx
""")
t.ok(st_sts == {"availableReplicas": 0, "replicas": 0}, "a new StatefulSet's status has replicas 0",
     st_sts)
st_ds = created_status(None, "daemonset", """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds
spec:
  selector:
    matchLabels: {app: ds}
  template:
    metadata:
      labels: {app: ds}
    spec:
      containers:
      - name: c
        image: nginx
""")
t.ok(st_ds == {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
               "numberReady": 0}, "a new DaemonSet's status counts are 0", st_ds)
st_rs = created_status(None, "replicaset", """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs0
spec:
  replicas: 0
  selector:
    matchLabels: {app: rs0}
  template:
    metadata:
      labels: {app: rs0}
    spec:
      containers:
      - name: c
        image: nginx
""")
t.ok(st_rs == {"replicas": 0}, "a new ReplicaSet's status has replicas 0", st_rs)
st_job = created_status(["create", "job", "sj", "--image=busybox"], "job")
t.ok(st_job == {}, "a new Job's status is {}", st_job)

k.finish()
