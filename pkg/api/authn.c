/* Authentication: client certificates, service-account JWTs (satoken.c),
 * static bearer tokens and bootstrap tokens. Token file format is kube-apiserver's
 * --token-auth-file: token,user,uid[,"group1,group2"].
 * https://kubernetes.io/docs/reference/access-authn-authz/authentication/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/bootstraptoken.h"
#include "api/internal.h"
#include "api/registry.h"
#include "util/alloc.h"
#include "util/fsutil.h"

struct api_token {
  char *token;
  api_user_t user;
  api_token_t *next;
};

void api__user_add_group(api_user_t *u, const char *g) {
  for (size_t i = 0; i + 1 < sizeof(u->groups) / sizeof(u->groups[0]); i++) {
    if (!u->groups[i]) {
      u->groups[i] = xstrdup(g);
      return;
    }
    if (!strcmp(u->groups[i], g))
      return;
  }
}

void api__user_add_extra(api_user_t *u, const char *key, const char *value) {
  for (size_t i = 0; i < sizeof(u->extra) / sizeof(u->extra[0]); i++) {
    if (!u->extra[i].key) {
      u->extra[i].key = xstrdup(key);
      u->extra[i].value = xstrdup(value);
      return;
    }
  }
}

void api__user_done(api_user_t *user) {
  for (size_t i = 0; i < sizeof(user->groups) / sizeof(user->groups[0]); i++) {
    free(user->groups[i]);
    user->groups[i] = NULL;
  }
  for (size_t i = 0; i < sizeof(user->extra) / sizeof(user->extra[0]); i++) {
    free(user->extra[i].key);
    free(user->extra[i].value);
    user->extra[i].key = user->extra[i].value = NULL;
  }
}

/* Split one CSV line into at most max fields; quotes group commas. */
static int csv_fields(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  while (*p && n < max) {
    char *start = p;
    char *out = p;
    bool quoted = false;
    while (*p && (quoted || *p != ',')) {
      if (*p == '"')
        quoted = !quoted;
      else
        *out++ = *p;
      p++;
    }
    bool more = *p == ',';
    *out = '\0';
    fields[n++] = start;
    if (more)
      p++;
    else
      break;
  }
  return n;
}

int api__tokens_load(api_server_t *srv, const char *path, char *err, size_t errlen) {
  char *text = NULL;
  int r = fs_read_file(path, 1 << 20, &text, NULL);
  if (r == -ENOENT)
    return 0;
  if (r < 0) {
    snprintf(err, errlen, "token file %s: %s", path, strerror(-r));
    return r;
  }
  int lineno = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
      line[len - 1] = '\0';
    if (!line[0] || line[0] == '#')
      continue;
    char *f[4] = {0};
    int n = csv_fields(line, f, 4);
    if (n < 3 || !f[0][0] || !f[1][0]) {
      snprintf(err, errlen, "token file %s line %d: expected token,user,uid[,\"groups\"]", path,
               lineno);
      free(text);
      return -EINVAL;
    }
    api_token_t *t = xcalloc(1, sizeof(*t));
    t->token = xstrdup(f[0]);
    snprintf(t->user.name, sizeof(t->user.name), "%s", f[1]);
    snprintf(t->user.uid, sizeof(t->user.uid), "%s", f[2]);
    if (n == 4) {
      char *gsave = NULL;
      for (char *g = strtok_r(f[3], ",", &gsave); g; g = strtok_r(NULL, ",", &gsave))
        api__user_add_group(&t->user, g);
    }
    t->next = srv->tokens;
    srv->tokens = t;
  }
  free(text);
  return 0;
}

void api__tokens_free(api_server_t *srv) {
  api_token_t *t = srv->tokens;
  while (t) {
    api_token_t *next = t->next;
    free(t->token);
    api__user_done(&t->user);
    free(t);
    t = next;
  }
  srv->tokens = NULL;
}

/* Constant-time comparison so token checks don't leak prefixes by timing. */
static bool same_secret(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb);
  for (size_t i = 0; i < la && i < lb; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

static void add_group_cb(const char *g, void *data) { api__user_add_group(data, g); }

/* A bootstrap token "<id>.<secret>" against its Secret in kube-system, as
 * upstream's bootstrap-token authenticator: system:bootstrap:<id> in
 * system:bootstrappers and the Secret's extra groups. */
static bool bootstrap_user(api_server_t *srv, const char *tok, api_user_t *user) {
  char id[7], secret[17];
  if (!api_bootstrap_token_split(tok, id, secret))
    return false;
  const api_resource_t *secrets = api_registry_find("", "v1", "secrets");
  char name[32];
  snprintf(name, sizeof(name), API_BOOTSTRAP_TOKEN_PREFIX "%.6s", id);
  char *key = secrets ? api_resource_key(secrets, API_BOOTSTRAP_TOKEN_NS, name) : NULL;
  store_kv_t *kv = NULL;
  int r = key ? store_get_latest(srv->store, key, &kv) : -ENOENT;
  free(key);
  if (r < 0)
    return false;
  cJSON *obj = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  char why[160];
  bool ok = obj && api_bootstrap_token_check(obj, tok, "authentication", time(NULL), why,
                                             sizeof(why)) == 0;
  if (ok) {
    snprintf(user->name, sizeof(user->name), "system:bootstrap:%s", id);
    api__user_add_group(user, API_BOOTSTRAP_GROUP);
    api_bootstrap_token_groups(obj, add_group_cb, user);
    api__user_add_group(user, "system:authenticated");
  }
  cJSON_Delete(obj);
  return ok;
}

/* The token file and bootstrap tokens know no audiences: they are good for
 * the API's own, as upstream's audience-agnostic authenticators. */
static bool static_token_user(api_server_t *srv, const char *tok, api_user_t *user) {
  for (api_token_t *t = srv->tokens; t; t = t->next) {
    if (same_secret(t->token, tok)) {
      snprintf(user->name, sizeof(user->name), "%s", t->user.name);
      snprintf(user->uid, sizeof(user->uid), "%s", t->user.uid);
      for (size_t i = 0; t->user.groups[i]; i++)
        api__user_add_group(user, t->user.groups[i]);
      api__user_add_group(user, "system:authenticated");
      return true;
    }
  }
  return bootstrap_user(srv, tok, user);
}

bool api__authenticate_token(api_server_t *srv, const char *tok, const api_audiences_t *want,
                             api_user_t *user, cJSON **ret_auds, char *err, size_t errlen) {
  memset(user, 0, sizeof(*user));
  /* A service-account JWT first; a refused one may still be a
   * --token-auth-file token that happens to have JWT's shape. */
  if (api__satoken_authenticate(srv, tok, want, user, ret_auds, err, errlen) > 0)
    return true;
  if (!static_token_user(srv, tok, user))
    return false;
  cJSON *auds = api__audiences_granted(srv, NULL, want);
  if (cJSON_GetArraySize(auds) == 0) {
    cJSON_Delete(auds);
    api__user_done(user);
    memset(user, 0, sizeof(*user));
    return false;
  }
  if (ret_auds)
    *ret_auds = auds;
  else
    cJSON_Delete(auds);
  return true;
}

/* Add each value of a field the parser joined with ", " (one header line
 * per value, as the front proxy sends them). */
static void each_value(const char *joined, api_user_t *u, const char *extra_key) {
  const char *p = joined;
  while (*p) {
    const char *end = strstr(p, ", ");
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char *v = xstrndup(p, n);
    if (!extra_key)
      api__user_add_group(u, v);
    else
      api__user_add_extra(u, extra_key, v);
    free(v);
    p += n + (end ? 2 : 0);
  }
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* upstream's request-header authenticator: a front-proxy certificate (the
 * HTTP server verified it against the request-header CA) of an allowed
 * name speaks for the user in X-Remote-User, X-Remote-Group and
 * X-Remote-Extra-<key> (key lower-cased, %XX unescaped). */
static bool requestheader_user(api_server_t *srv, http_req_t *req, const char *proxy_cn,
                               api_user_t *user, char *err, size_t errlen) {
  const char *allowed = api__aggregator_allowed_name(srv);
  const char *name = http_req_header(req, "X-Remote-User");
  if (!allowed || strcmp(proxy_cn, allowed)) {
    snprintf(err, errlen, "request-header client certificate \"%s\" is not an allowed name",
             proxy_cn);
    return false;
  }
  if (!name || !name[0]) {
    snprintf(err, errlen, "request-header client certificate without X-Remote-User");
    return false;
  }
  snprintf(user->name, sizeof(user->name), "%s", name);
  const char *groups = http_req_header(req, "X-Remote-Group");
  if (groups)
    each_value(groups, user, NULL);
  const char *hname, *hvalue;
  for (size_t i = 0; http_req_header_at(req, i, &hname, &hvalue); i++) {
    if (strncasecmp(hname, "X-Remote-Extra-", 15) || !hname[15])
      continue;
    char key[256];
    size_t k = 0;
    for (const char *p = hname + 15; *p && k + 1 < sizeof(key); p++) {
      int hi, lo;
      if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
        key[k++] = (char)(hi * 16 + lo);
        p += 2;
      } else {
        key[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
      }
    }
    key[k] = '\0';
    each_value(hvalue, user, key);
  }
  bool authenticated = false;
  for (size_t i = 0; user->groups[i]; i++)
    authenticated = authenticated || !strcmp(user->groups[i], "system:authenticated");
  if (!authenticated)
    api__user_add_group(user, "system:authenticated");
  return true;
}

bool api__authenticate(api_server_t *srv, http_req_t *req, api_user_t *user, char *err,
                       size_t errlen) {
  memset(user, 0, sizeof(*user));
  const char *proxy_cn = http_req_proxy_cn(req);
  if (proxy_cn) {
    if (requestheader_user(srv, req, proxy_cn, user, err, errlen))
      return true;
    api__user_done(user);
    memset(user, 0, sizeof(*user));
    return false;
  }
  const char *cn = http_req_client_cn(req);
  if (cn && cn[0]) {
    snprintf(user->name, sizeof(user->name), "%s", cn);
    for (const char *const *o = http_req_client_orgs(req); o && *o; o++)
      api__user_add_group(user, *o);
    api__user_add_group(user, "system:authenticated");
    return true;
  }
  /* A refused certificate fails the request unless a bearer token
   * authenticates it (upstream's union of authenticators); it is never
   * anonymous (Go's TLS would have ended the handshake). */
  const char *cert_error = http_req_client_cert_error(req);
  const char *auth = http_req_header(req, "Authorization");
  if (auth && !strncasecmp(auth, "Bearer ", 7)) {
    const char *tok = auth + 7;
    while (*tok == ' ')
      tok++;
    if (api__authenticate_token(srv, tok, NULL, user, NULL, err, errlen))
      return true;
    if (cert_error)
      snprintf(err, errlen, "%s", cert_error);
    return false;
  }
  if (cert_error) {
    snprintf(err, errlen, "%s", cert_error);
    return false;
  }
  /* Upstream's anonymous authenticator: only when no credential was
   * presented (no certificate, no bearer token); a bearer token that fails
   * stays a 401. */
  if (srv->anonymous_auth) {
    snprintf(user->name, sizeof(user->name), "system:anonymous");
    api__user_add_group(user, "system:unauthenticated");
    return true;
  }
  return false;
}

static void user_copy(api_user_t *to, const api_user_t *from) {
  memset(to, 0, sizeof(*to));
  snprintf(to->name, sizeof(to->name), "%s", from->name);
  snprintf(to->uid, sizeof(to->uid), "%s", from->uid);
  for (size_t i = 0; from->groups[i]; i++)
    api__user_add_group(to, from->groups[i]);
  for (size_t i = 0; i < sizeof(from->extra) / sizeof(from->extra[0]) && from->extra[i].key; i++)
    api__user_add_extra(to, from->extra[i].key, from->extra[i].value);
}

api_user_t *api__user_dup(const api_user_t *user) {
  api_user_t *u = xmalloc(sizeof(*u));
  user_copy(u, user);
  return u;
}

void api__user_free(void *user) {
  if (!user)
    return;
  api__user_done(user);
  free(user);
}
