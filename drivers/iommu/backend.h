#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/rid.h"

/*
 * The seam between the isolation layer (drivers/iommu/iommu.c) and one
 * IOMMU implementation.  Exactly one back end is linked into an image
 * (drivers/iommu/iommu.mk): the VT-d driver (vtd/backend.c), or absent.c
 * for machines without an IOMMU, which refuses everything.  Above this
 * header nothing is vendor-specific: requester ids are PCI's (bus << 8 |
 * devfn), errors are negative errnos, and what a console shows of a unit
 * arrives as finished text lines.
 *
 * Every call returns within the back end's deadlines (docs/design.md,
 * invariant 3) and leaves a failed operation retryable: a detach that
 * returns an error left the requester ids blocked and can be called again.
 */
struct iommu_be_config;
struct iommu_be_unit;
struct iommu_be_domain;

/* Whether the device at sid answers (config space and links up). */
typedef bool (*iommu_present_fn)(void *ctx, uint16_t segment, rid_t sid);

/* A finished console line, without its newline. */
typedef void (*iommu_line_fn)(void *ctx, const char *line);

/*
 * Options: the defaults, then key=value pairs from the command line.
 * iommu_be_option_keys lists the keys the back end reads (NULL ended).
 * -ENOENT for a key not in it, another error for a bad value.
 */
extern const char *const iommu_be_option_keys[];
struct iommu_be_config *iommu_be_config_new(void);
void iommu_be_config_free(struct iommu_be_config *cfg);
int iommu_be_config_set(struct iommu_be_config *cfg, const char *key,
			const char *value);

/* What the platform tells every unit. */
struct iommu_be_platform {
	bool inherit;	     /* a previous life's translation may be running */
	bool x2apic;	     /* the CPUs use x2APIC ids */
	bool x2apic_opt_out; /* firmware asks for xAPIC interrupt format */
	/* Fault events interrupt this vector at this APIC (0: polled only). */
	uint8_t fault_vector;
	uint32_t fault_apic;
};

/*
 * One remapping unit: validated and its tables built (init), then
 * translating with default deny (enable).  fini turns it off and frees it,
 * keeping memory the hardware may still reach.
 */
int iommu_be_unit_init(const struct iommu_be_config *cfg,
		       const struct iommu_be_platform *plat, unsigned int index,
		       uint16_t segment, uint64_t base,
		       iommu_present_fn present, void *present_ctx,
		       struct iommu_be_unit **out);
int iommu_be_unit_enable(struct iommu_be_unit *u);
void iommu_be_unit_fini(struct iommu_be_unit *u);
/*
 * Before a restart without firmware (kexec): u goes on translating as it
 * is, but sends no interrupt of its own (the fault event) to a vector the
 * next kernel has not set up yet.
 */
void iommu_be_unit_handover(struct iommu_be_unit *u);
uint16_t iommu_be_unit_segment(const struct iommu_be_unit *u);
/*
 * Whether the unit's internal invalidations are late: anything that needs
 * one would only wait for its deadline and fail until iommu_be_poll()
 * sees the queue recover.
 */
bool iommu_be_unit_degraded(const struct iommu_be_unit *u);
/*
 * Whether devices behind the unit may use ATS: NULL, or why not (for the
 * log when a device asks for it).
 */
const char *iommu_be_unit_no_ats(const struct iommu_be_unit *u);

/*
 * Page-table formats of a domain.  An IOMMU may walk two: first-level
 * tables (stage 1, in the CPU's page-table format) and second-level ones
 * (stage 2, its own).  Automatic: the back end's choice.
 */
enum iommu_format {
	IOMMU_FORMAT_AUTO,
	IOMMU_FORMAT_FIRST_LEVEL,
	IOMMU_FORMAT_SECOND_LEVEL,
	IOMMU_FORMAT_NESTED, /* iommu_be_domain_nested() only */
};

/* NULL if u can walk tables of format, or what it lacks for them. */
const char *iommu_be_unit_no_format(const struct iommu_be_unit *u,
				    enum iommu_format format);

/*
 * An I/O address space with tables of format.  Automatic: usable on every
 * unit given (capabilities intersected), -ENOTSUP if no format is.  A
 * format asked for: usable on the units given that can walk it (-ENOTSUP
 * if none can), and attaching through another is refused.  destroy:
 * -EBUSY while requester ids are attached.
 */
int iommu_be_domain_create(struct iommu_be_unit *const *units,
			   unsigned int count, enum iommu_format format,
			   struct iommu_be_domain **out);
/* The format of d's tables, never automatic. */
enum iommu_format iommu_be_domain_format(const struct iommu_be_domain *d);
/* NULL if requester ids behind u can be attached to d, or why not. */
const char *iommu_be_domain_no_unit(const struct iommu_be_domain *d,
				    const struct iommu_be_unit *u);
int iommu_be_domain_destroy(struct iommu_be_domain *d);

#define IOMMU_PROT_READ	 1U
#define IOMMU_PROT_WRITE 2U
#define IOMMU_PAGE_4K	 (UINT64_C(1) << 12)
#define IOMMU_PAGE_2M	 (UINT64_C(1) << 21)
#define IOMMU_PAGE_1G	 (UINT64_C(1) << 30)

/* One IOVA range of an unmap, 4 KiB aligned. */
struct iommu_range {
	iova_t iova;
	uint64_t len;
};

/* Ranges one unmap takes at most. */
#define IOMMU_RANGES_MAX 16U

/*
 * map: -EEXIST when part of the range is mapped.  unmap takes count
 * ranges out in one batch of invalidations and returns once no device
 * can reach any of them; on an error they may still be reachable until a
 * flush succeeds.  flush: everything unmapped before is unreachable.
 */
int iommu_be_map(struct iommu_be_domain *d, iova_t iova, hpa_t hpa,
		 uint64_t len, unsigned int prot);
int iommu_be_unmap(struct iommu_be_domain *d, const struct iommu_range *r,
		   unsigned int count);
int iommu_be_flush(struct iommu_be_domain *d);

struct iommu_mapping {
	iova_t iova;
	hpa_t hpa;
	uint64_t len;
	uint64_t page_size; /* IOMMU_PAGE_* */
	unsigned int prot;
};

typedef void (*iommu_mapping_fn)(void *ctx, const struct iommu_mapping *m);
void iommu_be_for_each_mapping(struct iommu_be_domain *d, iommu_mapping_fn fn,
			       void *ctx);

/*
 * Requester ids into d through u.  An id must not be attached elsewhere
 * (-EBUSY); one inherited from a previous life is taken over.  -EIO for a
 * quarantined device.  attach_ats: one id whose device may use ATS with
 * queue depth qdepth (enable ATS in the device only afterwards).
 * detach: blocked again; ids still on inherited entries are dropped.
 */
int iommu_be_attach(struct iommu_be_domain *d, struct iommu_be_unit *u,
		    const rid_t *sids, unsigned int count);
int iommu_be_attach_ats(struct iommu_be_domain *d, struct iommu_be_unit *u,
			rid_t sid, unsigned int qdepth);
int iommu_be_detach(struct iommu_be_domain *d, struct iommu_be_unit *u,
		    const rid_t *sids, unsigned int count);
/*
 * PASIDs (PCIe process address space ids) of one requester id: requests
 * sid tags with pasid translate through d.  Requests without a PASID stay
 * with iommu_be_attach().  -ENOTSUP where u has no PASIDs, -ERANGE for a
 * PASID beyond what it holds (or the one untagged requests use), -EBUSY
 * when pasid is attached already.  switch: from one domain to another,
 * blocked in between, never a mix of the two (not for nested domains:
 * -EINVAL).  A failed detach or switch leaves the PASID blocked, still in
 * from, and may be retried.
 */
int iommu_be_pasid_attach(struct iommu_be_domain *d, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid);
int iommu_be_pasid_switch(struct iommu_be_domain *from,
			  struct iommu_be_domain *to, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid);
int iommu_be_pasid_detach(struct iommu_be_domain *d, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid);
/*
 * A nested domain: PASIDs attached to it walk first-level tables of
 * levels (4 or 5) at table, which belong to their user (a guest) and lie
 * in parent's IOVA space; every address that walk reads or produces is
 * translated by parent (second-level tables).  It maps nothing itself
 * (map, unmap: -ENOTSUP) and takes PASIDs only; after the user changed
 * its tables, iommu_be_flush(parent).  -ENOTSUP for a parent without
 * second-level tables.
 */
int iommu_be_domain_nested(struct iommu_be_domain *parent, iova_t table,
			   unsigned int levels, struct iommu_be_domain **out);

/* Everything the device at sid cached, after its ATS was turned off. */
int iommu_be_devtlb_flush(struct iommu_be_unit *u, rid_t sid,
			  unsigned int qdepth);
/* Whether sid still translates through a previous life's tables. */
bool iommu_be_inherited(const struct iommu_be_unit *u, rid_t sid);

/*
 * Device state at the unit: gone (never wait on it again), reset (its
 * failures are forgotten, also for a new device at an old address).  A
 * device whose invalidations failed is quarantined by the back end.
 */
void iommu_be_device_gone(struct iommu_be_unit *u, rid_t sid);
void iommu_be_device_reset(struct iommu_be_unit *u, rid_t sid);
bool iommu_be_device_quarantined(const struct iommu_be_unit *u, rid_t sid);

/* Moves late work on without waiting; fn sees each quarantined sid. */
typedef void (*iommu_sid_fn)(void *ctx, rid_t sid);
void iommu_be_poll(struct iommu_be_unit *u, iommu_sid_fn quarantined,
		   void *ctx);

/*
 * One fault record, decoded: a DMA request's (addr, write), or with irq an
 * interrupt request's that remapping blocked (index).
 */
struct iommu_fault {
	unsigned int unit;
	rid_t sid;
	bool irq;
	uint16_t index;
	iova_t addr;
	uint8_t reason;
	bool write;
	const char *text;
};

typedef void (*iommu_fault_fn)(void *ctx, const struct iommu_fault *f);
/* Reads and clears every pending fault record; returns how many. */
int iommu_be_fault_poll(struct iommu_be_unit *u, iommu_fault_fn fn, void *ctx);

/*
 * Interrupt remapping: an entry delivers vector to APIC dest only for
 * requests from sids.  alloc: -ENOTSUP without remapping.  The MSI
 * address and data name the entry.
 */
int iommu_be_irq_alloc(struct iommu_be_unit *u, unsigned int *index);
int iommu_be_irq_set(struct iommu_be_unit *u, unsigned int index, uint32_t dest,
		     uint8_t vector, const rid_t *sids, unsigned int count);
void iommu_be_irq_free(struct iommu_be_unit *u, unsigned int index);
void iommu_be_irq_msi(unsigned int index, uint64_t *address, uint32_t *data);

/*
 * Console reports, one finished line at a time: the unit (iommu), its
 * invalidation queue (qi), its counters (stats).  selftest provokes and
 * recovers a queue error: 0 when recovered.
 */
void iommu_be_report_unit(struct iommu_be_unit *u, iommu_line_fn fn, void *ctx);
void iommu_be_report_qi(struct iommu_be_unit *u, iommu_line_fn fn, void *ctx);
void iommu_be_report_stats(struct iommu_be_unit *u,
			   const struct iommu_be_config *cfg, iommu_line_fn fn,
			   void *ctx);
int iommu_be_selftest(struct iommu_be_unit *u);
