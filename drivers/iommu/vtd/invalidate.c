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
 * Ranges split into naturally aligned power-of-two chunks no larger than
 * 2^MAMV pages, one at a time; ranges that touch are split as one, so
 * that their chunks can be larger and fewer.
 */
struct chunks {
	const struct vtd_range *r;
	unsigned int count;
	unsigned int k; /* the next range not yet begun */
	unsigned int mamv;
	uint64_t page; /* what is left of the current run of ranges */
	uint64_t pages;
};

static struct chunks chunks_of(const struct vtd_unit *u,
			       const struct vtd_range *r, unsigned int count)
{
	return (struct chunks){
		.r = r,
		.count = count,
		.mamv = vtd_cap_mamv(u->cap),
	};
}

/* The next chunk in *c; false once the ranges are covered. */
static bool chunk_next(struct chunks *it, struct chunk *c)
{
	const struct vtd_range *r = it->r;
	unsigned int am;

	if (!it->pages) {
		if (it->k == it->count) {
			return false;
		}
		it->page = iova_val(r[it->k].iova) >> VTD_PAGE_SHIFT;
		it->pages = r[it->k++].len >> VTD_PAGE_SHIFT;
	}
	while (it->k < it->count &&
	       iova_val(r[it->k].iova) == (it->page + it->pages)
						  << VTD_PAGE_SHIFT) {
		it->pages += r[it->k++].len >> VTD_PAGE_SHIFT;
	}
	am = it->page ? bits_lowest_set(it->page) : 63;
	if (am > it->mamv) {
		am = it->mamv;
	}
	if (am > bits_highest_set(it->pages)) {
		am = bits_highest_set(it->pages);
	}
	c->addr = iova_make(it->page << VTD_PAGE_SHIFT);
	c->am = am;
	it->page += UINT64_C(1) << am;
	it->pages -= UINT64_C(1) << am;
	return true;
}

/* The chunks of the ranges in out: their count, or 0 if more than max. */
static unsigned int page_chunks(const struct vtd_unit *u,
				const struct vtd_range *r, unsigned int count,
				struct chunk *out, unsigned int max)
{
	struct chunks it = chunks_of(u, r, count);
	unsigned int n = 0;
	struct chunk c;

	while (chunk_next(&it, &c)) {
		if (n == max) {
			return 0;
		}
		out[n++] = c;
	}
	return n;
}

/* How many chunks are left, counting no further than max + 1. */
static unsigned int count_chunks(struct chunks it, unsigned int max)
{
	unsigned int n = 0;
	struct chunk c;

	while (n <= max && chunk_next(&it, &c)) {
		n++;
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

struct range_batches {
	const struct vtd_unit *u;
	uint16_t did;
	struct chunks it;
};

static unsigned int range_fill(void *ctx, struct vtd_qi_desc *descs)
{
	struct range_batches *b = ctx;
	unsigned int k = 0;
	struct chunk c;

	while (k < VTD_QI_BATCH_MAX && chunk_next(&b->it, &c)) {
		descs[k++] = vtd_desc_iotlb_page(b->u, b->did, c.addr, c.am);
	}
	return k;
}

/*
 * Page-selective chunks a range invalidation may take: as many batches
 * of VTD_QI_BATCH_MAX, each with its wait, as the work allowed in flight
 * holds (half the ring, qi.c), so that one doorbell publishes them all
 * when the ring is otherwise idle.
 */
static unsigned int round_chunks(const struct vtd_unit *u)
{
	return u->qi.slots / 2 / (VTD_QI_BATCH_MAX + 1) * VTD_QI_BATCH_MAX;
}

/*
 * Invalidate a domain's IOVA ranges on one unit: page-selective chunks
 * (VT-d spec 6.5.2.3) when the unit has PSI and they fit one round of
 * batches (round_chunks()), else the whole domain, one descriptor.  Every
 * batch is waited for, so nothing in the ranges is reachable through the
 * IOTLB or paging-structure caches when this returns 0; a status write
 * proves every descriptor before it done (6.5.2.8), so *seq is that of
 * the last batch, or 0 when a batch was never queued.  In scalable mode
 * this covers second-level mappings in the ranges and every first-level
 * and nested one of the domain (6.5.2.3).
 */
int vtd_qi_flush_ranges(struct vtd_unit *u, uint16_t did,
			const struct vtd_range *r, unsigned int count,
			uint32_t *seq)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	struct range_batches b;
	unsigned int n;

	if (!vtd_cap_psi(u->cap)) {
		descs[0] = vtd_desc_iotlb_domain(u, did);
		return vtd_qi_submit(u, descs, 1, seq);
	}
	/* One page, the common case: its chunk is itself. */
	if (count == 1 && r->len == VTD_PAGE_SIZE) {
		descs[0] = vtd_desc_iotlb_page(u, did, r->iova, 0);
		return vtd_qi_submit(u, descs, 1, seq);
	}
	b = (struct range_batches){
		.u = u,
		.did = did,
		.it = chunks_of(u, r, count),
	};
	n = range_fill(&b, descs);
	if (!count_chunks(b.it, 0)) {
		return vtd_qi_submit(u, descs, n, seq);
	}
	if (n + count_chunks(b.it, round_chunks(u) - n) > round_chunks(u)) {
		descs[0] = vtd_desc_iotlb_domain(u, did);
		return vtd_qi_submit(u, descs, 1, seq);
	}
	b.it = chunks_of(u, r, count);
	return vtd_qi_submit_batches(u, range_fill, &b, seq);
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

	return vtd_qi_submit_batches(u, cc_fill, &c, NULL);
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
