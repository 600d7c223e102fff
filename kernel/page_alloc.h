#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct boot_info;

/*
 * Physical page allocator: a bitmap over the RAM the firmware map calls
 * conventional (never reserved, ACPI, MMIO or runtime-services memory), and
 * boot-services memory once the firmware is gone.  One bit per 4 KiB page,
 * set = free.
 */
struct page_alloc {
	uint64_t *bitmap;
	uint64_t *managed; /* set = RAM this allocator owns */
	uint64_t pages;	   /* pages the bitmap covers, from address 0 */
	uint64_t free_pages;
	uint64_t total_pages; /* pages ever made free */
	uint64_t hint;
};

int page_alloc_init(struct page_alloc *pa, const struct boot_info *bi,
		    uint64_t image_base, uint64_t image_size);
/* count contiguous pages aligned to align bytes (a power of two); 0 if none. */
uint64_t page_alloc_range(struct page_alloc *pa, uint64_t count,
			  uint64_t align);
/* Returns -EINVAL (and frees nothing) if any page is not allocated RAM. */
int page_free_range(struct page_alloc *pa, uint64_t phys, uint64_t count);
bool page_is_allocated(const struct page_alloc *pa, uint64_t phys);
