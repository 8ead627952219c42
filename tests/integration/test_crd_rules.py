"""CRD x-kubernetes-validations (CEL rules) with real kubectl against
`k3c server --disable-agent`: a CRD whose rule does not compile is refused
with the compiler's message; rules on the root, on a field (message,
messageExpression, reason, fieldPath), on list items and map values
refuse bad objects on create, update, patch and server-side apply with
upstream's error shape; a transition rule (oldSelf) makes a field
immutable and is not run on create; optionalOldSelf runs on create too."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server, wait_until  # noqa: E402


def crd(spec_props, rules=None, name="widgets"):
    spec = {"type": "object", "properties": spec_props}
    if rules:
        spec["x-kubernetes-validations"] = rules
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name + ".example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": name, "singular": name[:-1], "kind": name[:-1].capitalize(),
                               "listKind": name[:-1].capitalize() + "List"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object",
                                       "properties": {"spec": spec}}}}]}}


PROPS = {
    "min": {"type": "integer"},
    "max": {"type": "integer"},
    "replicas": {"type": "integer",
                 "x-kubernetes-validations": [
                     {"rule": "self <= 10", "messageExpression": "'replicas ' + string(self) + ' is over 10'"}]},
    "id": {"type": "string", "x-kubernetes-validations": [
        {"rule": "self == oldSelf", "message": "id is immutable"}]},
    "mode": {"type": "string", "x-kubernetes-validations": [
        {"rule": "self in ['fast', 'safe']", "message": "unknown mode", "reason": "FieldValueForbidden"}]},
    "ports": {"type": "array", "maxItems": 10, "items": {
        "type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                         "port": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.port > 1024", "message": "ports must be unprivileged"}]}},
    "tags": {"type": "object", "additionalProperties": {
        "type": "string", "x-kubernetes-validations": [{"rule": "self.size() <= 8", "message": "tag too long"}]}},
    "note": {"type": "string", "x-kubernetes-validations": [
        {"rule": "!oldSelf.hasValue() || self.size() >= oldSelf.value().size()",
         "optionalOldSelf": True, "message": "note may only grow"}]},
}
ROOT_RULES = [{"rule": "!has(self.min) || !has(self.max) || self.min <= self.max",
               "message": "min must not exceed max", "fieldPath": ".min"}]


def widget(name, **spec):
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


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

    # ---- invalid rules are refused at creation ----
    bad = crd({"x": {"type": "integer"},
               "names": {"type": "array", "items": {"type": "string"},
                         "x-kubernetes-validations": [{"rule": "self.all(n, n.contains('a'))"}]}},
              rules=[{"rule": "self.x >"}, {"rule": "self.y == 1"},
                     {"rule": "self.x", "reason": "Nope"}], name="brokens")
    r = k("apply", "-f", "-", stdin=bad)
    e = r.stderr
    t.ok(r.returncode != 0
         and "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: "
             "Invalid value: apiextensions.ValidationRule{Rule:\"self.x >\"" in e
         and "compilation failed: ERROR: <input>:1:" in e
         and "x-kubernetes-validations[1].rule" in e and "undefined field 'y'" in e
         and 'x-kubernetes-validations[2].reason: Unsupported value: "Nope"' in e
         and "properties[names].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds "
             "budget by factor of more than 100x" in e,
         "a CRD whose rules do not compile, or cost too much (unbounded list of unbounded strings), "
         "is refused with upstream's messages", e)
    r = k("get", "crd", "brokens.example.com")
    t.ok(r.returncode != 0, "the refused CRD was not stored", r.stdout + r.stderr)

    # ---- a CRD with rules ----
    r = k("apply", "-f", "-", stdin=crd(PROPS, ROOT_RULES))
    t.ok(r.returncode == 0, "a CRD with x-kubernetes-validations is created", r.stdout + r.stderr)
    wait_until(lambda: k("get", "widgets").returncode == 0, timeout=20)

    r = k("apply", "-f", "-", stdin=widget("good", min=1, max=3, replicas=2, id="a", mode="fast",
                                           ports=[{"name": "http", "port": 8080}], tags={"t": "short"},
                                           note="hi"))
    t.ok(r.returncode == 0, "an object that passes every rule is created", r.stdout + r.stderr)

    r = k("apply", "-f", "-", stdin=widget("bad", min=5, max=3, replicas=20, mode="slow",
                                           ports=[{"name": "ssh", "port": 22}], tags={"t": "much-too-long"}))
    e = r.stderr
    t.ok(r.returncode != 0 and 'The Widget "bad" is invalid' in e
         and 'spec.min: Invalid value: "object": min must not exceed max' in e
         and 'spec.replicas: Invalid value: "integer": replicas 20 is over 10' in e
         and "spec.mode: Forbidden: unknown mode" in e
         and 'spec.ports[0]: Invalid value: "object": ports must be unprivileged' in e
         and 'spec.tags.t: Invalid value: "string": tag too long' in e,
         "each failed rule is a cause at its path with its message (root with fieldPath, field, "
         "messageExpression, reason, list item, map value)", e)

    r = k("patch", "widget", "good", "--type=merge", "-p", '{"spec":{"replicas":11}}')
    r2 = k("get", "widget", "good", "-o", "jsonpath={.spec.replicas}")
    t.ok(r.returncode != 0 and "replicas 11 is over 10" in r.stderr and r2.stdout == "2",
         "a CRD rule refuses a bad patch with its message", r.stderr + r2.stdout)

    r = k("patch", "widget", "good", "--type=merge", "-p", '{"spec":{"id":"b"}}')
    t.ok(r.returncode != 0 and 'spec.id: Invalid value: "string": id is immutable' in r.stderr,
         "a transition rule (oldSelf) refuses changing the field", r.stderr)
    r = k("patch", "widget", "good", "--type=merge", "-p", '{"spec":{"replicas":4}}')
    t.ok(r.returncode == 0, "an update that keeps the immutable field passes", r.stderr)

    r = k("patch", "widget", "good", "--type=merge", "-p", '{"spec":{"note":"h"}}')
    t.ok(r.returncode != 0 and "note may only grow" in r.stderr,
         "optionalOldSelf: the rule sees the old value on update", r.stderr)

    ssa = widget("good", min=1, max=3, replicas=2, id="a", mode="fast", note="hi there", ports=[
        {"name": "http", "port": 80}])
    r = k("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=ssa)
    t.ok(r.returncode != 0 and "ports must be unprivileged" in r.stderr,
         "server-side apply is validated by the rules too", r.stderr)

    r = k("replace", "-f", "-", stdin=dict(widget("good", min=9, max=3, replicas=2, id="a"),
                                           metadata={"name": "good", "namespace": "default"}))
    t.ok(r.returncode != 0 and "min must not exceed max" in r.stderr, "kubectl replace (update) too",
         r.stderr)

    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
