/* containerd supervision for the node agent: write its config, start it as
 * a child, wait for its socket, restart it when it dies (after the old
 * process has exited, so the new one does not wait on the bolt lock), and
 * tell the owner when it comes up or goes down (the owner reconnects its
 * CRI client). docs/CRI.md describes the files and the restart rules.
 *
 * Runs on the default libev loop (child watchers exist only there); call
 * everything from that loop's thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ev_loop;

typedef struct {
  const char *data_dir;       /* required: config and state under <data_dir>/agent */
  const char *containerd_bin; /* NULL: "containerd" from PATH */
  const char *runc_bin;       /* NULL: /usr/sbin/runc, else "runc" from PATH */
  const char *sandbox_image;  /* required: the pause image's name */
  const char *cni_bin_dir;    /* NULL: /opt/cni/bin (containerd's default) */
  const char *cni_conf_dir;   /* NULL: <data_dir>/agent/etc/cni/net.d */
  const char *snapshotter;    /* NULL: overlayfs where it works, else native */
  int stream_port;            /* CRI streaming server port on 127.0.0.1; 0: any free */
  int restrict_oom_score_adj; /* -1: when this process lacks CAP_SYS_RESOURCE; 0/1 */
  const char *registries_file; /* NULL: none; else k3s's registries.yaml (registries.h) */
} agent_containerd_opts_t;

typedef struct agent_containerd agent_containerd_t;

/* up: CRI answers on the socket (true), or the process died (false). */
typedef void (*agent_containerd_cb)(void *data, bool up);

/* Write <data_dir>/agent/etc/containerd/config.toml atomically for opts
 * (the directories it names are created), with the CRI registry tables of
 * opts->registries_file when set (a file that is missing or does not
 * parse fails, err naming the file and the reason). Returns 0 or a
 * negative errno with a reason in err. Pure but for the files; any
 * thread. */
int agent_containerd_config_write(const agent_containerd_opts_t *opts, char *err, size_t errlen);

/* The paths a config for opts uses; each written into a caller buffer of
 * PATH_MAX bytes. */
void agent_containerd_paths(const agent_containerd_opts_t *opts, char *ret_config,
                            char *ret_socket);

/* Write the config, end a containerd of an earlier run of this data dir
 * (from its pid file, after checking /proc that it is that containerd),
 * start containerd and supervise it. cb runs on the loop for each change.
 * opts' strings are copied. Returns 0 and *ret, or a negative errno with a
 * reason in err. */
int agent_containerd_start(struct ev_loop *loop, const agent_containerd_opts_t *opts,
                           agent_containerd_cb cb, void *data, agent_containerd_t **ret,
                           char *err, size_t errlen);

/* Stop supervising: SIGTERM containerd, wait up to timeout_s for it to exit,
 * then SIGKILL and reap it; free s. Blocks the loop for at most timeout_s.
 * Containers keep running (their shims are not containerd's children).
 * Accepts NULL. */
void agent_containerd_stop(agent_containerd_t *s, int timeout_s);

const char *agent_containerd_socket(const agent_containerd_t *s);
/* The running containerd's pid, or 0 between a death and its restart. */
pid_t agent_containerd_pid(const agent_containerd_t *s);
/* How many times containerd was started (1 after the first start). */
unsigned agent_containerd_starts(const agent_containerd_t *s);
bool agent_containerd_is_up(const agent_containerd_t *s);
