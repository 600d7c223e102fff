#include "drivers/hw.h"
#include "tests/unit/pci_fake.h"

/*
 * The hw seam's configuration space for the isolation layer's host tests
 * and the whole-system test (tests/system): the fake PCI topology's.
 * Memory, MMIO and time are the VT-d model's; the log and object counts
 * are pci_fake_log.c's (iso.mk and system.mk rename each stand-in's other
 * functions away).
 */
uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint8_t)pci_fake_cfg_read(seg, bus, devfn, off, 1);
}

uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint16_t)pci_fake_cfg_read(seg, bus, devfn, off, 2);
}

uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return pci_fake_cfg_read(seg, bus, devfn, off, 4);
}

void hw_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		   uint8_t val)
{
	pci_fake_cfg_write(seg, bus, devfn, off, 1, val);
}

void hw_pci_write16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint16_t val)
{
	pci_fake_cfg_write(seg, bus, devfn, off, 2, val);
}

void hw_pci_write32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint32_t val)
{
	pci_fake_cfg_write(seg, bus, devfn, off, 4, val);
}
