/* The kubelet API's /run endpoint: run a command in a container and
 * answer its output, as upstream's kubelet server getRun / RunInContainer
 * (ExecSync without a timeout). */
#include "agent/kubeletrun.h"

#include "agent/podspec.h"
#include "cri/cri.h"
#include "util/alloc.h"
#include "util/buf.h"

#include "json/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  http_req_t *req; /* NULL once the client left */
  char *cmdline;   /* for the error text */
} run_t;

static void on_gone(http_req_t *r, void *data) {
  run_t *p = data;
  p->req = NULL;
  http_respond(r, 500, NULL, "", 0); /* gone: only frees it */
}

static void run_done(void *data, const cri_status_t *st, const cri_exec_result_t *res) {
  run_t *p = data;
  http_req_t *r = p->req;
  if (r) {
    http_req_on_close(r, NULL, NULL);
    if (st->code != CRI_OK) {
      http_respond_textf(r, 500, "rpc error: code = %s desc = %s", cri_code_name(st->code), st->message);
    } else if (res->exit_code != 0) {
      buf_t b;
      buf_init(&b, 64 << 10);
      buf_printf(&b, "command '%s' exited with %d: ", p->cmdline, (int)res->exit_code);
      buf_append(&b, (const char *)res->stderr_, res->stderr_len);
      size_t len;
      char *text = buf_steal(&b, &len);
      http_respond_take(r, 500, "text/plain; charset=utf-8", text, len);
    } else {
      size_t len = res->stdout_len + res->stderr_len;
      char *out = xmalloc(len + 1);
      if (res->stdout_len)
        memcpy(out, res->stdout_, res->stdout_len);
      if (res->stderr_len)
        memcpy(out + res->stdout_len, res->stderr_, res->stderr_len);
      http_respond_take(r, 200, "application/json", out, len);
    }
  }
  free(p->cmdline);
  free(p);
}

bool agent__kubelet_run(agent_kubelet_t *k, http_req_t *r) {
  const char *path = http_req_path(r);
  if (strncmp(path, "/run/", 5))
    return false;
  if (strcmp(http_req_method(r), "POST")) {
    http_respond_textf(r, 405, "Method Not Allowed");
    return true;
  }
  /* {ns}/{pod}/{container} or {ns}/{pod}/{uid}/{container} */
  char parts[4][254];
  int n = 0;
  for (const char *p = path + 5; *p && n < 5;) {
    const char *e = strchr(p, '/');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (!l || l >= sizeof(parts[0]) || n == 4) {
      n = 5;
      break;
    }
    memcpy(parts[n], p, l);
    parts[n++][l] = '\0';
    p += l + (e ? 1 : 0);
  }
  if (n != 3 && n != 4) {
    http_respond_textf(r, 404, "404 page not found");
    return true;
  }
  const char *ns = parts[0], *podname = parts[1], *cname = parts[n - 1];
  cri_client_t *cri = k ? agent_kubelet_cri(k) : NULL;
  if (!cri) {
    http_respond_textf(r, 503, "the kubelet is not running pods yet");
    return true;
  }
  const cJSON *pod = agent_kubelet_pod(k, ns, podname);
  if (!pod) {
    http_respond_textf(r, 404, "pod does not exist");
    return true;
  }
  const char *uid = json_str(pod, "metadata.uid");
  const cJSON *cs = agent_podspec_container_status(pod, cname);
  const char *cid = json_str(cs, "containerID");
  const char *sep = cid ? strstr(cid, "://") : NULL;
  if ((n == 4 && (!uid || strcmp(uid, parts[2]))) || !cs || !json_get_path(cs, "state.running") ||
      !sep || !sep[3]) {
    http_respond_textf(r, 500, "container not found (\"%s\")", cname);
    return true;
  }
  /* upstream: strings.Split(cmd, " "), empty pieces kept */
  const char *cmd = http_req_query(r, "cmd");
  char *line = xstrdup(cmd ? cmd : "");
  size_t argc = 1;
  for (const char *c = line; *c; c++)
    argc += *c == ' ';
  const char **argv = xcalloc(argc + 1, sizeof(*argv));
  char *copy = xstrdup(line), *s = copy;
  for (size_t i = 0; i < argc; i++) {
    argv[i] = s;
    char *sp = strchr(s, ' ');
    if (sp) {
      *sp = '\0';
      s = sp + 1;
    }
  }
  run_t *p = xcalloc(1, sizeof(*p));
  p->req = r;
  p->cmdline = line;
  int e = cri_exec_sync(cri, sep + 3, (cri_strv_t){argv, argc}, 0, run_done, p);
  free(argv);
  free(copy);
  if (e < 0) {
    free(p->cmdline);
    free(p);
    http_respond_textf(r, 500, "cannot ask the container runtime: %s", strerror(-e));
    return true;
  }
  http_req_on_close(r, on_gone, p);
  return true;
}
