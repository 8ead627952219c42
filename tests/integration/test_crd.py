"""CustomResourceDefinitions with real kubectl: a CRD with a schema becomes an
API at once (discovery, printer columns, OpenAPI for explain), custom objects
are defaulted and validated against the schema, and deleting the CRD removes
its objects."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: mysqldatabases.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: mysqldatabases
    singular: mysqldatabase
    kind: MySQLDatabase
    shortNames: [mydb]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Engine
      type: string
      jsonPath: .spec.engine
    - name: Size
      type: integer
      jsonPath: .spec.sizeGi
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [engine]
            properties:
              engine:
                type: string
                description: Database engine.
                enum: [mysql, mariadb]
              sizeGi:
                type: integer
                minimum: 1
                maximum: 100
                default: 10
              replicas:
                type: integer
              user:
                type: string
                pattern: '^[a-z]+$'
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"""

DB = """
apiVersion: example.com/v1
kind: MySQLDatabase
metadata:
  name: db1
spec:
  engine: mysql
  user: alice
  replicas: 1
"""

BAD = """
apiVersion: example.com/v1
kind: MySQLDatabase
metadata:
  name: db2
spec:
  engine: oracle
  sizeGi: 500
  user: Bob
"""


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    home = os.path.join(srv.tmp, "home")
    os.makedirs(home, exist_ok=True)
    os.environ["HOME"] = home  # a fresh discovery cache per run

    def k(*args, stdin=None):
        import subprocess
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args),
                              input=stdin, capture_output=True, text=True, timeout=120)

    r = k("apply", "-f", "-", stdin=CRD)
    t.ok(r.returncode == 0 and "customresourcedefinition.apiextensions.k8s.io/mysqldatabases.example.com created" in r.stdout,
         "kubectl apply creates the CRD", r.stdout + r.stderr)
    r = k("get", "crd")
    t.ok(r.returncode == 0 and r.stdout.split("\n")[0].split() == ["NAME", "CREATED", "AT"]
         and "mysqldatabases.example.com" in r.stdout, "kubectl get crd shows NAME and CREATED AT", r.stdout + r.stderr)
    r = k("get", "crd", "mysqldatabases.example.com", "-o", "json")
    conds = {c["type"]: c["status"] for c in json.loads(r.stdout)["status"]["conditions"]} if r.returncode == 0 else {}
    t.ok(conds.get("Established") == "True" and conds.get("NamesAccepted") == "True",
         "the CRD is Established with its names accepted", r.stdout + r.stderr)
    r = k("wait", "--for=condition=established", "--timeout=10s", "crd/mysqldatabases.example.com")
    t.ok(r.returncode == 0, "kubectl wait --for=condition=established", r.stdout + r.stderr)
    r = k("api-resources", "--api-group=example.com")
    t.ok(r.returncode == 0 and "mysqldatabases" in r.stdout and "mydb" in r.stdout and "MySQLDatabase" in r.stdout,
         "discovery lists the new resource with its short name", r.stdout + r.stderr)

    r = k("apply", "-f", "-", stdin=DB)
    t.ok(r.returncode == 0 and "mysqldatabase.example.com/db1 created" in r.stdout,
         "kubectl apply creates a custom resource (strict validation on)", r.stdout + r.stderr)
    r = k("get", "mydb")
    lines = r.stdout.strip().split("\n")
    t.ok(r.returncode == 0 and lines[0].split() == ["NAME", "ENGINE", "SIZE", "AGE"]
         and lines[1].split()[:3] == ["db1", "mysql", "10"], "kubectl get shows the printer columns and the default", r.stdout + r.stderr)
    r = k("get", "all")
    t.ok(r.returncode == 0 and "mysqldatabase.example.com/db1" in r.stdout, "the category all includes it", r.stdout + r.stderr)
    r = k("apply", "-f", "-", stdin=DB)
    t.ok(r.returncode == 0 and "mysqldatabase.example.com/db1 unchanged" in r.stdout, "applying again changes nothing", r.stdout + r.stderr)
    r = k("patch", "mydb", "db1", "--type=merge", "-p", '{"spec":{"sizeGi":20}}')
    r2 = k("get", "mydb", "db1", "-o", "jsonpath={.spec.sizeGi} {.metadata.generation}")
    t.ok(r.returncode == 0 and r2.stdout == "20 2", "a merge patch changes the object and its generation", r.stdout + r.stderr + r2.stdout)
    r = k("patch", "mydb", "db1", "-p", '{"spec":{"sizeGi":30}}')
    t.ok(r.returncode != 0 and "strategic merge patch" in r.stderr, "strategic merge patch is refused for custom resources as upstream", r.stdout + r.stderr)
    r = k("scale", "mydb", "db1", "--replicas=3")
    r2 = k("get", "mydb", "db1", "-o", "jsonpath={.spec.replicas}")
    t.ok(r.returncode == 0 and r2.stdout == "3", "kubectl scale uses the scale subresource", r.stdout + r.stderr + r2.stdout)

    r = k("apply", "-f", "-", stdin=BAD)
    err = r.stderr
    t.ok(r.returncode != 0 and 'spec.engine: Unsupported value: "oracle": supported values: "mysql", "mariadb"' in err,
         "an enum violation is rejected naming the field", err)
    t.ok("spec.sizeGi: Invalid value: 500: spec.sizeGi in body should be less than or equal to 100" in err,
         "a maximum violation is rejected naming the field", err)
    t.ok("spec.user in body should match '^[a-z]+$'" in err, "a pattern violation is rejected naming the field", err)
    r = k("apply", "-f", "-", stdin=DB.replace("user: alice", "user: alice\n  colour: red"))
    t.ok(r.returncode != 0 and 'unknown field "spec.colour"' in r.stderr, "an unknown field is rejected under strict validation", r.stderr)
    r = k("create", "-f", "-", stdin=DB.replace("db1", "db3").replace("  engine: mysql\n", ""))
    t.ok(r.returncode != 0 and "spec.engine: Required value" in r.stderr, "a missing required field is rejected", r.stderr)

    r = k("explain", "mysqldatabase.spec.engine")
    t.ok(r.returncode == 0 and "Database engine." in r.stdout, "kubectl explain reads the CRD schema", r.stdout + r.stderr)

    r = k("delete", "crd", "mysqldatabases.example.com")
    t.ok(r.returncode == 0, "kubectl delete crd", r.stdout + r.stderr)
    gone = False
    for _ in range(50):
        status, _, _ = srv.request("GET", "/apis/example.com/v1/namespaces/default/mysqldatabases/db1")
        if status == 404:
            gone = True
            break
        time.sleep(0.1)
    t.ok(gone, "the custom objects are gone with the CRD")
    status, _, body = srv.request("GET", "/apis/example.com/v1")
    t.ok(status == 404, "discovery no longer serves the group-version", body)
    r = k("apply", "-f", "-", stdin=CRD)
    r2 = k("get", "mydb")
    t.ok(r.returncode == 0 and r2.returncode == 0 and "No resources found" in r2.stderr,
         "re-creating the CRD serves an empty resource again", r.stdout + r.stderr + r2.stdout + r2.stderr)

    t.ok(srv.stop_clean(), "server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
