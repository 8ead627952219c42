/* Kubernetes' semver CEL library (CEL_LIB_K8S, k8s.io/apiserver/pkg/cel/
 * library/semverlib.go, version 1): semver(), isSemver() with the optional
 * normalize flag, major/minor/patch and the comparisons. Parsing and
 * ordering as github.com/blang/semver/v4 (SemVer 2.0.0), with its error
 * texts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/lib.h"
#include "util/alloc.h"

#define FN(name) static cel_value_t *name(cel_value_t **args, size_t nargs, uint64_t *ret_cost)
#define UNUSED (void)args, (void)nargs, (void)ret_cost
#define SEMVER "kubernetes.Semver"

#define NUMBERS "0123456789"
#define ALPHANUM "-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

typedef struct {
  uint64_t major, minor, patch;
  char *pre; /* dot-separated identifiers, "" for none */
} semver_t;

static void semver_free(void *p) {
  semver_t *v = p;
  if (v)
    free(v->pre);
  free(v);
}

static bool only(const char *s, size_t n, const char *set) {
  for (size_t i = 0; i < n; i++)
    if (!s[i] || !strchr(set, s[i]))
      return false;
  return true;
}

/* Go's %q of s[0..n) after a message */
static void errq(char *err, size_t size, const char *msg, const char *s, size_t n) {
  cel__sb_t sb = {0};
  cel__sb_addz(&sb, msg);
  cel__sb_addc(&sb, ' ');
  cel__go_quote(&sb, s, n);
  snprintf(err, size, "%s", sb.p);
  cel__sb_done(&sb);
}

/* a number part: containsOnly(numbers), no leading zero, ParseUint */
static int number(const char *s, size_t n, const char *what, uint64_t *ret, char *err, size_t size) {
  char msg[96];
  if (!only(s, n, NUMBERS)) {
    snprintf(msg, sizeof(msg), "Invalid character(s) found in %s number", what);
    errq(err, size, msg, s, n);
    return -1;
  }
  if (n > 1 && s[0] == '0') {
    snprintf(msg, sizeof(msg), "%c%s number must not contain leading zeroes", what[0] - 32, what + 1);
    errq(err, size, msg, s, n);
    return -1;
  }
  uint64_t v = 0;
  bool range = false;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      range = true;
    v = v * 10 + d;
  }
  if (n == 0 || range) {
    cel__sb_t sb = {0};
    cel__sb_addz(&sb, "strconv.ParseUint: parsing ");
    cel__go_quote(&sb, s, n);
    cel__sb_addz(&sb, n == 0 ? ": invalid syntax" : ": value out of range");
    snprintf(err, size, "%s", sb.p);
    cel__sb_done(&sb);
    return -1;
  }
  *ret = v;
  return 0;
}

/* blang/semver's Parse */
static int semver_parse(const char *s, semver_t *v, char *err, size_t size) {
  memset(v, 0, sizeof(*v));
  size_t len = strlen(s);
  if (!len) {
    snprintf(err, size, "Version string empty");
    return -1;
  }
  const char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d2) {
    snprintf(err, size, "No Major.Minor.Patch elements found");
    return -1;
  }
  if (number(s, (size_t)(d1 - s), "major", &v->major, err, size) < 0 ||
      number(d1 + 1, (size_t)(d2 - d1 - 1), "minor", &v->minor, err, size) < 0)
    return -1;
  const char *p = d2 + 1, *end = s + len;
  const char *plus = memchr(p, '+', (size_t)(end - p));
  const char *pend = plus ? plus : end;
  const char *dash = memchr(p, '-', (size_t)(pend - p));
  if (number(p, (size_t)((dash ? dash : pend) - p), "patch", &v->patch, err, size) < 0)
    return -1;
  if (dash) {
    const char *q = dash + 1;
    for (;;) {
      const char *e = memchr(q, '.', (size_t)(pend - q));
      size_t n = (size_t)((e ? e : pend) - q);
      if (n == 0) {
        snprintf(err, size, "Prerelease is empty");
        return -1;
      }
      if (only(q, n, NUMBERS)) {
        if (n > 1 && q[0] == '0') {
          errq(err, size, "Numeric PreRelease version must not contain leading zeroes", q, n);
          return -1;
        }
      } else if (!only(q, n, ALPHANUM)) {
        errq(err, size, "Invalid character(s) found in prerelease", q, n);
        return -1;
      }
      if (!e)
        break;
      q = e + 1;
    }
  }
  if (plus) {
    const char *q = plus + 1;
    for (;;) {
      const char *e = memchr(q, '.', (size_t)(end - q));
      size_t n = (size_t)((e ? e : end) - q);
      if (n == 0) {
        snprintf(err, size, "Build meta data is empty");
        return -1;
      }
      if (!only(q, n, ALPHANUM)) {
        errq(err, size, "Invalid character(s) found in build meta data", q, n);
        return -1;
      }
      if (!e)
        break;
      q = e + 1;
    }
  }
  v->pre = dash ? xstrndup(dash + 1, (size_t)(pend - dash - 1)) : xstrdup("");
  return 0;
}

/* upstream's normalizeAndParse: "v" prefix, leading zeros, short forms */
static int semver_parse_normalized(const char *s, semver_t *v, char *err, size_t size) {
  if (*s == 'v')
    s++;
  cel__sb_t sb = {0};
  int parts = 0;
  const char *p = s;
  const char *last = s;
  while (parts < 3) {
    const char *dot = parts < 2 ? strchr(p, '.') : NULL;
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    const char *q = p;
    if (n > 1) {
      while (n && *q == '0')
        q++, n--;
      if (n == 0 || !strchr(NUMBERS, *q) || !*q)
        cel__sb_addc(&sb, '0');
    }
    cel__sb_add(&sb, q, n);
    last = p;
    parts++;
    if (!dot)
      break;
    cel__sb_addc(&sb, '.');
    p = dot + 1;
  }
  if (parts < 3) {
    if (strpbrk(last, "+-")) {
      cel__sb_done(&sb);
      snprintf(err, size, "short version cannot contain PreRelease/Build meta data");
      return -1;
    }
    for (; parts < 3; parts++)
      cel__sb_addz(&sb, ".0");
  }
  int r = semver_parse(sb.p ? sb.p : "", v, err, size);
  cel__sb_done(&sb);
  return r;
}

/* PRVersion.Compare of identifiers a and b */
static int pr_cmp(const char *a, size_t na, const char *b, size_t nb) {
  bool an = only(a, na, NUMBERS), bn = only(b, nb, NUMBERS);
  if (an != bn)
    return an ? -1 : 1;
  if (an) {
    if (na != nb)
      return na < nb ? -1 : 1; /* no leading zeros: longer is larger */
    int c = memcmp(a, b, na);
    return c < 0 ? -1 : c > 0;
  }
  int c = memcmp(a, b, na < nb ? na : nb);
  if (c)
    return c < 0 ? -1 : 1;
  return na < nb ? -1 : na > nb;
}

static int semver_cmp(const semver_t *a, const semver_t *b) {
  if (a->major != b->major)
    return a->major < b->major ? -1 : 1;
  if (a->minor != b->minor)
    return a->minor < b->minor ? -1 : 1;
  if (a->patch != b->patch)
    return a->patch < b->patch ? -1 : 1;
  if (!*a->pre || !*b->pre)
    return (*a->pre ? -1 : 0) + (*b->pre ? 1 : 0);
  const char *p = a->pre, *q = b->pre;
  for (;;) {
    size_t na = strcspn(p, "."), nb = strcspn(q, ".");
    int c = pr_cmp(p, na, q, nb);
    if (c)
      return c;
    bool ea = !p[na], eb = !q[nb];
    if (ea || eb)
      return ea && eb ? 0 : ea ? -1 : 1;
    p += na + 1;
    q += nb + 1;
  }
}

static bool semver_equal(const void *a, const void *b) {
  return semver_cmp(a, b) == 0;
}
static const cel_opaque_type_t semver_type = {SEMVER, semver_free, semver_equal};

static const semver_t *V(const cel_value_t *v) {
  return cel_value_opaque(v);
}

static int parse_arg(cel_value_t **args, size_t nargs, uint64_t *ret_cost, semver_t *v, char *err, size_t size) {
  const char *s = cel_value_str(args[0], NULL);
  cel__cost(ret_cost, cel__tenth(cel__size(args[0])));
  if (nargs > 1 && cel_value_bool(args[1]))
    return semver_parse_normalized(s, v, err, size);
  return semver_parse(s, v, err, size);
}

FN(to_semver) {
  semver_t v;
  char err[512];
  if (parse_arg(args, nargs, ret_cost, &v, err, sizeof(err)) < 0)
    return cel_errorf("%s", err);
  semver_t *c = xmalloc(sizeof(*c));
  *c = v;
  return cel_opaque(&semver_type, c);
}
FN(is_semver) {
  semver_t v;
  char err[512];
  int r = parse_arg(args, nargs, ret_cost, &v, err, sizeof(err));
  if (r == 0)
    free(v.pre);
  return cel_bool(r == 0);
}
FN(sv_major) {
  UNUSED;
  return cel_int((int64_t)V(args[0])->major);
}
FN(sv_minor) {
  UNUSED;
  return cel_int((int64_t)V(args[0])->minor);
}
FN(sv_patch) {
  UNUSED;
  return cel_int((int64_t)V(args[0])->patch);
}
FN(sv_greater) {
  UNUSED;
  return cel_bool(semver_cmp(V(args[0]), V(args[1])) == 1);
}
FN(sv_less) {
  UNUSED;
  return cel_bool(semver_cmp(V(args[0]), V(args[1])) == -1);
}
FN(sv_compare) {
  UNUSED;
  return cel_int(semver_cmp(V(args[0]), V(args[1])));
}

static const cel_overload_t overloads[] = {
  {"semver(string) " SEMVER, to_semver},
  {"semver(string, bool) " SEMVER, to_semver},
  {"isSemver(string) bool", is_semver},
  {"isSemver(string, bool) bool", is_semver},
  {SEMVER ".major() int", sv_major},
  {SEMVER ".minor() int", sv_minor},
  {SEMVER ".patch() int", sv_patch},
  {SEMVER ".isGreaterThan(" SEMVER ") bool", sv_greater},
  {SEMVER ".isLessThan(" SEMVER ") bool", sv_less},
  {SEMVER ".compareTo(" SEMVER ") int", sv_compare},
};

const cel_library_t cel_lib_semver = {CEL_LIB_K8S, overloads, CEL__N(overloads)};
