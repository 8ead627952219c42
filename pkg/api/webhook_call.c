/* Blocking HTTPS POST for admission webhooks (webhook_call.h). */
#include "api/webhook_call.h"

#include "tls/conf.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/goerr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX (8 << 20)

typedef struct {
  int fd;
  double deadline;
  bool timed_out;
} conn_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for fd to be ready for events; false on timeout. */
static bool wait_fd(conn_t *c, short events) {
  for (;;) {
    double left = c->deadline - now_s();
    if (left <= 0) {
      c->timed_out = true;
      return false;
    }
    struct pollfd p = {.fd = c->fd, .events = events};
    int r = poll(&p, 1, (int)(left * 1000) + 1);
    if (r > 0)
      return true;
    if (r < 0 && errno != EINTR)
      return false;
  }
}

static int bio_send(void *ctx, const unsigned char *b, size_t len) {
  conn_t *c = ctx;
  for (;;) {
    ssize_t n = send(c->fd, b, len, MSG_NOSIGNAL);
    if (n >= 0)
      return (int)n;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return MBEDTLS_ERR_NET_SEND_FAILED;
    if (!wait_fd(c, POLLOUT))
      return MBEDTLS_ERR_SSL_TIMEOUT;
  }
}

static int bio_recv(void *ctx, unsigned char *b, size_t len) {
  conn_t *c = ctx;
  for (;;) {
    ssize_t n = recv(c->fd, b, len, 0);
    if (n >= 0)
      return (int)n;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return MBEDTLS_ERR_NET_RECV_FAILED;
    if (!wait_fd(c, POLLIN))
      return MBEDTLS_ERR_SSL_TIMEOUT;
  }
}

typedef struct {
  char host[256], port[8];
  const char *path;
} url_t;

static int parse_url(const char *url, url_t *u) {
  if (strncmp(url, "https://", 8))
    return -EINVAL;
  const char *p = url + 8;
  size_t hp = strcspn(p, "/");
  u->path = p[hp] ? p + hp : "/";
  const char *hs = p, *he, *port = "443";
  size_t plen = 3;
  if (*p == '[') {
    hs = p + 1;
    he = memchr(hs, ']', hp - 1);
    if (!he)
      return -EINVAL;
    if (he + 1 < p + hp && he[1] == ':') {
      port = he + 2;
      plen = (size_t)(p + hp - port);
    }
  } else {
    he = memchr(p, ':', hp);
    if (he) {
      port = he + 1;
      plen = (size_t)(p + hp - port);
    } else {
      he = p + hp;
    }
  }
  size_t hl = (size_t)(he - hs);
  if (!hl || hl >= sizeof(u->host) || !plen || plen >= sizeof(u->port))
    return -EINVAL;
  memcpy(u->host, hs, hl);
  u->host[hl] = '\0';
  memcpy(u->port, port, plen);
  u->port[plen] = '\0';
  return 0;
}

static int dial(const url_t *u, conn_t *c, char *err, size_t errlen) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  int g = getaddrinfo(u->host, u->port, &hints, &ai);
  if (g != 0) {
    snprintf(err, errlen, "dial tcp: lookup %s: %s", u->host, gai_strerror(g));
    return -EHOSTUNREACH;
  }
  int r = -ECONNREFUSED;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    c->fd = fd;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
        (errno == EINPROGRESS && wait_fd(c, POLLOUT))) {
      int e = 0;
      socklen_t el = sizeof(e);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
      if (e == 0) {
        freeaddrinfo(ai);
        return 0;
      }
      errno = e;
    }
    int e = c->timed_out ? ETIMEDOUT : errno;
    const char *hostfmt = strchr(u->host, ':') ? "[%s]:%s" : "%s:%s";
    char hp[300];
    snprintf(hp, sizeof(hp), hostfmt, u->host, u->port);
    char text[128];
    snprintf(err, errlen, "dial tcp %s: %s", hp, goerr_dial(-e, text, sizeof(text)));
    r = -e;
    close(fd);
    c->fd = -1;
    if (c->timed_out)
      break;
  }
  freeaddrinfo(ai);
  return r;
}

/* Go's words for a verification failure (crypto/x509). */
static void verify_error(uint32_t flags, const char *host, char *err, size_t errlen) {
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
    snprintf(err, errlen,
             "tls: failed to verify certificate: x509: certificate signed by unknown "
             "authority");
  else if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
    snprintf(err, errlen,
             "tls: failed to verify certificate: x509: certificate has expired or is "
             "not yet valid");
  else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
    snprintf(err, errlen,
             "tls: failed to verify certificate: x509: certificate is not valid for %s", host);
  else {
    char why[256];
    int n = mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
    while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
      why[--n] = '\0';
    for (char *q = why; *q; q++)
      if (*q == '\n')
        *q = ';';
    snprintf(err, errlen, "tls: failed to verify certificate: %s", why);
  }
}

/* An IP literal host: mbedTLS 2.28 matches DNS names only, so the peer's
 * iPAddress SANs (and, as before, a dNSName spelling the address) are
 * checked here. */
static bool ip_matches(const mbedtls_x509_crt *crt, const char *host) {
  unsigned char want[16];
  size_t wlen = 0;
  if (inet_pton(AF_INET, host, want) == 1)
    wlen = 4;
  else if (inet_pton(AF_INET6, host, want) == 1)
    wlen = 16;
  for (const mbedtls_x509_sequence *s = crt ? &crt->subject_alt_names : NULL; s; s = s->next) {
    if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && s->buf.len == wlen &&
        !memcmp(s->buf.p, want, wlen))
      return true;
    if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME) &&
        s->buf.len == strlen(host) && !memcmp(s->buf.p, host, s->buf.len))
      return true;
  }
  return false;
}

/* Split the raw response into code and body (Content-Length, chunked or
 * up to the close). */
static int parse_response(buf_t *raw, api_webhook_resp_t *resp, char *err, size_t errlen) {
  buf_append(raw, "", 1);
  raw->len--;
  char *s = raw->data;
  char *end = strstr(s, "\r\n\r\n");
  int code = 0;
  if (!end || sscanf(s, "HTTP/1.%*d %d", &code) != 1) {
    snprintf(err, errlen, "malformed HTTP response");
    return -EPROTO;
  }
  *end = '\0';
  char *body = end + 4;
  size_t blen = raw->len - (size_t)(body - s);
  bool chunked = false;
  for (char *line = strstr(s, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    const char *h = line + 2;
    if (!strncasecmp(h, "Transfer-Encoding:", 18) && strstr(h, "chunked") &&
        (!strstr(h, "\r\n") || strstr(h, "chunked") < strstr(h, "\r\n")))
      chunked = true;
    if (!strncasecmp(h, "Content-Length:", 15)) {
      size_t cl = strtoul(h + 15, NULL, 10);
      if (cl < blen)
        blen = cl;
    }
  }
  buf_t out;
  buf_init(&out, RESP_MAX + 1);
  if (chunked) {
    const char *p = body, *e = body + blen;
    while (p < e) {
      char *next;
      size_t n = strtoul(p, &next, 16);
      const char *nl = strstr(next, "\r\n");
      if (!nl || n == 0)
        break;
      p = nl + 2;
      if ((size_t)(e - p) < n)
        n = (size_t)(e - p);
      buf_append(&out, p, n);
      p += n + 2;
    }
  } else {
    buf_append(&out, body, blen);
  }
  buf_append(&out, "", 1);
  resp->code = code;
  resp->len = out.len - 1;
  resp->body = out.data;
  return 0;
}

int api__webhook_post(const char *url, const char *server_name, const unsigned char *ca,
                      size_t ca_len, const char *body, size_t len, double timeout,
                      api_webhook_resp_t *resp, char *err, size_t errlen) {
  static const unsigned char pers[] = "k3c-webhook";
  memset(resp, 0, sizeof(*resp));
  url_t u;
  if (parse_url(url, &u) < 0) {
    snprintf(err, errlen, "invalid URL %s", url);
    return -EINVAL;
  }
  conn_t c = {.fd = -1, .deadline = now_s() + timeout};
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt cacrt;
  mbedtls_ssl_init(&ssl);
  mbedtls_ssl_config_init(&conf);
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt_init(&cacrt);
  buf_t raw;
  buf_init(&raw, RESP_MAX + 16384);
  int r = 0, m = 0;
  if ((r = dial(&u, &c, err, errlen)) < 0)
    goto out;
  if (ca && ca_len) {
    unsigned char *pem = xmalloc(ca_len + 1);
    memcpy(pem, ca, ca_len);
    pem[ca_len] = '\0';
    m = mbedtls_x509_crt_parse(&cacrt, pem, ca_len + 1);
    free(pem);
    if (m < 0) {
      snprintf(err, errlen, "tls: failed to parse clientConfig.caBundle (-0x%04x)", (unsigned)-m);
      r = -EINVAL;
      goto out;
    }
  }
  if ((m = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof(pers) - 1)) ||
      (m = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT))) {
    snprintf(err, errlen, "TLS set-up failed (-0x%04x)", (unsigned)-m);
    r = -EIO;
    goto out;
  }
  tls_conf_groups(&conf);
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&conf, &cacrt, NULL);
  unsigned char addr[16];
  /* the name the certificate must carry: the service's DNS name when
   * the URL's host is one of its endpoints, else the URL's host */
  const char *name = server_name ? server_name : u.host;
  bool is_ip = !server_name &&
               (inet_pton(AF_INET, u.host, addr) == 1 || inet_pton(AF_INET6, u.host, addr) == 1);
  if ((m = mbedtls_ssl_setup(&ssl, &conf)) ||
      (!is_ip && (m = mbedtls_ssl_set_hostname(&ssl, name)))) {
    snprintf(err, errlen, "TLS set-up failed (-0x%04x)", (unsigned)-m);
    r = -EIO;
    goto out;
  }
  mbedtls_ssl_set_bio(&ssl, &c, bio_send, bio_recv, NULL);
  while ((m = mbedtls_ssl_handshake(&ssl)) != 0) {
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (c.timed_out) {
      snprintf(err, errlen, "net/http: TLS handshake timeout");
      r = -ETIMEDOUT;
    } else if (m == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
      verify_error(mbedtls_ssl_get_verify_result(&ssl), name, err, errlen);
      r = -EPERM;
    } else {
      char why[160];
      mbedtls_strerror(m, why, sizeof(why));
      snprintf(err, errlen, "remote error: tls: %s", why);
      r = -EPROTO;
    }
    goto out;
  }
  if (is_ip && !ip_matches(mbedtls_ssl_get_peer_cert(&ssl), u.host)) {
    verify_error(MBEDTLS_X509_BADCERT_CN_MISMATCH, u.host, err, errlen);
    r = -EPERM;
    goto out;
  }
  char head[1024];
  const char *hostfmt = strchr(name, ':') ? "[%s]:%s" : "%s:%s";
  char hp[300];
  snprintf(hp, sizeof(hp), hostfmt, name, u.port);
  int hl = snprintf(head, sizeof(head),
                    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Accept: application/json, */*\r\nUser-Agent: k3c-apiserver\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    u.path, hp, len);
  buf_t req;
  buf_init(&req, (size_t)hl + len + 1);
  buf_append(&req, head, (size_t)hl);
  buf_append(&req, body, len);
  size_t off = 0;
  while (off < req.len) {
    m = mbedtls_ssl_write(&ssl, (const unsigned char *)req.data + off, req.len - off);
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (m <= 0)
      break;
    off += (size_t)m;
  }
  size_t want = req.len;
  buf_done(&req);
  if (off < want) {
    r = c.timed_out ? -ETIMEDOUT : -EPIPE;
    snprintf(err, errlen, c.timed_out ? "context deadline exceeded" : "write: broken pipe");
    goto out;
  }
  for (;;) {
    unsigned char chunk[16384];
    m = mbedtls_ssl_read(&ssl, chunk, sizeof(chunk));
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (m == 0 || m == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || m == MBEDTLS_ERR_NET_CONN_RESET)
      break;
    if (m < 0) {
      if (c.timed_out) {
        snprintf(err, errlen, "context deadline exceeded");
        r = -ETIMEDOUT;
        goto out;
      }
      break; /* a peer that closed without close_notify: take what came */
    }
    buf_append(&raw, chunk, (size_t)m);
    if (raw.len > RESP_MAX) {
      snprintf(err, errlen, "response body larger than %d bytes", RESP_MAX);
      r = -EFBIG;
      goto out;
    }
  }
  r = parse_response(&raw, resp, err, errlen);
  if (r == 0)
    mbedtls_ssl_close_notify(&ssl);
out:
  buf_done(&raw);
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  mbedtls_x509_crt_free(&cacrt);
  if (c.fd >= 0)
    close(c.fd);
  return r;
}
