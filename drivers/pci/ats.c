/*
 * The ATS Extended Capability (PCIe Base spec 6.0, 10.5.1).  Enable and
 * disable are plain read-modify-writes of the control register: the IOMMU
 * layer orders them against its own tables and invalidations (enable
 * after the context entry accepts translation requests, disable before
 * the last device-TLB invalidation at an orderly removal,
 * docs/scenarios.md, orderly-ats-shutdown).
 */
#include "drivers/pci/ats.h"

#include <stdint.h>

#include "drivers/hw.h"
#include "lib/bits.h"
#include "lib/errno.h"

/* The capability's offset, or a negative errno. */
static int ats_cap(const struct pci_dev *d)
{
	int pos;

	if (pci_dev_is_gone(d)) {
		return -ENODEV;
	}
	pos = pci_find_ext_cap(d, PCI_EXT_CAP_ID_ATS);
	return pos > 0 ? pos : -ENOTSUP;
}

int pci_ats_queue_depth(const struct pci_dev *d)
{
	int pos = ats_cap(d);
	unsigned int qdep;

	if (pos < 0) {
		return pos;
	}
	qdep = field_get32(PCI_ATS_CAP_QDEP,
			   hw_pci_read16(d->seg, d->bus, d->devfn,
					 (uint16_t)(pos + PCI_ATS_CAP)));
	return qdep ? (int)qdep : (int)PCI_ATS_QDEP_MAX;
}

int pci_ats_enable(struct pci_dev *d, unsigned int stu)
{
	int pos = ats_cap(d);

	if (pos < 0) {
		return pos;
	}
	hw_pci_write16(d->seg, d->bus, d->devfn, (uint16_t)(pos + PCI_ATS_CTRL),
		       (uint16_t)(PCI_ATS_CTRL_ENABLE |
				  field_prep32(PCI_ATS_CTRL_STU, stu)));
	return 0;
}

void pci_ats_disable(struct pci_dev *d)
{
	int pos = ats_cap(d);

	if (pos < 0 || !pci_dev_present(d)) {
		return;
	}
	hw_pci_write16(d->seg, d->bus, d->devfn, (uint16_t)(pos + PCI_ATS_CTRL),
		       0);
}
