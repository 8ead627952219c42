/* Strict one-pass JSON decoder for request bodies (strict.h): RFC 8259
 * grammar, with the Kubernetes API server's decoding rules (Go
 * encoding/json via sigs.k8s.io/json: last duplicate wins and is reported,
 * invalid UTF-8 becomes U+FFFD, nothing after the top-level value). */
#include "json/strict.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/strmap.h"

typedef struct {
  const char *key; /* member name (the item's string), or NULL in an array */
  int index;       /* array index */
} frame_t;

typedef struct {
  const unsigned char *p, *end, *start;
  json_strict_result_t *res;
  int depth;
  frame_t frames[JSON_STRICT_MAX_DEPTH + 1];
  buf_t sbuf; /* scratch for unescaping strings */
} parser_t;

/* ---- errors ---- */

/* Go's quoteChar: the byte as a quoted character ("'x'", "'\\n'", "'\\x00'"). */
static void quote_char(unsigned char c, char *out, size_t n) {
  static const char named[] = "\a\b\f\n\r\t\v";
  static const char letters[] = "abfnrtv";
  const char *nm = c ? strchr(named, c) : NULL;
  if (c == '\'')
    snprintf(out, n, "'\\''");
  else if (c == '\\')
    snprintf(out, n, "'\\\\'");
  else if (nm)
    snprintf(out, n, "'\\%c'", letters[nm - named]);
  else if (c < 0x20 || c == 0x7f)
    snprintf(out, n, "'\\x%02x'", c);
  else if (c < 0x80)
    snprintf(out, n, "'%c'", c);
  else if (c <= 0xa0 || c == 0xad) /* not printable as a rune: strconv.Quote escapes it */
    snprintf(out, n, "'\\u00%02x'", c);
  else /* the rune U+00xx, in UTF-8 */
    snprintf(out, n, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
}

static int fail(parser_t *ps, json_strict_err_t kind, const char *fmt, const char *arg) {
  json_strict_result_t *r = ps->res;
  if (r->kind == JSON_STRICT_OK) {
    r->kind = kind;
    snprintf(r->err, sizeof(r->err), fmt, arg);
    r->err_offset = (size_t)(ps->p - ps->start);
  }
  return -EINVAL;
}

/* "invalid character 'c' <context>", or Go's end-of-input error. */
static int fail_char(parser_t *ps, const char *context) {
  if (ps->p >= ps->end)
    return fail(ps, JSON_STRICT_ERR_SYNTAX, "%s", "unexpected end of JSON input");
  char q[16], msg[160];
  quote_char(*ps->p, q, sizeof(q));
  snprintf(msg, sizeof(msg), "invalid character %s %s", q, context);
  return fail(ps, JSON_STRICT_ERR_SYNTAX, "%s", msg);
}

/* The path of the value being parsed, Go-style ("spec.containers[0].name"),
 * plus key when given. */
static void path_of(const parser_t *ps, const char *key, buf_t *out) {
  for (int i = 1; i <= ps->depth; i++) {
    const frame_t *f = &ps->frames[i];
    if (f->key)
      buf_printf(out, "%s%s", out->len ? "." : "", f->key);
    else if (f->index >= 0)
      buf_printf(out, "[%d]", f->index);
  }
  if (key)
    buf_printf(out, "%s%s", out->len ? "." : "", key);
}

static void report_dup(parser_t *ps, const char *key) {
  json_strict_result_t *r = ps->res;
  r->ndup_keys++;
  if (r->ndups >= JSON_STRICT_MAX_DUPS)
    return;
  buf_t b;
  buf_init(&b, 64 * 1024);
  path_of(ps, key, &b);
  char *path = buf_steal(&b, NULL);
  for (size_t i = 0; i < r->ndups; i++)
    if (!strcmp(r->dups[i], path)) {
      free(path);
      return;
    }
  r->dups[r->ndups++] = path;
}

/* ---- cJSON building ---- */

static void *cj_alloc(size_t n) {
  void *p = cJSON_malloc(n);
  if (!p)
    abort(); /* k3c's OOM policy (util/alloc.h) */
  return p;
}

static char *cj_strndup(const char *s, size_t n) {
  char *p = cj_alloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static cJSON *new_item(int type) {
  cJSON *v = cJSON_CreateNull();
  if (!v)
    abort();
  v->type = type;
  return v;
}

static void append_child(cJSON *parent, cJSON *item) {
  item->next = NULL;
  if (!parent->child) {
    parent->child = item;
    item->prev = item;
  } else {
    cJSON *last = parent->child->prev;
    last->next = item;
    item->prev = last;
    parent->child->prev = item;
  }
}

/* ---- scanning ---- */

static void skip_space(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Four hex digits at p (p + 4 <= end checked by caller), or -1. */
static long hex4(const unsigned char *p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

static void put_utf8(buf_t *b, unsigned long cp) {
  char o[4];
  size_t n;
  if (cp < 0x80) {
    o[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  buf_append(b, o, n);
}

/* Length of the valid UTF-8 sequence at p (Go's utf8.DecodeRune ranges:
 * no overlongs, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_valid_len(const unsigned char *p, const unsigned char *end) {
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else
    return 0;
  if ((size_t)(end - p) < n)
    return 0;
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  return n;
}

char *json_utf8_sanitize(const char *s, size_t len) {
  buf_t b;
  buf_init(&b, SIZE_MAX / 4);
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    size_t n = utf8_valid_len(p, end);
    if (n) {
      buf_append(&b, (const char *)p, n);
      p += n;
    } else {
      put_utf8(&b, 0xfffd);
      p++;
    }
  }
  return buf_steal(&b, NULL);
}

/* A string at ps->p (on the opening quote) into a fresh cJSON-allocated
 * buffer. key: the member name being read, for the NUL error path. */
static int parse_string(parser_t *ps, bool is_key, char **ret) {
  buf_t *b = &ps->sbuf;
  buf_reset(b);
  ps->p++; /* '"' */
  for (;;) {
    const unsigned char *run = ps->p;
    while (ps->p < ps->end && *ps->p >= 0x20 && *ps->p < 0x80 && *ps->p != '"' && *ps->p != '\\')
      ps->p++;
    if (ps->p > run)
      buf_append(b, (const char *)run, (size_t)(ps->p - run));
    if (ps->p >= ps->end)
      return fail_char(ps, "");
    unsigned char c = *ps->p;
    if (c == '"') {
      ps->p++;
      break;
    }
    if (c < 0x20)
      return fail_char(ps, "in string literal");
    if (c >= 0x80) {
      size_t n = utf8_valid_len(ps->p, ps->end);
      if (n) {
        buf_append(b, (const char *)ps->p, n);
        ps->p += n;
      } else {
        put_utf8(b, 0xfffd);
        ps->res->replaced++;
        ps->p++;
      }
      continue;
    }
    /* backslash */
    ps->p++;
    if (ps->p >= ps->end)
      return fail_char(ps, "");
    c = *ps->p;
    const char *simple = strchr("\"\\/bfnrt", c);
    if (c && simple) {
      static const char out[] = "\"\\/\b\f\n\r\t";
      buf_append(b, &out[simple - "\"\\/bfnrt"], 1);
      ps->p++;
      continue;
    }
    if (c != 'u')
      return fail_char(ps, "in string escape code");
    ps->p++;
    for (int i = 0; i < 4; i++) {
      if (ps->p + i >= ps->end) {
        ps->p += i;
        return fail_char(ps, "");
      }
      if (hexval(ps->p[i]) < 0) {
        ps->p += i;
        return fail_char(ps, "in \\u hexadecimal character escape");
      }
    }
    long cp = hex4(ps->p);
    ps->p += 4;
    if (cp == 0) {
      buf_t path;
      buf_init(&path, 64 * 1024);
      path_of(ps, NULL, &path);
      if (!is_key)
        snprintf(ps->res->err_path, sizeof(ps->res->err_path), "%s", path.data ? path.data : "");
      buf_done(&path);
      ps->p -= 6;
      return fail(ps, JSON_STRICT_ERR_NUL, "%s", "strings may not contain the NUL character (\\u0000)");
    }
    if (cp >= 0xd800 && cp < 0xe000) {
      /* A high surrogate followed by an escaped low one is one code point;
       * anything else is U+FFFD and the next escape is read on its own. */
      long lo = -1;
      if (cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u')
        lo = hex4(ps->p + 2);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        ps->p += 6;
      } else {
        cp = 0xfffd;
        ps->res->replaced++;
      }
    }
    put_utf8(b, (unsigned long)cp);
  }
  *ret = cj_strndup(b->data ? b->data : "", b->len);
  return 0;
}

static int parse_number(parser_t *ps, cJSON **ret) {
  const unsigned char *s = ps->p;
  if (*ps->p == '-') {
    ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return fail_char(ps, "in numeric literal");
  }
  if (*ps->p == '0')
    ps->p++;
  else
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return fail_char(ps, "after decimal point in numeric literal");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
      ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return fail_char(ps, "in exponent of numeric literal");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  }
  size_t n = (size_t)(ps->p - s);
  char small[64];
  char *text = n < sizeof(small) ? small : xmalloc(n + 1);
  memcpy(text, s, n);
  text[n] = '\0';
  double d = strtod(text, NULL);
  int r = 0;
  if (isinf(d)) {
    char msg[160];
    snprintf(msg, sizeof(msg), "json: cannot unmarshal number %.100s%s into Go value of type float64",
             text, n > 100 ? "..." : "");
    ps->p = s;
    r = fail(ps, JSON_STRICT_ERR_NUMBER, "%s", msg);
  } else {
    *ret = cJSON_CreateNumber(d);
    if (!*ret)
      abort();
  }
  if (text != small)
    free(text);
  return r;
}

static int parse_literal(parser_t *ps, const char *word, int type, cJSON **ret) {
  /* Go reports the first wrong letter: "in literal true (expecting 'r')". */
  for (size_t i = 1; word[i]; i++) {
    ps->p++;
    if (ps->p >= ps->end || *ps->p != (unsigned char)word[i]) {
      char ctx[64];
      snprintf(ctx, sizeof(ctx), "in literal %s (expecting '%c')", word, word[i]);
      return fail_char(ps, ctx);
    }
  }
  ps->p++;
  *ret = new_item(type);
  return 0;
}

static int parse_value(parser_t *ps, cJSON **ret);

static int parse_array(parser_t *ps, cJSON **ret) {
  cJSON *arr = new_item(cJSON_Array);
  frame_t *f = &ps->frames[ps->depth];
  f->key = NULL;
  f->index = 0;
  ps->p++; /* '[' */
  skip_space(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    *ret = arr;
    return 0;
  }
  for (;;) {
    cJSON *v = NULL;
    if (parse_value(ps, &v) < 0)
      goto fail;
    append_child(arr, v);
    f->index++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      break;
    }
    fail_char(ps, "after array element");
    goto fail;
  }
  *ret = arr;
  return 0;
fail:
  cJSON_Delete(arr);
  return -EINVAL;
}

static int parse_object(parser_t *ps, cJSON **ret) {
  cJSON *obj = new_item(cJSON_Object);
  strmap_t keys;
  strmap_init(&keys);
  frame_t *f = &ps->frames[ps->depth];
  f->key = NULL;
  f->index = -1;
  ps->p++; /* '{' */
  skip_space(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    *ret = obj;
    return 0;
  }
  for (;;) {
    char *key = NULL;
    skip_space(ps);
    if (ps->p >= ps->end || *ps->p != '"') {
      fail_char(ps, "looking for beginning of object key string");
      goto fail;
    }
    if (parse_string(ps, true, &key) < 0)
      goto fail;
    skip_space(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      cJSON_free(key);
      fail_char(ps, "after object key");
      goto fail;
    }
    ps->p++;
    /* The value's path names its key (frames of nested values read it). */
    f->key = key;
    cJSON *v = NULL;
    int r = parse_value(ps, &v);
    f->key = NULL;
    if (r < 0) {
      cJSON_free(key);
      goto fail;
    }
    /* Last value wins, in the first one's place (as a Go map or struct
     * field would hold it); keys are found through a hash map. */
    cJSON *old = strmap_get(&keys, key);
    if (old) {
      report_dup(ps, key);
      /* the new item takes over the earlier one's key string, which the
       * map borrows */
      v->string = old->string;
      old->string = NULL;
      cJSON_free(key);
      cJSON_ReplaceItemViaPointer(obj, old, v);
      strmap_set(&keys, v->string, v);
    } else {
      v->string = key;
      append_child(obj, v);
      if (strmap_put(&keys, key, v, NULL) < 0) {
        fail(ps, JSON_STRICT_ERR_SYNTAX, "%s", "too many keys in one object");
        goto fail;
      }
    }
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      break;
    }
    fail_char(ps, "after object key:value pair");
    goto fail;
  }
  strmap_done(&keys);
  *ret = obj;
  return 0;
fail:
  strmap_done(&keys);
  cJSON_Delete(obj);
  return -EINVAL;
}

static int parse_value(parser_t *ps, cJSON **ret) {
  skip_space(ps);
  if (ps->p >= ps->end)
    return fail_char(ps, "");
  unsigned char c = *ps->p;
  int r;
  switch (c) {
  case '{':
  case '[':
    if (ps->depth >= JSON_STRICT_MAX_DEPTH) {
      char q[16], msg[64];
      quote_char(c, q, sizeof(q));
      snprintf(msg, sizeof(msg), "invalid character %s exceeded max depth", q);
      return fail(ps, JSON_STRICT_ERR_DEPTH, "%s", msg);
    }
    ps->depth++;
    r = c == '{' ? parse_object(ps, ret) : parse_array(ps, ret);
    ps->depth--;
    return r;
  case '"': {
    char *s = NULL;
    if ((r = parse_string(ps, false, &s)) < 0)
      return r;
    cJSON *v = new_item(cJSON_String);
    v->valuestring = s;
    *ret = v;
    return 0;
  }
  case 't':
    return parse_literal(ps, "true", cJSON_True, ret);
  case 'f':
    return parse_literal(ps, "false", cJSON_False, ret);
  case 'n':
    return parse_literal(ps, "null", cJSON_NULL, ret);
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return parse_number(ps, ret);
    return fail_char(ps, "looking for beginning of value");
  }
}

int json_strict_parse(const char *text, size_t len, cJSON **ret_doc, json_strict_result_t *res) {
  memset(res, 0, sizeof(*res));
  parser_t *ps = xcalloc(1, sizeof(*ps));
  ps->start = ps->p = (const unsigned char *)(text ? text : "");
  ps->end = ps->p + (text ? len : 0);
  ps->res = res;
  buf_init(&ps->sbuf, SIZE_MAX / 4);
  cJSON *doc = NULL;
  int r = parse_value(ps, &doc);
  if (r == 0) {
    skip_space(ps);
    if (ps->p < ps->end) {
      r = fail_char(ps, "after top-level value");
      cJSON_Delete(doc);
    }
  }
  buf_done(&ps->sbuf);
  free(ps);
  if (r < 0)
    return r;
  *ret_doc = doc;
  return 0;
}

static size_t dedup(cJSON *v, int depth) {
  size_t removed = 0;
  if (depth > 2 * JSON_STRICT_MAX_DEPTH)
    return 0;
  if (cJSON_IsObject(v) && v->child && v->child->next) {
    strmap_t seen;
    strmap_init(&seen);
    for (cJSON *c = v->child, *next; c; c = next) {
      next = c->next;
      void *prev = NULL;
      if (!c->string || strmap_put(&seen, c->string, c, &prev) != -EEXIST)
        continue;
      /* c wins; it takes over prev's key string, which the map borrows */
      cJSON *p = prev;
      char *k = p->string;
      p->string = c->string;
      c->string = k;
      strmap_set(&seen, c->string, c);
      cJSON_Delete(cJSON_DetachItemViaPointer(v, p));
      removed++;
    }
    strmap_done(&seen);
  }
  for (cJSON *c = v ? v->child : NULL; c; c = c->next)
    removed += dedup(c, depth + 1);
  return removed;
}

size_t json_strict_dedup(cJSON *v) { return dedup(v, 0); }

void json_strict_result_done(json_strict_result_t *res) {
  if (!res)
    return;
  for (size_t i = 0; i < res->ndups; i++)
    free(res->dups[i]);
  res->ndups = 0;
}
