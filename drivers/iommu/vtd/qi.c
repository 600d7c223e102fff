/*
 * Queued invalidation (VT-d spec 6.5.2), polled.  A ring of descriptor
 * slots; each batch ends with a wait descriptor whose status write puts the
 * batch's sequence number into the status word of that wait's slot, in a
 * page the driver owns for the unit's lifetime (never the stack).  A slot
 * is reused only after the hardware passed the wait ending its batch, so a
 * late status write can only ever land on its own word and can never be
 * taken for a newer batch's completion (invariant 4).  Recovery from
 * IQE/ITE/ICE is not done here yet: the failing batch returns an error and
 * its slots stay in flight until the hardware passes them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/string.h"
#include "kernel/log.h"
#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"

/* Poll FSTS for queue errors once per this many status-word polls. */
#define QI_FSTS_POLL_EVERY 64u

_Static_assert(VTD_QI_SLOTS * sizeof(struct vtd_qi_desc) == 4096,
	       "the ring is one page (IQA.QS = 0)");
_Static_assert(VTD_QI_SLOTS * sizeof(uint32_t) <= 4096,
	       "status words fit one page");
_Static_assert(VTD_QI_BATCH_MAX + 2 < VTD_QI_SLOTS,
	       "a batch and its wait fit the ring with the full/empty gap");

int vtd_qi_init(struct vtd_qi *qi)
{
	memset(qi, 0, sizeof(*qi));
	qi->ring_pa = hw_page_alloc();
	if (!qi->ring_pa)
		return -ENOMEM;
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
	if (qi->status_pa)
		hw_page_free(qi->status_pa);
	if (qi->ring_pa)
		hw_page_free(qi->ring_pa);
	memset(qi, 0, sizeof(*qi));
}

static unsigned int next_slot(unsigned int slot)
{
	return (slot + 1) % VTD_QI_SLOTS;
}

static unsigned int slots_in_flight(const struct vtd_qi *qi)
{
	return (qi->tail + VTD_QI_SLOTS - qi->oldest) % VTD_QI_SLOTS;
}

static bool wait_done(const struct vtd_qi *qi, unsigned int slot)
{
	return qi->status[slot] == qi->slot_seq[slot];
}

/* Retire every batch whose wait the hardware has passed, in ring order. */
static void retire(struct vtd_qi *qi)
{
	unsigned int slot;

	for (slot = qi->oldest; slot != qi->tail; slot = next_slot(slot)) {
		if (!qi->slot_seq[slot])
			continue;
		if (!wait_done(qi, slot))
			break;
		qi->done_seq = qi->slot_seq[slot];
		qi->slot_seq[slot] = 0;
		qi->oldest = next_slot(slot);
	}
}

/* Wrap-safe: has the batch with sequence number seq completed? */
bool vtd_qi_passed(struct vtd_unit *u, uint32_t seq)
{
	retire(&u->qi);
	return (int32_t)(u->qi.done_seq - seq) >= 0;
}

/*
 * Start our queue.  IQT is zeroed first because QIE resets IQH to 0 and
 * some implementations process [0, IQT) at once (QEMU); IQA is written
 * only while QI is off (VT-d spec 11.4.4, QIE).
 */
int vtd_qi_start(struct vtd_unit *u)
{
	struct vtd_qi *qi = &u->qi;

	memset(qi->slot_seq, 0, sizeof(qi->slot_seq));
	memset((void *)qi->status, 0, VTD_QI_SLOTS * sizeof(*qi->status));
	qi->tail = 0;
	qi->oldest = 0;
	vtd_write64(u, VTD_IQT_REG, 0);
	vtd_write64(u, VTD_IQA_REG,
		    (qi->ring_pa & VTD_IQA_IQA) | field_prep64(VTD_IQA_QS, 0));
	return vtd_gcmd_set(u, VTD_GCMD_QIE, true);
}

/* QI may be turned off only with nothing in flight. */
int vtd_qi_stop(struct vtd_unit *u)
{
	retire(&u->qi);
	if (u->qi.oldest != u->qi.tail) {
		log_err("vtd", "unit %u: invalidations still in flight; queue kept on",
			u->index);
		return -EBUSY;
	}
	return vtd_gcmd_set(u, VTD_GCMD_QIE, false);
}

static uint32_t next_seq(struct vtd_qi *qi)
{
	qi->seq++;
	if (!qi->seq)
		qi->seq = 1;	/* 0 marks a slot without a wait */
	return qi->seq;
}

/*
 * IQE, ITE and ICE stop or abort the queue (VT-d spec 6.5.2.10); waiting
 * on would only run into the deadline.  They are left set for the
 * recovery that owns them.
 */
static int check_errors(struct vtd_unit *u)
{
	uint32_t fsts = vtd_read32(u, VTD_FSTS_REG);
	uint64_t iqercd;

	if (!(fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE)))
		return 0;
	iqercd = vtd_read64(u, VTD_IQERCD_REG);
	if (fsts & VTD_FSTS_IQE) {
		log_err("vtd", "unit %u: invalidation queue error (IQEI %u) at head %llu",
			u->index,
			(unsigned int)field_get64(VTD_IQERCD_IQEI, iqercd),
			(unsigned long long)field_get64(
				VTD_IQH_QH, vtd_read64(u, VTD_IQH_REG)));
		return -EIO;
	}
	if (fsts & VTD_FSTS_ITE) {
		log_err("vtd", "unit %u: device-TLB invalidation timed out (sid 0x%04x)",
			u->index,
			(unsigned int)field_get64(VTD_IQERCD_ITESID, iqercd));
		return -ETIMEDOUT;
	}
	log_err("vtd", "unit %u: invalidation completion error (sid 0x%04x)",
		u->index, (unsigned int)field_get64(VTD_IQERCD_ICESID, iqercd));
	return -EIO;
}

/*
 * Poll the wait's status word in memory; FSTS only every few polls, so the
 * success path reads no register.  Bounded by the class deadline, with one
 * last look after it passes.
 */
static int wait_batch(struct vtd_unit *u, unsigned int slot,
		      enum vtd_deadline_class cls)
{
	struct vtd_qi *qi = &u->qi;
	uint64_t deadline = vtd_deadline(u, cls);
	unsigned int polls;
	int err;

	u->stats.waits++;
	for (polls = 1; !wait_done(qi, slot); polls++) {
		if (polls % QI_FSTS_POLL_EVERY == 0) {
			err = check_errors(u);
			if (err)
				return err;
		}
		if (hw_time_after(deadline)) {
			if (wait_done(qi, slot))
				break;
			err = check_errors(u);
			if (err)
				return err;
			u->stats.timeouts++;
			log_err("vtd", "unit %u: invalidation batch %u not complete within %llu us",
				u->index, qi->slot_seq[slot],
				(unsigned long long)(u->cfg.deadline_ns[cls] / 1000));
			return -ETIMEDOUT;
		}
		hw_relax();
	}
	retire(qi);
	return 0;
}

static struct vtd_qi_desc wait_desc(const struct vtd_qi *qi, unsigned int slot,
				    uint32_t seq)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_WAIT) |
		      VTD_QI_WAIT_SW | VTD_QI_WAIT_FN |
		      field_prep64(VTD_QI_WAIT_SDATA, seq),
		.hi = (qi->status_pa + slot * sizeof(*qi->status)) &
		      VTD_QI_WAIT_HI_SADDR,
	};

	return d;
}

/*
 * Queue count descriptors and a wait, ring the doorbell once and wait for
 * completion within the deadline of cls.  *seq (if not NULL) receives the
 * batch's sequence number, also on failure, for vtd_qi_passed().
 * -EBUSY when earlier batches that never completed fill the ring.
 */
int vtd_qi_submit(struct vtd_unit *u, const struct vtd_qi_desc *descs,
		  unsigned int count, enum vtd_deadline_class cls,
		  uint32_t *seq)
{
	struct vtd_qi *qi = &u->qi;
	unsigned int i, slot;
	uint32_t s;

	if (seq)
		*seq = 0;	/* never queued */
	if (count > VTD_QI_BATCH_MAX)
		return -EINVAL;
	retire(qi);
	/* One slot stays empty: tail == head means an empty queue. */
	if (slots_in_flight(qi) + count + 1 >= VTD_QI_SLOTS) {
		log_err("vtd", "unit %u: invalidation queue full of unfinished batches",
			u->index);
		return -EBUSY;
	}
	for (i = 0; i < count; i++) {
		qi->ring[qi->tail] = descs[i];
		qi->tail = next_slot(qi->tail);
	}
	slot = qi->tail;
	s = next_seq(qi);
	qi->status[slot] = 0;
	qi->slot_seq[slot] = s;
	qi->ring[slot] = wait_desc(qi, slot, s);
	qi->tail = next_slot(slot);
	if (seq)
		*seq = s;

	/* Descriptors reach memory before the doorbell (the ring is coherent). */
	hw_mb();
	vtd_write64(u, VTD_IQT_REG, field_prep64(VTD_IQT_QT, qi->tail));
	u->stats.descriptors += count + 1;
	u->stats.batches++;
	u->stats.doorbells++;
	return wait_batch(u, slot, cls);
}

/* Drain in-flight DMA with the invalidation where the unit can. */
static uint64_t iotlb_drain(const struct vtd_unit *u)
{
	uint64_t bits = 0;

	if (u->cap & VTD_CAP_DRD)
		bits |= VTD_QI_IOTLB_DR;
	if (u->cap & VTD_CAP_DWD)
		bits |= VTD_QI_IOTLB_DW;
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

/*
 * Split [iova, iova + len) into naturally aligned power-of-two chunks no
 * larger than 2^MAMV pages.  Returns the descriptor count, or 0 when the
 * range needs more than a batch holds.
 */
static unsigned int page_chunks(const struct vtd_unit *u, uint16_t did,
				uint64_t iova, uint64_t len,
				struct vtd_qi_desc *descs)
{
	uint64_t page = iova >> VTD_PAGE_SHIFT;
	uint64_t pages = len >> VTD_PAGE_SHIFT;
	unsigned int mamv = vtd_cap_mamv(u->cap);
	unsigned int n = 0, am;

	while (pages) {
		if (n == VTD_QI_BATCH_MAX)
			return 0;
		am = page ? bits_lowest_set(page) : 63;
		if (am > mamv)
			am = mamv;
		while ((UINT64_C(1) << am) > pages)
			am--;
		descs[n++] = iotlb_page(u, did, page << VTD_PAGE_SHIFT, am);
		page += UINT64_C(1) << am;
		pages -= UINT64_C(1) << am;
	}
	return n;
}

/*
 * Invalidate a domain's IOVA range on one unit: page-selective chunks when
 * the unit has PSI and the range fits one batch, else the whole domain.
 */
int vtd_qi_flush_range(struct vtd_unit *u, uint16_t did, uint64_t iova,
		       uint64_t len, uint32_t *seq)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	unsigned int n = 0;

	if (vtd_cap_psi(u->cap))
		n = page_chunks(u, did, iova, len, descs);
	if (!n) {
		descs[0] = vtd_qi_iotlb_domain(u, did);
		n = 1;
	}
	return vtd_qi_submit(u, descs, n, VTD_DEADLINE_IOTLB, seq);
}
