/*
 * The VT-d hardware model: virtual time: hardware work happens when time
 * reaches it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "drivers/hw.h"
#include "lib/log.h"

#include "tests/model/model_int.h"
#include "tests/model/model_ir.h"

/* ---- time ---- */

void model_run(void)
{
	unsigned int i;

	for (i = 0; i < M.unit_count; i++) {
		struct munit *mu = &M.units[i];

		if (mu->op.active && M.now >= mu->op.due)
			model_gcmd_apply(mu);
		model_qi_run(mu);
		model_land_writes(mu);
	}
	model_probe_all();
}

uint64_t hw_now_ns(void)
{
	return M.now;
}

void hw_relax(void)
{
	M.now += M.relax_ns;
	model_run();
}

uint64_t model_now(void)
{
	return M.now;
}

void model_set_relax(uint64_t ns)
{
	M.relax_ns = ns;
}

void model_advance(uint64_t ns)
{
	M.now += ns;
	model_run();
}
