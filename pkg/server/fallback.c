/* Built-in answers for the version and health endpoints
 * (https://kubernetes.io/docs/reference/using-api/health-checks/ and
 * version.Info as kubectl and client-go read it). */
#include "server/fallback.h"

#include <string.h>

#include "util/alloc.h"
#include "version.h"

static const char not_found[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"the server could not find the requested resource\",\"reason\":\"NotFound\","
    "\"details\":{},\"code\":404}\n";
static const char unauthorized[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n";
static const char not_allowed[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"the server does not allow this method on the requested resource\","
    "\"reason\":\"MethodNotAllowed\",\"details\":{},\"code\":405}\n";

static bool is_health(const char *path) {
  static const char *const names[] = {"/healthz", "/livez", "/readyz", NULL};
  for (const char *const *n = names; *n; n++) {
    size_t l = strlen(*n);
    if (!strncmp(path, *n, l) && (path[l] == '\0' || path[l] == '/'))
      return true;
  }
  return false;
}

void server_fallback_handle(http_req_t *req, void *data) {
  const char *path = http_req_path(req);
  const char *method = http_req_method(req);
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
    if (!get) {
      http_respond(req, 405, "application/json", not_allowed, sizeof(not_allowed) - 1);
      return;
    }
    char *body = xasprintf("{\n  \"major\": \"%s\",\n  \"minor\": \"%s\",\n"
                           "  \"gitVersion\": \"%s\",\n  \"gitCommit\": \"%s\",\n"
                           "  \"gitTreeState\": \"clean\",\n"
                           "  \"buildDate\": \"1970-01-01T00:00:00Z\",\n"
                           "  \"goVersion\": \"none\",\n  \"compiler\": \"gcc\",\n"
                           "  \"platform\": \"linux/%s\"\n}\n",
                           K3C_KUBE_MAJOR, K3C_KUBE_MINOR, K3C_VERSION, K3C_GIT_COMMIT,
#if defined(__x86_64__)
                           "amd64"
#elif defined(__aarch64__)
                           "arm64"
#elif defined(__arm__)
                           "arm"
#else
                           "unknown"
#endif
    );
    http_respond_take(req, 200, "application/json", body, strlen(body));
    return;
  }
  if (is_health(path)) {
    if (!get) {
      http_respond(req, 405, "application/json", not_allowed, sizeof(not_allowed) - 1);
      return;
    }
    http_respond(req, 200, "text/plain; charset=utf-8", "ok", 2);
    return;
  }
  if (!http_req_client_cn(req)) {
    http_respond(req, 401, "application/json", unauthorized, sizeof(unauthorized) - 1);
    return;
  }
  http_respond(req, 404, "application/json", not_found, sizeof(not_found) - 1);
}
