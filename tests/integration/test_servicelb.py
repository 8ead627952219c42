"""The service load balancer's status controller (k3s's ServiceLB without pods) in a real
`k3c server --disable-agent` with hollow nodes: a LoadBalancer Service gets the Ready nodes'
addresses in status.loadBalancer.ingress (ExternalIP before InternalIP, sorted); a Service
of another loadBalancerClass and a ClusterIP one get none; a later Service on a port
already taken stays pending with a PortInUse event and gets the addresses once the port is
free; the label svccontroller.k3s.cattle.io/enablelb=true on a node narrows the set to the
labelled nodes; a node deleted leaves it; externalTrafficPolicy Local gets a
healthCheckNodePort; `--disable servicelb` turns the controller off."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Hollow, Server, Tap  # noqa: E402
from kube import Kube  # noqa: E402

LABEL = "svccontroller.k3s.cattle.io/enablelb"
t = Tap()
srv = Server(extra_args=["--disable-agent"]).start()
k = Kube(t, srv)


def svc(name, port, cls=None, typ="LoadBalancer"):
    spec = {"type": typ, "ports": [{"port": port, "protocol": "TCP"}], "selector": {"app": name}}
    if cls:
        spec["loadBalancerClass"] = cls
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": spec})


def ingress(name):
    r = k.run(["get", "svc", name, "-o", "json"])
    if r.returncode != 0:
        return None
    ing = json.loads(r.stdout).get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return [e.get("ip") for e in ing]


def wait_ingress(name, want, timeout=15):
    return k.wait_for(["get", "svc", name, "-o", "json"],
                      lambda r: ingress(name) == want, timeout=timeout) and ingress(name)


def node_ips():
    r = k.run(["get", "nodes", "-o", "json"])
    out = {}
    for n in json.loads(r.stdout)["items"]:
        for a in n.get("status", {}).get("addresses", []):
            if a["type"] == "InternalIP":
                out[n["metadata"]["name"]] = a["address"]
    return out


hollow = Hollow(srv, 2).start()
ips = node_ips()
both = sorted(ips[n] for n in hollow.names)
t.ok(len(both) == 2, "two hollow nodes with InternalIPs", ips)

k.ok(["create", "-f", "-"], input=svc("lb-a", 80), name="LoadBalancer lb-a (port 80) created")
got = wait_ingress("lb-a", both)
t.ok(got == both, "lb-a's status.loadBalancer.ingress holds both Ready nodes' addresses, sorted",
     "got %s, want %s" % (got, both))
r = k.run(["get", "svc", "lb-a", "-o", "jsonpath={.status.loadBalancer.ingress[0].ipMode}"])
t.ok(r.stdout == "VIP", "ipMode VIP", r.stdout)
r = k.run(["get", "svc", "lb-a"])
t.ok(both[0] in r.stdout, "kubectl get svc shows the EXTERNAL-IP", r.stdout)

k.ok(["create", "-f", "-"], input=svc("lb-other", 81, cls="example.com/other"),
     name="a LoadBalancer of loadBalancerClass example.com/other created")
k.ok(["create", "-f", "-"], input=svc("plain", 82, typ="ClusterIP"), name="a ClusterIP Service created")

# the same port again: pending, with an event
k.ok(["create", "-f", "-"], input=svc("lb-b", 80), name="LoadBalancer lb-b on the same port 80 created")
r = k.wait_for(["get", "events", "--field-selector", "involvedObject.name=lb-b", "-o", "json"],
               lambda r: "PortInUse" in r.stdout)
ev = [e for e in json.loads(r.stdout or '{"items":[]}')["items"] if e.get("reason") == "PortInUse"]
t.ok(len(ev) == 1 and ev[0]["type"] == "Warning" and "80/TCP" in ev[0]["message"]
     and "default/lb-a" in ev[0]["message"],
     "lb-b gets a PortInUse warning naming 80/TCP and default/lb-a", ev)
t.ok(ingress("lb-b") == [], "lb-b stays pending (no ingress)", ingress("lb-b"))
t.ok(ingress("lb-other") == [], "the other class's Service is left alone", ingress("lb-other"))
t.ok(ingress("plain") == [], "the ClusterIP Service gets no ingress", ingress("plain"))

# enablelb on one node: only it serves
h0, h1 = hollow.names
k.ok(["label", "node", h0, LABEL + "=true"], name="node %s labelled %s=true" % (h0, LABEL))
got = wait_ingress("lb-a", [ips[h0]])
t.ok(got == [ips[h0]], "with a labelled node only it serves lb-a", got)

# a node with an ExternalIP, labelled and Ready: its ExternalIP is used
k.ok(["create", "-f", "-"], name="node ext created",
     input=json.dumps({"apiVersion": "v1", "kind": "Node",
                       "metadata": {"name": "ext", "labels": {LABEL: "true"}}}))
status = {"status": {"addresses": [{"type": "InternalIP", "address": "10.99.0.5"},
                                   {"type": "ExternalIP", "address": "203.0.113.5"}],
                     "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                     "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                     "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
k.ok(["patch", "node", "ext", "--subresource=status", "--type=merge", "-p", json.dumps(status)],
     name="node ext's status: Ready, InternalIP 10.99.0.5, ExternalIP 203.0.113.5")
want = sorted([ips[h0], "203.0.113.5"])
got = wait_ingress("lb-a", want)
t.ok(got == want, "node ext joins lb-a's ingress by its ExternalIP", "got %s, want %s" % (got, want))
k.ok(["delete", "node", "ext"], name="node ext deleted")
got = wait_ingress("lb-a", [ips[h0]])
t.ok(got == [ips[h0]], "node ext gone: lb-a's ingress without it", got)

# the port freed: lb-b gets the addresses
k.ok(["delete", "svc", "lb-a"], name="lb-a deleted")
got = wait_ingress("lb-b", [ips[h0]])
t.ok(got == [ips[h0]], "port 80 free again: lb-b gets the serving address", got)
k.ok(["label", "node", h0, LABEL + "-"], name="the label removed")
got = wait_ingress("lb-b", both)
t.ok(got == both, "no node labelled: every Ready node serves lb-b again", got)

# externalTrafficPolicy Local: a health check node port is allocated (kept on update,
# given back when the policy goes back to Cluster); not allowed on other Services
loc = json.loads(svc("lb-local", 90))
loc["spec"]["externalTrafficPolicy"] = "Local"
k.ok(["create", "-f", "-"], input=json.dumps(loc), name="LoadBalancer lb-local (externalTrafficPolicy Local) created")
r = k.run(["get", "svc", "lb-local", "-o", "jsonpath={.spec.healthCheckNodePort}"])
hc = int(r.stdout) if r.stdout.isdigit() else 0
t.ok(30000 <= hc <= 32767, "lb-local gets a healthCheckNodePort in the NodePort range", r.stdout)
k.ok(["label", "svc", "lb-local", "x=y"], name="lb-local updated")
r = k.run(["get", "svc", "lb-local", "-o", "jsonpath={.spec.healthCheckNodePort}"])
t.ok(r.stdout == str(hc), "the update keeps its healthCheckNodePort", r.stdout)
k.ok(["patch", "svc", "lb-local", "--type=merge", "-p", '{"spec":{"externalTrafficPolicy":"Cluster"}}'],
     name="lb-local back to externalTrafficPolicy Cluster")
r = k.run(["get", "svc", "lb-local", "-o", "jsonpath={.spec.healthCheckNodePort}"])
t.ok(r.stdout == "", "its healthCheckNodePort is dropped", r.stdout)
np = json.loads(svc("np-reuse", 91, typ="NodePort"))
np["spec"]["ports"][0]["nodePort"] = hc
k.ok(["create", "-f", "-"], input=json.dumps(np), name="the freed port %d is a NodePort again" % hc)
bad = json.loads(svc("bad-hc", 92, typ="ClusterIP"))
bad["spec"]["healthCheckNodePort"] = 31999
k.fails(["create", "-f", "-"], input=json.dumps(bad), err="may only be set when `type` is 'LoadBalancer'",
        name="healthCheckNodePort on a ClusterIP Service is rejected")

t.ok(hollow.stop_clean(), "the hollow agent exited cleanly", hollow.log_tail())
t.ok(srv.stop_clean(), "the server exited cleanly", srv.log_tail())

# --disable servicelb: no status
srv2 = Server(extra_args=["--disable-agent", "--disable", "servicelb"]).start()
k2 = Kube(t, srv2)
k2.ok(["create", "-f", "-"], input=svc("lb-c", 80), name="with --disable servicelb: lb-c created")
hollow2 = Hollow(srv2, 1).start()
r = k2.wait_for(["get", "svc", "lb-c", "-o", "jsonpath={.status.loadBalancer.ingress}"],
                lambda r: r.stdout not in ("", "[]"), timeout=4)
t.ok(r.returncode == 0 and r.stdout in ("", "[]"),
     "with --disable servicelb lb-c stays without ingress (a Ready node for 4 s)", r.stdout)
t.ok(hollow2.stop_clean(), "the second hollow agent exited cleanly", hollow2.log_tail())
t.ok(srv2.stop_clean(), "the second server exited cleanly", srv2.log_tail())
t.done()
