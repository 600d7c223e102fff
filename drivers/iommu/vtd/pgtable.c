/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Page tables in either format: second-level (VT-d spec 9.8) or
 * first-level (9.7, the IA-32e format).  Map and unmap IOVA ranges with
 * the largest leaves that alignment, length and the units allow, split
 * large leaves that an unmap cuts into, merge a table back into one leaf
 * when its 512 leaves map one aligned contiguous range again.  Both
 * formats keep the address in bits 51:12 and mark large leaves with bit 7,
 * so only the rights and the meaning of "present" differ.
 *
 * Entries are written with single 64-bit stores, flushed from the CPU
 * cache when a unit does not snoop table walks.  A table page unlinked
 * here is not freed: it goes on a freelist that the caller releases only
 * after the invalidation covering it completed (docs/design.md,
 * invariant 2).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

_Static_assert(VTD_PT_ENTRIES * sizeof(uint64_t) == 4096,
	       "a page table is one page");
_Static_assert(sizeof(struct vtd_freelist_chunk) <= 512,
	       "freelist chunks stay small");

void vtd_freelist_add(struct vtd_freelist *fl, uint64_t pa)
{
	struct vtd_freelist_chunk *c = fl->head;

	if (!c || c->count == VTD_FREELIST_CHUNK) {
		c = hw_zalloc(sizeof(*c));
		if (!c) {
			/* Leaking is safe; freeing early would not be. */
			log_err("vtd",
				"no memory to track table page 0x%llx; leaking it",
				(unsigned long long)pa);
			return;
		}
		c->next = fl->head;
		fl->head = c;
	}
	c->pa[c->count++] = pa;
	fl->count++;
}

void vtd_freelist_release(struct vtd_freelist *fl)
{
	struct vtd_freelist_chunk *c = fl->head, *next;
	unsigned int i;

	while (c) {
		next = c->next;
		for (i = 0; i < c->count; i++) {
			hw_page_free(c->pa[i]);
		}
		hw_free(c);
		c = next;
	}
	fl->head = NULL;
	fl->count = 0;
}

static uint64_t level_size(unsigned int level)
{
	return UINT64_C(1) << (VTD_PAGE_SHIFT + VTD_LEVEL_SHIFT * (level - 1));
}

static unsigned int level_index(unsigned int level, uint64_t iova)
{
	return (unsigned int)(iova >> (VTD_PAGE_SHIFT +
				       VTD_LEVEL_SHIFT * (level - 1))) &
	       (VTD_PT_ENTRIES - 1);
}

static bool first_level(const struct vtd_pgtable *pt)
{
	return pt->format == VTD_FORMAT_FIRST_LEVEL;
}

/*
 * Second-level entries have no present bit: R = W = 0 is not present.
 * First-level entries have one.
 */
static bool present(const struct vtd_pgtable *pt, uint64_t e)
{
	if (first_level(pt)) {
		return e & VTD_FL_P;
	}
	return e & (VTD_SL_R | VTD_SL_W);
}

static bool is_leaf(uint64_t e, unsigned int level)
{
	return level == 1 || (e & VTD_SL_PS);
}

static uint64_t *table_va(uint64_t pa)
{
	return hw_phys_to_virt(pa);
}

/*
 * A leaf's rights.  First-level: present means readable; requests without
 * PASID and PASID requests without privilege are user requests, so U/S
 * is set; accessed and (if writable) dirty are set in advance so that the
 * hardware never has to write a table, which a unit not snooping its
 * walks could not do (VT-d spec 3.6.2, fault 0x90); nothing is executable.
 * Only readable rights can be expressed (vtd_domain_map() checks).
 */
static uint64_t prot_bits(const struct vtd_pgtable *pt, unsigned int prot)
{
	uint64_t bits;

	if (!first_level(pt)) {
		return (prot & VTD_PROT_READ ? VTD_SL_R : 0) |
		       (prot & VTD_PROT_WRITE ? VTD_SL_W : 0);
	}
	bits = VTD_FL_P | VTD_FL_US | VTD_FL_A | VTD_FL_XD;
	if (prot & VTD_PROT_WRITE) {
		bits |= VTD_FL_RW | VTD_FL_D;
	}
	return bits;
}

static unsigned int entry_prot(const struct vtd_pgtable *pt, uint64_t e)
{
	if (first_level(pt)) {
		return VTD_PROT_READ | (e & VTD_FL_RW ? VTD_PROT_WRITE : 0);
	}
	return (e & VTD_SL_R ? VTD_PROT_READ : 0) |
	       (e & VTD_SL_W ? VTD_PROT_WRITE : 0);
}

static void set_entry(struct vtd_pgtable *pt, uint64_t *p, uint64_t val)
{
	vtd_entry_write(p, val);
	vtd_flush_table(pt->coherent, p, sizeof(*p));
}

/* A zeroed table, flushed so a non-coherent walker never sees garbage. */
static uint64_t alloc_table(struct vtd_pgtable *pt)
{
	uint64_t pa = hw_page_alloc();

	if (pa) {
		vtd_flush_table(pt->coherent, table_va(pa), VTD_PAGE_SIZE);
		pt->table_pages++;
	}
	return pa;
}

static void release_table(struct vtd_pgtable *pt, uint64_t pa,
			  struct vtd_freelist *freed)
{
	vtd_freelist_add(freed, pa);
	pt->table_pages--;
}

/* Non-leaf entries grant everything; the leaf decides (rights are ANDed). */
static uint64_t table_entry(const struct vtd_pgtable *pt, uint64_t child_pa)
{
	if (first_level(pt)) {
		return child_pa | VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A;
	}
	return child_pa | VTD_SL_R | VTD_SL_W;
}

int vtd_pgtable_init(struct vtd_pgtable *pt, enum vtd_format format,
		     unsigned int levels, uint64_t page_sizes, bool coherent)
{
	memset(pt, 0, sizeof(*pt));
	pt->format = format;
	pt->levels = levels;
	pt->page_sizes = page_sizes;
	pt->coherent = coherent;
	pt->root_pa = alloc_table(pt);
	return pt->root_pa ? 0 : -ENOMEM;
}

static void free_level(const struct vtd_pgtable *pt, uint64_t table_pa,
		       unsigned int level)
{
	uint64_t *table = table_va(table_pa);
	unsigned int i;
	uint64_t e;

	for (i = 0; level > 1 && i < VTD_PT_ENTRIES; i++) {
		e = vtd_entry_read(&table[i]);
		if (present(pt, e) && !is_leaf(e, level)) {
			free_level(pt, e & VTD_SL_ADDR, level - 1);
		}
	}
	hw_page_free(table_pa);
}

/* Only once no unit can reach the tables any more (detached, flushed). */
void vtd_pgtable_fini(struct vtd_pgtable *pt)
{
	if (pt->root_pa) {
		free_level(pt, pt->root_pa, pt->levels);
	}
	memset(pt, 0, sizeof(*pt));
}

/* A leaf of this level's size fits at iova/hpa and the units allow it. */
static bool leaf_fits(const struct vtd_pgtable *pt, unsigned int level,
		      uint64_t iova, uint64_t hpa, uint64_t left)
{
	uint64_t size = level_size(level);

	if (level == 1) {
		return true;
	}
	return (pt->page_sizes & size) && bits_is_aligned(iova, size) &&
	       bits_is_aligned(hpa, size) && left >= size;
}

/*
 * A table whose 512 leaves map one aligned contiguous range with equal
 * rights becomes a single leaf of the level above.  The translation of
 * every address stays the same, so the 64-bit swap is safe while present;
 * the old table is freed only after the caller's invalidation.
 */
static void try_merge(struct vtd_pgtable *pt, uint64_t *p, unsigned int level,
		      struct vtd_freelist *freed)
{
	uint64_t child_pa = vtd_entry_read(p) & VTD_SL_ADDR;
	uint64_t *child = table_va(child_pa);
	uint64_t first = vtd_entry_read(&child[0]);
	uint64_t step = level_size(level - 1);
	unsigned int i;

	if (!(pt->page_sizes & level_size(level)) || !present(pt, first) ||
	    !is_leaf(first, level - 1) ||
	    !bits_is_aligned(first & VTD_SL_ADDR, level_size(level))) {
		return;
	}
	for (i = 1; i < VTD_PT_ENTRIES; i++) {
		if (vtd_entry_read(&child[i]) != first + i * step) {
			return;
		}
	}
	set_entry(pt, p, first | VTD_SL_PS);
	release_table(pt, child_pa, freed);
}

struct map_state {
	uint64_t iova;
	uint64_t hpa;
	uint64_t left;
	uint64_t bits;
};

static int map_level(struct vtd_pgtable *pt, uint64_t table_pa,
		     unsigned int level, struct map_state *s)
{
	uint64_t *table = table_va(table_pa);
	uint64_t size = level_size(level);
	uint64_t *p, e, child;
	unsigned int idx;
	int err;

	for (idx = level_index(level, s->iova); idx < VTD_PT_ENTRIES && s->left;
	     idx++) {
		p = &table[idx];
		e = vtd_entry_read(p);
		if (leaf_fits(pt, level, s->iova, s->hpa, s->left)) {
			if (present(pt, e)) {
				return -EEXIST;
			}
			set_entry(pt, p,
				  s->hpa | s->bits |
					  (level > 1 ? VTD_SL_PS : 0));
			s->iova += size;
			s->hpa += size;
			s->left -= size;
			continue;
		}
		if (!present(pt, e)) {
			child = alloc_table(pt);
			if (!child) {
				return -ENOMEM;
			}
			e = table_entry(pt, child);
			set_entry(pt, p, e);
		} else if (is_leaf(e, level)) {
			return -EEXIST;
		}
		err = map_level(pt, e & VTD_SL_ADDR, level - 1, s);
		if (err) {
			return err;
		}
	}
	return 0;
}

/*
 * Map; *mapped receives how much was mapped before an error.  Nothing is
 * merged, so unmapping [iova, iova + *mapped) again meets only the leaves
 * written here, whole: it needs no split and cannot fail.
 */
int vtd_pgtable_map(struct vtd_pgtable *pt, uint64_t iova, uint64_t hpa,
		    uint64_t len, unsigned int prot, uint64_t *mapped)
{
	struct map_state s = {
		.iova = iova,
		.hpa = hpa,
		.left = len,
		.bits = prot_bits(pt, prot),
	};
	int err = map_level(pt, pt->root_pa, pt->levels, &s);

	*mapped = len - s.left;
	return err;
}

/* Bottom up: tables below first, so that merges can cascade. */
static void merge_level(struct vtd_pgtable *pt, uint64_t table_pa,
			unsigned int level, uint64_t iova, uint64_t end,
			struct vtd_freelist *freed)
{
	uint64_t *table = table_va(table_pa);
	uint64_t size = level_size(level), e;
	unsigned int idx;

	for (idx = level_index(level, iova); idx < VTD_PT_ENTRIES && iova < end;
	     idx++, iova = (iova & ~(size - 1)) + size) {
		e = vtd_entry_read(&table[idx]);
		if (!present(pt, e) || is_leaf(e, level)) {
			continue;
		}
		merge_level(pt, e & VTD_SL_ADDR, level - 1, iova, end, freed);
		try_merge(pt, &table[idx], level, freed);
	}
}

/*
 * Fold the tables covering [iova, iova + len) whose leaves map one aligned
 * contiguous range into larger leaves; the tables land on freed.
 */
void vtd_pgtable_merge(struct vtd_pgtable *pt, uint64_t iova, uint64_t len,
		       struct vtd_freelist *freed)
{
	merge_level(pt, pt->root_pa, pt->levels, iova, iova + len, freed);
}

static bool table_empty(const struct vtd_pgtable *pt, const uint64_t *table)
{
	unsigned int i;

	for (i = 0; i < VTD_PT_ENTRIES; i++) {
		if (present(pt, vtd_entry_read(&table[i]))) {
			return false;
		}
	}
	return true;
}

/*
 * Replace a leaf by a table of 512 leaves one level down that map the same
 * range, built and flushed completely before the one store publishing it.
 */
static int split(struct vtd_pgtable *pt, uint64_t *p, unsigned int level)
{
	uint64_t e = vtd_entry_read(p);
	uint64_t step = level_size(level - 1);
	uint64_t leaf = (e & ~VTD_SL_PS) | (level - 1 > 1 ? VTD_SL_PS : 0);
	uint64_t child_pa = alloc_table(pt);
	uint64_t *child;
	unsigned int i;

	if (!child_pa) {
		return -ENOMEM;
	}
	child = table_va(child_pa);
	for (i = 0; i < VTD_PT_ENTRIES; i++) {
		vtd_entry_write(&child[i], leaf + i * step);
	}
	vtd_flush_table(pt->coherent, child, VTD_PAGE_SIZE);
	set_entry(pt, p, table_entry(pt, child_pa));
	return 0;
}

struct unmap_state {
	uint64_t iova;
	uint64_t end;
	uint64_t unmapped;
	struct vtd_freelist *freed;
};

static int unmap_level(struct vtd_pgtable *pt, uint64_t table_pa,
		       unsigned int level, struct unmap_state *s)
{
	uint64_t *table = table_va(table_pa);
	uint64_t size = level_size(level);
	uint64_t *p, e, start, next, child_pa;
	unsigned int idx;
	int err;

	for (idx = level_index(level, s->iova);
	     idx < VTD_PT_ENTRIES && s->iova < s->end; idx++) {
		p = &table[idx];
		e = vtd_entry_read(p);
		start = s->iova & ~(size - 1);
		next = start + size;
		if (!present(pt, e)) {
			s->iova = next < s->end ? next : s->end;
			continue;
		}
		if (is_leaf(e, level)) {
			if (s->iova == start && s->end >= next) {
				set_entry(pt, p, 0);
				s->unmapped += size;
				s->iova = next;
				continue;
			}
			err = split(pt, p, level);
			if (err) {
				return err;
			}
			e = vtd_entry_read(p);
		}
		child_pa = e & VTD_SL_ADDR;
		err = unmap_level(pt, child_pa, level - 1, s);
		if (table_empty(pt, table_va(child_pa))) {
			set_entry(pt, p, 0);
			release_table(pt, child_pa, s->freed);
		}
		if (err) {
			return err;
		}
	}
	return 0;
}

/*
 * Unmap; *unmapped receives the bytes that were mapped.  Emptied tables
 * land on freed.  May fail with -ENOMEM when a large leaf must be split;
 * whatever was unmapped until then stays unmapped.
 */
int vtd_pgtable_unmap(struct vtd_pgtable *pt, uint64_t iova, uint64_t len,
		      uint64_t *unmapped, struct vtd_freelist *freed)
{
	struct unmap_state s = {
		.iova = iova,
		.end = iova + len,
		.freed = freed,
	};
	int err = unmap_level(pt, pt->root_pa, pt->levels, &s);

	*unmapped = s.unmapped;
	return err;
}

struct walk_state {
	const struct vtd_pgtable *pt;
	vtd_mapping_fn fn;
	void *ctx;
	struct vtd_mapping run;
};

/* Extend the current run or hand it out and start a new one. */
static void emit(struct walk_state *w, uint64_t iova, uint64_t hpa,
		 uint64_t size, unsigned int prot)
{
	struct vtd_mapping *r = &w->run;

	if (r->len && r->iova + r->len == iova && r->hpa + r->len == hpa &&
	    r->page_size == size && r->prot == prot) {
		r->len += size;
		return;
	}
	if (r->len) {
		w->fn(w->ctx, r);
	}
	r->iova = iova;
	r->hpa = hpa;
	r->len = size;
	r->page_size = size;
	r->prot = prot;
}

static void walk_level(uint64_t table_pa, unsigned int level, uint64_t base,
		       struct walk_state *w)
{
	uint64_t *table = table_va(table_pa);
	uint64_t size = level_size(level);
	unsigned int idx;
	uint64_t e;

	for (idx = 0; idx < VTD_PT_ENTRIES; idx++) {
		e = vtd_entry_read(&table[idx]);
		if (!present(w->pt, e)) {
			continue;
		}
		if (is_leaf(e, level)) {
			emit(w, base + idx * size, e & VTD_SL_ADDR, size,
			     entry_prot(w->pt, e));
		} else {
			walk_level(e & VTD_SL_ADDR, level - 1,
				   base + idx * size, w);
		}
	}
}

void vtd_pgtable_walk(struct vtd_pgtable *pt, vtd_mapping_fn fn, void *ctx)
{
	struct walk_state w = {.pt = pt, .fn = fn, .ctx = ctx};

	if (!pt->root_pa) {
		return;
	}
	walk_level(pt->root_pa, pt->levels, 0, &w);
	if (w.run.len) {
		fn(ctx, &w.run);
	}
}
