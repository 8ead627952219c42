"""kubectl helpers for the k3c integration tests (python3 standard library only).

    from k3ctest import Tap, Server
    from kube import Kube

    t = Tap()
    k = Kube(t, Server().start())
    k.ok("create namespace dev", out="namespace/dev created")
    k.fails("get cm nope", err='Error from server (NotFound): configmaps "nope" not found')
    k.finish()

Kube.run() runs /usr/bin/kubectl with the server's admin kubeconfig, a HOME and
KUBECACHEDIR inside the test's temp dir (so no discovery cache leaks between runs)
and never --validate=false. ok()/fails() run one command and record one TAP line
that checks the exit status and the wanted text, with the output as diagnosis.
"""
import base64
import os
import shlex
import subprocess
import time

KUBECTL = "/usr/bin/kubectl"


class Kube:
    def __init__(self, tap, srv):
        self.t = tap
        self.srv = srv
        self.home = os.path.join(srv.tmp, "home")
        os.makedirs(self.home, exist_ok=True)

    def env(self, extra=None):
        env = dict(os.environ, HOME=self.home, KUBECONFIG=self.srv.kubeconfig,
                   KUBECACHEDIR=os.path.join(self.home, "cache"))
        env.pop("KUBECTL_EXTERNAL_DIFF", None)
        if extra:
            env.update(extra)
        return env

    def argv(self, args):
        if isinstance(args, str):
            args = shlex.split(args)
        args = list(args)
        if "--kubeconfig" in args:
            return [KUBECTL] + args
        return [KUBECTL, "--kubeconfig", self.srv.kubeconfig] + args

    def run(self, args, input=None, env=None, timeout=120):
        """One kubectl run: CompletedProcess with text stdout/stderr."""
        return subprocess.run(self.argv(args), input=input, capture_output=True, text=True,
                              timeout=timeout, env=self.env(env))

    def popen(self, args, env=None):
        """A long-running kubectl (get -w): stdout is a pipe, line buffered text."""
        return subprocess.Popen(self.argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, bufsize=1, env=self.env(env))

    @staticmethod
    def diag(args, r):
        return "$ kubectl %s\nexit %s\n--- stdout\n%s--- stderr\n%s" % (
            args if isinstance(args, str) else " ".join(args), r.returncode, r.stdout, r.stderr)

    def ok(self, args, out=None, name=None, input=None, env=None, check=None):
        """Run; one TAP line: exit 0, stdout contains out (str or list of str), and
        check(stdout) is true when given. Returns the CompletedProcess."""
        r = self.run(args, input=input, env=env)
        wanted = [] if out is None else ([out] if isinstance(out, str) else list(out))
        good = r.returncode == 0 and all(w in r.stdout for w in wanted)
        if good and check is not None:
            good = bool(check(r.stdout))
        self.t.ok(good, name or ("kubectl " + (args if isinstance(args, str) else " ".join(args))),
                  self.diag(args, r))
        return r

    def fails(self, args, err=None, name=None, input=None, env=None):
        """Run; one TAP line: non-zero exit and stderr contains err (str or list)."""
        r = self.run(args, input=input, env=env)
        wanted = [] if err is None else ([err] if isinstance(err, str) else list(err))
        good = r.returncode != 0 and all(w in r.stderr for w in wanted)
        self.t.ok(good, name or ("kubectl " + (args if isinstance(args, str) else " ".join(args))
                                 + " fails"), self.diag(args, r))
        return r

    def write(self, name, text):
        """Write a manifest into the test's temp dir; returns its path."""
        path = os.path.join(self.srv.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def wait_for(self, args, cond, timeout=20):
        """Poll kubectl until cond(CompletedProcess) is true; returns the last result."""
        deadline = time.time() + timeout
        while True:
            r = self.run(args)
            if cond(r) or time.time() > deadline:
                return r
            time.sleep(0.3)

    def finish(self):
        """Stop the server, check it exited cleanly, clean up and print the plan."""
        self.t.ok(self.srv.stop_clean(), "server exited cleanly", self.srv.log_tail())
        self.srv.cleanup()
        self.t.done()


def header(stdout):
    """The first line of kubectl table output, split into column names."""
    lines = stdout.splitlines()
    return lines[0].split() if lines else []


def rows(stdout):
    """Table rows after the header as lists of cells (split on whitespace)."""
    return [l.split() for l in stdout.splitlines()[1:] if l.strip()]


def token_kubeconfig(srv, path, token=None):
    """Write a kubeconfig for srv that trusts its CA and authenticates with token
    (no client certificate; no credentials at all when token is None)."""
    with open(srv.ca_file, "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    user = "    token: %s\n" % token if token else "    {}\n"
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                "    server: %s\n    certificate-authority-data: %s\n"
                "users:\n- name: u\n  user:\n%s"
                "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                "current-context: x\n" % (srv.url, ca, user))
    return path
