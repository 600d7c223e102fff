"""PCIe native hot-plug in QEMU 7.2 (issue 6): orderly removal by device_del,
re-plug at the same address with a new object and a working DMA path, 20
del/add cycles, surprise removal by slot poweroff, and isolation groups.

QEMU's ACPI hot-plug is turned off so that each pcie-root-port is the slot's
own hot-plug controller (docs/scenarios.md, qemu-native-hotplug)."""
import queue
import re
import socket
import time

import pytest

import moat
from vtd import alloc, dma, new_domain, read

NATIVE = ["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"]
EDU = "edu,dma_mask=0xffffffffffffffff"
DEVICES = [
    "pcie-root-port,id=rp1,slot=1,chassis=1,addr=4.0",
    EDU + ",bus=rp1,id=dev1",
    "pcie-root-port,id=rp2,slot=2,chassis=2,addr=5.0",
    EDU + ",bus=rp2,id=dev2",
]
RP1, DEV1 = "0000:00:04.0", "0000:01:00.0"
RP2, DEV2 = "0000:00:05.0", "0000:02:00.0"
LOG = re.compile(r"\[\s*(\d+)\.(\d{6})\] (\S+): (.*)$")
EVENT_TIMEOUT = 20


@pytest.fixture(scope="module")
def vm():
    with moat.Machine(devices=DEVICES, extra=NATIVE, memory="1G") as m:
        m.wait_ready()
        # QMP events are only sent to a connected client: connect now.
        m.qmp_cmd("query-status")
        yield m


def drain(m):
    """Drops queued serial output, so the next command reads only its own."""
    while True:
        try:
            m.q.get_nowait()
        except queue.Empty:
            return


def wait_event(m, name, device, timeout=EVENT_TIMEOUT):
    """Waits for the QMP event name about device (moat.Qmp only records
    events it meets while waiting for a command's reply)."""
    q = m.qmp
    deadline = time.monotonic() + timeout
    while True:
        for e in q.events:
            if e["event"] == name and e["data"].get("device") == device:
                q.events.remove(e)
                return e
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no QMP event %s" % name)
        q.sock.settimeout(left)
        try:
            r = q._recv()
        except socket.timeout:
            continue
        if "event" in r:
            q.events.append(r)


def logs(m, start=0):
    """[(seconds, subsystem, text)] of the log lines since line start."""
    out = []
    for line in m.lines[start:]:
        g = LOG.search(line)
        if g:
            out.append((int(g.group(1)) + int(g.group(2)) / 1e6, g.group(3),
                        g.group(4)))
    return out


def wait_log(m, start, text, timeout=EVENT_TIMEOUT):
    """Waits until a log line since line start contains text; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in logs(m, start):
            if text in entry[2]:
                return entry
        time.sleep(0.02)
    raise TimeoutError("no log %r; last lines:\n%s" %
                       (text, "\n".join(m.lines[-20:])))


def index_of(entries, text):
    return next(i for i, e in enumerate(entries) if text in e[2])


def slots(m):
    drain(m)
    return [l for l in m.ok("hotplug") if l.startswith("slot ")]


def pci_bdfs(m):
    drain(m)
    return [l.split()[0] for l in m.ok("pci") if re.match(r"^[0-9a-f]{4}:", l)]


def remove(m, dev_id, bdf):
    """device_del; returns the log lines of the orderly removal."""
    start = len(m.lines)
    m.qmp_cmd("device_del", id=dev_id)
    wait_event(m, "DEVICE_DELETED", dev_id)
    wait_log(m, start, "%s: gone" % bdf)
    return logs(m, start)


def plug(m, dev_id, bus, bdf):
    """device_add at the same place; returns the new object's generation."""
    start = len(m.lines)
    m.qmp_cmd("device_add", driver="edu", bus=bus, id=dev_id,
              dma_mask=0xffffffffffffffff)
    added = wait_log(m, start, "%s: added 1234:11e8" % bdf)
    drain(m)
    return int(re.search(r"gen (\d+)", added[2]).group(1)), logs(m, start)


def dma_roundtrip(m, bdf, domain, iova, pattern):
    """Device reads pattern from iova, writes it back 0x800 further on."""
    m.ok("mem fill 0x%x 64 0x%02x" % (m.buf, pattern))
    ok, faults, end = dma(m, bdf, "to-dev", iova, 64)
    assert ok and not faults, end
    ok, faults, end = dma(m, bdf, "from-dev", iova + 0x800, 64)
    assert ok and not faults, end
    assert read(m, m.buf + 0x800, 64) == bytes([pattern]) * 64


@pytest.fixture(scope="module")
def mapped(vm):
    """One domain with one page mapped at IOVA 0x100000, for every edu."""
    vm.buf = alloc(vm, 0x1000)
    d = new_domain(vm)
    vm.ok("domain map %d 0x100000 0x%x 0x1000 rw" % (d, vm.buf))
    return d


def test_slots_listed(vm):
    assert slots(vm) == [
        "slot %s power on presence yes link up device %s" % (RP1, DEV1),
        "slot %s power on presence yes link up device %s" % (RP2, DEV2),
    ]
    found = logs(vm)
    assert any("%s: hot-plug slot 1, active" % RP1 in e[2] for e in found)
    vm.ok("hotplug")
    _, end = vm.run("hotplug now")
    assert end == "error: usage: hotplug"
    _, end = vm.run("slot poweroff 00:1f.0")
    assert end == "error: no hot-plug slot at 00:1f.0"


def test_orderly_removal_then_replug(vm, mapped):
    vm.ok("attach %s %d" % (DEV1, mapped))
    dma_roundtrip(vm, DEV1, mapped, 0x100000, 0x5a)

    t0 = time.monotonic()
    entries = remove(vm, "dev1", DEV1)
    removal_s = time.monotonic() - t0
    old_gen = int(re.search(r"gen (\d+)", entries[index_of(
        entries, "%s: gone" % DEV1)][2]).group(1))
    # Owner told while the device answered, DMA blocked, then the power
    # off (which is what makes QEMU delete it), then gone.
    order = [index_of(entries, t) for t in (
        "%s: attention button" % RP1, "%s: orderly removal" % RP1,
        "%s: DMA blocked" % DEV1, "%s: slot power off" % RP1,
        "%s: gone (gen" % DEV1)]
    assert order == sorted(order), entries
    assert not any("stopped answering" in e[2] or "surprise" in e[2]
                   for e in entries)
    assert DEV1 not in pci_bdfs(vm)
    assert slots(vm)[0] == "slot %s power off presence no link down device none" % RP1
    _, end = vm.run("detach %s" % DEV1)
    assert end == "error: no PCI function %s" % DEV1

    gen, entries = plug(vm, "dev1", "rp1", DEV1)
    assert gen > old_gen
    bar = [e for e in entries if "%s: BAR 0 at" % DEV1 in e[2]]
    assert len(bar) == 1
    assert DEV1 in pci_bdfs(vm)
    assert slots(vm)[0] == "slot %s power on presence yes link up device %s" % (RP1, DEV1)
    # A new device starts blocked (default deny) until attached again.
    ok, faults, _ = dma(vm, DEV1, "from-dev", 0x100000 + 0x800, 16)
    assert not ok and faults
    vm.ok("attach %s %d" % (DEV1, mapped))
    dma_roundtrip(vm, DEV1, mapped, 0x100000, 0xa5)
    print("device_del to DEVICE_DELETED: %.0f ms" % (removal_s * 1000))


def test_twenty_cycles(vm, mapped):
    gens = []
    t0 = time.monotonic()
    for i in range(20):
        vm.ok("attach %s %d" % (DEV1, mapped))
        remove(vm, "dev1", DEV1)
        gen, _ = plug(vm, "dev1", "rp1", DEV1)
        gens.append(gen)
        vm.ok("attach %s %d" % (DEV1, mapped))
        dma_roundtrip(vm, DEV1, mapped, 0x100000, i + 1)
        vm.ok("detach %s" % DEV1)
    assert gens == sorted(set(gens))
    print("20 cycles in %.1f s" % (time.monotonic() - t0))


def test_surprise_removal_by_slot_poweroff(vm, mapped):
    vm.ok("attach %s %d" % (DEV2, mapped))
    dma_roundtrip(vm, DEV2, mapped, 0x100000, 0x3c)
    # A DMA in flight (edu takes ~100 ms) when the slot loses power.
    vm.ok("mem fill 0x%x 2048 0x21" % (vm.buf + 0x800))
    assert vm.ok("edu dma %s from-dev 0x100800 2048 nowait" % DEV2) == ["dma started"]
    start = len(vm.lines)
    drain(vm)
    vm.ok("slot poweroff %s" % RP2)
    off = wait_log(vm, start, "%s: slot power off" % RP2)
    gone = wait_log(vm, start, "%s: gone by surprise" % DEV2)
    blocked = wait_log(vm, start, "%s: DMA blocked" % DEV2)
    entries = logs(vm, start)
    assert not any("orderly" in e[2] for e in entries)
    assert index_of(entries, "gone by surprise") < index_of(entries, "DMA blocked")
    wait_event(vm, "DEVICE_DELETED", "dev2")
    # The shell goes on; the device is gone everywhere.
    assert DEV2 not in pci_bdfs(vm)
    assert slots(vm)[1] == "slot %s power off presence no link down device none" % RP2
    _, end = vm.run("edu dma %s to-dev 0x100000 16" % DEV2)
    assert end == "error: no PCI function %s" % DEV2
    vm.ok("version")
    # The interrupted transfer wrote nothing.
    assert read(vm, vm.buf + 0x800, 2048) == b"\x21" * 2048
    print("surprise: slot power off to gone %.1f ms, to DMA blocked %.1f ms" %
          ((gone[0] - off[0]) * 1000, (blocked[0] - off[0]) * 1000))
    # Back at the same address; it works again.
    plug(vm, "dev2", "rp2", DEV2)
    vm.ok("attach %s %d" % (DEV2, mapped))
    dma_roundtrip(vm, DEV2, mapped, 0x100000, 0x77)


def test_slot_poweron_refuses_active_slot(vm):
    drain(vm)
    _, end = vm.run("slot poweron %s" % RP1)
    assert end == "error: slot %s is active" % RP1


GROUP_DEVICES = [
    EDU + ",addr=3.0",
    EDU + ",addr=6.0,multifunction=on",
    EDU + ",addr=6.1",
    "pcie-root-port,id=rp3,slot=3,chassis=3,addr=7.0",
    "pcie-pci-bridge,id=br1,bus=rp3",
    EDU + ",bus=br1,addr=1.0",
    EDU + ",bus=br1,addr=2.0",
]


def test_groups_follow_topology():
    with moat.Machine(devices=GROUP_DEVICES) as m:
        m.wait_ready()
        groups = {}
        for line in m.ok("group"):
            g = re.match(r"^group (\d+) owner \S+: (.+)$", line)
            assert g, line
            groups[int(g.group(1))] = g.group(2).split()
        members = sorted(groups.values())
        # The edus' functions reach each other without ACS: one group.
        assert ["0000:00:06.0", "0000:00:06.1"] in members
        assert ["0000:00:03.0"] in members
        # The root port has ACS (moat turned it on): alone.  The
        # PCIe-to-PCI bridge and its conventional devices: one group.
        assert ["0000:00:07.0"] in members
        assert ["0000:01:00.0", "0000:02:01.0", "0000:02:02.0"] in members
        assert ["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"] in members
        # Every function is in exactly one group.
        listed = [b for g in members for b in g]
        assert sorted(listed) == sorted(pci_bdfs(m))


def test_claims_take_whole_groups():
    """One owner per isolation group (docs/design.md, invariant 7)."""
    with moat.Machine(devices=GROUP_DEVICES) as m:
        m.wait_ready()

        def owner_of(bdf):
            for line in m.ok("group"):
                g = re.match(r"^group \d+ owner (\S+): (.+)$", line)
                if "0000:" + bdf in g.group(2).split():
                    return g.group(1)
            raise AssertionError(bdf)

        m.ok("claim 02:01.0 alice")
        # The whole bridge group changed hands, nothing else did.
        assert owner_of("02:02.0") == "alice" and owner_of("01:00.0") == "alice"
        assert owner_of("00:03.0") == "kernel"
        _, end = m.run("claim 02:02.0 bob")
        assert end == "error: 02:02.0's group is owned by alice"
        m.ok("claim 02:02.0 alice")
        d = int(re.match(r"^domain (\d+)$", m.ok("domain new")[0]).group(1))
        _, end = m.run("attach 02:02.0 %d" % d)
        assert end == "error: 02:02.0's group is owned by alice"
        for bad in ("claim 02:02.0 kernel", "claim 02:02.0 quarantine",
                    "claim 02:02.0 a-very-long-owner-name", "release 00:03.0",
                    "claim 99:00.0 x"):
            _, end = m.run(bad)
            assert end.startswith("error: "), (bad, end)
        m.ok("release 02:02.0")
        assert owner_of("02:01.0") == "kernel"
        # Released to the blocking domain, the whole group.  The two
        # conventional devices share the bridge's requester id, so they
        # are attached and detached as one (issue 11).
        m.ok("attach 02:02.0 %d" % d)
        m.ok("detach 02:02.0")
        m.ok("attach 02:01.0 %d" % d)
        m.ok("detach 02:01.0")


def test_assigned_device_removed_while_referenced_then_replugged(vm):
    """A guest keeps its reference to a device removed by surprise: the
    guest stays intact and sees it gone, the device re-plugged at the same
    address is a new object, and dropping the old one touches nothing."""
    vm.ok("guest new h 0x200000")
    vm.ok("guest assign h %s" % DEV2[5:])
    vm.ok("guest write h 0x1000 0x5e 16")
    vm.ok("guest dma h %s to-dev 0x1000 16" % DEV2[5:])
    start = len(vm.lines)
    drain(vm)
    vm.ok("slot poweroff %s" % RP2)
    wait_log(vm, start, "%s: gone by surprise" % DEV2)
    wait_event(vm, "DEVICE_DELETED", "dev2")
    show = vm.ok("guest show h")
    assert "device %s gone" % DEV2 in show
    assert "0x1000" in vm.ok("guest read h 0x1000 16")[0]
    # Re-plug while the guest still holds the old object.
    plug(vm, "dev2", "rp2", DEV2)
    assert "device %s gone" % DEV2 in vm.ok("guest show h")
    assert re.search(r"owner kernel: %s$" % DEV2, "\n".join(vm.ok("group")), re.M)
    start = len(vm.lines)
    vm.ok("guest unassign h %s" % DEV2[5:])
    # Dropping the gone object neither touched the new device nor failed.
    assert not any("ERROR" in l for l in vm.lines[start:]), vm.lines[start:]
    assert not any("device " in l for l in vm.ok("guest show h"))
    # The new device, assigned afresh, works: its (zeroed) buffer lands in
    # guest memory that held 0xff.
    vm.ok("guest assign h %s" % DEV2[5:])
    vm.ok("guest write h 0x2000 0xff 16")
    vm.ok("guest dma h %s from-dev 0x2000 16" % DEV2[5:])
    assert vm.ok("guest read h 0x2000 16")[0] == "0x2000:" + " 00" * 16
    vm.ok("guest del h")
