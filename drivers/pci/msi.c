#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "lib/errno.h"

/*
 * MSI (PCI Local Bus 3.0, 6.8.1): one message, address and data given by the
 * caller (for moat, always in the IOMMU's remappable format).
 */

int pci_msi_set(struct pci_dev *d, uint64_t addr, uint32_t data)
{
	int cap = pci_find_cap(d, PCI_CAP_ID_MSI);
	uint16_t ctl, off;

	if (!cap || !pci_dev_present(d)) {
		return -ENODEV;
	}
	ctl = hw_pci_read16(d->seg, d->bus, d->devfn,
			    (uint16_t)(cap + PCI_MSI_FLAGS));
	/* Disabled while it changes, so no half-written message is sent. */
	hw_pci_write16(d->seg, d->bus, d->devfn,
		       (uint16_t)(cap + PCI_MSI_FLAGS),
		       (uint16_t)(ctl & ~(PCI_MSI_FLAGS_ENABLE |
					  PCI_MSI_FLAGS_QSIZE)));
	hw_pci_write32(d->seg, d->bus, d->devfn,
		       (uint16_t)(cap + PCI_MSI_ADDRESS_LO), (uint32_t)addr);
	if (ctl & PCI_MSI_FLAGS_64BIT) {
		hw_pci_write32(d->seg, d->bus, d->devfn,
			       (uint16_t)(cap + PCI_MSI_ADDRESS_HI),
			       (uint32_t)(addr >> 32));
		off = PCI_MSI_DATA_64;
	} else if (addr >> 32) {
		return -EINVAL;
	} else {
		off = PCI_MSI_DATA_32;
	}
	hw_pci_write16(d->seg, d->bus, d->devfn, (uint16_t)(cap + off),
		       (uint16_t)data);
	hw_pci_write16(d->seg, d->bus, d->devfn,
		       (uint16_t)(cap + PCI_MSI_FLAGS),
		       (uint16_t)((ctl & ~PCI_MSI_FLAGS_QSIZE) |
				  PCI_MSI_FLAGS_ENABLE));
	return 0;
}

void pci_msi_disable(struct pci_dev *d)
{
	int cap = pci_find_cap(d, PCI_CAP_ID_MSI);
	uint16_t ctl;

	if (!cap || !pci_dev_present(d)) {
		return;
	}
	ctl = hw_pci_read16(d->seg, d->bus, d->devfn,
			    (uint16_t)(cap + PCI_MSI_FLAGS));
	hw_pci_write16(d->seg, d->bus, d->devfn,
		       (uint16_t)(cap + PCI_MSI_FLAGS),
		       (uint16_t)(ctl & ~PCI_MSI_FLAGS_ENABLE));
}
