#include "drivers/acpi/acpi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

/* ACPI 6.4, 5.2.5.3: Root System Description Pointer. */
#define RSDP_SIGNATURE	    "RSD PTR "
#define RSDP_V1_LEN	    20U
#define RSDP_V2_LEN	    36U
#define RSDP_REVISION	    15U
#define RSDP_REVISION_ACPI2 2U
#define RSDP_RSDT_ADDRESS   16U
#define RSDP_LENGTH	    20U
#define RSDP_XSDT_ADDRESS   24U

/* ACPI 6.4, 5.2.7 and 5.2.8: the entries of the RSDT and the XSDT. */
#define RSDT_ENTRY_LEN 4U
#define XSDT_ENTRY_LEN 8U

/* ACPI 6.4, 5.2.9: FADT fields we read. */
#define FADT_DSDT		   40U
#define FADT_PM_TMR_BLK		   76U
#define FADT_PM_TMR_LEN		   91U
#define FADT_FLAGS		   112U
#define FADT_FLAGS_TMR_VAL_EXT	   (1U << 8)
#define FADT_FLAGS_HW_REDUCED_ACPI (1U << 20)
#define FADT_X_DSDT		   140U
#define FADT_X_PM_TMR_BLK	   208U
#define FADT_PM_TMR_BLK_LEN	   4U /* PM_TMR_LEN of a usable timer */

/* ACPI 6.4, 5.2.3.2: Generic Address Structure. */
#define GAS_LEN		 12U
#define GAS_SPACE_ID	 0U
#define GAS_ADDRESS	 4U
#define GAS_SPACE_MEMORY 0U
#define GAS_SPACE_IO	 1U

/* PCI Firmware Specification 3.2, 4.1.2: MCFG. */
#define MCFG_ENTRIES	     44U
#define MCFG_ENTRY_LEN	     16U
#define MCFG_ENTRY_BASE	     0U
#define MCFG_ENTRY_SEGMENT   8U
#define MCFG_ENTRY_START_BUS 10U
#define MCFG_ENTRY_END_BUS   11U
#define ECAM_BUS_SHIFT	     20U /* PCIe 7.2.2: 1 MiB of ECAM per bus */

/* ACPI 6.4, 5.2.12: MADT and the entries we count. */
#define MADT_ENTRIES	       44U
#define MADT_ENTRY_TYPE	       0U
#define MADT_ENTRY_LEN	       1U
#define MADT_ENTRY_HDR_LEN     2U
#define MADT_TYPE_LOCAL_APIC   0U /* 5.2.12.2 */
#define MADT_TYPE_IOAPIC       1U /* 5.2.12.3 */
#define MADT_TYPE_LOCAL_X2APIC 9U /* 5.2.12.12 */
#define MADT_LOCAL_APIC_LEN    8U
#define MADT_LOCAL_APIC_FLAGS  4U
#define MADT_IOAPIC_LEN	       12U
#define MADT_IOAPIC_ID	       2U
#define MADT_IOAPIC_ADDRESS    4U
#define MADT_IOAPIC_GSI_BASE   8U
#define MADT_X2APIC_LEN	       16U
#define MADT_X2APIC_FLAGS      8U
#define MADT_APIC_ENABLED      1U /* 5.2.12.2, Local APIC Flags */

/* IA-PC HPET Specification 1.0a, 3.2.4: the HPET description table. */
#define HPET_BASE_GAS 40U

#define IO_PORT_MAX 0xffffU

/*
 * The virtual address of [pa, pa + len), or NULL unless the whole range is
 * reachable as one contiguous mapping.
 */
static const uint8_t *phys_range(uint64_t pa, uint64_t len)
{
	const uint8_t *first, *last;

	if (len == 0 || pa > UINT64_MAX - (len - 1)) {
		return NULL;
	}
	first = hw_phys_to_virt(pa);
	last = hw_phys_to_virt(pa + len - 1);
	if (!first || !last || (uintptr_t)last < (uintptr_t)first ||
	    (uintptr_t)last - (uintptr_t)first != len - 1) {
		return NULL;
	}
	return first;
}

/* Signatures are printed, so they are made printable. */
static void copy_sig(char out[ACPI_SIG_LEN + 1], const uint8_t *p)
{
	unsigned int i;

	for (i = 0; i < ACPI_SIG_LEN; i++) {
		out[i] = acpi_printable(p[i]);
	}
	out[ACPI_SIG_LEN] = '\0';
}

static struct acpi_table *new_entry(struct acpi_tables *t, uint64_t pa)
{
	struct acpi_table *e;

	if (t->count == ACPI_MAX_TABLES) {
		t->dropped++;
		return NULL;
	}
	e = &t->tables[t->count++];
	memset(e, 0, sizeof(*e));
	memcpy(e->sig, "????", sizeof(e->sig));
	e->pa = pa;
	return e;
}

static void reject(struct acpi_table *e, const char *reason)
{
	e->verdict = ACPI_TABLE_REJECTED;
	e->reason = reason;
	log_warn("acpi", "%s at 0x%llx: rejected (%s)", e->sig,
		 (unsigned long long)e->pa, reason);
}

/*
 * Records the table at pa and validates it (ACPI 6.4, 5.2.6): header
 * reachable, length at least a header and at most ACPI_TABLE_MAX_LEN, whole
 * body reachable, signature as expected (want, or any when NULL), checksum.
 * Returns the entry when the table is valid, NULL otherwise.
 */
static struct acpi_table *record_table(struct acpi_tables *t, uint64_t pa,
				       const char *want)
{
	struct acpi_table *e = new_entry(t, pa);
	const uint8_t *p;

	if (!e) {
		return NULL;
	}
	if (pa == 0) {
		reject(e, "null address");
		return NULL;
	}
	p = phys_range(pa, ACPI_HDR_LEN);
	if (!p) {
		reject(e, "header unreachable");
		return NULL;
	}
	copy_sig(e->sig, p + ACPI_HDR_SIGNATURE);
	e->len = acpi_get32(p + ACPI_HDR_LENGTH);
	if (want && memcmp(p + ACPI_HDR_SIGNATURE, want, ACPI_SIG_LEN) != 0) {
		reject(e, "unexpected signature");
		return NULL;
	}
	if (e->len < ACPI_HDR_LEN) {
		reject(e, "length shorter than the header");
		return NULL;
	}
	if (e->len > ACPI_TABLE_MAX_LEN) {
		reject(e, "length over 1 MiB");
		return NULL;
	}
	p = phys_range(pa, e->len);
	if (!p) {
		reject(e, "body unreachable");
		return NULL;
	}
	if (!acpi_checksum_ok(p, e->len)) {
		e->verdict = ACPI_TABLE_CHECKSUM_BAD;
		log_warn("acpi", "%s at 0x%llx: bad checksum, not used", e->sig,
			 (unsigned long long)pa);
		return NULL;
	}
	e->va = p;
	return e;
}

/*
 * Walks a root table (ACPI 6.4, 5.2.7 RSDT with 4-byte entries, 5.2.8 XSDT
 * with 8-byte entries) after checking that its body is a whole number of
 * entries.  Returns false, with the root marked rejected, otherwise.
 */
static bool walk_root(struct acpi_tables *t, struct acpi_table *root,
		      unsigned int entry_len)
{
	const uint8_t *p = root->va;
	uint32_t off;

	if ((root->len - ACPI_HDR_LEN) % entry_len != 0) {
		root->va = NULL;
		reject(root, "length not a whole number of entries");
		return false;
	}
	for (off = ACPI_HDR_LEN; off < root->len; off += entry_len) {
		uint64_t pa = entry_len == XSDT_ENTRY_LEN ? acpi_get64(p + off)
							  : acpi_get32(p + off);

		record_table(t, pa, NULL);
	}
	return true;
}

/* The root table at pa, validated and walked; NULL when it is unusable. */
static struct acpi_table *use_root(struct acpi_tables *t, uint64_t pa,
				   const char *sig, unsigned int entry_len)
{
	struct acpi_table *root = record_table(t, pa, sig);

	return root && walk_root(t, root, entry_len) ? root : NULL;
}

/* The DSDT is named by the FADT, not by the root table (ACPI 6.4, 5.2.9). */
static void record_dsdt(struct acpi_tables *t)
{
	uint32_t len;
	const uint8_t *fadt = acpi_find(t, "FACP", 0, &len);
	uint64_t pa = 0;

	if (!fadt) {
		return;
	}
	if (len >= FADT_X_DSDT + 8) {
		pa = acpi_get64(fadt + FADT_X_DSDT);
	}
	if (pa == 0 && len >= FADT_DSDT + 4) {
		pa = acpi_get32(fadt + FADT_DSDT);
	}
	if (pa != 0) {
		record_table(t, pa, "DSDT");
	}
}

/*
 * Validates the RSDP (ACPI 6.4, 5.2.5.3) and returns the root tables it
 * names: *xsdt_pa is 0 unless the ACPI 2.0+ part is sound.  A bad extended
 * checksum still allows the RSDT named in the checksummed ACPI 1.0 part;
 * anything wrong with that part is fatal.
 */
static int check_rsdp(struct acpi_tables *t, uint64_t rsdp_pa,
		      uint64_t *xsdt_pa, uint64_t *rsdt_pa)
{
	struct acpi_table *e = new_entry(t, rsdp_pa);
	const uint8_t *p;
	uint32_t len;

	memcpy(e->sig, "RSDP", sizeof(e->sig));
	e->len = RSDP_V1_LEN;
	p = phys_range(rsdp_pa, RSDP_V1_LEN);
	if (!p) {
		reject(e, "unreachable");
		log_err("acpi", "RSDP at 0x%llx is not reachable",
			(unsigned long long)rsdp_pa);
		return -EFAULT;
	}
	if (memcmp(p, RSDP_SIGNATURE, sizeof(RSDP_SIGNATURE) - 1) != 0) {
		reject(e, "bad signature");
		log_err("acpi", "no RSDP signature at 0x%llx",
			(unsigned long long)rsdp_pa);
		return -EINVAL;
	}
	if (!acpi_checksum_ok(p, RSDP_V1_LEN)) {
		e->verdict = ACPI_TABLE_CHECKSUM_BAD;
		log_err("acpi", "RSDP at 0x%llx has a bad checksum",
			(unsigned long long)rsdp_pa);
		return -EINVAL;
	}
	*rsdt_pa = acpi_get32(p + RSDP_RSDT_ADDRESS);
	*xsdt_pa = 0;
	/* Revision 0 is ACPI 1.0: 20 bytes, no length, no XSDT. */
	if (p[RSDP_REVISION] < RSDP_REVISION_ACPI2) {
		e->va = p;
		return 0;
	}
	p = phys_range(rsdp_pa, RSDP_V2_LEN);
	if (!p) {
		reject(e, "extended part unreachable; using the RSDT");
		return 0;
	}
	len = acpi_get32(p + RSDP_LENGTH);
	e->len = len;
	if (len < RSDP_V2_LEN || len > ACPI_TABLE_MAX_LEN) {
		reject(e, "bad length; using the RSDT");
		return 0;
	}
	p = phys_range(rsdp_pa, len);
	if (!p) {
		reject(e, "extended part unreachable; using the RSDT");
		return 0;
	}
	if (!acpi_checksum_ok(p, len)) {
		e->verdict = ACPI_TABLE_CHECKSUM_BAD;
		log_warn("acpi", "RSDP extended checksum bad; using the RSDT");
		return 0;
	}
	e->va = p;
	*xsdt_pa = acpi_get64(p + RSDP_XSDT_ADDRESS);
	return 0;
}

int acpi_init(struct acpi_tables *t, uint64_t rsdp_pa)
{
	uint64_t xsdt_pa, rsdt_pa;
	struct acpi_table *root;
	int ret;

	t->count = 0;
	t->dropped = 0;
	if (rsdp_pa == 0) {
		log_err("acpi", "firmware gave no RSDP");
		return -ENODEV;
	}
	ret = check_rsdp(t, rsdp_pa, &xsdt_pa, &rsdt_pa);
	if (ret < 0) {
		return ret;
	}
	/* ACPI 6.4, 5.2.8: OSPM uses the XSDT when there is one. */
	root = xsdt_pa ? use_root(t, xsdt_pa, "XSDT", XSDT_ENTRY_LEN) : NULL;
	if (xsdt_pa && !root) {
		log_warn("acpi", "XSDT unusable; falling back to the RSDT");
	}
	if (!root) {
		root = use_root(t, rsdt_pa, "RSDT", RSDT_ENTRY_LEN);
	}
	if (!root) {
		log_err("acpi", "neither XSDT nor RSDT is usable");
		return -EINVAL;
	}
	record_dsdt(t);
	if (t->dropped) {
		log_warn("acpi", "%u tables beyond the first %u not recorded",
			 t->dropped, ACPI_MAX_TABLES);
	}
	log_info("acpi", "%u tables found through the %s at 0x%llx", t->count,
		 root->sig, (unsigned long long)root->pa);
	return 0;
}

const void *acpi_find(const struct acpi_tables *t, const char sig[ACPI_SIG_LEN],
		      unsigned int index, uint32_t *len)
{
	unsigned int i;

	for (i = 0; i < t->count; i++) {
		const struct acpi_table *e = &t->tables[i];

		if (e->verdict != ACPI_TABLE_OK ||
		    memcmp(e->sig, sig, ACPI_SIG_LEN) != 0) {
			continue;
		}
		if (index-- == 0) {
			if (len) {
				*len = e->len;
			}
			return e->va;
		}
	}
	return NULL;
}

void acpi_format(const struct acpi_tables *t, acpi_emit_fn emit, void *ctx)
{
	unsigned int i;

	for (i = 0; i < t->count; i++) {
		const struct acpi_table *e = &t->tables[i];
		unsigned long long pa = e->pa;

		if (e->verdict == ACPI_TABLE_REJECTED) {
			acpi_emitf(emit, ctx,
				   "%s addr 0x%llx len 0x%x rejected (%s)",
				   e->sig, pa, e->len, e->reason);
		} else {
			acpi_emitf(emit, ctx,
				   "%s addr 0x%llx len 0x%x checksum %s",
				   e->sig, pa, e->len,
				   e->verdict == ACPI_TABLE_OK ? "ok" : "bad");
		}
	}
	if (t->dropped) {
		acpi_emitf(emit, ctx, "(%u more tables not recorded)",
			   t->dropped);
	}
}

/*
 * The checks every fixed-layout parser below starts with: the expected
 * signature, and a header length of at least min_len that fits in len.
 * Returns the header's length, or 0 when the table is unfit.
 */
static uint32_t table_len(const uint8_t *p, uint32_t len, const char *sig,
			  uint32_t min_len)
{
	uint32_t hdr_len;

	if (!p || len < ACPI_HDR_LEN || memcmp(p, sig, ACPI_SIG_LEN) != 0) {
		return 0;
	}
	hdr_len = acpi_get32(p + ACPI_HDR_LENGTH);
	if (hdr_len < min_len || hdr_len > len) {
		return 0;
	}
	return hdr_len;
}

/* A window with base 0, no buses or reaching past 2^64 is not used. */
static bool mcfg_entry_ok(const struct acpi_mcfg_entry *e)
{
	/* The window starts at bus 0, whatever the start bus. */
	uint64_t span = ((uint64_t)e->end_bus + 1) << ECAM_BUS_SHIFT;

	return e->base != 0 && e->end_bus >= e->start_bus &&
	       e->base <= UINT64_MAX - span;
}

int acpi_mcfg_parse(const void *tbl, uint32_t len, struct acpi_mcfg_entry *out,
		    unsigned int max)
{
	const uint8_t *p = tbl;
	unsigned int n = 0;
	uint32_t off;

	len = table_len(p, len, "MCFG", MCFG_ENTRIES);
	if (len == 0 || (len - MCFG_ENTRIES) % MCFG_ENTRY_LEN != 0) {
		log_err("acpi", "MCFG malformed");
		return -EINVAL;
	}
	for (off = MCFG_ENTRIES; off < len; off += MCFG_ENTRY_LEN) {
		const uint8_t *m = p + off;
		struct acpi_mcfg_entry e = {
			.base = acpi_get64(m + MCFG_ENTRY_BASE),
			.segment = acpi_get16(m + MCFG_ENTRY_SEGMENT),
			.start_bus = m[MCFG_ENTRY_START_BUS],
			.end_bus = m[MCFG_ENTRY_END_BUS],
		};

		if (!mcfg_entry_ok(&e) || n == max) {
			log_warn("acpi",
				 "MCFG seg %u base 0x%llx bus 0x%x-0x%x %s",
				 e.segment, (unsigned long long)e.base,
				 e.start_bus, e.end_bus,
				 n == max ? "beyond capacity" : "ignored");
			continue;
		}
		out[n++] = e;
	}
	return (int)n;
}

static bool apic_enabled(const uint8_t *flags)
{
	return (acpi_get32(flags) & MADT_APIC_ENABLED) != 0;
}

static void madt_add_ioapic(struct acpi_madt *out, const uint8_t *e)
{
	if (out->ioapic_count == ACPI_MAX_IOAPICS) {
		log_warn("acpi", "IOAPIC id %u beyond the first %u ignored",
			 e[MADT_IOAPIC_ID], ACPI_MAX_IOAPICS);
		return;
	}
	out->ioapics[out->ioapic_count++] = (struct acpi_ioapic){
		.id = e[MADT_IOAPIC_ID],
		.address = acpi_get32(e + MADT_IOAPIC_ADDRESS),
		.gsi_base = acpi_get32(e + MADT_IOAPIC_GSI_BASE),
	};
}

int acpi_madt_parse(const void *tbl, uint32_t len, struct acpi_madt *out)
{
	/* Minimum entry length for the types we read; others are skipped. */
	static const uint8_t min_len[] = {
		[MADT_TYPE_LOCAL_APIC] = MADT_LOCAL_APIC_LEN,
		[MADT_TYPE_IOAPIC] = MADT_IOAPIC_LEN,
		[MADT_TYPE_LOCAL_X2APIC] = MADT_X2APIC_LEN,
	};
	const uint8_t *p = tbl;
	uint32_t off, elen;

	memset(out, 0, sizeof(*out));
	len = table_len(p, len, "APIC", MADT_ENTRIES);
	if (len == 0) {
		log_err("acpi", "MADT malformed");
		return -EINVAL;
	}
	for (off = MADT_ENTRIES; off < len; off += elen) {
		const uint8_t *e = p + off;
		uint8_t type;

		elen = len - off >= MADT_ENTRY_HDR_LEN ? e[MADT_ENTRY_LEN] : 0;
		if (elen < MADT_ENTRY_HDR_LEN || elen > len - off) {
			log_err("acpi", "MADT entry at 0x%x: bad length", off);
			return -EINVAL;
		}
		type = e[MADT_ENTRY_TYPE];
		if (type < sizeof(min_len) && elen < min_len[type]) {
			log_err("acpi", "MADT entry at 0x%x: too short", off);
			return -EINVAL;
		}
		switch (type) {
		case MADT_TYPE_LOCAL_APIC:
			out->cpu_count +=
				apic_enabled(e + MADT_LOCAL_APIC_FLAGS);
			break;
		case MADT_TYPE_LOCAL_X2APIC:
			out->cpu_count += apic_enabled(e + MADT_X2APIC_FLAGS);
			break;
		case MADT_TYPE_IOAPIC:
			madt_add_ioapic(out, e);
			break;
		default:
			break;
		}
	}
	return 0;
}

/*
 * The timer in X_PM_TMR_BLK (ACPI 6.4, 5.2.3.2 Generic Address Structure):
 * system I/O or system memory space only.
 */
static int pm_timer_from_gas(const uint8_t *gas, struct acpi_pm_timer *out)
{
	out->io = gas[GAS_SPACE_ID] == GAS_SPACE_IO;
	out->address = acpi_get64(gas + GAS_ADDRESS);
	if ((!out->io && gas[GAS_SPACE_ID] != GAS_SPACE_MEMORY) ||
	    (out->io && out->address > IO_PORT_MAX)) {
		log_err("acpi", "FADT PM timer in space %u at 0x%llx unusable",
			gas[GAS_SPACE_ID], (unsigned long long)out->address);
		return -EINVAL;
	}
	return 0;
}

int acpi_fadt_pm_timer(const void *tbl, uint32_t len, struct acpi_pm_timer *out)
{
	const uint8_t *p = tbl;
	uint32_t flags;

	len = table_len(p, len, "FACP", FADT_FLAGS + 4);
	if (len == 0) {
		log_err("acpi", "FADT malformed");
		return -EINVAL;
	}
	flags = acpi_get32(p + FADT_FLAGS);
	if (flags & FADT_FLAGS_HW_REDUCED_ACPI) {
		return -ENODEV;
	}
	out->width32 = (flags & FADT_FLAGS_TMR_VAL_EXT) != 0;
	/* ACPI 6.4, 5.2.9: a non-zero X_PM_TMR_BLK overrides PM_TMR_BLK. */
	if (len >= FADT_X_PM_TMR_BLK + GAS_LEN &&
	    acpi_get64(p + FADT_X_PM_TMR_BLK + GAS_ADDRESS) != 0) {
		return pm_timer_from_gas(p + FADT_X_PM_TMR_BLK, out);
	}
	out->io = true;
	out->address = acpi_get32(p + FADT_PM_TMR_BLK);
	if (out->address == 0) {
		return -ENODEV;
	}
	if (out->address > IO_PORT_MAX ||
	    p[FADT_PM_TMR_LEN] != FADT_PM_TMR_BLK_LEN) {
		log_err("acpi", "FADT PM_TMR_BLK 0x%llx length %u unusable",
			(unsigned long long)out->address, p[FADT_PM_TMR_LEN]);
		return -EINVAL;
	}
	return 0;
}

int acpi_hpet_base(const void *tbl, uint32_t len, uint64_t *base)
{
	const uint8_t *p = tbl;
	const uint8_t *gas;

	len = table_len(p, len, "HPET", HPET_BASE_GAS + GAS_LEN);
	if (len == 0) {
		log_err("acpi", "HPET table malformed");
		return -EINVAL;
	}
	gas = p + HPET_BASE_GAS;
	if (gas[GAS_SPACE_ID] != GAS_SPACE_MEMORY) {
		log_err("acpi", "HPET base in address space %u, not memory",
			gas[GAS_SPACE_ID]);
		return -EINVAL;
	}
	*base = acpi_get64(gas + GAS_ADDRESS);
	return *base == 0 ? -ENODEV : 0;
}
