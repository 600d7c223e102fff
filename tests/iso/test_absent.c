/*
 * The isolation layer over the absent back end (drivers/iommu/absent.c), a
 * machine without a usable IOMMU: no unit comes up, no domain exists, and
 * every assignment and attach is refused, so no device is ever told it is
 * isolated when it is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/iso/world.h"

static void test_absent_refuses_every_assignment(void **state)
{
	struct iommu_owner *o = NULL;
	struct iommu_hold *h = NULL;
	const char *why = NULL;
	unsigned int id;

	assert_int_equal(W.im.live_units, 0);
	assert_int_equal(iommu_owner_new(&W.im, "g", &o), -ENODEV);
	assert_int_equal(iommu_domain_new(&W.im, NULL, &id), -ENODEV);
	assert_int_equal(iommu_attach(&W.im, w_dev(W_FLR), 1, &why), -ENOENT);
	assert_int_equal(iommu_claim(&W.im, w_dev(W_FLR), "x", false), -ENODEV);
	assert_null(h);
	assert_true(w_log(LOG_WARN,
			  "no DMA through moat: its DMAR unit is rejected") >
		    0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_absent_refuses_every_assignment, w_setup_absent,
			w_teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
