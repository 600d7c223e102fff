"""Guests that run (issue 15): ring-3 partitions with their own page tables
driving their own assigned edu devices through BARs mapped at guest GPAs,
MSIs delivered as virtual interrupts, hostile guests stopped alone, BARs
revoked on unassign and surprise removal, the console answering while
guests spin.  Figures (MSI latency, DMA round trips, switches per second,
removal to blocked, console latency) are printed for the closing note:
run with -s to see them."""
import re
import time

import pytest

import moat
from test_hotplug import NATIVE, drain, logs, wait_log
from vtd import FAULT, alloc, read

EDU = "edu,dma_mask=0xffffffffffffffff"
DEVICES = [
    EDU + ",addr=3.0",
    "pcie-root-port,id=rp1,slot=1,chassis=1,addr=4.0",
    EDU + ",bus=rp1,id=dev1",
    "pcie-root-port,id=rp2,slot=2,chassis=2,addr=5.0",
    EDU + ",bus=rp2,id=dev2",
]
A_DEV, B_DEV, C_DEV = "00:03.0", "01:00.0", "02:00.0"
RP2 = "0000:00:05.0"
GUEST_MB16 = "0x1000000"
FAULT_LIMIT = 8
GUEST_FAULT = re.compile(r"guest: ERROR: (\S+) faulted: (.+) \(vector (\d+)\) "
                         r"at rip 0x([0-9a-f]+) address 0x([0-9a-f]+) error 0x([0-9a-f]+)(.*)$")


@pytest.fixture(scope="module")
def vm():
    with moat.Machine(devices=DEVICES, extra=NATIVE, memory="1G",
                      cmdline="guest.fault_limit=%d" % FAULT_LIMIT) as m:
        m.wait_ready()
        log = "\n".join(m.lines)
        g = re.search(r"image at 0x([0-9a-f]+) size 0x([0-9a-f]+)", log)
        m.image, m.image_size = int(g.group(1), 16), int(g.group(2), 16)
        g = re.search(r"kernel window: code 0x([0-9a-f]+)\+0x[0-9a-f]+ "
                      r"data 0x([0-9a-f]+)\+0x[0-9a-f]+, supervisor-only", log)
        m.window = (int(g.group(1), 16), int(g.group(2), 16))
        yield m


def new_guest(m, name):
    out = "\n".join(m.ok("guest new %s %s" % (name, GUEST_MB16)))
    return int(re.search(r"^region gpa 0x0 hpa 0x([0-9a-f]+) len", out, re.M).group(1), 16)


def state(m, name):
    line = [l for l in m.ok("guest show %s" % name) if l.startswith("state ")][0]
    return re.match(r"^state (\w+(?: \d+)?) run_us (\d+) irqs (\d+) faults (\d+)", line).groups()


def wait_search(m, rx, start, timeout, what):
    """The first match of rx anywhere in a line from m.lines[start] on:
    output may land inside a typed line's echo or behind the prompt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in m.lines[start:]:
            g = rx.search(line)
            if g:
                return g
        time.sleep(0.05)
    raise TimeoutError("no %s; last lines:\n%s" % (what, "\n".join(m.lines[-30:])))


def wait_guest_line(m, name, pattern, start, timeout=120):
    rx = re.compile(r"\[%s\] %s" % (re.escape(name), pattern))
    return wait_search(m, rx, start, timeout, "[%s] %s" % (name, pattern))


def guest_read(m, name, gpa, length):
    data = []
    for line in m.ok("guest read %s 0x%x %d" % (name, gpa, length)):
        if line.startswith("0x"):  # guests' own lines may come in between
            data += [int(b, 16) for b in line.split(":")[1].split()]
    return bytes(data)


def sched_counts(m):
    line = [l for l in m.ok("sched") if l.startswith("sched ")][0]
    g = re.match(r"^sched tick_us (\d+) for_ms (\d+) switches (\d+) entries (\d+)", line)
    return [int(x) for x in g.groups()]


def test_spinning_guests_preempted_console_answers(vm):
    """Two guests loop without a hypercall: the timer preempts them, both
    get CPU time, the console answers, and guest stop ends them."""
    for name in ("s1", "s2"):
        new_guest(vm, name)
        vm.ok("guest run %s spin" % name)
    _, ms0, sw0, _ = sched_counts(vm)
    lat = []
    for _ in range(20):
        t = time.monotonic()
        vm.ok("version")
        lat.append(time.monotonic() - t)
    time.sleep(1)
    tick, ms1, sw1, _ = sched_counts(vm)
    assert tick == 2000
    assert sw1 - sw0 > 50, (sw0, sw1)
    for name in ("s1", "s2"):
        st, run_us, _, _ = state(vm, name)
        assert st == "running" and int(run_us) > 100000, (name, st, run_us)
    # A third guest faults beside them; they go on.
    new_guest(vm, "p")
    start = len(vm.lines)
    vm.ok("guest run p poke 0xfed90000")
    f = GUEST_FAULT.search(wait_log_line(vm, start, "p faulted"))
    assert f.group(2) == "page fault" and int(f.group(5), 16) == 0xfed90000
    assert 0x100000 <= int(f.group(4), 16) < 0x200000  # in the program
    assert state(vm, "p")[0] == "faulted"
    assert state(vm, "s1")[0] == "running" and state(vm, "s2")[0] == "running"
    for name in ("s1", "s2"):
        vm.ok("guest stop %s" % name)
        assert state(vm, name)[0] == "stopped"
    _, end = vm.run("guest stop s1")
    assert end == "error: s1 is not running"
    print("\nconsole latency with two spinning guests: mean %.1f ms max %.1f ms" %
          (sum(lat) / len(lat) * 1000, max(lat) * 1000))
    print("context switches: %.0f/s (tick %d us)" % ((sw1 - sw0) * 1000.0 / (ms1 - ms0), tick))


def wait_log_line(m, start, text, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in m.lines[start:]:
            if text in line:
                return line
        time.sleep(0.02)
    raise TimeoutError("no %r; last lines:\n%s" % (text, "\n".join(m.lines[-20:])))


def test_poke_memory_and_kernel_not_given(vm):
    """Memory above the guest's 16 MiB and the kernel image are not in the
    guest's address space at all; the kernel window (code, and the IDT, GDT,
    TSS and frame) is, but supervisor-only: each stops the guest with the
    address named (docs/guest-abi.md, "The partition")."""
    assert vm.window[0] == 0xffffff8000000000
    for addr, err in ((0x1000000, 0x4), (vm.image + 0x1000, 0x4),
                      (vm.window[0], 0x5), (vm.window[1], 0x5)):
        start = len(vm.lines)
        vm.ok("guest run p poke 0x%x" % addr)
        f = GUEST_FAULT.search(wait_log_line(vm, start, "p faulted"))
        assert int(f.group(5), 16) == addr
        assert int(f.group(6), 16) & 0x5 == err  # user, (not) present
        assert state(vm, "p")[0] == "faulted"
    vm.ok("guest del p")
    vm.ok("guest del s1")
    vm.ok("guest del s2")


def test_guest_memory_where_the_kernel_image_is(vm):
    """A guest with memory at the kernel image's own addresses runs: its
    syscalls, interrupts and exceptions go through the window, edu-dma's
    100 round trips succeed, and poke reads the guest's bytes there, not
    the kernel's.  GPAs end at 2^47: above is refused at guest new."""
    lo = vm.image & ~0x1fffff
    hi = (vm.image + vm.image_size + 0x1fffff) & ~0x1fffff
    vm.ok("guest new k %s,0x%x@0x%x" % (GUEST_MB16, hi - lo, lo))
    vm.ok("guest assign k %s" % A_DEV)
    start = len(vm.lines)
    vm.ok("guest run k edu-dma")
    g = wait_guest_line(vm, "k", r"edu-dma: (\d+) round-trips, (\d+) ok$", start, 240)
    assert g.groups() == ("100", "100")
    wait_log_line(vm, start, "guest: k: exited 0")
    vm.ok("guest write k 0x%x 0x5a 4" % (vm.image + 0x1000))
    start = len(vm.lines)
    vm.ok("guest run k poke 0x%x 0x%x" % (vm.image + 0x1000, vm.image))
    wait_guest_line(vm, "k", r"poke: 0x%x holds 0x5a5a5a5a$" % (vm.image + 0x1000), start)
    wait_log_line(vm, start, "guest: k: exited 0")
    assert state(vm, "k")[0] == "exited 0"
    vm.ok("version")  # the kernel's own image is untouched
    vm.ok("guest del k")
    for layout in ("0x200000@0x800000000000", "0x400000@0x7fffffe00000"):
        _, end = vm.run("guest new h %s,%s" % (GUEST_MB16, layout))
        assert end == ("error: guest memory must end by 0x800000000000: "
                       "the upper half of a guest's address space is the kernel's")


def test_two_guests_drive_their_edu(vm):
    """Guests a (edu on the root bus) and b (edu behind a root port) each
    run 100 DMA round trips with completion interrupts, at once."""
    new_guest(vm, "a")
    new_guest(vm, "b")
    vm.ok("guest assign a %s" % A_DEV)
    vm.ok("guest assign b %s" % B_DEV)
    start = len(vm.lines)
    vm.ok("guest run a edu-dma")
    vm.ok("guest run b edu-dma")
    res = {}
    for name in ("a", "b"):
        res[name] = wait_guest_line(vm, name, r"edu-dma: (\d+) round-trips, (\d+) ok$", start, 240)
        assert res[name].groups() == ("100", "100")
        msi = wait_guest_line(vm, name, r"edu-dma: msi latency mean (\d+) us min (\d+) us max (\d+) us over (\d+)$", start)
        assert msi.group(4) == "20"
        rt = wait_guest_line(vm, name, r"edu-dma: round-trip mean (\d+) us$", start)
        print("\n%s: MSI to guest mean %s us (min %s, max %s); guest DMA round trip %s us" %
              (name, msi.group(1), msi.group(2), msi.group(3), rt.group(1)))
    for name in ("a", "b"):
        wait_log_line(vm, start, "guest: %s: exited 0" % name)
        st, _, irqs, faults = state(vm, name)
        assert st == "exited 0" and int(irqs) >= 220 and faults == "0"
    # Each buffer holds its own guest's last pattern: (99 * 7 + j + bdf).
    for name, bdf in (("a", 0x18), ("b", 0x100)):
        want = bytes((99 * 7 + j + bdf) & 0xff for j in range(16))
        assert guest_read(vm, name, 0x500000, 16) == want
    # The same round trip driven by the console, for comparison.
    t = time.monotonic()
    for _ in range(5):
        vm.ok("guest dma a %s to-dev 0x400000 1024" % A_DEV)
        vm.ok("guest dma a %s from-dev 0x500000 1024" % A_DEV)
    print("console DMA round trip %.0f us" % ((time.monotonic() - t) / 5 * 1e6))


def test_rogue_stopped_beside_edu_dma(vm):
    """rogue's edu writes into another guest, the kernel image, a kernel
    buffer and the interrupt range: all blocked and charged to it, until
    it is quarantined; edu-dma next to it is unaffected."""
    a_hpa = int(re.search(r"^region gpa 0x0 hpa 0x([0-9a-f]+)",
                          "\n".join(vm.ok("guest show a")), re.M).group(1), 16)
    sentinel = alloc(vm, 0x1000)
    vm.ok("mem fill 0x%x 4096 0xee" % sentinel)
    new_guest(vm, "r")
    vm.ok("guest assign r %s" % C_DEV)
    start = len(vm.lines)
    vm.ok("guest run a edu-dma 20")
    vm.ok("guest run r rogue 0x%x 0x%x 0x%x" % (a_hpa + 0x600000, vm.image + 0x2000, sentinel))
    wait_log_line(vm, start, "r: 0000:%s quarantined" % C_DEV)
    wait_log_line(vm, start, "guest stopped")
    assert state(vm, "r")[0] == "quarantined"
    done = wait_guest_line(vm, "a", r"edu-dma: (\d+) round-trips, (\d+) ok$", start, 120)
    assert done.groups() == ("20", "20"), [l for l in vm.lines[start:] if l.startswith("[a]")]
    lines = vm.lines[start:]
    quarantined = next(i for i, l in enumerate(lines) if "r: 0000:%s quarantined" % C_DEV in l)
    faults = [FAULT.match(l) for l in lines if FAULT.match(l)]
    assert all(f.group(2) == C_DEV for f in faults), [f.group(0) for f in faults]
    # Charged to r up to the quarantine (the fault that reaches the limit
    # prints after it); transfers still in flight then fault too, charged
    # to the quarantine owner.
    before = [FAULT.match(l) for l in lines[:quarantined] if FAULT.match(l)]
    assert all(f.group(6).endswith(" owner r") for f in before), [f.group(0) for f in before]
    assert {int(f.group(3), 16) for f in faults} >= {a_hpa + 0x600000, vm.image + 0x2000, sentinel}
    drain(vm)  # both guests are stopped: nothing prints any more
    assert read(vm, sentinel, 4096) == b"\xee" * 4096
    assert guest_read(vm, "a", 0x600000, 64) == b"\0" * 64
    assert int(state(vm, "r")[3]) >= FAULT_LIMIT
    vm.ok("guest del r")


def test_unassign_revokes_bars(vm):
    """Unassigning the device of a guest that drives it takes its BARs
    away; the guest's next access stops it, naming the BAR."""
    start = len(vm.lines)
    vm.ok("guest run a edu-dma 1000")
    wait_guest_line(vm, "a", r"edu-dma: msi latency", start)
    vm.ok("guest unassign a %s" % A_DEV)
    wait_log_line(vm, start, "a: 0000:%s unassigned: its BARs are revoked" % A_DEV)
    f = GUEST_FAULT.search(wait_log_line(vm, start, "a faulted"))
    assert f.group(7) == " (a BAR the guest no longer has)"
    assert int(f.group(5), 16) >> 32 == 0x80  # the BAR window
    assert state(vm, "a")[0] == "faulted"
    vm.ok("version")


def test_surprise_removal_revokes_bars(vm):
    """Slot power off under a guest driving its edu: DMA blocked by the
    next tick's poll, the BARs revoked, the guest stopped at its next
    access; the console goes on."""
    vm.ok("guest del b")
    new_guest(vm, "d")
    vm.ok("guest assign d %s" % B_DEV)
    drain(vm)
    start = len(vm.lines)
    vm.ok("guest run d edu-dma 1000")
    wait_guest_line(vm, "d", r"edu-dma: msi latency", start)
    vm.ok("slot poweroff 0000:00:04.0")
    off = wait_log(vm, start, "0000:00:04.0: slot power off")
    blocked = wait_log(vm, start, "0000:%s: DMA blocked" % B_DEV)
    revoked = wait_log(vm, start, "d: 0000:%s removed: its BARs are revoked" % B_DEV)
    wait_log_line(vm, start, "d faulted")
    assert state(vm, "d")[0] == "faulted"
    vm.ok("version")
    print("\nsurprise removal while a guest runs: to DMA blocked %.1f ms, to BARs revoked %.1f ms" %
          ((blocked[0] - off[0]) * 1000, (revoked[0] - off[0]) * 1000))


def test_no_interrupt_remapping_no_running_guest():
    """Without interrupt remapping a guest's edu could raise any vector,
    NMI or INIT by DMA to 0xFEExxxxx: a guest holding it is not run, and
    it cannot be given to a running guest; the kernel still drives it."""
    with moat.Machine(devices=[EDU + ",addr=3.0"], memory="1G",
                      iommu="intel-iommu,intremap=off") as m:
        m.wait_ready()
        new_guest(m, "a")
        new_guest(m, "b")
        m.ok("guest assign a %s" % A_DEV)
        out, end = m.run("guest run a edu-dma 1")
        assert end == ("error: a: %s's unit does not remap interrupts: a running "
                       "guest could raise any interrupt through its DMA" % ("0000:" + A_DEV))
        assert "state stopped" in m.ok("guest show a")
        m.ok("guest dma a %s to-dev 0x400000 64" % A_DEV)
        m.ok("guest unassign a %s" % A_DEV)
        m.ok("guest run b spin")
        out, end = m.run("guest assign b %s" % A_DEV)
        assert end.startswith("error: b: 0000:%s's unit does not remap" % A_DEV)
        assert not any(A_DEV in l for l in m.ok("guest show b")
                       if not l.startswith("["))
        m.ok("guest stop b")
