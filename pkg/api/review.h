/* Self-review APIs and action subresources (binding, eviction, token) that
 * are not plain CRUD. Loop thread only. */
#pragma once

#include "api/internal.h"

/* SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview.
 * Returns false if the call is not one of them (nothing sent). */
bool api__review(api_call_t *call);
/* pods/binding, pods/eviction, serviceaccounts/token and the create of a
 * CertificateSigningRequest (fills the requestor). Returns false if the
 * call is not one of them. */
bool api__action(api_call_t *call);
