/* AES-GCM envelopes for values stored at rest (seal.h), in the layout of
 * the apiserver's aesgcm provider: prefix "k8s:enc:aesgcm:v1:<name>:", then
 * nonce || ciphertext || tag. The store key is the additional data.
 * https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/#providers */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/gcm.h>

#include "store/seal.h"
#include "util/alloc.h"

#define AESGCM_PREFIX STORE_SEAL_PREFIX "aesgcm:v1:"
#define NONCE_LEN 12
#define TAG_LEN 16

typedef struct {
  char name[STORE_SEAL_NAME_MAX];
  unsigned char key[32];
  size_t len;
} seal_key_t;

struct store_keyring {
  atomic_int refs;
  seal_key_t keys[STORE_SEAL_KEYS_MAX];
  size_t n;
  int write; /* index into keys, -1: plaintext */
  char *prefixes[STORE_SEAL_PREFIXES_MAX];
  size_t n_prefixes;
};

store_keyring_t *store_keyring_new(void) {
  store_keyring_t *kr = xcalloc(1, sizeof(*kr));
  atomic_init(&kr->refs, 1);
  kr->write = -1;
  return kr;
}

store_keyring_t *store_keyring_ref(store_keyring_t *kr) {
  if (kr)
    atomic_fetch_add(&kr->refs, 1);
  return kr;
}

void store_keyring_unref(store_keyring_t *kr) {
  if (!kr || atomic_fetch_sub(&kr->refs, 1) != 1)
    return;
  for (size_t i = 0; i < kr->n_prefixes; i++)
    free(kr->prefixes[i]);
  explicit_bzero(kr->keys, sizeof(kr->keys));
  free(kr);
}

static bool name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= STORE_SEAL_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int find(const store_keyring_t *kr, const char *name, size_t len) {
  for (size_t i = 0; i < kr->n; i++)
    if (strlen(kr->keys[i].name) == len && !memcmp(kr->keys[i].name, name, len))
      return (int)i;
  return -1;
}

int store_keyring_add(store_keyring_t *kr, const char *name, const unsigned char *key, size_t len) {
  if (!name || !name_ok(name) || (len != 16 && len != 24 && len != 32))
    return -EINVAL;
  if (find(kr, name, strlen(name)) >= 0)
    return -EEXIST;
  if (kr->n == STORE_SEAL_KEYS_MAX)
    return -ENOSPC;
  seal_key_t *k = &kr->keys[kr->n++];
  snprintf(k->name, sizeof(k->name), "%s", name);
  memcpy(k->key, key, len);
  k->len = len;
  return 0;
}

int store_keyring_set_write(store_keyring_t *kr, const char *name) {
  if (!name) {
    kr->write = -1;
    return 0;
  }
  int i = find(kr, name, strlen(name));
  if (i < 0)
    return -ENOENT;
  kr->write = i;
  return 0;
}

int store_keyring_add_prefix(store_keyring_t *kr, const char *prefix) {
  if (!prefix || !prefix[0])
    return -EINVAL;
  if (kr->n_prefixes == STORE_SEAL_PREFIXES_MAX)
    return -ENOSPC;
  kr->prefixes[kr->n_prefixes++] = xstrdup(prefix);
  return 0;
}

bool store_keyring_covers(const store_keyring_t *kr, const char *key) {
  if (!kr)
    return false;
  for (size_t i = 0; i < kr->n_prefixes; i++)
    if (!strncmp(key, kr->prefixes[i], strlen(kr->prefixes[i])))
      return true;
  return false;
}

const char *store_keyring_write_key(const store_keyring_t *kr) {
  return kr && kr->write >= 0 ? kr->keys[kr->write].name : NULL;
}

int store_keyring_seal(const store_keyring_t *kr, const char *key, const char *value, size_t len,
                       char **ret, size_t *ret_len) {
  *ret = NULL;
  *ret_len = 0;
  if (!kr || kr->write < 0 || !store_keyring_covers(kr, key))
    return 0;
  const seal_key_t *k = &kr->keys[kr->write];
  size_t plen = strlen(AESGCM_PREFIX) + strlen(k->name) + 1;
  size_t total = plen + NONCE_LEN + len + TAG_LEN;
  unsigned char *out = xmalloc(total + 1);
  snprintf((char *)out, plen + 1, AESGCM_PREFIX "%s:", k->name);
  unsigned char *nonce = out + plen, *ct = nonce + NONCE_LEN, *tag = ct + len;
  if (getrandom(nonce, NONCE_LEN, 0) != NONCE_LEN) {
    free(out);
    return -EIO;
  }
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k->key, (unsigned)(k->len * 8));
  if (rc == 0)
    rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, len, nonce, NONCE_LEN,
                                   (const unsigned char *)key, strlen(key),
                                   (const unsigned char *)value, ct, TAG_LEN, tag);
  mbedtls_gcm_free(&gcm);
  if (rc != 0) {
    free(out);
    return -EIO;
  }
  out[total] = '\0';
  *ret = (char *)out;
  *ret_len = total;
  return 0;
}

/* The name field of an aesgcm envelope: [start, end) after the prefix. */
static int envelope_split(const char *value, size_t len, size_t *ret_name_len, size_t *ret_body) {
  size_t pl = strlen(AESGCM_PREFIX);
  if (len < pl || memcmp(value, AESGCM_PREFIX, pl))
    return -ENOKEY; /* another provider (aescbc, kms, secretbox): not k3c's */
  const char *name = value + pl;
  const char *colon = memchr(name, ':', len - pl);
  if (!colon)
    return -EINVAL;
  *ret_name_len = (size_t)(colon - name);
  *ret_body = (size_t)(colon + 1 - value);
  return 0;
}

void store_keyring_envelope_name(const char *value, size_t len, char *buf, size_t n) {
  size_t nl, body;
  if (n)
    buf[0] = '\0';
  if (len < strlen(STORE_SEAL_PREFIX) || memcmp(value, STORE_SEAL_PREFIX, strlen(STORE_SEAL_PREFIX)))
    return;
  if (envelope_split(value, len, &nl, &body) == 0)
    snprintf(buf, n, "%.*s", (int)nl, value + strlen(AESGCM_PREFIX));
  else
    snprintf(buf, n, "?");
}

int store_keyring_open(const store_keyring_t *kr, const char *key, const char *value, size_t len,
                       char **ret, size_t *ret_len, bool *ret_current) {
  size_t sl = strlen(STORE_SEAL_PREFIX);
  if (len < sl || memcmp(value, STORE_SEAL_PREFIX, sl)) {
    *ret = NULL;
    *ret_len = 0;
    if (ret_current)
      *ret_current = !store_keyring_covers(kr, key) || kr->write < 0;
    return 0;
  }
  size_t nl, body;
  int r = envelope_split(value, len, &nl, &body);
  if (r < 0)
    return r;
  int i = kr ? find(kr, value + strlen(AESGCM_PREFIX), nl) : -1;
  if (i < 0)
    return -ENOKEY;
  if (len - body < NONCE_LEN + TAG_LEN)
    return -EINVAL;
  const seal_key_t *k = &kr->keys[i];
  const unsigned char *nonce = (const unsigned char *)value + body, *ct = nonce + NONCE_LEN;
  size_t clen = len - body - NONCE_LEN - TAG_LEN;
  const unsigned char *tag = ct + clen;
  unsigned char *out = xmalloc(clen + 1);
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, k->key, (unsigned)(k->len * 8));
  if (rc == 0)
    rc = mbedtls_gcm_auth_decrypt(&gcm, clen, nonce, NONCE_LEN, (const unsigned char *)key,
                                  strlen(key), tag, TAG_LEN, ct, out);
  mbedtls_gcm_free(&gcm);
  if (rc != 0) {
    free(out);
    return rc == MBEDTLS_ERR_GCM_AUTH_FAILED ? -EBADMSG : -EIO;
  }
  out[clen] = '\0';
  *ret = (char *)out;
  *ret_len = clen;
  if (ret_current)
    *ret_current = i == kr->write && store_keyring_covers(kr, key);
  return 0;
}
