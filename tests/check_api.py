#!/usr/bin/python3
"""Reachable API: every public function of the VT-d driver (vtd.h) and of
the isolation layer (iommu.h) is called in the shipped image outside the
file that defines it, or has its place in docs/embedding.md (a function
only its own file calls belongs in that file or in a private header).

Prints the functions with no caller anywhere in the image and says
whether embedding.md names them; exits 1 if one of the rule's two halves
fails for some function, naming it.  Comments and strings do not count as
callers.  Run by make test-unit (make check-api).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = ("drivers/iommu/vtd/vtd.h", "drivers/iommu/iommu.h")
IMAGE = ("arch", "boot", "drivers", "kernel", "lib")
EMBEDDING = "docs/embedding.md"
# Public without a caller outside their file, and why.
ALLOWED = {
    "iommu_fault_owner": "make bench measures fault attribution through it "
                         "(tests/iso/bench_iso.c)",
}


def strip(text):
    """Comments and string contents out, line numbers kept."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"),
                  text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def declared(header):
    """Functions declared (or defined inline) at file scope: a line that
    starts in column 0 and names vtd_* or iommu_* followed by '('."""
    names = []
    with open(os.path.join(ROOT, header)) as f:
        for line in strip(f.read()).split("\n"):
            if not line or line[0] in " \t#}" or line.startswith("typedef"):
                continue
            m = re.search(r"\b((?:vtd|iommu)_\w+)\s*\(", line)
            if m:
                names.append(m.group(1))
    return names


def main():
    sources = {}
    for top in IMAGE:
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for n in files:
                if n.endswith((".c", ".h")):
                    path = os.path.join(d, n)
                    with open(path) as f:
                        sources[os.path.relpath(path, ROOT)] = strip(f.read())
    with open(os.path.join(ROOT, EMBEDDING)) as f:
        embedding = f.read()

    bad = 0
    for header in HEADERS:
        for name in declared(header):
            # Not a struct of the same name (struct vtd_unit_info).
            word = re.compile(r"(?<!struct )\b%s\b" % name)
            # Definitions and declarations start in column 0; uses do not.
            defined = [p for p, t in sources.items() if p.endswith(".c") and
                       re.search(r"^\S.*\b%s\s*\(" % name, t, re.M)]
            users = {p for p, t in sources.items()
                     if any(word.search(l) for l in t.split("\n")
                            if l[:1] in (" ", "\t"))}
            documented = bool(word.search(embedding))
            if not users:
                print("%s: %s has no caller in the image; %s" %
                      (header, name, "documented in " + EMBEDDING
                       if documented else "NOT in " + EMBEDDING))
            if users - set(defined) or documented:
                continue
            if name in ALLOWED:
                print("%s: %s is called only in %s: %s" %
                      (header, name, ", ".join(defined), ALLOWED[name]))
                continue
            print("check-api: %s (%s) has no caller in the image outside "
                  "%s and no place in %s: make it private or document it"
                  % (name, header, ", ".join(defined) or "its file",
                     EMBEDDING))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
