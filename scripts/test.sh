#!/usr/bin/env bash
# Sets up, builds and runs every test in three configurations:
#   release    Release build
#   asan       ASan + UBSan, with the allocator's debug checks
#   tsan       TSan, with the allocator's debug checks
# Usage: scripts/test.sh [config ...]   (default: all three)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
jobs=$(nproc)
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(release asan tsan)
for cfg in "${configs[@]}"; do
  case "$cfg" in
    release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
    asan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZS_SANITIZE=address,undefined) ;;
    tsan)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZS_SANITIZE=thread) ;;
    *) echo "test.sh: unknown configuration '$cfg' (release, asan, tsan)" >&2; exit 2 ;;
  esac
  dir="$top/build/$cfg"
  echo "=== $cfg: configure and build in $dir"
  cmake -S "$top" -B "$dir" "${args[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== $cfg: test"
  ZS_TEST_CONFIG=$cfg ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
done
