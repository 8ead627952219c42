/* Tests for the pure parts of pkg/controller/pvbinder.c: which volume fits
 * a claim (class, access modes, capacity, volumeMode, selector, claimRef,
 * deletion), which one is picked (pre-bound first, then the smallest, then
 * by name), and the local-path provisioner's directory and PV. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "controller/pvbinder.h"
#include "json/util.h"
#include "test.h"

static cJSON *J(const char *s) {
  cJSON *j = cJSON_Parse(s);
  if (!j)
    TEST_FAIL("bad JSON in test: %s", s);
  return j;
}

/* base with the keys of the JSON object text extra ("" for none) set in
 * base's spec, replacing what is there. */
static cJSON *with_spec(cJSON *base, const char *extra) {
  if (!extra[0])
    return base;
  char buf[2048];
  snprintf(buf, sizeof(buf), "{%s}", extra);
  cJSON *x = J(buf), *spec = cJSON_GetObjectItem(base, "spec"), *k;
  cJSON_ArrayForEach(k, x) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, k->string);
    cJSON_AddItemToObject(spec, k->string, cJSON_Duplicate(k, 1));
  }
  cJSON_Delete(x);
  return base;
}

static cJSON *pv(const char *name, const char *size, const char *extra) {
  char buf[2048];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"tier\":\"gold\"}},"
           "\"spec\":{\"capacity\":{\"storage\":\"%s\"},\"accessModes\":[\"ReadWriteOnce\","
           "\"ReadOnlyMany\"],\"storageClassName\":\"manual\",\"hostPath\":{\"path\":\"/x\"}},"
           "\"status\":{\"phase\":\"Available\"}}",
           name, size);
  return with_spec(J(buf), extra);
}

static cJSON *claim(const char *size, const char *extra) {
  char buf[2048];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"c\",\"namespace\":\"ns\",\"uid\":\"u-1\"},"
           "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"manual\","
           "\"resources\":{\"requests\":{\"storage\":\"%s\"}}}}",
           size);
  return with_spec(J(buf), extra);
}

static bool fits(const char *pv_size, const char *pv_extra, const char *req,
                 const char *claim_extra) {
  cJSON *v = pv("v", pv_size, pv_extra), *c = claim(req, claim_extra);
  bool r = controller_pv_fits(v, c);
  cJSON_Delete(v);
  cJSON_Delete(c);
  return r;
}

static void test_fits_capacity(void) {
  ASSERT_TRUE(fits("1Gi", "", "1Gi", ""));
  ASSERT_TRUE(fits("1Gi", "", "500Mi", ""));
  ASSERT_TRUE(fits("1G", "", "1000M", ""));
  ASSERT_FALSE(fits("1Gi", "", "1.5Gi", ""));
  ASSERT_FALSE(fits("1G", "", "1Gi", "")); /* 10^9 < 2^30 */
}

static void test_fits_class_modes(void) {
  ASSERT_FALSE(fits("1Gi", "", "1Gi", "\"storageClassName\":\"fast\""));
  /* the claim's modes must all be offered */
  ASSERT_TRUE(fits("1Gi", "", "1Gi", "\"accessModes\":[\"ReadOnlyMany\",\"ReadWriteOnce\"]"));
  ASSERT_FALSE(fits("1Gi", "", "1Gi", "\"accessModes\":[\"ReadWriteMany\"]"));
  ASSERT_FALSE(fits("1Gi", "", "1Gi", "\"volumeMode\":\"Block\""));
  ASSERT_TRUE(fits("1Gi", "\"volumeMode\":\"Block\"", "1Gi", "\"volumeMode\":\"Block\""));
}

static void test_fits_selector_claimref(void) {
  ASSERT_TRUE(fits("1Gi", "", "1Gi", "\"selector\":{\"matchLabels\":{\"tier\":\"gold\"}}"));
  ASSERT_FALSE(fits("1Gi", "", "1Gi", "\"selector\":{\"matchLabels\":{\"tier\":\"iron\"}}"));
  ASSERT_TRUE(fits("1Gi", "\"claimRef\":{\"namespace\":\"ns\",\"name\":\"c\"}", "1Gi", ""));
  ASSERT_TRUE(fits("1Gi", "\"claimRef\":{\"namespace\":\"ns\",\"name\":\"c\",\"uid\":\"u-1\"}",
                   "1Gi", ""));
  /* another claim's, or an older claim of that name */
  ASSERT_FALSE(fits("1Gi", "\"claimRef\":{\"namespace\":\"ns\",\"name\":\"d\"}", "1Gi", ""));
  ASSERT_FALSE(fits("1Gi", "\"claimRef\":{\"namespace\":\"other\",\"name\":\"c\"}", "1Gi", ""));
  ASSERT_FALSE(fits("1Gi", "\"claimRef\":{\"namespace\":\"ns\",\"name\":\"c\",\"uid\":\"u-0\"}",
                    "1Gi", ""));
}

static void test_fits_deleted(void) {
  cJSON *v = pv("v", "1Gi", ""), *c = claim("1Gi", "");
  cJSON_AddStringToObject(cJSON_GetObjectItem(v, "metadata"), "deletionTimestamp",
                          "2026-01-01T00:00:00Z");
  ASSERT_FALSE(controller_pv_fits(v, c));
  cJSON_Delete(v);
  cJSON_Delete(c);
}

static void test_pick(void) {
  cJSON *a = pv("a", "10Gi", ""), *b = pv("b", "2Gi", ""), *b2 = pv("aa", "2Gi", "");
  cJSON *small = pv("small", "100Mi", "");
  cJSON *released = pv("rel", "1Gi", "");
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(released, "status"), "phase",
                            cJSON_CreateString("Released"));
  cJSON *c = claim("1Gi", "");
  const cJSON *v[] = {a, b, small, released, b2};
  const cJSON *got = controller_pv_pick(v, 5, c);
  ASSERT_NOT_NULL(got);
  ASSERT_EQ_STR(json_get_path(got, "metadata.name")->valuestring, "aa");
  /* one pre-bound to the claim wins over a smaller one */
  cJSON *pre = pv("pre", "10Gi", "\"claimRef\":{\"namespace\":\"ns\",\"name\":\"c\"}");
  const cJSON *w[] = {b, pre};
  got = controller_pv_pick(w, 2, c);
  ASSERT_EQ_STR(json_get_path(got, "metadata.name")->valuestring, "pre");
  cJSON *big = claim("50Gi", "");
  ASSERT_NULL(controller_pv_pick(v, 5, big));
  ASSERT_NULL(controller_pv_pick(NULL, 0, c));
  cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(b2), cJSON_Delete(small);
  cJSON_Delete(released), cJSON_Delete(c), cJSON_Delete(pre), cJSON_Delete(big);
}

static void test_localpath_dir(void) {
  char out[256];
  ASSERT_EQ_INT(controller_localpath_dir("/var/lib/k3c/storage", "u-1", "ns", "data", out,
                                         sizeof(out)),
                0);
  ASSERT_EQ_STR(out, "/var/lib/k3c/storage/pvc-u-1_ns_data");
  char tiny[16];
  ASSERT_EQ_INT(controller_localpath_dir("/var/lib/k3c/storage", "u-1", "ns", "data", tiny,
                                         sizeof(tiny)),
                -ENAMETOOLONG);
}

static void test_localpath_pv(void) {
  cJSON *c = J("{\"metadata\":{\"name\":\"data\",\"namespace\":\"ns\",\"uid\":\"u-9\"},"
               "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"local-path\","
               "\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}}}");
  cJSON *v = controller_localpath_pv(c, "node-a", "/d/storage", NULL);
  ASSERT_NOT_NULL(v);
  ASSERT_EQ_STR(json_get_path(v, "metadata.name")->valuestring, "pvc-u-9");
  ASSERT_EQ_STR(json_get_path(v, "spec.hostPath.path")->valuestring, "/d/storage/pvc-u-9_ns_data");
  ASSERT_EQ_STR(json_get_path(v, "spec.hostPath.type")->valuestring, "DirectoryOrCreate");
  ASSERT_EQ_STR(json_get_path(v, "spec.persistentVolumeReclaimPolicy")->valuestring, "Delete");
  ASSERT_EQ_STR(json_get_path(v, "spec.storageClassName")->valuestring, "local-path");
  ASSERT_EQ_STR(json_get_path(v, "spec.capacity.storage")->valuestring, "2Gi");
  ASSERT_EQ_STR(json_get_path(v, "spec.claimRef.uid")->valuestring, "u-9");
  const cJSON *e = cJSON_GetArrayItem(
      json_get_path(cJSON_GetArrayItem(json_get_path(v, "spec.nodeAffinity.required.nodeSelectorTerms"), 0),
                    "matchExpressions"),
      0);
  ASSERT_EQ_STR(json_get_path(e, "key")->valuestring, "kubernetes.io/hostname");
  ASSERT_EQ_STR(cJSON_GetArrayItem(json_get_path(e, "values"), 0)->valuestring, "node-a");
  const cJSON *ann = json_get_path(v, "metadata.annotations");
  ASSERT_EQ_STR(cJSON_GetObjectItem(ann, "pv.kubernetes.io/provisioned-by")->valuestring,
                "rancher.io/local-path");
  /* the provisioned volume fits its claim (and so is picked for it) */
  ASSERT_TRUE(controller_pv_fits(v, c));
  cJSON *r = controller_localpath_pv(c, "node-a", "/d/storage", "Retain");
  ASSERT_EQ_STR(json_get_path(r, "spec.persistentVolumeReclaimPolicy")->valuestring, "Retain");
  cJSON_Delete(r);
  cJSON_Delete(v);
  cJSON *norq = J("{\"metadata\":{\"name\":\"data\",\"namespace\":\"ns\",\"uid\":\"u-9\"},\"spec\":{}}");
  ASSERT_NULL(controller_localpath_pv(norq, "node-a", "/d", NULL));
  cJSON_Delete(norq);
  cJSON_Delete(c);
}

TEST_LIST = {
    TEST(test_fits_capacity), TEST(test_fits_class_modes), TEST(test_fits_selector_claimref),
    TEST(test_fits_deleted),  TEST(test_pick),             TEST(test_localpath_dir),
    TEST(test_localpath_pv),  {0}};
TEST_MAIN()
