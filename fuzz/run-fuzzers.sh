#!/usr/bin/env bash
# run-fuzzers.sh - builds the libFuzzer harnesses with CMake and clang
# (-DZS_FUZZ=ON: ASan + UBSan + libFuzzer, the allocator's debug checks on,
# in OUT/build) and runs each for a bounded time from the seed corpus in
# fuzz/corpus/<harness>/ plus what earlier runs found (OUT/corpus/<harness>/).  Prints per harness the executions,
# libFuzzer's coverage counter (cov:) and the corpus size; exits non-zero on
# any crash, leak, timeout, failed check or build failure.
#
# Usage: fuzz/run-fuzzers.sh [--out DIR] [--build-only] [HARNESS...]
#        (default: every harness the build has; OUT defaults to build/fuzz)
# Environment:
#   FUZZ_TIME       seconds per harness (default 60)
#   FUZZ_RSS_MB     libFuzzer's -rss_limit_mb (default 3072)
#   FUZZ_FLAGS      more libFuzzer flags, e.g. "-seed=1 -jobs=2"
#   CC              the clang to use (default clang)
#   CMAKE           the cmake to use (default cmake)
# Harnesses: pool (libzsmalloc), zsram (the zsram store), plugin (the nbdkit
# plugin's parameters and requests, without nbdkit; when its header is there),
# zsswap (regions through userfaultfd, against a shadow copy).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
prog=run-fuzzers.sh
# shellcheck source=fuzz/fuzz-build.sh
. "$top/fuzz/fuzz-build.sh"
fuzz_time=${FUZZ_TIME:-60}
rss_mb=${FUZZ_RSS_MB:-3072}
case "$fuzz_time" in ''|*[!0-9]*) echo "run-fuzzers.sh: FUZZ_TIME must be a number of seconds, got '$fuzz_time'" >&2; exit 2 ;; esac
fuzz_build fuzz "$@"

status=0
summary=()
for h in "${harnesses[@]}"; do
  bin="$build/fuzz/fuzz_$h"
  corpus="$out/corpus/$h"
  seeds="$top/fuzz/corpus/$h"
  mkdir -p "$corpus" "$out/artifacts"
  log="$out/$h.log"
  echo "=== fuzz_$h: ${fuzz_time}s (log: $log)"
  rc=0
  # shellcheck disable=SC2086
  # A small quarantine and no fill of new blocks: twice the executions
  # (fresh memory costs page faults), use-after-free of recent blocks still
  # caught.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=8:max_malloc_fill_size=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "$bin" -max_total_time="$fuzz_time" -rss_limit_mb="$rss_mb" -timeout=60 \
      -detect_leaks=1 -print_final_stats=1 -max_len=4096 \
      -artifact_prefix="$out/artifacts/$h-" ${FUZZ_FLAGS:-} \
      "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  files=$(find "$corpus" -type f | wc -l)
  line="fuzz_$h: executions ${execs:-?}, cov ${cov:-?} (libFuzzer edges), corpus $files files"
  if [ $rc -ne 0 ]; then
    status=1
    line="$line: FAILED (exit $rc)"
    echo "--- fuzz_$h failed; the end of its log:" >&2
    grep -v -e '^#[0-9]' "$log" | tail -60 >&2
    ls "$out/artifacts/$h-"* 2>/dev/null | sed 's/^/    input: /' >&2 || true
    echo "    replay: $bin <input>   (or $build/fuzz/fuzz_replay_$h <input>)" >&2
  fi
  echo "$line"
  summary+=("$line")
done
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
