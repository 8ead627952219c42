#!/bin/sh
# SQLite, the embedded datastore. Debian's source package is SQLite's full
# source tree, so the single-file amalgamation (sqlite3.c) is generated once
# on the build machine (needs tclsh) and then compiled for each target.
SQLITE3_VERSION=3.40.1-2+deb12u2

. "$(dirname "$0")/lib.sh"
tp_toolchain
src=$(tp_source sqlite3 "$SQLITE3_VERSION")

# The amalgamation does not depend on the target: build it next to the source.
amalg=$src/.k3c-amalgamation
if [ ! -f "$amalg/sqlite3.c" ]; then
  rm -rf "$amalg" && mkdir -p "$amalg"
  (cd "$amalg" && env -u CC -u AR -u RANLIB "$src/configure" >configure.log 2>&1 &&
     make sqlite3.c >make.log 2>&1) || { tail -n 20 "$amalg"/*.log >&2; exit 1; }
fi

# Threadsafe (the store's writer thread and the loop thread both use it), no
# run-time extension loading (a static binary has no dlopen).
$CC $TP_CFLAGS -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION=1 \
  -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_DQS=0 -DSQLITE_USE_ALLOCA=1 \
  -DHAVE_USLEEP=1 -DHAVE_LOCALTIME_R=1 -DHAVE_GMTIME_R=1 -DHAVE_STRCHRNUL=1 \
  -c "$amalg/sqlite3.c" -o "$TP_WORK/sqlite3.o"
$AR rcs "$TP_PREFIX/lib/libsqlite3.a" "$TP_WORK/sqlite3.o"
cp "$amalg/sqlite3.h" "$amalg/sqlite3ext.h" "$TP_PREFIX/include/"
