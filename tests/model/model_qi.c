/*
 * The VT-d hardware model: queued invalidation: fetching, executing and
 * completing descriptors, injected errors.
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

/* ---- queued invalidation ---- */

/* 2^QS pages of 128-bit or 256-bit descriptors (IQA.DW). */
static unsigned int qi_size(const struct munit *mu)
{
	return (256U << (mu->iqa & 7)) >> model_desc_shift(mu);
}

/* IQE: fetching stops with IQH on the descriptor at fault (6.5.2.10). */
static void raise_iqe(struct munit *mu, unsigned int iqei)
{
	mu->fsts |= FS_IQE;
	mu->iqercd = (mu->iqercd & ~UINT64_C(0xf)) | iqei;
	mu->iqe_wait_tail = true;
	mu->stats.iqe++;
}

/* New work, or the queue restarted: the engine is busy from now on. */
void model_wake(struct munit *mu)
{
	if (!mu->exec_due && mu->ready < M.now)
		mu->ready = M.now;
}

/* What the hardware checks when it fetches; 0 or the IQEI of the error. */
static unsigned int desc_check(const struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int g = (unsigned int)model_fld(lo, 5, 4);

	if (model_fld(lo, 11, 9))
		return 3;
	switch (lo & 0xf) {
	case 1: /* context-cache */
		return !g || (lo & 0xffc0) || (lo >> 50) || hi ? 4 : 0;
	case 2: /* IOTLB */
		if (!g || (lo & 0xff00) || (lo >> 32) || (hi & 0xf80))
			return 4;
		if (g == 3 && model_cap_bit(mu, 39) &&
		    (hi & 0x3f) > model_fld(mu->cfg.cap, 53, 48))
			return 4;
		return 0;
	case 3: /* device-TLB: PFSID allowed, as the spec says */
		if (!(mu->cfg.ecap & 4))
			return 3;
		return (lo & 0x1f0) || (lo & 0xffe00000U) ||
				       model_fld(lo, 51, 48) || (hi & 0xffe)
			       ? 4
			       : 0;
	case 4: /* interrupt entry cache */
		return model_ir_desc_check(mu->index, lo, hi);
	case 5: /* wait */
		return (lo & 0xffffff80U) || (hi & 3) ? 4 : 0;
	case 6: /* PASID-based IOTLB: PASID or page within it */
		if (!model_ecap_bit(mu, EC_SMTS)) {
			return 3;
		}
		if (g < 2 || (lo & 0xf1c0) || (lo >> 52) || (hi & 0xf80)) {
			return 4;
		}
		return g == 3 && (hi & 0x3f) > model_fld(mu->cfg.cap, 53, 48)
			       ? 4
			       : 0;
	case 7: /* PASID cache: domain, PASID or global */
		if (!model_ecap_bit(mu, EC_SMTS)) {
			return 3;
		}
		return g == 2 || (lo & 0xf1c0) || (lo >> 52) || hi ? 4 : 0;
	case 8: /* PASID-based device-TLB */
		if (!model_ecap_bit(mu, EC_SMTS) ||
		    !model_ecap_bit(mu, EC_DT)) {
			return 3;
		}
		return hi & 0x7fe ? 4 : 0;
	}
	return 3;
}

/* A device-TLB invalidation's target, whichever of the two kinds. */
static bool devtlb_target(uint64_t lo, uint16_t *sid)
{
	if ((lo & 0xf) == 3) {
		*sid = (uint16_t)model_fld(lo, 47, 32);
	} else if ((lo & 0xf) == 8) {
		*sid = (uint16_t)model_fld(lo, 31, 16);
	} else {
		return false;
	}
	return true;
}

static void cc_apply(struct munit *mu, uint64_t lo)
{
	unsigned int g = (unsigned int)model_fld(lo, 5, 4), i;
	uint16_t did = (uint16_t)model_fld(lo, 31, 16);
	uint16_t sid = (uint16_t)model_fld(lo, 47, 32);
	unsigned int fm = (unsigned int)model_fld(lo, 49, 48);
	/* FM masks function bits: 1 -> bit 2, 2 -> bits 2:1, 3 -> bits 2:0. */
	uint16_t ignore = (uint16_t)((7U << (3 - fm)) & 7);

	/*
	 * Scalable-mode context entries carry no domain id: device-selective
	 * invalidation goes by source id alone there, domain-selective
	 * cannot select and is taken as global.
	 */
	if (model_scalable(mu) && g == 2) {
		g = 1;
	}
	for (i = 0; i < CTX_CACHE; i++) {
		struct ctx_cache_entry *c = &mu->ctx[i];

		if (!c->valid)
			continue;
		if (g == 1 || (g == 2 && c->did == did) ||
		    (g == 3 && (model_scalable(mu) || c->did == did) &&
		     (c->sid & ~ignore) == (sid & ~ignore)))
			c->valid = false;
	}
	if (g == 1)
		mu->stats.cc_global++;
	else if (g == 2)
		mu->stats.cc_domain++;
	else
		mu->stats.cc_device++;
	model_ctx_scan(mu);
}

static void iotlb_apply(struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int g = (unsigned int)model_fld(lo, 5, 4), am = hi & 0x3f, i;
	uint16_t did = (uint16_t)model_fld(lo, 31, 16);
	uint64_t addr = hi & ~(uint64_t)(PG - 1), size = (uint64_t)PG << am;

	if (g == 3 && !model_cap_bit(mu, 39))
		g = 2; /* no PSI: a coarser invalidation is allowed */
	if (g == 3 && (addr & (size - 1)))
		model_violation(
			"unit %u: page-selective invalidation of 0x%llx not aligned to its mask %u",
			mu->index, (unsigned long long)addr, am);
	/*
	 * Page-selective: second-level (and pass-through) entries in the
	 * range; first-level and nested ones of the domain whatever their
	 * address (6.5.2.3).
	 */
	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];
		bool fl = t->pgtt == PGTT_FL || t->pgtt == PGTT_NESTED;

		if (!t->valid)
			continue;
		if (g == 1 || (g == 2 && t->did == did) ||
		    (g == 3 && t->did == did &&
		     (fl ||
		      (t->iova < addr + size && addr < t->iova + t->size))))
			t->valid = false;
	}
	if (g == 1)
		mu->stats.iotlb_global++;
	else if (g == 2)
		mu->stats.iotlb_domain++;
	else
		mu->stats.iotlb_page++;
}

/*
 * PASID-based IOTLB invalidation (6.5.2.4): everything of the domain and
 * PASID, or its first-level and nested entries in a range.
 */
static void piotlb_apply(struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int g = (unsigned int)model_fld(lo, 5, 4), am = hi & 0x3f, i;
	uint16_t did = (uint16_t)model_fld(lo, 31, 16);
	uint32_t pasid = (uint32_t)model_fld(lo, 51, 32);
	uint64_t addr = hi & ~(uint64_t)(PG - 1), size = (uint64_t)PG << am;

	if (g == 3 && (addr & (size - 1))) {
		model_violation(
			"unit %u: PASID-based invalidation of 0x%llx not aligned to its mask %u",
			mu->index, (unsigned long long)addr, am);
	}
	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];
		bool fl = t->pgtt == PGTT_FL || t->pgtt == PGTT_NESTED;

		if (!t->valid || t->did != did || t->pasid != pasid) {
			continue;
		}
		if (g == 2 ||
		    (fl && t->iova < addr + size && addr < t->iova + t->size)) {
			t->valid = false;
		}
	}
	if (g == 2) {
		mu->stats.piotlb_pasid++;
	} else {
		mu->stats.piotlb_page++;
	}
}

/* PASID-cache invalidation (6.5.2.2): by domain, by PASID, or all. */
static void pc_apply(struct munit *mu, uint64_t lo)
{
	unsigned int g = (unsigned int)model_fld(lo, 5, 4), i;
	uint16_t did = (uint16_t)model_fld(lo, 31, 16);
	uint32_t pasid = (uint32_t)model_fld(lo, 51, 32);

	for (i = 0; i < PASID_CACHE; i++) {
		struct pasid_cache_entry *c = &mu->pc[i];

		if (!c->valid) {
			continue;
		}
		if (g == 3 ||
		    (c->did == did && (g == 0 || c->pasid == pasid))) {
			c->valid = false;
		}
	}
	if (g == 3) {
		mu->stats.pc_global++;
	} else if (g == 0) {
		mu->stats.pc_domain++;
	} else {
		mu->stats.pc_pasid++;
	}
	model_pe_scan(mu);
}

/*
 * Status writes are posted in order: a delayed one holds back every later
 * one, as PCIe ordering does on real hardware.
 */
static void status_write(struct munit *mu, uint64_t pa, uint32_t val,
			 uint64_t when)
{
	uint64_t due = when + mu->cfg.status_delay_ns;

	if (mu->delay_countdown == 0) {
		mu->delay_countdown = -1;
		due += mu->delay_ns;
	} else if (mu->delay_countdown > 0) {
		mu->delay_countdown--;
	}
	if (mu->write_count && mu->writes[mu->write_count - 1].due > due)
		due = mu->writes[mu->write_count - 1].due;
	if (!mu->write_count && due <= M.now) {
		model_unit_write32(mu, pa, val);
		return;
	}
	if (mu->write_count == WRITES_MAX) {
		model_violation("unit %u: more than %u status writes in flight",
				mu->index, WRITES_MAX);
		return;
	}
	mu->writes[mu->write_count++] =
		(struct status_write){.pa = pa, .val = val, .due = due};
}

void model_land_writes(struct munit *mu)
{
	unsigned int n = 0;

	while (n < mu->write_count && mu->writes[n].due <= M.now) {
		model_unit_write32(mu, mu->writes[n].pa, mu->writes[n].val);
		n++;
	}
	mu->write_count -= n;
	memmove(mu->writes, mu->writes + n,
		mu->write_count * sizeof(*mu->writes));
}

static void wait_apply(struct munit *mu, uint64_t lo, uint64_t hi,
		       uint64_t when)
{
	bool sw = lo & (1U << 5), irq = lo & (1U << 4);

	if (sw && irq)
		model_violation(
			"unit %u: wait descriptor with both SW and IF (QEMU 7.2 aborts on it)",
			mu->index);
	if (sw)
		status_write(mu, hi & ~UINT64_C(3), (uint32_t)(lo >> 32), when);
	mu->stats.waits++;
}

/*
 * docs/design.md, invariant 4, from the hardware's side: a wait must not
 * target a status word that a write is still on its way to.
 */
static void check_status_target(struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int i;

	if ((lo & 0xf) != 5 || !(lo & (1U << 5)))
		return;
	for (i = 0; i < mu->write_count; i++) {
		if (mu->writes[i].pa == (hi & ~UINT64_C(3)))
			model_violation(
				"unit %u: status word 0x%llx reused while the write of %u to it is still on its way",
				mu->index, (unsigned long long)mu->writes[i].pa,
				mu->writes[i].val);
	}
}

/* Fetch while the window has room, nothing stops the queue and work waits. */
void model_qi_fetch(struct munit *mu)
{
	uint64_t pa, lo, hi, upper[2] = {0, 0};
	unsigned int iqei;

	while (mu->iqh != mu->iqt && mu->fetched_count <= mu->cfg.fetch_ahead &&
	       !(mu->fsts & (FS_IQE | FS_ITE)) && !mu->iqe_wait_tail) {
		pa = (mu->iqa & ADDR_MASK) +
		     mu->iqh * (16U << model_desc_shift(mu));
		if (!model_readable(pa)) {
			model_violation(
				"unit %u: descriptor fetched from %s memory",
				mu->index,
				model_page_state(pa) == PG_FREED
					? "freed"
					: "unallocated");
			raise_iqe(mu, 2);
			return;
		}
		if (mu->iqe_countdown == 0) {
			mu->iqe_countdown = -1;
			raise_iqe(mu, mu->iqe_info);
			return;
		}
		if (mu->iqe_countdown > 0)
			mu->iqe_countdown--;
		/* 128-bit descriptors are invalid in model_scalable mode
		 * (6.5.2). */
		if (model_scalable(mu) && !model_desc_shift(mu)) {
			raise_iqe(mu, 5);
			return;
		}
		memcpy(&lo, M.cpu + pa, 8);
		memcpy(&hi, M.cpu + pa + 8, 8);
		if (model_desc_shift(mu)) {
			memcpy(upper, M.cpu + pa + 16, 16);
		}
		iqei = desc_check(mu, lo, hi);
		/* Bits 255:128 are reserved in every type the model knows. */
		if (!iqei && (upper[0] || upper[1])) {
			iqei = 4;
		}
		if (iqei) {
			raise_iqe(mu, iqei);
			return;
		}
		check_status_target(mu, lo, hi);
		mu->fetched[mu->fetched_count++] = (struct mdesc){lo, hi};
		mu->iqh = (mu->iqh + 1) % qi_size(mu);
	}
}

static struct endpoint *endpoint_find(unsigned int unit, uint16_t sid)
{
	unsigned int i;

	for (i = 0; i < M.endpoint_count; i++) {
		if (M.endpoints[i].unit == unit && M.endpoints[i].sid == sid)
			return &M.endpoints[i];
	}
	return NULL;
}

/*
 * The descriptor at exec starts.  A device-TLB invalidation goes to its
 * endpoint; one that cannot answer (removed, silent, absent) makes the
 * hardware time out after ite_timeout_ns.
 */
static void qi_begin(struct munit *mu)
{
	const struct mdesc *d = &mu->fetched[0];
	uint64_t latency = mu->cfg.qi_latency_ns;
	struct endpoint *ep;
	uint16_t sid;

	mu->exec_times_out = false;
	if (devtlb_target(d->lo, &sid)) {
		ep = endpoint_find(mu->index, sid);
		mu->stats.devtlb++;
		if (ep) {
			ep->stats.invalidations++;
			if (ep->removed)
				ep->stats.after_removal++;
		}
		if (!ep || ep->removed || ep->latency_ns == MODEL_ATS_NEVER) {
			latency = mu->cfg.ite_timeout_ns;
			mu->exec_times_out = true;
		} else {
			latency = ep->latency_ns;
		}
	}
	mu->exec_due = mu->ready + latency;
}

/*
 * No device-TLB completion in time: ITE with ITESID, every fetched wait
 * aborted, nothing fetched until ITE is cleared, then fetching resumes at
 * IQH (6.5.2.10).  Whether fetched descriptors run again is left open by
 * the spec: with ite_refetch IQH goes back to the timed-out one and all
 * after it are fetched again; otherwise they are dropped unrun.
 */
static void qi_time_out(struct munit *mu)
{
	uint16_t sid = 0;

	if (!mu->cfg.ite_no_sid)
		devtlb_target(mu->fetched[0].lo, &sid);
	mu->fsts |= FS_ITE;
	mu->iqercd = (mu->iqercd & ~(UINT64_C(0xffff) << 32)) |
		     ((uint64_t)sid << 32);
	mu->stats.ite++;
	if (mu->cfg.ite_refetch)
		mu->iqh = mu->exec;
	else
		mu->exec = mu->iqh;
	mu->fetched_count = 0;
	mu->exec_due = 0;
}

/* A bad completion (invalid ITag or source id): ICE, the queue goes on. */
static void count_ice(struct munit *mu)
{
	if (mu->ice_countdown < 0)
		return;
	if (mu->ice_countdown-- > 0)
		return;
	if (!(mu->fsts & FS_ICE)) {
		mu->fsts |= FS_ICE;
		mu->iqercd = (mu->iqercd & ~(UINT64_C(0xffff) << 48)) |
			     ((uint64_t)mu->ice_sid << 48);
	}
	mu->stats.ice++;
}

static void qi_finish(struct munit *mu)
{
	struct mdesc d = mu->fetched[0];
	uint64_t when = mu->exec_due;
	struct executed *e;

	if (mu->exec_times_out) {
		qi_time_out(mu);
		return;
	}
	switch (d.lo & 0xf) {
	case 1:
		cc_apply(mu, d.lo);
		break;
	case 2:
		iotlb_apply(mu, d.lo, d.hi);
		break;
	case 4:
		model_ir_iec(mu->index, d.lo);
		break;
	case 5:
		wait_apply(mu, d.lo, d.hi, when);
		break;
	case 6:
		piotlb_apply(mu, d.lo, d.hi);
		break;
	case 7:
		pc_apply(mu, d.lo);
		break;
	}
	e = &mu->executed[mu->executed_count++ % EXEC_LOG];
	*e = (struct executed){.lo = d.lo, .hi = d.hi, .when = when};
	mu->stats.descs++;
	count_ice(mu);
	mu->fetched_count--;
	memmove(mu->fetched, mu->fetched + 1,
		mu->fetched_count * sizeof(*mu->fetched));
	mu->exec = (mu->exec + 1) % qi_size(mu);
	mu->ready = when;
	mu->exec_due = 0;
}

/* Descriptors run one after another, in order, each when its time comes. */
void model_qi_run(struct munit *mu)
{
	if (!(mu->gsts & G_QIE))
		return;
	for (;;) {
		model_qi_fetch(mu);
		if (!mu->fetched_count || (mu->fsts & FS_ITE))
			return;
		if (!mu->exec_due)
			qi_begin(mu);
		/* Stalled: nothing finishes, however long it has been due. */
		if (mu->qi_stalled || M.now < mu->exec_due)
			return;
		qi_finish(mu);
	}
}

/* An IQT write: the tail may move forward, never past unfinished work. */
void model_doorbell(struct munit *mu, uint64_t iqt)
{
	uint64_t q = qi_size(mu);

	if (iqt >= q) {
		mu->iqt = iqt;
		raise_iqe(mu, 1);
		return;
	}
	if ((iqt + q - mu->exec) % q < (mu->iqt + q - mu->exec) % q)
		model_violation(
			"unit %u: tail moved from %llu to %llu, over descriptors the hardware has not finished (from %llu)",
			mu->index, (unsigned long long)mu->iqt,
			(unsigned long long)iqt, (unsigned long long)mu->exec);
	mu->iqt = iqt;
	/* Tail writes while IQE is set do not restart fetching. */
	if (!(mu->fsts & FS_IQE))
		mu->iqe_wait_tail = false;
	model_wake(mu);
	model_qi_run(mu);
}

void model_inject_iqe(unsigned int unit, unsigned int after_descs,
		      unsigned int iqei)
{
	M.units[unit].iqe_countdown = (int)after_descs;
	M.units[unit].iqe_info = iqei;
}

void model_inject_ice(unsigned int unit, unsigned int after_descs, rid_t rid)
{
	uint16_t sid = rid_val(rid);

	M.units[unit].ice_countdown = (int)after_descs;
	M.units[unit].ice_sid = sid;
}

void model_delay_status(unsigned int unit, unsigned int after_waits,
			uint64_t delay_ns)
{
	M.units[unit].delay_countdown = (int)after_waits;
	M.units[unit].delay_ns = delay_ns;
}

unsigned int model_executed(unsigned int unit, uint64_t lo, uint64_t hi,
			    uint64_t since_ns)
{
	const struct munit *mu = &M.units[unit];
	uint64_t n =
		mu->executed_count < EXEC_LOG ? mu->executed_count : EXEC_LOG;
	unsigned int found = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		const struct executed *e = &mu->executed[i];

		if (e->lo == lo && e->hi == hi && e->when >= since_ns)
			found++;
	}
	return found;
}

void model_add_endpoint(unsigned int unit, rid_t rid, uint64_t ats_latency_ns)
{
	uint16_t sid = rid_val(rid);
	struct endpoint *ep = endpoint_find(unit, sid);

	if (!ep) {
		if (M.endpoint_count == MAX_ENDPOINTS) {
			fprintf(stderr, "model: too many endpoints\n");
			abort();
		}
		ep = &M.endpoints[M.endpoint_count++];
		memset(ep, 0, sizeof(*ep));
		ep->unit = unit;
		ep->sid = sid;
	}
	ep->latency_ns = ats_latency_ns;
	ep->removed = false;
}

void model_silence_endpoint(unsigned int unit, rid_t rid, bool silent)
{
	uint16_t sid = rid_val(rid);
	struct endpoint *ep = endpoint_find(unit, sid);

	if (ep)
		ep->silent = silent;
}

void model_remove_endpoint(unsigned int unit, rid_t rid)
{
	uint16_t sid = rid_val(rid);
	struct endpoint *ep = endpoint_find(unit, sid);

	if (ep)
		ep->removed = true;
}

const struct model_endpoint_stats *model_endpoint_stats(unsigned int unit,
							rid_t rid)
{
	uint16_t sid = rid_val(rid);

	static const struct model_endpoint_stats none;
	struct endpoint *ep = endpoint_find(unit, sid);

	return ep ? &ep->stats : &none;
}

void model_qi_stall(unsigned int unit, bool stall)
{
	struct munit *mu = &M.units[unit];

	mu->qi_stalled = stall;
	if (!stall) {
		if (mu->exec_due && mu->exec_due < M.now)
			mu->exec_due = M.now;
		model_wake(mu);
	}
	model_run();
}

void model_unstick(unsigned int unit)
{
	struct munit *mu = &M.units[unit];

	mu->cfg.gsts_stuck = 0;
	if (mu->op.active)
		mu->op.due = M.now;
	model_run();
}
