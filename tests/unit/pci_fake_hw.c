#include "drivers/hw.h"

#include "tests/unit/pci_fake.h"

/*
 * The hw seam's configuration access and time over the fake PCI topology
 * (pci_fake.h), for tests that run PCI alone.  A test that brings its own
 * seam (the VT-d model) leaves this file out and calls pci_fake_cfg_read()
 * and pci_fake_cfg_write() from its own.
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

uint64_t hw_now_ns(void)
{
	return pci_fake_now_ns;
}

/* Each step of a poll loop takes a microsecond of virtual time. */
void hw_relax(void)
{
	pci_fake_advance(1000);
}
