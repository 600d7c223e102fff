#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"
#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/kernel.h"

/*
 * The pci command: one line per function, in enumeration order, in the
 * format docs/console.md fixes (tests parse it):
 *   SSSS:BB:DD.F VVVV:DDDD class CCSSPP[ bridge PP/SS-UU][ caps a,b][ ext x,y]
 * and the group command: the isolation groups.
 */

/* " <label> name,name,..." with unknown IDs in hex; nothing for no list. */
static void print_caps(const char *label, const struct pci_cap *c, bool ext)
{
	const char *sep = " ";
	const char *name;

	if (!c) {
		return;
	}
	con_printf(" %s", label);
	for (; c; c = c->next) {
		name = ext ? pci_ext_cap_name(c->id)
			   : pci_cap_name((uint8_t)c->id);
		if (name) {
			con_printf("%s%s", sep, name);
		} else if (ext) {
			con_printf("%s0x%04x", sep, c->id);
		} else {
			con_printf("%s0x%02x", sep, c->id);
		}
		sep = ",";
	}
}

static int cmd_pci(int argc, char **argv)
{
	const struct pci_host *host = &kernel_get()->pci;
	const struct pci_dev *d;

	if (argc != 1) {
		return con_error("usage: pci");
	}
	if (host->range_count == 0) {
		return con_error("no PCI configuration space (no usable MCFG)");
	}
	pci_for_each_dev (host, d) {
		con_printf(PCI_BDF_FMT " %04x:%04x class %02x%02x%02x",
			   PCI_BDF_ARGS(d->seg, d->bus, d->devfn), d->vendor,
			   d->device, d->class_base, d->class_sub, d->prog_if);
		if (pci_is_bridge(d)) {
			con_printf(" bridge %02x/%02x-%02x", d->primary,
				   d->secondary, d->subordinate);
		}
		print_caps("caps", d->caps, false);
		print_caps("ext", d->ext_caps, true);
		con_printf("\n");
	}
	return 0;
}
CONSOLE_CMD(pci, "pci", "pci",
	    "PCI functions: IDs, class, bridge buses, capabilities", cmd_pci);

/* "group N owner NAME: BDF BDF ...", one line per isolation group, by id. */
static int cmd_group(int argc, char **argv)
{
	const struct pci_host *host = &kernel_get()->pci;
	const struct pci_group *g;
	const struct pci_dev *d;

	if (argc != 1) {
		return con_error("usage: group");
	}
	pci_for_each_group(host, g)
	{
		const char *owner;

		iommu_owner_of(&kernel_get()->iommu, g->devs, &owner);
		con_printf("group %u owner %s:", g->id, owner);
		pci_group_for_each_dev(g, d)
		{
			con_printf(" " PCI_BDF_FMT,
				   PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
		}
		con_printf("\n");
	}
	return 0;
}
CONSOLE_CMD(group, "group", "group",
	    "isolation groups: the functions the IOMMU cannot keep apart",
	    cmd_group);

struct pci_dev *cmd_get_dev(const char *bdf)
{
	unsigned int seg, bus, devfn;
	struct pci_dev *d;

	if (con_parse_bdf(bdf, &seg, &bus, &devfn)) {
		return NULL;
	}
	d = pci_get_dev(&kernel_get()->pci, (uint16_t)seg, (uint8_t)bus,
			(uint8_t)devfn);
	if (!d) {
		con_error("no PCI function %s", bdf);
	}
	return d;
}
