/* Per-kind hooks (defaults, validation, Table cells, allocations) of the
 * built-in kinds; the table that joins them to registry rows is kinds.c.
 * Loop thread only where a hook takes the api_server_t. */
#pragma once

#include "api/internal.h"

extern const api_hooks_t api_kind_pod;
extern const api_hooks_t api_kind_service;
extern const api_hooks_t api_kind_workload;      /* apps and batch kinds */
extern const api_hooks_t api_kind_workload_core; /* ReplicationController */

/* Conversions between served versions and the stored one (convert.c). */
extern const api_hooks_t api_kind_hpa_v1;
void api__event_to_core(cJSON *obj);   /* events.k8s.io/v1 -> v1 (stored) */
void api__event_from_core(cJSON *obj); /* v1 (stored) -> events.k8s.io/v1 */

/* Helpers shared by the kind files. */
void api__cause(api_status_t *st, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "Required value" / "Invalid value: <msg>" causes. */
void api__cause_required(api_status_t *st, const char *field);
void api__cause_invalid(api_status_t *st, const char *field, const char *msg);
cJSON *api__cell_count(const cJSON *obj, const char *a, const char *b);

/* Pod spec defaults (SetDefaults_PodSpec, containers) for pods and the pod
 * templates of workloads; validation of containers, restartPolicy and
 * dnsPolicy with field paths under prefix ("spec", "spec.template.spec"). */
void api__pod_spec_defaults(cJSON *spec);
void api__pod_spec_validate(const cJSON *spec, const char *prefix, api_status_t *st);

/* Upstream-level field validation (validation.c), called from the hooks:
 * pod volumes/mounts/env/ports/resources under prefix, typed Secrets and
 * the 1 MiB data limit, ConfigMap size, CronJob spec.timeZone, Endpoints
 * and EndpointSlice addresses, CSR spec.request. */
void api__validate_pod_spec_fields(const cJSON *spec, const char *prefix, api_status_t *st);
/* Volume names pod templates may also mount (StatefulSet volumeClaimTemplates);
 * NULL again after the validation. */
void api__validate_extra_volumes(const cJSON *claim_templates);
void api__validate_secret(const cJSON *obj, api_status_t *st);
void api__validate_configmap(const cJSON *obj, api_status_t *st);
void api__validate_timezone(const cJSON *obj, api_status_t *st);
void api__validate_endpoints(const cJSON *obj, const cJSON *old, api_status_t *st);
void api__validate_endpointslice_addresses(const cJSON *obj, api_status_t *st);
void api__validate_csr_request(const cJSON *obj, api_status_t *st);

/* Hooks of the other areas (kind_storage.c, kind_network.c, kind_rbac.c,
 * kind_policy.c). */
extern const api_hooks_t api_kind_pvc, api_kind_pv, api_kind_storageclass, api_kind_csidriver,
    api_kind_csinode, api_kind_volumeattachment;
extern const api_hooks_t api_kind_ingress, api_kind_ingressclass, api_kind_networkpolicy,
    api_kind_endpointslice;
extern const api_hooks_t api_kind_role, api_kind_clusterrole, api_kind_rolebinding,
    api_kind_clusterrolebinding;
extern const api_hooks_t api_kind_pdb, api_kind_hpa, api_kind_priorityclass, api_kind_csr,
    api_kind_resourcequota, api_kind_limitrange, api_kind_podtemplate, api_kind_event_v1;
/* APIService (apiservice.c). */
extern const api_hooks_t api_kind_apiservice;
/* Mutating/ValidatingWebhookConfiguration (kind_webhook.c). */
extern const api_hooks_t api_kind_mwc, api_kind_vwc, api_kind_vap, api_kind_vapb;
/* NodeMetrics and PodMetrics Table cells (metrics.c). */
extern const api_hooks_t api_kind_node_metrics, api_kind_pod_metrics;

/* Shared cell/format helpers (kind_workload.c). */
cJSON *api__cell_selector(const cJSON *sel); /* label selector text, "<none>" */
cJSON *api__cell_string(const char *s, const char *empty);
/* Validation helpers (kind_workload.c). */
void api__validate_selector_matches(const cJSON *sel, const cJSON *labels, const char *field,
                                    api_status_t *st);
void api__validate_immutable(const cJSON *a, const cJSON *b, const char *field, api_status_t *st);
/* Go-like rendering of a label map: map[string]string{"a":"b", "c":"d"}. */
void api__go_map(const cJSON *m, char *buf, size_t n);
