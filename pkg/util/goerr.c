#include "util/goerr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *goerr_dial(int err, char *buf, size_t len) {
  switch (err) {
  case -ETIMEDOUT:
    return "i/o timeout";
  case -ECONNREFUSED:
    return "connect: connection refused";
  case -EHOSTUNREACH:
    return "connect: no route to host";
  case -ENETUNREACH:
    return "connect: network is unreachable";
  default:
    snprintf(buf, len, "connect: %s", strerror(-err));
    if (len > 9 && buf[9] >= 'A' && buf[9] <= 'Z')
      buf[9] = (char)(buf[9] - 'A' + 'a');
    return buf;
  }
}

void goerr_dial_msg(char *buf, size_t len, const char *host, int port, int err) {
  char text[128];
  bool v6 = strchr(host, ':') != NULL;
  snprintf(buf, len, "dial tcp %s%s%s:%d: %s", v6 ? "[" : "", host, v6 ? "]" : "", port,
           goerr_dial(err, text, sizeof(text)));
}
