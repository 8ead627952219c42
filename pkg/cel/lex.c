/* CEL lexer: numbers (decimal, hex, 1u, doubles), quoted strings and
 * bytes in every form (single, double, triple quotes; r raw; b bytes) with
 * their escapes, identifiers and reserved words, operators, comments.
 * https://github.com/google/cel-spec/blob/master/doc/langdef.md#syntax */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lex.h"
#include "util/alloc.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_ident(char c) { return is_ident_start(c) || is_digit(c); }

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

const char *cel__tok_name(cel_tok_kind_t k) {
  switch (k) {
  case CEL_TOK_EOF: return "<EOF>";
  case CEL_TOK_ERROR: return "<error>";
  case CEL_TOK_INT: return "NUM_INT";
  case CEL_TOK_UINT: return "NUM_UINT";
  case CEL_TOK_DOUBLE: return "NUM_FLOAT";
  case CEL_TOK_STRING: return "STRING";
  case CEL_TOK_BYTES: return "BYTES";
  case CEL_TOK_IDENT: return "IDENTIFIER";
  case CEL_TOK_QUOTED_IDENT: return "ESC_IDENTIFIER";
  case CEL_TOK_TRUE: return "'true'";
  case CEL_TOK_FALSE: return "'false'";
  case CEL_TOK_NULL: return "'null'";
  case CEL_TOK_IN: return "'in'";
  case CEL_TOK_EQ: return "'=='";
  case CEL_TOK_NE: return "'!='";
  case CEL_TOK_LT: return "'<'";
  case CEL_TOK_LE: return "'<='";
  case CEL_TOK_GT: return "'>'";
  case CEL_TOK_GE: return "'>='";
  case CEL_TOK_AND: return "'&&'";
  case CEL_TOK_OR: return "'||'";
  case CEL_TOK_NOT: return "'!'";
  case CEL_TOK_PLUS: return "'+'";
  case CEL_TOK_MINUS: return "'-'";
  case CEL_TOK_STAR: return "'*'";
  case CEL_TOK_SLASH: return "'/'";
  case CEL_TOK_PERCENT: return "'%'";
  case CEL_TOK_QUESTION: return "'?'";
  case CEL_TOK_COLON: return "':'";
  case CEL_TOK_DOT: return "'.'";
  case CEL_TOK_DOT_QUESTION: return "'.?'";
  case CEL_TOK_COMMA: return "','";
  case CEL_TOK_LBRACKET: return "'['";
  case CEL_TOK_LBRACKET_QUESTION: return "'[?'";
  case CEL_TOK_RBRACKET: return "']'";
  case CEL_TOK_LBRACE: return "'{'";
  case CEL_TOK_RBRACE: return "'}'";
  case CEL_TOK_LPAREN: return "'('";
  case CEL_TOK_RPAREN: return "')'";
  }
  return "?";
}

static void lex_error(cel_tok_t *tok, const char *msg) {
  tok->kind = CEL_TOK_ERROR;
  tok->msg = msg;
}

/* A quoted literal starting at p (after any r/b prefix). */
static void lex_string(cel_lexer_t *lx, cel_tok_t *tok, bool raw, bool bytes) {
  const char *s = lx->src;
  size_t n = lx->len, i = lx->pos;
  char q = s[i];
  bool triple = i + 2 < n && s[i + 1] == q && s[i + 2] == q;
  i += triple ? 3 : 1;
  char *out = xmalloc(n - i + 1);
  size_t o = 0;
  for (;;) {
    if (i >= n) {
      free(out);
      lx->pos = n;
      lex_error(tok, "token recognition error: unterminated string");
      return;
    }
    char c = s[i];
    if (c == q && (!triple || (i + 2 < n && s[i + 1] == q && s[i + 2] == q))) {
      i += triple ? 3 : 1;
      break;
    }
    if (!triple && (c == '\n' || c == '\r')) {
      free(out);
      lx->pos = i;
      lex_error(tok, "token recognition error: newline in string");
      return;
    }
    if (c != '\\' || raw) {
      out[o++] = c;
      i++;
      continue;
    }
    if (i + 1 >= n) {
      free(out);
      lx->pos = n;
      lex_error(tok, "token recognition error: unterminated string");
      return;
    }
    char e = s[i + 1];
    i += 2;
    uint32_t cp;
    switch (e) {
    case 'a': out[o++] = '\a'; continue;
    case 'b': out[o++] = '\b'; continue;
    case 'f': out[o++] = '\f'; continue;
    case 'n': out[o++] = '\n'; continue;
    case 'r': out[o++] = '\r'; continue;
    case 't': out[o++] = '\t'; continue;
    case 'v': out[o++] = '\v'; continue;
    case '\\': case '\'': case '"': case '`': case '?': out[o++] = e; continue;
    case 'x': case 'X': case 'u': case 'U': {
      int digits = (e == 'x' || e == 'X') ? 2 : e == 'u' ? 4 : 8;
      cp = 0;
      for (int k = 0; k < digits; k++) {
        int h = i < n ? hexval(s[i]) : -1;
        if (h < 0) {
          free(out);
          lx->pos = i;
          lex_error(tok, "token recognition error: invalid escape sequence");
          return;
        }
        cp = cp * 16 + (uint32_t)h;
        i++;
      }
      if (bytes && (e == 'x' || e == 'X')) {
        out[o++] = (char)cp;
        continue;
      }
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
        free(out);
        lx->pos = i;
        lex_error(tok, "token recognition error: invalid unicode code point");
        return;
      }
      o += put_utf8(out + o, cp);
      continue;
    }
    default:
      if (e >= '0' && e <= '3' && i + 1 < n && s[i] >= '0' && s[i] <= '7' && s[i + 1] >= '0' && s[i + 1] <= '7') {
        cp = (uint32_t)(e - '0') * 64 + (uint32_t)(s[i] - '0') * 8 + (uint32_t)(s[i + 1] - '0');
        i += 2;
        if (bytes)
          out[o++] = (char)cp;
        else
          o += put_utf8(out + o, cp);
        continue;
      }
      free(out);
      lx->pos = i;
      lex_error(tok, "token recognition error: invalid escape sequence");
      return;
    }
  }
  out[o] = 0;
  lx->pos = i;
  tok->kind = bytes ? CEL_TOK_BYTES : CEL_TOK_STRING;
  tok->str = out;
  tok->len = o;
}

static void lex_number(cel_lexer_t *lx, cel_tok_t *tok) {
  const char *s = lx->src;
  size_t n = lx->len, i = lx->pos;
  if (s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X') && i + 2 < n && hexval(s[i + 2]) >= 0) {
    i += 2;
    uint64_t v = 0;
    bool over = false;
    while (i < n && hexval(s[i]) >= 0) {
      if (v > UINT64_MAX / 16)
        over = true;
      v = v * 16 + (uint64_t)hexval(s[i]);
      i++;
    }
    tok->kind = CEL_TOK_INT;
    if (i < n && (s[i] == 'u' || s[i] == 'U')) {
      tok->kind = CEL_TOK_UINT;
      i++;
    }
    lx->pos = i;
    tok->u = v;
    if (over)
      lex_error(tok, tok->kind == CEL_TOK_UINT ? "invalid uint literal" : "invalid int literal");
    return;
  }
  size_t start = i;
  while (i < n && is_digit(s[i]))
    i++;
  bool is_float = false;
  if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
    is_float = true;
    i++;
    while (i < n && is_digit(s[i]))
      i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-'))
      j++;
    if (j < n && is_digit(s[j])) {
      is_float = true;
      while (j < n && is_digit(s[j]))
        j++;
      i = j;
    }
  }
  char tmp[512];
  size_t len = i - start;
  if (len >= sizeof(tmp)) {
    lx->pos = i;
    lex_error(tok, is_float ? "invalid double literal" : "invalid int literal");
    return;
  }
  memcpy(tmp, s + start, len);
  tmp[len] = 0;
  if (is_float) {
    lx->pos = i;
    tok->kind = CEL_TOK_DOUBLE;
    tok->d = strtod(tmp, NULL);
    return;
  }
  tok->kind = CEL_TOK_INT;
  if (i < n && (s[i] == 'u' || s[i] == 'U')) {
    tok->kind = CEL_TOK_UINT;
    i++;
  }
  lx->pos = i;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(tmp, &end, 10);
  if (errno == ERANGE || *end) {
    lex_error(tok, tok->kind == CEL_TOK_UINT ? "invalid uint literal" : "invalid int literal");
    return;
  }
  tok->u = v;
}

static const char *const reserved[] = {"as", "break", "const", "continue", "else", "for", "function", "if",
                                       "import", "let", "loop", "package", "namespace", "return", "var",
                                       "void", "while", NULL};

void cel__lex_next(cel_lexer_t *lx, cel_tok_t *tok) {
  const char *s = lx->src;
  size_t n = lx->len;
  memset(tok, 0, sizeof(*tok));
  for (;;) {
    while (lx->pos < n && (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' || s[lx->pos] == '\r' ||
                           s[lx->pos] == '\f'))
      lx->pos++;
    if (lx->pos + 1 < n && s[lx->pos] == '/' && s[lx->pos + 1] == '/') {
      while (lx->pos < n && s[lx->pos] != '\n')
        lx->pos++;
      continue;
    }
    break;
  }
  size_t i = lx->pos;
  tok->start = tok->end = (uint32_t)i;
  if (i >= n) {
    tok->kind = CEL_TOK_EOF;
    return;
  }
  char c = s[i], c1 = i + 1 < n ? s[i + 1] : 0;
  cel_tok_kind_t k;
  size_t w = 1;
  switch (c) {
  case '=':
    if (c1 != '=')
      goto bad;
    k = CEL_TOK_EQ, w = 2;
    break;
  case '!': k = c1 == '=' ? (w = 2, CEL_TOK_NE) : CEL_TOK_NOT; break;
  case '<': k = c1 == '=' ? (w = 2, CEL_TOK_LE) : CEL_TOK_LT; break;
  case '>': k = c1 == '=' ? (w = 2, CEL_TOK_GE) : CEL_TOK_GT; break;
  case '&':
    if (c1 != '&')
      goto bad;
    k = CEL_TOK_AND, w = 2;
    break;
  case '|':
    if (c1 != '|')
      goto bad;
    k = CEL_TOK_OR, w = 2;
    break;
  case '+': k = CEL_TOK_PLUS; break;
  case '-': k = CEL_TOK_MINUS; break;
  case '*': k = CEL_TOK_STAR; break;
  case '/': k = CEL_TOK_SLASH; break;
  case '%': k = CEL_TOK_PERCENT; break;
  case '?': k = CEL_TOK_QUESTION; break;
  case ':': k = CEL_TOK_COLON; break;
  case ',': k = CEL_TOK_COMMA; break;
  case ']': k = CEL_TOK_RBRACKET; break;
  case '{': k = CEL_TOK_LBRACE; break;
  case '}': k = CEL_TOK_RBRACE; break;
  case '(': k = CEL_TOK_LPAREN; break;
  case ')': k = CEL_TOK_RPAREN; break;
  case '[': k = c1 == '?' ? (w = 2, CEL_TOK_LBRACKET_QUESTION) : CEL_TOK_LBRACKET; break;
  case '`': { /* cel-spec's ESC_IDENTIFIER: letters, digits, _ . - / and spaces */
    size_t j = i + 1;
    while (j < n && (is_ident(s[j]) || s[j] == '.' || s[j] == '-' || s[j] == '/' || s[j] == ' '))
      j++;
    if (j == i + 1 || j >= n || s[j] != '`')
      goto bad;
    lx->pos = j + 1;
    tok->end = (uint32_t)(j + 1);
    tok->kind = CEL_TOK_QUOTED_IDENT;
    return;
  }
  case '.':
    if (is_digit(c1)) {
      lex_number(lx, tok);
      tok->end = (uint32_t)lx->pos;
      return;
    }
    k = c1 == '?' ? (w = 2, CEL_TOK_DOT_QUESTION) : CEL_TOK_DOT;
    break;
  case '"':
  case '\'':
    lex_string(lx, tok, false, false);
    tok->end = (uint32_t)lx->pos;
    return;
  default:
    if (is_digit(c)) {
      lex_number(lx, tok);
      tok->end = (uint32_t)lx->pos;
      return;
    }
    if (is_ident_start(c)) {
      /* string prefixes: r R b B and rb br in any case */
      size_t j = i;
      bool raw = false, bytes = false;
      while (j < n && j - i < 2) {
        char p = s[j];
        if ((p == 'r' || p == 'R') && !raw)
          raw = true;
        else if ((p == 'b' || p == 'B') && !bytes)
          bytes = true;
        else
          break;
        j++;
      }
      if (j > i && j < n && (s[j] == '"' || s[j] == '\'')) {
        lx->pos = j;
        lex_string(lx, tok, raw, bytes);
        tok->start = (uint32_t)i;
        tok->end = (uint32_t)lx->pos;
        return;
      }
      j = i;
      while (j < n && is_ident(s[j]))
        j++;
      size_t len = j - i;
      lx->pos = j;
      tok->end = (uint32_t)j;
      tok->kind = CEL_TOK_IDENT;
      if (len == 4 && !memcmp(s + i, "true", 4))
        tok->kind = CEL_TOK_TRUE;
      else if (len == 5 && !memcmp(s + i, "false", 5))
        tok->kind = CEL_TOK_FALSE;
      else if (len == 4 && !memcmp(s + i, "null", 4))
        tok->kind = CEL_TOK_NULL;
      else if (len == 2 && !memcmp(s + i, "in", 2))
        tok->kind = CEL_TOK_IN;
      return;
    }
    goto bad;
  }
  lx->pos = i + w;
  tok->kind = k;
  tok->end = (uint32_t)lx->pos;
  return;
bad:
  lx->pos = i + 1;
  tok->end = (uint32_t)lx->pos;
  lex_error(tok, "token recognition error at: ");
}

int cel__lex_reserved(const char *name) {
  for (size_t i = 0; reserved[i]; i++)
    if (!strcmp(reserved[i], name))
      return 1;
  return 0;
}
