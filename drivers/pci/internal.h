#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"

/*
 * What the files of drivers/pci share and nothing else uses: the steps of
 * enumeration, hot-plug and grouping.
 */

bool pci_host_has_bus(const struct pci_host *host, uint16_t seg,
		      unsigned int bus);

/* Whether d is anywhere below bridge (bridge itself excluded). */
bool pci_dev_below(const struct pci_dev *d, const struct pci_dev *bridge);

/*
 * Lists the functions below bridge (its secondary bus and, through bridges
 * firmware configured, the buses beyond), where their bus numbers place them
 * among the segment's functions.  *found counts them, also on error.
 * -ENODEV when the bridge has no usable secondary bus, -ENOMEM.
 */
int pci_scan_below(struct pci_host *host, struct pci_dev *bridge,
		   unsigned int *found);

/*
 * Takes d off the host's list and out of its group and marks it gone
 * (surprise: with no orderly removal).  The host's reference is not dropped:
 * the caller drops it once it has told d's owner.
 */
void pci_dev_unlist(struct pci_host *host, struct pci_dev *d, bool surprise);

/* group.c */
void pci_acs_enable(const struct pci_dev *d);
/* Recomputes every group; -ENOMEM leaves the groups as they were. */
int pci_groups_update(struct pci_host *host);
void pci_group_leave(struct pci_host *host, struct pci_dev *d);
void pci_groups_clear(struct pci_host *host);

/* hotplug.c */
/*
 * Creates the slot of every listed hot-plug port that has none, among the
 * functions below below (all of them when it is NULL).
 */
int pci_slots_find(struct pci_host *host, const struct pci_dev *below);
void pci_slots_clear(struct pci_host *host);

/* bar.c */
/*
 * Sizes the memory BARs of every present function below bridge and places
 * them inside the bridge's memory windows, then turns memory decode on for
 * each function whose BARs all found room.  I/O BARs are not assigned.
 */
void pci_assign_bars(const struct pci_host *host, const struct pci_dev *bridge);
