/*
 * Table formats through the isolation layer (issue 13), over the VT-d
 * driver and its model: what a console `domain new [sl|fl]` gets on a
 * unit in legacy mode, in scalable mode, and on one that walks
 * first-level tables only; and attach with ATS asked for in scalable
 * mode, which goes on without ATS.  Each test checks where DMA lands,
 * what the calls return and what the log says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/pci/ats.h"
#include "lib/errno.h"

#include "tests/iso/world.h"
#include "tests/model/model.h"
#include "tests/unit/pci_fake.h"

#define DMA_LEN 64U
/* VT-d spec 7.1.3: a first-level entry not present (scalable mode). */
#define FL_NOT_PRESENT 0x71U

/* The owner of the test's domain in the model's checks. */
static const char owner;

static unsigned int bytes_of(uint64_t hpa, uint8_t byte)
{
	unsigned int i, n = 0;

	for (i = 0; i < DMA_LEN; i++) {
		n += w_byte(hpa + i) == byte;
	}
	return n;
}

/* A console domain of format with 2 MiB at W_GPA, rid attached to it. */
static unsigned int domain_with(enum iommu_format format, uint16_t rid,
				uint64_t *hpa)
{
	const char *why = NULL;
	unsigned int id;

	assert_int_equal(
		iommu_domain_new_format(&W.im, NULL, format, &id, &why), 0);
	*hpa = model_ram_alloc(W_LEN, W_LEN);
	memset(hw_phys_to_virt(*hpa), 0, W_LEN);
	assert_int_equal(iommu_map(&W.im, NULL, id, W_GPA, *hpa, W_LEN,
				   IOMMU_PROT_READ | IOMMU_PROT_WRITE),
			 0);
	model_expect_map(&owner, W_GPA, *hpa, W_LEN,
			 IOMMU_PROT_READ | IOMMU_PROT_WRITE);
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
static void dma_expect(uint16_t rid, uint64_t hpa, uint8_t byte, uint8_t reason)
{
	struct iommu_fault f = {.reason = 0};

	w_dma(rid, W_GPA, byte, DMA_LEN, W_MS);
	w_run(2 * W_MS);
	iommu_faults(&W.im, last_fault, &f);
	assert_int_equal(bytes_of(hpa, byte), reason ? 0 : DMA_LEN);
	assert_int_equal(f.reason, reason);
	if (reason) {
		assert_int_equal(f.sid, rid);
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
	assert_int_equal(iommu_unmap(&W.im, NULL, id, W_GPA, W_LEN), 0);
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
	assert_false(pci_cfg_get(W.cfg[W_ATS], 0x100 + PCI_ATS_CTRL, 2) &
		     PCI_ATS_CTRL_ENABLE);
	dma_expect(W_ATS, hpa, 0x60, 0);
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
	};

	if (argc > 1) {
		cmocka_set_test_filter(argv[1]);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
