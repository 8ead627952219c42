#!/bin/sh
# libev: the event loop. Its shipped configure script works for cross builds;
# musl-gcc does not see kernel headers, so the linuxaio and io_uring backends
# are left out and epoll is used.
LIBEV_VERSION=1:4.33-1

. "$(dirname "$0")/lib.sh"
tp_toolchain
src=$(tp_source libev "$LIBEV_VERSION")

cd "$TP_WORK"
"$src/configure" --host="$TP_HOST" --prefix="$TP_PREFIX" --disable-shared --enable-static \
  CC="$CC" CFLAGS="$TP_CFLAGS" >build.log 2>&1 &&
make -j"$TP_JOBS" >>build.log 2>&1 && make install >>build.log 2>&1 ||
  { tail -n 30 build.log >&2; exit 1; }
# libev installs an event.h (libevent emulation) we do not want to shadow anything.
rm -f "$TP_PREFIX/include/event.h" "$TP_PREFIX/lib/libev.la"
