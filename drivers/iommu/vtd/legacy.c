/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * The root table (both modes) and legacy-mode context tables (VT-d spec
 * 9.1, 9.3): one root table per unit, a context table per bus allocated
 * on first use (scalable mode: scalable.c).  Entries are written word by
 * word with the present bit last; a present context entry is never
 * rewritten in place (docs/design.md, invariant 5): detach clears present,
 * invalidates, and only then clears the rest.  Also attach and detach of
 * requester ids in legacy mode, with or without ATS.
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

/* The root table starts all not-present: every requester is blocked. */
int vtd_root_init(struct vtd_unit *u)
{
	u->root_pa = hw_page_alloc();
	if (!u->root_pa) {
		return -ENOMEM;
	}
	u->root = hw_phys_to_virt(u->root_pa);
	vtd_flush_table(vtd_unit_coherent(u), u->root, VTD_PAGE_SIZE);
	return 0;
}

void vtd_root_fini(struct vtd_unit *u)
{
	unsigned int bus;
	uint64_t lo;

	if (!u->root_pa) {
		return;
	}
	for (bus = 0; bus < VTD_ROOT_ENTRIES; bus++) {
		if (u->mode == VTD_MODE_SCALABLE) {
			vtd_sm_bus_fini(u, &u->root[bus]);
			continue;
		}
		lo = vtd_entry_read(&u->root[bus].lo);
		if (lo & VTD_ROOT_LO_P) {
			hw_page_free(lo & VTD_ROOT_LO_CTP);
		}
	}
	hw_page_free(u->root_pa);
	u->root_pa = 0;
	u->root = NULL;
}

/*
 * The context entry for sid, or NULL when its bus has no context table and
 * create is false (or memory ran out).  A new table is zeroed and flushed
 * before the root entry publishes it.
 */
struct vtd_context_entry *vtd_context_get(struct vtd_unit *u, rid_t sid,
					  bool create)
{
	struct vtd_root_entry *re = &u->root[rid_bus(sid)];
	bool coherent = vtd_unit_coherent(u);
	struct vtd_context_entry *table;
	uint64_t lo = vtd_entry_read(&re->lo);
	uint64_t pa;

	if (lo & VTD_ROOT_LO_P) {
		table = hw_phys_to_virt(lo & VTD_ROOT_LO_CTP);
		return &table[rid_devfn(sid)];
	}
	if (!create) {
		return NULL;
	}
	pa = hw_page_alloc();
	if (!pa) {
		return NULL;
	}
	table = hw_phys_to_virt(pa);
	vtd_flush_table(coherent, table, VTD_PAGE_SIZE);
	vtd_entry_write(&re->hi, 0);
	vtd_entry_write(&re->lo, pa | VTD_ROOT_LO_P);
	vtd_flush_table(coherent, re, sizeof(*re));
	return &table[rid_devfn(sid)];
}

bool vtd_context_present(const struct vtd_context_entry *ce)
{
	return vtd_entry_read(&ce->lo) & VTD_CTX_LO_P;
}

/* Neither present nor holding the body of an unfinished detach. */
bool vtd_context_empty(const struct vtd_context_entry *ce)
{
	return !vtd_entry_read(&ce->lo) && !vtd_entry_read(&ce->hi);
}

uint16_t vtd_context_did(const struct vtd_context_entry *ce)
{
	return (uint16_t)field_get64(VTD_CTX_HI_DID, vtd_entry_read(&ce->hi));
}

/*
 * Make a not-present entry present: body word first, then the word with
 * the present bit, then flush.
 */
void vtd_context_write(struct vtd_unit *u, struct vtd_context_entry *ce,
		       uint64_t lo, uint64_t hi)
{
	vtd_entry_write(&ce->hi, hi);
	vtd_entry_write(&ce->lo, lo);
	vtd_flush_table(vtd_unit_coherent(u), ce, sizeof(*ce));
}

/*
 * A present entry for a domain's tables.  TT 00: untranslated requests only;
 * with devtlb, TT 01 also lets the device ask for translations and use them
 * (ATS, VT-d spec 9.3; reserved without ECAP.DT).
 */
void vtd_context_set(struct vtd_unit *u, struct vtd_context_entry *ce,
		     uint64_t slptptr, unsigned int levels, uint16_t did,
		     bool devtlb)
{
	unsigned int tt = devtlb ? VTD_CTX_TT_DEVTLB : VTD_CTX_TT_UNTRANSLATED;

	vtd_context_write(
		u, ce,
		(slptptr & VTD_CTX_LO_SLPTPTR) |
			field_prep64(VTD_CTX_LO_TT, tt) | VTD_CTX_LO_P,
		field_prep64(VTD_CTX_HI_AW, vtd_levels_to_aw(levels)) |
			field_prep64(VTD_CTX_HI_DID, did));
}

/* One 64-bit store drops the present bit; the body stays for the DID. */
void vtd_context_clear_present(struct vtd_unit *u, struct vtd_context_entry *ce)
{
	vtd_entry_write(&ce->lo, 0);
	vtd_flush_table(vtd_unit_coherent(u), ce, sizeof(*ce));
}

/* After the invalidation completed: the entry is fully empty again. */
void vtd_context_clear(struct vtd_unit *u, struct vtd_context_entry *ce)
{
	vtd_entry_write(&ce->hi, 0);
	vtd_flush_table(vtd_unit_coherent(u), ce, sizeof(*ce));
}

/* No entry of ours for sid: none, empty, or only an inherited one. */
static bool context_free(struct vtd_unit *u, rid_t sid)
{
	struct vtd_context_entry *ce = vtd_context_get(u, sid, false);

	return !ce || vtd_context_empty(ce) || vtd_inherited(u, sid);
}

/*
 * Legacy context entries for source_ids; devtlb: with ATS (TT 01).
 * Inherited entries are blocked and invalidated first (inherit.c).
 */
int vtd_legacy_attach(struct vtd_domain *d, struct vtd_domain_unit *du,
		      const rid_t *source_ids, unsigned int count, bool devtlb)
{
	struct vtd_unit *u = du->unit;
	struct vtd_context_entry *ce;
	unsigned int i;
	int err;

	/* Check everything and allocate tables before any change. */
	err = vtd_pgtable_root(&d->pt);
	if (err) {
		return err;
	}
	for (i = 0; i < count; i++) {
		if (vtd_listed_before(source_ids, i)) {
			return -EINVAL;
		}
		ce = vtd_context_get(u, source_ids[i], true);
		if (!ce) {
			return -ENOMEM;
		}
		if (!context_free(u, source_ids[i])) {
			vtd_warn(u,
				 "sid " RID_FMT " is attached; detach it first",
				 RID_ARGS(source_ids[i]));
			return -EBUSY;
		}
	}
	err = vtd_attach_allowed(u, source_ids, count);
	if (err) {
		return err;
	}
	err = vtd_inherit_release(u, source_ids, count);
	if (err) {
		return err;
	}
	for (i = 0; i < count; i++) {
		ce = vtd_context_get(u, source_ids[i], false);
		vtd_context_set(u, ce, d->pt.root_pa, d->pt.levels, du->did,
				devtlb);
	}
	du->attached += count;
	/* Before enable, the global invalidation after SRTP covers this. */
	if (!vtd_unit_live(u)) {
		return 0;
	}
	if (!vtd_cap_cm(u->cap)) {
		return vtd_unit_flush_write_buffer(u);
	}
	/* CM: not-present entries may be cached, tagged with domain id 0. */
	return vtd_invalidate_devices(u, 0, source_ids, count, du->did);
}

/*
 * The record goes first so that no invalidation after the context entry
 * became present can miss the device-TLB; it goes again if the entry was
 * not written.  An attach whose invalidation failed leaves the entry
 * present (as vtd_attach() does), so the record stays with it.
 */
int vtd_attach_ats(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		   rid_t pfsid, unsigned int qdepth)
{
	struct vtd_domain_unit *du = vtd_domain_unit(d, u);
	int err;

	if (!du) {
		return -EINVAL;
	}
	if (!vtd_ecap_dt(u->ecap) || u->mode != VTD_MODE_LEGACY) {
		return -ENOTSUP;
	}
	if (!context_free(u, sid)) {
		return -EBUSY;
	}
	err = vtd_ats_add(du, sid, pfsid, qdepth);
	if (err) {
		return err;
	}
	err = vtd_legacy_attach(d, du, &sid, 1, true);
	if (err && context_free(u, sid)) {
		vtd_ats_del(du, sid);
	}
	return err;
}

/*
 * Clear present, invalidate with the old domain id, and only after that
 * completed clear the body (docs/design.md, invariant 5).  If the invalidation
 * fails the entries stay blocked with their body kept, still counted as
 * attached, so the domain cannot be destroyed and the same detach can be
 * retried.
 */
int vtd_legacy_detach(struct vtd_domain_unit *du, const rid_t *source_ids,
		      unsigned int count)
{
	struct vtd_unit *u = du->unit;
	struct vtd_context_entry *ce;
	unsigned int i, inherited = 0;
	int err;

	for (i = 0; i < count; i++) {
		ce = vtd_context_get(u, source_ids[i], false);
		inherited += vtd_inherited(u, source_ids[i]);
		if (vtd_listed_before(source_ids, i)) {
			return -EINVAL;
		}
		if (!vtd_inherited(u, source_ids[i]) &&
		    (!ce || vtd_context_empty(ce) ||
		     vtd_context_did(ce) != du->did)) {
			return -EINVAL;
		}
	}
	/* Inherited entries carry other domain ids: never mixed with d's. */
	if (inherited) {
		return inherited == count
			       ? vtd_inherit_release(u, source_ids, count)
			       : -EINVAL;
	}
	for (i = 0; i < count; i++) {
		ce = vtd_context_get(u, source_ids[i], false);
		if (vtd_context_present(ce)) {
			vtd_context_clear_present(u, ce);
		}
	}
	if (vtd_unit_live(u)) {
		err = vtd_invalidate_devices(u, du->did, source_ids, count,
					     du->did);
		if (err) {
			return err;
		}
	}
	if (du->ats) {
		vtd_ats_detach(du, source_ids, count);
	}
	for (i = 0; i < count; i++) {
		vtd_context_clear(u, vtd_context_get(u, source_ids[i], false));
	}
	du->attached -= count;
	return 0;
}
