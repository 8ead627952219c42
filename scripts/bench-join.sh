#!/usr/bin/env bash
# Join time (issue #15): build k3c with --buildtype=release in build-bench/,
# then bench/join.py: 1 and 10 hollow agents joining a fresh server with the
# token at once, start -> Node Ready, next to the same agents started with a
# kubeconfig (no join).
#   bash scripts/bench-join.sh      (K3C_BENCH_ROUNDS, default 3)
# Figures and how to read them: docs/PERFORMANCE.md ("Joining").
set -eu
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
bench_build k3c
bench_machine
K3C_BIN=$PWD/$B/k3c exec /usr/bin/python3 bench/join.py "$@"
