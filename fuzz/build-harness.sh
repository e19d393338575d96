# build-harness.sh - sourced by run-fuzzers.sh and coverage.sh: lists the
# harnesses and builds one with clang, apart from the project's CMake build (which may use
# gcc).  Needs $top (the repository), $out (the output folder) and $cc.
#
#   build_harness NAME MODE    prints the path of the program built
#     NAME  pool | zsram | plugin
#     MODE  fuzz  libFuzzer + ASan + UBSan, the allocator's debug checks on
#           cov   clang source coverage (-fprofile-instr-generate), driven by
#                 fuzz_replay.c instead of libFuzzer
# The program is rebuilt only when a source is newer than it.

# The harnesses there are: pool and zsram always; plugin when nbdkit's
# header is installed (the harness compiles the plugin in).
default_harnesses() {
  local list=(pool zsram)
  if [ -f "$top/plugins/nbdkit-zsram-plugin.c" ] && [ -f /usr/include/nbdkit-plugin.h ]; then
    list+=(plugin)
  fi
  echo "${list[@]}"
}

harness_sources() {
  local name=$1
  case "$name" in
    pool)
      echo "$top"/src/*.c "$top"/common/*.c ;;
    zsram)
      echo "$top"/src/*.c "$top"/common/*.c "$top"/zpool/zpool.c "$top"/zpool/page_source.c "$top"/zpool/paged.c \
        "$top"/zpool/zbud.c "$top"/zpool/z3fold.c "$top"/zsram/src/*.c ;;
    plugin)
      echo "$top"/src/*.c "$top"/common/*.c "$top"/zsram/src/*.c "$top"/zpool/zpool.c \
        "$top"/zpool/page_source.c "$top"/zpool/paged.c "$top"/zpool/zbud.c "$top"/zpool/z3fold.c ;;
    *)
      echo "build-harness.sh: unknown harness '$name' (pool, zsram, plugin)" >&2
      return 2 ;;
  esac
}

build_harness() {
  local name=$1 mode=$2 bin lib_srcs main_src harness_src
  local -a common lib_flags harness_flags libs
  lib_srcs=$(harness_sources "$name") || return 2
  harness_src="$top/fuzz/fuzz_$name.c"
  [ -f "$harness_src" ] || { echo "build-harness.sh: no $harness_src" >&2; return 2; }
  common=(-std=gnu11 -D_GNU_SOURCE -DZS_DEBUG=1 -g
          -I"$top/include" -I"$top/src" -I"$top/common" -I"$top/zsram/include" -I"$top/zpool"
          -I"$top/plugins")
  harness_flags=(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
  libs=(-lpthread)
  [ "$name" = pool ] || libs+=(-llz4 -lzstd)
  case "$mode" in
    fuzz)
      bin="$out/bin/fuzz_$name"
      common+=(-O1 -fno-omit-frame-pointer -fsanitize=address,undefined
               -fno-sanitize-recover=all)
      lib_flags=(-fsanitize=fuzzer-no-link)
      harness_flags+=(-fsanitize=fuzzer)
      main_src="" ;;
    cov)
      bin="$out/bin/cov_$name"
      common+=(-O0 -fprofile-instr-generate -fcoverage-mapping)
      lib_flags=()
      main_src="$top/fuzz/fuzz_replay.c" ;;
    *)
      echo "build-harness.sh: unknown mode '$mode' (fuzz, cov)" >&2; return 2 ;;
  esac
  mkdir -p "$out/bin" "$out/obj-$mode"
  # shellcheck disable=SC2086
  if [ -x "$bin" ] && [ -z "$(find $lib_srcs "$harness_src" $main_src "$top/fuzz/fuzz_common.h" \
        "$top"/include "$top"/src/*.h "$top"/zsram/src/*.h "$top"/zsram/include \
        "$top"/zpool/*.h "$top"/common/*.h -newer "$bin" 2>/dev/null | head -1)" ]; then
    echo "$bin"
    return 0
  fi
  echo "build-harness.sh: building $bin" >&2
  # The library's own sources: without -Werror (clang's warnings are not
  # the ones the project builds with), each to its own object, shared by
  # the harnesses of one mode and rebuilt when it or a header is newer.
  local objdir="$out/obj-$mode" src obj newest_header i=0 pids=() objs=()
  newest_header=$(ls -t "$top"/include/*.h "$top"/src/*.h "$top"/zsram/include/*.h \
    "$top"/zsram/src/*.h "$top"/zpool/*.h "$top"/common/*.h 2>/dev/null | head -1)
  for src in $lib_srcs; do
    obj="$objdir/$(echo "${src#"$top"/}" | tr '/' '_').o"
    objs+=("$obj")
    if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_header" ]; then
      continue
    fi
    "$cc" "${common[@]}" "${lib_flags[@]}" -c "$src" -o "$obj" &
    pids+=($!)
    i=$((i + 1))
    # Two at a time: the machine is shared.
    if [ $((i % 2)) -eq 0 ]; then
      for p in "${pids[@]}"; do wait "$p" || return 1; done
      pids=()
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || return 1; done
  # shellcheck disable=SC2086
  "$cc" "${common[@]}" "${harness_flags[@]}" "$harness_src" $main_src "${objs[@]}" \
    -o "$bin" "${libs[@]}" >&2 || return 1
  echo "$bin"
}
