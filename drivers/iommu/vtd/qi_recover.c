/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Recovery of the invalidation queue (VT-d spec 6.5.2.10), on the slow
 * path of qi.c: queue errors, the redo list of batches an ITE aborted,
 * and deadlines missed at the head of the queue.
 *
 * Errors (6.5.2.10), noticed on the slow path of a wait (FSTS is read every
 * QI_SLOW_EVERY polls and at the deadline, never in the success path):
 * - IQE: IQH names the faulty descriptor.  It is replaced by a harmless
 *   wait, IQE alone is cleared and IQT written again to restart fetching;
 *   the batch holding it fails (-EIO), the rest proceeds.
 * - ITE: a device-TLB invalidation timed out; the hardware aborted every
 *   wait it had fetched and stopped.  Every batch in flight is marked
 *   aborted and copied to the redo list before ITE is cleared, whatever the
 *   hardware fetched ahead or will fetch again; device-TLB invalidations to
 *   the guilty device (ITESID) or to absent ones are replaced by harmless
 *   waits in place and dropped from the copies; the copies are queued
 *   again with their sequence numbers.
 * - ICE: a bad device-TLB completion; cleared and counted against ICESID.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"
#include "lib/string.h"

static const char *const iqe_reasons[] = {
	[VTD_IQEI_UNKNOWN] = "no detail given",
	[VTD_IQEI_TAIL] = "invalid tail pointer",
	[VTD_IQEI_FETCH] = "descriptor fetch failed",
	[VTD_IQEI_TYPE] = "invalid descriptor type",
	[VTD_IQEI_RSVD] = "reserved field set",
	[VTD_IQEI_WIDTH] = "invalid descriptor width",
};

static const char *iqe_reason(unsigned int iqei)
{
	if (iqei < ARRAY_SIZE(iqe_reasons)) {
		return iqe_reasons[iqei];
	}
	return "reserved reason";
}

/*
 * Into the redo list, before the batches already there (they are newer).
 * Harmless waits standing in for unwanted work are not work: skipped.
 */
static void redo_push_front(struct vtd_qi *qi, const struct vtd_qi_batch *b)
{
	unsigned int slot, i, count = 0;
	struct vtd_qi_redo *r;

	/* Backwards, so the descriptors keep their order at the front. */
	for (i = 0, slot = wrap(qi, b->first + b->count); i < b->count; i++) {
		slot = prev_slot(qi, slot);
		if (qi->slot_seq[slot]) {
			continue;
		}
		qi->redo_desc_head =
			(qi->redo_desc_head + VTD_QI_WORK_MAX - 1) %
			VTD_QI_WORK_MAX;
		qi->redo_desc[qi->redo_desc_head] = *slot_desc(qi, slot);
		count++;
	}
	qi->redo_head = (qi->redo_head + VTD_QI_WORK_MAX - 1) % VTD_QI_WORK_MAX;
	r = &qi->redo[qi->redo_head];
	r->seq = b->seq;
	r->count = (uint8_t)count;
	r->cls = b->cls;
	r->flags = b->flags & (QI_F_FAILED | QI_F_DROPPED);
	qi->redo_count++;
}

/*
 * Every live batch in flight, newest first so that the redo list stays in
 * order: its wait may have been aborted, its other descriptors dropped or
 * run, depending on how far the hardware fetched.  A late one, live or
 * stale, counts as recovered: the hardware reported.  Head deadlines
 * start again when the queue restarts.
 *
 * The redo list never overflows: new work is admitted only while the list
 * is empty and less than VTD_QI_WORK_MAX slots are in flight, and the
 * work pending never grows after that.
 */
static void abort_in_flight(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int slot = qi->tail;
	struct vtd_qi_batch *b;

	while (slot != qi->oldest) {
		slot = prev_slot(qi, slot);
		b = &qi->batch[slot];
		if (b->state == QI_FREE) {
			continue;
		}
		if (b->flags & QI_F_LATE) {
			vtd_qi_recovered(u, b);
			b->flags &= ~QI_F_LATE;
		}
		b->head_ns = 0;
		if (b->state != QI_LIVE) {
			continue;
		}
		b->state = QI_STALE;
		if (b->flags & QI_F_SYNC) {
			continue;
		}
		redo_push_front(qi, b);
		u->stats.aborted++;
	}
}

/* Work the hardware may be given: not device-TLB work for a lost device. */
static bool wanted(struct vtd_unit *u, const struct vtd_qi_desc *d)
{
	rid_t sid;

	return !vtd_desc_is_devtlb(d, &sid) || vtd_devtlb_wanted(u, sid);
}

/*
 * Whatever the hardware fetches again after ITE is cleared must not time
 * out again: device-TLB invalidations to quarantined or absent devices
 * become harmless waits in place.
 */
static void neutralize_unwanted(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int slot;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		if (!wanted(u, slot_desc(qi, slot))) {
			vtd_qi_neutralize(qi, slot,
					  vtd_qi_batch_holding(qi, slot)->seq);
		}
	}
}

static struct vtd_qi_desc redo_pop_desc(struct vtd_qi *qi)
{
	struct vtd_qi_desc d = qi->redo_desc[qi->redo_desc_head];

	qi->redo_desc_head = (qi->redo_desc_head + 1) % VTD_QI_WORK_MAX;
	return d;
}

/*
 * Queue aborted batches again, in order, with their sequence numbers, as
 * far as the ring has room; one slot stays for a lone wait.  When nothing
 * live is in flight to prove that the hardware passed the stale slots (all
 * their waits may have been aborted), that lone wait does, if it fits:
 * ITEs in a row with no status write between them each abort the last
 * one, and a ring without a free slot would read as empty.  A full ring
 * needs none: its stale waits beyond IQH still run and prove progress.
 */
void vtd_qi_resubmit(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	bool placed = false;
	struct vtd_qi_redo *r;
	unsigned int i, n;
	uint8_t flags;

	while (qi->redo_count) {
		r = &qi->redo[qi->redo_head];
		if (slots_in_flight(qi) + r->count + 3 > qi->slots) {
			break;
		}
		for (i = n = 0, flags = r->flags; i < r->count; i++) {
			descs[n] = redo_pop_desc(qi);
			if (wanted(u, &descs[n])) {
				n++;
			} else {
				flags |= QI_F_DROPPED;
			}
		}
		vtd_qi_place(u, descs, n, r->seq, flags);
		qi->redo_head = (qi->redo_head + 1) % VTD_QI_WORK_MAX;
		qi->redo_count--;
		u->stats.resubmitted++;
		placed = true;
	}
	if (qi->redo_count && !vtd_qi_live_in_ring(qi) &&
	    slots_in_flight(qi) + 2 <= qi->slots) {
		vtd_qi_place(u, NULL, 0, vtd_qi_next_seq(qi), QI_F_SYNC);
		placed = true;
	}
	if (placed || qi->restart) {
		vtd_qi_doorbell(u);
	}
}

/* Counted, so that work deferred on an unfinished batch is kept. */
static void fail(struct vtd_qi *qi, struct vtd_qi_batch *b)
{
	b->flags |= QI_F_FAILED;
	qi->failures++;
}

/*
 * The hardware stopped on the descriptor at IQH.  Replace it by a harmless
 * wait, fail the batch holding it, acknowledge exactly IQE and write IQT
 * again, as clearing IQE alone does not restart fetching on every
 * implementation (QEMU).  An invalid tail names no descriptor: we only
 * ever write valid tails, so writing it again is the repair.
 */
static void recover_iqe(struct vtd_unit *u, uint64_t iqercd)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int iqei = (unsigned int)field_get64(VTD_IQERCD_IQEI, iqercd);
	unsigned int head = vtd_qi_read_head(u);
	struct vtd_qi_batch *b;

	u->stats.iqe++;
	if (iqei == VTD_IQEI_TAIL || !in_flight(qi, head)) {
		vtd_err(u,
			"invalidation queue error (IQEI %u, %s) at slot %u; restarting the queue",
			iqei, iqe_reason(iqei), head);
	} else {
		b = vtd_qi_batch_holding(qi, head);
		vtd_err(u,
			"invalidation queue error (IQEI %u, %s): descriptor %016llx:%016llx in slot %u of batch %u replaced by a wait; the batch fails",
			iqei, iqe_reason(iqei),
			(unsigned long long)slot_desc(qi, head)->hi,
			(unsigned long long)slot_desc(qi, head)->lo, head,
			b->seq);
		vtd_qi_neutralize(qi, head, b->seq);
		/* A stale copy fails nobody: its redo copy speaks for it. */
		if (b->state == QI_LIVE) {
			fail(qi, b);
		}
	}
	vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_IQE);
	qi->restart = true;
}

/* A device-TLB invalidation to sid is in the ring. */
static bool devtlb_in_flight(struct vtd_qi *qi, rid_t sid)
{
	unsigned int slot;
	rid_t target;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		if (vtd_desc_is_devtlb(slot_desc(qi, slot), &target) &&
		    rid_eq(target, sid)) {
			return true;
		}
	}
	return false;
}

/*
 * Stale batches whose waits lie before IQH were dropped or already run:
 * the hardware resumes after them, so none of them can hold the head.
 */
static void skip_fetched(struct vtd_qi *qi, unsigned int head)
{
	unsigned int slot;

	if (!in_flight(qi, head)) {
		return;
	}
	for (slot = qi->oldest; slot != head; slot = next_slot(qi, slot)) {
		if (qi->batch[slot].state == QI_STALE) {
			qi->batch[slot].flags |= QI_F_SKIPPED;
		}
	}
}

/*
 * A device-TLB invalidation timed out in the hardware; it aborted the waits
 * it had fetched and fetches nothing until ITE is cleared, then resumes at
 * IQH.  Which descriptors it ran, and whether it runs fetched ones again,
 * is not known: every batch in flight is aborted and queued again, and
 * only then is ITE cleared, so no completion can slip between (an abort
 * after the clear would leave waits pending forever).
 *
 * Units before VT-d 3.0 have no ITESID (it reads 0): 0 names nobody unless
 * an invalidation to 00:00.0 is in flight, and the head deadline names
 * the device the hardware is stuck on instead.
 */
static void recover_ite(struct vtd_unit *u, uint64_t iqercd)
{
	rid_t sid = rid_from((uint16_t)field_get64(VTD_IQERCD_ITESID, iqercd));
	struct vtd_qi *qi = &u->qi;

	u->stats.ite++;
	if (rid_val(sid) || devtlb_in_flight(qi, sid)) {
		vtd_err(u,
			"invalidation time-out error (ITE): device " RID_FMT
			" did not answer a device-TLB invalidation; recovering the queue",
			RID_ARGS(sid));
		vtd_device_quarantine(u, sid,
				      "invalidation time-out error (ITE)");
	} else {
		vtd_err(u,
			"invalidation time-out error (ITE), device not reported; recovering the queue");
	}
	abort_in_flight(u);
	skip_fetched(qi, vtd_qi_read_head(u));
	neutralize_unwanted(u);
	vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_ITE);
	u->qi.restart = true;
}

/* ICE does not stop the queue: acknowledge it and count it on ICESID. */
static void recover_ice(struct vtd_unit *u, uint64_t iqercd)
{
	rid_t sid = rid_from((uint16_t)field_get64(VTD_IQERCD_ICESID, iqercd));

	u->stats.ice++;
	vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_ICE);
	vtd_device_completion_error(u, sid);
}

/* The slow path's one register read: FSTS; IQERCD only if an error is set. */
void vtd_qi_recover(struct vtd_unit *u)
{
	uint32_t fsts = vtd_read32(u, VTD_FSTS_REG);
	uint64_t iqercd;

	if (!(fsts & (VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE))) {
		return;
	}
	iqercd = vtd_read64(u, VTD_IQERCD_REG);
	if (fsts & VTD_FSTS_ICE) {
		recover_ice(u, iqercd);
	}
	if (fsts & VTD_FSTS_ITE) {
		recover_ite(u, iqercd);
	}
	if (fsts & VTD_FSTS_IQE) {
		recover_iqe(u, iqercd);
	}
}

/*
 * The batch at the head missed its deadline.  IOMMU-internal work: the
 * unit itself is slow or stuck, so it takes no new attachments until the
 * work completes.  Device-TLB work: its one device is not answering and is
 * quarantined (with several targets, the ITE will name the guilty one).
 */
static void late(struct vtd_unit *u, struct vtd_qi_batch *b)
{
	struct vtd_qi *qi = &u->qi;

	b->flags |= QI_F_LATE;
	u->stats.deadline[b->cls].misses++;
	if (b->cls == VTD_DEADLINE_DEVTLB) {
		if (b->flags & QI_F_SID) {
			vtd_device_quarantine(
				u, b->sid,
				"device-TLB invalidation missed its deadline");
		} else {
			vtd_err(u,
				"device-TLB invalidation batch %u missed its deadline",
				b->seq);
		}
		return;
	}
	if (qi->late++) {
		return;
	}
	vtd_err(u,
		"invalidation batch %u not complete %llu us after reaching the head of the queue; unit degraded until it completes",
		b->seq,
		(unsigned long long)(u->cfg.deadline_ns[b->cls] / 1000));
}

void vtd_qi_check_deadline(struct vtd_unit *u)
{
	struct vtd_qi_batch *b = vtd_qi_head_batch(&u->qi);

	if (b && b->head_ns && !(b->flags & (QI_F_LATE | QI_F_SYNC)) &&
	    hw_now_ns() - b->head_ns >= u->cfg.deadline_ns[b->cls]) {
		late(u, b);
	}
}
