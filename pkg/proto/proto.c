/* pkg/proto: the Protocol Buffers wire format (proto.h), as
 * https://protobuf.dev/programming-guides/encoding/ describes it: varints,
 * zigzag, fixed32/64, length-delimited fields, packed repeats, groups
 * (skipped as opaque bodies), map entries. */
#include "proto/proto.h"

#include <errno.h>
#include <string.h>

void proto_reader_init(proto_reader_t *r, const void *data, size_t len) {
  r->p = data;
  r->end = r->p + len;
  r->depth = 0;
}

int proto_varint_read(const uint8_t **pp, const uint8_t *end, uint64_t *ret_v) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (p >= end)
      return -EBADMSG;
    uint8_t b = *p++;
    /* The tenth byte holds bit 63 only. */
    if (i == 9 && b > 1)
      return -EBADMSG;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *pp = p;
      *ret_v = v;
      return 0;
    }
  }
  return -EBADMSG;
}

static int read_tag(const uint8_t **p, const uint8_t *end, uint32_t *ret_num, int *ret_wt) {
  uint64_t tag;
  if (proto_varint_read(p, end, &tag) < 0)
    return -EBADMSG;
  uint64_t num = tag >> 3;
  if (num == 0 || num > PROTO_FIELD_MAX)
    return -EBADMSG;
  *ret_num = (uint32_t)num;
  *ret_wt = (int)(tag & 7);
  return 0;
}

/* Skip one value of wire type wt at *p. For a group, *p ends after its
 * end-group tag and *ret_body_end points at that tag. */
static int skip_value(const uint8_t **p, const uint8_t *end, uint32_t num, int wt, int depth,
                      const uint8_t **ret_body_end) {
  uint64_t v;
  switch (wt) {
  case PROTO_VARINT:
    return proto_varint_read(p, end, &v);
  case PROTO_I64:
    if (end - *p < 8)
      return -EBADMSG;
    *p += 8;
    return 0;
  case PROTO_I32:
    if (end - *p < 4)
      return -EBADMSG;
    *p += 4;
    return 0;
  case PROTO_LEN:
    if (proto_varint_read(p, end, &v) < 0 || v > (uint64_t)(end - *p))
      return -EBADMSG;
    *p += v;
    return 0;
  case PROTO_SGROUP:
    if (depth >= PROTO_DEPTH_MAX)
      return -ELOOP;
    for (;;) {
      const uint8_t *at = *p;
      uint32_t n;
      int w, r;
      if (*p >= end)
        return -EBADMSG; /* no end-group */
      if (read_tag(p, end, &n, &w) < 0)
        return -EBADMSG;
      if (w == PROTO_EGROUP) {
        if (n != num)
          return -EBADMSG;
        if (ret_body_end)
          *ret_body_end = at;
        return 0;
      }
      if ((r = skip_value(p, end, n, w, depth + 1, NULL)) < 0)
        return r;
    }
  default: /* a stray end-group, or wire types 6 and 7 */
    return -EBADMSG;
  }
}

int proto_reader_next(proto_reader_t *r, proto_field_t *ret_f) {
  if (r->p >= r->end)
    return 0;
  uint32_t num;
  int wt, rc;
  if (read_tag(&r->p, r->end, &num, &wt) < 0)
    return -EBADMSG;
  proto_field_t f = {.num = num, .wt = (proto_wire_t)wt};
  const uint8_t *start = r->p;
  switch (wt) {
  case PROTO_VARINT:
    if (proto_varint_read(&r->p, r->end, &f.v) < 0)
      return -EBADMSG;
    break;
  case PROTO_I64:
    if (r->end - r->p < 8)
      return -EBADMSG;
    memcpy(&f.v, r->p, 8);
    r->p += 8;
    break;
  case PROTO_I32: {
    uint32_t v32;
    if (r->end - r->p < 4)
      return -EBADMSG;
    memcpy(&v32, r->p, 4);
    f.v = v32;
    r->p += 4;
    break;
  }
  case PROTO_LEN:
    if (proto_varint_read(&r->p, r->end, &f.v) < 0 || f.v > (uint64_t)(r->end - r->p))
      return -EBADMSG;
    f.data = r->p;
    f.len = (size_t)f.v;
    r->p += f.len;
    break;
  case PROTO_SGROUP: {
    const uint8_t *body_end = NULL;
    if ((rc = skip_value(&r->p, r->end, num, wt, r->depth, &body_end)) < 0)
      return rc;
    f.data = start;
    f.len = (size_t)(body_end - start);
    f.v = f.len;
    break;
  }
  default:
    return -EBADMSG;
  }
  *ret_f = f;
  return 1;
}

int proto_reader_sub(const proto_reader_t *r, const proto_field_t *f, proto_reader_t *ret_sub) {
  if (f->wt != PROTO_LEN)
    return -EBADMSG;
  if (r->depth >= PROTO_DEPTH_MAX)
    return -ELOOP;
  ret_sub->p = f->data;
  ret_sub->end = f->data + f->len;
  ret_sub->depth = r->depth + 1;
  return 0;
}

int proto_packed_next(proto_reader_t *r, proto_wire_t wt, uint64_t *ret_v) {
  if (r->p >= r->end)
    return 0;
  switch (wt) {
  case PROTO_VARINT:
    return proto_varint_read(&r->p, r->end, ret_v) < 0 ? -EBADMSG : 1;
  case PROTO_I64:
    if (r->end - r->p < 8)
      return -EBADMSG;
    memcpy(ret_v, r->p, 8);
    r->p += 8;
    return 1;
  case PROTO_I32: {
    uint32_t v32;
    if (r->end - r->p < 4)
      return -EBADMSG;
    memcpy(&v32, r->p, 4);
    r->p += 4;
    *ret_v = v32;
    return 1;
  }
  default:
    return -EBADMSG;
  }
}

int proto_map_entry_str(const proto_reader_t *r, const proto_field_t *f, const char **ret_key,
                        size_t *ret_klen, const char **ret_val, size_t *ret_vlen) {
  proto_reader_t e;
  proto_field_t g;
  int rc;
  const char *k = "", *v = "";
  size_t kl = 0, vl = 0;
  if ((rc = proto_reader_sub(r, f, &e)) < 0)
    return rc;
  while ((rc = proto_reader_next(&e, &g)) > 0) {
    if (g.num != 1 && g.num != 2)
      continue;
    if (g.wt != PROTO_LEN)
      return -EBADMSG;
    if (g.num == 1)
      k = (const char *)g.data, kl = g.len;
    else
      v = (const char *)g.data, vl = g.len;
  }
  if (rc < 0)
    return rc;
  *ret_key = k;
  *ret_klen = kl;
  *ret_val = v;
  *ret_vlen = vl;
  return 0;
}

/* --- writer --- */

void proto_writer_init(proto_writer_t *w, size_t limit) {
  buf_init(&w->buf, limit);
  w->err = 0;
}

void proto_writer_done(proto_writer_t *w) {
  if (!w)
    return;
  buf_done(&w->buf);
}

int proto_writer_error(const proto_writer_t *w) { return w->err; }

size_t proto_varint_encode(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

static void put_raw(proto_writer_t *w, const void *p, size_t n) {
  if (w->err)
    return;
  int r = buf_append(&w->buf, p, n);
  if (r < 0)
    w->err = r;
}

/* Tag and, for PROTO_LEN, the length, into h (20 bytes). Returns its length. */
static size_t field_head(uint8_t *h, uint32_t num, proto_wire_t wt, uint64_t len) {
  size_t n = proto_varint_encode(h, (uint64_t)num << 3 | wt);
  if (wt == PROTO_LEN)
    n += proto_varint_encode(h + n, len);
  return n;
}

/* Append a head and a payload whole or not at all, so a failed field
 * leaves no partial bytes behind. */
static void put_field(proto_writer_t *w, const uint8_t *h, size_t hn, const void *p, size_t n) {
  if (w->err)
    return;
  if (hn + n < hn || hn + n > w->buf.limit - w->buf.len) {
    w->err = -E2BIG;
    return;
  }
  put_raw(w, h, hn);
  put_raw(w, p, n);
}

void proto_put_varint(proto_writer_t *w, uint32_t num, uint64_t v) {
  uint8_t h[20], b[10];
  size_t hn = field_head(h, num, PROTO_VARINT, 0);
  put_field(w, h, hn, b, proto_varint_encode(b, v));
}

void proto_put_int64(proto_writer_t *w, uint32_t num, int64_t v) {
  proto_put_varint(w, num, (uint64_t)v);
}

void proto_put_sint64(proto_writer_t *w, uint32_t num, int64_t v) {
  proto_put_varint(w, num, proto_zigzag_encode(v));
}

void proto_put_bool(proto_writer_t *w, uint32_t num, bool v) { proto_put_varint(w, num, v ? 1 : 0); }

void proto_put_fixed32(proto_writer_t *w, uint32_t num, uint32_t v) {
  uint8_t h[20];
  put_field(w, h, field_head(h, num, PROTO_I32, 0), &v, 4);
}

void proto_put_fixed64(proto_writer_t *w, uint32_t num, uint64_t v) {
  uint8_t h[20];
  put_field(w, h, field_head(h, num, PROTO_I64, 0), &v, 8);
}

void proto_put_bytes(proto_writer_t *w, uint32_t num, const void *data, size_t len) {
  uint8_t h[20];
  put_field(w, h, field_head(h, num, PROTO_LEN, len), data, len);
}

void proto_put_string(proto_writer_t *w, uint32_t num, const char *s) {
  if (s)
    proto_put_bytes(w, num, s, strlen(s));
}

void proto_put_packed_varint(proto_writer_t *w, uint32_t num, const uint64_t *v, size_t n) {
  if (!n)
    return;
  size_t mark = proto_msg_begin(w, num);
  for (size_t i = 0; i < n; i++) {
    uint8_t b[10];
    put_raw(w, b, proto_varint_encode(b, v[i]));
  }
  proto_msg_end(w, mark);
}

void proto_put_map_str(proto_writer_t *w, uint32_t num, const char *key, const char *val) {
  size_t mark = proto_msg_begin(w, num);
  proto_put_string(w, 1, key ? key : "");
  proto_put_string(w, 2, val ? val : "");
  proto_msg_end(w, mark);
}

/* The length is reserved as 5 bytes (enough for any message below 32 GiB)
 * and the body moved down once its real length is known. */
#define LEN_ROOM 5

size_t proto_msg_begin(proto_writer_t *w, uint32_t num) {
  static const uint8_t room[LEN_ROOM];
  uint8_t h[20];
  size_t hn = proto_varint_encode(h, (uint64_t)num << 3 | PROTO_LEN);
  put_field(w, h, hn, room, LEN_ROOM);
  return w->buf.len - LEN_ROOM;
}

void proto_msg_end(proto_writer_t *w, size_t mark) {
  if (w->err)
    return;
  uint8_t *base = (uint8_t *)w->buf.data + mark;
  size_t body = w->buf.len - mark - LEN_ROOM;
  uint8_t b[10];
  size_t n = proto_varint_encode(b, body);
  if (n > LEN_ROOM) {
    w->err = -E2BIG;
    return;
  }
  memmove(base + n, base + LEN_ROOM, body);
  memcpy(base, b, n);
  w->buf.len -= LEN_ROOM - n;
  w->buf.data[w->buf.len] = '\0';
}
