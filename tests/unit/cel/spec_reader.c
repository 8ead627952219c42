/* tests/unit/cel/spec_reader.c: cel-spec's SimpleTestFile textproto into
 * spec_file_t (spec_reader.h), through the schema-less textproto.c tree.
 * Field meanings: proto/cel/expr/conformance/test/simple.proto,
 * proto/cel/expr/{value,checked,eval}.proto in google/cel-spec. */
#include "spec_reader.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textproto.h"
#include "util/alloc.h"

typedef struct {
  char *err;
  size_t errlen;
  bool failed;
} rd_t;

static void bad(rd_t *rd, const tp_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad(rd_t *rd, const tp_node_t *n, const char *fmt, ...) {
  if (rd->failed)
    return;
  rd->failed = true;
  int k = snprintf(rd->err, rd->errlen, "line %d: %s: ", n ? n->line : 0, n ? n->name : "");
  if (k < 0 || (size_t)k >= rd->errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rd->err + k, rd->errlen - (size_t)k, fmt, ap);
  va_end(ap);
}

/* ---- values ---- */

static spec_value_t *val_new(spec_value_kind_t kind) {
  spec_value_t *v = xcalloc(1, sizeof(*v));
  v->kind = kind;
  return v;
}

void spec_value_free(spec_value_t *v) {
  if (!v)
    return;
  size_t n = v->kind == SPEC_MAP ? 2 * v->n : v->n;
  for (size_t i = 0; i < n; i++)
    spec_value_free(v->items[i]);
  free(v->items);
  free(v->str);
  free(v);
}

static spec_value_t *val_str(spec_value_kind_t kind, const char *s, size_t len) {
  spec_value_t *v = val_new(kind);
  v->str = xmalloc(len + 1);
  memcpy(v->str, s, len);
  v->str[len] = 0;
  v->len = len;
  return v;
}

static void list_push(spec_value_t *l, spec_value_t *v) {
  l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
  l->items[l->n++] = v;
}

/* Map entries are collected as pairs, then laid out keys-then-values. */
static void map_finish(spec_value_t *m, spec_value_t **pairs, size_t n) {
  m->n = n;
  m->items = xcalloc(2 * n + 1, sizeof(*m->items));
  for (size_t i = 0; i < n; i++) {
    m->items[i] = pairs[2 * i];
    m->items[n + i] = pairs[2 * i + 1];
  }
  free(pairs);
}

static int64_t get_int(rd_t *rd, const tp_node_t *msg, const char *field) {
  const tp_node_t *f = tp_get(msg, field);
  int64_t i = 0;
  if (f && tp_int64(f, &i) < 0)
    bad(rd, f, "bad integer");
  return i;
}

static const char *get_str(rd_t *rd, const tp_node_t *msg, const char *field, size_t *ret_len) {
  const tp_node_t *f = tp_get(msg, field);
  if (!f) {
    if (ret_len)
      *ret_len = 0;
    return "";
  }
  const char *s = tp_str(f, ret_len);
  if (!s) {
    bad(rd, f, "expected a string");
    if (ret_len)
      *ret_len = 0;
    return "";
  }
  return s;
}

static spec_value_t *read_value(rd_t *rd, const tp_node_t *msg);
static spec_value_t *read_any(rd_t *rd, const tp_node_t *any);

static spec_value_t *read_json_value(rd_t *rd, const tp_node_t *msg);

/* google.protobuf.Struct → map(string, dyn) */
static spec_value_t *read_struct(rd_t *rd, const tp_node_t *msg) {
  spec_value_t *m = val_new(SPEC_MAP);
  spec_value_t **pairs = NULL;
  size_t n = 0;
  for (size_t i = 0; msg && i < msg->nkids && !rd->failed; i++) {
    const tp_node_t *e = msg->kids[i];
    if (strcmp(e->name, "fields") != 0)
      continue;
    size_t klen;
    const char *k = get_str(rd, e, "key", &klen);
    pairs = xrealloc(pairs, (2 * n + 2) * sizeof(*pairs));
    pairs[2 * n] = val_str(SPEC_STRING, k, klen);
    pairs[2 * n + 1] = read_json_value(rd, tp_get(e, "value"));
    n++;
  }
  map_finish(m, pairs, n);
  return m;
}

static spec_value_t *read_list_value(rd_t *rd, const tp_node_t *msg) {
  spec_value_t *l = val_new(SPEC_LIST);
  for (size_t i = 0; msg && i < msg->nkids && !rd->failed; i++)
    if (strcmp(msg->kids[i]->name, "values") == 0)
      list_push(l, read_json_value(rd, msg->kids[i]));
  return l;
}

/* google.protobuf.Value */
static spec_value_t *read_json_value(rd_t *rd, const tp_node_t *msg) {
  if (!msg || msg->nkids == 0)
    return val_new(SPEC_NULL);
  const tp_node_t *f = msg->kids[0];
  if (strcmp(f->name, "null_value") == 0)
    return val_new(SPEC_NULL);
  if (strcmp(f->name, "number_value") == 0) {
    spec_value_t *v = val_new(SPEC_DOUBLE);
    if (tp_double(f, &v->d) < 0)
      bad(rd, f, "bad number");
    return v;
  }
  if (strcmp(f->name, "string_value") == 0) {
    size_t len;
    const char *s = tp_str(f, &len);
    if (!s) {
      bad(rd, f, "expected a string");
      return val_new(SPEC_NULL);
    }
    return val_str(SPEC_STRING, s, len);
  }
  if (strcmp(f->name, "bool_value") == 0) {
    spec_value_t *v = val_new(SPEC_BOOL);
    if (tp_bool(f, &v->b) < 0)
      bad(rd, f, "bad bool");
    return v;
  }
  if (strcmp(f->name, "struct_value") == 0)
    return read_struct(rd, f);
  if (strcmp(f->name, "list_value") == 0)
    return read_list_value(rd, f);
  bad(rd, f, "unknown google.protobuf.Value field");
  return val_new(SPEC_NULL);
}

/* The body of an Any holding type `type` (well-known types become the
 * CEL values they stand for). */
static spec_value_t *read_message(rd_t *rd, const char *type, const tp_node_t *body) {
  static const struct {
    const char *name;
    spec_value_kind_t kind;
  } wrappers[] = {
      {"google.protobuf.Int32Value", SPEC_INT},     {"google.protobuf.Int64Value", SPEC_INT},
      {"google.protobuf.UInt32Value", SPEC_UINT},   {"google.protobuf.UInt64Value", SPEC_UINT},
      {"google.protobuf.FloatValue", SPEC_DOUBLE},  {"google.protobuf.DoubleValue", SPEC_DOUBLE},
      {"google.protobuf.BoolValue", SPEC_BOOL},     {"google.protobuf.StringValue", SPEC_STRING},
      {"google.protobuf.BytesValue", SPEC_BYTES},
  };
  for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++) {
    if (strcmp(type, wrappers[i].name) != 0)
      continue;
    const tp_node_t *f = tp_get(body, "value");
    spec_value_t *v = val_new(wrappers[i].kind);
    int rc = 0;
    switch (wrappers[i].kind) {
    case SPEC_INT: rc = f ? tp_int64(f, &v->i) : 0; break;
    case SPEC_UINT: rc = f ? tp_uint64(f, &v->u) : 0; break;
    case SPEC_DOUBLE: rc = f ? tp_double(f, &v->d) : 0; break;
    case SPEC_BOOL: rc = f ? tp_bool(f, &v->b) : 0; break;
    default: {
      size_t len;
      const char *s = get_str(rd, body, "value", &len);
      v->str = xstrndup(s, len);
      v->len = len;
      break;
    }
    }
    if (rc < 0)
      bad(rd, f, "bad %s", type);
    return v;
  }
  if (strcmp(type, "google.protobuf.Duration") == 0 || strcmp(type, "google.protobuf.Timestamp") == 0) {
    spec_value_t *v = val_new(strcmp(type, "google.protobuf.Duration") == 0 ? SPEC_DURATION : SPEC_TIMESTAMP);
    v->i = get_int(rd, body, "seconds");
    v->nanos = (int32_t)get_int(rd, body, "nanos");
    return v;
  }
  if (strcmp(type, "google.protobuf.Value") == 0)
    return read_json_value(rd, body);
  if (strcmp(type, "google.protobuf.Struct") == 0)
    return read_struct(rd, body);
  if (strcmp(type, "google.protobuf.ListValue") == 0)
    return read_list_value(rd, body);
  if (strcmp(type, "google.protobuf.Any") == 0)
    return read_any(rd, body);
  return val_str(SPEC_MESSAGE, type, strlen(type));
}

/* A google.protobuf.Any in text form: `[type.googleapis.com/T] { ... }`. */
static spec_value_t *read_any(rd_t *rd, const tp_node_t *any) {
  for (size_t i = 0; any && i < any->nkids; i++) {
    const tp_node_t *k = any->kids[i];
    if (k->name[0] != '[')
      continue;
    const char *slash = strrchr(k->name, '/');
    const char *t = slash ? slash + 1 : k->name + 1;
    char *type = xstrndup(t, strlen(t) - 1); /* drop ']' */
    spec_value_t *v = read_message(rd, type, k);
    free(type);
    return v;
  }
  /* type_url + serialized value: not something text can be read from */
  const char *url = get_str(rd, any, "type_url", NULL);
  return val_str(SPEC_MESSAGE, url, strlen(url));
}

/* cel.expr.Value */
static spec_value_t *read_value(rd_t *rd, const tp_node_t *msg) {
  if (!msg || !msg->is_msg || msg->nkids == 0) {
    bad(rd, msg, "expected a Value");
    return val_new(SPEC_NULL);
  }
  const tp_node_t *f = msg->kids[0];
  const char *name = f->name;
  spec_value_t *v = NULL;
  int rc = 0;
  if (strcmp(name, "null_value") == 0) {
    v = val_new(SPEC_NULL);
  } else if (strcmp(name, "bool_value") == 0) {
    v = val_new(SPEC_BOOL);
    rc = tp_bool(f, &v->b);
  } else if (strcmp(name, "int64_value") == 0) {
    v = val_new(SPEC_INT);
    rc = tp_int64(f, &v->i);
  } else if (strcmp(name, "uint64_value") == 0) {
    v = val_new(SPEC_UINT);
    rc = tp_uint64(f, &v->u);
  } else if (strcmp(name, "double_value") == 0) {
    v = val_new(SPEC_DOUBLE);
    rc = tp_double(f, &v->d);
  } else if (strcmp(name, "string_value") == 0 || strcmp(name, "bytes_value") == 0 ||
             strcmp(name, "type_value") == 0) {
    size_t len;
    const char *s = tp_str(f, &len);
    if (!s) {
      bad(rd, f, "expected a string");
      return val_new(SPEC_NULL);
    }
    v = val_str(name[0] == 's' ? SPEC_STRING : name[0] == 'b' ? SPEC_BYTES : SPEC_TYPE, s, len);
  } else if (strcmp(name, "enum_value") == 0) {
    size_t len;
    const char *t = get_str(rd, f, "type", &len);
    v = val_str(SPEC_ENUM, t, len);
    v->i = get_int(rd, f, "value");
  } else if (strcmp(name, "object_value") == 0) {
    v = read_any(rd, f);
  } else if (strcmp(name, "list_value") == 0) {
    v = val_new(SPEC_LIST);
    for (size_t i = 0; i < f->nkids && !rd->failed; i++)
      if (strcmp(f->kids[i]->name, "values") == 0)
        list_push(v, read_value(rd, f->kids[i]));
  } else if (strcmp(name, "map_value") == 0) {
    v = val_new(SPEC_MAP);
    spec_value_t **pairs = NULL;
    size_t n = 0;
    for (size_t i = 0; i < f->nkids && !rd->failed; i++) {
      const tp_node_t *e = f->kids[i];
      if (strcmp(e->name, "entries") != 0)
        continue;
      pairs = xrealloc(pairs, (2 * n + 2) * sizeof(*pairs));
      pairs[2 * n] = read_value(rd, tp_get(e, "key"));
      pairs[2 * n + 1] = read_value(rd, tp_get(e, "value"));
      n++;
    }
    map_finish(v, pairs, n);
  } else {
    bad(rd, f, "unknown Value field");
    return val_new(SPEC_NULL);
  }
  if (rc < 0)
    bad(rd, f, "bad value");
  return v;
}

/* ---- types ---- */

static spec_type_t *type_new(spec_type_kind_t kind) {
  spec_type_t *t = xcalloc(1, sizeof(*t));
  t->kind = kind;
  return t;
}

static void type_free(spec_type_t *t) {
  if (!t)
    return;
  type_free(t->elem);
  type_free(t->key);
  type_free(t->val);
  free(t->name);
  free(t);
}

static spec_type_kind_t primitive(rd_t *rd, const tp_node_t *f) {
  static const struct {
    const char *name;
    spec_type_kind_t kind;
  } prims[] = {{"BOOL", SPEC_T_BOOL},     {"INT64", SPEC_T_INT},     {"UINT64", SPEC_T_UINT},
               {"DOUBLE", SPEC_T_DOUBLE}, {"STRING", SPEC_T_STRING}, {"BYTES", SPEC_T_BYTES}};
  const char *s = tp_ident(f);
  for (size_t i = 0; s && i < sizeof(prims) / sizeof(prims[0]); i++)
    if (strcmp(s, prims[i].name) == 0)
      return prims[i].kind;
  bad(rd, f, "unknown primitive type");
  return SPEC_T_DYN;
}

static spec_type_t *read_type(rd_t *rd, const tp_node_t *msg);

/* A message_type name: the well-known ones are CEL types. */
static spec_type_t *message_type(const char *name) {
  static const struct {
    const char *name;
    spec_type_kind_t kind, wrapped;
  } wkt[] = {
      {"google.protobuf.Timestamp", SPEC_T_TIMESTAMP, 0}, {"google.protobuf.Duration", SPEC_T_DURATION, 0},
      {"google.protobuf.Any", SPEC_T_ANY, 0},             {"google.protobuf.Value", SPEC_T_DYN, 0},
      {"google.protobuf.Int32Value", SPEC_T_WRAPPER, SPEC_T_INT},
      {"google.protobuf.Int64Value", SPEC_T_WRAPPER, SPEC_T_INT},
      {"google.protobuf.UInt32Value", SPEC_T_WRAPPER, SPEC_T_UINT},
      {"google.protobuf.UInt64Value", SPEC_T_WRAPPER, SPEC_T_UINT},
      {"google.protobuf.FloatValue", SPEC_T_WRAPPER, SPEC_T_DOUBLE},
      {"google.protobuf.DoubleValue", SPEC_T_WRAPPER, SPEC_T_DOUBLE},
      {"google.protobuf.BoolValue", SPEC_T_WRAPPER, SPEC_T_BOOL},
      {"google.protobuf.StringValue", SPEC_T_WRAPPER, SPEC_T_STRING},
      {"google.protobuf.BytesValue", SPEC_T_WRAPPER, SPEC_T_BYTES},
  };
  for (size_t i = 0; i < sizeof(wkt) / sizeof(wkt[0]); i++) {
    if (strcmp(name, wkt[i].name) != 0)
      continue;
    spec_type_t *t = type_new(wkt[i].kind);
    if (wkt[i].kind == SPEC_T_WRAPPER)
      t->elem = type_new(wkt[i].wrapped);
    return t;
  }
  if (strcmp(name, "google.protobuf.Struct") == 0) {
    spec_type_t *t = type_new(SPEC_T_MAP);
    t->key = type_new(SPEC_T_STRING);
    t->val = type_new(SPEC_T_DYN);
    return t;
  }
  if (strcmp(name, "google.protobuf.ListValue") == 0) {
    spec_type_t *t = type_new(SPEC_T_LIST);
    t->elem = type_new(SPEC_T_DYN);
    return t;
  }
  spec_type_t *t = type_new(SPEC_T_MESSAGE);
  t->name = xstrdup(name);
  return t;
}

/* cel.expr.Type */
static spec_type_t *read_type(rd_t *rd, const tp_node_t *msg) {
  if (!msg || !msg->is_msg || msg->nkids == 0) {
    bad(rd, msg, "expected a Type");
    return type_new(SPEC_T_DYN);
  }
  const tp_node_t *f = msg->kids[0];
  const char *name = f->name;
  if (strcmp(name, "dyn") == 0)
    return type_new(SPEC_T_DYN);
  if (strcmp(name, "null") == 0)
    return type_new(SPEC_T_NULL);
  if (strcmp(name, "primitive") == 0)
    return type_new(primitive(rd, f));
  if (strcmp(name, "wrapper") == 0) {
    spec_type_t *t = type_new(SPEC_T_WRAPPER);
    t->elem = type_new(primitive(rd, f));
    return t;
  }
  if (strcmp(name, "well_known") == 0) {
    const char *s = tp_ident(f);
    if (s && strcmp(s, "TIMESTAMP") == 0)
      return type_new(SPEC_T_TIMESTAMP);
    if (s && strcmp(s, "DURATION") == 0)
      return type_new(SPEC_T_DURATION);
    if (s && strcmp(s, "ANY") == 0)
      return type_new(SPEC_T_ANY);
    bad(rd, f, "unknown well-known type");
    return type_new(SPEC_T_DYN);
  }
  if (strcmp(name, "list_type") == 0) {
    spec_type_t *t = type_new(SPEC_T_LIST);
    t->elem = read_type(rd, tp_get(f, "elem_type"));
    return t;
  }
  if (strcmp(name, "map_type") == 0) {
    spec_type_t *t = type_new(SPEC_T_MAP);
    t->key = read_type(rd, tp_get(f, "key_type"));
    t->val = read_type(rd, tp_get(f, "value_type"));
    return t;
  }
  if (strcmp(name, "message_type") == 0 || strcmp(name, "type_param") == 0) {
    const char *s = tp_str(f, NULL);
    if (!s) {
      bad(rd, f, "expected a string");
      return type_new(SPEC_T_DYN);
    }
    if (name[0] == 'm')
      return message_type(s);
    spec_type_t *t = type_new(SPEC_T_TYPE_PARAM);
    t->name = xstrdup(s);
    return t;
  }
  if (strcmp(name, "type") == 0) {
    spec_type_t *t = type_new(SPEC_T_TYPE);
    if (f->nkids)
      t->elem = read_type(rd, f);
    return t;
  }
  if (strcmp(name, "abstract_type") == 0) {
    spec_type_t *t = type_new(SPEC_T_ABSTRACT);
    t->name = xstrdup(get_str(rd, f, "name", NULL));
    return t;
  }
  if (strcmp(name, "function") == 0 || strcmp(name, "error") == 0)
    return type_new(SPEC_T_OTHER);
  bad(rd, f, "unknown Type field");
  return type_new(SPEC_T_DYN);
}

/* ---- tests ---- */

static bool get_bool(rd_t *rd, const tp_node_t *f) {
  bool b = false;
  if (tp_bool(f, &b) < 0)
    bad(rd, f, "expected a bool");
  return b;
}

/* The first message of an ErrorSet ("" when it has none). */
static char *error_set_message(rd_t *rd, const tp_node_t *set) {
  const tp_node_t *e = tp_get(set, "errors");
  return xstrdup(e ? get_str(rd, e, "message", NULL) : "");
}

static void read_test(rd_t *rd, const tp_node_t *msg, spec_test_t *t) {
  t->line = msg->line;
  t->expect = SPEC_EXPECT_VALUE;
  for (size_t i = 0; i < msg->nkids && !rd->failed; i++) {
    const tp_node_t *f = msg->kids[i];
    const char *n = f->name;
    if (strcmp(n, "name") == 0) {
      free(t->name);
      t->name = xstrdup(get_str(rd, msg, "name", NULL));
    } else if (strcmp(n, "expr") == 0) {
      const char *s = tp_str(f, NULL);
      if (!s)
        bad(rd, f, "expected a string");
      free(t->expr);
      t->expr = xstrdup(s ? s : "");
    } else if (strcmp(n, "container") == 0) {
      free(t->container);
      t->container = xstrdup(get_str(rd, msg, "container", NULL));
    } else if (strcmp(n, "description") == 0 || strcmp(n, "locale") == 0) {
      /* not used */
    } else if (strcmp(n, "disable_check") == 0) {
      t->disable_check = get_bool(rd, f);
    } else if (strcmp(n, "disable_macros") == 0) {
      t->disable_macros = get_bool(rd, f);
    } else if (strcmp(n, "check_only") == 0) {
      t->check_only = get_bool(rd, f);
    } else if (strcmp(n, "type_env") == 0) {
      t->decls = xrealloc(t->decls, (t->ndecls + 1) * sizeof(*t->decls));
      spec_decl_t *d = &t->decls[t->ndecls++];
      d->name = xstrdup(get_str(rd, f, "name", NULL));
      const tp_node_t *ident = tp_get(f, "ident");
      d->type = ident ? read_type(rd, tp_get(ident, "type")) : NULL;
      if (!ident && !tp_get(f, "function"))
        bad(rd, f, "a declaration needs ident or function");
    } else if (strcmp(n, "bindings") == 0) {
      t->bindings = xrealloc(t->bindings, (t->nbindings + 1) * sizeof(*t->bindings));
      spec_binding_t *b = &t->bindings[t->nbindings++];
      b->name = xstrdup(get_str(rd, f, "key", NULL));
      const tp_node_t *ev = tp_get(f, "value");
      const tp_node_t *v = tp_get(ev, "value");
      b->value = v ? read_value(rd, v) : NULL;
      if (!ev)
        bad(rd, f, "a binding needs a value");
    } else if (strcmp(n, "value") == 0) {
      spec_value_free(t->value);
      t->value = read_value(rd, f);
    } else if (strcmp(n, "typed_result") == 0) {
      spec_value_free(t->value);
      const tp_node_t *r = tp_get(f, "result");
      t->value = r ? read_value(rd, r) : NULL;
      t->has_deduced_type = tp_get(f, "deduced_type") != NULL;
    } else if (strcmp(n, "eval_error") == 0) {
      t->expect = SPEC_EXPECT_ERROR;
      free(t->error);
      t->error = error_set_message(rd, f);
    } else if (strcmp(n, "any_eval_errors") == 0) {
      t->expect = SPEC_EXPECT_ERROR;
      free(t->error);
      t->error = error_set_message(rd, tp_get(f, "errors"));
    } else if (strcmp(n, "unknown") == 0 || strcmp(n, "any_unknowns") == 0) {
      t->expect = SPEC_EXPECT_UNKNOWN;
    } else {
      bad(rd, f, "unknown SimpleTest field");
    }
  }
  if (!t->name)
    t->name = xstrdup("");
  if (!t->expr)
    t->expr = xstrdup("");
  if (!t->container)
    t->container = xstrdup("");
  if (t->expect == SPEC_EXPECT_VALUE && !t->value && !t->check_only) {
    /* simple.proto: "If the result_matcher is unset, a result of true is expected" */
    t->value = val_new(SPEC_BOOL);
    t->value->b = true;
  }
}

static void test_done(spec_test_t *t) {
  free(t->name);
  free(t->expr);
  free(t->container);
  for (size_t i = 0; i < t->ndecls; i++) {
    free(t->decls[i].name);
    type_free(t->decls[i].type);
  }
  free(t->decls);
  for (size_t i = 0; i < t->nbindings; i++) {
    free(t->bindings[i].name);
    spec_value_free(t->bindings[i].value);
  }
  free(t->bindings);
  spec_value_free(t->value);
  free(t->error);
}

void spec_file_free(spec_file_t *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->nsections; i++) {
    spec_section_t *s = &f->sections[i];
    for (size_t j = 0; j < s->ntests; j++)
      test_done(&s->tests[j]);
    free(s->tests);
    free(s->name);
  }
  free(f->sections);
  free(f->name);
  free(f);
}

int spec_file_parse(const char *text, size_t len, spec_file_t **ret, char *err, size_t errlen) {
  tp_node_t *root = tp_parse(text, len, err, errlen);
  if (!root)
    return -EINVAL;
  rd_t rd = {.err = err, .errlen = errlen};
  spec_file_t *f = xcalloc(1, sizeof(*f));
  f->name = xstrdup(get_str(&rd, root, "name", NULL));
  for (size_t i = 0; i < root->nkids && !rd.failed; i++) {
    const tp_node_t *sn = root->kids[i];
    if (strcmp(sn->name, "section") != 0)
      continue;
    f->sections = xrealloc(f->sections, (f->nsections + 1) * sizeof(*f->sections));
    spec_section_t *s = &f->sections[f->nsections++];
    memset(s, 0, sizeof(*s));
    s->name = xstrdup(get_str(&rd, sn, "name", NULL));
    for (size_t j = 0; j < sn->nkids && !rd.failed; j++) {
      if (strcmp(sn->kids[j]->name, "test") != 0)
        continue;
      s->tests = xrealloc(s->tests, (s->ntests + 1) * sizeof(*s->tests));
      spec_test_t *t = &s->tests[s->ntests++];
      memset(t, 0, sizeof(*t));
      read_test(&rd, sn->kids[j], t);
    }
  }
  tp_free(root);
  if (rd.failed) {
    spec_file_free(f);
    return -EINVAL;
  }
  *ret = f;
  return 0;
}

int spec_file_read(const char *path, spec_file_t **ret, char *err, size_t errlen) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    int rc = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return rc;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 > cap) {
      cap = (len + 4096) * 2;
      buf = xrealloc(buf, cap);
    }
    size_t n = fread(buf + len, 1, cap - len, fp);
    if (n == 0)
      break;
    len += n;
  }
  int rc = ferror(fp) ? -EIO : 0;
  fclose(fp);
  if (rc < 0)
    snprintf(err, errlen, "%s: read error", path);
  else
    rc = spec_file_parse(buf, len, ret, err, errlen);
  free(buf);
  return rc;
}

/* ---- what the harness cannot run ---- */

static const char *value_needs_proto(const spec_value_t *v) {
  if (!v)
    return NULL;
  if (v->kind == SPEC_MESSAGE)
    return "a protobuf message value";
  if (v->kind == SPEC_ENUM)
    return "a protobuf enum value";
  size_t n = v->kind == SPEC_MAP ? 2 * v->n : v->kind == SPEC_LIST ? v->n : 0;
  for (size_t i = 0; i < n; i++) {
    const char *r = value_needs_proto(v->items[i]);
    if (r)
      return r;
  }
  return NULL;
}

static const char *type_needs_proto(const spec_type_t *t) {
  if (!t)
    return NULL;
  if (t->kind == SPEC_T_MESSAGE)
    return "a declared protobuf message type";
  const char *r = type_needs_proto(t->elem);
  if (!r)
    r = type_needs_proto(t->key);
  if (!r)
    r = type_needs_proto(t->val);
  return r;
}

/* Skips a CEL string or bytes literal starting at s[i] (a quote);
 * returns the index after it. */
static size_t skip_cel_string(const char *s, size_t i, bool raw) {
  char q = s[i];
  bool triple = s[i + 1] == q && s[i + 2] == q;
  i += triple ? 3 : 1;
  while (s[i]) {
    if (s[i] == '\\' && !raw && s[i + 1]) {
      i += 2;
      continue;
    }
    if (s[i] == q && (!triple || (s[i + 1] == q && s[i + 2] == q)))
      return i + (triple ? 3 : 1);
    i++;
  }
  return i;
}

const char *spec_test_needs_proto(const spec_test_t *t) {
  static const char *const proto_names[] = {"TestAllTypes", "NestedTestAllTypes", "GlobalEnum", "NestedEnum",
                                            "NestedMessage", "TestRequired", "proto2", "proto3"};
  const char *r;
  for (size_t i = 0; i < t->nbindings; i++)
    if ((r = value_needs_proto(t->bindings[i].value)))
      return r;
  if ((r = value_needs_proto(t->value)))
    return r;
  for (size_t i = 0; i < t->ndecls; i++)
    if ((r = type_needs_proto(t->decls[i].type)))
      return r;
  if (strncmp(t->container, "cel.expr.conformance", 20) == 0 || strncmp(t->container, "google.protobuf", 15) == 0)
    return "a protobuf package as container";
  const char *s = t->expr;
  for (size_t i = 0; s[i];) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\'') {
      bool raw = i > 0 && (s[i - 1] == 'r' || s[i - 1] == 'R');
      i = skip_cel_string(s, i, raw);
      continue;
    }
    if (!(isalpha(c) || c == '_')) {
      i++;
      continue;
    }
    size_t start = i;
    while (s[i] && (isalnum((unsigned char)s[i]) || s[i] == '_'))
      i++;
    size_t len = i - start;
    if ((s[i] == '"' || s[i] == '\'') && len <= 2) /* string prefix r b rb br */
      continue;
    for (size_t k = 0; k < sizeof(proto_names) / sizeof(proto_names[0]); k++)
      if (strlen(proto_names[k]) == len && memcmp(s + start, proto_names[k], len) == 0)
        return "a conformance protobuf message or enum";
    size_t j = i;
    while (s[j] == ' ' || s[j] == '\t' || s[j] == '\n')
      j++;
    bool keyword = (len == 2 && memcmp(s + start, "in", 2) == 0);
    if (s[j] == '{' && !keyword)
      return "protobuf message construction";
  }
  return NULL;
}

/* ---- printing ---- */

typedef struct {
  char *p;
  size_t len, cap;
} out_t;

static void out_add(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_add(out_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (o->len + (size_t)n + 1 > o->cap) {
    o->cap = (o->len + (size_t)n + 1) * 2;
    o->p = xrealloc(o->p, o->cap);
  }
  va_start(ap, fmt);
  vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  o->len += (size_t)n;
}

/* bytes: every non-ASCII byte escaped; strings keep their UTF-8 */
static void out_quoted(out_t *o, const char *s, size_t len, bool bytes) {
  out_add(o, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      out_add(o, "\\%c", c);
    else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80))
      out_add(o, "\\x%02x", c);
    else
      out_add(o, "%c", c);
  }
  out_add(o, "\"");
}

static void out_value(out_t *o, const spec_value_t *v) {
  switch (v->kind) {
  case SPEC_NULL: out_add(o, "null"); break;
  case SPEC_BOOL: out_add(o, "%s", v->b ? "true" : "false"); break;
  case SPEC_INT: out_add(o, "%lld", (long long)v->i); break;
  case SPEC_UINT: out_add(o, "%lluu", (unsigned long long)v->u); break;
  case SPEC_DOUBLE: out_add(o, "%.17g", v->d); break;
  case SPEC_STRING: out_quoted(o, v->str, v->len, false); break;
  case SPEC_BYTES: out_add(o, "b"); out_quoted(o, v->str, v->len, true); break;
  case SPEC_TYPE: out_add(o, "type(%s)", v->str); break;
  case SPEC_TIMESTAMP: out_add(o, "timestamp(%llds+%dns)", (long long)v->i, v->nanos); break;
  case SPEC_DURATION: out_add(o, "duration(%llds+%dns)", (long long)v->i, v->nanos); break;
  case SPEC_ENUM: out_add(o, "%s(%lld)", v->str, (long long)v->i); break;
  case SPEC_MESSAGE: out_add(o, "%s{...}", v->str); break;
  case SPEC_LIST:
    out_add(o, "[");
    for (size_t i = 0; i < v->n; i++) {
      out_add(o, i ? ", " : "");
      out_value(o, v->items[i]);
    }
    out_add(o, "]");
    break;
  case SPEC_MAP:
    out_add(o, "{");
    for (size_t i = 0; i < v->n; i++) {
      out_add(o, i ? ", " : "");
      out_value(o, v->items[i]);
      out_add(o, ": ");
      out_value(o, v->items[v->n + i]);
    }
    out_add(o, "}");
    break;
  }
}

char *spec_value_str(const spec_value_t *v) {
  out_t o = {0};
  out_add(&o, "%s", "");
  if (v)
    out_value(&o, v);
  return o.p;
}
