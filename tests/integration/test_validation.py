"""Field validation of the catalogue kinds to upstream's level (issue #17)
against a real `k3c server --disable-agent`, with kubectl and the python
client: pod resources, env and volume references, ports, immutable fields,
typed Secrets, the 1 MiB data limit, CronJob time zones, Endpoint and
EndpointSlice addresses, CSR requests, names. Each case checks upstream's
message and field path."""
import base64
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()


def kubectl_in(stdin, *args):
    env = dict(os.environ, KUBECONFIG=srv.kubeconfig, HOME=srv.tmp)
    return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def apply(obj):
    return kubectl_in(json.dumps(obj), "apply", "-f", "-")


def post(path, obj):
    st, _, body = srv.request("POST", path, json.dumps(obj).encode(),
                              {"Content-Type": "application/json"})
    try:
        return st, json.loads(body)
    except ValueError:
        return st, {"raw": body.decode(errors="replace")}


def causes(body):
    return [(c.get("field"), c.get("message")) for c in body.get("details", {}).get("causes", [])]


def refused(path, obj, field, msg, name):
    """POST obj; expect 422 with a cause (field, msg) and msg in the Status message."""
    st, body = post(path, obj)
    ok = st == 422 and (field, msg) in causes(body) and \
        ("%s: %s" % (field, msg)) in body.get("message", "")
    t.ok(ok, name, (st, body.get("message"), causes(body)))


def pod(name, containers=None, volumes=None, **spec):
    s = {"containers": containers or [{"name": "c", "image": "busybox"}]}
    if volumes is not None:
        s["volumes"] = volumes
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


PODS = "/api/v1/namespaces/default/pods"

# ---- resources: requests <= limits, non-negative, standard names (kubectl shows it)
r = apply(pod("req", [{"name": "c", "image": "busybox",
                       "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]))
want = ('The Pod "req" is invalid: spec.containers[0].resources.requests: Invalid value: "2": '
        'must be less than or equal to cpu limit of 1')
t.ok(r.returncode != 0 and want in r.stderr, "kubectl: requests above limits refused", r.stderr)
refused(PODS, pod("neg", [{"name": "c", "image": "busybox",
                           "resources": {"limits": {"memory": "-1Mi"}}}]),
        "spec.containers[0].resources.limits[memory]",
        'Invalid value: "-1Mi": must be greater than or equal to 0', "negative limit refused")
refused(PODS, pod("std", [{"name": "c", "image": "busybox",
                           "resources": {"requests": {"gpu": "1"}}}]),
        "spec.containers[0].resources.requests[gpu]",
        'Invalid value: "gpu": must be a standard resource for containers',
        "non-standard resource name refused")
refused(PODS, pod("ext", [{"name": "c", "image": "busybox",
                           "resources": {"requests": {"example.com/gpu": "1"},
                                         "limits": {"example.com/gpu": "2"}}}]),
        "spec.containers[0].resources.requests",
        'Invalid value: "1": must be equal to example.com/gpu limit of 2',
        "extended resource request must equal its limit")
st, body = post(PODS, pod("okres", [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                   "limits": {"cpu": "0.5", "memory": "1024Mi"}}}]))
t.ok(st == 201, "requests equal to limits (other spellings) accepted", body)

# ---- env: valueFrom needs exactly one source
env_cases = [
    ({}, 'Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, '
         '`configMapKeyRef` or `secretKeyRef`', "no source"),
    ({"configMapKeyRef": {"name": "cm", "key": "k"}, "secretKeyRef": {"name": "s", "key": "k"}},
     'Invalid value: "": may not have more than one field specified at a time', "two sources"),
]
for i, (vf, msg, what) in enumerate(env_cases):
    refused(PODS, pod("env%d" % i, [{"name": "c", "image": "busybox",
                                     "env": [{"name": "A", "valueFrom": vf}]}]),
            "spec.containers[0].env[0].valueFrom", msg, "env valueFrom with " + what)
refused(PODS, pod("env9", [{"name": "c", "image": "busybox",
                            "env": [{"name": "A", "value": "x",
                                     "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]),
        "spec.containers[0].env[0].valueFrom",
        'Invalid value: "": may not be specified when `value` is not empty', "env value and valueFrom")
refused(PODS, pod("env8", [{"name": "c", "image": "busybox",
                            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm"}}}]}]),
        "spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "Required value",
        "configMapKeyRef without key")

# ---- volumes and mounts
refused(PODS, pod("mnt", [{"name": "c", "image": "busybox",
                           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]),
        "spec.containers[0].volumeMounts[0].name", 'Not found: "data"',
        "volumeMount of a volume that does not exist")
refused(PODS, pod("dupvol", volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]),
        "spec.volumes[1].name", 'Duplicate value: "v"', "duplicate volume names")
refused(PODS, pod("novol", volumes=[{"name": "v"}]), "spec.volumes[0]",
        "Required value: must specify a volume type", "volume without a type")
refused(PODS, pod("twovol", volumes=[{"name": "v", "emptyDir": {}, "configMap": {"name": "x"}}]),
        "spec.volumes[0].configMap", "Forbidden: may not specify more than 1 volume type",
        "volume with two types")
refused(PODS, pod("dupmnt", [{"name": "c", "image": "busybox", "volumeMounts": [
    {"name": "v", "mountPath": "/d"}, {"name": "v", "mountPath": "/d"}]}],
    volumes=[{"name": "v", "emptyDir": {}}]),
    "spec.containers[0].volumeMounts[1].mountPath", 'Invalid value: "/d": must be unique',
    "duplicate mountPath")
st, body = post(PODS, pod("okvol", [{"name": "c", "image": "busybox",
                                     "volumeMounts": [{"name": "v", "mountPath": "/d"}]}],
                          volumes=[{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}]))
t.ok(st == 201, "a mount of an existing volume is accepted", body)
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
       "spec": {"selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                             "spec": {"containers": [{"name": "c", "image": "busybox",
                                                      "volumeMounts": [{"name": "x",
                                                                        "mountPath": "/x"}]}]}}}}
r = apply(dep)
t.ok(r.returncode != 0 and
     'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "x"' in r.stderr,
     "kubectl: Deployment template mount checked", r.stderr)

# ---- ports
refused(PODS, pod("hp", [{"name": "c", "image": "busybox",
                          "ports": [{"containerPort": 80, "hostPort": 70000}]}]),
        "spec.containers[0].ports[0].hostPort",
        "Invalid value: 70000: must be between 1 and 65535, inclusive", "hostPort out of range")
svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bigport"},
       "spec": {"ports": [{"port": 65536}]}}
refused("/api/v1/namespaces/default/services", svc, "spec.ports[0].port",
        "Invalid value: 65536: must be between 1 and 65535, inclusive", "Service port out of range")

# ---- immutable fields
r = srv.kubectl("patch", "pod", "okres", "--type=merge", "-p", '{"spec":{"nodeName":"n1"}}')
t.ok(r.returncode != 0 and "Forbidden: pod updates may not change fields" in r.stderr,
     "pod spec.nodeName cannot be set by an update", r.stderr)
st, _, b = srv.request("POST", PODS + "/okres/binding", json.dumps(
    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "okres"},
     "target": {"kind": "Node", "name": "n1"}}).encode(), {"Content-Type": "application/json"})
r = srv.kubectl("get", "pod", "okres", "-o", "jsonpath={.spec.nodeName}")
t.ok(st == 201 and r.stdout == "n1", "pod spec.nodeName set through binding", (st, b, r.stdout))
dep["spec"]["template"]["spec"]["containers"][0].pop("volumeMounts")
r = apply(dep)
t.ok(r.returncode == 0, "valid Deployment applied", r.stderr)
r = srv.kubectl("patch", "deployment", "d", "--type=merge", "-p",
                '{"spec":{"selector":{"matchLabels":{"app":"e"}},'
                '"template":{"metadata":{"labels":{"app":"e"}}}}}')
t.ok(r.returncode != 0 and "spec.selector: Invalid value:" in r.stderr and
     "field is immutable" in r.stderr, "Deployment selector is immutable", r.stderr)
for kind, path in (("ReplicaSet", "replicasets"), ("StatefulSet", "statefulsets"),
                   ("DaemonSet", "daemonsets")):
    o = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"},
         "spec": {"selector": {"matchLabels": {"app": "w"}},
                  "template": {"metadata": {"labels": {"app": "w", "x": "y"}},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    if kind == "StatefulSet":
        o["spec"]["serviceName"] = "w"
    r = apply(o)
    r2 = srv.kubectl("patch", path, "w", "--type=merge", "-p",
                     '{"spec":{"selector":{"matchLabels":{"x":"y"}}}}')
    t.ok(r.returncode == 0 and r2.returncode != 0 and "field is immutable" in r2.stderr,
         "%s selector is immutable" % kind, r.stderr + r2.stderr)
job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
       "spec": {"template": {"spec": {"restartPolicy": "Never",
                                      "containers": [{"name": "c", "image": "busybox"}]}}}}
r = apply(job)
r2 = srv.kubectl("patch", "job", "j", "--type=merge", "-p",
                 '{"spec":{"selector":{"matchLabels":{"x":"y"}}}}')
t.ok(r.returncode == 0 and r2.returncode != 0 and "spec.selector" in r2.stderr and
     "field is immutable" in r2.stderr, "Job selector is immutable", r.stderr + r2.stderr)
for kind, path in (("ConfigMap", "configmaps"), ("Secret", "secrets")):
    data = {"k": "v"} if kind == "ConfigMap" else {"k": base64.b64encode(b"v").decode()}
    o = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "imm"}, "immutable": True,
         "data": data}
    r = apply(o)
    r2 = srv.kubectl("patch", path, "imm", "--type=merge", "-p", '{"data":{"k":"d2Vl"}}')
    t.ok(r.returncode == 0 and r2.returncode != 0 and
         "data: Forbidden: field is immutable when `immutable` is set" in r2.stderr,
         "immutable %s refuses data changes" % kind, r.stderr + r2.stderr)

# ---- typed Secrets
SECRETS = "/api/v1/namespaces/default/secrets"


def secret(name, typ, data=None, annotations=None):
    o = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": typ,
         "data": {k: base64.b64encode(v.encode()).decode() for k, v in (data or {}).items()}}
    if annotations:
        o["metadata"]["annotations"] = annotations
    return o


refused(SECRETS, secret("tls1", "kubernetes.io/tls", {"tls.key": "k"}), "data[tls.crt]",
        "Required value", "kubernetes.io/tls needs tls.crt")
refused(SECRETS, secret("tls2", "kubernetes.io/tls", {"tls.crt": "c"}), "data[tls.key]",
        "Required value", "kubernetes.io/tls needs tls.key")
refused(SECRETS, secret("dcj", "kubernetes.io/dockerconfigjson"), "data[.dockerconfigjson]",
        "Required value", "dockerconfigjson needs .dockerconfigjson")
refused(SECRETS, secret("ba", "kubernetes.io/basic-auth"), "data[username]", "Required value",
        "basic-auth needs username or password")
refused(SECRETS, secret("ssh", "kubernetes.io/ssh-auth"), "data[ssh-privatekey]",
        "Required value", "ssh-auth needs ssh-privatekey")
refused(SECRETS, secret("sat", "kubernetes.io/service-account-token"),
        "metadata.annotations[kubernetes.io/service-account.name]", "Required value",
        "service-account-token needs the service account annotation")
ok = [secret("tls3", "kubernetes.io/tls", {"tls.crt": "c", "tls.key": "k"}),
      secret("dcj2", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": '{"auths":{}}'}),
      secret("ba2", "kubernetes.io/basic-auth", {"password": "p"}),
      secret("sat2", "kubernetes.io/service-account-token",
             annotations={"kubernetes.io/service-account.name": "default"})]
res = [post(SECRETS, o) for o in ok]
t.ok([x[0] for x in res] == [201] * 4, "well-formed typed Secrets accepted", res)

# ---- 1 MiB data limit
big = "x" * (1024 * 1024 + 1)
refused("/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": big}},
        "[]", "Too long: may not be more than 1048576 bytes", "ConfigMap over 1 MiB refused")
refused(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "big"},
                  "data": {"k": base64.b64encode(big.encode()).decode()}},
        "data", "Too long: may not be more than 1048576 bytes", "Secret over 1 MiB refused")
st, body = post("/api/v1/namespaces/default/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "justfits"},
                 "data": {"k": "x" * (1024 * 1024 - 10)}})
t.ok(st == 201, "ConfigMap just under 1 MiB accepted", st)

# ---- CronJob timeZone and schedule
CJ = "/apis/batch/v1/namespaces/default/cronjobs"


def cronjob(name, tz=None, schedule="0 * * * *"):
    o = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
         "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
             "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}
    if tz is not None:
        o["spec"]["timeZone"] = tz
    return o


refused(CJ, cronjob("tz1", "Mars/Olympus"), "spec.timeZone",
        'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus', "unknown time zone")
refused(CJ, cronjob("tz2", "../etc/passwd"), "spec.timeZone",
        'Invalid value: "../etc/passwd": unknown time zone ../etc/passwd', "time zone path escape")
refused(CJ, cronjob("tz3", "Local"), "spec.timeZone",
        'Invalid value: "Local": timeZone must be an explicit time zone as defined in '
        'https://www.iana.org/time-zones', "Local time zone")
refused(CJ, cronjob("tz4", schedule="TZ=UTC 0 * * * *"), "spec.schedule",
        'Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone '
        'field instead', "TZ= in schedule")
sts = [post(CJ, cronjob("tz%d" % i, tz))[0] for i, tz in ((5, "Europe/Berlin"), (6, "UTC"))]
t.ok(sts == [201, 201], "Europe/Berlin and UTC accepted", sts)

# ---- Endpoints and EndpointSlices
EP = "/api/v1/namespaces/default/endpoints"
for i, (ip, msg) in enumerate((
        ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        ("169.254.1.1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
        ("::1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"))):
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ep%d" % i},
          "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80}]}]}
    refused(EP, ep, "subsets[0].addresses[0].ip", 'Invalid value: "%s": %s' % (ip, msg),
            "Endpoints address %s refused" % ip)
eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "s"},
       "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": []}
refused("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", eps,
        "endpoints[0].addresses[0]",
        'Invalid value: "127.0.0.2": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        "EndpointSlice loopback address refused")
eps["endpoints"][0]["addresses"] = ["10.0.0.300"]
refused("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", eps,
        "endpoints[0].addresses[0]", 'Invalid value: "10.0.0.300": must be a valid IPv4 address',
        "EndpointSlice malformed address refused")
ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "good"},
      "subsets": [{"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 80}]}]}
t.ok(post(EP, ep)[0] == 201, "Endpoints with a pod address accepted")

# ---- CSR request must be a PEM CERTIFICATE REQUEST
csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
       "metadata": {"name": "bad"},
       "spec": {"request": base64.b64encode(b"hi").decode(), "signerName": "example.com/x",
                "usages": ["digital signature"]}}
st, body = post("/apis/certificates.k8s.io/v1/certificatesigningrequests", csr)
t.ok(st == 422 and ("spec.request", "Invalid value: []byte{0x68, 0x69}: PEM block type must be "
                    "CERTIFICATE REQUEST") in causes(body), "CSR with a non-PEM request refused",
     (st, causes(body)))
key = os.path.join(srv.tmp, "k.pem")
subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-subj", "/CN=alice", "-out", key + ".csr"],
               capture_output=True, check=False)
if os.path.exists(key + ".csr"):
    with open(key + ".csr", "rb") as f:
        csr["spec"]["request"] = base64.b64encode(f.read()).decode()
    csr["metadata"]["name"] = "good"
    st, body = post("/apis/certificates.k8s.io/v1/certificatesigningrequests", csr)
    t.ok(st == 201, "CSR with a real request accepted", body)
    # ---- the status subresource may not decide a CSR (upstream's status strategy)
    CSR = "/apis/certificates.k8s.io/v1/certificatesigningrequests/good"

    def put_status(edit):
        _, _, cur = srv.request("GET", CSR)
        cur = json.loads(cur)
        edit(cur.setdefault("status", {}))
        st, _, out = srv.request("PUT", CSR + "/status", body=json.dumps(cur).encode(),
                                 headers={"Content-Type": "application/json"})
        return st, json.loads(out)

    approve = {"type": "Approved", "status": "True", "reason": "ByHand", "message": "ok"}
    st, body = put_status(lambda s: s.setdefault("conditions", []).append(dict(approve)))
    t.ok(st == 422 and ("status.conditions", 'Forbidden: updates may not add a condition of type '
                        '"Approved"') in causes(body), "status may not add Approved", (st, causes(body)))
    r = srv.kubectl("certificate", "approve", "good")
    t.ok(r.returncode == 0, "kubectl certificate approve (the approval subresource)", r.stderr)
    st, body = put_status(lambda s: s["conditions"][0].update(message="changed", reason="Other"))
    cond = (body.get("status", {}).get("conditions") or [{}])[0]
    t.ok(st == 200 and cond.get("type") == "Approved" and cond.get("reason") == "KubectlApprove"
         and cond.get("message") != "changed",
         "status keeps the Approved condition as it was (changes to it are put back)", (st, body))
    st, body = put_status(lambda s: s["conditions"].append({"type": "Denied", "status": "True"}))
    t.ok(st == 422 and ("status.conditions", 'Forbidden: updates may not add a condition of type '
                        '"Denied"') in causes(body), "status may not add Denied", (st, causes(body)))
    st, body = put_status(lambda s: s.update(conditions=[]))
    t.ok(st == 422 and ("status.conditions", 'Forbidden: updates may not remove a condition of type '
                        '"Approved"') in causes(body), "status may not remove Approved", (st, causes(body)))
    cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n").decode()
    st, body = put_status(lambda s: s.update(certificate=cert))
    t.ok(st == 200 and body.get("status", {}).get("certificate") == cert,
         "status sets the certificate of an approved CSR", (st, body))
    st, body = put_status(lambda s: s.update(certificate=base64.b64encode(b"other").decode()))
    t.ok(st == 422 and ("status.certificate", "Forbidden: updates may not modify existing certificate "
                        "content") in causes(body), "an issued certificate is not replaced",
         (st, causes(body)))
else:
    t.skip("CSR with a real request accepted", "openssl could not make a request")

# ---- names and labels
refused(PODS, pod("Bad_Name"), "metadata.name",
        'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        "bad pod name refused")

# ---- the python client sees the same Status
try:
    from kubernetes import client, config
    v1 = client.CoreV1Api(config.new_client_from_config(config_file=srv.kubeconfig))
    body = client.V1Pod(metadata=client.V1ObjectMeta(name="pyreq"), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="busybox",
                                       resources=client.V1ResourceRequirements(
                                           limits={"memory": "1Gi"}, requests={"memory": "2Gi"}))]))
    try:
        v1.create_namespaced_pod("default", body)
        t.ok(False, "python client: requests above limits refused", "created")
    except client.rest.ApiException as e:
        t.ok(e.status == 422 and "must be less than or equal to memory limit of 1Gi" in e.body,
             "python client: requests above limits refused", e.body)
except ImportError as e:
    t.ok(False, "python3-kubernetes is installed", e)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
srv.cleanup()
t.done()
