/* The kubelet API on :10250: health, the node's pods and the containers'
 * logs, read from the CRI log files the runtime writes (crilog.h), with
 * upstream's query options and its errors for containers without logs.
 * https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/ */
#include "agent/kubeletapi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/crilog.h"
#include "agent/kubeletrun.h"
#include "agent/kubeletstream.h"
#include "agent/stats.h"
#include "http/server.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/buf.h"

#define READ_CHUNK (64 << 10)
#define STEP_BYTES (256 << 10) /* read per loop iteration, at most */
#define LINE_MAX_BYTES (1 << 20) /* a longer entry is dropped */
#define FOLLOW_POLL 0.25       /* seconds between looks at a followed file */

typedef struct lstream lstream_t;

struct agent_kubeletapi {
  struct ev_loop *loop;
  http_server_t *http;
  agent_kubelet_t *k;
  lstream_t *streams;
};

struct lstream {
  agent_kubeletapi_t *a;
  lstream_t *prev, *next;
  http_req_t *req;
  int fd;
  off_t off;
  buf_t line; /* the start of an entry whose '\n' is not read yet */
  bool dropping; /* inside an over-long entry */
  agent_crilog_writer_t w;
  bool follow;
  char *ns, *pod, *container, *uid, *cid;
  long attempt; /* the file: <attempt>.log */
  char *dir;    /* <logs>/<ns>_<pod>_<uid>/<container> */
  ev_timer timer;
};

/* ---- which container, which file ---- */

static bool in_spec(const cJSON *pod, const char *name) {
  static const char *const lists[] = {"spec.containers", "spec.initContainers",
                                      "spec.ephemeralContainers"};
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[i])) {
      const char *n = json_str(c, "name");
      if (n && !strcmp(n, name))
        return true;
    }
  }
  return false;
}

static bool has_id(const cJSON *cs, const char *path) {
  const char *id = json_str(cs, path);
  return id && id[0];
}

/* The attempt whose log the request wants, as upstream's kubelet chooses
 * the container (running, else the last terminated one), or -1 with the
 * kubelet's message in msg. The runtime's attempt numbers are the
 * restart counts: the newest container is attempt restartCount. */
long agent__kubeletapi_attempt(const cJSON *pod, const char *container, bool previous, char *msg,
                         size_t msglen) {
  const char *podname = json_str(pod, "metadata.name");
  const cJSON *cs = agent_podspec_container_status(pod, container);
  if (!cs) {
    /* the status the kubelet posts first says ContainerCreating */
    snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is waiting to start: ContainerCreating",
             container, podname);
    return -1;
  }
  const cJSON *rc = cJSON_GetObjectItemCaseSensitive(cs, "restartCount");
  long restarts = cJSON_IsNumber(rc) && rc->valuedouble >= 0 ? (long)rc->valuedouble : 0;
  const cJSON *state = cJSON_GetObjectItemCaseSensitive(cs, "state");
  const cJSON *last = cJSON_GetObjectItemCaseSensitive(cs, "lastState");
  bool running = cJSON_GetObjectItemCaseSensitive(state, "running") != NULL;
  const cJSON *term = cJSON_GetObjectItemCaseSensitive(state, "terminated");
  bool last_term = has_id(last, "terminated.containerID");
  const char *waiting = json_str(state, "waiting.reason");
  if (previous) {
    if (!last_term) {
      snprintf(msg, msglen, "previous terminated container \"%s\" in pod \"%s\" not found",
               container, podname);
      return -1;
    }
    /* lastState is the container before the current one; while the
     * current is waiting to restart it is the newest. */
    return running || has_id(state, "terminated.containerID") ? restarts - 1 : restarts;
  }
  if (running)
    return restarts;
  if (term) {
    if (has_id(term, "containerID") || last_term)
      return restarts;
    snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is terminated", container, podname);
    return -1;
  }
  if (last_term)
    return restarts;
  if (waiting && !strcmp(waiting, "ErrImagePull"))
    snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is waiting to start: image can't be "
                          "pulled", container, podname);
  else if (waiting && !strcmp(waiting, "ImagePullBackOff"))
    snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is waiting to start: trying and "
                          "failing to pull image", container, podname);
  else
    snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is waiting to start: %s", container,
             podname, waiting && waiting[0] ? waiting : "ContainerCreating");
  return -1;
}

/* ---- log streams ---- */

static void stream_free(lstream_t *s) {
  agent_kubeletapi_t *a = s->a;
  ev_timer_stop(a->loop, &s->timer);
  if (s->prev)
    s->prev->next = s->next;
  else
    a->streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  if (s->fd >= 0)
    close(s->fd);
  buf_done(&s->line);
  free(s->ns);
  free(s->pod);
  free(s->container);
  free(s->uid);
  free(s->cid);
  free(s->dir);
  free(s);
}

static void stream_end(lstream_t *s) {
  http_req_t *r = s->req;
  stream_free(s);
  http_stream_end(r);
}

static void on_close(http_req_t *r, void *data) { stream_end(data); }

static void step(lstream_t *s);

static void on_drain(http_req_t *r, void *data) {
  lstream_t *s = data;
  ev_timer_stop(s->a->loop, &s->timer);
  step(s);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  lstream_t *s = (lstream_t *)((char *)w - offsetof(lstream_t, timer));
  step(s);
}

static void later(lstream_t *s, double after) {
  ev_timer_stop(s->a->loop, &s->timer);
  ev_timer_set(&s->timer, after, 0);
  ev_timer_start(s->a->loop, &s->timer);
}

static void file_path(const lstream_t *s, long attempt, char *out, size_t len) {
  snprintf(out, len, "%s/%ld.log", s->dir, attempt);
}

/* Whether a followed container is still the one whose file we read. */
static bool still_running(lstream_t *s) {
  agent_kubelet_t *k = s->a->k;
  const cJSON *pod = k ? agent_kubelet_pod(k, s->ns, s->pod) : NULL;
  const char *uid = json_str(pod, "metadata.uid");
  if (!pod || !uid || strcmp(uid, s->uid))
    return false;
  const cJSON *cs = agent_podspec_container_status(pod, s->container);
  const char *cid = json_str(cs, "containerID");
  if (!cs || !json_get_path(cs, "state.running") || !cid || strcmp(cid, s->cid))
    return false;
  char next[PATH_MAX];
  struct stat st;
  file_path(s, s->attempt + 1, next, sizeof(next));
  return stat(next, &st) < 0; /* a newer attempt means this one ended */
}

/* Feed read bytes: whole entries go through the writer into out.
 * Returns 1 when the byte limit was reached. */
static int feed(lstream_t *s, const char *p, size_t n, buf_t *out) {
  while (n) {
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    if (!s->dropping && buf_append(&s->line, p, take) < 0) {
      s->dropping = true;
      buf_reset(&s->line);
    }
    if (!nl)
      break;
    if (!s->dropping) {
      agent_crilog_entry_t e;
      if (agent_crilog_parse(s->line.data ? s->line.data : "", s->line.len, &e) == 0) {
        int r = agent_crilog_writer_put(&s->w, &e, out);
        if (r == 1)
          return 1;
      }
    }
    s->dropping = false;
    buf_reset(&s->line);
    p += take + 1;
    n -= take + 1;
  }
  return 0;
}

static void step(lstream_t *s) {
  if (http_req_gone(s->req)) {
    stream_end(s);
    return;
  }
  if (s->fd < 0) {
    char path[PATH_MAX];
    file_path(s, s->attempt, path, sizeof(path));
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
      if (s->follow && still_running(s))
        later(s, FOLLOW_POLL);
      else
        stream_end(s);
      return;
    }
  }
  char *chunk = xmalloc(READ_CHUNK);
  buf_t out;
  buf_init(&out, STEP_BYTES + 2 * LINE_MAX_BYTES);
  size_t got = 0;
  bool eof = false, limit = false;
  while (got < STEP_BYTES && !limit) {
    ssize_t n = pread(s->fd, chunk, READ_CHUNK, s->off);
    if (n <= 0) {
      eof = true;
      break;
    }
    s->off += n;
    got += (size_t)n;
    limit = feed(s, chunk, (size_t)n, &out) == 1;
  }
  free(chunk);
  long q = out.len ? http_stream_write(s->req, out.data, out.len) : 0;
  buf_done(&out);
  if (q < 0 || limit) {
    stream_end(s);
    return;
  }
  if (!eof) {
    if (!http_stream_writable(s->req))
      return; /* the drain callback goes on */
    later(s, 0);
    return;
  }
  /* At the end of the file: a followed container may write more. The
   * status says it ended only after its last bytes are in the file, so a
   * last read after that misses nothing. */
  if (s->follow) {
    if (still_running(s)) {
      later(s, FOLLOW_POLL);
      return;
    }
    s->follow = false;
    later(s, 0);
    return;
  }
  stream_end(s);
}

/* Where reading starts for tailLines: after the n-th newline from the end
 * (a last newline ends the last entry and is not counted). */
static off_t tail_offset(int fd, long n) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return 0;
  off_t end = st.st_size, pos = end;
  if (n == 0)
    return end;
  char blk[8192];
  long seen = 0;
  while (pos > 0) {
    size_t want = pos > (off_t)sizeof(blk) ? sizeof(blk) : (size_t)pos;
    pos -= (off_t)want;
    if (pread(fd, blk, want, pos) != (ssize_t)want)
      return 0;
    for (size_t i = want; i-- > 0;) {
      if (blk[i] != '\n' || pos + (off_t)i == end - 1)
        continue;
      if (++seen == n)
        return pos + (off_t)i + 1;
    }
  }
  return 0;
}

static bool query_bool(http_req_t *r, const char *name) {
  const char *v = http_req_query(r, name);
  return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True"));
}

/* -1: absent; -2: malformed. */
static long long query_int(http_req_t *r, const char *name) {
  const char *v = http_req_query(r, name);
  if (!v)
    return -1;
  char *e;
  errno = 0;
  long long x = strtoll(v, &e, 10);
  if (errno || !*v || *e || x < 0)
    return -2;
  return x;
}

static void container_logs(agent_kubeletapi_t *a, http_req_t *r, const char *rest) {
  char ns[256], podname[256], cname[256];
  const char *s1 = strchr(rest, '/');
  const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
  if (!s1 || !s2 || strchr(s2 + 1, '/') || s1 == rest || s2 == s1 + 1 || !s2[1] ||
      (size_t)(s1 - rest) >= sizeof(ns) || (size_t)(s2 - s1 - 1) >= sizeof(podname) ||
      strlen(s2 + 1) >= sizeof(cname)) {
    http_respond_textf(r, 400, "Bad Request: the path is /containerLogs/{namespace}/{pod}/{container}");
    return;
  }
  snprintf(ns, sizeof(ns), "%.*s", (int)(s1 - rest), rest);
  snprintf(podname, sizeof(podname), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
  snprintf(cname, sizeof(cname), "%s", s2 + 1);
  if (!a->k) {
    http_respond_textf(r, 503, "the kubelet is starting");
    return;
  }
  const cJSON *pod = agent_kubelet_pod(a->k, ns, podname);
  if (!pod) {
    http_respond_textf(r, 404, "pod \"%s\" does not exist\n", podname);
    return;
  }
  if (!in_spec(pod, cname)) {
    http_respond_textf(r, 404, "container \"%s\" not found in pod \"%s\"\n", cname, podname);
    return;
  }
  long long tail = query_int(r, "tailLines"), since_s = query_int(r, "sinceSeconds"),
            limit = query_int(r, "limitBytes");
  const char *since_t = http_req_query(r, "sinceTime");
  int64_t since_ns = 0;
  if (tail == -2 || since_s == -2 || limit == -2 || since_s == 0 || limit == 0 ||
      (since_t && since_s >= 0) ||
      (since_t && agent_crilog_time_parse(since_t, strlen(since_t), &since_ns) < 0)) {
    http_respond_textf(r, 400, "invalid log options: tailLines, sinceSeconds and limitBytes are "
                         "positive integers, sinceTime an RFC 3339 time, and only one since");
    return;
  }
  if (since_s > 0) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    since_ns = ((int64_t)now.tv_sec - (int64_t)since_s) * 1000000000 + now.tv_nsec;
  }
  bool previous = query_bool(r, "previous");
  char msg[600];
  long attempt = agent__kubeletapi_attempt(pod, cname, previous, msg, sizeof(msg));
  if (attempt < 0) {
    http_respond_textf(r, 400, "%s", msg);
    return;
  }
  const cJSON *cs = agent_podspec_container_status(pod, cname);
  lstream_t *s = xcalloc(1, sizeof(*s));
  s->a = a;
  s->req = r;
  s->fd = -1;
  buf_init(&s->line, LINE_MAX_BYTES);
  s->w.timestamps = query_bool(r, "timestamps");
  s->w.since_ns = since_ns;
  s->w.limit_bytes = limit > 0 ? limit : 0;
  s->ns = xstrdup(ns);
  s->pod = xstrdup(podname);
  s->container = xstrdup(cname);
  s->uid = xstrdup(json_str(pod, "metadata.uid") ? json_str(pod, "metadata.uid") : "");
  s->cid = xstrdup(json_str(cs, "containerID") ? json_str(cs, "containerID") : "");
  s->attempt = attempt;
  /* only the newest container can still write; a previous one is over */
  s->follow = query_bool(r, "follow") && !previous && json_get_path(cs, "state.running");
  s->dir = xasprintf("%s/%s_%s_%s/%s", agent_kubelet_logs_dir(a->k), ns, podname, s->uid, cname);
  ev_init(&s->timer, timer_cb);
  s->next = a->streams;
  if (s->next)
    s->next->prev = s;
  a->streams = s;
  char path[PATH_MAX];
  file_path(s, attempt, path, sizeof(path));
  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd >= 0 && tail >= 0)
    s->off = tail_offset(s->fd, (long)tail);
  if (s->follow)
    http_req_long_running(r, false);
  http_req_on_close(r, on_close, s);
  http_stream_on_drain(r, on_drain, s);
  http_stream_begin(r, 200, "text/plain");
  step(s);
}

static void handle(http_req_t *r, void *data) {
  agent_kubeletapi_t *a = data;
  const char *path = http_req_path(r);
  const char *cn = http_req_client_cn(r);
  if (!cn || !cn[0]) {
    const char *why = http_req_client_cert_error(r);
    if (why)
      http_respond_textf(r, 401, "Unauthorized: %s", why);
    else
      http_respond_textf(r, 401, "Unauthorized");
    return;
  }
  bool allowed = !strcmp(cn, "system:kube-apiserver");
  const char *const *orgs = http_req_client_orgs(r);
  for (size_t i = 0; orgs && orgs[i] && !allowed; i++)
    allowed = !strcmp(orgs[i], "system:masters");
  if (!allowed) {
    http_respond_textf(r, 403, "Forbidden (user=%s, verb=get, resource=nodes, subresource=proxy)", cn);
    return;
  }
  if (agent__kubelet_stream(a->k, a->loop, r) || agent__kubelet_run(a->k, r))
    return;
  if (strcmp(http_req_method(r), "GET") && strcmp(http_req_method(r), "HEAD")) {
    http_respond_textf(r, 405, "Method Not Allowed");
    return;
  }
  if (!strcmp(path, "/healthz")) {
    http_respond(r, 200, "text/plain; charset=utf-8", "ok", 2);
  } else if (!strcmp(path, "/pods") || !strcmp(path, "/pods/")) {
    cJSON *list = a->k ? agent_kubelet_pod_list(a->k) : NULL;
    if (!list) {
      list = cJSON_Parse("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},"
                         "\"items\":[]}");
    }
    char *text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    http_respond_take(r, 200, "application/json", text, strlen(text));
  } else if (!strcmp(path, "/stats/summary") || !strcmp(path, "/stats/summary/")) {
    const agent_stats_t *st = a->k ? agent_kubelet_usage(a->k) : NULL;
    if (!st || !st->updated_ns) {
      http_respond_textf(r, 503, "the node's resource figures are not sampled yet");
      return;
    }
    cJSON *sum = agent_stats_summary(st);
    char *text = cJSON_PrintUnformatted(sum);
    cJSON_Delete(sum);
    http_respond_take(r, 200, "application/json", text, strlen(text));
  } else if (!strcmp(path, "/metrics/resource")) {
    const agent_stats_t *st = a->k ? agent_kubelet_usage(a->k) : NULL;
    if (!st || !st->updated_ns) {
      http_respond_textf(r, 503, "the node's resource figures are not sampled yet");
      return;
    }
    buf_t out;
    buf_init(&out, 16 << 20);
    if (agent_stats_prometheus(st, &out) < 0) {
      buf_done(&out);
      http_respond_textf(r, 500, "the metrics text is too large");
      return;
    }
    size_t len;
    char *text = buf_steal(&out, &len);
    http_respond_take(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
  } else if (!strncmp(path, "/containerLogs/", 15)) {
    container_logs(a, r, path + 15);
  } else {
    http_respond_textf(r, 404, "404 page not found");
  }
}

/* ---- lifetime ---- */

int agent_kubeletapi_start(struct ev_loop *loop, const agent_kubeletapi_opts_t *o,
                           agent_kubeletapi_t **ret, char *err, size_t errlen) {
  agent_kubeletapi_t *a = xcalloc(1, sizeof(*a));
  a->loop = loop;
  http_server_opts_t ho = {
      .bind_address = o->bind_address ? o->bind_address : "0.0.0.0",
      .port = o->port,
      .cert_pem = o->cert_pem,
      .key_pem = o->key_pem,
      .client_ca_pem = o->client_ca_pem,
      .max_body_bytes = 64 << 10,
      /* the API server keeps its session: each exec/port-forward relay then
       * resumes instead of a full handshake (docs/AGENT.md) */
      .session_ticket_lifetime = 300,
  };
  int r = http_server_start(loop, &ho, handle, a, &a->http, err, errlen);
  if (r < 0) {
    free(a);
    return r;
  }
  *ret = a;
  return 0;
}

void agent_kubeletapi_set_kubelet(agent_kubeletapi_t *a, agent_kubelet_t *k) {
  if (!a)
    return;
  a->k = k;
  if (!k)
    while (a->streams)
      stream_end(a->streams);
}

int agent_kubeletapi_set_cert(agent_kubeletapi_t *a, const char *cert_pem, const char *key_pem,
                              char *err, size_t errlen) {
  return http_server_set_cert(a->http, cert_pem, key_pem, err, errlen);
}

void agent_kubeletapi_stop(agent_kubeletapi_t *a) {
  if (!a)
    return;
  while (a->streams)
    stream_end(a->streams);
  http_server_stop(a->http);
  free(a);
}
