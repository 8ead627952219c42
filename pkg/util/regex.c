/* Linear-time regular expressions (regex.h): a recursive-descent parser
 * builds a small syntax tree, which compiles to a Thompson NFA program
 * (counted repetitions expanded) simulated one input rune at a time with a
 * sparse set of live states, as in Thompson (1968) and RE2's NFA
 * (https://swtch.com/~rsc/regexp/regexp1.html). Syntax as Go's regexp/syntax. */
#include "util/regex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define MAX_NEST 200
#define RUNE_MAX 0x10FFFFu

typedef struct {
  uint32_t lo, hi;
} range_t;

typedef struct {
  range_t *r;
  size_t n;
  bool neg;
} cls_t;

enum { N_EMPTY, N_CLASS, N_CAT, N_ALT, N_REP, N_ASSERT };
enum { A_BOT, A_EOT, A_WORDB, A_NWORDB };

typedef struct {
  int type;
  int first, next; /* children (CAT, ALT, REP), sibling; -1 for none */
  int cls;         /* N_CLASS: index into classes */
  int min, max;    /* N_REP: max -1 = unbounded */
  int kind;        /* N_ASSERT */
} node_t;

enum { I_CLASS, I_SPLIT, I_JMP, I_ASSERT, I_MATCH };

typedef struct {
  int op;
  int x, y; /* I_CLASS: class; I_SPLIT: targets; I_JMP: target; I_ASSERT: kind */
} inst_t;

struct regex_prog {
  inst_t *inst;
  size_t ninst;
  cls_t *cls;
  size_t ncls;
};

typedef struct {
  const char *p; /* cursor */
  node_t *nodes;
  size_t nnodes, capnodes;
  cls_t *cls;
  size_t ncls, capcls;
  char *err;
  size_t errlen;
  int depth;
} parser_t;

static int perr(parser_t *ps, const char *what, const char *at) {
  if (at)
    snprintf(ps->err, ps->errlen, "error parsing regexp: %s: `%.40s`", what, at);
  else
    snprintf(ps->err, ps->errlen, "error parsing regexp: %s", what);
  return -EINVAL;
}

/* One UTF-8 rune from s (len >= 1 bytes); invalid bytes read as U+FFFD. */
static uint32_t utf8_rune(const unsigned char *s, size_t len, size_t *ret_n) {
  uint32_t c = s[0];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 1) {
    *ret_n = 1;
    return c;
  }
  if (n == 0 || n > len)
    goto bad;
  c &= 0x3Fu >> (n - 1);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      goto bad;
    c = c << 6 | (s[i] & 0x3Fu);
  }
  if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > RUNE_MAX ||
      (c >= 0xD800 && c <= 0xDFFF))
    goto bad;
  *ret_n = n;
  return c;
bad:
  *ret_n = 1;
  return 0xFFFD;
}

static int node_new(parser_t *ps, int type) {
  if (ps->nnodes == ps->capnodes) {
    ps->capnodes = ps->capnodes ? ps->capnodes * 2 : 32;
    ps->nodes = xrealloc(ps->nodes, ps->capnodes * sizeof(node_t));
  }
  ps->nodes[ps->nnodes] = (node_t){.type = type, .first = -1, .next = -1, .cls = -1};
  return (int)ps->nnodes++;
}

static int cls_new(parser_t *ps, bool neg) {
  if (ps->ncls == ps->capcls) {
    ps->capcls = ps->capcls ? ps->capcls * 2 : 16;
    ps->cls = xrealloc(ps->cls, ps->capcls * sizeof(cls_t));
  }
  ps->cls[ps->ncls] = (cls_t){.neg = neg};
  return (int)ps->ncls++;
}

static void cls_add(cls_t *c, uint32_t lo, uint32_t hi) {
  if ((c->n & (c->n - 1)) == 0) /* 0, 1, 2, 4, ...: grow at powers of two */
    c->r = xrealloc(c->r, (c->n ? c->n * 2 : 1) * sizeof(range_t));
  c->r[c->n++] = (range_t){lo, hi};
}

static const range_t digit_r[] = {{'0', '9'}};
static const range_t word_r[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
static const range_t space_r[] = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};

/* Add the ranges (sorted, disjoint), or their complement. */
static void cls_add_set(cls_t *c, const range_t *r, size_t n, bool complement) {
  if (!complement) {
    for (size_t i = 0; i < n; i++)
      cls_add(c, r[i].lo, r[i].hi);
    return;
  }
  uint32_t lo = 0;
  for (size_t i = 0; i < n; i++) {
    if (r[i].lo > lo)
      cls_add(c, lo, r[i].lo - 1);
    lo = r[i].hi + 1;
  }
  if (lo <= RUNE_MAX)
    cls_add(c, lo, RUNE_MAX);
}

/* \d \w \s and their negations; returns false for other letters. */
static bool perl_class(char e, const range_t **ret_r, size_t *ret_n, bool *ret_neg) {
  switch (e) {
  case 'd': case 'D': *ret_r = digit_r, *ret_n = 1; break;
  case 'w': case 'W': *ret_r = word_r, *ret_n = 4; break;
  case 's': case 'S': *ret_r = space_r, *ret_n = 3; break;
  default: return false;
  }
  *ret_neg = e >= 'A' && e <= 'Z';
  return true;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A single-rune escape after '\\' (cursor on the letter): \n, \x41, \. ... */
static int escape_rune(parser_t *ps, uint32_t *ret) {
  const char *at = ps->p - 1;
  char c = *ps->p++;
  switch (c) {
  case 'n': *ret = '\n'; return 0;
  case 't': *ret = '\t'; return 0;
  case 'r': *ret = '\r'; return 0;
  case 'f': *ret = '\f'; return 0;
  case 'v': *ret = '\v'; return 0;
  case 'a': *ret = 7; return 0;
  case 'x': {
    uint32_t v = 0;
    if (*ps->p == '{') {
      ps->p++;
      int digits = 0;
      for (; hexval(*ps->p) >= 0; ps->p++, digits++) {
        v = v * 16 + (uint32_t)hexval(*ps->p);
        if (v > RUNE_MAX)
          return perr(ps, "invalid escape sequence", at);
      }
      if (!digits || *ps->p != '}')
        return perr(ps, "invalid escape sequence", at);
      ps->p++;
    } else {
      if (hexval(ps->p[0]) < 0 || hexval(ps->p[1]) < 0)
        return perr(ps, "invalid escape sequence", at);
      v = (uint32_t)(hexval(ps->p[0]) * 16 + hexval(ps->p[1]));
      ps->p += 2;
    }
    *ret = v;
    return 0;
  }
  case '\0':
    ps->p--;
    return perr(ps, "trailing backslash at end of expression", NULL);
  default:
    if ((unsigned char)c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      *ret = (uint32_t)c; /* escaped punctuation */
      return 0;
    }
    if (c >= '1' && c <= '9')
      return perr(ps, "invalid escape sequence (backreferences are not supported)", at);
    return perr(ps, "invalid escape sequence", at);
  }
}

static const struct {
  const char *name;
  range_t r[4];
  size_t n;
} posix_classes[] = {
    {"alnum", {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}, 3}, {"alpha", {{'A', 'Z'}, {'a', 'z'}}, 2},
    {"ascii", {{0, 0x7F}}, 1},                         {"blank", {{'\t', '\t'}, {' ', ' '}}, 2},
    {"cntrl", {{0, 0x1F}, {0x7F, 0x7F}}, 2},           {"digit", {{'0', '9'}}, 1},
    {"graph", {{'!', '~'}}, 1},                        {"lower", {{'a', 'z'}}, 1},
    {"print", {{' ', '~'}}, 1},                        {"punct", {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}, 4},
    {"space", {{'\t', '\r'}, {' ', ' '}}, 2},          {"upper", {{'A', 'Z'}}, 1},
    {"word", {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}, 4}, {"xdigit", {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}, 3},
};

/* Cursor just after '['. */
static int parse_class(parser_t *ps, int *ret) {
  const char *start = ps->p - 1;
  bool neg = *ps->p == '^';
  if (neg)
    ps->p++;
  int ci = cls_new(ps, neg);
  bool first = true;
  for (;;) {
    if (!*ps->p)
      return perr(ps, "missing closing ]", start);
    if (*ps->p == ']' && !first)
      break;
    first = false;
    if (ps->p[0] == '[' && ps->p[1] == ':') {
      const char *end = strstr(ps->p + 2, ":]");
      bool found = false;
      bool pneg = ps->p[2] == '^';
      const char *name = ps->p + 2 + pneg;
      for (size_t i = 0; end && i < sizeof(posix_classes) / sizeof(*posix_classes); i++)
        if (strlen(posix_classes[i].name) == (size_t)(end - name) &&
            !strncmp(name, posix_classes[i].name, (size_t)(end - name))) {
          cls_add_set(&ps->cls[ci], posix_classes[i].r, posix_classes[i].n, pneg);
          found = true;
        }
      if (!found)
        return perr(ps, "invalid character class range", ps->p);
      ps->p = end + 2;
      continue;
    }
    uint32_t lo;
    if (*ps->p == '\\') {
      ps->p++;
      const range_t *r;
      size_t n;
      bool pneg;
      if (perl_class(*ps->p, &r, &n, &pneg)) {
        ps->p++;
        cls_add_set(&ps->cls[ci], r, n, pneg);
        continue;
      }
      if (*ps->p == 'p' || *ps->p == 'P')
        return perr(ps, "invalid character class range (Unicode classes are not supported)", ps->p - 1);
      int rc = escape_rune(ps, &lo);
      if (rc < 0)
        return rc;
    } else {
      size_t n;
      lo = utf8_rune((const unsigned char *)ps->p, strlen(ps->p), &n);
      ps->p += n;
    }
    uint32_t hi = lo;
    if (ps->p[0] == '-' && ps->p[1] && ps->p[1] != ']') {
      const char *at = ps->p;
      ps->p++;
      if (*ps->p == '\\') {
        ps->p++;
        int rc = escape_rune(ps, &hi);
        if (rc < 0)
          return rc;
      } else {
        size_t n;
        hi = utf8_rune((const unsigned char *)ps->p, strlen(ps->p), &n);
        ps->p += n;
      }
      if (hi < lo)
        return perr(ps, "invalid character class range", at - 1);
    }
    cls_add(&ps->cls[ci], lo, hi);
  }
  ps->p++; /* ']' */
  int n = node_new(ps, N_CLASS);
  ps->nodes[n].cls = ci;
  *ret = n;
  return 0;
}

static int single(parser_t *ps, uint32_t lo, uint32_t hi, bool neg) {
  int ci = cls_new(ps, neg);
  cls_add(&ps->cls[ci], lo, hi);
  int n = node_new(ps, N_CLASS);
  ps->nodes[n].cls = ci;
  return n;
}

static int parse_alt(parser_t *ps, int *ret);

static int parse_atom(parser_t *ps, int *ret) {
  const char *at = ps->p;
  char c = *ps->p;
  switch (c) {
  case '(': {
    ps->p++;
    if (*ps->p == '?') {
      if (ps->p[1] == ':') {
        ps->p += 2;
      } else if ((ps->p[1] == 'P' && ps->p[2] == '<') || ps->p[1] == '<') {
        const char *end = strchr(ps->p, '>');
        if (!end || ps->p[1 + (ps->p[1] == 'P')] != '<' || end == ps->p + 2 + (ps->p[1] == 'P'))
          return perr(ps, "invalid named capture", at);
        if (ps->p[1] == '<' && (ps->p[2] == '=' || ps->p[2] == '!'))
          return perr(ps, "invalid or unsupported Perl syntax", at);
        ps->p = end + 1;
      } else {
        return perr(ps, "invalid or unsupported Perl syntax", at);
      }
    }
    if (++ps->depth > MAX_NEST)
      return perr(ps, "expression nests too deeply", NULL);
    int r = parse_alt(ps, ret);
    ps->depth--;
    if (r < 0)
      return r;
    if (*ps->p != ')')
      return perr(ps, "missing closing )", at);
    ps->p++;
    return 0;
  }
  case '[':
    ps->p++;
    return parse_class(ps, ret);
  case '.':
    ps->p++;
    *ret = single(ps, '\n', '\n', true);
    return 0;
  case '^':
  case '$':
    ps->p++;
    *ret = node_new(ps, N_ASSERT);
    ps->nodes[*ret].kind = c == '^' ? A_BOT : A_EOT;
    return 0;
  case '*':
  case '+':
  case '?':
    return perr(ps, "missing argument to repetition operator", at);
  case '\\': {
    ps->p++;
    char e = *ps->p;
    const range_t *r;
    size_t n;
    bool neg;
    if (perl_class(e, &r, &n, &neg)) {
      ps->p++;
      int ci = cls_new(ps, neg);
      cls_add_set(&ps->cls[ci], r, n, false);
      *ret = node_new(ps, N_CLASS);
      ps->nodes[*ret].cls = ci;
      return 0;
    }
    if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
      ps->p++;
      *ret = node_new(ps, N_ASSERT);
      ps->nodes[*ret].kind = e == 'b' ? A_WORDB : e == 'B' ? A_NWORDB : e == 'A' ? A_BOT : A_EOT;
      return 0;
    }
    if (e == 'p' || e == 'P')
      return perr(ps, "invalid character class range (Unicode classes are not supported)", at);
    if (e == 'Q' || e == 'C' || e == 'E')
      return perr(ps, "invalid escape sequence", at);
    uint32_t rune;
    int rc = escape_rune(ps, &rune);
    if (rc < 0)
      return rc;
    *ret = single(ps, rune, rune, false);
    return 0;
  }
  default: {
    size_t n;
    uint32_t rune = utf8_rune((const unsigned char *)ps->p, strlen(ps->p), &n);
    ps->p += n;
    *ret = single(ps, rune, rune, false);
    return 0;
  }
  }
}

/* "{n}", "{n,}", "{n,m}" at the cursor: 1 and the bounds if it is one
 * (cursor moved past it), 0 if '{' is a literal, or -EINVAL. */
static int parse_braces(parser_t *ps, int *ret_min, int *ret_max) {
  const char *q = ps->p + 1;
  long min = 0, max;
  int digits = 0;
  for (; *q >= '0' && *q <= '9'; q++, digits++)
    if ((min = min * 10 + (*q - '0')) > 100000)
      min = 100000;
  if (!digits)
    return 0;
  if (*q == '}') {
    max = min;
  } else if (*q == ',') {
    q++;
    if (*q == '}') {
      max = -1;
    } else {
      max = 0;
      digits = 0;
      for (; *q >= '0' && *q <= '9'; q++, digits++)
        if ((max = max * 10 + (*q - '0')) > 100000)
          max = 100000;
      if (!digits || *q != '}')
        return 0;
    }
  } else {
    return 0;
  }
  if (min > REGEX_MAX_REPEAT || max > REGEX_MAX_REPEAT || (max >= 0 && max < min))
    return perr(ps, "invalid repeat count", ps->p);
  ps->p = q + 1;
  *ret_min = (int)min;
  *ret_max = (int)max;
  return 1;
}

static int parse_repeat(parser_t *ps, int *ret) {
  int atom;
  int r = parse_atom(ps, &atom);
  if (r < 0)
    return r;
  bool repeated = false;
  for (;;) {
    const char *at = ps->p;
    int min = 0, max = 0;
    char c = *ps->p;
    if (c == '*')
      min = 0, max = -1, ps->p++;
    else if (c == '+')
      min = 1, max = -1, ps->p++;
    else if (c == '?')
      min = 0, max = 1, ps->p++;
    else if (c == '{') {
      if ((r = parse_braces(ps, &min, &max)) < 0)
        return r;
      if (r == 0)
        break;
    } else
      break;
    if (repeated)
      return perr(ps, "invalid nested repetition operator", at);
    repeated = true;
    if (*ps->p == '?')
      ps->p++; /* lazy: the same language */
    int n = node_new(ps, N_REP);
    ps->nodes[n].first = atom;
    ps->nodes[n].min = min;
    ps->nodes[n].max = max;
    atom = n;
  }
  *ret = atom;
  return 0;
}

static int parse_cat(parser_t *ps, int *ret) {
  int cat = node_new(ps, N_CAT), last = -1;
  while (*ps->p && *ps->p != '|' && *ps->p != ')') {
    int n = -1;
    int r = parse_repeat(ps, &n);
    if (r < 0)
      return r;
    if (last < 0)
      ps->nodes[cat].first = n;
    else
      ps->nodes[last].next = n;
    last = n;
  }
  *ret = cat;
  return 0;
}

static int parse_alt(parser_t *ps, int *ret) {
  int first;
  int r = parse_cat(ps, &first);
  if (r < 0)
    return r;
  if (*ps->p != '|') {
    *ret = first;
    return 0;
  }
  int alt = node_new(ps, N_ALT), last = first;
  ps->nodes[alt].first = first;
  while (*ps->p == '|') {
    ps->p++;
    int n;
    if ((r = parse_cat(ps, &n)) < 0)
      return r;
    ps->nodes[last].next = n;
    last = n;
  }
  *ret = alt;
  return 0;
}

/* Instructions node n compiles to (exactly), saturating at REGEX_MAX_INSTS + 1. */
static size_t node_size(const parser_t *ps, int n) {
  const size_t over = REGEX_MAX_INSTS + 1;
  const node_t *nd = &ps->nodes[n];
  size_t s = 0;
  switch (nd->type) {
  case N_EMPTY:
    return 0;
  case N_CLASS:
  case N_ASSERT:
    return 1;
  case N_CAT:
  case N_ALT:
    for (int c = nd->first; c >= 0; c = ps->nodes[c].next) {
      s += node_size(ps, c) + (nd->type == N_ALT && ps->nodes[c].next >= 0 ? 2 : 0);
      if (s > REGEX_MAX_INSTS)
        return over;
    }
    return s;
  case N_REP: {
    size_t e = node_size(ps, nd->first);
    size_t min = (size_t)nd->min;
    if (nd->max < 0)
      s = min ? min * e + 1 : e + 2;
    else
      s = min * e + ((size_t)nd->max - min) * (e + 1);
    return s > REGEX_MAX_INSTS ? over : s;
  }
  }
  return 0;
}

typedef struct {
  inst_t *inst;
  size_t n;
} emit_t;

static int emit(emit_t *e, int op, int x, int y) {
  e->inst[e->n] = (inst_t){op, x, y};
  return (int)e->n++;
}

static void compile_node(const parser_t *ps, emit_t *e, int n) {
  const node_t *nd = &ps->nodes[n];
  switch (nd->type) {
  case N_EMPTY:
    return;
  case N_CLASS:
    emit(e, I_CLASS, nd->cls, 0);
    return;
  case N_ASSERT:
    emit(e, I_ASSERT, nd->kind, 0);
    return;
  case N_CAT:
    for (int c = nd->first; c >= 0; c = ps->nodes[c].next)
      compile_node(ps, e, c);
    return;
  case N_ALT: {
    /* split L1, next; L1: a; jmp end; next: split L2, next2; ... last */
    size_t nalt = 0;
    for (int c = nd->first; c >= 0; c = ps->nodes[c].next)
      nalt++;
    int *jumps = xcalloc(nalt, sizeof(int)), nj = 0;
    for (int c = nd->first; c >= 0; c = ps->nodes[c].next) {
      if (ps->nodes[c].next < 0) {
        compile_node(ps, e, c);
        break;
      }
      int sp = emit(e, I_SPLIT, 0, 0);
      e->inst[sp].x = (int)e->n;
      compile_node(ps, e, c);
      jumps[nj++] = emit(e, I_JMP, 0, 0);
      e->inst[sp].y = (int)e->n;
    }
    for (int i = 0; i < nj; i++)
      e->inst[jumps[i]].x = (int)e->n;
    free(jumps);
    return;
  }
  case N_REP: {
    int sub = nd->first;
    if (nd->max < 0) {
      for (int i = 0; i + 1 < nd->min; i++)
        compile_node(ps, e, sub);
      if (nd->min == 0) { /* L: split B, out; B: e; jmp L; out: */
        int l = emit(e, I_SPLIT, 0, 0);
        e->inst[l].x = (int)e->n;
        compile_node(ps, e, sub);
        emit(e, I_JMP, l, 0);
        e->inst[l].y = (int)e->n;
      } else { /* L: e; split L, out */
        int l = (int)e->n;
        compile_node(ps, e, sub);
        emit(e, I_SPLIT, l, (int)e->n + 1);
      }
      return;
    }
    for (int i = 0; i < nd->min; i++)
      compile_node(ps, e, sub);
    int opt = nd->max - nd->min;
    int *splits = opt ? xcalloc((size_t)opt, sizeof(int)) : NULL;
    for (int i = 0; i < opt; i++) {
      splits[i] = emit(e, I_SPLIT, (int)e->n + 1, 0);
      compile_node(ps, e, sub);
    }
    for (int i = 0; i < opt; i++)
      e->inst[splits[i]].y = (int)e->n;
    free(splits);
    return;
  }
  }
}

int regex_prog_compile(const char *pattern, regex_prog_t **ret, char *err, size_t errlen) {
  parser_t ps = {.p = pattern, .err = err, .errlen = errlen};
  int root, r = parse_alt(&ps, &root);
  if (r == 0 && *ps.p == ')')
    r = perr(&ps, "unexpected )", ps.p);
  size_t size = 0;
  if (r == 0 && (size = node_size(&ps, root) + 1) > REGEX_MAX_INSTS)
    r = perr(&ps, "expression too large", NULL);
  if (r < 0) {
    for (size_t i = 0; i < ps.ncls; i++)
      free(ps.cls[i].r);
    free(ps.cls);
    free(ps.nodes);
    return r;
  }
  emit_t e = {.inst = xcalloc(size, sizeof(inst_t))};
  compile_node(&ps, &e, root);
  emit(&e, I_MATCH, 0, 0);
  regex_prog_t *p = xcalloc(1, sizeof(*p));
  p->inst = e.inst;
  p->ninst = e.n;
  p->cls = ps.cls;
  p->ncls = ps.ncls;
  free(ps.nodes);
  *ret = p;
  return 0;
}

void regex_prog_free(regex_prog_t *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->ncls; i++)
    free(p->cls[i].r);
  free(p->cls);
  free(p->inst);
  free(p);
}

size_t regex_prog_size(const regex_prog_t *p) { return p->ninst; }

/* ---- matching ---- */

typedef struct {
  int *dense, n; /* pcs in the set, in insertion order */
  int *sparse;   /* sparse[pc] = index into dense */
} set_t;

static bool set_has(const set_t *s, int pc) {
  int i = s->sparse[pc];
  return i < s->n && s->dense[i] == pc;
}

static void set_add(set_t *s, int pc) {
  s->sparse[pc] = s->n;
  s->dense[s->n++] = pc;
}

static bool is_word(int64_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool cls_match(const cls_t *c, uint32_t r) {
  bool in = false;
  for (size_t i = 0; i < c->n && !in; i++)
    in = r >= c->r[i].lo && r <= c->r[i].hi;
  return in != c->neg;
}

typedef struct {
  const regex_prog_t *p;
  int *stack;
  int64_t prev, next; /* runes around the current position, -1 at the ends */
  uint64_t steps;
} sim_t;

/* Add pc and everything reachable from it without consuming input. */
static void closure(sim_t *m, set_t *s, int pc) {
  int sp = 0;
  m->stack[sp++] = pc;
  while (sp) {
    pc = m->stack[--sp];
    m->steps++;
    if (set_has(s, pc))
      continue;
    set_add(s, pc);
    const inst_t *in = &m->p->inst[pc];
    switch (in->op) {
    case I_JMP:
      m->stack[sp++] = in->x;
      break;
    case I_SPLIT:
      m->stack[sp++] = in->y;
      m->stack[sp++] = in->x;
      break;
    case I_ASSERT: {
      bool ok;
      switch (in->x) {
      case A_BOT: ok = m->prev < 0; break;
      case A_EOT: ok = m->next < 0; break;
      case A_WORDB: ok = is_word(m->prev) != is_word(m->next); break;
      default: ok = is_word(m->prev) == is_word(m->next); break;
      }
      if (ok)
        m->stack[sp++] = pc + 1;
      break;
    }
    default:
      break;
    }
  }
}

int regex_prog_match(const regex_prog_t *p, const char *s, size_t len, uint64_t *budget) {
  size_t n = p->ninst;
  /* Each pc is pushed at most once per set it enters plus once per edge:
   * 2n bounds the closure stack. */
  int *mem = xcalloc(6 * n + 2, sizeof(int));
  set_t cur = {.dense = mem, .sparse = mem + n};
  set_t nxt = {.dense = mem + 2 * n, .sparse = mem + 3 * n};
  sim_t m = {.p = p, .stack = mem + 4 * n, .prev = -1};
  int result = 0;
  size_t i = 0;
  for (;;) {
    size_t rn = 0;
    m.next = i < len ? (int64_t)utf8_rune((const unsigned char *)s + i, len - i, &rn) : -1;
    closure(&m, &cur, 0); /* a match may start here (unanchored) */
    if (m.steps > *budget) {
      result = -E2BIG;
      break;
    }
    for (int k = 0; k < cur.n; k++)
      if (p->inst[cur.dense[k]].op == I_MATCH) {
        result = 1;
        break;
      }
    if (result || i >= len)
      break;
    uint32_t r = (uint32_t)m.next;
    m.prev = m.next;
    i += rn;
    m.next = i < len ? (int64_t)utf8_rune((const unsigned char *)s + i, len - i, &rn) : -1;
    nxt.n = 0;
    for (int k = 0; k < cur.n; k++) {
      const inst_t *in = &p->inst[cur.dense[k]];
      m.steps++;
      if (in->op == I_CLASS && cls_match(&p->cls[in->x], r))
        closure(&m, &nxt, cur.dense[k] + 1);
    }
    set_t t = cur;
    cur = nxt;
    nxt = t;
  }
  *budget = m.steps > *budget ? 0 : *budget - m.steps;
  free(mem);
  return result;
}
