"""Service-account tokens as signed JWTs in a real `k3c server --disable-agent` with
kubectl: `kubectl create token` (--duration, --audience, --bound-object-kind Pod and
Secret) gives ES256 JWTs with upstream's claims; the API accepts them for the right
audience only, while the ServiceAccount and bound object exist, after a server
restart, and refuses expired ones (signed here with the server's own key through
openssl) and tampered ones; legacy kubernetes.io/service-account-token Secrets are
filled (token, ca.crt, namespace) and their token works while the Secret exists; the
OIDC discovery documents publish the key whose kid the tokens carry."""
import base64
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, token_kubeconfig  # noqa: E402

ISSUER = "https://kubernetes.default.svc.cluster.local"

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)
KEY = os.path.join(srv.data_dir, "server", "tls", "service.key")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def parts(tok):
    """Header, claims and signature of a JWT; empty ones when tok is not one."""
    try:
        h, p, s = tok.split(".")
        return json.loads(b64d(h)), json.loads(b64d(p)), b64d(s)
    except ValueError:
        return {}, {}, b""


def api(tok, path="/apis/authentication.k8s.io/v1/selfsubjectreviews", body=None):
    """A request with only the bearer token (no client certificate)."""
    hdrs = {"Authorization": "Bearer " + tok}
    method = "GET"
    if body is not None:
        method, hdrs["Content-Type"] = "POST", "application/json"
        body = json.dumps(body)
    st, h, data = srv.request(method, path, body=body, headers=hdrs, client_cert=False)
    try:
        return st, h, json.loads(data)
    except ValueError:
        return st, h, data


def whoami_http(tok):
    st, _, obj = api(tok, body={"apiVersion": "authentication.k8s.io/v1",
                                "kind": "SelfSubjectReview"})
    ok = isinstance(obj, dict) and obj.get("kind") == "SelfSubjectReview"
    return st, (obj["status"]["userInfo"] if ok else None)


def whoami(tok, name):
    """kubectl auth whoami with a kubeconfig holding only the token."""
    cfg = token_kubeconfig(srv, os.path.join(srv.tmp, name + ".kubeconfig"), tok)
    return k.run(["--kubeconfig", cfg, "auth", "whoami", "-o", "json"])


def token(args, name=None):
    r = k.ok("create token " + args, name=name)
    return r.stdout.strip()


def uid_of(what):
    r = k.run("get %s -o jsonpath={.metadata.uid}" % what)
    return r.stdout.strip()


def sign(header, claims):
    """An ES256 token signed with the server's key by openssl (DER -> r||s)."""
    si = (b64e(json.dumps(header, separators=(",", ":")).encode()) + "." +
          b64e(json.dumps(claims, separators=(",", ":")).encode()))
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=si.encode(),
                         capture_output=True, check=True).stdout
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    ints = []
    for _ in range(2):
        assert der[i] == 2
        n = der[i + 1]
        ints.append(int.from_bytes(der[i + 2:i + 2 + n], "big"))
        i += 2 + n
    return si + "." + b64e(ints[0].to_bytes(32, "big") + ints[1].to_bytes(32, "big"))


def review(token_, auds=None):
    spec = {"token": token_}
    if auds is not None:
        spec["audiences"] = auds
    st, _, b = srv.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                           body=json.dumps({"apiVersion": "authentication.k8s.io/v1",
                                            "kind": "TokenReview", "spec": spec}),
                           headers={"Content-Type": "application/json"})
    return st, json.loads(b)


def wait(cond, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


GROUPS = ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]

# ---- create token default: the JWT and its claims
wait(lambda: uid_of("sa default"))
sa_uid = uid_of("sa default")
tok = token("default")
hdr, claims, sig = parts(tok)
t.ok(hdr.get("alg") == "ES256" and len(hdr.get("kid", "")) == 43 and len(sig) == 64,
     "create token default: a 3-part JWT, header alg ES256 with a kid, 64-byte signature",
     (hdr, len(sig)))
t.ok(claims.get("iss") == ISSUER and claims.get("sub") == "system:serviceaccount:default:default"
     and claims.get("aud") == [ISSUER] and claims["exp"] - claims["iat"] == 3600
     and claims.get("nbf") == claims.get("iat") and abs(claims["iat"] - time.time()) < 60
     and str(uuid.UUID(claims.get("jti"))) == claims.get("jti"),
     "claims: iss and aud the issuer, sub, iat = nbf = now, exp one hour later, a UUID jti",
     claims)
t.ok(claims.get("kubernetes.io") == {"namespace": "default",
                                     "serviceaccount": {"name": "default", "uid": sa_uid}},
     "claims: kubernetes.io names the namespace and the ServiceAccount with its uid",
     (claims, sa_uid))

r = whoami(tok, "default")
ui = json.loads(r.stdout).get("status", {}).get("userInfo", {}) if r.returncode == 0 else {}
t.ok(ui.get("username") == "system:serviceaccount:default:default" and ui.get("uid") == sa_uid
     and ui.get("groups") == GROUPS
     and ui.get("extra", {}).get("authentication.kubernetes.io/credential-id")
     == ["JTI=" + claims["jti"]],
     "kubectl --token auth whoami: the service account, its uid, groups and credential-id",
     k.diag("auth whoami", r))
st, _, obj = api(tok, "/api/v1/namespaces/default/pods")
t.ok(st == 403 and "system:serviceaccount:default:default" in obj.get("message", ""),
     "the token is authenticated but RBAC still applies (403 listing pods)", (st, obj))

tok2h = token("default --duration 2h")
_, c2, _ = parts(tok2h)
t.ok(c2["exp"] - c2["iat"] == 7200, "--duration 2h: exp is 7200 s after iat", c2)
k.fails("create token default --duration 5m", err="may not specify a duration less than 10 minutes",
        name="--duration 5m refused with upstream's message")

# ---- audiences
tfoo = token("default --audience foo")
_, cf, _ = parts(tfoo)
t.ok(cf.get("aud") == ["foo"], "--audience foo: aud is [foo]", cf)
st, _ = whoami_http(tfoo)
t.ok(st == 401, "a token for audience foo is refused (401)", st)
r = whoami(tfoo, "foo")
t.ok(r.returncode != 0 and "Unauthorized" in r.stderr, "kubectl with it: Unauthorized",
     k.diag("auth whoami", r))
tboth = token("default --audience foo --audience " + ISSUER)
st, _ = whoami_http(tboth)
t.ok(st == 201, "a token for [foo, issuer] is accepted (the audiences intersect)", st)

# ---- bound to a pod
k.ok("run p --image=busybox --restart=Never", out="pod/p created")
pod_uid = uid_of("pod p")
tp = token("default --bound-object-kind Pod --bound-object-name p")
_, cp, _ = parts(tp)
t.ok(cp["kubernetes.io"].get("pod") == {"name": "p", "uid": pod_uid},
     "a pod-bound token carries the pod's name and uid", (cp, pod_uid))
st, ui = whoami_http(tp)
t.ok(st == 201 and ui.get("extra", {}).get("authentication.kubernetes.io/pod-name") == ["p"]
     and ui["extra"].get("authentication.kubernetes.io/pod-uid") == [pod_uid],
     "the pod-bound token is accepted; extra pod-name and pod-uid", (st, ui))
k.fails("create token default --bound-object-kind Pod --bound-object-name nope",
        err='pods "nope" not found', name="binding to a missing pod: NotFound")
k.ok("create sa other", out="serviceaccount/other created")
k.fails("create token other --bound-object-kind Pod --bound-object-name p",
        err='cannot bind token for serviceaccount "other" to pod running with different '
            'serviceaccount name.',
        name="binding to a pod of another service account refused as upstream")
k.ok("delete pod p --wait=true", out='pod "p" deleted')
st, _ = whoami_http(tp)
t.ok(st == 401, "the pod-bound token is refused once the pod is deleted (401)", st)
st, rv = review(tp)
t.ok(rv.get("status", {}).get("error") == "service account token has been invalidated",
     "TokenReview says why: service account token has been invalidated", rv)

# ---- bound to a secret
k.ok("create secret generic s --from-literal=a=b", out="secret/s created")
ts = token("default --bound-object-kind Secret --bound-object-name s")
_, cs, _ = parts(ts)
t.ok(cs["kubernetes.io"].get("secret") == {"name": "s", "uid": uid_of("secret s")},
     "a secret-bound token carries the secret's name and uid", cs)
st, _ = whoami_http(ts)
t.ok(st == 201, "the secret-bound token is accepted", st)
k.ok("delete secret s", out='secret "s" deleted')
st, _ = whoami_http(ts)
t.ok(st == 401, "the secret-bound token is refused once the secret is deleted (401)", st)

# ---- bound to a node, and a pod's node
k.ok("apply -f " + k.write("node.yaml", """apiVersion: v1
kind: Node
metadata:
  name: n1
"""), out="node/n1 created")
node_uid = uid_of("node n1")
tn1 = token("default --bound-object-kind Node --bound-object-name n1")
_, cn1, _ = parts(tn1)
t.ok(cn1["kubernetes.io"].get("node") == {"name": "n1", "uid": node_uid}
     and "pod" not in cn1["kubernetes.io"],
     "a node-bound token carries the node's name and uid", (cn1, node_uid))
st, ui = whoami_http(tn1)
t.ok(st == 201 and ui.get("extra", {}).get("authentication.kubernetes.io/node-name") == ["n1"]
     and ui["extra"].get("authentication.kubernetes.io/node-uid") == [node_uid],
     "the node-bound token is accepted; extra node-name and node-uid", (st, ui))
pod_on = lambda name, node: k.write(name + ".yaml", """apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeName: %s
  containers:
  - name: c
    image: busybox
""" % (name, node))
k.ok("apply -f " + pod_on("on-n1", "n1"), out="pod/on-n1 created")
k.ok("apply -f " + pod_on("on-ghost", "ghost"), out="pod/on-ghost created")
_, cpn, _ = parts(token("default --bound-object-kind Pod --bound-object-name on-n1"))
_, cpg, _ = parts(token("default --bound-object-kind Pod --bound-object-name on-ghost"))
t.ok(cpn["kubernetes.io"].get("node") == {"name": "n1", "uid": node_uid}
     and cpg["kubernetes.io"].get("node") == {"name": "ghost"},
     "a pod-bound token names the pod's node, with its uid only when the Node exists",
     (cpn, cpg))
k.fails("create token default --bound-object-kind Node --bound-object-name nope",
        err='nodes "nope" not found', name="binding to a missing node: NotFound")
k.ok("delete node n1", out='node "n1" deleted')
st, _ = whoami_http(tn1)
t.ok(st == 401, "the node-bound token is refused once the node is deleted (401)", st)
st, _, obj = srv.request("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                         body=json.dumps({"apiVersion": "authentication.k8s.io/v1",
                                          "kind": "TokenRequest",
                                          "spec": {"boundObjectRef": {"kind": "ConfigMap",
                                                                      "apiVersion": "v1",
                                                                      "name": "x"}}}),
                         headers={"Content-Type": "application/json"})
obj = json.loads(obj)
t.ok(st == 400 and obj.get("message") == "cannot bind token to object of type /v1, Kind=ConfigMap",
     "binding to a ConfigMap: 400 with upstream's message", (st, obj))

# ---- TokenReview (as the admin): the same authenticator, audiences negotiated
st, rv = review(tok)
rs = rv.get("status", {})
t.ok(st == 201 and rv.get("kind") == "TokenReview" and rs.get("authenticated") is True
     and rs.get("audiences") == [ISSUER]
     and rs.get("user", {}).get("username") == "system:serviceaccount:default:default"
     and rs["user"].get("uid") == sa_uid and rs["user"].get("groups") == GROUPS
     and rs["user"].get("extra", {}).get("authentication.kubernetes.io/credential-id")
     == ["JTI=" + claims["jti"]],
     "TokenReview of a service-account token: authenticated, user, extra, audiences", (st, rv))
st, rv = review(tfoo, ["foo", "bar"])
t.ok(st == 201 and rv["status"].get("authenticated") is True
     and rv["status"].get("audiences") == ["foo"],
     "TokenReview for audiences [foo, bar] of a foo token: authenticated for [foo]", (st, rv))
st, rv = review(tok, ["foo"])
t.ok(st == 201 and not rv["status"].get("authenticated") and "audiences" not in rv["status"]
     and rv["status"].get("error") == 'token audiences ["%s"] is invalid for the target '
     'audiences ["foo"]' % ISSUER,
     "TokenReview for [foo] of an issuer-audience token: refused with upstream's reason",
     (st, rv))
st, rv = review(tok[:-4] + "AAAA")
t.ok(st == 201 and not rv["status"].get("authenticated") and rv["status"].get("user") == {}
     and rv["status"].get("error") == "invalid signature",
     "TokenReview of a bad signature: not authenticated, empty user, the reason", (st, rv))
st, rv = review("no-such-token")
t.ok(st == 201 and not rv["status"].get("authenticated") and "error" not in rv["status"],
     "TokenReview of a token nothing knows: not authenticated, no error", (st, rv))
st, rv = review("")
t.ok(st == 400 and rv.get("message") == "token is required for TokenReview in "
     "authentication.k8s.io/__internal", "TokenReview without a token: 400", (st, rv))
r = k.run(["create", "-o", "json", "-f", "-"], input=json.dumps(
    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": tok}}))
t.ok(r.returncode == 0 and json.loads(r.stdout)["status"]["user"]["username"]
     == "system:serviceaccount:default:default", "kubectl create -f TokenReview -o json",
     k.diag("create -f tokenreview", r))
st, _, obj = api(tok, "/apis/authentication.k8s.io/v1/tokenreviews",
                 {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "spec": {"token": tok}})
t.ok(st == 403, "a service account without system:auth-delegator may not review tokens", (st, obj))

# ---- hostile TokenRequests and tokens: clear errors, no crash
TR = "/api/v1/namespaces/default/serviceaccounts/default/token"
bodies = [
    ({"spec": "x"}, 400),
    ({"spec": {"audiences": "foo"}}, 400),
    ({"spec": {"audiences": [1]}}, 400),
    ({"spec": {"unknownField": 1}}, 201),
    ({"spec": {"audiences": [""]}}, 422),
    ({"spec": {"expirationSeconds": "3600"}}, 400),
    ({"spec": {"boundObjectRef": {"kind": 1, "name": ["p"]}}}, 400),
    ({"spec": {"boundObjectRef": {"kind": "Pod"}}}, 422),
    ({"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "apps/v1", "name": "p"}}}, 400),
    ([1, 2], 400),
]
got = []
for body, want in bodies:
    st, _, b = srv.request("POST", TR, body=json.dumps(body),
                           headers={"Content-Type": "application/json"})
    got.append((st, want, body, b[:200]))
t.ok(all(st == want for st, want, _, _ in got),
     "malformed TokenRequests: 400 for wrong types, 422 for invalid values, never a crash",
     got)
st, _, b = srv.request("POST", TR, body=json.dumps({"spec": {"expirationSeconds": "3600"}}),
                       headers={"Content-Type": "application/json"})
msg = json.loads(b).get("message", "")
t.ok(msg.startswith('TokenRequest in version "v1" cannot be handled as a TokenRequest: ')
     and "expirationSeconds" in msg, "a wrong type is named in upstream's decoding frame", msg)
for bad in ["a.b.c", "e30.e30.", "." * 3000, "x" * 8000 + "." + "y" * 8000 + ".z",
            b64e(b'{"alg":"ES256"}') + "." + b64e(b"[]") + "." + "A" * 86]:
    st, _ = whoami_http(bad)
    if st != 401:
        break
t.ok(st == 401, "garbage bearer tokens of JWT shape: 401", (st, bad[:80]))
st, _, _ = srv.request("GET", "/readyz", client_cert=False)
t.ok(st == 200, "the server is still up", st)

# ---- tokens built here with the server's key
now = int(time.time())
base = {"aud": [ISSUER], "iss": ISSUER, "jti": str(uuid.uuid4()),
        "kubernetes.io": {"namespace": "default",
                          "serviceaccount": {"name": "default", "uid": sa_uid}},
        "sub": "system:serviceaccount:default:default"}
good = sign(hdr, dict(base, iat=now, nbf=now, exp=now + 600))
st, _ = whoami_http(good)
t.ok(st == 201, "control: a token signed here with service.key is accepted", st)
expired = sign(hdr, dict(base, iat=now - 4000, nbf=now - 4000, exp=now - 400))
st, _ = whoami_http(expired)
t.ok(st == 401, "the same token expired 400 s ago is refused (401)", st)
st, rv = review(expired)
t.ok(rv.get("status", {}).get("error") == "service account token has expired",
     "TokenReview says why: service account token has expired", rv)
skew = sign(hdr, dict(base, iat=now - 4000, nbf=now - 4000, exp=now - 30))
st, _ = whoami_http(skew)
t.ok(st == 201, "expired 30 s ago: still inside upstream's 60 s leeway", st)
future = sign(hdr, dict(base, iat=now, nbf=now + 600, exp=now + 1200))
st, _ = whoami_http(future)
t.ok(st == 401, "nbf 10 minutes ahead: refused (401)", st)
other_iss = sign(hdr, dict(base, iss="https://evil.example", iat=now, nbf=now, exp=now + 600))
st, _ = whoami_http(other_iss)
t.ok(st == 401, "an issuer the server does not accept: refused (401)", st)
gone_sa = sign(hdr, dict(base, iat=now, nbf=now, exp=now + 600,
                         **{"kubernetes.io": {"namespace": "default", "serviceaccount":
                                              {"name": "default", "uid": str(uuid.uuid4())}}}))
st, _ = whoami_http(gone_sa)
t.ok(st == 401, "a ServiceAccount uid that is not the stored one: refused (401)", st)

h64, p64, s64 = tok.split(".")
sb = bytearray(b64d(s64))
sb[10] ^= 0x01
st, _ = whoami_http(h64 + "." + p64 + "." + b64e(bytes(sb)))
t.ok(st == 401, "a flipped signature byte: refused (401)", st)
none = b64e(b'{"alg":"none"}') + "." + p64 + "."
st, _ = whoami_http(none)
t.ok(st == 401, "alg none without a signature: refused (401)", st)

# ---- legacy token Secrets
k.ok("create sa robot", out="serviceaccount/robot created")
robot_uid = wait(lambda: uid_of("sa robot"))
k.ok("apply -f " + k.write("legacy.yaml", """apiVersion: v1
kind: Secret
metadata:
  name: robot-token
  annotations:
    kubernetes.io/service-account.name: robot
type: kubernetes.io/service-account-token
"""), out="secret/robot-token created")


def filled():
    r = k.run("get secret robot-token -o json")
    if r.returncode != 0:
        return None
    s = json.loads(r.stdout)
    d = s.get("data", {})
    return s if all(x in d for x in ("token", "ca.crt", "namespace")) else None


sec = wait(filled)
data = sec.get("data", {}) if sec else {}
with open(srv.ca_file, "rb") as f:
    ca = f.read()
t.ok(sec is not None and base64.b64decode(data["ca.crt"]) == ca
     and base64.b64decode(data["namespace"]) == b"default"
     and sec["metadata"]["annotations"].get("kubernetes.io/service-account.uid") == robot_uid,
     "the legacy Secret is filled: ca.crt the cluster CA, namespace, the SA uid annotation", sec)
legacy = base64.b64decode(data.get("token", "")).decode() if sec else "not-filled"
_, lc, _ = parts(legacy)
t.ok(lc == {"iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "robot-token",
            "kubernetes.io/serviceaccount/service-account.name": "robot",
            "kubernetes.io/serviceaccount/service-account.uid": robot_uid,
            "sub": "system:serviceaccount:default:robot"},
     "the legacy token has upstream's legacy claims and no exp", lc)
r = whoami(legacy, "legacy")
ui = json.loads(r.stdout).get("status", {}).get("userInfo", {}) if r.returncode == 0 else {}
t.ok(ui.get("username") == "system:serviceaccount:default:robot"
     and ui.get("groups") == GROUPS,
     "kubectl with the legacy token: system:serviceaccount:default:robot",
     k.diag("auth whoami", r))
# an edited ca.crt is put back; the token already handed out stays the same
k.ok(["patch", "secret", "robot-token", "--type=merge", "-p",
      json.dumps({"data": {"ca.crt": base64.b64encode(b"junk").decode()}})],
     out="secret/robot-token patched")
sec2 = wait(lambda: (lambda s: s if s and base64.b64decode(s["data"]["ca.crt"]) == ca else None)(
    filled()))
t.ok(sec2 is not None and sec2["data"]["token"] == data["token"],
     "an edited ca.crt is restored and the token is kept", sec2)
k.ok("delete secret robot-token", out='secret "robot-token" deleted')
st, _ = whoami_http(legacy)
t.ok(st == 401, "the legacy token is refused once its Secret is deleted (401)", st)
# a token Secret goes with its ServiceAccount
k.ok("apply -f " + k.write("legacy2.yaml", """apiVersion: v1
kind: Secret
metadata:
  name: robot-token2
  annotations:
    kubernetes.io/service-account.name: robot
type: kubernetes.io/service-account-token
"""), out="secret/robot-token2 created")
r = k.wait_for("get secret robot-token2 -o jsonpath={.data.token}", lambda r: r.stdout.strip())
legacy2 = base64.b64decode(r.stdout.strip() or "").decode()
st, _ = whoami_http(legacy2)
t.ok(st == 201, "a second legacy token for robot is accepted", st)
k.ok("delete sa robot", out='serviceaccount "robot" deleted')
st, _ = whoami_http(legacy2)
t.ok(st == 401, "its token is refused once the ServiceAccount is deleted (401)", st)
r = k.wait_for("get secret robot-token2", lambda r: r.returncode != 0)
t.ok(r.returncode != 0 and "NotFound" in r.stderr,
     "the token Secret of a deleted ServiceAccount is deleted", k.diag("get secret", r))
k.ok("apply -f " + k.write("ghost.yaml", """apiVersion: v1
kind: Secret
metadata:
  name: ghost-token
  annotations:
    kubernetes.io/service-account.name: ghost
type: kubernetes.io/service-account-token
"""), out="secret/ghost-token created")
r = k.wait_for("get secret ghost-token", lambda r: r.returncode != 0)
t.ok(r.returncode != 0 and "NotFound" in r.stderr,
     "a token Secret naming a missing ServiceAccount is deleted", k.diag("get secret", r))

# ---- OIDC discovery
st, h, cfg = api(tok, "/.well-known/openid-configuration")
t.ok(st == 200 and cfg.get("issuer") == ISSUER
     and cfg.get("jwks_uri") == ISSUER + "/openid/v1/jwks"
     and cfg.get("id_token_signing_alg_values_supported") == ["ES256"]
     and cfg.get("response_types_supported") == ["id_token"]
     and cfg.get("subject_types_supported") == ["public"],
     "/.well-known/openid-configuration for a service account: issuer, jwks_uri, ES256",
     (st, cfg))
st, h, jwks = api(tok, "/openid/v1/jwks")
key = (jwks.get("keys") or [{}])[0] if isinstance(jwks, dict) else {}
pub = subprocess.run(["openssl", "ec", "-in", KEY, "-pubout", "-outform", "DER"],
                     capture_output=True, check=True).stdout
t.ok(st == 200 and h.get("content-type") == "application/jwk-set+json"
     and key.get("kid") == hdr["kid"] and key.get("kty") == "EC" and key.get("crv") == "P-256"
     and key.get("alg") == "ES256" and key.get("use") == "sig"
     and b64d(key.get("x", "")) == pub[-64:-32] and b64d(key.get("y", "")) == pub[-32:],
     "/openid/v1/jwks: one EC P-256 key, kid equal to the tokens', x/y of service.key",
     (st, h.get("content-type"), jwks))
import hashlib  # noqa: E402
t.ok(hdr["kid"] == b64e(hashlib.sha256(pub).digest()),
     "kid is base64url(SHA-256(SubjectPublicKeyInfo DER)) of service.key", hdr)
st, _, _ = srv.request("GET", "/openid/v1/jwks", client_cert=False)
t.ok(st == 401, "discovery without credentials: 401", st)

# ---- restart: the key and the tokens survive
mode = os.stat(KEY).st_mode & 0o777
t.ok(mode == 0o600, "service.key is mode 0600", oct(mode))
with open(KEY) as f:
    key_before = f.read()
t.ok(srv.stop_clean(), "server stopped cleanly", srv.log_tail())
srv = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp,
             port=srv.port).start()
k.srv = srv
with open(KEY) as f:
    t.ok(f.read() == key_before, "service.key is kept across restarts")
r = whoami(tok, "restart")
t.ok(r.returncode == 0 and "system:serviceaccount:default:default" in r.stdout,
     "the token from before the restart is still accepted", k.diag("auth whoami", r))

# ---- another issuer and audience
t.ok(srv.stop_clean(), "server stopped cleanly", srv.log_tail())
srv = Server(extra_args=["--disable-agent", "--debug", "--service-account-issuer",
                         "https://k3c.example",
                         "--service-account-issuer", ISSUER, "--api-audiences", "api,"
                         + ISSUER], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
k.srv = srv
tn = token("default")
_, cn, _ = parts(tn)
t.ok(cn.get("iss") == "https://k3c.example" and cn.get("aud") == ["api", ISSUER],
     "--service-account-issuer signs with the first; aud defaults to --api-audiences", cn)
st, _ = whoami_http(tn)
st_old, _ = whoami_http(tok)
t.ok(st == 201 and st_old == 201, "tokens of both issuers are accepted", (st, st_old))
st, _, cfg = api(tn, "/.well-known/openid-configuration")
t.ok(cfg.get("issuer") == "https://k3c.example", "discovery names the first issuer", cfg)
st, _ = whoami_http(expired)
t.ok(st == 401 and "bearer token refused: service account token has expired" in srv.log_text(),
     "the client hears 401; the --debug log says why", (st, srv.log_tail(5)))
k.finish()
