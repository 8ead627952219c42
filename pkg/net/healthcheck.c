/* The health check ports of externalTrafficPolicy Local LoadBalancers:
 * see healthcheck.h. kube-proxy's answer format:
 * https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#preserving-the-client-source-ip */
#include "net/healthcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"

#define MAX_REQUEST 4096
#define CONN_TIMEOUT 5.0
#define MAX_CONNS 64 /* per port at once; more are closed at accept */

typedef struct hc_port hc_port_t;

typedef struct hc_conn {
  ev_io io;
  ev_timer timer;
  hc_port_t *port;
  struct hc_conn *next;
  size_t got;
  char buf[MAX_REQUEST];
} hc_conn_t;

struct hc_port {
  ev_io io;
  net_hc_t *h;
  uint16_t port;
  char ns[64], name[64];
  size_t local;
  bool seen; /* in the latest plan */
  hc_conn_t *conns;
  int n_conns;
  hc_port_t *next;
};

struct net_hc {
  struct ev_loop *loop;
  hc_port_t *ports;
  uint16_t failed[16]; /* ports whose bind failed (logged once) */
};

static void conn_close(hc_conn_t *c) {
  hc_port_t *p = c->port;
  net_hc_t *h = p->h;
  ev_io_stop(h->loop, &c->io);
  ev_timer_stop(h->loop, &c->timer);
  close(c->io.fd);
  for (hc_conn_t **pp = &p->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  p->n_conns--;
  free(c);
}

static void answer(hc_conn_t *c) {
  hc_port_t *p = c->port;
  char body[256], out[512];
  int bl = snprintf(body, sizeof body,
                    "{\"service\":{\"namespace\":\"%s\",\"name\":\"%s\"},\"localEndpoints\":%zu,"
                    "\"serviceProxyHealthy\":true}",
                    p->ns, p->name, p->local);
  int ol = snprintf(out, sizeof out,
                    "HTTP/1.1 %s\r\nContent-Type: application/json\r\nX-Content-Type-Options: "
                    "nosniff\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                    p->local ? "200 OK" : "503 Service Unavailable", bl, body);
  ssize_t w = write(c->io.fd, out, (size_t)ol); /* small: one write into an empty buffer */
  (void)w;
  shutdown(c->io.fd, SHUT_WR);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents) {
  hc_conn_t *c = (hc_conn_t *)w;
  ssize_t r = read(w->fd, c->buf + c->got, sizeof c->buf - 1 - c->got);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r <= 0) {
    conn_close(c);
    return;
  }
  c->got += (size_t)r;
  c->buf[c->got] = 0;
  if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n") || c->got >= sizeof c->buf - 1) {
    answer(c);
    conn_close(c);
  }
}

static void conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  conn_close((hc_conn_t *)((char *)w - offsetof(hc_conn_t, timer)));
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  hc_port_t *p = (hc_port_t *)w;
  int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return;
  if (p->n_conns >= MAX_CONNS) {
    close(fd);
    return;
  }
  hc_conn_t *c = xcalloc(1, sizeof *c);
  c->port = p;
  c->next = p->conns;
  p->conns = c;
  p->n_conns++;
  ev_io_init(&c->io, conn_cb, fd, EV_READ);
  ev_timer_init(&c->timer, conn_timeout_cb, CONN_TIMEOUT, 0.0);
  ev_io_start(loop, &c->io);
  ev_timer_start(loop, &c->timer);
}

static void port_free(hc_port_t *p) {
  while (p->conns)
    conn_close(p->conns);
  ev_io_stop(p->h->loop, &p->io);
  close(p->io.fd);
  free(p);
}

static int listen_on(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (fd < 0)
    return -errno;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

net_hc_t *net_hc_new(struct ev_loop *loop) {
  net_hc_t *h = xcalloc(1, sizeof *h);
  h->loop = loop;
  return h;
}

static bool failed_before(net_hc_t *h, uint16_t port, bool remember) {
  for (size_t i = 0; i < sizeof h->failed / sizeof h->failed[0]; i++) {
    if (h->failed[i] == port)
      return true;
    if (remember && !h->failed[i]) {
      h->failed[i] = port;
      return false;
    }
  }
  return false;
}

void net_hc_update(net_hc_t *h, const net_proxy_plan_t *plan) {
  for (hc_port_t *p = h->ports; p; p = p->next) {
    p->seen = false;
    p->local = 0;
  }
  for (size_t i = 0; i < plan->n; i++) {
    const net_proxy_svc_t *sp = &plan->v[i];
    if (!sp->hc_port)
      continue;
    hc_port_t *p = h->ports;
    while (p && p->port != sp->hc_port)
      p = p->next;
    if (!p) {
      int fd = listen_on(sp->hc_port);
      if (fd < 0) {
        if (!failed_before(h, sp->hc_port, true))
          log_warn("proxy", "health check port %u of %s: %s", sp->hc_port, sp->name,
                   strerror(-fd));
        continue;
      }
      p = xcalloc(1, sizeof *p);
      p->h = h;
      p->port = sp->hc_port;
      ev_io_init(&p->io, accept_cb, fd, EV_READ);
      ev_io_start(h->loop, &p->io);
      p->next = h->ports;
      h->ports = p;
    }
    /* "<ns>/<name>:<port>": the Service's namespace and name */
    const char *slash = strchr(sp->name, '/'), *colon = slash ? strrchr(slash, ':') : NULL;
    if (slash && colon) {
      snprintf(p->ns, sizeof p->ns, "%.*s", (int)(slash - sp->name), sp->name);
      snprintf(p->name, sizeof p->name, "%.*s", (int)(colon - slash - 1), slash + 1);
    }
    /* one Service, several ports: its local endpoints (the most any port has) */
    if (sp->n_leps > p->local)
      p->local = sp->n_leps;
    p->seen = true;
  }
  for (hc_port_t **pp = &h->ports; *pp;) {
    hc_port_t *p = *pp;
    if (p->seen) {
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    port_free(p);
  }
}

size_t net_hc_count(const net_hc_t *h) {
  size_t n = 0;
  for (const hc_port_t *p = h ? h->ports : NULL; p; p = p->next)
    n++;
  return n;
}

void net_hc_free(net_hc_t *h) {
  if (!h)
    return;
  while (h->ports) {
    hc_port_t *p = h->ports;
    h->ports = p->next;
    port_free(p);
  }
  free(h);
}
