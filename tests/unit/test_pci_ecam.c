#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/pci_fake.h"

/*
 * drivers/pci/ecam.c over a fake physical memory: two buses of segment 0
 * at MEM0, and bus 0x10 of segment 1 at MEM1.  Its window registry lives
 * for the whole process, so the tests run in order and build on each other.
 */
#define MIB	  (UINT64_C(1) << 20)
#define MEM0	  UINT64_C(0xe0000000)	   /* segment 0, buses 0-1 */
#define MEM1_BASE UINT64_C(0x100000000)	   /* segment 1's bus 0 */
#define MEM1	  (MEM1_BASE + 0x10 * MIB) /* segment 1, bus 0x10 */
#define MAP_FAILS UINT64_C(0xd0000000)

static uint8_t *mem0;
static uint8_t *mem1;
static uint64_t mapped_pa;
static uint64_t mapped_len;
static unsigned int virt_calls;

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	if (pa == MAP_FAILS) {
		return -EINVAL;
	}
	mapped_pa = pa;
	mapped_len = len;
	return 0;
}

void *hw_phys_to_virt(uint64_t pa)
{
	virt_calls++;
	if (pa >= MEM0 && pa < MEM0 + 2 * MIB) {
		return mem0 + (pa - MEM0);
	}
	if (pa >= MEM1 && pa < MEM1 + MIB) {
		return mem1 + (pa - MEM1);
	}
	return NULL;
}

/* Where (bus, devfn, off) of segment 0 lives in the fake memory. */
static uint8_t *at0(uint8_t bus, uint8_t devfn, unsigned int off)
{
	return mem0 + ((size_t)bus << 20) + ((size_t)devfn << 12) + off;
}

static int setup(void **state)
{
	mem0 = calloc(1, 2 * MIB);
	mem1 = calloc(1, MIB);
	assert_non_null(mem0);
	assert_non_null(mem1);
	return 0;
}

static int teardown(void **state)
{
	free(mem0);
	free(mem1);
	return 0;
}

static void test_nothing_registered(void **state)
{
	virt_calls = 0;
	assert_int_equal(hw_pci_read32(0, 0, 0, 0), UINT32_MAX);
	assert_int_equal(hw_pci_read16(0, 0, 0, 0), UINT16_MAX);
	assert_int_equal(hw_pci_read8(0, 0, 0, 0), UINT8_MAX);
	hw_pci_write32(0, 0, 0, 0, 0);
	assert_int_equal(virt_calls, 0);
}

static void test_add_rejects_bad_entries(void **state)
{
	pci_log_reset();
	assert_int_equal(pci_ecam_add(0, 0, 1, 0), -EINVAL);
	assert_int_equal(pci_ecam_add(0, 0, 1, MEM0 + 0x1000), -EINVAL);
	assert_int_equal(pci_ecam_add(0, 2, 1, MEM0), -EINVAL);
	/* Windows that would wrap around the address space. */
	assert_int_equal(pci_ecam_add(0, 0, 0xff, UINT64_C(0xfffffffff0000000)),
			 -EINVAL);
	assert_int_equal(pci_ecam_add(0, 0, 1, UINT64_MAX - 0xfffff), -EINVAL);
	assert_int_equal(pci_ecam_add(0, 0, 1, MAP_FAILS), -EINVAL);
	assert_int_equal(pci_log_count(LOG_WARN, "rejected"), 6);
	assert_int_equal(
		pci_log_count(
			LOG_WARN,
			"ECAM 0000:00-01 at 0xd0000000 rejected: cannot map it"),
		1);
	assert_int_equal(pci_log_count(LOG_WARN, "base not 1 MiB aligned"), 1);
	assert_int_equal(pci_log_count(LOG_WARN, "beyond the address space"),
			 2);
	/* None of them was registered. */
	assert_int_equal(hw_pci_read32(0, 0, 0, 0), UINT32_MAX);
}

static void test_add_maps_window(void **state)
{
	assert_int_equal(pci_ecam_add(0, 0, 1, MEM0), 0);
	assert_int_equal(mapped_pa, MEM0);
	assert_int_equal(mapped_len, 2 * MIB);
	/* The base is bus 0's even when the window starts later. */
	assert_int_equal(pci_ecam_add(1, 0x10, 0x10, MEM1_BASE), 0);
	assert_int_equal(mapped_pa, MEM1);
	assert_int_equal(mapped_len, MIB);
}

static void test_add_rejects_overlap(void **state)
{
	assert_int_equal(pci_ecam_add(0, 1, 4, MEM0 + 0x10000000), -EEXIST);
	assert_int_equal(pci_ecam_add(1, 0, 0xff, MEM0), -EEXIST);
	assert_int_equal(pci_log_count(LOG_WARN, "overlaps another window"), 2);
}

static void test_read_widths(void **state)
{
	uint8_t *p = at0(1, pci_devfn(2, 3), 0x100);

	memcpy(p, "\x11\x22\x33\x44", 4);
	assert_int_equal(hw_pci_read32(0, 1, pci_devfn(2, 3), 0x100),
			 0x44332211);
	assert_int_equal(hw_pci_read16(0, 1, pci_devfn(2, 3), 0x102), 0x4433);
	assert_int_equal(hw_pci_read8(0, 1, pci_devfn(2, 3), 0x101), 0x22);
	memcpy(at0(0, 0, 0xffc), "\xaa\xbb\xcc\xdd", 4);
	assert_int_equal(hw_pci_read32(0, 0, 0, 0xffc), 0xddccbbaa);
	mem1[(0x1fU << 12) + 0x40] = 0x5a;
	assert_int_equal(hw_pci_read8(1, 0x10, 0x1f, 0x40), 0x5a);
}

static void test_write_widths(void **state)
{
	uint8_t *p = at0(1, pci_devfn(31, 7), 0x200);

	memset(p, 0, 8);
	hw_pci_write32(0, 1, pci_devfn(31, 7), 0x200, 0x01020304);
	hw_pci_write16(0, 1, pci_devfn(31, 7), 0x204, 0x0506);
	hw_pci_write8(0, 1, pci_devfn(31, 7), 0x207, 0x07);
	assert_memory_equal(p, "\x04\x03\x02\x01\x06\x05\x00\x07", 8);
}

static void test_outside_windows(void **state)
{
	memset(mem0, 0x5a, 2 * MIB);
	virt_calls = 0;
	/* Bus 2 of segment 0, bus 0 of segment 1, segment 2. */
	assert_int_equal(hw_pci_read32(0, 2, 0, 0), UINT32_MAX);
	assert_int_equal(hw_pci_read16(1, 0, 0, 0), UINT16_MAX);
	assert_int_equal(hw_pci_read8(2, 0, 0, 0), UINT8_MAX);
	hw_pci_write32(0, 2, 0, 0, 0);
	hw_pci_write16(1, 0x11, 0, 0, 0);
	hw_pci_write8(2, 0, 0, 0, 0);
	assert_int_equal(virt_calls, 0);
	assert_int_equal(hw_pci_read32(0, 0, 0, 0), 0x5a5a5a5a);
}

static void test_bad_offsets(void **state)
{
	pci_log_reset();
	virt_calls = 0;
	assert_int_equal(hw_pci_read16(0, 0, 0, 0x101), UINT16_MAX);
	assert_int_equal(hw_pci_read32(0, 0, 0, 0x102), UINT32_MAX);
	assert_int_equal(hw_pci_read8(0, 0, 0, 0x1000), UINT8_MAX);
	assert_int_equal(hw_pci_read32(0, 0, 0, 0xffff), UINT32_MAX);
	hw_pci_write32(0, 0, 0, 0x0fff, 0);
	hw_pci_write16(0, 0, 0, 0x0fff, 0);
	assert_int_equal(virt_calls, 0);
	assert_int_equal(
		pci_log_count(
			LOG_ERR,
			"0000:00:00.0: bad 2-byte config access at 0x101"),
		1);
	assert_int_equal(pci_log_count(LOG_ERR, "bad"), 6);
	assert_int_equal(hw_pci_read32(0, 0, 0, 0), 0x5a5a5a5a);
}

/* Fills the registry: the table is bounded, not overrun. */
static void test_table_full(void **state)
{
	uint16_t seg;
	int err = 0;

	for (seg = 2; seg < 100 && !err; seg++) {
		err = pci_ecam_add(seg, 0, 0, MEM0);
	}
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(pci_log_count(LOG_WARN, "too many windows"), 1);
	/* What was registered before still works. */
	assert_int_equal(hw_pci_read32(0, 0, 0, 0), 0x5a5a5a5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_registered),
		cmocka_unit_test(test_add_rejects_bad_entries),
		cmocka_unit_test(test_add_maps_window),
		cmocka_unit_test(test_add_rejects_overlap),
		cmocka_unit_test(test_read_widths),
		cmocka_unit_test(test_write_widths),
		cmocka_unit_test(test_outside_windows),
		cmocka_unit_test(test_bad_offsets),
		cmocka_unit_test(test_table_full),
	};

	return deadline_run_group_tests(tests, setup, teardown);
}
