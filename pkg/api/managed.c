/* Field ownership and server-side apply (managed.h). Field sets are kept
 * in their wire form, FieldsV1: {"f:spec":{"f:replicas":{}}}, with
 * "k:{...}" for items of keyed lists and "v:..." for set members; a leaf
 * is an empty object, "." marks a keyed item itself. */
#include "api/managed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/object.h"
#include "json/patch.h"
#include "util/alloc.h"
#include "util/buf.h"

#define MAX_DEPTH 48

void api_managed_name(const char *field_manager, const char *user_agent, char *out, size_t n) {
  if (field_manager && field_manager[0]) {
    snprintf(out, n, "%s", field_manager);
    return;
  }
  if (user_agent && user_agent[0]) {
    size_t len = strcspn(user_agent, "/ ");
    snprintf(out, n, "%.*s", (int)len, user_agent);
    return;
  }
  snprintf(out, n, "unknown");
}

/* ---- field sets from objects ---- */

static const char *list_key(const schema_field_t *f) {
  if (!f || f->container != SCHEMA_LIST || f->kind != SCHEMA_OBJECT)
    return NULL;
  if (f->map_keys && f->map_keys[0])
    return f->map_keys;
  return f->merge_key;
}

/* "k:{"name":"c"}" for an item of a list keyed by keys (comma-separated). */
static char *item_key(const cJSON *item, const char *keys) {
  cJSON *k = cJSON_CreateObject();
  char buf[256];
  const char *p = keys;
  while (*p) {
    size_t len = strcspn(p, ",");
    snprintf(buf, sizeof(buf), "%.*s", (int)len, p);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, buf);
    if (v)
      cJSON_AddItemToObject(k, buf, cJSON_Duplicate(v, 1));
    p += len + (p[len] == ',');
  }
  char *s = cJSON_PrintUnformatted(k);
  cJSON_Delete(k);
  char *out = xasprintf("k:%s", s);
  free(s);
  return out;
}

static cJSON *fields_of(const cJSON *v, const schema_type_t *t, int depth);

static cJSON *field_entry(const cJSON *c, const schema_field_t *f, int depth) {
  if (depth > MAX_DEPTH)
    return cJSON_CreateObject();
  if (cJSON_IsArray(c)) {
    const char *keys = list_key(f);
    bool set = f && f->container == SCHEMA_LIST &&
               (f->list_type == SCHEMA_LISTTYPE_SET ||
                (f->kind != SCHEMA_OBJECT && (f->patch & SCHEMA_PATCH_MERGE)));
    if (!keys && !set)
      return cJSON_CreateObject(); /* atomic list: one leaf */
    cJSON *node = cJSON_CreateObject();
    const cJSON *item;
    cJSON_ArrayForEach(item, c) {
      char *name;
      cJSON *sub;
      if (keys && cJSON_IsObject(item)) {
        name = item_key(item, keys);
        sub = fields_of(item, f->type, depth + 1);
        cJSON_AddItemToObject(sub, ".", cJSON_CreateObject());
      } else {
        char *js = cJSON_PrintUnformatted(item);
        name = xasprintf("v:%s", js);
        free(js);
        sub = cJSON_CreateObject();
      }
      if (!cJSON_GetObjectItemCaseSensitive(node, name))
        cJSON_AddItemToObject(node, name, sub);
      else
        cJSON_Delete(sub);
      free(name);
    }
    return node;
  }
  if (cJSON_IsObject(c) && (!f || f->kind == SCHEMA_OBJECT)) {
    const schema_type_t *ct = f ? f->type : NULL;
    if (f && f->container == SCHEMA_MAP) {
      cJSON *node = cJSON_CreateObject();
      const cJSON *e;
      cJSON_ArrayForEach(e, c) {
        char *name = xasprintf("f:%s", e->string);
        cJSON_AddItemToObject(node, name,
                              cJSON_IsObject(e) ? fields_of(e, ct, depth + 1) : cJSON_CreateObject());
        free(name);
      }
      return node;
    }
    return fields_of(c, ct, depth + 1);
  }
  if (cJSON_IsObject(c) && f && f->container == SCHEMA_MAP) {
    /* map of scalars (labels, annotations, data) */
    cJSON *node = cJSON_CreateObject();
    const cJSON *e;
    cJSON_ArrayForEach(e, c) {
      char *name = xasprintf("f:%s", e->string);
      cJSON_AddItemToObject(node, name, cJSON_CreateObject());
      free(name);
    }
    return node;
  }
  return cJSON_CreateObject();
}

static cJSON *fields_of(const cJSON *v, const schema_type_t *t, int depth) {
  cJSON *node = cJSON_CreateObject();
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    const schema_field_t *f = t ? schema_field_find(t, c->string) : NULL;
    char *name = xasprintf("f:%s", c->string);
    cJSON_AddItemToObject(node, name, field_entry(c, f, depth));
    free(name);
  }
  return node;
}

/* The fields of a whole object that ownership covers: not apiVersion,
 * kind, status (kept by the status subresource) or system metadata. */
static cJSON *object_fields(const api_resource_t *res, const cJSON *obj, bool status) {
  cJSON *copy = cJSON_Duplicate(obj, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(copy, "apiVersion");
  cJSON_DeleteItemFromObjectCaseSensitive(copy, "kind");
  if (res->has_status) {
    if (status) {
      cJSON *st = cJSON_DetachItemFromObjectCaseSensitive(copy, "status");
      cJSON_Delete(copy);
      copy = cJSON_CreateObject();
      if (st)
        cJSON_AddItemToObject(copy, "status", st);
    } else {
      cJSON_DeleteItemFromObjectCaseSensitive(copy, "status");
    }
  }
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(copy, "metadata");
  if (meta) {
    static const char *const keep[] = {"labels", "annotations", "finalizers", "ownerReferences"};
    cJSON *m2 = cJSON_CreateObject();
    for (size_t i = 0; i < 4; i++) {
      cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(meta, keep[i]);
      if (v)
        cJSON_AddItemToObject(m2, keep[i], v);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(copy, "metadata", m2);
    if (!m2->child)
      cJSON_DeleteItemFromObjectCaseSensitive(copy, "metadata");
  }
  cJSON *f = fields_of(copy, res->s->type, 0);
  cJSON_Delete(copy);
  return f;
}

/* ---- set operations ---- */

static bool is_leaf(const cJSON *n) { return !n->child; }

/* Remove from a every leaf that b has; prune emptied nodes. */
static void set_remove(cJSON *a, const cJSON *b) {
  cJSON *c = a->child;
  while (c) {
    cJSON *next = c->next;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, c->string);
    if (o) {
      if (is_leaf(o) || is_leaf(c)) {
        if (is_leaf(o) && !is_leaf(c) && cJSON_GetObjectItemCaseSensitive(c, ".")) {
          cJSON_DeleteItemFromObjectCaseSensitive(c, ".");
        } else if (is_leaf(c) || is_leaf(o)) {
          cJSON_Delete(cJSON_DetachItemViaPointer(a, c));
          c = next;
          continue;
        }
      } else {
        set_remove(c, o);
        if (!c->child)
          cJSON_Delete(cJSON_DetachItemViaPointer(a, c));
      }
    }
    c = next;
  }
}

static void set_union(cJSON *a, const cJSON *b) {
  const cJSON *o;
  cJSON_ArrayForEach(o, b) {
    cJSON *c = cJSON_GetObjectItemCaseSensitive(a, o->string);
    if (!c)
      cJSON_AddItemToObject(a, o->string, cJSON_Duplicate(o, 1));
    else
      set_union(c, o);
  }
}

/* ---- paths and values ---- */

typedef void (*leaf_cb)(const char *const *path, int depth, void *data);

static void walk_leaves(const cJSON *set, const char **path, int depth, leaf_cb cb, void *data) {
  if (depth >= MAX_DEPTH)
    return;
  const cJSON *c;
  cJSON_ArrayForEach(c, set) {
    if (!strcmp(c->string, "."))
      continue;
    path[depth] = c->string;
    if (is_leaf(c))
      cb(path, depth + 1, data);
    else
      walk_leaves(c, path, depth + 1, cb, data);
  }
}

/* The value an object holds at a field-set path, or NULL. */
static const cJSON *value_at(const cJSON *obj, const char *const *path, int depth) {
  const cJSON *cur = obj;
  for (int i = 0; i < depth && cur; i++) {
    const char *p = path[i];
    if (!strncmp(p, "f:", 2)) {
      cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, p + 2) : NULL;
    } else if (!strncmp(p, "k:", 2)) {
      cJSON *key = cJSON_Parse(p + 2);
      const cJSON *found = NULL, *item;
      cJSON_ArrayForEach(item, cur) {
        bool match = cJSON_IsObject(key);
        const cJSON *kv;
        cJSON_ArrayForEach(kv, key) match &= cJSON_Compare(cJSON_GetObjectItemCaseSensitive(item, kv->string), kv, 1);
        if (match) {
          found = item;
          break;
        }
      }
      cJSON_Delete(key);
      cur = found;
    } else if (!strncmp(p, "v:", 2)) {
      cJSON *want = cJSON_Parse(p + 2);
      const cJSON *found = NULL, *item;
      cJSON_ArrayForEach(item, cur) {
        if (cJSON_Compare(item, want, 1)) {
          found = item;
          break;
        }
      }
      cJSON_Delete(want);
      cur = found;
    } else {
      return NULL;
    }
  }
  return cur;
}

/* ".spec.containers[name="c"].image", as upstream prints conflicts. */
static void path_text(const char *const *path, int depth, buf_t *b) {
  for (int i = 0; i < depth; i++) {
    const char *p = path[i];
    if (!strncmp(p, "f:", 2)) {
      buf_printf(b, ".%s", p + 2);
    } else if (!strncmp(p, "k:", 2)) {
      cJSON *key = cJSON_Parse(p + 2);
      buf_append_str(b, "[");
      const cJSON *kv;
      int n = 0;
      cJSON_ArrayForEach(kv, key) {
        char *v = cJSON_PrintUnformatted(kv);
        buf_printf(b, "%s%s=%s", n++ ? "," : "", kv->string, v);
        free(v);
      }
      buf_append_str(b, "]");
      cJSON_Delete(key);
    } else if (!strncmp(p, "v:", 2)) {
      buf_printf(b, "[%s]", p + 2);
    }
  }
}

/* Delete the field at a path from obj (used when an applier gives a field up). */
static void delete_at(cJSON *obj, const char *const *path, int depth) {
  if (depth <= 0)
    return;
  cJSON *parent = (cJSON *)value_at(obj, path, depth - 1);
  const char *last = path[depth - 1];
  if (!parent)
    return;
  if (!strncmp(last, "f:", 2) && cJSON_IsObject(parent)) {
    cJSON_DeleteItemFromObjectCaseSensitive(parent, last + 2);
  } else if (cJSON_IsArray(parent)) {
    cJSON *item = (cJSON *)value_at(obj, path, depth);
    if (item)
      cJSON_Delete(cJSON_DetachItemViaPointer(parent, item));
  }
}

/* ---- managedFields entries ---- */

static cJSON *entries_of(cJSON *obj) { return obj_child_array(obj_meta(obj), "managedFields"); }

static bool entry_is(const cJSON *e, const char *manager, const char *op, const char *sub) {
  const char *m = obj_str(e, "manager"), *o = obj_str(e, "operation"), *s = obj_str(e, "subresource");
  return m && o && !strcmp(m, manager) && !strcmp(o, op) && !strcmp(s ? s : "", sub);
}

static cJSON *entry_fields(cJSON *e) { return obj_child_object(e, "fieldsV1"); }

static cJSON *entry_get(cJSON *mf, const api_resource_t *res, const char *manager, const char *op,
                        const char *sub) {
  cJSON *e;
  cJSON_ArrayForEach(e, mf) {
    if (entry_is(e, manager, op, sub))
      return e;
  }
  e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "manager", manager);
  cJSON_AddStringToObject(e, "operation", op);
  cJSON_AddStringToObject(e, "apiVersion", res->group_version);
  cJSON_AddStringToObject(e, "fieldsType", "FieldsV1");
  cJSON_AddObjectToObject(e, "fieldsV1");
  if (sub[0])
    cJSON_AddStringToObject(e, "subresource", sub);
  cJSON_AddItemToArray(mf, e);
  return e;
}

static void touch(cJSON *e) {
  char now[32];
  obj_time_format(time(NULL), now, sizeof(now));
  obj_set_str(e, "time", now);
}

/* Drop entries that own nothing; remove the list when empty. */
static void tidy(cJSON *obj) {
  cJSON *meta = obj_meta(obj);
  cJSON *mf = cJSON_GetObjectItemCaseSensitive(meta, "managedFields");
  cJSON *e = mf ? mf->child : NULL;
  while (e) {
    cJSON *next = e->next;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "fieldsV1");
    if (!f || !f->child)
      cJSON_Delete(cJSON_DetachItemViaPointer(mf, e));
    e = next;
  }
  if (mf && !mf->child)
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
}

/* ---- Update ---- */

typedef struct {
  const cJSON *now, *before;
  cJSON *changed;
} diff_t;

static void add_path(cJSON *set, const char *const *path, int depth) {
  cJSON *cur = set;
  for (int i = 0; i < depth; i++) {
    cJSON *next = cJSON_GetObjectItemCaseSensitive(cur, path[i]);
    if (!next)
      next = cJSON_AddObjectToObject(cur, path[i]);
    cur = next;
  }
}

static void on_new_leaf(const char *const *path, int depth, void *data) {
  diff_t *d = data;
  const cJSON *a = value_at(d->now, path, depth);
  const cJSON *b = d->before ? value_at(d->before, path, depth) : NULL;
  if (!b || !cJSON_Compare(a, b, 1))
    add_path(d->changed, path, depth);
}

void api_managed_update(const api_resource_t *res, cJSON *obj, const cJSON *old,
                        const char *manager, const char *subresource) {
  bool status = !strcmp(subresource, "status");
  cJSON *now = object_fields(res, obj, status);
  diff_t d = {.now = obj, .before = old, .changed = cJSON_CreateObject()};
  const char *path[MAX_DEPTH];
  walk_leaves(now, path, 0, on_new_leaf, &d);
  /* Start from the stored entries; a client cannot rewrite ownership. */
  cJSON *meta = obj_meta(obj);
  const cJSON *old_mf = old ? obj_get(old, "metadata.managedFields") : NULL;
  obj_set(meta, "managedFields", old_mf ? cJSON_Duplicate(old_mf, 1) : cJSON_CreateArray());
  cJSON *mf = entries_of(obj);
  if (d.changed->child) {
    cJSON *e;
    cJSON_ArrayForEach(e, mf) {
      if (!entry_is(e, manager, "Update", subresource))
        set_remove(entry_fields(e), d.changed);
    }
    cJSON *mine = entry_get(mf, res, manager, "Update", subresource);
    set_union(entry_fields(mine), d.changed);
    touch(mine);
  }
  /* Fields that no longer exist are owned by no one. */
  cJSON *e;
  cJSON_ArrayForEach(e, mf) {
    cJSON *owned = entry_fields(e);
    cJSON *gone = cJSON_Duplicate(owned, 1);
    set_remove(gone, now);
    const char *esub = obj_str(e, "subresource");
    bool estatus = esub && !strcmp(esub, "status");
    if (gone->child && estatus == status)
      set_remove(owned, gone);
    cJSON_Delete(gone);
  }
  tidy(obj);
  cJSON_Delete(now);
  cJSON_Delete(d.changed);
}

/* ---- Apply ---- */

typedef struct {
  const cJSON *live, *cfg;
  api_status_t *st;
  buf_t paths;  /* "- .spec.replicas" lines of one manager */
  char first[512];
  int conflicts;
  cJSON *lost;  /* fields the force takes from this entry */
} conflict_t;

static void on_applied_leaf(const char *const *path, int depth, void *data) {
  conflict_t *c = data;
  const cJSON *a = value_at(c->cfg, path, depth);
  const cJSON *b = value_at(c->live, path, depth);
  if (!a || !b || cJSON_Compare(a, b, 1))
    return;
  buf_t p;
  buf_init(&p, 4096);
  path_text(path, depth, &p);
  api_status_add_cause(c->st, "FieldManagerConflict", p.data, "conflict");
  if (!c->conflicts)
    snprintf(c->first, sizeof(c->first), "%s", p.data);
  buf_printf(&c->paths, "\n- %s", p.data);
  buf_done(&p);
  c->conflicts++;
  add_path(c->lost, path, depth);
}

/* The applied configuration's fields that another entry also owns. */
static cJSON *intersect(const cJSON *a, const cJSON *b) {
  cJSON *out = cJSON_CreateObject();
  const cJSON *c;
  cJSON_ArrayForEach(c, a) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, c->string);
    if (!o)
      continue;
    if (is_leaf(c) || is_leaf(o)) {
      if (strcmp(c->string, "."))
        cJSON_AddItemToObject(out, c->string, cJSON_CreateObject());
    } else {
      cJSON *sub = intersect(c, o);
      if (sub->child)
        cJSON_AddItemToObject(out, c->string, sub);
      else
        cJSON_Delete(sub);
    }
  }
  return out;
}

/* Check the applied fields against every other manager; with force, take
 * the conflicting fields from them. Returns the number of conflicts left
 * and appends upstream's message text to msg. */
static int check_conflicts(const api_resource_t *res, cJSON *mf, const cJSON *applied,
                           const cJSON *live, const cJSON *cfg, const char *manager, bool force,
                           buf_t *msg, api_status_t *st) {
  const char *path[MAX_DEPTH];
  int total = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, mf) {
    const char *m = obj_str(e, "manager");
    const char *esub = obj_str(e, "subresource");
    if (!m || entry_is(e, manager, "Apply", "") || (esub && !strcmp(esub, "status")))
      continue;
    cJSON *both = intersect(applied, entry_fields(e));
    conflict_t c = {.live = live, .cfg = cfg, .st = st, .lost = cJSON_CreateObject()};
    buf_init(&c.paths, 64 * 1024);
    if (both->child)
      walk_leaves(both, path, 0, on_applied_leaf, &c);
    if (force && c.lost->child) {
      set_remove(entry_fields(e), c.lost);
    } else if (c.conflicts) {
      const char *op = obj_str(e, "operation");
      const char *av = obj_str(e, "apiVersion");
      char using[256] = "";
      size_t ul = 0;
      if (esub && esub[0])
        ul = (size_t)snprintf(using, sizeof(using), " with subresource \"%s\"", esub);
      if (op && !strcmp(op, "Update") && ul < sizeof(using))
        snprintf(using + ul, sizeof(using) - ul, " using %s", av ? av : res->group_version);
      if (c.conflicts == 1)
        buf_printf(msg, "%sconflict with \"%s\"%s: %s", total ? "\n" : "", m, using, c.first);
      else
        buf_printf(msg, "%sconflicts with \"%s\"%s:%s", total ? "\n" : "", m, using,
                   c.paths.data);
      total += c.conflicts;
    }
    buf_done(&c.paths);
    cJSON_Delete(c.lost);
    cJSON_Delete(both);
  }
  return total;
}

static void on_dropped_leaf(const char *const *path, int depth, void *data) {
  delete_at(data, path, depth);
}

/* Merge the applied configuration over the live object. */
static cJSON *merge_applied(const api_resource_t *res, const cJSON *live, const cJSON *cfg) {
  cJSON *patch = cJSON_Duplicate(cfg, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(patch, "status");
  cJSON_DeleteItemFromObjectCaseSensitive(obj_meta(patch), "managedFields");
  cJSON *merged = NULL;
  char err[256];
  if (!res->s->type ||
      json_smp_apply(live, patch, &schema_smp, res->s->type, &merged, err, sizeof(err)) < 0)
    merged = json_merge_patch(live, patch);
  cJSON_Delete(patch);
  return merged;
}

int api_managed_apply(const api_resource_t *res, const cJSON *live, const cJSON *cfg,
                      const char *manager, bool force, cJSON **ret_obj, api_status_t *st) {
  int r = 0;
  cJSON *applied = object_fields(res, cfg, false);
  cJSON *obj = NULL;
  buf_t msg;
  buf_init(&msg, 64 * 1024);
  memset(st, 0, sizeof(*st));
  if (live) {
    cJSON *current = cJSON_Duplicate(live, 1);
    cJSON *mf = entries_of(current);
    int total = check_conflicts(res, mf, applied, live, cfg, manager, force, &msg, st);
    if (total) {
      cJSON *causes = st->causes;
      st->causes = NULL;
      api_status_init(st, 409, "Conflict", "Apply failed with %d conflict%s: %s", total,
                      total > 1 ? "s" : "", msg.data ? msg.data : "");
      st->causes = causes;
      api_status_set_details(st, res->s->group, res->s->plural, obj_str(live, "metadata.name"));
      cJSON_Delete(current);
      r = -EBUSY;
      goto out;
    }
    api_status_done(st);
    obj = merge_applied(res, current, cfg);
    /* keep the ownership as check_conflicts left it (force moves fields) */
    obj_set(obj_meta(obj), "managedFields", cJSON_Duplicate(mf, 1));
    cJSON_Delete(current);
    /* Fields this manager applied before and leaves out now are removed,
     * unless another manager owns them too. */
    mf = entries_of(obj);
    cJSON *mine = entry_get(mf, res, manager, "Apply", "");
    cJSON *dropped = cJSON_Duplicate(entry_fields(mine), 1);
    set_remove(dropped, applied);
    cJSON *e;
    cJSON_ArrayForEach(e, mf) {
      if (e != mine)
        set_remove(dropped, entry_fields(e));
    }
    const char *path[MAX_DEPTH];
    walk_leaves(dropped, path, 0, on_dropped_leaf, obj);
    cJSON_Delete(dropped);
  } else {
    obj = cJSON_Duplicate(cfg, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(obj_meta(obj), "managedFields");
  }
  cJSON *mf = entries_of(obj);
  cJSON *mine = entry_get(mf, res, manager, "Apply", "");
  const cJSON *before = cJSON_GetObjectItemCaseSensitive(mine, "fieldsV1");
  if (!before || !cJSON_Compare(before, applied, 1) || !obj_get(mine, "time")) {
    cJSON_ReplaceItemInObjectCaseSensitive(mine, "fieldsV1", cJSON_Duplicate(applied, 1));
    touch(mine);
  }
  tidy(obj);
  *ret_obj = obj;
  obj = NULL;
out:
  buf_done(&msg);
  cJSON_Delete(obj);
  cJSON_Delete(applied);
  return r;
}
