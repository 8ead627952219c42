/* One blocking HTTPS POST to an admission webhook: connect, TLS 1.2 with
 * the server's certificate verified against a CA bundle (PEM) and the URL's
 * host, the request, the whole response read (Connection: close), all
 * within a deadline. Pure and thread-safe (its own DRBG per call): webhook.c
 * calls it with the loop lock released (docs/ADMISSION.md). */
#pragma once

#include <stddef.h>

#include "api/internal.h"

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

/* Where a webhook's clientConfig (url, or service: resolved to one of its
 * endpoints, api/svcresolve.h) is called, loop lock held: url gets the
 * address with "?timeout=<timeout>s", shown the URL errors name (the
 * service's DNS name for a service), server_name the name the certificate
 * must be valid for ("" for a url: its host). Returns 0, or a negative errno
 * with why ("failed to call webhook: Post \"...\": no endpoints ..."). url
 * and shown hold len bytes. */
int api__webhook_target(api_server_t *srv, const cJSON *cc, int timeout, char *url, char *shown,
                        size_t len, char server_name[600], char *why, size_t whylen);
