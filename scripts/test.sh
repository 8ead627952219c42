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

# run_tap NAME TIMEOUT CMD...: run one test program and count its TAP lines.
run_tap() {
  local name=$1 limit=$2 out rc p f s planned ran
  shift 2
  local log=$B/testlogs/${name//\//_}.log
  mkdir -p "$B/testlogs"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
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
  printf '%-50s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
  grep -E '^ok [0-9]+ .*# SKIP' "$log" | sed 's/^/    /'
  if [ "$f" != 0 ]; then
    failures+=("$name")
    grep -E -A12 '^not ok' "$log" | head -n 60 | sed 's/^/    /'
    grep -E -B2 -A25 'ERROR: (Address|Leak)Sanitizer|runtime error' "$log" | head -n 60 | sed 's/^/    /'
  fi
}

for suite in $suites; do
  echo "== suite: $suite"
  case $suite in
    unit)
      for t in $(find "$B/tests/unit" -type f -name 'test_*' -perm -u+x | sort); do
        run_tap "unit/${t#$B/tests/unit/}" 300 "$t"
      done
      ;;
    integration|e2e|build)
      [ -d "tests/$suite" ] || { echo "   (no tests/$suite)"; continue; }
      for t in $(find "tests/$suite" -maxdepth 1 -type f \( -name 'test_*.sh' -o -name 'test_*.py' \) | sort); do
        case $t in
          *.py) run_tap "$t" 900 /usr/bin/python3 "$t" ;;
          *.sh) run_tap "$t" 1200 bash "$t" ;;
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
