/* Field helpers shared by the controllers (internal.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/internal.h"
#include "json/util.h"

const char *controller__str(const cJSON *obj, const char *path) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

double controller__num(const cJSON *obj, const char *path, double dflt) {
  const cJSON *v = json_get_path(obj, path);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

const cJSON *controller__ref(const cJSON *obj) {
  const cJSON *r;
  cJSON_ArrayForEach(r, json_get_path(obj, "metadata.ownerReferences")) {
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller")))
      return r;
  }
  return NULL;
}

bool controller__owned_by(const cJSON *obj, const char *kind, const char *uid) {
  const cJSON *r = controller__ref(obj);
  const char *k = controller__str(r, "kind"), *u = controller__str(r, "uid");
  return r && k && u && uid && !strcmp(k, kind) && !strcmp(u, uid);
}

void controller__now(char *out, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t controller__time(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
    return 0;
  return timegm(&tm);
}

cJSON *controller__owner_ref(const cJSON *owner, const char *api_version, const char *kind) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "apiVersion", api_version);
  cJSON_AddStringToObject(r, "kind", kind);
  const char *name = controller__str(owner, "metadata.name");
  const char *uid = controller__str(owner, "metadata.uid");
  cJSON_AddStringToObject(r, "name", name ? name : "");
  cJSON_AddStringToObject(r, "uid", uid ? uid : "");
  cJSON_AddTrueToObject(r, "controller");
  cJSON_AddTrueToObject(r, "blockOwnerDeletion");
  return r;
}

void controller__template_hash(const cJSON *tmpl, long collisions, char *out, size_t len) {
  cJSON *t = tmpl ? cJSON_Duplicate(tmpl, 1) : cJSON_CreateObject();
  json_prune_nulls(t);
  char *text = cJSON_PrintUnformatted(t);
  cJSON_Delete(t);
  uint32_t h = 2166136261u;
  for (const char *p = text; p && *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  free(text);
  if (collisions) {
    char c[32];
    snprintf(c, sizeof(c), "%ld", collisions);
    for (const char *p = c; *p; p++)
      h = (h ^ (unsigned char)*p) * 16777619u;
  }
  static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
  char dec[16];
  snprintf(dec, sizeof(dec), "%u", h);
  size_t i = 0;
  for (; dec[i] && i + 1 < len; i++)
    out[i] = alnum[(unsigned char)dec[i] % (sizeof(alnum) - 1)];
  out[i] = '\0';
}

void controller__trigger_time(const cJSON *svc, const cJSON *const *pods, size_t n, char *out,
                              size_t len) {
  const char *best = controller__str(svc, "metadata.creationTimestamp");
  time_t bt = controller__time(best);
  for (size_t i = 0; i < n; i++) {
    const char *t = controller__str(pods[i], "metadata.creationTimestamp");
    const cJSON *c;
    cJSON_ArrayForEach(c, json_get_path(pods[i], "status.conditions")) {
      const char *type = controller__str(c, "type");
      if (type && !strcmp(type, "Ready") && controller__str(c, "lastTransitionTime"))
        t = controller__str(c, "lastTransitionTime");
    }
    time_t tt = controller__time(t);
    if (tt > bt) {
      bt = tt;
      best = t;
    }
  }
  snprintf(out, len, "%s", best ? best : "");
}

bool controller__namespace_terminating(const cJSON *ns) {
  const char *phase = controller__str(ns, "status.phase");
  return controller__str(ns, "metadata.deletionTimestamp") ||
         (phase && !strcmp(phase, "Terminating"));
}
