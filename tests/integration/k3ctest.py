"""Helpers for k3c integration tests (python3 standard library only).

    from k3ctest import Tap, Server

    t = Tap()
    srv = Server()                 # temp data dir, free port, kubeconfig in the temp dir
    srv.start()                    # runs $K3C_BIN server ..., waits until /readyz answers
    status, headers, body = srv.request("GET", "/version")
    t.ok(status == 200, "version answers", body)
    t.ok("Server Version" in srv.kubectl("version").stdout, "kubectl version")
    t.ok(srv.stop_clean(), "server exited cleanly", srv.log_tail())
    t.done()                       # prints the plan, exits 0 only if every test passed

Server(extra_args=[...], data_dir=None, tmp=None): extra flags for `k3c server`;
reuse data_dir/tmp to restart a server on the same state. Attributes: port, url,
data_dir, tmp, kubeconfig, ca_file, cert_file, key_file (written from the
kubeconfig after start), proc, log_path.
srv.ssl_context(client_cert=True) gives an SSLContext trusting the cluster CA.
srv.connect(client_cert=True) gives an http.client.HTTPSConnection.
srv.stop() sends SIGTERM and returns the exit status; srv.stop_clean() also
checks the log for sanitizer reports (leaks count as failure).

Hollow(srv, n, extra_args=[...]).start() runs `k3c agent --hollow n` with the
server's admin kubeconfig (nodes hollow-0..n-1 by default) and waits until the
nodes are Ready; stop()/stop_clean() end it by its pid as for the server.

ReviewServer(tmp, answer) is an HTTPS server for admission and conversion
webhooks: answer(path, review, full_path) returns the JSON object to send back.
"""
import atexit
import base64
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


class Tap:
    """TAP output: ok(cond, name, diag) prints "ok N - name" or "not ok N - name"."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name), flush=True)
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name), flush=True)
            if diag is not None:
                for line in str(diag).splitlines()[-30:]:
                    print("#   " + line, flush=True)
        return bool(cond)

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason), flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReviewServer:
    """An HTTPS server on 127.0.0.1 answering POSTed JSON reviews, as
    admission and conversion webhooks do: answer(path, review, full_path)
    returns the object to send back as JSON with 200 (path is without the
    query). It runs on threads of its own, one per request, listening on
    host. Its certificate is self-signed for 127.0.0.1 and dns_names, kept
    in tmp as NAME.crt and NAME.key (a second server of the same tmp and
    name reuses it); ca_b64 is it in base64, for a caBundle."""

    def __init__(self, tmp, answer, dns_names=(), name="hook", host="127.0.0.1"):
        self.cert, self.key = os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")
        sans = ",".join(["DNS:" + d for d in dns_names] + ["IP:127.0.0.1"])
        if not os.path.exists(self.cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "1", "-keyout", self.key, "-out", self.cert, "-subj",
                            "/CN=" + name, "-addext", "subjectAltName=" + sans], check=True, capture_output=True)
        with open(self.cert, "rb") as f:
            self.ca_b64 = base64.b64encode(f.read()).decode()
        self.port = free_port()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                body = json.dumps(answer(self.path.split("?")[0], review, self.path)).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the API server gave up (a slow webhook)

        self.host = host
        self.httpd = http.server.ThreadingHTTPServer((host, self.port), H)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "https://%s:%d%s" % (self.host, self.port, path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def k3c_bin():
    b = os.environ.get("K3C_BIN")
    if not b:
        sys.exit("K3C_BIN is not set (run through scripts/test.sh)")
    return b


def wait_until(cond, timeout=20, step=0.2):
    """cond() until it is truthy or timeout seconds pass; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def join_agent(srv, prefix, data, token=None, extra=(), server=None):
    """Start `k3c agent --hollow 1` (node <prefix>-0) joining srv with token, its data dir
    <srv.tmp>/<data>; returns (Popen, log path). The caller ends it."""
    log = os.path.join(srv.tmp, "agent-%s-%d.log" % (prefix, int(time.time() * 1000)))
    args = [k3c_bin(), "agent", "--config", "/dev/null", "--hollow", "1", "--hollow-prefix",
            prefix + "-", "--data-dir", os.path.join(srv.tmp, data),
            "--server", server or srv.url] + (["--token", token] if token else []) + list(extra)
    with open(log, "w") as f:
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
    return p, log


def node_kubeconfig(srv, agent_dir, path):
    """A kubeconfig at path with the node credentials a joined agent saved in agent_dir
    (<data-dir>/agent); returns path."""
    with open(path, "w") as f:
        f.write("""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "%s", certificate-authority: "%s/server-ca.crt"}
users:
- name: u
  user: {client-certificate: "%s/client-kubelet.crt", client-key: "%s/client-kubelet.key"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
""" % (srv.url, agent_dir, agent_dir, agent_dir))
    return path


def log_excerpt(text, n=40):
    """The last n lines of a log; with a sanitizer report in it, the report's
    first 60 lines instead (its stacks, not the shadow-byte map at its end)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKS):
            return "\n".join(lines[max(0, i - 2):i + 60])
    return "\n".join(lines[-n:])


def _kill_at_exit(proc):
    """A test that dies on an exception must not leave its k3c processes behind."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class Server:
    def __init__(self, extra_args=(), data_dir=None, tmp=None, port=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="k3c-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port = port or free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig.yaml")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = None
        self.ca_file = os.path.join(self.tmp, "ca.crt")
        self.cert_file = os.path.join(self.tmp, "admin.crt")
        self.key_file = os.path.join(self.tmp, "admin.key")

    def start(self, timeout=60):
        """Start the server and wait until GET /readyz answers 200 over TLS."""
        self.log_path = os.path.join(self.tmp, "server-%d.log" % int(time.time() * 1000))
        args = [k3c_bin(), "server", "--config", "/dev/null", "--data-dir", self.data_dir,
                "--https-listen-port", str(self.port), "--bind-address", "127.0.0.1",
                "--write-kubeconfig", self.kubeconfig] + self.extra_args
        # Integration tests drive the control plane; the node agent (root,
        # containerd) is for tests/e2e, which start it themselves.
        if "--disable-agent" not in args:
            args.append("--disable-agent")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        atexit.register(_kill_at_exit, self.proc)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("k3c server exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.kubeconfig):
                try:
                    self._extract_kubeconfig()
                    status, _, _ = self.request("GET", "/readyz", client_cert=False, timeout=5)
                    if status == 200:
                        return self
                except (OSError, ValueError, http.client.HTTPException) as e:
                    last = e
            time.sleep(0.1)
        raise RuntimeError("k3c server not ready after %ss (%s):\n%s" % (timeout, last, self.log_tail()))

    def _extract_kubeconfig(self):
        fields = {}
        with open(self.kubeconfig) as f:
            for line in f:
                line = line.strip()
                for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
                    if line.startswith(key + ":"):
                        fields[key] = base64.b64decode(line.split(":", 1)[1].strip())
        if len(fields) != 3:
            raise ValueError("kubeconfig incomplete")
        for key, path in (("certificate-authority-data", self.ca_file),
                          ("client-certificate-data", self.cert_file),
                          ("client-key-data", self.key_file)):
            with open(path, "wb") as f:
                f.write(fields[key])
        os.chmod(self.key_file, 0o600)

    def ssl_context(self, client_cert=True):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if client_cert:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def connect(self, client_cert=True, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ssl_context(client_cert))

    def request(self, method, path, body=None, headers=None, client_cert=True, timeout=30):
        """One request on a fresh connection: (status, headers dict lower-cased, body bytes)."""
        c = self.connect(client_cert, timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def kubectl(self, *args, timeout=120):
        """Run kubectl with the generated kubeconfig; returns CompletedProcess (text)."""
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.tmp)
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig] + list(args),
                              capture_output=True, text=True, timeout=timeout, env=env)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode

    def stop_clean(self, timeout=30):
        """Stop, then True when the exit status is 0 and the log has no sanitizer report."""
        rc = self.stop(timeout)
        log = self.log_text()
        return rc == 0 and not any(m in log for m in SANITIZER_MARKS)

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, n=40):
        return log_excerpt(self.log_text(), n)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Hollow:
    """`k3c agent --hollow N` against srv, with srv's admin kubeconfig."""

    def __init__(self, srv, n, extra_args=(), prefix="hollow-"):
        self.srv = srv
        self.n = n
        self.prefix = prefix
        self.names = ["%s%d" % (prefix, i) for i in range(n)]
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = None

    def start(self, timeout=60, wait_ready=True):
        self.log_path = os.path.join(self.srv.tmp, "hollow-%d.log" % int(time.time() * 1000))
        args = [k3c_bin(), "agent", "--config", "/dev/null", "--hollow", str(self.n),
                "--hollow-prefix", self.prefix, "--kubeconfig", self.srv.kubeconfig] + self.extra_args
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        atexit.register(_kill_at_exit, self.proc)
        if not wait_ready:
            return self
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("k3c agent --hollow exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            r = self.srv.kubectl("get", "nodes", "-o",
                                 "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}")
            ready = {l.split("=")[0] for l in r.stdout.split() if l.endswith("=True")}
            if all(name in ready for name in self.names):
                return self
            time.sleep(0.2)
        raise RuntimeError("hollow nodes not Ready after %ss:\n%s" % (timeout, self.log_tail()))

    def stop(self, timeout=30):
        """SIGTERM by pid and wait; returns the exit status (None if it had to be killed)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode

    def stop_clean(self, timeout=30):
        rc = self.stop(timeout)
        log = self.log_text()
        return rc == 0 and not any(m in log for m in SANITIZER_MARKS)

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, n=40):
        return log_excerpt(self.log_text(), n)
