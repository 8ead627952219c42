/* An agent's join of a k3c (or k3s) server (join.h): trust on first use
 * pinned by the token's CA hash, then node certificates for the token's
 * secret. A small blocking HTTPS GET is enough here: it runs once, before
 * the agent's loop, and the only TLS session without verification is the
 * one that fetches /cacerts (checked by hash before it is used). */
#include "agent/join.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "http/parser.h"
#include "tls/cert.h"
#include "tls/conf.h"
#include "tls/token.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/errbuf.h"
#include "util/fsutil.h"

#define BODY_MAX (1 << 20)
#define FILE_MAX (1 << 20)
#define MIN_LEFT_SECONDS 10 /* a saved client cert with less left is not used: join again */

/* ---- pure parts ---- */

int agent_join_split_url(const char *url, char **ret_host, char **ret_port) {
  if (!url || strncmp(url, "https://", 8))
    return -EINVAL;
  const char *h = url + 8, *he, *p = NULL;
  if (*h == '[') {
    he = strchr(h, ']');
    if (!he)
      return -EINVAL;
    h++;
    if (he[1] == ':')
      p = he + 2;
    else if (he[1] && strcmp(he + 1, "/"))
      return -EINVAL;
  } else {
    he = h + strcspn(h, ":/");
    if (*he == ':')
      p = he + 1;
    else if (*he && strcmp(he, "/"))
      return -EINVAL;
  }
  if (he == h)
    return -EINVAL;
  size_t plen = 0;
  if (p) {
    plen = strspn(p, "0123456789");
    long port = plen ? strtol(p, NULL, 10) : 0;
    if (!plen || plen > 5 || (p[plen] && strcmp(p + plen, "/")) || port > 65535 || port == 0)
      return -EINVAL;
  }
  *ret_host = xstrndup(h, (size_t)(he - h));
  *ret_port = p ? xstrndup(p, plen) : xstrdup("6443");
  return 0;
}

int agent_join_split_pem(const char *body, char **ret_cert, char **ret_key) {
  static const char end_cert[] = "-----END CERTIFICATE-----";
  const char *cert = body ? strstr(body, "-----BEGIN CERTIFICATE-----") : NULL;
  const char *key = body ? strstr(body, "-----BEGIN ") : NULL;
  /* the key is the first PEM block that is not a certificate */
  while (key && !strncmp(key, "-----BEGIN CERTIFICATE-----", 27))
    key = strstr(key + 27, "-----BEGIN ");
  if (!cert || !key || !strstr(key, "PRIVATE KEY-----"))
    return -EINVAL;
  /* the certificates (a chain may follow the leaf) end before the key */
  const char *last = NULL;
  for (const char *e = strstr(cert, end_cert); e && e < key; e = strstr(e + 1, end_cert))
    last = e;
  if (!last)
    return -EINVAL;
  const char *ce = last + sizeof(end_cert) - 1;
  *ret_cert = xasprintf("%.*s\n", (int)(ce - cert), cert);
  *ret_key = xstrdup(key);
  return 0;
}

char *agent_join_basic_auth(const char *user, const char *password) {
  char *up = xasprintf("%s:%s", user, password);
  char *b64 = base64_encode(up, strlen(up));
  memset(up, 0, strlen(up));
  free(up);
  char *v = xasprintf("Basic %s", b64);
  free(b64);
  return v;
}

/* ---- a blocking HTTPS GET ---- */

typedef struct {
  int fd;
  int timeout_ms;
} sock_t;

static int sock_send(void *ctx, const unsigned char *buf, size_t len) {
  sock_t *s = ctx;
  struct pollfd p = {.fd = s->fd, .events = POLLOUT};
  if (poll(&p, 1, s->timeout_ms) <= 0)
    return MBEDTLS_ERR_NET_SEND_FAILED;
  ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
  return n >= 0 ? (int)n : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int sock_recv(void *ctx, unsigned char *buf, size_t len) {
  sock_t *s = ctx;
  struct pollfd p = {.fd = s->fd, .events = POLLIN};
  int k = poll(&p, 1, s->timeout_ms);
  if (k == 0)
    return MBEDTLS_ERR_SSL_TIMEOUT;
  if (k < 0)
    return MBEDTLS_ERR_NET_RECV_FAILED;
  ssize_t n = recv(s->fd, buf, len, 0);
  return n >= 0 ? (int)n : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Connect with a timeout; returns the fd or a negative errno. */
static int tcp_connect(const char *host, const char *port, int timeout_ms) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  int r = getaddrinfo(host, port, &hints, &res);
  if (r != 0)
    return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
  int err = -ECONNREFUSED;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      err = -errno;
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(res);
      return fd;
    }
    if (errno == EINPROGRESS) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int k = poll(&p, 1, timeout_ms);
      int so = 0;
      socklen_t sl = sizeof(so);
      if (k == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0) {
        freeaddrinfo(res);
        return fd;
      }
      err = k == 0 ? -ETIMEDOUT : so ? -so : -errno;
    } else {
      err = -errno;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return err;
}

typedef struct {
  int status;
  char *body; /* NUL-terminated */
  size_t len;
} resp_t;

/* Where the head ends and what Content-Length says (-1: none). */
static int parse_head(const char *buf, size_t len, size_t *ret_head, long *ret_clen,
                      int *ret_status) {
  const char *end = NULL;
  for (size_t i = 0; i + 3 < len; i++)
    if (!memcmp(buf + i, "\r\n\r\n", 4)) {
      end = buf + i;
      break;
    }
  if (!end)
    return 0;
  http_response_t resp;
  if (http_parse_response(buf, (size_t)(end - buf) + 4, (size_t)(end - buf) + 4, &resp) <= 0 ||
      resp.status > 599)
    return -EPROTO;
  long status = resp.status;
  long clen = -1;
  const http_header_t *h = http_response_find(&resp, "Content-Length");
  if (h) {
    char num[24];
    if (!h->value_len || h->value_len >= sizeof(num))
      return -EPROTO;
    memcpy(num, h->value, h->value_len);
    num[h->value_len] = '\0';
    char *e = NULL;
    clen = strtol(num, &e, 10);
    if (*e || clen < 0 || clen > BODY_MAX)
      return -EPROTO;
  }
  if (http_response_find(&resp, "Transfer-Encoding"))
    return -EPROTO; /* the join endpoints answer with a length */
  *ret_head = (size_t)(end - buf) + 4;
  *ret_clen = clen;
  *ret_status = (int)status;
  return 1;
}

/* GET path; ca_pem NULL = no verification (for /cacerts only). headers:
 * "Name: value\r\n" lines or "". Transport failures are -EAGAIN. */
static int https_get(const char *host, const char *port, const char *path, const char *ca_pem,
                     const char *cert_pem, const char *key_pem, const char *headers,
                     int timeout_ms, resp_t *ret, char *err, size_t errlen) {
  static const unsigned char pers[] = "k3c-join";
  int r = -EAGAIN, m = 0;
  const char *what = "";
  char *req = NULL, *buf = NULL;
  size_t len = 0, cap = 16384;
  sock_t s = {.fd = -1, .timeout_ms = timeout_ms};
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca, own;
  mbedtls_pk_context own_key;
  mbedtls_ssl_config_init(&conf);
  mbedtls_ssl_init(&ssl);
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crt_init(&own);
  mbedtls_pk_init(&own_key);
  if ((m = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof(pers) - 1)) ||
      (m = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT))) {
    what = "TLS setup";
    r = -EIO;
    goto tls_fail;
  }
  tls_conf_groups(&conf);
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_read_timeout(&conf, (uint32_t)timeout_ms);
  if (ca_pem) {
    if ((m = mbedtls_x509_crt_parse(&ca, (const unsigned char *)ca_pem, strlen(ca_pem) + 1))) {
      what = "parse the CA";
      r = -EINVAL;
      goto tls_fail;
    }
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
  } else {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  }
  if (ca_pem && cert_pem && key_pem) { /* a renewal: the node's own certificate */
    if ((m = mbedtls_x509_crt_parse(&own, (const unsigned char *)cert_pem,
                                    strlen(cert_pem) + 1)) ||
        (m = mbedtls_pk_parse_key(&own_key, (const unsigned char *)key_pem, strlen(key_pem) + 1,
                                  NULL, 0)) ||
        (m = mbedtls_ssl_conf_own_cert(&conf, &own, &own_key))) {
      what = "the node's client certificate";
      r = -EINVAL;
      goto tls_fail;
    }
  }
  if ((m = mbedtls_ssl_setup(&ssl, &conf))) {
    what = "TLS setup";
    r = -EIO;
    goto tls_fail;
  }
  /* as pkg/client: mbedTLS 2.28 checks DNS names only; an address is
   * trusted by the chain to the pinned CA */
  unsigned char a[16];
  if (ca_pem && inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
    mbedtls_ssl_set_hostname(&ssl, host);
  if ((s.fd = tcp_connect(host, port, timeout_ms)) < 0) {
    errbuf_set(err, errlen, "connect to %s:%s: %s", host, port, strerror(-s.fd));
    r = -EAGAIN;
    goto out;
  }
  mbedtls_ssl_set_bio(&ssl, &s, sock_send, sock_recv, NULL);
  while ((m = mbedtls_ssl_handshake(&ssl)) != 0) {
    if (m != MBEDTLS_ERR_SSL_WANT_READ && m != MBEDTLS_ERR_SSL_WANT_WRITE) {
      what = "TLS handshake";
      r = m == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ? -EKEYREJECTED : -EAGAIN;
      goto tls_fail;
    }
  }
  bool v6 = strchr(host, ':') != NULL;
  req = xasprintf("GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: k3c-agent\r\n"
                  "Accept: */*\r\nConnection: close\r\n%s\r\n",
                  path, v6 ? "[" : "", host, v6 ? "]" : "", port, headers);
  size_t rl = strlen(req), off = 0;
  while (off < rl) {
    m = mbedtls_ssl_write(&ssl, (const unsigned char *)req + off, rl - off);
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (m < 0) {
      what = "send";
      goto tls_fail;
    }
    off += (size_t)m;
  }
  buf = xmalloc(cap + 1);
  size_t head = 0;
  long clen = -1;
  int status = 0, got_head = 0;
  for (;;) {
    if (got_head && clen >= 0 && len >= head + (size_t)clen)
      break;
    if (len == cap) {
      if (cap >= BODY_MAX) {
        errbuf_set(err, errlen, "GET %s: the answer is over %d bytes", path, BODY_MAX);
        r = -E2BIG;
        goto out;
      }
      cap *= 2;
      buf = xrealloc(buf, cap + 1);
    }
    m = mbedtls_ssl_read(&ssl, (unsigned char *)buf + len, cap - len);
    if (m == MBEDTLS_ERR_SSL_WANT_READ || m == MBEDTLS_ERR_SSL_WANT_WRITE)
      continue;
    if (m == 0 || m == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
      break;
    if (m < 0) {
      what = "receive";
      goto tls_fail;
    }
    len += (size_t)m;
    buf[len] = 0;
    if (!got_head && (got_head = parse_head(buf, len, &head, &clen, &status)) < 0)
      break;
  }
  buf[len] = 0;
  if (got_head <= 0 || (clen >= 0 && len < head + (size_t)clen)) {
    errbuf_set(err, errlen, "GET %s: malformed or cut answer from %s:%s", path, host, port);
    r = -EAGAIN;
    goto out;
  }
  size_t blen = clen >= 0 ? (size_t)clen : len - head;
  ret->status = status;
  ret->len = blen;
  ret->body = xstrndup(buf + head, blen);
  r = 0;
  goto out;
tls_fail: {
  char msg[160];
  mbedtls_strerror(m, msg, sizeof(msg));
  errbuf_set(err, errlen, "%s:%s: %s: %s", host, port, what, msg);
}
out:
  if (s.fd >= 0) {
    if (r == 0)
      mbedtls_ssl_close_notify(&ssl);
    close(s.fd);
  }
  free(req);
  free(buf);
  mbedtls_x509_crt_free(&ca);
  mbedtls_x509_crt_free(&own);
  mbedtls_pk_free(&own_key);
  mbedtls_ssl_free(&ssl);
  mbedtls_ssl_config_free(&conf);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return r;
}

/* ---- files ---- */

static char *path_of(const agent_join_opts_t *o, const char *name) {
  return xasprintf("%s/agent/%s", o->data_dir, name);
}

static int read_text(const agent_join_opts_t *o, const char *name, char **ret) {
  char *p = path_of(o, name);
  size_t len;
  int r = fs_read_file(p, FILE_MAX, ret, &len);
  free(p);
  return r;
}

static int write_text(const agent_join_opts_t *o, const char *name, const char *text, char *err,
                      size_t errlen) {
  char *p = path_of(o, name);
  int r = fs_write_atomic(p, text, strlen(text), 0600);
  if (r < 0)
    errbuf_set(err, errlen, "write %s: %s", p, strerror(-r));
  free(p);
  return r;
}

/* The node's password: made once, then reused, so this machine keeps its
 * name across re-joins and another cannot take it. */
static int node_password(const agent_join_opts_t *o, char **ret, char *err, size_t errlen) {
  char *pw = NULL;
  int r = read_text(o, "node-password", &pw);
  if (r == 0) {
    pw[strcspn(pw, "\r\n")] = 0;
    if (*pw) {
      *ret = pw;
      return 0;
    }
    free(pw);
  } else if (r != -ENOENT) {
    errbuf_set(err, errlen, "read %s/agent/node-password: %s", o->data_dir, strerror(-r));
    return r;
  }
  unsigned char raw[16];
  if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
    errbuf_set(err, errlen, "no random bytes for the node password");
    return -EIO;
  }
  char hex[33];
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  char *line = xasprintf("%s\n", hex);
  r = write_text(o, "node-password", line, err, errlen);
  free(line);
  if (r < 0)
    return r;
  *ret = xstrdup(hex);
  return 0;
}

void agent_join_creds_done(agent_join_creds_t *c) {
  if (!c)
    return;
  free(c->ca_pem);
  free(c->cert_pem);
  free(c->client_ca_pem);
  free(c->serving_cert_pem);
  char *keys[] = {c->key_pem, c->serving_key_pem};
  for (size_t i = 0; i < 2; i++) {
    if (keys[i])
      memset(keys[i], 0, strlen(keys[i]));
    free(keys[i]);
  }
  memset(c, 0, sizeof(*c));
}

int agent_join_split_chain(const char *chain, char **ret_leaf, char **ret_rest) {
  static const char end_cert[] = "-----END CERTIFICATE-----";
  const char *b = chain ? strstr(chain, "-----BEGIN CERTIFICATE-----") : NULL;
  const char *e = b ? strstr(b, end_cert) : NULL;
  if (!e)
    return -EINVAL;
  e += sizeof(end_cert) - 1;
  const char *next = strstr(e, "-----BEGIN CERTIFICATE-----");
  *ret_leaf = xasprintf("%.*s\n", (int)(e - b), b);
  *ret_rest = next ? xstrdup(next) : NULL;
  return 0;
}

/* Whether the token pins a CA: its hash, or NULL. */
static char *token_hash(const char *token) {
  char *hash = NULL;
  if (token && tls_token_parse(token, &hash, NULL, NULL) == 0 && hash && *hash)
    return hash;
  free(hash);
  return NULL;
}

/* The node's client certificate: signed by the client CA, within its
 * validity, for system:node:<name>, its key. */
static int check_client(const agent_join_opts_t *o, const char *client_ca, const char *cert,
                        const char *key, tls_cert_info_t *ret_info, char *err, size_t errlen) {
  tls_cert_info_t info;
  char want[300];
  snprintf(want, sizeof(want), "system:node:%.250s", o->node_name);
  if (tls_cert_info(cert, &info, NULL, 0) < 0 || tls_cert_verify(cert, client_ca, 0) < 0 ||
      tls_cert_key_matches(cert, key) < 0) {
    errbuf_set(err, errlen, "the saved client certificate is not valid for the client CA (or "
                            "has expired)");
    return -EKEYREJECTED;
  }
  if (strcmp(info.cn, want)) {
    errbuf_set(err, errlen, "the saved client certificate is for %s, not %s", info.cn, want);
    return -EKEYREJECTED;
  }
  if (info.not_after - time(NULL) < MIN_LEFT_SECONDS) {
    errbuf_set(err, errlen, "the saved client certificate expires in less than %d s",
               MIN_LEFT_SECONDS);
    return -EKEYREJECTED;
  }
  *ret_info = info;
  return 0;
}

static int check_pin(const agent_join_opts_t *o, const char *ca, char *err, size_t errlen) {
  char *hash = token_hash(o->token);
  if (!hash)
    return 0;
  char have[65];
  tls_token_ca_hash(ca, have);
  bool same = !strcmp(have, hash);
  free(hash);
  if (!same) {
    errbuf_set(err, errlen, "the saved CA is not the one the token names");
    return -EKEYREJECTED;
  }
  return 0;
}

/* When to renew: the client certificate's time, or the serving one's if
 * sooner (a missing or unfit serving pair: now). */
static void set_renew_at(agent_join_creds_t *c, const tls_cert_info_t *client) {
  time_t at = tls_cert_renew_at(client);
  tls_cert_info_t si;
  if (!c->serving_cert_pem || !c->serving_key_pem ||
      tls_cert_info(c->serving_cert_pem, &si, NULL, 0) < 0 ||
      tls_cert_verify(c->serving_cert_pem, c->ca_pem, 0) < 0 ||
      tls_cert_key_matches(c->serving_cert_pem, c->serving_key_pem) < 0)
    at = time(NULL);
  else if (tls_cert_renew_at(&si) < at)
    at = tls_cert_renew_at(&si);
  c->renew_at = at;
  c->expires = client->not_after;
}

/* A renewal writes the client key as client-kubelet.key.next, then the
 * certificate, then renames the key: a crash in between leaves a
 * certificate whose key is the .next one, which finishes the rename. */
static int load_client_key(const agent_join_opts_t *o, const char *cert, char **ret_key) {
  char *key = NULL, *next = NULL;
  int r = read_text(o, "client-kubelet.key", &key);
  if (r < 0 && r != -ENOENT)
    return r;
  if (key && tls_cert_key_matches(cert, key) == 0) {
    *ret_key = key;
    return 0;
  }
  if (read_text(o, "client-kubelet.key.next", &next) == 0 &&
      tls_cert_key_matches(cert, next) == 0) {
    char *from = path_of(o, "client-kubelet.key.next"), *to = path_of(o, "client-kubelet.key");
    if (rename(from, to) < 0) {
      /* still usable from .next this time */
    }
    free(from);
    free(to);
    free(key);
    *ret_key = next;
    return 0;
  }
  free(next);
  if (!key)
    return -ENOENT;
  *ret_key = key; /* mismatched: check_client says so */
  return 0;
}

int agent_join_load(const agent_join_opts_t *o, agent_join_creds_t *ret, char *err,
                    size_t errlen) {
  agent_join_creds_t c = {0};
  tls_cert_info_t info;
  int r;
  if ((r = read_text(o, "server-ca.crt", &c.ca_pem)) < 0 ||
      (r = read_text(o, "client-kubelet.crt", &c.cert_pem)) < 0 ||
      (r = load_client_key(o, c.cert_pem, &c.key_pem)) < 0) {
    if (r != -ENOENT)
      errbuf_set(err, errlen, "reading the saved certificates in %s/agent: %s", o->data_dir,
                 strerror(-r));
    goto out;
  }
  /* An agent dir of an older k3c has no client-ca.crt: its one CA was
   * both. */
  if ((r = read_text(o, "client-ca.crt", &c.client_ca_pem)) == -ENOENT)
    c.client_ca_pem = xstrdup(c.ca_pem);
  else if (r < 0)
    goto out;
  if (read_text(o, "serving-kubelet.crt", &c.serving_cert_pem) < 0 ||
      read_text(o, "serving-kubelet.key", &c.serving_key_pem) < 0) {
    free(c.serving_cert_pem);
    free(c.serving_key_pem);
    c.serving_cert_pem = c.serving_key_pem = NULL;
  }
  if ((r = check_client(o, c.client_ca_pem, c.cert_pem, c.key_pem, &info, err, errlen)) < 0 ||
      (r = check_pin(o, c.ca_pem, err, errlen)) < 0)
    goto out;
  set_renew_at(&c, &info);
  c.pinned = true;
  *ret = c;
  return 0;
out:
  agent_join_creds_done(&c);
  return r;
}

/* GET one of the certificate paths; 0 and the two PEMs. */
static int fetch_pair(const char *host, const char *port, const char *ca, const char *cert,
                      const char *key, const char *path, const char *headers, int timeout_ms,
                      char **ret_cert, char **ret_key, char *err, size_t errlen) {
  resp_t res = {0};
  int r = https_get(host, port, path, ca, cert, key, headers, timeout_ms, &res, err, errlen);
  if (r < 0)
    return r;
  if (res.status != 200) {
    size_t n = strcspn(res.body, "\r\n");
    errbuf_set(err, errlen, "GET %s: %d %.*s", path, res.status, (int)(n > 300 ? 300 : n),
               res.body);
    r = res.status >= 500 ? -EAGAIN : res.status == 401 || res.status == 403 ? -EACCES : -EPROTO;
  } else if (agent_join_split_pem(res.body, ret_cert, ret_key) < 0) {
    errbuf_set(err, errlen, "GET %s: the answer is not a certificate and a key", path);
    r = -EPROTO;
  }
  free(res.body);
  return r;
}

static char *node_headers(const agent_join_opts_t *o, const char *auth, const char *password) {
  char *ips = xstrdup("");
  for (const char *const *ip = o->node_ips; ip && *ip; ip++) {
    char *more = xasprintf("%s%s%s", ips, *ips ? "," : "", *ip);
    free(ips);
    ips = more;
  }
  char *h = xasprintf("%s%s%sk3s-Node-Name: %s\r\nk3s-Node-Password: %s\r\n%s%s%s",
                      auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
                      o->node_name, password, *ips ? "k3s-Node-IP: " : "", ips,
                      *ips ? "\r\n" : "");
  free(ips);
  return h;
}

/* Both certificates from the server: the serving one, then the client one
 * (leaf, then the CA that signed it, then the key). fallback_client_ca:
 * the CA to assume when the answer carries none (an older single-CA
 * server). */
typedef struct {
  char *scert, *skey, *ccert, *ckey, *client_ca;
} fetched_t;

static void fetched_done(fetched_t *f) {
  free(f->scert);
  free(f->skey);
  free(f->ccert);
  free(f->ckey);
  free(f->client_ca);
  memset(f, 0, sizeof(*f));
}

static int fetch_both(const agent_join_opts_t *o, const char *host, const char *port,
                      const char *ca, const char *cert, const char *key, const char *headers,
                      int timeout_ms, fetched_t *f, char *err, size_t errlen) {
  char *chain = NULL, *rest = NULL;
  int r;
  if ((r = fetch_pair(host, port, ca, cert, key, "/v1-k3s/serving-kubelet.crt", headers,
                      timeout_ms, &chain, &f->skey, err, errlen)) < 0)
    return r;
  r = agent_join_split_chain(chain, &f->scert, &rest);
  free(chain);
  free(rest);
  chain = rest = NULL;
  if (r < 0 || (r = fetch_pair(host, port, ca, cert, key, "/v1-k3s/client-kubelet.crt", headers,
                               timeout_ms, &chain, &f->ckey, err, errlen)) < 0)
    return r == -EINVAL ? -EPROTO : r;
  r = agent_join_split_chain(chain, &f->ccert, &f->client_ca);
  free(chain);
  if (r < 0)
    return -EPROTO;
  if (!f->client_ca)
    f->client_ca = xstrdup(ca);
  tls_cert_info_t info;
  if ((r = check_client(o, f->client_ca, f->ccert, f->ckey, &info, err, errlen)) < 0)
    return -EPROTO;
  return 0;
}

int agent_join_once(const agent_join_opts_t *o, agent_join_creds_t *ret, char *err,
                    size_t errlen) {
  char *host = NULL, *port = NULL, *hash = NULL, *secret = NULL, *password = NULL;
  char *auth = NULL, *headers = NULL;
  fetched_t f = {0};
  resp_t ca = {0};
  int r, timeout_ms = (int)((o->timeout > 0 ? o->timeout : 30.0) * 1000);
  if (agent_join_split_url(o->server, &host, &port) < 0) {
    errbuf_set(err, errlen, "--server must be https://host:port, not %s",
               o->server ? o->server : "(none)");
    r = -EINVAL;
    goto out;
  }
  if (!o->token || tls_token_parse(o->token, &hash, NULL, &secret) < 0 || !secret || !*secret) {
    errbuf_set(err, errlen, "the token is empty or malformed");
    r = -EINVAL;
    goto out;
  }
  /* 1. The CA, over TLS we cannot verify yet: the token's hash decides. */
  if ((r = https_get(host, port, "/cacerts", NULL, NULL, NULL, "", timeout_ms, &ca, err,
                     errlen)) < 0)
    goto out;
  if (ca.status != 200 || !strstr(ca.body, "-----BEGIN CERTIFICATE-----")) {
    errbuf_set(err, errlen, "GET %s/cacerts: %d, no CA bundle", o->server, ca.status);
    r = ca.status >= 500 ? -EAGAIN : -EPROTO;
    goto out;
  }
  if (hash && *hash) {
    char have[65];
    tls_sha256_hex(ca.body, ca.len, have);
    if (strcasecmp(have, hash)) {
      errbuf_set(err, errlen, "the CA of %s has hash %s, the token wants %s: not that server's "
                              "token, or someone in between; nothing was sent",
                 o->server, have, hash);
      r = -EKEYREJECTED;
      goto out;
    }
  }
  /* 2. The node's certificates, with the CA pinned. */
  char *dir = path_of(o, "");
  r = fs_mkdir_p(dir, 0755);
  if (r < 0)
    errbuf_set(err, errlen, "%s: %s", dir, strerror(-r));
  free(dir);
  if (r < 0)
    goto out;
  if ((r = node_password(o, &password, err, errlen)) < 0)
    goto out;
  auth = agent_join_basic_auth("node", secret);
  headers = node_headers(o, auth, password);
  if ((r = fetch_both(o, host, port, ca.body, NULL, NULL, headers, timeout_ms, &f, err,
                      errlen)) < 0)
    goto out;
  /* 3. Saved, keys first: a half-written set fails agent_join_load's check
   * and is fetched again. */
  if ((r = write_text(o, "serving-kubelet.key", f.skey, err, errlen)) < 0 ||
      (r = write_text(o, "serving-kubelet.crt", f.scert, err, errlen)) < 0 ||
      (r = write_text(o, "client-ca.crt", f.client_ca, err, errlen)) < 0 ||
      (r = write_text(o, "client-kubelet.key", f.ckey, err, errlen)) < 0 ||
      (r = write_text(o, "client-kubelet.crt", f.ccert, err, errlen)) < 0 ||
      (r = write_text(o, "server-ca.crt", ca.body, err, errlen)) < 0)
    goto out;
  agent_join_creds_t c = {0};
  c.ca_pem = ca.body;
  ca.body = NULL;
  c.cert_pem = f.ccert;
  c.key_pem = f.ckey;
  c.client_ca_pem = f.client_ca;
  c.serving_cert_pem = f.scert;
  c.serving_key_pem = f.skey;
  memset(&f, 0, sizeof(f));
  tls_cert_info_t info;
  tls_cert_info(c.cert_pem, &info, NULL, 0);
  set_renew_at(&c, &info);
  c.pinned = hash && *hash;
  *ret = c;
  r = 0;
out:
  free(host);
  free(port);
  free(hash);
  if (secret)
    memset(secret, 0, strlen(secret));
  free(secret);
  free(password);
  free(auth);
  free(headers);
  free(ca.body);
  fetched_done(&f);
  return r;
}

int agent_join_renew(const agent_join_opts_t *o, agent_join_creds_t *creds, char *err,
                     size_t errlen) {
  char *host = NULL, *port = NULL, *password = NULL, *headers = NULL;
  fetched_t f = {0};
  int r, timeout_ms = (int)((o->timeout > 0 ? o->timeout : 30.0) * 1000);
  if (agent_join_split_url(o->server, &host, &port) < 0) {
    errbuf_set(err, errlen, "--server must be https://host:port, not %s",
               o->server ? o->server : "(none)");
    r = -EINVAL;
    goto out;
  }
  if ((r = node_password(o, &password, err, errlen)) < 0)
    goto out;
  headers = node_headers(o, NULL, password);
  if ((r = fetch_both(o, host, port, creds->ca_pem, creds->cert_pem, creds->key_pem, headers,
                      timeout_ms, &f, err, errlen)) < 0)
    goto out;
  char *next = path_of(o, "client-kubelet.key.next"), *key = path_of(o, "client-kubelet.key");
  if ((r = write_text(o, "serving-kubelet.key", f.skey, err, errlen)) < 0 ||
      (r = write_text(o, "serving-kubelet.crt", f.scert, err, errlen)) < 0 ||
      (r = write_text(o, "client-ca.crt", f.client_ca, err, errlen)) < 0 ||
      (r = write_text(o, "client-kubelet.key.next", f.ckey, err, errlen)) < 0 ||
      (r = write_text(o, "client-kubelet.crt", f.ccert, err, errlen)) < 0) {
    free(next);
    free(key);
    goto out;
  }
  if (rename(next, key) < 0) {
    r = -errno;
    errbuf_set(err, errlen, "rename %s: %s", next, strerror(errno));
  }
  free(next);
  free(key);
  if (r < 0)
    goto out;
  char *ca = creds->ca_pem;
  bool pinned = creds->pinned;
  creds->ca_pem = NULL;
  agent_join_creds_done(creds);
  creds->ca_pem = ca;
  creds->pinned = pinned;
  creds->cert_pem = f.ccert;
  creds->key_pem = f.ckey;
  creds->client_ca_pem = f.client_ca;
  creds->serving_cert_pem = f.scert;
  creds->serving_key_pem = f.skey;
  memset(&f, 0, sizeof(f));
  tls_cert_info_t info;
  tls_cert_info(creds->cert_pem, &info, NULL, 0);
  set_renew_at(creds, &info);
  r = 0;
out:
  free(host);
  free(port);
  free(password);
  free(headers);
  fetched_done(&f);
  return r;
}

int agent_join_client_ca(const char *server, const char *ca_pem, const char *cert_pem,
                         const char *key_pem, double timeout, char **ret_pem, char *err,
                         size_t errlen) {
  char *host = NULL, *port = NULL;
  resp_t res = {0};
  int r;
  if (agent_join_split_url(server, &host, &port) < 0) {
    errbuf_set(err, errlen, "the server must be https://host:port, not %s",
               server ? server : "(none)");
    return -EINVAL;
  }
  r = https_get(host, port, "/v1-k3s/client-ca.crt", ca_pem, cert_pem, key_pem, "",
                (int)((timeout > 0 ? timeout : 30.0) * 1000), &res, err, errlen);
  free(host);
  free(port);
  if (r < 0)
    return r;
  if (res.status == 200 && strstr(res.body, "-----BEGIN CERTIFICATE-----")) {
    *ret_pem = res.body;
    return 0;
  }
  size_t n = strcspn(res.body, "\r\n");
  errbuf_set(err, errlen, "GET /v1-k3s/client-ca.crt: %d %.*s", res.status,
             (int)(n > 300 ? 300 : n), res.body);
  r = res.status >= 500 ? -EAGAIN : res.status == 404 ? -ENOENT
      : res.status == 401 || res.status == 403 ? -EACCES : -EPROTO;
  free(res.body);
  return r;
}
