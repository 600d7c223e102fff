/*
 * make bench, driver instructions: each phase below runs under callgrind
 * (tests/model/bench_ir.py) with instrumentation on only inside the phase,
 * so that the counts are those of the measured calls alone; the script
 * keeps the instructions of driver functions (drivers/, lib/) and drops
 * the model's.  The model completes every descriptor and handshake at
 * once, so that polling costs the least it can.  For each phase this
 * prints what the instructions cannot tell: pages, calls, table pages
 * allocated, invalidation descriptors, waits and doorbells.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"

#include "tests/model/model.h"

#define BASE   UINT64_C(0xfed90000)
#define SZ_4K  UINT64_C(0x1000)
#define SZ_2M  UINT64_C(0x200000)
#define SZ_1G  UINT64_C(0x40000000)
#define RW     (VTD_PROT_READ | VTD_PROT_WRITE)
#define MASTER RID(0x00, 0x10)

static struct vtd_unit unit;
static struct vtd_domain *dom;

struct phase {
	struct vtd_stats s0;
	uint64_t tables0;
};

static void fail(const char *what, int err)
{
	fprintf(stderr, "bench_ir: %s failed (%d)\n", what, err);
	exit(1);
}

static void begin(struct phase *p, const struct vtd_domain *d)
{
	p->s0 = unit.stats;
	p->tables0 = d ? d->pt.table_pages : 0;
	CALLGRIND_START_INSTRUMENTATION;
	CALLGRIND_ZERO_STATS;
}

/* name: no blanks; the script joins on it. */
static void end(struct phase *p, const char *name, const struct vtd_domain *d,
		uint64_t pages, uint64_t calls)
{
	CALLGRIND_DUMP_STATS_AT(name);
	CALLGRIND_STOP_INSTRUMENTATION;
	printf("phase %s pages=%llu calls=%llu tables=%lld desc=%llu waits=%llu doorbells=%llu\n",
	       name, (unsigned long long)pages, (unsigned long long)calls,
	       d ? (long long)(d->pt.table_pages - p->tables0) : 0LL,
	       (unsigned long long)(unit.stats.descriptors - p->s0.descriptors),
	       (unsigned long long)(unit.stats.batches - p->s0.batches),
	       (unsigned long long)(unit.stats.doorbells - p->s0.doorbells));
}

/* QEMU 7.2's unit (ECAP.C = 0, 2^16 domain ids), completing at once. */
static void bring_up(void)
{
	struct model_unit_config cfg;
	struct vtd_unit *up = &unit;
	rid_t sid = MASTER;
	int err;

	model_init();
	model_unit_config_default(&cfg);
	cfg.gcmd_latency_ns = 0;
	cfg.qi_latency_ns = 0;
	model_add_unit(BASE, &cfg);
	model_set_relax(1);
	err = vtd_unit_init(&unit, 0, 0, BASE, NULL);
	err = err ? err : vtd_unit_enable(&unit);
	err = err ? err : vtd_domain_create(&up, 1, 39, &dom);
	err = err ? err : vtd_attach(dom, &unit, &sid, 1);
	if (err)
		fail("bring-up", err);
}

static void down(void)
{
	if (model_violations())
		fail("model check", (int)model_violations());
	model_fini();
}

static void map(uint64_t iova, uint64_t hpa, uint64_t len)
{
	int err = vtd_domain_map(dom, iova_make(iova), hpa_make(hpa), len, RW);

	if (err)
		fail("map", err);
}

static void unmap(uint64_t iova, uint64_t len)
{
	int err = vtd_domain_unmap(dom, iova_make(iova), len);

	if (err)
		fail("unmap", err);
}

/*
 * pages 4K pages at 1 GiB, per_call pages a call, to hpa (2 MiB-aligned
 * or not: only an aligned one can merge into a 2 MiB leaf).
 */
static void map_unmap(const char *name, uint64_t pages, uint64_t per_call,
		      bool aligned)
{
	uint64_t hpa = model_ram_alloc(pages * SZ_4K + SZ_2M, SZ_2M);
	uint64_t i, len = per_call * SZ_4K;
	struct phase p;
	char what[64];

	if (!aligned)
		hpa += SZ_4K;
	begin(&p, dom);
	for (i = 0; i < pages; i += per_call)
		map(SZ_1G + i * SZ_4K, hpa + i * SZ_4K, len);
	snprintf(what, sizeof(what), "%s/map", name);
	end(&p, what, dom, pages, pages / per_call);
	begin(&p, dom);
	for (i = 0; i < pages; i += per_call)
		unmap(SZ_1G + i * SZ_4K, len);
	snprintf(what, sizeof(what), "%s/unmap", name);
	end(&p, what, dom, pages, pages / per_call);
}

/*
 * 256 pages two pages apart (mapped unmeasured), unmapped n ranges a call
 * with vtd_domain_unmap_ranges().
 */
static void batch(unsigned int n)
{
	static struct vtd_range r[256];
	uint64_t hpa = model_ram_alloc(256 * SZ_4K, SZ_4K);
	unsigned int i;
	struct phase p;
	char what[64];
	int err;

	for (i = 0; i < 256; i++) {
		r[i] = (struct vtd_range){iova_make(SZ_1G + 2 * i * SZ_4K),
					  SZ_4K};
		map(iova_val(r[i].iova), hpa + i * SZ_4K, SZ_4K);
	}
	begin(&p, dom);
	for (i = 0; i < 256; i += n) {
		err = vtd_domain_unmap_ranges(dom, &r[i], n);
		if (err)
			fail("batched unmap", err);
	}
	snprintf(what, sizeof(what), "batch-of-%u-pages/unmap", n);
	end(&p, what, dom, 256, 256 / n);
}

static void map_unmap_phases(void)
{
	bring_up();
	map_unmap("4K-x512-call/page", 512, 1, false);
	map_unmap("4K-x262144-call/page", 262144, 1, false);
	map_unmap("2M-as-4K-one-call", 512, 512, false);
	map_unmap("4K-x512-call/page-2M-aligned-HPA", 512, 1, true);
	batch(1);
	batch(16);
	batch(256);
	down();
}

/*
 * With count domains (the measured one last): creating it, attaching a
 * requester id, a fault from it read by vtd_fault_poll(), detaching.
 */
static void domain_phases(unsigned int count)
{
	struct vtd_domain **doms = calloc(count, sizeof(*doms));
	struct vtd_unit *up = &unit;
	rid_t sid = RID(0x00, 0x11);
	struct phase p;
	char what[64];
	uint8_t byte;
	unsigned int i;
	int err;

	bring_up();
	/* The bring-up domain is the first. */
	for (i = 1; i + 1 < count; i++) {
		err = vtd_domain_create(&up, 1, 39, &doms[i]);
		if (err)
			fail("create", err);
	}
	begin(&p, NULL);
	err = vtd_domain_create(&up, 1, 39, &doms[0]);
	snprintf(what, sizeof(what), "domains-%u/create", count);
	end(&p, what, NULL, 0, 1);
	if (err)
		fail("create", err);
	begin(&p, NULL);
	err = vtd_attach(doms[0], &unit, &sid, 1);
	snprintf(what, sizeof(what), "domains-%u/attach", count);
	end(&p, what, NULL, 0, 1);
	if (err)
		fail("attach", err);
	if (model_dma_read(0, sid, SZ_1G, &byte, 1) != -EFAULT)
		fail("faulting DMA", 0);
	begin(&p, NULL);
	err = vtd_fault_poll(&unit, NULL, NULL);
	snprintf(what, sizeof(what), "domains-%u/fault", count);
	end(&p, what, NULL, 0, 1);
	if (err != 1)
		fail("fault poll", err);
	begin(&p, NULL);
	err = vtd_detach(doms[0], &unit, &sid, 1);
	snprintf(what, sizeof(what), "domains-%u/detach", count);
	end(&p, what, NULL, 0, 1);
	if (err)
		fail("detach", err);
	free(doms);
	down();
}

int main(void)
{
	static const unsigned int counts[] = {16, 1024, 16384, 65535};
	unsigned int i;

	map_unmap_phases();
	for (i = 0; i < ARRAY_SIZE(counts); i++)
		domain_phases(counts[i]);
	return 0;
}
