#!/usr/bin/env python3
"""check-progress-json.py ZSRAM ZSBENCH WORKDIR: the tools' progress bar and
--json output.

- ZS_PROGRESS=1 draws the bar on stderr in its shape: label, 24-cell bar,
  bytes done of total, rate and time left, redrawn with '\\r', ending with a
  full bar and a newline; without a terminal (or with ZS_PROGRESS=0) stderr
  gets no bar at all.
- zsram --json prints one JSON object on stdout whose figures agree with the
  input; zsbench --json - prints its results on stdout, the tables on stderr.
Never timings.
"""
import json
import os
import re
import subprocess
import sys

BAR = (r"\r(?P<label>[^\r\[]+) \[(?P<cells>[#.]{24})\] +(?P<done>[0-9.]+) MiB / "
       r"(?P<total>[0-9.]+) MiB +[0-9.]+ MiB/s +(?P<left>[0-9]+:[0-9]{2}:[0-9]{2} left|"
       r"-:--:-- left|[0-9.]+ s)\x1b\[K")
problems = []


def fail(msg):
    problems.append(msg)
    print("FAIL: " + msg)


def run(cmd, progress):
    env = dict(os.environ)
    env.pop("ZS_PROGRESS", None)
    if progress is not None:
        env["ZS_PROGRESS"] = progress
    r = subprocess.run(cmd, capture_output=True, env=env)
    if r.returncode != 0:
        fail("%s: status %d: %s" % (" ".join(cmd), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode(), r.stderr.decode()


def check_bars(what, err, labels, total_mib):
    for label in labels:
        draws = [m for m in re.finditer(BAR, err) if m.group("label") == label]
        if not draws:
            fail("%s: no progress bar '%s' on stderr: %r" % (what, label, err[:300]))
            continue
        last = draws[-1]
        if last.group("cells") != "#" * 24 or not last.group("left").endswith(" s"):
            fail("%s: the last draw of '%s' is not the full bar: %r" % (what, label, last.group(0)))
        if total_mib is not None and abs(float(last.group("total")) - total_mib) > 0.05:
            fail("%s: bar '%s' counts %s MiB, the input is %.1f MiB"
                 % (what, label, last.group("total"), total_mib))
        if not err[last.end():].startswith("\n"):
            fail("%s: the bar '%s' does not end its line" % (what, label))


def main():
    zsram, zsbench, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    pages = os.path.join(work, "input.pages")
    data = b""
    for name in sorted(os.listdir("/usr/bin")):
        path = os.path.join("/usr/bin", name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as f:
                data += f.read(1 << 20)
        if len(data) >= 6 << 20:
            break
    data = data[: (len(data) // 4096) * 4096]
    with open(pages, "wb") as f:
        f.write(data)
    npages = len(data) // 4096

    out, err = run([zsram, pages], "1")
    check_bars("zsram", err, ["write", "verify"], len(data) / 1048576.0)
    if "mm_stat:" not in out:
        fail("zsram: the text report lost its mm_stat: line")
    for progress in (None, "0"):
        out, err = run([zsram, pages], progress)
        if "\r" in err or "MiB/s" in err:
            fail("zsram draws a bar with stderr not a terminal (ZS_PROGRESS=%s): %r" % (progress, err))

    out, err = run([zsram, "--json", "--discard", "0.5", pages], None)
    try:
        j = json.loads(out)
    except ValueError as e:
        fail("zsram --json: stdout is not one JSON object (%s): %r" % (e, out[:300]))
        j = None
    if j:
        if j["input"]["pages"] != npages or j["mm_stat"]["orig_data_size"] != len(data):
            fail("zsram --json: %d pages, orig_data_size %d; the input is %d pages"
                 % (j["input"]["pages"], j["mm_stat"]["orig_data_size"], npages))
        if j["verified"] is not True or j["discard"]["verified"] is not True:
            fail("zsram --json: not verified: %r" % j)
        if not 0 < j["discard"]["pages"] < npages:
            fail("zsram --json: discard of half the pages discarded %d" % j["discard"]["pages"])
        if j["mm_stat_after_discard"]["orig_data_size"] >= j["mm_stat"]["orig_data_size"]:
            fail("zsram --json: orig_data_size did not fall after the discard")

    out, err = run([zsbench, "--pages", pages, "--sizes", "none", "--peers", "glibc,zsmalloc",
                    "--churn-ops", "2000", "--read-ops", "2000", "--thread-ops", "1000",
                    "--threads", "1", "--no-plot", "--json", "-"], "1")
    try:
        j = json.loads(out)
        names = sorted(r["peer"] for r in j["results"])
        if names != ["glibc", "zsmalloc"]:
            fail("zsbench --json -: results of %r, want glibc and zsmalloc" % names)
    except (ValueError, KeyError, TypeError) as e:
        fail("zsbench --json -: stdout is not its JSON (%s): %r" % (e, out[:300]))
    check_bars("zsbench", err, ["zsbench: compressing input with lz4", "zsbench: all runs"],
               None)
    if "Corpus:" not in err:
        fail("zsbench --json -: the tables did not go to stderr")

    if not problems:
        print("ok: bars drawn in shape when forced and never without a terminal; "
              "zsram --json and zsbench --json - parse and agree with the input")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
