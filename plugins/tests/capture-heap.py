#!/usr/bin/env python3
"""capture-heap.py: a page corpus from a real process's memory, for the nbdkit
zsram plugin's tests and benchmark.

Starts a python3 child that builds dicts, lists and strings until its resident
memory reaches MB megabytes, then copies the child's present pages of writable
private anonymous memory ([heap] and anonymous rw-p mappings; /proc/PID/maps,
/proc/PID/pagemap, /proc/PID/mem) into OUT: raw 4 KiB pages back to back.
The child is killed afterwards.  Reading the child's memory needs ptrace
rights, which a parent has.

Usage: capture-heap.py MB OUT [SEED]
"""

import os
import struct
import subprocess
import sys

PAGE = 4096

CHILD = r'''
import random, sys
target = int(sys.argv[1]) << 20
random.seed(int(sys.argv[2]))
names = ["id", "name", "email", "city", "score", "tags", "created", "active"]
cities = ["Lisbon", "Oslo", "Quito", "Hanoi", "Perth", "Lagos", "Lima", "Riga"]
keep = []
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
while rss() < target:
    for _ in range(2000):
        i = random.randrange(1 << 30)
        keep.append({
            "id": i, "name": "user%d" % i,
            "email": "user%d@example.%s" % (i, random.choice(["org", "com"])),
            "city": random.choice(cities), "score": random.random() * 100,
            "tags": [random.choice(names) for _ in range(random.randrange(5))],
            "created": (2020 + i % 5, 1 + i % 12, 1 + i % 28),
            "active": bool(i & 1),
        })
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.read()
'''


def ranges(pid):
    out = []
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            fields = line.split(None, 5)
            perms = fields[1]
            path = fields[5].strip() if len(fields) > 5 else ""
            if perms[:2] != "rw" or perms[3] != "p":
                continue
            if path and path != "[heap]":
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            out.append((start, end))
    return out


def capture(pid, path):
    pages = 0
    with open("/proc/%d/pagemap" % pid, "rb") as pagemap, \
            open("/proc/%d/mem" % pid, "rb", buffering=0) as mem, \
            open(path, "wb") as out:
        for start, end in ranges(pid):
            n = (end - start) // PAGE
            pagemap.seek(start // PAGE * 8)
            entries = pagemap.read(n * 8)
            for k in range(len(entries) // 8):
                if not (struct.unpack_from("<Q", entries, k * 8)[0] >> 63) & 1:
                    continue
                try:
                    mem.seek(start + k * PAGE)
                    data = mem.read(PAGE)
                except OSError:
                    continue
                if len(data) == PAGE:
                    out.write(data)
                    pages += 1
    return pages


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    mb = int(sys.argv[1])
    path = sys.argv[2]
    seed = sys.argv[3] if len(sys.argv) == 4 else "1"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(mb), seed],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        if child.stdout.readline().strip() != b"ready":
            sys.stderr.write("capture-heap.py: the child did not get ready\n")
            return 1
        pages = capture(child.pid, path)
    finally:
        child.kill()
        child.wait()
    print("capture-heap.py: %d pages (%d MiB) of a python3 heap in %s"
          % (pages, pages * PAGE >> 20, path))
    return 0 if pages else 1


if __name__ == "__main__":
    sys.exit(main())
