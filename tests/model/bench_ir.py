#!/usr/bin/python3
"""make bench, driver instructions: run bench_ir under callgrind and print,
per phase, the instructions (Ir) of driver functions only (source files
under drivers/ or lib/; the model and libc excluded), the page-table
stores (calls of hw_table_write, each store of hw_table_write_run,
charged as the kernel's loop costs) and cache-line flush calls
(hw_cache_flush) they made, with the bench's own counts (table pages,
descriptors, waits, doorbells) and the ratio to the floor.

The floor of a phase: one 8-byte store per leaf written or cleared and
per table linked or unlinked, about 3 instructions each; one
page-selective descriptor, one wait and one doorbell per unmap call.

usage: bench_ir.py BENCH_IR_BINARY
"""
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

DRIVER = re.compile(r"^(drivers|lib)/")
# The invalidation path: building, queueing, doorbell, polling.
QUEUE = re.compile(r"^drivers/iommu/vtd/(qi|invalidate)")
STORE = "hw_table_write"
# A run of stores: the model's form stores one by one through STORE; the
# kernel's (arch/x86_64/hw.c, gcc -O2) loop costs 5 instructions a store,
# charged to the driver here since the model's is not counted.
RUN = "hw_table_write_run"
RUN_IR_PER_STORE = 5
FLUSH = "hw_cache_flush"
INSTR_PER_STORE = 3


def parse(path):
    """Self Ir of driver functions, and their calls of STORE and FLUSH."""
    names = {"fl": {}, "fn": {}}
    ir = stores = flushes = 0
    # A function's own file: the first .c file its lines come from (its
    # first line may be inlined from a header, which callgrind then names).
    home = {}
    own = collections.Counter()
    fl = fn = cfn = ""
    in_call = False
    desc = ""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("desc: Trigger:"):
                desc = line.split("Client Request:", 1)[-1].strip()
            m = re.match(r"^(fl|fi|fe|fn|cfl|cfi|cfn|ob|cob)=\((\d+)\)(?: (.*))?$", line)
            if m:
                kind, ident, name = m.groups()
                table = "fn" if kind in ("fn", "cfn") else "fl"
                if name is not None:
                    if table == "fl" and name.startswith("/"):
                        name = os.path.relpath(name)
                    names[table][ident] = name
                name = names[table].get(ident, "")
                if kind == "fl":
                    fl = name
                elif kind == "fn":
                    fn = name
                elif kind == "cfn":
                    cfn = name
                if kind in ("fn", "fi", "fe") and fn not in home:
                    src = fl if kind == "fn" else name
                    if src.endswith(".c"):
                        home[fn] = src
                continue
            if line.startswith("calls="):
                count = int(line.split()[0][len("calls="):])
                in_call = True
                if fn == RUN and cfn == STORE:
                    stores += count
                    ir += RUN_IR_PER_STORE * count
                elif DRIVER.match(fl):
                    if cfn == STORE:
                        stores += count
                    elif cfn == FLUSH:
                        flushes += count
                continue
            if line and (line[0].isdigit() or line[0] in "+-*"):
                if in_call:
                    in_call = False  # inclusive cost of the call: not self
                    continue
                parts = line.split()
                if len(parts) >= 2 and DRIVER.match(fl):
                    ir += int(parts[1])
                    own[fn] += int(parts[1])
    qi = sum(n for f, n in own.items() if QUEUE.match(home.get(f, "")))
    return desc, ir, qi, stores, flushes


def main():
    binary = sys.argv[1]
    out = tempfile.mkdtemp(prefix="bench_ir.")
    base = os.path.join(out, "cg.out")
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no",
         "--callgrind-out-file=" + base, binary],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if run.returncode:
        sys.stderr.write(run.stderr)
        sys.exit("bench_ir: %s failed" % binary)
    facts = {}
    for line in run.stdout.splitlines():
        if line.startswith("phase "):
            _, name, *kv = line.split()
            facts[name] = dict(x.split("=") for x in kv)
    counts = {}
    for path in glob.glob(base + "*"):
        desc, *c = parse(path)
        if desc in facts:
            counts[desc] = c
    print("\ndriver instructions (callgrind Ir, driver functions only, "
          "model excluded; legacy mode, ECAP.C=0, model completing at once):")
    print("Ir/page and Ir/call include qi/call, the invalidation path; x floor: "
          "Ir / (%d per store needed)" % INSTR_PER_STORE)
    print("st, fl: hw_table_write and hw_cache_flush calls per page; "
          "tables: pages allocated or freed; desc, waits, bells: per phase")
    print("%-40s %8s %9s %8s %7s %6s %6s %6s %7s %6s %6s" %
          ("phase", "Ir/page", "Ir/call", "qi/call", "x floor", "st/pg",
           "fl/pg", "tables", "desc", "waits", "bells"))
    for name, f in facts.items():
        ir, qi, stores, flushes = counts.get(name, (0, 0, 0, 0))
        pages = int(f["pages"])
        calls = int(f["calls"])
        tables = abs(int(f["tables"]))
        per_page = "%8.1f" % (ir / pages) if pages else "%8s" % "-"
        if pages:
            floor_ir = INSTR_PER_STORE * (pages + tables)
            ratio = "%7.2f" % (ir / floor_ir)
            st = "%6.2f" % (stores / pages)
            fl = "%6.3f" % (flushes / pages)
        else:
            ratio, st, fl = "%7s" % "-", "%6s" % "-", "%6s" % "-"
        print("%-40s %s %9.0f %8.0f %s %s %s %6d %7s %6s %6s" %
              (name, per_page, ir / calls, qi / calls, ratio, st, fl, tables,
               f["desc"], f["waits"], f["doorbells"]))
    for path in glob.glob(base + "*"):
        os.unlink(path)
    os.rmdir(out)


if __name__ == "__main__":
    main()
