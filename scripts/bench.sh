#!/usr/bin/env bash
# Build k3c benchmarks with --buildtype=release and run them.
#   bash scripts/bench.sh [store [dir-for-databases] | managed]
# Figures are recorded in docs/PERFORMANCE.md.
set -eu
cd "$(dirname "$0")/.."
B=${K3C_BENCH_DIR:-build-bench}
if [ ! -f "$B/build.ninja" ]; then
  meson setup "$B" --buildtype=release >/dev/null
fi
what=${1:-store}
case $what in store|managed) ;; *) echo "unknown benchmark $what (use: store, managed)"; exit 2 ;; esac
ninja -C "$B" -j2 "bench/bench_$what" >"$B/ninja.log" || { tail -n 30 "$B/ninja.log"; exit 1; }
case $what in
  store) shift || true; "$B/bench/bench_store" "$@" ;;
  managed) "$B/bench/bench_managed" ;;
  *) echo "unknown benchmark $what (use: store, managed)"; exit 2 ;;
esac
