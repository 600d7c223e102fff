#!/usr/bin/python3
"""Mutation testing: plant one deliberate bug at a time, see a test fail.

Reads tests/mutate/catalogue.txt (format described there), copies the tree
to build/mutate/src (the tree itself is never changed), checks that the
host tests pass there, then for each
mutation: replaces its text (found by content, exactly once), rebuilds the
tests it names, runs them, and puts the file back.  A mutation is caught
when a test fails or hangs, survived when all pass, equivalent when it
survives and the catalogue says why no test can tell.  The last line is
exactly "mutations: C caught, S survived, E equivalent of T".

    mutate.py [--quick N] [--only ID[,ID...]] [--seed S] [--check]

--check only verifies that every mutation's text is found exactly once.

Exit status: 0 when nothing survived, 1 otherwise, 2 on a catalogue or
build error (a mutation whose text is not found exactly once, or that
does not compile).
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CATALOGUE = os.path.join(ROOT, "tests", "mutate", "catalogue.txt")
WORK = os.path.join(ROOT, "build", "mutate", "src")
TIMEOUT = 30  # seconds per test binary (each takes ~1): a hang is caught
# The binaries' own deadline per test (tests/deadline.h), shorter, so that
# a mutant which hangs one test fails it by name; TIMEOUT stays the bound.
TEST_DEADLINE = TIMEOUT - 5
MAKE = ["make", "-j2", "--no-print-directory"]
UNUSED_OK = "".join('#pragma GCC diagnostic ignored "-W%s"\n' % w for w in (
    "unused-function", "unused-variable", "unused-but-set-variable",
    "unused-label", "unused-parameter"))


class Mutation:
    def __init__(self, ident, path, tests, what):
        self.ident = ident
        self.path = path
        self.tests = tests
        self.what = what
        self.find = []
        self.replace = []
        self.equivalent = None


def fail(msg):
    print("mutate: " + msg, file=sys.stderr)
    sys.exit(2)


def parse(text):
    """Entries are separated by blank lines; see catalogue.txt."""
    muts, cur, default_tests = [], None, []
    head = re.compile(r"^(M\d+)\s+(\S+)\s+\|\s*([^|]*)\|\s*(.+)$")
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("#"):
            continue
        if line.startswith("tests:"):
            default_tests = line[len("tests:"):].split()
            continue
        if not line.strip():
            cur = None
            continue
        if cur is None:
            m = head.match(line)
            if not m:
                fail("catalogue line %d: expected 'Mnn path | tests | what'" % n)
            tests = m.group(3).split() or default_tests
            cur = Mutation(m.group(1), m.group(2), tests, m.group(4).strip())
            muts.append(cur)
        elif line.startswith("-"):
            cur.find.append(line[1:])
        elif line.startswith("+"):
            cur.replace.append(line[1:])
        elif line.startswith("="):
            cur.equivalent = line[1:].strip()
        else:
            fail("catalogue line %d: expected -, + or =" % n)
    ids = [m.ident for m in muts]
    if len(set(ids)) != len(ids):
        fail("duplicate mutation ids")
    for m in muts:
        if not m.find:
            fail("%s: nothing to find" % m.ident)
    return muts


def same(a, b):
    if not os.path.exists(b) or os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def sync_tree():
    """The copy gets every file of the tree that differs (a fresh mtime,
    so make rebuilds what depends on it); the rest, and the copy's own
    build, stay as they are."""
    for d, dirs, files in os.walk(ROOT):
        if d == ROOT:
            dirs[:] = [n for n in dirs if n not in (".git", "build")]
        rel = os.path.relpath(d, ROOT)
        os.makedirs(os.path.join(WORK, rel), exist_ok=True)
        for n in files:
            src = os.path.join(d, n)
            dst = os.path.join(WORK, rel, n)
            if not os.path.islink(src) and not same(src, dst):
                shutil.copyfile(src, dst)
                shutil.copymode(src, dst)


def binary(test):
    """A test is a host test binary, with arguments after a colon, comma
    separated (system:--seeds,4)."""
    return test.split(":")[0]


def build(tests):
    targets = ["build/host/bin/" + binary(t) for t in tests]
    r = subprocess.run(MAKE + targets, cwd=WORK, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode == 0, r.stdout


def run(test):
    """None when the test binary passes, else what failed."""
    try:
        args = test.split(":", 1)[1].split(",") if ":" in test else []
        r = subprocess.run(["build/host/bin/" + binary(test)] + args,
                           cwd=WORK, env=dict(os.environ, MOAT_TEST_DEADLINE=
                                              str(TEST_DEADLINE)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "%s: hang (%d s)" % (binary(test), TIMEOUT)
    if r.returncode == 0:
        return None
    names = re.findall(r"^\[  (?:FAILED|ERROR)   ?\] (test_\w+)", r.stdout,
                       re.M)
    names = sorted(set(names))
    return "%s: %s" % (binary(test),
                       ", ".join(names[:3]) or "exit %d" % r.returncode)


def pattern(m):
    """Whole lines, as written in the catalogue up to leading and trailing
    blanks, so that re-indenting the code does not break the catalogue."""
    return re.compile("".join(r"^[ \t]*" + re.escape(line.strip()) +
                              r"[ \t]*\n" for line in m.find), re.M)


def matches(m, root):
    with open(os.path.join(root, m.path)) as f:
        return len(pattern(m).findall(f.read()))


def apply(m):
    path = os.path.join(WORK, m.path)
    with open(path) as f:
        text = f.read()
    found = pattern(m).findall(text)
    if len(found) != 1:
        fail("%s: text not found exactly once in %s (%d times)"
             % (m.ident, m.path, len(found)))
    repl = "".join(line + "\n" for line in m.replace)
    with open(path, "w") as f:
        # A mutant may leave code unused; -Werror must not hide what it does.
        f.write(UNUSED_OK + pattern(m).sub(lambda _: repl, text))
    return path, text


def restore(path, text):
    # Written after the mutant's objects were built: make rebuilds them.
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", type=int, default=0,
                    help="a sample of N mutations")
    ap.add_argument("--seed", default=os.environ.get("MUTATE_SEED", ""))
    ap.add_argument("--only", default="")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    with open(CATALOGUE) as f:
        muts = parse(f.read())
    # Layers being moved elsewhere: say so, never fail make test over it.
    for m in [m for m in muts if not os.path.exists(os.path.join(ROOT, m.path))]:
        print("mutate: %s skipped: %s no longer exists; re-target it"
              % (m.ident, m.path), file=sys.stderr)
        muts.remove(m)
    if args.check:
        bad = 0
        for m in muts:
            n = matches(m, ROOT)
            if n != 1:
                print("%s: found %d times in %s" % (m.ident, n, m.path))
                bad += 1
        print("%d mutations, %d not found exactly once" % (len(muts), bad))
        return 2 if bad else 0
    if args.only:
        want = set(args.only.split(","))
        muts = [m for m in muts if m.ident in want]
    elif args.quick:
        rng = random.Random(args.seed or time.strftime("%Y%m%d"))
        muts = sorted(rng.sample(muts, min(args.quick, len(muts))),
                      key=lambda m: int(m.ident[1:]))

    start = time.time()
    sync_tree()
    tests = sorted({t for m in muts for t in m.tests})
    ok, out = build(tests)
    if not ok:
        print(out[-3000:])
        fail("the unmutated tree does not build")
    for t in tests:
        if run(t):
            fail("the unmutated tree fails %s" % t)

    caught = survived = equivalent = 0
    original = {}
    for m in muts:
        path, text = apply(m)
        original.setdefault(path, text)
        try:
            # Test by test: most mutations fall to the first one.
            why = None
            for t in m.tests:
                ok, out = build([t])
                if not ok:
                    print(out[-2000:])
                    fail("%s does not compile" % m.ident)
                why = run(t)
                if why:
                    break
        finally:
            restore(path, text)
        if why:
            caught += 1
            note = " (declared equivalent: %s)" % m.equivalent if m.equivalent else ""
            print("%-4s caught     %s -- %s%s" % (m.ident, m.what, why, note))
        elif m.equivalent:
            equivalent += 1
            print("%-4s equivalent %s -- %s" % (m.ident, m.what, m.equivalent))
        else:
            survived += 1
            print("%-4s SURVIVED   %s (%s)" % (m.ident, m.what, m.path))
        sys.stdout.flush()
    # Every mutated file of the copy was put back.
    for path, text in original.items():
        with open(path) as f:
            if f.read() != text:
                fail("%s was not restored" % path)
    print("time: %.0f s" % (time.time() - start))
    print("mutations: %d caught, %d survived, %d equivalent of %d"
          % (caught, survived, equivalent, len(muts)))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
