#!/usr/bin/env python3
"""The #18 SD-card workload against a running etcd 3.4 through its v3
HTTP/JSON gateway: KEYS creates, UPDATES updates (1 KiB values, INFLIGHT
keep-alive connections), then compaction and defrag. Prints "etcd <name>
<value>" lines like bench/sdcard.c does for k3c.

    bench-etcd.py URL DATA_DIR PID UPDATES [INFLIGHT]
"""
import base64
import http.client
import json
import os
import sys
import threading
import time
from urllib.parse import urlparse

KEYS = 1000
url, data_dir, pid, updates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
inflight = int(sys.argv[5]) if len(sys.argv) > 5 else 8
u = urlparse(url)
b64 = lambda b: base64.b64encode(b).decode()


def call(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("etcd %s: %d %s" % (path, r.status, data[:200]))
    return json.loads(data or b"{}")


def proc_field(file, name):
    with open("/proc/%d/%s" % (pid, file)) as f:
        for line in f:
            if line.startswith(name):
                return int(line.split()[1])
    return -1


def sizes():
    db = os.path.getsize(os.path.join(data_dir, "member/snap/db"))
    wal_dir = os.path.join(data_dir, "member/wal")
    wal = sum(os.path.getsize(os.path.join(wal_dir, f)) for f in os.listdir(wal_dir))
    return db, wal


def run(first, last):
    """Writes number first..last-1, spread over INFLIGHT connections."""
    def worker(w):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for i in range(first + w, last, inflight):
            val = bytearray(b"x" * 1024)
            val[:8] = i.to_bytes(8, "little")
            call(conn, "/v3/kv/put", {"key": b64(b"/registry/leases/kube-node-lease/node-%04d" % (i % KEYS)),
                                      "value": b64(bytes(val))})
        conn.close()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(inflight)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
run(0, KEYS)
w0 = proc_field("io", "write_bytes:")
t0 = time.time()
run(KEYS, KEYS + updates)
t1 = time.time()
w1 = proc_field("io", "write_bytes:")
print("etcd updates %d" % updates)
print("etcd updates_per_s %.0f" % (updates / (t1 - t0)))
print("etcd write_bytes_per_update %.0f" % ((w1 - w0) / updates))
db, wal = sizes()
print("etcd file_before %d\netcd wal_before %d" % (db, wal))
st = call(conn, "/v3/maintenance/status", {})
print("etcd live_bytes_before %s" % st.get("dbSizeInUse", -1))
rev = int(call(conn, "/v3/kv/range", {"key": b64(b"/"), "limit": 1})["header"]["revision"])
c0 = time.time()
call(conn, "/v3/kv/compaction", {"revision": rev, "physical": True})
print("etcd compact_s %.2f" % (time.time() - c0))
db, wal = sizes()
print("etcd file_after %d\netcd wal_after %d" % (db, wal))
c0 = time.time()
call(conn, "/v3/maintenance/defragment", {})
print("etcd defrag_s %.2f" % (time.time() - c0))
db, wal = sizes()
print("etcd file_defrag %d\netcd wal_defrag %d" % (db, wal))
st = call(conn, "/v3/maintenance/status", {})
print("etcd live_bytes %s" % st.get("dbSizeInUse", -1))
print("etcd rss_kib %d\netcd rss_peak_kib %d" % (proc_field("status", "VmRSS:"), proc_field("status", "VmHWM:")))
