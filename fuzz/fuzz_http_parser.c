/* libFuzzer harness for pkg/http/parser.c and pkg/http/url.c: the request
 * head (whole and split at a few offsets, which must agree), the response
 * head (the same, as the relays and clients read it), chunked and
 * Content-Length bodies, pipelined requests, and the request-target and
 * query-string decoders. Invariant violations abort(). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "http/url.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEAD 8192
#define MAX_BODY 4096

static void check(bool ok) {
  if (!ok)
    abort();
}

/* Feed in to a fresh chunked decoder in one piece and again cut at a few
 * offsets; both must agree on the result, the bytes consumed and the body.
 * Returns the bytes consumed, or a negative errno. */
static long chunked_body(const char *in, size_t len, size_t limit) {
  http_chunked_t c1 = {0};
  buf_t b1;
  buf_init(&b1, limit);
  bool done1 = false;
  long n1 = http_chunked_decode(&c1, in, len, &b1, &done1);

  http_chunked_t c2 = {0};
  buf_t b2;
  buf_init(&b2, limit);
  bool done2 = false;
  long n2 = 0;
  size_t off = 0, step = 1;
  while (off < len && !done2) {
    size_t piece = len - off < step ? len - off : step;
    long r = http_chunked_decode(&c2, in + off, piece, &b2, &done2);
    if (r < 0) {
      n2 = r;
      break;
    }
    check((size_t)r <= piece);
    check(done2 || (size_t)r == piece);
    off += (size_t)r;
    n2 = (long)off;
    step = step * 3 + 1;
  }
  check(n1 == n2);
  if (n1 >= 0) {
    check(done1 == done2);
    check(b1.len == b2.len && b1.len <= limit);
    check(b1.len == 0 || memcmp(b1.data, b2.data, b1.len) == 0);
    if (done1) {
      /* a finished decoder takes nothing more */
      bool d = false;
      check(http_chunked_decode(&c1, "0\r\n\r\n", 5, &b1, &d) == 0 && d);
    }
  } else {
    check(n1 == -EINVAL || n1 == -E2BIG);
  }
  buf_done(&b1);
  buf_done(&b2);
  return n1;
}

static void target(const http_head_t *h) {
  char *path = NULL, *rawq = NULL;
  if (http_target_split(h->target, h->target_len, &path, &rawq) < 0)
    return;
  check(path[0] != '\0');
  http_query_t q;
  if (http_query_parse(rawq, &q) == 0) {
    for (size_t i = 0; i < q.n; i++) {
      const char *v = http_query_get(&q, q.v[i].name);
      check(v != NULL);
    }
    if (q.n > 0)
      check(!strcmp(http_query_get(&q, q.v[0].name), q.v[0].value));
    http_query_done(&q);
  } else {
    check(q.n == 0 && q.v == NULL);
  }
  free(path);
  free(rawq);
}

/* Parse requests back to back, as the connection loop does. */
static void requests(const char *p, size_t len, size_t max) {
  for (int nreq = 0; nreq < 16 && len > 0; nreq++) {
    http_head_t h;
    long n = http_parse_head(p, len, max, &h);
    /* Every shorter prefix is incomplete; the result does not depend on how
     * much of the next request has arrived. */
    const size_t cuts[] = {0, 1, 7, 64, len / 2, n > 0 ? (size_t)n - 1 : len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
      if (cuts[i] >= len)
        continue;
      http_head_t h2;
      long m = http_parse_head(p, cuts[i], max, &h2);
      if (n > 0 && cuts[i] < (size_t)n)
        check(m == 0);
      else if (n == 0)
        check(m == 0);
      else if (n < 0 && m != 0)
        check(m == n || m == -EMSGSIZE);
    }
    if (n <= 0) {
      check(n == 0 || n == -EINVAL || n == -EMSGSIZE || n == -EPROTONOSUPPORT);
      return;
    }
    check((size_t)n <= len && (size_t)n <= max);
    check(h.n_headers <= HTTP_MAX_HEADERS);
    check(h.method >= p && h.method + h.method_len <= p + n);
    check(h.target >= p && h.target + h.target_len <= p + n);
    for (size_t i = 0; i < h.n_headers; i++) {
      check(h.headers[i].name_len > 0);
      check(h.headers[i].name >= p && h.headers[i].name + h.headers[i].name_len <= p + n);
      check(h.headers[i].value >= p && h.headers[i].value + h.headers[i].value_len <= p + n);
    }
    target(&h);
    p += n;
    len -= (size_t)n;

    const http_header_t *te = http_head_find(&h, "transfer-encoding");
    const http_header_t *cl = http_head_find(&h, "Content-Length");
    if (te && te->value_len == 7 && !strncasecmp(te->value, "chunked", 7)) {
      long b = chunked_body(p, len, MAX_BODY);
      if (b < 0)
        return;
      /* also with a tight body limit */
      (void)chunked_body(p, len, 3);
      p += b;
      len -= (size_t)b;
    } else if (cl) {
      size_t body = 0;
      for (size_t i = 0; i < cl->value_len && i < 6; i++) {
        if (cl->value[i] < '0' || cl->value[i] > '9')
          return;
        body = body * 10 + (size_t)(cl->value[i] - '0');
      }
      if (body > len)
        return;
      p += body;
      len -= body;
    }
  }
}

/* A response head: every shorter prefix is incomplete, fields inside it. */
static void response(const char *p, size_t len, size_t max) {
  http_response_t r;
  long n = http_parse_response(p, len, max, &r);
  if (n <= 0) {
    check(n == 0 || n == -EINVAL || n == -EMSGSIZE || n == -EPROTONOSUPPORT);
    return;
  }
  check((size_t)n <= len && (size_t)n <= max);
  check(r.status >= 100 && r.status <= 999);
  check(r.n_headers <= HTTP_MAX_HEADERS);
  check(r.reason >= p && r.reason + r.reason_len <= p + n);
  for (size_t i = 0; i < r.n_headers; i++) {
    check(r.headers[i].name_len > 0);
    check(r.headers[i].name >= p && r.headers[i].name + r.headers[i].name_len <= p + n);
    check(r.headers[i].value >= p && r.headers[i].value + r.headers[i].value_len <= p + n);
  }
  const http_header_t *f = http_response_find(&r, "content-length");
  check(!f || (f >= r.headers && f < r.headers + r.n_headers));
  const size_t cuts[] = {0, 1, 12, (size_t)n / 2, (size_t)n - 1};
  for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
    http_response_t r2;
    if (cuts[i] < (size_t)n)
      check(http_parse_response(p, cuts[i], max, &r2) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  response(in, size, MAX_HEAD);
  requests(in, size, MAX_HEAD);
  /* a small head limit: the 431 path */
  requests(in, size, 64);

  /* The decoders on their own, over the raw bytes. */
  char *dec = NULL;
  if (http_url_decode(in, size, true, &dec) == 0) {
    check(strlen(dec) <= size);
    free(dec);
  }
  if (http_url_decode(in, size, false, &dec) == 0)
    free(dec);
  if (size > 0) {
    char *path = NULL, *rawq = NULL;
    if (http_target_split(in, size, &path, &rawq) == 0) {
      free(path);
      free(rawq);
    }
  }
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  http_query_t q;
  if (http_query_parse(s, &q) == 0)
    http_query_done(&q);
  free(s);
  (void)chunked_body(in, size, MAX_BODY);
  return 0;
}
