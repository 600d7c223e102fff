#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/*
 * The Enhanced Configuration Access Mechanism (PCIe §7.2.2): each
 * function's 4 KiB of configuration space is memory at
 * base + (bus << 20 | device << 15 | function << 12).  This file serves the
 * hw_pci_*() half of the hardware seam in the kernel.
 */
#define PCI_ECAM_BUS_SHIFT   20U
#define PCI_ECAM_DEVFN_SHIFT 12U
#define PCI_ECAM_BUS_SIZE    (UINT64_C(1) << PCI_ECAM_BUS_SHIFT)
#define PCI_ECAM_WINDOWS_MAX 16U

struct pci_ecam_window {
	uint64_t base; /* address of bus 0 of the segment */
	uint16_t seg;
	uint8_t bus_start;
	uint8_t bus_end;
};

/*
 * The seam's hw_pci_read*() and hw_pci_write*() take no state pointer, so
 * the windows live in this one file-static registry, the only global state
 * of the PCI layer.  It is filled at boot from MCFG before any
 * configuration access and never changes afterwards.
 */
struct pci_ecam {
	struct pci_ecam_window win[PCI_ECAM_WINDOWS_MAX];
	unsigned int count;
};

static struct pci_ecam ecam;

/* 0, or the reason the MCFG entry cannot be used. */
static int check_window(uint16_t seg, uint8_t bus_start, uint8_t bus_end,
			uint64_t base, const char **why)
{
	const struct pci_ecam_window *w;
	unsigned int i;

	/*
	 * The range for buses 0..n must be aligned to its size (PCIe
	 * §7.2.2), so bus 0's address is at least 1 MiB aligned.
	 */
	if (base == 0) {
		*why = "no base address";
		return -EINVAL;
	}
	if (!bits_is_aligned(base, PCI_ECAM_BUS_SIZE)) {
		*why = "base not 1 MiB aligned";
		return -EINVAL;
	}
	if (bus_start > bus_end) {
		*why = "start bus above end bus";
		return -EINVAL;
	}
	if (base > UINT64_MAX - ((uint64_t)bus_end + 1) * PCI_ECAM_BUS_SIZE) {
		*why = "window beyond the address space";
		return -EINVAL;
	}
	for (i = 0; i < ecam.count; i++) {
		w = &ecam.win[i];
		if (w->seg == seg && bus_start <= w->bus_end &&
		    bus_end >= w->bus_start) {
			*why = "overlaps another window";
			return -EEXIST;
		}
	}
	if (ecam.count == PCI_ECAM_WINDOWS_MAX) {
		*why = "too many windows";
		return -ENOSPC;
	}
	return 0;
}

int pci_ecam_add(uint16_t seg, uint8_t bus_start, uint8_t bus_end,
		 uint64_t base)
{
	uint64_t start = base + (uint64_t)bus_start * PCI_ECAM_BUS_SIZE;
	uint64_t len = ((uint64_t)bus_end - bus_start + 1) * PCI_ECAM_BUS_SIZE;
	const char *why = NULL;
	int err;

	err = check_window(seg, bus_start, bus_end, base, &why);
	if (!err) {
		err = hw_mmio_map(start, len);
		why = "cannot map it";
	}
	if (err) {
		log_warn("pci",
			 "ECAM %04x:%02x-%02x at 0x%llx rejected: %s (%s)", seg,
			 bus_start, bus_end, (unsigned long long)base, why,
			 errno_name(err));
		return err;
	}
	ecam.win[ecam.count++] = (struct pci_ecam_window){
		.base = base,
		.seg = seg,
		.bus_start = bus_start,
		.bus_end = bus_end,
	};
	log_info("pci", "ECAM %04x:%02x-%02x at 0x%llx", seg, bus_start,
		 bus_end, (unsigned long long)base);
	return 0;
}

/*
 * Where an access of width bytes at off lands, or NULL when no window
 * covers the function.  One memory access becomes one configuration
 * request whose byte enables cannot span dwords (PCIe §7.2.2), so only
 * naturally aligned accesses are made.
 */
static void *cfg_ptr(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		     unsigned int width)
{
	const struct pci_ecam_window *w;
	unsigned int i;

	if (off >= PCI_CFG_SPACE_EXP_SIZE || !bits_is_aligned(off, width)) {
		log_err("pci",
			PCI_BDF_FMT ": bad %u-byte config access at 0x%x",
			PCI_BDF_ARGS(seg, bus, devfn), width, off);
		return NULL;
	}
	for (i = 0; i < ecam.count; i++) {
		w = &ecam.win[i];
		if (w->seg == seg && bus >= w->bus_start && bus <= w->bus_end) {
			return hw_phys_to_virt(
				w->base +
				((uint64_t)bus << PCI_ECAM_BUS_SHIFT) +
				((uint64_t)devfn << PCI_ECAM_DEVFN_SHIFT) +
				off);
		}
	}
	return NULL;
}

uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	volatile uint8_t *p = cfg_ptr(seg, bus, devfn, off, sizeof(*p));

	return p ? *p : UINT8_MAX;
}

uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	volatile uint16_t *p = cfg_ptr(seg, bus, devfn, off, sizeof(*p));

	return p ? *p : UINT16_MAX;
}

uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	volatile uint32_t *p = cfg_ptr(seg, bus, devfn, off, sizeof(*p));

	return p ? *p : UINT32_MAX;
}

void hw_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		   uint8_t val)
{
	volatile uint8_t *p = cfg_ptr(seg, bus, devfn, off, sizeof(*p));

	if (p) {
		*p = val;
	}
}

void hw_pci_write16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint16_t val)
{
	volatile uint16_t *p = cfg_ptr(seg, bus, devfn, off, sizeof(*p));

	if (p) {
		*p = val;
	}
}

void hw_pci_write32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint32_t val)
{
	volatile uint32_t *p = cfg_ptr(seg, bus, devfn, off, sizeof(*p));

	if (p) {
		*p = val;
	}
}
