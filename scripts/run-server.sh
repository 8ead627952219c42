#!/usr/bin/env bash
# Build k3c and start a single-node server on this machine (Debian 12, root).
# Installs the Debian packages it needs (containerd and runc for the node
# agent among them). The admin kubeconfig is written to
# /etc/k3c/k3c.yaml; use it with `kubectl` (KUBECONFIG=/etc/k3c/k3c.yaml) or
# `k3c kubectl`. Extra arguments go to `k3c server`.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
deps_install build node
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release
exec ./build-release/k3c server "$@"
