"""Service type transitions and dry-run=server (issue #17) against a real
`k3c server --disable-agent`: ClusterIP <-> NodePort <-> LoadBalancer <->
ExternalName through kubectl apply, patch and edit drop what the new type no
longer uses and give its ClusterIP and node ports back (upstream's service
REST strategy), allocate again on the way back; a dry run goes through every
admission and uniqueness check and shows allocations without keeping them."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()


def kubectl_in(stdin, *args, env_extra=None):
    env = dict(os.environ, KUBECONFIG=srv.kubeconfig, HOME=srv.tmp, **(env_extra or {}))
    return subprocess.run(["kubectl", "--kubeconfig", srv.kubeconfig] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def svc(name, typ="ClusterIP", **spec):
    s = {"type": typ, "selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": s}


def apply(obj, *extra):
    return kubectl_in(json.dumps(obj), "apply", "-f", "-", *extra)


def get(name):
    r = srv.kubectl("get", "svc", name, "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def node_port(o):
    return (o.get("spec", {}).get("ports") or [{}])[0].get("nodePort")


# ---- kubectl apply through every type
r = apply(svc("web"))
o = get("web")
ip = o.get("spec", {}).get("clusterIP", "")
t.ok(r.returncode == 0 and ip.startswith("10.43."), "ClusterIP service created", r.stderr + ip)
r = apply(svc("web", "NodePort"))
o = get("web")
np1 = node_port(o)
t.ok(r.returncode == 0 and isinstance(np1, int) and 30000 <= np1 <= 32767 and
     o["spec"]["clusterIP"] == ip and o["spec"].get("externalTrafficPolicy") == "Cluster",
     "apply ClusterIP -> NodePort allocates a node port, keeps the IP", (r.stderr, o.get("spec")))
r = apply(svc("web", "LoadBalancer"))
o = get("web")
t.ok(r.returncode == 0 and node_port(o) == np1 and
     o["spec"].get("allocateLoadBalancerNodePorts") is True,
     "apply NodePort -> LoadBalancer keeps the node port", (r.stderr, o.get("spec")))
r = apply(svc("web", "NodePort"))
o = get("web")
t.ok(r.returncode == 0 and node_port(o) == np1 and
     "allocateLoadBalancerNodePorts" not in o["spec"] and o["status"] == {"loadBalancer": {}},
     "apply LoadBalancer -> NodePort drops allocateLoadBalancerNodePorts", (r.stderr, o))
r = apply(svc("web", "ClusterIP"))
o = get("web")
t.ok(r.returncode == 0 and node_port(o) is None and "externalTrafficPolicy" not in o["spec"] and
     o["spec"]["clusterIP"] == ip, "apply NodePort -> ClusterIP drops the node port",
     (r.stderr, o.get("spec")))
r = apply(svc("taker", "NodePort", ports=[{"name": "http", "port": 80, "nodePort": np1}]))
t.ok(r.returncode == 0 and node_port(get("taker")) == np1,
     "the dropped node port was given back (another service takes it)", r.stderr)
srv.kubectl("delete", "svc", "taker")
r = apply(svc("web", "ExternalName", externalName="db.example.com"))
o = get("web")
gone = [k for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy") if k in o.get("spec", {})]
t.ok(r.returncode == 0 and not gone and o["spec"]["externalName"] == "db.example.com",
     "apply ClusterIP -> ExternalName clears clusterIP(s), ipFamilies, ipFamilyPolicy",
     (r.stderr, o.get("spec")))
r = apply(svc("ipthief", clusterIP=ip))
t.ok(r.returncode == 0 and get("ipthief").get("spec", {}).get("clusterIP") == ip,
     "the ExternalName service's old IP was released (another service takes it)", r.stderr)
r = apply(svc("web", "ClusterIP"))
o = get("web")
ip2 = o.get("spec", {}).get("clusterIP", "")
t.ok(r.returncode == 0 and ip2.startswith("10.43.") and ip2 != ip and
     o["spec"].get("ipFamilies") == ["IPv4"] and o["spec"].get("ipFamilyPolicy") == "SingleStack"
     and "externalName" not in o["spec"],
     "apply ExternalName -> ClusterIP allocates a new IP", (r.stderr, o.get("spec")))

# ---- kubectl patch
r = srv.kubectl("patch", "svc", "web", "-p", '{"spec":{"type":"LoadBalancer"}}')
o = get("web")
np2 = node_port(o)
t.ok(r.returncode == 0 and isinstance(np2, int) and o["spec"]["clusterIP"] == ip2,
     "patch ClusterIP -> LoadBalancer allocates a node port", (r.stderr, o.get("spec")))
r = srv.kubectl("patch", "svc", "web", "-p",
                '{"spec":{"type":"ExternalName","externalName":"x.example.com"}}')
o = get("web")
t.ok(r.returncode == 0 and node_port(o) is None and "clusterIP" not in o["spec"] and
     "allocateLoadBalancerNodePorts" not in o["spec"] and "externalTrafficPolicy" not in o["spec"],
     "patch LoadBalancer -> ExternalName drops node ports, IP and LB fields",
     (r.stderr, o.get("spec")))
r = apply(svc("taker2", "NodePort", clusterIP=ip2,
              ports=[{"name": "http", "port": 80, "nodePort": np2}]))
t.ok(r.returncode == 0, "LoadBalancer -> ExternalName gave back the IP and the node port", r.stderr)
r = srv.kubectl("patch", "svc", "web", "--type=json", "-p",
                '[{"op":"replace","path":"/spec/type","value":"NodePort"},'
                '{"op":"remove","path":"/spec/externalName"}]')
o = get("web")
t.ok(r.returncode == 0 and isinstance(node_port(o), int) and
     o["spec"].get("clusterIP", "").startswith("10.43."),
     "patch ExternalName -> NodePort allocates IP and node port", (r.stderr, o.get("spec")))

# ---- kubectl edit (the whole object comes back, allocated values included)
editor = os.path.join(srv.tmp, "editor.sh")


def edit_type(frm, to):
    with open(editor, "w") as f:
        f.write("#!/bin/sh\nsed -i 's/^  type: %s$/  type: %s/' \"$1\"\n" % (frm, to))
    os.chmod(editor, 0o755)
    return kubectl_in("", "edit", "svc", "web", env_extra={"KUBE_EDITOR": editor})


np3 = node_port(get("web"))
r = edit_type("NodePort", "ClusterIP")
o = get("web")
t.ok(r.returncode == 0 and node_port(o) is None and o["spec"]["type"] == "ClusterIP",
     "edit NodePort -> ClusterIP drops the node port the object still carried",
     (r.stdout, r.stderr, o.get("spec")))
r = apply(svc("taker3", "NodePort", ports=[{"name": "http", "port": 80, "nodePort": np3}]))
t.ok(r.returncode == 0, "edit gave the node port back", r.stderr)
r = edit_type("ClusterIP", "LoadBalancer")
o = get("web")
t.ok(r.returncode == 0 and isinstance(node_port(o), int) and
     o["spec"].get("allocateLoadBalancerNodePorts") is True,
     "edit ClusterIP -> LoadBalancer allocates", (r.stderr, o.get("spec")))

# ---- allocateLoadBalancerNodePorts
r = apply(svc("lbnp", "LoadBalancer", allocateLoadBalancerNodePorts=False))
o = get("lbnp")
t.ok(r.returncode == 0 and node_port(o) is None,
     "LoadBalancer with allocateLoadBalancerNodePorts=false gets no node port", (r.stderr, o))
r = apply(svc("cipalloc", allocateLoadBalancerNodePorts=True))
t.ok(r.returncode != 0 and "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when "
     "`type` is 'LoadBalancer'" in r.stderr, "allocateLoadBalancerNodePorts only for LoadBalancer",
     r.stderr)

# ---- dry-run=server
r = kubectl_in(json.dumps(svc("lbnp")), "create", "--dry-run=server", "-f", "-")
t.ok(r.returncode != 0 and 'services "lbnp" already exists' in r.stderr,
     "create --dry-run=server of an existing Service: AlreadyExists", r.stderr)
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"}, "data": {"a": "b"}}
kubectl_in(json.dumps(cm), "create", "-f", "-")
r = kubectl_in(json.dumps(cm), "create", "--dry-run=server", "-f", "-")
t.ok(r.returncode != 0 and 'configmaps "cm1" already exists' in r.stderr,
     "create --dry-run=server of an existing ConfigMap: AlreadyExists", r.stderr)
r = kubectl_in(json.dumps(svc("dry", "NodePort")), "create", "--dry-run=server", "-o", "json",
               "-f", "-")
shown = json.loads(r.stdout) if r.returncode == 0 else {}
dry_ip = shown.get("spec", {}).get("clusterIP", "")
dry_np = node_port(shown)
t.ok(dry_ip.startswith("10.43.") and isinstance(dry_np, int),
     "dry-run create shows the clusterIP and nodePort it would allocate", r.stdout + r.stderr)
r = srv.kubectl("get", "svc", "dry")
t.ok(r.returncode != 0 and "NotFound" in r.stderr, "dry-run create stored nothing", r.stderr)
r = apply(svc("dry2", "NodePort", clusterIP=dry_ip,
              ports=[{"name": "http", "port": 80, "nodePort": dry_np}]))
t.ok(r.returncode == 0, "dry-run kept neither the IP nor the node port", r.stderr)
r = kubectl_in(json.dumps(svc("dry3", "NodePort",
                              ports=[{"name": "http", "port": 80, "nodePort": dry_np}])),
               "create", "--dry-run=server", "-f", "-")
want = ("spec.ports[0].nodePort: Invalid value: %d: provided port is already allocated" % dry_np)
t.ok(r.returncode != 0 and want in r.stderr, "dry-run create with a NodePort in use is refused",
     r.stderr)
r = kubectl_in(json.dumps(svc("dry4", clusterIP=dry_ip)), "create", "--dry-run=server", "-f", "-")
want = ('spec.clusterIPs: Invalid value: []string{"%s"}: failed to allocate IP %s: provided IP '
        'is already allocated' % (dry_ip, dry_ip))
t.ok(r.returncode != 0 and want in r.stderr, "dry-run create with a ClusterIP in use is refused",
     r.stderr)
apply(svc("upd"))
r = srv.kubectl("patch", "svc", "upd", "--dry-run=server", "-o", "json", "-p",
                '{"spec":{"type":"NodePort"}}')
shown = json.loads(r.stdout) if r.returncode == 0 else {}
upd_np = node_port(shown)
t.ok(isinstance(upd_np, int) and node_port(get("upd")) is None and
     get("upd")["spec"]["type"] == "ClusterIP",
     "dry-run patch shows a node port, the stored Service is unchanged", r.stdout + r.stderr)
r = apply(svc("upd2", "NodePort", ports=[{"name": "http", "port": 80, "nodePort": upd_np}]))
t.ok(r.returncode == 0, "dry-run patch kept no node port", r.stderr)
r = srv.kubectl("patch", "svc", "upd2", "--dry-run=server", "-p", '{"spec":{"type":"ClusterIP"}}')
r2 = apply(svc("upd3", "NodePort", ports=[{"name": "http", "port": 80, "nodePort": upd_np}]))
t.ok(r.returncode == 0 and r2.returncode != 0 and "provided port is already allocated" in r2.stderr
     and node_port(get("upd2")) == upd_np,
     "dry-run NodePort -> ClusterIP gave nothing back", r.stderr + r2.stderr)

try:
    from kubernetes import client, config
    v1 = client.CoreV1Api(config.new_client_from_config(config_file=srv.kubeconfig))
    body = client.V1Service(metadata=client.V1ObjectMeta(name="upd2"),
                            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]))
    try:
        v1.create_namespaced_service("default", body, dry_run="All")
        t.ok(False, "python client dry-run create of an existing name: 409", "created")
    except client.rest.ApiException as e:
        t.ok(e.status == 409 and "AlreadyExists" in e.body,
             "python client dry-run create of an existing name: 409", e.body)
except ImportError as e:
    t.ok(False, "python3-kubernetes is installed", e)

t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
srv.cleanup()
t.done()
