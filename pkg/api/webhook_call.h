/* One blocking HTTPS POST to an admission webhook: connect, TLS 1.2 with
 * the server's certificate verified against a CA bundle (PEM) and the URL's
 * host, the request, the whole response read (Connection: close), all
 * within a deadline. Pure and thread-safe (its own DRBG per call): webhook.c
 * calls it with the loop lock released (docs/ADMISSION.md). */
#pragma once

#include <stddef.h>

typedef struct {
  int code;   /* HTTP status */
  char *body; /* malloc'd, NUL-terminated (chunked coding removed) */
  size_t len;
} api_webhook_resp_t;

/* url: "https://host[:port][/path]". server_name: the name the server's
 * certificate must be valid for (a service's "<name>.<namespace>.svc" when
 * host is one of its endpoints; NULL: the URL's host). ca/ca_len: PEM
 * (NULL: no CA, the call fails verification). Returns 0 with *resp filled (caller frees body), or
 * -ETIMEDOUT when timeout seconds passed, or another negative errno, with
 * err saying what failed in the words of Go's net/http where they exist
 * ("dial tcp 127.0.0.1:1: connect: connection refused",
 * "tls: failed to verify certificate: ..."). */
int api__webhook_post(const char *url, const char *server_name, const unsigned char *ca,
                      size_t ca_len, const char *body, size_t len, double timeout,
                      api_webhook_resp_t *resp, char *err, size_t errlen);
