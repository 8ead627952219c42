# The static x86_64 build: scripts/build-static.sh x86_64 produces a stripped,
# fully static musl binary that runs with nothing else on the filesystem.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/out/k3c
b=$root/_deps/build-static-x86_64
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t0=$SECONDS
if out=$(bash "$root/scripts/build-static.sh" x86_64 2>&1); then
  ok "build-static.sh x86_64 builds out/k3c"
else
  fail "build-static.sh x86_64 builds out/k3c" "$(printf '%s' "$out" | tail -n 30)"
fi
echo "# build took $((SECONDS - t0))s"
printf '%s\n' "$out" | grep -E '^(deps|build-static):' | sed 's/^/# /'

if [ ! -x "$bin" ]; then
  fail "out/k3c exists" "no executable $bin"
  done_testing
  exit
fi
echo "# out/k3c: $(stat -c %s "$bin") bytes stripped, $(stat -c %s "$b/k3c") bytes unstripped"

expect_output "file: x86-64, statically linked, stripped" 'ELF 64-bit LSB executable, x86-64.*statically linked.*, stripped' file -b "$bin"
expect_output "ldd: not a dynamic executable" 'not a dynamic executable' ldd "$bin"
expect_output "readelf: no dynamic section" 'no dynamic section|There is no dynamic section' readelf -d "$bin"

# An empty root holding only the binary: no libc, no -dev packages, no /dev.
mkdir -p "$tmp/root"
cp "$bin" "$tmp/root/k3c"
expect_output "chroot holds only the binary" '^k3c$' ls -A "$tmp/root"
expect_output "k3c --version runs in an empty chroot" '^k3c version v[0-9]+\.[0-9]+\.[0-9]+\+k3c[0-9]+ \(' chroot "$tmp/root" /k3c --version
expect_output "k3c server --help runs in an empty chroot" 'https-listen-port' chroot "$tmp/root" /k3c server --help

# The unit tests, linked the same way, run natively.
n=0
for t in $(find "$b/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
  n=$((n + 1))
  name=${t#$b/tests/unit/}
  if out=$(cd "$tmp" && timeout 300 "$t" 2>&1) && ! printf '%s' "$out" | grep -q '^not ok'; then
    ok "static unit test $name ($(printf '%s' "$out" | grep -c '^ok') ok)"
  else
    fail "static unit test $name" "$(printf '%s' "$out" | grep -A5 '^not ok' | head -n 20)" "$(printf '%s' "$out" | tail -n 5)"
  fi
done
[ "$n" -gt 0 ] || fail "static build has unit tests" "none found under $b/tests/unit"
done_testing
