/* Base64 (RFC 4648, standard alphabet, padded) as Kubernetes uses for
 * []byte fields, and base64url without padding (RFC 4648 5) as JSON Web
 * Tokens use. Pure; any thread. */
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

/* base64url without padding: writes a NUL-terminated string into out,
 * which needs BASE64URL_LEN(len) bytes, and returns its length. */
#define BASE64URL_LEN(n) (((n) + 2) / 3 * 4 + 1)
size_t base64url_encode(const void *data, size_t len, char *out);
/* Decode unpadded base64url into a malloc'd buffer (NUL-terminated beyond
 * *ret_len). -EINVAL for padding, characters outside the alphabet, an
 * impossible length or non-zero bits left over in the last character (so
 * each byte string has exactly one encoding). */
int base64url_decode(const char *s, size_t len, unsigned char **ret_data, size_t *ret_len);
