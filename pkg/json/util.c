/* Small cJSON helpers for pkg/json (util.h): deep equality with JSON number
 * semantics (RFC 8259 values; RFC 6902 section 4.6 "test" equality), dotted
 * path lookup and null pruning. */
#include "json/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

bool json_equal(const cJSON *a, const cJSON *b) {
  if (!a || !b)
    return a == b;
  if (cJSON_IsBool(a) || cJSON_IsBool(b))
    return cJSON_IsBool(a) && cJSON_IsBool(b) && cJSON_IsTrue(a) == cJSON_IsTrue(b);
  if ((a->type & 0xff) != (b->type & 0xff))
    return false;
  switch (a->type & 0xff) {
  case cJSON_NULL:
    return true;
  case cJSON_Number:
    return a->valuedouble == b->valuedouble;
  case cJSON_String:
  case cJSON_Raw:
    return a->valuestring && b->valuestring && strcmp(a->valuestring, b->valuestring) == 0;
  case cJSON_Array: {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
      if (!json_equal(x, y))
        return false;
    return !x && !y;
  }
  case cJSON_Object: {
    size_t na = 0, nb = 0;
    for (const cJSON *x = a->child; x; x = x->next) {
      na++;
      const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
      if (!y || !json_equal(x, y))
        return false;
    }
    for (const cJSON *y = b->child; y; y = y->next)
      nb++;
    return na == nb;
  }
  default:
    return false;
  }
}

const cJSON *json_get_path(const cJSON *obj, const char *path) {
  const cJSON *cur = obj;
  const char *p = path;
  while (cur && *p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (!cJSON_IsObject(cur))
      return NULL;
    const cJSON *next = NULL;
    for (const cJSON *c = cur->child; c; c = c->next)
      if (c->string && strlen(c->string) == n && memcmp(c->string, p, n) == 0) {
        next = c;
        break;
      }
    cur = next;
    p = dot ? dot + 1 : p + n;
  }
  return cur;
}

const char *json_str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *json_dup(const cJSON *v) {
  if (!v)
    return NULL;
  cJSON *d = cJSON_Duplicate(v, true);
  if (!d) {
    log_error("json", "out of memory duplicating a JSON value; aborting");
    abort();
  }
  return d;
}

void json_prune_nulls(cJSON *v) {
  if (!v)
    return;
  if (cJSON_IsObject(v)) {
    cJSON *c = v->child;
    while (c) {
      cJSON *next = c->next;
      if (cJSON_IsNull(c))
        cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
      else
        json_prune_nulls(c);
      c = next;
    }
  } else if (cJSON_IsArray(v)) {
    for (cJSON *c = v->child; c; c = c->next)
      json_prune_nulls(c);
  }
}

const char *json_brief(const cJSON *v, char *out, size_t outlen) {
  if (!outlen)
    return out;
  out[0] = '\0';
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  if (s) {
    size_t n = strlen(s);
    if (n >= outlen && outlen > 4) {
      memcpy(out, s, outlen - 4);
      memcpy(out + outlen - 4, "...", 4);
    } else {
      snprintf(out, outlen, "%s", s);
    }
    cJSON_free(s);
  } else {
    snprintf(out, outlen, "null");
  }
  return out;
}

void json_index_init(strmap_t *idx, const cJSON *obj) {
  strmap_init(idx);
  for (cJSON *c = obj ? obj->child : NULL; c; c = c->next)
    if (c->string)
      strmap_put(idx, c->string, c, NULL); /* the first occurrence wins, as GetObjectItem */
}

void json_index_set(cJSON *obj, strmap_t *idx, const char *key, cJSON *value) {
  cJSON *cur = strmap_get(idx, key);
  if (!cur) {
    cJSON_AddItemToObject(obj, key, value);
    strmap_put(idx, value->string, value, NULL);
    return;
  }
  /* give value its key with cJSON's own allocator, then swap it in place */
  cJSON *tmp = cJSON_CreateObject();
  cJSON_AddItemToObject(tmp, key, value);
  cJSON_DetachItemViaPointer(tmp, value);
  cJSON_Delete(tmp);
  strmap_del(idx, key); /* its key string belongs to cur */
  cJSON_ReplaceItemViaPointer(obj, cur, value);
  strmap_put(idx, value->string, value, NULL);
}

void json_index_del(cJSON *obj, strmap_t *idx, const char *key) {
  cJSON *cur = strmap_del(idx, key);
  if (cur)
    cJSON_Delete(cJSON_DetachItemViaPointer(obj, cur));
}
