#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The seam between drivers and the machine.  Drivers touch hardware, physical
 * memory and time only through these functions.  The kernel links the real
 * implementations (arch/x86_64/hw.c, kernel/page_alloc.c, drivers/pci/ecam.c);
 * host tests link the hardware model in tests/model/ instead, so the same
 * driver .c files run unchanged against both.  Chosen at link time, never by
 * #ifdef.
 */

/* Physical memory.  NULL when pa is not backed by memory we can reach. */
void *hw_phys_to_virt(uint64_t pa);
uint64_t hw_virt_to_phys(const void *va);

/* One zeroed 4 KiB page for hardware tables; 0 when memory is exhausted. */
uint64_t hw_page_alloc(void);
void hw_page_free(uint64_t pa);

/* Zeroed memory for driver objects (not for hardware); NULL when exhausted. */
void *hw_zalloc(size_t size);
void hw_free(void *p);

/*
 * MMIO.  A register range must be mapped (uncached) before use; mapping
 * fails with -EINVAL for a range that overlaps RAM or is not addressable.
 * Accesses have explicit widths: never a 64-bit access to a 32-bit register.
 */
int hw_mmio_map(uint64_t pa, uint64_t len);
uint32_t hw_mmio_read32(uint64_t pa);
uint64_t hw_mmio_read64(uint64_t pa);
void hw_mmio_write32(uint64_t pa, uint32_t val);
void hw_mmio_write64(uint64_t pa, uint64_t val);

/*
 * Byte-wide registers: 8-bit MMIO (UARTs with byte registers) and x86 I/O
 * ports (legacy devices such as the COM ports, and PCI I/O BARs).
 */
uint8_t hw_mmio_read8(uint64_t pa);
void hw_mmio_write8(uint64_t pa, uint8_t val);
uint8_t hw_io_read8(uint16_t port);
void hw_io_write8(uint16_t port, uint8_t val);

/*
 * One 64-bit store to a structure an IOMMU reads (root, context, PASID,
 * page-table and interrupt-remapping entries): never torn, merged or
 * reordered with the others.  The hardware may read between any two.
 */
void hw_table_write(uint64_t *p, uint64_t val);
/*
 * count such stores in order: p[i] = val + i * step, each one as
 * hw_table_write() makes it (a leaf run: one call instead of one a page;
 * with val and step 0, a run of leaves cleared).
 */
void hw_table_write_run(uint64_t *p, uint64_t val, uint64_t step,
			unsigned int count);

/* Write back the CPU cache lines covering [va, va + len) to memory. */
void hw_cache_flush(const void *va, size_t len);
/* Full memory barrier: earlier loads and stores complete before later ones. */
void hw_mb(void);

/* Monotonic time in nanoseconds since boot, and one step of a poll loop. */
uint64_t hw_now_ns(void);
void hw_relax(void);

static inline bool hw_time_after(uint64_t deadline_ns)
{
	return hw_now_ns() >= deadline_ns;
}

/*
 * PCI configuration space by segment, bus, device/function and offset
 * (0..4095).  Reads of a function that does not answer return all-ones, as
 * on real hardware; writes to it are dropped.
 */
uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off);
uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off);
uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off);
void hw_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		   uint8_t val);
void hw_pci_write16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint16_t val);
void hw_pci_write32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint32_t val);
