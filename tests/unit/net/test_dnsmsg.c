/* pkg/net/dnsmsg.c: queries and answers round trip, names compress, big
 * answers truncate with TC, and hostile packets (loops, forward pointers,
 * long names, short buffers) are refused without reading out of bounds. */
#include <errno.h>

#include "net/dnsmsg.h"
#include "test.h"

static size_t make_query(uint8_t *buf, size_t cap, const char *name, uint16_t type, bool edns,
                         uint16_t size) {
  dns_writer_t w;
  dns_writer_init(&w, buf, cap);
  ASSERT_EQ_INT(dns_writer_header(&w, 0x1234, DNS_FLAG_RD), 0);
  ASSERT_EQ_INT(dns_writer_question(&w, name, type, DNS_CLASS_IN), 0);
  if (edns)
    ASSERT_EQ_INT(dns_writer_opt(&w, size), 0);
  return dns_writer_finish(&w, true);
}

static void test_query_round_trip(void) {
  uint8_t buf[512];
  size_t n = make_query(buf, sizeof(buf), "Web.Default.svc.cluster.local", DNS_TYPE_A, true, 4096);
  dns_query_t q;
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), 0);
  ASSERT_EQ_INT(q.h.id, 0x1234);
  ASSERT_EQ_INT(q.h.flags, DNS_FLAG_RD);
  ASSERT_EQ_STR(q.qname, "Web.Default.svc.cluster.local");
  ASSERT_EQ_INT(q.qtype, DNS_TYPE_A);
  ASSERT_EQ_INT(q.qclass, DNS_CLASS_IN);
  ASSERT_TRUE(q.edns);
  ASSERT_EQ_INT(q.udp_size, 4096);
  ASSERT_EQ_INT(q.question_end, n - DNS_OPT_LEN);
  /* without EDNS the size is 512; a tiny advertised size counts as 512 */
  n = make_query(buf, sizeof(buf), "a.b", DNS_TYPE_AAAA, false, 0);
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), 0);
  ASSERT_FALSE(q.edns);
  ASSERT_EQ_INT(q.udp_size, 512);
  n = make_query(buf, sizeof(buf), "a.b", DNS_TYPE_AAAA, true, 100);
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), 0);
  ASSERT_EQ_INT(q.udp_size, 512);
  /* the root name */
  n = make_query(buf, sizeof(buf), "", DNS_TYPE_NS, false, 0);
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), 0);
  ASSERT_EQ_STR(q.qname, "");
  ASSERT_TRUE(dns_name_equal("WEB.x", "web.X"));
  ASSERT_FALSE(dns_name_equal("web.x", "web.y"));
}

typedef struct {
  int n;
  dns_rr_t rr[16];
} rrs_t;
static int collect(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  (void)p;
  (void)n;
  rrs_t *r = data;
  if (r->n < 16)
    r->rr[r->n++] = *rr;
  return 0;
}

static void test_answers_and_compression(void) {
  uint8_t buf[1024], q[512];
  size_t qn = make_query(q, sizeof(q), "web.default.svc.cluster.local", DNS_TYPE_SRV, false, 0);
  dns_query_t dq;
  ASSERT_EQ_INT(dns_query_parse(q, qn, &dq), 0);
  dns_writer_t w;
  dns_writer_init(&w, buf, sizeof(buf));
  dns_writer_header(&w, 7, DNS_FLAG_QR | DNS_FLAG_AA);
  ASSERT_EQ_INT(dns_writer_question_raw(&w, q, dq.question_end), 0);
  size_t before = w.len;
  ASSERT_EQ_INT(dns_writer_srv(&w, DNS_SEC_ANSWER, "web.default.svc.cluster.local", 5, 0, 100,
                               80, "web.default.svc.cluster.local"),
                0);
  /* owner is a 2-byte pointer to the question; the SRV target is not compressed */
  ASSERT_EQ_INT(w.len - before, 2 + 10 + 6 + 31);
  before = w.len;
  uint8_t ip[4] = {10, 43, 0, 20};
  ASSERT_EQ_INT(dns_writer_a(&w, DNS_SEC_ADDITIONAL, "web.default.svc.cluster.local", 5, ip), 0);
  ASSERT_EQ_INT(w.len - before, 2 + 10 + 4);
  /* a name sharing a suffix: "pod" label + pointer */
  before = w.len;
  ASSERT_EQ_INT(dns_writer_a(&w, DNS_SEC_ADDITIONAL, "pod.svc.cluster.local", 5, ip), 0);
  ASSERT_EQ_INT(w.len - before, 4 + 2 + 10 + 4);
  /* sections go in order */
  ASSERT_EQ_INT(dns_writer_a(&w, DNS_SEC_ANSWER, "x", 5, ip), -EINVAL);
  size_t n = dns_writer_finish(&w, true);
  dns_header_t h;
  ASSERT_EQ_INT(dns_header_read(buf, n, &h), 0);
  ASSERT_EQ_INT(h.ancount, 1);
  ASSERT_EQ_INT(h.arcount, 2);
  ASSERT_EQ_INT(h.flags & DNS_FLAG_TC, 0);
  rrs_t r = {0};
  ASSERT_EQ_INT(dns_msg_walk(buf, n, collect, &r), 0);
  ASSERT_EQ_INT(r.n, 3);
  ASSERT_EQ_INT(r.rr[0].type, DNS_TYPE_SRV);
  ASSERT_EQ_INT(r.rr[0].ttl, 5);
  ASSERT_EQ_INT(r.rr[2].section, DNS_SEC_ADDITIONAL);
  char name[DNS_NAME_MAX];
  size_t off = r.rr[0].rdata_off + 6;
  ASSERT_EQ_INT(dns_name_read(buf, n, &off, name, sizeof(name), false), 0);
  ASSERT_EQ_STR(name, "web.default.svc.cluster.local");
  /* the owner of the third record reads back through its pointer */
  off = r.rr[1].rdata_off + 4;
  ASSERT_EQ_INT(dns_name_read(buf, n, &off, name, sizeof(name), true), 0);
  ASSERT_EQ_STR(name, "pod.svc.cluster.local");
  /* names that are not plain labels are refused */
  ASSERT_EQ_INT(dns_writer_a(&w, DNS_SEC_ADDITIONAL, "a..b", 5, ip), -EINVAL);
  char longlabel[80];
  memset(longlabel, 'x', 64);
  longlabel[64] = '\0';
  ASSERT_EQ_INT(dns_writer_a(&w, DNS_SEC_ADDITIONAL, longlabel, 5, ip), -EINVAL);
}

static void test_truncation(void) {
  uint8_t buf[600];
  dns_writer_t w;
  dns_writer_init(&w, buf, 512);
  w.reserve = DNS_OPT_LEN;
  dns_writer_header(&w, 1, DNS_FLAG_QR);
  ASSERT_EQ_INT(dns_writer_question(&w, "many.example", DNS_TYPE_A, DNS_CLASS_IN), 0);
  int written = 0, r = 0;
  for (int i = 0; i < 100 && r == 0; i++) {
    uint8_t ip[4] = {10, 0, 0, (uint8_t)i};
    r = dns_writer_a(&w, DNS_SEC_ANSWER, "many.example", 5, ip);
    if (r == 0)
      written++;
  }
  ASSERT_EQ_INT(r, -EMSGSIZE);
  ASSERT_TRUE(w.truncated);
  /* 12 + 18 question, 16 per record, 11 held for OPT */
  ASSERT_EQ_INT(written, (512 - 11 - 30) / 16);
  /* once truncated, answers stay refused; OPT still fits */
  uint8_t ip[4] = {1, 1, 1, 1};
  ASSERT_EQ_INT(dns_writer_a(&w, DNS_SEC_ANSWER, "x", 5, ip), -EMSGSIZE);
  ASSERT_EQ_INT(dns_writer_opt(&w, DNS_EDNS_SIZE), 0);
  size_t n = dns_writer_finish(&w, true);
  ASSERT_TRUE(n <= 512);
  dns_header_t h;
  dns_header_read(buf, n, &h);
  ASSERT_TRUE(h.flags & DNS_FLAG_TC);
  ASSERT_EQ_INT(h.ancount, written);
  dns_query_t q;
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), 0);
  ASSERT_TRUE(q.edns);
  ASSERT_EQ_INT(q.udp_size, DNS_EDNS_SIZE);
}

static void test_hostile_names(void) {
  char name[DNS_NAME_MAX];
  size_t off;
  /* a pointer to itself */
  uint8_t self[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 12};
  off = 12;
  ASSERT_EQ_INT(dns_name_read(self, sizeof(self), &off, name, sizeof(name), false), -EBADMSG);
  /* a forward pointer */
  uint8_t fwd[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 'a', 0};
  off = 12;
  ASSERT_EQ_INT(dns_name_read(fwd, sizeof(fwd), &off, name, sizeof(name), false), -EBADMSG);
  /* two pointers pointing at each other: the second is forward */
  uint8_t loop2[] = {0xc0, 2, 0xc0, 0};
  off = 2;
  ASSERT_EQ_INT(dns_name_read(loop2, sizeof(loop2), &off, name, sizeof(name), false), -EBADMSG);
  /* a label running past the end, a missing terminator */
  uint8_t past[] = {5, 'a', 'b'};
  off = 0;
  ASSERT_EQ_INT(dns_name_read(past, sizeof(past), &off, name, sizeof(name), false), -EBADMSG);
  uint8_t noend[] = {1, 'a'};
  off = 0;
  ASSERT_EQ_INT(dns_name_read(noend, sizeof(noend), &off, name, sizeof(name), false), -EBADMSG);
  /* extended label types */
  uint8_t ext[] = {0x41, 'a', 0};
  off = 0;
  ASSERT_EQ_INT(dns_name_read(ext, sizeof(ext), &off, name, sizeof(name), false), -EBADMSG);
  /* over 255 bytes: 5 labels of 63 */
  uint8_t big[5 * 64 + 1];
  for (int i = 0; i < 5; i++) {
    big[i * 64] = 63;
    memset(big + i * 64 + 1, 'x', 63);
  }
  big[5 * 64] = 0;
  off = 0;
  ASSERT_EQ_INT(dns_name_read(big, sizeof(big), &off, name, sizeof(name), false), -EBADMSG);
  /* exactly 255: 3 of 63 + one of 61 + root = 64*3 + 62 + 1 */
  big[3 * 64] = 61;
  big[3 * 64 + 62] = 0;
  off = 0;
  ASSERT_EQ_INT(dns_name_read(big, sizeof(big), &off, name, sizeof(name), false), 0);
  ASSERT_EQ_INT(off, 255);
  ASSERT_EQ_INT(strlen(name), 3 * 64 + 61);
  /* odd bytes are escaped, the output size is respected */
  uint8_t odd[] = {3, 'a', '.', 0xff, 0};
  off = 0;
  ASSERT_EQ_INT(dns_name_read(odd, sizeof(odd), &off, name, sizeof(name), false), 0);
  ASSERT_EQ_STR(name, "a\\046\\255");
  off = 0;
  ASSERT_EQ_INT(dns_name_read(odd, sizeof(odd), &off, name, 5, false), -ENOSPC);
}

static void test_hostile_messages(void) {
  uint8_t buf[512];
  size_t n = make_query(buf, sizeof(buf), "kubernetes.default.svc.cluster.local", DNS_TYPE_A,
                        true, 1232);
  dns_query_t q;
  /* every strict prefix is refused */
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ_INT(dns_query_parse(buf, i, &q), -EBADMSG);
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), 0);
  /* counts that promise more records than there are */
  buf[7] = 3; /* ancount */
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), -EBADMSG);
  ASSERT_EQ_INT(dns_msg_walk(buf, n, NULL, NULL), -EBADMSG);
  buf[7] = 0;
  /* qdcount 0 and 2 */
  buf[5] = 0;
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), -EBADMSG);
  buf[5] = 2;
  ASSERT_EQ_INT(dns_query_parse(buf, n, &q), -EBADMSG);
  buf[5] = 1;
  /* two OPT records */
  uint8_t two[600];
  memcpy(two, buf, n);
  memcpy(two + n, buf + n - DNS_OPT_LEN, DNS_OPT_LEN);
  two[11] = 2;
  ASSERT_EQ_INT(dns_query_parse(two, n + DNS_OPT_LEN, &q), -EBADMSG);
  /* an rdlength past the end */
  two[11] = 1;
  two[n - 1] = 0x20;
  ASSERT_EQ_INT(dns_query_parse(two, n, &q), -EBADMSG);
  /* header only */
  dns_header_t h;
  ASSERT_EQ_INT(dns_header_read(buf, 11, &h), -EBADMSG);
  /* pseudo-random garbage never reads past the end (ASan checks) */
  uint32_t x = 12345;
  for (int round = 0; round < 2000; round++) {
    uint8_t g[64];
    size_t len = (size_t)(round % 64);
    for (size_t i = 0; i < len; i++) {
      x = x * 1103515245u + 12345u;
      g[i] = (uint8_t)(x >> 16);
    }
    if (len > 5)
      g[4] = 0, g[5] = 1;
    dns_query_parse(g, len, &q);
    dns_msg_walk(g, len, NULL, NULL);
  }
}

static void test_small_buffers(void) {
  uint8_t buf[64];
  dns_writer_t w;
  dns_writer_init(&w, buf, 11);
  ASSERT_EQ_INT(dns_writer_header(&w, 1, 0), -EMSGSIZE);
  dns_writer_init(&w, buf, 20);
  ASSERT_EQ_INT(dns_writer_header(&w, 1, 0), 0);
  ASSERT_EQ_INT(dns_writer_question(&w, "toolong.example", DNS_TYPE_A, DNS_CLASS_IN), -EMSGSIZE);
  ASSERT_EQ_INT(w.len, 12);
  ASSERT_EQ_INT(dns_writer_txt(&w, DNS_SEC_ANSWER, "a", 5, "hello world"), -EMSGSIZE);
  ASSERT_EQ_INT(w.len, 12);
  ASSERT_TRUE(w.truncated);
  ASSERT_EQ_INT(dns_writer_finish(&w, true), 12);
  ASSERT_TRUE(buf[2] & 0x02);
}

TEST_LIST = {
    TEST(test_query_round_trip), TEST(test_answers_and_compression), TEST(test_truncation),
    TEST(test_hostile_names),    TEST(test_hostile_messages),        TEST(test_small_buffers),
    {0},
};
TEST_MAIN()
