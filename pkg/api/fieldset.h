/* Field sets: the sets of field paths that managedFields records, as
 * structured-merge-diff's fieldpath.Set. A set is a tree of nodes; each node
 * is one path element in its serialized FieldsV1 form ("f:spec",
 * `k:{"name":"c"}`, `v:"x"`, "i:0"), may itself be a member of the set, and
 * has hash-indexed children, so every operation is linear in the sizes of
 * the sets involved. FieldsV1 text: https://kubernetes.io/docs/reference/
 * using-api/server-side-apply/#field-management. Pure data; any thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

typedef struct api_fieldset api_fieldset_t;

/* An empty set (a root node). Caller frees with api_fieldset_free. */
api_fieldset_t *api_fieldset_new(void);
/* Free a set or a detached node; NULL is fine. */
void api_fieldset_free(api_fieldset_t *s);
api_fieldset_t *api_fieldset_copy(const api_fieldset_t *s);

/* The child of node s for path element pe (len bytes, canonical form as
 * api_fieldset_from_json and the managed.c walkers write it); created
 * (neither member nor with children) when create is true, else NULL when
 * absent. The child belongs to s. */
api_fieldset_t *api_fieldset_child(api_fieldset_t *s, const char *pe, size_t len, bool create);
const api_fieldset_t *api_fieldset_get(const api_fieldset_t *s, const char *pe, size_t len);
/* Remove and free the child pe of s, if any. */
void api_fieldset_remove(api_fieldset_t *s, const char *pe, size_t len);

/* Is this node's path a member of the set? */
bool api_fieldset_is_member(const api_fieldset_t *n);
void api_fieldset_set_member(api_fieldset_t *n, bool member);
/* No members anywhere below (or at) s. */
bool api_fieldset_empty(const api_fieldset_t *s);
/* The node's path element text (NUL-terminated), "" for a root. */
const char *api_fieldset_pe(const api_fieldset_t *n);

/* Children, for walking: i in [0, count); api_fieldset_at returns NULL
 * for a removed slot (skip it). */
size_t api_fieldset_count(const api_fieldset_t *s);
api_fieldset_t *api_fieldset_at(const api_fieldset_t *s, size_t i);

/* a := a ∪ b; a := a − b (members of b leave a; emptied nodes go);
 * a ∩ b as a new set (caller frees). */
void api_fieldset_union(api_fieldset_t *a, const api_fieldset_t *b);
void api_fieldset_subtract(api_fieldset_t *a, const api_fieldset_t *b);
api_fieldset_t *api_fieldset_intersect(const api_fieldset_t *a, const api_fieldset_t *b);
/* Remove nodes below s that are neither members nor have members below. */
void api_fieldset_prune(api_fieldset_t *s);

/* Parse FieldsV1 ({"f:spec":{"f:replicas":{}},".":{}}): path elements are
 * brought to canonical form (key fields sorted, values as upstream writes
 * JSON), unknown prefixes are skipped as upstream does. Returns 0 and
 * *ret_set (caller frees), or -EINVAL with err ("parsing key as path
 * element: ..."). */
int api_fieldset_from_json(const cJSON *fields, api_fieldset_t **ret_set, char *err, size_t errlen);
/* FieldsV1 of s with keys in upstream's order (".", then f: by name, k:,
 * v:, i:), as a new cJSON object (caller frees). */
cJSON *api_fieldset_to_json(const api_fieldset_t *s);

/* Write v as Go's encoding/json does (sorted object keys, HTML-safe string
 * escapes, shortest float form): the text of k:/v: path elements. Returns
 * 0 or -E2BIG from the buffer. */
int api_fieldset_write_value(buf_t *b, const cJSON *v);
/* Upstream's total order of JSON values (value.Compare): numbers < strings
 * < booleans < lists < maps < null. */
int api_fieldset_value_cmp(const cJSON *a, const cJSON *b);
/* Upstream's order of path elements (PathElement.Compare) over their text. */
int api_fieldset_pe_cmp(const char *a, const char *b);
/* Append the upstream text of one path element (".spec", `[name="c"]`,
 * `[="x"]`, "[0]") to b. */
void api_fieldset_pe_text(buf_t *b, const char *pe);
