/* pkg/net/dnszone.c over fake Service and EndpointSlice caches: A for
 * ClusterIP and headless services, endpoint hostnames, SRV, PTR, CNAME for
 * ExternalName, pod records, NXDOMAIN versus NODATA with the SOA,
 * truncation. */
#include <arpa/inet.h>

#include "client/cache.h"
#include "net/dnszone.h"
#include "test.h"

static client_cache_t *svcs, *slices;
static dns_zone_t zone;

static void put(client_cache_t *c, const char *json) {
  cJSON *o = cJSON_Parse(json), *old = NULL;
  if (!o)
    TEST_FAIL("bad fixture %s", json);
  ASSERT_EQ_INT(client_cache_put(c, o, &old), 0);
  cJSON_Delete(old);
}

static void setup(void) {
  client_cache_free(svcs);
  client_cache_free(slices);
  svcs = client_cache_new(0);
  slices = client_cache_new(0);
  client_cache_add_index(slices, CLIENT_INDEX_LABEL, client_index_labels);
  put(svcs, "{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\"},\"spec\":{"
            "\"clusterIP\":\"10.43.0.1\",\"ports\":[{\"name\":\"https\",\"port\":443,"
            "\"protocol\":\"TCP\"}]}}");
  put(svcs, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{"
            "\"clusterIP\":\"10.43.0.20\",\"clusterIPs\":[\"10.43.0.20\"],\"ports\":["
            "{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"},"
            "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}");
  put(svcs, "{\"metadata\":{\"name\":\"db\",\"namespace\":\"shop\"},\"spec\":{"
            "\"clusterIP\":\"None\",\"ports\":[{\"name\":\"pg\",\"port\":5432}]}}");
  put(svcs, "{\"metadata\":{\"name\":\"ext\",\"namespace\":\"shop\"},\"spec\":{"
            "\"type\":\"ExternalName\",\"externalName\":\"db.example.com.\"}}");
  put(slices, "{\"metadata\":{\"name\":\"db-abc\",\"namespace\":\"shop\",\"labels\":{"
              "\"kubernetes.io/service-name\":\"db\"}},\"addressType\":\"IPv4\","
              "\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}],"
              "\"endpoints\":["
              "{\"addresses\":[\"10.42.0.5\"],\"hostname\":\"db-0\",\"conditions\":{\"ready\":true}},"
              "{\"addresses\":[\"10.42.0.6\"],\"conditions\":{}},"
              "{\"addresses\":[\"10.42.0.7\"],\"conditions\":{\"ready\":false}}]}");
  /* FQDN slices hold names: never answered as addresses */
  put(slices, "{\"metadata\":{\"name\":\"db-fqdn\",\"namespace\":\"shop\",\"labels\":{"
              "\"kubernetes.io/service-name\":\"db\"}},\"addressType\":\"FQDN\","
              "\"ports\":[{\"name\":\"pg\",\"port\":5432}],"
              "\"endpoints\":[{\"addresses\":[\"db.example.com\"]}]}");
  /* a slice of a same-named service elsewhere must not leak in */
  put(slices, "{\"metadata\":{\"name\":\"db-x\",\"namespace\":\"other\",\"labels\":{"
              "\"kubernetes.io/service-name\":\"db\"}},\"addressType\":\"IPv4\","
              "\"endpoints\":[{\"addresses\":[\"10.42.9.9\"]}]}");
  zone = (dns_zone_t){.services = svcs, .slices = slices, .zone = "cluster.local", .ttl = 5,
                      .serial = 12345, .service_cidr = "10.43.0.0/16",
                      .cluster_cidr = "10.42.0.0/16"};
}

static uint8_t msg[4096];
static size_t msglen;
static char out[4096];

typedef struct {
  char *o;
  size_t left;
} render_t;

static int render_cb(const uint8_t *p, size_t n, const dns_rr_t *rr, void *data) {
  render_t *r = data;
  static const char *const secs[] = {"AN", "NS", "AR"};
  char rd[3 * DNS_NAME_MAX] = "";
  size_t ro = rr->rdata_off, t = ro;
  char nm[DNS_NAME_MAX - 64];
  switch (rr->type) {
  case DNS_TYPE_A:
    inet_ntop(AF_INET, p + ro, rd, sizeof(rd));
    break;
  case DNS_TYPE_CNAME:
  case DNS_TYPE_PTR:
  case DNS_TYPE_NS:
    dns_name_read(p, n, &t, rd, sizeof(rd), false);
    break;
  case DNS_TYPE_SRV:
    t = ro + 6;
    dns_name_read(p, n, &t, nm, sizeof(nm), false);
    snprintf(rd, sizeof(rd), "%u %u %u %s", (p[ro] << 8) | p[ro + 1], (p[ro + 2] << 8) | p[ro + 3],
             (p[ro + 4] << 8) | p[ro + 5], nm);
    break;
  case DNS_TYPE_SOA: {
    dns_name_read(p, n, &t, nm, sizeof(nm), false);
    char rn[DNS_NAME_MAX - 64];
    dns_name_read(p, n, &t, rn, sizeof(rn), false);
    const uint8_t *v = p + t;
    snprintf(rd, sizeof(rd), "%s %s %u %u %u %u %u", nm, rn,
             (unsigned)((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]),
             (unsigned)((v[4] << 24) | (v[5] << 16) | (v[6] << 8) | v[7]),
             (unsigned)((v[8] << 24) | (v[9] << 16) | (v[10] << 8) | v[11]),
             (unsigned)((v[12] << 24) | (v[13] << 16) | (v[14] << 8) | v[15]),
             (unsigned)((v[16] << 24) | (v[17] << 16) | (v[18] << 8) | v[19]));
    break;
  }
  case DNS_TYPE_TXT:
    snprintf(rd, sizeof(rd), "%.*s", p[ro], (const char *)p + ro + 1);
    break;
  default:
    snprintf(rd, sizeof(rd), "type%u", rr->type);
  }
  int w = snprintf(r->o, r->left, "%s %u %s\n", secs[rr->section], rr->ttl, rd);
  if (w > 0 && (size_t)w < r->left) {
    r->o += w;
    r->left -= (size_t)w;
  }
  return 0;
}

/* Ask (name, type); out gets "rcode=N\n" then one line per record:
 * "<AN|NS|AR> <ttl> <rdata>". */
static const char *ask_limit(const char *name, uint16_t type, size_t limit) {
  dns_writer_t w;
  dns_writer_init(&w, msg, limit);
  dns_writer_header(&w, 1, DNS_FLAG_QR | DNS_FLAG_AA);
  if (dns_writer_question(&w, name, type, DNS_CLASS_IN) < 0)
    TEST_FAIL("question %s", name);
  int rcode = dns_zone_answer(&zone, name, type, &w);
  msglen = dns_writer_finish(&w, true);
  render_t r = {out, sizeof(out)};
  int n = snprintf(out, sizeof(out), "rcode=%d%s\n", rcode, w.truncated ? " TC" : "");
  r.o += n;
  r.left -= (size_t)n;
  if (dns_msg_walk(msg, msglen, render_cb, &r) != 0)
    TEST_FAIL("answer to %s does not parse", name);
  return out;
}
static const char *ask(const char *name, uint16_t type) {
  return ask_limit(name, type, sizeof(msg));
}

#define SOA_LINE "NS 5 ns.dns.cluster.local hostmaster.cluster.local 12345 7200 1800 86400 5\n"

static void test_cluster_ip(void) {
  setup();
  ASSERT_EQ_STR(ask("kubernetes.default.svc.cluster.local", DNS_TYPE_A),
                "rcode=0\nAN 5 10.43.0.1\n");
  ASSERT_EQ_STR(ask("WEB.shop.svc.Cluster.Local", DNS_TYPE_A), "rcode=0\nAN 5 10.43.0.20\n");
  /* NODATA: the name exists, no AAAA */
  ASSERT_EQ_STR(ask("web.shop.svc.cluster.local", DNS_TYPE_AAAA), "rcode=0\n" SOA_LINE);
  ASSERT_EQ_STR(ask("web.shop.svc.cluster.local", DNS_TYPE_TXT), "rcode=0\n" SOA_LINE);
  /* NXDOMAIN: no such service, namespace, or shape */
  ASSERT_EQ_STR(ask("nope.shop.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  ASSERT_EQ_STR(ask("web.nons.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  ASSERT_EQ_STR(ask("a.b.c.d.e.f.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  ASSERT_EQ_STR(ask("web.shop.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  /* an existing namespace and the svc label are empty non-terminals */
  ASSERT_EQ_STR(ask("shop.svc.cluster.local", DNS_TYPE_A), "rcode=0\n" SOA_LINE);
  ASSERT_EQ_STR(ask("svc.cluster.local", DNS_TYPE_A), "rcode=0\n" SOA_LINE);
  ASSERT_EQ_STR(ask("nons.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  /* the apex */
  ASSERT_EQ_STR(ask("cluster.local", DNS_TYPE_SOA),
                "rcode=0\nAN 5 ns.dns.cluster.local hostmaster.cluster.local 12345 7200 1800 "
                "86400 5\n");
  ASSERT_EQ_STR(ask("cluster.local", DNS_TYPE_NS), "rcode=0\nAN 5 ns.dns.cluster.local\n");
  ASSERT_EQ_STR(ask("dns-version.cluster.local", DNS_TYPE_TXT), "rcode=0\nAN 5 1.1.0\n");
}

static void test_headless(void) {
  setup();
  /* ready (true or unset) endpoints only, this namespace only */
  ASSERT_EQ_STR(ask("db.shop.svc.cluster.local", DNS_TYPE_A),
                "rcode=0\nAN 5 10.42.0.5\nAN 5 10.42.0.6\n");
  ASSERT_EQ_STR(ask("db-0.db.shop.svc.cluster.local", DNS_TYPE_A), "rcode=0\nAN 5 10.42.0.5\n");
  ASSERT_EQ_STR(ask("10-42-0-6.db.shop.svc.cluster.local", DNS_TYPE_A),
                "rcode=0\nAN 5 10.42.0.6\n");
  ASSERT_EQ_STR(ask("db-0.db.shop.svc.cluster.local", DNS_TYPE_AAAA), "rcode=0\n" SOA_LINE);
  ASSERT_EQ_STR(ask("10-42-0-7.db.shop.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  ASSERT_EQ_STR(ask("db-1.db.shop.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  /* endpoint names exist only under headless services */
  ASSERT_EQ_STR(ask("x.web.shop.svc.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  /* publishNotReadyAddresses shows the not-ready one too */
  put(svcs, "{\"metadata\":{\"name\":\"db\",\"namespace\":\"shop\"},\"spec\":{"
            "\"clusterIP\":\"None\",\"publishNotReadyAddresses\":true}}");
  ASSERT_EQ_STR(ask("db.shop.svc.cluster.local", DNS_TYPE_A),
                "rcode=0\nAN 5 10.42.0.5\nAN 5 10.42.0.6\nAN 5 10.42.0.7\n");
}

static void test_external_name(void) {
  setup();
  ASSERT_EQ_STR(ask("ext.shop.svc.cluster.local", DNS_TYPE_A), "rcode=0\nAN 5 db.example.com\n");
  ASSERT_EQ_STR(ask("ext.shop.svc.cluster.local", DNS_TYPE_CNAME),
                "rcode=0\nAN 5 db.example.com\n");
  dns_header_t h;
  dns_header_read(msg, msglen, &h);
  ASSERT_EQ_INT(h.ancount, 1);
}

static void test_srv(void) {
  setup();
  ASSERT_EQ_STR(ask("_http._tcp.web.shop.svc.cluster.local", DNS_TYPE_SRV),
                "rcode=0\nAN 5 0 100 80 web.shop.svc.cluster.local\nAR 5 10.43.0.20\n");
  ASSERT_EQ_STR(ask("_dns._udp.web.shop.svc.cluster.local", DNS_TYPE_SRV),
                "rcode=0\nAN 5 0 100 53 web.shop.svc.cluster.local\nAR 5 10.43.0.20\n");
  /* wrong protocol or port: the name does not exist */
  ASSERT_EQ_STR(ask("_http._udp.web.shop.svc.cluster.local", DNS_TYPE_SRV), "rcode=3\n" SOA_LINE);
  ASSERT_EQ_STR(ask("_ftp._tcp.web.shop.svc.cluster.local", DNS_TYPE_SRV), "rcode=3\n" SOA_LINE);
  /* the name exists, A has no data */
  ASSERT_EQ_STR(ask("_http._tcp.web.shop.svc.cluster.local", DNS_TYPE_A), "rcode=0\n" SOA_LINE);
  /* headless: one per ready endpoint, to its name, with its address */
  ASSERT_EQ_STR(ask("_pg._tcp.db.shop.svc.cluster.local", DNS_TYPE_SRV),
                "rcode=0\nAN 5 0 50 5432 db-0.db.shop.svc.cluster.local\n"
                "AN 5 0 50 5432 10-42-0-6.db.shop.svc.cluster.local\n"
                "AR 5 10.42.0.5\nAR 5 10.42.0.6\n");
  /* SRV of the service name itself: every named port */
  ASSERT_EQ_STR(ask("web.shop.svc.cluster.local", DNS_TYPE_SRV),
                "rcode=0\nAN 5 0 100 80 web.shop.svc.cluster.local\n"
                "AN 5 0 100 53 web.shop.svc.cluster.local\nAR 5 10.43.0.20\n");
}

static void test_ptr_and_pods(void) {
  setup();
  ASSERT_EQ_STR(ask("20.0.43.10.in-addr.arpa", DNS_TYPE_PTR),
                "rcode=0\nAN 5 web.shop.svc.cluster.local\n");
  ASSERT_EQ_STR(ask("5.0.42.10.in-addr.arpa", DNS_TYPE_PTR),
                "rcode=0\nAN 5 db-0.db.shop.svc.cluster.local\n");
  ASSERT_EQ_STR(ask("6.0.42.10.in-addr.arpa", DNS_TYPE_PTR),
                "rcode=0\nAN 5 10-42-0-6.db.shop.svc.cluster.local\n");
  /* ours but unknown: NXDOMAIN; outside our networks: not ours */
  ASSERT_TRUE(dns_zone_owns(&zone, "99.0.43.10.in-addr.arpa", DNS_TYPE_PTR));
  ASSERT_CONTAINS(ask("99.0.43.10.in-addr.arpa", DNS_TYPE_PTR), "rcode=3\n");
  ASSERT_FALSE(dns_zone_owns(&zone, "8.8.8.8.in-addr.arpa", DNS_TYPE_PTR));
  ASSERT_FALSE(dns_zone_owns(&zone, "1.300.43.10.in-addr.arpa", DNS_TYPE_PTR));
  ASSERT_FALSE(dns_zone_owns(&zone, "example.com", DNS_TYPE_A));
  ASSERT_FALSE(dns_zone_owns(&zone, "xcluster.local", DNS_TYPE_A));
  ASSERT_TRUE(dns_zone_owns(&zone, "a.b.cluster.local", DNS_TYPE_A));
  ASSERT_TRUE(dns_zone_owns(&zone, "Cluster.Local", DNS_TYPE_A));
  /* pods insecure: any dashed IPv4 */
  ASSERT_EQ_STR(ask("10-42-1-7.shop.pod.cluster.local", DNS_TYPE_A), "rcode=0\nAN 5 10.42.1.7\n");
  ASSERT_EQ_STR(ask("10-42-1-7.shop.pod.cluster.local", DNS_TYPE_AAAA), "rcode=0\n" SOA_LINE);
  ASSERT_EQ_STR(ask("10-42-1.shop.pod.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
  ASSERT_EQ_STR(ask("10-42-1-999.shop.pod.cluster.local", DNS_TYPE_A), "rcode=3\n" SOA_LINE);
}

static void test_truncated_answer(void) {
  setup();
  char json[512];
  for (int i = 0; i < 60; i++) {
    snprintf(json, sizeof(json),
             "{\"metadata\":{\"name\":\"big-%d\",\"namespace\":\"shop\",\"labels\":{"
             "\"kubernetes.io/service-name\":\"db\"}},\"addressType\":\"IPv4\",\"endpoints\":["
             "{\"addresses\":[\"10.42.3.%d\"]}]}",
             i, i);
    put(slices, json);
  }
  const char *r = ask_limit("db.shop.svc.cluster.local", DNS_TYPE_A, 512);
  ASSERT_CONTAINS(r, "rcode=0 TC\n");
  ASSERT_TRUE(msglen <= 512);
  dns_header_t h;
  dns_header_read(msg, msglen, &h);
  ASSERT_TRUE(h.flags & DNS_FLAG_TC);
  ASSERT_TRUE(h.ancount > 10 && h.ancount < 62);
  /* over TCP sizes everything fits */
  r = ask("db.shop.svc.cluster.local", DNS_TYPE_A);
  dns_header_read(msg, msglen, &h);
  ASSERT_EQ_INT(h.ancount, 62);
  ASSERT_FALSE(h.flags & DNS_FLAG_TC);
  client_cache_free(svcs);
  client_cache_free(slices);
  svcs = slices = NULL;
}

TEST_LIST = {
    TEST(test_cluster_ip), TEST(test_headless),     TEST(test_external_name),
    TEST(test_srv),        TEST(test_ptr_and_pods), TEST(test_truncated_answer),
    {0},
};
TEST_MAIN()
