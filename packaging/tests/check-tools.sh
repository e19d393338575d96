#!/usr/bin/env bash
# Every program installed in PREFIX/bin answers --help (usage on stdout,
# status 0) and --version ("NAME (zsmalloc) VERSION", status 0).
# Usage: check-tools.sh PREFIX VERSION
set -euo pipefail
prefix=$1 version=$2
fail=0 n=0
for tool in "$prefix"/bin/*; do
  [ -x "$tool" ] || continue
  name=$(basename "$tool")
  n=$((n + 1))
  if ! help=$("$tool" --help 2>/dev/null </dev/null) || [ -z "$help" ]; then
    echo "FAIL: $name --help: no usage on stdout, or a non-zero status"
    fail=1
  elif ! grep -qi "usage" <<<"$help"; then
    echo "FAIL: $name --help does not print a usage line"
    fail=1
  fi
  want="$name (zsmalloc) $version"
  got=$("$tool" --version 2>&1 </dev/null || true)
  if [ "$got" != "$want" ]; then
    echo "FAIL: $name --version printed '$got', want '$want'"
    fail=1
  fi
done
if [ "$n" -eq 0 ]; then
  echo "FAIL: no program in $prefix/bin"
  exit 1
fi
[ "$fail" -eq 0 ] && echo "ok: $n installed programs answer --help and --version ($version)"
exit "$fail"
