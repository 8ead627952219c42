"""The Job and TTL-after-finished controllers in a real `k3c server --disable-agent`
(with --job-pod-failure-backoff 1), driven by kubectl and the Debian python3-kubernetes
client. No agent runs pods: the test plays the kubelet by patching pods/status (phase,
Ready, containerStatuses terminated with an exit code). Checked: the API's Job defaults
(selector, labels), pods with the controller ownerReference, the job-tracking finalizer
and the job labels, status (active, ready, terminating, startTime, completionTime,
succeeded, failed, uncountedTerminatedPods) and the 1.32 conditions (SuccessCriteriaMet
then Complete, FailureTarget then Failed), `kubectl get jobs` columns, `kubectl wait
--for=condition=complete`, events, parallelism, backoffLimit with the doubling back-off
(BackoffLimitExceeded), activeDeadlineSeconds (DeadlineExceeded), Indexed completion,
suspend/resume, ttlSecondsAfterFinished and deletion of a Job with its pods."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent", "--job-pod-failure-backoff", "1"]).start()
k = Kube(t, srv)

from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
batch = client.BatchV1Api(api)
NOW = "2026-01-01T00:00:00Z"


def wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def pods(job, all_states=True):
    items = v1.list_namespaced_pod("default", label_selector="batch.kubernetes.io/job-name=" + job).items
    return [p for p in items if all_states or (not p.metadata.deletion_timestamp
                                               and p.status.phase not in ("Succeeded", "Failed"))]


def job_json(name):
    r = k.run(["get", "job", name, "-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else {}


def conds(j):
    return {c["type"]: c for c in j.get("status", {}).get("conditions", [])}


def wait_cond(name, ctype, timeout=30):
    return wait(lambda: (lambda j: j if conds(j).get(ctype, {}).get("status") == "True" else None)(
        job_json(name)), timeout)


def set_running(p, ready=True):
    body = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": NOW}]}}
    v1.patch_namespaced_pod_status(p.metadata.name, "default", body)


def finish(p, code):
    """The kubelet's report of a pod whose only container exited with code;
    returns the finishedAt it wrote, in whole seconds as the API carries it."""
    now = int(time.time())
    body = {"status": {"phase": "Succeeded" if code == 0 else "Failed",
                       "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": NOW}],
                       "containerStatuses": [{
                           "name": p.spec.containers[0].name, "image": p.spec.containers[0].image,
                           "imageID": "", "ready": False, "restartCount": 0,
                           "state": {"terminated": {"exitCode": code,
                                                    "reason": "Completed" if code == 0 else "Error",
                                                    "startedAt": NOW, "finishedAt": time.strftime(
                                                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}}}]}}
    v1.patch_namespaced_pod_status(p.metadata.name, "default", body)
    return now


def events(name):
    r = k.run(["get", "events", "--field-selector", "involvedObject.name=" + name, "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


def wait_event(name, reason, timeout=20):
    return wait(lambda: [e for e in events(name) if e["reason"] == reason], timeout)


TRACKING = "batch.kubernetes.io/job-tracking"

# ---- a one-pod Job from kubectl create job ----
k.ok(["create", "job", "hello", "--image=busybox:1.36", "--", "echo", "hi"], out="job.batch/hello created")
j = job_json("hello")
uid = j["metadata"]["uid"]
spec = j["spec"]
tl = spec["template"]["metadata"]["labels"]
t.ok(spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
     and tl == {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "hello",
                "controller-uid": uid, "job-name": "hello"}
     and "manualSelector" not in spec
     and spec["completions"] == 1 and spec["parallelism"] == 1 and spec["backoffLimit"] == 6
     and spec["completionMode"] == "NonIndexed" and spec["suspend"] is False,
     "the API defaults the Job's selector, template labels, completions, parallelism, backoffLimit",
     json.dumps(spec, indent=1))
t.ok(j["metadata"].get("labels") == tl, "the Job's own labels are its template's (upstream's defaulting)",
     j["metadata"].get("labels"))
# a selector given without manualSelector still gets the generated parts (upstream
# generateSelector); with manualSelector: true it is left as given
for manual in (False, True):
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "sel-%s" % str(manual).lower()},
            "spec": {"selector": {"matchLabels": {"app": "sel"}}, "suspend": True,
                     "template": {"metadata": {"labels": {"app": "sel"}},
                                  "spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    if manual:
        body["spec"]["manualSelector"] = True
    r = k.run(["create", "-f", "-", "-o", "json"], input=json.dumps(body))
    o = json.loads(r.stdout) if r.returncode == 0 else {}
    sp = o.get("spec", {})
    u = o.get("metadata", {}).get("uid")
    if manual:
        good = sp.get("selector") == {"matchLabels": {"app": "sel"}} \
            and sp["template"]["metadata"]["labels"] == {"app": "sel"}
    else:
        good = sp.get("selector") == {"matchLabels": {"app": "sel", "batch.kubernetes.io/controller-uid": u}} \
            and sp["template"]["metadata"]["labels"] == {
                "app": "sel", "batch.kubernetes.io/controller-uid": u, "batch.kubernetes.io/job-name": "sel-false",
                "controller-uid": u, "job-name": "sel-false"}
    t.ok(good, "a given selector, manualSelector %s: %s" % (
        manual, "left as given" if manual else "controller-uid added to it and the template"), r.stdout + r.stderr)
ps = wait(lambda: pods("hello"))
p = ps[0] if ps else None
refs = p.metadata.owner_references if p else []
t.ok(len(ps) == 1 and p.metadata.name.startswith("hello-") and refs and refs[0].kind == "Job"
     and refs[0].uid == uid and refs[0].controller and refs[0].block_owner_deletion
     and refs[0].api_version == "batch/v1"
     and TRACKING in (p.metadata.finalizers or [])
     and p.metadata.labels.get("batch.kubernetes.io/controller-uid") == uid
     and p.metadata.labels.get("job-name") == "hello",
     "one pod hello-xxxxx with the Job as controller, the job-tracking finalizer and the job labels",
     p.metadata if p else None)
j = wait(lambda: (lambda j: j if j.get("status", {}).get("active") == 1 else None)(job_json("hello")))
st = j.get("status", {}) if j else {}
t.ok(st.get("active") == 1 and st.get("ready") == 0 and st.get("terminating") == 0
     and st.get("startTime") and st.get("uncountedTerminatedPods") == {}
     and "succeeded" not in st and "failed" not in st and "conditions" not in st,
     "status: active 1, ready 0, terminating 0, startTime, uncountedTerminatedPods {}", st)
r = k.ok(["get", "jobs"], name="kubectl get jobs: STATUS Running, COMPLETIONS 0/1",
         check=lambda out: header(out) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
         and rows(out)[0][:3] == ["hello", "Running", "0/1"])
set_running(p)
t.ok(wait(lambda: job_json("hello").get("status", {}).get("ready") == 1), "a Ready pod: status.ready 1",
     job_json("hello").get("status"))
waiter = k.popen(["wait", "--for=condition=complete", "job/hello", "--timeout=60s"])
time.sleep(0.5)
finish(p, 0)
out, err = waiter.communicate(timeout=70)
t.ok(waiter.returncode == 0 and "job.batch/hello condition met" in out,
     "kubectl wait --for=condition=complete returns once the pod succeeded", out + err)
j = job_json("hello")
st = j.get("status", {})
c = st.get("conditions", [])
t.ok([x["type"] for x in c] == ["SuccessCriteriaMet", "Complete"]
     and all(x["status"] == "True" and x["reason"] == "CompletionsReached"
             and x["message"] == "Reached expected number of succeeded pods"
             and x.get("lastProbeTime") and x.get("lastTransitionTime") for x in c),
     "conditions SuccessCriteriaMet then Complete, reason CompletionsReached", c)
t.ok(st.get("succeeded") == 1 and "active" not in st and st.get("completionTime")
     and st.get("uncountedTerminatedPods") == {} and st.get("ready") == 0,
     "status: succeeded 1, no active, completionTime", st)
p = v1.read_namespaced_pod(p.metadata.name, "default")
t.ok(TRACKING not in (p.metadata.finalizers or []), "the counted pod lost its tracking finalizer",
     p.metadata.finalizers)
k.ok(["get", "jobs", "hello"], name="kubectl get jobs: STATUS Complete, COMPLETIONS 1/1",
     check=lambda out: rows(out)[0][:3] == ["hello", "Complete", "1/1"])
ev = wait_event("hello", "Completed")
t.ok(ev and ev[0]["message"] == "Job completed" and ev[0]["source"]["component"] == "job-controller",
     "a Completed event 'Job completed' from job-controller", ev)
k.ok(["describe", "job", "hello"], out=["SuccessfulCreate", "Created pod: " + p.metadata.name, "Completed"],
     name="kubectl describe job shows SuccessfulCreate and Completed")
time.sleep(1)
t.ok(len(pods("hello")) == 1, "a completed Job starts no more pods", [x.metadata.name for x in pods("hello")])

# ---- parallelism 2, completions 4 ----
JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: %(name)s
spec:
  completions: %(completions)s
  parallelism: %(parallelism)d
  backoffLimit: %(backoff)d
%(extra)s  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox:1.36
"""


def job_yaml(name, completions=1, parallelism=1, backoff=6, extra=""):
    return k.write(name + ".yaml", JOB % {"name": name, "completions": completions,
                                         "parallelism": parallelism, "backoff": backoff, "extra": extra})


k.ok(["apply", "-f", job_yaml("par", completions=4, parallelism=2)], out="job.batch/par created")
most = 0
done = set()
deadline = time.time() + 60
while time.time() < deadline and len(done) < 4:
    act = pods("par", all_states=False)
    most = max(most, len(act))
    if act:
        finish(act[0], 0)
        done.add(act[0].metadata.name)
    time.sleep(0.3)
j = wait_cond("par", "Complete")
st = (j or {}).get("status", {})
t.ok(j and st.get("succeeded") == 4 and most == 2 and len(pods("par")) == 4,
     "completions 4 with parallelism 2: two pods at a time, Complete after four successes",
     (most, len(pods("par")), st))
k.ok(["get", "jobs", "par"], name="kubectl get jobs par: 4/4", check=lambda out: rows(out)[0][2] == "4/4")

# ---- backoffLimit 2: retried with a doubling back-off, then Failed ----
k.ok(["apply", "-f", job_yaml("fail", backoff=2)], out="job.batch/fail created")
failed_at = []
gaps = []
for i in range(3):
    ps = wait(lambda: pods("fail", all_states=False), timeout=30)
    if not ps:
        break
    if failed_at:
        gaps.append(time.time() - failed_at[-1])
    # The back-off counts from finishedAt, which the API carries in whole
    # seconds (as upstream's), so the gap is measured from that second.
    failed_at.append(finish(ps[0], 1))
t.ok(len(failed_at) == 3 and len(gaps) == 2 and gaps[0] >= 0.9 and gaps[1] >= 1.9,
     "three pods, each failure replaced after the back-off (1 s, then 2 s) from its finishedAt", gaps)
j = wait_cond("fail", "Failed")
st = (j or {}).get("status", {})
c = st.get("conditions", [])
t.ok(j and [x["type"] for x in c] == ["FailureTarget", "Failed"]
     and all(x["reason"] == "BackoffLimitExceeded"
             and x["message"] == "Job has reached the specified backoff limit" for x in c)
     and st.get("failed") == 3 and "succeeded" not in st and "active" not in st
     and "completionTime" not in st,
     "FailureTarget then Failed: BackoffLimitExceeded, failed 3", st)
time.sleep(1.5)
t.ok(len(pods("fail")) == 3, "a failed Job starts no more pods", len(pods("fail")))
ev = wait_event("fail", "BackoffLimitExceeded")
t.ok(ev and ev[0]["type"] == "Warning" and ev[0]["message"] == "Job has reached the specified backoff limit",
     "a Warning BackoffLimitExceeded event", ev)
k.ok(["get", "jobs", "fail"], name="kubectl get jobs fail: STATUS Failed, 0/1",
     check=lambda out: rows(out)[0][1:3] == ["Failed", "0/1"])

# ---- activeDeadlineSeconds ----
k.ok(["apply", "-f", job_yaml("late", parallelism=2, completions=4, extra="  activeDeadlineSeconds: 2\n")],
     out="job.batch/late created")
t.ok(wait(lambda: len(pods("late")) == 2), "two pods start", len(pods("late")))
j = wait_cond("late", "Failed", timeout=20)
st = (j or {}).get("status", {})
c = conds(j or {})
t.ok(j and c["Failed"]["reason"] == "DeadlineExceeded"
     and c["Failed"]["message"] == "Job was active longer than specified deadline"
     and c.get("FailureTarget", {}).get("reason") == "DeadlineExceeded" and st.get("failed") == 2,
     "past activeDeadlineSeconds: Failed DeadlineExceeded, the two running pods counted failed", st)
t.ok(wait(lambda: len(pods("late")) == 0), "the running pods were deleted", len(pods("late")))
t.ok(wait_event("late", "DeadlineExceeded"), "a DeadlineExceeded event")

# ---- Indexed completion ----
k.ok(["apply", "-f", job_yaml("idx", completions=3, parallelism=3, extra="  completionMode: Indexed\n")],
     out="job.batch/idx created")
ps = wait(lambda: (lambda l: l if len(l) == 3 else None)(pods("idx")))
byidx = {}
for p in ps or []:
    byidx[p.metadata.annotations.get("batch.kubernetes.io/job-completion-index")] = p
ok = sorted(byidx) == ["0", "1", "2"]
for i, p in byidx.items():
    env = {e.name: e for e in (p.spec.containers[0].env or [])}
    e = env.get("JOB_COMPLETION_INDEX")
    ok = ok and p.metadata.name.startswith("idx-%s-" % i) and p.spec.hostname == "idx-" + i \
        and p.metadata.labels.get("batch.kubernetes.io/job-completion-index") == i \
        and e is not None and e.value_from.field_ref.field_path == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
t.ok(ok, "one pod per index: name idx-<i>-, the index annotation and label, hostname idx-<i>, "
         "JOB_COMPLETION_INDEX from the annotation", [(p.metadata.name, p.spec.hostname) for p in ps or []])
finish(byidx["1"], 0)
t.ok(wait(lambda: job_json("idx").get("status", {}).get("completedIndexes") == "1"),
     "index 1 succeeded: completedIndexes \"1\"", job_json("idx").get("status"))
finish(byidx["0"], 0)
finish(byidx["2"], 0)
j = wait_cond("idx", "Complete")
st = (j or {}).get("status", {})
t.ok(j and st.get("completedIndexes") == "0-2" and st.get("succeeded") == 3,
     "all indexes: completedIndexes \"0-2\", succeeded 3, Complete", st)
k.ok(["get", "jobs", "idx"], name="kubectl get jobs idx: 3/3", check=lambda out: rows(out)[0][2] == "3/3")

# ---- suspend and resume ----
k.ok(["apply", "-f", job_yaml("sus", extra="  suspend: true\n")], out="job.batch/sus created")
j = wait_cond("sus", "Suspended")
st = (j or {}).get("status", {})
c = conds(j or {}).get("Suspended", {})
t.ok(j and c.get("reason") == "JobSuspended" and c.get("message") == "Job suspended"
     and "startTime" not in st and not pods("sus"),
     "created suspended: no pods, no startTime, Suspended True JobSuspended", st)
k.ok(["get", "jobs", "sus"], name="kubectl get jobs sus: STATUS Suspended",
     check=lambda out: rows(out)[0][1] == "Suspended")
k.ok(["patch", "job", "sus", "-p", '{"spec":{"suspend":false}}'], out="patched")
t.ok(wait(lambda: len(pods("sus")) == 1), "resumed: a pod starts", len(pods("sus")))
j = wait(lambda: (lambda j: j if conds(j).get("Suspended", {}).get("status") == "False" else None)(job_json("sus")))
c = conds(j or {}).get("Suspended", {})
t.ok(j and c.get("reason") == "JobResumed" and c.get("message") == "Job resumed"
     and j["status"].get("startTime"), "Suspended False JobResumed, startTime set", (j or {}).get("status"))
t.ok(wait_event("sus", "Resumed") and wait_event("sus", "Suspended"), "Suspended and Resumed events")
k.ok(["patch", "job", "sus", "-p", '{"spec":{"suspend":true}}'], out="patched")
t.ok(wait(lambda: len(pods("sus")) == 0), "suspended again: the running pod is deleted", len(pods("sus")))
j = job_json("sus")
t.ok(j["status"].get("active") is None and "failed" not in j["status"],
     "pods deleted by suspension do not count as failed", j["status"])

# ---- ttlSecondsAfterFinished ----
k.ok(["apply", "-f", job_yaml("ttl", extra="  ttlSecondsAfterFinished: 3\n")], out="job.batch/ttl created")
ps = wait(lambda: pods("ttl"))
if ps:
    finish(ps[0], 0)
t.ok(wait_cond("ttl", "Complete"), "the ttl Job completes")
gone = wait(lambda: not job_json("ttl"), timeout=20)
t.ok(gone, "ttlSecondsAfterFinished 3: the finished Job is deleted")
t.ok(wait(lambda: not pods("ttl"), timeout=20), "and its pod with it", [p.metadata.name for p in pods("ttl")])

# ---- deleting a running Job removes its pods (finalizers dropped) ----
k.ok(["apply", "-f", job_yaml("del", parallelism=2, completions=2)], out="job.batch/del created")
t.ok(wait(lambda: len(pods("del")) == 2), "two pods run")
k.ok(["delete", "job", "del"], out='job.batch "del" deleted')
t.ok(wait(lambda: not pods("del"), timeout=20), "kubectl delete job: its pods are gone, none stuck on the finalizer",
     [(p.metadata.name, p.metadata.finalizers) for p in pods("del")])

# ---- the python client reads the status ----
s = batch.read_namespaced_job_status("hello", "default").status
t.ok(s.succeeded == 1 and s.completion_time and s.start_time
     and [c.type for c in s.conditions] == ["SuccessCriteriaMet", "Complete"],
     "python client: read_namespaced_job_status", s)

k.finish()
