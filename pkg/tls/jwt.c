/* Compact JWS with ES256 (RFC 7515 section 7.1, RFC 7518 section 3.4) on
 * mbedTLS 2.28, and the JWKS form of the key (RFC 7517, RFC 7518 6.2):
 * what service-account tokens and the OIDC discovery documents need.
 * Only ES256 is accepted on verify, so "alg":"none" and HMAC-with-the-
 * public-key confusions cannot arise. */
#include "tls/jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "util/alloc.h"
#include "util/base64.h"
#include "util/errbuf.h"

#define COORD 32 /* P-256 field and scalar size in bytes */

struct tls_jwt_key {
  mbedtls_pk_context pk;
  bool private_part;
  char kid[BASE64URL_LEN(32)];
  char x[BASE64URL_LEN(COORD)], y[BASE64URL_LEN(COORD)];
  char *public_pem;
};

void tls_jwt_key_free(tls_jwt_key_t *key) {
  if (!key)
    return;
  mbedtls_pk_free(&key->pk);
  free(key->public_pem);
  free(key);
}

int tls_jwt_key_load(const char *pem, tls_jwt_key_t **ret_key, char *err, size_t errlen) {
  int r = -EINVAL;
  if (!pem || !pem[0]) {
    errbuf_set(err, errlen, "no key");
    return -EINVAL;
  }
  tls_jwt_key_t *k = xcalloc(1, sizeof(*k));
  mbedtls_pk_init(&k->pk);
  size_t n = strlen(pem) + 1; /* mbedTLS wants the NUL of a PEM text counted */
  if (mbedtls_pk_parse_key(&k->pk, (const unsigned char *)pem, n, NULL, 0) == 0) {
    k->private_part = true;
  } else {
    mbedtls_pk_free(&k->pk);
    mbedtls_pk_init(&k->pk);
    if (mbedtls_pk_parse_public_key(&k->pk, (const unsigned char *)pem, n) != 0) {
      errbuf_set(err, errlen, "not a PEM private or public key");
      goto out;
    }
  }
  if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_ECKEY ||
      mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    errbuf_set(err, errlen, "not an EC P-256 key (ES256 needs one)");
    goto out;
  }
  /* kid: SHA-256 of the SubjectPublicKeyInfo DER. pk_write_pubkey_der
   * writes at the end of the buffer. */
  unsigned char der[256], digest[32];
  int len = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof(der));
  if (len <= 0) {
    errbuf_set(err, errlen, "cannot encode the public key");
    goto out;
  }
  mbedtls_sha256_ret(der + sizeof(der) - (size_t)len, (size_t)len, digest, 0);
  base64url_encode(digest, sizeof(digest), k->kid);
  const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
  unsigned char coord[COORD];
  if (mbedtls_mpi_write_binary(&ec->Q.X, coord, COORD) != 0)
    goto out;
  base64url_encode(coord, COORD, k->x);
  if (mbedtls_mpi_write_binary(&ec->Q.Y, coord, COORD) != 0)
    goto out;
  base64url_encode(coord, COORD, k->y);
  unsigned char pub[512];
  if (mbedtls_pk_write_pubkey_pem(&k->pk, pub, sizeof(pub)) != 0) {
    errbuf_set(err, errlen, "cannot encode the public key");
    goto out;
  }
  k->public_pem = xstrdup((const char *)pub);
  *ret_key = k;
  k = NULL;
  r = 0;
out:
  tls_jwt_key_free(k);
  return r;
}

const char *tls_jwt_key_id(const tls_jwt_key_t *key) { return key->kid; }
const char *tls_jwt_key_public_pem(const tls_jwt_key_t *key) { return key->public_pem; }

cJSON *tls_jwt_jwks(const tls_jwt_key_t *key) {
  cJSON *doc = cJSON_CreateObject();
  cJSON *keys = cJSON_AddArrayToObject(doc, "keys");
  cJSON *k = cJSON_CreateObject();
  cJSON_AddStringToObject(k, "use", "sig");
  cJSON_AddStringToObject(k, "kty", "EC");
  cJSON_AddStringToObject(k, "kid", key->kid);
  cJSON_AddStringToObject(k, "crv", "P-256");
  cJSON_AddStringToObject(k, "alg", "ES256");
  cJSON_AddStringToObject(k, "x", key->x);
  cJSON_AddStringToObject(k, "y", key->y);
  cJSON_AddItemToArray(keys, k);
  return doc;
}

/* base64url of a JSON value's compact text; caller frees. */
static char *b64_json(const cJSON *v) {
  char *text = cJSON_PrintUnformatted(v);
  if (!text)
    abort(); /* out of memory: the project's policy (docs) */
  size_t n = strlen(text);
  char *out = xmalloc(BASE64URL_LEN(n));
  base64url_encode(text, n, out);
  free(text);
  return out;
}

int tls_jwt_sign(const tls_jwt_key_t *key, const cJSON *claims, char **ret_token, char *err,
                 size_t errlen) {
  if (!cJSON_IsObject(claims)) {
    errbuf_set(err, errlen, "claims must be a JSON object");
    return -EINVAL;
  }
  if (!key->private_part) {
    errbuf_set(err, errlen, "a public key cannot sign");
    return -EINVAL;
  }
  int r = -EIO;
  cJSON *hdr = cJSON_CreateObject();
  cJSON_AddStringToObject(hdr, "alg", "ES256");
  cJSON_AddStringToObject(hdr, "kid", key->kid);
  char *h = b64_json(hdr), *p = b64_json(claims);
  cJSON_Delete(hdr);
  size_t hn = strlen(h), pn = strlen(p);
  char sig64[BASE64URL_LEN(2 * COORD)];
  char *token = xmalloc(hn + 1 + pn + 1 + sizeof(sig64));
  memcpy(token, h, hn);
  token[hn] = '.';
  memcpy(token + hn + 1, p, pn);
  size_t signed_len = hn + 1 + pn;

  unsigned char digest[32], rs[2 * COORD];
  mbedtls_sha256_ret((const unsigned char *)token, signed_len, digest, 0);
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_mpi sr, ss;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_mpi_init(&sr);
  mbedtls_mpi_init(&ss);
  static const unsigned char pers[] = "k3c-jwt";
  /* The group is not modified in a way other users could see, but
   * mbedTLS's prototype takes it non-const. */
  mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof(pers) - 1) != 0 ||
      mbedtls_ecdsa_sign(&ec->grp, &sr, &ss, &ec->d, digest, sizeof(digest),
                         mbedtls_ctr_drbg_random, &drbg) != 0 ||
      mbedtls_mpi_write_binary(&sr, rs, COORD) != 0 ||
      mbedtls_mpi_write_binary(&ss, rs + COORD, COORD) != 0) {
    errbuf_set(err, errlen, "ECDSA signing failed");
    free(token);
    goto out;
  }
  base64url_encode(rs, sizeof(rs), sig64);
  token[signed_len] = '.';
  memcpy(token + signed_len + 1, sig64, strlen(sig64) + 1);
  *ret_token = token;
  r = 0;
out:
  mbedtls_mpi_free(&sr);
  mbedtls_mpi_free(&ss);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  free(h);
  free(p);
  return r;
}

static bool b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool tls_jwt_looks_like(const char *token) {
  int parts = 1;
  size_t run = 0;
  for (const char *c = token; *c; c++) {
    if (*c == '.') {
      if (run == 0)
        return false;
      parts++;
      run = 0;
    } else if (b64url_char(*c)) {
      run++;
    } else {
      return false;
    }
  }
  return parts == 3 && run > 0;
}

/* Decode one part that must be a JSON object. */
static int part_json(const char *s, size_t n, const char *what, cJSON **ret, char *err,
                     size_t errlen) {
  unsigned char *raw = NULL;
  size_t len;
  if (base64url_decode(s, n, &raw, &len) < 0) {
    errbuf_set(err, errlen, "%s is not base64url", what);
    return -EINVAL;
  }
  cJSON *v = cJSON_ParseWithLength((const char *)raw, len);
  free(raw);
  if (!cJSON_IsObject(v)) {
    cJSON_Delete(v);
    errbuf_set(err, errlen, "%s is not a JSON object", what);
    return -EINVAL;
  }
  *ret = v;
  return 0;
}

int tls_jwt_verify(const tls_jwt_key_t *key, const char *token, cJSON **ret_claims, char *err,
                   size_t errlen) {
  size_t n = strnlen(token, TLS_JWT_MAX + 1);
  if (n > TLS_JWT_MAX) {
    errbuf_set(err, errlen, "token longer than %d bytes", TLS_JWT_MAX);
    return -EINVAL;
  }
  const char *d1 = memchr(token, '.', n);
  const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
  if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token))) {
    errbuf_set(err, errlen, "not a compact JWS (three dot-separated parts)");
    return -EINVAL;
  }
  cJSON *hdr = NULL, *claims = NULL;
  unsigned char *sig = NULL;
  size_t siglen = 0;
  mbedtls_mpi sr, ss;
  mbedtls_mpi_init(&sr);
  mbedtls_mpi_init(&ss);
  int r = part_json(token, (size_t)(d1 - token), "header", &hdr, err, errlen);
  if (r < 0)
    goto out;
  const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
  if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "ES256")) {
    errbuf_set(err, errlen, "unsupported signing algorithm %s (only ES256)",
               cJSON_IsString(alg) ? alg->valuestring : "(none)");
    r = -EINVAL;
    goto out;
  }
  if (cJSON_GetObjectItemCaseSensitive(hdr, "crit")) { /* RFC 7515 4.1.11 */
    errbuf_set(err, errlen, "unsupported critical header parameters");
    r = -EINVAL;
    goto out;
  }
  if ((r = part_json(d1 + 1, (size_t)(d2 - d1 - 1), "payload", &claims, err, errlen)) < 0)
    goto out;
  if (base64url_decode(d2 + 1, n - (size_t)(d2 + 1 - token), &sig, &siglen) < 0 ||
      siglen != 2 * COORD) {
    errbuf_set(err, errlen, "the signature is not 64 bytes of base64url");
    r = -EINVAL;
    goto out;
  }
  unsigned char digest[32];
  mbedtls_sha256_ret((const unsigned char *)token, (size_t)(d2 - token), digest, 0);
  mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  if (mbedtls_mpi_read_binary(&sr, sig, COORD) != 0 ||
      mbedtls_mpi_read_binary(&ss, sig + COORD, COORD) != 0 ||
      mbedtls_ecdsa_verify(&ec->grp, digest, sizeof(digest), &ec->Q, &sr, &ss) != 0) {
    errbuf_set(err, errlen, "invalid signature");
    r = -EKEYREJECTED;
    goto out;
  }
  *ret_claims = claims;
  claims = NULL;
  r = 0;
out:
  mbedtls_mpi_free(&sr);
  mbedtls_mpi_free(&ss);
  free(sig);
  cJSON_Delete(hdr);
  cJSON_Delete(claims);
  return r;
}
