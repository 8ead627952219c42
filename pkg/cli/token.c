/* `k3c token`: bootstrap tokens, as `k3s token` and `kubeadm token` manage
 * them: create, list, delete and generate, through the API with the admin
 * kubeconfig. A created token is printed in the join form
 * K10<CA hash>::<id>.<secret> that `k3c agent --token` takes.
 * https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/ */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "api/bootstraptoken.h"
#include "api/object.h"
#include "cli/cli.h"
#include "client/client.h"
#include "client/kubeconfig.h"
#include "tls/token.h"
#include "util/alloc.h"
#include "util/duration.h"

#define DEFAULT_KUBECONFIG "/etc/k3c/k3c.yaml"
#define DEFAULT_GROUPS "system:bootstrappers:k3c:default-node-token"

static const char USAGE[] =
    "Usage: k3c token COMMAND [flags]\n"
    "\n"
    "Bootstrap tokens for joining agents, kept as Secrets kube-system/bootstrap-token-<id>.\n"
    "\n"
    "Commands:\n"
    "  create [TOKEN]        create a token (random unless TOKEN, <6 a-z0-9>.<16 a-z0-9>, is\n"
    "                        given) and print it as K10<CA hash>::<id>.<secret>\n"
    "  list                  list the tokens\n"
    "  delete TOKEN...       delete tokens, by id or by whole token\n"
    "  generate              print a random token without creating it\n"
    "\n"
    "Flags:\n"
    "  --kubeconfig FILE     the cluster to talk to (default $KUBECONFIG, else " DEFAULT_KUBECONFIG
    ")\n"
    "  --ttl DURATION        create: time until the token expires, 0 for never (default 24h)\n"
    "  --description TEXT    create: a note shown by list\n"
    "  --usages LIST         create: authentication,signing (default both)\n"
    "  --groups LIST         create: extra groups (default " DEFAULT_GROUPS ")\n";

typedef struct {
  const char *kubeconfig, *ttl, *description, *usages, *groups;
  const char *args[16];
  int nargs;
} opts_t;

/* One request run to its end on a private loop. */
typedef struct {
  bool done;
  int code;
  char message[512];
  cJSON *obj;
} answer_t;

static void answered(const client_result_t *res, void *data) {
  answer_t *a = data;
  a->done = true;
  a->code = res->code;
  snprintf(a->message, sizeof(a->message), "%s",
           res->message && *res->message ? res->message
           : res->code == 0             ? strerror(-res->err)
                                        : "");
  a->obj = client_result_take(res);
}

typedef struct {
  struct ev_loop *loop;
  client_t *c;
  char ca_hash[65];
} conn_t;

static int connect_api(const opts_t *o, conn_t *conn) {
  const char *path = o->kubeconfig;
  if (!path || !*path)
    path = getenv("KUBECONFIG");
  if (!path || !*path)
    path = DEFAULT_KUBECONFIG;
  char err[512] = "";
  client_kubeconfig_t kc = {0};
  if (client_kubeconfig_load(path, &kc, err, sizeof(err)) < 0) {
    fprintf(stderr, "k3c token: %s (run it on a server, or pass --kubeconfig)\n", err);
    client_kubeconfig_done(&kc);
    return -1;
  }
  if (!kc.ca) {
    fprintf(stderr, "k3c token: %s names no certificate authority; the join token needs the "
                    "cluster CA\n", path);
    client_kubeconfig_done(&kc);
    return -1;
  }
  tls_token_ca_hash(kc.ca, conn->ca_hash);
  conn->loop = ev_loop_new(EVFLAG_AUTO);
  client_https_opts_t ho = {.server = kc.server, .ca_pem = kc.ca, .cert_pem = kc.cert,
                            .key_pem = kc.key, .bearer = kc.token, .timeout = 15};
  int r = client_https_new(conn->loop, &ho, &conn->c, err, sizeof(err));
  client_kubeconfig_done(&kc);
  if (r < 0) {
    fprintf(stderr, "k3c token: %s\n", err);
    ev_loop_destroy(conn->loop);
    return -1;
  }
  client_set_user_agent(conn->c, "k3c-token");
  return 0;
}

static void disconnect(conn_t *conn) {
  client_free(conn->c);
  ev_loop_destroy(conn->loop);
}

static void wait_answer(conn_t *conn, answer_t *a) {
  while (!a->done)
    ev_run(conn->loop, EVRUN_ONCE);
}

static const client_ref_t SECRETS = {.version = "v1", .resource = "secrets",
                                     .ns = API_BOOTSTRAP_TOKEN_NS};

static int token_create(const opts_t *o) {
  char token[24];
  if (o->nargs > 1) {
    fprintf(stderr, "k3c token create: at most one TOKEN\n");
    return 2;
  }
  if (o->nargs == 1) {
    char id[7], sec[17];
    if (!api_bootstrap_token_split(o->args[0], id, sec)) {
      fprintf(stderr, "k3c token create: \"%s\" is not a token: it must look like "
                      "[a-z0-9]{6}.[a-z0-9]{16} (see `k3c token generate`)\n", o->args[0]);
      return 2;
    }
    snprintf(token, sizeof(token), "%s", o->args[0]);
  } else {
    api_bootstrap_token_generate(token);
  }
  long ttl = duration_parse(o->ttl ? o->ttl : "24h");
  if (ttl < 0) {
    fprintf(stderr, "k3c token create: --ttl \"%s\" is not a duration (such as 24h, 30m, 0 for "
                    "never)\n", o->ttl);
    return 2;
  }
  char err[300] = "";
  cJSON *secret = api_bootstrap_token_secret(token, ttl ? time(NULL) + ttl : 0, o->description,
                                             o->usages, o->groups ? o->groups : DEFAULT_GROUPS,
                                             err, sizeof(err));
  if (!secret) {
    fprintf(stderr, "k3c token create: %s\n", err);
    return 2;
  }
  conn_t conn;
  if (connect_api(o, &conn) < 0) {
    cJSON_Delete(secret);
    return 1;
  }
  answer_t a = {0};
  client_create(conn.c, &SECRETS, secret, answered, &a);
  cJSON_Delete(secret);
  wait_answer(&conn, &a);
  int rc = 0;
  if (a.code == 201 || a.code == 200) {
    printf("K10%s::%s\n", conn.ca_hash, token);
  } else if (a.code == 409) {
    fprintf(stderr, "k3c token create: a token with id %.6s exists already\n", token);
    rc = 1;
  } else {
    fprintf(stderr, "k3c token create: the server answered %d: %s\n", a.code, a.message);
    rc = 1;
  }
  cJSON_Delete(a.obj);
  disconnect(&conn);
  return rc;
}

/* apimachinery's ShortHumanDuration, which `kubeadm token list` prints
 * the TTL with: "45s", "59m", "23h", "6d", "2y"; "<invalid>" once past. */
static void short_duration(long secs, char *buf, size_t n) {
  if (secs < 0)
    snprintf(buf, n, "<invalid>");
  else if (secs < 60)
    snprintf(buf, n, "%lds", secs);
  else if (secs < 3600)
    snprintf(buf, n, "%ldm", secs / 60);
  else if (secs < 48 * 3600)
    snprintf(buf, n, "%ldh", secs / 3600);
  else if (secs < 8L * 365 * 86400)
    snprintf(buf, n, "%ldd", secs / 86400);
  else
    snprintf(buf, n, "%ldy", secs / (365 * 86400L));
}

/* Columns as `kubeadm token list` prints them. */
static void list_row(const cJSON *s, time_t now) {
  char *id = api_bootstrap_token_data(s, "token-id");
  char *sec = api_bootstrap_token_data(s, "token-secret");
  char *desc = api_bootstrap_token_data(s, "description");
  char *groups = api_bootstrap_token_data(s, "auth-extra-groups");
  char *auth = api_bootstrap_token_data(s, "usage-bootstrap-authentication");
  char *sign = api_bootstrap_token_data(s, "usage-bootstrap-signing");
  char token[64], ttl[32] = "<forever>", expires[32] = "<never>", usages[40] = "";
  snprintf(token, sizeof(token), "%s.%s", id ? id : "?", sec ? sec : "?");
  time_t exp = 0;
  if (api_bootstrap_token_expiry(s, &exp) < 0) {
    snprintf(ttl, sizeof(ttl), "<invalid>");
    snprintf(expires, sizeof(expires), "<invalid>");
  } else if (exp) {
    short_duration((long)(exp - now), ttl, sizeof(ttl));
    obj_time_format(exp, expires, sizeof(expires));
  }
  bool a = auth && !strcmp(auth, "true"), g = sign && !strcmp(sign, "true");
  snprintf(usages, sizeof(usages), "%s%s%s", a ? "authentication" : "", a && g ? "," : "",
           g ? "signing" : "");
  printf("%-24s  %-9s  %-20s  %-22s  %-28s  %s\n", token, ttl, expires,
         usages[0] ? usages : "<none>", desc && *desc ? desc : "<none>",
         groups && *groups ? groups : "<none>");
  free(id);
  free(sec);
  free(desc);
  free(groups);
  free(auth);
  free(sign);
}

static int token_list(const opts_t *o) {
  if (o->nargs) {
    fprintf(stderr, "k3c token list: no arguments expected\n");
    return 2;
  }
  conn_t conn;
  if (connect_api(o, &conn) < 0)
    return 1;
  answer_t a = {0};
  client_list(conn.c, &SECRETS, "fieldSelector=type%3D" "bootstrap.kubernetes.io%2Ftoken",
              answered, &a);
  wait_answer(&conn, &a);
  int rc = 0;
  if (a.code == 200) {
    printf("%-24s  %-9s  %-20s  %-22s  %-28s  %s\n", "TOKEN", "TTL", "EXPIRES", "USAGES",
           "DESCRIPTION", "EXTRA GROUPS");
    time_t now = time(NULL);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(a.obj, "items"))
      list_row(s, now);
  } else {
    fprintf(stderr, "k3c token list: the server answered %d: %s\n", a.code, a.message);
    rc = 1;
  }
  cJSON_Delete(a.obj);
  disconnect(&conn);
  return rc;
}

static int token_delete(const opts_t *o) {
  if (!o->nargs) {
    fprintf(stderr, "k3c token delete: name the tokens (id or whole token)\n");
    return 2;
  }
  char ids[16][7]; /* o->args holds at most 16 */
  for (int i = 0; i < o->nargs; i++) {
    const char *t = o->args[i];
    const char *sep = strstr(t, "::"); /* a K10 join token */
    if (sep)
      t = sep + 2;
    char sec[17];
    bool id_only = strlen(t) == 6 && strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789") == 6;
    if (!id_only && !api_bootstrap_token_split(t, ids[i], sec)) {
      fprintf(stderr, "k3c token delete: \"%s\" is neither a token id (6 of a-z0-9) nor a "
                      "token\n", o->args[i]);
      return 2;
    }
    if (id_only)
      snprintf(ids[i], sizeof(ids[i]), "%s", t);
  }
  conn_t conn;
  if (connect_api(o, &conn) < 0)
    return 1;
  int rc = 0;
  for (int i = 0; i < o->nargs; i++) {
    char name[32];
    snprintf(name, sizeof(name), API_BOOTSTRAP_TOKEN_PREFIX "%.6s", ids[i]);
    client_ref_t ref = SECRETS;
    ref.name = name;
    answer_t a = {0};
    client_delete(conn.c, &ref, NULL, answered, &a);
    wait_answer(&conn, &a);
    if (a.code == 200 || a.code == 202) {
      printf("bootstrap token \"%s\" deleted\n", ids[i]);
    } else if (a.code == 404) {
      fprintf(stderr, "k3c token delete: no bootstrap token with id \"%s\"\n", ids[i]);
      rc = 1;
    } else {
      fprintf(stderr, "k3c token delete %s: the server answered %d: %s\n", ids[i], a.code,
              a.message);
      rc = 1;
    }
    cJSON_Delete(a.obj);
  }
  disconnect(&conn);
  return rc;
}

/* Flags as --name VALUE or --name=VALUE; everything else is an argument. */
static int parse(int argc, char **argv, opts_t *o) {
  static const struct {
    const char *name;
    size_t off;
  } flags[] = {
      {"kubeconfig", offsetof(opts_t, kubeconfig)},   {"ttl", offsetof(opts_t, ttl)},
      {"description", offsetof(opts_t, description)}, {"usages", offsetof(opts_t, usages)},
      {"groups", offsetof(opts_t, groups)},
  };
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2)) {
      if (o->nargs == (int)(sizeof(o->args) / sizeof(o->args[0]))) {
        fprintf(stderr, "k3c token: too many arguments\n");
        return -1;
      }
      o->args[o->nargs++] = a;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    size_t f = 0;
    while (f < sizeof(flags) / sizeof(flags[0]) &&
           (strlen(flags[f].name) != n || strncmp(flags[f].name, a + 2, n)))
      f++;
    if (f == sizeof(flags) / sizeof(flags[0])) {
      fprintf(stderr, "k3c token: unknown flag %s\n%s", a, USAGE);
      return -1;
    }
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) {
      fprintf(stderr, "k3c token: %s needs a value\n", a);
      return -1;
    }
    *(const char **)((char *)o + flags[f].off) = v;
  }
  return 0;
}

int cli_token(int argc, char **argv) {
  if (argc < 1) {
    fputs(USAGE, stderr);
    return 2;
  }
  const char *cmd = argv[0];
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(USAGE, stdout);
      return 0;
    }
  }
  opts_t o = {0};
  if (parse(argc - 1, argv + 1, &o) < 0)
    return 2;
  if (!strcmp(cmd, "create"))
    return token_create(&o);
  if (!strcmp(cmd, "list"))
    return token_list(&o);
  if (!strcmp(cmd, "delete"))
    return token_delete(&o);
  if (!strcmp(cmd, "generate")) {
    char token[24];
    api_bootstrap_token_generate(token);
    printf("%s\n", token);
    return 0;
  }
  fprintf(stderr, "k3c token: unknown command \"%s\"\n%s", cmd, USAGE);
  return 2;
}
