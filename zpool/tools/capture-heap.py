#!/usr/bin/env python3
"""Captures the anonymous memory of a Python process that holds typical data,
as a corpus of real pages for zpool-density (or any zsmalloc benchmark).

Starts a child python3 that builds dicts, lists and strings of about the size
asked, then copies every private writable anonymous mapping of the child
([heap] and unnamed rw-p regions) from /proc/PID/mem into OUT, and ends the
child.  Needs permission to read the child's memory (same user and ptrace
allowed, or root).

usage: capture-heap.py OUT [MEGABYTES]   (default 100)
"""
import os
import re
import signal
import subprocess
import sys

CHILD = r'''
import random, sys
random.seed(12345)
target = int(sys.argv[1]) << 20
words = ["alpha", "beta", "gamma", "delta", "record", "user", "value", "item",
         "status", "created", "updated", "name", "email", "count", "total"]
data, size = [], 0
while size < target:
    d = {}
    for k in range(random.randint(4, 12)):
        key = random.choice(words) + str(random.randint(0, 999))
        r = random.random()
        if r < 0.3:
            d[key] = random.randint(0, 10**9)
        elif r < 0.5:
            d[key] = random.random() * 1000
        elif r < 0.8:
            d[key] = " ".join(random.choice(words) for _ in range(random.randint(1, 8)))
        else:
            d[key] = [random.randint(0, 100) for _ in range(random.randint(0, 10))]
    data.append(d)
    size += 1450  # what one such dict ends up taking, measured
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.read()
'''


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    out = sys.argv[1]
    try:
        megabytes = int(sys.argv[2]) if len(sys.argv) == 3 else 100
        if megabytes <= 0:
            raise ValueError
    except ValueError:
        sys.stderr.write("capture-heap: MEGABYTES must be a positive number\n")
        return 2
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(megabytes)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        if child.stdout.readline().strip() != b"ready":
            sys.stderr.write("capture-heap: the child did not start\n")
            return 1
        total = 0
        pattern = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) rw-p [0-9a-f]+ 00:00 0\s*(\S*)$")
        with open("/proc/%d/maps" % child.pid) as maps, \
                open("/proc/%d/mem" % child.pid, "rb", 0) as mem, \
                open(out, "wb") as dst:
            for line in maps:
                m = pattern.match(line.strip())
                if not m or m.group(3) not in ("", "[heap]"):
                    continue
                start, end = int(m.group(1), 16), int(m.group(2), 16)
                mem.seek(start)
                try:
                    chunk = mem.read(end - start)
                except OSError:
                    continue
                dst.write(chunk)
                total += len(chunk)
        sys.stdout.write("capture-heap: %d bytes (%d pages) of pid %d into %s\n"
                         % (total, total // 4096, child.pid, out))
        return 0
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    sys.exit(main())
