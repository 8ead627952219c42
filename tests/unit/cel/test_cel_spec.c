/* tests/unit/cel/test_cel_spec.c: k3c's CEL (pkg/cel) against the CEL
 * specification's own conformance data (tests/data/cel-spec, google/cel-spec
 * tests/simple/testdata). Every test of every file is compiled (result
 * ANY) and evaluated in an environment with Kubernetes' libraries, its
 * result compared with the expected one; the pass rate of the basic suites
 * (below) must be at least 95 %. Failures are printed as TAP diagnostics
 * for the implementers:  # FAIL file/section/name: expr -> got X, want Y
 *
 * Each test runs in a child process (fork), so that a crash or a hang
 * (10 s) fails that test only. Work in progress until pkg/cel lands
 * (branches celeval, celcheck, cellib): built only when cel_dep exists.
 * Environment:
 *   CEL_SPEC_ONLY=substring   run only tests whose file/section/name contains it,
 *                             and print every failure
 *   CEL_SPEC_NOFORK=1         run in this process (for a debugger / leak check)
 *   CEL_SPEC_STDERR=1         keep the children's stderr (sanitizer reports)
 *   CEL_SPEC_MAX_FAILS=N      print at most N failures (default 200) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cel/cel.h"
#include "cel/value.h"
#include "spec_reader.h"
#include "util/alloc.h"

/* The files about the core language and the standard library that a
 * Kubernetes CEL environment offers (tests/data/cel-spec/README.md says
 * the same). The others are run and reported, outside the figure. */
static const char *const basic_suites[] = {
    "basic",  "comparisons", "conversions", "fields", "fp_math",    "integer_math",
    "lists",  "logic",       "macros",      "namespace", "optionals",
    "parse",  "plumbing",    "string",      "string_ext", "timestamps",
};

static bool is_basic(const char *file) {
  for (size_t i = 0; i < sizeof(basic_suites) / sizeof(basic_suites[0]); i++)
    if (strcmp(file, basic_suites[i]) == 0)
      return true;
  return false;
}

/* ---- building the environment ---- */

/* A declared type as the OpenAPI schema k3c maps to it (cel.h's
 * cel_type_from_schema); NULL for dyn. uint, null, wrappers, type
 * parameters ... have no schema and are dyn. */
static cJSON *type_schema(const spec_type_t *t) {
  cJSON *s = cJSON_CreateObject();
  switch (t->kind) {
  case SPEC_T_BOOL: cJSON_AddStringToObject(s, "type", "boolean"); break;
  case SPEC_T_INT: cJSON_AddStringToObject(s, "type", "integer"); break;
  case SPEC_T_DOUBLE: cJSON_AddStringToObject(s, "type", "number"); break;
  case SPEC_T_STRING: cJSON_AddStringToObject(s, "type", "string"); break;
  case SPEC_T_BYTES:
    cJSON_AddStringToObject(s, "type", "string");
    cJSON_AddStringToObject(s, "format", "byte");
    break;
  case SPEC_T_TIMESTAMP:
    cJSON_AddStringToObject(s, "type", "string");
    cJSON_AddStringToObject(s, "format", "date-time");
    break;
  case SPEC_T_DURATION:
    cJSON_AddStringToObject(s, "type", "string");
    cJSON_AddStringToObject(s, "format", "duration");
    break;
  case SPEC_T_LIST:
    cJSON_AddStringToObject(s, "type", "array");
    cJSON_AddItemToObject(s, "items", type_schema(t->elem));
    break;
  case SPEC_T_MAP:
    if (t->key->kind == SPEC_T_STRING) {
      cJSON_AddStringToObject(s, "type", "object");
      cJSON_AddItemToObject(s, "additionalProperties", type_schema(t->val));
      break;
    }
    /* other keys have no schema */
    __attribute__((fallthrough));
  default: cJSON_AddBoolToObject(s, "x-kubernetes-preserve-unknown-fields", true); break;
  }
  return s;
}

static cel_type_t *decl_type(const spec_type_t *t) {
  cJSON *s = type_schema(t);
  cel_type_t *ct = cel_type_from_schema(s);
  cJSON_Delete(s);
  return ct;
}

static cel_value_t *to_cel(const spec_value_t *v) {
  switch (v->kind) {
  case SPEC_NULL: return cel_null();
  case SPEC_BOOL: return cel_bool(v->b);
  case SPEC_INT: return cel_int(v->i);
  case SPEC_UINT: return cel_uint(v->u);
  case SPEC_DOUBLE: return cel_double(v->d);
  case SPEC_STRING: return cel_string(v->str, v->len);
  case SPEC_BYTES: return cel_bytes(v->str, v->len);
  case SPEC_TYPE: return cel_type_value(v->str);
  case SPEC_TIMESTAMP: return cel_timestamp(v->i, v->nanos);
  case SPEC_DURATION: return cel_duration(v->i, v->nanos);
  case SPEC_LIST: {
    cel_value_t *l = cel_list_new(v->n);
    for (size_t i = 0; i < v->n; i++)
      cel_list_push(l, to_cel(v->items[i]));
    return l;
  }
  case SPEC_MAP: {
    cel_value_t *m = cel_map_new(v->n);
    for (size_t i = 0; i < v->n; i++)
      cel_map_put(m, to_cel(v->items[i]), to_cel(v->items[v->n + i]));
    return m;
  }
  case SPEC_ENUM:
  case SPEC_MESSAGE: break; /* skipped before: spec_test_needs_proto */
  }
  return cel_errorf("unsupported test value");
}

/* ---- comparing ---- */

/* Equal in value and in type: 1 == 1u is true in CEL, but a test that
 * wants 1 is not passed by 1u. Doubles: NaN matches NaN. */
static bool same(const cel_value_t *got, const cel_value_t *want) {
  cel_kind_t k = cel_value_kind(want);
  if (cel_value_kind(got) != k)
    return false;
  switch (k) {
  case CEL_DOUBLE: {
    double a = cel_value_double(got), b = cel_value_double(want);
    return (isnan(a) && isnan(b)) || a == b;
  }
  case CEL_TYPE: return strcmp(cel_value_type_value_name(got), cel_value_type_value_name(want)) == 0;
  case CEL_LIST:
    if (cel_list_len(got) != cel_list_len(want))
      return false;
    for (size_t i = 0; i < cel_list_len(want); i++)
      if (!same(cel_list_at(got, i), cel_list_at(want, i)))
        return false;
    return true;
  case CEL_MAP:
    if (cel_map_len(got) != cel_map_len(want))
      return false;
    for (size_t i = 0; i < cel_map_len(want); i++) {
      cel_value_t *wk, *wv;
      cel_map_entry(want, i, &wk, &wv);
      bool found = false;
      for (size_t j = 0; j < cel_map_len(got) && !found; j++) {
        cel_value_t *gk, *gv;
        cel_map_entry(got, j, &gk, &gv);
        if (same(gk, wk)) {
          if (!same(gv, wv))
            return false;
          found = true;
        }
      }
      if (!found)
        return false;
    }
    return true;
  case CEL_OPTIONAL: {
    const cel_value_t *a = cel_value_optional(got), *b = cel_value_optional(want);
    return (!a && !b) || (a && b && same(a, b));
  }
  default: return cel_value_equal(got, want);
  }
}

/* ---- printing ---- */

typedef struct {
  char *p;
  size_t len, cap;
} text_t;

static void text_add(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (t->len + (size_t)n + 1 > t->cap) {
    t->cap = (t->len + (size_t)n + 1) * 2;
    t->p = xrealloc(t->p, t->cap);
  }
  va_start(ap, fmt);
  vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

static void text_quoted(text_t *t, const char *s, size_t len, bool bytes) {
  text_add(t, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      text_add(t, "\\%c", c);
    else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80))
      text_add(t, "\\x%02x", c);
    else
      text_add(t, "%c", c);
  }
  text_add(t, "\"");
}

/* As spec_value_str prints the expected value, so the two line up. */
static void text_value(text_t *t, const cel_value_t *v, int depth) {
  if (depth > 20) {
    text_add(t, "...");
    return;
  }
  size_t len;
  const char *s;
  int64_t sec;
  int32_t ns;
  switch (cel_value_kind(v)) {
  case CEL_NULL: text_add(t, "null"); break;
  case CEL_BOOL: text_add(t, "%s", cel_value_bool(v) ? "true" : "false"); break;
  case CEL_INT: text_add(t, "%lld", (long long)cel_value_int(v)); break;
  case CEL_UINT: text_add(t, "%lluu", (unsigned long long)cel_value_uint(v)); break;
  case CEL_DOUBLE: text_add(t, "%.17g", cel_value_double(v)); break;
  case CEL_STRING:
    s = cel_value_str(v, &len);
    text_quoted(t, s, len, false);
    break;
  case CEL_BYTES:
    s = cel_value_str(v, &len);
    text_add(t, "b");
    text_quoted(t, s, len, true);
    break;
  case CEL_TYPE: text_add(t, "type(%s)", cel_value_type_value_name(v)); break;
  case CEL_TIMESTAMP:
  case CEL_DURATION:
    cel_value_time(v, &sec, &ns);
    text_add(t, "%s(%llds+%dns)", cel_value_kind(v) == CEL_TIMESTAMP ? "timestamp" : "duration", (long long)sec, ns);
    break;
  case CEL_LIST:
    text_add(t, "[");
    for (size_t i = 0; i < cel_list_len(v); i++) {
      text_add(t, i ? ", " : "");
      text_value(t, cel_list_at(v, i), depth + 1);
    }
    text_add(t, "]");
    break;
  case CEL_MAP:
    text_add(t, "{");
    for (size_t i = 0; i < cel_map_len(v); i++) {
      cel_value_t *k, *val;
      cel_map_entry(v, i, &k, &val);
      text_add(t, i ? ", " : "");
      text_value(t, k, depth + 1);
      text_add(t, ": ");
      text_value(t, val, depth + 1);
    }
    text_add(t, "}");
    break;
  case CEL_OPTIONAL:
    if (cel_value_optional(v)) {
      text_add(t, "optional.of(");
      text_value(t, cel_value_optional(v), depth + 1);
      text_add(t, ")");
    } else {
      text_add(t, "optional.none()");
    }
    break;
  case CEL_OPAQUE: text_add(t, "%s(...)", cel_value_type_name(v)); break;
  case CEL_ERROR: text_add(t, "error(%s)", cel_value_error(v)); break;
  }
}

/* ---- running one test ---- */

typedef enum { R_PASS, R_FAIL, R_SKIP_PROTO, R_SKIP_OTHER } result_t;

/* Why the harness cannot run t other than needing protobuf messages. */
static const char *skip_reason(const spec_test_t *t) {
  if (t->check_only)
    return "check_only (the checker's deduced type only)";
  if (t->expect == SPEC_EXPECT_UNKNOWN)
    return "unknown sets";
  if (t->container[0])
    return "a container (name resolution; k3c's API has none, Kubernetes sets none)";
  for (size_t i = 0; i < t->ndecls; i++)
    if (!t->decls[i].type)
      return "declares a function";
  for (size_t i = 0; i < t->nbindings; i++)
    if (!t->bindings[i].value)
      return "a binding that is an error or unknown";
  return NULL;
}

static bool declared(const spec_test_t *t, const char *name) {
  for (size_t i = 0; i < t->ndecls; i++)
    if (strcmp(t->decls[i].name, name) == 0)
      return true;
  return false;
}

/* Runs t; on failure *ret_why says what went wrong (caller frees). */
static result_t run_test(const spec_test_t *t, char **ret_why) {
  /* cel-spec's literals may mix types; Kubernetes' may not (cel.h) */
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES | CEL_LIB_HETEROGENEOUS_LITERALS);
  cel_activation_t *act = cel_activation_new();
  cel_program_t *p = NULL;
  cel_value_t *got = NULL, *want = NULL;
  cel_error_t err = {{0}};
  text_t why = {0};
  result_t r = R_FAIL;

  for (size_t i = 0; i < t->ndecls; i++)
    cel_env_declare(env, t->decls[i].name, decl_type(t->decls[i].type));
  for (size_t i = 0; i < t->nbindings; i++) {
    if (!declared(t, t->bindings[i].name))
      cel_env_declare(env, t->bindings[i].name, cel_type_dyn());
    cel_value_t *v = to_cel(t->bindings[i].value);
    cel_activation_set_value(act, t->bindings[i].name, v);
    cel_value_unref(v);
  }

  p = t->disable_check ? cel_compile_unchecked(env, t->expr, &err) : cel_compile(env, t->expr, CEL_RESULT_ANY, &err);
  if (!p) {
    text_add(&why, "compile error: %s", err.message);
    goto out;
  }
  int rc = cel_eval(p, act, 0, NULL, &got, &err);
  if (rc < 0 || cel_value_kind(got) == CEL_ERROR) {
    if (t->expect == SPEC_EXPECT_ERROR) {
      r = R_PASS;
      goto out;
    }
    text_add(&why, "got error(%s)", rc < 0 ? err.message : cel_value_error(got));
  } else {
    text_add(&why, "got ");
    text_value(&why, got, 0);
    if (t->expect == SPEC_EXPECT_VALUE) {
      want = to_cel(t->value);
      if (same(got, want)) {
        r = R_PASS;
        goto out;
      }
    }
  }
  if (t->expect == SPEC_EXPECT_ERROR) {
    text_add(&why, ", want error(%s)", t->error);
  } else {
    char *w = spec_value_str(t->value);
    text_add(&why, ", want %s", w);
    free(w);
  }

out:
  cel_value_unref(got);
  cel_value_unref(want);
  cel_program_free(p);
  cel_activation_free(act);
  cel_env_free(env);
  if (r == R_FAIL)
    *ret_why = why.p ? why.p : xstrdup("failed");
  else
    free(why.p);
  return r;
}

/* run_test in a child: a crash or hang fails this test only. */
static result_t run_test_isolated(const spec_test_t *t, char **ret_why) {
  int fds[2];
  if (pipe(fds) < 0)
    return run_test(t, ret_why);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return run_test(t, ret_why);
  }
  if (pid == 0) {
    close(fds[0]);
    if (!getenv("CEL_SPEC_STDERR")) {
      int dn = open("/dev/null", O_WRONLY);
      if (dn >= 0)
        dup2(dn, 2);
    }
    alarm(10);
    char *why = NULL;
    result_t r = run_test(t, &why);
    char c = (char)('0' + r);
    ssize_t w = write(fds[1], &c, 1);
    if (why && w == 1) {
      size_t len = strlen(why), off = 0;
      while (off < len && (w = write(fds[1], why + off, len - off)) > 0)
        off += (size_t)w;
    }
    _exit(0); /* no exit handlers (nor a leak check of the parent's heap) */
  }
  close(fds[1]);
  text_t msg = {0};
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      text_add(&msg, "%.*s", (int)n, buf);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (msg.len == 0) {
    free(msg.p);
    if (WIFSIGNALED(status))
      *ret_why = WTERMSIG(status) == SIGALRM ? xstrdup("timed out (10 s)")
                                             : xasprintf("crashed (signal %d)", WTERMSIG(status));
    else
      *ret_why = xasprintf("child exited with %d and no result", WEXITSTATUS(status));
    return R_FAIL;
  }
  result_t r = (result_t)(msg.p[0] - '0');
  if (r == R_FAIL)
    *ret_why = xstrdup(msg.len > 1 ? msg.p + 1 : "failed");
  free(msg.p);
  return r;
}

/* ---- the suites ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The .textproto files of CEL_SPEC_DIR, sorted. */
static size_t list_files(char ***ret) {
  DIR *d = opendir(CEL_SPEC_DIR);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len > 10 && strcmp(e->d_name + len - 10, ".textproto") == 0) {
      names = xrealloc(names, (n + 1) * sizeof(*names));
      names[n++] = xstrndup(e->d_name, len - 10);
    }
  }
  if (d)
    closedir(d);
  if (n)
    qsort(names, n, sizeof(*names), cmp_str);
  *ret = names;
  return n;
}

/* One line, for a diagnostic: newlines become spaces. */
static void print_flat(const char *s) {
  for (; *s; s++)
    putchar(*s == '\n' || *s == '\r' ? ' ' : *s);
}

/* TAP: one line asserting the figure, after the per-file diagnostics. */
int main(void) {
  printf("1..1\n");
  const char *only = getenv("CEL_SPEC_ONLY");
  bool nofork = getenv("CEL_SPEC_NOFORK") != NULL;
  const char *mf = getenv("CEL_SPEC_MAX_FAILS");
  long max_fails = mf ? strtol(mf, NULL, 10) : only ? 100000 : 200;
  long printed = 0;
  size_t basic[4] = {0}, all[4] = {0};
  char **files;
  size_t nfiles = list_files(&files);
  if (nfiles < 20) {
    printf("# %zu .textproto files in %s\nnot ok 1 - cel-spec data present\n", nfiles, CEL_SPEC_DIR);
    return 1;
  }

  for (size_t fi = 0; fi < nfiles; fi++) {
    char path[1024], err[512] = "";
    snprintf(path, sizeof(path), "%s/%s.textproto", CEL_SPEC_DIR, files[fi]);
    spec_file_t *f = NULL;
    if (spec_file_read(path, &f, err, sizeof(err)) < 0) {
      printf("# %s\nnot ok 1 - cel-spec data readable\n", err);
      return 1;
    }
    size_t count[4] = {0};
    for (size_t si = 0; si < f->nsections; si++) {
      const spec_section_t *s = &f->sections[si];
      for (size_t ti = 0; ti < s->ntests; ti++) {
        const spec_test_t *t = &s->tests[ti];
        char id[512];
        snprintf(id, sizeof(id), "%s/%s/%s", files[fi], s->name, t->name);
        if (only && !strstr(id, only))
          continue;
        result_t r;
        char *why = NULL;
        if (spec_test_needs_proto(t))
          r = R_SKIP_PROTO;
        else if (skip_reason(t))
          r = R_SKIP_OTHER;
        else
          r = nofork ? run_test(t, &why) : run_test_isolated(t, &why);
        count[r]++;
        if (r == R_FAIL && printed < max_fails) {
          printed++;
          printf("# FAIL %s: ", id);
          print_flat(t->expr);
          printf(" -> ");
          print_flat(why);
          printf("\n");
        } else if (r == R_SKIP_OTHER && only) {
          printf("# SKIP %s: %s\n", id, skip_reason(t));
        }
        free(why);
      }
    }
    bool b = is_basic(files[fi]);
    for (int k = 0; k < 4; k++) {
      all[k] += count[k];
      if (b)
        basic[k] += count[k];
    }
    if (count[R_PASS] + count[R_FAIL] + count[R_SKIP_PROTO] + count[R_SKIP_OTHER])
      printf("# %-15s %4zu passed, %4zu failed, %4zu skipped (%zu need protobuf messages, %zu other)%s\n",
             files[fi], count[R_PASS], count[R_FAIL], count[R_SKIP_PROTO] + count[R_SKIP_OTHER],
             count[R_SKIP_PROTO], count[R_SKIP_OTHER], b ? "" : "  [not basic]");
    spec_file_free(f);
    free(files[fi]);
  }
  free(files);
  size_t ran = basic[R_PASS] + basic[R_FAIL];
  double rate = ran ? 100.0 * (double)basic[R_PASS] / (double)ran : 0.0;
  printf("# all files: %zu passed, %zu failed, %zu skipped (%zu need protobuf messages)\n", all[R_PASS],
         all[R_FAIL], all[R_SKIP_PROTO] + all[R_SKIP_OTHER], all[R_SKIP_PROTO]);
  printf("# cel-spec basic suites: %zu/%zu passed (%.1f %%); skipped %zu needing protobuf messages, %zu other\n",
         basic[R_PASS], ran, rate, basic[R_SKIP_PROTO], basic[R_SKIP_OTHER]);
  bool ok = ran > 0 && rate >= 95.0;
  printf("%s 1 - cel-spec basic suites: %zu/%zu passed (%.1f %%), target >= 95 %%\n", ok ? "ok" : "not ok",
         basic[R_PASS], ran, rate);
  return ok ? 0 : 1;
}
