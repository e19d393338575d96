#!/usr/bin/env bash
# coverage.sh - line coverage of the library reached by the fuzz corpora.
# Builds the harnesses with CMake and clang source coverage (-DZS_COVERAGE=ON,
# in OUT/build-cov) around fuzz_replay.c, replays the seed corpus
# (fuzz/corpus/<harness>/) and what fuzzing found (OUT/corpus/<harness>/,
# from run-fuzzers.sh), and prints llvm-cov's report of src/*.c per harness
# and for all harnesses together (and of zsram/src/*.c for the zsram one).
#
# Usage: fuzz/coverage.sh [--out DIR] [--build-only] [HARNESS...]
#        (default: every harness the build has; OUT defaults to build/fuzz)
# Needs clang and llvm-cov/llvm-profdata (Debian: llvm-14).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
prog=coverage.sh
pick() { for t in "$@"; do command -v "$t" >/dev/null && { echo "$t"; return 0; }; done; return 1; }
profdata=$(pick llvm-profdata-14 llvm-profdata) || { echo "coverage.sh: llvm-profdata not found (install llvm-14)" >&2; exit 1; }
llvmcov=$(pick llvm-cov-14 llvm-cov) || { echo "coverage.sh: llvm-cov not found (install llvm-14)" >&2; exit 1; }
# shellcheck source=fuzz/fuzz-build.sh
. "$top/fuzz/fuzz-build.sh"
fuzz_build cov "$@"
mkdir -p "$out/cov"

lib_files=("$top"/src/*.c)
profiles=()
bins=()
for h in "${harnesses[@]}"; do
  bin="$build/fuzz/fuzz_replay_$h"
  dirs=("$top/fuzz/corpus/$h")
  [ -d "$out/corpus/$h" ] && dirs+=("$out/corpus/$h")
  rm -f "$out/cov/$h".*.profraw
  echo "=== $h: replaying ${dirs[*]}"
  LLVM_PROFILE_FILE="$out/cov/$h.%p.profraw" "$bin" "${dirs[@]}" | tail -1
  "$profdata" merge -sparse "$out/cov/$h".*.profraw -o "$out/cov/$h.profdata"
  echo "--- $h: line coverage of src/*.c"
  "$llvmcov" report "$bin" -instr-profile="$out/cov/$h.profdata" "${lib_files[@]}" |
    awk 'NR <= 2 || /^TOTAL/ || /\.c / { print }' | sed "s|$top/||"
  if [ "$h" != pool ]; then
    echo "--- $h: line coverage of zsram/src/*.c"
    "$llvmcov" report "$bin" -instr-profile="$out/cov/$h.profdata" "$top"/zsram/src/*.c |
      grep '^TOTAL'
  fi
  profiles+=("$out/cov/$h.profdata")
  bins+=("$bin")
done
if [ ${#bins[@]} -gt 1 ]; then
  "$profdata" merge -sparse "${profiles[@]}" -o "$out/cov/all.profdata"
  objs=()
  for b in "${bins[@]:1}"; do objs+=(-object "$b"); done
  echo "=== all harnesses: line coverage of src/*.c"
  "$llvmcov" report "${bins[0]}" "${objs[@]}" -instr-profile="$out/cov/all.profdata" \
    "${lib_files[@]}" | grep '^TOTAL'
fi
