/* PodSecurity admission: the Pod Security Standards (privileged, baseline,
 * restricted) chosen per namespace by the pod-security.kubernetes.io/
 * enforce, audit and warn labels (+ -version). Enforce refuses pods, warn
 * answers Warning headers, pod templates of workloads are warned about, and
 * a namespace whose enforce level tightens warns about its existing pods.
 * Check IDs, order, versions and wording follow k8s.io/pod-security-admission.
 * https://kubernetes.io/docs/concepts/security/pod-security-admission/ */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/admission.h"
#include "api/object.h"
#include "util/alloc.h"
#include "util/buf.h"

/* The newest policy version whose checks are known; "latest" and newer
 * versions are evaluated as this one (upstream's maxVersion). */
#define PSA_MAX_MINOR 32
#define PSA_MAX_PODS 3000 /* namespaceMaxPodsToCheck */
#define SET_MAX 64

/* ---- small sorted string sets and name lists ---- */

typedef struct {
  char *v[SET_MAX];
  int n;
  bool sorted_unique; /* a set (sorted, no duplicates) or a list (in order) */
} strs_t;

static void strs_add(strs_t *s, const char *item) {
  if (!item)
    item = "";
  if (s->sorted_unique) {
    int i = 0;
    while (i < s->n && strcmp(s->v[i], item) < 0)
      i++;
    if (i < s->n && !strcmp(s->v[i], item))
      return;
    if (s->n >= SET_MAX)
      return;
    memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(s->v[0]));
    s->v[i] = xstrdup(item);
    s->n++;
    return;
  }
  if (s->n < SET_MAX)
    s->v[s->n++] = xstrdup(item);
}

static void strs_done(strs_t *s) {
  for (int i = 0; i < s->n; i++)
    free(s->v[i]);
  s->n = 0;
}

/* "a", "b" (upstream joinQuote) or a, b. */
static void strs_join(buf_t *b, const strs_t *s, bool quote, const char *sep) {
  for (int i = 0; i < s->n; i++)
    buf_printf(b, "%s%s%s%s", i ? sep : "", quote ? "\"" : "", s->v[i], quote ? "\"" : "");
}

static const char *plural(const char *one, const char *many, int n) {
  return n == 1 ? one : many;
}

/* "container \"a\"" / "containers \"a\", \"b\"" appended to b. */
static void containers_phrase(buf_t *b, const strs_t *names) {
  buf_printf(b, "%s ", plural("container", "containers", names->n));
  strs_join(b, names, true, ", ");
}

/* ---- what one evaluation collects ---- */

typedef struct {
  buf_t reasons; /* "privileged, host namespaces" */
  buf_t detail;  /* "privileged (container \"c\" must ...), ..." */
  int n;
} psa_result_t;

static void result_add(psa_result_t *r, const char *reason, const char *detail) {
  buf_printf(&r->reasons, "%s%s", r->n ? ", " : "", reason);
  buf_printf(&r->detail, "%s%s", r->n ? ", " : "", reason);
  if (detail && detail[0])
    buf_printf(&r->detail, " (%s)", detail);
  r->n++;
}

typedef struct {
  const cJSON *meta;
  const cJSON *spec;
  int minor; /* policy version 1.<minor> */
} psa_pod_t;

typedef void (*container_fn)(const cJSON *c, void *data);

static void each_container(const cJSON *spec, container_fn fn, void *data) {
  static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
  for (size_t i = 0; i < 3; i++) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i])) {
      if (cJSON_IsObject(c))
        fn(c, data);
    }
  }
}

static bool is_true(const cJSON *o, const char *path) {
  return cJSON_IsTrue(obj_get(o, path));
}

static bool windows_pod(const psa_pod_t *p) {
  const char *os = obj_str(p->spec, "os.name");
  return p->minor >= 25 && os && !strcmp(os, "windows");
}

/* Collects container names matching a predicate. */
typedef struct {
  strs_t names;
  bool (*bad)(const cJSON *c);
} match_t;

static void match_cb(const cJSON *c, void *data) {
  match_t *m = data;
  if (m->bad(c))
    strs_add(&m->names, obj_str(c, "name"));
}

/* Run pred over containers; when any matched, add reason with
 * "<containers phrase> <tail>". */
static void containers_check(const psa_pod_t *p, psa_result_t *r, bool (*bad)(const cJSON *c),
                             const char *reason, const char *tail) {
  match_t m = {.bad = bad};
  each_container(p->spec, match_cb, &m);
  if (m.names.n) {
    buf_t d;
    buf_init(&d, 16384);
    containers_phrase(&d, &m.names);
    buf_printf(&d, " %s", tail);
    result_add(r, reason, d.data);
    buf_done(&d);
  }
  strs_done(&m.names);
}

/* ---- baseline checks ---- */

static bool apparmor_ok(const char *type) {
  return type && (!strcmp(type, "RuntimeDefault") || !strcmp(type, "Localhost"));
}

typedef struct {
  strs_t containers, values;
} setters_t;

static void apparmor_cb(const cJSON *c, void *data) {
  setters_t *s = data;
  const cJSON *prof = obj_get(c, "securityContext.appArmorProfile");
  if (cJSON_IsObject(prof) && !apparmor_ok(obj_str(prof, "type"))) {
    strs_add(&s->containers, obj_str(c, "name"));
    strs_add(&s->values, obj_str(prof, "type"));
  }
}

static void check_apparmor(const psa_pod_t *p, psa_result_t *r) {
  setters_t s = {.values = {.sorted_unique = true}};
  strs_t who = {0}, annotations = {.sorted_unique = true};
  const cJSON *prof = obj_get(p->spec, "securityContext.appArmorProfile");
  if (cJSON_IsObject(prof) && !apparmor_ok(obj_str(prof, "type"))) {
    strs_add(&who, "pod");
    strs_add(&s.values, obj_str(prof, "type"));
  }
  each_container(p->spec, apparmor_cb, &s);
  buf_t b;
  buf_init(&b, 16384);
  if (s.containers.n) {
    containers_phrase(&b, &s.containers);
    strs_add(&who, b.data);
    buf_reset(&b);
  }
  static const char prefix[] = "container.apparmor.security.beta.kubernetes.io/";
  const cJSON *a;
  cJSON_ArrayForEach(a, obj_get(p->meta, "annotations")) {
    const char *v = cJSON_IsString(a) ? a->valuestring : "";
    if (strncmp(a->string, prefix, sizeof(prefix) - 1))
      continue;
    if (!v[0] || !strcmp(v, "runtime/default") || !strncmp(v, "localhost/", 10))
      continue;
    char *item = xasprintf("%s=\"%s\"", a->string, v);
    strs_add(&annotations, item);
    free(item);
  }
  int nvalues = s.values.n + annotations.n;
  if (annotations.n)
    strs_add(&who, plural("annotation", "annotations", annotations.n));
  if (who.n) {
    strs_join(&b, &who, false, " and ");
    buf_append_str(&b, " must not set AppArmor profile type to ");
    strs_join(&b, &s.values, true, ", ");
    if (s.values.n && annotations.n)
      buf_append_str(&b, ", ");
    strs_join(&b, &annotations, true, ", ");
    result_add(r, plural("forbidden AppArmor profile", "forbidden AppArmor profiles", nvalues),
               b.data);
  }
  buf_done(&b);
  strs_done(&who);
  strs_done(&annotations);
  strs_done(&s.containers);
  strs_done(&s.values);
}

static const char *const default_caps[] = {"AUDIT_WRITE", "CHOWN",  "DAC_OVERRIDE", "FOWNER",
                                           "FSETID",      "KILL",   "MKNOD",  "NET_BIND_SERVICE",
                                           "SETFCAP",     "SETGID", "SETPCAP", "SETUID",
                                           "SYS_CHROOT",  NULL};

static bool in_list(const char *const *l, const char *s) {
  for (; *l; l++)
    if (s && !strcmp(*l, s))
      return true;
  return false;
}

typedef struct {
  strs_t containers, caps;
  const char *const *allowed;
} caps_t;

static void caps_add_cb(const cJSON *c, void *data) {
  caps_t *k = data;
  bool bad = false;
  const cJSON *cap;
  cJSON_ArrayForEach(cap, obj_get(c, "securityContext.capabilities.add")) {
    const char *name = cJSON_IsString(cap) ? cap->valuestring : "";
    if (!in_list(k->allowed, name)) {
      bad = true;
      strs_add(&k->caps, name);
    }
  }
  if (bad)
    strs_add(&k->containers, obj_str(c, "name"));
}

static void caps_phrase(buf_t *b, caps_t *k) {
  containers_phrase(b, &k->containers);
  buf_append_str(b, " must not include ");
  strs_join(b, &k->caps, true, ", ");
  buf_append_str(b, " in securityContext.capabilities.add");
}

static void check_caps_baseline(const psa_pod_t *p, psa_result_t *r) {
  caps_t k = {.caps = {.sorted_unique = true}, .allowed = default_caps};
  each_container(p->spec, caps_add_cb, &k);
  if (k.containers.n) {
    buf_t b;
    buf_init(&b, 16384);
    caps_phrase(&b, &k);
    result_add(r, "non-default capabilities", b.data);
    buf_done(&b);
  }
  strs_done(&k.containers);
  strs_done(&k.caps);
}

static void check_host_namespaces(const psa_pod_t *p, psa_result_t *r) {
  buf_t b;
  buf_init(&b, 256);
  static const char *const ns[] = {"hostNetwork", "hostPID", "hostIPC"};
  for (size_t i = 0; i < 3; i++)
    if (is_true(p->spec, ns[i]))
      buf_printf(&b, "%s%s=true", b.len ? ", " : "", ns[i]);
  if (b.len)
    result_add(r, "host namespaces", b.data);
  buf_done(&b);
}

static void check_host_path(const psa_pod_t *p, psa_result_t *r) {
  strs_t vols = {0};
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(p->spec, "volumes")) {
    if (cJSON_IsObject(obj_get(v, "hostPath")))
      strs_add(&vols, obj_str(v, "name"));
  }
  if (vols.n) {
    buf_t b;
    buf_init(&b, 16384);
    buf_printf(&b, "%s ", plural("volume", "volumes", vols.n));
    strs_join(&b, &vols, true, ", ");
    result_add(r, "hostPath volumes", b.data);
    buf_done(&b);
  }
  strs_done(&vols);
}

typedef struct {
  strs_t containers, ports;
} ports_t;

static void host_ports_cb(const cJSON *c, void *data) {
  ports_t *k = data;
  bool bad = false;
  const cJSON *port;
  cJSON_ArrayForEach(port, obj_get(c, "ports")) {
    const cJSON *hp = obj_get(port, "hostPort");
    if (cJSON_IsNumber(hp) && hp->valuedouble != 0) {
      char num[32];
      snprintf(num, sizeof(num), "%d", hp->valueint);
      strs_add(&k->ports, num);
      bad = true;
    }
  }
  if (bad)
    strs_add(&k->containers, obj_str(c, "name"));
}

static void check_host_ports(const psa_pod_t *p, psa_result_t *r) {
  ports_t k = {.ports = {.sorted_unique = true}};
  each_container(p->spec, host_ports_cb, &k);
  if (k.containers.n) {
    buf_t b;
    buf_init(&b, 16384);
    containers_phrase(&b, &k.containers);
    buf_printf(&b, " %s %s ", plural("uses", "use", k.containers.n),
               plural("hostPort", "hostPorts", k.ports.n));
    strs_join(&b, &k.ports, false, ", ");
    result_add(r, "hostPort", b.data);
    buf_done(&b);
  }
  strs_done(&k.containers);
  strs_done(&k.ports);
}

static bool privileged_bad(const cJSON *c) {
  return is_true(c, "securityContext.privileged");
}

static void check_privileged(const psa_pod_t *p, psa_result_t *r) {
  containers_check(p, r, privileged_bad, "privileged",
                   "must not set securityContext.privileged=true");
}

typedef struct {
  strs_t containers, values;
} values_t;

static void proc_mount_cb(const cJSON *c, void *data) {
  values_t *k = data;
  const char *pm = obj_str(c, "securityContext.procMount");
  if (pm && strcmp(pm, "Default")) {
    strs_add(&k->containers, obj_str(c, "name"));
    strs_add(&k->values, pm);
  }
}

static void check_proc_mount(const psa_pod_t *p, psa_result_t *r) {
  values_t k = {.values = {.sorted_unique = true}};
  each_container(p->spec, proc_mount_cb, &k);
  if (k.containers.n) {
    buf_t b;
    buf_init(&b, 16384);
    containers_phrase(&b, &k.containers);
    buf_append_str(&b, " must not set securityContext.procMount to ");
    strs_join(&b, &k.values, true, ", ");
    result_add(r, "procMount", b.data);
    buf_done(&b);
  }
  strs_done(&k.containers);
  strs_done(&k.values);
}

typedef struct {
  strs_t containers, types;
  bool user, role;
  int minor;
} selinux_t;

static bool selinux_ok(selinux_t *k, const cJSON *opts) {
  const char *type = obj_str(opts, "type");
  const char *user = obj_str(opts, "user");
  const char *role = obj_str(opts, "role");
  bool ok = true;
  if (type && type[0] && strcmp(type, "container_t") && strcmp(type, "container_init_t") &&
      strcmp(type, "container_kvm_t") && (k->minor < 31 || strcmp(type, "container_engine_t"))) {
    ok = false;
    strs_add(&k->types, type);
  }
  if (user && user[0]) {
    ok = false;
    k->user = true;
  }
  if (role && role[0]) {
    ok = false;
    k->role = true;
  }
  return ok;
}

static void selinux_cb(const cJSON *c, void *data) {
  selinux_t *k = data;
  const cJSON *o = obj_get(c, "securityContext.seLinuxOptions");
  if (cJSON_IsObject(o) && !selinux_ok(k, o))
    strs_add(&k->containers, obj_str(c, "name"));
}

static void check_selinux(const psa_pod_t *p, psa_result_t *r) {
  selinux_t k = {.types = {.sorted_unique = true}, .minor = p->minor};
  strs_t who = {0};
  const cJSON *o = obj_get(p->spec, "securityContext.seLinuxOptions");
  if (cJSON_IsObject(o) && !selinux_ok(&k, o))
    strs_add(&who, "pod");
  each_container(p->spec, selinux_cb, &k);
  buf_t b;
  buf_init(&b, 16384);
  if (k.containers.n) {
    containers_phrase(&b, &k.containers);
    strs_add(&who, b.data);
    buf_reset(&b);
  }
  if (who.n) {
    strs_join(&b, &who, false, " and ");
    buf_append_str(&b, " set forbidden securityContext.seLinuxOptions: ");
    bool any = false;
    if (k.types.n) {
      buf_printf(&b, "%s ", plural("type", "types", k.types.n));
      strs_join(&b, &k.types, true, ", ");
      any = true;
    }
    if (k.user) {
      buf_printf(&b, "%suser may not be set", any ? "; " : "");
      any = true;
    }
    if (k.role)
      buf_printf(&b, "%srole may not be set", any ? "; " : "");
    result_add(r, "seLinuxOptions", b.data);
  }
  buf_done(&b);
  strs_done(&who);
  strs_done(&k.containers);
  strs_done(&k.types);
}

static bool seccomp_ok(const char *type) {
  return type && (!strcmp(type, "RuntimeDefault") || !strcmp(type, "Localhost"));
}

typedef struct {
  strs_t bad, implicit, values;
  bool pod_set;
} seccomp_t;

static void seccomp_cb(const cJSON *c, void *data) {
  seccomp_t *k = data;
  const cJSON *prof = obj_get(c, "securityContext.seccompProfile");
  if (cJSON_IsObject(prof)) {
    if (!seccomp_ok(obj_str(prof, "type"))) {
      strs_add(&k->bad, obj_str(c, "name"));
      strs_add(&k->values, obj_str(prof, "type"));
    }
  } else if (!k->pod_set) {
    strs_add(&k->implicit, obj_str(c, "name"));
  }
}

typedef struct {
  const cJSON *annotations;
  strs_t *forbidden;
} seccomp_ann_t;

static void seccomp_annotation(seccomp_ann_t *k, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(k->annotations, key);
  if (!v)
    return;
  const char *s = cJSON_IsString(v) ? v->valuestring : "";
  if (!strcmp(s, "runtime/default") || !strcmp(s, "docker/default") || !strncmp(s, "localhost/", 10))
    return;
  char *item = xasprintf("%s=\"%s\"", key, s);
  strs_add(k->forbidden, item);
  free(item);
}

static void seccomp_ann_cb(const cJSON *c, void *data) {
  char *key = xasprintf("container.seccomp.security.alpha.kubernetes.io/%s", obj_str(c, "name"));
  seccomp_annotation(data, key);
  free(key);
}

static void seccomp_explicit(psa_result_t *r, strs_t *who, seccomp_t *k) {
  buf_t b;
  buf_init(&b, 16384);
  if (k->bad.n) {
    containers_phrase(&b, &k->bad);
    strs_add(who, b.data);
    buf_reset(&b);
  }
  if (who->n) {
    strs_join(&b, who, false, " and ");
    buf_append_str(&b, " must not set securityContext.seccompProfile.type to ");
    strs_join(&b, &k->values, true, ", ");
    result_add(r, "seccompProfile", b.data);
  } else if (k->implicit.n) {
    buf_append_str(&b, "pod or ");
    containers_phrase(&b, &k->implicit);
    buf_append_str(&b, " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                       "\"Localhost\"");
    result_add(r, "seccompProfile", b.data);
  }
  buf_done(&b);
}

/* restricted: false for baseline, where an unset profile is fine. */
static void check_seccomp(const psa_pod_t *p, psa_result_t *r, bool restricted) {
  if (!restricted && p->minor < 19) {
    strs_t forbidden = {.sorted_unique = true};
    seccomp_ann_t k = {.annotations = obj_get(p->meta, "annotations"), .forbidden = &forbidden};
    seccomp_annotation(&k, "seccomp.security.alpha.kubernetes.io/pod");
    each_container(p->spec, seccomp_ann_cb, &k);
    if (forbidden.n) {
      buf_t b;
      buf_init(&b, 16384);
      buf_printf(&b, "forbidden %s ", plural("annotation", "annotations", forbidden.n));
      strs_join(&b, &forbidden, false, ", ");
      result_add(r, "seccompProfile", b.data);
      buf_done(&b);
    }
    strs_done(&forbidden);
    return;
  }
  if (restricted && windows_pod(p))
    return;
  seccomp_t k = {.values = {.sorted_unique = true}};
  strs_t who = {0};
  const cJSON *prof = obj_get(p->spec, "securityContext.seccompProfile");
  if (cJSON_IsObject(prof)) {
    if (!seccomp_ok(obj_str(prof, "type"))) {
      strs_add(&who, "pod");
      strs_add(&k.values, obj_str(prof, "type"));
    } else {
      k.pod_set = true;
    }
  }
  each_container(p->spec, seccomp_cb, &k);
  if (!restricted)
    strs_done(&k.implicit);
  seccomp_explicit(r, &who, &k);
  strs_done(&who);
  strs_done(&k.bad);
  strs_done(&k.implicit);
  strs_done(&k.values);
}

static void check_sysctls(const psa_pod_t *p, psa_result_t *r) {
  static const char *const v1_0[] = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                                     "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                                     "net.ipv4.ip_unprivileged_port_start", NULL};
  static const char *const v1_27[] = {"net.ipv4.ip_local_reserved_ports", NULL};
  static const char *const v1_29[] = {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                                      "net.ipv4.tcp_keepalive_intvl",
                                      "net.ipv4.tcp_keepalive_probes", NULL};
  static const char *const v1_32[] = {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", NULL};
  buf_t b;
  buf_init(&b, 16384);
  const cJSON *s;
  cJSON_ArrayForEach(s, obj_get(p->spec, "securityContext.sysctls")) {
    const char *name = obj_str(s, "name");
    bool ok = in_list(v1_0, name) || (p->minor >= 27 && in_list(v1_27, name)) ||
              (p->minor >= 29 && in_list(v1_29, name)) || (p->minor >= 32 && in_list(v1_32, name));
    if (!ok)
      buf_printf(&b, "%s%s", b.len ? ", " : "", name ? name : "");
  }
  if (b.len)
    result_add(r, "forbidden sysctls", b.data);
  buf_done(&b);
}

static bool host_process_bad(const cJSON *c) {
  return is_true(c, "securityContext.windowsOptions.hostProcess");
}

static void check_host_process(const psa_pod_t *p, psa_result_t *r) {
  match_t m = {.bad = host_process_bad};
  each_container(p->spec, match_cb, &m);
  strs_t who = {0};
  if (is_true(p->spec, "securityContext.windowsOptions.hostProcess"))
    strs_add(&who, "pod");
  buf_t b;
  buf_init(&b, 16384);
  if (m.names.n) {
    containers_phrase(&b, &m.names);
    strs_add(&who, b.data);
    buf_reset(&b);
  }
  if (who.n) {
    strs_join(&b, &who, false, " and ");
    buf_append_str(&b, " must not set securityContext.windowsOptions.hostProcess=true");
    result_add(r, "hostProcess", b.data);
  }
  buf_done(&b);
  strs_done(&who);
  strs_done(&m.names);
}

/* ---- restricted checks ---- */

static bool escalation_bad(const cJSON *c) {
  const cJSON *v = obj_get(c, "securityContext.allowPrivilegeEscalation");
  return !cJSON_IsBool(v) || cJSON_IsTrue(v);
}

static void check_escalation(const psa_pod_t *p, psa_result_t *r) {
  if (windows_pod(p))
    return;
  containers_check(p, r, escalation_bad, "allowPrivilegeEscalation != false",
                   "must set securityContext.allowPrivilegeEscalation=false");
}

static void caps_drop_cb(const cJSON *c, void *data) {
  caps_t *k = data;
  const cJSON *caps = obj_get(c, "securityContext.capabilities");
  bool dropped = false;
  const cJSON *d;
  cJSON_ArrayForEach(d, obj_get(caps, "drop")) {
    if (cJSON_IsString(d) && !strcmp(d->valuestring, "ALL"))
      dropped = true;
  }
  if (!dropped)
    strs_add(&k->containers, obj_str(c, "name"));
}

static void check_caps_restricted(const psa_pod_t *p, psa_result_t *r) {
  if (windows_pod(p))
    return;
  static const char *const allowed[] = {"NET_BIND_SERVICE", NULL};
  caps_t drop = {0}, add = {.caps = {.sorted_unique = true}, .allowed = allowed};
  each_container(p->spec, caps_drop_cb, &drop);
  each_container(p->spec, caps_add_cb, &add);
  buf_t b;
  buf_init(&b, 16384);
  if (drop.containers.n) {
    containers_phrase(&b, &drop.containers);
    buf_append_str(&b, " must set securityContext.capabilities.drop=[\"ALL\"]");
  }
  if (add.containers.n) {
    if (b.len)
      buf_append_str(&b, "; ");
    caps_phrase(&b, &add);
  }
  if (b.len)
    result_add(r, "unrestricted capabilities", b.data);
  buf_done(&b);
  strs_done(&drop.containers);
  strs_done(&add.containers);
  strs_done(&add.caps);
}

static const char *volume_type(const cJSON *v) {
  static const char *const allowed[] = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                        "persistentVolumeClaim", "projected", "secret", NULL};
  static const char *const known[] = {
      "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
      "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
      "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
      "scaleIO", "storageos", NULL};
  for (const char *const *a = allowed; *a; a++)
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(v, *a)))
      return NULL;
  for (const char *const *k = known; *k; k++)
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(v, *k)))
      return *k;
  return "unknown";
}

static void check_volumes(const psa_pod_t *p, psa_result_t *r) {
  strs_t vols = {0}, types = {.sorted_unique = true};
  const cJSON *v;
  cJSON_ArrayForEach(v, obj_get(p->spec, "volumes")) {
    const char *t = volume_type(v);
    if (t) {
      strs_add(&vols, obj_str(v, "name"));
      strs_add(&types, t);
    }
  }
  if (vols.n) {
    buf_t b;
    buf_init(&b, 16384);
    buf_printf(&b, "%s ", plural("volume", "volumes", vols.n));
    strs_join(&b, &vols, true, ", ");
    buf_printf(&b, " %s %s ", plural("uses", "use", vols.n),
               plural("restricted volume type", "restricted volume types", types.n));
    strs_join(&b, &types, true, ", ");
    result_add(r, "restricted volume types", b.data);
    buf_done(&b);
  }
  strs_done(&vols);
  strs_done(&types);
}

typedef struct {
  strs_t explicit_bad, implicit_bad;
  bool pod_ok;
  const char *field;
  bool (*bad)(const cJSON *v);
} setting_t;

static void setting_cb(const cJSON *c, void *data) {
  setting_t *k = data;
  char path[128];
  snprintf(path, sizeof(path), "securityContext.%s", k->field);
  const cJSON *v = obj_get(c, path);
  if (v) {
    if (k->bad(v))
      strs_add(&k->explicit_bad, obj_str(c, "name"));
  } else if (!k->pod_ok) {
    strs_add(&k->implicit_bad, obj_str(c, "name"));
  }
}

static bool non_root_bad(const cJSON *v) {
  return !cJSON_IsTrue(v);
}

static void check_non_root(const psa_pod_t *p, psa_result_t *r) {
  setting_t k = {.field = "runAsNonRoot", .bad = non_root_bad};
  strs_t who = {0};
  const cJSON *pv = obj_get(p->spec, "securityContext.runAsNonRoot");
  if (pv) {
    if (!cJSON_IsTrue(pv))
      strs_add(&who, "pod");
    else
      k.pod_ok = true;
  }
  each_container(p->spec, setting_cb, &k);
  buf_t b;
  buf_init(&b, 16384);
  if (k.explicit_bad.n) {
    containers_phrase(&b, &k.explicit_bad);
    strs_add(&who, b.data);
    buf_reset(&b);
  }
  if (who.n) {
    strs_join(&b, &who, false, " and ");
    buf_append_str(&b, " must not set securityContext.runAsNonRoot=false");
    result_add(r, "runAsNonRoot != true", b.data);
  } else if (k.implicit_bad.n) {
    buf_append_str(&b, "pod or ");
    containers_phrase(&b, &k.implicit_bad);
    buf_append_str(&b, " must set securityContext.runAsNonRoot=true");
    result_add(r, "runAsNonRoot != true", b.data);
  }
  buf_done(&b);
  strs_done(&who);
  strs_done(&k.explicit_bad);
  strs_done(&k.implicit_bad);
}

static bool root_user(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble == 0;
}

static void check_run_as_user(const psa_pod_t *p, psa_result_t *r) {
  setting_t k = {.field = "runAsUser", .bad = root_user, .pod_ok = true};
  strs_t who = {0};
  if (root_user(obj_get(p->spec, "securityContext.runAsUser")))
    strs_add(&who, "pod");
  each_container(p->spec, setting_cb, &k);
  if (k.explicit_bad.n) {
    buf_t c;
    buf_init(&c, 16384);
    containers_phrase(&c, &k.explicit_bad);
    strs_add(&who, c.data);
    buf_done(&c);
  }
  if (who.n) {
    buf_t b;
    buf_init(&b, 16384);
    strs_join(&b, &who, false, " and ");
    buf_append_str(&b, " must not set runAsUser=0");
    result_add(r, "runAsUser=0", b.data);
    buf_done(&b);
  }
  strs_done(&who);
  strs_done(&k.explicit_bad);
}

/* ---- the evaluator ---- */

enum { LEVEL_PRIVILEGED, LEVEL_BASELINE, LEVEL_RESTRICTED };

typedef struct {
  const char *id;
  bool restricted;
  int min_minor;
  void (*fn)(const psa_pod_t *p, psa_result_t *r);
} check_t;

static void check_seccomp_baseline(const psa_pod_t *p, psa_result_t *r) {
  check_seccomp(p, r, false);
}
static void check_seccomp_restricted(const psa_pod_t *p, psa_result_t *r) {
  check_seccomp(p, r, true);
}

/* Baseline IDs sorted, then restricted IDs sorted (upstream's orderedIDs). */
static const check_t checks[] = {
    {"appArmorProfile", false, 0, check_apparmor},
    {"capabilities_baseline", false, 0, check_caps_baseline},
    {"hostNamespaces", false, 0, check_host_namespaces},
    {"hostPathVolumes", false, 0, check_host_path},
    {"hostPorts", false, 0, check_host_ports},
    {"privileged", false, 0, check_privileged},
    {"procMount", false, 0, check_proc_mount},
    {"seLinuxOptions", false, 0, check_selinux},
    {"seccompProfile_baseline", false, 0, check_seccomp_baseline},
    {"sysctls", false, 0, check_sysctls},
    {"windowsHostProcess", false, 0, check_host_process},
    {"allowPrivilegeEscalation", true, 8, check_escalation},
    {"capabilities_restricted", true, 22, check_caps_restricted},
    {"restrictedVolumes", true, 0, check_volumes},
    {"runAsNonRoot", true, 0, check_non_root},
    {"runAsUser", true, 23, check_run_as_user},
    {"seccompProfile_restricted", true, 19, check_seccomp_restricted},
};

/* Whether a restricted check that applies at minor replaces baseline id. */
static bool overridden(const char *id, int minor) {
  if (!strcmp(id, "capabilities_baseline"))
    return minor >= 22;
  if (!strcmp(id, "seccompProfile_baseline"))
    return minor >= 19;
  return !strcmp(id, "hostPathVolumes");
}

static void evaluate(int level, int minor, const cJSON *meta, const cJSON *spec, psa_result_t *r) {
  buf_init(&r->reasons, 65536);
  buf_init(&r->detail, 65536);
  r->n = 0;
  if (level == LEVEL_PRIVILEGED)
    return;
  if (minor < 0 || minor > PSA_MAX_MINOR)
    minor = PSA_MAX_MINOR;
  psa_pod_t p = {.meta = meta, .spec = spec, .minor = minor};
  for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
    const check_t *c = &checks[i];
    if (minor < c->min_minor)
      continue;
    if (c->restricted && level != LEVEL_RESTRICTED)
      continue;
    if (!c->restricted && level == LEVEL_RESTRICTED && overridden(c->id, minor))
      continue;
    c->fn(&p, r);
  }
}

static void result_done(psa_result_t *r) {
  buf_done(&r->reasons);
  buf_done(&r->detail);
}

/* ---- policies from namespace labels ---- */

static int parse_level(const char *s, int *ret);
static int parse_version(const char *s, int *ret);

int api__podsecurity_evaluate(const char *level, const char *version, const cJSON *meta,
                              const cJSON *spec, char **ret_detail) {
  int lv, minor;
  if (parse_level(level, &lv) < 0 || parse_version(version, &minor) < 0)
    return -EINVAL;
  psa_result_t r;
  evaluate(lv, minor, meta, spec, &r);
  int n = r.n;
  if (n)
    *ret_detail = buf_steal(&r.detail, NULL);
  result_done(&r);
  return n ? 1 : 0;
}

typedef struct {
  int level;
  int minor; /* -1: latest */
} lv_t;

typedef struct {
  lv_t enforce, audit, warn;
} policy_t;

static const char *const level_names[] = {"privileged", "baseline", "restricted"};

static void lv_string(const lv_t *lv, char *buf, size_t n) {
  if (lv->minor < 0)
    snprintf(buf, n, "%s:latest", level_names[lv->level]);
  else
    snprintf(buf, n, "%s:v1.%d", level_names[lv->level], lv->minor);
}

static int parse_level(const char *s, int *ret) {
  for (int i = 0; i < 3; i++)
    if (!strcmp(s, level_names[i])) {
      *ret = i;
      return 0;
    }
  *ret = LEVEL_RESTRICTED;
  return -EINVAL;
}

static int parse_version(const char *s, int *ret) {
  *ret = -1;
  if (!strcmp(s, "latest"))
    return 0;
  if (strncmp(s, "v1.", 3) || !s[3] || (s[3] == '0' && s[4]))
    return -EINVAL;
  int v = 0;
  for (const char *p = s + 3; *p; p++) {
    if (*p < '0' || *p > '9' || v > 100000)
      return -EINVAL;
    v = v * 10 + (*p - '0');
  }
  *ret = v;
  return 0;
}

/* Upstream PolicyToEvaluate; st (may be NULL) receives a cause per bad label. */
static void policy_of(const cJSON *labels, policy_t *p, api_status_t *st) {
  static const char pfx[] = "pod-security.kubernetes.io/";
  struct {
    const char *mode;
    lv_t *lv;
    bool fail_open;
  } modes[] = {{"enforce", &p->enforce, false}, {"audit", &p->audit, true}, {"warn", &p->warn, true}};
  memset(p, 0, sizeof(*p));
  p->enforce.minor = p->audit.minor = p->warn.minor = -1;
  bool has_enforce = false, has_warn = false, has_warn_version = false;
  for (size_t i = 0; i < 3; i++) {
    char key[96];
    snprintf(key, sizeof(key), "%s%s", pfx, modes[i].mode);
    /* obj_str walks dotted paths: look the key up directly. */
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(labels, key);
    const char *level = cJSON_IsString(lv) ? lv->valuestring : NULL;
    if (level) {
      int r = parse_level(level, &modes[i].lv->level);
      if (r < 0 && modes[i].fail_open)
        modes[i].lv->level = LEVEL_PRIVILEGED;
      if (r == 0 && i == 0)
        has_enforce = true;
      if (i == 2)
        has_warn = true;
      if (r < 0 && st) {
        char field[160], msg[256];
        snprintf(field, sizeof(field), "metadata.labels[%s]", key);
        snprintf(msg, sizeof(msg),
                 "Invalid value: \"%s\": must be one of privileged, baseline, restricted", level);
        api_status_add_cause(st, "FieldValueInvalid", field, msg);
      }
    }
    snprintf(key, sizeof(key), "%s%s-version", pfx, modes[i].mode);
    const cJSON *vv = cJSON_GetObjectItemCaseSensitive(labels, key);
    if (cJSON_IsString(vv)) {
      if (i == 2)
        has_warn_version = true;
      if (parse_version(vv->valuestring, &modes[i].lv->minor) < 0 && st) {
        char field[160], msg[256];
        snprintf(field, sizeof(field), "metadata.labels[%s]", key);
        snprintf(msg, sizeof(msg), "Invalid value: \"%s\": must be \"latest\" or \"v1.x\"",
                 vv->valuestring);
        api_status_add_cause(st, "FieldValueInvalid", field, msg);
      }
    }
  }
  /* warn defaults to a stricter enforce level. */
  if (!has_warn && has_enforce && p->enforce.level > p->warn.level) {
    p->warn.level = p->enforce.level;
    if (!has_warn_version)
      p->warn.minor = p->enforce.minor;
  }
}

static int namespace_labels(api_server_t *srv, const char *ns, cJSON **ret_ns) {
  const api_resource_t *nsres = api_registry_find_kind("", "Namespace");
  char *key = api_resource_key(nsres, NULL, ns);
  store_kv_t *kv = NULL;
  int r = store_get_latest(srv->store, key, &kv);
  free(key);
  if (r < 0)
    return r;
  *ret_ns = cJSON_ParseWithLength(kv->value, kv->len);
  store_kv_unref(kv);
  return *ret_ns ? 0 : -EIO;
}

/* ---- pods and pod templates ---- */

static bool significant_update(const cJSON *spec, const cJSON *old) {
  static const char *const lists[] = {"containers", "initContainers"};
  for (size_t i = 0; i < 2; i++) {
    const cJSON *a = obj_get(spec, lists[i]), *b = obj_get(old, lists[i]);
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
      return true;
    for (int j = 0; j < cJSON_GetArraySize(a); j++) {
      const char *ia = obj_str(cJSON_GetArrayItem(a, j), "image");
      const char *ib = obj_str(cJSON_GetArrayItem(b, j), "image");
      if (strcmp(ia ? ia : "", ib ? ib : ""))
        return true;
    }
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, obj_get(spec, "ephemeralContainers")) {
    const char *name = obj_str(e, "name");
    const cJSON *match = NULL, *o;
    cJSON_ArrayForEach(o, obj_get(old, "ephemeralContainers")) {
      const char *on = obj_str(o, "name");
      if (name && on && !strcmp(name, on))
        match = o;
    }
    if (!match)
      return true;
    const char *ia = obj_str(e, "image"), *ib = obj_str(match, "image");
    if (strcmp(ia ? ia : "", ib ? ib : ""))
      return true;
  }
  return false;
}

/* The pod template of a workload: metadata and spec, or false. */
static bool template_of(const api_admission_t *a, const cJSON **ret_meta, const cJSON **ret_spec) {
  static const struct {
    const char *group, *kind, *path;
  } kinds[] = {{"", "ReplicationController", "spec.template"},
               {"", "PodTemplate", "template"},
               {"apps", "ReplicaSet", "spec.template"},
               {"apps", "Deployment", "spec.template"},
               {"apps", "StatefulSet", "spec.template"},
               {"apps", "DaemonSet", "spec.template"},
               {"batch", "Job", "spec.template"},
               {"batch", "CronJob", "spec.jobTemplate.spec.template"}};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    if (!api__admission_is(a, kinds[i].group, kinds[i].kind))
      continue;
    const cJSON *t = obj_get(a->obj, kinds[i].path);
    *ret_meta = obj_get(t, "metadata");
    *ret_spec = obj_get(t, "spec");
    return true;
  }
  return false;
}

static int evaluate_pod(api_admission_t *a, const policy_t *p, const cJSON *meta,
                        const cJSON *spec, bool enforce, api_status_t *st) {
  char lvs[64];
  struct api_audit_req *ar = api__request_audit(a->req);
  if (enforce) {
    psa_result_t r;
    lv_string(&p->enforce, lvs, sizeof(lvs));
    api__audit_annotate(ar, "pod-security.kubernetes.io/enforce-policy", lvs);
    evaluate(p->enforce.level, p->enforce.minor, meta, spec, &r);
    if (r.n) {
      lv_string(&p->enforce, lvs, sizeof(lvs));
      char *why = xasprintf("violates PodSecurity \"%s\": %s", lvs, r.detail.data);
      api__admission_forbidden(a, st, why);
      free(why);
      result_done(&r);
      return -EPERM;
    }
    result_done(&r);
  }
  /* audit: upstream's annotation on the request's audit events */
  psa_result_t au;
  evaluate(p->audit.level, p->audit.minor, meta, spec, &au);
  if (au.n && ar) {
    lv_string(&p->audit, lvs, sizeof(lvs));
    char *text = xasprintf("would violate PodSecurity \"%s\": %s", lvs, au.detail.data);
    api__audit_annotate(ar, "pod-security.kubernetes.io/audit-violations", text);
    free(text);
  }
  result_done(&au);
  psa_result_t w;
  evaluate(p->warn.level, p->warn.minor, meta, spec, &w);
  if (w.n) {
    lv_string(&p->warn, lvs, sizeof(lvs));
    char *text = xasprintf("would violate PodSecurity \"%s\": %s", lvs, w.detail.data);
    api__admission_warn(a, text);
    free(text);
  }
  result_done(&w);
  return 0;
}

static int pod_admission(api_admission_t *a, const cJSON *meta, const cJSON *spec, bool enforce,
                         api_status_t *st) {
  const char *ns = obj_str(a->obj, "metadata.namespace");
  cJSON *nsobj = NULL;
  if (!ns || namespace_labels(a->srv, ns, &nsobj) < 0)
    return 0; /* the namespace check before admission answers this */
  policy_t p;
  policy_of(obj_get(nsobj, "metadata.labels"), &p, NULL);
  cJSON_Delete(nsobj);
  if (!enforce && p.warn.level == LEVEL_PRIVILEGED && p.audit.level == LEVEL_PRIVILEGED)
    return 0;
  if (p.enforce.level == LEVEL_PRIVILEGED && p.warn.level == LEVEL_PRIVILEGED &&
      p.audit.level == LEVEL_PRIVILEGED)
    return 0;
  if (!cJSON_IsObject(spec))
    return 0;
  return evaluate_pod(a, &p, meta, spec, enforce, st);
}

/* ---- namespaces ---- */

typedef struct {
  const char *reason;
  char *first;
  int count;
} pod_warning_t;

typedef struct {
  lv_t enforce;
  pod_warning_t w[SET_MAX];
  int n, checked, total;
  strs_t owners; /* controllers already evaluated */
  cJSON *later;  /* further pods of those controllers */
} ns_scan_t;

static void scan_pod(ns_scan_t *s, const cJSON *pod) {
  if (s->checked >= PSA_MAX_PODS)
    return;
  s->checked++;
  psa_result_t r;
  evaluate(s->enforce.level, s->enforce.minor, obj_get(pod, "metadata"), obj_get(pod, "spec"), &r);
  if (r.n) {
    const char *name = obj_str(pod, "metadata.name");
    int i = 0;
    while (i < s->n && strcmp(s->w[i].reason, r.reasons.data))
      i++;
    if (i == s->n && s->n < SET_MAX) {
      s->w[i].reason = buf_steal(&r.reasons, NULL);
      s->w[i].first = xstrdup(name ? name : "");
      s->n++;
    } else if (i < s->n && name && strcmp(name, s->w[i].first) < 0) {
      free(s->w[i].first);
      s->w[i].first = xstrdup(name);
    }
    if (i < s->n)
      s->w[i].count++;
  }
  result_done(&r);
}

static bool scan_cb(const cJSON *pod, void *data) {
  ns_scan_t *s = data;
  s->total++;
  const cJSON *ref, *controller = NULL;
  cJSON_ArrayForEach(ref, obj_get(pod, "metadata.ownerReferences")) {
    if (cJSON_IsTrue(obj_get(ref, "controller")))
      controller = ref;
  }
  const char *uid = obj_str(controller, "uid");
  if (uid) {
    for (int i = 0; i < s->owners.n; i++)
      if (!strcmp(s->owners.v[i], uid)) {
        cJSON_AddItemToArray(s->later, cJSON_Duplicate(pod, 1));
        return cJSON_GetArraySize(s->later) < PSA_MAX_PODS;
      }
    strs_add(&s->owners, uid);
  }
  scan_pod(s, pod);
  return true;
}

static int cmp_warning(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

static void warn_existing_pods(api_admission_t *a, const lv_t *enforce) {
  const char *ns = obj_str(a->obj, "metadata.name");
  ns_scan_t s = {.enforce = *enforce, .later = cJSON_CreateArray()};
  api__admission_each(a->srv, api_registry_find_kind("", "Pod"), ns, 0, scan_cb, &s);
  const cJSON *pod;
  cJSON_ArrayForEach(pod, s.later) scan_pod(&s, pod);
  char lvs[64];
  lv_string(enforce, lvs, sizeof(lvs));
  if (s.checked < s.total) {
    char *t = xasprintf("new PodSecurity enforce level only checked against the first %d of %d "
                        "existing pods",
                        s.checked, s.total);
    api__admission_warn(a, t);
    free(t);
  }
  if (s.n) {
    char *t = xasprintf("existing pods in namespace \"%s\" violate the new PodSecurity enforce "
                        "level \"%s\"",
                        ns, lvs);
    api__admission_warn(a, t);
    free(t);
  }
  char *texts[SET_MAX];
  for (int i = 0; i < s.n; i++) {
    if (s.w[i].count == 1)
      texts[i] = xasprintf("%s: %s", s.w[i].first, s.w[i].reason);
    else if (s.w[i].count == 2)
      texts[i] = xasprintf("%s (and 1 other pod): %s", s.w[i].first, s.w[i].reason);
    else
      texts[i] = xasprintf("%s (and %d other pods): %s", s.w[i].first, s.w[i].count - 1,
                           s.w[i].reason);
  }
  qsort(texts, (size_t)s.n, sizeof(texts[0]), cmp_warning);
  for (int i = 0; i < s.n; i++) {
    api__admission_warn(a, texts[i]);
    free(texts[i]);
    free((char *)s.w[i].reason);
    free(s.w[i].first);
  }
  strs_done(&s.owners);
  cJSON_Delete(s.later);
}

static int namespace_admission(api_admission_t *a, api_status_t *st) {
  const char *name = obj_str(a->obj, "metadata.name");
  policy_t p, op;
  api_status_t errs, old_errs;
  memset(&errs, 0, sizeof(errs));
  memset(&old_errs, 0, sizeof(old_errs));
  policy_of(obj_get(a->obj, "metadata.labels"), &p, &errs);
  int r = 0;
  if (a->old)
    policy_of(obj_get(a->old, "metadata.labels"), &op, &old_errs);
  if (errs.causes && (!a->old || !old_errs.causes || !cJSON_Compare(errs.causes, old_errs.causes, 1))) {
    *st = errs;
    memset(&errs, 0, sizeof(errs));
    api_status_invalid(st, "", "Namespace", name ? name : "");
    r = -EINVAL;
    goto out;
  }
  if (!a->old)
    goto out;
  if (p.enforce.level == op.enforce.level && p.enforce.minor == op.enforce.minor)
    goto out;
  if (p.enforce.level == LEVEL_PRIVILEGED)
    goto out;
  if (p.enforce.minor == op.enforce.minor && p.enforce.level <= op.enforce.level)
    goto out;
  warn_existing_pods(a, &p.enforce);
out:
  api_status_done(&errs);
  api_status_done(&old_errs);
  return r;
}

int api__validate_podsecurity(api_admission_t *a, api_status_t *st) {
  static const char *const ignored[] = {"exec", "attach", "binding", "eviction", "log",
                                        "portforward", "proxy", "status", NULL};
  if (api__admission_is(a, "", "Namespace")) {
    if (a->sub[0])
      return 0;
    return namespace_admission(a, st);
  }
  if (api__admission_is(a, "", "Pod")) {
    if (in_list(ignored, a->sub))
      return 0;
    const cJSON *spec = obj_get(a->obj, "spec");
    if (a->old && !significant_update(spec, obj_get(a->old, "spec")))
      return 0;
    return pod_admission(a, obj_get(a->obj, "metadata"), spec, true, st);
  }
  const cJSON *meta = NULL, *spec = NULL;
  if (a->sub[0] || !template_of(a, &meta, &spec))
    return 0;
  return pod_admission(a, meta, spec, false, st);
}
