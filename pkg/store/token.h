/* pkg/store internal: list continue tokens. A token pins the revision of a
 * paginated list and the last key returned; it is opaque to clients
 * (base64url, like the Kubernetes apiserver's own tokens). Any thread. */
#pragma once

#include <stdint.h>

/* Returns a new string the caller frees. */
char *store__token_encode(int64_t rev, const char *last_key);
/* 0, or -EINVAL for anything that is not a token we made. *ret_key is a new
 * string the caller frees. */
int store__token_decode(const char *tok, int64_t *ret_rev, char **ret_key);
