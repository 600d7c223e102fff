#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"

/*
 * Guests: an isolated guest-physical address space backed by host pages,
 * and the devices assigned to it.  A hypervisor built on moat runs its vCPUs
 * in that space; here it is what the guest's devices reach: the guest's DMA
 * domain maps every GPA of its memory to the backing HPA and nothing else.
 */
#define GUEST_NAME_MAX 16
#define GUEST_REGIONS_MAX 8
#define GUEST_DEVS_MAX 8
#define GUESTS_MAX 8
/* Guest n's device m interrupts at vector GUEST_VECTOR_BASE + 8 n + m. */
#define GUEST_VECTOR_BASE 0x40

struct guest_region {
	uint64_t gpa;
	uint64_t hpa;
	uint64_t len;
};

/*
 * An assigned device's interrupt: its MSI goes through remapping table
 * entry irte of its unit to vector on the boot CPU.
 */
struct guest_irq {
	bool remapped; /* irte is allocated and programmed */
	unsigned int irte;
	uint8_t vector;
};

struct guest {
	char name[GUEST_NAME_MAX];
	unsigned int slot; /* in struct guests; picks its vectors */
	struct guest_region regions[GUEST_REGIONS_MAX];
	unsigned int region_count;
	unsigned int domain; /* the guest's IOMMU domain (console number) */
	struct pci_dev *devs[GUEST_DEVS_MAX]; /* each holds a reference */
	struct guest_irq irqs[GUEST_DEVS_MAX];
	uint64_t faults; /* DMA faults caused by the guest's devices */
	uint64_t irq_faults; /* their interrupts blocked by remapping */
};

/* Faults a guest's devices may cause before one is quarantined. */
#define GUEST_FAULT_LIMIT_DEFAULT 64

struct guests {
	struct guest *g[GUESTS_MAX];
	unsigned int fault_limit; /* guest.fault_limit= on the command line */
};

/*
 * layout is "SIZE" (one region at GPA 0) or "SIZE@GPA[,SIZE@GPA...]"
 * (regions with holes between them).  Sizes and GPAs are 2 MiB multiples
 * so the domain can use large pages.
 */
int guest_create(struct guests *gs, const char *name, const char *layout);
int guest_destroy(struct guests *gs, const char *name);
struct guest *guest_find(struct guests *gs, const char *name);

/* The host address behind gpa and how many bytes stay contiguous, or 0. */
uint64_t guest_gpa_to_hpa(const struct guest *g, uint64_t gpa, uint64_t *run);

/*
 * Assign claims d's whole isolation group for the guest (blocked first),
 * attaches d to the guest's domain and sets its command register.
 * Unassign blocks the group, stops and resets d, and only then gives the
 * group back; a device that is gone is just dropped.
 */
int guest_assign(struct guest *g, struct pci_dev *d);
int guest_unassign(struct guest *g, struct pci_dev *d);

/*
 * Raises d's interrupt, or with as set, raises d's interrupt through the
 * remapping entry of as (a device posing as another).  Interrupts are
 * opened for window_ns; returns whether the vector of the entry used
 * arrived (*vector says which), -ENODEV when there is no remapped entry.
 */
int guest_irq(struct guest *g, struct pci_dev *d, const struct guest *as_g,
	      struct pci_dev *as, uint8_t *vector, bool *delivered);
