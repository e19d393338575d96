#!/usr/bin/env bash
# Sets up, builds (Release) and runs the main job on its built-in default.
# Extra arguments go to the main job.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
dir="$top/build/release"
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j "$(nproc)"
if [ -x "$dir/bench/zsbench" ]; then
  exec "$dir/bench/zsbench" "$@"
fi
exec "$dir/tools/zs-example" "$@"
