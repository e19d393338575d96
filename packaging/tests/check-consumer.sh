#!/usr/bin/env bash
# Builds tests/consumer/ against an installed tree four ways and runs each:
# find_package shared and static, pkg-config shared and static.  A shared
# build must need libzsmalloc.so.0 at run time, a static one no library of
# ours.  Usage: check-consumer.sh PREFIX WORKDIR
set -euo pipefail
prefix=$(cd "$1" && pwd) work=$2
src=$(cd "$(dirname "$0")/consumer" && pwd)
rm -rf "$work" && mkdir -p "$work"
libdir=$(dirname "$(find "$prefix" -name zsmalloc.pc -path '*/pkgconfig/*' | head -1)")/..
libdir=$(cd "$libdir" && pwd)

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
check_run() { # NAME BINARY shared|static
  local out
  out=$("$2") || { echo "FAIL: $1: the consumer failed: $out"; exit 1; }
  grep -q "consumer ok" <<<"$out" || { echo "FAIL: $1: printed '$out'"; exit 1; }
  if [ "$3" = shared ]; then
    grep -q '^libzsmalloc\.so\.0$' <<<"$(needed "$2")" || { echo "FAIL: $1: not linked to libzsmalloc.so.0"; exit 1; }
  elif grep -q '^libz\(smalloc\|pool\|sram\|sswap\)\.so' <<<"$(needed "$2")"; then
    echo "FAIL: $1: a static build needs $(needed "$2" | grep '^libz' | tr '\n' ' ')"; exit 1
  fi
  echo "ok: $1"
}

for kind in shared static; do
  static=OFF; [ $kind = static ] && static=ON
  cmake -S "$src" -B "$work/cmake-$kind" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCONSUMER_STATIC=$static -DCMAKE_BUILD_TYPE=Release >"$work/cmake-$kind.log" 2>&1 &&
    cmake --build "$work/cmake-$kind" >>"$work/cmake-$kind.log" 2>&1 ||
    { cat "$work/cmake-$kind.log"; echo "FAIL: find_package($kind) consumer does not build"; exit 1; }
  check_run "find_package, $kind" "$work/cmake-$kind/consumer" $kind
done

export PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_LIBDIR="$libdir/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
mods="zsswap zsram zpool zsmalloc"
# shellcheck disable=SC2046
cc -o "$work/pc-shared" "$src/consumer.c" $(pkg-config --cflags --libs $mods) -Wl,-rpath,"$libdir" ||
  { echo "FAIL: pkg-config shared consumer does not link"; exit 1; }
check_run "pkg-config, shared" "$work/pc-shared" shared
# shellcheck disable=SC2046
cc -o "$work/pc-static" "$src/consumer.c" $(pkg-config --cflags $mods) \
  -Wl,-Bstatic $(pkg-config --static --libs-only-L --libs-only-l $mods | sed 's/-ldl\b//; s/-lpthread\b//g') \
  -Wl,-Bdynamic -lpthread -ldl ||
  { echo "FAIL: pkg-config static consumer does not link"; exit 1; }
check_run "pkg-config, static" "$work/pc-static" static
