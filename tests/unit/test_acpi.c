/*
 * Host tests of ACPI table discovery and the fixed-layout tables
 * (drivers/acpi/acpi.c).  Tables are built in the stub's physical memory
 * arena (tests/unit/acpi_test_stubs.c), so addresses are stable and
 * anything outside the arena is unreachable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/acpi/acpi.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/acpi_test_stubs.h"

#define PA(off)	 (ACPI_TEST_PHYS_BASE + (off))
#define RSDP_PA	 PA(0x0)
#define XSDT_PA	 PA(0x100)
#define RSDT_PA	 PA(0x200)
#define FACP_PA	 PA(0x1000)
#define APIC_PA	 PA(0x2000)
#define MCFG_PA	 PA(0x3000)
#define HPET_PA	 PA(0x4000)
#define DMAR_PA	 PA(0x5000)
#define DSDT_PA	 PA(0x6000)
#define SSDT0_PA PA(0x7000)
#define SSDT1_PA PA(0x8000)
#define FREE_PA	 PA(0x10000)

#define FADT_LEN 276

static struct acpi_tables tables;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--) {
		s = (uint8_t)(s + *p++);
	}
	return s;
}

/* Recomputes the checksum of the table at pa from its length field. */
static void fix(uint64_t pa)
{
	uint8_t *p = acpi_test_phys(pa);
	uint32_t len = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		       (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

	p[9] = 0;
	p[9] = (uint8_t)-sum(p, len);
}

static uint8_t *table(uint64_t pa, const char *sig, uint32_t len)
{
	uint8_t *p = acpi_test_phys(pa);

	memset(p, 0, len);
	memcpy(p, sig, 4);
	put32(p + 4, len);
	p[8] = 1;
	memcpy(p + 10, "MOAT  ", 6);
	fix(pa);
	return p;
}

static void rsdp(uint64_t pa, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	uint8_t *p = acpi_test_phys(pa);

	memset(p, 0, 36);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "MOAT  ", 6);
	p[15] = rev;
	put32(p + 16, rsdt);
	put32(p + 20, 36);
	put64(p + 24, xsdt);
	p[8] = (uint8_t)-sum(p, 20);
	p[32] = (uint8_t)-sum(p, 36);
}

static void root(uint64_t pa, const char *sig, const uint64_t *entries,
		 unsigned int n)
{
	unsigned int w = strcmp(sig, "XSDT") == 0 ? 8 : 4;
	uint8_t *p = table(pa, sig, 36 + w * n);
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (w == 8) {
			put64(p + 36 + 8 * i, entries[i]);
		} else {
			put32(p + 36 + 4 * i, (uint32_t)entries[i]);
		}
	}
	fix(pa);
}

static const uint64_t children[] = {
	FACP_PA, APIC_PA, MCFG_PA, HPET_PA, DMAR_PA, SSDT0_PA, SSDT1_PA,
};
#define CHILDREN (sizeof(children) / sizeof(children[0]))

/* A machine as OVMF would describe it, RSDP revision 2. */
static int build_machine(void **state)
{
	uint8_t *p;

	acpi_test_phys_clear();
	acpi_test_log_clear();
	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, XSDT_PA);
	root(XSDT_PA, "XSDT", children, CHILDREN);
	root(RSDT_PA, "RSDT", children, CHILDREN);
	p = table(FACP_PA, "FACP", FADT_LEN);
	p[8] = 6;
	put64(p + 140, DSDT_PA);
	fix(FACP_PA);
	table(APIC_PA, "APIC", 44);
	table(MCFG_PA, "MCFG", 60);
	table(HPET_PA, "HPET", 56);
	table(DMAR_PA, "DMAR", 48);
	table(DSDT_PA, "DSDT", 36);
	table(SSDT0_PA, "SSDT", 40);
	table(SSDT1_PA, "SSDT", 44);
	return 0;
}

struct lines {
	char text[16384];
	size_t len;
};

static struct lines out;

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;
	size_t n = strlen(line);

	assert_true(l->len + n + 2 < sizeof(l->text));
	memcpy(l->text + l->len, line, n);
	l->len += n;
	l->text[l->len++] = '\n';
	l->text[l->len] = '\0';
}

static const char *format(void)
{
	memset(&out, 0, sizeof(out));
	acpi_format(&tables, collect, &out);
	return out.text;
}

static void test_xsdt(void **state)
{
	uint32_t len;
	const uint8_t *p;

	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_string_equal(format(),
			    "RSDP addr 0x7f000000 len 0x24 checksum ok\n"
			    "XSDT addr 0x7f000100 len 0x5c checksum ok\n"
			    "FACP addr 0x7f001000 len 0x114 checksum ok\n"
			    "APIC addr 0x7f002000 len 0x2c checksum ok\n"
			    "MCFG addr 0x7f003000 len 0x3c checksum ok\n"
			    "HPET addr 0x7f004000 len 0x38 checksum ok\n"
			    "DMAR addr 0x7f005000 len 0x30 checksum ok\n"
			    "SSDT addr 0x7f007000 len 0x28 checksum ok\n"
			    "SSDT addr 0x7f008000 len 0x2c checksum ok\n"
			    "DSDT addr 0x7f006000 len 0x24 checksum ok\n");
	p = acpi_find(&tables, "DMAR", 0, &len);
	assert_ptr_equal(p, acpi_test_phys(DMAR_PA));
	assert_int_equal(len, 48);
	assert_ptr_equal(acpi_find(&tables, "SSDT", 1, &len),
			 acpi_test_phys(SSDT1_PA));
	assert_int_equal(len, 44);
	assert_null(acpi_find(&tables, "SSDT", 2, &len));
	assert_null(acpi_find(&tables, "BERT", 0, NULL));
	assert_non_null(acpi_find(&tables, "FACP", 0, NULL));
	assert_true(acpi_test_log_has(
		"acpi: 10 tables found through the XSDT at 0x7f000100"));
}

static void test_xsdt_bad_checksum(void **state)
{
	uint8_t *x = acpi_test_phys(XSDT_PA);

	x[40] ^= 1;
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_true(acpi_test_log_has("falling back to the RSDT"));
	assert_string_equal(format(),
			    "RSDP addr 0x7f000000 len 0x24 checksum ok\n"
			    "XSDT addr 0x7f000100 len 0x5c checksum bad\n"
			    "RSDT addr 0x7f000200 len 0x40 checksum ok\n"
			    "FACP addr 0x7f001000 len 0x114 checksum ok\n"
			    "APIC addr 0x7f002000 len 0x2c checksum ok\n"
			    "MCFG addr 0x7f003000 len 0x3c checksum ok\n"
			    "HPET addr 0x7f004000 len 0x38 checksum ok\n"
			    "DMAR addr 0x7f005000 len 0x30 checksum ok\n"
			    "SSDT addr 0x7f007000 len 0x28 checksum ok\n"
			    "SSDT addr 0x7f008000 len 0x2c checksum ok\n"
			    "DSDT addr 0x7f006000 len 0x24 checksum ok\n");
	assert_null(acpi_find(&tables, "XSDT", 0, NULL));
	assert_non_null(acpi_find(&tables, "RSDT", 0, NULL));
	assert_non_null(acpi_find(&tables, "DMAR", 0, NULL));
}

static void test_xsdt_bad_shape(void **state)
{
	uint8_t *x = acpi_test_phys(XSDT_PA);

	/* Four bytes past the last entry: not a whole number of entries. */
	put32(x + 4, 36 + 8 * CHILDREN + 4);
	fix(XSDT_PA);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(format(),
			       "XSDT addr 0x7f000100 len 0x60 rejected (length "
			       "not a whole number of entries)\n"
			       "RSDT addr 0x7f000200 len 0x40 checksum ok\n"));
	assert_int_equal(tables.count, 3 + CHILDREN + 1);

	/* Something else where the XSDT should be. */
	build_machine(state);
	memcpy(x, "XSDQ", 4);
	fix(XSDT_PA);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(format(), "XSDQ addr 0x7f000100 len 0x5c "
					 "rejected (unexpected signature)\n"));
	assert_non_null(acpi_find(&tables, "HPET", 0, NULL));

	/* Shorter than a header. */
	build_machine(state);
	put32(x + 4, 20);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(format(),
			       "XSDT addr 0x7f000100 len 0x14 rejected "
			       "(length shorter than the header)\n"));
}

static void test_rsdp_v1(void **state)
{
	/* ACPI 1.0: 20 bytes, RSDT only; whatever follows is not read. */
	rsdp(RSDP_PA, 0, (uint32_t)RSDT_PA, XSDT_PA);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(format(),
			       "RSDP addr 0x7f000000 len 0x14 checksum ok\n"
			       "RSDT addr 0x7f000200 len 0x40 checksum ok\n"));
	assert_null(acpi_find(&tables, "XSDT", 0, NULL));
	/* A revision 2 RSDP without an XSDT. */
	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, 0);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(acpi_find(&tables, "RSDT", 0, NULL));
	assert_int_equal(tables.count, 2 + CHILDREN + 1);
}

static void test_rsdp_errors(void **state)
{
	uint8_t *p = acpi_test_phys(RSDP_PA);

	assert_int_equal(acpi_init(&tables, 0), -ENODEV);
	assert_int_equal(tables.count, 0);
	assert_string_equal(format(), "");

	assert_int_equal(acpi_init(&tables, 0x1000), -EFAULT);
	assert_string_equal(
		format(), "RSDP addr 0x1000 len 0x14 rejected (unreachable)\n");
	assert_true(acpi_test_log_has("RSDP at 0x1000 is not reachable"));

	p[0] = 'X';
	assert_int_equal(acpi_init(&tables, RSDP_PA), -EINVAL);
	assert_string_equal(
		format(),
		"RSDP addr 0x7f000000 len 0x14 rejected (bad signature)\n");

	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, XSDT_PA);
	p[16] ^= 0x10;
	assert_int_equal(acpi_init(&tables, RSDP_PA), -EINVAL);
	assert_string_equal(format(),
			    "RSDP addr 0x7f000000 len 0x14 checksum bad\n");

	/* Extended checksum bad: the checksummed ACPI 1.0 part still holds. */
	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, XSDT_PA);
	p[32] ^= 1;
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(format(),
			       "RSDP addr 0x7f000000 len 0x24 checksum bad\n"
			       "RSDT addr 0x7f000200 len 0x40 checksum ok\n"));

	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, XSDT_PA);
	put32(p + 20, 16);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(format(),
			       "RSDP addr 0x7f000000 len 0x10 rejected (bad "
			       "length; using the RSDT)\n"
			       "RSDT addr"));

	/* Only the ACPI 1.0 part is reachable: not even the length is. */
	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, XSDT_PA);
	memcpy(acpi_test_phys(PA(ACPI_TEST_PHYS_SIZE - 20)), p, 20);
	assert_int_equal(acpi_init(&tables, PA(ACPI_TEST_PHYS_SIZE - 20)), 0);
	assert_non_null(strstr(format(),
			       "RSDP addr 0x7f13ffec len 0x14 rejected "
			       "(extended part unreachable; using the RSDT)\n"
			       "RSDT addr"));

	/* The length reaches past the end of reachable memory. */
	rsdp(RSDP_PA, 2, (uint32_t)RSDT_PA, XSDT_PA);
	put32(p + 20, 40);
	p[32] = 0;
	p[32] = (uint8_t)-sum(p, 36);
	memcpy(acpi_test_phys(PA(ACPI_TEST_PHYS_SIZE - 36)), p, 36);
	assert_int_equal(acpi_init(&tables, PA(ACPI_TEST_PHYS_SIZE - 36)), 0);
	assert_non_null(strstr(format(),
			       "RSDP addr 0x7f13ffdc len 0x28 rejected "
			       "(extended part unreachable; using the RSDT)\n"
			       "RSDT addr"));
}

static void test_no_root(void **state)
{
	uint8_t *x = acpi_test_phys(XSDT_PA);
	uint8_t *r = acpi_test_phys(RSDT_PA);

	x[40] ^= 1;
	r[40] ^= 1;
	assert_int_equal(acpi_init(&tables, RSDP_PA), -EINVAL);
	assert_true(acpi_test_log_has("neither XSDT nor RSDT is usable"));
	assert_string_equal(format(),
			    "RSDP addr 0x7f000000 len 0x24 checksum ok\n"
			    "XSDT addr 0x7f000100 len 0x5c checksum bad\n"
			    "RSDT addr 0x7f000200 len 0x40 checksum bad\n");
	assert_null(acpi_find(&tables, "DMAR", 0, NULL));
}

static void test_bad_children(void **state)
{
	const uint64_t bad[] = {
		APIC_PA,		      /* checksum spoiled below */
		MCFG_PA,		      /* length 16 */
		HPET_PA,		      /* length 2 MiB */
		0x1000,			      /* outside memory */
		PA(ACPI_TEST_PHYS_SIZE - 36), /* body past the end */
		0,			      /* null entry */
		DMAR_PA,		      /* fine */
	};
	uint8_t *p;

	root(XSDT_PA, "XSDT", bad, 7);
	p = acpi_test_phys(APIC_PA);
	p[40] = 0x55;
	p = acpi_test_phys(MCFG_PA);
	put32(p + 4, 16);
	p = acpi_test_phys(HPET_PA);
	put32(p + 4, 0x200000);
	table(PA(ACPI_TEST_PHYS_SIZE - 36), "SSDT", 36);
	put32(acpi_test_phys(PA(ACPI_TEST_PHYS_SIZE - 36)) + 4, 40);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_string_equal(
		format(),
		"RSDP addr 0x7f000000 len 0x24 checksum ok\n"
		"XSDT addr 0x7f000100 len 0x5c checksum ok\n"
		"APIC addr 0x7f002000 len 0x2c checksum bad\n"
		"MCFG addr 0x7f003000 len 0x10 rejected (length shorter than "
		"the header)\n"
		"HPET addr 0x7f004000 len 0x200000 rejected (length over 1 "
		"MiB)\n"
		"???? addr 0x1000 len 0x0 rejected (header unreachable)\n"
		"SSDT addr 0x7f13ffdc len 0x28 rejected (body unreachable)\n"
		"???? addr 0x0 len 0x0 rejected (null address)\n"
		"DMAR addr 0x7f005000 len 0x30 checksum ok\n");
	assert_null(acpi_find(&tables, "APIC", 0, NULL));
	assert_null(acpi_find(&tables, "MCFG", 0, NULL));
	assert_null(acpi_find(&tables, "HPET", 0, NULL));
	assert_null(acpi_find(&tables, "SSDT", 0, NULL));
	assert_non_null(acpi_find(&tables, "DMAR", 0, NULL));
	assert_true(acpi_test_log_has("APIC at 0x7f002000: bad checksum"));
}

static void test_garbage_signature(void **state)
{
	uint8_t *p = acpi_test_phys(SSDT0_PA);

	p[1] = 0x07;
	p[2] = 0xff;
	fix(SSDT0_PA);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_non_null(strstr(
		format(), "\nS??T addr 0x7f007000 len 0x28 checksum ok\n"));
}

static void test_capacity(void **state)
{
	static uint64_t many[130];
	unsigned int i;

	for (i = 0; i < 130; i++) {
		many[i] = SSDT0_PA;
	}
	root(XSDT_PA, "XSDT", many, 130);
	assert_int_equal(acpi_init(&tables, RSDP_PA), 0);
	assert_int_equal(tables.count, ACPI_MAX_TABLES);
	assert_int_equal(tables.dropped, 4);
	assert_true(acpi_test_log_has(
		"4 tables beyond the first 128 not recorded"));
	assert_non_null(strstr(format(),
			       "SSDT addr 0x7f007000 len 0x28 checksum ok\n"
			       "(4 more tables not recorded)\n"));
	assert_non_null(acpi_find(&tables, "SSDT", 125, NULL));
	assert_null(acpi_find(&tables, "SSDT", 126, NULL));
}

/* Every fixed-layout parser given fewer bytes than the header promises. */
static void check_truncations(uint64_t pa)
{
	const uint8_t *tbl = acpi_test_phys(pa);
	uint32_t len = (uint32_t)tbl[4] | (uint32_t)tbl[5] << 8;
	uint32_t n;

	for (n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		struct acpi_mcfg_entry mcfg[4];
		struct acpi_madt madt;
		struct acpi_pm_timer pmt;
		uint64_t base;

		memcpy(copy, tbl, n);
		assert_int_equal(acpi_mcfg_parse(copy, n, mcfg, 4), -EINVAL);
		assert_int_equal(acpi_madt_parse(copy, n, &madt), -EINVAL);
		assert_int_equal(acpi_fadt_pm_timer(copy, n, &pmt), -EINVAL);
		assert_int_equal(acpi_hpet_base(copy, n, &base), -EINVAL);
		free(copy);
	}
}

static void test_mcfg(void **state)
{
	uint8_t *p = table(MCFG_PA, "MCFG", 44 + 16 * 5);
	struct acpi_mcfg_entry e[4];

	put64(p + 44, 0xb0000000);
	p[44 + 11] = 0xff;
	put64(p + 60, 0); /* base 0 */
	p[60 + 11] = 0xff;
	put64(p + 76, 0xc0000000); /* end below start */
	p[76 + 10] = 0x10;
	p[76 + 11] = 0x0f;
	put64(p + 92, 0xfffffffffff00000ULL); /* window past 2^64 */
	put64(p + 108, 0xe0000000);
	put16(p + 108 + 8, 1);
	p[108 + 10] = 0x80;
	p[108 + 11] = 0x9f;
	fix(MCFG_PA);
	assert_int_equal(acpi_mcfg_parse(p, 124, e, 4), 2);
	assert_int_equal(e[0].base, 0xb0000000);
	assert_int_equal(e[0].segment, 0);
	assert_int_equal(e[0].start_bus, 0);
	assert_int_equal(e[0].end_bus, 0xff);
	assert_int_equal(e[1].base, 0xe0000000);
	assert_int_equal(e[1].segment, 1);
	assert_int_equal(e[1].start_bus, 0x80);
	assert_int_equal(e[1].end_bus, 0x9f);
	assert_true(
		acpi_test_log_has("MCFG seg 0 base 0x0 bus 0x0-0xff ignored"));
	assert_int_equal(acpi_mcfg_parse(p, 124, e, 1), 1);
	assert_true(acpi_test_log_has(
		"MCFG seg 1 base 0xe0000000 bus 0x80-0x9f beyond capacity"));
	/* A length that is not header + whole entries. */
	put32(p + 4, 44 + 8);
	assert_int_equal(acpi_mcfg_parse(p, 124, e, 4), -EINVAL);
	put32(p + 4, 124);
	memcpy(p, "MCFX", 4);
	assert_int_equal(acpi_mcfg_parse(p, 124, e, 4), -EINVAL);
	memcpy(p, "MCFG", 4);
	fix(MCFG_PA);
	check_truncations(MCFG_PA);
}

static uint8_t *madt_entry(uint8_t *p, uint8_t type, uint8_t len)
{
	p[0] = type;
	p[1] = len;
	return p;
}

static void test_madt(void **state)
{
	uint8_t *t = table(APIC_PA, "APIC", 44 + 8 * 3 + 16 + 12 * 2 + 6);
	uint8_t *p = t + 44;
	struct acpi_madt m;
	unsigned int i;

	put32(madt_entry(p, 0, 8) + 4, 1);	 /* enabled */
	put32(madt_entry(p + 8, 0, 8) + 4, 0);	 /* disabled */
	put32(madt_entry(p + 16, 0, 8) + 4, 3);	 /* enabled */
	put32(madt_entry(p + 24, 9, 16) + 8, 1); /* x2APIC enabled */
	p = madt_entry(p + 40, 1, 12);
	p[2] = 2;
	put32(p + 4, 0xfec00000);
	put32(p + 8, 0);
	p = madt_entry(p + 12, 1, 12);
	p[2] = 3;
	put32(p + 4, 0xfec01000);
	put32(p + 8, 24);
	madt_entry(p + 12, 0x7f, 6); /* unknown type */
	fix(APIC_PA);
	assert_int_equal(acpi_madt_parse(t, 114, &m), 0);
	assert_int_equal(m.cpu_count, 3);
	assert_int_equal(m.ioapic_count, 2);
	assert_int_equal(m.ioapics[1].id, 3);
	assert_int_equal(m.ioapics[1].address, 0xfec01000);
	assert_int_equal(m.ioapics[1].gsi_base, 24);
	check_truncations(APIC_PA);

	/* Entries at 44, 52, 60 (local APIC), 68 (x2APIC), 84, 96 (IOAPIC),
	 * 108. */
	/* An entry of length 0 would never advance. */
	t[44 + 1] = 0;
	assert_int_equal(acpi_madt_parse(t, 114, &m), -EINVAL);
	t[44 + 1] = 8;
	/* The last entry one byte past the end of the table. */
	t[108 + 1] = 7;
	assert_int_equal(acpi_madt_parse(t, 114, &m), -EINVAL);
	t[108 + 1] = 6;
	/* An IOAPIC entry too short for its fields. */
	t[84 + 1] = 8;
	assert_int_equal(acpi_madt_parse(t, 114, &m), -EINVAL);
	t[84 + 1] = 12;
	assert_int_equal(acpi_madt_parse(t, 114, &m), 0);

	/* More IOAPICs than recorded. */
	t = table(APIC_PA, "APIC", 44 + 12 * 33);
	for (i = 0; i < 33; i++) {
		madt_entry(t + 44 + 12 * i, 1, 12)[2] = (uint8_t)i;
	}
	fix(APIC_PA);
	assert_int_equal(acpi_madt_parse(t, 44 + 12 * 33, &m), 0);
	assert_int_equal(m.ioapic_count, ACPI_MAX_IOAPICS);
	assert_true(
		acpi_test_log_has("IOAPIC id 32 beyond the first 32 ignored"));
}

static uint8_t *fadt(uint32_t len, uint32_t flags, uint32_t pm_blk,
		     uint8_t pm_len)
{
	uint8_t *p = table(FACP_PA, "FACP", len);

	put32(p + 76, pm_blk);
	p[91] = pm_len;
	put32(p + 112, flags);
	return p;
}

static void x_pm_tmr(uint8_t *p, uint8_t space, uint64_t addr)
{
	p[208] = space;
	p[209] = 32;
	put64(p + 212, addr);
}

static void test_fadt_pm_timer(void **state)
{
	struct acpi_pm_timer t;
	uint8_t *p;

	p = fadt(FADT_LEN, 1U << 8, 0x408, 4);
	x_pm_tmr(p, 1, 0x608);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), 0);
	assert_true(t.io);
	assert_int_equal(t.address, 0x608);
	assert_true(t.width32);

	p = fadt(FADT_LEN, 0, 0x408, 4);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), 0);
	assert_true(t.io);
	assert_int_equal(t.address, 0x408);
	assert_false(t.width32);

	/* ACPI 1.0 FADT: no X_ fields. */
	p = fadt(116, 1U << 8, 0x1808, 4);
	assert_int_equal(acpi_fadt_pm_timer(p, 116, &t), 0);
	assert_int_equal(t.address, 0x1808);
	check_truncations(FACP_PA);

	p = fadt(FADT_LEN, 0, 0, 0);
	x_pm_tmr(p, 0, 0xfed00f00);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), 0);
	assert_false(t.io);
	assert_int_equal(t.address, 0xfed00f00);

	p = fadt(FADT_LEN, 0, 0, 0);
	x_pm_tmr(p, 2, 0x1000);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), -EINVAL);
	x_pm_tmr(p, 1, 0x10000);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), -EINVAL);

	p = fadt(FADT_LEN, 0, 0x408, 2);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), -EINVAL);
	p = fadt(FADT_LEN, 0, 0, 0);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), -ENODEV);
	p = fadt(FADT_LEN, 1U << 20, 0x408, 4);
	assert_int_equal(acpi_fadt_pm_timer(p, FADT_LEN, &t), -ENODEV);
	p = fadt(100, 0, 0x408, 4);
	assert_int_equal(acpi_fadt_pm_timer(p, 100, &t), -EINVAL);
}

static void test_hpet(void **state)
{
	uint8_t *p = table(HPET_PA, "HPET", 56);
	uint64_t base;

	put64(p + 44, 0xfed00000);
	assert_int_equal(acpi_hpet_base(p, 56, &base), 0);
	assert_int_equal(base, 0xfed00000);
	check_truncations(HPET_PA);
	p[40] = 1;
	assert_int_equal(acpi_hpet_base(p, 56, &base), -EINVAL);
	p[40] = 0;
	put64(p + 44, 0);
	assert_int_equal(acpi_hpet_base(p, 56, &base), -ENODEV);
	put32(p + 4, 50);
	assert_int_equal(acpi_hpet_base(p, 56, &base), -EINVAL);
	assert_int_equal(acpi_hpet_base(NULL, 0, &base), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_xsdt, build_machine),
		cmocka_unit_test_setup(test_xsdt_bad_checksum, build_machine),
		cmocka_unit_test_setup(test_xsdt_bad_shape, build_machine),
		cmocka_unit_test_setup(test_rsdp_v1, build_machine),
		cmocka_unit_test_setup(test_rsdp_errors, build_machine),
		cmocka_unit_test_setup(test_no_root, build_machine),
		cmocka_unit_test_setup(test_bad_children, build_machine),
		cmocka_unit_test_setup(test_garbage_signature, build_machine),
		cmocka_unit_test_setup(test_capacity, build_machine),
		cmocka_unit_test_setup(test_mcfg, build_machine),
		cmocka_unit_test_setup(test_madt, build_machine),
		cmocka_unit_test_setup(test_fadt_pm_timer, build_machine),
		cmocka_unit_test_setup(test_hpet, build_machine),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
