#!/usr/bin/env python3
"""Secrets encryption at rest with real kubectl and `k3c secrets-encrypt`:
a Secret's bytes are absent from the SQLite files (state.db and its WAL)
once encrypted while a ConfigMap's stay visible, Secrets read back through
get, list and watch, enable + reencrypt seals older ones, rotate-keys puts
the new key's name on every row and drops the old one, a restart reads
them all, disable + reencrypt writes them back in plaintext."""
import json
import os
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Tap, Server, k3c_bin  # noqa: E402

t = Tap()
srv = Server()


def db_bytes():
    out = b""
    for suffix in ("", "-wal"):
        p = os.path.join(srv.data_dir, "server", "db", "state.db" + suffix)
        if os.path.exists(p):
            with open(p, "rb") as f:
                out += f.read()
    return out


def se(*args):
    return subprocess.run([k3c_bin(), "secrets-encrypt"] + list(args) +
                          ["--kubeconfig", srv.kubeconfig],
                          capture_output=True, text=True, timeout=120)


def make_secret(name, marker):
    r = srv.kubectl("create", "secret", "generic", name, "--from-literal=password=" + marker)
    r2 = srv.kubectl("annotate", "secret", name, "note=" + marker + "-note")
    return r.returncode == 0 and r2.returncode == 0, r.stderr + r2.stderr


def read_secret(name):
    r = srv.kubectl("get", "secret", name, "-o", "json")
    if r.returncode != 0:
        return None, r.stderr
    o = json.loads(r.stdout)
    import base64
    return base64.b64decode(o["data"]["password"]).decode(), o["metadata"]["annotations"].get("note")


def active_key(status_out):
    m = re.search(r"^ \*\s+AES-GCM\s+(\S+)$", status_out, re.M)
    return m.group(1) if m else None


try:
    srv.start()
    r = se("status")
    t.ok(r.returncode == 0 and "Encryption Status: Disabled, no configuration file found" in r.stdout,
         "status without a configuration", r.stdout + r.stderr)
    ok, err = make_secret("s0", "MARKER0plain")
    t.ok(ok, "secret s0 created before encryption", err)
    r = srv.kubectl("create", "configmap", "c1", "--from-literal=v=CMMARKERvisible")
    t.ok(r.returncode == 0, "configmap created", r.stderr)
    db = db_bytes()
    t.ok(b"MARKER0plain-note" in db and b"CMMARKERvisible" in db,
         "plaintext objects are visible in the database file (the grep works)")

    r = se("enable")
    t.ok(r.returncode == 0 and "enabled" in r.stdout, "secrets-encrypt enable", r.stdout + r.stderr)
    cfg = os.path.join(srv.data_dir, "server", "cred", "encryption-config.json")
    t.ok(os.path.exists(cfg) and stat.S_IMODE(os.stat(cfg).st_mode) == 0o600,
         "encryption-config.json written with mode 0600")
    with open(cfg) as f:
        c = json.load(f)
    prov = c["resources"][0]["providers"]
    t.ok(c["kind"] == "EncryptionConfiguration" and c["resources"][0]["resources"] == ["secrets"]
         and "aesgcm" in prov[0] and "identity" in prov[1], "upstream EncryptionConfiguration layout",
         json.dumps(prov)[:300])
    ok, err = make_secret("s1", "MARKER1sealed")
    t.ok(ok, "secret s1 created with encryption on", err)
    db = db_bytes()
    t.ok(b"MARKER1sealed" not in db and b"k8s:enc:aesgcm:v1:" in db,
         "s1's annotation is not in the database file, an aesgcm envelope is")
    t.ok(read_secret("s1") == ("MARKER1sealed", "MARKER1sealed-note"), "s1 reads back through the API",
         str(read_secret("s1")))
    r = srv.kubectl("get", "secrets", "-o", "jsonpath={.items[*].metadata.name}")
    t.ok(r.returncode == 0 and "s0" in r.stdout.split() and "s1" in r.stdout.split(),
         "list shows both secrets", r.stdout + r.stderr)

    # watch from before s1's creation replays it decrypted
    try:
        w = subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig, "get", "secret", "s1",
                            "--watch", "-o", "jsonpath={.metadata.annotations.note}{\"\\n\"}"],
                           capture_output=True, text=True, timeout=5)
        wout = w.stdout
    except subprocess.TimeoutExpired as e:
        wout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    t.ok("MARKER1sealed-note" in wout, "kubectl get --watch shows the decrypted secret", wout)

    r = se("reencrypt")
    t.ok(r.returncode == 0 and "reencryption finished" in r.stdout and "rows" in r.stdout,
         "reencrypt with progress", r.stdout + r.stderr)
    db = db_bytes()
    t.ok(b"MARKER0plain" not in db and b"CMMARKERvisible" in db,
         "after reencrypt the older secret is sealed too (configmap untouched)")
    t.ok(read_secret("s0") == ("MARKER0plain", "MARKER0plain-note"), "s0 still reads")

    r = se("status")
    key1 = active_key(r.stdout)
    t.ok(r.returncode == 0 and "Encryption Status: Enabled" in r.stdout and
         "Current Rotation Stage: reencrypt_finished" in r.stdout and key1,
         "status: enabled, reencrypt_finished, one active key", r.stdout + r.stderr)

    import time
    time.sleep(1.1)  # key names carry the second
    r = se("rotate-keys")
    t.ok(r.returncode == 0 and "reencryption finished" in r.stdout, "rotate-keys", r.stdout + r.stderr)
    r = se("status")
    key2 = active_key(r.stdout)
    t.ok(key2 and key2 != key1 and key1 not in r.stdout, "a new active key, the old one dropped",
         r.stdout)
    db = db_bytes()
    t.ok(("k8s:enc:aesgcm:v1:%s:" % key2).encode() in db and
         ("k8s:enc:aesgcm:v1:%s:" % key1).encode() not in db,
         "every stored row carries the new key's name, none the old")
    t.ok(read_secret("s0")[0] == "MARKER0plain" and read_secret("s1")[0] == "MARKER1sealed",
         "both secrets read after rotation")

    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    srv.start()
    t.ok(read_secret("s0")[0] == "MARKER0plain" and read_secret("s1")[0] == "MARKER1sealed",
         "both secrets read after a restart", str(read_secret("s1")))
    ok, err = make_secret("s2", "MARKER2after")
    t.ok(ok and b"MARKER2after" not in db_bytes(), "a secret written after the restart is sealed", err)

    r = se("disable")
    t.ok(r.returncode == 0 and "disabled" in r.stdout, "disable", r.stdout + r.stderr)
    r = se("reencrypt", "-q")
    t.ok(r.returncode == 0 and "reencryption finished" in r.stdout, "reencrypt after disable",
         r.stdout + r.stderr)
    db = db_bytes()
    t.ok(b"MARKER1sealed-note" in db and b"MARKER2after-note" in db,
         "after disable + reencrypt the secrets are plaintext again")
    r = se("status")
    t.ok("Encryption Status: Disabled" in r.stdout and "Name" in r.stdout, "status: disabled",
         r.stdout)
    t.ok(read_secret("s2")[0] == "MARKER2after", "secrets still read")
    r = se("rotate-keys")
    t.ok(r.returncode == 1 and "disabled" in r.stderr, "rotate-keys while disabled is refused",
         r.stdout + r.stderr)
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())

    # A sealed value whose key has left the file: the start fails naming it.
    first = srv
    first.cleanup()
    srv = Server(["--secrets-encryption"])
    srv.start()
    make_secret("s3", "MARKER3")
    with open(os.path.join(srv.data_dir, "server", "cred", "encryption-config.json")) as f:
        c = json.load(f)
    kname = c["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["name"]
    t.ok(srv.stop_clean(), "second server exited cleanly", srv.log_tail())
    c["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["name"] = "other"
    with open(os.path.join(srv.data_dir, "server", "cred", "encryption-config.json"), "w") as f:
        json.dump(c, f)
    try:
        srv.start(timeout=20)
        started = True
    except RuntimeError:
        started = False
    log = srv.log_text()
    t.ok(not started and ('encrypted with key "%s"' % kname) in log,
         "a missing key stops the start with its name", srv.log_tail(5))

    r = subprocess.run([k3c_bin(), "secrets-encrypt", "--help"], capture_output=True, text=True)
    t.ok(r.returncode == 0 and "rotate-keys" in r.stdout and "reencrypt" in r.stdout,
         "secrets-encrypt --help", r.stdout)
    r = subprocess.run([k3c_bin(), "server", "--help"], capture_output=True, text=True)
    t.ok("--secrets-encryption" in r.stdout + r.stderr, "server --help lists --secrets-encryption")
finally:
    srv.cleanup()
t.done()
