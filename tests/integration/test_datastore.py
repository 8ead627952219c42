#!/usr/bin/env python3
"""k3c datastore status|compact|defrag against a real server's database:
refused (compact/defrag) or file sizes only (status) while the server runs,
working once it is stopped, and the data intact afterwards."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Tap, Server, k3c_bin  # noqa: E402

t = Tap()
srv = Server()
try:
    srv.start()
    path = "/api/v1/namespaces/default/configmaps"
    st, _, body = srv.request("POST", path, json.dumps(
        {"metadata": {"name": "cm"}, "data": {"v": "0"}}), {"Content-Type": "application/json"})
    t.ok(st == 201, "configmap created", body[:200])
    for i in range(1, 60):
        st, _, body = srv.request("PUT", path + "/cm", json.dumps(
            {"metadata": {"name": "cm"}, "data": {"v": str(i), "pad": "x" * 4000}}),
            {"Content-Type": "application/json"})
        if st != 200:
            break
    t.ok(st == 200, "configmap updated 59 times", body[:200])

    def ds(*args):
        return subprocess.run([k3c_bin(), "datastore"] + list(args) + ["--data-dir", srv.data_dir],
                              capture_output=True, text=True, timeout=120)

    r = ds("status")
    t.ok(r.returncode == 0 and "in use by a running server" in r.stdout and "wal" in r.stdout,
         "status while running shows file sizes only", r.stdout + r.stderr)
    r = ds("compact")
    t.ok(r.returncode == 1 and "in use by a running k3c server; stop it first" in r.stderr,
         "compact while running is refused", r.stdout + r.stderr)
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())

    r = ds("status")
    m = re.search(r"^rows\s+(\d+)", r.stdout, re.M)
    rows_before = int(m.group(1)) if m else -1
    t.ok(r.returncode == 0 and "live" in r.stdout and rows_before >= 60,
         "status of a stopped server shows rows and live bytes", r.stdout + r.stderr)
    r = ds("compact")
    m = re.search(r"^rows\s+(\d+)", r.stdout, re.M)
    rows_after = int(m.group(1)) if m else -1
    t.ok(r.returncode == 0 and "compacted at revision" in r.stdout and 0 < rows_after < rows_before - 50,
         "compact deletes the history", r.stdout + r.stderr)
    t.ok(re.search(r"^wal\s+0 B$", r.stdout, re.M) is not None, "compact truncates the WAL", r.stdout)
    r = ds("defrag")
    t.ok(r.returncode == 0 and "defragmented" in r.stdout, "defrag works", r.stdout + r.stderr)
    r = ds("frobnicate")
    t.ok(r.returncode == 2 and "unknown subcommand" in r.stderr, "unknown subcommand is a usage error",
         r.stderr)
    r = subprocess.run([k3c_bin(), "--help"], capture_output=True, text=True)
    t.ok("datastore" in r.stdout, "k3c --help lists datastore", r.stdout)

    srv.start()
    st, _, body = srv.request("GET", path + "/cm")
    obj = json.loads(body) if st == 200 else {}
    t.ok(st == 200 and obj.get("data", {}).get("v") == "59", "data intact after compact + defrag",
         body[:200])
    t.ok(srv.stop_clean(), "restarted server exited cleanly", srv.log_tail())
finally:
    srv.cleanup()
t.done()
