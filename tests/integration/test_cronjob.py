"""The CronJob controller in a real `k3c server --disable-agent` with kubectl and the
Debian python3-kubernetes client; the test plays the kubelet for the Jobs' pods. A
CronJob on a one-minute schedule fires at two minute boundaries (bounded wait) and its
successfulJobsHistoryLimit 1 removes the older Job. Starts that are due "now" are made
by moving status.lastScheduleTime back (what a controller that was down would see):
Forbid and Replace with a running Job, too many missed start times, a time zone in the
scheduled-timestamp annotation, suspend; also `kubectl create cronjob`, `kubectl create
job --from=cronjob/x`, `kubectl get cronjobs`, failedJobsHistoryLimit and deleting a
CronJob with its Jobs."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402
from kube import Kube, header, rows  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
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
        time.sleep(0.25)
    return cond()


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def cj_json(name):
    r = k.run(["get", "cronjob", name, "-o", "json"])
    return json.loads(r.stdout) if r.returncode == 0 else {}


def jobs_of(cj):
    uid = cj_json(cj).get("metadata", {}).get("uid")
    out = []
    for j in batch.list_namespaced_job("default").items:
        refs = j.metadata.owner_references or []
        if any(r.uid == uid and r.controller for r in refs):
            out.append(j)
    return sorted(out, key=lambda j: j.metadata.name)


def finish_job(job_name, code=0):
    """Play the kubelet: the Job's active pods exit with code."""
    def go():
        ps = [p for p in v1.list_namespaced_pod("default", label_selector="batch.kubernetes.io/job-name=" + job_name).items
              if p.status.phase not in ("Succeeded", "Failed")]
        for p in ps:
            body = {"status": {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [{
                "name": p.spec.containers[0].name, "image": p.spec.containers[0].image, "imageID": "",
                "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "startedAt": NOW, "finishedAt": NOW}}}]}}
            v1.patch_namespaced_pod_status(p.metadata.name, "default", body)
        return ps
    return wait(go, 20)


def job_done(job_name, cond):
    def check():
        try:
            j = batch.read_namespaced_job(job_name, "default")
        except client.rest.ApiException:
            return False
        return any(c.type == cond and c.status == "True" for c in (j.status.conditions or []))
    return wait(check, 30)


def events(name):
    r = k.run(["get", "events", "--field-selector", "involvedObject.name=" + name, "-o", "json"])
    return json.loads(r.stdout)["items"] if r.returncode == 0 else []


def wait_event(name, reason, timeout=20, pred=None):
    return wait(lambda: [e for e in events(name) if e["reason"] == reason and (pred is None or pred(e))],
                timeout)


def set_last_schedule(name, ts, active=None):
    st = {"lastScheduleTime": rfc3339(ts)}
    if active is not None:
        st["active"] = active
    batch.patch_namespaced_cron_job_status(name, "default", {"status": st})


CJ = """apiVersion: batch/v1
kind: CronJob
metadata:
  name: %(name)s
spec:
  schedule: "%(schedule)s"
%(extra)s  jobTemplate:
    metadata:
      labels: {from: %(name)s}
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: busybox:1.36
"""


def daily_due(offset_hours=0):
    """A daily schedule whose last start was two minutes ago (in a zone offset_hours
    east of UTC), so it never fires by itself during the test: (spec, start)."""
    start = int(time.time() // 60) * 60 - 120
    tm = time.gmtime(start + offset_hours * 3600)
    return "%d %d * * *" % (tm.tm_min, tm.tm_hour), start


def cronjob(name, schedule="*/1 * * * *", extra=""):
    path = k.write(name + ".yaml", CJ % {"name": name, "schedule": schedule, "extra": extra})
    k.ok(["apply", "-f", path], out="cronjob.batch/%s created" % name)


# ---- a one-minute schedule: created first, its minute boundaries are waited for at the end ----
cronjob("tick", extra="  successfulJobsHistoryLimit: 1\n  failedJobsHistoryLimit: 1\n")
tick_created = time.time()

# ---- kubectl create cronjob, get cronjobs ----
k.ok(["create", "cronjob", "nightly", "--image=busybox:1.36", "--schedule=0 3 * * *", "--", "date"],
     out="cronjob.batch/nightly created")
k.ok(["get", "cronjobs", "nightly"], name="kubectl get cronjobs: SCHEDULE, SUSPEND False, ACTIVE 0, LAST SCHEDULE <none>",
     check=lambda out: header(out) == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
     and rows(out)[0][:7] == ["nightly", "0", "3", "*", "*", "*", "<none>"] and rows(out)[0][7:9] == ["False", "0"])

# ---- kubectl create job --from=cronjob: a Job owned by the CronJob ----
k.ok(["create", "job", "manual", "--from=cronjob/nightly"], out="job.batch/manual created")
j = batch.read_namespaced_job("manual", "default")
refs = j.metadata.owner_references or []
t.ok(refs and refs[0].kind == "CronJob" and refs[0].name == "nightly" and refs[0].controller
     and (j.metadata.annotations or {}).get("cronjob.kubernetes.io/instantiate") == "manual",
     "create job --from=cronjob/nightly: owned by the CronJob, instantiate: manual", j.metadata)
ev = wait_event("nightly", "UnexpectedJob")
t.ok(ev and ev[0]["message"] == "Saw a job that the controller did not create or forgot: manual"
     and ev[0]["type"] == "Warning", "the controller reports the Job it did not create", ev)
t.ok(wait(lambda: len(v1.list_namespaced_pod(
    "default", label_selector="batch.kubernetes.io/job-name=manual").items) == 1), "the Job controller runs its pod")

# ---- a start due now (lastScheduleTime moved back): the Job, its name and annotation ----
spec, minute = daily_due(9)
cronjob("zoned", schedule=spec, extra="  timeZone: Asia/Tokyo\n")
set_last_schedule("zoned", minute - 3600)
name = "zoned-%d" % (minute // 60)
t.ok(wait(lambda: any(x.metadata.name == name for x in jobs_of("zoned"))),
     "a due start creates Job zoned-<minutes since the epoch>", [x.metadata.name for x in jobs_of("zoned")])
j = batch.read_namespaced_job(name, "default")
ann = j.metadata.annotations or {}
want = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(minute + 9 * 3600))
t.ok(ann.get("batch.kubernetes.io/cronjob-scheduled-timestamp") == want
     and j.metadata.labels.get("from") == "zoned" and j.spec.backoff_limit == 0
     and j.metadata.owner_references[0].kind == "CronJob" and j.metadata.owner_references[0].block_owner_deletion,
     "the Job has the template's labels and spec, the CronJob as controller and the scheduled time in "
     "Asia/Tokyo (+09:00)", (ann, j.metadata.labels))
cj = wait(lambda: (lambda c: c if c.get("status", {}).get("active") else None)(cj_json("zoned")))
st = (cj or {}).get("status", {})
act = st.get("active", [])
t.ok(act and act[0]["name"] == name and act[0]["kind"] == "Job" and act[0]["apiVersion"] == "batch/v1"
     and act[0]["uid"] == j.metadata.uid and act[0]["namespace"] == "default"
     and st.get("lastScheduleTime") == rfc3339(minute),
     "status.active references the Job, lastScheduleTime is its scheduled minute", st)
ev = wait_event("zoned", "SuccessfulCreate")
t.ok(ev and ev[0]["message"] == "Created job " + name and ev[0]["source"]["component"] == "cronjob-controller",
     "a SuccessfulCreate event 'Created job <name>' from cronjob-controller", ev)
k.ok(["get", "cronjobs", "zoned"], name="kubectl get cronjobs: TIMEZONE Asia/Tokyo, ACTIVE 1",
     check=lambda out: rows(out)[0][6:9] == ["Asia/Tokyo", "False", "1"])
finish_job(name, 0)
t.ok(job_done(name, "Complete"), "its Job completes")
cj = wait(lambda: (lambda c: c if c.get("status", {}).get("lastSuccessfulTime") and not c["status"].get("active")
                   else None)(cj_json("zoned")))
t.ok(cj, "the finished Job leaves status.active; lastSuccessfulTime is set", cj_json("zoned").get("status"))
ev = wait_event("zoned", "SawCompletedJob")
t.ok(ev and ev[0]["message"] == "Saw completed job: %s, condition: Complete" % name,
     "a SawCompletedJob event", ev)

# ---- Forbid: a running Job blocks the due start; Replace deletes it and starts anew ----
spec, start = daily_due()
cronjob("forbid", schedule=spec, extra="  timeZone: UTC\n  concurrencyPolicy: Forbid\n")
k.ok(["create", "job", "forbid-running", "--from=cronjob/forbid"], out="created")
run = batch.read_namespaced_job("forbid-running", "default")
ref = {"kind": "Job", "namespace": "default", "name": "forbid-running", "uid": run.metadata.uid,
       "apiVersion": "batch/v1"}
set_last_schedule("forbid", start - 3600, active=[ref])
ev = wait_event("forbid", "JobAlreadyActive")
t.ok(ev and ev[0]["message"] == "Not starting job because prior execution is running and concurrency policy is Forbid",
     "Forbid with a running Job: JobAlreadyActive, no new Job", ev)
t.ok([x.metadata.name for x in jobs_of("forbid")] == ["forbid-running"], "only the running Job exists",
     [x.metadata.name for x in jobs_of("forbid")])
k.ok(["patch", "cronjob", "forbid", "-p", '{"spec":{"concurrencyPolicy":"Replace"}}'], out="patched")
t.ok(wait(lambda: [x.metadata.name for x in jobs_of("forbid")] == ["forbid-%d" % (start // 60)]),
     "Replace: the running Job is deleted and a new one started", [x.metadata.name for x in jobs_of("forbid")])
ev = wait_event("forbid", "SuccessfulDelete")
t.ok(ev and ev[0]["message"] == "Deleted job forbid-running", "a SuccessfulDelete event 'Deleted job forbid-running'", ev)
cj = cj_json("forbid")
t.ok([a["name"] for a in cj["status"].get("active", [])] == [x.metadata.name for x in jobs_of("forbid")],
     "status.active now holds the new Job", cj["status"])

# ---- too many missed start times ----
cronjob("many")
many_minute = int(time.time() // 60)
set_last_schedule("many", time.time() - 3 * 3600)
ev = wait_event("many", "TooManyMissedTimes")
t.ok(ev and ev[0]["type"] == "Warning" and ev[0]["message"] ==
     "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
     "three hours of missed minutes: a TooManyMissedTimes warning", ev)
# (a minute boundary may pass meanwhile and start the next minute's Job too)
t.ok(wait(lambda: jobs_of("many")) and len(jobs_of("many")) <= 3
     and all(many_minute <= int(x.metadata.name.split("-")[1]) <= many_minute + 2 for x in jobs_of("many")),
     "and a Job for the most recent start, not one per missed minute", [x.metadata.name for x in jobs_of("many")])
# with startingDeadlineSeconds only the deadline's window counts: no warning
cronjob("window", extra="  startingDeadlineSeconds: 30\n")
set_last_schedule("window", time.time() - 3 * 3600)
time.sleep(2)
t.ok(not [e for e in events("window") if e["reason"] == "TooManyMissedTimes"],
     "startingDeadlineSeconds 30: the old misses are not counted", events("window"))

# ---- suspend: no start however late ----
spec, start = daily_due()
cronjob("paused", schedule=spec, extra="  timeZone: UTC\n  suspend: true\n")
set_last_schedule("paused", start - 3600)
time.sleep(2)
t.ok(not jobs_of("paused"), "a suspended CronJob starts nothing", [x.metadata.name for x in jobs_of("paused")])
k.ok(["get", "cronjobs", "paused"], name="kubectl get cronjobs: SUSPEND True",
     check=lambda out: rows(out)[0][7] == "True")

# ---- failedJobsHistoryLimit: failed Jobs beyond it are deleted, oldest first ----
cronjob("flaky", schedule="0 3 * * *", extra="  failedJobsHistoryLimit: 1\n")
for n in ("flaky-a", "flaky-b"):
    k.ok(["create", "job", n, "--from=cronjob/flaky"], out="created")
    finish_job(n, 1)
    t.ok(job_done(n, "Failed"), "Job %s fails" % n)
    time.sleep(1.1)  # distinct start times
t.ok(wait(lambda: [x.metadata.name for x in jobs_of("flaky")] == ["flaky-b"]),
     "failedJobsHistoryLimit 1 keeps only the newest failed Job", [x.metadata.name for x in jobs_of("flaky")])
t.ok(wait_event("flaky", "SuccessfulDelete", pred=lambda e: e["message"] == "Deleted job flaky-a"),
     "SuccessfulDelete 'Deleted job flaky-a'")

# ---- the one-minute schedule fires at two minute boundaries; history limit 1 ----
first = []


def tick_jobs():
    return [x for x in jobs_of("tick") if x.metadata.name not in first]


js = wait(tick_jobs, timeout=max(5, 65 - (time.time() - tick_created)))
t.ok(js and len(js) == 1, "*/1: a Job at the next minute boundary", [x.metadata.name for x in js or []])
if js:
    n1 = js[0].metadata.name
    first.append(n1)
    ts = int(n1.split("-")[1]) * 60
    t.ok((js[0].metadata.annotations or {}).get("batch.kubernetes.io/cronjob-scheduled-timestamp") == rfc3339(ts)
         and ts % 60 == 0 and abs(ts - time.time()) < 70,
         "named tick-<minute>, scheduled-timestamp in UTC (no timeZone)", js[0].metadata.annotations)
    finish_job(n1, 0)
    t.ok(job_done(n1, "Complete"), "the first tick completes")
    js = wait(tick_jobs, timeout=70)
    t.ok(js and len(js) == 1 and int(js[0].metadata.name.split("-")[1]) == ts // 60 + 1,
         "the next minute: a second Job", [x.metadata.name for x in js or []])
    if js:
        n2 = js[0].metadata.name
        finish_job(n2, 0)
        t.ok(job_done(n2, "Complete"), "the second tick completes")
        t.ok(wait(lambda: [x.metadata.name for x in jobs_of("tick")] == [n2]),
             "successfulJobsHistoryLimit 1: the older Job is deleted", [x.metadata.name for x in jobs_of("tick")])
        t.ok(wait_event("tick", "SuccessfulDelete", pred=lambda e: e["message"] == "Deleted job " + n1),
             "SuccessfulDelete 'Deleted job %s'" % n1)
        cj = cj_json("tick")
        t.ok(cj["status"].get("lastScheduleTime") == rfc3339(ts + 60) and not cj["status"].get("active"),
             "lastScheduleTime is the second minute, nothing active", cj["status"])

# ---- deleting a CronJob deletes its Jobs ----
k.ok(["delete", "cronjob", "zoned"], out='cronjob.batch "zoned" deleted')
t.ok(wait(lambda: not [x for x in batch.list_namespaced_job("default").items
                       if x.metadata.name.startswith("zoned-")], timeout=20),
     "the CronJob's Jobs are collected with it")

k.finish()
