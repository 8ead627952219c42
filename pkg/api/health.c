/* /healthz, /livez and /readyz as upstream's apiserver serves them: "ok",
 * or with ?verbose one "[+]<check> ok" line per check and "<name> check
 * passed"; ?exclude=<check> (repeatable) skips checks; /<root>/<check>
 * runs one check. k3c's checks always pass while the loop answers; the
 * etcd check stands for the datastore, as in k3s.
 * https://kubernetes.io/docs/reference/using-api/health-checks/ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "util/alloc.h"
#include "util/buf.h"

static const char *const livez_checks[] = {
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/start-system-namespaces-controller",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/bootstrap-controller",
    "poststarthook/crd-informer-synced",
    NULL};

static const char *const readyz_extra[] = {"etcd-readiness", "informer-sync", "shutdown", NULL};

static bool known(const char *root, const char *name) {
  for (const char *const *c = livez_checks; *c; c++)
    if (!strcmp(*c, name))
      return true;
  if (!strcmp(root, "readyz"))
    for (const char *const *c = readyz_extra; *c; c++)
      if (!strcmp(*c, name))
        return true;
  return false;
}

static bool excluded(const char *const *ex, const char *name, bool *used) {
  for (size_t i = 0; ex && ex[i]; i++)
    if (!strcmp(ex[i], name)) {
      used[i] = true;
      return true;
    }
  return false;
}

static void check_line(buf_t *b, const char *name, const char *const *ex, bool *used) {
  if (excluded(ex, name, used))
    buf_printf(b, "[+]%s excluded: ok\n", name);
  else
    buf_printf(b, "[+]%s ok\n", name);
}

bool api__health(http_req_t *req, const char *path) {
  static const char *const roots[] = {"healthz", "livez", "readyz"};
  const char *root = NULL;
  const char *rest = NULL;
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(roots[i]);
    if (path[0] == '/' && !strncmp(path + 1, roots[i], n) &&
        (path[n + 1] == '\0' || path[n + 1] == '/')) {
      root = roots[i];
      rest = path + n + 1;
    }
  }
  if (!root)
    return false;
  http_req_add_header(req, "X-Content-Type-Options", "nosniff");
  if (rest[0] == '/' && rest[1]) {
    if (!known(root, rest + 1)) {
      http_respond(req, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
      return true;
    }
    http_respond(req, 200, "text/plain; charset=utf-8", "ok", 2);
    return true;
  }
  const char *const *ex = http_req_query_all(req, "exclude");
  size_t nex = 0;
  while (ex && ex[nex])
    nex++;
  bool *used = xcalloc(nex + 1, sizeof(bool));
  buf_t b;
  buf_init(&b, 65536);
  for (const char *const *c = livez_checks; *c; c++)
    check_line(&b, *c, ex, used);
  if (!strcmp(root, "readyz"))
    for (const char *const *c = readyz_extra; *c; c++)
      check_line(&b, *c, ex, used);
  /* names that matched no check, sorted and quoted as upstream's
   * formatQuoted(sets.List()) */
  const char *missing[64];
  size_t nm = 0;
  for (size_t i = 0; i < nex && nm < 64; i++) {
    if (used && used[i])
      continue;
    bool dup = false;
    for (size_t j = 0; j < nm; j++)
      dup = dup || !strcmp(missing[j], ex[i]);
    if (dup)
      continue;
    size_t k = nm++;
    while (k > 0 && strcmp(missing[k - 1], ex[i]) > 0) {
      missing[k] = missing[k - 1];
      k--;
    }
    missing[k] = ex[i];
  }
  if (nm) {
    buf_append_str(&b, "warn: some health checks cannot be excluded: no matches for ");
    for (size_t i = 0; i < nm; i++)
      buf_printf(&b, "%s\"%s\"", i ? "," : "", missing[i]);
    buf_append_str(&b, "\n");
  }
  free(used);
  if (!http_req_query(req, "verbose")) {
    buf_done(&b);
    http_respond(req, 200, "text/plain; charset=utf-8", "ok", 2);
    return true;
  }
  buf_printf(&b, "%s check passed\n", root);
  size_t len = 0;
  char *body = buf_steal(&b, &len);
  http_respond_take(req, 200, "text/plain; charset=utf-8", body, len);
  return true;
}
