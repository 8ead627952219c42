/* Go's net error texts, which upstream's messages carry (probe failures,
 * webhook and proxy errors) and which users and clients match on:
 * "dial tcp 10.42.0.5:8080: connect: connection refused". */
#pragma once

#include <stddef.h>

/* What follows "dial tcp HOST:PORT: " when a dial failed with err (a
 * negative errno): "connect: connection refused", "i/o timeout",
 * "connect: no route to host", or "connect: " and the errno's text in
 * lower case as Go writes it. Returns a constant or buf. */
const char *goerr_dial(int err, char *buf, size_t len);

/* "dial tcp HOST:PORT: <goerr_dial>" into buf, with an IPv6 host in []. */
void goerr_dial_msg(char *buf, size_t len, const char *host, int port, int err);
