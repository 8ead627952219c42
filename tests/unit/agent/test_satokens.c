/* Tests for pkg/agent/satokens.c over the in-process client and a fake API
 * answering TokenRequests: the request (service account, audiences,
 * expirationSeconds, boundObjectRef with the pod's uid), the token handed
 * out by source key and the pod resynced on arrival, no second request
 * while a token is fresh, back-off after a failure with the API's message,
 * a refresh at 80% of a short lifetime the API granted, forgetting a pod,
 * a replaced pod (new uid), the per-pod limit, freeing in flight. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "agent/satokens.h"
#include "api/object.h"
#include "json/util.h"
#include "test.h"

static struct ev_loop *loop;
static int requests, fail_next, grant_seconds; /* grant_seconds 0: what was asked */
static cJSON *last_req;
static char last_path[256];
static int changed;
static char changed_key[128];

static void handler(http_req_t *r, void *data) {
  (void)data;
  size_t len = 0;
  const char *body = http_req_body(r, &len);
  snprintf(last_path, sizeof(last_path), "%s %s", http_req_method(r), http_req_path(r));
  cJSON_Delete(last_req);
  last_req = cJSON_ParseWithLength(body, len);
  requests++;
  if (fail_next > 0) {
    fail_next--;
    static const char st[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                             "\"reason\":\"Forbidden\",\"message\":\"no you don't\",\"code\":403}";
    http_respond(r, 403, "application/json", st, sizeof(st) - 1);
    return;
  }
  const cJSON *e = json_get_path(last_req, "spec.expirationSeconds");
  double secs = grant_seconds ? grant_seconds : cJSON_IsNumber(e) ? e->valuedouble : 3600;
  char ts[32], tok[32];
  obj_time_format(time(NULL) + (time_t)secs, ts, sizeof(ts));
  snprintf(tok, sizeof(tok), "tok-%d", requests);
  cJSON *out = cJSON_Duplicate(last_req, 1);
  cJSON *st = cJSON_AddObjectToObject(out, "status");
  cJSON_AddStringToObject(st, "token", tok);
  cJSON_AddStringToObject(st, "expirationTimestamp", ts);
  char *text = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  http_respond_take(r, 201, "application/json", text, strlen(text));
}

static void on_changed(const char *key, void *data) {
  (void)data;
  changed++;
  snprintf(changed_key, sizeof(changed_key), "%s", key);
}

static void settle(void) {
  for (int i = 0; i < 30; i++)
    ev_run(loop, EVRUN_NOWAIT);
}

static void stop_cb(struct ev_loop *l, ev_timer *w, int revents) {
  (void)w;
  (void)revents;
  ev_break(l, EVBREAK_ONE);
}

static void run_for(double secs) {
  ev_timer t;
  ev_timer_init(&t, stop_cb, secs, 0);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  ev_timer_stop(loop, &t);
  settle();
}

static client_t *client(void) {
  static const char *const groups[] = {"system:nodes", NULL};
  client_t *c = NULL;
  if (client_inproc_new(loop, handler, NULL, "system:node:n1", groups, &c) < 0)
    TEST_FAIL("client_inproc_new");
  return c;
}

static void reset(void) {
  requests = fail_next = grant_seconds = changed = 0;
  changed_key[0] = 0;
  cJSON_Delete(last_req);
  last_req = NULL;
}

/* A pod with uid and the given token sources (JSON array of
 * serviceAccountToken objects), in a kube-api-access style volume. */
static cJSON *pod_with(const char *uid, const char *sources) {
  char buf[4096];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"%s\"},"
           "\"spec\":{\"serviceAccountName\":\"robot\",\"volumes\":[{\"name\":\"e\","
           "\"emptyDir\":{}},{\"name\":\"kube-api-access-x\",\"projected\":{\"sources\":%s}}]}}",
           uid, sources);
  cJSON *p = cJSON_Parse(buf);
  if (!p)
    TEST_FAIL("bad pod JSON");
  return p;
}

static const char *tok(const cJSON *tokens, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(tokens, key);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_request_and_token(void) {
  reset();
  client_t *c = client();
  agent_satokens_t *t = agent_satokens_new(loop, c, on_changed, NULL);
  cJSON *pod = pod_with("u1", "[{\"serviceAccountToken\":{\"expirationSeconds\":3607,"
                              "\"path\":\"token\"}},{\"configMap\":{\"name\":\"x\"}}]");
  char err[256] = "";
  cJSON *got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_EQ_INT(cJSON_GetArraySize(got), 0);
  ASSERT_EQ_STR(err, ""); /* in flight is no failure */
  cJSON_Delete(got);
  settle();
  ASSERT_EQ_INT(requests, 1);
  ASSERT_EQ_STR(last_path, "POST /api/v1/namespaces/ns1/serviceaccounts/robot/token");
  ASSERT_EQ_STR(json_get_path(last_req, "kind")->valuestring, "TokenRequest");
  ASSERT_NULL(json_get_path(last_req, "spec.audiences")); /* the API's default */
  ASSERT_EQ_INT((int)json_get_path(last_req, "spec.expirationSeconds")->valuedouble, 3607);
  ASSERT_EQ_STR(json_get_path(last_req, "spec.boundObjectRef.kind")->valuestring, "Pod");
  ASSERT_EQ_STR(json_get_path(last_req, "spec.boundObjectRef.name")->valuestring, "web");
  ASSERT_EQ_STR(json_get_path(last_req, "spec.boundObjectRef.uid")->valuestring, "u1");
  ASSERT_EQ_INT(changed, 1);
  ASSERT_EQ_STR(changed_key, "ns1/web");
  got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_EQ_STR(tok(got, "3607/"), "tok-1");
  cJSON_Delete(got);
  settle();
  ASSERT_EQ_INT(requests, 1); /* fresh: no second request */
  ASSERT_EQ_INT(agent_satokens_count(t), 1);
  cJSON_Delete(pod);
  /* an audience: its own token, its own key */
  pod = pod_with("u1", "[{\"serviceAccountToken\":{\"audience\":\"vault\","
                       "\"expirationSeconds\":600,\"path\":\"v\"}}]");
  cJSON_Delete(agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err)));
  settle();
  ASSERT_EQ_INT(requests, 2);
  ASSERT_EQ_STR(json_get_path(last_req, "spec.audiences")->child->valuestring, "vault");
  got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_EQ_STR(tok(got, "600/vault"), "tok-2");
  ASSERT_EQ_STR(tok(got, "3607/"), "(none)");
  ASSERT_EQ_INT(agent_satokens_count(t), 1); /* the dropped source is forgotten */
  cJSON_Delete(got);
  /* a replaced pod (new uid) gets a new token */
  cJSON_Delete(pod);
  pod = pod_with("u2", "[{\"serviceAccountToken\":{\"audience\":\"vault\","
                       "\"expirationSeconds\":600,\"path\":\"v\"}}]");
  got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_EQ_INT(cJSON_GetArraySize(got), 0);
  cJSON_Delete(got);
  settle();
  ASSERT_EQ_STR(json_get_path(last_req, "spec.boundObjectRef.uid")->valuestring, "u2");
  ASSERT_EQ_INT(agent_satokens_count(t), 1);
  agent_satokens_drop(t, "ns1/web");
  ASSERT_EQ_INT(agent_satokens_count(t), 0);
  cJSON_Delete(pod);
  agent_satokens_free(t);
  client_free(c);
}

static void test_backoff(void) {
  reset();
  client_t *c = client();
  agent_satokens_t *t = agent_satokens_new(loop, c, on_changed, NULL);
  cJSON *pod = pod_with("u1", "[{\"serviceAccountToken\":{\"path\":\"token\"}}]");
  fail_next = 1;
  char err[256] = "";
  cJSON_Delete(agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err)));
  settle();
  ASSERT_EQ_INT(requests, 1);
  ASSERT_EQ_INT((int)json_get_path(last_req, "spec.expirationSeconds")->valuedouble, 3600);
  cJSON *got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_EQ_INT(cJSON_GetArraySize(got), 0);
  ASSERT_EQ_STR(err, "failed to fetch token: no you don't");
  cJSON_Delete(got);
  settle();
  ASSERT_EQ_INT(requests, 1); /* backing off */
  ASSERT_EQ_INT(changed, 0);
  run_for(2.5); /* the 2 s tick retries once the 1 s back-off passed */
  ASSERT_EQ_INT(requests, 2);
  ASSERT_EQ_INT(changed, 1);
  got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_EQ_STR(tok(got, "3600/"), "tok-2");
  cJSON_Delete(got);
  cJSON_Delete(pod);
  agent_satokens_free(t);
  client_free(c);
}

static void test_refresh(void) {
  reset();
  client_t *c = client();
  agent_satokens_t *t = agent_satokens_new(loop, c, on_changed, NULL);
  cJSON *pod = pod_with("u1", "[{\"serviceAccountToken\":{\"expirationSeconds\":600,"
                              "\"path\":\"token\"}}]");
  grant_seconds = 4; /* the API granted 4 s: refresh after about 3 */
  char err[256] = "";
  cJSON_Delete(agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err)));
  settle();
  ASSERT_EQ_INT(requests, 1);
  run_for(1.5);
  ASSERT_EQ_INT(requests, 1); /* not yet 80% */
  run_for(4.0);
  ASSERT_GE_INT(requests, 2);
  ASSERT_GE_INT(changed, 2);
  cJSON *got = agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err));
  ASSERT_TRUE(strcmp(tok(got, "600/"), "tok-1") != 0);
  ASSERT_TRUE(strncmp(tok(got, "600/"), "tok-", 4) == 0);
  cJSON_Delete(got);
  cJSON_Delete(pod);
  agent_satokens_free(t);
  client_free(c);
}

static void test_limit_and_free_in_flight(void) {
  reset();
  client_t *c = client();
  agent_satokens_t *t = agent_satokens_new(loop, c, on_changed, NULL);
  char src[2048] = "[";
  for (int i = 0; i < 10; i++) {
    size_t n = strlen(src);
    snprintf(src + n, sizeof(src) - n, "%s{\"serviceAccountToken\":{\"expirationSeconds\":%d}}",
             i ? "," : "", 600 + i);
  }
  strncat(src, "]", sizeof(src) - strlen(src) - 1);
  cJSON *pod = pod_with("u1", src);
  char err[256] = "";
  cJSON_Delete(agent_satokens_for_pod(t, "ns1/web", pod, err, sizeof(err)));
  ASSERT_EQ_INT(agent_satokens_count(t), AGENT_SATOKENS_PER_POD);
  ASSERT_EQ_STR(err, "more than 8 serviceAccountToken sources in one pod");
  /* freed with the requests in flight: no callback, no leak */
  agent_satokens_free(t);
  settle();
  ASSERT_EQ_INT(changed, 0);
  cJSON_Delete(pod);
  client_free(c);
}

TEST_LIST = {TEST(test_request_and_token), TEST(test_backoff), TEST(test_refresh),
             TEST(test_limit_and_free_in_flight), {0}};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
