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


void tls_pki_done(tls_pki_t *pki) {
  if (!pki)
    return;
  char **fields[] = {&pki->dir,          &pki->ca_cert_path,      &pki->ca_key_path,
                     &pki->serving_cert_path, &pki->serving_key_path, &pki->admin_cert_path,
                     &pki->admin_key_path, &pki->ca_cert_pem,      &pki->ca_key_pem,
                     &pki->serving_cert_pem, &pki->serving_key_pem, &pki->admin_cert_pem,
                     &pki->admin_key_pem, &pki->sa_key_path, &pki->sa_key_pem};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    free(*fields[i]);
    *fields[i] = NULL;
  }
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

static int load_ca(tls_pki_t *pki, const tls_pki_opts_t *opts, unsigned *changes, char *err,
                   size_t errlen) {
  int r;
  if ((r = read_opt(pki->ca_cert_path, &pki->ca_cert_pem, err, errlen)) < 0 ||
      (r = read_opt(pki->ca_key_path, &pki->ca_key_pem, err, errlen)) < 0)
    return r;
  if (pki->ca_cert_pem) {
    /* An existing CA is never replaced: every issued certificate and join
     * token depends on it. Refuse to start instead. */
    tls_cert_info_t info;
    if (!pki->ca_key_pem) {
      errbuf_set(err, errlen, "%s exists but %s is missing", pki->ca_cert_path, pki->ca_key_path);
      return -ENOENT;
    }
    if ((r = tls_cert_info(pki->ca_cert_pem, &info, err, errlen)) < 0)
      return r;
    if (!info.is_ca) {
      errbuf_set(err, errlen, "%s is not a CA certificate", pki->ca_cert_path);
      return -EINVAL;
    }
    if (tls_cert_key_matches(pki->ca_cert_pem, pki->ca_key_pem) != 0) {
      errbuf_set(err, errlen, "%s does not match %s", pki->ca_key_path, pki->ca_cert_path);
      return -EKEYREJECTED;
    }
    if (info.not_after <= now_of(opts)) {
      errbuf_set(err, errlen, "cluster CA %s has expired", pki->ca_cert_path);
      return -EKEYEXPIRED;
    }
    return 0;
  }
  /* No CA certificate: create one (a stray key from an interrupted first
   * start signed nothing and is replaced). */
  free(pki->ca_key_pem);
  pki->ca_key_pem = NULL;
  time_t now = now_of(opts);
  char cn[64];
  snprintf(cn, sizeof(cn), "k3c-server-ca@%lld", (long long)now);
  tls_cert_spec_t spec = {.cn = cn, .usage = TLS_USAGE_CA, .days = TLS_PKI_CA_DAYS, .now = now};
  char *key = NULL, *cert = NULL;
  if ((r = tls_key_generate(&key, err, errlen)) < 0)
    return r;
  if ((r = tls_cert_create(&spec, key, NULL, NULL, &cert, err, errlen)) < 0) {
    free(key);
    return r;
  }
  pki->ca_cert_pem = cert;
  pki->ca_key_pem = key;
  if ((r = write_pair(pki->ca_cert_path, cert, pki->ca_key_path, key, err, errlen)) < 0)
    return r;
  *changes |= TLS_PKI_CA_CREATED;
  return 0;
}

/* Whether an existing leaf pair can be kept. */
static bool leaf_ok(const tls_pki_t *pki, const char *cert, const char *key, const tls_san_t *san,
                    time_t now) {
  tls_cert_info_t info;
  if (!cert || !key)
    return false;
  if (tls_cert_info(cert, &info, NULL, 0) < 0)
    return false;
  if (info.not_after - now < (time_t)TLS_PKI_RENEW_DAYS * 86400)
    return false;
  if (tls_cert_verify(cert, pki->ca_cert_pem, now) != 0)
    return false;
  if (tls_cert_key_matches(cert, key) != 0)
    return false;
  if (san && tls_cert_san_matches(cert, san) != 1)
    return false;
  return true;
}

static int load_leaf(tls_pki_t *pki, const char *cert_path, const char *key_path, char **cert_pem,
                     char **key_pem, const tls_cert_spec_t *spec, unsigned bit, unsigned *changes,
                     char *err, size_t errlen) {
  int r;
  if ((r = read_opt(cert_path, cert_pem, err, errlen)) < 0 ||
      (r = read_opt(key_path, key_pem, err, errlen)) < 0)
    return r;
  if (leaf_ok(pki, *cert_pem, *key_pem, spec->san, spec->now))
    return 0;
  free(*cert_pem);
  free(*key_pem);
  *cert_pem = *key_pem = NULL;
  char *cert = NULL, *key = NULL;
  if ((r = tls_cert_issue(spec, pki->ca_cert_pem, pki->ca_key_pem, &cert, &key, err, errlen)) < 0)
    return r;
  *cert_pem = cert;
  *key_pem = key;
  if ((r = write_pair(cert_path, cert, key_path, key, err, errlen)) < 0)
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

int tls_pki_load(tls_pki_t *pki, const tls_pki_opts_t *opts, unsigned *ret_changes, char *err,
                 size_t errlen) {
  int r;
  unsigned changes = 0;
  memset(pki, 0, sizeof(*pki));
  pki->dir = xasprintf("%s/server/tls", opts->data_dir);
  if ((r = fs_mkdir_p(pki->dir, 0700)) < 0) {
    errbuf_set(err, errlen, "create %s: %s", pki->dir, strerror(-r));
    goto out;
  }
  pki->ca_cert_path = xasprintf("%s/server-ca.crt", pki->dir);
  pki->ca_key_path = xasprintf("%s/server-ca.key", pki->dir);
  pki->serving_cert_path = xasprintf("%s/serving-kube-apiserver.crt", pki->dir);
  pki->serving_key_path = xasprintf("%s/serving-kube-apiserver.key", pki->dir);
  pki->admin_cert_path = xasprintf("%s/client-admin.crt", pki->dir);
  pki->admin_key_path = xasprintf("%s/client-admin.key", pki->dir);
  pki->sa_key_path = xasprintf("%s/service.key", pki->dir);

  if ((r = load_ca(pki, opts, &changes, err, errlen)) < 0)
    goto out;

  time_t now = now_of(opts);
  tls_cert_spec_t serving = {.cn = "kube-apiserver",
                             .usage = TLS_USAGE_SERVER,
                             .san = opts->serving_san,
                             .days = TLS_PKI_LEAF_DAYS,
                             .now = now};
  if ((r = load_leaf(pki, pki->serving_cert_path, pki->serving_key_path, &pki->serving_cert_pem,
                     &pki->serving_key_pem, &serving, TLS_PKI_SERVING_ISSUED, &changes, err,
                     errlen)) < 0)
    goto out;

  static const char *const admin_orgs[] = {"system:masters", NULL};
  tls_cert_spec_t admin = {.cn = "system:admin",
                           .orgs = admin_orgs,
                           .usage = TLS_USAGE_CLIENT,
                           .days = TLS_PKI_LEAF_DAYS,
                           .now = now};
  if ((r = load_leaf(pki, pki->admin_cert_path, pki->admin_key_path, &pki->admin_cert_pem,
                     &pki->admin_key_pem, &admin, TLS_PKI_ADMIN_ISSUED, &changes, err, errlen)) < 0)
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
  if (s.days == 0)
    s.days = TLS_PKI_LEAF_DAYS;
  if (s.usage & TLS_USAGE_CA) {
    errbuf_set(err, errlen, "refusing to issue an intermediate CA");
    return -EINVAL;
  }
  return tls_cert_issue(&s, pki->ca_cert_pem, pki->ca_key_pem, ret_cert_pem, ret_key_pem, err,
                        errlen);
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
