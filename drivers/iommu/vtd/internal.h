/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/qi.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"
#include "lib/bitmap.h"
#include "lib/log.h"

/*
 * Shared between the driver's files; not for callers of vtd.h: the layout
 * of units and domains, and the functions the files call in each other.
 */

/*
 * Interrupt remapping table entries per unit.  The table must be one
 * physically contiguous power-of-two run (IRTA.S) and hw_page_alloc()
 * hands out single 4 KiB pages, so one page of 16-byte entries: plenty
 * for MSI and MSI-X vectors of the devices one unit serves here.
 */
#define VTD_IRTE_COUNT 256U

/* Per-requester fault log rate limit (faults from one SID per window). */
#define VTD_FAULT_RATE_SLOTS 16U

struct vtd_fault_rate {
	uint64_t window_start_ns;
	uint32_t count;
	uint32_t suppressed;
	rid_t sid;
	bool used;
};

/* Page-table pages whose release waits for an invalidation to complete. */
#define VTD_FREELIST_CHUNK 62U

struct vtd_freelist_chunk {
	struct vtd_freelist_chunk *next;
	unsigned int count;
	uint64_t pa[VTD_FREELIST_CHUNK];
};

struct vtd_freelist {
	struct vtd_freelist_chunk *head;
	uint64_t count;
};

struct vtd_pt_node;

/*
 * Page tables of one domain (none for pass-through: root_pa 0), the top
 * level allocated on first map or attach.
 */
struct vtd_pgtable {
	enum vtd_format format;
	uint64_t root_pa;
	struct vtd_pt_node *root; /* driver-private counts of each table */
	bool merge_pending;	  /* a table became one run of 512 leaves */
	/* The last level-1 table walked to, and the IOVA of its entry 0. */
	struct vtd_pt_node *hot;
	iova_t hot_iova;
	unsigned int levels;
	uint64_t page_sizes;  /* leaf sizes allowed (VTD_PAGE_*) */
	bool coherent;	      /* every unit walks tables coherently */
	uint64_t table_pages; /* pages in use, root included */
};

/*
 * A unit's life: vtd_unit_enable() takes it from OFF through LIVE (from
 * starting our queue on, the hardware may use our memory) to ON; a failed
 * enable stops in LIVE, and vtd_unit_disable() goes back to OFF, staying
 * in LIVE if a step fails.  Memory is freed only in OFF.
 */
enum vtd_unit_state {
	VTD_UNIT_OFF,
	VTD_UNIT_LIVE,
	VTD_UNIT_ON, /* taken over: root switched, TE on */
};

/* Per-requester state (quarantine, removal, completion errors). */
struct vtd_devices;

struct vtd_unit {
	unsigned int index;
	uint16_t segment;
	uint64_t reg_base;
	struct vtd_config cfg;
	uint32_t ver;
	uint64_t cap;
	uint64_t ecap;
	enum vtd_mode mode;
	const char *mode_reason; /* why this mode, for `iommu` */
	uint32_t pasids;	 /* scalable mode: PASIDs the tables hold */
	uint32_t gcmd;		 /* software copy of the persistent GCMD bits */
	enum vtd_unit_state state;
	struct vtd_root_entry *root;
	uint64_t root_pa;
	struct bitmap_ids dids; /* domain ids */
	struct vtd_qi qi;
	struct vtd_devices *devices;
	vtd_present_fn present; /* NULL: every device counts as present */
	void *present_ctx;
	bool reg_late;	      /* a register handshake missed its deadline */
	struct vtd_irte *irt; /* interrupt remapping table; NULL without IR */
	uint64_t irt_pa;
	bool ir_x2apic;		 /* IRTA.EIME: 32-bit destination ids */
	struct bitmap_ids irtes; /* entry indexes, in irte_map */
	uint64_t irte_map[BITMAP_WORDS(VTD_IRTE_COUNT)];
	struct vtd_fault_rate fault_rate[VTD_FAULT_RATE_SLOTS];
	struct vtd_stats stats;
	uint64_t *inherited; /* bitmap by requester id; NULL: none ever */
	uint32_t inherited_count;
};

struct vtd_ats_dev;

/* A PASID that attachments through one unit use, and how many do. */
struct vtd_pasid_ref {
	uint32_t pasid;
	uint32_t refs;
};

struct vtd_domain_unit {
	struct vtd_unit *unit;
	uint16_t did;
	unsigned int attached; /* requester ids (with a PASID) attached */
	/*
	 * Scalable mode: the PASIDs behind those attachments, which
	 * PASID-based invalidations of first-level tables must name.
	 */
	struct vtd_pasid_ref *pasids;
	unsigned int pasid_count;
	unsigned int pasid_cap;
	/* Attachments with ATS, whose device-TLBs follow the IOTLB. */
	struct vtd_ats_dev *ats;
};

struct vtd_deferred;

struct vtd_domain {
	struct vtd_domain_unit units[VTD_DOMAIN_MAX_UNITS];
	unsigned int unit_count;
	unsigned int addr_width; /* IOVAs are below 2^addr_width */
	struct vtd_pgtable pt;
	struct vtd_deferred *deferred; /* pages waiting for invalidations */
	bool map_sync; /* a unit needs more than the store after a map */
};

/* Register access, counted for `stats`. */
static inline uint32_t vtd_read32(struct vtd_unit *u, uint32_t off)
{
	u->stats.mmio_reads++;
	return hw_mmio_read32(u->reg_base + off);
}

static inline uint64_t vtd_read64(struct vtd_unit *u, uint32_t off)
{
	u->stats.mmio_reads++;
	return hw_mmio_read64(u->reg_base + off);
}

static inline void vtd_write32(struct vtd_unit *u, uint32_t off, uint32_t val)
{
	u->stats.mmio_writes++;
	hw_mmio_write32(u->reg_base + off, val);
}

static inline void vtd_write64(struct vtd_unit *u, uint32_t off, uint64_t val)
{
	u->stats.mmio_writes++;
	hw_mmio_write64(u->reg_base + off, val);
}

/* Log lines about one unit, each starting "unit N: ". */
#define vtd_err(u, fmt, ...) \
	log_err("vtd", "unit %u: " fmt, (u)->index, ##__VA_ARGS__)
#define vtd_warn(u, fmt, ...) \
	log_warn("vtd", "unit %u: " fmt, (u)->index, ##__VA_ARGS__)
#define vtd_info(u, fmt, ...) \
	log_info("vtd", "unit %u: " fmt, (u)->index, ##__VA_ARGS__)

/* The hardware may use our memory: our queue is on (enabled or not). */
static inline bool vtd_unit_live(const struct vtd_unit *u)
{
	return u->state != VTD_UNIT_OFF;
}

/* Absolute deadline for a wait of class cls starting at start_ns. */
static inline uint64_t vtd_deadline(const struct vtd_unit *u,
				    enum vtd_deadline_class cls,
				    uint64_t start_ns)
{
	return start_ns + u->cfg.deadline_ns[cls];
}

/* A CPU wait of class cls that began at start_ns is over. */
static inline void vtd_wait_done(struct vtd_unit *u,
				 enum vtd_deadline_class cls, uint64_t start_ns)
{
	uint64_t spent = hw_now_ns() - start_ns;

	if (spent > u->stats.deadline[cls].max_wait_ns)
		u->stats.deadline[cls].max_wait_ns = spent;
}

/*
 * A CPU wait of class cls that began at start_ns gave up at its deadline:
 * counted, and logged as "<what> did not complete within <deadline>".
 */
void vtd_wait_missed(struct vtd_unit *u, enum vtd_deadline_class cls,
		     uint64_t start_ns, const char *what);

/*
 * The unit snoops its reads of root, context, PASID directory and PASID
 * tables (ECAP.C, VT-d spec 11.4.3).
 */
static inline bool vtd_unit_coherent(const struct vtd_unit *u)
{
	return vtd_ecap_c(u->ecap);
}

/*
 * The unit snoops its page-table walks: ECAP.C in legacy mode; in scalable
 * mode ECAP.SMPWC, which PASID entries then ask for with PWSNP.
 */
static inline bool vtd_unit_walks_coherent(const struct vtd_unit *u)
{
	if (u->mode == VTD_MODE_SCALABLE) {
		return vtd_ecap_smpwc(u->ecap);
	}
	return vtd_ecap_c(u->ecap);
}

/*
 * Make CPU writes to remapping structures visible to a unit that does not
 * snoop its table walks (ECAP.C = 0, VT-d spec 11.4.3).
 */
static inline void vtd_flush_table(bool coherent, const void *va, size_t len)
{
	if (!coherent)
		hw_cache_flush(va, len);
}

/*
 * Memory shared with hardware: stores are never merged or reordered, and
 * go through the seam so that the model sees each one.
 */
static inline uint64_t vtd_entry_read(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

static inline void vtd_entry_write(uint64_t *p, uint64_t val)
{
	hw_table_write(p, val);
}

/* unit.c */
int vtd_unit_flush_write_buffer(struct vtd_unit *u);
int vtd_gcmd_set(struct vtd_unit *u, uint32_t bit, bool on);
int vtd_unit_set_irtp(struct vtd_unit *u);
int vtd_did_alloc(struct vtd_unit *u, uint16_t *did);
void vtd_did_free(struct vtd_unit *u, uint16_t did);

/*
 * inherit.c: translation a previous life of moat left running (legacy
 * mode), kept per requester id until its first attach or detach.
 */
void vtd_inherit_tables(struct vtd_unit *u);
int vtd_inherit_release(struct vtd_unit *u, const rid_t *sids,
			unsigned int count);
void vtd_inherit_fini(struct vtd_unit *u);

/* device.c */
int vtd_devices_init(struct vtd_unit *u);
void vtd_devices_fini(struct vtd_unit *u);
void vtd_device_quarantine(struct vtd_unit *u, rid_t sid, const char *why);
void vtd_device_completion_error(struct vtd_unit *u, rid_t sid);
unsigned int vtd_quarantine_count(const struct vtd_unit *u);
bool vtd_device_known_gone(const struct vtd_unit *u, rid_t sid);
bool vtd_devtlb_wanted(struct vtd_unit *u, rid_t sid);
int vtd_devtlb_allowed(struct vtd_unit *u, rid_t sid);

/* ats.c: attachments whose device-TLBs follow the domain's IOTLB */
int vtd_ats_add(struct vtd_domain_unit *du, rid_t sid, rid_t pfsid,
		unsigned int qdepth);
void vtd_ats_del(struct vtd_domain_unit *du, rid_t sid);
int vtd_ats_flush(struct vtd_domain_unit *du, const rid_t *sids,
		  unsigned int count, iova_t iova, uint64_t len);
void vtd_ats_detach(struct vtd_domain_unit *du, const rid_t *sids,
		    unsigned int count);

/* legacy.c: the root table, legacy context entries, legacy attach */
int vtd_root_init(struct vtd_unit *u);
void vtd_root_fini(struct vtd_unit *u);
struct vtd_context_entry *vtd_context_get(struct vtd_unit *u, rid_t sid,
					  bool create);
void vtd_context_write(struct vtd_unit *u, struct vtd_context_entry *ce,
		       uint64_t lo, uint64_t hi);
void vtd_context_set(struct vtd_unit *u, struct vtd_context_entry *ce,
		     uint64_t slptptr, unsigned int levels, uint16_t did,
		     bool devtlb);
void vtd_context_clear_present(struct vtd_unit *u,
			       struct vtd_context_entry *ce);
void vtd_context_clear(struct vtd_unit *u, struct vtd_context_entry *ce);
bool vtd_context_present(const struct vtd_context_entry *ce);
bool vtd_context_empty(const struct vtd_context_entry *ce);
uint16_t vtd_context_did(const struct vtd_context_entry *ce);
int vtd_legacy_attach(struct vtd_domain *d, struct vtd_domain_unit *du,
		      const rid_t *source_ids, unsigned int count, bool devtlb);
int vtd_legacy_detach(struct vtd_domain_unit *du, const rid_t *source_ids,
		      unsigned int count);

/* scalable.c: scalable-mode context entries, PASID directories and tables */
struct vtd_nest {
	iova_t fl_table; /* in the parent domain's IOVA space */
	unsigned int fl_levels;
};

uint32_t vtd_pasid_limit(const struct vtd_unit *u);
struct vtd_pasid_entry *vtd_sm_pasid_entry(struct vtd_unit *u, rid_t sid,
					   uint32_t pasid, bool create);
void vtd_sm_bus_fini(struct vtd_unit *u, struct vtd_root_entry *re);
int vtd_sm_attach(struct vtd_domain *d, struct vtd_domain_unit *du,
		  const rid_t *sids, unsigned int count, uint32_t pasid,
		  const struct vtd_nest *nest);
int vtd_sm_detach(struct vtd_domain_unit *du, const rid_t *sids,
		  unsigned int count, uint32_t pasid);

/* domain.c */
struct vtd_domain_unit *vtd_domain_unit(struct vtd_domain *d,
					const struct vtd_unit *u);
int vtd_domain_pasid_get(struct vtd_domain_unit *du, uint32_t pasid,
			 unsigned int n);
void vtd_domain_pasid_put(struct vtd_domain_unit *du, uint32_t pasid,
			  unsigned int n);
bool vtd_listed_before(const rid_t *sids, unsigned int i);
int vtd_attach_allowed(struct vtd_unit *u, const rid_t *sids,
		       unsigned int count);

/* pgtable.c */
void vtd_freelist_add(struct vtd_freelist *fl, uint64_t pa);
void vtd_freelist_release(struct vtd_freelist *fl);
int vtd_pgtable_init(struct vtd_pgtable *pt, enum vtd_format format,
		     unsigned int levels, uint64_t page_sizes, bool coherent);
int vtd_pgtable_root(struct vtd_pgtable *pt);
void vtd_pgtable_fini(struct vtd_pgtable *pt);
int vtd_pgtable_map(struct vtd_pgtable *pt, iova_t iova, hpa_t hpa,
		    uint64_t len, unsigned int prot, uint64_t *mapped);
int vtd_pgtable_map_page(struct vtd_pgtable *pt, iova_t iova, hpa_t hpa,
			 unsigned int prot);
void vtd_pgtable_merge(struct vtd_pgtable *pt, iova_t iova, uint64_t len,
		       struct vtd_freelist *freed);
int vtd_pgtable_unmap(struct vtd_pgtable *pt, iova_t iova, uint64_t len,
		      uint64_t *unmapped, struct vtd_freelist *freed);
int vtd_pgtable_unmap_page(struct vtd_pgtable *pt, iova_t iova,
			   uint64_t *unmapped, struct vtd_freelist *freed);
void vtd_pgtable_walk(struct vtd_pgtable *pt, vtd_mapping_fn fn, void *ctx);

/* fault.c */
void vtd_fault_clear_stale(struct vtd_unit *u);
/* What a fault reason means (Appendix A); callers read vtd_fault.text. */
const char *vtd_fault_reason_text(uint8_t reason);

/* intremap.c: interrupt remapping table */
int vtd_ir_init(struct vtd_unit *u);
void vtd_ir_fini(struct vtd_unit *u);
int vtd_ir_enable(struct vtd_unit *u);
/*
 * Block entry index: not present, its cached copies invalidated.  On
 * -ETIMEDOUT the unit may still deliver it from its cache: clear again.
 * Callers use vtd_irte_free(), which clears and releases the index.
 */
int vtd_irte_clear(struct vtd_unit *u, unsigned int index);
