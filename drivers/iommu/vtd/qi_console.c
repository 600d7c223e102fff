/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * What the console reads of the invalidation queue (`qi`), and the IQE
 * self-test it runs: the driver's side of the reports the back end
 * prints.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

/* IOTLB invalidate descriptor bits 15:12 are reserved (6.5.2.3). */
#define IOTLB_RSVD_BIT BIT64(12)

int vtd_qi_selftest_iqe(struct vtd_unit *u)
{
	struct vtd_qi_desc d = vtd_desc_iotlb_global(u);
	uint64_t iqe = u->stats.iqe;
	int err;

	d.lo |= IOTLB_RSVD_BIT;
	err = vtd_qi_submit(u, &d, 1, NULL);
	if (err != -EIO || u->stats.iqe == iqe) {
		vtd_err(u,
			"a reserved bit in an invalidation raised no queue error (%d)",
			err);
		return -EIO;
	}
	d = vtd_desc_iotlb_global(u);
	return vtd_qi_submit(u, &d, 1, NULL);
}

void vtd_qi_info(struct vtd_unit *u, struct vtd_qi_info *info)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int slot;

	memset(info, 0, sizeof(*info));
	if (vtd_unit_live(u)) {
		info->head = vtd_qi_read_head(u);
		info->errors = vtd_read32(u, VTD_FSTS_REG) &
			       (VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE);
	}
	info->tail = qi->tail;
	info->oldest = qi->oldest;
	info->in_flight = slots_in_flight(qi);
	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		if (qi->batch[slot].state != QI_FREE) {
			info->batches++;
		}
	}
	info->batches += qi->redo_count;
	info->seq = qi->seq;
	info->done_seq = vtd_qi_first_pending(qi) - 1;
	info->degraded = qi->late > 0;
	info->quarantined = vtd_quarantine_count(u);
}

static const char *state_name(const struct vtd_qi_batch *b)
{
	if (b->state == QI_STALE) {
		return "aborted";
	}
	if (b->flags & QI_F_FAILED) {
		return "failed";
	}
	if (b->flags & QI_F_LATE) {
		return "late";
	}
	return b->head_ns ? "at head" : "queued";
}

void vtd_qi_for_each_batch(struct vtd_unit *u, vtd_qi_batch_fn fn, void *ctx)
{
	struct vtd_qi *qi = &u->qi;
	uint64_t now = hw_now_ns();
	struct vtd_qi_batch_info info;
	const struct vtd_qi_batch *b;
	const struct vtd_qi_redo *r;
	unsigned int slot, i;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		b = &qi->batch[slot];
		if (b->state == QI_FREE) {
			continue;
		}
		memset(&info, 0, sizeof(info));
		info.seq = b->seq;
		info.first = b->first;
		info.wait = slot;
		info.count = b->count;
		info.cls = b->cls;
		info.has_sid = b->flags & QI_F_SID;
		info.sid = b->sid;
		info.age_ns = b->queued_ns ? now - b->queued_ns : 0;
		info.head_ns = b->head_ns ? now - b->head_ns : 0;
		info.state = state_name(b);
		fn(ctx, &info);
	}
	for (i = 0; i < qi->redo_count; i++) {
		r = &qi->redo[(qi->redo_head + i) % VTD_QI_WORK_MAX];
		memset(&info, 0, sizeof(info));
		info.seq = r->seq;
		info.first = QI_NO_SLOT;
		info.wait = QI_NO_SLOT;
		info.count = r->count;
		info.cls = r->cls;
		info.state = "redo";
		fn(ctx, &info);
	}
}
