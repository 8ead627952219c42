#!/usr/bin/env bash
# Build k3c with --buildtype=release (-O2, no sanitizers) in build-stall/ and
# measure how long the event loop stalls (longest GET /healthz) while
# worst-case bodies of each shape within the 3 MiB limit are processed.
#   bash scripts/bench-stall.sh
# Figures and how to read them: docs/PERFORMANCE.md ("Event-loop stalls").
set -eu
cd "$(dirname "$0")/.."
B=${K3C_BENCH_DIR:-build-stall}
if [ ! -f "$B/build.ninja" ]; then
  meson setup "$B" --buildtype=release -Doptimization=2 -Dwerror=false >/dev/null
fi
ninja -C "$B" -j2 k3c >"$B/ninja.log" || { tail -n 30 "$B/ninja.log"; exit 1; }
K3C_BIN=$PWD/$B/k3c exec /usr/bin/python3 bench/stall.py "$@"
