/* Tests for pkg/client/informer.c against a fake API handler over the
 * in-process client: paged list, handlers and indexes, watch from the
 * list's resourceVersion, a watch that ends and resumes from the last
 * version seen, and a 410 Gone that relists and turns the difference into
 * add/update/delete events. */
#include <string.h>

#include "client/informer.h"
#include "test.h"

static struct ev_loop *loop;
static http_req_t *watch_req;
static char last_watch_query[512];
static int lists;
static const char *page1, *page2; /* list bodies; page2 after continue */

static void on_close(http_req_t *r, void *data) {
  if (r == watch_req)
    watch_req = NULL;
  http_stream_end(r);
}

static void handler(http_req_t *r, void *data) {
  if (http_req_query(r, "watch")) {
    snprintf(last_watch_query, sizeof(last_watch_query), "%s", http_req_raw_query(r));
    watch_req = r;
    http_req_on_close(r, on_close, NULL);
    http_stream_begin(r, 200, "application/json");
    return;
  }
  lists++;
  const char *body = http_req_query(r, "continue") ? page2 : page1;
  http_respond(r, 200, "application/json", body, strlen(body));
}

static void send_event(const char *line) {
  http_stream_write(watch_req, line, strlen(line));
}

static char log_[2048];
static void log_event(const char *what, const cJSON *obj) {
  const char *name = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name")->valuestring;
  size_t len = strlen(log_);
  snprintf(log_ + len, sizeof(log_) - len, "%s:%s ", what, name);
}
static void on_add(const cJSON *obj, void *data) { log_event("add", obj); }
static void on_update(const cJSON *old, const cJSON *obj, void *data) { log_event("update", obj); }
static void on_delete(const cJSON *obj, void *data) { log_event("delete", obj); }

/* Run the loop until cond or 2 s. */
#define RUN_UNTIL(cond)                                                                            \
  do {                                                                                             \
    double end_ = ev_time() + 2;                                                                   \
    while (!(cond) && ev_time() < end_)                                                            \
      ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);                                                     \
  } while (0)

#define POD(name, rv, node)                                                                        \
  "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"" name "\",\"resourceVersion\":\"" rv "\"},"   \
  "\"spec\":{\"nodeName\":\"" node "\"}}"

static void test_list_watch_relist(void) {
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  ASSERT_EQ_INT(client_inproc_new(loop, handler, NULL, "t", groups, &c), 0);
  page1 = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"continue\":\"c1\"},"
          "\"items\":[" POD("a", "5", "n1") "]}";
  page2 = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"10\"},"
          "\"items\":[" POD("b", "7", "n1") "]}";
  client_ref_t ref = {.version = "v1", .resource = "pods"};
  client_informer_t *inf = NULL;
  ASSERT_EQ_INT(client_informer_new(c, &ref, NULL, NULL, 0, &inf), 0);
  ASSERT_EQ_INT(client_informer_add_index(inf, CLIENT_INDEX_NODE, client_index_node_name), 0);
  client_informer_handlers_t h = {on_add, on_update, on_delete};
  client_informer_add_handlers(inf, &h, NULL);
  log_[0] = '\0';
  client_informer_start(inf);
  RUN_UNTIL(watch_req);
  ASSERT_TRUE(client_informer_synced(inf));
  ASSERT_EQ_INT(lists, 2); /* two pages */
  ASSERT_EQ_STR(log_, "add:a add:b ");
  ASSERT_EQ_STR(client_informer_resource_version(inf), "10");
  ASSERT_CONTAINS(last_watch_query, "resourceVersion=10");
  ASSERT_CONTAINS(last_watch_query, "allowWatchBookmarks=true");
  const cJSON *a = client_informer_get(inf, "ns", "a");
  ASSERT_NOT_NULL(a);
  ASSERT_EQ_STR(cJSON_GetObjectItem(a, "kind")->valuestring, "Pod"); /* filled from the list */

  /* watch events */
  log_[0] = '\0';
  send_event("{\"type\":\"MODIFIED\",\"object\":" POD("a", "11", "n2") "}\n");
  send_event("{\"type\":\"ADDED\",\"object\":" POD("c", "12", "n2") "}\n");
  send_event("{\"type\":\"DELETED\",\"object\":" POD("b", "13", "n1") "}\n");
  send_event("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"15\"}}}\n");
  RUN_UNTIL(strlen(log_) >= strlen("update:a add:c delete:b ") &&
            !strcmp(client_informer_resource_version(inf), "15"));
  ASSERT_EQ_STR(log_, "update:a add:c delete:b ");
  ASSERT_EQ_STR(client_informer_resource_version(inf), "15");
  size_t n = 0;
  free(client_cache_by_index(client_informer_cache(inf), CLIENT_INDEX_NODE, "n2", &n));
  ASSERT_EQ_INT(n, 2);
  ASSERT_NULL(client_informer_get(inf, "ns", "b"));

  /* the server ends the stream: the informer watches again from 15 */
  http_req_t *old = watch_req;
  watch_req = NULL;
  http_stream_end(old);
  RUN_UNTIL(watch_req);
  ASSERT_NOT_NULL(watch_req);
  ASSERT_CONTAINS(last_watch_query, "resourceVersion=15");
  ASSERT_EQ_INT(lists, 2);

  /* 410 Gone: relist; a is unchanged, c is gone, d is new. The cached a
   * stays the same object (handlers and syncs may hold it). */
  const cJSON *a_before = client_informer_get(inf, "ns", "a");
  ASSERT_NOT_NULL(a_before);
  page1 = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"30\"},"
          "\"items\":[" POD("a", "11", "n2") "," POD("d", "29", "n3") "]}";
  log_[0] = '\0';
  send_event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
             "\"status\":\"Failure\",\"message\":\"too old resource version: 15 (20)\","
             "\"reason\":\"Expired\",\"code\":410}}\n");
  RUN_UNTIL(!strcmp(client_informer_resource_version(inf), "30") && watch_req);
  ASSERT_EQ_INT(lists, 3);
  ASSERT_EQ_STR(log_, "add:d delete:c ");
  ASSERT_TRUE(client_informer_get(inf, "ns", "a") == a_before);
  ASSERT_CONTAINS(last_watch_query, "resourceVersion=30");
  client_informer_stats_t st;
  client_informer_stats(inf, &st);
  ASSERT_EQ_INT(st.gone, 1);
  ASSERT_EQ_INT(st.lists, 2);
  ASSERT_EQ_INT(client_cache_count(client_informer_cache(inf)), 2);

  client_informer_free(inf);
  ASSERT_NULL(watch_req); /* freeing cancelled the watch */
  client_free(c);
}

TEST_LIST = {TEST(test_list_watch_relist), {0}};

int main_(int argc, char **argv);
#define main main_
TEST_MAIN()
#undef main
int main(int argc, char **argv) {
  loop = ev_default_loop(0);
  return main_(argc, argv);
}
