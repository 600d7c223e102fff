/*
 * libFuzzer harness for the SPCR parser (drivers/acpi/spcr.c), then the
 * 16550 bring-up (drivers/serial/uart16550.c) with what it returned,
 * against registers whose reads come from the input.  Inputs whose last
 * byte is odd get a correct signature, length and checksum first, so that
 * the fuzzer reaches the fields behind those checks.  Any violation of
 * the parser's promises traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/acpi/spcr.h"
#include "drivers/hw.h"
#include "drivers/serial/uart16550.h"
#include "lib/errno.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                          \
	do {                              \
		if (!(x)) {               \
			__builtin_trap(); \
		}                         \
	} while (0)

#define TABLE_MAX 4096

static const uint8_t *regs;
static size_t regs_len, reg_next;
static uint64_t now;

static uint8_t next_reg(void)
{
	return regs_len ? regs[reg_next++ % regs_len] : 0xff;
}

uint8_t hw_io_read8(uint16_t port)
{
	return next_reg();
}

void hw_io_write8(uint16_t port, uint8_t val)
{
}

uint8_t hw_mmio_read8(uint64_t pa)
{
	return next_reg();
}

void hw_mmio_write8(uint64_t pa, uint8_t val)
{
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	return next_reg();
}

void hw_mmio_write32(uint64_t pa, uint32_t val)
{
	CHECK(val <= 0xff);
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	CHECK(len == 8 || len == 32);
	return pa & 0x1000 ? -EINVAL : 0;
}

uint64_t hw_now_ns(void)
{
	return now += 100000;
}

void hw_relax(void)
{
}

static void make_plausible(uint8_t *t, size_t len)
{
	uint8_t sum = 0;
	size_t i;

	memcpy(t, "SPCR", 4);
	t[4] = (uint8_t)len;
	t[5] = (uint8_t)(len >> 8);
	t[6] = 0;
	t[7] = 0;
	t[9] = 0;
	for (i = 0; i < len; i++) {
		sum = (uint8_t)(sum + t[i]);
	}
	t[9] = (uint8_t)-sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t t[TABLE_MAX];
	static const enum uart_access access[] = {
		[SPCR_ACCESS_IO] = UART_ACCESS_IO,
		[SPCR_ACCESS_MMIO8] = UART_ACCESS_MMIO8,
		[SPCR_ACCESS_MMIO32] = UART_ACCESS_MMIO32,
	};
	struct uart_config cfg;
	struct spcr s;
	struct uart u;
	size_t len = size < TABLE_MAX ? size : TABLE_MAX;
	int ret;

	memcpy(t, data, len);
	if (len >= 36 && (data[size - 1] & 1)) {
		make_plausible(t, len);
	}
	ret = spcr_parse(t, (uint32_t)len, &s);
	CHECK((ret == 0) == s.usable);
	CHECK(ret == 0 || ret == -EINVAL);
	CHECK(memchr(s.reason, '\0', sizeof(s.reason)));
	if (!s.usable) {
		CHECK(s.reason[0]);
		return 0;
	}
	CHECK(!s.reason[0]);
	CHECK(len >= SPCR_LEN_MIN);
	CHECK(s.interface_type == SPCR_TYPE_16550 ||
	      s.interface_type == SPCR_TYPE_16450 ||
	      s.interface_type == SPCR_TYPE_16550_GAS);
	CHECK(s.access <= SPCR_ACCESS_MMIO32);
	CHECK(s.pci || s.address != 0);
	CHECK(s.access != SPCR_ACCESS_IO || s.address <= 0xfff8);
	CHECK(!s.pci || s.pci_device != SPCR_PCI_NONE);
	/* The bring-up, with register reads taken from the table's bytes. */
	regs = data;
	regs_len = size;
	reg_next = 0;
	cfg = (struct uart_config){access[s.access], s.address, s.baud,
				   s.clock_hz};
	ret = uart_init(&u, &cfg);
	CHECK((ret == 0) == u.present);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENODEV ||
	      ret == -ETIMEDOUT);
	uart_write(&u, "ok\n", 3);
	uart_getc(&u);
	return 0;
}
