#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/iommu/vtd/regs.h"

/*
 * The VT-d driver's public interface: one struct vtd_unit per DRHD, domains
 * (I/O address spaces with their own second-level page tables), attach and
 * detach of requester ids, polled fault records.  Every function that
 * touches hardware returns 0 or a negative errno; no wait on hardware
 * outlasts its deadline (design.md, invariant 3).
 *
 * Typical bring-up of one unit:
 *	vtd_unit_init(u, ...);			registers validated, tables built
 *	vtd_rmrr_map(d, u, base, len, sids, n);	identity maps, before TE
 *	vtd_unit_enable(u);			QI, root table, TE: default deny
 *
 * The structures below are visible so that callers can embed them; their
 * fields belong to the driver.  Nothing here is thread-safe: callers
 * serialise all calls per unit.
 */

/* Classes of hardware wait, each with its own deadline (invariant 3). */
enum vtd_deadline_class {
	VTD_DEADLINE_REG,	/* register handshakes: GCMD/GSTS, PMEN */
	VTD_DEADLINE_IOTLB,	/* IOMMU-internal invalidations */
	VTD_DEADLINE_DEVTLB,	/* device-TLB invalidations (ATS) */
	VTD_DEADLINE_COUNT,
};

struct vtd_config {
	uint64_t deadline_ns[VTD_DEADLINE_COUNT];
};

/* The defaults and their reasons are documented at vtd_config_default(). */
void vtd_config_default(struct vtd_config *cfg);

/* Translation table format chosen per unit; scalable mode comes later. */
enum vtd_mode {
	VTD_MODE_LEGACY,
};

struct vtd_stats {
	uint64_t descriptors;	/* invalidation descriptors, waits included */
	uint64_t batches;	/* batches, each ended by a wait descriptor */
	uint64_t doorbells;	/* IQT writes */
	uint64_t waits;		/* polled completion waits */
	uint64_t timeouts;	/* waits that missed their deadline */
	uint64_t mmio_reads;
	uint64_t mmio_writes;
	uint64_t faults;	/* fault records read */
};

/*
 * Invalidation queue: a ring of 128-bit descriptor slots.  Every batch ends
 * with a wait descriptor whose status write carries the batch's sequence
 * number into status[slot of that wait], a word in a driver-owned page
 * that is never freed while the unit lives.  Slots from oldest to tail are
 * in flight: none is reused before the hardware has written the status of
 * the wait that ends its batch (invariant 4).
 */
#define VTD_QI_SLOTS 256u	/* one 4 KiB page of 16-byte descriptors */
#define VTD_QI_BATCH_MAX 16u	/* descriptors per batch before the wait */

struct vtd_qi {
	struct vtd_qi_desc *ring;
	uint64_t ring_pa;
	volatile uint32_t *status;
	uint64_t status_pa;
	uint32_t slot_seq[VTD_QI_SLOTS]; /* expected status, 0 if no wait */
	unsigned int tail;	/* next slot to fill */
	unsigned int oldest;	/* first slot not yet passed by hardware */
	uint32_t seq;		/* last sequence number issued */
	uint32_t done_seq;	/* newest sequence number known complete */
};

/* Per-requester fault log rate limit (faults from one SID per window). */
#define VTD_FAULT_RATE_SLOTS 16u

struct vtd_fault_rate {
	uint64_t window_start_ns;
	uint32_t count;
	uint32_t suppressed;
	uint16_t sid;
	bool used;
};

struct vtd_unit {
	unsigned int index;
	uint16_t segment;
	uint64_t reg_base;
	struct vtd_config cfg;
	uint32_t ver;
	uint64_t cap;
	uint64_t ecap;
	enum vtd_mode mode;
	uint32_t gcmd;		/* software copy of the persistent GCMD bits */
	bool live;		/* our queue is on: hardware may use our memory */
	bool enabled;		/* taken over: root switched, TE on */
	struct vtd_root_entry *root;
	uint64_t root_pa;
	uint32_t *did_map;	/* bitmap of allocated domain ids */
	uint32_t did_count;
	struct vtd_qi qi;
	struct vtd_fault_rate fault_rate[VTD_FAULT_RATE_SLOTS];
	struct vtd_stats stats;
};

/*
 * Map the unit's registers, read VER/CAP/ECAP once, refuse units that
 * cannot be driven safely (-ENODEV for registers reading all-ones or zero,
 * -ENOTSUP for no queued invalidation or no usable address width), and
 * allocate the root table and invalidation queue.  Touches no control
 * register: whatever firmware left running keeps running until
 * vtd_unit_enable().
 */
int vtd_unit_init(struct vtd_unit *u, unsigned int index, uint16_t segment,
		  uint64_t reg_base, const struct vtd_config *cfg);

/*
 * Take the unit over and turn translation on with default deny: clear stale
 * faults, disable interrupt remapping and a firmware invalidation queue,
 * start our queue, switch to our root table (atomically, even if firmware
 * left TE on), invalidate globally, set TE, then drop protected memory
 * regions.  Every requester not attached by then hits a not-present entry.
 */
int vtd_unit_enable(struct vtd_unit *u);

/*
 * Translation and queue off (shutdown, tests, or after a failed enable);
 * domains must be detached.
 */
int vtd_unit_disable(struct vtd_unit *u);

/*
 * Free the unit's memory.  While the hardware may still use it (enable
 * started, disable not done) it is kept instead, with an error logged.
 */
void vtd_unit_fini(struct vtd_unit *u);

/* What the console's `iommu` command prints. */
struct vtd_unit_info {
	unsigned int index;
	uint16_t segment;
	uint64_t reg_base;
	unsigned int ver_major;
	unsigned int ver_minor;
	uint64_t cap;
	uint64_t ecap;
	const char *mode;	/* "legacy" */
	bool te;		/* from GSTS */
	bool qi;
	bool ir;
	unsigned int levels_mask; /* BIT(n): n-level tables supported */
	uint64_t page_sizes;	/* VTD_PAGE_* sizes the unit can map */
	uint32_t domains;	/* domain ids */
	bool caching_mode;
	bool coherent;
};

void vtd_unit_info(struct vtd_unit *u, struct vtd_unit_info *info);

/* Page sizes, as byte counts that can be OR-ed into a mask. */
#define VTD_PAGE_4K (UINT64_C(1) << 12)
#define VTD_PAGE_2M (UINT64_C(1) << 21)
#define VTD_PAGE_1G (UINT64_C(1) << 30)

/* Access rights of a mapping. */
#define VTD_PROT_READ 1u
#define VTD_PROT_WRITE 2u

/* Page-table pages whose release waits for an invalidation to complete. */
#define VTD_FREELIST_CHUNK 62u

struct vtd_freelist_chunk {
	struct vtd_freelist_chunk *next;
	unsigned int count;
	uint64_t pa[VTD_FREELIST_CHUNK];
};

struct vtd_freelist {
	struct vtd_freelist_chunk *head;
	uint64_t count;
};

/* Second-level page tables of one domain. */
struct vtd_pgtable {
	uint64_t root_pa;
	unsigned int levels;
	uint64_t page_sizes;	/* leaf sizes allowed (VTD_PAGE_*) */
	bool coherent;		/* every unit walks tables coherently */
	uint64_t table_pages;	/* pages in use, root included */
};

#define VTD_DOMAIN_MAX_UNITS 8u

struct vtd_domain_unit {
	struct vtd_unit *unit;
	uint16_t did;
	unsigned int attached;	/* requester ids attached through this unit */
};

struct vtd_deferred;

struct vtd_domain {
	struct vtd_domain_unit units[VTD_DOMAIN_MAX_UNITS];
	unsigned int unit_count;
	unsigned int addr_width;	/* IOVAs are below 2^addr_width */
	struct vtd_pgtable pt;
	struct vtd_deferred *deferred;	/* pages waiting for invalidations */
};

/*
 * A domain usable on every unit in units[] (capabilities intersected:
 * table depth, large pages, coherency), with a domain id on each.
 * addr_width is the IOVA width asked for (e.g. 39 or 48).
 */
int vtd_domain_create(struct vtd_unit *const *units, unsigned int unit_count,
		      unsigned int addr_width, struct vtd_domain **out);

/* -EBUSY while requester ids are attached. */
int vtd_domain_destroy(struct vtd_domain *d);

/*
 * Map [iova, iova + len) to [hpa, hpa + len) with VTD_PROT_* rights, using
 * the largest leaves that alignment, length and the units allow.  All
 * arguments 4 KiB aligned.  -EEXIST if part of the range is mapped (nothing
 * is left mapped then).
 */
int vtd_domain_map(struct vtd_domain *d, uint64_t iova, uint64_t hpa,
		   uint64_t len, unsigned int prot);

/*
 * Unmap [iova, iova + len), splitting large leaves that straddle its ends.
 * Returns when the invalidation covering it completed on every unit: the
 * devices can no longer reach that memory.  -ENOENT if nothing was mapped
 * there.  On -ETIMEDOUT or -EIO the range may still be reachable: the
 * caller must not reuse the memory behind it.
 */
int vtd_domain_unmap(struct vtd_domain *d, uint64_t iova, uint64_t len);

/* One run of equal-sized leaves with contiguous IOVAs and addresses. */
struct vtd_mapping {
	uint64_t iova;
	uint64_t hpa;
	uint64_t len;
	uint64_t page_size;
	unsigned int prot;
};

typedef void (*vtd_mapping_fn)(void *ctx, const struct vtd_mapping *m);

/* Calls fn for each run in IOVA order (for `domain show`). */
void vtd_domain_for_each_mapping(struct vtd_domain *d, vtd_mapping_fn fn,
				 void *ctx);

/* Domain id of d on u, or -ENOENT if d does not span u. */
int vtd_domain_did(const struct vtd_domain *d, const struct vtd_unit *u);

/*
 * Attach requester ids (bus << 8 | devfn; a device behind a PCIe-to-PCI
 * bridge also needs the bridge's alias) to d through unit u.  Each id must
 * be detached: a present context entry is never rewritten (invariant 5),
 * -EBUSY otherwise.
 */
int vtd_attach(struct vtd_domain *d, struct vtd_unit *u,
	       const uint16_t *source_ids, unsigned int count);

/*
 * Block the requester ids again: context entries not present, caches
 * invalidated.  -EINVAL if one of them is not attached to d.
 */
int vtd_detach(struct vtd_domain *d, struct vtd_unit *u,
	       const uint16_t *source_ids, unsigned int count);

/*
 * Identity-map an RMRR [base, base + len) (rounded out to pages) read/write
 * in d and attach its devices' requester ids.  Call before
 * vtd_unit_enable() so the map exists from the instant TE is set.
 */
int vtd_rmrr_map(struct vtd_domain *d, struct vtd_unit *u, uint64_t base,
		 uint64_t len, const uint16_t *source_ids, unsigned int count);

/* One primary fault record. */
struct vtd_fault {
	unsigned int unit;
	uint16_t sid;
	uint64_t addr;		/* faulting page */
	uint8_t reason;
	bool write;
	bool pasid_present;
	uint32_t pasid;
	const char *text;	/* the reason, decoded */
};

typedef void (*vtd_fault_fn)(void *ctx, const struct vtd_fault *f);

/*
 * Read every pending fault record starting at FSTS.FRI (wrapping), hand
 * each to fn (may be NULL), clear it, then clear an overflow.  Logging is
 * rate-limited per requester.  Returns the number of records read.
 */
int vtd_fault_poll(struct vtd_unit *u, vtd_fault_fn fn, void *ctx);

const char *vtd_fault_reason_text(uint8_t reason);
