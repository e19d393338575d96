#!/usr/bin/env python3
"""make-corpus.py - writes the seed corpus of the fuzz harnesses.

Each seed is a configuration header (see the layout at the top of each
harness) followed by random operation bytes, so that the fuzzers start from
inputs that already reach every operation.  Deterministic: the same files
every run.  Usage: fuzz/make-corpus.py [OUTDIR]   (default: fuzz/corpus)
"""
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = random.Random(20261123)


def ops(n):
    return bytes(rng.randrange(256) for _ in range(n))


def write(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# fuzz_pool: page size, chain, source mode, then mode arguments, rng seed, ops.
pool_configs = [
    (0, 0, 0), (0, 1, 0), (0, 16, 0), (1, 4, 0), (4, 0, 0),      # built-in arena
    (0, 0, 1), (2, 3, 1), (3, 16, 1), (0, 1, 1),                 # own page source
    (0, 0, 1 | 4), (1, 2, 1 | 4),                                # source fails at random
    (0, 0, 8), (0, 4, 1 | 8), (2, 0, 1 | 4 | 8),                 # metadata fails at random
    (0, 0, 16), (0, 0, 1 | 16),                                  # creation fails
    (0, 17, 0), (0xf0, 0, 0),                                    # invalid configurations
]
for i, (ps, chain, mode) in enumerate(pool_configs):
    for j, length in enumerate((48, 400)):
        head = bytes([ps, chain, mode])
        if ps >= 0xf0:
            head += bytes([0x00, 0x30])         # 12288: not a power of two
        if mode & 4:
            head += bytes([rng.randrange(256)]) + ops(4)
        if mode & 8:
            head += bytes([rng.randrange(256)])
        head += ops(8)
        if mode & 16:
            head += bytes([rng.randrange(32)])
        write("pool", "seed-%02d-%d" % (i, j), head + ops(length))

# Scenarios for compaction and migration: runs of objects of one size, a run
# of frees, then compaction, a migration sweep, mappings held while both run,
# statistics, and the same again.  Op bytes: 3 run, 19 free run, 11 compact,
# 13 migrate every page, 15 mappings held while moving, 16 statistics.
for i, (ps, chain, mode) in enumerate([(0, 0, 0), (0, 0, 1), (1, 4, 1), (0, 2, 0), (2, 0, 1 | 8)]):
    head = bytes([ps, chain, mode])
    if mode & 8:
        head += bytes([40])
    head += ops(8)
    body = b""
    for size in (200, 1000, 3000, 4000):
        size_arg = bytes([0x80, size & 0xff, size >> 8])
        body += bytes([3]) + size_arg + bytes([150, rng.randrange(256)])
        body += bytes([3]) + size_arg + bytes([150, rng.randrange(256)])
        body += bytes([19, 0xb0, 0x01])     # free 432 of them, at random
        body += bytes([11, 13, 16])
        body += bytes([15, 3]) + ops(12) + bytes([11, 13])
        body += bytes([12]) + ops(2) + bytes([16])
    write("pool", "scenario-%02d" % i, head + body)

# fuzz_zsram: nr_pages, page size, algorithm, flags, arguments, ops.
zsram_configs = [
    (8, 0, 0, 0), (16, 1, 1, 0), (4, 2, 2, 0), (32, 0, 2 | 4, 0),  # lz4, lz4hc, zstd
    (8, 0, 0, 1), (8, 0, 2, 1),                                     # recompression
    (16, 0, 0, 2), (16, 0, 0, 2 | 4),                               # memory limit, writeback
    (8, 0, 2, 8), (8, 0, 0, 0x40), (8, 0, 0, 0x50),                 # dictionary, zbud, z3fold
    (8, 0, 0, 0x80), (8, 15, 0, 0),                                 # metadata faults, 64 KiB
    (0xff, 0, 0, 0), (8, 31, 0, 0), (8, 0, 0, 0x70),                # invalid configurations
]
for i, (n, ps, alg, flags) in enumerate(zsram_configs):
    for j, length in enumerate((40, 300)):
        head = bytes([n, ps, alg, flags]) + bytes([rng.randrange(256)])  # level
        if flags & 1:
            head += bytes([rng.randrange(256), rng.randrange(256)])
        if flags & 2:
            head += bytes([rng.randrange(4, 32)])
        if flags & 4:
            head += bytes([rng.randrange(8)])
        if flags & 8:
            head += bytes([40]) + ops(48)
        head += bytes([rng.randrange(256)])      # compact threshold
        if flags & 0x80:
            head += bytes([rng.randrange(32)])
        head += ops(8)
        write("zsram", "seed-%02d-%d" % (i, j), head + ops(length))

# fuzz_plugin: parameters (key, value choice), then requests.  Keys: 0 size,
# 1 algorithm, 2 level, 3 mem_limit, 4 page_size, 5 allocator, 6 writeback,
# 7 dictionary, 8 stats, 9 unknown.  Value choices index the harness's lists.
plugin_configs = [
    [(0, 4)],                              # size=64K
    [(0, 6)],                              # size=1M
    [(0, 5), (1, 2)],                      # size=100000, zstd
    [(0, 4), (1, 1)],                      # lz4hc
    [(0, 6), (4, 3)],                      # page_size=8192 (4096 << 1)
    [(0, 6), (3, 4), (8, 0)],              # mem_limit=64K, stats=
    [(0, 6), (3, 4), (6, 0)],              # mem_limit=64K, writeback=
    [(0, 4), (5, 1)], [(0, 4), (5, 2)],    # zbud, z3fold
    [(0, 1)],                              # size=512: less than a page
    [(0, 4), (1, 8)], [(0, 9)], [(9, 0)],  # refused
    [(0, 4), (7, 1)], [(0, 4), (1, 2), (7, 0)],
]
for i, params in enumerate(plugin_configs):
    for j, length in enumerate((30, 240)):
        head = bytes([len(params)])
        for key, choice in params:
            head += bytes([key, choice])
            if key == 2:
                head += bytes([rng.randrange(256)])
        write("plugin", "seed-%02d-%d" % (i, j), head + ops(length))

# fuzz_zsswap: pages, budget, algorithm, flags (bit 0 pool limit, with its
# size byte; bit 1 writeback file; bit 7 metadata faults), then operations.
zrng = random.Random(20261201)
zsswap_configs = [
    (8, 2, 0, 0), (64, 8, 0, 0), (16, 0, 1, 0), (32, 4, 2, 0), (24, 6, 6, 0),
    (40, 5, 0, 1), (40, 5, 0, 3), (20, 20, 2, 0), (1, 1, 0, 0), (48, 3, 0, 0x80),
]
for i, (pages, budget, alg, flags) in enumerate(zsswap_configs):
    for j, length in enumerate((40, 400)):
        head = bytes([pages - 1, budget, alg, flags])
        if flags & 1:
            head += bytes([zrng.randrange(8)])
        body = bytes(zrng.randrange(256) for _ in range(length))
        write("zsswap", "seed-%02d-%d" % (i, j), head + body)
