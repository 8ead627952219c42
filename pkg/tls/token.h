/* Join tokens in the k3s shape: K10<sha256 hex of the CA bundle>::server:<secret>.
 * The server keeps the full token in <data-dir>/server/token and the same
 * text in <data-dir>/server/node-token (0600). An agent pins the CA by the
 * hash before it trusts anything. Library code: no logging, no globals. */
#pragma once

#include <stddef.h>

/* SHA-256 hex of the CA bundle exactly as written to server-ca.crt. */
void tls_token_ca_hash(const char *ca_pem, char ret_hex[65]);

/* Ensure the token files exist and return the full token (caller frees).
 * The secret is, in order: the secret part of `configured` (--token, may be
 * a bare secret or a full K10 token), the secret of an existing token file,
 * else 16 random bytes as hex. The files are rewritten when their content
 * differs (e.g. the CA hash changed). */
int tls_token_ensure(const char *data_dir, const char *ca_pem, const char *configured,
                     char **ret_token, char *err, size_t errlen);

/* Split a token. For "K10<hash>::<user>:<secret>" sets hash, user, secret;
 * for "K10<hash>::<id>.<secret>" (a bootstrap token, `k3c token create`)
 * hash and secret "<id>.<secret>" (user NULL); for a bare secret only
 * secret (hash and user NULL). Outputs are
 * malloc'd; any ret_* may be NULL. -EINVAL for an empty or malformed token. */
int tls_token_parse(const char *token, char **ret_ca_hash, char **ret_user, char **ret_secret);
