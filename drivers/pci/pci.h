#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci_regs.h"
#include "lib/rid.h"

/*
 * PCI: configuration access through ECAM, enumeration of what firmware
 * configured, capability walks, one reference-counted object per function,
 * isolation groups, and native hot-plug (drivers/pci/hotplug.h).
 *
 * Configuration space is reached only through hw_pci_read*() and
 * hw_pci_write*() (drivers/hw.h); in the kernel those are served by the ECAM
 * windows registered with pci_ecam_add().  Bus numbers are taken as
 * firmware assigned them; BARs are assigned only to hot-added functions.
 */

#define PCI_BUS_COUNT  256U
#define PCI_SLOT_COUNT 32U
#define PCI_FUNC_COUNT 8U
/* Bus ranges per host; one per MCFG entry, and MCFG rarely has more than 8. */
#define PCI_HOST_RANGES_MAX 16U

static inline uint8_t pci_devfn(unsigned int slot, unsigned int func)
{
	return (uint8_t)(((slot & 0x1fU) << 3) | (func & 0x7U));
}

/* "SSSS:BB:DD.F", the form used in every log line and by the console. */
#define PCI_BDF_FMT "%04x:%02x:%02x.%x"
#define PCI_BDF_ARGS(seg, bus, devfn)                                      \
	(unsigned int)(seg), (unsigned int)(bus), rid_devfn_device(devfn), \
		rid_devfn_function(devfn)

/* One capability found in a function's configuration space. */
struct pci_cap {
	struct pci_cap *next; /* in list order */
	uint16_t id;	      /* PCI_CAP_ID_* or PCI_EXT_CAP_ID_* */
	uint16_t offset;
};

/*
 * The life of a device object (docs/design.md, invariant 6).  Whether a
 * device is assigned is its owner's business, not PCI's.
 */
enum pci_dev_state {
	PCI_DEV_PRESENT,  /* listed in its host, answering */
	PCI_DEV_REMOVING, /* orderly removal: answers, its owner quiesces it */
	PCI_DEV_GONE,	  /* unlisted; its hardware is never touched again */
};

struct pci_group;

/*
 * One PCI function.  Reference counted: the host's list holds one
 * reference while the device is listed, every other holder (a console
 * command, an IOMMU attachment) takes its own with pci_dev_get().  A device
 * that leaves (hot-plug) is marked gone and unlisted but lives on until its
 * last reference is dropped; a function that appears again at the same
 * address is a new object with a new generation.
 */
struct pci_dev {
	struct pci_dev *next; /* in the host's list; NULL once gone */
	struct pci_dev
		*parent; /* upstream bridge, referenced; NULL: root bus */
	uint64_t gen;	 /* unique among the host's objects, never reused */
	unsigned int refs;
	enum pci_dev_state state;
	bool surprise;		    /* gone without an orderly removal */
	struct pci_group *group;    /* isolation group; NULL once gone */
	struct pci_dev *group_next; /* next member of the group */
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
	uint16_t vendor;
	uint16_t device;
	uint8_t class_base;
	uint8_t class_sub;
	uint8_t prog_if;
	uint8_t hdr_type; /* layout, PCI_HEADER_TYPE_*, without the MFD bit */
	bool multifunction;
	/* Type 1 header only: bus numbers as firmware programmed them. */
	uint8_t primary;
	uint8_t secondary;
	uint8_t subordinate;
	uint8_t pcie_type; /* PCI_EXP_TYPE_*, meaningful when pci_is_pcie() */
	struct pci_cap *caps;	  /* capability list, in list order */
	struct pci_cap *ext_caps; /* extended capabilities, in list order */
};

/*
 * An isolation group: the functions the IOMMU cannot keep apart, because
 * they share a requester id or because traffic between them need not pass
 * through it (no ACS).  Only listed devices are members.  Groups are
 * recomputed when devices come and go; a group keeps its id as long as it
 * keeps any of its members, so an owner can key its state by id.  A group
 * pointer is valid until the next topology change (pci_hotplug_poll()):
 * hold the device, not the group.
 */
struct pci_group {
	struct pci_group *next; /* in the host's list, by id */
	unsigned int id;	/* from 1, never reused */
	struct pci_dev *devs; /* members in enumeration order, via group_next */
	unsigned int dev_count;
};

/* Buses [bus_start, bus_end] of a segment, as one MCFG entry names them. */
struct pci_bus_range {
	uint16_t seg;
	uint8_t bus_start;
	uint8_t bus_end;
};

/*
 * How long hot-plug waits for the hardware; every wait has one, and the
 * outcome at the deadline is defined (drivers/pci/hotplug.h).
 */
struct pci_hotplug_timing {
	uint64_t cmd_ns;    /* a Slot Control command to complete */
	uint64_t link_ns;   /* power on to Data Link Layer Link Active */
	uint64_t settle_ns; /* link up to the first configuration request */
	uint64_t ready_ns;  /* first request to function 0 answering */
};

struct pci_slot;
struct pci_quiesce_hook;

/* Device-specific quiesce hooks a host holds (drivers/pci/reset.h). */
#define PCI_QUIESCE_HOOKS_MAX 4U

/* Everything PCI knows about the machine. Zero-initialised means empty. */
struct pci_host {
	struct pci_bus_range ranges[PCI_HOST_RANGES_MAX];
	unsigned int range_count;
	struct pci_dev *devs; /* present functions, in enumeration order */
	struct pci_dev *devs_last;
	uint64_t gen;		  /* generation of the newest device object */
	struct pci_group *groups; /* by id */
	unsigned int group_id_last;
	struct pci_slot *slots; /* hot-plug slots, in enumeration order */
	struct pci_hotplug_timing timing;
	const struct pci_quiesce_hook *quiesce_hooks[PCI_QUIESCE_HOOKS_MAX];
	unsigned int quiesce_hook_count;
	/* A bridge whose secondary bus is being reset (referenced), or NULL. */
	struct pci_dev *resetting;
};

#define pci_for_each_dev(host, d) for ((d) = (host)->devs; (d); (d) = (d)->next)

/*
 * ECAM (ecam.c).  Registers the window of an MCFG entry: base is the
 * address of bus 0 of the segment, whatever bus_start is (PCI Firmware
 * Specification 3.2, table 4-3).  Maps [base + bus_start MiB,
 * base + (bus_end + 1) MiB).  -EINVAL for a malformed entry, -EEXIST when it
 * overlaps a registered window, -ENOSPC when the table is full, or the error
 * of hw_mmio_map().
 */
int pci_ecam_add(uint16_t seg, uint8_t bus_start, uint8_t bus_end,
		 uint64_t base);

/*
 * Declares buses [bus_start, bus_end] of segment seg to exist (normally the
 * same ranges as pci_ecam_add()).  -EINVAL when bus_start > bus_end,
 * -EEXIST when the range overlaps a declared one, -ENOSPC when full.
 */
int pci_host_add_range(struct pci_host *host, uint16_t seg, uint8_t bus_start,
		       uint8_t bus_end);

/*
 * Finds every function in the declared ranges: from the lowest bus of each
 * segment through the bridges, then any other bus no bridge leads to (the
 * root buses of further host bridges).  Bridges are followed on the bus
 * numbers firmware assigned; a bridge whose secondary bus is unassigned,
 * outside the ranges or outside its parent's, or already seen, is logged and
 * not followed.  Turns on in every function the ACS controls isolation
 * needs (those it implements of Source Validation, P2P Request and
 * Completion Redirect, Upstream Forwarding), then finds the hot-plug slots
 * (drivers/pci/hotplug.h), computes the isolation groups and sets the
 * hot-plug timing to its defaults.  -EBUSY when already enumerated,
 * -ENOMEM when out of memory (the functions found so far stay listed).
 */
int pci_enumerate(struct pci_host *host);

/*
 * The address of memory BAR bar (PCI Local Bus 3.0, 6.2.5.1), 32- or
 * 64-bit.  -ENODEV for an I/O BAR, an unassigned (zero) one, or a BAR the
 * header type does not have.
 */
int pci_bar_mem(const struct pci_dev *d, unsigned int bar, uint64_t *addr);

/*
 * Memory BAR bar's address and size, sized with memory decode off for the
 * moment.  Returns how many BAR registers it takes (1 or 2), *size 0 for
 * an I/O or unimplemented BAR; -ENODEV when bar is out of range or the
 * function does not answer.
 */
int pci_bar_probe(const struct pci_dev *d, unsigned int bar, uint64_t *addr,
		  uint64_t *size);

/*
 * The requester ids (bus << 8 | devfn) the IOMMU may see for DMA from d: its
 * own, and the aliases bridges give it on the way up.  A PCIe-to-PCI bridge
 * forwards a conventional device's requests under (its secondary bus,
 * devfn 0); a conventional PCI-to-PCI bridge under its own id (PCI Express
 * to PCI/PCI-X Bridge spec 1.0, 2.3).  Returns the count, at most max.
 */
unsigned int pci_dma_aliases(const struct pci_dev *d, rid_t *ids,
			     unsigned int max);

/*
 * Program and enable the function's single MSI message; -ENODEV without an
 * MSI capability, -EINVAL for a 64-bit address on a 32-bit capability.
 */
int pci_msi_set(struct pci_dev *d, uint64_t addr, uint32_t data);
void pci_msi_disable(struct pci_dev *d);

/*
 * Function Level Reset (PCIe §6.6.2; reset.c): bus mastering off, a wait
 * for Transactions Pending, FLR, then 100 ms and until the function answers
 * again within timeout_ns; its header is restored as pci_dev_quiesce()
 * does.  -ENOTSUP when the function cannot do FLR, -ENODEV when it is not
 * present, -ETIMEDOUT when it does not come back.
 */
int pci_reset_function(struct pci_dev *d, uint64_t timeout_ns);

/*
 * Forgets every device, group and slot: devices are marked gone and the
 * host's references dropped, so an object still referenced elsewhere lives
 * on.  The ranges and quiesce hooks stay.
 */
void pci_host_clear(struct pci_host *host);

/*
 * The present function at (seg, bus, devfn), or NULL; never a gone one.
 * Borrowed: valid until the next topology change (pci_hotplug_poll()).
 * Whoever keeps it longer takes a reference.
 */
struct pci_dev *pci_find_dev(const struct pci_host *host, uint16_t seg,
			     uint8_t bus, uint8_t devfn);

/* pci_find_dev() with a reference taken; release it with pci_dev_put(). */
struct pci_dev *pci_get_dev(const struct pci_host *host, uint16_t seg,
			    uint8_t bus, uint8_t devfn);

struct pci_dev *pci_dev_get(struct pci_dev *d);
/* Drops a reference; the last one frees the object.  Never fails. */
void pci_dev_put(struct pci_dev *d);

static inline bool pci_dev_is_gone(const struct pci_dev *d)
{
	return d->state == PCI_DEV_GONE;
}

/*
 * Presence: d is not gone, its configuration space answers (the Vendor ID
 * does not read FFFFh), and every link above it is up: each root or switch
 * downstream port on the way that reports link state (Data Link Layer Link
 * Active Reporting Capable, PCIe §7.5.3.6) reads Data Link Layer Link Active
 * (§7.5.3.8).  A link can drop with no hot-plug event at all, and a function
 * behind it may then still read well from a cache or not at all, so whoever
 * is about to touch or wait on a device asks this first.  Gone devices are
 * never read.
 */
bool pci_dev_present(const struct pci_dev *d);

/*
 * Isolation groups (group.c), derived from the topology and never
 * overridden (PCIe §6.12):
 * - functions whose DMA carries the same requester id (pci_dma_aliases())
 *   are one group;
 * - a bridge that does not isolate its secondary side puts itself and
 *   everything below it in one group: a conventional PCI bridge, a PCIe to
 *   PCI/PCI-X bridge, and a root or switch downstream port without ACS
 *   Source Validation, P2P Request Redirect, P2P Completion Redirect and
 *   Upstream Forwarding enabled (each of the last three only where the port
 *   implements it: a port without it has no such path);
 * - the functions of a multi-function device that do not isolate
 *   themselves with ACS P2P Request and Completion Redirect (where
 *   implemented) are one group; a conventional function never does.
 */
static inline struct pci_group *pci_group_of(const struct pci_dev *d)
{
	return d->group;
}

#define pci_for_each_group(host, g) \
	for ((g) = (host)->groups; (g); (g) = (g)->next)
#define pci_group_for_each_dev(g, d) \
	for ((d) = (g)->devs; (d); (d) = (d)->group_next)

static inline bool pci_is_bridge(const struct pci_dev *d)
{
	return d->hdr_type == PCI_HEADER_TYPE_BRIDGE;
}

/* Offset of the first capability with this ID, or 0 (caps.c). */
int pci_find_cap(const struct pci_dev *d, uint8_t id);
int pci_find_ext_cap(const struct pci_dev *d, uint16_t id);

static inline bool pci_is_pcie(const struct pci_dev *d)
{
	return pci_find_cap(d, PCI_CAP_ID_EXP) != 0;
}

/*
 * Reads d's capability and extended capability lists into d->caps and
 * d->ext_caps, replacing what was there.  Malformed lists are cut where
 * they go wrong, with a warning.  -ENOMEM when out of memory.
 */
int pci_read_caps(struct pci_dev *d);
void pci_free_caps(struct pci_dev *d);

/* Short lower-case names ("pcie", "msix", "aer"), or NULL when unknown. */
const char *pci_cap_name(uint8_t id);
const char *pci_ext_cap_name(uint16_t id);
