"""The API catalogue with real kubectl: one manifest holding an object of every
built-in kind (fixtures/catalog.yaml, written as users write them) is applied
with `kubectl apply -f` (client-side validation on), every kind is listed with
the upstream Table columns (pkg/printers/internalversion/printers.go of 1.32),
`get all`, `explain`, applying twice changes nothing, a changed field is
patched, defaults appear in -o yaml, upstream validation messages, and old
group/versions are refused without a crash."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "fixtures", "catalog.yaml")
MINIMAL = os.path.join(HERE, "fixtures", "catalog-minimal.yaml")

# resource -> upstream header (names as kubectl prints them)
HEADERS = {
    "deployments": "NAME READY UP-TO-DATE AVAILABLE AGE",
    "replicasets": "NAME DESIRED CURRENT READY AGE",
    "statefulsets": "NAME READY AGE",
    "daemonsets": "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE",
    "replicationcontrollers": "NAME DESIRED CURRENT READY AGE",
    "jobs": "NAME STATUS COMPLETIONS DURATION AGE",
    "cronjobs": "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE",
    "services": "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
    "configmaps": "NAME DATA AGE",
    "secrets": "NAME TYPE DATA AGE",
    "serviceaccounts": "NAME SECRETS AGE",
    "persistentvolumes": "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS "
                         "VOLUMEATTRIBUTESCLASS REASON AGE",
    "persistentvolumeclaims": "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS "
                              "VOLUMEATTRIBUTESCLASS AGE",
    "storageclasses": "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
    "resourcequotas": "NAME AGE REQUEST LIMIT",
    "limitranges": "NAME CREATED AT",
    "podtemplates": "NAME CONTAINERS IMAGES POD LABELS",
    "ingressclasses": "NAME CONTROLLER PARAMETERS AGE",
    "ingresses": "NAME CLASS HOSTS ADDRESS PORTS AGE",
    "networkpolicies": "NAME POD-SELECTOR AGE",
    "endpointslices": "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
    "roles": "NAME CREATED AT",
    "rolebindings": "NAME ROLE AGE",
    "clusterroles": "NAME CREATED AT",
    "clusterrolebindings": "NAME ROLE AGE",
    "poddisruptionbudgets": "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
    "horizontalpodautoscalers": "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE",
    "priorityclasses": "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY",
    "leases": "NAME HOLDER AGE",
    "certificatesigningrequests": "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION",
}
# resource -> (name, substring the row must show)
ROWS = {
    "deployments": ("web", "0/2"),
    "daemonsets": ("node-agent", "kubernetes.io/os=linux"),
    "jobs": ("migrate", "0/1"),
    "cronjobs": ("backup", "0 3 * * *"),
    "services": ("web-lb", "LoadBalancer"),
    "persistentvolumes": ("pv-local", "5Gi        RWO            Retain"),
    "persistentvolumeclaims": ("uploads", "Pending"),
    "storageclasses": ("fast", "WaitForFirstConsumer   false"),
    "podtemplates": ("debug-template", "app=debug"),
    "ingresses": ("web", "shop.example.com"),
    "networkpolicies": ("web-allow-http", "app=web"),
    "endpointslices": ("external-db-1", "10.0.0.5"),
    "rolebindings": ("web-reads-pods", "Role/pod-reader"),
    "clusterrolebindings": ("ops-view-nodes", "ClusterRole/node-viewer"),
    "poddisruptionbudgets": ("web-pdb", "N/A"),
    "horizontalpodautoscalers": ("web", "cpu: <unknown>/70%"),
    "priorityclasses": ("shop-high", "PreemptLowerPriority"),
    "certificatesigningrequests": ("jane", "24h"),
}
CLUSTER = {"persistentvolumes", "storageclasses", "ingressclasses", "clusterroles",
           "clusterrolebindings", "priorityclasses", "certificatesigningrequests"}


def squash(line):
    return " ".join(line.split())


t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()


def kc(*args, stdin=None):
    return srv.kubectl(*args)


def apply_lines(path=MANIFEST):
    r = kc("apply", "-f", path)
    return r, [l for l in r.stdout.splitlines() if l.strip()]


# ---- apply every kind ----
r, lines = apply_lines()
kinds = len([d for d in open(MANIFEST).read().split("\n---\n") if "kind:" in d])
t.ok(r.returncode == 0 and len(lines) == kinds and all(l.endswith(" created") for l in lines),
     "kubectl apply -f creates all %d objects (client-side validation on)" % kinds,
     r.stdout + r.stderr)
r, lines = apply_lines(MINIMAL)
t.ok(r.returncode == 0 and len(lines) == 5 and all(l.endswith(" created") for l in lines),
     "kubectl apply -f catalog-minimal.yaml creates its 5 short forms", r.stdout + r.stderr)

# ---- upstream columns for every kind ----
for res, want in HEADERS.items():
    scope = [] if res in CLUSTER else ["-n", "shop"]
    g = kc("get", res, *scope)
    out = g.stdout.splitlines()
    head = squash(out[0]) if out else ""
    ok = g.returncode == 0 and head == want
    if ok and res in ROWS:
        name, frag = ROWS[res]
        row = [l for l in out[1:] if l.split()[0] == name]
        ok = bool(row) and (frag in row[0])
    t.ok(ok, "kubectl get %s: upstream columns%s" % (res, " and cells" if res in ROWS else ""),
         g.stdout + g.stderr)

# short names and categories
g = kc("get", "pvc,quota,limits,netpol,ing,pdb,hpa,ep", "-n", "shop", "-o", "name")
t.ok(g.returncode == 0 and "persistentvolumeclaim/uploads" in g.stdout and
     "horizontalpodautoscaler.autoscaling/web" in g.stdout, "short names resolve", g.stdout + g.stderr)
g = kc("get", "pv,sc,pc,csr", "-o", "name")
t.ok(g.returncode == 0 and "storageclass.storage.k8s.io/fast" in g.stdout and
     "certificatesigningrequest.certificates.k8s.io/jane" in g.stdout,
     "cluster-scoped short names resolve", g.stdout + g.stderr)
g = kc("get", "all", "-n", "shop")
want = ["service/web ", "deployment.apps/web ", "statefulset.apps/db ", "daemonset.apps/node-agent ",
        "replicaset.apps/legacy-rs ", "replicationcontroller/legacy-rc ", "job.batch/migrate ",
        "cronjob.batch/backup ", "horizontalpodautoscaler.autoscaling/web "]
missing = [w for w in want if w not in g.stdout]
t.ok(g.returncode == 0 and not missing and "ingress" not in g.stdout and "configmap" not in g.stdout,
     "kubectl get all lists the 'all' category only", "missing %s\n%s%s" % (missing, g.stdout, g.stderr))

# ---- explain ----
e = kc("explain", "deployment.spec.strategy")
t.ok(e.returncode == 0 and "rollingUpdate" in e.stdout and "RollingUpdate" in e.stdout,
     "kubectl explain deployment.spec.strategy", e.stdout + e.stderr)
e = kc("explain", "ingress.spec.rules.http.paths")
t.ok(e.returncode == 0 and "pathType" in e.stdout, "kubectl explain ingress.spec.rules.http.paths",
     e.stdout + e.stderr)

# ---- defaults in -o yaml/json ----
def getj(*args):
    g = kc("get", *args, "-o", "json")
    try:
        return json.loads(g.stdout)
    except ValueError:
        return {}


d = getj("deploy", "web", "-n", "shop")
spec = d.get("spec", {})
pod = spec.get("template", {}).get("spec", {})
c0 = (pod.get("containers") or [{}])[0]
t.ok(spec.get("strategy") == {"type": "RollingUpdate",
                              "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}} and
     spec.get("revisionHistoryLimit") == 10 and spec.get("progressDeadlineSeconds") == 600,
     "Deployment strategy, revisionHistoryLimit, progressDeadlineSeconds defaulted", spec)
t.ok(pod.get("restartPolicy") == "Always" and pod.get("dnsPolicy") == "ClusterFirst" and
     pod.get("terminationGracePeriodSeconds") == 30 and pod.get("schedulerName") == "default-scheduler" and
     c0.get("imagePullPolicy") == "IfNotPresent" and
     c0.get("terminationMessagePath") == "/dev/termination-log" and
     c0.get("ports", [{}])[0].get("protocol") == "TCP",
     "Deployment pod template gets pod defaults", pod)
y = kc("get", "deploy", "web", "-n", "shop", "-o", "yaml").stdout
t.ok("maxSurge: 25%" in y and "terminationMessagePolicy: File" in y, "defaults show in -o yaml", y)

j = getj("job", "migrate", "-n", "shop")
js = j.get("spec", {})
uid = j.get("metadata", {}).get("uid")
tl = js.get("template", {}).get("metadata", {}).get("labels", {})
t.ok(js.get("backoffLimit") == 6 and js.get("completions") == 1 and js.get("parallelism") == 1 and
     js.get("completionMode") == "NonIndexed" and js.get("suspend") is False and
     js.get("selector") == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}} and
     tl.get("batch.kubernetes.io/job-name") == "migrate" and tl.get("controller-uid") == uid and
     tl.get("job-name") == "migrate",
     "Job defaults and generated selector/labels", js)
cj = getj("cronjob", "backup", "-n", "shop").get("spec", {})
t.ok(cj.get("concurrencyPolicy") == "Allow" and cj.get("suspend") is False and
     cj.get("successfulJobsHistoryLimit") == 3 and cj.get("failedJobsHistoryLimit") == 1,
     "CronJob defaults", cj)
ss = getj("sts", "db-min", "-n", "shop").get("spec", {})
t.ok(ss.get("podManagementPolicy") == "OrderedReady" and
     ss.get("updateStrategy") == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}} and
     ss.get("persistentVolumeClaimRetentionPolicy") == {"whenDeleted": "Retain", "whenScaled": "Retain"} and
     ss.get("volumeClaimTemplates", [{}])[0].get("spec", {}).get("volumeMode") == "Filesystem",
     "StatefulSet defaults", ss)
ds = getj("ds", "node-agent", "-n", "shop").get("spec", {})
t.ok(ds.get("updateStrategy") == {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
     "DaemonSet updateStrategy default", ds)
np = getj("netpol", "web-allow-http-min", "-n", "shop").get("spec", {})
t.ok(np.get("policyTypes") == ["Ingress"] and np["ingress"][0]["ports"][0].get("protocol") == "TCP",
     "NetworkPolicy policyTypes and port protocol defaults", np)
sec = getj("secret", "web-secret-min", "-n", "shop")
eps = getj("endpointslice", "external-db-min", "-n", "shop")
rb = getj("rolebinding", "web-reads-pods-min", "-n", "shop")
t.ok(sec.get("data") == {"password": "czNjcmV0"} and "stringData" not in sec and
     eps.get("ports") == [{"name": "pg", "port": 5432, "protocol": "TCP"}] and
     rb.get("subjects", [{}, {}])[1] == {"kind": "User", "name": "jane",
                                         "apiGroup": "rbac.authorization.k8s.io"} and
     "apiGroup" not in rb.get("subjects", [{}])[0],
     "stringData stored as data; EndpointSlice port protocol, User subject apiGroup defaulted",
     [sec, eps, rb])
pv = getj("pv", "pv-local")
pvc = getj("pvc", "uploads", "-n", "shop")
sc = getj("sc", "fast")
t.ok(pv.get("spec", {}).get("persistentVolumeReclaimPolicy") == "Retain" and
     pv.get("spec", {}).get("volumeMode") == "Filesystem" and
     pvc.get("spec", {}).get("volumeMode") == "Filesystem" and
     pvc.get("status", {}).get("phase") == "Pending" and sc.get("reclaimPolicy") == "Delete",
     "PV, PVC and StorageClass defaults", [pv.get("spec"), pvc.get("spec"), sc])
hpa = getj("hpa", "web", "-n", "shop").get("spec", {})
pc = getj("pc", "shop-high")
t.ok(hpa.get("minReplicas") == 2 and pc.get("preemptionPolicy") == "PreemptLowerPriority",
     "HPA keeps minReplicas, PriorityClass preemptionPolicy defaulted", [hpa, pc])


# ---- apply twice: nothing changes ----
def versions():
    out = {}
    for res in list(HEADERS) + ["namespaces"]:
        scope = [] if res in CLUSTER or res == "namespaces" else ["-n", "shop"]
        for it in getj(res, *scope).get("items", []):
            m = it["metadata"]
            out["%s/%s" % (res, m["name"])] = m.get("resourceVersion")
    return out


before = versions()
r, lines = apply_lines()
after = versions()
changed = [k for k in before if before[k] != after.get(k)]
t.ok(r.returncode == 0 and not changed and before, "second apply stores nothing (resourceVersions equal)",
     "changed: %s\n%s" % (changed, r.stderr))
bad = [l for l in lines if not l.endswith(" unchanged")]
t.ok(len(lines) == kinds and not bad, "second apply: all %d objects of every kind unchanged" % kinds,
     "\n".join(bad))
# The short forms: upstream kubectl reports "configured" where an atomic list
# meets server defaults (NetworkPolicy ports, RoleBinding subjects,
# EndpointSlice ports, StatefulSet claim templates) and for Secret stringData,
# and the server stores nothing new; k3c answers the same.
before = versions()
r, lines = apply_lines(MINIMAL)
after = versions()
changed = [k for k in before if before[k] != after.get(k)]
want = ["secret/web-secret-min configured", "statefulset.apps/db-min configured",
        "networkpolicy.networking.k8s.io/web-allow-http-min configured",
        "endpointslice.discovery.k8s.io/external-db-min configured",
        "rolebinding.rbac.authorization.k8s.io/web-reads-pods-min configured"]
t.ok(r.returncode == 0 and lines == want and not changed,
     "short forms re-applied: 'configured' as upstream, resourceVersions equal",
     "changed: %s\n%s%s" % (changed, r.stdout, r.stderr))

# ---- a changed field is patched ----
changed_manifest = os.path.join(srv.tmp, "catalog2.yaml")
text = open(MANIFEST).read().replace("replicas: 2\n", "replicas: 3\n", 1).replace(
    "maxReplicas: 5", "maxReplicas: 7")
open(changed_manifest, "w").write(text)
r = kc("apply", "-f", changed_manifest)
t.ok(r.returncode == 0 and "deployment.apps/web configured" in r.stdout and
     "horizontalpodautoscaler.autoscaling/web configured" in r.stdout and
     "service/web unchanged" in r.stdout, "changed fields: apply says configured", r.stdout + r.stderr)
d = getj("deploy", "web", "-n", "shop")
t.ok(d.get("spec", {}).get("replicas") == 3 and d.get("metadata", {}).get("generation") == 2 and
     getj("hpa", "web", "-n", "shop").get("spec", {}).get("maxReplicas") == 7,
     "changed fields are stored (replicas 3, generation 2, maxReplicas 7)", d.get("spec"))


# ---- validation with upstream wording ----
def create_err(doc):
    path = os.path.join(srv.tmp, "bad.yaml")
    open(path, "w").write(doc)
    r = kc("create", "-f", path)
    return r.returncode, r.stderr


rc, err = create_err("""apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatch}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: busybox}]}
""")
t.ok(rc != 0 and 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: '
     '`selector` does not match template `labels`' in err, "selector must match template labels", err)
rc, err = create_err("""apiVersion: apps/v1
kind: Deployment
metadata: {name: noselector}
spec:
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: busybox}]}
""")
t.ok(rc != 0 and "spec.selector: Required value" in err, "Deployment selector is required", err)
r = kc("patch", "deploy", "web", "-n", "shop", "--type=merge", "-p",
       '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}')
t.ok(r.returncode != 0 and "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
     '{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable' in r.stderr,
     "Deployment selector is immutable", r.stderr)
rc, err = create_err("""apiVersion: batch/v1
kind: Job
metadata: {name: always}
spec:
  template:
    spec: {containers: [{name: c, image: busybox}]}
""")
t.ok(rc != 0 and 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
     '"OnFailure", "Never"' in err, "Job restartPolicy must be OnFailure or Never", err)
r = kc("patch", "job", "migrate", "-n", "shop", "--type=merge", "-p",
       '{"spec":{"template":{"spec":{"containers":[{"name":"migrate","image":"busybox:1.37"}]}}}}')
t.ok(r.returncode != 0 and "spec.template: Invalid value:" in r.stderr and "field is immutable" in r.stderr,
     "Job template is immutable", r.stderr)
rc, err = create_err("""apiVersion: batch/v1
kind: CronJob
metadata: {name: badcron}
spec:
  schedule: "every day"
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
""")
t.ok(rc != 0 and 'spec.schedule: Invalid value: "every day": expected exactly 5 fields, found 2' in err,
     "CronJob schedule is checked", err)
rc, err = create_err("""apiVersion: v1
kind: Service
metadata: {name: Bad_Name}
spec: {ports: [{port: 80}]}
""")
t.ok(rc != 0 and 'metadata.name: Invalid value: "Bad_Name"' in err, "DNS-1123 names", err)
r = kc("patch", "pvc", "uploads", "-n", "shop", "--type=merge", "-p",
       '{"spec":{"accessModes":["ReadWriteMany"]}}')
t.ok(r.returncode != 0 and "spec: Forbidden: spec is immutable after creation except resources.requests"
     in r.stderr, "PVC spec is immutable except requests", r.stderr)
r = kc("patch", "sc", "fast", "--type=merge", "-p", '{"parameters":{"a":"b"}}')
t.ok(r.returncode != 0 and "parameters: Forbidden: updates to parameters are forbidden." in r.stderr,
     "StorageClass parameters are immutable", r.stderr)
rc, err = create_err("""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: noverbs}
rules:
- apiGroups: [""]
  resources: [pods]
""")
t.ok(rc != 0 and "rules[0].verbs: Required value: verbs must contain at least one value" in err,
     "RBAC rules need verbs", err)
rc, err = create_err("""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: noaddrtype}
endpoints: [{addresses: ["10.0.0.1"]}]
""")
t.ok(rc != 0 and "addressType: Required value" in err, "EndpointSlice addressType is required", err)
rc, err = create_err("""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: nopathtype}
spec:
  rules:
  - http:
      paths:
      - path: /
        backend: {service: {name: web, port: {number: 80}}}
""")
t.ok(rc != 0 and "pathType: Required value: pathType must be specified" in err,
     "Ingress pathType is required", err)

# ---- subresources ----
r = kc("scale", "deploy", "web", "-n", "shop", "--replicas=4")
r2 = kc("scale", "sts", "db", "-n", "shop", "--replicas=2")
r3 = kc("scale", "rc", "legacy-rc", "-n", "shop", "--replicas=1")
t.ok(r.returncode == 0 and r2.returncode == 0 and r3.returncode == 0 and
     getj("sts", "db", "-n", "shop").get("spec", {}).get("replicas") == 2,
     "scale subresource of Deployment, StatefulSet, ReplicationController",
     r.stderr + r2.stderr + r3.stderr)

# ---- old group/versions ----
old = os.path.join(srv.tmp, "old.yaml")
open(old, "w").write("""apiVersion: apps/v1beta2
kind: Deployment
metadata: {name: old}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: busybox}]}
""")
r = kc("apply", "-f", old)
t.ok(r.returncode != 0 and 'no matches for kind "Deployment" in version "apps/v1beta2"' in r.stderr and
     "ensure CRDs are installed first" in r.stderr, "apps/v1beta2 is not served (kubectl's message)", r.stderr)
st, _, body = srv.request("POST", "/apis/extensions/v1beta1/namespaces/shop/ingresses",
                          body=b'{"apiVersion":"extensions/v1beta1","kind":"Ingress"}',
                          headers={"Content-Type": "application/json"})
try:
    doc = json.loads(body)
except ValueError:
    doc = {}
t.ok(st == 404 and doc.get("kind") == "Status" and doc.get("reason") == "NotFound",
     "raw POST to extensions/v1beta1 is a 404 Status", body)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
