/* meta.k8s.io/v1 Table output for `kubectl get`: column definitions from
 * the registry row, cells from simple JSONPaths or the kind's C hook.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/object.h"

cJSON *api__table_new(const api_resource_t *res, bool include_object_meta) {
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "kind", "Table");
  cJSON_AddStringToObject(t, "apiVersion", "meta.k8s.io/v1");
  cJSON_AddObjectToObject(t, "metadata");
  cJSON *defs = cJSON_AddArrayToObject(t, "columnDefinitions");
  for (size_t i = 0; i < res->s->ncolumns; i++) {
    const schema_column_t *c = &res->s->columns[i];
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", c->name);
    /* Ages are rendered by the server ("5m"), so their cells are strings. */
    cJSON_AddStringToObject(d, "type", !strcmp(c->type, "date") ? "string" : c->type);
    cJSON_AddStringToObject(d, "format", c->format ? c->format : "");
    cJSON_AddStringToObject(d, "description", c->description ? c->description : "");
    cJSON_AddNumberToObject(d, "priority", c->priority);
    cJSON_AddItemToArray(defs, d);
  }
  cJSON_AddArrayToObject(t, "rows");
  (void)include_object_meta;
  return t;
}

/* Walk ".a.b[0].c". */
static const cJSON *jsonpath(const cJSON *obj, const char *path) {
  const cJSON *cur = obj;
  const char *p = path;
  if (*p == '{')
    p++;
  while (cur && *p && *p != '}') {
    if (*p == '.') {
      p++;
      const char *end = p;
      while (*end && *end != '.' && *end != '[' && *end != '}')
        end++;
      char key[256];
      size_t len = (size_t)(end - p);
      if (len == 0 || len >= sizeof(key))
        return NULL;
      memcpy(key, p, len);
      key[len] = '\0';
      cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
      p = end;
    } else if (*p == '[') {
      char *end;
      long idx = strtol(p + 1, &end, 10);
      if (*end != ']')
        return NULL;
      cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, (int)idx) : NULL;
      p = end + 1;
    } else {
      return NULL;
    }
  }
  return cur;
}

cJSON *api__cell_age(const char *ts, const char *missing) {
  time_t t = ts ? obj_time_parse(ts) : -1;
  if (t < 0)
    return cJSON_CreateString(missing);
  char buf[32];
  obj_human_duration((int64_t)(time(NULL) - t), buf, sizeof(buf));
  return cJSON_CreateString(buf);
}

cJSON *api__cell_take(buf_t *b, const char *empty) {
  char *s = buf_steal(b, NULL);
  cJSON *c = cJSON_CreateString(s[0] ? s : empty);
  free(s);
  return c;
}

static cJSON *path_cell(const schema_column_t *c, const cJSON *obj, bool custom) {
  const cJSON *v = jsonpath(obj, c->path);
  /* Custom resources: an unset column is a null cell, which kubectl
   * prints as <none> (upstream's CRD table convertor). */
  if (custom && (!v || cJSON_IsNull(v)) && strcmp(c->path, ".metadata.creationTimestamp"))
    return cJSON_CreateNull();
  if (!strcmp(c->type, "date"))
    return api__cell_age(cJSON_IsString(v) ? v->valuestring : NULL, "<unknown>");
  /* Built-in kinds print Go zero values for absent fields. */
  if ((!v || cJSON_IsNull(v)) && !strcmp(c->type, "integer"))
    return cJSON_CreateNumber(0);
  if (!v || cJSON_IsNull(v))
    return !strcmp(c->type, "string") ? cJSON_CreateString("<none>") : cJSON_CreateNull();
  if (cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v))
    return cJSON_Duplicate(v, 0);
  char *s = cJSON_PrintUnformatted(v);
  cJSON *cell = cJSON_CreateString(s);
  free(s);
  return cell;
}

void api__table_add_row(cJSON *table, const api_resource_t *res, const cJSON *obj,
                        const char *include) {
  cJSON *row = cJSON_CreateObject();
  cJSON *cells = cJSON_AddArrayToObject(row, "cells");
  for (size_t i = 0; i < res->s->ncolumns; i++) {
    const schema_column_t *c = &res->s->columns[i];
    cJSON *cell = NULL;
    if (c->path)
      cell = path_cell(c, obj, res->custom != NULL);
    else if (res->hooks->cell)
      cell = res->hooks->cell(c->name, obj);
    cJSON_AddItemToArray(cells, cell ? cell : cJSON_CreateString("<unknown>"));
  }
  if (!include || !strcmp(include, "Metadata")) {
    cJSON *pom = cJSON_CreateObject();
    cJSON_AddStringToObject(pom, "kind", "PartialObjectMetadata");
    cJSON_AddStringToObject(pom, "apiVersion", "meta.k8s.io/v1");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON_AddItemToObject(pom, "metadata", m ? cJSON_Duplicate(m, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(row, "object", pom);
  } else if (!strcmp(include, "Object")) {
    cJSON_AddItemToObject(row, "object", cJSON_Duplicate(obj, 1));
  }
  cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(table, "rows"), row);
}
