/* Request head and chunked body parsing (pkg/http/parser.c). */
#include <errno.h>

#include "http/parser.h"
#include "test.h"

static long parse(const char *s, http_head_t *h) { return http_parse_head(s, strlen(s), 65536, h); }

static void test_simple_get(void) {
  http_head_t h;
  const char *req = "GET /api/v1/pods?limit=500 HTTP/1.1\r\nHost: x\r\nAccept:  application/json \r\n\r\nNEXT";
  long n = parse(req, &h);
  ASSERT_EQ_INT(n, (long)strlen(req) - 4);
  ASSERT_EQ_INT(h.method_len, 3);
  ASSERT_TRUE(!strncmp(h.method, "GET", 3));
  ASSERT_TRUE(!strncmp(h.target, "/api/v1/pods?limit=500", h.target_len));
  ASSERT_EQ_INT(h.minor_version, 1);
  ASSERT_EQ_INT(h.n_headers, 2);
  const http_header_t *a = http_head_find(&h, "accept");
  ASSERT_NOT_NULL(a);
  ASSERT_EQ_INT(a->value_len, strlen("application/json"));
  ASSERT_TRUE(!strncmp(a->value, "application/json", a->value_len));
  ASSERT_NULL(http_head_find(&h, "Content-Length"));
}

static void test_incomplete_then_complete(void) {
  http_head_t h;
  const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t i = 0; i < strlen(req); i++)
    ASSERT_EQ_INT(http_parse_head(req, i, 65536, &h), 0);
  ASSERT_EQ_INT(http_parse_head(req, strlen(req), 65536, &h), (long)strlen(req));
}

static void test_bare_lf_and_leading_crlf(void) {
  http_head_t h;
  const char *req = "\r\nGET / HTTP/1.0\nHost: x\n\n";
  ASSERT_EQ_INT(parse(req, &h), (long)strlen(req));
  ASSERT_EQ_INT(h.minor_version, 0);
  ASSERT_EQ_INT(h.n_headers, 1);
}

static void test_too_large(void) {
  http_head_t h;
  char big[300];
  memset(big, 'a', sizeof(big));
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  ASSERT_EQ_INT(http_parse_head(big, sizeof(big), 100, &h), -EMSGSIZE);
  ASSERT_EQ_INT(http_parse_head(big, 50, 100, &h), 0);
}

static void test_malformed(void) {
  http_head_t h;
  ASSERT_EQ_INT(parse("GET / HTTP/1.1\r\n folded: x\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET / HTTP/1.1\r\nName : x\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET /\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("G(T / HTTP/1.1\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET / HTTX/1.1\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET / HTTP/2.0\r\n\r\n", &h), -EPROTONOSUPPORT);
  ASSERT_EQ_INT(parse("GET /a\x01 HTTP/1.1\r\n\r\n", &h), -EINVAL);
  ASSERT_EQ_INT(parse("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", &h), -EINVAL);
}

static void test_too_many_headers(void) {
  http_head_t h;
  char req[4096] = "GET / HTTP/1.1\r\n";
  size_t off = strlen(req);
  for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
    off += (size_t)snprintf(req + off, sizeof(req) - off, "H%d: v\r\n", i);
  snprintf(req + off, sizeof(req) - off, "\r\n");
  ASSERT_EQ_INT(parse(req, &h), -EMSGSIZE);
}

static long chunk_all(const char *in, size_t len, buf_t *out, bool *done) {
  http_chunked_t c = {0};
  return http_chunked_decode(&c, in, len, out, done);
}

static void test_chunked_basic(void) {
  buf_t out;
  buf_init(&out, 1024);
  bool done;
  const char *in = "5\r\nhello\r\n6;name=val\r\n world\r\n0\r\nTrailer: x\r\n\r\nREST";
  long n = chunk_all(in, strlen(in), &out, &done);
  ASSERT_TRUE(done);
  ASSERT_EQ_INT(n, (long)strlen(in) - 4);
  ASSERT_EQ_STR(out.data, "hello world");
  buf_done(&out);
}

static void test_chunked_bytewise(void) {
  buf_t out;
  buf_init(&out, 1024);
  http_chunked_t c = {0};
  bool done = false;
  const char *in = "A\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n";
  for (size_t i = 0; i < strlen(in); i++) {
    ASSERT_FALSE(done);
    ASSERT_EQ_INT(http_chunked_decode(&c, in + i, 1, &out, &done), 1);
  }
  ASSERT_TRUE(done);
  ASSERT_EQ_STR(out.data, "0123456789!");
  buf_done(&out);
}

static void test_chunked_errors(void) {
  buf_t out;
  bool done;
  buf_init(&out, 8);
  ASSERT_EQ_INT(chunk_all("g\r\n", 3, &out, &done), -EINVAL);
  ASSERT_EQ_INT(chunk_all("\r\n", 2, &out, &done), -EINVAL);
  ASSERT_EQ_INT(chunk_all("3\r\nabcX", 7, &out, &done), -EINVAL);
  ASSERT_EQ_INT(chunk_all("ffffffffffffffffff\r\n", 20, &out, &done), -EINVAL);
  ASSERT_EQ_INT(chunk_all("9\r\n123456789\r\n", 15, &out, &done), -E2BIG);
  buf_done(&out);
}

static void test_response_101(void) {
  http_response_t r;
  const char *s = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n"
                  "Connection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\nRAW";
  long n = http_parse_response(s, strlen(s), 65536, &r);
  ASSERT_EQ_INT(n, (long)strlen(s) - 3);
  ASSERT_EQ_INT(r.status, 101);
  ASSERT_EQ_INT(r.minor_version, 1);
  ASSERT_EQ_INT(r.reason_len, strlen("Switching Protocols"));
  ASSERT_TRUE(!strncmp(r.reason, "Switching Protocols", r.reason_len));
  ASSERT_EQ_INT(r.n_headers, 3);
  const http_header_t *v = http_response_find(&r, "x-stream-protocol-version");
  ASSERT_NOT_NULL(v);
  ASSERT_EQ_INT(v->value_len, strlen("v4.channel.k8s.io"));
  ASSERT_NULL(http_response_find(&r, "Content-Length"));
}

static void test_response_incomplete_and_bare(void) {
  http_response_t r;
  const char *s = "HTTP/1.0 400\nContent-Length: 2\n\nno";
  size_t head = strlen(s) - 2;
  for (size_t i = 0; i < head; i++)
    ASSERT_EQ_INT(http_parse_response(s, i, 65536, &r), 0);
  ASSERT_EQ_INT(http_parse_response(s, strlen(s), 65536, &r), (long)head);
  ASSERT_EQ_INT(r.status, 400);
  ASSERT_EQ_INT(r.minor_version, 0);
  ASSERT_EQ_INT(r.reason_len, 0);
}

static void test_response_errors(void) {
  http_response_t r;
  static const char *const bad[] = {
      "HTTP/1.1 20 OK\r\n\r\n",     "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
      "HTTP/1.1 099 Low\r\n\r\n",    "HTTP/1.1200 OK\r\n\r\n",   "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ASSERT_EQ_INT(http_parse_response(bad[i], strlen(bad[i]), 65536, &r), -EINVAL);
  const char *v2 = "HTTP/2.0 200 OK\r\n\r\n";
  ASSERT_EQ_INT(http_parse_response(v2, strlen(v2), 65536, &r), -EPROTONOSUPPORT);
  const char *big = "HTTP/1.1 200 OK\r\nX: 0123456789012345678901234567890123456789\r\n\r\n";
  ASSERT_EQ_INT(http_parse_response(big, strlen(big), 32, &r), -EMSGSIZE);
  ASSERT_EQ_INT(http_parse_response(big, 20, 16, &r), -EMSGSIZE); /* no end in sight */
}

TEST_LIST = {
    TEST(test_response_101), TEST(test_response_incomplete_and_bare), TEST(test_response_errors),
    TEST(test_simple_get),     TEST(test_incomplete_then_complete), TEST(test_bare_lf_and_leading_crlf),
    TEST(test_too_large),      TEST(test_malformed),                TEST(test_too_many_headers),
    TEST(test_chunked_basic),  TEST(test_chunked_bytewise),         TEST(test_chunked_errors),
    {0},
};
TEST_MAIN()
