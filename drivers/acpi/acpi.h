#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/format.h"

/*
 * ACPI table discovery and the small fixed-layout tables the kernel needs
 * (MCFG, MADT, FADT, HPET).  Every table is validated before anything trusts
 * it: signature, a sane length, reachability through hw_phys_to_virt() and
 * the checksum.  A bad table stays in the list with its verdict so that the
 * console can show it, but acpi_find() never returns it.
 *
 * Fields are read with explicit little-endian byte loads (acpi_get16/32/64),
 * never through packed structs: firmware tables are byte streams whose
 * fields are often misaligned.
 */

/* ACPI 6.4, 5.2.6: the header every system description table starts with. */
#define ACPI_HDR_LEN	   36U
#define ACPI_SIG_LEN	   4U
#define ACPI_HDR_SIGNATURE 0U
#define ACPI_HDR_LENGTH	   4U
#define ACPI_HDR_REVISION  8U

/* No table we read is anywhere near this; a larger length is corruption. */
#define ACPI_TABLE_MAX_LEN 0x100000U

#define ACPI_MAX_TABLES 128U

static inline uint16_t acpi_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned int)p[1] << 8);
}

static inline uint32_t acpi_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t acpi_get64(const uint8_t *p)
{
	return (uint64_t)acpi_get32(p) | (uint64_t)acpi_get32(p + 4) << 32;
}

/* ACPI 6.4, 5.2.6: all bytes of a table, checksum included, sum to zero. */
static inline bool acpi_checksum_ok(const void *table, size_t len)
{
	const uint8_t *p = table;
	uint8_t sum = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		sum = (uint8_t)(sum + p[i]);
	}
	return sum == 0;
}

/* Firmware strings go to the console: anything but printable ASCII is '?'. */
static inline char acpi_printable(uint8_t c)
{
	return c >= 0x20 && c < 0x7f ? (char)c : '?';
}

/*
 * Console output of the acpi and dmar commands goes through a callback, one
 * complete line (no newline) per call, so host tests can compare the exact
 * text and the kernel can send it to the console or the log.
 */
typedef void (*acpi_emit_fn)(void *ctx, const char *line);

#define ACPI_LINE_MAX 200U

static inline void acpi_emitf(acpi_emit_fn emit, void *ctx, const char *fmt,
			      ...) __attribute__((format(printf, 3, 4)));
static inline void acpi_emitf(acpi_emit_fn emit, void *ctx, const char *fmt,
			      ...)
{
	char line[ACPI_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit(ctx, line);
}

enum acpi_verdict {
	ACPI_TABLE_OK,
	ACPI_TABLE_CHECKSUM_BAD,
	ACPI_TABLE_REJECTED, /* see reason: unreachable, bad length, ... */
};

/**
 * One table as found through the RSDP: where it is, what its header says and
 * whether it may be used.  sig is "????" when the header could not be read.
 */
struct acpi_table {
	char sig[ACPI_SIG_LEN + 1];
	uint64_t pa;
	uint32_t len;
	enum acpi_verdict verdict;
	const char *reason; /* static text, for ACPI_TABLE_REJECTED */
	const void *va;	    /* NULL unless verdict is ACPI_TABLE_OK */
};

/**
 * Every table found: the RSDP first (sig "RSDP"), then the root table used
 * (XSDT, or RSDT when the XSDT is absent or bad, in which case the bad XSDT
 * is listed too), then the tables the root lists in its order, then the
 * DSDT named by the FADT.  dropped counts tables beyond ACPI_MAX_TABLES.
 */
struct acpi_tables {
	unsigned int count;
	unsigned int dropped;
	struct acpi_table tables[ACPI_MAX_TABLES];
};

/*
 * Finds and validates every table, starting from the RSDP at rsdp_pa (ACPI
 * 6.4, 5.2.5).  Returns 0, or -ENODEV (no RSDP), -EFAULT (RSDP unreachable),
 * -EINVAL (RSDP bad, or neither XSDT nor RSDT usable), each with a log line
 * saying why.  t is filled in as far as discovery got in every case.
 */
int acpi_init(struct acpi_tables *t, uint64_t rsdp_pa);

/*
 * The index-th valid table (0 for the first) with signature sig, and its
 * length in *len (len may be NULL).  NULL if there is no such valid table.
 */
const void *acpi_find(const struct acpi_tables *t, const char sig[ACPI_SIG_LEN],
		      unsigned int index, uint32_t *len);

/*
 * The table list for the console, one line per table:
 *   "SIG addr 0xADDR len 0xLEN checksum ok"
 *   "SIG addr 0xADDR len 0xLEN checksum bad"
 *   "SIG addr 0xADDR len 0xLEN rejected (REASON)"
 * then "(N more tables not recorded)" when some were dropped.
 */
void acpi_format(const struct acpi_tables *t, acpi_emit_fn emit, void *ctx);

/* MCFG (PCI Firmware Specification 3.2, 4.1.2): one ECAM window. */
struct acpi_mcfg_entry {
	uint64_t base; /* ECAM address of bus 0 of the segment */
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
};

/*
 * Stores up to max usable entries in out and returns how many; entries with
 * base 0, end bus below start bus or a window past 2^64 are skipped with a
 * warning.  -EINVAL for a table that is not a well-formed MCFG.
 */
int acpi_mcfg_parse(const void *tbl, uint32_t len, struct acpi_mcfg_entry *out,
		    unsigned int max);

#define ACPI_MAX_IOAPICS 32U

struct acpi_ioapic {
	uint8_t id;
	uint32_t address;
	uint32_t gsi_base;
};

/* What the kernel needs from the MADT (ACPI 6.4, 5.2.12). */
struct acpi_madt {
	unsigned int cpu_count; /* enabled local APIC and x2APIC entries */
	unsigned int ioapic_count;
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
};

/*
 * Fills out from a MADT.  IOAPICs beyond ACPI_MAX_IOAPICS are reported and
 * not recorded.  -EINVAL for a malformed table or entry (out then holds what
 * came before it).
 */
int acpi_madt_parse(const void *tbl, uint32_t len, struct acpi_madt *out);

/* The ACPI PM timer (ACPI 6.4, 4.8.3.3), a TSC calibration reference. */
struct acpi_pm_timer {
	bool io; /* address is an I/O port, else system memory */
	uint64_t address;
	bool width32; /* TMR_VAL_EXT: 32-bit counter, else 24-bit */
};

/*
 * The PM timer from the FADT: X_PM_TMR_BLK when set, else PM_TMR_BLK.
 * -ENODEV when the platform has none (hardware-reduced ACPI, or both
 * blocks empty), -EINVAL for a malformed FADT or timer block.
 */
int acpi_fadt_pm_timer(const void *tbl, uint32_t len,
		       struct acpi_pm_timer *out);

/*
 * The HPET register block's physical address from the HPET table (IA-PC HPET
 * Specification 1.0a, 3.2.4).  -ENODEV for a zero base, -EINVAL for a
 * malformed table or a base that is not in system memory space.
 */
int acpi_hpet_base(const void *tbl, uint32_t len, uint64_t *base);
