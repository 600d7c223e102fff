"""Deferred attach after a restart without firmware (issue 6): devices keep
their inherited translation until their first attach."""
import re

import moat
from vtd import alloc, dma, new_domain

EDU = "edu,dma_mask=0xffffffffffffffff"


def test_translation_survives_kexec_until_first_attach():
    with moat.Machine(devices=[EDU + ",addr=3.0", EDU + ",addr=4.0"],
                      iommu="intel-iommu,intremap=on,aw-bits=48") as m:
        m.wait_ready()
        buf = alloc(m, 0x1000)
        d = new_domain(m)
        m.ok("domain map %d 0x10000 0x%x 0x1000 rw" % (d, buf))
        m.ok("attach 00:03.0 %d" % d)
        m.ok("mem fill 0x%x 64 0x4b" % buf)
        assert dma(m, "00:03.0", "to-dev", 0x10000, 64)[0]

        m.send("kexec\r")
        m.wait_line(r"boot: restart 1 without firmware")
        m.wait_ready()
        out = m.ok("iommu")
        assert "te on" in out[0]
        assert re.search(r"inherited 1\b", "\n".join(out)), out
        # The inherited translation still works; the other edu is still
        # denied; the old buffer is still reserved memory.
        assert dma(m, "00:03.0", "from-dev", 0x10800, 64)[0]
        ok, faults, _ = dma(m, "00:04.0", "to-dev", 0x10000, 64)
        assert not ok and faults[0][1] == "00:04.0"
        # First attach replaces the inherited entry: the old IOVA is gone.
        d2 = new_domain(m)
        m.ok("attach 00:03.0 %d" % d2)
        ok, faults, _ = dma(m, "00:03.0", "to-dev", 0x10000, 64)
        assert not ok and faults[0][1] == "00:03.0"
        buf2 = alloc(m, 0x1000)
        assert buf2 != buf
        m.ok("domain map %d 0x10000 0x%x 0x1000 rw" % (d2, buf2))
        assert dma(m, "00:03.0", "to-dev", 0x10000, 64)[0]
