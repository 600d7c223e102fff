"""Where the console is (issue 16): console= on the command line, else the
UART the ACPI SPCR table names, else COM1; a UART that does not answer or
a bad SPCR is skipped with a logged reason.  SPCR tables are built here
(spcr.py) and handed to the firmware with -acpitable.  q35 has no
memory-mapped 16550, so MMIO access is covered by the host tests
(tests/unit/test_spcr.c)."""
import os
import re
from collections import Counter

import pytest

import moat
from spcr import GAS_IO, spcr

# QEMU's PCI 16550 (pci-serial): vendor 1b36, device 0002, BAR 0 I/O.
PCI_UART = ["-chardev", "stdio,id=con",
            "-device", "pci-serial,chardev=con,addr=5.0"]
KERNEL_LINE = re.compile(r"^\[ *\d+\.\d{6}\] |^moat: ready|^moat> ")


def acpitable(tmp_path, table):
    """-acpitable for a table written under the test's tmp_path."""
    path = os.path.join(str(tmp_path), "spcr.bin")
    with open(path, "wb") as f:
        f.write(table)
    return ["-acpitable", "file=" + path]


class Boot:
    """A machine whose COM1 goes to a file, and console from stdio."""

    def __init__(self, tmp_path, table=None, cmdline=None, serial="com2",
                 extra=()):
        self.com1 = str(tmp_path / "com1.log")
        args = list(extra)
        if table is not None:
            args += acpitable(tmp_path, table)
        if serial == "com2":
            layout = ("file:" + self.com1, "stdio")
        else:  # a PCI UART on stdio
            layout = ("file:" + self.com1,)
            args += PCI_UART
        self.m = moat.Machine(serial=layout, cmdline=cmdline, extra=args)

    def com1_lines(self):
        with open(self.com1, encoding="latin-1") as f:
            return moat.ANSI.sub("", f.read()).replace("\r", "").split("\n")

    def com1_kernel_lines(self):
        return [l for l in self.com1_lines() if KERNEL_LINE.search(l)]


def version_console(m):
    out = m.ok("version")
    line = [l for l in out if l.startswith("console ")]
    assert len(line) == 1, out
    return line[0]


# What moat writes on the firmware's console (ConOut) before leaving it.
CONOUT_LINE = "moat: leaving UEFI boot services. The console continues on the"


def check_each_line_once(lines):
    """No line of the boot appears twice on the console's port, where OVMF
    mirrors ConOut: the line moat wrote there came through the firmware,
    the log from moat's own UART driver."""
    boot = lines[:lines.index("moat: ready") + 1]
    assert CONOUT_LINE in boot
    twice = [l for l, n in Counter(l for l in boot if l.strip()).items()
             if n > 1]
    assert not twice, twice


def test_com2_named_by_spcr_and_com1_left_alone(tmp_path):
    b = Boot(tmp_path, table=spcr(addr=0x2F8))
    with b.m as m:
        m.wait_ready()
        assert version_console(m) == \
            "console uart io 0x2f8 115200 baud (ACPI SPCR)"
        # The log from before the choice comes out on COM2, once.
        assert any(re.search(r"\] boot: moat \S+ image at", l)
                   for l in m.lines)
        check_each_line_once(m.lines)
        out = m.ok("help")
        assert any(l.startswith("version") for l in out)
        m.send("exit 3\r")
        assert m.wait_exit() == moat.exit_status(3)
    assert b.com1_kernel_lines() == []
    # Early output went to ConOut, which OVMF mirrors to both COM ports.
    assert CONOUT_LINE in b.com1_lines()


def test_console_option_beats_spcr(tmp_path):
    b = Boot(tmp_path, table=spcr(addr=0x3F8), cmdline="console=com2,57600")
    with b.m as m:
        m.wait_ready()
        assert version_console(m) == \
            "console uart io 0x2f8 57600 baud (console=com2,57600)"
        m.send("exit 0\r")
        m.wait_exit()
    assert b.com1_kernel_lines() == []


def test_pci_serial_named_by_spcr(tmp_path):
    # Address 0 in the table: the BAR of the function is authoritative.
    table = spcr(addr=0, pci=(0x0002, 0x1B36, 0, 5, 0))
    b = Boot(tmp_path, table=table, serial="pci")
    with b.m as m:
        m.wait_ready()
        c = version_console(m)
        assert re.fullmatch(r"console pci 0000:00:05\.0 uart io 0x[0-9a-f]+ "
                            r"115200 baud \(ACPI SPCR\)", c), c
        m.send("exit 0\r")
        m.wait_exit()
    assert b.com1_kernel_lines() == []


def test_pci_serial_named_by_console_option(tmp_path):
    b = Boot(tmp_path, cmdline="console=pci,00:05.0", serial="pci")
    with b.m as m:
        m.wait_ready()
        c = version_console(m)
        assert re.fullmatch(r"console pci 0000:00:05\.0 uart io 0x[0-9a-f]+ "
                            r"115200 baud \(console=pci,00:05\.0\)", c), c
        m.send("exit 0\r")
        m.wait_exit()
    assert b.com1_kernel_lines() == []


def test_pci_serial_with_wrong_ids_in_spcr_is_skipped(tmp_path):
    table = spcr(addr=0, pci=(0x1234, 0x8086, 0, 5, 0))
    with moat.Machine(extra=["-device", "pci-serial,addr=5.0"] +
                      acpitable(tmp_path, table)) as m:
        m.wait_ready()
        assert any("console: warning: ACPI SPCR: pci 0000:00:05.0 skipped: "
                   "IDs 1b36:0002, SPCR says 8086:1234" in l for l in m.lines)
        assert version_console(m).endswith("(COM1, the default)")


BAD_SPCR = [
    ("short", spcr(length=60), "ACPI SPCR rejected: length 60 too short"),
    ("pl011", spcr(itype=0x03),
     "ACPI SPCR rejected: interface type 0x03 is not a 16550"),
    ("address0", spcr(addr=0), "ACPI SPCR rejected: address 0"),
]


@pytest.mark.parametrize("table,reason", [b[1:] for b in BAD_SPCR],
                         ids=[b[0] for b in BAD_SPCR])
def test_bad_spcr_falls_back_to_com1(tmp_path, table, reason):
    with moat.Machine(extra=acpitable(tmp_path, table)) as m:
        m.wait_ready()
        assert any("console: warning: " + reason in l
                   for l in m.lines), m.lines
        assert version_console(m) == \
            "console uart io 0x3f8 115200 baud (COM1, the default)"
        check_each_line_once(m.lines)


def test_silent_uarts_are_skipped_with_reasons(tmp_path):
    # Nothing answers at 0x3e8 (COM3) or 0x2e8 (COM4) on q35.
    with moat.Machine(cmdline="console=uart,io,0x3e8",
                      extra=acpitable(tmp_path, spcr(space=GAS_IO,
                                                     addr=0x2E8))) as m:
        m.wait_ready()
        text = "\n".join(m.lines)
        assert ("console: warning: console=uart,io,0x3e8: uart io 0x3e8 "
                "115200 baud skipped: scratch register test failed") in text
        assert ("console: warning: ACPI SPCR: uart io 0x2e8 115200 baud "
                "skipped: scratch register test failed") in text
        assert version_console(m).endswith("(COM1, the default)")


BAD_OPTION = [
    ("uart,pio,0x2f8", "ERROR: console=uart,pio,0x2f8 not understood"),
    ("pci,00:09.0", "warning: console=pci,00:09.0: pci 0000:00:09.0 "
     "skipped: no such function"),
    ("com2,1", "warning: console=com2,1: uart io 0x2f8 1 baud skipped: "
     "registers or baud rate unusable (invalid argument)"),
]


@pytest.mark.parametrize("option,message", BAD_OPTION,
                         ids=["syntax", "no-function", "baud"])
def test_unusable_console_option_is_reported(option, message):
    with moat.Machine(cmdline="console=" + option) as m:
        m.wait_ready()
        assert any("console: " + message in l for l in m.lines), m.lines
        assert version_console(m).endswith("(COM1, the default)")
