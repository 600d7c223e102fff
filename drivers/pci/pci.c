#include "drivers/pci/pci.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "kernel/log.h"
#include "lib/bits.h"
#include "lib/errno.h"

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
 */
struct pci_scan {
	struct pci_host *host;
	uint16_t seg;
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

static bool host_has_bus(const struct pci_host *host, uint16_t seg,
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

static void host_append(struct pci_host *host, struct pci_dev *d)
{
	if (host->devs_last) {
		host->devs_last->next = d;
	} else {
		host->devs = d;
	}
	host->devs_last = d;
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
	d->parent = parent;
	d->seg = seg;
	d->bus = bus;
	d->devfn = devfn;
	d->vendor = vendor;
	d->device = hw_pci_read16(seg, bus, devfn, PCI_DEVICE_ID);
	class = hw_pci_read32(seg, bus, devfn, PCI_CLASS_REVISION);
	d->class_base = (uint8_t)field_get32(PCI_CLASS_REVISION_BASE_CLASS, class);
	d->class_sub = (uint8_t)field_get32(PCI_CLASS_REVISION_SUB_CLASS, class);
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
	host_append(s->host, d);
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
	} else if (!host_has_bus(s->host, s->seg, br->secondary)) {
		why = "secondary bus outside ECAM";
	} else if (up && (br->secondary <= up->secondary ||
			  br->secondary > up->subordinate)) {
		why = "secondary bus outside the upstream bridge's range";
	} else if (bus_test(s->visited, br->secondary)) {
		why = "secondary bus already scanned (loop)";
	}
	if (why) {
		log_warn("pci", PCI_BDF_FMT ": bridge %02x/%02x-%02x not followed: %s",
			 PCI_BDF_ARGS(br->seg, br->bus, br->devfn),
			 br->primary, br->secondary, br->subordinate, why);
		return;
	}
	if (br->subordinate < br->secondary) {
		log_warn("pci", PCI_BDF_FMT ": bridge %02x/%02x-%02x: subordinate below secondary, nothing beyond bus %02x is reachable",
			 PCI_BDF_ARGS(br->seg, br->bus, br->devfn),
			 br->primary, br->secondary, br->subordinate,
			 br->secondary);
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

/* Everything below root, depth first. */
static int scan_tree(struct pci_scan *s, uint8_t root)
{
	struct pci_dev *br;
	int err;

	bus_set(s->visited, root);
	err = scan_bus(s, root, NULL);
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
	for (bus = 0; bus < PCI_BUS_COUNT && !err; bus++) {
		if (!host_has_bus(host, seg, bus) || bus_test(s->visited, bus) ||
		    bus_test(s->claimed, bus)) {
			continue;
		}
		before = s->found;
		err = scan_tree(s, (uint8_t)bus);
		if (s->found > before) {
			log_info("pci", "%04x:%02x: root bus, %u functions below it",
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

int pci_enumerate(struct pci_host *host)
{
	unsigned int i;
	int err;

	if (host->devs) {
		return -EBUSY;
	}
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
	return 0;
}

void pci_host_clear(struct pci_host *host)
{
	struct pci_dev *d = host->devs;
	struct pci_dev *next;

	while (d) {
		next = d->next;
		pci_free_caps(d);
		hw_free(d);
		d = next;
	}
	host->devs = NULL;
	host->devs_last = NULL;
}

struct pci_dev *pci_find_dev(const struct pci_host *host, uint16_t seg,
			     uint8_t bus, uint8_t devfn)
{
	struct pci_dev *d;

	pci_for_each_dev(host, d) {
		if (d->seg == seg && d->bus == bus && d->devfn == devfn) {
			return d;
		}
	}
	return NULL;
}

int pci_bar_mem(const struct pci_dev *d, unsigned int bar, uint64_t *addr)
{
	unsigned int bars = d->hdr_type == PCI_HEADER_TYPE_NORMAL ? 6 : 2;
	uint16_t off = (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * bar);
	uint32_t lo, hi = 0;

	if (bar >= bars || d->hdr_type > PCI_HEADER_TYPE_BRIDGE) {
		return -ENODEV;
	}
	lo = hw_pci_read32(d->seg, d->bus, d->devfn, off);
	if (lo == 0xffffffffU || (lo & PCI_BASE_ADDRESS_SPACE_IO)) {
		return -ENODEV;
	}
	if (field_get32(PCI_BASE_ADDRESS_MEM_TYPE, lo) ==
	    PCI_BASE_ADDRESS_MEM_TYPE_64) {
		if (bar + 1 >= bars) {
			return -ENODEV;
		}
		hi = hw_pci_read32(d->seg, d->bus, d->devfn, (uint16_t)(off + 4));
	}
	*addr = (uint64_t)hi << 32 | (lo & PCI_BASE_ADDRESS_MEM_MASK);
	return *addr ? 0 : -ENODEV;
}

static unsigned int add_id(uint16_t *ids, unsigned int n, unsigned int max,
			   uint16_t id)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (ids[i] == id) {
			return n;
		}
	}
	if (n < max) {
		ids[n++] = id;
	}
	return n;
}

unsigned int pci_dma_aliases(const struct pci_dev *d, uint16_t *ids,
			     unsigned int max)
{
	const struct pci_dev *b;
	unsigned int n = add_id(ids, 0, max, (uint16_t)(d->bus << 8 | d->devfn));

	for (b = d->parent; b; b = b->parent) {
		if (!pci_is_pcie(b)) {
			/* A conventional bridge re-issues requests as its own. */
			n = add_id(ids, n, max, (uint16_t)(b->bus << 8 | b->devfn));
			continue;
		}
		if (b->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE) {
			/* Everything above is PCIe: the alias stays as it is. */
			return add_id(ids, n, max, (uint16_t)(b->secondary << 8));
		}
		/* Root and switch ports pass requester ids through unchanged. */
	}
	return n;
}
