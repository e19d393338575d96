#!/usr/bin/env python3
"""nbd-bench.py: the nbdkit zsram plugin side by side with nbdkit's own memory
plugin, on one page corpus copied with nbdcopy over a Unix socket.

For each configuration (memory allocator=sparse, memory allocator=zstd; zsram
with lz4, zstd untuned (32 KiB pages, a dictionary it trains itself), zstd
with auto_dictionary=off, zstd at 4 and 16 KiB pages, zstd with a
dictionary trained on the corpus by zsram-train-dict at 4 KiB pages and
levels 3 and 1, at 16 and 32 KiB pages, lz4 with 16 KiB pages) and each
of --runs runs, a fresh nbdkit server is started;
nbdcopy copies the corpus in (--flush), the server's resident memory is read
(VmRSS: RSS@in), then again once the server has used no CPU for 0.5 s (VmRSS
and RssAnon in /proc/PID/status: RSS, anon; the zsram store trains and
re-encodes with its dictionary after the copy, for "settle s"), nbdcopy copies the disk out to
null: (timed) and, on the first run, to a file compared with the corpus
(untimed).  Reports the median of the runs as a table on stdout and all runs
as JSON (--json).

With --fio MB, each configuration also serves fio's nbd engine on a fresh
disk of MB megabytes: 4 connections, each on its own quarter, random mixed
reads and writes of 512 B to 64 KiB (60% compressible buffers), then fio
reads back every block it wrote and checks its crc32c; the table gives
write and read MiB/s, the server's memory once idle, and whether every
block verified (a failure makes the exit status 1).

Usage:
  nbd-bench.py --plugin PATH/nbdkit-zsram-plugin.so [--train-dict PATH]
               [--runs N] [--json FILE] [--only NAME,...] [--fio MB] CORPUS
  nbd-bench.py --plugin ... --capture-mb MB [--keep-corpus FILE]
CORPUS is a file of raw 4 KiB pages (for example made by
bench/zs-capture --sources python --mb MB --file FILE, a python3 heap).
Exit status: 0 success, 1 a run failed or a copy differed, 2 bad usage.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, tmp, name, argv):
        self.sock = os.path.join(tmp, name + ".sock")
        self.pidfile = os.path.join(tmp, name + ".pid")
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        for p in (self.sock, self.pidfile):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = subprocess.Popen(
            ["nbdkit", "--foreground", "--exit-with-parent", "--unix",
             self.sock, "--pidfile", self.pidfile] + argv,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not (os.path.exists(self.pidfile) and
                   os.path.getsize(self.pidfile) > 0 and
                   os.path.exists(self.sock)):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("nbdkit %s did not start; see %s"
                                   % (" ".join(argv), self.log.name))
            time.sleep(0.02)
        self.uri = "nbd+unix:///?socket=" + self.sock

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(pid, quiet=0.5, limit=60.0):
    """Seconds until the server used no CPU for `quiet` seconds (the zsram
    store's dictionary thread trains and re-encodes after the copy)."""
    t0 = time.monotonic()
    last = cpu_ticks(pid)
    still = t0
    while time.monotonic() - t0 < limit:
        time.sleep(0.1)
        now = cpu_ticks(pid)
        if now != last:
            last, still = now, time.monotonic()
        elif time.monotonic() - still >= quiet:
            break
    return max(0.0, still - t0)


def timed(argv):
    t0 = time.monotonic()
    subprocess.run(argv, check=True)
    return time.monotonic() - t0


FIO_JOB = """[global]
ioengine=nbd
uri=%(uri)s
rw=randrw
bsrange=512-64k
verify=crc32c
buffer_compress_percentage=60
refill_buffers=1
size=%(part)dm
offset_increment=%(part)dm
numjobs=4
group_reporting=1
[mixed]
"""


def fio_one(tmp, name, argv, fio_mb):
    """fio's nbd engine on a fresh server of fio_mb MB: 4 connections, each
    random mixed 512 B-64 KiB reads and writes over its own quarter, then
    fio reads back and checks (crc32c) every block it wrote."""
    argv = [a if not a.startswith("size=") else "size=%dM" % fio_mb
            for a in argv]
    srv = Server(tmp, name + "-fio", argv)
    try:
        job = os.path.join(tmp, "mixed.fio")
        with open(job, "w") as f:
            f.write(FIO_JOB % {"uri": srv.uri, "part": fio_mb // 4})
        p = subprocess.run(["fio", "--output-format=json", job],
                           capture_output=True, text=True)
        out = p.stdout[p.stdout.find("{"):]
        try:
            j = json.loads(out)["jobs"][0]
        except (ValueError, KeyError, IndexError):
            j = None
        wait_idle(srv.proc.pid)
        rss = status_kb(srv.proc.pid, "VmRSS")
        anon = status_kb(srv.proc.pid, "RssAnon")
    finally:
        srv.stop()
    ok = p.returncode == 0 and j is not None and j["error"] == 0
    if not ok:
        print("nbd-bench.py: fio on %s: exit %d, %s" % (
            name, p.returncode, (p.stderr.strip().splitlines() or ["?"])[-1]),
            file=sys.stderr)
    return {"verified": ok, "rss_kb": rss, "rss_anon_kb": anon,
            "write_mib_s": j["write"]["bw_bytes"] / 2**20 if j else 0,
            "read_mib_s": j["read"]["bw_bytes"] / 2**20 if j else 0,
            "written_mib": j["write"]["io_bytes"] / 2**20 if j else 0}


def run_one(tmp, name, argv, corpus, disk, verify):
    srv = Server(tmp, name, argv)
    try:
        rss_idle = status_kb(srv.proc.pid, "VmRSS")
        t_in = timed(["nbdcopy", "--flush", corpus, srv.uri])
        rss_copied = status_kb(srv.proc.pid, "VmRSS")
        settle = wait_idle(srv.proc.pid)
        rss = status_kb(srv.proc.pid, "VmRSS")
        anon = status_kb(srv.proc.pid, "RssAnon")
        t_out = timed(["nbdcopy", srv.uri, "null:"])
        same = None
        if verify:
            out = os.path.join(tmp, "out")
            subprocess.run(["nbdcopy", srv.uri, out], check=True)
            n = os.path.getsize(corpus)
            same = subprocess.run(["cmp", "-s", "-n", str(n), corpus, out]
                                  ).returncode == 0
            os.unlink(out)
        rss_after_out = status_kb(srv.proc.pid, "VmRSS")
    finally:
        srv.stop()
    return {"rss_idle_kb": rss_idle, "rss_copied_kb": rss_copied,
            "settle_s": settle, "rss_kb": rss, "rss_anon_kb": anon,
            "rss_after_copy_out_kb": rss_after_out,
            "copy_in_s": t_in, "copy_out_s": t_out, "verified": same}


def main():
    ap = argparse.ArgumentParser(
        description="nbdkit zsram plugin vs nbdkit memory plugin, by nbdcopy")
    ap.add_argument("corpus", nargs="?", help="file of raw 4 KiB pages")
    ap.add_argument("--plugin", required=True, help="nbdkit-zsram-plugin.so")
    ap.add_argument("--train-dict", help="zsram-train-dict program "
                    "(default: next to the plugin's build folder)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", help="write all results as JSON to this file")
    ap.add_argument("--only", help="comma-separated configuration names")
    ap.add_argument("--capture-mb", type=int,
                    help="make the corpus: a python3 heap of this many MB")
    ap.add_argument("--fio", type=int, metavar="MB", default=0,
                    help="also run fio's nbd engine (random mixed 512 B-64 KiB"
                    " I/O with verify over 4 connections) on a disk of MB"
                    " megabytes, for each configuration")
    ap.add_argument("--keep-corpus", help="with --capture-mb: where to keep it")
    args = ap.parse_args()
    if bool(args.corpus) == bool(args.capture_mb):
        ap.error("give CORPUS or --capture-mb MB")
    if args.fio and (args.fio < 4 or args.fio % 4):
        ap.error("--fio MB: a multiple of 4, at least 4")
    if args.fio and not shutil.which("fio"):
        sys.exit("nbd-bench.py: --fio needs fio (Debian package fio)")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    for tool in ("nbdkit", "nbdcopy", "cmp"):
        if not shutil.which(tool):
            sys.exit("nbd-bench.py: %s is not installed" % tool)
    plugin = os.path.abspath(args.plugin)
    if not os.path.exists(plugin):
        sys.exit("nbd-bench.py: no plugin at %s" % plugin)
    train = args.train_dict or os.path.join(os.path.dirname(plugin),
                                            "zsram-train-dict")

    tmp = tempfile.mkdtemp(prefix="nbd-bench.")
    try:
        corpus = args.corpus
        if args.capture_mb:
            corpus = args.keep_corpus or os.path.join(tmp, "corpus")
            subprocess.run([sys.executable,
                            os.path.join(HERE, "..", "..", "bench", "zs-capture"),
                            "--sources", "python", "--mb", str(args.capture_mb),
                            "--file", corpus], check=True)
        corpus = os.path.abspath(corpus)
        size = os.path.getsize(corpus)
        disk = (size // (1 << 20) + 1) << 20

        configs = [
            ("memory-sparse", ["memory", "size=%d" % disk, "allocator=sparse"]),
            ("memory-zstd", ["memory", "size=%d" % disk, "allocator=zstd"]),
            ("zsram-lz4", [plugin, "size=%d" % disk, "algorithm=lz4"]),
            ("zsram-zstd", [plugin, "size=%d" % disk, "algorithm=zstd"]),
            ("zsram-zstd-noauto", [plugin, "size=%d" % disk, "algorithm=zstd",
                                   "auto_dictionary=off"]),
            ("zsram-zstd-4k", [plugin, "size=%d" % disk, "algorithm=zstd",
                               "page_size=4K"]),
            ("zsram-zstd-16k", [plugin, "size=%d" % disk, "algorithm=zstd",
                                "page_size=16K"]),
        ]
        dict_info = {}
        dicts = {}
        if os.access(train, os.X_OK):
            for ps in (4096, 16384, 32768):
                dict_path = dicts[ps] = os.path.join(tmp, "dict%d" % ps)
                t0 = time.monotonic()
                subprocess.run([train, "--page-size", str(ps), corpus,
                                dict_path], check=True,
                               stdout=subprocess.DEVNULL)
                dict_info[ps] = {"bytes": os.path.getsize(dict_path),
                                 "train_s": time.monotonic() - t0}
            configs += [
                ("zsram-zstd-dict", [plugin, "size=%d" % disk, "algorithm=zstd",
                                     "page_size=4K",
                                     "dictionary=" + dicts[4096]]),
                ("zsram-zstd1-dict", [plugin, "size=%d" % disk,
                                      "algorithm=zstd:1", "page_size=4K",
                                      "dictionary=" + dicts[4096]]),
                ("zsram-zstd-16k-dict", [plugin, "size=%d" % disk,
                                         "algorithm=zstd", "page_size=16K",
                                         "dictionary=" + dicts[16384]]),
                ("zsram-zstd-32k-dict", [plugin, "size=%d" % disk,
                                         "algorithm=zstd", "page_size=32K",
                                         "dictionary=" + dicts[32768]]),
            ]
        else:
            print("nbd-bench.py: no zsram-train-dict at %s; no dictionary "
                  "configurations" % train, file=sys.stderr)
        configs.append(("zsram-lz4-16k", [plugin, "size=%d" % disk,
                                          "algorithm=lz4", "page_size=16K"]))
        if args.only:
            wanted = args.only.split(",")
            unknown = [w for w in wanted if w not in [c[0] for c in configs]]
            if unknown:
                ap.error("unknown configuration(s): %s (have %s)" % (
                    ", ".join(unknown), ", ".join(c[0] for c in configs)))
            configs = [c for c in configs if c[0] in wanted]

        results = {}
        fio_results = {}
        failed = False
        # Interleave the configurations run by run, so a slow phase of the
        # machine does not land on one configuration only.
        for run in range(args.runs):
            for name, argv in configs:
                r = run_one(tmp, name, argv, corpus, disk, verify=(run == 0))
                results.setdefault(name, []).append(r)
                if r["verified"] is False:
                    print("nbd-bench.py: %s: the copy differs from the corpus"
                          % name, file=sys.stderr)
                    failed = True
                if args.fio:
                    f = fio_one(tmp, name, argv, args.fio)
                    fio_results.setdefault(name, []).append(f)
                    failed = failed or not f["verified"]

        mb = size / 1e6
        print("corpus: %s, %d bytes (%.1f MB), disk %d bytes, %d run(s), "
              "medians" % (corpus, size, mb, disk, args.runs))
        for ps, d in sorted(dict_info.items()):
            print("dictionary for %d-byte pages: %d bytes, trained in %.2f s"
                  % (ps, d["bytes"], d["train_s"]))
        hdr = "%-20s %8s %8s %8s %8s %8s %8s %8s %8s" % (
            "server", "RSS MB", "anon MB", "ratio", "RSS@in", "settle s",
            "in s", "in MB/s", "out MB/s")
        print(hdr)
        print("-" * len(hdr))
        summary = {}
        for name, _argv in configs:
            rs = results[name]
            rss = statistics.median(r["rss_kb"] for r in rs) * 1024 / 1e6
            anon = statistics.median(r["rss_anon_kb"] for r in rs) * 1024 / 1e6
            rss_in = statistics.median(r["rss_copied_kb"] for r in rs) * 1024 / 1e6
            settle = statistics.median(r["settle_s"] for r in rs)
            t_in = statistics.median(r["copy_in_s"] for r in rs)
            t_out = statistics.median(r["copy_out_s"] for r in rs)
            summary[name] = {"rss_mb": rss, "rss_anon_mb": anon,
                             "rss_copied_mb": rss_in, "settle_s": settle,
                             "copy_in_s": t_in, "copy_out_s": t_out,
                             "copy_in_mb_s": mb / t_in,
                             "copy_out_mb_s": mb / t_out}
            print("%-20s %8.1f %8.1f %8.2f %8.1f %8.2f %8.2f %8.1f %8.1f" % (
                name, rss, anon, mb / rss if rss else 0, rss_in, settle,
                t_in, mb / t_in, mb / t_out))
        fio_summary = {}
        if args.fio:
            print()
            print("fio, nbd engine: random mixed 512 B-64 KiB reads and writes "
                  "with crc32c verify, 4 connections, %d MB disk, medians"
                  % args.fio)
            hdr = "%-20s %8s %8s %10s %10s %8s" % (
                "server", "RSS MB", "anon MB", "write MiB/s", "read MiB/s",
                "verify")
            print(hdr)
            print("-" * len(hdr))
            for name, _argv in configs:
                fs = fio_results[name]
                row = {k: statistics.median(f[k] for f in fs) for k in
                       ("rss_kb", "rss_anon_kb", "write_mib_s", "read_mib_s")}
                row["verified_all"] = all(f["verified"] for f in fs)
                fio_summary[name] = row
                print("%-20s %8.1f %8.1f %10.1f %10.1f %8s" % (
                    name, row["rss_kb"] * 1024 / 1e6,
                    row["rss_anon_kb"] * 1024 / 1e6, row["write_mib_s"],
                    row["read_mib_s"],
                    "clean" if row["verified_all"] else "FAILED"))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"corpus": corpus, "corpus_bytes": size,
                           "disk_bytes": disk, "runs": args.runs,
                           "dictionary": dict_info,
                           "nbdkit": subprocess.run(
                               ["nbdkit", "--version"], capture_output=True,
                               text=True).stdout.strip(),
                           "summary": summary, "results": results,
                           "fio_mb": args.fio, "fio_summary": fio_summary,
                           "fio_results": fio_results}, f,
                          indent=2)
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
