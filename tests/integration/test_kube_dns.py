"""The kube-system/kube-dns Service a k3c server keeps for the cluster DNS (issue #14; the
DNS itself runs in each agent: tests/unit/net/test_dns.c, tests/e2e/test_dns.sh): ClusterIP
--cluster-dns, k3s's ports and labels, no selector (so no endpoints), annotated
k3c.io/node-local; re-created when deleted; another --cluster-dns moves it; --disable coredns
(k3s's spelling, also comma-separated) and --cluster-dns "" make none; an unknown --disable
name is refused with a clear message."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap, k3c_bin  # noqa: E402

t = Tap()


def get_dns(srv):
    r = srv.kubectl("-n", "kube-system", "get", "service", "kube-dns", "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_dns(srv, present, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (get_dns(srv) is not None) == present:
            return True
        time.sleep(0.5)
    return False


srv = Server().start()
try:
    t.ok(wait_dns(srv, True, 10), "kube-system/kube-dns exists after start", srv.log_tail())
    svc = get_dns(srv) or {}
    spec, meta = svc.get("spec", {}), svc.get("metadata", {})
    t.ok(spec.get("clusterIP") == "10.43.0.10" and spec.get("type") == "ClusterIP",
         "its ClusterIP is --cluster-dns 10.43.0.10", spec)
    ports = [(p.get("name"), p.get("port"), p.get("protocol")) for p in spec.get("ports", [])]
    t.ok(ports == [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")],
         "ports dns 53/UDP, dns-tcp 53/TCP, metrics 9153/TCP as k3s's manifest", ports)
    labels = meta.get("labels", {})
    t.ok(labels.get("k8s-app") == "kube-dns" and labels.get("kubernetes.io/name") == "k3c-dns",
         "labels k8s-app=kube-dns, kubernetes.io/name=k3c-dns", labels)
    t.ok("selector" not in spec, "no selector: no pod serves it", spec)
    t.ok(meta.get("annotations", {}).get("k3c.io/node-local") == "true",
         "annotated k3c.io/node-local: \"true\" (the service proxy leaves it alone)", meta)
    time.sleep(2)
    r = srv.kubectl("-n", "kube-system", "get", "endpointslices", "-l",
                    "kubernetes.io/service-name=kube-dns", "-o", "name")
    t.ok(r.returncode == 0 and r.stdout.strip() == "", "it has no EndpointSlices", r)
    r = srv.kubectl("-n", "kube-system", "delete", "service", "kube-dns")
    t.ok(r.returncode == 0, "kubectl delete service kube-dns", r.stderr)
    t.ok(wait_dns(srv, True, 25), "... and the server makes it again within 25 s")
    svc = get_dns(srv) or {}
    t.ok(svc.get("spec", {}).get("clusterIP") == "10.43.0.10", "... with the same ClusterIP",
         svc.get("spec"))
finally:
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    srv.cleanup()

for args, what in ((["--disable", "coredns"], "--disable coredns"),
                   (["--disable=traefik,coredns"], "--disable=traefik,coredns"),
                   (["--cluster-dns="], "--cluster-dns \"\"")):
    srv = Server(extra_args=args).start()
    try:
        time.sleep(2)
        t.ok(get_dns(srv) is None and srv.kubectl("get", "ns", "kube-system").returncode == 0,
             "%s: no kube-dns Service" % what, get_dns(srv))
    finally:
        t.ok(srv.stop_clean(), "%s: server exited cleanly" % what, srv.log_tail())
        srv.cleanup()

srv = Server(extra_args=["--cluster-dns", "10.43.0.53"]).start()
try:
    t.ok(wait_dns(srv, True, 10) and get_dns(srv)["spec"]["clusterIP"] == "10.43.0.53",
         "--cluster-dns 10.43.0.53: kube-dns has that ClusterIP", get_dns(srv))
finally:
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    srv.cleanup()

r = subprocess.run([k3c_bin(), "server", "--config", "/dev/null", "--disable-agent", "--disable",
                    "kube-dns"], capture_output=True, text=True, timeout=30)
t.ok(r.returncode != 0 and 'invalid value "kube-dns" for disable: expected coredns' in r.stderr,
     "--disable kube-dns is refused, naming what is accepted", (r.returncode, r.stderr))
t.done()
