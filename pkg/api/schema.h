/* pkg/api/schema: the Kubernetes API types, described once.
 * CONTRACT header: the rest of pkg/api codes against it.
 *
 * The types and the served kinds are written in a compact definition
 * language under pkg/api/defs/ and compiled at build time (by
 * scripts/gen-schema.py) into the constant tables declared here. Those
 * tables drive: protobuf decoding of request bodies, strict field
 * validation, strategic-merge-patch keys, discovery, Table columns and the
 * OpenAPI documents. Everything here is immutable data or pure functions:
 * callable from any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/patch.h"

typedef enum {
  SCHEMA_STRING,
  SCHEMA_BOOL,
  SCHEMA_INT32,
  SCHEMA_INT64,
  SCHEMA_DOUBLE,
  SCHEMA_BYTES,         /* JSON: base64 string; proto: bytes */
  SCHEMA_OBJECT,        /* a struct: field->type */
  SCHEMA_TIME,          /* JSON: RFC 3339 string; proto: meta.v1.Time {1 seconds, 2 nanos} */
  SCHEMA_MICROTIME,     /* JSON: RFC 3339 with microseconds; proto as Time */
  SCHEMA_DURATION,      /* JSON: "1m30s"; proto: meta.v1.Duration {1 int64 ns} */
  SCHEMA_QUANTITY,      /* JSON: "100m" (numbers accepted); proto: {1 string} */
  SCHEMA_INT_OR_STRING, /* JSON: int or string; proto: {1 type, 2 intVal, 3 strVal} */
  SCHEMA_RAW,           /* any JSON (RawExtension, JSON, x-preserve-unknown); proto: {1 raw bytes} */
} schema_kind_t;

typedef enum {
  SCHEMA_ONE = 0, /* a single value */
  SCHEMA_LIST,    /* JSON array; proto repeated */
  SCHEMA_MAP,     /* JSON object with string keys; proto map<string, value> */
} schema_container_t;

enum { SCHEMA_LISTTYPE_NONE, SCHEMA_LISTTYPE_ATOMIC, SCHEMA_LISTTYPE_SET, SCHEMA_LISTTYPE_MAP };

#define SCHEMA_PATCH_MERGE 1u       /* patchStrategy: merge */
#define SCHEMA_PATCH_RETAIN_KEYS 2u /* patchStrategy: retainKeys */

typedef struct schema_type schema_type_t;

typedef struct {
  const char *name;        /* JSON name */
  uint32_t proto;          /* protobuf field number; 0 = not in protobuf */
  schema_kind_t kind;
  schema_container_t container;
  const schema_type_t *type; /* SCHEMA_OBJECT element type */
  const char *merge_key;     /* x-kubernetes-patch-merge-key */
  unsigned patch;            /* SCHEMA_PATCH_* */
  bool required;
  const char *const *enums;  /* allowed string values, NULL-terminated; NULL = any */
  const char *description;   /* short, ours; may be NULL */
  /* Added by the schema module: */
  const char *map_keys;      /* x-kubernetes-list-map-keys, comma-separated; may be NULL */
  uint8_t list_type;         /* SCHEMA_LISTTYPE_*: x-kubernetes-list-type; for a map,
                                ATOMIC is x-kubernetes-map-type: atomic */
  bool pointer;              /* Go pointer: protobuf zero values are meaningful */
  bool keep_zero;            /* JSON keeps zero values (pointer, or no omitempty) */
  const char *default_json;  /* OpenAPI default as JSON text ("\"TCP\""); NULL = none */
} schema_field_t;
/* A field with name "" is an embedded (json:",inline") struct: its fields
 * are also listed, flattened, in the parent with proto 0, and the entry
 * itself only says which protobuf field number carries them. Walkers of
 * JSON skip it. */

struct schema_type {
  const char *name; /* OpenAPI definition name: io.k8s.api.core.v1.PodSpec */
  const char *description;
  const schema_field_t *fields;
  size_t nfields;
  bool preserve_unknown; /* accept any extra fields (e.g. RawExtension holders) */
  bool atomic;           /* x-kubernetes-map-type: atomic (+structType=atomic): server-side
                            apply owns and replaces the object as one value */
};

/* One printer column, as in metav1.TableColumnDefinition. The value is the
 * simple JSONPath `path` ("{.spec.nodeName}" written as ".spec.nodeName"),
 * or, when path is NULL, computed by the kind's table hook in C. */
typedef struct {
  const char *name;
  const char *type;   /* "string", "integer", "number", "boolean", "date" */
  const char *format; /* "name" for the NAME column, else "" */
  const char *description;
  int priority;       /* 0 = always, 1 = only with -o wide */
  const char *path;
} schema_column_t;

#define SCHEMA_VERB_GET (1u << 0)
#define SCHEMA_VERB_LIST (1u << 1)
#define SCHEMA_VERB_WATCH (1u << 2)
#define SCHEMA_VERB_CREATE (1u << 3)
#define SCHEMA_VERB_UPDATE (1u << 4)
#define SCHEMA_VERB_PATCH (1u << 5)
#define SCHEMA_VERB_DELETE (1u << 6)
#define SCHEMA_VERB_DELETECOLLECTION (1u << 7)
#define SCHEMA_VERBS_ALL 0xffu

/* One served resource (a row of the resource registry). */
typedef struct {
  const char *group;   /* "" for core */
  const char *version; /* "v1" */
  const char *kind;    /* "Pod" */
  const char *plural;  /* "pods" */
  const char *singular;
  const char *const *short_names; /* NULL-terminated, may be NULL */
  const char *const *categories;  /* NULL-terminated, may be NULL ("all") */
  bool namespaced;
  unsigned verbs;                  /* SCHEMA_VERB_* */
  const char *const *subresources; /* "status", "scale", "log", "exec", ...; NULL-terminated */
  const schema_type_t *type;
  const schema_column_t *columns; /* all Table columns in upstream order, NAME and AGE included
                                     (NAME: path .metadata.name; AGE: type date, path
                                     .metadata.creationTimestamp) */
  size_t ncolumns;
  /* Custom resources only (type is NULL): the version's openAPIV3Schema and
   * the components.schemas name it is published under ("com.example.v1.Db"). */
  const cJSON *json_schema;
  const char *schema_name;
} schema_resource_t;

/* ---- generated tables ---- */
extern const schema_resource_t schema_resources[];
extern const size_t schema_nresources;

/* Find a type by OpenAPI name, a field of a type by JSON name. NULL if none. */
const schema_type_t *schema_type_find(const char *name);
const schema_field_t *schema_field_find(const schema_type_t *t, const char *name);
/* The type of apiVersion/kind for every kind with a schema, including
 * request-only kinds (DeleteOptions, Eviction, TokenRequest, Scale,
 * SelfSubjectAccessReview, ...). NULL if unknown. */
const schema_type_t *schema_type_for_kind(const char *api_version, const char *kind);

/* Strategic-merge-patch view of the schema for json_smp_apply; the root
 * type handle is a const schema_type_t *. */
extern const smp_schema_t schema_smp;

/* ---- protobuf (application/vnd.kubernetes.protobuf) ---- */

/* Decode a request body: the 4-byte magic "k8s\0" followed by
 * runtime.Unknown {1 TypeMeta{1 apiVersion, 2 kind}, 2 raw, 3
 * contentEncoding, 4 contentType}. The raw message is decoded with the
 * type of its apiVersion/kind into the JSON form (apiVersion and kind set).
 * Returns 0, -EINVAL with err ("unknown protobuf kind apps/v1 Foo", "field
 * 3 of io.k8s...: truncated"), or -ENOTSUP for a kind without a schema. */
int schema_pb_decode_envelope(const uint8_t *body, size_t len, cJSON **ret_obj, char *err,
                              size_t errlen);
/* Decode one message of type t to JSON. */
int schema_pb_decode(const schema_type_t *t, const uint8_t *buf, size_t len, cJSON **ret_obj,
                     char *err, size_t errlen);

/* ---- validation against the schema ---- */

/* Report each field of obj not in the schema (strict field validation) and
 * each value of the wrong JSON type, calling cb with a dotted path
 * ("spec.containers[0].imagePullPolicyy") and a message in upstream wording
 * ('unknown field "spec.foo"', 'spec.replicas: Invalid value: "string":
 * spec.replicas in body must be of type integer: "string"'). Returns the
 * number of problems. */
typedef void (*schema_problem_cb)(const char *path, bool unknown_field, const char *msg,
                                  void *data);
int schema_check(const schema_type_t *t, const cJSON *obj, schema_problem_cb cb, void *data);

/* ---- OpenAPI ---- */

/* /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}, ...}}.
 * Caller frees. */
char *schema_openapi_v3_root(size_t *ret_len);
/* The OpenAPI 3.0 document of one group-version ("" for core), with
 * components.schemas carrying x-kubernetes-group-version-kind and, per
 * resource path, get/put/patch/delete/post operations whose PATCH lists the
 * fieldValidation query parameter. NULL if the group-version is not served.
 * Caller frees. */
char *schema_openapi_v3_gv(const char *group, const char *version, size_t *ret_len);
