#include <stdlib.h>

#include "drivers/hw.h"
#include "drivers/pci/pci_regs.h"

#include "tests/unit/pci_fake.h"

/*
 * QEMU 7.2's edu (hw/misc/edu.c) as far as moat uses it: the ID register
 * and the DMA engine (docs/scenarios.md, qemu-edu), over the fake
 * function's DMA engine.  MMIO to anything else reads all-ones.
 */

#define EDU_BAR_SIZE	   0x100000U
#define EDU_ID		   0x00
#define EDU_ID_VALUE	   0x010000edU
#define EDU_DMA_SRC	   0x80
#define EDU_DMA_DST	   0x88
#define EDU_DMA_COUNT	   0x90
#define EDU_DMA_CMD	   0x98
#define EDU_DMA_CMD_START  0x1U
#define EDU_DMA_CMD_TO_RAM 0x2U
/* QEMU's edu runs a transfer 100 ms after it was started. */
#define EDU_DMA_NS UINT64_C(100000000)
#define EDUS_MAX   8

static struct fake_edu {
	uint8_t *cfg;
	uint64_t src;
	uint64_t dst;
	uint64_t count;
	uint32_t cmd;
} edus[EDUS_MAX];
static unsigned int edu_count;

uint8_t *pci_fake_edu(uint8_t bus, uint8_t devfn, uint32_t bar0)
{
	uint8_t *cfg = pci_cfg_add(0, bus, devfn, 0x1234, 0x11e8, 0x00ff00,
				   PCI_HEADER_TYPE_NORMAL);
	struct fake_edu *e = NULL;
	unsigned int i;

	/* pci_cfg_reset() reuses the storage: so does this table. */
	for (i = 0; i < edu_count; i++) {
		if (edus[i].cfg == cfg) {
			e = &edus[i];
		}
	}
	if (!e) {
		if (edu_count == EDUS_MAX) {
			abort();
		}
		e = &edus[edu_count++];
	}
	*e = (struct fake_edu){.cfg = cfg};
	pci_cfg_bar(cfg, 0, EDU_BAR_SIZE, 0);
	pci_cfg_put32(cfg, PCI_BASE_ADDRESS_0, bar0);
	pci_cfg_put16(cfg, PCI_COMMAND, PCI_COMMAND_MEMORY);
	pci_fake_dma_mode(cfg, PCI_FAKE_BME_AT_END, 0);
	return cfg;
}

/* The edu whose BAR0 decodes pa now, and the register's offset. */
static struct fake_edu *edu_at(uint64_t pa, unsigned int *off)
{
	uint32_t bar;
	unsigned int i;

	for (i = 0; i < edu_count; i++) {
		const uint8_t *cfg = edus[i].cfg;

		bar = pci_cfg_get(cfg, PCI_BASE_ADDRESS_0, 4) &
		      PCI_BASE_ADDRESS_MEM_MASK;
		if (pci_cfg_get(cfg, PCI_VENDOR_ID, 4) != 0x11e81234U ||
		    !pci_fake_answers(cfg) || bar == 0 ||
		    !(pci_cfg_get(cfg, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY) ||
		    pa < bar || pa >= (uint64_t)bar + EDU_BAR_SIZE) {
			continue;
		}
		*off = (unsigned int)(pa - bar);
		return &edus[i];
	}
	return NULL;
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	return 0;
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	unsigned int off;
	struct fake_edu *e = edu_at(pa, &off);

	if (!e) {
		return UINT32_MAX;
	}
	switch (off) {
	case EDU_ID:
		return EDU_ID_VALUE;
	case EDU_DMA_CMD:
		return pci_fake_dma_busy(e->cfg) ? e->cmd | EDU_DMA_CMD_START
						 : 0;
	default:
		return 0;
	}
}

uint64_t hw_mmio_read64(uint64_t pa)
{
	return hw_mmio_read32(pa) | (uint64_t)hw_mmio_read32(pa + 4) << 32;
}

void hw_mmio_write32(uint64_t pa, uint32_t val)
{
	unsigned int off;
	struct fake_edu *e = edu_at(pa, &off);

	/* Registers are not written while a transfer runs (QEMU). */
	if (!e || off != EDU_DMA_CMD || !(val & EDU_DMA_CMD_START) ||
	    pci_fake_dma_busy(e->cfg)) {
		return;
	}
	e->cmd = val;
	pci_fake_dma_start(e->cfg, val & EDU_DMA_CMD_TO_RAM ? e->dst : e->src,
			   (uint32_t)e->count, EDU_DMA_NS);
}

void hw_mmio_write64(uint64_t pa, uint64_t val)
{
	unsigned int off;
	struct fake_edu *e = edu_at(pa, &off);

	if (!e || pci_fake_dma_busy(e->cfg)) {
		return;
	}
	if (off == EDU_DMA_SRC) {
		e->src = val;
	} else if (off == EDU_DMA_DST) {
		e->dst = val;
	} else if (off == EDU_DMA_COUNT) {
		e->count = val;
	}
}
