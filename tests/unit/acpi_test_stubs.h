#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Stand-ins for the kernel log and the hw seam used by the ACPI and DMAR
 * host tests (test_acpi.c, test_dmar.c).
 */

/* Log capture: every log_printf() line, "subsys: message". */
void acpi_test_log_clear(void);
bool acpi_test_log_has(const char *needle);

/*
 * Physical memory: an arena of ACPI_TEST_PHYS_SIZE bytes at physical
 * address ACPI_TEST_PHYS_BASE; hw_phys_to_virt() returns NULL elsewhere.
 * acpi_test_phys_clear() zeroes it.
 */
#define ACPI_TEST_PHYS_BASE 0x7f000000ULL
#define ACPI_TEST_PHYS_SIZE 0x140000ULL
void *acpi_test_phys(uint64_t pa);
void acpi_test_phys_clear(void);

/*
 * PCI configuration space: functions that were not added read all-ones.
 * A bridge has a type 1 header with the given bus numbers.
 */
void acpi_test_pci_clear(void);
void acpi_test_pci_add_endpoint(uint16_t seg, uint8_t bus, uint8_t devfn);
void acpi_test_pci_add_bridge(uint16_t seg, uint8_t bus, uint8_t devfn,
			      uint8_t secondary, uint8_t subordinate);
void acpi_test_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn,
			  uint16_t off, uint8_t val);

/*
 * MMIO: register blocks answering at base (VER at 0x0, CAP at 0x8), and
 * hw_mmio_map() results.  Addresses with no block read all-ones; mapping
 * them succeeds unless acpi_test_mmio_fail_map() named them.
 */
void acpi_test_mmio_clear(void);
void acpi_test_mmio_add(uint64_t base, uint32_t ver, uint64_t cap);
void acpi_test_mmio_fail_map(uint64_t base, int err);
