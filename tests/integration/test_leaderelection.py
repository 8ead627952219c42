"""Leader election in a real `k3c server --disable-agent` with shortened timings: the
kube-system Leases kube-controller-manager and kube-scheduler exist with k3c's identity
("<hostname>_<uuid>") and a renewTime that advances; a foreign holder written into both
Leases makes k3c stop scheduling and reconciling (a new pod stays unbound, a new
Deployment gets no ReplicaSet) until that lease expires by k3c's clock, then k3c takes
them back (leaseTransitions + 1) and the pod is bound and the ReplicaSet appears; a clean
stop releases both (holderIdentity "", leaseDurationSeconds 1); --leader-elect=false runs
the scheduler without touching the Leases; bad timings are refused with a reason."""
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap, free_port, k3c_bin  # noqa: E402

LEASE, RENEW, RETRY = 5, 4, 1
FOREIGN_DURATION = 8
NAMES = ("kube-controller-manager", "kube-scheduler")
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

t = Tap()
srv = Server(extra_args=["--disable-agent", "--node-monitor-grace-period", "3600",
                         "--leader-elect-lease-duration", "%ds" % LEASE,
                         "--leader-elect-renew-deadline", str(RENEW),
                         "--leader-elect-retry-period", str(RETRY)]).start()

from kubernetes import client, config  # noqa: E402

api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
apps = client.AppsV1Api(api)


def lease_path(name):
    return "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/" + name


def get_lease(name):
    st, _, body = srv.request("GET", lease_path(name))
    return json.loads(body) if st == 200 else None


def wait(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def micro_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def make_node(name):
    v1.create_node({"apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    alloc = {"cpu": "8", "memory": "16Gi", "pods": "110"}
    v1.patch_node_status(name, {"status": {
        "capacity": alloc, "allocatable": alloc,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})


def make_pod(name):
    v1.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})


def node_of(name):
    try:
        return v1.read_namespaced_pod(name, "default").spec.node_name
    except client.rest.ApiException:
        return None


def make_deployment(name):
    apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})


def replicasets_of(name):
    return [rs for rs in apps.list_namespaced_replica_set("default").items
            if any(o.kind == "Deployment" and o.name == name
                   for o in rs.metadata.owner_references or [])]


# ---- both Leases, held by k3c, renewed ----
leases = {n: wait(lambda n=n: get_lease(n)) for n in NAMES}
host = socket.gethostname()
ident = re.compile(r"^%s_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
                   % re.escape(host))
for n in NAMES:
    spec = (leases[n] or {}).get("spec", {})
    t.ok(ident.match(spec.get("holderIdentity", "")) and spec.get("leaseDurationSeconds") == LEASE
         and MICRO.match(spec.get("renewTime", "")) and MICRO.match(spec.get("acquireTime", ""))
         and spec.get("leaseTransitions") == 0,
         "Lease kube-system/%s held by <hostname>_<uuid>, MicroTimes, %d s" % (n, LEASE), leases[n])
ids = {n: leases[n]["spec"]["holderIdentity"] for n in NAMES}
t.ok(ids[NAMES[0]] != ids[NAMES[1]], "each component has its own identity", ids)
time.sleep(RETRY * 2.5)
later = {n: get_lease(n) for n in NAMES}
t.ok(all(parse_micro(later[n]["spec"]["renewTime"]) > parse_micro(leases[n]["spec"]["renewTime"])
         and later[n]["spec"]["acquireTime"] == leases[n]["spec"]["acquireTime"]
         and later[n]["spec"]["holderIdentity"] == ids[n] for n in NAMES),
     "renewTime advances every retry period, acquireTime and holder stay",
     [(leases[n]["spec"], later[n]["spec"]) for n in NAMES])

def leader_events(name):
    st, _, body = srv.request("GET", "/api/v1/namespaces/kube-system/events")
    return [e for e in (json.loads(body)["items"] if st == 200 else [])
            if e.get("reason") == "LeaderElection" and e["involvedObject"].get("name") == name
            and e["involvedObject"].get("kind") == "Lease"]


evs = {n: wait(lambda n=n: leader_events(n)) for n in NAMES}
t.ok(all(evs[n] and evs[n][0]["message"] == ids[n] + " became leader"
         and evs[n][0]["type"] == "Normal" and evs[n][0]["source"]["component"] == n for n in NAMES),
     "a LeaderElection Event on each Lease: '<identity> became leader'",
     {n: [(e["message"], e["source"]) for e in evs[n] or []] for n in NAMES})

# ---- while leading: scheduling and reconciling ----
make_node("n1")
make_pod("before")
t.ok(wait(lambda: node_of("before") == "n1"), "a pod is bound while k3c leads", node_of("before"))
make_deployment("d-before")
t.ok(wait(lambda: replicasets_of("d-before")), "a Deployment gets its ReplicaSet while k3c leads")

# ---- a foreign holder takes both Leases ----
def take(name):
    for _ in range(50):
        lease = get_lease(name)
        lease["spec"].update({"holderIdentity": "intruder_0001", "renewTime": micro_now(),
                              "acquireTime": micro_now(), "leaseDurationSeconds": FOREIGN_DURATION})
        st, _, body = srv.request("PUT", lease_path(name), body=json.dumps(lease),
                                  headers={"Content-Type": "application/json"})
        if st == 200:
            return json.loads(body)
        time.sleep(0.05)  # 409: k3c renewed in between; read again
    return None


before_transitions = {}
taken_at = time.time()
for n in NAMES:
    l = take(n)
    t.ok(l and l["spec"]["holderIdentity"] == "intruder_0001",
         "force-replaced %s with a foreign holder and a fresh renewTime" % n, l)
    before_transitions[n] = l["spec"].get("leaseTransitions", 0) if l else 0
lost = wait(lambda: "kube-controller-manager lost" in srv.log_text()
            and "kube-scheduler lost" in srv.log_text(), timeout=RENEW + 3)
t.ok(lost and time.time() - taken_at < RENEW + 1,
     "k3c stops both within a retry period of seeing the foreign holder (%.1f s)"
     % (time.time() - taken_at), srv.log_tail())
make_pod("during")
make_deployment("d-during")
time.sleep(FOREIGN_DURATION - (time.time() - taken_at) - 1.5)
t.ok(node_of("during") is None, "a new pod stays unbound while the foreign lease is valid",
     node_of("during"))
t.ok(not replicasets_of("d-during"), "a new Deployment gets no ReplicaSet meanwhile")
t.ok(all(get_lease(n)["spec"]["holderIdentity"] == "intruder_0001" for n in NAMES),
     "k3c did not overwrite the valid foreign lease", [get_lease(n)["spec"] for n in NAMES])

# ---- the foreign lease expires: k3c takes both back ----
back = wait(lambda: all(get_lease(n)["spec"]["holderIdentity"] == ids[n] for n in NAMES),
            timeout=FOREIGN_DURATION + 10)
elapsed = time.time() - taken_at
t.ok(back and elapsed >= FOREIGN_DURATION - 0.5,
     "k3c takes the Leases back once the foreign lease expired (after %.1f s)" % elapsed,
     [get_lease(n)["spec"] for n in NAMES])
t.ok(all(get_lease(n)["spec"].get("leaseTransitions") == before_transitions[n] + 1 for n in NAMES),
     "leaseTransitions grows by one", [get_lease(n)["spec"] for n in NAMES])
msgs = {n: sorted(e["message"] for e in leader_events(n)) for n in NAMES}
t.ok(all(ids[n] + " stopped leading" in msgs[n] and
         sum(e["count"] for e in leader_events(n) if e["message"] == ids[n] + " became leader") == 2
         for n in NAMES), "Events: stopped leading, then became leader again (count 2)", msgs)
t.ok(wait(lambda: node_of("during") == "n1"), "the waiting pod is bound after the takeover",
     node_of("during"))
t.ok(wait(lambda: replicasets_of("d-during")), "the Deployment gets its ReplicaSet")

# ---- a clean stop releases both ----
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
srv2 = Server(extra_args=["--disable-agent", "--leader-elect=false"], data_dir=srv.data_dir,
              tmp=srv.tmp).start()
srv = srv2
for n in NAMES:
    spec = get_lease(n)["spec"]
    t.ok(spec.get("holderIdentity") == "" and spec.get("leaseDurationSeconds") == 1
         and spec.get("leaseTransitions") == before_transitions[n] + 1,
         "%s released on stop: no holder, 1 s" % n, spec)
api = config.new_client_from_config(config_file=srv.kubeconfig)
v1 = client.CoreV1Api(api)
make_pod("no-election")
t.ok(wait(lambda: node_of("no-election") == "n1"), "--leader-elect=false: the scheduler runs",
     node_of("no-election"))
t.ok(all(get_lease(n)["spec"].get("holderIdentity") == "" for n in NAMES),
     "--leader-elect=false leaves the Leases alone")
t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())

# ---- timings upstream refuses ----
r = subprocess.run([k3c_bin(), "server", "--config", "/dev/null", "--data-dir", srv.data_dir,
                    "--disable-agent", "--https-listen-port", str(free_port()),
                    "--write-kubeconfig", os.path.join(srv.tmp, "refused.yaml"),
                    "--leader-elect-lease-duration", "3", "--leader-elect-renew-deadline", "3"],
                   capture_output=True, text=True, timeout=60)
t.ok(r.returncode != 0 and "lease duration (3 s) must be greater than the renew deadline (3 s)"
     in r.stdout + r.stderr, "a lease duration not above the renew deadline is refused",
     r.stdout[-800:] + r.stderr[-800:])
srv.cleanup()
t.done()
