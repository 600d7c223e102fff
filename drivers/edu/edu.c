#include "drivers/edu/edu.h"

#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/reset.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Registers in BAR0 (QEMU 7.2 hw/misc/edu.c; docs/scenarios.md, qemu-edu). */
#define EDU_ID		   0x00
#define EDU_ID_VALUE	   0x010000edU
#define EDU_IRQ_STATUS	   0x24
#define EDU_IRQ_RAISE	   0x60
#define EDU_IRQ_ACK	   0x64
#define EDU_IRQ_TEST	   BIT32(0) /* any bit; edu ORs it into its status */
#define EDU_DMA_SRC	   0x80
#define EDU_DMA_DST	   0x88
#define EDU_DMA_COUNT	   0x90
#define EDU_DMA_CMD	   0x98
#define EDU_DMA_CMD_START  BIT32(0)
#define EDU_DMA_CMD_TO_RAM BIT32(1) /* direction: device buffer to memory */
#define EDU_BAR_SIZE	   0x100000

/*
 * The device-side buffer; QEMU aborts on any DMA outside it or of length 0,
 * so every transfer is checked here first.
 */
#define EDU_BUF_ADDR 0x40000U

bool edu_match(const struct pci_dev *d)
{
	return d->vendor == EDU_VENDOR_ID && d->device == EDU_DEVICE_ID;
}

int edu_init(struct edu *e, const struct pci_dev *d)
{
	uint16_t cmd;
	int ret;

	if (!edu_match(d)) {
		return -ENODEV;
	}
	ret = pci_bar_mem(d, 0, &e->bar0);
	if (ret) {
		return ret;
	}
	ret = hw_mmio_map(e->bar0, EDU_BAR_SIZE);
	if (ret) {
		return ret;
	}
	cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
	if (cmd == 0xffffU) {
		return -ENODEV;
	}
	hw_pci_write16(
		d->seg, d->bus, d->devfn, PCI_COMMAND,
		(uint16_t)(cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	if (hw_mmio_read32(e->bar0 + EDU_ID) != EDU_ID_VALUE) {
		return -ENODEV;
	}
	e->pdev = d;
	return 0;
}

int edu_dma_start(struct edu *e, bool to_dev, iova_t iova, uint32_t len)
{
	if (len == 0 || len > EDU_DMA_MAX) {
		return -EINVAL;
	}
	/* Busy, or gone (all-ones): never start work on it. */
	if (hw_mmio_read32(e->bar0 + EDU_DMA_CMD) & EDU_DMA_CMD_START) {
		return -EBUSY;
	}
	hw_mmio_write64(e->bar0 + EDU_DMA_SRC,
			to_dev ? iova_val(iova) : EDU_BUF_ADDR);
	hw_mmio_write64(e->bar0 + EDU_DMA_DST,
			to_dev ? EDU_BUF_ADDR : iova_val(iova));
	hw_mmio_write64(e->bar0 + EDU_DMA_COUNT, len);
	hw_mmio_write32(e->bar0 + EDU_DMA_CMD,
			EDU_DMA_CMD_START | (to_dev ? 0 : EDU_DMA_CMD_TO_RAM));
	return 0;
}

int edu_dma(struct edu *e, bool to_dev, iova_t iova, uint32_t len,
	    uint64_t timeout_ns, void (*idle)(void *ctx), void *ctx)
{
	uint64_t deadline = hw_now_ns() + timeout_ns;
	uint32_t cmd;
	int ret = edu_dma_start(e, to_dev, iova, len);

	if (ret) {
		return ret;
	}
	while ((cmd = hw_mmio_read32(e->bar0 + EDU_DMA_CMD)) &
	       EDU_DMA_CMD_START) {
		/* A vanished device reads all-ones. */
		if (cmd == 0xffffffffU) {
			return -ENODEV;
		}
		if (hw_time_after(deadline)) {
			/* Re-read once: we may have been away past the
			 * deadline. */
			cmd = hw_mmio_read32(e->bar0 + EDU_DMA_CMD);
			if (!(cmd & EDU_DMA_CMD_START)) {
				return 0;
			}
			log_warn("edu",
				 PCI_BDF_FMT
				 ": DMA did not complete in %llu us",
				 PCI_BDF_ARGS(e->pdev->seg, e->pdev->bus,
					      e->pdev->devfn),
				 (unsigned long long)(timeout_ns / 1000));
			return -ETIMEDOUT;
		}
		if (idle) {
			idle(ctx);
		}
		hw_relax();
	}
	return 0;
}

void edu_raise_irq(struct edu *e)
{
	/* Acknowledge what an earlier test left, so the next raise is an edge.
	 */
	hw_mmio_write32(e->bar0 + EDU_IRQ_ACK,
			hw_mmio_read32(e->bar0 + EDU_IRQ_STATUS));
	hw_mmio_write32(e->bar0 + EDU_IRQ_RAISE, EDU_IRQ_TEST);
}

/*
 * Memory decode is turned on to read the register (bus mastering stays as
 * the caller left it): a transfer started before decode went off still
 * runs.
 */
static int edu_quiesce(const struct pci_dev *d, uint64_t deadline_ns,
		       const struct pci_yield *y)
{
	uint64_t bar0;
	uint16_t cmd;
	uint32_t dma;
	int ret;

	ret = pci_bar_mem(d, 0, &bar0);
	if (ret) {
		return ret;
	}
	ret = hw_mmio_map(bar0, EDU_BAR_SIZE);
	if (ret) {
		return ret;
	}
	/* Gone, it reads all-ones: no write here, -ENODEV from the loop. */
	cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
	if (!(cmd & PCI_COMMAND_MEMORY)) {
		hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
			       (uint16_t)(cmd | PCI_COMMAND_MEMORY));
	}
	while ((dma = hw_mmio_read32(bar0 + EDU_DMA_CMD)) & EDU_DMA_CMD_START) {
		if (dma == 0xffffffffU) {
			return -ENODEV;
		}
		if (hw_time_after(deadline_ns)) {
			dma = hw_mmio_read32(bar0 + EDU_DMA_CMD);
			return dma & EDU_DMA_CMD_START ? -ETIMEDOUT : 0;
		}
		pci_pause(y);
	}
	return 0;
}

const struct pci_quiesce_hook edu_quiesce_hook = {
	.vendor = EDU_VENDOR_ID,
	.device = EDU_DEVICE_ID,
	.quiesce = edu_quiesce,
};
