#include "drivers/pci/pci.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/hotplug.h"
#include "drivers/pci/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"

/*
 * The state of enumerating one segment, dropped when it is done.
 *
 * visited: buses scanned or queued to be.  A bridge whose secondary bus is
 * already here would make a loop, or two bridges would claim one bus.
 * claimed: buses inside a followed bridge's [secondary, subordinate]; a bus
 * neither visited nor claimed that has functions on it is the root bus of
 * another host bridge.
 * pending: bridges whose secondary bus is still to be scanned, a stack so
 * that a bridge's subtree is listed before its next sibling's.  Every entry
 * marks a new bus visited, so it never holds more than PCI_BUS_COUNT.
 * link: where the next function found goes in the host's list.
 */
struct pci_scan {
	struct pci_host *host;
	uint16_t seg;
	struct pci_dev **link;
	uint64_t visited[PCI_BUS_COUNT / 64];
	uint64_t claimed[PCI_BUS_COUNT / 64];
	struct pci_dev *pending[PCI_BUS_COUNT];
	unsigned int pending_count;
	unsigned int found; /* functions found in this segment so far */
};

static bool bus_test(const uint64_t *map, unsigned int bus)
{
	return map[bus / 64] & BIT64(bus % 64);
}

static void bus_set(uint64_t *map, unsigned int bus)
{
	map[bus / 64] |= BIT64(bus % 64);
}

bool pci_host_has_bus(const struct pci_host *host, uint16_t seg,
		      unsigned int bus)
{
	const struct pci_bus_range *r;
	unsigned int i;

	for (i = 0; i < host->range_count; i++) {
		r = &host->ranges[i];
		if (r->seg == seg && bus >= r->bus_start && bus <= r->bus_end) {
			return true;
		}
	}
	return false;
}

int pci_host_add_range(struct pci_host *host, uint16_t seg, uint8_t bus_start,
		       uint8_t bus_end)
{
	const struct pci_bus_range *r;
	unsigned int i;

	if (bus_start > bus_end) {
		return -EINVAL;
	}
	for (i = 0; i < host->range_count; i++) {
		r = &host->ranges[i];
		if (r->seg == seg && bus_start <= r->bus_end &&
		    bus_end >= r->bus_start) {
			return -EEXIST;
		}
	}
	if (host->range_count == PCI_HOST_RANGES_MAX) {
		return -ENOSPC;
	}
	host->ranges[host->range_count++] = (struct pci_bus_range){
		.seg = seg,
		.bus_start = bus_start,
		.bus_end = bus_end,
	};
	return 0;
}

/* Lists d at the scan's insertion point; the next function goes after it. */
static void scan_insert(struct pci_scan *s, struct pci_dev *d)
{
	d->next = *s->link;
	*s->link = d;
	if (!d->next) {
		s->host->devs_last = d;
	}
	s->link = &d->next;
}

/* The end of the host's list. */
static struct pci_dev **list_end(struct pci_host *host)
{
	return host->devs_last ? &host->devs_last->next : &host->devs;
}

/*
 * The Link below a PCIe Downstream Port carries only Device 0 (PCIe r3.1
 * §7.3.1); some ports forward requests for other device numbers anyway and
 * the function would appear 32 times, so only Device 0 is probed there.
 */
static bool bus_has_one_device(const struct pci_dev *bridge)
{
	if (!bridge || !pci_is_pcie(bridge)) {
		return false;
	}
	return bridge->pcie_type == PCI_EXP_TYPE_ROOT_PORT ||
	       bridge->pcie_type == PCI_EXP_TYPE_DOWNSTREAM ||
	       bridge->pcie_type == PCI_EXP_TYPE_PCIE_BRIDGE;
}

/*
 * Reads one function's header into a new object and lists it; *out is NULL
 * when nothing answers at (bus, devfn).  A Vendor ID of FFFFh is what the
 * host bridge returns for an absent function (PCI 3.0 §6.2.1); 0000h is
 * not a valid one either and some broken hosts return it.
 */
static int probe_function(struct pci_scan *s, uint8_t bus, uint8_t devfn,
			  struct pci_dev *parent, struct pci_dev **out)
{
	uint16_t seg = s->seg;
	struct pci_dev *d;
	uint16_t vendor;
	uint32_t class;
	uint8_t hdr;
	int pos;
	int err;

	*out = NULL;
	vendor = hw_pci_read16(seg, bus, devfn, PCI_VENDOR_ID);
	if (vendor == PCI_VENDOR_ID_NONE || vendor == 0) {
		return 0;
	}
	d = hw_zalloc(sizeof(*d));
	if (!d) {
		return -ENOMEM;
	}
	d->refs = 1; /* the host's list */
	d->state = PCI_DEV_PRESENT;
	d->seg = seg;
	d->bus = bus;
	d->devfn = devfn;
	d->vendor = vendor;
	d->device = hw_pci_read16(seg, bus, devfn, PCI_DEVICE_ID);
	class = hw_pci_read32(seg, bus, devfn, PCI_CLASS_REVISION);
	d->class_base =
		(uint8_t)field_get32(PCI_CLASS_REVISION_BASE_CLASS, class);
	d->class_sub =
		(uint8_t)field_get32(PCI_CLASS_REVISION_SUB_CLASS, class);
	d->prog_if = (uint8_t)field_get32(PCI_CLASS_REVISION_PROG_IF, class);
	hdr = hw_pci_read8(seg, bus, devfn, PCI_HEADER_TYPE);
	d->hdr_type = (uint8_t)field_get32(PCI_HEADER_TYPE_LAYOUT, hdr);
	d->multifunction = hdr & PCI_HEADER_TYPE_MFD;
	switch (d->hdr_type) {
	case PCI_HEADER_TYPE_NORMAL:
	case PCI_HEADER_TYPE_CARDBUS:
		break;
	case PCI_HEADER_TYPE_BRIDGE:
		d->primary = hw_pci_read8(seg, bus, devfn, PCI_PRIMARY_BUS);
		d->secondary = hw_pci_read8(seg, bus, devfn, PCI_SECONDARY_BUS);
		d->subordinate =
			hw_pci_read8(seg, bus, devfn, PCI_SUBORDINATE_BUS);
		break;
	default:
		log_warn("pci", PCI_BDF_FMT ": unknown header type 0x%02x",
			 PCI_BDF_ARGS(seg, bus, devfn), d->hdr_type);
		break;
	}
	err = pci_read_caps(d);
	if (err) {
		goto out_free_dev;
	}
	pos = pci_find_cap(d, PCI_CAP_ID_EXP);
	if (pos) {
		d->pcie_type = (uint8_t)field_get32(
			PCI_EXP_FLAGS_TYPE,
			hw_pci_read16(seg, bus, devfn,
				      (uint16_t)(pos + PCI_EXP_FLAGS)));
	}
	pci_acs_enable(d);
	d->parent = parent ? pci_dev_get(parent) : NULL;
	d->gen = ++s->host->gen;
	scan_insert(s, d);
	s->found++;
	*out = d;
	return 0;

out_free_dev:
	hw_free(d);
	return err;
}

/*
 * Queues a bridge's secondary bus for scanning, or says why not.  A bridge
 * forwards configuration requests for buses in [secondary, subordinate]
 * only (PCI-to-PCI Bridge 1.2 §3.2.5.3-3.2.5.4), so a bridge below another
 * must lead to a bus inside its parent's range; a secondary bus of 0 means
 * firmware assigned none.
 */
static void queue_bridge(struct pci_scan *s, struct pci_dev *br)
{
	const struct pci_dev *up = br->parent;
	const char *why = NULL;
	unsigned int b;

	if (br->secondary == 0) {
		why = "no secondary bus assigned";
	} else if (!pci_host_has_bus(s->host, s->seg, br->secondary)) {
		why = "secondary bus outside ECAM";
	} else if (up && (br->secondary <= up->secondary ||
			  br->secondary > up->subordinate)) {
		why = "secondary bus outside the upstream bridge's range";
	} else if (bus_test(s->visited, br->secondary)) {
		why = "secondary bus already scanned (loop)";
	}
	if (why) {
		log_warn("pci",
			 PCI_BDF_FMT ": bridge %02x/%02x-%02x not followed: %s",
			 PCI_BDF_ARGS(br->seg, br->bus, br->devfn), br->primary,
			 br->secondary, br->subordinate, why);
		return;
	}
	if (br->subordinate < br->secondary) {
		log_warn(
			"pci",
			PCI_BDF_FMT
			": bridge %02x/%02x-%02x: subordinate below secondary, nothing beyond bus %02x is reachable",
			PCI_BDF_ARGS(br->seg, br->bus, br->devfn), br->primary,
			br->secondary, br->subordinate, br->secondary);
	}
	bus_set(s->visited, br->secondary);
	for (b = br->secondary; b <= br->subordinate; b++) {
		bus_set(s->claimed, b);
	}
	s->pending[s->pending_count++] = br;
}

/*
 * Probes every function on one bus, lists it, and pushes the bridges found
 * so that the first one is scanned next.  Functions 1-7 exist only when
 * function 0 says the device is multi-function (PCI 3.0 §6.2.1).
 */
static int scan_bus(struct pci_scan *s, uint8_t bus, struct pci_dev *parent)
{
	unsigned int slots = bus_has_one_device(parent) ? 1 : PCI_SLOT_COUNT;
	unsigned int first = s->pending_count;
	unsigned int last;
	unsigned int slot;
	unsigned int fn;
	struct pci_dev *d;
	struct pci_dev *tmp;
	int err;

	for (slot = 0; slot < slots; slot++) {
		for (fn = 0; fn < PCI_FUNC_COUNT; fn++) {
			err = probe_function(s, bus, pci_devfn(slot, fn),
					     parent, &d);
			if (err) {
				return err;
			}
			if (d && pci_is_bridge(d)) {
				queue_bridge(s, d);
			}
			if (fn == 0 && (!d || !d->multifunction)) {
				break;
			}
		}
	}
	/* Pushed in bus order; reverse them so the first is popped first. */
	for (last = s->pending_count; first + 1 < last; first++, last--) {
		tmp = s->pending[first];
		s->pending[first] = s->pending[last - 1];
		s->pending[last - 1] = tmp;
	}
	return 0;
}

/* Everything from bus root (below parent, or a root bus), depth first. */
static int scan_tree(struct pci_scan *s, uint8_t root, struct pci_dev *parent)
{
	struct pci_dev *br;
	int err;

	bus_set(s->visited, root);
	err = scan_bus(s, root, parent);
	while (!err && s->pending_count > 0) {
		br = s->pending[--s->pending_count];
		err = scan_bus(s, br->secondary, br);
	}
	return err;
}

/*
 * Without an AML interpreter the root buses of a segment's host bridges
 * (ACPI _BBN) are unknown.  The lowest bus is one; every other bus that no
 * followed bridge leads to is probed, and one with functions on it is the
 * root of another host bridge (multi-socket servers have several).  Buses
 * are taken in ascending order so that a bridge is met before the buses it
 * leads to, however MCFG orders its entries.
 */
static int scan_segment(struct pci_host *host, uint16_t seg)
{
	struct pci_scan *s;
	unsigned int before;
	unsigned int bus;
	int err = 0;

	s = hw_zalloc(sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->host = host;
	s->seg = seg;
	s->link = list_end(host);
	for (bus = 0; bus < PCI_BUS_COUNT && !err; bus++) {
		if (!pci_host_has_bus(host, seg, bus) ||
		    bus_test(s->visited, bus) || bus_test(s->claimed, bus)) {
			continue;
		}
		before = s->found;
		err = scan_tree(s, (uint8_t)bus, NULL);
		if (s->found > before) {
			log_info("pci",
				 "%04x:%02x: root bus, %u functions below it",
				 seg, bus, s->found - before);
		}
	}
	hw_free(s);
	return err;
}

static bool seg_seen_before(const struct pci_host *host, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < i; j++) {
		if (host->ranges[j].seg == host->ranges[i].seg) {
			return true;
		}
	}
	return false;
}

/* What depends on the functions newly listed (below below; all: NULL). */
static int setup_new(struct pci_host *host, const struct pci_dev *below)
{
	int err;

	err = pci_slots_find(host, below);
	if (err) {
		return err;
	}
	return pci_groups_update(host);
}

int pci_enumerate(struct pci_host *host)
{
	unsigned int i;
	int err;

	if (host->devs) {
		return -EBUSY;
	}
	pci_hotplug_timing_default(&host->timing);
	for (i = 0; i < host->range_count; i++) {
		if (seg_seen_before(host, i)) {
			continue;
		}
		err = scan_segment(host, host->ranges[i].seg);
		if (err) {
			log_err("pci", "segment %04x: enumeration stopped: %s",
				host->ranges[i].seg, errno_name(err));
			return err;
		}
	}
	err = setup_new(host, NULL);
	if (err) {
		log_err("pci", "slots and groups incomplete: %s",
			errno_name(err));
	}
	return err;
}

/*
 * Where functions on bus go: after the segment's last listed function on
 * a lower bus, so that a hot-added card takes the place enumeration at
 * boot would have given it (firmware numbers buses depth first).
 */
static struct pci_dev **insertion_point(struct pci_host *host, uint16_t seg,
					uint8_t bus)
{
	struct pci_dev **link;
	struct pci_dev **at = NULL;

	for (link = &host->devs; *link; link = &(*link)->next) {
		if ((*link)->seg != seg) {
			continue;
		}
		if (!at || (*link)->bus <= bus) {
			at = (*link)->bus <= bus ? &(*link)->next : link;
		}
	}
	return at ? at : link;
}

int pci_scan_below(struct pci_host *host, struct pci_dev *bridge,
		   unsigned int *found)
{
	struct pci_scan *s;
	int err;

	*found = 0;
	if (bridge->secondary == 0 ||
	    !pci_host_has_bus(host, bridge->seg, bridge->secondary)) {
		return -ENODEV;
	}
	s = hw_zalloc(sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->host = host;
	s->seg = bridge->seg;
	s->link = insertion_point(host, bridge->seg, bridge->secondary);
	err = scan_tree(s, bridge->secondary, bridge);
	*found = s->found;
	hw_free(s);
	if (err == 0 && *found > 0) {
		err = setup_new(host, bridge);
	}
	return err;
}

bool pci_dev_below(const struct pci_dev *d, const struct pci_dev *bridge)
{
	const struct pci_dev *b;

	for (b = d->parent; b; b = b->parent) {
		if (b == bridge) {
			return true;
		}
	}
	return false;
}

void pci_dev_unlist(struct pci_host *host, struct pci_dev *d, bool surprise)
{
	struct pci_dev **link;
	struct pci_dev *prev = NULL;

	for (link = &host->devs; *link && *link != d; link = &(*link)->next) {
		prev = *link;
	}
	if (*link) {
		*link = d->next;
		if (host->devs_last == d) {
			host->devs_last = prev;
		}
	}
	d->next = NULL;
	pci_group_leave(host, d);
	d->state = PCI_DEV_GONE;
	d->surprise = surprise;
}

void pci_host_clear(struct pci_host *host)
{
	struct pci_dev *d;

	pci_slots_clear(host);
	while ((d = host->devs)) {
		pci_dev_unlist(host, d, false);
		pci_dev_put(d);
	}
	pci_groups_clear(host);
}

struct pci_dev *pci_dev_get(struct pci_dev *d)
{
	d->refs++;
	return d;
}

void pci_dev_put(struct pci_dev *d)
{
	struct pci_dev *parent;

	/* Freeing a device drops its reference to its bridge: a loop. */
	while (d) {
		if (d->refs == 0) {
			log_err("pci", PCI_BDF_FMT ": reference dropped twice",
				PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
			return;
		}
		if (--d->refs > 0) {
			return;
		}
		parent = d->parent;
		pci_free_caps(d);
		hw_free(d);
		d = parent;
	}
}

struct pci_dev *pci_find_dev(const struct pci_host *host, uint16_t seg,
			     uint8_t bus, uint8_t devfn)
{
	struct pci_dev *d;

	pci_for_each_dev (host, d) {
		if (d->seg == seg && d->bus == bus && d->devfn == devfn &&
		    d->state == PCI_DEV_PRESENT) {
			return d;
		}
	}
	return NULL;
}

struct pci_dev *pci_get_dev(const struct pci_host *host, uint16_t seg,
			    uint8_t bus, uint8_t devfn)
{
	struct pci_dev *d = pci_find_dev(host, seg, bus, devfn);

	return d ? pci_dev_get(d) : NULL;
}

/*
 * A root or switch downstream port that reports link state and reads its
 * link as down (PCIe §7.5.3.6 DLLLARC, §7.5.3.8 DLLLA).  An upstream port's
 * link is the one its parent port reports.  A slot whose Presence Detect
 * State reads empty although a function below it is listed has registers
 * that do not describe it (QEMU 7.2's ACPI hot-plug leaves Presence Detect
 * and Link Active clear under a working device, docs/scenarios.md,
 * qemu-acpi-hotplug-slot): its
 * link state says nothing, and whether the function answers decides.
 */
static bool port_link_down(const struct pci_dev *b)
{
	int pos = pci_find_cap(b, PCI_CAP_ID_EXP);
	uint16_t sta, flags, sltsta;
	uint32_t cap;

	if (!pos || (b->pcie_type != PCI_EXP_TYPE_ROOT_PORT &&
		     b->pcie_type != PCI_EXP_TYPE_DOWNSTREAM)) {
		return false;
	}
	cap = hw_pci_read32(b->seg, b->bus, b->devfn,
			    (uint16_t)(pos + PCI_EXP_LNKCAP));
	if (cap == UINT32_MAX) {
		return true; /* the port itself is gone */
	}
	if (!(cap & PCI_EXP_LNKCAP_DLLLARC)) {
		return false;
	}
	sta = hw_pci_read16(b->seg, b->bus, b->devfn,
			    (uint16_t)(pos + PCI_EXP_LNKSTA));
	if (sta == UINT16_MAX) {
		return true;
	}
	if (sta & PCI_EXP_LNKSTA_DLLLA) {
		return false;
	}
	flags = hw_pci_read16(b->seg, b->bus, b->devfn,
			      (uint16_t)(pos + PCI_EXP_FLAGS));
	sltsta = hw_pci_read16(b->seg, b->bus, b->devfn,
			       (uint16_t)(pos + PCI_EXP_SLTSTA));
	return !(flags & PCI_EXP_FLAGS_SLOT) || (sltsta & PCI_EXP_SLTSTA_PDS);
}

bool pci_dev_present(const struct pci_dev *d)
{
	const struct pci_dev *b;

	if (pci_dev_is_gone(d)) {
		return false;
	}
	/* Links first: a request below a dead link may only time out. */
	for (b = d->parent; b; b = b->parent) {
		if (port_link_down(b)) {
			return false;
		}
	}
	return hw_pci_read16(d->seg, d->bus, d->devfn, PCI_VENDOR_ID) !=
	       PCI_VENDOR_ID_NONE;
}

static unsigned int add_id(rid_t *ids, unsigned int n, unsigned int max,
			   rid_t id)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (rid_eq(ids[i], id)) {
			return n;
		}
	}
	if (n < max) {
		ids[n++] = id;
	}
	return n;
}

unsigned int pci_dma_aliases(const struct pci_dev *d, rid_t *ids,
			     unsigned int max)
{
	const struct pci_dev *b;
	unsigned int n = add_id(ids, 0, max, rid_make(d->bus, d->devfn));

	for (b = d->parent; b; b = b->parent) {
		if (!pci_is_pcie(b)) {
			/* A conventional bridge re-issues requests as its own.
			 */
			n = add_id(ids, n, max, rid_make(b->bus, b->devfn));
			continue;
		}
		if (b->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE) {
			/* Everything above is PCIe: the alias stays as it is.
			 */
			return add_id(ids, n, max, rid_make(b->secondary, 0));
		}
		/* Root and switch ports pass requester ids through unchanged.
		 */
	}
	return n;
}
