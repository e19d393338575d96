# enospc.py - run by test-nbdsh.sh inside nbdsh against a store with a 1 MiB
# memory limit: incompressible writes must end with ENOSPC (not EIO), every
# write acknowledged before must read back intact, zero pages must still be
# accepted (same-filled: no allocation), and freeing space must let writes
# succeed again.
import errno
import os

import nbd

CHUNK = 64 * 1024
written = []            # (offset, data) acknowledged by the server
refused = None
for i in range(h.get_size() // CHUNK):
    data = os.urandom(CHUNK)
    try:
        h.pwrite(data, i * CHUNK)
    except nbd.Error as e:
        refused = e
        break
    written.append((i * CHUNK, data))

assert refused is not None, "wrote %d bytes past a 1 MiB limit" % (
    len(written) * CHUNK)
assert refused.errnum == errno.ENOSPC, "full store: errno %s (%s), not ENOSPC" \
    % (refused.errnum, refused.string)
assert len(written) >= 4, "refused after only %d chunks" % len(written)
for offset, data in written:
    assert h.pread(CHUNK, offset) == data, "data at %d lost when full" % offset

# Still full: zero pages take no memory, so zeroing and writing zeros works.
h.zero(CHUNK, 30 * 1024 * 1024)
h.pwrite(bytes(CHUNK), 31 * 1024 * 1024)

# Free some of the stored chunks, then a write fits again.
h.trim(2 * CHUNK, written[-2][0])
h.pwrite(b"\x42" * CHUNK, written[-2][0])
assert h.pread(CHUNK, written[-2][0]) == b"\x42" * CHUNK
assert h.pread(CHUNK, written[0][0]) == written[0][1], "first chunk lost"
h.flush()
print("ENOSPC: refused after %d KiB, earlier data intact" % (
    len(written) * CHUNK // 1024))
