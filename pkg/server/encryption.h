/* Secrets encryption at rest, as k3s's --secrets-encryption: the
 * EncryptionConfiguration file <data-dir>/server/cred/encryption-config.json
 * (apiserver.config.k8s.io/v1, aesgcm and identity providers), the keyring
 * the store seals with, the rotation stage, and the endpoints
 * `k3c secrets-encrypt` calls (/v1-k3c/encrypt/status and /config, under
 * RBAC: the admin kubeconfig's system:masters).
 * https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/
 * https://docs.k3s.io/security/secrets-encryption
 * Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "store/seal.h"
#include "store/store.h"

#define ENC_KEYS_MAX STORE_SEAL_KEYS_MAX
#define ENC_RESOURCES_MAX STORE_SEAL_PREFIXES_MAX

typedef struct {
  char name[STORE_SEAL_NAME_MAX];
  unsigned char key[32];
  size_t len;
} server_enc_key_t;

/* An EncryptionConfiguration as k3c understands it. */
typedef struct {
  bool enabled; /* aesgcm is the first provider: keys[0] seals writes */
  server_enc_key_t keys[ENC_KEYS_MAX];
  size_t n_keys;
  char resources[ENC_RESOURCES_MAX][128]; /* "secrets", "<plural>.<group>" */
  size_t n_resources;
} server_enc_config_t;

/* Parse the file's JSON. -EINVAL with a reason in err (which field, what
 * was expected): one resources entry; providers aesgcm (keys with name and
 * base64 secret of 16, 24 or 32 bytes) and identity only. */
int server_enc_config_parse(const char *json, size_t len, server_enc_config_t *ret, char *err,
                            size_t errlen);
/* The file's JSON (upstream layout; the provider order tells enabled).
 * Caller frees. */
char *server_enc_config_format(const server_enc_config_t *cfg);
/* The store keyring for cfg (new reference). */
store_keyring_t *server_enc_keyring(const server_enc_config_t *cfg);
/* The store key prefix of a resource: "secrets" -> "/registry/core/secrets/",
 * "widgets.example.com" -> "/registry/example.com/widgets/". */
void server_enc_resource_prefix(const char *resource, char *buf, size_t n);

typedef struct server_enc server_enc_t;

/* Read the configuration under data_dir, or with enable and no file,
 * create one with a new key (mode 0600). Without a file and without
 * enable, nothing is sealed until `k3c secrets-encrypt enable`. The keyring
 * to open the store with goes to *ret_keyring (new reference, NULL if no
 * file). -EINVAL etc. with err (the path and what is wrong). */
int server_enc_open(const char *data_dir, bool enable, server_enc_t **ret_enc,
                    store_keyring_t **ret_keyring, char *err, size_t errlen);
/* Once the store and API exist: serve /v1-k3c/encrypt/. */
int server_enc_start(server_enc_t *enc, store_t *store, api_server_t *api);
void server_enc_free(server_enc_t *enc); /* accepts NULL */
