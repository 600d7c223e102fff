#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/acpi/dmar.h"
#include "drivers/iommu/vtd/vtd.h"
#include "drivers/pci/pci.h"

/*
 * The kernel's use of the VT-d driver: one vtd_unit per usable DRHD, the
 * console's numbered domains, and which device is attached where.  Devices
 * are attached with all their requester ids (pci_dma_aliases); requester
 * ids shared by several devices (behind a PCIe-to-PCI bridge) can only be
 * in one domain at a time.
 */
#define IOMMU_DOMAINS_MAX 64
#define IOMMU_ATTACH_MAX 64
#define IOMMU_SIDS_MAX 8

struct iommu_attachment {
	const struct pci_dev *dev; /* NULL: slot unused */
	unsigned int unit;
	unsigned int domain; /* console number; 0: the unit's RMRR domain */
	uint16_t sids[IOMMU_SIDS_MAX];
	unsigned int sid_count;
};

struct iommu {
	struct vtd_config cfg;
	struct vtd_unit *units[DMAR_MAX_UNITS]; /* NULL: unit not driven */
	unsigned int unit_count;
	/* domains[0] is unused: console domain numbers start at 1. */
	struct vtd_domain *domains[IOMMU_DOMAINS_MAX];
	/* Per unit, the identity domain of the devices RMRRs name. */
	struct vtd_domain *rmrr[DMAR_MAX_UNITS];
	struct iommu_attachment att[IOMMU_ATTACH_MAX];
};

/*
 * The driver's configuration: defaults, then vtd.deadline.reg=,
 * vtd.deadline.iotlb= and vtd.deadline.devtlb= (microseconds) from the
 * command line.  A bad value is reported and the default kept.
 */
void iommu_configure(struct iommu *im, const char *cmdline);

/*
 * Brings up every usable unit of dmar: RMRR identity maps first, then
 * translation with default deny.  A unit that fails is rejected in dmar
 * with the reason, and devices behind it never get DMA through moat.
 */
void iommu_init(struct iommu *im, struct dmar *dmar,
		const struct pci_host *pci);

/* Housekeeping between console commands: late invalidation errors. */
void iommu_poll(struct iommu *im);

/* The live unit translating d's DMA, or NULL (and why, in *why). */
struct vtd_unit *iommu_unit_for(struct iommu *im, const struct dmar *dmar,
				const struct pci_dev *d, const char **why);

int iommu_domain_new(struct iommu *im, unsigned int *id);
struct vtd_domain *iommu_domain(struct iommu *im, unsigned int id);
int iommu_domain_del(struct iommu *im, unsigned int id);

int iommu_attach(struct iommu *im, const struct dmar *dmar,
		 const struct pci_dev *d, unsigned int domain);
int iommu_detach(struct iommu *im, const struct pci_dev *d);

/*
 * Console output (cmd_iommu.c): prints and clears every unit's fault
 * records as "fault unit N sid BB:DD.F addr 0xA reason 0xRR read|write
 * TEXT" and returns how many came from one of sids.
 */
unsigned int iommu_print_faults(struct iommu *im, const uint16_t *sids,
				unsigned int sid_count);
