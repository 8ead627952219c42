/* The kubelet API's exec, attach and port-forward: a CRI call for a session
 * URL on containerd's streaming server, then the client's upgrade relayed
 * there byte for byte (http/tunnel.h).
 * https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/ (API paths as
 * upstream's pkg/kubelet/server/server.go routes them) */
#include "agent/kubeletstream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/podspec.h"
#include "cri/cri.h"
#include "http/tunnel.h"
#include "json/util.h"
#include "util/alloc.h"


typedef struct {
  struct ev_loop *loop;
  http_req_t *req; /* NULL once the client left */
  agent_stream_kind_t kind;
  cri_client_t *cri;
  bool v5_as_v4; /* AGENT_WS_V5_AS_V4 */
} pending_t;

static bool qbool(http_req_t *r, const char *name) {
  const char *v = http_req_query(r, name);
  return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

#define WS_V4 "v4.channel.k8s.io"
#define WS_V5 "v5.channel.k8s.io"

agent_ws_choice_t agent__kubelet_stream_ws_choice(const char *protocols, agent_stream_kind_t kind,
                                                  bool stdin_) {
  bool port_forward = kind == AGENT_STREAM_PORTFORWARD;
  static const char *const exec_protos[] = {WS_V4, "v4.base64.channel.k8s.io", "channel.k8s.io",
                                            "base64.channel.k8s.io", NULL};
  static const char *const pf_protos[] = {WS_V4, "v4.base64.channel.k8s.io", NULL};
  if (!protocols || !protocols[0])
    return AGENT_WS_RELAY; /* no subprotocol: the server accepts the plain channel framing */
  const char *const *list = port_forward ? pf_protos : exec_protos;
  for (size_t i = 0; list[i]; i++)
    if (http_tunnel_offers(protocols, list[i]))
      return AGENT_WS_RELAY;
  /* v5 is v4 plus one message, the client's "close stream" ({255, id}),
   * which kubectl sends only to end stdin and which a v4 server ignores:
   * without stdin the two are the same on the wire. With stdin the close
   * would be lost (the command never sees EOF): SPDY/3.1 then. Exec only:
   * containerd 1.6's WebSocket attach to a container that has stdin open
   * passes none of its output when the client asked for no stdin (its
   * SPDY attach does), so attach keeps the SPDY fallback. */
  if (kind == AGENT_STREAM_EXEC && !stdin_ && http_tunnel_offers(protocols, WS_V5))
    return AGENT_WS_V5_AS_V4;
  return AGENT_WS_REFUSE;
}

static void tunnel_failed(http_req_t *r, int err, const char *msg, void *data) {
  http_respond_textf(r, 500, "%s", msg);
}

static void on_gone(http_req_t *r, void *data) {
  pending_t *p = data;
  p->req = NULL;
  http_respond(r, 500, NULL, "", 0); /* gone: only frees it */
}

/* The session URL arrived: relay the client's upgrade there. */
static void on_url(void *data, const cri_status_t *st, const char *url) {
  pending_t *p = data;
  http_req_t *r = p->req;
  struct ev_loop *loop = p->loop;
  bool v5_as_v4 = p->v5_as_v4;
  free(p);
  if (!r)
    return;
  http_req_on_close(r, NULL, NULL);
  if (st->code != CRI_OK) {
    http_respond_textf(r, 500, "error from the container runtime: %s", st->message);
    return;
  }
  /* http://HOST:PORT/PATH, HOST an address (containerd's stream_server_address) */
  char host[64];
  int port = 0, n = 0;
  const char *path = NULL;
  if (strncmp(url, "http://", 7) == 0) {
    const char *h = url + 7, *hend;
    if (*h == '[') {
      h++;
      hend = strchr(h, ']');
      if (hend && hend[1] == ':')
        n = sscanf(hend + 2, "%d", &port);
      path = hend ? strchr(hend, '/') : NULL;
    } else {
      hend = strchr(h, ':');
      if (hend)
        n = sscanf(hend + 1, "%d", &port);
      path = hend ? strchr(hend, '/') : NULL;
    }
    if (hend && (size_t)(hend - h) < sizeof(host)) {
      memcpy(host, h, (size_t)(hend - h));
      host[hend - h] = '\0';
    } else {
      n = 0;
    }
  }
  if (n != 1 || !path) {
    http_respond_textf(r, 500, "the container runtime's streaming URL is not http://address:port/path: %.200s",
          url);
    return;
  }
  http_tunnel_opts_t o = {.host = host, .port = port, .target = path, .fail = tunnel_failed};
  if (v5_as_v4) {
    o.ws_protocol = WS_V4;
    o.ws_protocol_reply = WS_V5;
  }
  if (http_tunnel_start(r, loop, &o) < 0)
    http_respond_textf(r, 500, "cannot relay to the container runtime's streaming server at %.200s", url);
}

static void on_sandboxes(void *data, const cri_status_t *st, const cri_sandbox_t *items,
                         size_t n) {
  pending_t *p = data;
  if (!p->req) {
    free(p);
    return;
  }
  const char *id = NULL;
  for (size_t i = 0; st->code == CRI_OK && i < n; i++)
    if (items[i].state == CRI_SANDBOX_READY)
      id = items[i].id;
  int e = id ? cri_port_forward(p->cri, id, NULL, 0, on_url, p) : 0;
  if (!id || e < 0) {
    http_req_t *r = p->req;
    free(p);
    http_req_on_close(r, NULL, NULL);
    if (st->code != CRI_OK)
      http_respond_textf(r, 500, "error from the container runtime: %s", st->message);
    else
      http_respond_textf(r, 500, "pod sandbox not found (is the pod running on this node?)");
  }
}

/* Split "ns/pod[/container]" into parts; false if malformed. */
static bool split(const char *rest, char *ns, char *pod, char *ctr, bool want_ctr) {
  const char *a = strchr(rest, '/');
  if (!a || a == rest || (size_t)(a - rest) >= 254)
    return false;
  memcpy(ns, rest, (size_t)(a - rest));
  ns[a - rest] = '\0';
  const char *b = strchr(a + 1, '/');
  if (!want_ctr) {
    size_t l = b ? (size_t)(b - a - 1) : strlen(a + 1);
    if (!l || l >= 254)
      return false;
    memcpy(pod, a + 1, l);
    pod[l] = '\0';
    return true; /* a trailing /{uid} is accepted and ignored */
  }
  if (!b || b == a + 1 || (size_t)(b - a - 1) >= 254)
    return false;
  memcpy(pod, a + 1, (size_t)(b - a - 1));
  pod[b - a - 1] = '\0';
  const char *c = b + 1, *d = strrchr(c, '/'); /* /{uid}/{container}: the last part */
  if (d)
    c = d + 1;
  if (!*c || strlen(c) >= 254)
    return false;
  snprintf(ctr, 254, "%s", c);
  return true;
}

bool agent__kubelet_stream(agent_kubelet_t *k, struct ev_loop *loop, http_req_t *r) {
  const char *path = http_req_path(r);
  agent_stream_kind_t kind;
  const char *rest;
  if (!strncmp(path, "/exec/", 6))
    kind = AGENT_STREAM_EXEC, rest = path + 6;
  else if (!strncmp(path, "/attach/", 8))
    kind = AGENT_STREAM_ATTACH, rest = path + 8;
  else if (!strncmp(path, "/portForward/", 13))
    kind = AGENT_STREAM_PORTFORWARD, rest = path + 13;
  else
    return false;
  const char *m = http_req_method(r);
  if (strcmp(m, "GET") && strcmp(m, "POST")) {
    http_respond_textf(r, 405, "Method Not Allowed");
    return true;
  }
  char ns[254], podname[254], cname[254] = "";
  if (!split(rest, ns, podname, cname, kind != AGENT_STREAM_PORTFORWARD)) {
    http_respond_textf(r, 404, "404 page not found");
    return true;
  }
  const char *upgrade = http_req_header(r, "Upgrade");
  if (!upgrade) {
    http_respond_textf(r, 400, "Upgrade request required");
    return true;
  }
  bool want_stdin = qbool(r, "input") || qbool(r, "stdin");
  agent_ws_choice_t ws = AGENT_WS_RELAY;
  if (!strcasecmp(upgrade, "websocket"))
    ws = agent__kubelet_stream_ws_choice(http_req_header(r, "Sec-WebSocket-Protocol"), kind,
                                         want_stdin);
  if (ws == AGENT_WS_REFUSE) {
    /* kubectl then retries with SPDY/3.1 (docs/AGENT.md) */
    http_respond_textf(r, 400, "unable to upgrade connection: none of the offered WebSocket protocols (%.200s) "
                  "is served by the container runtime; use SPDY/3.1",
          http_req_header(r, "Sec-WebSocket-Protocol"));
    return true;
  }
  cri_client_t *cri = k ? agent_kubelet_cri(k) : NULL;
  const cJSON *pod = k ? agent_kubelet_pod(k, ns, podname) : NULL;
  if (!cri) {
    http_respond_textf(r, 503, "the kubelet is not running pods yet");
    return true;
  }
  if (!pod) {
    http_respond_textf(r, 404, "pod does not exist");
    return true;
  }
  pending_t *p = xcalloc(1, sizeof(*p));
  p->loop = loop;
  p->req = r;
  p->kind = kind;
  p->cri = cri;
  p->v5_as_v4 = ws == AGENT_WS_V5_AS_V4;
  int e = 0;
  if (kind == AGENT_STREAM_PORTFORWARD) {
    const char *uid = json_str(pod, "metadata.uid");
    cri_kv_t sel = {AGENT_LABEL_POD_UID, uid ? uid : ""};
    cri_sandbox_filter_t f = {.id = "", .label_selector = {&sel, 1}};
    e = cri_list_pod_sandbox(cri, &f, on_sandboxes, p);
  } else {
    const cJSON *cs = agent_podspec_container_status(pod, cname);
    const char *cid = json_str(cs, "containerID");
    const char *sep = cid ? strstr(cid, "://") : NULL;
    if (!cs || !json_get_path(cs, "state.running") || !sep || !sep[3]) {
      free(p);
      http_respond_textf(r, 500, "container not found (\"%s\")", cname);
      return true;
    }
    cri_stream_flags_t fl = {.tty = qbool(r, "tty"), .stdin_ = want_stdin,
                             .stdout_ = qbool(r, "output") || qbool(r, "stdout"),
                             .stderr_ = qbool(r, "error") || qbool(r, "stderr")};
    if (fl.tty)
      fl.stderr_ = false; /* a terminal has one output stream */
    if (kind == AGENT_STREAM_EXEC) {
      const char *const *cmd = http_req_query_all(r, "command");
      size_t n = 0;
      while (cmd && cmd[n])
        n++;
      if (!n) {
        free(p);
        http_respond_textf(r, 400, "you must specify at least 1 command");
        return true;
      }
      e = cri_exec(cri, sep + 3, (cri_strv_t){cmd, n}, &fl, on_url, p);
    } else {
      e = cri_attach(cri, sep + 3, &fl, on_url, p);
    }
  }
  if (e < 0) {
    free(p);
    http_respond_textf(r, 400, "cannot ask the container runtime: %s", strerror(-e));
    return true;
  }
  http_req_long_running(r, false);
  http_req_on_close(r, on_gone, p);
  return true;
}
