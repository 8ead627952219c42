/* Kubernetes strategic merge patch, applied the way the apiserver does
 * (k8s.io/apimachinery/pkg/util/strategicpatch: mergeMap, mergeSlice,
 * mergePatchIntoOriginal), including its list ordering rules. Spec:
 * https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
 * Both documents are copied; the copies are edited in place. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/patch.h"
#include "json/util.h"
#include "util/alloc.h"

#define D_PATCH "$patch"
#define D_RETAIN "$retainKeys"
#define P_ORDER "$setElementOrder"
#define P_DELETE "$deleteFromPrimitiveList"

typedef struct {
  const smp_schema_t *schema;
  char *err;
  size_t errlen;
  char path[512]; /* field path for error messages */
  size_t pathlen;
} smp_t;

/* A vector of item pointers; whether it owns them is said where used. */
typedef struct {
  cJSON **v;
  size_t n, cap;
} vec_t;

/* A vector of list keys (merge-key values, or the items of a primitive
 * list), borrowed, used to order a list. NULL means "no key". */
typedef struct {
  const cJSON **v;
  size_t n, cap;
} keys_t;

typedef enum { K_NULL, K_BOOL, K_NUM, K_STR, K_ARR, K_OBJ } kind_t;

static int fail(smp_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(smp_t *s, const char *fmt, ...) {
  if (s->errlen && !s->err[0]) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < s->errlen && s->pathlen)
      snprintf(s->err + n, s->errlen - (size_t)n, " (at %s)", s->path);
  }
  return -EINVAL;
}

static size_t path_push(smp_t *s, const char *name) {
  size_t old = s->pathlen;
  int n = snprintf(s->path + old, sizeof(s->path) - old, "%s%s", old ? "." : "", name);
  if (n > 0)
    s->pathlen = old + (size_t)n < sizeof(s->path) ? old + (size_t)n : sizeof(s->path) - 1;
  return old;
}

static void path_pop(smp_t *s, size_t old) {
  s->pathlen = old;
  s->path[old] = '\0';
}

static void vec_push(vec_t *v, cJSON *item) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 8;
    v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
  }
  v->v[v->n++] = item;
}

static void vec_free_items(vec_t *v) {
  for (size_t i = 0; i < v->n; i++)
    cJSON_Delete(v->v[i]);
  v->n = 0;
}

static void vec_done(vec_t *v) {
  free(v->v);
  *v = (vec_t){0};
}

static void keys_push(keys_t *k, const cJSON *key) {
  if (k->n == k->cap) {
    k->cap = k->cap ? k->cap * 2 : 8;
    k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
  }
  k->v[k->n++] = key;
}

static void keys_done(keys_t *k) {
  free(k->v);
  *k = (keys_t){0};
}

/* Move every item of arr into v (arr is left empty). */
static void vec_take_array(vec_t *v, cJSON *arr) {
  while (arr->child)
    vec_push(v, cJSON_DetachItemViaPointer(arr, arr->child));
}

/* Append every item of v to arr (arr takes them); v is emptied. */
static void vec_give_array(vec_t *v, cJSON *arr) {
  for (size_t i = 0; i < v->n; i++)
    cJSON_AddItemToArray(arr, v->v[i]);
  v->n = 0;
}

static kind_t kind_of(const cJSON *v) {
  if (cJSON_IsObject(v))
    return K_OBJ;
  if (cJSON_IsArray(v))
    return K_ARR;
  if (cJSON_IsString(v))
    return K_STR;
  if (cJSON_IsNumber(v))
    return K_NUM;
  if (cJSON_IsBool(v))
    return K_BOOL;
  return K_NULL;
}

static const char *go_type(const cJSON *v) {
  switch (kind_of(v)) {
  case K_OBJ:
    return "map[string]interface {}";
  case K_ARR:
    return "[]interface {}";
  case K_STR:
    return "string";
  case K_NUM:
    return "float64";
  case K_BOOL:
    return "bool";
  default:
    return "<nil>";
  }
}

static bool has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "$setElementOrder/containers" -> "containers"; NULL if malformed. */
static const char *directive_field(const char *key, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(key, prefix, n) != 0 || key[n] != '/')
    return NULL;
  return key + n + 1;
}

static bool is_directive_key(const char *k) {
  return !strcmp(k, D_PATCH) || !strcmp(k, D_RETAIN) || directive_field(k, P_ORDER) ||
         directive_field(k, P_DELETE);
}

static void obj_set(cJSON *obj, const char *key, cJSON *value) {
  if (cJSON_GetObjectItemCaseSensitive(obj, key))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
  else
    cJSON_AddItemToObject(obj, key, value);
}

static void obj_delete(cJSON *obj, const char *key) {
  cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (c)
    cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
}

static void clear_children(cJSON *v) {
  while (v->child)
    cJSON_Delete(cJSON_DetachItemViaPointer(v, v->child));
}

static const char *directive_of(const cJSON *item) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(item, D_PATCH);
  return d ? (cJSON_IsString(d) ? d->valuestring : "") : NULL;
}

/* Strip directives from a value being inserted as is: a map carrying $patch
 * is dropped (returns false), as are directive keys ($setElementOrder/...,
 * $retainKeys, $deleteFromPrimitiveList/...) that would otherwise be stored. */
static bool remove_directives(cJSON *v) {
  if (cJSON_IsObject(v)) {
    if (cJSON_GetObjectItemCaseSensitive(v, D_PATCH))
      return false;
    cJSON *c = v->child;
    while (c) {
      cJSON *next = c->next;
      if (is_directive_key(c->string) || !remove_directives(c))
        cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
      c = next;
    }
  } else if (cJSON_IsArray(v)) {
    cJSON *c = v->child;
    while (c) {
      cJSON *next = c->next;
      if (!remove_directives(c))
        cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
      c = next;
    }
  }
  return true;
}

/* A patch value inserted where the original has nothing comparable. */
static cJSON *new_value(const cJSON *patch_value, bool *ret_keep) {
  cJSON *v = json_dup(patch_value);
  json_prune_nulls(v);
  *ret_keep = remove_directives(v);
  return v;
}

static const void *lookup(smp_t *s, const void *type, const char *name, smp_field_info_t *info) {
  memset(info, 0, sizeof(*info));
  if (!type || !s->schema || !s->schema->field)
    return NULL;
  const void *sub = s->schema->field(type, name, info);
  if (info->merge_key && !*info->merge_key)
    info->merge_key = NULL;
  return sub;
}

static bool key_eq(const cJSON *a, const cJSON *b) {
  if (!a || !b)
    return a == b;
  return json_equal(a, b);
}

static const cJSON *key_of(const cJSON *item, const char *mk) {
  if (!mk)
    return item;
  return cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, mk) : NULL;
}

static long rank_in(const keys_t *order, const cJSON *key) {
  for (size_t i = 0; i < order->n; i++)
    if (key_eq(order->v[i], key))
      return (long)i;
  return -1;
}

static int no_merge_key(smp_t *s, const cJSON *m, const char *mk) {
  char b[200];
  return fail(s, "map: %s does not contain declared merge key: %s", json_brief(m, b, sizeof(b)),
              mk);
}

/* Every item must be a map holding the merge key (validateMergeKeyInLists). */
static int check_merge_keys(smp_t *s, cJSON *const *items, size_t n, const char *mk) {
  for (size_t i = 0; i < n; i++) {
    if (!cJSON_IsObject(items[i]))
      return fail(s, "expected a map[string]interface {}, but received a %s", go_type(items[i]));
    if (!cJSON_GetObjectItemCaseSensitive(items[i], mk))
      return no_merge_key(s, items[i], mk);
  }
  return 0;
}

/* The element kind of two lists (sliceElementType): all elements must share
 * one JSON type and not be lists. */
static int slice_kind(smp_t *s, const cJSON *a, const cJSON *b, kind_t *ret) {
  const cJSON *lists[2] = {a, b};
  bool have = false;
  kind_t k = K_NULL;
  for (int i = 0; i < 2; i++) {
    if (!cJSON_IsArray(lists[i]))
      continue;
    for (const cJSON *c = lists[i]->child; c; c = c->next) {
      kind_t ck = kind_of(c);
      if (!have) {
        if (ck == K_ARR)
          return fail(s, "lists of lists are not supported");
        k = ck;
        have = true;
      } else if (ck != k || ck == K_NULL) {
        return fail(s, "list element types are not identical");
      }
    }
  }
  if (!have)
    return fail(s, "no elements in any of the given slices");
  *ret = k;
  return 0;
}

/* ---- list ordering, as upstream: a Go sort.SliceStable (insertion-sorted
 * blocks of 20 merged by SymMerge) under upstream's comparator, which treats
 * an item missing from the order list as "less" than anything. Reproducing
 * the algorithm keeps results identical even in those cases. */

typedef struct {
  cJSON **it;
  long *rk;
} sortv_t;

static bool s_less(const sortv_t *d, size_t i, size_t j) {
  long a = d->rk[i], b = d->rk[j];
  if (a >= 0 && b >= 0)
    return a < b;
  return true;
}

static void s_swap(sortv_t *d, size_t i, size_t j) {
  cJSON *t = d->it[i];
  d->it[i] = d->it[j];
  d->it[j] = t;
  long r = d->rk[i];
  d->rk[i] = d->rk[j];
  d->rk[j] = r;
}

static void insertion_sort(sortv_t *d, size_t a, size_t b) {
  for (size_t i = a + 1; i < b; i++)
    for (size_t j = i; j > a && s_less(d, j, j - 1); j--)
      s_swap(d, j, j - 1);
}

static void swap_range(sortv_t *d, size_t a, size_t b, size_t n) {
  for (size_t i = 0; i < n; i++)
    s_swap(d, a + i, b + i);
}

static void rotate(sortv_t *d, size_t a, size_t m, size_t b) {
  size_t i = m - a, j = b - m;
  while (i != j) {
    if (i > j) {
      swap_range(d, m - i, m, j);
      i -= j;
    } else {
      swap_range(d, m - i, m + j - i, i);
      j -= i;
    }
  }
  swap_range(d, m - i, m, i);
}

static void sym_merge(sortv_t *d, size_t a, size_t m, size_t b) {
  if (m - a == 1) {
    size_t i = m, j = b;
    while (i < j) {
      size_t h = (i + j) / 2;
      if (s_less(d, h, a))
        i = h + 1;
      else
        j = h;
    }
    for (size_t k = a; k + 1 < i; k++)
      s_swap(d, k, k + 1);
    return;
  }
  if (b - m == 1) {
    size_t i = a, j = m;
    while (i < j) {
      size_t h = (i + j) / 2;
      if (!s_less(d, m, h))
        i = h + 1;
      else
        j = h;
    }
    for (size_t k = m; k > i; k--)
      s_swap(d, k, k - 1);
    return;
  }
  size_t mid = (a + b) / 2, n = mid + m, start, r;
  if (m > mid) {
    start = n - b;
    r = mid;
  } else {
    start = a;
    r = m;
  }
  size_t p = n - 1;
  while (start < r) {
    size_t c = (start + r) / 2;
    if (!s_less(d, p - c, c))
      start = c + 1;
    else
      r = c;
  }
  size_t end = n - start;
  if (start < m && m < end)
    rotate(d, start, m, end);
  if (a < start && start < mid)
    sym_merge(d, a, start, mid);
  if (mid < end && end < b)
    sym_merge(d, mid, end, b);
}

static void stable_sort(sortv_t *d, size_t n) {
  size_t block = 20, a = 0, b = block;
  while (b <= n) {
    insertion_sort(d, a, b);
    a = b;
    b += block;
  }
  insertion_sort(d, a, n);
  while (block < n) {
    a = 0;
    b = 2 * block;
    while (b <= n) {
      sym_merge(d, a, a + block, b);
      a = b;
      b += 2 * block;
    }
    if (a + block < n)
      sym_merge(d, a, a + block, n);
    block *= 2;
  }
}

/* normalizeSliceOrder: sort v by order; for maps, items marked
 * "$patch: delete" go last. */
static int sort_by_order(smp_t *s, vec_t *v, const keys_t *order, const char *mk) {
  vec_t deleted = {0};
  if (mk) {
    int r = check_merge_keys(s, v->v, v->n, mk);
    if (r < 0)
      return r;
    size_t o = 0;
    for (size_t i = 0; i < v->n; i++) {
      const char *d = directive_of(v->v[i]);
      if (d && !strcmp(d, "delete"))
        vec_push(&deleted, v->v[i]);
      else
        v->v[o++] = v->v[i];
    }
    v->n = o;
  }
  long *rk = xcalloc(v->n ? v->n : 1, sizeof(long));
  for (size_t i = 0; i < v->n; i++)
    rk[i] = rank_in(order, key_of(v->v[i], mk));
  sortv_t d = {v->v, rk};
  stable_sort(&d, v->n);
  free(rk);
  for (size_t i = 0; i < deleted.n; i++)
    vec_push(v, deleted.v[i]);
  vec_done(&deleted);
  return 0;
}

/* mergeSortedSlice: interleave server-only items (left) into patch items
 * (right) following their order in the live list. */
static void merge_sorted(const vec_t *left, const vec_t *right, const keys_t *server,
                         const char *mk, vec_t *out) {
  size_t i = 0, j = 0;
  while (i < left->n || j < right->n) {
    if (i >= left->n) {
      vec_push(out, right->v[j++]);
    } else if (j >= right->n) {
      vec_push(out, left->v[i++]);
    } else {
      long li = rank_in(server, key_of(left->v[i], mk));
      long ri = rank_in(server, key_of(right->v[j], mk));
      if (li >= 0 && ri >= 0 && li < ri)
        vec_push(out, left->v[i++]);
      else
        vec_push(out, right->v[j++]);
    }
  }
}

/* normalizeElementOrder. The items move from patch_items/server_only to out. */
static int order_items(smp_t *s, vec_t *patch_items, vec_t *server_only,
                       const keys_t *patch_order, const keys_t *server_order, const char *mk,
                       bool is_map, vec_t *out) {
  const char *k = is_map ? mk : NULL;
  int r = sort_by_order(s, patch_items, patch_order, k);
  if (r < 0)
    return r;
  r = sort_by_order(s, server_only, server_order, k);
  if (r < 0)
    return r;
  merge_sorted(server_only, patch_items, server_order, k, out);
  patch_items->n = 0;
  server_only->n = 0;
  return 0;
}

/* Split merged items into those present in `by` and the rest
 * (partitionPrimitivesByPresentInList / partitionMapsByPresentInList). */
static int partition(smp_t *s, vec_t *merged, const cJSON *const *by, size_t nby,
                     const char *mk, vec_t *in, vec_t *rest) {
  /* check everything first so that on error the items stay in merged */
  if (mk) {
    int r = check_merge_keys(s, merged->v, merged->n, mk);
    if (r < 0)
      return r;
    for (size_t j = 0; j < nby; j++)
      if (!cJSON_IsObject(by[j]))
        return fail(s, "value for key %zu is not a map", j);
  }
  for (size_t i = 0; i < merged->n; i++) {
    const cJSON *key = key_of(merged->v[i], mk);
    bool found = false;
    for (size_t j = 0; j < nby && !found; j++) {
      const cJSON *bk = key_of(by[j], mk);
      found = bk && json_equal(bk, key);
    }
    vec_push(found ? in : rest, merged->v[i]);
  }
  merged->n = 0;
  return 0;
}

static void keys_of_items(keys_t *k, cJSON *const *items, size_t n, const char *mk) {
  for (size_t i = 0; i < n; i++)
    keys_push(k, key_of(items[i], mk));
}

static int merge_map(smp_t *s, cJSON *orig, cJSON *patch, const void *type);

/* mergeSlice: orig (an array) is edited in place; patch is read (its items
 * may be edited by nested merges). */
static int merge_slice(smp_t *s, cJSON *orig, cJSON *patch, const void *type, const char *mk,
                       bool delete_list) {
  vec_t origv = {0}, plain = {0}, merged = {0}, pin = {0}, rest = {0}, out = {0};
  keys_t porder = {0}, sorder = {0};
  cJSON *snapshot = NULL;
  kind_t kind;
  int r = 0;
  if (!orig->child && !patch->child)
    return 0;
  r = slice_kind(s, orig, patch, &kind);
  if (r < 0)
    return r;
  bool is_map = kind == K_OBJ;
  vec_take_array(&origv, orig);

  if (!is_map) {
    if (delete_list) { /* deleteFromSlice: no reordering */
      for (size_t i = 0; i < origv.n; i++) {
        bool drop = false;
        for (const cJSON *d = patch->child; d && !drop; d = d->next)
          drop = json_equal(d, origv.v[i]);
        if (drop)
          cJSON_Delete(origv.v[i]);
        else
          cJSON_AddItemToArray(orig, origv.v[i]);
      }
      origv.n = 0;
      goto out;
    }
    snapshot = cJSON_CreateArray();
    for (size_t i = 0; i < origv.n; i++)
      cJSON_AddItemToArray(snapshot, json_dup(origv.v[i]));
    /* union without duplicates, first occurrence kept */
    for (cJSON *p = patch->child; p; p = p->next)
      vec_push(&origv, json_dup(p));
    for (size_t i = 0; i < origv.n; i++) {
      bool dup = false;
      for (size_t j = 0; j < merged.n && !dup; j++)
        dup = json_equal(merged.v[j], origv.v[i]);
      if (dup)
        cJSON_Delete(origv.v[i]);
      else
        vec_push(&merged, origv.v[i]);
    }
    origv.n = 0;
    for (cJSON *p = patch->child; p; p = p->next)
      vec_push(&plain, p); /* borrowed */
    keys_of_items(&porder, plain.v, plain.n, NULL);
    for (cJSON *c = snapshot->child; c; c = c->next)
      keys_push(&sorder, c);
  } else {
    if (!mk) {
      r = fail(s, "cannot merge lists without merge key");
      goto out;
    }
    bool replace = false;
    for (cJSON *p = patch->child; p; p = p->next) {
      const char *d = directive_of(p);
      if (!d) {
        vec_push(&plain, p); /* borrowed */
        continue;
      }
      if (!strcmp(d, "delete")) {
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(p, mk);
        if (!want) {
          r = no_merge_key(s, p, mk);
          goto out;
        }
        size_t o = 0;
        for (size_t i = 0; i < origv.n; i++) {
          if (!cJSON_IsObject(origv.v[i])) {
            r = fail(s, "value for key %zu is not a map", i);
            goto out;
          }
          if (key_eq(cJSON_GetObjectItemCaseSensitive(origv.v[i], mk), want))
            cJSON_Delete(origv.v[i]);
          else
            origv.v[o++] = origv.v[i];
        }
        origv.n = o;
      } else if (!strcmp(d, "replace")) {
        replace = true;
      } else if (!strcmp(d, "merge")) {
        r = fail(s, "merging lists cannot yet be specified in the patch");
        goto out;
      } else {
        char b[200];
        r = fail(s, "unknown patch type: %s in map: %s", d, json_brief(p, b, sizeof(b)));
        goto out;
      }
    }
    if (replace) {
      vec_free_items(&origv);
      for (size_t i = 0; i < plain.n; i++)
        vec_push(&origv, json_dup(plain.v[i]));
      plain.n = 0;
    }
    /* the live order, before patch items are appended */
    snapshot = cJSON_CreateArray();
    for (size_t i = 0; i < origv.n; i++) {
      const cJSON *k = key_of(origv.v[i], mk);
      cJSON_AddItemToArray(snapshot, k ? json_dup(k) : cJSON_CreateNull());
    }
    for (size_t i = 0; i < plain.n; i++) {
      cJSON *p = plain.v[i];
      const cJSON *want = cJSON_GetObjectItemCaseSensitive(p, mk);
      if (!want) {
        r = no_merge_key(s, p, mk);
        goto out;
      }
      size_t at = origv.n;
      for (size_t j = 0; j < origv.n; j++) {
        if (!cJSON_IsObject(origv.v[j])) {
          r = fail(s, "value for key %zu is not a map", j);
          goto out;
        }
        if (key_eq(cJSON_GetObjectItemCaseSensitive(origv.v[j], mk), want)) {
          at = j;
          break;
        }
      }
      if (at < origv.n) {
        r = merge_map(s, origv.v[at], p, type);
        if (r < 0)
          goto out;
      } else {
        vec_push(&origv, json_dup(p));
      }
    }
    for (size_t i = 0; i < origv.n; i++)
      vec_push(&merged, origv.v[i]);
    origv.n = 0;
    r = check_merge_keys(s, plain.v, plain.n, mk);
    if (r < 0)
      goto out;
    keys_of_items(&porder, plain.v, plain.n, mk);
    for (cJSON *c = snapshot->child; c; c = c->next)
      keys_push(&sorder, cJSON_IsNull(c) ? NULL : c);
  }

  r = partition(s, &merged, (const cJSON *const *)plain.v, plain.n, is_map ? mk : NULL, &pin,
                &rest);
  if (r < 0)
    goto out;
  r = order_items(s, &pin, &rest, &porder, &sorder, mk, is_map, &out);
  if (r < 0)
    goto out;
  vec_give_array(&out, orig);
out:
  /* on error, whatever is still held is freed; orig is discarded by the caller */
  vec_free_items(&origv);
  vec_free_items(&merged);
  vec_free_items(&pin);
  vec_free_items(&rest);
  vec_free_items(&out);
  vec_done(&origv);
  vec_done(&plain);
  vec_done(&merged);
  vec_done(&pin);
  vec_done(&rest);
  vec_done(&out);
  keys_done(&porder);
  keys_done(&sorder);
  cJSON_Delete(snapshot);
  return r;
}

/* mergeSliceHandler: merge when the field says so (or for a deletion list),
 * else the patch list replaces the original as is. */
static int merge_list_field(smp_t *s, cJSON *orig, cJSON *patch, const void *sub,
                            const smp_field_info_t *info, bool delete_list) {
  if (info->list_strategy == SMP_LIST_MERGE || delete_list)
    return merge_slice(s, orig, patch, sub, info->merge_key, delete_list);
  clear_children(orig);
  for (const cJSON *p = patch->child; p; p = p->next)
    cJSON_AddItemToArray(orig, json_dup(p));
  return 0;
}

/* validatePatchWithSetOrderList: the patch list must be a subsequence of
 * the $setElementOrder list (deletions aside). */
static int check_order_list(smp_t *s, const cJSON *plist, const cJSON *order, const char *mk) {
  if (!plist || !order->child || !plist->child)
    return 0;
  vec_t items = {0};
  int r = 0;
  for (cJSON *p = plist->child; p; p = p->next) {
    if (mk) {
      if (!cJSON_IsObject(p)) {
        r = fail(s, "expected a map[string]interface {}, but received a %s", go_type(p));
        goto out;
      }
      const char *d = directive_of(p);
      if (d && !strcmp(d, "delete"))
        continue;
    }
    vec_push(&items, p);
  }
  size_t pi = 0;
  const cJSON *o = order->child;
  while (pi < items.n && o) {
    if (cJSON_IsObject(items.v[pi]) &&
        cJSON_GetObjectItemCaseSensitive(items.v[pi], D_PATCH)) {
      pi++;
      continue;
    }
    bool eq;
    if (!mk) {
      eq = json_equal(items.v[pi], o);
    } else {
      if (!cJSON_IsObject(o)) {
        r = fail(s, "expected a map[string]interface {}, but received a %s", go_type(o));
        goto out;
      }
      const cJSON *a = cJSON_GetObjectItemCaseSensitive(items.v[pi], mk);
      const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, mk);
      if (!a) {
        r = no_merge_key(s, items.v[pi], mk);
        goto out;
      }
      if (!b) {
        r = no_merge_key(s, o, mk);
        goto out;
      }
      eq = json_equal(a, b);
    }
    if (eq)
      pi++;
    o = o->next;
  }
  if (pi < items.n) {
    char b1[200], b2[200];
    r = fail(s, "The order in patch list: %s doesn't match %s list: %s",
             json_brief(plist, b1, sizeof(b1)), P_ORDER, json_brief(order, b2, sizeof(b2)));
  }
out:
  vec_done(&items);
  return r;
}

/* mergePatchIntoOriginal: handle each $setElementOrder/<list> together with
 * its list, then drop both from the patch. */
static int apply_element_orders(smp_t *s, cJSON *orig, cJSON *patch, const void *type) {
  cJSON *c = patch->child;
  while (c) {
    cJSON *next = c->next;
    if (!has_prefix(c->string, P_ORDER)) {
      c = next;
      continue;
    }
    cJSON *order = cJSON_DetachItemViaPointer(patch, c);
    vec_t merged = {0}, pin = {0}, rest = {0}, out = {0};
    keys_t porder = {0}, sorder = {0};
    cJSON *snapshot = NULL;
    smp_field_info_t info;
    size_t saved = s->pathlen;
    int r = 0;
    if (!cJSON_IsArray(order)) {
      r = fail(s, "expected a []interface {}, but received a %s", go_type(order));
      goto next;
    }
    const char *field = directive_field(order->string, P_ORDER);
    if (!field) {
      r = fail(s, "invalid patch format of setElementOrder list");
      goto next;
    }
    path_push(s, field);
    cJSON *olist = cJSON_GetObjectItemCaseSensitive(orig, field);
    cJSON *plist = cJSON_GetObjectItemCaseSensitive(patch, field);
    if (olist && !cJSON_IsArray(olist)) {
      r = fail(s, "expected a []interface {}, but received a %s", go_type(olist));
      goto next;
    }
    if (plist && !cJSON_IsArray(plist)) {
      r = fail(s, "expected a []interface {}, but received a %s", go_type(plist));
      goto next;
    }
    const void *sub = lookup(s, type, field, &info);
    const char *mk = info.merge_key;
    r = check_order_list(s, plist, order, mk);
    if (r < 0 || (!olist && !plist))
      goto next;
    kind_t kind;
    r = slice_kind(s, olist, plist, &kind);
    if (r < 0)
      goto next;
    bool is_map = kind == K_OBJ;
    snapshot = olist ? json_dup(olist) : cJSON_CreateArray();
    if (olist && plist) {
      r = merge_list_field(s, olist, plist, sub, &info, false);
      if (r < 0)
        goto next;
    } else if (plist) {
      cJSON *v = json_dup(plist);
      remove_directives(v);
      obj_set(orig, field, v);
      olist = v;
    }
    vec_take_array(&merged, olist);
    {
      vec_t by = {0};
      for (cJSON *o = order->child; o; o = o->next)
        vec_push(&by, o);
      r = partition(s, &merged, (const cJSON *const *)by.v, by.n, mk, &pin, &rest);
      vec_done(&by);
    }
    if (r < 0)
      goto next;
    for (cJSON *o = order->child; o; o = o->next)
      keys_push(&porder, key_of(o, is_map ? mk : NULL));
    for (cJSON *o = snapshot->child; o; o = o->next)
      keys_push(&sorder, key_of(o, is_map ? mk : NULL));
    r = order_items(s, &pin, &rest, &porder, &sorder, mk, is_map, &out);
    if (r < 0)
      goto next;
    vec_give_array(&out, olist);
    obj_delete(patch, field);
  next:
    path_pop(s, saved);
    vec_free_items(&merged);
    vec_free_items(&pin);
    vec_free_items(&rest);
    vec_free_items(&out);
    vec_done(&merged);
    vec_done(&pin);
    vec_done(&rest);
    vec_done(&out);
    keys_done(&porder);
    keys_done(&sorder);
    cJSON_Delete(snapshot);
    cJSON_Delete(order);
    if (r < 0)
      return r;
    c = patch->child; /* the list itself may have gone: rescan */
  }
  return 0;
}

/* applyRetainKeysDirective */
static int apply_retain_keys(smp_t *s, cJSON *orig, cJSON *patch) {
  cJSON *rk = cJSON_GetObjectItemCaseSensitive(patch, D_RETAIN);
  if (!rk)
    return 0;
  rk = cJSON_DetachItemViaPointer(patch, rk);
  int r = 0;
  if (!cJSON_IsArray(rk)) {
    r = fail(s, "invalid patch format of retainKeys");
    goto out;
  }
  for (const cJSON *p = patch->child; p; p = p->next) {
    if (cJSON_IsNull(p) || has_prefix(p->string, P_DELETE) || has_prefix(p->string, P_ORDER))
      continue;
    bool found = false;
    for (const cJSON *k = rk->child; k && !found; k = k->next)
      found = cJSON_IsString(k) && !strcmp(k->valuestring, p->string);
    if (!found) {
      r = fail(s, "invalid patch format of retainKeys");
      goto out;
    }
  }
  cJSON *c = orig->child;
  while (c) {
    cJSON *next = c->next;
    bool found = false;
    for (const cJSON *k = rk->child; k && !found; k = k->next)
      found = cJSON_IsString(k) && !strcmp(k->valuestring, c->string);
    if (!found)
      cJSON_Delete(cJSON_DetachItemViaPointer(orig, c));
    c = next;
  }
out:
  cJSON_Delete(rk);
  return r;
}

/* mergeMap: orig (an object) is edited in place. */
static int merge_map(smp_t *s, cJSON *orig, cJSON *patch, const void *type) {
  const char *d = directive_of(patch);
  if (d) {
    if (!strcmp(d, "replace")) {
      clear_children(orig);
      for (const cJSON *p = patch->child; p; p = p->next)
        if (strcmp(p->string, D_PATCH) != 0)
          cJSON_AddItemToObject(orig, p->string, json_dup(p));
      return 0;
    }
    if (!strcmp(d, "delete")) {
      clear_children(orig);
      return 0;
    }
    char b[200];
    return fail(s, "unknown patch type: %s in map: %s", d, json_brief(patch, b, sizeof(b)));
  }
  int r = apply_retain_keys(s, orig, patch);
  if (r < 0)
    return r;
  r = apply_element_orders(s, orig, patch, type);
  if (r < 0)
    return r;

  strmap_t idx; /* orig's keys: O(1) per patch key, not a scan of orig */
  json_index_init(&idx, orig);
  r = 0;
  for (cJSON *pv = patch->child; pv; pv = pv->next) {
    const char *k = pv->string;
    bool delete_list = false;
    if (has_prefix(k, P_DELETE)) {
      k = directive_field(k, P_DELETE);
      if (!k) {
        json_index_done(&idx);
        return fail(s, "invalid patch format of primitive list");
      }
      delete_list = true;
    }
    cJSON *ov = json_index_get(&idx, k);
    if (cJSON_IsNull(pv)) {
      json_index_del(orig, &idx, k);
      continue;
    }
    if (!ov || kind_of(ov) != kind_of(pv)) {
      if (delete_list)
        continue;
      bool keep;
      cJSON *v = new_value(pv, &keep);
      if (keep) {
        json_index_set(orig, &idx, k, v);
      } else {
        cJSON_Delete(v);
        json_index_del(orig, &idx, k);
      }
      continue;
    }
    smp_field_info_t info;
    size_t saved = path_push(s, k);
    switch (kind_of(ov)) {
    case K_OBJ:
      r = merge_map(s, ov, pv, lookup(s, type, k, &info));
      break;
    case K_ARR: {
      const void *sub = lookup(s, type, k, &info);
      r = merge_list_field(s, ov, pv, sub, &info, delete_list);
      break;
    }
    default:
      json_index_set(orig, &idx, k, json_dup(pv));
      break;
    }
    path_pop(s, saved);
    if (r < 0)
      break;
  }
  json_index_done(&idx);
  return r;
}

int json_smp_apply(const cJSON *original, const cJSON *patch, const smp_schema_t *schema,
                   const void *root_type, cJSON **ret_doc, char *err, size_t errlen) {
  smp_t s = {.schema = schema, .err = err, .errlen = errlen};
  cJSON *doc = NULL, *p = NULL;
  int r;
  if (errlen)
    err[0] = '\0';
  if (!cJSON_IsObject(original) || !cJSON_IsObject(patch)) {
    r = fail(&s, "invalid JSON document");
    goto out;
  }
  doc = json_dup(original);
  p = json_dup(patch);
  r = merge_map(&s, doc, p, root_type);
  if (r < 0)
    goto out;
  *ret_doc = doc;
  doc = NULL;
out:
  cJSON_Delete(doc);
  cJSON_Delete(p);
  return r;
}
