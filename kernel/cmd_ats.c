#include <stdbool.h>
#include <stdint.h>

#include "kernel/console.h"
#include "kernel/kernel.h"

/*
 * Console command `ats`: the functions with ATS on, one line each,
 * "ats BDF queue-depth N domain D" (docs/console.md).
 */

static void print_ats(void *ctx, const struct pci_dev *d, unsigned int qdepth,
		      unsigned int domain)
{
	(void)ctx;
	con_printf("ats " PCI_BDF_FMT " queue-depth %u domain %u\n",
		   PCI_BDF_ARGS(d->seg, d->bus, d->devfn), qdepth, domain);
}

static int cmd_ats(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		return con_error("usage: ats");
	}
	iommu_for_each_ats(&kernel_get()->iommu, print_ats, NULL);
	return 0;
}
CONSOLE_CMD(ats, "ats", "ats", "functions with ATS on (vtd.ats=)", cmd_ats);
