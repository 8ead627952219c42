/* Base64 (RFC 4648, standard alphabet, padded) as Kubernetes uses for
 * []byte fields. Pure; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Encode len bytes; returns a NUL-terminated string the caller frees. */
char *base64_encode(const void *data, size_t len);
/* Decode padded standard base64 of len chars into a malloc'd buffer
 * (NUL-terminated beyond *ret_len). Returns 0 or -EINVAL for invalid input. */
int base64_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_len);
/* Whether s is valid padded standard base64 (the empty string is). */
bool base64_valid(const char *s);
