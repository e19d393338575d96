# idle_recompress.py - run by test-nbdsh.sh inside nbdsh against a store
# with a weak primary (lz4, acceleration 60), recomp_algorithm=zstd:9 and
# idle_recompress=1, stats= in the STATS environment variable: text written
# once is recompressed by the server's idle thread once it has not been
# touched for a second (compr_data_size falls, waited for up to 20 s, not
# timed), and reads back the same.
import os
import time

STATS = os.environ["STATS"]
CHUNK = 64 * 1024
words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta"]
data = []
for i in range(32):
    text = b" ".join(words[(i * 7 + j * 3) % len(words)] + b"%d" % (j % 97)
                     for j in range(CHUNK // 6))
    data.append(text[:CHUNK])
    h.pwrite(data[-1], i * CHUNK)


def compr():
    h.flush()   # the server writes the stats file on flush
    with open(STATS) as f:
        return int(f.readline().split()[1])


first = compr()
now = first
deadline = time.monotonic() + 20
while now >= first and time.monotonic() < deadline:
    time.sleep(0.25)
    now = compr()
assert now < first, "compr_data_size %d, not below %d after 20 s" % (now, first)
for i in range(32):
    assert h.pread(CHUNK, i * CHUNK) == data[i], "chunk %d changed" % i
print("idle_recompress: compr_data_size %d -> %d, all intact" % (first, now))
