/*
 * Map and unmap at the floor (issue 17): a batched strict unmap (one
 * batch of invalidations, one wait, one doorbell, every range unreachable
 * when it returns), table pages freed when their count of present entries
 * reaches 0, merges found when the 512th leaf of a run is written, lazy
 * top-level tables, and a unit that does not snoop its walks seeing every
 * entry a call wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/iommu/vtd/vtd.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"

#define DEV SID(0, 4, 0)
#define X   (64 * SZ_2M) /* IOVAs used here, away from any other */

struct rig {
	struct vtd_unit u;
	struct vtd_domain *d;
	unsigned int idx;
	uint64_t ram;
};

static void rig_up(struct rig *r, const struct model_unit_config *cfg)
{
	r->idx = add_unit(cfg);
	bring_up(&r->u, r->idx);
	r->d = new_domain(&r->u, 39);
	t_attach(r->d, &r->u, DEV);
	r->ram = model_ram_alloc(2 * SZ_2M, SZ_2M);
}

static void rig_down(struct rig *r)
{
	t_detach(r->d, &r->u, DEV);
	assert_int_equal(vtd_domain_destroy(r->d), 0);
	shut_down(&r->u);
}

/* Each page of the ranges was cached by a DMA that reached it. */
static void touch(struct rig *r, const struct vtd_range *ranges,
		  unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		assert_int_equal(
			dma_fill(r->idx, DEV, iova_val(ranges[i].iova), 1, 8),
			0);
	}
}

/* No page of the ranges is reachable: each DMA faults. */
static void unreachable(struct rig *r, const struct vtd_range *ranges,
			unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		assert_int_equal(
			dma_fill(r->idx, DEV, iova_val(ranges[i].iova), 2, 8),
			-EFAULT);
		assert_int_equal(vtd_fault_poll(&r->u, NULL, NULL), 1);
	}
}

/* count single pages two pages apart, mapped and cached. */
static void map_pages(struct rig *r, struct vtd_range *ranges,
		      unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		ranges[i].iova = iova_make(X + 2 * i * SZ_4K);
		ranges[i].len = SZ_4K;
		t_map(r->d, ranges[i].iova, hpa_make(r->ram + i * SZ_4K), SZ_4K,
		      RW);
	}
	touch(r, ranges, count);
}

static void unmap_batch(struct rig *r, const struct vtd_range *ranges,
			unsigned int count)
{
	unsigned int i;

	assert_int_equal(vtd_domain_unmap_ranges(r->d, ranges, count), 0);
	for (i = 0; i < count; i++) {
		model_expect_unmap(r->d, iova_val(ranges[i].iova),
				   ranges[i].len);
	}
}

/*
 * count pages apart from each other, cached, unmapped in one call: the
 * IOTLB invalidations the unit saw, in batches each ending in a wait, one
 * doorbell, and every page unreachable on return; the table pages went
 * with the last entry.
 */
static void one_batch(unsigned int count, uint64_t psi, uint64_t dsi,
		      uint64_t waits)
{
	struct model_unit_config cfg = default_cfg();
	static struct vtd_range ranges[256];
	struct vtd_stats s0;
	uint64_t base;
	struct rig r;

	rig_up(&r, &cfg);
	base = dom_info(r.d).table_pages;
	map_pages(&r, ranges, count);
	model_reset_stats(r.idx);
	s0 = *vtd_unit_stats(&r.u);
	unmap_batch(&r, ranges, count);
	assert_int_equal(model_unit_stats(r.idx)->iotlb_page, psi);
	assert_int_equal(model_unit_stats(r.idx)->iotlb_domain, dsi);
	assert_int_equal(model_unit_stats(r.idx)->waits, waits);
	assert_int_equal(vtd_unit_stats(&r.u)->doorbells - s0.doorbells, 1);
	unreachable(&r, ranges, count);
	assert_int_equal(dom_info(r.d).table_pages, base);
	rig_down(&r);
}

/* 16 ranges: 16 page-selective invalidations in the batch. */
static void test_batch_unmap_one_wait(void **state)
{
	one_batch(16, 16, 0, 1);
}

/*
 * Ranges that touch and align are invalidated together: four pages from
 * an aligned start, given as four ranges, take one descriptor.
 */
static void test_batch_unmap_adjacent_ranges_merge(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_range ranges[4];
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	t_map(r.d, iova_make(X), hpa_make(r.ram), 4 * SZ_4K, RW);
	for (i = 0; i < 4; i++) {
		ranges[i] = (struct vtd_range){iova_make(X + i * SZ_4K), SZ_4K};
	}
	touch(&r, ranges, 4);
	model_reset_stats(r.idx);
	unmap_batch(&r, ranges, 4);
	assert_int_equal(model_unit_stats(r.idx)->iotlb_page, 1);
	assert_int_equal(model_unit_stats(r.idx)->waits, 1);
	unreachable(&r, ranges, 4);
	rig_down(&r);
}

/*
 * 112 ranges: 7 batches of 16 page-selective invalidations, each with its
 * wait, fill the work allowed in flight (half of 256 slots) and go out
 * with one doorbell; one more range and they would not.
 */
static void test_batch_unmap_112_pages(void **state)
{
	one_batch(112, 112, 0, 7);
}

/*
 * 113 or 256 ranges are more than one round of batches holds: one
 * domain-selective invalidation instead, still one wait and one doorbell,
 * still nothing reachable.
 */
static void test_batch_unmap_256_pages(void **state)
{
	one_batch(113, 0, 1, 1);
	one_batch(256, 0, 1, 1);
}

/*
 * Table pages whose invalidation timed out wait for the last batch it
 * queued (qi.c, vtd_qi_submit_batches(): a status write proves every
 * descriptor before it done, VT-d spec 6.5.2.8), or for
 * vtd_domain_flush() when an error ended it with batches never queued.
 * The status writes from the second wait on land 2 s late.  40 pages
 * emptying their table take three batches, the first passing on time:
 * the table page stays while the third is late, and goes once it landed.
 * 112 pages of another table, behind them, find room for 6 of their 7
 * batches: the 7th never goes out, so their table page stays even after
 * every status landed, until the flush.
 */
static void test_batch_timeout_waits_for_last_batch(void **state)
{
	struct model_unit_config cfg = default_cfg();
	static struct vtd_range a[40], b[112];
	uint64_t base, late = 2000000000;
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	base = dom_info(r.d).table_pages;
	map_pages(&r, a, 40);
	for (i = 0; i < 112; i++) {
		b[i] = (struct vtd_range){iova_make(X + SZ_2M + 2 * i * SZ_4K),
					  SZ_4K};
		t_map(r.d, b[i].iova, hpa_make(r.ram + SZ_2M + i * SZ_4K),
		      SZ_4K, RW);
	}
	touch(&r, b, 112);
	model_delay_status(r.idx, 1, late);
	assert_int_equal(vtd_domain_unmap_ranges(r.d, a, 40), -ETIMEDOUT);
	assert_int_equal(dom_info(r.d).deferred, 1);
	model_reset_stats(r.idx);
	assert_int_equal(vtd_domain_unmap_ranges(r.d, b, 112), -ETIMEDOUT);
	assert_int_equal(model_unit_stats(r.idx)->iotlb_page, 6 * 16);
	assert_int_equal(dom_info(r.d).deferred, 2);
	assert_int_equal(dom_info(r.d).table_pages, base);

	/* The first batch passed, the last not: a reap keeps both. */
	t_map(r.d, a[0].iova, hpa_make(r.ram), SZ_4K, RW);
	assert_int_equal(dom_info(r.d).deferred, 2);
	model_advance(late);
	t_unmap(r.d, a[0].iova, SZ_4K);
	assert_int_equal(dom_info(r.d).deferred, 1);

	assert_int_equal(vtd_domain_flush(r.d), 0);
	assert_int_equal(dom_info(r.d).deferred, 0);
	for (i = 0; i < 40; i++) {
		model_expect_unmap(r.d, iova_val(a[i].iova), SZ_4K);
	}
	for (i = 0; i < 112; i++) {
		model_expect_unmap(r.d, iova_val(b[i].iova), SZ_4K);
	}
	unreachable(&r, a, 40);
	unreachable(&r, b, 112);
	rig_down(&r);
}

/* A bad range anywhere: nothing unmapped; nothing mapped: -ENOENT. */
static void test_batch_unmap_refuses_bad_ranges(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_range ranges[2];
	struct rig r;

	rig_up(&r, &cfg);
	map_pages(&r, ranges, 2);
	ranges[1].len = 0x800;
	assert_int_equal(vtd_domain_unmap_ranges(r.d, ranges, 2), -EINVAL);
	assert_int_equal(vtd_domain_unmap_ranges(r.d, ranges, 0), -EINVAL);
	touch(&r, ranges, 1);
	ranges[1].len = SZ_4K;
	unmap_batch(&r, ranges, 2);
	assert_int_equal(vtd_domain_unmap_ranges(r.d, ranges, 2), -ENOENT);
	rig_down(&r);
}

/*
 * A table page is freed when its last entry goes, whatever the order, and
 * not before: pages mapped one call each and unmapped from the middle out.
 */
static void test_table_freed_at_zero(void **state)
{
	struct model_unit_config cfg = default_cfg();
	uint64_t base;
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	base = dom_info(r.d).table_pages;
	for (i = 0; i < 8; i++) {
		t_map(r.d, iova_make(X + i * SZ_4K),
		      hpa_make(r.ram + SZ_4K + i * SZ_4K), SZ_4K, RW);
	}
	assert_int_equal(dom_info(r.d).table_pages, base + 2);
	for (i = 0; i < 8; i++) {
		t_unmap(r.d, iova_make(X + ((i + 4) % 8) * SZ_4K), SZ_4K);
		assert_int_equal(dom_info(r.d).table_pages,
				 i < 7 ? base + 2 : base);
	}
	rig_down(&r);
}

/*
 * 512 pages mapped one call each to one aligned 2 MiB become one leaf when
 * the last is written, in any order; a unit that does not snoop its walks
 * (the default) sees each entry.
 */
static void test_merge_when_last_written(void **state)
{
	struct model_unit_config cfg = default_cfg();
	uint64_t base;
	unsigned int i, p;
	struct rig r;

	rig_up(&r, &cfg);
	base = dom_info(r.d).table_pages;
	for (i = 0; i < 512; i++) {
		p = (i * 7) % 512;
		t_map(r.d, iova_make(X + p * SZ_4K),
		      hpa_make(r.ram + p * SZ_4K), SZ_4K, RW);
		assert_int_equal(dom_info(r.d).table_pages,
				 i < 511 ? base + 2 : base + 1);
	}
	assert_int_equal(dma_fill(r.idx, DEV, X + 300 * SZ_4K, 3, 8), 0);
	assert_int_equal(ram_byte(r.ram + 300 * SZ_4K), 3);
	t_unmap(r.d, iova_make(X), SZ_2M);
	assert_int_equal(dom_info(r.d).table_pages, base);
	rig_down(&r);
}

/*
 * One page a call in the table the last call used (the one-page path)
 * refuses what a longer map refuses, and then changes nothing: a page
 * already mapped, in that table or another, keeps its translation; a
 * misaligned address, an IOVA past the width, an HPA past 52 bits and
 * rights that are none or unknown map nothing.
 */
static void test_one_page_map_refusals(void **state)
{
	struct model_unit_config cfg = default_cfg();
	iova_t at = iova_make(X + SZ_4K);
	hpa_t hpa = hpa_make(model_ram_alloc(SZ_4K, SZ_4K));
	uint64_t base;
	struct rig r;

	rig_up(&r, &cfg);
	t_map(r.d, iova_make(X), hpa_make(r.ram), SZ_4K, RW);
	t_map(r.d, iova_make(X + SZ_2M), hpa_make(r.ram + SZ_4K), SZ_4K, RW);
	base = dom_info(r.d).table_pages;
	/* The table of X + SZ_2M is the last used; X is in another. */
	assert_int_equal(
		vtd_domain_map(r.d, iova_make(X + SZ_2M), hpa, SZ_4K, RW),
		-EEXIST);
	assert_int_equal(vtd_domain_map(r.d, iova_make(X), hpa, SZ_4K, RW),
			 -EEXIST);
	assert_int_equal(
		vtd_domain_map(r.d, iova_make(X + 0x800), hpa, SZ_4K, RW),
		-EINVAL);
	assert_int_equal(vtd_domain_map(r.d, at, hpa_make(hpa_val(hpa) + 0x800),
					SZ_4K, RW),
			 -EINVAL);
	assert_int_equal(vtd_domain_map(r.d, iova_make(UINT64_C(1) << 39), hpa,
					SZ_4K, RW),
			 -EINVAL);
	assert_int_equal(
		vtd_domain_map(r.d, at, hpa_make(UINT64_C(1) << 52), SZ_4K, RW),
		-EINVAL);
	assert_int_equal(vtd_domain_map(r.d, at, hpa, SZ_4K, 0), -EINVAL);
	assert_int_equal(vtd_domain_map(r.d, at, hpa, SZ_4K, RW | 0x8U),
			 -EINVAL);
	assert_int_equal(dom_info(r.d).table_pages, base);
	assert_int_equal(dma_fill(r.idx, DEV, X, 5, 8), 0);
	assert_int_equal(ram_byte(r.ram), 5);
	assert_int_equal(dma_fill(r.idx, DEV, X + SZ_2M, 6, 8), 0);
	assert_int_equal(ram_byte(r.ram + SZ_4K), 6);
	assert_int_equal(dma_fill(r.idx, DEV, iova_val(at), 7, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&r.u, NULL, NULL), 1);
	/* Refused nothing it should not: the page maps now. */
	t_map(r.d, at, hpa, SZ_4K, RW);
	assert_int_equal(dma_fill(r.idx, DEV, iova_val(at), 8, 8), 0);
	assert_int_equal(ram_byte(hpa_val(hpa)), 8);
	t_unmap(r.d, iova_make(X), 2 * SZ_4K);
	t_unmap(r.d, iova_make(X + SZ_2M), SZ_4K);
	assert_int_equal(dom_info(r.d).table_pages, 1);
	rig_down(&r);
}

/*
 * One page a call out of the table the last call used: a page not mapped
 * there is -ENOENT and changes nothing; a mapped one is unreachable on
 * return, its neighbour still reachable; the last one takes the table.
 */
static void test_one_page_unmap(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_range ranges[2];
	uint64_t base;
	struct rig r;

	rig_up(&r, &cfg);
	base = dom_info(r.d).table_pages;
	map_pages(&r, ranges, 2);
	assert_int_equal(vtd_domain_unmap(r.d, iova_make(X + SZ_4K), SZ_4K),
			 -ENOENT);
	touch(&r, ranges, 2);
	t_unmap(r.d, ranges[0].iova, SZ_4K);
	unreachable(&r, ranges, 1);
	touch(&r, &ranges[1], 1);
	assert_int_equal(dom_info(r.d).table_pages, base + 2);
	t_unmap(r.d, ranges[1].iova, SZ_4K);
	unreachable(&r, ranges, 2);
	assert_int_equal(dom_info(r.d).table_pages, base);
	rig_down(&r);
}

/*
 * A page unmapped one call at a time leaves its table's run: mapped again
 * elsewhere, it keeps the table from merging when the 512th leaf of the
 * aligned range is written, and DMA to it lands where it now maps.
 */
static void test_one_page_unmap_leaves_run(void **state)
{
	struct model_unit_config cfg = default_cfg();
	hpa_t other = hpa_make(model_ram_alloc(SZ_4K, SZ_4K));
	uint64_t base;
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	for (i = 0; i < 511; i++) {
		t_map(r.d, iova_make(X + i * SZ_4K),
		      hpa_make(r.ram + i * SZ_4K), SZ_4K, RW);
	}
	base = dom_info(r.d).table_pages;
	t_unmap(r.d, iova_make(X + 7 * SZ_4K), SZ_4K);
	t_map(r.d, iova_make(X + 7 * SZ_4K), other, SZ_4K, RW);
	t_map(r.d, iova_make(X + 511 * SZ_4K), hpa_make(r.ram + 511 * SZ_4K),
	      SZ_4K, RW);
	assert_int_equal(dom_info(r.d).table_pages, base);
	assert_int_equal(dma_fill(r.idx, DEV, X + 7 * SZ_4K, 9, 8), 0);
	assert_int_equal(ram_byte(hpa_val(other)), 9);
	t_unmap(r.d, iova_make(X), SZ_2M);
	rig_down(&r);
}

/*
 * One range over pages mapped with holes between them: every mapped page
 * is cleared (one seam call per run between holes) and unreachable, the
 * pages past the range still reachable, and the table's count right.
 */
static void test_unmap_range_with_holes(void **state)
{
	struct model_unit_config cfg = default_cfg();
	static const unsigned int mapped[] = {0, 1, 2, 3, 5, 6, 9, 10};
	struct vtd_range ranges[ARRAY_SIZE(mapped)];
	uint64_t base;
	unsigned int i;
	struct rig r;

	rig_up(&r, &cfg);
	base = dom_info(r.d).table_pages;
	for (i = 0; i < ARRAY_SIZE(mapped); i++) {
		ranges[i].iova = iova_make(X + mapped[i] * SZ_4K);
		ranges[i].len = SZ_4K;
		t_map(r.d, ranges[i].iova,
		      hpa_make(r.ram + SZ_4K + mapped[i] * SZ_4K), SZ_4K, RW);
	}
	touch(&r, ranges, ARRAY_SIZE(mapped));
	t_unmap(r.d, iova_make(X), 8 * SZ_4K);
	unreachable(&r, ranges, 6);
	touch(&r, &ranges[6], 2);
	t_unmap(r.d, iova_make(X + 8 * SZ_4K), 4 * SZ_4K);
	unreachable(&r, ranges, ARRAY_SIZE(mapped));
	assert_int_equal(dom_info(r.d).table_pages, base);
	rig_down(&r);
}

/* A domain has no table page before its first map or attach. */
static void test_root_on_first_use(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	struct vtd_domain *d;
	struct vtd_unit u;

	bring_up(&u, idx);
	d = new_domain(&u, 39);
	assert_int_equal(dom_info(d).table_pages, 0);
	assert_int_equal(vtd_domain_unmap(d, iova_make(X), SZ_4K), -ENOENT);
	t_map(d, iova_make(X), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dom_info(d).table_pages, 3);
	t_unmap(d, iova_make(X), SZ_4K);
	assert_int_equal(vtd_domain_destroy(d), 0);
	d = new_domain(&u, 39);
	t_attach(d, &u, DEV);
	assert_int_equal(dom_info(d).table_pages, 1);
	assert_int_equal(dma_fill(idx, DEV, X, 1, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	t_detach(d, &u, DEV);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_unmap_one_wait,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_batch_unmap_adjacent_ranges_merge, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_batch_unmap_112_pages,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_unmap_256_pages,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_batch_timeout_waits_for_last_batch, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_batch_unmap_refuses_bad_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_freed_at_zero, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_merge_when_last_written,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_page_map_refusals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_page_unmap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_one_page_unmap_leaves_run,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_range_with_holes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_on_first_use, setup,
						teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
