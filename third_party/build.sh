#!/bin/sh
# Build every static dependency of k3c for one target into a prefix:
#   sh third_party/build.sh <x86_64|aarch64|armhf> [prefix]
# The default prefix is _deps/prefix-<arch>. A prefix built by the same
# recipes (same hash of third_party/*.sh) is reused as it is.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
TP_ARCH=${1:?usage: third_party/build.sh <x86_64|aarch64|armhf> [prefix]}
TP_PREFIX=${2:-$root/_deps/prefix-$TP_ARCH}
TP_SRC=${TP_SRC:-$root/_deps/src}
TP_JOBS=${TP_JOBS:-2}
export TP_ARCH TP_PREFIX TP_SRC TP_JOBS

# The order is the link order's reverse; kernel-headers is not a library.
recipes="sqlite3 mbedtls libyaml cjson libev nghttp2 kernel-headers"

stamp=$( (echo "$TP_ARCH"; cat "$here"/*.sh) | sha256sum | cut -c1-16)
if [ "$(cat "$TP_PREFIX/.k3c-stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "deps: $TP_PREFIX is up to date ($stamp)"
  exit 0
fi

mkdir -p "$TP_SRC"
# One build per prefix at a time; sources are shared between arches.
exec 9>"$TP_SRC/.lock"
flock 9

t0=$(date +%s)
rm -rf "$TP_PREFIX" "$TP_PREFIX.work"
mkdir -p "$TP_PREFIX/lib" "$TP_PREFIX/include"
for r in $recipes; do
  t=$(date +%s)
  printf 'deps: %-8s %-15s ' "$TP_ARCH" "$r"
  TP_WORK=$TP_PREFIX.work/$r
  mkdir -p "$TP_WORK"
  if ! TP_WORK=$TP_WORK sh "$here/$r.sh"; then
    echo "FAILED"
    echo "deps: recipe third_party/$r.sh failed for $TP_ARCH (logs in $TP_WORK)" >&2
    exit 1
  fi
  echo "done ($(( $(date +%s) - t ))s)"
done
rm -rf "$TP_PREFIX.work" "$TP_PREFIX/share" "$TP_PREFIX/lib/pkgconfig" "$TP_PREFIX/cmake"
echo "$stamp" >"$TP_PREFIX/.k3c-stamp"
echo "deps: $TP_ARCH prefix ready in $(( $(date +%s) - t0 ))s: $TP_PREFIX"
