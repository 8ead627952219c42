#!/bin/sh
# nghttp2: HTTP/2 framing and HPACK for pkg/cri's gRPC client (containerd's
# CRI socket). Debian's orig tarball is the git tag without ./configure, so
# build it with its CMakeLists; only the static library (ENABLE_LIB_ONLY: no
# apps, so no OpenSSL, libev or jansson).
NGHTTP2_VERSION=1.52.0-1+deb12u3

. "$(dirname "$0")/lib.sh"
tp_toolchain
src=$(tp_source nghttp2 "$NGHTTP2_VERSION")

cmake -S "$src" -B "$TP_WORK" -G Ninja -DCMAKE_SYSTEM_NAME=Linux \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "$AR")" -DCMAKE_RANLIB="$(command -v "$RANLIB")" \
  -DCMAKE_C_FLAGS="$TP_CFLAGS" -DCMAKE_BUILD_TYPE=MinSizeRel \
  -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF -DENABLE_DOC=OFF \
  -DENABLE_FAILMALLOC=OFF -DBUILD_TESTING=OFF -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_INSTALL_PREFIX="$TP_PREFIX" >"$TP_WORK/cmake.log" 2>&1 &&
cmake --build "$TP_WORK" -j "$TP_JOBS" >>"$TP_WORK/cmake.log" 2>&1 &&
cmake --install "$TP_WORK" >>"$TP_WORK/cmake.log" 2>&1 ||
  { tail -n 30 "$TP_WORK/cmake.log" >&2; exit 1; }
test -f "$TP_PREFIX/lib/libnghttp2.a" && test -f "$TP_PREFIX/include/nghttp2/nghttp2.h"
