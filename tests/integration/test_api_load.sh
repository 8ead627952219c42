# The API under concurrent load: bench/bench_api starts the (sanitized) k3c
# server, creates, gets and lists ConfigMaps over several keep-alive TLS
# connections at once, checks every answer (status, name, list page size and
# continue token), then stops the server with SIGTERM. It fails on any wrong
# answer, a crash or sanitizer report in the server, a stall, descriptors
# left open after the clients leave, or an unclean exit.
. "$(dirname "$0")/../lib.sh"
B=${K3C_BUILD_DIR:?set K3C_BUILD_DIR to the build directory}
K3C=${K3C_BIN:-$B/k3c}
BENCH=$B/bench/bench_api

if [ ! -x "$BENCH" ]; then
  fail "bench_api is built" "missing $BENCH"
  done_testing
  exit 1
fi
dir=$(mktemp -d /tmp/k3c-api-load.XXXXXX)
out=$dir/out.txt
"$BENCH" -k "$K3C" -t 0.5 -n 3000 -o 600 -c 1,8,24 -d "$dir/data" >"$out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then ok "bench_api ran without errors"; else fail "bench_api ran without errors" "exit status $rc" "$(tail -n 20 "$out")" "$(tail -n 20 "$dir/data/server.log" 2>/dev/null)"; fi
for c in 1 8 24; do
  for op in version create get list; do
    expect_output "$op answered with $c clients" "^\| +$c \| $op +\| +[1-9][0-9]* \| +0 \|" cat "$out"
  done
done
for c in 8 24; do
  expect_output "GETs answered while $((c - 1)) clients list" "^\| +$c \| get\+L +\| +[1-9][0-9]* \| +0 \|" cat "$out"
done
fds=$(sed -nE 's/^server file descriptors: ([0-9]+) at start, ([0-9]+) after.*/\1 \2/p' "$out")
if [ -n "$fds" ] && [ "${fds#* }" -le "${fds% *}" ]; then
  ok "no descriptors left open ($fds)"
else
  fail "no descriptors left open" "start/end: ${fds:-not printed}"
fi
expect_output "server stopped cleanly" '^server stopped cleanly' cat "$out"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$dir/data/server.log" 2>/dev/null; then
  fail "no sanitizer reports in the server log" "$(grep -E -A20 'Sanitizer|runtime error' "$dir/data/server.log" | head -n 40)"
else
  ok "no sanitizer reports in the server log"
fi
rm -rf "$dir"
done_testing
