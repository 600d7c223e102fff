#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * The Serial Port Console Redirection table (Microsoft, "Serial Port Console
 * Redirection Table", revisions 1 to 4): the UART the firmware redirects its
 * console to.  Only the 16550 family is accepted, as interface types
 * 0x00 (full 16550), 0x01 (16450 subset of the 16550) and 0x12
 * (16550-compatible, register layout in the Generic Address Structure);
 * see docs/console.md.
 */

#define SPCR_LEN_MIN 80U /* revisions 1 to 3 */
#define SPCR_LEN_REV4 \
	88U /* revision 4 adds the precise baud rate and a namespace string */

/* Field offsets (SPCR revision 4, table 1). */
#define SPCR_INTERFACE_TYPE 36U
#define SPCR_BASE_ADDRESS                                  \
	40U /* ACPI 6.4, 5.2.3.2 Generic Address Structure \
	     */
#define SPCR_BAUD_RATE	   58U
#define SPCR_PCI_DEVICE_ID 64U
#define SPCR_PCI_VENDOR_ID 66U
#define SPCR_PCI_BUS	   68U
#define SPCR_PCI_DEVICE	   69U
#define SPCR_PCI_FUNCTION  70U
#define SPCR_PCI_SEGMENT   75U
#define SPCR_UART_CLOCK	   76U /* revision 3 and later; 0: unknown */
#define SPCR_PRECISE_BAUD                                  \
	80U /* revision 4 and later; 0: use SPCR_BAUD_RATE \
	     */

/* Generic Address Structure fields, from its start (ACPI 6.4, table 5.1). */
#define ACPI_GAS_SPACE_ID      0U
#define ACPI_GAS_BIT_WIDTH     1U
#define ACPI_GAS_ACCESS_SIZE   3U
#define ACPI_GAS_ADDRESS       4U
#define ACPI_GAS_SPACE_MEMORY  0U
#define ACPI_GAS_SPACE_IO      1U
#define ACPI_GAS_ACCESS_LEGACY 0U
#define ACPI_GAS_ACCESS_BYTE   1U
#define ACPI_GAS_ACCESS_DWORD  3U

#define SPCR_TYPE_16550	    0x00U
#define SPCR_TYPE_16450	    0x01U
#define SPCR_TYPE_16550_GAS 0x12U

/* PCI Device ID 0xffff: the UART is not a PCI function. */
#define SPCR_PCI_NONE 0xffffU

#define SPCR_REASON_LEN 96U

enum spcr_access {
	SPCR_ACCESS_IO,
	SPCR_ACCESS_MMIO8,
	SPCR_ACCESS_MMIO32,
};

/*
 * The parsed table.  usable is false when it must not be used; reason then
 * says why.  For a PCI function the address comes from its BAR: the
 * table's address is kept only for the log and may be 0.
 */
struct spcr {
	bool usable;
	char reason[SPCR_REASON_LEN];
	uint8_t interface_type;
	enum spcr_access access;
	uint64_t address;
	uint32_t baud;	   /* 0: as the firmware left it */
	uint32_t clock_hz; /* 0: not given */
	bool pci;
	uint16_t pci_vendor;
	uint16_t pci_device;
	uint16_t pci_segment;
	uint8_t pci_bus;
	uint8_t pci_devfn;
};

/*
 * Parses an SPCR table of len bytes.  0 with s->usable set, or -EINVAL
 * with s->reason naming the first fault: a length that is not the header's
 * or is too short for the revision, a bad checksum, an interface type
 * outside the 16550 family, an address space, width or baud rate code this
 * driver cannot use, an address of 0 for a UART that is not a PCI
 * function, or a PCI device or function number out of range.
 */
int spcr_parse(const void *tbl, uint32_t len, struct spcr *s);
