#include <stdbool.h>
#include <stdint.h>

#include "drivers/iommu/iommu.h"
#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "lib/rid.h"

/*
 * Fault records on the console, and the fault watch of a DMA command
 * that yields (struct cmd_fault_watch): a fault that housekeeping reads
 * while the command waits still counts for the command.
 */

static void print_fault(void *ctx, const struct iommu_fault *f,
			const char *owner)
{
	struct cmd_fault_watch *m = ctx, *w = kernel_get()->fault_watch;
	unsigned int i;

	/* Not a DMA fault: it must not fail the requester's next DMA. */
	if (f->irq) {
		con_printf("irq fault unit %u sid " RID_FMT
			   " index 0x%x reason 0x%02x %s%s%s\n",
			   f->unit, RID_ARGS(f->sid), f->index, f->reason,
			   f->text, owner ? " owner " : "", owner ? owner : "");
		return;
	}
	con_printf("fault unit %u sid " RID_FMT
		   " addr 0x%llx reason 0x%02x %s %s%s%s\n",
		   f->unit, RID_ARGS(f->sid), IOVA_ARG(f->addr), f->reason,
		   f->write ? "write" : "read", f->text, owner ? " owner " : "",
		   owner ? owner : "");
	for (i = 0; i < m->sid_count; i++) {
		if (rid_eq(m->sids[i], f->sid)) {
			m->matched++;
		}
	}
	for (i = 0; w && w != m && i < w->sid_count; i++) {
		if (rid_eq(w->sids[i], f->sid)) {
			w->matched++;
		}
	}
}

unsigned int cmd_print_faults(const rid_t *sids, unsigned int sid_count)
{
	struct cmd_fault_watch m = {sids, sid_count, 0};

	iommu_faults(&kernel_get()->iommu, print_fault, &m);
	return m.matched;
}

static int cmd_faults(int argc, char **argv)
{
	if (argc != 1) {
		return con_error("usage: faults");
	}
	cmd_print_faults(NULL, 0);
	return 0;
}
CONSOLE_CMD(faults, "faults", "faults",
	    "print and clear the recorded DMA faults", cmd_faults);
