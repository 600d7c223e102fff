"""The isolation layer in QEMU (issue 11): DMA in flight never follows a
device to its next guest, claim/surprise-removal/re-plug cycles leak
nothing, no translation inherited across kexec reaches a device plugged in
afterwards, and a guest's command on a gone device says so."""
import re

import moat
from test_guests import guest_read, new_guest
from test_hotplug import NATIVE, drain, plug, wait_event, wait_log
from vtd import alloc, dma, new_domain

EDU = "edu,dma_mask=0xffffffffffffffff"
DEVICES = [
    EDU + ",addr=3.0",
    "pcie-root-port,id=rp2,slot=2,chassis=2,addr=5.0",
    EDU + ",bus=rp2,id=dev2",
]
A_DEV = "00:03.0"
RP2, DEV2 = "0000:00:05.0", "0000:01:00.0"


def machine():
    return moat.Machine(devices=DEVICES, extra=NATIVE, memory="1G",
                        iommu="intel-iommu,intremap=on,aw-bits=48")


def surprise_remove(m):
    start = len(m.lines)
    drain(m)
    m.ok("slot poweroff %s" % RP2)
    wait_log(m, start, "%s: gone by surprise" % DEV2)
    wait_event(m, "DEVICE_DELETED", "dev2")


def test_dma_in_flight_moves_between_guests():
    """edu starts writing guest a's bytes, is unassigned from a and
    assigned to b at once: b's memory never receives them, and the log and
    guest show say how its DMA was proven over."""
    with machine() as m:
        m.wait_ready()
        new_guest(m, "a", "0x200000")
        new_guest(m, "b", "0x200000")
        m.ok("guest assign a %s" % A_DEV)
        m.ok("guest write a 0x1000 0xa5 64")
        m.ok("guest dma a %s to-dev 0x1000 64" % A_DEV)
        m.ok("guest dma a %s from-dev 0x2000 64 nowait" % A_DEV)
        m.ok("guest unassign a %s" % A_DEV)
        m.ok("guest assign b %s" % A_DEV)
        show = m.ok("guest show b")
        assert "device 0000:%s assigned" % A_DEV in show
        assert any(re.match(r"^  quiet (flr|pm|sbr|quiesce|pending)$", l)
                   for l in show), show
        m.ok("guest write b 0x1000 0x00 16")
        assert guest_read(m, "b", 0x2000, 64) == b"\0" * 64
        assert any("iommu: 0000:%s: assigned to b (quiet: " % A_DEV in l
                   for l in m.lines)
        # b's own DMA works.
        m.ok("guest write b 0x1000 0x3c 64")
        m.ok("guest dma b %s to-dev 0x1000 64" % A_DEV)
        m.ok("guest dma b %s from-dev 0x3000 64" % A_DEV)
        assert guest_read(m, "b", 0x3000, 64) == b"\x3c" * 64


def test_forty_claim_surprise_replug_cycles():
    with machine() as m:
        m.wait_ready()
        m.qmp_cmd("query-status")
        for i in range(40):
            m.ok("claim %s x%d" % (DEV2[5:], i % 4))
            surprise_remove(m)
            plug(m, "dev2", "rp2", DEV2)
        m.ok("claim %s last" % DEV2[5:])
        assert re.search(r"owner last: %s$" % DEV2, "\n".join(m.ok("group")),
                         re.M)
        m.ok("release %s" % DEV2[5:])
        assert not any("ERROR" in l for l in m.lines)


def test_kexec_then_replug_no_inherited_translation():
    with machine() as m:
        m.wait_ready()
        buf = alloc(m, 0x1000)
        d = new_domain(m)
        m.ok("domain map %d 0x10000 0x%x 0x1000 rw" % (d, buf))
        m.ok("attach %s %d" % (DEV2[5:], d))
        assert dma(m, DEV2[5:], "to-dev", 0x10000, 64)[0]
        m.send("kexec\r")
        m.wait_line(r"boot: restart 1 without firmware")
        m.wait_ready()
        m.qmp_cmd("query-status")
        assert re.search(r"inherited [1-9]", "\n".join(m.ok("iommu")))
        assert dma(m, DEV2[5:], "to-dev", 0x10000, 64)[0]
        surprise_remove(m)
        plug(m, "dev2", "rp2", DEV2)
        ok, faults, _ = dma(m, DEV2[5:], "to-dev", 0x10000, 64)
        assert not ok and faults and faults[0][1] == DEV2[5:]


def test_guest_command_on_gone_device():
    with machine() as m:
        m.wait_ready()
        m.qmp_cmd("query-status")
        new_guest(m, "h", "0x200000")
        m.ok("guest assign h %s" % DEV2[5:])
        surprise_remove(m)
        _, end = m.run("guest dma h %s to-dev 0x1000 16" % DEV2[5:])
        assert end == "error: %s is gone" % DEV2[5:]
        _, end = m.run("guest irq h %s" % DEV2[5:])
        assert end == "error: %s is gone" % DEV2[5:]
        # A device plugged in at that address is not the guest's.
        plug(m, "dev2", "rp2", DEV2)
        _, end = m.run("guest dma h %s to-dev 0x1000 16" % DEV2[5:])
        assert end == "error: %s is gone" % DEV2[5:]
        m.ok("guest unassign h %s" % DEV2[5:])


def test_mapped_buffer_not_freed_guest_device_not_driven():
    """mem free of a buffer a domain still maps is refused and frees
    nothing; the console's edu dma refuses a guest's device."""
    with machine() as m:
        m.wait_ready()
        buf = alloc(m, 0x1000)
        d = new_domain(m)
        m.ok("domain map %d 0x10000 0x%x 0x1000 rw" % (d, buf))
        _, end = m.run("mem free 0x%x" % buf)
        assert end.startswith(
            "error: 0x%x is still reachable through domain %d" % (buf, d)), end
        # Still the buffer: the device writes it through the domain.
        m.ok("attach %s %d" % (A_DEV, d))
        m.ok("mem fill 0x%x 64 0x5a" % buf)
        assert dma(m, A_DEV, "to-dev", 0x10000, 64)[0]
        m.ok("detach %s" % A_DEV)
        m.ok("domain unmap %d 0x10000 0x1000" % d)
        m.ok("mem free 0x%x" % buf)
        new_guest(m, "a", "0x200000")
        m.ok("guest assign a %s" % A_DEV)
        _, end = m.run("edu dma %s to-dev 0x1000 16" % A_DEV)
        assert end == "error: %s is not the kernel's (owner a)" % A_DEV, end
        m.ok("guest unassign a %s" % A_DEV)
        # Back to the kernel: driven again (blocked, so it faults).
        assert dma(m, A_DEV, "to-dev", 0x1000, 16)[2] == "error: dma fault"
