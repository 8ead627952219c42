/* CEL parser: recursive descent over langdef.md's grammar (the same
 * precedence as cel-go's CEL.g4), building the AST of internal.h and
 * expanding the standard macros (has, all, exists, exists_one, map,
 * filter) into comprehensions. Errors in upstream's format; nesting is
 * bounded (CEL__MAX_DEPTH) so no input exhausts the stack.
 * https://github.com/google/cel-spec/blob/master/doc/langdef.md#syntax */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "cel/lex.h"
#include "util/alloc.h"

typedef struct {
  cel_lexer_t lx;
  cel_tok_t tok;  /* current */
  int depth;
  bool failed;
  cel_error_t *err;
} parser_t;

/* ---- errors ---- */

void cel__error_at(cel_error_t *err, const char *src, size_t len, uint32_t pos, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (pos > len)
    pos = (uint32_t)len;
  size_t line = 1, ls = 0;
  for (size_t i = 0; i < pos; i++)
    if (src[i] == '\n')
      line++, ls = i + 1;
  size_t le = ls;
  while (le < len && src[le] != '\n')
    le++;
  size_t col = 0;
  for (size_t i = ls; i < pos; i++)
    if (((unsigned char)src[i] & 0xc0) != 0x80)
      col++;
  size_t used = strlen(err->message);
  char *o = err->message + used;
  size_t room = sizeof(err->message) - used;
  int n = snprintf(o, room, "%sERROR: <input>:%zu:%zu: %s\n | %.*s\n | ", used ? "\n" : "", line, col + 1, msg,
                   (int)(le - ls), src + ls);
  if (n < 0 || (size_t)n >= room)
    return;
  o += n, room -= (size_t)n;
  for (size_t i = 0; i < col && room > 2; i++, room--)
    *o++ = '.';
  if (room > 1)
    *o++ = '^';
  *o = 0;
}

static void perr(parser_t *p, uint32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(parser_t *p, uint32_t pos, const char *fmt, ...) {
  if (p->failed)
    return; /* the first error is the one that explains */
  p->failed = true;
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  cel__error_at(p->err, p->lx.src, p->lx.len, pos, "%s", msg);
}

static void tok_text(parser_t *p, const cel_tok_t *t, char *out, size_t len) {
  if (t->kind == CEL_TOK_EOF) {
    snprintf(out, len, "<EOF>");
    return;
  }
  size_t n = t->end - t->start;
  if (n > 40)
    n = 40;
  snprintf(out, len, "%.*s", (int)n, p->lx.src + t->start);
}

static void syntax_error(parser_t *p, const cel_tok_t *t, const char *expecting) {
  char text[64];
  if (t->kind == CEL_TOK_ERROR) {
    if (!strcmp(t->msg, "token recognition error at: ")) {
      tok_text(p, t, text, sizeof(text));
      perr(p, t->start, "Syntax error: token recognition error at: '%s'", text);
    } else if (!strncmp(t->msg, "invalid ", 8))
      perr(p, t->start, "%s", t->msg);
    else
      perr(p, t->start, "Syntax error: %s", t->msg);
    return;
  }
  tok_text(p, t, text, sizeof(text));
  perr(p, t->start, "Syntax error: mismatched input '%s' expecting %s", text, expecting);
}

static const char primary_expecting[] = "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, "
                                        "NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}";

/* ---- tokens ---- */

static void advance(parser_t *p) {
  free(p->tok.str);
  cel__lex_next(&p->lx, &p->tok);
}

static bool accept(parser_t *p, cel_tok_kind_t k) {
  if (p->tok.kind != k)
    return false;
  advance(p);
  return true;
}

static bool expect(parser_t *p, cel_tok_kind_t k) {
  if (accept(p, k))
    return true;
  syntax_error(p, &p->tok, cel__tok_name(k));
  return false;
}

/* ---- nodes ---- */

static cel_expr_t *mk(cel_ekind_t kind, uint32_t pos) {
  cel_expr_t *e = xcalloc(1, sizeof(*e));
  e->kind = kind;
  e->pos = pos;
  e->height = 1;
  e->var_index = -1;
  return e;
}

static void grow(parser_t *p, cel_expr_t *e, const cel_expr_t *child) {
  if (child && child->height + 1 > e->height)
    e->height = child->height + 1;
  if (e->height > CEL__MAX_DEPTH)
    perr(p, e->pos, "max recursion depth exceeded");
}

static void push_arg(parser_t *p, cel_expr_t *e, cel_expr_t *a) {
  e->args = xgrow(e->args, e->nargs, sizeof(*e->args));
  e->args[e->nargs++] = a;
  grow(p, e, a);
}

static cel_expr_t *mk_call(parser_t *p, uint32_t pos, const char *name, cel_expr_t *a, cel_expr_t *b) {
  cel_expr_t *e = mk(CEL_E_CALL, pos);
  e->name = xstrdup(name);
  if (a)
    push_arg(p, e, a);
  if (b)
    push_arg(p, e, b);
  return e;
}

static cel_expr_t *mk_const(uint32_t pos, cel_value_t *v) {
  cel_expr_t *e = mk(CEL_E_CONST, pos);
  e->value = v;
  return e;
}

void cel__expr_free(cel_expr_t *e) {
  if (!e)
    return;
  cel_value_unref(e->value);
  free(e->name);
  cel__expr_free(e->target);
  for (size_t i = 0; i < e->nargs; i++)
    cel__expr_free(e->args[i]);
  free(e->args);
  if (e->fields)
    for (size_t i = 0; i < e->nargs; i++)
      free(e->fields[i]);
  free(e->fields);
  free(e->opt);
  free(e->iter_var);
  cel__expr_free(e->range);
  cel__expr_free(e->pred);
  cel__expr_free(e->filter);
  cel_type_free(e->type);
  free(e->cands);
  free(e);
}

/* ---- grammar ---- */

static cel_expr_t *parse_expr(parser_t *p);

static bool enter(parser_t *p) {
  if (++p->depth > CEL__MAX_DEPTH) {
    perr(p, p->tok.start, "max recursion depth exceeded");
    return false;
  }
  return true;
}

static cel_expr_t *mk_ident(uint32_t pos, const char *name) {
  cel_expr_t *e = mk(CEL_E_IDENT, pos);
  e->name = xstrdup(name);
  return e;
}

static cel_expr_t *mk_recv(parser_t *p, uint32_t pos, const char *name, cel_expr_t *target) {
  cel_expr_t *e = mk_call(p, pos, name, NULL, NULL);
  e->target = target;
  grow(p, e, target);
  return e;
}

static cel_expr_t *mk_comp(parser_t *p, uint32_t pos, const char *var, cel_expr_t *range, cel_expr_t *pred) {
  cel_expr_t *c = mk(CEL_E_COMPREHENSION, pos);
  c->macro = CEL_M_MAP;
  c->iter_var = xstrdup(var);
  c->range = range;
  c->pred = pred;
  grow(p, c, range);
  grow(p, c, pred);
  return c;
}

static cel_expr_t *mk_list1(parser_t *p, uint32_t pos, cel_expr_t *a) {
  cel_expr_t *l = mk(CEL_E_LIST, pos);
  push_arg(p, l, a);
  return l;
}

/* cel-go's optional macros, from the comprehensions the others use
 * (@opt holds the target once evaluated):
 *   o.optMap(v, e)     = [o].map(@opt, @opt.hasValue() ? optional.of([@opt.value()].map(v, e)[0]) : optional.none())[0]
 *   o.optFlatMap(v, e) = the same without optional.of: e is an optional. */
static cel_expr_t *expand_opt_macro(parser_t *p, uint32_t pos, bool flat, cel_expr_t *target, cel_expr_t *call) {
  cel_expr_t *v = call->args[0];
  if (v->kind != CEL_E_IDENT) {
    perr(p, v->pos, "variable name must be a simple identifier");
    return NULL;
  }
  cel_expr_t *inner = mk_comp(p, pos, v->name, mk_list1(p, pos, mk_recv(p, pos, "value", mk_ident(pos, "@opt"))),
                              call->args[1]);
  cel_expr_t *val = mk_call(p, pos, "_[_]", inner, mk_const(pos, cel_int(0)));
  if (!flat)
    val = mk_call(p, pos, "optional.of", val, NULL);
  cel_expr_t *cond = mk_call(p, pos, "_?_:_", mk_recv(p, pos, "hasValue", mk_ident(pos, "@opt")), val);
  push_arg(p, cond, mk_call(p, pos, "optional.none", NULL, NULL));
  cel_expr_t *outer = mk_comp(p, pos, "@opt", mk_list1(p, pos, target), cond);
  cel__expr_free(v);
  call->nargs = 0;
  return mk_call(p, pos, "_[_]", outer, mk_const(pos, cel_int(0)));
}

/* Expands a macro call, or returns NULL if name/args are no macro. Takes
 * target and args on success. */
static cel_expr_t *expand_macro(parser_t *p, uint32_t pos, const char *name, cel_expr_t *target, cel_expr_t *call) {
  size_t n = call->nargs;
  if (!target) {
    if (strcmp(name, "has") || n != 1)
      return NULL;
    cel_expr_t *a = call->args[0];
    if (a->kind != CEL_E_SELECT || a->test_only) {
      perr(p, a->pos, "invalid argument to has() macro");
      return NULL;
    }
    a->test_only = true;
    call->nargs = 0;
    return a;
  }
  if ((!strcmp(name, "optMap") || !strcmp(name, "optFlatMap")) && n == 2)
    return expand_opt_macro(p, pos, !strcmp(name, "optFlatMap"), target, call);
  cel_macro_t m;
  if (!strcmp(name, "all") && n == 2)
    m = CEL_M_ALL;
  else if (!strcmp(name, "exists") && n == 2)
    m = CEL_M_EXISTS;
  else if (!strcmp(name, "exists_one") && n == 2)
    m = CEL_M_EXISTS_ONE;
  else if (!strcmp(name, "map") && (n == 2 || n == 3))
    m = CEL_M_MAP;
  else if (!strcmp(name, "filter") && n == 2)
    m = CEL_M_FILTER;
  else
    return NULL;
  cel_expr_t *v = call->args[0];
  if (v->kind != CEL_E_IDENT) {
    perr(p, v->pos, "argument must be a simple name");
    return NULL;
  }
  cel_expr_t *c = mk(CEL_E_COMPREHENSION, pos);
  c->macro = m;
  c->iter_var = v->name;
  v->name = NULL;
  c->range = target;
  grow(p, c, target);
  if (m == CEL_M_FILTER || (m == CEL_M_MAP && n == 3)) {
    c->filter = call->args[1];
    grow(p, c, c->filter);
  }
  c->pred = call->args[n - 1];
  if (m == CEL_M_FILTER)
    c->pred = NULL;
  else
    grow(p, c, c->pred);
  cel__expr_free(v);
  call->nargs = 0;
  return c;
}

/* args after '(' up to ')' into e->args */
static bool parse_args(parser_t *p, cel_expr_t *e, cel_tok_kind_t close) {
  if (accept(p, close))
    return true;
  for (;;) {
    cel_expr_t *a = parse_expr(p);
    if (!a)
      return false;
    push_arg(p, e, a);
    if (accept(p, CEL_TOK_COMMA)) {
      if (close == CEL_TOK_RBRACKET && accept(p, close)) /* trailing comma */
        return true;
      continue;
    }
    return expect(p, close);
  }
}

/* finishes a call name(args...) or target.name(args...), '(' consumed */
static cel_expr_t *finish_call(parser_t *p, uint32_t pos, char *name, cel_expr_t *target) {
  cel_expr_t *e = mk(CEL_E_CALL, pos);
  e->name = name;
  if (!parse_args(p, e, CEL_TOK_RPAREN)) {
    cel__expr_free(target);
    cel__expr_free(e);
    return NULL;
  }
  cel_expr_t *m = expand_macro(p, pos, name, target, e);
  if (p->failed) {
    cel__expr_free(target);
    cel__expr_free(e);
    return NULL;
  }
  if (m) {
    cel__expr_free(e);
    return m;
  }
  e->target = target;
  grow(p, e, target);
  return e;
}

/* The dotted name of an ident/select chain ("a.b.c"), or NULL. */
static char *qualified_name(const cel_expr_t *e) {
  if (e->kind == CEL_E_IDENT)
    return xstrdup(e->name);
  if (e->kind != CEL_E_SELECT || e->test_only || e->opt)
    return NULL;
  char *t = qualified_name(e->target);
  if (!t)
    return NULL;
  char *r = xasprintf("%s.%s", t, e->name);
  free(t);
  return r;
}

static cel_expr_t *parse_struct(parser_t *p, cel_expr_t *type) {
  uint32_t pos = p->tok.start;
  char *name = qualified_name(type);
  cel__expr_free(type);
  if (!name) {
    syntax_error(p, &p->tok, "<EOF>");
    return NULL;
  }
  advance(p); /* '{' */
  cel_expr_t *e = mk(CEL_E_STRUCT, pos);
  e->name = name;
  while (p->tok.kind != CEL_TOK_RBRACE) {
    bool opt = accept(p, CEL_TOK_QUESTION);
    if (p->tok.kind != CEL_TOK_IDENT) {
      syntax_error(p, &p->tok, "IDENTIFIER");
      goto fail;
    }
    char *field = xstrndup(p->lx.src + p->tok.start, p->tok.end - p->tok.start);
    advance(p);
    if (!expect(p, CEL_TOK_COLON)) {
      free(field);
      goto fail;
    }
    cel_expr_t *v = parse_expr(p);
    if (!v) {
      free(field);
      goto fail;
    }
    e->fields = xgrow(e->fields, e->nargs, sizeof(*e->fields));
    e->opt = xgrow(e->opt, e->nargs, sizeof(*e->opt));
    e->fields[e->nargs] = field;
    e->opt[e->nargs] = opt;
    push_arg(p, e, v);
    if (!accept(p, CEL_TOK_COMMA))
      break;
  }
  if (!expect(p, CEL_TOK_RBRACE))
    goto fail;
  return e;
fail:
  cel__expr_free(e);
  return NULL;
}

static cel_expr_t *parse_primary(parser_t *p) {
  cel_tok_t *t = &p->tok;
  uint32_t pos = t->start;
  cel_expr_t *e = NULL;
  switch (t->kind) {
  case CEL_TOK_INT:
    if (t->u > (uint64_t)INT64_MAX) {
      perr(p, pos, "invalid int literal");
      return NULL;
    }
    e = mk_const(pos, cel_int((int64_t)t->u));
    advance(p);
    return e;
  case CEL_TOK_UINT:
    e = mk_const(pos, cel_uint(t->u));
    advance(p);
    return e;
  case CEL_TOK_DOUBLE:
    e = mk_const(pos, cel_double(t->d));
    advance(p);
    return e;
  case CEL_TOK_STRING:
    e = mk_const(pos, cel_string(t->str, t->len));
    advance(p);
    return e;
  case CEL_TOK_BYTES:
    e = mk_const(pos, cel_bytes(t->str, t->len));
    advance(p);
    return e;
  case CEL_TOK_TRUE:
  case CEL_TOK_FALSE:
    e = mk_const(pos, cel_bool(t->kind == CEL_TOK_TRUE));
    advance(p);
    return e;
  case CEL_TOK_NULL:
    e = mk_const(pos, cel_null());
    advance(p);
    return e;
  case CEL_TOK_DOT:
  case CEL_TOK_IDENT: {
    bool dot = t->kind == CEL_TOK_DOT;
    if (dot) {
      advance(p);
      if (p->tok.kind != CEL_TOK_IDENT) {
        syntax_error(p, &p->tok, "IDENTIFIER");
        return NULL;
      }
    }
    char *name = xstrndup(p->lx.src + p->tok.start, p->tok.end - p->tok.start);
    if (cel__lex_reserved(name)) {
      perr(p, p->tok.start, "reserved identifier: %s", name);
      free(name);
      return NULL;
    }
    if (dot) {
      char *q = xasprintf(".%s", name);
      free(name);
      name = q;
    }
    advance(p);
    if (accept(p, CEL_TOK_LPAREN))
      return finish_call(p, pos, name, NULL);
    e = mk(CEL_E_IDENT, pos);
    e->name = name;
    return e;
  }
  case CEL_TOK_LPAREN:
    advance(p);
    e = parse_expr(p);
    if (!e)
      return NULL;
    if (!expect(p, CEL_TOK_RPAREN)) {
      cel__expr_free(e);
      return NULL;
    }
    return e;
  case CEL_TOK_LBRACKET:
  case CEL_TOK_LBRACKET_QUESTION: {
    /* the lexer reads "[?" as one token: a list whose first element is optional */
    bool first_opt = t->kind == CEL_TOK_LBRACKET_QUESTION;
    advance(p);
    e = mk(CEL_E_LIST, pos);
    while (first_opt || p->tok.kind != CEL_TOK_RBRACKET) {
      bool opt = first_opt || accept(p, CEL_TOK_QUESTION);
      first_opt = false;
      cel_expr_t *a = parse_expr(p);
      if (!a)
        goto fail;
      e->opt = xgrow(e->opt, e->nargs, sizeof(*e->opt));
      e->opt[e->nargs] = opt;
      push_arg(p, e, a);
      if (!accept(p, CEL_TOK_COMMA))
        break;
    }
    if (!expect(p, CEL_TOK_RBRACKET))
      goto fail;
    return e;
  }
  case CEL_TOK_LBRACE: {
    advance(p);
    e = mk(CEL_E_MAP, pos);
    while (p->tok.kind != CEL_TOK_RBRACE) {
      bool opt = accept(p, CEL_TOK_QUESTION);
      cel_expr_t *k = parse_expr(p);
      if (!k)
        goto fail;
      e->opt = xgrow(e->opt, e->nargs / 2, sizeof(*e->opt));
      e->opt[e->nargs / 2] = opt;
      push_arg(p, e, k);
      if (!expect(p, CEL_TOK_COLON))
        goto fail;
      cel_expr_t *v = parse_expr(p);
      if (!v)
        goto fail;
      push_arg(p, e, v);
      if (!accept(p, CEL_TOK_COMMA))
        break;
    }
    if (!expect(p, CEL_TOK_RBRACE))
      goto fail;
    return e;
  }
  default:
    syntax_error(p, t, primary_expecting);
    return NULL;
  }
fail:
  cel__expr_free(e);
  return NULL;
}

static cel_expr_t *parse_member_ops(parser_t *p, cel_expr_t *e) {
  for (;;) {
    uint32_t pos = p->tok.start;
    if (p->tok.kind == CEL_TOK_DOT || p->tok.kind == CEL_TOK_DOT_QUESTION) {
      bool opt = p->tok.kind == CEL_TOK_DOT_QUESTION;
      advance(p);
      bool quoted = p->tok.kind == CEL_TOK_QUOTED_IDENT;
      if (p->tok.kind != CEL_TOK_IDENT && !quoted) {
        syntax_error(p, &p->tok, "IDENTIFIER");
        goto fail;
      }
      char *name = quoted ? xstrndup(p->lx.src + p->tok.start + 1, p->tok.end - p->tok.start - 2)
                          : xstrndup(p->lx.src + p->tok.start, p->tok.end - p->tok.start);
      advance(p);
      if (!opt && !quoted && p->tok.kind == CEL_TOK_LPAREN) {
        advance(p);
        e = finish_call(p, pos, name, e);
        if (!e)
          return NULL;
        continue;
      }
      if (opt) {
        /* a.?b is the call _?._(a, "b") as in cel-go */
        cel_expr_t *c = mk_call(p, pos, "_?._", e, mk_const(pos, cel_string(name, strlen(name))));
        free(name);
        e = c;
        continue;
      }
      cel_expr_t *s = mk(CEL_E_SELECT, pos);
      s->name = name;
      s->target = e;
      grow(p, s, e);
      e = s;
      continue;
    }
    if (p->tok.kind == CEL_TOK_LBRACKET || p->tok.kind == CEL_TOK_LBRACKET_QUESTION) {
      bool opt = p->tok.kind == CEL_TOK_LBRACKET_QUESTION;
      advance(p);
      cel_expr_t *i = parse_expr(p);
      if (!i)
        goto fail;
      if (!expect(p, CEL_TOK_RBRACKET)) {
        cel__expr_free(i);
        goto fail;
      }
      e = mk_call(p, pos, opt ? "_[?_]" : "_[_]", e, i);
      continue;
    }
    if (p->tok.kind == CEL_TOK_LBRACE && (e->kind == CEL_E_IDENT || e->kind == CEL_E_SELECT)) {
      char *q = qualified_name(e);
      if (q) {
        free(q);
        e = parse_struct(p, e);
        if (!e)
          return NULL;
        continue;
      }
    }
    if (p->failed)
      goto fail;
    return e;
  }
fail:
  cel__expr_free(e);
  return NULL;
}

static cel_expr_t *parse_unary(parser_t *p) {
  if (!enter(p))
    return NULL;
  cel_expr_t *e = NULL;
  uint32_t pos = p->tok.start;
  if (p->tok.kind == CEL_TOK_NOT || p->tok.kind == CEL_TOK_MINUS) {
    cel_tok_kind_t op = p->tok.kind;
    size_t n = 0;
    uint32_t *ops = NULL;
    while (p->tok.kind == op) {
      ops = xgrow(ops, n, sizeof(*ops));
      ops[n++] = p->tok.start;
      advance(p);
    }
    if (op == CEL_TOK_MINUS && (p->tok.kind == CEL_TOK_INT || p->tok.kind == CEL_TOK_DOUBLE)) {
      /* a negative literal: -9223372036854775808 is an int */
      uint32_t lpos = ops[--n];
      if (p->tok.kind == CEL_TOK_INT) {
        if (p->tok.u > (uint64_t)INT64_MAX + 1) {
          perr(p, lpos, "invalid int literal");
          free(ops);
          goto out;
        }
        e = mk_const(lpos, cel_int(p->tok.u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)p->tok.u));
      } else
        e = mk_const(lpos, cel_double(-p->tok.d));
      advance(p);
      e = parse_member_ops(p, e);
    } else {
      e = parse_primary(p);
      if (e)
        e = parse_member_ops(p, e);
    }
    while (e && n > 0) {
      n--;
      e = mk_call(p, ops[n], op == CEL_TOK_NOT ? "!_" : "-_", e, NULL);
      if (p->failed) {
        cel__expr_free(e);
        e = NULL;
      }
    }
    free(ops);
    goto out;
  }
  (void)pos;
  e = parse_primary(p);
  if (e)
    e = parse_member_ops(p, e);
out:
  p->depth--;
  return e;
}

static const char *binop_name(cel_tok_kind_t k, int level) {
  switch (level) {
  case 0: /* multiplicative */
    return k == CEL_TOK_STAR ? "_*_" : k == CEL_TOK_SLASH ? "_/_" : k == CEL_TOK_PERCENT ? "_%_" : NULL;
  case 1:
    return k == CEL_TOK_PLUS ? "_+_" : k == CEL_TOK_MINUS ? "_-_" : NULL;
  case 2:
    switch (k) {
    case CEL_TOK_LT: return "_<_";
    case CEL_TOK_LE: return "_<=_";
    case CEL_TOK_GT: return "_>_";
    case CEL_TOK_GE: return "_>=_";
    case CEL_TOK_EQ: return "_==_";
    case CEL_TOK_NE: return "_!=_";
    case CEL_TOK_IN: return "@in";
    default: return NULL;
    }
  }
  return NULL;
}

static cel_expr_t *parse_binary(parser_t *p, int level) {
  cel_expr_t *e = level == 0 ? parse_unary(p) : parse_binary(p, level - 1);
  while (e) {
    const char *op = binop_name(p->tok.kind, level);
    if (!op)
      break;
    uint32_t pos = p->tok.start;
    advance(p);
    cel_expr_t *r = level == 0 ? parse_unary(p) : parse_binary(p, level - 1);
    if (!r) {
      cel__expr_free(e);
      return NULL;
    }
    e = mk_call(p, pos, op, e, r);
    if (p->failed) {
      cel__expr_free(e);
      return NULL;
    }
  }
  return e;
}

/* && and || chains become balanced trees, as cel-go builds them, so a
 * long chain stays shallow. */
static cel_expr_t *balance(parser_t *p, const char *op, cel_expr_t **terms, uint32_t *ops, size_t lo, size_t hi) {
  if (lo == hi)
    return terms[lo];
  size_t mid = (lo + hi + 1) / 2;
  cel_expr_t *l = balance(p, op, terms, ops, lo, mid - 1);
  cel_expr_t *r = balance(p, op, terms, ops, mid, hi);
  return mk_call(p, ops[mid], op, l, r);
}

static cel_expr_t *parse_logical(parser_t *p, bool is_or) {
  cel_tok_kind_t k = is_or ? CEL_TOK_OR : CEL_TOK_AND;
  cel_expr_t *e = is_or ? parse_logical(p, false) : parse_binary(p, 2);
  if (!e || p->tok.kind != k)
    return e;
  size_t n = 1;
  cel_expr_t **terms = xgrow(NULL, 0, sizeof(*terms));
  uint32_t *ops = xgrow(NULL, 0, sizeof(*ops));
  terms[0] = e;
  ops[0] = 0;
  while (p->tok.kind == k) {
    uint32_t pos = p->tok.start;
    advance(p);
    cel_expr_t *r = is_or ? parse_logical(p, false) : parse_binary(p, 2);
    if (!r) {
      for (size_t i = 0; i < n; i++)
        cel__expr_free(terms[i]);
      free(terms);
      free(ops);
      return NULL;
    }
    terms = xgrow(terms, n, sizeof(*terms));
    ops = xgrow(ops, n, sizeof(*ops));
    terms[n] = r;
    ops[n++] = pos;
  }
  e = balance(p, is_or ? "_||_" : "_&&_", terms, ops, 0, n - 1);
  free(terms);
  free(ops);
  if (p->failed) {
    cel__expr_free(e);
    return NULL;
  }
  return e;
}

static cel_expr_t *parse_expr(parser_t *p) {
  if (!enter(p))
    return NULL;
  cel_expr_t *e = parse_logical(p, true);
  if (e && p->tok.kind == CEL_TOK_QUESTION) {
    uint32_t pos = p->tok.start;
    advance(p);
    cel_expr_t *a = parse_logical(p, true), *b = NULL;
    if (a && expect(p, CEL_TOK_COLON))
      b = parse_expr(p);
    if (!b) {
      cel__expr_free(e);
      cel__expr_free(a);
      e = NULL;
    } else {
      e = mk_call(p, pos, "_?_:_", e, a);
      push_arg(p, e, b);
      if (p->failed) {
        cel__expr_free(e);
        e = NULL;
      }
    }
  }
  p->depth--;
  return e;
}

static bool valid_utf8(const char *s, size_t len, size_t *ret_bad) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    unsigned c = u[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0)
      n = 1, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      n = 2, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      n = 3, cp = c & 0x07;
    else
      goto bad;
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (u[i + k] & 0xc0) != 0x80)
        goto bad;
      cp = (cp << 6) | (u[i + k] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp < 0xe000))
      goto bad;
    i += n + 1;
    continue;
  bad:
    *ret_bad = i;
    return false;
  }
  return true;
}

cel_expr_t *cel__parse(const char *src, size_t len, cel_error_t *err) {
  err->message[0] = 0;
  size_t bad;
  if (len > CEL__MAX_SRC) {
    snprintf(err->message, sizeof(err->message), "expression code point size exceeds limit: size: %zu, limit %d",
             len, CEL__MAX_SRC);
    return NULL;
  }
  if (!valid_utf8(src, len, &bad)) {
    cel__error_at(err, src, bad, (uint32_t)bad, "Syntax error: invalid UTF-8");
    return NULL;
  }
  parser_t p = {.lx = {.src = src, .len = len}, .err = err};
  cel__lex_next(&p.lx, &p.tok);
  cel_expr_t *e = parse_expr(&p);
  if (e && p.tok.kind != CEL_TOK_EOF)
    syntax_error(&p, &p.tok, "<EOF>");
  if (p.failed) {
    cel__expr_free(e);
    e = NULL;
  }
  free(p.tok.str);
  return e;
}
