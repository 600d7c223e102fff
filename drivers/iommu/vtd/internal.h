#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"

/* Shared between the driver's files; not for callers of vtd.h. */

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

/* Bitmaps of 32-bit words, indexed by requester or domain id. */
static inline bool vtd_bit_test(const uint32_t *map, uint32_t n)
{
	return map[n / 32] & (UINT32_C(1) << (n % 32));
}

static inline void vtd_bit_set(uint32_t *map, uint32_t n)
{
	map[n / 32] |= UINT32_C(1) << (n % 32);
}

static inline void vtd_bit_clear(uint32_t *map, uint32_t n)
{
	map[n / 32] &= ~(UINT32_C(1) << (n % 32));
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
int vtd_inherit_release(struct vtd_unit *u, const uint16_t *sids,
			unsigned int count);
void vtd_inherit_fini(struct vtd_unit *u);

/*
 * qi.c: a batch is queued (descriptors written, doorbell not yet rung),
 * then waited for (the doorbell rings for everything queued so far).  Its
 * deadline class follows from its contents: device-TLB if it holds a
 * device-TLB invalidation, IOMMU-internal otherwise.
 */
int vtd_qi_init(struct vtd_unit *u);
void vtd_qi_fini(struct vtd_qi *qi);
int vtd_qi_start(struct vtd_unit *u);
int vtd_qi_stop(struct vtd_unit *u);
int vtd_qi_queue(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		 unsigned int count, uint32_t *seq);
int vtd_qi_wait(struct vtd_unit *u, uint32_t seq);
int vtd_qi_wait_since(struct vtd_unit *u, uint32_t seq, uint64_t start);
int vtd_qi_submit(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		  unsigned int count, uint32_t *seq);
bool vtd_qi_passed(struct vtd_unit *u, uint32_t seq);

/* qi_desc.c: descriptor builders; reserved fields are always zero. */
struct vtd_qi_desc vtd_qi_cc_global(void);
struct vtd_qi_desc vtd_qi_cc_device(uint16_t did, uint16_t sid);
struct vtd_qi_desc vtd_qi_iotlb_global(const struct vtd_unit *u);
struct vtd_qi_desc vtd_qi_iotlb_domain(const struct vtd_unit *u, uint16_t did);
struct vtd_qi_desc vtd_qi_devtlb(const struct vtd_unit *u, uint16_t sid,
				 uint16_t pfsid, unsigned int qdepth,
				 uint64_t addr, unsigned int order);
struct vtd_qi_desc vtd_qi_pdevtlb(const struct vtd_unit *u, uint16_t sid,
				  uint16_t pfsid, unsigned int qdepth,
				  uint32_t pasid, uint64_t addr,
				  unsigned int order);
struct vtd_qi_desc vtd_qi_pc_global(void);
struct vtd_qi_desc vtd_qi_pc_pasid(uint16_t did, uint32_t pasid);
struct vtd_qi_desc vtd_qi_piotlb_pasid(uint16_t did, uint32_t pasid);
struct vtd_qi_desc vtd_qi_wait_desc(uint64_t status_pa, uint32_t seq);
struct vtd_qi_desc vtd_qi_iec_global(void);
struct vtd_qi_desc vtd_qi_iec_index(uint16_t index);
bool vtd_qi_is_devtlb(const struct vtd_qi_desc *d, uint16_t *sid);
int vtd_qi_flush_ranges(struct vtd_unit *u, uint16_t did,
			const struct vtd_range *r, unsigned int count,
			uint32_t *seq);
int vtd_qi_flush_ranges_pasids(struct vtd_unit *u, uint16_t did,
			       const struct vtd_pasid_ref *refs,
			       unsigned int count, const struct vtd_range *r,
			       unsigned int ranges, uint32_t *seq);
int vtd_qi_submit_cc(struct vtd_unit *u, uint16_t cc_did, const uint16_t *sids,
		     unsigned int count, const struct vtd_qi_desc *tail,
		     unsigned int tail_count);

/* device.c */
int vtd_devices_init(struct vtd_unit *u);
void vtd_devices_fini(struct vtd_unit *u);
void vtd_device_quarantine(struct vtd_unit *u, uint16_t sid, const char *why);
void vtd_device_completion_error(struct vtd_unit *u, uint16_t sid);
unsigned int vtd_quarantine_count(const struct vtd_unit *u);
bool vtd_device_known_gone(const struct vtd_unit *u, uint16_t sid);
bool vtd_devtlb_wanted(struct vtd_unit *u, uint16_t sid);
int vtd_devtlb_allowed(struct vtd_unit *u, uint16_t sid);

/* ats.c: attachments whose device-TLBs follow the domain's IOTLB */
int vtd_ats_add(struct vtd_domain_unit *du, uint16_t sid, uint16_t pfsid,
		unsigned int qdepth);
void vtd_ats_del(struct vtd_domain_unit *du, uint16_t sid);
int vtd_ats_flush(struct vtd_domain_unit *du, const uint16_t *sids,
		  unsigned int count, uint64_t iova, uint64_t len);
void vtd_ats_detach(struct vtd_domain_unit *du, const uint16_t *sids,
		    unsigned int count);

/* context.c */
int vtd_root_init(struct vtd_unit *u);
void vtd_root_fini(struct vtd_unit *u);
struct vtd_context_entry *vtd_context_get(struct vtd_unit *u, uint16_t sid,
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

/* pasid.c: scalable-mode context entries, PASID directories and tables */
struct vtd_nest {
	uint64_t fl_table; /* in the parent domain's IOVA space */
	unsigned int fl_levels;
};

uint32_t vtd_pasid_limit(const struct vtd_unit *u);
struct vtd_pasid_entry *vtd_sm_pasid_entry(struct vtd_unit *u, uint16_t sid,
					   uint32_t pasid, bool create);
void vtd_sm_bus_fini(struct vtd_unit *u, struct vtd_root_entry *re);
int vtd_sm_attach(struct vtd_domain *d, struct vtd_domain_unit *du,
		  const uint16_t *sids, unsigned int count, uint32_t pasid,
		  const struct vtd_nest *nest);
int vtd_sm_detach(struct vtd_domain_unit *du, const uint16_t *sids,
		  unsigned int count, uint32_t pasid);

/* domain.c */
struct vtd_domain_unit *vtd_domain_unit(struct vtd_domain *d,
					const struct vtd_unit *u);
int vtd_domain_pasid_get(struct vtd_domain_unit *du, uint32_t pasid,
			 unsigned int n);
void vtd_domain_pasid_put(struct vtd_domain_unit *du, uint32_t pasid,
			  unsigned int n);
bool vtd_listed_before(const uint16_t *sids, unsigned int i);
int vtd_invalidate_devices(struct vtd_unit *u, uint16_t cc_did,
			   const uint16_t *sids, unsigned int count,
			   uint16_t did);
int vtd_attach_allowed(struct vtd_unit *u, const uint16_t *sids,
		       unsigned int count);

/* pgtable.c */
void vtd_freelist_add(struct vtd_freelist *fl, uint64_t pa);
void vtd_freelist_release(struct vtd_freelist *fl);
int vtd_pgtable_init(struct vtd_pgtable *pt, enum vtd_format format,
		     unsigned int levels, uint64_t page_sizes, bool coherent);
int vtd_pgtable_root(struct vtd_pgtable *pt);
void vtd_pgtable_fini(struct vtd_pgtable *pt);
int vtd_pgtable_map(struct vtd_pgtable *pt, uint64_t iova, uint64_t hpa,
		    uint64_t len, unsigned int prot, uint64_t *mapped);
void vtd_pgtable_merge(struct vtd_pgtable *pt, uint64_t iova, uint64_t len,
		       struct vtd_freelist *freed);
int vtd_pgtable_unmap(struct vtd_pgtable *pt, uint64_t iova, uint64_t len,
		      uint64_t *unmapped, struct vtd_freelist *freed);
void vtd_pgtable_walk(struct vtd_pgtable *pt, vtd_mapping_fn fn, void *ctx);

/* fault.c */
void vtd_fault_clear_stale(struct vtd_unit *u);

/* irq.c: interrupt remapping table */
int vtd_ir_init(struct vtd_unit *u);
void vtd_ir_fini(struct vtd_unit *u);
int vtd_ir_enable(struct vtd_unit *u);
