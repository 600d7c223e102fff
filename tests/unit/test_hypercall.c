/*
 * Host tests of the hypercall dispatcher (kernel/hypercall.c): what a
 * guest gets back for good and for hostile arguments, and that nothing
 * outside its memory is read or written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/deadline.h"
#include "tests/unit/hypercall_fake.h"

#define MB UINT64_C(0x100000)

static struct guest g = {.name = "g1"};
static struct guest_run run;

/* Two regions: 1 MiB at 0 and 1 MiB at 1 MiB (adjacent, apart in the
 * host), and 1 MiB at 16 MiB after a hole. */
static int setup(void **state)
{
	memset(&run, 0, sizeof(run));
	run.g = &g;
	fake_region(&g, 0, MB);
	fake_region(&g, MB, MB);
	fake_region(&g, 16 * MB, MB);
	fake_console_len = 0;
	fake_console[0] = '\0';
	fake_now_ns = 1000;
	return 0;
}

static int teardown(void **state)
{
	fake_free_regions(&g);
	return 0;
}

static uint8_t *at(uint64_t gpa)
{
	uint64_t run_len;

	return (uint8_t *)(uintptr_t)hpa_val(
		guest_gpa_to_hpa(&g, iova_make(gpa), &run_len));
}

static void test_write_lines(void **state)
{
	enum hc_action act;

	memcpy(at(0x1000), "hello\nwor", 9);
	assert_int_equal(fake_hc(&run, MOAT_HC_WRITE, 0x1000, 9, &act), 9);
	assert_int_equal(act, HC_RESUME);
	assert_string_equal(fake_console, "[g1] hello\n");
	memcpy(at(0x2000), "ld\x01\x7f\n", 5);
	assert_int_equal(fake_hc(&run, MOAT_HC_WRITE, 0x2000, 5, &act), 5);
	assert_string_equal(fake_console, "[g1] hello\n[g1] world..\n");
	/* A zero-length write is fine and prints nothing. */
	assert_int_equal(fake_hc(&run, MOAT_HC_WRITE, 0x2000, 0, &act), 0);
	assert_int_equal(run.hypercalls, 3);
}

static void test_write_bad_buffers(void **state)
{
	enum hc_action act;
	uint64_t bad[][2] = {
		{2 * MB, 1},		 /* the hole */
		{2 * MB - 4, 8},	 /* runs into the hole */
		{17 * MB - 1, 2},	 /* past the end */
		{UINT64_MAX - 2, 8},	 /* wraps */
		{0x8000000000, 4},	 /* a BAR GPA: not memory */
		{0, MOAT_WRITE_MAX + 1}, /* too long */
		{0, UINT64_MAX},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ret = fake_hc(&run, MOAT_HC_WRITE, bad[i][0], bad[i][1],
				      &act);

		assert_true(ret == -MOAT_EFAULT || ret == -MOAT_EINVAL);
		assert_int_equal(act, HC_RESUME);
	}
	assert_int_equal(
		fake_hc(&run, MOAT_HC_WRITE, 0, MOAT_WRITE_MAX + 1, &act),
		-MOAT_EINVAL);
	assert_int_equal(fake_hc(&run, MOAT_HC_WRITE, 2 * MB, 1, &act),
			 -MOAT_EFAULT);
	assert_int_equal(fake_console_len, 0);
	assert_int_equal(run.line_len, 0);
}

/* A buffer across two regions is read from both host buffers. */
static void test_write_across_regions(void **state)
{
	enum hc_action act;

	memcpy(at(MB - 3), "abc", 3);
	memcpy(at(MB), "def\n", 4);
	assert_int_equal(fake_hc(&run, MOAT_HC_WRITE, MB - 3, 7, &act), 7);
	assert_string_equal(fake_console, "[g1] abcdef\n");
}

/* A line without a newline is split, never overflows. */
static void test_write_long_line(void **state)
{
	enum hc_action act;
	unsigned int i;

	memset(at(0), 'x', MOAT_WRITE_MAX);
	for (i = 0; i < 3; i++) {
		assert_int_equal(
			fake_hc(&run, MOAT_HC_WRITE, 0, MOAT_WRITE_MAX, &act),
			MOAT_WRITE_MAX);
	}
	assert_true(run.line_len < GUEST_LINE_MAX);
	assert_int_equal(fake_console_len, 6 * (GUEST_LINE_MAX - 1 + 6));
}

static void test_devices(void **state)
{
	struct moat_dev *out = (struct moat_dev *)at(0x3000);
	enum hc_action act;

	run.devs[1] = (struct moat_dev){.bdf = 0x0300,
					.vendor = 0x1234,
					.device = 0x11e8,
					.index = 1,
					.bar_gpa = {0x8100000000},
					.bar_len = {MB}};
	run.devs[5] =
		(struct moat_dev){.bdf = 0x0400, .vendor = 0x1234, .index = 5};
	assert_int_equal(fake_hc(&run, MOAT_HC_DEVICES, 0x3000, 8, &act), 2);
	assert_int_equal(out[0].index, 1);
	assert_int_equal(out[0].bar_gpa[0], 0x8100000000);
	assert_int_equal(out[1].index, 5);
	assert_int_equal(fake_hc(&run, MOAT_HC_DEVICES, 0x3000, 1, &act), 1);
	assert_int_equal(fake_hc(&run, MOAT_HC_DEVICES, 0x3000, 0, &act), 0);
	assert_int_equal(fake_hc(&run, MOAT_HC_DEVICES, 0x3000, 9, &act),
			 -MOAT_EINVAL);
	/* The second entry would cross into the hole. */
	assert_int_equal(fake_hc(&run, MOAT_HC_DEVICES,
				 2 * MB - sizeof(struct moat_dev), 8, &act),
			 -MOAT_EFAULT);
	assert_int_equal(fake_hc(&run, MOAT_HC_DEVICES, 5 * MB, 8, &act),
			 -MOAT_EFAULT);
}

static void test_wait_and_ack(void **state)
{
	enum hc_action act;

	run.devs[0].vendor = 0x1234;
	run.devs[2].vendor = 0x1234;
	run.devs[7].vendor = 0x1234;
	assert_int_equal(
		fake_hc(&run, MOAT_HC_WAIT_IRQ, MOAT_WAIT_MAX_US + 1, 0, &act),
		-MOAT_EINVAL);
	assert_int_equal(act, HC_RESUME);
	fake_hc(&run, MOAT_HC_WAIT_IRQ, 500, 0, &act);
	assert_int_equal(act, HC_WAIT);
	assert_int_equal(run.wait_deadline_ns, 1000 + 500 * 1000);
	/* Pending: no wait at all, the mask comes back. */
	run.pending = 1U << 2 | 1U << 0 | 1U << 7;
	assert_int_equal(fake_hc(&run, MOAT_HC_WAIT_IRQ, 500, 0, &act), 0x85);
	assert_int_equal(act, HC_RESUME);
	assert_int_equal(fake_hc(&run, MOAT_HC_IRQ_ACK, 3, 0, &act),
			 -MOAT_ENOENT);
	assert_int_equal(fake_hc(&run, MOAT_HC_IRQ_ACK, 64, 0, &act),
			 -MOAT_ENOENT);
	assert_int_equal(fake_hc(&run, MOAT_HC_IRQ_ACK, UINT64_MAX, 0, &act),
			 -MOAT_ENOENT);
	assert_int_equal(fake_hc(&run, MOAT_HC_IRQ_ACK, 8, 0, &act),
			 -MOAT_ENOENT);
	assert_int_equal(run.pending, 0x85);
	assert_int_equal(fake_hc(&run, MOAT_HC_IRQ_ACK, 2, 0, &act), 0);
	assert_int_equal(run.pending, 0x81);
}

static void test_exit_yield_time_unknown(void **state)
{
	enum hc_action act;
	uint64_t nrs[] = {0, 8, 0x100, UINT64_MAX, 1ULL << 63};
	size_t i;

	fake_hc(&run, MOAT_HC_EXIT, 42, 0, &act);
	assert_int_equal(act, HC_EXIT);
	assert_int_equal(run.exit_code, 42);
	assert_int_equal(fake_hc(&run, MOAT_HC_YIELD, 0, 0, &act), 0);
	assert_int_equal(act, HC_YIELD);
	fake_now_ns = 123456;
	assert_int_equal(fake_hc(&run, MOAT_HC_TIME, 0, 0, &act), 123456);
	for (i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		assert_int_equal(fake_hc(&run, nrs[i], 0, 0, &act),
				 -MOAT_ENOSYS);
		assert_int_equal(act, HC_RESUME);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_bad_buffers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_across_regions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_long_line, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_and_ack, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exit_yield_time_unknown,
						setup, teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
