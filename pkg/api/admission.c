/* The built-in admission chain: the compiled-in plugins of upstream's
 * kube-apiserver that users meet, mutating ones first, then validating ones,
 * in upstream's order (LimitRanger, ServiceAccount, Priority, DefaultTolerationSeconds,
 * DefaultStorageClass, StorageObjectInUseProtection, DefaultIngressClass;
 * then LimitRanger, PodSecurity, Priority, ValidatingAdmissionPolicy,
 * ValidatingAdmissionWebhook, ResourceQuota).
 * https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/ */
#include "api/admission.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/object.h"
#include "api/vap.h"
#include "api/webhook.h"

typedef int (*plugin_fn)(api_admission_t *a, api_status_t *st);

static const plugin_fn mutating[] = {api__admit_limitranger, api__admit_serviceaccount,
                                     api__admit_priority, api__admit_defaults,
                                     api__admit_webhooks};
static const plugin_fn validating[] = {api__validate_noderestriction,
                                       api__validate_limitranger, api__validate_podsecurity,
                                       api__validate_priority, api__validate_rbac,
                                       api__validate_policies, api__validate_webhooks, api__validate_resourcequota};

static int run(api_admission_t *a, const plugin_fn *fns, size_t n, api_status_t *st) {
  if (!a->sub)
    a->sub = "";
  for (size_t i = 0; i < n; i++)
    if (fns[i](a, st) < 0)
      return -EPERM;
  return 0;
}

int api__admission_mutate(api_admission_t *a, api_status_t *st) {
  return run(a, mutating, sizeof(mutating) / sizeof(mutating[0]), st);
}

int api__admission_validate(api_admission_t *a, api_status_t *st) {
  return run(a, validating, sizeof(validating) / sizeof(validating[0]), st);
}

void api__admission_forbidden(const api_admission_t *a, api_status_t *st, const char *why) {
  const char *name = obj_str(a->obj, "metadata.name");
  const char *g = a->res->s->group;
  char resource[192];
  if (g[0])
    snprintf(resource, sizeof(resource), "%s.%s", a->res->s->plural, g);
  else
    snprintf(resource, sizeof(resource), "%s", a->res->s->plural);
  api_status_init(st, 403, "Forbidden", "%s \"%s\" is forbidden: %s", resource, name ? name : "",
                  why);
  api_status_set_details(st, g, a->res->s->plural, name ? name : "");
}

void api__admission_warn(const api_admission_t *a, const char *text) {
  if (a->req)
    api__add_warning(a->req, text);
}

bool api__admission_is(const api_admission_t *a, const char *group, const char *kind) {
  return !strcmp(a->res->s->group, group) && !strcmp(a->res->s->kind, kind);
}

void api__admission_each(api_server_t *srv, const api_resource_t *res, const char *ns, size_t max,
                         bool (*cb)(const cJSON *obj, void *data), void *data) {
  if (!res)
    return;
  char *prefix = api_resource_key(res, ns && ns[0] ? ns : NULL, NULL);
  store_list_opts_t lo = {.prefix = prefix, .limit = max};
  store_list_t l;
  if (store_list(srv->store, &lo, &l) == 0) {
    for (size_t i = 0; i < l.n; i++) {
      cJSON *obj = cJSON_ParseWithLength(l.items[i]->value, l.items[i]->len);
      bool more = !obj || cb(obj, data);
      cJSON_Delete(obj);
      if (!more)
        break;
    }
    store_list_done(&l);
  }
  free(prefix);
}
