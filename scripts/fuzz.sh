#!/usr/bin/env bash
# Build the libFuzzer harnesses in fuzz/ with clang and run each for a while.
#
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]    default: 60 s, all harnesses
#
# Needs clang (Debian: clang-14 with libclang-rt-14-dev). New interesting
# inputs land in build-fuzz/corpus-<harness>/; copy small, meaningful ones
# into fuzz/corpus/<harness>/ (they then replay as unit tests).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
harnesses=${*:-jsonpatch selector strict http_parser yaml quantity query fieldset nodeopts registries docker_manifest jwt dns}
CC=${CC:-$(command -v clang-14 || command -v clang)}
out=build-fuzz
mkdir -p "$out"
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Ipkg"
util="pkg/util/alloc.c pkg/util/buf.c pkg/util/log.c pkg/util/strmap.c"
for h in $harnesses; do
  # the sources (and libraries) each harness links
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
    srcs="pkg/api/quantity.c"
    libs="-lm" ;;
  query)
    srcs="pkg/http/url.c pkg/api/reqinfo.c pkg/api/param.c $util"
    libs="-lcjson" ;;
  fieldset)
    srcs="pkg/api/fieldset.c $util" # $util has strmap.c
    libs="-lcjson -lm" ;;
  nodeopts)
    srcs="pkg/agent/host.c pkg/api/quantity.c pkg/util/errbuf.c pkg/util/fsutil.c $util"
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
  *)
    echo "fuzz.sh: unknown harness $h (jsonpatch selector strict http_parser yaml quantity query fieldset nodeopts registries docker_manifest jwt dns)" >&2
    exit 2 ;;
  esac
  echo "== fuzz_$h"
  $CC $flags -o "$out/fuzz_$h" "fuzz/fuzz_$h.c" $srcs $libs -lpthread
  mkdir -p "$out/corpus-$h"
  "$out/fuzz_$h" -max_total_time="$secs" -max_len=4096 "$out/corpus-$h" "fuzz/corpus/$h"
done
