/* pkg/api/pb: decode Kubernetes protobuf request bodies
 * (application/vnd.kubernetes.protobuf) into their JSON form, driven by the
 * generated schema tables. Implements the "k8s\0" + runtime.Unknown envelope
 * of k8s.io/apimachinery/pkg/runtime/serializer/protobuf and the gogo-proto
 * wire encoding of k8s.io/api generated.proto (proto2, non-packed repeats). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/schema_tables.h"
#include "json/strict.h"
#include "proto/proto.h"
#include "util/alloc.h"

#define PB_MAX_DEPTH 48

/* The wire format is pkg/proto's; these names keep the decoder short. */
#define WT_VARINT PROTO_VARINT
#define WT_FIXED64 PROTO_I64
#define WT_LEN PROTO_LEN

typedef struct {
  char *err;
  size_t errlen;
} pbctx_t;

static int fail(pbctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(pbctx_t *c, const char *fmt, ...) {
  if (c->err && c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

typedef proto_reader_t rd_t;
typedef proto_field_t pbfield_t;

static int rd_varint(rd_t *r, uint64_t *ret) { return proto_varint_read(&r->p, r->end, ret); }

/* One field (groups come back whole and are skipped as unknown fields). */
static int rd_field(rd_t *r, pbfield_t *f) { return proto_reader_next(r, f) > 0 ? 0 : -1; }

/* A protobuf string as JSON: invalid UTF-8 becomes U+FFFD (as Go's JSON
 * encoder would write it); a NUL byte is refused, as in JSON bodies
 * (docs/SECURITY.md "Decoding"): cJSON would cut the string there. */
static int string_n(pbctx_t *c, const uint8_t *p, size_t n, cJSON **ret) {
  if (memchr(p, 0, n))
    return fail(c, "strings may not contain the NUL character");
  char *s = json_utf8_sanitize((const char *)p, n);
  *ret = cJSON_CreateString(s);
  free(s);
  return 0;
}

static cJSON *base64(const uint8_t *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = tab[v >> 18];
    *o++ = tab[(v >> 12) & 63];
    *o++ = tab[(v >> 6) & 63];
    *o++ = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    *o++ = tab[v >> 18];
    *o++ = tab[(v >> 12) & 63];
    *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  *o = 0;
  cJSON *j = cJSON_CreateString(out);
  free(out);
  return j;
}

/* metav1.Time / MicroTime {1 seconds, 2 nanos}. *ret = NULL for the zero time
 * (gogo writes an empty message for it). */
static int dec_time(pbctx_t *c, const uint8_t *p, size_t n, bool micro, cJSON **ret) {
  rd_t r = {p, p + n, 0};
  int64_t secs = 0, nanos = 0;
  bool any = false;
  while (r.p < r.end) {
    pbfield_t f;
    if (rd_field(&r, &f) < 0)
      return fail(c, "malformed Time");
    if (f.wt != WT_VARINT)
      continue;
    if (f.num == 1)
      secs = (int64_t)f.v, any = true;
    else if (f.num == 2)
      nanos = (int32_t)f.v, any = true;
  }
  *ret = NULL;
  if (!any)
    return 0;
  if (nanos < 0 || nanos > 999999999)
    return fail(c, "Time nanos out of range");
  /* Years 0001..9999, as RFC 3339 allows. */
  if (secs < -62135596800LL || secs > 253402300799LL)
    return fail(c, "Time seconds out of range");
  time_t t = (time_t)secs;
  struct tm tm;
  if (!gmtime_r(&t, &tm))
    return fail(c, "Time seconds out of range");
  char s[48];
  if (micro)
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(nanos / 1000));
  else
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  *ret = cJSON_CreateString(s);
  return 0;
}

/* Append "<v/unit>[.frac]" with trailing zeros trimmed, as Go's Duration.String. */
static void fmt_frac(char *buf, size_t room, uint64_t v, uint64_t unit, const char *suffix) {
  uint64_t whole = v / unit, frac = v % unit;
  size_t n = strlen(buf);
  if (!frac) {
    snprintf(buf + n, room - n, "%" PRIu64 "%s", whole, suffix);
    return;
  }
  int digits = 0;
  for (uint64_t u = unit; u > 1 && digits < 20; u /= 10)
    digits++;
  char fs[24];
  for (int i = digits - 1; i >= 0; i--, frac /= 10)
    fs[i] = (char)('0' + frac % 10);
  fs[digits] = 0;
  for (int i = (int)strlen(fs) - 1; i > 0 && fs[i] == '0'; i--)
    fs[i] = 0;
  snprintf(buf + n, room - n, "%" PRIu64 ".%s%s", whole, fs, suffix);
}

/* Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
static void fmt_duration(int64_t d, char *buf, size_t room) {
  buf[0] = 0;
  if (d == 0) {
    snprintf(buf, room, "0s");
    return;
  }
  uint64_t u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
  if (d < 0)
    snprintf(buf, room, "-");
  if (u < 1000ULL) {
    fmt_frac(buf, room, u, 1, "ns");
  } else if (u < 1000000ULL) {
    fmt_frac(buf, room, u, 1000ULL, "\xc2\xb5s");
  } else if (u < 1000000000ULL) {
    fmt_frac(buf, room, u, 1000000ULL, "ms");
  } else {
    uint64_t h = u / 3600000000000ULL, rest = u % 3600000000000ULL;
    uint64_t m = rest / 60000000000ULL;
    rest %= 60000000000ULL;
    size_t n = strlen(buf);
    if (h)
      snprintf(buf + n, room - n, "%" PRIu64 "h%" PRIu64 "m", h, m);
    else if (m)
      snprintf(buf + n, room - n, "%" PRIu64 "m", m);
    fmt_frac(buf, room, rest, 1000000000ULL, "s");
  }
}

/* Find the string field 1 of a small wrapper message (Quantity). */
static int dec_wrapped_string(pbctx_t *c, const uint8_t *p, size_t n, cJSON **ret) {
  rd_t r = {p, p + n, 0};
  const uint8_t *s = (const uint8_t *)"";
  size_t sl = 0;
  while (r.p < r.end) {
    pbfield_t f;
    if (rd_field(&r, &f) < 0)
      return fail(c, "malformed wrapper message");
    if (f.num == 1 && f.wt == WT_LEN)
      s = f.data, sl = f.len;
  }
  return string_n(c, s, sl, ret);
}

static int dec_int_or_string(pbctx_t *c, const uint8_t *p, size_t n, cJSON **ret) {
  rd_t r = {p, p + n, 0};
  int64_t type = 0, iv = 0;
  const uint8_t *s = (const uint8_t *)"";
  size_t sl = 0;
  while (r.p < r.end) {
    pbfield_t f;
    if (rd_field(&r, &f) < 0)
      return fail(c, "malformed IntOrString");
    if (f.num == 1 && f.wt == WT_VARINT)
      type = (int64_t)f.v;
    else if (f.num == 2 && f.wt == WT_VARINT)
      iv = (int32_t)f.v;
    else if (f.num == 3 && f.wt == WT_LEN)
      s = f.data, sl = f.len;
  }
  if (type == 1)
    return string_n(c, s, sl, ret);
  *ret = cJSON_CreateNumber((double)iv);
  return 0;
}

static int dec_raw(pbctx_t *c, const uint8_t *p, size_t n, cJSON **ret) {
  rd_t r = {p, p + n, 0};
  const uint8_t *raw = NULL;
  size_t rl = 0;
  while (r.p < r.end) {
    pbfield_t f;
    if (rd_field(&r, &f) < 0)
      return fail(c, "malformed raw JSON holder");
    if (f.num == 1 && f.wt == WT_LEN)
      raw = f.data, rl = f.len;
  }
  *ret = NULL;
  if (!raw || rl == 0)
    return 0;
  json_strict_result_t jr;
  cJSON *j = NULL;
  int r2 = json_strict_parse((const char *)raw, rl, &j, &jr);
  json_strict_result_done(&jr);
  if (r2 < 0)
    return fail(c, "embedded raw object is not JSON: %s", jr.err);
  *ret = j;
  return 0;
}

static int dec_message(pbctx_t *c, const schema_type_t *t, const uint8_t *p, size_t n, cJSON *obj,
                       int depth);

/* Decode one value of field fl from f. *ret may be NULL (omitted value). */
static int dec_value(pbctx_t *c, const schema_type_t *t, const schema_field_t *fl,
                     const pbfield_t *f, int depth, cJSON **ret) {
  *ret = NULL;
  bool want_len = fl->kind != SCHEMA_BOOL && fl->kind != SCHEMA_INT32 &&
                  fl->kind != SCHEMA_INT64 && fl->kind != SCHEMA_DOUBLE;
  if (want_len && f->wt != WT_LEN)
    goto badwire;
  switch (fl->kind) {
  case SCHEMA_STRING:
    return string_n(c, f->data, f->len, ret);
  case SCHEMA_BYTES:
    *ret = base64(f->data, f->len);
    return 0;
  case SCHEMA_BOOL:
    if (f->wt != WT_VARINT)
      goto badwire;
    *ret = cJSON_CreateBool(f->v != 0);
    return 0;
  case SCHEMA_INT32:
    if (f->wt != WT_VARINT)
      goto badwire;
    *ret = cJSON_CreateNumber((double)(int32_t)(uint32_t)f->v);
    return 0;
  case SCHEMA_INT64:
    if (f->wt != WT_VARINT)
      goto badwire;
    *ret = cJSON_CreateNumber((double)(int64_t)f->v);
    return 0;
  case SCHEMA_DOUBLE: {
    double d;
    if (f->wt != WT_FIXED64)
      goto badwire;
    memcpy(&d, &f->v, sizeof d);
    *ret = cJSON_CreateNumber(d);
    return 0;
  }
  case SCHEMA_OBJECT: {
    cJSON *o = cJSON_CreateObject();
    int r = dec_message(c, fl->type, f->data, f->len, o, depth + 1);
    if (r < 0) {
      cJSON_Delete(o);
      return r;
    }
    *ret = o;
    return 0;
  }
  case SCHEMA_TIME:
  case SCHEMA_MICROTIME:
    return dec_time(c, f->data, f->len, fl->kind == SCHEMA_MICROTIME, ret);
  case SCHEMA_DURATION: {
    rd_t r = {f->data, f->data + f->len, 0};
    int64_t d = 0;
    while (r.p < r.end) {
      pbfield_t g;
      if (rd_field(&r, &g) < 0)
        return fail(c, "malformed Duration");
      if (g.num == 1 && g.wt == WT_VARINT)
        d = (int64_t)g.v;
    }
    char s[64];
    fmt_duration(d, s, sizeof s);
    *ret = cJSON_CreateString(s);
    return 0;
  }
  case SCHEMA_QUANTITY:
    return dec_wrapped_string(c, f->data, f->len, ret);
  case SCHEMA_INT_OR_STRING:
    return dec_int_or_string(c, f->data, f->len, ret);
  case SCHEMA_RAW:
    return dec_raw(c, f->data, f->len, ret);
  }
badwire:
  return fail(c, "field %" PRIu32 " of %s: wrong wire type %d", f->num, t->name, f->wt);
}

static bool is_zero(const cJSON *v) {
  if (cJSON_IsString(v))
    return v->valuestring[0] == 0;
  if (cJSON_IsFalse(v))
    return true;
  if (cJSON_IsNumber(v))
    return v->valuedouble == 0;
  return false;
}

static bool is_scalar_number(schema_kind_t k) {
  return k == SCHEMA_BOOL || k == SCHEMA_INT32 || k == SCHEMA_INT64 || k == SCHEMA_DOUBLE;
}

/* A map entry message {1 key, 2 value}. */
static int dec_map_entry(pbctx_t *c, const schema_type_t *t, const schema_field_t *fl,
                         const pbfield_t *f, int depth, cJSON *map) {
  rd_t r = {f->data, f->data + f->len, 0};
  const uint8_t *key = (const uint8_t *)"";
  size_t kl = 0;
  cJSON *val = NULL;
  int ret = 0;
  while (r.p < r.end) {
    pbfield_t g;
    if (rd_field(&r, &g) < 0) {
      ret = fail(c, "field %" PRIu32 " of %s: malformed map entry", f->num, t->name);
      goto out;
    }
    if (g.num == 1 && g.wt == WT_LEN) {
      key = g.data, kl = g.len;
    } else if (g.num == 2) {
      cJSON_Delete(val);
      val = NULL;
      ret = dec_value(c, t, fl, &g, depth, &val);
      if (ret < 0)
        goto out;
    }
  }
  if (!val) {
    /* A missing value is the zero value of the element type. */
    static const pbfield_t empty = {.wt = WT_LEN, .data = (const uint8_t *)""};
    if (is_scalar_number(fl->kind)) {
      pbfield_t z = {.wt = fl->kind == SCHEMA_DOUBLE ? WT_FIXED64 : WT_VARINT};
      ret = dec_value(c, t, fl, &z, depth, &val);
    } else {
      ret = dec_value(c, t, fl, &empty, depth, &val);
    }
    if (ret < 0)
      goto out;
    if (!val)
      val = cJSON_CreateNull();
  }
  if (memchr(key, 0, kl)) {
    ret = fail(c, "strings may not contain the NUL character");
    goto out;
  }
  /* a repeated key is collapsed, last wins, once the message is decoded
   * (json_strict_dedup): deleting it here would scan the map per entry */
  char *k = json_utf8_sanitize((const char *)key, kl);
  cJSON_AddItemToObject(map, k, val);
  free(k);
  val = NULL;
out:
  cJSON_Delete(val);
  return ret;
}

static const schema_field_t *field_by_number(const schema_type_t *t, uint32_t num) {
  for (size_t i = 0; i < t->nfields; i++)
    if (t->fields[i].proto == num)
      return &t->fields[i];
  return NULL;
}

static cJSON *child(cJSON *obj, const char *name, bool array) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (v && (array ? cJSON_IsArray(v) : cJSON_IsObject(v)))
    return v;
  if (v)
    cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
  v = array ? cJSON_CreateArray() : cJSON_CreateObject();
  cJSON_AddItemToObject(obj, name, v);
  return v;
}

static int dec_message(pbctx_t *c, const schema_type_t *t, const uint8_t *p, size_t n, cJSON *obj,
                       int depth) {
  if (depth > PB_MAX_DEPTH)
    return fail(c, "%s: nested too deeply", t->name);
  rd_t r = {p, p + n, 0};
  while (r.p < r.end) {
    pbfield_t f;
    if (rd_field(&r, &f) < 0)
      return fail(c, "%s: truncated or malformed field", t->name);
    const schema_field_t *fl = field_by_number(t, f.num);
    if (!fl)
      continue; /* unknown fields are skipped, as upstream does */
    int ret;
    if (!fl->name[0]) { /* embedded struct: its fields land in this object */
      if (f.wt != WT_LEN)
        return fail(c, "field %" PRIu32 " of %s: wrong wire type %d", f.num, t->name, f.wt);
      ret = dec_message(c, fl->type, f.data, f.len, obj, depth + 1);
      if (ret < 0)
        return ret;
      continue;
    }
    if (fl->container == SCHEMA_MAP) {
      if (f.wt != WT_LEN)
        return fail(c, "field %" PRIu32 " of %s: wrong wire type %d", f.num, t->name, f.wt);
      ret = dec_map_entry(c, t, fl, &f, depth, child(obj, fl->name, false));
      if (ret < 0)
        return ret;
      continue;
    }
    if (fl->container == SCHEMA_LIST) {
      cJSON *arr = child(obj, fl->name, true);
      if (f.wt == WT_LEN && is_scalar_number(fl->kind)) { /* packed repeated */
        rd_t pr = {f.data, f.data + f.len, 0};
        while (pr.p < pr.end) {
          pbfield_t g = {.num = f.num, .wt = fl->kind == SCHEMA_DOUBLE ? WT_FIXED64 : WT_VARINT};
          if (g.wt == WT_VARINT ? rd_varint(&pr, &g.v) < 0 : pr.end - pr.p < 8)
            return fail(c, "field %" PRIu32 " of %s: truncated packed field", f.num, t->name);
          if (g.wt == WT_FIXED64) {
            memcpy(&g.v, pr.p, 8);
            pr.p += 8;
          }
          cJSON *v;
          if ((ret = dec_value(c, t, fl, &g, depth, &v)) < 0)
            return ret;
          cJSON_AddItemToArray(arr, v);
        }
        continue;
      }
      cJSON *v;
      if ((ret = dec_value(c, t, fl, &f, depth, &v)) < 0)
        return ret;
      cJSON_AddItemToArray(arr, v ? v : cJSON_CreateNull());
      continue;
    }
    cJSON *v;
    if ((ret = dec_value(c, t, fl, &f, depth, &v)) < 0)
      return ret;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, fl->name);
    if (!v)
      continue;
    if (!fl->keep_zero && is_zero(v)) { /* gogo wrote a zero the JSON form omits */
      cJSON_Delete(v);
      continue;
    }
    cJSON_AddItemToObject(obj, fl->name, v);
  }
  return 0;
}

int schema_pb_decode(const schema_type_t *t, const uint8_t *buf, size_t len, cJSON **ret_obj,
                     char *err, size_t errlen) {
  pbctx_t c = {err, errlen};
  if (!t || (!buf && len))
    return fail(&c, "no type or buffer");
  cJSON *o = cJSON_CreateObject();
  int r = dec_message(&c, t, buf, len, o, 0);
  if (r < 0) {
    cJSON_Delete(o);
    return r;
  }
  json_strict_dedup(o); /* repeated map entries: the last wins, as in Go */
  *ret_obj = o;
  return 0;
}

int schema_pb_decode_envelope(const uint8_t *body, size_t len, cJSON **ret_obj, char *err,
                              size_t errlen) {
  pbctx_t c = {err, errlen};
  char *api_version = NULL, *kind = NULL;
  const uint8_t *raw = (const uint8_t *)""; /* no raw field: an empty message */
  size_t rawlen = 0;
  bool encoded = false;
  cJSON *obj = NULL;
  int ret;

  if (!body || len < 4 || memcmp(body, "k8s\0", 4) != 0) {
    ret = fail(&c, "protobuf body lacks the k8s envelope");
    goto out;
  }
  rd_t r = {body + 4, body + len, 0};
  while (r.p < r.end) {
    pbfield_t f;
    if (rd_field(&r, &f) < 0) {
      ret = fail(&c, "runtime.Unknown: truncated or malformed field");
      goto out;
    }
    if (f.wt != WT_LEN)
      continue;
    if (f.num == 1) {
      rd_t tr = {f.data, f.data + f.len, 0};
      while (tr.p < tr.end) {
        pbfield_t g;
        if (rd_field(&tr, &g) < 0) {
          ret = fail(&c, "runtime.TypeMeta: truncated or malformed field");
          goto out;
        }
        if (g.wt != WT_LEN)
          continue;
        if (g.num == 1) {
          free(api_version); /* echoed in errors: valid UTF-8 only */
          api_version = json_utf8_sanitize((const char *)g.data, g.len);
        } else if (g.num == 2) {
          free(kind);
          kind = json_utf8_sanitize((const char *)g.data, g.len);
        }
      }
    } else if (f.num == 2) {
      raw = f.data, rawlen = f.len;
    } else if (f.num == 3) {
      encoded = f.len > 0;
    }
  }
  if (!api_version || !kind || !*kind) {
    ret = fail(&c, "protobuf envelope without apiVersion/kind");
    goto out;
  }
  if (encoded) {
    if (err && errlen)
      snprintf(err, errlen, "unsupported protobuf contentEncoding");
    ret = -ENOTSUP;
    goto out;
  }
  const schema_type_t *t = schema_type_for_kind(api_version, kind);
  if (!t) {
    if (err && errlen)
      snprintf(err, errlen, "unknown protobuf kind %s %s", api_version, kind);
    ret = -ENOTSUP;
    goto out;
  }
  obj = cJSON_CreateObject();
  cJSON_AddStringToObject(obj, "apiVersion", api_version);
  cJSON_AddStringToObject(obj, "kind", kind);
  ret = dec_message(&c, t, raw, rawlen, obj, 0);
  if (ret < 0)
    goto out;
  json_strict_dedup(obj); /* repeated map entries: the last wins, as in Go */
  *ret_obj = obj;
  obj = NULL;
out:
  cJSON_Delete(obj);
  free(api_version);
  free(kind);
  return ret;
}
