/* The server's PKI files: create the cluster CA once, (re)issue the API
 * serving certificate and the admin client certificate when needed, and
 * compute the serving SANs the way k3s does (docs/PKI.md). */
#include "tls/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tls/jwt.h"
#include "util/errbuf.h"
#include "util/alloc.h"
#include "util/fsutil.h"

#define PKI_FILE_MAX (256 * 1024)


static void pair_done(tls_pki_pair_t *p) {
  free(p->cert_path);
  free(p->key_path);
  free(p->cert_pem);
  if (p->key_pem)
    memset(p->key_pem, 0, strlen(p->key_pem));
  free(p->key_pem);
  memset(p, 0, sizeof(*p));
}

void tls_pki_done(tls_pki_t *pki) {
  if (!pki)
    return;
  tls_pki_pair_t *pairs[] = {&pki->server_ca, &pki->client_ca,      &pki->request_header_ca,
                             &pki->serving,   &pki->admin,          &pki->kubelet_client,
                             &pki->auth_proxy};
  for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
    pair_done(pairs[i]);
  free(pki->dir);
  free(pki->sa_key_path);
  free(pki->sa_key_pem);
  memset(pki, 0, sizeof(*pki));
}

/* Read a file; *ret is NULL when the file does not exist. */
static int read_opt(const char *path, char **ret, char *err, size_t errlen) {
  char *data = NULL;
  size_t len;
  int r = fs_read_file(path, PKI_FILE_MAX, &data, &len);
  if (r == -ENOENT) {
    *ret = NULL;
    return 0;
  }
  if (r < 0) {
    errbuf_set(err, errlen, "read %s: %s", path, strerror(-r));
    return r;
  }
  *ret = data;
  return 0;
}

static int write_file(const char *path, const char *pem, mode_t mode, char *err, size_t errlen) {
  int r = fs_write_atomic(path, pem, strlen(pem), mode);
  if (r < 0)
    errbuf_set(err, errlen, "write %s: %s", path, strerror(-r));
  return r;
}

/* Write key then certificate; a crash in between leaves a pair that does
 * not match, which the next start detects and re-issues. */
static int write_pair(const char *cert_path, const char *cert_pem, const char *key_path,
                      const char *key_pem, char *err, size_t errlen) {
  int r = write_file(key_path, key_pem, 0600, err, errlen);
  if (r < 0)
    return r;
  return write_file(cert_path, cert_pem, 0644, err, errlen);
}

static time_t now_of(const tls_pki_opts_t *opts) { return opts->now ? opts->now : time(NULL); }

/* Check an existing CA pair: it must parse, be a CA, match its key and
 * not have expired. */
static int check_ca(const tls_pki_pair_t *ca, time_t now, char *err, size_t errlen) {
  tls_cert_info_t info;
  int r;
  if (!ca->key_pem) {
    errbuf_set(err, errlen, "%s exists but %s is missing", ca->cert_path, ca->key_path);
    return -ENOENT;
  }
  if ((r = tls_cert_info(ca->cert_pem, &info, err, errlen)) < 0)
    return r;
  if (!info.is_ca) {
    errbuf_set(err, errlen, "%s is not a CA certificate", ca->cert_path);
    return -EINVAL;
  }
  if (tls_cert_key_matches(ca->cert_pem, ca->key_pem) != 0) {
    errbuf_set(err, errlen, "%s does not match %s", ca->key_path, ca->cert_path);
    return -EKEYREJECTED;
  }
  if (info.not_after <= now) {
    errbuf_set(err, errlen, "CA %s has expired", ca->cert_path);
    return -EKEYEXPIRED;
  }
  return 0;
}

/* (Re)read both files of a pair; what was read before is dropped. */
static int read_pair(tls_pki_pair_t *p, char *err, size_t errlen) {
  int r;
  free(p->cert_pem);
  free(p->key_pem);
  p->cert_pem = p->key_pem = NULL;
  if ((r = read_opt(p->cert_path, &p->cert_pem, err, errlen)) < 0 ||
      (r = read_opt(p->key_path, &p->key_pem, err, errlen)) < 0)
    return r;
  return 0;
}

/* Load a CA, or create it (self-signed, CN <prefix>@<unix time>) when its
 * certificate is missing. */
static int load_ca(tls_pki_pair_t *ca, const char *prefix, const tls_pki_opts_t *opts,
                   unsigned bit, unsigned *changes, char *err, size_t errlen) {
  int r;
  time_t now = now_of(opts);
  if ((r = read_pair(ca, err, errlen)) < 0)
    return r;
  if (ca->cert_pem) /* never replaced: every certificate and token depends on it */
    return check_ca(ca, now, err, errlen);
  /* No CA certificate: create one (a stray key from an interrupted first
   * start signed nothing and is replaced). */
  free(ca->key_pem);
  ca->key_pem = NULL;
  char cn[64];
  snprintf(cn, sizeof(cn), "%s@%lld", prefix, (long long)now);
  tls_cert_spec_t spec = {.cn = cn, .usage = TLS_USAGE_CA, .days = TLS_PKI_CA_DAYS, .now = now};
  char *key = NULL, *cert = NULL;
  if ((r = tls_key_generate(&key, err, errlen)) < 0)
    return r;
  if ((r = tls_cert_create(&spec, key, NULL, NULL, &cert, err, errlen)) < 0) {
    free(key);
    return r;
  }
  ca->cert_pem = cert;
  ca->key_pem = key;
  if ((r = write_pair(ca->cert_path, cert, ca->key_path, key, err, errlen)) < 0)
    return r;
  *changes |= bit;
  return 0;
}

/* A data dir of an older k3c: server-ca.* was the one CA and signed the
 * client certificates too. It becomes the client CA as well (the same key
 * and certificate under client-ca.*, certificate last), so the admin
 * kubeconfig and every joined node keep working. */
static int migrate_client_ca(tls_pki_t *pki, const tls_pki_opts_t *opts, unsigned *changes,
                             char *err, size_t errlen) {
  int r;
  if ((r = check_ca(&pki->server_ca, now_of(opts), err, errlen)) < 0)
    return r;
  if ((r = write_pair(pki->client_ca.cert_path, pki->server_ca.cert_pem, pki->client_ca.key_path,
                      pki->server_ca.key_pem, err, errlen)) < 0)
    return r;
  free(pki->client_ca.cert_pem);
  free(pki->client_ca.key_pem);
  pki->client_ca.cert_pem = xstrdup(pki->server_ca.cert_pem);
  pki->client_ca.key_pem = xstrdup(pki->server_ca.key_pem);
  *changes |= TLS_PKI_CLIENT_CA_MIGRATED;
  return 0;
}

/* Whether an existing leaf pair can be kept. */
static bool leaf_ok(const tls_pki_pair_t *ca, const tls_pki_pair_t *leaf,
                    const tls_cert_spec_t *spec, time_t now) {
  tls_cert_info_t info;
  if (!leaf->cert_pem || !leaf->key_pem)
    return false;
  if (tls_cert_info(leaf->cert_pem, &info, NULL, 0) < 0)
    return false;
  if (now >= tls_cert_renew_at(&info))
    return false;
  if ((info.usage & spec->usage) != spec->usage)
    return false;
  if (tls_cert_verify(leaf->cert_pem, ca->cert_pem, now) != 0)
    return false;
  if (tls_cert_key_matches(leaf->cert_pem, leaf->key_pem) != 0)
    return false;
  if (spec->san && tls_cert_san_matches(leaf->cert_pem, spec->san) != 1)
    return false;
  return true;
}

static int load_leaf(const tls_pki_pair_t *ca, tls_pki_pair_t *leaf, const tls_cert_spec_t *spec,
                     unsigned bit, unsigned *changes, char *err, size_t errlen) {
  int r;
  if ((r = read_pair(leaf, err, errlen)) < 0)
    return r;
  if (leaf_ok(ca, leaf, spec, spec->now))
    return 0;
  free(leaf->cert_pem);
  free(leaf->key_pem);
  leaf->cert_pem = leaf->key_pem = NULL;
  char *cert = NULL, *key = NULL;
  if ((r = tls_cert_issue(spec, ca->cert_pem, ca->key_pem, &cert, &key, err, errlen)) < 0)
    return r;
  leaf->cert_pem = cert;
  leaf->key_pem = key;
  if ((r = write_pair(leaf->cert_path, cert, leaf->key_path, key, err, errlen)) < 0)
    return r;
  *changes |= bit;
  return 0;
}

/* The service-account signing key: tokens already handed out are signed
 * with it, so an existing key is kept, and one that does not load stops
 * the start instead of being replaced silently. */
static int load_sa_key(tls_pki_t *pki, unsigned *changes, char *err, size_t errlen) {
  int r;
  if ((r = read_opt(pki->sa_key_path, &pki->sa_key_pem, err, errlen)) < 0)
    return r;
  if (pki->sa_key_pem) {
    char why[128] = "";
    tls_jwt_key_t *k = NULL;
    if ((r = tls_jwt_key_load(pki->sa_key_pem, &k, why, sizeof(why))) < 0) {
      errbuf_set(err, errlen, "%s: %s", pki->sa_key_path, why);
      return r;
    }
    tls_jwt_key_free(k);
    return 0;
  }
  char *key = NULL;
  if ((r = tls_key_generate(&key, err, errlen)) < 0)
    return r;
  pki->sa_key_pem = key;
  if ((r = write_file(pki->sa_key_path, key, 0600, err, errlen)) < 0)
    return r;
  *changes |= TLS_PKI_SA_KEY_CREATED;
  return 0;
}

static void pair_paths(tls_pki_pair_t *p, const char *dir, const char *name) {
  p->cert_path = xasprintf("%s/%s.crt", dir, name);
  p->key_path = xasprintf("%s/%s.key", dir, name);
}

int tls_pki_load(tls_pki_t *pki, const tls_pki_opts_t *opts, unsigned *ret_changes, char *err,
                 size_t errlen) {
  int r;
  unsigned changes = 0;
  memset(pki, 0, sizeof(*pki));
  pki->leaf_seconds = opts->leaf_seconds;
  pki->dir = xasprintf("%s/server/tls", opts->data_dir);
  if ((r = fs_mkdir_p(pki->dir, 0700)) < 0) {
    errbuf_set(err, errlen, "create %s: %s", pki->dir, strerror(-r));
    goto out;
  }
  pair_paths(&pki->server_ca, pki->dir, "server-ca");
  pair_paths(&pki->client_ca, pki->dir, "client-ca");
  pair_paths(&pki->request_header_ca, pki->dir, "request-header-ca");
  pair_paths(&pki->serving, pki->dir, "serving-kube-apiserver");
  pair_paths(&pki->admin, pki->dir, "client-admin");
  pair_paths(&pki->kubelet_client, pki->dir, "client-kube-apiserver");
  pair_paths(&pki->auth_proxy, pki->dir, "client-auth-proxy");
  pki->sa_key_path = xasprintf("%s/service.key", pki->dir);

  /* The server CA is created last on a first start, so "server CA but no
   * client CA" means an older k3c's single-CA data dir, never a first
   * start cut short. */
  if ((r = read_pair(&pki->server_ca, err, errlen)) < 0 ||
      (r = read_pair(&pki->client_ca, err, errlen)) < 0)
    goto out;
  if (pki->server_ca.cert_pem && !pki->client_ca.cert_pem)
    r = migrate_client_ca(pki, opts, &changes, err, errlen);
  else
    r = load_ca(&pki->client_ca, "k3c-client-ca", opts, TLS_PKI_CLIENT_CA_CREATED, &changes, err,
                errlen);
  if (r < 0)
    goto out;
  if ((r = load_ca(&pki->request_header_ca, "k3c-request-header-ca", opts,
                   TLS_PKI_REQUEST_HEADER_CA_CREATED, &changes, err, errlen)) < 0)
    goto out;
  if ((r = load_ca(&pki->server_ca, "k3c-server-ca", opts, TLS_PKI_CA_CREATED, &changes, err,
                   errlen)) < 0)
    goto out;

  time_t now = now_of(opts);
  tls_cert_spec_t serving = {.cn = "kube-apiserver",
                             .usage = TLS_USAGE_SERVER,
                             .san = opts->serving_san,
                             .days = TLS_PKI_LEAF_DAYS,
                             .seconds = opts->leaf_seconds,
                             .now = now};
  if ((r = load_leaf(&pki->server_ca, &pki->serving, &serving, TLS_PKI_SERVING_ISSUED, &changes,
                     err, errlen)) < 0)
    goto out;

  static const char *const masters[] = {"system:masters", NULL};
  tls_cert_spec_t admin = {.cn = "system:admin",
                           .orgs = masters,
                           .usage = TLS_USAGE_CLIENT,
                           .days = TLS_PKI_LEAF_DAYS,
                           .seconds = opts->leaf_seconds,
                           .now = now};
  if ((r = load_leaf(&pki->client_ca, &pki->admin, &admin, TLS_PKI_ADMIN_ISSUED, &changes, err,
                     errlen)) < 0)
    goto out;
  /* pods/log, exec and the metrics of the kubelets: the kubelet API
   * verifies it with the client CA and allows system:kube-apiserver. */
  tls_cert_spec_t kubelet = admin;
  kubelet.cn = "system:kube-apiserver";
  if ((r = load_leaf(&pki->client_ca, &pki->kubelet_client, &kubelet,
                     TLS_PKI_KUBELET_CLIENT_ISSUED, &changes, err, errlen)) < 0)
    goto out;
  /* The front-proxy client of API aggregation (request-header CA). */
  tls_cert_spec_t proxy = admin;
  proxy.cn = "system:auth-proxy";
  proxy.orgs = NULL;
  if ((r = load_leaf(&pki->request_header_ca, &pki->auth_proxy, &proxy, TLS_PKI_AUTH_PROXY_ISSUED,
                     &changes, err, errlen)) < 0)
    goto out;
  if ((r = load_sa_key(pki, &changes, err, errlen)) < 0)
    goto out;
out:
  if (r < 0)
    tls_pki_done(pki);
  else if (ret_changes)
    *ret_changes = changes;
  return r;
}

int tls_pki_issue(const tls_pki_t *pki, const tls_cert_spec_t *spec, char **ret_cert_pem,
                  char **ret_key_pem, char *err, size_t errlen) {
  tls_cert_spec_t s = *spec;
  if (s.days == 0 && s.seconds == 0) {
    s.days = TLS_PKI_LEAF_DAYS;
    s.seconds = pki->leaf_seconds;
  }
  const tls_pki_pair_t *ca;
  if (s.usage == TLS_USAGE_CLIENT) {
    ca = &pki->client_ca;
  } else if (s.usage == TLS_USAGE_SERVER) {
    ca = &pki->server_ca;
  } else {
    errbuf_set(err, errlen, "a certificate is issued for clients or for serving, and no CA");
    return -EINVAL;
  }
  return tls_cert_issue(&s, ca->cert_pem, ca->key_pem, ret_cert_pem, ret_key_pem, err, errlen);
}

/* First usable address of a CIDR ("10.43.0.0/16" -> 10.43.0.1). */
static int cidr_first_ip(const char *cidr, char *out, size_t outlen) {
  char addr[INET6_ADDRSTRLEN + 8];
  const char *slash = strchr(cidr, '/');
  size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
  if (n == 0 || n >= sizeof(addr))
    return -EINVAL;
  memcpy(addr, cidr, n);
  addr[n] = '\0';
  unsigned char b[16];
  int af = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(af, addr, b) != 1)
    return -EINVAL;
  int len = af == AF_INET ? 4 : 16;
  for (int i = len - 1; i >= 0; i--)
    if (++b[i] != 0)
      break;
  if (!inet_ntop(af, b, out, (socklen_t)outlen))
    return -EINVAL;
  return 0;
}

static int add_host_addrs(tls_san_t *san, char *err, size_t errlen) {
  struct ifaddrs *ifa = NULL;
  if (getifaddrs(&ifa) < 0) {
    int r = -errno;
    errbuf_set(err, errlen, "list host addresses: %s", strerror(errno));
    return r;
  }
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr)
      continue;
    char text[INET6_ADDRSTRLEN];
    if (i->ifa_addr->sa_family == AF_INET) {
      const struct in_addr *a = &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
      const unsigned char *b = (const unsigned char *)a;
      if (b[0] == 127 || (b[0] == 169 && b[1] == 254))
        continue;
      inet_ntop(AF_INET, a, text, sizeof(text));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a))
        continue;
      inet_ntop(AF_INET6, a, text, sizeof(text));
    } else {
      continue;
    }
    tls_san_add_ip(san, text);
  }
  freeifaddrs(ifa);
  return 0;
}

int tls_pki_serving_san(tls_san_t *san, const char *hostname, const char *const *extra,
                        const char *const *node_ips, const char *service_cidr, char *err,
                        size_t errlen) {
  static const char *const fixed[] = {"localhost",
                                      "kubernetes",
                                      "kubernetes.default",
                                      "kubernetes.default.svc",
                                      "kubernetes.default.svc.cluster.local",
                                      "127.0.0.1",
                                      "::1",
                                      NULL};
  int r;
  for (const char *const *f = fixed; *f; f++)
    tls_san_add(san, *f);
  if (hostname && *hostname && tls_san_add_dns(san, hostname) < 0) {
    /* A host name that is not a valid DNS name is simply left out. */
  }
  if (service_cidr && *service_cidr) {
    char *copy = xstrdup(service_cidr), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      char ip[INET6_ADDRSTRLEN];
      if (cidr_first_ip(tok, ip, sizeof(ip)) < 0) {
        errbuf_set(err, errlen, "bad service CIDR \"%s\"", tok);
        free(copy);
        return -EINVAL;
      }
      tls_san_add_ip(san, ip);
    }
    free(copy);
  }
  if (node_ips && node_ips[0]) {
    for (const char *const *ip = node_ips; *ip; ip++) {
      if (tls_san_add_ip(san, *ip) < 0) {
        errbuf_set(err, errlen, "bad node IP \"%s\"", *ip);
        return -EINVAL;
      }
    }
  } else if ((r = add_host_addrs(san, err, errlen)) < 0) {
    return r;
  }
  if (extra) {
    for (const char *const *e = extra; *e; e++) {
      if (tls_san_add(san, *e) < 0) {
        errbuf_set(err, errlen, "bad --tls-san \"%s\": not a DNS name or IP address", *e);
        return -EINVAL;
      }
    }
  }
  return 0;
}
