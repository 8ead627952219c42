/* Kubernetes' network CEL libraries (CEL_LIB_K8S): urls.go (url, isURL and
 * the URL getters, parsing as Go's net/url ParseRequestURI / Parse), ip.go
 * and cidr.go (net.IP and net.CIDR with Go's net/netip parsing and
 * printing, IPv4-mapped addresses and zones refused).
 * k8s.io/apiserver/pkg/cel/library; error texts are upstream's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost

/* ---- IP addresses (net/netip) ---- */

typedef struct {
  int bits; /* 32 or 128 */
  uint8_t b[16];
  bool zone;
} addr_t;

typedef struct {
  addr_t a;
  int bits;
} prefix_t;

/* Go's parseAddrError text into err */
static int addr_err(char *err, size_t size, const char *in, const char *msg, const char *at) {
  cel__sb_t sb = {0};
  cel__sb_addz(&sb, "ParseAddr(");
  cel__go_quote(&sb, in, strlen(in));
  cel__sb_addz(&sb, "): ");
  cel__sb_addz(&sb, msg);
  if (at) {
    cel__sb_addz(&sb, " (at ");
    cel__go_quote(&sb, at, strlen(at));
    cel__sb_addc(&sb, ')');
  }
  snprintf(err, size, "%s", sb.p);
  cel__sb_done(&sb);
  return -1;
}

/* in[off..end) as four IPv4 fields (netip's parseIPv4Fields) */
static int parse_v4(const char *in, size_t off, size_t end, uint8_t *out, char *err, size_t size) {
  int val = 0, pos = 0, dig = 0;
  for (size_t i = off; i < end; i++) {
    char c = in[i];
    if (c >= '0' && c <= '9') {
      if (dig == 1 && val == 0)
        return addr_err(err, size, in, "IPv4 field has octet with leading zero", NULL);
      val = val * 10 + (c - '0');
      dig++;
      if (val > 255)
        return addr_err(err, size, in, "IPv4 field has value >255", NULL);
    } else if (c == '.') {
      if (i == off || i == end - 1 || in[i - 1] == '.')
        return addr_err(err, size, in, "IPv4 field must have at least one digit", in + i);
      if (pos == 3)
        return addr_err(err, size, in, "IPv4 address too long", NULL);
      out[pos++] = (uint8_t)val;
      val = dig = 0;
    } else
      return addr_err(err, size, in, "unexpected character", in + i);
  }
  if (pos < 3)
    return addr_err(err, size, in, "IPv4 address too short", NULL);
  out[3] = (uint8_t)val;
  return 0;
}

static int parse_v6(const char *in, addr_t *a, char *err, size_t size) {
  size_t inlen = strlen(in);
  const char *pct = strchr(in, '%');
  size_t slen = pct ? (size_t)(pct - in) : inlen;
  if (pct && !pct[1])
    return addr_err(err, size, in, "zone must be a non-empty string", NULL);
  a->zone = pct != NULL;
  a->bits = 128;
  memset(a->b, 0, 16);
  const char *s = in, *end = in + slen;
  int ellipsis = -1, i = 0;
  if (slen >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s += 2;
    if (s == end)
      return 0;
  }
  /* the "at" texts run to the end of the address part; copy it bounded */
  char at[64];
#define AT(p) (snprintf(at, sizeof(at), "%.*s", (int)(end - (p)), (p)), at)
  while (i < 16) {
    size_t off = 0;
    uint32_t acc = 0;
    for (; s + off < end; off++) {
      char c = s[off];
      if (c >= '0' && c <= '9')
        acc = (acc << 4) + (uint32_t)(c - '0');
      else if (c >= 'a' && c <= 'f')
        acc = (acc << 4) + (uint32_t)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        acc = (acc << 4) + (uint32_t)(c - 'A' + 10);
      else
        break;
      if (off > 3)
        return addr_err(err, size, in, "each colon-separated field must have at most 4 hex digits", AT(s));
      if (acc > 0xffff)
        return addr_err(err, size, in, "IPv6 field has value >=2^16", AT(s));
    }
    if (off == 0)
      return addr_err(err, size, in, "each colon-separated field must have at least one digit", AT(s));
    if (s + off < end && s[off] == '.') {
      if (ellipsis < 0 && i != 12)
        return addr_err(err, size, in, "embedded IPv4 address must replace the final 2 fields of the address", AT(s));
      if (i + 4 > 16)
        return addr_err(err, size, in, "too many hex fields to fit an embedded IPv4 at the end of the address", AT(s));
      if (parse_v4(in, (size_t)(s - in), slen, a->b + i, err, size) < 0)
        return -1;
      s = end;
      i += 4;
      break;
    }
    a->b[i] = (uint8_t)(acc >> 8);
    a->b[i + 1] = (uint8_t)acc;
    i += 2;
    s += off;
    if (s == end)
      break;
    if (*s != ':')
      return addr_err(err, size, in, "unexpected character, want colon", AT(s));
    if (s + 1 == end)
      return addr_err(err, size, in, "colon must be followed by more characters", AT(s));
    s++;
    if (*s == ':') {
      if (ellipsis >= 0)
        return addr_err(err, size, in, "multiple :: in address", AT(s));
      ellipsis = i;
      s++;
      if (s == end)
        break;
    }
  }
  if (s != end)
    return addr_err(err, size, in, "trailing garbage after address", AT(s));
#undef AT
  if (i < 16) {
    if (ellipsis < 0)
      return addr_err(err, size, in, "address string too short", NULL);
    int n = 16 - i;
    for (int j = i - 1; j >= ellipsis; j--)
      a->b[j + n] = a->b[j];
    memset(a->b + ellipsis, 0, (size_t)n);
  } else if (ellipsis >= 0)
    return addr_err(err, size, in, "the :: must expand to at least one field of zeros", in);
  return 0;
}

/* netip.ParseAddr; in is NUL-terminated */
static int parse_addr(const char *in, addr_t *a, char *err, size_t size) {
  for (const char *p = in; *p; p++) {
    if (*p == '.') {
      memset(a, 0, sizeof(*a));
      a->bits = 32;
      return parse_v4(in, 0, strlen(in), a->b, err, size);
    }
    if (*p == ':')
      return parse_v6(in, a, err, size);
    if (*p == '%')
      return addr_err(err, size, in, "missing IPv6 address", NULL);
  }
  return addr_err(err, size, in, "unable to parse IP", NULL);
}

static bool is_4in6(const addr_t *a) {
  static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a->bits == 128 && !memcmp(a->b, pre, 12);
}

/* netip.Addr.String (RFC 5952 for IPv6) */
static void addr_str(const addr_t *a, char *buf, size_t size) {
  if (a->bits == 32) {
    snprintf(buf, size, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2], a->b[3]);
    return;
  }
  if (is_4in6(a)) {
    snprintf(buf, size, "::ffff:%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
    return;
  }
  int best = -1, bestlen = 0;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && !a->b[2 * j] && !a->b[2 * j + 1])
      j++;
    if (j - i > bestlen && j - i >= 2)
      best = i, bestlen = j - i;
    i = j > i ? j : i + 1;
  }
  size_t o = 0;
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      o += (size_t)snprintf(buf + o, size - o, "::");
      i += bestlen - 1;
      continue;
    }
    if (i && i != best + bestlen)
      o += (size_t)snprintf(buf + o, size - o, ":");
    o += (size_t)snprintf(buf + o, size - o, "%x", (unsigned)(a->b[2 * i] << 8 | a->b[2 * i + 1]));
  }
  buf[o < size ? o : size - 1] = 0;
}

/* upstream's parseIPAddr: *err is the full message */
static int parse_ip(const char *s, addr_t *a, char *err, size_t size) {
  char inner[512];
  if (parse_addr(s, a, inner, sizeof(inner)) < 0) {
    cel__sb_t sb = {0};
    cel__sb_addz(&sb, "IP Address ");
    cel__go_quote(&sb, s, strlen(s));
    cel__sb_addz(&sb, " parse error during conversion from string: ");
    cel__sb_addz(&sb, inner);
    snprintf(err, size, "%s", sb.p);
    cel__sb_done(&sb);
    return -1;
  }
  const char *why = a->zone ? "IP address %s with zone value is not allowed"
                    : is_4in6(a) ? "IPv4-mapped IPv6 address %s is not allowed" : NULL;
  if (why) {
    cel__sb_t sb = {0};
    cel__go_quote(&sb, s, strlen(s));
    snprintf(err, size, why, sb.p);
    cel__sb_done(&sb);
    return -1;
  }
  return 0;
}

static bool addr_equal(const void *x, const void *y) {
  const addr_t *a = x, *b = y;
  return a->bits == b->bits && !memcmp(a->b, b->b, 16);
}
static bool prefix_equal(const void *x, const void *y) {
  const prefix_t *a = x, *b = y;
  return a->bits == b->bits && addr_equal(&a->a, &b->a);
}
static const cel_opaque_type_t ip_type = {"net.IP", free, addr_equal};
static const cel_opaque_type_t cidr_type = {"net.CIDR", free, prefix_equal};

static cel_value_t *ip_value(const addr_t *a) {
  addr_t *c = xmalloc(sizeof(*c));
  *c = *a;
  c->zone = false;
  return cel_opaque(&ip_type, c);
}
static cel_value_t *cidr_value(const prefix_t *p) {
  prefix_t *c = xmalloc(sizeof(*c));
  *c = *p;
  return cel_opaque(&cidr_type, c);
}
static const addr_t *IPV(const cel_value_t *v) {
  return cel_value_opaque(v);
}
static const prefix_t *CIDRV(const cel_value_t *v) {
  return cel_value_opaque(v);
}

FN(to_ip) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  addr_t a;
  char err[1024];
  if (parse_ip(cel_value_str(args[0], NULL), &a, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  return ip_value(&a);
}
FN(is_ip) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  addr_t a;
  char err[1024];
  return cel_bool(parse_ip(cel_value_str(args[0], NULL), &a, err, sizeof(err)) == 0);
}
FN(ip_is_canonical) {
  UNUSED;
  cel__cost(ret_cost, (2 * cel__size(args[0]) + 9) / 10);
  addr_t a;
  char err[1024], buf[64];
  const char *s = cel_value_str(args[0], NULL);
  if (parse_ip(s, &a, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  addr_str(&a, buf, sizeof(buf));
  return cel_bool(!strcmp(buf, s));
}
FN(ip_string) {
  UNUSED;
  char buf[64];
  addr_str(IPV(args[0]), buf, sizeof(buf));
  return cel_stringz(buf);
}
FN(ip_family) {
  UNUSED;
  return cel_int(IPV(args[0])->bits == 32 ? 4 : 6);
}

static bool all_zero(const uint8_t *b, int n) {
  for (int i = 0; i < n; i++)
    if (b[i])
      return false;
  return true;
}
static bool is_unspecified(const addr_t *a) {
  return all_zero(a->b, a->bits / 8);
}
static bool is_loopback(const addr_t *a) {
  if (a->bits == 32)
    return a->b[0] == 127;
  return all_zero(a->b, 15) && a->b[15] == 1;
}
static bool is_ll_multicast(const addr_t *a) {
  if (a->bits == 32)
    return a->b[0] == 224 && a->b[1] == 0 && a->b[2] == 0;
  return a->b[0] == 0xff && (a->b[1] & 0x0f) == 0x02;
}
static bool is_ll_unicast(const addr_t *a) {
  if (a->bits == 32)
    return a->b[0] == 169 && a->b[1] == 254;
  return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}
static bool is_multicast(const addr_t *a) {
  return a->bits == 32 ? (a->b[0] & 0xf0) == 0xe0 : a->b[0] == 0xff;
}
static bool is_global_unicast(const addr_t *a) {
  if (a->bits == 32 && a->b[0] == 255 && a->b[1] == 255 && a->b[2] == 255 && a->b[3] == 255)
    return false;
  return !is_unspecified(a) && !is_loopback(a) && !is_multicast(a) && !is_ll_unicast(a);
}
#define IP_PRED(fn, pred)                                                                           \
  FN(fn) {                                                                                          \
    UNUSED;                                                                                         \
    return cel_bool(pred(IPV(args[0])));                                                            \
  }
IP_PRED(ip_unspecified, is_unspecified)
IP_PRED(ip_loopback, is_loopback)
IP_PRED(ip_ll_multicast, is_ll_multicast)
IP_PRED(ip_ll_unicast, is_ll_unicast)
IP_PRED(ip_global_unicast, is_global_unicast)

/* ---- CIDR (netip.Prefix) ---- */

static int prefix_err(char *err, size_t size, const char *in, const char *msg) {
  cel__sb_t sb = {0};
  cel__sb_addz(&sb, "network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix(");
  cel__go_quote(&sb, in, strlen(in));
  cel__sb_addz(&sb, "): ");
  cel__sb_addz(&sb, msg);
  snprintf(err, size, "%s", sb.p);
  cel__sb_done(&sb);
  return -1;
}

/* upstream's parseCIDR, the message as stringToCIDR wraps it */
static int parse_cidr(const char *s, prefix_t *p, char *err, size_t size) {
  const char *slash = strrchr(s, '/');
  if (!slash)
    return prefix_err(err, size, s, "no '/'");
  char *as = xstrndup(s, (size_t)(slash - s)), inner[512];
  int r = parse_addr(as, &p->a, inner, sizeof(inner));
  free(as);
  if (r < 0)
    return prefix_err(err, size, s, inner);
  if (p->a.bits == 128 && p->a.zone)
    return prefix_err(err, size, s, "IPv6 zones cannot be present in a prefix");
  const char *bs = slash + 1;
  size_t bl = strlen(bs);
  bool ok = bl > 0 && bl <= 4 && !(bl > 1 && (bs[0] < '1' || bs[0] > '9'));
  int bits = 0;
  for (size_t i = 0; ok && i < bl; i++) {
    /* strconv.Atoi takes one sign: "-1" reads as -1, out of range */
    if (i == 0 && (bs[0] == '-' || bs[0] == '+') && bl > 1)
      continue;
    if (bs[i] < '0' || bs[i] > '9')
      ok = false;
    else
      bits = bits * 10 + (bs[i] - '0');
  }
  if (!ok) {
    cel__sb_t sb = {0};
    cel__sb_addz(&sb, "bad bits after slash: ");
    cel__go_quote(&sb, bs, bl);
    prefix_err(err, size, s, sb.p);
    cel__sb_done(&sb);
    return -1;
  }
  if (bits > p->a.bits)
    return prefix_err(err, size, s, "prefix length out of range");
  p->bits = bits;
  if (is_4in6(&p->a)) {
    cel__sb_t sb = {0};
    cel__sb_addz(&sb, "network address parse error during conversion from string: IPv4-mapped IPv6 address ");
    cel__go_quote(&sb, s, strlen(s));
    cel__sb_addz(&sb, " is not allowed");
    snprintf(err, size, "%s", sb.p);
    cel__sb_done(&sb);
    return -1;
  }
  return 0;
}

static void mask(addr_t *a, int bits) {
  for (int i = 0; i < 16; i++) {
    int keep = bits - i * 8;
    if (keep <= 0)
      a->b[i] = 0;
    else if (keep < 8)
      a->b[i] &= (uint8_t)(0xff << (8 - keep));
  }
}

/* whether a and b agree on their first bits bits */
static bool same_prefix(const addr_t *a, const addr_t *b, int bits) {
  addr_t x = *a, y = *b;
  mask(&x, bits);
  mask(&y, bits);
  return !memcmp(x.b, y.b, 16);
}

FN(to_cidr) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  prefix_t p;
  char err[1024];
  if (parse_cidr(cel_value_str(args[0], NULL), &p, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  p.a.zone = false;
  return cidr_value(&p);
}
FN(is_cidr) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  prefix_t p;
  char err[1024];
  return cel_bool(parse_cidr(cel_value_str(args[0], NULL), &p, err, sizeof(err)) == 0);
}
FN(cidr_string) {
  UNUSED;
  char buf[80];
  const prefix_t *p = CIDRV(args[0]);
  addr_str(&p->a, buf, sizeof(buf));
  size_t n = strlen(buf);
  snprintf(buf + n, sizeof(buf) - n, "/%d", p->bits);
  return cel_stringz(buf);
}
static cel_value_t *contains_ip(const prefix_t *p, const addr_t *a) {
  return cel_bool(p->a.bits == a->bits && same_prefix(&p->a, a, p->bits));
}
/* upstream: two walks of the prefix's bytes, one more of a string argument */
static uint64_t cidr_size(const prefix_t *p) {
  return (uint64_t)(p->bits + 7) / 8;
}
FN(cidr_contains_ip) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(2 * cidr_size(CIDRV(args[0]))));
  return contains_ip(CIDRV(args[0]), IPV(args[1]));
}
FN(cidr_contains_ip_string) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(2 * cidr_size(CIDRV(args[0]))) + cel__tenth(cel__size(args[1])));
  addr_t a;
  char err[1024];
  if (parse_ip(cel_value_str(args[1], NULL), &a, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  return contains_ip(CIDRV(args[0]), &a);
}
static cel_value_t *contains_cidr(const prefix_t *p, const prefix_t *o) {
  if (p->a.bits != o->a.bits)
    return cel_bool(false);
  int min = p->bits < o->bits ? p->bits : o->bits;
  return cel_bool(same_prefix(&p->a, &o->a, min) && p->bits <= o->bits);
}
FN(cidr_contains_cidr) {
  UNUSED;
  uint64_t cs = cidr_size(CIDRV(args[0]));
  cel__cost(ret_cost, cel__tenth(2 * cs) + cel__tenth(cs) + 1);
  return contains_cidr(CIDRV(args[0]), CIDRV(args[1]));
}
FN(cidr_contains_cidr_string) {
  UNUSED;
  uint64_t cs = cidr_size(CIDRV(args[0]));
  cel__cost(ret_cost, cel__tenth(2 * cs) + cel__tenth(cs) + 1 + cel__tenth(cel__size(args[1])));
  prefix_t o;
  char err[1024];
  if (parse_cidr(cel_value_str(args[1], NULL), &o, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  return contains_cidr(CIDRV(args[0]), &o);
}
FN(cidr_ip) {
  UNUSED;
  return ip_value(&CIDRV(args[0])->a);
}
FN(cidr_prefix_length) {
  UNUSED;
  return cel_int(CIDRV(args[0])->bits);
}
FN(cidr_masked) {
  UNUSED;
  prefix_t p = *CIDRV(args[0]);
  mask(&p.a, p.bits);
  return cidr_value(&p);
}

/* ---- URLs (net/url) ---- */

#define URL_TYPE "kubernetes.URL"

typedef struct {
  char *scheme, *host, *path, *rawpath, *rawquery;
} url_t;

static void url_free(void *p) {
  url_t *u = p;
  if (!u)
    return;
  free(u->scheme);
  free(u->host);
  free(u->path);
  free(u->rawpath);
  free(u->rawquery);
  free(u);
}
static bool url_equal(const void *x, const void *y) {
  const url_t *a = x, *b = y;
  return !strcmp(a->scheme, b->scheme) && !strcmp(a->host, b->host) && !strcmp(a->path, b->path) &&
         !strcmp(a->rawquery, b->rawquery);
}
static const cel_opaque_type_t url_type = {URL_TYPE, url_free, url_equal};

enum { M_PATH, M_HOST, M_QUERY, M_USER };

static bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* net/url's shouldEscape for the modes used here */
static bool should_escape(unsigned char c, int mode) {
  if (is_alnum((char)c))
    return false;
  if (mode == M_HOST && strchr("!$&'()*+,;=:[]<>\"", c) && c)
    return false;
  if (c && strchr("-_.~", c))
    return false;
  if (c && strchr("$&+,/:;=?@", c)) {
    if (mode == M_PATH)
      return c == '?';
    if (mode == M_QUERY)
      return true;
    if (mode == M_USER)
      return c == '@' || c == '/' || c == '?' || c == ':';
    return false;
  }
  return true;
}

static int unhex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* net/url's unescape; NULL with err set on a bad escape */
static char *unescape(const char *s, size_t len, int mode, char *err, size_t size) {
  cel__sb_t sb = {0};
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int h = i + 2 < len ? unhex(s[i + 1]) : -1, l = i + 2 < len ? unhex(s[i + 2]) : -1;
      if (h < 0 || l < 0 || (mode == M_HOST && h < 8 && memcmp(s + i, "%25", 3))) {
        cel__sb_t q = {0};
        cel__go_quote(&q, s + i, len - i > 3 ? 3 : len - i);
        snprintf(err, size, "invalid URL escape %s", q.p);
        cel__sb_done(&q);
        cel__sb_done(&sb);
        return NULL;
      }
      cel__sb_addc(&sb, (char)(h << 4 | l));
      i += 2;
    } else if (c == '+' && mode == M_QUERY) {
      cel__sb_addc(&sb, ' ');
    } else {
      if (mode == M_HOST && c < 0x80 && should_escape(c, M_HOST)) {
        cel__sb_t q = {0};
        cel__go_quote(&q, s + i, 1);
        snprintf(err, size, "invalid character %s in host name", q.p);
        cel__sb_done(&q);
        cel__sb_done(&sb);
        return NULL;
      }
      cel__sb_addc(&sb, (char)c);
    }
  }
  if (!sb.p)
    return xstrdup("");
  return sb.p;
}

static bool valid_port(const char *p, size_t n) {
  if (n == 0)
    return true;
  if (p[0] != ':')
    return false;
  for (size_t i = 1; i < n; i++)
    if (p[i] < '0' || p[i] > '9')
      return false;
  return true;
}

static char *parse_host(const char *h, size_t n, char *err, size_t size) {
  const char *port = NULL;
  if (n && h[0] == '[') {
    const char *rb = NULL;
    for (size_t i = n; i-- > 0;)
      if (h[i] == ']') {
        rb = h + i;
        break;
      }
    if (!rb) {
      snprintf(err, size, "missing ']' in host");
      return NULL;
    }
    port = rb + 1;
  } else {
    for (size_t i = n; i-- > 0;)
      if (h[i] == ':') {
        port = h + i;
        break;
      }
  }
  if (port && !valid_port(port, (size_t)(h + n - port))) {
    cel__sb_t q = {0};
    cel__go_quote(&q, port, (size_t)(h + n - port));
    snprintf(err, size, "invalid port %s after host", q.p);
    cel__sb_done(&q);
    return NULL;
  }
  return unescape(h, n, M_HOST, err, size);
}

static bool valid_userinfo(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(s[i]) && !strchr("-._:~!$&'()*+,;=%@", s[i]))
      return false;
  return true;
}

/* net/url's parse(rawURL, viaRequest) of s (fragment already removed for
 * Parse). 0 with *u filled, or -1 with err (the inner error). */
static int url_parse(const char *s, size_t len, bool via_request, url_t *u, char *err, size_t size) {
  memset(u, 0, sizeof(*u));
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      snprintf(err, size, "net/url: invalid control character in URL");
      return -1;
    }
  if (len == 0 && via_request) {
    snprintf(err, size, "empty url");
    return -1;
  }
  u->scheme = xstrdup("");
  u->host = xstrdup("");
  u->rawquery = xstrdup("");
  u->rawpath = xstrdup("");
  if (len == 1 && s[0] == '*') {
    u->path = xstrdup("*");
    return 0;
  }
  /* scheme */
  const char *rest = s, *end = s + len;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      continue;
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      if (i == 0)
        break;
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        snprintf(err, size, "missing protocol scheme");
        return -1;
      }
      free(u->scheme);
      u->scheme = xstrndup(s, i);
      for (char *p = u->scheme; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
          *p = (char)(*p + 32);
      rest = s + i + 1;
    }
    break;
  }
  /* query */
  const char *q = memchr(rest, '?', (size_t)(end - rest));
  if (q) {
    free(u->rawquery);
    u->rawquery = xstrndup(q + 1, (size_t)(end - q - 1));
    end = q;
  }
  if (rest == end || *rest != '/') {
    if (*u->scheme) { /* opaque: mailto:x */
      u->path = xstrdup("");
      return 0;
    }
    if (via_request) {
      snprintf(err, size, "invalid URI for request");
      return -1;
    }
    /* a relative path whose first segment has a colon */
    const char *colon = memchr(rest, ':', (size_t)(end - rest)), *slash = memchr(rest, '/', (size_t)(end - rest));
    if (colon && (!slash || colon < slash)) {
      snprintf(err, size, "first path segment in URL cannot contain colon");
      return -1;
    }
  }
  size_t rl = (size_t)(end - rest);
  bool authority = (*u->scheme || (!via_request && !(rl >= 3 && !memcmp(rest, "///", 3)))) && rl >= 2 &&
                   !memcmp(rest, "//", 2);
  if (authority) {
    const char *a = rest + 2, *slash = memchr(a, '/', (size_t)(end - a));
    const char *aend = slash ? slash : end;
    const char *at = NULL;
    for (const char *p = aend; p-- > a;)
      if (*p == '@') {
        at = p;
        break;
      }
    if (at && !valid_userinfo(a, (size_t)(at - a))) {
      snprintf(err, size, "net/url: invalid userinfo");
      return -1;
    }
    const char *hs = at ? at + 1 : a;
    free(u->host);
    u->host = parse_host(hs, (size_t)(aend - hs), err, size);
    if (!u->host)
      return -1;
    rest = aend;
  }
  u->path = unescape(rest, (size_t)(end - rest), M_PATH, err, size);
  if (!u->path)
    return -1;
  free(u->rawpath);
  u->rawpath = xstrndup(rest, (size_t)(end - rest));
  return 0;
}

static void url_done(url_t *u) {
  free(u->scheme);
  free(u->host);
  free(u->path);
  free(u->rawpath);
  free(u->rawquery);
  memset(u, 0, sizeof(*u));
}

/* ParseRequestURI's verdict: NULL, or the error message upstream wraps */
int cel__url_request_check(const char *s, size_t len, char *err, size_t size) {
  url_t u;
  char inner[512];
  int r = url_parse(s, len, true, &u, inner, sizeof(inner));
  url_done(&u);
  if (r == 0)
    return 0;
  cel__sb_t sb = {0};
  cel__sb_addz(&sb, "parse ");
  cel__go_quote(&sb, s, len);
  cel__sb_addz(&sb, ": ");
  cel__sb_addz(&sb, inner);
  snprintf(err, size, "%s", sb.p);
  cel__sb_done(&sb);
  return -1;
}

/* ParseRequestURI's verdict as url() reports it: NULL, or an error value */
static cel_value_t *url_check(const char *s, size_t len) {
  char err[1024];
  if (cel__url_request_check(s, len, err, sizeof(err)) < 0)
    return cel_errorf("URL parse error during conversion from string: %s", err);
  return NULL;
}

FN(to_url) {
  UNUSED;
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  cel_value_t *e = url_check(s, len);
  if (e)
    return e;
  /* url.Parse: the fragment is cut first */
  const char *hash = memchr(s, '#', len);
  url_t *u = xcalloc(1, sizeof(*u));
  char err[512];
  if (url_parse(s, hash ? (size_t)(hash - s) : len, false, u, err, sizeof(err)) < 0) {
    url_free(u);
    return cel_errorf("URL parse error during conversion from string: %s", err);
  }
  return cel_opaque(&url_type, u);
}
FN(is_url) {
  UNUSED;
  size_t len;
  const char *s = cel_value_str(args[0], &len);
  cel_value_t *e = url_check(s, len);
  cel_value_unref(e);
  return cel_bool(e == NULL);
}

static const url_t *URLV(const cel_value_t *v) {
  return cel_value_opaque(v);
}

/* Go's splitHostPort of URL.Host */
static void split_host_port(const char *h, size_t *ret_host_b, size_t *ret_host_e, const char **ret_port) {
  size_t n = strlen(h), he = n;
  const char *colon = strrchr(h, ':');
  *ret_port = "";
  if (colon && valid_port(colon, (size_t)(h + n - colon))) {
    he = (size_t)(colon - h);
    *ret_port = colon + 1;
  }
  size_t hb = 0;
  if (he >= 2 && h[0] == '[' && h[he - 1] == ']')
    hb = 1, he--;
  *ret_host_b = hb;
  *ret_host_e = he;
}

FN(url_scheme) {
  UNUSED;
  return cel_stringz(URLV(args[0])->scheme);
}
FN(url_host) {
  UNUSED;
  return cel_stringz(URLV(args[0])->host);
}
FN(url_hostname) {
  UNUSED;
  size_t b, e;
  const char *port, *h = URLV(args[0])->host;
  split_host_port(h, &b, &e, &port);
  return cel_string(h + b, e - b);
}
FN(url_port) {
  UNUSED;
  size_t b, e;
  const char *port;
  split_host_port(URLV(args[0])->host, &b, &e, &port);
  return cel_stringz(port);
}

/* net/url's validEncoded(s, encodePath) */
static bool valid_encoded(const char *s) {
  for (; *s; s++) {
    if (strchr("!$&'()*+,;=:@[]%", *s))
      continue;
    if (should_escape((unsigned char)*s, M_PATH))
      return false;
  }
  return true;
}

FN(url_escaped_path) {
  UNUSED;
  const url_t *u = URLV(args[0]);
  if (*u->rawpath && valid_encoded(u->rawpath))
    return cel_stringz(u->rawpath);
  if (!strcmp(u->path, "*"))
    return cel_stringz("*");
  cel__sb_t sb = {0};
  for (const char *p = u->path; *p; p++) {
    if (should_escape((unsigned char)*p, M_PATH)) {
      char t[4];
      snprintf(t, sizeof(t), "%%%02X", (unsigned char)*p);
      cel__sb_addz(&sb, t);
    } else
      cel__sb_addc(&sb, *p);
  }
  return cel__sb_string(&sb);
}

/* url.ParseQuery, dropping pairs that do not parse: map(string, list(string)) */
FN(url_query) {
  UNUSED;
  const char *q = URLV(args[0])->rawquery;
  cel_value_t *m = cel_map_new(4);
  char err[256];
  while (*q) {
    size_t n = strcspn(q, "&");
    const char *pair = q;
    q += n;
    if (*q)
      q++;
    if (n == 0 || memchr(pair, ';', n))
      continue;
    const char *eq = memchr(pair, '=', n);
    size_t kl = eq ? (size_t)(eq - pair) : n;
    char *k = unescape(pair, kl, M_QUERY, err, sizeof(err));
    if (!k)
      continue;
    char *v = eq ? unescape(eq + 1, n - kl - 1, M_QUERY, err, sizeof(err)) : xstrdup("");
    if (!v) {
      free(k);
      continue;
    }
    cel_value_t *l = cel_map_getz(m, k);
    if (!l) {
      l = cel_list_new(1);
      cel_map_put(m, cel_stringz(k), l);
    }
    cel_list_push(l, cel_stringz(v));
    free(k);
    free(v);
  }
  return m;
}

static const cel_overload_t overloads[] = {
  {"ip(string) net.IP", to_ip},
  {"isIP(string) bool", is_ip},
  {"ip.isCanonical(string) bool", ip_is_canonical},
  {"string(net.IP) string", ip_string},
  {"net.IP.family() int", ip_family},
  {"net.IP.isUnspecified() bool", ip_unspecified},
  {"net.IP.isLoopback() bool", ip_loopback},
  {"net.IP.isLinkLocalMulticast() bool", ip_ll_multicast},
  {"net.IP.isLinkLocalUnicast() bool", ip_ll_unicast},
  {"net.IP.isGlobalUnicast() bool", ip_global_unicast},
  {"cidr(string) net.CIDR", to_cidr},
  {"isCIDR(string) bool", is_cidr},
  {"string(net.CIDR) string", cidr_string},
  {"net.CIDR.containsIP(net.IP) bool", cidr_contains_ip},
  {"net.CIDR.containsIP(string) bool", cidr_contains_ip_string},
  {"net.CIDR.containsCIDR(net.CIDR) bool", cidr_contains_cidr},
  {"net.CIDR.containsCIDR(string) bool", cidr_contains_cidr_string},
  {"net.CIDR.ip() net.IP", cidr_ip},
  {"net.CIDR.prefixLength() int", cidr_prefix_length},
  {"net.CIDR.masked() net.CIDR", cidr_masked},
  {"url(string) " URL_TYPE, to_url},
  {"isURL(string) bool", is_url},
  {URL_TYPE ".getScheme() string", url_scheme},
  {URL_TYPE ".getHost() string", url_host},
  {URL_TYPE ".getHostname() string", url_hostname},
  {URL_TYPE ".getPort() string", url_port},
  {URL_TYPE ".getEscapedPath() string", url_escaped_path},
  {URL_TYPE ".getQuery() map(string, list(string))", url_query},
};

const cel_library_t cel_lib_k8s_net = {CEL_LIB_K8S, overloads, CEL__N(overloads)};
