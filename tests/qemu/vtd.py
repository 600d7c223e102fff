"""Console helpers for the VT-d tests: buffers, domains, DMA, faults."""
import re

from moat import CMD_TIMEOUT

FAULT = re.compile(r"^fault unit (\d+) sid ([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) "
                   r"addr 0x([0-9a-f]+) reason 0x([0-9a-f]{2}) (read|write) (.+)$")
# An interrupt blocked by remapping: its index, never an address.
IRQ_FAULT = re.compile(r"^irq fault unit (\d+) sid ([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) "
                       r"index 0x([0-9a-f]+) reason 0x([0-9a-f]{2}) (.+)$")

EDU_ID = "1234:11e8"


def pci_functions(m):
    """[(bdf, vendor:device, rest-of-line)] from the pci command."""
    out = []
    for line in m.ok("pci"):
        bdf, ids, rest = line.split(" ", 2)
        out.append((bdf[5:], ids, rest))
    return out


def edus(m):
    return [bdf for bdf, ids, _ in pci_functions(m) if ids == EDU_ID]


def alloc(m, length):
    # mem alloc zeroes the buffer; under TCG on a loaded 2-core host 1 GiB
    # took over 30 s, so a large buffer gets 4 s more per 64 MiB.
    out = m.ok("mem alloc 0x%x" % length,
               timeout=CMD_TIMEOUT + 4 * (length >> 26))
    return int(re.match(r"^hpa 0x([0-9a-f]+)$", out[-1]).group(1), 16)


def read(m, hpa, length):
    data = []
    for line in m.ok("mem read 0x%x %d" % (hpa, length)):
        data += [int(b, 16) for b in line.split(":")[1].split()]
    assert len(data) == length
    return bytes(data)


def new_domain(m):
    return int(re.match(r"^domain (\d+)$", m.ok("domain new")[-1]).group(1))


def faults_in(lines):
    return [FAULT.match(l).groups() for l in lines if FAULT.match(l)]


def dma(m, bdf, direction, iova, length):
    """Runs edu DMA; returns (ok, fault tuples)."""
    out, end = m.run("edu dma %s %s 0x%x %d" % (bdf, direction, iova, length))
    return end == "ok", faults_in(out), end
