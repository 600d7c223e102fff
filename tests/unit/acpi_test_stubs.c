#include "tests/unit/acpi_test_stubs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"
#include "lib/log.h"

#define LOG_LINES    512
#define LOG_LINE_LEN 256

static char log_lines[LOG_LINES][LOG_LINE_LEN];
static unsigned int log_count;

void log_printf(enum log_level level, const char *subsys, const char *fmt, ...)
{
	char *line = log_lines[log_count % LOG_LINES];
	int n;
	va_list ap;

	n = snprintf(line, LOG_LINE_LEN, "%s: ", subsys);
	va_start(ap, fmt);
	vsnprintf(line + n, LOG_LINE_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	log_count++;
	if (getenv("ACPI_TEST_VERBOSE")) {
		fprintf(stderr, "log: %s\n", line);
	}
}

void log_set_level(enum log_level level)
{
}

void acpi_test_log_clear(void)
{
	log_count = 0;
}

bool acpi_test_log_has(const char *needle)
{
	unsigned int i, n = log_count < LOG_LINES ? log_count : LOG_LINES;

	for (i = 0; i < n; i++) {
		if (strstr(log_lines[i], needle)) {
			return true;
		}
	}
	return false;
}

static _Alignas(4096) uint8_t phys[ACPI_TEST_PHYS_SIZE];

void *acpi_test_phys(uint64_t pa)
{
	if (pa < ACPI_TEST_PHYS_BASE ||
	    pa - ACPI_TEST_PHYS_BASE >= ACPI_TEST_PHYS_SIZE) {
		abort(); /* a test bug, not a finding */
	}
	return &phys[pa - ACPI_TEST_PHYS_BASE];
}

void acpi_test_phys_clear(void)
{
	memset(phys, 0, sizeof(phys));
}

void *hw_phys_to_virt(uint64_t pa)
{
	if (pa < ACPI_TEST_PHYS_BASE ||
	    pa - ACPI_TEST_PHYS_BASE >= ACPI_TEST_PHYS_SIZE) {
		return NULL;
	}
	return &phys[pa - ACPI_TEST_PHYS_BASE];
}

#define PCI_FUNCS 64

static struct {
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
	uint8_t cfg[256];
} pci[PCI_FUNCS];
static unsigned int pci_count;

void acpi_test_pci_clear(void)
{
	pci_count = 0;
}

static uint8_t *pci_cfg(uint16_t seg, uint8_t bus, uint8_t devfn)
{
	unsigned int i;

	for (i = 0; i < pci_count; i++) {
		if (pci[i].seg == seg && pci[i].bus == bus &&
		    pci[i].devfn == devfn) {
			return pci[i].cfg;
		}
	}
	return NULL;
}

static uint8_t *pci_add(uint16_t seg, uint8_t bus, uint8_t devfn)
{
	uint8_t *cfg = pci_cfg(seg, bus, devfn);

	if (!cfg) {
		if (pci_count == PCI_FUNCS) {
			abort();
		}
		pci[pci_count].seg = seg;
		pci[pci_count].bus = bus;
		pci[pci_count].devfn = devfn;
		cfg = pci[pci_count++].cfg;
	}
	memset(cfg, 0, 256);
	cfg[0] = 0x86; /* vendor 0x8086 */
	cfg[1] = 0x80;
	return cfg;
}

void acpi_test_pci_add_endpoint(uint16_t seg, uint8_t bus, uint8_t devfn)
{
	pci_add(seg, bus, devfn);
}

void acpi_test_pci_add_bridge(uint16_t seg, uint8_t bus, uint8_t devfn,
			      uint8_t secondary, uint8_t subordinate)
{
	uint8_t *cfg = pci_add(seg, bus, devfn);

	cfg[0x0e] = 0x01;
	cfg[0x18] = bus;
	cfg[0x19] = secondary;
	cfg[0x1a] = subordinate;
}

void acpi_test_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn,
			  uint16_t off, uint8_t val)
{
	uint8_t *cfg = pci_cfg(seg, bus, devfn);

	if (!cfg || off >= 256) {
		abort();
	}
	cfg[off] = val;
}

uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	const uint8_t *cfg = pci_cfg(seg, bus, devfn);

	return cfg && off < 256 ? cfg[off] : 0xff;
}

uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint16_t)(hw_pci_read8(seg, bus, devfn, off) |
			  hw_pci_read8(seg, bus, devfn, off + 1) << 8);
}

uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint32_t)hw_pci_read16(seg, bus, devfn, off) |
	       (uint32_t)hw_pci_read16(seg, bus, devfn, off + 2) << 16;
}

#define MMIO_BLOCKS 16

static struct {
	uint64_t base;
	uint32_t ver;
	uint64_t cap;
} mmio[MMIO_BLOCKS];
static unsigned int mmio_count;

static struct {
	uint64_t base;
	int err;
} map_fail[MMIO_BLOCKS];
static unsigned int map_fail_count;

void acpi_test_mmio_clear(void)
{
	mmio_count = 0;
	map_fail_count = 0;
}

void acpi_test_mmio_add(uint64_t base, uint32_t ver, uint64_t cap)
{
	if (mmio_count == MMIO_BLOCKS) {
		abort();
	}
	mmio[mmio_count].base = base;
	mmio[mmio_count].ver = ver;
	mmio[mmio_count++].cap = cap;
}

void acpi_test_mmio_fail_map(uint64_t base, int err)
{
	if (map_fail_count == MMIO_BLOCKS) {
		abort();
	}
	map_fail[map_fail_count].base = base;
	map_fail[map_fail_count++].err = err;
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < map_fail_count; i++) {
		if (map_fail[i].base == pa) {
			return map_fail[i].err;
		}
	}
	return 0;
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	unsigned int i;

	for (i = 0; i < mmio_count; i++) {
		if (pa == mmio[i].base) {
			return mmio[i].ver;
		}
	}
	return UINT32_MAX;
}

uint64_t hw_mmio_read64(uint64_t pa)
{
	unsigned int i;

	for (i = 0; i < mmio_count; i++) {
		if (pa == mmio[i].base + 8) {
			return mmio[i].cap;
		}
	}
	return UINT64_MAX;
}
