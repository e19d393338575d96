#!/usr/bin/env bash
# Builds the Debian packages of a build tree with cpack and checks them:
#   - the four packages are made, and together hold every file a plain
#     `cmake --install` puts under /usr (nothing lost between components);
#   - every ELF file's libraries come from a package it depends on (ours or
#     the system's, found with dpkg -S), Python scripts depend on python3,
#     the plugin on nbdkit;
#   - unpacked into a temporary root (dpkg-deb -x), the README's example
#     compiles with pkg-config against that root and runs, the tools run,
#     and the plugin sits in nbdkit's own plugin directory and loads;
#   - lintian reports no error (E: lines).
# Usage: check-deb.sh BUILD_DIR WORK_DIR README.md   (77: a tool is missing)
# (No `cmd | grep -q`: with pipefail, grep's early exit fails the writer.)
set -euo pipefail
build=$1 work=$2 readme=$3
for tool in cpack dpkg-deb dpkg-shlibdeps lintian nbdkit readelf; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup.sh installs it)"; exit 77; }
done
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/debs" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
packages=(libzsmalloc0 libzsmalloc-dev zsmalloc-tools nbdkit-plugin-zsram)
declare -A deb
for p in "${packages[@]}"; do
  deb[$p]=$(ls "$work"/debs/${p}_*.deb 2>/dev/null | head -1 || true)
  [ -n "${deb[$p]}" ] || fail "no package $p was made"
  mkdir -p "$work/one/$p" && dpkg-deb -x "${deb[$p]}" "$work/one/$p"
done

# Every file of a plain install to /usr is in some package.
DESTDIR="$work/plain" cmake --install "$build" --prefix /usr >/dev/null
(cd "$work/plain" && find . ! -type d | sort) >"$work/plain.list"
for p in "${packages[@]}"; do (cd "$work/one/$p" && find . ! -type d); done |
  grep -v '^\./usr/share/doc/[^/]*/\(copyright\|changelog\.gz\)$' | sort >"$work/debs.list"
missing=$(comm -23 "$work/plain.list" "$work/debs.list")
[ -z "$missing" ] || fail "installed but in no package: $missing"
for p in "${packages[@]}"; do
  for f in copyright changelog.gz; do
    [ -f "$work/one/$p/usr/share/doc/$p/$f" ] || fail "$p has no /usr/share/doc/$p/$f"
  done
done

# Dependencies: each NEEDED library's package is in Depends.
ldconfig -p >"$work/ldcache"
package_of() { # the package that owns a library: /lib and /usr/lib are one (usrmerge)
  local real c out
  real=$(readlink -f "$1")
  for c in "$1" "$real" "${1#/usr}" "/usr$1" "${real#/usr}" "/usr$real"; do
    out=$(dpkg -S "$c" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') && [ -n "$out" ] &&
      echo "$out" && return 0
  done
  return 0
}
depends_of() { dpkg-deb -f "${deb[$1]}" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -v '^$'; }
for p in "${packages[@]}"; do
  deps=$(depends_of "$p" || true)
  while IFS= read -r -d '' f; do
    [ -L "$f" ] && continue
    if readelf -h "$f" >/dev/null 2>&1; then
      for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        owner=""
        for q in "${packages[@]}"; do
          [ -n "$(find "$work/one/$q" -name "$lib")" ] && owner=$q && break
        done
        if [ -z "$owner" ]; then
          path=$(awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }' "$work/ldcache")
          [ -n "$path" ] || fail "$p: ${f#"$work/one/$p"} needs $lib, which nothing here provides"
          owner=$(package_of "$path")
          [ -n "$owner" ] || fail "$p: no installed package owns $path ($lib)"
        fi
        [ "$owner" = "$p" ] || grep -qx "$owner" <<<"$deps" ||
          fail "$p: ${f#"$work/one/$p"} needs $lib from $owner, which $p does not depend on (Depends: $(echo $deps))"
      done
    elif [[ "$(head -c 128 "$f" | head -n1)" == '#!'*python3* ]]; then
      grep -qx python3 <<<"$deps" || fail "$p: ${f#"$work/one/$p"} is Python and $p does not depend on python3"
    fi
  done < <(find "$work/one/$p" -type f -print0)
done
plugindir=$(nbdkit --dump-config | sed -n 's/^plugindir=//p')
grep -qx nbdkit <<<"$(depends_of nbdkit-plugin-zsram)" || fail "nbdkit-plugin-zsram does not depend on nbdkit"
grep -qx libzsmalloc0 <<<"$(depends_of libzsmalloc-dev)" || fail "libzsmalloc-dev does not depend on libzsmalloc0"

# All packages unpacked into one root: the README example, the tools, the plugin.
root="$work/root"
for p in "${packages[@]}"; do dpkg-deb -x "${deb[$p]}" "$root"; done
awk '/^## Example/ { on = 1 } on && /^```c/ { code = 1; next } code && /^```/ { exit } code { print }' \
  "$readme" >"$work/demo.c"
[ -s "$work/demo.c" ] || fail "no C example under '## Example' in $readme"
pcdir=$(dirname "$(find "$root" -name zsmalloc.pc | head -1)")
libdir=$(cd "$pcdir/.." && pwd)
# shellcheck disable=SC2046
(cd "$work" && PKG_CONFIG_PATH="$pcdir" cc demo.c -o demo $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs zsmalloc)) ||
  fail "the README example does not compile against the unpacked packages"
grep -q "libzsmalloc.so.0 => $libdir/" <<<"$(LD_LIBRARY_PATH="$libdir" ldd "$work/demo")" ||
  fail "the README example does not load libzsmalloc.so.0 from the unpacked root"
LD_LIBRARY_PATH="$libdir" "$work/demo" || fail "the README example exits with status $?"
echo "ok: the README example builds and runs against the packages"
for tool in "$root"/usr/bin/*; do
  "$tool" --version >/dev/null || fail "$(basename "$tool") --version fails from the package"
done
plugin="$root$plugindir/nbdkit-zsram-plugin.so"
[ -f "$plugin" ] || fail "the plugin is not in nbdkit's plugin directory $plugindir"
grep -q '^name=zsram' <<<"$(nbdkit "$plugin" --dump-plugin)" || fail "nbdkit cannot load the packaged plugin"
echo "ok: $plugindir/nbdkit-zsram-plugin.so loads (nbdkit zsram size=1G once installed)"

lintian --tag-display-limit 0 "$work"/debs/*.deb >"$work/lintian.log" 2>&1 || true
grep -v '^running with root privileges' "$work/lintian.log" || true
if grep -q '^E:' "$work/lintian.log"; then
  fail "lintian reports errors"
fi
echo "ok: ${#packages[@]} packages, every installed file packaged, dependencies complete, lintian without errors"
