/* Tests for pkg/controller/serviceaccount.c and rootcacert.c over the
 * in-process client and a fake API: sa/default is created only in a
 * namespace without one that is not terminating, and again when deleted;
 * kube-root-ca.crt is created where missing and a stale one is updated
 * (data replaced, its metadata kept, the description annotation added),
 * and a deleted one is created again; the informers ask for the named
 * objects only. */
#include <errno.h>
#include <string.h>

#include "controller/rootcacert.h"
#include "controller/serviceaccount.h"
#include "test.h"

#define CA "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static struct ev_loop *loop;
static http_req_t *watches[8];
static char log_[4096];          /* "POST /api/v1/... " for each write */
static cJSON *writes[16];        /* their bodies */
static int n_writes;
static char sa_query[512], cm_query[512];

static void on_close(http_req_t *r, void *data) {
  for (int i = 0; i < 8; i++)
    if (watches[i] == r)
      watches[i] = NULL;
  http_stream_end(r);
}

static const char *list_body(const char *path) {
  if (!strcmp(path, "/api/v1/namespaces"))
    return "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
           "\"10\"},\"items\":["
           "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},\"status\":{\"phase\":"
           "\"Active\"}},"
           "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"2\"},\"status\":{\"phase\":"
           "\"Active\"}},"
           "{\"metadata\":{\"name\":\"t\",\"resourceVersion\":\"3\",\"deletionTimestamp\":"
           "\"2026-01-01T00:00:00Z\"},\"status\":{\"phase\":\"Terminating\"}}]}";
  if (!strcmp(path, "/api/v1/serviceaccounts"))
    return "{\"kind\":\"ServiceAccountList\",\"apiVersion\":\"v1\",\"metadata\":{"
           "\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{\"name\":\"default\","
           "\"namespace\":\"b\",\"resourceVersion\":\"4\"}}]}";
  if (!strcmp(path, "/api/v1/configmaps"))
    return "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{"
           "\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{\"name\":\"kube-root-ca.crt\","
           "\"namespace\":\"b\",\"resourceVersion\":\"7\",\"labels\":{\"keep\":\"me\"}},"
           "\"data\":{\"ca.crt\":\"old\",\"extra\":\"x\"}}]}";
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
  if (!strcmp(method, "GET")) {
    const char *body = list_body(path);
    if (!strcmp(path, "/api/v1/serviceaccounts"))
      snprintf(sa_query, sizeof(sa_query), "%s", http_req_raw_query(r));
    if (!strcmp(path, "/api/v1/configmaps"))
      snprintf(cm_query, sizeof(cm_query), "%s", http_req_raw_query(r));
    if (!body) {
      http_respond(r, 404, "application/json", "{}", 2);
      return;
    }
    http_respond(r, 200, "application/json", body, strlen(body));
    return;
  }
  size_t len = strlen(log_), blen;
  snprintf(log_ + len, sizeof(log_) - len, "%s %s ", method, path);
  const char *body = http_req_body(r, &blen);
  if (n_writes < 16)
    writes[n_writes++] = cJSON_ParseWithLength(body, blen);
  http_respond(r, !strcmp(method, "POST") ? 201 : 200, "application/json", body, blen);
}

/* The watch on path, or NULL. */
static http_req_t *watch_of(const char *path) {
  for (int i = 0; i < 8; i++)
    if (watches[i] && !strcmp(http_req_path(watches[i]), path))
      return watches[i];
  return NULL;
}

static void send_event(const char *path, const char *line) {
  http_req_t *w = watch_of(path);
  if (!w)
    TEST_FAIL("no watch");
  http_stream_write(w, line, strlen(line));
}

#define RUN_UNTIL(cond)                                                                            \
  do {                                                                                             \
    double end_ = ev_time() + 2;                                                                   \
    while (!(cond) && ev_time() < end_)                                                            \
      ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);                                                     \
  } while (0)

static void settle(void) {
  double end = ev_time() + 0.2;
  while (ev_time() < end)
    ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
}

static const cJSON *at(const cJSON *o, const char *a, const char *b, const char *c) {
  const cJSON *v = cJSON_GetObjectItem(o, a);
  if (b)
    v = cJSON_GetObjectItem(v, b);
  if (c)
    v = cJSON_GetObjectItem(v, c);
  return v;
}
static const char *str(const cJSON *v) { return cJSON_IsString(v) ? v->valuestring : "(none)"; }

/* The body written to path by method ("POST /api/v1/..."), or NULL. */
static const cJSON *written(const char *what) {
  const char *p = log_;
  int i = 0;
  while (p && *p && i < n_writes) {
    size_t n = strlen(what);
    if (!strncmp(p, what, n) && p[n] == ' ')
      return writes[i];
    p = strchr(p, ' ');
    p = p ? strchr(p + 1, ' ') : NULL;
    p = p ? p + 1 : NULL;
    i++;
  }
  return NULL;
}

static void test_default_sa_and_root_ca(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  client_ref_t ns_ref = {.version = "v1", .resource = "namespaces"};
  client_ref_t sa_ref = {.version = "v1", .resource = "serviceaccounts"};
  client_informer_t *ns_inf = NULL, *sa_inf = NULL;
  ASSERT_EQ_INT(client_informer_new(c, &ns_ref, NULL, NULL, 0, &ns_inf), 0);
  ASSERT_EQ_INT(client_informer_new(c, &sa_ref, NULL, "metadata.name=default", 0, &sa_inf), 0);
  controller_serviceaccount_t *sc = NULL;
  controller_rootcacert_t *rc = NULL;
  ASSERT_EQ_INT(controller_serviceaccount_new(c, ns_inf, sa_inf, loop, &sc), 0);
  ASSERT_EQ_INT(controller_rootcacert_new(c, ns_inf, loop, "", &rc), -EINVAL);
  ASSERT_EQ_INT(controller_rootcacert_new(c, ns_inf, loop, CA, &rc), 0);
  client_informer_start(ns_inf);
  client_informer_start(sa_inf);
  RUN_UNTIL(n_writes >= 3);
  settle();
  ASSERT_CONTAINS(sa_query, "fieldSelector=metadata.name");
  ASSERT_CONTAINS(cm_query, "kube-root-ca.crt");
  /* a: both created; b: its stale ConfigMap updated; t: nothing */
  ASSERT_EQ_INT(n_writes, 3);
  const cJSON *sa = written("POST /api/v1/namespaces/a/serviceaccounts");
  ASSERT_NOT_NULL(sa);
  ASSERT_EQ_STR(str(at(sa, "metadata", "name", NULL)), "default");
  ASSERT_EQ_STR(str(at(sa, "metadata", "namespace", NULL)), "a");
  ASSERT_EQ_STR(str(at(sa, "kind", NULL, NULL)), "ServiceAccount");
  const cJSON *cm = written("POST /api/v1/namespaces/a/configmaps");
  ASSERT_NOT_NULL(cm);
  ASSERT_EQ_STR(str(at(cm, "metadata", "name", NULL)), "kube-root-ca.crt");
  ASSERT_EQ_STR(str(at(cm, "data", "ca.crt", NULL)), CA);
  ASSERT_CONTAINS(str(at(cm, "metadata", "annotations", "kubernetes.io/description")),
                  "Contains a CA bundle that can be used to verify the kube-apiserver");
  const cJSON *up = written("PUT /api/v1/namespaces/b/configmaps/kube-root-ca.crt");
  ASSERT_NOT_NULL(up);
  ASSERT_EQ_INT(cJSON_GetArraySize(at(up, "data", NULL, NULL)), 1);
  ASSERT_EQ_STR(str(at(up, "data", "ca.crt", NULL)), CA);
  ASSERT_EQ_STR(str(at(up, "metadata", "resourceVersion", NULL)), "7");
  ASSERT_EQ_STR(str(at(up, "metadata", "labels", "keep")), "me");
  ASSERT_TRUE(cJSON_IsString(at(up, "metadata", "annotations", "kubernetes.io/description")));

  /* the watch shows the writes; a current ConfigMap needs nothing */
  send_event("/api/v1/configmaps",
             "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"kube-root-ca.crt\","
             "\"namespace\":\"b\",\"resourceVersion\":\"12\",\"annotations\":{"
             "\"kubernetes.io/description\":\"d\"}},\"data\":{\"ca.crt\":\"" "-----BEGIN "
             "CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\"}}}\n");
  settle();
  ASSERT_EQ_INT(n_writes, 3);
  /* deleted: created again (another ServiceAccount's deletion is ignored) */
  send_event("/api/v1/serviceaccounts",
             "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"default\","
             "\"namespace\":\"b\",\"resourceVersion\":\"13\"}}}\n");
  RUN_UNTIL(n_writes >= 4);
  ASSERT_NOT_NULL(written("POST /api/v1/namespaces/b/serviceaccounts"));
  send_event("/api/v1/configmaps",
             "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"kube-root-ca.crt\","
             "\"namespace\":\"b\",\"resourceVersion\":\"14\"}}}\n");
  RUN_UNTIL(n_writes >= 5);
  ASSERT_NOT_NULL(written("POST /api/v1/namespaces/b/configmaps"));
  /* a namespace that begins terminating gets nothing back */
  send_event("/api/v1/namespaces",
             "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":"
             "\"15\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":{\"phase\":"
             "\"Terminating\"}}}\n");
  settle();
  send_event("/api/v1/serviceaccounts",
             "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"default\","
             "\"namespace\":\"b\",\"resourceVersion\":\"16\"}}}\n");
  send_event("/api/v1/serviceaccounts",
             "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"default\","
             "\"namespace\":\"b\",\"resourceVersion\":\"17\"}}}\n");
  settle();
  ASSERT_EQ_INT(n_writes, 5);

  controller_rootcacert_free(rc);
  controller_serviceaccount_free(sc);
  client_informer_free(sa_inf);
  client_informer_free(ns_inf);
  for (int i = 0; i < 8; i++)
    ASSERT_NULL(watches[i]); /* every watch was cancelled */
  client_free(c);
  for (int i = 0; i < n_writes; i++)
    cJSON_Delete(writes[i]);
}

TEST_LIST = {TEST(test_default_sa_and_root_ca), {0}};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
