/* Pod to CRI: the PodSandboxConfig and ContainerConfig, environment,
 * cgroup resources and QoS class a kubelet derives from a Pod object, as
 * upstream's kubelet computes them (kuberuntime's sandbox and container
 * configs, the downward API, $(VAR) expansion, the QoS policy).
 * https://kubernetes.io/docs/concepts/workloads/pods/
 * https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/ */
#include "agent/podspec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "api/podrefs.h"
#include "api/qos.h"
#include "util/quantity.h"
#include "json/util.h"
#include "scheduler/resource.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/errbuf.h"
#include "util/strmap.h"

#define VALUE_MAX (1u << 20) /* an expanded value or command word (a ConfigMap's size) */
#define HOSTNAME_MAX 63      /* a DNS label */
#define FQDN_MAX 64          /* the kernel's hostname limit */
#define DNS_SERVERS_MAX 3    /* glibc's MAXNS */
#define DNS_SEARCHES_MAX 32  /* upstream's expanded search limits */
#define DNS_SEARCH_CHARS_MAX 2048
#define DNS_SEARCH_LEN_MAX 253 /* a longer domain makes some resolvers abort */
#define CPU_PERIOD 100000      /* CFS period, microseconds */
#define CPU_QUOTA_MIN 1000
#define CPU_SHARES_MIN 2
#define CPU_SHARES_MAX 262144
#define OOM_GUARANTEED (-997)
#define OOM_BESTEFFORT 1000
#define GRACE_DEFAULT 30

/* --- memory --- */

static void *mem_keep(agent_podspec_mem_t *m, void *p) {
  if (m->_n == m->_cap) {
    m->_cap = m->_cap ? m->_cap * 2 : 16;
    m->_v = xrealloc(m->_v, m->_cap * sizeof(*m->_v));
  }
  m->_v[m->_n++] = p;
  return p;
}

static void *mem_alloc(agent_podspec_mem_t *m, size_t size) {
  return mem_keep(m, xcalloc(1, size ? size : 1));
}

static char *mem_printf(agent_podspec_mem_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *mem_printf(agent_podspec_mem_t *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  size_t len = n > 0 ? (size_t)n : 0;
  char *s = mem_alloc(m, len + 1);
  va_start(ap, fmt);
  vsnprintf(s, len + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* Move everything of src into dst (on success of a call that built into a
 * scratch mem, so a failed call leaves the caller's mem as it was). */
static void mem_move(agent_podspec_mem_t *dst, agent_podspec_mem_t *src) {
  for (size_t i = 0; i < src->_n; i++)
    mem_keep(dst, src->_v[i]);
  free(src->_v);
  if (src->subpaths) {
    if (!dst->subpaths)
      dst->subpaths = cJSON_CreateArray();
    cJSON *x;
    while ((x = cJSON_DetachItemFromArray(src->subpaths, 0)))
      cJSON_AddItemToArray(dst->subpaths, x);
    cJSON_Delete(src->subpaths);
  }
  memset(src, 0, sizeof(*src));
}

void agent_podspec_mem_done(agent_podspec_mem_t *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->_n; i++)
    free(m->_v[i]);
  free(m->_v);
  cJSON_Delete(m->subpaths);
  memset(m, 0, sizeof(*m));
}

/* A growable array inside a mem: growing copies into a new block (the old
 * one stays in the mem until it is freed: at most as much again). */
typedef struct {
  void *v;
  size_t n, cap, size;
} vec_t;

#define VEC(type) ((vec_t){NULL, 0, 0, sizeof(type)})

static void *vec_push(agent_podspec_mem_t *m, vec_t *a) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    void *v = mem_alloc(m, cap * a->size);
    if (a->n)
      memcpy(v, a->v, a->n * a->size);
    a->v = v;
    a->cap = cap;
  }
  return (char *)a->v + a->n++ * a->size;
}

static void kv_add(agent_podspec_mem_t *m, vec_t *a, const char *k, const char *v) {
  cri_kv_t *kv = vec_push(m, a);
  kv->key = k;
  kv->value = v;
}

static void str_add(agent_podspec_mem_t *m, vec_t *a, const char *s) {
  *(const char **)vec_push(m, a) = s;
}

static cri_map_t vec_map(const vec_t *a) {
  return (cri_map_t){a->v, a->n};
}
static cri_strv_t vec_strv(const vec_t *a) {
  return (cri_strv_t){a->v, a->n};
}

/* --- JSON --- */

static const cJSON *jget(const cJSON *o, const char *key) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *jstr_or(const cJSON *o, const char *path, const char *dflt) {
  const char *s = json_str(o, path);
  return s ? s : dflt;
}

static bool jtrue(const cJSON *o, const char *path) {
  return cJSON_IsTrue(json_get_path(o, path));
}

static bool jint(const cJSON *o, const char *path, int64_t *ret) {
  const cJSON *v = json_get_path(o, path);
  if (!cJSON_IsNumber(v))
    return false;
  double d = v->valuedouble;
  *ret = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
  return true;
}

static bool str_empty(const char *s) {
  return !s || !*s;
}

/* path joined under dir ("/a/" + "b" is "/a/b"). */
static char *path_join(agent_podspec_mem_t *m, const char *dir, const char *rest) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (n == 1 && dir[0] == '/')
    n = 0;
  return mem_printf(m, "%.*s/%s", (int)n, dir, rest);
}

/* --- QoS --- */

/* A quantity in milli-units (0 when absent or not a quantity). */
static int64_t milli_of(const cJSON *q) {
  int64_t v = 0;
  if (!q || scheduler_quantity_int(q, 1000, &v) < 0)
    return 0;
  return v;
}

const char *agent_podspec_qos(const cJSON *pod) {
  return api_pod_qos(cJSON_GetObjectItemCaseSensitive(pod, "spec"));
}

/* --- referenced ConfigMaps and Secrets --- */

void agent_podspec_ref_names(const cJSON *pod, cJSON **ret_configmaps, cJSON **ret_secrets) {
  api_podrefs_t refs;
  api_podrefs_of(pod, &refs);
  if (ret_configmaps) {
    *ret_configmaps = refs.configmaps;
    refs.configmaps = NULL;
  }
  if (ret_secrets) {
    *ret_secrets = refs.secrets;
    refs.secrets = NULL;
  }
  api_podrefs_done(&refs);
}

/* --- $(VAR) expansion --- */

typedef const char *(*lookup_fn)(void *ctx, const char *name, size_t len);

/* Expand in as upstream's expansion package does: "$$" is "$", "$(NAME)"
 * is NAME's value when lookup knows it and stays as written otherwise, a
 * "$" before anything else (or at the end) is kept. Returns 0 with a new
 * string in *ret, or -E2BIG past VALUE_MAX. */
static int expand(const char *in, lookup_fn lookup, void *ctx, char **ret) {
  buf_t b;
  buf_init(&b, VALUE_MAX);
  int rc = 0;
  const char *p = in;
  while (*p && rc == 0) {
    const char *d = strchr(p, '$');
    if (!d) {
      rc = buf_append_str(&b, p);
      break;
    }
    rc = buf_append(&b, p, (size_t)(d - p));
    if (rc < 0)
      break;
    if (d[1] == '\0') { /* a trailing "$" */
      rc = buf_append(&b, "$", 1);
      p = d + 1;
    } else if (d[1] == '$') { /* escaped */
      rc = buf_append(&b, "$", 1);
      p = d + 2;
    } else if (d[1] == '(') {
      const char *close = strchr(d + 2, ')');
      if (!close) { /* no closer: "$(" is literal, scanning goes on after it */
        rc = buf_append(&b, "$(", 2);
        p = d + 2;
      } else {
        const char *v = lookup(ctx, d + 2, (size_t)(close - d - 2));
        rc = v ? buf_append_str(&b, v) : buf_append(&b, d, (size_t)(close - d + 1));
        p = close + 1;
      }
    } else { /* "$x": both kept, x not rescanned */
      rc = buf_append(&b, d, 2);
      p = d + 2;
    }
  }
  if (rc < 0) {
    buf_done(&b);
    return -E2BIG;
  }
  *ret = buf_steal(&b, NULL);
  return 0;
}

/* Lookups over a strmap of name -> {"name","value"} item. */
static const char *lookup_env(void *ctx, const char *name, size_t len) {
  char small[128], *key = len < sizeof(small) ? small : xmalloc(len + 1);
  memcpy(key, name, len);
  key[len] = '\0';
  const cJSON *item = strmap_get(ctx, key);
  if (key != small)
    free(key);
  return item ? json_str(item, "value") : NULL;
}

/* --- environment --- */

typedef struct {
  const cJSON *pod, *container;
  const agent_podspec_refs_t *refs;
  const agent_podspec_node_t *node;
  const char *pod_ip, *ns;
  cJSON *out;    /* [{"name","value"}] */
  strmap_t vars; /* name -> item of out */
  char *err;
  size_t errlen;
} env_t;

/* Upstream's IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]*, not "." and not
 * starting with "..". */
static bool env_name_ok(const char *s) {
  if (str_empty(s) || !strcmp(s, ".") || !strncmp(s, "..", 2))
    return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = alpha || c == '-' || c == '.' || c == '_' || (p != s && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

/* name = value: a new name goes to the end, a known one keeps its place. */
static void env_set(env_t *e, const char *name, const char *value) {
  cJSON *item = strmap_get(&e->vars, name);
  if (item) {
    cJSON_ReplaceItemInObjectCaseSensitive(item, "value", cJSON_CreateString(value));
    return;
  }
  item = cJSON_CreateObject();
  cJSON *n = cJSON_AddStringToObject(item, "name", name);
  cJSON_AddStringToObject(item, "value", value);
  cJSON_AddItemToArray(e->out, item);
  strmap_put(&e->vars, n->valuestring, item, NULL);
}

/* The object named name in a {"name": object} map, or NULL. */
static const cJSON *ref_find(const cJSON *objs, const char *name) {
  return name ? jget(objs, name) : NULL;
}

/* A Secret's data[key] decoded into *ret (caller frees). */
static int secret_value(const cJSON *b64, char **ret) {
  if (!cJSON_IsString(b64))
    return -EINVAL;
  size_t len = strlen(b64->valuestring), out = 0;
  unsigned char *buf = xmalloc(len / 4 * 3 + 4);
  if (mbedtls_base64_decode(buf, len / 4 * 3 + 3, &out, (const unsigned char *)b64->valuestring,
                            len) != 0) {
    free(buf);
    return -EINVAL;
  }
  buf[out] = '\0'; /* a value with a NUL byte ends there: a C environment cannot hold it */
  *ret = (char *)buf;
  return 0;
}

static int env_from(env_t *e, const cJSON *src) {
  const char *prefix = jstr_or(src, "prefix", "");
  const cJSON *ref = jget(src, "configMapRef");
  bool secret = false;
  if (!ref) {
    ref = jget(src, "secretRef");
    secret = true;
  }
  if (!ref)
    return 0; /* nothing k3c knows (the API accepts nothing else) */
  const char *name = json_str(ref, "name");
  if (str_empty(name)) {
    errbuf_set(e->err, e->errlen, "envFrom %s without a name",
               secret ? "secretRef" : "configMapRef");
    return -EINVAL;
  }
  const cJSON *obj = ref_find(
      secret ? (e->refs ? e->refs->secrets : NULL) : (e->refs ? e->refs->configmaps : NULL), name);
  if (!obj) {
    if (jtrue(ref, "optional"))
      return 0;
    errbuf_set(e->err, e->errlen, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    return -ENOENT;
  }
  const cJSON *kv;
  cJSON_ArrayForEach(kv, jget(obj, "data")) {
    char *key = xasprintf("%s%s", prefix, kv->string);
    if (!env_name_ok(key)) { /* upstream records an InvalidEnvironmentVariableNames event */
      free(key);
      continue;
    }
    if (secret) {
      char *v = NULL;
      if (secret_value(kv, &v) < 0) {
        errbuf_set(e->err, e->errlen, "key %s of Secret %s/%s is not base64", kv->string, e->ns,
                   name);
        free(key);
        return -EINVAL;
      }
      env_set(e, key, v);
      free(v);
    } else if (cJSON_IsString(kv)) {
      env_set(e, key, kv->valuestring);
    }
    free(key);
  }
  return 0;
}

/* configMapKeyRef / secretKeyRef: *ret is a new string, or NULL for an
 * optional reference that is missing (the variable is then not set). */
static int env_key_ref(env_t *e, const cJSON *ref, bool secret, char **ret) {
  const char *name = json_str(ref, "name"), *key = json_str(ref, "key");
  const char *kind = secret ? "secretKeyRef" : "configMapKeyRef";
  if (str_empty(name) || str_empty(key)) {
    errbuf_set(e->err, e->errlen, "%s needs a name and a key", kind);
    return -EINVAL;
  }
  bool optional = jtrue(ref, "optional");
  const cJSON *obj = ref_find(
      secret ? (e->refs ? e->refs->secrets : NULL) : (e->refs ? e->refs->configmaps : NULL), name);
  *ret = NULL;
  if (!obj) {
    if (optional)
      return 0;
    errbuf_set(e->err, e->errlen, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    return -ENOENT;
  }
  const cJSON *v = jget(jget(obj, "data"), key);
  if (!cJSON_IsString(v)) {
    if (optional)
      return 0;
    errbuf_set(e->err, e->errlen, "couldn't find key %s in %s %s/%s", key,
               secret ? "Secret" : "ConfigMap", e->ns, name);
    return -ENOENT;
  }
  if (!secret) {
    *ret = xstrdup(v->valuestring);
    return 0;
  }
  if (secret_value(v, ret) < 0) {
    errbuf_set(e->err, e->errlen, "key %s of Secret %s/%s is not base64", key, e->ns, name);
    return -EINVAL;
  }
  return 0;
}

/* Go's %q of a label or annotation value, for metadata.labels as a whole. */
static int quote_go(buf_t *b, const char *s) {
  int rc = buf_append(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
    switch (*p) {
    case '"':
      rc = buf_append_str(b, "\\\"");
      break;
    case '\\':
      rc = buf_append_str(b, "\\\\");
      break;
    case '\n':
      rc = buf_append_str(b, "\\n");
      break;
    case '\t':
      rc = buf_append_str(b, "\\t");
      break;
    case '\r':
      rc = buf_append_str(b, "\\r");
      break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        rc = buf_printf(b, "\\x%02x", *p);
      else
        rc = buf_append(b, p, 1);
    }
  }
  return rc < 0 ? rc : buf_append(b, "\"", 1);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* A labels or annotations map as upstream's downward API writes it:
 * key="value" lines sorted by key. */
static int format_map(const cJSON *map, buf_t *out) {
  int n = cJSON_GetArraySize(map), i = 0, rc = 0;
  if (n <= 0)
    return 0;
  const cJSON **v = xcalloc((size_t)n, sizeof(*v));
  const cJSON *kv;
  cJSON_ArrayForEach(kv, map) {
    if (cJSON_IsString(kv) && i < n)
      v[i++] = kv;
  }
  qsort(v, (size_t)i, sizeof(*v), cmp_keys);
  for (int j = 0; j < i && rc == 0; j++) {
    if (j)
      rc = buf_append(out, "\n", 1);
    if (rc == 0)
      rc = buf_printf(out, "%s=", v[j]->string);
    if (rc == 0)
      rc = quote_go(out, v[j]->valuestring);
  }
  free(v);
  return rc;
}

static int env_field_ref(env_t *e, const cJSON *ref, buf_t *out) {
  const char *path = json_str(ref, "fieldPath");
  const char *ver = json_str(ref, "apiVersion");
  if (ver && *ver && strcmp(ver, "v1")) {
    errbuf_set(e->err, e->errlen, "unsupported pod version: %s", ver);
    return -EINVAL;
  }
  if (str_empty(path)) {
    errbuf_set(e->err, e->errlen, "fieldRef without a fieldPath");
    return -EINVAL;
  }
  const char *pod_ip = e->pod_ip ? e->pod_ip : "";
  const char *host_ip = e->node && e->node->host_ip ? e->node->host_ip : "";
  const char *s = NULL;
  if (!strcmp(path, "metadata.name"))
    s = jstr_or(e->pod, "metadata.name", "");
  else if (!strcmp(path, "metadata.namespace"))
    s = e->ns;
  else if (!strcmp(path, "metadata.uid"))
    s = jstr_or(e->pod, "metadata.uid", "");
  else if (!strcmp(path, "spec.nodeName"))
    s = jstr_or(e->pod, "spec.nodeName", e->node && e->node->name ? e->node->name : "");
  else if (!strcmp(path, "spec.serviceAccountName"))
    s = jstr_or(e->pod, "spec.serviceAccountName", "");
  else if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
    s = host_ip;
  else if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
    s = pod_ip;
  if (s)
    return buf_append_str(out, s);
  if (!strcmp(path, "metadata.labels") || !strcmp(path, "metadata.annotations"))
    return format_map(json_get_path(e->pod, path), out);
  /* metadata.labels['key'], metadata.annotations['key'] */
  static const char *const subs[] = {"metadata.labels", "metadata.annotations"};
  size_t plen = strlen(path);
  for (size_t i = 0; i < 2; i++) {
    size_t n = strlen(subs[i]);
    if (!strncmp(path, subs[i], n) && !strncmp(path + n, "['", 2) && plen >= n + 4 &&
        !strcmp(path + plen - 2, "']")) {
      const cJSON *map = json_get_path(e->pod, subs[i]);
      char *key = xstrndup(path + n + 2, plen - n - 4);
      const cJSON *v = jget(map, key);
      free(key);
      return buf_append_str(out, cJSON_IsString(v) ? v->valuestring : "");
    }
  }
  errbuf_set(e->err, e->errlen, "unsupported fieldPath: %s", path);
  return -EINVAL;
}

int agent_podspec_field(const cJSON *pod, const agent_podspec_node_t *node, const char *pod_ip,
                        const cJSON *field_ref, char **ret, char *err, size_t errlen) {
  env_t e;
  memset(&e, 0, sizeof(e));
  e.pod = pod;
  e.node = node;
  e.pod_ip = pod_ip;
  e.ns = jstr_or(pod, "metadata.namespace", "");
  e.err = err;
  e.errlen = errlen;
  buf_t out;
  buf_init(&out, 1 << 20);
  int r = env_field_ref(&e, field_ref, &out);
  if (r < 0) {
    buf_done(&out);
    return r;
  }
  char *s = buf_steal(&out, NULL);
  *ret = s ? s : xstrdup("");
  return 0;
}

static const cJSON *find_container(const cJSON *pod, const char *name) {
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      const char *n = json_str(c, "name");
      if (n && !strcmp(n, name))
        return c;
    }
  }
  return NULL;
}

static int64_t ceil_div(int64_t a, int64_t b) {
  return a / b + (a % b != 0);
}

static int env_resource_ref(env_t *e, const cJSON *ref, buf_t *out) {
  const char *res = json_str(ref, "resource");
  const char *cname = json_str(ref, "containerName");
  const cJSON *c = e->container;
  if (!str_empty(cname)) {
    c = find_container(e->pod, cname);
    if (!c) {
      errbuf_set(e->err, e->errlen, "container %s not found", cname);
      return -EINVAL;
    }
  }
  if (str_empty(res)) {
    errbuf_set(e->err, e->errlen, "resourceFieldRef without a resource");
    return -EINVAL;
  }
  bool limits = !strncmp(res, "limits.", 7);
  bool requests = !strncmp(res, "requests.", 9);
  const char *name = limits ? res + 7 : requests ? res + 9 : "";
  bool cpu = !strcmp(name, "cpu");
  bool bytes = !strcmp(name, "memory") || !strcmp(name, "ephemeral-storage") ||
               !strncmp(name, "hugepages-", 10);
  if (!cpu && !bytes) {
    errbuf_set(e->err, e->errlen, "unsupported container resource : %s", res);
    return -EINVAL;
  }
  int64_t scale = cpu ? 1000 : 1;
  const cJSON *lim = jget(json_get_path(c, "resources.limits"), name);
  const cJSON *q = limits ? lim : jget(json_get_path(c, "resources.requests"), name);
  if (requests && !q)
    q = lim; /* the API defaults a missing request to the limit */
  int64_t v = 0;
  if (q) {
    if (scheduler_quantity_int(q, scale, &v) < 0) {
      errbuf_set(e->err, e->errlen, "%s of container %s is not a quantity", res,
                 jstr_or(c, "name", ""));
      return -EINVAL;
    }
  } else if (limits && e->node) { /* no limit: the node's capacity is the limit */
    if (cpu)
      v = e->node->milli_cpu_capacity;
    else if (!strcmp(name, "memory"))
      v = e->node->memory_capacity;
  }
  int64_t d = 0;
  const cJSON *div = jget(ref, "divisor");
  if (div && scheduler_quantity_int(div, scale, &d) < 0) {
    errbuf_set(e->err, e->errlen, "divisor of %s is not a quantity", res);
    return -EINVAL;
  }
  if (d <= 0) /* no divisor, or zero: 1 */
    d = scale;
  return buf_printf(out, "%" PRId64, ceil_div(v < 0 ? 0 : v, d));
}

/* env[i]: sets the variable, or leaves it unset for an optional ref. */
static int env_var(env_t *e, const cJSON *var) {
  const char *name = json_str(var, "name");
  if (str_empty(name)) {
    errbuf_set(e->err, e->errlen, "an env entry of container %s has no name",
               jstr_or(e->container, "name", ""));
    return -EINVAL;
  }
  const char *value = json_str(var, "value");
  const cJSON *from = jget(var, "valueFrom");
  char *v = NULL;
  int rc = 0;
  if (!str_empty(value)) {
    if (expand(value, lookup_env, &e->vars, &v) < 0) {
      errbuf_set(e->err, e->errlen, "the value of %s exceeds %u bytes when expanded", name,
                 VALUE_MAX);
      return -EINVAL;
    }
  } else if (from) {
    const cJSON *ref;
    buf_t b;
    buf_init(&b, VALUE_MAX);
    if ((ref = jget(from, "fieldRef"))) {
      rc = env_field_ref(e, ref, &b);
    } else if ((ref = jget(from, "resourceFieldRef"))) {
      rc = env_resource_ref(e, ref, &b);
    } else if ((ref = jget(from, "configMapKeyRef"))) {
      rc = env_key_ref(e, ref, false, &v);
      buf_done(&b);
      if (rc < 0 || !v)
        return rc;
      goto set;
    } else if ((ref = jget(from, "secretKeyRef"))) {
      rc = env_key_ref(e, ref, true, &v);
      buf_done(&b);
      if (rc < 0 || !v)
        return rc;
      goto set;
    } else {
      buf_done(&b);
      errbuf_set(e->err, e->errlen, "valueFrom of %s names no source k3c knows", name);
      return -EINVAL;
    }
    if (rc == -E2BIG)
      errbuf_set(e->err, e->errlen, "the value of %s exceeds %u bytes", name, VALUE_MAX);
    if (rc < 0) {
      buf_done(&b);
      return -EINVAL;
    }
    v = buf_steal(&b, NULL);
  } else {
    v = xstrdup("");
  }
set:
  env_set(e, name, v);
  free(v);
  return 0;
}

/* The variables of the kubernetes Service (upstream's getServiceEnvVarMap
 * always adds the master service's, enableServiceLinks or not). */
static void master_service_env(env_t *e, const char *ip) {
  char url[128];
  int n = snprintf(url, sizeof(url), "tcp://%s:443", ip);
  if (n < 0 || (size_t)n >= sizeof(url))
    return;
  env_set(e, "KUBERNETES_SERVICE_HOST", ip);
  env_set(e, "KUBERNETES_SERVICE_PORT", "443");
  env_set(e, "KUBERNETES_SERVICE_PORT_HTTPS", "443");
  env_set(e, "KUBERNETES_PORT", url);
  env_set(e, "KUBERNETES_PORT_443_TCP", url);
  env_set(e, "KUBERNETES_PORT_443_TCP_PROTO", "tcp");
  env_set(e, "KUBERNETES_PORT_443_TCP_PORT", "443");
  env_set(e, "KUBERNETES_PORT_443_TCP_ADDR", ip);
}

int agent_podspec_env(const cJSON *pod, const cJSON *container, const agent_podspec_refs_t *refs,
                      const agent_podspec_node_t *node, const char *pod_ip, cJSON **ret_env,
                      char *err, size_t errlen) {
  env_t e = {.pod = pod,
             .container = container,
             .refs = refs,
             .node = node,
             .pod_ip = pod_ip,
             .ns = jstr_or(pod, "metadata.namespace", "default"),
             .err = err,
             .errlen = errlen};
  e.out = cJSON_CreateArray();
  strmap_init(&e.vars);
  int rc = 0;
  const cJSON *x;
  if (node && !str_empty(node->kubernetes_service_host))
    master_service_env(&e, node->kubernetes_service_host);
  cJSON_ArrayForEach(x, jget(container, "envFrom")) {
    if ((rc = env_from(&e, x)) < 0)
      goto out;
  }
  cJSON_ArrayForEach(x, jget(container, "env")) {
    if ((rc = env_var(&e, x)) < 0)
      goto out;
  }
out:
  strmap_done(&e.vars);
  if (rc < 0) {
    cJSON_Delete(e.out);
    return rc;
  }
  *ret_env = e.out;
  return 0;
}

/* --- sandbox --- */

static cri_ns_options_t ns_options(const cJSON *spec) {
  cri_ns_options_t o = {.network = CRI_NS_POD, .pid = CRI_NS_CONTAINER, .ipc = CRI_NS_POD};
  if (jtrue(spec, "hostNetwork"))
    o.network = CRI_NS_NODE;
  if (jtrue(spec, "hostPID"))
    o.pid = CRI_NS_NODE;
  else if (jtrue(spec, "shareProcessNamespace"))
    o.pid = CRI_NS_POD;
  if (jtrue(spec, "hostIPC"))
    o.ipc = CRI_NS_NODE;
  return o;
}

/* fsGroup, then supplementalGroups (as upstream appends them). */
static void supplemental_groups(agent_podspec_mem_t *m, const cJSON *psc, const int64_t **ret_v,
                                size_t *ret_n) {
  vec_t g = VEC(int64_t);
  int64_t v;
  if (jint(psc, "fsGroup", &v))
    *(int64_t *)vec_push(m, &g) = v;
  const cJSON *x;
  cJSON_ArrayForEach(x, jget(psc, "supplementalGroups")) {
    if (cJSON_IsNumber(x))
      *(int64_t *)vec_push(m, &g) = (int64_t)x->valuedouble;
  }
  *ret_v = g.v;
  *ret_n = g.n;
}

static cri_opt_int64_t opt_int(const cJSON *o, const char *key) {
  cri_opt_int64_t r = {false, 0};
  r.set = jint(o, key, &r.value);
  return r;
}

static bool vec_has(const vec_t *a, const char *s) {
  for (size_t i = 0; i < a->n; i++) {
    if (!strcmp(((const char **)a->v)[i], s))
      return true;
  }
  return false;
}

static void str_add_once(agent_podspec_mem_t *m, vec_t *a, const char *s) {
  if (!str_empty(s) && !vec_has(a, s))
    str_add(m, a, s);
}

/* Options as "name" or "name:value"; a later option of the same name
 * replaces the value in place. */
static void dns_option_set(agent_podspec_mem_t *m, vec_t *opts, const char *name,
                           const char *value) {
  const char *opt = str_empty(value) ? name : mem_printf(m, "%s:%s", name, value);
  size_t nlen = strlen(name);
  for (size_t i = 0; i < opts->n; i++) {
    const char *o = ((const char **)opts->v)[i];
    if (!strncmp(o, name, nlen) && (o[nlen] == '\0' || o[nlen] == ':')) {
      ((const char **)opts->v)[i] = opt;
      return;
    }
  }
  str_add(m, opts, opt);
}

/* The search list cut to upstream's limits: 32 domains, none longer than
 * 253, 2048 characters joined with spaces (dropping from the end). */
static void dns_fit_searches(vec_t *s) {
  const char **v = s->v;
  size_t n = s->n < DNS_SEARCHES_MAX ? s->n : DNS_SEARCHES_MAX, k = 0;
  for (size_t i = 0; i < n; i++) {
    if (strlen(v[i]) <= DNS_SEARCH_LEN_MAX)
      v[k++] = v[i];
  }
  size_t total = 0;
  for (size_t i = 0; i < k; i++)
    total += strlen(v[i]) + (i ? 1 : 0);
  while (k > 0 && total > DNS_SEARCH_CHARS_MAX) {
    k--;
    total -= strlen(v[k]) + (k ? 1 : 0);
  }
  s->n = k;
}

/* *ret NULL: the host's resolv.conf. */
static int dns_config(const cJSON *pod, const agent_podspec_node_t *node, agent_podspec_mem_t *m,
                      const cri_dns_config_t **ret, char *err, size_t errlen) {
  const cJSON *spec = jget(pod, "spec");
  const char *policy = jstr_or(spec, "dnsPolicy", "ClusterFirst");
  bool host_net = jtrue(spec, "hostNetwork");
  enum { DNS_CLUSTER, DNS_HOST, DNS_NONE } type;
  if (!strcmp(policy, "None"))
    type = DNS_NONE;
  else if (!strcmp(policy, "ClusterFirstWithHostNet"))
    type = DNS_CLUSTER;
  else if (!strcmp(policy, "ClusterFirst"))
    type = host_net ? DNS_HOST : DNS_CLUSTER;
  else if (!strcmp(policy, "Default"))
    type = DNS_HOST;
  else {
    errbuf_set(err, errlen, "invalid DNSPolicy=%s", policy);
    return -EINVAL;
  }
  if (type == DNS_CLUSTER && (!node || str_empty(node->cluster_dns)))
    type = DNS_HOST; /* upstream falls back to Default (with a warning event) */
  *ret = NULL;
  if (type == DNS_HOST)
    return 0; /* the runtime copies the host's resolv.conf; spec.dnsConfig is not merged yet */
  vec_t servers = VEC(char *), searches = VEC(char *), options = VEC(char *);
  if (type == DNS_CLUSTER) {
    const char *ns = jstr_or(pod, "metadata.namespace", "default");
    const char *dom = node->cluster_domain;
    str_add(m, &servers, node->cluster_dns);
    if (!str_empty(dom)) {
      str_add(m, &searches, mem_printf(m, "%s.svc.%s", ns, dom));
      str_add_once(m, &searches, mem_printf(m, "svc.%s", dom));
      str_add_once(m, &searches, dom);
    }
    str_add(m, &options, "ndots:5");
  }
  const cJSON *dc = jget(spec, "dnsConfig"), *x;
  cJSON_ArrayForEach(x, jget(dc, "nameservers")) {
    if (cJSON_IsString(x))
      str_add_once(m, &servers, x->valuestring);
  }
  cJSON_ArrayForEach(x, jget(dc, "searches")) {
    if (cJSON_IsString(x))
      str_add_once(m, &searches, x->valuestring);
  }
  cJSON_ArrayForEach(x, jget(dc, "options")) {
    const char *name = json_str(x, "name");
    if (!str_empty(name))
      dns_option_set(m, &options, name, json_str(x, "value"));
  }
  if (servers.n > DNS_SERVERS_MAX)
    servers.n = DNS_SERVERS_MAX;
  dns_fit_searches(&searches);
  cri_dns_config_t *d = mem_alloc(m, sizeof(*d));
  d->servers = vec_strv(&servers);
  d->searches = vec_strv(&searches);
  d->options = vec_strv(&options);
  *ret = d;
  return 0;
}

/* The kernel hostname: spec.hostname or the pod's name cut to 63 (and of
 * trailing '-' and '.'), with the subdomain's FQDN for setHostnameAsFQDN. */
static int hostname_of(const cJSON *pod, const agent_podspec_node_t *node, agent_podspec_mem_t *m,
                       const char **ret, char *err, size_t errlen) {
  const char *name = jstr_or(pod, "metadata.name", "");
  const char *h = json_str(pod, "spec.hostname");
  if (str_empty(h))
    h = name;
  size_t n = strlen(h);
  if (n > HOSTNAME_MAX) {
    n = HOSTNAME_MAX;
    while (n > 0 && (h[n - 1] == '-' || h[n - 1] == '.'))
      n--;
    if (n == 0) {
      errbuf_set(err, errlen,
                 "hostname for pod \"%s\" was longer than %d. Truncated hostname ended up with no "
                 "valid characters",
                 name, HOSTNAME_MAX);
      return -EINVAL;
    }
  }
  const char *host = mem_printf(m, "%.*s", (int)n, h);
  const char *sub = json_str(pod, "spec.subdomain");
  if (jtrue(pod, "spec.setHostnameAsFQDN") && !str_empty(sub)) {
    const char *dom = node && node->cluster_domain ? node->cluster_domain : "";
    host = mem_printf(m, "%s.%s.%s.svc.%s", host, sub, jstr_or(pod, "metadata.namespace", ""), dom);
    if (strlen(host) > FQDN_MAX) {
      errbuf_set(err, errlen,
                 "failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too "
                 "long (%d characters is the max, %zu characters requested)",
                 host, FQDN_MAX, strlen(host));
      return -EINVAL;
    }
  }
  *ret = host;
  return 0;
}

static cri_protocol_t protocol_of(const char *p) {
  if (p && !strcmp(p, "UDP"))
    return CRI_PROTO_UDP;
  if (p && !strcmp(p, "SCTP"))
    return CRI_PROTO_SCTP;
  return CRI_PROTO_TCP;
}

/* Every port of every (regular) container; within a container a port name
 * (or, unnamed, family, protocol, host IP and port) counts once. */
static void port_mappings(const cJSON *pod, agent_podspec_mem_t *m, cri_sandbox_config_t *c) {
  vec_t pm = VEC(cri_port_mapping_t);
  const cJSON *ctr;
  cJSON_ArrayForEach(ctr, json_get_path(pod, "spec.containers")) {
    vec_t names = VEC(char *);
    const cJSON *p;
    cJSON_ArrayForEach(p, jget(ctr, "ports")) {
      int64_t cport = 0, hport = 0;
      jint(p, "containerPort", &cport);
      jint(p, "hostPort", &hport);
      const char *proto = jstr_or(p, "protocol", "TCP");
      const char *hip = jstr_or(p, "hostIP", "");
      const char *name = json_str(p, "name");
      if (str_empty(name)) {
        const char *family = !*hip ? "any" : strchr(hip, ':') ? "v6" : "v4";
        name = mem_printf(m, "%s-%s-%s:%" PRId64, family, proto, hip, cport);
      }
      if (vec_has(&names, name))
        continue;
      str_add(m, &names, name);
      cri_port_mapping_t *x = vec_push(m, &pm);
      x->protocol = protocol_of(proto);
      x->container_port = (int32_t)cport;
      x->host_port = (int32_t)hport;
      x->host_ip = hip;
    }
  }
  c->port_mappings = pm.v;
  c->n_port_mappings = pm.n;
}

static bool is_pod_label(const char *k) {
  return !strcmp(k, AGENT_LABEL_POD_NAME) || !strcmp(k, AGENT_LABEL_POD_NAMESPACE) ||
         !strcmp(k, AGENT_LABEL_POD_UID) || !strcmp(k, AGENT_LABEL_MANAGED) ||
         !strcmp(k, AGENT_LABEL_CONTAINER_NAME) || !strcmp(k, AGENT_LABEL_INIT);
}

static void pod_labels(agent_podspec_mem_t *m, vec_t *labels, const cJSON *pod) {
  kv_add(m, labels, AGENT_LABEL_POD_NAME, jstr_or(pod, "metadata.name", ""));
  kv_add(m, labels, AGENT_LABEL_POD_NAMESPACE, jstr_or(pod, "metadata.namespace", ""));
  kv_add(m, labels, AGENT_LABEL_POD_UID, jstr_or(pod, "metadata.uid", ""));
  kv_add(m, labels, AGENT_LABEL_MANAGED, "true");
}

/* sysctl names with '/' as separator ("net/ipv4/ip_forward") in the dotted
 * form: when the first separator is a slash, '/' and '.' swap. */
static const char *sysctl_name(agent_podspec_mem_t *m, const char *s) {
  const char *sep = strpbrk(s, "./");
  if (!sep || *sep == '.')
    return s;
  char *d = mem_printf(m, "%s", s);
  for (char *p = d; *p; p++)
    *p = *p == '/' ? '.' : *p == '.' ? '/' : *p;
  return d;
}

static const char *cgroup_parent(const cJSON *pod, const agent_podspec_node_t *node,
                                 agent_podspec_mem_t *m) {
  const char *qos = agent_podspec_qos(pod);
  const char *tier = !strcmp(qos, "Burstable")    ? "/burstable"
                     : !strcmp(qos, "BestEffort") ? "/besteffort"
                                                  : "";
  char *rest = mem_printf(m, "kubepods%s/pod%s", tier, jstr_or(pod, "metadata.uid", ""));
  return path_join(m, node && node->cgroup_root ? node->cgroup_root : "/", rest);
}

static bool any_privileged(const cJSON *pod) {
  static const char *const lists[] = {"spec.containers", "spec.initContainers"};
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      if (jtrue(c, "securityContext.privileged"))
        return true;
    }
  }
  return false;
}

int agent_podspec_sandbox(const cJSON *pod, uint32_t attempt, const agent_podspec_node_t *node,
                          agent_podspec_mem_t *mem, cri_sandbox_config_t *ret, char *err,
                          size_t errlen) {
  agent_podspec_mem_t tmp = {0};
  cri_sandbox_config_t c;
  memset(&c, 0, sizeof(c));
  const char *name = json_str(pod, "metadata.name"), *ns = json_str(pod, "metadata.namespace");
  const char *uid = json_str(pod, "metadata.uid");
  const cJSON *spec = jget(pod, "spec");
  int rc = 0;
  if (str_empty(name) || str_empty(ns) || str_empty(uid)) {
    errbuf_set(err, errlen, "pod needs metadata.name, namespace and uid");
    return -EINVAL;
  }
  c.metadata = (cri_sandbox_metadata_t){name, uid, ns, attempt};
  if (!jtrue(spec, "hostNetwork") &&
      (rc = hostname_of(pod, node, &tmp, &c.hostname, err, errlen)) < 0)
    goto out;
  c.log_directory = path_join(&tmp, node && node->logs_dir ? node->logs_dir : "/var/log/pods",
                              mem_printf(&tmp, "%s_%s_%s", ns, name, uid));
  if ((rc = dns_config(pod, node, &tmp, &c.dns_config, err, errlen)) < 0)
    goto out;
  port_mappings(pod, &tmp, &c);

  vec_t labels = VEC(cri_kv_t), annotations = VEC(cri_kv_t), sysctls = VEC(cri_kv_t);
  const cJSON *kv;
  cJSON_ArrayForEach(kv, json_get_path(pod, "metadata.labels")) {
    if (cJSON_IsString(kv) && !is_pod_label(kv->string))
      kv_add(&tmp, &labels, kv->string, kv->valuestring);
  }
  pod_labels(&tmp, &labels, pod);
  cJSON_ArrayForEach(kv, json_get_path(pod, "metadata.annotations")) {
    if (cJSON_IsString(kv))
      kv_add(&tmp, &annotations, kv->string, kv->valuestring);
  }
  c.labels = vec_map(&labels);
  c.annotations = vec_map(&annotations);

  const cJSON *psc = jget(spec, "securityContext");
  c.lnx.cgroup_parent = cgroup_parent(pod, node, &tmp);
  c.lnx.namespace_options = ns_options(spec);
  c.lnx.run_as_user = opt_int(psc, "runAsUser");
  c.lnx.run_as_group = opt_int(psc, "runAsGroup");
  c.lnx.privileged = any_privileged(pod);
  supplemental_groups(&tmp, psc, &c.lnx.supplemental_groups, &c.lnx.n_supplemental_groups);
  cJSON_ArrayForEach(kv, jget(psc, "sysctls")) {
    const char *n = json_str(kv, "name");
    if (!str_empty(n))
      kv_add(&tmp, &sysctls, sysctl_name(&tmp, n), jstr_or(kv, "value", ""));
  }
  c.lnx.sysctls = vec_map(&sysctls);
out:
  if (rc < 0) {
    agent_podspec_mem_done(&tmp);
    return rc;
  }
  mem_move(mem, &tmp);
  *ret = c;
  return 0;
}

/* --- container --- */

/* upstream's MilliCPUToShares */
static int64_t cpu_shares(int64_t milli) {
  if (milli == 0)
    return CPU_SHARES_MIN;
  int64_t s = milli > INT64_MAX / 1024 ? INT64_MAX : milli * 1024 / 1000;
  return s < CPU_SHARES_MIN ? CPU_SHARES_MIN : s > CPU_SHARES_MAX ? CPU_SHARES_MAX : s;
}

static int64_t cpu_quota(int64_t milli) {
  if (milli == 0)
    return 0;
  int64_t q = milli > INT64_MAX / CPU_PERIOD ? INT64_MAX : milli * CPU_PERIOD / 1000;
  return q < CPU_QUOTA_MIN ? CPU_QUOTA_MIN : q;
}

static int64_t bytes_of(const cJSON *q) {
  int64_t v = 0;
  if (!q || scheduler_quantity_int(q, 1, &v) < 0)
    return 0;
  return v;
}

/* A container's memory request as its bytes (the limit when unset). */
static int64_t mem_request(const cJSON *c) {
  const cJSON *r = json_get_path(c, "resources.requests.memory");
  return bytes_of(r ? r : json_get_path(c, "resources.limits.memory"));
}

static bool is_sidecar(const cJSON *pod, const cJSON *c) {
  const char *rp = json_str(c, "restartPolicy");
  if (!rp || strcmp(rp, "Always"))
    return false;
  const cJSON *x;
  cJSON_ArrayForEach(x, json_get_path(pod, "spec.initContainers")) {
    if (x == c)
      return true;
  }
  return false;
}

static int64_t oom_burstable(int64_t request, int64_t capacity) {
  if (capacity <= 0)
    return 1000;
  if (request > capacity)
    request = capacity;
  /* 1000 * request overflows past 9.2 PB: divide first then */
  return 1000 -
         (request > INT64_MAX / 1000 ? request / capacity * 1000 : 1000 * request / capacity);
}

/* upstream's GetContainerOOMScoreAdjust */
static int64_t oom_score_adj(const cJSON *pod, const cJSON *c, const char *qos, int64_t capacity) {
  const char *prio = json_str(pod, "spec.priorityClassName");
  if ((prio && !strcmp(prio, "system-node-critical")) || !strcmp(qos, "Guaranteed"))
    return OOM_GUARANTEED;
  if (!strcmp(qos, "BestEffort"))
    return OOM_BESTEFFORT;
  int64_t adj = oom_burstable(mem_request(c), capacity);
  if (is_sidecar(pod, c)) { /* a sidecar is not killed before the containers it serves */
    const cJSON *x;
    bool first = true;
    int64_t min = 0;
    cJSON_ArrayForEach(x, json_get_path(pod, "spec.containers")) {
      int64_t r = mem_request(x);
      if (first || r < min)
        min = r;
      first = false;
    }
    int64_t side = oom_burstable(min, capacity);
    if (!first && adj > side)
      adj = side;
  }
  if (adj < 1000 + OOM_GUARANTEED)
    return 1000 + OOM_GUARANTEED;
  if (adj == OOM_BESTEFFORT)
    return OOM_BESTEFFORT - 1;
  return adj;
}

static cri_resources_t *resources_of(const cJSON *pod, const cJSON *c,
                                     const agent_podspec_node_t *node, agent_podspec_mem_t *m) {
  cri_resources_t *r = mem_alloc(m, sizeof(*r));
  const cJSON *lim_cpu = json_get_path(c, "resources.limits.cpu");
  const cJSON *req_cpu = json_get_path(c, "resources.requests.cpu");
  int64_t limit = milli_of(lim_cpu);
  r->cpu_shares = cpu_shares(req_cpu ? milli_of(req_cpu) : limit);
  r->cpu_period = CPU_PERIOD;
  r->cpu_quota = cpu_quota(limit);
  r->memory_limit_in_bytes = bytes_of(json_get_path(c, "resources.limits.memory"));
  r->oom_score_adj =
      oom_score_adj(pod, c, agent_podspec_qos(pod), node ? node->memory_capacity : 0);
  return r;
}

static const cJSON *find_volume(const cJSON *pod, const char *name) {
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    const char *n = json_str(v, "name");
    if (n && !strcmp(n, name))
      return v;
  }
  return NULL;
}

/* The volume's source key ("emptyDir", "hostPath", "configMap"...); a
 * volume without one is an emptyDir (as the API defaults it). */
static const char *volume_type(const cJSON *v) {
  const cJSON *x;
  cJSON_ArrayForEach(x, v) {
    if (x->string && strcmp(x->string, "name") && !cJSON_IsNull(x))
      return x->string;
  }
  return "emptyDir";
}

/* The plugin directory upstream names each volume type's files by. */
static const char *volume_plugin(const char *type) {
  if (!strcmp(type, "emptyDir"))
    return "empty-dir";
  if (!strcmp(type, "configMap"))
    return "configmap";
  if (!strcmp(type, "secret"))
    return "secret";
  if (!strcmp(type, "downwardAPI"))
    return "downward-api";
  if (!strcmp(type, "projected"))
    return "projected";
  return NULL;
}

int agent_podspec_volume_dir(const cJSON *pod, const agent_podspec_node_t *node, const char *type,
                             const char *name, char *out, size_t len) {
  const char *plugin = volume_plugin(type);
  if (!plugin)
    return -ENOTSUP;
  int n = snprintf(out, len, "%s/%s/volumes/kubernetes.io~%s/%s",
                   node && node->pods_dir ? node->pods_dir : "/var/lib/kubelet/pods",
                   jstr_or(pod, "metadata.uid", ""), plugin, name);
  return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *volume_path(agent_podspec_mem_t *m, const cJSON *pod,
                               const agent_podspec_node_t *node, const char *type,
                               const char *name) {
  char buf[4096];
  if (agent_podspec_volume_dir(pod, node, type, name, buf, sizeof(buf)) < 0)
    return NULL;
  return mem_printf(m, "%s", buf);
}

static const char *empty_dir_path(agent_podspec_mem_t *m, const cJSON *pod,
                                  const agent_podspec_node_t *node, const char *name) {
  return volume_path(m, pod, node, "emptyDir", name);
}

/* upstream's ValidatePathNoBacksteps: no ".." element. */
static bool has_backsteps(const char *s) {
  for (const char *p = s; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return true;
    p += n;
    if (*p == '/')
      p++;
  }
  return false;
}

/* A subPath (or expanded subPathExpr) must stay inside its volume: 0, or
 * -EINVAL with upstream's messages. */
static int subpath_check(const char *sub, char *err, size_t errlen) {
  if (sub[0] == '/') {
    errbuf_set(err, errlen, "error SubPath `%s` must not be an absolute path", sub);
    return -EINVAL;
  }
  if (has_backsteps(sub)) {
    errbuf_set(err, errlen, "unable to provision SubPath `%s`: must not contain '..'", sub);
    return -EINVAL;
  }
  return 0;
}

/* subPathExpr lookups: a variable that is unset or empty is an error. */
typedef struct {
  strmap_t *vars;
  cJSON *missing; /* names, as upstream lists them: sorted, once each */
} subexpr_t;

static const char *lookup_subexpr(void *ctx, const char *name, size_t len) {
  subexpr_t *x = ctx;
  const char *v = lookup_env(x->vars, name, len);
  if (!v || !*v) {
    char *n = xstrndup(name, len);
    cJSON_AddItemToArray(x->missing, cJSON_CreateString(n));
    free(n);
    return "";
  }
  return v;
}

static int cmp_strings(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->valuestring, (*(const cJSON *const *)b)->valuestring);
}

/* "missing value for A, B" */
static void missing_message(const cJSON *names, char *err, size_t errlen) {
  int n = cJSON_GetArraySize(names), k = 0;
  const cJSON **v = xcalloc((size_t)n, sizeof(*v)), *x;
  cJSON_ArrayForEach(x, names) v[k++] = x;
  qsort(v, (size_t)k, sizeof(*v), cmp_strings);
  buf_t b;
  buf_init(&b, 4096);
  buf_append_str(&b, "missing value for ");
  for (int i = 0; i < k; i++) {
    if (i && !strcmp(v[i]->valuestring, v[i - 1]->valuestring))
      continue;
    if (i)
      buf_append_str(&b, ", ");
    buf_append_str(&b, v[i]->valuestring);
  }
  errbuf_set(err, errlen, "%s", b.data ? b.data : "");
  buf_done(&b);
  free(v);
}

static int mounts_of(const cJSON *pod, const cJSON *c, const agent_podspec_node_t *node,
                     agent_podspec_mem_t *m, cri_container_config_t *cfg, strmap_t *vars, char *err,
                     size_t errlen) {
  vec_t mounts = VEC(cri_mount_t);
  const cJSON *vm;
  if (cJSON_GetArraySize(jget(c, "volumeDevices")) > 0) {
    errbuf_set(err, errlen, "volumeDevices of container %s are not supported yet",
               jstr_or(c, "name", ""));
    return -ENOTSUP;
  }
  cJSON_ArrayForEach(vm, jget(c, "volumeMounts")) {
    const char *name = json_str(vm, "name"), *path = json_str(vm, "mountPath");
    if (str_empty(name) || str_empty(path)) {
      errbuf_set(err, errlen, "a volumeMount of container %s needs a name and a mountPath",
                 jstr_or(c, "name", ""));
      return -EINVAL;
    }
    const cJSON *vol = find_volume(pod, name);
    if (!vol) {
      errbuf_set(err, errlen, "volume \"%s\" not found", name);
      return -EINVAL;
    }
    const char *type = volume_type(vol), *host;
    bool forced_ro = false;
    if (!strcmp(type, "emptyDir")) {
      host = empty_dir_path(m, pod, node, name);
    } else if (!strcmp(type, "hostPath")) {
      host = json_str(vol, "hostPath.path");
      if (str_empty(host)) {
        errbuf_set(err, errlen, "hostPath volume \"%s\" has no path", name);
        return -EINVAL;
      }
    } else if ((host = volume_path(m, pod, node, type, name))) {
      /* configMap, secret, downwardAPI, projected: files the kubelet
       * writes (volumes.c); read-only, as upstream mounts them */
      forced_ro = true;
    } else {
      errbuf_set(err, errlen, "volume type %s of \"%s\" is not supported yet", type, name);
      return -ENOTSUP;
    }
    const char *sub = json_str(vm, "subPath");
    const char *subexpr = json_str(vm, "subPathExpr");
    if (!str_empty(subexpr)) {
      subexpr_t x = {vars, cJSON_CreateArray()};
      char *expanded = NULL;
      int r = expand(subexpr, lookup_subexpr, &x, &expanded);
      if (r == 0 && cJSON_GetArraySize(x.missing) > 0) {
        missing_message(x.missing, err, errlen);
        free(expanded);
        r = -EINVAL;
      } else if (r < 0) {
        errbuf_set(err, errlen, "subPathExpr of volumeMount \"%s\" is too long", name);
      }
      cJSON_Delete(x.missing);
      if (r < 0)
        return -EINVAL;
      sub = mem_keep(m, expanded);
    }
    if (!str_empty(sub)) {
      int r = subpath_check(sub, err, errlen);
      if (r < 0)
        return r;
      if (!m->subpaths)
        m->subpaths = cJSON_CreateArray();
      cJSON *sp = cJSON_CreateObject();
      cJSON_AddStringToObject(sp, "name", name);
      cJSON_AddStringToObject(sp, "volume", host);
      cJSON_AddStringToObject(sp, "subPath", sub);
      cJSON_AddItemToArray(m->subpaths, sp);
      host = path_join(m, host, sub);
    }
    cri_mount_t *mt = vec_push(m, &mounts);
    mt->container_path = path;
    mt->host_path = host;
    mt->readonly = forced_ro || jtrue(vm, "readOnly");
    const char *prop = json_str(vm, "mountPropagation");
    mt->propagation = !prop                              ? CRI_PROPAGATION_PRIVATE
                      : !strcmp(prop, "HostToContainer") ? CRI_PROPAGATION_HOST_TO_CONTAINER
                      : !strcmp(prop, "Bidirectional")   ? CRI_PROPAGATION_BIDIRECTIONAL
                                                         : CRI_PROPAGATION_PRIVATE;
  }
  cfg->mounts = mounts.v;
  cfg->n_mounts = mounts.n;
  return 0;
}

/* Upstream's default ProcMount paths: hidden, and read-only. */
static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static void strv_of(agent_podspec_mem_t *m, const cJSON *arr, cri_strv_t *ret) {
  vec_t v = VEC(char *);
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    if (cJSON_IsString(x))
      str_add(m, &v, x->valuestring);
  }
  *ret = vec_strv(&v);
}

/* command or args with $(VAR) from the container's env. */
static int expand_strv(agent_podspec_mem_t *m, const cJSON *arr, strmap_t *vars, cri_strv_t *ret) {
  vec_t v = VEC(char *);
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) {
    if (!cJSON_IsString(x))
      continue;
    char *s = NULL;
    if (expand(x->valuestring, lookup_env, vars, &s) < 0)
      return -E2BIG;
    str_add(m, &v, mem_keep(m, s));
  }
  *ret = vec_strv(&v);
  return 0;
}

static void security_of(const cJSON *pod, const cJSON *c, agent_podspec_mem_t *m,
                        cri_container_config_t *cfg) {
  const cJSON *spec = jget(pod, "spec");
  const cJSON *psc = jget(spec, "securityContext"), *csc = jget(c, "securityContext");
  strv_of(m, json_get_path(csc, "capabilities.add"), &cfg->lnx.add_capabilities);
  strv_of(m, json_get_path(csc, "capabilities.drop"), &cfg->lnx.drop_capabilities);
  cfg->lnx.privileged = jtrue(csc, "privileged");
  cfg->lnx.readonly_rootfs = jtrue(csc, "readOnlyRootFilesystem");
  cfg->lnx.no_new_privs = cJSON_IsFalse(jget(csc, "allowPrivilegeEscalation"));
  cfg->lnx.namespace_options = ns_options(spec);
  cfg->lnx.run_as_user = opt_int(csc, "runAsUser");
  if (!cfg->lnx.run_as_user.set)
    cfg->lnx.run_as_user = opt_int(psc, "runAsUser");
  cfg->lnx.run_as_group = opt_int(csc, "runAsGroup");
  if (!cfg->lnx.run_as_group.set)
    cfg->lnx.run_as_group = opt_int(psc, "runAsGroup");
  supplemental_groups(m, psc, &cfg->lnx.supplemental_groups, &cfg->lnx.n_supplemental_groups);
  const char *proc = json_str(csc, "procMount");
  if (!proc || strcmp(proc, "Unmasked")) {
    cfg->lnx.masked_paths =
        (cri_strv_t){masked_paths, sizeof(masked_paths) / sizeof(*masked_paths)};
    cfg->lnx.readonly_paths =
        (cri_strv_t){readonly_paths, sizeof(readonly_paths) / sizeof(*readonly_paths)};
  }
}

static bool is_init(const cJSON *pod, const cJSON *c) {
  const cJSON *x;
  cJSON_ArrayForEach(x, json_get_path(pod, "spec.initContainers")) {
    if (x == c)
      return true;
  }
  /* a copy of an init container (not the pod's own item): match by name */
  const char *name = json_str(c, "name");
  cJSON_ArrayForEach(x, json_get_path(pod, "spec.initContainers")) {
    const char *n = json_str(x, "name");
    if (name && n && !strcmp(n, name))
      return true;
  }
  return false;
}

static char *json_text(agent_podspec_mem_t *m, const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  return s ? mem_keep(m, s) : "";
}

int agent_podspec_container(const cJSON *pod, const cJSON *container, uint32_t attempt,
                            const cJSON *env, const agent_podspec_node_t *node,
                            agent_podspec_mem_t *mem, cri_container_config_t *ret, char *err,
                            size_t errlen) {
  agent_podspec_mem_t tmp = {0};
  cri_container_config_t c;
  memset(&c, 0, sizeof(c));
  strmap_t vars;
  strmap_init(&vars);
  int rc = 0;
  const char *name = json_str(container, "name");
  if (str_empty(name)) {
    errbuf_set(err, errlen, "container has no name");
    rc = -EINVAL;
    goto out;
  }
  const cJSON *csc = jget(container, "securityContext");
  const cJSON *psc = json_get_path(pod, "spec.securityContext");
  const cJSON *nonroot = jget(csc, "runAsNonRoot");
  if (!nonroot)
    nonroot = jget(psc, "runAsNonRoot");
  cri_opt_int64_t uid = opt_int(csc, "runAsUser");
  if (!uid.set)
    uid = opt_int(psc, "runAsUser");
  if (cJSON_IsTrue(nonroot) && uid.set && uid.value == 0) {
    errbuf_set(err, errlen,
               "container's runAsUser breaks non-root policy (pod: \"%s_%s(%s)\", container: %s)",
               jstr_or(pod, "metadata.name", ""), jstr_or(pod, "metadata.namespace", ""),
               jstr_or(pod, "metadata.uid", ""), name);
    rc = -EINVAL;
    goto out;
  }
  c.metadata = (cri_container_metadata_t){name, attempt};
  c.image = jstr_or(container, "image", "");

  /* envs, and the names command, args and subPathExpr expand from */
  vec_t envs = VEC(cri_kv_t);
  const cJSON *e;
  cJSON_ArrayForEach(e, env) {
    const char *n = json_str(e, "name");
    if (str_empty(n))
      continue;
    kv_add(&tmp, &envs, n, jstr_or(e, "value", ""));
    strmap_set(&vars, n, (void *)e);
  }
  c.envs = envs.v;
  c.n_envs = envs.n;
  if (expand_strv(&tmp, jget(container, "command"), &vars, &c.command) < 0 ||
      expand_strv(&tmp, jget(container, "args"), &vars, &c.args) < 0) {
    errbuf_set(err, errlen, "command or args of container %s exceed %u bytes when expanded", name,
               VALUE_MAX);
    rc = -EINVAL;
    goto out;
  }
  c.working_dir = json_str(container, "workingDir");
  if ((rc = mounts_of(pod, container, node, &tmp, &c, &vars, err, errlen)) < 0)
    goto out;

  vec_t labels = VEC(cri_kv_t), ann = VEC(cri_kv_t);
  kv_add(&tmp, &labels, AGENT_LABEL_CONTAINER_NAME, name);
  pod_labels(&tmp, &labels, pod);
  if (is_init(pod, container))
    kv_add(&tmp, &labels, AGENT_LABEL_INIT, "true");
  c.labels = vec_map(&labels);

  kv_add(&tmp, &ann, "io.kubernetes.container.restartCount", mem_printf(&tmp, "%" PRIu32, attempt));
  kv_add(&tmp, &ann, "io.kubernetes.container.terminationMessagePath",
         jstr_or(container, "terminationMessagePath", "/dev/termination-log"));
  kv_add(&tmp, &ann, "io.kubernetes.container.terminationMessagePolicy",
         jstr_or(container, "terminationMessagePolicy", "File"));
  int64_t g;
  if (jint(pod, "metadata.deletionGracePeriodSeconds", &g))
    kv_add(&tmp, &ann, "io.kubernetes.pod.deletionGracePeriod", mem_printf(&tmp, "%" PRId64, g));
  if (!jint(pod, "spec.terminationGracePeriodSeconds", &g))
    g = GRACE_DEFAULT;
  kv_add(&tmp, &ann, "io.kubernetes.pod.terminationGracePeriod", mem_printf(&tmp, "%" PRId64, g));
  const cJSON *pre = json_get_path(container, "lifecycle.preStop");
  if (pre)
    kv_add(&tmp, &ann, "io.kubernetes.container.preStopHandler", json_text(&tmp, pre));
  const cJSON *ports = jget(container, "ports");
  if (cJSON_GetArraySize(ports) > 0)
    kv_add(&tmp, &ann, "io.kubernetes.container.ports", json_text(&tmp, ports));
  c.annotations = vec_map(&ann);

  c.log_path = mem_printf(&tmp, "%s/%" PRIu32 ".log", name, attempt);
  c.stdin_ = jtrue(container, "stdin");
  c.stdin_once = jtrue(container, "stdinOnce");
  c.tty = jtrue(container, "tty");
  c.lnx.resources = resources_of(pod, container, node, &tmp);
  security_of(pod, container, &tmp, &c);
out:
  strmap_done(&vars);
  if (rc < 0) {
    agent_podspec_mem_done(&tmp);
    return rc;
  }
  mem_move(mem, &tmp);
  *ret = c;
  return 0;
}

/* --- directories and grace --- */

static void dir_add(cJSON *arr, const char *path) {
  cJSON_AddItemToArray(arr, cJSON_CreateString(path));
}

cJSON *agent_podspec_dirs(const cJSON *pod, const agent_podspec_node_t *node) {
  agent_podspec_mem_t m = {0};
  cJSON *dirs = cJSON_CreateArray();
  const char *name = jstr_or(pod, "metadata.name", ""),
             *ns = jstr_or(pod, "metadata.namespace", "");
  const char *uid = jstr_or(pod, "metadata.uid", "");
  const char *logs = path_join(&m, node && node->logs_dir ? node->logs_dir : "/var/log/pods",
                               mem_printf(&m, "%s_%s_%s", ns, name, uid));
  dir_add(dirs, logs);
  static const char *const lists[] = {"spec.initContainers", "spec.containers"};
  for (size_t l = 0; l < 2; l++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pod, lists[l])) {
      const char *cn = json_str(c, "name");
      if (!str_empty(cn))
        dir_add(dirs, path_join(&m, logs, cn));
    }
  }
  dir_add(dirs,
          path_join(&m, node && node->pods_dir ? node->pods_dir : "/var/lib/kubelet/pods", uid));
  const cJSON *v;
  cJSON_ArrayForEach(v, json_get_path(pod, "spec.volumes")) {
    const char *vn = json_str(v, "name"), *type = volume_type(v);
    if (str_empty(vn))
      continue;
    if (!strcmp(type, "emptyDir")) {
      dir_add(dirs, empty_dir_path(&m, pod, node, vn));
    } else if (!strcmp(type, "hostPath")) {
      const char *t = json_str(v, "hostPath.type"), *p = json_str(v, "hostPath.path");
      if (t && !strcmp(t, "DirectoryOrCreate") && !str_empty(p))
        dir_add(dirs, p);
    }
  }
  /* subPaths are made when their container is (agent/subpath.h: safely,
   * not through links out of the volume) */
  agent_podspec_mem_done(&m);
  return dirs;
}

int64_t agent_podspec_grace_seconds(const cJSON *pod) {
  int64_t g;
  if (!jint(pod, "metadata.deletionGracePeriodSeconds", &g) &&
      !jint(pod, "spec.terminationGracePeriodSeconds", &g))
    g = GRACE_DEFAULT;
  return g < 0 ? 0 : g;
}

const cJSON *agent_podspec_container_status(const cJSON *pod, const char *name) {
  static const char *const lists[] = {"status.containerStatuses", "status.initContainerStatuses",
                                      "status.ephemeralContainerStatuses"};
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    const cJSON *cs;
    cJSON_ArrayForEach(cs, json_get_path(pod, lists[i])) {
      const char *n = json_str(cs, "name");
      if (n && !strcmp(n, name))
        return cs;
    }
  }
  return NULL;
}
