/*
 * The whole-system randomized test (issue 11): seeded random scripts of
 * guest, device, hot-plug, fault-injection and kexec operations against
 * the real isolation layer, PCI layer and VT-d driver over the VT-d model
 * and the fake PCI topology, with every invariant checked after every
 * step.  A failing seed is printed with a shrunk reproduction:
 *
 *	system [--seeds N] [--steps M] [--seed S] [--soak SECONDS]
 *	system --replay 'op a b;op a b;...' [--verbose]
 *
 * Each run happens in a child process, so that a crash (a sanitizer
 * report, an abort) is a failure like any other and can be shrunk too.
 * A run that does not end within the per-test deadline (tests/deadline.h,
 * 120 s; MOAT_TEST_DEADLINE for long --steps) fails as a hang, not shrunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/deadline.h"
#include "tests/system/script.h"
#include "tests/system/world.h"

#define STEPS_MAX      100000U
#define COVERAGE_STEPS 50000U

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs ops[i] for each keep[i] in a child; quiet: its output goes to
 * /dev/null.  A child that dies without a report crashed.
 */
static void run(const struct sys_op *ops, size_t n, const bool *keep,
		bool quiet, bool verbose, struct sys_report *rep)
{
	struct sys_op *sel = malloc((n ? n : 1) * sizeof(*sel));
	size_t i, m = 0;
	int fds[2], status;
	ssize_t got = 0, r;
	pid_t pid;

	for (i = 0; i < n; i++) {
		if (!keep || keep[i]) {
			sel[m++] = ops[i];
		}
	}
	memset(rep, 0, sizeof(*rep));
	if (pipe(fds)) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(fds[0]);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			dup2(null, 2);
		}
		/* SIGALRM ends the child: the parent reports a hang. */
		alarm(deadline_seconds());
		world_run(sel, m, verbose, rep);
		if (write(fds[1], rep, sizeof(*rep)) != sizeof(*rep)) {
			_exit(3);
		}
		fflush(NULL);
		_exit(0);
	}
	close(fds[1]);
	while (got < (ssize_t)sizeof(*rep)) {
		r = read(fds[0], (char *)rep + got, sizeof(*rep) - (size_t)got);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += r;
	}
	close(fds[0]);
	waitpid(pid, &status, 0);
	free(sel);
	if (got != sizeof(*rep) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		memset(rep, 0, sizeof(*rep));
		rep->failed = 1;
		snprintf(rep->sig, sizeof(rep->sig), "crash");
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
			snprintf(rep->sig, sizeof(rep->sig), "hang");
			snprintf(
				rep->what, sizeof(rep->what),
				"no result within %u s (per-test deadline, tests/deadline.h)",
				deadline_seconds());
		} else if (WIFSIGNALED(status)) {
			snprintf(rep->what, sizeof(rep->what),
				 "the run died of signal %d", WTERMSIG(status));
		} else {
			snprintf(
				rep->what, sizeof(rep->what),
				"the run crashed (exit status %d: a sanitizer report?)",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
	}
}

/* The same failure: the same invariant class. */
static bool fails_alike(const struct sys_op *ops, size_t n, const bool *keep,
			const char *sig)
{
	struct sys_report rep;

	run(ops, n, keep, true, false, &rep);
	return rep.failed && strcmp(rep.sig, sig) == 0;
}

static size_t kept(const bool *keep, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		k += keep[i];
	}
	return k;
}

/*
 * Delta debugging (Zeller's ddmin): drop ever smaller chunks of the kept
 * operations while the run still fails alike, then single operations.
 * keep[] ends 1-minimal: removing any one more step makes it pass.
 */
static void shrink(const struct sys_op *ops, size_t n, bool *keep,
		   const char *sig)
{
	size_t chunks = 2, total, c, i, idx, lo, hi;
	bool *trial = malloc(n * sizeof(*trial));
	bool progress;

	while ((total = kept(keep, n)) >= 2) {
		progress = false;
		if (chunks > total) {
			chunks = total;
		}
		for (c = 0; c < chunks && !progress; c++) {
			lo = total * c / chunks;
			hi = total * (c + 1) / chunks;
			memcpy(trial, keep, n * sizeof(*trial));
			for (i = 0, idx = 0; i < n; i++) {
				if (!keep[i]) {
					continue;
				}
				if (idx >= lo && idx < hi) {
					trial[i] = false;
				}
				idx++;
			}
			if (fails_alike(ops, n, trial, sig)) {
				memcpy(keep, trial, n * sizeof(*trial));
				progress = true;
			}
		}
		if (progress) {
			chunks = chunks > 2 ? chunks - 1 : 2;
		} else if (chunks >= total) {
			break;
		} else {
			chunks = chunks * 2 < total ? chunks * 2 : total;
		}
	}
	free(trial);
}

static void print_report(const struct sys_report *rep)
{
	unsigned int k;

	printf("  %u steps, %llu checks, DMA landed %llu faulted %llu cancelled %llu, longest call %llu us\n",
	       rep->steps, (unsigned long long)rep->checks,
	       (unsigned long long)rep->dma_landed,
	       (unsigned long long)rep->dma_faulted,
	       (unsigned long long)rep->dma_cancelled,
	       (unsigned long long)(rep->max_call_ns / 1000));
	printf("  settle waits that saw a device leave or come: %llu (%llu unassigning)\n",
	       (unsigned long long)rep->settle_changes,
	       (unsigned long long)rep->settle_unassign_changes);
	printf("  took effect:");
	for (k = 0; k < SYS_OP_COUNT; k++) {
		printf(" %s=%llu", sys_op_name(k),
		       (unsigned long long)rep->took[k]);
	}
	printf("\n");
}

/* Prints the failure, shrinks it and prints the reproduction. */
static void report_failure(const char *prog, const struct sys_op *ops, size_t n,
			   const struct sys_report *rep, bool do_shrink)
{
	bool *keep = calloc(n ? n : 1, sizeof(*keep));
	/* Each trial of a hang could take the whole deadline: none is made. */
	bool hang = strcmp(rep->sig, "hang") == 0;
	size_t i, upto = rep->step < n && !hang ? rep->step + 1 : n;

	printf("FAIL at step %u: [%s] %s\n", rep->step, rep->sig, rep->what);
	for (i = 0; i < upto; i++) {
		keep[i] = true;
	}
	/* Steps after the failing one never ran; a crash may be later. */
	if (!hang && !fails_alike(ops, n, keep, rep->sig)) {
		for (i = 0; i < n; i++) {
			keep[i] = true;
		}
	}
	if (do_shrink && !hang) {
		printf("shrinking %zu steps...\n", kept(keep, n));
		fflush(stdout);
		shrink(ops, n, keep, rep->sig);
	}
	printf("reproduce (%zu steps): %s --replay '", kept(keep, n), prog);
	sys_script_print(stdout, ops, n, keep);
	printf("'\n");
	free(keep);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seeds N] [--steps M] [--seed S] [--soak SECONDS] [--no-shrink]\n"
		"       %s --replay 'op a b;op a b;...' [--verbose]\n",
		prog, prog);
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long seeds = 50, steps = 2000, seed0 = 1, soak = 0;
	const char *replay = NULL;
	bool verbose = false, do_shrink = true;
	struct sys_report rep, sum;
	struct sys_op *ops;
	unsigned long s, done = 0;
	double t0 = wall();
	unsigned int k;
	int i, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--verbose") == 0) {
			verbose = true;
		} else if (strcmp(a, "--no-shrink") == 0) {
			do_shrink = false;
		} else if (!v) {
			usage(argv[0]);
		} else if (strcmp(a, "--seeds") == 0) {
			seeds = strtoul(v, NULL, 0), i++;
		} else if (strcmp(a, "--steps") == 0) {
			steps = strtoul(v, NULL, 0), i++;
		} else if (strcmp(a, "--seed") == 0) {
			seed0 = strtoul(v, NULL, 0), i++;
		} else if (strcmp(a, "--soak") == 0) {
			soak = strtoul(v, NULL, 0), i++;
		} else if (strcmp(a, "--replay") == 0) {
			replay = v, i++;
		} else {
			usage(argv[0]);
		}
	}
	if (steps == 0 || steps > STEPS_MAX) {
		usage(argv[0]);
	}
	ops = calloc(STEPS_MAX, sizeof(*ops));
	if (replay) {
		n = sys_script_parse(replay, ops, STEPS_MAX);
		if (n < 0) {
			return 2;
		}
		run(ops, (size_t)n, NULL, false, verbose, &rep);
		free(ops);
		print_report(&rep);
		if (rep.failed) {
			printf("FAIL at step %u: [%s] %s\n", rep.step, rep.sig,
			       rep.what);
			return 1;
		}
		printf("replay passed\n");
		return 0;
	}
	if (soak) {
		seed0 = (unsigned long)time(NULL);
		seeds = ~0UL;
	}
	memset(&sum, 0, sizeof(sum));
	for (s = seed0; done < seeds; s++, done++) {
		struct sys_rng r;
		unsigned long j;

		if (soak && wall() - t0 >= (double)soak) {
			break;
		}
		sys_rng_seed(&r, s);
		for (j = 0; j < steps; j++) {
			ops[j] = sys_op_random(&r);
		}
		run(ops, steps, NULL, false, false, &rep);
		if (rep.failed) {
			printf("system: seed %lu failed (%lu steps each, --seed %lu --seeds 1 --steps %lu runs it alone)\n",
			       s, steps, s, steps);
			report_failure(argv[0], ops, steps, &rep, do_shrink);
			free(ops);
			return 1;
		}
		sum.steps += rep.steps;
		sum.checks += rep.checks;
		sum.dma_landed += rep.dma_landed;
		sum.dma_faulted += rep.dma_faulted;
		sum.dma_cancelled += rep.dma_cancelled;
		sum.settle_changes += rep.settle_changes;
		sum.settle_unassign_changes += rep.settle_unassign_changes;
		if (rep.max_call_ns > sum.max_call_ns) {
			sum.max_call_ns = rep.max_call_ns;
		}
		for (k = 0; k < SYS_OP_COUNT; k++) {
			sum.took[k] += rep.took[k];
		}
	}
	printf("system: %lu seeds from %lu, %lu steps, %.1f s\n", done, seed0,
	       (unsigned long)sum.steps, wall() - t0);
	print_report(&sum);
	/* A run as long as the default one must have exercised every kind. */
	for (k = 0; sum.steps >= COVERAGE_STEPS && k < SYS_OP_COUNT; k++) {
		if (!sum.took[k]) {
			printf("system: FAIL: no %s operation ever took effect: the run does not cover it\n",
			       sys_op_name(k));
			free(ops);
			return 1;
		}
	}
	if (sum.steps >= COVERAGE_STEPS && !sum.settle_changes) {
		printf("system: FAIL: no settle wait saw a device leave or come: the run does not cover it\n");
		free(ops);
		return 1;
	}
	if (sum.steps >= COVERAGE_STEPS && !sum.settle_unassign_changes) {
		printf("system: FAIL: no unassign's settle wait saw a device leave or come: the run does not cover it\n");
		free(ops);
		return 1;
	}
	free(ops);
	return 0;
}
