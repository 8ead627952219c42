#!/usr/bin/env bash
# Build the release artifacts: the static k3c for every target, their sha256
# files, and the installer, all in out/:
#
#   out/k3c  out/k3c-arm64  out/k3c-armhf     static musl binaries, stripped
#   out/<binary>.sha256                        sha256sum format, one line each
#   out/install.sh                             scripts/install.sh
#
# Upload the contents of out/ to one folder and point INSTALL_K3C_URL_BASE at
# it, or copy it to a device and use INSTALL_K3C_ARTIFACT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
for arch in ${K3C_RELEASE_ARCHES:-x86_64 aarch64 armhf}; do
  bash scripts/build-static.sh "$arch"
done
cp scripts/install.sh out/install.sh
cd out
for f in k3c k3c-arm64 k3c-armhf; do
  [ -f "$f" ] || continue
  sha256sum "$f" >"$f.sha256"
done
echo "release: done in $((SECONDS - t0))s"
for f in k3c k3c-arm64 k3c-armhf; do
  [ -f "$f" ] && printf 'release: %-10s %9d bytes  %s\n' "$f" "$(stat -c %s "$f")" "$(cut -d' ' -f1 "$f.sha256")"
done
