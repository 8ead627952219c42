/* Registry mirrors and credentials for the node agent's containerd, from a
 * file in k3s's registries.yaml format (k3s docs "Private Registry
 * Configuration"):
 *
 *   mirrors:                      # registry name ("*": every registry) ->
 *     docker.io:
 *       endpoint: ["https://mirror.example:5000"]
 *       rewrite: {"^library/(.*)": "mirrored/$1"}
 *   configs:                      # registry host (of an endpoint) ->
 *     "mirror.example:5000":
 *       auth: {username, password, auth, identitytoken}
 *       tls: {cert_file, key_file, ca_file, insecure_skip_verify}
 *
 * Rendered as containerd 1.6's CRI registry.mirrors / registry.configs
 * tables (config version 2), the one form of 1.6 that carries credentials
 * (hosts.toml has no auth) and the "*" default mirror. Pure functions; any
 * thread. */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util/buf.h"

#define AGENT_REGISTRIES_FILE_MAX (1024 * 1024)

/* Parse and check registries.yaml text. file names the source in errors.
 * Unknown keys, values of the wrong type (a number or bool where a string
 * belongs: quote it), endpoints that are not http(s) URLs and rewrite
 * patterns that are not valid RE2 regexps fail with -EINVAL and a reason
 * naming the file and the key ("FILE: mirrors.\"docker.io\": unknown key
 * \"endpoints\""). An empty file is an empty configuration.
 * On success *ret_reg is the normalised document (caller frees with
 * cJSON_Delete): an object with "mirrors" and "configs" objects (both
 * always present), null values dropped, each mirror with an "endpoint"
 * array (an endpoint without a scheme is kept so: containerd gives it
 * http for localhost and loopback addresses, else https) and, if given, a
 * "rewrite" object. */
int agent_registries_parse(const char *text, size_t len, const char *file, cJSON **ret_reg,
                           char *err, size_t errlen);

/* agent_registries_parse of a file's contents (at most
 * AGENT_REGISTRIES_FILE_MAX bytes). A missing file is -ENOENT with a
 * reason, as is any other read error. */
int agent_registries_load(const char *path, cJSON **ret_reg, char *err, size_t errlen);

/* Append reg (from agent_registries_parse) to out as containerd 1.6
 * config-version-2 TOML tables under plugins."io.containerd.grpc.v1.cri".
 * registry. Rewrites are not rendered: containerd 1.6 has none (k3s
 * patches its containerd for them); see agent_registries_rewrites.
 * Returns 0 or -E2BIG from out's limit. */
int agent_registries_toml(const cJSON *reg, buf_t *out);

/* How many rewrite rules reg holds (all of them are ignored by
 * containerd 1.6; the caller warns). */
size_t agent_registries_rewrites(const cJSON *reg);
