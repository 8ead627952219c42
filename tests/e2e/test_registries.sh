#!/usr/bin/env bash
# Debian's containerd (1.6) reads the config pkg/agent/containerd.c writes
# with a k3s-style registries.yaml: `containerd config dump` (no root
# needed, nothing started) must load it and show the mirrors, credentials
# and TLS settings with their escaped characters decoded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
B=${K3C_BUILD_DIR:-$here/../../build-asan}
driver=$B/tests/e2e/registries_config

skip_all() { echo "1..1"; echo "ok 1 - registries e2e # SKIP $1"; exit 0; }
command -v containerd >/dev/null || skip_all "containerd is not installed (scripts/deps.sh node group)"
[ -x "$driver" ] || skip_all "$driver is not built"

dir=$(mktemp -d /tmp/k3c-registries.XXXXXX)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/registries.yaml" <<'YAML'
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example:5000"
      - mirror2.example
    rewrite:
      "^rancher/(.*)": "mirrored/$1"
  "*":
    endpoint: ["http://10.0.0.5:5000"]
configs:
  "mirror.example:5000":
    auth:
      username: "us\"er"
      password: "p\\w\tx"
    tls:
      ca_file: /etc/k3c/ca.pem
      insecure_skip_verify: true
  registry.example:
    auth:
      auth: dXNlcjpwYXNz
YAML

config=$("$driver" "$dir" "$dir/registries.yaml" 2>&1)
if [ $? -ne 0 ]; then
  fail "write the config" "$config"; done_testing; exit 1
fi
ok "write the config ($config)"

dump=$(timeout 60 containerd --config "$config" config dump 2>&1)
if [ $? -eq 0 ]; then ok "containerd config dump loads it"; else fail "containerd config dump loads it" "$(printf '%s' "$dump" | tail -n 20)"; fi

# has NAME TEXT: the dump holds TEXT (a fixed string) somewhere.
has() {
  if printf '%s' "$dump" | grep -qF -- "$2"; then ok "$1"; else fail "$1" "wanted: $2" "$(printf '%s' "$dump" | grep -A3 'registry\.' | head -n 60)"; fi
}
has 'docker.io mirror' '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]'
has 'docker.io endpoints (one without a scheme)' 'endpoint = ["https://mirror.example:5000", "mirror2.example"]'
has 'default mirror "*"' '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."*"]'
has 'default mirror endpoint' 'endpoint = ["http://10.0.0.5:5000"]'
has 'auth table' '[plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example:5000".auth]'
has 'username with a quote' 'username = "us\"er"'
has 'password with a backslash and a tab' 'password = "p\\w\tx"'
has 'tls table' '[plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example:5000".tls]'
has 'ca_file' 'ca_file = "/etc/k3c/ca.pem"'
has 'insecure_skip_verify' 'insecure_skip_verify = true'
has 'base64 auth' 'auth = "dXNlcjpwYXNz"'

# A bad file: the driver fails with the file and the key.
printf 'mirrors:\n  docker.io:\n    endpoints: []\n' >"$dir/bad.yaml"
expect_output "a bad file names itself and the key" \
  "bad.yaml: mirrors.\"docker.io\": unknown key \"endpoints\"" "$driver" "$dir" "$dir/bad.yaml"

done_testing
