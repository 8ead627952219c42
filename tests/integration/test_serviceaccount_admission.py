"""ServiceAccount admission (issue #13) against a real `k3c server
--disable-agent`: a new pod gets serviceAccountName default and upstream's
kube-api-access-xxxxx projected volume, mounted read-only in every container
and init container (kubectl get pod -o yaml); automountServiceAccountToken
false on the pod or on its ServiceAccount gives no volume; a pod whose
ServiceAccount does not exist yet is admitted; updates do not add a volume."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
import yaml  # noqa: E402

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
SOURCES = [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                "path": "namespace"}]}},
]

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()


def apply(obj):
    path = os.path.join(srv.tmp, "obj.json")
    with open(path, "w") as f:
        json.dump(obj, f)
    return srv.kubectl("apply", "-f", path)


def pod(name, **spec):
    s = {"initContainers": [{"name": "i", "image": "busybox"}],
         "containers": [{"name": "c", "image": "busybox"},
                        {"name": "d", "image": "busybox"}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def get_yaml(name):
    r = srv.kubectl("get", "pod", name, "-o", "yaml")
    return yaml.safe_load(r.stdout) if r.returncode == 0 else {"error": r.stderr}


try:
    r = apply(pod("plain"))
    t.ok(r.returncode == 0, "a pod without a ServiceAccount is created", r.stderr)
    p = get_yaml("plain")
    spec = p.get("spec", {})
    t.ok(spec.get("serviceAccountName") == "default" and spec.get("serviceAccount") == "default",
         "serviceAccountName (and serviceAccount) default to default", spec)
    vols = [v for v in spec.get("volumes") or [] if v["name"].startswith("kube-api-access-")]
    t.ok(len(vols) == 1 and re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}",
                                         vols[0]["name"]),
         "one kube-api-access-xxxxx volume", spec.get("volumes"))
    vol = vols[0] if vols else {"name": "?"}
    t.ok(vol.get("projected") == {"defaultMode": 420, "sources": SOURCES},
         "the volume is upstream's projected token, kube-root-ca.crt and namespace", vol)
    want = {"name": vol["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    ok = all(c.get("volumeMounts") == [want]
             for c in spec.get("containers", []) + spec.get("initContainers", []))
    t.ok(ok and len(spec.get("containers", [])) == 2,
         "every container and init container mounts it read-only at " + MOUNT_PATH, spec)

    r = apply(pod("own", containers=[{"name": "c", "image": "busybox", "volumeMounts": [
        {"name": "e", "mountPath": MOUNT_PATH}]}], initContainers=[],
        volumes=[{"name": "e", "emptyDir": {}}]))
    spec = get_yaml("own").get("spec", {})
    t.ok(r.returncode == 0 and [v["name"] for v in spec.get("volumes", [])] == ["e"] and
         spec["containers"][0]["volumeMounts"] == [{"name": "e", "mountPath": MOUNT_PATH}],
         "a container mounting the path itself keeps its mount and gets no volume", (r.stderr, spec))

    r = apply(pod("nomount", automountServiceAccountToken=False))
    spec = get_yaml("nomount").get("spec", {})
    t.ok(r.returncode == 0 and not spec.get("volumes") and
         not any(c.get("volumeMounts") for c in spec.get("containers", [])),
         "automountServiceAccountToken false on the pod: no volume", (r.stderr, spec))

    r = apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
               "automountServiceAccountToken": False})
    r2 = apply(pod("quietpod", serviceAccountName="quiet"))
    spec = get_yaml("quietpod").get("spec", {})
    t.ok(r.returncode == 0 and r2.returncode == 0 and not spec.get("volumes"),
         "automountServiceAccountToken false on the ServiceAccount: no volume", (r2.stderr, spec))

    r = apply(pod("ghostpod", serviceAccountName="ghost"))
    spec = get_yaml("ghostpod").get("spec", {})
    t.ok(r.returncode == 0 and spec.get("serviceAccountName") == "ghost" and
         any(v["name"].startswith("kube-api-access-") for v in spec.get("volumes", [])),
         "a pod whose ServiceAccount does not exist yet is admitted with the volume",
         (r.stderr, spec))

    r = srv.kubectl("label", "pod", "nomount", "x=y")
    spec = get_yaml("nomount").get("spec", {})
    t.ok(r.returncode == 0 and not spec.get("volumes"), "an update adds no volume",
         (r.stderr, spec))
finally:
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    srv.cleanup()
t.done()
