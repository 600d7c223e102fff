#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything the kernel takes from UEFI, gathered before ExitBootServices.
 * After the hand-off nothing of the firmware is called again.
 */

/* UEFI memory types (UEFI 2.9, 7.2, EFI_MEMORY_TYPE) that the kernel acts on.
 */
enum boot_mem_type {
	BOOT_MEM_RESERVED = 0,
	BOOT_MEM_LOADER_CODE = 1,
	BOOT_MEM_LOADER_DATA = 2,
	BOOT_MEM_BS_CODE = 3,
	BOOT_MEM_BS_DATA = 4,
	BOOT_MEM_RT_CODE = 5,
	BOOT_MEM_RT_DATA = 6,
	BOOT_MEM_CONVENTIONAL = 7,
	BOOT_MEM_UNUSABLE = 8,
	BOOT_MEM_ACPI_RECLAIM = 9,
	BOOT_MEM_ACPI_NVS = 10,
	BOOT_MEM_MMIO = 11,
	BOOT_MEM_MMIO_PORT = 12,
	BOOT_MEM_PAL_CODE = 13,
	BOOT_MEM_PERSISTENT = 14,
};

struct boot_mem_region {
	uint64_t base;
	uint64_t pages; /* 4 KiB pages */
	uint32_t type;	/* enum boot_mem_type, or a vendor value */
};

#define BOOT_MEM_MAX	 512
#define BOOT_CMDLINE_MAX 1024

struct boot_info {
	struct boot_mem_region mem[BOOT_MEM_MAX];
	size_t mem_count;
	size_t mem_total; /* regions the firmware reported; more than kept if >
			     BOOT_MEM_MAX */
	uint64_t rsdp;	  /* ACPI 2.0+ RSDP, else ACPI 1.0, else 0 */
	uint64_t image_base;
	uint64_t image_size;
	char cmdline[BOOT_CMDLINE_MAX];
	/*
	 * For a restart without firmware (kexec): the image's writable data
	 * as it was at the first entry, and the page allocator's free bitmap
	 * of the previous life, whose allocations stay reserved so that the
	 * IOMMU tables it left running are never overwritten.
	 */
	uint64_t data_start;
	uint64_t data_copy;
	uint64_t data_len;
	uint64_t inherit_bitmap; /* 0: first boot */
	uint64_t inherit_pages;	 /* pages the bitmap covers */
	unsigned int restarts;
};

/*
 * Re-enters the kernel as at its first entry, with bi (kexec).  stack_top
 * is a scratch stack outside the image, used while the data is restored.
 */
void boot_restart(struct boot_info *bi, void *stack_top)
	__attribute__((noreturn));

/* RAM the kernel may use, possibly after the firmware is gone. */
static inline bool boot_mem_is_ram(uint32_t type)
{
	return type == BOOT_MEM_CONVENTIONAL || type == BOOT_MEM_LOADER_CODE ||
	       type == BOOT_MEM_LOADER_DATA || type == BOOT_MEM_BS_CODE ||
	       type == BOOT_MEM_BS_DATA;
}

/* The kernel's entry point after ExitBootServices. */
void kernel_main(struct boot_info *bi) __attribute__((noreturn));
