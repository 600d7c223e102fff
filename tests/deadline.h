#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * A deadline per host test.  A test that does not finish in time (a loop
 * that never ends, a wait that never returns) fails with
 *
 *   [  FAILED  ] test_name: no result within 120 s (per-test deadline, ...)
 *
 * on stderr and the binary exits with status 1, instead of hanging make
 * test-unit.  The deadline covers the test's setup and teardown too.  It
 * is 120 s, about four times the slowest test
 * (iso test_claim_remove_cycles_do_not_leak: 32 s under AddressSanitizer
 * with the machine's two cores loaded six-fold);
 * MOAT_TEST_DEADLINE=SECONDS overrides it (0: none).
 * tests/mutate/mutate.py sets a shorter one, below its own time-out per
 * binary, so that a mutant which hangs is caught and named.
 */

/*
 * cmocka_run_group_tests() with a deadline on each test.  The tests' own
 * setup, teardown and initial state are kept; a group setup must not set
 * a group state (none does: it would replace each test's initial state).
 */
#define deadline_run_group_tests(tests, group_setup, group_teardown)    \
	deadline_run(#tests, tests, sizeof(tests) / sizeof((tests)[0]), \
		     group_setup, group_teardown)

int deadline_run(const char *group, const struct CMUnitTest *tests,
		 size_t count, CMFixtureFunction group_setup,
		 CMFixtureFunction group_teardown);

/*
 * The deadline in seconds (0: none), for harnesses that time their runs
 * themselves (tests/system: one per seed's run).
 */
unsigned int deadline_seconds(void);
