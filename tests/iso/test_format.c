/*
 * Table formats through the isolation layer (issues 13 and 14), over
 * the VT-d driver and its model: what a console `domain new [sl|fl]` gets
 * on a unit in legacy mode, in scalable mode, and on one that walks
 * first-level tables only; attach with ATS asked for in scalable mode,
 * which goes on without ATS; PASIDs of an attached device and nested
 * domains (`attach BDF D pasid P`, `domain new nested`).  Each test checks
 * where DMA lands, what the calls return and what the log says.
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
/* VT-d spec 7.1.3: a first-level entry not present (scalable mode). */
#define FL_NOT_PRESENT 0x71U

/* Owners of the test's domains in the model's checks. */
static const char owner, other, nested;

static unsigned int bytes_of(uint64_t hpa, uint8_t byte)
{
	unsigned int i, n = 0;

	for (i = 0; i < DMA_LEN; i++) {
		n += w_byte(hpa + i) == byte;
	}
	return n;
}

/* A console domain of format with 2 MiB at W_GPA, owned by o. */
static unsigned int domain_of(enum iommu_format format, const void *o,
			      uint64_t *hpa)
{
	const char *why = NULL;
	unsigned int id;

	assert_int_equal(
		iommu_domain_new_format(&W.im, NULL, format, &id, &why), 0);
	*hpa = model_ram_alloc(W_LEN, W_LEN);
	memset(hw_phys_to_virt(*hpa), 0, W_LEN);
	assert_int_equal(iommu_map(&W.im, NULL, id, iova_make(W_GPA),
				   hpa_make(*hpa), W_LEN,
				   IOMMU_PROT_READ | IOMMU_PROT_WRITE),
			 0);
	model_expect_map(o, W_GPA, *hpa, W_LEN,
			 IOMMU_PROT_READ | IOMMU_PROT_WRITE);
	return id;
}

/* The same, rid attached to it. */
static unsigned int domain_with(enum iommu_format format, rid_t rid,
				uint64_t *hpa)
{
	unsigned int id = domain_of(format, &owner, hpa);
	const char *why = NULL;

	assert_int_equal(iommu_attach(&W.im, w_dev(rid), id, &why), 0);
	model_expect_attach(0, rid, &owner);
	return id;
}

static void last_fault(void *ctx, const struct iommu_fault *f, const char *name)
{
	struct iommu_fault *last = ctx;

	*last = *f;
}

/* A DMA write by rid at W_GPA: lands in hpa, or faults for reason. */
static void dma_expect(rid_t rid, uint64_t hpa, uint8_t byte, uint8_t reason)
{
	struct iommu_fault f = {.reason = 0};

	w_dma(rid, W_GPA, byte, DMA_LEN, W_MS);
	w_run(2 * W_MS);
	iommu_faults(&W.im, last_fault, &f);
	assert_int_equal(bytes_of(hpa, byte), reason ? 0 : DMA_LEN);
	assert_int_equal(f.reason, reason);
	if (reason) {
		assert_int_equal(rid_val(f.sid), rid_val(rid));
		assert_false(f.irq);
	}
}

/* The unit's report line that gives its mode and why. */
static void line_has(void *ctx, const char *line)
{
	const char **want = ctx;

	if (*want && strstr(line, *want)) {
		*want = NULL;
	}
}

static void assert_reported(const char *what)
{
	const char *want = what;

	iommu_report(&W.im, "iommu", line_has, &want);
	if (want) {
		fail_msg("no `iommu` line with \"%s\"", what);
	}
}

/*
 * A unit left to choose (vtd.mode=auto) that walks first-level tables
 * only runs in scalable mode, and an automatic domain gets first-level
 * tables: DMA lands while mapped and faults with a first-level reason
 * once unmapped.
 */
static void test_fl_only_unit_auto_first_level(void **state)
{
	uint64_t hpa;
	unsigned int id;

	assert_reported("mode scalable: auto: SMTS and FLTS, no SLTS");
	id = domain_with(IOMMU_FORMAT_AUTO, W_FLR, &hpa);
	assert_int_equal(iommu_domain_format(&W.im, id),
			 IOMMU_FORMAT_FIRST_LEVEL);
	dma_expect(W_FLR, hpa, 0x5a, 0);
	model_expect_unmap(&owner, W_GPA, W_LEN);
	assert_int_equal(iommu_unmap(&W.im, NULL, id, iova_make(W_GPA), W_LEN),
			 0);
	dma_expect(W_FLR, hpa, 0x5b, FL_NOT_PRESENT);
}

/*
 * Second-level tables asked of a unit without them: refused, saying what
 * it lacks, with nothing left behind; first-level ones are honoured.
 */
static void test_fl_only_unit_refuses_sl(void **state)
{
	const char *why = NULL;
	unsigned int id = 0;
	uint64_t hpa;

	assert_int_equal(iommu_domain_new_format(&W.im, NULL,
						 IOMMU_FORMAT_SECOND_LEVEL, &id,
						 &why),
			 -ENOTSUP);
	assert_non_null(why);
	assert_string_equal(why, "second-level translation (SLTS)");
	assert_int_equal(
		w_log(LOG_WARN,
		      "unit 0 cannot walk the tables asked for: no second-level translation (SLTS)"),
		1);
	assert_int_equal(id, 0);
	assert_false(iommu_domain_exists(&W.im, 1));

	id = domain_with(IOMMU_FORMAT_FIRST_LEVEL, W_FLR, &hpa);
	assert_int_equal(iommu_domain_format(&W.im, id),
			 IOMMU_FORMAT_FIRST_LEVEL);
	dma_expect(W_FLR, hpa, 0x5c, 0);
}

/* Legacy mode walks second-level tables only: first-level refused. */
static void test_legacy_unit_refuses_fl(void **state)
{
	const char *why = NULL;
	unsigned int id;
	uint64_t hpa;

	assert_int_equal(iommu_domain_new_format(&W.im, NULL,
						 IOMMU_FORMAT_FIRST_LEVEL, &id,
						 &why),
			 -ENOTSUP);
	assert_non_null(why);
	assert_string_equal(why, "scalable mode (SMTS)");
	id = domain_with(IOMMU_FORMAT_SECOND_LEVEL, W_FLR, &hpa);
	assert_int_equal(iommu_domain_format(&W.im, id),
			 IOMMU_FORMAT_SECOND_LEVEL);
	dma_expect(W_FLR, hpa, 0x5d, 0);
}

/* A unit in scalable mode with both: each request is honoured. */
static void test_scalable_unit_honours_both(void **state)
{
	uint64_t hs, hf;
	unsigned int s, f;

	s = domain_with(IOMMU_FORMAT_SECOND_LEVEL, W_FLR, &hs);
	f = domain_with(IOMMU_FORMAT_FIRST_LEVEL, W_TP, &hf);
	assert_int_equal(iommu_domain_format(&W.im, s),
			 IOMMU_FORMAT_SECOND_LEVEL);
	assert_int_equal(iommu_domain_format(&W.im, f),
			 IOMMU_FORMAT_FIRST_LEVEL);
	dma_expect(W_FLR, hs, 0x5e, 0);
	dma_expect(W_TP, hf, 0x5f, 0);
	assert_int_equal(bytes_of(hf, 0x5e), 0);
	assert_int_equal(bytes_of(hs, 0x5f), 0);
}

/*
 * ATS asked for (allow-listed, under an ATSR, with a device-TLB unit) in
 * scalable mode, where the driver programs no ATS: the attach succeeds
 * without it, the log says why, the device's ATS stays off and its DMA
 * translates.
 */
static void test_scalable_attach_falls_back_without_ats(void **state)
{
	uint64_t hpa;

	domain_with(IOMMU_FORMAT_AUTO, W_ATS, &hpa);
	assert_int_equal(
		w_log(LOG_INFO,
		      "0000:01:00.0: ATS off: it needs legacy mode (vtd.mode=legacy)"),
		1);
	assert_false(
		pci_cfg_get(W.cfg[rid_val(W_ATS)], 0x100 + PCI_ATS_CTRL, 2) &
		PCI_ATS_CTRL_ENABLE);
	dma_expect(W_ATS, hpa, 0x60, 0);
}

/* ---- PASIDs and nested domains (issue 14) ---- */

/* A DMA write tagged with pasid by rid at iova: 0 or -EFAULT. */
static int pasid_dma(rid_t rid, uint32_t pasid, uint64_t iova, uint8_t byte)
{
	uint8_t buf[DMA_LEN];

	memset(buf, byte, sizeof(buf));
	return model_dma_write_pasid(0, rid, pasid, iova, buf, DMA_LEN);
}

/*
 * The same, blocked for reason (VT-d spec 7.1.3): its PASID entry (0x59)
 * or the whole context entry (0x41) not present.
 */
static void pasid_dma_blocked(rid_t rid, uint32_t pasid, uint64_t iova,
			      uint8_t reason)
{
	struct iommu_fault f = {.reason = 0};

	assert_int_equal(pasid_dma(rid, pasid, iova, 0xee), -EFAULT);
	iommu_faults(&W.im, last_fault, &f);
	assert_int_equal(rid_val(f.sid), rid_val(rid));
	assert_int_equal(f.reason, reason);
}

/* rid's pasid attached to console domain id, whose model owner is o. */
static void attach_pasid(rid_t rid, unsigned int id, uint32_t pasid,
			 const void *o)
{
	assert_int_equal(iommu_pasid_attach(&W.im, w_dev(rid), id, pasid), 0);
	model_expect_attach_pasid(0, rid, pasid, o);
}

static void count_pasid(void *ctx, const struct pci_dev *d, uint32_t pasid)
{
	(*(unsigned int *)ctx)++;
}

static unsigned int pasids_in(unsigned int id)
{
	unsigned int n = 0;

	iommu_for_each_pasid(&W.im, id, count_pasid, &n);
	return n;
}

/*
 * A PASID of a device the console attached translates through its own
 * domain, moves to another without a mix, and is blocked by its detach,
 * while the device's untagged requests stay where they were.
 */
static void test_pasid_attach_switch_detach(void **state)
{
	uint64_t ha, hb;
	unsigned int a = domain_with(IOMMU_FORMAT_AUTO, W_FLR, &ha);
	unsigned int b = domain_of(IOMMU_FORMAT_FIRST_LEVEL, &other, &hb);

	attach_pasid(W_FLR, b, 5, &other);
	assert_int_equal(pasids_in(b), 1);
	assert_int_equal(pasid_dma(W_FLR, 5, W_GPA, 0x71), 0);
	assert_int_equal(bytes_of(hb, 0x71), DMA_LEN);
	assert_int_equal(bytes_of(ha, 0x71), 0);
	dma_expect(W_FLR, ha, 0x72, 0);
	assert_int_equal(iommu_domain_del(&W.im, NULL, b), -EBUSY);

	/* Switched to a: tagged requests land there now. */
	attach_pasid(W_FLR, a, 5, &owner);
	assert_int_equal(pasids_in(b), 0);
	assert_int_equal(pasids_in(a), 1);
	assert_int_equal(pasid_dma(W_FLR, 5, W_GPA, 0x73), 0);
	assert_int_equal(bytes_of(ha, 0x73), DMA_LEN);
	assert_int_equal(bytes_of(hb, 0x73), 0);

	assert_int_equal(iommu_pasid_detach(&W.im, w_dev(W_FLR), 5), 0);
	model_expect_detach_pasid(0, W_FLR, 5);
	assert_int_equal(iommu_pasid_detach(&W.im, w_dev(W_FLR), 5), -ENOENT);
	pasid_dma_blocked(W_FLR, 5, W_GPA, 0x59);
	assert_int_equal(bytes_of(ha, 0xee), 0);
	dma_expect(W_FLR, ha, 0x75, 0);
	assert_int_equal(iommu_domain_del(&W.im, NULL, b), 0);
}

/* Detaching the device blocks its PASIDs first: none outlives it. */
static void test_detach_blocks_pasids(void **state)
{
	uint64_t ha, hb;
	unsigned int a = domain_with(IOMMU_FORMAT_AUTO, W_FLR, &ha);
	unsigned int b = domain_of(IOMMU_FORMAT_SECOND_LEVEL, &other, &hb);

	attach_pasid(W_FLR, b, 7, &other);
	assert_int_equal(iommu_detach(&W.im, w_dev(W_FLR)), 0);
	model_expect_detach_pasid(0, W_FLR, 7);
	model_expect_detach(0, W_FLR);
	pasid_dma_blocked(W_FLR, 7, W_GPA, 0x41);
	assert_int_equal(bytes_of(hb, 0xee), 0);
	assert_int_equal(pasids_in(b), 0);
	assert_int_equal(iommu_domain_del(&W.im, NULL, b), 0);
	assert_int_equal(iommu_domain_del(&W.im, NULL, a), 0);
}

/*
 * PASIDs only of a device the console attached, with a requester id of
 * its own, on a unit that has them.
 */
static void test_pasid_refusals(void **state)
{
	uint64_t ha;
	unsigned int a = domain_with(IOMMU_FORMAT_AUTO, W_FLR, &ha);
	const char *why;

	assert_int_equal(iommu_pasid_attach(&W.im, w_dev(W_TP), a, 1), -ENOENT);
	assert_int_equal(iommu_attach(&W.im, w_dev(W_ALIAS1), a, &why), 0);
	model_expect_attach(0, W_ALIAS0, &owner);
	assert_int_equal(iommu_pasid_attach(&W.im, w_dev(W_ALIAS1), a, 1),
			 -E2BIG);
	assert_int_equal(iommu_pasid_attach(&W.im, w_dev(W_FLR), a, 1U << 20),
			 -ERANGE);
	assert_int_equal(iommu_pasid_attach(&W.im, w_dev(W_FLR), a, 0),
			 -ERANGE);
	assert_int_equal(pasids_in(a), 0);
}

/* A unit in legacy mode takes no PASIDs. */
static void test_legacy_unit_takes_no_pasid(void **state)
{
	uint64_t ha;
	unsigned int a = domain_with(IOMMU_FORMAT_AUTO, W_FLR, &ha);

	assert_int_equal(iommu_pasid_attach(&W.im, w_dev(W_FLR), a, 1),
			 -ENOTSUP);
	assert_int_equal(pasids_in(a), 0);
}

/* First-level leaf and table entries of a user's tables (VT-d spec 9.7). */
#define FL_ENTRY    (VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A | VTD_FL_D)
#define NEST_IOVA   UINT64_C(0x40000000)
#define NEST_TABLES UINT64_C(0x100000) /* in the parent's memory */

/*
 * A nested domain: the user's 4-level tables, in the parent's memory at
 * W_GPA + NEST_TABLES, map NEST_IOVA to the parent's first page; a PASID
 * attached to it walks them, every address translated by the parent.
 */
static void test_nested_domain_translates_through_parent(void **state)
{
	uint64_t hp, *e;
	unsigned int p = domain_with(IOMMU_FORMAT_SECOND_LEVEL, W_FLR, &hp);
	unsigned int n, fl, level;
	const char *why;

	for (level = 4; level >= 1; level--) {
		e = (uint64_t *)hw_phys_to_virt(hp + NEST_TABLES +
						(4 - level) * 0x1000) +
		    ((NEST_IOVA >> (12 + 9 * (level - 1))) & 511);
		*e = (level > 1 ? W_GPA + NEST_TABLES + (5 - level) * 0x1000
				: W_GPA) |
		     FL_ENTRY;
		hw_cache_flush(e, sizeof(*e));
	}
	assert_int_equal(iommu_domain_new_nested(&W.im, NULL, p,
						 iova_make(W_GPA + NEST_TABLES),
						 4, &n),
			 0);
	assert_int_equal(iommu_domain_format(&W.im, n), IOMMU_FORMAT_NESTED);
	attach_pasid(W_FLR, n, 3, &nested);
	model_expect_map(&nested, NEST_IOVA, hp, 0x1000,
			 IOMMU_PROT_READ | IOMMU_PROT_WRITE);
	assert_int_equal(pasid_dma(W_FLR, 3, NEST_IOVA, 0x77), 0);
	assert_int_equal(bytes_of(hp, 0x77), DMA_LEN);

	/* It maps nothing itself and takes no requester id. */
	assert_int_equal(iommu_map(&W.im, NULL, n, iova_make(0), hpa_make(hp),
				   0x1000, IOMMU_PROT_READ),
			 -ENOTSUP);
	assert_int_equal(iommu_attach(&W.im, w_dev(W_TP), n, &why), -EINVAL);
	/* Nested in first-level tables: refused. */
	fl = domain_of(IOMMU_FORMAT_FIRST_LEVEL, &other, &hp);
	assert_int_equal(iommu_domain_new_nested(&W.im, NULL, fl,
						 iova_make(W_GPA + NEST_TABLES),
						 4, &n),
			 -ENOTSUP);
	/* The parent outlives it. */
	assert_int_equal(iommu_pasid_detach(&W.im, w_dev(W_FLR), 3), 0);
	model_expect_detach_pasid(0, W_FLR, 3);
	pasid_dma_blocked(W_FLR, 3, NEST_IOVA, 0x59);
	assert_int_equal(iommu_domain_del(&W.im, NULL, p), -EBUSY);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_fl_only_unit_auto_first_level, w_setup_fl_only,
			w_teardown),
		cmocka_unit_test_setup_teardown(test_fl_only_unit_refuses_sl,
						w_setup_fl_only, w_teardown),
		cmocka_unit_test_setup_teardown(test_legacy_unit_refuses_fl,
						w_setup, w_teardown),
		cmocka_unit_test_setup_teardown(test_scalable_unit_honours_both,
						w_setup_scalable, w_teardown),
		cmocka_unit_test_setup_teardown(
			test_scalable_attach_falls_back_without_ats,
			w_setup_scalable, w_teardown),
		cmocka_unit_test_setup_teardown(test_pasid_attach_switch_detach,
						w_setup_scalable, w_teardown),
		cmocka_unit_test_setup_teardown(test_detach_blocks_pasids,
						w_setup_scalable, w_teardown),
		cmocka_unit_test_setup_teardown(test_pasid_refusals,
						w_setup_scalable, w_teardown),
		cmocka_unit_test_setup_teardown(test_legacy_unit_takes_no_pasid,
						w_setup, w_teardown),
		cmocka_unit_test_setup_teardown(
			test_nested_domain_translates_through_parent,
			w_setup_scalable, w_teardown),
	};

	if (argc > 1) {
		cmocka_set_test_filter(argv[1]);
	}
	return deadline_run_group_tests(tests, NULL, NULL);
}
