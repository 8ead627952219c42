/* Tests for pkg/util/keyset.c: small objects are scanned, larger ones
 * indexed once, replaced items re-indexed, many keys found in linear time. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "util/keyset.h"

static void test_small_then_indexed(void) {
  cJSON *obj = cJSON_CreateObject();
  keyset_t ks = {0};
  size_t n = 0;
  char key[16];
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    ASSERT_NULL(keyset_find(&ks, obj, n, key));
    cJSON *v = cJSON_CreateNumber(i);
    cJSON_AddItemToObject(obj, key, v);
    n++;
    keyset_put(&ks, v);
    if (i < KEYSET_SMALL)
      ASSERT_EQ_INT(ks.cap, 0); /* scanned, not indexed */
  }
  ASSERT_TRUE(ks.cap > 0);
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    cJSON *v = keyset_find(&ks, obj, n, key);
    ASSERT_NOT_NULL(v);
    ASSERT_EQ_INT(v->valueint, i);
  }
  /* replacing an indexed item: put the new one first, then free the old */
  cJSON *old = keyset_find(&ks, obj, n, "k3");
  cJSON *nv = cJSON_CreateNumber(33);
  nv->string = old->string;
  keyset_put(&ks, nv);
  old->string = NULL;
  cJSON_ReplaceItemViaPointer(obj, old, nv);
  ASSERT_EQ_INT(keyset_find(&ks, obj, n, "k3")->valueint, 33);
  ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(obj, "k3")->valueint, 33);
  ASSERT_EQ_INT((int)ks.n, 20);
  keyset_done(&ks);
  ASSERT_EQ_INT(ks.cap, 0);
  cJSON_Delete(obj);
}

static void test_many_keys(void) {
  cJSON *obj = cJSON_CreateObject();
  keyset_t ks = {0};
  size_t n = 0;
  char key[32];
  for (int i = 0; i < 100000; i++) {
    snprintf(key, sizeof(key), "key-%d", i);
    if (keyset_find(&ks, obj, n, key))
      TEST_FAIL("found %s before adding it", key);
    cJSON *v = cJSON_CreateNumber(i);
    cJSON_AddItemToObject(obj, key, v);
    n++;
    keyset_put(&ks, v);
  }
  ASSERT_EQ_INT(keyset_find(&ks, obj, n, "key-99999")->valueint, 99999);
  ASSERT_NULL(keyset_find(&ks, obj, n, "key-100000"));
  keyset_done(&ks);
  cJSON_Delete(obj);
}

TEST_LIST = {TEST(test_small_then_indexed), TEST(test_many_keys), {0}};

TEST_MAIN()
