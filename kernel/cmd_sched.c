#include <stdint.h>

#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "kernel/sched.h"
#include "lib/errno.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

/* Running guests from the console (docs/console.md, docs/guest-abi.md). */

int cmd_guest_unchecked(const struct guest *g, const struct pci_dev *d)
{
	return con_error(
		"%s: " PCI_BDF_FMT
		"'s unit does not remap interrupts: a running guest could raise any interrupt through its DMA",
		g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
}

int cmd_guest_run(struct guest *g, int argc, char **argv)
{
	const struct guest_program *p;
	int ret;

	ret = sched_start(&kernel_get()->sched, g, argc, argv);
	if (ret == -ENOENT) {
		con_printf("programs:");
		for (p = guest_programs; p->name; p++) {
			con_printf(" %s", p->name);
		}
		con_printf("\n");
		return con_error("no program %.32s", argv[0]);
	}
	if (ret == -EBUSY) {
		return con_error("%s is running: guest stop %s first", g->name,
				 g->name);
	}
	if (ret == -EEXIST) {
		return con_error("%s's memory collides with its BARs at 0x%llx",
				 g->name, (unsigned long long)MOAT_BAR_GPA);
	}
	if (ret == -ENOSPC) {
		return con_error("%s has no room for %s at 0x%llx", g->name,
				 argv[0], (unsigned long long)MOAT_LOAD_GPA);
	}
	if (ret == -ENODEV) {
		return con_error("no timer to preempt guests with");
	}
	if (ret == -EPERM) {
		return cmd_guest_unchecked(g, guest_unchecked_dev(g));
	}
	return ret;
}

int cmd_guest_stop(struct guest *g)
{
	if (sched_stop(&kernel_get()->sched, g)) {
		return con_error("%s is not running", g->name);
	}
	return 0;
}

int cmd_guest_show_run(const struct guest *g)
{
	const struct guest_run *r = sched_run_of(&kernel_get()->sched, g);

	if (!r) {
		con_printf("state stopped\n");
		return 0;
	}
	if (r->state == GUEST_RUN_EXITED) {
		con_printf("state exited %llu",
			   (unsigned long long)r->exit_code);
	} else {
		con_printf("state %s", sched_state_name(r->state));
	}
	con_printf(" run_us %llu irqs %llu faults %llu hypercalls %llu\n",
		   (unsigned long long)(r->run_ns / 1000),
		   (unsigned long long)r->irqs,
		   (unsigned long long)g->owner->faults,
		   (unsigned long long)r->hypercalls);
	return 0;
}

/* sched: the scheduler's counters and each guest's share. */
static int cmd_sched(int argc, char **argv)
{
	struct sched *s = &kernel_get()->sched;
	uint64_t now = arch_now_ns();
	unsigned int i;

	if (argc != 1) {
		return con_error("usage: sched");
	}
	con_printf(
		"sched tick_us %llu for_ms %llu switches %llu entries %llu ticks %llu polls %llu yields %llu fault_events %llu\n",
		(unsigned long long)(s->tick_ns / 1000),
		(unsigned long long)((now - s->since_ns) / 1000000),
		(unsigned long long)s->switches, (unsigned long long)s->entries,
		(unsigned long long)s->ticks, (unsigned long long)s->polls,
		(unsigned long long)s->yields,
		(unsigned long long)s->fault_drains);
	for (i = 0; i < GUESTS_MAX; i++) {
		const struct guest_run *r = &s->runs[i];

		if (!r->g) {
			continue;
		}
		con_printf("guest %s %s run_us %llu entries %llu irqs %llu\n",
			   r->g->name, sched_state_name(r->state),
			   (unsigned long long)(r->run_ns / 1000),
			   (unsigned long long)r->entries,
			   (unsigned long long)r->irqs);
	}
	return 0;
}
CONSOLE_CMD(sched, "sched", "sched",
	    "running guests: tick, context switches, each guest's share",
	    cmd_sched);
