/* JSON Web Tokens in the compact JWS form (RFC 7515, 7519) signed with
 * ES256 only (ECDSA P-256 + SHA-256, RFC 7518 3.4: the signature is r||s,
 * 64 bytes), the form Kubernetes service-account tokens take; and the JWKS
 * document (RFC 7517) that publishes the public key.
 *
 * Library code: no logging, no globals. Use one tls_jwt_key_t from one
 * thread at a time (mbedTLS may cache tables in the key's curve group);
 * each sign seeds its own DRBG.
 * Reasons are one line in err (when non-NULL). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Tokens longer than this are refused before any decoding. */
#define TLS_JWT_MAX 16384

typedef struct tls_jwt_key tls_jwt_key_t;

/* Load an EC P-256 key from PEM: a private key ("EC PRIVATE KEY" or
 * PKCS#8; it can sign and verify) or a public key ("PUBLIC KEY"; verify
 * only). *ret_key is set on success (free with tls_jwt_key_free).
 * -EINVAL for an unparseable key or another curve/type. */
int tls_jwt_key_load(const char *pem, tls_jwt_key_t **ret_key, char *err, size_t errlen);
void tls_jwt_key_free(tls_jwt_key_t *key); /* accepts NULL */
/* The key id: base64url (no padding) of the SHA-256 of the public key's
 * SubjectPublicKeyInfo DER, as kube-apiserver computes it. Owned by key. */
const char *tls_jwt_key_id(const tls_jwt_key_t *key);
/* The public key as PEM ("PUBLIC KEY"). Owned by key. */
const char *tls_jwt_key_public_pem(const tls_jwt_key_t *key);
/* {"keys":[{"use":"sig","kty":"EC","kid":…,"crv":"P-256","alg":"ES256",
 * "x":…,"y":…}]}; the caller frees with cJSON_Delete. */
cJSON *tls_jwt_jwks(const tls_jwt_key_t *key);

/* Sign claims (a JSON object, not modified) into a token with the header
 * {"alg":"ES256","kid":<key id>}. *ret_token is malloc'd on success.
 * -EINVAL if claims is not an object or the key has no private part. */
int tls_jwt_sign(const tls_jwt_key_t *key, const cJSON *claims, char **ret_token, char *err,
                 size_t errlen);

/* Check a token's form and signature (header alg must be ES256; "none",
 * HMAC and anything else are refused) and return its claims object in
 * *ret_claims (caller frees). Times (exp, nbf) are NOT checked here: the
 * caller applies its own rules. Returns 0, -EINVAL for a malformed token
 * (not three parts, bad base64url, not JSON objects, too long) or
 * -EKEYREJECTED for a bad signature, always with a reason in err. */
int tls_jwt_verify(const tls_jwt_key_t *key, const char *token, cJSON **ret_claims, char *err,
                   size_t errlen);

/* Cheap test of the shape only: three non-empty dot-separated parts of
 * base64url characters. Lets callers route a bearer token. */
bool tls_jwt_looks_like(const char *token);

