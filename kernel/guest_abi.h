#pragma once

#include <stdint.h>

/*
 * The guest ABI (docs/guest-abi.md): what a guest program sees of moat.
 * Shared by the kernel and the guest programs in guests/, so only fixed
 * width types and constants.
 *
 * A hypercall is the syscall instruction with the number in RAX and
 * arguments in RDI, RSI, RDX; the result comes back in RAX, a negative
 * value being an error number below.  RCX and R11 are clobbered (the CPU
 * uses them), every other register is preserved.
 */
#define MOAT_HC_WRITE	 1 /* (gpa, len): console output; -> len */
#define MOAT_HC_EXIT	 2 /* (code): ends the guest; does not return */
#define MOAT_HC_YIELD	 3 /* (): gives up the rest of the time slice; -> 0 */
#define MOAT_HC_WAIT_IRQ 4 /* (timeout_us): -> pending device mask */
#define MOAT_HC_DEVICES	 5 /* (gpa, max): fills struct moat_dev[]; -> count */
#define MOAT_HC_IRQ_ACK	 6 /* (index): clears that device's pending bit */
#define MOAT_HC_TIME	 7 /* (): nanoseconds since boot */

/* Errors, negated in RAX; values as in Linux. */
#define MOAT_EFAULT    14  /* a buffer is not (wholly) the guest's memory */
#define MOAT_ENOENT    2   /* no such device index */
#define MOAT_EINVAL    22  /* an argument out of range */
#define MOAT_ENOSYS    38  /* no such hypercall */
#define MOAT_ETIMEDOUT 110 /* no interrupt before the timeout */

/* At most this many bytes per MOAT_HC_WRITE; longer lines are split. */
#define MOAT_WRITE_MAX 256U
/* The longest wait: 10 s. */
#define MOAT_WAIT_MAX_US UINT64_C(10000000)
#define MOAT_DEVS_MAX	 8U
#define MOAT_BARS	 6U

/*
 * A device assigned to the guest.  index is its bit in the pending mask
 * and its argument to MOAT_HC_IRQ_ACK.  bar_gpa[i] is where memory BAR i
 * appears in the guest (0: not mapped); every BAR is mapped uncached.
 */
struct moat_dev {
	uint32_t bdf; /* segment << 16 | bus << 8 | devfn */
	uint16_t vendor;
	uint16_t device;
	uint32_t index;
	uint32_t flags;
	uint64_t bar_gpa[MOAT_BARS];
	uint64_t bar_len[MOAT_BARS];
};
_Static_assert(sizeof(struct moat_dev) == 112, "struct moat_dev is ABI");

#define MOAT_DEV_IRQ	 0x1 /* has a remapped interrupt */
#define MOAT_DEV_REVOKED 0x2 /* unassigned or removed: its BARs are gone */

/*
 * Loading: a program is a flat image linked at MOAT_LOAD_GPA and entered
 * there with RDI = argc and RSI = argv (GPAs of NUL-terminated strings,
 * argv[0] the program's name) and RSP at the top of the guest memory
 * region that holds MOAT_LOAD_GPA, 16-byte aligned.  Assigned devices'
 * BARs appear at MOAT_BAR_GPA + index * MOAT_BAR_SPAN onwards.
 */
#define MOAT_LOAD_GPA UINT64_C(0x100000)
/*
 * Every GPA lies below MOAT_GPA_END (2^47): a guest's memory appears at
 * the same addresses in its CPU address space, whose upper half holds the
 * kernel (docs/guest-abi.md, "The partition").
 */
#define MOAT_GPA_END  UINT64_C(0x800000000000)
#define MOAT_BAR_GPA  UINT64_C(0x8000000000)
#define MOAT_BAR_SPAN UINT64_C(0x100000000)
