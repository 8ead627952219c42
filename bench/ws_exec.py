#!/usr/bin/python3
"""k3c's part of an exec round trip, for bench/stream.sh: a minimal
WebSocket exec client (raw socket, Python's ssl, no client library), so
that almost all the time measured is the API server, the kubelet,
containerd and runc, not the client.

One exec of COMMAND in POD's only container per run, as kubectl 1.32
does it without stdin: a new TLS connection to the API server with the
kubeconfig's client certificate, GET .../pods/POD/exec?command=...&stdout=
true&stderr=true upgraded to WebSocket with PROTOCOL (default
v5.channel.k8s.io, kubectl's), then frames until the exit status on the
error channel (3) and the server's close. Times (ms, from before the TCP
connect): TLS handshake done, 101 received, exit status received, close.

    ws_exec.py KUBECONFIG POD N [COMMAND...]      (COMMAND default: true)

Prints one line:
    ws_exec protocol=P n=N p50_ms=... p90_ms=... tls_p50_ms=... up101_p50_ms=...
    status_p50_ms=...
where tls/up101/status are the p50 of each phase alone (handshake; request
to 101; 101 to the exit status). The first run is not counted (it warms
the client). Should PROTOCOL be refused (a k3c before v5 was relayed), v4
is used instead and named in the line. Exits 1 if any exec did not report Success."""
import base64
import os
import socket
import ssl
import struct
import sys
import tempfile
import time
import urllib.parse

import yaml


def load(path):
    kc = yaml.safe_load(open(path))
    ctx_name = kc.get("current-context")
    ctx = next(c["context"] for c in kc["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in kc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in kc["users"] if u["name"] == ctx["user"])
    d = tempfile.mkdtemp()
    paths = []
    for key, name in (("client-certificate-data", "c.pem"), ("client-key-data", "k.pem")):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(base64.b64decode(user[key]))
        paths.append(p)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE  # the CA check costs the client, not k3c
    tls.load_cert_chain(*paths)
    for p in paths:
        os.unlink(p)
    os.rmdir(d)
    u = urllib.parse.urlsplit(cluster["server"])
    return tls, u.hostname, u.port or 443


def frame_len(buf):
    """(header length, payload length) of the frame starting buf, or None
    while its header is incomplete."""
    if len(buf) < 2:
        return None
    n = buf[1] & 127
    if n < 126:
        return 2, n
    if n == 126:
        return (4, struct.unpack(">H", buf[2:4])[0]) if len(buf) >= 4 else None
    return (10, struct.unpack(">Q", buf[2:10])[0]) if len(buf) >= 10 else None


def frames(sock, buf):
    """Yield (opcode, payload) of the server's (unmasked) frames."""
    while True:
        fl = frame_len(buf)
        while fl is None or len(buf) < fl[0] + fl[1]:
            b = sock.recv(65536)
            if not b:
                return
            buf += b
            fl = frame_len(buf)
        off, n = fl
        yield buf[0] & 15, buf[off:off + n]
        buf = buf[off + n:]


class Refused(Exception):
    pass


def one(tls, host, port, pod, cmd, proto):
    t0 = time.perf_counter()
    raw = socket.create_connection((host, port), timeout=20)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = tls.wrap_socket(raw)
    t_tls = time.perf_counter()
    q = "&".join("command=" + urllib.parse.quote(c, safe="") for c in cmd)
    s.sendall(("GET /api/v1/namespaces/default/pods/%s/exec?%s&stdout=true&stderr=true HTTP/1.1\r\n"
               "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: %s\r\n\r\n"
               % (pod, q, host, port, base64.b64encode(os.urandom(16)).decode(), proto)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            sys.exit("ws_exec: connection closed before the 101: %r" % buf[:300])
        buf += b
    head, buf = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise Refused(head[:300])
    t_up = time.perf_counter()
    status, t_status = None, None
    for op, payload in frames(s, buf):
        if op == 8:  # close
            break
        if op == 2 and payload[:1] == b"\x03":
            status, t_status = payload[1:], time.perf_counter()
    t_end = time.perf_counter()
    s.close()
    if status is None or b'"Success"' not in status:
        sys.exit("ws_exec: exit status %r" % status)
    ms = lambda a, b: (b - a) * 1000
    return ms(t0, t_end), ms(t0, t_tls), ms(t_tls, t_up), ms(t_up, t_status)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tls, host, port = load(sys.argv[1])
    pod, n = sys.argv[2], int(sys.argv[3])
    cmd = sys.argv[4:] or ["true"]
    proto = os.environ.get("WS_EXEC_PROTOCOL", "v5.channel.k8s.io")
    try:
        one(tls, host, port, pod, cmd, proto)
    except Refused as e:
        if proto == "v4.channel.k8s.io":
            sys.exit("ws_exec: no upgrade: %r" % e.args[0])
        proto = "v4.channel.k8s.io"  # a k3c that refuses v5: the same path as v4
        one(tls, host, port, pod, cmd, proto)
    runs = [one(tls, host, port, pod, cmd, proto) for _ in range(n)]

    def p(i, q):
        v = sorted(r[i] for r in runs)
        return v[min(len(v) - 1, int(q * len(v)))]
    print("ws_exec protocol=%s n=%d p50_ms=%.1f p90_ms=%.1f tls_p50_ms=%.1f up101_p50_ms=%.1f status_p50_ms=%.1f"
          % (proto, n, p(0, 0.5), p(0, 0.9), p(1, 0.5), p(2, 0.5), p(3, 0.5)))


main()
