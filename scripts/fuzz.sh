#!/usr/bin/env bash
# Build the libFuzzer harnesses in fuzz/ with clang and run each for a while.
#
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]    default: 60 s, all harnesses
#
# tests/build/test_fuzz.sh runs every harness for a few seconds in CI. The pb
# harness links the generated schema tables: K3C_BUILD_DIR (default
# build-asan) must hold a configured build with pkg/api/schema_gen.c.
#
# Needs clang (Debian: clang-14 with libclang-rt-14-dev). New interesting
# inputs land in build-fuzz/corpus-<harness>/; copy small, meaningful ones
# into fuzz/corpus/<harness>/ (they then replay as unit tests).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
all="jsonpatch selector strict http_parser yaml quantity regex cel query fieldset nodeopts registries docker_manifest jwt dns pb"
harnesses=${*:-$all}
CC=${CC:-$(command -v clang-14 || command -v clang)}
out=build-fuzz
mkdir -p "$out"
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Ipkg"
util="pkg/util/alloc.c pkg/util/buf.c pkg/util/log.c pkg/util/strmap.c"
for h in $harnesses; do
  # the sources (and libraries) each harness links, and its seed corpus
  seeds=fuzz/corpus/$h
  case $h in
  jsonpatch | selector | strict)
    srcs="pkg/json/util.c pkg/json/mergepatch.c pkg/json/jsonpatch.c pkg/json/smp.c pkg/json/selector.c pkg/json/strict.c $util"
    libs="-lcjson" ;;
  http_parser)
    srcs="pkg/http/parser.c pkg/http/url.c $util"
    libs="-lcjson" ;;
  yaml)
    srcs="pkg/yaml/decode.c $util"
    libs="-lyaml -lcjson -lm" ;;
  quantity)
    srcs="pkg/util/quantity.c"
    libs="-lm" ;;
  regex)
    srcs="pkg/util/regex.c pkg/util/alloc.c pkg/util/log.c"
    libs="-lcjson" ;;
  cel)
    srcs="$(ls pkg/cel/*.c | tr '\n' ' ') pkg/util/regex.c pkg/util/quantity.c pkg/util/k8sname.c pkg/util/base64.c $util"
    libs="-lcjson -lm" ;;
  query)
    srcs="pkg/http/url.c pkg/api/reqinfo.c pkg/api/param.c $util"
    libs="-lcjson" ;;
  fieldset)
    srcs="pkg/api/fieldset.c $util" # $util has strmap.c
    libs="-lcjson -lm" ;;
  nodeopts)
    srcs="pkg/agent/host.c pkg/util/quantity.c pkg/util/errbuf.c pkg/util/fsutil.c $util"
    libs="-lcjson -lm" ;;
  registries)
    srcs="pkg/agent/registries.c pkg/yaml/decode.c pkg/util/regex.c pkg/util/toml.c pkg/util/errbuf.c pkg/util/fsutil.c $util"
    libs="-lyaml -lcjson -lm" ;;
  docker_manifest)
    srcs="pkg/cri/archive.c pkg/util/errbuf.c $util"
    libs="-lcjson" ;;
  jwt)
    srcs="pkg/tls/jwt.c pkg/util/base64.c pkg/util/errbuf.c $util"
    libs="-lmbedtls -lmbedx509 -lmbedcrypto -lcjson" ;;
  dns)
    srcs="pkg/net/dnsmsg.c"
    libs="" ;;
  pb)
    gen=${K3C_BUILD_DIR:-build-asan}/pkg/api/schema_gen.c
    [ -f "$gen" ] || ninja -C "${K3C_BUILD_DIR:-build-asan}" pkg/api/schema_gen.c >/dev/null
    srcs="pkg/api/pb.c pkg/api/schema.c pkg/proto/proto.c pkg/json/strict.c pkg/json/util.c $gen $util"
    libs="-lcjson -lm"
    seeds=tests/unit/api/fixtures ;;
  *)
    echo "fuzz.sh: unknown harness $h ($all)" >&2
    exit 2 ;;
  esac
  echo "== fuzz_$h"
  $CC $flags -o "$out/fuzz_$h" "fuzz/fuzz_$h.c" $srcs $libs -lpthread
  mkdir -p "$out/corpus-$h"
  "$out/fuzz_$h" -max_total_time="$secs" -max_len=4096 "$out/corpus-$h" "$seeds"
done
