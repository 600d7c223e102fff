/*
 * Interrupt remapping in the VT-d model; see model_ir.h.  Like model.c it
 * reads the spec on its own and does not include the driver's regs.h.
 */
#include "tests/model/model_ir.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"

#include "tests/model/model.h"

/* GSTS (11.4.5), IRTA (11.4.9.1), ECAP (11.4.3). */
#define GS_IRES	  (1U << 25)
#define GS_CFIS	  (1U << 23)
#define IRTA_EIME (UINT64_C(1) << 11)
#define ECAP_IR	  3
#define ECAP_EIM  4

/* IRTE, remapped format (9.10). */
#define IRTE_P		   (UINT64_C(1) << 0)
#define IRTE_IM		   (UINT64_C(1) << 15) /* posted: the model has no PI */
#define IRTE_LO_RSVD	   (UINT64_C(0x7000) | UINT64_C(0xff000000))
#define IRTE_LO_RSVD_XAPIC (UINT64_C(0xff) << 32 | UINT64_C(0xffff) << 48)
#define IRTE_HI_RSVD	   (~UINT64_C(0) << 20)

/* IEC invalidate descriptor (6.5.2.7): G, IM, IIDX; the rest reserved. */
#define IEC_G	    (UINT64_C(1) << 4)
#define IEC_LO_RSVD (UINT64_C(0x07ffffe0) | UINT64_C(0xffff) << 48)

#define IEC_SIZE  32U
#define IQEI_TYPE 3U
#define IQEI_RSVD 4U

struct iec_entry {
	bool valid;
	unsigned int index;
	uint64_t lo;
	uint64_t hi;
};

/* What the unit last saw of an entry, for the torn-update check. */
struct irte_seen {
	uint64_t lo;
	uint64_t hi;
	bool seen;
};

struct ir_unit {
	bool latched; /* SIRTP done */
	uint64_t base;
	unsigned int size; /* entries */
	bool eime;
	bool iec_since_sirtp; /* a global IEC invalidation followed it */
	struct iec_entry iec[IEC_SIZE];
	unsigned int iec_next;
	struct irte_seen *seen;
	struct model_ir_stats stats;
};

static struct ir_unit IR[MODEL_MAX_UNITS];

static uint64_t fld(uint64_t v, unsigned int hi, unsigned int lo)
{
	return (v >> lo) & ((UINT64_C(1) << (hi - lo + 1)) - 1);
}

static __attribute__((format(printf, 1, 2))) void ir_violation(const char *fmt,
							       ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	model_violation_str(line);
}

void model_ir_reset(void)
{
	unsigned int i;

	for (i = 0; i < MODEL_MAX_UNITS; i++) {
		free(IR[i].seen);
	}
	memset(IR, 0, sizeof(IR));
}

static bool ecap_has(unsigned int unit, unsigned int bit)
{
	return model_unit_ecap(unit) & (UINT64_C(1) << bit);
}

/* SIRTP latches IRTA: base, EIME, 2^(S + 1) entries (11.4.4). */
void model_ir_sirtp(unsigned int unit, uint64_t irta)
{
	struct ir_unit *ir = &IR[unit];

	ir->latched = true;
	ir->base = irta & ~UINT64_C(0xfff);
	ir->size = 2U << fld(irta, 3, 0);
	ir->eime = irta & IRTA_EIME;
	ir->iec_since_sirtp = false;
	if (ir->eime && !ecap_has(unit, ECAP_EIM)) {
		ir_violation(
			"unit %u: IRTA.EIME set on a unit without ECAP.EIM",
			unit);
	}
	free(ir->seen);
	ir->seen = calloc(ir->size, sizeof(*ir->seen));
}

/*
 * Software must invalidate the IEC globally after SIRTP before it relies
 * on the new table (11.4.4).  While IRE is off the unit reads no entry,
 * so what it saw before says nothing about updates made meanwhile.
 */
void model_ir_ire(unsigned int unit, bool on)
{
	struct ir_unit *ir = &IR[unit];

	if (!on) {
		return;
	}
	if (!ir->latched) {
		ir_violation(
			"unit %u: IRE set without an interrupt remapping table pointer (SIRTP)",
			unit);
		return;
	}
	if (!ir->iec_since_sirtp) {
		ir_violation(
			"unit %u: IRE set without a global interrupt entry cache invalidation after SIRTP",
			unit);
	}
	memset(ir->seen, 0, ir->size * sizeof(*ir->seen));
}

static bool ir_on(unsigned int unit)
{
	return model_unit_gsts(unit) & GS_IRES;
}

static bool irte_read(unsigned int unit, unsigned int index, uint64_t *lo,
		      uint64_t *hi)
{
	uint64_t pa = IR[unit].base + (uint64_t)index * 16;

	return model_table_read(unit, pa, lo) &&
	       model_table_read(unit, pa + 8, hi);
}

/*
 * A present entry seen again present with another source-id word was
 * rewritten in place: between the two stores the unit could have used a
 * mix of old and new (9.10 asks for 128-bit atomic updates or going
 * through not-present).  A low word changed alone is one 64-bit store.
 */
static void observe(unsigned int unit, unsigned int index, uint64_t lo,
		    uint64_t hi)
{
	struct irte_seen *s = &IR[unit].seen[index];

	if (s->seen && (s->lo & IRTE_P) && (lo & IRTE_P) && s->hi != hi) {
		ir_violation(
			"unit %u: IRTE %u torn: present 0x%016llx:%016llx became present 0x%016llx:%016llx without being seen not present",
			unit, index, (unsigned long long)s->hi,
			(unsigned long long)s->lo, (unsigned long long)hi,
			(unsigned long long)lo);
	}
	s->lo = lo;
	s->hi = hi;
	s->seen = true;
}

static void observe_index(unsigned int unit, unsigned int index)
{
	uint64_t lo, hi;

	if (irte_read(unit, index, &lo, &hi)) {
		observe(unit, index, lo, hi);
	}
}

/*
 * A CPU store to a live table: a line may be written back at any moment,
 * so the unit may read the entry as the CPU has it now.
 */
void model_ir_stored(uint64_t pa)
{
	unsigned int unit, n = model_unit_count(), index;
	const uint64_t *e;

	for (unit = 0; unit < n; unit++) {
		struct ir_unit *ir = &IR[unit];

		if (!ir->latched || !ir_on(unit) || pa < ir->base ||
		    pa >= ir->base + (uint64_t)ir->size * 16) {
			continue;
		}
		index = (unsigned int)((pa - ir->base) / 16);
		e = hw_phys_to_virt(ir->base + (uint64_t)index * 16);
		observe(unit, index, e[0], e[1]);
	}
}

/* A cache flush made CPU writes to a live table visible to the unit. */
void model_ir_flushed(uint64_t pa, uint64_t len)
{
	unsigned int unit, n = model_unit_count(), i;
	uint64_t first, end;

	for (unit = 0; unit < n; unit++) {
		struct ir_unit *ir = &IR[unit];

		if (!ir->latched || !ir_on(unit)) {
			continue;
		}
		end = ir->base + (uint64_t)ir->size * 16;
		if (pa >= end || pa + len <= ir->base) {
			continue;
		}
		first = pa > ir->base ? (pa - ir->base) / 16 : 0;
		for (i = (unsigned int)first;
		     i < ir->size && ir->base + (uint64_t)i * 16 < pa + len;
		     i++) {
			observe_index(unit, i);
		}
	}
}

unsigned int model_ir_desc_check(unsigned int unit, uint64_t lo, uint64_t hi)
{
	if (!ecap_has(unit, ECAP_IR)) {
		return IQEI_TYPE;
	}
	return (lo & IEC_LO_RSVD) || hi ? IQEI_RSVD : 0;
}

void model_ir_iec(unsigned int unit, uint64_t lo)
{
	struct ir_unit *ir = &IR[unit];
	unsigned int im = (unsigned int)fld(lo, 31, 27);
	unsigned int iidx = (unsigned int)fld(lo, 47, 32), i;

	if (!(lo & IEC_G)) {
		for (i = 0; i < IEC_SIZE; i++) {
			ir->iec[i].valid = false;
		}
		ir->iec_since_sirtp = true;
		ir->stats.iec_global++;
		return;
	}
	for (i = 0; i < IEC_SIZE; i++) {
		if (ir->iec[i].valid &&
		    (ir->iec[i].index >> im) == (iidx >> im)) {
			ir->iec[i].valid = false;
		}
	}
	ir->stats.iec_index++;
	if (ir->latched && ir_on(unit) && iidx < ir->size) {
		observe_index(unit, iidx);
	}
}

static struct iec_entry *iec_lookup(struct ir_unit *ir, unsigned int index)
{
	unsigned int i;

	for (i = 0; i < IEC_SIZE; i++) {
		if (ir->iec[i].valid && ir->iec[i].index == index) {
			return &ir->iec[i];
		}
	}
	return NULL;
}

/*
 * The entry as the unit uses it: from the cache if it holds it (noting
 * whether memory still agrees), else read from the table and cached.
 * 0 or MODEL_IR_FR_READ.
 */
static unsigned int irte_fetch(unsigned int unit, unsigned int index,
			       uint64_t *lo, uint64_t *hi,
			       struct model_msi_result *out)
{
	struct ir_unit *ir = &IR[unit];
	struct iec_entry *e = iec_lookup(ir, index);
	uint64_t mlo, mhi;

	if (!irte_read(unit, index, &mlo, &mhi)) {
		return MODEL_IR_FR_READ;
	}
	observe(unit, index, mlo, mhi);
	if (e) {
		ir->stats.iec_hits++;
		*lo = e->lo;
		*hi = e->hi;
		if (e->lo != mlo || e->hi != mhi) {
			out->stale = true;
			ir_violation(
				"unit %u: interrupt through IRTE %u served from a stale interrupt entry cache entry (changed in memory, no IEC invalidation since)",
				unit, index);
		}
		return 0;
	}
	e = &ir->iec[ir->iec_next++ % IEC_SIZE];
	*e = (struct iec_entry){
		.valid = true, .index = index, .lo = mlo, .hi = mhi};
	*lo = mlo;
	*hi = mhi;
	return 0;
}

/* SVT 01 compares SID under the SQ mask, SVT 10 the bus range. */
static bool source_ok(uint64_t hi, uint16_t sid)
{
	static const uint16_t sq_mask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
	uint16_t want = (uint16_t)fld(hi, 15, 0);
	unsigned int bus = sid >> 8;

	switch (fld(hi, 19, 18)) {
	case 0:
		return true;
	case 1:
		return (want & sq_mask[fld(hi, 17, 16)]) ==
		       (sid & sq_mask[fld(hi, 17, 16)]);
	case 2:
		return bus >= (unsigned int)(want >> 8) &&
		       bus <= (unsigned int)(want & 0xff);
	}
	return false;
}

static unsigned int remap(unsigned int unit, uint16_t sid, uint64_t addr,
			  uint32_t data, struct model_msi_result *out)
{
	struct ir_unit *ir = &IR[unit];
	unsigned int index, err;
	uint64_t lo, hi;

	index = (unsigned int)fld(addr, 19, 5) | (unsigned int)fld(addr, 2, 2)
							 << 15;
	if (addr & (1U << 3)) {
		if (data >> 16) {
			return MODEL_IR_FR_REQ_RSVD;
		}
		index += data & 0xffff;
	}
	out->index = index;
	if (index >= ir->size) {
		return MODEL_IR_FR_INDEX;
	}
	err = irte_fetch(unit, index, &lo, &hi, out);
	if (err) {
		return err;
	}
	if (!(lo & IRTE_P)) {
		return MODEL_IR_FR_NP;
	}
	if ((lo & (IRTE_LO_RSVD | IRTE_IM)) || (hi & IRTE_HI_RSVD) ||
	    fld(hi, 19, 18) == 3 || (!ir->eime && (lo & IRTE_LO_RSVD_XAPIC))) {
		return MODEL_IR_FR_RSVD;
	}
	if (!source_ok(hi, sid)) {
		return MODEL_IR_FR_SID;
	}
	out->vector = (uint8_t)fld(lo, 23, 16);
	out->dest = ir->eime ? (uint32_t)fld(lo, 63, 32)
			     : (uint32_t)fld(lo, 47, 40);
	out->dlm = (uint8_t)fld(lo, 7, 5);
	out->logical = fld(lo, 2, 2);
	out->level = fld(lo, 4, 4);
	return 0;
}

/*
 * Compatibility format (5.1.2.1): passed through with IRE off, and with
 * IRE on only when CFIS is set and EIME clear (5.1.3, 11.4.4 CFI).
 */
static unsigned int compat(unsigned int unit, uint64_t addr, uint32_t data,
			   struct model_msi_result *out)
{
	if (ir_on(unit) &&
	    (!(model_unit_gsts(unit) & GS_CFIS) || IR[unit].eime)) {
		return MODEL_IR_FR_COMPAT;
	}
	out->dest = (uint32_t)fld(addr, 19, 12);
	out->vector = (uint8_t)data;
	out->dlm = (uint8_t)fld(data, 10, 8);
	out->logical = fld(addr, 2, 2);
	out->level = fld(data, 15, 15);
	return 0;
}

void model_msi(unsigned int unit, rid_t rid, uint64_t addr, uint32_t data,
	       struct model_msi_result *out)
{
	uint16_t sid = rid_val(rid);
	struct ir_unit *ir = &IR[unit];
	unsigned int reason;

	memset(out, 0, sizeof(*out));
	out->remapped = addr & (1U << 4);
	if ((addr >> 32) || fld(addr, 31, 20) != 0xfee) {
		reason = MODEL_IR_FR_REQ_RSVD;
	} else if (!out->remapped) {
		reason = compat(unit, addr, data, out);
	} else if (!ir_on(unit)) {
		/* Nothing decodes the handle: the message is garbage. */
		reason = 0;
		ir->stats.blocked++;
		return;
	} else {
		reason = remap(unit, sid, addr, data, out);
	}
	out->reason = (uint8_t)reason;
	out->delivered = !reason;
	if (reason) {
		model_ir_fault(unit, sid, out->index, reason);
		ir->stats.blocked++;
	} else {
		ir->stats.delivered++;
	}
}

const struct model_ir_stats *model_ir_stats(unsigned int unit)
{
	return &IR[unit].stats;
}
