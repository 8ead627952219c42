/* MutatingWebhookConfiguration and ValidatingWebhookConfiguration: upstream's
 * defaults (SetDefaults_ValidatingWebhook / _MutatingWebhook / _Rule) and the
 * validation of the common mistakes with upstream's messages
 * (pkg/apis/admissionregistration/validation). The calls themselves are
 * webhook.c's. */
#include "api/kinds.h"
#include "api/object.h"
#include "api/vap.h"

#include <stdio.h>
#include <string.h>

static void defaults(cJSON *obj, bool mutating) {
  cJSON *hook;
  cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(obj, "webhooks")) {
    if (!cJSON_IsObject(hook))
      continue;
    obj_set_default(hook, "failurePolicy", cJSON_CreateString("Fail"));
    obj_set_default(hook, "matchPolicy", cJSON_CreateString("Equivalent"));
    obj_set_default(hook, "namespaceSelector", cJSON_CreateObject());
    obj_set_default(hook, "objectSelector", cJSON_CreateObject());
    obj_set_default(hook, "timeoutSeconds", cJSON_CreateNumber(10));
    if (mutating)
      obj_set_default(hook, "reinvocationPolicy", cJSON_CreateString("Never"));
    cJSON *svc = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(hook, "clientConfig"), "service");
    if (cJSON_IsObject(svc))
      obj_set_default(svc, "port", cJSON_CreateNumber(443));
    cJSON *rule;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(hook, "rules")) {
      if (cJSON_IsObject(rule))
        obj_set_default(rule, "scope", cJSON_CreateString("*"));
    }
  }
}

static void mwc_defaults(cJSON *obj) {
  defaults(obj, true);
}
static void vwc_defaults(cJSON *obj) {
  defaults(obj, false);
}

/* webhook.ValidateWebhookURL with forceHttps */
static void validate_url(const char *url, const char *field, api_status_t *st) {
  const char *colon = strstr(url, "://");
  if (!colon) {
    char msg[600];
    snprintf(msg, sizeof(msg),
             "\"%.400s\": url must be a valid URL: parse \"%.100s\": invalid URI "
             "for request",
             url, url);
    api__cause_invalid(st, field, msg);
    return;
  }
  char msg[600];
  if ((size_t)(colon - url) != 5 || strncmp(url, "https", 5)) {
    snprintf(msg, sizeof(msg), "\"%.*s\": 'https' is the only allowed URL scheme",
             (int)(colon - url > 100 ? 100 : colon - url), url);
    api__cause_invalid(st, field, msg);
  }
  const char *host = colon + 3;
  size_t hlen = strcspn(host, "/?#");
  if (memchr(host, '@', hlen))
    api__cause(st, "FieldValueInvalid", field,
               "Invalid value: \"%.*s\": user information is not permitted in the URL",
               (int)(hlen > 200 ? 200 : hlen), host);
  if (hlen == 0)
    api__cause_invalid(st, field, "\"\": host must be specified");
  if (strchr(url, '#'))
    api__cause(st, "FieldValueInvalid", field,
               "Invalid value: \"%.200s\": fragments are not permitted in the URL",
               strchr(url, '#') + 1);
  if (strchr(url, '?'))
    api__cause(st, "FieldValueInvalid", field,
               "Invalid value: \"%.200s\": query parameters are not permitted in the URL",
               strchr(url, '?') + 1);
}

static void validate_hook(const cJSON *hook, int i, bool mutating, api_status_t *st) {
  char f[160];
  const char *name = obj_str(hook, "name");
  snprintf(f, sizeof(f), "webhooks[%d].name", i);
  if (!name || !name[0]) {
    api__cause_required(st, f);
  } else {
    const char *bad = obj_check_dns1123_subdomain(name);
    if (bad) {
      char msg[600];
      snprintf(msg, sizeof(msg), "\"%.253s\": %s", name, bad);
      api__cause_invalid(st, f, msg);
    }
    int dots = 0;
    for (const char *p = name; *p; p++)
      dots += *p == '.';
    if (dots < 2) {
      char msg[400];
      snprintf(msg, sizeof(msg),
               "\"%.253s\": should be a domain with at least three segments "
               "separated by dots",
               name);
      api__cause_invalid(st, f, msg);
    }
  }
  /* admissionReviewVersions: k3c speaks v1 only */
  const cJSON *arv = cJSON_GetObjectItemCaseSensitive(hook, "admissionReviewVersions");
  snprintf(f, sizeof(f), "webhooks[%d].admissionReviewVersions", i);
  if (cJSON_GetArraySize(arv) == 0) {
    api__cause(st, "FieldValueRequired", f, "Required value: must specify one of v1");
  } else {
    bool v1 = false;
    const cJSON *v;
    cJSON_ArrayForEach(v, arv) v1 = v1 || (cJSON_IsString(v) && !strcmp(v->valuestring, "v1"));
    if (!v1) {
      char *text = cJSON_PrintUnformatted(arv);
      api__cause(st, "FieldValueInvalid", f, "Invalid value: %s: must include at least one of v1",
                 text);
      cJSON_free(text);
    }
  }
  const char *se = obj_str(hook, "sideEffects");
  snprintf(f, sizeof(f), "webhooks[%d].sideEffects", i);
  if (!se)
    api__cause(st, "FieldValueRequired", f,
               "Required value: must specify one of None, NoneOnDryRun");
  else if (strcmp(se, "None") && strcmp(se, "NoneOnDryRun"))
    api__cause(st, "FieldValueNotSupported", f,
               "Unsupported value: \"%.100s\": supported values: \"None\", \"NoneOnDryRun\"", se);
  /* the enums the calls read (webhook.c takes anything but Ignore as Fail) */
  const char *fp = obj_str(hook, "failurePolicy");
  snprintf(f, sizeof(f), "webhooks[%d].failurePolicy", i);
  if (fp && strcmp(fp, "Fail") && strcmp(fp, "Ignore"))
    api__cause(st, "FieldValueNotSupported", f,
               "Unsupported value: \"%.100s\": supported values: \"Fail\", \"Ignore\"", fp);
  const char *mp = obj_str(hook, "matchPolicy");
  snprintf(f, sizeof(f), "webhooks[%d].matchPolicy", i);
  if (mp && strcmp(mp, "Equivalent") && strcmp(mp, "Exact"))
    api__cause(st, "FieldValueNotSupported", f,
               "Unsupported value: \"%.100s\": supported values: \"Equivalent\", \"Exact\"", mp);
  const char *rp = mutating ? obj_str(hook, "reinvocationPolicy") : NULL;
  snprintf(f, sizeof(f), "webhooks[%d].reinvocationPolicy", i);
  if (rp && strcmp(rp, "IfNeeded") && strcmp(rp, "Never"))
    api__cause(st, "FieldValueNotSupported", f,
               "Unsupported value: \"%.100s\": supported values: \"IfNeeded\", \"Never\"", rp);
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(hook, "timeoutSeconds");
  if (cJSON_IsNumber(to) && (to->valuedouble < 1 || to->valuedouble > 30)) {
    snprintf(f, sizeof(f), "webhooks[%d].timeoutSeconds", i);
    api__cause(st, "FieldValueInvalid", f,
               "Invalid value: %d: the timeout value must be between 1 and 30 seconds",
               (int)to->valuedouble);
  }
  const cJSON *cc = cJSON_GetObjectItemCaseSensitive(hook, "clientConfig");
  const char *url = obj_str(cc, "url");
  const cJSON *svc = cJSON_GetObjectItemCaseSensitive(cc, "service");
  snprintf(f, sizeof(f), "webhooks[%d].clientConfig", i);
  if (!!url == !!(svc && !cJSON_IsNull(svc))) {
    api__cause(st, "FieldValueRequired", f,
               "Required value: exactly one of url or service is required");
  } else if (url) {
    snprintf(f, sizeof(f), "webhooks[%d].clientConfig.url", i);
    validate_url(url, f, st);
  }
  int c = 0;
  const cJSON *cond;
  cJSON_ArrayForEach(cond, cJSON_GetObjectItemCaseSensitive(hook, "matchConditions")) {
    const char *expr = obj_str(cond, "expression"), *cname = obj_str(cond, "name");
    if (!cname || !cname[0]) {
      snprintf(f, sizeof(f), "webhooks[%d].matchConditions[%d].name", i, c);
      api__cause_required(st, f);
    }
    snprintf(f, sizeof(f), "webhooks[%d].matchConditions[%d].expression", i, c);
    if (!expr || !expr[0]) {
      api__cause_required(st, f);
    } else {
      cel_program_free(api__vap_compile(api__vap_env(false, API_VAP_MATCH), expr, API_VAP_MATCH, f, st));
    }
    c++;
  }
  int r = 0;
  const cJSON *rule;
  cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(hook, "rules")) {
    int o = 0;
    const cJSON *op;
    cJSON_ArrayForEach(op, cJSON_GetObjectItemCaseSensitive(rule, "operations")) {
      const char *s = cJSON_IsString(op) ? op->valuestring : "";
      if (strcmp(s, "*") && strcmp(s, "CREATE") && strcmp(s, "UPDATE") && strcmp(s, "DELETE") &&
          strcmp(s, "CONNECT")) {
        snprintf(f, sizeof(f), "webhooks[%d].rules[%d].operations[%d]", i, r, o);
        api__cause(st, "FieldValueNotSupported", f,
                   "Unsupported value: \"%.100s\": supported values: \"*\", \"CONNECT\", "
                   "\"CREATE\", \"DELETE\", \"UPDATE\"",
                   s);
      }
      o++;
    }
    r++;
  }
}

static void validate(const cJSON *obj, const cJSON *old, api_status_t *st, bool mutating) {
  (void)old;
  int i = 0;
  const cJSON *hook;
  const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(obj, "webhooks");
  cJSON_ArrayForEach(hook, hooks) {
    validate_hook(hook, i, mutating, st);
    const char *name = obj_str(hook, "name");
    for (int j = 0; name && name[0] && j < i; j++) {
      const char *other = obj_str(cJSON_GetArrayItem(hooks, j), "name");
      if (other && !strcmp(other, name)) {
        char f[64];
        snprintf(f, sizeof(f), "webhooks[%d].name", i);
        api__cause(st, "FieldValueDuplicate", f, "Duplicate value: \"%.253s\"", name);
        break;
      }
    }
    i++;
  }
}

static void mwc_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  validate(obj, old, st, true);
}
static void vwc_validate(const cJSON *obj, const cJSON *old, api_status_t *st) {
  validate(obj, old, st, false);
}

static cJSON *cell(const char *col, const cJSON *obj) {
  (void)col;
  return cJSON_CreateNumber(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(obj, "webhooks")));
}

const api_hooks_t api_kind_mwc = {
    .defaults = mwc_defaults, .validate = mwc_validate, .cell = cell, .generation = true};
const api_hooks_t api_kind_vwc = {
    .defaults = vwc_defaults, .validate = vwc_validate, .cell = cell, .generation = true};
