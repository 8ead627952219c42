#!/usr/bin/env bash
# Build the static musl k3c binary for one target:
#
#   bash scripts/build-static.sh x86_64     -> out/k3c
#   bash scripts/build-static.sh aarch64    -> out/k3c-arm64
#   bash scripts/build-static.sh armhf      -> out/k3c-armhf   (ARMv7, hard float)
#
# Installs the Debian packages it needs (scripts/deps.sh: groups build,
# static, and cross for the ARM targets), builds the libraries from Debian
# source packages into _deps/prefix-<arch> (third_party/build.sh; reused
# while the recipes are unchanged), then configures meson with the cross
# file build/cross/<arch>-musl.txt in _deps/build-static-<arch>, builds and
# strips. The unstripped binary stays in the build folder. docs/BUILD.md
# explains the pieces.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/deps.sh

arch=${1:-}
case $arch in
  x86_64)  out=out/k3c;       groups="build static" ;;
  aarch64) out=out/k3c-arm64; groups="build static cross" ;;
  armhf)   out=out/k3c-armhf; groups="build static cross" ;;
  *) echo "usage: $0 <x86_64|aarch64|armhf>" >&2; exit 2 ;;
esac

t0=$SECONDS
step() { echo "build-static: $arch: $* ($((SECONDS - t0))s)"; }

step "checking build packages"
# shellcheck disable=SC2086
deps_install $groups

prefix=$root/_deps/prefix-$arch
step "dependencies -> $prefix"
sh third_party/build.sh "$arch" "$prefix"

b=_deps/build-static-$arch
cross=build/cross/$arch-musl.txt
# A rebuilt prefix means new libraries: configure afresh (meson does not
# track libraries found with find_library as link inputs).
stamp=$(cat "$prefix/.k3c-stamp")
if [ -f "$b/build.ninja" ] && [ "$(cat "$b/.k3c-deps-stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$b"
fi
if [ ! -f "$b/build.ninja" ]; then
  step "meson setup $b"
  meson setup "$b" --cross-file "$cross" -Dstatic_build=true -Ddeps_prefix="$prefix" \
    --buildtype=minsize -Db_staticpic=false >"$root/_deps/meson-setup-$arch.log" 2>&1 ||
    { tail -n 40 "$root/_deps/meson-setup-$arch.log"; exit 1; }
  echo "$stamp" >"$b/.k3c-deps-stamp"
fi
step "ninja -C $b"
ninja -C "$b" -j"${K3C_JOBS:-2}" >"$b/ninja.log" 2>&1 || { tail -n 40 "$b/ninja.log"; exit 1; }

strip_tool=$(sed -n "s/^strip = '\(.*\)'/\1/p" "$cross")
mkdir -p out
"$strip_tool" -o "$out.tmp" "$b/k3c"
mv "$out.tmp" "$out"
step "wrote $out ($(stat -c %s "$out") bytes stripped, $(stat -c %s "$b/k3c") unstripped)"
