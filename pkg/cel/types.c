/* CEL types: the type values of the checker (dyn, primitives, list, map,
 * objects of a schema, optional, library types, type parameters), the
 * signature grammar of value.h's cel_overload_t, Kubernetes' mapping of
 * OpenAPI schemas to CEL types, and JSON read through a type.
 * https://kubernetes.io/docs/reference/using-api/cel/#type-system-integration */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "util/alloc.h"
#include "util/base64.h"

cel_type_t *cel__type_new(cel_tkind_t kind) {
  cel_type_t *t = xcalloc(1, sizeof(*t));
  t->refs = 1;
  t->kind = kind;
  return t;
}

cel_type_t *cel__type_ref(cel_type_t *t) {
  if (t)
    t->refs++;
  return t;
}

void cel_type_free(cel_type_t *t) {
  if (!t || --t->refs > 0)
    return;
  free(t->name);
  cel_type_free(t->key);
  cel_type_free(t->elem);
  for (size_t i = 0; i < t->nfields; i++) {
    free(t->field_names[i]);
    cel_type_free(t->field_types[i]);
  }
  free(t->field_names);
  free(t->field_types);
  cel_type_free(t->additional);
  free(t);
}

cel_type_t *cel_type_dyn(void) { return cel__type_new(CEL_T_DYN); }

cel_type_t *cel__type_list(cel_type_t *elem) { return cel__type_wrap(CEL_T_LIST, elem); }

cel_type_t *cel__type_map(cel_type_t *key, cel_type_t *v) {
  cel_type_t *t = cel__type_new(CEL_T_MAP);
  t->key = key;
  t->elem = v;
  return t;
}

cel_type_t *cel__type_wrap(cel_tkind_t kind, cel_type_t *elem) {
  cel_type_t *t = cel__type_new(kind);
  t->elem = elem;
  return t;
}

cel_type_t *cel__type_named(cel_tkind_t kind, const char *name, size_t len) {
  cel_type_t *t = cel__type_new(kind);
  t->name = xstrndup(name, len);
  return t;
}

cel_type_t *cel_type_object_dyn(void) { return cel__type_map(cel__type_new(CEL_T_STRING), cel_type_dyn()); }

const cel_type_t *cel__type_field(const cel_type_t *obj, const char *name) {
  for (size_t i = 0; i < obj->nfields; i++)
    if (!strcmp(obj->field_names[i], name))
      return obj->field_types[i];
  return obj->additional;
}

static void add_field(cel_type_t *obj, const char *name, cel_type_t *t) {
  obj->field_names = xrealloc(obj->field_names, (obj->nfields + 1) * sizeof(char *));
  obj->field_types = xrealloc(obj->field_types, (obj->nfields + 1) * sizeof(cel_type_t *));
  obj->field_names[obj->nfields] = xstrdup(name);
  obj->field_types[obj->nfields++] = t;
}

/* ---- printing ---- */

static size_t type_str(const cel_type_t *t, char *out, size_t len);

static size_t put(char *out, size_t len, const char *s) {
  size_t n = strlen(s);
  if (len > 0) {
    size_t c = n < len - 1 ? n : len - 1;
    memcpy(out, s, c);
    out[c] = 0;
  }
  return n;
}

static size_t wrap_str(const char *pre, const cel_type_t *a, const cel_type_t *b, char *out, size_t len) {
  size_t n = put(out, len, pre);
  n += type_str(a, out + (n < len ? n : len), n < len ? len - n : 0);
  if (b) {
    n += put(out + (n < len ? n : len), n < len ? len - n : 0, ", ");
    n += type_str(b, out + (n < len ? n : len), n < len ? len - n : 0);
  }
  n += put(out + (n < len ? n : len), n < len ? len - n : 0, ")");
  return n;
}

static size_t type_str(const cel_type_t *t, char *out, size_t len) {
  static cel_type_t dyn = {.kind = CEL_T_DYN};
  if (!t)
    t = &dyn;
  switch (t->kind) {
  case CEL_T_DYN: return put(out, len, "dyn");
  case CEL_T_NULL: return put(out, len, "null_type");
  case CEL_T_BOOL: return put(out, len, "bool");
  case CEL_T_INT: return put(out, len, "int");
  case CEL_T_UINT: return put(out, len, "uint");
  case CEL_T_DOUBLE: return put(out, len, "double");
  case CEL_T_STRING: return put(out, len, "string");
  case CEL_T_BYTES: return put(out, len, "bytes");
  case CEL_T_TIMESTAMP: return put(out, len, "google.protobuf.Timestamp");
  case CEL_T_DURATION: return put(out, len, "google.protobuf.Duration");
  case CEL_T_TYPE: return t->elem ? wrap_str("type(", t->elem, NULL, out, len) : put(out, len, "type");
  case CEL_T_LIST: return wrap_str("list(", t->elem, NULL, out, len);
  case CEL_T_MAP: return wrap_str("map(", t->key, t->elem, out, len);
  case CEL_T_OPTIONAL: return wrap_str("optional_type(", t->elem, NULL, out, len);
  case CEL_T_OBJECT: return put(out, len, t->name ? t->name : "object");
  case CEL_T_OPAQUE:
  case CEL_T_PARAM: return put(out, len, t->name);
  case CEL_T_ERROR: return put(out, len, "*error*");
  }
  return 0;
}

void cel__type_str(const cel_type_t *t, char *out, size_t len) {
  if (len)
    out[0] = 0;
  type_str(t, out, len);
}

/* ---- signatures ---- */

static void skip_ws(const char **p) {
  while (**p == ' ')
    (*p)++;
}

static bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static const struct {
  const char *name;
  cel_tkind_t kind;
} simple_types[] = {
  {"dyn", CEL_T_DYN},         {"null_type", CEL_T_NULL},   {"bool", CEL_T_BOOL},
  {"int", CEL_T_INT},         {"uint", CEL_T_UINT},        {"double", CEL_T_DOUBLE},
  {"string", CEL_T_STRING},   {"bytes", CEL_T_BYTES},      {"timestamp", CEL_T_TIMESTAMP},
  {"duration", CEL_T_DURATION}, {"google.protobuf.Timestamp", CEL_T_TIMESTAMP},
  {"google.protobuf.Duration", CEL_T_DURATION},
};

cel_type_t *cel__type_parse(const char **pp) {
  const char *p = *pp;
  skip_ws(&p);
  const char *s = p;
  while (ident_char(*p))
    p++;
  size_t n = (size_t)(p - s);
  if (!n)
    return NULL;
  cel_type_t *t = NULL;
  if (*p == '(') {
    int nparams;
    cel_tkind_t k;
    if (n == 4 && !memcmp(s, "list", 4))
      k = CEL_T_LIST, nparams = 1;
    else if (n == 3 && !memcmp(s, "map", 3))
      k = CEL_T_MAP, nparams = 2;
    else if (n == 8 && !memcmp(s, "optional", 8))
      k = CEL_T_OPTIONAL, nparams = 1;
    else if (n == 4 && !memcmp(s, "type", 4))
      k = CEL_T_TYPE, nparams = 1;
    else
      return NULL;
    p++;
    cel_type_t *a = cel__type_parse(&p), *b = NULL;
    if (!a)
      return NULL;
    skip_ws(&p);
    if (nparams == 2) {
      if (*p != ',') {
        cel_type_free(a);
        return NULL;
      }
      p++;
      b = cel__type_parse(&p);
      if (!b) {
        cel_type_free(a);
        return NULL;
      }
      skip_ws(&p);
    }
    if (*p != ')') {
      cel_type_free(a);
      cel_type_free(b);
      return NULL;
    }
    p++;
    t = k == CEL_T_MAP ? cel__type_map(a, b) : cel__type_wrap(k, a);
    *pp = p;
    return t;
  }
  for (size_t i = 0; i < sizeof(simple_types) / sizeof(simple_types[0]); i++)
    if (strlen(simple_types[i].name) == n && !memcmp(simple_types[i].name, s, n)) {
      *pp = p;
      return cel__type_new(simple_types[i].kind);
    }
  if (n == 4 && !memcmp(s, "type", 4))
    t = cel__type_new(CEL_T_TYPE);
  else if (n == 1 && *s >= 'A' && *s <= 'Z')
    t = cel__type_named(CEL_T_PARAM, s, 1);
  else if (s[n - 1] == '.')
    return NULL;
  else
    t = cel__type_named(CEL_T_OPAQUE, s, n);
  *pp = p;
  return t;
}

/* Whether text (a receiver part of a signature) names a type rather than
 * a namespace: a namespace is one lowercase word that is no type
 * ("optional", "math", "strings"); library types are dotted or
 * capitalised ("net.IP", "Quantity"). */
static bool names_type(const char *s, size_t n) {
  if (s[n - 1] == ')')
    return true;
  for (size_t i = 0; i < sizeof(simple_types) / sizeof(simple_types[0]); i++)
    if (strlen(simple_types[i].name) == n && !memcmp(simple_types[i].name, s, n))
      return true;
  if (n == 4 && !memcmp(s, "type", 4))
    return true;
  if (*s >= 'A' && *s <= 'Z')
    return true;
  return memchr(s, '.', n) != NULL;
}

int cel__overload_parse(const char *sig, cel_fn_cb fn, cel__overload_t *ret) {
  memset(ret, 0, sizeof(*ret));
  /* the argument list's '(' is the first one at depth 0 whose ')' is not
   * followed by '.' (a receiver type's parameters are) */
  const char *open = NULL;
  for (const char *q = sig; *q; q++) {
    if (*q != '(')
      continue;
    int depth = 0;
    const char *c = q;
    for (; *c; c++) {
      if (*c == '(')
        depth++;
      else if (*c == ')' && --depth == 0)
        break;
    }
    if (!*c)
      return -EINVAL;
    if (c[1] == '.') {
      q = c;
      continue;
    }
    open = q;
    break;
  }
  if (!open || open == sig)
    return -EINVAL;
  size_t plen = (size_t)(open - sig);
  const char *dot = NULL;
  int depth = 0;
  for (const char *q = sig; q < open; q++) {
    if (*q == '(')
      depth++;
    else if (*q == ')')
      depth--;
    else if (*q == '.' && depth == 0)
      dot = q;
  }
  /* operators: _?_:_ has no dots; _[_] neither */
  cel_type_t *recv = NULL;
  if (dot && dot > sig && names_type(sig, (size_t)(dot - sig))) {
    char *rs = xstrndup(sig, (size_t)(dot - sig));
    const char *rp = rs;
    recv = cel__type_parse(&rp);
    bool ok = recv && *rp == 0;
    free(rs);
    if (!ok) {
      cel_type_free(recv);
      return -EINVAL;
    }
    ret->name = xstrndup(dot + 1, (size_t)(open - dot - 1));
    ret->receiver = true;
  } else
    ret->name = xstrndup(sig, plen);
  ret->fn = fn;
  ret->signature = sig;
  if (recv) {
    ret->params = xmalloc(sizeof(*ret->params));
    ret->params[ret->nargs++] = recv;
  }
  const char *p = open + 1;
  skip_ws(&p);
  if (*p == ')')
    p++;
  else
    for (;;) {
      cel_type_t *t = cel__type_parse(&p);
      if (!t)
        goto fail;
      ret->params = xrealloc(ret->params, (ret->nargs + 1) * sizeof(*ret->params));
      ret->params[ret->nargs++] = t;
      skip_ws(&p);
      if (*p == ',') {
        p++;
        continue;
      }
      if (*p != ')')
        goto fail;
      p++;
      break;
    }
  ret->result = cel__type_parse(&p);
  if (!ret->result)
    goto fail;
  skip_ws(&p);
  if (*p)
    goto fail;
  return 0;
fail:
  cel__overload_done(ret);
  return -EINVAL;
}

void cel__overload_done(cel__overload_t *o) {
  free(o->name);
  for (size_t i = 0; i < o->nargs; i++)
    cel_type_free(o->params[i]);
  free(o->params);
  cel_type_free(o->result);
  memset(o, 0, sizeof(*o));
}

/* ---- schemas ---- */

static bool jbool(const cJSON *o, const char *k) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k)); }

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static uint64_t jmax(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e18 ? (uint64_t)v->valuedouble : 0;
}

static cel_type_t *from_schema(const cJSON *s, int depth);

static cel_type_t *from_schema_node(const cJSON *s, int depth) {
  if (!s || !cJSON_IsObject(s) || depth > 64)
    return cel_type_dyn();
  if (jbool(s, "x-kubernetes-int-or-string")) {
    cel_type_t *t = cel_type_dyn();
    t->flags |= CEL_TF_INT_OR_STRING;
    return t;
  }
  const char *type = jstr(s, "type");
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
  const cJSON *addl = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
  bool embedded = jbool(s, "x-kubernetes-embedded-resource");
  bool preserve = jbool(s, "x-kubernetes-preserve-unknown-fields");
  if ((type && !strcmp(type, "object")) || (!type && (props || embedded))) {
    if (cJSON_IsObject(addl) && !props) {
      cel_type_t *t = cel__type_map(cel__type_new(CEL_T_STRING), from_schema(addl, depth + 1));
      t->max_size = jmax(s, "maxProperties");
      return t;
    }
    if (!props && !embedded && (preserve || !type))
      return cel_type_dyn();
    if (!props && !embedded && !cJSON_IsObject(addl)) {
      /* an object without properties: fields unknown, a map */
      cel_type_t *t = cel__type_map(cel__type_new(CEL_T_STRING), cel_type_dyn());
      t->max_size = jmax(s, "maxProperties");
      return t;
    }
    cel_type_t *t = cel__type_new(CEL_T_OBJECT);
    t->max_size = jmax(s, "maxProperties");
    if (embedded)
      t->flags |= CEL_TF_EMBEDDED;
    const cJSON *p;
    cJSON_ArrayForEach(p, props) {
      if (p->string)
        add_field(t, p->string, from_schema(p, depth + 1));
    }
    if (embedded) {
      if (!cel__type_field(t, "apiVersion"))
        add_field(t, "apiVersion", cel__type_new(CEL_T_STRING));
      if (!cel__type_field(t, "kind"))
        add_field(t, "kind", cel__type_new(CEL_T_STRING));
      if (!cel__type_field(t, "metadata")) {
        cel_type_t *m = cel__type_new(CEL_T_OBJECT);
        add_field(m, "name", cel__type_new(CEL_T_STRING));
        add_field(m, "generateName", cel__type_new(CEL_T_STRING));
        add_field(t, "metadata", m);
      }
    }
    if (cJSON_IsObject(addl))
      t->additional = from_schema(addl, depth + 1);
    else if (preserve)
      t->additional = cel_type_dyn();
    return t;
  }
  if (!type)
    return cel_type_dyn();
  cel_type_t *t;
  if (!strcmp(type, "array")) {
    t = cel__type_list(from_schema(cJSON_GetObjectItemCaseSensitive(s, "items"), depth + 1));
    t->max_size = jmax(s, "maxItems");
  } else if (!strcmp(type, "integer"))
    t = cel__type_new(CEL_T_INT);
  else if (!strcmp(type, "number"))
    t = cel__type_new(CEL_T_DOUBLE);
  else if (!strcmp(type, "boolean"))
    t = cel__type_new(CEL_T_BOOL);
  else if (!strcmp(type, "string")) {
    const char *f = jstr(s, "format");
    if (f && !strcmp(f, "date-time"))
      t = cel__type_new(CEL_T_TIMESTAMP);
    else if (f && !strcmp(f, "duration"))
      t = cel__type_new(CEL_T_DURATION);
    else if (f && !strcmp(f, "byte"))
      t = cel__type_new(CEL_T_BYTES);
    else
      t = cel__type_new(CEL_T_STRING);
    t->max_size = jmax(s, "maxLength");
  } else
    t = cel_type_dyn();
  return t;
}

/* What the cost estimator needs besides the type (k8s.io/apiserver
 * pkg/cel/common/schemas.go): whether a size limit is given (0 is one),
 * the longest enum value of an unlimited string, and the smallest JSON a
 * value takes (which bounds how many fit in a request). */
static void size_info(const cJSON *s, cel_type_t *t) {
  if (!cJSON_IsObject(s))
    return;
  const char *lim = t->kind == CEL_T_LIST ? "maxItems"
                    : t->kind == CEL_T_MAP || t->kind == CEL_T_OBJECT ? "maxProperties"
                                                                      : "maxLength";
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, lim))) {
    t->flags |= CEL_TF_MAX_SET;
    t->max_size = jmax(s, lim);
  } else if (t->kind == CEL_T_STRING) {
    const cJSON *e, *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    size_t longest = 0;
    cJSON_ArrayForEach(e, en) {
      if (cJSON_IsString(e) && strlen(e->valuestring) > longest)
        longest = strlen(e->valuestring);
    }
    if (cJSON_GetArraySize(en) > 0) {
      t->flags |= CEL_TF_MAX_SET | CEL_TF_MAX_ENUM;
      t->max_size = longest;
    }
  }
  switch (t->kind) {
  case CEL_T_STRING:
  case CEL_T_BYTES:
  case CEL_T_LIST:
  case CEL_T_MAP: t->min_size = 2; break;
  case CEL_T_BOOL: t->min_size = 4; break;
  case CEL_T_DURATION: t->min_size = 3; break;
  case CEL_T_TIMESTAMP: t->min_size = 21; break;
  case CEL_T_OBJECT: {
    /* {} and the required properties without a default */
    t->min_size = 2;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *r, *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    cJSON_ArrayForEach(r, req) {
      if (!cJSON_IsString(r))
        continue;
      const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, r->valuestring);
      const cel_type_t *ft = ps ? cel__type_field(t, r->valuestring) : NULL;
      if (!ft || cJSON_GetObjectItemCaseSensitive(ps, "default") ||
          (ft->kind == CEL_T_DYN && !(ft->flags & CEL_TF_INT_OR_STRING)))
        continue;
      t->min_size += strlen(r->valuestring) + ft->min_size + 4;
    }
    break;
  }
  default: t->min_size = 1;
  }
}

static cel_type_t *from_schema(const cJSON *s, int depth) {
  cel_type_t *t = from_schema_node(s, depth);
  size_info(s, t);
  return t;
}

cel_type_t *cel_type_from_schema(const cJSON *schema) { return from_schema(schema, 0); }

/* ---- JSON through a type ---- */

/* Go's time.ParseDuration syntax ("1h30m", "-1.5s", "300ms"), as format
 * duration strings of a schema hold. 0 or -EINVAL. */
static int parse_go_duration(const char *s, int64_t *ret_sec, int32_t *ret_nanos) {
  bool neg = false;
  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  if (!strcmp(s, "0")) {
    *ret_sec = 0, *ret_nanos = 0;
    return 0;
  }
  if (!*s)
    return -EINVAL;
  double total = 0; /* nanoseconds */
  while (*s) {
    char *end;
    if (!((*s >= '0' && *s <= '9') || *s == '.'))
      return -EINVAL;
    double v = strtod(s, &end);
    if (end == s)
      return -EINVAL;
    s = end;
    double unit;
    if (!strncmp(s, "ns", 2))
      unit = 1, s += 2;
    else if (!strncmp(s, "us", 2) || !strncmp(s, "\xc2\xb5s", 3))
      unit = 1e3, s += (*s == 'u' ? 2 : 3);
    else if (!strncmp(s, "ms", 2))
      unit = 1e6, s += 2;
    else if (*s == 's')
      unit = 1e9, s++;
    else if (*s == 'm')
      unit = 60e9, s++;
    else if (*s == 'h')
      unit = 3600e9, s++;
    else
      return -EINVAL;
    total += v * unit;
  }
  if (total > 9.2e18)
    return -EINVAL;
  int64_t ns = (int64_t)total;
  if (neg)
    ns = -ns;
  *ret_sec = ns / 1000000000;
  *ret_nanos = (int32_t)(ns % 1000000000);
  return 0;
}

static cel_value_t *json_number(const cJSON *j, bool want_double) {
  double d = j->valuedouble;
  if (!want_double && d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
    return cel_int((int64_t)d);
  return cel_double(d);
}

static cel_value_t *from_json(const cJSON *j, const cel_type_t *t, int depth) {
  if (!j || cJSON_IsNull(j))
    return cel_null();
  if (depth > 1000)
    return cel_errorf("value nested too deeply");
  cel_tkind_t k = t ? t->kind : CEL_T_DYN;
  switch (k) {
  case CEL_T_DOUBLE:
    if (cJSON_IsNumber(j))
      return cel_double(j->valuedouble);
    break;
  case CEL_T_TIMESTAMP:
    if (cJSON_IsString(j)) {
      int64_t sec;
      int32_t ns;
      if (cel_timestamp_parse(j->valuestring, strlen(j->valuestring), &sec, &ns) < 0)
        return cel_errorf("invalid timestamp: %s", j->valuestring);
      return cel_timestamp(sec, ns);
    }
    break;
  case CEL_T_DURATION:
    if (cJSON_IsString(j)) {
      int64_t sec;
      int32_t ns;
      if (parse_go_duration(j->valuestring, &sec, &ns) < 0)
        return cel_errorf("invalid duration: %s", j->valuestring);
      return cel_duration(sec, ns);
    }
    break;
  case CEL_T_BYTES:
    if (cJSON_IsString(j)) {
      unsigned char *data;
      size_t len;
      if (base64_decode(j->valuestring, strlen(j->valuestring), &data, &len) < 0)
        return cel_errorf("invalid base64 bytes");
      cel_value_t *v = cel_bytes(data, len);
      free(data);
      return v;
    }
    break;
  case CEL_T_LIST:
    if (cJSON_IsArray(j)) {
      cel_value_t *l = cel_list_new((size_t)cJSON_GetArraySize(j));
      const cJSON *e;
      cJSON_ArrayForEach(e, j) cel_list_push(l, from_json(e, t->elem, depth + 1));
      return l;
    }
    break;
  case CEL_T_MAP:
  case CEL_T_OBJECT:
    if (cJSON_IsObject(j)) {
      cel_value_t *m = cel_map_new((size_t)cJSON_GetArraySize(j));
      const cJSON *e;
      cJSON_ArrayForEach(e, j) {
        if (!e->string)
          continue;
        const cel_type_t *ft = k == CEL_T_MAP ? t->elem : cel__type_field(t, e->string);
        cel_map_put(m, cel_stringz(e->string), from_json(e, ft, depth + 1));
      }
      return m;
    }
    break;
  default:
    break;
  }
  /* dyn, and whatever does not match its declared type */
  if (cJSON_IsBool(j))
    return cel_bool(cJSON_IsTrue(j));
  if (cJSON_IsNumber(j))
    return json_number(j, false);
  if (cJSON_IsString(j))
    return cel_stringz(j->valuestring);
  if (cJSON_IsArray(j)) {
    cel_value_t *l = cel_list_new((size_t)cJSON_GetArraySize(j));
    const cJSON *e;
    cJSON_ArrayForEach(e, j) cel_list_push(l, from_json(e, NULL, depth + 1));
    return l;
  }
  if (cJSON_IsObject(j)) {
    cel_value_t *m = cel_map_new((size_t)cJSON_GetArraySize(j));
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
      if (e->string)
        cel_map_put(m, cel_stringz(e->string), from_json(e, NULL, depth + 1));
    }
    return m;
  }
  return cel_null();
}

cel_value_t *cel_value_from_json(const cJSON *json, const cel_type_t *t) { return from_json(json, t, 0); }

/* ---- run-time type tests ---- */

bool cel__value_is(const cel_value_t *v, const cel_type_t *t) {
  if (!t)
    return true;
  cel_kind_t k = cel_value_kind(v);
  switch (t->kind) {
  case CEL_T_DYN:
  case CEL_T_PARAM:
  case CEL_T_ERROR: return true;
  case CEL_T_NULL: return k == CEL_NULL;
  case CEL_T_BOOL: return k == CEL_BOOL;
  case CEL_T_INT: return k == CEL_INT;
  case CEL_T_UINT: return k == CEL_UINT;
  case CEL_T_DOUBLE: return k == CEL_DOUBLE;
  case CEL_T_STRING: return k == CEL_STRING;
  case CEL_T_BYTES: return k == CEL_BYTES;
  case CEL_T_TIMESTAMP: return k == CEL_TIMESTAMP;
  case CEL_T_DURATION: return k == CEL_DURATION;
  case CEL_T_TYPE: return k == CEL_TYPE;
  case CEL_T_OPTIONAL: return k == CEL_OPTIONAL;
  case CEL_T_LIST:
    if (k != CEL_LIST)
      return false;
    return cel_list_len(v) == 0 || cel__value_is(cel_list_at(v, 0), t->elem);
  case CEL_T_MAP:
  case CEL_T_OBJECT:
    if (k != CEL_MAP)
      return false;
    if (t->kind == CEL_T_MAP && cel_map_len(v) > 0) {
      cel_value_t *mk, *mv;
      cel_map_entry(v, 0, &mk, &mv);
      return cel__value_is(mk, t->key) && cel__value_is(mv, t->elem);
    }
    return true;
  case CEL_T_OPAQUE:
    return k == CEL_OPAQUE && !strcmp(cel_value_opaque_type(v)->name, t->name);
  }
  return false;
}

cel_type_t *cel__type_of_value(const cel_value_t *v) {
  switch (cel_value_kind(v)) {
  case CEL_NULL: return cel__type_new(CEL_T_NULL);
  case CEL_BOOL: return cel__type_new(CEL_T_BOOL);
  case CEL_INT: return cel__type_new(CEL_T_INT);
  case CEL_UINT: return cel__type_new(CEL_T_UINT);
  case CEL_DOUBLE: return cel__type_new(CEL_T_DOUBLE);
  case CEL_STRING: return cel__type_new(CEL_T_STRING);
  case CEL_BYTES: return cel__type_new(CEL_T_BYTES);
  case CEL_TIMESTAMP: return cel__type_new(CEL_T_TIMESTAMP);
  case CEL_DURATION: return cel__type_new(CEL_T_DURATION);
  default: return cel_type_dyn();
  }
}
