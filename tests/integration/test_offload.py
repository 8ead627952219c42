#!/usr/bin/python3
"""Requests with big bodies (64 KiB and more) run their handler on the offload
worker (util/offload.h): the results must be exactly those of the loop path
(resourceVersions, contents, errors), pipelined requests keep their order,
the loop answers /healthz while a big body is processed, and CRD changes
during big custom-resource writes are safe (the sanitizer build checks)."""
import json
import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

t = Tap()
srv = Server()
srv.start()

CM = "/api/v1/namespaces/default/configmaps"


def cm(name, n, val="v", rv=None):
    meta = {"name": name}
    if rv:
        meta["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {"k%d" % i: "%s%d" % (val, i) for i in range(n)}}


def req(method, path, obj=None, ct="application/json", raw=None, timeout=120):
    body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else None)
    st, _, b = srv.request(method, path, body, {"Content-Type": ct} if body is not None else None,
                           timeout=timeout)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, b


# ---- every write verb through the worker gives the loop path's answers
N = 12000  # ~200 KiB, well above the 64 KiB mark
st, created = req("POST", CM, cm("big", N))
t.ok(st == 201, "big create answered 201", (st, str(created)[:300]))
rv1 = created.get("metadata", {}).get("resourceVersion", "") if st == 201 else ""
t.ok(rv1.isdigit(), "create's resourceVersion is the store's revision", rv1)
st, got = req("GET", CM + "/big")
t.ok(st == 200 and got["metadata"]["resourceVersion"] == rv1 and got["data"] == cm("big", N)["data"],
     "get returns exactly what was created, with the same resourceVersion",
     (st, got.get("metadata") if isinstance(got, dict) else got))
t.ok(st == 200 and "k3c-rv-" not in json.dumps(got), "no resourceVersion placeholder is stored")

st, upd = req("PUT", CM + "/big", cm("big", N, "u", rv1))
rv2 = upd.get("metadata", {}).get("resourceVersion", "") if st == 200 else ""
t.ok(st == 200 and rv2.isdigit() and int(rv2) > int(rv1) and upd["data"]["k5"] == "u5",
     "big update answered with a newer revision and the new data", (st, str(upd)[:300]))
st, stale = req("PUT", CM + "/big", cm("big", N, "s", rv1))
t.ok(st == 409 and stale.get("reason") == "Conflict",
     "a big update with a stale resourceVersion is a 409 Conflict", (st, str(stale)[:300]))

patch = {"data": {"k%d" % i: "p%d" % i for i in range(0, N, 2)}}
st, mp = req("PATCH", CM + "/big", patch, "application/merge-patch+json")
rv3 = mp.get("metadata", {}).get("resourceVersion", "") if st == 200 else ""
t.ok(st == 200 and int(rv3 or 0) > int(rv2 or 0) and mp["data"]["k4"] == "p4" and mp["data"]["k5"] == "u5",
     "big merge patch applied", (st, str(mp)[:300]))
st, sp = req("PATCH", CM + "/big", patch | {"data": {"k1": "smp"} | patch["data"]},
             "application/strategic-merge-patch+json")
t.ok(st == 200 and sp["data"]["k1"] == "smp", "big strategic merge patch applied", (st, str(sp)[:300]))

st, ap = req("PATCH", CM + "/applied?fieldManager=bench", cm("applied", N), "application/apply-patch+yaml")
t.ok(st == 201 and ap["metadata"]["managedFields"][0]["manager"] == "bench",
     "big server-side apply creates with its field manager", (st, str(ap)[:300]))
st, ap2 = req("PATCH", CM + "/applied?fieldManager=other", cm("applied", N, "x"),
              "application/apply-patch+yaml")
t.ok(st == 409 and "conflict" in json.dumps(ap2).lower(),
     "a conflicting big apply by another manager is a 409 with the conflicts", (st, str(ap2)[:300]))

st, bad = req("POST", CM + "?fieldValidation=Strict",
              raw=json.dumps(cm("dup", N)).encode()[:-2] + b',"k1":"again"}}')
t.ok(st == 400 and "duplicate field" in json.dumps(bad),
     "duplicate keys in a big body are still refused by strict decoding", (st, str(bad)[:300]))

# a body holding the placeholder's prefix cannot disturb the revision splice
st, tricky = req("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky"},
                              "data": {"k%d" % i: "k3c-rv-%d" % i for i in range(N)}})
st2, got = req("GET", CM + "/tricky")
t.ok(st == 201 and st2 == 200 and got["metadata"]["resourceVersion"].isdigit()
     and got["data"]["k7"] == "k3c-rv-7", "values that look like the placeholder are kept verbatim",
     (st, st2, str(got)[:300]))

# ---- pipelining: a small GET behind a big PUT on one connection waits for it
ctx = srv.ssl_context()
st, cur = req("GET", CM + "/big")
put = json.dumps(cm("big", N, "pipe", cur["metadata"]["resourceVersion"])).encode()
raw = (b"PUT " + CM.encode() + b"/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Content-Length: " + str(len(put)).encode() + b"\r\n\r\n" + put +
       b"GET " + CM.encode() + b"/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
with socket.create_connection(("127.0.0.1", srv.port), timeout=120) as s:
    ss = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    ss.sendall(raw)
    data = b""
    while True:
        chunk = ss.recv(1 << 16)
        if not chunk:
            break
        data += chunk
heads = [i for i in range(len(data)) if data.startswith(b"HTTP/1.1 ", i)]
texts = data.decode(errors="replace")
ok_two = len(heads) == 2 and data[heads[0] + 9:heads[0] + 12] == b"200" and data[heads[1] + 9:heads[1] + 12] == b"200"
after = texts[heads[1]:] if len(heads) == 2 else ""
t.ok(ok_two and '"k5":"pipe5"' in after.replace(" ", ""),
     "a GET pipelined behind a big PUT answers after it, with the PUT's data", texts[:300])

# ---- the loop answers while a big body is processed
big_apply = json.dumps(cm("slow", 80000)).encode()  # ~1.3 MiB: hundreds of ms of CPU
span = {}


def big():
    span["start"] = time.time()
    span["status"], _, _ = srv.request("PATCH", CM + "/slow?fieldManager=slow", big_apply,
                                       {"Content-Type": "application/apply-patch+yaml"}, timeout=300)
    span["end"] = time.time()


probes = []
conn = srv.connect()
th = threading.Thread(target=big)
th.start()
while th.is_alive() and len(probes) < 20000:
    a = time.time()
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    probes.append((a, time.time(), r.status))
    time.sleep(0.002)
th.join()
conn.close()
inside = [p for p in probes if p[0] > span["start"] + 0.05 and p[1] < span["end"] - 0.01 and p[2] == 200]
t.ok(span.get("status") == 201, "a 1.3 MiB server-side apply succeeds", span)
t.ok(len(inside) >= 3,
     "/healthz answered %d times while the big apply was processed (%.0f ms)"
     % (len(inside), (span["end"] - span["start"]) * 1e3), probes[-5:])

# ---- a CRD changing while big custom resources are written
crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "blobs.k3c.io"},
       "spec": {"group": "k3c.io", "scope": "Namespaced",
                "names": {"plural": "blobs", "singular": "blob", "kind": "Blob"},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                  "spec": {"type": "object", "properties": {
                                      "items": {"type": "array", "items": {
                                          "type": "string", "pattern": "^[a-z0-9]+$"}}}}}}}}]}}
st, _ = req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
t.ok(st == 201, "CRD created", st)
deadline = time.time() + 30
while time.time() < deadline:
    st, _ = req("GET", "/apis/k3c.io/v1/namespaces/default/blobs")
    if st == 200:
        break
    time.sleep(0.2)
BLOBS = "/apis/k3c.io/v1/namespaces/default/blobs"
results = []


def writer():
    for i in range(6):
        body = {"apiVersion": "k3c.io/v1", "kind": "Blob", "metadata": {"name": "b%d" % i},
                "spec": {"items": ["x%d" % j for j in range(20000)]}}
        results.append(req("POST", BLOBS, body)[0])


w = threading.Thread(target=writer)
w.start()
changes = 0
while w.is_alive() and changes < 40:
    st, cur = req("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/blobs.k3c.io")
    if st == 200:
        props = cur["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        props["extra%d" % changes] = {"type": "string"}
        req("PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/blobs.k3c.io", cur)
        changes += 1
w.join()
t.ok(results == [201] * 6, "6 big custom resources created while the CRD changed %d times" % changes,
     results)
st, lst = req("GET", BLOBS)
t.ok(st == 200 and len(lst.get("items", [])) == 6, "all 6 listed", st)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
