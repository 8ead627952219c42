/* Kubernetes name rules with upstream's messages (k8s.io/apimachinery/pkg/
 * util/validation): DNS-1123 labels and subdomains, DNS-1035 labels,
 * qualified names, label values. Moved from pkg/api/object.c so CEL's
 * format library (built before pkg/api) can use them. */
#include "util/k8sname.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? -- one dot-separated part; the 63-character
 * limit belongs to labels only (upstream's subdomain regex has none per part) */
static bool label_ok(const char *s, size_t len) {
  if (len == 0)
    return false;
  if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(islower(c) || isdigit(c) || c == '-'))
      return false;
  }
  return true;
}

const char *k8sname_check_dns1123_label(const char *s) {
  if (strlen(s) > 63) /* upstream reports the regex too; k3c's message is the first */
    return "must be no more than 63 characters";
  if (!label_ok(s, strlen(s)))
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
           "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
           "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  return NULL;
}

const char *k8sname_check_dns1123_subdomain(const char *s) {
  size_t len = strlen(s);
  if (len > 253)
    return "must be no more than 253 characters";
  const char *p = s;
  bool ok = len > 0;
  while (ok && *p) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    ok = label_ok(p, l);
    p += l + (dot ? 1 : 0);
    if (dot && !*p)
      ok = false;
  }
  if (!ok)
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  return NULL;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], the shape of label values and of
 * the name part of qualified names */
static bool qualified_part_ok(const char *s, size_t len) {
  if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

const char *k8sname_check_qualified_name(const char *s) {
  const char *name = s;
  const char *slash = strchr(s, '/');
  if (slash) {
    if (strchr(slash + 1, '/'))
      return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
             "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
             "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
    if (slash == s)
      return "prefix part must be non-empty";
    char prefix[256];
    size_t plen = (size_t)(slash - s);
    if (plen >= sizeof(prefix))
      return "prefix part must be no more than 253 characters";
    memcpy(prefix, s, plen);
    prefix[plen] = '\0';
    if (k8sname_check_dns1123_subdomain(prefix))
      return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
             "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
             "'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    name = slash + 1;
  }
  size_t len = strlen(name);
  if (len == 0)
    return "name part must be non-empty";
  if (len > 63)
    return "name part must be no more than 63 characters";
  if (!qualified_part_ok(name, len))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
           "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
           "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  return NULL;
}

const char *k8sname_check_label_value(const char *s) {
  size_t len = strlen(s);
  if (len > 63)
    return "must be no more than 63 characters";
  if (len && !qualified_part_ok(s, len))
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
           "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
           "'my_value',  or '12345', regex used for validation is "
           "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  return NULL;
}

/* [a-z]([-a-z0-9]*[a-z0-9])? of at most 63 characters (IsDNS1035Label) */
const char *k8sname_check_dns1035_label(const char *s) {
  size_t len = strlen(s);
  if (len > 63)
    return "must be no more than 63 characters";
  if (!label_ok(s, len) || !islower((unsigned char)s[0]))
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
           "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
           "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
  return NULL;
}
