#!/usr/bin/env python3
"""The audit log with real kubectl: --audit-log-path and --audit-policy-file
give audit.k8s.io/v1 Event lines; a create is logged with user, verb,
resource, name and code and the authorization annotations; the policy's
levels (None, Metadata, Request, RequestResponse), omitStages and
omitManagedFields apply; a refused request is logged as forbid/403;
PodSecurity's audit-violations annotation is there; the log rotates at
--audit-log-maxsize and keeps --audit-log-maxbackup backups."""
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Tap, Server, wait_until  # noqa: E402

t = Tap()
srv = Server()
audit_dir = os.path.join(srv.tmp, "audit")
log_path = os.path.join(audit_dir, "audit.log")
policy = os.path.join(srv.tmp, "policy.yaml")
with open(policy, "w") as f:
    f.write("""apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
- level: None
  verbs: [watch]
- level: None
  resources: [{group: "coordination.k8s.io", resources: [leases]}]
- level: RequestResponse
  namespaces: [audited]
  resources: [{group: "", resources: [configmaps]}]
  omitStages: [RequestReceived]
- level: Request
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
""")
srv.extra_args = ["--audit-log-path", log_path, "--audit-policy-file", policy,
                  "--audit-log-maxsize", "1", "--audit-log-maxbackup", "2"]


def events():
    out = []
    for p in sorted(glob.glob(os.path.join(audit_dir, "audit*.log"))):
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def find(pred):
    return [e for e in events() if pred(e)]


def wait_find(pred, timeout=10):
    """Events matching pred, once there are some (bounded wait)."""
    got = []

    def check():
        got[:] = find(pred)
        return bool(got)
    wait_until(check, timeout=timeout)
    return got


def ref(e, k):
    return (e.get("objectRef") or {}).get(k)


try:
    srv.start()
    r = srv.kubectl("create", "configmap", "plain", "--from-literal=a=b")
    t.ok(r.returncode == 0, "configmap created", r.stderr)
    done = wait_find(lambda e: ref(e, "name") == "plain" and e["verb"] == "create")
    e = done[0] if done else {}
    stages = sorted(x["stage"] for x in find(lambda x: x["auditID"] == e.get("auditID")))
    t.ok(stages == ["RequestReceived", "ResponseComplete"], "two stages for a Metadata create",
         str(stages))
    t.ok(e.get("kind") == "Event" and e.get("apiVersion") == "audit.k8s.io/v1" and
         e.get("level") == "Metadata" and len(e.get("auditID", "")) == 36,
         "Event, audit.k8s.io/v1, level Metadata, an auditID", json.dumps(e)[:400])
    t.ok(e.get("user", {}).get("username") and "system:masters" in e.get("user", {}).get("groups", [])
         and e.get("verb") == "create" and ref(e, "resource") == "configmaps" and
         ref(e, "namespace") == "default" and ref(e, "apiVersion") == "v1" and
         e.get("responseStatus", {}).get("code") == 201,
         "user, verb, resource, namespace, name and code 201", json.dumps(e)[:600])
    t.ok(e.get("requestURI", "").startswith("/api/v1/namespaces/default/configmaps") and
         e.get("sourceIPs") == ["127.0.0.1"] and e.get("userAgent", "").startswith("kubectl") and
         e.get("requestReceivedTimestamp", "").endswith("Z") and
         e.get("stageTimestamp", "") >= e.get("requestReceivedTimestamp", "~"),
         "requestURI, sourceIPs, userAgent, timestamps")
    ann = e.get("annotations", {})
    t.ok(ann.get("authorization.k8s.io/decision") == "allow" and
         "authorization.k8s.io/reason" in ann, "authorization annotations", str(ann))
    t.ok("requestObject" not in e and "responseObject" not in e, "Metadata has no objects")
    t.ok(not find(lambda e: e["verb"] == "watch"), "the None rule for watch keeps them out")
    t.ok(not find(lambda e: ref(e, "resource") == "leases"), "leases (None) are not logged")

    srv.kubectl("create", "namespace", "audited")
    r = srv.kubectl("create", "configmap", "full", "-n", "audited", "--from-literal=k=v")
    t.ok(r.returncode == 0, "configmap in audited created", r.stderr)
    got = wait_find(lambda e: ref(e, "name") == "full")
    t.ok(len(got) == 1 and got[0]["stage"] == "ResponseComplete" and
         got[0]["level"] == "RequestResponse", "RequestResponse rule, RequestReceived omitted",
         json.dumps(got)[:300])
    e = got[0] if got else {}
    t.ok(e.get("requestObject", {}).get("data") == {"k": "v"} and
         e.get("responseObject", {}).get("metadata", {}).get("uid") and
         "managedFields" not in e.get("responseObject", {}).get("metadata", {}),
         "requestObject and responseObject, managedFields omitted", json.dumps(e)[:600])

    r = srv.kubectl("create", "secret", "generic", "sec", "--from-literal=p=q")
    got = wait_find(lambda e: ref(e, "name") == "sec" and
                                       e["stage"] == "ResponseComplete")
    e = got[0] if got else {}
    t.ok(e.get("level") == "Request" and "requestObject" in e and "responseObject" not in e,
         "Request level: requestObject only", json.dumps(e)[:300])

    r = srv.kubectl("get", "pods", "-n", "default", "--as", "alice")
    t.ok(r.returncode != 0, "alice may not list pods", r.stderr)
    got = wait_find(lambda e: e.get("impersonatedUser", {}).get("username") == "alice" and e["verb"] == "list" and
                                       e["stage"] == "ResponseComplete")
    e = got[0] if got else {}
    t.ok(e.get("responseStatus", {}).get("code") == 403 and
         e.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid" and
         "cannot list resource" in e.get("annotations", {}).get("authorization.k8s.io/reason", "")
         and e.get("verb") == "list" and "system:masters" in e.get("user", {}).get("groups", []),
         "a refusal: list, 403, decision forbid with the reason; user is the impersonator",
         json.dumps(e)[:500])

    srv.kubectl("create", "namespace", "psa")
    srv.kubectl("label", "namespace", "psa", "pod-security.kubernetes.io/audit=restricted")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "psa"},
           "spec": {"containers": [{"name": "c", "image": "busybox",
                                    "securityContext": {"privileged": True}}]}}
    pf = os.path.join(srv.tmp, "pod.json")
    with open(pf, "w") as f:
        json.dump(pod, f)
    r = srv.kubectl("create", "-f", pf)
    t.ok(r.returncode == 0, "privileged pod admitted (audit mode only)", r.stderr)
    got = wait_find(lambda e: ref(e, "resource") == "pods" and ref(e, "name") == "p"
                                       and e["stage"] == "ResponseComplete")
    ann = got[0].get("annotations", {}) if got else {}
    t.ok("privileged" in ann.get("pod-security.kubernetes.io/audit-violations", "") and
         "restricted" in ann.get("pod-security.kubernetes.io/audit-violations", ""),
         "PodSecurity audit-violations annotation", str(ann)[:400])

    # rotation: RequestResponse events of ~200 KiB each pass 1 MiB several times
    big = "x" * 100000
    for i in range(16):
        r = srv.kubectl("create", "configmap", "big%d" % i, "-n", "audited", "--from-literal=v=" + big)
        if r.returncode != 0:
            break
    t.ok(r.returncode == 0, "16 big configmaps created", r.stderr)
    ok = wait_until(lambda: len(glob.glob(os.path.join(audit_dir, "audit-*.log"))) == 2, timeout=10)
    backups = glob.glob(os.path.join(audit_dir, "audit-*.log"))
    t.ok(ok and os.path.getsize(log_path) <= (1 << 20), "rotated at 1 MiB, 2 backups kept",
         str(backups))
    t.ok(all(os.path.getsize(b) <= (1 << 20) for b in backups) and
         oct(os.stat(log_path).st_mode & 0o777) == "0o600", "every file within the limit, mode 0600")
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())

    bad = os.path.join(srv.tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")
    srv2 = Server(["--audit-log-path", log_path, "--audit-policy-file", bad])
    try:
        srv2.start(timeout=20)
        started = True
    except RuntimeError:
        started = False
    t.ok(not started and "rules[0].level: one of None, Metadata, Request, RequestResponse" in
         srv2.log_text(), "a bad policy stops the start, saying what is wrong", srv2.log_tail(3))
    srv2.cleanup()
finally:
    srv.cleanup()
t.done()
