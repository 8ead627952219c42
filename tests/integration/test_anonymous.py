#!/usr/bin/python3
"""Anonymous requests (issue #16): without --anonymous-auth (k3s's default) a
request without credentials is a 401; with it, such a request runs as
system:anonymous in group system:unauthenticated and gets only what RBAC grants
that user or group (403 in upstream's words otherwise), while a bad bearer
token stays a 401."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Server, Tap, wait_until  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"])
srv.start()


def anon(path, headers=None):
    status, _, body = srv.request("GET", path, client_cert=False, headers=headers)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body[:200]}


try:
    # ---- off (the default)
    status, body = anon("/api/v1/namespaces")
    t.ok(status == 401 and body.get("reason") == "Unauthorized",
         "without --anonymous-auth: no credentials is 401 Unauthorized", (status, body))
    status, _ = anon("/version")
    t.ok(status == 200, "/version answers without credentials", status)
    srv.stop()

    # ---- on
    srv.extra_args.append("--anonymous-auth")
    srv.start()
    status, body = anon("/api/v1/namespaces")
    want = ('namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" '
            'in API group "" at the cluster scope')
    t.ok(status == 403 and body.get("reason") == "Forbidden" and body.get("message") == want,
         "with --anonymous-auth: no credentials is system:anonymous, refused 403 in upstream's words",
         (status, body))
    status, body = anon("/api/v1/namespaces", {"Authorization": "Bearer not-a-valid-token"})
    t.ok(status == 401, "a bad bearer token is still 401, not anonymous", (status, body))
    status, body = anon("/apis")
    t.ok(status == 403 and "system:anonymous" in body.get("message", ""),
         "discovery is not granted to system:unauthenticated (system:discovery is for the "
         "authenticated)", (status, body))

    r = srv.kubectl("create", "clusterrolebinding", "anon-view", "--clusterrole=view",
                    "--group=system:unauthenticated")
    t.ok(r.returncode == 0, "bind view to system:unauthenticated", r.stderr)
    ok = wait_until(lambda: anon("/api/v1/namespaces/default/configmaps")[0] == 200, timeout=10)
    status, body = anon("/api/v1/namespaces/default/configmaps")
    t.ok(ok and body.get("kind") == "ConfigMapList",
         "the binding grants anonymous requests its rules", (status, body))
    status, body = srv.request("POST", "/api/v1/namespaces/default/configmaps",
                               body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "x"}}),
                               headers={"Content-Type": "application/json"}, client_cert=False)[0::2]
    t.ok(status == 403, "and nothing more (create refused)", (status, body[:300]))
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "system:anonymous", "groups": ["system:unauthenticated"],
                    "resourceAttributes": {"verb": "list", "resource": "configmaps",
                                           "namespace": "default"}}}
    r = subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig, "create", "-o", "json", "-f", "-"],
                       input=json.dumps(sar), capture_output=True, text=True, timeout=60)
    allowed = r.returncode == 0 and json.loads(r.stdout).get("status", {}).get("allowed")
    t.ok(allowed is True, "a SubjectAccessReview for system:anonymous agrees", r.stdout + r.stderr)
    r = srv.kubectl("delete", "clusterrolebinding", "anon-view")
    ok = wait_until(lambda: anon("/api/v1/namespaces/default/configmaps")[0] == 403, timeout=10)
    t.ok(ok, "deleting the binding takes the grant away", anon("/api/v1/namespaces/default/configmaps"))
    t.ok(srv.stop_clean(), "server stops cleanly, no sanitizer report", srv.log_tail())
finally:
    srv.cleanup()
t.done()
