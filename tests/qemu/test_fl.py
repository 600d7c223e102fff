"""Table formats from the console (issue 13): `domain new [sl|fl]`.

QEMU 10's x-flts=on gives a unit in scalable mode that walks first-level
tables only: left to itself moat runs it in scalable mode, every domain
gets first-level tables, and second-level ones asked for are refused with
what the unit lacks.  Units without first-level translation (QEMU 7.2 in
either mode, QEMU 10 without x-flts) refuse `domain new fl` the same way
and honour `domain new sl`."""
import re

import pytest

import moat
from vtd import alloc, dma, edus, read

EDU = "edu,dma_mask=0xffffffffffffffff,addr=3.0"
FL_ONLY = moat.needs_qemu(10, 0, "7.2 has no first-level translation (x-flts)")
IOVA = 0x30000000


def domain_new(m, fmt):
    return int(re.match(r"^domain (\d+)$", m.ok("domain new " + fmt)[-1]).group(1))


def machine(iommu):
    return moat.Machine(devices=[EDU], iommu="intel-iommu,intremap=on," + iommu)


def ready(m):
    m.wait_ready()
    m.edu = edus(m)[0]
    return m


@pytest.fixture(scope="module")
def fl_vm():
    with machine("aw-bits=48,x-scalable-mode=on,x-flts=on") as m:
        yield ready(m)


@FL_ONLY
def test_fl_only_unit_chooses_scalable_mode_and_fl_tables(fl_vm):
    out = fl_vm.ok("iommu")
    assert "  mode scalable: auto: SMTS and FLTS, no SLTS" in out, out
    d = int(re.match(r"^domain (\d+)$", fl_vm.ok("domain new")[-1]).group(1))
    assert fl_vm.ok("domain show %d" % d)[0] == "domain %d tables fl" % d
    fl_vm.ok("domain del %d" % d)


@FL_ONLY
def test_domain_new_fl_maps_unmaps_and_faults(fl_vm):
    m = fl_vm
    src, dst, ro = alloc(m, 0x1000), alloc(m, 0x1000), alloc(m, 0x1000)
    d = domain_new(m, "fl")
    m.ok("domain map %d 0x%x 0x%x 0x1000 r" % (d, IOVA, src))
    m.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, IOVA + 0x1000, dst))
    m.ok("domain map %d 0x%x 0x%x 0x1000 r" % (d, IOVA + 0x2000, ro))
    show = m.ok("domain show %d" % d)
    assert show[0] == "domain %d tables fl" % d, show
    assert "iova 0x%x hpa 0x%x len 0x1000 page 4k rw" % (IOVA + 0x1000, dst) in show
    m.ok("attach %s %d" % (m.edu, d))
    m.ok("mem fill 0x%x 64 0xa7" % src)
    m.ok("mem fill 0x%x 16 0x3c" % ro)
    assert dma(m, m.edu, "to-dev", IOVA, 64)[0]
    assert dma(m, m.edu, "from-dev", IOVA + 0x1000, 64)[0]
    assert read(m, dst, 64) == b"\xa7" * 64
    # A write to a read-only first-level leaf: scalable-mode reason 0x85.
    ok, faults, _ = dma(m, m.edu, "from-dev", IOVA + 0x2000, 16)
    assert not ok and faults[0][3] == "85" and faults[0][4] == "write", faults
    assert read(m, ro, 16) == b"\x3c" * 16
    # Unmapped: the first-level entry is not present (0x71), memory kept.
    m.ok("domain unmap %d 0x%x 0x1000" % (d, IOVA + 0x1000))
    m.ok("mem fill 0x%x 64 0x11" % dst)
    ok, faults, end = dma(m, m.edu, "from-dev", IOVA + 0x1000, 64)
    assert end == "error: dma fault"
    assert faults[0][1:] == (m.edu, "%x" % (IOVA + 0x1000), "71", "write",
                             "SM: first-level entry not present"), faults
    assert read(m, dst, 64) == b"\x11" * 64
    m.ok("detach %s" % m.edu)
    m.ok("domain unmap %d 0x%x 0x1000" % (d, IOVA))
    m.ok("domain unmap %d 0x%x 0x1000" % (d, IOVA + 0x2000))
    m.ok("domain del %d" % d)


@FL_ONLY
def test_domain_new_sl_refused_on_fl_only_unit(fl_vm):
    out, end = fl_vm.run("domain new sl")
    assert end == "error: no unit can walk sl tables: no second-level translation (SLTS)", end
    assert any("unit 0 cannot walk the tables asked for: "
               "no second-level translation (SLTS)" in l for l in out), out
    assert not any(re.match(r"^domain \d+$", l) for l in out), out


@pytest.mark.parametrize("iommu,missing", [
    ("aw-bits=39", "scalable mode (SMTS)"),
    ("aw-bits=48,x-scalable-mode=on", "first-level translation (FLTS)"),
], ids=["legacy", "scalable"])
def test_domain_new_fl_refused_without_flts(iommu, missing):
    with machine(iommu) as m:
        ready(m)
        out, end = m.run("domain new fl")
        assert end == "error: no unit can walk fl tables: no " + missing, end
        assert any("unit 0 cannot walk the tables asked for: no " + missing in l
                   for l in out), out
        # Second-level tables, asked for, are what the unit walks.
        buf = alloc(m, 0x1000)
        d = domain_new(m, "sl")
        m.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, IOVA, buf))
        assert m.ok("domain show %d" % d)[0] == "domain %d tables sl" % d
        m.ok("attach %s %d" % (m.edu, d))
        m.ok("mem fill 0x%x 32 0x6b" % buf)
        assert dma(m, m.edu, "to-dev", IOVA, 32)[0]
        assert dma(m, m.edu, "from-dev", IOVA + 0x100, 32)[0]
        assert read(m, buf + 0x100, 32) == b"\x6b" * 32
        _, end = m.run("domain new xl")
        assert end == "error: usage: domain new [sl|fl]", end
