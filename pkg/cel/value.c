/* CEL values: reference-counted immutable scalars, lists and maps (a map
 * indexes its keys by hash once it grows, keys compare with CEL's
 * heterogeneous numeric equality), equality and ordering as cel-spec
 * defines them, type values, RFC 3339 timestamps and JSON out.
 * https://github.com/google/cel-spec/blob/master/doc/langdef.md#equality */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "util/alloc.h"
#include "util/base64.h"

struct cel_value {
  int refs;
  cel_kind_t kind;
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    struct {
      char *s; /* NUL-terminated beyond len: string, bytes, error, type */
      size_t len;
    } str;
    struct {
      int64_t sec;
      int32_t ns;
    } time;
    struct {
      cel_value_t **items;
      size_t len, cap;
    } list;
    struct {
      cel_value_t **keys, **vals;
      size_t len, cap;
      size_t *index; /* open addressing, entry+1 (0: empty); NULL below INDEX_MIN */
      size_t index_cap;
    } map;
    cel_value_t *opt; /* NULL: none */
    struct {
      const cel_opaque_type_t *type;
      void *data;
    } opaque;
  };
};

#define INDEX_MIN 8

static cel_value_t *vnew(cel_kind_t kind) {
  cel_value_t *v = xcalloc(1, sizeof(*v));
  v->refs = 1;
  v->kind = kind;
  return v;
}

cel_kind_t cel_value_kind(const cel_value_t *v) { return v->kind; }

/* Programs (and so their constants) may be shared between threads. */
cel_value_t *cel_value_ref(cel_value_t *v) {
  if (v)
    __atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
  return v;
}

void cel_value_unref(cel_value_t *v) {
  if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) > 0)
    return;
  switch (v->kind) {
  case CEL_STRING:
  case CEL_BYTES:
  case CEL_ERROR:
  case CEL_TYPE: free(v->str.s); break;
  case CEL_LIST:
    for (size_t i = 0; i < v->list.len; i++)
      cel_value_unref(v->list.items[i]);
    free(v->list.items);
    break;
  case CEL_MAP:
    for (size_t i = 0; i < v->map.len; i++) {
      cel_value_unref(v->map.keys[i]);
      cel_value_unref(v->map.vals[i]);
    }
    free(v->map.keys);
    free(v->map.vals);
    free(v->map.index);
    break;
  case CEL_OPTIONAL: cel_value_unref(v->opt); break;
  case CEL_OPAQUE:
    if (v->opaque.type->free)
      v->opaque.type->free(v->opaque.data);
    break;
  default: break;
  }
  free(v);
}

/* ---- constructors ---- */

cel_value_t *cel_null(void) { return vnew(CEL_NULL); }

cel_value_t *cel_bool(bool b) {
  cel_value_t *v = vnew(CEL_BOOL);
  v->b = b;
  return v;
}

cel_value_t *cel_int(int64_t i) {
  cel_value_t *v = vnew(CEL_INT);
  v->i = i;
  return v;
}

cel_value_t *cel_uint(uint64_t u) {
  cel_value_t *v = vnew(CEL_UINT);
  v->u = u;
  return v;
}

cel_value_t *cel_double(double d) {
  cel_value_t *v = vnew(CEL_DOUBLE);
  v->d = d;
  return v;
}

static cel_value_t *strval(cel_kind_t kind, const void *p, size_t len) {
  cel_value_t *v = vnew(kind);
  v->str.s = xmalloc(len + 1);
  if (len)
    memcpy(v->str.s, p, len);
  v->str.s[len] = 0;
  v->str.len = len;
  return v;
}

cel_value_t *cel_string(const char *s, size_t len) { return strval(CEL_STRING, s, len); }
cel_value_t *cel_stringz(const char *s) { return strval(CEL_STRING, s, strlen(s)); }
cel_value_t *cel_bytes(const void *p, size_t len) { return strval(CEL_BYTES, p, len); }

cel_value_t *cel_timestamp(int64_t seconds, int32_t nanos) {
  cel_value_t *v = vnew(CEL_TIMESTAMP);
  v->time.sec = seconds;
  v->time.ns = nanos;
  return v;
}

cel_value_t *cel_duration(int64_t seconds, int32_t nanos) {
  cel_value_t *v = vnew(CEL_DURATION);
  v->time.sec = seconds;
  v->time.ns = nanos;
  return v;
}

cel_value_t *cel_optional(cel_value_t *x) {
  cel_value_t *v = vnew(CEL_OPTIONAL);
  v->opt = x;
  return v;
}

cel_value_t *cel_opaque(const cel_opaque_type_t *t, void *data) {
  cel_value_t *v = vnew(CEL_OPAQUE);
  v->opaque.type = t;
  v->opaque.data = data;
  return v;
}

cel_value_t *cel_errorf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0)
    return strval(CEL_ERROR, "error", 5);
  cel_value_t *v = strval(CEL_ERROR, s, (size_t)n);
  free(s);
  return v;
}

cel_value_t *cel_type_value(const char *name) { return strval(CEL_TYPE, name, strlen(name)); }

const char *cel_value_type_value_name(const cel_value_t *v) { return v->str.s; }

/* ---- lists ---- */

cel_value_t *cel_list_new(size_t capacity) {
  cel_value_t *v = vnew(CEL_LIST);
  if (capacity) {
    v->list.items = xmalloc(capacity * sizeof(*v->list.items));
    v->list.cap = capacity;
  }
  return v;
}

void cel_list_push(cel_value_t *list, cel_value_t *v) {
  if (list->list.len == list->list.cap) {
    list->list.cap = list->list.cap ? list->list.cap * 2 : 4;
    list->list.items = xrealloc(list->list.items, list->list.cap * sizeof(*list->list.items));
  }
  list->list.items[list->list.len++] = v;
}

size_t cel_list_len(const cel_value_t *list) { return list->list.len; }
cel_value_t *cel_list_at(const cel_value_t *list, size_t i) { return list->list.items[i]; }

/* ---- maps ---- */

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/* Keys equal under heterogeneous equality hash alike: a number hashes as
 * the int it equals, when it equals one. */
static uint64_t key_hash(const cel_value_t *k) {
  switch (k->kind) {
  case CEL_BOOL: return mix(k->b ? 3 : 5);
  case CEL_INT: return mix((uint64_t)k->i);
  case CEL_UINT: return mix(k->u);
  case CEL_DOUBLE:
    if (k->d == floor(k->d) && k->d >= -9223372036854775808.0 && k->d < 9223372036854775808.0)
      return mix((uint64_t)(int64_t)k->d);
    if (k->d == floor(k->d) && k->d >= 0 && k->d < 18446744073709551616.0)
      return mix((uint64_t)k->d);
    return mix(0x7ff8);
  case CEL_STRING: {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < k->str.len; i++)
      h = (h ^ (unsigned char)k->str.s[i]) * 1099511628211ULL;
    return mix(h);
  }
  default: return 0;
  }
}

static bool key_equal(const cel_value_t *a, const cel_value_t *b) {
  if (a->kind == CEL_STRING || b->kind == CEL_STRING)
    return a->kind == b->kind && a->str.len == b->str.len && !memcmp(a->str.s, b->str.s, a->str.len);
  return cel_value_equal(a, b);
}

static void index_insert(cel_value_t *m, size_t entry) {
  size_t mask = m->map.index_cap - 1;
  for (size_t h = (size_t)key_hash(m->map.keys[entry]) & mask;; h = (h + 1) & mask)
    if (!m->map.index[h]) {
      m->map.index[h] = entry + 1;
      return;
    }
}

static void index_rebuild(cel_value_t *m) {
  free(m->map.index);
  m->map.index_cap = 16;
  while (m->map.index_cap < m->map.len * 2)
    m->map.index_cap *= 2;
  m->map.index = xcalloc(m->map.index_cap, sizeof(*m->map.index));
  for (size_t i = 0; i < m->map.len; i++)
    index_insert(m, i);
}

/* The entry of key, or -1. */
static ssize_t map_find(const cel_value_t *m, const cel_value_t *key) {
  if (!m->map.index) {
    for (size_t i = 0; i < m->map.len; i++)
      if (key_equal(m->map.keys[i], key))
        return (ssize_t)i;
    return -1;
  }
  size_t mask = m->map.index_cap - 1;
  for (size_t h = (size_t)key_hash(key) & mask; m->map.index[h]; h = (h + 1) & mask)
    if (key_equal(m->map.keys[m->map.index[h] - 1], key))
      return (ssize_t)(m->map.index[h] - 1);
  return -1;
}

cel_value_t *cel_map_new(size_t capacity) {
  cel_value_t *v = vnew(CEL_MAP);
  if (capacity) {
    v->map.keys = xmalloc(capacity * sizeof(cel_value_t *));
    v->map.vals = xmalloc(capacity * sizeof(cel_value_t *));
    v->map.cap = capacity;
  }
  return v;
}

void cel_map_put(cel_value_t *m, cel_value_t *key, cel_value_t *value) {
  ssize_t i = map_find(m, key);
  if (i >= 0) {
    cel_value_unref(m->map.keys[i]);
    cel_value_unref(m->map.vals[i]);
    m->map.keys[i] = key;
    m->map.vals[i] = value;
    return;
  }
  if (m->map.len == m->map.cap) {
    m->map.cap = m->map.cap ? m->map.cap * 2 : 4;
    m->map.keys = xrealloc(m->map.keys, m->map.cap * sizeof(cel_value_t *));
    m->map.vals = xrealloc(m->map.vals, m->map.cap * sizeof(cel_value_t *));
  }
  size_t n = m->map.len++;
  m->map.keys[n] = key;
  m->map.vals[n] = value;
  if (m->map.len >= INDEX_MIN && m->map.len * 2 > m->map.index_cap)
    index_rebuild(m);
  else if (m->map.index)
    index_insert(m, n);
}

size_t cel_map_len(const cel_value_t *m) { return m->map.len; }

cel_value_t *cel_map_get(const cel_value_t *m, const cel_value_t *key) {
  ssize_t i = map_find(m, key);
  return i >= 0 ? m->map.vals[i] : NULL;
}

cel_value_t *cel_map_getz(const cel_value_t *m, const char *key) {
  cel_value_t k = {.refs = 1, .kind = CEL_STRING, .str = {.s = (char *)key, .len = strlen(key)}};
  return cel_map_get(m, &k);
}

void cel_map_entry(const cel_value_t *m, size_t i, cel_value_t **ret_key, cel_value_t **ret_value) {
  *ret_key = m->map.keys[i];
  *ret_value = m->map.vals[i];
}

/* ---- readers ---- */

bool cel_value_bool(const cel_value_t *v) { return v->b; }
int64_t cel_value_int(const cel_value_t *v) { return v->i; }
uint64_t cel_value_uint(const cel_value_t *v) { return v->u; }
double cel_value_double(const cel_value_t *v) { return v->d; }

const char *cel_value_str(const cel_value_t *v, size_t *ret_len) {
  if (ret_len)
    *ret_len = v->str.len;
  return v->str.s;
}

void cel_value_time(const cel_value_t *v, int64_t *ret_seconds, int32_t *ret_nanos) {
  *ret_seconds = v->time.sec;
  *ret_nanos = v->time.ns;
}

cel_value_t *cel_value_optional(const cel_value_t *v) { return v->opt; }
const cel_opaque_type_t *cel_value_opaque_type(const cel_value_t *v) { return v->opaque.type; }
void *cel_value_opaque(const cel_value_t *v) { return v->opaque.data; }
const char *cel_value_error(const cel_value_t *v) { return v->str.s; }

const char *cel_value_type_name(const cel_value_t *v) {
  switch (v->kind) {
  case CEL_NULL: return "null_type";
  case CEL_BOOL: return "bool";
  case CEL_INT: return "int";
  case CEL_UINT: return "uint";
  case CEL_DOUBLE: return "double";
  case CEL_STRING: return "string";
  case CEL_BYTES: return "bytes";
  case CEL_LIST: return "list";
  case CEL_MAP: return "map";
  case CEL_TYPE: return "type";
  case CEL_TIMESTAMP: return "google.protobuf.Timestamp";
  case CEL_DURATION: return "google.protobuf.Duration";
  case CEL_OPTIONAL: return "optional_type";
  case CEL_OPAQUE: return v->opaque.type->name;
  case CEL_ERROR: return "*error*";
  }
  return "dyn";
}

/* ---- equality and ordering ---- */

static int cmp3(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static int cmp_double(double a, double b) {
  return a < b ? -1 : a > b;
}

/* int or uint vs double as cel-go compares them (common/types/compare.go):
 * outside the integer's range decides, else both as doubles (so 2^63-1
 * equals 2^63.0); -2 for NaN */
static int cmp_int_double(int64_t i, double d) {
  if (isnan(d))
    return -2;
  if (d < -9223372036854775808.0)
    return 1;
  if (d > 9223372036854775808.0)
    return -1;
  return cmp_double((double)i, d);
}

static int cmp_uint_double(uint64_t u, double d) {
  if (isnan(d))
    return -2;
  if (d < 0)
    return 1;
  if (d > 18446744073709551616.0)
    return -1;
  return cmp_double((double)u, d);
}

static int cmp_num(const cel_value_t *a, const cel_value_t *b) {
  switch (a->kind) {
  case CEL_INT:
    if (b->kind == CEL_INT)
      return cmp3(a->i, b->i);
    if (b->kind == CEL_UINT)
      return a->i < 0 ? -1 : ((uint64_t)a->i < b->u ? -1 : (uint64_t)a->i > b->u);
    return cmp_int_double(a->i, b->d);
  case CEL_UINT:
    if (b->kind == CEL_UINT)
      return a->u < b->u ? -1 : a->u > b->u;
    if (b->kind == CEL_INT)
      return -cmp_num(b, a);
    return cmp_uint_double(a->u, b->d);
  default: /* double */
    if (b->kind == CEL_DOUBLE) {
      if (isnan(a->d) || isnan(b->d))
        return -2;
      return a->d < b->d ? -1 : a->d > b->d;
    }
    {
      int c = cmp_num(b, a);
      return c == -2 ? -2 : -c;
    }
  }
}

static bool is_num(const cel_value_t *v) { return v->kind == CEL_INT || v->kind == CEL_UINT || v->kind == CEL_DOUBLE; }

static int cmp_bytes(const cel_value_t *a, const cel_value_t *b) {
  size_t n = a->str.len < b->str.len ? a->str.len : b->str.len;
  int c = memcmp(a->str.s, b->str.s, n);
  if (c)
    return c < 0 ? -1 : 1;
  return a->str.len < b->str.len ? -1 : a->str.len > b->str.len;
}

bool cel_value_equal(const cel_value_t *a, const cel_value_t *b) {
  if (is_num(a) && is_num(b))
    return cmp_num(a, b) == 0;
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case CEL_NULL: return true;
  case CEL_BOOL: return a->b == b->b;
  case CEL_STRING:
  case CEL_BYTES: return a->str.len == b->str.len && !memcmp(a->str.s, b->str.s, a->str.len);
  case CEL_TYPE: return !strcmp(a->str.s, b->str.s);
  case CEL_TIMESTAMP:
  case CEL_DURATION: return a->time.sec == b->time.sec && a->time.ns == b->time.ns;
  case CEL_LIST:
    if (a->list.len != b->list.len)
      return false;
    for (size_t i = 0; i < a->list.len; i++)
      if (!cel_value_equal(a->list.items[i], b->list.items[i]))
        return false;
    return true;
  case CEL_MAP:
    if (a->map.len != b->map.len)
      return false;
    for (size_t i = 0; i < a->map.len; i++) {
      const cel_value_t *bv = cel_map_get(b, a->map.keys[i]);
      if (!bv || !cel_value_equal(a->map.vals[i], bv))
        return false;
    }
    return true;
  case CEL_OPTIONAL:
    if (!a->opt || !b->opt)
      return !a->opt && !b->opt;
    return cel_value_equal(a->opt, b->opt);
  case CEL_OPAQUE:
    if (a->opaque.type != b->opaque.type)
      return false;
    if (a->opaque.type->equal)
      return a->opaque.type->equal(a->opaque.data, b->opaque.data);
    return a->opaque.data == b->opaque.data;
  default: return false; /* errors: the evaluator's business */
  }
}

int cel_value_compare(const cel_value_t *a, const cel_value_t *b) {
  if (is_num(a) && is_num(b))
    return cmp_num(a, b);
  if (a->kind != b->kind)
    return -2;
  switch (a->kind) {
  case CEL_BOOL: return (int)a->b - (int)b->b;
  case CEL_STRING:
  case CEL_BYTES: return cmp_bytes(a, b);
  case CEL_TIMESTAMP:
  case CEL_DURATION:
    if (a->time.sec != b->time.sec)
      return cmp3(a->time.sec, b->time.sec);
    return cmp3(a->time.ns, b->time.ns);
  default: return -2;
  }
}

/* ---- timestamps ---- */

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, int *ret) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (s[i] - '0');
  }
  *ret = v;
  return true;
}

#define TS_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

int cel_timestamp_parse(const char *s, size_t len, int64_t *ret_seconds, int32_t *ret_nanos) {
  int y, mo, d, h, mi, sec;
  if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
      !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
      !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
    return -EINVAL;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 ||
      sec > 59)
    return -EINVAL;
  size_t i = 19;
  int32_t ns = 0;
  if (i < len && s[i] == '.') {
    i++;
    size_t nd = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (nd < 9)
        ns = ns * 10 + (s[i] - '0');
      nd++, i++;
    }
    if (nd == 0)
      return -EINVAL;
    for (size_t k = nd; k < 9; k++)
      ns *= 10;
  }
  int64_t off = 0;
  if (i < len && (s[i] == 'Z' || s[i] == 'z'))
    i++;
  else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
      return -EINVAL;
    off = (int64_t)oh * 3600 + om * 60;
    if (s[i] == '-')
      off = -off;
    i += 6;
  } else
    return -EINVAL;
  if (i != len)
    return -EINVAL;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off;
  if (t < TS_MIN || t > TS_MAX)
    return -EINVAL;
  *ret_seconds = t;
  *ret_nanos = ns;
  return 0;
}

static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *ret_y = y + (m <= 2);
  *ret_m = m;
  *ret_d = d;
}

/* fractional digits as protobuf's JSON writes them: 0, 3, 6 or 9 */
static void frac(char *out, size_t len, int32_t ns) {
  if (!ns)
    out[0] = 0;
  else if (ns % 1000000 == 0)
    snprintf(out, len, ".%03d", ns / 1000000);
  else if (ns % 1000 == 0)
    snprintf(out, len, ".%06d", ns / 1000);
  else
    snprintf(out, len, ".%09d", ns);
}

/* ---- JSON out ---- */

static cJSON *to_json(const cel_value_t *v, int depth) {
  if (depth > 1000)
    return NULL;
  char buf[96], f[16];
  switch (v->kind) {
  case CEL_NULL: return cJSON_CreateNull();
  case CEL_BOOL: return cJSON_CreateBool(v->b);
  case CEL_INT: return cJSON_CreateNumber((double)v->i);
  case CEL_UINT: return cJSON_CreateNumber((double)v->u);
  case CEL_DOUBLE: return isfinite(v->d) ? cJSON_CreateNumber(v->d) : NULL;
  case CEL_STRING: return cJSON_CreateString(v->str.s);
  case CEL_BYTES: {
    char *b = base64_encode(v->str.s, v->str.len);
    cJSON *j = cJSON_CreateString(b);
    free(b);
    return j;
  }
  case CEL_TIMESTAMP: {
    int64_t days = v->time.sec >= 0 ? v->time.sec / 86400 : -((-v->time.sec + 86399) / 86400);
    int64_t rem = v->time.sec - days * 86400, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    frac(f, sizeof(f), v->time.ns);
    snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d%sZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), f);
    return cJSON_CreateString(buf);
  }
  case CEL_DURATION: {
    int64_t sec = v->time.sec;
    int32_t ns = v->time.ns;
    bool neg = sec < 0 || ns < 0;
    frac(f, sizeof(f), ns < 0 ? -ns : ns);
    snprintf(buf, sizeof(buf), "%s%llu%ss", neg ? "-" : "",
             (unsigned long long)(sec < 0 ? -(uint64_t)sec : (uint64_t)sec), f);
    return cJSON_CreateString(buf);
  }
  case CEL_LIST: {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < v->list.len; i++) {
      cJSON *e = to_json(v->list.items[i], depth + 1);
      if (!e) {
        cJSON_Delete(a);
        return NULL;
      }
      cJSON_AddItemToArray(a, e);
    }
    return a;
  }
  case CEL_MAP: {
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < v->map.len; i++) {
      const cel_value_t *k = v->map.keys[i];
      const char *ks = buf;
      if (k->kind == CEL_STRING)
        ks = k->str.s;
      else if (k->kind == CEL_INT)
        snprintf(buf, sizeof(buf), "%lld", (long long)k->i);
      else if (k->kind == CEL_UINT)
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)k->u);
      else if (k->kind == CEL_BOOL)
        ks = k->b ? "true" : "false";
      else {
        cJSON_Delete(o);
        return NULL;
      }
      cJSON *e = to_json(v->map.vals[i], depth + 1);
      if (!e) {
        cJSON_Delete(o);
        return NULL;
      }
      cJSON_AddItemToObject(o, ks, e);
    }
    return o;
  }
  case CEL_OPTIONAL: return v->opt ? to_json(v->opt, depth + 1) : cJSON_CreateNull();
  default: return NULL;
  }
}

cJSON *cel_value_to_json(const cel_value_t *v) { return to_json(v, 0); }
