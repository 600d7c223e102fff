/*
 * The VT-d back end (drivers/iommu/vtd/backend.c) against the model: the
 * table format a domain asks for, on units that walk different formats
 * (issue 13).  A domain shared by units uses a format all of them walk,
 * or the units that cannot are named, with what they lack, and attaching
 * through them is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/iommu/backend.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"

#define IOVA UINT64_C(0x1000)
#define SLTS "second-level translation (SLTS)"
#define FLTS "first-level translation (FLTS)"

struct pair {
	struct iommu_be_config *cfg;
	struct iommu_be_unit *u[2];
	unsigned int idx[2];
};

/* Two units in automatic mode, with the capabilities given. */
static void pair_up(struct pair *p, const struct model_unit_config *a,
		    const struct model_unit_config *b)
{
	const struct iommu_be_platform plat = {.inherit = false};
	unsigned int i;

	p->cfg = iommu_be_config_new();
	assert_non_null(p->cfg);
	p->idx[0] = add_unit(a);
	p->idx[1] = add_unit(b);
	for (i = 0; i < 2; i++) {
		assert_int_equal(iommu_be_unit_init(p->cfg, &plat, p->idx[i], 0,
						    BASE(p->idx[i]), NULL, NULL,
						    &p->u[i]),
				 0);
		assert_int_equal(iommu_be_unit_enable(p->u[i]), 0);
	}
}

static void pair_down(struct pair *p)
{
	iommu_be_unit_fini(p->u[0]);
	iommu_be_unit_fini(p->u[1]);
	iommu_be_config_free(p->cfg);
}

static struct model_unit_config sl_only(void)
{
	struct model_unit_config c = sm_cfg(19);

	c.ecap &= ~VTD_ECAP_FLTS;
	return c;
}

static struct model_unit_config fl_only(void)
{
	struct model_unit_config c = sm_cfg(19);

	c.ecap &= ~VTD_ECAP_SLTS;
	return c;
}

/*
 * d spans unit `in` of p and not `out`, which lacks `missing`: requester
 * ids attach through `in` and translate, and are refused through `out`.
 */
static void spans_one(struct pair *p, struct iommu_be_domain *d,
		      unsigned int in, unsigned int out, const char *missing)
{
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 3, 0);

	assert_null(iommu_be_domain_no_unit(d, p->u[in]));
	assert_non_null(iommu_be_domain_no_unit(d, p->u[out]));
	assert_string_equal(iommu_be_domain_no_unit(d, p->u[out]), missing);
	assert_int_equal(iommu_be_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K,
				      IOMMU_PROT_READ | IOMMU_PROT_WRITE),
			 0);
	model_expect_map(d, IOVA, ram, SZ_4K, RW);
	assert_int_not_equal(iommu_be_attach(d, p->u[out], &sid, 1), 0);
	assert_int_equal(dma_fill(p->idx[out], sid, IOVA, 0x41, 8), -EFAULT);
	assert_int_equal(iommu_be_attach(d, p->u[in], &sid, 1), 0);
	model_expect_attach(p->idx[in], sid, d);
	assert_int_equal(dma_fill(p->idx[in], sid, IOVA, 0x42, 8), 0);
	assert_int_equal(ram_byte(ram), 0x42);
	assert_int_equal(iommu_be_detach(d, p->u[in], &sid, 1), 0);
	model_expect_detach(p->idx[in], sid);
	assert_int_equal(
		iommu_be_unmap(d, &(struct iommu_range){iova_make(IOVA), SZ_4K},
			       1),
		0);
	model_expect_unmap(d, IOVA, SZ_4K);
	assert_int_equal(iommu_be_domain_destroy(d), 0);
	iommu_be_fault_poll(p->u[out], NULL, NULL);
}

/*
 * One unit walks second-level tables only, the other first-level ones
 * only: no format serves both, so an automatic domain over both is
 * refused with the reason; one asked for spans the unit that walks it.
 */
static void test_mixed_units_share_no_format(void **state)
{
	struct model_unit_config a = sl_only(), b = fl_only();
	struct iommu_be_domain *d = NULL;
	struct pair p;

	pair_up(&p, &a, &b);
	assert_null(iommu_be_unit_no_format(p.u[0], IOMMU_FORMAT_SECOND_LEVEL));
	assert_string_equal(
		iommu_be_unit_no_format(p.u[0], IOMMU_FORMAT_FIRST_LEVEL),
		FLTS);
	assert_string_equal(
		iommu_be_unit_no_format(p.u[1], IOMMU_FORMAT_SECOND_LEVEL),
		SLTS);
	assert_null(iommu_be_unit_no_format(p.u[1], IOMMU_FORMAT_FIRST_LEVEL));

	model_log_clear();
	assert_int_equal(iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_AUTO, &d),
			 -ENOTSUP);
	assert_int_equal(model_log_count("unit 0: no " FLTS), 1);

	assert_int_equal(
		iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_SECOND_LEVEL, &d),
		0);
	assert_int_equal(iommu_be_domain_format(d), IOMMU_FORMAT_SECOND_LEVEL);
	spans_one(&p, d, 0, 1, SLTS);
	assert_int_equal(
		iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_FIRST_LEVEL, &d),
		0);
	assert_int_equal(iommu_be_domain_format(d), IOMMU_FORMAT_FIRST_LEVEL);
	spans_one(&p, d, 1, 0, FLTS);
	pair_down(&p);
}

/*
 * A unit in legacy mode (no SMTS) and one with first-level tables only:
 * first-level tables need scalable mode, which the first lacks.
 */
static void test_legacy_and_fl_only_units(void **state)
{
	struct model_unit_config a = default_cfg(), b = fl_only();
	struct iommu_be_domain *d = NULL;
	struct pair p;

	pair_up(&p, &a, &b);
	assert_string_equal(
		iommu_be_unit_no_format(p.u[0], IOMMU_FORMAT_FIRST_LEVEL),
		"scalable mode (SMTS)");
	assert_int_equal(iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_AUTO, &d),
			 -ENOTSUP);
	assert_int_equal(
		iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_FIRST_LEVEL, &d),
		0);
	spans_one(&p, d, 1, 0, "scalable mode (SMTS)");
	assert_int_equal(
		iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_SECOND_LEVEL, &d),
		0);
	spans_one(&p, d, 0, 1, SLTS);
	pair_down(&p);
}

/*
 * Units that both walk both formats share every domain: automatic gives
 * second-level tables, and each format asked for spans both units.
 */
static void test_units_walking_both_share(void **state)
{
	struct model_unit_config a = sm_cfg(19), b = default_cfg();
	struct iommu_be_domain *d = NULL;
	struct pair p;

	b.ecap |= VTD_ECAP_SMTS | VTD_ECAP_SLTS | VTD_ECAP_FLTS;
	pair_up(&p, &a, &b);
	assert_int_equal(iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_AUTO, &d),
			 0);
	assert_int_equal(iommu_be_domain_format(d), IOMMU_FORMAT_SECOND_LEVEL);
	assert_null(iommu_be_domain_no_unit(d, p.u[0]));
	assert_null(iommu_be_domain_no_unit(d, p.u[1]));
	assert_int_equal(iommu_be_domain_destroy(d), 0);
	assert_int_equal(
		iommu_be_domain_create(p.u, 2, IOMMU_FORMAT_FIRST_LEVEL, &d),
		0);
	assert_int_equal(iommu_be_domain_format(d), IOMMU_FORMAT_FIRST_LEVEL);
	assert_null(iommu_be_domain_no_unit(d, p.u[0]));
	assert_null(iommu_be_domain_no_unit(d, p.u[1]));
	assert_int_equal(iommu_be_domain_destroy(d), 0);
	pair_down(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_mixed_units_share_no_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_and_fl_only_units,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_units_walking_both_share,
						setup, teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
