#!/bin/sh
# mbed TLS 2.28: TLS, x509, keys, hashes, RNG. Upstream's library Makefile
# builds the three static libraries without programs or tests.
MBEDTLS_VERSION=2.28.3-1

. "$(dirname "$0")/lib.sh"
tp_toolchain
src=$(tp_source mbedtls "$MBEDTLS_VERSION")

cp -a "$src/." "$TP_WORK/"
cd "$TP_WORK"
# Same threading options as Debian's libmbedtls (debian/rules), so the static
# binary and a development build against libmbedtls-dev behave alike.
sed -i -e 's|^//#define MBEDTLS_THREADING_C$|#define MBEDTLS_THREADING_C|' \
       -e 's|^//#define MBEDTLS_THREADING_PTHREAD$|#define MBEDTLS_THREADING_PTHREAD|' \
       include/mbedtls/config.h
grep -q '^#define MBEDTLS_THREADING_PTHREAD$' include/mbedtls/config.h
make -C library -j"$TP_JOBS" CC="$CC" AR="$AR" CFLAGS="$TP_CFLAGS" static >make.log 2>&1 ||
  { tail -n 30 make.log >&2; exit 1; }
cp library/libmbedtls.a library/libmbedx509.a library/libmbedcrypto.a "$TP_PREFIX/lib/"
cp -r include/mbedtls include/psa "$TP_PREFIX/include/"
