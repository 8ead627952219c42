/* libFuzzer harness for pkg/tls/jwt.c and the base64url of pkg/util/base64.c
 * (bearer tokens come from any client): verify must never crash, must give
 * claims exactly when it accepts, and an accepted token must verify again
 * the same way; base64url that decodes must encode back to the same text.
 * The key is fixed, so only a corpus token it signed can be accepted. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/jwt.h"
#include "util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwnkve6/saTCqSvgMxyetEzQrZxG+\n"
    "QpcTrppdozrlDyydyNvXlPBPJFxqBdzb7XfZgx4MPoZmTpBgCbzY69YfcQ==\n"
    "-----END PUBLIC KEY-----\n";

static tls_jwt_key_t *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!key && tls_jwt_key_load(key_pem, &key, NULL, 0) < 0)
    abort();
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  char err[160] = "";
  cJSON *claims = NULL;
  int r = tls_jwt_verify(key, text, &claims, err, sizeof(err));
  if (r == 0) {
    cJSON *again = NULL;
    if (!cJSON_IsObject(claims) || tls_jwt_verify(key, text, &again, NULL, 0) != 0 ||
        !cJSON_Compare(claims, again, 1) || !tls_jwt_looks_like(text))
      abort();
    cJSON_Delete(again);
  } else if (claims || !err[0] || (r != -EINVAL && r != -EKEYREJECTED)) {
    abort();
  }
  cJSON_Delete(claims);

  unsigned char *raw = NULL;
  size_t n = 0;
  if (base64url_decode(text, size, &raw, &n) == 0) {
    char *enc = malloc(BASE64URL_LEN(n));
    if (base64url_encode(raw, n, enc) != size || memcmp(enc, text, size) != 0)
      abort();
    free(enc);
    free(raw);
  }
  free(text);
  return 0;
}
