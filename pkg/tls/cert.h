/* X.509 building blocks on mbedTLS 2.28: ECDSA P-256 keys, certificates
 * signed by a CA (or self-signed), the subjectAltName extension (which
 * mbedTLS 2.28 cannot write itself), and inspection of existing certs.
 *
 * All functions are pure library code: no logging, no global state, safe to
 * call from any thread (each call seeds its own DRBG). PEM strings in and out
 * are NUL-terminated; returned strings are malloc'd and freed by the caller.
 * Failures return a negative errno and, when err is non-NULL, a one-line
 * reason in err. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* A subjectAltName list: DNS names and IP addresses (4 or 16 bytes). */
typedef struct {
  unsigned char addr[16];
  size_t len; /* 4 or 16 */
} tls_ip_t;

typedef struct {
  char **dns; /* owned */
  size_t n_dns;
  tls_ip_t *ips;
  size_t n_ips;
} tls_san_t;

void tls_san_init(tls_san_t *s);
void tls_san_done(tls_san_t *s); /* accepts NULL */
/* Add a DNS name (lower-cased, duplicates ignored). -EINVAL if it is empty,
 * longer than 253 bytes or has characters outside [A-Za-z0-9.*_-]. */
int tls_san_add_dns(tls_san_t *s, const char *name);
/* Add an IPv4 or IPv6 address in text form. -EINVAL if not an address. */
int tls_san_add_ip(tls_san_t *s, const char *addr);
/* Add an IP if the text parses as one, else a DNS name. */
int tls_san_add(tls_san_t *s, const char *name_or_ip);
/* DER of the extension value (GeneralNames SEQUENCE), entries in a canonical
 * order (DNS names sorted, then IPs sorted) so equal sets encode equally.
 * Caller frees *ret_der. -EINVAL for an empty list. */
int tls_san_encode(const tls_san_t *s, unsigned char **ret_der, size_t *ret_len);

/* What a certificate is for. */
enum {
  TLS_USAGE_CA = 1 << 0,     /* basicConstraints CA, keyCertSign */
  TLS_USAGE_SERVER = 1 << 1, /* extKeyUsage serverAuth */
  TLS_USAGE_CLIENT = 1 << 2, /* extKeyUsage clientAuth */
};

typedef struct {
  const char *cn;           /* subject CommonName, required */
  const char *const *orgs;  /* subject O values, NULL-terminated, or NULL */
  unsigned usage;           /* TLS_USAGE_* */
  const tls_san_t *san;     /* subjectAltName, or NULL */
  int days;                 /* validity from now - 1h */
  time_t now;               /* 0 = time(NULL); tests move the clock */
  long seconds;             /* > 0: validity in seconds instead of days, and the
                             * back-dating for skew is min(1 h, seconds / 4):
                             * short-lived certificates for tests */
} tls_cert_spec_t;

/* Generate an ECDSA P-256 private key as PEM ("EC PRIVATE KEY"). */
int tls_key_generate(char **ret_key_pem, char *err, size_t errlen);

/* Create a certificate for key_pem's public key. With ca_cert_pem/ca_key_pem
 * NULL the certificate is self-signed with key_pem. */
int tls_cert_create(const tls_cert_spec_t *spec, const char *key_pem, const char *ca_cert_pem,
                    const char *ca_key_pem, char **ret_cert_pem, char *err, size_t errlen);

/* Generate a key and a certificate signed by the CA in one call. */
int tls_cert_issue(const tls_cert_spec_t *spec, const char *ca_cert_pem, const char *ca_key_pem,
                   char **ret_cert_pem, char **ret_key_pem, char *err, size_t errlen);

typedef struct {
  time_t not_before;
  time_t not_after;
  bool is_ca;
  unsigned usage; /* TLS_USAGE_SERVER / TLS_USAGE_CLIENT from extKeyUsage (and CA) */
  char cn[256];
} tls_cert_info_t;

/* Parse the first certificate of a PEM bundle. */
int tls_cert_info(const char *cert_pem, tls_cert_info_t *ret_info, char *err, size_t errlen);
/* When a leaf should be renewed: 90 days before not_after (k3s's rule), or
 * a third of its validity before when that is shorter (short-lived test
 * certificates). */
time_t tls_cert_renew_at(const tls_cert_info_t *info);
/* 1 if the certificate's subjectAltName encodes exactly the wanted set, 0 if
 * it differs or is absent, negative errno if the cert cannot be parsed. */
int tls_cert_san_matches(const char *cert_pem, const tls_san_t *want);
/* 0 if cert_pem is signed by ca_pem and within its validity at `now`
 * (0 = current time), -EKEYREJECTED otherwise, other negatives on parse
 * errors. */
int tls_cert_verify(const char *cert_pem, const char *ca_pem, time_t now);
/* 0 if the private key belongs to the certificate, -EKEYREJECTED if not. */
int tls_cert_key_matches(const char *cert_pem, const char *key_pem);
/* SHA-256 of the first certificate's DER as lower-case hex (64 chars + NUL). */
int tls_cert_fingerprint(const char *cert_pem, char ret_hex[65]);
/* SHA-256 of arbitrary bytes as lower-case hex. */
void tls_sha256_hex(const void *data, size_t len, char ret_hex[65]);
