/* Field ownership (managedFields) and server-side apply (managed.h), as
 * sigs.k8s.io/structured-merge-diff (merge/update.go, typed/{merge,compare,
 * tofieldset,remove}.go) and k8s.io/apimachinery's fieldmanager layers
 * (strip-meta, skip-non-applied, cap-managers, last-applied) define them.
 * Field sets are fieldset.h trees; objects are walked once per step with
 * hash indexes over big objects and lists, so every step is linear. */
#include "api/managed.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/fieldset.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/strmap.h"

#define MAX_DEPTH 48
#define MAX_UPDATE_MANAGERS 10
#define PE_LIMIT (4u << 20)
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
/* the top bit of an order entry: the item comes from the right-hand list */
#define ORDER_RIGHT (~(SIZE_MAX >> 1))

void api_managed_name(const char *field_manager, const char *user_agent, char *out, size_t n) {
  if (field_manager && field_manager[0]) {
    snprintf(out, n, "%s", field_manager);
    return;
  }
  if (user_agent && user_agent[0]) {
    size_t len = strcspn(user_agent, "/ ");
    snprintf(out, n, "%.*s", (int)len, user_agent);
    return;
  }
  snprintf(out, n, "unknown");
}

/* ---- a string -> index hash map (object keys, list item keys) ---- */

typedef struct {
  const char *key;
  size_t len;
  uint32_t hash;
  long val;
} sent_t;

typedef struct {
  sent_t *e;
  size_t cap;
} smap_t;

/* keyed SipHash (util/strmap): hostile keys cannot be made to collide */
static uint32_t shash(const char *s, size_t len) { return (uint32_t)strmap_hash(s, len); }

static void smap_init(smap_t *m, size_t n) {
  size_t cap = 16;
  while (cap < n * 2)
    cap *= 2;
  m->e = xcalloc(cap, sizeof(sent_t));
  m->cap = cap;
}

static void smap_done(smap_t *m) {
  free(m->e);
  m->e = NULL;
}

/* Insert key -> val unless present; returns the value already there or -1. */
static long smap_put(smap_t *m, const char *key, size_t len, long val) {
  uint32_t h = shash(key, len);
  size_t j = h & (m->cap - 1);
  while (m->e[j].key) {
    if (m->e[j].hash == h && m->e[j].len == len && !memcmp(m->e[j].key, key, len))
      return m->e[j].val;
    j = (j + 1) & (m->cap - 1);
  }
  m->e[j] = (sent_t){key, len, h, val};
  return -1;
}

static long smap_get(const smap_t *m, const char *key, size_t len) {
  uint32_t h = shash(key, len);
  size_t j = h & (m->cap - 1);
  while (m->e[j].key) {
    if (m->e[j].hash == h && m->e[j].len == len && !memcmp(m->e[j].key, key, len))
      return m->e[j].val;
    j = (j + 1) & (m->cap - 1);
  }
  return -1;
}

/* An index over the members of a cJSON object (first of duplicate keys). */
typedef struct {
  const cJSON *obj;
  const cJSON **items;
  smap_t map;
  bool big;
} oindex_t;

static void oindex_init(oindex_t *ix, const cJSON *obj) {
  memset(ix, 0, sizeof(*ix));
  ix->obj = cJSON_IsObject(obj) ? obj : NULL;
  size_t n = 0;
  for (const cJSON *c = ix->obj ? ix->obj->child : NULL; c; c = c->next)
    n++;
  if (n <= 8)
    return;
  ix->big = true;
  ix->items = xmalloc(n * sizeof(*ix->items));
  smap_init(&ix->map, n);
  n = 0;
  for (const cJSON *c = ix->obj->child; c; c = c->next, n++) {
    ix->items[n] = c;
    smap_put(&ix->map, c->string, strlen(c->string), (long)n);
  }
}

static const cJSON *oindex_get(const oindex_t *ix, const char *key) {
  if (!ix->obj)
    return NULL;
  if (!ix->big)
    return cJSON_GetObjectItemCaseSensitive(ix->obj, key);
  long i = smap_get(&ix->map, key, strlen(key));
  return i >= 0 ? ix->items[i] : NULL;
}

static void oindex_done(oindex_t *ix) {
  if (ix->big) {
    free(ix->items);
    smap_done(&ix->map);
  }
}

/* JSON equality, linear (cJSON_Compare searches objects key by key). */
static bool json_equal(const cJSON *a, const cJSON *b, int depth) {
  if (a == b)
    return true;
  if (!a || !b || depth > MAX_DEPTH)
    return false;
  if ((a->type & 0xff) != (b->type & 0xff))
    return false;
  if (cJSON_IsNumber(a))
    return a->valuedouble == b->valuedouble;
  if (cJSON_IsString(a))
    return !strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "");
  if (cJSON_IsArray(a)) {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
      if (!json_equal(x, y, depth + 1))
        return false;
    return !x && !y;
  }
  if (cJSON_IsObject(a)) {
    size_t na = 0, nb = 0;
    for (const cJSON *c = a->child; c; c = c->next)
      na++;
    for (const cJSON *c = b->child; c; c = c->next)
      nb++;
    if (na != nb)
      return false;
    oindex_t ix;
    oindex_init(&ix, b);
    bool eq = true;
    for (const cJSON *c = a->child; c && eq; c = c->next)
      eq = json_equal(c, oindex_get(&ix, c->string), depth + 1);
    oindex_done(&ix);
    return eq;
  }
  return true; /* null, true, false */
}

bool api_managed_equal(const cJSON *a, const cJSON *b) { return json_equal(a, b, 0); }

/* ---- the schema as server-side apply sees it ---- */

typedef enum { VT_UNTYPED, VT_SCALAR, VT_STRUCT, VT_MAP, VT_LIST } vkind_t;
enum { LR_ATOMIC, LR_SET, LR_MAP };

/* A position in an object: from the built-in schema (t, f) or, for custom
 * resources, from the version's openAPIV3Schema (js). */
typedef struct {
  vkind_t kind;
  bool atomic;
  bool named;              /* a struct field (not a map key) */
  bool root;               /* a custom resource's top: metadata is ObjectMeta */
  const schema_type_t *t;  /* VT_STRUCT */
  const schema_field_t *f; /* VT_MAP, VT_LIST: the field */
  const cJSON *js;         /* JSON schema of this position (custom resources) */
} vtype_t;

static const vtype_t untyped = {VT_UNTYPED, false, false, false, NULL, NULL, NULL};

/* x-kubernetes-list-type, else what the patch strategy implies (as
 * kube-openapi's schema conversion does). */
static int list_rel(const schema_field_t *f, const char **ret_keys) {
  const char *keys = f->map_keys && f->map_keys[0] ? f->map_keys : f->merge_key;
  *ret_keys = NULL;
  switch (f->list_type) {
  case SCHEMA_LISTTYPE_ATOMIC:
    return LR_ATOMIC;
  case SCHEMA_LISTTYPE_SET:
    return LR_SET;
  case SCHEMA_LISTTYPE_MAP:
    if (!keys)
      return LR_ATOMIC;
    *ret_keys = keys;
    return LR_MAP;
  default:
    break;
  }
  if (f->patch & SCHEMA_PATCH_MERGE) {
    if (f->kind == SCHEMA_OBJECT && f->merge_key) {
      *ret_keys = f->merge_key;
      return LR_MAP;
    }
    if (f->kind != SCHEMA_OBJECT && f->kind != SCHEMA_RAW)
      return LR_SET;
  }
  return LR_ATOMIC;
}

static const char *js_str(const cJSON *js, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A custom resource list: atomic unless x-kubernetes-list-type says. */
static int js_list_rel(const cJSON *js) {
  const char *lt = js_str(js, "x-kubernetes-list-type");
  if (lt && !strcmp(lt, "set"))
    return LR_SET;
  if (lt && !strcmp(lt, "map") && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(js, "x-kubernetes-list-map-keys")) > 0)
    return LR_MAP;
  return LR_ATOMIC;
}

static int vt_list_rel(const vtype_t *lt) {
  const char *keys;
  return lt->f ? list_rel(lt->f, &keys) : js_list_rel(lt->js);
}

static vtype_t vt_js(const cJSON *js) {
  vtype_t v = untyped;
  if (!cJSON_IsObject(js))
    return v;
  v.js = js;
  const char *type = js_str(js, "type");
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(js, "properties");
  const cJSON *add = cJSON_GetObjectItemCaseSensitive(js, "additionalProperties");
  const char *mt = js_str(js, "x-kubernetes-map-type");
  if (type && !strcmp(type, "array")) {
    v.kind = VT_LIST;
    v.atomic = js_list_rel(js) == LR_ATOMIC;
  } else if (cJSON_IsObject(props) && props->child) {
    v.kind = VT_STRUCT;
    v.atomic = mt && !strcmp(mt, "atomic");
  } else if (cJSON_IsObject(add)) {
    v.kind = VT_MAP;
    v.atomic = mt && !strcmp(mt, "atomic");
  } else if (type && strcmp(type, "object")) {
    v.kind = VT_SCALAR;
  } else {
    v.js = NULL; /* preserve-unknown-fields or an open object: deduced */
  }
  return v;
}

static vtype_t vt_elem(const schema_field_t *f) {
  vtype_t v = {VT_SCALAR, false, false, false, NULL, NULL, NULL};
  if (f->kind == SCHEMA_OBJECT && f->type) {
    v.kind = VT_STRUCT;
    v.t = f->type;
    v.atomic = f->type->atomic;
  } else if (f->kind == SCHEMA_OBJECT || f->kind == SCHEMA_RAW) {
    v = untyped;
  }
  return v;
}

static vtype_t vt_field(const schema_field_t *f) {
  if (!f)
    return untyped;
  if (f->container == SCHEMA_LIST) {
    const char *keys;
    vtype_t v = {VT_LIST, list_rel(f, &keys) == LR_ATOMIC, false, false, NULL, f, NULL};
    return v;
  }
  if (f->container == SCHEMA_MAP) {
    vtype_t v = {VT_MAP, f->list_type == SCHEMA_LISTTYPE_ATOMIC, false, false, NULL, f, NULL};
    return v;
  }
  return vt_elem(f);
}

/* The type of member name of an object of type vt (.named when it is a
 * struct field); *ret_f is the built-in schema's field, if any. */
static vtype_t vt_child(const vtype_t *vt, const char *name, const schema_field_t **ret_f) {
  *ret_f = NULL;
  vtype_t v = untyped;
  if (vt->root && !strcmp(name, "metadata")) {
    v.kind = VT_STRUCT;
    v.t = schema_type_find("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    v.named = true;
    if (!v.t)
      v = untyped;
  } else if (vt->kind == VT_STRUCT && vt->t) {
    const schema_field_t *f = schema_field_find(vt->t, name);
    if (f && f->name[0]) {
      *ret_f = f;
      v = vt_field(f);
      v.named = true;
    }
  } else if (vt->kind == VT_STRUCT && vt->js) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(vt->js, "properties"), name);
    if (p) {
      v = vt_js(p);
      v.named = true;
    }
  } else if (vt->kind == VT_MAP && vt->f) {
    v = vt_elem(vt->f);
  } else if (vt->kind == VT_MAP && vt->js) {
    v = vt_js(cJSON_GetObjectItemCaseSensitive(vt->js, "additionalProperties"));
  }
  return v;
}

static vtype_t vt_item(const vtype_t *vt) {
  if (vt->kind != VT_LIST)
    return untyped;
  if (vt->f)
    return vt_elem(vt->f);
  return vt_js(cJSON_GetObjectItemCaseSensitive(vt->js, "items"));
}

static bool vt_mapish(const vtype_t *vt) {
  return vt->kind == VT_STRUCT || vt->kind == VT_MAP || vt->kind == VT_UNTYPED;
}

/* ---- path elements ---- */

typedef struct {
  char msg[512];
  bool failed;
} err_t;

/* "f:" + name into b (reset first). */
static void pe_field(buf_t *b, const char *name) {
  buf_reset(b);
  buf_append(b, "f:", 2);
  buf_append_str(b, name);
}

static int name_cmp(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The path element of a list item: k:{...} for keyed lists (missing key
 * fields take their schema default), v:... for sets. */
static int pe_item(const vtype_t *lt, const cJSON *item, buf_t *b, err_t *e) {
  int rel = vt_list_rel(lt);
  buf_reset(b);
  if (rel == LR_SET) {
    if (cJSON_IsObject(item) || cJSON_IsArray(item) || cJSON_IsNull(item)) {
      snprintf(e->msg, sizeof(e->msg), "%s",
               cJSON_IsObject(item) ? "associative list without keys has an element that's a map type"
               : cJSON_IsArray(item) ? "not supported: associative list with lists as elements"
                                     : "associative list without keys has an element that's an explicit null");
      return -EINVAL;
    }
    buf_append(b, "v:", 2);
    return api_fieldset_write_value(b, item);
  }
  if (!cJSON_IsObject(item)) {
    snprintf(e->msg, sizeof(e->msg), "%s",
             cJSON_IsNull(item) ? "associative list with keys may not have a null element"
                                : "associative list with keys may not have non-map elements");
    return -EINVAL;
  }
  /* key names, sorted (few): "a,b" from the built-in schema, a JSON array
   * for custom resources */
  char namebuf[8][128];
  const char *names[8];
  size_t n = 0;
  const char *keys = NULL;
  if (lt->f) {
    list_rel(lt->f, &keys);
    for (const char *p = keys ? keys : ""; *p && n < 8;) {
      size_t len = strcspn(p, ",");
      snprintf(namebuf[n], sizeof(namebuf[n]), "%.*s", (int)len, p);
      names[n] = namebuf[n];
      n++;
      p += len + (p[len] == ',');
    }
  } else {
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(lt->js, "x-kubernetes-list-map-keys")) {
      if (cJSON_IsString(k) && n < 8)
        names[n++] = k->valuestring;
    }
  }
  qsort(names, n, sizeof(names[0]), name_cmp);
  const schema_type_t *et = lt->f ? lt->f->type : NULL;
  const cJSON *eprops = lt->f ? NULL
                              : cJSON_GetObjectItemCaseSensitive(
                                    cJSON_GetObjectItemCaseSensitive(lt->js, "items"), "properties");
  buf_append(b, "k:{", 3);
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = names[i];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    const schema_field_t *kf = et ? schema_field_find(et, name) : NULL;
    const cJSON *jdef = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(eprops, name), "default");
    if (!v && !(kf && kf->default_json) && !jdef)
      continue;
    if (found++)
      buf_append(b, ",", 1);
    cJSON nm = {0};
    nm.type = cJSON_String;
    nm.valuestring = (char *)name;
    api_fieldset_write_value(b, &nm);
    buf_append(b, ":", 1);
    if (v)
      api_fieldset_write_value(b, v);
    else if (kf && kf->default_json)
      buf_append_str(b, kf->default_json);
    else
      api_fieldset_write_value(b, jdef);
  }
  if (!found) {
    buf_t q;
    buf_init(&q, 4096);
    for (size_t i = 0; i < n; i++)
      buf_printf(&q, "%s\"%s\"", i ? " " : "", names[i]);
    snprintf(e->msg, sizeof(e->msg),
             "associative list with keys has an element that omits all key fields [%s] (and "
             "doesn't have default values for any key fields)",
             q.data ? q.data : "");
    buf_done(&q);
    return -EINVAL;
  }
  return buf_append(b, "}", 1);
}

/* The path elements of every item of a list; caller frees with pes_free. */
typedef struct {
  char **pe;
  size_t *len;
  const cJSON **item;
  size_t n;
} pes_t;

static void pes_free(pes_t *p) {
  for (size_t i = 0; i < p->n; i++)
    free(p->pe[i]);
  free(p->pe);
  free(p->len);
  free(p->item);
  memset(p, 0, sizeof(*p));
}

static int pes_of(const vtype_t *lt, const cJSON *list, pes_t *ret, err_t *e) {
  size_t n = 0;
  for (const cJSON *c = list ? list->child : NULL; c; c = c->next)
    n++;
  pes_t p = {xcalloc(n + 1, sizeof(char *)), xcalloc(n + 1, sizeof(size_t)),
             xcalloc(n + 1, sizeof(cJSON *)), 0};
  buf_t b;
  buf_init(&b, PE_LIMIT);
  int r = 0;
  size_t i = 0;
  for (const cJSON *c = list ? list->child : NULL; c; c = c->next, i++) {
    if ((r = pe_item(lt, c, &b, e)) < 0) {
      char tmp[sizeof(e->msg)];
      memcpy(tmp, e->msg, sizeof(tmp));
      int k = snprintf(e->msg, sizeof(e->msg), "element %zu: ", i);
      if (k > 0 && (size_t)k < sizeof(e->msg))
        snprintf(e->msg + k, sizeof(e->msg) - (size_t)k, "%.*s", (int)(sizeof(e->msg) - (size_t)k - 1), tmp);
      e->failed = true;
      break;
    }
    p.pe[p.n] = buf_steal(&b, &p.len[p.n]);
    p.item[p.n++] = c;
  }
  buf_done(&b);
  if (r < 0) {
    pes_free(&p);
    return r;
  }
  *ret = p;
  return 0;
}

/* ---- ToFieldSet ---- */

static void tofs(const cJSON *v, const vtype_t *vt, api_fieldset_t *node, int depth, err_t *e);

static void tofs_list(const cJSON *v, const vtype_t *vt, api_fieldset_t *node, int depth,
                      err_t *e) {
  pes_t p;
  if (pes_of(vt, v, &p, e) < 0)
    return;
  smap_t seen;
  smap_init(&seen, p.n);
  char *dup = xcalloc(p.n + 1, 1);
  for (size_t i = 0; i < p.n; i++) {
    long first = smap_put(&seen, p.pe[i], p.len[i], (long)i);
    if (first >= 0)
      dup[first] = dup[i] = 1;
  }
  vtype_t et = vt_item(vt);
  for (size_t i = 0; i < p.n; i++) {
    api_fieldset_t *c = api_fieldset_child(node, p.pe[i], p.len[i], true);
    if (!dup[i])
      tofs(p.item[i], &et, c, depth + 1, e);
    api_fieldset_set_member(c, true);
  }
  free(dup);
  smap_done(&seen);
  pes_free(&p);
}

static void tofs(const cJSON *v, const vtype_t *vt, api_fieldset_t *node, int depth, err_t *e) {
  if (depth > MAX_DEPTH) {
    api_fieldset_set_member(node, true);
    return;
  }
  if (cJSON_IsObject(v) && vt_mapish(vt)) {
    if (vt->atomic) {
      api_fieldset_set_member(node, true);
      return;
    }
    buf_t b;
    buf_init(&b, PE_LIMIT);
    for (const cJSON *c = v->child; c; c = c->next) {
      const schema_field_t *sf;
      vtype_t cvt = vt_child(vt, c->string, &sf);
      pe_field(&b, c->string);
      api_fieldset_t *n2 = api_fieldset_child(node, b.data, b.len, true);
      tofs(c, &cvt, n2, depth + 1, e);
      if (cJSON_IsNull(c) || (cJSON_IsObject(c) && !c->child) || !cvt.named)
        api_fieldset_set_member(n2, true);
      if (!api_fieldset_is_member(n2) && !api_fieldset_count(n2))
        api_fieldset_remove(node, b.data, b.len);
    }
    buf_done(&b);
    return;
  }
  if (cJSON_IsArray(v) && vt->kind == VT_LIST) {
    if (vt->atomic)
      api_fieldset_set_member(node, true);
    else
      tofs_list(v, vt, node, depth, e);
    return;
  }
  api_fieldset_set_member(node, true);
}

static api_fieldset_t *fieldset_of(const cJSON *v, const vtype_t *vt, err_t *e) {
  api_fieldset_t *s = api_fieldset_new();
  tofs(v, vt, s, 0, e);
  api_fieldset_prune(s);
  return s;
}

/* EnsureNamedFieldsAreMembers: struct fields with children become members. */
static void ensure_named_into(api_fieldset_t *dst, const api_fieldset_t *src, const vtype_t *vt,
                              int depth) {
  if (depth > MAX_DEPTH)
    return;
  for (size_t i = 0; i < api_fieldset_count(src); i++) {
    const api_fieldset_t *k = api_fieldset_at(src, i);
    if (!k)
      continue;
    const char *pe = api_fieldset_pe(k);
    const schema_field_t *sf = NULL;
    vtype_t cvt = pe[0] == 'f' ? vt_child(vt, pe + 2, &sf) : vt_item(vt);
    api_fieldset_t *d = api_fieldset_child(dst, pe, strlen(pe), true);
    if (api_fieldset_is_member(k) || (cvt.named && api_fieldset_count(k)))
      api_fieldset_set_member(d, true);
    ensure_named_into(d, k, &cvt, depth + 1);
  }
}

static api_fieldset_t *ensure_named(const api_fieldset_t *s, const vtype_t *vt) {
  api_fieldset_t *d = api_fieldset_new();
  ensure_named_into(d, s, vt, 0);
  api_fieldset_prune(d);
  return d;
}

/* ---- RemoveItems ---- */

/* v without the items of set; NULL when nothing is left (upstream's nil). */
static cJSON *remove_items(const cJSON *v, const api_fieldset_t *set, const vtype_t *vt, int depth,
                           err_t *e) {
  if (depth > MAX_DEPTH)
    return cJSON_Duplicate(v, 1);
  if (cJSON_IsObject(v) && vt_mapish(vt)) {
    if (!v->child || vt->atomic)
      return NULL;
    cJSON *out = cJSON_CreateObject();
    buf_t b;
    buf_init(&b, PE_LIMIT);
    for (const cJSON *c = v->child; c; c = c->next) {
      pe_field(&b, c->string);
      const api_fieldset_t *n = api_fieldset_get(set, b.data, b.len);
      if (api_fieldset_is_member(n))
        continue;
      cJSON *keep;
      if (n && api_fieldset_count(n)) {
        const schema_field_t *sf;
        vtype_t cvt = vt_child(vt, c->string, &sf);
        keep = remove_items(c, n, &cvt, depth + 1, e);
        /* Go keeps a non-pointer struct as {}; nil maps, lists, pointers go */
        if (!keep && sf && sf->kind == SCHEMA_OBJECT && sf->container == SCHEMA_ONE && !sf->pointer)
          keep = cJSON_CreateObject();
        if (!keep)
          continue;
      } else {
        keep = cJSON_Duplicate(c, 1);
      }
      cJSON_AddItemToObject(out, c->string, keep);
    }
    buf_done(&b);
    if (!out->child) {
      cJSON_Delete(out);
      return NULL;
    }
    return out;
  }
  if (cJSON_IsArray(v) && vt->kind == VT_LIST) {
    if (!v->child || vt->atomic)
      return NULL;
    pes_t p;
    if (pes_of(vt, v, &p, e) < 0)
      return cJSON_Duplicate(v, 1);
    vtype_t et = vt_item(vt);
    cJSON *out = cJSON_CreateArray();
    for (size_t i = 0; i < p.n; i++) {
      const api_fieldset_t *n = api_fieldset_get(set, p.pe[i], p.len[i]);
      if (api_fieldset_is_member(n))
        continue;
      cJSON *keep = NULL;
      if (n && api_fieldset_count(n)) {
        keep = remove_items(p.item[i], n, &et, depth + 1, e);
        if (!keep)
          keep = cJSON_CreateObject();
      } else {
        keep = cJSON_Duplicate(p.item[i], 1);
      }
      cJSON_AddItemToArray(out, keep);
    }
    pes_free(&p);
    if (!out->child) {
      cJSON_Delete(out);
      return NULL;
    }
    return out;
  }
  return cJSON_Duplicate(v, 1);
}

static cJSON *remove_root(const cJSON *v, const api_fieldset_t *set, const vtype_t *vt, err_t *e) {
  cJSON *o = remove_items(v, set, vt, 0, e);
  return o ? o : cJSON_CreateObject();
}

/* ---- Merge ---- */

static cJSON *merge(const cJSON *l, const cJSON *r, const vtype_t *vt, int depth, err_t *e);

static cJSON *merge_list(const cJSON *l, const cJSON *r, const vtype_t *vt, int depth, err_t *e) {
  pes_t lp = {0}, rp = {0};
  cJSON *out = NULL;
  if (pes_of(vt, r, &rp, e) < 0 || pes_of(vt, l, &lp, e) < 0)
    goto fail;
  smap_t obs_r, obs_l, merged_r;
  smap_init(&obs_r, rp.n);
  smap_init(&obs_l, lp.n);
  smap_init(&merged_r, rp.n);
  for (size_t i = 0; i < rp.n; i++)
    if (smap_put(&obs_r, rp.pe[i], rp.len[i], (long)i) >= 0) {
      snprintf(e->msg, sizeof(e->msg), "duplicate entries for key %s", rp.pe[i]);
      e->failed = true;
    }
  /* lhs: index of the one item with that key; -2 when duplicated */
  for (size_t i = 0; i < lp.n; i++) {
    long first = smap_put(&obs_l, lp.pe[i], lp.len[i], (long)i);
    if (first >= 0) {
      uint32_t h = shash(lp.pe[i], lp.len[i]);
      for (size_t j = h & (obs_l.cap - 1);; j = (j + 1) & (obs_l.cap - 1))
        if (obs_l.e[j].key && obs_l.e[j].len == lp.len[i] && !memcmp(obs_l.e[j].key, lp.pe[i], lp.len[i])) {
          obs_l.e[j].val = -2;
          break;
        }
    }
  }
  if (e->failed)
    goto done;
  /* rhs keys also in lhs, in rhs order */
  size_t *shared = xcalloc(rp.n + 1, sizeof(size_t)), nshared = 0, sh = 0;
  for (size_t i = 0; i < rp.n; i++)
    if (smap_get(&obs_l, rp.pe[i], rp.len[i]) != -1)
      shared[nshared++] = i;
  long next = nshared ? (long)shared[sh++] : -1; /* rhs index of the next shared key */
  vtype_t et = vt_item(vt);
  out = cJSON_CreateArray();
#define LCHILD(pe, len)                                                                     \
  ({                                                                                        \
    long li_ = smap_get(&obs_l, pe, len);                                                   \
    li_ >= 0 ? lp.item[li_] : NULL;                                                         \
  })
  size_t lI = 0, rI = 0;
  while (lI < lp.n || rI < rp.n) {
    if (lI < lp.n && rI < rp.n) {
      if (lp.len[lI] == rp.len[rI] && !memcmp(lp.pe[lI], rp.pe[rI], lp.len[lI])) {
        smap_put(&merged_r, rp.pe[rI], rp.len[rI], 1);
        cJSON *m = merge(LCHILD(lp.pe[lI], lp.len[lI]), rp.item[rI], &et, depth + 1, e);
        if (m)
          cJSON_AddItemToArray(out, m);
        lI++, rI++;
        next = sh < nshared ? (long)shared[sh++] : -1;
        continue;
      }
      if (smap_get(&obs_r, lp.pe[lI], lp.len[lI]) >= 0 && next >= 0 &&
          !(rp.len[next] == lp.len[lI] && !memcmp(rp.pe[next], lp.pe[lI], lp.len[lI]))) {
        lI++;
        continue;
      }
    }
    if (lI < lp.n) {
      if (smap_get(&obs_r, lp.pe[lI], lp.len[lI]) < 0) {
        cJSON_AddItemToArray(out, cJSON_Duplicate(lp.item[lI], 1));
        lI++;
        continue;
      } else if (smap_get(&merged_r, lp.pe[lI], lp.len[lI]) >= 0) {
        lI++;
      }
    }
    if (rI < rp.n) {
      smap_put(&merged_r, rp.pe[rI], rp.len[rI], 1);
      cJSON *m = merge(LCHILD(rp.pe[rI], rp.len[rI]), rp.item[rI], &et, depth + 1, e);
      if (m)
        cJSON_AddItemToArray(out, m);
      if (next >= 0 && rp.len[next] == rp.len[rI] && !memcmp(rp.pe[next], rp.pe[rI], rp.len[rI]))
        next = sh < nshared ? (long)shared[sh++] : -1;
      rI++;
    }
  }
#undef LCHILD
  free(shared);
done:
  smap_done(&obs_r);
  smap_done(&obs_l);
  smap_done(&merged_r);
fail:
  pes_free(&lp);
  pes_free(&rp);
  if (e->failed) {
    cJSON_Delete(out);
    return NULL;
  }
  if (out && !out->child) {
    cJSON_Delete(out);
    return NULL;
  }
  return out;
}

/* Merge r (the applied configuration) over l (live), ruleKeepRHS: r's
 * leaves win, nothing is removed, list order as upstream. NULL = absent. */
static cJSON *merge(const cJSON *l, const cJSON *r, const vtype_t *vt, int depth, err_t *e) {
  if (!r)
    return l ? cJSON_Duplicate(l, 1) : NULL;
  if (!l || depth > MAX_DEPTH)
    return cJSON_Duplicate(r, 1);
  if (vt_mapish(vt) && cJSON_IsObject(l) && (cJSON_IsObject(r) || cJSON_IsNull(r))) {
    if (cJSON_IsNull(r) || !r->child)
      return cJSON_Duplicate(!l->child ? r : l, 1);
    if (vt->atomic || !l->child)
      return cJSON_Duplicate(r, 1);
    oindex_t li, ri;
    oindex_init(&li, l);
    oindex_init(&ri, r);
    cJSON *out = cJSON_CreateObject();
    for (const cJSON *c = l->child; c; c = c->next) {
      const schema_field_t *sf;
      vtype_t cvt = vt_child(vt, c->string, &sf);
      cJSON *m = merge(c, oindex_get(&ri, c->string), &cvt, depth + 1, e);
      if (m)
        cJSON_AddItemToObject(out, c->string, m);
    }
    for (const cJSON *c = r->child; c; c = c->next) {
      if (oindex_get(&li, c->string))
        continue;
      cJSON_AddItemToObject(out, c->string, cJSON_Duplicate(c, 1));
    }
    oindex_done(&li);
    oindex_done(&ri);
    return out;
  }
  if (vt->kind == VT_LIST && !vt->atomic && cJSON_IsArray(l) && cJSON_IsArray(r) &&
      (l->child || r->child)) {
    cJSON *m = merge_list(l, r, vt, depth, e);
    return m ? m : cJSON_Duplicate(r, 1);
  }
  return cJSON_Duplicate(r, 1);
}

/* Go drops a null given for a field of a built-in type: so does apply. */
static void drop_nulls(cJSON *v, const vtype_t *vt, int depth) {
  if (depth > MAX_DEPTH)
    return;
  if (cJSON_IsObject(v) && vt_mapish(vt)) {
    cJSON *c = v->child;
    while (c) {
      cJSON *next = c->next;
      const schema_field_t *sf;
      vtype_t cvt = vt_child(vt, c->string, &sf);
      if (cJSON_IsNull(c) && sf)
        cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
      else
        drop_nulls(c, &cvt, depth + 1);
      c = next;
    }
  } else if (cJSON_IsArray(v) && vt->kind == VT_LIST) {
    vtype_t et = vt_item(vt);
    for (cJSON *c = v->child; c; c = c->next)
      drop_nulls(c, &et, depth + 1);
  }
}

/* ---- Compare ---- */

typedef struct {
  api_fieldset_t *added, *modified, *removed;
  const char *path[MAX_DEPTH + 2];
  size_t plen[MAX_DEPTH + 2];
  int depth;
  err_t *e;
  buf_t pe[MAX_DEPTH + 2]; /* the "f:name" of each level, reused */
} cmp_t;

static void cmp_insert(cmp_t *c, api_fieldset_t *set) {
  api_fieldset_t *n = set;
  for (int i = 0; i < c->depth; i++)
    n = api_fieldset_child(n, c->path[i], c->plen[i], true);
  api_fieldset_set_member(n, true);
}

static cJSON empty_object = {.type = cJSON_Object};
static cJSON null_value = {.type = cJSON_NULL};

/* Upstream compares Go objects turned into JSON: a non-pointer struct field
 * is always there ({}), a list or map without omitempty is null. Stand in
 * for those where k3c's stored JSON leaves them out. */
static const cJSON *implicit(const schema_field_t *sf) {
  if (!sf)
    return NULL;
  if (sf->kind == SCHEMA_OBJECT && sf->container == SCHEMA_ONE && !sf->pointer)
    return &empty_object;
  if (sf->container != SCHEMA_ONE && (sf->keep_zero || sf->required))
    return &null_value;
  return NULL;
}

static void compare(cmp_t *c, const cJSON *l, const cJSON *r, const vtype_t *vt);

static void cmp_leaf(cmp_t *c, const cJSON *l, const cJSON *r) {
  if (!l)
    cmp_insert(c, c->added);
  else if (!r)
    cmp_insert(c, c->removed);
  else if (!json_equal(l, r, 0))
    cmp_insert(c, c->modified);
}

static void cmp_push(cmp_t *c, const char *pe, size_t len) {
  c->path[c->depth] = pe;
  c->plen[c->depth] = len;
  c->depth++;
}

/* returns true when it handled the node as a leaf */
static bool cmp_map(cmp_t *c, const cJSON *l, const cJSON *r, const vtype_t *vt) {
  const cJSON *lm = cJSON_IsObject(l) ? l : NULL, *rm = cJSON_IsObject(r) ? r : NULL;
  if (vt->atomic || ((!lm || !lm->child) && (!rm || !rm->child))) {
    cmp_leaf(c, l, r);
    return true;
  }
  oindex_t li, ri;
  oindex_init(&li, lm);
  oindex_init(&ri, rm);
  for (int side = 0; side < 2; side++) {
    const cJSON *src = side ? rm : lm;
    for (const cJSON *x = src ? src->child : NULL; x; x = x->next) {
      if (side && oindex_get(&li, x->string))
        continue;
      const schema_field_t *sf;
      vtype_t cvt = vt_child(vt, x->string, &sf);
      const cJSON *lv = side ? NULL : x, *rv = side ? x : oindex_get(&ri, x->string);
      if (!lv && lm)
        lv = implicit(vt->kind == VT_STRUCT ? sf : NULL);
      if (!rv && rm)
        rv = implicit(vt->kind == VT_STRUCT ? sf : NULL);
      buf_t *pb = &c->pe[c->depth];
      pe_field(pb, x->string);
      cmp_push(c, pb->data, pb->len);
      compare(c, lv, rv, &cvt);
      c->depth--;
    }
  }
  oindex_done(&li);
  oindex_done(&ri);
  return false;
}

typedef struct {
  long first, count;
} slot_t;

static bool cmp_list(cmp_t *c, const cJSON *l, const cJSON *r, const vtype_t *vt) {
  const cJSON *la = cJSON_IsArray(l) ? l : NULL, *ra = cJSON_IsArray(r) ? r : NULL;
  if (vt->atomic || ((!la || !la->child) && (!ra || !ra->child))) {
    cmp_leaf(c, l, r);
    return true;
  }
  pes_t lp = {0}, rp = {0};
  err_t e2 = {0};
  if (pes_of(vt, la, &lp, &e2) < 0 || pes_of(vt, ra, &rp, &e2) < 0) {
    pes_free(&lp);
    pes_free(&rp);
    cmp_leaf(c, l, r);
    return true;
  }
  smap_t lm, rm;
  smap_init(&lm, lp.n);
  smap_init(&rm, rp.n);
  /* for each key: first index and count on each side; next[] chains duplicates */
  long *lnext = xmalloc((lp.n + 1) * sizeof(long)), *rnext = xmalloc((rp.n + 1) * sizeof(long));
  long *lfirst = xmalloc((lp.n + 1) * sizeof(long)), *rfirst = xmalloc((rp.n + 1) * sizeof(long));
  size_t *order = xmalloc((lp.n + rp.n + 1) * sizeof(size_t)); /* encoded: side<<63 | idx */
  size_t norder = 0;
  long *lcount = xcalloc(lp.n + 1, sizeof(long)), *rcount = xcalloc(rp.n + 1, sizeof(long));
  long *llast = xmalloc((lp.n + 1) * sizeof(long)), *rlast = xmalloc((rp.n + 1) * sizeof(long));
  for (size_t i = 0; i < lp.n; i++) {
    lnext[i] = -1;
    long f = smap_put(&lm, lp.pe[i], lp.len[i], (long)i);
    if (f < 0) {
      lfirst[i] = (long)i, lcount[i] = 1, llast[i] = (long)i;
      order[norder++] = i;
    } else {
      lnext[llast[f]] = (long)i, llast[f] = (long)i, lcount[f]++;
    }
  }
  for (size_t i = 0; i < rp.n; i++) {
    rnext[i] = -1;
    long f = smap_put(&rm, rp.pe[i], rp.len[i], (long)i);
    if (f < 0) {
      rfirst[i] = (long)i, rcount[i] = 1, rlast[i] = (long)i;
      if (smap_get(&lm, rp.pe[i], rp.len[i]) < 0)
        order[norder++] = ORDER_RIGHT | i;
    } else {
      rnext[rlast[f]] = (long)i, rlast[f] = (long)i, rcount[f]++;
    }
  }
  (void)lfirst;
  (void)rfirst;
  vtype_t et = vt_item(vt);
  for (size_t k = 0; k < norder; k++) {
    bool right = (order[k] & ORDER_RIGHT) != 0;
    size_t idx = order[k] & ~ORDER_RIGHT;
    const char *pe = right ? rp.pe[idx] : lp.pe[idx];
    size_t len = right ? rp.len[idx] : lp.len[idx];
    long li = smap_get(&lm, pe, len), ri = smap_get(&rm, pe, len);
    long nl = li >= 0 ? lcount[li] : 0, nr = ri >= 0 ? rcount[ri] : 0;
    const cJSON *lv = li >= 0 ? lp.item[li] : NULL, *rv = ri >= 0 ? rp.item[ri] : NULL;
    cmp_push(c, pe, len);
    if (nl <= 1 && nr <= 1) {
      compare(c, lv, rv, &et);
    } else if (nl >= 2 && nr >= 2) {
      bool eq = nl == nr;
      for (long x = li, y = ri; eq && x >= 0 && y >= 0; x = lnext[x], y = rnext[y])
        eq = json_equal(lp.item[x], rp.item[y], 0);
      if (!eq)
        cmp_insert(c, c->modified);
    } else if (nl >= 2) {
      if (nr)
        compare(c, NULL, rv, &et);
      cmp_insert(c, c->removed);
    } else {
      if (nl)
        compare(c, lv, NULL, &et);
      cmp_insert(c, c->added);
    }
    c->depth--;
  }
  free(lnext), free(rnext), free(lfirst), free(rfirst), free(order);
  free(lcount), free(rcount), free(llast), free(rlast);
  smap_done(&lm);
  smap_done(&rm);
  pes_free(&lp);
  pes_free(&rp);
  return false;
}

static void compare(cmp_t *c, const cJSON *l, const cJSON *r, const vtype_t *vt) {
  if (c->depth >= MAX_DEPTH) {
    cmp_leaf(c, l, r);
    return;
  }
  bool leaf;
  bool lobj = !l || cJSON_IsObject(l) || cJSON_IsNull(l), robj = !r || cJSON_IsObject(r) || cJSON_IsNull(r);
  bool larr = !l || cJSON_IsArray(l) || cJSON_IsNull(l), rarr = !r || cJSON_IsArray(r) || cJSON_IsNull(r);
  if (vt_mapish(vt) && lobj && robj && (cJSON_IsObject(l) || cJSON_IsObject(r)))
    leaf = cmp_map(c, l, r, vt);
  else if (vt->kind == VT_LIST && larr && rarr && (cJSON_IsArray(l) || cJSON_IsArray(r)))
    leaf = cmp_list(c, l, r, vt);
  else if (vt_mapish(vt) && cJSON_IsNull(l) && cJSON_IsNull(r))
    leaf = cmp_map(c, l, r, vt);
  else {
    cmp_leaf(c, l, r);
    leaf = true;
  }
  if (!leaf) {
    if (!l)
      cmp_insert(c, c->added);
    else if (!r)
      cmp_insert(c, c->removed);
  }
}

typedef struct {
  api_fieldset_t *added, *modified, *removed;
} comparison_t;

static void comparison_done(comparison_t *k) {
  api_fieldset_free(k->added);
  api_fieldset_free(k->modified);
  api_fieldset_free(k->removed);
}

/* ---- managers (decoded managedFields) ---- */

typedef struct {
  char *manager, *operation, *api_version, *subresource, *time; /* time may be NULL */
  api_fieldset_t *set;
} mentry_t;

typedef struct {
  mentry_t *e;
  size_t n, cap;
} managers_t;

static void managers_done(managers_t *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->e[i].manager);
    free(m->e[i].operation);
    free(m->e[i].api_version);
    free(m->e[i].subresource);
    free(m->e[i].time);
    api_fieldset_free(m->e[i].set);
  }
  free(m->e);
  memset(m, 0, sizeof(*m));
}

static bool is_apply(const mentry_t *e) { return !strcmp(e->operation, "Apply"); }

static bool same_id(const mentry_t *e, const char *manager, const char *op, const char *gv,
                    const char *sub) {
  if (strcmp(e->manager, manager) || strcmp(e->operation, op) || strcmp(e->subresource, sub))
    return false;
  return !strcmp(op, "Apply") || !strcmp(e->api_version, gv);
}

static long managers_find(const managers_t *m, const char *manager, const char *op, const char *gv,
                          const char *sub) {
  for (size_t i = 0; i < m->n; i++)
    if (same_id(&m->e[i], manager, op, gv, sub))
      return (long)i;
  return -1;
}

static mentry_t *managers_get(managers_t *m, const char *manager, const char *op, const char *gv,
                              const char *sub) {
  long i = managers_find(m, manager, op, gv, sub);
  if (i >= 0)
    return &m->e[i];
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 8;
    m->e = xrealloc(m->e, m->cap * sizeof(*m->e));
  }
  mentry_t *e = &m->e[m->n++];
  *e = (mentry_t){xstrdup(manager), xstrdup(op), xstrdup(gv), xstrdup(sub), NULL, api_fieldset_new()};
  return e;
}

static void managers_remove(managers_t *m, size_t i) {
  mentry_t e = m->e[i];
  free(e.manager), free(e.operation), free(e.api_version), free(e.subresource), free(e.time);
  api_fieldset_free(e.set);
  memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(*m->e));
  m->n--;
}

static void managers_drop_empty(managers_t *m) {
  for (size_t i = m->n; i-- > 0;)
    if (api_fieldset_empty(m->e[i].set))
      managers_remove(m, i);
}

/* [] and [{}] ask to clear managedFields. */
static bool is_reset(const cJSON *mf) {
  if (!cJSON_IsArray(mf))
    return false;
  if (!mf->child)
    return true;
  return !mf->child->next && cJSON_IsObject(mf->child) && !mf->child->child;
}

static int managers_decode(const cJSON *mf, managers_t *ret, char *err, size_t errlen) {
  managers_t m = {0};
  int i = 0;
  for (const cJSON *e = cJSON_IsArray(mf) ? mf->child : NULL; e; e = e->next, i++) {
    const char *op = obj_str(e, "operation"), *gv = obj_str(e, "apiVersion");
    const char *ft = obj_str(e, "fieldsType");
    if (!op || (strcmp(op, "Apply") && strcmp(op, "Update"))) {
      snprintf(err, errlen, "operation must be `Apply` or `Update`");
      goto fail;
    }
    if (!gv || !gv[0]) {
      snprintf(err, errlen, "apiVersion must not be empty");
      goto fail;
    }
    if (!ft || !ft[0]) {
      snprintf(err, errlen, "missing fieldsType in managed fields entry %d", i);
      goto fail;
    }
    if (strcmp(ft, "FieldsV1")) {
      snprintf(err, errlen, "invalid fieldsType \"%s\" in managed fields entry %d", ft, i);
      goto fail;
    }
    const char *mgr = obj_str(e, "manager"), *sub = obj_str(e, "subresource");
    api_fieldset_t *set = NULL;
    char ferr[200]; /* leaves room for the prefix in a 256-byte err */
    if (api_fieldset_from_json(cJSON_GetObjectItemCaseSensitive(e, "fieldsV1"), &set, ferr,
                               sizeof(ferr)) < 0) {
      snprintf(err, errlen, "error decoding versioned set: %s", ferr);
      goto fail;
    }
    mentry_t *me = managers_get(&m, mgr ? mgr : "", op, gv, sub ? sub : "");
    api_fieldset_free(me->set);
    me->set = set;
    free(me->api_version);
    me->api_version = xstrdup(gv);
    free(me->time);
    const char *t = obj_str(e, "time");
    me->time = t ? xstrdup(t) : NULL;
  }
  *ret = m;
  return 0;
fail:
  managers_done(&m);
  return -EINVAL;
}

static int entry_order(const void *x, const void *y) {
  const mentry_t *p = x, *q = y;
  int c = strcmp(p->operation, q->operation);
  if (c)
    return c;
  long long ps = p->time ? (long long)obj_time_parse(p->time) : 0;
  long long qs = q->time ? (long long)obj_time_parse(q->time) : 0;
  if (ps != qs)
    return ps < qs ? -1 : 1;
  if ((c = strcmp(p->manager, q->manager)))
    return c;
  if ((c = strcmp(p->api_version, q->api_version)))
    return c;
  return strcmp(p->subresource, q->subresource);
}

/* Write managedFields into obj (removed when there are none). */
static void managers_encode(managers_t *m, cJSON *obj) {
  cJSON *meta = obj_meta(obj);
  managers_drop_empty(m);
  if (!m->n) {
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
    return;
  }
  qsort(m->e, m->n, sizeof(*m->e), entry_order);
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < m->n; i++) {
    const mentry_t *e = &m->e[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "manager", e->manager);
    cJSON_AddStringToObject(o, "operation", e->operation);
    cJSON_AddStringToObject(o, "apiVersion", e->api_version);
    if (e->time)
      cJSON_AddStringToObject(o, "time", e->time);
    cJSON_AddStringToObject(o, "fieldsType", "FieldsV1");
    cJSON_AddItemToObject(o, "fieldsV1", api_fieldset_to_json(e->set));
    if (e->subresource[0])
      cJSON_AddStringToObject(o, "subresource", e->subresource);
    cJSON_AddItemToArray(arr, o);
  }
  obj_set(meta, "managedFields", arr);
}

static void touch(mentry_t *e) {
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  free(e->time);
  e->time = xstrdup(now);
}

/* Merge the oldest Update entries into "ancient-changes" once there are
 * more than ten (capmanagers.go). */
static int by_time(const void *x, const void *y) {
  const mentry_t *p = *(mentry_t *const *)x, *q = *(mentry_t *const *)y;
  long long ps = p->time ? (long long)obj_time_parse(p->time) : 0;
  long long qs = q->time ? (long long)obj_time_parse(q->time) : 0;
  if (ps != qs)
    return ps < qs ? -1 : 1;
  return strcmp(p->manager, q->manager);
}

static void managers_cap(managers_t *m) {
  size_t nup = 0;
  for (size_t i = 0; i < m->n; i++)
    nup += !is_apply(&m->e[i]);
  if (nup <= MAX_UPDATE_MANAGERS)
    return;
  mentry_t **ups = xmalloc(nup * sizeof(*ups));
  size_t k = 0;
  for (size_t i = 0; i < m->n; i++)
    if (!is_apply(&m->e[i]))
      ups[k++] = &m->e[i];
  qsort(ups, nup, sizeof(*ups), by_time);
  /* mark merges by manager name rewrite; merge sets into the first of each version */
  size_t length = nup;
  for (size_t i = 0; i < nup && length > MAX_UPDATE_MANAGERS; i++) {
    mentry_t *e = ups[i];
    mentry_t *first = NULL;
    bool seen = false;
    for (size_t j = 0; j < i; j++)
      if (ups[j] && !strcmp(ups[j]->api_version, e->api_version)) {
        seen = true;
        if (!first)
          first = ups[j];
      }
    if (!seen || e == first)
      continue;
    /* an existing bucket of that version takes precedence */
    for (size_t j = 0; j < m->n; j++)
      if (!is_apply(&m->e[j]) && !strcmp(m->e[j].manager, "ancient-changes") &&
          !strcmp(m->e[j].api_version, e->api_version) && &m->e[j] != e)
        first = &m->e[j];
    free(first->manager);
    first->manager = xstrdup("ancient-changes");
    api_fieldset_union(first->set, e->set);
    free(first->time);
    first->time = e->time ? xstrdup(e->time) : NULL;
    api_fieldset_free(e->set);
    e->set = api_fieldset_new(); /* dropped as empty below */
    ups[i] = NULL;
    length--;
  }
  free(ups);
  managers_drop_empty(m);
}

/* ---- what ownership covers ---- */

typedef struct {
  const api_resource_t *res;
  vtype_t vt;
  bool status; /* the status subresource: only status (and metadata) count */
} scope_t;

/* The fields a request may own: status only through its subresource
 * (upstream's reset fields). */
static void scope_filter(const scope_t *sc, api_fieldset_t *s) {
  if (!sc->res->has_status)
    return;
  if (!sc->status) {
    api_fieldset_remove(s, "f:status", 8);
    return;
  }
  for (size_t i = 0; i < api_fieldset_count(s); i++) {
    const api_fieldset_t *k = api_fieldset_at(s, i);
    if (!k)
      continue;
    const char *pe = api_fieldset_pe(k);
    if (strcmp(pe, "f:status") && strcmp(pe, "f:metadata")) {
      api_fieldset_remove(s, pe, strlen(pe));
      i = (size_t)-1; /* the remove may compact: start over (few root fields) */
    }
  }
}

/* stripmeta.go: never owned. */
static void strip_meta(api_fieldset_t *s) {
  static const char *const meta[] = {"name", "namespace", "creationTimestamp", "selfLink", "uid",
                                     "clusterName", "generation", "managedFields", "resourceVersion"};
  api_fieldset_t *n = api_fieldset_child(s, "f:apiVersion", 12, false);
  if (n)
    api_fieldset_set_member(n, false);
  if ((n = api_fieldset_child(s, "f:kind", 6, false)))
    api_fieldset_set_member(n, false);
  api_fieldset_t *m = api_fieldset_child(s, "f:metadata", 10, false);
  if (m) {
    api_fieldset_set_member(m, false);
    for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
      char pe[64];
      int len = snprintf(pe, sizeof(pe), "f:%s", meta[i]);
      api_fieldset_t *x = api_fieldset_child(m, pe, (size_t)len, false);
      if (x)
        api_fieldset_set_member(x, false);
    }
  }
  api_fieldset_prune(s);
}

static void compare_objects(const scope_t *sc, const cJSON *l, const cJSON *r, comparison_t *out) {
  err_t e = {0};
  cmp_t c = {.added = api_fieldset_new(), .modified = api_fieldset_new(),
             .removed = api_fieldset_new(), .e = &e};
  for (int i = 0; i < MAX_DEPTH + 2; i++)
    buf_init(&c.pe[i], PE_LIMIT);
  compare(&c, l ? l : &empty_object, r ? r : &empty_object, &sc->vt);
  for (int i = 0; i < MAX_DEPTH + 2; i++)
    buf_done(&c.pe[i]);
  api_fieldset_t *sets[] = {c.added, c.modified, c.removed};
  for (int i = 0; i < 3; i++) {
    /* managedFields is not a field anyone owns */
    api_fieldset_t *m = api_fieldset_child(sets[i], "f:metadata", 10, false);
    if (m)
      api_fieldset_remove(m, "f:managedFields", 15);
    scope_filter(sc, sets[i]);
    api_fieldset_prune(sets[i]);
  }
  out->added = c.added;
  out->modified = c.modified;
  out->removed = c.removed;
}

typedef struct {
  size_t idx; /* into managers */
  api_fieldset_t *set;
} conflict_t;

/* merge/update.go update(): take what changed from other managers, or
 * report conflicts (unless force). workflow is the entry that made the
 * change (-1: none yet). Returns 0, or -EBUSY with *ret_conflicts. */
static int smd_update(const scope_t *sc, managers_t *m, const cJSON *l, const cJSON *r, long workflow,
                      bool force, comparison_t *ret_cmp, conflict_t **ret_conflicts, size_t *ret_n) {
  comparison_t k;
  compare_objects(sc, l, r, &k);
  api_fieldset_t *changed = api_fieldset_copy(k.added);
  api_fieldset_union(changed, k.modified);
  conflict_t *cs = xcalloc(m->n + 1, sizeof(*cs));
  size_t ncs = 0;
  for (size_t i = 0; i < m->n; i++) {
    if ((long)i == workflow)
      continue;
    api_fieldset_t *x = api_fieldset_intersect(m->e[i].set, changed);
    if (api_fieldset_empty(x)) {
      api_fieldset_free(x);
      continue;
    }
    cs[ncs++] = (conflict_t){i, x};
  }
  api_fieldset_free(changed);
  if (!force && ncs) {
    *ret_conflicts = cs;
    *ret_n = ncs;
    comparison_done(&k);
    return -EBUSY;
  }
  for (size_t j = 0; j < ncs; j++) {
    api_fieldset_subtract(m->e[cs[j].idx].set, cs[j].set);
    api_fieldset_free(cs[j].set);
  }
  free(cs);
  for (size_t i = 0; i < m->n; i++)
    if ((long)i != workflow)
      api_fieldset_subtract(m->e[i].set, k.removed);
  if (ret_cmp)
    *ret_cmp = k;
  else
    comparison_done(&k);
  return 0;
}

/* An Update by manager: the fields it changed become its own. */
static void record_update(const scope_t *sc, managers_t *m, const cJSON *old, const cJSON *now,
                          const char *manager, const char *sub) {
  comparison_t k;
  smd_update(sc, m, old, now, -1, true, &k, NULL, NULL);
  api_fieldset_t *self = api_fieldset_copy(k.added);
  api_fieldset_union(self, k.modified);
  api_fieldset_subtract(self, k.removed);
  comparison_done(&k);
  strip_meta(self);
  if (!api_fieldset_empty(self)) {
    mentry_t *e = managers_get(m, manager, "Update", sc->res->group_version, sub);
    api_fieldset_union(e->set, self);
    touch(e);
  }
  api_fieldset_free(self);
}

static scope_t scope_of(const api_resource_t *res, const char *sub) {
  scope_t sc = {.res = res, .vt = untyped, .status = sub && !strcmp(sub, "status")};
  if (res->s->type) {
    sc.vt.kind = VT_STRUCT;
    sc.vt.t = res->s->type;
  } else if (res->s->json_schema) {
    sc.vt = vt_js(res->s->json_schema);
    if (sc.vt.kind != VT_STRUCT)
      sc.vt = untyped;
    sc.vt.root = true;
  }
  return sc;
}

void api_managed_update(const api_resource_t *res, cJSON *obj, const cJSON *old,
                        const char *manager, const char *subresource) {
  scope_t sc = scope_of(res, subresource);
  managers_t m = {0};
  char err[256];
  cJSON *meta = obj_meta(obj);
  const cJSON *sent = cJSON_GetObjectItemCaseSensitive(meta, "managedFields");
  const cJSON *live_mf = old ? obj_get(old, "metadata.managedFields") : NULL;
  /* fieldmanager.go decodeLiveOrNew: the request's managedFields unless a
   * subresource, empty or undecodable; [] or [{}] clear them. */
  if (subresource[0] || !sent || cJSON_IsNull(sent)) {
    if (managers_decode(live_mf, &m, err, sizeof(err)) < 0)
      memset(&m, 0, sizeof(m));
  } else if (is_reset(sent)) {
    /* start empty */
  } else if (managers_decode(sent, &m, err, sizeof(err)) < 0 || !m.n) {
    managers_done(&m);
    if (managers_decode(live_mf, &m, err, sizeof(err)) < 0)
      memset(&m, 0, sizeof(m));
  }
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
  /* skipnonapplied.go: an object whose fields nobody tracks stays so
   * until it is applied */
  if (!m.n && old)
    goto out;
  {
    cJSON *o2 = old ? cJSON_Duplicate(old, 1) : NULL;
    if (o2)
      cJSON_DeleteItemFromObjectCaseSensitive(obj_meta(o2), "managedFields");
    record_update(&sc, &m, o2, obj, manager, subresource);
    cJSON_Delete(o2);
  }
  managers_cap(&m);
  managers_encode(&m, obj);
out:
  managers_done(&m);
}

/* ---- Apply ---- */

/* prune (merge/update.go): drop what the applier applied last time and
 * nobody manages now. */
static cJSON *prune(const scope_t *sc, cJSON *merged, const managers_t *m, const api_fieldset_t *last,
                    err_t *e) {
  if (!last || api_fieldset_empty(last))
    return merged;
  const vtype_t *vt = &sc->vt;
  api_fieldset_t *managed = api_fieldset_new();
  for (size_t i = 0; i < m->n; i++)
    api_fieldset_union(managed, m->e[i].set);
  /* nothing given up that nobody else holds: nothing to remove */
  api_fieldset_t *dropped = api_fieldset_copy(last);
  api_fieldset_subtract(dropped, managed);
  bool none = api_fieldset_empty(dropped);
  api_fieldset_free(dropped);
  if (none) {
    api_fieldset_free(managed);
    return merged;
  }
  api_fieldset_t *last_n = ensure_named(last, vt);
  cJSON *pruned = remove_root(merged, last_n, vt, e);
  api_fieldset_t *ms = fieldset_of(merged, vt, e), *ps = fieldset_of(pruned, vt, e);
  api_fieldset_t *ms_n = ensure_named(ms, vt), *ps_n = ensure_named(ps, vt);
  api_fieldset_t *mg_n = ensure_named(managed, vt);
  /* addBackOwnedItems */
  api_fieldset_t *rm = api_fieldset_copy(ms_n);
  api_fieldset_union(ps_n, mg_n);
  api_fieldset_subtract(rm, ps_n);
  cJSON *pruned2 = remove_root(merged, rm, vt, e);
  /* addBackDanglingItems */
  api_fieldset_t *p2 = fieldset_of(pruned2, vt, e);
  api_fieldset_t *p2_n = ensure_named(p2, vt);
  api_fieldset_t *gone = api_fieldset_copy(ms_n);
  api_fieldset_subtract(gone, p2_n);
  api_fieldset_t *rm3 = api_fieldset_intersect(gone, last_n);
  cJSON *out = remove_root(merged, rm3, vt, e);
  api_fieldset_t *all[] = {last_n, managed, ms, ps, ms_n, ps_n, mg_n, rm, p2, p2_n, gone, rm3};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    api_fieldset_free(all[i]);
  cJSON_Delete(pruned);
  cJSON_Delete(pruned2);
  cJSON_Delete(merged);
  return out;
}

/* conflict.go: upstream's message and causes. */
static void manager_text(const mentry_t *e, buf_t *b) {
  buf_printf(b, "\"%s\"", e->manager);
  if (e->subresource[0])
    buf_printf(b, " with subresource \"%s\"", e->subresource);
  if (!is_apply(e))
    buf_printf(b, " using %s", e->api_version);
}

static void manager_id(const mentry_t *e, buf_t *b) {
  buf_printf(b, "{\"manager\":\"%s\",\"operation\":\"%s\"", e->manager, e->operation);
  if (!is_apply(e))
    buf_printf(b, ",\"apiVersion\":\"%s\"", e->api_version);
  if (e->subresource[0])
    buf_printf(b, ",\"subresource\":\"%s\"", e->subresource);
  buf_append_str(b, "}");
}

typedef struct {
  const api_fieldset_t *n;
} kid_t;

static int kid_cmp(const void *x, const void *y) {
  return api_fieldset_pe_cmp(api_fieldset_pe(((const kid_t *)x)->n), api_fieldset_pe(((const kid_t *)y)->n));
}

/* Set.Iterate order: members of a node (sorted), then its children. */
static void iterate_paths(const api_fieldset_t *s, buf_t *prefix, int depth,
                          void (*cb)(const char *path, void *data), void *data) {
  size_t n = 0, cnt = api_fieldset_count(s);
  kid_t *kids = xmalloc((cnt + 1) * sizeof(*kids));
  for (size_t i = 0; i < cnt; i++)
    if (api_fieldset_at(s, i))
      kids[n++].n = api_fieldset_at(s, i);
  qsort(kids, n, sizeof(*kids), kid_cmp);
  size_t keep = prefix->len;
  for (size_t i = 0; i < n; i++)
    if (api_fieldset_is_member(kids[i].n)) {
      api_fieldset_pe_text(prefix, api_fieldset_pe(kids[i].n));
      cb(prefix->data, data);
      prefix->len = keep;
      prefix->data[keep] = 0;
    }
  for (size_t i = 0; i < n && depth < MAX_DEPTH; i++)
    if (api_fieldset_count(kids[i].n)) {
      api_fieldset_pe_text(prefix, api_fieldset_pe(kids[i].n));
      iterate_paths(kids[i].n, prefix, depth + 1, cb, data);
      prefix->len = keep;
      if (prefix->data)
        prefix->data[keep] = 0;
    }
  free(kids);
}

typedef struct {
  api_status_t *st;
  buf_t *msg;
  const char *who;
  char first[512];
  int count;
} conflict_msg_t;

static void on_conflict_path(const char *path, void *data) {
  conflict_msg_t *c = data;
  char cause[300];
  snprintf(cause, sizeof(cause), "conflict with %s", c->who);
  api_status_add_cause(c->st, "FieldManagerConflict", path, cause);
  if (!c->count++)
    snprintf(c->first, sizeof(c->first), "%s", path);
  buf_printf(c->msg, "\n- %s", path);
}

typedef struct {
  buf_t id;
  const mentry_t *e;
  const api_fieldset_t *set;
} csort_t;

static int csort_cmp(const void *x, const void *y) {
  return strcmp(((const csort_t *)x)->id.data, ((const csort_t *)y)->id.data);
}

static void conflict_status(const managers_t *m, conflict_t *cs, size_t ncs, api_status_t *st) {
  csort_t *s = xcalloc(ncs, sizeof(*s));
  for (size_t i = 0; i < ncs; i++) {
    buf_init(&s[i].id, 4096);
    manager_id(&m->e[cs[i].idx], &s[i].id);
    s[i].e = &m->e[cs[i].idx];
    s[i].set = cs[i].set;
  }
  qsort(s, ncs, sizeof(*s), csort_cmp);
  buf_t msg, who, prefix;
  buf_init(&msg, 256 * 1024);
  buf_init(&who, 4096);
  buf_init(&prefix, PE_LIMIT);
  int total = 0;
  api_status_t tmp;
  memset(&tmp, 0, sizeof(tmp));
  for (size_t i = 0; i < ncs; i++) {
    buf_reset(&who);
    manager_text(s[i].e, &who);
    buf_t part;
    buf_init(&part, 256 * 1024);
    conflict_msg_t c = {.st = &tmp, .msg = &part, .who = who.data};
    buf_reset(&prefix);
    buf_append_str(&prefix, "");
    iterate_paths(s[i].set, &prefix, 0, on_conflict_path, &c);
    buf_printf(&msg, "%sconflicts with %s:%s", i ? "\n" : "", who.data, part.data ? part.data : "");
    if (ncs == 1 && c.count == 1) {
      buf_reset(&msg);
      buf_printf(&msg, "conflict with %s: %s", who.data, c.first);
    }
    total += c.count;
    buf_done(&part);
  }
  api_status_init(st, 409, "Conflict", "Apply failed with %d conflict%s: %s", total,
                  total == 1 ? "" : "s", msg.data ? msg.data : "");
  st->causes = tmp.causes;
  buf_done(&msg);
  buf_done(&who);
  buf_done(&prefix);
  for (size_t i = 0; i < ncs; i++)
    buf_done(&s[i].id);
  free(s);
}

/* lastappliedmanager.go: the fields kubectl's client-side apply recorded
 * (and the live object still has) may be taken over by "kubectl". */
static api_fieldset_t *last_applied_allowed(const scope_t *sc, const cJSON *live) {
  const char *la = obj_str(live, "metadata.annotations." LAST_APPLIED);
  if (!la || !la[0])
    return NULL;
  cJSON *cfg = cJSON_Parse(la);
  if (!cJSON_IsObject(cfg) || !obj_str(cfg, "apiVersion") ||
      strcmp(obj_str(cfg, "apiVersion"), sc->res->group_version)) {
    cJSON_Delete(cfg);
    return NULL;
  }
  err_t e = {0};
  api_fieldset_t *set = fieldset_of(cfg, &sc->vt, &e);
  comparison_t k;
  compare_objects(sc, cfg, live, &k);
  api_fieldset_subtract(set, k.modified);
  api_fieldset_subtract(set, k.added);
  api_fieldset_subtract(set, k.removed);
  comparison_done(&k);
  cJSON_Delete(cfg);
  return set;
}

static int internal_error(api_status_t *st, const api_resource_t *res, const cJSON *cfg,
                          const char *what, const char *msg) {
  const char *ns = obj_str(cfg, "metadata.namespace"), *name = obj_str(cfg, "metadata.name");
  api_status_init(st, 500, "InternalError", "%s (%s/%s; %s, Kind=%s): %s", what, ns ? ns : "",
                  name ? name : "", res->group_version, res->s->kind, msg);
  return -EINVAL;
}

int api_managed_apply(const api_resource_t *res, const cJSON *live, const cJSON *cfg,
                      const char *manager, bool force, cJSON **ret_obj, api_status_t *st) {
  scope_t sc = scope_of(res, "");
  managers_t m = {0};
  cJSON *cur = NULL, *patch = NULL, *merged = NULL;
  api_fieldset_t *last = NULL, *allowed = NULL;
  conflict_t *cs = NULL;
  size_t ncs = 0;
  err_t e = {0};
  char err[256];
  int r = 0;
  memset(st, 0, sizeof(*st));
  const cJSON *sent = obj_get(cfg, "metadata.managedFields");
  if (sent && !cJSON_IsNull(sent)) {
    api_status_bad_request(st, "metadata.managedFields must be nil");
    return -EINVAL;
  }
  if (live && managers_decode(obj_get(live, "metadata.managedFields"), &m, err, sizeof(err)) < 0) {
    api_status_init(st, 500, "InternalError", "failed to decode managed fields: %s", err);
    return -EINVAL;
  }
  cur = live ? cJSON_Duplicate(live, 1) : cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(obj_meta(cur), "managedFields");
  patch = cJSON_Duplicate(cfg, 1);
  if (res->has_status)
    cJSON_DeleteItemFromObjectCaseSensitive(patch, "status");
  cJSON_DeleteItemFromObjectCaseSensitive(obj_meta(patch), "managedFields");
  /* skipnonapplied.go: fields that exist before the first apply belong to
   * "before-first-apply" */
  if (!m.n && live)
    record_update(&sc, &m, NULL, cur, "before-first-apply", "");
  for (int attempt = 0; attempt < 2; attempt++) {
    mentry_t *me = managers_get(&m, manager, "Apply", res->group_version, "");
    free(me->api_version);
    me->api_version = xstrdup(res->group_version);
    api_fieldset_free(last);
    last = api_fieldset_copy(me->set);
    cJSON_Delete(merged);
    merged = merge(cur, patch, &sc.vt, 0, &e);
    api_fieldset_t *set = fieldset_of(patch, &sc.vt, &e);
    if (e.failed) {
      api_fieldset_free(set);
      r = internal_error(st, res, cfg, "failed to create typed patch object", e.msg);
      goto out;
    }
    scope_filter(&sc, set);
    api_fieldset_prune(set);
    api_fieldset_free(me->set);
    me->set = set;
    merged = prune(&sc, merged, &m, last, &e);
    drop_nulls(merged, &sc.vt, 0);
    long self = (long)(me - m.e);
    r = smd_update(&sc, &m, cur, merged, self, force, NULL, &cs, &ncs);
    if (r != -EBUSY)
      break;
    /* kubectl taking over from its own client-side apply: allowed */
    bool all_allowed = false;
    if (!attempt && !strcmp(manager, "kubectl") && (allowed = last_applied_allowed(&sc, cur))) {
      all_allowed = true;
      for (size_t i = 0; i < ncs && all_allowed; i++) {
        api_fieldset_t *x = api_fieldset_copy(cs[i].set);
        api_fieldset_subtract(x, allowed);
        all_allowed = api_fieldset_empty(x);
        api_fieldset_free(x);
      }
    }
    if (!all_allowed) {
      conflict_status(&m, cs, ncs, st);
      goto out;
    }
    for (size_t i = 0; i < ncs; i++)
      api_fieldset_free(cs[i].set);
    free(cs);
    cs = NULL, ncs = 0;
    /* start again with the stored ownership, forcing */
    managers_done(&m);
    if (live)
      managers_decode(obj_get(live, "metadata.managedFields"), &m, err, sizeof(err));
    if (!m.n && live)
      record_update(&sc, &m, NULL, cur, "before-first-apply", "");
    force = true;
  }
  {
    mentry_t *me = &m.e[managers_find(&m, manager, "Apply", res->group_version, "")];
    strip_meta(me->set);
    if (!json_equal(cur, merged, 0))
      touch(me);
  }
  /* lastappliedupdater.go: keep kubectl's client-side annotation in step */
  if (!strcmp(manager, "kubectl") && obj_str(cur, "metadata.annotations." LAST_APPLIED) &&
      obj_str(cur, "metadata.annotations." LAST_APPLIED)[0]) {
    cJSON *copy = cJSON_Duplicate(cfg, 1);
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(obj_meta(copy), "annotations");
    if (ann)
      cJSON_DeleteItemFromObjectCaseSensitive(ann, LAST_APPLIED);
    buf_t b;
    buf_init(&b, 64u << 20);
    if (api_fieldset_write_value(&b, copy) == 0 && buf_append(&b, "\n", 1) == 0) {
      cJSON *mann = obj_child_object(obj_meta(merged), "annotations");
      obj_set_str(mann, LAST_APPLIED, b.data);
    }
    buf_done(&b);
    cJSON_Delete(copy);
  }
  managers_encode(&m, merged);
  *ret_obj = merged;
  merged = NULL;
  r = 0;
out:
  if (cs) {
    for (size_t i = 0; i < ncs; i++)
      api_fieldset_free(cs[i].set);
    free(cs);
  }
  api_fieldset_free(last);
  api_fieldset_free(allowed);
  managers_done(&m);
  cJSON_Delete(cur);
  cJSON_Delete(patch);
  cJSON_Delete(merged);
  return r;
}
