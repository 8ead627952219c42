/* Bootstrap tokens (bootstraptoken.h): the token format, its Secret, and the
 * checks upstream's bootstrap-token authenticator makes (k8s.io/cluster-
 * bootstrap/token/api names the Secret's keys).
 * https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/ */
#include "api/bootstraptoken.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/object.h"
#include "json/util.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/errbuf.h"

static const char ALPHABET[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static bool token_chars(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
      return false;
  return true;
}

bool api_bootstrap_token_split(const char *token, char id[7], char secret[17]) {
  if (!token || strlen(token) != 23 || token[6] != '.' || !token_chars(token, 6) ||
      !token_chars(token + 7, 16))
    return false;
  memcpy(id, token, 6);
  id[6] = '\0';
  memcpy(secret, token + 7, 16);
  secret[16] = '\0';
  return true;
}

void api_bootstrap_token_generate(char ret[24]) {
  /* 36 does not divide 256: bytes from 252 up are dropped so that every
   * character is equally likely. */
  size_t n = 0;
  while (n < 22) {
    unsigned char raw[32];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
      abort(); /* the kernel's RNG does not fail once booted */
    for (size_t i = 0; i < sizeof(raw) && n < 22; i++) {
      if (raw[i] < 252) {
        ret[n < 6 ? n : n + 1] = ALPHABET[raw[i] % 36];
        n++;
      }
    }
  }
  ret[6] = '.';
  ret[23] = '\0';
}

bool api_bootstrap_group_valid(const char *g) {
  static const char prefix[] = API_BOOTSTRAP_GROUP ":";
  size_t pl = sizeof(prefix) - 1, n = g ? strlen(g) : 0;
  if (n <= pl || n - pl > 256 || strncmp(g, prefix, pl))
    return false;
  for (size_t i = pl; i < n; i++) {
    char c = g[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == n - 1 || (c != ':' && c != '-')))
      return false;
  }
  return true;
}

char *api_bootstrap_token_data(const cJSON *secret, const char *key) {
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
  if (!cJSON_IsString(v))
    return NULL;
  unsigned char *raw = NULL;
  size_t len = 0;
  if (base64_decode(v->valuestring, strlen(v->valuestring), &raw, &len) < 0)
    return NULL;
  if (memchr(raw, '\0', len)) {
    free(raw);
    return NULL;
  }
  char *s = xstrndup((const char *)raw, len);
  free(raw);
  return s;
}

int api_bootstrap_token_expiry(const cJSON *secret, time_t *ret_expires) {
  char *exp = api_bootstrap_token_data(secret, "expiration");
  time_t t = 0;
  if (exp) {
    t = obj_time_parse(exp);
    free(exp);
    if (t < 0)
      return -EINVAL;
  }
  *ret_expires = t;
  return 0;
}

static bool same_secret(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb);
  for (size_t i = 0; i < la && i < lb; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

static int refuse(char *why, size_t whylen, const char *reason) {
  errbuf_set(why, whylen, "%s", reason);
  return -EACCES;
}

int api_bootstrap_token_check(const cJSON *secret, const char *token, const char *usage,
                              time_t now, char *why, size_t whylen) {
  char id[7], sec[17];
  if (!api_bootstrap_token_split(token, id, sec))
    return refuse(why, whylen, "not a bootstrap token (<6 of a-z0-9>.<16 of a-z0-9>)");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(secret, "type");
  if (!cJSON_IsString(type) || strcmp(type->valuestring, API_BOOTSTRAP_TOKEN_TYPE))
    return refuse(why, whylen, "its Secret is not of type " API_BOOTSTRAP_TOKEN_TYPE);
  if (json_get_path(secret, "metadata.deletionTimestamp"))
    return refuse(why, whylen, "the token is being deleted");
  char *have_id = api_bootstrap_token_data(secret, "token-id");
  char *have_secret = api_bootstrap_token_data(secret, "token-secret");
  bool match = have_id && have_secret && !strcmp(have_id, id) && same_secret(have_secret, sec);
  free(have_id);
  free(have_secret);
  if (!match)
    return refuse(why, whylen, "the token's secret is wrong");
  time_t exp;
  if (api_bootstrap_token_expiry(secret, &exp) < 0)
    return refuse(why, whylen, "the token's expiration does not parse");
  if (exp && exp <= now)
    return refuse(why, whylen, "the token has expired");
  char key[48];
  snprintf(key, sizeof(key), "usage-bootstrap-%s", usage);
  char *allowed = api_bootstrap_token_data(secret, key);
  bool ok = allowed && !strcmp(allowed, "true");
  free(allowed);
  if (!ok) {
    errbuf_set(why, whylen, "the token is not allowed for %s (usage-bootstrap-%s is not \"true\")",
               usage, usage);
    return -EACCES;
  }
  return 0;
}

void api_bootstrap_token_groups(const cJSON *secret, void (*cb)(const char *group, void *data),
                                void *data) {
  char *groups = api_bootstrap_token_data(secret, "auth-extra-groups");
  char *save = NULL;
  for (char *g = groups ? strtok_r(groups, ",", &save) : NULL; g; g = strtok_r(NULL, ",", &save)) {
    while (*g == ' ')
      g++;
    if (api_bootstrap_group_valid(g))
      cb(g, data);
  }
  free(groups);
}

static void put(cJSON *data, const char *key, const char *value) {
  char *b64 = base64_encode(value, strlen(value));
  cJSON_AddStringToObject(data, key, b64);
  free(b64);
}

cJSON *api_bootstrap_token_secret(const char *token, time_t expires, const char *description,
                                  const char *usages, const char *groups, char *err,
                                  size_t errlen) {
  char id[7], sec[17];
  if (!api_bootstrap_token_split(token, id, sec)) {
    errbuf_set(err, errlen, "the token must look like [a-z0-9]{6}.[a-z0-9]{16}");
    return NULL;
  }
  bool auth = false, signing = false;
  char *list = xstrdup(usages ? usages : "authentication,signing"), *save = NULL;
  for (char *u = strtok_r(list, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
    if (!strcmp(u, "authentication")) {
      auth = true;
    } else if (!strcmp(u, "signing")) {
      signing = true;
    } else {
      errbuf_set(err, errlen, "unknown usage \"%s\": the usages are authentication and signing", u);
      free(list);
      return NULL;
    }
  }
  free(list);
  if (groups && *groups) {
    list = xstrdup(groups);
    save = NULL;
    for (char *g = strtok_r(list, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
      if (!api_bootstrap_group_valid(g)) {
        errbuf_set(err, errlen,
                   "extra group \"%s\" must start with \"%s:\" and contain only a-z, 0-9, ':' "
                   "and '-'",
                   g, API_BOOTSTRAP_GROUP);
        free(list);
        return NULL;
      }
    }
    free(list);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "kind", "Secret");
  cJSON *m = cJSON_AddObjectToObject(o, "metadata");
  char name[32];
  snprintf(name, sizeof(name), API_BOOTSTRAP_TOKEN_PREFIX "%.6s", id);
  cJSON_AddStringToObject(m, "name", name);
  cJSON_AddStringToObject(m, "namespace", API_BOOTSTRAP_TOKEN_NS);
  cJSON_AddStringToObject(o, "type", API_BOOTSTRAP_TOKEN_TYPE);
  cJSON *data = cJSON_AddObjectToObject(o, "data");
  put(data, "token-id", id);
  put(data, "token-secret", sec);
  if (expires) {
    char ts[32];
    obj_time_format(expires, ts, sizeof(ts));
    put(data, "expiration", ts);
  }
  if (auth)
    put(data, "usage-bootstrap-authentication", "true");
  if (signing)
    put(data, "usage-bootstrap-signing", "true");
  if (groups && *groups)
    put(data, "auth-extra-groups", groups);
  if (description && *description)
    put(data, "description", description);
  return o;
}
