/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Domains: an IOVA space with its own page tables (second- or first-level,
 * none for pass-through) and a domain id on every unit it spans; map/unmap
 * with the invalidations they need; attach/detach of requester ids, done
 * by legacy.c or scalable.c after the unit's mode.
 *
 * Invalidation rules applied here:
 * - unmap (present -> not present) always invalidates the range and waits;
 * - map (not present -> present) needs an IOTLB invalidation only on units
 *   in caching mode, which may cache not-present entries (VT-d spec 6.1);
 *   elsewhere a write-buffer flush is enough (6.8);
 * - table pages unlinked by a map or unmap are freed only once the
 *   invalidation covering them completed on every unit (docs/design.md,
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
#include "lib/rid.h"
#include "lib/string.h"

/*
 * Table pages whose invalidation failed or timed out, with the sequence
 * number of that batch on each unit where it timed out: released once the
 * hardware passed every one of them, unless an IQE failed some batch on
 * that unit since (it may have been this one).  seq 0: failed or never
 * queued, released only by vtd_domain_flush().
 */
struct vtd_deferred {
	struct vtd_deferred *next;
	struct vtd_freelist pages;
	uint32_t seq[VTD_DOMAIN_MAX_UNITS];
	uint64_t failures[VTD_DOMAIN_MAX_UNITS]; /* qi.failures then */
	bool pending[VTD_DOMAIN_MAX_UNITS];
};

struct vtd_domain_unit *vtd_domain_unit(struct vtd_domain *d,
					const struct vtd_unit *u)
{
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		if (d->units[i].unit == u) {
			return &d->units[i];
		}
	}
	return NULL;
}

/*
 * One more attachment with pasid through du (n of them): PASID-based
 * invalidations of d on that unit must name it.  -ENOMEM before any
 * change.
 */
int vtd_domain_pasid_get(struct vtd_domain_unit *du, uint32_t pasid,
			 unsigned int n)
{
	struct vtd_pasid_ref *grown;
	unsigned int i, cap;

	for (i = 0; i < du->pasid_count; i++) {
		if (du->pasids[i].pasid == pasid) {
			du->pasids[i].refs += n;
			return 0;
		}
	}
	if (du->pasid_count == du->pasid_cap) {
		cap = du->pasid_cap ? 2 * du->pasid_cap : 4;
		grown = hw_zalloc(cap * sizeof(*grown));
		if (!grown) {
			return -ENOMEM;
		}
		if (du->pasid_count) {
			memcpy(grown, du->pasids,
			       du->pasid_count * sizeof(*grown));
		}
		hw_free(du->pasids);
		du->pasids = grown;
		du->pasid_cap = cap;
	}
	du->pasids[du->pasid_count].pasid = pasid;
	du->pasids[du->pasid_count++].refs = n;
	return 0;
}

void vtd_domain_pasid_put(struct vtd_domain_unit *du, uint32_t pasid,
			  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < du->pasid_count; i++) {
		if (du->pasids[i].pasid != pasid) {
			continue;
		}
		du->pasids[i].refs -= n;
		if (!du->pasids[i].refs) {
			du->pasids[i] = du->pasids[--du->pasid_count];
		}
		return;
	}
}

int vtd_domain_did(const struct vtd_domain *d, const struct vtd_unit *u)
{
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		if (d->units[i].unit == u) {
			return d->units[i].did;
		}
	}
	return -ENOENT;
}

enum vtd_format vtd_domain_format(const struct vtd_domain *d)
{
	return d->pt.format;
}

void vtd_domain_info(const struct vtd_domain *d, struct vtd_domain_info *info)
{
	const struct vtd_deferred *df;

	*info = (struct vtd_domain_info){
		.format = d->pt.format,
		.addr_width = d->addr_width,
		.levels = d->pt.levels,
		.page_sizes = d->pt.page_sizes,
		.coherent = d->pt.coherent,
		.table_pages = d->pt.table_pages,
	};
	for (df = d->deferred; df; df = df->next) {
		info->deferred++;
	}
}

static bool deferred_passed(struct vtd_domain *d, struct vtd_deferred *df)
{
	struct vtd_unit *u;
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		u = d->units[i].unit;
		if (df->pending[i] &&
		    (!df->seq[i] || !vtd_qi_passed(u, df->seq[i]) ||
		     u->qi.failures != df->failures[i])) {
			return false;
		}
	}
	return true;
}

static void reap(struct vtd_domain *d)
{
	struct vtd_deferred **pp = &d->deferred, *df;

	while ((df = *pp)) {
		if (deferred_passed(d, df)) {
			*pp = df->next;
			vtd_freelist_release(&df->pages);
			hw_free(df);
		} else {
			pp = &df->next;
		}
	}
}

static void defer(struct vtd_domain *d, struct vtd_freelist *fl,
		  const struct vtd_deferred *pending)
{
	struct vtd_deferred *df = hw_zalloc(sizeof(*df));

	if (!df) {
		log_err("vtd",
			"no memory to track %llu table pages awaiting invalidation; leaking them",
			(unsigned long long)fl->count);
	} else {
		*df = *pending;
		df->pages = *fl;
		df->next = d->deferred;
		d->deferred = df;
	}
	fl->head = NULL;
	fl->count = 0;
}

/*
 * First-level tables are invalidated per PASID in use on the unit;
 * second-level ones by domain id, which covers every PASID (VT-d spec
 * 6.5.2.3 and 6.5.2.4).
 */
static int flush_ranges(struct vtd_domain *d, struct vtd_domain_unit *du,
			const struct vtd_range *r, unsigned int count,
			uint32_t *seq)
{
	if (d->pt.format == VTD_FORMAT_FIRST_LEVEL) {
		return vtd_qi_flush_ranges_pasids(du->unit, du->did, du->pasids,
						  du->pasid_count, r, count,
						  seq);
	}
	return vtd_qi_flush_ranges(du->unit, du->did, r, count, seq);
}

/* From the lowest IOVA of the ranges to the highest end. */
static struct vtd_range span_of(const struct vtd_range *r, unsigned int count)
{
	iova_t lo = r[0].iova, hi = iova_add(r[0].iova, r[0].len), end;
	unsigned int i;

	for (i = 1; i < count; i++) {
		end = iova_add(r[i].iova, r[i].len);
		lo = iova_lt(r[i].iova, lo) ? r[i].iova : lo;
		hi = iova_lt(hi, end) ? end : hi;
	}
	return (struct vtd_range){.iova = lo, .len = iova_diff(hi, lo)};
}

/*
 * Unit i of the domain failed to invalidate (e), the first to fail
 * unless err; seq: its last batch.
 */
static void note_failed(struct vtd_deferred *pending, int err, unsigned int i,
			const struct vtd_domain_unit *du, int e, uint32_t seq)
{
	/* The rest is read only where pending (deferred_passed()). */
	if (!err) {
		memset(pending->pending, 0, sizeof(pending->pending));
	}
	/* Only a batch still pending may yet complete. */
	if (e != -ETIMEDOUT) {
		seq = 0;
	}
	pending->seq[i] = seq;
	pending->failures[i] = du->unit->qi.failures;
	pending->pending[i] = true;
}

/*
 * Invalidate the ranges on every unit where d is in use, the IOTLB first
 * (one batch) and then the device-TLBs of attachments with ATS (ats.c,
 * the span of the ranges).
 * With cm_only, only units in caching mode need it (a not-present ->
 * present change, which no device-TLB holds); the others flush their
 * write buffer.  The pages in fl are released once all invalidations
 * completed, deferred otherwise: for good when a device-TLB invalidation
 * failed (seq 0), since only vtd_domain_flush() proves that device can
 * no longer use them.
 */
static inline int sync_ranges(struct vtd_domain *d, const struct vtd_range *r,
			      unsigned int count, bool cm_only,
			      struct vtd_freelist *fl)
{
	struct vtd_deferred pending;
	struct vtd_range span;
	struct vtd_domain_unit *du, *end = d->units + d->unit_count;
	uint32_t seq;
	int err = 0, e;

	for (du = d->units; du < end; du++) {
		if (!du->attached || !vtd_unit_live(du->unit)) {
			continue;
		}
		if (cm_only && !vtd_cap_cm(du->unit->cap)) {
			e = vtd_unit_flush_write_buffer(du->unit);
			seq = 0;
		} else {
			e = flush_ranges(d, du, r, count, &seq);
			if (!e && du->ats) {
				span = span_of(r, count);
				e = vtd_ats_flush(du, NULL, 0, span.iova,
						  span.len);
				seq = e ? 0 : seq;
			}
		}
		if (e) {
			note_failed(&pending, err, du - d->units, du, e, seq);
			err = e;
		}
	}
	if (!fl->count) {
		return err;
	}
	if (!err) {
		vtd_freelist_release(fl);
	} else {
		defer(d, fl, &pending);
	}
	return err;
}

/*
 * One range: for every caller but unmap(), which inlines sync_ranges()
 * (one call less per unmap, and cm_only known false).  Out of line, so
 * that these callers, rare, share one copy of it.
 */
static __attribute__((noinline)) int sync_range(struct vtd_domain *d,
						iova_t iova, uint64_t len,
						bool cm_only,
						struct vtd_freelist *fl)
{
	struct vtd_range r = {.iova = iova, .len = len};

	return sync_ranges(d, &r, 1, cm_only, fl);
}

/* Smallest depth covering addr_width: 39 bits -> 3 levels, 48 -> 4. */
static unsigned int levels_for_width(unsigned int addr_width)
{
	unsigned int levels = 3;

	while (VTD_PAGE_SHIFT + VTD_LEVEL_SHIFT * levels < addr_width) {
		levels++;
	}
	return levels;
}

const char *vtd_unit_no_format(const struct vtd_unit *u, enum vtd_format format)
{
	bool scalable = u->mode == VTD_MODE_SCALABLE;

	if (format == VTD_FORMAT_SECOND_LEVEL) {
		return scalable && !vtd_ecap_slts(u->ecap)
			       ? "second-level translation (SLTS)"
			       : NULL;
	}
	if (!scalable) {
		return vtd_ecap_smts(u->ecap)
			       ? "scalable mode (the unit runs in legacy mode)"
			       : "scalable mode (SMTS)";
	}
	if (format == VTD_FORMAT_FIRST_LEVEL && !vtd_ecap_flts(u->ecap)) {
		return "first-level translation (FLTS)";
	}
	if (format == VTD_FORMAT_PASSTHROUGH && !vtd_ecap_pt(u->ecap)) {
		return "pass-through (ECAP.PT)";
	}
	return NULL;
}

/* Every unit can walk tables of this format, or which cannot and why. */
static int check_units(const struct vtd_domain *d, enum vtd_format format)
{
	const struct vtd_unit *u;
	const char *missing;
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		u = d->units[i].unit;
		missing = vtd_unit_no_format(u, format);
		if (missing) {
			vtd_err(u, "no %s for this domain", missing);
			return -ENOTSUP;
		}
	}
	return 0;
}

/* Second-level tables: SAGAW depth, MGAW, SLLPS intersected. */
static int second_level(struct vtd_domain *d, unsigned int addr_width,
			unsigned int *levels, uint64_t *sizes)
{
	unsigned int i, sllps = VTD_SLLPS_2M | VTD_SLLPS_1G;
	struct vtd_unit *u;

	for (*levels = levels_for_width(addr_width); *levels <= 5;
	     (*levels)++) {
		for (i = 0; i < d->unit_count; i++) {
			if (!(vtd_cap_sagaw(d->units[i].unit->cap) &
			      vtd_sagaw_bit(*levels))) {
				break;
			}
		}
		if (i == d->unit_count) {
			break;
		}
	}
	if (*levels > 5) {
		log_err("vtd",
			"no table depth for %u-bit IOVAs common to the domain's units",
			addr_width);
		return -ENOTSUP;
	}
	for (i = 0; i < d->unit_count; i++) {
		u = d->units[i].unit;
		if (addr_width > vtd_cap_mgaw(u->cap)) {
			vtd_err(u, "%u-bit IOVAs exceed MGAW %u", addr_width,
				vtd_cap_mgaw(u->cap));
			return -ERANGE;
		}
		sllps &= vtd_cap_sllps(u->cap);
	}
	*sizes = VTD_PAGE_4K | (sllps & VTD_SLLPS_2M ? VTD_PAGE_2M : 0) |
		 (sllps & VTD_SLLPS_1G ? VTD_PAGE_1G : 0);
	return 0;
}

/*
 * First-level tables (VT-d spec 3.6): IOVAs must be canonical, so 4 levels
 * cover 47 bits (the lower half), 5 levels (CAP.FL5LP) 56; 2 MiB leaves
 * always, 1 GiB leaves only with CAP.FL1GP.
 */
static unsigned int first_level_width(struct vtd_unit *const *units,
				      unsigned int unit_count)
{
	unsigned int i;

	for (i = 0; i < unit_count; i++) {
		if (!vtd_cap_fl5lp(units[i]->cap)) {
			return 47;
		}
	}
	return 56;
}

static int first_level(struct vtd_domain *d, unsigned int addr_width,
		       unsigned int *levels, uint64_t *sizes)
{
	bool fl5lp = true, fl1gp = true;
	struct vtd_unit *u;
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		u = d->units[i].unit;
		fl5lp = fl5lp && vtd_cap_fl5lp(u->cap);
		fl1gp = fl1gp && vtd_cap_fl1gp(u->cap);
	}
	if (addr_width > 56) {
		log_err("vtd",
			"%u-bit IOVAs are not canonical in first-level tables",
			addr_width);
		return -ERANGE;
	}
	*levels = addr_width > 47 ? 5 : 4;
	if (*levels == 5 && !fl5lp) {
		log_err("vtd",
			"%u-bit IOVAs need 5-level first-level tables, which not every unit of the domain has",
			addr_width);
		return -ENOTSUP;
	}
	*sizes = VTD_PAGE_4K | VTD_PAGE_2M | (fl1gp ? VTD_PAGE_1G : 0);
	return 0;
}

/*
 * Tables every unit can walk (docs/design.md, invariant 8), flushed from the
 * CPU cache unless every unit snoops its walks.
 */
static int choose_format(struct vtd_domain *d, unsigned int addr_width,
			 enum vtd_format format)
{
	unsigned int levels, i;
	bool coherent = true;
	uint64_t sizes;
	int err;

	err = check_units(d, format);
	if (err) {
		return err;
	}
	switch (format) {
	case VTD_FORMAT_SECOND_LEVEL:
		err = second_level(d, addr_width, &levels, &sizes);
		break;
	case VTD_FORMAT_FIRST_LEVEL:
		err = first_level(d, addr_width, &levels, &sizes);
		break;
	case VTD_FORMAT_PASSTHROUGH:
		d->pt.format = format;
		return 0;
	default:
		return -EINVAL;
	}
	if (err) {
		return err;
	}
	for (i = 0; i < d->unit_count; i++) {
		coherent =
			coherent && vtd_unit_walks_coherent(d->units[i].unit);
	}
	return vtd_pgtable_init(&d->pt, format, levels, sizes, coherent);
}

static void free_dids(struct vtd_domain *d)
{
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		vtd_did_free(d->units[i].unit, d->units[i].did);
		hw_free(d->units[i].pasids);
	}
}

int vtd_domain_create_fmt(struct vtd_unit *const *units,
			  unsigned int unit_count, unsigned int addr_width,
			  enum vtd_format format, struct vtd_domain **out)
{
	struct vtd_domain *d;
	unsigned int i;
	int err;

	if (!unit_count || unit_count > VTD_DOMAIN_MAX_UNITS ||
	    addr_width < VTD_PAGE_SHIFT + VTD_LEVEL_SHIFT || addr_width > 57) {
		return -EINVAL;
	}
	d = hw_zalloc(sizeof(*d));
	if (!d) {
		return -ENOMEM;
	}
	d->addr_width = addr_width;
	for (i = 0; i < unit_count; i++) {
		if (!units[i]->dids.map) {
			err = -EINVAL;
			goto out_free_dids;
		}
		err = vtd_did_alloc(units[i], &d->units[i].did);
		if (err) {
			goto out_free_dids;
		}
		d->units[i].unit = units[i];
		d->unit_count = i + 1;
		d->map_sync = d->map_sync || vtd_cap_cm(units[i]->cap) ||
			      vtd_cap_rwbf(units[i]->cap);
	}
	err = choose_format(d, addr_width, format);
	if (err) {
		goto out_free_dids;
	}
	*out = d;
	return 0;

out_free_dids:
	free_dids(d);
	hw_free(d);
	return err;
}

/*
 * Second-level tables, unless a unit in scalable mode walks only
 * first-level ones (ECAP.FLTS without SLTS, VT-d spec 11.4.3): then
 * first-level, which check_units() refuses, with the reason, if another
 * unit of the domain cannot walk them.
 */
static enum vtd_format default_format(struct vtd_unit *const *units,
				      unsigned int unit_count)
{
	unsigned int i;

	for (i = 0; i < unit_count; i++) {
		if (units[i]->mode == VTD_MODE_SCALABLE &&
		    !vtd_ecap_slts(units[i]->ecap)) {
			return VTD_FORMAT_FIRST_LEVEL;
		}
	}
	return VTD_FORMAT_SECOND_LEVEL;
}

int vtd_domain_create(struct vtd_unit *const *units, unsigned int unit_count,
		      unsigned int addr_width, struct vtd_domain **out)
{
	enum vtd_format format;

	if (unit_count > VTD_DOMAIN_MAX_UNITS) {
		return -EINVAL;
	}
	format = default_format(units, unit_count);
	if (format == VTD_FORMAT_FIRST_LEVEL &&
	    addr_width > first_level_width(units, unit_count)) {
		addr_width = first_level_width(units, unit_count);
	}
	return vtd_domain_create_fmt(units, unit_count, addr_width, format,
				     out);
}

int vtd_domain_destroy(struct vtd_domain *d)
{
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		if (d->units[i].attached) {
			return -EBUSY;
		}
	}
	reap(d);
	if (d->deferred) {
		/* The hardware may still hold them: leaking beats reuse. */
		log_err("vtd",
			"domain destroyed with table pages still awaiting invalidation; leaking them");
	}
	/* Every detach invalidated: no unit can reach these tables. */
	vtd_pgtable_fini(&d->pt);
	free_dids(d);
	hw_free(d);
	return 0;
}

/* A range of a domain with tables (pass-through has none to change). */
static int check_range(const struct vtd_domain *d, iova_t iova, uint64_t len)
{
	uint64_t limit = UINT64_C(1) << d->addr_width;

	if (d->pt.format == VTD_FORMAT_PASSTHROUGH || !len ||
	    !iova_aligned(iova, VTD_PAGE_SIZE) ||
	    !bits_is_aligned(len, VTD_PAGE_SIZE) || iova_val(iova) >= limit ||
	    len > limit - iova_val(iova)) {
		return -EINVAL;
	}
	return 0;
}

/* First-level leaves cannot be writable without being readable (9.7). */
static bool prot_valid(const struct vtd_domain *d, unsigned int prot)
{
	if (!prot || (prot & ~(VTD_PROT_READ | VTD_PROT_WRITE))) {
		return false;
	}
	return d->pt.format != VTD_FORMAT_FIRST_LEVEL || (prot & VTD_PROT_READ);
}

/*
 * Take back the leaves a failed map wrote in [iova, iova + len): whole
 * leaves, nothing merged yet, so the unmap needs no split and cannot fail.
 * Their invalidation is tried; pages it does not cover are deferred.
 */
static void map_rollback(struct vtd_domain *d, iova_t iova, uint64_t len)
{
	struct vtd_freelist fl = {0};
	uint64_t undone;

	vtd_pgtable_unmap(&d->pt, iova, len, &undone, &fl);
	if (undone || fl.count) {
		sync_range(d, iova, len, false, &fl);
	}
}

/*
 * What follows writing the leaves, when there is anything: the units to
 * tell of a map (vtd_domain_map()), the rollback of a failed one, merges.
 * Not inlined, so that a map needing none of it saves no registers.
 */
static __attribute__((noinline)) int map_settle(struct vtd_domain *d,
						iova_t iova, uint64_t len,
						uint64_t mapped, int err)
{
	struct vtd_freelist fl = {0};
	iova_t start, end;
	uint64_t span;

	if (!err && d->map_sync) {
		err = sync_range(d, iova, len, true, &fl);
	} else if (err) {
		len = mapped;
	}
	if (err) {
		if (len) {
			map_rollback(d, iova, len);
		}
		return err;
	}
	vtd_pgtable_merge(&d->pt, iova, len, &fl);
	if (!fl.count) {
		return 0;
	}
	/*
	 * Merged leaves freed tables that walks of neighbouring addresses may
	 * have cached: invalidate the whole span of the largest leaf.
	 */
	span = UINT64_C(1) << bits_highest_set(d->pt.page_sizes);
	start = iova_align_down(iova, span);
	end = iova_align_down(iova_add(iova, len + span - 1), span);
	sync_range(d, start, iova_diff(end, start), false, &fl);
	return 0;
}

/*
 * On error nothing of [iova, iova + len) is left mapped.  Merges come only
 * after the map took effect: they change no translation, so their
 * invalidation only decides when the folded tables are freed.  A map that
 * needs neither (the common case: no caching mode, nothing to merge) ends
 * with its leaves.
 */
static inline int map(struct vtd_domain *d, iova_t iova, hpa_t hpa,
		      uint64_t len, unsigned int prot)
{
	uint64_t mapped = 0;
	int err;

	err = check_range(d, iova, len);
	if (err) {
		return err;
	}
	if (!hpa_aligned(hpa, VTD_PAGE_SIZE) ||
	    hpa_val(hpa) + len - 1 > (VTD_SL_ADDR | (VTD_PAGE_SIZE - 1)) ||
	    hpa_val(hpa) + len - 1 < hpa_val(hpa) || !prot_valid(d, prot)) {
		return -EINVAL;
	}
	if (d->deferred) {
		reap(d);
	}
	if (len == VTD_PAGE_SIZE) {
		/* whole or not at all: nothing mapped on error */
		err = vtd_pgtable_map_page(&d->pt, iova, hpa, prot);
	} else {
		err = vtd_pgtable_map(&d->pt, iova, hpa, len, prot, &mapped);
	}
	if (err || d->map_sync || d->pt.merge_pending) {
		return map_settle(d, iova, len, mapped, err);
	}
	return 0;
}

/* Out of line: a one-page map saves none of the registers this needs. */
static __attribute__((noinline)) int map_range(struct vtd_domain *d,
					       iova_t iova, hpa_t hpa,
					       uint64_t len, unsigned int prot)
{
	return map(d, iova, hpa, len, prot);
}

/* One page, the common case of a map per buffer: map() for that length. */
int vtd_domain_map(struct vtd_domain *d, iova_t iova, hpa_t hpa, uint64_t len,
		   unsigned int prot)
{
	if (len == VTD_PAGE_SIZE) {
		return map(d, iova, hpa, VTD_PAGE_SIZE, prot);
	}
	return map_range(d, iova, hpa, len, prot);
}

/*
 * Every range is taken out of the tables first, then invalidated in one
 * batch: nothing is reachable once that batch completed.  After a split
 * failed (-ENOMEM), the ranges are still invalidated, all of them.
 */
static inline int unmap(struct vtd_domain *d, const struct vtd_range *r,
			unsigned int count)
{
	struct vtd_freelist fl = {0};
	uint64_t unmapped, any = 0;
	unsigned int i;
	int err = 0, serr;

	if (!count) {
		return -EINVAL;
	}
	for (i = 0; i < count; i++) {
		err = check_range(d, r[i].iova, r[i].len);
		if (err) {
			return err;
		}
	}
	if (d->deferred) {
		reap(d);
	}
	for (i = 0; i < count && !err; i++) {
		if (r[i].len == VTD_PAGE_SIZE) {
			err = vtd_pgtable_unmap_page(&d->pt, r[i].iova,
						     &unmapped, &fl);
		} else {
			err = vtd_pgtable_unmap(&d->pt, r[i].iova, r[i].len,
						&unmapped, &fl);
		}
		any |= unmapped;
	}
	if (!err && !any && !fl.count) {
		return -ENOENT;
	}
	serr = sync_ranges(d, r, count, false, &fl);
	return err ? err : serr;
}

/* Out of line: a one-page unmap saves none of the registers this needs. */
static __attribute__((noinline)) int unmap_ranges(struct vtd_domain *d,
						  const struct vtd_range *r,
						  unsigned int count)
{
	return unmap(d, r, count);
}

/*
 * One page, the common case of an unmap per buffer: unmap() for it.  Not
 * inlined into vtd_domain_unmap_ranges(), whose other callers would then
 * pay for the registers it saves.
 */
__attribute__((noinline)) int vtd_domain_unmap(struct vtd_domain *d,
					       iova_t iova, uint64_t len)
{
	struct vtd_range r = {.iova = iova, .len = len};

	if (len == VTD_PAGE_SIZE) {
		return unmap(d, &r, 1);
	}
	return unmap_ranges(d, &r, 1);
}

/* A single range takes the path of vtd_domain_unmap(), one page its own. */
int vtd_domain_unmap_ranges(struct vtd_domain *d, const struct vtd_range *r,
			    unsigned int count)
{
	if (count == 1) {
		return vtd_domain_unmap(d, r->iova, r->len);
	}
	return unmap_ranges(d, r, count);
}

/*
 * The whole space needs more than a round of page-selective chunks (or,
 * with a large MAMV, one chunk covering it), so it is invalidated
 * domain-selectively or as a whole, which covers every IOTLB and
 * paging-structure entry of the domain (VT-d spec 6.5.2.3) whatever
 * earlier invalidations failed or still pend: every deferred table page
 * is free to go.
 */
int vtd_domain_flush(struct vtd_domain *d)
{
	struct vtd_freelist none = {0};
	struct vtd_deferred *df;
	int err;

	err = sync_range(d, iova_make(0), UINT64_C(1) << d->addr_width, false,
			 &none);
	if (err) {
		return err;
	}
	while ((df = d->deferred)) {
		d->deferred = df->next;
		vtd_freelist_release(&df->pages);
		hw_free(df);
	}
	return 0;
}

void vtd_domain_for_each_mapping(struct vtd_domain *d, vtd_mapping_fn fn,
				 void *ctx)
{
	vtd_pgtable_walk(&d->pt, fn, ctx);
}

bool vtd_listed_before(const rid_t *sids, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < i; j++) {
		if (rid_eq(sids[j], sids[i])) {
			return true;
		}
	}
	return false;
}

/*
 * No new attachment for a quarantined device (-EIO), nor on a unit whose
 * invalidations are late (-ETIMEDOUT).
 */
int vtd_attach_allowed(struct vtd_unit *u, const rid_t *sids,
		       unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (vtd_device_quarantined(u, sids[i])) {
			vtd_warn(u,
				 "sid " RID_FMT
				 " is quarantined; reset it first",
				 RID_ARGS(sids[i]));
			return -EIO;
		}
	}
	if (vtd_unit_degraded(u)) {
		vtd_warn(
			u,
			"degraded (an invalidation is late); no new attachments");
		return -ETIMEDOUT;
	}
	return 0;
}

int vtd_attach(struct vtd_domain *d, struct vtd_unit *u,
	       const rid_t *source_ids, unsigned int count)
{
	struct vtd_domain_unit *du = vtd_domain_unit(d, u);

	if (!du || !count) {
		return -EINVAL;
	}
	if (u->mode == VTD_MODE_SCALABLE) {
		return vtd_sm_attach(d, du, source_ids, count, VTD_RID_PASID,
				     NULL);
	}
	return vtd_legacy_attach(d, du, source_ids, count, false);
}

int vtd_detach(struct vtd_domain *d, struct vtd_unit *u,
	       const rid_t *source_ids, unsigned int count)
{
	struct vtd_domain_unit *du = vtd_domain_unit(d, u);

	if (!du || !count) {
		return -EINVAL;
	}
	if (u->mode == VTD_MODE_SCALABLE) {
		return vtd_sm_detach(du, source_ids, count, VTD_RID_PASID);
	}
	return vtd_legacy_detach(du, source_ids, count);
}
