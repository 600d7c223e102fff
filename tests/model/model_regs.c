/*
 * The VT-d hardware model: the register file and the global command
 * handshakes.
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

/* ---- global command ---- */

static uint32_t lowest_bit(uint32_t v)
{
	return v & -v;
}

/* One command per write, none while one is in progress (VT-d 11.4.4). */
static void gcmd_write(struct munit *mu, uint32_t val)
{
	uint32_t changed = (val ^ mu->gsts) & G_PERSISTENT;
	uint32_t cmds = val & G_ONESHOT;
	unsigned int n = __builtin_popcount(changed) + __builtin_popcount(cmds);
	uint32_t bit;

	if (n > 1)
		model_violation(
			"unit %u: GCMD 0x%08x issues %u commands at once (GSTS 0x%08x); software must write one at a time from its own copy",
			mu->index, val, n, mu->gsts);
	if (!n)
		return;
	if (mu->op.active) {
		model_violation(
			"unit %u: GCMD written while the previous command is in progress",
			mu->index);
		return;
	}
	bit = cmds ? lowest_bit(cmds) : lowest_bit(changed);
	if (bit == G_TE && (val & G_TE) && !(mu->gsts & G_SRTP))
		model_violation(
			"unit %u: TE set before a root table pointer was set",
			mu->index);
	if (bit == G_QIE && (val & G_QIE) && !mu->iqa)
		model_violation("unit %u: QIE set with no queue address",
				mu->index);
	if (bit == G_QIE && !(val & G_QIE) && mu->exec != mu->iqt)
		model_violation("unit %u: QI disabled with descriptors pending",
				mu->index);
	if (bit == G_WBF && !model_cap_bit(mu, 4))
		return; /* no write buffer to flush */
	if (bit == G_SRTP || bit == G_SIRTP)
		mu->gsts &= ~bit; /* RTPS, IRTPS clear at the write */
	if (bit == G_WBF)
		mu->gsts |= G_WBF; /* WBFS set until done */
	mu->op.active = true;
	mu->op.bit = bit;
	mu->op.on = val & bit;
	mu->op.due = (mu->cfg.gsts_stuck & bit)
			     ? UINT64_MAX
			     : M.now + mu->cfg.gcmd_latency_ns;
	if (M.now >= mu->op.due)
		model_gcmd_apply(mu);
}

void model_gcmd_apply(struct munit *mu)
{
	uint32_t bit = mu->op.bit;

	mu->op.active = false;
	switch (bit) {
	case G_SRTP:
		mu->root_active = mu->rtaddr;
		mu->gsts |= G_SRTP;
		if (model_fld(mu->rtaddr, 11, 10) > 1 ||
		    (model_scalable(mu) && !model_ecap_bit(mu, EC_SMTS))) {
			model_violation(
				"unit %u: root table mode (TTM) %u the unit does not have",
				mu->index,
				(unsigned int)model_fld(mu->rtaddr, 11, 10));
		}
		return;
	case G_WBF:
		mu->gsts &= ~G_WBF;
		mu->stats.wbf++;
		return;
	case G_SIRTP:
		model_ir_sirtp(mu->index, mu->irta);
		mu->gsts |= bit;
		return;
	case G_SFL:
		mu->gsts |= bit;
		return;
	case G_IRE:
		model_ir_ire(mu->index, mu->op.on);
		break;
	case G_QIE:
		if (mu->op.on) {
			mu->iqh = mu->exec = 0;
			mu->fetched_count = 0;
			mu->exec_due = 0;
			mu->ready = M.now;
		}
		break;
	default:
		break;
	}
	if (mu->op.on)
		mu->gsts |= bit;
	else
		mu->gsts &= ~bit;
}

/* ---- registers ---- */

static bool is_reg32(uint32_t off)
{
	switch (off) {
	case R_VER:
	case R_GCMD:
	case R_GSTS:
	case R_FSTS:
	case R_FECTL:
	case R_FEDATA:
	case R_FEADDR:
	case R_FEUADDR:
	case R_PMEN:
	case R_PLMBASE:
	case R_PLMLIMIT:
	case R_ICS:
	case R_IECTL:
	case R_IEDATA:
	case R_IEADDR:
	case R_IEUADDR:
		return true;
	}
	return false;
}

static bool in_frcd(const struct munit *mu, uint32_t off)
{
	return off >= model_cap_fro(mu) &&
	       off < model_cap_fro(mu) + mu->nfr * 16U;
}

static bool is_reg64(const struct munit *mu, uint32_t off)
{
	if (off & 7)
		return false;
	switch (off) {
	case R_CAP:
	case R_ECAP:
	case R_RTADDR:
	case R_CCMD:
	case R_AFLOG:
	case R_PHMBASE:
	case R_PHMLIMIT:
	case R_IQH:
	case R_IQT:
	case R_IQA:
	case R_IQERCD:
	case R_IRTA:
		return true;
	}
	return off == model_ecap_iro(mu) || off == model_ecap_iro(mu) + 8 ||
	       in_frcd(mu, off);
}

static uint32_t fsts_read(const struct munit *mu)
{
	uint32_t v = mu->fsts;
	unsigned int i, idx;

	for (i = 0; i < mu->nfr; i++) {
		idx = (mu->frcd_next + i) % mu->nfr;
		if (mu->frcd[idx].hi & (UINT64_C(1) << 63)) {
			v |= FS_PPF | (idx << 8);
			break;
		}
	}
	return v;
}

static uint64_t reg_read64(struct munit *mu, uint32_t off)
{
	if (in_frcd(mu, off)) {
		struct frcd *r = &mu->frcd[(off - model_cap_fro(mu)) / 16];

		return (off - model_cap_fro(mu)) & 8 ? r->hi : r->lo;
	}
	switch (off) {
	case R_CAP:
		return mu->cfg.cap;
	case R_ECAP:
		return mu->cfg.ecap;
	case R_RTADDR:
		return mu->rtaddr;
	case R_AFLOG:
		return mu->aflog;
	case R_PHMBASE:
		return mu->phmbase;
	case R_PHMLIMIT:
		return mu->phmlimit;
	case R_IQH:
		return mu->iqh << (4 + model_desc_shift(mu));
	case R_IQT:
		return mu->iqt << (4 + model_desc_shift(mu));
	case R_IQA:
		return mu->iqa;
	case R_IQERCD:
		return mu->iqercd;
	case R_IRTA:
		return mu->irta;
	}
	return 0;
}

static uint32_t reg_read32(struct munit *mu, uint32_t off)
{
	switch (off) {
	case R_VER:
		return mu->cfg.ver;
	case R_GSTS:
		return mu->gsts;
	case R_FSTS:
		return fsts_read(mu);
	case R_FECTL:
		return mu->fectl;
	case R_FEDATA:
		return mu->fedata;
	case R_FEADDR:
		return mu->feaddr;
	case R_FEUADDR:
		return mu->feuaddr;
	case R_PMEN:
		return mu->pmen;
	case R_PLMBASE:
		return mu->plmbase;
	case R_PLMLIMIT:
		return mu->plmlimit;
	case R_ICS:
		return mu->ics;
	case R_IECTL:
		return mu->iectl;
	case R_IEDATA:
		return mu->iedata;
	case R_IEADDR:
		return mu->ieaddr;
	case R_IEUADDR:
		return mu->ieuaddr;
	}
	return 0;
}

static uint64_t merge(uint64_t old, uint64_t val, uint64_t mask)
{
	return (old & ~mask) | (val & mask);
}

static void frcd_write(struct munit *mu, uint32_t off, uint64_t val,
		       uint64_t mask)
{
	struct frcd *r = &mu->frcd[(off - model_cap_fro(mu)) / 16];

	if (!((off - model_cap_fro(mu)) & 8) ||
	    mask != UINT64_C(0xffffffff00000000)) {
		model_violation(
			"unit %u: fault record written at +0x%x with mask 0x%llx; F is cleared by a 32-bit write to the top dword",
			mu->index, (off - (uint32_t)model_cap_fro(mu)) % 16,
			(unsigned long long)mask);
		return;
	}
	if (val & (UINT64_C(1) << 63))
		r->hi &= ~(UINT64_C(1) << 63);
}

static void reg_write64(struct munit *mu, uint32_t off, uint64_t val,
			uint64_t mask)
{
	uint64_t qt;

	if (in_frcd(mu, off)) {
		frcd_write(mu, off, val, mask);
		return;
	}
	if (off == model_ecap_iro(mu) || off == model_ecap_iro(mu) + 8 ||
	    off == R_CCMD) {
		model_violation(
			"unit %u: register-based invalidation used (0x%x)",
			mu->index, off);
		return;
	}
	switch (off) {
	case R_RTADDR:
		mu->rtaddr = merge(mu->rtaddr, val, mask);
		return;
	case R_IQA:
		if (mu->gsts & G_QIE)
			model_violation(
				"unit %u: IQA written while QI is enabled",
				mu->index);
		mu->iqa = merge(mu->iqa, val, mask);
		if (model_desc_shift(mu) && !model_ecap_bit(mu, EC_SMTS)) {
			model_violation(
				"unit %u: 256-bit descriptors (IQA.DW) on a unit without SMTS",
				mu->index);
		}
		return;
	case R_IQT:
		val = merge(mu->iqt << (4 + model_desc_shift(mu)), val, mask);
		/* With 256-bit descriptors bit 4 is reserved too. */
		qt = UINT64_C(0x7fff0) &
		     ~(model_desc_shift(mu) ? UINT64_C(0x10) : 0);
		if (val & ~qt) {
			model_violation("unit %u: IQT reserved bits 0x%llx",
					mu->index, (unsigned long long)val);
		}
		if ((mask & 0xffffffffU) && (mu->gsts & G_QIE))
			model_doorbell(mu, model_fld(val, 18, 4) >>
						   model_desc_shift(mu));
		else
			mu->iqt = model_fld(val, 18, 4) >> model_desc_shift(mu);
		return;
	case R_AFLOG:
		mu->aflog = merge(mu->aflog, val, mask);
		return;
	case R_PHMBASE:
		mu->phmbase = merge(mu->phmbase, val, mask);
		return;
	case R_PHMLIMIT:
		mu->phmlimit = merge(mu->phmlimit, val, mask);
		return;
	case R_IRTA:
		mu->irta = merge(mu->irta, val, mask);
		return;
	}
}

static void reg_write32(struct munit *mu, uint32_t off, uint32_t val)
{
	switch (off) {
	case R_GCMD:
		gcmd_write(mu, val);
		return;
	case R_FSTS:
		mu->fsts &= ~(val & FS_W1C);
		/*
		 * Clearing ITE resumes fetching at IQH (6.5.2.10), at once:
		 * whatever the driver has not fixed in the ring by then is
		 * fetched as it stands.
		 */
		if (val & FS_ITE) {
			model_wake(mu);
			model_qi_fetch(mu);
		}
		return;
	case R_FECTL:
		mu->fectl = (mu->fectl & ~(1U << 31)) | (val & (1U << 31));
		return;
	case R_FEDATA:
		mu->fedata = val;
		return;
	case R_FEADDR:
		mu->feaddr = val;
		return;
	case R_FEUADDR:
		mu->feuaddr = val;
		return;
	case R_PMEN:
		mu->pmen = (val & PMEN_EPM) ? PMEN_EPM | PMEN_PRS : 0;
		return;
	case R_PLMBASE:
		mu->plmbase = val;
		return;
	case R_PLMLIMIT:
		mu->plmlimit = val;
		return;
	case R_ICS:
		mu->ics &= ~(val & 1);
		return;
	case R_IECTL:
		mu->iectl = val;
		return;
	case R_IEDATA:
		mu->iedata = val;
		return;
	case R_IEADDR:
		mu->ieaddr = val;
		return;
	case R_IEUADDR:
		mu->ieuaddr = val;
		return;
	}
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	if (!len || pa + len < pa || (pa < PHYS_SIZE && pa + len > RAM_BASE))
		return -EINVAL;
	if (M.range_count < MAX_RANGES)
		M.ranges[M.range_count++] =
			(struct mmio_range){.pa = pa, .len = len};
	return 0;
}

/* The unit owning pa, or NULL: then reads return all-ones. */
static struct munit *mmio_target(uint64_t pa, unsigned int width, uint32_t *off)
{
	unsigned int i;
	bool mapped = false;

	for (i = 0; i < M.range_count; i++) {
		if (pa >= M.ranges[i].pa &&
		    pa + width <= M.ranges[i].pa + M.ranges[i].len)
			mapped = true;
	}
	if (!mapped)
		model_violation("MMIO access to unmapped 0x%llx",
				(unsigned long long)pa);
	if (pa & (width - 1))
		model_violation("misaligned %u-byte MMIO access at 0x%llx",
				width, (unsigned long long)pa);
	model_run();
	for (i = 0; i < M.unit_count; i++) {
		struct munit *mu = &M.units[i];

		if (pa >= mu->base && pa < mu->base + mu->size) {
			*off = (uint32_t)(pa - mu->base);
			return mu;
		}
	}
	return NULL;
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 4, &off);

	if (!mu)
		return UINT32_MAX;
	if (is_reg32(off))
		return reg_read32(mu, off);
	if (is_reg64(mu, off & ~7U))
		return (uint32_t)(reg_read64(mu, off & ~7U) >> ((off & 4) * 8));
	return 0;
}

uint64_t hw_mmio_read64(uint64_t pa)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 8, &off);

	if (!mu)
		return UINT64_MAX;
	if (!is_reg64(mu, off)) {
		model_violation(
			"unit %u: 64-bit read at 0x%x, not a 64-bit register",
			mu->index, off);
		return 0;
	}
	return reg_read64(mu, off);
}

void hw_mmio_write32(uint64_t pa, uint32_t val)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 4, &off);
	unsigned int shift;

	if (!mu)
		return;
	if (is_reg32(off)) {
		reg_write32(mu, off, val);
		return;
	}
	if (is_reg64(mu, off & ~7U)) {
		shift = (off & 4) * 8;
		reg_write64(mu, off & ~7U, (uint64_t)val << shift,
			    UINT64_C(0xffffffff) << shift);
	}
}

void hw_mmio_write64(uint64_t pa, uint64_t val)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 8, &off);

	if (!mu)
		return;
	if (!is_reg64(mu, off)) {
		model_violation(
			"unit %u: 64-bit write at 0x%x, not a 64-bit register (QEMU aborts)",
			mu->index, off);
		return;
	}
	reg_write64(mu, off, val, ~UINT64_C(0));
}

/*
 * PCI configuration space: endpoints answer with a vendor and device id
 * at offset 0 and zeroes elsewhere until removed; everything else reads
 * all-ones.  Narrower reads and the dropped writes are in pci_cfg.c.
 */
uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	uint16_t sid = (uint16_t)(bus << 8 | devfn);
	unsigned int i;

	for (i = 0; i < M.endpoint_count; i++) {
		if (M.endpoints[i].sid == sid && !M.endpoints[i].removed &&
		    !M.endpoints[i].silent && !seg)
			return off < 4 ? 0x12348086U : 0;
	}
	return UINT32_MAX;
}
