#pragma once

#include <stdbool.h>

#include "drivers/pci/pci.h"

/*
 * PCIe Address Translation Services in a function's configuration space
 * (PCIe Base spec 6.0, 10.5.1: the ATS Extended Capability).  The IOMMU
 * layer decides whether a function may use ATS; this only reads and
 * writes the capability, and never touches a function that is gone.
 */

/* ATS Capability Register, at the capability + 0x04 (16 bits). */
#define PCI_ATS_CAP	 0x04U
#define PCI_ATS_CAP_QDEP GENMASK32(4, 0) /* Invalidate Queue Depth; 0: 32 */
/* ATS Control Register, at the capability + 0x06 (16 bits). */
#define PCI_ATS_CTRL	    0x06U
#define PCI_ATS_CTRL_STU    GENMASK32(4, 0) /* Smallest Translation Unit */
#define PCI_ATS_CTRL_ENABLE BIT32(15)

/* The depth the queue depth field 0 stands for. */
#define PCI_ATS_QDEP_MAX 32U

/*
 * How many invalidate requests d accepts at once (1 to 32), or -ENOTSUP
 * without an ATS capability, -ENODEV when d is gone.
 */
int pci_ats_queue_depth(const struct pci_dev *d);

/*
 * Turn ATS on with a smallest translation unit of 2^stu 4 KiB pages; only
 * once the IOMMU accepts translation requests from d.  -ENOTSUP, -ENODEV
 * as above.
 */
int pci_ats_enable(struct pci_dev *d, unsigned int stu);

/* Turn ATS off again; nothing for a function that is gone. */
void pci_ats_disable(struct pci_dev *d);
