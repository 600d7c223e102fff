/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Queued invalidation (VT-d spec 6.5.2), polled, with hard deadlines and
 * recovery from every queue error.
 *
 * Slots.  A batch is a run of slots ending in a wait descriptor whose
 * status write puts the batch's sequence number into the status word of
 * that wait's slot, in a page the driver owns for the unit's lifetime
 * (never the stack).  The hardware processes the ring in order and a wait
 * completes only after everything before it (6.5.2.8), so a status write
 * at slot s proves the hardware passed every slot up to s.  Nothing else
 * does ("head reached tail" is fetching, not completion), and a slot is
 * reused only once passed: a late status write lands on its own word and
 * is never taken for a newer batch's completion (docs/design.md, invariant 4).
 *
 * Deadlines.  A batch's deadline counts from when it reaches the head of
 * the queue, that is when every slot before it was passed; missing it
 * makes the unit degraded (IOMMU-internal work) or quarantines the device
 * (device-TLB work).  The CPU waiting for a batch gives up after the same
 * deadline counted from the start of its wait, whatever is ahead of it.
 * Issued descriptors cannot be cancelled: a late batch stays in flight and
 * the unit or device recovers when the hardware completes it or reports
 * an invalidation time-out.
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
#include "kernel/log.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/string.h"

/* FSTS, deadlines and recovery once per this many status-word polls. */
#define QI_SLOW_EVERY 64U
/* Not a slot: the batch is not in the ring. */
#define QI_NO_SLOT VTD_QI_SLOTS

/* struct vtd_qi_batch.state */
enum qi_state {
	QI_FREE,  /* no batch ends at this slot */
	QI_LIVE,  /* in flight, its work pending */
	QI_STALE, /* aborted by an ITE; its work is on the redo list */
	QI_DONE,  /* passed; kept until the slot is reused */
};

/* struct vtd_qi_batch.flags */
#define QI_F_SID     0x01U /* sid names its only device-TLB target */
#define QI_F_LATE    0x02U /* missed its deadline at the head */
#define QI_F_FAILED  0x04U /* an IQE replaced one of its descriptors */
#define QI_F_DROPPED 0x08U /* work for a lost device was dropped */
#define QI_F_SYNC    0x10U /* a lone wait, only proving progress */
#define QI_F_SKIPPED 0x20U /* stale, before IQH at an ITE: not run again */

_Static_assert(VTD_QI_SLOTS * sizeof(struct vtd_qi_desc) == 4096,
	       "the ring is one page (IQA.QS = 0), whatever the width");
_Static_assert(VTD_QI_SLOTS * sizeof(uint32_t) <= 4096,
	       "status words fit one page");
_Static_assert(VTD_QI_SLOTS == 256, "slot numbers fit struct vtd_qi_batch");
_Static_assert(
	VTD_QI_BATCH_MAX + 1 < VTD_QI_WORK_MAX / 2,
	"a batch and its wait fit the work allowed in flight, also in a ring of 256-bit descriptors");

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

/* The ring's shape follows the unit's mode, chosen before. */
int vtd_qi_init(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;

	memset(qi, 0, sizeof(*qi));
	qi->shift = u->mode == VTD_MODE_SCALABLE ? 1 : 0;
	qi->slots = VTD_QI_SLOTS >> qi->shift;
	qi->ring_pa = hw_page_alloc();
	if (!qi->ring_pa) {
		return -ENOMEM;
	}
	qi->status_pa = hw_page_alloc();
	if (!qi->status_pa) {
		hw_page_free(qi->ring_pa);
		qi->ring_pa = 0;
		return -ENOMEM;
	}
	qi->ring = hw_phys_to_virt(qi->ring_pa);
	qi->status = hw_phys_to_virt(qi->status_pa);
	return 0;
}

void vtd_qi_fini(struct vtd_qi *qi)
{
	if (qi->status_pa) {
		hw_page_free(qi->status_pa);
	}
	if (qi->ring_pa) {
		hw_page_free(qi->ring_pa);
	}
	memset(qi, 0, sizeof(*qi));
}

/* Slot counts are powers of two: 256, or 128 of 256-bit descriptors. */
static unsigned int wrap(const struct vtd_qi *qi, unsigned int slot)
{
	return slot & (qi->slots - 1);
}

static unsigned int next_slot(const struct vtd_qi *qi, unsigned int slot)
{
	return wrap(qi, slot + 1);
}

static unsigned int prev_slot(const struct vtd_qi *qi, unsigned int slot)
{
	return wrap(qi, slot + qi->slots - 1);
}

static unsigned int slots_in_flight(const struct vtd_qi *qi)
{
	return wrap(qi, qi->tail + qi->slots - qi->oldest);
}

static bool in_flight(const struct vtd_qi *qi, unsigned int slot)
{
	return wrap(qi, slot + qi->slots - qi->oldest) < slots_in_flight(qi);
}

/*
 * The descriptor in a slot: its first 128 bits.  In a ring of 256-bit
 * descriptors the other half stays zero, reserved in every descriptor
 * the driver builds (VT-d spec 6.5.2).
 */
static struct vtd_qi_desc *slot_desc(const struct vtd_qi *qi, unsigned int slot)
{
	return &qi->ring[slot << qi->shift];
}

static bool idle(const struct vtd_qi *qi)
{
	return qi->oldest == qi->tail && !qi->redo_count;
}

/* Work the hardware was given and has not finished, or work to give again. */
static bool outstanding(const struct vtd_qi *qi)
{
	return qi->oldest != qi->rung || qi->redo_count;
}

/* Wrap-safe: was a issued after b? */
static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static uint32_t next_seq(struct vtd_qi *qi)
{
	qi->seq++;
	if (!qi->seq) {
		qi->seq = 1; /* 0 marks a slot without a wait */
	}
	return qi->seq;
}

static int batch_result(const struct vtd_qi_batch *b)
{
	if (b->flags & QI_F_FAILED) {
		return -EIO;
	}
	if (b->flags & QI_F_DROPPED) {
		return -ETIMEDOUT;
	}
	return 0;
}

/* The wait ending the batch that holds slot (batches end with a wait). */
static struct vtd_qi_batch *batch_holding(struct vtd_qi *qi, unsigned int slot)
{
	while (qi->batch[slot].state != QI_LIVE &&
	       qi->batch[slot].state != QI_STALE) {
		slot = next_slot(qi, slot);
	}
	return &qi->batch[slot];
}

/*
 * Make slot a wait writing seq into the slot's own status word: the wait
 * ending a batch, or a harmless stand-in for a descriptor that must not
 * run, which if executed proves the hardware passed it.  Only where the
 * hardware does not fetch: past the tail, or while IQE or ITE stops it.
 */
static void neutralize(struct vtd_qi *qi, unsigned int slot, uint32_t seq)
{
	qi->status[slot] = 0;
	qi->slot_seq[slot] = seq;
	*slot_desc(qi, slot) = vtd_qi_wait_desc(
		qi->status_pa + slot * sizeof(*qi->status), seq);
}

/*
 * The deadline class and device-TLB target of a batch follow from what it
 * holds: a device-TLB invalidation waits on an endpoint, everything else
 * only on the unit.
 */
static void classify(struct vtd_qi_batch *b, const struct vtd_qi_desc *descs,
		     unsigned int count)
{
	unsigned int i;
	uint16_t sid;

	b->cls = VTD_DEADLINE_IOTLB;
	for (i = 0; i < count; i++) {
		if (!vtd_qi_is_devtlb(&descs[i], &sid)) {
			continue;
		}
		if (b->cls != VTD_DEADLINE_DEVTLB) {
			b->cls = VTD_DEADLINE_DEVTLB;
			b->sid = sid;
			b->flags |= QI_F_SID;
		} else if (b->sid != sid) {
			b->flags &= ~QI_F_SID;
		}
	}
}

/*
 * Write a batch at the tail: its descriptors, then its wait.  The caller
 * made sure it fits.  The doorbell rings later.
 */
static void place(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		  unsigned int count, uint32_t seq, uint8_t flags)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int first = qi->tail, i, slot;
	struct vtd_qi_batch *b;

	for (i = 0; i < count; i++) {
		qi->batch[qi->tail].state = QI_FREE;
		*slot_desc(qi, qi->tail) = descs[i];
		qi->tail = next_slot(qi, qi->tail);
	}
	slot = qi->tail;
	qi->tail = next_slot(qi, slot);
	neutralize(qi, slot, seq);
	b = &qi->batch[slot];
	memset(b, 0, sizeof(*b));
	b->seq = seq;
	b->first = (uint8_t)first;
	b->count = (uint8_t)count;
	b->state = QI_LIVE;
	b->flags = flags;
	classify(b, descs, count);
	u->stats.descriptors += count + 1;
	u->stats.batches++;
}

/*
 * The batch at the head of the queue: the first one in flight that the
 * hardware still runs, live or aborted by an ITE (whose work then runs
 * twice, and a device that hangs there must be named all the same).
 */
static struct vtd_qi_batch *head_batch(struct vtd_qi *qi)
{
	unsigned int slot;
	struct vtd_qi_batch *b;

	for (slot = qi->oldest; slot != qi->rung; slot = next_slot(qi, slot)) {
		b = &qi->batch[slot];
		if (b->state != QI_FREE && !(b->flags & QI_F_SKIPPED)) {
			return b;
		}
	}
	return NULL;
}

static void mark_head(struct vtd_qi *qi, uint64_t now)
{
	struct vtd_qi_batch *b = head_batch(qi);

	if (b && !b->head_ns) {
		b->head_ns = now;
	}
}

/*
 * Publish everything queued with one IQT write (after an IQE even if
 * nothing is new: only a tail write restarts fetching, 6.5.2.10).
 */
static void doorbell(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;
	uint64_t now;
	unsigned int slot;

	if (qi->rung == qi->tail && !qi->restart) {
		return;
	}
	now = hw_now_ns();
	for (slot = qi->rung; slot != qi->tail; slot = next_slot(qi, slot)) {
		if (qi->batch[slot].state == QI_LIVE) {
			qi->batch[slot].queued_ns = now;
		}
	}
	/* Descriptors reach memory before the tail moves (coherent ring). */
	hw_mb();
	vtd_write64(u, VTD_IQT_REG,
		    field_prep64(VTD_IQT_QT, qi->tail << qi->shift));
	qi->rung = qi->tail;
	qi->restart = false;
	u->stats.doorbells++;
	mark_head(qi, now);
}

static void recovered(struct vtd_unit *u, const struct vtd_qi_batch *b)
{
	struct vtd_qi *qi = &u->qi;

	u->stats.deadline[b->cls].recoveries++;
	if (b->cls != VTD_DEADLINE_IOTLB || --qi->late) {
		return;
	}
	qi->degraded = false;
	log_info("vtd",
		 "unit %u: late invalidations finished; unit healthy again",
		 u->index);
}

/* The hardware passed a batch: its result is final. */
static void finish(struct vtd_unit *u, struct vtd_qi_batch *b)
{
	struct vtd_qi *qi = &u->qi;

	b->state = QI_DONE;
	if (b->flags & QI_F_LATE) {
		recovered(u, b);
	}
	if (b->seq == qi->wait_seq && !(b->flags & QI_F_SYNC)) {
		qi->wait_result = batch_result(b);
		qi->wait_done = true;
	}
}

/*
 * Retire every slot up to the furthest one whose status write arrived;
 * memory reads only.  Stale slots whose waits were aborted are passed by
 * any later status write.
 */
static void retire(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int slot, passed = QI_NO_SLOT;
	struct vtd_qi_batch *b;

	for (slot = qi->oldest; slot != qi->rung; slot = next_slot(qi, slot)) {
		if (qi->slot_seq[slot] &&
		    qi->status[slot] == qi->slot_seq[slot]) {
			passed = slot;
		}
	}
	if (passed == QI_NO_SLOT) {
		return;
	}
	for (slot = qi->oldest;; slot = next_slot(qi, slot)) {
		b = &qi->batch[slot];
		qi->slot_seq[slot] = 0;
		if (b->state == QI_LIVE) {
			finish(u, b);
		} else if (b->state == QI_STALE) {
			if (b->flags & QI_F_LATE) {
				recovered(u, b);
			}
			b->state = QI_FREE;
		}
		if (slot == passed) {
			break;
		}
	}
	qi->oldest = next_slot(qi, passed);
	mark_head(qi, hw_now_ns());
}

static bool live_in_ring(const struct vtd_qi *qi)
{
	unsigned int slot;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		if (qi->batch[slot].state == QI_LIVE) {
			return true;
		}
	}
	return false;
}

/* Sequence number of the oldest batch whose work is not finished. */
static uint32_t first_pending(const struct vtd_qi *qi)
{
	unsigned int slot;
	const struct vtd_qi_batch *b;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		b = &qi->batch[slot];
		if (b->state == QI_LIVE && !(b->flags & QI_F_SYNC)) {
			return b->seq;
		}
	}
	if (qi->redo_count) {
		return qi->redo[qi->redo_head].seq;
	}
	return qi->seq + 1 ? qi->seq + 1 : 1;
}

/*
 * Has the hardware passed the batch with sequence number seq?  Batches
 * finish in order of their numbers (resubmission keeps them), so it has
 * once every older one is gone.  Whether its work succeeded is its result
 * (vtd_qi_wait()); an IQE failure is counted in qi->failures.
 */
bool vtd_qi_passed(struct vtd_unit *u, uint32_t seq)
{
	retire(u);
	return seq_after(first_pending(&u->qi), seq);
}

/* The slot the hardware fetches next (IQH counts 128-bit units). */
static unsigned int read_head(struct vtd_unit *u)
{
	return (unsigned int)field_get64(VTD_IQH_QH,
					 vtd_read64(u, VTD_IQH_REG)) >>
	       u->qi.shift;
}

/*
 * Start our queue.  IQT is zeroed first because QIE resets IQH to 0 and
 * some implementations process [0, IQT) at once (QEMU); IQA is written
 * only while QI is off (VT-d spec 11.4.4, QIE).  In scalable mode the
 * descriptors are 256-bit: 128-bit ones are invalid there (VT-d spec
 * 6.5.2), so IQA.DW is set before the root table switches mode.
 */
int vtd_qi_start(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;
	uint64_t iqa =
		(qi->ring_pa & VTD_IQA_IQA) | field_prep64(VTD_IQA_QS, 0);

	if (qi->shift) {
		iqa |= VTD_IQA_DW;
	}
	memset(qi->ring, 0, VTD_PAGE_SIZE);
	memset(qi->slot_seq, 0, sizeof(qi->slot_seq));
	memset(qi->batch, 0, sizeof(qi->batch));
	memset((void *)qi->status, 0, VTD_QI_SLOTS * sizeof(*qi->status));
	qi->redo_count = 0;
	qi->tail = 0;
	qi->rung = 0;
	qi->oldest = 0;
	qi->restart = false;
	qi->late = 0;
	qi->degraded = false;
	vtd_write64(u, VTD_IQT_REG, 0);
	vtd_write64(u, VTD_IQA_REG, iqa);
	return vtd_gcmd_set(u, VTD_GCMD_QIE, true);
}

/* ---- recovery ---- */

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
			recovered(u, b);
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
	uint16_t sid;

	return !vtd_qi_is_devtlb(d, &sid) || vtd_devtlb_wanted(u, sid);
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
			neutralize(qi, slot, batch_holding(qi, slot)->seq);
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
static void resubmit(struct vtd_unit *u)
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
		place(u, descs, n, r->seq, flags);
		qi->redo_head = (qi->redo_head + 1) % VTD_QI_WORK_MAX;
		qi->redo_count--;
		u->stats.resubmitted++;
		placed = true;
	}
	if (qi->redo_count && !live_in_ring(qi) &&
	    slots_in_flight(qi) + 2 <= qi->slots) {
		place(u, NULL, 0, next_seq(qi), QI_F_SYNC);
		placed = true;
	}
	if (placed || qi->restart) {
		doorbell(u);
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
	unsigned int head = read_head(u);
	struct vtd_qi_batch *b;

	u->stats.iqe++;
	if (iqei == VTD_IQEI_TAIL || !in_flight(qi, head)) {
		log_err("vtd",
			"unit %u: invalidation queue error (IQEI %u, %s) at slot %u; restarting the queue",
			u->index, iqei, iqe_reason(iqei), head);
	} else {
		b = batch_holding(qi, head);
		log_err("vtd",
			"unit %u: invalidation queue error (IQEI %u, %s): descriptor %016llx:%016llx in slot %u of batch %u replaced by a wait; the batch fails",
			u->index, iqei, iqe_reason(iqei),
			(unsigned long long)slot_desc(qi, head)->hi,
			(unsigned long long)slot_desc(qi, head)->lo, head,
			b->seq);
		neutralize(qi, head, b->seq);
		/* A stale copy fails nobody: its redo copy speaks for it. */
		if (b->state == QI_LIVE) {
			fail(qi, b);
		}
	}
	vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_IQE);
	qi->restart = true;
}

/* A device-TLB invalidation to sid is in the ring. */
static bool devtlb_in_flight(struct vtd_qi *qi, uint16_t sid)
{
	unsigned int slot;
	uint16_t target;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		if (vtd_qi_is_devtlb(slot_desc(qi, slot), &target) &&
		    target == sid) {
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
	uint16_t sid = (uint16_t)field_get64(VTD_IQERCD_ITESID, iqercd);
	struct vtd_qi *qi = &u->qi;

	u->stats.ite++;
	if (sid || devtlb_in_flight(qi, sid)) {
		log_err("vtd",
			"unit %u: invalidation time-out error (ITE): device %02x:%02x.%u did not answer a device-TLB invalidation; recovering the queue",
			u->index, sid >> 8, (sid >> 3) & 0x1f, sid & 7);
		vtd_device_quarantine(u, sid,
				      "invalidation time-out error (ITE)");
	} else {
		log_err("vtd",
			"unit %u: invalidation time-out error (ITE), device not reported; recovering the queue",
			u->index);
	}
	abort_in_flight(u);
	skip_fetched(qi, read_head(u));
	neutralize_unwanted(u);
	vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_ITE);
	u->qi.restart = true;
}

/* ICE does not stop the queue: acknowledge it and count it on ICESID. */
static void recover_ice(struct vtd_unit *u, uint64_t iqercd)
{
	uint16_t sid = (uint16_t)field_get64(VTD_IQERCD_ICESID, iqercd);

	u->stats.ice++;
	vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_ICE);
	vtd_device_completion_error(u, sid);
}

/* The slow path's one register read: FSTS; IQERCD only if an error is set. */
static void recover(struct vtd_unit *u)
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
			log_err("vtd",
				"unit %u: device-TLB invalidation batch %u missed its deadline",
				u->index, b->seq);
		}
		return;
	}
	if (qi->late++) {
		return;
	}
	qi->degraded = true;
	log_err("vtd",
		"unit %u: invalidation batch %u not complete %llu us after reaching the head of the queue; unit degraded until it completes",
		u->index, b->seq,
		(unsigned long long)(u->cfg.deadline_ns[b->cls] / 1000));
}

static void check_head_deadline(struct vtd_unit *u)
{
	struct vtd_qi_batch *b = head_batch(&u->qi);

	if (b && b->head_ns && !(b->flags & (QI_F_LATE | QI_F_SYNC)) &&
	    hw_now_ns() - b->head_ns >= u->cfg.deadline_ns[b->cls]) {
		late(u, b);
	}
}

/* Errors first, then completions, resubmission, deadlines. */
static void advance(struct vtd_unit *u)
{
	recover(u);
	retire(u);
	resubmit(u);
	check_head_deadline(u);
}

/* The slow path of queueing and waiting: nothing to do without work out. */
static void progress(struct vtd_unit *u)
{
	if (u->live && outstanding(&u->qi)) {
		advance(u);
	}
}

/* Periodic: also an idle queue may have an ICE to acknowledge. */
void vtd_qi_poll(struct vtd_unit *u)
{
	if (u->live) {
		advance(u);
	}
}

/* QI may be turned off only with nothing in flight. */
int vtd_qi_stop(struct vtd_unit *u)
{
	progress(u);
	if (!idle(&u->qi)) {
		log_err("vtd",
			"unit %u: invalidations still in flight; queue kept on",
			u->index);
		return -EBUSY;
	}
	return vtd_gcmd_set(u, VTD_GCMD_QIE, false);
}

/*
 * Queue count descriptors (no waits: status words belong to the driver)
 * and a wait, without ringing the doorbell.  *seq (if not NULL) receives
 * the batch's sequence number for vtd_qi_wait() and vtd_qi_passed().
 * -EBUSY while the ring holds as much unfinished work as is allowed, or
 * batches aborted by an ITE wait to be queued again.
 */
int vtd_qi_queue(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		 unsigned int count, uint32_t *seq)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int i;
	uint32_t s;

	if (seq) {
		*seq = 0; /* never queued */
	}
	if (count > VTD_QI_BATCH_MAX) {
		return -EINVAL;
	}
	for (i = 0; i < count; i++) {
		if (field_get64(VTD_QI_TYPE, descs[i].lo) == VTD_QI_TYPE_WAIT) {
			return -EINVAL;
		}
	}
	/* Only with work outstanding: the success path reads no register. */
	progress(u);
	if (qi->redo_count || slots_in_flight(qi) + count + 1 > qi->slots / 2) {
		log_err("vtd",
			"unit %u: invalidation queue full of unfinished batches",
			u->index);
		return -EBUSY;
	}
	s = next_seq(qi);
	place(u, descs, count, s, 0);
	if (seq) {
		*seq = s;
	}
	return 0;
}

/* The live batch numbered seq: its wait slot, or QI_NO_SLOT. */
static unsigned int find_live(const struct vtd_qi *qi, uint32_t seq)
{
	const struct vtd_qi_batch *b;
	unsigned int slot;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(qi, slot)) {
		b = &qi->batch[slot];
		if (b->state == QI_LIVE && b->seq == seq) {
			return slot;
		}
	}
	return QI_NO_SLOT;
}

/* Its deadline class, if it is still pending; false if it finished. */
static bool pending_class(const struct vtd_qi *qi, uint32_t seq,
			  enum vtd_deadline_class *cls)
{
	unsigned int slot = find_live(qi, seq), i;
	const struct vtd_qi_redo *r;

	if (slot != QI_NO_SLOT) {
		*cls = qi->batch[slot].cls;
		return true;
	}
	for (i = 0; i < qi->redo_count; i++) {
		r = &qi->redo[(qi->redo_head + i) % VTD_QI_WORK_MAX];
		if (r->seq == seq) {
			*cls = r->cls;
			return true;
		}
	}
	return false;
}

/*
 * The result of a batch the hardware passed, kept in its wait slot until
 * the slot is used again.  A waiter that comes later than that (only
 * after an ITE refilled the ring) cannot know it: failed, so nothing is
 * freed on a guess.
 */
static int done_result(const struct vtd_qi *qi, uint32_t seq)
{
	unsigned int slot;

	for (slot = 0; slot < qi->slots; slot++) {
		if (qi->batch[slot].state == QI_DONE &&
		    qi->batch[slot].seq == seq) {
			return batch_result(&qi->batch[slot]);
		}
	}
	return -EIO;
}

static bool status_written(const struct vtd_qi *qi, unsigned int slot,
			   uint32_t seq)
{
	return slot != QI_NO_SLOT && qi->status[slot] == seq;
}

/*
 * Ring the doorbell and wait for batch seq: poll its status word in memory,
 * take the slow path every QI_SLOW_EVERY polls, and give up when the
 * deadline of its class has passed since start (when the caller's wait
 * began: several batches of one call share one deadline), after one last
 * look.  0 when it completed, -EIO when an IQE failed it, -ETIMEDOUT when
 * its deadline passed or its device-TLB target was lost meanwhile.
 */
int vtd_qi_wait_since(struct vtd_unit *u, uint32_t seq, uint64_t start)
{
	struct vtd_qi *qi = &u->qi;
	enum vtd_deadline_class cls;
	uint64_t deadline;
	unsigned int polls, slot;

	doorbell(u);
	qi->wait_seq = seq;
	qi->wait_done = false;
	if (!pending_class(qi, seq, &cls)) {
		return done_result(qi, seq);
	}
	deadline = vtd_deadline(u, cls, start);
	slot = find_live(qi, seq);
	u->stats.waits++;
	for (polls = 1; !qi->wait_done; polls++) {
		if (status_written(qi, slot, seq)) {
			retire(u);
		} else if (polls % QI_SLOW_EVERY == 0) {
			progress(u);
		}
		if (qi->wait_done) {
			break;
		}
		if (hw_time_after(deadline)) {
			progress(u);
			if (qi->wait_done) {
				break;
			}
			u->stats.timeouts++;
			vtd_wait_done(u, cls, start);
			log_err("vtd",
				"unit %u: invalidation batch %u not complete within %llu us",
				u->index, seq,
				(unsigned long long)u->cfg.deadline_ns[cls] /
					1000);
			return -ETIMEDOUT;
		}
		/* An ITE may have moved it. */
		if (slot == QI_NO_SLOT || qi->batch[slot].state != QI_LIVE ||
		    qi->batch[slot].seq != seq) {
			slot = find_live(qi, seq);
		}
		hw_relax();
	}
	vtd_wait_done(u, cls, start);
	return qi->wait_result;
}

int vtd_qi_wait(struct vtd_unit *u, uint32_t seq)
{
	return vtd_qi_wait_since(u, seq, hw_now_ns());
}

int vtd_qi_submit(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		  unsigned int count, uint32_t *seq)
{
	uint32_t s;
	int err;

	err = vtd_qi_queue(u, descs, count, &s);
	if (seq) {
		*seq = s;
	}
	if (err) {
		return err;
	}
	return vtd_qi_wait(u, s);
}

/* IOTLB invalidate descriptor bits 15:12 are reserved (6.5.2.3). */
#define IOTLB_RSVD_BIT BIT64(12)

int vtd_qi_selftest_iqe(struct vtd_unit *u)
{
	struct vtd_qi_desc d = vtd_qi_iotlb_global(u);
	uint64_t iqe = u->stats.iqe;
	int err;

	d.lo |= IOTLB_RSVD_BIT;
	err = vtd_qi_submit(u, &d, 1, NULL);
	if (err != -EIO || u->stats.iqe == iqe) {
		log_err("vtd",
			"unit %u: a reserved bit in an invalidation raised no queue error (%d)",
			u->index, err);
		return -EIO;
	}
	d = vtd_qi_iotlb_global(u);
	return vtd_qi_submit(u, &d, 1, NULL);
}

/* ---- console ---- */

void vtd_qi_info(struct vtd_unit *u, struct vtd_qi_info *info)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int slot;

	memset(info, 0, sizeof(*info));
	if (u->live) {
		info->head = read_head(u);
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
	info->done_seq = first_pending(qi) - 1;
	info->degraded = qi->degraded;
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
