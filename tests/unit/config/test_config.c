/* Tests for pkg/config/config.c: defaults, file < env < flag precedence,
 * list handling and every kind of bad input. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "test.h"
#include "util/fsutil.h"

static char file_path[256];
static char err[1024];

/* Write a config file and point K3C_CONFIG_FILE at it. */
static void use_file(const char *yaml) {
  snprintf(file_path, sizeof(file_path), "/tmp/k3c-test-config-%d.yaml", (int)getpid());
  ASSERT_EQ_INT(fs_write_atomic(file_path, yaml, strlen(yaml), 0600), 0);
  setenv("K3C_CONFIG_FILE", file_path, 1);
}

static void clean_env(void) {
  unsetenv("K3C_CONFIG_FILE");
  unsetenv("K3C_DATA_DIR");
  unsetenv("K3C_TOKEN");
  unsetenv("K3C_NODE_IP");
  unsetenv("K3C_KUBECONFIG_MODE");
  unsetenv("K3C_DEBUG");
  unsetenv("K3C_URL");
  /* Never read the machine's real /etc/k3c/config.yaml in unit tests. */
  setenv("K3C_CONFIG_FILE", "/dev/null", 1);
}

static int load(k3c_config_t *cfg, config_cmd_t cmd, int argc, char **argv) {
  return config_load(cfg, cmd, argc, argv, err, sizeof(err));
}

static void test_defaults(void) {
  clean_env();
  unsetenv("K3C_CONFIG_FILE"); /* default file may be absent */
  k3c_config_t cfg;
  /* the default file is optional; an explicit missing file is not */
  char *argv[] = {"--config", "/nonexistent-k3c-test/none.yaml"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, argv), -EINVAL);
  ASSERT_CONTAINS(err, "/nonexistent-k3c-test/none.yaml");
  config_done(&cfg);
  setenv("K3C_CONFIG_FILE", "/nonexistent-k3c-test/env.yaml", 1);
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), -EINVAL); /* env-named file missing */
  ASSERT_CONTAINS(err, "config file /nonexistent-k3c-test/env.yaml: No such file");
  config_done(&cfg);
}

static void test_defaults_values(void) {
  clean_env();
  unsetenv("K3C_CONFIG_FILE");
  k3c_config_t cfg;
  char *argv[] = {"--config", "/dev/null"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, argv), 0);
  ASSERT_EQ_STR(cfg.data_dir, "/var/lib/k3c");
  ASSERT_EQ_INT(cfg.https_listen_port, 6443);
  ASSERT_EQ_STR(cfg.write_kubeconfig, "/etc/k3c/k3c.yaml");
  ASSERT_EQ_INT(cfg.write_kubeconfig_mode, 0600);
  ASSERT_FALSE(cfg.disable_agent);
  ASSERT_EQ_STR(cfg.cluster_cidr, "10.42.0.0/16");
  ASSERT_EQ_STR(cfg.service_cidr, "10.43.0.0/16");
  ASSERT_NULL(cfg.token);
  ASSERT_EQ_INT(cfg.tls_san.n, 0);
  config_done(&cfg);
}

static void test_precedence(void) {
  clean_env();
  use_file("data-dir: /from/file\ntoken: filetoken\nhttps-listen-port: 7443\n"
           "write-kubeconfig-mode: \"644\"\ndisable-agent: true\n");
  k3c_config_t cfg;
  /* file only */
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), 0);
  ASSERT_EQ_STR(cfg.data_dir, "/from/file");
  ASSERT_EQ_STR(cfg.token, "filetoken");
  ASSERT_EQ_INT(cfg.https_listen_port, 7443);
  ASSERT_EQ_INT(cfg.write_kubeconfig_mode, 0644);
  ASSERT_TRUE(cfg.disable_agent);
  config_done(&cfg);
  /* env beats file */
  setenv("K3C_DATA_DIR", "/from/env", 1);
  setenv("K3C_TOKEN", "envtoken", 1);
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), 0);
  ASSERT_EQ_STR(cfg.data_dir, "/from/env");
  ASSERT_EQ_STR(cfg.token, "envtoken");
  ASSERT_EQ_INT(cfg.https_listen_port, 7443);
  config_done(&cfg);
  /* flags beat env and file, in both --k=v and --k v forms */
  char *argv[] = {"--data-dir=/from/flag", "-t", "flagtoken", "--https-listen-port", "8443"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 5, argv), 0);
  ASSERT_EQ_STR(cfg.data_dir, "/from/flag");
  ASSERT_EQ_STR(cfg.token, "flagtoken");
  ASSERT_EQ_INT(cfg.https_listen_port, 8443);
  ASSERT_TRUE(cfg.disable_agent);
  config_done(&cfg);
  unlink(file_path);
  clean_env();
}

static void test_config_flag_overrides_env_file(void) {
  clean_env();
  use_file("data-dir: /from/envfile\n");
  char other[300];
  snprintf(other, sizeof(other), "%s.other", file_path);
  const char *yaml = "data-dir: /from/flagfile\n";
  ASSERT_EQ_INT(fs_write_atomic(other, yaml, strlen(yaml), 0600), 0);
  k3c_config_t cfg;
  char *argv[] = {"-c", other};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, argv), 0);
  ASSERT_EQ_STR(cfg.data_dir, "/from/flagfile");
  ASSERT_EQ_STR(cfg.config_file, other);
  config_done(&cfg);
  unlink(other);
  unlink(file_path);
}

static void test_lists(void) {
  clean_env();
  use_file("tls-san:\n  - a.example\n  - 10.0.0.1\nnode-ip: 192.168.1.5\n");
  k3c_config_t cfg;
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), 0);
  ASSERT_EQ_INT(cfg.tls_san.n, 2);
  ASSERT_EQ_STR(cfg.tls_san.v[0], "a.example");
  ASSERT_EQ_STR(cfg.tls_san.v[1], "10.0.0.1");
  ASSERT_NULL(cfg.tls_san.v[2]);
  ASSERT_EQ_INT(cfg.node_ip.n, 1);
  config_done(&cfg);
  /* flags replace the file's list, repeat and split on commas */
  char *argv[] = {"--tls-san", "x.example,y.example", "--tls-san=z.example"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 3, argv), 0);
  ASSERT_EQ_INT(cfg.tls_san.n, 3);
  ASSERT_EQ_STR(cfg.tls_san.v[0], "x.example");
  ASSERT_EQ_STR(cfg.tls_san.v[2], "z.example");
  config_done(&cfg);
  unlink(file_path);
}

static void test_bool_flags(void) {
  clean_env();
  k3c_config_t cfg;
  char *argv[] = {"--disable-agent", "--debug=false"};
  setenv("K3C_DEBUG", "true", 1);
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, argv), 0);
  ASSERT_TRUE(cfg.disable_agent);
  ASSERT_FALSE(cfg.debug);
  config_done(&cfg);
  clean_env();
}

static void expect_error(config_cmd_t cmd, int argc, char **argv, const char *yaml,
                         const char *want) {
  clean_env();
  if (yaml)
    use_file(yaml);
  k3c_config_t cfg;
  int r = load(&cfg, cmd, argc, argv);
  config_done(&cfg);
  if (yaml)
    unlink(file_path);
  if (r != -EINVAL)
    TEST_FAIL("expected -EINVAL for \"%s\", got %d", want, r);
  ASSERT_CONTAINS(err, want);
}

static void test_bad_input(void) {
  char *unknown[] = {"--no-such-flag"};
  expect_error(CONFIG_CMD_SERVER, 1, unknown, NULL, "unknown flag --no-such-flag");
  char *wrongcmd[] = {"--server", "https://x:6443"};
  expect_error(CONFIG_CMD_SERVER, 2, wrongcmd, NULL, "unknown flag --server");
  char *port[] = {"--https-listen-port", "70000"};
  expect_error(CONFIG_CMD_SERVER, 2, port, NULL, "invalid value \"70000\" for https-listen-port");
  char *port2[] = {"--https-listen-port=abc"};
  expect_error(CONFIG_CMD_SERVER, 1, port2, NULL, "expected an integer");
  char *missing[] = {"--data-dir"};
  expect_error(CONFIG_CMD_SERVER, 1, missing, NULL, "flag --data-dir needs a value");
  char *positional[] = {"extra"};
  expect_error(CONFIG_CMD_SERVER, 1, positional, NULL, "unexpected argument \"extra\"");
  char *boolval[] = {"--debug=maybe"};
  expect_error(CONFIG_CMD_SERVER, 1, boolval, NULL, "expected true or false");
  char *mode[] = {"--write-kubeconfig-mode", "0999"};
  expect_error(CONFIG_CMD_SERVER, 2, mode, NULL, "octal file mode");
  expect_error(CONFIG_CMD_SERVER, 0, NULL, "data-dir: /x\nbogus-key: 1\n", "unknown key \"bogus-key\"");
  expect_error(CONFIG_CMD_AGENT, 0, NULL, "disable-agent: true\n", "not valid for this subcommand");
  expect_error(CONFIG_CMD_SERVER, 0, NULL, "data-dir: [unclosed\n", "line ");
  expect_error(CONFIG_CMD_SERVER, 0, NULL, "- just\n- a list\n", "expected a mapping");
  expect_error(CONFIG_CMD_SERVER, 0, NULL, "data-dir:\n  nested: map\n", "data-dir: expected a single value");
  expect_error(CONFIG_CMD_SERVER, 0, NULL, "https-listen-port: 0\n", "invalid value \"0\"");
  setenv("K3C_KUBECONFIG_MODE", "rw", 1);
  k3c_config_t cfg;
  unsetenv("K3C_CONFIG_FILE");
  char *devnull[] = {"--config", "/dev/null"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, devnull), -EINVAL);
  ASSERT_CONTAINS(err, "K3C_KUBECONFIG_MODE");
  config_done(&cfg);
  clean_env();
}

static void test_help_flag(void) {
  clean_env();
  k3c_config_t cfg;
  char *argv[] = {"--help"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_AGENT, 1, argv), -EAGAIN);
  config_done(&cfg);
}

static void test_agent_env(void) {
  clean_env();
  unsetenv("K3C_CONFIG_FILE");
  setenv("K3C_URL", "https://10.0.0.1:6443", 1);
  setenv("K3C_TOKEN", "K10abc::server:secret", 1);
  k3c_config_t cfg;
  char *argv[] = {"--config", "/dev/null"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_AGENT, 2, argv), 0);
  ASSERT_EQ_STR(cfg.server, "https://10.0.0.1:6443");
  ASSERT_EQ_STR(cfg.token, "K10abc::server:secret");
  config_done(&cfg);
  clean_env();
}

static void test_node_options(void) {
  clean_env();
  k3c_config_t cfg;
  char *none[] = {"--config", "/dev/null"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_AGENT, 2, none), 0);
  ASSERT_EQ_INT(cfg.node_label.n, 0);
  ASSERT_EQ_INT(cfg.node_taint.n, 0);
  ASSERT_EQ_STR(cfg.kube_reserved, "");
  ASSERT_EQ_STR(cfg.system_reserved, "");
  ASSERT_EQ_STR(cfg.cgroup_root, "/");
  ASSERT_EQ_STR(cfg.private_registry, "/etc/k3c/registries.yaml");
  config_done(&cfg);
  /* --private-registry: server and agent, file and flag */
  char *reg[] = {"--config", "/dev/null", "--private-registry", "/srv/reg.yaml"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 4, reg), 0);
  ASSERT_EQ_STR(cfg.private_registry, "/srv/reg.yaml");
  config_done(&cfg);
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_AGENT, 4, reg), 0);
  ASSERT_EQ_STR(cfg.private_registry, "/srv/reg.yaml");
  config_done(&cfg);
  use_file("node-label:\n  - zone=a\nnode-taint: dedicated=gpu:NoSchedule\n"
           "kube-reserved: cpu=100m,memory=256Mi\n");
  char *argv[] = {"--node-label", "a=b,c=d", "--node-label=e=f", "--system-reserved",
                  "memory=1Gi", "--cgroup-root", "/k3c"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 7, argv), 0);
  ASSERT_EQ_INT(cfg.node_label.n, 3); /* the flags replace the file's list */
  ASSERT_EQ_STR(cfg.node_label.v[0], "a=b");
  ASSERT_EQ_STR(cfg.node_label.v[2], "e=f");
  ASSERT_EQ_INT(cfg.node_taint.n, 1);
  ASSERT_EQ_STR(cfg.node_taint.v[0], "dedicated=gpu:NoSchedule");
  ASSERT_EQ_STR(cfg.kube_reserved, "cpu=100m,memory=256Mi");
  ASSERT_EQ_STR(cfg.system_reserved, "memory=1Gi");
  ASSERT_EQ_STR(cfg.cgroup_root, "/k3c");
  config_done(&cfg);
  use_file("private-registry: /etc/reg.yaml\n");
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_AGENT, 0, NULL), 0);
  ASSERT_EQ_STR(cfg.private_registry, "/etc/reg.yaml");
  config_done(&cfg);
  unlink(file_path);
  clean_env();
}

/* Leader election: on by default with upstream's 15/10/2 s; durations as
 * seconds or with upstream's "s"; other units refused with the reason. */
static void test_leader_elect(void) {
  clean_env();
  k3c_config_t cfg;
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), 0);
  ASSERT_TRUE(cfg.leader_elect);
  ASSERT_EQ_INT(cfg.leader_elect_lease_duration, 15);
  ASSERT_EQ_INT(cfg.leader_elect_renew_deadline, 10);
  ASSERT_EQ_INT(cfg.leader_elect_retry_period, 2);
  config_done(&cfg);
  char *argv[] = {"--leader-elect=false", "--leader-elect-lease-duration", "30s",
                  "--leader-elect-renew-deadline=20", "--leader-elect-retry-period", "4s"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 6, argv), 0);
  ASSERT_FALSE(cfg.leader_elect);
  ASSERT_EQ_INT(cfg.leader_elect_lease_duration, 30);
  ASSERT_EQ_INT(cfg.leader_elect_renew_deadline, 20);
  ASSERT_EQ_INT(cfg.leader_elect_retry_period, 4);
  config_done(&cfg);
  char *minutes[] = {"--leader-elect-lease-duration", "1m"};
  expect_error(CONFIG_CMD_SERVER, 2, minutes, NULL, "(seconds, such as 15 or 15s)");
  char *bare_s[] = {"--leader-elect-retry-period=s"};
  expect_error(CONFIG_CMD_SERVER, 1, bare_s, NULL, "invalid value \"s\" for leader-elect-retry-period");
  /* a plain integer flag takes no unit */
  char *port[] = {"--https-listen-port", "6443s"};
  expect_error(CONFIG_CMD_SERVER, 2, port, NULL, "invalid value \"6443s\"");
  clean_env();
}

static void test_cluster_dns(void) {
  clean_env();
  k3c_config_t cfg;
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), 0);
  ASSERT_EQ_STR(cfg.cluster_dns, "10.43.0.10");
  ASSERT_EQ_STR(cfg.resolv_conf, "/etc/resolv.conf");
  ASSERT_TRUE(config_cluster_dns_enabled(&cfg));
  config_done(&cfg);
  /* k3s's spellings: --disable coredns, a list item, comma-separated */
  char *a1[] = {"--disable", "coredns"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, a1), 0);
  ASSERT_FALSE(config_cluster_dns_enabled(&cfg));
  config_done(&cfg);
  char *a2[] = {"--disable=traefik,coredns", "--resolv-conf", "/tmp/r.conf"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 3, a2), 0);
  ASSERT_FALSE(config_cluster_dns_enabled(&cfg));
  ASSERT_EQ_STR(cfg.resolv_conf, "/tmp/r.conf");
  config_done(&cfg);
  char *a3[] = {"--disable", "traefik"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, a3), 0);
  ASSERT_TRUE(config_cluster_dns_enabled(&cfg));
  config_done(&cfg);
  char *a4[] = {"--disable", "kube-dns"};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 2, a4), -EINVAL);
  ASSERT_CONTAINS(err, "\"kube-dns\" for disable");
  config_done(&cfg);
  /* an empty --cluster-dns turns it off; agents take the flag too */
  char *a5[] = {"--cluster-dns="};
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_AGENT, 1, a5), 0);
  ASSERT_FALSE(config_cluster_dns_enabled(&cfg));
  config_done(&cfg);
  use_file("disable:\n  - coredns\n");
  ASSERT_EQ_INT(load(&cfg, CONFIG_CMD_SERVER, 0, NULL), 0);
  ASSERT_FALSE(config_cluster_dns_enabled(&cfg));
  config_done(&cfg);
  unlink(file_path);
}

TEST_LIST = {
    TEST(test_leader_elect),
    TEST(test_defaults),       TEST(test_defaults_values), TEST(test_precedence),
    TEST(test_config_flag_overrides_env_file), TEST(test_lists), TEST(test_bool_flags),
    TEST(test_bad_input),      TEST(test_help_flag),       TEST(test_agent_env),
    TEST(test_node_options),   TEST(test_cluster_dns),     {0},
};
TEST_MAIN()
