#!/bin/sh
# test-nbdsh.sh - nbdsh (libnbd's Python shell) drives the plugin through
# edge cases (edge_cases.py: out of range, zero-length, byte-granular,
# flush and the stats file, trim and zero with their extents), then fills a
# store that has a tiny memory limit until it refuses with ENOSPC and checks
# that everything written before is intact (enospc.py); with a backing file
# the same writes all succeed (writeback.py); with writeback_limit= they
# end in ENOSPC once the limit is used up (enospc.py again); with
# idle_recompress= resting pages are recompressed (idle_recompress.py).
REQUIRED_TOOLS="nbdsh"
. "$(dirname "$0")/lib.sh"

DISK_SIZE=$((4 * 1048576 + 1234))
STATS=$TMP/stats
export DISK_SIZE STATS

for PAGE_SIZE in 4096 16384; do
    export PAGE_SIZE
    start_server edge size=$DISK_SIZE stats="$STATS" page_size=$PAGE_SIZE
    nbdsh --base-allocation -u "$(uri "$SOCK")" \
        -c "exec(open('$HERE/edge_cases.py').read())" ||
        fail "edge cases (page_size=$PAGE_SIZE)"
    stop_server "$SERVER_PID"
done

start_server full size=32M mem_limit=1M
nbdsh -u "$(uri "$SOCK")" -c "exec(open('$HERE/enospc.py').read())" ||
    fail "ENOSPC"
stop_server "$SERVER_PID"

start_server wb size=8M mem_limit=1M writeback="$TMP/backing" stats="$STATS"
nbdsh -u "$(uri "$SOCK")" -c "exec(open('$HERE/writeback.py').read())" ||
    fail "writeback"
stop_server "$SERVER_PID"
[ -s "$TMP/backing" ] || fail "nothing written to the backing file"
set -- $(head -n 1 "$STATS")
[ "$3" -le 1048576 ] || fail "mem_used_total $3 passed the 1 MiB limit"

# A writeback limit of 1 MiB: past 1 MiB in memory and 1 MiB in the file,
# writes end in ENOSPC as without a file, and all before read back.
start_server wblimit size=32M mem_limit=1M writeback="$TMP/backing2" writeback_limit=1M
nbdsh -u "$(uri "$SOCK")" -c "exec(open('$HERE/enospc.py').read())" ||
    fail "ENOSPC with a writeback limit"
stop_server "$SERVER_PID"
# idle_recompress=: the server's thread recompresses what rests.
start_server idle size=4M algorithm=lz4 level=60 recomp_algorithm=zstd:9 \
    idle_recompress=1 stats="$STATS"
STATS="$STATS" nbdsh -u "$(uri "$SOCK")" -c "exec(open('$HERE/idle_recompress.py').read())" ||
    fail "idle_recompress"
stop_server "$SERVER_PID"

wb_bytes=$(stat -c %s "$TMP/backing2")
[ "$wb_bytes" -gt 0 ] && [ "$wb_bytes" -le 1048576 ] ||
    fail "backing file of $wb_bytes bytes with a 1 MiB writeback limit"
echo PASS
