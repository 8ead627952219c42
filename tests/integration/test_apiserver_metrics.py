#!/usr/bin/env python3
"""/metrics of the API server with real kubectl: `kubectl get --raw /metrics`
in the Prometheus text format, apiserver_request_total and the duration
histogram move with requests (verb, resource, scope, code labels as
upstream), watches show in the long-running and watcher gauges, storage
objects and size are there; RBAC: a user without system:monitoring gets 403,
a member of the group gets the page."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Tap, Server, wait_until  # noqa: E402

t = Tap()
srv = Server()


def metrics():
    r = srv.kubectl("get", "--raw", "/metrics")
    return r.stdout if r.returncode == 0 else ""


def value(text, name, **labels):
    """The sample of name whose labels include these ones (None if absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^(\w+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


watch = None
try:
    srv.start()
    text = metrics()
    t.ok("# TYPE apiserver_request_total counter" in text and
         "# TYPE apiserver_request_duration_seconds histogram" in text,
         "kubectl get --raw /metrics answers the text format", text[:300])
    created = {"verb": "POST", "resource": "configmaps", "scope": "resource", "code": "201",
               "group": "", "version": "v1", "component": "apiserver"}
    before = value(text, "apiserver_request_total", **created) or 0
    objs_before = value(text, "apiserver_storage_objects", resource="configmaps") or 0
    for i in range(3):
        r = srv.kubectl("create", "configmap", "m%d" % i, "--from-literal=a=b")
        t.ok(r.returncode == 0, "configmap m%d created" % i, r.stderr)
    r = srv.kubectl("get", "configmap", "nope")
    srv.kubectl("get", "configmaps")
    text = metrics()
    after = value(text, "apiserver_request_total", **created)
    t.ok(after == before + 3, "apiserver_request_total{verb=POST,resource=configmaps,code=201} "
         "moved by 3 (%s -> %s)" % (before, after))
    t.ok((value(text, "apiserver_request_total", verb="GET", resource="configmaps",
                scope="resource", code="404") or 0) >= 1, "the 404 get is counted with its code")
    t.ok((value(text, "apiserver_request_total", verb="LIST", resource="configmaps",
                scope="namespace", code="200") or 0) >= 1, "a list is LIST with scope namespace")
    inf = value(text, "apiserver_request_duration_seconds_bucket", verb="POST",
                resource="configmaps", le="+Inf")
    low = value(text, "apiserver_request_duration_seconds_bucket", verb="POST",
                resource="configmaps", le="0.005")
    cnt = value(text, "apiserver_request_duration_seconds_count", verb="POST", resource="configmaps")
    t.ok(inf is not None and inf >= 3 and cnt == inf and low is not None and low <= inf and
         'le="60"' in text, "duration histogram with upstream's buckets", "inf=%s low=%s" % (inf, low))
    objs = value(text, "apiserver_storage_objects", resource="configmaps")
    t.ok(objs == objs_before + 3, "apiserver_storage_objects{resource=configmaps} counts the new ones",
         "%s -> %s" % (objs_before, objs))
    t.ok((value(text, "apiserver_storage_size_bytes") or 0) > 0, "apiserver_storage_size_bytes")
    t.ok((value(text, "apiserver_current_inflight_requests", request_kind="readOnly") or 0) >= 1,
         "the /metrics request itself is in flight (readOnly)")

    def lr():
        return value(metrics(), "apiserver_longrunning_requests", verb="WATCH",
                     resource="podtemplates") or 0

    def watchers():
        return value(metrics(), "apiserver_registered_watchers", kind="PodTemplate",
                     version="v1") or 0

    lr0, w0 = lr(), watchers()
    watch = subprocess.Popen(["kubectl", "--kubeconfig", srv.kubeconfig, "get", "podtemplates",
                              "--watch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = wait_until(lambda: watchers() == w0 + 1, timeout=15)
    t.ok(ok and lr() == lr0 + 1,
         "a watch shows in apiserver_registered_watchers and apiserver_longrunning_requests",
         "watchers %s -> %s, longrunning %s -> %s" % (w0, watchers(), lr0, lr()))
    watch.terminate()
    watch.wait(10)
    watch = None
    ok = wait_until(lambda: lr() == lr0, timeout=15)
    t.ok(ok, "the gauge falls back when the watch ends", "%s vs %s" % (lr(), lr0))
    t.ok((value(metrics(), "apiserver_request_total", verb="WATCH", resource="podtemplates",
                code="200") or 0) >= 1, "the ended watch is counted")

    r = srv.kubectl("get", "--raw", "/metrics", "--as", "alice")
    t.ok(r.returncode != 0 and 'forbidden: User "alice" cannot get path "/metrics"' in r.stderr,
         "a user without system:monitoring is refused 403", r.stderr)
    r = srv.kubectl("get", "--raw", "/metrics", "--as", "bob", "--as-group", "system:monitoring")
    t.ok(r.returncode == 0 and "apiserver_request_total" in r.stdout,
         "a member of system:monitoring reads /metrics", r.stderr)
    text = metrics()
    t.ok((value(text, "apiserver_request_total", verb="GET", resource="", code="403") or 0) >= 1,
         "the refused request is counted with code 403")
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
finally:
    if watch:
        watch.kill()
    srv.cleanup()
t.done()
