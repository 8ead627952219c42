#!/usr/bin/env python3
"""Watch history survives a server restart (#18): a python-client watch from
a resourceVersion taken before the restart receives every event after it
(MODIFIED, DELETED, ADDED) instead of 410 Gone, then live events."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from k3ctest import Server, Tap  # noqa: E402

t = Tap()
try:
    from kubernetes import client, config, watch
except ImportError as e:
    print("Bail out! python3-kubernetes is not installed (%s)" % e)
    sys.exit(1)

NS = "default"
srv = Server(extra_args=["--disable-agent"])
try:
    srv.start()
    v1 = client.CoreV1Api(config.new_client_from_config(config_file=srv.kubeconfig))
    cm = lambda name, v: client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"t": "wr"}),
                                            data={"v": v})
    rv = v1.create_namespaced_config_map(NS, cm("a", "1")).metadata.resource_version
    v1.replace_namespaced_config_map("a", NS, cm("a", "2"))
    v1.create_namespaced_config_map(NS, cm("b", "1"))
    v1.delete_namespaced_config_map("b", NS)
    v1.replace_namespaced_config_map("a", NS, cm("a", "3"))
    t.ok(srv.stop_clean(), "server stopped cleanly", srv.log_tail())

    srv.start()
    v1 = client.CoreV1Api(config.new_client_from_config(config_file=srv.kubeconfig))
    got = []
    w = watch.Watch()
    err = None
    try:
        for ev in w.stream(v1.list_namespaced_config_map, NS, label_selector="t=wr",
                           resource_version=rv, timeout_seconds=10):
            got.append((ev["type"], ev["object"].metadata.name, (ev["object"].data or {}).get("v")))
            if len(got) == 4:
                v1.create_namespaced_config_map(NS, cm("c", "1"))
            if len(got) == 5:
                w.stop()
    except Exception as e:  # a 410 ends the stream with an ApiException
        err = e
    want = [("MODIFIED", "a", "2"), ("ADDED", "b", "1"), ("DELETED", "b", "1"),
            ("MODIFIED", "a", "3"), ("ADDED", "c", "1")]
    t.ok(err is None, "watch from before the restart is not refused", repr(err))
    t.ok(got == want, "every event after the resourceVersion, then a live one", repr(got))
    t.ok(srv.stop_clean(), "restarted server exited cleanly", srv.log_tail())
finally:
    srv.cleanup()
t.done()
