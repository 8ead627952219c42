/* URL path -> RequestInfo (reqinfo.h); follows the shape of
 * k8s.io/apiserver/pkg/endpoints/request RequestInfoFactory. */
#include "api/reqinfo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_PARTS 10

static int copy(char *dst, size_t n, const char *src, size_t len) {
  if (len == 0 || len >= n)
    return -EINVAL;
  memcpy(dst, src, len);
  dst[len] = '\0';
  return 0;
}

int api_reqinfo_parse(const char *method, const char *path, bool watch, api_reqinfo_t *ri) {
  memset(ri, 0, sizeof(*ri));
  const char *parts[MAX_PARTS];
  size_t lens[MAX_PARTS];
  int n = 0;
  bool more = false; /* segments past MAX_PARTS: only a proxy path may have them */
  const char *p = path;
  while (*p == '/')
    p++;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (n == MAX_PARTS) {
      more = true;
      break;
    }
    parts[n] = p;
    lens[n++] = len;
    p += len;
    while (*p == '/')
      p++;
  }
  int i = 0;
  if (n >= 2 && lens[0] == 3 && !strncmp(parts[0], "api", 3)) {
    i = 1;
  } else if (n >= 3 && lens[0] == 4 && !strncmp(parts[0], "apis", 4)) {
    if (copy(ri->group, sizeof(ri->group), parts[1], lens[1]) < 0)
      return -EINVAL;
    i = 2;
  } else {
    return 0;
  }
  if (copy(ri->version, sizeof(ri->version), parts[i], lens[i]) < 0)
    return -EINVAL;
  i++;
  ri->depth = n - i;
  if (i >= n)
    return 0; /* /api/v1: discovery */
  ri->is_resource = true;
  /* namespaces/<ns>/<resource>... ; "namespaces" alone or namespaces/<name>[/sub] is the
   * Namespace resource itself. */
  if (lens[i] == 10 && !strncmp(parts[i], "namespaces", 10) && n - i >= 3 &&
      !(lens[i + 2] == 6 && !strncmp(parts[i + 2], "status", 6)) &&
      !(lens[i + 2] == 8 && !strncmp(parts[i + 2], "finalize", 8))) {
    if (copy(ri->ns, sizeof(ri->ns), parts[i + 1], lens[i + 1]) < 0)
      return -EINVAL;
    i += 2;
  }
  int rest = n - i;
  /* …/<name>/proxy/<anything>: the rest is the proxied path (upstream
   * takes the third part as the subresource and ignores what follows) */
  bool proxy = rest >= 3 && lens[i + 2] == 5 && !strncmp(parts[i + 2], "proxy", 5);
  if (rest < 1 || (rest > 3 && !proxy) || (more && !proxy))
    return -EINVAL;
  if (copy(ri->resource, sizeof(ri->resource), parts[i], lens[i]) < 0)
    return -EINVAL;
  if (rest >= 2 && copy(ri->name, sizeof(ri->name), parts[i + 1], lens[i + 1]) < 0)
    return -EINVAL;
  if (rest >= 3 && copy(ri->subresource, sizeof(ri->subresource), parts[i + 2], lens[i + 2]) < 0)
    return -EINVAL;
  /* The namespace of a Namespace is its name. */
  if (!strcmp(ri->resource, "namespaces") && ri->group[0] == '\0' && ri->name[0] && !ri->ns[0])
    snprintf(ri->ns, sizeof(ri->ns), "%s", ri->name);

  bool item = ri->name[0] != '\0';
  if (!strcmp(ri->subresource, "proxy"))
    watch = false; /* a query of the proxied path */
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
    ri->verb = item ? "get" : watch ? "watch" : "list";
  else if (!strcmp(method, "POST"))
    ri->verb = "create";
  else if (!strcmp(method, "PUT"))
    ri->verb = "update";
  else if (!strcmp(method, "PATCH"))
    ri->verb = "patch";
  else if (!strcmp(method, "DELETE"))
    ri->verb = item ? "delete" : "deletecollection";
  else
    ri->verb = "";
  if (watch && item && !strcmp(ri->verb, "get"))
    ri->verb = "watch";
  return 0;
}
