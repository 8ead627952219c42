/* ES256 compact JWS (pkg/tls/jwt.c) and unpadded base64url
 * (pkg/util/base64.c). The fixed key and the token made from it were
 * produced with openssl (`openssl ecparam -genkey`, `openssl dgst -sha256
 * -sign`, DER signature converted to r||s), so the known answers are
 * independent of this code. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tls/cert.h"
#include "tls/jwt.h"
#include "util/base64.h"

static const char key_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEILM6S8+168pgQX0UIq/R+434ivQb3pCD32ECv/wsNCJxoAoGCCqGSM49\n"
    "AwEHoUQDQgAEwnkve6/saTCqSvgMxyetEzQrZxG+QpcTrppdozrlDyydyNvXlPBP\n"
    "JFxqBdzb7XfZgx4MPoZmTpBgCbzY69YfcQ==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwnkve6/saTCqSvgMxyetEzQrZxG+\n"
    "QpcTrppdozrlDyydyNvXlPBPJFxqBdzb7XfZgx4MPoZmTpBgCbzY69YfcQ==\n"
    "-----END PUBLIC KEY-----\n";
/* `openssl ec -pubout -outform DER | openssl dgst -sha256 -binary`, base64url */
static const char want_kid[] = "0m5C3fXavlA1tHP7hMAhfHCDxVXPIktESYXGli2w44g";
static const char want_x[] = "wnkve6_saTCqSvgMxyetEzQrZxG-QpcTrppdozrlDyw";
static const char want_y[] = "ncjb15TwTyRcagXc2-132YMeDD6GZk6QYAm82OvWH3E";
/* {"alg":"ES256","typ":"JWT"}.{"sub":"openssl","n":1}, signed by openssl */
static const char openssl_token[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcGVuc3NsIiwibiI6MX0."
    "OuJbdNSyFb2B6bVmQdwUGIaAJJyiHxp0JEr8AvmP-FOHbHPIEbuBzleniqv1yC-sMFGP-7O3srcApbjnKKMKMg";

static tls_jwt_key_t *load(const char *pem) {
  tls_jwt_key_t *k = NULL;
  char err[128] = "";
  int r = tls_jwt_key_load(pem, &k, err, sizeof(err));
  if (r != 0)
    TEST_FAIL("load: %d %s", r, err);
  return k;
}

static char *b64(const char *s) {
  char *out = malloc(BASE64URL_LEN(strlen(s)));
  base64url_encode(s, strlen(s), out);
  return out;
}

/* Sign {"sub":"x"} with k; caller frees. */
static char *sign_sub(tls_jwt_key_t *k, const char *sub) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "sub", sub);
  char *tok = NULL, err[128] = "";
  int r = tls_jwt_sign(k, c, &tok, err, sizeof(err));
  cJSON_Delete(c);
  if (r != 0)
    TEST_FAIL("sign: %d %s", r, err);
  return tok;
}

static int verify(tls_jwt_key_t *k, const char *tok, char *err, size_t errlen) {
  cJSON *claims = NULL;
  int r = tls_jwt_verify(k, tok, &claims, err, errlen);
  if (r == 0 && !claims)
    TEST_FAIL("verify succeeded without claims");
  if (r != 0 && claims)
    TEST_FAIL("verify failed but gave claims");
  cJSON_Delete(claims);
  return r;
}

static void test_base64url_known_answers(void) {
  static const char *const v[][2] = {{"", ""},       {"f", "Zg"},         {"fo", "Zm8"},
                                     {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"},
                                     {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char out[16];
    ASSERT_EQ_INT(base64url_encode(v[i][0], strlen(v[i][0]), out), strlen(v[i][1]));
    ASSERT_EQ_STR(out, v[i][1]);
    unsigned char *d = NULL;
    size_t n;
    ASSERT_EQ_INT(base64url_decode(v[i][1], strlen(v[i][1]), &d, &n), 0);
    ASSERT_EQ_INT(n, strlen(v[i][0]));
    ASSERT_TRUE(!memcmp(d, v[i][0], n));
    free(d);
  }
  /* the two characters that differ from standard base64 */
  const unsigned char raw[] = {0xfb, 0xff, 0xbf};
  char out[8];
  base64url_encode(raw, sizeof(raw), out);
  ASSERT_EQ_STR(out, "-_-_");
  unsigned char *d = NULL;
  size_t n;
  const char *bad[] = {"Zg==", "Z", "Zm9v+", "Zm9v/", "Zh", "Zm9", "Zm\n9v", NULL};
  /* "Zh" and "Zm9" leave non-zero bits after the last byte ("f" is "Zg",
   * "fo" is "Zm8"): a second spelling of the same bytes, refused */
  for (size_t i = 0; bad[i]; i++) {
    int r = base64url_decode(bad[i], strlen(bad[i]), &d, &n);
    if (r != -EINVAL)
      TEST_FAIL("\"%s\" decoded (%d)", bad[i], r);
  }
}

static void test_kid_and_jwks(void) {
  tls_jwt_key_t *k = load(key_pem), *p = load(pub_pem);
  ASSERT_EQ_STR(tls_jwt_key_id(k), want_kid);
  ASSERT_EQ_STR(tls_jwt_key_id(p), want_kid);
  ASSERT_EQ_STR(tls_jwt_key_public_pem(k), pub_pem);
  cJSON *jwks = tls_jwt_jwks(k);
  cJSON *key = cJSON_GetArrayItem(cJSON_GetObjectItem(jwks, "keys"), 0);
  ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(jwks, "keys")), 1);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "kty")), "EC");
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "crv")), "P-256");
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "alg")), "ES256");
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "use")), "sig");
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "kid")), want_kid);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "x")), want_x);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(key, "y")), want_y);
  cJSON_Delete(jwks);
  tls_jwt_key_free(k);
  tls_jwt_key_free(p);
}

static void test_round_trip(void) {
  tls_jwt_key_t *k = load(key_pem), *p = load(pub_pem);
  char *tok = sign_sub(k, "system:serviceaccount:default:default");
  ASSERT_TRUE(tls_jwt_looks_like(tok));
  /* header is exactly {"alg":"ES256","kid":…} */
  const char *dot = strchr(tok, '.');
  unsigned char *h = NULL;
  size_t hn;
  ASSERT_EQ_INT(base64url_decode(tok, (size_t)(dot - tok), &h, &hn), 0);
  char want[128];
  snprintf(want, sizeof(want), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", want_kid);
  ASSERT_EQ_STR((char *)h, want);
  free(h);
  /* the signature part is 64 bytes: 86 base64url characters */
  ASSERT_EQ_INT(strlen(strrchr(tok, '.') + 1), 86);
  cJSON *claims = NULL;
  char err[128] = "";
  ASSERT_EQ_INT(tls_jwt_verify(p, tok, &claims, err, sizeof(err)), 0);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(claims, "sub")),
                "system:serviceaccount:default:default");
  cJSON_Delete(claims);
  /* another key refuses it */
  char *other_pem = NULL;
  ASSERT_EQ_INT(tls_key_generate(&other_pem, err, sizeof(err)), 0);
  tls_jwt_key_t *o = load(other_pem);
  ASSERT_NE_INT(strcmp(tls_jwt_key_id(o), want_kid), 0);
  ASSERT_EQ_INT(verify(o, tok, err, sizeof(err)), -EKEYREJECTED);
  ASSERT_EQ_STR(err, "invalid signature");
  /* a public key cannot sign */
  cJSON *c = cJSON_CreateObject();
  char *t2 = NULL;
  ASSERT_EQ_INT(tls_jwt_sign(p, c, &t2, err, sizeof(err)), -EINVAL);
  ASSERT_NULL(t2);
  cJSON_Delete(c);
  free(other_pem);
  free(tok);
  tls_jwt_key_free(o);
  tls_jwt_key_free(k);
  tls_jwt_key_free(p);
}

static void test_openssl_token_accepted(void) {
  tls_jwt_key_t *p = load(pub_pem);
  cJSON *claims = NULL;
  char err[128] = "";
  ASSERT_EQ_INT(tls_jwt_verify(p, openssl_token, &claims, err, sizeof(err)), 0);
  ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(claims, "sub")), "openssl");
  cJSON_Delete(claims);
  tls_jwt_key_free(p);
}

/* Replace part i (0 header, 1 payload, 2 signature) of tok. */
static char *with_part(const char *tok, int i, const char *part) {
  const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
  const char *starts[] = {tok, d1 + 1, d2 + 1};
  const char *ends[] = {d1, d2, tok + strlen(tok)};
  size_t n = strlen(tok) + strlen(part) + 4, o = 0;
  char *out = malloc(n);
  for (int j = 0; j < 3; j++) {
    if (j)
      out[o++] = '.';
    const char *s = j == i ? part : starts[j];
    size_t len = j == i ? strlen(part) : (size_t)(ends[j] - starts[j]);
    memcpy(out + o, s, len);
    o += len;
  }
  out[o] = '\0';
  return out;
}

static void test_tampering_refused(void) {
  tls_jwt_key_t *k = load(key_pem);
  char *tok = sign_sub(k, "alice");
  char err[128];
  /* payload changed, signature kept */
  char *p = b64("{\"sub\":\"admin\"}");
  char *t = with_part(tok, 1, p);
  ASSERT_EQ_INT(verify(k, t, err, sizeof(err)), -EKEYREJECTED);
  free(t);
  free(p);
  /* header changed (still ES256), signature kept */
  char *h = b64("{\"alg\":\"ES256\",\"kid\":\"x\"}");
  t = with_part(tok, 0, h);
  ASSERT_EQ_INT(verify(k, t, err, sizeof(err)), -EKEYREJECTED);
  free(t);
  free(h);
  /* each byte of the signature flipped in turn */
  unsigned char *sig = NULL;
  size_t sn;
  const char *s64 = strrchr(tok, '.') + 1;
  ASSERT_EQ_INT(base64url_decode(s64, strlen(s64), &sig, &sn), 0);
  ASSERT_EQ_INT(sn, 64);
  for (size_t i = 0; i < sn; i++) {
    sig[i] ^= 0x01;
    char enc[BASE64URL_LEN(64)];
    base64url_encode(sig, sn, enc);
    t = with_part(tok, 2, enc);
    int r = verify(k, t, err, sizeof(err));
    free(t);
    if (r != -EKEYREJECTED)
      TEST_FAIL("signature byte %zu flipped: verify gave %d", i, r);
    sig[i] ^= 0x01;
  }
  /* r||s swapped */
  unsigned char sw[64];
  memcpy(sw, sig + 32, 32);
  memcpy(sw + 32, sig, 32);
  char enc[BASE64URL_LEN(64)];
  base64url_encode(sw, 64, enc);
  t = with_part(tok, 2, enc);
  ASSERT_EQ_INT(verify(k, t, err, sizeof(err)), -EKEYREJECTED);
  free(t);
  free(sig);
  free(tok);
  tls_jwt_key_free(k);
}

static void test_other_algorithms_refused(void) {
  tls_jwt_key_t *k = load(key_pem);
  char *tok = sign_sub(k, "alice");
  char err[128];
  const char *hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"HS256\"}", "{\"alg\":\"RS256\"}",
                        "{\"alg\":\"es256\"}", "{\"typ\":\"JWT\"}", "{\"alg\":1}",
                        "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", NULL};
  for (size_t i = 0; hdrs[i]; i++) {
    char *h = b64(hdrs[i]);
    char *t = with_part(tok, 0, h);
    int r = verify(k, t, err, sizeof(err));
    if (r != -EINVAL)
      TEST_FAIL("header %s: verify gave %d (%s)", hdrs[i], r, err);
    free(t);
    free(h);
  }
  /* alg none with an empty signature */
  char *h = b64("{\"alg\":\"none\"}"), *p = b64("{\"sub\":\"admin\"}");
  char none[256];
  snprintf(none, sizeof(none), "%s.%s.", h, p);
  ASSERT_EQ_INT(verify(k, none, err, sizeof(err)), -EINVAL);
  free(h);
  free(p);
  free(tok);
  tls_jwt_key_free(k);
}

static void test_malformed_refused(void) {
  tls_jwt_key_t *k = load(key_pem);
  char *tok = sign_sub(k, "alice");
  char err[128];
  const char *bad[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "abc", "a..c", "!!.??.**",
                       "eyJhbGciOiJFUzI1NiJ9.e30", NULL};
  for (size_t i = 0; bad[i]; i++) {
    int r = verify(k, bad[i], err, sizeof(err));
    if (r != -EINVAL)
      TEST_FAIL("\"%s\": verify gave %d", bad[i], r);
    ASSERT_FALSE(tls_jwt_looks_like(bad[i]));
  }
  /* a valid token with a fourth part */
  size_t fn = strlen(tok) + 4;
  char *four = malloc(fn);
  snprintf(four, fn, "%s.AA", tok);
  ASSERT_EQ_INT(verify(k, four, err, sizeof(err)), -EINVAL);
  free(four);
  /* payload not JSON / a JSON array / bad base64 */
  const char *payloads[] = {"bm90IGpzb24", "WzFd", "e30=", "e3"};
  for (size_t i = 0; i < 4; i++) {
    char *t = with_part(tok, 1, payloads[i]);
    ASSERT_EQ_INT(verify(k, t, err, sizeof(err)), -EINVAL);
    free(t);
  }
  /* signature of the wrong length */
  char *t = with_part(tok, 2, "AAAA");
  ASSERT_EQ_INT(verify(k, t, err, sizeof(err)), -EINVAL);
  free(t);
  /* huge: refused before decoding */
  size_t n = TLS_JWT_MAX + 100;
  char *huge = malloc(n + 1);
  memset(huge, 'A', n);
  huge[10] = '.';
  huge[n - 10] = '.';
  huge[n] = '\0';
  ASSERT_EQ_INT(verify(k, huge, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "longer than");
  free(huge);
  /* bad keys */
  tls_jwt_key_t *x = NULL;
  ASSERT_EQ_INT(tls_jwt_key_load("not a key", &x, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(tls_jwt_key_load("", &x, err, sizeof(err)), -EINVAL);
  ASSERT_NULL(x);
  free(tok);
  tls_jwt_key_free(k);
}

TEST_LIST = {
    TEST(test_base64url_known_answers),
    TEST(test_kid_and_jwks),
    TEST(test_round_trip),
    TEST(test_openssl_token_accepted),
    TEST(test_tampering_refused),
    TEST(test_other_algorithms_refused),
    TEST(test_malformed_refused),
    {0},
};
TEST_MAIN()
