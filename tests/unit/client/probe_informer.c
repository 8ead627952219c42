/* k3c-probe-informer: a test helper (not a unit test) that runs one
 * informer over the HTTPS client against a real server and prints what it
 * sees, one line each, for tests/integration/test_informer.py:
 *
 *   k3c-probe-informer URL CA CERT KEY GROUP VERSION RESOURCE [NAMESPACE]
 *
 *   GET <code> <reason>         a get of a missing object (at start)
 *   CREATED <name> <code>       with PROBE_CREATE=<name>: a ConfigMap created first
 *   SYNCED                      the first list is stored
 *   ADD|UPDATE <key> <rv>, DELETE <key>
 *   STATS lists=N watches=N gone=N errors=N   whenever these change
 *
 * SIGTERM frees everything and exits 0, so sanitizers check for leaks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/informer.h"
#include "util/fsutil.h"

static client_informer_t *inf;
static client_informer_stats_t last;

static void print_obj(const char *what, const cJSON *obj, bool rv) {
  char key[512];
  if (client_cache_key(obj, key, sizeof(key)) < 0)
    return;
  const cJSON *md = cJSON_GetObjectItem(obj, "metadata");
  const cJSON *v = cJSON_GetObjectItem(md, "resourceVersion");
  if (rv)
    printf("%s %s %s\n", what, key, cJSON_IsString(v) ? v->valuestring : "-");
  else
    printf("%s %s\n", what, key);
  fflush(stdout);
}

static void on_add(const cJSON *obj, void *data) { print_obj("ADD", obj, true); }
static void on_update(const cJSON *old, const cJSON *obj, void *data) {
  print_obj("UPDATE", obj, true);
}
static void on_delete(const cJSON *obj, void *data) { print_obj("DELETE", obj, false); }
static void on_synced(void *data) {
  printf("SYNCED\n");
  fflush(stdout);
}

static void stats_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  client_informer_stats_t s;
  client_informer_stats(inf, &s);
  if (memcmp(&s, &last, sizeof(s))) {
    last = s;
    printf("STATS lists=%u watches=%u gone=%u errors=%u\n", s.lists, s.watches, s.gone, s.errors);
    fflush(stdout);
  }
}

static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents) { ev_break(loop, EVBREAK_ALL); }

static void got(const client_result_t *res, void *data) {
  printf("GET %d %s\n", res->code, res->reason);
  fflush(stdout);
}

static void created(const client_result_t *res, void *data) {
  printf("CREATED %s %d\n", (const char *)data, res->code);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s URL CA CERT KEY GROUP VERSION RESOURCE [NAMESPACE]\n", argv[0]);
    return 2;
  }
  char *ca = NULL, *cert = NULL, *key = NULL;
  if (fs_read_file(argv[2], 1 << 20, &ca, NULL) < 0 || fs_read_file(argv[3], 1 << 20, &cert, NULL) < 0 ||
      fs_read_file(argv[4], 1 << 20, &key, NULL) < 0) {
    fprintf(stderr, "cannot read the TLS files\n");
    return 2;
  }
  struct ev_loop *loop = ev_default_loop(0);
  client_https_opts_t o = {.server = argv[1], .ca_pem = ca, .cert_pem = cert, .key_pem = key};
  client_t *c = NULL;
  char err[256];
  if (client_https_new(loop, &o, &c, err, sizeof(err)) < 0) {
    fprintf(stderr, "client: %s\n", err);
    return 1;
  }
  const char *ns = argc > 8 ? argv[8] : "";
  client_ref_t ref = {.group = argv[5], .version = argv[6], .resource = argv[7], .ns = ns};
  client_ref_t missing = ref;
  missing.ns = ns[0] ? ns : NULL;
  missing.name = "probe-no-such-object";
  client_get(c, &missing, NULL, got, NULL);
  const char *cname = getenv("PROBE_CREATE");
  if (cname && ns[0]) {
    cJSON *cm = cJSON_CreateObject();
    cJSON_AddStringToObject(cm, "apiVersion", "v1");
    cJSON_AddStringToObject(cm, "kind", "ConfigMap");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cm, "metadata"), "name", cname);
    client_ref_t cms = {.version = "v1", .resource = "configmaps", .ns = ns};
    client_create(c, &cms, cm, created, (void *)cname);
    cJSON_Delete(cm);
  }
  if (client_informer_new(c, &ref, NULL, NULL, 0, &inf) < 0) {
    fprintf(stderr, "bad resource\n");
    return 1;
  }
  client_informer_handlers_t h = {on_add, on_update, on_delete};
  client_informer_add_handlers(inf, &h, NULL);
  client_informer_on_synced(inf, on_synced, NULL);
  client_informer_start(inf);
  ev_timer stats;
  ev_timer_init(&stats, stats_cb, 0.2, 0.2);
  ev_timer_start(loop, &stats);
  ev_signal sig;
  ev_signal_init(&sig, sig_cb, SIGTERM);
  ev_signal_start(loop, &sig);
  signal(SIGPIPE, SIG_IGN);
  ev_run(loop, 0);
  ev_timer_stop(loop, &stats);
  ev_signal_stop(loop, &sig);
  client_informer_free(inf);
  client_free(c);
  ev_loop_destroy(loop);
  free(ca);
  free(cert);
  free(key);
  printf("EXIT\n");
  return 0;
}
