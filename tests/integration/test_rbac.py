#!/usr/bin/python3
"""RBAC (issue #16): the default roles, bindings granting exactly their rules
in their namespace with upstream's 403 messages, aggregation into view by
label, escalation prevention, impersonation (`--as`) and `kubectl auth can-i`,
a service account's token limited to its bindings, and the default policy
reconciled at start unless autoupdate is "false"."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Server, Tap  # noqa: E402
from kube import token_kubeconfig  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"])
os.makedirs(os.path.join(srv.data_dir, "server"), mode=0o700, exist_ok=True)
with open(os.path.join(srv.data_dir, "server", "tokens.csv"), "w") as f:
    f.write('alice-token-0123456789,alice,uid-a,"devs"\n')
    f.write('carol-token-0123456789,carol,uid-c,""\n')
srv.start()
alice_cfg = token_kubeconfig(srv, os.path.join(srv.tmp, "alice.kubeconfig"), "alice-token-0123456789")
carol_cfg = token_kubeconfig(srv, os.path.join(srv.tmp, "carol.kubeconfig"), "carol-token-0123456789")


def k(*args, stdin=None):
    return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)


def as_(cfg, *args, stdin=None):
    return subprocess.run(["kubectl", "--kubeconfig", cfg] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)


def until(fn, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.2)
    return fn()


k("create", "namespace", "dev")
k("create", "namespace", "prod")

# ---- the default policy
r = k("get", "clusterrole", "cluster-admin", "admin", "edit", "view", "system:basic-user",
      "system:discovery", "-o", "json")
items = json.loads(r.stdout).get("items", []) if r.returncode == 0 else []
t.ok(len(items) == 6, "default ClusterRoles exist", r.stderr)
view = next((i for i in items if i["metadata"]["name"] == "view"), {})
t.ok(view.get("aggregationRule", {}).get("clusterRoleSelectors") ==
     [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
     and view["metadata"]["annotations"].get("rbac.authorization.kubernetes.io/autoupdate") == "true",
     "view aggregates by label and is auto-updated", view.get("metadata"))
r = k("get", "clusterrolebinding", "cluster-admin", "-o", "json")
crb = json.loads(r.stdout) if r.returncode == 0 else {}
t.ok(crb.get("subjects") == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                              "name": "system:masters"}],
     "cluster-admin is bound to system:masters", r.stdout + r.stderr)

# ---- no binding: upstream's 403
r = as_(alice_cfg, "get", "pods", "-n", "dev")
t.ok(r.returncode != 0 and 'pods is forbidden: User "alice" cannot list resource "pods" in API '
     'group "" in the namespace "dev"' in r.stderr, "unbound user refused with upstream's message",
     r.stderr)
r = as_(alice_cfg, "get", "deployments.apps", "-n", "dev")
t.ok('deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group '
     '"apps" in the namespace "dev"' in r.stderr, "the resource is qualified by its group", r.stderr)
r = as_(alice_cfg, "get", "nodes")
t.ok('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster '
     'scope' in r.stderr, "cluster-scoped refusal names the cluster scope", r.stderr)
r = as_(alice_cfg, "auth", "whoami")
t.ok(r.returncode == 0 and "alice" in r.stdout, "system:basic-user lets anyone ask who they are",
     r.stderr)
r = as_(alice_cfg, "api-versions")
t.ok(r.returncode == 0 and "apps/v1" in r.stdout, "system:discovery lets anyone read discovery",
     r.stderr)
st, _, body = srv.request("GET", "/metrics", headers={"Authorization": "Bearer alice-token-0123456789"},
                          client_cert=False)
t.ok(st == 403 and 'forbidden: User \\"alice\\" cannot get path \\"/metrics\\"' in body.decode(),
     "a non-resource path is refused with upstream's message", (st, body[:300]))

# ---- view in dev
r = k("create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "dev")
t.ok(r.returncode == 0, "view bound to alice in dev", r.stderr)
r = until(lambda: as_(alice_cfg, "get", "pods", "-n", "dev").returncode == 0 or None)
t.ok(r, "alice lists pods in dev")
r = as_(alice_cfg, "create", "configmap", "c1", "-n", "dev")
t.ok(r.returncode != 0 and 'configmaps is forbidden: User "alice" cannot create resource "configmaps" '
     'in API group "" in the namespace "dev"' in r.stderr, "view cannot write", r.stderr)
r = as_(alice_cfg, "get", "pods", "-n", "prod")
t.ok(r.returncode != 0 and 'in the namespace "prod"' in r.stderr,
     "a RoleBinding grants in its namespace only", r.stderr)
r = as_(alice_cfg, "get", "secrets", "-n", "dev")
t.ok(r.returncode != 0 and "secrets is forbidden" in r.stderr, "view does not read secrets", r.stderr)

# ---- a ClusterRole aggregated into view by label
r = as_(alice_cfg, "get", "podtemplates", "-n", "dev")
t.ok(r.returncode != 0, "podtemplates are not in view", r.stderr)
agg = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
       "metadata": {"name": "podtemplate-reader",
                    "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
       "rules": [{"apiGroups": [""], "resources": ["podtemplates"], "verbs": ["get", "list"]}]}
r = k("apply", "-f", "-", stdin=json.dumps(agg))
t.ok(r.returncode == 0, "a ClusterRole labelled aggregate-to-view", r.stderr)
r = until(lambda: as_(alice_cfg, "get", "podtemplates", "-n", "dev").returncode == 0 or None)
t.ok(r, "its rules reach view's subjects")
r = as_(alice_cfg, "auth", "can-i", "list", "podtemplates", "-n", "dev")
t.ok(r.stdout.strip() == "yes", "can-i agrees", r.stdout + r.stderr)


def view_rules():
    r = k("get", "clusterrole", "view", "-o", "json")
    return json.loads(r.stdout).get("rules", []) if r.returncode == 0 else []


rules = until(lambda: (lambda v: v if any("podtemplates" in x.get("resources", []) for x in v) else None)(
    view_rules()))
t.ok(rules is not None and any("pods/log" in x.get("resources", []) for x in rules),
     "the aggregation controller writes the union into view's rules", view_rules())
r = k("describe", "clusterrole", "edit")
t.ok(r.returncode == 0 and "deployments.apps" in r.stdout and "podtemplates" in r.stdout,
     "kubectl describe clusterrole edit lists what edit aggregates (view's too)", r.stdout[-500:])
k("delete", "clusterrole", "podtemplate-reader")
gone = until(lambda: not any("podtemplates" in x.get("resources", []) for x in view_rules()) or None)
t.ok(gone, "a deleted aggregated role's rules leave view", view_rules())
k("apply", "-f", "-", stdin=json.dumps(agg))

# ---- edit, then escalation
k("create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", "dev")
r = until(lambda: as_(alice_cfg, "create", "configmap", "c2", "-n", "dev").returncode == 0 or None)
t.ok(r, "edit lets alice create a ConfigMap in dev")
r = as_(alice_cfg, "create", "rolebinding", "grab", "--clusterrole=cluster-admin", "--user=alice",
        "-n", "dev")
t.ok(r.returncode != 0 and 'rolebindings.rbac.authorization.k8s.io is forbidden: User "alice" cannot '
     'create resource "rolebindings"' in r.stderr, "edit cannot create RoleBindings at all", r.stderr)
k("create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice", "-n", "dev")
r = until(lambda: (lambda x: x if "attempting to grant" in x.stderr else None)(
    as_(alice_cfg, "create", "rolebinding", "grab", "--clusterrole=cluster-admin", "--user=alice",
        "-n", "dev")))
t.ok(r is not None and 'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "alice" '
     '(groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not '
     'currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in r.stderr,
     "admin in dev cannot bind cluster-admin: escalation refused with upstream's message",
     r.stderr if r else "")
r = as_(alice_cfg, "create", "rolebinding", "share-view", "--clusterrole=view", "--user=carol",
        "-n", "dev")
t.ok(r.returncode == 0, "but may bind view, which it holds", r.stderr)
role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "nodes-too", "namespace": "dev"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]},
                  {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["escalate"]}]}
r = as_(alice_cfg, "create", "-f", "-", stdin=json.dumps(role))
t.ok(r.returncode != 0 and 'roles.rbac.authorization.k8s.io "nodes-too" is forbidden: user "alice"'
     in r.stderr and '{APIGroups:["apps"], Resources:["deployments/scale"], Verbs:["escalate"]}'
     in r.stderr and "pods" not in r.stderr.split("not currently held:")[-1],
     "a Role with a verb alice lacks is refused, listing only what is missing", r.stderr)

# ---- impersonation and can-i --as
r = k("auth", "can-i", "list", "pods", "-n", "dev", "--as", "alice")
t.ok(r.stdout.strip() == "yes", "can-i --as alice list pods in dev: yes", r.stdout + r.stderr)
r = k("auth", "can-i", "list", "pods", "-n", "prod", "--as", "alice")
t.ok(r.stdout.strip() == "no", "can-i --as alice list pods in prod: no", r.stdout + r.stderr)
r = k("auth", "can-i", "get", "configmaps", "-n", "dev", "--as", "carol")
t.ok(r.stdout.strip() == "yes", "carol got view in dev from alice's binding", r.stdout + r.stderr)
r = k("get", "pods", "-n", "prod", "--as", "carol", "--as-group", "ops")
t.ok(r.returncode != 0 and 'User "carol" cannot list resource "pods"' in r.stderr,
     "an admin impersonating carol acts as carol", r.stderr)
r = as_(alice_cfg, "get", "pods", "-n", "dev", "--as", "carol")
t.ok(r.returncode != 0 and 'users "carol" is forbidden: User "alice" cannot impersonate resource '
     '"users" in API group "" at the cluster scope' in r.stderr,
     "impersonation itself is authorized", r.stderr)
r = as_(alice_cfg, "auth", "can-i", "--list", "-n", "dev")
t.ok(r.returncode == 0 and "podtemplates" in r.stdout and "rolebindings.rbac.authorization.k8s.io"
     in r.stdout, "can-i --list shows the rules bound in dev", r.stdout[-600:] + r.stderr)

# ---- SubjectAccessReview and LocalSubjectAccessReview (what webhooks and metrics-server ask)
def sar(path, spec):
    kind = "LocalSubjectAccessReview" if "local" in path else "SubjectAccessReview"
    st, _, b = srv.request("POST", path, json.dumps({"apiVersion": "authorization.k8s.io/v1",
                                                     "kind": kind, "spec": spec}).encode(),
                           {"Content-Type": "application/json"})
    try:
        return st, json.loads(b)
    except ValueError:
        return st, {}


st, o = sar("/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {"user": "alice", "resourceAttributes": {"namespace": "dev", "verb": "list",
                                                      "resource": "pods"}})
t.ok(st == 201 and o.get("status", {}).get("allowed") is True, "SubjectAccessReview: alice may list pods in dev",
     (st, o))
st, o = sar("/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {"user": "alice", "resourceAttributes": {"namespace": "prod", "verb": "list",
                                                      "resource": "pods"}})
t.ok(st == 201 and o.get("status", {}).get("allowed") is False, "... but not in prod", (st, o))
st, o = sar("/apis/authorization.k8s.io/v1/namespaces/dev/localsubjectaccessreviews",
            {"groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}})
t.ok(st == 201 and o.get("status", {}).get("allowed") is True
     and o["spec"]["resourceAttributes"]["namespace"] == "dev",
     "LocalSubjectAccessReview takes the URL's namespace and the spec's groups", (st, o))
st, o = sar("/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {"resourceAttributes": {"verb": "get", "resource": "pods"}})
t.ok(st == 422 and "at least one of user or group must be specified" in json.dumps(o),
     "a review without user or groups is invalid", (st, o))
r = as_(alice_cfg, "create", "-f", "-", stdin=json.dumps({
    "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
    "spec": {"user": "x", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}))
t.ok(r.returncode != 0 and 'subjectaccessreviews.authorization.k8s.io is forbidden: User "alice"'
     in r.stderr, "asking about others needs the create verb on subjectaccessreviews", r.stderr)

# ---- a service account's token
k("create", "serviceaccount", "bot", "-n", "dev")
r = k("create", "token", "bot", "-n", "dev")
tok = r.stdout.strip()
bot_cfg = token_kubeconfig(srv, os.path.join(srv.tmp, "bot.kubeconfig"), tok) if tok else None
k("create", "rolebinding", "bot-view", "--clusterrole=view", "--serviceaccount=dev:bot", "-n", "dev")
r = until(lambda: bot_cfg and as_(bot_cfg, "get", "pods", "-n", "dev").returncode == 0 or None)
t.ok(r, "the service account reads pods in dev through its binding")
r = as_(bot_cfg, "create", "configmap", "bot-cm", "-n", "dev") if bot_cfg else None
t.ok(r is not None and 'configmaps is forbidden: User "system:serviceaccount:dev:bot" cannot create '
     'resource "configmaps"' in r.stderr, "and nothing more", r.stderr if r else "")

# ---- reconciliation at start
k("patch", "clusterrole", "system:basic-user", "--type=json", "-p",
  '[{"op":"replace","path":"/rules","value":[]}]')
k("annotate", "clusterrole", "system:discovery", "--overwrite",
  "rbac.authorization.kubernetes.io/autoupdate=false")
k("patch", "clusterrole", "system:discovery", "--type=json", "-p",
  '[{"op":"replace","path":"/rules","value":[]}]')
srv.stop()
srv.start()
r = k("get", "clusterrole", "system:basic-user", "-o", "json")
rules = json.loads(r.stdout).get("rules", []) if r.returncode == 0 else []
t.ok(len(rules) == 2, "a default role with autoupdate true gets its rules back at start", rules)
r = k("get", "clusterrole", "system:discovery", "-o", "json")
rules = json.loads(r.stdout).get("rules", ["?"]) if r.returncode == 0 else ["?"]
t.ok(rules == [], "one with autoupdate \"false\" is left as edited", rules)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
t.done()
