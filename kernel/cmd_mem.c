#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/iommu.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/string.h"

/*
 * The mem command: the memory map summary, and physical buffers for DMA
 * tests.  fill and read touch only buffers from "mem alloc", so a typo cannot
 * scribble over page tables, the kernel or firmware memory.
 */

#define PAGE_SIZE UINT64_C(4096)
/*
 * Filling a buffer of up to 1 TiB can take seconds: it gives the
 * scheduler a turn (sched_yield()) between chunks of this size.
 */
#define MEM_FILL_CHUNK (UINT64_C(1) << 18)
#define MEM_READ_MAX   4096U
#define MEM_ALIGN_MAX  (UINT64_C(1) << 30)

static const char *mem_type_name(uint32_t type)
{
	static const char *const names[] = {
		[BOOT_MEM_RESERVED] = "reserved",
		[BOOT_MEM_LOADER_CODE] = "loader-code",
		[BOOT_MEM_LOADER_DATA] = "loader-data",
		[BOOT_MEM_BS_CODE] = "boot-code",
		[BOOT_MEM_BS_DATA] = "boot-data",
		[BOOT_MEM_RT_CODE] = "runtime-code",
		[BOOT_MEM_RT_DATA] = "runtime-data",
		[BOOT_MEM_CONVENTIONAL] = "conventional",
		[BOOT_MEM_UNUSABLE] = "unusable",
		[BOOT_MEM_ACPI_RECLAIM] = "acpi-reclaim",
		[BOOT_MEM_ACPI_NVS] = "acpi-nvs",
		[BOOT_MEM_MMIO] = "mmio",
		[BOOT_MEM_MMIO_PORT] = "mmio-port",
		[BOOT_MEM_PAL_CODE] = "pal-code",
		[BOOT_MEM_PERSISTENT] = "persistent",
	};

	return type < ARRAY_SIZE(names) ? names[type] : "other";
}

/* One line per memory type: regions and KiB, then the allocator's figures. */
static int mem_summary(void)
{
	const struct kernel *k = kernel_get();
	const struct boot_info *bi = k->boot;
	uint32_t type;
	size_t i;

	for (type = 0; type <= BOOT_MEM_PERSISTENT; type++) {
		uint64_t pages = 0, regions = 0;

		for (i = 0; i < bi->mem_count; i++) {
			if (bi->mem[i].type == type) {
				regions++;
				pages += bi->mem[i].pages;
			}
		}
		if (regions) {
			con_printf("%-13s regions %llu size %llu KiB\n",
				   mem_type_name(type),
				   (unsigned long long)regions,
				   (unsigned long long)(pages * 4));
		}
	}
	con_printf("free pages %llu of %llu (%llu KiB free)\n",
		   (unsigned long long)k->pages.free_pages,
		   (unsigned long long)k->pages.total_pages,
		   (unsigned long long)(k->pages.free_pages * 4));
	con_printf("heap objects %llu in %llu pages\n",
		   (unsigned long long)k->heap.live_objects,
		   (unsigned long long)k->heap.pages);
	return 0;
}

static void fill(uint64_t hpa, uint64_t len, uint8_t byte)
{
	uint64_t n;

	for (; len; hpa += n, len -= n) {
		n = len < MEM_FILL_CHUNK ? len : MEM_FILL_CHUNK;
		memset((void *)hpa, byte, n);
		sched_yield(kernel_get());
	}
}

/* The mem alloc buffer holding all of [hpa, hpa + len), or NULL. */
static struct mem_buffer *find_buffer(unsigned long long hpa,
				      unsigned long long len)
{
	struct mem_buffer *b = kernel_get()->buffers;
	unsigned int i;

	for (i = 0; i < MEM_BUFFERS_MAX; i++, b++) {
		if (b->len && hpa >= hpa_val(b->hpa) && len <= b->len &&
		    hpa - hpa_val(b->hpa) <= b->len - len) {
			return b;
		}
	}
	return NULL;
}

static int check_buffer(unsigned long long hpa, unsigned long long len)
{
	if (len == 0 || !find_buffer(hpa, len)) {
		return con_error(
			"0x%llx+0x%llx is not inside a buffer from mem alloc",
			hpa, len);
	}
	return 0;
}

/*
 * Contiguous pages aligned to the buffer's size rounded up to a power of
 * two (at most 1 GiB), so that 2 MiB and 1 GiB buffers can be mapped with
 * large pages.
 */
static int mem_alloc(const char *arg)
{
	unsigned long long len, align = PAGE_SIZE, hpa;
	struct mem_buffer *b = kernel_get()->buffers;
	unsigned int i;

	if (con_parse_u64("length", arg, &len)) {
		return -EINVAL;
	}
	for (i = 0; i < MEM_BUFFERS_MAX && b->len; i++) {
		b++;
	}
	if (i == MEM_BUFFERS_MAX) {
		return con_error("all %u buffers in use (mem free one)",
				 MEM_BUFFERS_MAX);
	}
	if (len == 0 || len > (UINT64_C(1) << 40)) {
		return con_error("length out of range: 0x%llx", len);
	}
	while (align < len && align < MEM_ALIGN_MAX) {
		align <<= 1;
	}
	hpa = page_alloc_range(&kernel_get()->pages,
			       (len + PAGE_SIZE - 1) / PAGE_SIZE, align);
	if (!hpa) {
		return con_error(
			"no 0x%llx bytes of contiguous memory aligned to 0x%llx",
			len, align);
	}
	b->hpa = hpa_make(hpa);
	b->len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	fill(hpa, b->len, 0);
	con_printf("hpa 0x%llx\n", hpa);
	return 0;
}

/* Frees a whole buffer, named by its address. */
static int mem_free(const char *arg)
{
	unsigned long long hpa;
	struct mem_buffer *b;
	unsigned int id;
	int ret;

	if (con_parse_u64("address", arg, &hpa)) {
		return -EINVAL;
	}
	b = find_buffer(hpa, 1);
	if (!b || hpa_val(b->hpa) != hpa) {
		return con_error(
			"0x%llx is not the start of a buffer from mem alloc",
			hpa);
	}
	/* Pages a device can still reach are never handed out again. */
	if (iommu_hpa_reachable(&kernel_get()->iommu, b->hpa, b->len, &id)) {
		return con_error(
			"0x%llx is still reachable through domain %u (mapped there, or unmapped without a confirmed invalidation): not freed",
			hpa, id);
	}
	ret = page_free_range(&kernel_get()->pages, hpa_val(b->hpa),
			      b->len / PAGE_SIZE);
	b->len = 0;
	return ret;
}

static int mem_fill(char **argv)
{
	unsigned long long hpa, len, byte;

	if (con_parse_u64("address", argv[0], &hpa) ||
	    con_parse_u64("length", argv[1], &len) ||
	    con_parse_u64("byte", argv[2], &byte) || check_buffer(hpa, len)) {
		return -EINVAL;
	}
	if (byte > 0xff) {
		return con_error("byte out of range: 0x%llx", byte);
	}
	fill(hpa, len, (uint8_t)byte);
	return 0;
}

/* Sixteen bytes a line: "0xADDR: xx xx ...". */
static int mem_read(char **argv)
{
	unsigned long long hpa, len, i;
	const uint8_t *p;

	if (con_parse_u64("address", argv[0], &hpa) ||
	    con_parse_u64("length", argv[1], &len) || check_buffer(hpa, len)) {
		return -EINVAL;
	}
	if (len > MEM_READ_MAX) {
		return con_error("at most %u bytes at a time", MEM_READ_MAX);
	}
	p = (const uint8_t *)hpa;
	for (i = 0; i < len; i++) {
		if (i % 16 == 0) {
			con_printf("%s0x%llx:", i ? "\n" : "", hpa + i);
		}
		con_printf(" %02x", p[i]);
	}
	con_printf("\n");
	return 0;
}

static int cmd_mem(int argc, char **argv)
{
	if (argc == 1) {
		return mem_summary();
	}
	if (strcmp(argv[1], "alloc") == 0 && argc == 3) {
		return mem_alloc(argv[2]);
	}
	if (strcmp(argv[1], "free") == 0 && argc == 3) {
		return mem_free(argv[2]);
	}
	if (strcmp(argv[1], "fill") == 0 && argc == 5) {
		return mem_fill(argv + 2);
	}
	if (strcmp(argv[1], "read") == 0 && argc == 4) {
		return mem_read(argv + 2);
	}
	return con_error(
		"usage: mem [alloc LEN | free HPA | fill HPA LEN BYTE | read HPA LEN]");
}
CONSOLE_CMD(mem, "mem", "mem [alloc|free|fill|read ...]",
	    "memory map summary; physical buffers for DMA", cmd_mem);
