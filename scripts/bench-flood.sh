#!/usr/bin/env bash
# Build k3c with --buildtype=release, then run bench/flood.py: one user
# flooding the API server while another user's latency is measured, quiet
# and under the flood, in one run.
#   bash scripts/bench-flood.sh [seconds]      (default 10)
# Figures and how to read them: docs/PERFORMANCE.md ("Flooding clients").
set -eu
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
bench_build k3c
bench_machine
K3C_BIN=$PWD/$B/k3c exec /usr/bin/python3 bench/flood.py "$@"
