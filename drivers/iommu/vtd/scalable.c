/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Scalable-mode translation structures (VT-d spec 3.4 and 9.2 to 9.6): a
 * root entry per bus with one context table for devfn 0-127 and one for
 * 128-255, 256-bit context entries pointing to a PASID directory, PASID
 * tables of 64 entries allocated on demand, and the 512-bit PASID entries
 * that choose each PASID's translation (PGTT: first-level, second-level,
 * nested or pass-through).  Requests without PASID use the entry of
 * RID_PASID.  Also attach, detach and switch of (requester id, PASID).
 *
 * A requester id's context entry and PASID directory live while one of
 * its PASIDs is attached: set up with the first, torn down with the last,
 * their memory freed only once the invalidation that makes the unit
 * forget them completed (docs/design.md, invariant 2).
 *
 * docs/design.md, invariant 5, for PASID entries: one is written only
 * while not present, body words first, then the word with the present bit, each
 * step flushed if the unit does not snoop; it is taken down by clearing present
 * (the body stays, naming the domain for the invalidation and a retry), then
 * the PASID cache and IOTLB are invalidated and waited for, and only then
 * is the body cleared or replaced.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"
#include "lib/string.h"

/* What one directory page covers: 512 tables of 64 PASIDs. */
#define PASID_BITS_MAX 15U
_Static_assert((1U << PASID_BITS_MAX) ==
		       VTD_PASID_DIR_ENTRIES * VTD_PASID_TABLE_ENTRIES,
	       "a PASID directory is one page");
_Static_assert(VTD_SM_ROOT_LO_LP == VTD_SM_ROOT_HI_UP &&
		       VTD_SM_ROOT_LO_LCTP == VTD_SM_ROOT_HI_UCTP &&
		       VTD_SM_ROOT_LO_LP == VTD_PASID_DIR_P &&
		       VTD_SM_ROOT_LO_LCTP == VTD_PASID_DIR_SMPTBLPTR,
	       "root-entry halves and PASID directory entries point alike");

/* devfn 128-255 use the upper context table. */
#define DEVFN_UPPER 0x80U

/*
 * PASIDs the tables hold.  Without ECAP.PASID there are only requests
 * without PASID: RID_PASID alone.  Otherwise PSS + 1 bits, at most what a
 * directory of one page covers (memory comes a page at a time).
 */
uint32_t vtd_pasid_limit(const struct vtd_unit *u)
{
	unsigned int bits;

	if (!vtd_ecap_pasid(u->ecap)) {
		return 1;
	}
	bits = vtd_ecap_pasid_bits(u->ecap);
	if (bits > PASID_BITS_MAX) {
		bits = PASID_BITS_MAX;
	}
	return UINT32_C(1) << bits;
}

/* The directory covers u->pasids: 2^(PDTS + 7) entries, 128 at least. */
static uint64_t pdts(const struct vtd_unit *u)
{
	uint32_t entries = (u->pasids + VTD_PASID_TABLE_ENTRIES - 1) >>
			   VTD_PASID_TABLE_SHIFT;
	unsigned int order = 0;

	while ((UINT32_C(1) << order) < entries) {
		order++;
	}
	return order > VTD_PDTS_SHIFT ? order - VTD_PDTS_SHIFT : 0;
}

/* A zeroed page for a table, flushed before anything points to it. */
static uint64_t alloc_table(const struct vtd_unit *u)
{
	uint64_t pa = hw_page_alloc();

	if (pa) {
		vtd_flush_table(vtd_unit_coherent(u), hw_phys_to_virt(pa),
				VTD_PAGE_SIZE);
	}
	return pa;
}

/* The root-entry word that points to sid's context table. */
static uint64_t *root_half(struct vtd_unit *u, rid_t sid)
{
	struct vtd_root_entry *re = &u->root[rid_bus(sid)];

	return (rid_devfn(sid) & DEVFN_UPPER) ? &re->hi : &re->lo;
}

/*
 * The table a root-entry half or PASID directory entry points to, or NULL
 * when there is none and create is false (or memory ran out).  A new
 * table is published zeroed: every requester or PASID on it stays
 * blocked.
 */
static void *table_at(struct vtd_unit *u, uint64_t *word, bool create)
{
	uint64_t e = vtd_entry_read(word), pa;

	if (e & VTD_PASID_DIR_P) {
		return hw_phys_to_virt(e & VTD_PASID_DIR_SMPTBLPTR);
	}
	if (!create) {
		return NULL;
	}
	pa = alloc_table(u);
	if (!pa) {
		return NULL;
	}
	vtd_entry_write(word, pa | VTD_PASID_DIR_P);
	vtd_flush_table(vtd_unit_coherent(u), word, sizeof(*word));
	return hw_phys_to_virt(pa);
}

/* sid's context entry, or NULL (see table_at()). */
static struct vtd_sm_context_entry *context(struct vtd_unit *u, rid_t sid,
					    bool create)
{
	struct vtd_sm_context_entry *table;

	table = table_at(u, root_half(u, sid), create);
	return table ? &table[rid_devfn(sid) & (VTD_SM_CONTEXT_ENTRIES - 1)]
		     : NULL;
}

static bool context_present(const struct vtd_sm_context_entry *ce)
{
	return vtd_entry_read(&ce->val[0]) & VTD_SM_CTX_0_P;
}

static uint64_t *pasid_dir(const struct vtd_sm_context_entry *ce)
{
	uint64_t pa = vtd_entry_read(&ce->val[0]) & VTD_SM_CTX_0_PASIDDIRPTR;

	return pa ? hw_phys_to_virt(pa) : NULL;
}

/*
 * The body of a context entry, not yet present: a new PASID directory,
 * requests with PASID allowed where the unit has them, and RID_PASID for
 * those without, 0: what units without ECAP.RPS use anyway (9.4).
 */
static int context_prepare(struct vtd_unit *u, struct vtd_sm_context_entry *ce)
{
	uint64_t dir = alloc_table(u), val0;

	if (!dir) {
		return -ENOMEM;
	}
	val0 = dir | field_prep64(VTD_SM_CTX_0_PDTS, pdts(u));
	if (vtd_ecap_pasid(u->ecap)) {
		val0 |= VTD_SM_CTX_0_PASIDE;
	}
	vtd_entry_write(&ce->val[3], 0);
	vtd_entry_write(&ce->val[2], 0);
	vtd_entry_write(&ce->val[1],
			field_prep64(VTD_SM_CTX_1_RID_PASID, VTD_RID_PASID));
	vtd_entry_write(&ce->val[0], val0);
	vtd_flush_table(vtd_unit_coherent(u), ce, sizeof(*ce));
	return 0;
}

/* Present last: one store of the word holding it. */
static void context_set_present(struct vtd_unit *u,
				struct vtd_sm_context_entry *ce, bool on)
{
	uint64_t val0 = vtd_entry_read(&ce->val[0]);

	vtd_entry_write(&ce->val[0],
			on ? val0 | VTD_SM_CTX_0_P : val0 & ~VTD_SM_CTX_0_P);
	vtd_flush_table(vtd_unit_coherent(u), ce, sizeof(*ce));
}

static struct vtd_pasid_entry *pasid_table(uint64_t dir_entry)
{
	return hw_phys_to_virt(dir_entry & VTD_PASID_DIR_SMPTBLPTR);
}

/*
 * The PASID entry of (sid, pasid), or NULL when it does not exist and
 * create is false (or memory ran out).  With create, the context entry's
 * body, the directory and the PASID table come into being as needed,
 * each complete before anything points to it; the context entry is not
 * made present here.
 */
struct vtd_pasid_entry *vtd_sm_pasid_entry(struct vtd_unit *u, rid_t sid,
					   uint32_t pasid, bool create)
{
	struct vtd_sm_context_entry *ce = context(u, sid, create);
	struct vtd_pasid_entry *table;
	uint64_t *dir;

	if (!ce) {
		return NULL;
	}
	dir = pasid_dir(ce);
	if (!dir) {
		if (!create || context_prepare(u, ce)) {
			return NULL;
		}
		dir = pasid_dir(ce);
	}
	table = table_at(u, &dir[pasid >> VTD_PASID_TABLE_SHIFT], create);
	return table ? &table[pasid & (VTD_PASID_TABLE_ENTRIES - 1)] : NULL;
}

static bool entry_present(const struct vtd_pasid_entry *pe)
{
	return vtd_entry_read(&pe->val[0]) & VTD_PE_0_P;
}

/* Neither present nor holding the body of an unfinished detach. */
static bool entry_empty(const struct vtd_pasid_entry *pe)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pe->val); i++) {
		if (vtd_entry_read(&pe->val[i])) {
			return false;
		}
	}
	return true;
}

static uint16_t entry_did(const struct vtd_pasid_entry *pe)
{
	return (uint16_t)field_get64(VTD_PE_1_DID, vtd_entry_read(&pe->val[1]));
}

static unsigned int entry_pgtt(const struct vtd_pasid_entry *pe)
{
	return (unsigned int)field_get64(VTD_PE_0_PGTT,
					 vtd_entry_read(&pe->val[0]));
}

/* Another PASID entry of the context than skip holds something. */
static bool context_in_use(const struct vtd_sm_context_entry *ce,
			   const struct vtd_pasid_entry *skip)
{
	const struct vtd_pasid_entry *table;
	const uint64_t *dir = pasid_dir(ce);
	unsigned int i, j;
	uint64_t e;

	for (i = 0; dir && i < VTD_PASID_DIR_ENTRIES; i++) {
		e = vtd_entry_read(&dir[i]);
		if (!(e & VTD_PASID_DIR_P)) {
			continue;
		}
		table = pasid_table(e);
		for (j = 0; j < VTD_PASID_TABLE_ENTRIES; j++) {
			if (&table[j] != skip && !entry_empty(&table[j])) {
				return true;
			}
		}
	}
	return false;
}

static void free_dir(uint64_t *dir)
{
	unsigned int i;
	uint64_t e;

	for (i = 0; i < VTD_PASID_DIR_ENTRIES; i++) {
		e = vtd_entry_read(&dir[i]);
		if (e & VTD_PASID_DIR_P) {
			hw_page_free(e & VTD_PASID_DIR_SMPTBLPTR);
		}
	}
	hw_page_free(hw_virt_to_phys(dir));
}

/* Once the unit forgot it: its directory and tables go, the entry empties. */
static void context_release(struct vtd_unit *u, struct vtd_sm_context_entry *ce)
{
	uint64_t *dir = pasid_dir(ce);
	unsigned int i;

	if (dir) {
		free_dir(dir);
	}
	for (i = 0; i < ARRAY_SIZE(ce->val); i++) {
		vtd_entry_write(&ce->val[i], 0);
	}
	vtd_flush_table(vtd_unit_coherent(u), ce, sizeof(*ce));
}

/* Unit teardown: every table behind a bus's root entry. */
void vtd_sm_bus_fini(struct vtd_unit *u, struct vtd_root_entry *re)
{
	uint64_t halves[2] = {
		vtd_entry_read(&re->lo),
		vtd_entry_read(&re->hi),
	};
	struct vtd_sm_context_entry *table;
	unsigned int h, i;
	uint64_t *dir;

	for (h = 0; h < ARRAY_SIZE(halves); h++) {
		if (!(halves[h] & VTD_SM_ROOT_LO_LP)) {
			continue;
		}
		table = hw_phys_to_virt(halves[h] & VTD_SM_ROOT_LO_LCTP);
		for (i = 0; i < VTD_SM_CONTEXT_ENTRIES; i++) {
			dir = pasid_dir(&table[i]);
			if (dir) {
				free_dir(dir);
			}
		}
		hw_page_free(halves[h] & VTD_SM_ROOT_LO_LCTP);
	}
}

/* The smallest second-level depth the unit reports in SAGAW. */
static unsigned int smallest_depth(const struct vtd_unit *u)
{
	unsigned int levels;

	for (levels = 3; levels < 5; levels++) {
		if (vtd_cap_sagaw(u->cap) & vtd_sagaw_bit(levels)) {
			break;
		}
	}
	return levels;
}

static uint64_t flpm(unsigned int levels)
{
	return field_prep64(VTD_PE_2_FLPM,
			    levels == 5 ? VTD_FLPM_5LEVEL : VTD_FLPM_4LEVEL);
}

/*
 * The body of a PASID entry for domain d (nested on it when nest is set),
 * present bit clear.  AW is the second-level depth; entries without
 * second-level tables get the smallest depth SAGAW offers, as QEMU 7.2
 * faults an entry whose AW is not in SAGAW whatever its PGTT
 * (docs/scenarios.md, qemu-pasid-aw).  Page walks are snooped where the unit
 * can (PWSNP with SMPWC), as the domain's tables assumed when it was created.
 */
static void build_entry(const struct vtd_unit *u, const struct vtd_domain *d,
			uint16_t did, const struct vtd_nest *nest,
			struct vtd_pasid_entry *pe)
{
	unsigned int pgtt, depth = smallest_depth(u);

	memset(pe, 0, sizeof(*pe));
	if (nest) {
		pgtt = VTD_PGTT_NESTED;
	} else if (d->pt.format == VTD_FORMAT_FIRST_LEVEL) {
		pgtt = VTD_PGTT_FL;
	} else if (d->pt.format == VTD_FORMAT_PASSTHROUGH) {
		pgtt = VTD_PGTT_PT;
	} else {
		pgtt = VTD_PGTT_SL;
	}
	if (pgtt == VTD_PGTT_SL || pgtt == VTD_PGTT_NESTED) {
		depth = d->pt.levels;
		pe->val[0] = d->pt.root_pa & VTD_PE_0_SLPTPTR;
	}
	pe->val[0] |= field_prep64(VTD_PE_0_AW, vtd_levels_to_aw(depth)) |
		      field_prep64(VTD_PE_0_PGTT, pgtt);
	pe->val[1] = field_prep64(VTD_PE_1_DID, did);
	if (vtd_ecap_smpwc(u->ecap)) {
		pe->val[1] |= VTD_PE_1_PWSNP;
	}
	if (pgtt == VTD_PGTT_FL) {
		pe->val[2] =
			(d->pt.root_pa & VTD_PE_2_FLPTR) | flpm(d->pt.levels);
	} else if (nest) {
		pe->val[2] = (iova_val(nest->fl_table) & VTD_PE_2_FLPTR) |
			     flpm(nest->fl_levels);
	}
}

/*
 * Not present -> present: the body, flushed, then the word with present,
 * flushed.  A unit that does not snoop sees the body complete before it
 * can see the entry present, whenever the cache line is written back.
 */
static void entry_set(struct vtd_unit *u, struct vtd_pasid_entry *pe,
		      const struct vtd_pasid_entry *body)
{
	unsigned int i;

	for (i = ARRAY_SIZE(pe->val) - 1; i > 0; i--) {
		vtd_entry_write(&pe->val[i], body->val[i]);
	}
	vtd_flush_table(vtd_unit_coherent(u), pe, sizeof(*pe));
	vtd_entry_write(&pe->val[0], body->val[0] | VTD_PE_0_P);
	vtd_flush_table(vtd_unit_coherent(u), pe, sizeof(*pe));
}

/* One store drops present; the body stays for the invalidation. */
static void entry_clear_present(struct vtd_unit *u, struct vtd_pasid_entry *pe)
{
	vtd_entry_write(&pe->val[0], vtd_entry_read(&pe->val[0]) & ~VTD_PE_0_P);
	vtd_flush_table(vtd_unit_coherent(u), pe, sizeof(*pe));
}

static void entry_clear(struct vtd_unit *u, struct vtd_pasid_entry *pe)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pe->val); i++) {
		vtd_entry_write(&pe->val[i], 0);
	}
	vtd_flush_table(vtd_unit_coherent(u), pe, sizeof(*pe));
}

/*
 * The IOTLB invalidation dropping what an entry cached: by domain for
 * second-level and nested translation, which covers every PASID (6.5.2.3);
 * by PASID for first-level and pass-through (6.5.2.4).
 */
static bool iotlb_by_domain(unsigned int pgtt)
{
	return pgtt == VTD_PGTT_SL || pgtt == VTD_PGTT_NESTED;
}

static struct vtd_qi_desc entry_iotlb(const struct vtd_unit *u,
				      unsigned int pgtt, uint16_t did,
				      uint32_t pasid)
{
	if (iotlb_by_domain(pgtt)) {
		return vtd_desc_iotlb_domain(u, did);
	}
	return vtd_desc_piotlb_pasid(did, pasid);
}

/*
 * Entries just made present.  Before enable, the global invalidations
 * after SRTP cover them.  Elsewhere a write-buffer flush is enough (6.8),
 * except in caching mode: the unit may hold not-present context and PASID
 * entries, those tagged with domain id 0 (6.1), so both tags go.
 */
static int published(struct vtd_unit *u, const rid_t *sids, unsigned int count,
		     uint16_t did, uint32_t pasid, unsigned int pgtt)
{
	struct vtd_qi_desc tail[3];

	if (!vtd_unit_live(u)) {
		return 0;
	}
	if (!vtd_cap_cm(u->cap)) {
		return vtd_unit_flush_write_buffer(u);
	}
	tail[0] = vtd_desc_pc_pasid(0, pasid);
	tail[1] = vtd_desc_pc_pasid(did, pasid);
	tail[2] = entry_iotlb(u, pgtt, did, pasid);
	return vtd_qi_submit_cc(u, 0, sids, count, tail, ARRAY_SIZE(tail));
}

static int check_pasid(const struct vtd_unit *u, uint32_t pasid)
{
	if (u->mode != VTD_MODE_SCALABLE) {
		return -ENOTSUP;
	}
	if (pasid != VTD_RID_PASID && !vtd_ecap_pasid(u->ecap)) {
		return -ENOTSUP;
	}
	return pasid < u->pasids ? 0 : -ERANGE;
}

int vtd_sm_attach(struct vtd_domain *d, struct vtd_domain_unit *du,
		  const rid_t *sids, unsigned int count, uint32_t pasid,
		  const struct vtd_nest *nest)
{
	struct vtd_unit *u = du->unit;
	struct vtd_sm_context_entry *ce;
	struct vtd_pasid_entry *pe, body;
	unsigned int i;
	int err;

	err = check_pasid(u, pasid);
	if (err) {
		return err;
	}
	/* Check everything and allocate tables before any change. */
	err = vtd_pgtable_root(&d->pt);
	if (err) {
		return err;
	}
	for (i = 0; i < count; i++) {
		if (vtd_listed_before(sids, i)) {
			return -EINVAL;
		}
		pe = vtd_sm_pasid_entry(u, sids[i], pasid, true);
		if (!pe) {
			return -ENOMEM;
		}
		if (!entry_empty(pe)) {
			vtd_warn(u,
				 "sid " RID_FMT
				 " PASID %u is attached; detach it first",
				 RID_ARGS(sids[i]), pasid);
			return -EBUSY;
		}
	}
	err = vtd_attach_allowed(u, sids, count);
	if (err) {
		return err;
	}
	err = vtd_domain_pasid_get(du, pasid, count);
	if (err) {
		return err;
	}
	build_entry(u, d, du->did, nest, &body);
	/* The PASID entry first: the context entry publishes the directory. */
	for (i = 0; i < count; i++) {
		entry_set(u, vtd_sm_pasid_entry(u, sids[i], pasid, false),
			  &body);
		ce = context(u, sids[i], false);
		if (!context_present(ce)) {
			context_set_present(u, ce, true);
		}
	}
	du->attached += count;
	return published(u, sids, count, du->did, pasid,
			 (unsigned int)field_get64(VTD_PE_0_PGTT, body.val[0]));
}

/*
 * PASID entries attached to du with pasid, or -EINVAL.  *iotlb receives
 * which IOTLB invalidations their types need: bit 0 by domain, bit 1 by
 * PASID.
 */
static int check_attached(struct vtd_domain_unit *du, const rid_t *sids,
			  unsigned int count, uint32_t pasid,
			  unsigned int *iotlb)
{
	struct vtd_pasid_entry *pe;
	unsigned int i;

	*iotlb = 0;
	for (i = 0; i < count; i++) {
		pe = vtd_sm_pasid_entry(du->unit, sids[i], pasid, false);
		if (vtd_listed_before(sids, i) || !pe || entry_empty(pe) ||
		    entry_did(pe) != du->did) {
			return -EINVAL;
		}
		*iotlb |= iotlb_by_domain(entry_pgtt(pe)) ? 1 : 2;
	}
	return 0;
}

/*
 * Blocked entries forgotten by the unit: the PASID cache for that PASID
 * and the IOTLB as the entries' types need it, after the context cache of
 * each requester id (whose context entry may have been taken down too).
 */
static int forget(struct vtd_unit *u, const rid_t *sids, unsigned int count,
		  uint16_t did, uint32_t pasid, unsigned int iotlb)
{
	struct vtd_qi_desc tail[3];
	unsigned int n = 0;

	if (!vtd_unit_live(u)) {
		return 0;
	}
	tail[n++] = vtd_desc_pc_pasid(did, pasid);
	if (iotlb & 1) {
		tail[n++] = vtd_desc_iotlb_domain(u, did);
	}
	if (iotlb & 2) {
		tail[n++] = vtd_desc_piotlb_pasid(did, pasid);
	}
	return vtd_qi_submit_cc(u, 0, sids, count, tail, n);
}

/*
 * As in legacy mode: if the invalidation fails the entries stay blocked
 * with their bodies, still counted as attached, and the detach can be
 * retried.  A context entry left without PASIDs is taken down in the same
 * invalidation, its directory freed after it.
 */
int vtd_sm_detach(struct vtd_domain_unit *du, const rid_t *sids,
		  unsigned int count, uint32_t pasid)
{
	struct vtd_unit *u = du->unit;
	struct vtd_sm_context_entry *ce;
	struct vtd_pasid_entry *pe;
	unsigned int i, iotlb;
	int err;

	err = check_pasid(u, pasid);
	if (err) {
		return err;
	}
	err = check_attached(du, sids, count, pasid, &iotlb);
	if (err) {
		return err;
	}
	for (i = 0; i < count; i++) {
		pe = vtd_sm_pasid_entry(u, sids[i], pasid, false);
		if (entry_present(pe)) {
			entry_clear_present(u, pe);
		}
		ce = context(u, sids[i], false);
		if (context_present(ce) && !context_in_use(ce, pe)) {
			context_set_present(u, ce, false);
		}
	}
	err = forget(u, sids, count, du->did, pasid, iotlb);
	if (err) {
		return err;
	}
	for (i = 0; i < count; i++) {
		entry_clear(u, vtd_sm_pasid_entry(u, sids[i], pasid, false));
		ce = context(u, sids[i], false);
		if (!context_present(ce) && !context_in_use(ce, NULL)) {
			context_release(u, ce);
		}
	}
	du->attached -= count;
	vtd_domain_pasid_put(du, pasid, count);
	return 0;
}

int vtd_attach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		     uint32_t pasid)
{
	struct vtd_domain_unit *du = vtd_domain_unit(d, u);

	if (!du) {
		return -EINVAL;
	}
	return vtd_sm_attach(d, du, &sid, 1, pasid, NULL);
}

int vtd_detach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		     uint32_t pasid)
{
	struct vtd_domain_unit *du = vtd_domain_unit(d, u);

	if (!du) {
		return -EINVAL;
	}
	return vtd_sm_detach(du, &sid, 1, pasid);
}

int vtd_switch_pasid(struct vtd_domain *from, struct vtd_domain *to,
		     struct vtd_unit *u, rid_t sid, uint32_t pasid)
{
	struct vtd_domain_unit *dfrom = vtd_domain_unit(from, u);
	struct vtd_domain_unit *dto = vtd_domain_unit(to, u);
	struct vtd_pasid_entry *pe, body;
	unsigned int iotlb;
	int err;

	if (!dfrom || !dto || from == to) {
		return -EINVAL;
	}
	err = check_pasid(u, pasid);
	if (err) {
		return err;
	}
	err = check_attached(dfrom, &sid, 1, pasid, &iotlb);
	if (err) {
		return err;
	}
	err = vtd_pgtable_root(&to->pt);
	if (err) {
		return err;
	}
	err = vtd_attach_allowed(u, &sid, 1);
	if (err) {
		return err;
	}
	err = vtd_domain_pasid_get(dto, pasid, 1);
	if (err) {
		return err;
	}
	pe = vtd_sm_pasid_entry(u, sid, pasid, false);
	if (entry_present(pe)) {
		entry_clear_present(u, pe);
	}
	/* The context entry stays: this PASID keeps it in use throughout. */
	err = forget(u, NULL, 0, dfrom->did, pasid, iotlb);
	if (err) {
		vtd_domain_pasid_put(dto, pasid, 1);
		return err;
	}
	build_entry(u, to, dto->did, NULL, &body);
	entry_set(u, pe, &body);
	dfrom->attached--;
	vtd_domain_pasid_put(dfrom, pasid, 1);
	dto->attached++;
	return published(u, &sid, 1, dto->did, pasid, entry_pgtt(pe));
}

int vtd_attach_nested(struct vtd_domain *parent, struct vtd_unit *u, rid_t sid,
		      uint32_t pasid, iova_t fl_table, unsigned int fl_levels)
{
	struct vtd_domain_unit *du = vtd_domain_unit(parent, u);
	struct vtd_nest nest = {.fl_table = fl_table, .fl_levels = fl_levels};

	if (!du || parent->pt.format != VTD_FORMAT_SECOND_LEVEL ||
	    !iova_aligned(fl_table, VTD_PAGE_SIZE) ||
	    iova_val(fl_table) >= UINT64_C(1) << parent->addr_width ||
	    (fl_levels != 4 && fl_levels != 5)) {
		return -EINVAL;
	}
	if (u->mode != VTD_MODE_SCALABLE || !vtd_ecap_nest(u->ecap) ||
	    !vtd_ecap_flts(u->ecap) ||
	    (fl_levels == 5 && !vtd_cap_fl5lp(u->cap))) {
		return -ENOTSUP;
	}
	return vtd_sm_attach(parent, du, &sid, 1, pasid, &nest);
}
