#include <stdint.h>

#include "kernel/console.h"
#include "kernel/kernel.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/* Console commands about the kernel itself: help, version, exit, crash. */

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
	con_printf("tsc %llu Hz from %s\n", (unsigned long long)arch_tsc_hz(),
		   arch_tsc_source());
	con_printf("console %s\n", kernel_get()->console_desc);
	return 0;
}
CONSOLE_CMD(version, "version", "version", "version, clock source and console",
	    cmd_version);

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

/* The scratch stack of a restart, outside the image being restored. */
#define KEXEC_STACK_PAGES 4

/*
 * Restart moat without the firmware, with every device and IOMMU left as
 * it is: the new instance keeps the old one's memory reserved and, where
 * the VT-d units allow, lets devices keep their translations until they
 * are attached anew (issue 6, "deferred attach").
 */
static int cmd_kexec(int argc, char **argv)
{
	struct kernel *k = kernel_get();
	struct boot_info *bi = k->boot;
	uint64_t bytes = (k->pages.pages + 63) / 64 * 8;
	uint64_t copy, stack;

	if (argc != 1) {
		return con_error("usage: kexec");
	}
	if (!bi->data_copy) {
		return con_error(
			"no copy of the image's data was kept at boot");
	}
	copy = page_alloc_range(&k->pages, (bytes + 4095) / 4096, 4096);
	stack = page_alloc_range(&k->pages, KEXEC_STACK_PAGES, 4096);
	if (!copy || !stack) {
		return con_error("no memory for the restart");
	}
	/* Taken last, so it shows its own pages and the stack as in use. */
	memcpy((void *)copy, k->pages.bitmap, bytes);
	bi->inherit_bitmap = copy;
	bi->inherit_pages = k->pages.pages;
	bi->restarts++;
	iommu_handover(&k->iommu);
	con_printf("ok\n");
	boot_restart(bi, (void *)(stack + KEXEC_STACK_PAGES * 4096));
}
CONSOLE_CMD(kexec, "kexec", "kexec",
	    "restart moat without firmware; devices keep their DMA mappings",
	    cmd_kexec);
