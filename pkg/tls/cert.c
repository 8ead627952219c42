/* X.509 keys and certificates with mbedTLS 2.28 (RFC 5280): ECDSA P-256
 * keys, CA-signed or self-signed v3 certificates with basicConstraints,
 * keyUsage, extKeyUsage and subjectAltName (GeneralNames, RFC 5280 4.2.1.6,
 * encoded here because mbedTLS 2.28 has no SAN writer), and inspection. */
#include "tls/cert.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "util/errbuf.h"
#include "util/alloc.h"

#define PEM_MAX (64 * 1024)


/* Append ": <mbedTLS reason>" for an mbedTLS error code. */
static void set_mbed_err(char *err, size_t errlen, const char *what, int code) {
  char msg[160];
  mbedtls_strerror(code, msg, sizeof(msg));
  errbuf_set(err, errlen, "%s: %s (-0x%04x)", what, msg, (unsigned)-code);
}

/* ---- random numbers: one DRBG per call keeps this thread-safe ---- */

typedef struct {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
} rng_t;

static int rng_init(rng_t *rng) {
  static const unsigned char pers[] = "k3c-tls-cert";
  mbedtls_entropy_init(&rng->entropy);
  mbedtls_ctr_drbg_init(&rng->drbg);
  int r = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy, pers,
                                sizeof(pers) - 1);
  return r ? -EIO : 0;
}

static void rng_done(rng_t *rng) {
  mbedtls_ctr_drbg_free(&rng->drbg);
  mbedtls_entropy_free(&rng->entropy);
}

/* ---- subjectAltName ---- */

void tls_san_init(tls_san_t *s) { memset(s, 0, sizeof(*s)); }

void tls_san_done(tls_san_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_dns; i++)
    free(s->dns[i]);
  free(s->dns);
  free(s->ips);
  memset(s, 0, sizeof(*s));
}

int tls_san_add_dns(tls_san_t *s, const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 253)
    return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!isalnum(c) && c != '.' && c != '-' && c != '*' && c != '_')
      return -EINVAL;
  }
  char *low = xstrdup(name);
  for (size_t i = 0; i < n; i++)
    low[i] = (char)tolower((unsigned char)low[i]);
  for (size_t i = 0; i < s->n_dns; i++) {
    if (!strcmp(s->dns[i], low)) {
      free(low);
      return 0;
    }
  }
  s->dns = xrealloc(s->dns, (s->n_dns + 1) * sizeof(*s->dns));
  s->dns[s->n_dns++] = low;
  return 0;
}

static bool parse_ip(const char *text, tls_ip_t *ret) {
  tls_ip_t ip = {0};
  if (inet_pton(AF_INET, text, ip.addr) == 1)
    ip.len = 4;
  else if (inet_pton(AF_INET6, text, ip.addr) == 1)
    ip.len = 16;
  else
    return false;
  *ret = ip;
  return true;
}

int tls_san_add_ip(tls_san_t *s, const char *addr) {
  tls_ip_t ip;
  if (!parse_ip(addr, &ip))
    return -EINVAL;
  for (size_t i = 0; i < s->n_ips; i++)
    if (s->ips[i].len == ip.len && !memcmp(s->ips[i].addr, ip.addr, ip.len))
      return 0;
  s->ips = xrealloc(s->ips, (s->n_ips + 1) * sizeof(*s->ips));
  s->ips[s->n_ips++] = ip;
  return 0;
}

int tls_san_add(tls_san_t *s, const char *name_or_ip) {
  tls_ip_t ip;
  if (parse_ip(name_or_ip, &ip))
    return tls_san_add_ip(s, name_or_ip);
  return tls_san_add_dns(s, name_or_ip);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_ip(const void *a, const void *b) {
  const tls_ip_t *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->addr, y->addr, x->len);
}

int tls_san_encode(const tls_san_t *s, unsigned char **ret_der, size_t *ret_len) {
  if (s->n_dns + s->n_ips == 0)
    return -EINVAL;
  int r = 0;
  char **dns = xcalloc(s->n_dns + 1, sizeof(*dns));
  tls_ip_t *ips = xcalloc(s->n_ips + 1, sizeof(*ips));
  if (s->n_dns)
    memcpy(dns, s->dns, s->n_dns * sizeof(*dns));
  if (s->n_ips)
    memcpy(ips, s->ips, s->n_ips * sizeof(*ips));
  qsort(dns, s->n_dns, sizeof(*dns), cmp_str);
  qsort(ips, s->n_ips, sizeof(*ips), cmp_ip);

  size_t cap = 16;
  for (size_t i = 0; i < s->n_dns; i++)
    cap += strlen(dns[i]) + 8;
  cap += s->n_ips * 24;
  unsigned char *buf = xmalloc(cap);
  unsigned char *p = buf + cap;
  size_t len = 0;
  int w;
  /* ASN.1 is written back to front: last entry first. */
  for (size_t i = s->n_ips; i-- > 0;) {
    size_t l = 0;
    if ((w = mbedtls_asn1_write_raw_buffer(&p, buf, ips[i].addr, ips[i].len)) < 0)
      goto fail;
    l += (size_t)w;
    if ((w = mbedtls_asn1_write_len(&p, buf, l)) < 0)
      goto fail;
    l += (size_t)w;
    if ((w = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)) < 0)
      goto fail;
    len += l + (size_t)w;
  }
  for (size_t i = s->n_dns; i-- > 0;) {
    size_t l = 0;
    if ((w = mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)dns[i],
                                           strlen(dns[i]))) < 0)
      goto fail;
    l += (size_t)w;
    if ((w = mbedtls_asn1_write_len(&p, buf, l)) < 0)
      goto fail;
    l += (size_t)w;
    if ((w = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) < 0)
      goto fail;
    len += l + (size_t)w;
  }
  if ((w = mbedtls_asn1_write_len(&p, buf, len)) < 0)
    goto fail;
  len += (size_t)w;
  if ((w = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
    goto fail;
  len += (size_t)w;
  unsigned char *der = xmalloc(len);
  memcpy(der, p, len);
  *ret_der = der;
  *ret_len = len;
  goto out;
fail:
  r = -ENOBUFS;
out:
  free(buf);
  free(dns);
  free(ips);
  return r;
}

/* ---- certificate creation ---- */

static int parse_key(mbedtls_pk_context *pk, const char *pem) {
  return mbedtls_pk_parse_key(pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0);
}

static int parse_crt(mbedtls_x509_crt *crt, const char *pem) {
  return mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1);
}

int tls_key_generate(char **ret_key_pem, char *err, size_t errlen) {
  int r = 0, m;
  rng_t rng;
  mbedtls_pk_context pk;
  unsigned char *buf = NULL;
  mbedtls_pk_init(&pk);
  if ((r = rng_init(&rng)) < 0) {
    errbuf_set(err, errlen, "cannot seed the random number generator");
    goto out_rng;
  }
  if ((m = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
      (m = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random,
                               &rng.drbg)) != 0) {
    set_mbed_err(err, errlen, "generate EC key", m);
    r = -EIO;
    goto out;
  }
  buf = xmalloc(PEM_MAX);
  if ((m = mbedtls_pk_write_key_pem(&pk, buf, PEM_MAX)) != 0) {
    set_mbed_err(err, errlen, "write key PEM", m);
    r = -EIO;
    goto out;
  }
  *ret_key_pem = xstrdup((char *)buf);
out:
  rng_done(&rng);
out_rng:
  if (buf)
    mbedtls_platform_zeroize(buf, PEM_MAX);
  free(buf);
  mbedtls_pk_free(&pk);
  return r;
}

/* Prepend one RDN to an mbedTLS name list; the writer emits the list in
 * reverse, so prepending in subject order yields that order in the DER. */
static void name_prepend(mbedtls_asn1_named_data **head, const char *oid, size_t oid_len,
                         const char *val) {
  mbedtls_asn1_named_data *n = xcalloc(1, sizeof(*n));
  n->oid.tag = MBEDTLS_ASN1_OID;
  n->oid.len = oid_len;
  n->oid.p = xmalloc(oid_len);
  memcpy(n->oid.p, oid, oid_len);
  n->val.tag = MBEDTLS_ASN1_UTF8_STRING;
  n->val.len = strlen(val);
  n->val.p = (unsigned char *)xstrndup(val, n->val.len);
  n->next = *head;
  *head = n;
}

static void fmt_time(time_t t, char out[16]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int write_eku(mbedtls_x509write_cert *crt, unsigned usage) {
  unsigned char buf[64];
  unsigned char *p = buf + sizeof(buf);
  size_t len = 0;
  int w;
  if (usage & TLS_USAGE_CLIENT) {
    if ((w = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_CLIENT_AUTH,
                                    MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))) < 0)
      return w;
    len += (size_t)w;
  }
  if (usage & TLS_USAGE_SERVER) {
    if ((w = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH,
                                    MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))) < 0)
      return w;
    len += (size_t)w;
  }
  if ((w = mbedtls_asn1_write_len(&p, buf, len)) < 0)
    return w;
  len += (size_t)w;
  if ((w = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
    return w;
  len += (size_t)w;
  return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                             MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                             p, len);
}

int tls_cert_create(const tls_cert_spec_t *spec, const char *key_pem, const char *ca_cert_pem,
                    const char *ca_key_pem, char **ret_cert_pem, char *err, size_t errlen) {
  int r = 0, m = 0;
  const char *what = "";
  rng_t rng;
  bool rng_ok = false;
  mbedtls_pk_context key, ca_key;
  mbedtls_x509_crt ca;
  mbedtls_x509write_cert crt;
  mbedtls_mpi serial;
  unsigned char *buf = NULL, *san_der = NULL;
  size_t san_len = 0;
  bool self_signed = !ca_cert_pem;

  mbedtls_pk_init(&key);
  mbedtls_pk_init(&ca_key);
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi_init(&serial);

  if (!spec->cn || !*spec->cn || (spec->days <= 0 && spec->seconds <= 0) ||
      (!ca_cert_pem != !ca_key_pem)) {
    errbuf_set(err, errlen, "bad certificate request");
    r = -EINVAL;
    goto out;
  }
  if ((r = rng_init(&rng)) < 0) {
    errbuf_set(err, errlen, "cannot seed the random number generator");
    goto out;
  }
  rng_ok = true;
  if ((m = parse_key(&key, key_pem)) != 0) {
    what = "parse private key";
    goto mbed_fail;
  }
  if (!self_signed) {
    if ((m = parse_crt(&ca, ca_cert_pem)) != 0) {
      what = "parse CA certificate";
      goto mbed_fail;
    }
    if ((m = parse_key(&ca_key, ca_key_pem)) != 0) {
      what = "parse CA key";
      goto mbed_fail;
    }
  }

  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, &key);
  mbedtls_x509write_crt_set_issuer_key(&crt, self_signed ? &key : &ca_key);

  /* Subject: O values then CN. */
  if (spec->orgs)
    for (const char *const *o = spec->orgs; *o; o++)
      name_prepend(&crt.subject, MBEDTLS_OID_AT_ORGANIZATION,
                   MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION), *o);
  name_prepend(&crt.subject, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), spec->cn);
  if (self_signed) {
    if (spec->orgs)
      for (const char *const *o = spec->orgs; *o; o++)
        name_prepend(&crt.issuer, MBEDTLS_OID_AT_ORGANIZATION,
                     MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION), *o);
    name_prepend(&crt.issuer, MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN), spec->cn);
  } else {
    /* Copy the CA's subject with its string tags so issuer and subject
     * DER compare equal byte for byte (Go matches them that way). */
    for (const mbedtls_x509_name *n = &ca.subject; n; n = n->next) {
      if (!n->oid.p)
        continue;
      name_prepend(&crt.issuer, (const char *)n->oid.p, n->oid.len, "");
      free(crt.issuer->val.p);
      crt.issuer->val.tag = n->val.tag;
      crt.issuer->val.len = n->val.len;
      crt.issuer->val.p = xmalloc(n->val.len + 1);
      memcpy(crt.issuer->val.p, n->val.p, n->val.len);
    }
  }

  /* Serial: 16 random bytes, positive. */
  unsigned char sb[16];
  if ((m = mbedtls_ctr_drbg_random(&rng.drbg, sb, sizeof(sb))) != 0) {
    what = "random serial";
    goto mbed_fail;
  }
  sb[0] &= 0x7f;
  sb[0] |= 0x01;
  if ((m = mbedtls_mpi_read_binary(&serial, sb, sizeof(sb))) != 0 ||
      (m = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0) {
    what = "set serial";
    goto mbed_fail;
  }

  time_t now = spec->now ? spec->now : time(NULL);
  char nb[16], na[16];
  if (spec->seconds > 0) {
    time_t skew = spec->seconds / 4 < 3600 ? (time_t)(spec->seconds / 4) : 3600;
    fmt_time(now - skew, nb);
    fmt_time(now + (time_t)spec->seconds, na);
  } else {
    fmt_time(now - 3600, nb);
    fmt_time(now + (time_t)spec->days * 86400, na);
  }
  if ((m = mbedtls_x509write_crt_set_validity(&crt, nb, na)) != 0) {
    what = "set validity";
    goto mbed_fail;
  }

  bool is_ca = spec->usage & TLS_USAGE_CA;
  if ((m = mbedtls_x509write_crt_set_basic_constraints(&crt, is_ca, is_ca ? -1 : 0)) != 0) {
    what = "set basicConstraints";
    goto mbed_fail;
  }
  unsigned ku = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  if (is_ca)
    ku |= MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
  else
    ku |= MBEDTLS_X509_KU_KEY_ENCIPHERMENT;
  if ((m = mbedtls_x509write_crt_set_key_usage(&crt, ku)) != 0) {
    what = "set keyUsage";
    goto mbed_fail;
  }
  if ((m = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) != 0 ||
      (m = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) != 0) {
    what = "set key identifiers";
    goto mbed_fail;
  }
  if ((spec->usage & (TLS_USAGE_SERVER | TLS_USAGE_CLIENT)) && (m = write_eku(&crt, spec->usage)) != 0) {
    what = "set extKeyUsage";
    goto mbed_fail;
  }
  if (spec->san && spec->san->n_dns + spec->san->n_ips > 0) {
    if ((r = tls_san_encode(spec->san, &san_der, &san_len)) < 0) {
      errbuf_set(err, errlen, "encode subjectAltName: %s", strerror(-r));
      goto out;
    }
    if ((m = mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                 san_der, san_len)) != 0) {
      what = "set subjectAltName";
      goto mbed_fail;
    }
  }

  buf = xmalloc(PEM_MAX);
  if ((m = mbedtls_x509write_crt_pem(&crt, buf, PEM_MAX, mbedtls_ctr_drbg_random, &rng.drbg)) != 0) {
    what = "sign certificate";
    goto mbed_fail;
  }
  *ret_cert_pem = xstrdup((char *)buf);
  goto out;

mbed_fail:
  set_mbed_err(err, errlen, what, m);
  r = -EINVAL;
out:
  free(buf);
  free(san_der);
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  mbedtls_x509_crt_free(&ca);
  mbedtls_pk_free(&ca_key);
  mbedtls_pk_free(&key);
  if (rng_ok)
    rng_done(&rng);
  return r;
}

int tls_cert_issue(const tls_cert_spec_t *spec, const char *ca_cert_pem, const char *ca_key_pem,
                   char **ret_cert_pem, char **ret_key_pem, char *err, size_t errlen) {
  char *key = NULL, *cert = NULL;
  int r = tls_key_generate(&key, err, errlen);
  if (r < 0)
    return r;
  r = tls_cert_create(spec, key, ca_cert_pem, ca_key_pem, &cert, err, errlen);
  if (r < 0) {
    free(key);
    return r;
  }
  *ret_cert_pem = cert;
  *ret_key_pem = key;
  return 0;
}

/* ---- inspection ---- */

static time_t x509_time_to_unix(const mbedtls_x509_time *t) {
  struct tm tm = {0};
  tm.tm_year = t->year - 1900;
  tm.tm_mon = t->mon - 1;
  tm.tm_mday = t->day;
  tm.tm_hour = t->hour;
  tm.tm_min = t->min;
  tm.tm_sec = t->sec;
  return timegm(&tm);
}

int tls_cert_info(const char *cert_pem, tls_cert_info_t *ret_info, char *err, size_t errlen) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int m = parse_crt(&crt, cert_pem);
  if (m != 0) {
    set_mbed_err(err, errlen, "parse certificate", m);
    mbedtls_x509_crt_free(&crt);
    return -EINVAL;
  }
  tls_cert_info_t info = {0};
  info.not_before = x509_time_to_unix(&crt.valid_from);
  info.not_after = x509_time_to_unix(&crt.valid_to);
  info.is_ca = crt.ca_istrue;
  if (info.is_ca)
    info.usage |= TLS_USAGE_CA;
  if (crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) {
    if (mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0)
      info.usage |= TLS_USAGE_SERVER;
    if (mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0)
      info.usage |= TLS_USAGE_CLIENT;
  }
  for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next) {
    if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
      size_t l = n->val.len < sizeof(info.cn) - 1 ? n->val.len : sizeof(info.cn) - 1;
      memcpy(info.cn, n->val.p, l);
      info.cn[l] = '\0';
      break;
    }
  }
  mbedtls_x509_crt_free(&crt);
  *ret_info = info;
  return 0;
}

time_t tls_cert_renew_at(const tls_cert_info_t *info) {
  time_t life = info->not_after - info->not_before;
  time_t before = (time_t)90 * 86400;
  if (life / 3 < before)
    before = life / 3;
  return info->not_after - before;
}

/* Find the subjectAltName extension value (the GeneralNames DER) in the raw
 * v3 extensions of a parsed certificate. */
static int find_san_ext(const mbedtls_x509_crt *crt, const unsigned char **ret_p, size_t *ret_len) {
  unsigned char *p = crt->v3_ext.p;
  if (!p || crt->v3_ext.len == 0)
    return -ENOENT;
  const unsigned char *end = p + crt->v3_ext.len;
  size_t len;
  if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
      mbedtls_asn1_get_tag(&p, end, &len, *p) != 0)
    return -EINVAL;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
    return -EINVAL;
  end = p + len;
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
      return -EINVAL;
    const unsigned char *ext_end = p + len;
    size_t oid_len;
    if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID) != 0)
      return -EINVAL;
    bool is_san = oid_len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME) &&
                  !memcmp(p, MBEDTLS_OID_SUBJECT_ALT_NAME, oid_len);
    p += oid_len;
    if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN) {
      int crit;
      if (mbedtls_asn1_get_bool(&p, ext_end, &crit) != 0)
        return -EINVAL;
    }
    size_t vlen;
    if (mbedtls_asn1_get_tag(&p, ext_end, &vlen, MBEDTLS_ASN1_OCTET_STRING) != 0)
      return -EINVAL;
    if (is_san) {
      *ret_p = p;
      *ret_len = vlen;
      return 0;
    }
    p = (unsigned char *)ext_end;
  }
  return -ENOENT;
}

int tls_cert_san_matches(const char *cert_pem, const tls_san_t *want) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  unsigned char *der = NULL;
  size_t der_len = 0;
  int r;
  if (parse_crt(&crt, cert_pem) != 0) {
    r = -EINVAL;
    goto out;
  }
  const unsigned char *have;
  size_t have_len;
  r = find_san_ext(&crt, &have, &have_len);
  if (r == -ENOENT) {
    r = want->n_dns + want->n_ips == 0;
    goto out;
  }
  if (r < 0)
    goto out;
  if (tls_san_encode(want, &der, &der_len) < 0) {
    r = 0;
    goto out;
  }
  r = der_len == have_len && !memcmp(der, have, der_len);
out:
  free(der);
  mbedtls_x509_crt_free(&crt);
  return r;
}

int tls_cert_verify(const char *cert_pem, const char *ca_pem, time_t now) {
  mbedtls_x509_crt crt, ca;
  mbedtls_x509_crt_init(&crt);
  mbedtls_x509_crt_init(&ca);
  int r = 0;
  uint32_t flags = 0;
  if (parse_crt(&crt, cert_pem) != 0 || parse_crt(&ca, ca_pem) != 0) {
    r = -EINVAL;
    goto out;
  }
  mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL);
  /* Validity is checked against `now` below, not the wall clock. */
  flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
  if (!now)
    now = time(NULL);
  if (flags != 0 || now < x509_time_to_unix(&crt.valid_from) ||
      now > x509_time_to_unix(&crt.valid_to))
    r = -EKEYREJECTED;
out:
  mbedtls_x509_crt_free(&crt);
  mbedtls_x509_crt_free(&ca);
  return r;
}

int tls_cert_key_matches(const char *cert_pem, const char *key_pem) {
  mbedtls_x509_crt crt;
  mbedtls_pk_context key;
  mbedtls_x509_crt_init(&crt);
  mbedtls_pk_init(&key);
  int r = 0;
  if (parse_crt(&crt, cert_pem) != 0 || parse_key(&key, key_pem) != 0)
    r = -EINVAL;
  else if (mbedtls_pk_check_pair(&crt.pk, &key) != 0)
    r = -EKEYREJECTED;
  mbedtls_x509_crt_free(&crt);
  mbedtls_pk_free(&key);
  return r;
}

void tls_sha256_hex(const void *data, size_t len, char ret_hex[65]) {
  unsigned char sum[32];
  mbedtls_sha256_ret(data, len, sum, 0);
  for (int i = 0; i < 32; i++)
    snprintf(ret_hex + 2 * i, 3, "%02x", sum[i]);
}

int tls_cert_fingerprint(const char *cert_pem, char ret_hex[65]) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int r = 0;
  if (parse_crt(&crt, cert_pem) != 0)
    r = -EINVAL;
  else
    tls_sha256_hex(crt.raw.p, crt.raw.len, ret_hex);
  mbedtls_x509_crt_free(&crt);
  return r;
}
