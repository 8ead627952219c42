# The k3c binary's command line: version, help, dispatch and usage errors.
. "$(dirname "$0")/../lib.sh"
K3C=${K3C_BIN:?set K3C_BIN to the k3c binary}

expect_output "--version prints the version" '^k3c version v1\.32\.[0-9]+\+k3c[0-9]+ \(' "$K3C" --version
expect_status "--version exits 0" 0 "$K3C" --version
expect_output "--help lists the subcommands" 'server .*agent .*token .*kubectl .*check-config' sh -c "'$K3C' --help | tr '\n' ' '"
expect_status "no arguments exits 2" 2 "$K3C"
expect_status "unknown command exits 2" 2 "$K3C" frobnicate
expect_output "unknown command names itself and shows usage" 'unknown command "frobnicate".*Usage: k3c' sh -c "'$K3C' frobnicate 2>&1 | tr '\n' ' '"
expect_status "unknown global flag exits 2" 2 "$K3C" --frob
expect_status "unknown server flag exits 2" 2 "$K3C" server --no-such-flag
expect_output "unknown server flag is named" 'k3c server: unknown flag --no-such-flag' "$K3C" server --no-such-flag
expect_output "server --help lists flags with env names" 'data-dir.*K3C_DATA_DIR' "$K3C" server --help
expect_output "bad config file key is named" 'unknown key "bogus"' sh -c "printf 'bogus: 1\n' > /tmp/k3c-cli-test.yaml; '$K3C' server --config /tmp/k3c-cli-test.yaml"
expect_output "server --help lists --private-registry" 'private-registry.*registries\.yaml' sh -c "'$K3C' server --help | tr '\n' ' '"
# A bad registries.yaml stops the server's agent before containerd starts.
if [ "$(id -u)" = 0 ]; then
  regdir=$(mktemp -d /tmp/k3c-cli-reg.XXXXXX)
  printf 'mirrors:\n  docker.io:\n    endpoints: []\n' > "$regdir/registries.yaml"
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  expect_output "a bad registries.yaml is named with its key" 'registries\.yaml: mirrors\."docker\.io": unknown key "endpoints"' \
    timeout 60 "$K3C" server --config /dev/null --data-dir "$regdir/data" --https-listen-port "$port" \
    --write-kubeconfig "$regdir/kc.yaml" --private-registry "$regdir/registries.yaml"
  rm -rf "$regdir"
else
  skip "a bad registries.yaml is named with its key" "needs root (the agent)"
fi
expect_output "agent needs server and token" 'K3C_URL' env -u K3C_URL -u K3C_TOKEN "$K3C" agent --config /dev/null
expect_status "token without subcommand exits 2" 2 "$K3C" token
expect_status "secrets-encrypt without a command exits 2" 2 "$K3C" secrets-encrypt
expect_output "k3c --help lists secrets-encrypt" "secrets-encrypt" "$K3C" --help
expect_output "check-config prints a report" 'cgroup' "$K3C" check-config
expect_output "check-config --help says what it does" 'Usage: k3c check-config' "$K3C" check-config --help
expect_status "check-config with an argument exits 2" 2 "$K3C" check-config --bogus
expect_output "check-config reports the kernel and the agent's programs" 'kernel .*ok.*containerd .*runc' sh -c "'$K3C' check-config | tr '\n' ' '"
expect_output "check-config reports what network policy needs" 'br_netfilter \(policy between pods of a node\).*nf_tables \(service proxy, network policy\)' sh -c "'$K3C' check-config | tr '\n' ' '"
for sub in server agent; do
  expect_output "$sub --help lists --disable-network-policy" 'disable-network-policy .*table ip k3c-netpol' "$K3C" $sub --help
done
expect_output "kubectl subcommand runs kubectl" 'Client Version' "$K3C" kubectl version --client
# Every subcommand answers --help on stdout with exit 0 (kubectl's is kubectl's own).
for sub in server agent token datastore secrets-encrypt check-config pause; do
  expect_status "$sub --help exits 0" 0 "$K3C" $sub --help
  expect_output "$sub --help prints its usage on stdout" "^Usage: k3c $sub" sh -c "'$K3C' $sub --help 2>/dev/null | head -n 3 | tr '\\n' ' '"
done
rm -f /tmp/k3c-cli-test.yaml
done_testing
