/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Attachments with ATS (PCIe Address Translation Services): devices that
 * keep translations of a domain in their own device-TLB.  Whatever the
 * IOTLB forgets they must forget too, so every invalidation of a range of
 * the domain is followed by a device-TLB invalidation to each of them
 * (VT-d spec 6.5.2.5; 6.1: software invalidates device-TLBs after the
 * IOTLB, or the device could refill from a stale IOTLB entry).
 *
 * One batch per device, all published by one doorbell and waited for
 * under one deadline, however many devices (docs/design.md, invariant 3):
 * a device that misses it is then the only target of its batch and is
 * quarantined by name (qi.c), and the batches behind it do not each wait again.
 * A device known gone or absent gets nothing: an invalidation that cannot
 * complete would hold the in-order queue until the hardware's own time-out, up
 * to minutes (docs/scenarios.md, unreachable-devtlb). Only a device known gone
 * (its DMA blocked, vtd_device_gone()) counts as flushed; one that merely does
 * not answer now may answer again with its cache intact (a link retrain), so
 * its flush fails and the caller keeps what the cache may still point to.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/errno.h"
#include "lib/log.h"

struct vtd_ats_dev {
	struct vtd_ats_dev *next;
	rid_t sid;
	rid_t pfsid;
	unsigned int qdepth;
};

int vtd_ats_add(struct vtd_domain_unit *du, rid_t sid, rid_t pfsid,
		unsigned int qdepth)
{
	struct vtd_ats_dev *a = hw_zalloc(sizeof(*a));

	if (!a) {
		return -ENOMEM;
	}
	a->sid = sid;
	a->pfsid = pfsid;
	a->qdepth = qdepth;
	a->next = du->ats;
	du->ats = a;
	return 0;
}

void vtd_ats_del(struct vtd_domain_unit *du, rid_t sid)
{
	struct vtd_ats_dev **pp, *a;

	for (pp = &du->ats; (a = *pp); pp = &a->next) {
		if (rid_eq(a->sid, sid)) {
			*pp = a->next;
			hw_free(a);
			return;
		}
	}
}

/* sids NULL names every device. */
static bool named(const rid_t *sids, unsigned int count, rid_t sid)
{
	unsigned int i;

	if (!sids) {
		return true;
	}
	for (i = 0; i < count; i++) {
		if (rid_eq(sids[i], sid)) {
			return true;
		}
	}
	return false;
}

struct ats_batches {
	struct vtd_unit *u;
	struct vtd_ats_dev *next; /* the first device not yet considered */
	const rid_t *sids;
	unsigned int count;
	iova_t iova;
	unsigned int order;
	int suspect; /* -EIO once a device's cache stays suspect */
};

/* One device's invalidation a batch, for the devices matching sids. */
static unsigned int ats_fill(void *ctx, struct vtd_qi_desc *descs)
{
	struct ats_batches *b = ctx;
	struct vtd_ats_dev *a;
	int e;

	while ((a = b->next)) {
		b->next = a->next;
		if (!named(b->sids, b->count, a->sid)) {
			continue;
		}
		e = vtd_devtlb_allowed(b->u, a->sid);
		if (e == -ENODEV && vtd_device_known_gone(b->u, a->sid)) {
			/* Its DMA is blocked: nothing of it reaches memory. */
			continue;
		}
		if (e) {
			/*
			 * Quarantined or not answering, still attached: its
			 * cache is suspect until it is detached or known
			 * gone; the others still get theirs.
			 */
			b->suspect = -EIO;
			continue;
		}
		descs[0] = vtd_desc_devtlb(b->u, a->sid, a->pfsid, a->qdepth,
					   b->iova, b->order);
		return 1;
	}
	return 0;
}

int vtd_ats_flush(struct vtd_domain_unit *du, const rid_t *sids,
		  unsigned int count, iova_t iova, uint64_t len)
{
	struct ats_batches b = {
		.u = du->unit,
		.next = du->ats,
		.sids = sids,
		.count = count,
		.iova = iova,
		.order = vtd_range_order(iova, len),
	};
	int err;

	if (!vtd_unit_live(du->unit)) {
		return 0;
	}
	err = vtd_qi_submit_batches(du->unit, ats_fill, &b);
	return err ? err : b.suspect;
}

/*
 * After their entries were blocked and the IOTLB invalidated: whatever the
 * detached devices' device-TLBs hold goes too, then their records.  A
 * device that misses the deadline is quarantined; its translated requests
 * already meet a not-present entry, so the detach stands.
 */
void vtd_ats_detach(struct vtd_domain_unit *du, const rid_t *sids,
		    unsigned int count)
{
	unsigned int i;
	int err;

	err = vtd_ats_flush(du, sids, count, iova_make(0), UINT64_MAX);
	if (err) {
		vtd_warn(du->unit,
			 "device-TLB invalidation at detach failed (%d)", err);
	}
	for (i = 0; i < count; i++) {
		vtd_ats_del(du, sids[i]);
	}
}
