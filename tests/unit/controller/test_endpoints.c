/* Tests for the pure part of pkg/controller/endpoints.c: which pods go
 * into Endpoints (phase, IP, deletion, publishNotReadyAddresses), ready
 * and not-ready addresses, named targetPort resolution per pod, upstream's
 * repacking (ports with the same addresses share a subset), headless
 * services without ports and hostnames, sorting, and the 1000-address
 * truncation that keeps ready addresses first. */
#include <stdio.h>
#include <string.h>

#include "controller/endpoints.h"
#include "test.h"

static cJSON *pod(const char *name, const char *ip, bool ready, const char *extra) {
  char buf[2048];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"uid-%s\"},"
           "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"ports\":["
           "{\"name\":\"http\",\"containerPort\":8080}]}]},"
           "\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\",\"conditions\":[{\"type\":"
           "\"Ready\",\"status\":\"%s\"}]}%s}",
           name, name, ip, ready ? "True" : "False", extra ? extra : "");
  cJSON *p = cJSON_Parse(buf);
  if (!p)
    TEST_FAIL("bad pod json");
  return p;
}

static cJSON *svc(const char *spec) {
  char buf[2048];
  snprintf(buf, sizeof(buf),
           "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":%s}", spec);
  cJSON *s = cJSON_Parse(buf);
  if (!s)
    TEST_FAIL("bad svc json");
  return s;
}

static const char *ip_at(const cJSON *subsets, int s, const char *field, int i) {
  const cJSON *a = cJSON_GetArrayItem(
      cJSON_GetObjectItem(cJSON_GetArrayItem(subsets, s), field), i);
  const cJSON *ip = cJSON_GetObjectItem(a, "ip");
  return cJSON_IsString(ip) ? ip->valuestring : "(none)";
}

static int count(const cJSON *subsets, int s, const char *field) {
  return cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(subsets, s), field));
}

static void test_ready_and_not_ready(void) {
  cJSON *s = svc("{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080,"
                 "\"protocol\":\"TCP\"}]}");
  cJSON *p[5] = {pod("b", "10.42.0.2", true, NULL), pod("a", "10.42.0.1", true, NULL),
                 pod("c", "10.42.0.3", false, NULL), pod("d", "", true, NULL),
                 pod("e", "10.42.0.5", true, NULL)};
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(p[4], "status"), "phase",
                            cJSON_CreateString("Succeeded"));
  bool cut = true;
  cJSON *out = controller_endpoints_subsets(s, (const cJSON *const *)p, 5, 1000, &cut);
  ASSERT_FALSE(cut);
  ASSERT_EQ_INT(cJSON_GetArraySize(out), 1);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 2);
  ASSERT_EQ_STR(ip_at(out, 0, "addresses", 0), "10.42.0.1");
  ASSERT_EQ_STR(ip_at(out, 0, "addresses", 1), "10.42.0.2");
  ASSERT_EQ_INT(count(out, 0, "notReadyAddresses"), 1);
  ASSERT_EQ_STR(ip_at(out, 0, "notReadyAddresses", 0), "10.42.0.3");
  char *txt = cJSON_PrintUnformatted(cJSON_GetArrayItem(out, 0));
  ASSERT_CONTAINS(txt, "\"ports\":[{\"port\":8080,\"protocol\":\"TCP\"}]");
  ASSERT_CONTAINS(txt, "\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":"
                       "\"default\",\"name\":\"a\",\"uid\":\"uid-a\"}");
  cJSON_free(txt);
  cJSON_Delete(out);
  for (int i = 0; i < 5; i++)
    cJSON_Delete(p[i]);
  cJSON_Delete(s);
}

static void test_publish_not_ready_and_terminating(void) {
  cJSON *s = svc("{\"selector\":{\"app\":\"web\"},\"publishNotReadyAddresses\":true,"
                 "\"ports\":[{\"port\":80,\"targetPort\":8080}]}");
  cJSON *p[2] = {pod("a", "10.42.0.1", false, NULL),
                 pod("b", "10.42.0.2", true, NULL)};
  cJSON_AddStringToObject(cJSON_GetObjectItem(p[1], "metadata"), "deletionTimestamp",
                          "2026-01-01T00:00:00Z");
  cJSON *out = controller_endpoints_subsets(s, (const cJSON *const *)p, 2, 1000, NULL);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 2);
  ASSERT_EQ_INT(count(out, 0, "notReadyAddresses"), 0);
  cJSON_Delete(out);
  /* without publishNotReadyAddresses a terminating pod is left out */
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(s, "spec"), "publishNotReadyAddresses");
  out = controller_endpoints_subsets(s, (const cJSON *const *)p, 2, 1000, NULL);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 0);
  ASSERT_EQ_INT(count(out, 0, "notReadyAddresses"), 1);
  ASSERT_EQ_STR(ip_at(out, 0, "notReadyAddresses", 0), "10.42.0.1");
  cJSON_Delete(out);
  for (int i = 0; i < 2; i++)
    cJSON_Delete(p[i]);
  cJSON_Delete(s);
}

static void test_named_port_repack(void) {
  /* a: http=8080; b: http=9090; c: no port named http. Port "m" numbered. */
  cJSON *s = svc("{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"web\",\"port\":80,"
                 "\"targetPort\":\"http\",\"protocol\":\"TCP\"},{\"name\":\"m\",\"port\":81,"
                 "\"targetPort\":9100,\"protocol\":\"TCP\"}]}");
  cJSON *p[3] = {pod("a", "10.42.0.1", true, NULL), pod("b", "10.42.0.2", true, NULL),
                 pod("c", "10.42.0.3", true, NULL)};
  cJSON *port = cJSON_GetArrayItem(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
                              cJSON_GetObjectItem(p[1], "spec"), "containers"), 0), "ports"), 0);
  cJSON_ReplaceItemInObject(port, "containerPort", cJSON_CreateNumber(9090));
  cJSON_ReplaceItemInObject(port, "name", cJSON_CreateString("other"));
  cJSON *port2 = cJSON_Parse("{\"name\":\"http\",\"containerPort\":9090}");
  cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
                           cJSON_GetObjectItem(p[1], "spec"), "containers"), 0), "ports"),
                       port2);
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                                cJSON_GetObjectItem(cJSON_GetObjectItem(p[2], "spec"),
                                                    "containers"), 0), "ports"), 0),
                            "name", cJSON_CreateString("nope"));
  cJSON *out = controller_endpoints_subsets(s, (const cJSON *const *)p, 3, 1000, NULL);
  /* web/8080 -> {a}; web/9090 -> {b}; m/9100 -> {a,b,c}: three subsets */
  ASSERT_EQ_INT(cJSON_GetArraySize(out), 3);
  char *txt = cJSON_PrintUnformatted(out);
  ASSERT_CONTAINS(txt, "\"addresses\":[{\"ip\":\"10.42.0.1\"");
  ASSERT_CONTAINS(txt, "\"ports\":[{\"name\":\"web\",\"port\":8080,\"protocol\":\"TCP\"}]");
  ASSERT_CONTAINS(txt, "\"ports\":[{\"name\":\"web\",\"port\":9090,\"protocol\":\"TCP\"}]");
  ASSERT_CONTAINS(txt, "\"ports\":[{\"name\":\"m\",\"port\":9100,\"protocol\":\"TCP\"}]");
  cJSON_free(txt);
  int three = -1;
  for (int i = 0; i < 3; i++)
    if (count(out, i, "addresses") == 3)
      three = i;
  ASSERT_GE_INT(three, 0);
  ASSERT_EQ_INT(count(out, three, "ports"), 1);
  cJSON_Delete(out);
  /* both ports resolving for the same pods share one subset */
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "spec"),
                                                                   "ports"), 0),
                            "targetPort", cJSON_CreateNumber(8080));
  out = controller_endpoints_subsets(s, (const cJSON *const *)p, 3, 1000, NULL);
  ASSERT_EQ_INT(cJSON_GetArraySize(out), 1);
  ASSERT_EQ_INT(count(out, 0, "ports"), 2);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 3);
  cJSON_Delete(out);
  for (int i = 0; i < 3; i++)
    cJSON_Delete(p[i]);
  cJSON_Delete(s);
}

static void test_headless_hostname(void) {
  cJSON *s = svc("{\"clusterIP\":\"None\",\"selector\":{\"app\":\"web\"}}");
  cJSON *p[2] = {pod("a", "10.42.0.1", true, NULL), pod("b", "10.42.0.2", true, NULL)};
  cJSON *spec = cJSON_GetObjectItem(p[0], "spec");
  cJSON_AddStringToObject(spec, "hostname", "a-host");
  cJSON_AddStringToObject(spec, "subdomain", "web");
  spec = cJSON_GetObjectItem(p[1], "spec");
  cJSON_AddStringToObject(spec, "hostname", "b-host");
  cJSON_AddStringToObject(spec, "subdomain", "other");
  cJSON *out = controller_endpoints_subsets(s, (const cJSON *const *)p, 2, 1000, NULL);
  ASSERT_EQ_INT(cJSON_GetArraySize(out), 1);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 2);
  ASSERT_NULL(cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "ports"));
  char *txt = cJSON_PrintUnformatted(out);
  ASSERT_CONTAINS(txt, "{\"ip\":\"10.42.0.1\",\"hostname\":\"a-host\",");
  ASSERT_TRUE(strstr(txt, "b-host") == NULL);
  cJSON_free(txt);
  cJSON_Delete(out);
  /* a non-headless service without ports has no endpoints */
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(s, "spec"), "clusterIP");
  out = controller_endpoints_subsets(s, (const cJSON *const *)p, 2, 1000, NULL);
  ASSERT_EQ_INT(cJSON_GetArraySize(out), 0);
  cJSON_Delete(out);
  for (int i = 0; i < 2; i++)
    cJSON_Delete(p[i]);
  cJSON_Delete(s);
}

static void test_truncation(void) {
  cJSON *s = svc("{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}");
  enum { N = 30 };
  cJSON *p[N];
  for (int i = 0; i < N; i++) {
    char name[16], ip[32];
    snprintf(name, sizeof(name), "p%02d", i);
    snprintf(ip, sizeof(ip), "10.42.1.%d", i + 1);
    p[i] = pod(name, ip, i % 3 != 0, NULL); /* 10 not ready, 20 ready */
  }
  bool cut = false;
  cJSON *out = controller_endpoints_subsets(s, (const cJSON *const *)p, N, 25, &cut);
  ASSERT_TRUE(cut);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 20);
  ASSERT_EQ_INT(count(out, 0, "notReadyAddresses"), 5);
  cJSON_Delete(out);
  out = controller_endpoints_subsets(s, (const cJSON *const *)p, N, 12, &cut);
  ASSERT_TRUE(cut);
  ASSERT_EQ_INT(count(out, 0, "addresses"), 12);
  ASSERT_EQ_INT(count(out, 0, "notReadyAddresses"), 0);
  cJSON_Delete(out);
  out = controller_endpoints_subsets(s, (const cJSON *const *)p, N, 30, &cut);
  ASSERT_FALSE(cut);
  cJSON_Delete(out);
  for (int i = 0; i < N; i++)
    cJSON_Delete(p[i]);
  cJSON_Delete(s);
}

static void test_selector_and_find_port(void) {
  cJSON *s = svc("{\"selector\":{\"app\":\"web\",\"tier\":\"fe\"}}");
  cJSON *l1 = cJSON_Parse("{\"app\":\"web\",\"tier\":\"fe\",\"x\":\"y\"}");
  cJSON *l2 = cJSON_Parse("{\"app\":\"web\"}");
  ASSERT_TRUE(controller__service_selects(s, l1));
  ASSERT_FALSE(controller__service_selects(s, l2));
  ASSERT_FALSE(controller__service_selects(s, NULL));
  ASSERT_TRUE(controller__service_managed(s));
  cJSON *e = svc("{\"type\":\"ExternalName\",\"selector\":{\"app\":\"web\"}}");
  ASSERT_FALSE(controller__service_managed(e));
  cJSON *none = svc("{\"ports\":[{\"port\":80}]}");
  ASSERT_FALSE(controller__service_managed(none));
  cJSON *p = pod("a", "10.42.0.1", true, NULL);
  cJSON *sp = cJSON_Parse("{\"port\":80,\"targetPort\":\"http\",\"protocol\":\"UDP\"}");
  ASSERT_EQ_INT(controller__pod_find_port(p, sp), -1); /* protocol must match */
  cJSON_ReplaceItemInObject(sp, "protocol", cJSON_CreateString("TCP"));
  ASSERT_EQ_INT(controller__pod_find_port(p, sp), 8080);
  cJSON_Delete(sp);
  cJSON_Delete(p);
  cJSON_Delete(none);
  cJSON_Delete(e);
  cJSON_Delete(l2);
  cJSON_Delete(l1);
  cJSON_Delete(s);
}

TEST_LIST = {
    TEST(test_ready_and_not_ready),
    TEST(test_publish_not_ready_and_terminating),
    TEST(test_named_port_repack),
    TEST(test_headless_hostname),
    TEST(test_truncation),
    TEST(test_selector_and_find_port),
    {0},
};
TEST_MAIN()
