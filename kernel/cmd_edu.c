#include <stdbool.h>
#include <stdint.h>

#include "drivers/edu/edu.h"
#include "drivers/pci/pci.h"
#include "kernel/console.h"
#include "kernel/iommu.h"
#include "kernel/kernel.h"
#include "lib/errno.h"
#include "lib/string.h"

/*
 * edu's DMA takes ~100 ms of QEMU virtual time; a second is ample even on a
 * loaded host, and short enough to keep a hung device from stalling tests.
 */
#define EDU_DMA_TIMEOUT_NS UINT64_C(2000000000)

static int cmd_edu(int argc, char **argv)
{
	unsigned int seg, bus, devfn;
	unsigned long long iova, len;
	struct pci_dev *d;
	uint16_t sids[IOMMU_SIDS_MAX];
	unsigned int n;
	struct edu e;
	bool to_dev;
	int ret;

	if (argc != 6 || strcmp(argv[1], "dma") != 0) {
		return con_error("usage: edu dma BDF to-dev|from-dev IOVA LEN");
	}
	if (con_parse_bdf(argv[2], &seg, &bus, &devfn) ||
	    con_parse_u64("iova", argv[4], &iova) ||
	    con_parse_u64("length", argv[5], &len)) {
		return -EINVAL;
	}
	if (strcmp(argv[3], "to-dev") == 0) {
		to_dev = true;
	} else if (strcmp(argv[3], "from-dev") == 0) {
		to_dev = false;
	} else {
		return con_error("direction must be to-dev or from-dev: %.16s",
				 argv[3]);
	}
	if (len == 0 || len > EDU_DMA_MAX) {
		return con_error("length must be 1 to %u", EDU_DMA_MAX);
	}
	d = pci_get_dev(&kernel_get()->pci, (uint16_t)seg, (uint8_t)bus,
			(uint8_t)devfn);
	if (!d || !edu_match(d)) {
		ret = con_error("no edu device at %s", argv[2]);
		goto out_put;
	}
	ret = edu_init(&e, d);
	if (ret) {
		ret = con_error("edu at %s unusable: %s", argv[2],
				errno_name(ret));
		goto out_put;
	}
	ret = edu_dma(&e, to_dev, iova, (uint32_t)len, EDU_DMA_TIMEOUT_NS);
	if (ret) {
		ret = con_error("dma %s", errno_name(ret));
		goto out_put;
	}
	/* edu completes even when the IOMMU blocked it: ask the IOMMU. */
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	if (iommu_print_faults(&kernel_get()->iommu, sids, n)) {
		ret = con_error("dma fault");
	}

out_put:
	if (d) {
		pci_dev_put(d);
	}
	return ret;
}
CONSOLE_CMD(edu, "edu", "edu dma BDF to-dev|from-dev IOVA LEN",
	    "copy through the edu device's DMA engine", cmd_edu);
