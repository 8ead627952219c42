/* cJSON -> YAML through libyaml's emitter, in the shape the Kubernetes API
 * server answers Accept: application/yaml with (sigs.k8s.io/yaml: JSON is
 * read into generic maps and written by go-yaml v2, itself a port of
 * libyaml's emitter): keys sorted, block style, strings that would read
 * back as another type double-quoted, multi-line strings as literal blocks.
 * https://yaml.org/spec/1.1/ */
#include "yaml/encode.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/alloc.h"
#include "util/buf.h"

static int write_cb(void *data, unsigned char *bytes, size_t size) {
  return buf_append(data, bytes, size) == 0;
}

/* Whether a plain scalar s would resolve to something other than a string
 * under YAML 1.1 as go-yaml v2 reads it. */
static bool ambiguous(const char *s) {
  static const char *const words[] = {
      "~",    "null", "Null", "NULL", "true", "True", "TRUE",  "false", "False", "FALSE",
      "yes",  "Yes",  "YES",  "no",   "No",   "NO",   "on",    "On",    "ON",    "off",
      "Off",  "OFF",  "y",    "Y",    "n",    "N",    ".inf",  ".Inf",  ".INF",  "-.inf",
      "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN", "<<", NULL};
  if (!s[0])
    return true;
  for (const char *const *w = words; *w; w++)
    if (!strcmp(s, *w))
      return true;
  /* numbers (underscores allowed, as go-yaml v2 strips them) */
  char clean[128];
  size_t n = 0;
  for (const char *p = s; *p && n + 1 < sizeof(clean); p++)
    if (*p != '_')
      clean[n++] = *p;
  clean[n] = '\0';
  if (n && strlen(s) < sizeof(clean)) {
    char *end;
    const char *c = clean;
    if ((c[0] == '+' || c[0] == '-') && c[1])
      c++;
    if (c[0] == '0' && (c[1] == 'b' || c[1] == 'o')) {
      (void)strtoll(c + 2, &end, c[1] == 'b' ? 2 : 8);
      if (c[2] && !*end)
        return true;
    }
    bool digitish = (c[0] >= '0' && c[0] <= '9') || (c[0] == '.' && c[1] >= '0' && c[1] <= '9');
    if (digitish) {
      (void)strtoll(c, &end, 0);
      if (!*end)
        return true;
      (void)strtod(c, &end);
      if (!*end && !strchr(c, 'x') && !strchr(c, 'X') && !strpbrk(c, "pP"))
        return true;
    }
  }
  /* timestamps: YYYY-M-D... */
  if (strlen(s) >= 8 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
      s[2] <= '9' && s[3] >= '0' && s[3] <= '9' && s[4] == '-' && s[5] >= '0' && s[5] <= '9')
    return true;
  return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev) {
  return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int scalar(yaml_emitter_t *e, const char *text, yaml_scalar_style_t style) {
  yaml_event_t ev;
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                    style))
    return -EIO;
  return emit(e, &ev);
}

static void number_text(double d, char *buf, size_t n) {
  if (d == floor(d) && fabs(d) < 9.2e18) {
    snprintf(buf, n, "%lld", (long long)d);
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, d);
    if (strtod(buf, NULL) == d)
      break;
  }
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static int node(yaml_emitter_t *e, const cJSON *v, int depth) {
  yaml_event_t ev;
  if (depth > 512)
    return -EIO;
  if (cJSON_IsObject(v)) {
    int n = cJSON_GetArraySize(v);
    const cJSON **keys = xmalloc(sizeof(*keys) * (size_t)(n ? n : 1));
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) keys[i++] = c;
    qsort(keys, (size_t)n, sizeof(*keys), cmp_keys);
    int r = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
                ? emit(e, &ev)
                : -EIO;
    for (i = 0; r == 0 && i < n; i++) {
      r = scalar(e, keys[i]->string,
                 ambiguous(keys[i]->string) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
      if (r == 0)
        r = node(e, keys[i], depth + 1);
    }
    free(keys);
    if (r == 0)
      r = yaml_mapping_end_event_initialize(&ev) ? emit(e, &ev) : -EIO;
    return r;
  }
  if (cJSON_IsArray(v)) {
    int r = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE)
                ? emit(e, &ev)
                : -EIO;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
      if (r == 0)
        r = node(e, c, depth + 1);
    }
    if (r == 0)
      r = yaml_sequence_end_event_initialize(&ev) ? emit(e, &ev) : -EIO;
    return r;
  }
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (strchr(s, '\n'))
      style = YAML_LITERAL_SCALAR_STYLE;
    else if (ambiguous(s))
      style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    return scalar(e, s, style);
  }
  if (cJSON_IsNumber(v)) {
    char num[64];
    number_text(v->valuedouble, num, sizeof(num));
    return scalar(e, num, YAML_PLAIN_SCALAR_STYLE);
  }
  if (cJSON_IsBool(v))
    return scalar(e, cJSON_IsTrue(v) ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
  return scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
}

int yaml_emit_json(const cJSON *doc, char **ret_text, size_t *ret_len) {
  yaml_emitter_t e;
  yaml_event_t ev;
  buf_t b;
  buf_init(&b, YAML_EMIT_MAX);
  if (!yaml_emitter_initialize(&e))
    return -ENOMEM;
  yaml_emitter_set_output(&e, write_cb, &b);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_indent(&e, 2);
  int r = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ? emit(&e, &ev) : -EIO;
  if (r == 0)
    r = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ? emit(&e, &ev) : -EIO;
  if (r == 0)
    r = node(&e, doc, 0);
  if (r == 0)
    r = yaml_document_end_event_initialize(&ev, 1) ? emit(&e, &ev) : -EIO;
  if (r == 0)
    r = yaml_stream_end_event_initialize(&ev) ? emit(&e, &ev) : -EIO;
  if (r == 0 && !yaml_emitter_flush(&e))
    r = -EIO;
  if (r < 0 && b.len >= b.limit)
    r = -E2BIG;
  yaml_emitter_delete(&e);
  if (r < 0) {
    buf_done(&b);
    return r;
  }
  *ret_text = buf_steal(&b, ret_len);
  return 0;
}
