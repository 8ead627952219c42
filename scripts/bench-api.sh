#!/usr/bin/env bash
# Build k3c and bench/bench_api with --buildtype=release, then benchmark the
# HTTPS API of a fresh `k3c server --disable-agent` (started and stopped by
# bench_api on a free loopback port with a temporary data dir).
#   bash scripts/bench-api.sh [bench_api options]   e.g. -t 5 -c 1,16,64
# Figures and how to read them: docs/PERFORMANCE.md ("API server").
set -eu
cd "$(dirname "$0")/.."
B=${K3C_BENCH_DIR:-build-bench}
if [ ! -f "$B/build.ninja" ]; then
  meson setup "$B" --buildtype=release >/dev/null
fi
ninja -C "$B" -j2 k3c bench/bench_api >"$B/ninja.log" || { tail -n 30 "$B/ninja.log"; exit 1; }
echo "machine: $(nproc) cores $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME"), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$B/bench/bench_api" -k "$B/k3c" "$@"
