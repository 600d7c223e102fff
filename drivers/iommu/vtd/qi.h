/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"

/*
 * The invalidation queue's private state and the functions its files
 * share: qi.c (ring, queueing, waiting), qi_recover.c (queue errors, the
 * redo list, deadlines), qi_console.c (what the console reads),
 * qi_desc.c (descriptor builders) and invalidate.c (what each change
 * needs invalidated).
 */

struct vtd_pasid_ref;

/*
 * Invalidation queue: a ring of 128-bit descriptor slots (256-bit in
 * scalable mode, VT-d spec 6.5.2: one page either way).  Every batch ends
 * with a wait descriptor whose status write carries the batch's sequence
 * number into status[slot of that wait], a word in a driver-owned page
 * that is never freed while the unit lives.  Slots from oldest to tail are
 * in flight: none is reused before the hardware has passed it, which only
 * a status write at or after it proves (docs/design.md, invariant 4).  A batch
 * aborted by an invalidation time-out (ITE) keeps its sequence number and is
 * queued again from the redo list.
 */
#define VTD_QI_SLOTS	 256U /* one 4 KiB page of 16-byte descriptors */
#define VTD_QI_BATCH_MAX 16U  /* descriptors per batch before the wait */
/*
 * New work may fill only half the ring, so that every batch an ITE aborts
 * fits again behind the aborted ones, with a slot to spare for a lone
 * wait that proves the hardware passed them.  A ring of 256-bit
 * descriptors (scalable mode) has half the slots and half the work; the
 * arrays are sized for the larger one.
 */
#define VTD_QI_WORK_MAX (VTD_QI_SLOTS / 2)

/* struct vtd_qi_batch.state: where a batch is in its life. */
enum vtd_qi_state {
	QI_FREE,  /* no batch ends at this slot */
	QI_LIVE,  /* in flight, its work pending */
	QI_STALE, /* aborted by an ITE; its work is on the redo list */
	QI_DONE,  /* passed; kept until the slot is reused */
};

/* struct vtd_qi_batch.flags (and vtd_qi_redo.flags: FAILED, DROPPED). */
#define QI_F_SID     0x01U /* sid names its only device-TLB target */
#define QI_F_LATE    0x02U /* missed its deadline at the head */
#define QI_F_FAILED  0x04U /* an IQE replaced one of its descriptors */
#define QI_F_DROPPED 0x08U /* work for a lost device was dropped */
#define QI_F_SYNC    0x10U /* a lone wait, only proving progress */
#define QI_F_SKIPPED 0x20U /* stale, before IQH at an ITE: not run again */

/* Not a slot: the batch is not in the ring. */
#define QI_NO_SLOT VTD_QI_SLOTS

/* One batch, recorded at the slot of the wait that ends it. */
struct vtd_qi_batch {
	uint64_t queued_ns; /* doorbell rung for it; 0: not yet */
	uint64_t head_ns;   /* reached the head of the queue; 0: not yet */
	uint32_t seq;
	rid_t sid;     /* its device-TLB target, if only one */
	uint8_t first; /* slot of its first descriptor */
	uint8_t count; /* descriptors before the wait */
	uint8_t cls;   /* enum vtd_deadline_class */
	uint8_t state; /* enum vtd_qi_state */
	uint8_t flags; /* QI_F_* */
};

/* An aborted batch waiting to be queued again. */
struct vtd_qi_redo {
	uint32_t seq;
	uint8_t count; /* its descriptors, in order, in redo_desc */
	uint8_t cls;
	uint8_t flags; /* QI_F_FAILED, QI_F_DROPPED */
};

struct vtd_qi {
	struct vtd_qi_desc *ring; /* slot s at ring[s << shift] */
	uint64_t ring_pa;
	unsigned int slots; /* VTD_QI_SLOTS >> shift: one page */
	unsigned int shift; /* 1 with 256-bit descriptors (IQA.DW) */
	volatile uint32_t *status;
	uint64_t status_pa;
	uint32_t slot_seq[VTD_QI_SLOTS]; /* status its wait writes; 0: none */
	struct vtd_qi_batch batch[VTD_QI_SLOTS];
	struct vtd_qi_redo redo[VTD_QI_WORK_MAX];
	struct vtd_qi_desc redo_desc[VTD_QI_WORK_MAX];
	unsigned int redo_head, redo_count;
	unsigned int redo_desc_head;
	unsigned int tail;   /* next slot to fill */
	unsigned int rung;   /* tail as last written to IQT */
	unsigned int oldest; /* first slot not yet passed by hardware */
	uint32_t seq;	     /* last sequence number issued */
	uint64_t failures;   /* batches an IQE failed, ever */
	uint32_t wait_seq;   /* the batch the CPU is waiting for */
	int wait_result;
	bool wait_done;
	bool restart; /* IQT must be written again (after IQE) */
	/* IOMMU-internal batches past their deadline; while any: degraded */
	unsigned int late;
};

/* Slot counts are powers of two: 256, or 128 of 256-bit descriptors. */
static inline unsigned int wrap(const struct vtd_qi *qi, unsigned int slot)
{
	return slot & (qi->slots - 1);
}

static inline unsigned int next_slot(const struct vtd_qi *qi, unsigned int slot)
{
	return wrap(qi, slot + 1);
}

static inline unsigned int prev_slot(const struct vtd_qi *qi, unsigned int slot)
{
	return wrap(qi, slot + qi->slots - 1);
}

static inline unsigned int slots_in_flight(const struct vtd_qi *qi)
{
	return wrap(qi, qi->tail + qi->slots - qi->oldest);
}

static inline bool in_flight(const struct vtd_qi *qi, unsigned int slot)
{
	return wrap(qi, slot + qi->slots - qi->oldest) < slots_in_flight(qi);
}

/*
 * The descriptor in a slot: its first 128 bits.  In a ring of 256-bit
 * descriptors the other half stays zero, reserved in every descriptor
 * the driver builds (VT-d spec 6.5.2).
 */
static inline struct vtd_qi_desc *slot_desc(const struct vtd_qi *qi,
					    unsigned int slot)
{
	return &qi->ring[slot << qi->shift];
}

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
/* Fills descs with the next batch (at most VTD_QI_BATCH_MAX); 0: no more. */
typedef unsigned int (*vtd_qi_fill_fn)(void *ctx, struct vtd_qi_desc *descs);
int vtd_qi_submit_batches(struct vtd_unit *u, vtd_qi_fill_fn fill, void *ctx);
bool vtd_qi_passed(struct vtd_unit *u, uint32_t seq);
/* Nothing in flight and nothing waiting to be queued again. */
bool vtd_qi_idle(const struct vtd_unit *u);

/* qi.c: the ring, for recovery and the console. */
uint32_t vtd_qi_next_seq(struct vtd_qi *qi);
uint32_t vtd_qi_first_pending(const struct vtd_qi *qi);
struct vtd_qi_batch *vtd_qi_batch_holding(struct vtd_qi *qi, unsigned int slot);
struct vtd_qi_batch *vtd_qi_head_batch(struct vtd_qi *qi);
bool vtd_qi_live_in_ring(const struct vtd_qi *qi);
void vtd_qi_neutralize(struct vtd_qi *qi, unsigned int slot, uint32_t seq);
void vtd_qi_place(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		  unsigned int count, uint32_t seq, uint8_t flags);
void vtd_qi_doorbell(struct vtd_unit *u);
void vtd_qi_recovered(struct vtd_unit *u, const struct vtd_qi_batch *b);
unsigned int vtd_qi_read_head(struct vtd_unit *u);

/* qi_recover.c: the slow path's steps, in the order qi.c runs them. */
void vtd_qi_recover(struct vtd_unit *u);
void vtd_qi_resubmit(struct vtd_unit *u);
void vtd_qi_check_deadline(struct vtd_unit *u);

/* qi_desc.c: descriptor builders; reserved fields are always zero. */
struct vtd_qi_desc vtd_desc_cc_global(void);
struct vtd_qi_desc vtd_desc_cc_device(uint16_t did, rid_t sid);
struct vtd_qi_desc vtd_desc_iotlb_global(const struct vtd_unit *u);
struct vtd_qi_desc vtd_desc_iotlb_domain(const struct vtd_unit *u,
					 uint16_t did);
struct vtd_qi_desc vtd_desc_iotlb_page(const struct vtd_unit *u, uint16_t did,
				       iova_t addr, unsigned int am);
struct vtd_qi_desc vtd_desc_devtlb(const struct vtd_unit *u, rid_t sid,
				   rid_t pfsid, unsigned int qdepth,
				   iova_t addr, unsigned int order);
struct vtd_qi_desc vtd_desc_pc_global(void);
struct vtd_qi_desc vtd_desc_pc_pasid(uint16_t did, uint32_t pasid);
struct vtd_qi_desc vtd_desc_piotlb_pasid(uint16_t did, uint32_t pasid);
struct vtd_qi_desc vtd_desc_piotlb_page(uint16_t did, uint32_t pasid,
					iova_t addr, unsigned int am);
struct vtd_qi_desc vtd_desc_wait(uint64_t status_pa, uint32_t seq);
struct vtd_qi_desc vtd_desc_iec_global(void);
struct vtd_qi_desc vtd_desc_iec_index(uint16_t index);
bool vtd_desc_is_devtlb(const struct vtd_qi_desc *d, rid_t *sid);

/*
 * invalidate.c: what a change of tables or entries needs invalidated, and
 * the two ways a range becomes page orders: split into aligned chunks
 * (IOTLB, page-selective) or covered by one block (device-TLB).
 */
unsigned int vtd_range_order(iova_t iova, uint64_t len);
int vtd_qi_flush_ranges(struct vtd_unit *u, uint16_t did,
			const struct vtd_range *r, unsigned int count,
			uint32_t *seq);
int vtd_qi_flush_ranges_pasids(struct vtd_unit *u, uint16_t did,
			       const struct vtd_pasid_ref *refs,
			       unsigned int count, const struct vtd_range *r,
			       unsigned int ranges, uint32_t *seq);
int vtd_qi_submit_cc(struct vtd_unit *u, uint16_t cc_did, const rid_t *sids,
		     unsigned int count, const struct vtd_qi_desc *tail,
		     unsigned int tail_count);
int vtd_invalidate_devices(struct vtd_unit *u, uint16_t cc_did,
			   const rid_t *sids, unsigned int count, uint16_t did);
