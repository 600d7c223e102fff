#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/system/script.h"

/*
 * The whole system under test: the VT-d model with its units, the fake
 * PCI topology with hot-plug slots, the PCI layer, the isolation layer
 * and its guests, and one DMA engine per function.  world_run() builds a
 * fresh machine, runs a script step by step with every invariant checked
 * after each step, tears everything down and checks that every count is
 * back at its baseline.
 */

/* What one run found; small and flat, it crosses a pipe. */
struct sys_report {
	int failed;		     /* an invariant broke */
	char sig[24];		     /* its class: "isolation", "budget", ... */
	char what[240];		     /* the first broken invariant, one line */
	uint32_t step;		     /* the step it broke at (n: at teardown) */
	uint32_t steps;		     /* steps run */
	uint64_t took[SYS_OP_COUNT]; /* operations that took effect */
	uint64_t max_call_ns;	     /* longest single call, virtual time */
	uint64_t dma_landed;
	uint64_t dma_faulted;
	uint64_t dma_cancelled; /* by a reset or a removal */
	uint64_t checks;	/* invariant checks made */
	/* settle waits during which housekeeping removed or added a device */
	uint64_t settle_changes;
	uint64_t settle_unassign_changes; /* ... of them, in an unassign */
};

void world_run(const struct sys_op *ops, size_t n, bool verbose,
	       struct sys_report *rep);
