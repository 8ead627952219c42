/* Service endpoint resolution (svcresolve.h). */
#include "api/svcresolve.h"

#include "api/object.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *api__load_core(api_server_t *srv, const char *resource, const char *ns, const char *name) {
  const api_resource_t *res = api_registry_find("", "v1", resource);
  char *key = res ? api_resource_key(res, ns && ns[0] ? ns : NULL, name) : NULL;
  store_kv_t *kv = NULL;
  cJSON *o = NULL;
  if (key && store_get(srv->store, key, 0, &kv) == 0)
    o = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  free(key);
  return o;
}

int api__port_number(const char *s) {
  if (!s || !*s || strlen(s) > 5)
    return 0;
  int v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return 0;
    v = v * 10 + (*p - '0');
  }
  return v >= 1 && v <= 65535 ? v : 0;
}

void api__service_dns_name(const char *ns, const char *name, char *out, size_t len) {
  snprintf(out, len, "%s.%s.svc", name, ns);
}

api_svc_result_t api__service_endpoint(api_server_t *srv, const char *ns, const char *name,
                                       const char *port, char *host, size_t hostlen, int *ret_port,
                                       char *port_name_out, size_t port_name_len) {
  cJSON *svc = NULL, *eps = NULL;
  api_svc_result_t ret = API_SVC_NO_SERVICE;
  char port_name[64];
  snprintf(port_name, sizeof(port_name), "%s", port ? port : "");
  int num = api__port_number(port);
  svc = api__load_core(srv, "services", ns, name);
  if (num || (svc && obj_str(svc, "spec.externalName"))) {
    if (!svc)
      goto out;
    const char *type = obj_str(svc, "spec.type");
    const char *ext = obj_str(svc, "spec.externalName");
    if (type && !strcmp(type, "ExternalName") && ext && ext[0] && num) {
      snprintf(host, hostlen, "%s", ext);
      *ret_port = num;
      ret = API_SVC_OK;
      goto out;
    }
    bool found = false;
    const cJSON *sp;
    cJSON_ArrayForEach(sp, obj_get(svc, "spec.ports")) {
      const cJSON *pn = cJSON_GetObjectItemCaseSensitive(sp, "port");
      if (cJSON_IsNumber(pn) && (int)pn->valuedouble == num) {
        const char *n = obj_str(sp, "name");
        snprintf(port_name, sizeof(port_name), "%s", n ? n : "");
        found = true;
        break;
      }
    }
    if (!found) {
      ret = API_SVC_NO_PORT;
      goto out;
    }
  }
  ret = API_SVC_NO_ENDPOINTS;
  eps = api__load_core(srv, "endpoints", ns, name);
  if (!eps)
    goto out;
  ret = API_SVC_NO_ADDRESS;
  const cJSON *subsets = obj_get(eps, "subsets");
  int n = cJSON_GetArraySize(subsets);
  int seed = n ? rand() % n : 0;
  for (int k = 0; k < n; k++) {
    const cJSON *ss = cJSON_GetArrayItem(subsets, (seed + k) % n);
    const cJSON *addrs = obj_get(ss, "addresses");
    int na = cJSON_GetArraySize(addrs);
    if (!na)
      continue;
    const cJSON *p;
    cJSON_ArrayForEach(p, obj_get(ss, "ports")) {
      const char *pn = obj_str(p, "name");
      const cJSON *pv = cJSON_GetObjectItemCaseSensitive(p, "port");
      if (strcmp(pn ? pn : "", port_name) || !cJSON_IsNumber(pv))
        continue;
      const char *ip = obj_str(cJSON_GetArrayItem(addrs, rand() % na), "ip");
      if (!ip || !ip[0])
        continue;
      snprintf(host, hostlen, "%s", ip);
      *ret_port = (int)pv->valuedouble;
      ret = API_SVC_OK;
      goto out;
    }
  }
out:
  if (port_name_out)
    snprintf(port_name_out, port_name_len, "%s", port_name);
  cJSON_Delete(svc);
  cJSON_Delete(eps);
  return ret;
}

int api__service_resolve(api_server_t *srv, const char *ns, const char *name, const char *port,
                         char *host, size_t hostlen, int *ret_port, api_status_t *st) {
  switch (api__service_endpoint(srv, ns, name, port, host, hostlen, ret_port, NULL, 0)) {
  case API_SVC_OK:
    return 0;
  case API_SVC_NO_SERVICE:
    api_status_not_found(st, "", "services", name);
    return -ENOENT;
  case API_SVC_NO_PORT:
    api_status_init(st, 503, "ServiceUnavailable", "no service port %d found for service \"%s\"",
                    api__port_number(port), name);
    return -EHOSTUNREACH;
  case API_SVC_NO_ENDPOINTS:
    api_status_not_found(st, "", "endpoints", name);
    return -ENOENT;
  default:
    api_status_init(st, 503, "ServiceUnavailable", "no endpoints available for service \"%s\"", name);
    return -EHOSTUNREACH;
  }
}
