/* JSON written with single quotes in C strings: J("{'a':1}"). */
#pragma once
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static inline cJSON *J(const char *s) {
  char *t = strdup(s);
  for (char *p = t; *p; p++)
    if (*p == '\'')
      *p = '"';
  cJSON *v = cJSON_Parse(t);
  free(t);
  if (!v)
    abort();
  return v;
}
