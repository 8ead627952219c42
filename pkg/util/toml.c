/* pkg/util/toml: TOML basic strings for generated config files
 * (https://toml.io/en/v1.0.0#string: control characters other than tab
 * must be escaped; we escape tab too, so a value reads on one line). */
#include "util/toml.h"

#include <stdio.h>
#include <string.h>

int toml_append_str(buf_t *b, const char *s) {
  int r = buf_append_str(b, "\"");
  while (r == 0 && *s) {
    size_t plain = 0;
    while (s[plain] && s[plain] != '"' && s[plain] != '\\' && (unsigned char)s[plain] >= 0x20 &&
           s[plain] != 0x7f)
      plain++;
    if (plain) {
      r = buf_append(b, s, plain);
      s += plain;
      continue;
    }
    unsigned char c = (unsigned char)*s++;
    switch (c) {
    case '"': r = buf_append_str(b, "\\\""); break;
    case '\\': r = buf_append_str(b, "\\\\"); break;
    case '\b': r = buf_append_str(b, "\\b"); break;
    case '\t': r = buf_append_str(b, "\\t"); break;
    case '\n': r = buf_append_str(b, "\\n"); break;
    case '\f': r = buf_append_str(b, "\\f"); break;
    case '\r': r = buf_append_str(b, "\\r"); break;
    default: r = buf_printf(b, "\\u%04X", (unsigned)c); break;
    }
  }
  return r ? r : buf_append_str(b, "\"");
}
