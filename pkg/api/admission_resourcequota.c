/* ResourceQuota admission (upstream's plugin/pkg/admission/resourcequota):
 * a create is refused when it would take a quota of its namespace past
 * status.hard, or when a compute quota exists and a pod's container does
 * not set the constrained value; otherwise the quotas' status.used are
 * charged at once (stored with the revision read, so creates one after
 * the other on the loop see each other's charges and cannot overshoot).
 * The resource quota controller later recounts from the objects.
 * https://kubernetes.io/docs/concepts/policy/resource-quotas/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admission.h"
#include "api/object.h"
#include "api/quota.h"
#include "util/alloc.h"
#include "util/buf.h"

#define QUOTAS_MAX 64

typedef struct {
  char names[QUOTAS_MAX][256];
  int n;
} qnames_t;

static bool collect(const cJSON *q, void *data) {
  qnames_t *qn = data;
  const char *name = obj_str(q, "metadata.name");
  if (name)
    snprintf(qn->names[qn->n++], sizeof(qn->names[0]), "%s", name);
  return qn->n < QUOTAS_MAX;
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* upstream's prettyPrint: "k=v,k2=v2" sorted by name, of the names in keys */
static void pretty(buf_t *b, const cJSON *list, const cJSON *keys) {
  const char *names[256];
  size_t n = 0;
  const cJSON *k;
  cJSON_ArrayForEach(k, keys) {
    if (n < 256)
      names[n++] = k->valuestring;
  }
  qsort(names, n, sizeof(char *), key_cmp);
  for (size_t i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(list, names[i]);
    buf_printf(b, "%s%s=%s", i ? "," : "", names[i], cJSON_IsString(v) ? v->valuestring : "0");
  }
}

static void pretty_names(buf_t *b, const cJSON *keys) {
  const char *names[256];
  size_t n = 0;
  const cJSON *k;
  cJSON_ArrayForEach(k, keys) {
    if (n < 256)
      names[n++] = k->valuestring;
  }
  qsort(names, n, sizeof(char *), key_cmp);
  for (size_t i = 0; i < n; i++)
    buf_printf(b, "%s%s", i ? "," : "", names[i]);
}

typedef struct {
  cJSON *quota;
  cJSON *used; /* the new status.used */
  int64_t rev;
  char *key;
} pick_t;

int api__validate_resourcequota(api_admission_t *a, api_status_t *st) {
  if (a->old || (a->sub && a->sub[0]))
    return 0; /* creates only: updates do not change what k3c counts */
  const char *ns = obj_str(a->obj, "metadata.namespace");
  const api_resource_t *qres = api_registry_find_kind("", "ResourceQuota");
  if (!ns || !ns[0] || !qres)
    return 0;
  qnames_t *qn = xcalloc(1, sizeof(*qn));
  api__admission_each(a->srv, qres, ns, QUOTAS_MAX, collect, qn);
  if (!qn->n) {
    free(qn);
    return 0;
  }
  const char *group = a->res->s->group, *resource = a->res->s->plural;
  bool is_pod = !group[0] && !strcmp(resource, "pods");
  cJSON *delta = api_quota_usage(group, resource, a->obj);
  pick_t picks[QUOTAS_MAX];
  int np = 0, rc = 0;
  buf_t why;
  buf_init(&why, 64 << 10);
  for (int i = 0; i < qn->n && rc == 0; i++) {
    char *key = api_resource_key(qres, ns, qn->names[i]);
    store_kv_t *kv = NULL;
    cJSON *q = NULL, *restricted = NULL, *requested = NULL, *used = NULL;
    if (store_get_latest(a->srv->store, key, &kv) < 0 || !kv ||
        !(q = cJSON_ParseWithLength(kv->value, kv->len)))
      goto next;
    if (obj_get(q, "spec.scopes") || obj_get(q, "spec.scopeSelector"))
      goto next; /* scoped quotas are not evaluated (docs/STATUS.md) */
    const cJSON *hard = obj_get(q, "status.hard"), *h;
    restricted = cJSON_CreateArray();
    cJSON_ArrayForEach(h, hard) {
      if (api_quota_matches(group, resource, h->string))
        cJSON_AddItemToArray(restricted, cJSON_CreateString(h->string));
    }
    if (!cJSON_GetArraySize(restricted))
      goto next;
    if (is_pod) {
      char *missing = api_quota_pod_missing(a->obj, restricted);
      if (missing) {
        buf_printf(&why, "failed quota: %s: must specify %s", qn->names[i], missing);
        free(missing);
        rc = -EPERM;
        goto next;
      }
    }
    const cJSON *cur_used = obj_get(q, "status.used"), *r;
    cJSON_ArrayForEach(r, restricted) {
      if (!cJSON_GetObjectItemCaseSensitive(cur_used, r->valuestring)) {
        buf_printf(&why, "status unknown for quota: %s, resources: ", qn->names[i]);
        pretty_names(&why, restricted);
        rc = -EPERM;
        goto next;
      }
    }
    requested = cJSON_CreateObject();
    const cJSON *d;
    cJSON_ArrayForEach(d, delta) {
      if (cJSON_GetObjectItemCaseSensitive(hard, d->string))
        cJSON_AddItemToObject(requested, d->string, cJSON_Duplicate(d, 1));
    }
    if (!requested->child)
      goto next;
    used = cJSON_IsObject(cur_used) ? cJSON_Duplicate(cur_used, 1) : cJSON_CreateObject();
    api_quota_add(used, requested);
    cJSON *exceeded = cJSON_CreateArray();
    cJSON_ArrayForEach(d, requested) {
      const cJSON *nv = cJSON_GetObjectItemCaseSensitive(used, d->string);
      const cJSON *hv = cJSON_GetObjectItemCaseSensitive(hard, d->string);
      if (cJSON_IsString(nv) && cJSON_IsString(hv) &&
          api_quota_cmp(nv->valuestring, hv->valuestring) > 0)
        cJSON_AddItemToArray(exceeded, cJSON_CreateString(d->string));
    }
    if (cJSON_GetArraySize(exceeded)) {
      buf_printf(&why, "exceeded quota: %s, requested: ", qn->names[i]);
      pretty(&why, requested, exceeded);
      buf_printf(&why, ", used: ");
      pretty(&why, cur_used, exceeded);
      buf_printf(&why, ", limited: ");
      pretty(&why, hard, exceeded);
      rc = -EPERM;
    } else {
      picks[np++] = (pick_t){.quota = q, .used = used, .rev = kv->mod_rev, .key = key};
      q = NULL;
      used = NULL;
      key = NULL;
    }
    cJSON_Delete(exceeded);
  next:
    cJSON_Delete(used);
    cJSON_Delete(requested);
    cJSON_Delete(restricted);
    cJSON_Delete(q);
    store_kv_unref(kv);
    free(key);
  }
  if (rc < 0)
    api__admission_forbidden(a, st, why.data ? why.data : "");
  bool dry = a->req && api__dry_run(a->req);
  for (int i = 0; i < np; i++) {
    if (rc == 0 && !dry) {
      cJSON *status = obj_child_object(picks[i].quota, "status");
      obj_set(status, "used", picks[i].used);
      picks[i].used = NULL;
      api__submit(a->srv, NULL, qres, NULL, STORE_OP_UPDATE, picks[i].key, picks[i].quota,
                  picks[i].rev, 200, API_REPLY_OBJECT, false);
    } else {
      cJSON_Delete(picks[i].quota);
      free(picks[i].key);
    }
    cJSON_Delete(picks[i].used);
  }
  buf_done(&why);
  cJSON_Delete(delta);
  free(qn);
  return rc;
}
