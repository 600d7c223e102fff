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
 * Entries are written with single 64-bit stores; when a unit does not
 * snoop table walks, the cache lines a call wrote in a table are flushed
 * once, with one call per table, before the entry linking that table is.
 * A table page unlinked here is not freed: it goes on a freelist that the
 * caller releases only after the invalidation covering it completed
 * (docs/design.md, invariant 2).
 *
 * Each table page has a node, driver-private memory the hardware never
 * reads, that counts the page's present entries and its leaves that
 * continue one aligned contiguous run with equal rights.  So a map or
 * unmap never scans a table: a table is unlinked when its count reaches
 * 0, and 512 leaves that one leaf of the level above could replace are
 * known when the last of them is written.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/addr.h"
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

static unsigned int level_index(unsigned int level, iova_t iova)
{
	return (unsigned int)(iova_val(iova) >>
			      (VTD_PAGE_SHIFT +
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

/*
 * A table page's bookkeeping.  run counts the leaves equal to
 * base + index * (the level's leaf size): base, fixed by the first leaf
 * written while run was 0, is entry 0 of a range aligned to the leaf size
 * of the level above, so a table with run 512 is that one leaf.
 */
struct vtd_pt_node {
	uint64_t pa;
	uint64_t *table; /* its entries, as the CPU reaches them */
	uint64_t base;
	uint16_t present;
	uint16_t run;
	struct vtd_pt_node **child; /* above level 1: the node behind entry i */
};

/* The entries [lo, hi) of a table a call wrote, flushed together. */
struct span {
	unsigned int lo;
	unsigned int hi;
};

static void span_add(struct span *w, unsigned int idx)
{
	if (w->lo >= w->hi) {
		w->lo = idx;
	}
	w->hi = idx + 1;
}

static void span_flush(const struct vtd_pgtable *pt, const uint64_t *table,
		       const struct span *w)
{
	if (w->lo < w->hi) {
		vtd_flush_table(pt->coherent, &table[w->lo],
				(w->hi - w->lo) * sizeof(*table));
	}
}

/*
 * A zeroed table page and its node, the page flushed so a non-coherent
 * walker never sees garbage.
 */
static struct vtd_pt_node *node_alloc(struct vtd_pgtable *pt,
				      unsigned int level)
{
	struct vtd_pt_node *n = hw_zalloc(sizeof(*n));

	if (!n) {
		return NULL;
	}
	if (level > 1) {
		n->child = hw_zalloc(VTD_PT_ENTRIES * sizeof(*n->child));
		if (!n->child) {
			goto out_free_node;
		}
	}
	n->pa = hw_page_alloc();
	if (!n->pa) {
		goto out_free_child;
	}
	n->table = table_va(n->pa);
	vtd_flush_table(pt->coherent, n->table, VTD_PAGE_SIZE);
	pt->table_pages++;
	return n;

out_free_child:
	hw_free(n->child);
out_free_node:
	hw_free(n);
	return NULL;
}

/* An unlinked table: its page waits on freed for the invalidation. */
static void node_release(struct vtd_pgtable *pt, struct vtd_pt_node *n,
			 struct vtd_freelist *freed)
{
	if (pt->hot == n) {
		pt->hot = NULL;
	}
	vtd_freelist_add(freed, n->pa);
	pt->table_pages--;
	hw_free(n->child);
	hw_free(n);
}

/* The table of n, 512 leaves of one run, can become one leaf here. */
static bool mergeable(const struct vtd_pgtable *pt, const struct vtd_pt_node *n,
		      unsigned int level)
{
	return n->run == VTD_PT_ENTRIES && (pt->page_sizes & level_size(level));
}

/*
 * count leaves were written at first.. in a table of this level, the
 * first being e: the run continues if they are where base puts them, or
 * starts with them if none is left and they fit an aligned range.  Only
 * a run that grew can have become mergeable, so only then is a merge
 * asked for: leaves that start or continue no run cost no more.
 */
static inline void note_leaves(struct vtd_pgtable *pt, struct vtd_pt_node *n,
			       unsigned int level, unsigned int first,
			       uint64_t e, unsigned int count)
{
	uint64_t off = first * level_size(level);
	uint64_t addr = e & VTD_SL_ADDR;

	n->present += count;
	if (n->run) {
		if (e - off != n->base) {
			return;
		}
		n->run += count;
	} else {
		/* Alignment first: most leaves that start no run fail it. */
		if (!bits_is_aligned(addr - off, level_size(level + 1)) ||
		    addr < off || level >= pt->levels) {
			return;
		}
		n->base = e - off;
		n->run = count;
	}
	if (mergeable(pt, n, level + 1)) {
		pt->merge_pending = true;
	}
}

/* The leaf or link e at idx is cleared or replaced by a link. */
static void note_gone(struct vtd_pt_node *n, unsigned int level,
		      unsigned int idx, uint64_t e, bool leaf)
{
	if (leaf && n->run && e == n->base + idx * level_size(level)) {
		n->run--;
	}
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
	return 0;
}

/* The top-level table, allocated on first use; pass-through has none. */
int vtd_pgtable_root(struct vtd_pgtable *pt)
{
	if (pt->root || pt->format == VTD_FORMAT_PASSTHROUGH) {
		return 0;
	}
	pt->root = node_alloc(pt, pt->levels);
	if (!pt->root) {
		return -ENOMEM;
	}
	pt->root_pa = pt->root->pa;
	return 0;
}

static void free_node(struct vtd_pt_node *n, unsigned int level)
{
	unsigned int i;

	for (i = 0; level > 1 && i < VTD_PT_ENTRIES; i++) {
		if (n->child[i]) {
			free_node(n->child[i], level - 1);
		}
	}
	hw_page_free(n->pa);
	hw_free(n->child);
	hw_free(n);
}

/* Only once no unit can reach the tables any more (detached, flushed). */
void vtd_pgtable_fini(struct vtd_pgtable *pt)
{
	if (pt->root) {
		free_node(pt->root, pt->levels);
	}
	memset(pt, 0, sizeof(*pt));
}

/* A leaf of this level's size fits at iova/hpa and the units allow it. */
static bool leaf_fits(const struct vtd_pgtable *pt, unsigned int level,
		      iova_t iova, hpa_t hpa, uint64_t left)
{
	uint64_t size = level_size(level);

	if (level == 1) {
		return true;
	}
	return (pt->page_sizes & size) && iova_aligned(iova, size) &&
	       hpa_aligned(hpa, size) && left >= size;
}

/*
 * [iova, iova + len) lies in the last level-1 table walked to, and is
 * smaller than a leaf of the level above: the walk down to that table
 * would meet only links, so it can be skipped.
 */
static bool in_hot(const struct vtd_pgtable *pt, iova_t iova, uint64_t len)
{
	uint64_t off = iova_diff(iova, pt->hot_iova);

	return pt->hot && len < level_size(2) && off <= level_size(2) - len;
}

struct map_state {
	iova_t iova;
	hpa_t hpa;
	uint64_t left;
	uint64_t bits;
};

/*
 * Leaves from *idx on, as many as fit in the table and the range; stops
 * at a present entry (-EEXIST).  Inline, as is note_leaves(): a one-page
 * map spends more on the calls than in their bodies.
 */
static inline int map_leaves(struct vtd_pgtable *pt, struct vtd_pt_node *n,
			     uint64_t *table, unsigned int level,
			     unsigned int *idx, struct map_state *s)
{
	uint64_t size = level_size(level);
	uint64_t e = hpa_val(s->hpa) | s->bits | (level > 1 ? VTD_SL_PS : 0);
	uint64_t avail = s->left / size;
	unsigned int first = *idx, i, end = VTD_PT_ENTRIES;
	bool check = n->present; /* a fresh table has nothing to meet */
	int err = 0;

	if (avail < end - first) {
		end = first + (unsigned int)avail;
	}
	for (i = first; check && i < end; i++) {
		if (present(pt, vtd_entry_read(&table[i]))) {
			err = -EEXIST;
			end = i;
		}
	}
	hw_table_write_run(&table[first], e, size, end - first);
	note_leaves(pt, n, level, first, e, end - first);
	s->iova = iova_add(s->iova, (end - first) * size);
	s->hpa = hpa_add(s->hpa, (end - first) * size);
	s->left -= (end - first) * size;
	*idx = end;
	return err;
}

static int map_level(struct vtd_pgtable *pt, struct vtd_pt_node *n,
		     unsigned int level, struct map_state *s)
{
	uint64_t *table = n->table;
	unsigned int idx = level_index(level, s->iova);
	struct vtd_pt_node *child;
	struct span w = {0};
	int err = 0;
	uint64_t e;

	while (idx < VTD_PT_ENTRIES && s->left && !err) {
		if (leaf_fits(pt, level, s->iova, s->hpa, s->left)) {
			span_add(&w, idx);
			err = map_leaves(pt, n, table, level, &idx, s);
			w.hi = idx;
			continue;
		}
		e = vtd_entry_read(&table[idx]);
		child = n->child[idx];
		if (!present(pt, e)) {
			child = node_alloc(pt, level - 1);
			if (!child) {
				err = -ENOMEM;
				break;
			}
			vtd_entry_write(&table[idx],
					table_entry(pt, child->pa));
			span_add(&w, idx);
			n->child[idx] = child;
			n->present++;
		} else if (is_leaf(e, level)) {
			err = -EEXIST;
			break;
		}
		if (level == 2) {
			pt->hot = child;
			pt->hot_iova = iova_align_down(s->iova, level_size(2));
		}
		err = map_level(pt, child, level - 1, s);
		idx++;
	}
	span_flush(pt, table, &w);
	return err;
}

/*
 * [iova, iova + len) lies in one level-1 table and no 2 MiB leaf fits it
 * (one would need that table's whole range, and hpa aligned to it): the
 * map writes that table's leaves only, whatever the levels above hold.
 */
static bool in_one_table(const struct vtd_pgtable *pt, iova_t iova, hpa_t hpa,
			 uint64_t len)
{
	uint64_t off = iova_val(iova) & (level_size(2) - 1);

	return len <= level_size(2) - off && !leaf_fits(pt, 2, iova, hpa, len);
}

/*
 * The level-1 table covering iova, reached from the root without
 * map_level()'s recursion, tables linked where none is; the links written
 * go to links[] (*count of them), for the caller to flush after the
 * leaves.  -EEXIST at a large leaf on the way.  A table above level 1
 * gains no leaf here, so none of them can become mergeable.
 */
static int leaf_table(struct vtd_pgtable *pt, iova_t iova,
		      struct vtd_pt_node **out, uint64_t **links,
		      unsigned int *count)
{
	struct vtd_pt_node *n = pt->root, *child;
	unsigned int level, idx;
	uint64_t e;

	for (level = pt->levels; level > 1; level--) {
		idx = level_index(level, iova);
		e = vtd_entry_read(&n->table[idx]);
		child = n->child[idx];
		if (!present(pt, e)) {
			child = node_alloc(pt, level - 1);
			if (!child) {
				return -ENOMEM;
			}
			vtd_entry_write(&n->table[idx],
					table_entry(pt, child->pa));
			links[(*count)++] = &n->table[idx];
			n->child[idx] = child;
			n->present++;
		} else if (is_leaf(e, level)) {
			return -EEXIST;
		}
		n = child;
	}
	pt->hot = n;
	pt->hot_iova = iova_align_down(iova, level_size(2));
	*out = n;
	return 0;
}

/* The leaves of a range that lies in the level-1 table n, flushed. */
static int map_in_table(struct vtd_pgtable *pt, struct vtd_pt_node *n,
			struct map_state *s)
{
	unsigned int idx = level_index(1, s->iova), first = idx;
	int err = map_leaves(pt, n, n->table, 1, &idx, s);

	vtd_flush_table(pt->coherent, &n->table[first],
			(idx - first) * sizeof(uint64_t));
	return err;
}

/*
 * A range in one level-1 table that is not the hot one: down to it, its
 * leaves, then the links written on the way, deepest first, so that a
 * table's lines are flushed before the entry linking it (as map_level()
 * does).  links[]: at most one a level below the root, and tables have
 * at most 5 levels (domain.c: SAGAW, VT-d spec 11.4.2; FL5LP, 3.6).
 */
static int map_one_table(struct vtd_pgtable *pt, struct map_state *s)
{
	uint64_t *links[4];
	unsigned int count = 0;
	struct vtd_pt_node *n;
	int err;

	err = vtd_pgtable_root(pt);
	err = err ? err : leaf_table(pt, s->iova, &n, links, &count);
	err = err ? err : map_in_table(pt, n, s);
	while (count--) {
		vtd_flush_table(pt->coherent, links[count], sizeof(uint64_t));
	}
	return err;
}

/*
 * Map; *mapped receives how much was mapped before an error.  Nothing is
 * merged, so unmapping [iova, iova + *mapped) again meets only the leaves
 * written here, whole: it needs no split and cannot fail.
 */
int vtd_pgtable_map(struct vtd_pgtable *pt, iova_t iova, hpa_t hpa,
		    uint64_t len, unsigned int prot, uint64_t *mapped)
{
	struct map_state s = {
		.iova = iova,
		.hpa = hpa,
		.left = len,
		.bits = prot_bits(pt, prot),
	};
	int err;

	/* In the hot table the range fits: straight to its leaves. */
	if (in_hot(pt, iova, len)) {
		err = map_in_table(pt, pt->hot, &s);
	} else if (in_one_table(pt, iova, hpa, len)) {
		err = map_one_table(pt, &s);
	} else {
		err = vtd_pgtable_root(pt);
		err = err ? err : map_level(pt, pt->root, pt->levels, &s);
	}
	*mapped = len - s.left;
	return err;
}

/*
 * One 4K page, mapped whole or not at all: the common case of a map per
 * buffer.  In the hot table its entry alone, checked, written, counted
 * and flushed as map_leaves() and vtd_pgtable_map() do for a run;
 * elsewhere vtd_pgtable_map().
 */
int vtd_pgtable_map_page(struct vtd_pgtable *pt, iova_t iova, hpa_t hpa,
			 unsigned int prot)
{
	struct vtd_pt_node *n = pt->hot;
	unsigned int idx = level_index(1, iova);
	uint64_t *p, e, mapped;

	if (!in_hot(pt, iova, VTD_PAGE_SIZE)) {
		return vtd_pgtable_map(pt, iova, hpa, VTD_PAGE_SIZE, prot,
				       &mapped);
	}
	p = &n->table[idx];
	if (present(pt, vtd_entry_read(p))) {
		return -EEXIST;
	}
	/* Counted first: after the store only its flush is left to do. */
	e = hpa_val(hpa) | prot_bits(pt, prot);
	note_leaves(pt, n, 1, idx, e, 1);
	vtd_entry_write(p, e);
	vtd_flush_table(pt->coherent, p, sizeof(*p));
	return 0;
}

/*
 * Bottom up: tables below first, so that merges can cascade.  The new
 * leaf changes no translation, so the 64-bit swap is safe while present;
 * the old table is freed only after the caller's invalidation.
 */
static void merge_level(struct vtd_pgtable *pt, struct vtd_pt_node *n,
			unsigned int level, iova_t iova, iova_t end,
			struct vtd_freelist *freed)
{
	uint64_t *table = n->table;
	uint64_t size = level_size(level);
	struct vtd_pt_node *child;
	struct span w = {0};
	unsigned int idx;

	if (level == 1) {
		return;
	}
	for (idx = level_index(level, iova);
	     idx < VTD_PT_ENTRIES && iova_lt(iova, end);
	     idx++, iova = iova_add(iova_align_down(iova, size), size)) {
		child = n->child[idx];
		if (!child) {
			continue;
		}
		merge_level(pt, child, level - 1, iova, end, freed);
		if (!mergeable(pt, child, level)) {
			continue;
		}
		vtd_entry_write(&table[idx], child->base | VTD_SL_PS);
		span_add(&w, idx);
		n->child[idx] = NULL;
		n->present--;
		note_leaves(pt, n, level, idx, child->base | VTD_SL_PS, 1);
		node_release(pt, child, freed);
	}
	span_flush(pt, table, &w);
}

/*
 * Fold the tables covering [iova, iova + len) whose 512 leaves became one
 * run (since the last merge) into larger leaves; the tables land on freed.
 */
void vtd_pgtable_merge(struct vtd_pgtable *pt, iova_t iova, uint64_t len,
		       struct vtd_freelist *freed)
{
	if (!pt->merge_pending) {
		return;
	}
	/*
	 * Cleared after the walk: the leaves it writes ask for the merge of
	 * the table above, which the same walk does, bottom up.
	 */
	merge_level(pt, pt->root, pt->levels, iova, iova_add(iova, len), freed);
	pt->merge_pending = false;
}

/*
 * Replace the leaf at idx by a table of 512 leaves one level down that
 * map the same range, built and flushed completely before the one store
 * publishing it.
 */
static int split(struct vtd_pgtable *pt, struct vtd_pt_node *n, uint64_t *table,
		 unsigned int idx, unsigned int level)
{
	uint64_t e = vtd_entry_read(&table[idx]);
	uint64_t step = level_size(level - 1);
	uint64_t leaf = (e & ~VTD_SL_PS) | (level - 1 > 1 ? VTD_SL_PS : 0);
	struct vtd_pt_node *child = node_alloc(pt, level - 1);
	uint64_t *ct;
	unsigned int i;

	if (!child) {
		return -ENOMEM;
	}
	ct = child->table;
	for (i = 0; i < VTD_PT_ENTRIES; i++) {
		vtd_entry_write(&ct[i], leaf + i * step);
	}
	vtd_flush_table(pt->coherent, ct, VTD_PAGE_SIZE);
	child->present = VTD_PT_ENTRIES;
	child->run = VTD_PT_ENTRIES;
	child->base = leaf;
	note_gone(n, level, idx, e, true);
	vtd_entry_write(&table[idx], table_entry(pt, child->pa));
	n->child[idx] = child;
	return 0;
}

struct unmap_state {
	iova_t iova;
	iova_t end;
	uint64_t unmapped;
	struct vtd_freelist *freed;
};

/*
 * Clear the entries [from, to) of a table, present leaves all: one seam
 * call for the run, each store checked as one (hw_table_write_run() with
 * no step writes 0 to each).
 */
static inline void clear_leaves(uint64_t *table, unsigned int from,
				unsigned int to)
{
	if (from < to) {
		hw_table_write_run(&table[from], 0, 0, to - from);
	}
}

/*
 * Clear the leaves from *idx on that [s->iova, s->end) covers whole (it
 * starts at *idx), up to a link or a leaf the range ends inside.  Inline:
 * a one-page unmap spends more on the call than in the body.
 */
static inline void unmap_leaves(const struct vtd_pgtable *pt,
				struct vtd_pt_node *n, uint64_t *table,
				unsigned int level, unsigned int *idx,
				struct unmap_state *s)
{
	uint64_t size = level_size(level);
	uint64_t whole = iova_diff(s->end, s->iova) / size;
	unsigned int i = *idx, end = VTD_PT_ENTRIES, cleared = 0, in_run = 0;
	unsigned int from = i; /* the present leaves met since a hole */
	uint64_t want = n->base + i * size, e;

	if (whole < end - i) {
		end = i + (unsigned int)whole;
	}
	for (; i < end; i++, want += size) {
		e = vtd_entry_read(&table[i]);
		if (!present(pt, e)) {
			clear_leaves(table, from, i);
			from = i + 1;
			continue;
		}
		if (!is_leaf(e, level)) {
			break;
		}
		cleared++;
		in_run += e == want;
	}
	clear_leaves(table, from, i);
	n->present -= cleared;
	if (n->run) {
		n->run -= in_run;
	}
	s->unmapped += cleared * size;
	s->iova = iova_add(s->iova, (i - *idx) * size);
	*idx = i;
}

/* The range lies in the hot table, whose entries are all leaves. */
static void unmap_hot(struct vtd_pgtable *pt, struct unmap_state *s)
{
	unsigned int idx = level_index(1, s->iova), first = idx;

	unmap_leaves(pt, pt->hot, pt->hot->table, 1, &idx, s);
	vtd_flush_table(pt->coherent, &pt->hot->table[first],
			(idx - first) * sizeof(uint64_t));
}

static int unmap_level(struct vtd_pgtable *pt, struct vtd_pt_node *n,
		       unsigned int level, struct unmap_state *s)
{
	uint64_t *table = n->table;
	uint64_t size = level_size(level);
	unsigned int idx = level_index(level, s->iova), first;
	iova_t start, next;
	uint64_t e;
	struct vtd_pt_node *child;
	struct span w = {0};
	int err = 0;

	while (idx < VTD_PT_ENTRIES && iova_lt(s->iova, s->end)) {
		e = vtd_entry_read(&table[idx]);
		start = iova_align_down(s->iova, size);
		next = iova_add(start, size);
		if (!present(pt, e)) {
			s->iova = iova_lt(next, s->end) ? next : s->end;
			idx++;
			continue;
		}
		if (is_leaf(e, level)) {
			if (iova_eq(s->iova, start) && !iova_lt(s->end, next)) {
				first = idx;
				unmap_leaves(pt, n, table, level, &idx, s);
				span_add(&w, first);
				w.hi = idx;
				continue;
			}
			err = split(pt, n, table, idx, level);
			if (err) {
				break;
			}
			span_add(&w, idx);
		}
		child = n->child[idx];
		if (level == 2) {
			pt->hot = child;
			pt->hot_iova = start;
		}
		err = unmap_level(pt, child, level - 1, s);
		if (!child->present) {
			vtd_entry_write(&table[idx], 0);
			span_add(&w, idx);
			n->child[idx] = NULL;
			n->present--;
			node_release(pt, child, s->freed);
		}
		if (err) {
			break;
		}
		idx++;
	}
	span_flush(pt, table, &w);
	return err;
}

/*
 * Unmap; *unmapped receives the bytes that were mapped.  Emptied tables
 * land on freed.  May fail with -ENOMEM when a large leaf must be split;
 * whatever was unmapped until then stays unmapped.
 */
int vtd_pgtable_unmap(struct vtd_pgtable *pt, iova_t iova, uint64_t len,
		      uint64_t *unmapped, struct vtd_freelist *freed)
{
	struct unmap_state s = {
		.iova = iova,
		.end = iova_add(iova, len),
		.freed = freed,
	};
	int err = 0;

	if (in_hot(pt, iova, len)) {
		unmap_hot(pt, &s);
		if (pt->hot->present) {
			*unmapped = s.unmapped;
			return err;
		}
		/* Emptied: the walk from the top unlinks it, and above. */
		s.iova = iova;
	}
	if (pt->root) {
		err = unmap_level(pt, pt->root, pt->levels, &s);
	}
	*unmapped = s.unmapped;
	return err;
}

/*
 * One 4K page: in the hot table its entry alone, counted, cleared and
 * flushed as unmap_leaves() and unmap_hot() do for a run; elsewhere, or
 * when it may empty the table, through vtd_pgtable_unmap().
 */
int vtd_pgtable_unmap_page(struct vtd_pgtable *pt, iova_t iova,
			   uint64_t *unmapped, struct vtd_freelist *freed)
{
	struct vtd_pt_node *n = pt->hot;
	unsigned int idx = level_index(1, iova);
	uint64_t *p, e;

	if (!in_hot(pt, iova, VTD_PAGE_SIZE) || n->present == 1) {
		return vtd_pgtable_unmap(pt, iova, VTD_PAGE_SIZE, unmapped,
					 freed);
	}
	p = &n->table[idx];
	e = vtd_entry_read(p);
	if (!present(pt, e)) {
		*unmapped = 0;
		return 0;
	}
	/* Counted first: after the store only its flush is left to do. */
	n->present--;
	note_gone(n, 1, idx, e, true);
	*unmapped = VTD_PAGE_SIZE;
	vtd_entry_write(p, 0);
	vtd_flush_table(pt->coherent, p, sizeof(*p));
	return 0;
}

struct walk_state {
	const struct vtd_pgtable *pt;
	vtd_mapping_fn fn;
	void *ctx;
	struct vtd_mapping run;
};

/* Extend the current run or hand it out and start a new one. */
static void emit(struct walk_state *w, iova_t iova, hpa_t hpa, uint64_t size,
		 unsigned int prot)
{
	struct vtd_mapping *r = &w->run;

	if (r->len && iova_eq(iova_add(r->iova, r->len), iova) &&
	    hpa_eq(hpa_add(r->hpa, r->len), hpa) && r->page_size == size &&
	    r->prot == prot) {
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

static void walk_level(uint64_t table_pa, unsigned int level, iova_t base,
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
			emit(w, iova_add(base, idx * size),
			     hpa_make(e & VTD_SL_ADDR), size,
			     entry_prot(w->pt, e));
		} else {
			walk_level(e & VTD_SL_ADDR, level - 1,
				   iova_add(base, idx * size), w);
		}
	}
}

void vtd_pgtable_walk(struct vtd_pgtable *pt, vtd_mapping_fn fn, void *ctx)
{
	struct walk_state w = {.pt = pt, .fn = fn, .ctx = ctx};

	if (!pt->root_pa) {
		return;
	}
	walk_level(pt->root_pa, pt->levels, iova_make(0), &w);
	if (w.run.len) {
		fn(ctx, &w.run);
	}
}
