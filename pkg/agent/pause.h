/* k3c's own pause image: the sandbox (infrastructure) container of every
 * pod runs `k3c pause`, so a node needs no registry for it. */
#pragma once

#include <stddef.h>

/* The sandbox entrypoint (`k3c pause`): sleep until SIGTERM or SIGINT,
 * reaping every child meanwhile (it is PID 1 of the pod's namespaces), then
 * exit 0. Does not return. */
_Noreturn void agent_pause_main(void);

/* `k3c pause [--write-image FILE]`: without arguments agent_pause_main;
 * with --write-image, write the pause image of this binary to FILE and
 * print its name. argv[0] is the first argument after "pause". Returns
 * the exit status. */
int agent_pause_cli(int argc, char **argv);

#define AGENT_PAUSE_NAME_MAX 64

/* Write an OCI image-layout tarball to path (atomically) holding one image
 * whose single layer is this process's binary (k3c) as /pause (with, for a dynamically
 * linked build, the shared libraries it has mapped, at their paths) and
 * whose entrypoint is `/pause pause`. The layer is deterministic, so the
 * name, "localhost/k3c/pause:<12 hex of the layer digest>", changes only
 * with the binary. Writes the name to ret_name (AGENT_PAUSE_NAME_MAX).
 * Returns 0 or a negative errno with a reason in err. Any thread. */
int agent_pause_image_write(const char *path, char *ret_name, char *err, size_t errlen);
