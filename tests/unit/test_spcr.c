/*
 * Host tests of the SPCR parser (drivers/acpi/spcr.c) with tables built
 * here, and of the 16550 driver (drivers/serial/uart16550.c) against a fake
 * UART behind the hw seam: every register access is checked for the right
 * path (port, byte or dword MMIO) and address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/acpi/spcr.h"
#include "drivers/hw.h"
#include "drivers/serial/uart16550.h"
#include "lib/errno.h"

#include "tests/deadline.h"

/* ---- SPCR tables -------------------------------------------------------- */

static uint8_t tbl[128];

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

static void fix_checksum(uint32_t len)
{
	uint8_t sum = 0;
	uint32_t i;

	tbl[9] = 0;
	for (i = 0; i < len; i++) {
		sum = (uint8_t)(sum + tbl[i]);
	}
	tbl[9] = (uint8_t)-sum;
}

/* A revision 2 table for COM2 at 115200 baud, not a PCI device. */
static uint32_t build(uint8_t rev, uint32_t len)
{
	memset(tbl, 0, sizeof(tbl));
	memcpy(tbl, "SPCR", 4);
	put32(tbl + 4, len);
	tbl[8] = rev;
	memcpy(tbl + 10, "MOATTS", 6);
	tbl[SPCR_INTERFACE_TYPE] = SPCR_TYPE_16550;
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_SPACE_ID] = ACPI_GAS_SPACE_IO;
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_BIT_WIDTH] = 8;
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_ACCESS_SIZE] = ACPI_GAS_ACCESS_BYTE;
	put64(tbl + SPCR_BASE_ADDRESS + ACPI_GAS_ADDRESS, 0x2f8);
	tbl[SPCR_BAUD_RATE] = 7;
	tbl[60] = 1; /* one stop bit */
	put16(tbl + SPCR_PCI_DEVICE_ID, SPCR_PCI_NONE);
	put16(tbl + SPCR_PCI_VENDOR_ID, SPCR_PCI_NONE);
	fix_checksum(len);
	return len;
}

static struct spcr s;

static void expect_reject(uint32_t len, const char *why)
{
	assert_int_equal(spcr_parse(tbl, len, &s), -EINVAL);
	assert_false(s.usable);
	if (!strstr(s.reason, why)) {
		fail_msg("reason '%s' lacks '%s'", s.reason, why);
	}
}

static void test_spcr_io_com2(void **state)
{
	uint32_t len = build(2, SPCR_LEN_MIN);

	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_true(s.usable);
	assert_int_equal(s.access, SPCR_ACCESS_IO);
	assert_int_equal(s.address, 0x2f8);
	assert_int_equal(s.baud, 115200);
	assert_int_equal(s.clock_hz, 0);
	assert_false(s.pci);
}

static void test_spcr_mmio_widths(void **state)
{
	uint8_t *gas = tbl + SPCR_BASE_ADDRESS;
	uint32_t len = build(2, SPCR_LEN_MIN);

	tbl[SPCR_INTERFACE_TYPE] = SPCR_TYPE_16550_GAS;
	gas[ACPI_GAS_SPACE_ID] = ACPI_GAS_SPACE_MEMORY;
	gas[ACPI_GAS_BIT_WIDTH] = 32;
	gas[ACPI_GAS_ACCESS_SIZE] = ACPI_GAS_ACCESS_DWORD;
	put64(gas + ACPI_GAS_ADDRESS, 0xfe030000);
	tbl[SPCR_BAUD_RATE] = 3;
	fix_checksum(len);
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_int_equal(s.access, SPCR_ACCESS_MMIO32);
	assert_int_equal(s.address, 0xfe030000);
	assert_int_equal(s.baud, 9600);
	/* Legacy access size: the bit width decides. */
	gas[ACPI_GAS_ACCESS_SIZE] = ACPI_GAS_ACCESS_LEGACY;
	fix_checksum(len);
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_int_equal(s.access, SPCR_ACCESS_MMIO32);
	gas[ACPI_GAS_BIT_WIDTH] = 8;
	tbl[SPCR_INTERFACE_TYPE] = SPCR_TYPE_16450;
	tbl[SPCR_BAUD_RATE] = 0;
	fix_checksum(len);
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_int_equal(s.access, SPCR_ACCESS_MMIO8);
	assert_int_equal(s.baud, 0);
}

static void test_spcr_pci_function(void **state)
{
	uint32_t len = build(2, SPCR_LEN_MIN);

	put64(tbl + SPCR_BASE_ADDRESS + ACPI_GAS_ADDRESS, 0);
	put16(tbl + SPCR_PCI_DEVICE_ID, 0x0002);
	put16(tbl + SPCR_PCI_VENDOR_ID, 0x1b36);
	tbl[SPCR_PCI_BUS] = 0;
	tbl[SPCR_PCI_DEVICE] = 3;
	tbl[SPCR_PCI_FUNCTION] = 1;
	tbl[SPCR_PCI_SEGMENT] = 0;
	fix_checksum(len);
	/* The BAR gives the address: 0 in the table is fine here. */
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_true(s.pci);
	assert_int_equal(s.pci_vendor, 0x1b36);
	assert_int_equal(s.pci_device, 0x0002);
	assert_int_equal(s.pci_devfn, 3 << 3 | 1);
	tbl[SPCR_PCI_DEVICE] = 32;
	fix_checksum(len);
	expect_reject(len, "PCI device 32");
	tbl[SPCR_PCI_DEVICE] = 3;
	tbl[SPCR_PCI_FUNCTION] = 8;
	fix_checksum(len);
	expect_reject(len, "function 8");
}

static void test_spcr_revisions_clock_and_precise_baud(void **state)
{
	uint32_t len = build(3, SPCR_LEN_MIN);

	put32(tbl + SPCR_UART_CLOCK, 48000000);
	fix_checksum(len);
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_int_equal(s.clock_hz, 48000000);
	/* Revision 2 has no clock field: the same bytes are reserved. */
	tbl[8] = 2;
	fix_checksum(len);
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_int_equal(s.clock_hz, 0);
	len = build(4, SPCR_LEN_REV4);
	put32(tbl + SPCR_PRECISE_BAUD, 1500000);
	fix_checksum(len);
	assert_int_equal(spcr_parse(tbl, len, &s), 0);
	assert_int_equal(s.baud, 1500000);
	/* Revision 4 needs its own fields. */
	len = build(4, SPCR_LEN_MIN);
	expect_reject(len, "too short for revision 4");
}

static void test_spcr_rejects(void **state)
{
	uint32_t len;

	expect_reject(build(2, 60), "length 60 too short");
	len = build(2, SPCR_LEN_MIN);
	assert_int_equal(spcr_parse(tbl, len - 1, &s), -EINVAL);
	assert_non_null(strstr(s.reason, "header length 80, table 79"));
	len = build(2, SPCR_LEN_MIN);
	tbl[20] ^= 1;
	expect_reject(len, "checksum bad");
	len = build(2, SPCR_LEN_MIN);
	memcpy(tbl, "DBG2", 4);
	fix_checksum(len);
	expect_reject(len, "not an SPCR");
	len = build(2, SPCR_LEN_MIN);
	tbl[SPCR_INTERFACE_TYPE] = 0x03; /* ARM PL011 */
	fix_checksum(len);
	expect_reject(len, "interface type 0x03 is not a 16550");
	len = build(2, SPCR_LEN_MIN);
	put64(tbl + SPCR_BASE_ADDRESS + ACPI_GAS_ADDRESS, 0);
	fix_checksum(len);
	expect_reject(len, "address 0");
	len = build(2, SPCR_LEN_MIN);
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_SPACE_ID] = 2; /* PCI config */
	fix_checksum(len);
	expect_reject(len, "address space 2");
	len = build(2, SPCR_LEN_MIN);
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_ACCESS_SIZE] = ACPI_GAS_ACCESS_DWORD;
	fix_checksum(len);
	expect_reject(len, "I/O access size 3");
	len = build(2, SPCR_LEN_MIN);
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_SPACE_ID] = ACPI_GAS_SPACE_MEMORY;
	tbl[SPCR_BASE_ADDRESS + ACPI_GAS_ACCESS_SIZE] = 2;
	fix_checksum(len);
	expect_reject(len, "memory access size 2");
	len = build(2, SPCR_LEN_MIN);
	tbl[SPCR_BAUD_RATE] = 5;
	fix_checksum(len);
	expect_reject(len, "baud rate code 5");
	len = build(2, SPCR_LEN_MIN);
	put64(tbl + SPCR_BASE_ADDRESS + ACPI_GAS_ADDRESS, 0xfffc);
	fix_checksum(len);
	expect_reject(len, "I/O port 0xfffc");
	assert_int_equal(spcr_parse(tbl, 10, &s), -EINVAL);
}

/* ---- a fake 16550 behind the seam --------------------------------------- */

enum path { PATH_IO, PATH_MMIO8, PATH_MMIO32 };

static struct {
	enum path path;
	uint64_t base;
	bool present;
	bool thre_stuck; /* the transmitter never empties */
	int map_err;
	uint8_t lcr, scr, dll, dlm, ier;
	unsigned int dll_writes;
	char out[64];
	size_t out_len;
	int rx; /* -1: nothing received */
	uint64_t now;
} fake;

static void fake_reset(enum path path, uint64_t base)
{
	memset(&fake, 0, sizeof(fake));
	fake.path = path;
	fake.base = base;
	fake.present = true;
	fake.rx = -1;
}

/* Register index for an access, or -1 (and a test failure) for a bad one. */
static int fake_reg(enum path path, uint64_t addr)
{
	unsigned int stride = path == PATH_MMIO32 ? 4 : 1;

	if (path != fake.path) {
		fail_msg("access by path %d, UART uses %d", path, fake.path);
	}
	if (addr < fake.base || addr >= fake.base + 8 * stride ||
	    (addr - fake.base) % stride) {
		fail_msg("access at 0x%llx outside the UART",
			 (unsigned long long)addr);
	}
	return (int)((addr - fake.base) / stride);
}

static uint8_t fake_read(enum path path, uint64_t addr)
{
	int reg = fake_reg(path, addr);
	bool dlab = fake.lcr & 0x80;

	if (!fake.present) {
		return 0xff;
	}
	switch (reg) {
	case 0:
		if (dlab) {
			return fake.dll;
		}
		if (fake.rx >= 0) {
			int c = fake.rx;

			fake.rx = -1;
			return (uint8_t)c;
		}
		return 0;
	case 1:
		return dlab ? fake.dlm : fake.ier;
	case 3:
		return fake.lcr;
	case 5:
		return (uint8_t)((fake.thre_stuck ? 0 : 0x60) |
				 (fake.rx >= 0 ? 1 : 0));
	case 7:
		return fake.scr;
	default:
		return 0;
	}
}

static void fake_write(enum path path, uint64_t addr, uint8_t val)
{
	int reg = fake_reg(path, addr);
	bool dlab = fake.lcr & 0x80;

	if (!fake.present) {
		return;
	}
	switch (reg) {
	case 0:
		if (dlab) {
			fake.dll = val;
			fake.dll_writes++;
		} else if (fake.out_len < sizeof(fake.out) - 1) {
			fake.out[fake.out_len++] = (char)val;
		}
		break;
	case 1:
		if (dlab) {
			fake.dlm = val;
		} else {
			fake.ier = val;
		}
		break;
	case 3:
		fake.lcr = val;
		break;
	case 7:
		fake.scr = val;
		break;
	default:
		break;
	}
}

uint8_t hw_io_read8(uint16_t port)
{
	return fake_read(PATH_IO, port);
}

void hw_io_write8(uint16_t port, uint8_t val)
{
	fake_write(PATH_IO, port, val);
}

uint8_t hw_mmio_read8(uint64_t pa)
{
	return fake_read(PATH_MMIO8, pa);
}

void hw_mmio_write8(uint64_t pa, uint8_t val)
{
	fake_write(PATH_MMIO8, pa, val);
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	return fake_read(PATH_MMIO32, pa);
}

void hw_mmio_write32(uint64_t pa, uint32_t val)
{
	if (val > 0xff) {
		fail_msg("dword write 0x%x to a byte register", val);
	}
	fake_write(PATH_MMIO32, pa, (uint8_t)val);
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	unsigned int stride = fake.path == PATH_MMIO32 ? 4 : 1;

	if (fake.map_err) {
		return fake.map_err;
	}
	assert_int_equal(pa, fake.base);
	assert_int_equal(len, 8 * stride);
	return 0;
}

/* Time moves 1 us per look, so every deadline passes. */
uint64_t hw_now_ns(void)
{
	fake.now += 1000;
	return fake.now;
}

void hw_relax(void)
{
}

static struct uart u;

static void check_uart(enum uart_access access, enum path path, uint64_t base)
{
	struct uart_config cfg = {access, base, 9600, 0};

	fake_reset(path, base);
	assert_int_equal(uart_init(&u, &cfg), 0);
	assert_true(u.present);
	/* 1.8432 MHz / (16 * 9600) = 12; 8N1 after the divisor. */
	assert_int_equal(fake.dll, 12);
	assert_int_equal(fake.dlm, 0);
	assert_int_equal(fake.lcr, 0x03);
	uart_write(&u, "a\nb", 3);
	assert_string_equal(fake.out, "a\r\nb");
	assert_int_equal(uart_getc(&u), -1);
	fake.rx = 'x';
	assert_int_equal(uart_getc(&u), 'x');
}

static void test_uart_paths(void **state)
{
	check_uart(UART_ACCESS_IO, PATH_IO, 0x2f8);
	check_uart(UART_ACCESS_MMIO8, PATH_MMIO8, 0xfe030000);
	check_uart(UART_ACCESS_MMIO32, PATH_MMIO32, 0xfe031000);
}

static void test_uart_absent_is_skipped(void **state)
{
	struct uart_config cfg = {UART_ACCESS_IO, 0x3f8, 115200, 0};

	fake_reset(PATH_IO, 0x3f8);
	fake.present = false;
	assert_int_equal(uart_init(&u, &cfg), -ENODEV);
	assert_false(u.present);
	uart_write(&u, "x", 1);
	assert_int_equal(uart_getc(&u), -1);
}

static void test_uart_stuck_transmitter_times_out(void **state)
{
	struct uart_config cfg = {UART_ACCESS_MMIO8, 0xfe030000, 115200, 0};

	fake_reset(PATH_MMIO8, 0xfe030000);
	fake.thre_stuck = true;
	assert_int_equal(uart_init(&u, &cfg), -ETIMEDOUT);
	assert_false(u.present);
}

static void test_uart_config_checks(void **state)
{
	struct uart_config cfg = {UART_ACCESS_IO, 0xfffa, 115200, 0};
	char desc[48];

	fake_reset(PATH_IO, 0xfffa);
	assert_int_equal(uart_init(&u, &cfg), -EINVAL);
	/* 1 baud needs a divisor of 115200: beyond the 16-bit latch. */
	cfg.base = 0x3f8;
	cfg.baud = 1;
	fake_reset(PATH_IO, 0x3f8);
	assert_int_equal(uart_init(&u, &cfg), -EINVAL);
	/* Baud 0 keeps the firmware's divisor; a 48 MHz clock divides. */
	cfg.baud = 0;
	assert_int_equal(uart_init(&u, &cfg), 0);
	assert_int_equal(fake.dll_writes, 0);
	cfg.baud = 1500000;
	cfg.clock_hz = 48000000;
	assert_int_equal(uart_init(&u, &cfg), 0);
	assert_int_equal(fake.dll, 2);
	cfg = (struct uart_config){UART_ACCESS_MMIO32, 0xfe030000, 0, 0};
	fake_reset(PATH_MMIO32, 0xfe030000);
	fake.map_err = -EINVAL;
	assert_int_equal(uart_init(&u, &cfg), -EINVAL);
	uart_describe(&cfg, desc, sizeof(desc));
	assert_string_equal(desc, "mmio32 0xfe030000 firmware baud");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spcr_io_com2),
		cmocka_unit_test(test_spcr_mmio_widths),
		cmocka_unit_test(test_spcr_pci_function),
		cmocka_unit_test(test_spcr_revisions_clock_and_precise_baud),
		cmocka_unit_test(test_spcr_rejects),
		cmocka_unit_test(test_uart_paths),
		cmocka_unit_test(test_uart_absent_is_skipped),
		cmocka_unit_test(test_uart_stuck_transmitter_times_out),
		cmocka_unit_test(test_uart_config_checks),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
