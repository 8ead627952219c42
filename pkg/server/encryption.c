/* Secrets encryption at rest (encryption.h): the EncryptionConfiguration
 * file, the rotation stages of k3s's `secrets-encrypt` (start, rotate,
 * reencrypt_active, reencrypt_finished) and the endpoints its CLI calls.
 * A reencrypt keeps every key in the file until the store has rewritten
 * every row, so a crash half-way leaves each Secret readable.
 * https://docs.k3s.io/cli/secrets-encrypt */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "server/encryption.h"
#include "tls/cert.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/fsutil.h"
#include "util/log.h"

#define CONFIG_MAX (1 << 20)
#define ROUTE "/v1-k3c/encrypt/"

/* ---- the configuration file ---- */

static int fail(char *err, size_t errlen, const char *fmt, const char *arg) {
  snprintf(err, errlen, fmt, arg);
  return -EINVAL;
}

static int parse_keys(const cJSON *aes, server_enc_config_t *c, char *err, size_t errlen) {
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive(aes, "keys");
  if (!cJSON_IsArray(keys) || !cJSON_GetArraySize(keys))
    return fail(err, errlen, "%sproviders[].aesgcm.keys: a list of at least one key is required",
                "");
  const cJSON *k;
  cJSON_ArrayForEach(k, keys) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(k, "name");
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(k, "secret");
    if (!cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) >= STORE_SEAL_NAME_MAX)
      return fail(err, errlen, "%saesgcm.keys[].name: a name of 1 to 63 characters is required",
                  "");
    if (c->n_keys == ENC_KEYS_MAX)
      return fail(err, errlen, "%saesgcm.keys: at most 16 keys", "");
    for (size_t i = 0; i < c->n_keys; i++)
      if (!strcmp(c->keys[i].name, name->valuestring))
        return fail(err, errlen, "aesgcm.keys: the name \"%s\" is used twice", name->valuestring);
    unsigned char *raw = NULL;
    size_t len = 0;
    if (!cJSON_IsString(secret) ||
        base64_decode(secret->valuestring, strlen(secret->valuestring), &raw, &len) < 0 ||
        (len != 16 && len != 24 && len != 32)) {
      free(raw);
      return fail(err, errlen,
                  "aesgcm key \"%s\": secret must be the base64 of 16, 24 or 32 random bytes",
                  name->valuestring);
    }
    server_enc_key_t *out = &c->keys[c->n_keys++];
    snprintf(out->name, sizeof(out->name), "%s", name->valuestring);
    memcpy(out->key, raw, len);
    out->len = len;
    explicit_bzero(raw, len);
    free(raw);
  }
  return 0;
}

int server_enc_config_parse(const char *json, size_t len, server_enc_config_t *ret, char *err,
                            size_t errlen) {
  server_enc_config_t c = {0};
  int r = -EINVAL;
  cJSON *doc = cJSON_ParseWithLength(json, len);
  if (!doc) {
    r = fail(err, errlen, "%snot valid JSON", "");
    goto out;
  }
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
  if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "EncryptionConfiguration")) {
    r = fail(err, errlen, "%skind must be EncryptionConfiguration", "");
    goto out;
  }
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(doc, "resources");
  if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) != 1) {
    r = fail(err, errlen, "%sresources: k3c takes exactly one entry (its resources share the keys)",
             "");
    goto out;
  }
  const cJSON *entry = cJSON_GetArrayItem(res, 0), *it;
  const cJSON *names = cJSON_GetObjectItemCaseSensitive(entry, "resources");
  const cJSON *providers = cJSON_GetObjectItemCaseSensitive(entry, "providers");
  if (!cJSON_IsArray(names) || !cJSON_GetArraySize(names) || !cJSON_IsArray(providers)) {
    r = fail(err, errlen, "%sresources[0]: resources and providers lists are required", "");
    goto out;
  }
  cJSON_ArrayForEach(it, names) {
    if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= 128 ||
        strchr(it->valuestring, '*') || strchr(it->valuestring, '/')) {
      r = fail(err, errlen, "%sresources[0].resources: names like \"secrets\" or "
                            "\"widgets.example.com\" (no wildcards)", "");
      goto out;
    }
    if (c.n_resources == ENC_RESOURCES_MAX) {
      r = fail(err, errlen, "%sresources[0].resources: at most 8", "");
      goto out;
    }
    snprintf(c.resources[c.n_resources++], 128, "%s", it->valuestring);
  }
  bool first = true, seen_aes = false;
  cJSON_ArrayForEach(it, providers) {
    const cJSON *p = it->child;
    if (!p || p->next) {
      r = fail(err, errlen, "%sproviders[]: each entry names one provider", "");
      goto out;
    }
    if (!strcmp(p->string, "aesgcm") && !seen_aes) {
      if ((r = parse_keys(p, &c, err, errlen)) < 0)
        goto out;
      c.enabled = first;
      seen_aes = true;
    } else if (strcmp(p->string, "identity")) {
      r = fail(err, errlen,
               "provider \"%s\" is not supported by k3c (aesgcm and identity are; rewrite the "
               "file or move it away to start without encryption)", p->string);
      goto out;
    }
    first = false;
  }
  *ret = c;
  r = 0;
out:
  explicit_bzero(&c, sizeof(c));
  cJSON_Delete(doc);
  return r;
}

char *server_enc_config_format(const server_enc_config_t *cfg) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "kind", "EncryptionConfiguration");
  cJSON_AddStringToObject(doc, "apiVersion", "apiserver.config.k8s.io/v1");
  cJSON *res = cJSON_AddArrayToObject(doc, "resources");
  cJSON *entry = cJSON_CreateObject();
  cJSON_AddItemToArray(res, entry);
  cJSON *names = cJSON_AddArrayToObject(entry, "resources");
  for (size_t i = 0; i < cfg->n_resources; i++)
    cJSON_AddItemToArray(names, cJSON_CreateString(cfg->resources[i]));
  cJSON *providers = cJSON_AddArrayToObject(entry, "providers");
  cJSON *aes = NULL;
  if (cfg->n_keys) {
    aes = cJSON_CreateObject();
    cJSON *keys = cJSON_AddArrayToObject(cJSON_AddObjectToObject(aes, "aesgcm"), "keys");
    for (size_t i = 0; i < cfg->n_keys; i++) {
      cJSON *k = cJSON_CreateObject();
      cJSON_AddStringToObject(k, "name", cfg->keys[i].name);
      char *b64 = base64_encode(cfg->keys[i].key, cfg->keys[i].len);
      cJSON_AddStringToObject(k, "secret", b64);
      explicit_bzero(b64, strlen(b64));
      free(b64);
      cJSON_AddItemToArray(keys, k);
    }
  }
  cJSON *identity = cJSON_CreateObject();
  cJSON_AddObjectToObject(identity, "identity");
  if (aes && cfg->enabled) {
    cJSON_AddItemToArray(providers, aes);
    cJSON_AddItemToArray(providers, identity);
  } else {
    cJSON_AddItemToArray(providers, identity);
    if (aes)
      cJSON_AddItemToArray(providers, aes);
  }
  char *out = cJSON_Print(doc);
  cJSON_Delete(doc);
  return out;
}

void server_enc_resource_prefix(const char *resource, char *buf, size_t n) {
  const char *dot = strchr(resource, '.');
  if (!dot)
    snprintf(buf, n, "/registry/core/%s/", resource);
  else
    snprintf(buf, n, "/registry/%s/%.*s/", dot + 1, (int)(dot - resource), resource);
}

store_keyring_t *server_enc_keyring(const server_enc_config_t *cfg) {
  store_keyring_t *kr = store_keyring_new();
  for (size_t i = 0; i < cfg->n_keys; i++)
    store_keyring_add(kr, cfg->keys[i].name, cfg->keys[i].key, cfg->keys[i].len);
  for (size_t i = 0; i < cfg->n_resources; i++) {
    char prefix[256];
    server_enc_resource_prefix(cfg->resources[i], prefix, sizeof(prefix));
    store_keyring_add_prefix(kr, prefix);
  }
  if (cfg->enabled && cfg->n_keys)
    store_keyring_set_write(kr, cfg->keys[0].name);
  return kr;
}

/* ---- the server's state ---- */

struct server_enc {
  char *config_path, *stage_path;
  bool present; /* the configuration file exists */
  server_enc_config_t cfg;
  char stage[32];
  char hash[65]; /* of the file's bytes */
  store_t *store;
  /* a reencrypt in progress: one resource after another */
  bool running;
  size_t next_resource;
  char error[256];
};

static int new_key(server_enc_key_t *k) {
  if (getrandom(k->key, 32, 0) != 32)
    return -EIO;
  k->len = 32;
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
  snprintf(k->name, sizeof(k->name), "aesgcmkey-%s", ts);
  return 0;
}

static int save_stage(server_enc_t *e, const char *stage) {
  snprintf(e->stage, sizeof(e->stage), "%s", stage);
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%s\n", stage);
  return fs_write_atomic(e->stage_path, buf, (size_t)n, 0600);
}

static int save_config(server_enc_t *e, char *err, size_t errlen) {
  char *json = server_enc_config_format(&e->cfg);
  int r = fs_write_atomic(e->config_path, json, strlen(json), 0600);
  if (r == 0) {
    tls_sha256_hex(json, strlen(json), e->hash);
    e->present = true;
  } else
    snprintf(err, errlen, "cannot write %s: %s", e->config_path, strerror(-r));
  explicit_bzero(json, strlen(json));
  free(json);
  return r;
}

int server_enc_open(const char *data_dir, bool enable, server_enc_t **ret_enc,
                    store_keyring_t **ret_keyring, char *err, size_t errlen) {
  server_enc_t *e = xcalloc(1, sizeof(*e));
  char *dir = xasprintf("%s/server/cred", data_dir), *json = NULL;
  size_t len = 0;
  int r;
  e->config_path = xasprintf("%s/encryption-config.json", dir);
  e->stage_path = xasprintf("%s/encryption-stage", dir);
  snprintf(e->stage, sizeof(e->stage), "start");
  if ((r = fs_mkdir_p(dir, 0700)) < 0) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-r));
    goto out;
  }
  r = fs_read_file(e->config_path, CONFIG_MAX, &json, &len);
  if (r == 0) {
    char why[256];
    if ((r = server_enc_config_parse(json, len, &e->cfg, why, sizeof(why))) < 0) {
      snprintf(err, errlen, "%s: %s", e->config_path, why);
      goto out;
    }
    chmod(e->config_path, 0600);
    e->present = true;
    tls_sha256_hex(json, len, e->hash);
    char *st = NULL;
    size_t sl = 0;
    if (fs_read_file(e->stage_path, 64, &st, &sl) == 0) {
      st[strcspn(st, "\n")] = '\0';
      if (st[0])
        snprintf(e->stage, sizeof(e->stage), "%s", st);
    }
    free(st);
    if (enable && !e->cfg.enabled)
      log_warn("server", "--secrets-encryption: %s has encryption disabled; "
                         "`k3c secrets-encrypt enable` turns it on", e->config_path);
  } else if (r == -ENOENT && enable) {
    e->cfg.enabled = true;
    snprintf(e->cfg.resources[0], 128, "secrets");
    e->cfg.n_resources = 1;
    if ((r = new_key(&e->cfg.keys[0])) < 0) {
      snprintf(err, errlen, "cannot make a key: the random source failed");
      goto out;
    }
    e->cfg.n_keys = 1;
    if ((r = save_config(e, err, errlen)) < 0)
      goto out;
    save_stage(e, "start");
    log_info("server", "secrets encryption: wrote %s with a new AES-GCM key", e->config_path);
  } else if (r != -ENOENT) {
    snprintf(err, errlen, "cannot read %s: %s", e->config_path, strerror(-r));
    goto out;
  }
  *ret_keyring = e->present ? server_enc_keyring(&e->cfg) : NULL;
  *ret_enc = e;
  e = NULL;
  r = 0;
out:
  if (json)
    explicit_bzero(json, len);
  free(json);
  free(dir);
  server_enc_free(e);
  return r;
}

void server_enc_free(server_enc_t *e) {
  if (!e)
    return;
  free(e->config_path);
  free(e->stage_path);
  explicit_bzero(&e->cfg, sizeof(e->cfg));
  free(e);
}

static void use_config(server_enc_t *e) {
  store_keyring_t *kr = server_enc_keyring(&e->cfg);
  store_keyring_use(e->store, kr);
  store_keyring_unref(kr);
}

/* ---- reencrypt ---- */

static void reseal_next(server_enc_t *e);

static void resealed(int err, void *data) {
  server_enc_t *e = data;
  if (err < 0) {
    e->running = false;
    snprintf(e->error, sizeof(e->error), "rewriting %s failed: %s",
             e->cfg.resources[e->next_resource - 1], strerror(-err));
    log_error("server", "secrets encryption: %s; every key is kept, run reencrypt again",
              e->error);
    return;
  }
  reseal_next(e);
}

static void reseal_next(server_enc_t *e) {
  if (e->next_resource < e->cfg.n_resources) {
    char prefix[256];
    server_enc_resource_prefix(e->cfg.resources[e->next_resource++], prefix, sizeof(prefix));
    int r = store_reseal(e->store, prefix, resealed, e);
    if (r < 0)
      resealed(r, e);
    return;
  }
  /* Every row is in the write key's form: the others can go. */
  e->running = false;
  if (e->cfg.enabled && e->cfg.n_keys > 1) {
    server_enc_config_t old = e->cfg;
    e->cfg.n_keys = 1;
    char why[256];
    if (save_config(e, why, sizeof(why)) < 0) {
      e->cfg = old;
      snprintf(e->error, sizeof(e->error), "%s", why);
      log_error("server", "secrets encryption: %s", why);
      return;
    }
    use_config(e);
    log_info("server", "secrets encryption: reencrypt finished, old keys removed");
  } else
    log_info("server", "secrets encryption: reencrypt finished");
  save_stage(e, "reencrypt_finished");
}

static int reencrypt_start(server_enc_t *e) {
  if (e->running)
    return -EBUSY;
  e->running = true;
  e->error[0] = '\0';
  e->next_resource = 0;
  save_stage(e, "reencrypt_active");
  reseal_next(e);
  return 0;
}

/* ---- endpoints ---- */

static void respond_json(http_req_t *req, int code, cJSON *obj) {
  char *body = cJSON_PrintUnformatted(obj);
  http_respond(req, code, "application/json", body, strlen(body));
  free(body);
  cJSON_Delete(obj);
}

static void respond_error(http_req_t *req, int code, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "Status");
  cJSON_AddStringToObject(o, "apiVersion", "v1");
  cJSON_AddStringToObject(o, "status", "Failure");
  cJSON_AddStringToObject(o, "message", msg);
  cJSON_AddStringToObject(o, "reason", code == 409 ? "Conflict" : "BadRequest");
  cJSON_AddNumberToObject(o, "code", code);
  respond_json(req, code, o);
}

static cJSON *status_json(server_enc_t *e) {
  cJSON *o = cJSON_CreateObject();
  if (e->present) {
    cJSON_AddBoolToObject(o, "enable", e->cfg.enabled);
    cJSON_AddStringToObject(o, "stage", e->stage);
    cJSON_AddStringToObject(o, "configHash", e->hash);
    cJSON_AddBoolToObject(o, "hashMatch", true);
    cJSON_AddStringToObject(o, "hashError", "All hashes match");
    if (e->cfg.enabled && e->cfg.n_keys) {
      char k[128];
      snprintf(k, sizeof(k), "AES-GCM %s", e->cfg.keys[0].name);
      cJSON_AddStringToObject(o, "activeKey", k);
    }
    cJSON *inactive = cJSON_AddArrayToObject(o, "inactiveKeys");
    for (size_t i = e->cfg.enabled ? 1 : 0; i < e->cfg.n_keys; i++) {
      char k[128];
      snprintf(k, sizeof(k), "AES-GCM %s", e->cfg.keys[i].name);
      cJSON_AddItemToArray(inactive, cJSON_CreateString(k));
    }
  }
  store_reseal_progress_t p;
  store_reseal_progress(e->store, &p);
  cJSON *re = cJSON_AddObjectToObject(o, "reencrypt");
  cJSON_AddBoolToObject(re, "running", e->running);
  cJSON_AddNumberToObject(re, "rewritten", (double)p.rewritten);
  cJSON_AddNumberToObject(re, "examined", (double)p.examined);
  cJSON_AddNumberToObject(re, "total", (double)p.total);
  cJSON_AddNumberToObject(re, "resource", (double)e->next_resource);
  cJSON_AddNumberToObject(re, "resources", (double)e->cfg.n_resources);
  if (e->error[0])
    cJSON_AddStringToObject(re, "error", e->error);
  return o;
}

static bool handle(http_req_t *req, const char *path, void *data) {
  server_enc_t *e = data;
  const char *method = http_req_method(req);
  char why[512];
  if (!strcmp(path, ROUTE "status")) {
    if (strcmp(method, "GET")) {
      respond_error(req, 405, "GET only");
      return true;
    }
    respond_json(req, 200, status_json(e));
    return true;
  }
  if (strcmp(path, ROUTE "config"))
    return false;
  if (strcmp(method, "PUT")) {
    respond_error(req, 405, "PUT only");
    return true;
  }
  size_t blen = 0;
  const char *body = http_req_body(req, &blen);
  cJSON *in = body ? cJSON_ParseWithLength(body, blen) : NULL;
  const cJSON *stage = cJSON_GetObjectItemCaseSensitive(in, "stage");
  const char *op = cJSON_IsString(stage) ? stage->valuestring : "";
  int code = 200;
  why[0] = '\0';
  if (e->running && strcmp(op, "status")) {
    code = 409;
    snprintf(why, sizeof(why), "a reencrypt is running (%s); wait for it to finish", e->stage);
  } else if (!strcmp(op, "enable") || !strcmp(op, "disable")) {
    bool on = !strcmp(op, "enable");
    server_enc_config_t old = e->cfg;
    if (!e->present) {
      if (!on) {
        code = 400;
        snprintf(why, sizeof(why), "secrets encryption is not configured; nothing to disable");
        goto answer;
      }
      snprintf(e->cfg.resources[0], 128, "secrets");
      e->cfg.n_resources = 1;
      if (new_key(&e->cfg.keys[0]) < 0) {
        code = 500;
        snprintf(why, sizeof(why), "the random source failed");
        goto answer;
      }
      e->cfg.n_keys = 1;
    }
    e->cfg.enabled = on;
    if (save_config(e, why, sizeof(why)) < 0) {
      e->cfg = old;
      code = 500;
      goto answer;
    }
    use_config(e);
    log_info("server", "secrets encryption %s (existing objects keep their form until reencrypt)",
             on ? "enabled" : "disabled");
  } else if (!strcmp(op, "rotate-keys") || !strcmp(op, "reencrypt")) {
    if (!e->present) {
      code = 400;
      snprintf(why, sizeof(why), "secrets encryption is not configured: run `k3c secrets-encrypt "
                                 "enable` or start the server with --secrets-encryption");
      goto answer;
    }
    if (op[0] == 'r' && op[1] == 'o') {
      if (!e->cfg.enabled) {
        code = 400;
        snprintf(why, sizeof(why), "secrets encryption is disabled: enable it before rotating keys");
        goto answer;
      }
      if (e->cfg.n_keys == ENC_KEYS_MAX) {
        code = 400;
        snprintf(why, sizeof(why), "%d keys already: run reencrypt first", ENC_KEYS_MAX);
        goto answer;
      }
      server_enc_config_t old = e->cfg;
      memmove(&e->cfg.keys[1], &e->cfg.keys[0], e->cfg.n_keys * sizeof(e->cfg.keys[0]));
      e->cfg.n_keys++;
      if (new_key(&e->cfg.keys[0]) < 0 || save_config(e, why, sizeof(why)) < 0) {
        e->cfg = old;
        code = 500;
        if (!why[0])
          snprintf(why, sizeof(why), "the random source failed");
        goto answer;
      }
      use_config(e);
      save_stage(e, "rotate");
      log_info("server", "secrets encryption: new key %s writes; old keys still read",
               e->cfg.keys[0].name);
    }
    int r = reencrypt_start(e);
    if (r < 0 && r != -EBUSY) {
      code = 500;
      snprintf(why, sizeof(why), "cannot start reencrypt: %s", strerror(-r));
    }
  } else {
    code = 400;
    snprintf(why, sizeof(why),
             "unknown stage \"%s\": enable, disable, rotate-keys or reencrypt", op);
  }
answer:
  cJSON_Delete(in);
  if (code != 200)
    respond_error(req, code, why);
  else
    respond_json(req, 200, status_json(e));
  return true;
}

int server_enc_start(server_enc_t *e, store_t *store, api_server_t *api) {
  e->store = store;
  return api_server_route(api, ROUTE, handle, e);
}
