/* Linear-time regular expressions (regex.h): a recursive-descent parser
 * builds a small syntax tree, which compiles to a Thompson NFA program
 * (counted repetitions expanded) simulated one input rune at a time with
 * sparse sets of threads kept in priority order: a Pike VM, as in RE2 and
 * Go's regexp (https://swtch.com/~rsc/regexp/regexp2.html). Syntax, flags
 * and error messages as Go's regexp/syntax (Perl flags). */
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
  size_t n; /* sorted and disjoint once the parser is done with the class */
  bool neg;
} cls_t;

enum { N_EMPTY, N_CLASS, N_CAT, N_ALT, N_REP, N_ASSERT };
enum { A_BOT, A_EOT, A_BOL, A_EOL, A_WORDB, A_NWORDB };
/* Parser flags, as Go's (?i) (?s) (?m) (?U). */
enum { F_FOLD = 1, F_DOTNL = 2, F_MULTILINE = 4, F_UNGREEDY = 8 };

typedef struct {
  int type;
  int first, next; /* children (CAT, ALT, REP), sibling; -1 for none */
  int cls;         /* N_CLASS: index into classes */
  int min, max;    /* N_REP: max -1 = unbounded */
  bool greedy;     /* N_REP */
  bool counted;    /* N_REP written as {n,m} (Go's OpRepeat) */
  int kind;        /* N_ASSERT */
} node_t;

enum { I_CLASS, I_SPLIT, I_JMP, I_ASSERT, I_MATCH };

typedef struct {
  int op;
  int x, y; /* I_CLASS: class; I_SPLIT: targets, x preferred; I_JMP: target; I_ASSERT: kind */
} inst_t;

struct regex_prog {
  inst_t *inst;
  size_t ninst;
  cls_t *cls;
  size_t ncls;
};

typedef struct {
  const char *p;     /* cursor */
  const char *whole; /* the pattern, for the errors that quote all of it */
  node_t *nodes;
  size_t nnodes, capnodes;
  cls_t *cls;
  size_t ncls, capcls;
  char *err;
  size_t errlen;
  int depth;
  int flags;
} parser_t;

/* Go's regexp/syntax Error: "error parsing regexp: <code>: `<expr>`". */
static int perr(parser_t *ps, const char *code, const char *at, size_t n) {
  snprintf(ps->err, ps->errlen, "error parsing regexp: %s: `%.*s`", code, (int)n, at);
  return -EINVAL;
}

static int perr_whole(parser_t *ps, const char *code) { return perr(ps, code, ps->whole, strlen(ps->whole)); }

/* Go's messages (regexp/syntax ErrorCode). */
#define E_CHAR_RANGE "invalid character class range"
#define E_ESCAPE "invalid escape sequence"
#define E_NAMED_CAPTURE "invalid named capture"
#define E_PERL_OP "invalid or unsupported Perl syntax"
#define E_REPEAT_OP "invalid nested repetition operator"
#define E_REPEAT_SIZE "invalid repeat count"
#define E_UTF8 "invalid UTF-8"
#define E_BRACKET "missing closing ]"
#define E_PAREN "missing closing )"
#define E_REPEAT_ARG "missing argument to repetition operator"
#define E_BACKSLASH "trailing backslash at end of expression"
#define E_UNEXPECTED_PAREN "unexpected )"
#define E_NEST "expression nests too deeply"
#define E_LARGE "expression too large"

/* One UTF-8 rune from s (len >= 1 bytes); invalid bytes read as U+FFFD of
 * length 1 (a valid U+FFFD is 3 bytes long). */
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

/* The rune ending just before s[pos] (pos > 0), as Go's DecodeLastRune. */
static uint32_t utf8_last_rune(const unsigned char *s, size_t pos) {
  size_t j = pos - 1, lim = pos >= 4 ? pos - 4 : 0;
  while (j > lim && (s[j] & 0xC0) == 0x80)
    j--;
  size_t n;
  uint32_t r = utf8_rune(s + j, pos - j, &n);
  return j + n == pos ? r : 0xFFFD;
}

/* The pattern's next rune; Go refuses invalid UTF-8 in a pattern. */
static int pat_rune(parser_t *ps, uint32_t *ret) {
  size_t n;
  uint32_t r = utf8_rune((const unsigned char *)ps->p, strlen(ps->p), &n);
  if (r == 0xFFFD && n == 1)
    return perr(ps, E_UTF8, ps->p, strlen(ps->p));
  ps->p += n;
  *ret = r;
  return 0;
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

static int range_cmp(const void *a, const void *b) {
  const range_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge overlapping or adjacent ranges. */
static void cls_normalize(cls_t *c) {
  if (c->n < 2)
    return;
  qsort(c->r, c->n, sizeof(range_t), range_cmp);
  size_t w = 0;
  for (size_t i = 1; i < c->n; i++) {
    if (c->r[i].lo <= c->r[w].hi + 1) {
      if (c->r[i].hi > c->r[w].hi)
        c->r[w].hi = c->r[i].hi;
    } else {
      c->r[++w] = c->r[i];
    }
  }
  c->n = w + 1;
}

/* Add the ranges r (sorted, disjoint), or their complement. */
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

/* ---- case folding for (?i) ----
 * The simple case folds (Unicode CaseFolding.txt, status C and S, which is
 * what Go's unicode.SimpleFold walks) of Latin (Basic, Latin-1, Extended-A,
 * the regular pairs of Extended-B and Extended Additional), Greek and Coptic,
 * Cyrillic, Armenian and fullwidth Latin, with the odd members (Kelvin sign,
 * long s, micro sign, final sigma, Angstrom and Ohm signs, the Greek symbol
 * variants, dz digraphs). Other scripts (Cherokee, Georgian, Glagolitic,
 * Deseret, ...) match case-sensitively under (?i). */
typedef struct {
  uint32_t lo, hi;
  int32_t delta; /* 0: alternating upper/lower pairs starting at lo */
} fold_rule_t;

static const fold_rule_t fold_rules[] = {
    {'A', 'Z', 32},        {'a', 'z', -32},         {0xC0, 0xD6, 32},        {0xD8, 0xDE, 32},
    {0xE0, 0xF6, -32},     {0xF8, 0xFE, -32},       {0x100, 0x12F, 0},       {0x132, 0x137, 0},
    {0x139, 0x148, 0},     {0x14A, 0x177, 0},       {0x179, 0x17E, 0},       {0x1CD, 0x1DC, 0},
    {0x1DE, 0x1EF, 0},     {0x1F8, 0x21F, 0},       {0x222, 0x233, 0},       {0x386, 0x386, 38},
    {0x3AC, 0x3AC, -38},   {0x388, 0x38A, 37},      {0x3AD, 0x3AF, -37},     {0x38C, 0x38C, 64},
    {0x3CC, 0x3CC, -64},   {0x38E, 0x38F, 63},      {0x3CD, 0x3CE, -63},     {0x391, 0x3A1, 32},
    {0x3A3, 0x3AB, 32},    {0x3B1, 0x3C1, -32},     {0x3C3, 0x3CB, -32},     {0x3D8, 0x3EF, 0},
    {0x400, 0x40F, 80},    {0x450, 0x45F, -80},     {0x410, 0x42F, 32},      {0x430, 0x44F, -32},
    {0x460, 0x481, 0},     {0x48A, 0x4BF, 0},       {0x4C0, 0x4C0, 15},      {0x4CF, 0x4CF, -15},
    {0x4C1, 0x4CE, 0},     {0x4D0, 0x52F, 0},       {0x531, 0x556, 48},      {0x561, 0x586, -48},
    {0x1E00, 0x1E95, 0},   {0x1EA0, 0x1EFF, 0},     {0xFF21, 0xFF3A, 32},    {0xFF41, 0xFF5A, -32},
};

/* Fold orbits of more than two runes, or pairs no rule above covers. */
static const uint32_t fold_orbits[][4] = {
    {'K', 'k', 0x212A},         {'S', 's', 0x17F},         {0xB5, 0x39C, 0x3BC},      {0xC5, 0xE5, 0x212B},
    {0xDF, 0x1E9E},             {0xFF, 0x178},             {0x1C4, 0x1C5, 0x1C6},     {0x1C7, 0x1C8, 0x1C9},
    {0x1CA, 0x1CB, 0x1CC},      {0x1F1, 0x1F2, 0x1F3},     {0x3A3, 0x3C2, 0x3C3},     {0x392, 0x3B2, 0x3D0},
    {0x398, 0x3B8, 0x3D1, 0x3F4}, {0x3A6, 0x3C6, 0x3D5},   {0x3A0, 0x3C0, 0x3D6},     {0x39A, 0x3BA, 0x3F0},
    {0x3A1, 0x3C1, 0x3F1},      {0x395, 0x3B5, 0x3F5},     {0x399, 0x3B9, 0x345, 0x1FBE}, {0x3A9, 0x3C9, 0x2126},
    {0x1E60, 0x1E61, 0x1E9B},
};

/* Add to c the case variants of the runes in [lo, hi]. */
static void cls_add_folds(cls_t *c, uint32_t lo, uint32_t hi) {
  for (size_t i = 0; i < sizeof(fold_rules) / sizeof(*fold_rules); i++) {
    const fold_rule_t *f = &fold_rules[i];
    uint32_t a = lo > f->lo ? lo : f->lo, b = hi < f->hi ? hi : f->hi;
    if (a > b)
      continue;
    if (f->delta) {
      cls_add(c, (uint32_t)((int32_t)a + f->delta), (uint32_t)((int32_t)b + f->delta));
    } else {
      uint32_t x = f->lo + ((a - f->lo) & ~1u), y = f->lo + ((b - f->lo) | 1u);
      cls_add(c, x, y > f->hi ? f->hi : y);
    }
  }
  for (size_t i = 0; i < sizeof(fold_orbits) / sizeof(*fold_orbits); i++) {
    bool hit = false;
    for (int k = 0; k < 4 && fold_orbits[i][k]; k++)
      hit |= fold_orbits[i][k] >= lo && fold_orbits[i][k] <= hi;
    for (int k = 0; hit && k < 4 && fold_orbits[i][k]; k++)
      cls_add(c, fold_orbits[i][k], fold_orbits[i][k]);
  }
}

/* Close c under case folding (the ranges it had on entry). */
static void cls_fold(cls_t *c) {
  for (size_t i = 0, n = c->n; i < n; i++) {
    range_t r = c->r[i];
    cls_add_folds(c, r.lo, r.hi);
  }
}

static const range_t digit_r[] = {{'0', '9'}};
static const range_t word_r[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
static const range_t space_r[] = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};

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

/* Add group r (case-folded under (?i)) or its complement to c, as Go's
 * appendGroup: a negated group is folded before it is complemented. */
static void cls_add_group(const parser_t *ps, cls_t *c, const range_t *r, size_t n, bool neg) {
  if (!(ps->flags & F_FOLD)) {
    cls_add_set(c, r, n, neg);
    return;
  }
  cls_t t = {0};
  cls_add_set(&t, r, n, false);
  cls_fold(&t);
  cls_normalize(&t);
  cls_add_set(c, t.r, t.n, neg);
  free(t.r);
}

static int hexval(uint32_t c) {
  return c >= '0' && c <= '9' ? (int)c - '0' : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10 : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10 : -1;
}

static bool is_alnum(uint32_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* A single-rune escape, cursor on the '\\' (Go's parseEscape): \n, \x41,
 * \x{1F600}, \012 (octal), \. ... The error quotes what was read. */
static int escape_rune(parser_t *ps, uint32_t *ret) {
  const char *at = ps->p++;
  if (!*ps->p)
    return perr(ps, E_BACKSLASH, "", 0);
  uint32_t c, r = 0;
  int rc = pat_rune(ps, &c);
  if (rc < 0)
    return rc;
  switch (c) {
  case '1': case '2': case '3': case '4': case '5': case '6': case '7':
    if (*ps->p < '0' || *ps->p > '7')
      break; /* a backreference: not supported */
    /* fall through */
  case '0':
    r = c - '0';
    for (int i = 1; i < 3 && *ps->p >= '0' && *ps->p <= '7'; i++)
      r = r * 8 + (uint32_t)(*ps->p++ - '0');
    *ret = r;
    return 0;
  case 'x': {
    if (!*ps->p)
      break;
    if ((rc = pat_rune(ps, &c)) < 0)
      return rc;
    if (c == '{') {
      int nhex = 0;
      for (;;) {
        if (!*ps->p)
          goto bad;
        if ((rc = pat_rune(ps, &c)) < 0)
          return rc;
        if (c == '}')
          break;
        if (hexval(c) < 0 || (r = r * 16 + (uint32_t)hexval(c)) > RUNE_MAX)
          goto bad;
        nhex++;
      }
      if (!nhex)
        break;
      *ret = r;
      return 0;
    }
    int x = hexval(c), y = -1;
    if (*ps->p) {
      if ((rc = pat_rune(ps, &c)) < 0)
        return rc;
      y = hexval(c);
    }
    if (x < 0 || y < 0)
      break;
    *ret = (uint32_t)(x * 16 + y);
    return 0;
  }
  case 'a': *ret = 7; return 0;
  case 'f': *ret = '\f'; return 0;
  case 'n': *ret = '\n'; return 0;
  case 'r': *ret = '\r'; return 0;
  case 't': *ret = '\t'; return 0;
  case 'v': *ret = '\v'; return 0;
  default:
    if (c < 0x80 && !is_alnum(c)) { /* escaped punctuation */
      *ret = c;
      return 0;
    }
    break;
  }
bad:
  return perr(ps, E_ESCAPE, at, (size_t)(ps->p - at));
}

/* \p{Greek}, \pL ... at the cursor: k3c has no Unicode tables. */
static int unicode_class_refused(parser_t *ps) {
  const char *at = ps->p, *end = at + 2;
  if (*end == '{') {
    const char *close = strchr(end, '}');
    end = close ? close + 1 : end + strlen(end);
  } else if (*end) {
    size_t n;
    utf8_rune((const unsigned char *)end, strlen(end), &n);
    end += n;
  }
  snprintf(ps->err, ps->errlen, "error parsing regexp: %s: `%.*s` (k3c does not support Unicode classes)",
           E_CHAR_RANGE, (int)(end - at), at);
  return -EINVAL;
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

/* "[:alpha:]" or "[:^alpha:]" at the cursor (Go's parseNamedClass): 1 if
 * added, 0 if the text is no named class ('[' is then a literal), or
 * -EINVAL for an unknown name. */
static int named_class(parser_t *ps, cls_t *c) {
  const char *end = strstr(ps->p + 2, ":]");
  if (!end)
    return 0;
  bool neg = ps->p[2] == '^';
  const char *name = ps->p + 2 + neg;
  for (size_t i = 0; i < sizeof(posix_classes) / sizeof(*posix_classes); i++)
    if (strlen(posix_classes[i].name) == (size_t)(end - name) &&
        !strncmp(name, posix_classes[i].name, (size_t)(end - name))) {
      cls_add_group(ps, c, posix_classes[i].r, posix_classes[i].n, neg);
      ps->p = end + 2;
      return 1;
    }
  return perr(ps, E_CHAR_RANGE, ps->p, (size_t)(end + 2 - ps->p));
}

/* One class member rune (Go's parseClassChar). */
static int class_rune(parser_t *ps, const char *whole_class, uint32_t *ret) {
  if (!*ps->p)
    return perr(ps, E_BRACKET, whole_class, strlen(whole_class));
  if (*ps->p == '\\')
    return escape_rune(ps, ret);
  return pat_rune(ps, ret);
}

/* Cursor on '['. */
static int parse_class(parser_t *ps, int *ret) {
  const char *start = ps->p++;
  bool neg = *ps->p == '^';
  if (neg)
    ps->p++;
  int ci = cls_new(ps, neg);
  bool first = true;
  while (!*ps->p || *ps->p != ']' || first) {
    first = false;
    cls_t *c = &ps->cls[ci];
    int rc;
    if (ps->p[0] == '[' && ps->p[1] == ':' && ps->p[2]) {
      if ((rc = named_class(ps, c)) < 0)
        return rc;
      if (rc)
        continue;
    }
    if (ps->p[0] == '\\' && (ps->p[1] == 'p' || ps->p[1] == 'P'))
      return unicode_class_refused(ps);
    const range_t *r;
    size_t n;
    bool pneg;
    if (ps->p[0] == '\\' && ps->p[1] && perl_class(ps->p[1], &r, &n, &pneg)) {
      ps->p += 2;
      cls_add_group(ps, c, r, n, pneg);
      continue;
    }
    const char *rng = ps->p;
    uint32_t lo, hi;
    if ((rc = class_rune(ps, start, &lo)) < 0)
      return rc;
    hi = lo;
    if (ps->p[0] == '-' && ps->p[1] && ps->p[1] != ']') { /* [a-] is a and - */
      ps->p++;
      if ((rc = class_rune(ps, start, &hi)) < 0)
        return rc;
      if (hi < lo)
        return perr(ps, E_CHAR_RANGE, rng, (size_t)(ps->p - rng));
    }
    cls_add(c, lo, hi);
  }
  ps->p++; /* ']' */
  if (ps->flags & F_FOLD)
    cls_fold(&ps->cls[ci]);
  int nd = node_new(ps, N_CLASS);
  ps->nodes[nd].cls = ci;
  *ret = nd;
  return 0;
}

/* A class node of one range (case-folded under (?i)). */
static int single(parser_t *ps, uint32_t lo, uint32_t hi, bool neg) {
  int ci = cls_new(ps, neg);
  cls_add(&ps->cls[ci], lo, hi);
  if (ps->flags & F_FOLD)
    cls_fold(&ps->cls[ci]);
  int n = node_new(ps, N_CLASS);
  ps->nodes[n].cls = ci;
  return n;
}

static int literal(parser_t *ps, uint32_t r) { return single(ps, r, r, false); }

/* Append node n to the concatenation cat whose last child is *last. */
static void cat_append(parser_t *ps, int cat, int *last, int n) {
  if (*last < 0)
    ps->nodes[cat].first = n;
  else
    ps->nodes[*last].next = n;
  *last = n;
}

/* A decimal count at *q (Go's parseInt): -2 if none (or a leading zero), -1
 * if too big; the cursor moves past the digits. */
static long scan_count(const char **q) {
  const char *s = *q;
  if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
    return -2;
  long v = 0;
  for (; *s >= '0' && *s <= '9'; s++)
    if (v >= 0)
      v = v >= 100000000 ? -1 : v * 10 + (*s - '0');
  *q = s;
  return v;
}

/* "{n}", "{n,}", "{n,m}" at s (Go's parseRepeat): true if it is one, with
 * the bounds (min -1 for a number too big; max -1 for none) and its end. */
static bool scan_braces(const char *s, int *ret_min, int *ret_max, const char **ret_end) {
  const char *q = s + 1;
  long lo = scan_count(&q), hi;
  if (lo == -2)
    return false;
  if (*q == '}') {
    hi = lo;
  } else if (*q == ',') {
    q++;
    if (*q == '}') {
      hi = -1;
    } else {
      if ((hi = scan_count(&q)) == -2)
        return false;
      if (hi == -1)
        lo = -1;
    }
  } else {
    return false;
  }
  if (*q != '}')
    return false;
  *ret_min = (int)lo;
  *ret_max = (int)hi;
  *ret_end = q + 1;
  return true;
}

static int parse_alt(parser_t *ps, int *ret);

/* Cursor on '(': a group, a named group, (?flags) or (?flags:...). *ret is
 * the group's node, or -1 for (?flags), which only changes the flags. */
static int parse_group(parser_t *ps, int *ret) {
  const char *t = ps->p;
  int saved = ps->flags;
  *ret = -1;
  if (t[1] != '?') {
    ps->p++;
  } else if ((t[2] == 'P' && t[3] == '<' && t[4]) || (t[2] == '<' && t[3])) {
    const char *name = t + (t[2] == 'P' ? 4 : 3), *end = strchr(t, '>');
    if (!end)
      return perr(ps, E_NAMED_CAPTURE, t, strlen(t));
    bool ok = end > name;
    for (const char *q = name; q < end; q++)
      ok &= *q == '_' || is_alnum((unsigned char)*q);
    if (!ok)
      return perr(ps, E_NAMED_CAPTURE, t, (size_t)(end + 1 - t));
    ps->p = end + 1;
  } else {
    int fl = ps->flags, sign = 1;
    bool saw = false;
    ps->p += 2;
    while (*ps->p) {
      uint32_t c;
      int rc = pat_rune(ps, &c), bit = 0;
      if (rc < 0)
        return rc;
      switch (c) {
      case 'i': bit = F_FOLD; break;
      case 'm': bit = F_MULTILINE; break;
      case 's': bit = F_DOTNL; break;
      case 'U': bit = F_UNGREEDY; break;
      case '-':
        if (sign < 0)
          goto bad;
        sign = -1;
        saw = false;
        continue;
      case ':':
      case ')':
        if (sign < 0 && !saw)
          goto bad;
        ps->flags = fl;
        if (c == ')')
          return 0; /* flags for the rest of the enclosing group */
        goto body;
      default:
        goto bad;
      }
      fl = sign > 0 ? fl | bit : fl & ~bit;
      saw = true;
    }
  bad:
    return perr(ps, E_PERL_OP, t, (size_t)(ps->p - t));
  }
body:
  if (++ps->depth > MAX_NEST)
    return perr_whole(ps, E_NEST);
  int r = parse_alt(ps, ret);
  ps->depth--;
  if (r < 0)
    return r;
  if (*ps->p != ')')
    return perr_whole(ps, E_PAREN);
  ps->p++;
  ps->flags = saved;
  return 0;
}

static int assert_node(parser_t *ps, int kind) {
  int n = node_new(ps, N_ASSERT);
  ps->nodes[n].kind = kind;
  return n;
}

/* One atom at the cursor; *ret is its node, or -1 when the text was only a
 * flag change or an empty \Q\E. \Q...\E appends all but its last rune to
 * the concatenation cat itself, so a repetition applies to that rune (Go). */
static int parse_atom(parser_t *ps, int cat, int *last, int *ret) {
  const char *at = ps->p;
  char c = *ps->p;
  *ret = -1;
  switch (c) {
  case '(':
    return parse_group(ps, ret);
  case '[':
    return parse_class(ps, ret);
  case '.': {
    ps->p++;
    int ci = cls_new(ps, !(ps->flags & F_DOTNL));
    cls_add(&ps->cls[ci], ps->flags & F_DOTNL ? 0 : '\n', ps->flags & F_DOTNL ? RUNE_MAX : '\n');
    *ret = node_new(ps, N_CLASS);
    ps->nodes[*ret].cls = ci;
    return 0;
  }
  case '^':
    ps->p++;
    *ret = assert_node(ps, ps->flags & F_MULTILINE ? A_BOL : A_BOT);
    return 0;
  case '$':
    ps->p++;
    *ret = assert_node(ps, ps->flags & F_MULTILINE ? A_EOL : A_EOT);
    return 0;
  case '*':
  case '+':
  case '?':
    return perr(ps, E_REPEAT_ARG, at, 1 + (at[1] == '?'));
  case '{': {
    int min, max;
    const char *end;
    if (!scan_braces(at, &min, &max, &end)) {
      ps->p++;
      *ret = literal(ps, '{');
      return 0;
    }
    if (min < 0 || min > REGEX_MAX_REPEAT || max > REGEX_MAX_REPEAT || (max >= 0 && min > max))
      return perr(ps, E_REPEAT_SIZE, at, (size_t)(end - at));
    return perr(ps, E_REPEAT_ARG, at, (size_t)(end - at) + (*end == '?'));
  }
  case '\\': {
    char e = ps->p[1];
    if (e == 'A' || e == 'z' || e == 'b' || e == 'B') {
      ps->p += 2;
      *ret = assert_node(ps, e == 'A' ? A_BOT : e == 'z' ? A_EOT : e == 'b' ? A_WORDB : A_NWORDB);
      return 0;
    }
    if (e == 'C')
      return perr(ps, E_ESCAPE, at, 2);
    if (e == 'Q') {
      ps->p += 2;
      const char *end = strstr(ps->p, "\\E"), *stop = end ? end : ps->p + strlen(ps->p);
      while (ps->p < stop) {
        uint32_t r;
        int rc = pat_rune(ps, &r);
        if (rc < 0)
          return rc;
        if (*ret >= 0)
          cat_append(ps, cat, last, *ret);
        *ret = literal(ps, r);
      }
      ps->p = end ? end + 2 : stop;
      return 0;
    }
    if (e == 'p' || e == 'P')
      return unicode_class_refused(ps);
    const range_t *r;
    size_t n;
    bool neg;
    if (e && perl_class(e, &r, &n, &neg)) {
      ps->p += 2;
      int ci = cls_new(ps, neg);
      cls_add_group(ps, &ps->cls[ci], r, n, false);
      *ret = node_new(ps, N_CLASS);
      ps->nodes[*ret].cls = ci;
      return 0;
    }
    uint32_t rune;
    int rc = escape_rune(ps, &rune);
    if (rc < 0)
      return rc;
    *ret = literal(ps, rune);
    return 0;
  }
  default: {
    uint32_t rune;
    int rc = pat_rune(ps, &rune);
    if (rc < 0)
      return rc;
    *ret = literal(ps, rune);
    return 0;
  }
  }
}

/* Go's repeatIsValid: the counted repetitions nested in n multiply to at most lim. */
static bool repeat_valid(const parser_t *ps, int n, int lim) {
  const node_t *nd = &ps->nodes[n];
  if (nd->type == N_REP && nd->counted) {
    int m = nd->max;
    if (m == 0)
      return true;
    if (m < 0)
      m = nd->min;
    if (m > lim)
      return false;
    if (m > 0)
      lim /= m;
  }
  for (int c = nd->first; c >= 0; c = ps->nodes[c].next)
    if (!repeat_valid(ps, c, lim))
      return false;
  return true;
}

/* An atom and its repetition operators, appended to cat. */
static int parse_repeat(parser_t *ps, int cat, int *last) {
  int atom;
  int r = parse_atom(ps, cat, last, &atom);
  if (r < 0)
    return r;
  const char *first_op = NULL;
  for (;;) {
    const char *at = ps->p, *end = at + 1;
    int min = 0, max = 0;
    char c = *at;
    if (c == '*')
      max = -1;
    else if (c == '+')
      min = 1, max = -1;
    else if (c == '?')
      max = 1;
    else if (c != '{' || !scan_braces(at, &min, &max, &end))
      break;
    if (c == '{' && (min < 0 || min > REGEX_MAX_REPEAT || max > REGEX_MAX_REPEAT || (max >= 0 && min > max)))
      return perr(ps, E_REPEAT_SIZE, at, (size_t)(end - at));
    ps->p = end;
    bool greedy = true;
    if (*ps->p == '?') {
      ps->p++;
      greedy = false;
    }
    if (ps->flags & F_UNGREEDY)
      greedy = !greedy;
    if (first_op) /* a** is an error in Perl syntax, not a doubled star */
      return perr(ps, E_REPEAT_OP, first_op, (size_t)(ps->p - first_op));
    if (atom < 0)
      return perr(ps, E_REPEAT_ARG, at, (size_t)(ps->p - at));
    first_op = at;
    int n = node_new(ps, N_REP);
    ps->nodes[n] = (node_t){.type = N_REP, .first = atom, .next = -1, .cls = -1, .min = min, .max = max,
                            .greedy = greedy, .counted = c == '{'};
    if (c == '{' && (min >= 2 || max >= 2) && !repeat_valid(ps, n, REGEX_MAX_REPEAT))
      return perr(ps, E_REPEAT_SIZE, at, (size_t)(ps->p - at));
    atom = n;
  }
  if (atom >= 0)
    cat_append(ps, cat, last, atom);
  return 0;
}

static int parse_cat(parser_t *ps, int *ret) {
  int cat = node_new(ps, N_CAT), last = -1;
  while (*ps->p && *ps->p != '|' && *ps->p != ')') {
    int r = parse_repeat(ps, cat, &last);
    if (r < 0)
      return r;
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

/* Can node n match the empty string? */
static bool nullable(const parser_t *ps, int n) {
  const node_t *nd = &ps->nodes[n];
  switch (nd->type) {
  case N_CLASS:
    return false;
  case N_CAT:
    for (int c = nd->first; c >= 0; c = ps->nodes[c].next)
      if (!nullable(ps, c))
        return false;
    return true;
  case N_ALT:
    for (int c = nd->first; c >= 0; c = ps->nodes[c].next)
      if (nullable(ps, c))
        return true;
    return false;
  case N_REP:
    return nd->min == 0 || nullable(ps, nd->first);
  default:
    return true;
  }
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

/* Point split pc at take (preferred when greedy) and skip. */
static void split_set(emit_t *e, int pc, int take, int skip, bool greedy) {
  e->inst[pc].x = greedy ? take : skip;
  e->inst[pc].y = greedy ? skip : take;
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
    bool g = nd->greedy;
    if (nd->max < 0) {
      if (nd->min == 0 && nullable(ps, sub)) {
        /* x* as (x+)?, so that an empty x cannot outrank a longer match
         * (Go's compiler does the same: `(|a)*` on "aa" matches "") */
        int q = emit(e, I_SPLIT, 0, 0), l = (int)e->n;
        compile_node(ps, e, sub);
        int s2 = emit(e, I_SPLIT, 0, 0);
        split_set(e, q, l, (int)e->n, g);
        split_set(e, s2, l, (int)e->n, g);
      } else if (nd->min == 0) { /* L: split B, out; B: x; jmp L; out: */
        int l = emit(e, I_SPLIT, 0, 0);
        compile_node(ps, e, sub);
        emit(e, I_JMP, l, 0);
        split_set(e, l, l + 1, (int)e->n, g);
      } else { /* x{min-1} L: x; split L, out */
        for (int i = 0; i + 1 < nd->min; i++)
          compile_node(ps, e, sub);
        int l = (int)e->n;
        compile_node(ps, e, sub);
        int s = emit(e, I_SPLIT, 0, 0);
        split_set(e, s, l, (int)e->n, g);
      }
      return;
    }
    for (int i = 0; i < nd->min; i++)
      compile_node(ps, e, sub);
    int opt = nd->max - nd->min;
    int *splits = opt ? xcalloc((size_t)opt, sizeof(int)) : NULL;
    for (int i = 0; i < opt; i++) {
      splits[i] = emit(e, I_SPLIT, 0, 0);
      compile_node(ps, e, sub);
    }
    for (int i = 0; i < opt; i++)
      split_set(e, splits[i], splits[i] + 1, (int)e->n, g);
    free(splits);
    return;
  }
  }
}

static void classes_free(cls_t *cls, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(cls[i].r);
  free(cls);
}

int regex_prog_compile(const char *pattern, regex_prog_t **ret, char *err, size_t errlen) {
  parser_t ps = {.p = pattern, .whole = pattern, .err = err, .errlen = errlen};
  int root, r = parse_alt(&ps, &root);
  if (r == 0 && *ps.p == ')')
    r = perr_whole(&ps, E_UNEXPECTED_PAREN);
  size_t size = 0;
  if (r == 0 && (size = node_size(&ps, root) + 1) > REGEX_MAX_INSTS)
    r = perr_whole(&ps, E_LARGE);
  if (r < 0) {
    classes_free(ps.cls, ps.ncls);
    free(ps.nodes);
    return r;
  }
  emit_t e = {.inst = xcalloc(size, sizeof(inst_t))};
  compile_node(&ps, &e, root);
  emit(&e, I_MATCH, 0, 0);
  for (size_t i = 0; i < ps.ncls; i++)
    cls_normalize(&ps.cls[i]);
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
  classes_free(p->cls, p->ncls);
  free(p->inst);
  free(p);
}

size_t regex_prog_size(const regex_prog_t *p) { return p->ninst; }

/* ---- matching ---- */

/* Threads: pcs in priority order (dense), each with its match's start. */
typedef struct {
  int *dense, n;
  int *sparse; /* sparse[pc] = index into dense */
  size_t *start;
} set_t;

static bool set_has(const set_t *s, int pc) {
  int i = s->sparse[pc];
  return i < s->n && s->dense[i] == pc;
}

static bool is_word(int64_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool cls_match(const cls_t *c, uint32_t r) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r < c->r[mid].lo)
      hi = mid;
    else if (r > c->r[mid].hi)
      lo = mid + 1;
    else
      return !c->neg;
  }
  return c->neg;
}

typedef struct {
  const regex_prog_t *p;
  int *stack;
  int64_t prev, next; /* runes around the current position, -1 at the text's ends */
  uint64_t steps;
} sim_t;

/* Add pc and everything reachable from it without consuming input, in
 * priority order (depth first, a split's x before its y), as threads of a
 * match starting at start. A pc already in s keeps its higher priority. */
static void closure(sim_t *m, set_t *s, int pc, size_t start) {
  int sp = 0;
  m->stack[sp++] = pc;
  while (sp) {
    pc = m->stack[--sp];
    m->steps++;
    if (set_has(s, pc))
      continue;
    s->sparse[pc] = s->n;
    s->start[s->n] = start;
    s->dense[s->n++] = pc;
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
      case A_BOL: ok = m->prev < 0 || m->prev == '\n'; break;
      case A_EOL: ok = m->next < 0 || m->next == '\n'; break;
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

/* The Pike VM from s[pos]: with span, the leftmost-first match's span (a
 * thread reaching MATCH cuts off the lower-priority ones and no new match
 * starts once one is found); without, stop at the first match of any. */
static int run(const regex_prog_t *p, const char *s, size_t len, size_t pos, bool span, size_t *ret_begin,
               size_t *ret_end, uint64_t *budget) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = p->ninst;
  /* Each pc is pushed at most once per set it enters plus once per edge:
   * 2n + 2 bounds the closure stack. */
  int *mem = xcalloc(6 * n + 2, sizeof(int));
  size_t *starts = xcalloc(2 * n, sizeof(size_t));
  set_t cur = {.dense = mem, .sparse = mem + n, .start = starts};
  set_t nxt = {.dense = mem + 2 * n, .sparse = mem + 3 * n, .start = starts + n};
  sim_t m = {.p = p, .stack = mem + 4 * n, .prev = pos > 0 ? (int64_t)utf8_last_rune(u, pos) : -1};
  int result = 0;
  size_t i = pos, w = 0, mb = 0, me = 0;
  m.next = i < len ? (int64_t)utf8_rune(u + i, len - i, &w) : -1;
  for (;;) {
    if (!result)
      closure(&m, &cur, 0, i); /* a match may start here (unanchored), at the lowest priority */
    if (m.steps > *budget) {
      result = -E2BIG;
      break;
    }
    if (cur.n == 0 && (result || i >= len))
      break;
    int64_t r = m.next;
    size_t rw = w;
    if (i < len) { /* the context of position i + rw, for the threads that consume r */
      m.prev = r;
      m.next = i + rw < len ? (int64_t)utf8_rune(u + i + rw, len - i - rw, &w) : -1;
    }
    nxt.n = 0;
    for (int k = 0; k < cur.n; k++) {
      const inst_t *in = &p->inst[cur.dense[k]];
      m.steps++;
      if (in->op == I_MATCH) {
        result = 1;
        mb = cur.start[k];
        me = i;
        if (!span)
          goto out;
        break; /* lower-priority threads lose */
      }
      if (in->op == I_CLASS && i < len && cls_match(&p->cls[in->x], (uint32_t)r))
        closure(&m, &nxt, cur.dense[k] + 1, cur.start[k]);
    }
    if (i >= len)
      break;
    set_t t = cur;
    cur = nxt;
    nxt = t;
    i += rw;
  }
out:
  if (result > 0 && m.steps > *budget)
    result = -E2BIG;
  *budget = m.steps > *budget ? 0 : *budget - m.steps;
  free(starts);
  free(mem);
  if (result > 0 && ret_begin) {
    *ret_begin = mb;
    *ret_end = me;
  }
  return result;
}

int regex_prog_match(const regex_prog_t *p, const char *s, size_t len, uint64_t *budget) {
  return run(p, s, len, 0, false, NULL, NULL, budget);
}

int regex_prog_find(const regex_prog_t *p, const char *s, size_t len, size_t start, size_t *ret_begin,
                    size_t *ret_end, uint64_t *budget) {
  if (start > len)
    return 0;
  return run(p, s, len, start, true, ret_begin, ret_end, budget);
}

int regex_prog_find_next(const regex_prog_t *p, const char *s, size_t len, regex_iter_t *it, size_t *ret_begin,
                         size_t *ret_end, uint64_t *budget) {
  while (it->_pos <= len) {
    size_t b, e;
    int r = regex_prog_find(p, s, len, it->_pos, &b, &e, budget);
    if (r <= 0) {
      it->_pos = len + 1;
      return r;
    }
    /* Go's allMatches: an empty match right after the previous match is
     * skipped, and after an empty match the search moves on one rune. */
    bool accept = true;
    if (e == it->_pos) {
      accept = it->_prev_end1 != b + 1;
      size_t w = 1;
      if (it->_pos < len)
        utf8_rune((const unsigned char *)s + it->_pos, len - it->_pos, &w);
      it->_pos += w;
    } else {
      it->_pos = e;
    }
    it->_prev_end1 = e + 1;
    if (accept) {
      *ret_begin = b;
      *ret_end = e;
      return 1;
    }
  }
  return 0;
}
