# zsswap-run's Python test: builds MB megabytes of dicts and lists (argv[1],
# default 120), checks them, runs a subprocess, and prints checksums that
# are the same with and without the wrapper.
import hashlib
import subprocess
import sys

mb = int(sys.argv[1]) if len(sys.argv) > 1 else 120
records = []
size = 0
i = 0
while size < mb << 20:
    rec = {"id": i, "name": "user-%d" % i, "tags": ["t%d" % (i % 97), "g%d" % (i % 13)],
           "score": (i * 2654435761) % 1000003 / 7.0, "blob": ("%08x" % (i * 40503)) * 8}
    records.append(rec)
    size += 420
    i += 1
index = {r["name"]: r for r in records[::3]}
h = hashlib.sha256()
for r in records:
    h.update(("%d %s %s %.3f %s" % (r["id"], r["name"], ",".join(r["tags"]), r["score"],
                                   r["blob"])).encode())
assert all(index["user-%d" % k]["id"] == k for k in range(0, i, 3))
child = subprocess.run([sys.executable, "-c", "print(sum(range(1000)))"],
                       capture_output=True, text=True, check=True)
print("records", len(records), "index", len(index))
print("sha256", h.hexdigest())
print("child", child.stdout.strip())
