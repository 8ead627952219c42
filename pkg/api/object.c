/* Object helpers (object.h). Validation messages are upstream's
 * (k8s.io/apimachinery/pkg/util/validation), so kubectl users see the
 * errors they know. */
#include "api/object.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/alloc.h"
#include "util/k8sname.h"

cJSON *obj_child_object(cJSON *parent, const char *key) {
  cJSON *m = cJSON_GetObjectItemCaseSensitive(parent, key);
  if (!cJSON_IsObject(m)) {
    if (m)
      cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
    m = cJSON_AddObjectToObject(parent, key);
  }
  return m;
}

cJSON *obj_child_array(cJSON *parent, const char *key) {
  cJSON *m = cJSON_GetObjectItemCaseSensitive(parent, key);
  if (!cJSON_IsArray(m)) {
    if (m)
      cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
    m = cJSON_AddArrayToObject(parent, key);
  }
  return m;
}

cJSON *obj_meta(cJSON *obj) { return obj_child_object(obj, "metadata"); }

cJSON *obj_gvk(const char *group, const char *version, const char *kind) {
  cJSON *k = cJSON_CreateObject();
  cJSON_AddStringToObject(k, "group", group);
  cJSON_AddStringToObject(k, "version", version);
  cJSON_AddStringToObject(k, "kind", kind);
  return k;
}

const cJSON *obj_get(const cJSON *obj, const char *path) {
  char key[256];
  const cJSON *cur = obj;
  while (cur && *path) {
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    if (len >= sizeof(key))
      return NULL;
    memcpy(key, path, len);
    key[len] = '\0';
    cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
    path += len + (dot ? 1 : 0);
  }
  return cur;
}

const char *obj_str(const cJSON *obj, const char *path) {
  const cJSON *v = obj_get(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

void obj_set(cJSON *obj, const char *key, cJSON *item) {
  if (cJSON_GetObjectItemCaseSensitive(obj, key))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
  else
    cJSON_AddItemToObject(obj, key, item);
}

void obj_set_str(cJSON *obj, const char *key, const char *value) {
  obj_set(obj, key, cJSON_CreateString(value));
}

void obj_time_format(time_t t, char *buf, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t obj_time_parse(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p)
    return -1;
  if (*p == '.')
    for (p++; isdigit((unsigned char)*p); p++)
      ;
  long off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int hh, mm;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
      return -1;
    off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (*p)
    return -1;
  return timegm(&tm) - off;
}

static void random_bytes(unsigned char *b, size_t n) {
  while (n > 0) {
    ssize_t r = getrandom(b, n, 0);
    if (r <= 0)
      abort(); /* the kernel RNG cannot fail on Linux >= 3.17 */
    b += r;
    n -= (size_t)r;
  }
}

void obj_uuid(char *buf, size_t n) {
  unsigned char b[16];
  random_bytes(b, sizeof(b));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(buf, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

void obj_random_suffix(char *buf, size_t n) {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  random_bytes(b, sizeof(b));
  size_t len = strlen(buf);
  for (size_t i = 0; i < 5 && len + 1 < n; i++)
    buf[len++] = alphabet[b[i] % (sizeof(alphabet) - 1)];
  buf[len] = '\0';
}

void obj_human_duration(int64_t s, char *buf, size_t n) {
  if (s < -1) {
    snprintf(buf, n, "<invalid>");
    return;
  }
  if (s < 0)
    s = 0;
  if (s < 120) {
    snprintf(buf, n, "%llds", (long long)s);
    return;
  }
  long long m = s / 60, h = s / 3600, d = h / 24, y = d / 365;
  if (m < 10) {
    if (s % 60)
      snprintf(buf, n, "%lldm%llds", m, (long long)(s % 60));
    else
      snprintf(buf, n, "%lldm", m);
  } else if (m < 180) {
    snprintf(buf, n, "%lldm", m);
  } else if (h < 8) {
    if (m % 60)
      snprintf(buf, n, "%lldh%lldm", h, m % 60);
    else
      snprintf(buf, n, "%lldh", h);
  } else if (h < 48) {
    snprintf(buf, n, "%lldh", h);
  } else if (h < 24 * 8) {
    if (h % 24)
      snprintf(buf, n, "%lldd%lldh", d, h % 24);
    else
      snprintf(buf, n, "%lldd", d);
  } else if (h < 24 * 365 * 2) {
    snprintf(buf, n, "%lldd", d);
  } else if (h < 24 * 365 * 8) {
    if (d % 365)
      snprintf(buf, n, "%lldy%lldd", y, d % 365);
    else
      snprintf(buf, n, "%lldy", y);
  } else {
    snprintf(buf, n, "%lldy", y);
  }
}

const char *obj_check_dns1123_label(const char *s) {
  return k8sname_check_dns1123_label(s);
}

const char *obj_check_dns1123_subdomain(const char *s) {
  return k8sname_check_dns1123_subdomain(s);
}

const char *obj_check_path_segment(const char *s) {
  if (!strcmp(s, ".") || !strcmp(s, ".."))
    return "may not be '.' or '..'";
  if (strchr(s, '/'))
    return "may not contain '/'";
  if (strchr(s, '%'))
    return "may not contain '%'";
  return NULL;
}

const char *obj_check_qualified_name(const char *s) {
  return k8sname_check_qualified_name(s);
}

const char *obj_check_label_value(const char *s) {
  return k8sname_check_label_value(s);
}

void obj_set_default(cJSON *o, const char *key, cJSON *v) {
  if (cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_AddItemToObject(o, key, v);
  else
    cJSON_Delete(v);
}
