/* Tests for pkg/json/smp.c: strategic merge patch against a small fake
 * schema with Pod-, Deployment- and Node-like types. Cases follow upstream
 * behaviour (k8s.io/apimachinery strategicpatch tests and what kubectl
 * sends); fixtures are ours. */
#include <errno.h>

#include <time.h>

#include "jtest.h"
#include "json/patch.h"

/* ---- fake schema */

typedef struct ftype ftype_t;
typedef struct {
  const char *name;
  const ftype_t *type; /* element type for lists and maps */
  smp_list_strategy_t ls;
  const char *mk;
  bool rk;
} ffield_t;
struct ftype {
  const ffield_t *f;
};

#define END {NULL, NULL, 0, NULL, false}
static const ftype_t t_env, t_port, t_mount, t_container, t_volume, t_podspec, t_meta, t_pod,
    t_template, t_strategy, t_depspec, t_deployment, t_taint, t_nodespec, t_node, t_owner;

static const ffield_t f_env[] = {{"valueFrom", NULL, 0, NULL, false}, END};
static const ffield_t f_container[] = {
    {"env", &t_env, SMP_LIST_MERGE, "name", false},
    {"ports", &t_port, SMP_LIST_MERGE, "containerPort", false},
    {"volumeMounts", &t_mount, SMP_LIST_MERGE, "mountPath", false},
    {"args", NULL, SMP_LIST_REPLACE, NULL, false},
    END};
static const ffield_t f_volume[] = {END};
static const ffield_t f_podspec[] = {
    {"containers", &t_container, SMP_LIST_MERGE, "name", false},
    {"initContainers", &t_container, SMP_LIST_MERGE, "name", false},
    {"volumes", &t_volume, SMP_LIST_MERGE, "name", true},
    {"tolerations", NULL, SMP_LIST_REPLACE, NULL, false},
    END};
static const ffield_t f_owner[] = {END};
static const ffield_t f_meta[] = {
    {"finalizers", NULL, SMP_LIST_MERGE, NULL, false},
    {"ownerReferences", &t_owner, SMP_LIST_MERGE, "uid", false},
    END};
static const ffield_t f_pod[] = {{"metadata", &t_meta, 0, NULL, false},
                                 {"spec", &t_podspec, 0, NULL, false},
                                 END};
static const ffield_t f_template[] = {{"metadata", &t_meta, 0, NULL, false},
                                      {"spec", &t_podspec, 0, NULL, false},
                                      END};
static const ffield_t f_strategy[] = {END};
static const ffield_t f_depspec[] = {{"template", &t_template, 0, NULL, false},
                                     {"strategy", &t_strategy, 0, NULL, true},
                                     END};
static const ffield_t f_deployment[] = {{"metadata", &t_meta, 0, NULL, false},
                                        {"spec", &t_depspec, 0, NULL, false},
                                        END};
static const ffield_t f_taint[] = {END};
static const ffield_t f_nodespec[] = {{"taints", &t_taint, SMP_LIST_MERGE, "key", false}, END};
static const ffield_t f_node[] = {{"metadata", &t_meta, 0, NULL, false},
                                  {"spec", &t_nodespec, 0, NULL, false},
                                  END};
static const ffield_t f_empty[] = {END};
static const ftype_t t_env = {f_env}, t_port = {f_empty}, t_mount = {f_empty},
                     t_container = {f_container}, t_volume = {f_volume}, t_podspec = {f_podspec},
                     t_meta = {f_meta}, t_pod = {f_pod}, t_template = {f_template},
                     t_strategy = {f_strategy}, t_depspec = {f_depspec},
                     t_deployment = {f_deployment}, t_taint = {f_taint},
                     t_nodespec = {f_nodespec}, t_node = {f_node}, t_owner = {f_owner};

static int lookups; /* how often the schema was consulted */

static const void *fake_field(const void *type, const char *name, smp_field_info_t *ret_info) {
  const ftype_t *t = type;
  lookups++;
  for (const ffield_t *f = t->f; f->name; f++) {
    if (strcmp(f->name, name) == 0) {
      *ret_info = (smp_field_info_t){f->ls, f->mk, f->rk};
      return f->type;
    }
  }
  return NULL;
}

static const smp_schema_t fake = {fake_field};
static char err[1024];

/* Apply and compare; the original must come back unchanged. */
static int apply(const void *type, const char *doc, const char *patch, cJSON **ret) {
  cJSON *d = J(doc), *p = J(patch);
  cJSON *before = cJSON_Duplicate(d, true), *pbefore = cJSON_Duplicate(p, true);
  *ret = NULL;
  err[0] = '\0';
  int r = json_smp_apply(d, p, &fake, type, ret, err, sizeof(err));
  bool untouched = json_equal(d, before) && json_equal(p, pbefore);
  cJSON_Delete(d);
  cJSON_Delete(p);
  cJSON_Delete(before);
  cJSON_Delete(pbefore);
  if (!untouched) {
    cJSON_Delete(*ret);
    TEST_FAIL("original or patch was modified");
  }
  return r;
}

#define CHECK_OK(type, doc, patch, want)                                       \
  do {                                                                         \
    cJSON *got_;                                                               \
    int r_ = apply(type, doc, patch, &got_);                                   \
    if (r_ != 0)                                                               \
      TEST_FAIL("apply failed (%d): %s", r_, err);                             \
    ASSERT_JSON_EQ(got_, want);                                                \
    cJSON_Delete(got_);                                                        \
  } while (0)

#define CHECK_ERR(type, doc, patch, msg)                                       \
  do {                                                                         \
    cJSON *got_;                                                               \
    int r_ = apply(type, doc, patch, &got_);                                   \
    if (r_ == 0)                                                               \
      cJSON_Delete(got_);                                                      \
    ASSERT_EQ_INT(r_, -EINVAL);                                                \
    ASSERT_NULL(got_);                                                         \
    ASSERT_CONTAINS(err, msg);                                                 \
  } while (0)

/* A pod with two containers, used by several cases. */
#define POD                                                                                        \
  "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["       \
  "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\","   \
  "\"value\":\"2\"}],\"ports\":[{\"containerPort\":80},{\"containerPort\":443}]},"                \
  "{\"name\":\"b\",\"image\":\"b:1\"}]}}"

/* ---- maps */

static void test_add_and_change_fields(void) {
  CHECK_OK(&t_pod, "{\"metadata\":{\"labels\":{\"a\":\"1\"}}}",
           "{\"metadata\":{\"labels\":{\"b\":\"2\",\"a\":\"3\"}}}",
           "{\"metadata\":{\"labels\":{\"a\":\"3\",\"b\":\"2\"}}}");
}
static void test_null_deletes_field(void) {
  CHECK_OK(&t_pod, "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
           "{\"metadata\":{\"labels\":{\"a\":null,\"zz\":null}}}",
           "{\"metadata\":{\"labels\":{\"b\":\"2\"}}}");
}
static void test_rollout_restart_annotation(void) {
  CHECK_OK(&t_deployment,
           "{\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}},"
           "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}",
           "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
           "\"kubectl.kubernetes.io/restartedAt\":\"2025-01-01T00:00:00Z\"}}}}}",
           "{\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"},"
           "\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"2025-01-01T00:00:00Z\"}},"
           "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
}
static void test_cordon(void) {
  CHECK_OK(&t_node, "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.42.0.0/24\"}}",
           "{\"spec\":{\"unschedulable\":true}}",
           "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.42.0.0/24\","
           "\"unschedulable\":true}}");
  CHECK_OK(&t_node, "{\"spec\":{\"unschedulable\":true}}", "{\"spec\":{\"unschedulable\":null}}",
           "{\"spec\":{}}");
}
static void test_map_patch_replace(void) {
  CHECK_OK(&t_pod, "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
           "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"c\":\"3\"}}}",
           "{\"metadata\":{\"labels\":{\"c\":\"3\"}}}");
}
static void test_map_patch_delete(void) {
  CHECK_OK(&t_pod, "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"name\":\"x\"}}",
           "{\"metadata\":{\"labels\":{\"$patch\":\"delete\"}}}",
           "{\"metadata\":{\"labels\":{},\"name\":\"x\"}}");
}
static void test_root_patch_replace(void) {
  CHECK_OK(&t_pod, "{\"a\":1,\"b\":2}", "{\"$patch\":\"replace\",\"c\":3}", "{\"c\":3}");
}
static void test_map_patch_merge_is_error(void) {
  /* upstream only knows replace and delete on maps */
  CHECK_ERR(&t_pod, "{\"metadata\":{}}", "{\"metadata\":{\"$patch\":\"merge\"}}",
            "unknown patch type: merge in map");
}
static void test_type_change_takes_patch(void) {
  CHECK_OK(&t_pod, "{\"a\":\"str\",\"b\":{\"x\":1}}",
           "{\"a\":{\"k\":1,\"n\":null},\"b\":[1,2]}", "{\"a\":{\"k\":1},\"b\":[1,2]}");
}
static void test_new_subtree_drops_directives(void) {
  /* a new map holding $patch is dropped (upstream removeDirectives); other
   * directive keys never reach the stored object */
  CHECK_OK(&t_pod, "{\"metadata\":{}}",
           "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"a\":\"1\"}},\"spec\":{"
           "\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":[{\"name\":\"a\"},"
           "{\"name\":\"b\",\"$patch\":\"delete\"}]}}",
           "{\"metadata\":{},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
}

/* ---- lists merged by key */

static void test_set_image(void) {
  /* kubectl set image deploy/web nginx=nginx:1.26 */
  CHECK_OK(&t_deployment,
           "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\","
           "\"image\":\"nginx:1.25\",\"ports\":[{\"containerPort\":80}]}]}}}}",
           "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":"
           "\"nginx\"}],\"containers\":[{\"image\":\"nginx:1.26\",\"name\":\"nginx\"}]}}}}",
           "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"nginx\","
           "\"image\":\"nginx:1.26\",\"ports\":[{\"containerPort\":80}]}]}}}}");
}
static void test_merge_keeps_server_items(void) {
  CHECK_OK(&t_pod, POD, "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"b:2\"}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
           "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":"
           "\"Y\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":80},{\"containerPort\":443}]},"
           "{\"name\":\"b\",\"image\":\"b:2\"}]}}");
}
static void test_new_item_goes_first(void) {
  /* without $setElementOrder, patch items come before server-only items
   * (upstream mergeSortedSlice) */
  CHECK_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"c\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"c\"},{\"name\":\"a\"},"
           "{\"name\":\"b\"}]}}");
}
static void test_patch_order_wins(void) {
  /* upstream "preserve the order from the patch in a merging list" */
  CHECK_OK(&t_pod,
           "{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"2\",\"image\":\"b\"},"
           "{\"name\":\"3\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"3\",\"image\":\"c\"},{\"name\":\"1\","
           "\"image\":\"a\"},{\"name\":\"2\",\"tty\":true}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"3\",\"image\":\"c\"},{\"name\":\"1\","
           "\"image\":\"a\"},{\"name\":\"2\",\"image\":\"b\",\"tty\":true}]}}");
  /* ... and "2": a server-only item keeps its place before later patch items */
  CHECK_OK(&t_pod,
           "{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"2\",\"image\":\"b\"},"
           "{\"name\":\"3\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"3\",\"image\":\"c\"},{\"name\":\"1\","
           "\"image\":\"a\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"2\",\"image\":\"b\"},{\"name\":\"3\","
           "\"image\":\"c\"},{\"name\":\"1\",\"image\":\"a\"}]}}");
}
static void test_delete_container(void) {
  CHECK_OK(&t_pod, POD, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$patch\":\"delete\"}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
           "{\"name\":\"b\",\"image\":\"b:1\"}]}}");
}
static void test_delete_missing_item_is_noop(void) {
  CHECK_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"zz\",\"$patch\":\"delete\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
}
static void test_delete_all_duplicates(void) {
  CHECK_OK(&t_pod,
           "{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"1\"},{\"name\":\"2\","
           "\"image\":\"a\"},{\"name\":\"3\"},{\"name\":\"3\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"1\",\"$patch\":\"delete\"},{\"name\":\"3\","
           "\"$patch\":\"delete\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"2\",\"image\":\"a\"}]}}");
}
static void test_nested_lists_by_key(void) {
  /* env by name, ports by containerPort (a number), volumeMounts by mountPath */
  CHECK_OK(&t_pod, POD,
           "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"Y\",\"value\":\"9\"},"
           "{\"name\":\"X\",\"$patch\":\"delete\"}],\"ports\":[{\"containerPort\":443,"
           "\"name\":\"https\"}],\"volumeMounts\":[{\"mountPath\":\"/d\",\"name\":\"v\"}]}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
           "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"Y\",\"value\":\"9\"}],"
           "\"ports\":[{\"containerPort\":80},{\"containerPort\":443,\"name\":\"https\"}],"
           "\"volumeMounts\":[{\"mountPath\":\"/d\",\"name\":\"v\"}]},"
           "{\"name\":\"b\",\"image\":\"b:1\"}]}}");
}
static void test_list_patch_replace(void) {
  CHECK_OK(&t_pod, POD,
           "{\"spec\":{\"containers\":[{\"$patch\":\"replace\"},{\"name\":\"z\",\"image\":\"z\"},"
           "{\"name\":\"y\"}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
           "{\"name\":\"z\",\"image\":\"z\"},{\"name\":\"y\"}]}}");
  CHECK_OK(&t_pod, POD, "{\"spec\":{\"containers\":[{\"$patch\":\"replace\"}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\"}},\"spec\":"
           "{\"containers\":[]}}");
}
static void test_list_patch_merge_is_error(void) {
  CHECK_ERR(&t_pod, POD, "{\"spec\":{\"containers\":[{\"$patch\":\"merge\"}]}}",
            "merging lists cannot yet be specified in the patch");
  CHECK_ERR(&t_pod, POD, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$patch\":\"bogus\"}]}}",
            "unknown patch type: bogus");
}
static void test_missing_merge_key_is_error(void) {
  CHECK_ERR(&t_pod, POD, "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}",
            "does not contain declared merge key: name (at spec.containers)");
  CHECK_ERR(&t_pod, POD, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\"}]}}",
            "does not contain declared merge key: name");
}
static void test_live_item_without_merge_key(void) {
  /* regression (found by fuzz_jsonpatch): a live item lacking the merge key
   * made the error path free list items twice */
  CHECK_ERR(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"naie\":\"b\"}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}",
            "does not contain declared merge key: name");
}
static void test_mixed_element_types_is_error(void) {
  CHECK_ERR(&t_pod, POD, "{\"spec\":{\"containers\":[\"a\"]}}",
            "list element types are not identical");
  CHECK_ERR(&t_pod, "{\"metadata\":{\"finalizers\":[[\"a\"]]}}",
            "{\"metadata\":{\"finalizers\":[[\"b\"]]}}", "lists of lists are not supported");
}
static void test_empty_merging_lists(void) {
  CHECK_OK(&t_pod, "{\"spec\":{\"containers\":[]}}", "{\"spec\":{\"containers\":[]}}",
           "{\"spec\":{\"containers\":[]}}");
  CHECK_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
           "{\"spec\":{\"containers\":[]}}", "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
}

/* ---- primitive lists */

static void test_finalizers_union(void) {
  /* upstream "unique scalars when merging lists": [1,2] + [2,3] = [1,2,3] */
  CHECK_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"1\",\"2\"]}}",
           "{\"metadata\":{\"finalizers\":[\"2\",\"3\"]}}",
           "{\"metadata\":{\"finalizers\":[\"1\",\"2\",\"3\"]}}");
  /* a new finalizer goes first (upstream ordering) */
  CHECK_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
           "{\"metadata\":{\"finalizers\":[\"c\"]}}",
           "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]}}");
}
static void test_delete_from_primitive_list(void) {
  CHECK_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"a\",\"c\"]}}",
           "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\",\"zz\"]}}",
           "{\"metadata\":{\"finalizers\":[\"b\",\"c\"]}}");
  /* never adds the list or the item */
  CHECK_OK(&t_pod, "{\"metadata\":{}}",
           "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}}", "{\"metadata\":{}}");
  CHECK_OK(&t_pod, "{\"metadata\":{\"finalizers\":[]}}",
           "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}}",
           "{\"metadata\":{\"finalizers\":[]}}");
  /* works on a list without merge strategy too */
  CHECK_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"x\",\"y\"]}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"c\",\"$deleteFromPrimitiveList/args\":[\"x\"]}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"c\",\"args\":[\"y\"]}]}}");
  CHECK_ERR(&t_pod, "{\"metadata\":{}}", "{\"metadata\":{\"$deleteFromPrimitiveList\":[1]}}",
            "invalid patch format of primitive list");
}
static void test_atomic_lists_replaced(void) {
  CHECK_OK(&t_pod,
           "{\"spec\":{\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],\"containers\":"
           "[{\"name\":\"c\",\"args\":[\"1\",\"2\"]}]}}",
           "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\","
           "\"args\":[\"3\"]}]}}",
           "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\","
           "\"args\":[\"3\"]}]}}");
}

/* ---- $setElementOrder (kubectl apply) */

static void test_set_element_order_reorders(void) {
  CHECK_OK(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}}",
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"},"
           "{\"name\":\"b\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"a\"},{\"name\":\"b\"}]}}");
}
static void test_set_element_order_with_server_only_items(void) {
  /* upstream "add an item in a int list and preserve order": live [1,4,2],
   * order [3,1,2], patch [3] => [3,1,4,2] */
  CHECK_OK(&t_pod, "{\"metadata\":{\"finalizers\":[\"1\",\"4\",\"2\"]}}",
           "{\"metadata\":{\"$setElementOrder/finalizers\":[\"3\",\"1\",\"2\"],\"finalizers\":"
           "[\"3\"]}}",
           "{\"metadata\":{\"finalizers\":[\"3\",\"1\",\"4\",\"2\"]}}");
  CHECK_OK(&t_pod,
           "{\"spec\":{\"containers\":[{\"name\":\"1\"},{\"name\":\"4\"},{\"name\":\"2\"}]}}",
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"3\"},{\"name\":\"1\"},"
           "{\"name\":\"2\"}],\"containers\":[{\"name\":\"3\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"3\"},{\"name\":\"1\"},{\"name\":\"4\"},"
           "{\"name\":\"2\"}]}}");
}
static void test_set_element_order_with_delete(void) {
  /* kubectl apply removing a container and reordering */
  CHECK_OK(&t_pod,
           "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}}",
           "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"}],"
           "\"containers\":[{\"name\":\"b\",\"$patch\":\"delete\"}]}}",
           "{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"a\"}]}}");
}
static void test_set_element_order_mismatch_is_error(void) {
  CHECK_ERR(&t_pod, "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
            "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
            "\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}",
            "doesn't match $setElementOrder list");
  CHECK_ERR(&t_pod, "{\"spec\":{}}", "{\"spec\":{\"$setElementOrderX\":[]}}",
            "invalid patch format of setElementOrder list");
}
static void test_kubectl_apply_deployment(void) {
  /* client-side apply of a changed manifest: last-applied annotation,
   * replicas, an image change and a new env var, with order directives */
  CHECK_OK(&t_deployment,
           "{\"metadata\":{\"name\":\"web\",\"annotations\":{\"kubectl.kubernetes.io/"
           "last-applied-configuration\":\"{old}\",\"deployment.kubernetes.io/revision\":\"1\"}},"
           "\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
           "\"image\":\"nginx:1.25\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
           "\"terminationMessagePath\":\"/dev/termination-log\"},{\"name\":\"side\","
           "\"image\":\"busybox\"}]}}}}",
           "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
           "\"{new}\"}},\"spec\":{\"replicas\":3,\"template\":{\"spec\":{"
           "\"$setElementOrder/containers\":[{\"name\":\"web\"},{\"name\":\"side\"}],"
           "\"containers\":[{\"$setElementOrder/env\":[{\"name\":\"A\"},{\"name\":\"B\"}],"
           "\"env\":[{\"name\":\"B\",\"value\":\"2\"}],\"image\":\"nginx:1.26\",\"name\":"
           "\"web\"}]}}}}",
           "{\"metadata\":{\"name\":\"web\",\"annotations\":{\"kubectl.kubernetes.io/"
           "last-applied-configuration\":\"{new}\",\"deployment.kubernetes.io/revision\":\"1\"}},"
           "\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
           "\"image\":\"nginx:1.26\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\","
           "\"value\":\"2\"}],\"terminationMessagePath\":\"/dev/termination-log\"},{\"name\":"
           "\"side\",\"image\":\"busybox\"}]}}}}");
}
static void test_kubectl_edit_diff(void) {
  /* kubectl edit: change an env value, drop a port, drop a label */
  CHECK_OK(&t_pod, POD,
           "{\"metadata\":{\"labels\":{\"app\":null}},\"spec\":{\"$setElementOrder/containers\":"
           "[{\"name\":\"a\"},{\"name\":\"b\"}],\"containers\":[{\"$setElementOrder/ports\":"
           "[{\"containerPort\":443}],\"env\":[{\"name\":\"X\",\"value\":\"one\"}],\"name\":\"a\","
           "\"ports\":[{\"$patch\":\"delete\",\"containerPort\":80}]}]}}",
           "{\"metadata\":{\"name\":\"p\",\"labels\":{}},\"spec\":{\"containers\":["
           "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"one\"},"
           "{\"name\":\"Y\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":443}]},"
           "{\"name\":\"b\",\"image\":\"b:1\"}]}}");
}

/* ---- $retainKeys */

static void test_retain_keys_clears_fields(void) {
  /* switching a Deployment to Recreate clears rollingUpdate */
  CHECK_OK(&t_deployment,
           "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
           "\"maxSurge\":1}}}}",
           "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\","
           "\"rollingUpdate\":null}}}",
           "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
}
static void test_retain_keys_in_list_item(void) {
  /* volumes carry retainKeys: changing the volume source drops the old one */
  CHECK_OK(&t_pod,
           "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}},{\"name\":\"w\","
           "\"hostPath\":{\"path\":\"/x\"}}]}}",
           "{\"spec\":{\"volumes\":[{\"$retainKeys\":[\"configMap\",\"name\"],\"configMap\":"
           "{\"name\":\"cm\"},\"name\":\"v\"}]}}",
           "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"}},"
           "{\"name\":\"w\",\"hostPath\":{\"path\":\"/x\"}}]}}");
}
static void test_retain_keys_errors(void) {
  CHECK_ERR(&t_deployment, "{\"spec\":{\"strategy\":{}}}",
            "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"other\":1}}}",
            "invalid patch format of retainKeys");
  CHECK_ERR(&t_deployment, "{\"spec\":{\"strategy\":{}}}",
            "{\"spec\":{\"strategy\":{\"$retainKeys\":\"type\"}}}",
            "invalid patch format of retainKeys");
}

/* ---- schema fallbacks and bad input */

static void test_unknown_schema_is_merge_patch(void) {
  /* NULL type: lists replaced wholesale, maps merged, nulls delete */
  CHECK_OK(NULL, "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"x\":1,\"y\":2}}",
           "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"i\"}],\"x\":null}}",
           "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"i\"}],\"y\":2}}");
  /* a field the schema does not know is atomic too */
  CHECK_OK(&t_pod, "{\"spec\":{\"other\":[1,2]}}", "{\"spec\":{\"other\":[3]}}",
           "{\"spec\":{\"other\":[3]}}");
}
static void test_schema_consulted(void) {
  cJSON *got;
  lookups = 0;
  ASSERT_EQ_INT(apply(&t_pod, POD, "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", &got), 0);
  cJSON_Delete(got);
  ASSERT_GE_INT(lookups, 2); /* spec, then containers */
}
static void test_invalid_documents(void) {
  CHECK_ERR(&t_pod, "{}", "[1]", "invalid JSON document");
  CHECK_ERR(&t_pod, "[]", "{}", "invalid JSON document");
}
static void test_many_items_ordering(void) {
  /* more than one 20-item sort block: 50 containers, patch reverses them
   * with $setElementOrder */
  char doc[8192] = "{\"spec\":{\"containers\":[", patch[8192] = "{\"spec\":{"
                                                                "\"$setElementOrder/containers\":[";
  char want[8192] = "{\"spec\":{\"containers\":[";
  for (int i = 0; i < 50; i++) {
    size_t n = strlen(doc), m = strlen(patch), w = strlen(want);
    snprintf(doc + n, sizeof(doc) - n, "%s{\"name\":\"c%d\"}", i ? "," : "", i);
    snprintf(patch + m, sizeof(patch) - m, "%s{\"name\":\"c%d\"}", i ? "," : "", 49 - i);
    snprintf(want + w, sizeof(want) - w, "%s{\"name\":\"c%d\"}", i ? "," : "", 49 - i);
  }
  strncat(doc, "]}}", sizeof(doc) - strlen(doc) - 1);
  strncat(patch, "]}}", sizeof(patch) - strlen(patch) - 1);
  strncat(want, "]}}", sizeof(want) - strlen(want) - 1);
  CHECK_OK(&t_pod, doc, patch, want);
}

/* Issue #19: each patch key was looked up (and replaced) by a linear scan
 * of the target, so patching a 100,000-key map took ~10^10 comparisons.
 * Now O(n): ~0.1 s at -O2, a few seconds under ASan (its allocator). */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_SLOW 15.0
#else
#define BIG_SLOW 1.5
#endif
static cJSON *big_map(int n, const char *val, int null_every) {
  cJSON *data = cJSON_CreateObject();
  for (int i = 0; i < n; i++) {
    char k[32];
    snprintf(k, sizeof(k), "k%d", i);
    if (null_every && i % null_every == 0)
      cJSON_AddNullToObject(data, k);
    else
      cJSON_AddStringToObject(data, k, val);
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "data", data);
  return o;
}

static double big_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void big_check(const cJSON *got, int n) {
  const cJSON *data = cJSON_GetObjectItem(got, "data");
  ASSERT_EQ_INT(cJSON_GetArraySize(data), n - n / 10 + n / 2 - n / 20);
  ASSERT_TRUE(cJSON_GetObjectItem(data, "k0") == NULL);      /* nulled */
  ASSERT_EQ_STR(cJSON_GetObjectItem(data, "k1")->valuestring, "new");
  ASSERT_EQ_STR(data->child->string, "k1");                  /* order kept */
  ASSERT_EQ_STR(cJSON_GetObjectItem(data, "k149999")->valuestring, "new");
}

static cJSON *smp_big(const cJSON *orig, const cJSON *patch) {
  cJSON *out = NULL;
  return json_smp_apply(orig, patch, &fake, NULL, &out, err, sizeof(err)) == 0 ? out : NULL;
}

static void test_many_keys_linear(void) {
  enum { N = 100000 };
  cJSON *orig = big_map(N, "old", 0);
  cJSON *patch = big_map(N + N / 2, "new", 10); /* every 10th key nulled, N/2 new keys */
  double t0 = big_now();
  cJSON *got = smp_big(orig, patch);
  double dt = big_now() - t0;
  printf("# %d-key map, %d-key patch: %.3f s\n", N, N + N / 2, dt);
  ASSERT_TRUE(got != NULL);
  big_check(got, N);
  cJSON_Delete(got);
  cJSON_Delete(orig);
  cJSON_Delete(patch);
  ASSERT_TRUE(dt < t_time_limit(BIG_SLOW));
}

TEST_LIST = {
    TEST(test_many_keys_linear),
    TEST(test_add_and_change_fields),
    TEST(test_null_deletes_field),
    TEST(test_rollout_restart_annotation),
    TEST(test_cordon),
    TEST(test_map_patch_replace),
    TEST(test_map_patch_delete),
    TEST(test_root_patch_replace),
    TEST(test_map_patch_merge_is_error),
    TEST(test_type_change_takes_patch),
    TEST(test_new_subtree_drops_directives),
    TEST(test_set_image),
    TEST(test_merge_keeps_server_items),
    TEST(test_new_item_goes_first),
    TEST(test_patch_order_wins),
    TEST(test_delete_container),
    TEST(test_delete_missing_item_is_noop),
    TEST(test_delete_all_duplicates),
    TEST(test_nested_lists_by_key),
    TEST(test_list_patch_replace),
    TEST(test_list_patch_merge_is_error),
    TEST(test_missing_merge_key_is_error),
    TEST(test_live_item_without_merge_key),
    TEST(test_mixed_element_types_is_error),
    TEST(test_empty_merging_lists),
    TEST(test_finalizers_union),
    TEST(test_delete_from_primitive_list),
    TEST(test_atomic_lists_replaced),
    TEST(test_set_element_order_reorders),
    TEST(test_set_element_order_with_server_only_items),
    TEST(test_set_element_order_with_delete),
    TEST(test_set_element_order_mismatch_is_error),
    TEST(test_kubectl_apply_deployment),
    TEST(test_kubectl_edit_diff),
    TEST(test_retain_keys_clears_fields),
    TEST(test_retain_keys_in_list_item),
    TEST(test_retain_keys_errors),
    TEST(test_unknown_schema_is_merge_patch),
    TEST(test_schema_consulted),
    TEST(test_invalid_documents),
    TEST(test_many_items_ordering),
    {0},
};
TEST_MAIN()
