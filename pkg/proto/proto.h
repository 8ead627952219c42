/* Protocol Buffers wire format: a reader over a byte range and a bounded
 * writer (https://protobuf.dev/programming-guides/encoding/).
 *
 * Wire format only: message definitions live with their users (pkg/cri
 * writes runtime.v1 and containerd's messages, pkg/api decodes Kubernetes
 * protobuf bodies). Pure code: no allocation on the read side, no I/O, any
 * thread. Integers are little-endian on the wire; k3c's targets (x86_64,
 * aarch64, armv7) are little-endian hosts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum {
  PROTO_VARINT = 0,
  PROTO_I64 = 1,
  PROTO_LEN = 2,
  PROTO_SGROUP = 3, /* returned with data/len = the group's body */
  PROTO_EGROUP = 4, /* never returned: a stray end-group is malformed */
  PROTO_I32 = 5,
} proto_wire_t;

/* Nesting allowed below a reader made with proto_reader_init (sub-messages
 * and groups); deeper input is refused with -ELOOP. */
#define PROTO_DEPTH_MAX 64
/* Largest field number protobuf allows (2^29 - 1). */
#define PROTO_FIELD_MAX 536870911u

typedef struct {
  const uint8_t *p, *end;
  int depth;
} proto_reader_t;

/* One field. For PROTO_VARINT v is the value; PROTO_I32/I64: v holds the
 * little-endian bits; PROTO_LEN and PROTO_SGROUP: data/len is the payload
 * (pointing into the reader's input) and v = len. */
typedef struct {
  uint32_t num;
  proto_wire_t wt;
  uint64_t v;
  const uint8_t *data;
  size_t len;
} proto_field_t;

/* Read the message in data[0..len). The reader does not copy: data must
 * outlive it and every field it returns. */
void proto_reader_init(proto_reader_t *r, const void *data, size_t len);

/* Next field. Returns 1 and fills *ret_f, 0 at the end of the input, or
 * -EBADMSG for malformed input (truncated varint or fixed value, a varint
 * longer than 10 bytes, field number 0 or above PROTO_FIELD_MAX, a length
 * past the end, a stray or mismatched end-group, wire types 6/7), -ELOOP for
 * groups nested deeper than PROTO_DEPTH_MAX. After an error the reader must
 * not be used again. Unknown fields are the caller's to skip: every field is
 * returned whole, so ignoring it skips it. */
int proto_reader_next(proto_reader_t *r, proto_field_t *ret_f);

/* A reader over the payload of f, one level deeper than r. Returns 0,
 * -EBADMSG when f is not PROTO_LEN, -ELOOP past PROTO_DEPTH_MAX. */
int proto_reader_sub(const proto_reader_t *r, const proto_field_t *f, proto_reader_t *ret_sub);

/* One varint from *p (before end), advancing *p. Returns 0 or -EBADMSG. */
int proto_varint_read(const uint8_t **p, const uint8_t *end, uint64_t *ret_v);

/* Next element of a packed repeated field whose payload r reads (made with
 * proto_reader_sub); wt is the elements' wire type (PROTO_VARINT, PROTO_I32
 * or PROTO_I64). Returns 1 with *ret_v, 0 at the end, -EBADMSG. */
int proto_packed_next(proto_reader_t *r, proto_wire_t wt, uint64_t *ret_v);

/* sint32/sint64 zigzag mapping. */
static inline uint64_t proto_zigzag_encode(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t proto_zigzag_decode(uint64_t v) {
  return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Map entries (map<K,V> is `repeated Entry { K key = 1; V value = 2; }`):
 * the key and value of a map<string,string> entry f, pointing into the
 * input, not NUL-terminated; a missing key or value is empty. Returns 0 or
 * -EBADMSG. */
int proto_map_entry_str(const proto_reader_t *r, const proto_field_t *f, const char **ret_key,
                        size_t *ret_klen, const char **ret_val, size_t *ret_vlen);

/* The writer appends to a buffer with a hard size limit. Errors are sticky:
 * the first failure (-E2BIG past the limit) is kept and later calls do
 * nothing, so a message is built without checks and judged once with
 * proto_writer_error. */
typedef struct {
  buf_t buf;
  int err;
} proto_writer_t;

void proto_writer_init(proto_writer_t *w, size_t limit);
void proto_writer_done(proto_writer_t *w); /* accepts a zeroed or done writer */
int proto_writer_error(const proto_writer_t *w);
static inline const uint8_t *proto_writer_data(const proto_writer_t *w) {
  return (const uint8_t *)w->buf.data;
}
static inline size_t proto_writer_len(const proto_writer_t *w) { return w->buf.len; }

/* Fields. Every call writes its field, zero values included (valid proto3,
 * just not minimal); callers skip defaults where they want to. String
 * helpers write nothing for a NULL string. */
void proto_put_varint(proto_writer_t *w, uint32_t num, uint64_t v);
void proto_put_int64(proto_writer_t *w, uint32_t num, int64_t v); /* int32/int64/enum */
void proto_put_sint64(proto_writer_t *w, uint32_t num, int64_t v); /* sint32/sint64 */
void proto_put_bool(proto_writer_t *w, uint32_t num, bool v);
void proto_put_fixed32(proto_writer_t *w, uint32_t num, uint32_t v);
void proto_put_fixed64(proto_writer_t *w, uint32_t num, uint64_t v);
void proto_put_bytes(proto_writer_t *w, uint32_t num, const void *data, size_t len);
void proto_put_string(proto_writer_t *w, uint32_t num, const char *s);
/* A packed repeated varint field (skipped when n == 0). */
void proto_put_packed_varint(proto_writer_t *w, uint32_t num, const uint64_t *v, size_t n);
/* One map<string,string> entry. */
void proto_put_map_str(proto_writer_t *w, uint32_t num, const char *key, const char *val);

/* A nested message: begin writes the tag and reserves room for the length,
 * end writes the length of what was put in between. Nest freely; pass the
 * mark begin returned to the matching end. */
size_t proto_msg_begin(proto_writer_t *w, uint32_t num);
void proto_msg_end(proto_writer_t *w, size_t mark);

/* Encode v as a varint into out (at least 10 bytes). Returns its length. */
size_t proto_varint_encode(uint8_t *out, uint64_t v);
