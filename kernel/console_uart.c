#include <stdbool.h>
#include <stdint.h>

#include "drivers/acpi/acpi.h"
#include "drivers/acpi/spcr.h"
#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/pci_regs.h"
#include "drivers/serial/uart16550.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/string.h"

/*
 * Which serial line the console uses (docs/console.md, "Where the console
 * is"): console= on the command line, else the UART the ACPI SPCR table
 * names, else COM1.  A candidate that is malformed or does not answer is
 * skipped with a log line saying why; the choice is logged once and
 * shown by "version".
 */

#define COM1_PORT	  0x3f8
#define COM2_PORT	  0x2f8
#define CON_BAUD_DEFAULT  115200
#define CON_OPTION_MAX	  64
#define CON_OPTION_FIELDS 4

/* PCI Local Bus 3.0, 6.2.5.1: an I/O BAR's address is bits 31:2. */
#define PCI_BASE_ADDRESS_IO_MASK GENMASK32(31, 2)

/* A UART to try: its registers, or a PCI function whose BAR 0 has them. */
struct con_target {
	struct uart_config cfg;
	bool pci;
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
	uint32_t pci_id; /* vendor | device << 16 expected; 0: any */
};

static const struct uart_config com1 = {
	.access = UART_ACCESS_IO,
	.base = COM1_PORT,
	.baud = CON_BAUD_DEFAULT,
};

/* Splits s in place at commas into at most max fields; -E2BIG beyond. */
static int con_split_commas(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		if (n == max) {
			return -E2BIG;
		}
		f[n++] = s;
		s = strchr(s, ',');
		if (!s) {
			return n;
		}
		*s++ = '\0';
	}
}

static int con_parse_number(const char *s, unsigned long long max,
			    unsigned long long *out)
{
	if (fmt_parse_u64(s, out) || *out == 0 || *out > max) {
		return -EINVAL;
	}
	return 0;
}

/*
 * console=com1|com2, uart,io|mmio|mmio32,ADDR or pci,[SSSS:]BB:DD.F, each
 * optionally followed by ,BAUD.
 */
static int con_parse_option(char *v, struct con_target *t)
{
	static const char *const access[] = {
		[UART_ACCESS_IO] = "io",
		[UART_ACCESS_MMIO8] = "mmio",
		[UART_ACCESS_MMIO32] = "mmio32",
	};
	char *f[CON_OPTION_FIELDS];
	unsigned long long n;
	unsigned int seg, bus, devfn, i;
	int count, used;

	memset(t, 0, sizeof(*t));
	t->cfg.baud = CON_BAUD_DEFAULT;
	count = con_split_commas(v, f, CON_OPTION_FIELDS);
	if (count < 0) {
		return -EINVAL;
	}
	if (strcmp(f[0], "com1") == 0 || strcmp(f[0], "com2") == 0) {
		t->cfg.access = UART_ACCESS_IO;
		t->cfg.base = f[0][3] == '1' ? COM1_PORT : COM2_PORT;
		used = 1;
	} else if (strcmp(f[0], "uart") == 0 && count >= 3) {
		for (i = 0; i < 3; i++) {
			if (strcmp(f[1], access[i]) == 0) {
				break;
			}
		}
		if (i == 3 || con_parse_number(f[2], UINT64_MAX, &n)) {
			return -EINVAL;
		}
		t->cfg.access = (enum uart_access)i;
		t->cfg.base = n;
		used = 3;
	} else if (strcmp(f[0], "pci") == 0 && count >= 2) {
		if (con_parse_bdf(f[1], &seg, &bus, &devfn)) {
			return -EINVAL;
		}
		t->pci = true;
		t->seg = (uint16_t)seg;
		t->bus = (uint8_t)bus;
		t->devfn = (uint8_t)devfn;
		used = 2;
	} else {
		return -EINVAL;
	}
	if (count == used + 1) {
		if (con_parse_number(f[used], UART_CLOCK_PC / 16, &n)) {
			return -EINVAL;
		}
		t->cfg.baud = (uint32_t)n;
	} else if (count != used) {
		return -EINVAL;
	}
	return 0;
}

static void con_from_spcr(const struct spcr *s, struct con_target *t)
{
	static const enum uart_access access[] = {
		[SPCR_ACCESS_IO] = UART_ACCESS_IO,
		[SPCR_ACCESS_MMIO8] = UART_ACCESS_MMIO8,
		[SPCR_ACCESS_MMIO32] = UART_ACCESS_MMIO32,
	};

	memset(t, 0, sizeof(*t));
	t->cfg.access = access[s->access];
	t->cfg.base = s->address;
	t->cfg.baud = s->baud;
	t->cfg.clock_hz = s->clock_hz;
	t->pci = s->pci;
	t->seg = s->pci_segment;
	t->bus = s->pci_bus;
	t->devfn = s->pci_devfn;
	t->pci_id = (uint32_t)s->pci_vendor | (uint32_t)s->pci_device << 16;
}

/*
 * The registers of a PCI UART: BAR 0, an I/O port, or memory accessed as
 * t->cfg says (bytes unless SPCR gave dwords).  Turns the BAR's decoding
 * on if the firmware left it off.
 */
static int con_pci_bar(struct con_target *t, char *why, size_t size)
{
	uint32_t id, bar, enable;
	uint16_t cmd;

	id = hw_pci_read32(t->seg, t->bus, t->devfn, PCI_VENDOR_ID);
	if ((id & 0xffff) == PCI_VENDOR_ID_NONE) {
		fmt_snprintf(why, size, "no such function");
		return -ENODEV;
	}
	if (t->pci_id && id != t->pci_id) {
		fmt_snprintf(why, size, "IDs %04x:%04x, SPCR says %04x:%04x",
			     id & 0xffff, id >> 16, t->pci_id & 0xffff,
			     t->pci_id >> 16);
		return -ENODEV;
	}
	if (field_get32(
		    PCI_HEADER_TYPE_LAYOUT,
		    hw_pci_read8(t->seg, t->bus, t->devfn, PCI_HEADER_TYPE)) !=
	    PCI_HEADER_TYPE_NORMAL) {
		fmt_snprintf(why, size, "not an endpoint");
		return -ENODEV;
	}
	bar = hw_pci_read32(t->seg, t->bus, t->devfn, PCI_BASE_ADDRESS_0);
	if (bar & PCI_BASE_ADDRESS_SPACE_IO) {
		t->cfg.access = UART_ACCESS_IO;
		t->cfg.base = bar & PCI_BASE_ADDRESS_IO_MASK;
		enable = PCI_COMMAND_IO;
	} else {
		if (t->cfg.access == UART_ACCESS_IO) {
			t->cfg.access = UART_ACCESS_MMIO8;
		}
		t->cfg.base = bar & PCI_BASE_ADDRESS_MEM_MASK;
		if (field_get32(PCI_BASE_ADDRESS_MEM_TYPE, bar) ==
		    PCI_BASE_ADDRESS_MEM_TYPE_64) {
			t->cfg.base |= (uint64_t)hw_pci_read32(
					       t->seg, t->bus, t->devfn,
					       PCI_BASE_ADDRESS_0 + 4)
				       << 32;
		}
		enable = PCI_COMMAND_MEMORY;
	}
	if (!t->cfg.base) {
		fmt_snprintf(why, size, "BAR 0 unassigned");
		return -ENODEV;
	}
	cmd = hw_pci_read16(t->seg, t->bus, t->devfn, PCI_COMMAND);
	if (!(cmd & enable)) {
		hw_pci_write16(t->seg, t->bus, t->devfn, PCI_COMMAND,
			       (uint16_t)(cmd | enable));
	}
	return 0;
}

static const char *con_uart_error(int err)
{
	switch (err) {
	case -ENODEV:
		return "scratch register test failed";
	case -ETIMEDOUT:
		return "transmitter never empties";
	default:
		return "registers or baud rate unusable";
	}
}

/* Brings the candidate up as the console, or logs why not. */
static bool con_try(struct kernel *k, struct con_target *t, const char *source)
{
	char where[32] = "", why[64], desc[48];
	int ret;

	if (t->pci) {
		fmt_snprintf(where, sizeof(where), "pci " PCI_BDF_FMT " ",
			     PCI_BDF_ARGS(t->seg, t->bus, t->devfn));
		if (con_pci_bar(t, why, sizeof(why))) {
			log_warn("console", "%s: %sskipped: %s", source, where,
				 why);
			return false;
		}
	}
	ret = uart_init(&k->uart, &t->cfg);
	uart_describe(&t->cfg, desc, sizeof(desc));
	if (ret) {
		log_warn("console", "%s: %suart %s skipped: %s (%s)", source,
			 where, desc, con_uart_error(ret), errno_name(ret));
		return false;
	}
	fmt_snprintf(k->console_desc, sizeof(k->console_desc), "%suart %s (%s)",
		     where, desc, source);
	return true;
}

static bool con_try_cmdline(struct kernel *k)
{
	char v[CON_OPTION_MAX], text[CON_OPTION_MAX + 8];
	struct con_target t;
	int ret;

	ret = cmdline_get(k->boot->cmdline, "console", v, sizeof(v));
	if (ret == -ENOENT) {
		return false;
	}
	if (ret) {
		log_err("console", "console= unusable: %s", errno_name(ret));
		return false;
	}
	fmt_snprintf(text, sizeof(text), "console=%s", v);
	if (con_parse_option(v, &t)) {
		log_err("console",
			"%s not understood (com1, com2, uart,io|mmio|mmio32,ADDR or pci,BB:DD.F, then ,BAUD)",
			text);
		return false;
	}
	return con_try(k, &t, text);
}

static bool con_try_spcr(struct kernel *k)
{
	struct con_target t;
	struct spcr s;
	const void *tbl;
	uint32_t len;

	tbl = acpi_find(&k->acpi, "SPCR", 0, &len);
	if (!tbl) {
		return false;
	}
	if (spcr_parse(tbl, len, &s)) {
		log_warn("console", "ACPI SPCR rejected: %s", s.reason);
		return false;
	}
	con_from_spcr(&s, &t);
	return con_try(k, &t, "ACPI SPCR");
}

void console_select(struct kernel *k)
{
	struct con_target t = {.cfg = com1};

	if (!con_try_cmdline(k) && !con_try_spcr(k) &&
	    !con_try(k, &t, "COM1, the default")) {
		return;
	}
	/* The first line on the UART: the early log comes out before it. */
	log_info("console", "%s", k->console_desc);
}

void console_emergency(struct kernel *k)
{
	if (!k->uart.present && uart_init(&k->uart, &com1) == 0) {
		log_err("console",
			"stopping before a console was chosen: on COM1");
	}
}
