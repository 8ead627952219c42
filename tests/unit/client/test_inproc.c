/* Tests for pkg/client/client.c over the in-process backend (inproc.c)
 * with a fake handler: results and Status errors, callbacks never inside
 * the starting call, watch streams split into events across writes,
 * cancellation (the handler's close callback runs) and paths/queries. */
#include <errno.h>
#include <string.h>

#include "client/client.h"
#include "test.h"

static struct ev_loop *loop;
static http_req_t *held;       /* a request the fake answers later */
static http_req_t *watching;   /* the fake's open watch */
static int closed;             /* close callbacks seen */
static char seen_user[64], seen_group[64], seen_ct[64], seen_body[256], seen_target[512];

static void on_close(http_req_t *r, void *data) {
  closed++;
  if (r == watching)
    watching = NULL;
  http_stream_end(r);
}

static int method_is_post(http_req_t *r);
static void handler(http_req_t *r, void *data) {
  const char *p = http_req_path(r);
  const char *const *orgs = http_req_client_orgs(r);
  snprintf(seen_user, sizeof(seen_user), "%s", http_req_client_cn(r));
  snprintf(seen_group, sizeof(seen_group), "%s", orgs && orgs[0] ? orgs[0] : "");
  const char *ct = http_req_header(r, "Content-Type");
  snprintf(seen_ct, sizeof(seen_ct), "%s", ct ? ct : "");
  size_t len;
  const char *body = http_req_body(r, &len);
  snprintf(seen_body, sizeof(seen_body), "%.*s", (int)len, body);
  snprintf(seen_target, sizeof(seen_target), "%s?%s", p, http_req_raw_query(r));
  if (!strcmp(p, "/stream")) {
    held = r;
    http_req_on_close(r, on_close, NULL);
    http_stream_begin(r, 200, "text/plain");
    http_stream_write(r, "abc", 3);
    http_stream_write(r, "def\n", 4);
    if (!http_req_query(r, "follow"))
      http_stream_end(r), held = NULL;
    return;
  }
  if (!strcmp(p, "/streamerr")) {
    const char *s = "container \"x\" in pod \"y\" is waiting to start: ContainerCreating";
    http_respond(r, 400, "text/plain", s, strlen(s));
    return;
  }
  if (strstr(p, "/pods/missing")) {
    const char *s = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                    "\"message\":\"pods \\\"missing\\\" not found\",\"reason\":\"NotFound\","
                    "\"code\":404}";
    http_respond(r, 404, "application/json", s, strlen(s));
  } else if (strstr(p, "/pods/later")) {
    held = r;
  } else if (http_req_query(r, "watch")) {
    watching = r;
    http_req_on_close(r, on_close, NULL);
    http_stream_begin(r, 200, "application/json");
    const char *l1 = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":";
    const char *l2 = "\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n";
    http_stream_write(r, l1, strlen(l1));
    http_stream_write(r, l2, strlen(l2));
  } else {
    const char *s = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\"}}";
    http_respond(r, method_is_post(r) ? 201 : 200, "application/json", s, strlen(s));
  }
}

static int method_is_post(http_req_t *r) { return !strcmp(http_req_method(r), "POST"); }

static client_t *new_client(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "tester", groups, &c), 0);
  return c;
}

static int done_calls, last_code;
static char last_reason[64], last_message[128], last_name[64];

static void on_done(const client_result_t *res, void *data) {
  done_calls++;
  last_code = res->code;
  snprintf(last_reason, sizeof(last_reason), "%s", res->reason);
  snprintf(last_message, sizeof(last_message), "%s", res->message);
  const cJSON *md = cJSON_GetObjectItem(res->obj, "metadata");
  const cJSON *n = cJSON_GetObjectItem(md, "name");
  snprintf(last_name, sizeof(last_name), "%s", cJSON_IsString(n) ? n->valuestring : "");
  ev_break(loop, EVBREAK_ALL);
}

static void run(void) { ev_run(loop, 0); }

static void test_get_async(void) {
  client_t *c = new_client();
  done_calls = 0;
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = "default", .name = "x"};
  ASSERT_NOT_NULL(client_get(c, &ref, NULL, on_done, NULL));
  ASSERT_EQ_INT(done_calls, 0); /* never inside the call */
  run();
  ASSERT_EQ_INT(done_calls, 1);
  ASSERT_EQ_INT(last_code, 200);
  ASSERT_EQ_STR(last_name, "x");
  ASSERT_EQ_STR(seen_user, "tester");
  ASSERT_EQ_STR(seen_group, "system:masters");
  ASSERT_EQ_STR(seen_target, "/api/v1/namespaces/default/pods/x?");
  client_free(c);
}

static void test_status_error(void) {
  client_t *c = new_client();
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = "default", .name = "missing"};
  client_get(c, &ref, NULL, on_done, NULL);
  run();
  ASSERT_EQ_INT(last_code, 404);
  ASSERT_EQ_STR(last_reason, "NotFound");
  ASSERT_EQ_STR(last_message, "pods \"missing\" not found");
  client_free(c);
}

static void test_create_and_patch_bodies(void) {
  client_t *c = new_client();
  client_ref_t ref = {.group = "apps", .version = "v1", .resource = "replicasets", .ns = "ns1",
                      .name = "ignored"};
  cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"rs\"}}");
  client_create(c, &ref, o, on_done, NULL);
  run();
  ASSERT_EQ_INT(last_code, 201);
  ASSERT_EQ_STR(seen_target, "/apis/apps/v1/namespaces/ns1/replicasets?");
  ASSERT_EQ_STR(seen_ct, "application/json");
  ASSERT_EQ_STR(seen_body, "{\"metadata\":{\"name\":\"rs\"}}");
  client_patch(c, &ref, CLIENT_PATCH_STRATEGIC, o, "fieldManager=x", on_done, NULL);
  run();
  ASSERT_EQ_STR(seen_ct, "application/strategic-merge-patch+json");
  ASSERT_EQ_STR(seen_target, "/apis/apps/v1/namespaces/ns1/replicasets/ignored?fieldManager=x");
  client_update_status(c, &ref, o, on_done, NULL);
  run();
  ASSERT_EQ_STR(seen_target, "/apis/apps/v1/namespaces/ns1/replicasets/ignored/status?");
  cJSON_Delete(o);
  client_free(c);
}

static int events;
static char event_types[128];
static void on_event(const char *type, cJSON *obj, void *data) {
  events++;
  size_t len = strlen(event_types);
  snprintf(event_types + len, sizeof(event_types) - len, "%s,", type);
  cJSON_Delete(obj);
  if (events == 2)
    ev_break(loop, EVBREAK_ALL);
}

static void test_watch_and_cancel(void) {
  client_t *c = new_client();
  events = 0;
  event_types[0] = '\0';
  closed = 0;
  done_calls = 0;
  client_ref_t ref = {.version = "v1", .resource = "pods"};
  client_req_t *w = client_watch(c, &ref, "resourceVersion=5", on_event, on_done, NULL);
  ASSERT_NOT_NULL(w);
  ASSERT_EQ_STR(seen_target, "/api/v1/pods?watch=true&resourceVersion=5");
  run();
  ASSERT_EQ_INT(events, 2);
  ASSERT_EQ_STR(event_types, "ADDED,MODIFIED,");
  ASSERT_NOT_NULL(watching);
  client_req_cancel(w);
  ASSERT_EQ_INT(closed, 1); /* the handler saw the client go */
  ASSERT_NULL(watching);
  ASSERT_EQ_INT(done_calls, 0); /* no callback after cancel */
  client_free(c);
}

/* The server ends a watch: done runs with 200 after the events. */
static void test_watch_server_end(void) {
  client_t *c = new_client();
  events = 0;
  event_types[0] = '\0';
  done_calls = 0;
  client_ref_t ref = {.version = "v1", .resource = "pods"};
  client_watch(c, &ref, NULL, on_event, on_done, NULL);
  http_stream_end(watching); /* before the client saw anything */
  watching = NULL;
  run();
  ASSERT_EQ_INT(events, 2);
  if (!done_calls)
    run();
  ASSERT_EQ_INT(done_calls, 1);
  ASSERT_EQ_INT(last_code, 200);
  client_free(c);
}

/* A request cancelled while the handler still holds it: the handler's
 * later answer goes nowhere; client_free with one pending is clean. */
static void test_cancel_pending(void) {
  client_t *c = new_client();
  done_calls = 0;
  client_ref_t ref = {.version = "v1", .resource = "pods", .ns = "d", .name = "later"};
  client_req_t *r = client_get(c, &ref, NULL, on_done, NULL);
  ASSERT_NOT_NULL(held);
  client_req_cancel(r);
  http_respond(held, 200, "application/json", "{}", 2);
  held = NULL;
  client_get(c, &ref, NULL, on_done, NULL); /* pending at client_free */
  client_free(c);
  http_respond(held, 200, "application/json", "{}", 2);
  held = NULL;
  ev_run(loop, EVRUN_NOWAIT);
  ASSERT_EQ_INT(done_calls, 0);
}

/* ---- client_stream ---- */

static char chunks[256];
static int chunk_calls, head_calls;
static char stream_body[256];
static bool cancel_in_chunk;
static client_req_t *streaming;

static void on_chunk(const char *bytes, size_t len, void *data) {
  if (!len) {
    head_calls++;
    return;
  }
  chunk_calls++;
  size_t n = strlen(chunks);
  snprintf(chunks + n, sizeof(chunks) - n, "%.*s", (int)len, bytes);
  if (cancel_in_chunk) {
    client_req_cancel(streaming);
    ev_break(loop, EVBREAK_ALL);
  }
}

static void on_stream_done(const client_result_t *res, void *data) {
  done_calls++;
  last_code = res->code;
  snprintf(stream_body, sizeof(stream_body), "%.*s", (int)res->body_len, res->body);
  ev_break(loop, EVBREAK_ALL);
}

static void test_stream(void) {
  client_t *c = new_client();
  done_calls = chunk_calls = head_calls = 0;
  chunks[0] = 0;
  cancel_in_chunk = false;
  ASSERT_NOT_NULL(client_stream(c, "/stream?tailLines=2", on_chunk, on_stream_done, NULL));
  ASSERT_EQ_INT(head_calls + chunk_calls + done_calls, 0); /* never inside the call */
  run();
  ASSERT_EQ_INT(done_calls, 1);
  ASSERT_EQ_INT(last_code, 200);
  ASSERT_EQ_INT(head_calls, 1);
  ASSERT_EQ_STR(chunks, "abcdef\n");
  ASSERT_EQ_STR(seen_target, "/stream?tailLines=2");
  ASSERT_EQ_STR(stream_body, ""); /* streamed, not kept */
  /* an error's text is in the result */
  ASSERT_NOT_NULL(client_stream(c, "/streamerr", on_chunk, on_stream_done, NULL));
  run();
  ASSERT_EQ_INT(done_calls, 2);
  ASSERT_EQ_INT(last_code, 400);
  ASSERT_CONTAINS(stream_body, "is waiting to start: ContainerCreating");
  ASSERT_NULL(client_stream(c, "no-slash", on_chunk, on_stream_done, NULL));
  client_free(c);
}

static void test_stream_cancel_in_chunk(void) {
  client_t *c = new_client();
  done_calls = chunk_calls = head_calls = closed = 0;
  chunks[0] = 0;
  cancel_in_chunk = true;
  streaming = client_stream(c, "/stream?follow=true", on_chunk, on_stream_done, NULL);
  ASSERT_NOT_NULL(streaming);
  run();
  ASSERT_EQ_INT(chunk_calls, 1);
  ASSERT_EQ_INT(done_calls, 0);
  ASSERT_EQ_INT(closed, 1); /* the handler's stream saw the client go */
  held = NULL;
  ev_run(loop, EVRUN_NOWAIT);
  cancel_in_chunk = false;
  client_free(c);
}

static void test_paths_and_queries(void) {
  char p[256];
  client_ref_t core = {.version = "v1", .resource = "nodes", .name = "n1", .subresource = "status"};
  ASSERT_EQ_INT(client_ref_path(&core, p, sizeof(p)), 0);
  ASSERT_EQ_STR(p, "/api/v1/nodes/n1/status");
  client_ref_t bad = {.version = "v1", .resource = "pods", .ns = "a/b"};
  ASSERT_EQ_INT(client_ref_path(&bad, p, sizeof(p)), -EINVAL);
  client_ref_t dots = {.version = "v1", .resource = "pods", .name = ".."};
  ASSERT_EQ_INT(client_ref_path(&dots, p, sizeof(p)), -EINVAL);
  ASSERT_EQ_INT(client_ref_path(&core, p, 8), -E2BIG);
  char q[64] = "";
  ASSERT_EQ_INT(client_query_add(q, sizeof(q), "labelSelector", "app=web,tier in (a b)"), 0);
  ASSERT_EQ_STR(q, "labelSelector=app%3Dweb%2Ctier%20in%20%28a%20b%29");
  ASSERT_EQ_INT(client_query_add(q, sizeof(q), "limit", "500"), 0);
  ASSERT_CONTAINS(q, "&limit=500");
  char small[8] = "";
  ASSERT_EQ_INT(client_query_add(small, sizeof(small), "continue", "abcdef"), -E2BIG);
  ASSERT_EQ_STR(small, "");
}

TEST_LIST = {
    TEST(test_get_async),         TEST(test_status_error),   TEST(test_create_and_patch_bodies),
    TEST(test_watch_and_cancel),  TEST(test_watch_server_end), TEST(test_cancel_pending),
    TEST(test_paths_and_queries), TEST(test_stream),         TEST(test_stream_cancel_in_chunk),
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
