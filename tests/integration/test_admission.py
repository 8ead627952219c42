"""Built-in admission against a real `k3c server --disable-agent` with real kubectl and
the python client: PodSecurity (enforce refuses with upstream's message, warn answers
Warning headers, workload templates are warned about, invalid namespace labels are
refused, tightening a namespace warns about its existing pods), Priority (class
resolution, the global default, unknown classes, the system classes, a pod's own
priority), DefaultTolerationSeconds, DefaultStorageClass and DefaultIngressClass."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

try:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
except ImportError as e:  # pragma: no cover
    print("Bail out! python3-kubernetes is not installed (%s)" % e)
    sys.exit(1)

t = Tap()
# No scheduler: the read-modify-replace of a pod below would race its status patch.
srv = Server(extra_args=["--disable-agent", "--disable-scheduler"]).start()
k = Kube(t, srv)
api_client = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api_client)


def api(method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    st, hdrs, out = srv.request(method, path, body=data, headers={"Content-Type": ctype})
    try:
        return st, hdrs, json.loads(out)
    except ValueError:
        return st, hdrs, {}


def pod_manifest(name, ns, privileged=False, extra_spec=""):
    sc = "\n    securityContext:\n      privileged: true" if privileged else ""
    return """apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
spec:
  containers:
  - name: c
    image: busybox:1.36%s
%s""" % (name, ns, sc, extra_spec)


RESTRICTED_OK = """  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: c
    image: busybox:1.36
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
"""

# ---- PodSecurity: enforce ----
k.ok("create namespace strict", name="create namespace strict")
k.ok("label namespace strict pod-security.kubernetes.io/enforce=restricted",
     name="label namespace enforce=restricted")
bad = k.write("priv.yaml", pod_manifest("priv", "strict", privileged=True))
r = k.fails(["create", "-f", bad], name="privileged pod refused in a restricted namespace",
            err='pods "priv" is forbidden: violates PodSecurity "restricted:latest": '
                'privileged (container "c" must not set securityContext.privileged=true), '
                'allowPrivilegeEscalation != false (container "c" must set '
                'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
                '(container "c" must set securityContext.capabilities.drop=["ALL"]), '
                'runAsNonRoot != true (pod or container "c" must set '
                'securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must '
                'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
good = k.write("good.yaml", """apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: strict
spec:
""" + RESTRICTED_OK)
r = k.ok(["create", "-f", good], name="a pod meeting restricted is admitted")
t.ok("Warning" not in r.stderr, "no warning for a compliant pod", r.stderr)

st, hdrs, body = api("POST", "/api/v1/namespaces/strict/pods", {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hp"},
    "spec": {"hostNetwork": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
             "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80,
                                                                    "hostPort": 8080}]},
                            {"name": "b", "image": "x", "ports": [{"containerPort": 81,
                                                                    "hostPort": 80}]}]}})
t.ok(st == 403 and body.get("reason") == "Forbidden" and
     body.get("details", {}).get("kind") == "pods" and
     'host namespaces (hostNetwork=true), hostPort (containers "a", "b" use hostPorts 80, 8080)'
     in body.get("message", "") and
     'restricted volume types (volume "h" uses restricted volume type "hostPath")'
     in body.get("message", ""),
     "baseline and restricted details as upstream words them", body)

# ---- PodSecurity: warn ----
k.ok("create namespace warned", name="create namespace warned")
k.ok("label namespace warned pod-security.kubernetes.io/warn=baseline "
     "pod-security.kubernetes.io/warn-version=v1.30", name="label namespace warn=baseline")
wp = k.write("wpriv.yaml", pod_manifest("wpriv", "warned", privileged=True))
r = k.ok(["create", "-f", wp], name="privileged pod admitted in a warn namespace")
t.ok('Warning: would violate PodSecurity "baseline:v1.30": privileged (container "c" must not '
     'set securityContext.privileged=true)' in r.stderr, "warn mode prints upstream's warning",
     r.stderr)
st, hdrs, body = api("POST", "/api/v1/namespaces/warned/pods?dryRun=All", {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w2"},
    "spec": {"containers": [{"name": "c", "image": "x",
                             "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]}})
t.ok(st == 201 and 'non-default capabilities (container \\"c\\" must not include \\"NET_ADMIN\\" '
     'in securityContext.capabilities.add)' in hdrs.get("warning", ""),
     "Warning header on the wire (escaped quotes, dry run too)", hdrs.get("warning"))

dep = k.write("dep.yaml", """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: warned
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      hostPID: true
      containers:
      - name: web
        image: nginx
""")
r = k.ok(["apply", "-f", dep], name="deployment with a hostPID template is admitted")
t.ok('Warning: would violate PodSecurity "baseline:v1.30": host namespaces (hostPID=true)'
     in r.stderr, "workload templates are warned about", r.stderr)
r = k.ok(["create", "deployment", "web2", "--image=nginx", "-n", "strict"],
         name="deployment in an enforce namespace is admitted (templates only warn)")
t.ok('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in r.stderr,
     "enforce level defaults warn for templates", r.stderr)

# ---- PodSecurity: namespace labels ----
k.fails("label namespace warned pod-security.kubernetes.io/enforce=strictest",
        name="invalid enforce level refused",
        err='metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strictest": '
            'must be one of privileged, baseline, restricted')
k.fails("label namespace warned pod-security.kubernetes.io/audit-version=1.30",
        name="invalid version refused",
        err='Invalid value: "1.30": must be "latest" or "v1.x"')
r = k.ok("label namespace warned pod-security.kubernetes.io/enforce=baseline",
         name="tightening enforce is allowed")
t.ok('Warning: existing pods in namespace "warned" violate the new PodSecurity enforce level '
     '"baseline:latest"' in r.stderr and 'Warning: wpriv: privileged' in r.stderr,
     "existing pods are warned about", r.stderr)

# ---- Priority ----
r = k.ok("get priorityclass", name="system priority classes exist at start",
         out=["system-cluster-critical", "2000000000", "system-node-critical", "2000001000"])
k.ok("create priorityclass high --value=1000 --preemption-policy=Never",
     name="create priorityclass high")
hp = k.write("hpod.yaml", pod_manifest("hpod", "default", extra_spec="  priorityClassName: high"))
k.ok(["create", "-f", hp], name="pod naming a class is admitted")
p = v1.read_namespaced_pod("hpod", "default")
t.ok(p.spec.priority == 1000 and p.spec.preemption_policy == "Never",
     "priority and preemptionPolicy come from the class", (p.spec.priority, p.spec.preemption_policy))
p0 = v1.create_namespaced_pod("default", client.V1Pod(
    metadata=client.V1ObjectMeta(name="plain"),
    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])))
t.ok(p0.spec.priority == 0 and p0.spec.priority_class_name is None and
     p0.spec.preemption_policy == "PreemptLowerPriority",
     "no class and no default: priority 0", (p0.spec.priority, p0.spec.priority_class_name))
crit = k.write("crit.yaml", pod_manifest("crit", "kube-system",
                                         extra_spec="  priorityClassName: system-node-critical"))
k.ok(["create", "-f", crit], name="pod with system-node-critical")
t.ok(v1.read_namespaced_pod("crit", "kube-system").spec.priority == 2000001000,
     "system-node-critical resolves to 2000001000")
nope = k.write("nope.yaml", pod_manifest("nope", "default", extra_spec="  priorityClassName: x"))
k.fails(["create", "-f", nope], name="unknown class refused",
        err='pods "nope" is forbidden: no PriorityClass with name x was found')
try:
    v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": "own"},
                                         "spec": {"priority": 7, "containers": [
                                             {"name": "c", "image": "busybox"}]}})
    t.ok(False, "a pod setting its own priority is refused", "created")
except ApiException as e:
    t.ok(e.status == 403 and "the integer value of priority (7) must not be provided in pod spec; "
         "priority admission controller computed 0 from the given PriorityClass name" in e.body,
         "a pod setting its own priority is refused", e.body)
k.ok("create priorityclass dflt --value=50 --global-default", name="create a global default class")
k.fails("create priorityclass dflt2 --value=60 --global-default",
        name="a second global default is refused",
        err='priorityclasses.scheduling.k8s.io "dflt2" is forbidden: PriorityClass dflt is '
            'already marked as default. Only one default can exist')
p1 = v1.create_namespaced_pod("default", client.V1Pod(
    metadata=client.V1ObjectMeta(name="defaulted"),
    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])))
t.ok(p1.spec.priority == 50 and p1.spec.priority_class_name == "dflt",
     "the global default class is used when none is named",
     (p1.spec.priority, p1.spec.priority_class_name))
p1.spec.containers[0].image = "busybox:1.37"
p1.spec.priority = None
p2 = v1.replace_namespaced_pod("defaulted", "default", p1)
t.ok(p2.spec.priority == 50, "an update keeps the resolved priority", p2.spec.priority)
k.fails("delete priorityclass system-node-critical", name="system classes cannot be deleted",
        err='priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a '
            'system priority class and cannot be deleted')

# ---- DefaultTolerationSeconds ----
tols = sorted((x.key, x.effect, x.toleration_seconds) for x in p0.spec.tolerations)
t.ok(tols == [("node.kubernetes.io/not-ready", "NoExecute", 300),
              ("node.kubernetes.io/unreachable", "NoExecute", 300)],
     "not-ready and unreachable tolerations with 300 s", tols)
own = v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"name": "tol"},
                                           "spec": {"tolerations": [{"operator": "Exists"}],
                                                    "containers": [{"name": "c",
                                                                    "image": "busybox"}]}})
t.ok(len(own.spec.tolerations) == 1, "a pod tolerating everything gets nothing added",
     own.spec.tolerations)

# ---- DefaultStorageClass ----
# The server makes k3s's local-path class (the default) at start; removed here
# so that the plugin is seen with no default class first.
r = k.wait_for("get storageclass local-path", lambda r: r.returncode == 0)
k.ok("delete storageclass local-path", name="the built-in default class local-path is there; deleted")
pvc = """apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: %s
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"""
k.ok(["create", "-f", k.write("pvc1.yaml", pvc % "before")], name="pvc without a default class")
t.ok(v1.read_namespaced_persistent_volume_claim("before", "default").spec.storage_class_name
     is None, "no default class: storageClassName stays unset")
k.ok(["create", "-f", k.write("sc.yaml", """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
""")], name="create a default StorageClass")
k.ok(["create", "-f", k.write("pvc2.yaml", pvc % "after")], name="pvc after the default class")
t.ok(v1.read_namespaced_persistent_volume_claim("after", "default").spec.storage_class_name
     == "local-path", "the default StorageClass is filled in")
k.ok(["create", "-f", k.write("pvc3.yaml", (pvc % "none") + '  storageClassName: ""\n')],
     name="pvc asking for no class")
t.ok(v1.read_namespaced_persistent_volume_claim("none", "default").spec.storage_class_name == "",
     "an explicit empty class is kept")

# ---- DefaultIngressClass ----
k.ok(["create", "-f", k.write("ic.yaml", """apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: traefik
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: traefik.io/ingress-controller
""")], name="create a default IngressClass")
k.ok("create ingress web --rule=example.com/=web:80", name="create an ingress without a class")
r = k.ok("get ingress web -o jsonpath={.spec.ingressClassName}", out="traefik",
         name="the default IngressClass is filled in")

k.finish()
