#!/bin/sh
# test-qemu_io.sh - qemu-io writes, reads, zeroes and discards patterns at
# unaligned offsets on the plugin's disk and verifies every byte it reads
# (read -P), including the bytes around each change and the disk's last
# bytes.  Discarded and zeroed ranges must read as zeros.  Run with the
# default 4 KiB store pages and with 16 KiB ones (zstd).
REQUIRED_TOOLS="qemu-io"
. "$(dirname "$0")/lib.sh"

size=$((8 * 1048576 + 1000))	# not a multiple of the page or the sector
for config in "algorithm=lz4" "algorithm=zstd page_size=16K"; do
# shellcheck disable=SC2086
start_server qio size=$size $config

run_qemu_io() {
    qemu-io -f raw "$@" "$(uri "$SOCK")" >"$TMP/qio.out" 2>&1 ||
        { cat "$TMP/qio.out"; fail "qemu-io exited with an error"; }
    if grep -E -i "fail|error|mismatch" "$TMP/qio.out"; then
        cat "$TMP/qio.out"
        fail "qemu-io reported a failure"
    fi
}

# One session: a base pattern, then unaligned changes, each verified with
# its surroundings.
run_qemu_io \
    -c "write -P 0x11 0 2M" \
    -c "write -P 0x22 1000 5000" \
    -c "read -P 0x11 0 1000" \
    -c "read -P 0x22 1000 5000" \
    -c "read -P 0x11 6000 10000" \
    -c "write -z 7777 12345" \
    -c "read -P 0x22 1000 5000" \
    -c "read -P 0x11 6000 1777" \
    -c "read -P 0 7777 12345" \
    -c "read -P 0x11 20122 10000" \
    -c "discard 100003 300001" \
    -c "read -P 0x11 90000 10003" \
    -c "read -P 0 100003 300001" \
    -c "read -P 0x11 400004 100000" \
    -c "write -P 0x33 1048571 9" \
    -c "read -P 0x11 1040000 8571" \
    -c "read -P 0x33 1048571 9" \
    -c "read -P 0x11 1048580 1000" \
    -c "write -P 0x44 $((size - 3)) 3" \
    -c "read -P 0x44 $((size - 3)) 3" \
    -c "read -P 0 $((size - 1003)) 1000" \
    -c "write -z -u 1M 1M" \
    -c "read -P 0 1M 1M" \
    -c "read -P 0x33 $((1048576 - 5)) 5" \
    -c "read -P 0 2M 1M" \
    -c "flush"

# (A read past the end is tested with nbdsh: qemu rounds the disk's size up
# to a sector and serves the rounding itself.)

# A second session sees the same contents (the store outlives connections).
run_qemu_io \
    -c "read -P 0x22 1000 5000" \
    -c "read -P 0 7777 12345" \
    -c "read -P 0x33 1048571 5" \
    -c "read -P 0x44 $((size - 3)) 3" \
    -c "read -P 0 1M 1M"
stop_server "$SERVER_PID"
echo "ok: $config"
done
echo PASS
