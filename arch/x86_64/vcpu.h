#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

#include "arch/x86_64/arch.h"

/*
 * The CPU side of a guest: its registers, its address space and the way in
 * and out of it.  Here a guest runs deprivileged, in ring 3 under its own
 * page tables (a partition: QEMU's TCG has no VMX); a VMX back end would
 * keep this interface.  vcpu_run() enters the guest and returns at its
 * next exit: a hypercall (syscall), an interrupt, or a CPU exception.
 * One CPU runs at most one vcpu at a time.
 */

/*
 * A guest's general registers and return frame, laid out as the entry
 * stubs push them (entry.asm, user.asm), lowest address first.
 */
struct vcpu_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct vcpu_regs) == 22 * 8, "entry stub layout");

/* The vector a syscall exit reports: not a CPU vector. */
#define VCPU_EXIT_SYSCALL 256U

/* Page-table pages one guest may use: its memory, its BARs, the window. */
#define VCPU_TABLES_MAX 64

struct vcpu {
	struct vcpu_regs regs;
	uint64_t pml4; /* physical; 0 when the address space is not built */
	uint64_t tables[VCPU_TABLES_MAX]; /* every table page, pml4 first */
	unsigned int table_count;
	/* x87/SSE state (fxsave image), so guests never see each other's. */
	uint8_t fx[512] __attribute__((aligned(16)));
};

struct vcpu_exit {
	unsigned int vector; /* < 32 exception, 32..255 interrupt, or syscall */
	uint64_t error;	     /* the exception's error code */
	uint64_t cr2;	     /* the faulting address of a page fault */
};

/*
 * Where GPAs end: the lower half of the CPU's 48-bit address space
 * (canonical addresses, SDM vol. 1, 3.3.7.1); the upper half holds the
 * kernel window (arch.h).
 */
#define VCPU_GPA_END (UINT64_C(1) << 47)

/*
 * A new address space holding only the kernel window (arch.h),
 * supervisor-only: what the entry stubs need while the guest's CR3 is
 * loaded.  Nothing of it lies below VCPU_GPA_END.
 */
int vcpu_create(struct vcpu *v);
/* Frees the address space; v can be created again. */
void vcpu_destroy(struct vcpu *v);
/*
 * Maps [gpa, gpa + len) to [hpa, ...) for the guest, read-write, in 2 MiB
 * pages where both are aligned.  -EINVAL past VCPU_GPA_END or unaligned,
 * -EEXIST where something is mapped already, -ENOSPC when out of table
 * pages.
 */
int vcpu_map(struct vcpu *v, iova_t gpa, hpa_t hpa, uint64_t len,
	     enum arch_cache cache);
/* Removes what vcpu_map() mapped there; effective at the next entry. */
void vcpu_unmap(struct vcpu *v, iova_t gpa, uint64_t len);
/* Registers for a fresh start at rip with stack rsp and two arguments. */
void vcpu_reset(struct vcpu *v, uint64_t rip, uint64_t rsp, uint64_t arg0,
		uint64_t arg1);
/*
 * Runs the guest until its next exit.  An interrupt that ended the run has
 * been counted and acknowledged (arch_irq_count()) when this returns.
 */
void vcpu_run(struct vcpu *v, struct vcpu_exit *exit);
