/* libFuzzer harness for request targets: target splitting, query-string
 * checking and decoding (pkg/http/url.c), RequestInfo from the path
 * (pkg/api/reqinfo.c) and the strict numeric parameters (pkg/api/param.c).
 * Besides memory safety it checks the invariants the API relies on:
 * http_query_parse accepts exactly what http_query_check accepts, a refused
 * query always has a reason, decoded names and values hold no NUL, and the
 * numeric parsers never write their result on failure. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/param.h"
#include "api/reqinfo.h"
#include "http/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *v) {
  char err[512];
  int64_t x = 12345;
  if (api_param_int64(v, &x, err, sizeof(err)) < 0 && (x != 12345 || !err[0]))
    abort();
  x = 12345;
  if (api_param_rv(v, &x, err, sizeof(err)) < 0 && (x != 12345 || !err[0]))
    abort();
  if (x < 0)
    abort(); /* a revision is never negative */
  char q[64];
  api_param_quote(v, q, sizeof(q));
  if (q[0] != '"' || strlen(q) >= sizeof(q))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The target as the HTTP parser hands it over: no NUL inside. */
  if (memchr(data, '\0', size))
    return 0;
  char *path = NULL, *raw = NULL;
  if (http_target_split((const char *)data, size, &path, &raw) < 0)
    return 0;
  char err[256] = "";
  int c = http_query_check(raw, err, sizeof(err));
  http_query_t q;
  int p = http_query_parse(raw, &q);
  if ((c == 0) != (p == 0))
    abort();
  if (c < 0 && (!err[0] || strlen(err) >= sizeof(err)))
    abort();
  if (p == 0) {
    for (size_t i = 0; i < q.n; i++) {
      if (!q.v[i].name || !q.v[i].value)
        abort();
      check_value(q.v[i].value);
      if (http_query_get(&q, q.v[i].name) == NULL)
        abort();
    }
    http_query_done(&q);
  }
  static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    api_reqinfo_t ri;
    if (api_reqinfo_parse(methods[i], path, i & 1, &ri) == 0) {
      if (!ri.is_resource)
        continue;
      if (!ri.resource[0] || !ri.version[0] || !ri.verb)
        abort();
    }
  }
  free(path);
  free(raw);
  return 0;
}
