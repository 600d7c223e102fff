/*
 * make bench: what map and unmap cost in the model, per operation and per
 * 4 KiB page: host time (the driver plus the model's emulation of every
 * register access and descriptor), page-table pages the mapping uses,
 * invalidation descriptors and doorbells, MMIO accesses; in legacy mode
 * and in scalable mode with second- and first-level tables.  Then the
 * invalidation queue: MMIO accesses per successful invalidation,
 * invalidations per second in both modes, what attaching and detaching a
 * PASID costs, and under each injected failure the longest time a CPU
 * waited on the hardware, in virtual time, against the deadline of its
 * class.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"

#include "tests/model/model.h"

#define BASE  UINT64_C(0xfed90000)
#define SZ_4K UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)
#define SZ_1G UINT64_C(0x40000000)

struct tally {
	double ns;
	uint64_t descriptors;
	uint64_t doorbells;
	uint64_t mmio;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static struct vtd_stats snap(const struct vtd_unit *u)
{
	return u->stats;
}

static void add(struct tally *t, double t0, const struct vtd_stats *s0,
		const struct vtd_unit *u)
{
	t->ns += now_ns() - t0;
	t->descriptors += u->stats.descriptors - s0->descriptors;
	t->doorbells += u->stats.doorbells - s0->doorbells;
	t->mmio += u->stats.mmio_reads + u->stats.mmio_writes - s0->mmio_reads -
		   s0->mmio_writes;
}

static void report(const char *what, const char *op, const struct tally *t,
		   unsigned int iters, uint64_t len)
{
	double per_op = t->ns / iters;

	printf("%-24s %-5s %12.0f ns/op %10.3f ns/page %6.2f desc/op %5.2f doorbells/op %6.2f mmio/op\n",
	       what, op, per_op, per_op / (double)(len / SZ_4K),
	       (double)t->descriptors / iters, (double)t->doorbells / iters,
	       (double)t->mmio / iters);
}

static void run(struct vtd_unit *u, struct vtd_domain *d, const char *what,
		uint64_t iova, uint64_t hpa, uint64_t len, unsigned int iters)
{
	struct tally map = {0}, unmap = {0};
	uint64_t tables = 0, base = d->pt.table_pages;
	struct vtd_stats s0;
	unsigned int i;
	double t0;

	for (i = 0; i < iters; i++) {
		s0 = snap(u);
		t0 = now_ns();
		if (vtd_domain_map(d, iova_make(iova), hpa_make(hpa), len,
				   VTD_PROT_READ | VTD_PROT_WRITE)) {
			fprintf(stderr, "bench: map failed\n");
			exit(1);
		}
		add(&map, t0, &s0, u);
		tables = d->pt.table_pages - base;
		s0 = snap(u);
		t0 = now_ns();
		if (vtd_domain_unmap(d, iova_make(iova), len)) {
			fprintf(stderr, "bench: unmap failed\n");
			exit(1);
		}
		add(&unmap, t0, &s0, u);
	}
	report(what, "map", &map, iters, len);
	report(what, "unmap", &unmap, iters, len);
	printf("%-24s %llu page-table pages for the mapping\n", what,
	       (unsigned long long)tables);
}

/* A unit with device-TLB support, one domain, a DMA master attached. */
struct rig {
	struct vtd_unit u;
	struct vtd_domain *d;
	uint64_t ram;
};

#define MASTER RID(0x00, 0x10)
#define DEAD   RID(0x03, 0x00) /* an ATS endpoint that never answers */
#define LIVE   RID(0x03, 0x08) /* one that answers in 2 us */
#define MS     UINT64_C(1000000)

static void fail(const char *what)
{
	fprintf(stderr, "bench: %s failed\n", what);
	exit(1);
}

/* With gsts_stuck, enabling times out and the unit stays off. */
static void rig_up(struct rig *r, unsigned int fetch_ahead, uint32_t gsts_stuck)
{
	struct vtd_unit *up = &r->u;
	struct model_unit_config cfg;
	rid_t sid = MASTER;

	model_init();
	model_unit_config_default(&cfg);
	cfg.ecap |= 4; /* ECAP.DT */
	cfg.fetch_ahead = fetch_ahead;
	cfg.gsts_stuck = gsts_stuck;
	model_add_unit(BASE, &cfg);
	model_add_endpoint(0, DEAD, MODEL_ATS_NEVER);
	model_add_endpoint(0, LIVE, 2000);
	if (vtd_unit_init(&r->u, 0, 0, BASE, NULL))
		fail("bring-up");
	if (gsts_stuck) {
		if (vtd_unit_enable(&r->u) != -ETIMEDOUT)
			fail("enable with stuck GSTS");
		return;
	}
	if (vtd_unit_enable(&r->u) || vtd_domain_create(&up, 1, 39, &r->d) ||
	    vtd_attach(r->d, &r->u, &sid, 1))
		fail("bring-up");
	r->ram = model_ram_alloc(SZ_2M, SZ_4K);
}

static void rig_down(struct rig *r)
{
	if (model_violations()) {
		fprintf(stderr, "bench: %u model violations\n",
			model_violations());
		exit(1);
	}
	model_fini();
}

/* Map a page and unmap it: one invalidation; its result. */
static int unmap_one(struct rig *r, uint64_t iova)
{
	if (vtd_domain_map(r->d, iova_make(iova), hpa_make(r->ram), SZ_4K,
			   VTD_PROT_READ | VTD_PROT_WRITE))
		fail("map");
	return vtd_domain_unmap(r->d, iova_make(iova), SZ_4K);
}

/* Until nothing is in flight, polling as a timer would, at most 1 s. */
static void settle(struct rig *r)
{
	unsigned int i;

	for (i = 0; i < 1000; i++) {
		vtd_qi_poll(&r->u);
		if (r->u.qi.oldest == r->u.qi.tail && !r->u.qi.redo_count)
			return;
		model_advance(MS);
	}
	fail("recovery");
}

static void fail_iqe(struct rig *r)
{
	unsigned int iqei;

	for (iqei = 0; iqei <= 5; iqei++) {
		model_inject_iqe(0, 0, iqei);
		unmap_one(r, SZ_1G);
		if (vtd_domain_flush(r->d))
			fail("flush after IQE");
	}
}

/* Bad completions named LIVE: after the third it is quarantined. */
static void fail_ice(struct rig *r)
{
	unsigned int i;

	for (i = 0; i < 6; i++) {
		model_inject_ice(0, 0, LIVE);
		if (unmap_one(r, SZ_1G) ||
		    vtd_devtlb_flush(&r->u, LIVE, LIVE, 0, iova_make(0), 0) !=
			    (i < 3 ? 0 : -EIO))
			fail("invalidation with ICE");
		vtd_qi_poll(&r->u);
	}
}

/* A device-TLB flush to a device that never answers; unmaps behind it. */
static void fail_ite(struct rig *r)
{
	unsigned int i;

	if (vtd_devtlb_flush(&r->u, DEAD, DEAD, 0, iova_make(0),
			     VTD_DEVTLB_ALL) != -ETIMEDOUT)
		fail("device-TLB flush to a dead device");
	for (i = 0; i < 20; i++) {
		unmap_one(r, SZ_1G + i * SZ_4K);
		model_advance(500 * MS);
	}
	model_advance(60000 * MS);
	settle(r);
}

static void fail_late_status(struct rig *r)
{
	model_delay_status(0, 0, 2000 * MS);
	unmap_one(r, SZ_1G);
	unmap_one(r, SZ_1G + SZ_4K);
	model_advance(2000 * MS);
	settle(r);
}

static void fail_stall(struct rig *r)
{
	model_qi_stall(0, true);
	unmap_one(r, SZ_1G);
	model_qi_stall(0, false);
	settle(r);
}

/* The failure is in bring-up: enabling waits on a TES that never comes. */
static void fail_gsts(struct rig *r)
{
}

static void fail_none(struct rig *r)
{
	unsigned int i;

	for (i = 0; i < 1000; i++)
		unmap_one(r, SZ_1G);
}

struct failure {
	const char *name;
	void (*inject)(struct rig *r);
	uint32_t gsts_stuck;
};

static const struct failure failures[] = {
	{.name = "none", .inject = fail_none},
	{.name = "GSTS.TES stuck while enabling",
	 .inject = fail_gsts,
	 .gsts_stuck = UINT32_C(1) << 31},
	{.name = "IQE, each IQEI 0-5", .inject = fail_iqe},
	{.name = "ICE, 6 times", .inject = fail_ice},
	{.name = "ITE: dead device, 20 unmaps behind", .inject = fail_ite},
	{.name = "status write 2 s late", .inject = fail_late_status},
	{.name = "queue stalled", .inject = fail_stall},
};

/*
 * The longest CPU wait per class under each failure, in virtual time; it
 * must not exceed the deadline by more than one poll step (1 us).
 */
static void worst_waits(void)
{
	const struct failure *f;
	unsigned int cls, fa;
	struct rig r;
	uint64_t worst, deadline;
	bool over = false;

	printf("\nworst CPU wait on the hardware, virtual time (deadline), per failure and fetch-ahead:\n");
	for (f = failures; f < failures + ARRAY_SIZE(failures); f++) {
		for (fa = 0; fa <= 8; fa += 8) {
			rig_up(&r, fa, f->gsts_stuck);
			f->inject(&r);
			printf("  %-36s fetch-ahead %u:", f->name, fa);
			for (cls = 0; cls < VTD_DEADLINE_COUNT; cls++) {
				worst = r.u.stats.deadline[cls].max_wait_ns;
				deadline = r.u.cfg.deadline_ns[cls];
				if (worst > deadline + 1000)
					over = true;
				printf(" %s %.3f ms (%.0f)",
				       vtd_deadline_name(cls), worst / 1e6,
				       deadline / 1e6);
			}
			printf(", %llu timeouts\n",
			       (unsigned long long)r.u.stats.timeouts);
			rig_down(&r);
		}
	}
	if (over)
		fail("a wait past its deadline");
}

/* The units and domain formats the map/unmap figures compare. */
struct mode_case {
	const char *name;
	bool scalable;
	enum vtd_format format;
};

static const struct mode_case mode_cases[] = {
	{.name = "legacy", .format = VTD_FORMAT_SECOND_LEVEL},
	{.name = "scalable SL",
	 .scalable = true,
	 .format = VTD_FORMAT_SECOND_LEVEL},
	{.name = "scalable FL",
	 .scalable = true,
	 .format = VTD_FORMAT_FIRST_LEVEL},
};

/*
 * QEMU 7.2's default unit; in scalable mode also with first-level tables
 * (and their 1 GiB leaves) and 20-bit PASIDs, which QEMU 7.2 lacks.
 */
static void add_unit(bool scalable)
{
	struct model_unit_config cfg;

	model_unit_config_default(&cfg);
	if (scalable) {
		cfg.cap |= VTD_CAP_FL1GP;
		cfg.ecap |= VTD_ECAP_SMTS | VTD_ECAP_SLTS | VTD_ECAP_FLTS |
			    VTD_ECAP_PASID | field_prep64(VTD_ECAP_PSS, 19);
	}
	model_add_unit(BASE, &cfg);
}

/* A unit in the case's mode with a domain of its format, MASTER attached. */
static void mode_up(const struct mode_case *c, struct vtd_unit *u,
		    struct vtd_domain **d)
{
	struct vtd_unit *up = u;
	rid_t sid = MASTER;

	model_init();
	add_unit(c->scalable);
	if (vtd_unit_init(u, 0, 0, BASE, NULL) || vtd_unit_enable(u) ||
	    vtd_domain_create_fmt(&up, 1, 39, c->format, d) ||
	    vtd_attach(*d, u, &sid, 1)) {
		fail("bring-up");
	}
}

static void map_unmap_figures(void)
{
	const struct mode_case *c;
	struct vtd_domain *d;
	struct vtd_unit u;
	char what[40];
	uint64_t ram;

	printf("model: QEMU 7.2 default unit (3-level, 2M+1G leaves, PSI, MAMV 18, ECAP.C=0), 1 us per descriptor\n");
	for (c = mode_cases; c < mode_cases + ARRAY_SIZE(mode_cases); c++) {
		mode_up(c, &u, &d);
		ram = model_ram_alloc(2 * SZ_1G, SZ_1G);
		printf("%s:\n", c->name);
		snprintf(what, sizeof(what), "%s 4K", c->name);
		run(&u, d, what, SZ_1G, ram, SZ_4K, 20000);
		snprintf(what, sizeof(what), "%s 2M", c->name);
		run(&u, d, what, SZ_1G, ram, SZ_2M, 20000);
		snprintf(what, sizeof(what), "%s 1G", c->name);
		run(&u, d, what, SZ_1G, ram, SZ_1G, 20000);
		snprintf(what, sizeof(what), "%s 2M as 4K", c->name);
		run(&u, d, what, SZ_1G, ram + SZ_4K, SZ_2M, 200);
		snprintf(what, sizeof(what), "%s 1G as 4K", c->name);
		run(&u, d, what, SZ_1G, ram + SZ_4K, SZ_1G, 2);
		if (model_violations()) {
			fprintf(stderr, "bench: %u model violations\n",
				model_violations());
			exit(1);
		}
		model_fini();
	}
}

/*
 * Successful invalidations: MMIO accesses and doorbells each, and how many
 * the driver and model complete per second of host time, in each mode.
 */
static void invalidation_rate(void)
{
	const unsigned int iters = 200000;
	const struct mode_case *c;
	struct vtd_domain *d;
	struct vtd_stats s0;
	struct vtd_unit u;
	unsigned int i;
	double t0, secs;

	printf("\nsuccessful invalidations (domain-selective, one descriptor and a wait each):\n");
	for (c = mode_cases; c < mode_cases + ARRAY_SIZE(mode_cases); c++) {
		mode_up(c, &u, &d);
		if (vtd_domain_map(d, iova_make(SZ_1G),
				   hpa_make(model_ram_alloc(SZ_4K, SZ_4K)),
				   SZ_4K, VTD_PROT_READ | VTD_PROT_WRITE)) {
			fail("map");
		}
		s0 = u.stats;
		t0 = now_ns();
		for (i = 0; i < iters; i++) {
			if (vtd_domain_flush(d)) {
				fail("flush");
			}
		}
		secs = (now_ns() - t0) / 1e9;
		printf("  %-12s %.2f MMIO reads, %.2f MMIO writes, %.2f doorbells per invalidation, %.0f/s (host time, the model's emulation included)\n",
		       c->name,
		       (double)(u.stats.mmio_reads - s0.mmio_reads) / iters,
		       (double)(u.stats.mmio_writes - s0.mmio_writes) / iters,
		       (double)(u.stats.doorbells - s0.doorbells) / iters,
		       iters / secs);
		model_fini();
	}
}

/*
 * Attach and detach of one requester id (legacy: its context entry) or one
 * PASID (scalable: a PASID entry; the context entry and directory stay,
 * held by RID_PASID): what the entry protocol and its invalidations
 * (context cache; PASID cache and IOTLB) cost per pair.
 */
static void attach_figures(void)
{
	const unsigned int iters = 20000;
	const struct mode_case *c;
	struct tally t = {0};
	struct vtd_domain *d;
	struct vtd_stats s0;
	struct vtd_unit u;
	rid_t sid = RID(0x00, 0x11);
	unsigned int i;
	double t0;
	int err;

	printf("\nattach + detach pairs:\n");
	for (c = mode_cases; c < mode_cases + ARRAY_SIZE(mode_cases); c++) {
		mode_up(c, &u, &d);
		memset(&t, 0, sizeof(t));
		for (i = 0; i < iters; i++) {
			s0 = u.stats;
			t0 = now_ns();
			if (c->scalable) {
				err = vtd_attach_pasid(d, &u, MASTER, 5) ||
				      vtd_detach_pasid(d, &u, MASTER, 5);
			} else {
				err = vtd_attach(d, &u, &sid, 1) ||
				      vtd_detach(d, &u, &sid, 1);
			}
			if (err) {
				fail("attach/detach");
			}
			add(&t, t0, &s0, &u);
		}
		printf("  %-12s %-13s %8.0f ns/pair %6.2f desc/pair %5.2f doorbells/pair %6.2f mmio/pair\n",
		       c->name, c->scalable ? "(PASID 5)" : "(requester)",
		       t.ns / iters, (double)t.descriptors / iters,
		       (double)t.doorbells / iters, (double)t.mmio / iters);
		model_fini();
	}
}

int main(void)
{
	map_unmap_figures();
	invalidation_rate();
	attach_figures();
	worst_waits();
	return 0;
}
