#!/bin/sh
# test-params.sh - bad parameters make nbdkit fail at start, before serving,
# with a message naming the problem; good ones start (checked with --run,
# which serves one command and exits).
REQUIRED_TOOLS=""
. "$(dirname "$0")/lib.sh"

# must_fail "EXPECTED MESSAGE" ARGS...
must_fail() {
    expected=$1
    shift
    if nbdkit -U - "$PLUGIN" "$@" --run true >"$TMP/out.log" 2>&1; then
        fail "nbdkit started with: $*"
    fi
    grep -q -F -- "$expected" "$TMP/out.log" || {
        cat "$TMP/out.log"
        fail "no message '$expected' for: $*"
    }
    echo "ok: refused: $* -> $(grep -F -- "$expected" "$TMP/out.log" | head -n 1)"
}

must_start() {
    nbdkit -U - "$PLUGIN" "$@" --run 'nbdinfo --size "$uri"' >"$TMP/out.log" 2>&1 || {
        cat "$TMP/out.log"
        fail "nbdkit did not start with: $*"
    }
    echo "ok: started: $* (size $(cat "$TMP/out.log"))"
}

must_fail "unknown parameter 'foo'" size=1M foo=1
must_fail "size= is required" algorithm=lz4
must_fail "could not parse size string (banana)" size=banana
must_fail "size: must be more than 0" size=0
must_fail "unknown algorithm 'nope'" size=1M algorithm=nope
must_fail "unknown algorithm 'nope'" size=1M algorithm=nope:3
must_fail "algorithm: bad level 'high'" size=1M algorithm=zstd:high
must_fail "level: bad level '3x'" size=1M level=3x
must_fail "invalid configuration (level 99 out of range for zstd" \
    size=1M algorithm=zstd:99
must_fail "could not parse size string (lots)" size=1M mem_limit=lots
must_fail "dictionary= needs algorithm=zstd" size=1M dictionary=/etc/hostname
must_fail "dictionary: cannot open '$TMP/missing'" size=1M algorithm=zstd \
    dictionary="$TMP/missing"
must_fail "auto_dictionary=on needs algorithm=zstd" size=1M auto_dictionary=on
must_fail "auto_dictionary=on needs algorithm=zstd without dictionary=" size=1M \
    algorithm=zstd dictionary=/etc/hostname auto_dictionary=on
must_fail "could not decipher boolean (maybe)" size=1M algorithm=zstd auto_dictionary=maybe
must_fail "auto_dictionary_size: 100 is out of range" size=1M algorithm=zstd \
    auto_dictionary_size=100
must_fail "auto_dictionary_size: 2M is out of range" size=1M algorithm=zstd \
    auto_dictionary_size=2M
must_fail "auto_dictionary_size= needs algorithm=zstd" size=1M auto_dictionary_size=64K
must_fail "auto_dictionary_size= needs algorithm=zstd" size=1M algorithm=zstd \
    auto_dictionary=off auto_dictionary_size=64K
must_fail "rest_level: '0' is not a zstd level 1 .. 22 or off" size=1M algorithm=zstd \
    rest_level=0
must_fail "rest_level: '23' is not a zstd level" size=1M algorithm=zstd rest_level=23
must_fail "rest_level: 'high' is not a zstd level" size=1M algorithm=zstd rest_level=high
must_fail "rest_level= needs algorithm=zstd" size=1M rest_level=9
must_fail "rest_level= needs algorithm=zstd" size=1M algorithm=zstd auto_dictionary=off \
    rest_level=9
must_fail "algorithm_params: 'priority=1,level=3': no such algorithm" size=1M \
    algorithm_params=priority=1,level=3
must_fail "algorithm_params: 'priority=9': bad syntax" size=1M recomp_algorithm=zstd \
    algorithm_params=priority=9
must_fail "for the primary algorithm, use level= and dictionary=" size=1M \
    recomp_algorithm=zstd algorithm_params=priority=0,level=3
must_fail "a dictionary is for zstd" size=1M recomp_algorithm=lz4 \
    algorithm_params=priority=1,dict=/etc/hostname
must_fail "algorithm_params: cannot open '$TMP/missing'" size=1M recomp_algorithm=zstd \
    algorithm_params=priority=1,dict="$TMP/missing"
must_fail "idle_recompress= needs recomp_algorithm=" size=1M idle_recompress=5
must_fail "idle_recompress: '0' is not a number of seconds" size=1M recomp_algorithm=zstd \
    idle_recompress=0
must_fail "recomp_algorithm: at most 3" size=1M recomp_algorithm=zstd \
    recomp_algorithm=lz4hc:9 recomp_algorithm=zstd:19 recomp_algorithm=lz4
must_fail "recomp_algorithm: unknown algorithm 'nope'" size=1M recomp_algorithm=nope
must_fail "a recomp_algorithm level out of range" size=1M recomp_algorithm=zstd:99
must_fail "writeback= needs mem_limit=" size=1M writeback="$TMP/wb"
must_fail "writeback_limit= needs writeback=" size=1M mem_limit=64K writeback_limit=1M
must_fail "writeback_limit: must be more than 0" size=1M mem_limit=64K \
    writeback="$TMP/wb" writeback_limit=0
must_fail "could not parse size string (lots)" size=1M mem_limit=64K writeback="$TMP/wb" \
    writeback_limit=lots
must_fail "writeback_limit: less than one page (4096 bytes)" size=1M mem_limit=64K \
    writeback="$TMP/wb" writeback_limit=100
must_fail "writeback file '$TMP/no/such/dir/wb'" size=1M mem_limit=64K \
    writeback="$TMP/no/such/dir/wb"
must_fail "unknown or unavailable allocator 'slab'" size=1M allocator=slab
must_fail "page_size: 3000 is not a power of two" size=1M page_size=3000
must_fail "page_size: 128K is not a power of two" size=1M page_size=128K
must_fail "stats given more than once" size=1M stats=a stats=b
must_fail "stats: cannot write '$TMP/no/such/dir/st.tmp'" size=1M \
    stats="$TMP/no/such/dir/st"

if command -v nbdinfo >/dev/null 2>&1; then
    must_start size=3M
    must_start 5M                       # size is the magic parameter
    must_start size=1G algorithm=zstd level=1 mem_limit=64M stats="$TMP/st"
    [ -s "$TMP/st" ] || fail "no stats file written at exit"
    must_start size=1000000 page_size=64K algorithm=zstd:-3
    must_start size=1M algorithm=lz4hc:4 mem_limit=256K writeback="$TMP/wb"
    must_start size=1M mem_limit=256K writeback="$TMP/wb" writeback_limit=64K
    must_start size=1M algorithm=zstd auto_dictionary=off
    must_start size=1M algorithm=zstd rest_level=9
    must_start size=1M recomp_algorithm=zstd recomp_algorithm=lz4hc:9 idle_recompress=60
    must_start size=1M recomp_algorithm=lz4hc recomp_algorithm=zstd \
        algorithm_params="algo=lz4hc level=9" algorithm_params=priority=2,dict=/etc/hostname
    must_start size=1M algorithm=zstd rest_level=off
    # The page size each algorithm implies, and one given, as nbdinfo
    # reports it (the preferred block size is the store's page).
    for case in "algorithm=zstd:32768" "algorithm=lz4:4096" "algorithm=lz4hc:4096" \
        "algorithm=zstd page_size=8K:8192"; do
        args=${case%:*}
        want=${case##*:}
        # shellcheck disable=SC2086 # args is a list of parameters
        nbdkit -U - "$PLUGIN" size=1M $args --run 'nbdinfo "$uri"' >"$TMP/info.log" 2>&1 ||
            fail "nbdkit did not start with: $args"
        grep -q "block_size_preferred: $want\$" "$TMP/info.log" ||
            fail "$args: not a $want-byte page: $(grep block_size_preferred "$TMP/info.log")"
        echo "ok: $args -> $want-byte pages"
    done
    must_start size=1M algorithm=zstd auto_dictionary=on auto_dictionary_size=16K \
        stats="$TMP/st2"
    # The stats file ends with the dictionary's line: on, none trained yet.
    tail -n 1 "$TMP/st2" | grep -q '^auto_dictionary: 1 0 0 ' ||
        fail "no auto_dictionary line: $(tail -n 1 "$TMP/st2")"
fi
echo PASS
