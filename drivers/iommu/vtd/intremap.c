/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Interrupt remapping (VT-d spec chapter 5): one table of VTD_IRTE_COUNT
 * entries per unit with ECAP.IR, its hand-over to the unit (IRTA, SIRTP,
 * IRE, CFI), entry indexes, and entry updates followed by interrupt entry
 * cache invalidations.  With remapping on, an interrupt reaches a CPU only
 * through a present entry whose source-id check its requester passes;
 * compatibility-format interrupts are blocked.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

_Static_assert(VTD_IRTE_COUNT * sizeof(struct vtd_irte) == VTD_PAGE_SIZE,
	       "the interrupt remapping table is one page");
_Static_assert(VTD_IRTE_COUNT % 64 == 0, "whole bitmap words");

/* IRTA.S encodes 2^(S + 1) entries. */
#define IRTA_S_VALUE 7U
_Static_assert((2U << IRTA_S_VALUE) == VTD_IRTE_COUNT, "IRTA.S matches");

#define XAPIC_ID_MAX 0xffU
/* Requester id bits SQ can leave out of the comparison: the function. */
#define SID_FUNCTION_BITS 0x7U
#define SID_BUS_SHIFT	  8U

/*
 * x2APIC mode only when the caller runs x2APIC, the unit can address
 * 32-bit ids (ECAP.EIM) and firmware does not opt out (DMAR flags,
 * X2APIC_OPT_OUT): then xAPIC mode, whose 8-bit ids every unit offers.
 */
static bool choose_x2apic(struct vtd_unit *u)
{
	if (!u->cfg.x2apic) {
		return false;
	}
	if (!vtd_ecap_eim(u->ecap)) {
		vtd_warn(
			u,
			"no ECAP.EIM; interrupt remapping in xAPIC mode (8-bit destinations)");
		return false;
	}
	if (u->cfg.x2apic_opt_out) {
		vtd_warn(
			u,
			"DMAR X2APIC_OPT_OUT; interrupt remapping in xAPIC mode (8-bit destinations)");
		return false;
	}
	return true;
}

int vtd_ir_init(struct vtd_unit *u)
{
	uint64_t pa;

	if (!vtd_ecap_ir(u->ecap)) {
		return 0;
	}
	pa = hw_page_alloc();
	if (!pa) {
		return -ENOMEM;
	}
	u->irt_pa = pa;
	u->irt = hw_phys_to_virt(pa);
	/* A unit that does not snoop must find the zeroes: not present. */
	vtd_flush_table(vtd_unit_coherent(u), u->irt, VTD_PAGE_SIZE);
	u->ir_x2apic = choose_x2apic(u);
	u->irtes =
		(struct bitmap_ids){.map = u->irte_map, .bits = VTD_IRTE_COUNT};
	return 0;
}

void vtd_ir_fini(struct vtd_unit *u)
{
	if (!u->irt) {
		return;
	}
	hw_page_free(u->irt_pa);
	u->irt = NULL;
	u->irt_pa = 0;
}

/*
 * Hand the table to the unit and turn remapping on (VT-d spec 11.4.4):
 * IRTA, SIRTP, a global interrupt entry cache invalidation (required
 * after SIRTP, and it covers entries programmed before enable), CFI
 * clear, then IRE.  CFI goes first so that no compatibility-format
 * interrupt passes once remapping is on; in x2APIC mode the unit blocks
 * them anyway.  QEMU 7.2 ignores CFI and lets them all through.
 */
int vtd_ir_enable(struct vtd_unit *u)
{
	struct vtd_qi_desc iec = vtd_desc_iec_global();
	uint64_t irta;
	int err;

	if (!u->irt) {
		return 0;
	}
	irta = (u->irt_pa & VTD_IRTA_IRTA) |
	       field_prep64(VTD_IRTA_S, IRTA_S_VALUE);
	if (u->ir_x2apic) {
		irta |= VTD_IRTA_EIME;
	}
	vtd_write64(u, VTD_IRTA_REG, irta);
	err = vtd_unit_set_irtp(u);
	if (err) {
		return err;
	}
	err = vtd_qi_submit(u, &iec, 1, NULL);
	if (err) {
		return err;
	}
	if (u->gcmd & VTD_GCMD_CFI) {
		err = vtd_gcmd_set(u, VTD_GCMD_CFI, false);
		if (err) {
			return err;
		}
	}
	err = vtd_gcmd_set(u, VTD_GCMD_IRE, true);
	if (err) {
		return err;
	}
	vtd_info(
		u,
		"interrupt remapping on, %u entries, %s mode, compatibility format blocked",
		VTD_IRTE_COUNT, u->ir_x2apic ? "x2APIC" : "xAPIC");
	return 0;
}

static bool irte_allocated(const struct vtd_unit *u, unsigned int index)
{
	return index < VTD_IRTE_COUNT && bitmap_test(u->irte_map, index);
}

int vtd_irte_alloc(struct vtd_unit *u, unsigned int *index)
{
	uint32_t i;

	if (!u->irt) {
		return -ENOTSUP;
	}
	if (bitmap_id_alloc(&u->irtes, &i)) {
		vtd_err(u, "all %u interrupt remapping entries in use",
			VTD_IRTE_COUNT);
		return -ENOSPC;
	}
	*index = i;
	return 0;
}

/*
 * Drop what the unit cached of entry index and wait (IOMMU-internal
 * deadline).  Before enable there is nothing cached, and the global
 * invalidation that enable issues after SIRTP covers the entry.
 */
static int iec_flush(struct vtd_unit *u, unsigned int index)
{
	struct vtd_qi_desc iec = vtd_desc_iec_index((uint16_t)index);

	if (!vtd_unit_live(u)) {
		return 0;
	}
	return vtd_qi_submit(u, &iec, 1, NULL);
}

/* One 64-bit store: the present bit goes, the body stays until flushed. */
static int irte_block(struct vtd_unit *u, struct vtd_irte *e,
		      unsigned int index)
{
	vtd_entry_write(&e->lo, 0);
	vtd_flush_table(vtd_unit_coherent(u), e, sizeof(*e));
	return iec_flush(u, index);
}

/* The requester id bits SQ sq leaves out: none, bit 2, bits 2:1, 2:0. */
static uint16_t sq_ignored(unsigned int sq)
{
	return (uint16_t)((SID_FUNCTION_BITS << (VTD_IRTE_SQ_MAX - sq)) &
			  SID_FUNCTION_BITS);
}

/*
 * The source-id check for a device's requester ids (VT-d spec 9.10), the
 * tightest the entry can express that admits them all.  One id: SVT 01
 * with SQ 00, all 16 bits compared.  Ids differing only in function bits
 * (phantom functions): SQ leaves those bits out.  Ids on different
 * devices or buses, as a device behind a PCIe-to-PCI bridge and the
 * bridge's alias: only the bus can be verified, SVT 10 with the lowest
 * bus as start and the highest as end (Linux does the same).  QEMU 7.2
 * reads the two bus bytes the other way round, so there only a single
 * bus range passes.
 */
static uint64_t irte_source(const rid_t *sids, unsigned int count)
{
	unsigned int i, sq;
	uint16_t diff = 0;
	uint8_t bus, lo_bus = 0xff, hi_bus = 0;

	for (i = 0; i < count; i++) {
		diff |= rid_val(sids[i]) ^ rid_val(sids[0]);
		bus = rid_bus(sids[i]);
		lo_bus = bus < lo_bus ? bus : lo_bus;
		hi_bus = bus > hi_bus ? bus : hi_bus;
	}
	if (diff & ~SID_FUNCTION_BITS) {
		return field_prep64(VTD_IRTE_HI_SVT, VTD_IRTE_SVT_BUS) |
		       field_prep64(VTD_IRTE_HI_SID,
				    (uint64_t)lo_bus << SID_BUS_SHIFT | hi_bus);
	}
	for (sq = 0; sq < VTD_IRTE_SQ_MAX; sq++) {
		if (!(diff & ~sq_ignored(sq))) {
			break;
		}
	}
	return field_prep64(VTD_IRTE_HI_SVT, VTD_IRTE_SVT_SID) |
	       field_prep64(VTD_IRTE_HI_SQ, sq) |
	       field_prep64(VTD_IRTE_HI_SID, rid_val(sids[0]));
}

/*
 * Publish lo:hi at index without a torn entry ever being present.  While
 * present, only the low word may change in place: one 64-bit store takes
 * the entry from one valid content to the other.  A new source-id word
 * needs the entry blocked and its cached copies dropped first.  Then the
 * body word, the word with the present bit last, flush, invalidate.
 */
static int irte_publish(struct vtd_unit *u, unsigned int index, uint64_t lo,
			uint64_t hi)
{
	struct vtd_irte *e = &u->irt[index];
	int err;

	if ((vtd_entry_read(&e->lo) & VTD_IRTE_LO_P) &&
	    vtd_entry_read(&e->hi) != hi) {
		err = irte_block(u, e, index);
		if (err) {
			return err;
		}
	}
	vtd_entry_write(&e->hi, hi);
	vtd_entry_write(&e->lo, lo);
	vtd_flush_table(vtd_unit_coherent(u), e, sizeof(*e));
	return iec_flush(u, index);
}

int vtd_irte_set(struct vtd_unit *u, unsigned int index, uint32_t dest,
		 uint8_t vector, const rid_t *source_ids, unsigned int count)
{
	uint64_t lo;
	int err;

	if (!u->irt || !irte_allocated(u, index) || !count) {
		return -EINVAL;
	}
	if (!u->ir_x2apic && dest > XAPIC_ID_MAX) {
		return -ERANGE;
	}
	err = vtd_attach_allowed(u, source_ids, count);
	if (err) {
		return err;
	}
	/* Fixed delivery, edge, physical destination (DM, TM, RH zero). */
	lo = VTD_IRTE_LO_P | field_prep64(VTD_IRTE_LO_DLM, VTD_IRTE_DLM_FIXED) |
	     field_prep64(VTD_IRTE_LO_V, vector);
	if (u->ir_x2apic) {
		lo |= field_prep64(VTD_IRTE_LO_DST, dest);
	} else {
		lo |= field_prep64(VTD_IRTE_LO_DST_XAPIC, dest);
	}
	return irte_publish(u, index, lo, irte_source(source_ids, count));
}

int vtd_irte_clear(struct vtd_unit *u, unsigned int index)
{
	struct vtd_irte *e;
	int err;

	if (!u->irt || !irte_allocated(u, index)) {
		return -EINVAL;
	}
	e = &u->irt[index];
	if (!vtd_entry_read(&e->lo) && !vtd_entry_read(&e->hi)) {
		return 0;
	}
	err = irte_block(u, e, index);
	if (err) {
		return err;
	}
	/* Nothing holds the body any more: the entry is empty again. */
	vtd_entry_write(&e->hi, 0);
	vtd_flush_table(vtd_unit_coherent(u), e, sizeof(*e));
	return 0;
}

/*
 * The index is released even if clearing failed: whoever programs it next
 * invalidates its cached copies again before that returns.
 */
int vtd_irte_free(struct vtd_unit *u, unsigned int index)
{
	int err = vtd_irte_clear(u, index);

	if (err == -EINVAL) {
		return err;
	}
	bitmap_id_free(&u->irtes, index);
	return err;
}

/* SHV stays clear: one entry per vector, the data register unused. */
struct vtd_msi vtd_irte_msi(unsigned int index)
{
	struct vtd_msi msg = {
		.address =
			field_prep64(VTD_MSI_ADDR_FEE, VTD_MSI_ADDR_FEE_VAL) |
			field_prep64(VTD_MSI_ADDR_HANDLE, index) |
			VTD_MSI_ADDR_IF,
		.data = 0,
	};

	if (index & BIT32(15)) {
		msg.address |= VTD_MSI_ADDR_HANDLE_15;
	}
	return msg;
}
