/* Service hooks: upstream defaults, validation, ClusterIP and NodePort
 * allocation, and the TYPE/CLUSTER-IP/EXTERNAL-IP/PORT(S) cells.
 * https://kubernetes.io/docs/concepts/services-networking/service/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ipalloc.h"
#include "api/kinds.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"

static bool type_is(const cJSON *obj, const char *t) {
  const char *type = obj_str(obj, "spec.type");
  return !strcmp(type ? type : "ClusterIP", t);
}

/* Upstream's isHeadlessService: type ClusterIP with clusterIP "None". */
static bool headless_cluster_ip(const cJSON *obj) {
  const char *ip = obj_str(obj, "spec.clusterIP");
  const cJSON *ips = cJSON_GetArrayItem(obj_get(obj, "spec.clusterIPs"), 0);
  if (!ip && cJSON_IsString(ips))
    ip = ips->valuestring;
  return ip && !strcmp(ip, "None") && (!obj_str(obj, "spec.type") || type_is(obj, "ClusterIP"));
}

static bool wants_node_ports(const cJSON *obj) {
  return type_is(obj, "NodePort") || type_is(obj, "LoadBalancer");
}

static void svc_defaults(cJSON *obj) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!cJSON_IsObject(spec))
    return;
  if (!obj_str(obj, "spec.type"))
    cJSON_AddStringToObject(spec, "type", "ClusterIP");
  if (!obj_str(obj, "spec.sessionAffinity"))
    cJSON_AddStringToObject(spec, "sessionAffinity", "None");
  bool external_name = type_is(obj, "ExternalName");
  if (!external_name) {
    if (!cJSON_GetObjectItemCaseSensitive(spec, "ipFamilies")) {
      cJSON *f = cJSON_AddArrayToObject(spec, "ipFamilies");
      cJSON_AddItemToArray(f, cJSON_CreateString("IPv4"));
    }
    if (!obj_str(obj, "spec.ipFamilyPolicy"))
      cJSON_AddStringToObject(spec, "ipFamilyPolicy", "SingleStack");
    if (!obj_str(obj, "spec.internalTrafficPolicy"))
      cJSON_AddStringToObject(spec, "internalTrafficPolicy", "Cluster");
  }
  if (wants_node_ports(obj) && !obj_str(obj, "spec.externalTrafficPolicy"))
    cJSON_AddStringToObject(spec, "externalTrafficPolicy", "Cluster");
  if (type_is(obj, "LoadBalancer") && !cJSON_GetObjectItemCaseSensitive(spec, "allocateLoadBalancerNodePorts"))
    cJSON_AddBoolToObject(spec, "allocateLoadBalancerNodePorts", true);
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports")) {
    if (!cJSON_IsObject(p))
      continue;
    if (!obj_str(p, "protocol"))
      cJSON_AddStringToObject(p, "protocol", "TCP");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(p, "port");
    if (!cJSON_GetObjectItemCaseSensitive(p, "targetPort") && cJSON_IsNumber(port) && !external_name)
      cJSON_AddNumberToObject(p, "targetPort", port->valuedouble);
  }
  const char *ip = obj_str(obj, "spec.clusterIP");
  if (ip && !cJSON_GetObjectItemCaseSensitive(spec, "clusterIPs")) {
    cJSON *ips = cJSON_AddArrayToObject(spec, "clusterIPs");
    cJSON_AddItemToArray(ips, cJSON_CreateString(ip));
  }
  cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
  if (!status)
    status = cJSON_AddObjectToObject(obj, "status");
  if (!cJSON_GetObjectItemCaseSensitive(status, "loadBalancer"))
    cJSON_AddObjectToObject(status, "loadBalancer");
}

/* A LoadBalancer with externalTrafficPolicy Local has a health check
 * port, where each node's proxy says whether it has local endpoints. */
static bool needs_health_check(const cJSON *obj) {
  const char *etp = obj_str(obj, "spec.externalTrafficPolicy");
  return type_is(obj, "LoadBalancer") && etp && !strcmp(etp, "Local");
}

static int health_check_port(const cJSON *obj) {
  const cJSON *v = obj_get(obj, "spec.healthCheckNodePort");
  return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* ---- type changes (upstream dropTypeDependentFields) ---- */

static bool needs_cluster_ip(const cJSON *obj) { return !type_is(obj, "ExternalName"); }

static bool same(const cJSON *a, const cJSON *b) {
  return (!a && !b) || (a && b && cJSON_Compare(a, b, 1));
}

static bool same_field(const cJSON *obj, const cJSON *old, const char *path) {
  return same(obj_get(obj, path), obj_get(old, path));
}

/* The new ports add no node port the old ones did not have. */
static bool same_node_ports(const cJSON *obj, const cJSON *old) {
  const cJSON *p;
  cJSON_ArrayForEach(p, obj_get(obj, "spec.ports")) {
    const cJSON *np = obj_get(p, "nodePort");
    if (!cJSON_IsNumber(np) || np->valueint == 0)
      continue;
    bool found = false;
    const cJSON *op;
    cJSON_ArrayForEach(op, obj_get(old, "spec.ports")) {
      const cJSON *onp = obj_get(op, "nodePort");
      found |= cJSON_IsNumber(onp) && onp->valueint == np->valueint;
    }
    if (!found)
      return false;
  }
  return true;
}

/* A type change drops what only the old type needed and what was filled in
 * automatically, unless the client changed it too: ClusterIP/ipFamilies/
 * ipFamilyPolicy going to ExternalName, node ports going to ClusterIP or
 * ExternalName, allocateLoadBalancerNodePorts and the load-balancer status
 * leaving LoadBalancer, externalTrafficPolicy when not externally reachable.
 * The allocations are given back in svc_admit_update. */
static void svc_prepare_update(cJSON *obj, const cJSON *old) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  if (!cJSON_IsObject(spec))
    return;
  if (needs_cluster_ip(old) && !needs_cluster_ip(obj)) {
    if (same_field(obj, old, "spec.clusterIP") && same_field(obj, old, "spec.clusterIPs")) {
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIP");
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIPs");
    }
    if (same_field(obj, old, "spec.ipFamilies"))
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "ipFamilies");
    if (same_field(obj, old, "spec.ipFamilyPolicy"))
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "ipFamilyPolicy");
  }
  if (wants_node_ports(old) && !wants_node_ports(obj) && same_node_ports(obj, old)) {
    cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports")) {
      if (cJSON_IsObject(p))
        cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
    }
  }
  if (!type_is(obj, "LoadBalancer")) {
    if (obj_get(old, "spec.allocateLoadBalancerNodePorts") &&
        same_field(obj, old, "spec.allocateLoadBalancerNodePorts"))
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "allocateLoadBalancerNodePorts");
    if (obj_get(old, "spec.loadBalancerClass") && same_field(obj, old, "spec.loadBalancerClass"))
      cJSON_DeleteItemFromObjectCaseSensitive(spec, "loadBalancerClass");
    cJSON *status = obj_child_object(obj, "status");
    obj_set(status, "loadBalancer", cJSON_CreateObject());
  }
  if (!needs_health_check(obj) && same_field(obj, old, "spec.healthCheckNodePort"))
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "healthCheckNodePort");
  bool external = wants_node_ports(obj) || cJSON_GetArraySize(obj_get(obj, "spec.externalIPs")) > 0;
  if (!external && same_field(obj, old, "spec.externalTrafficPolicy"))
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "externalTrafficPolicy");
}

static void svc_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  const char *type = obj_str(obj, "spec.type");
  if (type && strcmp(type, "ClusterIP") && strcmp(type, "NodePort") &&
      strcmp(type, "LoadBalancer") && strcmp(type, "ExternalName"))
    api__cause(st, "FieldValueNotSupported", "spec.type",
               "Unsupported value: \"%s\": supported values: \"ClusterIP\", \"ExternalName\", "
               "\"LoadBalancer\", \"NodePort\"",
               type);
  bool external_name = type_is(obj, "ExternalName");
  if (external_name) {
    const char *en = obj_str(obj, "spec.externalName");
    if (cJSON_GetArraySize(obj_get(obj, "spec.clusterIPs")) > 0)
      api__cause(st, "FieldValueForbidden", "spec.clusterIPs",
                 "Forbidden: may not be set for ExternalName services");
    if (cJSON_GetArraySize(obj_get(obj, "spec.ipFamilies")) > 0)
      api__cause(st, "FieldValueForbidden", "spec.ipFamilies",
                 "Forbidden: may not be set for ExternalName services");
    if (obj_str(obj, "spec.ipFamilyPolicy"))
      api__cause(st, "FieldValueForbidden", "spec.ipFamilyPolicy",
                 "Forbidden: may not be set for ExternalName services");
    if (!en || !en[0])
      api__cause(st, "FieldValueRequired", "spec.externalName", "Required value");
  } else if (cJSON_GetArraySize(obj_get(obj, "spec.ports")) == 0 && !headless_cluster_ip(obj)) {
    /* upstream: a headless ClusterIP service may have no ports */
    api__cause(st, "FieldValueRequired", "spec.ports", "Required value");
  }
  if (!type_is(obj, "LoadBalancer") && obj_get(obj, "spec.allocateLoadBalancerNodePorts"))
    api__cause(st, "FieldValueForbidden", "spec.allocateLoadBalancerNodePorts",
               "Forbidden: may only be used when `type` is 'LoadBalancer'");
  const char *etp = obj_str(obj, "spec.externalTrafficPolicy");
  if (etp && etp[0] && !wants_node_ports(obj) &&
      cJSON_GetArraySize(obj_get(obj, "spec.externalIPs")) == 0)
    api__cause(st, "FieldValueInvalid", "spec.externalTrafficPolicy",
               "Invalid value: \"%s\": may only be set for externally-accessible services", etp);
  if (obj_get(obj, "spec.healthCheckNodePort") && !needs_health_check(obj))
    api__cause(st, "FieldValueInvalid", "spec.healthCheckNodePort",
               "Invalid value: %d: may only be set when `type` is 'LoadBalancer' and "
               "`externalTrafficPolicy` is 'Local'",
               health_check_port(obj));
  const char *ip = obj_str(obj, "spec.clusterIP");
  if (ip && !strcmp(ip, "None") && wants_node_ports(obj))
    api__cause(st, "FieldValueInvalid", "spec.clusterIPs[0]",
               "Invalid value: \"None\": may not be set to 'None' for %s services", type);
  int i = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, obj_get(obj, "spec.ports")) {
    char path[96];
    const cJSON *port = obj_get(p, "port");
    if (!cJSON_IsNumber(port) || port->valueint < 1 || port->valueint > 65535) {
      snprintf(path, sizeof(path), "spec.ports[%d].port", i);
      api__cause(st, "FieldValueInvalid", path,
                 "Invalid value: %d: must be between 1 and 65535, inclusive",
                 cJSON_IsNumber(port) ? port->valueint : 0);
    }
    const char *proto = obj_str(p, "protocol");
    if (proto && strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP")) {
      snprintf(path, sizeof(path), "spec.ports[%d].protocol", i);
      api__cause(st, "FieldValueNotSupported", path,
                 "Unsupported value: \"%s\": supported values: \"SCTP\", \"TCP\", \"UDP\"", proto);
    }
    if (cJSON_GetArraySize(obj_get(obj, "spec.ports")) > 1 && !obj_str(p, "name")) {
      snprintf(path, sizeof(path), "spec.ports[%d].name", i);
      api__cause(st, "FieldValueRequired", path, "Required value");
    }
    if (obj_get(p, "nodePort") && !wants_node_ports(obj)) {
      snprintf(path, sizeof(path), "spec.ports[%d].nodePort", i);
      api__cause(st, "FieldValueForbidden", path, "Forbidden: may not be used when `type` is '%s'",
                 type ? type : "ClusterIP");
    }
    i++;
  }
  if (old) {
    const char *oldip = obj_str(old, "spec.clusterIP");
    if (oldip && ip && strcmp(oldip, ip) && !type_is(old, "ExternalName") && !external_name)
      api__cause(st, "FieldValueInvalid", "spec.clusterIPs[0]",
                 "Invalid value: []string{\"%s\"}: may not change once set", ip);
  }
}

static void release_all(api_server_t *srv, const cJSON *obj) {
  if (health_check_port(obj) > 0)
    api_nodeport_release(srv, health_check_port(obj));
  const cJSON *ip;
  cJSON_ArrayForEach(ip, obj_get(obj, "spec.clusterIPs")) {
    if (cJSON_IsString(ip))
      api_ipalloc_release(srv, ip->valuestring);
  }
  const cJSON *p;
  cJSON_ArrayForEach(p, obj_get(obj, "spec.ports")) {
    const cJSON *np = obj_get(p, "nodePort");
    if (cJSON_IsNumber(np))
      api_nodeport_release(srv, np->valueint);
  }
}

static void set_cluster_ip(cJSON *obj, const char *ip) {
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
  obj_set_str(spec, "clusterIP", ip);
  cJSON *ips = cJSON_CreateArray();
  cJSON_AddItemToArray(ips, cJSON_CreateString(ip));
  obj_set(spec, "clusterIPs", ips);
}

/* Claim node ports for ports that lack one, reusing old's for the same
 * port/protocol. Records claims in claimed[] so a failure can undo them. */
static int claim_ports(api_server_t *srv, cJSON *obj, const cJSON *old, api_status_t *st,
                       int *claimed, int *nclaimed) {
  int i = 0;
  cJSON *p;
  cJSON_ArrayForEach(p, obj_get(obj, "spec.ports")) {
    cJSON *np = cJSON_GetObjectItemCaseSensitive(p, "nodePort");
    const cJSON *port = obj_get(p, "port");
    const char *proto = obj_str(p, "protocol");
    int want = cJSON_IsNumber(np) ? np->valueint : 0;
    bool from_old = false;
    const cJSON *op;
    cJSON_ArrayForEach(op, obj_get(old, "spec.ports")) {
      const cJSON *onp = obj_get(op, "nodePort");
      const cJSON *oport = obj_get(op, "port");
      const char *oproto = obj_str(op, "protocol");
      if (!cJSON_IsNumber(onp) || !cJSON_IsNumber(oport) || !cJSON_IsNumber(port))
        continue;
      if (want ? onp->valueint == want
               : (oport->valueint == port->valueint && proto && oproto && !strcmp(proto, oproto))) {
        want = onp->valueint;
        from_old = true;
      }
    }
    if (!from_old && !want && type_is(obj, "LoadBalancer") &&
        cJSON_IsFalse(obj_get(obj, "spec.allocateLoadBalancerNodePorts"))) {
      i++; /* no automatic node port for this LoadBalancer */
      continue;
    }
    if (!from_old) {
      int got;
      int r = api_nodeport_claim(srv, want, &got);
      if (r < 0) {
        char path[64];
        snprintf(path, sizeof(path), "spec.ports[%d].nodePort", i);
        if (r == -EEXIST)
          api__cause(st, "FieldValueInvalid", path, "Invalid value: %d: provided port is already allocated", want);
        else if (r == -ERANGE)
          api__cause(st, "FieldValueInvalid", path,
                     "Invalid value: %d: provided port is not in the valid range. The range of "
                     "valid ports is %d-%d",
                     want, srv->node_port_min, srv->node_port_max);
        else
          api__cause(st, "FieldValueInvalid", path, "Invalid value: %d: no node ports left", want);
        return r;
      }
      claimed[(*nclaimed)++] = got;
      want = got;
    }
    obj_set(p, "nodePort", cJSON_CreateNumber(want));
    i++;
  }
  return 0;
}

static int allocate(api_server_t *srv, cJSON *obj, const cJSON *old, api_status_t *st) {
  int *claimed = xcalloc((size_t)cJSON_GetArraySize(obj_get(obj, "spec.ports")) + 1, sizeof(int));
  int nclaimed = 0;
  char ipbuf[64] = "";
  bool new_ip = false;
  if (!type_is(obj, "ExternalName")) {
    const char *want = obj_str(obj, "spec.clusterIP");
    const char *had = old ? obj_str(old, "spec.clusterIP") : NULL;
    if (had && (!want || !want[0])) {
      set_cluster_ip(obj, had);
    } else if (!(want && !strcmp(want, "None")) && !(had && want && !strcmp(had, want))) {
      int r = api_ipalloc_claim(srv, want, ipbuf, sizeof(ipbuf));
      if (r < 0) {
        char msg[512];
        if (r == -EEXIST)
          snprintf(msg, sizeof(msg), "failed to allocate IP %s: provided IP is already allocated", want);
        else if (r == -ERANGE)
          snprintf(msg, sizeof(msg),
                   "failed to allocate IP %s: the provided IP (%s) is not in the valid range. The "
                   "range of valid IPs is %s",
                   want, want, srv->service_cidr);
        else if (r == -EINVAL)
          snprintf(msg, sizeof(msg), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        else
          snprintf(msg, sizeof(msg), "failed to allocate a serviceIP: range is full");
        api__cause(st, "FieldValueInvalid", "spec.clusterIPs",
                   "Invalid value: []string{\"%s\"}: %s", want ? want : "", msg);
        free(claimed);
        return r;
      }
      set_cluster_ip(obj, ipbuf);
      new_ip = true;
    }
  }
  bool failed = wants_node_ports(obj) && claim_ports(srv, obj, old, st, claimed, &nclaimed) < 0;
  if (!failed && needs_health_check(obj)) {
    int want = health_check_port(obj), had = old ? health_check_port(old) : 0;
    if (had > 0 && (want == 0 || want == had)) {
      want = had;
    } else {
      int got, r = api_nodeport_claim(srv, want, &got);
      if (r < 0) {
        if (r == -EEXIST)
          api__cause(st, "FieldValueInvalid", "spec.healthCheckNodePort",
                     "Invalid value: %d: provided port is already allocated", want);
        else if (r == -ERANGE)
          api__cause(st, "FieldValueInvalid", "spec.healthCheckNodePort",
                     "Invalid value: %d: provided port is not in the valid range. The range of "
                     "valid ports is %d-%d",
                     want, srv->node_port_min, srv->node_port_max);
        else
          api__cause(st, "FieldValueInvalid", "spec.healthCheckNodePort",
                     "Invalid value: %d: no node ports left", want);
        failed = true;
      } else {
        claimed[nclaimed++] = got;
        want = got;
      }
    }
    if (!failed)
      obj_set(cJSON_GetObjectItemCaseSensitive(obj, "spec"), "healthCheckNodePort",
              cJSON_CreateNumber(want));
  }
  /* A dry run shows what would be allocated and keeps none of it. */
  if (failed || srv->dry_run) {
    for (int i = 0; i < nclaimed; i++)
      api_nodeport_release(srv, claimed[i]);
    if (new_ip)
      api_ipalloc_release(srv, ipbuf);
  }
  free(claimed);
  return failed ? -EINVAL : 0;
}

static int svc_admit_create(api_server_t *srv, cJSON *obj, api_status_t *st) {
  if (allocate(srv, obj, NULL, st) < 0) {
    api_status_invalid(st, "", "Service", obj_str(obj, "metadata.name"));
    return -EINVAL;
  }
  return 0;
}

static int svc_admit_update(api_server_t *srv, cJSON *obj, const cJSON *old, api_status_t *st) {
  if (allocate(srv, obj, old, st) < 0) {
    api_status_invalid(st, "", "Service", obj_str(obj, "metadata.name"));
    return -EINVAL;
  }
  if (srv->dry_run)
    return 0; /* nothing is given back either */
  if (health_check_port(old) > 0 && health_check_port(obj) != health_check_port(old))
    api_nodeport_release(srv, health_check_port(old));
  /* Give back node ports the new spec no longer uses. */
  const cJSON *op;
  cJSON_ArrayForEach(op, obj_get(old, "spec.ports")) {
    const cJSON *onp = obj_get(op, "nodePort");
    if (!cJSON_IsNumber(onp))
      continue;
    bool kept = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, obj_get(obj, "spec.ports")) {
      const cJSON *np = obj_get(p, "nodePort");
      kept |= cJSON_IsNumber(np) && np->valueint == onp->valueint;
    }
    if (!kept)
      api_nodeport_release(srv, onp->valueint);
  }
  /* and the cluster IPs, when the new spec has none (to ExternalName) */
  if (!obj_str(obj, "spec.clusterIP")) {
    const cJSON *ip;
    cJSON_ArrayForEach(ip, obj_get(old, "spec.clusterIPs")) {
      if (cJSON_IsString(ip))
        api_ipalloc_release(srv, ip->valuestring);
    }
  }
  return 0;
}

static void svc_deleted(api_server_t *srv, const cJSON *obj) { release_all(srv, obj); }

static cJSON *svc_cell(const char *col, const cJSON *obj) {
  if (!strcmp(col, "Type")) {
    const char *t = obj_str(obj, "spec.type");
    return cJSON_CreateString(t ? t : "ClusterIP");
  }
  if (!strcmp(col, "Cluster-IP")) {
    const char *ip = obj_str(obj, "spec.clusterIP");
    return cJSON_CreateString(ip && ip[0] ? ip : "<none>");
  }
  buf_t b;
  buf_init(&b, 4096);
  if (!strcmp(col, "External-IP")) {
    if (type_is(obj, "ExternalName")) {
      const char *en = obj_str(obj, "spec.externalName");
      buf_append_str(&b, en ? en : "");
    } else {
      const cJSON *e;
      cJSON_ArrayForEach(e, obj_get(obj, "status.loadBalancer.ingress")) {
        const char *a = obj_str(e, "ip");
        if (!a)
          a = obj_str(e, "hostname");
        if (a)
          buf_printf(&b, "%s%s", b.len ? "," : "", a);
      }
      cJSON_ArrayForEach(e, obj_get(obj, "spec.externalIPs")) {
        if (cJSON_IsString(e))
          buf_printf(&b, "%s%s", b.len ? "," : "", e->valuestring);
      }
      if (!b.len && type_is(obj, "LoadBalancer"))
        buf_append_str(&b, "<pending>");
    }
  } else if (!strcmp(col, "Port(s)")) {
    const cJSON *p;
    cJSON_ArrayForEach(p, obj_get(obj, "spec.ports")) {
      const cJSON *port = obj_get(p, "port");
      const cJSON *np = obj_get(p, "nodePort");
      const char *proto = obj_str(p, "protocol");
      if (cJSON_IsNumber(np))
        buf_printf(&b, "%s%d:%d/%s", b.len ? "," : "", port ? port->valueint : 0, np->valueint,
                   proto ? proto : "TCP");
      else
        buf_printf(&b, "%s%d/%s", b.len ? "," : "", port ? port->valueint : 0,
                   proto ? proto : "TCP");
    }
  } else if (!strcmp(col, "Selector")) {
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj_get(obj, "spec.selector")) {
      if (cJSON_IsString(kv))
        buf_printf(&b, "%s%s=%s", b.len ? "," : "", kv->string, kv->valuestring);
    }
  } else {
    buf_done(&b);
    return NULL;
  }
  return api__cell_take(&b, "<none>");
}

const api_hooks_t api_kind_service = {.prepare_update = svc_prepare_update,
                                      .defaults = svc_defaults,
                                      .validate = svc_validate,
                                      .cell = svc_cell,
                                      .admit_create = svc_admit_create,
                                      .admit_update = svc_admit_update,
                                      .deleted = svc_deleted};
