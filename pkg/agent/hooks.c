/* Lifecycle handlers, as upstream's pkg/kubelet/lifecycle/handlers.go runs
 * them: exec through the runtime, httpGet as a plain GET whose answer is
 * read and discarded (any status passes; only a failed request fails), sleep.
 * https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/ */
#include "agent/hooks.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "util/goerr.h"

#include "json/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_TIMEOUT_DEFAULT 60.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Go's fmt of a string slice: [a b c] */
static void argv_text(const cJSON *cmd, buf_t *b) {
  buf_append_str(b, "[");
  const cJSON *a;
  bool first = true;
  cJSON_ArrayForEach(a, cmd) {
    if (!first)
      buf_append_str(b, " ");
    buf_append_str(b, cJSON_IsString(a) ? a->valuestring : "");
    first = false;
  }
  buf_append_str(b, "]");
}

/* Go's %q, enough for command output: quotes, backslashes, control bytes. */
static void quoted(const char *s, buf_t *b) {
  buf_append_str(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      buf_printf(b, "\\%c", *p);
    else if (*p == '\n')
      buf_append_str(b, "\\n");
    else if (*p == '\t')
      buf_append_str(b, "\\t");
    else if (*p < 0x20 || *p == 0x7f)
      buf_printf(b, "\\x%02x", *p);
    else
      buf_append(b, (const char *)p, 1);
  }
  buf_append_str(b, "\"");
}

static int run_exec(const agent_hook_ctx_t *x, const cJSON *exec, char *msg, size_t msglen) {
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(exec, "command");
  int n = cJSON_GetArraySize(cmd);
  const char *cname = json_str(x->container, "name");
  buf_t b;
  buf_init(&b, 8 << 10);
  const char **argv = xcalloc((size_t)(n > 0 ? n : 1) + 1, sizeof(*argv));
  char cmdline[1024] = "";
  size_t used = 0;
  int i = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, cmd) {
    argv[i] = cJSON_IsString(a) ? a->valuestring : "";
    int w = snprintf(cmdline + used, sizeof(cmdline) - used, "%s%s", i ? " " : "", argv[i]);
    if (w > 0 && used + (size_t)w < sizeof(cmdline))
      used += (size_t)w;
    i++;
  }
  char out[4096], err[512] = "";
  int32_t code = 0;
  int r = n > 0 ? agent_rt_exec_sync(x->rt, x->cid, argv, (size_t)n,
                                     x->timeout > 0 ? (int64_t)(x->timeout + 0.999) : 0, &code, out,
                                     sizeof(out), err, sizeof(err))
                : -EINVAL;
  free(argv);
  if (r == 0 && code == 0) {
    buf_done(&b);
    return 0;
  }
  buf_append_str(&b, "Exec lifecycle hook (");
  argv_text(cmd, &b);
  buf_printf(&b, ") for Container \"%s\" in Pod \"%s\" failed - error: ", cname ? cname : "",
             x->pod_ref);
  if (n <= 0)
    buf_append_str(&b, "the exec hook has no command");
  else if (r < 0)
    buf_append_str(&b, err);
  else
    buf_printf(&b, "command '%s' exited with %d: ", cmdline, (int)code);
  buf_append_str(&b, ", message: ");
  quoted(r == 0 ? out : "", &b);
  snprintf(msg, msglen, "%s", b.data ? b.data : "");
  buf_done(&b);
  return r < 0 ? r : -EIO;
}

static int port_of(const agent_hook_ctx_t *x, const cJSON *port) {
  if (cJSON_IsNumber(port))
    return (int)port->valuedouble;
  if (!cJSON_IsString(port))
    return -1;
  const char *s = port->valuestring;
  char *e;
  long v = strtol(s, &e, 10);
  if (*s && !*e)
    return (int)v;
  const cJSON *cp;
  cJSON_ArrayForEach(cp, cJSON_GetObjectItemCaseSensitive(x->container, "ports")) {
    const char *name = json_str(cp, "name");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(cp, "containerPort");
    if (name && !strcmp(name, s) && cJSON_IsNumber(num))
      return (int)num->valuedouble;
  }
  return -1;
}

/* Wait for fd to be ready for ev until deadline: 0, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short ev, double deadline) {
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0)
      return -ETIMEDOUT;
    struct pollfd p = {.fd = fd, .events = ev};
    int n = poll(&p, 1, (int)(left * 1000) + 1);
    if (n > 0)
      return 0;
    if (n < 0 && errno != EINTR)
      return -errno;
  }
}

/* GET url's answer read to its end: 0 or -errno with a Go-like reason. */
static int http_get(const char *host, int port, const char *path, const cJSON *headers,
                    double timeout, char *why, size_t whylen) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t sl;
  bool v6 = strchr(host, ':') != NULL;
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
      goto badhost;
    sl = sizeof(*a);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
      goto badhost;
    sl = sizeof(*a);
  }
  double deadline = now_s() + (timeout > 0 ? timeout : HTTP_TIMEOUT_DEFAULT);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, whylen, "socket: %s", strerror(errno));
    return -errno;
  }
  int r = 0;
  buf_t req;
  buf_init(&req, 64 << 10);
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
    if (errno != EINPROGRESS) {
      r = -errno;
    } else if ((r = wait_fd(fd, POLLOUT, deadline)) == 0) {
      int soerr = 0;
      socklen_t el = sizeof(soerr);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
      r = -soerr;
    }
  }
  if (r < 0) {
    goerr_dial_msg(why, whylen, host, port, r);
    goto out;
  }
  buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: kube-lifecycle/1.32\r\n",
             path, v6 ? "[" : "", host, v6 ? "]" : "", port);
  const cJSON *h;
  cJSON_ArrayForEach(h, headers) {
    const char *n = json_str(h, "name"), *v = json_str(h, "value");
    if (n && v && !strpbrk(n, "\r\n:") && !strpbrk(v, "\r\n"))
      buf_printf(&req, "%s: %s\r\n", n, v);
  }
  buf_append_str(&req, "Connection: close\r\n\r\n");
  for (size_t off = 0; off < req.len;) {
    ssize_t w = write(fd, req.data + off, req.len - off);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EAGAIN && (r = wait_fd(fd, POLLOUT, deadline)) == 0)
      continue;
    r = r ? r : -errno;
    snprintf(why, whylen, "write: %s", strerror(-r));
    goto out;
  }
  /* read (and drop) the answer to its end: the hook's work may be done
   * while the handler still answers */
  char chunk[4096], first[8] = "";
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n > 0) {
      if (got < sizeof(first))
        memcpy(first + got, chunk,
               (size_t)n < sizeof(first) - got ? (size_t)n : sizeof(first) - got);
      got += (size_t)n;
      continue;
    }
    if (n == 0)
      break;
    if (errno == EAGAIN && (r = wait_fd(fd, POLLIN, deadline)) == 0)
      continue;
    r = r ? r : -errno;
    snprintf(why, whylen, "%s",
             r == -ETIMEDOUT ? "context deadline exceeded (Client.Timeout "
                               "exceeded while awaiting headers)"
                             : strerror(-r));
    goto out;
  }
  if (got < 12 || strncmp(first, "HTTP/1.", 7)) {
    r = -EPROTO;
    snprintf(why, whylen, "malformed HTTP response");
  }
out:
  buf_done(&req);
  close(fd);
  return r;
badhost:
  snprintf(why, whylen, "dial tcp: lookup %s: no such host", host);
  return -EINVAL;
}

static int run_http(const agent_hook_ctx_t *x, const cJSON *get, char *msg, size_t msglen) {
  const char *path = json_str(get, "path");
  const char *host = json_str(get, "host");
  const char *cname = json_str(x->container, "name");
  if (!host || !host[0])
    host = x->pod_ip;
  int port = port_of(x, cJSON_GetObjectItemCaseSensitive(get, "port"));
  char why[512] = "";
  int r;
  char p[2048];
  snprintf(p, sizeof(p), "%s%s", path && path[0] == '/' ? "" : "/", path ? path : "");
  if (!host || !host[0]) {
    r = -EINVAL;
    snprintf(why, sizeof(why), "the pod has no IP address yet");
  } else if (port < 1 || port > 65535) {
    r = -EINVAL;
    snprintf(why, sizeof(why), "invalid port");
  } else {
    r = http_get(host, port, p, cJSON_GetObjectItemCaseSensitive(get, "httpHeaders"), x->timeout,
                 why, sizeof(why));
  }
  if (r == 0)
    return 0;
  bool v6 = host && strchr(host, ':');
  snprintf(msg, msglen,
           "HTTP lifecycle hook (%s) for Container \"%s\" in Pod \"%s\" failed - error: Get "
           "\"http://%s%s%s:%d%s\": %s",
           path ? path : "", cname ? cname : "", x->pod_ref, v6 ? "[" : "", host ? host : "",
           v6 ? "]" : "", port, p, why);
  return r;
}

int agent_hook_run(const agent_hook_ctx_t *x, const cJSON *handler, char *msg, size_t msglen) {
  const cJSON *exec = cJSON_GetObjectItemCaseSensitive(handler, "exec");
  const cJSON *get = cJSON_GetObjectItemCaseSensitive(handler, "httpGet");
  const cJSON *sl = cJSON_GetObjectItemCaseSensitive(handler, "sleep");
  if (exec)
    return run_exec(x, exec, msg, msglen);
  if (get)
    return run_http(x, get, msg, msglen);
  if (sl) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(sl, "seconds");
    double secs = cJSON_IsNumber(s) ? s->valuedouble : 0;
    if (x->timeout > 0 && secs > x->timeout)
      secs = x->timeout;
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    while (secs > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return 0;
  }
  snprintf(msg, msglen, "a lifecycle hook of container \"%s\" has no exec, httpGet or sleep",
           json_str(x->container, "name") ? json_str(x->container, "name") : "");
  return -ENOTSUP;
}
