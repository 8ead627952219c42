/* Helpers shared by the controllers of pkg/controller (not for other
 * components): reading fields of cached objects and ownerReferences. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The string at dotted path, or NULL (borrowed from obj). */
const char *controller__str(const cJSON *obj, const char *path);
/* The number at dotted path, or dflt. */
double controller__num(const cJSON *obj, const char *path, double dflt);
/* The ownerReference with controller: true, or NULL. */
const cJSON *controller__ref(const cJSON *obj);
/* Whether obj's controllerRef is kind with uid. */
bool controller__owned_by(const cJSON *obj, const char *kind, const char *uid);
/* "2026-01-02T03:04:05Z" for now into out (at least 21 bytes). */
void controller__now(char *out, size_t len);
/* An RFC 3339 time in seconds since the epoch, 0 when unparsable. */
time_t controller__time(const char *s);
/* A controller ownerReference (blockOwnerDeletion) to owner of apiVersion/kind. */
cJSON *controller__owner_ref(const cJSON *owner, const char *api_version, const char *kind);
/* A pod template's hash (pod-template-hash, controller-revision-hash):
 * FNV-1a 32 of the template's JSON (nulls dropped) and the collision count,
 * in upstream's safe alphabet (the values are k3c's own; the shape, 10 or
 * fewer characters from "bcdfghjklmnpqrstvwxz2456789", is upstream's).
 * out: at least 11 bytes. */
void controller__template_hash(const cJSON *tmpl, long collisions, char *out, size_t len);

/* The EndpointsLastChangeTriggerTime of a Service's Endpoints and
 * EndpointSlices: the latest of its creation and its pods' last state
 * changes (the Ready transition, else creation), RFC 3339 in out; "" when
 * none is known (upstream's trigger-time tracker). */
void controller__trigger_time(const cJSON *svc, const cJSON *const *pods, size_t n, char *out,
                              size_t len);

/* A namespace being deleted (deletionTimestamp set or phase Terminating):
 * nothing new is created in it. */
bool controller__namespace_terminating(const cJSON *ns);
