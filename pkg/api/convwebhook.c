/* CRD conversion webhooks (convwebhook.h). */
#include "api/convwebhook.h"

#include "api/crd.h"
#include "api/object.h"
#include "api/webhook_call.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/offload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* upstream's webhook client has a 30 s timeout and no per-call one */
#define CONV_TIMEOUT 30

static int fail(api_status_t *st, const char *in_gvk, const char *fmt, const char *a,
                const char *b) {
  char why[1500];
  snprintf(why, sizeof(why), fmt, a, b);
  api_status_init(st, 500, "", "conversion webhook for %s failed: %s", in_gvk, why);
  return -EIO;
}

/* The review version: the first of conversionReviewVersions k3c speaks. */
static const char *review_version(const cJSON *hook) {
  const cJSON *v;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(hook, "conversionReviewVersions")) {
    if (cJSON_IsString(v) && (!strcmp(v->valuestring, "v1") || !strcmp(v->valuestring, "v1beta1")))
      return v->valuestring;
  }
  return NULL;
}

static bool str_eq(const char *a, const char *b) {
  return !strcmp(a ? a : "", b ? b : "");
}

/* upstream's validateConvertedObject: identity fields unchanged. */
static const char *identity_changed(const cJSON *in, const cJSON *out, char *msg, size_t len) {
  static const char *const fields[][2] = {{"kind", "kind"},
                                          {"metadata.name", "name"},
                                          {"metadata.namespace", "namespace"},
                                          {"metadata.uid", "UID"}};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    const char *a = obj_str(in, fields[i][0]), *b = obj_str(out, fields[i][0]);
    if (!str_eq(a, b)) {
      snprintf(msg, len, "must have the same %s: %s != %s", fields[i][1], a ? a : "", b ? b : "");
      return msg;
    }
  }
  return NULL;
}

/* upstream's restoreObjectMeta: the original metadata with the converted
 * labels and annotations (string maps). */
static const char *restore_meta(const cJSON *in, cJSON *out, char *msg, size_t len) {
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(out, "metadata");
  if (!meta)
    return "missing metadata in converted object";
  if (!cJSON_IsObject(meta))
    return "invalid metadata in converted object";
  const cJSON *orig = cJSON_GetObjectItemCaseSensitive(in, "metadata");
  cJSON *keep = cJSON_IsObject(orig) ? cJSON_Duplicate(orig, 1) : cJSON_CreateObject();
  static const char *const maps[] = {"labels", "annotations"};
  for (size_t i = 0; i < 2; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(keep, maps[i]);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(meta, maps[i]);
    if (!m || cJSON_IsNull(m))
      continue;
    if (!cJSON_IsObject(m)) {
      snprintf(msg, len, "invalid metadata.%s in converted object", maps[i]);
      cJSON_Delete(keep);
      return msg;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
      if (!cJSON_IsString(e)) {
        snprintf(msg, len, "metadata.%s[%s] must be a string in converted object", maps[i],
                 e->string);
        cJSON_Delete(keep);
        return msg;
      }
    }
    cJSON_AddItemToObject(keep, maps[i], cJSON_Duplicate(m, 1));
  }
  cJSON_ReplaceItemInObjectCaseSensitive(out, "metadata", keep);
  return NULL;
}

int api__conversion_webhook(const api_resource_t *view, cJSON **objs, size_t n, const char *to,
                            const char *in_gvk, bool list, api_status_t *st) {
  api_server_t *srv = NULL;
  const cJSON *hook = api__crd_conversion_webhook(view, &srv);
  memset(st, 0, sizeof(*st));
  size_t want = 0;
  for (size_t i = 0; i < n; i++)
    want += objs[i] && !str_eq(obj_str(objs[i], "apiVersion"), to);
  if (!want)
    return 0;
  if (!hook)
    return fail(st, in_gvk, "%s%s", "the definition has no conversion webhook", "");
  const char *rv = review_version(hook);
  if (!rv) {
    api_status_init(st, 500, "", "no supported conversion review versions");
    return -EIO;
  }
  char url[1100], shown[1100], server_name[600], why[1200];
  if (api__webhook_target(srv, cJSON_GetObjectItemCaseSensitive(hook, "clientConfig"), CONV_TIMEOUT,
                          url, shown, sizeof(shown), server_name, why, sizeof(why)) < 0) {
    /* why: "failed to call webhook: Post ...": upstream says just Post ... */
    const char *p = strstr(why, "Post ");
    return fail(st, in_gvk, "%s%s", p ? p : why, "");
  }
  unsigned char *ca = NULL;
  size_t ca_len = 0;
  const char *ca_b64 = obj_str(hook, "clientConfig.caBundle");
  if (ca_b64 && ca_b64[0] && base64_decode(ca_b64, strlen(ca_b64), &ca, &ca_len) < 0)
    return fail(st, in_gvk, "%s%s", "clientConfig.caBundle is not base64", "");
  char uid[40];
  obj_uuid(uid, sizeof(uid));
  char review_api[64];
  snprintf(review_api, sizeof(review_api), "apiextensions.k8s.io/%s", rv);
  cJSON *review = cJSON_CreateObject();
  cJSON_AddStringToObject(review, "apiVersion", review_api);
  cJSON_AddStringToObject(review, "kind", "ConversionReview");
  cJSON *req = cJSON_AddObjectToObject(review, "request");
  cJSON_AddStringToObject(req, "uid", uid);
  cJSON_AddStringToObject(req, "desiredAPIVersion", to);
  cJSON *items = cJSON_AddArrayToObject(req, "objects");
  for (size_t i = 0; i < n; i++)
    if (objs[i] && !str_eq(obj_str(objs[i], "apiVersion"), to))
      cJSON_AddItemReferenceToArray(items, objs[i]);
  api_webhook_resp_t resp = {0};
  char err[800] = "";
  cJSON *doc = NULL;
  /* the objects are this request's own trees; the loop runs meanwhile */
  offload_unlock();
  char *body = cJSON_PrintUnformatted(review);
  int r = api__webhook_post(url, server_name[0] ? server_name : NULL, ca, ca_len, body,
                            strlen(body), CONV_TIMEOUT, &resp, err, sizeof(err));
  if (r == 0 && resp.code >= 200 && resp.code < 300)
    doc = cJSON_ParseWithLength(resp.body, resp.len);
  free(body);
  offload_relock();
  cJSON_Delete(review); /* references only: the objects stay */
  free(ca);
  free(resp.body);
  if (r < 0)
    return fail(st, in_gvk, "Post \"%s\": %s", shown, err);
  if (resp.code < 200 || resp.code >= 300) {
    char code[16];
    snprintf(code, sizeof(code), "%d", resp.code);
    return fail(
        st, in_gvk,
        "the server responded with the status code %s but did not return more information%s", code,
        "");
  }
  int ret = -EIO;
  if (!doc) {
    fail(st, in_gvk, "%s%s", "the response is not a JSON ConversionReview", "");
    goto out;
  }
  char want_gvk[128];
  snprintf(want_gvk, sizeof(want_gvk), "%s, Kind=ConversionReview", review_api);
  const char *dapi = obj_str(doc, "apiVersion"), *dkind = obj_str(doc, "kind");
  char got_gvk[300];
  snprintf(got_gvk, sizeof(got_gvk), "%s, Kind=%s", dapi ? dapi : "", dkind ? dkind : "");
  if (!strcmp(rv, "v1") && strcmp(want_gvk, got_gvk)) {
    /* Go prints an empty GroupVersionKind as "/, Kind=" */
    fail(st, in_gvk, "expected webhook response of %s, got %s", want_gvk,
         dapi || dkind ? got_gvk : "/, Kind=");
    goto out;
  }
  const cJSON *response = cJSON_GetObjectItemCaseSensitive(doc, "response");
  if (!cJSON_IsObject(response)) {
    fail(st, in_gvk, "%s%s", "no response provided", "");
    goto out;
  }
  const char *ruid = obj_str(response, "uid");
  if (!strcmp(rv, "v1") && !str_eq(ruid, uid)) {
    fail(st, in_gvk, "expected response.uid=\"%s\", got \"%s\"", uid, ruid ? ruid : "");
    goto out;
  }
  const char *status = obj_str(response, "result.status");
  if (!str_eq(status, "Success")) {
    const char *msg = obj_str(response, "result.message");
    if (msg && msg[0])
      fail(st, in_gvk, "%s%s", msg, "");
    else
      fail(st, in_gvk, "response.result.status was '%s', not 'Success'", status ? status : "", "");
    goto out;
  }
  cJSON *converted = cJSON_GetObjectItemCaseSensitive(response, "convertedObjects");
  if ((size_t)cJSON_GetArraySize(converted) != want) {
    api_status_init(st, 500, "", "conversion webhook for %s returned %d objects, expected %zu",
                    in_gvk, cJSON_GetArraySize(converted), want);
    goto out;
  }
  const char *to_kind_gv = to;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!objs[i] || str_eq(obj_str(objs[i], "apiVersion"), to))
      continue;
    cJSON *c = cJSON_GetArrayItem(converted, (int)k++);
    char msg[700];
    const char *bad = NULL;
    bool identity = false;
    const char *capi = obj_str(c, "apiVersion");
    if (!cJSON_IsObject(c))
      bad = "not an object";
    else if (!str_eq(capi, to_kind_gv)) {
      snprintf(msg, sizeof(msg), "invalid groupVersion (expected %s, received %s)", to,
               capi ? capi : "");
      bad = msg;
    } else if (!str_eq(obj_str(c, "kind"), obj_str(objs[i], "kind"))) {
      snprintf(msg, sizeof(msg), "invalid kind (expected %s, received %s)",
               obj_str(objs[i], "kind"), obj_str(c, "kind") ? obj_str(c, "kind") : "");
      bad = msg;
    } else {
      bad = identity_changed(objs[i], c, msg, sizeof(msg));
      identity = true;
    }
    /* upstream's wording differs for a list and one object; for a list it
     * counts the index from 1 here */
    if (bad && list)
      api_status_init(
          st, 500, "",
          "conversion webhook for %s returned invalid converted object at index %zu: %s", in_gvk, k,
          bad);
    else if (bad && !identity)
      api_status_init(st, 500, "",
                      "conversion webhook for %s returned invalid object at index 0: %s", in_gvk,
                      bad);
    else if (bad)
      api_status_init(st, 500, "", "conversion webhook for %s returned invalid object: %s", in_gvk,
                      bad);
    if (bad)
      goto out;
    if ((bad = restore_meta(objs[i], c, msg, sizeof(msg)))) {
      if (list)
        api_status_init(
            st, 500, "",
            "conversion webhook for %s returned invalid metadata in object at index %zu: %s",
            in_gvk, k, bad);
      else
        api_status_init(st, 500, "", "conversion webhook for %s returned invalid metadata: %s",
                        in_gvk, bad);
      goto out;
    }
  }
  /* all checked: the converted objects replace the originals' contents */
  k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!objs[i] || str_eq(obj_str(objs[i], "apiVersion"), to))
      continue;
    cJSON *c = cJSON_GetArrayItem(converted, (int)k++);
    cJSON *tmp = objs[i]->child;
    objs[i]->child = c->child;
    c->child = tmp;
  }
  ret = 0;
out:
  cJSON_Delete(doc);
  return ret;
}
