/* libFuzzer harness for pkg/api/pb.c (protobuf request bodies).
 *   clang -fsanitize=fuzzer,address,undefined -Ipkg fuzz/fuzz_pb.c pkg/api/pb.c \
 *     pkg/api/schema.c pkg/util/alloc.c pkg/util/log.c <build>/pkg/api/schema_gen.c -lcjson
 *   ./a.out tests/unit/api/fixtures/
 * The seed corpus is tests/unit/api/fixtures/ (bodies captured from kubectl);
 * tests/unit/api/test_pb.c replays truncations and mutations of it. */
#include <stddef.h>
#include <stdint.h>

#include "api/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *o = NULL;
  char err[256];
  if (schema_pb_decode_envelope(data, size, &o, err, sizeof err) == 0)
    cJSON_Delete(o);
  return 0;
}
