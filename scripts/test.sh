#!/usr/bin/env bash
# Run every k3c test suite on a Debian 12 machine, installing what it needs.
#
#   bash scripts/test.sh            all suites: unit integration e2e build
#   bash scripts/test.sh unit ...   only the named suites
#
# Code is built with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-asan/. Every test program speaks TAP; the last line printed is
# "N passed, N failed, N skipped". Exit status is 0 only when nothing failed.
set -u
cd "$(dirname "$0")/.."
root=$PWD
. scripts/deps.sh

suites=${*:-unit integration e2e build}
deps_install build test || exit 1

B=${K3C_BUILD_DIR:-build-asan}
case $B in /*) ;; *) B=$root/$B ;; esac
if [ ! -f "$B/build.ninja" ]; then
  meson setup "$B" -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug >/dev/null || exit 1
fi
echo "== building (ASan+UBSan) in $B/"
ninja -C "$B" >"$B/ninja.log" 2>&1 || { tail -n 50 "$B/ninja.log"; echo "0 passed, 1 failed"; exit 1; }
scripts/check-banned.sh || { echo "0 passed, 1 failed"; exit 1; }

export K3C_BIN=$B/k3c K3C_BUILD_DIR=$B
export K3C_SRC=$root
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:print_summary=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0

passed=0 failed=0 skipped=0
failures=()

# A test program runs with its output in $B/testlogs/NAME.log; its exit
# status and duration go to NAME.rc beside it. tally NAME TIMEOUT then counts
# its TAP lines and prints its summary.
logof() { echo "$B/testlogs/${1//\//_}.log"; }
run_one() {
  local name=$1 limit=$2 log t0=$SECONDS rc
  shift 2
  log=$(logof "$name")
  mkdir -p "$B/testlogs"
  rm -f "$log.rc"
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  echo "$rc $((SECONDS - t0))" >"$log.rc.tmp" && mv "$log.rc.tmp" "$log.rc"
}
tally() {
  local name=$1 limit=$2 log rc secs p f s planned ran
  log=$(logof "$name")
  read -r rc secs <"$log.rc"
  p=$(grep -Ec '^ok [0-9]+' "$log" | tr -d ' ')
  s=$(grep -Ec '^ok [0-9]+ .*# SKIP' "$log" | tr -d ' ')
  f=$(grep -Ec '^not ok [0-9]+' "$log" | tr -d ' ')
  p=$((p - s))
  planned=$(grep -Eo '^1\.\.[0-9]+' "$log" | head -n 1 | cut -d. -f3)
  ran=$((p + s + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    f=1
    [ "$rc" = 124 ] && echo "not ok - $name timed out after ${limit}s" >>"$log" || echo "not ok - $name exited with status $rc" >>"$log"
  elif [ -n "$planned" ] && [ "$ran" -lt "$planned" ]; then
    f=$((f + planned - ran))
    echo "not ok - $name ran $ran of $planned planned tests" >>"$log"
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  printf '%-50s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" "$secs"
  grep -E '^ok [0-9]+ .*# SKIP' "$log" | sed 's/^/    /'
  if [ "$f" != 0 ]; then
    failures+=("$name")
    grep -E -A12 '^not ok' "$log" | head -n 60 | sed 's/^/    /'
    grep -E -B2 -A25 'ERROR: (Address|Leak)Sanitizer|runtime error' "$log" | head -n 60 | sed 's/^/    /'
  fi
}
# run_tap NAME TIMEOUT CMD...: run one test program alone and count it.
run_tap() {
  run_one "$@"
  tally "$1" "$2"
}

# Integration tests each start their own server on a free port, so they
# can run side by side: K3C_TEST_JOBS (default 2) at a time, each counted
# as it ends. Those that time the server or load it (latency bounds,
# floods, slow clients, leases and node heartbeats) run alone afterwards.
serial_integration="test_api_load.sh test_load_hostile.py test_slowloris.py test_hostile_bodies.py
  test_hostile_decode.py test_hostile_query.py test_leaderelection.py test_nodelifecycle.py
  test_hollow.py test_scheduler_hollow.py test_https.py test_flood_429.py"
interp() { case $1 in *.py) echo /usr/bin/python3 ;; *) echo bash ;; esac; }
run_pool() { # TIMEOUT TEST...
  local limit=$1 t jobs=${K3C_TEST_JOBS:-2} pending=()
  shift
  for t in "$@"; do
    run_one "$t" "$limit" "$(interp "$t")" "$t" &
    pending+=("$t")
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
      wait -n
      tally_done
    done
  done
  wait
  tally_done
}
tally_done() { # count the pool's tests that have ended, in the order they ended
  local t rest=()
  for t in "${pending[@]}"; do
    if [ -f "$(logof "$t").rc" ]; then tally "$t" "$limit"; else rest+=("$t"); fi
  done
  pending=("${rest[@]}")
}

for suite in $suites; do
  echo "== suite: $suite"
  case $suite in
    unit)
      for t in $(find "$B/tests/unit" -type f -name 'test_*' -perm -u+x | sort); do
        run_tap "unit/${t#$B/tests/unit/}" 300 "$t"
      done
      ;;
    integration)
      pool=() alone=()
      for t in $(find tests/integration -maxdepth 1 -type f \( -name 'test_*.sh' -o -name 'test_*.py' \) | sort); do
        case " $(echo $serial_integration) " in
          *" ${t##*/} "*) alone+=("$t") ;;
          *) pool+=("$t") ;;
        esac
      done
      run_pool 900 "${pool[@]}"
      for t in "${alone[@]}"; do run_tap "$t" 900 "$(interp "$t")" "$t"; done
      ;;
    e2e|build)
      [ -d "tests/$suite" ] || { echo "   (no tests/$suite)"; continue; }
      # e2e tests share the host's containerd paths, CNI state and nf_tables:
      # one at a time across every run on the machine (a developer's own
      # run of one test takes the same lock)
      lock=()
      [ "$suite" = e2e ] && lock=(flock /run/k3c-e2e.lock)
      for t in $(find "tests/$suite" -maxdepth 1 -type f \( -name 'test_*.sh' -o -name 'test_*.py' \) | sort); do
        case $t in
          *.py) run_tap "$t" 900 "${lock[@]}" /usr/bin/python3 "$t" ;;
          *.sh) run_tap "$t" 1200 "${lock[@]}" bash "$t" ;;
        esac
      done
      ;;
    *) echo "unknown suite $suite (use unit, integration, e2e, build)"; exit 2 ;;
  esac
done

if [ ${#failures[@]} -gt 0 ]; then
  echo "failed: ${failures[*]} (logs in $B/testlogs/)"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
