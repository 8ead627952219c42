/* CustomResourceDefinition conversion by webhook (strategy Webhook): one
 * apiextensions.k8s.io/v1 ConversionReview per batch of objects, the
 * response checked as upstream's webhookConverter does
 * (apiextensions-apiserver pkg/apiserver/conversion/webhook_converter.go).
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#webhook-conversion
 */
#pragma once

#include "api/internal.h"

#include <stdbool.h>
#include <stddef.h>

/* Convert objs[0..n) (parsed custom objects of view's definition) to
 * apiVersion to, in place, with one call to the definition's webhook;
 * objects already in to are not sent, and nothing is called when none
 * needs converting. in_gvk names what is converted in errors
 * ("example.com/v1, Kind=Widget", or Kind=WidgetList for a list; list
 * also picks upstream's wording for a list's invalid objects). Loop
 * lock held on entry and return; released while the webhook is called,
 * so call it from an offload task (on the loop thread it would block).
 * Returns 0, or -EIO with st filled with upstream's 500 Status
 * ("conversion webhook for example.com/v1, Kind=Widget failed: Post ..."). */
int api__conversion_webhook(const api_resource_t *view, cJSON **objs, size_t n, const char *to,
                            const char *in_gvk, bool list, api_status_t *st);
