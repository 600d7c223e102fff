#include <stdint.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/string.h"

/* Console commands about the kernel itself: help, version, mem, exit, crash. */

extern const struct console_cmd __start_console_cmds[];
extern const struct console_cmd __stop_console_cmds[];

static int cmd_help(int argc, char **argv)
{
	const struct console_cmd *c;

	for (c = __start_console_cmds; c < __stop_console_cmds; c++) {
		con_printf("%-24s %s\n", c->usage, c->help);
	}
	return 0;
}
CONSOLE_CMD(help, "help", "help", "list commands", cmd_help);

static int cmd_version(int argc, char **argv)
{
	con_printf("moat " MOAT_VERSION " (built " __DATE__ " " __TIME__ ")\n");
	con_printf("tsc %llu Hz from %s\n",
		   (unsigned long long)arch_tsc_hz(), arch_tsc_source());
	return 0;
}
CONSOLE_CMD(version, "version", "version", "version and clock source",
	    cmd_version);

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
static int cmd_mem(int argc, char **argv)
{
	const struct kernel *k = kernel_get();
	const struct boot_info *bi = k->boot;
	uint32_t type;
	size_t i;

	if (argc != 1) {
		return con_error("usage: mem");
	}
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
CONSOLE_CMD(mem, "mem", "mem", "memory map summary and free pages", cmd_mem);

static int cmd_exit(int argc, char **argv)
{
	unsigned long long code = 0;

	if (argc > 2) {
		return con_error("usage: exit [code]");
	}
	if (argc == 2 && con_parse_u64("exit code", argv[1], &code)) {
		return -EINVAL;
	}
	if (code > 0xff) {
		return con_error("exit code out of range (0-255): %llu", code);
	}
	con_printf("ok\n");
	cpu_exit((uint8_t)code);
}
CONSOLE_CMD(exit, "exit", "exit [code]",
	    "leave QEMU with status (code << 1) | 1, or reset", cmd_exit);

/*
 * Deliberate faults, to check the exception report.  Each is a real
 * instruction that faults, not a simulated report.
 */
static int cmd_crash(int argc, char **argv)
{
	/* volatile: the compiler must not see through these addresses. */
	volatile int *volatile unmapped = (volatile int *)8;
	volatile int *volatile noncanonical =
		(volatile int *)0x8000000000000000ULL;

	if (argc != 2) {
		return con_error("usage: crash pf|ud|gp|de");
	}
	if (strcmp(argv[1], "pf") == 0) {
		/* Page 0 is never mapped (arch/x86_64/paging.c). */
		return *unmapped;
	}
	if (strcmp(argv[1], "ud") == 0) {
		__asm__ volatile("ud2");
	}
	if (strcmp(argv[1], "gp") == 0) {
		/* A non-canonical address. */
		return *noncanonical;
	}
	if (strcmp(argv[1], "de") == 0) {
		volatile unsigned int zero = 0;

		return (int)(1 / zero);
	}
	return con_error("unknown fault '%.8s' (pf, ud, gp or de)", argv[1]);
}
CONSOLE_CMD(crash, "crash", "crash pf|ud|gp|de",
	    "raise a CPU exception (tests the fault report)", cmd_crash);
