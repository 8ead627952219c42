/* `k3c secrets-encrypt status|enable|disable|rotate-keys|reencrypt`: k3s's
 * commands for encryption at rest, against the running server's
 * /v1-k3c/encrypt/ endpoints with the admin kubeconfig. reencrypt and
 * rotate-keys wait for the server to rewrite every Secret and show the
 * progress. https://docs.k3s.io/cli/secrets-encrypt */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "cli/cli.h"
#include "client/client.h"
#include "client/kubeconfig.h"

#define DEFAULT_KUBECONFIG "/etc/k3c/k3c.yaml"

static const char USAGE[] =
    "Usage: k3c secrets-encrypt COMMAND [--kubeconfig FILE] [--quiet]\n"
    "\n"
    "Encryption at rest of Secrets (AES-GCM, <data-dir>/server/cred/encryption-config.json).\n"
    "\n"
    "Commands:\n"
    "  status       print the encryption status, the rotation stage and the keys\n"
    "  enable       encrypt Secrets written from now on (a key is made if none exists)\n"
    "  disable      write Secrets in plaintext from now on (keys are kept to read)\n"
    "  rotate-keys  make a new key for writes, rewrite every Secret with it, then drop\n"
    "               the old keys\n"
    "  reencrypt    rewrite every Secret in the current form (after enable or disable,\n"
    "               or to finish an interrupted rotation); old keys are dropped at the end\n"
    "\n"
    "Until a rewrite has finished every key stays in the file, so an interrupted one\n"
    "leaves each Secret readable; run it again.\n"
    "\n"
    "Flags:\n"
    "  --kubeconfig FILE  the cluster to talk to (default $KUBECONFIG, else " DEFAULT_KUBECONFIG
    ")\n"
    "  --quiet, -q        reencrypt, rotate-keys: no progress lines\n";

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
} conn_t;

static int connect_api(const char *path, conn_t *conn) {
  if (!path || !*path)
    path = getenv("KUBECONFIG");
  if (!path || !*path)
    path = DEFAULT_KUBECONFIG;
  char err[512] = "";
  client_kubeconfig_t kc = {0};
  if (client_kubeconfig_load(path, &kc, err, sizeof(err)) < 0) {
    fprintf(stderr, "k3c secrets-encrypt: %s (run it on a server, or pass --kubeconfig)\n", err);
    client_kubeconfig_done(&kc);
    return -1;
  }
  conn->loop = ev_loop_new(EVFLAG_AUTO);
  client_https_opts_t ho = {.server = kc.server, .ca_pem = kc.ca, .cert_pem = kc.cert,
                            .key_pem = kc.key, .bearer = kc.token, .timeout = 30};
  int r = client_https_new(conn->loop, &ho, &conn->c, err, sizeof(err));
  client_kubeconfig_done(&kc);
  if (r < 0) {
    fprintf(stderr, "k3c secrets-encrypt: %s\n", err);
    ev_loop_destroy(conn->loop);
    return -1;
  }
  client_set_user_agent(conn->c, "k3c-secrets-encrypt");
  return 0;
}

static int call(conn_t *conn, const char *stage, answer_t *a) {
  memset(a, 0, sizeof(*a));
  client_req_t *rq;
  if (!stage)
    rq = client_get_path(conn->c, "/v1-k3c/encrypt/status", answered, a);
  else {
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "stage", stage);
    rq = client_put_path(conn->c, "/v1-k3c/encrypt/config", body, answered, a);
    cJSON_Delete(body);
  }
  if (!rq) {
    fprintf(stderr, "k3c secrets-encrypt: cannot send the request\n");
    return -1;
  }
  while (!a->done)
    ev_run(conn->loop, EVRUN_ONCE);
  if (a->code != 200) {
    fprintf(stderr, "k3c secrets-encrypt: %s%s%s\n", a->code ? "server: " : "",
            a->message[0] ? a->message : "request failed",
            a->code == 403 ? " (use the admin kubeconfig, group system:masters)" : "");
    cJSON_Delete(a->obj);
    a->obj = NULL;
    return -1;
  }
  return 0;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* k3s's layout: three lines, then the key table. */
static void print_status(const cJSON *s) {
  const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enable");
  if (!cJSON_IsBool(en)) {
    printf("Encryption Status: Disabled, no configuration file found\n");
    return;
  }
  printf("Encryption Status: %s\n", cJSON_IsTrue(en) ? "Enabled" : "Disabled");
  printf("Current Rotation Stage: %s\n", str(s, "stage"));
  printf("Server Encryption Hashes: %s\n", str(s, "hashError"));
  printf("Encryption Config Hash: %s\n", str(s, "configHash"));
  const cJSON *re = cJSON_GetObjectItemCaseSensitive(s, "reencrypt");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(re, "running")))
    printf("Reencrypt: running, %.0f of %.0f rows done\n", num(re, "examined"), num(re, "total"));
  else if (str(re, "error")[0])
    printf("Reencrypt: failed: %s\n", str(re, "error"));
  printf("\n%-8s%-10s%s\n", "Active", "Key Type", "Name");
  printf("%-8s%-10s%s\n", "------", "--------", "----");
  const char *ak = str(s, "activeKey");
  if (ak[0]) {
    const char *sp = strchr(ak, ' ');
    printf("%-8s%-10.*s%s\n", " *", sp ? (int)(sp - ak) : 0, ak, sp ? sp + 1 : ak);
  }
  const cJSON *k;
  cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(s, "inactiveKeys")) {
    if (!cJSON_IsString(k))
      continue;
    const char *sp = strchr(k->valuestring, ' ');
    printf("%-8s%-10.*s%s\n", "", sp ? (int)(sp - k->valuestring) : 0, k->valuestring,
           sp ? sp + 1 : k->valuestring);
  }
}

/* Poll the status until the rewrite has ended, printing progress. */
static int wait_reencrypt(conn_t *conn, bool quiet) {
  double last = -1;
  for (int i = 0; i < 36000; i++) { /* an hour at 100 ms */
    answer_t a;
    if (call(conn, NULL, &a) < 0)
      return 1;
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(a.obj, "reencrypt");
    bool running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(re, "running"));
    double ex = num(re, "examined"), total = num(re, "total");
    if (!quiet && ex != last) {
      printf("reencrypt: %.0f of %.0f rows (every stored revision of %s) done\n", ex, total,
             num(re, "resources") > 1 ? "the resources" : "Secrets");
      fflush(stdout);
      last = ex;
    }
    if (!running) {
      const char *e = str(re, "error");
      int rc = 0;
      if (e[0]) {
        fprintf(stderr, "k3c secrets-encrypt: reencrypt failed: %s\n", e);
        rc = 1;
      } else
        printf("reencryption finished, %.0f rows rewritten; stage %s\n", num(re, "rewritten"),
               str(a.obj, "stage"));
      cJSON_Delete(a.obj);
      return rc;
    }
    cJSON_Delete(a.obj);
    usleep(100 * 1000);
  }
  fprintf(stderr, "k3c secrets-encrypt: still running after an hour; see status\n");
  return 1;
}

int cli_secrets_encrypt(int argc, char **argv) {
  const char *cmd = NULL, *kubeconfig = NULL;
  bool quiet = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(USAGE, stdout);
      return 0;
    } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
      quiet = true;
    else if (!strncmp(a, "--kubeconfig=", 13))
      kubeconfig = a + 13;
    else if (!strcmp(a, "--kubeconfig") && i + 1 < argc)
      kubeconfig = argv[++i];
    else if (a[0] == '-') {
      fprintf(stderr, "k3c secrets-encrypt: unknown flag %s\n%s", a, USAGE);
      return 2;
    } else if (!cmd)
      cmd = a;
    else {
      fprintf(stderr, "k3c secrets-encrypt: one command only\n%s", USAGE);
      return 2;
    }
  }
  static const char *const cmds[] = {"status", "enable", "disable", "rotate-keys", "reencrypt"};
  bool known = false;
  for (size_t i = 0; cmd && i < sizeof(cmds) / sizeof(cmds[0]); i++)
    known = known || !strcmp(cmd, cmds[i]);
  if (!known) {
    if (cmd)
      fprintf(stderr, "k3c secrets-encrypt: unknown command \"%s\"\n", cmd);
    fputs(USAGE, stderr);
    return 2;
  }
  conn_t conn;
  if (connect_api(kubeconfig, &conn) < 0)
    return 1;
  answer_t a;
  int rc = 0;
  if (call(&conn, strcmp(cmd, "status") ? cmd : NULL, &a) < 0)
    rc = 1;
  else if (!strcmp(cmd, "status"))
    print_status(a.obj);
  else if (!strcmp(cmd, "enable") || !strcmp(cmd, "disable"))
    printf("secrets encryption %sd; Secrets written from now on are %s. Existing ones keep\n"
           "their form until `k3c secrets-encrypt reencrypt`.\n",
           cmd, !strcmp(cmd, "enable") ? "encrypted" : "plaintext");
  else {
    if (!strcmp(cmd, "rotate-keys"))
      printf("keys rotated, reencrypting with %s\n", str(a.obj, "activeKey"));
    rc = wait_reencrypt(&conn, quiet);
  }
  cJSON_Delete(a.obj);
  client_free(conn.c);
  ev_loop_destroy(conn.loop);
  return rc;
}
