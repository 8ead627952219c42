/* TOML (v1.0.0, https://toml.io/en/v1.0.0#string) output helpers for the
 * config files k3c writes for other programs (containerd's config.toml).
 * Pure; any thread. */
#pragma once

#include "util/buf.h"

/* Append s as a TOML basic string, quotes included: '"' and '\' are
 * backslash-escaped, and so is every control character (U+0000..U+001F as
 * \b \t \n \f \r or \uXXXX, and U+007F as \u007F), which TOML forbids raw.
 * Other bytes (UTF-8) are copied. Usable for quoted keys too. Returns 0 or
 * -E2BIG from the buffer's limit (the buffer may then hold a prefix). */
int toml_append_str(buf_t *b, const char *s);
