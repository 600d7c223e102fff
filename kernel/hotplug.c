#include "kernel/hotplug.h"

#include <stdbool.h>

#include "drivers/pci/hotplug.h"
#include "kernel/iommu.h"
#include "kernel/log.h"
#include "lib/errno.h"

/*
 * Removal blocks the device's DMA first (design.md invariant 6): on an
 * orderly removal the device is detached while it still answers, before
 * its slot loses power; after a surprise, as soon as it is found gone.
 * Detaching puts its requester ids back to not-present, the default deny.
 */
static void detach(struct kernel *k, struct pci_dev *d)
{
	int ret = iommu_detach(&k->iommu, d);

	if (ret == 0) {
		log_info("hotplug", PCI_BDF_FMT ": DMA blocked",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
	} else if (ret != -ENOENT) {
		log_err("hotplug", PCI_BDF_FMT ": detach failed: %s",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			errno_name(ret));
	}
}

static void removing(void *ctx, struct pci_dev *d)
{
	detach(ctx, d);
}

static void removed(void *ctx, struct pci_dev *d, bool surprise)
{
	if (surprise) {
		detach(ctx, d);
	}
}

/* A new device has no DMA until attached; say if it never can have any. */
static void added(void *ctx, struct pci_dev *d)
{
	struct kernel *k = ctx;
	const char *why;

	if (k->dmar_present && k->dmar.usable &&
	    !iommu_unit_for(&k->iommu, &k->dmar, d, &why)) {
		log_warn("hotplug", PCI_BDF_FMT ": no DMA through moat: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
	}
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
