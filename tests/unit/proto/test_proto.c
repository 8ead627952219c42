/* Unit tests for pkg/proto: the protobuf wire codec, including malformed
 * input (truncated varints, lengths past the end, nesting depth). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"
#include "test.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Read the only field of buf; returns proto_reader_next's code. */
static int one_field(const uint8_t *buf, size_t n, proto_field_t *f) {
  proto_reader_t r;
  proto_reader_init(&r, buf, n);
  return proto_reader_next(&r, f);
}

static void test_varint_roundtrip(void) {
  static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX,
                                  (uint64_t)1 << 63, UINT64_MAX};
  static const size_t lens[] = {1, 1, 1, 2, 2, 2, 3, 5, 10, 10};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    uint8_t b[10];
    size_t n = proto_varint_encode(b, vals[i]);
    ASSERT_EQ_INT(n, lens[i]);
    const uint8_t *p = b;
    uint64_t v = 0;
    ASSERT_EQ_INT(proto_varint_read(&p, b + n, &v), 0);
    ASSERT_TRUE(v == vals[i]);
    ASSERT_TRUE(p == b + n);
  }
  /* 300 is ac 02 on the wire (the encoding guide's example) */
  uint8_t b[10];
  ASSERT_EQ_INT(proto_varint_encode(b, 300), 2);
  ASSERT_EQ_INT(b[0], 0xac);
  ASSERT_EQ_INT(b[1], 0x02);
}

static void test_varint_malformed(void) {
  uint64_t v = 7;
  /* truncated: continuation bit on the last byte */
  const uint8_t t[] = {0x80, 0x80};
  const uint8_t *p = t;
  ASSERT_EQ_INT(proto_varint_read(&p, t + 2, &v), -EBADMSG);
  ASSERT_EQ_INT(v, 7); /* untouched on failure */
  ASSERT_TRUE(p == t);
  /* empty input */
  p = t;
  ASSERT_EQ_INT(proto_varint_read(&p, t, &v), -EBADMSG);
  /* eleven bytes */
  const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  p = eleven;
  ASSERT_EQ_INT(proto_varint_read(&p, eleven + sizeof eleven, &v), -EBADMSG);
  /* ten bytes whose last carries more than bit 63 */
  const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  p = over;
  ASSERT_EQ_INT(proto_varint_read(&p, over + sizeof over, &v), -EBADMSG);
  /* a field whose value varint is cut */
  proto_field_t f;
  ASSERT_EQ_INT(one_field(BYTES(0x08, 0x96), &f), -EBADMSG);
  /* a tag varint cut */
  ASSERT_EQ_INT(one_field(BYTES(0x88), &f), -EBADMSG);
}

static void test_zigzag(void) {
  ASSERT_TRUE(proto_zigzag_encode(0) == 0);
  ASSERT_TRUE(proto_zigzag_encode(-1) == 1);
  ASSERT_TRUE(proto_zigzag_encode(1) == 2);
  ASSERT_TRUE(proto_zigzag_encode(-2) == 3);
  ASSERT_TRUE(proto_zigzag_encode(INT64_MAX) == UINT64_MAX - 1);
  ASSERT_TRUE(proto_zigzag_encode(INT64_MIN) == UINT64_MAX);
  static const int64_t vals[] = {0, -1, 1, -64, 63, 2147483647, -2147483648LL, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
    ASSERT_TRUE(proto_zigzag_decode(proto_zigzag_encode(vals[i])) == vals[i]);
}

static void test_writer_scalars(void) {
  proto_writer_t w;
  proto_writer_init(&w, 1024);
  proto_put_varint(&w, 1, 150);
  proto_put_int64(&w, 2, -1);
  proto_put_sint64(&w, 3, -2);
  proto_put_bool(&w, 4, true);
  proto_put_fixed32(&w, 5, 0x01020304);
  proto_put_fixed64(&w, 6, 0x0102030405060708ULL);
  proto_put_string(&w, 7, "testing");
  proto_put_string(&w, 8, NULL); /* nothing */
  proto_put_bytes(&w, 9, "", 0);
  ASSERT_EQ_INT(proto_writer_error(&w), 0);
  /* field 1 = 150 is 08 96 01 (the encoding guide's example) */
  ASSERT_EQ_INT(proto_writer_data(&w)[0], 0x08);
  ASSERT_EQ_INT(proto_writer_data(&w)[1], 0x96);
  ASSERT_EQ_INT(proto_writer_data(&w)[2], 0x01);

  proto_reader_t r;
  proto_field_t f;
  proto_reader_init(&r, proto_writer_data(&w), proto_writer_len(&w));
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 1);
  ASSERT_EQ_INT(f.wt, PROTO_VARINT);
  ASSERT_EQ_INT(f.v, 150);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 2);
  ASSERT_EQ_INT((int64_t)f.v, -1); /* negative int64: ten bytes */
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_zigzag_decode(f.v), -2);
  ASSERT_EQ_INT(f.v, 3);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.v, 1);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.wt, PROTO_I32);
  ASSERT_EQ_INT(f.v, 0x01020304);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.wt, PROTO_I64);
  ASSERT_TRUE(f.v == 0x0102030405060708ULL);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 7);
  ASSERT_EQ_INT(f.wt, PROTO_LEN);
  ASSERT_EQ_INT(f.len, 7);
  ASSERT_TRUE(memcmp(f.data, "testing", 7) == 0);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 9);
  ASSERT_EQ_INT(f.len, 0);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 0);
  proto_writer_done(&w);
}

static void test_nested_messages(void) {
  proto_writer_t w;
  proto_writer_init(&w, 1 << 20);
  size_t outer = proto_msg_begin(&w, 1);
  proto_put_string(&w, 1, "a");
  size_t inner = proto_msg_begin(&w, 2);
  char big[300];
  memset(big, 'x', sizeof big);
  proto_put_bytes(&w, 1, big, sizeof big); /* inner body > 127: two-byte length */
  proto_msg_end(&w, inner);
  size_t empty = proto_msg_begin(&w, 3); /* an empty message is 1a 00 */
  proto_msg_end(&w, empty);
  proto_msg_end(&w, outer);
  proto_put_varint(&w, 2, 5);
  ASSERT_EQ_INT(proto_writer_error(&w), 0);
  /* outer = tag(1) + len(2 bytes) + "a" field(3) + inner tag(1) + len(2) + 1 + 2 + 300 + 2 */
  ASSERT_EQ_INT(proto_writer_len(&w), 1 + 2 + 3 + 1 + 2 + 1 + 2 + 300 + 2 + 2);

  proto_reader_t r, o, in;
  proto_field_t f, g, h;
  proto_reader_init(&r, proto_writer_data(&w), proto_writer_len(&w));
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 1);
  ASSERT_EQ_INT(proto_reader_sub(&r, &f, &o), 0);
  ASSERT_EQ_INT(o.depth, 1);
  ASSERT_EQ_INT(proto_reader_next(&o, &g), 1);
  ASSERT_EQ_INT(g.len, 1);
  ASSERT_EQ_INT(proto_reader_next(&o, &g), 1);
  ASSERT_EQ_INT(g.num, 2);
  ASSERT_EQ_INT(proto_reader_sub(&o, &g, &in), 0);
  ASSERT_EQ_INT(proto_reader_next(&in, &h), 1);
  ASSERT_EQ_INT(h.len, 300);
  ASSERT_EQ_INT(proto_reader_next(&in, &h), 0);
  ASSERT_EQ_INT(proto_reader_next(&o, &g), 1);
  ASSERT_EQ_INT(g.num, 3);
  ASSERT_EQ_INT(g.len, 0);
  ASSERT_EQ_INT(proto_reader_next(&o, &g), 0);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.v, 5);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 0);
  /* a varint is not a message */
  ASSERT_EQ_INT(proto_reader_sub(&r, &f, &o), -EBADMSG);
  proto_writer_done(&w);
}

static void test_length_past_end(void) {
  proto_field_t f;
  /* field 1, LEN 5, only 3 bytes follow */
  ASSERT_EQ_INT(one_field(BYTES(0x0a, 0x05, 'a', 'b', 'c'), &f), -EBADMSG);
  /* a length varint so large it wraps pointer arithmetic */
  ASSERT_EQ_INT(one_field(BYTES(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
                          &f),
                -EBADMSG);
  /* fixed64 and fixed32 cut short */
  ASSERT_EQ_INT(one_field(BYTES(0x09, 1, 2, 3, 4, 5, 6, 7), &f), -EBADMSG);
  ASSERT_EQ_INT(one_field(BYTES(0x0d, 1, 2, 3), &f), -EBADMSG);
  /* exactly enough is fine */
  ASSERT_EQ_INT(one_field(BYTES(0x0a, 0x03, 'a', 'b', 'c'), &f), 1);
  ASSERT_EQ_INT(f.len, 3);
}

static void test_bad_tags(void) {
  proto_field_t f;
  ASSERT_EQ_INT(one_field(BYTES(0x00, 0x01), &f), -EBADMSG); /* field number 0 */
  ASSERT_EQ_INT(one_field(BYTES(0x0e, 0x01), &f), -EBADMSG); /* wire type 6 */
  ASSERT_EQ_INT(one_field(BYTES(0x0f, 0x01), &f), -EBADMSG); /* wire type 7 */
  ASSERT_EQ_INT(one_field(BYTES(0x0c), &f), -EBADMSG);       /* stray end-group */
  /* field number 2^29 is one past the maximum */
  uint8_t b[10];
  size_t n = proto_varint_encode(b, (uint64_t)(PROTO_FIELD_MAX + 1u) << 3);
  ASSERT_EQ_INT(one_field(b, n, &f), -EBADMSG);
  n = proto_varint_encode(b, (uint64_t)PROTO_FIELD_MAX << 3);
  b[n++] = 0;
  ASSERT_EQ_INT(one_field(b, n, &f), 1);
  ASSERT_EQ_INT(f.num, PROTO_FIELD_MAX);
}

static void test_groups_skipped(void) {
  /* field 1 group { field 2 = 1, field 3 group { field 4 LEN "x" } } then field 5 = 9 */
  const uint8_t msg[] = {0x0b, 0x10, 0x01, 0x1b, 0x22, 0x01, 'x', 0x1c, 0x0c, 0x28, 0x09};
  proto_reader_t r;
  proto_field_t f;
  proto_reader_init(&r, msg, sizeof msg);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 1);
  ASSERT_EQ_INT(f.wt, PROTO_SGROUP);
  ASSERT_EQ_INT(f.len, 7); /* body without the end-group tag */
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(f.num, 5);
  ASSERT_EQ_INT(f.v, 9);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 0);

  /* mismatched end-group number */
  ASSERT_EQ_INT(one_field(BYTES(0x0b, 0x14), &f), -EBADMSG);
  /* unterminated group */
  ASSERT_EQ_INT(one_field(BYTES(0x0b, 0x10, 0x01), &f), -EBADMSG);
}

static void test_depth_limits(void) {
  /* groups nested one past the limit */
  uint8_t deep[2 * (PROTO_DEPTH_MAX + 2)];
  size_t n = 0;
  for (int i = 0; i <= PROTO_DEPTH_MAX; i++)
    deep[n++] = 0x0b;
  for (int i = 0; i <= PROTO_DEPTH_MAX; i++)
    deep[n++] = 0x0c;
  proto_field_t f;
  ASSERT_EQ_INT(one_field(deep, n, &f), -ELOOP);
  /* at the limit it is fine */
  n = 0;
  for (int i = 0; i < PROTO_DEPTH_MAX; i++)
    deep[n++] = 0x0b;
  for (int i = 0; i < PROTO_DEPTH_MAX; i++)
    deep[n++] = 0x0c;
  ASSERT_EQ_INT(one_field(deep, n, &f), 1);

  /* sub-messages: a reader at the maximum depth refuses to go deeper */
  proto_reader_t r, s;
  proto_field_t g = {.num = 1, .wt = PROTO_LEN, .data = (const uint8_t *)"", .len = 0};
  proto_reader_init(&r, "", 0);
  for (int i = 0; i < PROTO_DEPTH_MAX; i++) {
    ASSERT_EQ_INT(proto_reader_sub(&r, &g, &s), 0);
    r = s;
  }
  ASSERT_EQ_INT(r.depth, PROTO_DEPTH_MAX);
  ASSERT_EQ_INT(proto_reader_sub(&r, &g, &s), -ELOOP);
}

static void test_packed(void) {
  proto_writer_t w;
  proto_writer_init(&w, 256);
  const uint64_t v[] = {3, 270, 86942};
  proto_put_packed_varint(&w, 4, v, 3);
  proto_put_packed_varint(&w, 5, v, 0); /* nothing */
  ASSERT_EQ_INT(proto_writer_error(&w), 0);
  /* the encoding guide's example: 22 06 03 8e 02 9e a7 05 */
  static const uint8_t want[] = {0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05};
  ASSERT_EQ_INT(proto_writer_len(&w), sizeof want);
  ASSERT_TRUE(memcmp(proto_writer_data(&w), want, sizeof want) == 0);

  proto_reader_t r, p;
  proto_field_t f;
  uint64_t x;
  proto_reader_init(&r, proto_writer_data(&w), proto_writer_len(&w));
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_reader_sub(&r, &f, &p), 0);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ_INT(proto_packed_next(&p, PROTO_VARINT, &x), 1);
    ASSERT_TRUE(x == v[i]);
  }
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_VARINT, &x), 0);
  proto_writer_done(&w);

  /* packed fixed32 with a cut element */
  proto_reader_init(&r, (const uint8_t[]){0x2a, 0x06, 1, 0, 0, 0, 2, 0}, 8);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_reader_sub(&r, &f, &p), 0);
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_I32, &x), 1);
  ASSERT_EQ_INT(x, 1);
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_I32, &x), -EBADMSG);
  /* packed varints with a cut element */
  proto_reader_init(&r, (const uint8_t[]){0x22, 0x02, 0x01, 0x80}, 4);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_reader_sub(&r, &f, &p), 0);
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_VARINT, &x), 1);
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_VARINT, &x), -EBADMSG);
  /* packed fixed64 */
  uint8_t f64[] = {0x2a, 0x08, 8, 7, 6, 5, 4, 3, 2, 1};
  proto_reader_init(&r, f64, sizeof f64);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_reader_sub(&r, &f, &p), 0);
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_I64, &x), 1);
  ASSERT_TRUE(x == 0x0102030405060708ULL);
  ASSERT_EQ_INT(proto_packed_next(&p, PROTO_I64, &x), 0);
}

static void test_map_entries(void) {
  proto_writer_t w;
  proto_writer_init(&w, 256);
  proto_put_map_str(&w, 6, "app", "web");
  proto_put_map_str(&w, 6, "empty", "");
  /* an entry with an unknown field and no value: value is "" */
  size_t m = proto_msg_begin(&w, 6);
  proto_put_varint(&w, 9, 1);
  proto_put_string(&w, 1, "k");
  proto_msg_end(&w, m);
  ASSERT_EQ_INT(proto_writer_error(&w), 0);

  proto_reader_t r;
  proto_field_t f;
  const char *k, *v;
  size_t kl, vl;
  proto_reader_init(&r, proto_writer_data(&w), proto_writer_len(&w));
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_map_entry_str(&r, &f, &k, &kl, &v, &vl), 0);
  ASSERT_TRUE(kl == 3 && !memcmp(k, "app", 3));
  ASSERT_TRUE(vl == 3 && !memcmp(v, "web", 3));
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_map_entry_str(&r, &f, &k, &kl, &v, &vl), 0);
  ASSERT_TRUE(kl == 5 && vl == 0);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_map_entry_str(&r, &f, &k, &kl, &v, &vl), 0);
  ASSERT_TRUE(kl == 1 && k[0] == 'k' && vl == 0);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 0);
  proto_writer_done(&w);

  /* a key that is a varint is malformed */
  proto_reader_init(&r, (const uint8_t[]){0x32, 0x02, 0x08, 0x01}, 4);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_map_entry_str(&r, &f, &k, &kl, &v, &vl), -EBADMSG);
  /* a truncated entry body */
  proto_reader_init(&r, (const uint8_t[]){0x32, 0x02, 0x0a, 0x05}, 4);
  ASSERT_EQ_INT(proto_reader_next(&r, &f), 1);
  ASSERT_EQ_INT(proto_map_entry_str(&r, &f, &k, &kl, &v, &vl), -EBADMSG);
}

static void test_unknown_fields_skipped(void) {
  /* fields 1 (varint), 99 (fixed64), 100 (LEN), 101 (fixed32), then 2 */
  proto_writer_t w;
  proto_writer_init(&w, 256);
  proto_put_varint(&w, 1, 1);
  proto_put_fixed64(&w, 99, 1);
  proto_put_string(&w, 100, "skip me");
  proto_put_fixed32(&w, 101, 1);
  proto_put_string(&w, 2, "kept");
  proto_reader_t r;
  proto_field_t f;
  const char *kept = NULL;
  int seen = 0, rc;
  proto_reader_init(&r, proto_writer_data(&w), proto_writer_len(&w));
  while ((rc = proto_reader_next(&r, &f)) > 0) {
    seen++;
    if (f.num == 2)
      kept = (const char *)f.data;
  }
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT(seen, 5);
  ASSERT_TRUE(kept && !memcmp(kept, "kept", 4));
  proto_writer_done(&w);
}

static void test_writer_limit(void) {
  proto_writer_t w;
  proto_writer_init(&w, 8);
  proto_put_string(&w, 1, "abc"); /* 5 bytes */
  ASSERT_EQ_INT(proto_writer_error(&w), 0);
  proto_put_string(&w, 2, "defg"); /* 6 more: over */
  ASSERT_EQ_INT(proto_writer_error(&w), -E2BIG);
  ASSERT_EQ_INT(proto_writer_len(&w), 5);
  proto_put_varint(&w, 3, 1); /* sticky: nothing more is written */
  ASSERT_EQ_INT(proto_writer_len(&w), 5);
  ASSERT_EQ_INT(proto_writer_error(&w), -E2BIG);
  proto_writer_done(&w);
  proto_writer_done(&w); /* twice is fine */

  /* the reserved length of a nested message counts against the limit too */
  proto_writer_init(&w, 4);
  size_t m = proto_msg_begin(&w, 1);
  proto_msg_end(&w, m);
  ASSERT_EQ_INT(proto_writer_error(&w), -E2BIG);
  proto_writer_done(&w);
}

TEST_LIST = {
    TEST(test_varint_roundtrip),
    TEST(test_varint_malformed),
    TEST(test_zigzag),
    TEST(test_writer_scalars),
    TEST(test_nested_messages),
    TEST(test_length_past_end),
    TEST(test_bad_tags),
    TEST(test_groups_skipped),
    TEST(test_depth_limits),
    TEST(test_packed),
    TEST(test_map_entries),
    TEST(test_unknown_fields_skipped),
    TEST(test_writer_limit),
    {0},
};
TEST_MAIN()
