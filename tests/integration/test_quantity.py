"""Quantities (issue #17) against a real `k3c server --disable-agent`: every
malformed resource.Quantity is refused with upstream's decode error (kubectl,
raw JSON, patch), every stored one is in upstream's canonical form (read back
with kubectl get -o json and the python client), and kubectl describe pods
keeps working."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

REGEX_ERR = ("quantities must match the regular expression "
             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
SUFFIX_ERR = "unable to parse quantity's suffix"

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()


def kubectl_in(stdin, *args):
    env = dict(os.environ, KUBECONFIG=srv.kubeconfig, HOME=srv.tmp)
    return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def pod(name, limits=None, requests=None, size_limit=None):
    res = {}
    if limits is not None:
        res["limits"] = limits
    if requests is not None:
        res["requests"] = requests
    spec = {"containers": [{"name": "c", "image": "busybox", "resources": res}]}
    if size_limit is not None:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {"sizeLimit": size_limit}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def post(path, obj):
    st, _, body = srv.request("POST", path, json.dumps(obj).encode(),
                              {"Content-Type": "application/json"})
    try:
        return st, json.loads(body)
    except ValueError:
        return st, {"raw": body}


# ---- the defect: cpu 1x is refused, kubectl describe keeps working
r = kubectl_in(json.dumps(pod("bad", limits={"cpu": "1x"})), "apply", "-f", "-")
want = 'Pod in version "v1" cannot be handled as a Pod: ' + REGEX_ERR
t.ok(r.returncode != 0 and want in r.stderr, "kubectl apply of limits.cpu 1x is refused", r.stderr)
r = srv.kubectl("get", "pod", "bad")
t.ok(r.returncode != 0 and "NotFound" in r.stderr, "the refused pod was not stored", r.stderr)

# ---- every malformed quantity, through raw JSON: 400 with upstream's message and the field
cases = [("1x", REGEX_ERR), ("1.2.3", REGEX_ERR), ("--1", SUFFIX_ERR), ("1Ki2", SUFFIX_ERR),
         ("", REGEX_ERR), ("1e", SUFFIX_ERR), ("1e99999999999", SUFFIX_ERR),
         ("32MMi", SUFFIX_ERR), ("25%", REGEX_ERR), ("1 2", REGEX_ERR)]
for i, (q, err) in enumerate(cases):
    st, body = post("/api/v1/namespaces/default/pods", pod("bad%d" % i, limits={"memory": q}))
    causes = body.get("details", {}).get("causes", [])
    t.ok(st == 400 and body.get("reason") == "BadRequest" and
         body.get("message") == 'Pod in version "v1" cannot be handled as a Pod: ' + err and
         any(c.get("field") == "spec.containers[0].resources.limits.memory" for c in causes),
         "memory %r refused with %r" % (q, err), (st, body))
st, body = post("/api/v1/namespaces/default/pods", pod("badvol", size_limit="1x"))
t.ok(st == 400 and REGEX_ERR in body.get("message", "") and
     body["details"]["causes"][0]["field"] == "spec.volumes[0].emptyDir.sizeLimit",
     "emptyDir sizeLimit 1x refused", body)
pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "badpvc"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gb"}}}}
st, body = post("/api/v1/namespaces/default/persistentvolumeclaims", pvc)
t.ok(st == 400 and body.get("message") ==
     'PersistentVolumeClaim in version "v1" cannot be handled as a PersistentVolumeClaim: ' +
     REGEX_ERR, "PVC storage 1Gb refused", body)
rq = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "badrq"},
      "spec": {"hard": {"pods": "ten"}}}
st, body = post("/api/v1/namespaces/default/resourcequotas", rq)
t.ok(st == 400 and REGEX_ERR in body.get("message", ""), "ResourceQuota hard pods=ten refused", body)

# ---- stored quantities are canonical (strings and JSON numbers)
good = pod("good", limits={"cpu": "0.5", "memory": "1024Ki", "ephemeral-storage": "1e3"},
           requests={"cpu": 0.25, "memory": 1000}, size_limit="1000m")
good["spec"]["overhead"] = {"cpu": "1000m"}
st, body = post("/api/v1/namespaces/default/pods", good)
t.ok(st == 201, "pod with non-canonical quantities created", body)
# a limit without a request is also the request (upstream SetDefaults_Pod)
want_res = {"limits": {"cpu": "500m", "memory": "1Mi", "ephemeral-storage": "1e3"},
            "requests": {"cpu": "250m", "memory": "1k", "ephemeral-storage": "1e3"}}
t.ok(st == 201 and body["spec"]["containers"][0]["resources"] == want_res,
     "the create answer is canonical", body.get("spec"))
r = srv.kubectl("get", "pod", "good", "-o", "json")
got = json.loads(r.stdout) if r.returncode == 0 else {}
t.ok(got.get("spec", {}).get("containers", [{}])[0].get("resources") == want_res and
     got["spec"]["volumes"][0]["emptyDir"] == {"sizeLimit": "1"} and
     got["spec"]["overhead"] == {"cpu": "1"},
     "kubectl get -o json shows canonical quantities", r.stdout[-2000:] + r.stderr)

yaml_pod = """apiVersion: v1
kind: Pod
metadata:
  name: fromyaml
spec:
  containers:
  - name: c
    image: busybox
    resources:
      limits: {cpu: 2, memory: 1.5Gi}
      requests: {cpu: 0.1, memory: 1536Mi}
"""
r = kubectl_in(yaml_pod, "apply", "-f", "-")
t.ok(r.returncode == 0, "kubectl apply of YAML numbers as quantities", r.stderr)
r = srv.kubectl("get", "pod", "fromyaml", "-o", "jsonpath={.spec.containers[0].resources}")
res = json.loads(r.stdout) if r.returncode == 0 and r.stdout else {}
t.ok(res == {"limits": {"cpu": "2", "memory": "1536Mi"},
             "requests": {"cpu": "100m", "memory": "1536Mi"}},
     "YAML 2 / 1.5Gi / 0.1 stored as 2 / 1536Mi / 100m", r.stdout + r.stderr)

# ---- updates: patch with a bad quantity is refused, a good one canonicalized
r = srv.kubectl("patch", "pod", "good", "--type=merge", "-p",
                '{"spec":{"overhead":{"cpu":"1.2.3"}}}')
t.ok(r.returncode != 0 and REGEX_ERR in r.stderr, "kubectl patch with 1.2.3 is refused", r.stderr)
node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"capacity": {"cpu": 4, "memory": "4096Mi", "pods": "110"},
                   "allocatable": {"cpu": "3500m", "memory": "4194304Ki"}}}
st, body = post("/api/v1/nodes", node)
t.ok(st == 201 and body["status"]["capacity"] == {"cpu": "4", "memory": "4Gi", "pods": "110"} and
     body["status"]["allocatable"] == {"cpu": "3500m", "memory": "4Gi"},
     "node capacity/allocatable canonical", body.get("status"))
r = srv.kubectl("patch", "node", "n1", "--subresource=status", "--type=merge", "-p",
                '{"status":{"allocatable":{"memory":"2048Mi"}}}')
r2 = srv.kubectl("get", "node", "n1", "-o", "jsonpath={.status.allocatable.memory}")
t.ok(r.returncode == 0 and r2.stdout == "2Gi", "status patch canonicalizes", r.stderr + r2.stdout)
r = srv.kubectl("patch", "node", "n1", "--subresource=status", "--type=merge", "-p",
                '{"status":{"capacity":{"memory":"1e"}}}')
t.ok(r.returncode != 0 and SUFFIX_ERR in r.stderr, "status patch with 1e is refused", r.stderr)

lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
      "spec": {"limits": [{"type": "Container", "max": {"cpu": "2000m"}, "min": {"cpu": 0.1},
                           "default": {"memory": "1024Mi"}, "defaultRequest": {"memory": "512Mi"},
                           "maxLimitRequestRatio": {"cpu": "10"}}]}}
st, body = post("/api/v1/namespaces/default/limitranges", lr)
t.ok(st == 201 and body["spec"]["limits"][0]["max"] == {"cpu": "2"} and
     body["spec"]["limits"][0]["min"] == {"cpu": "100m"} and
     body["spec"]["limits"][0]["default"] == {"memory": "1Gi", "cpu": "2"} and
     body["spec"]["limits"][0]["defaultRequest"] == {"memory": "512Mi", "cpu": "2"},
     "LimitRange quantities canonical (item defaults from max and default, as upstream)", body)
pvc["metadata"]["name"] = "pvc"
pvc["spec"]["resources"]["requests"]["storage"] = "1.5Gi"
st, body = post("/api/v1/namespaces/default/persistentvolumeclaims", pvc)
t.ok(st == 201 and body["spec"]["resources"]["requests"]["storage"] == "1536Mi",
     "PVC storage 1.5Gi stored as 1536Mi", body)

# ---- kubectl describe pods works for the whole namespace
r = srv.kubectl("describe", "pods")
t.ok(r.returncode == 0 and re.search(r"^Name:\s+good$", r.stdout, re.M) and
     re.search(r"^Name:\s+fromyaml$", r.stdout, re.M) and "memory:             1Mi" in r.stdout,
     "kubectl describe pods", r.stderr + r.stdout[-1500:])

# ---- the python client reads the canonical values
try:
    from kubernetes import client, config
    api_client = config.new_client_from_config(config_file=srv.kubeconfig)
    v1 = client.CoreV1Api(api_client)
    p = v1.read_namespaced_pod("good", "default")
    t.ok(p.spec.containers[0].resources.limits == want_res["limits"],
         "python client reads canonical limits", p.spec.containers[0].resources)
    body = client.V1Pod(metadata=client.V1ObjectMeta(name="py"),
                        spec=client.V1PodSpec(containers=[client.V1Container(
                            name="c", image="busybox",
                            resources=client.V1ResourceRequirements(limits={"cpu": "1x"}))]))
    try:
        v1.create_namespaced_pod("default", body)
        t.ok(False, "python client create with 1x refused", "created")
    except client.rest.ApiException as e:
        t.ok(e.status == 400 and REGEX_ERR in e.body, "python client create with 1x refused", e.body)
    body.spec.containers[0].resources.limits = {"cpu": "1.0", "memory": "0.5Gi"}
    p = v1.create_namespaced_pod("default", body)
    t.ok(p.spec.containers[0].resources.limits == {"cpu": "1", "memory": "512Mi"},
         "python client create answer canonical", p.spec.containers[0].resources)
except ImportError as e:
    t.ok(False, "python3-kubernetes is installed", e)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
srv.cleanup()
t.done()
