/* pkg/json selectors: Kubernetes label selectors and field selectors.
 * CONTRACT header. https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
 * Pure; callable from any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct label_selector label_selector_t;

/* Parse the string form: "a=b,c!=d,e in (x,y),f notin (z),g,!h", also "==".
 * An empty string selects everything. Returns 0 or -EINVAL with err naming
 * the problem the way upstream does ("unable to parse requirement: ..."). */
int label_selector_parse(const char *s, label_selector_t **ret_sel, char *err, size_t errlen);
/* From a metav1.LabelSelector object {matchLabels, matchExpressions[{key,
 * operator In|NotIn|Exists|DoesNotExist, values}]}. NULL json selects
 * nothing (as upstream for a nil selector in most controllers); {} selects
 * everything. */
int label_selector_from_json(const cJSON *json, label_selector_t **ret_sel, char *err,
                             size_t errlen);
/* labels: the metadata.labels object (or NULL for none). */
bool label_selector_match(const label_selector_t *sel, const cJSON *labels);
bool label_selector_empty(const label_selector_t *sel);
void label_selector_free(label_selector_t *sel);

typedef struct field_selector field_selector_t;

/* Parse "metadata.name=x,status.phase!=Running" ("==" too; values may
 * escape ',', '=', '\\' with a backslash). Returns 0 or -EINVAL. */
int field_selector_parse(const char *s, field_selector_t **ret_sel, char *err, size_t errlen);
/* Number of requirements and the field path of the i-th (for checking that
 * a resource supports the field). */
size_t field_selector_count(const field_selector_t *sel);
const char *field_selector_field(const field_selector_t *sel, size_t i);
/* Match against an object: each path is looked up by dotted path in obj; a
 * missing field compares as "". Values that are not strings are compared by
 * their text (true/false, numbers). */
bool field_selector_match(const field_selector_t *sel, const cJSON *obj);
void field_selector_free(field_selector_t *sel);
