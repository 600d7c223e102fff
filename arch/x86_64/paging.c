#include <stdbool.h>
#include <stdint.h>

#include "boot/boot_info.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/*
 * The kernel's identity map: 4-level paging (SDM vol. 3, 4.5), 2 MiB pages
 * where a range covers them whole, 4 KiB pages at its edges.  RAM and
 * firmware memory are write-back; MMIO is uncached (PCD|PWT selects UC with
 * the power-on PAT).  Page 0 stays unmapped so NULL dereferences fault.
 * The identity map covers at most the lower half (arch_map refuses the
 * rest), so PML4 entry 511 is free for the kernel window (arch.h), mapped
 * here as in every guest's tables.
 * One CPU has one CR3, so this state is the file's own.
 */
#define PTE_P	  BIT64(0)
#define PTE_RW	  BIT64(1)
#define PTE_PWT	  BIT64(3)
#define PTE_PCD	  BIT64(4)
#define PTE_PS	  BIT64(7)
#define PTE_ADDR  GENMASK64(51, 12)
#define PTE_CACHE (PTE_PWT | PTE_PCD)

#define SZ_4K UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)

static struct {
	uint64_t *pml4;
	uint64_t (*alloc_page)(void);
	const struct boot_info *bi;
	unsigned int phys_bits;
} pg;

static unsigned int pt_index(uint64_t va, unsigned int level)
{
	return (unsigned int)(va >> (12 + 9 * (level - 1))) & 511;
}

/* The next-level table under entry, created if absent; NULL if no memory. */
static uint64_t *pt_next(uint64_t *entry)
{
	uint64_t pa;

	if (!(*entry & PTE_P)) {
		pa = pg.alloc_page();
		if (!pa) {
			return NULL;
		}
		memset((void *)pa, 0, SZ_4K);
		*entry = pa | PTE_P | PTE_RW;
	}
	return (uint64_t *)(*entry & PTE_ADDR);
}

static uint64_t cache_bits(enum arch_cache cache)
{
	return cache == ARCH_CACHE_UC ? PTE_CACHE : 0;
}

/*
 * Maps one page of size SZ_4K or SZ_2M at va; an existing mapping must
 * agree.
 */
static int map_page(uint64_t va, uint64_t pa, uint64_t size,
		    enum arch_cache cache)
{
	uint64_t *pdpt, *pd, *pt, *e;
	uint64_t want = cache_bits(cache);

	pdpt = pt_next(&pg.pml4[pt_index(va, 4)]);
	if (!pdpt) {
		return -ENOMEM;
	}
	pd = pt_next(&pdpt[pt_index(va, 3)]);
	if (!pd) {
		return -ENOMEM;
	}
	e = &pd[pt_index(va, 2)];
	if ((*e & PTE_P) && (*e & PTE_PS)) {
		return (*e & PTE_CACHE) == want ? 0 : -EEXIST;
	}
	if (size == SZ_2M && !(*e & PTE_P)) {
		*e = pa | PTE_P | PTE_RW | PTE_PS | want;
		return 0;
	}
	if (size == SZ_2M) {
		/* Already split into 4 KiB pages: map the pieces. */
		uint64_t off;
		int ret;

		for (off = 0; off < SZ_2M; off += SZ_4K) {
			ret = map_page(va + off, pa + off, SZ_4K, cache);
			if (ret) {
				return ret;
			}
		}
		return 0;
	}
	pt = pt_next(e);
	if (!pt) {
		return -ENOMEM;
	}
	e = &pt[pt_index(va, 1)];
	if (*e & PTE_P) {
		return (*e & PTE_CACHE) == want ? 0 : -EEXIST;
	}
	*e = pa | PTE_P | PTE_RW | want;
	return 0;
}

/*
 * The end of what the identity map may cover: physical memory, and only
 * the lower half, whose addresses are canonical (SDM vol. 1, 3.3.7.1) and
 * clear of the window.
 */
static uint64_t identity_end(void)
{
	return BIT64(pg.phys_bits < 47 ? pg.phys_bits : 47);
}

/* New entries only ever replace not-present ones: no TLB flush is needed. */
int arch_map(uint64_t pa, uint64_t len, enum arch_cache cache)
{
	uint64_t addr = pa & ~(SZ_4K - 1);
	uint64_t end = pa + len;
	int ret;

	if (len == 0 || end < pa || end > identity_end()) {
		return -EINVAL;
	}
	while (addr < end) {
		uint64_t size =
			bits_is_aligned(addr, SZ_2M) && end - addr >= SZ_2M
				? SZ_2M
				: SZ_4K;

		if (addr != 0) {
			ret = map_page(addr, addr, size, cache);
			if (ret) {
				return ret;
			}
		}
		addr += size;
	}
	return 0;
}

static bool is_write_back(uint32_t type)
{
	return boot_mem_is_ram(type) || type == BOOT_MEM_RT_CODE ||
	       type == BOOT_MEM_RT_DATA || type == BOOT_MEM_ACPI_RECLAIM ||
	       type == BOOT_MEM_ACPI_NVS || type == BOOT_MEM_PERSISTENT;
}

int arch_paging_init(const struct boot_info *bi, uint64_t (*alloc_page)(void))
{
	struct arch_kwin_range win[ARCH_KWIN_RANGES];
	uint32_t r[4];
	size_t i;
	int ret;

	cpuid(0x80000000, 0, r);
	pg.phys_bits = 36;
	if (r[0] >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		pg.phys_bits = r[0] & 0xff;
	}
	pg.alloc_page = alloc_page;
	pg.bi = bi;
	pg.pml4 = (uint64_t *)alloc_page();
	if (!pg.pml4) {
		return -ENOMEM;
	}
	memset(pg.pml4, 0, SZ_4K);
	for (i = 0; i < bi->mem_count; i++) {
		const struct boot_mem_region *m = &bi->mem[i];

		ret = arch_map(m->base, m->pages * SZ_4K,
			       is_write_back(m->type) ? ARCH_CACHE_WB
						      : ARCH_CACHE_UC);
		if (ret) {
			log_err("arch", "cannot map 0x%llx+0x%llx: %d",
				(unsigned long long)m->base,
				(unsigned long long)(m->pages * SZ_4K), ret);
			return ret;
		}
	}
	arch_kwin_ranges(win);
	for (i = 0; i < ARCH_KWIN_RANGES; i++) {
		uint64_t off;

		for (off = 0; off < win[i].len; off += SZ_4K) {
			ret = map_page(win[i].va + off, win[i].pa + off, SZ_4K,
				       ARCH_CACHE_WB);
			if (ret) {
				return ret;
			}
		}
	}
	write_cr3((uint64_t)pg.pml4);
	return 0;
}

/* The leaf entry that maps va, or NULL. */
static const uint64_t *lookup(uint64_t va, uint64_t *page_size)
{
	const uint64_t *t = pg.pml4;
	unsigned int level;

	for (level = 4; level >= 1; level--) {
		const uint64_t *e = &t[pt_index(va, level)];

		if (!(*e & PTE_P)) {
			return NULL;
		}
		if (level == 1 || (level == 2 && (*e & PTE_PS))) {
			*page_size = level == 1 ? SZ_4K : SZ_2M;
			return e;
		}
		t = (const uint64_t *)(*e & PTE_ADDR);
	}
	return NULL;
}

bool arch_is_mapped(uint64_t pa, uint64_t len)
{
	uint64_t addr = pa & ~(SZ_4K - 1);
	uint64_t end = pa + len;
	uint64_t size = SZ_4K;

	if (!pg.pml4 || end < pa || end > identity_end()) {
		return false;
	}
	do {
		if (!lookup(addr, &size)) {
			return false;
		}
		addr = (addr & ~(size - 1)) + size;
	} while (addr < end);
	return true;
}

bool arch_overlaps_ram(uint64_t pa, uint64_t len)
{
	size_t i;

	for (i = 0; i < pg.bi->mem_count; i++) {
		const struct boot_mem_region *m = &pg.bi->mem[i];

		if (is_write_back(m->type) && pa < m->base + m->pages * SZ_4K &&
		    m->base < pa + len) {
			return true;
		}
	}
	return false;
}

unsigned int arch_phys_bits(void)
{
	return pg.phys_bits;
}
