/* pkg/agent/registries: k3s's registries.yaml (docs.k3s.io "Private
 * Registry Configuration") checked and turned into containerd 1.6's CRI
 * registry tables (containerd docs/cri/registry.md, the "mirrors" and
 * "configs" form of config version 2). */
#include "agent/registries.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/errbuf.h"
#include "util/fsutil.h"
#include "util/regex.h"
#include "util/toml.h"
#include "yaml/decode.h"

#define CRI_REGISTRY "plugins.\"io.containerd.grpc.v1.cri\".registry"

/* Where in the file a value is, for error messages: "mirrors.\"docker.io\"". */
typedef struct {
  const char *file;
  const char *section; /* "mirrors", "configs" or NULL (the top level) */
  const char *name;    /* the registry, or NULL */
  const char *sub;     /* "auth", "tls", "rewrite", "endpoint" or NULL */
  char *err;
  size_t errlen;
} where_t;

static int fail_at(const where_t *w, const char *what, const char *detail) {
  if (!w->section)
    errbuf_set(w->err, w->errlen, "%s: %s%s", w->file, what, detail);
  else if (!w->name)
    errbuf_set(w->err, w->errlen, "%s: %s: %s%s", w->file, w->section, what, detail);
  else
    errbuf_set(w->err, w->errlen, "%s: %s.\"%s\"%s%s: %s%s", w->file, w->section, w->name,
               w->sub ? "." : "", w->sub ? w->sub : "", what, detail);
  return -EINVAL;
}

static const char *type_name(const cJSON *v) {
  if (cJSON_IsString(v))
    return "a string";
  if (cJSON_IsNumber(v))
    return "a number";
  if (cJSON_IsBool(v))
    return "a boolean";
  if (cJSON_IsArray(v))
    return "a list";
  if (cJSON_IsObject(v))
    return "a mapping";
  return "null";
}

/* v must be a mapping (or null: none) whose keys are all in known. */
static int check_map(const where_t *w, const cJSON *v, const char *const *known,
                     const char *known_text) {
  char detail[256];
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsObject(v)) {
    errbuf_set(detail, sizeof detail, " (got %s)", type_name(v));
    return fail_at(w, "must be a mapping", detail);
  }
  if (!known)
    return 0;
  for (const cJSON *e = v->child; e; e = e->next) {
    bool ok = false;
    for (const char *const *k = known; *k && !ok; k++)
      ok = !strcmp(e->string, *k);
    if (!ok) {
      errbuf_set(detail, sizeof detail, "unknown key \"%s\" (known: %s)", e->string, known_text);
      return fail_at(w, "", detail);
    }
  }
  return 0;
}

/* A string value, or null (absent). Numbers and booleans are refused: our
 * YAML decoder types them, so "0123" would silently become 83. */
static int want_string(const where_t *w, const cJSON *v, const char *key) {
  char what[128], detail[64];
  if (!v || cJSON_IsNull(v) || cJSON_IsString(v))
    return 0;
  errbuf_set(what, sizeof what, "\"%s\" must be a string", key);
  errbuf_set(detail, sizeof detail, " (got %s%s)", type_name(v),
             cJSON_IsNumber(v) || cJSON_IsBool(v) ? "; quote it" : "");
  return fail_at(w, what, detail);
}

/* Copy the string fields of src named in keys into a new object under
 * name in dst (only when at least one is set). */
static void copy_strings(cJSON *dst, const char *name, const cJSON *src, const char *const *keys) {
  cJSON *o = NULL;
  for (const char *const *k = keys; *k; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, *k);
    if (!cJSON_IsString(v))
      continue;
    if (!o)
      o = cJSON_AddObjectToObject(dst, name);
    cJSON_AddStringToObject(o, *k, v->valuestring);
  }
}

static int parse_endpoint(const where_t *w, const cJSON *list, cJSON *out) {
  if (!list || cJSON_IsNull(list))
    return 0;
  if (cJSON_IsString(list)) /* one endpoint written as a scalar */
    return fail_at(w, "\"endpoint\" must be a list of URLs", " (got a string; use [\"...\"])");
  if (!cJSON_IsArray(list)) {
    char detail[64];
    errbuf_set(detail, sizeof detail, " (got %s)", type_name(list));
    return fail_at(w, "\"endpoint\" must be a list of URLs", detail);
  }
  for (const cJSON *e = list->child; e; e = e->next) {
    char detail[256];
    if (!cJSON_IsString(e)) {
      errbuf_set(detail, sizeof detail, " (got %s)", type_name(e));
      return fail_at(w, "each endpoint must be a string", detail);
    }
    const char *u = e->valuestring, *sep = strstr(u, "://");
    if (!sep) {
      if (!*u || strchr(u, '/') == u || strchr(u, ' ')) {
        errbuf_set(detail, sizeof detail, "endpoint \"%s\" is not a URL", u);
        return fail_at(w, "", detail);
      }
      /* containerd picks the scheme: http for localhost, else https */
      cJSON_AddItemToArray(out, cJSON_CreateString(u));
      continue;
    }
    size_t slen = (size_t)(sep - u);
    bool http = (slen == 4 && !strncasecmp(u, "http", 4)) ||
                (slen == 5 && !strncasecmp(u, "https", 5));
    if (!http || !sep[3] || sep[3] == '/') {
      errbuf_set(detail, sizeof detail,
                 "endpoint \"%s\" must be an http:// or https:// URL with a host", u);
      return fail_at(w, "", detail);
    }
    cJSON_AddItemToArray(out, cJSON_CreateString(u));
  }
  return 0;
}

static int parse_rewrite(const where_t *w, const cJSON *rw, cJSON *mirror) {
  if (!rw || cJSON_IsNull(rw))
    return 0;
  where_t ws = *w;
  ws.sub = "rewrite";
  int r = check_map(&ws, rw, NULL, NULL);
  if (r < 0)
    return r;
  cJSON *out = cJSON_AddObjectToObject(mirror, "rewrite");
  for (const cJSON *e = rw->child; e; e = e->next) {
    char rerr[128], what[300];
    regex_prog_t *p = NULL;
    if (!cJSON_IsString(e)) {
      errbuf_set(what, sizeof what, "the replacement of \"%s\" must be a string", e->string);
      char detail[64];
      errbuf_set(detail, sizeof detail, " (got %s)", type_name(e));
      return fail_at(&ws, what, detail);
    }
    if (regex_prog_compile(e->string, &p, rerr, sizeof rerr) < 0) {
      errbuf_set(what, sizeof what, "pattern \"%s\" is not a valid regexp: ", e->string);
      return fail_at(&ws, what, rerr);
    }
    regex_prog_free(p);
    cJSON_AddStringToObject(out, e->string, e->valuestring);
  }
  return 0;
}

static int parse_mirrors(const where_t *top, const cJSON *mirrors, cJSON *out) {
  static const char *const keys[] = {"endpoint", "rewrite", NULL};
  where_t w = *top;
  w.section = "mirrors";
  int r = check_map(&w, mirrors, NULL, NULL);
  if (r < 0 || !mirrors || cJSON_IsNull(mirrors))
    return r;
  for (const cJSON *m = mirrors->child; m; m = m->next) {
    w.name = m->string;
    w.sub = NULL;
    if (!*m->string)
      return fail_at(top, "mirrors: ", "a registry name is empty");
    if ((r = check_map(&w, m, keys, "endpoint, rewrite")) < 0)
      return r;
    cJSON *mirror = cJSON_AddObjectToObject(out, m->string);
    cJSON *eps = cJSON_AddArrayToObject(mirror, "endpoint");
    if ((r = parse_endpoint(&w, cJSON_GetObjectItemCaseSensitive(m, "endpoint"), eps)) < 0 ||
        (r = parse_rewrite(&w, cJSON_GetObjectItemCaseSensitive(m, "rewrite"), mirror)) < 0)
      return r;
  }
  return 0;
}

static int parse_configs(const where_t *top, const cJSON *configs, cJSON *out) {
  static const char *const keys[] = {"auth", "tls", NULL};
  static const char *const auth_keys[] = {"username", "password", "auth", "identitytoken", NULL};
  static const char *const tls_keys[] = {"cert_file", "key_file", "ca_file",
                                         "insecure_skip_verify", NULL};
  static const char *const tls_strings[] = {"cert_file", "key_file", "ca_file", NULL};
  where_t w = *top;
  w.section = "configs";
  int r = check_map(&w, configs, NULL, NULL);
  if (r < 0 || !configs || cJSON_IsNull(configs))
    return r;
  for (const cJSON *c = configs->child; c; c = c->next) {
    w.name = c->string;
    w.sub = NULL;
    if (!*c->string)
      return fail_at(top, "configs: ", "a registry host is empty");
    if ((r = check_map(&w, c, keys, "auth, tls")) < 0)
      return r;
    cJSON *config = cJSON_AddObjectToObject(out, c->string);
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(c, "auth");
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(c, "tls");
    w.sub = "auth";
    r = check_map(&w, auth, auth_keys, "username, password, auth, identitytoken");
    if (r < 0)
      return r;
    for (const char *const *k = auth_keys; auth && *k; k++)
      if ((r = want_string(&w, cJSON_GetObjectItemCaseSensitive(auth, *k), *k)) < 0)
        return r;
    w.sub = "tls";
    r = check_map(&w, tls, tls_keys, "cert_file, key_file, ca_file, insecure_skip_verify");
    if (r < 0)
      return r;
    for (const char *const *k = tls_strings; tls && *k; k++)
      if ((r = want_string(&w, cJSON_GetObjectItemCaseSensitive(tls, *k), *k)) < 0)
        return r;
    const cJSON *skip = cJSON_GetObjectItemCaseSensitive(tls, "insecure_skip_verify");
    if (skip && !cJSON_IsNull(skip) && !cJSON_IsBool(skip)) {
      char detail[64];
      errbuf_set(detail, sizeof detail, " (got %s)", type_name(skip));
      return fail_at(&w, "\"insecure_skip_verify\" must be true or false", detail);
    }
    copy_strings(config, "auth", auth, auth_keys);
    copy_strings(config, "tls", tls, tls_strings);
    if (cJSON_IsBool(skip)) {
      cJSON *t = cJSON_GetObjectItemCaseSensitive(config, "tls");
      if (!t)
        t = cJSON_AddObjectToObject(config, "tls");
      cJSON_AddBoolToObject(t, "insecure_skip_verify", cJSON_IsTrue(skip));
    }
  }
  return 0;
}

int agent_registries_parse(const char *text, size_t len, const char *file, cJSON **ret_reg,
                           char *err, size_t errlen) {
  static const char *const keys[] = {"mirrors", "configs", NULL};
  char yerr[256];
  cJSON *doc = NULL, *reg = NULL;
  where_t w = {.file = file ? file : "registries.yaml", .err = err, .errlen = errlen};
  int r = yaml_parse_one(text, len, &doc, yerr, sizeof yerr);
  if (r < 0) {
    errbuf_set(err, errlen, "%s: %s", w.file, yerr);
    return -EINVAL;
  }
  if ((r = check_map(&w, doc, keys, "mirrors, configs")) < 0)
    goto out;
  reg = cJSON_CreateObject();
  cJSON *mirrors = cJSON_AddObjectToObject(reg, "mirrors");
  cJSON *configs = cJSON_AddObjectToObject(reg, "configs");
  if ((r = parse_mirrors(&w, cJSON_GetObjectItemCaseSensitive(doc, "mirrors"), mirrors)) < 0 ||
      (r = parse_configs(&w, cJSON_GetObjectItemCaseSensitive(doc, "configs"), configs)) < 0)
    goto out;
  *ret_reg = reg;
  reg = NULL;
out:
  cJSON_Delete(reg);
  cJSON_Delete(doc);
  return r;
}

int agent_registries_load(const char *path, cJSON **ret_reg, char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  int r = fs_read_file(path, AGENT_REGISTRIES_FILE_MAX, &text, &len);
  if (r < 0) {
    errbuf_set(err, errlen, "%s: %s", path,
               r == -E2BIG || r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
    return r;
  }
  r = agent_registries_parse(text, len, path, ret_reg, err, errlen);
  free(text);
  return r;
}

/* [<CRI_REGISTRY>.<section>."<name>"<sub>] */
static int header(buf_t *b, const char *section, const char *name, const char *sub) {
  int r = buf_printf(b, "\n[" CRI_REGISTRY ".%s.", section);
  if (r == 0)
    r = toml_append_str(b, name);
  if (r == 0)
    r = buf_printf(b, "%s]\n", sub);
  return r;
}

static int strings(buf_t *b, const cJSON *o) {
  int r = 0;
  for (const cJSON *e = o ? o->child : NULL; e && r == 0; e = e->next) {
    if (cJSON_IsBool(e)) {
      r = buf_printf(b, "  %s = %s\n", e->string, cJSON_IsTrue(e) ? "true" : "false");
      continue;
    }
    r = buf_printf(b, "  %s = ", e->string);
    if (r == 0)
      r = toml_append_str(b, e->valuestring);
    if (r == 0)
      r = buf_append_str(b, "\n");
  }
  return r;
}

int agent_registries_toml(const cJSON *reg, buf_t *out) {
  int r = 0;
  const cJSON *mirrors = cJSON_GetObjectItemCaseSensitive(reg, "mirrors");
  const cJSON *configs = cJSON_GetObjectItemCaseSensitive(reg, "configs");
  for (const cJSON *m = mirrors ? mirrors->child : NULL; m && r == 0; m = m->next) {
    r = header(out, "mirrors", m->string, "");
    if (r == 0)
      r = buf_append_str(out, "  endpoint = [");
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(m, "endpoint");
    for (const cJSON *e = eps ? eps->child : NULL; e && r == 0; e = e->next) {
      r = toml_append_str(out, e->valuestring);
      if (r == 0 && e->next)
        r = buf_append_str(out, ", ");
    }
    if (r == 0)
      r = buf_append_str(out, "]\n");
  }
  for (const cJSON *c = configs ? configs->child : NULL; c && r == 0; c = c->next) {
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(c, "auth");
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(c, "tls");
    if (auth && (r = header(out, "configs", c->string, ".auth")) == 0)
      r = strings(out, auth);
    if (r == 0 && tls && (r = header(out, "configs", c->string, ".tls")) == 0)
      r = strings(out, tls);
  }
  return r;
}

size_t agent_registries_rewrites(const cJSON *reg) {
  size_t n = 0;
  const cJSON *mirrors = cJSON_GetObjectItemCaseSensitive(reg, "mirrors");
  for (const cJSON *m = mirrors ? mirrors->child : NULL; m; m = m->next)
    n += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "rewrite"));
  return n;
}
