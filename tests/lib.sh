# TAP helpers for shell test scripts. Source it, call `check name cmd...` or
# `ok`/`fail`/`skip`, and end with `done_testing`.
tap__n=0
tap__failed=0

ok()   { tap__n=$((tap__n + 1)); echo "ok $tap__n - $1"; }
# Every line of the details is a TAP comment, so output that itself holds
# "ok N" lines is not counted.
fail() { tap__n=$((tap__n + 1)); tap__failed=$((tap__failed + 1)); echo "not ok $tap__n - $1"; shift; [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'; return 0; }
skip() { tap__n=$((tap__n + 1)); echo "ok $tap__n - $1 # SKIP $2"; }

# bail NAME [DETAILS...]: fail NAME and end the script here (status 1, the
# plan counting the checks run so far), for a step the remaining checks
# need. The script's EXIT trap still runs.
bail() {
  fail "$@"
  echo "# stopping: the remaining checks need this"
  done_testing
  exit 1
}

# check NAME CMD...: passes when CMD exits 0; shows its output when it fails.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "command: $*" "$(printf '%s' "$out" | tail -n 20)"; fi
}

# expect_output NAME WANT_REGEX CMD...: passes when CMD's combined output matches.
expect_output() {
  local name=$1 want=$2 out
  shift 2
  out=$("$@" 2>&1)
  if printf '%s' "$out" | grep -Eq -- "$want"; then ok "$name"; else fail "$name" "command: $*" "wanted /$want/, got:" "$(printf '%s' "$out" | tail -n 20)"; fi
}

# expect_status NAME STATUS CMD...
expect_status() {
  local name=$1 want=$2 got
  shift 2
  "$@" >/dev/null 2>&1
  got=$?
  if [ "$got" = "$want" ]; then ok "$name"; else fail "$name" "command: $*" "exit status $got, want $want"; fi
}

done_testing() {
  echo "1..$tap__n"
  [ "$tap__failed" = 0 ]
}
