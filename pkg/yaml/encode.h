/* JSON (cJSON) -> YAML text as the Kubernetes API server writes it for
 * Accept: application/yaml (sigs.k8s.io/yaml over go-yaml v2): mapping keys
 * sorted, block style, 2-space indentation, sequences not indented under
 * their key, strings quoted where a plain scalar would read as another
 * type. Pure; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

/* Maximum output size; larger documents fail with -E2BIG. */
#define YAML_EMIT_MAX (64u * 1024 * 1024)

/* Emit doc as one YAML document (no "---", no "..."). Returns 0 with
 * *ret_text (caller frees) and *ret_len, or -E2BIG / -EIO. */
int yaml_emit_json(const cJSON *doc, char **ret_text, size_t *ret_len);
