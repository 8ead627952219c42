"""API details clients meet, against a real `k3c server --disable-agent` with real kubectl
and the python client: LimitRanger (defaults, the limit-ranger annotation, max, ratio,
PVC storage), field selectors of every kind that has them (and upstream's refusal of
others), what DELETE answers per kind, /healthz /livez /readyz (verbose, per check,
exclude), Accept: application/yaml, and JSON bodies ending with upstream's newline."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

try:
    import yaml
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
except ImportError as e:  # pragma: no cover
    print("Bail out! python3-kubernetes or python3-yaml is not installed (%s)" % e)
    sys.exit(1)

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)
api_client = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api_client)


def api(method, path, body=None, headers=None):
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    st, h, out = srv.request(method, path, body=data, headers=hdrs)
    try:
        return st, h, json.loads(out)
    except ValueError:
        return st, h, out


# ---- LimitRanger ----
k.ok("create namespace lr", name="create namespace lr")
k.ok(["create", "-f", k.write("lr.yaml", """apiVersion: v1
kind: LimitRange
metadata:
  name: limits
  namespace: lr
spec:
  limits:
  - type: Container
    default:
      cpu: 500m
      memory: 128Mi
    defaultRequest:
      cpu: 100m
    max:
      cpu: "1"
    maxLimitRequestRatio:
      memory: "2"
  - type: PersistentVolumeClaim
    max:
      storage: 2Gi
    min:
      storage: 1Gi
""")], name="create a LimitRange")
lr = v1.read_namespaced_limit_range("limits", "lr")
t.ok(lr.spec.limits[0].default_request == {"cpu": "100m", "memory": "128Mi"},
     "LimitRange item defaults: defaultRequest from default", lr.spec.limits[0].default_request)
p = v1.create_namespaced_pod("lr", client.V1Pod(
    metadata=client.V1ObjectMeta(name="plain"),
    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])))
res = p.spec.containers[0].resources
t.ok(res.limits == {"cpu": "500m", "memory": "128Mi"} and
     res.requests == {"cpu": "100m", "memory": "128Mi"},
     "container defaults applied from the LimitRange", res)
t.ok(p.metadata.annotations.get("kubernetes.io/limit-ranger") ==
     "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c",
     "the limit-ranger annotation as upstream writes it", p.metadata.annotations)
big = k.write("big.yaml", """apiVersion: v1
kind: Pod
metadata:
  name: big
  namespace: lr
spec:
  containers:
  - name: c
    image: busybox
    resources:
      limits:
        cpu: "2"
""")
k.fails(["create", "-f", big], name="a container above max is refused",
        err='pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2')
st, _, body = api("POST", "/api/v1/namespaces/lr/pods", {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ratio"},
    "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {
        "limits": {"memory": "512Mi"}, "requests": {"memory": "128Mi"}}}]}})
t.ok(st == 403 and body.get("message") == 'pods "ratio" is forbidden: memory max limit to request '
     'ratio per Container is 2, but provided ratio is 4.000000', "maxLimitRequestRatio", body)
st, _, body = api("POST", "/api/v1/namespaces/lr/persistentvolumeclaims", {
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "huge"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}})
t.ok(st == 403 and body.get("message") == 'persistentvolumeclaims "huge" is forbidden: maximum '
     'storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi', "PVC max storage", body)
st, _, body = api("POST", "/api/v1/namespaces/lr/persistentvolumeclaims", {
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ok"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
t.ok(st == 201, "a PVC within the range is admitted", body)
p2 = v1.create_namespaced_pod("default", client.V1Pod(
    metadata=client.V1ObjectMeta(name="nolimits"),
    spec=client.V1PodSpec(containers=[client.V1Container(
        name="c", image="busybox", resources=client.V1ResourceRequirements(limits={"cpu": "1"}))])))
t.ok(p2.spec.containers[0].resources.requests == {"cpu": "1"} and
     "kubernetes.io/limit-ranger" not in (p2.metadata.annotations or {}),
     "without a LimitRange: a limit is the request too, no annotation", p2.spec.containers[0].resources)

# ---- field selectors ----
k.ok("create service clusterip sel-a --tcp=80:80", name="create a ClusterIP service")
k.ok("create service nodeport sel-b --tcp=80:80", name="create a NodePort service")
k.ok("get services --field-selector spec.type=NodePort -o name", out="service/sel-b",
     check=lambda out: "sel-a" not in out, name="services by spec.type")
k.ok("create secret generic plain-secret --from-literal=a=b", name="create an Opaque secret")
k.ok("create secret docker-registry reg --docker-server=x --docker-username=u --docker-password=p",
     name="create a dockerconfigjson secret")
k.ok("get secrets --field-selector type=kubernetes.io/dockerconfigjson -o name", out="secret/reg",
     check=lambda out: "plain-secret" not in out, name="secrets by type")
k.ok("create job sel-job --image=busybox", name="create a job")
k.ok("get jobs --field-selector status.successful=0 -o name", out="job.batch/sel-job",
     name="jobs by status.successful (0 when unset)")
k.ok("get jobs --field-selector status.successful=1 -o name",
     check=lambda out: "sel-job" not in out, name="status.successful=1 matches nothing yet")
k.ok(["create", "-f", k.write("rs.yaml", """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: sel-rs
spec:
  replicas: 0
  selector:
    matchLabels: {app: rs}
  template:
    metadata:
      labels: {app: rs}
    spec:
      containers:
      - name: c
        image: busybox
""")], name="create a replicaset")
k.ok("get rs --field-selector status.replicas=0 -o name", out="replicaset.apps/sel-rs",
     name="replicasets by status.replicas")
k.ok("get rs --field-selector status.replicas=1 -o name", check=lambda out: "sel-rs" not in out,
     name="status.replicas=1 does not match a scaled-to-zero replicaset")
k.ok("get pods -A --field-selector metadata.namespace=lr,status.phase=Pending -o name",
     out="pod/plain", name="pods by namespace and phase")
k.fails("get configmaps --field-selector data.x=y",
        name="a kind with only metadata fields refuses others as upstream's default conversion",
        err='"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"')
k.fails("get deployments --field-selector status.replicas=1",
        name="a field of another kind is refused for deployments",
        err='"status.replicas" is not a known field selector: only "metadata.name", '
            '"metadata.namespace"')
k.fails("get services --field-selector spec.ports=1",
        name="a kind with fields of its own refuses others",
        err="field label not supported: spec.ports")
st, _, body = api("POST", "/api/v1/namespaces/default/events", {
    "apiVersion": "v1", "kind": "Event", "metadata": {"name": "ev1"},
    "involvedObject": {"kind": "Pod", "name": "plain", "namespace": "default"},
    "reason": "Tested", "message": "m", "type": "Normal", "reportingComponent": "tester"})
t.ok(st == 201, "create a v1 event", body)
api("POST", "/api/v1/namespaces/default/events", {
    "apiVersion": "v1", "kind": "Event", "metadata": {"name": "ev2"},
    "involvedObject": {"kind": "Node", "name": "n1"}, "reason": "Other", "message": "m"})
st, _, body = api("GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DPod")
# (the scheduler's FailedScheduling events about the test's pods are Pod events too)
t.ok(st == 200 and [i["metadata"]["name"] for i in body["items"]
                    if i.get("source", {}).get("component") != "default-scheduler"] == ["ev1"],
     "v1 events by involvedObject.kind", body)
st, _, body = api("GET", "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector="
                         "regarding.kind%3DPod,reportingController%3Dtester")
t.ok(st == 200 and [i["metadata"]["name"] for i in body.get("items", [])] == ["ev1"],
     "events.k8s.io by regarding.kind and reportingController", body)
st, _, body = api("GET", "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector="
                         "involvedObject.kind%3DPod")
t.ok(st == 400 and body.get("message") == "field label not supported: involvedObject.kind",
     "events.k8s.io refuses the v1 field names", body)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "catalog.yaml")) as f:
    REQUEST = re.search(r"^  request: (\S+)$", f.read(), re.M).group(1)
k.ok(["create", "-f", k.write("csr.yaml", """apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: sel-csr
spec:
  request: %s
  signerName: example.com/custom
  usages: [client auth]
""" % REQUEST)], name="create a CSR")
k.ok("get csr --field-selector spec.signerName=example.com/custom -o name",
     out="certificatesigningrequest.certificates.k8s.io/sel-csr", name="CSRs by spec.signerName")

# ---- DELETE answers ----
k.ok("create configmap del-cm --from-literal=a=b", name="create a configmap to delete")
st, _, body = api("DELETE", "/api/v1/namespaces/default/configmaps/del-cm")
t.ok(st == 200 and body.get("kind") == "Status" and body.get("status") == "Success" and
     body.get("details", {}).get("name") == "del-cm" and
     body.get("details", {}).get("kind") == "configmaps" and body["details"].get("uid") and
     "code" not in body, "deleting a configmap answers a Success Status", body)
k.ok("create deployment del-dep --image=nginx", name="create a deployment to delete")
st, _, body = api("DELETE", "/apis/apps/v1/namespaces/default/deployments/del-dep")
t.ok(st == 200 and body.get("kind") == "Status" and body["details"].get("group") == "apps" and
     body["details"].get("kind") == "deployments", "a deployment: Status with its group", body)
st, _, body = api("DELETE", "/api/v1/namespaces/default/pods/nolimits")
t.ok(st == 200 and body.get("kind") == "Pod" and body["metadata"]["name"] == "nolimits",
     "deleting a pod answers the pod", body)
st, _, body = api("DELETE", "/api/v1/namespaces/lr/persistentvolumeclaims/ok")
t.ok(st == 200 and body.get("kind") == "PersistentVolumeClaim", "a PVC answers the PVC", body)
st, _, body = api("DELETE", "/api/v1/namespaces/default/services/sel-a")
t.ok(st == 200 and body.get("kind") == "Service", "a Service answers the Service", body)
k.ok("create configmap dry-cm --from-literal=a=b", name="create a configmap for a dry run")
st, _, body = api("DELETE", "/api/v1/namespaces/default/configmaps/dry-cm?dryRun=All")
t.ok(st == 200 and body.get("kind") == "Status", "a dry-run delete answers the same Status", body)
k.ok("get configmap dry-cm", name="the dry run kept the configmap")
r = v1.delete_namespaced_config_map("dry-cm", "default")
t.ok(r.status == "Success" and r.details.name == "dry-cm", "python client reads the Status", r)
k.ok("delete secret reg", out='secret "reg" deleted', name="kubectl delete prints as usual")

# ---- health ----
for root in ("healthz", "livez", "readyz"):
    st, h, body = srv.request("GET", "/%s?verbose" % root, client_cert=False)
    text = body.decode()
    t.ok(st == 200 and text.startswith("[+]ping ok\n") and "[+]etcd ok\n" in text and
         text.endswith("%s check passed\n" % root) and h.get("content-type", "").startswith("text/plain"),
         "/%s?verbose lists the checks" % root, text)
st, _, body = srv.request("GET", "/readyz?verbose", client_cert=False)
t.ok(b"[+]informer-sync ok\n" in body and b"[+]shutdown ok\n" in body, "readyz has its own checks",
     body)
st, _, body = srv.request("GET", "/livez/ping", client_cert=False)
t.ok(st == 200 and body == b"ok", "/livez/ping", body)
st, _, body = srv.request("GET", "/readyz/etcd", client_cert=False)
t.ok(st == 200 and body == b"ok", "/readyz/etcd", body)
st, _, body = srv.request("GET", "/healthz/nope", client_cert=False)
t.ok(st == 404, "an unknown check is not found", (st, body))
st, _, body = srv.request("GET", "/readyz?verbose&exclude=etcd&exclude=bogus", client_cert=False)
t.ok(b"[+]etcd excluded: ok\n" in body and
     b'warn: some health checks cannot be excluded: no matches for "bogus"\n' in body,
     "exclude as upstream", body)
st, _, body = srv.request("GET", "/healthz", client_cert=False)
t.ok(st == 200 and body == b"ok", "plain /healthz stays ok", body)
r = k.ok("get --raw /readyz?verbose", out="readyz check passed", name="kubectl get --raw /readyz?verbose")

# ---- YAML ----
st, h, body = srv.request("GET", "/api/v1/namespaces/lr/limitranges/limits",
                          headers={"Accept": "application/yaml"})
doc = yaml.safe_load(body)
t.ok(st == 200 and h.get("content-type") == "application/yaml" and doc["kind"] == "LimitRange" and
     doc["spec"]["limits"][0]["max"] == {"cpu": "1"} and
     b'resourceVersion: "' in body, "get answers YAML (strings that look like numbers quoted)",
     body.decode())
st, h, body = srv.request("GET", "/api/v1/namespaces/lr/pods", headers={"Accept": "application/yaml"})
doc = yaml.safe_load(body)
t.ok(st == 200 and h.get("content-type") == "application/yaml" and doc["kind"] == "PodList" and
     [i["metadata"]["name"] for i in doc["items"]] == ["plain"], "list answers YAML", body.decode())
lines = body.decode().splitlines()
t.ok(lines[0] == "apiVersion: v1" and "items:" in lines and "- apiVersion: v1" in lines,
     "keys sorted, sequences not indented (as kubectl prints YAML)", lines[:6])
st, h, body = srv.request("GET", "/api/v1/namespaces/lr/pods/plain",
                          headers={"Accept": "application/json, application/yaml"})
t.ok(h.get("content-type") == "application/json" and json.loads(body)["kind"] == "Pod",
     "JSON first stays JSON", h.get("content-type"))

# ---- JSON bodies end with one newline, as upstream's encoder writes them
status_want = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
               b'"configmaps \\"nope\\" not found","reason":"NotFound","details":{"name":"nope",'
               b'"kind":"configmaps"},"code":404}\n')
st, h, body = srv.request("GET", "/api/v1/namespaces/default/configmaps/nope")
t.ok(st == 404 and body == status_want, "a Status error is upstream's bytes, newline included", body)
table = "application/json;as=Table;v=v1;g=meta.k8s.io"
for path, hdrs, what in (("/api/v1/namespaces/default", {}, "an object"),
                         ("/api/v1/namespaces", {}, "a list"),
                         ("/api/v1/namespaces?limit=500", {"Accept": table}, "a Table list"),
                         ("/api/v1/namespaces/default", {"Accept": table}, "a Table of one"),
                         ("/api", {}, "legacy discovery"),
                         ("/apis", {"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;"
                                              "as=APIGroupDiscoveryList"}, "aggregated discovery"),
                         ("/api/v1", {}, "a resource list")):
    st, h, body = srv.request("GET", path, headers=hdrs)
    t.ok(st == 200 and body.endswith(b"}\n") and not body.endswith(b"\n\n") and json.loads(body),
         "%s ends with one newline" % what, body[-40:])
body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nl"}}).encode()
st, h, out = srv.request("POST", "/api/v1/namespaces/default/configmaps", body=body,
                         headers={"Content-Type": "application/json"})
t.ok(st == 201 and out.endswith(b"}\n"), "a create's answer ends with a newline", out[-40:])
st, h, out = srv.request("DELETE", "/api/v1/namespaces/default/configmaps/nl")
t.ok(st == 200 and out.endswith(b"}\n"), "a delete's Status ends with a newline", out[-40:])

k.finish()
