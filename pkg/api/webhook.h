/* Admission webhooks called by URL or service reference (MutatingWebhookConfiguration,
 * ValidatingWebhookConfiguration; docs/ADMISSION.md): the matching
 * webhooks of a write get an admission.k8s.io/v1 AdmissionReview over
 * HTTPS; mutating ones (configurations in name order, webhooks in their
 * order) may answer a JSONPatch, validating ones run after; a denial or a
 * failed call under failurePolicy Fail refuses the write with upstream's
 * Status. Calls are made with the loop lock released (util/offload): a
 * write runs on the offload worker whenever a webhook configuration exists
 * (api.c), so the event loop never waits for a webhook. Internal writes
 * (req NULL) and writes of the configuration kinds themselves are never
 * sent to webhooks, as upstream. */
#pragma once

#include "api/admission.h"

#include <stdbool.h>

/* Whether any webhook configuration is stored (a write should run on the
 * offload worker). Loop lock held. */
bool api__webhooks_any(api_server_t *srv);

/* Whether a write (verb create, update, patch or delete on res and
 * subresource sub, in namespace ns) may be sent to a webhook, judged
 * before its body is read: by the webhooks' rules and namespaceSelector;
 * resourceNames, objectSelector, matchConditions and a Namespace's own
 * labels count as a match. Such writes run on the offload pool; the others
 * need no webhook call and stay on the loop. Loop lock held. */
bool api__webhooks_may_match(api_server_t *srv, const api_resource_t *res, const char *sub,
                             const char *verb, const char *ns);

/* The admission plugins (admission.c): mutating webhooks last among the
 * mutating plugins, validating ones before ResourceQuota. CREATE or UPDATE
 * (a->old set). */
int api__admit_webhooks(api_admission_t *a, api_status_t *st);
int api__validate_webhooks(api_admission_t *a, api_status_t *st);

/* A DELETE of old through every matching webhook, mutating (their patches
 * are not applied, as upstream ignores them on delete) then validating.
 * Returns 0 or -EPERM with st filled. */
int api__webhooks_delete(api_server_t *srv, http_req_t *req, const api_resource_t *res,
                         const cJSON *old, const char *sub, api_status_t *st);
