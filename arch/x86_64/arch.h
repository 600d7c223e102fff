#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What the kernel needs from the CPU layer beyond cpu.h's instructions.
 * Addresses are identity-mapped: a physical address is its own virtual
 * address wherever it is mapped at all.
 */

/* The loaded image, for backtraces and gdb (set once by boot/). */
void arch_set_image(uint64_t base, uint64_t size);
uint64_t arch_image_base(void);
uint64_t arch_image_size(void);
bool arch_in_image(uint64_t addr);

/*
 * The kernel window (docs/design.md, "Address spaces"): what the CPU needs
 * to enter and leave ring 3 (entry stubs, IDT, GDT, TSS, the guest frame
 * that is also the entry stack), linked apart (linker.ld) and mapped
 * supervisor-only in the upper half, PML4 entry 511, of the kernel's page
 * tables and of every guest's.  Code and data keep their distance from
 * the image, so va - pa is the same for both ranges.
 */
#define ARCH_KWIN_BASE	 UINT64_C(0xffffff8000000000)
#define ARCH_KWIN_RANGES 2
struct arch_kwin_range {
	uint64_t va;
	uint64_t pa;
	uint64_t len; /* a multiple of 4 KiB */
	bool writable;
};
/* The window's code (read-only) and data (writable) ranges. */
void arch_kwin_ranges(struct arch_kwin_range r[ARCH_KWIN_RANGES]);
/* The image address behind a window address; other addresses unchanged. */
uint64_t arch_kwin_to_image(uint64_t va);

/* Continue in fn(arg) on the given stack. */
void arch_switch_stack(void (*fn)(void *), void *arg, void *stack_top)
	__attribute__((noreturn));

/* Paging: our own identity map, built from the firmware's memory map. */
enum arch_cache {
	ARCH_CACHE_WB,
	ARCH_CACHE_UC,
};

struct boot_info;
int arch_paging_init(const struct boot_info *bi, uint64_t (*alloc_page)(void));
/* Maps [pa, pa + len); an existing mapping of another type is an error. */
int arch_map(uint64_t pa, uint64_t len, enum arch_cache cache);
bool arch_is_mapped(uint64_t pa, uint64_t len);
/* True when the range touches memory the firmware map lists as RAM. */
bool arch_overlaps_ram(uint64_t pa, uint64_t len);
unsigned int arch_phys_bits(void);

/* Time: TSC calibrated against a reference clock. */
struct arch_clock_ref {
	uint16_t pm_timer_port; /* ACPI PM timer I/O port, 0 if none */
	bool pm_timer_32bit;
	uint64_t hpet_base; /* HPET registers, 0 if none */
};
int arch_tsc_calibrate(const struct arch_clock_ref *ref);
uint64_t arch_now_ns(void);
uint64_t arch_tsc_hz(void);
const char *arch_tsc_source(void);

/* QEMU fw_cfg: the contents of a named file, -ENOENT when absent. */
int arch_fw_cfg_read(const char *name, char *buf, size_t size, size_t *len);

/*
 * The local APIC: external interrupts arrive only inside arch_irq_window(),
 * and arch_irq_count() says how many of each vector have.
 */
int arch_apic_init(void);
uint32_t arch_apic_id(void);
/* Whether the APIC runs in x2APIC mode (32-bit ids). */
bool arch_apic_x2apic(void);
uint64_t arch_irq_count(uint8_t vector);
void arch_irq_window(uint64_t ns);

/*
 * The local APIC timer, one-shot on ARCH_TIMER_VECTOR: init calibrates it
 * against the TSC (-EIO when it does not count).
 */
#define ARCH_TIMER_VECTOR 0x20
int arch_timer_init(void);
void arch_timer_oneshot(uint64_t ns);
