"""ValidatingAdmissionPolicy against `k3c server --disable-agent` with real
kubectl: the policy and binding kinds (apply, get columns, defaults,
validation with upstream's messages, a CEL expression that does not compile
refused at creation), a policy denying a Deployment with too many replicas
on create and on patch with upstream's message, messageExpression and
reason, parameters (paramKind ConfigMap, paramRef by name; a missing
parameter under parameterNotFoundAction Deny and Allow), the Warn action,
failurePolicy Fail and Ignore on an evaluation error, matchConditions,
variables, the binding's namespaceSelector, and a DELETE policy."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

GV = "admissionregistration.k8s.io/v1"


def policy(name, validations, rules=None, **spec):
    s = {"matchConstraints": {"resourceRules": rules or [
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["deployments"]}]},
        "validations": validations}
    s.update(spec)
    return {"apiVersion": GV, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name}, "spec": s}


def binding(name, policy_name, actions=("Deny",), **spec):
    s = {"policyName": policy_name, "validationActions": list(actions)}
    s.update(spec)
    return {"apiVersion": GV, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
            "spec": s}


def deployment(name, ns, replicas, labels=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()

    def k(*args, stdin=None):
        env = dict(os.environ, HOME=srv.tmp)
        if stdin is not None and not isinstance(stdin, str):
            stdin = json.dumps(stdin)
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120, env=env)

    for ns in ("vap-a", "vap-b", "vap-c"):
        k("create", "namespace", ns)
    k("label", "namespace", "vap-b", "policy=strict")

    # ---- the kinds ----
    r = k("apply", "-f", "-", stdin=policy("max-replicas", [
        {"expression": "object.spec.replicas <= 5", "reason": "Forbidden"}]))
    t.ok(r.returncode == 0 and "validatingadmissionpolicy.admissionregistration.k8s.io/max-replicas created"
         in r.stdout, "kubectl apply of a ValidatingAdmissionPolicy", r.stdout + r.stderr)
    r = k("get", "validatingadmissionpolicy", "max-replicas", "-o", "json")
    got = json.loads(r.stdout)["spec"] if r.returncode == 0 else {}
    mc = got.get("matchConstraints", {})
    t.ok(got.get("failurePolicy") == "Fail" and mc.get("matchPolicy") == "Equivalent"
         and mc.get("namespaceSelector") == {} and mc.get("objectSelector") == {}
         and mc.get("resourceRules", [{}])[0].get("scope") == "*",
         "upstream's policy defaults are filled in", got)
    r = k("apply", "-f", "-", stdin=binding("max-replicas-binding", "max-replicas"))
    r2 = k("get", "validatingadmissionpolicies")
    r3 = k("get", "validatingadmissionpolicybindings")
    l2 = r2.stdout.strip().split("\n")
    l3 = r3.stdout.strip().split("\n")
    t.ok(r.returncode == 0 and l2[0].split() == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]
         and l2[1].split()[:3] == ["max-replicas", "1", "<unset>"]
         and l3[0].split() == ["NAME", "POLICYNAME", "PARAMREF", "AGE"]
         and l3[1].split()[:3] == ["max-replicas-binding", "max-replicas", "<unset>"],
         "kubectl get of both kinds shows upstream's columns",
         r.stderr + r2.stdout + r2.stderr + r3.stdout + r3.stderr)

    r = k("apply", "-f", "-", stdin=policy("broken", [{"expression": "object.spec.replicas >"},
                                                      {"expression": "nosuchvariable == 1"}]))
    t.ok(r.returncode != 0
         and 'spec.validations[0].expression: Invalid value: "object.spec.replicas >": compilation failed: '
             'ERROR: <input>:1:' in r.stderr
         and "undeclared reference to 'nosuchvariable'" in r.stderr,
         "a policy whose expressions do not compile is refused with the compiler's messages", r.stderr)
    r = k("apply", "-f", "-", stdin=policy("empty", []))
    t.ok(r.returncode != 0 and "spec.validations: Required value: validations or auditAnnotations must "
         "contain at least one item" in r.stderr, "a policy without validations is refused", r.stderr)
    r = k("apply", "-f", "-", stdin=binding("bad-binding", "", actions=("Deny", "Warn", "Block")))
    t.ok(r.returncode != 0 and "spec.policyName: Required value" in r.stderr
         and 'spec.validationActions[2]: Unsupported value: "Block": supported values: "Audit", "Deny", '
             '"Warn"' in r.stderr and "must not contain both Deny and Warn" in r.stderr,
         "binding validation with upstream's messages", r.stderr)

    # ---- deny ----
    r = k("apply", "-f", "-", stdin=deployment("small", "vap-a", 3))
    t.ok(r.returncode == 0, "a Deployment within the policy is created", r.stdout + r.stderr)
    r = k("apply", "-f", "-", stdin=deployment("big", "vap-a", 10))
    t.ok(r.returncode != 0 and 'deployments.apps "big" is forbidden: ValidatingAdmissionPolicy '
         "'max-replicas' with binding 'max-replicas-binding' denied request: failed expression: "
         "object.spec.replicas <= 5" in r.stderr,
         "a ValidatingAdmissionPolicy denies a Deployment with too many replicas", r.stderr)
    r = k("get", "deployment", "big", "-n", "vap-a")
    t.ok(r.returncode != 0 and "NotFound" in r.stderr, "the denied Deployment was not stored", r.stderr)
    r = k("patch", "deployment", "small", "-n", "vap-a", "-p", '{"spec":{"replicas":8}}')
    r2 = k("get", "deployment", "small", "-n", "vap-a", "-o", "jsonpath={.spec.replicas}")
    t.ok(r.returncode != 0 and "denied request" in r.stderr and r2.stdout == "3",
         "a patch over the limit is denied and the object keeps its value", r.stderr + r2.stdout)
    st, _, body = srv.request("POST", "/apis/apps/v1/namespaces/vap-a/deployments",
                              json.dumps(deployment("raw", "vap-a", 9)),
                              {"Content-Type": "application/json"})
    status = json.loads(body) if body else {}
    t.ok(st == 403 and status.get("reason") == "Forbidden" and status.get("code") == 403
         and status.get("details", {}).get("causes", [{}])[0].get("message", "").startswith(
             "ValidatingAdmissionPolicy 'max-replicas'"),
         "the Status carries the validation's reason, code and a cause", (st, status))

    # messageExpression, default reason Invalid (422)
    k("apply", "-f", "-", stdin=policy("named", [
        {"expression": "!object.metadata.name.startsWith('tmp-')",
         "messageExpression": "'name ' + object.metadata.name + ' is temporary'"}]))
    k("apply", "-f", "-", stdin=binding("named-binding", "named"))
    st, _, body = srv.request("POST", "/apis/apps/v1/namespaces/vap-a/deployments",
                              json.dumps(deployment("tmp-x", "vap-a", 1)),
                              {"Content-Type": "application/json"})
    status = json.loads(body) if body else {}
    t.ok(st == 422 and status.get("reason") == "Invalid"
         and "denied request: name tmp-x is temporary" in status.get("message", ""),
         "messageExpression gives the message; the reason defaults to Invalid (422)", (st, status))
    k("delete", "validatingadmissionpolicybinding", "named-binding")

    # ---- parameters ----
    k("create", "configmap", "limits", "-n", "vap-c", "--from-literal=max=2")
    k("apply", "-f", "-", stdin=policy("param-replicas", [
        {"expression": "object.spec.replicas <= int(params.data.max)",
         "messageExpression": "'at most ' + params.data.max + ' replicas'"}],
        rules=[{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
                "resources": ["deployments"]}],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"}))
    r = k("apply", "-f", "-", stdin=binding("param-binding", "param-replicas",
                                            paramRef={"name": "limits", "namespace": "vap-c"},
                                            matchResources={"namespaceSelector": {
                                                "matchLabels": {"kubernetes.io/metadata.name": "vap-c"}}}))
    r2 = k("get", "validatingadmissionpolicybinding", "param-binding", "-o", "json")
    pref = json.loads(r2.stdout)["spec"].get("paramRef", {}) if r2.returncode == 0 else {}
    t.ok(r.returncode == 0 and pref.get("parameterNotFoundAction") == "Deny",
         "a binding with paramRef; parameterNotFoundAction defaults to Deny", r.stderr + r2.stdout)
    r = k("apply", "-f", "-", stdin=deployment("p3", "vap-c", 3))
    r2 = k("apply", "-f", "-", stdin=deployment("p2", "vap-c", 2))
    r3 = k("apply", "-f", "-", stdin=deployment("other-ns", "vap-a", 4))
    t.ok(r.returncode != 0 and "denied request: at most 2 replicas" in r.stderr and r2.returncode == 0
         and r3.returncode == 0,
         "the parameter object's value is the limit; the binding's namespaceSelector limits it to vap-c",
         r.stderr + r2.stderr + r3.stderr)
    k("delete", "configmap", "limits", "-n", "vap-c")
    r = k("apply", "-f", "-", stdin=deployment("p1", "vap-c", 1))
    t.ok(r.returncode != 0 and "no params found for policy binding with `Deny` parameterNotFoundAction"
         in r.stderr, "a missing parameter under parameterNotFoundAction Deny refuses", r.stderr)
    k("apply", "-f", "-", stdin=binding("param-binding", "param-replicas",
                                        paramRef={"name": "limits", "namespace": "vap-c",
                                                  "parameterNotFoundAction": "Allow"},
                                        matchResources={"namespaceSelector": {
                                            "matchLabels": {"kubernetes.io/metadata.name": "vap-c"}}}))
    r = k("apply", "-f", "-", stdin=deployment("p1", "vap-c", 1))
    t.ok(r.returncode == 0, "parameterNotFoundAction Allow admits without a parameter", r.stderr)

    # ---- Warn, failurePolicy, matchConditions, variables ----
    k("apply", "-f", "-", stdin=policy("warn-image", [
        {"expression": "object.spec.template.spec.containers.all(c, c.image.contains(':'))",
         "message": "images should be pinned to a tag"}]))
    k("apply", "-f", "-", stdin=binding("warn-image-binding", "warn-image", actions=("Warn",),
                                        matchResources={"namespaceSelector": {
                                            "matchLabels": {"policy": "strict"}}}))
    r = k("apply", "-f", "-", stdin=deployment("w", "vap-b", 1))
    t.ok(r.returncode == 0 and "Warning: Validation failed for ValidatingAdmissionPolicy 'warn-image' with "
         "binding 'warn-image-binding': images should be pinned to a tag" in r.stderr,
         "the Warn action admits the write and shows kubectl a warning", r.stdout + r.stderr)

    err_expr = "object.spec.template.metadata.annotations['team'] == 'x'"
    k("apply", "-f", "-", stdin=policy("needs-team", [{"expression": err_expr}],
                                       failurePolicy="Fail",
                                       matchConditions=[{"name": "only-labelled",
                                                         "expression": "has(object.metadata.labels) && "
                                                                       "'checked' in object.metadata.labels"}]))
    k("apply", "-f", "-", stdin=binding("needs-team-binding", "needs-team"))
    r = k("apply", "-f", "-", stdin=deployment("unchecked", "vap-a", 1))
    t.ok(r.returncode == 0, "a matchCondition that is false skips the policy", r.stderr)
    r = k("apply", "-f", "-", stdin=deployment("checked", "vap-a", 1, labels={"checked": "yes"}))
    t.ok(r.returncode != 0 and "expression '%s' resulted in error: " % err_expr in r.stderr,
         "failurePolicy Fail: an evaluation error refuses the write", r.stderr)
    pol = policy("needs-team", [{"expression": err_expr}], failurePolicy="Ignore",
                 matchConditions=[{"name": "only-labelled",
                                   "expression": "has(object.metadata.labels) && 'checked' in object.metadata.labels"}])
    k("apply", "-f", "-", stdin=pol)
    r = k("apply", "-f", "-", stdin=deployment("checked", "vap-a", 1, labels={"checked": "yes"}))
    t.ok(r.returncode == 0, "failurePolicy Ignore: the evaluation error is ignored", r.stderr)
    k("delete", "validatingadmissionpolicybinding", "needs-team-binding")

    k("apply", "-f", "-", stdin=policy("vars", [
        {"expression": "variables.total <= 6", "messageExpression": "'total ' + string(variables.total)"}],
        variables=[{"name": "containers", "expression": "size(object.spec.template.spec.containers)"},
                   {"name": "total", "expression": "object.spec.replicas * variables.containers"}]))
    k("apply", "-f", "-", stdin=binding("vars-binding", "vars"))
    d = deployment("two-c", "vap-a", 4)
    d["spec"]["template"]["spec"]["containers"].append({"name": "d", "image": "busybox"})
    r = k("apply", "-f", "-", stdin=d)
    t.ok(r.returncode != 0 and "denied request: total 8" in r.stderr,
         "variables: one refers to the one before it", r.stderr)
    k("delete", "validatingadmissionpolicybinding", "vars-binding")

    # ---- DELETE ----
    k("apply", "-f", "-", stdin=policy("keep", [{"expression": "oldObject.metadata.name != 'precious'",
                                                 "message": "this one stays"}],
                                       rules=[{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"],
                                               "resources": ["configmaps"]}]))
    k("apply", "-f", "-", stdin=binding("keep-binding", "keep"))
    k("create", "configmap", "precious", "-n", "vap-a")
    k("create", "configmap", "disposable", "-n", "vap-a")
    r = k("delete", "configmap", "precious", "-n", "vap-a")
    r2 = k("delete", "configmap", "disposable", "-n", "vap-a")
    t.ok(r.returncode != 0 and "denied request: this one stays" in r.stderr and r2.returncode == 0,
         "a policy on DELETE sees oldObject and refuses", r.stderr + r2.stderr)

    k("delete", "validatingadmissionpolicybinding", "max-replicas-binding")
    r = k("apply", "-f", "-", stdin=deployment("big", "vap-a", 10))
    t.ok(r.returncode == 0, "without its binding the policy no longer applies", r.stderr)

    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
