#!/bin/sh
# test-multiconn.sh - several clients at once on one server: four qemu-io
# processes each write their own slice of a real-memory corpus into disjoint
# ranges of the disk while two more write and verify patterns in other
# ranges; then nbdcopy reads the whole disk over four connections at once and
# every range must read back exactly.
REQUIRED_TOOLS="nbdcopy qemu-io python3 cmp"
. "$(dirname "$0")/lib.sh"

make_corpus "$TMP/corpus" "$(scale 16)"
slice=$(( $(stat -c %s "$TMP/corpus") / 4 / 1048576 * 1048576 ))
[ "$slice" -gt 0 ] || fail "corpus too small"
for i in 0 1 2 3; do
    dd if="$TMP/corpus" of="$TMP/slice$i" bs=1M skip=$((i * slice / 1048576)) \
        count=$((slice / 1048576)) status=none
done
qio_base=$((4 * slice))
disk=$((qio_base + 8 * 1048576))
start_server multi size=$disk algorithm=zstd

# Writers at once: qemu-io "write -s FILE" puts each corpus slice at its own
# offset (nbdcopy has no destination offset), two more qemu-io write and
# verify patterns with unaligned overlays in their own ranges.
pids=""
for i in 0 1 2 3; do
    qemu-io -f raw -c "write -s $TMP/slice$i $((i * slice)) $slice" \
        "$(uri "$SOCK")" >"$TMP/w$i.log" 2>&1 &
    pids="$pids $!"
done
for j in 0 1; do
    off=$((qio_base + j * 4 * 1048576))
    qemu-io -f raw \
        -c "write -P $((0x61 + j)) $off 3M" \
        -c "write -P $((0x71 + j)) $((off + 1000)) 12345" \
        -c "read -P $((0x61 + j)) $off 1000" \
        -c "read -P $((0x71 + j)) $((off + 1000)) 12345" \
        -c "read -P $((0x61 + j)) $((off + 13345)) 100000" \
        "$(uri "$SOCK")" >"$TMP/p$j.log" 2>&1 &
    pids="$pids $!"
done
for pid in $pids; do
    wait "$pid" || { cat "$TMP"/*.log; fail "a concurrent client failed"; }
done

# Four connections at once again, reading: nbdcopy with four connections.
nbdcopy --connections=4 "$(uri "$SOCK")" "$TMP/out" || fail "nbdcopy out"
for i in 0 1 2 3; do
    dd if="$TMP/out" of="$TMP/back$i" bs=1M skip=$((i * slice / 1048576)) \
        count=$((slice / 1048576)) status=none
    cmp "$TMP/slice$i" "$TMP/back$i" ||
        fail "slice $i differs after the concurrent writes"
done
qemu-io -f raw -c "read -P 0x62 $((qio_base + 4 * 1048576)) 1000" \
    -c "read -P 0x72 $((qio_base + 4 * 1048576 + 1000)) 12345" \
    "$(uri "$SOCK")" >"$TMP/check.log" 2>&1 ||
    { cat "$TMP/check.log"; fail "pattern lost after the concurrent run"; }
echo PASS
