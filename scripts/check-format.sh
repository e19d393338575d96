#!/usr/bin/env bash
# check-format.sh - fails when a C source or header of the tree is not as
# clang-format (with the root's .clang-format) would write it, and names
# each such file.  Exit status: 0 formatted, 1 not, 77 clang-format missing
# (CTest reports the check_format test as skipped then).
# Usage: scripts/check-format.sh [--fix]    (--fix: format the files in place)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null; then
  echo "check-format.sh: $cf not found (scripts/setup.sh installs it)" >&2
  exit 77
fi
cd "$top"
if [ -d .git ] || [ -f .git ]; then
  mapfile -t files < <(git ls-files '*.c' '*.h')
else
  mapfile -t files < <(find . -name build -prune -o \( -name '*.c' -o -name '*.h' \) -print)
fi
if [ "${1:-}" = --fix ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check-format.sh: $f is not formatted (scripts/check-format.sh --fix)" >&2
    bad=$((bad + 1))
  fi
done
if [ $bad -gt 0 ]; then
  echo "check-format.sh: $bad of ${#files[@]} files not formatted" >&2
  exit 1
fi
echo "check-format.sh: all ${#files[@]} files formatted"
