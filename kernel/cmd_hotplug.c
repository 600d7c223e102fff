#include <stdbool.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/hotplug.h"
#include "kernel/console.h"
#include "kernel/hotplug.h"
#include "kernel/kernel.h"
#include "lib/errno.h"
#include "lib/string.h"

/*
 * Console commands of PCI hot-plug: hotplug (the slots), slot poweroff and
 * slot poweron (docs/console.md gives the line formats).
 */

/* "slot BDF power on|off presence yes|no link up|down device BDF|none" */
static void print_slot(const struct pci_host *host, const struct pci_slot *s)
{
	const struct pci_dev *d = pci_slot_dev(host, s);
	struct pci_slot_status st;

	pci_slot_read_status(s, &st);
	con_printf("slot " PCI_BDF_FMT " power %s presence %s link %s device ",
		   PCI_BDF_ARGS(s->port->seg, s->port->bus, s->port->devfn),
		   st.power ? "on" : "off", st.presence ? "yes" : "no",
		   st.link ? "up" : "down");
	if (d) {
		con_printf(PCI_BDF_FMT "\n",
			   PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
	} else {
		con_printf("none\n");
	}
}

static int cmd_hotplug(int argc, char **argv)
{
	const struct pci_host *host = &kernel_get()->pci;
	const struct pci_slot *s;

	if (argc != 1) {
		return con_error("usage: hotplug");
	}
	for (s = host->slots; s; s = s->next) {
		print_slot(host, s);
	}
	return 0;
}
CONSOLE_CMD(hotplug, "hotplug", "hotplug",
	    "PCIe hot-plug slots: power, presence, link, device", cmd_hotplug);

/* Everything a slot can go through before it settles, with room to spare. */
static uint64_t enable_budget_ns(const struct pci_hotplug_timing *t)
{
	return 2 * (t->cmd_ns + t->link_ns + t->settle_ns + t->ready_ns);
}

static bool slot_busy(const struct pci_slot *s)
{
	return s->state == PCI_SLOT_POWERING || s->state == PCI_SLOT_SETTLING ||
	       s->state == PCI_SLOT_PROBING;
}

/*
 * Powers the slot on and polls until it settles: ACTIVE with the card's
 * functions listed, or OFF when a deadline passed.
 */
static int slot_poweron(struct kernel *k, struct pci_slot *s, const char *bdf)
{
	uint64_t deadline = hw_now_ns() + enable_budget_ns(&k->pci.timing);
	int ret;

	ret = pci_slot_enable(&k->pci, s);
	if (ret == -EBUSY) {
		return con_error("slot %s is %s", bdf,
				 pci_slot_state_name(s->state));
	}
	if (ret == -ENODEV) {
		return con_error("slot %s: no usable card", bdf);
	}
	while (slot_busy(s) && !hw_time_after(deadline)) {
		hotplug_poll(k);
		hw_relax();
		/* Up to seconds: other slots and guests go on meanwhile. */
		sched_yield(k);
	}
	if (s->state != PCI_SLOT_ACTIVE) {
		return con_error("slot %s: no device came up (%s)", bdf,
				 pci_slot_state_name(s->state));
	}
	print_slot(&k->pci, s);
	return 0;
}

static int cmd_slot(int argc, char **argv)
{
	struct kernel *k = kernel_get();
	unsigned int seg, bus, devfn;
	struct pci_slot *s;

	if (argc != 3 || (strcmp(argv[1], "poweroff") != 0 &&
			  strcmp(argv[1], "poweron") != 0)) {
		return con_error("usage: slot poweroff|poweron BDF");
	}
	if (con_parse_bdf(argv[2], &seg, &bus, &devfn)) {
		return -EINVAL;
	}
	s = pci_find_slot(&k->pci, (uint16_t)seg, (uint8_t)bus, (uint8_t)devfn);
	if (!s) {
		return con_error("no hot-plug slot at %s", argv[2]);
	}
	if (strcmp(argv[1], "poweron") == 0) {
		return slot_poweron(k, s, argv[2]);
	}
	pci_slot_power_off(&k->pci, s);
	return 0;
}
CONSOLE_CMD(slot, "slot", "slot poweroff|poweron BDF",
	    "power a hot-plug slot off (no one told: a surprise removal) or on",
	    cmd_slot);
