/* Service ClusterIP and NodePort allocation (ipalloc.c). Loop thread only. */
#pragma once

#include <stddef.h>

#include "api/internal.h"

/* Claim want (an IPv4 string) or, when want is NULL/"", the next free IP of
 * the service range, written to out. Returns 0, -EEXIST (already allocated),
 * -ERANGE (outside the range), -EINVAL (not an IP) or -ENOSPC (range full). */
int api_ipalloc_claim(api_server_t *srv, const char *want, char *out, size_t outlen);
void api_ipalloc_release(api_server_t *srv, const char *addr);
/* Claim a node port (want 0 = any free one). Same errors. */
int api_nodeport_claim(api_server_t *srv, int want, int *ret_port);
void api_nodeport_release(api_server_t *srv, int port);
