"""The pci command against QEMU's own view of the bus (issue 2)."""
import re

import moat

LINE = re.compile(r"^(?P<seg>[0-9a-f]{4}):(?P<bus>[0-9a-f]{2}):(?P<dev>[0-9a-f]{2})\."
                  r"(?P<fn>[0-7]) (?P<ven>[0-9a-f]{4}):(?P<did>[0-9a-f]{4}) "
                  r"class (?P<cls>[0-9a-f]{6})"
                  r"(?: bridge (?P<pri>[0-9a-f]{2})/(?P<sec>[0-9a-f]{2})-(?P<sub>[0-9a-f]{2}))?"
                  r"(?: caps (?P<caps>\S+))?(?: ext (?P<ext>\S+))?$")


def qemu_functions(machine):
    """{(bus, dev, fn): (vendor, device, class16, bridge-or-None)} from QMP."""
    found = {}

    def walk(devices):
        for d in devices:
            bridge = None
            if "pci_bridge" in d:
                b = d["pci_bridge"]["bus"]
                bridge = (b["number"], b["secondary"], b["subordinate"])
                walk(d["pci_bridge"].get("devices", []))
            found[(d["bus"], d["slot"], d["function"])] = (
                d["id"]["vendor"], d["id"]["device"],
                d["class_info"]["class"], bridge)

    for bus in machine.qmp_cmd("query-pci"):
        walk(bus["devices"])
    return found


def moat_functions(machine):
    found = {}
    lines = machine.ok("pci")
    for line in lines:
        m = LINE.match(line)
        assert m, "unparsable pci line: %r" % line
        assert m.group("seg") == "0000"
        bridge = None
        if m.group("pri"):
            bridge = (int(m.group("pri"), 16), int(m.group("sec"), 16),
                      int(m.group("sub"), 16))
        key = (int(m.group("bus"), 16), int(m.group("dev"), 16),
               int(m.group("fn"), 16))
        assert key not in found, "function listed twice: %r" % line
        found[key] = (int(m.group("ven"), 16), int(m.group("did"), 16),
                      int(m.group("cls"), 16) >> 8, bridge, m.group("caps"),
                      m.group("ext"))
    return found


def check_against_qemu(devices):
    with moat.Machine(devices=devices) as m:
        m.wait_ready()
        ours = moat_functions(m)
        theirs = qemu_functions(m)
        assert set(ours) == set(theirs)
        for key, (ven, did, cls, bridge) in theirs.items():
            assert ours[key][:4] == (ven, did, cls, bridge), key
        return ours


def test_pci_matches_qemu_with_root_port():
    ours = check_against_qemu([
        "edu,id=edu0",
        "pcie-root-port,id=rp1,slot=1,chassis=1",
        "edu,bus=rp1,id=edu1",
    ])
    # The root port is PCIe with MSI-X; edu is conventional PCI with MSI.
    port = [v for v in ours.values() if v[3] is not None]
    assert len(port) == 1
    assert "pcie" in port[0][4].split(",") and "msix" in port[0][4].split(",")
    edus = [v for v in ours.values() if v[:2] == (0x1234, 0x11e8)]
    assert len(edus) == 2
    assert all(v[4] == "msi" for v in edus)


def test_pci_matches_qemu_behind_pcie_pci_bridge_and_multifunction():
    ours = check_against_qemu([
        "pcie-root-port,id=rp1,slot=1,chassis=1",
        "pcie-pci-bridge,id=br1,bus=rp1",
        "edu,bus=br1,addr=3.0,id=edu0",
        "edu,addr=5.0,multifunction=on,id=mf0",
        "edu,addr=5.3,id=mf3",
    ])
    bridges = sorted(v[3] for v in ours.values() if v[3] is not None)
    # Root port to bus 1, the PCIe-to-PCI bridge on bus 1 to bus 2.
    assert bridges == [(0, 1, 2), (1, 2, 2)]
    assert (2, 3, 0) in ours
    assert (0, 5, 0) in ours and (0, 5, 3) in ours and (0, 5, 1) not in ours
