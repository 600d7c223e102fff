/*
 * make bench: what map and unmap cost in the model, per operation and per
 * 4 KiB page: host time (the driver plus the model's emulation of every
 * register access and descriptor), page-table pages the mapping uses,
 * invalidation descriptors and doorbells, MMIO accesses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/vtd.h"
#include "tests/model/model.h"

#define BASE UINT64_C(0xfed90000)
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
	t->mmio += u->stats.mmio_reads + u->stats.mmio_writes -
		   s0->mmio_reads - s0->mmio_writes;
}

static void report(const char *what, const char *op, const struct tally *t,
		   unsigned int iters, uint64_t len)
{
	double per_op = t->ns / iters;

	printf("%-18s %-5s %12.0f ns/op %10.3f ns/page %6.2f desc/op %5.2f doorbells/op %6.2f mmio/op\n",
	       what, op, per_op, per_op / (double)(len / SZ_4K),
	       (double)t->descriptors / iters, (double)t->doorbells / iters,
	       (double)t->mmio / iters);
}

static void run(struct vtd_unit *u, struct vtd_domain *d, const char *what,
		uint64_t iova, uint64_t hpa, uint64_t len, unsigned int iters)
{
	struct tally map = { 0 }, unmap = { 0 };
	uint64_t tables = 0, base = d->pt.table_pages;
	struct vtd_stats s0;
	unsigned int i;
	double t0;

	for (i = 0; i < iters; i++) {
		s0 = snap(u);
		t0 = now_ns();
		if (vtd_domain_map(d, iova, hpa, len, VTD_PROT_READ | VTD_PROT_WRITE)) {
			fprintf(stderr, "bench: map failed\n");
			exit(1);
		}
		add(&map, t0, &s0, u);
		tables = d->pt.table_pages - base;
		s0 = snap(u);
		t0 = now_ns();
		if (vtd_domain_unmap(d, iova, len)) {
			fprintf(stderr, "bench: unmap failed\n");
			exit(1);
		}
		add(&unmap, t0, &s0, u);
	}
	report(what, "map", &map, iters, len);
	report(what, "unmap", &unmap, iters, len);
	printf("%-18s %llu page-table pages for the mapping\n", what,
	       (unsigned long long)tables);
}

int main(void)
{
	struct model_unit_config cfg;
	struct vtd_unit u, *up = &u;
	struct vtd_domain *d;
	uint16_t sid = 0x0010;
	uint64_t ram;

	model_init();
	model_unit_config_default(&cfg);
	model_add_unit(BASE, &cfg);
	if (vtd_unit_init(&u, 0, 0, BASE, NULL) || vtd_unit_enable(&u) ||
	    vtd_domain_create(&up, 1, 39, &d) || vtd_attach(d, &u, &sid, 1)) {
		fprintf(stderr, "bench: bring-up failed\n");
		return 1;
	}
	ram = model_ram_alloc(2 * SZ_1G, SZ_1G);
	printf("model: QEMU 7.2 default unit (3-level, 2M+1G leaves, PSI, MAMV 18, ECAP.C=0), 1 us per descriptor\n");
	run(&u, d, "4K", SZ_1G, ram, SZ_4K, 20000);
	run(&u, d, "2M", SZ_1G, ram, SZ_2M, 20000);
	run(&u, d, "1G", SZ_1G, ram, SZ_1G, 20000);
	run(&u, d, "2M as 4K leaves", SZ_1G, ram + SZ_4K, SZ_2M, 200);
	run(&u, d, "1G as 4K leaves", SZ_1G, ram + SZ_4K, SZ_1G, 2);
	if (model_violations()) {
		fprintf(stderr, "bench: %u model violations\n", model_violations());
		return 1;
	}
	return 0;
}
