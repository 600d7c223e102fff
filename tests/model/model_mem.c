/*
 * The VT-d hardware model: simulated physical memory: tables, RAM, freed-
 * page quarantine, the device view of non-coherent units.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "drivers/hw.h"
#include "lib/log.h"

#include "tests/model/model_int.h"
#include "tests/model/model_ir.h"

/* ---- memory ---- */

uint8_t model_page_state(uint64_t pa)
{
	if (pa >= PHYS_SIZE)
		return PG_UNUSED;
	return M.state[pa / PG];
}

bool model_readable(uint64_t pa)
{
	uint8_t s = model_page_state(pa);

	return s == PG_TABLE || s == PG_RAM;
}

void *hw_phys_to_virt(uint64_t pa)
{
	return model_readable(pa) ? M.cpu + pa : NULL;
}

uint64_t hw_virt_to_phys(const void *va)
{
	return (uint64_t)((const uint8_t *)va - M.cpu);
}

uint64_t model_reserve(uint64_t len, uint64_t align, uint8_t state)
{
	uint64_t pa = (M.next_pa + align - 1) & ~(align - 1);
	uint64_t pages = (len + PG - 1) / PG, i;

	if (pa + pages * PG > PHYS_SIZE)
		return 0;
	for (i = 0; i < pages; i++)
		M.state[pa / PG + i] = state;
	M.next_pa = pa + pages * PG;
	return pa;
}

/*
 * A fresh page is zero for the CPU, but a non-model_coherent walker would see
 * whatever memory held before the zeroes leave the cache: poison.
 */
uint64_t hw_page_alloc(void)
{
	uint64_t pa;

	if (M.alloc_fails) {
		return 0;
	}
	if (M.recycled_count) {
		pa = M.recycled[--M.recycled_count];
		M.state[pa / PG] = PG_TABLE;
		memset(M.cpu + pa, 0, PG);
	} else {
		pa = model_reserve(PG, PG, PG_TABLE);
		if (!pa)
			return 0;
	}
	memset(M.dev + pa, 0xa5, PG);
	M.table_pages++;
	return pa;
}

void model_page_alloc_fail(bool fail)
{
	M.alloc_fails = fail;
}

uint64_t model_ram_alloc(uint64_t len, uint64_t align)
{
	return model_reserve(len, align < PG ? PG : align, PG_RAM);
}

uint64_t model_table_pages(void)
{
	return M.table_pages;
}

static bool path_uses(const struct tlb_entry *e, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < e->path_len; i++) {
		if ((e->path[i] & ~(uint64_t)(PG - 1)) == page)
			return true;
	}
	return false;
}

/*
 * docs/design.md, invariant 2: a page must not be freed while a unit can
 * still reach it through what it has latched or cached.  With TE off nothing is
 * used, and software must invalidate globally before turning it on again, so
 * the cached copies are simply dropped.
 */
static void check_free(struct munit *mu, uint64_t pa)
{
	bool te = mu->gsts & G_TE;
	unsigned int i;

	if (te && (mu->root_active & ADDR_MASK) == pa)
		model_violation("unit %u: root table 0x%llx freed while in use",
				mu->index, (unsigned long long)pa);
	if ((mu->gsts & G_QIE) && (mu->iqa & ADDR_MASK) == pa)
		model_violation(
			"unit %u: invalidation queue 0x%llx freed while enabled",
			mu->index, (unsigned long long)pa);
	for (i = 0; i < CTX_CACHE; i++) {
		struct ctx_cache_entry *c = &mu->ctx[i];

		if (!c->valid || !c->present || (c->lo & ADDR_MASK) != pa)
			continue;
		if (te)
			model_violation(
				"unit %u: page 0x%llx freed while a cached context entry (sid %04x) points to it",
				mu->index, (unsigned long long)pa, c->sid);
		c->valid = false;
	}
	for (i = 0; i < PASID_CACHE; i++) {
		struct pasid_cache_entry *c = &mu->pc[i];
		unsigned int pgtt = (unsigned int)model_fld(c->val[0], 8, 6);
		bool uses = (c->val[0] & ADDR_MASK) == pa ||
			    (pgtt == PGTT_FL && (c->val[2] & ADDR_MASK) == pa);

		if (!c->valid || !c->present || !uses) {
			continue;
		}
		if (te) {
			model_violation(
				"unit %u: table page 0x%llx freed while a cached PASID entry (sid %04x PASID %u) points to it",
				mu->index, (unsigned long long)pa, c->sid,
				c->pasid);
		}
		c->valid = false;
	}
	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];

		if (!t->valid || !path_uses(t, pa))
			continue;
		if (te)
			model_violation(
				"unit %u: table page 0x%llx freed while the IOTLB still caches a walk through it (did %u iova 0x%llx)",
				mu->index, (unsigned long long)pa, t->did,
				(unsigned long long)t->iova);
		t->valid = false;
	}
	/* A PASID table page going away: its entries are forgotten. */
	for (i = 0; i < mu->pe_shadow_count;) {
		if ((mu->pe_shadow[i].pa & ~(uint64_t)(PG - 1)) == pa) {
			mu->pe_shadow[i] = mu->pe_shadow[--mu->pe_shadow_count];
		} else {
			i++;
		}
	}
}

void hw_page_free(uint64_t pa)
{
	uint64_t *slot;
	unsigned int i;

	if ((pa & (PG - 1)) || model_page_state(pa) != PG_TABLE) {
		model_violation(
			"hw_page_free(0x%llx): not an allocated table page",
			(unsigned long long)pa);
		return;
	}
	for (i = 0; i < M.unit_count; i++)
		check_free(&M.units[i], pa);
	M.state[pa / PG] = PG_FREED;
	M.table_pages--;
	/* A ring: once full, its oldest page becomes allocatable again. */
	slot = &M.quarantine[M.quarantine_count++ % QUARANTINE];
	if (M.quarantine_count > QUARANTINE) {
		M.recycled = realloc(M.recycled, (M.recycled_count + 1) *
							 sizeof(*M.recycled));
		M.recycled[M.recycled_count++] = *slot;
	}
	*slot = pa;
}

void *hw_zalloc(size_t size)
{
	return calloc(1, size);
}

void hw_free(void *p)
{
	free(p);
}

/* The device view catches up with whole cache lines. */
void hw_cache_flush(const void *va, size_t len)
{
	uint64_t pa = hw_virt_to_phys(va);
	uint64_t start = pa & ~(uint64_t)(LINE - 1);
	uint64_t end = (pa + len + LINE - 1) & ~(uint64_t)(LINE - 1);

	if (pa >= PHYS_SIZE || end > PHYS_SIZE) {
		model_violation("hw_cache_flush of non-model memory");
		return;
	}
	memcpy(M.dev + start, M.cpu + start, end - start);
	model_ir_flushed(start, end - start);
	model_probe_all();
}

void hw_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * A hardware read of remapping structures, snooped or not: root, context
 * and PASID structures as ECAP.C says; in model_scalable mode page tables as
 * SMPWC and the PASID entry's PWSNP say.
 */
bool model_walk_read_snoop(struct munit *mu, uint64_t pa, uint64_t *val,
			   bool snoop)
{
	uint64_t cpu, dev;

	if (!model_readable(pa)) {
		model_violation("unit %u: table read at 0x%llx of %s memory",
				mu->index, (unsigned long long)pa,
				model_page_state(pa) == PG_FREED
					? "freed"
					: "unallocated");
		return false;
	}
	memcpy(&cpu, M.cpu + pa, 8);
	if (snoop) {
		*val = cpu;
		return true;
	}
	memcpy(&dev, M.dev + pa, 8);
	/* Between a store and its flush, the old value is what it sees. */
	if (dev != cpu && !M.storing)
		model_violation(
			"unit %u: table entry at 0x%llx written by the CPU but not flushed (sees 0x%llx, CPU has 0x%llx)",
			mu->index, (unsigned long long)pa,
			(unsigned long long)dev, (unsigned long long)cpu);
	*val = dev;
	return true;
}

bool model_walk_read(struct munit *mu, uint64_t pa, uint64_t *val)
{
	return model_walk_read_snoop(mu, pa, val, model_coherent(mu));
}

/* For model_ir.c: interrupt remapping table reads, and the unit's state. */
bool model_table_read(unsigned int unit, uint64_t pa, uint64_t *val)
{
	return model_walk_read(&M.units[unit], pa, val);
}

uint32_t model_unit_gsts(unsigned int unit)
{
	return M.units[unit].gsts;
}

uint64_t model_unit_ecap(unsigned int unit)
{
	return M.units[unit].cfg.ecap;
}

/* A DMA-style write by the unit itself (status words): model_coherent. */
void model_unit_write32(struct munit *mu, uint64_t pa, uint32_t val)
{
	if (!model_readable(pa) || (pa & 3)) {
		model_violation("unit %u: status write to 0x%llx (%s)",
				mu->index, (unsigned long long)pa,
				model_page_state(pa) == PG_FREED
					? "freed"
					: "not memory");
		return;
	}
	memcpy(M.cpu + pa, &val, 4);
	memcpy(M.dev + pa, &val, 4);
}
