/* pkg/agent/podspec.c: Pod objects to CRI configs, environments, QoS. */
#include <errno.h>
#include <string.h>

#include "agent/podspec.h"
#include "json/util.h"
#include "test.h"

/* JSON written with ' for " and ` for ' (easier to read in C strings). */
static cJSON *J(const char *text) {
  char *s = strdup(text);
  for (char *p = s; *p; p++) {
    if (*p == '\'')
      *p = '"';
    else if (*p == '`')
      *p = '\'';
  }
  cJSON *v = cJSON_Parse(s);
  if (!v) {
    printf("# bad test JSON: %s\n", s);
    free(s);
    TEST_FAIL("bad test JSON");
  }
  free(s);
  return v;
}

static const agent_podspec_node_t NODE = {
    .name = "n1",
    .host_ip = "192.168.1.10",
    .logs_dir = "/var/log/pods",
    .pods_dir = "/var/lib/k3c/agent/pods",
    .cgroup_root = "/",
    .cluster_dns = "10.43.0.10",
    .cluster_domain = "cluster.local",
    .memory_capacity = 4LL << 30,
    .milli_cpu_capacity = 4000,
};

#define META "'metadata':{'name':'web','namespace':'prod','uid':'u-1'}"

static cJSON *pod_with(const char *spec) {
  char buf[8192];
  snprintf(buf, sizeof(buf), "{" META ",'spec':%s}", spec);
  return J(buf);
}

/* env value of name in an env array, or NULL. */
static const char *env_get(const cJSON *env, const char *name) {
  const cJSON *e;
  cJSON_ArrayForEach(e, env) {
    const cJSON *n = cJSON_GetObjectItem(e, "name");
    if (n && !strcmp(n->valuestring, name))
      return cJSON_GetObjectItem(e, "value")->valuestring;
  }
  return NULL;
}

static const char *env_names(const cJSON *env, char *out, size_t len) {
  out[0] = '\0';
  const cJSON *e;
  cJSON_ArrayForEach(e, env) {
    size_t n = strlen(out);
    snprintf(out + n, len - n, "%s%s", n ? "," : "", cJSON_GetObjectItem(e, "name")->valuestring);
  }
  return out;
}

static const char *strv_join(cri_strv_t v, char *out, size_t len) {
  out[0] = '\0';
  for (size_t i = 0; i < v.n; i++) {
    size_t n = strlen(out);
    snprintf(out + n, len - n, "%s%s", i ? "|" : "", v.v[i]);
  }
  return out;
}

/* The env of the pod's first container (fails the test on an error). */
static cJSON *env_of(const cJSON *pod, const agent_podspec_refs_t *refs) {
  char err[256] = "";
  cJSON *env = NULL;
  const cJSON *c = cJSON_GetArrayItem(json_get_path(pod, "spec.containers"), 0);
  int rc = agent_podspec_env(pod, c, refs, &NODE, "10.42.0.7", &env, err, sizeof(err));
  if (rc != 0)
    TEST_FAIL("agent_podspec_env: %d %s", rc, err);
  return env;
}

static int env_err(const cJSON *pod, const agent_podspec_refs_t *refs, char *err, size_t errlen) {
  cJSON *env = (cJSON *)0x1;
  const cJSON *c = cJSON_GetArrayItem(json_get_path(pod, "spec.containers"), 0);
  int rc = agent_podspec_env(pod, c, refs, &NODE, "10.42.0.7", &env, err, errlen);
  ASSERT_TRUE(env == (cJSON *)0x1); /* untouched on failure */
  return rc;
}

/* --- QoS --- */

static void test_qos(void) {
  static const struct {
    const char *spec, *want;
  } cases[] = {
      {"{'containers':[{'name':'a'}]}", "BestEffort"},
      {"{'containers':[{'name':'a','resources':{}}],'initContainers':[{'name':'i'}]}",
       "BestEffort"},
      {"{'containers':[{'name':'a','resources':{'limits':{'nvidia.com/gpu':'1'}}}]}", "BestEffort"},
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':'1','memory':'1Gi'}}}]}",
       "Guaranteed"},
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':'1','memory':'1Gi'},"
       "'requests':{'cpu':'1000m','memory':'1024Mi'}}}]}",
       "Guaranteed"},
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':'1','memory':'1Gi'},"
       "'requests':{'cpu':'500m'}}}]}",
       "Burstable"},
      {"{'containers':[{'name':'a','resources':{'requests':{'cpu':'100m'}}}]}", "Burstable"},
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':'1'}}}]}", "Burstable"},
      /* an init container without limits breaks Guaranteed */
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':'1','memory':'1Gi'}}}],"
       "'initContainers':[{'name':'i'}]}",
       "Burstable"},
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':'1','memory':'1Gi'}}}],"
       "'initContainers':[{'name':'i','resources':{'limits':{'cpu':'2','memory':'1Gi'}}}]}",
       "Guaranteed"},
      /* only init containers ask for something: not BestEffort */
      {"{'containers':[{'name':'a'}],'initContainers':[{'name':'i','resources':{'requests':{'"
       "memory':'1Mi'}}}]}",
       "Burstable"},
      {"{'containers':[{'name':'a','resources':{'limits':{'cpu':1,'memory':'1Gi'}}}]}",
       "Guaranteed"},
      /* zero requests do not count */
      {"{'containers':[{'name':'a','resources':{'requests':{'cpu':'0','memory':'0'}}}]}",
       "BestEffort"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *pod = pod_with(cases[i].spec);
    const char *got = agent_podspec_qos(pod);
    if (strcmp(got, cases[i].want)) {
      cJSON_Delete(pod);
      TEST_FAIL("case %zu: got %s, want %s", i, got, cases[i].want);
    }
    cJSON_Delete(pod);
  }
}

/* --- referenced objects --- */

static void test_ref_names(void) {
  cJSON *pod = pod_with(
      "{'initContainers':[{'name':'i','envFrom':[{'configMapRef':{'name':'cm-init'}}]}],"
      "'containers':[{'name':'a','envFrom':[{'secretRef':{'name':'s1'}},{'configMapRef':{'name':'"
      "cm1'}}],"
      "'env':[{'name':'X','valueFrom':{'configMapKeyRef':{'name':'cm2','key':'k'}}},"
      "{'name':'Y','valueFrom':{'secretKeyRef':{'name':'s1','key':'k'}}},"
      "{'name':'Z','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}}]}],"
      "'volumes':[{'name':'v1','configMap':{'name':'cm1'}},{'name':'v2','secret':{'secretName':'s2'"
      "}},"
      "{'name':'v3','projected':{'sources':[{'configMap':{'name':'cm3'}},{'secret':{'name':'s3'}},"
      "{'serviceAccountToken':{'path':'t'}}]}},{'name':'v4','emptyDir':{}}],"
      "'imagePullSecrets':[{'name':'reg'}]}");
  cJSON *cms = NULL, *secs = NULL;
  agent_podspec_ref_names(pod, &cms, &secs);
  char *a = cJSON_PrintUnformatted(cms), *b = cJSON_PrintUnformatted(secs);
  ASSERT_EQ_STR(a, "[\"cm-init\",\"cm1\",\"cm2\",\"cm3\"]");
  ASSERT_EQ_STR(b, "[\"s1\",\"s2\",\"s3\",\"reg\"]");
  free(a);
  free(b);
  cJSON_Delete(cms);
  cJSON_Delete(secs);
  agent_podspec_ref_names(pod, NULL, &secs); /* either out-param may be NULL */
  ASSERT_EQ_INT(cJSON_GetArraySize(secs), 4);
  cJSON_Delete(secs);
  cJSON_Delete(pod);
}

/* --- environment --- */

static void test_env_order(void) {
  cJSON *refs_cm = J("{'cm':{'data':{'B':'from-cm','A':'from-cm','C':'c'}}}");
  agent_podspec_refs_t refs = {.configmaps = refs_cm, .secrets = NULL};
  cJSON *pod = pod_with("{'containers':[{'name':'a','envFrom':[{'configMapRef':{'name':'cm'}}],"
                        "'env':[{'name':'Z','value':'z'},{'name':'A','value':'from-env'},"
                        "{'name':'E'},{'name':'Z','value':'z2'}]}]}");
  cJSON *env = env_of(pod, &refs);
  char names[256];
  ASSERT_EQ_STR(env_names(env, names, sizeof(names)), "B,A,C,Z,E");
  ASSERT_EQ_STR(env_get(env, "A"), "from-env"); /* env over envFrom */
  ASSERT_EQ_STR(env_get(env, "Z"), "z2");       /* the later entry wins */
  ASSERT_EQ_STR(env_get(env, "E"), "");
  cJSON_Delete(env);
  cJSON_Delete(pod);
  cJSON_Delete(refs_cm);
}

/* The kubernetes Service's variables, when the node knows its ClusterIP:
 * first, overridable by the pod, usable in $(VAR). */
static void test_env_master_service(void) {
  agent_podspec_node_t node = NODE;
  node.kubernetes_service_host = "10.43.0.1";
  cJSON *pod = pod_with("{'containers':[{'name':'a','env':[{'name':'KUBERNETES_SERVICE_PORT',"
                        "'value':'6443'},{'name':'U','value':'https://$(KUBERNETES_SERVICE_HOST)'}]}]}");
  const cJSON *c = cJSON_GetArrayItem(json_get_path(pod, "spec.containers"), 0);
  cJSON *env = NULL;
  char err[256] = "", names[512];
  ASSERT_EQ_INT(agent_podspec_env(pod, c, NULL, &node, "10.42.0.7", &env, err, sizeof(err)), 0);
  ASSERT_EQ_STR(env_names(env, names, sizeof(names)),
                "KUBERNETES_SERVICE_HOST,KUBERNETES_SERVICE_PORT,KUBERNETES_SERVICE_PORT_HTTPS,"
                "KUBERNETES_PORT,KUBERNETES_PORT_443_TCP,KUBERNETES_PORT_443_TCP_PROTO,"
                "KUBERNETES_PORT_443_TCP_PORT,KUBERNETES_PORT_443_TCP_ADDR,U");
  ASSERT_EQ_STR(env_get(env, "KUBERNETES_SERVICE_HOST"), "10.43.0.1");
  ASSERT_EQ_STR(env_get(env, "KUBERNETES_SERVICE_PORT"), "6443"); /* the pod's wins */
  ASSERT_EQ_STR(env_get(env, "KUBERNETES_SERVICE_PORT_HTTPS"), "443");
  ASSERT_EQ_STR(env_get(env, "KUBERNETES_PORT_443_TCP"), "tcp://10.43.0.1:443");
  ASSERT_EQ_STR(env_get(env, "U"), "https://10.43.0.1");
  cJSON_Delete(env);
  /* without it (NODE): none of them */
  env = env_of(pod, NULL);
  ASSERT_EQ_STR(env_names(env, names, sizeof(names)), "KUBERNETES_SERVICE_PORT,U");
  cJSON_Delete(env);
  cJSON_Delete(pod);
}

static void test_env_expansion(void) {
  cJSON *refs_cm = J("{'cm':{'data':{'FROM_CM':'cmv'}}}");
  agent_podspec_refs_t refs = {.configmaps = refs_cm, .secrets = NULL};
  cJSON *pod =
      pod_with("{'containers':[{'name':'a','envFrom':[{'configMapRef':{'name':'cm'}}],'env':["
               "{'name':'A','value':'a'},"
               "{'name':'B','value':'<$(A)>'},"
               "{'name':'C','value':'$(A)$(B)$(FROM_CM)'},"
               "{'name':'UNDEF','value':'x$(NOPE)y'},"
               "{'name':'LATER','value':'$(D)'},"
               "{'name':'D','value':'d'},"
               "{'name':'ESC','value':'$$(A)'},"
               "{'name':'DOLLAR2','value':'$$$$'},"
               "{'name':'OPEN','value':'$(A'},"
               "{'name':'OPEN2','value':'$($(A)'},"
               "{'name':'EMPTY','value':'$()'},"
               "{'name':'PLAIN','value':'$A $'},"
               "{'name':'NESTED','value':'$(B)'},"
               "{'name':'SELF','value':'$(SELF)'},"
               "{'name':'REF','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}},"
               "{'name':'AFTERREF','value':'$(REF)-x'}"
               "]}]}");
  cJSON *env = env_of(pod, &refs);
  ASSERT_EQ_STR(env_get(env, "B"), "<a>");
  ASSERT_EQ_STR(env_get(env, "C"), "a<a>cmv");
  ASSERT_EQ_STR(env_get(env, "UNDEF"), "x$(NOPE)y");
  ASSERT_EQ_STR(env_get(env, "LATER"), "$(D)"); /* defined only later */
  ASSERT_EQ_STR(env_get(env, "ESC"), "$(A)");
  ASSERT_EQ_STR(env_get(env, "DOLLAR2"), "$$");
  ASSERT_EQ_STR(env_get(env, "OPEN"), "$(A");
  ASSERT_EQ_STR(env_get(env, "OPEN2"), "$($(A)"); /* the name is "$(A": undefined */
  ASSERT_EQ_STR(env_get(env, "EMPTY"), "$()");
  ASSERT_EQ_STR(env_get(env, "PLAIN"), "$A $");
  ASSERT_EQ_STR(env_get(env, "NESTED"), "<a>"); /* B's expanded value, not rescanned */
  ASSERT_EQ_STR(env_get(env, "SELF"), "$(SELF)");
  ASSERT_EQ_STR(env_get(env, "AFTERREF"), "web-x");
  cJSON_Delete(env);
  cJSON_Delete(pod);
  cJSON_Delete(refs_cm);
}

static void test_env_field_ref(void) {
  cJSON *pod = J(
      "{'metadata':{'name':'web','namespace':'prod','uid':'u-1',"
      "'labels':{'b':'2','a':'x\\\"y'},'annotations':{'note':'hi'}},"
      "'spec':{'nodeName':'n1','serviceAccountName':'sa','containers':[{'name':'a','env':["
      "{'name':'NAME','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}},"
      "{'name':'NS','valueFrom':{'fieldRef':{'apiVersion':'v1','fieldPath':'metadata.namespace'}}},"
      "{'name':'UID','valueFrom':{'fieldRef':{'fieldPath':'metadata.uid'}}},"
      "{'name':'NODE','valueFrom':{'fieldRef':{'fieldPath':'spec.nodeName'}}},"
      "{'name':'SA','valueFrom':{'fieldRef':{'fieldPath':'spec.serviceAccountName'}}},"
      "{'name':'HOST','valueFrom':{'fieldRef':{'fieldPath':'status.hostIP'}}},"
      "{'name':'HOSTS','valueFrom':{'fieldRef':{'fieldPath':'status.hostIPs'}}},"
      "{'name':'IP','valueFrom':{'fieldRef':{'fieldPath':'status.podIP'}}},"
      "{'name':'IPS','valueFrom':{'fieldRef':{'fieldPath':'status.podIPs'}}},"
      "{'name':'LB','valueFrom':{'fieldRef':{'fieldPath':'metadata.labels[`b`]'}}},"
      "{'name':'LNONE','valueFrom':{'fieldRef':{'fieldPath':'metadata.labels[`zz`]'}}},"
      "{'name':'AN','valueFrom':{'fieldRef':{'fieldPath':'metadata.annotations[`note`]'}}},"
      "{'name':'LABELS','valueFrom':{'fieldRef':{'fieldPath':'metadata.labels'}}}"
      "]}]}}");
  cJSON *env = env_of(pod, NULL);
  ASSERT_EQ_STR(env_get(env, "NAME"), "web");
  ASSERT_EQ_STR(env_get(env, "NS"), "prod");
  ASSERT_EQ_STR(env_get(env, "UID"), "u-1");
  ASSERT_EQ_STR(env_get(env, "NODE"), "n1");
  ASSERT_EQ_STR(env_get(env, "SA"), "sa");
  ASSERT_EQ_STR(env_get(env, "HOST"), "192.168.1.10");
  ASSERT_EQ_STR(env_get(env, "HOSTS"), "192.168.1.10");
  ASSERT_EQ_STR(env_get(env, "IP"), "10.42.0.7");
  ASSERT_EQ_STR(env_get(env, "IPS"), "10.42.0.7");
  ASSERT_EQ_STR(env_get(env, "LB"), "2");
  ASSERT_EQ_STR(env_get(env, "LNONE"), "");
  ASSERT_EQ_STR(env_get(env, "AN"), "hi");
  ASSERT_EQ_STR(env_get(env, "LABELS"), "a=\"x\\\"y\"\nb=\"2\"");
  cJSON_Delete(env);
  cJSON_Delete(pod);

  char err[256];
  pod = pod_with("{'containers':[{'name':'a','env':[{'name':'X','valueFrom':{'fieldRef':"
                 "{'fieldPath':'spec.hostname'}}}]}]}");
  ASSERT_EQ_INT(env_err(pod, NULL, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "unsupported fieldPath: spec.hostname");
  cJSON_Delete(pod);
  pod = pod_with("{'containers':[{'name':'a','env':[{'name':'X','valueFrom':{'fieldRef':"
                 "{'apiVersion':'v2','fieldPath':'metadata.name'}}}]}]}");
  ASSERT_EQ_INT(env_err(pod, NULL, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "unsupported pod version: v2");
  cJSON_Delete(pod);
}

static void test_env_resource_ref(void) {
  cJSON *pod = pod_with(
      "{'containers':[{'name':'a','resources':{'limits':{'cpu':'500m','memory':'1Gi'},"
      "'requests':{'cpu':'250m'}},'env':["
      "{'name':'LCPU','valueFrom':{'resourceFieldRef':{'resource':'limits.cpu'}}},"
      "{'name':'LCPUM','valueFrom':{'resourceFieldRef':{'resource':'limits.cpu','divisor':'1m'}}},"
      "{'name':'RCPU','valueFrom':{'resourceFieldRef':{'resource':'requests.cpu','divisor':'100m'}}"
      "},"
      "{'name':'LMEM','valueFrom':{'resourceFieldRef':{'resource':'limits.memory'}}},"
      "{'name':'LMEMMI','valueFrom':{'resourceFieldRef':{'resource':'limits.memory','divisor':'1Mi'"
      "}}},"
      "{'name':'RMEM','valueFrom':{'resourceFieldRef':{'resource':'requests.memory','divisor':'1Gi'"
      "}}},"
      "{'name':'ZERO','valueFrom':{'resourceFieldRef':{'resource':'limits.memory','divisor':'0'}}},"
      "{'name':'LEPH','valueFrom':{'resourceFieldRef':{'resource':'limits.ephemeral-storage'}}},"
      "{'name':'OTHER','valueFrom':{'resourceFieldRef':{'containerName':'b','resource':'limits.cpu'"
      ",'divisor':'1m'}}},"
      "{'name':'OTHERMEM','valueFrom':{'resourceFieldRef':{'containerName':'b','resource':'limits."
      "memory','divisor':'1Mi'}}}"
      "]},{'name':'b'}]}");
  cJSON *env = env_of(pod, NULL);
  ASSERT_EQ_STR(env_get(env, "LCPU"), "1"); /* 0.5 rounds up */
  ASSERT_EQ_STR(env_get(env, "LCPUM"), "500");
  ASSERT_EQ_STR(env_get(env, "RCPU"), "3"); /* 250m / 100m = 2.5, up */
  ASSERT_EQ_STR(env_get(env, "LMEM"), "1073741824");
  ASSERT_EQ_STR(env_get(env, "LMEMMI"), "1024");
  ASSERT_EQ_STR(env_get(env, "RMEM"), "1"); /* the request defaults to the limit */
  ASSERT_EQ_STR(env_get(env, "ZERO"), "1073741824");
  ASSERT_EQ_STR(env_get(env, "LEPH"), "0");
  ASSERT_EQ_STR(env_get(env, "OTHER"), "4000");    /* b has no limit: the node's capacity */
  ASSERT_EQ_STR(env_get(env, "OTHERMEM"), "4096"); /* 4 GiB */
  cJSON_Delete(env);
  cJSON_Delete(pod);

  char err[256];
  pod = pod_with("{'containers':[{'name':'a','env':[{'name':'X','valueFrom':{'resourceFieldRef':"
                 "{'resource':'limits.pods'}}}]}]}");
  ASSERT_EQ_INT(env_err(pod, NULL, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "unsupported container resource : limits.pods");
  cJSON_Delete(pod);
  pod = pod_with("{'containers':[{'name':'a','env':[{'name':'X','valueFrom':{'resourceFieldRef':"
                 "{'containerName':'nope','resource':'limits.cpu'}}}]}]}");
  ASSERT_EQ_INT(env_err(pod, NULL, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "container nope not found");
  cJSON_Delete(pod);
}

static void test_env_key_refs(void) {
  cJSON *cms = J("{'cm':{'data':{'k':'v','e':''}}}");
  /* "secret-value" and "a\nb" in base64 */
  cJSON *secs = J("{'s':{'data':{'pw':'c2VjcmV0LXZhbHVl','ml':'YQpi','bad':'***'}}}");
  agent_podspec_refs_t refs = {.configmaps = cms, .secrets = secs};
  cJSON *pod = pod_with(
      "{'containers':[{'name':'a','env':["
      "{'name':'CM','valueFrom':{'configMapKeyRef':{'name':'cm','key':'k'}}},"
      "{'name':'CME','valueFrom':{'configMapKeyRef':{'name':'cm','key':'e'}}},"
      "{'name':'PW','valueFrom':{'secretKeyRef':{'name':'s','key':'pw'}}},"
      "{'name':'ML','valueFrom':{'secretKeyRef':{'name':'s','key':'ml'}}},"
      "{'name':'OPT1','valueFrom':{'configMapKeyRef':{'name':'nope','key':'k','optional':true}}},"
      "{'name':'OPT2','valueFrom':{'configMapKeyRef':{'name':'cm','key':'nope','optional':true}}},"
      "{'name':'OPT3','valueFrom':{'secretKeyRef':{'name':'nope','key':'k','optional':true}}},"
      "{'name':'OPT4','valueFrom':{'secretKeyRef':{'name':'s','key':'nope','optional':true}}},"
      "{'name':'USE','value':'$(PW)/$(OPT1)'}"
      "]}]}");
  cJSON *env = env_of(pod, &refs);
  ASSERT_EQ_STR(env_get(env, "CM"), "v");
  ASSERT_EQ_STR(env_get(env, "CME"), "");
  ASSERT_EQ_STR(env_get(env, "PW"), "secret-value");
  ASSERT_EQ_STR(env_get(env, "ML"), "a\nb");
  ASSERT_NULL(env_get(env, "OPT1")); /* optional and missing: not set at all */
  ASSERT_NULL(env_get(env, "OPT2"));
  ASSERT_NULL(env_get(env, "OPT3"));
  ASSERT_NULL(env_get(env, "OPT4"));
  ASSERT_EQ_STR(env_get(env, "USE"), "secret-value/$(OPT1)");
  cJSON_Delete(env);
  cJSON_Delete(pod);

  static const struct {
    const char *ref;
    int rc;
    const char *msg;
  } bad[] = {
      {"'configMapKeyRef':{'name':'nope','key':'k'}", -ENOENT, "configmap \"nope\" not found"},
      {"'configMapKeyRef':{'name':'cm','key':'nope'}", -ENOENT,
       "couldn't find key nope in ConfigMap prod/cm"},
      {"'secretKeyRef':{'name':'nope','key':'k'}", -ENOENT, "secret \"nope\" not found"},
      {"'secretKeyRef':{'name':'s','key':'nope'}", -ENOENT,
       "couldn't find key nope in Secret prod/s"},
      {"'secretKeyRef':{'name':'s','key':'bad'}", -EINVAL,
       "key bad of Secret prod/s is not base64"},
      {"'configMapKeyRef':{'name':'cm'}", -EINVAL, "configMapKeyRef needs a name and a key"},
      {"'nothing':{}", -EINVAL, "valueFrom of X names no source k3c knows"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char spec[512], err[256] = "";
    snprintf(spec, sizeof(spec),
             "{'containers':[{'name':'a','env':[{'name':'X','valueFrom':{%s}}]}]}", bad[i].ref);
    pod = pod_with(spec);
    int rc = env_err(pod, &refs, err, sizeof(err));
    cJSON_Delete(pod);
    if (rc != bad[i].rc || strcmp(err, bad[i].msg))
      TEST_FAIL("case %zu: got %d \"%s\", want %d \"%s\"", i, rc, err, bad[i].rc, bad[i].msg);
  }
  /* no refs at all: every reference is missing */
  char err[256];
  pod = pod_with("{'containers':[{'name':'a','env':[{'name':'X','valueFrom':"
                 "{'configMapKeyRef':{'name':'cm','key':'k'}}}]}]}");
  ASSERT_EQ_INT(env_err(pod, NULL, err, sizeof(err)), -ENOENT);
  ASSERT_EQ_STR(err, "configmap \"cm\" not found");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  cJSON_Delete(secs);
}

static void test_env_from(void) {
  cJSON *cms = J("{'cm':{'data':{'GOOD':'1','bad-key!':'2','1DIGIT':'3','dot.ok':'4','..x':'5'},"
                 "'binaryData':{'BIN':'AAAA'}}}");
  cJSON *secs = J("{'s':{'data':{'TOKEN':'dG9r'}}}");
  agent_podspec_refs_t refs = {.configmaps = cms, .secrets = secs};
  cJSON *pod = pod_with("{'containers':[{'name':'a','envFrom':["
                        "{'configMapRef':{'name':'cm'}},"
                        "{'prefix':'P_','configMapRef':{'name':'cm'}},"
                        "{'secretRef':{'name':'s'}},"
                        "{'configMapRef':{'name':'missing','optional':true}},"
                        "{'secretRef':{'name':'missing','optional':true}}]}]}");
  cJSON *env = env_of(pod, &refs);
  char names[512];
  ASSERT_EQ_STR(env_names(env, names, sizeof(names)),
                "GOOD,dot.ok,P_GOOD,P_1DIGIT,P_dot.ok,P_..x,TOKEN");
  ASSERT_EQ_STR(env_get(env, "TOKEN"), "tok");
  ASSERT_EQ_STR(env_get(env, "P_1DIGIT"), "3"); /* valid once prefixed */
  cJSON_Delete(env);
  cJSON_Delete(pod);

  char err[256];
  pod = pod_with("{'containers':[{'name':'a','envFrom':[{'configMapRef':{'name':'missing'}}]}]}");
  ASSERT_EQ_INT(env_err(pod, &refs, err, sizeof(err)), -ENOENT);
  ASSERT_EQ_STR(err, "configmap \"missing\" not found");
  cJSON_Delete(pod);
  pod = pod_with("{'containers':[{'name':'a','envFrom':[{'secretRef':{'name':'missing'}}]}]}");
  ASSERT_EQ_INT(env_err(pod, &refs, err, sizeof(err)), -ENOENT);
  ASSERT_EQ_STR(err, "secret \"missing\" not found");
  cJSON_Delete(pod);
  cJSON_Delete(cms);
  cJSON_Delete(secs);
}

/* --- sandbox --- */

static void test_sandbox_basic(void) {
  cJSON *pod = J("{'metadata':{'name':'web','namespace':'prod','uid':'u-1',"
                 "'labels':{'app':'web','io.kubernetes.pod.name':'spoof'},'annotations':{'a':'1'}},"
                 "'spec':{'containers':[{'name':'c','resources':{'requests':{'cpu':'100m'}}}]}}");
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char err[256] = "", buf[512];
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 2, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_STR(sb.metadata.name, "web");
  ASSERT_EQ_STR(sb.metadata.namespace_, "prod");
  ASSERT_EQ_STR(sb.metadata.uid, "u-1");
  ASSERT_EQ_INT(sb.metadata.attempt, 2);
  ASSERT_EQ_STR(sb.hostname, "web");
  ASSERT_EQ_STR(sb.log_directory, "/var/log/pods/prod_web_u-1");
  ASSERT_EQ_STR(cri_map_get(sb.labels, "app"), "web");
  ASSERT_EQ_STR(cri_map_get(sb.labels, AGENT_LABEL_POD_NAME), "web");
  ASSERT_EQ_STR(cri_map_get(sb.labels, AGENT_LABEL_POD_NAMESPACE), "prod");
  ASSERT_EQ_STR(cri_map_get(sb.labels, AGENT_LABEL_POD_UID), "u-1");
  ASSERT_EQ_STR(cri_map_get(sb.labels, AGENT_LABEL_MANAGED), "true");
  ASSERT_EQ_INT(sb.labels.n, 5); /* the spoofed label is replaced, not doubled */
  ASSERT_EQ_STR(cri_map_get(sb.annotations, "a"), "1");
  ASSERT_EQ_STR(sb.lnx.cgroup_parent, "/kubepods/burstable/podu-1");
  ASSERT_EQ_INT(sb.lnx.namespace_options.network, CRI_NS_POD);
  ASSERT_EQ_INT(sb.lnx.namespace_options.pid, CRI_NS_CONTAINER);
  ASSERT_EQ_INT(sb.lnx.namespace_options.ipc, CRI_NS_POD);
  ASSERT_FALSE(sb.lnx.run_as_user.set);
  ASSERT_FALSE(sb.lnx.privileged);
  ASSERT_NOT_NULL(sb.dns_config);
  ASSERT_EQ_STR(strv_join(sb.dns_config->servers, buf, sizeof(buf)), "10.43.0.10");
  ASSERT_EQ_STR(strv_join(sb.dns_config->searches, buf, sizeof(buf)),
                "prod.svc.cluster.local|svc.cluster.local|cluster.local");
  ASSERT_EQ_STR(strv_join(sb.dns_config->options, buf, sizeof(buf)), "ndots:5");
  agent_podspec_mem_done(&mem);
  cJSON_Delete(pod);

  /* cgroup parents by QoS, under another root */
  agent_podspec_node_t node = NODE;
  node.cgroup_root = "/k3c/";
  pod = pod_with("{'containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &node, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_STR(sb.lnx.cgroup_parent, "/k3c/kubepods/besteffort/podu-1");
  cJSON_Delete(pod);
  pod = pod_with("{'containers':[{'name':'c','resources':{'limits':{'cpu':'1','memory':'1Gi'}}}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_STR(sb.lnx.cgroup_parent, "/kubepods/podu-1");
  agent_podspec_mem_done(&mem);
  cJSON_Delete(pod);

  /* a pod without a uid is refused and leaves mem and *ret alone */
  pod = J("{'metadata':{'name':'web','namespace':'prod'},'spec':{'containers':[{'name':'c'}]}}");
  memset(&sb, 0x5a, sizeof(sb));
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_INT(mem._n, 0);
  ASSERT_EQ_INT(sb.metadata.attempt, 0x5a5a5a5a);
  cJSON_Delete(pod);
}

static void test_sandbox_hostname(void) {
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char err[256] = "";
  /* 62 letters, then "-.x...": cut at 63, the trailing '-' trimmed */
  char name[128];
  memset(name, 'a', 62);
  snprintf(name + 62, sizeof(name) - 62, "-.bcdefgh");
  char json[512];
  snprintf(
      json, sizeof(json),
      "{'metadata':{'name':'%s','namespace':'ns','uid':'u'},'spec':{'containers':[{'name':'c'}]}}",
      name);
  cJSON *pod = J(json);
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_INT(strlen(sb.hostname), 62);
  ASSERT_TRUE(strspn(sb.hostname, "a") == 62);
  cJSON_Delete(pod);

  pod = pod_with("{'hostname':'h1','subdomain':'sub','containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_STR(sb.hostname, "h1");
  cJSON_Delete(pod);
  pod = pod_with(
      "{'hostname':'h1','subdomain':'sub','setHostnameAsFQDN':true,'containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_STR(sb.hostname, "h1.sub.prod.svc.cluster.local");
  cJSON_Delete(pod);
  agent_podspec_mem_done(&mem);
}

static void test_sandbox_host_network(void) {
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char err[256] = "", buf[256];
  cJSON *pod =
      pod_with("{'hostNetwork':true,'hostPID':true,'hostIPC':true,'containers':[{'name':'c',"
               "'ports':[{'containerPort':80,'hostPort':80}]}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_NULL(sb.hostname);   /* the runtime keeps the host's */
  ASSERT_NULL(sb.dns_config); /* ClusterFirst on the host network: the host's resolv.conf */
  ASSERT_EQ_INT(sb.lnx.namespace_options.network, CRI_NS_NODE);
  ASSERT_EQ_INT(sb.lnx.namespace_options.pid, CRI_NS_NODE);
  ASSERT_EQ_INT(sb.lnx.namespace_options.ipc, CRI_NS_NODE);
  ASSERT_EQ_INT(sb.n_port_mappings, 1);
  cJSON_Delete(pod);

  pod = pod_with(
      "{'hostNetwork':true,'dnsPolicy':'ClusterFirstWithHostNet','containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_NOT_NULL(sb.dns_config);
  ASSERT_EQ_STR(strv_join(sb.dns_config->servers, buf, sizeof(buf)), "10.43.0.10");
  cJSON_Delete(pod);
  agent_podspec_mem_done(&mem);
}

static void test_sandbox_dns(void) {
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char err[256] = "", buf[512];
  cJSON *pod = pod_with(
      "{'dnsPolicy':'None','dnsConfig':{'nameservers':['1.1.1.1','1.1.1.1','8.8.8.8'],"
      "'searches':['a.example'],'options':[{'name':'ndots','value':'2'},{'name':'edns0'}]},"
      "'containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_NOT_NULL(sb.dns_config);
  ASSERT_EQ_STR(strv_join(sb.dns_config->servers, buf, sizeof(buf)), "1.1.1.1|8.8.8.8");
  ASSERT_EQ_STR(strv_join(sb.dns_config->searches, buf, sizeof(buf)), "a.example");
  ASSERT_EQ_STR(strv_join(sb.dns_config->options, buf, sizeof(buf)), "ndots:2|edns0");
  cJSON_Delete(pod);

  /* ClusterFirst with dnsConfig: appended, options of the same name replaced */
  pod = pod_with("{'dnsConfig':{'nameservers':['9.9.9.9','10.43.0.10','1.1.1.1','2.2.2.2'],"
                 "'searches':['cluster.local','x.example'],'options':[{'name':'ndots','value':'1'},"
                 "{'name':'rotate'}]},"
                 "'containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_STR(strv_join(sb.dns_config->servers, buf, sizeof(buf)), "10.43.0.10|9.9.9.9|1.1.1.1");
  ASSERT_EQ_STR(strv_join(sb.dns_config->searches, buf, sizeof(buf)),
                "prod.svc.cluster.local|svc.cluster.local|cluster.local|x.example");
  ASSERT_EQ_STR(strv_join(sb.dns_config->options, buf, sizeof(buf)), "ndots:1|rotate");
  cJSON_Delete(pod);

  /* Default: the host's resolv.conf */
  pod = pod_with("{'dnsPolicy':'Default','containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_NULL(sb.dns_config);
  cJSON_Delete(pod);

  /* no cluster DNS known: ClusterFirst falls back to the host's */
  agent_podspec_node_t node = NODE;
  node.cluster_dns = NULL;
  pod = pod_with("{'containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &node, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_NULL(sb.dns_config);
  cJSON_Delete(pod);

  /* too many search domains: cut to 32 */
  char spec[4096] = "{'dnsPolicy':'None','dnsConfig':{'searches':[";
  for (int i = 0; i < 40; i++) {
    size_t n = strlen(spec);
    snprintf(spec + n, sizeof(spec) - n, "%s'd%d.example'", i ? "," : "", i);
  }
  size_t sl = strlen(spec);
  snprintf(spec + sl, sizeof(spec) - sl, "]},'containers':[{'name':'c'}]}");
  pod = pod_with(spec);
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_INT(sb.dns_config->searches.n, 32);
  ASSERT_EQ_STR(sb.dns_config->searches.v[31], "d31.example");
  cJSON_Delete(pod);

  pod = pod_with("{'dnsPolicy':'Bogus','containers':[{'name':'c'}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), -EINVAL);
  ASSERT_EQ_STR(err, "invalid DNSPolicy=Bogus");
  cJSON_Delete(pod);
  agent_podspec_mem_done(&mem);
}

static void test_sandbox_ports(void) {
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char err[256] = "";
  cJSON *pod = pod_with(
      "{'containers':[{'name':'c','ports':["
      "{'containerPort':8080,'hostPort':80,'protocol':'TCP'},"
      "{'name':'dns','containerPort':53,'hostPort':53,'protocol':'UDP','hostIP':'127.0.0.1'},"
      "{'name':'dns','containerPort':54,'protocol':'UDP'},"
      "{'containerPort':9090}]},"
      "{'name':'d','ports':[{'containerPort':7000,'hostPort':7000,'protocol':'SCTP'}]}],"
      "'initContainers':[{'name':'i','ports':[{'containerPort':1,'hostPort':1}]}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_EQ_INT(sb.n_port_mappings, 4); /* the second "dns" and the init container's are not */
  ASSERT_EQ_INT(sb.port_mappings[0].protocol, CRI_PROTO_TCP);
  ASSERT_EQ_INT(sb.port_mappings[0].container_port, 8080);
  ASSERT_EQ_INT(sb.port_mappings[0].host_port, 80);
  ASSERT_EQ_INT(sb.port_mappings[1].protocol, CRI_PROTO_UDP);
  ASSERT_EQ_STR(sb.port_mappings[1].host_ip, "127.0.0.1");
  ASSERT_EQ_INT(sb.port_mappings[2].container_port, 9090);
  ASSERT_EQ_INT(sb.port_mappings[2].host_port, 0);
  ASSERT_EQ_INT(sb.port_mappings[3].protocol, CRI_PROTO_SCTP);
  cJSON_Delete(pod);
  agent_podspec_mem_done(&mem);
}

static void test_sandbox_security(void) {
  agent_podspec_mem_t mem = {0};
  cri_sandbox_config_t sb;
  char err[256] = "";
  cJSON *pod = pod_with(
      "{'shareProcessNamespace':true,'securityContext':{'runAsUser':1000,'runAsGroup':2000,"
      "'fsGroup':3000,'supplementalGroups':[4000,4001],"
      "'sysctls':[{'name':'net.core.somaxconn','value':'1024'},"
      "{'name':'net/ipv4/conf/eth0.100/forwarding','value':'1'}]},"
      "'containers':[{'name':'c'}],"
      "'initContainers':[{'name':'i','securityContext':{'privileged':true}}]}");
  ASSERT_EQ_INT(agent_podspec_sandbox(pod, 0, &NODE, &mem, &sb, err, sizeof(err)), 0);
  ASSERT_TRUE(sb.lnx.run_as_user.set);
  ASSERT_EQ_INT(sb.lnx.run_as_user.value, 1000);
  ASSERT_TRUE(sb.lnx.run_as_group.set);
  ASSERT_EQ_INT(sb.lnx.run_as_group.value, 2000);
  ASSERT_EQ_INT(sb.lnx.n_supplemental_groups, 3);
  ASSERT_EQ_INT(sb.lnx.supplemental_groups[0], 3000); /* fsGroup first */
  ASSERT_EQ_INT(sb.lnx.supplemental_groups[1], 4000);
  ASSERT_EQ_INT(sb.lnx.supplemental_groups[2], 4001);
  ASSERT_EQ_STR(cri_map_get(sb.lnx.sysctls, "net.core.somaxconn"), "1024");
  ASSERT_EQ_STR(cri_map_get(sb.lnx.sysctls, "net.ipv4.conf.eth0/100.forwarding"), "1");
  ASSERT_TRUE(sb.lnx.privileged);
  ASSERT_EQ_INT(sb.lnx.namespace_options.pid, CRI_NS_POD);
  cJSON_Delete(pod);
  agent_podspec_mem_done(&mem);
}

/* --- container --- */

static int container_of(const cJSON *pod, int init, int i, const cJSON *env, uint32_t attempt,
                        agent_podspec_mem_t *mem, cri_container_config_t *ret, char *err,
                        size_t errlen) {
  const cJSON *c =
      cJSON_GetArrayItem(json_get_path(pod, init ? "spec.initContainers" : "spec.containers"), i);
  return agent_podspec_container(pod, c, attempt, env, &NODE, mem, ret, err, errlen);
}

static void test_container_basic(void) {
  cJSON *pod =
      J("{'metadata':{'name':'web','namespace':'prod','uid':'u-1','deletionGracePeriodSeconds':10},"
        "'spec':{'terminationGracePeriodSeconds':45,'containers':[{'name':'app','image':'busybox:1."
        "36',"
        "'command':['sh','-c','echo $(GREETING) $(NOPE) $$(GREETING)'],'args':['$(WHO)'],"
        "'workingDir':'/w','stdin':true,'stdinOnce':true,'tty':true,"
        "'ports':[{'containerPort':80}],'lifecycle':{'preStop':{'exec':{'command':['stop']}}},"
        "'env':[{'name':'GREETING','value':'hello'},{'name':'WHO','value':'$(GREETING) world'}]}],"
        "'initContainers':[{'name':'init','image':'busybox'}]}}");
  cJSON *env = env_of(pod, NULL);
  agent_podspec_mem_t mem = {0};
  cri_container_config_t cc;
  char err[256] = "", buf[512];
  ASSERT_EQ_INT(container_of(pod, 0, 0, env, 3, &mem, &cc, err, sizeof(err)), 0);
  ASSERT_EQ_STR(cc.metadata.name, "app");
  ASSERT_EQ_INT(cc.metadata.attempt, 3);
  ASSERT_EQ_STR(cc.image, "busybox:1.36");
  ASSERT_EQ_STR(strv_join(cc.command, buf, sizeof(buf)), "sh|-c|echo hello $(NOPE) $(GREETING)");
  ASSERT_EQ_STR(strv_join(cc.args, buf, sizeof(buf)), "hello world");
  ASSERT_EQ_STR(cc.working_dir, "/w");
  ASSERT_EQ_INT(cc.n_envs, 2);
  ASSERT_EQ_STR(cc.envs[0].key, "GREETING");
  ASSERT_EQ_STR(cc.envs[1].value, "hello world");
  ASSERT_EQ_STR(cc.log_path, "app/3.log");
  ASSERT_TRUE(cc.stdin_ && cc.stdin_once && cc.tty);
  ASSERT_EQ_STR(cri_map_get(cc.labels, AGENT_LABEL_CONTAINER_NAME), "app");
  ASSERT_EQ_STR(cri_map_get(cc.labels, AGENT_LABEL_POD_NAME), "web");
  ASSERT_EQ_STR(cri_map_get(cc.labels, AGENT_LABEL_POD_NAMESPACE), "prod");
  ASSERT_EQ_STR(cri_map_get(cc.labels, AGENT_LABEL_POD_UID), "u-1");
  ASSERT_EQ_STR(cri_map_get(cc.labels, AGENT_LABEL_MANAGED), "true");
  ASSERT_NULL(cri_map_get(cc.labels, AGENT_LABEL_INIT));
  ASSERT_EQ_STR(cri_map_get(cc.annotations, "io.kubernetes.container.restartCount"), "3");
  ASSERT_EQ_STR(cri_map_get(cc.annotations, "io.kubernetes.container.terminationMessagePath"),
                "/dev/termination-log");
  ASSERT_EQ_STR(cri_map_get(cc.annotations, "io.kubernetes.pod.terminationGracePeriod"), "45");
  ASSERT_EQ_STR(cri_map_get(cc.annotations, "io.kubernetes.pod.deletionGracePeriod"), "10");
  ASSERT_EQ_STR(cri_map_get(cc.annotations, "io.kubernetes.container.preStopHandler"),
                "{\"exec\":{\"command\":[\"stop\"]}}");
  ASSERT_EQ_STR(cri_map_get(cc.annotations, "io.kubernetes.container.ports"),
                "[{\"containerPort\":80}]");
  ASSERT_EQ_INT(cc.lnx.namespace_options.pid, CRI_NS_CONTAINER);
  ASSERT_EQ_INT(cc.lnx.masked_paths.n, 11);
  ASSERT_EQ_INT(cc.lnx.readonly_paths.n, 5);

  cJSON *empty = cJSON_CreateArray();
  ASSERT_EQ_INT(container_of(pod, 1, 0, empty, 0, &mem, &cc, err, sizeof(err)), 0);
  ASSERT_EQ_STR(cri_map_get(cc.labels, AGENT_LABEL_INIT), "true");
  ASSERT_EQ_STR(cc.log_path, "init/0.log");
  ASSERT_EQ_INT(cc.n_envs, 0);
  cJSON_Delete(empty);
  agent_podspec_mem_done(&mem);
  cJSON_Delete(env);
  cJSON_Delete(pod);
}

static const cri_resources_t *res_of(const char *spec, int init, int i, agent_podspec_mem_t *mem) {
  cJSON *pod = pod_with(spec);
  cri_container_config_t cc;
  char err[256] = "";
  int rc = container_of(pod, init, i, NULL, 0, mem, &cc, err, 256);
  cJSON_Delete(pod);
  if (rc != 0)
    TEST_FAIL("container: %d %s", rc, err);
  return cc.lnx.resources;
}

static void test_container_resources(void) {
  agent_podspec_mem_t mem = {0};
  /* Burstable: shares from the request, quota from the limit */
  const cri_resources_t *r =
      res_of("{'containers':[{'name':'c','resources':{'requests':{'cpu':'250m','memory':'1Gi'},"
             "'limits':{'cpu':'500m','memory':'2Gi'}}}]}",
             0, 0, &mem);
  ASSERT_NOT_NULL(r);
  ASSERT_EQ_INT(r->cpu_shares, 256);
  ASSERT_EQ_INT(r->cpu_period, 100000);
  ASSERT_EQ_INT(r->cpu_quota, 50000);
  ASSERT_EQ_INT(r->memory_limit_in_bytes, 2LL << 30);
  ASSERT_EQ_INT(r->oom_score_adj, 750); /* 1000 - 1000 * 1Gi / 4Gi */

  /* BestEffort: minimum shares, no quota, no memory limit */
  r = res_of("{'containers':[{'name':'c'}]}", 0, 0, &mem);
  ASSERT_EQ_INT(r->cpu_shares, 2);
  ASSERT_EQ_INT(r->cpu_quota, 0);
  ASSERT_EQ_INT(r->cpu_period, 100000);
  ASSERT_EQ_INT(r->memory_limit_in_bytes, 0);
  ASSERT_EQ_INT(r->oom_score_adj, 1000);

  /* Guaranteed by limits alone: the limit is the request */
  r = res_of("{'containers':[{'name':'c','resources':{'limits':{'cpu':'2','memory':'64Mi'}}}]}", 0,
             0, &mem);
  ASSERT_EQ_INT(r->cpu_shares, 2048);
  ASSERT_EQ_INT(r->cpu_quota, 200000);
  ASSERT_EQ_INT(r->memory_limit_in_bytes, 64LL << 20);
  ASSERT_EQ_INT(r->oom_score_adj, -997);

  /* tiny values: shares at least 2, quota at least 1000 */
  r = res_of(
      "{'containers':[{'name':'c','resources':{'requests':{'cpu':'1m'},'limits':{'cpu':'1m'}}}]}",
      0, 0, &mem);
  ASSERT_EQ_INT(r->cpu_shares, 2);
  ASSERT_EQ_INT(r->cpu_quota, 1000);
  ASSERT_EQ_INT(r->oom_score_adj, 999); /* Burstable without a memory request */

  /* a memory request at or above capacity: 3, never Guaranteed's score */
  r = res_of("{'containers':[{'name':'c','resources':{'requests':{'memory':'8Gi'}}}]}", 0, 0, &mem);
  ASSERT_EQ_INT(r->oom_score_adj, 3);
  r = res_of("{'containers':[{'name':'c','resources':{'requests':{'memory':'1Mi','cpu':'10'}}}]}",
             0, 0, &mem);
  ASSERT_EQ_INT(r->oom_score_adj, 999); /* 1000 - 0 (integer division): one below BestEffort */
  agent_podspec_mem_done(&mem);
}

static void test_container_oom_special(void) {
  agent_podspec_mem_t mem = {0};
  /* system-node-critical pods are protected like Guaranteed ones */
  const cri_resources_t *r = res_of(
      "{'priorityClassName':'system-node-critical','containers':[{'name':'c'}]}", 0, 0, &mem);
  ASSERT_EQ_INT(r->oom_score_adj, -997);
  /* a sidecar (restartable init container) scores no higher than the
   * regular container with the smallest memory request */
  const char *spec = "{'containers':[{'name':'a','resources':{'requests':{'memory':'2Gi'}}},"
                     "{'name':'b','resources':{'requests':{'memory':'1Gi'}}}],"
                     "'initContainers':[{'name':'side','restartPolicy':'Always'},{'name':'once'}]}";
  r = res_of(spec, 1, 0, &mem);
  ASSERT_EQ_INT(r->oom_score_adj, 750);
  r = res_of(spec, 1, 1, &mem);
  ASSERT_EQ_INT(r->oom_score_adj, 999);
  r = res_of(spec, 0, 0, &mem);
  ASSERT_EQ_INT(r->oom_score_adj, 500);
  agent_podspec_mem_done(&mem);
}

static void test_container_security(void) {
  cJSON *pod = pod_with(
      "{'securityContext':{'runAsUser':1000,'runAsGroup':1000,'fsGroup':5,"
      "'supplementalGroups':[6]},'containers':[{'name':'c','securityContext':{"
      "'runAsUser':2000,'privileged':true,'readOnlyRootFilesystem':true,"
      "'allowPrivilegeEscalation':false,"
      "'capabilities':{'add':['NET_ADMIN','SYS_TIME'],'drop':['ALL']}}},"
      "{'name':'d','securityContext':{'allowPrivilegeEscalation':true,'procMount':'Unmasked'}}]}");
  agent_podspec_mem_t mem = {0};
  cri_container_config_t cc;
  char err[256] = "", buf[256];
  ASSERT_EQ_INT(container_of(pod, 0, 0, NULL, 0, &mem, &cc, err, sizeof(err)), 0);
  ASSERT_EQ_STR(strv_join(cc.lnx.add_capabilities, buf, sizeof(buf)), "NET_ADMIN|SYS_TIME");
  ASSERT_EQ_STR(strv_join(cc.lnx.drop_capabilities, buf, sizeof(buf)), "ALL");
  ASSERT_TRUE(cc.lnx.privileged);
  ASSERT_TRUE(cc.lnx.readonly_rootfs);
  ASSERT_TRUE(cc.lnx.no_new_privs);
  ASSERT_TRUE(cc.lnx.run_as_user.set);
  ASSERT_EQ_INT(cc.lnx.run_as_user.value, 2000); /* the container's over the pod's */
  ASSERT_EQ_INT(cc.lnx.run_as_group.value, 1000);
  ASSERT_EQ_INT(cc.lnx.n_supplemental_groups, 2);
  ASSERT_EQ_INT(cc.lnx.supplemental_groups[0], 5);
  ASSERT_EQ_INT(cc.lnx.supplemental_groups[1], 6);
  ASSERT_EQ_INT(container_of(pod, 0, 1, NULL, 0, &mem, &cc, err, sizeof(err)), 0);
  ASSERT_FALSE(cc.lnx.privileged);
  ASSERT_FALSE(cc.lnx.no_new_privs);
  ASSERT_EQ_INT(cc.lnx.run_as_user.value, 1000);
  ASSERT_EQ_INT(cc.lnx.masked_paths.n, 0);
  cJSON_Delete(pod);

  pod = pod_with("{'securityContext':{'runAsNonRoot':true},'containers':[{'name':'c',"
                 "'securityContext':{'runAsUser':0}}]}");
  size_t before = mem._n;
  ASSERT_EQ_INT(container_of(pod, 0, 0, NULL, 0, &mem, &cc, err, sizeof(err)), -EINVAL);
  ASSERT_CONTAINS(err, "container's runAsUser breaks non-root policy");
  ASSERT_EQ_INT(mem._n, before);
  cJSON_Delete(pod);
  agent_podspec_mem_done(&mem);
}

static void test_container_mounts(void) {
  cJSON *pod = pod_with(
      "{'volumes':[{'name':'scratch','emptyDir':{}},{'name':'bare'},"
      "{'name':'logs','hostPath':{'path':'/var/log','type':'Directory'}},"
      "{'name':'cfg','configMap':{'name':'cm'}},{'name':'mem','emptyDir':{'medium':'Memory'}}],"
      "'containers':[{'name':'c','env':[{'name':'SUB','value':'x'}],'volumeMounts':["
      "{'name':'scratch','mountPath':'/scratch'},"
      "{'name':'bare','mountPath':'/bare'},"
      "{'name':'logs','mountPath':'/host/"
      "log','readOnly':true,'mountPropagation':'HostToContainer'},"
      "{'name':'logs','mountPath':'/host/app','subPath':'app/x'},"
      "{'name':'scratch','mountPath':'/expr','subPathExpr':'d-$(SUB)'},"
      "{'name':'mem','mountPath':'/mem','mountPropagation':'Bidirectional'}]}]}");
  cJSON *env = env_of(pod, NULL);
  agent_podspec_mem_t mem = {0};
  cri_container_config_t cc;
  char err[256] = "";
  ASSERT_EQ_INT(container_of(pod, 0, 0, env, 0, &mem, &cc, err, sizeof(err)), 0);
  ASSERT_EQ_INT(cc.n_mounts, 6);
  ASSERT_EQ_STR(cc.mounts[0].container_path, "/scratch");
  ASSERT_EQ_STR(cc.mounts[0].host_path,
                "/var/lib/k3c/agent/pods/u-1/volumes/kubernetes.io~empty-dir/scratch");
  ASSERT_FALSE(cc.mounts[0].readonly);
  ASSERT_EQ_INT(cc.mounts[0].propagation, CRI_PROPAGATION_PRIVATE);
  ASSERT_EQ_STR(cc.mounts[1].host_path,
                "/var/lib/k3c/agent/pods/u-1/volumes/kubernetes.io~empty-dir/bare");
  ASSERT_EQ_STR(cc.mounts[2].host_path, "/var/log");
  ASSERT_TRUE(cc.mounts[2].readonly);
  ASSERT_EQ_INT(cc.mounts[2].propagation, CRI_PROPAGATION_HOST_TO_CONTAINER);
  ASSERT_EQ_STR(cc.mounts[3].host_path, "/var/log/app/x");
  ASSERT_EQ_STR(cc.mounts[4].host_path,
                "/var/lib/k3c/agent/pods/u-1/volumes/kubernetes.io~empty-dir/scratch/d-x");
  ASSERT_EQ_INT(cc.mounts[5].propagation, CRI_PROPAGATION_BIDIRECTIONAL);

  static const struct {
    const char *mount;
    int rc;
    const char *msg;
  } bad[] = {
      {"{'name':'nope','mountPath':'/x'}", -EINVAL, "volume \"nope\" not found"},
      {"{'name':'claim','mountPath':'/x'}", -ENOTSUP,
       "volume type persistentVolumeClaim of \"claim\" is not supported yet"},
      {"{'name':'logs','mountPath':'/x','subPath':'a/../../etc'}", -EINVAL,
       "unable to provision SubPath `a/../../etc`: must not contain '..'"},
      {"{'name':'logs','mountPath':'/x','subPath':'/etc'}", -EINVAL,
       "error SubPath `/etc` must not be an absolute path"},
      {"{'name':'logs','mountPath':'/x','subPathExpr':'$(NOPE)/$(EMPTY)/$(HERE)/$(NOPE)'}", -EINVAL,
       "missing value for EMPTY, NOPE"},
      {"{'name':'logs','mountPath':'/x','subPathExpr':'$(HERE)/..'}", -EINVAL,
       "unable to provision SubPath `h/..`: must not contain '..'"},
      {"{'name':'logs'}", -EINVAL, "a volumeMount of container c needs a name and a mountPath"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char spec[1024];
    snprintf(spec, sizeof(spec),
             "{'volumes':[{'name':'logs','hostPath':{'path':'/var/"
             "log'}},{'name':'cfg','configMap':{'name':'cm'}},"
             "{'name':'claim','persistentVolumeClaim':{'claimName':'data'}}],"
             "'containers':[{'name':'c','volumeMounts':[%s]}]}",
             bad[i].mount);
    cJSON *p = pod_with(spec);
    size_t before = mem._n;
    err[0] = '\0';
    cJSON *e = J("[{'name':'EMPTY','value':''},{'name':'HERE','value':'h'}]");
    int rc = container_of(p, 0, 0, e, 0, &mem, &cc, err, sizeof(err));
    cJSON_Delete(e);
    cJSON_Delete(p);
    if (rc != bad[i].rc || strcmp(err, bad[i].msg))
      TEST_FAIL("case %zu: got %d \"%s\", want %d \"%s\"", i, rc, err, bad[i].rc, bad[i].msg);
    ASSERT_EQ_INT(mem._n, before);
  }
  agent_podspec_mem_done(&mem);
  cJSON_Delete(env);
  cJSON_Delete(pod);
}

static void test_dirs(void) {
  cJSON *pod = pod_with(
      "{'volumes':[{'name':'scratch','emptyDir':{}},"
      "{'name':'h1','hostPath':{'path':'/srv/data','type':'DirectoryOrCreate'}},"
      "{'name':'h2','hostPath':{'path':'/srv/other'}},{'name':'cfg','configMap':{'name':'x'}}],"
      "'initContainers':[{'name':'i'}],'containers':[{'name':'a','volumeMounts':["
      "{'name':'scratch','mountPath':'/s','subPath':'sub/dir'},"
      "{'name':'h2','mountPath':'/o','subPath':'x'},"
      "{'name':'h2','mountPath':'/bad','subPath':'../x'},"
      "{'name':'cfg','mountPath':'/c','subPath':'x'}]},{'name':'b'}]}");
  cJSON *dirs = agent_podspec_dirs(pod, &NODE);
  char *s = cJSON_PrintUnformatted(dirs);
  ASSERT_EQ_STR(s,
                "[\"/var/log/pods/prod_web_u-1\",\"/var/log/pods/prod_web_u-1/i\","
                "\"/var/log/pods/prod_web_u-1/a\",\"/var/log/pods/prod_web_u-1/b\","
                "\"/var/lib/k3c/agent/pods/u-1\","
                "\"/var/lib/k3c/agent/pods/u-1/volumes/kubernetes.io~empty-dir/scratch\","
                "\"/srv/data\"]"); /* subPaths: agent/subpath.h, when the container is made */
  free(s);
  cJSON_Delete(dirs);
  cJSON_Delete(pod);
}

static void test_grace_seconds(void) {
  static const struct {
    const char *json;
    int64_t want;
  } cases[] = {
      {"{'spec':{}}", 30},
      {"{'spec':{'terminationGracePeriodSeconds':5}}", 5},
      {"{'spec':{'terminationGracePeriodSeconds':0}}", 0},
      {"{'metadata':{'deletionGracePeriodSeconds':2},'spec':{'terminationGracePeriodSeconds':60}}",
       2},
      {"{'metadata':{'deletionGracePeriodSeconds':90}}", 90},
      {"{'spec':{'terminationGracePeriodSeconds':-4}}", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *pod = J(cases[i].json);
    int64_t got = agent_podspec_grace_seconds(pod);
    cJSON_Delete(pod);
    if (got != cases[i].want)
      TEST_FAIL("case %zu: got %lld, want %lld", i, (long long)got, (long long)cases[i].want);
  }
}

static void test_mem_done_null(void) {
  agent_podspec_mem_done(NULL);
  agent_podspec_mem_t mem = {0};
  agent_podspec_mem_done(&mem);
  agent_podspec_mem_done(&mem);
}

TEST_LIST = {
    TEST(test_qos),
    TEST(test_ref_names),
    TEST(test_env_order),
    TEST(test_env_expansion),
    TEST(test_env_master_service),
    TEST(test_env_field_ref),
    TEST(test_env_resource_ref),
    TEST(test_env_key_refs),
    TEST(test_env_from),
    TEST(test_sandbox_basic),
    TEST(test_sandbox_hostname),
    TEST(test_sandbox_host_network),
    TEST(test_sandbox_dns),
    TEST(test_sandbox_ports),
    TEST(test_sandbox_security),
    TEST(test_container_basic),
    TEST(test_container_resources),
    TEST(test_container_oom_special),
    TEST(test_container_security),
    TEST(test_container_mounts),
    TEST(test_dirs),
    TEST(test_grace_seconds),
    TEST(test_mem_done_null),
    {0},
};

TEST_MAIN()
