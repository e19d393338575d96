#!/bin/sh
# test-nbdcopy.sh - nbdcopy copies a real-memory page corpus into the plugin's
# disk and back out; the copy must equal the corpus byte for byte, the rest
# of the disk must read as zeros, and the stats file must show the pages
# stored compressed.  Run with lz4, and with zstd and a trained dictionary.
REQUIRED_TOOLS="nbdcopy python3 cmp"
. "$(dirname "$0")/lib.sh"

make_corpus "$TMP/corpus" "$(scale 24)"
corpus_bytes=$(stat -c %s "$TMP/corpus")
disk=$(( (corpus_bytes / 1048576 + 2) * 1048576 ))

if [ -n "${ZSRAM_TRAIN_DICT:-}" ]; then
    "$ZSRAM_TRAIN_DICT" "$TMP/corpus" "$TMP/dict" >/dev/null ||
        fail "zsram-train-dict failed"
    dict_args="algorithm=zstd dictionary=$TMP/dict"
else
    dict_args="algorithm=zstd:5"
fi

for args in "algorithm=lz4" "$dict_args"; do
    # shellcheck disable=SC2086
    start_server copy size=$disk stats="$TMP/stats" $args
    nbdcopy --flush "$TMP/corpus" "$(uri "$SOCK")" ||
        fail "nbdcopy in ($args)"
    rm -f "$TMP/out"
    nbdcopy "$(uri "$SOCK")" "$TMP/out" || fail "nbdcopy out ($args)"
    [ "$(stat -c %s "$TMP/out")" -eq "$disk" ] ||
        fail "copied-out size $(stat -c %s "$TMP/out") is not $disk ($args)"
    cmp -n "$corpus_bytes" "$TMP/corpus" "$TMP/out" ||
        fail "the copy differs from the corpus ($args)"
    tail -c +"$((corpus_bytes + 1))" "$TMP/out" >"$TMP/rest"
    cmp -n "$((disk - corpus_bytes))" "$TMP/rest" /dev/zero ||
        fail "the disk past the corpus is not zeros ($args)"

    # The stats file, written by nbdcopy's flush: mm_stat's nine numbers.
    [ -s "$TMP/stats" ] || fail "no stats file after flush ($args)"
    set -- $(head -n 1 "$TMP/stats")
    [ $# -eq 9 ] || fail "stats line has $# fields, not 9: $(head -n 1 "$TMP/stats")"
    orig=$1 compr=$2
    [ "$orig" -gt $((corpus_bytes / 2)) ] ||
        fail "orig_data_size $orig is too small for a $corpus_bytes-byte corpus ($args)"
    [ "$compr" -lt "$orig" ] ||
        fail "compr_data_size $compr is not below orig_data_size $orig ($args)"
    [ "$(wc -l <"$TMP/stats")" -gt 1 ] || fail "no class table in the stats file"
    rm -f "$TMP/stats"
    stop_server "$SERVER_PID"
    [ -s "$TMP/stats" ] || fail "no stats file written at exit ($args)"
    echo "ok: $args: $corpus_bytes bytes round trip, mm_stat $orig $compr ..."
    rm -f "$TMP/stats" "$TMP/out" "$TMP/rest"
done
echo PASS
