# Every libFuzzer harness of fuzz/ (the parsers that face input: HTTP, query
# strings, JSON and its patches, selectors, YAML, protobuf bodies, JWTs,
# quantities, DNS messages, node options, registries, image manifests) runs for
# K3C_FUZZ_SECONDS (default 5) from its seed corpus through scripts/fuzz.sh.
# Each line reports the executions done; a crash, leak, sanitizer report or
# timeout is a failure with the finding's output. Findings land in
# build-fuzz/ (crash-*, leak-*, timeout-*) for replay.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${K3C_FUZZ_SECONDS:-5}
cd "$root" || exit 1
harnesses=$(sed -n 's/^all="\(.*\)"$/\1/p' scripts/fuzz.sh)
[ -n "$harnesses" ] || { fail "the harness list of scripts/fuzz.sh is readable"; done_testing; exit; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Two harnesses at a time (each is one process on one core); findings are
# written into the working directory.
running=0
for h in $harnesses; do
  (timeout --kill-after=10 $((secs + 120)) bash scripts/fuzz.sh "$secs" "$h" >"$out/$h.log" 2>&1
   echo $? >"$out/$h.rc") &
  running=$((running + 1))
  if [ "$running" -ge 2 ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
for h in $harnesses; do
  log=$out/$h.log
  if [ "$(cat "$out/$h.rc" 2>/dev/null)" = 0 ]; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -n 1)
    if [ -n "$runs" ]; then
      ok "fuzz_$h: $runs, no findings"
    else
      fail "fuzz_$h: ran" "$(tail -n 20 "$log")"
    fi
  else
    fail "fuzz_$h: no findings in ${secs} s" "$(grep -E -A20 'ERROR|runtime error|error:|deadly signal' "$log" | head -n 40)" "$(ls crash-* leak-* timeout-* 2>/dev/null)"
  fi
done
done_testing
