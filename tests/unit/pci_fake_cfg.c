#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"
#include "drivers/pci/pci_regs.h"
#include "tests/unit/pci_fake.h"

#define CFG_FNS 64
/* Far more than any test needs: a walk that gets here does not end. */
#define CFG_READS_MAX 1000000UL

static struct cfg_fn {
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
} fns[CFG_FNS];
static unsigned int fn_count;

unsigned long pci_cfg_reads;

void pci_cfg_reset(void)
{
	memset(fns, 0, sizeof(fns));
	fn_count = 0;
	pci_cfg_reads = 0;
}

static uint8_t *find(uint16_t seg, uint8_t bus, uint8_t devfn)
{
	unsigned int i;

	for (i = 0; i < fn_count; i++) {
		if (fns[i].seg == seg && fns[i].bus == bus &&
		    fns[i].devfn == devfn) {
			return fns[i].cfg;
		}
	}
	return NULL;
}

void pci_cfg_put8(uint8_t *cfg, unsigned int off, uint8_t v)
{
	cfg[off] = v;
}

void pci_cfg_put16(uint8_t *cfg, unsigned int off, uint16_t v)
{
	cfg[off] = (uint8_t)v;
	cfg[off + 1] = (uint8_t)(v >> 8);
}

void pci_cfg_put32(uint8_t *cfg, unsigned int off, uint32_t v)
{
	pci_cfg_put16(cfg, off, (uint16_t)v);
	pci_cfg_put16(cfg, off + 2, (uint16_t)(v >> 16));
}

uint8_t *pci_cfg_add(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t vendor,
		     uint16_t device, uint32_t class24, uint8_t hdr_type)
{
	struct cfg_fn *f;

	if (fn_count == CFG_FNS || find(seg, bus, devfn)) {
		abort();
	}
	f = &fns[fn_count++];
	f->seg = seg;
	f->bus = bus;
	f->devfn = devfn;
	pci_cfg_put16(f->cfg, PCI_VENDOR_ID, vendor);
	pci_cfg_put16(f->cfg, PCI_DEVICE_ID, device);
	pci_cfg_put32(f->cfg, PCI_CLASS_REVISION, class24 << 8 | 0x01);
	pci_cfg_put8(f->cfg, PCI_HEADER_TYPE, hdr_type);
	return f->cfg;
}

uint8_t *pci_cfg_add_bridge(uint16_t seg, uint8_t bus, uint8_t devfn,
			    uint8_t primary, uint8_t secondary,
			    uint8_t subordinate)
{
	uint8_t *cfg = pci_cfg_add(seg, bus, devfn, 0x1b36, 0x0001, 0x060400,
				   PCI_HEADER_TYPE_BRIDGE);

	pci_cfg_put8(cfg, PCI_PRIMARY_BUS, primary);
	pci_cfg_put8(cfg, PCI_SECONDARY_BUS, secondary);
	pci_cfg_put8(cfg, PCI_SUBORDINATE_BUS, subordinate);
	return cfg;
}

void pci_cfg_cap(uint8_t *cfg, unsigned int pos, uint8_t id, uint8_t next)
{
	cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	cfg[pos + PCI_CAP_LIST_ID] = id;
	cfg[pos + PCI_CAP_LIST_NEXT] = next;
}

void pci_cfg_pcie(uint8_t *cfg, unsigned int pos, uint8_t type, uint8_t next)
{
	pci_cfg_cap(cfg, pos, PCI_CAP_ID_EXP, next);
	pci_cfg_put16(cfg, pos + PCI_EXP_FLAGS, (uint16_t)(type << 4 | 0x2));
}

void pci_cfg_ext_cap(uint8_t *cfg, unsigned int pos, uint16_t id,
		     unsigned int next)
{
	pci_cfg_put32(cfg, pos, (uint32_t)next << 20 | 1U << 16 | id);
}

static uint32_t cfg_read(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		     unsigned int width)
{
	const uint8_t *cfg = find(seg, bus, devfn);
	uint32_t v = 0;
	unsigned int i;

	/* The driver must never make such an access, nor walk forever. */
	if (off % width || off + width > PCI_CFG_SPACE_EXP_SIZE ||
	    ++pci_cfg_reads > CFG_READS_MAX) {
		abort();
	}
	if (!cfg) {
		return UINT32_MAX >> (32 - 8 * width);
	}
	for (i = 0; i < width; i++) {
		v |= (uint32_t)cfg[off + i] << (8 * i);
	}
	return v;
}

uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint8_t)cfg_read(seg, bus, devfn, off, 1);
}

uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint16_t)cfg_read(seg, bus, devfn, off, 2);
}

uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return cfg_read(seg, bus, devfn, off, 4);
}
