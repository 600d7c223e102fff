#include "kernel/page_alloc.h"

#include "boot/boot_info.h"
#include "drivers/hw.h"
#include "kernel/kernel.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define PAGE_SIZE UINT64_C(4096)

static bool usable(uint32_t type)
{
	/*
	 * Boot-services memory is left alone: the firmware's page tables,
	 * stack and GDT lived there until the hand-off, and 512 MiB of
	 * conventional memory is plenty for a DMA-isolation kernel.
	 */
	return type == BOOT_MEM_CONVENTIONAL;
}

static bool test_bit(const uint64_t *map, uint64_t pfn)
{
	return map[pfn / 64] & BIT64(pfn % 64);
}

static bool test_free(const struct page_alloc *pa, uint64_t pfn)
{
	return test_bit(pa->bitmap, pfn);
}

static void set_free(struct page_alloc *pa, uint64_t pfn, bool free)
{
	if (free) {
		pa->bitmap[pfn / 64] |= BIT64(pfn % 64);
	} else {
		pa->bitmap[pfn / 64] &= ~BIT64(pfn % 64);
	}
}

/*
 * After a restart, every page the previous instance had in use stays in
 * use: IOMMU tables it left running, and the memory devices still reach.
 */
static void keep_previous_life(struct page_alloc *pa,
			       const struct boot_info *bi)
{
	const uint64_t *old = (const uint64_t *)bi->inherit_bitmap;
	uint64_t pfn, n = bi->inherit_pages < pa->pages ? bi->inherit_pages
							: pa->pages;

	for (pfn = 0; pfn < n; pfn++) {
		if (test_free(pa, pfn) && !test_bit(old, pfn)) {
			set_free(pa, pfn, false);
			pa->free_pages--;
		}
	}
}

int page_alloc_init(struct page_alloc *pa, const struct boot_info *bi,
		    uint64_t image_base, uint64_t image_size)
{
	uint64_t top = 0, bytes, where = 0, pfn;
	size_t i;

	memset(pa, 0, sizeof(*pa));
	for (i = 0; i < bi->mem_count; i++) {
		const struct boot_mem_region *m = &bi->mem[i];

		if (usable(m->type) && m->base + m->pages * PAGE_SIZE > top) {
			top = m->base + m->pages * PAGE_SIZE;
		}
	}
	pa->pages = top / PAGE_SIZE;
	bytes = (pa->pages + 63) / 64 * 8 * 2;
	/* Both bitmaps live at the start of the first region large enough. */
	for (i = 0; i < bi->mem_count && !where; i++) {
		const struct boot_mem_region *m = &bi->mem[i];

		if (usable(m->type) && m->base &&
		    m->pages * PAGE_SIZE >= bytes) {
			where = m->base;
		}
	}
	if (!where) {
		return -ENOMEM;
	}
	pa->bitmap = (uint64_t *)where;
	pa->managed = pa->bitmap + (pa->pages + 63) / 64;
	memset(pa->bitmap, 0, bytes);
	for (i = 0; i < bi->mem_count; i++) {
		const struct boot_mem_region *m = &bi->mem[i];

		if (!usable(m->type)) {
			continue;
		}
		for (pfn = m->base / PAGE_SIZE;
		     pfn < m->base / PAGE_SIZE + m->pages; pfn++) {
			uint64_t addr = pfn * PAGE_SIZE;

			/* Never page 0, the bitmap itself, or the image. */
			if (pfn == 0 ||
			    (addr >= where && addr < where + bytes) ||
			    (addr >= image_base &&
			     addr < image_base + image_size)) {
				continue;
			}
			set_free(pa, pfn, true);
			pa->managed[pfn / 64] |= BIT64(pfn % 64);
			pa->free_pages++;
		}
	}
	pa->total_pages = pa->free_pages;
	if (bi->inherit_bitmap) {
		keep_previous_life(pa, bi);
	}
	return 0;
}

uint64_t page_alloc_range(struct page_alloc *pa, uint64_t count, uint64_t align)
{
	uint64_t step = align > PAGE_SIZE ? align / PAGE_SIZE : 1;
	uint64_t start, pfn, n, pass;

	if (count == 0 || count > pa->free_pages || (step & (step - 1))) {
		return 0;
	}
	/* Two passes: from the hint to the end, then from the start. */
	for (pass = 0; pass < 2; pass++) {
		start = pass == 0 ? (pa->hint + step - 1) / step * step : 0;
		while (start + count <= pa->pages) {
			for (n = 0; n < count && test_free(pa, start + n);
			     n++) {
			}
			if (n == count) {
				for (pfn = start; pfn < start + count; pfn++) {
					set_free(pa, pfn, false);
				}
				pa->free_pages -= count;
				pa->hint = start + count;
				return start * PAGE_SIZE;
			}
			/* Skip past the page that was in use. */
			start = (start + n + step) / step * step;
		}
	}
	return 0;
}

int page_free_range(struct page_alloc *pa, uint64_t phys, uint64_t count)
{
	uint64_t pfn = phys / PAGE_SIZE, i;

	if (!bits_is_aligned(phys, PAGE_SIZE) || pfn + count > pa->pages ||
	    pfn + count < pfn) {
		return -EINVAL;
	}
	for (i = 0; i < count; i++) {
		if (!page_is_allocated(pa, phys + i * PAGE_SIZE)) {
			return -EINVAL;
		}
	}
	for (i = 0; i < count; i++) {
		set_free(pa, pfn + i, true);
	}
	pa->free_pages += count;
	return 0;
}

bool page_is_allocated(const struct page_alloc *pa, uint64_t phys)
{
	uint64_t pfn = phys / PAGE_SIZE;

	return pfn < pa->pages && test_bit(pa->managed, pfn) &&
	       !test_free(pa, pfn);
}

/* The seam's page allocator (drivers/hw.h): zeroed pages for hardware tables.
 */
uint64_t hw_page_alloc(void)
{
	uint64_t pa = page_alloc_range(&kernel_get()->pages, 1, PAGE_SIZE);

	if (pa) {
		memset((void *)pa, 0, PAGE_SIZE);
	}
	return pa;
}

void hw_page_free(uint64_t pa)
{
	if (page_free_range(&kernel_get()->pages, pa, 1)) {
		log_err("mem", "free of page 0x%llx that is not allocated",
			(unsigned long long)pa);
	}
}
