"""Bootstrap tokens (issue #15): `k3c token create|list|delete|generate` against a real
`k3c server --disable-agent`, the Secrets they keep in kube-system, the API
authenticating a token as system:bootstrap:<id> (kubectl auth whoami), a hollow agent
joining with a K10<hash>::<id>.<secret> token, and a token created with --ttl 1m
refused for a join once it has expired and then removed by the token cleaner."""
import base64
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import SANITIZER_MARKS, Server, Tap, join_agent, k3c_bin, wait_until  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
node_token = open(os.path.join(srv.data_dir, "server", "node-token")).read().strip()
ca_hash = node_token[3:].partition("::")[0]
procs = []
env = dict(os.environ, KUBECONFIG=srv.kubeconfig)


def token(*args, timeout=60):
    return subprocess.run([k3c_bin(), "token"] + list(args), capture_output=True, text=True,
                          env=env, timeout=timeout)


def secret(tid):
    r = srv.kubectl("get", "secret", "-n", "kube-system", "bootstrap-token-" + tid, "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def data(s, key):
    v = (s or {}).get("data", {}).get(key)
    return base64.b64decode(v).decode() if v else None


def as_token(tok, *args):
    """kubectl with only a bearer token (no client certificate)."""
    return subprocess.run(["kubectl", "--server", srv.url, "--certificate-authority", srv.ca_file,
                           "--token", tok, "--kubeconfig", "/dev/null"] + list(args),
                          capture_output=True, text=True, timeout=60)


def whoami(tok):
    return as_token(tok, "auth", "whoami", "-o", "json")


def agent(name, tok):
    p, log = join_agent(srv, name, name, tok)
    procs.append((p, log))
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


def node_ready(name, timeout=30):
    return wait_until(lambda: srv.kubectl("get", "node", name, "-o", "jsonpath={.status.conditions"
                                          "[?(@.type=='Ready')].status}").stdout.strip() == "True",
                      timeout)


# ---- generate, and refusals before anything is sent ----
r = token("generate")
t.ok(r.returncode == 0 and re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}\n", r.stdout),
     "k3c token generate prints <6>.<16> of a-z0-9", r.stdout + r.stderr)
r = token("create", "Not.A.Token")
t.ok(r.returncode == 2 and "is not a token" in r.stderr, "create with a malformed TOKEN: exit 2",
     r.stderr)
r = token("create", "--ttl", "3d")
t.ok(r.returncode == 2 and "--ttl" in r.stderr, "create --ttl 3d (no days in Go durations): exit 2",
     r.stderr)
r = token("create", "--usages", "authentication,everything")
t.ok(r.returncode == 2 and "unknown usage \"everything\"" in r.stderr, "an unknown usage: exit 2",
     r.stderr)
r = token("create", "--groups", "system:masters")
t.ok(r.returncode == 2 and "system:bootstrappers:" in r.stderr,
     "an extra group outside system:bootstrappers: refused", r.stderr)
r = token("frobnicate")
t.ok(r.returncode == 2 and "unknown command" in r.stderr, "an unknown command: exit 2", r.stderr)
r = subprocess.run([k3c_bin(), "token", "list", "--kubeconfig", os.path.join(srv.tmp, "none")],
                   capture_output=True, text=True)
t.ok(r.returncode == 1 and "--kubeconfig" in r.stderr, "no kubeconfig: exit 1, says what to do",
     r.stderr)

# ---- create with a given token ----
r = token("create", "abcdef.0123456789abcdef", "--description", "fleet one", "--ttl", "2h")
t.ok(r.returncode == 0 and r.stdout.strip() == "K10%s::abcdef.0123456789abcdef" % ca_hash,
     "create TOKEN prints K10<CA hash>::<token>", r.stdout + r.stderr)
s = secret("abcdef")
t.ok(s and s.get("type") == "bootstrap.kubernetes.io/token" and data(s, "token-id") == "abcdef" and
     data(s, "token-secret") == "0123456789abcdef" and data(s, "description") == "fleet one" and
     data(s, "usage-bootstrap-authentication") == "true" and
     data(s, "usage-bootstrap-signing") == "true" and
     data(s, "auth-extra-groups") == "system:bootstrappers:k3c:default-node-token",
     "Secret kube-system/bootstrap-token-abcdef holds kubeadm's keys", json.dumps(s)[:600])
exp = data(s, "expiration") or ""
left = time.mktime(time.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime()) \
    if exp else -1
t.ok(7000 < left <= 7200, "its expiration is 2 h away", exp)
r = token("create", "abcdef.0123456789abcdef")
t.ok(r.returncode == 1 and "exists already" in r.stderr, "the same id again: refused", r.stderr)

# ---- list ----
r = token("create", "--ttl", "0", "--usages", "signing")
t.ok(r.returncode == 0, "create --ttl 0 --usages signing", r.stderr)
sign_tok = r.stdout.strip().partition("::")[2]
r = token("list")
lines = r.stdout.splitlines()
t.ok(r.returncode == 0 and lines and lines[0].split() == ["TOKEN", "TTL", "EXPIRES", "USAGES",
                                                         "DESCRIPTION", "EXTRA", "GROUPS"],
     "list prints kubeadm's columns", r.stdout + r.stderr)
row = next((l for l in lines if l.startswith("abcdef.0123456789abcdef")), "")
t.ok(re.search(r"\s(1h|2h)\s", row) and exp in row and "authentication,signing" in row and
     "fleet one" in row and "system:bootstrappers:k3c:default-node-token" in row,
     "the 2 h token's row: TTL, expiry, usages, description, groups", row)
row = next((l for l in lines if l.startswith(sign_tok)), "")
t.ok("<forever>" in row and "<never>" in row and re.search(r"\ssigning\s", row),
     "the never-expiring signing token's row", row)

# ---- the API authenticates tokens allowed for authentication ----
r = whoami("abcdef.0123456789abcdef")
who = json.loads(r.stdout) if r.returncode == 0 else {}
ui = who.get("status", {}).get("userInfo", {})
t.ok(ui.get("username") == "system:bootstrap:abcdef" and
     set(ui.get("groups", [])) >= {"system:bootstrappers", "system:authenticated",
                                   "system:bootstrappers:k3c:default-node-token"},
     "kubectl auth whoami --token <id>.<secret>: system:bootstrap:abcdef in its groups",
     r.stdout + r.stderr)
r = whoami("abcdef.0123456789abcdee")
t.ok(r.returncode != 0 and "nauthorized" in r.stderr, "a wrong secret: 401 Unauthorized", r.stderr)
r = whoami(sign_tok)
t.ok(r.returncode != 0 and "nauthorized" in r.stderr,
     "a token without usage-bootstrap-authentication: 401", r.stderr)
r = as_token("abcdef.0123456789abcdef", "get", "secrets", "-n", "kube-system")
t.ok(r.returncode != 0 and "orbidden" in r.stderr,
     "the bootstrap identity cannot read Secrets (403, not cluster-admin)", r.stderr[-300:])

# ---- an agent joins with a bootstrap token ----
p, log = agent("boot", "K10%s::abcdef.0123456789abcdef" % ca_hash)
t.ok(node_ready("boot-0"), "an agent with K10<hash>::<id>.<secret> joins: Node boot-0 Ready",
     text(log)[-800:])
p.terminate()
wait_exit(p)
p, log = agent("badboot", "K10%s::abcdef.0123456789abcdee" % ca_hash)
rc = wait_exit(p)
t.ok(rc == 1 and "401" in text(log) and "secret is wrong" in text(log),
     "a join with a wrong bootstrap secret: exit 1 with the server's reason", text(log)[-600:])
t.ok(srv.kubectl("get", "node", "badboot-0").returncode != 0, "no Node for it")
p, log = agent("signboot", "K10%s::%s" % (ca_hash, sign_tok))
rc = wait_exit(p)
t.ok(rc == 1 and "not allowed for authentication" in text(log),
     "a join with a signing-only token: refused, saying why", text(log)[-600:])

# ---- delete ----
r = token("delete", sign_tok.split(".")[0], "K10%s::%s" % (ca_hash, "zzzzzz.0123456789abcdef"))
t.ok(r.returncode == 1 and "deleted" in r.stdout and "no bootstrap token with id \"zzzzzz\"" in
     r.stderr, "delete by id and by join token: the known one deleted, the unknown one named",
     r.stdout + r.stderr)
t.ok(secret(sign_tok.split(".")[0]) is None, "its Secret is gone")
r = token("delete", "UPPER")
t.ok(r.returncode == 2 and "neither a token id" in r.stderr, "delete of a malformed id: exit 2",
     r.stderr)

# ---- --ttl 1m: joins, then expires, refused, and is cleaned up ----
r = token("create", "--ttl", "1m", "--description", "short")
short = r.stdout.strip()
short_id = short.partition("::")[2].split(".")[0]
t.ok(r.returncode == 0 and short.startswith("K10" + ca_hash + "::"), "create --ttl 1m", r.stderr)
p, log = agent("short", short)
t.ok(node_ready("short-0"), "the 1-minute token joins an agent while valid", text(log)[-600:])
p.terminate()
wait_exit(p)
s = secret(short_id)
exp = time.mktime(time.strptime(data(s, "expiration"), "%Y-%m-%dT%H:%M:%SZ")) - \
    time.mktime(time.gmtime()) if s else 0
time.sleep(max(0, exp) + 1)
r = whoami(short.partition("::")[2])
t.ok(r.returncode != 0 and "nauthorized" in r.stderr, "after its expiry the API refuses it (401)",
     r.stdout + r.stderr)
deadline = time.time() + 15
while time.time() < deadline and secret(short_id) is not None:
    time.sleep(0.3)
t.ok(secret(short_id) is None, "the token cleaner deleted the expired token's Secret")
p, log = agent("late", short)
rc = wait_exit(p)
t.ok(rc == 1 and "401" in text(log), "a join with the expired token: refused", text(log)[-600:])
t.ok(srv.kubectl("get", "node", "late-0").returncode != 0, "no Node for it")

# ---- an expired Secret written by hand is refused even before the cleaner runs ----
r = token("create", "oldold.0123456789abcdef", "--ttl", "1h")
r2 = srv.kubectl("patch", "secret", "-n", "kube-system", "bootstrap-token-oldold", "--type", "merge",
                 "-p", json.dumps({"data": {"expiration": base64.b64encode(
                     b"2020-01-01T00:00:00Z").decode()}}))
r3 = whoami("oldold.0123456789abcdef")
t.ok(r.returncode == 0 and r2.returncode == 0 and r3.returncode != 0,
     "a token whose expiration is in the past: 401", r3.stdout + r3.stderr)

bad = [l for _, l in procs if any(m in text(l) for m in SANITIZER_MARKS)]
t.ok(not bad, "no sanitizer report in the agent logs", "\n".join(text(l)[-1500:] for l in bad))
for p, _ in procs:
    if p.poll() is None:
        p.kill()
        p.wait()
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
