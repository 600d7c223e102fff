/*
 * Configuration space for harnesses that answer only 32-bit reads (the
 * model, make bench's isolation layer): narrower reads are taken from the
 * dword that holds them, and writes are dropped.
 */
#include <stdint.h>

#include "drivers/hw.h"

uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint16_t)(hw_pci_read32(seg, bus, devfn, off & ~3U) >>
			  ((off & 2) * 8));
}

uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint8_t)(hw_pci_read32(seg, bus, devfn, off & ~3U) >>
			 ((off & 3) * 8));
}

void hw_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		   uint8_t val)
{
}

void hw_pci_write16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint16_t val)
{
}

void hw_pci_write32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint32_t val)
{
}
