/* Admission of an object before it is stored: body decoding (JSON, YAML,
 * Kubernetes protobuf), apiVersion/kind checks, defaults, schema and field
 * validation (fieldValidation Strict/Warn/Ignore), per-kind validation, and
 * the rules of an update (system fields kept, generation, no-op detection).
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/crd.h"
#include "api/internal.h"
#include "api/managed.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "yaml/decode.h"

/* ---- body decoding ---- */

int api__decode_body(http_req_t *req, cJSON **ret_obj, api_status_t *st) {
  size_t len = 0;
  const char *body = http_req_body(req, &len);
  const char *ct = http_req_header(req, "Content-Type");
  char err[512] = "";
  cJSON *obj = NULL;
  if (!body || len == 0) {
    api_status_bad_request(st, "request body is empty: send the object as JSON, YAML or protobuf");
    return -EINVAL;
  }
  if (ct && !strncmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
    int r = schema_pb_decode_envelope((const uint8_t *)body, len, &obj, err, sizeof(err));
    if (r == -ENOTSUP) {
      api_status_init(st, 415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types "
                      "include: application/json, application/yaml (%s)",
                      err);
      return r;
    }
    if (r < 0) {
      api_status_bad_request(st, "unable to decode protobuf body: %s", err);
      return r;
    }
  } else if (ct && (!strncmp(ct, "application/yaml", 16) || !strncmp(ct, "application/apply-patch+yaml", 28))) {
    if (yaml_parse_one(body, len, &obj, err, sizeof(err)) < 0) {
      api_status_bad_request(st, "error converting YAML to JSON: yaml: %s", err);
      return -EINVAL;
    }
  } else if (ct && ct[0] && (strncmp(ct, "application/json", 16) || !strchr("; ", ct[16]))) {
    api_status_init(st, 415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json, application/yaml, application/vnd.kubernetes.protobuf");
    return -EINVAL;
  } else {
    obj = cJSON_ParseWithLength(body, len);
    if (!obj) {
      const char *at = cJSON_GetErrorPtr();
      long off = at && at >= body && at <= body + len ? (long)(at - body) : 0;
      api_status_bad_request(st, "couldn't get version/kind; json parse error: invalid JSON at byte %ld",
                             off);
      return -EINVAL;
    }
  }
  *ret_obj = obj;
  return 0;
}

/* ---- object preparation ---- */

typedef struct {
  const char *msgs[32];
  char paths[32][256];
  int n;
  int unknown, typed;
  char unknown_paths[64][256];
} problems_t;

void api__add_warning(http_req_t *req, const char *text) {
  /* RFC 7234 warn-text is a quoted-string: escape quotes and backslashes. */
  buf_t b;
  buf_init(&b, 4096);
  buf_append_str(&b, "299 - \"");
  for (const char *c = text; *c; c++) {
    if (*c == '"' || *c == '\\')
      buf_append(&b, "\\", 1);
    buf_append(&b, c, 1);
  }
  buf_append_str(&b, "\"");
  http_req_add_header(req, "Warning", b.data);
  buf_done(&b);
}

/* Remove the field at a dotted path ("spec.containers[0].foo") from obj. */
static void remove_path(cJSON *obj, const char *path) {
  cJSON *cur = obj;
  char key[256];
  const char *p = path;
  while (cur && *p) {
    size_t len = strcspn(p, ".[");
    if (len >= sizeof(key))
      return;
    memcpy(key, p, len);
    key[len] = '\0';
    p += len;
    if (!*p) {
      cJSON_DeleteItemFromObjectCaseSensitive(cur, key);
      return;
    }
    if (len)
      cur = cJSON_GetObjectItemCaseSensitive(cur, key);
    while (cur && *p == '[') {
      char *end;
      long i = strtol(p + 1, &end, 10);
      if (*end != ']')
        return;
      cur = cJSON_GetArrayItem(cur, (int)i);
      p = end + 1;
    }
    if (*p == '.')
      p++;
  }
}

static void on_problem(const char *path, bool unknown_field, const char *msg, void *data) {
  problems_t *p = data;
  if (unknown_field) {
    if (p->unknown < (int)(sizeof(p->unknown_paths) / sizeof(p->unknown_paths[0])))
      snprintf(p->unknown_paths[p->unknown], sizeof(p->unknown_paths[0]), "%s", path);
    p->unknown++;
  } else {
    p->typed++;
  }
  if (p->n < 32) {
    snprintf(p->paths[p->n], sizeof(p->paths[0]), "%s", msg);
    p->n++;
  }
}

/* Schema check honouring fieldValidation (Strict, Warn, Ignore). Returns
 * -EINVAL and fills st when the request must fail. */
static int check_schema(http_req_t *req, const api_resource_t *res, cJSON *obj,
                        api_status_t *st) {
  if (!res->s->type)
    return 0;
  problems_t p;
  memset(&p, 0, sizeof(p));
  schema_check(res->s->type, obj, on_problem, &p);
  if (p.n == 0)
    return 0;
  const char *mode = req ? http_req_query(req, "fieldValidation") : NULL;
  bool strict = mode && !strcmp(mode, "Strict");
  bool ignore = mode && !strcmp(mode, "Ignore");
  if (p.typed == 0 && !strict) {
    for (int i = 0; i < p.n && req && !ignore; i++)
      api__add_warning(req, p.paths[i]);
    /* Unknown fields are dropped, as decoding into upstream's typed structs
     * does; a few passes cover objects with more than the recorded paths. */
    for (int pass = 0; pass < 16 && p.unknown > 0; pass++) {
      int n = p.unknown < 64 ? p.unknown : 64;
      for (int i = 0; i < n; i++)
        remove_path(obj, p.unknown_paths[i]);
      memset(&p, 0, sizeof(p));
      schema_check(res->s->type, obj, on_problem, &p);
    }
    return 0;
  }
  char msg[900] = "";
  size_t used = 0;
  for (int i = 0; i < p.n; i++) {
    int w = snprintf(msg + used, sizeof(msg) - used, "%s%s", i ? ", " : "", p.paths[i]);
    if (w < 0 || (size_t)w >= sizeof(msg) - used)
      break;
    used += (size_t)w;
  }
  if (strict)
    api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s",
                           res->s->kind, res->group_version, res->s->kind, msg);
  else
    api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: %s", res->s->kind,
                           res->group_version, res->s->kind, msg);
  return -EINVAL;
}

/* Check apiVersion/kind of a body against the resource and fill them in. */
int api__check_type(const api_resource_t *res, cJSON *obj, api_status_t *st) {
  if (!cJSON_IsObject(obj)) {
    api_status_bad_request(st, "the request body must be a JSON object of kind %s", res->s->kind);
    return -EINVAL;
  }
  const char *av = obj_str(obj, "apiVersion");
  const char *kind = obj_str(obj, "kind");
  if (av && av[0] && strcmp(av, res->group_version)) {
    api_status_bad_request(st, "the API version in the data (%s) does not match the expected API "
                               "version (%s)",
                           av, res->group_version);
    return -EINVAL;
  }
  if (kind && kind[0] && strcmp(kind, res->s->kind)) {
    api_status_bad_request(st, "the kind in the data (%s) does not match the expected kind (%s)",
                           kind, res->s->kind);
    return -EINVAL;
  }
  obj_set_str(obj, "apiVersion", res->group_version);
  obj_set_str(obj, "kind", res->s->kind);
  return 0;
}

/* Keys of labels and annotations are qualified names; label values have a
 * shape of their own (upstream ValidateLabels, ValidateAnnotations). */
static void check_meta_map(const cJSON *map, const char *field, bool values, api_status_t *st) {
  const cJSON *e;
  if (!cJSON_IsObject(map))
    return;
  cJSON_ArrayForEach(e, map) {
    const char *bad = e->string;
    const char *why = obj_check_qualified_name(e->string);
    if (!why && values && cJSON_IsString(e)) {
      bad = e->valuestring;
      why = obj_check_label_value(e->valuestring);
    }
    if (why) {
      char *msg = xasprintf("Invalid value: \"%s\": %s", bad, why);
      api_status_add_cause(st, "FieldValueInvalid", field, msg);
      free(msg);
    }
  }
}

/* Upstream's metadata fields are omitempty: empty or null maps and lists are
 * never stored nor returned ({"labels":{}} in a patch is no change). */
static void drop_empty_meta(cJSON *obj) {
  static const char *const keys[] = {"labels", "annotations", "finalizers", "ownerReferences",
                                     "managedFields"};
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
  if (!cJSON_IsObject(meta))
    return;
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, keys[i]);
    if (cJSON_IsNull(v) || ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child))
      cJSON_DeleteItemFromObjectCaseSensitive(meta, keys[i]);
  }
}

/* Defaults, validation and schema checks shared by create and update. */
int api__admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
                 api_status_t *st) {
  if (old && res->hooks->prepare_update)
    res->hooks->prepare_update(obj, old);
  if (res->hooks->defaults)
    res->hooks->defaults(obj);
  drop_empty_meta(obj);
  if (check_schema(req, res, obj, st) < 0)
    return -EINVAL;
  memset(st, 0, sizeof(*st));
  if (api__typed_canonicalize(res, obj, st) < 0)
    return -EINVAL;
  if (res->s->json_schema && api__crd_admit(req, res, obj, st) < 0)
    return -EINVAL;
  const char *name = obj_str(obj, "metadata.name");
  if (!old) {
    const char *why = res->hooks->check_name ? res->hooks->check_name(name)
                                             : obj_check_dns1123_subdomain(name);
    if (why) {
      char *msg = xasprintf("Invalid value: \"%s\": %s", name, why);
      api_status_add_cause(st, "FieldValueInvalid", "metadata.name", msg);
      free(msg);
    }
  }
  const cJSON *labels = obj_get(obj, "metadata.labels");
  if (labels && !cJSON_IsObject(labels))
    api_status_add_cause(st, "FieldValueInvalid", "metadata.labels", "Invalid value: must be a map of strings");
  check_meta_map(labels, "metadata.labels", true, st);
  check_meta_map(obj_get(obj, "metadata.annotations"), "metadata.annotations", false, st);
  if (res->hooks->validate)
    res->hooks->validate(obj, old, st);
  if (st->causes) {
    api_status_invalid(st, res->s->group, res->s->kind, name ? name : "");
    return -EINVAL;
  }
  return 0;
}

/* ---- updates ---- */

/* The approval subresource (CertificateSigningRequest): the request's
 * metadata and status.conditions, everything else from old. */
static void keep_all_but_conditions(cJSON *obj, const cJSON *old) {
  cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
  cJSON *conds = cJSON_IsObject(status)
                     ? cJSON_DetachItemFromObjectCaseSensitive(status, "conditions")
                     : NULL;
  cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(obj, "metadata");
  cJSON *copy = cJSON_Duplicate(old, 1);
  cJSON *child = obj->child;
  obj->child = copy->child;
  copy->child = child;
  cJSON_Delete(copy);
  if (meta)
    obj_set(obj, "metadata", meta);
  status = obj_child_object(obj, "status");
  if (conds)
    obj_set(status, "conditions", conds);
  else
    cJSON_DeleteItemFromObjectCaseSensitive(status, "conditions");
}

/* Carry over what a client may not change in an update. */
void api__keep_system_fields(const api_resource_t *res, cJSON *obj, const cJSON *old,
                               const char *sub) {
  cJSON *meta = obj_meta(obj);
  const cJSON *om = cJSON_GetObjectItemCaseSensitive(old, "metadata");
  static const char *const keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                     "deletionGracePeriodSeconds", "namespace", "name"};
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(om, keep[i]);
    if (v)
      obj_set(meta, keep[i], cJSON_Duplicate(v, 1));
    else
      cJSON_DeleteItemFromObjectCaseSensitive(meta, keep[i]);
  }
  if (sub && !strcmp(sub, "approval")) {
    keep_all_but_conditions(obj, old);
    return;
  }
  if (res->has_status) {
    const char *replace = sub && !strcmp(sub, "status") ? "spec" : "status";
    /* Main resource: status comes from the old object; status subresource:
     * everything but status does. */
    if (!strcmp(replace, "status")) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, "status");
      if (v)
        obj_set(obj, "status", cJSON_Duplicate(v, 1));
      else
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
    } else {
      cJSON *status = cJSON_DetachItemFromObjectCaseSensitive(obj, "status");
      cJSON *copy = cJSON_Duplicate(old, 1);
      cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
      if (status)
        cJSON_AddItemToObject(copy, "status", status);
      /* swap contents of obj with copy */
      cJSON *child = obj->child;
      obj->child = copy->child;
      copy->child = child;
      cJSON_Delete(copy);
      meta = obj_meta(obj);
    }
  }
}

/* metadata.generation: bumped when the spec changes; compared after the
 * defaults ran, so a patch that drops defaulted fields is no change. */
void api__set_generation(const api_resource_t *res, cJSON *obj, const cJSON *old) {
  if (!res->hooks->generation)
    return;
  const cJSON *og = obj_get(old, "metadata.generation");
  double g = cJSON_IsNumber(og) ? og->valuedouble : 1;
  if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(obj, "spec"),
                     cJSON_GetObjectItemCaseSensitive(old, "spec"), 1))
    g += 1;
  obj_set(obj_meta(obj), "generation", cJSON_CreateNumber(g));
}

/* Whether two stored forms are the same, ignoring resourceVersion. */
bool api__unchanged(cJSON *obj, const cJSON *old) {
  const char *orv = obj_str(old, "metadata.resourceVersion");
  cJSON *meta = obj_meta(obj);
  cJSON *saved = cJSON_DetachItemFromObjectCaseSensitive(meta, "resourceVersion");
  if (orv)
    cJSON_AddStringToObject(meta, "resourceVersion", orv);
  bool same = api_managed_equal(obj, old); /* linear; cJSON_Compare is quadratic */
  cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
  if (saved)
    cJSON_AddItemToObject(meta, "resourceVersion", saved);
  return same;
}

