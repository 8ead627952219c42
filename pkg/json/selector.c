/* Kubernetes label selectors (k8s.io/apimachinery/pkg/labels: the string
 * syntax with its lexer quirks, label key/value validation and error text;
 * metav1.LabelSelector's JSON form) and field selectors (pkg/fields: =, ==,
 * != on dotted paths, backslash escapes). Concepts:
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/ */
#include "json/selector.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/util.h"
#include "util/alloc.h"
#include "util/buf.h"

/* ---------------------------------------------------------------- labels */

typedef enum { OP_IN, OP_NOTIN, OP_EQ, OP_DEQ, OP_NE, OP_EXISTS, OP_NOTEXISTS, OP_GT, OP_LT } op_t;

typedef struct {
  char *key;
  op_t op;
  char **vals; /* sorted, unique */
  size_t nvals;
} req_t;

struct label_selector {
  req_t *reqs;
  size_t n, cap;
  bool nothing; /* a nil metav1.LabelSelector */
};

#define LABEL_MAX 63
#define SUBDOMAIN_MAX 253

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...) {
  if (errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

static bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool label_name_ok(const char *s, size_t n) {
  if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return false;
  return true;
}

/* RFC 1123 subdomain: lowercase labels [a-z0-9]([-a-z0-9]*[a-z0-9])? joined by '.' */
static bool subdomain_ok(const char *s, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.')
      continue;
    size_t len = i - start;
    if (len == 0)
      return false;
    for (size_t j = start; j < i; j++) {
      char c = s[j];
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok)
        return false;
    }
    if (s[start] == '-' || s[i - 1] == '-')
      return false;
    start = i + 1;
  }
  return true;
}

#define KEY_RE_MSG                                                                                 \
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "     \
  "alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for "          \
  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define SUBDOMAIN_RE_MSG                                                                           \
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " \
  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "    \
  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define VALUE_RE_MSG                                                                               \
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', " \
  "and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or "   \
  "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static void add_msg(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_msg(buf_t *b, const char *fmt, ...) {
  char tmp[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (b->len)
    buf_append_str(b, "; ");
  buf_append_str(b, tmp);
}

/* Validation messages for a label key (content.IsLabelKey), joined by
 * "; ", into b; empty when valid. */
static void check_label_key(const char *k, buf_t *b) {
  const char *slash = strchr(k, '/');
  const char *name = k;
  if (slash && strchr(slash + 1, '/')) {
    add_msg(b, "a valid label key " KEY_RE_MSG " with an optional DNS subdomain prefix and '/' "
               "(e.g. 'example.com/MyName')");
    return;
  }
  if (slash) {
    size_t plen = (size_t)(slash - k);
    name = slash + 1;
    if (plen == 0)
      add_msg(b, "prefix part must be non-empty");
    else {
      if (plen > SUBDOMAIN_MAX)
        add_msg(b, "prefix part must be no more than %d characters", SUBDOMAIN_MAX);
      if (!subdomain_ok(k, plen))
        add_msg(b, "prefix part " SUBDOMAIN_RE_MSG);
    }
  }
  size_t n = strlen(name);
  if (n == 0)
    add_msg(b, "name part must be non-empty");
  else if (n > LABEL_MAX)
    add_msg(b, "name part must be no more than %d characters", LABEL_MAX);
  if (!label_name_ok(name, n))
    add_msg(b, "name part " KEY_RE_MSG);
}

static void check_label_value(const char *v, buf_t *b) {
  size_t n = strlen(v);
  if (n > LABEL_MAX)
    add_msg(b, "must be no more than %d characters", LABEL_MAX);
  if (n && !label_name_ok(v, n))
    add_msg(b, VALUE_RE_MSG);
}

static bool parse_int64(const char *s, long long *ret) {
  if (!*s)
    return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || s[0] == ' ' || s[0] == '\t')
    return false;
  *ret = v;
  return true;
}

static void req_done(req_t *r) {
  free(r->key);
  for (size_t i = 0; i < r->nvals; i++)
    free(r->vals[i]);
  free(r->vals);
}

static void req_add_value(req_t *r, const char *v) {
  size_t at = 0;
  while (at < r->nvals) {
    int c = strcmp(r->vals[at], v);
    if (c == 0)
      return;
    if (c > 0)
      break;
    at++;
  }
  r->vals = xrealloc(r->vals, (r->nvals + 1) * sizeof(*r->vals));
  memmove(r->vals + at + 1, r->vals + at, (r->nvals - at) * sizeof(*r->vals));
  r->vals[at] = xstrdup(v);
  r->nvals++;
}

/* labels.NewRequirement's checks; prefix is the error path of the
 * requirement ("" for the string form). Returns 0 or -EINVAL. */
static int req_validate(const req_t *r, bool check_key, char *err, size_t errlen) {
  buf_t all, one;
  int count = 0;
  buf_init(&all, 8192);
  buf_init(&one, 4096);
  if (check_key) {
    check_label_key(r->key, &one);
    if (one.len) {
      buf_printf(&all, "key: Invalid value: \"%s\": %s", r->key, one.data);
      count++;
    }
    buf_reset(&one);
  }
  const char *vmsg = NULL;
  switch (r->op) {
  case OP_IN:
  case OP_NOTIN:
    if (r->nvals == 0)
      vmsg = "for 'in', 'notin' operators, values set can't be empty";
    break;
  case OP_EQ:
  case OP_DEQ:
  case OP_NE:
    if (r->nvals != 1)
      vmsg = "exact-match compatibility requires one single value";
    break;
  case OP_EXISTS:
  case OP_NOTEXISTS:
    if (r->nvals != 0)
      vmsg = "values set must be empty for exists and does not exist";
    break;
  case OP_GT:
  case OP_LT:
    if (r->nvals != 1)
      vmsg = "for 'Gt', 'Lt' operators, exactly one value is required";
    break;
  }
  if (vmsg) {
    buf_printf(&all, "%svalues: Invalid value: %zu values: %s", count ? ", " : "", r->nvals, vmsg);
    count++;
  }
  for (size_t i = 0; i < r->nvals; i++) {
    long long dummy;
    if ((r->op == OP_GT || r->op == OP_LT) && !parse_int64(r->vals[i], &dummy)) {
      buf_printf(&all, "%svalues[%zu]: Invalid value: \"%s\": for 'Gt', 'Lt' operators, the value "
                       "must be an integer", count ? ", " : "", i, r->vals[i]);
      count++;
    }
  }
  for (size_t i = 0; i < r->nvals; i++) {
    check_label_value(r->vals[i], &one);
    if (one.len) {
      buf_printf(&all, "%svalues[%zu][%s]: Invalid value: \"%s\": %s", count ? ", " : "", i,
                 r->key, r->vals[i], one.data);
      count++;
    }
    buf_reset(&one);
  }
  int rc = 0;
  if (count) {
    rc = errf(err, errlen, count > 1 ? "[%s]" : "%s", all.data);
  }
  buf_done(&all);
  buf_done(&one);
  return rc;
}

static void sel_add(label_selector_t *sel, req_t *r) {
  if (sel->n == sel->cap) {
    sel->cap = sel->cap ? sel->cap * 2 : 4;
    sel->reqs = xrealloc(sel->reqs, sel->cap * sizeof(*sel->reqs));
  }
  sel->reqs[sel->n++] = *r;
  memset(r, 0, sizeof(*r));
}

void label_selector_free(label_selector_t *sel) {
  if (!sel)
    return;
  for (size_t i = 0; i < sel->n; i++)
    req_done(&sel->reqs[i]);
  free(sel->reqs);
  free(sel);
}

/* ---- lexer, token for token as upstream's */

typedef enum {
  T_ERROR,
  T_EOS,
  T_CLOSE,
  T_COMMA,
  T_NOT,
  T_DEQ,
  T_EQ,
  T_GT,
  T_IDENT,
  T_IN,
  T_LT,
  T_NE,
  T_NOTIN,
  T_OPEN,
} tok_t;

typedef struct {
  tok_t tok;
  char *lit;
} item_t;

typedef struct {
  item_t *items;
  size_t n, cap, pos;
} lexed_t;

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static tok_t keyword(const char *s, size_t n) {
  static const struct {
    const char *s;
    tok_t t;
  } kw[] = {{")", T_CLOSE}, {",", T_COMMA}, {"!", T_NOT},   {"==", T_DEQ},   {"=", T_EQ},
            {">", T_GT},    {"in", T_IN},   {"<", T_LT},    {"!=", T_NE},    {"notin", T_NOTIN},
            {"(", T_OPEN}};
  for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
    if (strlen(kw[i].s) == n && memcmp(kw[i].s, s, n) == 0)
      return kw[i].t;
  return T_ERROR;
}

static void lex_push(lexed_t *l, tok_t t, const char *s, size_t n) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
  }
  l->items[l->n].tok = t;
  l->items[l->n].lit = xstrndup(s, n);
  l->n++;
}

static void lex(const char *s, lexed_t *l) {
  size_t i = 0, len = strlen(s);
  for (;;) {
    while (i < len && is_space(s[i]))
      i++;
    if (i >= len) {
      lex_push(l, T_EOS, "", 0);
      return;
    }
    size_t start = i;
    if (is_special(s[i])) {
      /* longest run of specials that still forms an operator */
      tok_t last = T_ERROR;
      size_t last_len = 0;
      while (i < len && is_special(s[i])) {
        tok_t t = keyword(s + start, i - start + 1);
        if (t != T_ERROR) {
          last = t;
          last_len = i - start + 1;
        } else if (last != T_ERROR) {
          break;
        }
        i++;
      }
      if (last == T_ERROR) {
        lex_push(l, T_ERROR, s + start, i - start);
      } else {
        lex_push(l, last, s + start, last_len);
        i = start + last_len;
      }
      continue;
    }
    while (i < len && !is_special(s[i]) && !is_space(s[i]))
      i++;
    tok_t t = keyword(s + start, i - start);
    lex_push(l, t == T_IN || t == T_NOTIN ? t : T_IDENT, s + start, i - start);
  }
}

static void lexed_done(lexed_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i].lit);
  free(l->items);
}

/* In the Values context "in" and "notin" are plain identifiers. */
static tok_t peek(const lexed_t *l, bool values, const char **lit) {
  const item_t *it = &l->items[l->pos < l->n ? l->pos : l->n - 1];
  if (lit)
    *lit = it->lit;
  if (values && (it->tok == T_IN || it->tok == T_NOTIN))
    return T_IDENT;
  return it->tok;
}

static tok_t next(lexed_t *l, bool values, const char **lit) {
  tok_t t = peek(l, values, lit);
  if (l->pos < l->n - 1)
    l->pos++;
  return t;
}

static int parse_values(lexed_t *l, req_t *r, char *err, size_t errlen) {
  const char *lit;
  if (next(l, true, &lit) != T_OPEN)
    return errf(err, errlen, "found '%s' expected: '('", lit);
  const char *lit0;
  tok_t t = peek(l, true, &lit0);
  if (t == T_CLOSE) {
    next(l, true, NULL);
    req_add_value(r, "");
    return 0;
  }
  if (t != T_IDENT && t != T_COMMA)
    return errf(err, errlen, "found '%s', expected: ',', ')' or identifier", lit0);
  for (;;) { /* parseIdentifiersList */
    t = next(l, true, &lit);
    if (t == T_IDENT) {
      req_add_value(r, lit);
      const char *lit2;
      tok_t t2 = peek(l, true, &lit2);
      if (t2 == T_COMMA)
        continue;
      if (t2 == T_CLOSE)
        break;
      return errf(err, errlen, "found '%s', expected: ',' or ')'", lit2);
    } else if (t == T_COMMA) {
      if (r->nvals == 0)
        req_add_value(r, "");
      tok_t t2 = peek(l, true, NULL);
      if (t2 == T_CLOSE) {
        req_add_value(r, "");
        break;
      }
      if (t2 == T_COMMA)
        req_add_value(r, "");
    } else {
      return errf(err, errlen, "found '%s', expected: ',', or identifier", lit);
    }
  }
  if (next(l, true, NULL) != T_CLOSE)
    return errf(err, errlen, "found '%s', expected: ')'", lit0);
  return 0;
}

static int parse_requirement(lexed_t *l, req_t *r, char *err, size_t errlen) {
  const char *lit;
  bool not_exists = false;
  tok_t t = next(l, true, &lit);
  if (t == T_NOT) {
    not_exists = true;
    t = next(l, true, &lit);
  }
  if (t != T_IDENT)
    return errf(err, errlen, "found '%s', expected: identifier", lit);
  buf_t b;
  buf_init(&b, 4096);
  check_label_key(lit, &b);
  if (b.len) {
    int rc = errf(err, errlen, "<nil>: Invalid value: \"%s\": %s", lit, b.data);
    buf_done(&b);
    return rc;
  }
  buf_done(&b);
  r->key = xstrdup(lit);
  tok_t la = peek(l, true, NULL);
  if (not_exists || la == T_EOS || la == T_COMMA) {
    r->op = not_exists ? OP_NOTEXISTS : OP_EXISTS;
    return req_validate(r, false, err, errlen);
  }
  t = next(l, false, &lit);
  switch (t) {
  case T_IN:
    r->op = OP_IN;
    break;
  case T_NOTIN:
    r->op = OP_NOTIN;
    break;
  case T_EQ:
    r->op = OP_EQ;
    break;
  case T_DEQ:
    r->op = OP_DEQ;
    break;
  case T_NE:
    r->op = OP_NE;
    break;
  case T_GT:
    r->op = OP_GT;
    break;
  case T_LT:
    r->op = OP_LT;
    break;
  default:
    return errf(err, errlen, "found '%s', expected: in, notin, =, ==, !=, gt, lt", lit);
  }
  if (r->op == OP_IN || r->op == OP_NOTIN) {
    int rc = parse_values(l, r, err, errlen);
    if (rc < 0)
      return rc;
  } else {
    la = peek(l, true, NULL);
    if (la == T_EOS || la == T_COMMA) {
      req_add_value(r, "");
    } else {
      t = next(l, true, &lit);
      if (t != T_IDENT)
        return errf(err, errlen, "found '%s', expected: identifier", lit);
      req_add_value(r, lit);
    }
  }
  return req_validate(r, false, err, errlen);
}

int label_selector_parse(const char *s, label_selector_t **ret_sel, char *err, size_t errlen) {
  label_selector_t *sel = xcalloc(1, sizeof(*sel));
  lexed_t l = {0};
  req_t r = {0};
  int rc = 0;
  lex(s ? s : "", &l);
  for (;;) {
    const char *lit;
    tok_t t = peek(&l, true, &lit);
    if (t == T_EOS)
      break;
    if (t != T_IDENT && t != T_NOT) {
      rc = errf(err, errlen, "found '%s', expected: !, identifier, or 'end of string'", lit);
      goto out;
    }
    char why[1536];
    rc = parse_requirement(&l, &r, why, sizeof(why));
    if (rc < 0) {
      errf(err, errlen, "unable to parse requirement: %s", why);
      goto out;
    }
    sel_add(sel, &r);
    t = next(&l, true, &lit);
    if (t == T_EOS)
      break;
    if (t != T_COMMA) {
      rc = errf(err, errlen, "found '%s', expected: ',' or 'end of string'", lit);
      goto out;
    }
    const char *lit2;
    tok_t t2 = peek(&l, true, &lit2);
    if (t2 != T_IDENT && t2 != T_NOT) {
      rc = errf(err, errlen, "found '%s', expected: identifier after ','", lit2);
      goto out;
    }
  }
  *ret_sel = sel;
  sel = NULL;
out:
  req_done(&r);
  lexed_done(&l);
  label_selector_free(sel);
  return rc;
}

int label_selector_from_json(const cJSON *json, label_selector_t **ret_sel, char *err,
                             size_t errlen) {
  label_selector_t *sel = xcalloc(1, sizeof(*sel));
  req_t r = {0};
  int rc = 0;
  if (!json || cJSON_IsNull(json)) {
    sel->nothing = true;
    goto done;
  }
  if (!cJSON_IsObject(json)) {
    rc = errf(err, errlen, "label selector must be an object");
    goto out;
  }
  const cJSON *ml = cJSON_GetObjectItemCaseSensitive(json, "matchLabels");
  const cJSON *me = cJSON_GetObjectItemCaseSensitive(json, "matchExpressions");
  if (ml && !cJSON_IsNull(ml)) {
    if (!cJSON_IsObject(ml)) {
      rc = errf(err, errlen, "matchLabels must be an object");
      goto out;
    }
    for (const cJSON *c = ml->child; c; c = c->next) {
      if (!cJSON_IsString(c)) {
        rc = errf(err, errlen, "matchLabels[%s] must be a string", c->string);
        goto out;
      }
      r.key = xstrdup(c->string);
      r.op = OP_EQ;
      req_add_value(&r, c->valuestring);
      rc = req_validate(&r, true, err, errlen);
      if (rc < 0)
        goto out;
      sel_add(sel, &r);
    }
  }
  if (me && !cJSON_IsNull(me)) {
    if (!cJSON_IsArray(me)) {
      rc = errf(err, errlen, "matchExpressions must be a list");
      goto out;
    }
    for (const cJSON *e = me->child; e; e = e->next) {
      const cJSON *key = cJSON_GetObjectItemCaseSensitive(e, "key");
      const cJSON *op = cJSON_GetObjectItemCaseSensitive(e, "operator");
      const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
      const char *ops = cJSON_IsString(op) ? op->valuestring : "";
      r.key = xstrdup(cJSON_IsString(key) ? key->valuestring : "");
      if (!strcmp(ops, "In"))
        r.op = OP_IN;
      else if (!strcmp(ops, "NotIn"))
        r.op = OP_NOTIN;
      else if (!strcmp(ops, "Exists"))
        r.op = OP_EXISTS;
      else if (!strcmp(ops, "DoesNotExist"))
        r.op = OP_NOTEXISTS;
      else {
        rc = errf(err, errlen, "\"%s\" is not a valid label selector operator", ops);
        goto out;
      }
      if (vals && !cJSON_IsNull(vals) && !cJSON_IsArray(vals)) {
        rc = errf(err, errlen, "matchExpressions values must be a list");
        goto out;
      }
      for (const cJSON *v = vals ? vals->child : NULL; v; v = v->next) {
        if (!cJSON_IsString(v)) {
          rc = errf(err, errlen, "matchExpressions values must be strings");
          goto out;
        }
        req_add_value(&r, v->valuestring);
      }
      rc = req_validate(&r, true, err, errlen);
      if (rc < 0)
        goto out;
      sel_add(sel, &r);
    }
  }
done:
  *ret_sel = sel;
  sel = NULL;
out:
  req_done(&r);
  label_selector_free(sel);
  return rc;
}

static bool has_value(const req_t *r, const char *v) {
  for (size_t i = 0; i < r->nvals; i++)
    if (strcmp(r->vals[i], v) == 0)
      return true;
  return false;
}

bool label_selector_match(const label_selector_t *sel, const cJSON *labels) {
  if (!sel || sel->nothing)
    return false;
  for (size_t i = 0; i < sel->n; i++) {
    const req_t *r = &sel->reqs[i];
    const cJSON *l = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, r->key)
                                            : NULL;
    const char *v = l ? (cJSON_IsString(l) ? l->valuestring : "") : NULL;
    bool ok;
    switch (r->op) {
    case OP_IN:
    case OP_EQ:
    case OP_DEQ:
      ok = v && has_value(r, v);
      break;
    case OP_NOTIN:
    case OP_NE:
      ok = !v || !has_value(r, v);
      break;
    case OP_EXISTS:
      ok = v != NULL;
      break;
    case OP_NOTEXISTS:
      ok = v == NULL;
      break;
    default: { /* gt, lt */
      long long have, want;
      ok = v && r->nvals == 1 && parse_int64(v, &have) && parse_int64(r->vals[0], &want) &&
           (r->op == OP_GT ? have > want : have < want);
      break;
    }
    }
    if (!ok)
      return false;
  }
  return true;
}

bool label_selector_empty(const label_selector_t *sel) {
  return sel && !sel->nothing && sel->n == 0;
}

/* ---------------------------------------------------------------- fields */

typedef struct {
  char *field;
  char *value;
  bool negate;
} term_t;

struct field_selector {
  term_t *terms;
  size_t n;
};

void field_selector_free(field_selector_t *sel) {
  if (!sel)
    return;
  for (size_t i = 0; i < sel->n; i++) {
    free(sel->terms[i].field);
    free(sel->terms[i].value);
  }
  free(sel->terms);
  free(sel);
}

/* fields.UnescapeValue: "\\", "\," and "\=" are escapes; a bare ',' or '='
 * is an error, as is any other escape. */
static int unescape(const char *s, size_t n, char **ret, char *err, size_t errlen) {
  char *out = xmalloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 >= n) {
        free(out);
        return errf(err, errlen, "invalid field selector: invalid escape sequence: \\");
      }
      char d = s[++i];
      if (d != '\\' && d != ',' && d != '=') {
        free(out);
        return errf(err, errlen, "invalid field selector: invalid escape sequence: \\%c", d);
      }
      out[o++] = d;
    } else if (c == ',' || c == '=') {
      free(out);
      return errf(err, errlen, "invalid field selector: unescaped character in value: %d", c);
    } else {
      out[o++] = c;
    }
  }
  out[o] = '\0';
  *ret = out;
  return 0;
}

int field_selector_parse(const char *s, field_selector_t **ret_sel, char *err, size_t errlen) {
  field_selector_t *sel = xcalloc(1, sizeof(*sel));
  int rc = 0;
  size_t len = s ? strlen(s) : 0;
  size_t start = 0;
  bool in_slash = false;
  for (size_t i = 0; i <= len; i++) {
    if (i < len) {
      if (in_slash) {
        in_slash = false;
        continue;
      }
      if (s[i] == '\\') {
        in_slash = true;
        continue;
      }
      if (s[i] != ',')
        continue;
    }
    /* one term: s[start, i) */
    const char *t = s + start;
    size_t tn = i - start;
    start = i + 1;
    if (tn == 0)
      continue;
    size_t at = 0, oplen = 0;
    bool negate = false;
    for (at = 0; at < tn; at++) {
      if (at + 1 < tn && t[at] == '!' && t[at + 1] == '=') {
        oplen = 2;
        negate = true;
        break;
      }
      if (at + 1 < tn && t[at] == '=' && t[at + 1] == '=') {
        oplen = 2;
        break;
      }
      if (t[at] == '=') {
        oplen = 1;
        break;
      }
    }
    if (!oplen) {
      rc = errf(err, errlen, "invalid selector: '%s'; can't understand '%.*s'", s, (int)tn, t);
      goto out;
    }
    char *value = NULL;
    rc = unescape(t + at + oplen, tn - at - oplen, &value, err, errlen);
    if (rc < 0)
      goto out;
    sel->terms = xrealloc(sel->terms, (sel->n + 1) * sizeof(*sel->terms));
    sel->terms[sel->n++] = (term_t){xstrndup(t, at), value, negate};
  }
  *ret_sel = sel;
  sel = NULL;
out:
  field_selector_free(sel);
  return rc;
}

size_t field_selector_count(const field_selector_t *sel) {
  return sel ? sel->n : 0;
}

const char *field_selector_field(const field_selector_t *sel, size_t i) {
  return sel && i < sel->n ? sel->terms[i].field : NULL;
}

/* The text a field compares as: strings as is, numbers and booleans as
 * Go would print them, anything missing as "". */
static void field_text(const cJSON *v, char *out, size_t outlen) {
  out[0] = '\0';
  if (cJSON_IsString(v))
    snprintf(out, outlen, "%s", v->valuestring);
  else if (cJSON_IsBool(v))
    snprintf(out, outlen, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == (double)(long long)d && d > -1e18 && d < 1e18)
      snprintf(out, outlen, "%lld", (long long)d);
    else
      snprintf(out, outlen, "%.17g", d);
  }
}

bool field_selector_match(const field_selector_t *sel, const cJSON *obj) {
  if (!sel)
    return true;
  for (size_t i = 0; i < sel->n; i++) {
    const term_t *t = &sel->terms[i];
    const cJSON *v = json_get_path(obj, t->field);
    bool eq;
    if (cJSON_IsString(v)) {
      eq = strcmp(v->valuestring, t->value) == 0;
    } else {
      char text[64];
      field_text(v, text, sizeof(text));
      eq = strcmp(text, t->value) == 0;
    }
    if (eq == t->negate)
      return false;
  }
  return true;
}
