# fuzz-build.sh - the common part of run-fuzzers.sh and coverage.sh, which
# source it: their options, and the CMake build of the harnesses with clang
# (the list of harnesses is fuzz/CMakeLists.txt's, read from the build).
#
#   fuzz_build MODE "$@"
#     MODE  fuzz  -DZS_FUZZ=ON: libFuzzer + ASan + UBSan, debug checks on,
#                 in $out/build; programs fuzz_<harness>
#           cov   -DZS_COVERAGE=ON: clang source coverage, debug checks on,
#                 in $out/build-cov; programs fuzz_replay_<harness>
#     "$@"  the script's arguments: [--out DIR] [--build-only] [HARNESS...]
#   Sets out (absolute), build (the build folder), harnesses (those asked
#   for, else every one the build has), cc (CC or clang); exits 0 after the
#   build with --build-only, 2 on a bad argument, 1 when clang is missing or
#   the build fails.  Needs $top (the repository) and $prog (the script's name).

fuzz_build() {
  local mode=$1 build_only=0 dir flags have h
  shift
  out="$top/build/fuzz"
  harnesses=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out=${2:?--out needs a directory}; shift 2 ;;
      --build-only) build_only=1; shift ;;
      -h|--help) sed -n '2,/^set -euo/p' "$top/fuzz/$prog" | sed '$d'; exit 0 ;;
      -*) echo "$prog: unknown option '$1'" >&2; exit 2 ;;
      *) harnesses+=("$1"); shift ;;
    esac
  done
  cc=${CC:-clang}
  # A missing clang is a failure, not a skip: CI installs it (scripts/packages/fuzz.txt).
  if ! command -v "$cc" >/dev/null; then
    echo "$prog: '$cc' not found; install clang and libclang-rt-14-dev (scripts/setup.sh)" >&2
    exit 1
  fi
  case "$mode" in
    fuzz) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZS_FUZZ=ON) ;;
    cov)  dir=build-cov; flags=(-DCMAKE_BUILD_TYPE=Debug -DZS_COVERAGE=ON) ;;
  esac
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  build="$out/$dir"
  "${CMAKE:-cmake}" -S "$top" -B "$build" -DCMAKE_C_COMPILER="$cc" "${flags[@]}" \
    -DZS_BUILD_TESTS=OFF -DZS_BUILD_BENCH=OFF >"$out/$dir.log" 2>&1 &&
    "${CMAKE:-cmake}" --build "$build" -j2 --target fuzz_all >>"$out/$dir.log" 2>&1 || {
      echo "$prog: the $mode build failed; the end of $out/$dir.log:" >&2
      tail -30 "$out/$dir.log" >&2
      exit 1
    }
  read -ra have < "$build/fuzz/harnesses"
  if [ ${#harnesses[@]} -eq 0 ]; then
    harnesses=("${have[@]}")
  fi
  for h in "${harnesses[@]}"; do
    case " ${have[*]} " in
      *" $h "*) ;;
      *) echo "$prog: no harness '$h' in this build (${have[*]})" >&2; exit 2 ;;
    esac
  done
  if [ $build_only -eq 1 ]; then
    echo "$prog: built ${harnesses[*]} in $build"
    exit 0
  fi
}
