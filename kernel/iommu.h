#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/acpi/dmar.h"
#include "drivers/iommu/vtd/vtd.h"
#include "drivers/pci/pci.h"

/*
 * The kernel's use of the VT-d driver: one vtd_unit per usable DRHD, the
 * console's numbered domains, the blocking domain, which device is attached
 * where, and who owns each isolation group.
 *
 * Ownership (design.md, invariant 7): every isolation group belongs to the
 * kernel (the console), to one named owner (a guest), or to quarantine.
 * A claim moves the whole group to the blocking domain before it changes
 * hands; a release moves it back to blocking.  Only the owner attaches the
 * group's devices to its domains.
 */
#define IOMMU_DOMAINS_MAX 64
#define IOMMU_ATTACH_MAX 64
#define IOMMU_SIDS_MAX 8
#define IOMMU_OWNERS_MAX 32
#define IOMMU_OWNER_NAME_MAX 16
#define IOMMU_ATS_ALLOW_MAX 8

struct iommu_attachment {
	struct pci_dev *dev; /* holds a reference; NULL: slot unused */
	struct vtd_domain *dom;
	unsigned int unit;
	unsigned int domain; /* console number, 0 for internal domains */
	uint16_t sids[IOMMU_SIDS_MAX];
	unsigned int sid_count;
	unsigned int ats_qdepth; /* ATS on in the device with this depth; 0: off */
};

/* A function named on the command line (vtd.ats=). */
struct iommu_bdf {
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
};

enum iommu_owner_kind {
	IOMMU_OWNER_KERNEL,
	IOMMU_OWNER_NAMED,
	IOMMU_OWNER_QUARANTINE,
};

/* A group not listed belongs to the kernel. */
struct iommu_owner {
	unsigned int group; /* pci_group id; 0: slot unused */
	enum iommu_owner_kind kind;
	char name[IOMMU_OWNER_NAME_MAX];
};

struct iommu {
	struct vtd_config cfg;
	struct dmar *dmar;
	const struct pci_host *pci;
	struct vtd_unit *units[DMAR_MAX_UNITS]; /* NULL: unit not driven */
	unsigned int unit_count;
	/* domains[0] is unused: console domain numbers start at 1. */
	struct vtd_domain *domains[IOMMU_DOMAINS_MAX];
	/* No mappings at all: where claimed and released groups wait. */
	struct vtd_domain *blocking;
	/* Per unit, the identity domain of the devices RMRRs name. */
	struct vtd_domain *rmrr[DMAR_MAX_UNITS];
	struct iommu_attachment att[IOMMU_ATTACH_MAX];
	struct iommu_owner owners[IOMMU_OWNERS_MAX];
	/* ATS is off except for these functions (vtd.ats=BDF[,BDF...]). */
	struct iommu_bdf ats_allow[IOMMU_ATS_ALLOW_MAX];
	unsigned int ats_allow_count;
};

/*
 * The driver's configuration: defaults, then vtd.mode=legacy|scalable|auto,
 * vtd.deadline.reg=,
 * vtd.deadline.iotlb= and vtd.deadline.devtlb= (microseconds) from the
 * command line.  A bad value is reported and the default kept.
 * vtd.ats=BDF[,BDF...]: the only functions that may use ATS, and only
 * where an ATSR or SATC covers them and their unit has ECAP.DT.
 */
void iommu_configure(struct iommu *im, const char *cmdline);

/*
 * Brings up every usable unit of dmar: RMRR identity maps first, then
 * translation with default deny.  A unit that fails is rejected in dmar
 * with the reason, and devices behind it never get DMA through moat.
 */
void iommu_init(struct iommu *im, struct dmar *dmar,
		const struct pci_host *pci);

/*
 * Housekeeping between console commands: late invalidation errors, and the
 * groups of devices the driver quarantined move to the quarantine owner.
 */
void iommu_poll(struct iommu *im);

/* The live unit translating d's DMA, or NULL (and why, in *why). */
struct vtd_unit *iommu_unit_for(struct iommu *im, const struct pci_dev *d,
				const char **why);

int iommu_domain_new(struct iommu *im, unsigned int *id);
struct vtd_domain *iommu_domain(struct iommu *im, unsigned int id);
int iommu_domain_del(struct iommu *im, unsigned int id);

/*
 * Attach d to console domain id on behalf of owner (NULL: the kernel),
 * which must own d's group.  An attached device is detached first.
 */
int iommu_attach(struct iommu *im, struct pci_dev *d, unsigned int domain,
		 const char *owner);
/* Blocks d again (kernel-owned groups only): requester ids not present. */
int iommu_detach(struct iommu *im, struct pci_dev *d);
/* Every member of d's group into the blocking domain; the owner stays. */
int iommu_block_group(struct iommu *im, struct pci_dev *d);

/*
 * Claim d's isolation group for owner: every member to the blocking domain,
 * then the owner changes.  -EBUSY when another owner has it, -EPERM when
 * quarantined, or when a member is covered by an RMRR and rmrr_override
 * is not given (the override is logged).
 */
int iommu_claim(struct iommu *im, struct pci_dev *d, const char *owner,
		bool rmrr_override);
/* Back to the kernel, every member in the blocking domain. */
int iommu_release(struct iommu *im, struct pci_dev *d);
/* d's group to the quarantine owner, blocked; why goes to the log. */
int iommu_quarantine(struct iommu *im, struct pci_dev *d, const char *why);
/*
 * After a quarantined group's devices were reset: the IOMMU forgets their
 * failures and the group goes back to the kernel, still blocked.
 */
int iommu_unquarantine(struct iommu *im, struct pci_dev *d);
/* The owner of d's group: kind, and the name for a named owner. */
enum iommu_owner_kind iommu_owner_of(struct iommu *im, const struct pci_dev *d,
				     const char **name);

/*
 * Device removal (design.md, invariant 6).  removing: orderly, the device
 * still answers: its DMA is blocked.  removed: it is gone; its requester
 * ids are cleared without touching the device and no device-TLB
 * invalidation is ever sent to it again; the attachment drops its
 * reference.  added: a new device in a group someone owns starts blocked.
 */
void iommu_device_removing(struct iommu *im, struct pci_dev *d);
/* Calls fn for each attachment with ATS on (for `ats`). */
typedef void (*iommu_att_fn)(void *ctx, const struct iommu_attachment *a);
void iommu_for_each_ats(struct iommu *im, iommu_att_fn fn, void *ctx);
void iommu_device_removed(struct iommu *im, struct pci_dev *d);
void iommu_device_added(struct iommu *im, struct pci_dev *d);

/*
 * Console output (cmd_iommu.c): prints and clears every unit's fault
 * records as "fault unit N sid BB:DD.F addr 0xA reason 0xRR read|write
 * TEXT[ owner NAME]" and returns how many came from one of sids.  Faults
 * of a guest's device count against the guest; past its fault limit the
 * device is quarantined.
 */
unsigned int iommu_print_faults(struct iommu *im, const uint16_t *sids,
				unsigned int sid_count);
