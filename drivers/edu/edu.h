#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

struct pci_dev;
struct pci_quiesce_hook;

/*
 * QEMU's edu device (docs/specs/edu.txt in QEMU 7.2) as a DMA master for
 * self-tests: it copies up to 4 KiB between its internal buffer and memory
 * at an address that goes through the IOMMU like any device's DMA.
 */
#define EDU_VENDOR_ID 0x1234U
#define EDU_DEVICE_ID 0x11e8U
/*
 * QEMU 7.2's edu aborts the whole emulator on a transfer that ends exactly
 * at the end of its 4 KiB buffer (measured: 4096 bytes at 0x40000), so one
 * byte less is the most it is ever asked for.
 */
#define EDU_DMA_MAX 4095U

struct edu {
	const struct pci_dev *pdev;
	uint64_t bar0;
};

bool edu_match(const struct pci_dev *d);
/* Checks the device answers, maps BAR0, enables memory decode and bus
 * mastering. */
int edu_init(struct edu *e, const struct pci_dev *d);
/*
 * One transfer of len bytes (1..EDU_DMA_MAX) between memory at iova and the
 * device's buffer at offset 0: to_dev reads memory, otherwise the device
 * writes it.  Returns once the device reports completion, -ETIMEDOUT when it
 * does not within timeout_ns, -ENODEV when it stopped answering.  The edu
 * completes even when the IOMMU blocked the access: the caller looks at the
 * IOMMU's fault records to know.  While it waits it calls idle(ctx), if
 * given, between reads of the status register: the caller's safe point.
 */
int edu_dma(struct edu *e, bool to_dev, iova_t iova, uint32_t len,
	    uint64_t timeout_ns, void (*idle)(void *ctx), void *ctx);

/*
 * Starts a transfer and returns at once: for tests that remove the device
 * while its DMA is in flight.
 */
int edu_dma_start(struct edu *e, bool to_dev, iova_t iova, uint32_t len);

/* Makes the device raise its interrupt (an MSI once MSI is enabled). */
void edu_raise_irq(struct edu *e);

/*
 * The edu's quiesce hook (drivers/pci/reset.h): its one DMA engine is idle
 * once the start bit of its DMA command register reads clear.  QEMU 7.2
 * runs a started transfer 100 ms later and drops it when bus mastering is
 * off by then, so with bus mastering off this takes at most 100 ms.
 */
extern const struct pci_quiesce_hook edu_quiesce_hook;
