#!/usr/bin/env bash
# check-exports.sh - each shared library exports its public header's
# functions and nothing else: every dynamic symbol it defines (nm -D) must
# be named in the header, and there must be some.
# Usage: scripts/check-exports.sh LIB.so HEADER [LIB.so HEADER ...]
set -euo pipefail
status=0
while [ $# -ge 2 ]; do
  lib=$1 header=$2
  shift 2
  syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }')
  if [ -z "$syms" ]; then
    echo "check-exports: $lib exports nothing" >&2
    status=1
  fi
  bad=0
  for s in $syms; do
    if ! grep -qw -- "$s" "$header"; then
      echo "check-exports: $lib exports $s, which $header does not declare" >&2
      bad=1
    fi
  done
  [ $bad -eq 0 ] || status=1
  echo "$(basename "$lib"): $(echo "$syms" | wc -w) symbols exported, $([ $bad -eq 0 ] && echo "all" || echo "not all") declared in $(basename "$header")"
done
[ $# -eq 0 ] || { echo "check-exports: LIB.so without a HEADER" >&2; exit 2; }
exit $status
