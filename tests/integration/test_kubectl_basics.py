"""kubectl basics against a real `k3c server --disable-agent`: version, cluster-info,
discovery, namespaces, configmaps, secrets, contexts, services, tokens, auth,
describe, get all, explain, and a restart that keeps every object."""
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows, token_kubeconfig  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)

# ---- version, cluster-info, discovery
r = k.ok("version", out=["Client Version: v1.32", "Server Version: v1.32"])
k.ok("cluster-info", out=["Kubernetes control plane", "is running at", srv.url])
r = k.ok("api-resources", check=lambda o: header(o) == ["NAME", "SHORTNAMES", "APIVERSION",
                                                            "NAMESPACED", "KIND"])
res = {}
for row in rows(r.stdout):  # the first row of a name: metrics.k8s.io also serves nodes and pods
    res.setdefault(row[0], row)
t.ok(res.get("pods", [])[1:] == ["po", "v1", "true", "Pod"], "api-resources: pods row",
     res.get("pods"))
t.ok(res.get("namespaces", [])[1:] == ["ns", "v1", "false", "Namespace"],
     "api-resources: namespaces row", res.get("namespaces"))
t.ok(res.get("deployments", [])[1:] == ["deploy", "apps/v1", "true", "Deployment"],
     "api-resources: deployments row", res.get("deployments"))
t.ok("configmaps" in res and "secrets" in res and "services" in res
     and "serviceaccounts" in res, "api-resources lists configmaps, secrets, services, sa")
k.ok("api-versions", out=["apps/v1", "v1\n"])

# ---- namespaces
r = k.ok("get ns", check=lambda o: header(o) == ["NAME", "STATUS", "AGE"])
names = [row[0] for row in rows(r.stdout)]
t.ok("default" in names and "kube-system" in names, "get ns lists default and kube-system", r.stdout)
t.ok(all(row[1] == "Active" for row in rows(r.stdout)), "namespaces are Active", r.stdout)
k.ok("create namespace dev", out="namespace/dev created")
k.ok("get ns dev", check=lambda o: rows(o) and rows(o)[0][:2] == ["dev", "Active"])
k.fails("create namespace dev",
        err='Error from server (AlreadyExists): namespaces "dev" already exists')

# ---- configmaps and secrets
k.ok("create configmap x --from-literal=a=b", out="configmap/x created")
r = k.ok("get cm x -o json")
try:
    cm = json.loads(r.stdout)
except ValueError:
    cm = {}
t.ok(cm.get("data") == {"a": "b"} and cm.get("kind") == "ConfigMap"
     and cm.get("apiVersion") == "v1", "configmap data is a=b", r.stdout)
t.ok(cm.get("metadata", {}).get("uid") and cm["metadata"].get("resourceVersion")
     and cm["metadata"].get("creationTimestamp"), "configmap has uid, rv, creationTimestamp", r.stdout)
k.ok("get cm", check=lambda o: header(o) == ["NAME", "DATA", "AGE"]
     and any(row[:2] == ["x", "1"] for row in rows(o)))
k.fails("create configmap x --from-literal=a=c",
        err='error: failed to create configmap: configmaps "x" already exists')
k.fails("get cm nope", err='Error from server (NotFound): configmaps "nope" not found')

k.ok("create secret generic s --from-literal=p=q", out="secret/s created")
r = k.ok("get secret s -o jsonpath={.data.p}")
t.ok(base64.b64decode(r.stdout or "") == b"q", "secret data p is base64 of q", r.stdout)
k.ok("get secret s", check=lambda o: header(o) == ["NAME", "TYPE", "DATA", "AGE"]
     and rows(o) and rows(o)[0][:3] == ["s", "Opaque", "1"])
k.ok("describe secret s", out=["Name:         s", "Namespace:    default", "Type:  Opaque",
                               "p:  1 bytes"])

# ---- contexts
k.ok("config set-context --current --namespace=dev", out='Context "default" modified.')
k.ok("config view --minify -o jsonpath={..namespace}", out="dev")
k.ok("create configmap in-dev --from-literal=k=v", out="configmap/in-dev created")
k.ok("get cm in-dev -n dev", out="in-dev")
k.fails("get cm in-dev -n default",
        err='Error from server (NotFound): configmaps "in-dev" not found')
k.ok("get cm x -n default", out="x")
k.ok("config set-context --current --namespace=default", out='Context "default" modified.')

# ---- services
k.ok("create service clusterip web --tcp=80:8080", out="service/web created")
r = k.ok("get svc web", check=lambda o: header(o) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
                                                       "PORT(S)", "AGE"])
row = rows(r.stdout)[0] if rows(r.stdout) else []
t.ok(row[:2] == ["web", "ClusterIP"] and re.match(r"^10\.43\.\d+\.\d+$", row[2] if len(row) > 2 else "")
     and row[3:5] == ["<none>", "80/TCP"], "service web: ClusterIP with an allocated IP, 80/TCP", r.stdout)
k.ok("get svc kubernetes", out=["kubernetes", "ClusterIP", "443/TCP"])
k.ok("create service nodeport np --tcp=80:8080 --node-port=30080", out="service/np created")
k.ok("get svc np", check=lambda o: rows(o) and rows(o)[0][1] == "NodePort"
     and rows(o)[0][4] == "80:30080/TCP")
k.fails("create service nodeport np2 --tcp=81:8080 --node-port=30080",
        err=['error: failed to create NodePort service: Service "np2" is invalid: '
             'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated'])
r = k.ok("create service nodeport np3 --tcp=82:8080")
r = k.ok("get svc np3 -o jsonpath={.spec.ports[0].nodePort}",
         check=lambda o: o.isdigit() and 30000 <= int(o) <= 32767)
r = k.ok("describe svc web", check=lambda o: all(re.search(p, o, re.M) for p in (
    r"^Name: +web$", r"^Namespace: +default$", r"^Type: +ClusterIP$", r"^IP: +10\.43\.",
    r"^Port: +80-8080  80/TCP$", r"^TargetPort: +8080/TCP$", r"^Selector: +app=web$",
    r"^Session Affinity: +None$")))

# ---- pods and describe pod
pod = k.write("pod.yaml", """apiVersion: v1
kind: Pod
metadata:
  name: p1
  labels: {app: web}
spec:
  containers:
  - name: c
    image: nginx:1.27
    ports: [{containerPort: 80}]
""")
k.ok(["create", "-f", pod], out="pod/p1 created")
k.ok("get pods", check=lambda o: header(o) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
     and rows(o) and rows(o)[0][:4] == ["p1", "0/1", "Pending", "0"])
k.ok("describe pod p1", out=["Name:             p1", "Namespace:        default",
                             "Labels:           app=web", "Status:           Pending",
                             "Containers:", "  c:", "    Image:        nginx:1.27",
                             # the column shifts once the scheduler adds the Conditions section
                             "QoS Class:", "BestEffort"])

# ---- service accounts and tokens
# the ServiceAccount controller creates it soon after the namespace exists
r = k.wait_for("get sa default", lambda r: r.returncode == 0, timeout=10)
t.ok(r.returncode == 0 and rows(r.stdout) and rows(r.stdout)[0][:2] == ["default", "0"],
     "default ServiceAccount exists (SECRETS 0)", Kube.diag("get sa default", r))
r = k.ok("create token default", check=lambda o: len(o.strip()) > 20 and len(o.split()) == 1)
token = r.stdout.strip()
# a kubeconfig without the admin client certificate: x509 would win over the token
tkc = token_kubeconfig(srv, os.path.join(srv.tmp, "token.kubeconfig"))
k.ok(["--kubeconfig", tkc, "--token", token, "auth", "whoami"],
     out="system:serviceaccount:default:default",
     name="the token of sa/default authenticates (auth whoami --token)")
k.fails(["--kubeconfig", tkc, "--token", token[:-2] + "xx", "get", "ns"],
        err="error: You must be logged in to the server (Unauthorized)",
        name="a corrupted token is rejected with 401")
# (kubectl itself cannot send a request without credentials: with none in the
# kubeconfig it prompts for a password on the terminal)
st, _, body = srv.request("GET", "/api/v1/namespaces", client_cert=False)
t.ok(st == 401 and b'"reason":"Unauthorized"' in body.replace(b" ", b"") and b'"code":401' in body.replace(b" ", b""),
     "a request without credentials gets a 401 Unauthorized Status", (st, body))

# ---- auth
k.ok("auth can-i create pods", out="yes")
k.ok("auth can-i '*' '*'", out="yes")
k.ok("auth whoami", check=lambda o: header(o) == ["ATTRIBUTE", "VALUE"]
     and "system:admin" in o and "system:masters" in o)

# ---- dry run
k.ok("create configmap dry --from-literal=a=b --dry-run=server", out="configmap/dry created (server dry run)")
k.fails("get cm dry", err='configmaps "dry" not found')
k.ok("delete cm x --dry-run=server", out='configmap "x" deleted (server dry run)')
k.ok("get cm x", out="x")

# ---- get all, explain
k.ok("get all", out=["pod/p1", "service/kubernetes", "service/web", "service/np"],
     check=lambda o: "configmap" not in o)
k.ok("explain pods.spec.containers", out=["KIND:       Pod", "VERSION:    v1",
                                          "FIELD: containers <[]Container>", "DESCRIPTION:",
                                          "FIELDS:", "image\t<string>", "name\t<string> -required-"])

# ---- restart keeps every object
before = k.run("get all,cm,secret,sa,ns -A -o name").stdout
t.ok(srv.stop() == 0, "server stops on SIGTERM")
srv2 = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
k.srv = srv2
after = k.run("get all,cm,secret,sa,ns -A -o name").stdout
t.ok(before and sorted(before.splitlines()) == sorted(after.splitlines()),
     "after a restart every object is still there", "before:\n%s\nafter:\n%s" % (before, after))
k.ok("get cm x -o jsonpath={.data.a}", out="b")
k.ok("create configmap after-restart --from-literal=a=b", out="configmap/after-restart created")
rv_old = k.run("get cm x -o jsonpath={.metadata.resourceVersion}").stdout
rv_new = k.run("get cm after-restart -o jsonpath={.metadata.resourceVersion}").stdout
t.ok(rv_old.isdigit() and rv_new.isdigit() and int(rv_new) > int(rv_old),
     "resourceVersions keep growing after a restart", (rv_old, rv_new))

k.finish()
