/* YAML -> cJSON conversion on libyaml events (yaml.h). Scalar typing
 * follows YAML 1.1 core types (https://yaml.org/type/) as used by
 * sigs.k8s.io/yaml, which is what users' manifests are written against. */
#include "yaml/decode.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util/alloc.h"
#include "util/strmap.h"

typedef struct anchor {
  char *name;
  cJSON *value; /* owned copy */
  size_t cost;  /* copy_cost(value) */
  struct anchor *next;
} anchor_t;

typedef struct {
  yaml_parser_t parser;
  anchor_t *anchors; /* every anchor of the document, owned (redefined ones too) */
  strmap_t by_name;  /* anchor name -> its latest anchor_t, keys borrowed from anchors */
  char *err;
  size_t errlen;
  int depth;
  size_t copied; /* bytes copied for anchors and aliases, <= YAML_MAX_COPY_BYTES */
  yaml_dup_cb on_dup; /* NULL: a repeated key fails the parse */
  void *dup_data;
} ctx_t;

static int fail(ctx_t *c, const yaml_mark_t *mark, const char *reason) {
  snprintf(c->err, c->errlen, "line %zu, column %zu: %s", mark->line + 1, mark->column + 1,
           reason);
  return -EINVAL;
}

static int next_event(ctx_t *c, yaml_event_t *ev) {
  if (!yaml_parser_parse(&c->parser, ev)) {
    const char *problem = c->parser.problem ? c->parser.problem : "invalid YAML";
    if (c->parser.context)
      snprintf(c->err, c->errlen, "line %zu, column %zu: %s %s", c->parser.problem_mark.line + 1,
               c->parser.problem_mark.column + 1, problem, c->parser.context);
    else
      snprintf(c->err, c->errlen, "line %zu, column %zu: %s", c->parser.problem_mark.line + 1,
               c->parser.problem_mark.column + 1, problem);
    return -EINVAL;
  }
  return 0;
}

static void anchors_free(ctx_t *c) {
  anchor_t *a = c->anchors;
  c->anchors = NULL;
  strmap_done(&c->by_name);
  strmap_init(&c->by_name);
  while (a) {
    anchor_t *n = a->next;
    free(a->name);
    cJSON_Delete(a->value);
    free(a);
    a = n;
  }
}

/* Roughly what cJSON_Duplicate(v, 1) allocates; stops counting past limit. */
static size_t copy_cost(const cJSON *v, size_t limit) {
  size_t n = sizeof(cJSON);
  if (v->string)
    n += strlen(v->string) + 1;
  if (v->valuestring)
    n += strlen(v->valuestring) + 1;
  for (const cJSON *k = v->child; k && n <= limit; k = k->next)
    n += copy_cost(k, limit - n);
  return n;
}

/* Account for copying cost bytes; fails once the stream's budget is spent. */
static int charge(ctx_t *c, size_t cost, const yaml_mark_t *mark) {
  if (cost > YAML_MAX_COPY_BYTES - c->copied)
    return fail(c, mark, "anchors and aliases expand to too much data");
  c->copied += cost;
  return 0;
}

static int anchor_add(ctx_t *c, const char *name, const cJSON *value, const yaml_mark_t *mark) {
  size_t cost = copy_cost(value, YAML_MAX_COPY_BYTES);
  int r = charge(c, cost, mark);
  if (r < 0)
    return r;
  anchor_t *a = xcalloc(1, sizeof(*a));
  a->name = xstrdup(name);
  a->value = cJSON_Duplicate(value, 1);
  a->cost = cost;
  a->next = c->anchors;
  c->anchors = a;
  if (strmap_set(&c->by_name, a->name, a) < 0)
    return fail(c, mark, "too many anchors");
  return 0;
}

static const anchor_t *anchor_find(ctx_t *c, const char *name) { return strmap_get(&c->by_name, name); }

static int parse_int(const char *s, double *ret) {
  const char *p = s;
  int neg = 0;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (!*p)
    return -1;
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    base = 16, p += 2;
  else if (p[0] == '0' && p[1] == 'o')
    base = 8, p += 2;
  else if (p[0] == '0' && p[1] != '\0')
    base = 8, p += 1;
  if (!*p)
    return -1;
  for (const char *q = p; *q; q++) {
    if (*q == '_')
      continue;
    int d = (*q >= '0' && *q <= '9')   ? *q - '0'
            : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
            : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                       : 99;
    if (d >= base)
      return -1;
  }
  char clean[64];
  size_t n = 0;
  for (const char *q = p; *q; q++) {
    if (*q == '_')
      continue;
    if (n == sizeof(clean) - 1)
      return -1; /* too many digits for any integer: keep it as a string */
    clean[n++] = *q;
  }
  clean[n] = '\0';
  errno = 0;
  unsigned long long v = strtoull(clean, NULL, base);
  if (errno)
    return -1;
  *ret = neg ? -(double)v : (double)v;
  return 0;
}

static int parse_float(const char *s, double *ret) {
  if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, "+.inf")) {
    *ret = INFINITY;
    return 0;
  }
  if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF")) {
    *ret = -INFINITY;
    return 0;
  }
  /* [-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)? or with exponent */
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  int digits = 0, dot = 0, exp = 0;
  for (; *p; p++) {
    if (*p >= '0' && *p <= '9')
      digits++;
    else if (*p == '.' && !dot && !exp)
      dot = 1;
    else if ((*p == 'e' || *p == 'E') && digits && !exp) {
      exp = 1;
      if (p[1] == '+' || p[1] == '-')
        p++;
      if (!(p[1] >= '0' && p[1] <= '9'))
        return -1;
    } else
      return -1;
  }
  if (!digits || (!dot && !exp))
    return -1;
  char *end;
  double v = strtod(s, &end);
  if (*end)
    return -1;
  *ret = v;
  return 0;
}

static cJSON *plain_scalar(const char *s) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
  for (size_t i = 0; i < sizeof(nulls) / sizeof(*nulls); i++)
    if (!strcmp(s, nulls[i]))
      return cJSON_CreateNull();
  /* sigs.k8s.io/yaml (go-yaml v2) treats y/n as strings; only the long forms are bools. */
  for (size_t i = 0; i < sizeof(trues) / sizeof(*trues) - 2; i++)
    if (!strcmp(s, trues[i]))
      return cJSON_CreateTrue();
  for (size_t i = 0; i < sizeof(falses) / sizeof(*falses) - 2; i++)
    if (!strcmp(s, falses[i]))
      return cJSON_CreateFalse();
  double d;
  if (parse_int(s, &d) == 0 || parse_float(s, &d) == 0)
    return cJSON_CreateNumber(d);
  return cJSON_CreateString(s);
}

static int parse_node(ctx_t *c, yaml_event_t *ev, cJSON **ret);

/* Add src's keys (a mapping, or a list of mappings: earlier ones win) that
 * map lacks; keys indexes map's keys and is kept up to date. */
static int merge_into(cJSON *map, strmap_t *keys, const cJSON *src) {
  if (cJSON_IsArray(src)) {
    const cJSON *it;
    cJSON_ArrayForEach(it, src) if (merge_into(map, keys, it) < 0) return -1;
    return 0;
  }
  if (!cJSON_IsObject(src))
    return -1;
  const cJSON *it;
  cJSON_ArrayForEach(it, src) {
    if (strmap_has(keys, it->string))
      continue;
    cJSON *copy = cJSON_Duplicate(it, 1);
    cJSON_AddItemToObject(map, it->string, copy);
    if (strmap_put(keys, copy->string, copy, NULL) < 0)
      return -1;
  }
  return 0;
}

static int parse_mapping(ctx_t *c, yaml_event_t *start, cJSON **ret) {
  cJSON *map = cJSON_CreateObject();
  cJSON *merges = NULL;
  strmap_t keys; /* map's keys, borrowed from its items: duplicates found in O(1) */
  strmap_init(&keys);
  int r = 0;
  for (;;) {
    yaml_event_t kev;
    if ((r = next_event(c, &kev)) < 0)
      goto out;
    if (kev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&kev);
      break;
    }
    if (kev.type != YAML_SCALAR_EVENT) {
      r = fail(c, &kev.start_mark, "mapping keys must be scalars");
      yaml_event_delete(&kev);
      goto out;
    }
    if (strlen((const char *)kev.data.scalar.value) != kev.data.scalar.length) {
      r = fail(c, &kev.start_mark, "strings may not contain the NUL character");
      yaml_event_delete(&kev);
      goto out;
    }
    char *key = xstrdup((const char *)kev.data.scalar.value);
    int is_merge = kev.data.scalar.plain_implicit && !strcmp(key, "<<");
    yaml_mark_t kmark = kev.start_mark;
    yaml_event_delete(&kev);
    yaml_event_t vev;
    cJSON *val = NULL, *dup = NULL;
    if ((r = next_event(c, &vev)) < 0) {
      free(key);
      goto out;
    }
    size_t vline = vev.start_mark.line + 1;
    r = parse_node(c, &vev, &val);
    yaml_event_delete(&vev);
    if (r < 0) {
      free(key);
      goto out;
    }
    if (is_merge) {
      if (!merges)
        merges = cJSON_CreateArray();
      cJSON_AddItemToArray(merges, val);
    } else if (c->on_dup && (dup = strmap_get(&keys, key))) {
      /* the last value wins: it takes over the earlier item's key string,
       * which the map borrows */
      c->on_dup(vline, key, c->dup_data);
      val->string = dup->string;
      dup->string = NULL;
      strmap_set(&keys, val->string, val);
      cJSON_ReplaceItemViaPointer(map, dup, val);
    } else if (strmap_has(&keys, key)) {
      char msg[300];
      snprintf(msg, sizeof(msg), "duplicate key \"%.200s\"", key);
      cJSON_Delete(val);
      free(key);
      r = fail(c, &kmark, msg);
      goto out;
    } else {
      cJSON_AddItemToObject(map, key, val);
      if (strmap_put(&keys, val->string, val, NULL) < 0) {
        free(key);
        r = fail(c, &kmark, "too many keys");
        goto out;
      }
    }
    free(key);
  }
  if (merges && merge_into(map, &keys, merges) < 0) {
    r = fail(c, &start->start_mark, "merge key \"<<\" needs a mapping or a list of mappings");
    goto out;
  }
out:
  strmap_done(&keys);
  cJSON_Delete(merges);
  if (r < 0) {
    cJSON_Delete(map);
    return r;
  }
  *ret = map;
  return 0;
}

static int parse_sequence(ctx_t *c, cJSON **ret) {
  cJSON *arr = cJSON_CreateArray();
  for (;;) {
    yaml_event_t ev;
    int r = next_event(c, &ev);
    if (r < 0) {
      cJSON_Delete(arr);
      return r;
    }
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    cJSON *item = NULL;
    r = parse_node(c, &ev, &item);
    yaml_event_delete(&ev);
    if (r < 0) {
      cJSON_Delete(arr);
      return r;
    }
    cJSON_AddItemToArray(arr, item);
  }
  *ret = arr;
  return 0;
}

static int parse_node(ctx_t *c, yaml_event_t *ev, cJSON **ret) {
  cJSON *val = NULL;
  const char *anchor = NULL;
  int r = 0;
  if (++c->depth > YAML_MAX_DEPTH) {
    c->depth--;
    return fail(c, &ev->start_mark, "nesting too deep");
  }
  switch (ev->type) {
  case YAML_ALIAS_EVENT: {
    const anchor_t *a = anchor_find(c, (const char *)ev->data.alias.anchor);
    if (!a) {
      r = fail(c, &ev->start_mark, "unknown alias");
      break;
    }
    if ((r = charge(c, a->cost, &ev->start_mark)) < 0)
      break;
    val = cJSON_Duplicate(a->value, 1);
    break;
  }
  case YAML_SCALAR_EVENT: {
    anchor = (const char *)ev->data.scalar.anchor;
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (strlen(s) != ev->data.scalar.length) { /* "\0" in a quoted scalar: cJSON cannot hold it */
      r = fail(c, &ev->start_mark, "strings may not contain the NUL character");
      break;
    }
    if (tag && !strcmp(tag, "tag:yaml.org,2002:str"))
      val = cJSON_CreateString(s);
    else if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
      val = plain_scalar(s);
    else if (tag && (!strcmp(tag, "tag:yaml.org,2002:int") || !strcmp(tag, "tag:yaml.org,2002:float") ||
                     !strcmp(tag, "tag:yaml.org,2002:bool") || !strcmp(tag, "tag:yaml.org,2002:null")))
      val = plain_scalar(s);
    else
      val = cJSON_CreateString(s);
    break;
  }
  case YAML_SEQUENCE_START_EVENT:
    anchor = (const char *)ev->data.sequence_start.anchor;
    r = parse_sequence(c, &val);
    break;
  case YAML_MAPPING_START_EVENT:
    anchor = (const char *)ev->data.mapping_start.anchor;
    r = parse_mapping(c, ev, &val);
    break;
  default:
    r = fail(c, &ev->start_mark, "unexpected YAML event");
  }
  c->depth--;
  if (r < 0)
    return r;
  if (anchor && (r = anchor_add(c, anchor, val, &ev->start_mark)) < 0) {
    cJSON_Delete(val);
    return r;
  }
  *ret = val;
  return 0;
}

static int parse_stream(const char *text, size_t len, cJSON **ret_docs, yaml_dup_cb cb,
                        void *data, char *err, size_t errlen) {
  ctx_t c = {.err = err, .errlen = errlen, .on_dup = cb, .dup_data = data};
  cJSON *docs = cJSON_CreateArray();
  int r = 0;
  if (!yaml_parser_initialize(&c.parser)) {
    cJSON_Delete(docs);
    return -ENOMEM;
  }
  yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
  for (;;) {
    yaml_event_t ev;
    if ((r = next_event(&c, &ev)) < 0)
      break;
    yaml_event_type_t t = ev.type;
    if (t == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    if (t != YAML_DOCUMENT_START_EVENT) {
      yaml_event_delete(&ev);
      continue;
    }
    yaml_event_delete(&ev);
    yaml_event_t root;
    if ((r = next_event(&c, &root)) < 0)
      break;
    cJSON *doc = NULL;
    r = parse_node(&c, &root, &doc);
    yaml_event_delete(&root);
    if (r < 0)
      break;
    yaml_event_t end;
    if ((r = next_event(&c, &end)) < 0) {
      cJSON_Delete(doc);
      break;
    }
    yaml_event_delete(&end);
    anchors_free(&c);
    if (cJSON_IsNull(doc))
      cJSON_Delete(doc);
    else
      cJSON_AddItemToArray(docs, doc);
  }
  anchors_free(&c);
  strmap_done(&c.by_name);
  yaml_parser_delete(&c.parser);
  if (r < 0) {
    cJSON_Delete(docs);
    return r;
  }
  *ret_docs = docs;
  return 0;
}

int yaml_parse_stream(const char *text, size_t len, cJSON **ret_docs, char *err, size_t errlen) {
  return parse_stream(text, len, ret_docs, NULL, NULL, err, errlen);
}

int yaml_parse_one_dups(const char *text, size_t len, cJSON **ret_doc, yaml_dup_cb cb, void *data,
                        char *err, size_t errlen) {
  cJSON *docs;
  int r = parse_stream(text, len, &docs, cb, data, err, errlen);
  if (r < 0)
    return r;
  int n = cJSON_GetArraySize(docs);
  if (n > 1) {
    snprintf(err, errlen, "expected one YAML document, found %d", n);
    cJSON_Delete(docs);
    return -EINVAL;
  }
  *ret_doc = n ? cJSON_DetachItemFromArray(docs, 0) : cJSON_CreateNull();
  cJSON_Delete(docs);
  return 0;
}

int yaml_parse_one(const char *text, size_t len, cJSON **ret_doc, char *err, size_t errlen) {
  return yaml_parse_one_dups(text, len, ret_doc, NULL, NULL, err, errlen);
}
