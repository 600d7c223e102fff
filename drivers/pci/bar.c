#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/internal.h"
#include "drivers/pci/pci.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/*
 * Base Address Registers (PCI Local Bus 3.0 §6.2.5.1): reading them, and
 * sizing and placing those of hot-added functions inside the memory
 * windows of the bridge above them.
 */

/*
 * A slot's card is one device (PCIe §7.3.1) of at most 8 functions
 * (enumeration does not follow ARI), each with at most 6 BARs.
 */
#define BAR_REQS_MAX 48U

static unsigned int bar_count(const struct pci_dev *d)
{
	switch (d->hdr_type) {
	case PCI_HEADER_TYPE_NORMAL:
		return PCI_BASE_ADDRESS_COUNT_NORMAL;
	case PCI_HEADER_TYPE_BRIDGE:
		return PCI_BASE_ADDRESS_COUNT_BRIDGE;
	default:
		return 0;
	}
}

static uint16_t bar_offset(unsigned int bar)
{
	return (uint16_t)(PCI_BASE_ADDRESS_0 + 4 * bar);
}

static bool bar_is_64(uint32_t lo)
{
	return field_get32(PCI_BASE_ADDRESS_MEM_TYPE, lo) ==
	       PCI_BASE_ADDRESS_MEM_TYPE_64;
}

int pci_bar_mem(const struct pci_dev *d, unsigned int bar, uint64_t *addr)
{
	uint16_t off = bar_offset(bar);
	uint32_t lo, hi = 0;

	if (bar >= bar_count(d)) {
		return -ENODEV;
	}
	lo = hw_pci_read32(d->seg, d->bus, d->devfn, off);
	if (lo == UINT32_MAX || (lo & PCI_BASE_ADDRESS_SPACE_IO)) {
		return -ENODEV;
	}
	if (bar_is_64(lo)) {
		if (bar + 1 >= bar_count(d)) {
			return -ENODEV;
		}
		hi = hw_pci_read32(d->seg, d->bus, d->devfn,
				   (uint16_t)(off + 4));
	}
	*addr = (uint64_t)hi << 32 | (lo & PCI_BASE_ADDRESS_MEM_MASK);
	return *addr ? 0 : -ENODEV;
}

/* A memory BAR to place. */
struct bar_req {
	const struct pci_dev *d;
	unsigned int bar;
	uint64_t size; /* a power of two */
	bool is64;
	bool pref;
	bool placed;
};

/* [base, limit] of one bridge window; next is where free space starts. */
struct window {
	uint64_t base;
	uint64_t limit;
	uint64_t next;
	bool valid;
};

/* What sticks when all ones are written to a register; it is put back. */
static uint32_t writable_bits(const struct pci_dev *d, uint16_t off)
{
	uint32_t orig = hw_pci_read32(d->seg, d->bus, d->devfn, off);
	uint32_t mask;

	hw_pci_write32(d->seg, d->bus, d->devfn, off, UINT32_MAX);
	mask = hw_pci_read32(d->seg, d->bus, d->devfn, off);
	hw_pci_write32(d->seg, d->bus, d->devfn, off, orig);
	return mask;
}

/*
 * Sizes one BAR: its writable address bits are the size (§6.2.5.1).
 * Decode must be off meanwhile.  Returns how many registers the BAR takes
 * (1, or 2 for a 64-bit one); r->size is 0 for an I/O BAR or one the
 * function does not implement.
 */
static unsigned int size_bar(const struct pci_dev *d, unsigned int bar,
			     struct bar_req *r)
{
	uint16_t off = bar_offset(bar);
	uint32_t lo = hw_pci_read32(d->seg, d->bus, d->devfn, off);
	uint64_t mask;

	*r = (struct bar_req){.d = d, .bar = bar};
	if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
		return 1;
	}
	r->is64 = bar_is_64(lo) && bar + 1 < bar_count(d);
	r->pref = lo & PCI_BASE_ADDRESS_MEM_PREFETCH;
	mask = writable_bits(d, off) & PCI_BASE_ADDRESS_MEM_MASK;
	if (r->is64) {
		mask |= (uint64_t)writable_bits(d, (uint16_t)(off + 4)) << 32;
	}
	/* The lowest writable address bit is the size; none: no BAR. */
	r->size = mask & (~mask + 1);
	return r->is64 ? 2 : 1;
}

int pci_bar_probe(const struct pci_dev *d, unsigned int bar, uint64_t *addr,
		  uint64_t *size)
{
	uint16_t cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
	struct bar_req r;
	unsigned int regs;

	if (bar >= bar_count(d) || cmd == 0xffffU) {
		return -ENODEV;
	}
	hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
		       (uint16_t)(cmd & ~PCI_COMMAND_MEMORY));
	regs = size_bar(d, bar, &r);
	hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND, cmd);
	*size = r.size;
	if (r.size && pci_bar_mem(d, bar, addr)) {
		*size = 0;
	}
	return (int)regs;
}

static void read_window(const struct pci_dev *br, uint16_t base_reg,
			uint16_t limit_reg, struct window *w)
{
	uint16_t base = hw_pci_read16(br->seg, br->bus, br->devfn, base_reg);
	uint16_t limit = hw_pci_read16(br->seg, br->bus, br->devfn, limit_reg);
	uint64_t hi_base = 0, hi_limit = 0;

	*w = (struct window){0};
	if (base == UINT16_MAX) {
		return;
	}
	if (base_reg == PCI_PREF_MEMORY_BASE &&
	    field_get32(PCI_PREF_RANGE_TYPE, base) == PCI_PREF_RANGE_TYPE_64) {
		hi_base = hw_pci_read32(br->seg, br->bus, br->devfn,
					PCI_PREF_BASE_UPPER32);
		hi_limit = hw_pci_read32(br->seg, br->bus, br->devfn,
					 PCI_PREF_LIMIT_UPPER32);
	}
	w->base = hi_base << 32 |
		  (uint64_t)field_get32(PCI_MEMORY_RANGE_ADDR, base)
			  << PCI_MEMORY_RANGE_SHIFT;
	w->limit = hi_limit << 32 |
		   (uint64_t)field_get32(PCI_MEMORY_RANGE_ADDR, limit)
			   << PCI_MEMORY_RANGE_SHIFT |
		   (BIT64(PCI_MEMORY_RANGE_SHIFT) - 1);
	/* A limit below the base is how a bridge is told to forward nothing. */
	w->valid = w->base <= w->limit;
	w->next = w->base;
}

/* Room for r in w, aligned to its size; false when it does not fit. */
static bool place_in(struct window *w, struct bar_req *r, uint64_t *addr)
{
	uint64_t at = (w->next + r->size - 1) & ~(r->size - 1);

	if (!w->valid || at < w->next || at > w->limit ||
	    r->size - 1 > w->limit - at) {
		return false;
	}
	if (!r->is64 && at + r->size - 1 > UINT32_MAX) {
		return false;
	}
	*addr = at;
	w->next = at + r->size;
	return true;
}

/*
 * A prefetchable BAR may sit in either window, a non-prefetchable one only
 * in the non-prefetchable window (PCI-to-PCI Bridge 1.2 §4.3).
 */
static bool place(struct window *mem, struct window *pref, struct bar_req *r)
{
	const struct pci_dev *d = r->d;
	uint16_t off = bar_offset(r->bar);
	uint64_t addr;

	if (!(r->pref && place_in(pref, r, &addr)) &&
	    !place_in(mem, r, &addr)) {
		return false;
	}
	hw_pci_write32(d->seg, d->bus, d->devfn, off, (uint32_t)addr);
	if (r->is64) {
		hw_pci_write32(d->seg, d->bus, d->devfn, (uint16_t)(off + 4),
			       (uint32_t)(addr >> 32));
	}
	log_info("pci", PCI_BDF_FMT ": BAR %u at 0x%llx size 0x%llx",
		 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), r->bar,
		 (unsigned long long)addr, (unsigned long long)r->size);
	return true;
}

/* Sizes every memory BAR of d into reqs; false when there are too many. */
static bool collect(const struct pci_dev *d, struct bar_req *reqs,
		    unsigned int *n)
{
	uint16_t cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
	uint16_t decode = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
	unsigned int bar = 0;
	struct bar_req r;

	hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
		       (uint16_t)(cmd & ~decode));
	while (bar < bar_count(d)) {
		bar += size_bar(d, bar, &r);
		if (r.size == 0) {
			continue;
		}
		if (*n == BAR_REQS_MAX) {
			return false;
		}
		reqs[(*n)++] = r;
	}
	return true;
}

/* Largest first: each BAR then starts where the previous ended. */
static void sort_by_size(struct bar_req *reqs, unsigned int n)
{
	struct bar_req r;
	unsigned int i, j;

	for (i = 1; i < n; i++) {
		r = reqs[i];
		for (j = i; j > 0 && reqs[j - 1].size < r.size; j--) {
			reqs[j] = reqs[j - 1];
		}
		reqs[j] = r;
	}
}

/* Memory decode on for d when it has memory BARs and all were placed. */
static void enable_decode(const struct pci_dev *d, const struct bar_req *reqs,
			  unsigned int n)
{
	bool any = false;
	uint16_t cmd;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (reqs[i].d != d) {
			continue;
		}
		if (!reqs[i].placed) {
			log_warn(
				"pci",
				PCI_BDF_FMT
				": BAR %u (size 0x%llx) does not fit the bridge's windows: memory decode left off",
				PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				reqs[i].bar, (unsigned long long)reqs[i].size);
			return;
		}
		any = true;
	}
	if (any) {
		cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
		hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
			       (uint16_t)(cmd | PCI_COMMAND_MEMORY));
	}
}

/*
 * The windows route only to the bridge's secondary side (PCI-to-PCI Bridge
 * 1.2 §4.3), so nothing outside its subtree decodes there, and a slot is
 * enabled only when nothing is listed below it: the whole window is free.
 */
void pci_assign_bars(const struct pci_host *host, const struct pci_dev *bridge)
{
	struct bar_req reqs[BAR_REQS_MAX];
	struct window mem, pref;
	const struct pci_dev *d;
	unsigned int i, n = 0;
	bool complete = true;

	pci_for_each_dev (host, d) {
		if (pci_dev_below(d, bridge) && pci_dev_present(d)) {
			complete = collect(d, reqs, &n) && complete;
		}
	}
	if (!complete) {
		log_warn("pci",
			 PCI_BDF_FMT
			 ": more than %u BARs below it: none assigned",
			 PCI_BDF_ARGS(bridge->seg, bridge->bus, bridge->devfn),
			 BAR_REQS_MAX);
		return;
	}
	read_window(bridge, PCI_MEMORY_BASE, PCI_MEMORY_LIMIT, &mem);
	read_window(bridge, PCI_PREF_MEMORY_BASE, PCI_PREF_MEMORY_LIMIT, &pref);
	sort_by_size(reqs, n);
	for (i = 0; i < n; i++) {
		reqs[i].placed = place(&mem, &pref, &reqs[i]);
	}
	pci_for_each_dev (host, d) {
		if (pci_dev_below(d, bridge) && pci_dev_present(d)) {
			enable_decode(d, reqs, n);
		}
	}
}
