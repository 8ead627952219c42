#!/usr/bin/env bash
# Build k3c and bench/bench_api with --buildtype=release, then benchmark the
# HTTPS API of a fresh `k3c server --disable-agent` (started and stopped by
# bench_api on a free loopback port with a temporary data dir).
#   bash scripts/bench-api.sh [bench_api options]   e.g. -t 5 -c 1,16,64
# Figures and how to read them: docs/PERFORMANCE.md ("API server").
set -eu
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
bench_build k3c bench/bench_api
bench_machine
exec "$B/bench/bench_api" -k "$B/k3c" "$@"
