#include "drivers/acpi/spcr.h"

#include <stdarg.h>

#include "drivers/acpi/acpi.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/string.h"

static int spcr_reject(struct spcr *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int spcr_reject(struct spcr *s, const char *fmt, ...)
{
	va_list ap;

	s->usable = false;
	va_start(ap, fmt);
	fmt_vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The Baud Rate field's codes (SPCR table 1); 0 keeps the firmware's rate. */
static int spcr_baud(uint8_t code, uint32_t *baud)
{
	switch (code) {
	case 0:
		*baud = 0;
		return 0;
	case 3:
		*baud = 9600;
		return 0;
	case 4:
		*baud = 19200;
		return 0;
	case 6:
		*baud = 57600;
		return 0;
	case 7:
		*baud = 115200;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * How the registers are reached, from the Generic Address Structure: an
 * I/O port with byte access, or memory with byte or dword access.  Legacy
 * (0) access sizes fall back on the register bit width.
 */
static int spcr_gas_access(struct spcr *s, const uint8_t *gas)
{
	uint8_t space = gas[ACPI_GAS_SPACE_ID];
	uint8_t width = gas[ACPI_GAS_BIT_WIDTH];
	uint8_t size = gas[ACPI_GAS_ACCESS_SIZE];

	if (size == ACPI_GAS_ACCESS_LEGACY) {
		size = width == 32 ? ACPI_GAS_ACCESS_DWORD
				   : ACPI_GAS_ACCESS_BYTE;
	}
	if (space == ACPI_GAS_SPACE_IO) {
		if (size != ACPI_GAS_ACCESS_BYTE) {
			return spcr_reject(s, "I/O access size %u, not bytes",
					   gas[ACPI_GAS_ACCESS_SIZE]);
		}
		s->access = SPCR_ACCESS_IO;
		return 0;
	}
	if (space != ACPI_GAS_SPACE_MEMORY) {
		return spcr_reject(s, "address space %u, not memory or I/O",
				   space);
	}
	if (size == ACPI_GAS_ACCESS_BYTE) {
		s->access = SPCR_ACCESS_MMIO8;
	} else if (size == ACPI_GAS_ACCESS_DWORD) {
		s->access = SPCR_ACCESS_MMIO32;
	} else {
		return spcr_reject(s,
				   "memory access size %u, not byte or dword",
				   gas[ACPI_GAS_ACCESS_SIZE]);
	}
	return 0;
}

static int spcr_pci(struct spcr *s, const uint8_t *p)
{
	uint8_t dev = p[SPCR_PCI_DEVICE], fn = p[SPCR_PCI_FUNCTION];

	s->pci_device = acpi_get16(p + SPCR_PCI_DEVICE_ID);
	s->pci = s->pci_device != SPCR_PCI_NONE;
	if (!s->pci) {
		return 0;
	}
	if (dev > 31 || fn > 7) {
		return spcr_reject(s, "PCI device %u function %u out of range",
				   dev, fn);
	}
	s->pci_vendor = acpi_get16(p + SPCR_PCI_VENDOR_ID);
	s->pci_segment = p[SPCR_PCI_SEGMENT];
	s->pci_bus = p[SPCR_PCI_BUS];
	s->pci_devfn = (uint8_t)(dev << 3 | fn);
	return 0;
}

int spcr_parse(const void *tbl, uint32_t len, struct spcr *s)
{
	const uint8_t *p = tbl;
	uint8_t rev;
	int ret;

	memset(s, 0, sizeof(*s));
	if (len < ACPI_HDR_LEN || memcmp(p, "SPCR", ACPI_SIG_LEN) != 0) {
		return spcr_reject(s, "not an SPCR table");
	}
	if (acpi_get32(p + ACPI_HDR_LENGTH) != len) {
		return spcr_reject(s, "header length %u, table %u bytes",
				   acpi_get32(p + ACPI_HDR_LENGTH), len);
	}
	rev = p[ACPI_HDR_REVISION];
	if (len < SPCR_LEN_MIN || (rev >= 4 && len < SPCR_LEN_REV4)) {
		return spcr_reject(s, "length %u too short for revision %u",
				   len, rev);
	}
	if (!acpi_checksum_ok(p, len)) {
		return spcr_reject(s, "checksum bad");
	}
	s->interface_type = p[SPCR_INTERFACE_TYPE];
	if (s->interface_type != SPCR_TYPE_16550 &&
	    s->interface_type != SPCR_TYPE_16450 &&
	    s->interface_type != SPCR_TYPE_16550_GAS) {
		return spcr_reject(s, "interface type 0x%02x is not a 16550",
				   s->interface_type);
	}
	ret = spcr_gas_access(s, p + SPCR_BASE_ADDRESS);
	if (ret) {
		return ret;
	}
	s->address = acpi_get64(p + SPCR_BASE_ADDRESS + ACPI_GAS_ADDRESS);
	if (spcr_baud(p[SPCR_BAUD_RATE], &s->baud)) {
		return spcr_reject(s, "baud rate code %u unknown",
				   p[SPCR_BAUD_RATE]);
	}
	if (rev >= 3) {
		s->clock_hz = acpi_get32(p + SPCR_UART_CLOCK);
	}
	if (rev >= 4 && acpi_get32(p + SPCR_PRECISE_BAUD)) {
		s->baud = acpi_get32(p + SPCR_PRECISE_BAUD);
	}
	ret = spcr_pci(s, p);
	if (ret) {
		return ret;
	}
	if (!s->pci && s->address == 0) {
		return spcr_reject(s, "address 0");
	}
	if (s->access == SPCR_ACCESS_IO && s->address > 0xfff8) {
		return spcr_reject(s, "I/O port 0x%llx out of range",
				   (unsigned long long)s->address);
	}
	s->usable = true;
	return 0;
}
