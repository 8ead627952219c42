/* pkg/store seal: encryption at rest of chosen keys (Secrets), as the
 * apiserver's EncryptionConfiguration aesgcm provider stores them:
 *   "k8s:enc:aesgcm:v1:<keyname>:" nonce(12) || ciphertext || tag(16)
 * with a random 96-bit nonce per write and the store key as additional
 * authenticated data (a sealed value moved to another key does not open).
 * https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/
 *
 * A keyring is immutable once built (store_keyring_new + _add +
 * _set_write), reference-counted with atomic counts, and may be used from
 * any thread: the store seals on the loop thread and reseals on its writer
 * thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define STORE_SEAL_PREFIX "k8s:enc:"
#define STORE_SEAL_KEYS_MAX 16
#define STORE_SEAL_PREFIXES_MAX 8
#define STORE_SEAL_NAME_MAX 64

typedef struct store_keyring store_keyring_t;

/* An empty keyring: seals nothing, opens only plaintext. */
store_keyring_t *store_keyring_new(void);
store_keyring_t *store_keyring_ref(store_keyring_t *kr);
void store_keyring_unref(store_keyring_t *kr); /* accepts NULL */

/* Add an AES key (16, 24 or 32 bytes) under a name of 1..63 characters of
 * [A-Za-z0-9._-]. -EINVAL bad name or length, -EEXIST name taken, -ENOSPC
 * more than STORE_SEAL_KEYS_MAX keys. Only while building. */
int store_keyring_add(store_keyring_t *kr, const char *name, const unsigned char *key, size_t len);
/* The key new writes are sealed with (by name), or NULL: write plaintext
 * (identity first, as a disabled configuration does). -ENOENT unknown. */
int store_keyring_set_write(store_keyring_t *kr, const char *name);
/* A store key prefix whose values are sealed ("/registry/core/secrets/").
 * -ENOSPC beyond STORE_SEAL_PREFIXES_MAX. */
int store_keyring_add_prefix(store_keyring_t *kr, const char *prefix);

/* Whether values of this store key are handled by the keyring. */
bool store_keyring_covers(const store_keyring_t *kr, const char *key);
/* The write key's name, or NULL when writes are plaintext. */
const char *store_keyring_write_key(const store_keyring_t *kr);

/* Seal a value for a store key with the write key. Returns 0 and a
 * malloc'd envelope in *ret (caller frees), 0 with *ret NULL when the value
 * is to be stored as it is (no write key, key not covered), or -EIO if the
 * random source or the cipher failed. */
int store_keyring_seal(const store_keyring_t *kr, const char *key, const char *value, size_t len,
                       char **ret, size_t *ret_len);

/* Open a stored value. A value without the "k8s:enc:" prefix is plaintext:
 * 0 with *ret NULL. A sealed one: 0 and the malloc'd plaintext (NUL
 * added, not counted) in *ret. *ret_current (optional) tells whether the
 * stored form is what a seal now would produce the kind of (sealed with the
 * write key, or plaintext while writes are plaintext); a reencrypt rewrites
 * the others. Errors: -ENOKEY no key of that name (or another provider
 * than aesgcm), -EBADMSG authentication failed (wrong key or tampered),
 * -EINVAL malformed envelope. */
int store_keyring_open(const store_keyring_t *kr, const char *key, const char *value, size_t len,
                       char **ret, size_t *ret_len, bool *ret_current);

/* The key name inside an envelope, copied to buf ("" if not sealed). */
void store_keyring_envelope_name(const char *value, size_t len, char *buf, size_t n);
