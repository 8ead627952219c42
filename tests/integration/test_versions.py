"""Kinds served in several versions with one stored form (autoscaling/v1 and
v2 HorizontalPodAutoscaler, events.k8s.io/v1 and v1 Event), and unknown
fields dropped (not stored) when a client does not ask for strict
validation."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from k3ctest import Tap, Server  # noqa: E402

HPA_V1 = """
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  targetCPUUtilizationPercentage: 60
"""

EVENT = """
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e1}
eventTime: "2026-11-23T12:00:00.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-1
action: Tested
reason: Testing
type: Normal
note: hello from events.k8s.io
regarding: {kind: Pod, name: p1, namespace: default}
"""


def main():
    t = Tap()
    srv = Server(extra_args=["--disable-agent"])
    srv.start()
    env = dict(os.environ, HOME=srv.tmp)

    def k(*args, stdin=None):
        return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120, env=env)

    def raw(path):
        status, _, body = srv.request("GET", path)
        return status, (json.loads(body) if status == 200 else body)

    r = k("apply", "-f", "-", stdin=HPA_V1)
    t.ok(r.returncode == 0 and "horizontalpodautoscaler.autoscaling/web created" in r.stdout,
         "an autoscaling/v1 HPA is accepted", r.stdout + r.stderr)
    st, v2 = raw("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")
    metric = v2["spec"]["metrics"][0] if st == 200 else {}
    t.ok(st == 200 and v2["apiVersion"] == "autoscaling/v2" and metric.get("type") == "Resource"
         and metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
         and "targetCPUUtilizationPercentage" not in v2["spec"],
         "it reads back through autoscaling/v2 with a CPU utilization metric", v2)
    st, v1 = raw("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web")
    t.ok(st == 200 and v1["apiVersion"] == "autoscaling/v1" and v1["spec"].get("targetCPUUtilizationPercentage") == 60
         and "metrics" not in v1["spec"], "and through autoscaling/v1 as it was written", v1)
    st, lst = raw("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers")
    t.ok(st == 200 and lst["kind"] == "HorizontalPodAutoscalerList" and lst["apiVersion"] == "autoscaling/v1"
         and lst["items"][0]["apiVersion"] == "autoscaling/v1", "lists convert every item", lst)
    status, _, body = srv.request("PATCH", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
                                  body=b'{"spec":{"targetCPUUtilizationPercentage":75}}',
                                  headers={"Content-Type": "application/merge-patch+json"})
    st, v2 = raw("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")
    t.ok(status == 200 and json.loads(body)["spec"]["targetCPUUtilizationPercentage"] == 75
         and v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 75,
         "a v1 merge patch speaks v1 and lands in the stored v2 form", body)
    r = k("apply", "-f", "-", stdin=HPA_V1)
    t.ok(r.returncode == 0, "re-applying the v1 manifest", r.stdout + r.stderr)
    r = k("get", "hpa")
    t.ok(r.returncode == 0 and r.stdout.split("\n")[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
         and "Deployment/web" in r.stdout, "kubectl get hpa shows upstream columns", r.stdout + r.stderr)

    r = k("create", "-f", "-", stdin=EVENT)
    t.ok(r.returncode == 0 and "event.events.k8s.io/e1 created" in r.stdout, "an events.k8s.io/v1 Event is accepted", r.stdout + r.stderr)
    st, core = raw("/api/v1/namespaces/default/events/e1")
    t.ok(st == 200 and core["message"] == "hello from events.k8s.io" and core["involvedObject"]["name"] == "p1"
         and core["reportingComponent"] == "example.com/ctl", "it is the same object as a v1 Event (message, involvedObject)", core)
    r = k("get", "events")
    t.ok(r.returncode == 0 and "hello from events.k8s.io" in r.stdout and "pod/p1" in r.stdout,
         "kubectl get events lists it", r.stdout + r.stderr)
    st, ev = raw("/apis/events.k8s.io/v1/namespaces/default/events/e1")
    t.ok(st == 200 and ev["note"] == "hello from events.k8s.io" and ev["regarding"]["name"] == "p1"
         and "message" not in ev, "and it reads back in events.k8s.io/v1 terms", ev)

    status, headers, body = srv.request("POST", "/api/v1/namespaces/default/configmaps",
                                        body=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2"},"data":{"a":"b"},"junk":1}',
                                        headers={"Content-Type": "application/json"})
    obj = json.loads(body) if status == 201 else {}
    t.ok(status == 201 and "junk" not in obj and 'unknown field \\"junk\\"' in headers.get("warning", ""),
         "without strict validation an unknown field is dropped with a warning", (status, headers.get("warning"), body))
    st, c2 = raw("/api/v1/namespaces/default/configmaps/c2")
    t.ok(st == 200 and "junk" not in c2, "and it is not stored", c2)
    status, _, body = srv.request("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                                  body=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c3"},"junk":1}',
                                  headers={"Content-Type": "application/json"})
    t.ok(status == 400 and b'unknown field \\"junk\\"' in body, "with Strict it is an error", body)

    t.ok(srv.stop_clean(), "server exits cleanly", srv.log_tail())
    srv.cleanup()
    t.done()


if __name__ == "__main__":
    main()
