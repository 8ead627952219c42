"""The cluster PKI (docs/PKI.md): three CAs made at the first start (server, client,
request-header) under <data-dir>/server/tls with k3s's names; each certificate carries the
extended key usage of its role (openssl x509 -text); the API refuses, with a 401 saying why, a
client certificate without clientAuth and one signed by the server CA; the token's K10 hash is
the sha256 of /cacerts; a single-CA data dir of an older k3c starts, keeps its CA, admin
certificate and joined node; and a joined agent whose certificates last a minute
(K3C_CERT_LEAF_SECONDS) renews them with its client certificate, without the token (the server's
token changed meanwhile), and keeps its Node."""
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import (SANITIZER_MARKS, Server, Tap, join_agent, node_kubeconfig,  # noqa: E402
                     wait_until)

t = Tap()
procs = []


def sh(cmd):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (cmd, r.stderr))
    return r.stdout


def x509(path):
    return sh("openssl x509 -noout -text -in %s" % path)


def subject(path):
    return sh("openssl x509 -noout -subject -nameopt RFC2253 -in %s" % path).strip()[8:]


def issuer(path):
    return sh("openssl x509 -noout -issuer -nameopt RFC2253 -in %s" % path).strip()[7:]


def text(path):
    with open(path, errors="replace") as f:
        return f.read()


def make_cert(d, name, ca_crt, ca_key, subj, eku=None, days=1):
    """An EC P-256 key and certificate signed by ca (openssl); returns (crt, key) paths."""
    key, csr, crt, ext = ["%s/%s.%s" % (d, name, s) for s in ("key", "csr", "crt", "ext")]
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
        if eku:
            f.write("extendedKeyUsage=%s\n" % eku)
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '%s' "
       "-keyout %s -out %s 2>/dev/null" % (subj, key, csr))
    sh("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -days %d -extfile %s -out %s "
       "2>/dev/null" % (csr, ca_crt, ca_key, days, ext, crt))
    return crt, key


def make_ca(d, name, cn):
    key, crt = "%s/%s.key" % (d, name), "%s/%s.crt" % (d, name)
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 "
       "-subj '/CN=%s' -addext basicConstraints=critical,CA:TRUE "
       "-addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature "
       "-keyout %s -out %s 2>/dev/null" % (cn, key, crt))
    return crt, key


def get(srv, path, cert=None, ca=None):
    """GET over TLS verifying the server with ca (default the kubeconfig's), presenting cert
    (crt, key) or none: (status, body bytes)."""
    ctx = ssl.create_default_context(cafile=ca or srv.ca_file)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=15),
                        server_hostname="localhost")
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def stop(p):
    if p.poll() is None:
        p.terminate()
    try:
        return p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


# ---- a fresh server: three CAs and the usages ----
srv = Server().start()
tls = os.path.join(srv.data_dir, "server", "tls")
f = {n: os.path.join(tls, n) for n in os.listdir(tls)}
want = ["server-ca.crt", "server-ca.key", "client-ca.crt", "client-ca.key",
        "request-header-ca.crt", "request-header-ca.key", "serving-kube-apiserver.crt",
        "client-admin.crt", "client-kube-apiserver.crt", "client-auth-proxy.crt", "service.key"]
t.ok(all(n in f for n in want), "the three CAs and the leaves are in server/tls", sorted(f))
cas = {n: x509(f[n + ".crt"]) for n in ("server-ca", "client-ca", "request-header-ca")}
subjects = {n: subject(f[n + ".crt"]) for n in cas}
t.ok(all("CA:TRUE" in v and "Certificate Sign" in v for v in cas.values()) and
     len(set(subjects.values())) == 3 and
     all(subjects[n] == issuer(f[n + ".crt"]) for n in cas),
     "three distinct self-signed CAs (CA:TRUE, keyCertSign)", subjects)
SA, CA = "TLS Web Server Authentication", "TLS Web Client Authentication"
leaves = {"serving-kube-apiserver.crt": ("server-ca", SA, CA),
          "client-admin.crt": ("client-ca", CA, SA),
          "client-kube-apiserver.crt": ("client-ca", CA, SA),
          "client-auth-proxy.crt": ("request-header-ca", CA, SA)}
bad = []
for name, (ca, has, hasnt) in leaves.items():
    txt = x509(f[name])
    if issuer(f[name]) != subjects[ca] or has not in txt or hasnt in txt or "CA:FALSE" not in txt:
        bad.append((name, issuer(f[name]), txt[txt.find("X509v3 Extended"):][:120]))
    sh("openssl verify -CAfile %s %s" % (f[ca + ".crt"], f[name]))
t.ok(not bad, "each leaf is signed by its CA with its usage only (serverAuth serving, clientAuth "
     "clients)", bad)

t.ok(open(srv.ca_file).read() == text(f["server-ca.crt"]) and
     open(srv.cert_file).read() == text(f["client-admin.crt"]),
     "the kubeconfig carries the server CA and the admin certificate")
status, cacerts = get(srv, "/cacerts")
token = text(os.path.join(srv.data_dir, "server", "node-token")).strip()
t.ok(status == 200 and cacerts == open(f["server-ca.crt"], "rb").read() and
     token.startswith("K10" + hashlib.sha256(cacerts).hexdigest() + "::server:"),
     "the token's K10 hash is the sha256 of /cacerts, the server CA", token[:70])
t.ok(srv.kubectl("get", "ns", "default").returncode == 0, "kubectl works with the kubeconfig")

# ---- refused client certificates ----
d = os.path.join(srv.tmp, "certs")
os.makedirs(d)
masters = "/CN=mallory/O=system:masters"
no_client = make_cert(d, "srvonly", f["client-ca.crt"], f["client-ca.key"], masters, "serverAuth")
no_eku = make_cert(d, "noeku", f["client-ca.crt"], f["client-ca.key"], masters)
by_server = make_cert(d, "byserver", f["server-ca.crt"], f["server-ca.key"], masters, "clientAuth")
good = make_cert(d, "good", f["client-ca.crt"], f["client-ca.key"], masters, "clientAuth")
for cert, why, name in (
        (no_client, b"extended key usage does not include clientAuth",
         "signed by the client CA but serverAuth only"),
        (no_eku, b"extended key usage does not include clientAuth",
         "signed by the client CA without any extendedKeyUsage"),
        (by_server, b"not signed by the cluster's client CA", "signed by the server CA")):
    status, body = get(srv, "/api/v1/namespaces", cert)
    t.ok(status == 401 and why in body and json.loads(body).get("reason") == "Unauthorized",
         "a client certificate %s is refused: 401 saying why" % name, (status, body[:300]))
status, body = get(srv, "/api/v1/namespaces", good)
t.ok(status == 200, "the same subject signed by the client CA with clientAuth is accepted",
     (status, body[:200]))
status, body = get(srv, "/v1-k3s/client-kubelet.crt", by_server)
t.ok(status == 401 and b"not signed by the cluster's client CA" in body,
     "the join endpoints refuse a certificate of the server CA too", (status, body[:300]))

st1, body1 = get(srv, "/v1-k3s/client-ca.crt", (srv.cert_file, srv.key_file))
st2, body2 = get(srv, "/v1-k3s/client-ca.crt")
t.ok(st1 == 200 and body1 == open(f["client-ca.crt"], "rb").read() and st2 == 401,
     "/v1-k3s/client-ca.crt gives the client CA to a client with a certificate, 401 without",
     (st1, st2, body2[:200]))

# a joined node: its certificates by the right CAs
p, log = join_agent(srv, "fresh", "fresh", token)
procs.append(p)
agent_dir = os.path.join(srv.tmp, "fresh", "agent")
joined = wait_until(lambda: "joined" in text(log) and os.path.exists(
    os.path.join(agent_dir, "client-ca.crt")), timeout=60)
ad = {n: os.path.join(agent_dir, n) for n in ("server-ca.crt", "client-ca.crt",
                                             "client-kubelet.crt", "serving-kubelet.crt")}
ok = joined and text(ad["server-ca.crt"]) == text(f["server-ca.crt"]) and \
    text(ad["client-ca.crt"]) == text(f["client-ca.crt"])
if ok:
    ck, sv = x509(ad["client-kubelet.crt"]), x509(ad["serving-kubelet.crt"])
    ok = issuer(ad["client-kubelet.crt"]) == subjects["client-ca"] and CA in ck and SA not in ck \
        and issuer(ad["serving-kubelet.crt"]) == subjects["server-ca"] and SA in sv and CA not in sv
t.ok(ok, "a joined node has the server CA, the client CA, a clientAuth certificate of the client "
     "CA and a serverAuth one of the server CA", text(log)[-1500:])
stop(p)
t.ok(srv.stop_clean(), "the server stops cleanly", srv.log_tail())

# ---- an older k3c's single-CA data dir ----
old = Server()
otls = os.path.join(old.data_dir, "server", "tls")
os.makedirs(otls, mode=0o700)
ocrt, okey = make_ca(otls, "server-ca", "k3c-server-ca@1700000000")
oadmin = make_cert(otls, "client-admin", ocrt, okey, "/CN=system:admin/O=system:masters",
                   "clientAuth", days=365)
for ext in (".csr", ".ext"):
    os.unlink(os.path.join(otls, "client-admin" + ext))
# and a node that joined it: its agent dir as older agents saved it (no client-ca.crt)
oagent = os.path.join(old.tmp, "oldnode", "agent")
os.makedirs(oagent)
ncrt, nkey = make_cert(oagent, "client-kubelet", ocrt, okey,
                       "/CN=system:node:oldnode-0/O=system:nodes", "clientAuth", days=365)
for ext in (".csr", ".ext"):
    os.unlink(os.path.join(oagent, "client-kubelet" + ext))
with open(os.path.join(oagent, "server-ca.crt"), "w") as fh:
    fh.write(text(ocrt))
with open(os.path.join(oagent, "node-password"), "w") as fh:
    fh.write("0123456789abcdef0123456789abcdef\n")
old_ca = text(ocrt)
try:
    old.start()
    started = True
except RuntimeError as e:
    started = False
    t.ok(False, "an older single-CA data dir starts", e)
if started:
    lg = old.log_text()
    t.ok("is now the client CA too" in lg and text(os.path.join(otls, "client-ca.crt")) == old_ca
         and text(os.path.join(otls, "client-ca.key")) == text(okey) and
         text(os.path.join(otls, "server-ca.crt")) == old_ca and
         os.path.exists(os.path.join(otls, "request-header-ca.crt")),
         "an older single-CA data dir starts: its CA is kept and becomes the client CA too",
         lg[-1500:])
    otoken = text(os.path.join(old.data_dir, "server", "node-token")).strip()
    t.ok(otoken.startswith("K10" + hashlib.sha256(old_ca.encode()).hexdigest()) and
         get(old, "/cacerts")[1].decode() == old_ca,
         "its token still names the old CA, which /cacerts serves")
    t.ok(open(old.cert_file).read() == text(oadmin[0]) and
         get(old, "/api/v1/namespaces", oadmin)[0] == 200,
         "its admin certificate is kept and still authenticates")
    # the old node restarts without a token: its certificate works, and (having no serving
    # certificate saved) it renews both with its client certificate
    p, log = join_agent(old, "oldnode", "oldnode")
    procs.append(p)
    node = wait_until(lambda: old.request("GET", "/api/v1/nodes/oldnode-0")[0] == 200, timeout=60)
    t.ok(node and "renewed its certificates" in text(log) and
         os.path.exists(os.path.join(oagent, "client-ca.crt")) and
         issuer(os.path.join(oagent, "client-kubelet.crt")) == subject(ocrt),
         "a node joined to the old CA restarts without a token and registers", text(log)[-1500:])
    stop(p)
    t.ok(old.stop_clean(), "the migrated server stops cleanly", old.log_tail())
old.cleanup()

# ---- renewal of short-lived certificates without the token ----
LIFE = 60
os.environ["K3C_CERT_LEAF_SECONDS"] = str(LIFE)
short = Server(extra_args=["--token", "first-secret"])
short.start()
del os.environ["K3C_CERT_LEAF_SECONDS"]
stoken = text(os.path.join(short.data_dir, "server", "node-token")).strip()
p, log = join_agent(short, "short", "short", stoken)
procs.append(p)
sagent = os.path.join(short.tmp, "short", "agent")
crt_path = os.path.join(sagent, "client-kubelet.crt")


def not_after(path):
    return sh("openssl x509 -noout -enddate -serial -in %s" % path)


def node_uid():
    st, _, body = short.request("GET", "/api/v1/nodes/short-0")
    return json.loads(body)["metadata"]["uid"] if st == 200 else None


uid = wait_until(node_uid, timeout=30)
first = not_after(crt_path) if uid else ""
t.ok(uid and "notAfter" in first, "an agent joins a server whose leaves last %d s" % LIFE,
     text(log)[-800:])
renewed = wait_until(lambda: "renewed the certificates of node short-0" in text(log),
                     timeout=LIFE + 10, step=1)
second = not_after(crt_path)
t.ok(renewed and second != first and
     "renewal by its client certificate" in short.log_text(),
     "the running agent renews its certificates with its client certificate before expiry",
     (first, second, text(log)[-800:]))
# the server's own leaves expire within the minute: a restart renews them; the new --token
# makes the agent's old token useless
short.stop()
os.unlink(short.kubeconfig)  # start() waits for the new one
short.extra_args = ["--token", "second-secret"]
os.environ["K3C_CERT_LEAF_SECONDS"] = str(LIFE)
short.start()
del os.environ["K3C_CERT_LEAF_SECONDS"]
t.ok("issued admin client certificate" in short.log_text() and
     "issued serving certificate" in short.log_text(),
     "a restarted server re-issues its leaves that expire within the renewal window",
     short.log_tail())
# wait past the expiry of the certificate the agent joined with, and for one more renewal
mark = text(log).count("renewed the certificates")
again = wait_until(lambda: text(log).count("renewed the certificates") > mark,
                   timeout=LIFE + 10, step=1)


t.ok(again and p.poll() is None and node_uid() == uid and
     wait_until(lambda: short.request("GET", "/api/v1/nodes/short-0")[0] == 200, timeout=20),
     "after its first certificate expired and the token changed the agent renews again and "
     "keeps its Node (same uid)", text(log)[-1200:])
nk = node_kubeconfig(short, sagent, os.path.join(short.tmp, "node.kubeconfig"))
r = subprocess.run(["kubectl", "--kubeconfig", nk, "get", "node", "short-0", "-o",
                    "jsonpath={.metadata.uid}"], capture_output=True, text=True, timeout=60)
t.ok(r.returncode == 0 and r.stdout == uid,
     "the renewed certificate on disk authenticates as the node", r.stderr)
rc = stop(p)
t.ok(rc == 0 and not any(m in text(log) for m in SANITIZER_MARKS), "the agent stops cleanly",
     text(log)[-800:])
t.ok(short.stop_clean(), "the short-lived server stops cleanly", short.log_tail())
for q in procs:
    stop(q)
short.cleanup()
srv.cleanup()
t.done()
