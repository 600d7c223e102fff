/*
 * Device lifecycle at the driver level (issue 6): 1000 cycles of attach
 * with ATS, map, unmap, removal and release in every order (120
 * permutations of five steps), with ATS endpoints that go away in three
 * ways: removed and reported (vtd_device_gone, presence lost), removed
 * with no event at all (docs/scenarios.md, silent-link-loss: the link
 * went down, presence still reads true), and still there but answering after
 * the deadline.  What every cycle checks:
 * - no call waits past the sum of its deadlines (plus a poll step);
 * - a device known gone gets no device-TLB invalidation, one gone
 *   unseen at most the one that finds out (then it is quarantined);
 * - no DMA outside the owner's mappings (the model's own check);
 * - table pages, domain ids, queue slots and ATS records return to the
 *   baseline after every cycle (heap leaks: LeakSanitizer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/iommu/vtd/internal.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"

#define CYCLES	     1000U
#define STEPS	     5U
#define PERMUTATIONS 120U	  /* 5! */
#define DEV	     SID(4, 0, 0) /* the ATS endpoint, re-plugged every cycle */
#define IOVA	     SZ_1G
#define LEN	     (4 * SZ_4K)
#define MS	     UINT64_C(1000000)
#define RELAX_NS     UINT64_C(100000) /* one poll step: 100 us */
#define LATE_NS	     (50 * MS) /* answers, but past the device-TLB deadline */

enum step { ATTACH, MAP, UNMAP, REMOVE, RELEASE };

enum removal {
	REMOVAL_REPORTED, /* presence lost, vtd_device_gone() */
	REMOVAL_UNSEEN,	  /* stops answering, nobody notices */
	REMOVAL_LATE,	  /* answers after the deadline */
	REMOVAL_KINDS,
};

struct cycle {
	struct vtd_unit u;
	unsigned int idx;
	struct vtd_domain *d;
	uint64_t ram;
	enum removal kind;
	bool present; /* what the presence callback answers */
	bool attached;
	bool mapped;
	bool stale; /* unmapped, not yet proven unreachable */
	bool removed;
	uint64_t after_removal; /* the endpoint's count before this cycle */
};

static struct cycle C;

static bool presence(void *ctx, uint16_t segment, rid_t sid)
{
	(void)ctx;
	(void)segment;
	return !rid_eq(sid, DEV) || C.present;
}

static unsigned int dids_in_use(struct vtd_unit *u)
{
	struct vtd_unit_info info;

	vtd_unit_info(u, &info);
	return info.domains_used;
}

static bool queue_idle(const struct vtd_unit *u)
{
	return vtd_qi_idle(u) && !vtd_unit_degraded(u);
}

/*
 * Let the hardware give up on what never answers (its ITE comes after 60
 * virtual seconds) and the driver recover, as its periodic poll would.
 */
static void settle(struct vtd_unit *u)
{
	unsigned int i;

	for (i = 0; i < 200 && !queue_idle(u); i++) {
		vtd_qi_poll(u);
		model_advance(1000 * MS);
	}
	vtd_qi_poll(u);
	assert_true(queue_idle(u));
}

/* A call that began at t0 waited at most for one IOTLB and one ATS batch. */
static void assert_bounded(const struct vtd_unit *u, uint64_t t0)
{
	uint64_t bound = vtd_unit_deadline_ns(u, VTD_DEADLINE_IOTLB) +
			 vtd_unit_deadline_ns(u, VTD_DEADLINE_DEVTLB) +
			 2 * RELAX_NS;

	assert_true(model_now() - t0 <= bound);
}

/* The i-th permutation of the five steps (factorial number system). */
static void permutation(unsigned int i, enum step *out)
{
	enum step left[STEPS] = {ATTACH, MAP, UNMAP, REMOVE, RELEASE};
	unsigned int n = STEPS, k, j;

	for (k = 0; k < STEPS; k++) {
		j = i % n;
		i /= n;
		out[k] = left[j];
		left[j] = left[--n];
	}
}

static void dma_probe(void)
{
	/*
	 * Whatever the device (or its ghost) writes: the model records any
	 * success outside the owner's mappings as a violation.
	 */
	dma_fill(C.idx, DEV, IOVA, 0x5a, 64);
	vtd_fault_poll(&C.u, NULL, NULL);
}

static void do_attach(void)
{
	/* The kernel sets nothing up for a device that is gone. */
	if (C.removed || C.attached) {
		return;
	}
	assert_int_equal(vtd_attach_ats(C.d, &C.u, DEV, DEV, 0), 0);
	model_expect_attach(C.idx, DEV, C.d);
	C.attached = true;
}

static void do_map(void)
{
	if (C.mapped || C.stale) {
		return;
	}
	t_map(C.d, iova_make(IOVA), hpa_make(C.ram), LEN, RW);
	C.mapped = true;
}

/* Proven unreachable: the model stops allowing it. */
static void proven(void)
{
	model_expect_unmap(C.d, IOVA, LEN);
	C.stale = false;
}

static void do_unmap(void)
{
	uint64_t t0 = model_now();
	int err;

	if (!C.mapped) {
		return;
	}
	err = vtd_domain_unmap(C.d, iova_make(IOVA), LEN);
	assert_bounded(&C.u, t0);
	C.mapped = false;
	C.stale = true;
	if (!err) {
		proven();
		return;
	}
	/* Only a device that stopped answering unseen may hold it up. */
	assert_true(err == -ETIMEDOUT || err == -EIO);
	assert_true(C.removed);
	assert_int_not_equal(C.kind, REMOVAL_REPORTED);
}

static void do_remove(void)
{
	if (C.removed) {
		return;
	}
	C.removed = true;
	switch (C.kind) {
	case REMOVAL_REPORTED:
		model_remove_endpoint(C.idx, DEV);
		C.present = false;
		vtd_device_gone(&C.u, DEV);
		break;
	case REMOVAL_UNSEEN:
		model_remove_endpoint(C.idx, DEV);
		break;
	default:
		model_add_endpoint(C.idx, DEV, LATE_NS);
		break;
	}
}

static void do_release(void)
{
	uint64_t t0 = model_now();
	int err;

	if (!C.attached) {
		return;
	}
	err = vtd_detach(C.d, &C.u, (rid_t[]){DEV}, 1);
	assert_bounded(&C.u, t0);
	if (err) {
		/* Stuck behind an invalidation to the lost device. */
		assert_int_equal(err, -ETIMEDOUT);
		settle(&C.u);
		err = vtd_detach(C.d, &C.u, (rid_t[]){DEV}, 1);
	}
	assert_int_equal(err, 0);
	model_expect_detach(C.idx, DEV);
	C.attached = false;
}

static void run_step(enum step s)
{
	switch (s) {
	case ATTACH:
		do_attach();
		break;
	case MAP:
		do_map();
		break;
	case UNMAP:
		do_unmap();
		break;
	case REMOVE:
		do_remove();
		break;
	case RELEASE:
		do_release();
		break;
	}
	dma_probe();
}

/* What is left at the end of a cycle goes, in the kernel's order. */
static void finish(void)
{
	do_release();
	do_unmap();
	settle(&C.u);
	if (C.stale) {
		assert_int_equal(vtd_domain_flush(C.d), 0);
		proven();
	}
	assert_null(C.d->units[0].ats);
	assert_int_equal(vtd_domain_destroy(C.d), 0);
	C.d = NULL;
}

static void check_endpoint(void)
{
	const struct model_endpoint_stats *st =
		model_endpoint_stats(C.idx, DEV);
	uint64_t sent = st->after_removal - C.after_removal;

	if (C.kind == REMOVAL_REPORTED) {
		assert_int_equal(sent, 0);
	} else {
		/* The one that found out; quarantined after it. */
		assert_true(sent <= 1);
	}
}

static void test_lifecycle_cycles(void **state)
{
	struct model_unit_config cfg = default_cfg();
	uint64_t pages, quarantines = 0;
	enum step order[STEPS];
	unsigned int i, k, dids;

	(void)state;
	cfg.ecap |= VTD_ECAP_DT;
	model_set_relax(RELAX_NS);
	C.idx = add_unit(&cfg);
	bring_up(&C.u, C.idx);
	vtd_unit_set_presence(&C.u, presence, NULL);
	C.ram = model_ram_alloc(LEN, SZ_4K);
	/* The context table of DEV's bus stays once made: part of the baseline.
	 */
	C.d = new_domain(&C.u, 39);
	t_attach(C.d, &C.u, DEV);
	t_detach(C.d, &C.u, DEV);
	assert_int_equal(vtd_domain_destroy(C.d), 0);
	pages = model_table_pages();
	dids = dids_in_use(&C.u);
	for (i = 0; i < CYCLES; i++) {
		permutation(i % PERMUTATIONS, order);
		C.kind = (enum removal)(i / PERMUTATIONS % REMOVAL_KINDS);
		C.present = true;
		C.attached = C.mapped = C.stale = C.removed = false;
		/* A new device at the same address: fresh state. */
		model_add_endpoint(C.idx, DEV, 2000);
		vtd_device_reset_done(&C.u, DEV);
		C.after_removal =
			model_endpoint_stats(C.idx, DEV)->after_removal;
		C.d = new_domain(&C.u, 39);
		for (k = 0; k < STEPS; k++) {
			run_step(order[k]);
		}
		finish();
		check_endpoint();
		quarantines += vtd_device_quarantined(&C.u, DEV);
		assert_int_equal(model_table_pages(), pages);
		assert_int_equal(dids_in_use(&C.u), dids);
		assert_true(queue_idle(&C.u));
	}
	/* Every way of losing the device that is not reported quarantined it.
	 */
	assert_true(quarantines > 0);
	print_message(
		"lifecycle: %u cycles, %llu quarantines, %llu device-TLB invalidations\n",
		CYCLES, (unsigned long long)quarantines,
		(unsigned long long)model_unit_stats(C.idx)->devtlb);
	shut_down(&C.u);
}

/* An answering ATS device gets one invalidation after each unmap's IOTLB. */
static void test_lifecycle_unmap_order(void **state)
{
	struct model_unit_config cfg = default_cfg();
	uint64_t t0;

	(void)state;
	cfg.ecap |= VTD_ECAP_DT;
	model_set_relax(RELAX_NS);
	C.idx = add_unit(&cfg);
	bring_up(&C.u, C.idx);
	C.ram = model_ram_alloc(LEN, SZ_4K);
	model_add_endpoint(C.idx, DEV, 2000);
	C.d = new_domain(&C.u, 39);
	assert_int_equal(vtd_attach_ats(C.d, &C.u, DEV, DEV, 0), 0);
	model_expect_attach(C.idx, DEV, C.d);
	t_map(C.d, iova_make(IOVA), hpa_make(C.ram), LEN, RW);
	assert_int_equal(dma_fill(C.idx, DEV, IOVA, 1, 8), 0);
	t0 = model_now();
	model_reset_stats(C.idx);
	t_unmap(C.d, iova_make(IOVA), SZ_4K);
	assert_int_equal(model_unit_stats(C.idx)->devtlb, 1);
	/* Page 0 of the range, 4 KiB: S = 0, MIP 0 (a queue depth of 32). */
	assert_int_equal(
		model_executed(C.idx,
			       UINT64_C(3) | (uint64_t)rid_val(DEV) << 32, IOVA,
			       t0),
		1);
	t_unmap(C.d, iova_make(IOVA + SZ_4K), 3 * SZ_4K);
	assert_int_equal(model_unit_stats(C.idx)->devtlb, 2);
	t_detach(C.d, &C.u, DEV);
	assert_int_equal(model_unit_stats(C.idx)->devtlb, 3);
	assert_null(C.d->units[0].ats);
	assert_int_equal(vtd_domain_destroy(C.d), 0);
	shut_down(&C.u);
}

/* No ECAP.DT: no ATS attachment, and nothing changed. */
static void test_lifecycle_no_dt(void **state)
{
	struct model_unit_config cfg = default_cfg();

	(void)state;
	C.idx = add_unit(&cfg);
	bring_up(&C.u, C.idx);
	C.d = new_domain(&C.u, 39);
	assert_int_equal(vtd_attach_ats(C.d, &C.u, DEV, DEV, 0), -ENOTSUP);
	assert_int_equal(vtd_domain_destroy(C.d), 0);
	shut_down(&C.u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle_unmap_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_no_dt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_cycles, setup,
						teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
