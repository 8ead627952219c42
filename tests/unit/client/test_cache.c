/* Tests for pkg/client/cache.c: keys, replacement, indexes (namespace,
 * owner, node, labels) kept right through updates and removals, limits and
 * the relist sweep. */
#include <errno.h>

#include "client/cache.h"
#include "test.h"

static cJSON *pod(const char *ns, const char *name, const char *node, const char *owner,
                  const char *app, const char *rv) {
  char buf[1024];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\",\"resourceVersion\":\"%s\","
           "\"labels\":{\"app\":\"%s\"},\"ownerReferences\":[{\"uid\":\"%s\"}]},"
           "\"spec\":{\"nodeName\":\"%s\"}}",
           ns, name, rv, app, owner, node);
  return cJSON_Parse(buf);
}

static client_cache_t *new_cache(size_t max) {
  client_cache_t *c = client_cache_new(max);
  ASSERT_EQ_INT(client_cache_add_index(c, CLIENT_INDEX_NAMESPACE, client_index_namespace), 0);
  ASSERT_EQ_INT(client_cache_add_index(c, CLIENT_INDEX_OWNER, client_index_owner_uid), 0);
  ASSERT_EQ_INT(client_cache_add_index(c, CLIENT_INDEX_NODE, client_index_node_name), 0);
  ASSERT_EQ_INT(client_cache_add_index(c, CLIENT_INDEX_LABEL, client_index_labels), 0);
  ASSERT_EQ_INT(client_cache_add_index(c, CLIENT_INDEX_LABEL, client_index_labels), -EEXIST);
  return c;
}

static size_t count(client_cache_t *c, const char *index, const char *value) {
  size_t n = 99;
  const cJSON **v = client_cache_by_index(c, index, value, &n);
  free(v);
  return n;
}

static void test_key(void) {
  char k[64];
  cJSON *p = pod("ns1", "a", "", "", "", "1");
  ASSERT_EQ_INT(client_cache_key(p, k, sizeof(k)), 0);
  ASSERT_EQ_STR(k, "ns1/a");
  cJSON_Delete(p);
  cJSON *n = cJSON_Parse("{\"metadata\":{\"name\":\"node1\"}}");
  ASSERT_EQ_INT(client_cache_key(n, k, sizeof(k)), 0);
  ASSERT_EQ_STR(k, "node1");
  ASSERT_EQ_INT(client_cache_key(n, k, 3), -E2BIG);
  cJSON_Delete(n);
  cJSON *bad = cJSON_Parse("{\"metadata\":{}}");
  ASSERT_EQ_INT(client_cache_key(bad, k, sizeof(k)), -EINVAL);
  cJSON_Delete(bad);
}

static void test_put_get_remove(void) {
  client_cache_t *c = new_cache(0);
  cJSON *old = (cJSON *)1;
  ASSERT_EQ_INT(client_cache_put(c, pod("ns1", "a", "n1", "u1", "web", "1"), &old), 0);
  ASSERT_NULL(old);
  ASSERT_EQ_INT(client_cache_put(c, pod("ns1", "b", "n1", "u1", "web", "2"), NULL), 0);
  ASSERT_EQ_INT(client_cache_put(c, pod("ns2", "a", "n2", "u2", "db", "3"), NULL), 0);
  ASSERT_EQ_INT(client_cache_count(c), 3);
  ASSERT_EQ_INT(client_cache_add_index(c, "late", client_index_labels), -EBUSY);
  const cJSON *a = client_cache_get(c, "ns1/a");
  ASSERT_NOT_NULL(a);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_NAMESPACE, "ns1"), 2);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_OWNER, "u1"), 2);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_NODE, "n2"), 1);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_LABEL, "app=web"), 2);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_LABEL, "app=none"), 0);
  ASSERT_NULL(client_cache_by_index(c, "nosuch", "x", NULL));

  /* replace: indexes follow the new object; the old one is handed back */
  ASSERT_EQ_INT(client_cache_put(c, pod("ns1", "a", "n2", "u2", "db", "4"), &old), 0);
  ASSERT_NOT_NULL(old);
  ASSERT_EQ_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(old, "metadata"), "resourceVersion")
                    ->valuestring,
                "1");
  cJSON_Delete(old);
  ASSERT_EQ_INT(client_cache_count(c), 3);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_OWNER, "u1"), 1);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_NODE, "n2"), 2);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_LABEL, "app=db"), 2);

  cJSON *gone = client_cache_remove(c, "ns1/a");
  ASSERT_NOT_NULL(gone);
  cJSON_Delete(gone);
  ASSERT_NULL(client_cache_remove(c, "ns1/a"));
  ASSERT_NULL(client_cache_get(c, "ns1/a"));
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_NODE, "n2"), 1);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_NAMESPACE, "ns1"), 1);
  ASSERT_EQ_INT(client_cache_count(c), 2);
  client_cache_free(c);
}

static void test_limit(void) {
  client_cache_t *c = new_cache(2);
  ASSERT_EQ_INT(client_cache_put(c, pod("n", "a", "", "", "", "1"), NULL), 0);
  ASSERT_EQ_INT(client_cache_put(c, pod("n", "b", "", "", "", "1"), NULL), 0);
  ASSERT_EQ_INT(client_cache_put(c, pod("n", "c", "", "", "", "1"), NULL), -ENOSPC);
  ASSERT_EQ_INT(client_cache_put(c, pod("n", "a", "", "", "", "2"), NULL), 0); /* replace is fine */
  ASSERT_EQ_INT(client_cache_put(c, cJSON_Parse("{}"), NULL), -EINVAL);
  client_cache_free(c);
}

static int swept;
static void on_swept(const cJSON *obj, void *data) { swept++; }

static void test_sweep(void) {
  client_cache_t *c = new_cache(0);
  char name[32];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof(name), "p%d", i);
    client_cache_put(c, pod("ns", name, "n", "u", "x", "1"), NULL);
  }
  client_cache_epoch_begin(c);
  for (int i = 0; i < 100; i += 2) { /* a relist that returns half */
    snprintf(name, sizeof(name), "p%d", i);
    client_cache_put(c, pod("ns", name, "n", "u", "x", "2"), NULL);
  }
  swept = 0;
  client_cache_sweep(c, on_swept, NULL);
  ASSERT_EQ_INT(swept, 50);
  ASSERT_EQ_INT(client_cache_count(c), 50);
  ASSERT_NOT_NULL(client_cache_get(c, "ns/p2"));
  ASSERT_NULL(client_cache_get(c, "ns/p3"));
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_OWNER, "u"), 50);
  /* the table still works after many tombstones */
  for (int i = 1; i < 100; i += 2) {
    snprintf(name, sizeof(name), "p%d", i);
    client_cache_put(c, pod("ns", name, "n", "u", "x", "3"), NULL);
  }
  ASSERT_EQ_INT(client_cache_count(c), 100);
  ASSERT_EQ_INT(count(c, CLIENT_INDEX_NAMESPACE, "ns"), 100);
  client_cache_free(c);
}

TEST_LIST = {
    TEST(test_key), TEST(test_put_get_remove), TEST(test_limit), TEST(test_sweep), {0},
};
TEST_MAIN()
