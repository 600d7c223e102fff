"""The invalidation queue in QEMU (issue 5): configurable deadlines, and an
IQE provoked with a malformed descriptor is recovered with DMA working."""
import re

import moat
from vtd import alloc, dma, edus, new_domain, read


def test_iqe_recovered_and_dma_keeps_working():
    cmdline = "vtd.deadline.iotlb=50000 vtd.deadline.reg=0"
    with moat.Machine(devices=["edu,dma_mask=0xffffffffffffffff"],
                      cmdline=cmdline) as m:
        m.wait_ready()
        # A bad value is refused at boot and the default kept.
        assert any(re.search(r"iommu: ERROR: vtd\.deadline\.reg=0 ignored", l)
                   for l in m.lines), m.lines
        stats = m.ok("stats")
        assert any(l.startswith("  deadline iotlb 50000 us ") for l in stats), stats
        assert any(l.startswith("  deadline reg 10000 us ") for l in stats), stats

        edu = edus(m)[0]
        d = new_domain(m)
        buf = alloc(m, 0x1000)
        m.ok("attach %s %d" % (edu, d))
        m.ok("domain map %d 0x1000 0x%x 0x1000 rw" % (d, buf))
        out = m.ok("qi selftest")
        assert out[-1] == "unit 0 iqe recovered"
        q = m.ok("qi")
        mq = re.match(r"^unit 0 head (\d+) tail (\d+) oldest (\d+) in-flight 0 "
                      r"batches 0 seq (\d+) done (\d+) errors 0x0 degraded no", q[0])
        assert mq and mq.group(1) == mq.group(2) and mq.group(4) == mq.group(5), q
        stats = m.ok("stats")
        assert re.search(r"^  iqe 1 ", "\n".join(stats), re.M), stats
        # The queue still works: unmap (an invalidation) then map again, and
        # DMA moves the right bytes.
        m.ok("domain unmap %d 0x1000 0x1000" % d)
        m.ok("domain map %d 0x1000 0x%x 0x1000 rw" % (d, buf))
        m.ok("mem fill 0x%x 32 0x6d" % buf)
        assert dma(m, edu, "to-dev", 0x1000, 32)[0]
        assert dma(m, edu, "from-dev", 0x1800, 32)[0]
        assert read(m, buf + 0x800, 32) == b"\x6d" * 32
        # QEMU is still alive and exits normally (it aborts on some misuse).
        m.send("exit 1\r")
        assert m.wait_exit() == moat.exit_status(1)
