#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/iommu/iommu.h"
#include "drivers/pci/pci.h"
#include "lib/addr.h"

/*
 * Guests: an isolated guest-physical address space backed by host pages,
 * and the devices assigned to it.  A hypervisor built on moat runs its vCPUs
 * in that space; here it is what the guest's devices reach: the guest's DMA
 * domain maps every GPA of its memory to the backing HPA and nothing else.
 */
#define GUEST_NAME_MAX	  16
#define GUEST_REGIONS_MAX 8
#define GUEST_DEVS_MAX	  8
#define GUESTS_MAX	  8
/* Guest n's device m interrupts at vector GUEST_VECTOR_BASE + 8 n + m. */
#define GUEST_VECTOR_BASE 0x40

/* A guest's physical addresses are its domain's IOVAs (lib/addr.h). */
struct guest_region {
	iova_t gpa;
	hpa_t hpa; /* 0: not backed */
	uint64_t len;
};

/*
 * An assigned device: the isolation layer's hold on it (a reference to the
 * device object, never its address), and its MSI through a remapping
 * entry to vector on the boot CPU.
 */
struct guest_dev {
	struct iommu_hold *hold; /* NULL: slot unused */
	bool remapped;		 /* irq is allocated and programmed */
	bool unchecked;		 /* its unit remaps no interrupts */
	struct iommu_irq irq;
	uint8_t vector;
};

struct guest {
	char name[GUEST_NAME_MAX];
	unsigned int slot; /* in struct guests; picks its vectors */
	struct guest_region regions[GUEST_REGIONS_MAX];
	unsigned int region_count;
	struct iommu_owner *owner; /* its domain, groups and fault count */
	unsigned int domain; /* the guest's IOMMU domain (console number) */
	struct guest_dev devs[GUEST_DEVS_MAX];
};

/* Faults a guest's devices may cause before one is quarantined. */
#define GUEST_FAULT_LIMIT_DEFAULT 64

struct guests {
	struct guest *g[GUESTS_MAX];
};

/*
 * layout is "SIZE" (one region at GPA 0) or "SIZE@GPA[,SIZE@GPA...]"
 * (regions with holes between them).  Sizes and GPAs are 2 MiB multiples
 * so the domain can use large pages.
 */
int guest_create(struct guests *gs, const char *name, const char *layout);
int guest_destroy(struct guests *gs, const char *name);
struct guest *guest_find(struct guests *gs, const char *name);

/*
 * The host address behind gpa and how many bytes stay contiguous, or 0.
 * Inline so that the hypercall tests check the translation the kernel uses.
 */
static inline hpa_t guest_gpa_to_hpa(const struct guest *g, iova_t gpa,
				     uint64_t *run)
{
	unsigned int i;

	for (i = 0; i < g->region_count; i++) {
		const struct guest_region *r = &g->regions[i];

		if (!iova_lt(gpa, r->gpa) && iova_diff(gpa, r->gpa) < r->len) {
			*run = r->len - iova_diff(gpa, r->gpa);
			return hpa_add(r->hpa, iova_diff(gpa, r->gpa));
		}
	}
	return hpa_make(0);
}

/*
 * Assign hands d over to the guest through the isolation layer
 * (iommu_assign(): its group claimed, proven quiet or forced, attached),
 * then sets up its remapped interrupt.  *why names what is missing when
 * the group cannot be proven quiet (-EAGAIN).  Unassign takes the
 * interrupt away and frees the slot, then gives the device back
 * (iommu_unassign(), whose settle waits let guests run); a device that
 * is gone is just dropped.
 */
/* A device of g whose interrupts its unit does not remap, or NULL. */
struct pci_dev *guest_unchecked_dev(const struct guest *g);

int guest_assign(struct guest *g, struct pci_dev *d, bool force,
		 const char **why);
void guest_unassign(struct guest *g, unsigned int slot);
/* The slot holding d, or -ENOENT. */
int guest_dev_slot(const struct guest *g, const struct pci_dev *d);

/*
 * Raises d's interrupt, or with as set, raises d's interrupt through the
 * remapping entry of as (a device posing as another).  Interrupts are
 * opened for window_ns; returns whether the vector of the entry used
 * arrived (*vector says which), -ENODEV when there is no remapped entry.
 */
int guest_irq(struct guest *g, unsigned int slot, const struct guest *as_g,
	      int as_slot, uint8_t *vector, bool *delivered);
