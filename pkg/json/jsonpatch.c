/* JSON patch, RFC 6902 (https://www.rfc-editor.org/rfc/rfc6902), with JSON
 * pointers per RFC 6901, as the apiserver applies application/json-patch+json
 * (evanphx/json-patch v4): same error wording, negative array indices count
 * from the end, "replace" of a missing object member adds it, and "copy"
 * growth is capped so a patch cannot multiply a document without bound. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/patch.h"
#include "json/util.h"
#include "util/alloc.h"

/* Total bytes (estimated as compact JSON) that "copy" may add to one
 * document; upstream caps this too (AccumulatedCopySizeLimit). */
#define COPY_SIZE_LIMIT (8L * 1024 * 1024)

typedef struct {
  char **tok;
  size_t n;
} pointer_t;

typedef struct {
  cJSON *doc; /* owned; may be replaced as a whole */
  char *err;
  size_t errlen;
  size_t index;  /* current operation */
  long copied;   /* accumulated copy size */
} ctx_t;

static int fail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx_t *c, const char *fmt, ...) {
  if (c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < c->errlen)
      snprintf(c->err + n, c->errlen - (size_t)n, " (operation %zu)", c->index);
  }
  return -EINVAL;
}

static void pointer_done(pointer_t *p) {
  for (size_t i = 0; i < p->n; i++)
    free(p->tok[i]);
  free(p->tok);
  p->tok = NULL;
  p->n = 0;
}

/* Split an RFC 6901 pointer into decoded tokens ("~1" -> "/", "~0" -> "~";
 * any other "~x" is kept as written, as upstream does). "" is the root. */
static int pointer_parse(const char *s, pointer_t *ret) {
  pointer_t p = {0};
  if (*s == '\0') {
    *ret = p;
    return 0;
  }
  if (*s != '/')
    return -EINVAL;
  size_t cap = 0;
  const char *q = s + 1;
  for (;;) {
    const char *end = strchr(q, '/');
    size_t len = end ? (size_t)(end - q) : strlen(q);
    char *t = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
      if (q[i] == '~' && i + 1 < len && (q[i + 1] == '0' || q[i + 1] == '1')) {
        t[o++] = q[i + 1] == '0' ? '~' : '/';
        i++;
      } else {
        t[o++] = q[i];
      }
    }
    t[o] = '\0';
    if (p.n == cap) {
      cap = cap ? cap * 2 : 8;
      p.tok = xrealloc(p.tok, cap * sizeof(*p.tok));
    }
    p.tok[p.n++] = t;
    if (!end)
      break;
    q = end + 1;
  }
  *ret = p;
  return 0;
}

/* Go strconv.Atoi: optional sign, decimal digits, no overflow. */
static bool parse_index(const char *s, long *ret) {
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  if (!*p)
    return false;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9')
      return false;
  errno = 0;
  char *end;
  long v = strtol(s, &end, 10);
  if (errno || *end || v > INT_MAX || v < INT_MIN)
    return false;
  *ret = v;
  return true;
}

/* Normalize an index into [0, size) (size = array length, or length + 1 for
 * insertion); negative counts from the end. */
static bool normalize_index(long idx, int size, int *ret) {
  if (idx < 0)
    idx += size;
  if (idx < 0 || idx >= size)
    return false;
  *ret = (int)idx;
  return true;
}

/* The container holding the last token, or NULL if a step is missing. */
static cJSON *find_parent(cJSON *doc, const pointer_t *p) {
  if (p->n == 0)
    return NULL;
  cJSON *cur = doc;
  for (size_t i = 0; i + 1 < p->n && cur; i++) {
    if (cJSON_IsObject(cur)) {
      cur = cJSON_GetObjectItemCaseSensitive(cur, p->tok[i]);
    } else if (cJSON_IsArray(cur)) {
      long idx;
      int at;
      if (!parse_index(p->tok[i], &idx) || !normalize_index(idx, cJSON_GetArraySize(cur), &at))
        return NULL;
      cur = cJSON_GetArrayItem(cur, at);
    } else {
      return NULL;
    }
  }
  return cJSON_IsObject(cur) || cJSON_IsArray(cur) ? cur : NULL;
}

static const char *last(const pointer_t *p) {
  return p->tok[p->n - 1];
}

/* Look up the child named by the last token of p in container con. For an
 * object a missing member is not an error (*ret = NULL). Returns 0, or -1
 * with why set for a bad array index. */
static int child_get(cJSON *con, const pointer_t *p, cJSON **ret, char *why, size_t whylen) {
  const char *key = last(p);
  if (cJSON_IsObject(con)) {
    *ret = cJSON_GetObjectItemCaseSensitive(con, key);
    return 0;
  }
  long idx;
  int at;
  if (!parse_index(key, &idx)) {
    snprintf(why, whylen, "value was not a proper array index: '%s'", key);
    return -1;
  }
  if (!normalize_index(idx, cJSON_GetArraySize(con), &at)) {
    snprintf(why, whylen, "Unable to access invalid index: %ld: invalid index referenced", idx);
    return -1;
  }
  *ret = cJSON_GetArrayItem(con, at);
  return 0;
}

/* Insert item before position at (at == size appends). Written out because
 * cJSON_InsertItemInArray of Debian's libcjson 1.7.15-1+deb12u4 refuses
 * valid insertions (returns false and leaves the array unchanged). */
static void array_insert(cJSON *arr, int at, cJSON *item) {
  cJSON *after = cJSON_GetArrayItem(arr, at);
  if (!after) {
    cJSON_AddItemToArray(arr, item);
    return;
  }
  item->next = after;
  item->prev = after->prev; /* for the head, prev is the tail (cJSON's invariant) */
  after->prev = item;
  if (after == arr->child)
    arr->child = item;
  else
    item->prev->next = item;
}

/* Insert value (owned) at p under con. Returns 0 or -1 with why. */
static int child_add(cJSON *con, const pointer_t *p, cJSON *value, char *why, size_t whylen) {
  const char *key = last(p);
  if (cJSON_IsObject(con)) {
    if (cJSON_GetObjectItemCaseSensitive(con, key))
      cJSON_ReplaceItemInObjectCaseSensitive(con, key, value);
    else
      cJSON_AddItemToObject(con, key, value);
    return 0;
  }
  if (strcmp(key, "-") == 0) {
    cJSON_AddItemToArray(con, value);
    return 0;
  }
  long idx;
  int at;
  if (!parse_index(key, &idx)) {
    snprintf(why, whylen, "value was not a proper array index: '%s'", key);
    goto bad;
  }
  if (!normalize_index(idx, cJSON_GetArraySize(con) + 1, &at)) {
    snprintf(why, whylen, "Unable to access invalid index: %ld: invalid index referenced", idx);
    goto bad;
  }
  array_insert(con, at, value);
  return 0;
bad:
  cJSON_Delete(value);
  return -1;
}

/* Detach the child at p from con. Returns it, or NULL with why. */
static cJSON *child_remove(cJSON *con, const pointer_t *p, char *why, size_t whylen) {
  const char *key = last(p);
  if (cJSON_IsObject(con)) {
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(con, key);
    if (!cur) {
      snprintf(why, whylen, "Unable to remove nonexistent key: %s: missing value", key);
      return NULL;
    }
    return cJSON_DetachItemViaPointer(con, cur);
  }
  cJSON *cur = NULL;
  if (child_get(con, p, &cur, why, whylen) < 0)
    return NULL;
  return cJSON_DetachItemViaPointer(con, cur);
}

/* Rough compact-JSON size of v, for the copy limit. */
static long json_size(const cJSON *v) {
  long n = v->string ? (long)strlen(v->string) + 4 : 1;
  if (cJSON_IsString(v) && v->valuestring)
    n += (long)strlen(v->valuestring) + 2;
  else if (cJSON_IsArray(v) || cJSON_IsObject(v))
    for (const cJSON *c = v->child; c; c = c->next)
      n += json_size(c);
  else
    n += 8;
  return n;
}

static const char *str_member(const cJSON *op, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(op, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int op_add(ctx_t *c, const char *path, const pointer_t *p, const cJSON *value) {
  char why[256];
  if (p->n == 0) {
    cJSON_Delete(c->doc);
    c->doc = json_dup(value);
    return 0;
  }
  cJSON *con = find_parent(c->doc, p);
  if (!con)
    return fail(c, "add operation does not apply: doc is missing path: \"%s\": missing value", path);
  if (child_add(con, p, json_dup(value), why, sizeof(why)) < 0)
    return fail(c, "error in add for path: '%s': %s", path, why);
  return 0;
}

static int op_remove(ctx_t *c, const char *path, const pointer_t *p) {
  char why[256];
  cJSON *con = find_parent(c->doc, p);
  if (!con)
    return fail(c, "remove operation does not apply: doc is missing path: \"%s\": missing value",
                path);
  cJSON *old = child_remove(con, p, why, sizeof(why));
  if (!old)
    return fail(c, "error in remove for path: '%s': %s", path, why);
  cJSON_Delete(old);
  return 0;
}

static int op_replace(ctx_t *c, const char *path, const pointer_t *p, const cJSON *value) {
  char why[256];
  if (p->n == 0) {
    if (!cJSON_IsObject(value) && !cJSON_IsArray(value))
      return fail(c, "replace operation value must be object or array");
    cJSON_Delete(c->doc);
    c->doc = json_dup(value);
    return 0;
  }
  cJSON *con = find_parent(c->doc, p);
  if (!con)
    return fail(c, "replace operation does not apply: doc is missing path: %s: missing value",
                path);
  if (cJSON_IsArray(con)) {
    cJSON *cur = NULL;
    if (child_get(con, p, &cur, why, sizeof(why)) < 0 || !cur)
      return fail(c, "replace operation does not apply: doc is missing key: %s: missing value",
                  path);
    cJSON_ReplaceItemViaPointer(con, cur, json_dup(value));
    return 0;
  }
  /* An object member is set whether or not it existed (upstream v4). */
  child_add(con, p, json_dup(value), why, sizeof(why));
  return 0;
}

static bool is_proper_prefix(const char *prefix, const char *path) {
  size_t n = strlen(prefix);
  return strncmp(prefix, path, n) == 0 && path[n] == '/';
}

static int op_move(ctx_t *c, const char *from, const pointer_t *pf, const char *path,
                   const pointer_t *p) {
  char why[256];
  cJSON *con = find_parent(c->doc, pf);
  if (!con)
    return fail(c, "move operation does not apply: doc is missing from path: %s: missing value",
                from);
  if (is_proper_prefix(from, path))
    return fail(c, "move operation does not apply: doc is missing destination path: %s: "
                   "missing value", path);
  cJSON *val = child_remove(con, pf, why, sizeof(why));
  if (!val)
    return fail(c, "error in move for path: '%s': %s", last(pf), why);
  if (p->n == 0) {
    cJSON_Delete(c->doc);
    c->doc = val;
    return 0;
  }
  con = find_parent(c->doc, p);
  if (!con) {
    cJSON_Delete(val);
    return fail(c, "move operation does not apply: doc is missing destination path: %s: "
                   "missing value", path);
  }
  if (child_add(con, p, val, why, sizeof(why)) < 0)
    return fail(c, "error in move for path: '%s': %s", path, why);
  return 0;
}

static int op_copy(ctx_t *c, const char *from, const pointer_t *pf, const char *path,
                   const pointer_t *p) {
  char why[256];
  cJSON *val = NULL;
  if (pf->n == 0) {
    val = c->doc;
  } else {
    cJSON *con = find_parent(c->doc, pf);
    if (!con)
      return fail(c, "copy operation does not apply: doc is missing from path: %s: missing value",
                  from);
    if (child_get(con, pf, &val, why, sizeof(why)) < 0)
      return fail(c, "error in copy for from: '%s': %s", from, why);
    if (!val)
      return fail(c, "copy operation does not apply: doc is missing from path: %s: missing value",
                  from);
  }
  long sz = json_size(val);
  c->copied += sz;
  if (c->copied > COPY_SIZE_LIMIT)
    return fail(c, "Unable to complete the copy, the accumulated size increase of copy is %ld, "
                   "exceeding the limit %ld", c->copied, COPY_SIZE_LIMIT);
  cJSON *dup = json_dup(val);
  if (p->n == 0) {
    cJSON_Delete(c->doc);
    c->doc = dup;
    return 0;
  }
  cJSON *con = find_parent(c->doc, p);
  if (!con) {
    cJSON_Delete(dup);
    return fail(c, "copy operation does not apply: doc is missing destination path: %s: "
                   "missing value", path);
  }
  if (child_add(con, p, dup, why, sizeof(why)) < 0)
    return fail(c, "error while adding value during copy: %s", why);
  return 0;
}

static int op_test(ctx_t *c, const char *path, const pointer_t *p, const cJSON *value) {
  char why[256];
  cJSON *val = NULL;
  if (p->n == 0) {
    val = c->doc;
  } else {
    cJSON *con = find_parent(c->doc, p);
    if (!con)
      return fail(c, "test operation does not apply: is missing path: %s: missing value", path);
    if (child_get(con, p, &val, why, sizeof(why)) < 0)
      return fail(c, "error in test for path: '%s': %s", path, why);
    if (!val) {
      /* An absent member equals an absent or null value (upstream). */
      if (!value || cJSON_IsNull(value))
        return 0;
      return fail(c, "testing value %s failed: test failed", path);
    }
  }
  if (!value || !json_equal(val, value))
    return fail(c, "testing value %s failed: test failed", path);
  return 0;
}

static int apply_one(ctx_t *c, const cJSON *op) {
  pointer_t p = {0}, pf = {0};
  int r;
  if (!cJSON_IsObject(op)) {
    r = fail(c, "json: cannot unmarshal %s into Go value of type jsonpatch.Operation",
             cJSON_IsArray(op) ? "array" : "value");
    goto out;
  }
  const char *kind = str_member(op, "op");
  if (!kind)
    kind = "unknown";
  bool known = !strcmp(kind, "add") || !strcmp(kind, "remove") || !strcmp(kind, "replace") ||
               !strcmp(kind, "move") || !strcmp(kind, "copy") || !strcmp(kind, "test");
  if (!known) {
    r = fail(c, "Unexpected kind: %s", kind);
    goto out;
  }
  const char *path = str_member(op, "path");
  if (!path) {
    r = fail(c, "%s operation failed to decode path: missing value", kind);
    goto out;
  }
  if (pointer_parse(path, &p) < 0) {
    r = fail(c, "%s operation does not apply: invalid JSON pointer: \"%s\"", kind, path);
    goto out;
  }
  const char *from = NULL;
  if (!strcmp(kind, "move") || !strcmp(kind, "copy")) {
    from = str_member(op, "from");
    if (!from) {
      r = fail(c, "%s operation failed to decode from: missing value", kind);
      goto out;
    }
    if (pointer_parse(from, &pf) < 0) {
      r = fail(c, "%s operation does not apply: invalid JSON pointer: \"%s\"", kind, from);
      goto out;
    }
  }
  const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
  if (!value && (!strcmp(kind, "add") || !strcmp(kind, "replace"))) {
    r = fail(c, "%s operation does not apply: missing value for path: %s", kind, path);
    goto out;
  }
  switch (kind[0]) {
  case 'a':
    r = op_add(c, path, &p, value);
    break;
  case 'r':
    r = kind[2] == 'm' ? op_remove(c, path, &p) : op_replace(c, path, &p, value);
    break;
  case 'm':
    r = op_move(c, from, &pf, path, &p);
    break;
  case 'c':
    r = op_copy(c, from, &pf, path, &p);
    break;
  default:
    r = op_test(c, path, &p, value);
    break;
  }
out:
  pointer_done(&p);
  pointer_done(&pf);
  return r;
}

int json_patch_apply(const cJSON *original, const cJSON *ops, cJSON **ret_doc, char *err,
                     size_t errlen) {
  ctx_t c = {.err = err, .errlen = errlen};
  int r = 0;
  if (errlen)
    err[0] = '\0';
  if (!cJSON_IsArray(ops)) {
    snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
             cJSON_IsObject(ops) ? "object" : "value");
    return -EINVAL;
  }
  c.doc = json_dup(original);
  for (const cJSON *op = ops->child; op; op = op->next, c.index++) {
    r = apply_one(&c, op);
    if (r < 0)
      goto out;
  }
  *ret_doc = c.doc;
  c.doc = NULL;
out:
  cJSON_Delete(c.doc);
  return r;
}
