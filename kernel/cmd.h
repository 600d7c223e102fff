#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"
#include "lib/addr.h"

/* Pieces several console commands share. */

/*
 * The present PCI function "[SSSS:]BB:DD.F" names, with a reference taken
 * (drop it with pci_dev_put()); NULL after con_error() said why.
 */
struct pci_dev *cmd_get_dev(const char *bdf);

/*
 * One edu DMA of len bytes at iova, "to-dev" or "from-dev": waits for the
 * device, prints the fault records, and fails with -EFAULT ("dma fault")
 * when one came from d.  Without wait it only starts the transfer and
 * prints "dma started".
 */
/*
 * Prints and clears every unit's fault records as "fault unit N sid
 * BB:DD.F addr 0xA reason 0xRR read|write TEXT[ owner NAME]"; returns how
 * many came from one of sids.  A guest's faults count against it.
 */
unsigned int cmd_print_faults(const rid_t *sids, unsigned int sid_count);

/*
 * The requester ids of a DMA a command waits for: their faults count
 * for it also when housekeeping reads them while the command yields.
 */
struct cmd_fault_watch {
	const rid_t *sids;
	unsigned int sid_count;
	unsigned int matched;
};

int cmd_edu_dma(struct pci_dev *d, const char *dir, iova_t iova,
		const char *len, bool wait);

/*
 * guest run NAME PROGRAM [ARGS], guest stop NAME, and the run state that
 * guest show NAME ends with (kernel/cmd_sched.c).
 */
struct guest;
int cmd_guest_run(struct guest *g, int argc, char **argv);
/* Refuses d to running guest g: its unit does not remap interrupts. */
int cmd_guest_unchecked(const struct guest *g, const struct pci_dev *d);
int cmd_guest_stop(struct guest *g);
int cmd_guest_show_run(const struct guest *g);
