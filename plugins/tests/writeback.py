# writeback.py - run by test-nbdsh.sh inside nbdsh against a store with a
# 1 MiB memory limit and a backing file: incompressible writes far past the
# limit all succeed (cold pages go to the file) and all read back.
import hashlib
import os

CHUNK = 64 * 1024
TOTAL = 4 * 1024 * 1024
sums = []
for off in range(0, TOTAL, CHUNK):
    data = os.urandom(CHUNK)
    h.pwrite(data, off)
    sums.append(hashlib.sha256(data).digest())
for i, off in enumerate(range(0, TOTAL, CHUNK)):
    assert hashlib.sha256(h.pread(CHUNK, off)).digest() == sums[i], \
        "chunk at %d lost through writeback" % off
h.flush()
print("writeback: %d KiB past a 1 MiB limit, all intact" % (TOTAL // 1024))
