"""The dmar command on QEMU's own table and on real tables injected into a
machine without an IOMMU (issue 3)."""
import csv
import re

import pytest

import moat

# Servers with several units, tables with a zero base, odd lengths, the
# size field and several RMRRs: one of each kind the fixtures' README lists.
INJECTED = [
    "dell-poweredge-r820.dat",
    "hp-proliant-dl380e-gen8.dat",
    "lenovo-thinkpad-e15-gen2.dat",
    "depo-super-server-f84e17.dat",
    "samsung-960qha.dat",
    "hp-compaq-dc7800-sff.dat",
]


def manifest():
    with open(moat.fixture_path("dmar", "MANIFEST.tsv")) as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def parse_drhd_list(text):
    units = []
    for part in filter(None, (p.strip() for p in text.split("|"))):
        m = re.match(r"seg=(\d+) base=0x([0-9A-F]+) flags=0x([0-9A-F]+)\S* scopes=(\d+)", part)
        assert m, part
        units.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16),
                      int(m.group(4))))
    return units


def parse_rmrr_list(text):
    out = []
    for part in filter(None, (p.strip() for p in text.split("|"))):
        base, limit = part.split("-")
        out.append((int(base, 16), int(limit, 16)))
    return out


def dmar_lines(m):
    return m.ok("dmar")


def drhds_printed(lines):
    out = []
    for l in lines:
        m = re.match(r"^drhd seg (\d+) base 0x([0-9a-f]+) flags 0x([0-9a-f]+) scopes (\d+)", l)
        if m:
            out.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16),
                        int(m.group(4))))
    return out


def test_qemu_table(machine):
    lines = dmar_lines(machine)
    assert re.match(r"^dmar haw 39 flags 0x1 ", lines[0]), lines
    assert "dmar table: used" in lines
    drhds = drhds_printed(lines)
    assert len(drhds) == 1 and drhds[0][:3] == (0, 0xfed90000, 0)
    scopes = [l for l in lines if l.startswith("  scope ")]
    assert len(scopes) == drhds[0][3]
    # QEMU lists the IOAPIC and every device on the root bus.
    assert any(l.startswith("  scope ioapic ") for l in scopes)
    assert any("pci-endpoint" in l and "path 01.0" in l for l in scopes)
    assert "unit 0 base 0xfed90000: used" in lines


@pytest.mark.parametrize("name", INJECTED)
def test_injected_real_table(name):
    row = manifest()[name]
    path = moat.fixture_path("dmar", name)
    with moat.Machine(iommu=None, devices=["edu"],
                      extra=["-acpitable", "file=" + path]) as m:
        m.wait_ready()
        lines = dmar_lines(m)
        haw = int(row["host_address_width"].split()[0]) + 1
        assert lines[0].startswith("dmar haw %d " % haw), lines[0]
        assert "dmar table: used" in lines
        assert drhds_printed(lines) == parse_drhd_list(row["drhd_list"])
        rmrrs = [tuple(int(x, 16) for x in re.match(
            r"^rmrr seg \d+ base 0x([0-9a-f]+) limit 0x([0-9a-f]+)", l).groups())
            for l in lines if l.startswith("rmrr seg ")]
        assert rmrrs == parse_rmrr_list(row["rmrr_list"])
        # No unit's registers answer in a machine without an IOMMU: every
        # unit is rejected, with a reason, and moat drives none of them.
        verdicts = [l for l in lines if re.match(r"^unit \d+ base ", l)]
        assert len(verdicts) == int(row["n_drhd"])
        assert all(re.search(r": rejected \(.+\)$", v) for v in verdicts), verdicts
        out, end = m.run("iommu")
        assert end.startswith("error: ") or all("rejected" in l for l in out)
        out, end = m.run("domain new")
        assert end.startswith("error: ")
        # The shell keeps working.
        assert m.ok("version")[0].startswith("moat ")
