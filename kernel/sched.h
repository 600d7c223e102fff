#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/guest.h"
#include "kernel/guest_abi.h"

#include "arch/x86_64/vcpu.h"

/*
 * Guests that run: a program in a guest's memory on a vcpu, scheduled
 * round-robin by the APIC timer from the console's idle loop.  Each guest
 * slot of struct guests has its run state here, so guest.c needs to know
 * nothing about running.
 */
enum guest_run_state {
	GUEST_RUN_NONE, /* never ran */
	GUEST_RUN_RUNNING,
	GUEST_RUN_WAITING, /* in MOAT_HC_WAIT_IRQ; shown as running */
	GUEST_RUN_STOPPED,
	GUEST_RUN_EXITED,
	GUEST_RUN_FAULTED,
	GUEST_RUN_QUARANTINED,
};

/* Console output is gathered into lines of at most this many bytes. */
#define GUEST_LINE_MAX 120

struct guest_run {
	struct guest *g; /* NULL: nothing ran in this slot since it was made */
	enum guest_run_state state;
	uint64_t exit_code;
	struct vcpu vcpu;
	struct moat_dev devs[MOAT_DEVS_MAX];   /* what MOAT_HC_DEVICES lists */
	struct pci_dev *mapped[MOAT_DEVS_MAX]; /* BARs mapped; referenced */
	uint64_t irq_seen[MOAT_DEVS_MAX]; /* arch_irq_count() last looked at */
	uint32_t pending; /* device interrupts not acknowledged */
	uint64_t wait_deadline_ns;
	char line[GUEST_LINE_MAX];
	unsigned int line_len;
	/* Statistics for guest show and sched. */
	uint64_t run_ns;
	uint64_t irqs;
	uint64_t hypercalls;
	uint64_t entries;
};

/* The IOMMU units' fault event interrupt (VT-d spec 7.3). */
#define SCHED_FAULT_VECTOR 0x21

#define SCHED_TICK_US_DEFAULT 2000
#define SCHED_TICK_US_MIN     100
#define SCHED_TICK_US_MAX     10000

struct sched {
	struct guest_run runs[GUESTS_MAX]; /* by guest slot */
	unsigned int current; /* the slot that runs now or ran last */
	bool timer_ok;	      /* the APIC timer is calibrated */
	uint64_t tick_ns;     /* sched.tick_us= */
	uint64_t slice_ticks; /* timer interrupts when the slice began */
	bool in_slice;	   /* the current guest's slice runs, its timer armed */
	uint64_t switches; /* entries into a guest other than the last one */
	uint64_t entries;
	uint64_t ticks;
	uint64_t polls; /* housekeeping rounds done while guests ran */
	uint64_t next_poll_ns;
	uint64_t since_ns;     /* when these counters started */
	uint64_t fault_events; /* SCHED_FAULT_VECTOR's count last looked at */
	uint64_t fault_drains; /* fault records drained on a fault event */
	bool yielding;	       /* inside sched_yield() */
	uint64_t yields;       /* long console commands' turns given away */
	uint64_t yield_due_ns; /* the busy command's next turn to give */
};

struct kernel;

/* sched.tick_us= and the APIC timer. */
void sched_init(struct sched *s, const char *cmdline);
/*
 * One round while the console has no input: interrupts in, devices
 * checked, then one guest runs until its next exit.  false when no guest
 * is running, so the caller idles as before.
 */
bool sched_poll(struct kernel *k);
/*
 * A long console command's safe point, where it holds no driver state or
 * only state marked in transit (a reset's settle time in the isolation
 * layer: docs/design.md, "Waits that yield"): once a tick it gives one
 * tick away, to the kernel's housekeeping and to
 * the running guests, so a removal or a fault storm is handled and guests
 * go on while it works.  Nested calls do nothing.
 */
void sched_yield(struct kernel *k);
/*
 * The idle console's look at interrupts: fault records are drained at
 * once when a unit's fault event came.
 */
void sched_idle(struct kernel *k);
/* Starts program (argv[0]) with its arguments in g; its old run ends. */
int sched_start(struct sched *s, struct guest *g, int argc, char **argv);
/* Stops g if it runs and forgets it: before the guest is destroyed. */
void sched_forget(struct sched *s, const struct guest *g);
/* Stops g's program: -ENOENT when it is not running. */
int sched_stop(struct sched *s, const struct guest *g);
const char *sched_state_name(enum guest_run_state st);
struct guest_run *sched_run_of(struct sched *s, const struct guest *g);
/* g runs or waits for an interrupt: its code drives its devices. */
bool sched_running(struct sched *s, const struct guest *g);

/* The programs carried in the image (guests/programs.asm). */
struct guest_program {
	const char *name;
	const uint8_t *start;
	const uint8_t *end;
};
extern const struct guest_program guest_programs[];
