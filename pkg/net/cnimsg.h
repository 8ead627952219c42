/* pkg/net cnimsg: the messages of k3c's built-in CNI plugin, without any
 * side effect: the request read from the CNI_* environment and the network
 * config on stdin, and the result, error and version JSON printed on
 * stdout, as the CNI specification has them (1.0.0, also 0.3.0, 0.3.1 and
 * 0.4.0 configs: https://github.com/containernetworking/cni/blob/main/SPEC.md).
 * The plugin itself (what ADD, DEL and CHECK do) is cniplugin.h. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The well-known error codes of the spec ("Error" section). */
enum {
  NET_CNI_E_VERSION = 1,   /* incompatible CNI version */
  NET_CNI_E_FIELD = 2,     /* unsupported field in the network config */
  NET_CNI_E_UNKNOWN = 3,   /* container unknown or does not exist */
  NET_CNI_E_ENV = 4,       /* invalid necessary environment variables */
  NET_CNI_E_IO = 5,        /* I/O failure */
  NET_CNI_E_DECODE = 6,    /* failed to decode content */
  NET_CNI_E_CONFIG = 7,    /* invalid network config */
  NET_CNI_E_TRY_AGAIN = 11 /* try again later */
};

typedef enum { NET_CNI_ADD, NET_CNI_DEL, NET_CNI_CHECK, NET_CNI_VERSION } net_cni_cmd_t;

/* An error for the caller to print (net_cni_error_json). */
typedef struct {
  int code;
  char msg[128];
  char details[768];
} net_cni_err_t;

/* Set e (always returns -EINVAL, for `return net_cni_fail(...)`). */
int net_cni_fail(net_cni_err_t *e, int code, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The CNI_* variables the runtime passes (NULL where unset). */
typedef struct {
  const char *command, *container_id, *netns, *ifname, *args, *path;
} net_cni_env_t;

#define NET_CNI_PORTS_MAX 64

/* One entry of runtimeConfig.portMappings (the portMappings capability). */
typedef struct {
  uint16_t host_port, container_port;
  uint8_t proto;           /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
  struct in_addr host_ip;  /* 0.0.0.0: every local address */
} net_cni_port_t;

typedef struct {
  net_cni_cmd_t cmd;
  char version[16]; /* the config's cniVersion ("" for VERSION without one) */
  char name[64];    /* network name */
  char type[32];    /* "k3c-cni" (the bridge) or "loopback" */
  char container_id[256];
  char netns[512];  /* "" when DEL has none */
  char ifname[16];
  /* type k3c-cni */
  char bridge[16];
  int mtu; /* 0: the kernel's default */
  struct in_addr subnet, gateway;
  int prefix;
  char data_dir[512]; /* the IPAM's state */
  net_cni_port_t ports[NET_CNI_PORTS_MAX];
  size_t nports;
  /* CHECK (and DEL when given): the address of prevResult's first IPv4
   * entry; 0 when there was none */
  struct in_addr prev_addr;
  int prev_prefix;
} net_cni_req_t;

/* Read the request: env and the network config (conf, conflen bytes,
 * need not be NUL-terminated). Returns 0 with ret filled, or -EINVAL with
 * e set (code 4 for the environment, 6 for JSON that does not parse, 1 for
 * a cniVersion not supported or too old for CHECK, 7 for a config that is
 * not usable, 2 for a field of the wrong kind); then only ret->version is
 * written: the version to answer the error in ("" when the config had
 * none this plugin speaks). VERSION needs no config. */
int net_cni_parse(const net_cni_env_t *env, const char *conf, size_t conflen,
                  net_cni_req_t *ret, net_cni_err_t *e);

/* True for the versions this plugin speaks. */
bool net_cni_version_supported(const char *v);

/* An interface of a result. sandbox: "" for host interfaces. */
typedef struct {
  char name[16];
  char mac[18]; /* aa:bb:cc:dd:ee:ff, "" if none */
  const char *sandbox;
} net_cni_iface_t;

/* An ADD result: interfaces, one IPv4 address on interfaces[ip_iface]
 * (none when addr is 0), a default route via gateway (none when 0). */
typedef struct {
  net_cni_iface_t ifaces[3];
  size_t nifaces;
  struct in_addr addr, gateway;
  int prefix;
  int ip_iface;
} net_cni_result_t;

/* The JSON texts for stdout, for the request's version (version "" is
 * "1.0.0"); versions before 1.0.0 get ips[].version "4". Caller frees
 * with free(). Never NULL (out of memory aborts). */
char *net_cni_result_json(const char *version, const net_cni_result_t *r);
char *net_cni_error_json(const char *version, const net_cni_err_t *e);
char *net_cni_version_json(void);

/* A port mapping list as text and back, to keep with an address lease:
 * "tcp/8080/80/0.0.0.0 udp/53/53/127.0.0.1". parse: -EINVAL on text
 * this did not write; at most max entries. */
void net_cni_ports_format(const net_cni_port_t *p, size_t n, char *out, size_t outlen);
int net_cni_ports_parse(const char *s, net_cni_port_t *out, size_t max, size_t *ret_n);
