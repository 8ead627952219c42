/* Field sets (fieldset.h): structured-merge-diff's fieldpath.Set as a tree
 * whose nodes index their children by hashing the path element text, so
 * union, difference, intersection and look-ups cost O(size), not the
 * O(n^2) of searching cJSON objects. Serialization follows
 * sigs.k8s.io/structured-merge-diff fieldpath/serialize.go. */
#include "api/fieldset.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/strmap.h"

#define INDEX_FROM 8 /* children counts above this get a hash index */
#define MAX_DEPTH 64

struct api_fieldset {
  char *pe;
  size_t pelen;
  uint32_t hash;
  bool member;
  api_fieldset_t **kids; /* NULL entries are removed children */
  size_t n, cap, live;
  uint32_t *slots; /* open addressing: index+1 into kids; 0 = empty */
  size_t nslots;
};

/* Keyed SipHash (util/strmap): colliding path elements cannot be
 * precomputed to make look-ups quadratic. */
static uint32_t hash_of(const char *s, size_t len) { return (uint32_t)strmap_hash(s, len); }

static api_fieldset_t *node_new(const char *pe, size_t len, uint32_t hash) {
  api_fieldset_t *n = xcalloc(1, sizeof(*n));
  n->pe = xstrndup(pe ? pe : "", len);
  n->pelen = len;
  n->hash = hash;
  return n;
}

api_fieldset_t *api_fieldset_new(void) { return node_new("", 0, 0); }

void api_fieldset_free(api_fieldset_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    api_fieldset_free(s->kids[i]);
  free(s->kids);
  free(s->slots);
  free(s->pe);
  free(s);
}

static void index_rebuild(api_fieldset_t *s) {
  free(s->slots);
  s->slots = NULL;
  s->nslots = 0;
  if (s->live <= INDEX_FROM)
    return;
  size_t ns = 16;
  while (ns < s->live * 2)
    ns *= 2;
  s->slots = xcalloc(ns, sizeof(uint32_t));
  s->nslots = ns;
  for (size_t i = 0; i < s->n; i++) {
    if (!s->kids[i])
      continue;
    size_t j = s->kids[i]->hash & (ns - 1);
    while (s->slots[j])
      j = (j + 1) & (ns - 1);
    s->slots[j] = (uint32_t)(i + 1);
  }
}

/* Drop removed slots from kids when they are many. */
static void compact(api_fieldset_t *s) {
  if (s->n - s->live <= s->n / 2 && s->n - s->live < 64)
    return;
  size_t j = 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->kids[i])
      s->kids[j++] = s->kids[i];
  s->n = j;
  index_rebuild(s);
}

static long find(const api_fieldset_t *s, const char *pe, size_t len, uint32_t h) {
  if (s->slots) {
    size_t j = h & (s->nslots - 1);
    while (s->slots[j]) {
      const api_fieldset_t *k = s->kids[s->slots[j] - 1];
      if (k && k->hash == h && k->pelen == len && !memcmp(k->pe, pe, len))
        return (long)s->slots[j] - 1;
      j = (j + 1) & (s->nslots - 1);
    }
    return -1;
  }
  for (size_t i = 0; i < s->n; i++) {
    const api_fieldset_t *k = s->kids[i];
    if (k && k->hash == h && k->pelen == len && !memcmp(k->pe, pe, len))
      return (long)i;
  }
  return -1;
}

static void add_kid(api_fieldset_t *s, api_fieldset_t *k) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4;
    s->kids = xrealloc(s->kids, s->cap * sizeof(*s->kids));
  }
  s->kids[s->n++] = k;
  s->live++;
  if (s->live > INDEX_FROM && (!s->slots || s->live * 2 > s->nslots)) {
    index_rebuild(s);
  } else if (s->slots) {
    size_t j = k->hash & (s->nslots - 1);
    while (s->slots[j])
      j = (j + 1) & (s->nslots - 1);
    s->slots[j] = (uint32_t)s->n;
  }
}

api_fieldset_t *api_fieldset_child(api_fieldset_t *s, const char *pe, size_t len, bool create) {
  uint32_t h = hash_of(pe, len);
  long i = find(s, pe, len, h);
  if (i >= 0)
    return s->kids[i];
  if (!create)
    return NULL;
  api_fieldset_t *k = node_new(pe, len, h);
  add_kid(s, k);
  return k;
}

const api_fieldset_t *api_fieldset_get(const api_fieldset_t *s, const char *pe, size_t len) {
  if (!s)
    return NULL;
  long i = find(s, pe, len, hash_of(pe, len));
  return i >= 0 ? s->kids[i] : NULL;
}

/* Remove kid at index i (the index keeps pointing at a NULL slot, which
 * find skips; compact rebuilds). */
static void remove_at(api_fieldset_t *s, size_t i) {
  api_fieldset_free(s->kids[i]);
  s->kids[i] = NULL;
  s->live--;
}

void api_fieldset_remove(api_fieldset_t *s, const char *pe, size_t len) {
  long i = find(s, pe, len, hash_of(pe, len));
  if (i >= 0) {
    remove_at(s, (size_t)i);
    compact(s);
  }
}

bool api_fieldset_is_member(const api_fieldset_t *n) { return n && n->member; }
void api_fieldset_set_member(api_fieldset_t *n, bool member) { n->member = member; }
const char *api_fieldset_pe(const api_fieldset_t *n) { return n->pe; }
size_t api_fieldset_count(const api_fieldset_t *s) { return s ? s->n : 0; }
api_fieldset_t *api_fieldset_at(const api_fieldset_t *s, size_t i) { return s->kids[i]; }

static bool has_members_below(const api_fieldset_t *s, int depth) {
  if (depth > MAX_DEPTH)
    return false;
  for (size_t i = 0; i < s->n; i++) {
    const api_fieldset_t *k = s->kids[i];
    if (k && (k->member || has_members_below(k, depth + 1)))
      return true;
  }
  return false;
}

bool api_fieldset_empty(const api_fieldset_t *s) { return !s || !has_members_below(s, 0); }

static api_fieldset_t *copy_node(const api_fieldset_t *s, int depth) {
  api_fieldset_t *c = node_new(s->pe, s->pelen, s->hash);
  c->member = s->member;
  if (depth > MAX_DEPTH)
    return c;
  for (size_t i = 0; i < s->n; i++)
    if (s->kids[i])
      add_kid(c, copy_node(s->kids[i], depth + 1));
  return c;
}

api_fieldset_t *api_fieldset_copy(const api_fieldset_t *s) { return copy_node(s, 0); }

static void union_at(api_fieldset_t *a, const api_fieldset_t *b, int depth) {
  if (depth > MAX_DEPTH)
    return;
  for (size_t i = 0; i < b->n; i++) {
    const api_fieldset_t *k = b->kids[i];
    if (!k)
      continue;
    api_fieldset_t *c = api_fieldset_child(a, k->pe, k->pelen, true);
    c->member |= k->member;
    union_at(c, k, depth + 1);
  }
}

void api_fieldset_union(api_fieldset_t *a, const api_fieldset_t *b) { union_at(a, b, 0); }

static void subtract_at(api_fieldset_t *a, const api_fieldset_t *b, int depth) {
  if (depth > MAX_DEPTH)
    return;
  bool removed = false;
  for (size_t i = 0; i < a->n; i++) {
    api_fieldset_t *k = a->kids[i];
    if (!k)
      continue;
    long j = find(b, k->pe, k->pelen, k->hash);
    if (j < 0)
      continue;
    const api_fieldset_t *o = b->kids[j];
    if (o->member)
      k->member = false;
    subtract_at(k, o, depth + 1);
    if (!k->member && k->live == 0) {
      remove_at(a, i);
      removed = true;
    }
  }
  if (removed)
    compact(a);
}

void api_fieldset_subtract(api_fieldset_t *a, const api_fieldset_t *b) { subtract_at(a, b, 0); }

static api_fieldset_t *intersect_at(const api_fieldset_t *a, const api_fieldset_t *b, int depth) {
  api_fieldset_t *out = node_new(a->pe, a->pelen, a->hash);
  if (depth > MAX_DEPTH)
    return out;
  /* walk the smaller side */
  const api_fieldset_t *x = a->live <= b->live ? a : b, *y = x == a ? b : a;
  for (size_t i = 0; i < x->n; i++) {
    const api_fieldset_t *k = x->kids[i];
    if (!k)
      continue;
    long j = find(y, k->pe, k->pelen, k->hash);
    if (j < 0)
      continue;
    api_fieldset_t *c = intersect_at(k, y->kids[j], depth + 1);
    c->member = k->member && y->kids[j]->member;
    if (c->member || c->live)
      add_kid(out, c);
    else
      api_fieldset_free(c);
  }
  return out;
}

api_fieldset_t *api_fieldset_intersect(const api_fieldset_t *a, const api_fieldset_t *b) {
  api_fieldset_t *r = intersect_at(a, b, 0);
  r->member = false;
  return r;
}

static void prune_at(api_fieldset_t *s, int depth) {
  bool removed = false;
  for (size_t i = 0; i < s->n; i++) {
    api_fieldset_t *k = s->kids[i];
    if (!k)
      continue;
    if (depth < MAX_DEPTH)
      prune_at(k, depth + 1);
    if (!k->member && k->live == 0) {
      remove_at(s, i);
      removed = true;
    }
  }
  if (removed)
    compact(s);
}

void api_fieldset_prune(api_fieldset_t *s) { prune_at(s, 0); }

/* ---- JSON values as Go writes them ---- */

static int write_string(buf_t *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  int r = buf_append(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (r == 0 && *p) {
    unsigned char c = *p;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      r = buf_append(b, esc, 2);
      p++;
    } else if (c == '\n') {
      r = buf_append(b, "\\n", 2), p++;
    } else if (c == '\r') {
      r = buf_append(b, "\\r", 2), p++;
    } else if (c == '\t') {
      r = buf_append(b, "\\t", 2), p++;
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      r = buf_append(b, esc, 6);
      p++;
    } else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
      r = buf_append_str(b, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
      p += 3;
    } else {
      /* copy one UTF-8 sequence; invalid bytes become U+FFFD as in Go */
      size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      bool ok = n > 0;
      for (size_t i = 1; ok && i < n; i++)
        ok = (p[i] & 0xc0) == 0x80;
      if (ok) {
        r = buf_append(b, p, n);
        p += n;
      } else {
        r = buf_append_str(b, "\\ufffd");
        p++;
      }
    }
  }
  return r ? r : buf_append(b, "\"", 1);
}

static int write_number(buf_t *b, double d) {
  if (!isfinite(d))
    return -ERANGE; /* 1e999 parses to infinity, which JSON cannot write back */
  if (d == trunc(d) && fabs(d) < 1e21) {
    if (fabs(d) < 9.2e18)
      return buf_printf(b, "%lld", (long long)d);
    return buf_printf(b, "%.0f", d);
  }
  char tmp[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  return buf_append_str(b, tmp);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static int write_value(buf_t *b, const cJSON *v, int depth) {
  if (depth > MAX_DEPTH)
    return -E2BIG;
  if (cJSON_IsString(v))
    return write_string(b, v->valuestring ? v->valuestring : "");
  if (cJSON_IsNumber(v))
    return write_number(b, v->valuedouble);
  if (cJSON_IsTrue(v))
    return buf_append_str(b, "true");
  if (cJSON_IsFalse(v))
    return buf_append_str(b, "false");
  if (cJSON_IsArray(v)) {
    int r = buf_append(b, "[", 1);
    for (const cJSON *c = v->child; c && !r; c = c->next) {
      if (c != v->child)
        r = buf_append(b, ",", 1);
      if (!r)
        r = write_value(b, c, depth + 1);
    }
    return r ? r : buf_append(b, "]", 1);
  }
  if (cJSON_IsObject(v)) {
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
      n++;
    const cJSON **keys = xmalloc((n ? n : 1) * sizeof(*keys));
    n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
      keys[n++] = c;
    qsort(keys, n, sizeof(*keys), cmp_keys);
    int r = buf_append(b, "{", 1);
    for (size_t i = 0; i < n && !r; i++) {
      if (i)
        r = buf_append(b, ",", 1);
      if (!r)
        r = write_string(b, keys[i]->string);
      if (!r)
        r = buf_append(b, ":", 1);
      if (!r)
        r = write_value(b, keys[i], depth + 1);
    }
    free(keys);
    return r ? r : buf_append(b, "}", 1);
  }
  return buf_append_str(b, "null");
}

int api_fieldset_write_value(buf_t *b, const cJSON *v) { return write_value(b, v, 0); }

static int type_rank(const cJSON *v) {
  if (cJSON_IsNumber(v))
    return 0;
  if (cJSON_IsString(v))
    return 1;
  if (cJSON_IsBool(v))
    return 2;
  if (cJSON_IsArray(v))
    return 3;
  if (cJSON_IsObject(v))
    return 4;
  return 5;
}

static int value_cmp(const cJSON *a, const cJSON *b, int depth) {
  int ra = type_rank(a), rb = type_rank(b);
  if (ra != rb)
    return ra < rb ? -1 : 1;
  if (depth > MAX_DEPTH)
    return 0;
  switch (ra) {
  case 0:
    return a->valuedouble < b->valuedouble ? -1 : a->valuedouble > b->valuedouble;
  case 1: {
    int c = strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "");
    return c < 0 ? -1 : c > 0;
  }
  case 2:
    return cJSON_IsTrue(a) == cJSON_IsTrue(b) ? 0 : cJSON_IsTrue(a) ? 1 : -1;
  case 3: {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next) {
      int c = value_cmp(x, y, depth + 1);
      if (c)
        return c;
    }
    return x ? 1 : y ? -1 : 0;
  }
  case 4: {
    /* by sorted keys, then values; fewer keys first on a common prefix */
    buf_t sa, sb;
    buf_init(&sa, 1 << 20);
    buf_init(&sb, 1 << 20);
    write_value(&sa, a, depth);
    write_value(&sb, b, depth);
    int c = strcmp(sa.data ? sa.data : "", sb.data ? sb.data : "");
    buf_done(&sa);
    buf_done(&sb);
    return c < 0 ? -1 : c > 0;
  }
  default:
    return 0;
  }
}

int api_fieldset_value_cmp(const cJSON *a, const cJSON *b) { return value_cmp(a, b, 0); }

static int pe_rank(char c) {
  switch (c) {
  case 'f':
    return 0;
  case 'k':
    return 1;
  case 'v':
    return 2;
  case 'i':
    return 3;
  default:
    return 4;
  }
}

/* Key field lists compare field by field (name, then value), shorter first. */
static int key_cmp(const cJSON *a, const cJSON *b) {
  const cJSON *x = a ? a->child : NULL, *y = b ? b->child : NULL;
  for (; x && y; x = x->next, y = y->next) {
    int c = strcmp(x->string, y->string);
    if (c)
      return c < 0 ? -1 : 1;
    c = value_cmp(x, y, 0);
    if (c)
      return c;
  }
  return x ? 1 : y ? -1 : 0;
}

/* Compare two path elements, given their parsed JSON (k:, v:) when known. */
static int pe_cmp_parsed(const char *a, const cJSON *ja, const char *b, const cJSON *jb) {
  int ra = pe_rank(a[0]), rb = pe_rank(b[0]);
  if (ra != rb)
    return ra < rb ? -1 : 1;
  switch (a[0]) {
  case 'k':
    return key_cmp(ja, jb);
  case 'v':
    return value_cmp(ja, jb, 0);
  case 'i': {
    long x = strtol(a + 2, NULL, 10), y = strtol(b + 2, NULL, 10);
    return x < y ? -1 : x > y;
  }
  default: {
    int c = strcmp(a + (a[0] ? 2 : 0), b + (b[0] ? 2 : 0));
    return c < 0 ? -1 : c > 0;
  }
  }
}

int api_fieldset_pe_cmp(const char *a, const char *b) {
  cJSON *ja = (a[0] == 'k' || a[0] == 'v') ? cJSON_Parse(a + 2) : NULL;
  cJSON *jb = (b[0] == 'k' || b[0] == 'v') ? cJSON_Parse(b + 2) : NULL;
  int c = pe_cmp_parsed(a, ja, b, jb);
  cJSON_Delete(ja);
  cJSON_Delete(jb);
  return c;
}

void api_fieldset_pe_text(buf_t *b, const char *pe) {
  if (pe[0] == 'f') {
    buf_printf(b, ".%s", pe + 2);
  } else if (pe[0] == 'k') {
    cJSON *key = cJSON_Parse(pe + 2);
    buf_append_str(b, "[");
    int n = 0;
    for (const cJSON *kv = key ? key->child : NULL; kv; kv = kv->next) {
      buf_printf(b, "%s%s=", n++ ? "," : "", kv->string);
      if (cJSON_IsString(kv))
        write_string(b, kv->valuestring);
      else
        write_value(b, kv, 0);
    }
    buf_append_str(b, "]");
    cJSON_Delete(key);
  } else if (pe[0] == 'v') {
    buf_printf(b, "[=%s]", pe + 2);
  } else if (pe[0] == 'i') {
    buf_printf(b, "[%s]", pe + 2);
  }
}

/* ---- FieldsV1 ---- */

typedef struct {
  const api_fieldset_t *node;
  cJSON *parsed;
} sort_item_t;

static int sort_cmp(const void *x, const void *y) {
  const sort_item_t *a = x, *b = y;
  return pe_cmp_parsed(a->node->pe, a->parsed, b->node->pe, b->parsed);
}

/* NULL when nothing at or below s is a member. */
static cJSON *to_json(const api_fieldset_t *s, int depth) {
  cJSON *o = cJSON_CreateObject();
  if (s->member)
    cJSON_AddItemToObject(o, ".", cJSON_CreateObject());
  if (depth <= MAX_DEPTH && s->live) {
    sort_item_t *items = xmalloc(s->live * sizeof(*items));
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
      const api_fieldset_t *k = s->kids[i];
      if (!k)
        continue;
      items[n].node = k;
      items[n].parsed = (k->pe[0] == 'k' || k->pe[0] == 'v') ? cJSON_Parse(k->pe + 2) : NULL;
      n++;
    }
    qsort(items, n, sizeof(*items), sort_cmp);
    for (size_t i = 0; i < n; i++) {
      const api_fieldset_t *k = items[i].node;
      cJSON *sub = to_json(k, depth + 1);
      if (sub)
        cJSON_AddItemToObject(o, k->pe, sub);
      cJSON_Delete(items[i].parsed);
    }
    free(items);
  }
  if (!s->member && !o->child) {
    cJSON_Delete(o);
    return NULL;
  }
  if (s->member && !o->child->next) /* only ".": a leaf */
    cJSON_DeleteItemFromObjectCaseSensitive(o, ".");
  return o;
}

cJSON *api_fieldset_to_json(const api_fieldset_t *s) {
  cJSON *o = to_json(s, 1);
  return o ? o : cJSON_CreateObject();
}

/* Canonical text of one FieldsV1 key; 1 = skip (unknown kind). */
static int canon_pe(const char *key, buf_t *out, char *err, size_t errlen) {
  size_t len = strlen(key);
  if (len < 2 || key[1] != ':') {
    snprintf(err, errlen, "parsing key as path element: key must be 2 characters long: %.100s", key);
    return -EINVAL;
  }
  switch (key[0]) {
  case 'f':
  case 'i':
    buf_append_str(out, key);
    return 0;
  case 'v':
  case 'k': {
    /* the whole rest of the key is one JSON value: nothing may follow it */
    cJSON *v = cJSON_ParseWithOpts(key + 2, NULL, true);
    if (!v || (key[0] == 'k' && !cJSON_IsObject(v))) {
      cJSON_Delete(v);
      snprintf(err, errlen, "parsing key as path element: invalid JSON in %.100s", key);
      return -EINVAL;
    }
    buf_append(out, key, 2);
    int r = write_value(out, v, 0);
    cJSON_Delete(v);
    if (r < 0)
      snprintf(err, errlen, "parsing key as path element: a number out of range in %.100s", key);
    return r;
  }
  default:
    return 1;
  }
}

static int from_json(const cJSON *o, api_fieldset_t *node, int depth, char *err, size_t errlen) {
  if (depth > MAX_DEPTH) {
    snprintf(err, errlen, "managedFields nest too deep");
    return -EINVAL;
  }
  if (!cJSON_IsObject(o)) {
    snprintf(err, errlen, "managedFields parsing: expected an object");
    return -EINVAL;
  }
  buf_t pe;
  buf_init(&pe, 1 << 20);
  int r = 0;
  for (const cJSON *c = o->child; c && !r; c = c->next) {
    if (!strcmp(c->string, "."))
      continue;
    buf_reset(&pe);
    int k = canon_pe(c->string, &pe, err, errlen);
    if (k < 0) {
      r = k;
      break;
    }
    if (k == 1)
      continue;
    api_fieldset_t *child = api_fieldset_child(node, pe.data, pe.len, true);
    bool leaf = cJSON_IsObject(c) && !c->child;
    bool self = cJSON_GetObjectItemCaseSensitive(c, ".") != NULL;
    if (leaf || self)
      child->member = true;
    if (!leaf)
      r = from_json(c, child, depth + 1, err, errlen);
  }
  buf_done(&pe);
  return r;
}

int api_fieldset_from_json(const cJSON *fields, api_fieldset_t **ret_set, char *err, size_t errlen) {
  api_fieldset_t *s = api_fieldset_new();
  int r = fields ? from_json(fields, s, 0, err, errlen) : 0;
  if (r < 0) {
    api_fieldset_free(s);
    return r;
  }
  *ret_set = s;
  return 0;
}
