#!/bin/sh
# zsbench_smoke: a seconds-long zsbench run on a tiny capture, then a run on a
# plain file as page source; checks that the JSON parses and holds every peer
# (a missing peer must be there as "missing"), that zsmalloc's memory
# breakdown is there and adds up (zsbench --smoke itself fails when it does
# not), and that bad options and a missing file are refused.  Never checks
# timings.
# Usage: smoke-test.sh ZSBENCH WORKDIR
set -eu
zsbench=$1
work=$2
mkdir -p "$work"
fail() { echo "zsbench_smoke: FAIL: $*" >&2; exit 1; }

check_json() { # file, peers expected
  python3 - "$@" <<'PY'
import json, sys
path, want = sys.argv[1], sys.argv[2].split(",")
doc = json.load(open(path))
for key in ("zsbench", "corpus", "datasets", "peers", "results"):
    assert key in doc, "no %r in %s" % (key, path)

def check_breakdown(r, sanitizer):
    b = r.get("memory_breakdown")
    assert b and b["fill"] and b["compact"], (r["dataset"], "no memory_breakdown")
    for phase in ("fill", "compact"):
        x = b[phase]
        parts = sum(p["bytes"] for p in x["parts"].values())
        assert x["sum_bytes"] == x["payload_bytes"] + parts, (phase, "sum")
        assert x["difference_bytes"] == x["measured_bytes"] - x["sum_bytes"], (phase, "difference")
        assert x["payload_bytes"] == r[phase]["payload_bytes"], (phase, "payload")
        # Shadow memory of a sanitizer is in the measured growth.
        if not sanitizer:
            assert x["within_tolerance"], (r["dataset"], phase, x["difference_bytes"])
            assert not x["note"], (r["dataset"], phase, x["note"])

seen = {}
for r in doc["results"]:
    seen.setdefault(r["peer"], []).append(r)
    assert r["status"] in ("ok", "missing", "failed", "busy", "skipped", "timeout"), r["status"]
for p in want:
    assert p in seen, "peer %r absent from %s" % (p, path)
    for r in seen[p]:
        if r["status"] == "ok":
            assert r["fill"] and r["fill"]["ops"] > 0, (p, "fill")
            assert r["fill"]["payload_bytes"] > 0, (p, "payload")
            if p != "zram":
                assert r["verify_errors"] == 0, (p, "verify errors")
                assert r["verified"] > 0, (p, "nothing verified")
                assert r["threads"], (p, "threads")
            if p == "zsmalloc":
                check_breakdown(r, doc["zsbench"]["sanitizer"])
        elif r["status"] == "failed":
            raise AssertionError("%s failed on %s: %s" % (p, r["dataset"], r["reason"]))
        else:
            assert r["reason"], (p, "a missing/busy peer must say why")
for p in ("glibc", "zsmalloc"):
    assert any(r["status"] == "ok" for r in seen[p]), p + " did not run"
print("zsbench_smoke: %s: %d results, peers %s" % (path, len(doc["results"]),
      ", ".join("%s=%s" % (p, seen[p][0]["status"]) for p in want)))
PY
}

# 1. The smoke run: tiny capture of real programs (cached in WORKDIR).
"$zsbench" --smoke --quiet --corpus-dir "$work/corpus" --json "$work/smoke.json" \
  --plot "$work/smoke.png" >"$work/smoke.out" 2>&1 || { cat "$work/smoke.out"; fail "smoke run"; }
cat "$work/smoke.out"
no_sanitizer_report() {
  if grep -q -E "ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error:" "$1"; then
    fail "a sanitizer reported a problem in $1"
  fi
}
no_sanitizer_report "$work/smoke.out"
check_json "$work/smoke.json" glibc,jemalloc,mimalloc,zsmalloc,zbud,z3fold,zram || fail "smoke JSON"

# 2. Any file is a page source: the binary itself, twice over (--scale).
"$zsbench" --quiet --pages "$zsbench" --scale 2 --sizes none --peers glibc,zsmalloc --threads 1 \
  --churn-ops 1000 --read-ops 1000 --thread-ops 1000 --json "$work/file.json" --no-plot \
  >"$work/file.out" 2>&1 || { cat "$work/file.out"; fail "run on a plain file"; }
no_sanitizer_report "$work/file.out"
check_json "$work/file.json" glibc,zsmalloc || fail "file JSON"
python3 - "$work/file.json" <<'PY' || fail "--scale 2: the dataset is not the file's pages twice over"
import json, sys
d = json.load(open(sys.argv[1]))["datasets"][0]
assert d["name"].endswith("-x2") and d["scale"] == 2, d
assert d["pages"] % 2 == 0 and d["objects"] % 2 == 0, d
PY

# 3. Errors: bad options and a missing file exit 2 with a message.
for args in "--bogus" "--sizes 12Q" "--peers glibc,nope" "--threads 0" "--scale 0" \
    "--scale 2x" "--scale -3" "--scale 1001" "--pages $work/does-not-exist"; do
  rc=0
  # shellcheck disable=SC2086
  "$zsbench" $args >"$work/err.out" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || fail "exit status $rc (not 2) for: $args"
  grep -q "zsbench" "$work/err.out" || fail "no message for: $args"
done
"$zsbench" --help | grep -q -- "--pages" || fail "--help"
echo "zsbench_smoke: all checks passed"
