/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * What a change needs invalidated, built from the descriptors of qi_desc.c
 * and submitted through qi.c: a domain's IOVA range (page-selective where
 * the unit can), and the context entries of requester ids followed by
 * whatever caches were filled through them (VT-d spec 6.5.2).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"

/* 2^am pages at addr, aligned to that size. */
struct chunk {
	iova_t addr;
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
			page = iova_val(r[k].iova) >> VTD_PAGE_SHIFT;
			pages = r[k++].len >> VTD_PAGE_SHIFT;
		}
		while (k < count && iova_val(r[k].iova) ==
					    (page + pages) << VTD_PAGE_SHIFT) {
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
		out[n].addr = iova_make(page << VTD_PAGE_SHIFT);
		out[n++].am = am;
		page += UINT64_C(1) << am;
		pages -= UINT64_C(1) << am;
	}
	return n;
}

/*
 * Smallest naturally aligned power-of-two block of pages that holds
 * [iova, iova + len), as an order: what a device-TLB invalidation needs,
 * one size per descriptor (PCIe ATS, Invalidate Request).
 */
unsigned int vtd_range_order(iova_t iova, uint64_t len)
{
	uint64_t first = iova_val(iova) >> VTD_PAGE_SHIFT;
	uint64_t last = iova_val(iova_add(iova, len - 1)) >> VTD_PAGE_SHIFT;
	unsigned int order = 0;

	while (order < VTD_DEVTLB_ALL && (first >> order) != (last >> order)) {
		order++;
	}
	return order;
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
		descs[i] = vtd_desc_iotlb_page(u, did, c[i].addr, c[i].am);
	}
	if (!n) {
		descs[0] = vtd_desc_iotlb_domain(u, did);
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
			descs[n++] = vtd_desc_piotlb_page(did, refs[p].pasid,
							  c[i].addr, c[i].am);
		}
	}
	if (!n) {
		descs[0] = vtd_desc_iotlb_domain(u, did);
		n = 1;
	}
	return vtd_qi_submit(u, descs, n, seq);
}

struct cc_batches {
	uint16_t cc_did;
	const rid_t *sids;
	unsigned int count;
	const struct vtd_qi_desc *tail;
	unsigned int total; /* count + the tail's length */
	unsigned int next;  /* of those, the first not yet in a batch */
};

static unsigned int cc_fill(void *ctx, struct vtd_qi_desc *descs)
{
	struct cc_batches *c = ctx;
	unsigned int k = 0;

	for (; k < VTD_QI_BATCH_MAX && c->next < c->count; k++, c->next++) {
		descs[k] = vtd_desc_cc_device(c->cc_did, c->sids[c->next]);
	}
	for (; k < VTD_QI_BATCH_MAX && c->next < c->total; k++, c->next++) {
		descs[k] = c->tail[c->next - c->count];
	}
	return k;
}

/*
 * Device-selective context-cache invalidations (with cc_did) for count
 * requester ids, then tail, in batches of up to VTD_QI_BATCH_MAX
 * descriptors (vtd_qi_submit_batches()).  The context cache goes first:
 * later fills of the PASID cache and IOTLB read context entries.
 */
int vtd_qi_submit_cc(struct vtd_unit *u, uint16_t cc_did, const rid_t *sids,
		     unsigned int count, const struct vtd_qi_desc *tail,
		     unsigned int tail_count)
{
	struct cc_batches c = {
		.cc_did = cc_did,
		.sids = sids,
		.count = count,
		.tail = tail,
		.total = count + tail_count,
	};

	return vtd_qi_submit_batches(u, cc_fill, &c);
}

/*
 * Device-selective context-cache invalidation for each requester id (with
 * cc_did), then the domain's IOTLB.
 */
int vtd_invalidate_devices(struct vtd_unit *u, uint16_t cc_did,
			   const rid_t *sids, unsigned int count, uint16_t did)
{
	struct vtd_qi_desc iotlb = vtd_desc_iotlb_domain(u, did);

	return vtd_qi_submit_cc(u, cc_did, sids, count, &iotlb, 1);
}
