/* DNS message reading and writing: RFC 1035 section 4 (header, question,
 * resource records, name compression 4.1.4) and RFC 6891 (EDNS0 OPT).
 * Readers never trust a length or pointer they have not checked. */
#include "net/dnsmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NAME_WIRE_MAX 255
#define MAX_HOPS 128

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

int dns_header_read(const uint8_t *p, size_t n, dns_header_t *ret) {
  if (n < DNS_HEADER_LEN)
    return -EBADMSG;
  ret->id = get16(p);
  ret->flags = get16(p + 2);
  ret->qdcount = get16(p + 4);
  ret->ancount = get16(p + 6);
  ret->nscount = get16(p + 8);
  ret->arcount = get16(p + 10);
  return 0;
}

static bool plain(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

int dns_name_read(const uint8_t *p, size_t n, size_t *off, char *out, size_t outlen, bool lower) {
  size_t pos = *off, end = 0, o = 0, wire = 0;
  bool jumped = false;
  int hops = 0;
  if (outlen == 0)
    return -ENOSPC;
  for (;;) {
    if (pos >= n)
      return -EBADMSG;
    uint8_t len = p[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= n)
        return -EBADMSG;
      size_t target = (size_t)(((len & 0x3f) << 8) | p[pos + 1]);
      if (target >= pos || ++hops > MAX_HOPS) /* only backwards: no loops */
        return -EBADMSG;
      if (!jumped)
        end = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if (len & 0xc0)
      return -EBADMSG; /* 0x40 / 0x80 label types are obsolete or unknown */
    wire += (size_t)len + 1;
    if (wire > NAME_WIRE_MAX)
      return -EBADMSG;
    if (len == 0) {
      if (!jumped)
        end = pos + 1;
      break;
    }
    if (pos + 1 + len > n)
      return -EBADMSG;
    if (o > 0) {
      if (o + 1 >= outlen)
        return -ENOSPC;
      out[o++] = '.';
    }
    for (size_t i = 0; i < len; i++) {
      uint8_t c = p[pos + 1 + i];
      if (plain(c)) {
        if (o + 1 >= outlen)
          return -ENOSPC;
        out[o++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
      } else {
        if (o + 4 >= outlen)
          return -ENOSPC;
        snprintf(out + o, 5, "\\%03u", c);
        o += 4;
      }
    }
    pos += 1 + len;
  }
  out[o] = '\0';
  *off = end;
  return 0;
}

/* Skip the name at *off without decoding (same checks). */
static int skip_name(const uint8_t *p, size_t n, size_t *off) {
  char tmp[DNS_NAME_MAX];
  return dns_name_read(p, n, off, tmp, sizeof(tmp), false);
}

int dns_msg_walk(const uint8_t *p, size_t n,
                 int (*cb)(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data),
                 void *data) {
  dns_header_t h;
  if (dns_header_read(p, n, &h) < 0)
    return -EBADMSG;
  size_t off = DNS_HEADER_LEN;
  for (unsigned i = 0; i < h.qdcount; i++) {
    if (skip_name(p, n, &off) < 0 || off + 4 > n)
      return -EBADMSG;
    off += 4;
  }
  unsigned counts[3] = {h.ancount, h.nscount, h.arcount};
  for (int s = 0; s < 3; s++) {
    for (unsigned i = 0; i < counts[s]; i++) {
      size_t name_off = off;
      if (skip_name(p, n, &off) < 0 || off + 10 > n)
        return -EBADMSG;
      dns_rr_t rr = {.section = (dns_section_t)s,
                     .name_off = name_off,
                     .type = get16(p + off),
                     .rclass = get16(p + off + 2),
                     .ttl = get32(p + off + 4),
                     .ttl_off = off + 4,
                     .rdlength = get16(p + off + 8),
                     .rdata_off = off + 10};
      if (rr.rdata_off + rr.rdlength > n)
        return -EBADMSG;
      off = rr.rdata_off + rr.rdlength;
      if (cb) {
        int r = cb(p, n, &rr, data);
        if (r)
          return r;
      }
    }
  }
  return 0;
}

typedef struct {
  dns_query_t *q;
  int opts;
} parse_ctx_t;

static int parse_rr(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  (void)p;
  (void)n;
  parse_ctx_t *c = data;
  if (rr->type != DNS_TYPE_OPT)
    return 0;
  if (rr->section != DNS_SEC_ADDITIONAL || ++c->opts > 1)
    return -EBADMSG;
  c->q->edns = true;
  c->q->udp_size = rr->rclass < DNS_UDP_MIN ? DNS_UDP_MIN : rr->rclass;
  return 0;
}

int dns_query_parse(const uint8_t *p, size_t n, dns_query_t *ret) {
  dns_query_t q = {0};
  if (dns_header_read(p, n, &q.h) < 0 || q.h.qdcount != 1)
    return -EBADMSG;
  size_t off = DNS_HEADER_LEN;
  if (dns_name_read(p, n, &off, q.qname, sizeof(q.qname), false) < 0 || off + 4 > n)
    return -EBADMSG;
  q.qtype = get16(p + off);
  q.qclass = get16(p + off + 2);
  q.question_end = off + 4;
  q.udp_size = DNS_UDP_MIN;
  parse_ctx_t c = {&q, 0};
  if (dns_msg_walk(p, n, parse_rr, &c) != 0)
    return -EBADMSG;
  *ret = q;
  return 0;
}

bool dns_name_equal(const char *a, const char *b) {
  for (;; a++, b++) {
    char x = *a, y = *b;
    if (x >= 'A' && x <= 'Z')
      x = (char)(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = (char)(y + 32);
    if (x != y)
      return false;
    if (!x)
      return true;
  }
}

/* ---- writing ---- */

void dns_writer_init(dns_writer_t *w, uint8_t *buf, size_t limit) {
  memset(w, 0, sizeof(*w));
  w->buf = buf;
  w->limit = limit > DNS_MSG_MAX ? DNS_MSG_MAX : limit;
  w->section = -1;
}

int dns_writer_header(dns_writer_t *w, uint16_t id, uint16_t flags) {
  if (w->limit < DNS_HEADER_LEN)
    return -EMSGSIZE;
  memset(w->buf, 0, DNS_HEADER_LEN);
  put16(w->buf, id);
  put16(w->buf + 2, flags);
  w->len = DNS_HEADER_LEN;
  return 0;
}

/* Whether name is plain labels of 1-63 bytes, at most 253 characters. */
static bool name_ok(const char *name) {
  size_t total = strlen(name), label = 0;
  if (total > 253)
    return false;
  for (const char *c = name; *c; c++) {
    if (*c == '.') {
      if (label == 0)
        return false;
      label = 0;
    } else if (++label > 63 || *c == '\\') {
      return false;
    }
  }
  return total == 0 || label > 0;
}

/* Write name at w->len with compression; fails (without moving len)
 * when it would pass max. */
static int put_name(dns_writer_t *w, const char *name, size_t max) {
  if (!name_ok(name))
    return -EINVAL;
  size_t pos = w->len;
  const char *s = name;
  while (*s) {
    /* an earlier name equal to the suffix s? */
    for (size_t i = 0; i < w->nnames; i++) {
      size_t off = w->names[i];
      char prev[DNS_NAME_MAX];
      if (dns_name_read(w->buf, w->len, &off, prev, sizeof(prev), false) == 0 &&
          dns_name_equal(prev, s)) {
        if (pos + 2 > max)
          return -EMSGSIZE;
        put16(w->buf + pos, (uint16_t)(0xc000 | w->names[i]));
        pos += 2;
        goto done;
      }
    }
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);
    if (pos + 1 + len > max)
      return -EMSGSIZE;
    if (pos < 0x3fff && w->nnames < sizeof(w->names) / sizeof(w->names[0]))
      w->names[w->nnames++] = (uint16_t)pos;
    w->buf[pos] = (uint8_t)len;
    memcpy(w->buf + pos + 1, s, len);
    pos += 1 + len;
    s += len + (dot ? 1 : 0);
  }
  if (pos + 1 > max)
    return -EMSGSIZE;
  w->buf[pos++] = 0;
done:
  w->len = pos;
  return 0;
}

/* Write name uncompressed (it is not recorded as a target either). */
static int put_name_plain(dns_writer_t *w, const char *name, size_t max) {
  if (!name_ok(name))
    return -EINVAL;
  size_t len = strlen(name), need = len ? len + 2 : 1;
  if (w->len + need > max)
    return -EMSGSIZE;
  uint8_t *p = w->buf + w->len;
  const char *s = name;
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t l = dot ? (size_t)(dot - s) : strlen(s);
    *p++ = (uint8_t)l;
    memcpy(p, s, l);
    p += l;
    s += l + (dot ? 1 : 0);
  }
  *p = 0;
  w->len += need;
  return 0;
}

int dns_writer_question(dns_writer_t *w, const char *name, uint16_t qtype, uint16_t qclass) {
  size_t start = w->len, nn = w->nnames;
  int r = put_name(w, name, w->limit - w->reserve);
  if (r == 0 && w->len + 4 > w->limit - w->reserve)
    r = -EMSGSIZE;
  if (r < 0) {
    w->len = start;
    w->nnames = nn;
    return r;
  }
  put16(w->buf + w->len, qtype);
  put16(w->buf + w->len + 2, qclass);
  w->len += 4;
  w->counts[0]++;
  return 0;
}

int dns_writer_question_raw(dns_writer_t *w, const uint8_t *p, size_t end) {
  char tmp[DNS_NAME_MAX];
  size_t after = DNS_HEADER_LEN;
  /* validated first (pointers backwards, bounded), then copied label by
   * label without its pointers: they would point into another header */
  if (end < DNS_HEADER_LEN || dns_name_read(p, end, &after, tmp, sizeof(tmp), false) < 0 ||
      after + 4 > end)
    return -EBADMSG;
  size_t max = w->limit - w->reserve, pos = w->len, src = DNS_HEADER_LEN, nn = w->nnames;
  for (;;) {
    uint8_t l = p[src];
    if ((l & 0xc0) == 0xc0) {
      src = (size_t)(((l & 0x3f) << 8) | p[src + 1]);
      continue;
    }
    if (pos + 1u + l > max) {
      w->nnames = nn;
      return -EMSGSIZE;
    }
    if (l && pos < 0x3fff && w->nnames < sizeof(w->names) / sizeof(w->names[0]))
      w->names[w->nnames++] = (uint16_t)pos;
    memcpy(w->buf + pos, p + src, 1u + l);
    pos += 1u + l;
    if (l == 0)
      break;
    src += 1u + l;
  }
  if (pos + 4 > max) {
    w->nnames = nn;
    return -EMSGSIZE;
  }
  memcpy(w->buf + pos, p + after, 4);
  w->len = pos + 4;
  w->counts[0]++;
  return 0;
}

/* Begin a record: name, type, class, ttl and a placeholder rdlength.
 * Returns the offset of rdlength, or a negative errno. */
static long rr_begin(dns_writer_t *w, dns_section_t s, const char *name, uint16_t type,
                     uint16_t rclass, uint32_t ttl, size_t *start, size_t *nn) {
  if ((int)s < w->section)
    return -EINVAL;
  if (w->truncated && s != DNS_SEC_ADDITIONAL)
    return -EMSGSIZE;
  *start = w->len;
  *nn = w->nnames;
  size_t max = w->limit - (w->reserve < w->limit ? w->reserve : w->limit);
  int r = put_name(w, name, max);
  if (r == 0 && w->len + 10 > max)
    r = -EMSGSIZE;
  if (r < 0) {
    w->len = *start;
    w->nnames = *nn;
    if (r == -EMSGSIZE && s != DNS_SEC_ADDITIONAL)
      w->truncated = true;
    return r;
  }
  put16(w->buf + w->len, type);
  put16(w->buf + w->len + 2, rclass);
  put32(w->buf + w->len + 4, ttl);
  w->len += 10;
  return (long)(w->len - 2);
}

static int rr_end(dns_writer_t *w, dns_section_t s, long rdlen_off, size_t start, size_t nn,
                  int r) {
  if (r == 0 && w->len > w->limit - w->reserve)
    r = -EMSGSIZE;
  if (r < 0) {
    w->len = start;
    w->nnames = nn;
    if (r == -EMSGSIZE && s != DNS_SEC_ADDITIONAL)
      w->truncated = true;
    return r;
  }
  put16(w->buf + rdlen_off, (uint16_t)(w->len - (size_t)rdlen_off - 2));
  w->counts[1 + s]++;
  w->section = (int)s;
  return 0;
}

static int put_bytes(dns_writer_t *w, const void *data, size_t len) {
  if (w->len + len > w->limit - w->reserve)
    return -EMSGSIZE;
  memcpy(w->buf + w->len, data, len);
  w->len += len;
  return 0;
}

int dns_writer_a(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                 const uint8_t addr[4]) {
  size_t start, nn;
  long o = rr_begin(w, s, name, DNS_TYPE_A, DNS_CLASS_IN, ttl, &start, &nn);
  if (o < 0)
    return (int)o;
  return rr_end(w, s, o, start, nn, put_bytes(w, addr, 4));
}

int dns_writer_aaaa(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                    const uint8_t addr[16]) {
  size_t start, nn;
  long o = rr_begin(w, s, name, DNS_TYPE_AAAA, DNS_CLASS_IN, ttl, &start, &nn);
  if (o < 0)
    return (int)o;
  return rr_end(w, s, o, start, nn, put_bytes(w, addr, 16));
}

int dns_writer_name_rr(dns_writer_t *w, dns_section_t s, const char *name, uint16_t type,
                       uint32_t ttl, const char *target) {
  size_t start, nn;
  long o = rr_begin(w, s, name, type, DNS_CLASS_IN, ttl, &start, &nn);
  if (o < 0)
    return (int)o;
  return rr_end(w, s, o, start, nn, put_name(w, target, w->limit - w->reserve));
}

int dns_writer_srv(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                   uint16_t priority, uint16_t weight, uint16_t port, const char *target) {
  size_t start, nn;
  long o = rr_begin(w, s, name, DNS_TYPE_SRV, DNS_CLASS_IN, ttl, &start, &nn);
  if (o < 0)
    return (int)o;
  uint8_t fixed[6];
  put16(fixed, priority);
  put16(fixed + 2, weight);
  put16(fixed + 4, port);
  int r = put_bytes(w, fixed, 6);
  if (r == 0) /* RFC 2782: the target is not compressed */
    r = put_name_plain(w, target, w->limit - w->reserve);
  return rr_end(w, s, o, start, nn, r);
}

int dns_writer_soa(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                   const char *mname, const char *rname, uint32_t serial, uint32_t refresh,
                   uint32_t retry, uint32_t expire, uint32_t minimum) {
  size_t start, nn;
  long o = rr_begin(w, s, name, DNS_TYPE_SOA, DNS_CLASS_IN, ttl, &start, &nn);
  if (o < 0)
    return (int)o;
  size_t max = w->limit - w->reserve;
  int r = put_name(w, mname, max);
  if (r == 0)
    r = put_name(w, rname, max);
  if (r == 0) {
    uint8_t t[20];
    put32(t, serial);
    put32(t + 4, refresh);
    put32(t + 8, retry);
    put32(t + 12, expire);
    put32(t + 16, minimum);
    r = put_bytes(w, t, 20);
  }
  return rr_end(w, s, o, start, nn, r);
}

int dns_writer_txt(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                   const char *text) {
  size_t len = strlen(text);
  if (len > 255)
    return -EINVAL;
  size_t start, nn;
  long o = rr_begin(w, s, name, DNS_TYPE_TXT, DNS_CLASS_IN, ttl, &start, &nn);
  if (o < 0)
    return (int)o;
  uint8_t l = (uint8_t)len;
  int r = put_bytes(w, &l, 1);
  if (r == 0)
    r = put_bytes(w, text, len);
  return rr_end(w, s, o, start, nn, r);
}

int dns_writer_opt(dns_writer_t *w, uint16_t udp_size) {
  if (w->len + DNS_OPT_LEN > w->limit)
    return -EMSGSIZE;
  uint8_t *p = w->buf + w->len;
  p[0] = 0; /* root name */
  put16(p + 1, DNS_TYPE_OPT);
  put16(p + 3, udp_size);
  put32(p + 5, 0); /* extended rcode, version 0, flags */
  put16(p + 9, 0);
  w->len += DNS_OPT_LEN;
  w->counts[3]++;
  w->section = DNS_SEC_ADDITIONAL;
  return 0;
}

size_t dns_writer_finish(dns_writer_t *w, bool tc_on_truncate) {
  if (w->len < DNS_HEADER_LEN)
    return 0;
  for (int i = 0; i < 4; i++)
    put16(w->buf + 4 + 2 * i, w->counts[i]);
  if (w->truncated && tc_on_truncate)
    put16(w->buf + 2, (uint16_t)(get16(w->buf + 2) | DNS_FLAG_TC));
  return w->len;
}
