/* Kubernetes' format CEL library (CEL_LIB_K8S, k8s.io/apiserver/pkg/cel/
 * library/format.go): format.named(name), the constants format.dns1123Label()
 * ... format.datetime(), and Format.validate(s), which is none for a valid
 * string or the list of upstream's messages. Name rules come from
 * util/k8sname.h (the first message upstream reports); uri is Go's
 * ParseRequestURI; uuid, byte, date and datetime are kube-openapi's strfmt
 * checks. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/k8sname.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost
#define FORMAT "kubernetes.NamedFormat"

/* A check: NULL when s is valid, else the message (static or in buf). */
typedef const char *(*check_fn)(const char *s, char *buf, size_t size);

/* upstream's maskTrailingDash for the *Prefix formats: a name that will
 * get a generated suffix may end in '-' */
static const char *masked(const char *s, char *buf, size_t size, const char *(*check)(const char *)) {
  size_t n = strlen(s);
  if (n > 1 && s[n - 1] == '-' && n + 1 < size) {
    memcpy(buf, s, n - 2);
    buf[n - 2] = 'a';
    buf[n - 1] = 0;
    return check(buf);
  }
  return check(s);
}

static const char *c_label(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return k8sname_check_dns1123_label(s);
}
static const char *c_subdomain(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return k8sname_check_dns1123_subdomain(s);
}
static const char *c_1035(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return k8sname_check_dns1035_label(s);
}
static const char *c_qualified(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return k8sname_check_qualified_name(s);
}
static const char *c_label_prefix(const char *s, char *b, size_t n) {
  return masked(s, b, n, k8sname_check_dns1123_label);
}
static const char *c_subdomain_prefix(const char *s, char *b, size_t n) {
  return masked(s, b, n, k8sname_check_dns1123_subdomain);
}
static const char *c_1035_prefix(const char *s, char *b, size_t n) {
  return masked(s, b, n, k8sname_check_dns1035_label);
}
static const char *c_label_value(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return k8sname_check_label_value(s);
}
static const char *c_uri(const char *s, char *b, size_t n) {
  return cel__url_request_check(s, strlen(s), b, n) < 0 ? b : NULL;
}

static bool hex_run(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isxdigit((unsigned char)s[i]))
      return false;
  return true;
}
/* strfmt's UUIDPattern: 8-4-4-4-12 hex digits, or 32 (any case) */
static const char *c_uuid(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  size_t len = strlen(s);
  bool ok = len == 32 ? hex_run(s, 32)
                      : len == 36 && hex_run(s, 8) && s[8] == '-' && hex_run(s + 9, 4) && s[13] == '-' &&
                          hex_run(s + 14, 4) && s[18] == '-' && hex_run(s + 19, 4) && s[23] == '-' && hex_run(s + 24, 12);
  return ok ? NULL : "does not match the UUID format";
}
static const char *c_byte(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return base64_valid(s) ? NULL : "invalid base64";
}

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}
/* time.Parse("2006-01-02", s) succeeds on s[0..n) */
static bool full_date(const char *s, size_t n) {
  if (n != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
    return false;
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1)
    return false;
  int dim = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  return d <= dim;
}
static const char *c_date(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  return full_date(s, strlen(s)) ? NULL : "invalid date";
}

/* z or [+-]dd:dd, the whole of s[0..n) */
static bool zone(const char *s, size_t n) {
  if (n == 1)
    return s[0] == 'z';
  return n == 6 && (s[0] == '+' || s[0] == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2);
}
/* strfmt's IsDateTime: lower-cased, split at 't', a full date, then
 * ^(\d{2}):(\d{2}):(\d{2})(.\d+)?(z|[+-]\d{2}:\d{2})$ with hh <= 23,
 * mm <= 59, ss <= 59 */
static const char *c_datetime(const char *s, char *b, size_t n) {
  (void)b, (void)n;
  size_t len = strlen(s);
  if (len < 4)
    return "invalid datetime";
  char *low = xstrdup(s);
  for (char *p = low; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  bool ok = false;
  char *t = strchr(low, 't');
  if (t && full_date(low, (size_t)(t - low))) {
    const char *tm = t + 1;
    size_t tl = strcspn(tm, "t");
    if (tl >= 9 && digits(tm, 2) && tm[2] == ':' && digits(tm + 3, 2) && tm[5] == ':' && digits(tm + 6, 2) &&
        memcmp(tm, "23", 2) <= 0 && memcmp(tm + 3, "59", 2) <= 0 && memcmp(tm + 6, "59", 2) <= 0) {
      const char *r = tm + 8;
      size_t rl = tl - 8;
      ok = zone(r, rl);
      /* (.\d+): any one character, digits, then the zone */
      for (size_t k = 2; !ok && k < rl && isdigit((unsigned char)r[k - 1]); k++)
        ok = zone(r + k, rl - k);
    }
  }
  free(low);
  return ok ? NULL : "invalid datetime";
}

typedef struct {
  const char *name; /* format.<name>() and format.named("<name>") */
  check_fn check;
  unsigned regex_size; /* upstream's MaxRegexSize, for validate's cost */
} format_t;

static const format_t formats[] = {
  {"dns1123Label", c_label, 30},
  {"dns1123Subdomain", c_subdomain, 60},
  {"dns1035Label", c_1035, 30},
  {"qualifiedName", c_qualified, 60},
  {"dns1123LabelPrefix", c_label_prefix, 30},
  {"dns1123SubdomainPrefix", c_subdomain_prefix, 60},
  {"dns1035LabelPrefix", c_1035_prefix, 30},
  {"labelValue", c_label_value, 40},
  {"uri", c_uri, 1103},
  {"uuid", c_uuid, 83},
  {"byte", c_byte, 84},
  {"date", c_date, 71},
  {"datetime", c_datetime, 71},
};

/* formats are static: the value holds a pointer to its table entry */
static const cel_opaque_type_t format_type = {FORMAT, NULL, NULL};

static cel_value_t *format_value(const format_t *f) {
  return cel_opaque(&format_type, (void *)f);
}

FN(format_named) {
  UNUSED;
  const char *name = cel_value_str(args[0], NULL);
  for (size_t i = 0; i < CEL__N(formats); i++)
    if (!strcmp(formats[i].name, name))
      return cel_optional(format_value(&formats[i]));
  return cel_optional(NULL);
}

FN(format_validate) {
  (void)nargs;
  const format_t *f = cel_value_opaque(args[0]);
  size_t len;
  const char *s = cel_value_str(args[1], &len);
  cel__cost(ret_cost, cel__tenth(1 + cel__size(args[1])) * cel__quarter(f->regex_size));
  /* a NUL inside would end the C string early: check it as DEL, which
   * every format refuses as NUL */
  char *c = xstrndup(s, len);
  for (size_t i = 0; i < len; i++)
    if (!c[i])
      c[i] = 0x7f;
  char buf[1024];
  const char *m = f->check(c, buf, sizeof(buf));
  char *msg = m ? xstrdup(m) : NULL;
  free(c);
  if (!msg)
    return cel_optional(NULL);
  cel_value_t *l = cel_list_new(1);
  cel_list_push(l, cel_stringz(msg));
  free(msg);
  return cel_optional(l);
}

#define CONST_FN(fn, i)                                                                             \
  FN(fn) {                                                                                          \
    UNUSED;                                                                                         \
    return format_value(&formats[i]);                                                               \
  }
CONST_FN(f_label, 0)
CONST_FN(f_subdomain, 1)
CONST_FN(f_1035, 2)
CONST_FN(f_qualified, 3)
CONST_FN(f_label_prefix, 4)
CONST_FN(f_subdomain_prefix, 5)
CONST_FN(f_1035_prefix, 6)
CONST_FN(f_label_value, 7)
CONST_FN(f_uri, 8)
CONST_FN(f_uuid, 9)
CONST_FN(f_byte, 10)
CONST_FN(f_date, 11)
CONST_FN(f_datetime, 12)

static const cel_overload_t overloads[] = {
  {"format.named(string) optional(" FORMAT ")", format_named},
  {FORMAT ".validate(string) optional(list(string))", format_validate},
  {"format.dns1123Label() " FORMAT, f_label},
  {"format.dns1123Subdomain() " FORMAT, f_subdomain},
  {"format.dns1035Label() " FORMAT, f_1035},
  {"format.qualifiedName() " FORMAT, f_qualified},
  {"format.dns1123LabelPrefix() " FORMAT, f_label_prefix},
  {"format.dns1123SubdomainPrefix() " FORMAT, f_subdomain_prefix},
  {"format.dns1035LabelPrefix() " FORMAT, f_1035_prefix},
  {"format.labelValue() " FORMAT, f_label_value},
  {"format.uri() " FORMAT, f_uri},
  {"format.uuid() " FORMAT, f_uuid},
  {"format.byte() " FORMAT, f_byte},
  {"format.date() " FORMAT, f_date},
  {"format.datetime() " FORMAT, f_datetime},
};

const cel_library_t cel_lib_format = {CEL_LIB_K8S, overloads, CEL__N(overloads)};
