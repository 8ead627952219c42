# shellcheck shell=sh
# Helpers shared by the dependency recipes in this folder. Sourced, not run.
#
# A recipe (sqlite3.sh, mbedtls.sh, ...) is run by third_party/build.sh as
#   sh third_party/<lib>.sh
# with these variables in its environment:
#   TP_ARCH    x86_64 | aarch64 | armhf
#   TP_PREFIX  where to install: $TP_PREFIX/lib/*.a and $TP_PREFIX/include
#   TP_WORK    an empty scratch folder for this recipe's build
#   TP_SRC     shared folder of unpacked Debian source packages (_deps/src)
#   TP_JOBS    parallel jobs for make/ninja
# and must install one or more static libraries and their headers.

set -eu

# Compiler flags for every dependency: small code, sections the final link
# can drop with --gc-sections, and the same 64-bit off_t/time_t macros as
# k3c's own code (meson.build; no-ops with musl >= 1.2).
TP_CFLAGS="-Os -ffunction-sections -fdata-sections -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64"

# tp_toolchain: set CC (a musl gcc wrapper), TP_HOST (GNU triplet for
# autotools), AR, RANLIB and STRIP for $TP_ARCH.
tp_toolchain() {
  case $TP_ARCH in
    x86_64)  CC=musl-gcc;                 TP_HOST=x86_64-linux-gnu;    AR=ar; RANLIB=ranlib; STRIP=strip ;;
    aarch64) CC=aarch64-linux-musl-gcc;   TP_HOST=aarch64-linux-gnu ;;
    armhf)   CC=arm-linux-musleabihf-gcc; TP_HOST=arm-linux-gnueabihf ;;
    *) echo "third_party: unknown arch $TP_ARCH (x86_64, aarch64, armhf)" >&2; return 1 ;;
  esac
  if [ "$TP_ARCH" != x86_64 ]; then
    AR=$TP_HOST-ar; RANLIB=$TP_HOST-ranlib; STRIP=$TP_HOST-strip
  fi
  export CC AR RANLIB STRIP
}

# tp_source PKG VERSION: fetch the Debian source package PKG at exactly
# VERSION with `apt-get source` (hashes checked by apt against the signed
# archive), unpack it with its Debian patches applied, and print the folder.
# Unpacked once; later calls reuse it.
tp_source() {
  local pkg=$1 ver=$2 dir
  dir=$TP_SRC/$pkg-${ver#*:}
  if [ ! -f "$dir/.k3c-unpacked" ]; then
    mkdir -p "$TP_SRC/dl"
    rm -rf "$dir"
    # apt checks the files' hashes against the signed archive index; the
    # .dsc signature itself cannot be checked without debian-keyring (gpgv
    # says so in the log, harmlessly).
    (cd "$TP_SRC/dl" && apt-get source --download-only -qq -o APT::Sandbox::User=root \
        "$pkg=$ver") >"$TP_SRC/dl/$pkg.log" 2>&1 || {
      cat "$TP_SRC/dl/$pkg.log" >&2
      echo "third_party: 'apt-get source $pkg=$ver' failed (deb-src enabled? run scripts/build-static.sh as root)" >&2
      return 1
    }
    dpkg-source -x "$TP_SRC/dl/${pkg}_${ver#*:}.dsc" "$dir" >>"$TP_SRC/dl/$pkg.log" 2>&1 ||
      { cat "$TP_SRC/dl/$pkg.log" >&2; return 1; }
    touch "$dir/.k3c-unpacked"
  fi
  echo "$dir"
}
