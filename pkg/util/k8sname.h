/* Kubernetes' name validation (k8s.io/apimachinery/pkg/util/validation)
 * with upstream's messages. Each returns NULL if s is valid, else a static
 * message (the first upstream reports), e.g. "a lowercase RFC 1123 label
 * must consist of ...". Pure; any thread. */
#pragma once

const char *k8sname_check_dns1123_label(const char *s);     /* IsDNS1123Label */
const char *k8sname_check_dns1123_subdomain(const char *s); /* IsDNS1123Subdomain */
const char *k8sname_check_dns1035_label(const char *s);     /* IsDNS1035Label */
/* IsQualifiedName: optional DNS subdomain prefix and '/', then a name of at
 * most 63 characters (label and annotation keys) */
const char *k8sname_check_qualified_name(const char *s);
const char *k8sname_check_label_value(const char *s);       /* IsValidLabelValue */
