#!/usr/bin/env python3
"""check-man.py PREFIX: checks the man pages of an installed tree.

1. Every page under PREFIX/share/man renders with `groff -man -Tutf8 -ww -z`
   without a single warning; a link page (".so manN/PAGE.N") points at a
   page that is there.
2. Every public symbol of the installed headers (PREFIX/include/*.h):
   functions, struct and enum tags, enum constants and macros, appears on
   some page (a word of its roff source).
3. Every program in PREFIX/bin and every nbdkit plugin under
   PREFIX/lib*/nbdkit/plugins has a section 1 page of its name.

Prints each problem and exits 1 if there is any.
"""
import glob
import gzip
import os
import re
import subprocess
import sys


def read_page(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read()


def page_name(path):
    base = os.path.basename(path)
    return base[:-3] if base.endswith(".gz") else base


def header_symbols(path):
    """(kind, name) of what a public header declares."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    syms = []
    for m in re.finditer(r"^\s*#\s*define\s+([A-Za-z_]\w*)", text, flags=re.M):
        if not m.group(1).endswith("_H"):  # the include guard
            syms.append(("macro", m.group(1)))
    # extern "C" { ... } is for C++ only, and would hide every declaration.
    text = re.sub(r"^\s*#\s*ifdef\s+__cplusplus\b.*?^\s*#\s*endif[^\n]*", " ", text,
                  flags=re.M | re.S)
    text = re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)
    for m in re.finditer(r"\b(struct|enum)\s+([A-Za-z_]\w*)", text):
        syms.append((m.group(1), m.group(2)))
    for m in re.finditer(r"\benum\s+\w*\s*\{([^}]*)\}", text):
        for const in re.findall(r"([A-Za-z_]\w*)\s*(?:=[^,]*)?(?:,|$)", m.group(1)):
            syms.append(("enum constant", const))
    # Functions: an identifier and its parameter list at brace depth 0.
    depth, top = 0, []
    for ch in text:
        depth += ch == "{"
        if depth == 0:
            top.append(ch)
        depth -= ch == "}"
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\([^;{}()]*(?:\([^()]*\)[^;{}()]*)*\)\s*;",
                         "".join(top)):
        if m.group(1) not in ("__attribute__", "extern"):
            syms.append(("function", m.group(1)))
    seen, out = set(), []
    for kind, name in syms:
        if name not in seen:
            seen.add(name)
            out.append((kind, name))
    return out


def main():
    prefix = sys.argv[1]
    mandir = os.path.join(prefix, "share", "man")
    problems = []
    pages = sorted(glob.glob(os.path.join(mandir, "man[1-8]", "*")))
    if not pages:
        print("FAIL: no man page under %s" % mandir)
        return 1
    texts, names = [], set()
    for path in pages:
        names.add(page_name(path))
        text = read_page(path)
        link = re.match(r"\.so\s+(\S+)\s*$", text)
        if link:
            target = os.path.join(mandir, link.group(1))
            if not (os.path.exists(target) or os.path.exists(target + ".gz")):
                problems.append("%s: links to %s, which is not installed" % (path, link.group(1)))
            continue
        texts.append(text)
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=text,
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            problems.append("%s: groff: %s" % (path, r.stderr.strip() or "status %d" % r.returncode))
    words = set()
    for text in texts:
        words.update(re.findall(r"[A-Za-z_]\w*", text))

    headers = sorted(glob.glob(os.path.join(prefix, "include", "*.h")))
    nsyms = 0
    for h in headers:
        for kind, name in header_symbols(h):
            nsyms += 1
            if name not in words:
                problems.append("%s: %s %s is on no man page" % (os.path.basename(h), kind, name))

    tools = [os.path.basename(p) for p in glob.glob(os.path.join(prefix, "bin", "*"))]
    tools += [os.path.basename(p)[:-3] for p in
              glob.glob(os.path.join(prefix, "lib*", "**", "nbdkit", "plugins", "*.so"),
                        recursive=True)]
    for tool in sorted(tools):
        if tool + ".1" not in names:
            problems.append("%s is installed without a section 1 page (%s.1)" % (tool, tool))

    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("ok: %d pages render without warnings; %d symbols of %d headers documented; "
              "%d programs and plugins have a page" % (len(pages), nsyms, len(headers), len(tools)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
