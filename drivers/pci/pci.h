#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci_regs.h"

/*
 * PCI: configuration access through ECAM, enumeration of what firmware
 * configured, capability walks, and one object per function found.
 *
 * Configuration space is reached only through hw_pci_read*() and
 * hw_pci_write*() (drivers/hw.h); in the kernel those are served by the ECAM
 * windows registered with pci_ecam_add().  Enumeration only reads: bus
 * numbers are taken as firmware assigned them.
 */

#define PCI_BUS_COUNT 256U
#define PCI_SLOT_COUNT 32U
#define PCI_FUNC_COUNT 8U
/* Bus ranges per host; one per MCFG entry, and MCFG rarely has more than 8. */
#define PCI_HOST_RANGES_MAX 16U

static inline uint8_t pci_devfn(unsigned int slot, unsigned int func)
{
	return (uint8_t)(((slot & 0x1fU) << 3) | (func & 0x7U));
}

static inline unsigned int pci_slot(uint8_t devfn)
{
	return devfn >> 3;
}

static inline unsigned int pci_func(uint8_t devfn)
{
	return devfn & 0x7U;
}

/* "SSSS:BB:DD.F", the form used in every log line and by the console. */
#define PCI_BDF_FMT "%04x:%02x:%02x.%x"
#define PCI_BDF_ARGS(seg, bus, devfn)                                          \
	(unsigned int)(seg), (unsigned int)(bus), pci_slot(devfn),             \
		pci_func(devfn)

/* One capability found in a function's configuration space. */
struct pci_cap {
	struct pci_cap *next; /* in list order */
	uint16_t id; /* PCI_CAP_ID_* or PCI_EXT_CAP_ID_* */
	uint16_t offset;
};

/* One PCI function. */
struct pci_dev {
	struct pci_dev *next; /* in the host's enumeration order */
	struct pci_dev *parent; /* upstream bridge; NULL on a root bus */
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
	struct pci_cap *caps; /* capability list, in list order */
	struct pci_cap *ext_caps; /* extended capabilities, in list order */
};

/* Buses [bus_start, bus_end] of a segment, as one MCFG entry names them. */
struct pci_bus_range {
	uint16_t seg;
	uint8_t bus_start;
	uint8_t bus_end;
};

/* Everything PCI knows about the machine. Zero-initialised means empty. */
struct pci_host {
	struct pci_bus_range ranges[PCI_HOST_RANGES_MAX];
	unsigned int range_count;
	struct pci_dev *devs; /* every function, in enumeration order */
	struct pci_dev *devs_last;
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
 * not followed.  -EBUSY when already enumerated, -ENOMEM when out of memory
 * (the functions found so far stay listed).
 */
int pci_enumerate(struct pci_host *host);

/*
 * The address of memory BAR bar (PCI Local Bus 3.0, 6.2.5.1), 32- or
 * 64-bit.  -ENODEV for an I/O BAR, an unassigned (zero) one, or a BAR the
 * header type does not have.
 */
int pci_bar_mem(const struct pci_dev *d, unsigned int bar, uint64_t *addr);

/*
 * The requester ids (bus << 8 | devfn) the IOMMU may see for DMA from d: its
 * own, and the aliases bridges give it on the way up.  A PCIe-to-PCI bridge
 * forwards a conventional device's requests under (its secondary bus,
 * devfn 0); a conventional PCI-to-PCI bridge under its own id (PCI Express
 * to PCI/PCI-X Bridge spec 1.0, 2.3).  Returns the count, at most max.
 */
unsigned int pci_dma_aliases(const struct pci_dev *d, uint16_t *ids,
			     unsigned int max);

/* Frees every device object; the ranges stay declared. */
void pci_host_clear(struct pci_host *host);

/* The function at (seg, bus, devfn), or NULL. */
struct pci_dev *pci_find_dev(const struct pci_host *host, uint16_t seg,
			     uint8_t bus, uint8_t devfn);

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
