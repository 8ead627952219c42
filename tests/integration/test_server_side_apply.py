"""Server-side apply with real kubectl: create and re-apply, field managers in
managedFields, a conflict with another manager (and --force-conflicts), a
field dropped from the applied configuration is removed."""
import json
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
    rv = obj.get("metadata", {}).get("resourceVersion")
    r = k("apply", "--server-side", "-f", "-", stdin=DEPLOY)
    _, obj2 = managers()
    t.ok(r.returncode == 0 and obj2.get("metadata", {}).get("resourceVersion") == rv,
         "re-applying the same configuration writes nothing", r.stdout + r.stderr)

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

    t.ok(srv.stop_clean(), "server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
