"""CRD conversion webhooks (spec.conversion.strategy Webhook) against
`k3c server --disable-agent` with real kubectl: an HTTPS conversion
webhook here (python ssl + http.server, its own certificate as caBundle)
converting Widget spec.size (example.com/v1, stored) <-> spec.dimension
(example.com/v2). Writes and reads through v2 and v1, a list converted in
one ConversionReview, a patch through v2, the webhook's failures with
upstream's messages, the loop answering while a conversion waits on a slow
webhook, a webhook by service reference, CRD validation of
spec.conversion, and watches through v2 (events converted in order, an
ERROR event when the webhook fails)."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import ReviewServer, Server, Tap, free_port  # noqa: E402


def convert(obj, to):
    obj = json.loads(json.dumps(obj))
    spec = obj.setdefault("spec", {})
    if to == "example.com/v2" and "size" in spec:
        spec["dimension"] = spec.pop("size")
    if to == "example.com/v1" and "dimension" in spec:
        spec["size"] = spec.pop("dimension")
    obj["apiVersion"] = to
    return obj


class ConversionWebhook:
    """/convert converts; /slow after 3 s; /baduid answers another uid;
    /fail with result Failure; /rename changes the name; /relabel adds a
    label and tries to change the uid-less metadata (generation)."""

    def __init__(self, tmp):
        self.seen = []  # (path, review, path with query)
        self.server = ReviewServer(tmp, self.answer, dns_names=("conv-hooks.conv-system.svc",), name="conv")
        self.port, self.ca_b64 = self.server.port, self.server.ca_b64

    def answer(self, path, review, full_path):
        self.seen.append((path, review, full_path))
        req = review["request"]
        to = req["desiredAPIVersion"]
        out = [convert(o, to) for o in req["objects"]]
        resp = {"uid": req["uid"], "convertedObjects": out, "result": {"status": "Success"}}
        if path == "/slow":
            time.sleep(3)
        elif path == "/baduid":
            resp["uid"] = "not-the-uid"
        elif path == "/fail":
            resp = {"uid": req["uid"], "result": {"status": "Failure", "message": "cannot convert widgets today"}}
        elif path == "/rename":
            for o in out:
                o["metadata"]["name"] = "other"
        elif path == "/relabel":
            for o in out:
                o["metadata"].setdefault("labels", {})["converted"] = "yes"
                o["metadata"]["generation"] = 99
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": resp}

    def url(self, path):
        return self.server.url(path)


SCHEMA = {"openAPIV3Schema": {"type": "object", "properties": {
    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}


def crd(conversion):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": SCHEMA},
                                  {"name": "v2", "served": True, "storage": False, "schema": SCHEMA}],
                     "conversion": conversion}}


def by_url(url, ca):
    return {"strategy": "Webhook", "webhook": {"clientConfig": {"url": url, "caBundle": ca},
                                               "conversionReviewVersions": ["v1"]}}


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    wh = ConversionWebhook(srv.tmp)

    def k(*args, stdin=None):
        env = dict(os.environ, HOME=srv.tmp)
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120, env=env)

    def apply_crd(conversion):
        return k("apply", "-f", "-", stdin=json.dumps(crd(conversion)))

    # ---- validation of spec.conversion ----
    c = by_url(wh.url("/convert"), wh.ca_b64)
    del c["webhook"]["conversionReviewVersions"]
    r = apply_crd(c)
    t.ok(r.returncode != 0 and "spec.conversion.conversionReviewVersions: Required value" in r.stderr,
         "strategy Webhook without conversionReviewVersions is refused", r.stderr)
    c = by_url(wh.url("/convert"), wh.ca_b64)
    c["webhook"]["conversionReviewVersions"] = ["v2"]
    r = apply_crd(c)
    t.ok(r.returncode != 0 and "must include at least one of v1, v1beta1" in r.stderr,
         "conversionReviewVersions without v1 is refused", r.stderr)
    r = apply_crd({"strategy": "Magic"})
    t.ok(r.returncode != 0 and 'spec.conversion.strategy: Unsupported value: "Magic": supported values: '
         '"None", "Webhook"' in r.stderr, "an unknown strategy is refused", r.stderr)
    r = apply_crd({"strategy": "Webhook"})
    t.ok(r.returncode != 0 and "spec.conversion.webhookClientConfig: Required value: required when "
         "strategy is set to Webhook" in r.stderr, "strategy Webhook without a webhook is refused", r.stderr)
    c = by_url("http://127.0.0.1:1/convert", wh.ca_b64)
    r = apply_crd(c)
    t.ok(r.returncode != 0 and "'https' is the only allowed URL scheme" in r.stderr,
         "an http:// conversion webhook is refused", r.stderr)
    r = apply_crd({"strategy": "None", "webhook": {"clientConfig": {"url": wh.url("/convert")},
                                                   "conversionReviewVersions": ["v1"]}})
    t.ok(r.returncode != 0 and "should not be set when strategy is not set to Webhook" in r.stderr,
         "strategy None with a webhook is refused", r.stderr)

    # ---- conversion through the webhook ----
    r = apply_crd(by_url(wh.url("/convert"), wh.ca_b64))
    t.ok(r.returncode == 0, "a CRD with strategy Webhook is accepted", r.stderr)
    time.sleep(0.5)
    k("create", "namespace", "conv")
    n0 = len(wh.seen)
    w1 = {"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w1", "namespace": "conv"},
          "spec": {"dimension": 3}}
    r = k("create", "-f", "-", stdin=json.dumps(w1))
    to_storage = [s for s in wh.seen[n0:] if s[1]["request"]["desiredAPIVersion"] == "example.com/v1"]
    t.ok(r.returncode == 0 and to_storage and to_storage[0][1]["apiVersion"] == "apiextensions.k8s.io/v1"
         and to_storage[0][1]["kind"] == "ConversionReview"
         and to_storage[0][1]["request"]["objects"][0]["spec"] == {"dimension": 3}
         and "?timeout=30s" in to_storage[0][2],
         "create through v2: the webhook converts the request to the storage version (ConversionReview v1)",
         (r.stderr, [s[1] for s in wh.seen[n0:]]))
    r = k("get", "widgets.v2.example.com", "w1", "-n", "conv", "-o", "json")
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    t.ok(o.get("apiVersion") == "example.com/v2" and o.get("spec") == {"dimension": 3},
         "read back through v2: spec.dimension", r.stdout + r.stderr)
    n1 = len(wh.seen)
    r = k("get", "widgets.v1.example.com", "w1", "-n", "conv", "-o", "json")
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    t.ok(o.get("apiVersion") == "example.com/v1" and o.get("spec") == {"size": 3} and len(wh.seen) == n1,
         "read through v1 (the storage version): spec.size, no webhook call", r.stdout + r.stderr)

    w2 = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2", "namespace": "conv"},
          "spec": {"size": 5}}
    k("create", "-f", "-", stdin=json.dumps(w2))
    n2 = len(wh.seen)
    r = k("get", "widgets.v2.example.com", "-n", "conv", "-o", "json")
    lst = json.loads(r.stdout) if r.returncode == 0 else {}
    reviews = wh.seen[n2:]
    dims = sorted(i["spec"].get("dimension", -1) for i in lst.get("items", []))
    t.ok(dims == [3, 5] and all(i["apiVersion"] == "example.com/v2" for i in lst["items"])
         and len(reviews) == 1 and len(reviews[0][1]["request"]["objects"]) == 2,
         "a list through v2 converts all items in one ConversionReview",
         (r.stdout + r.stderr, len(reviews)))

    r = k("patch", "widgets.v2.example.com", "w1", "-n", "conv", "--type", "merge",
          "-p", '{"spec":{"dimension":7}}', "-o", "json")
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    r2 = k("get", "widgets.v1.example.com", "w1", "-n", "conv", "-o", "jsonpath={.spec.size}")
    t.ok(o.get("spec") == {"dimension": 7} and r2.stdout == "7",
         "a merge patch through v2 is applied to the v2 form and stored as v1", (r.stdout + r.stderr, r2.stdout))

    # ---- a watch through v2: events converted, in order ----
    c = srv.connect(timeout=15)
    c.request("GET", "/apis/example.com/v2/namespaces/conv/widgets?watch=1")
    resp = c.getresponse()
    events = []
    try:
        for _ in range(2):
            events.append(json.loads(resp.readline()))
        w3 = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w3", "namespace": "conv"}, "spec": {"size": 9}}
        k("create", "-f", "-", stdin=json.dumps(w3))
        k("patch", "widgets.v1.example.com", "w3", "-n", "conv", "--type", "merge", "-p", '{"spec":{"size":10}}')
        k("delete", "widgets.v1.example.com", "w3", "-n", "conv")
        for _ in range(3):
            events.append(json.loads(resp.readline()))
    except (OSError, ValueError) as e:
        events.append(str(e))
    c.close()
    got = [(e["type"], e["object"]["metadata"]["name"], e["object"]["apiVersion"], e["object"]["spec"])
           if isinstance(e, dict) else e for e in events]
    t.ok(resp.status == 200 and got == [
        ("ADDED", "w1", "example.com/v2", {"dimension": 7}), ("ADDED", "w2", "example.com/v2", {"dimension": 5}),
        ("ADDED", "w3", "example.com/v2", {"dimension": 9}), ("MODIFIED", "w3", "example.com/v2", {"dimension": 10}),
        ("DELETED", "w3", "example.com/v2", {"dimension": 10})],
        "a watch through v2 gets its events converted by the webhook, in order", got)

    r = k("get", "widgets.v2.example.com", "-n", "conv", "-w", "--request-timeout=3s")
    r2 = k("get", "widgets.v2.example.com", "-n", "conv", "-w", "--request-timeout=3s",
           "-o", "custom-columns=NAME:.metadata.name,DIM:.spec.dimension,API:.apiVersion")
    rows = [ln.split() for ln in r2.stdout.splitlines()]
    t.ok("w1" in r.stdout and "w2" in r.stdout and ["w1", "7", "example.com/v2"] in rows
         and ["w2", "5", "example.com/v2"] in rows,
         "kubectl get -w through v2 (Table and objects) shows the converted widgets", r.stdout + r2.stdout + r2.stderr)

    # ---- the response is checked ----
    apply_crd(by_url(wh.url("/relabel"), wh.ca_b64))
    time.sleep(0.3)
    r = k("get", "widgets.v2.example.com", "w1", "-n", "conv", "-o", "json")
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    t.ok(o.get("metadata", {}).get("labels", {}).get("converted") == "yes"
         and o.get("metadata", {}).get("generation") != 99,
         "labels set by the webhook are kept, other metadata restored", r.stdout + r.stderr)
    checks = [
        ("/baduid", 'conversion webhook for example.com/v1, Kind=Widget failed: expected response.uid='),
        ("/fail", "conversion webhook for example.com/v1, Kind=Widget failed: cannot convert widgets today"),
        ("/rename", "conversion webhook for example.com/v1, Kind=Widget returned invalid object: "
                    "must have the same name: w1 != other"),
    ]
    for path, want in checks:
        apply_crd(by_url(wh.url(path), wh.ca_b64))
        time.sleep(0.3)
        r = k("get", "widgets.v2.example.com", "w1", "-n", "conv")
        t.ok(r.returncode != 0 and want in r.stderr, "webhook %s: the read fails with upstream's error" % path,
             r.stderr)

    r = k("get", "widgets.v2.example.com", "-n", "conv", "-o", "json")
    t.ok(r.returncode != 0 and "conversion webhook for example.com/v1, Kind=WidgetList returned invalid "
         "converted object at index 1: must have the same name: w1 != other" in r.stderr,
         "a list with a renaming webhook: upstream's error for the list", r.stderr)

    dead = free_port()
    apply_crd(by_url("https://127.0.0.1:%d/convert" % dead, wh.ca_b64))
    time.sleep(0.3)
    r = k("get", "widgets.v2.example.com", "w1", "-n", "conv")
    want = ('conversion webhook for example.com/v1, Kind=Widget failed: Post "https://127.0.0.1:%d/convert'
            '?timeout=30s": dial tcp 127.0.0.1:%d: connect: connection refused' % (dead, dead))
    t.ok(r.returncode != 0 and want in r.stderr, "the webhook down: the read fails with upstream's error",
         r.stderr)
    st, _, data = srv.request("GET", "/apis/example.com/v2/namespaces/conv/widgets/w1", timeout=10)
    doc = json.loads(data) if data.startswith(b"{") else {}
    t.ok(st == 500 and doc.get("kind") == "Status" and doc.get("code") == 500,
         "the failed conversion is a 500 Status", (st, data[:300]))
    r = k("get", "widgets.v1.example.com", "w1", "-n", "conv", "-o", "jsonpath={.spec.size}")
    t.ok(r.returncode == 0 and r.stdout == "7", "the storage version reads without the webhook", r.stderr)
    c = srv.connect(timeout=15)
    c.request("GET", "/apis/example.com/v2/namespaces/conv/widgets?watch=1")
    resp = c.getresponse()
    try:
        ev = json.loads(resp.readline())
        rest = resp.readline()  # the watch ends after its ERROR event
    except (OSError, ValueError) as e:
        ev, rest = {"error": str(e)}, None
    c.close()
    t.ok(ev.get("type") == "ERROR" and ev["object"].get("code") == 500
         and want in ev["object"].get("message", "") and rest == b"",
         "a watch whose conversion fails gets an ERROR event and ends", (ev, rest))

    # ---- a slow webhook does not stall the server ----
    apply_crd(by_url(wh.url("/slow"), wh.ca_b64))
    time.sleep(0.3)
    out = {}

    def slow_get():
        t0 = time.monotonic()
        out["r"] = srv.request("GET", "/apis/example.com/v2/namespaces/conv/widgets/w1", timeout=20)
        out["dt"] = time.monotonic() - t0

    th = threading.Thread(target=slow_get)
    th.start()
    time.sleep(0.7)
    t0 = time.monotonic()
    st, _, _ = srv.request("GET", "/healthz")
    st2, _, _ = srv.request("GET", "/api/v1/namespaces")
    dt_other = time.monotonic() - t0
    waiting = th.is_alive()
    th.join(30)
    r = out.get("r")
    t.ok(st == 200 and st2 == 200 and waiting and dt_other < 0.5,
         "other clients are answered while a conversion waits for a slow webhook (%.2f s)" % dt_other,
         (st, st2, waiting, dt_other))
    t.ok(r is not None and r[0] == 200 and json.loads(r[2]).get("spec") == {"dimension": 7}
         and out["dt"] > 2.5, "the slow conversion completes (%.2f s)" % out.get("dt", -1),
         r[:1] if r else None)

    # ---- by service reference ----
    k("create", "namespace", "conv-system")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "conv-hooks", "namespace": "conv-system"},
           "spec": {"type": "ExternalName", "externalName": "localhost",
                    "ports": [{"name": "https", "port": wh.port}]}}
    k("apply", "-f", "-", stdin=json.dumps(svc))
    c = {"strategy": "Webhook", "webhook": {
        "clientConfig": {"service": {"namespace": "conv-system", "name": "conv-hooks", "path": "/convert",
                                     "port": wh.port}, "caBundle": wh.ca_b64},
        "conversionReviewVersions": ["v1"]}}
    r = apply_crd(c)
    time.sleep(0.3)
    n3 = len(wh.seen)
    r2 = k("get", "widgets.v2.example.com", "w2", "-n", "conv", "-o", "jsonpath={.spec.dimension}")
    t.ok(r.returncode == 0 and r2.returncode == 0 and r2.stdout == "5" and len(wh.seen) == n3 + 1,
         "a conversion webhook by service reference (ExternalName, certificate for the service's name)",
         r.stderr + r2.stderr)
    c["webhook"]["clientConfig"]["service"]["name"] = "nohooks"
    apply_crd(c)
    time.sleep(0.3)
    r = k("get", "widgets.v2.example.com", "w2", "-n", "conv")
    t.ok(r.returncode != 0 and 'conversion webhook for example.com/v1, Kind=Widget failed: Post '
         '"https://nohooks.conv-system.svc:%d/convert?timeout=30s": services "nohooks" not found' % wh.port
         in r.stderr, "a missing service: upstream's error", r.stderr)

    st, _, _ = srv.request("GET", "/healthz")
    t.ok(st == 200, "the server is still healthy")
    t.ok(srv.stop_clean(), "the server exits cleanly (no sanitizer report)", srv.log_tail())
    t.done()


if __name__ == "__main__":
    main()
