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
#include "json/strict.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/offload.h"
#include "yaml/decode.h"

/* ---- body decoding ---- */

/* upstream's fieldValidation directive; absent means Warn */
typedef enum { VALIDATE_WARN, VALIDATE_STRICT, VALIDATE_IGNORE } validation_t;

static validation_t validation_of(http_req_t *req) {
  const char *mode = req ? http_req_query(req, "fieldValidation") : NULL;
  if (mode && !strcmp(mode, "Strict"))
    return VALIDATE_STRICT;
  if (mode && !strcmp(mode, "Ignore"))
    return VALIDATE_IGNORE;
  return VALIDATE_WARN;
}

/* upstream's summarizeData(body, 30) for "the object provided is unrecognized" */
static char *summarize(const char *body, size_t len) {
  if (len == 0)
    return xstrdup("<empty>");
  size_t n = len > 30 ? 30 : len;
  const char *more = len > 30 ? " ..." : "";
  if (body[0] == '{') {
    char *clean = json_utf8_sanitize(body, n);
    char *s = xasprintf("%s%s", clean, more);
    free(clean);
    return s;
  }
  char hex[61];
  for (size_t i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char)body[i]);
  return xasprintf("%s%s", hex, more);
}

/* Go's %q of a string, enough for keys in messages: quotes and backslashes escaped. */
static void go_quote(buf_t *b, const char *s) {
  buf_append_str(b, "\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      buf_append(b, "\\", 1);
    buf_append(b, s, 1);
  }
  buf_append_str(b, "\"");
}

typedef struct {
  buf_t lines; /* "line N: key \"k\" already set in map", '\n'-separated */
  int n;
} yaml_dups_t;

static void on_yaml_dup(size_t line, const char *key, void *data) {
  yaml_dups_t *d = data;
  if (d->n >= JSON_STRICT_MAX_DUPS)
    return;
  buf_printf(&d->lines, "%sline %zu: key ", d->n ? "\n" : "", line);
  go_quote(&d->lines, key);
  buf_append_str(&d->lines, " already set in map");
  d->n++;
}

/* The "<Kind> in version "<v>" cannot be handled as a <Kind>: " frame of a
 * typed decoding error: the body's kind and version, defaulted from res. */
static void typed_frame(const api_resource_t *res, const cJSON *obj, char *out, size_t n) {
  const char *kind = obj_str(obj, "kind"), *av = obj_str(obj, "apiVersion");
  const char *version = av && av[0] ? (strrchr(av, '/') ? strrchr(av, '/') + 1 : av) : NULL;
  if (!res) {
    out[0] = '\0';
    return;
  }
  snprintf(out, n, "%s in version \"%s\" cannot be handled as a %s: ", kind && kind[0] ? kind : res->s->kind,
           version && version[0] ? version : res->s->version, res->s->kind);
}

/* Duplicate keys after decoding (the last value was kept): refused under
 * fieldValidation=Strict, warned about under Warn, as upstream's strict
 * decoder does. text: the strict errors, ", "-joined (JSON) or the go-yaml
 * error text (YAML). */
static int strict_errors(http_req_t *req, const api_resource_t *res, const cJSON *obj, bool yaml,
                         const char *text, api_status_t *st) {
  validation_t v = validation_of(req);
  bool apply = false;
  const char *ct = http_req_header(req, "Content-Type");
  if (ct && !strncmp(ct, "application/apply-patch+yaml", 28))
    apply = true;
  if (v == VALIDATE_STRICT) {
    char frame[512];
    typed_frame(res, obj, frame, sizeof(frame));
    if (apply)
      api_status_bad_request(st, "error strict decoding patch: error converting YAML to JSON: "
                                 "yaml: unmarshal errors:\n  %s", text);
    else if (yaml)
      api_status_bad_request(st, "%sstrict decoding error: yaml: unmarshal errors:\n  %s", frame, text);
    else
      api_status_bad_request(st, "%sstrict decoding error: %s", frame, text);
    return -EINVAL;
  }
  if (v == VALIDATE_WARN) {
    /* one warning per error, as upstream's addStrictDecodingWarnings */
    const char *sep = yaml ? "\n" : ", ";
    char *copy = xstrdup(text);
    char *p = copy;
    while (p && *p) {
      char *next = strstr(p, sep);
      if (next)
        *next = '\0';
      api__add_warning(req, p);
      p = next ? next + strlen(sep) : NULL;
    }
    free(copy);
  }
  return 0;
}

static int decode_json(http_req_t *req, const api_resource_t *res, const char *body, size_t len,
                       cJSON **ret_obj, api_status_t *st) {
  json_strict_result_t jr;
  cJSON *obj = NULL;
  int r = json_strict_parse(body, len, &obj, &jr);
  if (r < 0) {
    if (jr.kind == JSON_STRICT_ERR_NUL) {
      api_status_bad_request(st, "the request body cannot be stored: strings may not contain the NUL "
                                 "character (\\u0000)%s%s (byte %zu)",
                             jr.err_path[0] ? ", found in " : "", jr.err_path, jr.err_offset);
    } else if (jr.kind == JSON_STRICT_ERR_NUMBER && res) {
      api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: %s", res->s->kind,
                             res->s->version, res->s->kind, jr.err);
    } else if (res) {
      char *sum = summarize(body, len);
      api_status_bad_request(st, "the object provided is unrecognized (must be of type %s): couldn't "
                                 "get version/kind; json parse error: %s (%s)",
                             res->s->kind, jr.err, sum);
      free(sum);
    } else {
      api_status_bad_request(st, "couldn't get version/kind; json parse error: %s", jr.err);
    }
    json_strict_result_done(&jr);
    return -EINVAL;
  }
  if (jr.ndups) {
    buf_t b;
    buf_init(&b, 1u << 20);
    for (size_t i = 0; i < jr.ndups; i++) {
      buf_append_str(&b, i ? ", duplicate field " : "duplicate field ");
      go_quote(&b, jr.dups[i]);
    }
    r = strict_errors(req, res, obj, false, b.data, st);
    buf_done(&b);
  }
  json_strict_result_done(&jr);
  if (r < 0) {
    cJSON_Delete(obj);
    return r;
  }
  *ret_obj = obj;
  return 0;
}

static int decode_yaml(http_req_t *req, const api_resource_t *res, const char *body, size_t len,
                       cJSON **ret_obj, api_status_t *st) {
  char err[512] = "";
  cJSON *obj = NULL;
  yaml_dups_t d = {.n = 0};
  buf_init(&d.lines, 1u << 20);
  int r = yaml_parse_one_dups(body, len, &obj, on_yaml_dup, &d, err, sizeof(err));
  if (r < 0) {
    api_status_bad_request(st, "error converting YAML to JSON: yaml: %s", err);
  } else if (d.n && (r = strict_errors(req, res, obj, true, d.lines.data, st)) < 0) {
    cJSON_Delete(obj);
  } else {
    *ret_obj = obj;
  }
  buf_done(&d.lines);
  return r < 0 ? -EINVAL : 0;
}

static int decode_body_as(http_req_t *req, const api_resource_t *res, cJSON **ret_obj,
                          api_status_t *st) {
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
    if (decode_yaml(req, res, body, len, &obj, st) < 0)
      return -EINVAL;
  } else if (ct && ct[0] && (strncmp(ct, "application/json", 16) || !strchr("; ", ct[16]))) {
    api_status_init(st, 415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json, application/yaml, application/vnd.kubernetes.protobuf");
    return -EINVAL;
  } else if (decode_json(req, res, body, len, &obj, st) < 0) {
    return -EINVAL;
  }
  *ret_obj = obj;
  return 0;
}

/* Decoding reads only the request's bytes and builds a private tree: the
 * loop runs meanwhile when this is an offloaded request (util/offload.h). */
int api__decode_body_as(http_req_t *req, const api_resource_t *res, cJSON **ret_obj,
                        api_status_t *st) {
  offload_unlock();
  int r = decode_body_as(req, res, ret_obj, st);
  offload_relock();
  if (r == 0)
    api__audit_request_object(api__request_audit(req), *ret_obj);
  return r;
}

int api__decode_body(http_req_t *req, cJSON **ret_obj, api_status_t *st) {
  return api__decode_body_as(req, NULL, ret_obj, st);
}

int api__decode_patch(http_req_t *req, const char *body, size_t len, cJSON **ret_patch,
                      api_status_t *st) {
  json_strict_result_t jr;
  cJSON *patch = NULL;
  if (json_strict_parse(body, len, &patch, &jr) < 0) {
    if (jr.kind == JSON_STRICT_ERR_NUL)
      api_status_bad_request(st, "the patch cannot be applied: strings may not contain the NUL "
                                 "character (\\u0000)%s%s (byte %zu)",
                             jr.err_path[0] ? ", found in " : "", jr.err_path, jr.err_offset);
    else
      api_status_bad_request(st, "error decoding patch: %s", jr.err);
    json_strict_result_done(&jr);
    return -EINVAL;
  }
  int r = 0;
  if (jr.ndups) {
    /* upstream decodes the patch strictly under Strict and Warn: its
     * duplicates are strict decoding errors of their own */
    validation_t v = validation_of(req);
    const char *prefix = cJSON_IsArray(patch) ? "json patch " : "";
    buf_t b;
    buf_init(&b, 1u << 20);
    for (size_t i = 0; i < jr.ndups; i++) {
      size_t from = b.len + (i ? 2 : 0);
      buf_printf(&b, "%s%sduplicate field ", i ? ", " : "", prefix);
      go_quote(&b, jr.dups[i]);
      if (v == VALIDATE_WARN)
        api__add_warning(req, b.data + from);
    }
    if (v == VALIDATE_STRICT) {
      api_status_bad_request(st, "strict decoding error: %s", b.data);
      r = -EINVAL;
    }
    buf_done(&b);
  }
  json_strict_result_done(&jr);
  if (r < 0) {
    cJSON_Delete(patch);
    return r;
  }
  *ret_patch = patch;
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
                           res->s->kind, res->s->version, res->s->kind, msg);
  else
    api_status_bad_request(st, "%s in version \"%s\" cannot be handled as a %s: %s", res->s->kind,
                           res->s->version, res->s->kind, msg);
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
  size_t total = 0;
  cJSON_ArrayForEach(e, map) {
    const char *bad = e->string;
    const char *why;
    if (values) {
      why = obj_check_qualified_name(e->string);
    } else {
      /* annotation keys: a qualified name, case aside (upstream lowercases) */
      char *lower = xstrdup(e->string);
      for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
          *c = (char)(*c - 'A' + 'a');
      why = obj_check_qualified_name(lower);
      free(lower);
      total += strlen(e->string) + (cJSON_IsString(e) ? strlen(e->valuestring) : 0);
    }
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
  /* upstream's TotalAnnotationSizeLimitB: keys and values, 256 KiB */
  if (!values && total > 256 * 1024)
    api_status_add_cause(st, "FieldValueTooLong", field, "Too long: must have at most 262144 bytes");
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

static int admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
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
  if (res->s->json_schema && api__crd_admit(req, res, obj, old, st) < 0)
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
    name = obj_str(obj, "metadata.name"); /* the hook may have replaced items */
    api_status_invalid(st, res->s->group, res->s->kind, name ? name : "");
    return -EINVAL;
  }
  return 0;
}

/* Defaults, validation and schema checks shared by create and update. They
 * read obj, old, the constant schema tables and res's rows (a CRD's old
 * rows outlive every request, crd.c), so an offloaded request runs them
 * with the loop lock released. */
int api__admit(http_req_t *req, const api_resource_t *res, cJSON *obj, const cJSON *old,
               api_status_t *st) {
  offload_unlock();
  int r = admit(req, res, obj, old, st);
  offload_relock();
  return r;
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
  if (sub && !strcmp(sub, "finalize")) {
    /* Namespace finalize: only spec.finalizers comes from the request. */
    cJSON *fin = cJSON_DetachItemFromObjectCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "spec"), "finalizers");
    cJSON *copy = cJSON_Duplicate(old, 1);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(copy, "spec");
    if (!spec)
      spec = cJSON_AddObjectToObject(copy, "spec");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "finalizers");
    if (fin)
      cJSON_AddItemToObject(spec, "finalizers", fin);
    cJSON_DeleteItemFromObjectCaseSensitive(obj_meta(copy), "resourceVersion");
    cJSON *rv = cJSON_DetachItemFromObjectCaseSensitive(obj_meta(obj), "resourceVersion");
    if (rv)
      cJSON_AddItemToObject(obj_meta(copy), "resourceVersion", rv);
    cJSON *child = obj->child;
    obj->child = copy->child;
    copy->child = child;
    cJSON_Delete(copy);
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

