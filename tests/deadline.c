/* A deadline per host test: see deadline.h. */
#include "tests/deadline.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DEADLINE_DEFAULT_S 120U

/* Written when armed: the handler may only write() and _exit(). */
static char message[192];
static volatile sig_atomic_t message_len;

/* The group deadline_run() runs, and the test whose setup ran last. */
static const struct CMUnitTest *group_tests;
static size_t group_count;
static const struct CMUnitTest *current;

static void expired(int sig)
{
	ssize_t written = write(STDERR_FILENO, message, (size_t)message_len);

	(void)sig;
	(void)written;
	_exit(1);
}

unsigned int deadline_seconds(void)
{
	const char *env = getenv("MOAT_TEST_DEADLINE");

	return env ? (unsigned int)strtoul(env, NULL, 10) : DEADLINE_DEFAULT_S;
}

/* What runs from now on, until deadline_disarm(). */
static void deadline_arm(const char *what)
{
	static bool installed;
	unsigned int s = deadline_seconds();
	int n;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = expired;
		sigaction(SIGALRM, &sa, NULL);
		installed = true;
	}
	n = snprintf(
		message, sizeof(message),
		"[  FAILED  ] %.95s: no result within %u s (per-test deadline, tests/deadline.h)\n",
		what, s);
	message_len = n < (int)sizeof(message) ? n : (int)sizeof(message) - 1;
	alarm(s);
}

static void deadline_disarm(void)
{
	alarm(0);
}

/* Every test's setup: arm for it, then its own setup on its own state. */
static int setup(void **state)
{
	const struct CMUnitTest *t = *state;

	if (t < group_tests || t >= group_tests + group_count) {
		fprintf(stderr,
			"deadline: a group setup set a group state; the tests cannot be told apart\n");
		return -1;
	}
	current = t;
	deadline_arm(t->name);
	*state = t->initial_state;
	if (t->setup_func && t->setup_func(state)) {
		deadline_disarm();
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	int ret = current->teardown_func ? current->teardown_func(state) : 0;

	deadline_disarm();
	return ret;
}

int deadline_run(const char *group, const struct CMUnitTest *tests,
		 size_t count, CMFixtureFunction group_setup,
		 CMFixtureFunction group_teardown)
{
	struct CMUnitTest *armed = calloc(count, sizeof(*armed));
	size_t i;
	int ret;

	if (!armed) {
		return 1;
	}
	/* Whole lines reach a pipe before an expired test ends the process. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	group_tests = tests;
	group_count = count;
	for (i = 0; i < count; i++) {
		armed[i] = tests[i];
		armed[i].setup_func = setup;
		armed[i].teardown_func = teardown;
		armed[i].initial_state = (void *)&tests[i];
	}
	ret = _cmocka_run_group_tests(group, armed, count, group_setup,
				      group_teardown);
	deadline_disarm();
	free(armed);
	return ret;
}
