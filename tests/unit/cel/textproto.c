/* tests/unit/cel/textproto.c: protobuf text format into a schema-less tree
 * (textproto.h), for the cel-spec conformance data.
 * https://protobuf.dev/reference/protobuf/textformat-spec/ */
#include "textproto.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

#define MAX_DEPTH 100

typedef struct {
  const char *p, *end;
  int line;
  char *err;
  size_t errlen;
  bool failed;
} lexer_t;

static void fail(lexer_t *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(lexer_t *lx, const char *fmt, ...) {
  if (lx->failed)
    return;
  lx->failed = true;
  int n = snprintf(lx->err, lx->errlen, "line %d: ", lx->line);
  if (n < 0 || (size_t)n >= lx->errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

/* Skips whitespace and # comments; returns the next byte or 0 at the end. */
static int peek(lexer_t *lx) {
  while (lx->p < lx->end) {
    char c = *lx->p;
    if (c == '\n') {
      lx->line++;
      lx->p++;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      lx->p++;
    } else if (c == '#') {
      while (lx->p < lx->end && *lx->p != '\n')
        lx->p++;
    } else {
      return (unsigned char)c;
    }
  }
  return 0;
}

static bool accept(lexer_t *lx, char c) {
  if (peek(lx) != (unsigned char)c)
    return false;
  lx->p++;
  return true;
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_'; }

static tp_node_t *node_new(const char *name, size_t name_len, int line) {
  tp_node_t *n = xcalloc(1, sizeof(*n));
  n->name = xstrndup(name, name_len);
  n->line = line;
  return n;
}

static void node_add(tp_node_t *msg, tp_node_t *kid) {
  msg->kids = xrealloc(msg->kids, (msg->nkids + 1) * sizeof(*msg->kids));
  msg->kids[msg->nkids++] = kid;
}

void tp_free(tp_node_t *n) {
  if (!n)
    return;
  for (size_t i = 0; i < n->nkids; i++)
    tp_free(n->kids[i]);
  free(n->kids);
  free(n->name);
  free(n->text);
  free(n);
}

typedef struct {
  char *p;
  size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void sb_utf8(sbuf_t *b, uint32_t cp) {
  unsigned char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (unsigned char)(0xC0 | (cp >> 6));
    u[1] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (unsigned char)(0xE0 | (cp >> 12));
    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (unsigned char)(0xF0 | (cp >> 18));
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  sb_add(b, u, n);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* One quoted string at lx->p (the quote), decoded onto b. */
static void lex_string(lexer_t *lx, sbuf_t *b) {
  char q = *lx->p++;
  while (lx->p < lx->end && *lx->p != q) {
    char c = *lx->p++;
    if (c == '\n') {
      fail(lx, "newline in string");
      return;
    }
    if (c != '\\') {
      sb_add(b, &c, 1);
      continue;
    }
    if (lx->p >= lx->end)
      break;
    c = *lx->p++;
    char out;
    switch (c) {
    case 'a': out = '\a'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'v': out = '\v'; break;
    case '\\': case '\'': case '"': case '?': out = c; break;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
      unsigned v = (unsigned)(c - '0');
      for (int i = 0; i < 2 && lx->p < lx->end && *lx->p >= '0' && *lx->p <= '7'; i++)
        v = v * 8 + (unsigned)(*lx->p++ - '0');
      if (v > 255) {
        fail(lx, "octal escape out of range");
        return;
      }
      out = (char)v;
      break;
    }
    case 'x': case 'X': {
      int v = 0, i = 0;
      for (; i < 2 && lx->p < lx->end && hexval((unsigned char)*lx->p) >= 0; i++)
        v = v * 16 + hexval((unsigned char)*lx->p++);
      if (i == 0) {
        fail(lx, "bad \\x escape");
        return;
      }
      out = (char)v;
      break;
    }
    case 'u': case 'U': {
      int digits = c == 'u' ? 4 : 8;
      uint32_t v = 0;
      for (int i = 0; i < digits; i++) {
        if (lx->p >= lx->end || hexval((unsigned char)*lx->p) < 0) {
          fail(lx, "bad \\%c escape", c);
          return;
        }
        v = v * 16 + (uint32_t)hexval((unsigned char)*lx->p++);
      }
      if (v > 0x10FFFF) {
        fail(lx, "\\U escape out of range");
        return;
      }
      sb_utf8(b, v);
      continue;
    }
    default:
      fail(lx, "unknown escape \\%c", c);
      return;
    }
    sb_add(b, &out, 1);
  }
  if (lx->p >= lx->end) {
    fail(lx, "unterminated string");
    return;
  }
  lx->p++; /* closing quote */
}

/* A scalar value: strings (concatenated), or an identifier/number token. */
static void lex_scalar(lexer_t *lx, tp_node_t *n) {
  int c = peek(lx);
  if (c == '"' || c == '\'') {
    sbuf_t b = {0};
    sb_add(&b, "", 0);
    while (!lx->failed && ((c = peek(lx)) == '"' || c == '\''))
      lex_string(lx, &b);
    n->text = b.p;
    n->len = b.len;
    n->quoted = true;
    return;
  }
  const char *start = lx->p;
  if (c == '-' || c == '+')
    lx->p++;
  while (lx->p < lx->end && (is_ident_char((unsigned char)*lx->p) || *lx->p == '.' ||
                             ((*lx->p == '-' || *lx->p == '+') && (lx->p[-1] == 'e' || lx->p[-1] == 'E'))))
    lx->p++;
  if (lx->p == start || (lx->p == start + 1 && (*start == '-' || *start == '+'))) {
    fail(lx, "expected a value");
    return;
  }
  n->text = xstrndup(start, (size_t)(lx->p - start));
  n->len = (size_t)(lx->p - start);
}

static void parse_fields(lexer_t *lx, tp_node_t *msg, char close, int depth);

/* A message body after its opening { or <. */
static void parse_body(lexer_t *lx, tp_node_t *n, int depth) {
  char open = *lx->p++;
  n->is_msg = true;
  parse_fields(lx, n, open == '{' ? '}' : '>', depth + 1);
}

static void parse_field(lexer_t *lx, tp_node_t *msg, int depth) {
  int line = lx->line;
  const char *name;
  size_t name_len;
  if (accept(lx, '[')) {
    name = lx->p - 1;
    while (lx->p < lx->end && (is_ident_char((unsigned char)*lx->p) || strchr("./", *lx->p)))
      lx->p++;
    if (lx->p >= lx->end || *lx->p != ']') {
      fail(lx, "expected ']' after extension or Any type name");
      return;
    }
    lx->p++;
    name_len = (size_t)(lx->p - name);
  } else {
    if (!is_ident_start(peek(lx))) {
      fail(lx, "expected a field name");
      return;
    }
    name = lx->p;
    while (lx->p < lx->end && is_ident_char((unsigned char)*lx->p))
      lx->p++;
    name_len = (size_t)(lx->p - name);
  }
  bool colon = accept(lx, ':');
  int c = peek(lx);
  if (c == '{' || c == '<') {
    tp_node_t *n = node_new(name, name_len, line);
    node_add(msg, n);
    parse_body(lx, n, depth);
  } else if (!colon) {
    fail(lx, "expected ':' or '{' after field name");
  } else if (c == '[') {
    lx->p++;
    if (accept(lx, ']'))
      return;
    do {
      tp_node_t *n = node_new(name, name_len, lx->line);
      node_add(msg, n);
      c = peek(lx);
      if (c == '{' || c == '<')
        parse_body(lx, n, depth);
      else
        lex_scalar(lx, n);
    } while (!lx->failed && accept(lx, ','));
    if (!lx->failed && !accept(lx, ']'))
      fail(lx, "expected ']' or ',' in list value");
  } else {
    tp_node_t *n = node_new(name, name_len, line);
    node_add(msg, n);
    lex_scalar(lx, n);
  }
  if (!lx->failed && !accept(lx, ','))
    accept(lx, ';');
}

static void parse_fields(lexer_t *lx, tp_node_t *msg, char close, int depth) {
  if (depth > MAX_DEPTH) {
    fail(lx, "nested too deeply");
    return;
  }
  for (;;) {
    int c = peek(lx);
    if (lx->failed)
      return;
    if (c == 0) {
      if (close)
        fail(lx, "expected '%c' before the end", close);
      return;
    }
    if (close && c == close) {
      lx->p++;
      return;
    }
    parse_field(lx, msg, depth);
    if (lx->failed)
      return;
  }
}

tp_node_t *tp_parse(const char *text, size_t len, char *err, size_t errlen) {
  lexer_t lx = {.p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen};
  tp_node_t *root = node_new("", 0, 1);
  root->is_msg = true;
  parse_fields(&lx, root, 0, 0);
  if (lx.failed) {
    tp_free(root);
    return NULL;
  }
  return root;
}

const tp_node_t *tp_get(const tp_node_t *msg, const char *name) {
  if (!msg || !msg->is_msg)
    return NULL;
  for (size_t i = 0; i < msg->nkids; i++)
    if (strcmp(msg->kids[i]->name, name) == 0)
      return msg->kids[i];
  return NULL;
}

static const char *number_text(const tp_node_t *n) {
  return n && !n->is_msg && !n->quoted && n->text ? n->text : NULL;
}

int tp_int64(const tp_node_t *n, int64_t *ret) {
  const char *s = number_text(n);
  if (!s || !(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
    return -EINVAL;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 0);
  if (errno || *end)
    return -EINVAL;
  *ret = v;
  return 0;
}

int tp_uint64(const tp_node_t *n, uint64_t *ret) {
  const char *s = number_text(n);
  if (!s || !isdigit((unsigned char)s[0]))
    return -EINVAL;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end)
    return -EINVAL;
  *ret = v;
  return 0;
}

int tp_double(const tp_node_t *n, double *ret) {
  const char *s = number_text(n);
  if (!s)
    return -EINVAL;
  const char *m = s[0] == '-' || s[0] == '+' ? s + 1 : s;
  double sign = s[0] == '-' ? -1.0 : 1.0;
  if (strcasecmp(m, "inf") == 0 || strcasecmp(m, "infinity") == 0) {
    *ret = sign * INFINITY;
    return 0;
  }
  if (strcasecmp(m, "nan") == 0) {
    *ret = NAN;
    return 0;
  }
  if (!isdigit((unsigned char)m[0]) && m[0] != '.')
    return -EINVAL;
  if (m[0] == '0' && (m[1] == 'x' || m[1] == 'X')) { /* hex integers are allowed for doubles */
    int64_t i;
    if (tp_int64(n, &i) < 0)
      return -EINVAL;
    *ret = (double)i;
    return 0;
  }
  char *end;
  double v = strtod(s, &end);
  if (*end == 'f' || *end == 'F')
    end++;
  if (*end)
    return -EINVAL;
  *ret = v;
  return 0;
}

int tp_bool(const tp_node_t *n, bool *ret) {
  const char *s = number_text(n);
  if (!s)
    return -EINVAL;
  if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "t") == 0 || strcmp(s, "1") == 0)
    *ret = true;
  else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "f") == 0 || strcmp(s, "0") == 0)
    *ret = false;
  else
    return -EINVAL;
  return 0;
}

const char *tp_str(const tp_node_t *n, size_t *ret_len) {
  if (!n || n->is_msg || !n->quoted)
    return NULL;
  if (ret_len)
    *ret_len = n->len;
  return n->text;
}

const char *tp_ident(const tp_node_t *n) {
  const char *s = number_text(n);
  return s && is_ident_start((unsigned char)s[0]) ? s : NULL;
}
