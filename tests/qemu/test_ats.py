"""ATS in QEMU 7.2 (issue 6): intel-iommu with device-iotlb=on (ECAP.DT and
an ATSR with ALL_PORTS), two virtio-net functions with an ATS capability
behind root ports, only one of them allow-listed with vtd.ats=.  ATS goes on
for that one only; its unmaps are followed by device-TLB invalidations to
it, and none is sent after its removal (device_del, native hot-plug).

QEMU writes its trace in chunks, so the trace is read after it exited.
Markers: page-selective IOTLB invalidations at addresses used nowhere else
split the trace into before and after the removal."""
import re

import moat
from test_hotplug import NATIVE, drain, remove
from vtd import alloc, new_domain

NET = "virtio-net-pci,iommu_platform=on,ats=on,disable-legacy=on"
DEVICES = [
    "pcie-root-port,id=rp1,slot=1,chassis=1,addr=4.0",
    NET + ",bus=rp1,id=net1",
    "pcie-root-port,id=rp2,slot=2,chassis=2,addr=5.0",
    NET + ",bus=rp2,id=net2",
]
ATS_DEV, OTHER = "0000:01:00.0", "0000:02:00.0"
ATS_SID, OTHER_SID = 0x0100, 0x0200
BEFORE, AFTER = 0x7770000, 0x8880000
DESC = re.compile(r"vtd_inv_desc invalidate desc type \S+ high 0x([0-9a-f]+) "
                  r"low 0x([0-9a-f]+)")
PAGES = re.compile(r"vtd_inv_desc_iotlb_pages .*addr 0x([0-9a-f]+)")


def events(trace):
    """[("devtlb", sid, addr) or ("iotlb", addr)] in trace order."""
    out = []
    for line in trace.splitlines():
        g = DESC.search(line)
        if g and int(g.group(2), 16) & 0xf == 3:
            low, high = int(g.group(2), 16), int(g.group(1), 16)
            out.append(("devtlb", (low >> 32) & 0xffff, high))
            continue
        g = PAGES.search(line)
        if g:
            out.append(("iotlb", int(g.group(1), 16)))
    return out


def ats(m):
    drain(m)
    return [l for l in m.ok("ats") if l.startswith("ats ")]


def marker(evs, addr):
    return next(i for i, e in enumerate(evs) if e == ("iotlb", addr))


def test_ats_allow_list_unmap_and_removal():
    with moat.Machine(devices=DEVICES, extra=NATIVE, memory="1G",
                      iommu="intel-iommu,intremap=on,device-iotlb=on",
                      cmdline="vtd.ats=01:00.0", trace=["vtd_inv_desc*"]) as m:
        m.wait_ready()
        m.qmp_cmd("query-status")
        buf = alloc(m, 0x1000)
        d = new_domain(m)
        m.ok("attach %s %d" % (ATS_DEV, d))
        m.ok("attach %s %d" % (OTHER, d))
        assert any("iommu: %s: ATS on (queue depth 32)" % ATS_DEV in l
                   for l in m.lines), m.lines[-20:]
        assert not any("%s: ATS on" % OTHER in l for l in m.lines)
        assert ats(m) == ["ats %s queue-depth 32 domain %d" % (ATS_DEV, d)]
        for iova in (0x100000, BEFORE):
            m.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, iova, buf))
            m.ok("domain unmap %d 0x%x 0x1000" % (d, iova))
        remove(m, "net1", ATS_DEV)
        assert ats(m) == []
        m.ok("domain map %d 0x%x 0x%x 0x1000 rw" % (d, AFTER, buf))
        m.ok("domain unmap %d 0x%x 0x1000" % (d, AFTER))
        m.ok("detach %s" % OTHER)
        m.send("exit 0\n")
        m.wait_exit()
        evs = events(m.trace())
    before, after = marker(evs, BEFORE), marker(evs, AFTER)
    dev = [i for i, e in enumerate(evs) if e[0] == "devtlb"]
    # Each unmap: IOTLB first, then the device's TLB at the same page.
    assert evs[before + 1] == ("devtlb", ATS_SID, BEFORE), evs[before:]
    first = marker(evs, 0x100000)
    assert evs[first + 1] == ("devtlb", ATS_SID, 0x100000), evs[first:]
    assert all(evs[i][1] == ATS_SID for i in dev), "ATS off for %s" % OTHER
    # The orderly removal flushed it; nothing reached it afterwards.
    removal = [i for i in dev if before + 1 < i < after]
    assert removal, evs[before:]
    assert not [i for i in dev if i > after], evs[after:]
    print("device-TLB invalidations: %d in all, %d at the removal, 0 after"
          % (len(dev), len(removal)))


def test_ats_needs_legacy_mode():
    """In scalable mode an allow-listed ATS device attaches without ATS,
    and the log says why (ATS is implemented for legacy mode only)."""
    with moat.Machine(devices=DEVICES, memory="1G",
                      iommu="intel-iommu,intremap=on,device-iotlb=on,"
                            "x-scalable-mode=on",
                      cmdline="vtd.ats=01:00.0") as m:
        m.wait_ready()
        assert "mode scalable" in m.ok("iommu")[0]
        d = new_domain(m)
        out = m.ok("attach %s %d" % (ATS_DEV, d))
        assert any("iommu: %s: ATS off: it needs legacy mode" % ATS_DEV in l
                   for l in out), out
        assert not any("ATS on" in l for l in m.lines)
        assert ats(m) == []
        m.ok("detach %s" % ATS_DEV)
