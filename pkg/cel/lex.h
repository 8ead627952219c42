/* pkg/cel/lex.h: CEL's tokens (langdef.md "Syntax", the lexical rules),
 * for the parser only. */
#ifndef K3C_CEL_LEX_H
#define K3C_CEL_LEX_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  CEL_TOK_EOF,
  CEL_TOK_ERROR, /* msg says why */
  CEL_TOK_INT,
  CEL_TOK_UINT,
  CEL_TOK_DOUBLE,
  CEL_TOK_STRING,
  CEL_TOK_BYTES,
  CEL_TOK_IDENT,
  CEL_TOK_TRUE,
  CEL_TOK_FALSE,
  CEL_TOK_NULL,
  CEL_TOK_IN,
  CEL_TOK_EQ,
  CEL_TOK_NE,
  CEL_TOK_LT,
  CEL_TOK_LE,
  CEL_TOK_GT,
  CEL_TOK_GE,
  CEL_TOK_AND,
  CEL_TOK_OR,
  CEL_TOK_NOT,
  CEL_TOK_PLUS,
  CEL_TOK_MINUS,
  CEL_TOK_STAR,
  CEL_TOK_SLASH,
  CEL_TOK_PERCENT,
  CEL_TOK_QUESTION,
  CEL_TOK_COLON,
  CEL_TOK_DOT,
  CEL_TOK_DOT_QUESTION,     /* .? */
  CEL_TOK_COMMA,
  CEL_TOK_LBRACKET,
  CEL_TOK_LBRACKET_QUESTION, /* [? */
  CEL_TOK_RBRACKET,
  CEL_TOK_LBRACE,
  CEL_TOK_RBRACE,
  CEL_TOK_LPAREN,
  CEL_TOK_RPAREN,
  CEL_TOK_QUOTED_IDENT, /* `content-type`: a field name after '.' (start/end include the backticks) */
} cel_tok_kind_t;

typedef struct {
  cel_tok_kind_t kind;
  uint32_t start, end; /* byte offsets */
  /* literals */
  uint64_t u;  /* INT (magnitude, sign applied by the parser), UINT */
  double d;
  char *str;   /* STRING / BYTES, decoded (caller frees) */
  size_t len;
  const char *msg; /* ERROR: upstream's reason */
} cel_tok_t;

typedef struct {
  const char *src;
  size_t len;
  size_t pos;
} cel_lexer_t;

/* Reads the next token. An INT that does not fit uint64 is an ERROR. */
void cel__lex_next(cel_lexer_t *lx, cel_tok_t *tok);
/* How upstream (ANTLR) names a token kind in "expecting ..." */
const char *cel__tok_name(cel_tok_kind_t k);

/* Whether name is one of CEL's reserved words (not usable as identifiers). */
int cel__lex_reserved(const char *name);

#endif
