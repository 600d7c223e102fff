"""DMA isolation through VT-d in QEMU (issue 4), on the matrix of aw-bits
39/48 and caching-mode off/on, in legacy and in scalable mode (issue 7:
QEMU 7.2 translates scalable mode through RID_PASID with second-level
tables only), with and without PASID support.  Each configuration boots
once; every test uses its own domain and buffers.

QEMU 10 adds units that walk first-level tables only (x-flts=on: FLTS
without SLTS, issue 13): left to itself (vtd.mode=auto) moat runs them in
scalable mode and builds every domain, the blocking one included, in
first-level format."""
import re

import pytest

import moat
from vtd import alloc, dma, edus, new_domain, pci_functions, read

SM = "x-scalable-mode=on"
CONFIGS = [
    ("aw39", "aw-bits=39"),
    ("aw48", "aw-bits=48"),
    ("aw39-cm", "aw-bits=39,caching-mode=on"),
    ("aw48-cm", "aw-bits=48,caching-mode=on"),
    ("sm-aw39", "aw-bits=39," + SM),
    ("sm-aw48", "aw-bits=48," + SM),
    ("sm-aw39-cm", "aw-bits=39,caching-mode=on," + SM),
    ("sm-aw48-cm", "aw-bits=48,caching-mode=on," + SM),
    ("sm-pasid", "aw-bits=48," + SM + ",x-pasid-mode=on"),
]
FL = SM + ",x-flts=on"
FL_ONLY = moat.needs_qemu(10, 0, "7.2 has no first-level translation (x-flts)")
CONFIGS += [pytest.param(c, marks=FL_ONLY, id=c[0]) for c in (
    ("sm-fl", "aw-bits=48," + FL),
    ("sm-fl-cm", "aw-bits=48,caching-mode=on," + FL),
)]
EDU = "edu,dma_mask=0xffffffffffffffff"
DEVICES = [
    EDU + ",addr=3.0",
    "pcie-root-port,id=rp1,slot=1,chassis=1,addr=4.0",
    "pcie-pci-bridge,id=br1,bus=rp1",
    EDU + ",bus=br1,addr=1.0",
]


def config_id(c):
    return c[0]


def first_level(vm):
    return "x-flts=on" in vm.config


@pytest.fixture(scope="module", params=CONFIGS, ids=config_id)
def vm(request):
    with moat.Machine(devices=DEVICES, memory="3G",
                      iommu="intel-iommu,intremap=on," + request.param[1],
                      trace=["vtd_inv_desc*"]) as m:
        m.wait_ready()
        m.config = request.param[1]
        root_edu, bridged_edu = edus(m)
        m.root_edu, m.bridged_edu = root_edu, bridged_edu
        yield m


def test_iommu_reports_unit_and_width(vm):
    out = vm.ok("iommu")
    assert out[0].startswith("unit 0 base 0xfed90000 ver 1.0 ")
    # Left to itself, moat picks scalable mode wherever QEMU offers it.
    mode = "scalable" if SM in vm.config else "legacy"
    assert "mode %s te on qi on" % mode in out[0], out
    if first_level(vm):
        assert "  mode scalable: auto: SMTS and FLTS, no SLTS" in out, out
    levels = "3,4" if "aw-bits=48" in vm.config else "3"
    assert out[1].startswith("  levels %s pages 4k,2m,1g" % levels), out
    cm = "caching-mode on" if "caching-mode=on" in vm.config else "caching-mode off"
    assert cm in out[1]


def test_unattached_device_is_denied(vm):
    buf = alloc(vm, 0x1000)
    vm.ok("mem fill 0x%x 64 0x5a" % buf)
    ok, faults, end = dma(vm, vm.root_edu, "from-dev", buf, 64)
    assert end == "error: dma fault"
    assert faults and faults[0][1] == vm.root_edu
    assert int(faults[0][2], 16) == buf
    assert faults[0][4] == "write"
    # Nothing reached memory.
    assert read(vm, buf, 64) == b"\x5a" * 64


def test_mapped_buffer_moves_bytes_both_ways_and_unmap_blocks(vm):
    src, dst = alloc(vm, 0x1000), alloc(vm, 0x1000)
    d = new_domain(vm)
    iova = 0x10000000
    vm.ok("domain map %d 0x%x 0x%x 0x1000 r" % (d, iova, src))
    if first_level(vm):
        # First-level leaves cannot be write-only (VT-d spec 9.7).
        _, end = vm.run("domain map %d 0x%x 0x%x 0x1000 w" % (d, iova + 0x1000, dst))
        assert end == "error: invalid argument", end
        vm.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, iova + 0x1000, dst))
    else:
        vm.ok("domain map %d 0x%x 0x%x 0x1000 w" % (d, iova + 0x1000, dst))
    vm.ok("attach %s %d" % (vm.root_edu, d))
    vm.ok("mem fill 0x%x 256 0xc3" % src)
    ok, faults, _ = dma(vm, vm.root_edu, "to-dev", iova, 256)
    assert ok and not faults
    ok, faults, _ = dma(vm, vm.root_edu, "from-dev", iova + 0x1000 + 0x100, 256)
    assert ok and not faults
    assert read(vm, dst + 0x100, 256) == b"\xc3" * 256
    assert read(vm, dst, 0x100) == b"\0" * 0x100
    # Rights are enforced: a device write to a read-only page faults and
    # changes nothing.  (A fresh page: QEMU blocks a write that hits a cached
    # read-only translation without recording a fault.)
    ro = alloc(vm, 0x1000)
    vm.ok("mem fill 0x%x 16 0x3c" % ro)
    vm.ok("domain map %d 0x%x 0x%x 0x1000 r" % (d, iova + 0x2000, ro))
    ok, faults, _ = dma(vm, vm.root_edu, "from-dev", iova + 0x2000, 16)
    # First-level faults use the scalable-mode reasons (VT-d spec 7.1.3).
    ro_reason = "85" if first_level(vm) else "05"
    assert not ok and faults[0][3] == ro_reason and faults[0][4] == "write"
    assert read(vm, ro, 16) == b"\x3c" * 16
    # After unmap the same DMA faults with the device's id, the address and
    # the reason, and memory is unchanged.
    vm.ok("domain unmap %d 0x%x 0x1000" % (d, iova + 0x1000))
    vm.ok("mem fill 0x%x 256 0x11" % dst)
    ok, faults, end = dma(vm, vm.root_edu, "from-dev", iova + 0x1000, 256)
    assert end == "error: dma fault"
    sid, addr, reason, rw = faults[0][1], int(faults[0][2], 16), faults[0][3], faults[0][4]
    assert (sid, addr, rw) == (vm.root_edu, iova + 0x1000, "write")
    assert reason in (("71",) if first_level(vm) else ("05", "06", "0c"))
    assert read(vm, dst, 256) == b"\x11" * 256
    vm.ok("detach %s" % vm.root_edu)
    vm.ok("domain unmap %d 0x%x 0x1000" % (d, iova))
    vm.ok("domain unmap %d 0x%x 0x1000" % (d, iova + 0x2000))
    vm.ok("domain del %d" % d)


def test_remap_same_iova_reaches_new_page(vm):
    """QEMU caches translations: a stale IOTLB would send DMA to page A."""
    a, b = alloc(vm, 0x1000), alloc(vm, 0x1000)
    d = new_domain(vm)
    iova = 0x20000000
    vm.ok("attach %s %d" % (vm.root_edu, d))
    vm.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, iova, a))
    vm.ok("mem fill 0x%x 32 0x77" % a)
    assert dma(vm, vm.root_edu, "to-dev", iova, 32)[0]
    vm.ok("domain unmap %d 0x%x 0x1000" % (d, iova))
    vm.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, iova, b))
    assert dma(vm, vm.root_edu, "from-dev", iova + 64, 32)[0]
    assert read(vm, b + 64, 32) == b"\x77" * 32
    assert read(vm, a + 64, 32) == b"\0" * 32
    vm.ok("detach %s" % vm.root_edu)


def test_device_behind_pcie_pci_bridge_uses_alias(vm):
    buf = alloc(vm, 0x1000)
    # Unattached: the fault carries the bridge's alias (secondary bus, 00.0).
    ok, faults, _ = dma(vm, vm.bridged_edu, "from-dev", buf, 16)
    assert not ok
    bus = vm.bridged_edu.split(":")[0]
    alias = "%s:00.0" % bus
    assert faults[0][1] == alias
    d = new_domain(vm)
    vm.ok("domain map %d 0x1000 0x%x 0x1000 rw" % (d, buf))
    vm.ok("attach %s %d" % (vm.bridged_edu, d))
    vm.ok("mem fill 0x%x 16 0x42" % buf)
    assert dma(vm, vm.bridged_edu, "to-dev", 0x1000, 16)[0]
    assert dma(vm, vm.bridged_edu, "from-dev", 0x1800, 16)[0]
    assert read(vm, buf + 0x800, 16) == b"\x42" * 16
    vm.ok("detach %s" % vm.bridged_edu)


def test_large_pages_used_when_aligned(vm):
    d = new_domain(vm)
    two_m = alloc(vm, 0x200000)
    assert two_m % 0x200000 == 0
    vm.ok("domain map %d 0x40000000 0x%x 0x200000 rw" % (d, two_m))
    # 1 GiB of IOVA onto the 1 GiB-aligned RAM above 4 GiB.
    one_g = alloc(vm, 0x40000000)
    assert one_g % 0x40000000 == 0
    vm.ok("domain map %d 0x80000000 0x%x 0x40000000 rw" % (d, one_g))
    # Unaligned: must fall back to 4 KiB leaves.
    vm.ok("domain map %d 0x40201000 0x%x 0x3000 rw" % (d, two_m + 0x100000))
    show = vm.ok("domain show %d" % d)
    assert "iova 0x40000000 hpa 0x%x len 0x200000 page 2m rw" % two_m in show
    assert "iova 0x80000000 hpa 0x%x len 0x40000000 page 1g rw" % one_g in show
    assert any(l.startswith("iova 0x40201000 ") and " page 4k " in l for l in show)
    # DMA through both large pages reaches the right bytes.
    vm.ok("attach %s %d" % (vm.root_edu, d))
    vm.ok("mem fill 0x%x 8 0x9e" % (two_m + 0x1ff000))
    assert dma(vm, vm.root_edu, "to-dev", 0x40000000 + 0x1ff000, 8)[0]
    assert dma(vm, vm.root_edu, "from-dev", 0x80000000 + 0x3ffff000, 8)[0]
    assert read(vm, one_g + 0x3ffff000, 8) == b"\x9e" * 8
    # Unmapping 4 KiB inside the 2 MiB page splits it; the rest still works.
    vm.ok("domain unmap %d 0x40100000 0x1000" % d)
    show = vm.ok("domain show %d" % d)
    assert not any(" page 2m " in l and l.startswith("iova 0x40000000 ") for l in show)
    assert not dma(vm, vm.root_edu, "to-dev", 0x40100000, 8)[0]
    assert dma(vm, vm.root_edu, "to-dev", 0x40000000 + 0x1ff000, 8)[0]
    vm.ok("detach %s" % vm.root_edu)


def piotlb(line):
    """A PASID-based IOTLB descriptor (VT-d spec 6.5.2.4), which QEMU 10
    traces only raw, in the words of the other IOTLB trace lines."""
    m = re.search(r"high 0x([0-9a-f]+) low 0x([0-9a-f]+)$", line)
    hi, lo = int(m.group(1), 16), int(m.group(2), 16)
    if (lo >> 4) & 3 != 3:
        return "p-iotlb whole pasid 0x%x" % (lo >> 32 & 0xfffff)
    return "p-iotlb_pages addr 0x%x mask 0x%x" % (hi & ~0xfff, hi & 0x3f)


@pytest.mark.parametrize("opts", [
    "aw-bits=39", "aw-bits=48,caching-mode=on",
    pytest.param("aw-bits=48," + FL, marks=FL_ONLY),
    pytest.param("aw-bits=48,caching-mode=on," + FL, marks=FL_ONLY)])
def test_one_page_unmap_is_page_selective(opts):
    """QEMU writes its trace file only in chunks, so this runs its own VM
    and reads the trace once QEMU has exited.  First-level tables are
    invalidated by PASID (RID_PASID here), page-selective as well."""
    cmds = ("domain new; attach 00:01.0 1; domain map 1 0x7000000 0x1000000 0x1000 rw; "
            "domain map 1 0x7200000 0x1200000 0x200000 rw; "
            "domain unmap 1 0x7000000 0x1000; domain unmap 1 0x7200000 0x200000; exit 1")
    with moat.Machine(devices=[EDU + ",addr=1.0"], iommu="intel-iommu,intremap=on," + opts,
                      trace=["vtd_inv_desc*"], cmdline='run="%s"' % cmds) as m:
        assert m.wait_exit() == moat.exit_status(1)
        assert not any(l.startswith("error:") for l in m.lines), m.lines
        trace = m.trace().splitlines()
    iotlb = [piotlb(l) if " type p-iotlb " in l else l for l in trace
             if l.startswith("vtd_inv_desc_iotlb_") or " type p-iotlb " in l]
    # Enable's global invalidation comes first; with caching mode, attach
    # adds a domain-selective one and each map a page-selective one.  The
    # unmaps come last: page-selective, 4 KiB with mask 0, 2 MiB with mask 9,
    # and nothing wider follows the first page-selective invalidation.
    assert iotlb[0].startswith("vtd_inv_desc_iotlb_global"), iotlb
    first_psi = next(i for i, l in enumerate(iotlb) if "_pages " in l)
    assert all("_pages " in l for l in iotlb[first_psi:]), iotlb
    assert iotlb[-2].endswith("addr 0x7000000 mask 0x0"), iotlb
    assert iotlb[-1].endswith("addr 0x7200000 mask 0x9"), iotlb
    if "caching-mode=on" not in opts:
        assert len(iotlb) == 3, iotlb


def test_batched_unmap_has_one_wait():
    """domain unmap with three ranges: three page-selective invalidations
    and a single wait descriptor after them (that no range is reachable
    afterwards, the model tests check: vtd_batch)."""
    cmds = ("domain new; attach 00:01.0 1; domain map 1 0x7000000 0x1000000 0x1000 rw; "
            "domain map 1 0x7200000 0x1200000 0x1000 rw; domain map 1 0x7400000 0x1400000 0x1000 rw; "
            "domain unmap 1 0x7000000 0x1000 0x7200000 0x1000 0x7400000 0x1000; exit 1")
    with moat.Machine(devices=[EDU + ",addr=1.0"], iommu="intel-iommu,intremap=on,aw-bits=39",
                      trace=["vtd_inv_desc*"], cmdline='run="%s"' % cmds) as m:
        assert m.wait_exit() == moat.exit_status(1)
        assert not any(l.startswith("error:") for l in m.lines), m.lines
        trace = m.trace().splitlines()
    # One line per descriptor by type (vtd_inv_desc_*), not the raw ones.
    descs = [l for l in trace if l.startswith("vtd_inv_desc_")]
    last = max(i for i, l in enumerate(descs) if "_pages " in l)
    tail = descs[last - 2:]
    assert [l.split()[-3:] for l in tail[:3]] == [
        ["0x7000000", "mask", "0x0"], ["0x7200000", "mask", "0x0"],
        ["0x7400000", "mask", "0x0"]], descs
    assert len(tail) == 4 and "wait" in tail[3], descs
