/* Network kinds: Ingress, IngressClass, NetworkPolicy (networking.k8s.io/v1)
 * and EndpointSlice (discovery.k8s.io/v1): upstream defaults
 * (pkg/apis/{networking,discovery}/v1/defaults.go), the checks users hit
 * (pkg/apis/{networking,discovery}/validation) and printer cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/object.h"
#include "util/buf.h"

/* ---- Ingress ---- */

static void ingress_backend(const cJSON *be, const char *path, api_status_t *st) {
  const cJSON *svc = obj_get(be, "service");
  const cJSON *res = obj_get(be, "resource");
  char f[256];
  if (svc && res) {
    snprintf(f, sizeof(f), "%s", path);
    api__cause(st, "FieldValueInvalid", f,
               "Invalid value: \"\": cannot set both resource and service backends");
  } else if (!svc && !res) {
    api__cause(st, "FieldValueInvalid", path,
               "Invalid value: \"\": resource or service backend is required");
  }
  if (svc) {
    const char *name = obj_str(svc, "name");
    snprintf(f, sizeof(f), "%s.service.name", path);
    if (!name || !name[0])
      api__cause_required(st, f);
    else if (obj_check_dns1123_label(name))
      api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": %s", name,
                 obj_check_dns1123_label(name));
    const cJSON *pname = obj_get(svc, "port.name"), *pnum = obj_get(svc, "port.number");
    snprintf(f, sizeof(f), "%s.service.port", path);
    if (pname && pnum)
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"\": cannot set both port name & port number");
    else if (!pname && !pnum)
      api__cause(st, "FieldValueInvalid", f, "Invalid value: \"\": port name or number is required");
    else if (cJSON_IsNumber(pnum) && (pnum->valueint < 1 || pnum->valueint > 65535)) {
      snprintf(f, sizeof(f), "%s.service.port.number", path);
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: %d: must be between 1 and 65535, inclusive", pnum->valueint);
    }
  }
}

static void ingress_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const cJSON *rules = obj_get(obj, "spec.rules");
  const cJSON *dflt = obj_get(obj, "spec.defaultBackend");
  if (cJSON_GetArraySize(rules) == 0 && !dflt)
    api__cause(st, "FieldValueInvalid", "spec",
               "Invalid value: \"\": either `defaultBackend` or `rules` must be specified");
  if (dflt)
    ingress_backend(dflt, "spec.defaultBackend", st);
  int i = 0;
  const cJSON *r;
  cJSON_ArrayForEach(r, rules) {
    char f[256];
    const char *host = obj_str(r, "host");
    if (host && host[0]) {
      const char *h = !strncmp(host, "*.", 2) ? host + 2 : host;
      const char *why = obj_check_dns1123_subdomain(h);
      if (why) {
        snprintf(f, sizeof(f), "spec.rules[%d].host", i);
        api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": %s", host, why);
      }
    }
    const cJSON *http = obj_get(r, "http");
    if (http) {
      const cJSON *paths = obj_get(http, "paths");
      if (cJSON_GetArraySize(paths) == 0) {
        snprintf(f, sizeof(f), "spec.rules[%d].http.paths", i);
        api__cause_required(st, f);
      }
      int j = 0;
      const cJSON *p;
      cJSON_ArrayForEach(p, paths) {
        const char *pt = obj_str(p, "pathType");
        const char *path = obj_str(p, "path");
        if (!pt) {
          snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].pathType", i, j);
          api__cause(st, "FieldValueRequired", f, "Required value: pathType must be specified");
        } else if (strcmp(pt, "Exact") && strcmp(pt, "Prefix") && strcmp(pt, "ImplementationSpecific")) {
          snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].pathType", i, j);
          api__cause(st, "FieldValueNotSupported", f,
                     "Unsupported value: \"%s\": supported values: \"Exact\", \"ImplementationSpecific\", "
                     "\"Prefix\"",
                     pt);
        } else if (path && path[0] != '/') {
          snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].path", i, j);
          api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": must be an absolute path",
                     path);
        }
        snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].backend", i, j);
        ingress_backend(obj_get(p, "backend"), f, st);
        j++;
      }
    }
    i++;
  }
}

static cJSON *ingress_cell(const char *col, const cJSON *obj) {
  buf_t b;
  buf_init(&b, 1024);
  if (!strcmp(col, "Class")) {
    buf_done(&b);
    return api__cell_string(obj_str(obj, "spec.ingressClassName"), "<none>");
  }
  if (!strcmp(col, "Hosts")) {
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, obj_get(obj, "spec.rules")) {
      const char *h = obj_str(r, "host");
      if (!h || !h[0])
        continue;
      if (n < 3)
        buf_printf(&b, "%s%s", b.len ? "," : "", h);
      n++;
    }
    if (n > 3)
      buf_printf(&b, " + %d more...", n - 3);
    return api__cell_take(&b, "*");
  }
  if (!strcmp(col, "Address")) {
    const cJSON *in;
    cJSON_ArrayForEach(in, obj_get(obj, "status.loadBalancer.ingress")) {
      const char *ip = obj_str(in, "ip"), *hn = obj_str(in, "hostname");
      if (ip && ip[0])
        buf_printf(&b, "%s%s", b.len ? "," : "", ip);
      else if (hn && hn[0])
        buf_printf(&b, "%s%s", b.len ? "," : "", hn);
    }
    char *s = buf_steal(&b, NULL);
    if (strlen(s) > 16) {
      s[13] = '\0';
      char t[20];
      snprintf(t, sizeof(t), "%s...", s);
      free(s);
      return cJSON_CreateString(t);
    }
    cJSON *c = cJSON_CreateString(s);
    free(s);
    return c;
  }
  if (!strcmp(col, "Ports")) {
    buf_done(&b);
    return cJSON_CreateString(cJSON_GetArraySize(obj_get(obj, "spec.tls")) ? "80, 443" : "80");
  }
  buf_done(&b);
  return NULL;
}

const api_hooks_t api_kind_ingress = {.validate = ingress_validate, .cell = ingress_cell, .generation = true};

/* ---- IngressClass ---- */

static void ingressclass_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *c = obj_str(obj, "spec.controller");
  if (!c || !c[0])
    api__cause_required(st, "spec.controller");
  if (old)
    api__validate_immutable(obj_get(obj, "spec.controller"), obj_get(old, "spec.controller"),
                            "spec.controller", st);
}

static cJSON *ingressclass_cell(const char *col, const cJSON *obj) {
  const cJSON *p = obj_get(obj, "spec.parameters");
  if (!p)
    return cJSON_CreateString("<none>");
  const char *kind = obj_str(p, "kind"), *group = obj_str(p, "apiGroup"), *name = obj_str(p, "name");
  char buf[512];
  snprintf(buf, sizeof(buf), "%s%s%s/%s", kind ? kind : "", group ? "." : "", group ? group : "",
           name ? name : "");
  return cJSON_CreateString(buf);
}

const api_hooks_t api_kind_ingressclass = {.validate = ingressclass_validate,
                                           .cell = ingressclass_cell,
                                           .generation = true};

/* ---- NetworkPolicy ---- */

static void ports_protocol(cJSON *rules) {
  cJSON *r, *p;
  cJSON_ArrayForEach(r, rules) {
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "ports")) {
      if (cJSON_IsObject(p) && !cJSON_GetObjectItemCaseSensitive(p, "protocol"))
        cJSON_AddStringToObject(p, "protocol", "TCP");
    }
  }
}

static void netpol_defaults(cJSON *obj) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!cJSON_IsObject(spec))
    return;
  ports_protocol(cJSON_GetObjectItemCaseSensitive(spec, "ingress"));
  ports_protocol(cJSON_GetObjectItemCaseSensitive(spec, "egress"));
  if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "policyTypes")) == 0) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "policyTypes");
    cJSON *pt = cJSON_AddArrayToObject(spec, "policyTypes");
    cJSON_AddItemToArray(pt, cJSON_CreateString("Ingress"));
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "egress")) > 0)
      cJSON_AddItemToArray(pt, cJSON_CreateString("Egress"));
  }
}

static void netpol_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  int i = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, obj_get(obj, "spec.policyTypes")) {
    if (!cJSON_IsString(t) || (strcmp(t->valuestring, "Ingress") && strcmp(t->valuestring, "Egress"))) {
      char f[64];
      snprintf(f, sizeof(f), "spec.policyTypes[%d]", i);
      api__cause(st, "FieldValueNotSupported", f,
                 "Unsupported value: \"%s\": supported values: \"Ingress\", \"Egress\"",
                 cJSON_IsString(t) ? t->valuestring : "");
    }
    i++;
  }
}

static cJSON *netpol_cell(const char *col, const cJSON *obj) {
  return api__cell_selector(obj_get(obj, "spec.podSelector"));
}

const api_hooks_t api_kind_networkpolicy = {.defaults = netpol_defaults,
                                            .validate = netpol_validate,
                                            .cell = netpol_cell,
                                            .generation = true};

/* ---- EndpointSlice ---- */

static void eps_defaults(cJSON *obj) {
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(obj, "ports")) {
    if (!cJSON_IsObject(p))
      continue;
    if (!cJSON_GetObjectItemCaseSensitive(p, "name"))
      cJSON_AddStringToObject(p, "name", "");
    if (!cJSON_GetObjectItemCaseSensitive(p, "protocol"))
      cJSON_AddStringToObject(p, "protocol", "TCP");
  }
}

static void eps_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *at = obj_str(obj, "addressType");
  if (!at || !at[0])
    api__cause_required(st, "addressType");
  else if (strcmp(at, "IPv4") && strcmp(at, "IPv6") && strcmp(at, "FQDN"))
    api__cause(st, "FieldValueNotSupported", "addressType",
               "Unsupported value: \"%s\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"", at);
  else if (old)
    api__validate_immutable(obj_get(obj, "addressType"), obj_get(old, "addressType"), "addressType", st);
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, obj_get(obj, "endpoints")) {
    int n = cJSON_GetArraySize(obj_get(e, "addresses"));
    if (n < 1 || n > 100) {
      char f[64];
      snprintf(f, sizeof(f), "endpoints[%d].addresses", i);
      if (n < 1)
        api__cause(st, "FieldValueRequired", f, "Required value: must contain at least 1 address");
      else
        api__cause(st, "FieldValueTooMany", f, "Too many: %d: must have at most 100 items", n);
    }
    i++;
  }
  api__validate_endpointslice_addresses(obj, st);
}

static cJSON *eps_cell(const char *col, const cJSON *obj) {
  buf_t b;
  buf_init(&b, 1024);
  int n = 0;
  const cJSON *x;
  if (!strcmp(col, "Ports")) {
    cJSON_ArrayForEach(x, obj_get(obj, "ports")) {
      const cJSON *port = obj_get(x, "port");
      if (n < 3)
        buf_printf(&b, "%s%d", b.len ? "," : "", cJSON_IsNumber(port) ? port->valueint : 0);
      n++;
    }
  } else {
    cJSON_ArrayForEach(x, obj_get(obj, "endpoints")) {
      const cJSON *a;
      cJSON_ArrayForEach(a, obj_get(x, "addresses")) {
        if (n < 3 && cJSON_IsString(a))
          buf_printf(&b, "%s%s", b.len ? "," : "", a->valuestring);
        n++;
      }
    }
  }
  if (n > 3)
    buf_printf(&b, " + %d more...", n - 3);
  return api__cell_take(&b, "<unset>");
}

const api_hooks_t api_kind_endpointslice = {.defaults = eps_defaults,
                                            .validate = eps_validate,
                                            .cell = eps_cell,
                                            .create_on_update = false};
