#!/bin/sh
# libyaml: YAML 1.1 parser for manifests and the config file. Debian's orig
# tarball is the git tag without ./configure, so build it with its CMakeLists.
LIBYAML_VERSION=0.2.5-1

. "$(dirname "$0")/lib.sh"
tp_toolchain
src=$(tp_source libyaml "$LIBYAML_VERSION")

cmake -S "$src" -B "$TP_WORK" -G Ninja -DCMAKE_SYSTEM_NAME=Linux \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "$AR")" -DCMAKE_RANLIB="$(command -v "$RANLIB")" \
  -DCMAKE_C_FLAGS="$TP_CFLAGS" -DCMAKE_BUILD_TYPE=MinSizeRel \
  -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF -DINSTALL_LIB_DIR=lib -DINSTALL_INCLUDE_DIR=include \
  -DCMAKE_INSTALL_PREFIX="$TP_PREFIX" >"$TP_WORK/cmake.log" 2>&1 &&
cmake --build "$TP_WORK" -j "$TP_JOBS" >>"$TP_WORK/cmake.log" 2>&1 &&
cmake --install "$TP_WORK" >>"$TP_WORK/cmake.log" 2>&1 ||
  { tail -n 30 "$TP_WORK/cmake.log" >&2; exit 1; }
test -f "$TP_PREFIX/lib/libyaml.a"
