#pragma once

#include <stdint.h>

#include "drivers/pci/pci.h"

/*
 * Stand-in until drivers/pci/reset.c of the pcireset branch is merged
 * (same interface, FLR only): making sure a function's DMA is over before
 * it changes owner.  The caller blocked its group in the IOMMU first.
 */
enum pci_quiesce_method {
	PCI_QUIESCE_NONE,
	PCI_QUIESCE_FLR,
};

const char *pci_quiesce_method_name(enum pci_quiesce_method method);

/*
 * 0 when d's DMA is over (*used says how); -ENODEV when d is not present,
 * -ENOTSUP when no method applies, -ETIMEDOUT when it does not come back.
 */
int pci_dev_quiesce(struct pci_host *host, struct pci_dev *d,
		    uint64_t timeout_ns, enum pci_quiesce_method *used);
