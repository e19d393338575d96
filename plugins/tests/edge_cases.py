# edge_cases.py - run by test-nbdsh.sh inside nbdsh (h: the connected
# handle).  Edge cases of the plugin's request handling, as a real NBD client
# sends them; every check raises AssertionError with what went wrong.
import errno
import os

import nbd

SIZE = int(os.environ["DISK_SIZE"])
STATS = os.environ["STATS"]
PAGE = int(os.environ.get("PAGE_SIZE", "4096"))


def expect_error(what, errnum, fn, *args, **kw):
    """fn(*args) must fail with one of the errno values errnum."""
    try:
        fn(*args, **kw)
    except nbd.Error as e:
        assert e.errnum in errnum, "%s: errno %s, expected %s (%s)" % (
            what, e.errnum, errnum, e.string)
        return
    raise AssertionError("%s succeeded; it must fail" % what)


# What the server advertises.
assert h.get_size() == SIZE, "size %d, expected %d" % (h.get_size(), SIZE)
assert h.can_multi_conn(), "can_multi_conn is false"
assert h.can_trim() and h.can_zero() and h.can_flush() and h.can_fua()
assert h.can_fast_zero()
assert h.get_block_size(nbd.SIZE_PREFERRED) == PAGE
assert h.get_block_size(nbd.SIZE_MINIMUM) == 1

# Let requests the client library would refuse by itself reach the server.
h.set_strict_mode(0)

# Byte-granular writes and reads, across sector and page boundaries.
base = bytes(range(256)) * 64            # 16 KiB
h.pwrite(base, 0)
h.pwrite(b"abc", 5)
h.pwrite(b"X" * 700, 4096 - 350)
want = bytearray(base)
want[5:8] = b"abc"
want[4096 - 350:4096 + 350] = b"X" * 700
assert h.pread(len(want), 0) == want, "byte-granular write mismatch"
assert h.pread(1, 4095) == b"X"
assert h.pread(3, 5) == b"abc"

# FUA writes are accepted.
h.pwrite(b"F" * 100, 20000, nbd.CMD_FLAG_FUA)
assert h.pread(100, 20000) == b"F" * 100

# Out of range: refused by the server (nbdkit answers EINVAL or, for a
# write, ENOSPC as the NBD spec suggests), the disk unchanged.
BAD = (errno.EINVAL, errno.ENOSPC)
expect_error("read past the end", BAD, h.pread, 512, SIZE - 256)
expect_error("read starting past the end", BAD, h.pread, 1, SIZE)
expect_error("write past the end", BAD, h.pwrite, b"y" * 512, SIZE - 256)
expect_error("zero past the end", BAD, h.zero, 8192, SIZE - 4096)
expect_error("trim past the end", BAD, h.trim, 8192, SIZE - 4096)
assert h.pread(256, SIZE - 256) == bytes(256), "end of disk changed"

# The last bytes of the disk, which need not end on a sector or a page.
h.pwrite(b"END", SIZE - 3)
assert h.pread(3, SIZE - 3) == b"END"

# Zero-length requests: whatever the server answers, it keeps serving and
# nothing changes.
for what, fn in (("read", lambda: h.pread(0, 100)),
                 ("write", lambda: h.pwrite(b"", 100)),
                 ("zero", lambda: h.zero(0, 100)),
                 ("trim", lambda: h.trim(0, 100))):
    try:
        fn()
    except nbd.Error as e:
        assert e.errnum in BAD, "zero-length %s: %s" % (what, e)
assert h.pread(len(want), 0) == want, "a zero-length request changed data"

# Flush: succeeds, and writes the stats file (mm_stat's nine numbers first).
h.flush()
with open(STATS) as f:
    first = f.readline().split()
assert len(first) == 9, "stats file's first line: %r" % first
assert int(first[0]) > 0, "orig_data_size is 0 after writes"

# Trim at unaligned offsets: the range reads as zeros, its neighbours keep
# their bytes.
h.pwrite(b"\x5a" * (64 * 1024), 65536)
h.trim(40000, 65536 + 100)
assert h.pread(40000, 65536 + 100) == bytes(40000), "trimmed range not zeros"
assert h.pread(100, 65536) == b"\x5a" * 100, "byte before the trim changed"
tail_start = 65536 + 100 + 40000
assert h.pread(65536 * 2 - tail_start, tail_start) == \
    b"\x5a" * (65536 * 2 - tail_start), "bytes after the trim changed"

# Zero: with holes allowed whole pages become holes; with NO_HOLE they are
# zero pages kept allocated in the slot (same-filled); both read as zeros.
h.pwrite(b"\x77" * (16 * PAGE), 512 * 1024)
h.zero(8 * PAGE, 512 * 1024)
h.zero(8 * PAGE, 512 * 1024 + 8 * PAGE, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(16 * PAGE, 512 * 1024) == bytes(16 * PAGE), "zeroed not zeros"

extents = []


def collect(metacontext, offset, entries, err):
    if metacontext == nbd.CONTEXT_BASE_ALLOCATION:
        extents.extend(zip(entries[0::2], entries[1::2]))
    return 0


h.block_status(16 * PAGE, 512 * 1024, collect)
assert extents, "no extents"
first_len, first_flags = extents[0]
assert first_len == 8 * PAGE and first_flags == nbd.STATE_HOLE | nbd.STATE_ZERO, \
    "trimmed-by-zero pages: %r" % extents
second_len, second_flags = extents[1]
assert second_flags == nbd.STATE_ZERO, "NO_HOLE zero pages: %r" % extents

# A page holding data is reported as data.
extents.clear()
h.block_status(PAGE, 0, collect)
assert extents[0][1] == 0, "a data page reported as %r" % extents

# Fast zero is supported.
h.zero(PAGE, 600 * 1024, nbd.CMD_FLAG_FAST_ZERO)
assert h.pread(PAGE, 600 * 1024) == bytes(PAGE)

print("edge cases: ok (page size %d)" % PAGE)
