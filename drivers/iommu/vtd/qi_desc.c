/*
 * Invalidation descriptors (VT-d spec 6.5.2), the first 128 bits of each:
 * in scalable mode the queue holds 256-bit descriptors whose upper half
 * is reserved for every type built here.  Every builder starts from zero
 * and sets only the fields it names, so reserved fields are always zero:
 * a descriptor built here never raises an invalidation queue error for a
 * reserved bit (6.5.2.10).  Also the recipes that combine them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"

/* Device-TLB invalidate queue depth: MIP 0 stands for 32 (PCIe ATS). */
#define DEVTLB_QDEPTH_MAX 32U

/* Drain in-flight DMA with the invalidation where the unit can. */
static uint64_t iotlb_drain(const struct vtd_unit *u)
{
	uint64_t bits = 0;

	if (u->cap & VTD_CAP_DRD) {
		bits |= VTD_QI_IOTLB_DR;
	}
	if (u->cap & VTD_CAP_DWD) {
		bits |= VTD_QI_IOTLB_DW;
	}
	return bits;
}

struct vtd_qi_desc vtd_qi_cc_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_CC) |
		      field_prep64(VTD_QI_CC_G, VTD_QI_CC_G_GLOBAL),
	};

	return d;
}

struct vtd_qi_desc vtd_qi_cc_device(uint16_t did, uint16_t sid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_CC) |
		      field_prep64(VTD_QI_CC_G, VTD_QI_CC_G_DEVICE) |
		      field_prep64(VTD_QI_CC_DID, did) |
		      field_prep64(VTD_QI_CC_SID, sid),
	};

	return d;
}

struct vtd_qi_desc vtd_qi_iotlb_global(const struct vtd_unit *u)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_GLOBAL) |
		      iotlb_drain(u),
	};

	return d;
}

struct vtd_qi_desc vtd_qi_iotlb_domain(const struct vtd_unit *u, uint16_t did)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_DOMAIN) |
		      field_prep64(VTD_QI_IOTLB_DID, did) | iotlb_drain(u),
	};

	return d;
}

/*
 * 2^order pages at addr.  One page: S = 0.  More: S = 1, and the address
 * bits below the size's own bit are ones, the size's bit zero (the PCIe
 * ATS range encoding the descriptor carries, VT-d spec 6.5.2.5 and
 * 6.5.2.6, which place S at s_bit).
 */
static uint64_t devtlb_range(uint64_t addr, unsigned int order, uint64_t s_bit)
{
	uint64_t ones;

	if (!order) {
		return addr & VTD_QI_DEVTLB_HI_ADDR;
	}
	if (order > VTD_DEVTLB_ALL) {
		order = VTD_DEVTLB_ALL;
	}
	ones = ((UINT64_C(1) << (order - 1)) - 1) << VTD_PAGE_SHIFT;
	if (order < VTD_DEVTLB_ALL) {
		addr &= ~((UINT64_C(1) << (VTD_PAGE_SHIFT + order)) - 1);
	} else {
		addr = 0;
	}
	return addr | ones | s_bit;
}

/* MIP 0 stands for a queue depth of 32. */
static uint64_t devtlb_mip(unsigned int qdepth)
{
	return qdepth >= DEVTLB_QDEPTH_MAX ? 0 : qdepth;
}

/*
 * PFSID only where the unit uses it (ECAP.DIT); elsewhere it is zero.  Both
 * device-TLB descriptors split it alike.
 */
static uint64_t devtlb_pfsid(const struct vtd_unit *u, uint16_t pfsid)
{
	if (!vtd_ecap_dit(u->ecap)) {
		return 0;
	}
	return field_prep64(VTD_QI_DEVTLB_PFSID_LO, pfsid) |
	       field_prep64(VTD_QI_DEVTLB_PFSID_HI, pfsid >> 4);
}
_Static_assert(VTD_QI_DEVTLB_PFSID_LO == VTD_QI_PDEVTLB_PFSID_LO &&
		       VTD_QI_DEVTLB_PFSID_HI == VTD_QI_PDEVTLB_PFSID_HI,
	       "PFSID sits at the same place in both device-TLB descriptors");

struct vtd_qi_desc vtd_qi_devtlb(const struct vtd_unit *u, uint16_t sid,
				 uint16_t pfsid, unsigned int qdepth,
				 uint64_t addr, unsigned int order)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_DEVTLB) |
		      field_prep64(VTD_QI_DEVTLB_SID, sid) |
		      field_prep64(VTD_QI_DEVTLB_MIP, devtlb_mip(qdepth)) |
		      devtlb_pfsid(u, pfsid),
		.hi = devtlb_range(addr, order, VTD_QI_DEVTLB_HI_S),
	};

	return d;
}

/* What the device cached for one PASID (scalable mode, 6.5.2.6). */
struct vtd_qi_desc vtd_qi_pdevtlb(const struct vtd_unit *u, uint16_t sid,
				  uint16_t pfsid, unsigned int qdepth,
				  uint32_t pasid, uint64_t addr,
				  unsigned int order)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PDEVTLB) |
		      field_prep64(VTD_QI_PDEVTLB_SID, sid) |
		      field_prep64(VTD_QI_PDEVTLB_PASID, pasid) |
		      field_prep64(VTD_QI_PDEVTLB_MIP, devtlb_mip(qdepth)) |
		      devtlb_pfsid(u, pfsid),
		.hi = devtlb_range(addr, order, VTD_QI_PDEVTLB_HI_S),
	};

	return d;
}

/* Every PASID-cache entry (6.5.2.2): after the root table switched. */
struct vtd_qi_desc vtd_qi_pc_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PC) |
		      field_prep64(VTD_QI_PC_G, VTD_QI_PC_G_GLOBAL),
	};

	return d;
}

/* The PASID-cache entries of one PASID tagged with domain id did. */
struct vtd_qi_desc vtd_qi_pc_pasid(uint16_t did, uint32_t pasid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PC) |
		      field_prep64(VTD_QI_PC_G, VTD_QI_PC_G_PASID) |
		      field_prep64(VTD_QI_PC_DID, did) |
		      field_prep64(VTD_QI_PC_PASID, pasid),
	};

	return d;
}

/*
 * Everything the IOTLB and paging-structure caches hold for one PASID of a
 * domain, whatever its translation type (6.5.2.4).
 */
struct vtd_qi_desc vtd_qi_piotlb_pasid(uint16_t did, uint32_t pasid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PIOTLB) |
		      field_prep64(VTD_QI_PIOTLB_G, VTD_QI_PIOTLB_G_PASID) |
		      field_prep64(VTD_QI_PIOTLB_DID, did) |
		      field_prep64(VTD_QI_PIOTLB_PASID, pasid),
	};

	return d;
}

/*
 * Status write of seq to status_pa; FN keeps later descriptors from
 * passing it (6.5.2.8).  IF stays clear: the queue is polled, and QEMU
 * aborts on SW and IF together.
 */
struct vtd_qi_desc vtd_qi_wait_desc(uint64_t status_pa, uint32_t seq)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_WAIT) |
		      VTD_QI_WAIT_SW | VTD_QI_WAIT_FN |
		      field_prep64(VTD_QI_WAIT_SDATA, seq),
		.hi = status_pa & VTD_QI_WAIT_HI_SADDR,
	};

	return d;
}

/* Every interrupt entry cache entry (6.5.2.7): after SIRTP. */
struct vtd_qi_desc vtd_qi_iec_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IEC),
	};

	return d;
}

/* The cached copies of one entry (index-selective, IM = 0). */
struct vtd_qi_desc vtd_qi_iec_index(uint16_t index)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IEC) |
		      VTD_QI_IEC_G | field_prep64(VTD_QI_IEC_IIDX, index),
	};

	return d;
}

/* A device-TLB invalidation (PASID-based or not), and its target in *sid. */
bool vtd_qi_is_devtlb(const struct vtd_qi_desc *d, uint16_t *sid)
{
	switch (field_get64(VTD_QI_TYPE, d->lo)) {
	case VTD_QI_TYPE_DEVTLB:
		*sid = (uint16_t)field_get64(VTD_QI_DEVTLB_SID, d->lo);
		return true;
	case VTD_QI_TYPE_PDEVTLB:
		*sid = (uint16_t)field_get64(VTD_QI_PDEVTLB_SID, d->lo);
		return true;
	}
	return false;
}

/*
 * Page-selective: 2^am pages at addr, which must be aligned to that size
 * (VT-d spec 6.5.2.3).  IH stays 0: page-table pages may have been freed,
 * so paging-structure caches must go too.
 */
static struct vtd_qi_desc iotlb_page(const struct vtd_unit *u, uint16_t did,
				     uint64_t addr, unsigned int am)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_PAGE) |
		      field_prep64(VTD_QI_IOTLB_DID, did) | iotlb_drain(u),
		.hi = (addr & VTD_QI_IOTLB_HI_ADDR) |
		      field_prep64(VTD_QI_IOTLB_HI_AM, am),
	};

	return d;
}

/* The first-level and nested counterpart, for one PASID (6.5.2.4). */
static struct vtd_qi_desc piotlb_page(uint16_t did, uint32_t pasid,
				      uint64_t addr, unsigned int am)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PIOTLB) |
		      field_prep64(VTD_QI_PIOTLB_G, VTD_QI_PIOTLB_G_PAGE) |
		      field_prep64(VTD_QI_PIOTLB_DID, did) |
		      field_prep64(VTD_QI_PIOTLB_PASID, pasid),
		.hi = (addr & VTD_QI_PIOTLB_HI_ADDR) |
		      field_prep64(VTD_QI_PIOTLB_HI_AM, am),
	};

	return d;
}

/* 2^am pages at addr, aligned to that size. */
struct chunk {
	uint64_t addr;
	unsigned int am;
};

/*
 * Split ranges into naturally aligned power-of-two chunks no larger than
 * 2^MAMV pages; ranges that touch are split as one, so that their chunks
 * can be larger and fewer.  Returns the count, or 0 when it takes more
 * than max.
 */
static unsigned int page_chunks(const struct vtd_unit *u,
				const struct vtd_range *r, unsigned int count,
				struct chunk *out, unsigned int max)
{
	unsigned int mamv = vtd_cap_mamv(u->cap);
	unsigned int n = 0, am, k = 0;
	uint64_t page = 0, pages = 0;

	while (pages || k < count) {
		if (!pages) {
			page = r[k].iova >> VTD_PAGE_SHIFT;
			pages = r[k++].len >> VTD_PAGE_SHIFT;
		}
		while (k < count && r[k].iova == (page + pages)
							 << VTD_PAGE_SHIFT) {
			pages += r[k++].len >> VTD_PAGE_SHIFT;
		}
		if (n == max) {
			return 0;
		}
		am = page ? bits_lowest_set(page) : 63;
		if (am > mamv) {
			am = mamv;
		}
		while ((UINT64_C(1) << am) > pages) {
			am--;
		}
		out[n].addr = page << VTD_PAGE_SHIFT;
		out[n++].am = am;
		page += UINT64_C(1) << am;
		pages -= UINT64_C(1) << am;
	}
	return n;
}

/*
 * Invalidate a domain's IOVA ranges on one unit in one batch, one wait:
 * page-selective chunks when the unit has PSI and they fit the batch,
 * else the whole domain.  In scalable mode this covers second-level
 * mappings in the ranges and every first-level and nested one of the
 * domain (VT-d spec 6.5.2.3).
 */
int vtd_qi_flush_ranges(struct vtd_unit *u, uint16_t did,
			const struct vtd_range *r, unsigned int count,
			uint32_t *seq)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	struct chunk c[VTD_QI_BATCH_MAX];
	unsigned int n = 0, i;

	if (vtd_cap_psi(u->cap)) {
		n = page_chunks(u, r, count, c, VTD_QI_BATCH_MAX);
	}
	for (i = 0; i < n; i++) {
		descs[i] = iotlb_page(u, did, c[i].addr, c[i].am);
	}
	if (!n) {
		descs[0] = vtd_qi_iotlb_domain(u, did);
		n = 1;
	}
	return vtd_qi_submit(u, descs, n, seq);
}

/*
 * The same for first-level tables, whose precise invalidation names the
 * PASID (6.5.2.4): the range once for each PASID in use.  When that takes
 * more than a batch, the domain-selective IOTLB invalidation covers them
 * all (6.5.2.3).
 */
int vtd_qi_flush_ranges_pasids(struct vtd_unit *u, uint16_t did,
			       const struct vtd_pasid_ref *refs,
			       unsigned int count, const struct vtd_range *r,
			       unsigned int ranges, uint32_t *seq)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	struct chunk c[VTD_QI_BATCH_MAX];
	unsigned int n = 0, chunks = 0, i, p;

	if (count && count <= VTD_QI_BATCH_MAX && vtd_cap_psi(u->cap)) {
		chunks = page_chunks(u, r, ranges, c, VTD_QI_BATCH_MAX / count);
	}
	for (p = 0; chunks && p < count; p++) {
		for (i = 0; i < chunks; i++) {
			descs[n++] = piotlb_page(did, refs[p].pasid, c[i].addr,
						 c[i].am);
		}
	}
	if (!n) {
		descs[0] = vtd_qi_iotlb_domain(u, did);
		n = 1;
	}
	return vtd_qi_submit(u, descs, n, seq);
}

/*
 * Device-selective context-cache invalidations (with cc_did) for count
 * requester ids, then tail: batches of up to VTD_QI_BATCH_MAX descriptors,
 * as many as the ring takes published by one doorbell, waited for in
 * order.  The context cache goes first: later fills of the PASID cache
 * and IOTLB read context entries.
 */
int vtd_qi_submit_cc(struct vtd_unit *u, uint16_t cc_did, const uint16_t *sids,
		     unsigned int count, const struct vtd_qi_desc *tail,
		     unsigned int tail_count)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	uint32_t seqs[VTD_QI_WORK_MAX / (VTD_QI_BATCH_MAX + 1)];
	unsigned int total = count + tail_count, i = 0, k, n, w;
	unsigned int at_once = u->qi.slots / 2 / (VTD_QI_BATCH_MAX + 1);
	uint64_t start = hw_now_ns();
	int err = 0, qerr = 0;

	while (i < total && !err && !qerr) {
		for (n = 0; n < at_once && i < total && !qerr; n++) {
			k = 0;
			for (; k < VTD_QI_BATCH_MAX && i < count; k++, i++) {
				descs[k] = vtd_qi_cc_device(cc_did, sids[i]);
			}
			for (; k < VTD_QI_BATCH_MAX && i < total; k++, i++) {
				descs[k] = tail[i - count];
			}
			qerr = vtd_qi_queue(u, descs, k, &seqs[n]);
		}
		/* Wait for what was queued, up to the first failure. */
		for (w = 0; w < n && seqs[w] && !err; w++) {
			err = vtd_qi_wait_since(u, seqs[w], start);
		}
	}
	return err ? err : qerr;
}
