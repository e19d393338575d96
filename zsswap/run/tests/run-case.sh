#!/usr/bin/env bash
# One case of zsswap-run's tests: run-case.sh CASE ZSSWAP_RUN CHECK TESTDIR.
# Each runs a program with and without the wrapper under a budget well below
# its peak, compares the output byte for byte, and reads --stats to see that
# pages really were compressed (stores > 0).  Exits 77 when userfaultfd is
# not available here.
set -uo pipefail
case=$1 run=$2 check=$3 dir=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL ($case): $*"; exit 1; }

# zsswap-run's own check of userfaultfd: skip where it cannot work.
if ! "$run" -r 1M -- true 2>"$tmp/probe"; then
  if grep -q "userfaultfd" "$tmp/probe"; then
    echo "SKIP: $(cat "$tmp/probe")"
    exit 77
  fi
  fail "zsswap-run -- true: $(cat "$tmp/probe")"
fi

stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/stats"; }

# same BUDGET -- CMD...: output of CMD wrapped equals output unwrapped, and
# the wrapped run compressed pages.
same() {
  local budget=$1
  shift 2
  "$@" >"$tmp/plain" 2>"$tmp/plain.err" || fail "unwrapped $*: status $? $(cat "$tmp/plain.err")"
  "$run" --max-resident "$budget" --stats "$tmp/stats" -- "$@" >"$tmp/wrapped" 2>"$tmp/wrapped.err" ||
    fail "wrapped $*: status $? $(cat "$tmp/wrapped.err")"
  cmp -s "$tmp/plain" "$tmp/wrapped" || fail "output differs: $(diff "$tmp/plain" "$tmp/wrapped" | head -5)"
  [ -s "$tmp/plain" ] || fail "no output from $*"
  local stores
  stores=$(stat_of stores)
  [ "${stores:-0}" -gt 0 ] || fail "no page was compressed under --max-resident $budget"
  echo "ok: $* under $budget: $(stat_of stores) pages compressed, $(stat_of loads) loaded back"
}

case $case in
threads) same 16M -- "$check" threads 96 ;;
syscalls) same 8M -- "$check" syscalls 64 ;;
fork) same 8M -- "$check" fork 48 ;;
zeros) same 8M -- "$check" zeros 64 ;;
python) same 32M -- /usr/bin/python3 "$dir/py-heap.py" 120 ;;
sqlite) same 16M -- sqlite3 -cmd ".parameter set @rows 300000" :memory: ".read $dir/sqlite-db.sql" ;;
sort-gzip)
  # 40 MB of lines through sort (a 64 MB buffer) and gzip, in a pipe.
  awk 'BEGIN { for (i = 0; i < 1200000; i++) printf "%08x line %d of the input %s\n", (i * 2654435761) % 4294967296, i, substr("abcdefghijklmnop", 1 + i % 16) }' >"$tmp/in"
  sort -S 64M <"$tmp/in" | gzip -c -6 | md5sum >"$tmp/plain"
  "$run" -r 12M --stats "$tmp/stats" -- sort -S 64M <"$tmp/in" |
    "$run" -r 4M -- gzip -c -6 | md5sum >"$tmp/wrapped" || fail "wrapped pipe failed"
  cmp -s "$tmp/plain" "$tmp/wrapped" || fail "sort | gzip output differs"
  [ "$(stat_of stores)" -gt 0 ] || fail "sort's heap was not compressed"
  echo "ok: sort | gzip under 12M/4M: $(stat_of stores) pages of sort's compressed"
  ;;
bench)
  # zsswap-bench --run (the issue's benchmark, zsswap-run's half): the
  # wrapped output is the run alone's, pages were compressed; a failing
  # program and a missing PROGRAM are reported as failures.
  bench=$(dirname "$run")/zsswap-bench
  "$bench" --run --no-kernel --budget-mb 8 -- "$check" threads 32 >"$tmp/report" ||
    fail "zsswap-bench --run: status $?: $(cat "$tmp/report")"
  grep -Eq '^  zsswap-run +[0-9.]+ .* same; [1-9][0-9]* stores' "$tmp/report" ||
    fail "no zsswap-run row with the same output and stores: $(cat "$tmp/report")"
  grep -Eq '^  alone +[0-9.]+' "$tmp/report" || fail "no row for the run alone"
  rc=0; "$bench" --run --no-kernel --budget-mb 8 -- false >"$tmp/report" || rc=$?
  [ $rc -eq 1 ] && grep -q 'missing: false exited with status 1' "$tmp/report" ||
    fail "a failing program: status $rc: $(cat "$tmp/report")"
  rc=0; "$bench" --run 2>"$tmp/err" || rc=$?
  [ $rc -eq 2 ] && grep -q 'needs a PROGRAM' "$tmp/err" || fail "--run alone: status $rc"
  echo "ok: zsswap-bench --run compares, reports failures"
  ;;
stats)
  "$run" -r 4M --stats "$tmp/stats" -- "$check" threads 32 >/dev/null || fail "run failed"
  for k in resident_pages stored_pages stores loads memory_total; do
    [ -n "$(stat_of $k)" ] || fail "--stats has no $k"
  done
  ps=$(getconf PAGESIZE)
  [ "$(stat_of resident_pages)" -le $((4 * 1048576 / ps + 1)) ] ||
    fail "resident_pages $(stat_of resident_pages) above the 4M budget"
  # Exit status and signals come through.
  "$run" -r 1M -- sh -c 'exit 42'
  [ $? -eq 42 ] || fail "exit status not passed through"
  "$run" -r 1M -- sh -c 'kill -TERM $$'
  [ $? -eq 143 ] || fail "a signal's death is not 128+signal"
  echo abc | "$run" -r 1M -- cat >"$tmp/out" && [ "$(cat "$tmp/out")" = abc ] || fail "stdin/stdout"
  echo "ok: stats, exit status, signals and pipes"
  ;;
errors)
  expect() { # expect STATUS PATTERN -- ARGS...
    local want=$1 pat=$2
    shift 3
    "$run" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [ "$got" -eq "$want" ] || fail "zsswap-run $*: status $got, want $want"
    grep -q -- "$pat" "$tmp/err" || fail "zsswap-run $*: no '$pat' in: $(cat "$tmp/err")"
  }
  expect 127 "such-program: No such file" -- -r 1M -- /no/such-program
  expect 126 "Permission denied" -- -r 1M -- "$tmp"
  expect 125 "is not a size" -- -r 12Q -- true
  expect 125 "below the 1M" -- -r 512K -- true
  expect 125 "unknown algorithm" -- -r 1M -a brotli -- true
  expect 125 "no PROGRAM" -- -r 1M
  expect 125 "writeback" -- -r 1M -p 1M -w /no/such/dir/file -- true
  # userfaultfd refused: an unprivileged user while the sysctl forbids it.
  if [ "$(id -u)" -eq 0 ] && [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] &&
    command -v setpriv >/dev/null; then
    cp "$run" "$tmp/zr" && chmod 755 "$tmp" "$tmp/zr"
    ldd "$run" | grep -q "not found" && fail "ldd"
    ZSSWAP_RUN_LIBRARY=/unused setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/zr" -r 1M -- true 2>"$tmp/err"
    st=$?
    [ $st -eq 125 ] || fail "without userfaultfd: status $st"
    grep -q "vm.unprivileged_userfaultfd" "$tmp/err" || fail "no sysctl named in: $(cat "$tmp/err")"
  else
    echo "note: the userfaultfd-refused case needs root and vm.unprivileged_userfaultfd=0"
  fi
  echo "ok: errors"
  ;;
*) fail "unknown case" ;;
esac
