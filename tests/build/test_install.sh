# scripts/install.sh against the locally built release artifacts, in a temp
# root (INSTALL_K3C_ROOT): artifact choice, files written, service units,
# checksum verification (a corrupted artifact is refused), download over HTTP
# and the curl | sh form. systemd itself is not run here.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
http_pid=
cleanup() {
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
inst=$root/scripts/install.sh
# The installer copies every K3C_* variable into the service's environment
# file, so it runs with a clean environment (scripts/test.sh exports K3C_BIN...).
clean_env() { env -i PATH="$PATH" HOME="${HOME:-/root}" TMPDIR="${TMPDIR:-/tmp}" "$@"; }

t0=$SECONDS
if out=$(bash "$root/scripts/release.sh" 2>&1); then
  ok "release.sh builds out/ with checksums"
else
  fail "release.sh builds out/ with checksums" "$(printf '%s' "$out" | tail -n 30)"
  done_testing
  exit
fi
echo "# release.sh took $((SECONDS - t0))s"
printf '%s\n' "$out" | grep '^release:' | sed 's/^/# /'
expect_output "out/*.sha256 verify with sha256sum -c" '^k3c: OK.*k3c-arm64: OK.*k3c-armhf: OK' \
  sh -c "cd '$root/out' && cat k3c.sha256 k3c-arm64.sha256 k3c-armhf.sha256 | sha256sum -c - | tr '\n' ' '"
check "out/install.sh is scripts/install.sh" cmp "$root/out/install.sh" "$inst"

# run ROOT [VAR=VALUE...]: the installer into ROOT with local artifacts.
run() {
  local r=$1
  shift
  clean_env INSTALL_K3C_ROOT="$r" INSTALL_K3C_ARTIFACT_DIR="$root/out" "$@" sh "$inst"
}

# --- a server install ---
r=$tmp/server
check "server install into a temp root" run "$r" INSTALL_K3C_EXEC="--write-kubeconfig-mode 644 --node-label=x=y" INSTALL_K3C_ARCH=x86_64
check "installed binary is out/k3c" cmp "$r/usr/local/bin/k3c" "$root/out/k3c"
expect_output "installed binary is executable and runs" '^k3c version v' "$r/usr/local/bin/k3c" --version
unit=$r/etc/systemd/system/k3c.service
check "k3c.service written" test -f "$unit"
expect_output "ExecStart runs k3c server with INSTALL_K3C_EXEC's flags, quoted" \
  "ExecStart=/usr/local/bin/k3c server \\\\ +'--write-kubeconfig-mode' \\\\ +'644' \\\\ +'--node-label=x=y' *\$" sh -c "tr '\n' ' ' <'$unit'"
expect_output "unit: restart policy, delegate cgroups, environment file" \
  'Restart=always.*' sh -c "grep -E '^(Restart=always|Delegate=yes|EnvironmentFile=-/etc/systemd/system/k3c.service.env|WantedBy=multi-user.target)$' '$unit' | wc -l | grep -qx 4 && echo Restart=always"
check "no agent unit for a server" test ! -e "$r/etc/systemd/system/k3c-agent.service"
expect_output "env file is private (0600)" '^600$' stat -c %a "$r/etc/systemd/system/k3c.service.env"
for s in k3c-killall.sh k3c-uninstall.sh; do
  check "$s written, executable, valid sh" sh -c "test -x '$r/usr/local/bin/$s' && sh -n '$r/usr/local/bin/$s'"
done
expect_output "uninstall removes unit, binary and data" 'rm -f /etc/systemd/system/k3c.service.*rm -rf /etc/k3c /var/lib/k3c.*rm -f /usr/local/bin/k3c ' \
  sh -c "tr '\n' ' ' <'$r/usr/local/bin/k3c-uninstall.sh'"
expect_output "killall stops the services and unmounts k3c's folders" 'systemctl stop.*umount' \
  sh -c "tr '\n' ' ' <'$r/usr/local/bin/k3c-killall.sh'"
expect_output "systemd is left alone with INSTALL_K3C_ROOT" 'not touching systemd' run "$tmp/server2" INSTALL_K3C_ARCH=x86_64

# --- an agent install ---
r=$tmp/agent
check "agent install (K3C_URL, K3C_TOKEN)" run "$r" K3C_URL=https://10.0.0.1:6443 K3C_TOKEN=K10abc::server:secret INSTALL_K3C_ARCH=x86_64
unit=$r/etc/systemd/system/k3c-agent.service
expect_output "k3c-agent.service runs k3c agent" '^ExecStart=/usr/local/bin/k3c agent$' grep '^ExecStart=' "$unit"
expect_output "agent env file holds K3C_URL and K3C_TOKEN" '^K3C_TOKEN=K10abc::server:secret K3C_URL=https://10.0.0.1:6443 $' \
  sh -c "sort '$r/etc/systemd/system/k3c-agent.service.env' | tr '\n' ' '"
expect_output "agent env file is private (0600)" '^600$' stat -c %a "$r/etc/systemd/system/k3c-agent.service.env"
check "no server unit for an agent" test ! -e "$r/etc/systemd/system/k3c.service"
expect_output "agent without K3C_TOKEN is refused" 'needs K3C_TOKEN' run "$tmp/agent2" K3C_URL=https://10.0.0.1:6443 INSTALL_K3C_ARCH=x86_64
expect_output "quotes in INSTALL_K3C_EXEC are refused before anything is written" 'quotes and backslashes are not supported' \
  run "$tmp/quote" INSTALL_K3C_EXEC="--node-label 'a b'" INSTALL_K3C_ARCH=x86_64
check "... nothing written" test ! -e "$tmp/quote"
expect_output "unknown INSTALL_K3C_EXEC command is refused" "must start with server, agent" run "$tmp/bad" INSTALL_K3C_EXEC=frob INSTALL_K3C_ARCH=x86_64

expect_output "agent install writes k3c-agent-uninstall.sh" 'k3c-agent-uninstall.sh' ls "$r/usr/local/bin"
check "... and no server uninstaller" test ! -e "$r/usr/local/bin/k3c-uninstall.sh"
expect_output "... which removes the agent's unit and data" 'rm -f /etc/systemd/system/k3c-agent.service .*rm -rf /etc/k3c /var/lib/k3c' \
  sh -c "tr '\n' ' ' <'$r/usr/local/bin/k3c-agent-uninstall.sh'"

# --- the data dir the killall and uninstall scripts act on ---
r=$tmp/datadir
check "agent install with --data-dir /srv/k3c" run "$r" K3C_URL=https://10.0.0.1:6443 K3C_TOKEN=K10abc::server:secret \
  INSTALL_K3C_EXEC="agent --data-dir /srv/k3c/" INSTALL_K3C_ARCH=x86_64
expect_output "... its uninstaller removes /srv/k3c, not /var/lib/k3c" '^rm -rf /etc/k3c /srv/k3c /var/lib/kubelet$' \
  grep '^rm -rf /etc/k3c' "$r/usr/local/bin/k3c-agent-uninstall.sh"
expect_output "... its killall ends that data dir's containerd and shims and unmounts under it" \
  '\*containerd\*" /srv/k3c/"\*.*awk -v d="/srv/k3c"' sh -c "tr '\n' ' ' <'$r/usr/local/bin/k3c-killall.sh'"
run "$tmp/datadir2" K3C_DATA_DIR=/data/k3c INSTALL_K3C_ARCH=x86_64 >/dev/null 2>&1
expect_output "K3C_DATA_DIR=/data/k3c: the uninstaller removes /data/k3c" '^rm -rf /etc/k3c /data/k3c /var/lib/kubelet$' \
  grep '^rm -rf /etc/k3c' "$tmp/datadir2/usr/local/bin/k3c-uninstall.sh"
expect_output "a relative data dir is refused" 'data dir must be an absolute path' \
  run "$tmp/datadir3" INSTALL_K3C_EXEC="server -d data" INSTALL_K3C_ARCH=x86_64

# --- OpenRC ---
r=$tmp/openrc
check "INSTALL_K3C_INIT=openrc install" run "$r" INSTALL_K3C_INIT=openrc INSTALL_K3C_EXEC="server --node-label=a=b" INSTALL_K3C_ARCH=x86_64
rc=$r/etc/init.d/k3c
check "/etc/init.d/k3c written, executable, valid sh" sh -c "test -x '$rc' && sh -n '$rc'"
expect_output "it runs k3c server under supervise-daemon with the flags" \
  "^#!/sbin/openrc-run .*supervisor=supervise-daemon .*command=\"/usr/local/bin/k3c\" command_args=\"server '--node-label=a=b'\"" sh -c "tr '\n' ' ' <'$rc'"
expect_output "... and reads the private environment file" '^\[ -f /etc/k3c/k3c.env \] && \. /etc/k3c/k3c.env$' grep 'k3c.env' "$rc"
expect_output "environment file 0600 under /etc/k3c" '^600$' stat -c %a "$r/etc/k3c/k3c.env"
check "no systemd unit with OpenRC" test ! -e "$r/etc/systemd/system/k3c.service"
expect_output "an unknown INSTALL_K3C_INIT is refused" "INSTALL_K3C_INIT must be systemd or openrc" run "$tmp/badinit" INSTALL_K3C_INIT=upstart INSTALL_K3C_ARCH=x86_64

# --- running it again upgrades in place and keeps the data ---
r=$tmp/server
mkdir -p "$r/var/lib/k3c/server"
echo keep >"$r/var/lib/k3c/server/marker"
printf 'old' >"$r/usr/local/bin/k3c"
check "a second install over the first" run "$r" INSTALL_K3C_EXEC="--write-kubeconfig-mode 644" INSTALL_K3C_ARCH=x86_64
check "... replaces the binary" cmp "$r/usr/local/bin/k3c" "$root/out/k3c"
expect_output "... keeps the data" '^keep$' cat "$r/var/lib/k3c/server/marker"
expect_output "... rewrites the unit with the new flags" "^    '644'\$" grep -- "'644'" "$r/etc/systemd/system/k3c.service"

if command -v shellcheck >/dev/null 2>&1; then
  check "install.sh is shellcheck-clean" shellcheck "$inst"
  check "the scripts it writes are shellcheck-clean" shellcheck -s sh "$tmp/agent/usr/local/bin/k3c-killall.sh" "$tmp/agent/usr/local/bin/k3c-agent-uninstall.sh"
else
  fail "install.sh is shellcheck-clean" "shellcheck is not installed (scripts/deps.sh installs it)"
fi

# --- artifact per architecture ---
for m in aarch64:k3c-arm64 arm64:k3c-arm64 armv7l:k3c-armhf amd64:k3c; do
  r=$tmp/arch-${m%%:*}
  if run "$r" INSTALL_K3C_ARCH="${m%%:*}" >/dev/null 2>&1 && cmp -s "$r/usr/local/bin/k3c" "$root/out/${m#*:}"; then
    ok "uname -m ${m%%:*} installs ${m#*:}"
  else
    fail "uname -m ${m%%:*} installs ${m#*:}"
  fi
done
expect_output "armv6l is refused (the armhf build needs ARMv7)" 'needs ARMv7' run "$tmp/v6" INSTALL_K3C_ARCH=armv6l
expect_output "an unknown architecture is refused" 'no k3c build for architecture riscv64' run "$tmp/rv" INSTALL_K3C_ARCH=riscv64

# --- checksum verification ---
bad=$tmp/bad-out
mkdir -p "$bad"
cp "$root"/out/k3c* "$bad/"
printf 'X' | dd of="$bad/k3c" bs=1 seek=1000 conv=notrunc 2>/dev/null
r=$tmp/corrupt
expect_output "a corrupted artifact is refused" 'sha256 of k3c is [0-9a-f]{64}, expected [0-9a-f]{64}: refusing to install' \
  clean_env INSTALL_K3C_ROOT="$r" INSTALL_K3C_ARTIFACT_DIR="$bad" INSTALL_K3C_ARCH=x86_64 sh "$inst"
expect_status "... with a non-zero exit status" 1 clean_env INSTALL_K3C_ROOT="$r" INSTALL_K3C_ARTIFACT_DIR="$bad" INSTALL_K3C_ARCH=x86_64 sh "$inst"
check "... and nothing is installed" test ! -e "$r/usr/local/bin/k3c" -a ! -e "$r/etc/systemd/system/k3c.service"
rm -f "$bad/k3c-arm64.sha256"
expect_output "an artifact without a .sha256 is refused" 'k3c-arm64.sha256 not found' \
  clean_env INSTALL_K3C_ROOT="$tmp/nosum" INSTALL_K3C_ARTIFACT_DIR="$bad" INSTALL_K3C_ARCH=aarch64 sh "$inst"

# --- download over HTTP, and curl | sh ---
srv=$tmp/www
mkdir -p "$srv/good" "$srv/bad"
cp "$root"/out/* "$srv/good/"
cp "$bad"/k3c "$bad"/k3c.sha256 "$srv/bad/"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory "$srv" >"$tmp/http.log" 2>&1 &
http_pid=$!
for i in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/good/k3c.sha256" && break; sleep 0.1; done
r=$tmp/dl
check "install with INSTALL_K3C_URL_BASE downloads and verifies" \
  clean_env INSTALL_K3C_ROOT="$r" INSTALL_K3C_URL_BASE="http://127.0.0.1:$port/good/" INSTALL_K3C_ARCH=x86_64 sh "$inst"
check "downloaded binary is out/k3c" cmp "$r/usr/local/bin/k3c" "$root/out/k3c"
expect_output "a corrupted download is refused" 'refusing to install' \
  clean_env INSTALL_K3C_ROOT="$tmp/dlbad" INSTALL_K3C_URL_BASE="http://127.0.0.1:$port/bad" INSTALL_K3C_ARCH=x86_64 sh "$inst"
check "... and nothing is installed" test ! -e "$tmp/dlbad/usr/local/bin/k3c"
expect_output "a missing download fails" 'download of .* failed' \
  clean_env INSTALL_K3C_ROOT="$tmp/dl404" INSTALL_K3C_URL_BASE="http://127.0.0.1:$port/nothing" INSTALL_K3C_ARCH=x86_64 sh "$inst"
ver=$("$root/out/k3c" --version | sed -n 's/^k3c version \(v[^ ]*\) .*/\1/p')
mkdir -p "$srv/rel/$ver"
cp "$root"/out/* "$srv/rel/$ver/"
r=$tmp/ver
expect_output "INSTALL_K3C_VERSION downloads from <base>/<version>/ and checks the binary says it" "k3c version ${ver//+/\\+}" \
  clean_env INSTALL_K3C_ROOT="$r" INSTALL_K3C_URL_BASE="http://127.0.0.1:$port/rel" INSTALL_K3C_VERSION="$ver" INSTALL_K3C_ARCH=x86_64 sh "$inst"
check "... the binary of that version" cmp "$r/usr/local/bin/k3c" "$root/out/k3c"
expect_output "a version that is not there fails" 'download of .*/rel/v0.0.1/k3c.sha256 failed' \
  clean_env INSTALL_K3C_ROOT="$tmp/ver2" INSTALL_K3C_URL_BASE="http://127.0.0.1:$port/rel" INSTALL_K3C_VERSION=v0.0.1 INSTALL_K3C_ARCH=x86_64 sh "$inst"
r=$tmp/pipe
check "curl -sfL .../install.sh | sh -s - server --flag" sh -c "curl -sfL 'http://127.0.0.1:$port/good/install.sh' |
  env -i PATH='$PATH' INSTALL_K3C_ROOT='$r' INSTALL_K3C_URL_BASE='http://127.0.0.1:$port/good' INSTALL_K3C_ARCH=x86_64 sh -s - server --disable-agent"
expect_output "... with the arguments in ExecStart" "^ExecStart=/usr/local/bin/k3c server \\\\\$" grep '^ExecStart=' "$r/etc/systemd/system/k3c.service"
expect_output "... each on its own line" "^    '--disable-agent'\$" grep -- "--disable-agent" "$r/etc/systemd/system/k3c.service"
check "INSTALL_K3C_SKIP_DOWNLOAD=true keeps the installed binary" \
  clean_env INSTALL_K3C_ROOT="$r" INSTALL_K3C_SKIP_DOWNLOAD=true INSTALL_K3C_ARCH=x86_64 sh "$inst"
done_testing
