/* Small helpers over Kubernetes objects in cJSON form: metadata access,
 * timestamps, UIDs, names, human ages. Pure except for the clock and RNG;
 * any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The object's metadata object, created if absent. */
cJSON *obj_meta(cJSON *obj);
/* The object (or array) member key of parent, created (or replacing a value
 * of another type) when absent. */
cJSON *obj_child_object(cJSON *parent, const char *key);
cJSON *obj_child_array(cJSON *parent, const char *key);
/* {"group":g,"version":v,"kind":k} */
cJSON *obj_gvk(const char *group, const char *version, const char *kind);
/* String at a dotted path ("metadata.name", "spec.nodeName"), or NULL. */
const char *obj_str(const cJSON *obj, const char *path);
/* Any item at a dotted path, or NULL. */
const cJSON *obj_get(const cJSON *obj, const char *path);
/* Replace (or add) a string field of an object. */
void obj_set_str(cJSON *obj, const char *key, const char *value);
/* A default: adds key = v to object o when o has no key (takes v; freed
 * when not added, also when o is not an object). */
void obj_set_default(cJSON *o, const char *key, cJSON *v);
/* Replace (or add) an item of an object; takes ownership of item. */
void obj_set(cJSON *obj, const char *key, cJSON *item);

/* RFC 3339 UTC, second precision: "2026-11-23T12:00:00Z". buf >= 32. */
void obj_time_format(time_t t, char *buf, size_t n);
/* Parse RFC 3339 (fractional seconds and offsets accepted); -1 on error. */
time_t obj_time_parse(const char *s);
/* Random RFC 4122 version 4 UUID; buf >= 37. */
void obj_uuid(char *buf, size_t n);
/* Append 5 random characters from upstream's generateName alphabet. */
void obj_random_suffix(char *buf, size_t n);

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration: "5m30s", "3d". */
void obj_human_duration(int64_t seconds, char *buf, size_t n);

/* Name validation with upstream messages; returns NULL if valid, else a
 * static message ("a lowercase RFC 1123 subdomain must consist of ..."). */
const char *obj_check_dns1123_subdomain(const char *s);
const char *obj_check_dns1123_label(const char *s);
/* Path-segment names (upstream ValidatePathSegmentName): no "/", "%", "."/".." */
const char *obj_check_path_segment(const char *s);
/* Label keys and annotation keys (upstream IsQualifiedName: optional DNS
 * subdomain prefix and '/', then a name of at most 63 characters) and label
 * values (IsValidLabelValue); same contract as the checks above. */
const char *obj_check_qualified_name(const char *s);
const char *obj_check_label_value(const char *s);
