/* pkg/net dnsmsg: DNS messages (RFC 1035 section 4): reading a query's
 * header, question and EDNS0 OPT record (RFC 6891), walking the resource
 * records of any message, and writing answers with name compression and
 * truncation (TC) when they do not fit. Pure functions over byte buffers;
 * every reader is safe on hostile input: lengths are checked, compression
 * pointers must point backwards (so loops cannot happen) and names are at
 * most 255 bytes on the wire. No allocation. Any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_UDP_MIN 512     /* what a client without EDNS0 accepts */
#define DNS_EDNS_SIZE 1232  /* the UDP size we advertise (DNS flag day 2020) */
#define DNS_MSG_MAX 65535
#define DNS_OPT_LEN 11      /* an OPT record without options */
#define DNS_NAME_MAX 1024   /* presentation form, with \DDD escapes, plus NUL */

enum {
  DNS_TYPE_A = 1, DNS_TYPE_NS = 2, DNS_TYPE_CNAME = 5, DNS_TYPE_SOA = 6, DNS_TYPE_PTR = 12,
  DNS_TYPE_TXT = 16, DNS_TYPE_AAAA = 28, DNS_TYPE_SRV = 33, DNS_TYPE_OPT = 41,
  DNS_TYPE_ANY = 255,
};
enum { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3 };
enum {
  DNS_RCODE_NOERROR = 0, DNS_RCODE_FORMERR = 1, DNS_RCODE_SERVFAIL = 2, DNS_RCODE_NXDOMAIN = 3,
  DNS_RCODE_NOTIMP = 4, DNS_RCODE_REFUSED = 5,
};
/* Header flag bits (the second 16-bit word). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags) ((flags) & 0xf)

typedef enum { DNS_SEC_ANSWER = 0, DNS_SEC_AUTHORITY = 1, DNS_SEC_ADDITIONAL = 2 } dns_section_t;

typedef struct {
  uint16_t id, flags, qdcount, ancount, nscount, arcount;
} dns_header_t;

/* A parsed query: its header, first question and EDNS0 facts. */
typedef struct {
  dns_header_t h;
  char qname[DNS_NAME_MAX]; /* presentation form without the final dot; "" is the root */
  uint16_t qtype, qclass;
  size_t question_end;      /* offset just past the first question */
  bool edns;                /* an OPT record was present */
  uint16_t udp_size;        /* the client's UDP size: 512 without EDNS, at least 512 */
} dns_query_t;

/* Read the 12-byte header. -EBADMSG when n is shorter. */
int dns_header_read(const uint8_t *p, size_t n, dns_header_t *ret);

/* Read the name at *off (following compression pointers) into out in
 * presentation form (labels joined by '.', bytes other than letters,
 * digits, '-' and '_' escaped as \DDD), lowercased when lower. *off moves
 * past the name's bytes at that place. Returns 0, or -EBADMSG for a
 * truncated name, a forward or looping pointer, a label type other than
 * 0 and pointer, or a name over 255 bytes; -ENOSPC when outlen is short. */
int dns_name_read(const uint8_t *p, size_t n, size_t *off, char *out, size_t outlen, bool lower);

/* Parse a query (or a response: QR is not checked): header, exactly one
 * question, and an OPT record in the additional section if any. The
 * answer and authority records are skipped over (checked for length).
 * Returns 0 or -EBADMSG (also for qdcount != 1, or two OPT records). */
int dns_query_parse(const uint8_t *p, size_t n, dns_query_t *ret);

/* One resource record as dns_msg_walk sees it (offsets into the message). */
typedef struct {
  dns_section_t section;
  size_t name_off;    /* where the owner name is */
  uint16_t type, rclass;
  uint32_t ttl;
  size_t ttl_off;     /* where the 4-byte TTL is (to rewrite it) */
  size_t rdata_off;
  uint16_t rdlength;
} dns_rr_t;
/* Call cb for every record of the answer, authority and additional
 * sections (the questions are skipped). cb returns 0 to go on, anything
 * else stops the walk and is returned. Returns 0 or -EBADMSG. */
int dns_msg_walk(const uint8_t *p, size_t n, int (*cb)(const uint8_t *p, size_t n,
                                                         const dns_rr_t *rr, void *data),
                 void *data);

/* Writer of one message into a caller's buffer of limit bytes (at most
 * DNS_MSG_MAX). Records go in section order (answers, then authority, then
 * additional). A record that does not fit is left out entirely, the writer
 * is marked truncated and the call returns -EMSGSIZE; later records of the
 * answer/authority sections are refused the same way (additional records
 * may still be left out silently: the caller decides about TC). Names are
 * presentation form, plain labels of 1-63 bytes without escapes; they are
 * compressed against earlier names of the message. */
typedef struct {
  uint8_t *buf;
  size_t limit, len;
  uint16_t counts[4]; /* qd, an, ns, ar */
  int section;        /* the last section written to, -1: questions */
  bool truncated;
  size_t reserve;     /* bytes held back for a final OPT record (set to
                       * DNS_OPT_LEN before writing when one will follow) */
  uint16_t names[64]; /* offsets of names written (compression targets) */
  size_t nnames;
} dns_writer_t;

void dns_writer_init(dns_writer_t *w, uint8_t *buf, size_t limit);
/* The header (counts are filled by dns_writer_finish). -EMSGSIZE if limit < 12. */
int dns_writer_header(dns_writer_t *w, uint16_t id, uint16_t flags);
/* A question from a name (-EINVAL for a name that is not plain labels). */
int dns_writer_question(dns_writer_t *w, const char *name, uint16_t qtype, uint16_t qclass);
/* The first question of a query p[0..end) copied (keeps the client's
 * spelling, odd bytes and case; compression pointers are expanded).
 * -EBADMSG when it is not a valid question, -EMSGSIZE when it does not fit. */
int dns_writer_question_raw(dns_writer_t *w, const uint8_t *p, size_t end);
int dns_writer_a(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                 const uint8_t addr[4]);
int dns_writer_aaaa(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                    const uint8_t addr[16]);
/* CNAME, PTR or NS: rdata is one name. */
int dns_writer_name_rr(dns_writer_t *w, dns_section_t s, const char *name, uint16_t type,
                       uint32_t ttl, const char *target);
int dns_writer_srv(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                   uint16_t priority, uint16_t weight, uint16_t port, const char *target);
int dns_writer_soa(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                   const char *mname, const char *rname, uint32_t serial, uint32_t refresh,
                   uint32_t retry, uint32_t expire, uint32_t minimum);
/* TXT with one character-string (at most 255 bytes). */
int dns_writer_txt(dns_writer_t *w, dns_section_t s, const char *name, uint32_t ttl,
                   const char *text);
/* The EDNS0 OPT pseudo-record (additional section), advertising udp_size;
 * it may use the reserve. */
int dns_writer_opt(dns_writer_t *w, uint16_t udp_size);
/* Fill the header's counts (and TC when truncated and tc_on_truncate).
 * Returns the message length. */
size_t dns_writer_finish(dns_writer_t *w, bool tc_on_truncate);

/* Lowercase ASCII comparison of two presentation names. */
bool dns_name_equal(const char *a, const char *b);
