#include "kernel/sched.h"

#include "drivers/iommu/iommu.h"
#include "kernel/cmd.h"
#include "kernel/cmdline.h"
#include "kernel/hypercall.h"
#include "kernel/kernel.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

_Static_assert(MOAT_GPA_END == VCPU_GPA_END,
	       "the guest ABI's GPAs are those the vcpu maps");

/*
 * Running guests.  The console's idle loop calls sched_poll(): it lets
 * pending interrupts in (the kernel runs with them off), turns each
 * assigned device's MSI into that guest's pending bit, takes BARs away
 * from guests whose device was unassigned or removed, stops guests whose
 * device was quarantined, does the kernel's housekeeping once per tick,
 * and runs one guest until its next exit.  A guest's slice ends at the
 * APIC timer's tick (sched.tick_us=), when it yields or waits; the next
 * runnable guest in slot order follows.  Between any two exits the
 * console reads its input, so it answers within a tick.
 */

#define PAGE_SIZE UINT64_C(0x1000)
/* Interrupts are let in for this long each round (a pending one at once). */
#define SCHED_IRQ_WINDOW_NS UINT64_C(2000)
/* What a program needs above its image: arguments, then a stack. */
#define ARGS_SIZE PAGE_SIZE
#define STACK_MIN UINT64_C(0x10000)

/* The device a guest holds in slot i, or NULL. */
static struct pci_dev *held_dev(const struct guest *g, unsigned int i)
{
	return g->devs[i].hold ? g->devs[i].hold->dev : NULL;
}

static const char *const state_names[] = {
	[GUEST_RUN_NONE] = "stopped",
	[GUEST_RUN_RUNNING] = "running",
	[GUEST_RUN_WAITING] = "running",
	[GUEST_RUN_STOPPED] = "stopped",
	[GUEST_RUN_EXITED] = "exited",
	[GUEST_RUN_FAULTED] = "faulted",
	[GUEST_RUN_QUARANTINED] = "quarantined",
};

const char *sched_state_name(enum guest_run_state st)
{
	return state_names[st];
}

static bool is_active(const struct guest_run *r)
{
	return r->g &&
	       (r->state == GUEST_RUN_RUNNING || r->state == GUEST_RUN_WAITING);
}

struct guest_run *sched_run_of(struct sched *s, const struct guest *g)
{
	struct guest_run *r = &s->runs[g->slot];

	return r->g == g ? r : NULL;
}

bool sched_running(struct sched *s, const struct guest *g)
{
	const struct guest_run *r = sched_run_of(s, g);

	return r && is_active(r);
}

void sched_init(struct sched *s, const char *cmdline)
{
	unsigned long long us = SCHED_TICK_US_DEFAULT;
	char val[24];
	int ret;

	if (cmdline_get(cmdline, "sched.tick_us", val, sizeof(val)) == 0 &&
	    (fmt_parse_u64(val, &us) || us < SCHED_TICK_US_MIN ||
	     us > SCHED_TICK_US_MAX)) {
		log_err("sched", "sched.tick_us=%s ignored (%u to %u)", val,
			SCHED_TICK_US_MIN, SCHED_TICK_US_MAX);
		us = SCHED_TICK_US_DEFAULT;
	}
	s->tick_ns = us * 1000;
	ret = arch_timer_init();
	s->timer_ok = ret == 0;
	if (ret) {
		log_err("sched", "no APIC timer: guests cannot run: %s",
			errno_name(ret));
	}
	s->since_ns = arch_now_ns();
}

/* Everything a run holds goes: address space, device references. */
static void release_run(struct guest_run *r)
{
	unsigned int i;

	if (r->line_len) {
		r->line[r->line_len] = '\0';
		con_printf("[%s] %s\n", r->g->name, r->line);
		r->line_len = 0;
	}
	vcpu_destroy(&r->vcpu);
	for (i = 0; i < MOAT_DEVS_MAX; i++) {
		if (r->mapped[i]) {
			pci_dev_put(r->mapped[i]);
			r->mapped[i] = NULL;
		}
	}
}

static void end_run(struct guest_run *r, enum guest_run_state st)
{
	r->state = st;
	release_run(r);
}

/* Memory BARs of d at the guest's window for device i, uncached. */
static int map_bars(struct guest_run *r, unsigned int i, struct pci_dev *d)
{
	struct moat_dev *md = &r->devs[i];
	uint64_t next = MOAT_BAR_GPA + i * MOAT_BAR_SPAN, addr, size, gpa;
	unsigned int bar;
	int n, ret;

	md->bdf = (uint32_t)d->seg << 16 | (uint32_t)d->bus << 8 | d->devfn;
	md->vendor = d->vendor;
	md->device = d->device;
	md->index = i;
	md->flags = r->g->devs[i].remapped ? MOAT_DEV_IRQ : 0;
	for (bar = 0; bar < MOAT_BARS; bar += (unsigned int)n) {
		n = pci_bar_probe(d, bar, &addr, &size);
		if (n < 0) {
			break;
		}
		if (size == 0) {
			continue;
		}
		/* A smaller BAR may share its page with another's registers. */
		if (size < PAGE_SIZE || !bits_is_aligned(addr, PAGE_SIZE)) {
			log_warn(
				"sched",
				"%s: " PCI_BDF_FMT
				" BAR %u (0x%llx bytes) shares a page: not mapped",
				r->g->name,
				PCI_BDF_ARGS(d->seg, d->bus, d->devfn), bar,
				(unsigned long long)size);
			continue;
		}
		gpa = (next + size - 1) & ~(size - 1);
		ret = vcpu_map(&r->vcpu, iova_make(gpa), hpa_make(addr), size,
			       ARCH_CACHE_UC);
		if (ret) {
			return ret;
		}
		md->bar_gpa[bar] = gpa;
		md->bar_len[bar] = size;
		next = gpa + size;
	}
	r->mapped[i] = pci_dev_get(d);
	if (r->g->devs[i].remapped) {
		r->irq_seen[i] = arch_irq_count(r->g->devs[i].vector);
	}
	return 0;
}

/*
 * The program's image at MOAT_LOAD_GPA, its arguments in the top page of
 * the region holding it, the stack below them.
 */
static int load(struct guest_run *r, const struct guest_program *p, int argc,
		char **argv, uint64_t *rsp, uint64_t *argv_gpa)
{
	uint64_t size = (uint64_t)(p->end - p->start), run, top, gpa;
	uint64_t *vec;
	char *strs;
	hpa_t hpa;
	int i;

	hpa = guest_gpa_to_hpa(r->g, iova_make(MOAT_LOAD_GPA), &run);
	if (!hpa_val(hpa) || run < size + ARGS_SIZE + STACK_MIN) {
		return -ENOSPC;
	}
	memcpy((void *)hpa_val(hpa), p->start, size);
	top = MOAT_LOAD_GPA + run - ARGS_SIZE;
	vec = (uint64_t *)hpa_val(hpa_add(hpa, run - ARGS_SIZE));
	strs = (char *)(vec + argc + 1);
	gpa = top + (uint64_t)(argc + 1) * 8;
	for (i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]) + 1;

		if ((uint64_t)(strs - (char *)vec) + len > ARGS_SIZE) {
			return -E2BIG;
		}
		memcpy(strs, argv[i], len);
		vec[i] = gpa;
		strs += len;
		gpa += len;
	}
	vec[argc] = 0;
	*argv_gpa = top;
	*rsp = top;
	return 0;
}

static const struct guest_program *find_program(const char *name)
{
	const struct guest_program *p;

	for (p = guest_programs; p->name; p++) {
		if (strcmp(p->name, name) == 0) {
			return p;
		}
	}
	return NULL;
}

int sched_start(struct sched *s, struct guest *g, int argc, char **argv)
{
	struct guest_run *r = &s->runs[g->slot];
	const struct guest_program *p = find_program(argv[0]);
	uint64_t rsp, argv_gpa;
	unsigned int i;
	int ret;

	if (!p) {
		return -ENOENT;
	}
	if (!s->timer_ok) {
		return -ENODEV;
	}
	if (r->g == g && is_active(r)) {
		return -EBUSY;
	}
	if (guest_unchecked_dev(g)) {
		return -EPERM;
	}
	if (r->g) {
		release_run(r);
	}
	memset(r, 0, sizeof(*r));
	r->g = g;
	ret = vcpu_create(&r->vcpu);
	if (ret) {
		goto out_forget;
	}
	for (i = 0; i < g->region_count; i++) {
		const struct guest_region *gr = &g->regions[i];

		ret = vcpu_map(&r->vcpu, gr->gpa, gr->hpa, gr->len,
			       ARCH_CACHE_WB);
		if (ret) {
			goto out_release;
		}
	}
	for (i = 0; i < GUEST_DEVS_MAX && i < MOAT_DEVS_MAX; i++) {
		if (held_dev(g, i) && !pci_dev_is_gone(held_dev(g, i))) {
			ret = map_bars(r, i, held_dev(g, i));
			if (ret) {
				goto out_release;
			}
		}
	}
	ret = load(r, p, argc, argv, &rsp, &argv_gpa);
	if (ret) {
		goto out_release;
	}
	vcpu_reset(&r->vcpu, MOAT_LOAD_GPA, rsp, (uint64_t)argc, argv_gpa);
	r->state = GUEST_RUN_RUNNING;
	return 0;

out_release:
	release_run(r);
out_forget:
	r->g = NULL;
	return ret;
}

int sched_stop(struct sched *s, const struct guest *g)
{
	struct guest_run *r = sched_run_of(s, g);

	if (!r || !is_active(r)) {
		return -ENOENT;
	}
	end_run(r, GUEST_RUN_STOPPED);
	log_info("guest", "%s: stopped", g->name);
	return 0;
}

void sched_forget(struct sched *s, const struct guest *g)
{
	struct guest_run *r = sched_run_of(s, g);

	if (r) {
		release_run(r);
		memset(r, 0, sizeof(*r));
	}
}

/* Device interrupts that arrived since the last look become pending. */
static void collect_irqs(struct guest_run *r)
{
	unsigned int i;
	uint64_t n;

	for (i = 0; i < MOAT_DEVS_MAX; i++) {
		if (!r->mapped[i] || !r->g->devs[i].remapped) {
			continue;
		}
		n = arch_irq_count(r->g->devs[i].vector);
		if (n != r->irq_seen[i]) {
			r->irqs += n - r->irq_seen[i];
			r->irq_seen[i] = n;
			r->pending |= 1U << i;
		}
	}
}

/* Takes the BARs listed for device i out of the guest's address space. */
static void unmap_bars(struct guest_run *r, unsigned int i)
{
	const struct moat_dev *md = &r->devs[i];
	unsigned int b;

	for (b = 0; b < MOAT_BARS; b++) {
		if (md->bar_len[b]) {
			vcpu_unmap(&r->vcpu, iova_make(md->bar_gpa[b]),
				   md->bar_len[b]);
		}
	}
}

/* A device assigned while the guest runs: listed and mapped at once. */
static void map_assigned(struct guest_run *r, unsigned int i)
{
	struct pci_dev *d = held_dev(r->g, i);
	struct moat_dev *md = &r->devs[i];
	unsigned int b, n = 0;
	int ret;

	if (!d || pci_dev_is_gone(d)) {
		return;
	}
	memset(md, 0, sizeof(*md));
	ret = map_bars(r, i, d);
	if (ret) {
		log_err("guest", "%s: " PCI_BDF_FMT " BARs not mapped: %s",
			r->g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			errno_name(ret));
		/* Held with none mapped, so it is not tried every round. */
		unmap_bars(r, i);
		memset(md, 0, sizeof(*md));
		r->mapped[i] = pci_dev_get(d);
		return;
	}
	for (b = 0; b < MOAT_BARS; b++) {
		n += md->bar_len[b] != 0;
	}
	log_info("guest", "%s: " PCI_BDF_FMT " assigned: %u BARs mapped",
		 r->g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn), n);
}

/*
 * A device the guest no longer has (unassigned, or removed: its DMA is
 * blocked by then) loses its BAR mappings before the guest runs again;
 * one assigned meanwhile gains them.  A quarantined one stops the guest.
 */
static void check_devices(struct guest_run *r)
{
	struct iommu *im = &kernel_get()->iommu;
	const char *owner;
	unsigned int i;

	for (i = 0; i < MOAT_DEVS_MAX && is_active(r); i++) {
		struct pci_dev *d = r->mapped[i];
		struct moat_dev *md = &r->devs[i];

		if (!d) {
			map_assigned(r, i);
			continue;
		}
		if (held_dev(r->g, i) != d || pci_dev_is_gone(d)) {
			unmap_bars(r, i);
			md->flags |= MOAT_DEV_REVOKED;
			r->pending &= ~(1U << i);
			log_warn("guest",
				 "%s: " PCI_BDF_FMT " %s: its BARs are revoked",
				 r->g->name,
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				 pci_dev_is_gone(d) ? "removed" : "unassigned");
			r->mapped[i] = NULL;
			pci_dev_put(d);
			continue;
		}
		if (iommu_owner_of(im, d, &owner) == IOMMU_OWNER_QUARANTINE) {
			log_err("guest",
				"%s: " PCI_BDF_FMT
				" quarantined after %llu faults: guest stopped",
				r->g->name,
				PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				(unsigned long long)r->g->owner->faults);
			end_run(r, GUEST_RUN_QUARANTINED);
		}
	}
}

static void wake(struct guest_run *r, uint64_t now)
{
	if (r->state != GUEST_RUN_WAITING) {
		return;
	}
	if (r->pending) {
		r->vcpu.regs.rax = r->pending;
	} else if (now >= r->wait_deadline_ns) {
		r->vcpu.regs.rax = (uint64_t) - (int64_t)MOAT_ETIMEDOUT;
	} else {
		return;
	}
	r->state = GUEST_RUN_RUNNING;
}

static const char *const exception_names[32] = {
	[0] = "divide error",	      [1] = "debug",
	[3] = "breakpoint",	      [6] = "invalid opcode",
	[7] = "device not available", [12] = "stack fault",
	[13] = "general protection",  [14] = "page fault",
	[16] = "x87 error",	      [17] = "alignment check",
	[19] = "simd error",
};

/* Which BAR of a device the guest no longer has holds gpa, for the report. */
static const struct moat_dev *revoked_bar(const struct guest_run *r,
					  uint64_t gpa)
{
	unsigned int i, b;

	for (i = 0; i < MOAT_DEVS_MAX; i++) {
		const struct moat_dev *md = &r->devs[i];

		for (b = 0; b < MOAT_BARS; b++) {
			if ((md->flags & MOAT_DEV_REVOKED) &&
			    gpa - md->bar_gpa[b] < md->bar_len[b]) {
				return md;
			}
		}
	}
	return NULL;
}

static void guest_faulted(struct guest_run *r, const struct vcpu_exit *e)
{
	const char *name = exception_names[e->vector]
				   ? exception_names[e->vector]
				   : "exception";
	const struct moat_dev *md = revoked_bar(r, e->cr2);

	log_err("guest",
		"%s faulted: %s (vector %u) at rip 0x%llx address 0x%llx error 0x%llx%s",
		r->g->name, name, e->vector,
		(unsigned long long)r->vcpu.regs.rip,
		(unsigned long long)e->cr2, (unsigned long long)e->error,
		md ? " (a BAR the guest no longer has)" : "");
	end_run(r, GUEST_RUN_FAULTED);
}

static bool is_runnable(const struct sched *s, unsigned int i)
{
	return s->runs[i].g && s->runs[i].state == GUEST_RUN_RUNNING;
}

/* The guest to run next: the current one until its slice ends. */
static int pick(struct sched *s)
{
	unsigned int k, i;

	if (s->in_slice && is_runnable(s, s->current)) {
		return (int)s->current;
	}
	for (k = 1; k <= GUESTS_MAX; k++) {
		i = (s->current + k) % GUESTS_MAX;
		if (is_runnable(s, i)) {
			return (int)i;
		}
	}
	return -1;
}

static void handle_exit(struct sched *s, struct guest_run *r,
			const struct vcpu_exit *e)
{
	if (e->vector < 32) {
		guest_faulted(r, e);
		s->in_slice = false;
		return;
	}
	if (e->vector != VCPU_EXIT_SYSCALL) {
		return; /* an interrupt: counted, looked at next round */
	}
	switch (hypercall(r, &r->vcpu.regs)) {
	case HC_RESUME:
		break;
	case HC_YIELD:
		s->in_slice = false;
		break;
	case HC_WAIT:
		r->state = GUEST_RUN_WAITING;
		s->in_slice = false;
		break;
	case HC_EXIT:
		end_run(r, GUEST_RUN_EXITED);
		log_info("guest", "%s: exited %llu", r->g->name,
			 (unsigned long long)r->exit_code);
		s->in_slice = false;
		break;
	}
}

/* Whether a unit's fault event interrupt came since the last look. */
static bool fault_event(struct sched *s)
{
	uint64_t n = arch_irq_count(SCHED_FAULT_VECTOR);

	if (n == s->fault_events) {
		return false;
	}
	s->fault_events = n;
	return true;
}

/*
 * Housekeeping while guests run or a long command works (ticking): hot-
 * plug and the invalidation queue once a tick; the fault records, which
 * charge each DMA fault to the guest whose device caused it (and
 * quarantine it at guest.fault_limit), once a tick and at once on a fault
 * event, also at the idle console.
 */
static void housekeep(struct sched *s, bool ticking)
{
	uint64_t now = arch_now_ns();
	bool event = fault_event(s), due = ticking && now >= s->next_poll_ns;

	if (due) {
		kernel_poll();
		s->polls++;
		s->next_poll_ns = now + s->tick_ns;
	}
	if (event) {
		s->fault_drains++;
	}
	if (event || due) {
		cmd_print_faults(NULL, 0);
	}
}

void sched_idle(struct kernel *k)
{
	struct sched *s = &k->sched;

	arch_irq_window(0);
	housekeep(s, false);
}

static bool any_active(const struct sched *s)
{
	unsigned int i;

	for (i = 0; i < GUESTS_MAX; i++) {
		if (is_active(&s->runs[i])) {
			return true;
		}
	}
	return false;
}

void sched_yield(struct kernel *k)
{
	struct sched *s = &k->sched;
	uint64_t now = arch_now_ns(), end = now + s->tick_ns;

	if (s->yielding || now < s->yield_due_ns) {
		return;
	}
	s->yielding = true;
	s->yields++;
	if (!any_active(s)) {
		arch_irq_window(0);
		housekeep(s, true);
	}
	while (arch_now_ns() < end && sched_poll(k)) {
	}
	s->yielding = false;
	s->yield_due_ns = arch_now_ns() + s->tick_ns;
}

bool sched_poll(struct kernel *k)
{
	struct sched *s = &k->sched;
	struct vcpu_exit e;
	struct guest_run *r;
	uint64_t now, t0;
	unsigned int i;
	int next;

	if (!any_active(s)) {
		return false;
	}
	arch_irq_window(SCHED_IRQ_WINDOW_NS);
	now = arch_now_ns();
	if (arch_irq_count(ARCH_TIMER_VECTOR) != s->slice_ticks) {
		s->in_slice = false;
		s->ticks++;
	}
	housekeep(s, true);
	for (i = 0; i < GUESTS_MAX; i++) {
		r = &s->runs[i];
		if (is_active(r)) {
			collect_irqs(r);
			check_devices(r);
			wake(r, now);
		}
	}
	next = pick(s);
	if (next < 0) {
		return false;
	}
	if (!s->in_slice || (unsigned int)next != s->current) {
		s->in_slice = true;
		s->slice_ticks = arch_irq_count(ARCH_TIMER_VECTOR);
		arch_timer_oneshot(s->tick_ns);
	}
	if ((unsigned int)next != s->current) {
		s->switches++;
	}
	s->current = (unsigned int)next;
	r = &s->runs[next];
	t0 = arch_now_ns();
	vcpu_run(&r->vcpu, &e);
	r->run_ns += arch_now_ns() - t0;
	r->entries++;
	s->entries++;
	handle_exit(s, r, &e);
	return true;
}
