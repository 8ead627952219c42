/* The join endpoints of a k3c server (bootstrap.h): the CA bundle for an
 * agent to pin by its token's hash (the server CA), and node certificates
 * (client ones by the client CA, serving ones by the server CA) for an
 * agent that proves the token's secret, or renewed for a node that shows
 * its current client certificate. Node passwords
 * are kept as salted hashes in kube-system Secrets through an in-process
 * client, so a node name cannot be taken over by a second machine.
 * Wire shape: k3s's supervisor paths (docs/JOIN.md). */
#include "server/bootstrap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "api/bootstraptoken.h"
#include "client/client.h"
#include "json/util.h"
#include "tls/cert.h"
#include "tls/token.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/log.h"

#define PASSWORD_MAX 256
#define IPS_MAX 512
#define SECRET_SUFFIX ".node-password.k3s"
#define SECRET_NS "kube-system"
#define SECRET_TYPE "k3s.cattle.io/node-password"
#define MAX_ATTEMPTS 3

typedef struct join join_t;

struct server_bootstrap {
  struct ev_loop *loop;
  const tls_pki_t *pki;
  char *secret;
  http_handler_cb api;
  void *api_data;
  client_t *c; /* in-process, for the node-password Secrets */
  join_t *joins; /* waiting for the API */
};

struct join {
  server_bootstrap_t *b;
  join_t *prev, *next;
  http_req_t *req;
  client_req_t *creq;
  bool serving;
  int attempts;
  char name[254];
  char secret_name[254];
  char *password;
  char *ips;
  char *bootstrap_token; /* checked against its Secret before anything else */
  bool renewal;          /* authenticated by the node's own client certificate */
};

/* ---- pure parts ---- */

static bool same_bytes(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb);
  for (size_t i = 0; i < la && i < lb; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

int server_bootstrap_basic_auth(const char *header, char **ret_user, char **ret_password) {
  if (!header || strncasecmp(header, "Basic", 5) || (header[5] != ' ' && header[5] != '\t'))
    return -EINVAL;
  const char *p = header + 5;
  while (*p == ' ' || *p == '\t')
    p++;
  size_t n = strlen(p);
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  unsigned char *raw = NULL;
  size_t len = 0;
  if (!n || base64_decode(p, n, &raw, &len) < 0)
    return -EINVAL;
  char *colon = memchr(raw, ':', len);
  if (!colon || memchr(raw, '\0', len)) {
    free(raw);
    return -EINVAL;
  }
  *ret_user = xstrndup((char *)raw, (size_t)(colon - (char *)raw));
  *ret_password = xstrdup(colon + 1);
  free(raw);
  return 0;
}

static bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool server_bootstrap_node_name_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > 253)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool start = i == 0 || name[i - 1] == '.', end = i + 1 == n || name[i + 1] == '.';
    if (c == '.') {
      if (start || end) /* empty label */
        return false;
    } else if (c == '-') {
      if (start || end)
        return false;
    } else if (!is_alnum_lower(c)) {
      return false;
    }
  }
  return true;
}

static char *hash_with(const char *salt, const char *password) {
  char *in = xasprintf("%s:%s", salt, password);
  char hex[65];
  tls_sha256_hex(in, strlen(in), hex);
  free(in);
  return xasprintf("sha256$%s$%s", salt, hex);
}

char *server_bootstrap_password_hash(const char *password) {
  unsigned char raw[16];
  char salt[33];
  size_t got = 0;
  while (got < sizeof(raw)) {
    ssize_t k = getrandom(raw + got, sizeof(raw) - got, 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      abort(); /* no entropy at all: nothing safe to do */
    }
    got += (size_t)k;
  }
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(salt + 2 * i, 3, "%02x", raw[i]);
  return hash_with(salt, password);
}

bool server_bootstrap_password_check(const char *hash, const char *password) {
  if (!hash || strncmp(hash, "sha256$", 7))
    return false;
  const char *salt = hash + 7, *dollar = strchr(salt, '$');
  if (!dollar || dollar == salt || dollar - salt > 64)
    return false;
  char s[65];
  snprintf(s, sizeof(s), "%.*s", (int)(dollar - salt), salt);
  char *want = hash_with(s, password);
  bool ok = same_bytes(want, hash);
  free(want);
  return ok;
}

/* ---- requests ---- */

static void respond_text(http_req_t *req, int status, const char *msg) {
  char *body = xasprintf("%s\n", msg);
  http_respond_take(req, status, "text/plain; charset=utf-8", body, strlen(body));
}

static void join_free(join_t *j) {
  if (!j)
    return;
  if (j->creq)
    client_req_cancel(j->creq);
  if (j->prev)
    j->prev->next = j->next;
  else if (j->b->joins == j)
    j->b->joins = j->next;
  if (j->next)
    j->next->prev = j->prev;
  free(j->password);
  free(j->ips);
  free(j->bootstrap_token);
  free(j);
}

/* Answer and forget the join. */
static void join_end(join_t *j, int status, const char *msg) {
  if (status != 200)
    log_warn("join", "node %s (%s): %s refused: %d %s", j->name, http_req_remote_addr(j->req),
             j->serving ? "serving certificate" : "client certificate", status, msg);
  respond_text(j->req, status, msg);
  join_free(j);
}

static void issue(join_t *j) {
  char err[256] = "";
  char cn[300];
  tls_san_t san;
  tls_san_init(&san);
  tls_cert_spec_t spec = {0};
  static const char *const node_orgs[] = {"system:nodes", NULL};
  if (j->serving) {
    if (tls_san_add_dns(&san, j->name) < 0) {
      tls_san_done(&san);
      join_end(j, 400, "the node name cannot be a certificate name");
      return;
    }
    char *save = NULL;
    for (char *ip = j->ips ? strtok_r(j->ips, ",", &save) : NULL; ip;
         ip = strtok_r(NULL, ",", &save)) {
      while (*ip == ' ')
        ip++;
      if (*ip && tls_san_add_ip(&san, ip) < 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "k3s-Node-IP: not an IP address: %.200s", ip);
        tls_san_done(&san);
        join_end(j, 400, msg);
        return;
      }
    }
    spec.cn = j->name;
    spec.usage = TLS_USAGE_SERVER;
    spec.san = &san;
  } else {
    snprintf(cn, sizeof(cn), "system:node:%s", j->name);
    spec.cn = cn;
    spec.orgs = node_orgs;
    spec.usage = TLS_USAGE_CLIENT;
  }
  char *cert = NULL, *key = NULL;
  int r = tls_pki_issue(j->b->pki, &spec, &cert, &key, err, sizeof(err));
  tls_san_done(&san);
  if (r < 0) {
    char msg[300];
    snprintf(msg, sizeof(msg), "issuing the certificate: %.250s", err);
    join_end(j, 500, msg);
    return;
  }
  log_info("join", "node %s (%s): issued its %s certificate%s", j->name,
           http_req_remote_addr(j->req), j->serving ? "serving" : "client",
           j->renewal ? " (renewal by its client certificate)" : "");
  /* As k3s: the certificate, the CA that signed it (the agent keeps the
   * client CA to verify its kubelet API's clients), then the key. */
  const tls_pki_t *pki = j->b->pki;
  const char *ca = j->serving ? pki->server_ca.cert_pem : pki->client_ca.cert_pem;
  char *body = xasprintf("%s%s%s", cert, ca, key);
  free(cert);
  free(key);
  http_respond_take(j->req, 200, "application/x-pem-file", body, strlen(body));
  join_free(j);
}

static void lookup(join_t *j);

static void created(const client_result_t *res, void *data) {
  join_t *j = data;
  j->creq = NULL;
  if (res->code == 201 || res->code == 200) {
    issue(j);
  } else if (res->code == 409 && ++j->attempts < MAX_ATTEMPTS) {
    lookup(j); /* another join of the name won the race: check against it */
  } else {
    char msg[300];
    snprintf(msg, sizeof(msg), "storing the node password: %d %.200s", res->code,
             res->message ? res->message : "");
    join_end(j, 503, msg);
  }
}

static void looked_up(const client_result_t *res, void *data) {
  join_t *j = data;
  j->creq = NULL;
  if (res->code == 404) {
    char *hash = server_bootstrap_password_hash(j->password);
    char *b64 = base64_encode(hash, strlen(hash));
    free(hash);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "Secret");
    cJSON *m = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(m, "name", j->secret_name);
    cJSON_AddStringToObject(m, "namespace", SECRET_NS);
    cJSON_AddStringToObject(o, "type", SECRET_TYPE);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "hash", b64);
    free(b64);
    client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = SECRET_NS};
    j->creq = client_create(j->b->c, &ref, o, created, j);
    cJSON_Delete(o);
    if (!j->creq)
      join_end(j, 500, "storing the node password: bad request");
    return;
  }
  if (res->code != 200) {
    char msg[300];
    snprintf(msg, sizeof(msg), "reading the node password: %d %.200s", res->code,
             res->message ? res->message : "");
    join_end(j, 503, msg);
    return;
  }
  const cJSON *h = json_get_path(res->obj, "data.hash");
  unsigned char *hash = NULL;
  size_t len = 0;
  bool ok = cJSON_IsString(h) &&
            base64_decode(h->valuestring, strlen(h->valuestring), &hash, &len) == 0 &&
            server_bootstrap_password_check((const char *)hash, j->password);
  free(hash);
  if (!ok) {
    char msg[800];
    snprintf(msg, sizeof(msg),
             "node password rejected: node %s already joined with another password (two "
             "machines with one name, or a lost <data-dir>/agent/node-password); delete Secret "
             "%s/%s to let it join again",
             j->name, SECRET_NS, j->secret_name);
    join_end(j, 403, msg);
    return;
  }
  issue(j);
}

static void lookup(join_t *j) {
  client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = SECRET_NS,
                      .name = j->secret_name};
  j->creq = client_get(j->b->c, &ref, NULL, looked_up, j);
  if (!j->creq)
    join_end(j, 500, "reading the node password: bad request");
}

static void token_looked_up(const client_result_t *res, void *data) {
  join_t *j = data;
  j->creq = NULL;
  char why[200] = "no such bootstrap token";
  if (res->code == 200 && api_bootstrap_token_check(res->obj, j->bootstrap_token, "authentication",
                                                    time(NULL), why, sizeof(why)) == 0) {
    lookup(j);
    return;
  }
  if (res->code != 200 && res->code != 404) {
    char msg[300];
    snprintf(msg, sizeof(msg), "reading the bootstrap token: %d %.200s", res->code,
             res->message ? res->message : "");
    join_end(j, 503, msg);
    return;
  }
  char msg[300];
  snprintf(msg, sizeof(msg), "unauthorized: %s (`k3c token list` on the server shows the valid ones)",
           why);
  http_req_add_header(j->req, "WWW-Authenticate", "Basic realm=\"k3c\"");
  join_end(j, 401, msg);
}

/* A join with a bootstrap token: its Secret decides. */
static void token_lookup(join_t *j) {
  char id[7], secret[17], name[32];
  api_bootstrap_token_split(j->bootstrap_token, id, secret);
  snprintf(name, sizeof(name), API_BOOTSTRAP_TOKEN_PREFIX "%.6s", id);
  client_ref_t ref = {.version = "v1", .resource = "secrets", .ns = API_BOOTSTRAP_TOKEN_NS,
                      .name = name};
  j->creq = client_get(j->b->c, &ref, NULL, token_looked_up, j);
  if (!j->creq)
    join_end(j, 500, "reading the bootstrap token: bad request");
}

/* Is the request's verified client certificate the one of node name
 * (CN system:node:<name>, O system:nodes)? */
static bool node_cert_for(http_req_t *req, const char *name) {
  const char *cn = http_req_client_cn(req);
  if (!cn || strncmp(cn, "system:node:", 12) || strcmp(cn + 12, name))
    return false;
  for (const char *const *o = http_req_client_orgs(req); o && *o; o++)
    if (!strcmp(*o, "system:nodes"))
      return true;
  return false;
}

static void serve_cert(server_bootstrap_t *b, http_req_t *req, bool serving) {
  char *user = NULL, *pass = NULL;
  const char *name = http_req_header(req, "k3s-Node-Name");
  const char *password = http_req_header(req, "k3s-Node-Password");
  const char *ips = http_req_header(req, "k3s-Node-IP");
  const char *what = serving ? "serving certificate" : "client certificate";
  /* A joined node renews with its own client certificate (verified by the
   * listener against the client CA): it must be for the node it names. */
  bool renewal = name && node_cert_for(req, name);
  int r = renewal ? -ENOENT
                  : server_bootstrap_basic_auth(http_req_header(req, "Authorization"), &user, &pass);
  bool authed = renewal || (r == 0 && !strcmp(user, "node") && same_bytes(pass, b->secret));
  char id[7], tsecret[17];
  char *bootstrap = !authed && r == 0 && !strcmp(user, "node") &&
                            api_bootstrap_token_split(pass, id, tsecret)
                        ? xstrdup(pass)
                        : NULL;
  free(user);
  free(pass);
  if (!authed && !bootstrap) {
    const char *cn = http_req_client_cn(req);
    const char *cert_error = http_req_client_cert_error(req);
    if ((cn && cn[0]) || cert_error) {
      char msg[400];
      snprintf(msg, sizeof(msg),
               "unauthorized: %.200s (a node renews with its client certificate "
               "system:node:<the k3s-Node-Name> in system:nodes, or joins with the token)",
               cert_error ? cert_error : "the client certificate is not this node's");
      log_warn("join", "%s: %s refused: 401 %s", http_req_remote_addr(req), what,
               cert_error ? cert_error : "another node's client certificate");
      respond_text(req, 401, msg);
      return;
    }
    log_warn("join", "%s: %s refused: 401 wrong or missing token", http_req_remote_addr(req), what);
    http_req_add_header(req, "WWW-Authenticate", "Basic realm=\"k3c\"");
    respond_text(req, 401, "unauthorized: the node token is wrong (basic auth node:<the secret "
                           "of the server's token> is required)");
    return;
  }
  if (!server_bootstrap_node_name_valid(name) ||
      strlen(name) + sizeof(SECRET_SUFFIX) - 1 > 253) {
    log_warn("join", "%s: %s refused: 400 bad node name", http_req_remote_addr(req), what);
    respond_text(req, 400, "k3s-Node-Name must be a DNS-1123 subdomain (lower-case letters, "
                           "digits, '-' and '.', at most 235 characters)");
    free(bootstrap);
    return;
  }
  if (!password || !*password || strlen(password) > PASSWORD_MAX) {
    log_warn("join", "%s: %s refused: 400 no node password", http_req_remote_addr(req), what);
    respond_text(req, 400, "k3s-Node-Password is required (at most 256 characters)");
    free(bootstrap);
    return;
  }
  if (ips && strlen(ips) > IPS_MAX) {
    respond_text(req, 400, "k3s-Node-IP is too long");
    free(bootstrap);
    return;
  }
  join_t *j = xcalloc(1, sizeof(*j));
  j->b = b;
  j->req = req;
  j->serving = serving;
  snprintf(j->name, sizeof(j->name), "%s", name);
  snprintf(j->secret_name, sizeof(j->secret_name), "%.235s%s", name, SECRET_SUFFIX);
  j->password = xstrdup(password);
  j->ips = ips ? xstrdup(ips) : NULL;
  j->bootstrap_token = bootstrap;
  j->renewal = renewal;
  j->next = b->joins;
  if (b->joins)
    b->joins->prev = j;
  b->joins = j;
  if (bootstrap)
    token_lookup(j);
  else
    lookup(j);
}

/* The client CA, for an agent started with a kubeconfig (its kubelet API
 * verifies the API server's kubelet client with it): to a client with a
 * verified client certificate (so one of that CA) or the token's secret. */
static void serve_client_ca(server_bootstrap_t *b, http_req_t *req) {
  const char *cn = http_req_client_cn(req);
  char *user = NULL, *pass = NULL;
  bool authed = cn && cn[0];
  if (!authed && server_bootstrap_basic_auth(http_req_header(req, "Authorization"), &user,
                                             &pass) == 0)
    authed = !strcmp(user, "node") && same_bytes(pass, b->secret);
  free(user);
  free(pass);
  if (!authed) {
    const char *why = http_req_client_cert_error(req);
    char msg[300];
    snprintf(msg, sizeof(msg), "unauthorized: %.200s",
             why ? why : "a client certificate or the node token is required");
    http_req_add_header(req, "WWW-Authenticate", "Basic realm=\"k3c\"");
    respond_text(req, 401, msg);
    return;
  }
  http_respond(req, 200, "application/x-pem-file", b->pki->client_ca.cert_pem,
               strlen(b->pki->client_ca.cert_pem));
}

void server_bootstrap_handle(http_req_t *req, void *data) {
  server_bootstrap_t *b = data;
  const char *path = http_req_path(req);
  bool cacerts = !strcmp(path, "/cacerts");
  if (!cacerts && strncmp(path, "/v1-k3s/", 8)) {
    b->api(req, b->api_data);
    return;
  }
  if (strcmp(http_req_method(req), "GET")) {
    http_req_add_header(req, "Allow", "GET");
    respond_text(req, 405, "method not allowed");
  } else if (cacerts) {
    /* the server CA: what the token's K10 hash covers */
    http_respond(req, 200, "application/x-pem-file", b->pki->server_ca.cert_pem,
                 strlen(b->pki->server_ca.cert_pem));
  } else if (!strcmp(path, "/v1-k3s/client-ca.crt")) {
    serve_client_ca(b, req);
  } else if (!strcmp(path, "/v1-k3s/client-kubelet.crt")) {
    serve_cert(b, req, false);
  } else if (!strcmp(path, "/v1-k3s/serving-kubelet.crt")) {
    serve_cert(b, req, true);
  } else {
    respond_text(req, 404, "not found");
  }
}

/* ---- lifetime ---- */

int server_bootstrap_new(struct ev_loop *loop, const server_bootstrap_opts_t *o,
                         server_bootstrap_t **ret) {
  char *secret = NULL;
  if (!o->token || tls_token_parse(o->token, NULL, NULL, &secret) < 0 || !secret || !*secret) {
    free(secret);
    return -EINVAL;
  }
  /* The supervisor's own identity; it only reads and writes node-password
   * Secrets, but runs in system:masters as the other in-process clients do
   * until they get narrower roles. */
  static const char *const groups[] = {"system:masters", NULL};
  client_t *c = NULL;
  int r = client_inproc_new(loop, o->api, o->api_data, "system:k3c-supervisor", groups, &c);
  if (r < 0) {
    free(secret);
    return r;
  }
  client_set_user_agent(c, "k3c-supervisor");
  server_bootstrap_t *b = xcalloc(1, sizeof(*b));
  b->loop = loop;
  b->pki = o->pki;
  b->secret = secret;
  b->api = o->api;
  b->api_data = o->api_data;
  b->c = c;
  *ret = b;
  return 0;
}

void server_bootstrap_free(server_bootstrap_t *b) {
  if (!b)
    return;
  while (b->joins)
    join_end(b->joins, 503, "the server is stopping");
  client_free(b->c);
  if (b->secret)
    memset(b->secret, 0, strlen(b->secret));
  free(b->secret);
  free(b);
}
