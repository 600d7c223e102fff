/*
 * The isolation layer (drivers/iommu/iommu.c) over the real VT-d driver,
 * against the VT-d model and the fake PCI topology of world.h: one test
 * per scenario of issue 11.  Each asserts what a user would check (where
 * DMA bytes land, what a command returns, what the log says) and teardown
 * checks that every object, table page and reference came back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/pci/ats.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/iso/world.h"
#include "tests/model/model.h"
#include "tests/unit/pci_fake.h"

#define DMA_LEN 64U
#define DMA_NS	(100 * W_MS) /* an edu-like transfer */

/* How many of the first DMA_LEN bytes at hpa are byte. */
static unsigned int bytes_of(uint64_t hpa, uint8_t byte)
{
	unsigned int i, n = 0;

	for (i = 0; i < DMA_LEN; i++) {
		n += w_byte(hpa + i) == byte;
	}
	return n;
}

/* A write of byte by rid to W_GPA is refused: rid is blocked. */
static void assert_blocked(rid_t rid, uint8_t byte)
{
	uint8_t buf[DMA_LEN];

	memset(buf, byte, sizeof(buf));
	assert_int_equal(model_dma_write(0, rid, W_GPA, buf, DMA_LEN), -EFAULT);
}

/* ---- ownership changes: DMA in flight never reaches the next owner ---- */

/*
 * A device without FLR (only Transactions Pending) with a DMA in flight
 * goes from guest a to guest b: the transfer is drained while the group is
 * blocked with mastering off, and b's memory never sees a's bytes.
 */
static void test_handover_without_flr_keeps_a_out_of_b(void **state)
{
	uint64_t ha, hb;
	struct iommu_owner *a = w_guest("a", &ha), *b = w_guest("b", &hb);
	struct iommu_hold *h = w_assign(a, W_TP);

	w_dma(W_TP, W_GPA, 0xaa, DMA_LEN, DMA_NS);
	w_unassign(h);
	h = w_assign(b, W_TP);
	w_run(2 * DMA_NS);
	assert_int_equal(bytes_of(hb, 0xaa), 0);
	assert_int_equal(bytes_of(ha, 0xaa), 0);
	assert_string_equal(h->method, "pending");
	/* b's own DMA works. */
	w_dma(W_TP, W_GPA, 0xbb, DMA_LEN, W_MS);
	w_run(2 * W_MS);
	assert_int_equal(bytes_of(hb, 0xbb), DMA_LEN);
	w_unassign(h);
	w_guest_del(a);
	w_guest_del(b);
}

/*
 * A device with no reset and no way to tell its DMA is over cannot be
 * handed on: refused with what is missing, unless forced (logged).
 */
static void test_unprovable_handover_refused_unless_forced(void **state)
{
	uint64_t ha, hb;
	struct iommu_owner *a = w_guest("a", &ha), *b = w_guest("b", &hb);
	struct iommu_hold *h = w_assign_force(a, W_NONE, true), *hb_hold = NULL;
	const char *why = NULL;

	w_dma(W_NONE, W_GPA, 0xaa, DMA_LEN, DMA_NS);
	w_unassign(h);
	assert_int_equal(
		iommu_assign(&W.im, b, w_dev(W_NONE), false, &hb_hold, &why),
		-EAGAIN);
	assert_non_null(why);
	assert_non_null(strstr(why, "no FLR"));
	w_run(2 * DMA_NS);
	assert_int_equal(bytes_of(hb, 0xaa), 0);
	/* Forced: taken, and the log says so. */
	assert_int_equal(
		iommu_assign(&W.im, b, w_dev(W_NONE), true, &hb_hold, &why), 0);
	assert_string_equal(hb_hold->method, "forced");
	assert_int_equal(
		w_log(LOG_WARN,
		      "0000:00:04.0: handed over without proof its DMA stopped"),
		2);
	model_expect_attach(0, W_NONE, b);
	w_unassign(hb_hold);
	w_guest_del(a);
	w_guest_del(b);
}

/*
 * Kernel to guest: a device the console attached, with a DMA in flight,
 * is assigned to a guest: quiesced first, the guest never sees the bytes.
 */
static void test_console_to_guest_quiesces(void **state)
{
	uint64_t hc, hg;
	unsigned int id = w_domain(&hc);
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h;

	w_attach(W_TP, id);
	w_dma(W_TP, W_GPA, 0xcc, DMA_LEN, DMA_NS);
	h = w_assign(g, W_TP);
	w_run(2 * DMA_NS);
	assert_int_equal(bytes_of(hg, 0xcc), 0);
	assert_string_equal(h->method, "pending");
	w_unassign(h);
	w_guest_del(g);
}

/*
 * Guest to kernel: after unassign, a device whose DMA cannot be proven
 * over is not attached to a console domain either.
 */
static void test_guest_to_console_refused_while_unproven(void **state)
{
	uint64_t hc, hg;
	unsigned int id = w_domain(&hc);
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign_force(g, W_NONE, true);
	const char *why = NULL;

	w_dma(W_NONE, W_GPA, 0xdd, DMA_LEN, DMA_NS);
	w_unassign(h);
	assert_int_equal(iommu_attach(&W.im, w_dev(W_NONE), id, &why), -EAGAIN);
	assert_non_null(why);
	w_run(2 * DMA_NS);
	assert_int_equal(bytes_of(hc, 0xdd), 0);
	w_guest_del(g);
}

/*
 * A group that was claimed and released without ever being attached is
 * no quieter than before: DMA the console's domain started is still in
 * flight, and the next owner's assign must prove it stopped.
 */
static void test_claimed_unattached_group_stays_dirty(void **state)
{
	uint64_t hc, hg;
	unsigned int id = w_domain(&hc);
	struct iommu_owner *g;
	struct iommu_hold *h;

	w_attach(W_TP, id);
	w_dma(W_TP, W_GPA, 0xcc, DMA_LEN, DMA_NS);
	assert_int_equal(iommu_claim(&W.im, w_dev(W_TP), "x", false), 0);
	assert_int_equal(iommu_release(&W.im, w_dev(W_TP)), 0);
	g = w_guest("g", &hg);
	h = w_assign(g, W_TP);
	assert_string_equal(h->method, "pending");
	w_run(2 * DMA_NS);
	assert_int_equal(bytes_of(hg, 0xcc), 0);
	w_unassign(h);
	w_guest_del(g);
}

/* A member of an alias group (shared requester id) can be assigned. */
static void test_alias_member_assignable(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign_force(g, W_ALIAS1, true);

	model_expect_attach(0, W_ALIAS0, g);
	w_dma(W_ALIAS1, W_GPA, 0x11, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hg, 0x11), DMA_LEN);
	w_unassign(h);
	model_expect_detach(0, W_ALIAS0);
	w_guest_del(g);
}

/* A claim blocks the whole group, not only the device named. */
static void test_claim_blocks_whole_group(void **state)
{
	uint64_t hc;
	unsigned int id = w_domain(&hc);

	/* Both functions of the multi-function device reach the domain. */
	w_attach(W_MF1, id);
	w_dma(W_MF1, W_GPA, 0x21, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hc, 0x21), DMA_LEN);
	assert_int_equal(iommu_claim(&W.im, w_dev(W_MF0), "x", false), 0);
	model_expect_detach(0, W_MF1);
	w_dma(W_MF1, W_GPA, 0x22, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hc, 0x22), 0);
	assert_int_equal(iommu_release(&W.im, w_dev(W_MF0)), 0);
}

/*
 * A device joining a group a guest owns is blocked; the members the
 * guest already has keep working.
 */
static void test_new_member_does_not_block_assigned(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign_force(g, W_MF0, true);

	iommu_device_added(&W.im, w_dev(W_MF1));
	w_dma(W_MF0, W_GPA, 0x31, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hg, 0x31), DMA_LEN);
	w_unassign(h);
	w_guest_del(g);
}

/* ---- domains have owners ---- */

static void test_console_cannot_touch_guest_domain(void **state)
{
	uint64_t hg, hc;
	struct iommu_owner *g = w_guest("g", &hg);
	unsigned int gid = g->dom_id, id;
	const char *why;

	assert_int_equal(iommu_domain_del(&W.im, NULL, gid), -EPERM);
	assert_int_equal(iommu_map(&W.im, NULL, gid, iova_make(0), hpa_make(hg),
				   0x1000, IOMMU_PROT_READ),
			 -EPERM);
	assert_int_equal(
		iommu_unmap(&W.im, NULL, gid, iova_make(W_GPA), 0x1000),
		-EPERM);
	assert_int_equal(iommu_attach(&W.im, w_dev(W_FLR), gid, &why), -EPERM);
	w_guest_del(g);
	/* Its id may come back for the console; the guest's is gone. */
	id = w_domain(&hc);
	assert_int_equal(iommu_domain_del(&W.im, NULL, gid),
			 id == gid ? 0 : -ENOENT);
	if (id != gid) {
		assert_int_equal(iommu_domain_del(&W.im, NULL, id), 0);
	}
}

/* ---- removal ---- */

/*
 * g's ATS device at sid stops answering: the device-TLB flush of an unmap
 * of g's memory cannot complete, so the unmap fails (the range stays
 * reachable until iommu_flush() succeeds).
 */
static void ats_device_dies(struct iommu_owner *g, rid_t sid)
{
	model_remove_endpoint(0, sid);
	assert_int_not_equal(
		iommu_unmap(&W.im, g, g->dom_id, iova_make(W_GPA), 0x1000), 0);
}

/*
 * The ATS card, plugged in again after g's died, goes to a new guest and
 * its DMA (of byte) lands in that guest's memory; then g's failed unmap is
 * flushed and g deleted.
 */
static void replugged_card_serves_new_guest(struct iommu_owner *g, uint8_t byte)
{
	struct iommu_owner *g2;
	struct iommu_hold *h;
	uint64_t hg2;

	g2 = w_guest("g2", &hg2);
	h = w_assign(g2, W_CARD_ATS);
	w_dma(W_CARD_ATS, W_GPA, byte, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hg2, byte), DMA_LEN);
	w_unassign(h);
	w_guest_del(g2);
	assert_int_equal(iommu_flush(&W.im, g, g->dom_id), 0);
	iommu_owner_del(&W.im, g);
}

static void pull(int slot)
{
	pci_fake_slot_pull(slot);
	w_run(W_MS);
}

static void insert(int slot)
{
	pci_fake_slot_insert(slot, true);
	w_run(3000 * W_MS);
}

/* Orderly removal blocks the device while it still answers. */
static void test_orderly_removal_blocks_dma(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_CARD);

	assert_true(iommu_device_removing(&W.im, w_dev(W_CARD)));
	model_expect_detach(0, W_CARD);
	assert_blocked(W_CARD, 0x41);
	assert_int_equal(bytes_of(hg, 0x41), 0);
	/* Nothing attached: nothing to block, and it says so. */
	assert_false(iommu_device_removing(&W.im, w_dev(W_FLR)));
	iommu_unassign(&W.im, h);
	w_guest_del(g);
}

/* Orderly removal turns ATS off in the device while it still answers. */
static void test_orderly_removal_turns_ats_off(void **state)
{
	uint64_t hc;
	unsigned int id = w_domain(&hc);

	w_attach(W_CARD_ATS, id);
	assert_true(pci_cfg_get(W.cfg[rid_val(W_CARD_ATS)],
				0x100 + PCI_ATS_CTRL, 2) &
		    PCI_ATS_CTRL_ENABLE);
	iommu_device_removing(&W.im, w_dev(W_CARD_ATS));
	assert_false(pci_cfg_get(W.cfg[rid_val(W_CARD_ATS)],
				 0x100 + PCI_ATS_CTRL, 2) &
		     PCI_ATS_CTRL_ENABLE);
}

/*
 * Surprise removal releases the requester ids in the IOMMU: whatever
 * sends with that id next (a new device) is denied.
 */
static void test_surprise_removal_clears_entries(void **state)
{
	uint64_t hc;
	unsigned int id = w_domain(&hc);

	w_attach(W_CARD, id);
	pull(W.slot_card);
	assert_blocked(W_CARD, 0x51);
	assert_int_equal(bytes_of(hc, 0x51), 0);
	assert_false(iommu_pending(&W.im));
}

/*
 * Settle waits that yield (docs/design.md, "Waits that yield"): the test
 * gives the layer a yield whose first turn checks and changes the world
 * as housekeeping might, as the kernel's tick would; later turns count.
 */
static unsigned int settle_yields;
static void (*first_turn)(void *ctx);

static void settle_turn(void *ctx)
{
	if (!settle_yields++) {
		first_turn(ctx);
	}
}

/* Settle waits from now on run fn(ctx) at their first turn, then count. */
static void yield_to(void (*fn)(void *ctx), void *ctx)
{
	settle_yields = 0;
	first_turn = fn;
	W.im.yield = (struct pci_yield){.fn = settle_turn, .ctx = ctx};
}

/* No more yields; the wait went on after the first turn. */
static void yield_stop(void)
{
	W.im.yield.fn = NULL;
	assert_true(settle_yields > 1);
}

/* The card, blocked already, is pulled and found gone. */
static void pull_card_once(void *ctx)
{
	assert_blocked(W_CARD, 0x5c);
	pull(W.slot_card);
	assert_true(pci_dev_is_gone(ctx));
}

/*
 * A card pulled while it is proven quiet for a guest: found gone within
 * the wait, never reachable, and the assignment fails with the reason,
 * holding nothing (teardown counts objects and table pages).  A new card
 * in the slot is assigned as usual.
 */
static void test_removed_while_proven_quiet(void **state)
{
	struct pci_dev *d = pci_dev_get(w_dev(W_CARD));
	struct iommu_hold *h = NULL;
	struct iommu_owner *g;
	const char *why, *owner;
	uint64_t hg;

	g = w_guest("g", &hg);
	yield_to(pull_card_once, d);
	assert_int_equal(iommu_assign(&W.im, g, d, false, &h, &why), -ENODEV);
	yield_stop();
	assert_null(h);
	assert_string_equal(why, "removed while it was being quiesced");
	assert_int_equal(g->groups, 0);
	assert_int_equal(bytes_of(hg, 0x5c), 0);
	pci_dev_put(d);
	insert(W.slot_card);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_CARD), &owner),
			 IOMMU_OWNER_KERNEL);
	h = w_assign(g, W_CARD);
	w_unassign(h);
	w_guest_del(g);
}

/* The same during the console's reset: it fails cleanly, nothing kept. */
static void test_removed_during_reset(void **state)
{
	struct pci_dev *d = pci_dev_get(w_dev(W_CARD));
	const char *method;

	yield_to(pull_card_once, d);
	assert_int_equal(iommu_reset(&W.im, d, &method), -ENODEV);
	yield_stop();
	assert_string_equal(method, "removed during the reset");
	pci_dev_put(d);
	assert_false(iommu_pending(&W.im));
}

/*
 * Unassigning waits the same way (docs/design.md, "Waits that yield"):
 * the card, given back by a guest, is pulled while it is quiesced.  It
 * was blocked before the wait, and the unassignment completes: the
 * record is freed once, nothing is left attached or referenced
 * (teardown counts objects), and the log says what happened.  A new card
 * in the slot is assigned as usual.
 */
static void test_removed_while_unassigned(void **state)
{
	const char *text = "unassigned from g: removed while it was being "
			   "quiesced";
	unsigned int warned = w_log(LOG_WARN, text);
	struct iommu_owner *g;
	struct iommu_hold *h;
	const char *owner;
	uint64_t hg;

	g = w_guest("g", &hg);
	h = w_assign(g, W_CARD);
	yield_to(pull_card_once, h->dev);
	w_unassign(h);
	yield_stop();
	assert_int_equal(w_log(LOG_WARN, text), warned + 1);
	assert_int_equal(g->groups, 0);
	assert_int_equal(iommu_counts(&W.im).groups, 0);
	assert_int_equal(iommu_counts(&W.im).attachments, 0);
	assert_int_equal(bytes_of(hg, 0x5c), 0);
	insert(W.slot_card);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_CARD), &owner),
			 IOMMU_OWNER_KERNEL);
	h = w_assign(g, W_CARD);
	w_unassign(h);
	w_guest_del(g);
}

/* ACS Control of 05:00.0-1 cleared, as a reset of either leaves it. */
static void acs_pair_off(void)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		pci_cfg_put16(W.cfg[rid_val(W_ACS0) + i], 0x100 + PCI_ACS_CTRL,
			      0);
	}
}

/*
 * The first yield checks 05:00.1 is blocked, then the pair loses ACS and
 * a card pulled elsewhere has the groups recomputed: 05:00.1 joins the
 * group of 05:00.0, and its own group is gone.
 */
static void regroup_acs_once(void *ctx)
{
	assert_blocked(W_ACS1, 0x5d);
	acs_pair_off();
	pull(W.slot_card);
	assert_ptr_equal(pci_group_of(w_dev(W_ACS1)),
			 pci_group_of(w_dev(W_ACS0)));
}

/*
 * The group of a device being unassigned is recomputed during the wait:
 * 05:00.1 joins the group of 05:00.0, which guest g2 has.  g's group
 * record is released once, by its id, which is gone: g2's device is not
 * touched and keeps reaching g2's memory, 05:00.1 stays blocked in g2's
 * group (its owner has not assigned it), and the log says why.
 */
static void test_group_changed_while_unassigned(void **state)
{
	const char *text = "unassigned from g: its isolation group changed "
			   "while it was being quiesced";
	unsigned int warned = w_log(LOG_WARN, text);
	struct iommu_owner *g, *g2;
	struct iommu_hold *h, *h2;
	uint8_t buf[DMA_LEN];
	const char *owner;
	uint64_t hg, hg2;

	g = w_guest("g", &hg);
	g2 = w_guest("g2", &hg2);
	h = w_assign(g, W_ACS1);
	h2 = w_assign(g2, W_ACS0);
	yield_to(regroup_acs_once, NULL);
	w_unassign(h);
	yield_stop();
	assert_int_equal(w_log(LOG_WARN, text), warned + 1);
	assert_int_equal(g->groups, 0);
	assert_int_equal(g2->groups, 1);
	assert_int_equal(iommu_counts(&W.im).groups, 1);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_ACS1), &owner),
			 IOMMU_OWNER_NAMED);
	assert_string_equal(owner, "g2");
	assert_blocked(W_ACS1, 0x5e);
	assert_int_equal(bytes_of(hg, 0x5e) + bytes_of(hg2, 0x5e), 0);
	memset(buf, 0x5f, sizeof(buf));
	assert_int_equal(model_dma_write(0, W_ACS0, W_GPA, buf, DMA_LEN), 0);
	assert_int_equal(bytes_of(hg2, 0x5f), DMA_LEN);
	w_unassign(h2);
	w_guest_del(g2);
	w_guest_del(g);
}

/* The first yield checks the device is blocked, then quarantines it. */
static void quarantine_once(void *ctx)
{
	assert_blocked(W_FLR, 0x63);
	assert_int_equal(iommu_quarantine(&W.im, ctx, "a fault storm"), 0);
}

/*
 * A device quarantined (a fault storm housekeeping saw) while it is
 * unassigned stays quarantined and blocked: the unassignment does not
 * give its group back to the kernel.  Its record is kept once, the
 * guest holds nothing, and a reset brings it back as usual.
 */
static void test_quarantined_while_unassigned(void **state)
{
	const char *text = "unassigned from g: quarantined while it was being "
			   "quiesced";
	unsigned int warned = w_log(LOG_WARN, text);
	struct iommu_owner *g;
	struct iommu_hold *h;
	const char *owner;
	uint64_t hg;

	g = w_guest("g", &hg);
	h = w_assign(g, W_FLR);
	yield_to(quarantine_once, h->dev);
	w_unassign(h);
	yield_stop();
	assert_int_equal(w_log(LOG_WARN, text), warned + 1);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_FLR), &owner),
			 IOMMU_OWNER_QUARANTINE);
	assert_int_equal(iommu_claim(&W.im, w_dev(W_FLR), "x", false), -EPERM);
	assert_int_equal(g->groups, 0);
	assert_int_equal(iommu_counts(&W.im).groups, 1);
	assert_blocked(W_FLR, 0x60);
	assert_int_equal(bytes_of(hg, 0x60), 0);
	assert_int_equal(iommu_reset(&W.im, w_dev(W_FLR), &owner), 0);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_FLR), &owner),
			 IOMMU_OWNER_KERNEL);
	w_guest_del(g);
}

/*
 * The first yield checks 05:00.0, being unassigned, is blocked, while
 * 05:00.1, which the guest keeps, still reaches the guest's memory.
 */
static void check_member_once(void *ctx)
{
	uint8_t buf[DMA_LEN];

	assert_blocked(W_ACS0, 0x61);
	memset(buf, 0x62, sizeof(buf));
	assert_int_equal(model_dma_write(0, W_ACS1, W_GPA, buf, DMA_LEN), 0);
}

/*
 * One member of a group whose owner keeps another: only it is blocked,
 * and its reset lets housekeeping in; the group stays the guest's.
 */
static void test_member_unassigned_yields(void **state)
{
	struct iommu_hold *h0, *h1;
	struct iommu_owner *g;
	const char *owner;
	uint64_t hg;

	acs_pair_off();
	pull(W.slot_card);
	assert_ptr_equal(pci_group_of(w_dev(W_ACS1)),
			 pci_group_of(w_dev(W_ACS0)));
	g = w_guest("g", &hg);
	h0 = w_assign(g, W_ACS0);
	h1 = w_assign(g, W_ACS1);
	yield_to(check_member_once, NULL);
	w_unassign(h0);
	yield_stop();
	assert_int_equal(bytes_of(hg, 0x61), 0);
	assert_int_equal(bytes_of(hg, 0x62), DMA_LEN);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_ACS0), &owner),
			 IOMMU_OWNER_NAMED);
	assert_string_equal(owner, "g");
	assert_int_equal(g->groups, 1);
	w_unassign(h1);
	assert_int_equal(g->groups, 0);
	w_guest_del(g);
}

/* A device that is gone is never waited on: its removal costs no deadline. */
static void test_removal_of_dead_ats_device_does_not_wait(void **state)
{
	uint64_t hc, t0;
	unsigned int id = w_domain(&hc);

	w_attach(W_CARD_ATS, id);
	model_remove_endpoint(0, W_CARD_ATS);
	pci_fake_slot_pull(W.slot_card);
	pci_fake_slot_pull(W.slot_ats);
	t0 = model_now();
	w_run(W_MS);
	assert_true(model_now() - t0 < 10 * W_MS);
	assert_int_equal(model_endpoint_stats(0, W_CARD_ATS)->after_removal, 0);
	assert_false(iommu_pending(&W.im));
}

/*
 * A removal whose detach cannot be confirmed (the queue is stuck behind a
 * device-TLB invalidation to an ATS device that stopped answering, seed
 * 004) completes in software; the poll finishes it once the hardware
 * reports, releasing the record and its reference, and a device plugged
 * in at that address afterwards is really attached.
 */
static void test_removal_detach_timeout_is_retried(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_CARD_ATS);
	struct pci_dev *old = pci_dev_get(h->dev);

	/* The link drops unseen; an unmap's device-TLB flush gets stuck. */
	ats_device_dies(g, W_CARD_ATS);
	pci_fake_slot_pull(W.slot_ats);
	w_run(W_MS);
	w_unassign(h);
	/* ... the hardware's time-out (ITE) comes, the poll drains the rest. */
	w_run(3000 * W_MS);
	assert_false(iommu_pending(&W.im));
	assert_int_equal(old->refs, 1);
	pci_dev_put(old);
	model_add_endpoint(0, W_CARD_ATS, 0);
	insert(W.slot_ats);
	replugged_card_serves_new_guest(g, 0x61);
}

/*
 * A device plugged in while its predecessor's detach still waits on the
 * hardware gets fresh state once it is confirmed: nothing its
 * predecessor did (a device-TLB that stopped answering: quarantine) is
 * held against it.
 */
static void test_replug_gets_fresh_state_while_detach_pending(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_CARD_ATS);
	bool pending_at_replug;
	unsigned int i;

	ats_device_dies(g, W_CARD_ATS);
	pci_fake_slot_pull(W.slot_ats);
	w_run(W_MS);
	w_unassign(h);
	model_add_endpoint(0, W_CARD_ATS, 0);
	pci_fake_slot_insert(W.slot_ats, true);
	/* In before the hardware reports on its predecessor. */
	for (i = 0; i < 1000 && !pci_find_dev(&W.host, 0, 3, 0); i++) {
		w_run(W_MS);
	}
	pending_at_replug =
		iommu_pending(&W.im) && pci_find_dev(&W.host, 0, 3, 0);
	w_run(3000 * W_MS);
	assert_true(pending_at_replug);
	assert_false(iommu_pending(&W.im));
	replugged_card_serves_new_guest(g, 0x62);
}

/*
 * The guest's handle to a surprise-removed device stays on that device:
 * unassigning it does not touch the device plugged in at its address
 * since, which another guest now has.
 */
static void test_gone_handle_does_not_reach_replugged(void **state)
{
	uint64_t ha, hb;
	struct iommu_owner *a = w_guest("a", &ha), *b = w_guest("b", &hb);
	struct iommu_hold *ho = w_assign(a, W_CARD), *hn;
	const char *why;

	pull(W.slot_card);
	model_expect_detach(0, W_CARD);
	assert_true(pci_dev_is_gone(ho->dev));
	insert(W.slot_card);
	hn = w_assign(b, W_CARD);
	assert_ptr_not_equal(hn->dev, ho->dev);
	/* The old handle: assigning it again is refused; dropping it is
	 * harmless. */
	{
		struct iommu_hold *keep = hn;

		assert_int_equal(
			iommu_assign(&W.im, a, ho->dev, false, &hn, &why),
			-ENODEV);
		hn = keep;
	}
	iommu_unassign(&W.im, ho);
	w_dma(W_CARD, W_GPA, 0x71, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hb, 0x71), DMA_LEN);
	assert_int_equal(bytes_of(ha, 0x71), 0);
	w_unassign(hn);
	w_guest_del(a);
	w_guest_del(b);
}

/* Claim and surprise removal, 40 times: nothing accumulates. */
static void test_claim_remove_cycles_do_not_leak(void **state)
{
	unsigned int i;
	long live = 0;

	for (i = 0; i < 40; i++) {
		assert_int_equal(iommu_claim(&W.im, w_dev(W_CARD), "x", false),
				 0);
		pull(W.slot_card);
		insert(W.slot_card);
		/*
		 * Nothing of the card's earlier lives is kept (the tables'
		 * buckets, allocated by the first cycle, stay).
		 */
		assert_int_equal(iommu_counts(&W.im).groups, 0);
		assert_int_equal(iommu_counts(&W.im).attachments, 0);
		if (i == 0) {
			live = pci_alloc_live;
		}
		assert_int_equal(pci_alloc_live, live);
	}
	assert_int_equal(iommu_claim(&W.im, w_dev(W_CARD), "x", false), 0);
	assert_int_equal(iommu_release(&W.im, w_dev(W_CARD)), 0);
}

/*
 * Bug 6: groups recomputed while a link is down (another slot's card
 * pulled) neither merge the silent functions of a multi-function device
 * that isolate themselves with ACS, nor split them apart again once the
 * link is back: the function a guest has stays the guest's and reaches
 * its memory, its sibling stays the kernel's.
 */
static void test_silent_functions_keep_their_groups(void **state)
{
	uint64_t hg, hc;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_ACS0);
	const struct pci_group *g0 = pci_group_of(w_dev(W_ACS0));
	const struct pci_group *g1 = pci_group_of(w_dev(W_ACS1));
	unsigned int id = w_domain(&hc);
	const char *name;

	assert_ptr_not_equal(g0, g1);
	pci_fake_link(W.port_acs, false);
	pull(W.slot_card);
	assert_ptr_equal(pci_group_of(w_dev(W_ACS0)), g0);
	assert_ptr_equal(pci_group_of(w_dev(W_ACS1)), g1);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_ACS1), &name),
			 IOMMU_OWNER_KERNEL);
	pci_fake_link(W.port_acs, true);
	insert(W.slot_card);
	assert_ptr_equal(pci_group_of(w_dev(W_ACS0)), g0);
	assert_ptr_equal(pci_group_of(w_dev(W_ACS1)), g1);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_ACS0), &name),
			 IOMMU_OWNER_NAMED);
	assert_string_equal(name, "g");
	w_dma(W_ACS0, W_GPA, 0x5a, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hg, 0x5a), DMA_LEN);
	w_attach(W_ACS1, id);
	w_dma(W_ACS1, W_GPA, 0x5b, DMA_LEN, W_MS);
	w_run(3 * W_MS);
	assert_int_equal(bytes_of(hc, 0x5b), DMA_LEN);
	assert_int_equal(bytes_of(hg, 0x5b), 0);
	assert_int_equal(iommu_detach(&W.im, w_dev(W_ACS1)), 0);
	model_expect_detach(0, W_ACS1);
	w_unassign(h);
	w_guest_del(g);
}

/*
 * The console's edu dma drives only what the kernel owns: not a guest's
 * device, not a claimed or quarantined group, not a device that stopped
 * answering (pulled, no event yet) or is gone.
 */
static void test_kernel_drives_only_its_own_devices(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h;
	struct pci_dev *card = pci_dev_get(w_dev(W_CARD));

	assert_int_equal(iommu_kernel_may_drive(&W.im, w_dev(W_FLR)), 0);
	h = w_assign(g, W_FLR);
	assert_int_equal(iommu_kernel_may_drive(&W.im, w_dev(W_FLR)), -EBUSY);
	w_unassign(h);
	assert_int_equal(iommu_kernel_may_drive(&W.im, w_dev(W_FLR)), 0);
	assert_int_equal(iommu_claim(&W.im, w_dev(W_MF0), "x", false), 0);
	assert_int_equal(iommu_kernel_may_drive(&W.im, w_dev(W_MF1)), -EBUSY);
	assert_int_equal(iommu_release(&W.im, w_dev(W_MF0)), 0);
	assert_int_equal(iommu_quarantine(&W.im, w_dev(W_ATS6), "test"), 0);
	assert_int_equal(iommu_kernel_may_drive(&W.im, w_dev(W_ATS6)), -EPERM);
	/* Pulled: listed until hot-plug notices, but silent already. */
	pci_fake_slot_pull(W.slot_card);
	assert_int_equal(iommu_kernel_may_drive(&W.im, card), -ENODEV);
	w_run(W_MS);
	assert_true(pci_dev_is_gone(card));
	assert_int_equal(iommu_kernel_may_drive(&W.im, card), -ENODEV);
	pci_dev_put(card);
	insert(W.slot_card);
	assert_int_equal(iommu_kernel_may_drive(&W.im, w_dev(W_CARD)), 0);
	w_guest_del(g);
}

/* iommu_faults() callback: the owner of each fault, by requester id. */
struct charged {
	unsigned int n;
	rid_t sid[8];
	char owner[8][IOMMU_OWNER_NAME_MAX];
};

static void charge(void *ctx, const struct iommu_fault *f, const char *owner)
{
	struct charged *c = ctx;

	if (c->n < 8) {
		c->sid[c->n] = f->sid;
		strcpy(c->owner[c->n++], owner ? owner : "kernel");
	}
}

/*
 * A fault is charged to the owner its requester id had when it faulted,
 * even if the device changed hands before anyone read the fault records;
 * a member of a guest's group that is not assigned is the guest's too.
 */
static void test_fault_charged_to_owner_at_fault_time(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_FLR), *hm;
	struct charged c = {0};
	uint8_t buf[DMA_LEN] = {0};

	/* Outside g's memory: a fault, not read yet. */
	assert_int_equal(model_dma_write(0, W_FLR, 0, buf, DMA_LEN), -EFAULT);
	w_unassign(h);
	assert_int_equal(model_dma_write(0, W_FLR, 0, buf, DMA_LEN), -EFAULT);
	iommu_faults(&W.im, charge, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.owner[0], "g");
	assert_string_equal(c.owner[1], "kernel");
	assert_int_equal(g->faults, 1);
	/* 00:05.1 is in g's group, not assigned (blocked): its faults are g's.
	 */
	hm = w_assign_force(g, W_MF0, true);
	assert_int_equal(model_dma_write(0, W_MF1, W_GPA, buf, DMA_LEN),
			 -EFAULT);
	memset(&c, 0, sizeof(c));
	iommu_faults(&W.im, charge, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(rid_val(c.sid[0]), rid_val(W_MF1));
	assert_string_equal(c.owner[0], "g");
	assert_int_equal(g->faults, 2);
	w_unassign(hm);
	w_guest_del(g);
}

/*
 * The same when nothing of the group leaves an attachment first: a device
 * the kernel holds blocked faults, then is assigned.  The group's owner
 * changes (kernel to g) with the record unread, and it is still the
 * kernel's.
 */
static void test_fault_before_assign_stays_the_kernels(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h;
	struct charged c = {0};
	uint8_t buf[DMA_LEN] = {0};

	assert_int_equal(model_dma_write(0, W_FLR, W_GPA, buf, DMA_LEN),
			 -EFAULT);
	h = w_assign(g, W_FLR);
	iommu_faults(&W.im, charge, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(rid_val(c.sid[0]), rid_val(W_FLR));
	assert_string_equal(c.owner[0], "kernel");
	assert_int_equal(g->faults, 0);
	w_unassign(h);
	w_guest_del(g);
}

/* ---- presence, quarantine, reset ---- */

/*
 * Presence is config space and every link above: with the link to an ATS
 * device down and no event, its device-TLB is not invalidated (that could
 * never complete) and an unmap does not wait on it.
 */
static void test_presence_follows_link(void **state)
{
	uint64_t hc, t0;
	unsigned int id = w_domain(&hc);
	uint64_t sent;

	w_attach(W_ATS, id);
	pci_fake_link(W.port_ats, false);
	model_remove_endpoint(0, W_ATS);
	sent = model_endpoint_stats(0, W_ATS)->invalidations;
	t0 = model_now();
	/* Its cache is suspect until it is detached: said, not waited on. */
	assert_int_equal(iommu_unmap(&W.im, NULL, id, iova_make(W_GPA), 0x1000),
			 -EIO);
	assert_true(model_now() - t0 < W_MS);
	assert_int_equal(model_endpoint_stats(0, W_ATS)->invalidations, sent);
	pci_fake_link(W.port_ats, true);
	model_add_endpoint(0, W_ATS, 0);
}

/*
 * A device the back end quarantined (its device-TLB stopped answering)
 * is blocked by detaching it: the poll does not fail, log or wait again
 * and again.
 */
static void test_quarantined_device_poll_is_quiet(void **state)
{
	uint64_t hg, t0;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_ATS);
	unsigned int errors, i;
	const char *owner;

	ats_device_dies(g, W_ATS);
	w_run(3000 * W_MS);
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_ATS), &owner),
			 IOMMU_OWNER_QUARANTINE);
	model_expect_detach(0, W_ATS);
	errors = w_log(LOG_ERR, "");
	t0 = model_now();
	for (i = 0; i < 100; i++) {
		iommu_poll(&W.im);
	}
	assert_true(model_now() - t0 < W_MS);
	assert_int_equal(w_log(LOG_ERR, ""), errors);
	assert_false(iommu_pending(&W.im));
	iommu_unassign(&W.im, h);
	assert_int_equal(iommu_flush(&W.im, g, g->dom_id), 0);
	iommu_owner_del(&W.im, g);
	model_add_endpoint(0, W_ATS, 0);
}

/* Reset blocks the device first: nothing it sends meanwhile lands. */
static void test_reset_blocks_first(void **state)
{
	uint64_t hc;
	unsigned int id = w_domain(&hc);
	const char *method;

	w_attach(W_ATS, id);
	assert_int_equal(iommu_reset(&W.im, w_dev(W_ATS), &method), 0);
	assert_string_equal(method, "flr");
	model_expect_detach(0, W_ATS);
	assert_blocked(W_ATS, 0x81);
	assert_int_equal(bytes_of(hc, 0x81), 0);
	assert_int_equal(w_log(LOG_INFO, "0000:01:00.0: ATS on"), 1);
}

/* ---- kexec ---- */

static int dma_old(rid_t rid)
{
	uint8_t buf[16];

	memset(buf, 0x91, sizeof(buf));
	return model_dma_write(0, rid, W_OLD, buf, sizeof(buf));
}

/* Inherited translation works until the first attach: deferred attach. */
static void test_kexec_group_quiesced_on_first_claim(void **state)
{
	uint64_t hg;
	struct iommu_owner *g;
	struct iommu_hold *h;

	assert_int_equal(dma_old(W_TP), 0);
	g = w_guest("g", &hg);
	h = w_assign(g, W_TP);
	assert_string_equal(h->method, "pending");
	assert_int_equal(dma_old(W_TP), -EFAULT);
	w_unassign(h);
	w_guest_del(g);
}

/*
 * Handing the unit over for kexec masks its fault event (the next kernel
 * has no handler at our vector until it unmasks it) and keeps every
 * translation: a guest's device still reaches its memory, and only that.
 */
static void test_kexec_handover_masks_fault_event(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_FLR);

	assert_int_equal(hw_mmio_read32(W_UNIT_BASE + VTD_FEDATA_REG),
			 W_FAULT_VECTOR);
	assert_int_equal(hw_mmio_read32(W_UNIT_BASE + VTD_FECTL_REG), 0);
	iommu_handover(&W.im);
	assert_int_equal(hw_mmio_read32(W_UNIT_BASE + VTD_FECTL_REG),
			 VTD_FECTL_IM);
	w_dma(W_FLR, W_GPA, 0xab, DMA_LEN, W_MS);
	w_run(2 * W_MS);
	assert_int_equal(bytes_of(hg, 0xab), DMA_LEN);
	w_unassign(h);
	w_guest_del(g);
}

static void test_kexec_translation_released_by_detach(void **state)
{
	assert_int_equal(dma_old(W_TP), 0);
	assert_int_equal(iommu_detach(&W.im, w_dev(W_TP)), 0);
	model_expect_detach(0, W_TP);
	assert_int_equal(dma_old(W_TP), -EFAULT);
	assert_int_equal(iommu_detach(&W.im, w_dev(W_TP)), -ENOENT);
}

static void test_kexec_translation_released_by_removal(void **state)
{
	assert_int_equal(dma_old(W_CARD), 0);
	pull(W.slot_card);
	model_expect_detach(0, W_CARD);
	insert(W.slot_card);
	assert_int_equal(dma_old(W_CARD), -EFAULT);
}

/* ---- pending teardown ---- */

/*
 * A guest's domain whose destruction fails (a detach of its last device
 * was not confirmed) is destroyed by the poll later, never leaked.
 */
static void test_guest_domain_delete_retried(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_FLR);

	assert_int_equal(
		iommu_unmap(&W.im, g, g->dom_id, iova_make(W_GPA), W_LEN), 0);
	model_expect_unmap(g, W_GPA, W_LEN);
	/* Internal invalidations stop completing for a while. */
	model_qi_stall(0, true);
	w_unassign(h);
	iommu_owner_del(&W.im, g);
	assert_true(iommu_pending(&W.im));
	assert_int_equal(iommu_counts(&W.im).domains, 1);
	model_qi_stall(0, false);
	w_run(10 * W_MS);
	assert_false(iommu_pending(&W.im));
	assert_int_equal(iommu_counts(&W.im).domains, 0);
}

/*
 * After an ATS endpoint dies, its way back to the blocking domain is
 * still accounted for, whatever the hardware confirms late: once the
 * poll has drained, fini frees everything (teardown checks).
 */
static void test_dead_ats_endpoint_fini_frees_everything(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_ATS);

	ats_device_dies(g, W_ATS);
	w_unassign(h);
	w_run(3000 * W_MS);
	assert_false(iommu_pending(&W.im));
	assert_int_equal(iommu_flush(&W.im, g, g->dom_id), 0);
	iommu_owner_del(&W.im, g);
	assert_int_equal(iommu_counts(&W.im).domains, 0);
	model_add_endpoint(0, W_ATS, 0);
}

/*
 * One unmap with four ATS devices attached, one of which never answers
 * (present, but its device-TLB invalidation never completes): the call
 * waits at most one device-TLB deadline in total, not one per device.
 */
static void test_unmap_four_ats_one_dead_waits_one_deadline(void **state)
{
	const rid_t ats[] = {W_ATS, W_CARD_ATS, W_ATS6, W_ATS7};
	uint64_t hc, t0, took;
	unsigned int id = w_domain(&hc), i;

	for (i = 0; i < 4; i++) {
		w_attach(ats[i], id);
	}
	assert_int_equal(w_log(LOG_INFO, "ATS on"), 4);
	model_add_endpoint(0, W_ATS7, MODEL_ATS_NEVER);
	t0 = model_now();
	assert_int_not_equal(
		iommu_unmap(&W.im, NULL, id, iova_make(W_GPA), 0x1000), 0);
	took = model_now() - t0;
	/* vtd.deadline.devtlb is 1 s by default. */
	assert_true(took <= 1100 * W_MS);
	assert_true(took >= 900 * W_MS);
	w_run(3000 * W_MS);
	model_add_endpoint(0, W_ATS7, 0);
}

/* ---- found by the whole-system test (docs/scenarios.md, iso-*) ---- */

/*
 * A group given back to the kernel is no longer proven quiet: DMA the
 * kernel starts on it (edu dma from the console) must not reach the next
 * guest (docs/scenarios.md, iso-release-not-quiet).
 */
static void test_kernel_dma_after_release_is_not_trusted(void **state)
{
	uint64_t ha;
	struct iommu_owner *a = w_guest("a", &ha);
	struct iommu_hold *h = w_assign(a, W_TP);

	w_unassign(h);
	w_dma(W_TP, W_GPA, 0xe1, DMA_LEN, DMA_NS);
	h = w_assign(a, W_TP);
	assert_string_equal(h->method, "pending");
	w_run(2 * DMA_NS);
	assert_int_equal(bytes_of(ha, 0xe1), 0);
	w_unassign(h);
	w_guest_del(a);
}

/*
 * A domain whose unmap failed is flushed before its tables go: nothing
 * waits for an invalidation when it is destroyed (docs/scenarios.md,
 * iso-destroy-after-failed-unmap).
 */
static void test_domain_del_after_failed_unmap_flushes_first(void **state)
{
	uint64_t hc;
	unsigned int id = w_domain(&hc);

	w_attach(W_ATS, id);
	model_remove_endpoint(0, W_ATS);
	assert_int_not_equal(
		iommu_unmap(&W.im, NULL, id, iova_make(W_GPA), W_LEN), 0);
	/* Quarantined and detached once the hardware reports. */
	w_run(3000 * W_MS);
	model_expect_detach(0, W_ATS);
	assert_false(iommu_pending(&W.im));
	assert_int_equal(iommu_domain_del(&W.im, NULL, id), 0);
	assert_int_equal(w_log(LOG_ERR, "leaking"), 0);
	assert_int_equal(w_log(LOG_WARN, "leaking"), 0);
	model_add_endpoint(0, W_ATS, 0);
}

/*
 * mem free asks whether any domain may still reach a buffer: a console
 * domain or a guest's that maps part of it, or one whose unmap failed
 * until a flush confirms it.  Memory next to a mapping is free to go.
 */
static void test_mapped_memory_stays_reachable(void **state)
{
	uint64_t hc, hg;
	unsigned int id = w_domain(&hc), got = 0;
	struct iommu_owner *g = w_guest("g", &hg);

	assert_true(iommu_hpa_reachable(&W.im, hpa_make(hc + W_LEN - 0x1000),
					0x2000, &got));
	assert_int_equal(got, id);
	assert_true(iommu_hpa_reachable(&W.im, hpa_make(hg), 1, &got));
	assert_int_equal(got, g->dom_id);
	assert_false(
		iommu_hpa_reachable(&W.im, hpa_make(hc + W_LEN), 0x1000, &got));
	assert_int_equal(iommu_unmap(&W.im, NULL, id, iova_make(W_GPA), W_LEN),
			 0);
	assert_false(iommu_hpa_reachable(&W.im, hpa_make(hc), W_LEN, &got));
	/* An unmap the hardware did not confirm: reachable until flushed. */
	assert_int_equal(iommu_map(&W.im, NULL, id, iova_make(W_GPA),
				   hpa_make(hc), W_LEN,
				   IOMMU_PROT_READ | IOMMU_PROT_WRITE),
			 0);
	w_attach(W_ATS, id);
	model_remove_endpoint(0, W_ATS);
	assert_int_not_equal(
		iommu_unmap(&W.im, NULL, id, iova_make(W_GPA), W_LEN), 0);
	assert_true(iommu_hpa_reachable(&W.im, hpa_make(hc), 0x1000, &got));
	assert_int_equal(got, id);
	w_run(3000 * W_MS);
	model_expect_detach(0, W_ATS);
	assert_int_equal(iommu_flush(&W.im, NULL, id), 0);
	assert_false(iommu_hpa_reachable(&W.im, hpa_make(hc), W_LEN, &got));
	model_add_endpoint(0, W_ATS, 0);
	w_guest_del(g);
	assert_false(iommu_hpa_reachable(&W.im, hpa_make(hg), W_LEN, &got));
}

/*
 * Unassign while the hardware has not confirmed the detach: the old
 * translation may still be cached, so the group stays in transit (nobody
 * may take it) until the poll confirms it (docs/scenarios.md,
 * iso-unconfirmed-detach).
 */
static void test_unconfirmed_detach_keeps_group_in_transit(void **state)
{
	uint64_t hg;
	struct iommu_owner *g = w_guest("g", &hg);
	struct iommu_hold *h = w_assign(g, W_FLR);
	const char *owner;

	model_qi_stall(0, true);
	w_unassign(h);
	assert_true(iommu_pending(&W.im));
	assert_int_not_equal(iommu_owner_of(&W.im, w_dev(W_FLR), &owner),
			     IOMMU_OWNER_KERNEL);
	assert_int_equal(iommu_claim(&W.im, w_dev(W_FLR), "x", false), -EBUSY);
	model_qi_stall(0, false);
	w_run(10 * W_MS);
	assert_false(iommu_pending(&W.im));
	assert_int_equal(iommu_owner_of(&W.im, w_dev(W_FLR), &owner),
			 IOMMU_OWNER_KERNEL);
	w_guest_del(g);
}

/*
 * Detaching one member of an alias group detaches the requester id it
 * shares: no sibling keeps it attached (docs/scenarios.md, iso-alias-detach).
 */
static void test_detach_of_alias_member_detaches_shared_id(void **state)
{
	uint64_t hc;
	unsigned int id = w_domain(&hc);
	const char *why;

	assert_int_equal(iommu_attach(&W.im, w_dev(W_ALIAS1), id, &why), 0);
	assert_int_equal(iommu_detach(&W.im, w_dev(W_ALIAS1)), 0);
	assert_blocked(W_ALIAS0, 0xe4);
	assert_int_equal(bytes_of(hc, 0xe4), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, w_setup, w_teardown)
		T(test_handover_without_flr_keeps_a_out_of_b),
		T(test_unprovable_handover_refused_unless_forced),
		T(test_console_to_guest_quiesces),
		T(test_guest_to_console_refused_while_unproven),
		T(test_claimed_unattached_group_stays_dirty),
		T(test_alias_member_assignable),
		T(test_claim_blocks_whole_group),
		T(test_new_member_does_not_block_assigned),
		T(test_console_cannot_touch_guest_domain),
		T(test_orderly_removal_blocks_dma),
		T(test_removed_while_proven_quiet),
		T(test_removed_during_reset),
		T(test_removed_while_unassigned),
		T(test_group_changed_while_unassigned),
		T(test_quarantined_while_unassigned),
		T(test_member_unassigned_yields),
		T(test_orderly_removal_turns_ats_off),
		T(test_surprise_removal_clears_entries),
		T(test_removal_of_dead_ats_device_does_not_wait),
		T(test_removal_detach_timeout_is_retried),
		T(test_replug_gets_fresh_state_while_detach_pending),
		T(test_gone_handle_does_not_reach_replugged),
		T(test_claim_remove_cycles_do_not_leak),
		T(test_silent_functions_keep_their_groups),
		T(test_kernel_drives_only_its_own_devices),
		T(test_fault_charged_to_owner_at_fault_time),
		T(test_fault_before_assign_stays_the_kernels),
		T(test_presence_follows_link),
		T(test_quarantined_device_poll_is_quiet),
		T(test_reset_blocks_first),
		T(test_guest_domain_delete_retried),
		T(test_dead_ats_endpoint_fini_frees_everything),
		T(test_unmap_four_ats_one_dead_waits_one_deadline),
		T(test_kernel_dma_after_release_is_not_trusted),
		T(test_domain_del_after_failed_unmap_flushes_first),
		T(test_mapped_memory_stays_reachable),
		T(test_unconfirmed_detach_keeps_group_in_transit),
		T(test_detach_of_alias_member_detaches_shared_id),
#undef T
#define K(fn) cmocka_unit_test_setup_teardown(fn, w_setup_kexec, w_teardown)
		K(test_kexec_group_quiesced_on_first_claim),
		K(test_kexec_handover_masks_fault_event),
		K(test_kexec_translation_released_by_detach),
		K(test_kexec_translation_released_by_removal),
#undef K
	};

	/* A pattern given runs only the tests it names. */
	if (argc > 1) {
		cmocka_set_test_filter(argv[1]);
	}
	return deadline_run_group_tests(tests, NULL, NULL);
}
