"""Joining: `k3c agent --hollow 1 --server URL --token T` against a real `k3c
server`, as k3s agents join (docs/JOIN.md). /cacerts answers without
authentication with the CA the token's hash names; the right token joins and the
Node appears; a wrong secret is refused (401) and no Node appears; a token whose
CA hash is wrong is refused with both hashes named before anything is sent to
/v1-k3s; a second machine claiming the same node name (another data dir, so
another node password) is refused (403); a bare secret in --token-file joins
with a warning; a restart without the token runs on the saved certificates; a machine that lost
its certificates joins again with its node password after a server restart; the
node's own certificate (a kubeconfig built from the saved files) updates its
node's status and is refused cluster-admin things; an unreachable server is
retried with a log line each time."""
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import (SANITIZER_MARKS, Server, Tap, free_port, join_agent,  # noqa: E402
                     k3c_bin, node_kubeconfig)

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
token = open(os.path.join(srv.data_dir, "server", "node-token")).read().strip()
ca_hash, _, rest = token[3:].partition("::")
secret = rest.split(":", 1)[1]
procs = []


def agent(name, data, tok=None, extra=(), server=None):
    """Start `k3c agent --hollow 1` (node <name>-0); returns (proc, log path)."""
    p, log = join_agent(srv, name, data, tok, extra, server)
    procs.append(p)
    return p, log


def text(path):
    with open(path, errors="replace") as f:
        return f.read()


def wait_exit(p, timeout=30):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def stop(p):
    if p.poll() is None:
        p.terminate()
    return wait_exit(p)


def node_ready(name, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = srv.kubectl("get", "node", name, "-o",
                        "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
        if r.returncode == 0 and r.stdout.strip() == "True":
            return True
        time.sleep(0.2)
    return False


def has_node(name):
    return srv.kubectl("get", "node", name).returncode == 0


def join_lines():
    return [l for l in srv.log_text().splitlines() if "[join]" in l]


# ---- /cacerts ----
status, headers, body = srv.request("GET", "/cacerts", client_cert=False)
ca = open(os.path.join(srv.data_dir, "server", "tls", "server-ca.crt"), "rb").read()
t.ok(status == 200 and body == ca, "GET /cacerts without credentials: 200, the cluster CA", status)
t.ok(hashlib.sha256(body).hexdigest() == ca_hash, "its sha256 is the token's K10 hash")
status, _, body = srv.request("GET", "/v1-k3s/client-kubelet.crt", client_cert=False)
t.ok(status == 401, "GET /v1-k3s/client-kubelet.crt without basic auth: 401", (status, body))

# ---- wrong secret ----
p, log = agent("wrongsecret", "ws", "K10%s::server:%s" % (ca_hash, "0" * 32))
rc = wait_exit(p)
out = text(log)
t.ok(rc == 1 and "401" in out and "token is wrong" in out,
     "a wrong secret: exit 1, the server's 401 message in the log", (rc, out[-600:]))
t.ok(not has_node("wrongsecret-0"), "no Node for the refused agent")

# ---- wrong CA hash ----
before = len(join_lines())
bad_hash = "ab" * 32
p, log = agent("wronghash", "wh", "K10%s::server:%s" % (bad_hash, secret))
rc = wait_exit(p)
out = text(log)
t.ok(rc == 1 and ca_hash in out and bad_hash in out,
     "a token for another CA: exit 1, both hashes in the message", (rc, out[-600:]))
t.ok(len(join_lines()) == before, "nothing was sent to /v1-k3s (no join line in the server log)",
     join_lines()[before:])
t.ok(not os.path.exists(os.path.join(srv.tmp, "wh", "agent", "client-kubelet.crt")),
     "no certificate saved")

# ---- the right token ----
p1, log1 = agent("good", "good", token)
t.ok(node_ready("good-0"), "the right token joins: Node good-0 Ready", text(log1)[-800:])
adir = os.path.join(srv.tmp, "good", "agent")
files = ["server-ca.crt", "client-kubelet.crt", "client-kubelet.key", "serving-kubelet.crt",
         "serving-kubelet.key", "node-password"]
t.ok(all(os.path.exists(os.path.join(adir, f)) and
         stat.S_IMODE(os.stat(os.path.join(adir, f)).st_mode) == 0o600 for f in files),
     "certificates, keys, CA and node password saved 0600 in <data-dir>/agent", os.listdir(adir))
t.ok(open(os.path.join(adir, "server-ca.crt"), "rb").read() == ca, "the saved CA is the cluster CA")
r = srv.kubectl("get", "secret", "-n", "kube-system", "good-0.node-password.k3s", "-o", "json")
sec = json.loads(r.stdout) if r.returncode == 0 else {}
pw = open(os.path.join(adir, "node-password")).read().strip()
t.ok(sec.get("data", {}).get("hash") and pw not in json.dumps(sec),
     "Secret kube-system/good-0.node-password.k3s holds a hash, not the password", r.stdout[-400:])
cert = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "extendedKeyUsage", "-in",
                       os.path.join(adir, "client-kubelet.crt")], capture_output=True, text=True).stdout
t.ok("system:node:good-0" in cert and "system:nodes" in cert and "Client Authentication" in cert,
     "client certificate: CN system:node:good-0, O system:nodes, clientAuth", cert)
scert = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName,extendedKeyUsage", "-in",
                        os.path.join(adir, "serving-kubelet.crt")], capture_output=True, text=True).stdout
t.ok("DNS:good-0" in scert and "Server Authentication" in scert,
     "serving certificate: the node name as SAN, serverAuth", scert)

# ---- the same name from another machine ----
p, log = agent("good", "other", token)
rc = wait_exit(p)
out = text(log)
t.ok(rc == 1 and "403" in out and "node password rejected" in out,
     "a second agent claiming good-0 with another node password: exit 1, 403", (rc, out[-600:]))

# ---- bare secret in a token file ----
tf = os.path.join(srv.tmp, "token-file")
with open(tf, "w") as f:
    f.write(secret + "\n")
p, log = agent("bare", "bare", None, ["--token-file", tf])
t.ok(node_ready("bare-0"), "a bare secret in --token-file joins", text(log)[-600:])
t.ok("no CA hash" in text(log), "with a warning that the CA is not pinned", text(log)[-600:])
stop(p)

# ---- the node's own certificate ----
kc = node_kubeconfig(srv, adir, os.path.join(srv.tmp, "node-kubeconfig"))


def nk(*args):
    return subprocess.run(["kubectl", "--kubeconfig", kc] + list(args), capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, HOME=srv.tmp))


r = nk("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
t.ok(r.returncode != 0 or ("system:node:good-0" in r.stdout and "system:nodes" in r.stdout),
     "the node certificate authenticates as system:node:good-0 in system:nodes", r.stdout + r.stderr)
r = nk("patch", "node", "good-0", "--subresource=status", "--type=merge", "-p",
       json.dumps({"status": {"capacity": {"example.com/dongle": "1"}}}))
r2 = srv.kubectl("get", "node", "good-0", "-o", "jsonpath={.status.capacity.example\\.com/dongle}")
t.ok(r.returncode == 0 and r2.stdout.strip() == "1",
     "the node's certificate updates its node's status", r.stdout + r.stderr + r2.stdout)
r = nk("create", "namespace", "not-for-nodes")
t.ok(r.returncode != 0 and "forbidden" in r.stderr.lower(),
     "and is refused what a node may not do (create a namespace)", r.stderr)

# ---- restart without the token ----
t.ok(stop(p1) == 0 and not any(m in text(log1) for m in SANITIZER_MARKS),
     "the joined agent stops cleanly", text(log1)[-600:])
p1, log1 = agent("good", "good")
time.sleep(3)
out = text(log1)
t.ok(p1.poll() is None and "using the certificates" in out and node_ready("good-0"),
     "restarted without a token: runs on the saved certificates", out[-600:])
r = srv.kubectl("get", "lease", "-n", "kube-node-lease", "good-0", "-o",
                "jsonpath={.spec.renewTime}")
first = r.stdout.strip()
time.sleep(11)
r = srv.kubectl("get", "lease", "-n", "kube-node-lease", "good-0", "-o",
                "jsonpath={.spec.renewTime}")
t.ok(first and r.stdout.strip() and r.stdout.strip() != first, "its Lease is renewed",
     (first, r.stdout))
t.ok(stop(p1) == 0 and not any(m in text(log1) for m in SANITIZER_MARKS),
     "and stops cleanly", text(log1)[-600:])

# ---- a re-join of the same machine (same node password) after a server restart ----
t.ok(srv.stop_clean(), "server stops cleanly", srv.log_tail())
srv = Server(extra_args=["--disable-agent"], data_dir=srv.data_dir, tmp=srv.tmp, port=srv.port).start()
os.unlink(os.path.join(adir, "client-kubelet.crt"))
p1, log1 = agent("good", "good", token)


def wait_log(path, needle, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and needle not in text(path):
        time.sleep(0.2)
    return needle in text(path)


t.ok(wait_log(log1, "hollow node(s)") and "joined" in text(log1) and node_ready("good-0"),
     "lost certificates: the same machine joins again with its node password", text(log1)[-600:])
t.ok(open(os.path.join(adir, "node-password")).read().strip() == pw, "the node password is reused")
stop(p1)

# ---- unreachable server ----
port = free_port()
p, log = agent("late", "late", token, server="https://127.0.0.1:%d" % port)
time.sleep(4)
out = text(log)
t.ok(p.poll() is None and out.count("retrying") >= 2,
     "an unreachable server is retried with a log line each time", out[-600:])
stop(p)

# ---- no sanitizer report from any agent, refused ones included ----
logs = [os.path.join(srv.tmp, f) for f in os.listdir(srv.tmp) if f.startswith("agent-")]
bad = [l for l in logs if any(m in text(l) for m in SANITIZER_MARKS)]
t.ok(logs and not bad, "no sanitizer report in the %d agent logs" % len(logs),
     "\n".join(text(l)[-1500:] for l in bad))

# ---- no server, no kubeconfig ----
r = subprocess.run([k3c_bin(), "agent", "--config", "/dev/null"], capture_output=True, text=True)
t.ok(r.returncode == 2 and "--server" in r.stderr + r.stdout and "--token" in r.stderr + r.stdout,
     "k3c agent without --server or --kubeconfig: exit 2 naming --server and --token",
     r.stderr + r.stdout)

# ---- --hollow N > 1 cannot join: one certificate is one node's (the Node authorizer) ----
r = subprocess.run([k3c_bin(), "agent", "--config", "/dev/null", "--hollow", "3", "--data-dir",
                    os.path.join(srv.tmp, "h3"), "--server", srv.url, "--token", token],
                   capture_output=True, text=True, timeout=30)
t.ok(r.returncode == 2 and "--hollow 3 with --server" in r.stderr + r.stdout and
     not has_node("hollow-0") and not os.path.exists(os.path.join(srv.tmp, "h3", "agent")),
     "k3c agent --hollow 3 --server --token: exit 2 at once saying why, nothing joined",
     r.stderr + r.stdout)

for p in procs:
    if p.poll() is None:
        p.kill()
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
