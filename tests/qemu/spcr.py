"""SPCR tables for the console tests, built byte by byte with a correct
checksum (Microsoft SPCR revisions 2 and 4; field offsets as in
drivers/acpi/spcr.h).  Run as a script, it writes the fuzzer's seeds:
    python3 tests/qemu/spcr.py tests/fuzz/spcr-seeds
"""
import os
import struct
import sys

GAS_MEMORY, GAS_IO = 0, 1
PCI_NONE = (0xFFFF, 0xFFFF, 0, 0, 0)


def spcr(rev=2, itype=0x00, space=GAS_IO, width=8, access=1, addr=0x2F8,
         baud=7, pci=PCI_NONE, clock=0, precise=0, length=None):
    """The table's bytes.  pci is (device id, vendor id, bus, device,
    function); length overrides the size (the header agrees with it)."""
    t = bytearray(88 if rev >= 4 else 80)
    t[0:4] = b"SPCR"
    t[8] = rev
    t[10:16] = b"MOATTS"
    t[16:24] = b"CONSOLE "
    t[36] = itype
    t[40:52] = struct.pack("<BBBBQ", space, width, 0, access, addr)
    t[58] = baud
    t[60] = 1  # one stop bit
    struct.pack_into("<HHBBB", t, 64, *pci)
    struct.pack_into("<I", t, 76, clock)
    if rev >= 4:
        struct.pack_into("<I", t, 80, precise)
    if length is not None:
        t = t[:length] + bytes(max(0, length - len(t)))
    struct.pack_into("<I", t, 4, len(t))
    t[9] = (-sum(t)) & 0xFF
    return bytes(t)


SEEDS = {
    "com2": spcr(),
    "mmio32": spcr(itype=0x12, space=GAS_MEMORY, width=32, access=3,
                   addr=0xFE030000, baud=3),
    "pci": spcr(addr=0, pci=(0x0002, 0x1B36, 0, 3, 0)),
    "rev4": spcr(rev=4, space=GAS_MEMORY, addr=0xFE031000, clock=48000000,
                 precise=1500000),
}

if __name__ == "__main__":
    for name, table in SEEDS.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(table)
