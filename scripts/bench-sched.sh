#!/usr/bin/env bash
# Scheduler throughput (issue #11): build k3c with --buildtype=release in
# build-bench/, then bench/sched.py: 100 Node objects with allocatable set
# directly (no agents), 3,000 pods created by 4 client processes, pods/s
# bound, creation->bound latency p50/p99 and the server's RSS.
#   bash scripts/bench-sched.sh      (K3C_BENCH_NODES, K3C_BENCH_PODS, K3C_BENCH_CLIENTS,
#                                     K3C_BENCH_BACKLOG=1|lease: see docs/PERFORMANCE.md)
# Figures and how to read them: docs/PERFORMANCE.md ("Scheduler").
set -eu
cd "$(dirname "$0")/.."
. scripts/bench_lib.sh
bench_build k3c
bench_machine
K3C_BIN=$PWD/$B/k3c exec /usr/bin/python3 bench/sched.py "$@"
