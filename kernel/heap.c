#include "kernel/heap.h"

#include "drivers/hw.h"
#include "kernel/kernel.h"
#include "kernel/page_alloc.h"
#include "lib/log.h"
#include "lib/string.h"

#define PAGE_SIZE      4096U
#define HEAP_MIN_SHIFT 5	   /* 32 bytes */
#define HEAP_MAGIC     0x6d6f6174U /* "moat": catches frees of foreign pointers */

/* Precedes every object; keeps objects 16-byte aligned. */
struct heap_hdr {
	uint32_t magic;
	uint32_t class; /* HEAP_CLASSES for a whole-page object */
	uint64_t pages;
};
_Static_assert(sizeof(struct heap_hdr) == 16, "object alignment");

struct heap_free {
	struct heap_free *next;
};

static unsigned int size_class(size_t size)
{
	unsigned int c = 0;

	while (c < HEAP_CLASSES && ((size_t)1 << (c + HEAP_MIN_SHIFT)) < size) {
		c++;
	}
	return c;
}

/* Splits a fresh page into chunks of class c. */
static int heap_grow(struct heap *h, struct page_alloc *pages, unsigned int c)
{
	size_t chunk = (size_t)1 << (c + HEAP_MIN_SHIFT);
	uint64_t pa = page_alloc_range(pages, 1, PAGE_SIZE);
	size_t off;

	if (!pa) {
		return -1;
	}
	h->pages++;
	for (off = 0; off + chunk <= PAGE_SIZE; off += chunk) {
		struct heap_free *f = (struct heap_free *)(pa + off);

		f->next = h->free[c];
		h->free[c] = f;
	}
	return 0;
}

void *hw_zalloc(size_t size)
{
	struct kernel *k = kernel_get();
	struct heap *h = &k->heap;
	size_t total = size + sizeof(struct heap_hdr);
	unsigned int c = size_class(total);
	struct heap_hdr *hdr;

	if (size == 0 || total < size) {
		return NULL;
	}
	if (c == HEAP_CLASSES) {
		uint64_t n = (total + PAGE_SIZE - 1) / PAGE_SIZE;
		uint64_t pa = page_alloc_range(&k->pages, n, PAGE_SIZE);

		if (!pa) {
			return NULL;
		}
		hdr = (struct heap_hdr *)pa;
		hdr->pages = n;
	} else {
		if (!h->free[c] && heap_grow(h, &k->pages, c)) {
			return NULL;
		}
		hdr = (struct heap_hdr *)h->free[c];
		h->free[c] = h->free[c]->next;
		hdr->pages = 0;
	}
	hdr->magic = HEAP_MAGIC;
	hdr->class = c;
	h->live_objects++;
	memset(hdr + 1, 0, size);
	return hdr + 1;
}

void hw_free(void *p)
{
	struct kernel *k = kernel_get();
	struct heap_hdr *hdr = (struct heap_hdr *)p - 1;
	struct heap_free *f;
	unsigned int c;

	if (!p) {
		return;
	}
	if (hdr->magic != HEAP_MAGIC || hdr->class > HEAP_CLASSES) {
		log_err("mem", "free of %p, which the heap did not allocate",
			p);
		return;
	}
	hdr->magic = 0;
	k->heap.live_objects--;
	if (hdr->class == HEAP_CLASSES) {
		page_free_range(&k->pages, (uint64_t)hdr, hdr->pages);
		return;
	}
	c = hdr->class;
	f = (struct heap_free *)hdr;
	f->next = k->heap.free[c];
	k->heap.free[c] = f;
}
