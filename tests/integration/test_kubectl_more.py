"""More kubectl against a real `k3c server --disable-agent`: CertificateSigningRequest
requestor and approval (`kubectl certificate approve|deny`), SelfSubjectRulesReview
(`kubectl auth can-i --list`), the kubernetes Service and system namespaces coming back
after a delete,
and `kubectl create -f` of a v1 Binding."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows, token_kubeconfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"

t = Tap()
srv = Server(extra_args=["--disable-agent"])
# A static token for a second cluster admin with a uid and an extra group, so the
# requestor fields of a CSR can be told apart from the certificate user's.
os.makedirs(os.path.join(srv.data_dir, "server"), mode=0o700, exist_ok=True)
with open(os.path.join(srv.data_dir, "server", "tokens.csv"), "w") as f:
    f.write('jane-token-0123456789,jane,uid-42,"system:masters,ops"\n')
srv.start()
k = Kube(t, srv)
jane = token_kubeconfig(srv, os.path.join(srv.tmp, "jane.kubeconfig"), "jane-token-0123456789")


def load_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return {}


def api(method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    st, _, out = srv.request(method, path, body=data, headers={"Content-Type": ctype})
    return st, load_json(out)


# ---- CertificateSigningRequest: requestor ----
with open(os.path.join(HERE, "fixtures", "catalog.yaml")) as f:
    REQUEST = re.search(r"^  request: (\S+)$", f.read(), re.M).group(1)


def csr_yaml(name):
    # username/groups/uid/extra from the client are ignored: the server sets them
    return k.write(name + ".yaml", """apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: %s
spec:
  request: %s
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 3600
  usages: [digital signature, client auth]
  username: mallory
  uid: forged
  groups: [system:masters, forged]
  extra:
    scopes: [forged]
""" % (name, REQUEST))


k.ok(["create", "-f", csr_yaml("alice")],
     out="certificatesigningrequest.certificates.k8s.io/alice created")
r = k.ok("get csr alice -o json")
spec = load_json(r.stdout).get("spec", {})
t.ok(spec.get("username") == "system:admin" and "uid" not in spec and "extra" not in spec
     and spec.get("groups") == ["system:masters", "system:authenticated"],
     "CSR create: spec.username/groups are the requesting user's (client values dropped)", spec)
k.ok(["--kubeconfig", jane, "create", "-f", csr_yaml("bob")],
     out="certificatesigningrequest.certificates.k8s.io/bob created")
r = k.ok("get csr bob -o json")
spec = load_json(r.stdout).get("spec", {})
t.ok(spec.get("username") == "jane" and spec.get("uid") == "uid-42"
     and spec.get("groups") == ["system:masters", "ops", "system:authenticated"],
     "CSR create by a token user: spec.username, uid and groups from the token", spec)
k.ok(["create", "-f", csr_yaml("carol")])
r = k.ok("get csr", check=lambda o: header(o) == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR",
                                                  "REQUESTEDDURATION", "CONDITION"])
got = {row[0]: row for row in rows(r.stdout)}
t.ok(got.get("alice", [""] * 6)[3:] == ["system:admin", "60m", "Pending"]
     and got.get("bob", [""] * 6)[3] == "jane",
     "get csr: REQUESTOR is the creator, CONDITION Pending before approval", r.stdout)

# ---- the approval subresource ----
r = k.ok(["get", "--raw", "/apis/certificates.k8s.io/v1"])
subs = {x.get("name"): x for x in load_json(r.stdout).get("resources", [])}
ap = subs.get("certificatesigningrequests/approval", {})
t.ok(ap.get("kind") == "CertificateSigningRequest" and ap.get("verbs") == ["get", "patch", "update"],
     "discovery lists certificatesigningrequests/approval (get, patch, update)", ap)

r = k.ok(["get", "--raw", "/openapi/v3/apis/certificates.k8s.io/v1"])
ops = load_json(r.stdout).get("paths", {}).get(CSR_PATH + "/{name}/approval", {})
t.ok(sorted(m for m in ops if m in ("get", "put", "patch", "post")) == ["get", "patch", "put"]
     and ops.get("put", {}).get("operationId")
     == "replaceCertificatesV1CertificateSigningRequestApproval",
     "OpenAPI v3 has …/{name}/approval with get, put, patch", sorted(ops))

k.ok("certificate approve alice",
     out="certificatesigningrequest.certificates.k8s.io/alice approved",
     name="kubectl certificate approve (approval only: no signer controller issues the "
          "certificate yet)")
k.ok("certificate deny bob", out="certificatesigningrequest.certificates.k8s.io/bob denied")
r = k.ok("get csr")
got = {row[0]: row for row in rows(r.stdout)}
t.ok(got.get("alice", [""])[-1] == "Approved" and got.get("bob", [""])[-1] == "Denied"
     and got.get("carol", [""])[-1] == "Pending",
     "get csr: CONDITION Approved / Denied / Pending", r.stdout)
r = k.ok("get csr alice -o json")
cond = (load_json(r.stdout).get("status", {}).get("conditions") or [{}])[0]
t.ok(cond.get("type") == "Approved" and cond.get("status") == "True"
     and cond.get("reason") == "KubectlApprove" and cond.get("lastUpdateTime")
     and cond.get("lastTransitionTime"),
     "approved condition: reason from kubectl, server filled lastUpdate/lastTransitionTime", cond)
k.fails("certificate approve bob", err='certificate signing request "bob" is already Denied')

st, body = api("GET", CSR_PATH + "/carol/approval")
t.ok(st == 200 and body.get("kind") == "CertificateSigningRequest"
     and body.get("metadata", {}).get("name") == "carol", "GET …/carol/approval returns the CSR",
     (st, body))
# only status.conditions change through approval: spec, certificate are kept
k.ok(["patch", "csr", "carol", "--subresource=approval", "--type=merge", "-p",
      json.dumps({"metadata": {"labels": {"seen": "yes"}},
                  "spec": {"username": "mallory", "expirationSeconds": 7200},
                  "status": {"certificate": "Zm9v", "conditions": [
                      {"type": "Approved", "status": "True", "reason": "ByPatch"}]}})],
     out="certificatesigningrequest.certificates.k8s.io/carol patched")
r = k.ok("get csr carol -o json")
obj = load_json(r.stdout)
t.ok(obj.get("spec", {}).get("username") == "system:admin"
     and obj.get("spec", {}).get("expirationSeconds") == 3600
     and "certificate" not in obj.get("status", {})
     and [c.get("reason") for c in obj.get("status", {}).get("conditions", [])] == ["ByPatch"]
     and obj.get("metadata", {}).get("labels") == {"seen": "yes"},
     "PATCH …/approval changes conditions (and metadata), not spec or status.certificate",
     obj)
k.fails(["patch", "csr", "carol", "--subresource=approval", "--type=merge", "-p",
         '{"status":{"conditions":[]}}'],
        err='The CertificateSigningRequest "carol" is invalid: status.conditions: Forbidden: '
            'updates may not remove a condition of type "Approved"')
k.fails(["patch", "csr", "carol", "--subresource=approval", "--type=merge", "-p",
         '{"status":{"conditions":[{"type":"Approved","status":"True"},'
         '{"type":"Denied","status":"True"}]}}'],
        err='status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions '
            'are mutually exclusive')
# PUT with the whole object, as client-go's UpdateApproval does
st, dave = api("POST", CSR_PATH, json.loads(json.dumps({
    "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
    "metadata": {"name": "dave"},
    "spec": {"request": REQUEST, "signerName": "example.com/edge", "usages": ["server auth"]}})))
dave.setdefault("status", {})["conditions"] = [{"type": "Approved", "status": "False"}]
st2, body = api("PUT", CSR_PATH + "/dave/approval", dave)
t.ok(st == 201 and st2 == 422 and 'Unsupported value: \\"False\\": supported values: \\"True\\"'
     in json.dumps(body.get("message", "")),
     "PUT …/approval: an Approved condition must have status True (422)", (st, st2, body))
dave["status"]["conditions"] = [{"type": "Denied", "status": "True", "reason": "NotOurs"}]
st, body = api("PUT", CSR_PATH + "/dave/approval", dave)
t.ok(st == 200 and body.get("status", {}).get("conditions", [{}])[0].get("type") == "Denied",
     "PUT …/approval with a Denied condition: 200", (st, body))
st, body = api("POST", CSR_PATH + "/dave/approval", dave)
t.ok(st == 405, "POST …/approval: 405 MethodNotAllowed", (st, body))

# ---- SelfSubjectRulesReview: kubectl auth can-i --list ----
r = k.ok("auth can-i --list", check=lambda o: header(o) == ["Resources", "Non-Resource", "URLs",
                                                              "Resource", "Names", "Verbs"])
t.ok(["*.*", "[]", "[]", "[*]"] in rows(r.stdout) and ["[*]", "[]", "[*]"] in rows(r.stdout),
     "auth can-i --list for system:masters: every verb on every resource and URL", r.stdout)
k.ok("create serviceaccount robot", out="serviceaccount/robot created")
token = k.ok("create token robot").stdout.strip()
robot = token_kubeconfig(srv, os.path.join(srv.tmp, "robot.kubeconfig"), token)
r = k.ok(["--kubeconfig", robot, "auth", "can-i", "--list"])
got = rows(r.stdout)
t.ok(["selfsubjectreviews.authentication.k8s.io", "[]", "[]", "[create]"] in got
     and ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in got
     and ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"] in got
     and ["[/api/*]", "[]", "[get]"] in got and ["[/version]", "[]", "[get]"] in got
     and not any(row[0] == "*.*" for row in got),
     "auth can-i --list for a service account: the self reviews and discovery reads only",
     r.stdout)
k.fails(["--kubeconfig", robot, "get", "pods"], err="Forbidden",
        name="the service account is indeed refused what the list does not hold")
st, body = api("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
               {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": {}})
t.ok(st == 400 and body.get("message") == "no namespace on request",
     "SelfSubjectRulesReview without spec.namespace: 400 no namespace on request", (st, body))
st, body = api("GET", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
t.ok(st == 405, "SelfSubjectRulesReview is create-only (GET: 405)", (st, body))
k.ok("api-resources --api-group=authorization.k8s.io", out="selfsubjectrulesreviews")

# ---- the kubernetes Service and Endpoints come back ----
k.ok("delete svc kubernetes", out='service "kubernetes" deleted')
k.ok("delete endpoints kubernetes", out='endpoints "kubernetes" deleted')
t0 = time.time()
r = k.wait_for("get svc kubernetes -o jsonpath={.spec.clusterIP}",
               lambda r: r.returncode == 0 and r.stdout == "10.43.0.1", timeout=15)
t.ok(r.returncode == 0 and r.stdout == "10.43.0.1",
     "svc/kubernetes is re-created with ClusterIP 10.43.0.1 within 15 s (%.1fs)"
     % (time.time() - t0), k.diag("get svc kubernetes", r))
r = k.wait_for("get endpoints kubernetes -o jsonpath={.subsets[0].ports[0].port}",
               lambda r: r.returncode == 0 and r.stdout == str(srv.port), timeout=15)
t.ok(r.returncode == 0 and r.stdout == str(srv.port),
     "endpoints/kubernetes is re-created with the API port", k.diag("get endpoints", r))

k.fails("delete ns kube-public", err='namespaces "kube-public" is forbidden: this namespace may not be deleted')

# ---- kubectl create -f of a v1 Binding ----
k.ok("run bound --image=busybox", out="pod/bound created")
binding = k.write("binding.yaml", """apiVersion: v1
kind: Binding
metadata:
  name: bound
target:
  apiVersion: v1
  kind: Node
  name: node-a
""")
# The server answers 201 with a Status {status: Success} like upstream's BindingREST; kubectl
# prints a Status through its name printer, so upstream prints this same line.
k.ok(["create", "-f", binding], out="status/<unknown> created",
     name="kubectl create -f binding.yaml: prints what it prints against upstream")
k.ok("get pod bound -o jsonpath={.spec.nodeName}", out="node-a",
     name="the Binding set spec.nodeName")
k.fails(["create", "-f", binding], err='pod bound is already assigned to node "node-a"')

# The system namespaces cannot be deleted (upstream's NamespaceLifecycle); kube-node-lease
# can, and comes back like upstream's system namespaces controller brings it back.
k.fails("delete ns default", err='namespaces "default" is forbidden: this namespace may not be deleted')
k.fails("delete ns kube-system", err='namespaces "kube-system" is forbidden: this namespace may not be deleted')
k.ok("delete ns kube-node-lease", out='namespace "kube-node-lease" deleted')
r = k.wait_for("get ns kube-node-lease -o jsonpath={.status.phase}",
               lambda r: r.returncode == 0 and r.stdout == "Active", timeout=25)
t.ok(r.returncode == 0 and r.stdout == "Active",
     "a deleted kube-node-lease namespace comes back within 25 s", k.diag("get ns kube-node-lease", r))
t.ok("bootstrap create" not in srv.log_text(), "no failed re-creates in the server log",
     srv.log_tail())

k.finish()
