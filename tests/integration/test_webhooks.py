"""Admission webhooks called by URL and by service reference against `k3c server --disable-agent`
with real kubectl: an HTTPS webhook server here (python ssl + http.server
on 127.0.0.1, a certificate made with openssl, its own CA as caBundle);
the configuration kinds (apply, get, defaults, validation messages), a
mutating webhook's JSONPatch, a validating webhook's denial and warning,
namespaceSelector/objectSelector, UPDATE/DELETE reviews, failurePolicy
Ignore/Fail with nothing listening, timeoutSeconds against a slow webhook
while another client is answered (the event loop does not wait)."""
import base64
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import ReviewServer, Server, Tap, free_port  # noqa: E402


class Webhook:
    """An HTTPS admission webhook; every review it gets is kept in self.seen
    (path, request, path with query)."""

    def __init__(self, tmp, host="127.0.0.1"):
        self.seen = []
        self.server = ReviewServer(tmp, self.answer, dns_names=("webhook.test", "hooks.wh-system.svc"),
                                   name="wh", host=host)
        self.port, self.ca_b64 = self.server.port, self.server.ca_b64

    def answer(self, path, review, full_path):
        req = review["request"]
        self.seen.append((path, req, full_path))
        resp = {"uid": req["uid"], "allowed": True}
        obj = req.get("object") or req.get("oldObject") or {}
        name = obj.get("metadata", {}).get("name", "")
        if path == "/mutate":
            has = bool(obj.get("metadata", {}).get("labels"))
            ops = ([{"op": "add", "path": "/metadata/labels/webhook-added", "value": "yes"}]
                   if has else
                   [{"op": "add", "path": "/metadata/labels", "value": {"webhook-added": "yes"}}])
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
            resp["warnings"] = ["the mutating webhook was here"]
        elif path == "/deny":
            if name.startswith("bad") or name.startswith("keep"):
                resp["allowed"] = False
                resp["status"] = {"message": "names like %s are refused" % name}
                if name.startswith("keep"):
                    resp["status"]["code"] = 403
                    resp["status"]["reason"] = "Forbidden"
        elif path == "/slow":
            time.sleep(4)
        elif path in ("/reinv-a", "/reinv-b"):
            # a copies label b into label a (or "none"); b sets b=yes
            labels = obj.get("metadata", {}).get("labels") or {}
            key, val = ("a", labels.get("b", "none")) if path == "/reinv-a" else ("b", "yes")
            if labels.get(key) != val:
                ops = ([{"op": "add", "path": "/metadata/labels/" + key, "value": val}] if labels else
                       [{"op": "add", "path": "/metadata/labels", "value": {key: val}}])
                resp["patchType"] = "JSONPatch"
                resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}

    def url(self, path):
        return self.server.url(path)

    def stop(self):
        self.server.stop()


def config(kind, name, hooks):
    return json.dumps({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                       "metadata": {"name": name}, "webhooks": hooks})


def hook(name, url, ca, ns_label, ops=("CREATE", "UPDATE"), **extra):
    """url None: the caller sets clientConfig."""
    h = {"name": name, "clientConfig": {"url": url, "caBundle": ca},
         "rules": [{"operations": list(ops), "apiGroups": [""], "apiVersions": ["v1"],
                    "resources": ["configmaps"]}],
         "admissionReviewVersions": ["v1"], "sideEffects": "None",
         "namespaceSelector": {"matchLabels": {"webhook": ns_label}}}
    h.update(extra)
    return h


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    wh = Webhook(srv.tmp)

    def k(*args, stdin=None):
        env = dict(os.environ, HOME=srv.tmp)
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120, env=env)

    for ns in ("mut", "val", "fail", "slow", "svc", "reinv"):
        k("create", "namespace", "wh-" + ns)
        k("label", "namespace", "wh-" + ns, "webhook=" + ns)

    # ---- the configuration kinds ----
    mut = config("MutatingWebhookConfiguration", "label-adder",
                 [hook("mutate.example.com", wh.url("/mutate"), wh.ca_b64, "mut")])
    r = k("apply", "-f", "-", stdin=mut)
    t.ok(r.returncode == 0 and "mutatingwebhookconfiguration.admissionregistration.k8s.io/label-adder "
         "created" in r.stdout, "kubectl apply of a MutatingWebhookConfiguration", r.stdout + r.stderr)
    r = k("get", "mutatingwebhookconfiguration", "label-adder", "-o", "json")
    got = json.loads(r.stdout)["webhooks"][0] if r.returncode == 0 else {}
    t.ok(got.get("timeoutSeconds") == 10 and got.get("failurePolicy") == "Fail"
         and got.get("matchPolicy") == "Equivalent" and got.get("reinvocationPolicy") == "Never"
         and got.get("objectSelector") == {} and got["rules"][0].get("scope") == "*",
         "upstream's defaults are filled in", got)
    val = config("ValidatingWebhookConfiguration", "name-checker",
                 [hook("deny.example.com", wh.url("/deny"), wh.ca_b64, "val",
                       ops=("CREATE", "UPDATE", "DELETE"),
                       objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]})])
    r = k("apply", "-f", "-", stdin=val)
    r2 = k("get", "validatingwebhookconfigurations")
    lines = r2.stdout.strip().split("\n")
    t.ok(r.returncode == 0 and lines[0].split() == ["NAME", "WEBHOOKS", "AGE"]
         and lines[1].split()[:2] == ["name-checker", "1"],
         "kubectl get validatingwebhookconfigurations", r.stdout + r.stderr + r2.stdout + r2.stderr)

    bad = config("ValidatingWebhookConfiguration", "bad",
                 [{"name": "two.segments", "clientConfig": {"url": "http://127.0.0.1:1/x"},
                   "admissionReviewVersions": ["v1beta1"], "timeoutSeconds": 31},
                  {"name": "svc.example.com", "sideEffects": "Some", "admissionReviewVersions": ["v1"],
                   "clientConfig": {}}])
    r = k("apply", "-f", "-", stdin=bad)
    e = r.stderr
    t.ok(r.returncode != 0
         and 'webhooks[0].name: Invalid value: "two.segments": should be a domain with at least '
             'three segments separated by dots' in e
         and "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun" in e
         and "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds" in e
         and "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme" in e
         and 'webhooks[0].admissionReviewVersions: Invalid value: ["v1beta1"]: must include at least one of v1' in e
         and 'webhooks[1].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"' in e
         and "webhooks[1].clientConfig: Required value: exactly one of url or service is required" in e,
         "validation with upstream's messages", e)
    bad = config("MutatingWebhookConfiguration", "bad-enums",
                 [hook("enums.example.com", "https://127.0.0.1:1/x", wh.ca_b64, "none",
                       failurePolicy="Failx", matchPolicy="Fuzzy", reinvocationPolicy="Always")])
    r = k("apply", "-f", "-", stdin=bad)
    e = r.stderr
    t.ok(r.returncode != 0
         and 'webhooks[0].failurePolicy: Unsupported value: "Failx": supported values: "Fail", "Ignore"' in e
         and 'webhooks[0].matchPolicy: Unsupported value: "Fuzzy": supported values: "Equivalent", "Exact"' in e
         and 'webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", '
             '"Never"' in e,
         "failurePolicy, matchPolicy and reinvocationPolicy outside upstream's enums are refused", e)

    # ---- mutating: the label is added, the warning shown, the review complete ----
    r = k("create", "configmap", "cm1", "-n", "wh-mut", "--from-literal=a=b")
    r2 = k("get", "configmap", "cm1", "-n", "wh-mut", "-o", "jsonpath={.metadata.labels}")
    t.ok(r.returncode == 0 and "webhook-added" in r2.stdout and "yes" in r2.stdout,
         "a mutating webhook's JSONPatch adds a label (kubectl create, then get)",
         r.stdout + r.stderr + r2.stdout + r2.stderr)
    t.ok("Warning: the mutating webhook was here" in r.stderr, "the webhook's warning is shown by kubectl",
         r.stderr)
    reqs = [q for p, q, _ in wh.seen if p == "/mutate"]
    q = reqs[-1] if reqs else {}
    full_path = [u for p, _, u in wh.seen if p == "/mutate"][-1:] or [""]
    t.ok(q.get("operation") == "CREATE" and q.get("name") == "cm1" and q.get("namespace") == "wh-mut"
         and q.get("kind") == {"group": "", "version": "v1", "kind": "ConfigMap"}
         and q.get("resource") == {"group": "", "version": "v1", "resource": "configmaps"}
         and q.get("requestKind") == q.get("kind") and q.get("dryRun") is False
         and q.get("userInfo", {}).get("username") and q.get("object", {}).get("data") == {"a": "b"}
         and q.get("oldObject") is None and q.get("options", {}).get("kind") == "CreateOptions"
         and full_path[0].endswith("?timeout=10s"),
         "the AdmissionReview request carries upstream's fields", (q, full_path))
    n_before = len(wh.seen)
    r = k("create", "configmap", "cm1", "-n", "default")
    r2 = k("get", "configmap", "cm1", "-n", "default", "-o", "jsonpath={.metadata.labels}")
    t.ok(r.returncode == 0 and "webhook-added" not in r2.stdout and len(wh.seen) == n_before,
         "namespaceSelector: a namespace without the label is not sent to the webhook",
         r.stderr + r2.stdout)
    r = k("label", "configmap", "cm1", "-n", "wh-mut", "x=y")
    q = [q for p, q, _ in wh.seen if p == "/mutate"][-1]
    t.ok(r.returncode == 0 and q.get("operation") == "UPDATE"
         and q.get("oldObject", {}).get("metadata", {}).get("name") == "cm1"
         and q.get("object", {}).get("metadata", {}).get("labels", {}).get("x") == "y",
         "an update is reviewed with operation UPDATE and oldObject", q)
    r = k("create", "configmap", "cm-dry", "-n", "wh-mut", "--dry-run=server", "-o", "json")
    q = [q for p, q, _ in wh.seen if p == "/mutate"][-1]
    t.ok(r.returncode == 0 and q.get("dryRun") is True and q.get("name") == "cm-dry"
         and json.loads(r.stdout)["metadata"]["labels"].get("webhook-added") == "yes",
         "a server dry run calls a sideEffects None webhook with dryRun true", r.stderr + str(q))

    # ---- validating: denial, objectSelector, delete ----
    r = k("create", "configmap", "bad-one", "-n", "wh-val")
    t.ok(r.returncode != 0
         and 'admission webhook "deny.example.com" denied the request: names like bad-one are refused'
         in r.stderr, "a validating webhook's denial is shown by kubectl", r.stderr)
    st, _, data = srv.request("POST", "/api/v1/namespaces/wh-val/configmaps",
                              body=json.dumps({"metadata": {"name": "bad-two"}}).encode(),
                              headers={"Content-Type": "application/json"})
    body = json.loads(data)
    t.ok(st == 400 and body.get("code") == 400 and body.get("status") == "Failure",
         "a denial without a code answers 400", (st, body))
    skip = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "bad-skipped", "namespace": "wh-val", "labels": {"skip": "1"}}})
    r = k("apply", "-f", "-", stdin=skip)
    t.ok(r.returncode == 0, "objectSelector: an object it does not select is not sent", r.stderr)
    st, _, data = srv.request("POST", "/api/v1/namespaces/wh-val/configmaps",
                              body=json.dumps({"metadata": {"name": "keep-me"}}).encode(),
                              headers={"Content-Type": "application/json"})
    body = json.loads(data)
    t.ok(st == 403 and body.get("reason") == "Forbidden" and body.get("code") == 403,
         "a denial's code and reason are the webhook's", (st, body))
    bad_rm = config("ValidatingWebhookConfiguration", "name-checker",
                    [hook("deny.example.com", wh.url("/deny"), wh.ca_b64, "val", ops=("DELETE",))])
    r = k("apply", "-f", "-", stdin=bad_rm)
    r2 = k("create", "configmap", "keep-me", "-n", "wh-val")
    r3 = k("delete", "configmap", "keep-me", "-n", "wh-val")
    q = [q for p, q, _ in wh.seen if p == "/deny"][-1]
    t.ok(r2.returncode == 0 and r3.returncode != 0
         and 'Error from server (Forbidden): admission webhook "deny.example.com" denied the request: '
             'names like keep-me are refused' in r3.stderr
         and q.get("operation") == "DELETE" and q.get("object") is None
         and q.get("oldObject", {}).get("metadata", {}).get("name") == "keep-me",
         "a DELETE is reviewed (oldObject) and refused with the webhook's 403",
         (r.stderr, r2.stderr, r3.stdout, r3.stderr, q.get("operation")))
    k("delete", "validatingwebhookconfiguration", "name-checker")
    r = k("delete", "configmap", "keep-me", "-n", "wh-val")
    t.ok(r.returncode == 0, "with the configuration gone the delete goes through", r.stderr)

    # ---- a webhook by service reference ----
    # Endpoints may not hold loopback addresses (as upstream), so the
    # service is an ExternalName one for localhost; the certificate must be
    # valid for hooks.wh-system.svc, the name the server checks.
    k("create", "namespace", "wh-system")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hooks", "namespace": "wh-system"},
           "spec": {"type": "ExternalName", "externalName": "localhost",
                    "ports": [{"name": "https", "port": wh.port}]}}
    k("apply", "-f", "-", stdin=json.dumps(svc))
    by_svc = hook("svc.example.com", None, wh.ca_b64, "svc")
    by_svc["clientConfig"] = {"service": {"namespace": "wh-system", "name": "hooks", "path": "/deny",
                                          "port": wh.port}, "caBundle": wh.ca_b64}
    r = k("apply", "-f", "-", stdin=config("ValidatingWebhookConfiguration", "by-service", [by_svc]))
    n_before = len(wh.seen)
    r2 = k("create", "configmap", "bad-svc", "-n", "wh-svc")
    r3 = k("create", "configmap", "fine-svc", "-n", "wh-svc")
    t.ok(r.returncode == 0 and r2.returncode != 0
         and 'admission webhook "svc.example.com" denied the request: names like bad-svc are refused'
         in r2.stderr and r3.returncode == 0 and len(wh.seen) == n_before + 2,
         "a validating webhook reached through clientConfig.service denies with its message",
         r.stderr + r2.stderr + r3.stderr)
    by_svc["clientConfig"]["service"]["name"] = "nohooks"
    k("apply", "-f", "-", stdin=config("ValidatingWebhookConfiguration", "by-service", [by_svc]))
    r = k("create", "configmap", "cm-nosvc", "-n", "wh-svc")
    t.ok(r.returncode != 0 and 'failed calling webhook "svc.example.com": failed to call webhook: Post '
         '"https://nohooks.wh-system.svc:%d/deny?timeout=10s": services "nohooks" not found' % wh.port
         in r.stderr, "a service that does not exist fails the call with upstream's error", r.stderr)
    k("delete", "validatingwebhookconfiguration", "by-service")

    # ---- failurePolicy with nothing listening ----
    dead = "https://127.0.0.1:%d/x" % free_port()
    cfg = config("ValidatingWebhookConfiguration", "dead",
                 [hook("ignore.example.com", dead, wh.ca_b64, "fail", failurePolicy="Ignore")])
    k("apply", "-f", "-", stdin=cfg)
    r = k("create", "configmap", "cm-ignore", "-n", "wh-fail")
    t.ok(r.returncode == 0, "failurePolicy Ignore: a webhook that is down is skipped", r.stderr)
    cfg = config("ValidatingWebhookConfiguration", "dead",
                 [hook("fail.example.com", dead, wh.ca_b64, "fail")])
    k("apply", "-f", "-", stdin=cfg)
    r = k("create", "configmap", "cm-fail", "-n", "wh-fail")
    t.ok(r.returncode != 0 and 'Internal error occurred: failed calling webhook "fail.example.com": '
         'failed to call webhook: Post "%s?timeout=10s": dial tcp 127.0.0.1:%s: connect: connection refused'
         % (dead, dead.split(":")[2].split("/")[0]) in r.stderr,
         "failurePolicy Fail: the write is refused with upstream's error", r.stderr)
    cfg = config("ValidatingWebhookConfiguration", "dead",
                 [hook("wrongca.example.com", wh.url("/deny"),
                       base64.b64encode(open(srv.ca_file, "rb").read()).decode(), "fail")])
    k("apply", "-f", "-", stdin=cfg)
    r = k("create", "configmap", "cm-ca", "-n", "wh-fail")
    t.ok(r.returncode != 0 and 'failed calling webhook "wrongca.example.com"' in r.stderr
         and "tls: failed to verify certificate: x509: certificate signed by unknown authority"
         in r.stderr,
         "a server certificate the caBundle does not sign is refused", r.stderr)
    other = Webhook(srv.tmp, host="127.0.0.2")  # the same certificate: not valid for this address
    cfg = config("ValidatingWebhookConfiguration", "dead",
                 [hook("wrongip.example.com", other.url("/deny"), wh.ca_b64, "fail")])
    k("apply", "-f", "-", stdin=cfg)
    r = k("create", "configmap", "cm-ip", "-n", "wh-fail")
    t.ok(r.returncode != 0 and 'failed calling webhook "wrongip.example.com"' in r.stderr
         and "tls: failed to verify certificate: x509: certificate is not valid for 127.0.0.2"
         in r.stderr and not [1 for _, q, _ in other.seen],
         "a certificate without the URL's address among its IP SANs is refused", r.stderr)
    other.stop()
    k("delete", "validatingwebhookconfiguration", "dead")

    # ---- timeoutSeconds, and the loop answers meanwhile ----
    cfg = config("ValidatingWebhookConfiguration", "slow",
                 [hook("slow.example.com", wh.url("/slow"), wh.ca_b64, "slow", timeoutSeconds=2)])
    k("apply", "-f", "-", stdin=cfg)
    out = {}

    def slow_create():
        t0 = time.monotonic()
        out["r"] = k("create", "configmap", "cm-slow", "-n", "wh-slow")
        out["dt"] = time.monotonic() - t0

    th = threading.Thread(target=slow_create)
    th.start()
    time.sleep(0.7)
    t0 = time.monotonic()
    st, _, _ = srv.request("GET", "/api/v1/namespaces/default/configmaps")
    st2, _, _ = srv.request("GET", "/healthz")
    dt_other = time.monotonic() - t0
    # a write while webhooks exist takes the webhook path too (the pool, not
    # behind the slow call)
    t0 = time.monotonic()
    st3, _, _ = srv.request("POST", "/api/v1/namespaces/default/configmaps",
                            body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "beside-slow"}}).encode(),
                            headers={"Content-Type": "application/json"})
    dt_write = time.monotonic() - t0
    waiting = th.is_alive()  # the slow write still waits for its webhook
    th.join(60)
    r = out.get("r")
    t.ok(st == 200 and st2 == 200 and waiting and dt_other < 0.5,
         "another client is answered while a write waits for a slow webhook (%.2f s)" % dt_other,
         (st, st2, waiting, dt_other))
    t.ok(st3 == 201 and waiting and dt_write < 0.5,
         "and another write, in a namespace the webhook does not select, is not held up behind it (%.2f s)"
         % dt_write, (st3, waiting, dt_write))
    t.ok(r is not None and r.returncode != 0 and 1.9 < out["dt"] < 3.5
         and 'failed calling webhook "slow.example.com"' in r.stderr
         and "context deadline exceeded" in r.stderr,
         "timeoutSeconds 2: a slow webhook fails the write after the timeout (%.2f s)" % out.get("dt", -1),
         r.stderr if r else None)
    k("delete", "validatingwebhookconfiguration", "slow")

    # ---- reinvocationPolicy: IfNeeded calls a webhook again after a later one changed the object ----
    def reinv_configs(policy):
        items = [config("MutatingWebhookConfiguration", "reinv-1",
                        [hook("a.reinv.example.com", wh.url("/reinv-a"), wh.ca_b64, "reinv", ops=("CREATE",),
                              reinvocationPolicy=policy)]),
                 config("MutatingWebhookConfiguration", "reinv-2",
                        [hook("b.reinv.example.com", wh.url("/reinv-b"), wh.ca_b64, "reinv", ops=("CREATE",))])]
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": [json.loads(i) for i in items]})

    def labels_and_calls(name):
        r = k("create", "configmap", name, "-n", "wh-reinv")
        r2 = k("get", "configmap", name, "-n", "wh-reinv", "-o", "jsonpath={.metadata.labels}")
        calls = [p for p, q, _ in wh.seen if q.get("name") == name]
        return r, (json.loads(r2.stdout) if r2.returncode == 0 and r2.stdout else {}), calls

    r = k("apply", "-f", "-", stdin=reinv_configs("IfNeeded"))
    t.ok(r.returncode == 0 and r.stdout.count("created") == 2, "two mutating configurations for reinvocation",
         r.stdout + r.stderr)
    r, labels, calls = labels_and_calls("cm-reinv")
    t.ok(r.returncode == 0 and labels == {"a": "yes", "b": "yes"}
         and calls == ["/reinv-a", "/reinv-b", "/reinv-a"],
         "reinvocationPolicy IfNeeded: webhook a is called again after webhook b changed the object "
         "(configurations in name order)", (r.stderr, labels, calls))
    k("apply", "-f", "-", stdin=reinv_configs("Never"))
    r, labels, calls = labels_and_calls("cm-never")
    t.ok(r.returncode == 0 and labels == {"a": "none", "b": "yes"} and calls == ["/reinv-a", "/reinv-b"],
         "reinvocationPolicy Never: each webhook is called once", (r.stderr, labels, calls))
    k("delete", "mutatingwebhookconfiguration", "reinv-1", "reinv-2")
    k("delete", "mutatingwebhookconfiguration", "label-adder")
    r = k("create", "configmap", "cm2", "-n", "wh-mut")
    r2 = k("get", "configmap", "cm2", "-n", "wh-mut", "-o", "jsonpath={.metadata.labels}")
    t.ok(r.returncode == 0 and "webhook-added" not in r2.stdout,
         "with the configuration deleted no webhook is called", r2.stdout)
    wh.stop()
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    t.done()


if __name__ == "__main__":
    main()
