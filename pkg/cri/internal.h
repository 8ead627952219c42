/* pkg/cri internals shared by its files: the gRPC call layer (grpc.c), the
 * response arena (arena.c) and message helpers (msg.c). Not for use
 * outside pkg/cri. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cri/cri.h"
#include "proto/proto.h"

/* --- arena: every decoded response lives in one, freed after its callback --- */

typedef struct cri__arena_chunk cri__arena_chunk_t;
typedef struct {
  cri__arena_chunk_t *head;
} cri__arena_t;

/* Zeroed, 16-byte aligned memory that lives until cri__arena_done. */
void *cri__arena_alloc(cri__arena_t *a, size_t n);
/* A NUL-terminated copy of p[0..n). */
char *cri__arena_strn(cri__arena_t *a, const void *p, size_t n);
void cri__arena_done(cri__arena_t *a);

/* --- gRPC calls --- */

/* One response message (its bytes, without the 5-byte gRPC prefix). */
typedef struct {
  const uint8_t *data;
  size_t len;
} cri__msg_t;

/* A call's result: msgs are valid during the callback only; n is 0 unless
 * st->code is CRI_OK. */
typedef void (*cri__reply_cb)(void *data, const cri_status_t *st, const cri__msg_t *msgs,
                              size_t n);

/* Produce more of a streaming request body: write up to len bytes of
 * framed gRPC messages into buf. Returns the count (> 0), 0 at the end of
 * the body, or a negative errno (the call fails with CRI_INTERNAL). Called
 * from the loop whenever the connection can take more. */
typedef ssize_t (*cri__pull_cb)(void *data, uint8_t *buf, size_t len);

typedef struct {
  const char *path;       /* "/runtime.v1.RuntimeService/Version" */
  const char *ns;         /* containerd-namespace metadata, or NULL */
  const char *lease;      /* containerd-lease metadata, or NULL */
  int64_t timeout_ms;     /* 0: the client's default; < 0: no deadline */
  size_t max_msgs;        /* response messages accepted; 0 means 1 (unary) */
} cri__call_opts_t;

/* Start a unary-request call whose request message is req's bytes (framed
 * here). Returns 0 (cb runs exactly once, later) or -E2BIG/-errno (cb
 * never runs). req may be freed when this returns. */
int cri__call(cri_client_t *c, const cri__call_opts_t *o, const proto_writer_t *req,
              cri__reply_cb cb, void *data);
/* The same with a streamed request body produced by pull. */
int cri__call_stream(cri_client_t *c, const cri__call_opts_t *o, cri__pull_cb pull,
                     void *pull_data, cri__reply_cb cb, void *data);

/* The client's current default deadline in milliseconds. */
int64_t cri__timeout(const cri_client_t *c);

/* The 5-byte gRPC message prefix (uncompressed, big-endian length). */
void cri__frame_prefix(uint8_t out[5], size_t len);

/* --- message helpers (msg.c) --- */

void cri__put_map(proto_writer_t *w, uint32_t num, cri_map_t m);
void cri__put_strv(proto_writer_t *w, uint32_t num, cri_strv_t v);
void cri__put_ns_options(proto_writer_t *w, uint32_t num, const cri_ns_options_t *ns);
void cri__put_opt_int64(proto_writer_t *w, uint32_t num, cri_opt_int64_t v);
void cri__put_int64s(proto_writer_t *w, uint32_t num, const int64_t *v, size_t n);
void cri__put_sandbox_config(proto_writer_t *w, uint32_t num, const cri_sandbox_config_t *cfg);

/* Decoders: 0 or -EBADMSG/-ELOOP; results in the arena. */
int cri__get_str(cri__arena_t *a, const proto_field_t *f, const char **ret);
int cri__get_map(cri__arena_t *a, const proto_reader_t *msg, uint32_t num, cri_map_t *ret);
int cri__get_strv(cri__arena_t *a, const proto_reader_t *msg, uint32_t num, cri_strv_t *ret);
/* Count the fields numbered num in the message msg reads (msg unchanged). */
int cri__count(const proto_reader_t *msg, uint32_t num, size_t *ret_n);
/* One element of a repeated message field into item (of the caller's type). */
typedef int (*cri__item_fn)(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                            void *item);
/* Every repeated field num of the message m holds, each decoded by item
 * into an arena array of elements of size bytes: 0 with *ret_v and
 * *ret_n, or a negative errno for a malformed message. */
int cri__get_repeated(cri__arena_t *a, const cri__msg_t *m, uint32_t num, size_t size,
                      cri__item_fn item, void **ret_v, size_t *ret_n);
int cri__get_sandbox_metadata(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                              cri_sandbox_metadata_t *ret);
int cri__get_container_metadata(cri__arena_t *a, const proto_reader_t *r,
                                const proto_field_t *f, cri_container_metadata_t *md);
int cri__get_ns_options(const proto_reader_t *r, const proto_field_t *f, cri_ns_options_t *ret);
/* The string field 1 of a small message (ImageSpec.image, ...). */
int cri__get_inner_str(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                       uint32_t num, const char **ret);

/* A typed RPC: the request is encoded, the reply decoded by decode (which
 * calls the caller's typed callback) inside an arena freed afterwards. */
typedef void (*cri__fn_t)(void); /* a typed callback, cast back by its decoder */
typedef void (*cri__decode_fn)(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *msg,
                               cri__fn_t cb, void *data);
int cri__rpc(cri_client_t *c, const char *path, int64_t timeout_ms, const proto_writer_t *req,
             cri__decode_fn decode, cri__fn_t cb, void *data);
/* Skip-if-empty writers for proto3 defaults. */
void cri__put_str(proto_writer_t *w, uint32_t num, const char *s);
void cri__put_int(proto_writer_t *w, uint32_t num, int64_t v);
/* Call decode's typed callback with an INTERNAL status for a bad reply. */
extern const cri_status_t cri__bad_reply;
