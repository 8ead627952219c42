/* Tests for pkg/controller/satoken.c (legacy service-account token Secrets)
 * over the in-process client and a fake API: an empty token Secret is
 * filled (uid annotation, a token that verifies with the signing key and
 * carries the legacy claims, ca.crt, namespace) in one update with its
 * metadata kept; a filled one is left alone; a stale ca.crt is replaced
 * with the token kept; a Secret naming a missing ServiceAccount (checked
 * with a live GET) or another one of that name is deleted with a uid
 * precondition; the Secrets of a deleted ServiceAccount follow it; the
 * informer asks for token Secrets only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/satoken.h"
#include "test.h"
#include "tls/cert.h"
#include "tls/jwt.h"
#include "util/base64.h"

#define CA "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define NS_A_B64 "YQ=="
#define TYPE "\"type\":\"kubernetes.io/service-account-token\""

static struct ev_loop *loop;
static http_req_t *watches[8];
static char log_[4096]; /* "PUT /api/v1/... " for each write and live GET */
static cJSON *writes[16];
static int n_writes;
static char secret_query[512];

static void on_close(http_req_t *r, void *data) {
  for (int i = 0; i < 8; i++)
    if (watches[i] == r)
      watches[i] = NULL;
  http_stream_end(r);
}

static const char *list_body(const char *path) {
  if (!strcmp(path, "/api/v1/serviceaccounts"))
    return "{\"kind\":\"ServiceAccountList\",\"apiVersion\":\"v1\",\"metadata\":{"
           "\"resourceVersion\":\"10\"},\"items\":["
           "{\"metadata\":{\"name\":\"robot\",\"namespace\":\"a\",\"uid\":\"sa-1\","
           "\"resourceVersion\":\"2\"}}]}";
  if (!strcmp(path, "/api/v1/secrets"))
    return "{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
           "\"10\"},\"items\":["
           /* empty: filled */
           "{\"metadata\":{\"name\":\"empty\",\"namespace\":\"a\",\"uid\":\"s-1\","
           "\"resourceVersion\":\"3\",\"labels\":{\"keep\":\"me\"},\"annotations\":{"
           "\"kubernetes.io/service-account.name\":\"robot\"}}," TYPE "},"
           /* filled: left alone */
           "{\"metadata\":{\"name\":\"full\",\"namespace\":\"a\",\"uid\":\"s-2\","
           "\"resourceVersion\":\"4\",\"annotations\":{"
           "\"kubernetes.io/service-account.name\":\"robot\","
           "\"kubernetes.io/service-account.uid\":\"sa-1\"}}," TYPE ","
           "\"data\":{\"token\":\"dA==\",\"ca.crt\":\"" CA_B64 "\",\"namespace\":\"" NS_A_B64
           "\"}},"
           /* stale ca.crt: replaced, token kept */
           "{\"metadata\":{\"name\":\"stale\",\"namespace\":\"a\",\"uid\":\"s-3\","
           "\"resourceVersion\":\"5\",\"annotations\":{"
           "\"kubernetes.io/service-account.name\":\"robot\","
           "\"kubernetes.io/service-account.uid\":\"sa-1\"}}," TYPE ","
           "\"data\":{\"token\":\"a2VlcA==\",\"ca.crt\":\"b2xk\",\"namespace\":\"" NS_A_B64
           "\"}},"
           /* names a ServiceAccount that does not exist: deleted */
           "{\"metadata\":{\"name\":\"ghost\",\"namespace\":\"a\",\"uid\":\"s-4\","
           "\"resourceVersion\":\"6\",\"annotations\":{"
           "\"kubernetes.io/service-account.name\":\"nobody\"}}," TYPE "},"
           /* made for an earlier robot: deleted */
           "{\"metadata\":{\"name\":\"old\",\"namespace\":\"a\",\"uid\":\"s-5\","
           "\"resourceVersion\":\"7\",\"annotations\":{"
           "\"kubernetes.io/service-account.name\":\"robot\","
           "\"kubernetes.io/service-account.uid\":\"sa-0\"}}," TYPE "}]}";
  return NULL;
}

static void handler(http_req_t *r, void *data) {
  const char *path = http_req_path(r), *method = http_req_method(r);
  if (!strcmp(method, "GET") && http_req_query(r, "watch")) {
    for (int i = 0; i < 8; i++)
      if (!watches[i]) {
        watches[i] = r;
        break;
      }
    http_req_on_close(r, on_close, NULL);
    http_stream_begin(r, 200, "application/json");
    return;
  }
  if (!strcmp(path, "/api/v1/secrets"))
    snprintf(secret_query, sizeof(secret_query), "%s", http_req_raw_query(r));
  size_t len = strlen(log_), blen;
  const char *body = list_body(path);
  if (!strcmp(method, "GET")) {
    if (!body) { /* a live GET of one object: none exists */
      snprintf(log_ + len, sizeof(log_) - len, "GET %s ", path);
      if (n_writes < 16)
        writes[n_writes++] = NULL;
      http_respond(r, 404, "application/json", "{\"kind\":\"Status\",\"code\":404}", 28);
      return;
    }
    http_respond(r, 200, "application/json", body, strlen(body));
    return;
  }
  snprintf(log_ + len, sizeof(log_) - len, "%s %s ", method, path);
  body = http_req_body(r, &blen);
  if (n_writes < 16)
    writes[n_writes++] = cJSON_ParseWithLength(body, blen);
  http_respond(r, 200, "application/json", blen ? body : "{}", blen ? blen : 2);
}

static void send_event(const char *path, const char *line) {
  for (int i = 0; i < 8; i++)
    if (watches[i] && !strcmp(http_req_path(watches[i]), path)) {
      http_stream_write(watches[i], line, strlen(line));
      return;
    }
  TEST_FAIL("no watch on %s", path);
}

#define RUN_UNTIL(cond)                                                                            \
  do {                                                                                             \
    double end_ = ev_time() + 3;                                                                   \
    while (!(cond) && ev_time() < end_)                                                            \
      ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);                                                     \
  } while (0)

static void settle(void) {
  double end = ev_time() + 0.3;
  while (ev_time() < end)
    ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
}

/* The body of the request "METHOD path" (NULL for a GET), and whether it was
 * made at all. */
static bool made(const char *what, const cJSON **ret_body) {
  const char *p = log_;
  int i = 0;
  size_t n = strlen(what);
  while (p && *p && i < n_writes) {
    if (!strncmp(p, what, n) && p[n] == ' ') {
      if (ret_body)
        *ret_body = writes[i];
      return true;
    }
    p = strchr(p, ' ');
    p = p ? strchr(p + 1, ' ') : NULL;
    p = p ? p + 1 : NULL;
    i++;
  }
  return false;
}

static const char *path_str(const cJSON *o, const char *a, const char *b, const char *c) {
  const cJSON *v = cJSON_GetObjectItem(o, a);
  if (b)
    v = cJSON_GetObjectItem(v, b);
  if (c)
    v = cJSON_GetObjectItem(v, c);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_token_secrets(void) {
  static const char *const groups[] = {"system:masters", NULL};
  char *key_pem = NULL, err[128];
  ASSERT_EQ_INT(tls_key_generate(&key_pem, err, sizeof(err)), 0);
  tls_jwt_key_t *key = NULL;
  ASSERT_EQ_INT(tls_jwt_key_load(key_pem, &key, err, sizeof(err)), 0);
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  client_ref_t sa_ref = {.version = "v1", .resource = "serviceaccounts"};
  client_informer_t *sa_inf = NULL;
  ASSERT_EQ_INT(client_informer_new(c, &sa_ref, NULL, NULL, 0, &sa_inf), 0);
  controller_satoken_t *tc = NULL;
  ASSERT_EQ_INT(controller_satoken_new(c, sa_inf, loop, key_pem, "", &tc), -EINVAL);
  ASSERT_EQ_INT(controller_satoken_new(c, sa_inf, loop, "not a key", CA, &tc), -EINVAL);
  ASSERT_EQ_INT(controller_satoken_new(c, sa_inf, loop, key_pem, CA, &tc), 0);
  client_informer_start(sa_inf);
  RUN_UNTIL(made("DELETE /api/v1/namespaces/a/secrets/ghost", NULL) &&
            made("DELETE /api/v1/namespaces/a/secrets/old", NULL) &&
            made("PUT /api/v1/namespaces/a/secrets/empty", NULL) &&
            made("PUT /api/v1/namespaces/a/secrets/stale", NULL));
  settle();
  ASSERT_CONTAINS(secret_query, "fieldSelector=type%3Dkubernetes.io%2Fservice-account-token");
  /* empty, stale: updated; ghost: looked up live, then deleted; old:
   * deleted; full: nothing */
  ASSERT_EQ_INT(n_writes, 5);
  ASSERT_FALSE(made("PUT /api/v1/namespaces/a/secrets/full", NULL));
  ASSERT_TRUE(made("GET /api/v1/namespaces/a/serviceaccounts/nobody", NULL));

  const cJSON *up = NULL;
  ASSERT_TRUE(made("PUT /api/v1/namespaces/a/secrets/empty", &up));
  ASSERT_EQ_STR(path_str(up, "metadata", "resourceVersion", NULL), "3");
  ASSERT_EQ_STR(path_str(up, "metadata", "labels", "keep"), "me");
  ASSERT_EQ_STR(path_str(up, "metadata", "annotations", "kubernetes.io/service-account.uid"),
                "sa-1");
  ASSERT_EQ_STR(path_str(up, "data", "ca.crt", NULL), CA_B64);
  ASSERT_EQ_STR(path_str(up, "data", "namespace", NULL), NS_A_B64);
  const char *tok64 = path_str(up, "data", "token", NULL);
  unsigned char *tok = NULL;
  size_t tn;
  ASSERT_EQ_INT(base64_decode(tok64, strlen(tok64), &tok, &tn), 0);
  cJSON *claims = NULL;
  ASSERT_EQ_INT(tls_jwt_verify(key, (const char *)tok, &claims, err, sizeof(err)), 0);
  ASSERT_EQ_STR(path_str(claims, "iss", NULL, NULL), "kubernetes/serviceaccount");
  ASSERT_EQ_STR(path_str(claims, "sub", NULL, NULL), "system:serviceaccount:a:robot");
  ASSERT_EQ_STR(path_str(claims, "kubernetes.io/serviceaccount/namespace", NULL, NULL), "a");
  ASSERT_EQ_STR(path_str(claims, "kubernetes.io/serviceaccount/secret.name", NULL, NULL),
                "empty");
  ASSERT_EQ_STR(path_str(claims, "kubernetes.io/serviceaccount/service-account.name", NULL, NULL),
                "robot");
  ASSERT_EQ_STR(path_str(claims, "kubernetes.io/serviceaccount/service-account.uid", NULL, NULL),
                "sa-1");
  ASSERT_NULL(cJSON_GetObjectItem(claims, "exp"));
  cJSON_Delete(claims);
  free(tok);

  ASSERT_TRUE(made("PUT /api/v1/namespaces/a/secrets/stale", &up));
  ASSERT_EQ_STR(path_str(up, "data", "token", NULL), "a2VlcA==");
  ASSERT_EQ_STR(path_str(up, "data", "ca.crt", NULL), CA_B64);
  const cJSON *del = NULL;
  ASSERT_TRUE(made("DELETE /api/v1/namespaces/a/secrets/ghost", &del));
  ASSERT_EQ_STR(path_str(del, "preconditions", "uid", NULL), "s-4");
  ASSERT_TRUE(made("DELETE /api/v1/namespaces/a/secrets/old", &del));
  ASSERT_EQ_STR(path_str(del, "preconditions", "uid", NULL), "s-5");

  /* robot is deleted: its filled Secret goes too (after a live GET) */
  send_event("/api/v1/serviceaccounts",
             "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"robot\","
             "\"namespace\":\"a\",\"uid\":\"sa-1\",\"resourceVersion\":\"11\"}}}\n");
  RUN_UNTIL(made("DELETE /api/v1/namespaces/a/secrets/full", NULL));
  ASSERT_TRUE(made("GET /api/v1/namespaces/a/serviceaccounts/robot", NULL));
  ASSERT_TRUE(made("DELETE /api/v1/namespaces/a/secrets/full", &del));
  ASSERT_EQ_STR(path_str(del, "preconditions", "uid", NULL), "s-2");

  controller_satoken_free(tc);
  client_informer_free(sa_inf);
  for (int i = 0; i < 8; i++)
    ASSERT_NULL(watches[i]); /* every watch was cancelled */
  client_free(c);
  for (int i = 0; i < n_writes; i++)
    cJSON_Delete(writes[i]);
  tls_jwt_key_free(key);
  free(key_pem);
}

TEST_LIST = {TEST(test_token_secrets), {0}};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
