/* Field validation of the catalogue kinds to upstream's level, with
 * upstream's messages and field paths (pkg/apis/core/validation,
 * pkg/apis/batch/validation, pkg/apis/discovery/validation,
 * pkg/apis/certificates/validation): pod volumes, mounts, env, ports and
 * resources; typed Secrets and the 1 MiB data limit; CronJob time zones;
 * Endpoints/EndpointSlice addresses; CSR requests. Called from the kinds'
 * validate hooks. */
#include <arpa/inet.h>
#include <mbedtls/base64.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/kinds.h"
#include "api/object.h"
#include "util/quantity.h"
#include "util/alloc.h"
#include "util/buf.h"

#define MAX_DATA_SIZE (1024 * 1024) /* core.MaxSecretSize, also for ConfigMaps */

static const char *str_or(const char *s, const char *dflt) { return s ? s : dflt; }

/* ---- resources ---- */

static bool parse_q(const cJSON *v, quantity_t *q) {
  const char *err;
  if (!cJSON_IsString(v))
    return false;
  return quantity_parse(v->valuestring, strlen(v->valuestring), q, &err) == 0;
}

/* helper.IsNativeResource: no domain, or a kubernetes.io domain. */
static bool native_resource(const char *name) {
  return !strchr(name, '/') || strstr(name, "kubernetes.io/") != NULL;
}

static bool standard_container_resource(const char *name) {
  return !strcmp(name, "cpu") || !strcmp(name, "memory") || !strcmp(name, "ephemeral-storage") ||
         !strncmp(name, "hugepages-", 10);
}

/* helper.IsOvercommitAllowed: native and not hugepages. */
static bool overcommit_allowed(const char *name) {
  return native_resource(name) && strncmp(name, "hugepages-", 10) != 0;
}

static void resource_list(const cJSON *list, const char *path, api_status_t *st) {
  const cJSON *kv;
  cJSON_ArrayForEach(kv, list) {
    char f[512];
    snprintf(f, sizeof(f), "%s[%s]", path, kv->string);
    if (!strchr(kv->string, '/') && !standard_container_resource(kv->string))
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"%s\": must be a standard resource for containers", kv->string);
    quantity_t q;
    if (!parse_q(kv, &q))
      continue;
    if (quantity_sign(&q) < 0)
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"%s\": must be greater than or equal to 0", kv->valuestring);
    if (!native_resource(kv->string) && !quantity_is_integer(&q))
      api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": must be an integer",
                 kv->valuestring);
  }
}

/* ValidateResourceRequirements: names, non-negative values, requests <= limits. */
static void resource_requirements(const cJSON *res, const char *path, api_status_t *st) {
  char lim_path[384], req_path[384];
  snprintf(lim_path, sizeof(lim_path), "%s.limits", path);
  snprintf(req_path, sizeof(req_path), "%s.requests", path);
  const cJSON *limits = obj_get(res, "limits"), *requests = obj_get(res, "requests");
  resource_list(limits, lim_path, st);
  resource_list(requests, req_path, st);
  const cJSON *kv;
  cJSON_ArrayForEach(kv, requests) {
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(limits, kv->string);
    quantity_t rq, lq;
    if (!lim) {
      if (!overcommit_allowed(kv->string))
        api__cause(st, "FieldValueRequired", lim_path,
                   "Required value: Limit must be set for non overcommitable resources");
      continue;
    }
    if (!parse_q(kv, &rq) || !parse_q(lim, &lq))
      continue;
    int c = quantity_cmp(&rq, &lq);
    if (c != 0 && !overcommit_allowed(kv->string))
      api__cause(st, "FieldValueInvalid", req_path,
                 "Invalid value: \"%s\": must be equal to %s limit of %s", kv->valuestring,
                 kv->string, lim->valuestring);
    else if (c > 0)
      api__cause(st, "FieldValueInvalid", req_path,
                 "Invalid value: \"%s\": must be less than or equal to %s limit of %s",
                 kv->valuestring, kv->string, lim->valuestring);
  }
}

/* ---- volumes ---- */

/* VolumeSource members in upstream's order of checking, with the path
 * names upstream reports them under (its own spellings kept). */
static const struct {
  const char *key, *path;
} volume_types[] = {
    {"emptyDir", "emptyDir"},
    {"hostPath", "hostPath"},
    {"gitRepo", "gitRepo"},
    {"gcePersistentDisk", "gcePersistentDisk"},
    {"awsElasticBlockStore", "awsElasticBlockStore"},
    {"secret", "secret"},
    {"nfs", "nfs"},
    {"iscsi", "iscsi"},
    {"glusterfs", "glusterfs"},
    {"flocker", "flocker"},
    {"persistentVolumeClaim", "persistentVolumeClaim"},
    {"rbd", "rbd"},
    {"cinder", "cinder"},
    {"cephfs", "cephFS"},
    {"quobyte", "quobyte"},
    {"downwardAPI", "downwarAPI"},
    {"fc", "fc"},
    {"flexVolume", "flexVolume"},
    {"configMap", "configMap"},
    {"azureFile", "azureFile"},
    {"vsphereVolume", "vsphereVolume"},
    {"photonPersistentDisk", "photonPersistentDisk"},
    {"portworxVolume", "portworxVolume"},
    {"azureDisk", "azureDisk"},
    {"storageos", "storageos"},
    {"projected", "projected"},
    {"scaleIO", "scaleIO"},
    {"csi", "csi"},
    {"ephemeral", "ephemeral"},
    {"image", "image"},
};

#define MAX_VOLUMES 256

typedef struct {
  const char *names[MAX_VOLUMES];
  int n;
} names_t;

static bool names_has(const names_t *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->names[i], name))
      return true;
  return false;
}

static void names_add(names_t *s, const char *name) {
  if (s->n < MAX_VOLUMES)
    s->names[s->n++] = name;
}

/* validateVolumeSource: exactly one type, and the checks users hit. */
static bool volume_source(const cJSON *vol, const char *path, api_status_t *st) {
  int n = 0;
  bool ok = true;
  for (size_t t = 0; t < sizeof(volume_types) / sizeof(volume_types[0]); t++) {
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(vol, volume_types[t].key);
    if (!src || cJSON_IsNull(src))
      continue;
    char f[384];
    snprintf(f, sizeof(f), "%s.%s", path, volume_types[t].path);
    if (n > 0) {
      api__cause(st, "FieldValueForbidden", f, "Forbidden: may not specify more than 1 volume type");
      ok = false;
      continue;
    }
    n++;
    if (!strcmp(volume_types[t].key, "emptyDir")) {
      quantity_t q;
      if (parse_q(obj_get(src, "sizeLimit"), &q) && quantity_sign(&q) < 0) {
        snprintf(f, sizeof(f), "%s.emptyDir.sizeLimit", path);
        api__cause(st, "FieldValueForbidden", f,
                   "Forbidden: SizeLimit field must be a valid resource quantity");
        ok = false;
      }
    } else if (!strcmp(volume_types[t].key, "hostPath")) {
      const char *p = obj_str(src, "path");
      if (!p || !p[0]) {
        snprintf(f, sizeof(f), "%s.hostPath.path", path);
        api__cause_required(st, f);
        ok = false;
      }
    } else if (!strcmp(volume_types[t].key, "persistentVolumeClaim")) {
      const char *c = obj_str(src, "claimName");
      if (!c || !c[0]) {
        snprintf(f, sizeof(f), "%s.persistentVolumeClaim.claimName", path);
        api__cause_required(st, f);
        ok = false;
      }
    }
  }
  if (n == 0) {
    api__cause(st, "FieldValueRequired", path, "Required value: must specify a volume type");
    ok = false;
  }
  return ok;
}

/* Names a pod template may mount besides its volumes: a StatefulSet's
 * volumeClaimTemplates (set around its validation; loop thread only). */
static const cJSON *extra_volumes;

void api__validate_extra_volumes(const cJSON *claim_templates) { extra_volumes = claim_templates; }

/* ValidateVolumes; the valid names go to vols (for the mounts). */
static void volumes(const cJSON *list, const char *prefix, names_t *vols, api_status_t *st) {
  int i = 0;
  const cJSON *vol;
  cJSON_ArrayForEach(vol, list) {
    char path[256], name_path[300];
    snprintf(path, sizeof(path), "%s.volumes[%d]", prefix, i++);
    snprintf(name_path, sizeof(name_path), "%s.name", path);
    bool ok = volume_source(vol, path, st);
    const char *name = obj_str(vol, "name");
    if (!name || !name[0]) {
      api__cause_required(st, name_path);
      ok = false;
    } else {
      const char *why = obj_check_dns1123_label(name);
      if (why) {
        api__cause(st, "FieldValueInvalid", name_path, "Invalid value: \"%s\": %s", name, why);
        ok = false;
      }
    }
    if (name && names_has(vols, name)) {
      api__cause(st, "FieldValueDuplicate", name_path, "Duplicate value: \"%s\"", name);
      ok = false;
    }
    if (ok)
      names_add(vols, name);
  }
}

/* ---- containers ---- */

static void volume_mounts(const cJSON *c, const char *path, const names_t *vols, api_status_t *st) {
  names_t paths = {.n = 0};
  int j = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, obj_get(c, "volumeMounts")) {
    char f[384];
    const char *name = str_or(obj_str(m, "name"), "");
    const char *mp = str_or(obj_str(m, "mountPath"), "");
    snprintf(f, sizeof(f), "%s.volumeMounts[%d].name", path, j);
    if (!name[0])
      api__cause_required(st, f);
    if (!names_has(vols, name))
      api__cause(st, "FieldValueNotFound", f, "Not found: \"%s\"", name);
    snprintf(f, sizeof(f), "%s.volumeMounts[%d].mountPath", path, j);
    if (!mp[0])
      api__cause_required(st, f);
    if (names_has(&paths, mp))
      api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": must be unique", mp);
    names_add(&paths, mp);
    j++;
  }
}

static void key_selector(const cJSON *sel, const char *path, api_status_t *st) {
  char f[512];
  const char *name = str_or(obj_str(sel, "name"), "");
  const char *why = obj_check_dns1123_subdomain(name);
  if (why) {
    snprintf(f, sizeof(f), "%s.name", path);
    api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": %s", name, why);
  }
  const char *key = obj_str(sel, "key");
  if (!key || !key[0]) {
    snprintf(f, sizeof(f), "%s.key", path);
    api__cause_required(st, f);
  }
}

/* ValidateEnv and validateEnvVarValueFrom: exactly one source. */
static void env(const cJSON *c, const char *path, api_status_t *st) {
  int k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, obj_get(c, "env")) {
    char f[384], g[448];
    const char *name = obj_str(e, "name");
    if (!name || !name[0]) {
      snprintf(f, sizeof(f), "%s.env[%d].name", path, k);
      api__cause_required(st, f);
    }
    const cJSON *vf = obj_get(e, "valueFrom");
    snprintf(f, sizeof(f), "%s.env[%d].valueFrom", path, k);
    k++;
    if (!vf || cJSON_IsNull(vf))
      continue;
    int n = 0;
    static const char *const sources[] = {"fieldRef", "resourceFieldRef", "configMapKeyRef",
                                          "secretKeyRef"};
    for (size_t s = 0; s < 4; s++) {
      const cJSON *src = obj_get(vf, sources[s]);
      if (!src || cJSON_IsNull(src))
        continue;
      n++;
      snprintf(g, sizeof(g), "%s.%s", f, sources[s]);
      if (s >= 2) {
        key_selector(src, g, st);
      } else if (s == 0) {
        const char *fp = obj_str(src, "fieldPath");
        if (!fp || !fp[0]) {
          snprintf(g, sizeof(g), "%s.fieldRef.fieldPath", f);
          api__cause_required(st, g);
        }
      } else {
        const char *r = obj_str(src, "resource");
        if (!r || !r[0]) {
          snprintf(g, sizeof(g), "%s.resourceFieldRef.resource", f);
          api__cause_required(st, g);
        }
      }
    }
    const char *value = obj_str(e, "value");
    if (n == 0)
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, "
                 "`configMapKeyRef` or `secretKeyRef`");
    else if (value && value[0])
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"\": may not be specified when `value` is not empty");
    else if (n > 1)
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"\": may not have more than one field specified at a time");
  }
  char f[384];
  snprintf(f, sizeof(f), "%s.envFrom", path);
  cJSON_ArrayForEach(e, obj_get(c, "envFrom")) {
    int n = (obj_get(e, "configMapRef") != NULL) + (obj_get(e, "secretRef") != NULL);
    if (n == 0)
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`");
    else if (n > 1)
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"\": may not have more than one field specified at a time");
  }
}

/* validateContainerPorts beyond containerPort: hostPort, names, protocol. */
static void ports(const cJSON *c, const char *path, api_status_t *st) {
  names_t seen = {.n = 0};
  int j = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, obj_get(c, "ports")) {
    char f[384];
    const char *name = obj_str(p, "name");
    if (name && name[0]) {
      snprintf(f, sizeof(f), "%s.ports[%d].name", path, j);
      if (names_has(&seen, name))
        api__cause(st, "FieldValueDuplicate", f, "Duplicate value: \"%s\"", name);
      names_add(&seen, name);
    }
    const cJSON *hp = obj_get(p, "hostPort");
    if (cJSON_IsNumber(hp) && hp->valuedouble != 0 &&
        (hp->valuedouble < 1 || hp->valuedouble > 65535)) {
      snprintf(f, sizeof(f), "%s.ports[%d].hostPort", path, j);
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: %d: must be between 1 and 65535, inclusive", hp->valueint);
    }
    const char *proto = obj_str(p, "protocol");
    if (proto && strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP")) {
      snprintf(f, sizeof(f), "%s.ports[%d].protocol", path, j);
      api__cause(st, "FieldValueNotSupported", f,
                 "Unsupported value: \"%s\": supported values: \"SCTP\", \"TCP\", \"UDP\"", proto);
    }
    j++;
  }
}

void api__validate_pod_spec_fields(const cJSON *spec, const char *prefix, api_status_t *st) {
  names_t vols = {.n = 0};
  volumes(obj_get(spec, "volumes"), prefix, &vols, st);
  const cJSON *ct;
  cJSON_ArrayForEach(ct, extra_volumes) {
    const char *n = obj_str(ct, "metadata.name");
    if (n)
      names_add(&vols, n);
  }
  static const char *const lists[] = {"initContainers", "containers"};
  for (size_t l = 0; l < 2; l++) {
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, obj_get(spec, lists[l])) {
      char path[256], f[300];
      snprintf(path, sizeof(path), "%s.%s[%d]", prefix, lists[l], i++);
      volume_mounts(c, path, &vols, st);
      env(c, path, st);
      ports(c, path, st);
      snprintf(f, sizeof(f), "%s.resources", path);
      resource_requirements(obj_get(c, "resources"), f, st);
    }
  }
  const cJSON *overhead = obj_get(spec, "overhead");
  if (cJSON_IsObject(overhead)) {
    /* upstream validates overhead as the limits of a ResourceRequirements */
    char f[300];
    snprintf(f, sizeof(f), "%s.overhead.limits", prefix);
    resource_list(overhead, f, st);
  }
}

/* ---- Secrets and ConfigMaps ---- */

/* Bytes that padded base64 text decodes to. */
static size_t base64_len(const char *s) {
  size_t n = strlen(s);
  size_t out = n / 4 * 3;
  if (n >= 1 && s[n - 1] == '=')
    out--;
  if (n >= 2 && s[n - 2] == '=')
    out--;
  return out;
}

static bool has_key(const cJSON *data, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(data, key) != NULL;
}

/* Whether the base64 value of data[key] decodes to a JSON object (upstream
 * unmarshals it into a map). */
static bool json_object_value(const cJSON *data, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key); /* keys have dots */
  const char *b64 = cJSON_IsString(v) ? v->valuestring : NULL;
  if (!b64)
    return false;
  size_t cap = base64_len(b64) + 1, len = 0;
  unsigned char *raw = xmalloc(cap);
  bool ok = false;
  if (mbedtls_base64_decode(raw, cap, &len, (const unsigned char *)b64, strlen(b64)) == 0) {
    cJSON *j = cJSON_ParseWithLength((const char *)raw, len);
    ok = cJSON_IsObject(j);
    cJSON_Delete(j);
  }
  free(raw);
  return ok;
}

static void required_key(const char *key, api_status_t *st) {
  char f[300];
  snprintf(f, sizeof(f), "data[%s]", key);
  api__cause_required(st, f);
}

void api__validate_secret(const cJSON *obj, api_status_t *st) {
  const cJSON *data = obj_get(obj, "data");
  size_t total = 0;
  const cJSON *kv;
  cJSON_ArrayForEach(kv, data) {
    if (cJSON_IsString(kv))
      total += base64_len(kv->valuestring);
  }
  if (total > MAX_DATA_SIZE)
    api__cause(st, "FieldValueTooLong", "data", "Too long: may not be more than %d bytes",
               MAX_DATA_SIZE);
  const char *type = str_or(obj_str(obj, "type"), "");
  if (!strcmp(type, "kubernetes.io/service-account-token")) {
    const cJSON *ann = obj_get(obj, "metadata.annotations");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ann, "kubernetes.io/service-account.name");
    if (!cJSON_IsString(v) || !v->valuestring[0])
      api__cause_required(st, "metadata.annotations[kubernetes.io/service-account.name]");
  } else if (!strcmp(type, "kubernetes.io/dockercfg") ||
             !strcmp(type, "kubernetes.io/dockerconfigjson")) {
    const char *key = !strcmp(type, "kubernetes.io/dockercfg") ? ".dockercfg" : ".dockerconfigjson";
    if (!has_key(data, key)) {
      required_key(key, st);
    } else if (!json_object_value(data, key)) {
      char f[300];
      snprintf(f, sizeof(f), "data[%s]", key);
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"<secret contents redacted>\": invalid character looking for "
                 "beginning of value");
    }
  } else if (!strcmp(type, "kubernetes.io/basic-auth")) {
    if (!has_key(data, "username") && !has_key(data, "password")) {
      required_key("username", st);
      required_key("password", st);
    }
  } else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(data, "ssh-privatekey");
    if (!cJSON_IsString(k) || !k->valuestring[0])
      required_key("ssh-privatekey", st);
  } else if (!strcmp(type, "kubernetes.io/tls")) {
    if (!has_key(data, "tls.crt"))
      required_key("tls.crt", st);
    if (!has_key(data, "tls.key"))
      required_key("tls.key", st);
  }
}

void api__validate_configmap(const cJSON *obj, api_status_t *st) {
  size_t total = 0;
  const cJSON *kv;
  const cJSON *bin = obj_get(obj, "binaryData");
  cJSON_ArrayForEach(kv, obj_get(obj, "data")) {
    if (cJSON_IsString(kv))
      total += strlen(kv->valuestring);
    if (cJSON_GetObjectItemCaseSensitive(bin, kv->string)) {
      char f[300];
      snprintf(f, sizeof(f), "data[%s]", kv->string);
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"%s\": duplicate of key present in binaryData", kv->string);
    }
  }
  cJSON_ArrayForEach(kv, bin) {
    if (cJSON_IsString(kv))
      total += base64_len(kv->valuestring);
  }
  if (total > MAX_DATA_SIZE)
    api__cause(st, "FieldValueTooLong", "[]", "Too long: may not be more than %d bytes",
               MAX_DATA_SIZE);
}

/* ---- CronJob ---- */

/* validateTimeZone: an IANA name present in the zone database. */
void api__validate_timezone(const cJSON *obj, api_status_t *st) {
  const cJSON *tzv = obj_get(obj, "spec.timeZone");
  if (!tzv || cJSON_IsNull(tzv) || !cJSON_IsString(tzv))
    return;
  const char *tz = tzv->valuestring;
  const char *f = "spec.timeZone";
  if (!tz[0]) {
    api__cause(st, "FieldValueInvalid", f,
               "Invalid value: \"\": timeZone must be nil or non-empty string");
    return;
  }
  char copy[256];
  snprintf(copy, sizeof(copy), "%s", tz);
  bool bad = strlen(tz) >= sizeof(copy);
  for (char *save = NULL, *part = strtok_r(copy, "/", &save); part && !bad;
       part = strtok_r(NULL, "/", &save)) {
    size_t n = strlen(part);
    bad = n < 1 || n > 14 || !strcmp(part, ".") || !strcmp(part, "..") || part[0] == '-';
    for (const char *p = part; *p && !bad; p++)
      bad = !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_' || *p == '+');
  }
  if (bad || tz[0] == '/' || strstr(tz, "//") || tz[strlen(tz) - 1] == '/') {
    api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": unknown time zone %s", tz, tz);
    return;
  }
  if (!strcasecmp(tz, "Local")) {
    api__cause(st, "FieldValueInvalid", f,
               "Invalid value: \"%s\": timeZone must be an explicit time zone as defined in "
               "https://www.iana.org/time-zones",
               tz);
  }
  if (!strcmp(tz, "UTC"))
    return; /* time.LoadLocation knows UTC without the database */
  char path[512];
  snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
  struct stat sb;
  bool found = false;
  if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
    FILE *fp = fopen(path, "rb");
    char magic[4] = {0};
    if (fp) {
      found = fread(magic, 1, 4, fp) == 4 && !memcmp(magic, "TZif", 4);
      fclose(fp);
    }
  }
  if (!found)
    api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": unknown time zone %s", tz, tz);
}

/* ---- Endpoints and EndpointSlices ---- */

/* ValidateNonSpecialIP / ValidateEndpointIP on a parsed address. */
static void special_ip(const char *ip, const char *path, api_status_t *st) {
  unsigned char a[16];
  if (inet_pton(AF_INET, ip, a) == 1) {
    if (!memcmp(a, "\0\0\0\0", 4))
      api__cause(st, "FieldValueInvalid", path, "Invalid value: \"%s\": may not be unspecified (%s)",
                 ip, ip);
    if (a[0] == 127)
      api__cause(st, "FieldValueInvalid", path,
                 "Invalid value: \"%s\": may not be in the loopback range (127.0.0.0/8, ::1/128)", ip);
    if (a[0] == 169 && a[1] == 254)
      api__cause(st, "FieldValueInvalid", path,
                 "Invalid value: \"%s\": may not be in the link-local range (169.254.0.0/16, "
                 "fe80::/10)",
                 ip);
    if (a[0] == 224 && a[1] == 0 && a[2] == 0)
      api__cause(st, "FieldValueInvalid", path,
                 "Invalid value: \"%s\": may not be in the link-local multicast range "
                 "(224.0.0.0/24, ff02::/10)",
                 ip);
    return;
  }
  if (inet_pton(AF_INET6, ip, a) != 1)
    return;
  static const unsigned char zero[16], loop[16] = {[15] = 1};
  if (!memcmp(a, zero, 16))
    api__cause(st, "FieldValueInvalid", path, "Invalid value: \"%s\": may not be unspecified (%s)",
               ip, ip);
  if (!memcmp(a, loop, 16))
    api__cause(st, "FieldValueInvalid", path,
               "Invalid value: \"%s\": may not be in the loopback range (127.0.0.0/8, ::1/128)", ip);
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
    api__cause(st, "FieldValueInvalid", path,
               "Invalid value: \"%s\": may not be in the link-local range (169.254.0.0/16, "
               "fe80::/10)",
               ip);
  if (a[0] == 0xff && (a[1] & 0x0f) == 0x02)
    api__cause(st, "FieldValueInvalid", path,
               "Invalid value: \"%s\": may not be in the link-local multicast range "
               "(224.0.0.0/24, ff02::/10)",
               ip);
}

static bool valid_ip(const char *ip) {
  unsigned char a[16];
  return inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1;
}

static void endpoint_addresses(const cJSON *list, const char *path, api_status_t *st) {
  int j = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, list) {
    char f[256];
    snprintf(f, sizeof(f), "%s[%d].ip", path, j++);
    const char *ip = str_or(obj_str(a, "ip"), "");
    if (!valid_ip(ip)) {
      api__cause(st, "FieldValueInvalid", f,
                 "Invalid value: \"%s\": must be a valid IP address, (e.g. 10.9.8.7 or "
                 "2001:db8::ffff)",
                 ip);
      api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": must be a valid IP address",
                 ip);
      continue;
    }
    special_ip(ip, f, st);
  }
}

void api__validate_endpoints(const cJSON *obj, const cJSON *old, api_status_t *st) {
  (void)old;
  /* default/kubernetes is the API server's own address, which may be the
   * loopback one on a single-node k3c (api.c reconciles it). */
  const char *own = obj_str(obj, "metadata.name"), *ns = obj_str(obj, "metadata.namespace");
  if (own && ns && !strcmp(own, "kubernetes") && !strcmp(ns, "default"))
    return;
  int i = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, obj_get(obj, "subsets")) {
    char f[128];
    snprintf(f, sizeof(f), "subsets[%d].addresses", i);
    endpoint_addresses(obj_get(s, "addresses"), f, st);
    snprintf(f, sizeof(f), "subsets[%d].notReadyAddresses", i);
    endpoint_addresses(obj_get(s, "notReadyAddresses"), f, st);
    int np = cJSON_GetArraySize(obj_get(s, "ports")), j = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, obj_get(s, "ports")) {
      const cJSON *port = obj_get(p, "port");
      const char *name = obj_str(p, "name");
      if (np > 1 && (!name || !name[0])) {
        snprintf(f, sizeof(f), "subsets[%d].ports[%d].name", i, j);
        api__cause_required(st, f);
      }
      if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535) {
        snprintf(f, sizeof(f), "subsets[%d].ports[%d].port", i, j);
        api__cause(st, "FieldValueInvalid", f,
                   "Invalid value: %d: must be between 1 and 65535, inclusive",
                   cJSON_IsNumber(port) ? port->valueint : 0);
      }
      j++;
    }
    i++;
  }
}

void api__validate_endpointslice_addresses(const cJSON *obj, api_status_t *st) {
  const char *at = str_or(obj_str(obj, "addressType"), "");
  bool v4 = !strcmp(at, "IPv4"), v6 = !strcmp(at, "IPv6");
  if (!v4 && !v6)
    return;
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, obj_get(obj, "endpoints")) {
    int j = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, obj_get(e, "addresses")) {
      char f[128];
      snprintf(f, sizeof(f), "endpoints[%d].addresses[%d]", i, j++);
      const char *ip = cJSON_IsString(a) ? a->valuestring : "";
      unsigned char buf[16];
      if (inet_pton(v4 ? AF_INET : AF_INET6, ip, buf) != 1) {
        api__cause(st, "FieldValueInvalid", f, "Invalid value: \"%s\": must be a valid %s address",
                   ip, v4 ? "IPv4" : "IPv6");
        continue;
      }
      special_ip(ip, f, st);
    }
    i++;
  }
}

/* ---- CertificateSigningRequest ---- */

void api__validate_csr_request(const cJSON *obj, api_status_t *st) {
  const char *b64 = obj_str(obj, "spec.request");
  if (!b64 || !b64[0])
    return;
  size_t cap = base64_len(b64) + 1, len = 0;
  unsigned char *raw = xmalloc(cap + 1);
  const char *why = NULL;
  mbedtls_pem_context pem;
  mbedtls_pem_init(&pem);
  if (mbedtls_base64_decode(raw, cap, &len, (const unsigned char *)b64, strlen(b64)) != 0) {
    len = 0;
  }
  raw[len] = 0;
  size_t used = 0;
  /* pem.Decode takes the first block; it must be a CERTIFICATE REQUEST. */
  const char *begin = strstr((const char *)raw, "-----BEGIN ");
  if (!begin || strncmp(begin, "-----BEGIN CERTIFICATE REQUEST-----", 35) ||
      mbedtls_pem_read_buffer(&pem, "-----BEGIN CERTIFICATE REQUEST-----",
                              "-----END CERTIFICATE REQUEST-----", raw, NULL, 0, &used) != 0) {
    why = "PEM block type must be CERTIFICATE REQUEST";
  } else {
    size_t dlen = pem.buflen; /* mbedtls 2.28: the decoded DER */
    const unsigned char *der = pem.buf;
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    if (mbedtls_x509_csr_parse_der(&csr, der, dlen) != 0)
      why = "x509: malformed certificate request";
    mbedtls_x509_csr_free(&csr);
  }
  mbedtls_pem_free(&pem);
  if (why) {
    /* upstream prints the []byte value with %#v */
    buf_t b;
    buf_init(&b, 1 << 20);
    buf_append_str(&b, "Invalid value: []byte{");
    for (size_t i = 0; i < len; i++)
      buf_printf(&b, "%s0x%x", i ? ", " : "", raw[i]);
    buf_printf(&b, "}: %s", why);
    api_status_add_cause(st, "FieldValueInvalid", "spec.request", b.data);
    buf_done(&b);
  }
  free(raw);
}
