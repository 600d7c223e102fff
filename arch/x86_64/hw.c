#include "drivers/hw.h"

#include <stdint.h>

#include "lib/errno.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/*
 * The kernel's side of the hardware seam (drivers/hw.h) for memory, MMIO and
 * time.  Everything is identity-mapped, so translation is a check that the
 * address is mapped at all.
 */

void *hw_phys_to_virt(uint64_t pa)
{
	return pa && arch_is_mapped(pa, 1) ? (void *)pa : NULL;
}

uint64_t hw_virt_to_phys(const void *va)
{
	return (uint64_t)va;
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	if (arch_overlaps_ram(pa, len)) {
		return -EINVAL;
	}
	return arch_map(pa, len, ARCH_CACHE_UC);
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	return *(volatile uint32_t *)pa;
}

uint64_t hw_mmio_read64(uint64_t pa)
{
	return *(volatile uint64_t *)pa;
}

void hw_mmio_write32(uint64_t pa, uint32_t val)
{
	*(volatile uint32_t *)pa = val;
}

void hw_mmio_write64(uint64_t pa, uint64_t val)
{
	*(volatile uint64_t *)pa = val;
}

uint8_t hw_mmio_read8(uint64_t pa)
{
	return *(volatile uint8_t *)pa;
}

void hw_mmio_write8(uint64_t pa, uint8_t val)
{
	*(volatile uint8_t *)pa = val;
}

uint8_t hw_io_read8(uint16_t port)
{
	return inb(port);
}

void hw_io_write8(uint16_t port, uint8_t val)
{
	outb(port, val);
}

void hw_table_write(uint64_t *p, uint64_t val)
{
	*(volatile uint64_t *)p = val;
}

void hw_table_write_run(uint64_t *p, uint64_t val, uint64_t step,
			unsigned int count)
{
	volatile uint64_t *v = p;
	unsigned int i;

	for (i = 0; i < count; i++, val += step) {
		v[i] = val;
	}
}

void hw_cache_flush(const void *va, size_t len)
{
	const uint8_t *p = (const uint8_t *)((uint64_t)va & ~UINT64_C(63));
	const uint8_t *end = (const uint8_t *)va + len;

	mfence();
	for (; p < end; p += 64) {
		clflush(p);
	}
	mfence();
}

void hw_mb(void)
{
	mfence();
}

uint64_t hw_now_ns(void)
{
	return arch_now_ns();
}

void hw_relax(void)
{
	cpu_relax();
}
