/* Tests for pkg/controller/events.c over the in-process client and a fake
 * API: the Event's shape (name, involvedObject, source, count, times),
 * repeats folded into one Event by PATCHes of count, a repeat during the
 * create in flight folded into the next write, distinct messages making
 * distinct Events, and cluster-scoped objects' Events in "default". */
#include <string.h>

#include "controller/events.h"
#include "test.h"

static struct ev_loop *loop;
static int posts, patches;
static cJSON *last_post, *last_patch;
static char last_target[512];
static http_req_t *held;
static bool hold_next;

static void handler(http_req_t *r, void *data) {
  size_t len;
  const char *body = http_req_body(r, &len);
  snprintf(last_target, sizeof(last_target), "%s %s", http_req_method(r), http_req_path(r));
  if (!strcmp(http_req_method(r), "POST")) {
    posts++;
    cJSON_Delete(last_post);
    last_post = cJSON_ParseWithLength(body, len);
    if (hold_next) {
      hold_next = false;
      held = r;
      return;
    }
    http_respond(r, 201, "application/json", body, len);
  } else {
    patches++;
    cJSON_Delete(last_patch);
    last_patch = cJSON_ParseWithLength(body, len);
    http_respond(r, 200, "application/json", "{}", 2);
  }
}

static void settle(void) {
  for (int i = 0; i < 20; i++)
    ev_run(loop, EVRUN_NOWAIT);
}

static const char *s(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = b ? cJSON_GetObjectItem(cJSON_GetObjectItem(o, a), b) : cJSON_GetObjectItem(o, a);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static cJSON *rs_obj(void) {
  return cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{"
                     "\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"u-1\","
                     "\"resourceVersion\":\"42\"}}");
}

static void test_event_shape_and_repeats(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  controller_recorder_t *rec = controller_recorder_new(c, "replicaset-controller");
  cJSON *rs = rs_obj();
  posts = patches = 0;
  controller_recorder_eventf(rec, rs, "Normal", "SuccessfulCreate", "Created pod: %s", "web-abcde");
  settle();
  ASSERT_EQ_INT(posts, 1);
  ASSERT_EQ_STR(last_target, "POST /api/v1/namespaces/ns1/events");
  ASSERT_EQ_STR(s(last_post, "reason", NULL), "SuccessfulCreate");
  ASSERT_EQ_STR(s(last_post, "message", NULL), "Created pod: web-abcde");
  ASSERT_EQ_STR(s(last_post, "type", NULL), "Normal");
  ASSERT_EQ_STR(s(last_post, "source", "component"), "replicaset-controller");
  ASSERT_EQ_STR(s(last_post, "reportingComponent", NULL), "replicaset-controller");
  ASSERT_EQ_STR(s(last_post, "involvedObject", "kind"), "ReplicaSet");
  ASSERT_EQ_STR(s(last_post, "involvedObject", "apiVersion"), "apps/v1");
  ASSERT_EQ_STR(s(last_post, "involvedObject", "uid"), "u-1");
  ASSERT_EQ_STR(s(last_post, "involvedObject", "namespace"), "ns1");
  ASSERT_EQ_STR(s(last_post, "involvedObject", "resourceVersion"), "42");
  ASSERT_EQ_INT(cJSON_GetObjectItem(last_post, "count")->valueint, 1);
  const char *name = s(last_post, "metadata", "name");
  ASSERT_TRUE(!strncmp(name, "web.", 4) && strlen(name) > 10);
  ASSERT_TRUE(strlen(s(last_post, "firstTimestamp", NULL)) == 20);
  char first_name[128];
  snprintf(first_name, sizeof(first_name), "%s", name);

  /* the same event twice more: PATCHes of count on the same Event */
  controller_recorder_eventf(rec, rs, "Normal", "SuccessfulCreate", "Created pod: %s", "web-abcde");
  settle();
  controller_recorder_eventf(rec, rs, "Normal", "SuccessfulCreate", "Created pod: %s", "web-abcde");
  settle();
  ASSERT_EQ_INT(posts, 1);
  ASSERT_EQ_INT(patches, 2);
  ASSERT_EQ_INT(cJSON_GetObjectItem(last_patch, "count")->valueint, 3);
  char want[256];
  snprintf(want, sizeof(want), "PATCH /api/v1/namespaces/ns1/events/%s", first_name);
  ASSERT_EQ_STR(last_target, want);

  /* another message is another Event */
  controller_recorder_eventf(rec, rs, "Normal", "SuccessfulCreate", "Created pod: %s", "web-fghij");
  settle();
  ASSERT_EQ_INT(posts, 2);
  unsigned created, repeats;
  controller_recorder_stats(rec, &created, &repeats);
  ASSERT_EQ_INT(created, 2);
  ASSERT_EQ_INT(repeats, 2);
  cJSON_Delete(rs);
  controller_recorder_free(rec);
  client_free(c);
}

static void test_repeat_during_create(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  controller_recorder_t *rec = controller_recorder_new(c, "x");
  cJSON *rs = rs_obj();
  posts = patches = 0;
  hold_next = true;
  controller_recorder_eventf(rec, rs, "Warning", "FailedCreate", "Error creating: %s", "nope");
  settle();
  controller_recorder_eventf(rec, rs, "Warning", "FailedCreate", "Error creating: %s", "nope");
  controller_recorder_eventf(rec, rs, "Warning", "FailedCreate", "Error creating: %s", "nope");
  settle();
  ASSERT_EQ_INT(posts, 1);
  ASSERT_EQ_INT(patches, 0); /* waits for the create */
  ASSERT_NOT_NULL(held);
  size_t len;
  const char *body = http_req_body(held, &len);
  char *copy = strndup(body, len);
  http_respond(held, 201, "application/json", copy, len);
  free(copy);
  held = NULL;
  settle();
  ASSERT_EQ_INT(patches, 1);
  ASSERT_EQ_INT(cJSON_GetObjectItem(last_patch, "count")->valueint, 3);
  cJSON_Delete(rs);
  controller_recorder_free(rec);
  client_free(c);
}

static void test_cluster_scoped(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  controller_recorder_t *rec = controller_recorder_new(c, "node-controller");
  cJSON *node = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\","
                            "\"uid\":\"u-n\"}}");
  controller_recorder_eventf(rec, node, "Normal", "RegisteredNode", "Node n1 event: Registered");
  settle();
  ASSERT_EQ_STR(last_target, "POST /api/v1/namespaces/default/events");
  ASSERT_EQ_STR(s(last_post, "metadata", "namespace"), "default");
  ASSERT_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(last_post, "involvedObject"), "namespace"));
  cJSON_Delete(node);
  controller_recorder_free(rec);
  client_free(c);
  cJSON_Delete(last_post);
  cJSON_Delete(last_patch);
  last_post = last_patch = NULL;
}

/* The table keeps the 4,096 most recently used entries: an entry used
 * again survives 4,096 newer ones, the least recently used is evicted (its
 * next repeat makes a new Event). */
static void test_eviction_least_recently_used(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  controller_recorder_t *rec = controller_recorder_new(c, "default-scheduler");
  cJSON *rs = rs_obj();
  posts = patches = 0;
  controller_recorder_eventf(rec, rs, "Normal", "R", "m-first");
  controller_recorder_eventf(rec, rs, "Normal", "R", "m-second");
  settle();
  for (int i = 0; i < 4094; i++)
    controller_recorder_eventf(rec, rs, "Normal", "R", "fill-%d", i);
  settle();
  ASSERT_EQ_INT(posts, 4096);
  controller_recorder_eventf(rec, rs, "Normal", "R", "m-first"); /* now the newest */
  settle();
  ASSERT_EQ_INT(posts, 4096);
  ASSERT_EQ_INT(patches, 1);
  controller_recorder_eventf(rec, rs, "Normal", "R", "one-more"); /* evicts m-second */
  settle();
  ASSERT_EQ_INT(posts, 4097);
  controller_recorder_eventf(rec, rs, "Normal", "R", "m-first");
  settle();
  ASSERT_EQ_INT(patches, 2); /* still known */
  controller_recorder_eventf(rec, rs, "Normal", "R", "m-second");
  settle();
  ASSERT_EQ_INT(posts, 4098); /* forgotten: a new Event */
  unsigned created = 0, repeats = 0;
  controller_recorder_stats(rec, &created, &repeats);
  ASSERT_EQ_INT(created, 4098);
  ASSERT_EQ_INT(repeats, 2);
  controller_recorder_free(rec);
  client_free(c);
  cJSON_Delete(rs);
}

TEST_LIST = {
    TEST(test_event_shape_and_repeats), TEST(test_repeat_during_create), TEST(test_cluster_scoped),
    TEST(test_eviction_least_recently_used),
    {0},
};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
