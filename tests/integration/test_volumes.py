"""PersistentVolumes in a real `k3c server --disable-agent`, with real kubectl and the python
client; nodes are API objects, no agent runs pods. Checked: the built-in StorageClass
local-path listed as the default (rancher.io/local-path, Delete, WaitForFirstConsumer); a
static PV and a PVC bound to each other (`kubectl get pv,pvc`: STATUS Bound, the CLAIM and
VOLUME columns, the bind-completed annotation, the claim's capacity); the smallest volume
that fits chosen, a selector honoured, a claim too big staying Pending; a deleted claim
releasing a Retain volume and deleting a Delete one; a local-path claim Pending until a
pod using it is scheduled, then annotated with the pod's node and bound to a provisioned
hostPath PV at <data-dir>/storage/pvc-<uid>_<ns>_<name> with that node's affinity; a
second pod of that claim kept off other nodes (volume node affinity conflict); a pod of a
missing claim unschedulable with upstream's message; the provisioned PV deleted with its
claim; the claim's events (WaitForFirstConsumer, ProvisioningSucceeded, and
ProvisioningFailed for an Immediate local-path class)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent", "--node-monitor-grace-period", "3600"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)


def wait(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def make_node(name):
    v1.create_node({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    v1.patch_node_status(name, {"status": {
        "capacity": alloc, "allocatable": alloc,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})


def pv(name, size, cls="manual", policy="Retain", labels=None, modes=("ReadWriteOnce",)):
    v1.create_persistent_volume({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                 "persistentVolumeReclaimPolicy": policy, "storageClassName": cls,
                 "hostPath": {"path": "/tmp/" + name}}})


def pvc(name, size, cls="manual", selector=None, modes=("ReadWriteOnce",)):
    spec = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector:
        spec["selector"] = {"matchLabels": selector}
    v1.create_namespaced_persistent_volume_claim("default", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": spec})


def pod(name, claim, node_selector=None):
    spec = {"containers": [{"name": "c", "image": "busybox",
                            "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": name}, "spec": spec})


def get_pv(name):
    try:
        return v1.read_persistent_volume(name)
    except client.rest.ApiException:
        return None


def get_pvc(name):
    try:
        return v1.read_namespaced_persistent_volume_claim(name, "default")
    except client.rest.ApiException:
        return None


def phase_pv(name):
    p = get_pv(name)
    return p.status.phase if p else None


def phase_pvc(name):
    p = get_pvc(name)
    return p.status.phase if p else None


def events(name, reason):
    return [e for e in v1.list_namespaced_event("default").items
            if e.involved_object.name == name and e.reason == reason]


# ---- the default StorageClass ----
r = k.wait_for("get storageclass", lambda r: "local-path" in r.stdout)
t.ok(r.returncode == 0 and "local-path (default)" in r.stdout and "rancher.io/local-path" in r.stdout
     and "WaitForFirstConsumer" in r.stdout and "Delete" in r.stdout,
     "kubectl get storageclass: local-path (default), rancher.io/local-path, Delete, "
     "WaitForFirstConsumer", k.diag("get storageclass", r))

# ---- static binding ----
pv("pv-small", "1Gi")
pv("pv-big", "10Gi")
pvc("claim1", "500Mi")
t.ok(wait(lambda: phase_pvc("claim1") == "Bound"), "a claim binds to a static volume",
     get_pvc("claim1"))
c = get_pvc("claim1")
t.ok(c.spec.volume_name == "pv-small", "the smallest volume that fits is chosen",
     c.spec.volume_name)
t.ok((c.metadata.annotations or {}).get("pv.kubernetes.io/bind-completed") == "yes" and
     (c.metadata.annotations or {}).get("pv.kubernetes.io/bound-by-controller") == "yes",
     "the claim carries bind-completed and bound-by-controller", c.metadata.annotations)
t.ok(c.status.capacity == {"storage": "1Gi"} and c.status.access_modes == ["ReadWriteOnce"],
     "the claim's status has the volume's capacity and access modes", c.status)
t.ok(wait(lambda: phase_pv("pv-small") == "Bound"), "the volume is Bound", get_pv("pv-small"))
p = get_pv("pv-small")
t.ok(p.spec.claim_ref and p.spec.claim_ref.name == "claim1" and
     p.spec.claim_ref.namespace == "default" and p.spec.claim_ref.uid == c.metadata.uid,
     "pv.spec.claimRef names the claim with its uid", p.spec.claim_ref)
t.ok(wait(lambda: phase_pv("pv-big") == "Available"), "the other volume is Available",
     get_pv("pv-big"))
r = k.run("get pv,pvc")
rows = {l.split()[0]: l.split() for l in r.stdout.splitlines() if l.strip()}
row_pv = rows.get("persistentvolume/pv-small", [])
row_pvc = rows.get("persistentvolumeclaim/claim1", [])
t.ok(r.returncode == 0 and "Bound" in row_pv and "default/claim1" in row_pv and
     "Bound" in row_pvc and "pv-small" in row_pvc and "1Gi" in row_pvc,
     "kubectl get pv,pvc: STATUS Bound, CLAIM default/claim1, VOLUME pv-small", k.diag("get pv,pvc", r))

pvc("toobig", "100Gi")
time.sleep(1.5)
t.ok(phase_pvc("toobig") == "Pending" and not get_pvc("toobig").spec.volume_name,
     "a claim bigger than every volume stays Pending", get_pvc("toobig"))

pv("pv-fast", "2Gi", labels={"speed": "fast"})
pv("pv-slow", "1Gi", labels={"speed": "slow"})
pvc("claim-fast", "1Gi", selector={"speed": "fast"})
t.ok(wait(lambda: get_pvc("claim-fast").spec.volume_name == "pv-fast"),
     "spec.selector picks the labelled volume", get_pvc("claim-fast"))

pv("pv-rwx", "5Gi", modes=("ReadWriteOnce",))
pvc("claim-rwx", "1Gi", modes=("ReadWriteMany",))
time.sleep(1.0)
t.ok(phase_pvc("claim-rwx") == "Pending", "a volume without the claim's access mode is not used",
     get_pvc("claim-rwx"))

# ---- reclaim ----
v1.delete_namespaced_persistent_volume_claim("claim1", "default")
t.ok(wait(lambda: phase_pv("pv-small") == "Released"), "Retain: the deleted claim's volume is Released",
     get_pv("pv-small"))
pv("pv-del", "3Gi", cls="scratch", policy="Delete")
pvc("claim-del", "3Gi", cls="scratch")
t.ok(wait(lambda: phase_pvc("claim-del") == "Bound"), "a Delete volume binds", get_pvc("claim-del"))
v1.delete_namespaced_persistent_volume_claim("claim-del", "default")
t.ok(wait(lambda: get_pv("pv-del") is None), "Delete: the deleted claim's volume is deleted",
     get_pv("pv-del"))

# ---- local-path, WaitForFirstConsumer ----
make_node("n1")
make_node("n2")
pvc("data", "64Mi", cls=None)
time.sleep(1.0)
c = get_pvc("data")
t.ok(c.spec.storage_class_name == "local-path" and c.status.phase == "Pending" and
     not c.spec.volume_name, "a claim without a class gets local-path and stays Pending", c)
t.ok((c.metadata.annotations or {}).get("volume.kubernetes.io/storage-provisioner") ==
     "rancher.io/local-path", "the claim is annotated with its provisioner", c.metadata.annotations)
evs = wait(lambda: events("data", "WaitForFirstConsumer"))
t.ok(evs and evs[0].type == "Normal" and
     evs[0].message == "waiting for first consumer to be created before binding",
     "a WaitForFirstConsumer event on the claim", [(e.type, e.message) for e in evs or []])
pod("user1", "data")
node = wait(lambda: v1.read_namespaced_pod("user1", "default").spec.node_name)
t.ok(node in ("n1", "n2"), "the pod using it is scheduled", node)
t.ok(wait(lambda: phase_pvc("data") == "Bound"), "the claim is Bound once the pod is scheduled",
     get_pvc("data"))
c = get_pvc("data")
t.ok((c.metadata.annotations or {}).get("volume.kubernetes.io/selected-node") == node,
     "the scheduler set volume.kubernetes.io/selected-node to the pod's node", c.metadata.annotations)
p = get_pv(c.spec.volume_name or "none")
want_path = os.path.join(srv.data_dir, "storage", "pvc-%s_default_data" % c.metadata.uid)
t.ok(p is not None and p.metadata.name == "pvc-" + c.metadata.uid and p.spec.host_path and
     p.spec.host_path.path == want_path and p.spec.host_path.type == "DirectoryOrCreate",
     "a hostPath PV pvc-<uid> at <data-dir>/storage/pvc-<uid>_<ns>_<name>", p)
terms = p.spec.node_affinity.required.node_selector_terms if p and p.spec.node_affinity else []
t.ok(len(terms) == 1 and terms[0].match_expressions[0].key == "kubernetes.io/hostname" and
     terms[0].match_expressions[0].values == [node],
     "the PV's nodeAffinity is that node", terms)
t.ok(p is not None and p.spec.persistent_volume_reclaim_policy == "Delete" and
     p.spec.storage_class_name == "local-path" and p.status.phase == "Bound" and
     (p.metadata.annotations or {}).get("pv.kubernetes.io/provisioned-by") == "rancher.io/local-path",
     "reclaim Delete, class local-path, Bound, provisioned-by", p)
evs = wait(lambda: events("data", "ProvisioningSucceeded"))
t.ok(evs and evs[0].message == "Successfully provisioned volume pvc-" + c.metadata.uid,
     "a ProvisioningSucceeded event on the claim", [(e.type, e.message) for e in evs or []])
other = "n2" if node == "n1" else "n1"
pod("user2", "data", node_selector={"kubernetes.io/hostname": other})
evs = wait(lambda: events("user2", "FailedScheduling"))
msg = evs[0].message if evs else ""
t.ok("1 node(s) had volume node affinity conflict" in msg,
     "a second pod of the claim cannot go to another node (volume node affinity conflict)", msg)
pod("user3", "data")
t.ok(wait(lambda: v1.read_namespaced_pod("user3", "default").spec.node_name) == node,
     "a second pod of the claim goes to the volume's node",
     v1.read_namespaced_pod("user3", "default").spec.node_name)
pod("orphan", "nope")
evs = wait(lambda: events("orphan", "FailedScheduling"))
msg = evs[0].message if evs else ""
t.ok('persistentvolumeclaim "nope" not found' in msg, "a pod of a missing claim: upstream's message",
     msg)
v1.api_client.call_api(
    "/apis/storage.k8s.io/v1/storageclasses", "POST", body={
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-now"}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "Immediate"}, auth_settings=["BearerToken"], response_type="object")
pvc("now", "1Mi", cls="local-now")
evs = wait(lambda: events("now", "ProvisioningFailed"))
t.ok(evs and evs[0].type == "Warning" and evs[0].message ==
     'failed to provision volume with StorageClass "local-now": configuration error, no node was '
     'specified', "an Immediate local-path claim: ProvisioningFailed, as k3s's provisioner",
     [(e.type, e.message) for e in evs or []])
t.ok(phase_pvc("now") == "Pending", "and it stays Pending", get_pvc("now"))
for name in ("user1", "user2", "user3", "orphan"):
    v1.delete_namespaced_pod(name, "default", grace_period_seconds=0)
pvname = c.spec.volume_name
v1.delete_namespaced_persistent_volume_claim("data", "default")
t.ok(wait(lambda: get_pv(pvname) is None), "the provisioned PV goes with its claim", get_pv(pvname))
ann_key = "local-path.k3c.io/cleanup-" + pvname
t.ok(wait(lambda: (v1.read_node(node).metadata.annotations or {}).get(ann_key) == want_path),
     "its node is asked to remove the directory there (annotation %s)" % ann_key,
     v1.read_node(node).metadata.annotations)
r = k.run("get pv -o json")
names = [i["metadata"]["name"] for i in json.loads(r.stdout)["items"]] if r.returncode == 0 else []
t.ok(set(names) == {"pv-small", "pv-big", "pv-fast", "pv-slow", "pv-rwx"},
     "only the static volumes are left", names)
k.finish()
