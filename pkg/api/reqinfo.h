/* Request information from a URL path, as the apiserver's RequestInfo:
 * which API, resource, namespace, name and subresource, and the verb.
 * Pure; any thread. */
#pragma once

#include <stdbool.h>

typedef struct {
  bool is_resource;     /* under /api/<v> or /apis/<g>/<v> with a resource */
  char group[128];      /* "" for core */
  char version[32];
  char ns[256];         /* "" when not namespaced or all namespaces */
  char resource[128];
  char name[256];       /* "" for collections */
  char subresource[64];
  const char *verb;     /* get list watch create update patch delete deletecollection */
  int depth;            /* path segments after /api or /apis */
} api_reqinfo_t;

/* Returns 0, or -EINVAL for a malformed resource path (too many segments,
 * empty segment, over-long names). Non-API paths return 0 with
 * is_resource false. watch is the query's watch=true. */
int api_reqinfo_parse(const char *method, const char *path, bool watch, api_reqinfo_t *ri);
