/* YAML (1.1, as kubectl users write it) to cJSON, via libyaml's event parser.
 *
 * Plain scalars are typed the way Kubernetes' YAML decoder types them:
 * null/~/empty -> null, true/false/yes/no/on/off -> bool, integers
 * (decimal, 0x hex, 0o and leading-0 octal), floats, else strings. Quoted
 * and block scalars are always strings. Anchors, aliases and "<<" merge keys
 * are supported. Nesting deeper than YAML_MAX_DEPTH, or aliases expanding
 * to more than YAML_MAX_COPY_BYTES, is rejected, and so is a NUL character
 * in a scalar (cJSON strings end at NUL).
 * Pure functions: callable from any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

#define YAML_MAX_DEPTH 128
/* Anchors and aliases are expanded by copying; a stream may copy at most
 * this many bytes of cJSON nodes and strings, so a few hundred bytes of
 * nested aliases ("billion laughs") cannot exhaust memory. */
#define YAML_MAX_COPY_BYTES (16u << 20)

/* Parse every document of a stream. Empty documents are skipped. On
 * success *ret_docs is a cJSON array (caller frees with cJSON_Delete).
 * On failure returns -EINVAL and writes "line L, column C: reason" to err. */
int yaml_parse_stream(const char *text, size_t len, cJSON **ret_docs, char *err, size_t errlen);

/* Parse a stream that must hold at most one document; an empty stream gives
 * JSON null. Returns 0 or -EINVAL with err filled. */
int yaml_parse_one(const char *text, size_t len, cJSON **ret_doc, char *err, size_t errlen);

/* Called for each repeated key of a mapping: line is the 1-based line of the
 * repeated key's value (the line go-yaml's strict mode reports). */
typedef void (*yaml_dup_cb)(size_t line, const char *key, void *data);
/* As yaml_parse_one, but a repeated mapping key replaces the earlier value
 * (the last wins, as go-yaml's non-strict decoding does) and is reported to
 * cb instead of failing the parse. */
int yaml_parse_one_dups(const char *text, size_t len, cJSON **ret_doc, yaml_dup_cb cb, void *data,
                        char *err, size_t errlen);
