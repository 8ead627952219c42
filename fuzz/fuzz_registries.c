/* libFuzzer harness for pkg/agent/registries.c: any input either parses
 * (and then renders to TOML holding no raw control character but the
 * line ends, so containerd can read it) or fails with -EINVAL and a
 * non-empty reason. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/registries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char err[256] = "";
  cJSON *reg = NULL;
  int r = agent_registries_parse((const char *)data, size, "fuzz.yaml", &reg, err, sizeof err);
  if (r < 0) {
    if (r != -EINVAL || !err[0])
      abort();
    return 0;
  }
  buf_t b;
  buf_init(&b, 1u << 20);
  if (agent_registries_toml(reg, &b) == 0)
    for (size_t i = 0; i < b.len; i++) {
      unsigned char c = (unsigned char)b.data[i];
      if ((c < 0x20 && c != '\n') || c == 0x7f)
        abort();
    }
  (void)agent_registries_rewrites(reg);
  buf_done(&b);
  cJSON_Delete(reg);
  return 0;
}
