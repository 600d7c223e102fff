/*
 * The invalidation queue against the model's failures: IQE (every IQEI),
 * ITE and ICE at every slot of batches of 1 to 16 descriptors with
 * fetch-ahead 0, 1 and N; a device-TLB flush to a device that vanished
 * while other domains keep unmapping; status writes that land after the
 * deadline; deadlines per class.  What every case checks:
 * - no call waits past its deadline in virtual time (plus one poll step);
 * - no slot is reused while the hardware may still write it, and the tail
 *   never passes unfinished work (the model records violations);
 * - no false completion: a batch reported complete ran all its work, so
 *   no stale translation is served after it;
 * - only the guilty device is quarantined;
 * - the queue drains and the unit is healthy after recovery.
 *
 * Driver state is read through accessors (vtd_qi_idle(), vtd_unit_stats(),
 * vtd_domain_info(), vtd_unit_deadline_ns()).  What stays white-box, on
 * purpose, because the case is about the ring itself:
 * - qi.seq: set near the 32-bit wrap, or read as "the last batch issued"
 *   to wait for it;
 * - qi.slot_seq and qi.status_pa: which sequence number each slot's status
 *   word must end with, checked against the status page the unit writes;
 * - qi.status, qi.tail and qi.slots: a stray status write planted in the
 *   next slot, as a late write from a previous batch would land;
 * - unit ecap: DIT turned on after bring-up to build one descriptor;
 * - d->pt and fl.count: tables freed without the domain's invalidation, to
 *   show the model catches the stale walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"
#include "lib/bits.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"
#include "tests/model/model_ir.h"

#define MASTER	 SID(0, 16, 0) /* the DMA master of the test domain */
#define DEAD	 SID(3, 0, 0)  /* an ATS endpoint that never answers */
#define LIVE	 SID(3, 1, 0)  /* one that answers in 2 us */
#define PAGES	 16U
#define IOVA(i)	 (SZ_1G + (uint64_t)(i)*SZ_4K)
#define KEEP	 IOVA(100)	  /* stays mapped: its table never empties */
#define RELAX_NS UINT64_C(100000) /* one poll step: 100 us */
#define MS	 UINT64_C(1000000)
#define ITE_NS	 (UINT64_C(60000) * MS) /* the hardware's own time-out */

/* A unit with device-TLB support, a domain on MASTER, two endpoints. */
struct rig {
	struct vtd_unit u;
	unsigned int idx;
	struct vtd_domain *d;
	uint64_t ram;
};

/* Fetch-ahead, and whether fetched descriptors run again after an ITE. */
struct sweep {
	unsigned int fetch_ahead;
	bool refetch;
};

static const struct sweep fetch_none = {0, false};
static const struct sweep fetch_one = {1, false};
static const struct sweep fetch_many = {8, false};
static const struct sweep fetch_many_again = {8, true};

static struct model_unit_config qi_cfg(const struct sweep *sw)
{
	struct model_unit_config cfg = default_cfg();

	cfg.ecap |= VTD_ECAP_DT;
	cfg.fetch_ahead = sw->fetch_ahead;
	cfg.ite_refetch = sw->refetch;
	return cfg;
}

static void rig_up(struct rig *r, const struct model_unit_config *cfg)
{
	model_set_relax(RELAX_NS);
	r->idx = add_unit(cfg);
	r->d = up_attached(&r->u, r->idx, 39, MASTER);
	r->ram = model_ram_alloc((PAGES + 1) * SZ_4K, SZ_4K);
	t_map(r->d, iova_make(KEEP), hpa_make(r->ram + PAGES * SZ_4K), SZ_4K,
	      RW);
	model_add_endpoint(r->idx, DEAD, MODEL_ATS_NEVER);
	model_add_endpoint(r->idx, LIVE, 2000);
}

static void rig_down(struct rig *r)
{
	down_attached(r->d, &r->u, MASTER);
}

/*
 * Pages i < n not in skip: mapped, their translations cached by a DMA,
 * then cleared in the tables only.  Until an invalidation runs, the IOTLB
 * keeps serving them.
 */
static void arm(struct rig *r, unsigned int n, uint32_t skip)
{
	struct vtd_freelist fl = {0};
	uint64_t unmapped;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (skip & (1U << i))
			continue;
		t_map(r->d, iova_make(IOVA(i)), hpa_make(r->ram + i * SZ_4K),
		      SZ_4K, RW);
		assert_int_equal(dma_fill(r->idx, MASTER, IOVA(i), 1, 8), 0);
		assert_int_equal(vtd_pgtable_unmap(&r->d->pt,
						   iova_make(IOVA(i)), SZ_4K,
						   &unmapped, &fl),
				 0);
		assert_int_equal(fl.count, 0);
	}
}

/* Page-selective invalidation of page i (AM 0). */
static struct vtd_qi_desc psi(struct rig *r, unsigned int i)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_PAGE) |
		      field_prep64(VTD_QI_IOTLB_DID,
				   (uint64_t)vtd_domain_did(r->d, &r->u)),
		.hi = IOVA(i),
	};

	return d;
}

/* The translation of page i is gone: its invalidation ran. */
static void expect_gone(struct rig *r, unsigned int i)
{
	model_expect_unmap(r->d, IOVA(i), SZ_4K);
	assert_int_equal(dma_fill(r->idx, MASTER, IOVA(i), 2, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&r->u, NULL, NULL), 1);
}

/* Poll as a timer would until the queue is empty (at most 10 ms). */
static void drain(struct vtd_unit *u)
{
	unsigned int i;

	for (i = 0; i < 1000 && !vtd_qi_idle(u); i++) {
		vtd_qi_poll(u);
		model_advance(10000);
	}
	assert_true(vtd_qi_idle(u));
}

/* A call that began at t0 took no more than its deadline and a poll step. */
static void assert_within(const struct vtd_unit *u, uint64_t t0,
			  enum vtd_deadline_class cls)
{
	assert_true(model_now() - t0 <=
		    vtd_unit_deadline_ns(u, cls) + RELAX_NS);
}

/* ---- ITE at every slot ---- */

/*
 * Position p of n holds a device-TLB invalidation to DEAD; with n > 2 the
 * next position one to LIVE, the others page-selective invalidations.
 */
static void ite_case(struct rig *r, unsigned int n, unsigned int p)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	unsigned int i, live = n > 2 ? (p + 1) % n : n;
	uint64_t ite = vtd_unit_stats(&r->u)->ite, t0, live_at_ite;
	uint32_t seq;

	arm(r, n, 1U << p | 1U << live);
	for (i = 0; i < n; i++) {
		if (i == p)
			descs[i] =
				vtd_desc_devtlb(&r->u, DEAD, DEAD, 0,
						iova_make(0), VTD_DEVTLB_ALL);
		else if (i == live)
			descs[i] = vtd_desc_devtlb(&r->u, LIVE, LIVE, 0,
						   iova_make(IOVA(i)), 0);
		else
			descs[i] = psi(r, i);
	}
	t0 = model_now();
	assert_int_equal(vtd_qi_submit(&r->u, descs, n, &seq), -ETIMEDOUT);
	assert_within(&r->u, t0, VTD_DEADLINE_DEVTLB);
	/* The deadline blames a device only when it was the sole target. */
	assert_int_equal(vtd_device_quarantined(&r->u, DEAD), live == n);
	assert_false(vtd_device_quarantined(&r->u, LIVE));
	assert_false(vtd_unit_degraded(&r->u));

	/* The hardware gives up a minute later: ITE. */
	model_advance(ITE_NS);
	live_at_ite = model_endpoint_stats(r->idx, LIVE)->invalidations;
	vtd_qi_poll(&r->u);
	drain(&r->u);
	assert_int_equal(vtd_unit_stats(&r->u)->ite, ite + 1);
	assert_true(vtd_device_quarantined(&r->u, DEAD));
	assert_false(vtd_device_quarantined(&r->u, LIVE));
	assert_true(vtd_qi_passed(&r->u, seq));
	assert_false(vtd_unit_degraded(&r->u));
	for (i = 0; i < n; i++) {
		if (i != p && i != live)
			expect_gone(r, i);
	}
	/* The live device's invalidation was resubmitted and ran. */
	if (live < n)
		assert_true(model_endpoint_stats(r->idx, LIVE)->invalidations >
			    live_at_ite);
	assert_int_equal(model_violations(), 0);
	vtd_device_reset_done(&r->u, DEAD);
}

static void test_ite_every_slot(void **state)
{
	struct model_unit_config cfg = qi_cfg(*state);
	unsigned int n, p;
	struct rig r;

	rig_up(&r, &cfg);
	for (n = 1; n <= VTD_QI_BATCH_MAX; n++) {
		for (p = 0; p < n; p++)
			ite_case(&r, n, p);
	}
	assert_int_equal(vtd_unit_stats(&r.u)->ite,
			 VTD_QI_BATCH_MAX * (VTD_QI_BATCH_MAX + 1) / 2);
	assert_int_equal(model_unit_stats(r.idx)->ite,
			 vtd_unit_stats(&r.u)->ite);
	assert_int_equal(vtd_unit_stats(&r.u)->quarantines,
			 vtd_unit_stats(&r.u)->ite);
	rig_down(&r);
}

/* ---- IQE at every slot, with every reason ---- */

/* IQE when fetching position p of n page-selective invalidations (n: the wait).
 */
static void iqe_case(struct rig *r, unsigned int n, unsigned int p,
		     unsigned int iqei)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	bool fails = iqei != VTD_IQEI_TAIL;
	uint64_t iqe = vtd_unit_stats(&r->u)->iqe, t0;
	unsigned int i;
	uint32_t seq;

	arm(r, n, 0);
	for (i = 0; i < n; i++)
		descs[i] = psi(r, i);
	model_inject_iqe(r->idx, p, iqei);
	t0 = model_now();
	assert_int_equal(vtd_qi_submit(&r->u, descs, n, &seq),
			 fails ? -EIO : 0);
	assert_within(&r->u, t0, VTD_DEADLINE_IOTLB);
	assert_int_equal(vtd_unit_stats(&r->u)->iqe, iqe + 1);
	assert_true(vtd_qi_idle(&r->u));
	/* Passed by the hardware; its result stays with it. */
	assert_true(vtd_qi_passed(&r->u, seq));
	assert_int_equal(vtd_qi_wait(&r->u, seq), fails ? -EIO : 0);
	for (i = 0; i < n; i++) {
		if (!fails || i != p) {
			expect_gone(r, i);
			continue;
		}
		/* Replaced, never run: reported failed, still cached. */
		assert_int_equal(
			model_executed(r->idx, descs[i].lo, descs[i].hi, t0),
			0);
		assert_int_equal(dma_fill(r->idx, MASTER, IOVA(i), 3, 8), 0);
		assert_int_equal(vtd_domain_flush(r->d), 0);
		expect_gone(r, i);
	}
	assert_false(vtd_unit_degraded(&r->u));
	assert_int_equal(model_violations(), 0);
}

static void test_iqe_every_slot(void **state)
{
	struct model_unit_config cfg = qi_cfg(*state);
	unsigned int n, p, iqei;
	struct rig r;

	rig_up(&r, &cfg);
	for (iqei = VTD_IQEI_UNKNOWN; iqei <= VTD_IQEI_WIDTH; iqei++) {
		for (n = 1; n <= VTD_QI_BATCH_MAX; n++) {
			for (p = 0; p <= n; p++)
				iqe_case(&r, n, p, iqei);
		}
	}
	assert_int_equal(model_unit_stats(r.idx)->iqe,
			 vtd_unit_stats(&r.u)->iqe);
	rig_down(&r);
}

/* ---- ICE at every slot ---- */

/* Requesters the injected completion errors name, in turn. */
static const rid_t culprits[] = {SID(5, 0, 0), SID(5, 1, 0), LIVE};

/*
 * ICE when position p of n runs (n: the wait); position 0 holds a
 * device-TLB invalidation to LIVE when n > 1.  ICE stops nothing: the batch
 * completes, and the named device is quarantined at its third error.
 */
static void ice_case(struct rig *r, unsigned int n, unsigned int p,
		     rid_t culprit, unsigned int *errors)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	unsigned int i;
	uint64_t t0;

	arm(r, n, n > 1 ? 1U : 0);
	for (i = 0; i < n; i++)
		descs[i] = i == 0 && n > 1 ? vtd_desc_devtlb(&r->u, LIVE, LIVE,
							     0, iova_make(0), 0)
					   : psi(r, i);
	model_inject_ice(r->idx, p, culprit);
	t0 = model_now();
	assert_int_equal(vtd_qi_submit(&r->u, descs, n, NULL), 0);
	assert_within(&r->u, t0, VTD_DEADLINE_IOTLB);
	vtd_qi_poll(&r->u);
	for (i = n > 1 ? 1 : 0; i < n; i++)
		expect_gone(r, i);
	(*errors)++;
	assert_int_equal(vtd_device_quarantined(&r->u, culprit), *errors == 3);
	assert_int_equal(vtd_quarantine_count(&r->u), *errors == 3);
	if (*errors == 3) {
		vtd_device_reset_done(&r->u, culprit);
		*errors = 0;
	}
	assert_true(vtd_qi_idle(&r->u));
	assert_int_equal(model_violations(), 0);
}

static void test_ice_every_slot(void **state)
{
	struct model_unit_config cfg = qi_cfg(*state);
	unsigned int errors[ARRAY_SIZE(culprits)] = {0};
	unsigned int n, p, k = 0;
	struct rig r;

	rig_up(&r, &cfg);
	for (n = 1; n <= VTD_QI_BATCH_MAX; n++) {
		for (p = 0; p <= n; p++, k++)
			ice_case(&r, n, p, culprits[k % ARRAY_SIZE(culprits)],
				 &errors[k % ARRAY_SIZE(culprits)]);
	}
	assert_int_equal(vtd_unit_stats(&r.u)->ice, k);
	assert_int_equal(model_unit_stats(r.idx)->ice, k);
	assert_int_equal(vtd_unit_stats(&r.u)->quarantines, k / 3);
	rig_down(&r);
}

/* ---- a device that vanished ---- */

static bool config_answers(void *ctx, uint16_t segment, rid_t sid)
{
	return hw_pci_read16(segment, rid_bus(sid), rid_devfn(sid), 0) !=
	       0xffff;
}

/*
 * An ATS device vanishes without notice.  Its device-TLB flush misses its
 * deadline and quarantines it; the queue is stuck behind it until the
 * hardware's ITE.  Meanwhile other domains keep mapping and unmapping:
 * every call returns within its own deadline, no unit is blamed, and once
 * ITE is reported their unmaps complete and their table pages are freed.
 */
static void test_devtlb_to_vanished_device(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_one);
	struct vtd_domain *other[2];
	uint64_t t0, sent, ram;
	unsigned int i, k;
	struct rig r;

	rig_up(&r, &cfg);
	ram = model_ram_alloc(64 * SZ_4K, SZ_4K);
	for (k = 0; k < 2; k++) {
		other[k] = new_domain(&r.u, 39);
		t_attach(other[k], &r.u, SID(1, k, 0));
	}
	model_remove_endpoint(r.idx, LIVE);

	t0 = model_now();
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0, iova_make(0),
					  VTD_DEVTLB_ALL),
			 -ETIMEDOUT);
	assert_within(&r.u, t0, VTD_DEADLINE_DEVTLB);
	assert_true(vtd_device_quarantined(&r.u, LIVE));
	assert_int_equal(
		vtd_unit_stats(&r.u)->deadline[VTD_DEADLINE_DEVTLB].misses, 1);

	/* Other domains, for 20 more seconds: map, use, unmap. */
	for (i = 0; i < 40; i++) {
		k = i % 2;
		t_map(other[k], iova_make(IOVA(i)),
		      hpa_make(ram + (i % 64) * SZ_4K), SZ_4K, RW);
		assert_int_equal(dma_fill(r.idx, SID(1, k, 0), IOVA(i), 4, 8),
				 0);
		t0 = model_now();
		assert_int_equal(
			vtd_domain_unmap(other[k], iova_make(IOVA(i)), SZ_4K),
			-ETIMEDOUT);
		assert_within(&r.u, t0, VTD_DEADLINE_IOTLB);
		model_advance(400 * MS);
	}
	/* Stuck behind the device, not late themselves: the unit is fine. */
	assert_false(vtd_unit_degraded(&r.u));
	assert_int_equal(
		vtd_unit_stats(&r.u)->deadline[VTD_DEADLINE_IOTLB].misses, 0);
	assert_int_not_equal(dom_info(other[0]).deferred, 0);

	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 1);
	assert_int_equal(
		vtd_unit_stats(&r.u)->deadline[VTD_DEADLINE_DEVTLB].recoveries,
		1);
	assert_int_equal(vtd_quarantine_count(&r.u), 1);
	for (i = 0; i < 40; i++) {
		k = i % 2;
		model_expect_unmap(other[k], IOVA(i), SZ_4K);
		assert_int_equal(dma_fill(r.idx, SID(1, k, 0), IOVA(i), 5, 8),
				 -EFAULT);
		assert_int_equal(vtd_fault_poll(&r.u, NULL, NULL), 1);
	}
	/* Their next calls complete at once and free what waited. */
	for (k = 0; k < 2; k++) {
		t_map(other[k], iova_make(IOVA(200)), hpa_make(ram), SZ_4K, RW);
		t_unmap(other[k], iova_make(IOVA(200)), SZ_4K);
		assert_int_equal(dom_info(other[k]).deferred, 0);
	}

	/* Quarantined; reset but known gone; absent: nothing more is sent. */
	sent = model_endpoint_stats(r.idx, LIVE)->invalidations;
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0, iova_make(0), 0),
			 -EIO);
	vtd_device_reset_done(&r.u, LIVE);
	vtd_device_gone(&r.u, LIVE);
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0, iova_make(0), 0),
			 -ENODEV);
	vtd_device_reset_done(&r.u, LIVE);
	vtd_unit_set_presence(&r.u, config_answers, NULL);
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0, iova_make(0), 0),
			 -ENODEV);
	assert_int_equal(model_endpoint_stats(r.idx, LIVE)->invalidations,
			 sent);
	assert_int_equal(model_endpoint_stats(r.idx, LIVE)->after_removal, 1);
	/* Back and answering: flushed at once. */
	model_add_endpoint(r.idx, LIVE, 2000);
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0, iova_make(0), 0),
			 0);

	for (k = 0; k < 2; k++) {
		t_detach(other[k], &r.u, SID(1, k, 0));
		assert_int_equal(vtd_domain_destroy(other[k]), 0);
	}
	rig_down(&r);
}

/*
 * An ATS device that briefly does not answer config reads gets no
 * device-TLB invalidation, and that is no flush: the unmap fails and the
 * table pages wait, until the device answers again and a flush reaches
 * it, or it is known gone.
 */
static void test_devtlb_not_answering(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	uint64_t far = 2 * SZ_1G; /* its tables empty at unmap */
	uint64_t sent, pages;
	struct rig r;

	rig_up(&r, &cfg);
	vtd_unit_set_presence(&r.u, config_answers, NULL);
	assert_int_equal(vtd_attach_ats(r.d, &r.u, LIVE, LIVE, 0), 0);
	model_expect_attach(r.idx, LIVE, r.d);
	t_map(r.d, iova_make(far), hpa_make(r.ram), SZ_4K, RW);
	assert_int_equal(dma_fill(r.idx, LIVE, far, 1, 8), 0);
	pages = model_table_pages();

	sent = model_endpoint_stats(r.idx, LIVE)->invalidations;
	model_silence_endpoint(r.idx, LIVE, true);
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(far), SZ_4K), -EIO);
	model_expect_unmap(r.d, far, SZ_4K);
	assert_int_not_equal(dom_info(r.d).deferred, 0);
	assert_int_equal(model_endpoint_stats(r.idx, LIVE)->invalidations,
			 sent);
	/* No batch can prove it: the next call's reaping keeps them. */
	t_map(r.d, iova_make(IOVA(1)), hpa_make(r.ram), SZ_4K, RW);
	assert_int_not_equal(dom_info(r.d).deferred, 0);
	/* Still silent: a flush cannot prove anything either. */
	assert_int_equal(vtd_domain_flush(r.d), -EIO);
	assert_int_not_equal(dom_info(r.d).deferred, 0);
	/* Back: the flush reaches it, and only then do the tables go. */
	model_silence_endpoint(r.idx, LIVE, false);
	assert_int_equal(vtd_domain_flush(r.d), 0);
	assert_int_equal(dom_info(r.d).deferred, 0);
	assert_true(model_table_pages() < pages);
	assert_true(model_endpoint_stats(r.idx, LIVE)->invalidations > sent);
	t_unmap(r.d, iova_make(IOVA(1)), SZ_4K);

	/* Silent, then known gone: nothing is sent, the pages go. */
	t_map(r.d, iova_make(far), hpa_make(r.ram), SZ_4K, RW);
	model_silence_endpoint(r.idx, LIVE, true);
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(far), SZ_4K), -EIO);
	model_expect_unmap(r.d, far, SZ_4K);
	sent = model_endpoint_stats(r.idx, LIVE)->invalidations;
	vtd_device_gone(&r.u, LIVE);
	assert_int_equal(vtd_domain_flush(r.d), 0);
	assert_int_equal(dom_info(r.d).deferred, 0);
	assert_int_equal(model_endpoint_stats(r.idx, LIVE)->invalidations,
			 sent);
	t_detach(r.d, &r.u, LIVE);
	rig_down(&r);
}

/*
 * One unmap, four ATS devices, the first to be invalidated dead: every
 * device-TLB invalidation is issued first and waited for once, so the
 * call waits one device-TLB deadline in total, not one per device.
 */
static void test_devtlb_one_deadline(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	rid_t sids[4] = {SID(6, 0, 0), SID(6, 1, 0), SID(6, 2, 0), DEAD};
	uint64_t t0, sent[4];
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	for (i = 0; i < 4; i++) {
		if (!rid_eq(sids[i], DEAD))
			model_add_endpoint(r.idx, sids[i], 2000);
		assert_int_equal(vtd_attach_ats(r.d, &r.u, sids[i], sids[i], 0),
				 0);
		model_expect_attach(r.idx, sids[i], r.d);
	}
	t_map(r.d, iova_make(IOVA(0)), hpa_make(r.ram), SZ_4K, RW);
	for (i = 0; i < 4; i++)
		sent[i] = model_endpoint_stats(r.idx, sids[i])->invalidations;
	t0 = model_now();
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(IOVA(0)), SZ_4K),
			 -ETIMEDOUT);
	model_expect_unmap(r.d, IOVA(0), SZ_4K);
	assert_true(model_now() - t0 <=
		    vtd_unit_deadline_ns(&r.u, VTD_DEADLINE_IOTLB) +
			    vtd_unit_deadline_ns(&r.u, VTD_DEADLINE_DEVTLB) +
			    2 * RELAX_NS);
	assert_true(vtd_unit_stats(&r.u)
			    ->deadline[VTD_DEADLINE_DEVTLB]
			    .max_wait_ns <=
		    vtd_unit_deadline_ns(&r.u, VTD_DEADLINE_DEVTLB) + RELAX_NS);
	assert_true(vtd_device_quarantined(&r.u, DEAD));

	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	/* The live ones got theirs, once the dead one was dropped. */
	for (i = 0; i < 3; i++)
		assert_true(
			model_endpoint_stats(r.idx, sids[i])->invalidations >
			sent[i]);
	expect_gone(&r, 0);
	for (i = 0; i < 4; i++)
		t_detach(r.d, &r.u, sids[i]);
	vtd_device_reset_done(&r.u, DEAD);
	rig_down(&r);
}

/*
 * A quarantined ATS device still attached: its cache is suspect, so an
 * unmap fails and keeps its pages, while the other device gets its
 * invalidation.
 */
static void test_devtlb_quarantined(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	rid_t other = SID(6, 0, 0);
	uint64_t far = 2 * SZ_1G, sent;
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	model_add_endpoint(r.idx, other, 2000);
	assert_int_equal(vtd_attach_ats(r.d, &r.u, LIVE, LIVE, 0), 0);
	model_expect_attach(r.idx, LIVE, r.d);
	assert_int_equal(vtd_attach_ats(r.d, &r.u, other, other, 0), 0);
	model_expect_attach(r.idx, other, r.d);
	t_map(r.d, iova_make(far), hpa_make(r.ram), SZ_4K, RW);
	for (i = 0; i < 3; i++)
		vtd_device_completion_error(&r.u, LIVE);
	assert_true(vtd_device_quarantined(&r.u, LIVE));
	sent = model_endpoint_stats(r.idx, other)->invalidations;
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(far), SZ_4K), -EIO);
	model_expect_unmap(r.d, far, SZ_4K);
	assert_int_not_equal(dom_info(r.d).deferred, 0);
	assert_int_equal(model_endpoint_stats(r.idx, other)->invalidations,
			 sent + 1);
	t_detach(r.d, &r.u, LIVE);
	assert_int_equal(vtd_domain_flush(r.d), 0);
	assert_int_equal(dom_info(r.d).deferred, 0);
	t_detach(r.d, &r.u, other);
	vtd_device_reset_done(&r.u, LIVE);
	rig_down(&r);
}

/*
 * QI stays on while a batch is stuck on a dead device: turning the unit
 * off then is refused, and works once the hardware reported.
 */
static void test_disable_refused_while_busy(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct vtd_qi_desc desc;
	struct rig r;

	rig_up(&r, &cfg);
	desc = vtd_desc_devtlb(&r.u, DEAD, DEAD, 0, iova_make(0), 0);
	assert_int_equal(vtd_qi_submit(&r.u, &desc, 1, NULL), -ETIMEDOUT);
	assert_int_equal(vtd_unit_disable(&r.u), -EBUSY);
	assert_true(model_unit_gsts(r.idx) & VTD_GSTS_QIES);
	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	vtd_device_reset_done(&r.u, DEAD);
	rig_down(&r);
}

/*
 * An ATS attach on a caching-mode unit whose invalidation fails leaves the
 * entry present, translated requests allowed: the device keeps its
 * record, so later unmaps still invalidate its device-TLB.
 */
static void test_ats_record_outlives_failed_attach(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	uint64_t far = 2 * SZ_1G, sent;
	struct rig r;

	cfg.cap |= VTD_CAP_CM;
	rig_up(&r, &cfg);
	model_inject_iqe(r.idx, 0, VTD_IQEI_RSVD);
	assert_int_equal(vtd_attach_ats(r.d, &r.u, LIVE, LIVE, 0), -EIO);
	model_expect_attach(r.idx, LIVE, r.d);
	t_map(r.d, iova_make(far), hpa_make(r.ram), SZ_4K, RW);
	assert_int_equal(dma_fill(r.idx, LIVE, far, 1, 8), 0);
	sent = model_endpoint_stats(r.idx, LIVE)->invalidations;
	t_unmap(r.d, iova_make(far), SZ_4K);
	assert_int_equal(model_endpoint_stats(r.idx, LIVE)->invalidations,
			 sent + 1);
	t_detach(r.d, &r.u, LIVE);
	rig_down(&r);
}

/* A completion that arrives after the deadline: late, but no ITE. */
static void test_devtlb_late_completion(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	rid_t sid = SID(0, 20, 0);
	struct vtd_domain *d2;
	struct rig r;
	uint64_t t0;

	rig_up(&r, &cfg);
	model_add_endpoint(r.idx, sid, 2500 * MS);
	t0 = model_now();
	assert_int_equal(vtd_devtlb_flush(&r.u, sid, sid, 0, iova_make(0), 0),
			 -ETIMEDOUT);
	assert_within(&r.u, t0, VTD_DEADLINE_DEVTLB);
	assert_true(vtd_device_quarantined(&r.u, sid));
	model_advance(2000 * MS);
	vtd_qi_poll(&r.u);
	assert_true(vtd_qi_idle(&r.u));
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 0);
	assert_int_equal(
		vtd_unit_stats(&r.u)->deadline[VTD_DEADLINE_DEVTLB].recoveries,
		1);

	/* Quarantined until reset: no attachment, no more invalidations. */
	d2 = new_domain(&r.u, 39);
	assert_int_equal(vtd_attach(d2, &r.u, &sid, 1), -EIO);
	vtd_device_reset_done(&r.u, sid);
	model_add_endpoint(r.idx, sid, 2000);
	t_attach(d2, &r.u, sid);
	assert_int_equal(vtd_devtlb_flush(&r.u, sid, sid, 0, iova_make(0), 0),
			 0);
	t_detach(d2, &r.u, sid);
	assert_int_equal(vtd_domain_destroy(d2), 0);
	rig_down(&r);
}

/*
 * A unit whose own device-TLB time-out is shorter than our deadline: the
 * ITE arrives while the CPU waits.  The wait ends with the ITE, the batch
 * queued behind is resubmitted and completes, both with one doorbell.
 */
static void test_ite_during_wait(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_one);
	struct vtd_qi_desc desc;
	uint32_t seq[2];
	struct rig r;
	uint64_t t0;

	cfg.ite_timeout_ns = 50 * MS;
	rig_up(&r, &cfg);
	arm(&r, 1, 0);
	desc = vtd_desc_devtlb(&r.u, DEAD, DEAD, 0, iova_make(0), 0);
	assert_int_equal(vtd_qi_queue(&r.u, &desc, 1, &seq[0]), 0);
	desc = psi(&r, 0);
	assert_int_equal(vtd_qi_queue(&r.u, &desc, 1, &seq[1]), 0);
	t0 = model_now();
	assert_int_equal(vtd_qi_wait(&r.u, seq[0]), -ETIMEDOUT);
	assert_true(model_now() - t0 < 60 * MS);
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 1);
	assert_true(vtd_device_quarantined(&r.u, DEAD));
	assert_int_equal(vtd_qi_wait(&r.u, seq[1]), 0);
	expect_gone(&r, 0);
	assert_true(vtd_qi_idle(&r.u));
	assert_int_equal(vtd_unit_stats(&r.u)->aborted, 2);
	assert_int_equal(vtd_unit_stats(&r.u)->resubmitted, 2);
	rig_down(&r);
}

/* ---- status writes after the deadline ---- */

/*
 * The status write of a batch lands long after its deadline, holding back
 * the writes behind it (posted writes stay in order).  Until it lands the
 * unit is degraded and no slot is reused: the model checks every wait it
 * fetches against the writes still on their way, while the test keeps
 * queueing until the queue refuses.  When the writes land, each changes its
 * own status word and nothing else.
 */
static void test_late_status_write(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	uint32_t before[SZ_4K / 4], expect[VTD_QI_SLOTS], seq[3];
	rid_t sid = SID(2, 0, 0);
	const uint32_t *page;
	struct vtd_qi_desc desc;
	struct vtd_domain *d2;
	unsigned int i, k;
	struct rig r;
	uint64_t t0;
	int err;

	rig_up(&r, &cfg);
	d2 = new_domain(&r.u, 39);
	page = hw_phys_to_virt(r.u.qi.status_pa);
	memcpy(before, page, sizeof(before));
	model_delay_status(r.idx, 0, 1000 * MS);
	for (k = 0; k < 2; k++) {
		arm(&r, 1, 0);
		desc = psi(&r, 0);
		t0 = model_now();
		assert_int_equal(vtd_qi_submit(&r.u, &desc, 1, &seq[k]),
				 -ETIMEDOUT);
		assert_within(&r.u, t0, VTD_DEADLINE_IOTLB);
	}
	/* Only the first was at the head: one miss, the unit degraded. */
	assert_true(vtd_unit_degraded(&r.u));
	assert_int_equal(
		vtd_unit_stats(&r.u)->deadline[VTD_DEADLINE_IOTLB].misses, 1);
	assert_int_equal(vtd_attach(d2, &r.u, &sid, 1), -ETIMEDOUT);
	/* Queue more while the writes are on their way, then ring for it. */
	do {
		desc = psi(&r, 1);
		err = vtd_qi_queue(&r.u, &desc, 1, &seq[2]);
	} while (!err);
	assert_int_equal(err, -EBUSY);
	t0 = model_now();
	assert_int_equal(vtd_qi_wait(&r.u, r.u.qi.seq), -ETIMEDOUT);
	assert_within(&r.u, t0, VTD_DEADLINE_IOTLB);
	assert_int_equal(memcmp(page, before, sizeof(before)), 0);
	for (i = 0; i < VTD_QI_SLOTS; i++)
		expect[i] = r.u.qi.slot_seq[i] ? r.u.qi.slot_seq[i] : before[i];

	model_advance(1000 * MS);
	for (i = 0; i < VTD_QI_SLOTS; i++)
		assert_int_equal(page[i], expect[i]);
	assert_int_equal(memcmp(page + VTD_QI_SLOTS, before + VTD_QI_SLOTS,
				sizeof(before) - VTD_QI_SLOTS * 4),
			 0);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	assert_false(vtd_unit_degraded(&r.u));
	assert_int_equal(
		vtd_unit_stats(&r.u)->deadline[VTD_DEADLINE_IOTLB].recoveries,
		1);
	assert_true(vtd_qi_passed(&r.u, seq[0]));
	assert_true(vtd_qi_passed(&r.u, r.u.qi.seq));
	expect_gone(&r, 0);
	t_attach(d2, &r.u, sid);
	t_detach(d2, &r.u, sid);
	assert_int_equal(vtd_domain_destroy(d2), 0);
	rig_down(&r);
}

/* ---- deadlines, configuration, degraded unit ---- */

static void test_config_keys(void **state)
{
	struct vtd_config cfg;

	vtd_config_default(&cfg);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.reg", 2500), 0);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.iotlb", 5000), 0);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.devtlb", 20000), 0);
	assert_int_equal(cfg.deadline_ns[VTD_DEADLINE_REG], 2500000);
	assert_int_equal(cfg.deadline_ns[VTD_DEADLINE_IOTLB], 5000000);
	assert_int_equal(cfg.deadline_ns[VTD_DEADLINE_DEVTLB], 20000000);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.devtlb", 0),
			 -ERANGE);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.iotlb", 600000001),
			 -ERANGE);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.ite", 5), -ENOENT);
	assert_int_equal(vtd_config_set(&cfg, "vtd.deadline.", 5), -ENOENT);
	assert_int_equal(vtd_config_set(&cfg, "deadline.reg", 5), -ENOENT);
	assert_int_equal(cfg.deadline_ns[VTD_DEADLINE_DEVTLB], 20000000);
	assert_string_equal(vtd_deadline_name(VTD_DEADLINE_DEVTLB), "devtlb");
}

/* Each class is held to its own configured deadline. */
static void test_deadline_per_class(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	unsigned int idx;
	struct vtd_config vc;
	struct vtd_qi_desc desc;
	struct vtd_unit u;
	uint64_t t0;

	model_set_relax(RELAX_NS);
	vtd_config_default(&vc);
	assert_int_equal(vtd_config_set(&vc, "vtd.deadline.iotlb", 5000), 0);
	assert_int_equal(vtd_config_set(&vc, "vtd.deadline.devtlb", 20000), 0);
	idx = add_unit(&cfg);
	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), &vc), 0);
	assert_int_equal(vtd_unit_enable(&u), 0);

	model_qi_stall(idx, true);
	desc = vtd_desc_iotlb_global(&u);
	t0 = model_now();
	assert_int_equal(vtd_qi_submit(&u, &desc, 1, NULL), -ETIMEDOUT);
	assert_true(model_now() - t0 >= 5 * MS);
	assert_within(&u, t0, VTD_DEADLINE_IOTLB);
	model_qi_stall(idx, false);
	model_advance(10000);
	vtd_qi_poll(&u);
	assert_false(vtd_unit_degraded(&u));

	desc = vtd_desc_devtlb(&u, DEAD, DEAD, 0, iova_make(0), 0);
	t0 = model_now();
	assert_int_equal(vtd_qi_submit(&u, &desc, 1, NULL), -ETIMEDOUT);
	assert_true(model_now() - t0 >= 20 * MS);
	assert_within(&u, t0, VTD_DEADLINE_DEVTLB);
	assert_true(vtd_device_quarantined(&u, DEAD));
	model_advance(ITE_NS);
	vtd_qi_poll(&u);
	drain(&u);
	assert_int_equal(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_IOTLB].misses, 1);
	assert_int_equal(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_IOTLB].recoveries, 1);
	assert_int_equal(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_DEVTLB].misses, 1);
	assert_int_equal(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_DEVTLB].recoveries,
		1);
	assert_true(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_DEVTLB].max_wait_ns <=
		20 * MS + RELAX_NS);
	shut_down(&u);

	/* Register handshakes: a unit whose TE never follows GCMD. */
	cfg.gsts_stuck = VTD_GSTS_TES;
	assert_int_equal(vtd_config_set(&vc, "vtd.deadline.reg", 2500), 0);
	idx = add_unit(&cfg);
	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), &vc), 0);
	assert_int_equal(vtd_unit_enable(&u), -ETIMEDOUT);
	/* Enabling takes several handshakes; the stuck one was cut short. */
	assert_true(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_REG].max_wait_ns >=
		2500000);
	assert_true(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_REG].max_wait_ns <=
		2500000 + RELAX_NS);
	assert_int_equal(vtd_unit_stats(&u)->deadline[VTD_DEADLINE_REG].misses,
			 1);
	model_unstick(idx);
	shut_down(&u);
	assert_int_equal(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_REG].recoveries, 1);
}

/* A late internal invalidation degrades the unit until it completes. */
static void test_degraded_unit_recovers(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	rid_t sid = SID(2, 1, 0);
	struct vtd_domain *d2;
	struct rig r;

	rig_up(&r, &cfg);
	d2 = new_domain(&r.u, 39);
	model_qi_stall(r.idx, true);
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(KEEP), SZ_4K),
			 -ETIMEDOUT);
	assert_true(vtd_unit_degraded(&r.u));
	assert_int_equal(model_log_count("unit degraded until it completes"),
			 1);
	assert_int_equal(vtd_attach(d2, &r.u, &sid, 1), -ETIMEDOUT);
	model_qi_stall(r.idx, false);
	model_advance(10000);
	vtd_qi_poll(&r.u);
	assert_false(vtd_unit_degraded(&r.u));
	assert_int_equal(model_log_count("unit healthy again"), 1);
	model_expect_unmap(r.d, KEEP, SZ_4K);
	t_attach(d2, &r.u, sid);
	t_detach(d2, &r.u, sid);
	assert_int_equal(vtd_domain_destroy(d2), 0);
	rig_down(&r);
}

/* ---- two devices time out in turn, the ring full of stuck work ---- */

/*
 * The first dead device's batch holds the head; unmaps pile up behind it
 * until the queue refuses more; among them a flush to a second dead
 * device.  Two ITEs later every unmap has completed.
 */
static void test_two_dead_devices_full_ring(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_many);
	rid_t dead2 = SID(3, 2, 0);
	struct vtd_qi_desc desc;
	unsigned int i, n = 0;
	uint32_t seqs[VTD_QI_WORK_MAX];
	struct rig r;
	int err;

	rig_up(&r, &cfg);
	model_add_endpoint(r.idx, dead2, MODEL_ATS_NEVER);
	desc = vtd_desc_devtlb(&r.u, DEAD, DEAD, 0, iova_make(0), 0);
	assert_int_equal(vtd_qi_submit(&r.u, &desc, 1, NULL), -ETIMEDOUT);
	arm(&r, PAGES, 0);
	do {
		desc = n == 10 ? vtd_desc_devtlb(&r.u, dead2, dead2, 0,
						 iova_make(0), 0)
			       : psi(&r, n % PAGES);
		err = vtd_qi_queue(&r.u, &desc, 1, &seqs[n]);
	} while (!err && ++n < VTD_QI_WORK_MAX);
	assert_int_equal(err, -EBUSY);
	assert_int_equal(vtd_qi_wait(&r.u, seqs[0]), -ETIMEDOUT);

	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 2);
	assert_true(vtd_device_quarantined(&r.u, DEAD));
	assert_true(vtd_device_quarantined(&r.u, dead2));
	assert_int_equal(vtd_quarantine_count(&r.u), 2);
	for (i = 0; i < n; i++)
		assert_true(vtd_qi_passed(&r.u, seqs[i]));
	for (i = 0; i < PAGES; i++)
		expect_gone(&r, i);
	rig_down(&r);
}

/*
 * Six endpoints answer config reads but never an invalidation; the unit
 * drops fetched descriptors on ITE.  The first holds the head while the
 * ring fills to the admission limit; each ITE then meets the next dead
 * device with no status write in between.  However many ITEs in a row,
 * the ring never wraps over work the hardware has not run, and every
 * unmap queued behind them takes effect.
 */
static void test_ite_chain(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_one);
	uint32_t seqs[VTD_QI_WORK_MAX];
	struct vtd_qi_desc desc;
	unsigned int i, n = 0;
	struct rig r;
	int err;

	rig_up(&r, &cfg);
	for (i = 0; i < 6; i++)
		model_add_endpoint(r.idx, SID(4, i, 0), MODEL_ATS_NEVER);
	arm(&r, PAGES, 0);
	do {
		desc = n < 6 ? vtd_desc_devtlb(&r.u, SID(4, n, 0), SID(4, n, 0),
					       0, iova_make(0), 0)
			     : psi(&r, n % PAGES);
		err = vtd_qi_queue(&r.u, &desc, 1, &seqs[n]);
	} while (!err && ++n < VTD_QI_WORK_MAX);
	assert_int_equal(err, -EBUSY);
	assert_int_equal(vtd_qi_wait(&r.u, seqs[0]), -ETIMEDOUT);

	for (i = 0; i < 8; i++) {
		model_advance(ITE_NS);
		vtd_qi_poll(&r.u);
		assert_int_equal(model_violations(), 0);
	}
	drain(&r.u);
	/* One ITE per dead device, each named and quarantined. */
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 6);
	assert_int_equal(vtd_quarantine_count(&r.u), 6);
	for (i = 0; i < n; i++)
		assert_true(vtd_qi_passed(&r.u, seqs[i]));
	for (i = 0; i < PAGES; i++)
		expect_gone(&r, i);
	rig_down(&r);
}

/*
 * A unit whose IQERCD does not name the timed-out device (ITESID reads 0,
 * older hardware).  00:00.0 is never blamed; each dead device is named by
 * the head deadline, also when the hardware is stuck on work an earlier
 * ITE aborted, so there is one ITE per dead device and the queue drains.
 */
static void test_ite_without_sid(void **state)
{
	struct model_unit_config cfg = qi_cfg(*state);
	rid_t dead2 = SID(3, 2, 0);
	struct vtd_qi_desc desc;
	uint32_t seq[3];
	unsigned int i;
	struct rig r;

	cfg.ite_no_sid = true;
	rig_up(&r, &cfg);
	model_add_endpoint(r.idx, dead2, MODEL_ATS_NEVER);
	arm(&r, 1, 0);
	desc = vtd_desc_devtlb(&r.u, DEAD, DEAD, 0, iova_make(0), 0);
	assert_int_equal(vtd_qi_queue(&r.u, &desc, 1, &seq[0]), 0);
	desc = vtd_desc_devtlb(&r.u, dead2, dead2, 0, iova_make(0), 0);
	assert_int_equal(vtd_qi_queue(&r.u, &desc, 1, &seq[1]), 0);
	desc = psi(&r, 0);
	assert_int_equal(vtd_qi_queue(&r.u, &desc, 1, &seq[2]), 0);
	assert_int_equal(vtd_qi_wait(&r.u, seq[0]), -ETIMEDOUT);
	assert_true(vtd_device_quarantined(&r.u, DEAD));

	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 1);
	assert_false(vtd_device_quarantined(&r.u, rid_from(0)));
	/* Stuck on the second device: the head deadline names it. */
	for (i = 0; i < 2; i++) {
		model_advance(2000 * MS);
		vtd_qi_poll(&r.u);
	}
	assert_true(vtd_device_quarantined(&r.u, dead2));

	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	assert_int_equal(vtd_unit_stats(&r.u)->ite, 2);
	assert_int_equal(model_unit_stats(r.idx)->ite, 2);
	assert_false(vtd_device_quarantined(&r.u, rid_from(0)));
	assert_int_equal(vtd_quarantine_count(&r.u), 2);
	assert_true(vtd_qi_passed(&r.u, seq[2]));
	assert_int_equal(vtd_qi_wait(&r.u, seq[2]), 0);
	expect_gone(&r, 0);
	assert_false(vtd_unit_degraded(&r.u));
	rig_down(&r);
}

/* ---- console data, success path ---- */

struct batch_log {
	unsigned int count;
	struct vtd_qi_batch_info b[8];
};

static void on_batch(void *ctx, const struct vtd_qi_batch_info *b)
{
	struct batch_log *log = ctx;

	if (log->count < 8)
		log->b[log->count] = *b;
	log->count++;
}

static void on_sid(void *ctx, rid_t sid)
{
	*(rid_t *)ctx = sid;
}

static void test_qi_info(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct batch_log log = {0};
	struct vtd_qi_desc desc;
	struct vtd_qi_info info;
	rid_t quarantined = rid_from(0);
	struct rig r;

	rig_up(&r, &cfg);
	desc = vtd_desc_devtlb(&r.u, DEAD, DEAD, 0, iova_make(0), 0);
	assert_int_equal(vtd_qi_submit(&r.u, &desc, 1, NULL), -ETIMEDOUT);
	desc = vtd_desc_iotlb_global(&r.u);
	assert_int_equal(vtd_qi_submit(&r.u, &desc, 1, NULL), -ETIMEDOUT);

	vtd_qi_info(&r.u, &info);
	assert_int_equal(info.in_flight, 4);
	assert_int_equal(info.batches, 2);
	assert_int_equal(info.tail, (info.oldest + 4) % VTD_QI_SLOTS);
	assert_int_equal(info.head, (info.oldest + 1) % VTD_QI_SLOTS);
	assert_int_equal(info.done_seq, info.seq - 2);
	assert_int_equal(info.quarantined, 1);
	assert_false(info.degraded);
	vtd_qi_for_each_batch(&r.u, on_batch, &log);
	assert_int_equal(log.count, 2);
	assert_string_equal(log.b[0].state, "late");
	assert_int_equal(log.b[0].cls, VTD_DEADLINE_DEVTLB);
	assert_true(log.b[0].has_sid);
	assert_int_equal(rid_val(log.b[0].sid), rid_val(DEAD));
	assert_int_equal(log.b[0].seq, info.seq - 1);
	assert_true(log.b[0].age_ns >= 1100 * MS);
	assert_string_equal(log.b[1].state, "queued");
	assert_int_equal(log.b[1].cls, VTD_DEADLINE_IOTLB);
	assert_int_equal(log.b[1].count, 1);
	vtd_for_each_quarantined(&r.u, on_sid, &quarantined);
	assert_int_equal(rid_val(quarantined), rid_val(DEAD));

	model_advance(ITE_NS);
	vtd_qi_poll(&r.u);
	drain(&r.u);
	vtd_qi_info(&r.u, &info);
	assert_int_equal(info.in_flight, 0);
	assert_int_equal(info.done_seq, info.seq);
	assert_int_equal(info.errors, 0);
	rig_down(&r);
}

/* One doorbell and no register read per successful invalidation. */
static void test_success_path_mmio(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct vtd_stats s0;
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	for (i = 0; i < 100; i++) {
		t_map(r.d, iova_make(IOVA(i % PAGES)), hpa_make(r.ram), SZ_4K,
		      RW);
		s0 = *vtd_unit_stats(&r.u);
		t_unmap(r.d, iova_make(IOVA(i % PAGES)), SZ_4K);
		assert_int_equal(vtd_unit_stats(&r.u)->mmio_reads,
				 s0.mmio_reads);
		assert_int_equal(vtd_unit_stats(&r.u)->mmio_writes,
				 s0.mmio_writes + 1);
		assert_int_equal(vtd_unit_stats(&r.u)->doorbells,
				 s0.doorbells + 1);
	}
	rig_down(&r);
}

/*
 * The console's IQE self-test: a reserved bit is refused, the queue
 * recovers, and DMA goes on through fresh translations.
 */
static void test_selftest_iqe(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct rig r;

	rig_up(&r, &cfg);
	assert_int_equal(dma_fill(r.idx, MASTER, KEEP, 6, 8), 0);
	assert_int_equal(vtd_qi_selftest_iqe(&r.u), 0);
	assert_int_equal(vtd_unit_stats(&r.u)->iqe, 1);
	assert_int_equal(model_log_count("IQEI 4, reserved field set"), 1);
	assert_int_equal(dma_fill(r.idx, MASTER, KEEP, 7, 8), 0);
	assert_int_equal(ram_byte(r.ram + PAGES * SZ_4K), 7);
	assert_true(vtd_qi_idle(&r.u));
	rig_down(&r);
}

/*
 * An IQE (here the console's self-test) leaves no mark that ages: 2^31
 * batches later, completed batches still count as completed, whether
 * their waiter comes before or after they were retired, and the table
 * pages an unmap deferred are freed once its invalidation ran.
 */
static void test_iqe_mark_ages(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct vtd_qi_desc desc[2];
	uint64_t pages;
	uint32_t seq[2];
	struct rig r;

	rig_up(&r, &cfg);
	assert_int_equal(vtd_qi_selftest_iqe(&r.u), 0);
	r.u.qi.seq += UINT32_C(0x80000000);
	arm(&r, 2, 0);
	desc[0] = psi(&r, 0);
	desc[1] = psi(&r, 1);
	assert_int_equal(vtd_qi_queue(&r.u, &desc[0], 1, &seq[0]), 0);
	assert_int_equal(vtd_qi_queue(&r.u, &desc[1], 1, &seq[1]), 0);
	assert_int_equal(vtd_qi_wait(&r.u, seq[1]), 0);
	assert_int_equal(vtd_qi_wait(&r.u, seq[0]), 0);
	assert_true(vtd_qi_passed(&r.u, seq[0]));
	assert_true(vtd_qi_passed(&r.u, seq[1]));
	expect_gone(&r, 0);
	expect_gone(&r, 1);

	/* A deferred table page goes once its invalidation has run. */
	t_map(r.d, iova_make(IOVA(600)), hpa_make(r.ram), SZ_4K, RW);
	pages = model_table_pages();
	model_qi_stall(r.idx, true);
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(IOVA(600)), SZ_4K),
			 -ETIMEDOUT);
	model_expect_unmap(r.d, IOVA(600), SZ_4K);
	model_qi_stall(r.idx, false);
	model_advance(MS);
	t_map(r.d, iova_make(IOVA(2)), hpa_make(r.ram), SZ_4K, RW);
	assert_int_equal(dom_info(r.d).deferred, 0);
	assert_true(model_table_pages() < pages);
	t_unmap(r.d, iova_make(IOVA(2)), SZ_4K);
	rig_down(&r);
}

/*
 * Table pages whose invalidation an IQE failed stay allocated, whether the
 * IQE came during the unmap (-EIO) or after it had timed out: the unit
 * may still cache walks through them until a domain flush.
 */
static void test_iqe_keeps_deferred_pages(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	uint64_t far = 2 * SZ_1G;
	struct vtd_qi_desc desc;
	unsigned int k;
	struct rig r;

	rig_up(&r, &cfg);
	for (k = 0; k < 2; k++) {
		t_map(r.d, iova_make(far), hpa_make(r.ram), SZ_4K, RW);
		assert_int_equal(dma_fill(r.idx, MASTER, far, 1, 8), 0);
		if (k == 0) {
			model_inject_iqe(r.idx, 0, VTD_IQEI_RSVD);
			assert_int_equal(
				vtd_domain_unmap(r.d, iova_make(far), SZ_4K),
				-EIO);
		} else {
			/* Stuck behind another batch, then failed. */
			model_qi_stall(r.idx, true);
			desc = psi(&r, 0);
			assert_int_equal(vtd_qi_queue(&r.u, &desc, 1, NULL), 0);
			assert_int_equal(
				vtd_domain_unmap(r.d, iova_make(far), SZ_4K),
				-ETIMEDOUT);
			model_inject_iqe(r.idx, 1, VTD_IQEI_RSVD);
			model_qi_stall(r.idx, false);
			vtd_qi_poll(&r.u);
			drain(&r.u);
		}
		model_expect_unmap(r.d, far, SZ_4K);
		assert_int_equal(vtd_unit_stats(&r.u)->iqe, k + 1);
		assert_int_not_equal(dom_info(r.d).deferred, 0);
		/* The next call reaps: they stay. */
		t_map(r.d, iova_make(IOVA(1)), hpa_make(r.ram), SZ_4K, RW);
		t_unmap(r.d, iova_make(IOVA(1)), SZ_4K);
		assert_int_not_equal(dom_info(r.d).deferred, 0);
		assert_int_equal(vtd_domain_flush(r.d), 0);
		assert_int_equal(dom_info(r.d).deferred, 0);
		assert_int_equal(dma_fill(r.idx, MASTER, far, 2, 8), -EFAULT);
		assert_int_equal(vtd_fault_poll(&r.u, NULL, NULL), 1);
	}
	rig_down(&r);
}

/*
 * A status word still holding the value the next batch will write (as
 * 2^32 batches ago) proves nothing: a slot's word is cleared when the
 * slot is written again, so a stalled queue is not taken for done.
 */
static void test_stale_status_word(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct vtd_qi_desc desc;
	struct rig r;

	rig_up(&r, &cfg);
	model_qi_stall(r.idx, true);
	r.u.qi.status[(r.u.qi.tail + 1) % r.u.qi.slots] = r.u.qi.seq + 1;
	desc = psi(&r, 0);
	assert_int_equal(vtd_qi_submit(&r.u, &desc, 1, NULL), -ETIMEDOUT);
	model_qi_stall(r.idx, false);
	drain(&r.u);
	rig_down(&r);
}

/* The device-TLB descriptor's fields (VT-d spec 6.5.2.5). */
static void test_devtlb_descriptor(void **state)
{
	struct model_unit_config cfg = qi_cfg(&fetch_none);
	struct vtd_qi_desc d;
	struct rig r;

	rig_up(&r, &cfg);
	d = vtd_desc_devtlb(&r.u, rid_from(0x1234), rid_from(0xabcd), 8,
			    iova_make(0x7654321000), 0);
	assert_int_equal(d.lo, UINT64_C(0x0000123400080003));
	assert_int_equal(d.hi, UINT64_C(0x7654321000));
	/* 2^4 pages: S, and the size in the low address bits. */
	d = vtd_desc_devtlb(&r.u, rid_from(0x1234), rid_from(0xabcd), 32,
			    iova_make(0x7654321000), 4);
	assert_int_equal(d.lo, UINT64_C(0x0000123400000003));
	assert_int_equal(d.hi, UINT64_C(0x7654327001));
	d = vtd_desc_devtlb(&r.u, rid_from(0x1234), rid_from(0xabcd), 0,
			    iova_make(0x7654321000), VTD_DEVTLB_ALL);
	assert_int_equal(d.hi, UINT64_C(0x7ffffffffffff001));
	/* PFSID only with ECAP.DIT. */
	r.u.ecap |= VTD_ECAP_DIT;
	d = vtd_desc_devtlb(&r.u, rid_from(0x1234), rid_from(0xabcd), 0,
			    iova_make(0), 0);
	assert_int_equal(d.lo, UINT64_C(0xabc012340000d003));
	r.u.ecap &= ~VTD_ECAP_DIT;
	/* Accepted by the hardware, and without device-TLBs refused early. */
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0,
					  iova_make(0x7654321000), 4),
			 0);
	assert_int_equal(vtd_unit_stats(&r.u)->iqe, 0);
	assert_int_equal(model_unit_stats(r.idx)->devtlb, 1);
	r.u.ecap &= ~VTD_ECAP_DT;
	assert_int_equal(vtd_devtlb_flush(&r.u, LIVE, LIVE, 0, iova_make(0), 0),
			 -ENOTSUP);
	rig_down(&r);
}

#define SWEEP(f, sw)                                                 \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, \
						 (void *)&(sw))

int main(void)
{
	const struct CMUnitTest tests[] = {
		SWEEP(test_ite_every_slot, fetch_none),
		SWEEP(test_ite_every_slot, fetch_one),
		SWEEP(test_ite_every_slot, fetch_many),
		SWEEP(test_ite_every_slot, fetch_many_again),
		SWEEP(test_iqe_every_slot, fetch_none),
		SWEEP(test_iqe_every_slot, fetch_one),
		SWEEP(test_iqe_every_slot, fetch_many),
		SWEEP(test_ice_every_slot, fetch_none),
		SWEEP(test_ice_every_slot, fetch_one),
		SWEEP(test_ice_every_slot, fetch_many),
		SWEEP(test_ite_without_sid, fetch_none),
		SWEEP(test_ite_without_sid, fetch_one),
		SWEEP(test_ite_without_sid, fetch_many_again),
		cmocka_unit_test_setup_teardown(test_devtlb_to_vanished_device,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_devtlb_not_answering,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_devtlb_one_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devtlb_quarantined, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disable_refused_while_busy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_ats_record_outlives_failed_attach, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_devtlb_late_completion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ite_during_wait, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_late_status_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deadline_per_class, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_degraded_unit_recovers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_dead_devices_full_ring,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ite_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qi_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success_path_mmio, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_selftest_iqe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devtlb_descriptor, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_iqe_mark_ages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_status_word, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_iqe_keeps_deferred_pages,
						setup, teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
