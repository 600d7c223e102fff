"""The kernel watches while it is busy (issue 15): a DMA fault raised
while the console waits for input wakes the kernel through the unit's
fault event interrupt and is printed without a command; a long console
command (mem fill of 256 MiB) gives ticks away, so guests go on and a
surprise removal that happens under it is blocked and its BARs revoked
before the command ends; edu dma gives ticks away while its transfer runs
and still fails on its own fault.  A device assigned to a running guest has its
BARs mapped at once, except one smaller than a page.  reset gives ticks
away during its settle time: a removal under it is handled before its
ok."""
import re
import threading
import time

import pytest

import moat
from test_hotplug import NATIVE, drain
from test_run import new_guest, state, wait_log_line, wait_search
from vtd import FAULT

EDU = "edu,dma_mask=0xffffffffffffffff"
DEVICES = [
    EDU + ",addr=3.0",
    "pcie-root-port,id=rp1,slot=1,chassis=1,addr=4.0",
    EDU + ",bus=rp1,id=dev1",
    "i6300esb,addr=6.0",
    # C has no FLR or PM reset: reset uses rp2's secondary bus reset.
    "pcie-root-port,id=rp2,slot=2,chassis=2,addr=5.0",
    EDU + ",bus=rp2,id=dev2",
    "pcie-root-port,id=rp3,slot=3,chassis=3,addr=7.0",
    EDU + ",bus=rp3,id=dev3",
]
A_DEV, B_DEV, WDT = "00:03.0", "01:00.0", "00:06.0"
C_DEV, E_DEV = "02:00.0", "03:00.0"
RP1_DEVFN, RP3_DEVFN = 4 << 3, 7 << 3
FILL_LEN = 0x10000000
CMD_TIMEOUT = 120


@pytest.fixture(scope="module")
def vm():
    with moat.Machine(devices=DEVICES, extra=NATIVE, memory="1G") as m:
        m.wait_ready()
        yield m


def sched_field(m, name):
    line = [l for l in m.ok("sched") if l.startswith("sched ")][0]
    return int(re.search(r" %s (\d+)" % name, line).group(1))


def wait_fault_line(m, start, timeout=20):
    # The prompt may sit in front of it: nothing was typed.
    return wait_search(m, re.compile(FAULT.pattern.lstrip("^")), start, timeout, "fault line")


def test_fault_event_wakes_idle_kernel(vm):
    """edu writes through a device the kernel never attached while nobody
    types: the fault shows up on its own, counted as a fault event, and
    the records are empty afterwards."""
    drain(vm)
    events = sched_field(vm, "fault_events")
    assert vm.ok("edu dma %s from-dev 0x100000 16 nowait" % A_DEV) == ["dma started"]
    start = len(vm.lines)
    f = wait_fault_line(vm, start)
    assert f.group(2) == A_DEV and int(f.group(3), 16) == 0x100000
    assert sched_field(vm, "fault_events") > events
    assert vm.ok("faults") == []


def test_edu_dma_gives_ticks_away_and_keeps_its_fault(vm):
    """edu dma waits about 100 ms for edu's timer: it gives ticks away
    while the transfer runs, so a spinning guest and housekeeping go on;
    the fault its own transfer caused still fails it, whoever read the
    record."""
    drain(vm)
    new_guest(vm, "y")
    vm.ok("guest run y spin")
    yields = sched_field(vm, "yields")
    start = len(vm.lines)
    out, end = vm.run("edu dma %s from-dev 0x100000 16" % A_DEV)
    assert end == "error: dma fault"
    f = wait_fault_line(vm, start)
    assert f.group(2) == A_DEV and int(f.group(3), 16) == 0x100000
    assert sched_field(vm, "yields") > yields
    assert state(vm, "y")[0] == "running"
    vm.ok("guest stop y")
    vm.ok("guest del y")


def hmp(m, command):
    return m.qmp_cmd("human-monitor-command", **{"command-line": command})


def cfg_select(m, devfn, off):
    hmp(m, "o /w 0xcf8 0x%x" % (0x80000000 | devfn << 8 | (off & 0xfc)))


def cfg_read32(m, devfn, off):
    cfg_select(m, devfn, off)
    return int(re.search(r"= 0x([0-9a-f]+)", hmp(m, "i /w 0xcfc")).group(1), 16)


def slot_power_off_prepared(m, devfn):
    """Selects the port's Slot Control through the legacy configuration
    ports (moat uses ECAM only, so the selection stays) and returns what
    takes the slot's power away with no one told, as if pulled: one
    write, Slot Control.PCC set."""
    cap = cfg_read32(m, devfn, 0x34) & 0xff
    while cfg_read32(m, devfn, cap) & 0xff != 0x10:  # PCI Express
        cap = cfg_read32(m, devfn, cap) >> 8 & 0xff
        assert cap, "no PCI Express capability"
    ctl = cfg_read32(m, devfn, cap + 0x18) & 0xffff
    cfg_select(m, devfn, cap + 0x18)
    return lambda: hmp(m, "o /h 0xcfc 0x%x" % (ctl | 0x400))


def power_off_slot_behind_kernel(m, devfn):
    slot_power_off_prepared(m, devfn)()


def run_busy(m, line, during):
    """Types a long command and, once its echo shows, calls during();
    returns the command's output lines and closing line."""
    result = {}
    start = len(m.lines)
    t = threading.Thread(target=lambda: result.update(r=m.run(line, CMD_TIMEOUT)))
    t.start()
    deadline = time.monotonic() + CMD_TIMEOUT
    while not any(l.endswith(line) for l in m.lines[start:]):
        assert time.monotonic() < deadline, "no echo of %r" % line
        time.sleep(0.01)
    during()
    t.join(CMD_TIMEOUT)
    return result["r"]


def test_long_command_guests_go_on_and_removal_blocked(vm):
    """While mem fill works for seconds: guest s completes DMA round trips
    with their interrupts, and the slot of guest d's edu loses power: the
    device is found gone, its DMA blocked and d's BARs revoked, all before
    the command's ok; d stops at its next access."""
    new_guest(vm, "s")
    new_guest(vm, "d")
    vm.ok("guest assign s %s" % A_DEV)
    vm.ok("guest assign d %s" % B_DEV)
    hpa = int(vm.ok("mem alloc 0x%x" % FILL_LEN)[-1].split()[1], 16)
    start = len(vm.lines)
    vm.ok("guest run d edu-dma 1000")
    wait_log_line(vm, start, "[d] edu-dma: msi latency")
    vm.ok("guest run s edu-dma 4")
    # Its next line comes after a round trip: none lands in the typed line.
    wait_log_line(vm, start, "[s] edu-dma: msi latency")
    out, end = run_busy(vm, "mem fill 0x%x 0x%x 0x5a" % (hpa, FILL_LEN),
                        lambda: power_off_slot_behind_kernel(vm, RP1_DEVFN))
    assert end == "ok"
    text = "\n".join(out)
    for seen in ("[s] edu-dma: 4 round-trips, 4 ok",
                 "pci: 0000:00:04.0: surprise removal",
                 "pci: 0000:%s: gone by surprise" % B_DEV,
                 "hotplug: 0000:%s: DMA blocked" % B_DEV,
                 "guest: warning: d: 0000:%s removed: its BARs are revoked" % B_DEV):
        assert seen in text, (seen, out)
    wait_log_line(vm, start, "d faulted")
    assert state(vm, "d")[0] == "faulted"
    assert state(vm, "s")[0] == "exited 0"
    assert vm.ok("hotplug")[0].endswith("device none")
    assert not any(B_DEV in l for l in vm.ok("pci"))
    # The command did all of its work.
    last = vm.ok("mem read 0x%x 16" % (hpa + FILL_LEN - 16))
    assert last == ["0x%x: %s" % (hpa + FILL_LEN - 16, " ".join(["5a"] * 16))]
    assert sched_field(vm, "yields") > 0


def test_assigned_while_running_mapped_small_bar_refused(vm):
    """Devices assigned to a running guest get their BARs before it runs
    again: edu's 1 MiB BAR is mapped (and revoked again by unassign); the
    watchdog's 16-byte BAR would share its 4 KiB page with other
    registers and is refused."""
    vm.run("guest del s")  # frees A_DEV if the test before ran
    new_guest(vm, "w")
    start = len(vm.lines)
    vm.ok("guest run w spin")
    vm.ok("guest assign w %s" % A_DEV)
    wait_log_line(vm, start, "guest: w: 0000:%s assigned: 1 BARs mapped" % A_DEV)
    # It has no way to prove its (absent) DMA stopped: force.
    vm.ok("guest assign w %s force" % WDT)
    wait_log_line(vm, start, "w: 0000:%s BAR 0 (0x10 bytes) shares a page: not mapped" % WDT)
    wait_log_line(vm, start, "guest: w: 0000:%s assigned: 0 BARs mapped" % WDT)
    vm.ok("guest unassign w %s" % A_DEV)
    wait_log_line(vm, start, "w: 0000:%s unassigned: its BARs are revoked" % A_DEV)
    assert state(vm, "w")[0] == "running"
    vm.ok("guest stop w")



def test_removal_handled_during_reset(vm):
    """reset waits about 100 ms after C's secondary bus reset and gives
    ticks away meanwhile: the slot of guest e's edu, powered off from
    outside during that wait, is found gone, its DMA blocked and e's BARs
    revoked, all before reset's ok."""
    new_guest(vm, "e")
    vm.ok("guest assign e %s" % E_DEV)
    start = len(vm.lines)
    vm.ok("guest run e edu-dma 1000")
    wait_log_line(vm, start, "[e] edu-dma: msi latency")
    pull = slot_power_off_prepared(vm, RP3_DEVFN)
    yields = sched_field(vm, "yields")
    out, end = run_busy(vm, "reset 0000:%s" % C_DEV, pull)
    assert end == "ok", out
    text = "\n".join(out)
    for seen in ("pci: 0000:00:07.0: surprise removal",
                 "pci: 0000:%s: gone by surprise" % E_DEV,
                 "hotplug: 0000:%s: DMA blocked" % E_DEV,
                 "guest: warning: e: 0000:%s removed: its BARs are revoked" % E_DEV):
        assert seen in text, (seen, out)
    # The reset's own line comes last: the removal was seen during it.
    assert out[-1] == "0000:%s reset (sbr)" % C_DEV, out
    assert sched_field(vm, "yields") > yields
    wait_log_line(vm, start, "e faulted")
    assert state(vm, "e")[0] == "faulted"
    assert any(C_DEV in l for l in vm.ok("pci"))
    assert not any(E_DEV in l for l in vm.ok("pci"))
    vm.ok("guest del e")
