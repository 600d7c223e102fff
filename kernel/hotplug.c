#include "kernel/hotplug.h"

#include <stdbool.h>

#include "drivers/pci/hotplug.h"
#include "lib/log.h"

/*
 * Removal blocks the device's DMA first (docs/design.md, invariant 6): on an
 * orderly removal while it still answers, before its slot loses power;
 * after a surprise (surprise is then true), as soon as it is found gone.
 */
static void removing(void *ctx, struct pci_dev *d)
{
	struct kernel *k = ctx;

	if (iommu_device_removing(&k->iommu, d)) {
		log_info("hotplug", PCI_BDF_FMT ": DMA blocked",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
	}
}

static void removed(void *ctx, struct pci_dev *d, bool surprise)
{
	struct kernel *k = ctx;

	/* After a surprise, clearing its entries is also what blocks it. */
	iommu_device_removed(&k->iommu, d);
	log_info("hotplug", PCI_BDF_FMT ": %sIOMMU state released",
		 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
		 surprise ? "DMA blocked, " : "");
}

/* A new device has no DMA until attached; say if it never can have any. */
static void added(void *ctx, struct pci_dev *d)
{
	struct kernel *k = ctx;
	const char *why;

	if (!iommu_unit_for(&k->iommu, d, &why)) {
		log_warn("hotplug", PCI_BDF_FMT ": no DMA through moat: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		return;
	}
	iommu_device_added(&k->iommu, d);
}

static const struct pci_hotplug_ops hotplug_ops = {
	.removing = removing,
	.removed = removed,
	.added = added,
};

void hotplug_poll(struct kernel *k)
{
	pci_hotplug_poll(&k->pci, &hotplug_ops, k);
}
