#include <stdint.h>

#include "boot/boot_info.h"
#include "drivers/acpi/acpi.h"
#include "drivers/acpi/dmar.h"
#include "drivers/edu/edu.h"
#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/reset.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/hotplug.h"
#include "kernel/kernel.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

static struct kernel the_kernel;

struct kernel *kernel_get(void)
{
	return &the_kernel;
}

void kernel_poll(void)
{
	iommu_poll(&the_kernel.iommu);
	hotplug_poll(&the_kernel);
}

/* QEMU's fw_cfg file replaces the UEFI load options when present. */
static void load_cmdline(struct boot_info *bi)
{
	size_t len;
	int ret;

	ret = arch_fw_cfg_read("opt/moat/cmdline", bi->cmdline,
			       sizeof(bi->cmdline), &len);
	if (ret && ret != -ENOENT && ret != -ENODEV) {
		log_warn("boot", "fw_cfg command line unusable: %s",
			 errno_name(ret));
	}
	log_info("boot", "command line: %s", bi->cmdline);
}

static void set_log_level(const char *cmdline)
{
	static const char *const names[] = {"err", "warn", "info", "debug"};
	char v[16];
	unsigned int i;

	if (cmdline_get(cmdline, "loglevel", v, sizeof(v))) {
		return;
	}
	for (i = 0; i < 4; i++) {
		if (strcmp(v, names[i]) == 0) {
			log_set_level((enum log_level)i);
			return;
		}
	}
	log_warn("boot", "loglevel=%s unknown (err, warn, info or debug)", v);
}

/* The TSC's reference: the HPET if ACPI lists one, else the PM timer. */
static void calibrate_clock(const struct acpi_tables *t)
{
	struct arch_clock_ref ref = {0};
	struct acpi_pm_timer pmt;
	const void *tbl;
	uint32_t len;
	int ret;

	tbl = acpi_find(t, "HPET", 0, &len);
	if (tbl && acpi_hpet_base(tbl, len, &ref.hpet_base)) {
		ref.hpet_base = 0;
	}
	tbl = acpi_find(t, "FACP", 0, &len);
	if (tbl && acpi_fadt_pm_timer(tbl, len, &pmt) == 0 && pmt.io &&
	    pmt.address <= 0xffff) {
		ref.pm_timer_port = (uint16_t)pmt.address;
		ref.pm_timer_32bit = pmt.width32;
	}
	ret = arch_tsc_calibrate(&ref);
	if (ret == 0) {
		log_info("time", "tsc %llu Hz (%s)",
			 (unsigned long long)arch_tsc_hz(), arch_tsc_source());
	}
}

/* ECAM windows from MCFG: configuration space, before enumeration. */
static void pci_ecam_init(struct kernel *k)
{
	struct acpi_mcfg_entry mcfg[16];
	const void *tbl;
	uint32_t len;
	int n, i, ret;

	tbl = acpi_find(&k->acpi, "MCFG", 0, &len);
	if (!tbl) {
		log_warn("pci", "no usable MCFG: no PCI configuration space");
		return;
	}
	n = acpi_mcfg_parse(tbl, len, mcfg, 16);
	for (i = 0; i < n; i++) {
		/* pci_ecam_add says itself why it refuses a window. */
		if (pci_ecam_add(mcfg[i].segment, mcfg[i].start_bus,
				 mcfg[i].end_bus, mcfg[i].base)) {
			continue;
		}
		ret = pci_host_add_range(&k->pci, mcfg[i].segment,
					 mcfg[i].start_bus, mcfg[i].end_bus);
		if (ret) {
			log_err("pci",
				"bus range seg %u %02x-%02x unusable: %s",
				mcfg[i].segment, mcfg[i].start_bus,
				mcfg[i].end_bus, errno_name(ret));
		}
	}
}

static void pci_init(struct kernel *k)
{
	int ret;

	pci_quiesce_hook_add(&k->pci, &edu_quiesce_hook);
	ret = pci_enumerate(&k->pci);
	if (ret) {
		log_err("pci", "enumeration incomplete: %s", errno_name(ret));
	}
}

/*
 * The DMAR table, checked against the firmware's memory map (RAM is what
 * the OS may use; every other type is reserved), then the units' registers.
 */
static void dmar_init(struct kernel *k)
{
	const struct boot_info *bi = k->boot;
	struct dmar_mem_range *r;
	struct dmar_mem_map mm;
	const void *tbl;
	uint32_t len;
	size_t i;

	tbl = acpi_find(&k->acpi, "DMAR", 0, &len);
	if (!tbl) {
		log_warn("dmar", "no DMAR table: no DMA remapping");
		return;
	}
	k->dmar_present = true;
	r = hw_zalloc(bi->mem_count * sizeof(*r));
	if (!r) {
		log_err("dmar", "no memory to check the table: not used");
		k->dmar.usable = false;
		return;
	}
	for (i = 0; i < bi->mem_count; i++) {
		r[i].base = bi->mem[i].base;
		r[i].len = bi->mem[i].pages * 4096;
		r[i].kind = boot_mem_is_ram(bi->mem[i].type)
				    ? DMAR_MEM_RAM
				    : DMAR_MEM_RESERVED;
	}
	mm.ranges = r;
	mm.count = (unsigned int)bi->mem_count;
	if (dmar_parse(tbl, len, &mm, &k->dmar) == 0) {
		dmar_probe_units(&k->dmar);
	}
	hw_free(r);
}

static void set_fault_limit(struct kernel *k, const char *cmdline)
{
	unsigned long long v;
	char val[24];

	k->iommu.fault_limit = GUEST_FAULT_LIMIT_DEFAULT;
	if (cmdline_get(cmdline, "guest.fault_limit", val, sizeof(val))) {
		return;
	}
	if (fmt_parse_u64(val, &v) || v == 0 || v > 1000000) {
		log_err("guest", "guest.fault_limit=%s ignored (1 to 1000000)",
			val);
		return;
	}
	k->iommu.fault_limit = (unsigned int)v;
}

/* vtd.ats=BDF[,BDF...]: the only functions that may use ATS. */
static void iommu_ats_options(struct iommu *im, const char *cmdline)
{
	char list[IOMMU_ATS_ALLOW_MAX * 13 + 1], *p, *next;
	unsigned int seg, bus, devfn;

	if (cmdline_get(cmdline, "vtd.ats", list, sizeof(list))) {
		return;
	}
	for (p = list; p && *p; p = next) {
		next = strchr(p, ',');
		if (next) {
			*next++ = '\0';
		}
		if (con_parse_bdf(p, &seg, &bus, &devfn) ||
		    iommu_ats_allow(im, (uint16_t)seg, (uint8_t)bus,
				    (uint8_t)devfn)) {
			log_err("iommu",
				"vtd.ats: %s ignored ([SSSS:]BB:DD.F, at most %u)",
				p, IOMMU_ATS_ALLOW_MAX);
			return;
		}
	}
}

/*
 * The isolation layer over the linked back end: its options from the
 * command line (a bad value is reported and the default kept), then every
 * usable unit.  After kexec the old tables are intact: devices keep them
 * until their first attach.
 */
static void iommu_setup(struct kernel *k, const struct boot_info *bi,
			bool apic_ok)
{
	struct iommu_be_platform plat = {
		.inherit = bi->restarts > 0,
		.x2apic = arch_apic_x2apic(),
		.x2apic_opt_out = k->dmar.flags & DMAR_FLAG_X2APIC_OPT_OUT,
		.fault_vector = apic_ok ? SCHED_FAULT_VECTOR : 0,
		.fault_apic = apic_ok ? arch_apic_id() : 0,
	};
	struct iommu_be_config *cfg = iommu_be_config_new();
	const char *const *key;
	char val[24];
	int ret;

	if (!cfg) {
		log_err("iommu", "no memory: no IOMMU");
		return;
	}
	for (key = iommu_be_option_keys; *key; key++) {
		if (cmdline_get(bi->cmdline, *key, val, sizeof(val))) {
			continue;
		}
		ret = iommu_be_config_set(cfg, *key, val);
		if (ret) {
			log_err("iommu", "%s=%s ignored: %s", *key, val,
				errno_name(ret));
		}
	}
	iommu_ats_options(&k->iommu, bi->cmdline);
	iommu_init(&k->iommu, &k->dmar, &k->pci, cfg, &plat);
}

/*
 * A reset's settle time inside the isolation layer gives ticks away
 * (docs/design.md, "Waits that yield").
 */
static void settle_yield(void *ctx)
{
	sched_yield(ctx);
}

/* run="cmd1; cmd2": each command echoed after the prompt, as if typed. */
static void run_boot_commands(const char *cmdline)
{
	static char run[BOOT_CMDLINE_MAX];
	char *cmd, *next;
	int ret;

	ret = cmdline_get(cmdline, "run", run, sizeof(run));
	if (ret == -ENOENT) {
		return;
	}
	if (the_kernel.boot->restarts) {
		log_info("boot", "restarted: run= not repeated");
		return;
	}
	if (ret) {
		log_err("boot", "run= unusable: %s", errno_name(ret));
		return;
	}
	for (cmd = run; cmd; cmd = next) {
		next = strchr(cmd, ';');
		if (next) {
			*next++ = '\0';
		}
		while (*cmd == ' ') {
			cmd++;
		}
		if (!*cmd) {
			continue;
		}
		con_printf(CON_PROMPT "%s\n", cmd);
		console_run_line(cmd);
	}
}

void kernel_main(struct boot_info *bi)
{
	struct kernel *k = &the_kernel;
	struct arch_kwin_range win[ARCH_KWIN_RANGES];
	bool apic_ok;
	int ret;

	k->boot = bi;
	cpu_init();
	log_info("boot", "moat " MOAT_VERSION " image at 0x%llx size 0x%llx",
		 (unsigned long long)bi->image_base,
		 (unsigned long long)bi->image_size);
	if (bi->restarts) {
		log_info(
			"boot",
			"restart %u without firmware: the previous instance's memory stays reserved",
			bi->restarts);
	}
	if (bi->mem_total > bi->mem_count) {
		log_warn("boot", "memory map has %zu regions, kept %zu",
			 bi->mem_total, bi->mem_count);
	}
	ret = page_alloc_init(&k->pages, bi, bi->image_base, bi->image_size);
	if (ret) {
		panic("no usable memory for the page allocator");
	}
	ret = arch_paging_init(bi, hw_page_alloc);
	if (ret) {
		panic("cannot build page tables: %s", errno_name(ret));
	}
	cpu_init_user();
	arch_kwin_ranges(win);
	log_info(
		"boot",
		"kernel window: code 0x%llx+0x%llx data 0x%llx+0x%llx, supervisor-only",
		(unsigned long long)win[0].va, (unsigned long long)win[0].len,
		(unsigned long long)win[1].va, (unsigned long long)win[1].len);
	ret = arch_apic_init();
	apic_ok = ret == 0;
	if (ret) {
		log_err("boot", "no local APIC: no interrupts: %s",
			errno_name(ret));
	}
	load_cmdline(bi);
	set_log_level(bi->cmdline);
	if (cmdline_get(bi->cmdline, "debug", NULL, 0) == 0) {
		log_info("boot", "gdb: add-symbol-file build/moat.so -o 0x%llx",
			 (unsigned long long)bi->image_base);
	}
	log_info("mem", "%llu pages free (%llu MiB)",
		 (unsigned long long)k->pages.free_pages,
		 (unsigned long long)(k->pages.free_pages / 256));
	ret = acpi_init(&k->acpi, bi->rsdp);
	if (ret) {
		log_err("acpi", "no usable ACPI tables: %s", errno_name(ret));
	}
	calibrate_clock(&k->acpi);
	/* A PCI console needs configuration space; the log waits until here. */
	pci_ecam_init(k);
	console_select(k);
	pci_init(k);
	dmar_init(k);
	set_fault_limit(k, bi->cmdline);
	if (k->dmar_present && k->dmar.usable) {
		iommu_setup(k, bi, apic_ok);
	}

	sched_init(&k->sched, bi->cmdline);
	k->iommu.yield = (struct pci_yield){.fn = settle_yield, .ctx = k};
	k->ready_ns = arch_now_ns();
	con_printf("moat: ready\n");
	run_boot_commands(bi->cmdline);
	console_loop();
	panic("console loop returned");
}
