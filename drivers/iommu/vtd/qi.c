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
 * Queue errors and their recovery: qi_recover.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/string.h"

/* FSTS, deadlines and recovery once per this many status-word polls. */
#define QI_SLOW_EVERY 64U

_Static_assert(VTD_QI_SLOTS * sizeof(struct vtd_qi_desc) == 4096,
	       "the ring is one page (IQA.QS = 0), whatever the width");
_Static_assert(VTD_QI_SLOTS * sizeof(uint32_t) <= 4096,
	       "status words fit one page");
_Static_assert(VTD_QI_SLOTS == 256, "slot numbers fit struct vtd_qi_batch");
_Static_assert(
	VTD_QI_BATCH_MAX + 1 < VTD_QI_WORK_MAX / 2,
	"a batch and its wait fit the work allowed in flight, also in a ring of 256-bit descriptors");

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

bool vtd_qi_idle(const struct vtd_unit *u)
{
	return u->qi.oldest == u->qi.tail && !u->qi.redo_count;
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

uint32_t vtd_qi_next_seq(struct vtd_qi *qi)
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
struct vtd_qi_batch *vtd_qi_batch_holding(struct vtd_qi *qi, unsigned int slot)
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
void vtd_qi_neutralize(struct vtd_qi *qi, unsigned int slot, uint32_t seq)
{
	qi->status[slot] = 0;
	qi->slot_seq[slot] = seq;
	*slot_desc(qi, slot) =
		vtd_desc_wait(qi->status_pa + slot * sizeof(*qi->status), seq);
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
	rid_t sid;

	b->cls = VTD_DEADLINE_IOTLB;
	for (i = 0; i < count; i++) {
		if (!vtd_desc_is_devtlb(&descs[i], &sid)) {
			continue;
		}
		if (b->cls != VTD_DEADLINE_DEVTLB) {
			b->cls = VTD_DEADLINE_DEVTLB;
			b->sid = sid;
			b->flags |= QI_F_SID;
		} else if (!rid_eq(b->sid, sid)) {
			b->flags &= ~QI_F_SID;
		}
	}
}

/*
 * Write a batch at the tail: its descriptors, then its wait.  The caller
 * made sure it fits.  The doorbell rings later.
 */
void vtd_qi_place(struct vtd_unit *u, const struct vtd_qi_desc *descs,
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
	vtd_qi_neutralize(qi, slot, seq);
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
struct vtd_qi_batch *vtd_qi_head_batch(struct vtd_qi *qi)
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
	struct vtd_qi_batch *b = vtd_qi_head_batch(qi);

	if (b && !b->head_ns) {
		b->head_ns = now;
	}
}

/*
 * Publish everything queued with one IQT write (after an IQE even if
 * nothing is new: only a tail write restarts fetching, 6.5.2.10).
 */
void vtd_qi_doorbell(struct vtd_unit *u)
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

void vtd_qi_recovered(struct vtd_unit *u, const struct vtd_qi_batch *b)
{
	struct vtd_qi *qi = &u->qi;

	u->stats.deadline[b->cls].recoveries++;
	if (b->cls != VTD_DEADLINE_IOTLB || --qi->late) {
		return;
	}
	vtd_info(u, "late invalidations finished; unit healthy again");
}

/* The hardware passed a batch: its result is final. */
static void finish(struct vtd_unit *u, struct vtd_qi_batch *b)
{
	struct vtd_qi *qi = &u->qi;

	b->state = QI_DONE;
	if (b->flags & QI_F_LATE) {
		vtd_qi_recovered(u, b);
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
				vtd_qi_recovered(u, b);
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

bool vtd_qi_live_in_ring(const struct vtd_qi *qi)
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
uint32_t vtd_qi_first_pending(const struct vtd_qi *qi)
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
	return seq_after(vtd_qi_first_pending(&u->qi), seq);
}

/* The slot the hardware fetches next (IQH counts 128-bit units). */
unsigned int vtd_qi_read_head(struct vtd_unit *u)
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
	vtd_write64(u, VTD_IQT_REG, 0);
	vtd_write64(u, VTD_IQA_REG, iqa);
	return vtd_gcmd_set(u, VTD_GCMD_QIE, true);
}

/* Errors first, then completions, resubmission, deadlines. */
static void advance(struct vtd_unit *u)
{
	vtd_qi_recover(u);
	retire(u);
	vtd_qi_resubmit(u);
	vtd_qi_check_deadline(u);
}

/* The slow path of queueing and waiting: nothing to do without work out. */
static void progress(struct vtd_unit *u)
{
	if (vtd_unit_live(u) && outstanding(&u->qi)) {
		advance(u);
	}
}

/* Periodic: also an idle queue may have an ICE to acknowledge. */
void vtd_qi_poll(struct vtd_unit *u)
{
	if (vtd_unit_live(u)) {
		advance(u);
	}
}

/* QI may be turned off only with nothing in flight. */
int vtd_qi_stop(struct vtd_unit *u)
{
	progress(u);
	if (!vtd_qi_idle(u)) {
		vtd_err(u, "invalidations still in flight; queue kept on");
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
		vtd_err(u, "invalidation queue full of unfinished batches");
		return -EBUSY;
	}
	s = vtd_qi_next_seq(qi);
	vtd_qi_place(u, descs, count, s, 0);
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
	char what[32];

	vtd_qi_doorbell(u);
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
			fmt_snprintf(what, sizeof(what),
				     "invalidation batch %u", seq);
			vtd_wait_missed(u, cls, start, what);
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

/*
 * Submit the batches fill() produces: as many at once as the work allowed
 * in flight takes (half the ring), published by one doorbell and waited
 * for in order, every wait under one deadline counted from this call
 * (docs/design.md, invariant 3).  Every wait of a round runs, so a late batch
 * does not hide the others' results (each late one is named); the first error
 * ends the submission after its round.
 */
int vtd_qi_submit_batches(struct vtd_unit *u, vtd_qi_fill_fn fill, void *ctx)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	uint32_t seqs[VTD_QI_WORK_MAX / 2];
	struct vtd_qi *qi = &u->qi;
	uint64_t start = hw_now_ns();
	unsigned int k = fill(ctx, descs), n, w;
	int err = 0, e;

	while (k && !err) {
		/* The first batch of a round is queued even without room. */
		for (n = 0; k && n < ARRAY_SIZE(seqs); n++) {
			if (n && slots_in_flight(qi) + k + 1 > qi->slots / 2) {
				break;
			}
			err = vtd_qi_queue(u, descs, k, &seqs[n]);
			if (err) {
				break;
			}
			k = fill(ctx, descs);
		}
		for (w = 0; w < n; w++) {
			e = vtd_qi_wait_since(u, seqs[w], start);
			if (e && !err) {
				err = e;
			}
		}
	}
	return err;
}
