/* libFuzzer harness for pkg/net/dnsmsg.c: any packet either is refused or
 * parses to a question that an answer can be built for; the answer (with
 * the client's question copied, records, truncation at the client's UDP
 * size and an OPT record) must parse back to the same question. Names
 * read from any offset stay within the packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *d) {
  if (rr->rdata_off + rr->rdlength > n || rr->ttl_off + 4 > n)
    abort();
  (void)p;
  (*(int *)d)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char name[DNS_NAME_MAX];
  for (size_t off = 0; off < size && off < 64; off++) {
    size_t o = off;
    if (dns_name_read(data, size, &o, name, sizeof(name), off & 1) == 0 &&
        (o > size || strlen(name) >= sizeof(name)))
      abort();
  }
  int rrs = 0;
  dns_msg_walk(data, size, count_cb, &rrs);
  dns_query_t q;
  if (dns_query_parse(data, size, &q) < 0)
    return 0;
  if (q.question_end > size || q.udp_size < DNS_UDP_MIN)
    abort();
  static uint8_t out[DNS_MSG_MAX];
  dns_writer_t w;
  dns_writer_init(&w, out, q.udp_size);
  w.reserve = DNS_OPT_LEN;
  if (dns_writer_header(&w, q.h.id, DNS_FLAG_QR) < 0)
    abort();
  if (dns_writer_question_raw(&w, data, q.question_end) < 0)
    return 0; /* a question longer than the client's size */
  uint8_t ip[4] = {10, 43, 0, 10};
  for (int i = 0; i < 200; i++)
    if (dns_writer_a(&w, DNS_SEC_ANSWER, "svc.cluster.local", 5, ip) < 0)
      break;
  dns_writer_soa(&w, DNS_SEC_AUTHORITY, "cluster.local", 5, "ns.dns.cluster.local",
                 "hostmaster.cluster.local", 1, 7200, 1800, 86400, 5);
  if (dns_writer_opt(&w, DNS_EDNS_SIZE) < 0)
    abort();
  size_t n = dns_writer_finish(&w, true);
  if (n > q.udp_size)
    abort();
  dns_query_t back;
  if (dns_query_parse(out, n, &back) < 0 || back.qtype != q.qtype || back.qclass != q.qclass ||
      strcmp(back.qname, q.qname) != 0 || !back.edns)
    abort();
  return 0;
}
