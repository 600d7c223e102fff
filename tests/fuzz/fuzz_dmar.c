/*
 * libFuzzer harness for the DMAR parser: parse, validate against a fixed
 * memory map, format for the console, look devices up through a synthetic
 * PCI topology, probe units through synthetic registers, and check the
 * invariants the VT-d layer relies on.  Any violation traps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/acpi/acpi.h"
#include "drivers/acpi/dmar.h"
#include "drivers/hw.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                          \
	do {                              \
		if (!(x)) {               \
			__builtin_trap(); \
		}                         \
	} while (0)

void log_printf(enum log_level level, const char *subsys, const char *fmt, ...)
{
}

/*
 * A made-up topology: buses with bit 6 set are empty, odd functions are
 * bridges whose secondary bus may wrap below their own (a loop).
 */
uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	if (bus & 0x40) {
		return 0xff;
	}
	switch (off) {
	case 0x0e:
		return devfn & 1 ? 0x01 : 0x00;
	case 0x19:
		return (uint8_t)(bus + 1 + (rid_devfn_device(devfn) & 3) + seg);
	case 0x1a:
		return (uint8_t)(bus + 8);
	default:
		return 0xff;
	}
}

/* Registers: some bases cannot be mapped, some read all-ones. */
int hw_mmio_map(uint64_t pa, uint64_t len)
{
	return pa & 0x2000 ? -EINVAL : 0;
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	return pa & 0x1000 ? 0x10 : UINT32_MAX;
}

uint64_t hw_mmio_read64(uint64_t pa)
{
	return pa & 0x4000 ? 0 : 0x00d2008c40660462ULL;
}

static const struct dmar_mem_range ranges[] = {
	{0x0, 0x9f000, DMAR_MEM_RAM},
	{0x9f000, 0x61000, DMAR_MEM_RESERVED},
	{0x100000, 0x7bf00000, DMAR_MEM_RAM},
	{0x7c000000, 0x4000000, DMAR_MEM_RESERVED},
	{0xfed00000, 0x100000, DMAR_MEM_RESERVED},
	{0x100000000ULL, 0x380000000ULL, DMAR_MEM_RAM},
	{0xffffffffff000000ULL, 0x2000000, DMAR_MEM_RESERVED}, /* wraps */
};

static const struct dmar_mem_map mm = {
	ranges,
	sizeof(ranges) / sizeof(ranges[0]),
};

static struct dmar d;
static size_t emitted;

static void emit(void *ctx, const char *line)
{
	size_t n = strlen(line);

	CHECK(n > 0 && n < ACPI_LINE_MAX);
	CHECK(!strchr(line, '\n'));
	emitted += n;
}

static void check_scopes(struct dmar_scopes sc)
{
	unsigned int k;

	CHECK(sc.first + sc.count <= d.scope_count);
	for (k = sc.first; k < sc.first + sc.count; k++) {
		CHECK(d.scopes[k].path_len >= 1);
		CHECK(d.scopes[k].path_len <= DMAR_MAX_PATH);
	}
}

static void check_invariants(int ret)
{
	unsigned int i, counts[7] = {0};

	CHECK((ret == 0) == d.usable);
	CHECK(d.usable || d.reason[0]);
	CHECK(d.scope_count <= DMAR_MAX_SCOPES);
	CHECK(d.struct_count <= DMAR_MAX_STRUCTS);
	for (i = 0; i < d.struct_count; i++) {
		if (d.structs[i].type < 7) {
			CHECK(d.structs[i].index ==
			      counts[d.structs[i].type]++);
		}
	}
	CHECK(counts[DMAR_TYPE_DRHD] == d.unit_count);
	CHECK(counts[DMAR_TYPE_RMRR] == d.rmrr_count);
	CHECK(counts[DMAR_TYPE_ATSR] == d.atsr_count);
	CHECK(counts[DMAR_TYPE_SATC] == d.satc_count);
	CHECK(counts[DMAR_TYPE_SIDP] == d.sidp_count);
	for (i = 0; i < d.unit_count; i++) {
		const struct dmar_unit *u = &d.units[i];

		check_scopes(u->scopes);
		/* Fail closed: a unit is usable only with no reason at all. */
		CHECK(dmar_unit_usable(&d, i) == (d.usable && !u->reason[0]));
		CHECK(!u->scopes_incomplete || u->reason[0]);
		if (dmar_unit_usable(&d, i)) {
			CHECK(u->base != 0 && (u->base & 0xfff) == 0);
		}
	}
	for (i = 0; i < d.rmrr_count; i++) {
		check_scopes(d.rmrrs[i].scopes);
		if (dmar_rmrr_usable(&d, i)) {
			CHECK(d.rmrrs[i].base <= d.rmrrs[i].limit);
			CHECK(d.rmrrs[i].scopes.count > 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t buses[] = {0, 1, 2, 0x41, 0x80, 0xff};
	const struct dmar_scope *s;
	unsigned int i, j, unit;
	int ret;

	ret = dmar_parse(data, size, &mm, &d);
	check_invariants(ret);
	dmar_format(&d, emit, NULL);
	for (i = 0; i < sizeof(buses); i++) {
		for (j = 0; j < 256; j += 9) {
			uint16_t seg = (uint16_t)(j & 1);
			int u = dmar_unit_for_device(&d, seg, buses[i],
						     (uint8_t)j);

			CHECK(u == -ENODEV || u == -EEXIST ||
			      (u >= 0 && (unsigned int)u < d.unit_count &&
			       d.units[u].segment == seg));
		}
	}
	for (i = 0; i < d.rmrr_count; i++) {
		dmar_rmrr_covers(&d, i, d.rmrrs[i].segment, 1, 0x08);
	}
	for (i = 0; i < d.atsr_count; i++) {
		dmar_devset_covers(&d, &d.atsrs[i], d.atsrs[i].segment, 2, 0);
	}
	for (i = 0; i < 4; i++) {
		ret = dmar_enum_scope(&d, DMAR_SCOPE_IOAPIC + (i & 1),
				      (uint8_t)i, &unit, &s);
		CHECK(ret != 0 || unit < d.unit_count);
	}
	dmar_probe_units(&d);
	dmar_unit_reject(&d, 0, "fuzz");
	CHECK(!dmar_unit_usable(&d, 0));
	check_invariants(d.usable ? 0 : -EINVAL);
	dmar_format(&d, emit, NULL);
	return 0;
}
