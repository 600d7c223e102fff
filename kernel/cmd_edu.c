#include <stdbool.h>
#include <stdint.h>

#include "drivers/edu/edu.h"
#include "drivers/iommu/iommu.h"
#include "drivers/pci/pci.h"
#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "kernel/sched.h"
#include "lib/errno.h"
#include "lib/string.h"

/*
 * edu's DMA takes ~100 ms of QEMU virtual time; a second is ample even on a
 * loaded host, and short enough to keep a hung device from stalling tests.
 */
#define EDU_DMA_TIMEOUT_NS UINT64_C(2000000000)

static void yield(void *ctx)
{
	sched_yield(kernel_get());
}

int cmd_edu_dma(struct pci_dev *d, const char *dir, iova_t iova,
		const char *len_arg, bool wait)
{
	rid_t sids[IOMMU_SIDS_MAX];
	struct cmd_fault_watch watch;
	unsigned long long len;
	unsigned int n;
	struct edu e;
	bool to_dev;
	int ret;

	if (con_parse_u64("length", len_arg, &len)) {
		return -EINVAL;
	}
	if (strcmp(dir, "to-dev") == 0) {
		to_dev = true;
	} else if (strcmp(dir, "from-dev") == 0) {
		to_dev = false;
	} else {
		return con_error("direction must be to-dev or from-dev: %.16s",
				 dir);
	}
	if (len == 0 || len > EDU_DMA_MAX) {
		return con_error("length must be 1 to %u", EDU_DMA_MAX);
	}
	if (!edu_match(d)) {
		return con_error("not an edu device");
	}
	ret = edu_init(&e, d);
	if (ret) {
		return con_error("edu unusable: %s", errno_name(ret));
	}
	if (!wait) {
		ret = edu_dma_start(&e, to_dev, iova, (uint32_t)len);
		if (ret == 0) {
			con_printf("dma started\n");
		}
		return ret;
	}
	/*
	 * The transfer takes ~100 ms: guests and housekeeping go on meanwhile
	 * (sched_yield()), and faults housekeeping reads count for it.
	 */
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	watch = (struct cmd_fault_watch){sids, n, 0};
	kernel_get()->fault_watch = &watch;
	ret = edu_dma(&e, to_dev, iova, (uint32_t)len, EDU_DMA_TIMEOUT_NS,
		      yield, NULL);
	kernel_get()->fault_watch = NULL;
	if (ret) {
		return con_error("dma %s", errno_name(ret));
	}
	/* edu completes even when the IOMMU blocked it: ask the IOMMU. */
	if (cmd_print_faults(sids, n) + watch.matched) {
		con_error("dma fault");
		return -EFAULT;
	}
	return 0;
}

static int cmd_edu(int argc, char **argv)
{
	unsigned long long iova;
	const char *owner;
	struct pci_dev *d;
	int ret;

	bool wait = argc == 6;

	if ((argc != 6 && (argc != 7 || strcmp(argv[6], "nowait") != 0)) ||
	    strcmp(argv[1], "dma") != 0) {
		return con_error(
			"usage: edu dma BDF to-dev|from-dev IOVA LEN [nowait]");
	}
	if (con_parse_u64("iova", argv[4], &iova)) {
		return -EINVAL;
	}
	d = cmd_get_dev(argv[2]);
	if (!d) {
		return -EINVAL;
	}
	/* Only the kernel's own devices: a guest's DMA is the guest's. */
	ret = iommu_kernel_may_drive(&kernel_get()->iommu, d);
	if (ret == -ENODEV) {
		ret = con_error("%s is gone", argv[2]);
	} else if (ret) {
		iommu_owner_of(&kernel_get()->iommu, d, &owner);
		ret = con_error("%s is not the kernel's (owner %s)", argv[2],
				owner);
	} else {
		ret = cmd_edu_dma(d, argv[3], iova_make(iova), argv[5], wait);
	}
	pci_dev_put(d);
	return ret;
}
CONSOLE_CMD(edu, "edu", "edu dma BDF to-dev|from-dev IOVA LEN [nowait]",
	    "copy through the edu device's DMA engine", cmd_edu);
