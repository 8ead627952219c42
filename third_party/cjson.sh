#!/bin/sh
# cJSON: every Kubernetes object on the wire is JSON. One C file; Debian's
# patches (security fixes of deb12u4) are applied when the source is unpacked.
CJSON_VERSION=1.7.15-1+deb12u4

. "$(dirname "$0")/lib.sh"
tp_toolchain
src=$(tp_source cjson "$CJSON_VERSION")

$CC $TP_CFLAGS -std=c89 -c "$src/cJSON.c" -o "$TP_WORK/cJSON.o"
$AR rcs "$TP_PREFIX/lib/libcjson.a" "$TP_WORK/cJSON.o"
# The code includes <cjson/cJSON.h>, the path Debian's libcjson-dev uses.
mkdir -p "$TP_PREFIX/include/cjson"
cp "$src/cJSON.h" "$TP_PREFIX/include/cjson/"
