/*
 * The VT-d hardware model: context cache, IOTLB, scalable-mode structures
 * and the translation walks.
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

/* ---- context cache, IOTLB, shadow of context entries ---- */

/*
 * docs/design.md, invariant 5: a context entry seen present must be seen
 * not present (at an invalidation or a walk) before it is seen present with
 * other contents.
 */
static void ctx_observe(struct munit *mu, uint16_t sid, uint64_t lo,
			uint64_t hi)
{
	struct shadow *s = &mu->shadow[sid];

	if (s->seen && (s->lo & 1) && (lo & 1) && (s->lo != lo || s->hi != hi))
		model_violation(
			"unit %u: context entry of sid %04x changed while present (%016llx:%016llx -> %016llx:%016llx)",
			mu->index, sid, (unsigned long long)s->hi,
			(unsigned long long)s->lo, (unsigned long long)hi,
			(unsigned long long)lo);
	s->seen = true;
	s->lo = lo;
	s->hi = hi;
}

/* Reads sid's context entry from memory; false if there is none. */
static bool ctx_read(struct munit *mu, uint16_t sid, uint64_t *lo, uint64_t *hi,
		     unsigned int *reason)
{
	uint64_t root = mu->root_active & ADDR_MASK, rlo, rhi, ctp;

	*reason = 0;
	if (!model_walk_read(mu, root + (sid >> 8) * 16, &rlo) ||
	    !model_walk_read(mu, root + (sid >> 8) * 16 + 8, &rhi)) {
		*reason = FR_ROOT_RSVD;
		return false;
	}
	if (!(rlo & 1)) {
		/* No context table: the entry is seen not present. */
		mu->shadow[sid].lo = 0;
		*reason = FR_ROOT_NP;
		return false;
	}
	if ((rlo & 0xffe) || rhi) {
		*reason = FR_ROOT_RSVD;
		return false;
	}
	ctp = rlo & ADDR_MASK;
	if (!model_walk_read(mu, ctp + (sid & 0xff) * 16, lo) ||
	    !model_walk_read(mu, ctp + (sid & 0xff) * 16 + 8, hi)) {
		*reason = FR_CTX_RSVD;
		return false;
	}
	ctx_observe(mu, sid, *lo, *hi);
	if (!(*lo & 1)) {
		*reason = FR_CTX_NP;
		return false;
	}
	return true;
}

/* Every context entry reachable from the root (at a context-cache flush). */
/*
 * Legacy: one context table per bus, 16-byte entries.  Scalable: one per
 * root-entry word, 128 entries of 32 bytes each.
 */
void model_ctx_scan(struct munit *mu)
{
	uint64_t root = mu->root_active & ADDR_MASK, rlo, lo, hi;
	unsigned int bus, devfn, size = model_scalable(mu) ? 32 : 16;
	unsigned int per_table = model_scalable(mu) ? 128 : 256;

	if (!root || !model_readable(root))
		return;
	for (bus = 0; bus < 256; bus++) {
		for (devfn = 0; devfn < 256; devfn++) {
			uint64_t e;

			if (devfn % per_table == 0 &&
			    (!model_walk_read(mu,
					      root + bus * 16 +
						      (devfn / per_table) * 8,
					      &rlo) ||
			     !(rlo & 1))) {
				/* No context table: its entries are not
				 * present. */
				for (e = 0; e < per_table; e++) {
					mu->shadow[bus << 8 | (devfn + e)].lo =
						0;
				}
				devfn += per_table - 1;
				continue;
			}
			e = (rlo & ADDR_MASK) + (devfn % per_table) * size;
			if (!model_walk_read(mu, e, &lo) ||
			    !model_walk_read(mu, e + 8, &hi))
				break;
			ctx_observe(mu, (uint16_t)(bus << 8 | devfn), lo, hi);
		}
	}
}

/*
 * The context entry holding pa, if pa lies in a context table the unit's
 * root table names now (CPU view: a line may be written back at any
 * moment); false otherwise.
 */
static bool ctx_entry_at(struct munit *mu, uint64_t pa, uint16_t *sid,
			 uint64_t *entry)
{
	uint64_t root = mu->root_active & ADDR_MASK, rlo, page = pa & ADDR_MASK;
	unsigned int bus, half, halves = model_scalable(mu) ? 2 : 1;
	unsigned int size = model_scalable(mu) ? 32 : 16;

	if (!root || !model_readable(root))
		return false;
	for (bus = 0; bus < 256; bus++) {
		for (half = 0; half < halves; half++) {
			memcpy(&rlo, M.cpu + root + bus * 16 + half * 8, 8);
			if (!(rlo & 1) || (rlo & ADDR_MASK) != page)
				continue;
			*entry = (pa & ~(uint64_t)(size - 1));
			*sid = (uint16_t)(bus << 8 | (half * 128 +
						      (pa & (PG - 1)) / size));
			return true;
		}
	}
	return false;
}

/*
 * Every store the driver makes to a structure a unit reads.  The unit may
 * read between any two: a context entry is observed at each store
 * (docs/design.md, invariant 5, whatever flushes come later), and
 * watching devices walk.
 */
void hw_table_write(uint64_t *p, uint64_t val)
{
	uint64_t pa = hw_virt_to_phys(p), entry, lo, hi;
	unsigned int i;
	uint16_t sid;

	if (pa >= PHYS_SIZE || (pa & 7) || model_page_state(pa) != PG_TABLE) {
		model_violation("table store to 0x%llx, not a table page",
				(unsigned long long)pa);
		return;
	}
	*(volatile uint64_t *)p = val;
	for (i = 0; i < M.unit_count; i++) {
		if (!ctx_entry_at(&M.units[i], pa, &sid, &entry))
			continue;
		memcpy(&lo, M.cpu + entry, 8);
		memcpy(&hi, M.cpu + entry + 8, 8);
		ctx_observe(&M.units[i], sid, lo, hi);
	}
	model_ir_stored(pa);
	M.storing = true;
	model_probe_all();
	M.storing = false;
}

/* A run is its stores one by one: each checked and observed alone. */
void hw_table_write_run(uint64_t *p, uint64_t val, uint64_t step,
			unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++, val += step) {
		hw_table_write(&p[i], val);
	}
}

/* ---- model_scalable-mode structures ---- */

/*
 * sid's model_scalable-mode context entry (9.2, 9.4): the root entry's lower
 * word leads to devfn 0-127, its upper word to 128-255; words 2 and 3 of
 * the entry, and whatever the unit cannot do, are reserved.  Returns 0 or
 * a fault reason; *lo and *hi get words 0 and 1.
 */
static unsigned int sm_ctx_read(struct munit *mu, uint16_t sid, uint64_t *lo,
				uint64_t *hi)
{
	uint64_t root = mu->root_active & ADDR_MASK, half, e, w2, w3;
	uint64_t rsvd = UINT64_C(0x1e0);

	*lo = *hi = 0;
	if (!model_walk_read(mu, root + (sid >> 8) * 16 + (sid & 0x80 ? 8 : 0),
			     &half)) {
		return SM_ROOT_READ;
	}
	if (!(half & 1)) {
		return SM_ROOT_NP;
	}
	if (half & 0xffe) {
		return SM_ROOT_RSVD;
	}
	e = (half & ADDR_MASK) + (sid & 0x7f) * 32;
	if (!model_walk_read(mu, e, lo) || !model_walk_read(mu, e + 8, hi) ||
	    !model_walk_read(mu, e + 16, &w2) ||
	    !model_walk_read(mu, e + 24, &w3)) {
		return SM_CTX_READ;
	}
	ctx_observe(mu, sid, *lo, *hi);
	if (!(*lo & 1)) {
		return SM_CTX_NP;
	}
	if (!model_ecap_bit(mu, EC_DT)) {
		rsvd |= 1U << 2;
	}
	if (!model_ecap_bit(mu, EC_PASID)) {
		rsvd |= 1U << 3;
	}
	if (!model_ecap_bit(mu, EC_PRS)) {
		rsvd |= 1U << 4;
	}
	if ((*lo & rsvd) || (*hi >> 21) || w2 || w3) {
		return SM_CTX_RSVD;
	}
	return 0;
}

static struct pe_shadow *pe_shadow_of(struct munit *mu, uint64_t pa)
{
	size_t i;

	for (i = 0; i < mu->pe_shadow_count; i++) {
		if (mu->pe_shadow[i].pa == pa) {
			return &mu->pe_shadow[i];
		}
	}
	mu->pe_shadow = realloc(mu->pe_shadow, (mu->pe_shadow_count + 1) *
						       sizeof(*mu->pe_shadow));
	memset(&mu->pe_shadow[mu->pe_shadow_count], 0, sizeof(*mu->pe_shadow));
	mu->pe_shadow[mu->pe_shadow_count].pa = pa;
	return &mu->pe_shadow[mu->pe_shadow_count++];
}

/*
 * docs/design.md, invariant 5, for PASID entries: one seen present must
 * be seen not present before it is seen present with other contents.  With
 * stores in order and the unit free to read at any moment, a driver that writes
 * a present entry in place is seen here sooner or later.
 */
static void pe_observe(struct munit *mu, uint64_t pa, const uint64_t *val)
{
	struct pe_shadow *s = pe_shadow_of(mu, pa);

	if ((s->val[0] & 1) && (val[0] & 1) &&
	    memcmp(s->val, val, sizeof(s->val))) {
		model_violation(
			"unit %u: PASID entry at 0x%llx changed while present (%016llx:%016llx:%016llx -> %016llx:%016llx:%016llx)",
			mu->index, (unsigned long long)pa,
			(unsigned long long)s->val[2],
			(unsigned long long)s->val[1],
			(unsigned long long)s->val[0],
			(unsigned long long)val[2], (unsigned long long)val[1],
			(unsigned long long)val[0]);
	}
	memcpy(s->val, val, sizeof(s->val));
}

static bool pe_read_words(struct munit *mu, uint64_t pa, uint64_t *val)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		if (!model_walk_read(mu, pa + 8 * i, &val[i])) {
			return false;
		}
	}
	return true;
}

/* Every PASID entry seen so far, as the unit sees it now. */
void model_pe_scan(struct munit *mu)
{
	uint64_t val[8];
	size_t i;

	for (i = 0; i < mu->pe_shadow_count; i++) {
		if (model_readable(mu->pe_shadow[i].pa) &&
		    pe_read_words(mu, mu->pe_shadow[i].pa, val)) {
			pe_observe(mu, mu->pe_shadow[i].pa, val);
		}
	}
}

static unsigned int levels_of_aw(uint64_t aw)
{
	return (unsigned int)aw + 2;
}

/*
 * What a present PASID entry must be (9.6): a PGTT the unit supports, AW a
 * depth in SAGAW (QEMU 7.2 requires it whatever the PGTT,
 * docs/scenarios.md, qemu-pasid-aw, and so does the model), FLPM a depth the
 * unit walks, reserved fields clear.  Stricter than hardware where moat sets
 * nothing: every field the driver does not use counts as reserved.
 */
static unsigned int pe_check(const struct munit *mu, const uint64_t *val)
{
	unsigned int pgtt = (unsigned int)model_fld(val[0], 8, 6), i;
	unsigned int aw = (unsigned int)model_fld(val[0], 4, 2);
	uint64_t rsvd1 = ~(UINT64_C(0xffff) | (UINT64_C(1) << 23));

	if (!model_ecap_bit(mu, EC_SMPWC)) {
		rsvd1 |= UINT64_C(1) << 23;
	}
	if ((val[0] & 0xe20) || (val[1] & rsvd1) ||
	    (val[2] & ~(ADDR_MASK | (UINT64_C(3) << 2))) ||
	    (val[2] && pgtt != PGTT_FL && pgtt != PGTT_NESTED)) {
		return SM_PE_RSVD;
	}
	for (i = 3; i < 8; i++) {
		if (val[i]) {
			return SM_PE_RSVD;
		}
	}
	if ((pgtt == PGTT_FL && !model_ecap_bit(mu, EC_FLTS)) ||
	    (pgtt == PGTT_SL && !model_ecap_bit(mu, EC_SLTS)) ||
	    (pgtt == PGTT_NESTED && !model_ecap_bit(mu, EC_NEST)) ||
	    (pgtt == PGTT_PT && !model_ecap_bit(mu, EC_PT)) || !pgtt ||
	    pgtt > 4) {
		return SM_PE_INVALID;
	}
	if (aw < 1 || aw > 3 || !(model_cap_sagaw(mu) & (1U << aw))) {
		return SM_PE_INVALID;
	}
	if ((pgtt == PGTT_FL || pgtt == PGTT_NESTED) &&
	    (model_fld(val[2], 3, 2) > 1 ||
	     (model_fld(val[2], 3, 2) == 1 && !model_cap_bit(mu, 60)))) {
		return SM_PE_INVALID;
	}
	return 0;
}

/*
 * The PASID entry of pasid behind a context entry's directory (9.5, 9.6).
 * Returns 0 or a fault reason; *pa is where the entry is.
 */
static unsigned int pe_read(struct munit *mu, uint64_t ctx_lo, uint32_t pasid,
			    uint64_t *val, uint64_t *pa)
{
	uint64_t de;

	if (!model_walk_read(mu, (ctx_lo & ADDR_MASK) + (pasid >> 6) * 8,
			     &de)) {
		return SM_PDE_READ;
	}
	if (!(de & 1)) {
		return SM_PDE_NP;
	}
	if (de & 0xffc) {
		return SM_PDE_RSVD;
	}
	*pa = (de & ADDR_MASK) + (pasid & 63) * 64;
	if (!pe_read_words(mu, *pa, val)) {
		return SM_PE_READ;
	}
	pe_observe(mu, *pa, val);
	if (!(val[0] & 1)) {
		return SM_PE_NP;
	}
	return pe_check(mu, val);
}

static struct pasid_cache_entry *pc_lookup(struct munit *mu, uint16_t sid,
					   uint32_t pasid)
{
	unsigned int i;

	for (i = 0; i < PASID_CACHE; i++) {
		if (mu->pc[i].valid && mu->pc[i].sid == sid &&
		    mu->pc[i].pasid == pasid) {
			return &mu->pc[i];
		}
	}
	return NULL;
}

/* Not-present entries are cached (CM only) under domain id 0, like 6.1. */
static struct pasid_cache_entry *pc_insert(struct munit *mu, uint16_t sid,
					   uint32_t pasid, bool present,
					   const uint64_t *val)
{
	struct pasid_cache_entry *c = &mu->pc[mu->pc_next++ % PASID_CACHE];

	c->valid = true;
	c->present = present;
	c->sid = sid;
	c->pasid = pasid;
	c->did = present ? (uint16_t)model_fld(val[1], 15, 0) : 0;
	memcpy(c->val, val, sizeof(c->val));
	return c;
}

static struct ctx_cache_entry *ctx_lookup(struct munit *mu, uint16_t sid)
{
	unsigned int i;

	for (i = 0; i < CTX_CACHE; i++) {
		if (mu->ctx[i].valid && mu->ctx[i].sid == sid)
			return &mu->ctx[i];
	}
	return NULL;
}

static struct ctx_cache_entry *ctx_insert(struct munit *mu, uint16_t sid,
					  bool present, uint64_t lo,
					  uint64_t hi)
{
	struct ctx_cache_entry *c = &mu->ctx[mu->ctx_next++ % CTX_CACHE];

	c->valid = true;
	c->present = present;
	c->sid = sid;
	c->lo = lo;
	c->hi = hi;
	/*
	 * Not-present entries are cached under domain id 0 (CM); model_scalable
	 * context entries carry no domain id.
	 */
	c->did = present && !model_scalable(mu) ? (uint16_t)model_fld(hi, 23, 8)
						: 0;
	return c;
}

static struct tlb_entry *tlb_lookup(struct munit *mu, uint16_t did,
				    uint32_t pasid, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];

		if (t->valid && t->did == did && t->pasid == pasid &&
		    iova >= t->iova && iova - t->iova < t->size) {
			return t;
		}
	}
	return NULL;
}

static struct tlb_entry *tlb_insert(struct munit *mu)
{
	struct tlb_entry *t = &mu->tlb[mu->tlb_next++ % IOTLB_SIZE];

	memset(t, 0, sizeof(*t));
	t->valid = true;
	return t;
}

/* ---- translation ---- */

static uint64_t level_size(unsigned int level)
{
	return UINT64_C(1) << (12 + 9 * (level - 1));
}

static bool leaf_size_allowed(const struct munit *mu, unsigned int level)
{
	if (level == 2)
		return model_cap_sllps(mu) & 1;
	if (level == 3)
		return model_cap_sllps(mu) & 2;
	return false;
}

static void path_add(struct tlb_entry *t, uint64_t table)
{
	if (t->path_len < MAX_PATH) {
		t->path[t->path_len++] = table;
	} else {
		fprintf(stderr, "model: walk path too long\n");
	}
}

/*
 * Walks the second-level tables; fills t on success.  Returns 0, a legacy
 * reason (the model_scalable-mode caller converts it) or WALK_NP.
 */
static unsigned int sl_walk(struct munit *mu, uint64_t slptptr,
			    unsigned int levels, uint64_t iova,
			    struct tlb_entry *t, bool snoop)
{
	uint64_t table = slptptr & ADDR_MASK, e, rights = SL_R | SL_W;
	unsigned int level;

	for (level = levels; level >= 1; level--) {
		unsigned int idx = (unsigned int)model_fld(
			iova, 12 + 9 * level - 1, 12 + 9 * (level - 1));

		path_add(t, table);
		if (!model_walk_read_snoop(mu, table + idx * 8, &e, snoop)) {
			return FR_PTE_READ;
		}
		if (!(e & (SL_R | SL_W)))
			return WALK_NP; /* not present: caller decides 5/6 */
		rights &= e & (SL_R | SL_W);
		/* Stricter than hardware: moat sets nothing but R, W, PS. */
		if (e & ~(ADDR_MASK | SL_R | SL_W | SL_PS))
			return FR_PTE_RSVD;
		if (level > 1 && (e & SL_PS)) {
			uint64_t size = level_size(level);

			if (!leaf_size_allowed(mu, level) ||
			    (e & ADDR_MASK & (size - 1)))
				return FR_PTE_RSVD;
			t->iova = iova & ~(size - 1);
			t->size = size;
			t->hpa = e & ADDR_MASK;
			t->rights = rights;
			return 0;
		}
		if (level == 1) {
			if (e & SL_PS)
				return FR_PTE_RSVD;
			t->iova = iova & ~(uint64_t)(PG - 1);
			t->size = PG;
			t->hpa = e & ADDR_MASK;
			t->rights = rights;
			return 0;
		}
		table = e & ADDR_MASK;
	}
	return FR_PTE_READ;
}

/* Translate one legacy-mode access; 0 and *hpa, or a fault reason. */
static unsigned int translate_legacy(struct munit *mu, const struct request *rq,
				     uint64_t *hpa)
{
	struct ctx_cache_entry *c = ctx_lookup(mu, rq->sid);
	unsigned int reason, levels, aw;
	uint64_t lo, hi, need = rq->write ? SL_W : SL_R;
	struct tlb_entry *t, walk = {0};
	uint16_t did;

	/* Requests with PASID need model_scalable mode (7.1.3, 0x31). */
	if (rq->pasid != MODEL_NO_PASID) {
		return SM_TTM0_PASID;
	}
	if (!c) {
		if (!ctx_read(mu, rq->sid, &lo, &hi, &reason)) {
			if (reason == FR_CTX_NP && model_cap_cm(mu))
				ctx_insert(mu, rq->sid, false, lo, hi);
			return reason;
		}
		if ((lo & 0xff0) || (hi & 0xffffffffff000080ULL))
			return FR_CTX_RSVD;
		/* TT 01 (device-TLB) needs ECAP.DT; 10 is pass-through. */
		if (model_fld(lo, 3, 2) > 1 ||
		    (model_fld(lo, 3, 2) == 1 && !model_ecap_bit(mu, EC_DT)))
			return FR_CTX_INVALID;
		aw = (unsigned int)model_fld(hi, 2, 0);
		if (aw < 1 || aw > 3 || !(model_cap_sagaw(mu) & (1U << aw)))
			return FR_CTX_INVALID;
		c = ctx_insert(mu, rq->sid, true, lo, hi);
	}
	if (!c->present)
		return FR_CTX_NP;
	did = c->did;
	levels = (unsigned int)model_fld(c->hi, 2, 0) + 2;
	aw = 12 + 9 * levels;
	if (aw > model_cap_mgaw(mu))
		aw = model_cap_mgaw(mu);
	if (aw < 64 && rq->iova >> aw) {
		return FR_AW;
	}

	t = tlb_lookup(mu, did, 0, rq->iova);
	if (t) {
		mu->stats.iotlb_hits++;
	} else {
		mu->stats.iotlb_misses++;
		reason = sl_walk(mu, c->lo, levels, rq->iova, &walk,
				 model_coherent(mu));
		if (reason == WALK_NP) {
			/* CM: not-present leaves may be cached too. */
			if (model_cap_cm(mu)) {
				t = tlb_insert(mu);
				t->negative = true;
				t->did = did;
				t->pgtt = PGTT_SL;
				t->iova = rq->iova & ~(uint64_t)(PG - 1);
				t->size = PG;
			}
			return rq->write ? FR_WRITE : FR_READ;
		}
		if (reason)
			return reason;
		t = tlb_insert(mu);
		*t = walk;
		t->valid = true;
		t->did = did;
		t->pgtt = PGTT_SL;
	}
	if (t->negative || !(t->rights & need)) {
		return rq->write ? FR_WRITE : FR_READ;
	}
	*hpa = t->hpa + (rq->iova - t->iova);
	return 0;
}

/* How a first-level walk reaches memory: directly or through nesting. */
struct fl_walker {
	struct munit *mu;
	bool snoop;
	bool nested;
	uint64_t slptptr; /* nested: the second level */
	unsigned int sl_levels;
	struct tlb_entry *t; /* collects the pages read */
};

/*
 * A guest-physical address through the nested second level with the
 * rights need: 0 and *hpa, or WALK_NP when not permitted, or a reason.
 */
static unsigned int nested_sl(struct fl_walker *w, uint64_t gpa, uint64_t need,
			      uint64_t *hpa, uint64_t *size)
{
	struct tlb_entry sub = {0};
	unsigned int reason, i;

	reason = sl_walk(w->mu, w->slptptr, w->sl_levels, gpa, &sub, w->snoop);
	for (i = 0; i < sub.path_len; i++) {
		path_add(w->t, sub.path[i]);
	}
	if (reason == WALK_NP || (!reason && !(sub.rights & need))) {
		return WALK_NP;
	}
	if (reason) {
		return reason == FR_PTE_RSVD ? SM_SL_RSVD : SM_SL_READ;
	}
	*hpa = sub.hpa + (gpa - sub.iova);
	*size = sub.size;
	return 0;
}

/*
 * Hardware sets accessed and dirty flags (9.7) with an atomic write to
 * the table, which a walk that does not snoop cannot do: fault 0x90.
 */
static unsigned int fl_set_flag(struct fl_walker *w, uint64_t pa, uint64_t e,
				uint64_t flag)
{
	if (e & flag) {
		return 0;
	}
	if (!w->snoop) {
		return SM_FL_AD;
	}
	e |= flag;
	memcpy(M.cpu + pa, &e, 8);
	memcpy(M.dev + pa, &e, 8);
	w->mu->stats.ad_updates++;
	return 0;
}

/*
 * Walks first-level tables (9.7): canonical addresses, a present bit at
 * every level, R/W and U/S ANDed along the walk (requests here are user
 * requests: U/S must be set everywhere), 2 MiB leaves, 1 GiB leaves only
 * with FL1GP.  Fills t (nested: with a guest-physical output in t->hpa).
 */
static unsigned int fl_walk(struct fl_walker *w, uint64_t flptr,
			    unsigned int levels, const struct request *rq)
{
	uint64_t table = flptr & ADDR_MASK, e, pa, size, sz, top;
	unsigned int level, reason;
	bool rw = true, us = true;
	struct tlb_entry *t = w->t;

	top = rq->iova >> (12 + 9 * levels - 1);
	if (top && top != (~UINT64_C(0) >> (12 + 9 * levels - 1))) {
		return SM_NOT_CANONICAL;
	}
	for (level = levels; level >= 1; level--) {
		pa = table + model_fld(rq->iova, 12 + 9 * level - 1,
				       12 + 9 * (level - 1)) *
				     8;
		if (w->nested) {
			reason = nested_sl(w, pa, SL_R, &pa, &sz);
			if (reason == WALK_NP) {
				return level == levels ? SM_NESTED_FL_TOP
						       : SM_NESTED_FL;
			}
			if (reason) {
				return reason;
			}
		}
		path_add(t, pa & ~(uint64_t)(PG - 1));
		if (!model_walk_read_snoop(w->mu, pa, &e, w->snoop)) {
			return SM_FL_READ;
		}
		if (!(e & FL_P)) {
			return SM_FL_NP;
		}
		/* Stricter than hardware: moat sets nothing else. */
		if (e & ~(ADDR_MASK | FL_P | FL_RW | FL_US | FL_A | FL_D |
			  FL_PS | FL_XD)) {
			return SM_FL_RSVD;
		}
		rw = rw && (e & FL_RW);
		us = us && (e & FL_US);
		reason = fl_set_flag(w, pa, e, FL_A);
		if (reason) {
			return reason;
		}
		if (level > 1 && !(e & FL_PS)) {
			table = e & ADDR_MASK;
			continue;
		}
		size = level_size(level);
		if ((level > 3) || (level == 3 && !model_cap_bit(w->mu, 56)) ||
		    (e & ADDR_MASK & (size - 1))) {
			return SM_FL_RSVD;
		}
		if (rq->write && rw) {
			reason = fl_set_flag(w, pa, e | FL_A, FL_D);
			if (reason) {
				return reason;
			}
		}
		t->iova = rq->iova & ~(size - 1);
		t->size = size;
		t->hpa = e & ADDR_MASK;
		t->rights = SL_R | (rw ? SL_W : 0);
		break;
	}
	return us ? 0 : SM_US;
}

/* Nested: the first-level result is a guest-physical address. */
static unsigned int nested_output(struct fl_walker *w, const struct request *rq)
{
	struct tlb_entry *t = w->t;
	uint64_t gpa = t->hpa + (rq->iova - t->iova), hpa, size;
	unsigned int reason;

	reason = nested_sl(w, gpa, t->rights & (rq->write ? SL_W : SL_R), &hpa,
			   &size);
	if (reason) {
		return reason == WALK_NP ? (rq->write ? SM_WRITE : SM_READ)
					 : reason;
	}
	/* Cached at the smaller of the two page sizes: one page here. */
	t->iova = rq->iova & ~(uint64_t)(PG - 1);
	t->size = PG;
	t->hpa = hpa & ~(uint64_t)(PG - 1);
	return 0;
}

/* Walks what a PASID entry says; fills t. */
static unsigned int sm_walk(struct munit *mu, const struct pasid_cache_entry *p,
			    const struct request *rq, struct tlb_entry *t)
{
	unsigned int pgtt = (unsigned int)model_fld(p->val[0], 8, 6);
	unsigned int levels = levels_of_aw(model_fld(p->val[0], 4, 2)), aw,
		     reason;
	struct fl_walker w = {
		.mu = mu,
		.snoop = model_ecap_bit(mu, EC_SMPWC) &&
			 (p->val[1] & (1U << 23)),
		.nested = pgtt == PGTT_NESTED,
		.slptptr = p->val[0],
		.sl_levels = levels,
		.t = t,
	};
	unsigned int fl_levels = model_fld(p->val[2], 3, 2) ? 5 : 4;

	if (pgtt == PGTT_FL || pgtt == PGTT_NESTED) {
		reason = fl_walk(&w, p->val[2], fl_levels, rq);
		if (!reason && w.nested) {
			reason = nested_output(&w, rq);
		}
		return reason;
	}
	aw = 12 + 9 * levels;
	if (aw > model_cap_mgaw(mu)) {
		aw = model_cap_mgaw(mu);
	}
	if (rq->iova >> aw) {
		return SM_AW;
	}
	reason = sl_walk(mu, p->val[0], levels, rq->iova, t, w.snoop);
	if (reason == FR_PTE_READ) {
		return SM_SL_READ;
	}
	if (reason == FR_PTE_RSVD) {
		return SM_SL_RSVD;
	}
	return reason;
}

/* The context entry, from the cache or memory; 0 or a fault reason. */
static unsigned int sm_context(struct munit *mu, uint16_t sid,
			       struct ctx_cache_entry **c)
{
	unsigned int reason;
	uint64_t lo, hi;

	*c = ctx_lookup(mu, sid);
	if (!*c) {
		reason = sm_ctx_read(mu, sid, &lo, &hi);
		if (reason == SM_CTX_NP && model_cap_cm(mu)) {
			ctx_insert(mu, sid, false, lo, hi);
		}
		if (reason) {
			return reason;
		}
		*c = ctx_insert(mu, sid, true, lo, hi);
	}
	return (*c)->present ? 0 : SM_CTX_NP;
}

/*
 * The PASID entry a request uses, from the cache or memory: its own PASID
 * (PASIDE needed), or the context entry's RID_PASID (0 without ECAP.RPS).
 */
static unsigned int sm_pasid_entry(struct munit *mu, const struct request *rq,
				   struct pasid_cache_entry **p,
				   uint32_t *pasid)
{
	struct ctx_cache_entry *c;
	uint64_t val[8] = {0}, pa;
	unsigned int reason;

	reason = sm_context(mu, rq->sid, &c);
	if (reason) {
		return reason;
	}
	if (rq->pasid != MODEL_NO_PASID) {
		if (!(c->lo & (1U << 3))) {
			return SM_PASIDE;
		}
		*pasid = rq->pasid;
	} else {
		*pasid = (uint32_t)model_fld(c->hi, 19, 0);
		if (*pasid && !model_ecap_bit(mu, EC_RPS)) {
			return SM_RID_PASID;
		}
	}
	if ((*pasid >> 6) >> (model_fld(c->lo, 11, 9) + 7)) {
		return rq->pasid != MODEL_NO_PASID ? SM_PASID_MAX
						   : SM_RID_PASID;
	}
	*p = pc_lookup(mu, rq->sid, *pasid);
	if (*p) {
		mu->stats.pasid_cache_hits++;
	} else {
		reason = pe_read(mu, c->lo, *pasid, val, &pa);
		if (reason == SM_PE_NP && model_cap_cm(mu)) {
			pc_insert(mu, rq->sid, *pasid, false, val);
		}
		if (reason) {
			return reason;
		}
		*p = pc_insert(mu, rq->sid, *pasid, true, val);
	}
	return (*p)->present ? 0 : SM_PE_NP;
}

/* Translate one model_scalable-mode access; 0 and *hpa, or a fault reason. */
static unsigned int translate_sm(struct munit *mu, const struct request *rq,
				 uint64_t *hpa)
{
	uint64_t need = rq->write ? SL_W : SL_R;
	struct tlb_entry *t, walk = {0};
	struct pasid_cache_entry *p;
	unsigned int reason, pgtt;
	uint32_t pasid;

	reason = sm_pasid_entry(mu, rq, &p, &pasid);
	if (reason) {
		return reason;
	}
	pgtt = (unsigned int)model_fld(p->val[0], 8, 6);
	/* Pass-through: the PASID cache holds all there is to cache. */
	if (pgtt == PGTT_PT) {
		*hpa = rq->iova;
		return 0;
	}
	t = tlb_lookup(mu, p->did, pasid, rq->iova);
	if (t) {
		mu->stats.iotlb_hits++;
	} else {
		mu->stats.iotlb_misses++;
		reason = sm_walk(mu, p, rq, &walk);
		if (reason == WALK_NP && model_cap_cm(mu)) {
			t = tlb_insert(mu);
			t->negative = true;
			t->did = p->did;
			t->pasid = pasid;
			t->pgtt = pgtt;
			t->iova = rq->iova & ~(uint64_t)(PG - 1);
			t->size = PG;
		}
		if (reason == WALK_NP) {
			return rq->write ? SM_WRITE : SM_READ;
		}
		if (reason) {
			return reason;
		}
		t = tlb_insert(mu);
		*t = walk;
		t->valid = true;
		t->did = p->did;
		t->pasid = pasid;
		t->pgtt = pgtt;
	}
	if (t->negative || !(t->rights & need))
		return rq->write ? SM_WRITE : SM_READ;
	*hpa = t->hpa + (rq->iova - t->iova);
	return 0;
}

unsigned int model_translate(struct munit *mu, const struct request *rq,
			     uint64_t *hpa)
{
	return model_scalable(mu) ? translate_sm(mu, rq, hpa)
				  : translate_legacy(mu, rq, hpa);
}

void model_record_fault(struct munit *mu, const struct request *rq,
			unsigned int reason)
{
	struct frcd *r = &mu->frcd[mu->frcd_next];

	if (r->hi & (UINT64_C(1) << 63)) {
		mu->fsts |= FS_PFO;
		mu->stats.faults_lost++;
		return;
	}
	r->lo = rq->iova & ~(uint64_t)(PG - 1);
	r->hi = (UINT64_C(1) << 63) | (rq->write ? 0 : UINT64_C(1) << 62) |
		((uint64_t)reason << 32) | rq->sid;
	if (rq->pasid != MODEL_NO_PASID) {
		r->hi |= (UINT64_C(1) << 31) | ((uint64_t)rq->pasid << 40);
	}
	mu->frcd_next = (mu->frcd_next + 1) % mu->nfr;
	mu->stats.faults++;
}

/*
 * An interrupt request blocked by remapping: its record carries the
 * interrupt index in FI[63:48] (VT-d spec 7.1.3, 11.4.14); T is undefined.
 */
void model_ir_fault(unsigned int unit, uint16_t sid, unsigned int index,
		    unsigned int reason)
{
	struct request rq = {
		.sid = sid,
		.pasid = MODEL_NO_PASID,
		.iova = (uint64_t)index << 48,
	};

	model_record_fault(&M.units[unit], &rq, reason);
}
