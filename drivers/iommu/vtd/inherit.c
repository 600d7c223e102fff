/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Inherited translation ("deferred attach"): moat restarted itself with a
 * unit still translating, and every page its previous life allocated is
 * kept reserved, so the old root, context and page-table pages stay
 * intact.  Instead of denying every requester at once, the new tables
 * start as copies of the old present context entries (legacy mode, VT-d
 * spec 9.1 and 9.3), and the root is switched atomically with TE left on
 * (SRTP, then global context-cache and IOTLB invalidation, 6.6): DMA of
 * those requesters goes on through the old page tables with no window of
 * default deny.  Each keeps its entry until its first attach or detach.
 *
 * Only legacy mode: scalable-mode tables (RTADDR.TTM 01) would need the
 * PASID directories and tables of every requester copied and checked too,
 * which moat does not do; such a unit is taken over with default deny.
 *
 * Old entries are copied verbatim only if they are what moat itself
 * writes in legacy mode and reachable: anything else (reserved bits, a
 * translation type other than 00, a depth the unit does not walk, a
 * domain id out of range or already ours, a table that hw_phys_to_virt()
 * cannot reach) leaves that requester not present, logged
 * (docs/design.md, invariant 9).
 * Device-TLB entries (TT 01) are not inherited: what the device cached
 * could not be invalidated without its ATS parameters, which the new life
 * does not know yet.
 *
 * The old page-table pages are never freed here: they belong to the
 * previous life.  An old domain id stays allocated while an inherited
 * entry uses it and is released with the last of them, once the
 * domain-selective IOTLB invalidation of its release completed: nothing
 * cached can carry it then, so a new domain may reuse it.
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

#define SID_COUNT 65536U

bool vtd_inherited(const struct vtd_unit *u, rid_t sid)
{
	return u->inherited && bitmap_test(u->inherited, rid_val(sid));
}

static void skip_entry(const struct vtd_unit *u, rid_t sid, const char *why)
{
	vtd_warn(u,
		 "sid " RID_FMT
		 ": old context entry not inherited (%s); denied",
		 RID_ARGS(sid), why);
}

/*
 * Why the old legacy context entry lo:hi cannot be kept (VT-d spec 9.3),
 * or NULL.  taken: domain ids allocated before the copy began (domains
 * created before enable, id 0 under caching mode), which an old entry
 * must not share with new tables.
 */
static const char *entry_problem(const struct vtd_unit *u, uint64_t lo,
				 uint64_t hi, const uint64_t *taken)
{
	unsigned int aw = (unsigned int)field_get64(VTD_CTX_HI_AW, hi);
	uint16_t did = (uint16_t)field_get64(VTD_CTX_HI_DID, hi);

	if ((lo & VTD_CTX_LO_RSVD) || (hi & VTD_CTX_HI_RSVD)) {
		return "reserved bits set";
	}
	if (field_get64(VTD_CTX_LO_TT, lo) != VTD_CTX_TT_UNTRANSLATED) {
		return "translation type other than 00";
	}
	if (aw < 1 || aw > 3 || !(vtd_cap_sagaw(u->cap) & (1U << aw))) {
		return "address width the unit does not walk";
	}
	if (did >= u->dids.bits || bitmap_test(taken, did)) {
		return "domain id out of range or in use";
	}
	if (!hw_phys_to_virt(lo & VTD_CTX_LO_SLPTPTR)) {
		return "page table not reachable";
	}
	return NULL;
}

/* Copy the old bus's valid present entries into our tables. */
static void copy_bus(struct vtd_unit *u, unsigned int bus,
		     const struct vtd_context_entry *old, const uint64_t *taken)
{
	struct vtd_context_entry *ce;
	const char *why;
	unsigned int devfn;
	uint64_t lo, hi;
	rid_t sid;

	for (devfn = 0; devfn < VTD_CONTEXT_ENTRIES; devfn++) {
		sid = rid_make((uint8_t)bus, (uint8_t)devfn);
		lo = vtd_entry_read(&old[devfn].lo);
		hi = vtd_entry_read(&old[devfn].hi);
		if (!(lo & VTD_CTX_LO_P)) {
			continue;
		}
		why = entry_problem(u, lo, hi, taken);
		ce = why ? NULL : vtd_context_get(u, sid, true);
		if (!why && !ce) {
			why = "no memory for a context table";
		} else if (ce && !vtd_context_empty(ce)) {
			why = "attached before enable";
		}
		if (why) {
			skip_entry(u, sid, why);
			continue;
		}
		vtd_context_write(u, ce, lo, hi);
		bitmap_id_reserve(&u->dids,
				  (uint32_t)field_get64(VTD_CTX_HI_DID, hi));
		bitmap_set(u->inherited, rid_val(sid));
		u->inherited_count++;
	}
}

static void copy_tables(struct vtd_unit *u, const struct vtd_root_entry *old,
			const uint64_t *taken)
{
	const struct vtd_context_entry *table;
	unsigned int bus;
	uint64_t lo, hi;

	for (bus = 0; bus < VTD_ROOT_ENTRIES; bus++) {
		lo = vtd_entry_read(&old[bus].lo);
		hi = vtd_entry_read(&old[bus].hi);
		if (!(lo & VTD_ROOT_LO_P)) {
			continue;
		}
		table = hw_phys_to_virt(lo & VTD_ROOT_LO_CTP);
		if ((lo & VTD_ROOT_LO_RSVD) || hi || !table) {
			vtd_warn(
				u,
				"bus %02x: old root entry %s; its requesters are denied",
				bus,
				table ? "has reserved bits set"
				      : "points to unreachable memory");
			continue;
		}
		copy_bus(u, bus, table, taken);
	}
}

/*
 * Why the unit's current tables cannot be inherited, or NULL with *old
 * set to the old root table.
 */
static const char *root_problem(struct vtd_unit *u,
				const struct vtd_root_entry **old)
{
	uint64_t rtaddr = vtd_read64(u, VTD_RTADDR_REG);

	if (u->mode != VTD_MODE_LEGACY) {
		return "scalable mode chosen; only legacy tables are inherited";
	}
	if (field_get64(VTD_RTADDR_TTM, rtaddr) != VTD_RTADDR_TTM_LEGACY) {
		return "the old tables are not legacy-mode (RTADDR.TTM)";
	}
	if (rtaddr & VTD_RTADDR_RSVD) {
		return "RTADDR has reserved bits set";
	}
	*old = hw_phys_to_virt(rtaddr & VTD_RTADDR_RTA);
	if (!*old) {
		return "the old root table is not reachable";
	}
	return NULL;
}

/*
 * Called by vtd_unit_enable() with TE found on, before the root switch:
 * fill our (so far unpublished) tables from the old ones.
 */
void vtd_inherit_tables(struct vtd_unit *u)
{
	size_t did_bytes = BITMAP_WORDS(u->dids.bits) * sizeof(uint64_t);
	const struct vtd_root_entry *old = NULL;
	const char *why;
	uint64_t *taken;

	if (!u->cfg.inherit) {
		return;
	}
	why = root_problem(u, &old);
	taken = why ? NULL : hw_zalloc(did_bytes);
	if (!why && !u->inherited) {
		u->inherited = hw_zalloc(SID_COUNT / 8);
	}
	if (!why && (!taken || !u->inherited)) {
		why = "no memory";
	}
	if (why) {
		vtd_warn(
			u,
			"cannot inherit translation: %s; taking over with default deny",
			why);
		hw_free(taken);
		return;
	}
	memcpy(taken, u->dids.map, did_bytes);
	copy_tables(u, old, taken);
	hw_free(taken);
	vtd_info(u, "inherited %u requester ids from the running tables",
		 u->inherited_count);
}

/* Some inherited entry still carries did (a scan: releases are rare). */
static bool did_inherited(struct vtd_unit *u, uint16_t did)
{
	uint32_t sid;

	for (sid = 0; sid < SID_COUNT && u->inherited_count; sid++) {
		if (bitmap_test(u->inherited, sid) &&
		    vtd_context_did(vtd_context_get(u, rid_from((uint16_t)sid),
						    false)) == did) {
			return true;
		}
	}
	return false;
}

/*
 * Block the inherited ids among sids: present cleared, then per id a
 * device-selective context-cache and a domain-selective IOTLB
 * invalidation under its old domain id (6.5.2.1, 6.5.2.3), and only then
 * the body cleared (docs/design.md, invariant 5).  On an invalidation
 * error the entries stay blocked and inherited, so the same attach or detach
 * can be retried.
 */
int vtd_inherit_release(struct vtd_unit *u, const rid_t *sids,
			unsigned int count)
{
	struct vtd_context_entry *ce;
	unsigned int i;
	uint16_t did;
	int err;

	for (i = 0; i < count; i++) {
		if (!vtd_inherited(u, sids[i])) {
			continue;
		}
		ce = vtd_context_get(u, sids[i], false);
		if (vtd_context_present(ce)) {
			vtd_context_clear_present(u, ce);
		}
	}
	for (i = 0; i < count && vtd_unit_live(u); i++) {
		if (!vtd_inherited(u, sids[i])) {
			continue;
		}
		did = vtd_context_did(vtd_context_get(u, sids[i], false));
		err = vtd_invalidate_devices(u, did, &sids[i], 1, did);
		if (err) {
			return err;
		}
	}
	for (i = 0; i < count; i++) {
		if (!vtd_inherited(u, sids[i])) {
			continue;
		}
		ce = vtd_context_get(u, sids[i], false);
		did = vtd_context_did(ce);
		vtd_context_clear(u, ce);
		bitmap_clear(u->inherited, rid_val(sids[i]));
		u->inherited_count--;
		if (!did_inherited(u, did)) {
			vtd_did_free(u, did);
		}
	}
	return 0;
}

void vtd_inherit_fini(struct vtd_unit *u)
{
	hw_free(u->inherited);
	u->inherited = NULL;
	u->inherited_count = 0;
}
