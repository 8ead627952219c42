/* Tests for pkg/agent/node.c over the in-process client and a fake API
 * holding Nodes and Leases: registration (object, taints, Lease with its
 * owner), the default conditions and when changes post, adoption of an
 * existing Node with its missing labels added, registration again after
 * the Node is deleted, the periodic status and Lease, and freeing with
 * requests in flight. */
#include <errno.h>
#include <string.h>

#include "agent/node.h"
#include "json/util.h"
#include "test.h"

static struct ev_loop *loop;

/* ---- the fake API ---- */

static cJSON *nodes;  /* name -> Node */
static cJSON *leases; /* name -> Lease */
static int uids, creates, gets, label_patches, status_patches, lease_patches, lease_creates;
static cJSON *last_create, *last_labels, *last_status, *last_lease_create;

static void keep(cJSON **slot, const char *body, size_t len) {
  cJSON_Delete(*slot);
  *slot = cJSON_ParseWithLength(body, len);
}

static void reply(http_req_t *r, int code, const cJSON *obj) {
  char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
  if (text)
    http_respond_take(r, code, "application/json", text, strlen(text));
  else {
    static const char st[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\"}";
    http_respond(r, code, "application/json", st, sizeof(st) - 1);
  }
}

static void handler(http_req_t *r, void *data) {
  (void)data;
  size_t len = 0;
  const char *body = http_req_body(r, &len);
  const char *m = http_req_method(r), *path = http_req_path(r);
  static const char np[] = "/api/v1/nodes", lp[] = "/apis/coordination.k8s.io/v1/namespaces/"
                                                   "kube-node-lease/leases";
  char name[256] = "";
  bool status = false;
  if (!strncmp(path, np, sizeof(np) - 1) && path[sizeof(np) - 1] == '/') {
    snprintf(name, sizeof(name), "%s", path + sizeof(np));
    char *slash = strchr(name, '/');
    if (slash) {
      status = !strcmp(slash, "/status");
      *slash = 0;
    }
  }
  if (!strcmp(m, "POST") && !strcmp(path, np)) {
    creates++;
    keep(&last_create, body, len);
    const char *n = json_get_path(last_create, "metadata.name")->valuestring;
    if (cJSON_GetObjectItem(nodes, n)) {
      reply(r, 409, NULL);
      return;
    }
    cJSON *obj = cJSON_Duplicate(last_create, 1);
    char uid[32];
    snprintf(uid, sizeof(uid), "uid-%d", ++uids);
    cJSON_AddStringToObject(cJSON_GetObjectItem(obj, "metadata"), "uid", uid);
    cJSON_AddItemToObject(nodes, n, obj);
    reply(r, 201, obj);
  } else if (!strcmp(m, "GET") && name[0]) {
    gets++;
    const cJSON *obj = cJSON_GetObjectItem(nodes, name);
    reply(r, obj ? 200 : 404, obj);
  } else if (!strcmp(m, "PATCH") && name[0] && !status) {
    label_patches++;
    keep(&last_labels, body, len);
    cJSON *obj = cJSON_GetObjectItem(nodes, name);
    reply(r, obj ? 200 : 404, obj);
  } else if (!strcmp(m, "PATCH") && status) {
    status_patches++;
    keep(&last_status, body, len);
    const cJSON *obj = cJSON_GetObjectItem(nodes, name);
    reply(r, obj ? 200 : 404, obj);
  } else if (!strcmp(m, "PATCH") && !strncmp(path, lp, sizeof(lp) - 1)) {
    lease_patches++;
    const cJSON *obj = cJSON_GetObjectItem(leases, path + sizeof(lp));
    reply(r, obj ? 200 : 404, obj);
  } else if (!strcmp(m, "POST") && !strcmp(path, lp)) {
    lease_creates++;
    keep(&last_lease_create, body, len);
    cJSON *obj = cJSON_Duplicate(last_lease_create, 1);
    cJSON_AddItemToObject(leases, json_get_path(obj, "metadata.name")->valuestring, obj);
    reply(r, 201, obj);
  } else {
    reply(r, 400, NULL);
  }
}

static void reset(void) {
  cJSON_Delete(nodes);
  cJSON_Delete(leases);
  cJSON_Delete(last_create);
  cJSON_Delete(last_labels);
  cJSON_Delete(last_status);
  cJSON_Delete(last_lease_create);
  last_create = last_labels = last_status = last_lease_create = NULL;
  nodes = cJSON_CreateObject();
  leases = cJSON_CreateObject();
  uids = creates = gets = label_patches = status_patches = lease_patches = lease_creates = 0;
}

static void settle(void) {
  for (int i = 0; i < 30; i++)
    ev_run(loop, EVRUN_NOWAIT);
}

static client_t *client(void) {
  static const char *const groups[] = {"system:nodes", NULL};
  client_t *c = NULL;
  if (client_inproc_new(loop, handler, NULL, "system:node:n1", groups, &c) < 0)
    TEST_FAIL("client_inproc_new");
  return c;
}

/* ---- the agent's side ---- */

static int registrations;
static char seen_uid[64];

static void on_registered(void *data, agent_node_t *n) {
  (void)data;
  registrations++;
  snprintf(seen_uid, sizeof(seen_uid), "%s", agent_node_uid(n) ? agent_node_uid(n) : "(null)");
}

static int warnings;
static void on_warn(void *data, agent_node_t *n, const char *what, int code, const char *msg) {
  (void)data;
  (void)n;
  (void)what;
  (void)code;
  (void)msg;
  warnings++;
}

static const char *s(const cJSON *o, const char *path) {
  const cJSON *v = json_get_path(o, path);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static const char *label(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(json_get_path(obj, "metadata.labels"), key);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

/* The condition of type in a status patch. */
static const cJSON *cond(const cJSON *patch, const char *type) {
  const cJSON *c;
  cJSON_ArrayForEach(c, json_get_path(patch, "status.conditions")) {
    if (!strcmp(s(c, "type"), type))
      return c;
  }
  return NULL;
}

static agent_node_t *start(client_t *c, double status_seconds) {
  cJSON *labels = cJSON_Parse("{\"kubernetes.io/hostname\":\"n1\",\"zone\":\"a\"}");
  cJSON *ann = cJSON_Parse("{\"k3c.io/x\":\"y\"}");
  cJSON *taints = cJSON_Parse("[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]");
  cJSON *status = cJSON_Parse("{\"capacity\":{\"cpu\":\"2\"},\"allocatable\":{\"cpu\":\"2\"},"
                              "\"conditions\":[{\"type\":\"Bogus\"}]}");
  agent_node_opts_t o = {.name = "n1", .labels = labels, .annotations = ann, .taints = taints,
                         .status = status, .lease_seconds = status_seconds,
                         .status_seconds = status_seconds, .warn = on_warn};
  agent_node_t *n = NULL;
  registrations = warnings = 0;
  int r = agent_node_new(loop, c, &o, on_registered, NULL, &n);
  cJSON_Delete(labels);
  cJSON_Delete(ann);
  cJSON_Delete(taints);
  cJSON_Delete(status);
  if (r < 0)
    TEST_FAIL("agent_node_new: %d", r);
  return n;
}

static void test_register(void) {
  reset();
  client_t *c = client();
  agent_node_t *n = start(c, 60);
  ASSERT_EQ_STR(agent_node_name(n), "n1");
  ASSERT_NULL(agent_node_uid(n));
  ASSERT_EQ_INT(registrations, 0); /* never inside the call */
  settle();
  ASSERT_EQ_INT(registrations, 1);
  ASSERT_EQ_STR(seen_uid, "uid-1");
  ASSERT_EQ_STR(agent_node_uid(n), "uid-1");
  ASSERT_TRUE(agent_node_registered(n));
  /* the Node as created */
  ASSERT_EQ_STR(s(last_create, "kind"), "Node");
  ASSERT_EQ_STR(label(last_create, "zone"), "a");
  ASSERT_EQ_STR(cJSON_GetObjectItem(json_get_path(last_create, "metadata.annotations"), "k3c.io/x")
                    ->valuestring,
                "y");
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(json_get_path(last_create, "spec.taints"), 0), "key"),
                "dedicated");
  /* the first status: the caller's part and the four default conditions */
  ASSERT_EQ_INT(status_patches, 1);
  ASSERT_EQ_STR(s(last_status, "status.capacity.cpu"), "2");
  ASSERT_EQ_INT(cJSON_GetArraySize(json_get_path(last_status, "status.conditions")), 4);
  ASSERT_NULL(cond(last_status, "Bogus"));
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "status"), "False");
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "reason"), "KubeletNotReady");
  ASSERT_EQ_STR(s(cond(last_status, "MemoryPressure"), "reason"), "KubeletHasSufficientMemory");
  ASSERT_EQ_STR(s(cond(last_status, "DiskPressure"), "reason"), "KubeletHasNoDiskPressure");
  ASSERT_EQ_STR(s(cond(last_status, "PIDPressure"), "reason"), "KubeletHasSufficientPID");
  ASSERT_EQ_STR(s(cond(last_status, "PIDPressure"), "status"), "False");
  ASSERT_EQ_INT(strlen(s(cond(last_status, "Ready"), "lastHeartbeatTime")), 20);
  ASSERT_EQ_INT(strlen(s(cond(last_status, "Ready"), "lastTransitionTime")), 20);
  /* the Lease: 404 on renew, then created, owned by the Node */
  ASSERT_EQ_INT(lease_patches, 1);
  ASSERT_EQ_INT(lease_creates, 1);
  ASSERT_EQ_STR(s(last_lease_create, "metadata.namespace"), "kube-node-lease");
  ASSERT_EQ_STR(s(last_lease_create, "spec.holderIdentity"), "n1");
  ASSERT_EQ_INT(json_get_path(last_lease_create, "spec.leaseDurationSeconds")->valueint, 40);
  const cJSON *owner = cJSON_GetArrayItem(json_get_path(last_lease_create, "metadata.ownerReferences"), 0);
  ASSERT_EQ_STR(s(owner, "kind"), "Node");
  ASSERT_EQ_STR(s(owner, "uid"), "uid-1");
  ASSERT_EQ_INT(strlen(s(last_lease_create, "spec.renewTime")), 27);
  ASSERT_EQ_INT(label_patches, 0);
  ASSERT_EQ_INT(warnings, 0);
  agent_node_free(n);
  client_free(c);
}

static void test_conditions_and_status(void) {
  reset();
  client_t *c = client();
  agent_node_t *n = start(c, 60);
  /* before registration: no post, the change goes with the first one */
  agent_node_set_condition(n, "Ready", true, "KubeletReady", "kubelet is posting ready status");
  settle();
  ASSERT_EQ_INT(status_patches, 1);
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "status"), "True");
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "reason"), "KubeletReady");
  /* same again, or only the message: nothing posted */
  agent_node_set_condition(n, "Ready", true, "KubeletReady", "kubelet is posting ready status");
  agent_node_set_condition(n, "Ready", true, "KubeletReady", "other words");
  agent_node_set_condition(n, "Unknown", true, NULL, NULL);
  settle();
  ASSERT_EQ_INT(status_patches, 1);
  /* a pressure: posted at once, with upstream's reason for true */
  agent_node_set_condition(n, "MemoryPressure", true, NULL, NULL);
  settle();
  ASSERT_EQ_INT(status_patches, 2);
  ASSERT_EQ_STR(s(cond(last_status, "MemoryPressure"), "status"), "True");
  ASSERT_EQ_STR(s(cond(last_status, "MemoryPressure"), "reason"), "KubeletHasInsufficientMemory");
  ASSERT_EQ_STR(s(cond(last_status, "MemoryPressure"), "message"),
                "kubelet has insufficient memory available");
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "message"), "other words");
  /* two changes while one post is in flight: one more post with both */
  agent_node_set_condition(n, "DiskPressure", true, NULL, NULL);
  agent_node_set_condition(n, "PIDPressure", true, NULL, NULL);
  settle();
  ASSERT_EQ_INT(status_patches, 4);
  ASSERT_EQ_STR(s(cond(last_status, "DiskPressure"), "reason"), "KubeletHasDiskPressure");
  ASSERT_EQ_STR(s(cond(last_status, "PIDPressure"), "reason"), "KubeletHasInsufficientPID");
  /* status: the same is not posted, a different one is (conditions kept) */
  cJSON *st = cJSON_Parse("{\"capacity\":{\"cpu\":\"2\"},\"allocatable\":{\"cpu\":\"2\"}}");
  agent_node_set_status(n, st);
  settle();
  ASSERT_EQ_INT(status_patches, 4);
  cJSON_Delete(st);
  st = cJSON_Parse("{\"capacity\":{\"cpu\":\"4\"},\"allocatable\":{\"cpu\":\"3\"}}");
  agent_node_set_status(n, st);
  cJSON_Delete(st);
  settle();
  ASSERT_EQ_INT(status_patches, 5);
  ASSERT_EQ_STR(s(last_status, "status.allocatable.cpu"), "3");
  ASSERT_EQ_STR(s(cond(last_status, "PIDPressure"), "status"), "True");
  ASSERT_EQ_INT(warnings, 0);
  agent_node_free(n);
  client_free(c);
}

static void test_adopt_existing(void) {
  reset();
  cJSON_AddItemToObject(nodes, "n1",
                        cJSON_Parse("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"uid\":"
                                    "\"old-uid\",\"labels\":{\"kubernetes.io/hostname\":"
                                    "\"renamed\",\"mine\":\"x\"}}}"));
  client_t *c = client();
  agent_node_t *n = start(c, 60);
  settle();
  ASSERT_EQ_INT(creates, 1);
  ASSERT_EQ_INT(gets, 1);
  ASSERT_EQ_INT(registrations, 1);
  ASSERT_EQ_STR(agent_node_uid(n), "old-uid");
  /* only the missing label is added; existing values stay */
  ASSERT_EQ_INT(label_patches, 1);
  const cJSON *l = json_get_path(last_labels, "metadata.labels");
  ASSERT_EQ_INT(cJSON_GetArraySize(l), 1);
  ASSERT_EQ_STR(label(last_labels, "zone"), "a");
  ASSERT_EQ_INT(status_patches, 1);
  agent_node_free(n);
  client_free(c);

  /* every label present: no patch */
  reset();
  cJSON_AddItemToObject(nodes, "n1",
                        cJSON_Parse("{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"uid\":"
                                    "\"u\",\"labels\":{\"kubernetes.io/hostname\":\"n1\","
                                    "\"zone\":\"b\"}}}"));
  c = client();
  n = start(c, 60);
  settle();
  ASSERT_EQ_INT(registrations, 1);
  ASSERT_EQ_INT(label_patches, 0);
  agent_node_free(n);
  client_free(c);
}

static void test_deleted_registers_again(void) {
  reset();
  client_t *c = client();
  agent_node_t *n = start(c, 60);
  settle();
  ASSERT_EQ_STR(agent_node_uid(n), "uid-1");
  cJSON_DeleteItemFromObject(nodes, "n1");
  cJSON_DeleteItemFromObject(leases, "n1");
  agent_node_set_condition(n, "Ready", true, NULL, NULL); /* posts: 404 */
  settle();
  ASSERT_EQ_INT(creates, 2);
  ASSERT_EQ_INT(registrations, 2);
  ASSERT_EQ_STR(seen_uid, "uid-2");
  ASSERT_EQ_STR(agent_node_uid(n), "uid-2");
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "status"), "True");
  ASSERT_EQ_STR(s(cond(last_status, "Ready"), "message"), "kubelet is posting ready status");
  ASSERT_EQ_INT(lease_creates, 2);
  ASSERT_EQ_STR(s(cJSON_GetArrayItem(json_get_path(last_lease_create, "metadata.ownerReferences"), 0), "uid"),
                "uid-2");
  agent_node_free(n);
  client_free(c);
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents) {
  (void)w;
  (void)revents;
  ev_break(l, EVBREAK_ONE);
}

static void test_periodic(void) {
  reset();
  client_t *c = client();
  agent_node_t *n = start(c, 0.05);
  ev_timer t;
  ev_timer_init(&t, on_tick, 0.33, 0);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  ev_timer_stop(loop, &t);
  /* one at registration, then about one per 50 ms */
  ASSERT_GE_INT(status_patches, 4);
  ASSERT_GE_INT(lease_patches, 4);
  ASSERT_EQ_INT(lease_creates, 1);
  ASSERT_EQ_INT(registrations, 1);
  agent_node_free(n);
  client_free(c);
}

static void test_free_in_flight(void) {
  reset();
  client_t *c = client();
  agent_node_t *n = start(c, 60);
  agent_node_free(n); /* the create is in flight: cancelled */
  settle();
  ASSERT_EQ_INT(registrations, 0);
  agent_node_free(NULL);
  /* bad options */
  cJSON *arr = cJSON_CreateArray();
  agent_node_opts_t o = {.name = "x", .labels = arr};
  ASSERT_EQ_INT(agent_node_new(loop, c, &o, NULL, NULL, &n), -EINVAL);
  o.name = NULL;
  ASSERT_EQ_INT(agent_node_new(loop, c, &o, NULL, NULL, &n), -EINVAL);
  cJSON_Delete(arr);
  client_free(c);
  reset();
  cJSON_Delete(nodes);
  cJSON_Delete(leases);
  nodes = leases = NULL;
}

TEST_LIST = {
    TEST(test_register),       TEST(test_conditions_and_status), TEST(test_adopt_existing),
    TEST(test_deleted_registers_again), TEST(test_periodic), TEST(test_free_in_flight),
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
