/*
 * Inherited translation: a unit found translating with the tables of a
 * previous life (built here directly in model memory) keeps its valid
 * context entries until their first attach or detach, with no window of
 * default deny, and denies everything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"

#define OLD_DID 5U
#define IOVA	UINT64_C(0x10000)
#define SID_A	SID(0, 1, 0)
#define SID_B	SID(0, 2, 0)
#define SID_C	SID(0, 3, 0)
#define SID_D	SID(0, 4, 0)
#define SID_E	SID(1, 0, 0)
/* Far beyond any memory the model backs. */
#define UNREACHABLE (UINT64_C(1) << 45)

/* The previous life's tables: root, bus 0 context table, 3 levels. */
struct old_life {
	uint64_t page[5];
	uint64_t ram;
};

static const char previous;

static uint64_t *table(uint64_t pa)
{
	return hw_phys_to_virt(pa);
}

static void old_entry(struct old_life *o, rid_t sid, uint64_t lo, uint64_t hi)
{
	table(o->page[1])[rid_devfn(sid) * 2] = lo;
	table(o->page[1])[rid_devfn(sid) * 2 + 1] = hi;
}

/* sid A maps IOVA to o->ram read/write with OLD_DID; B is not present. */
static void old_life_build(struct old_life *o, unsigned int idx)
{
	struct model_firmware_state fw = {.te = true};
	unsigned int i;

	for (i = 0; i < 5; i++) {
		o->page[i] = hw_page_alloc();
		assert_true(o->page[i]);
	}
	o->ram = model_ram_alloc(SZ_4K, SZ_4K);
	table(o->page[0])[0] = o->page[1] | 1;
	old_entry(o, SID_A, o->page[2] | 1, 1 | (OLD_DID << 8));
	table(o->page[2])[(IOVA >> 30) & 511] = o->page[3] | 3;
	table(o->page[3])[(IOVA >> 21) & 511] = o->page[4] | 3;
	table(o->page[4])[(IOVA >> 12) & 511] = o->ram | 3;
	for (i = 0; i < 5; i++) {
		hw_cache_flush(table(o->page[i]), SZ_4K);
	}
	fw.root_pa = o->page[0];
	model_set_firmware_state(idx, &fw);
	model_expect_attach(idx, SID_A, &previous);
	model_expect_map(&previous, IOVA, o->ram, SZ_4K, RW);
}

/* The previous life's pages stay reserved until the unit is gone. */
static void old_life_free(struct old_life *o)
{
	unsigned int i;

	for (i = 0; i < 5; i++) {
		hw_page_free(o->page[i]);
	}
}

static void init_unit(struct vtd_unit *u, unsigned int idx, bool inherit)
{
	struct vtd_config cfg;

	vtd_config_default(&cfg);
	cfg.inherit = inherit;
	assert_int_equal(vtd_unit_init(u, idx, 0, BASE(idx), &cfg), 0);
}

static unsigned int inherited_count(struct vtd_unit *u)
{
	struct vtd_unit_info info;

	vtd_unit_info(u, &info);
	return info.inherited;
}

/* DMA from sid faults with reason (1: root entry, 2: context entry). */
static void assert_denied(struct vtd_unit *u, unsigned int idx, rid_t sid,
			  uint8_t reason)
{
	assert_int_equal(dma_fill(idx, sid, IOVA, 0xee, 8), -EFAULT);
	fault_expect(u, sid, IOVA, reason, true);
}

static void test_inherit_keeps_dma(void **state)
{
	struct model_unit_config mcfg = default_cfg();
	unsigned int idx = add_unit(&mcfg), i, logged;
	uint64_t ram2 = model_ram_alloc(SZ_4K, SZ_4K);
	const struct model_watch *w;
	struct old_life o;
	struct vtd_domain *d;
	struct vtd_unit u;
	uint64_t pages;

	old_life_build(&o, idx);
	pages = model_table_pages();
	assert_int_equal(dma_fill(idx, SID_A, IOVA, 0x11, 8), 0);
	init_unit(&u, idx, true);

	/* A's DMA works at every step of the enable: no default deny. */
	model_watch_start(idx, SID_A, MODEL_NO_PASID, IOVA);
	assert_int_equal(vtd_unit_enable(&u), 0);
	model_watch_stop(idx);
	w = model_watch_log(idx);
	assert_true(w->probes > 0);
	logged = w->changes < MODEL_WATCH_LOG ? w->changes : MODEL_WATCH_LOG;
	for (i = 0; i < logged; i++) {
		assert_false(w->outcome[i] & MODEL_WATCH_FAULT);
	}
	assert_int_equal(model_log_count("inherited 1 requester ids"), 1);

	assert_true(vtd_inherited(&u, SID_A));
	assert_false(vtd_inherited(&u, SID_B));
	assert_int_equal(inherited_count(&u), 1);
	assert_int_equal(dma_fill(idx, SID_A, IOVA, 0x22, 8), 0);
	assert_int_equal(ram_byte(o.ram), 0x22);
	assert_denied(&u, idx, SID_B, 2);
	assert_true(bitmap_test(u.dids.map, OLD_DID));

	/* A new domain never takes the old id. */
	d = new_domain(&u, 39);
	assert_int_not_equal(vtd_domain_did(d, &u), OLD_DID);
	t_map(d, iova_make(IOVA), hpa_make(ram2), SZ_4K, RW);

	/*
	 * First attach: blocked, invalidated, then written (docs/design.md,
	 * invariant 5).
	 */
	model_reset_stats(idx);
	t_attach(d, &u, SID_A);
	assert_int_equal(model_unit_stats(idx)->cc_device, 1);
	assert_int_equal(model_unit_stats(idx)->iotlb_domain, 1);
	assert_false(vtd_inherited(&u, SID_A));
	assert_int_equal(inherited_count(&u), 0);
	assert_false(bitmap_test(u.dids.map, OLD_DID));
	assert_int_equal(dma_fill(idx, SID_A, IOVA, 0x33, 8), 0);
	assert_int_equal(ram_byte(ram2), 0x33);
	assert_int_equal(ram_byte(o.ram), 0x22);

	down_attached(d, &u, SID_A);
	assert_int_equal(model_table_pages(), pages);
	old_life_free(&o);
}

static void test_inherit_detach_never_attached(void **state)
{
	struct model_unit_config mcfg = default_cfg();
	unsigned int idx = add_unit(&mcfg);
	uint64_t ram2 = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t mixed[2] = {SID_A, SID_B};
	struct old_life o;
	struct vtd_domain *d;
	struct vtd_unit u;

	old_life_build(&o, idx);
	init_unit(&u, idx, true);
	assert_int_equal(vtd_unit_enable(&u), 0);
	d = new_domain(&u, 39);
	t_map(d, iova_make(IOVA), hpa_make(ram2), SZ_4K, RW);
	t_attach(d, &u, SID_B);

	/* Inherited and attached ids carry different domain ids. */
	assert_int_equal(vtd_detach(d, &u, mixed, 2), -EINVAL);
	assert_true(vtd_inherited(&u, SID_A));
	assert_int_equal(dma_fill(idx, SID_A, IOVA, 0x44, 8), 0);

	t_detach(d, &u, SID_A);
	assert_false(vtd_inherited(&u, SID_A));
	assert_false(bitmap_test(u.dids.map, OLD_DID));
	assert_denied(&u, idx, SID_A, 2);
	assert_int_equal(ram_byte(o.ram), 0x44);
	/* Only once: it is neither inherited nor attached now. */
	assert_int_equal(vtd_detach(d, &u, mixed, 1), -EINVAL);

	down_attached(d, &u, SID_B);
	old_life_free(&o);
}

/* Bad old entries deny their requesters only. */
static void test_inherit_corrupt_fails_closed(void **state)
{
	struct model_unit_config mcfg = default_cfg();
	unsigned int idx = add_unit(&mcfg);
	struct old_life o;
	struct vtd_unit u;

	old_life_build(&o, idx);
	old_entry(&o, SID_C, o.page[2] | 1, 1 | (OLD_DID << 8) | (1U << 7));
	old_entry(&o, SID_D, UNREACHABLE | 1, 1 | (OLD_DID << 8));
	table(o.page[0])[2 * 1] = UNREACHABLE | 1;
	hw_cache_flush(table(o.page[0]), SZ_4K);
	hw_cache_flush(table(o.page[1]), SZ_4K);
	init_unit(&u, idx, true);
	assert_int_equal(vtd_unit_enable(&u), 0);

	assert_int_equal(model_log_count("not inherited (reserved bits set)"),
			 1);
	assert_int_equal(
		model_log_count("not inherited (page table not reachable)"), 1);
	assert_int_equal(
		model_log_count(
			"bus 01: old root entry points to unreachable memory"),
		1);
	assert_int_equal(inherited_count(&u), 1);
	assert_true(vtd_inherited(&u, SID_A));
	assert_int_equal(dma_fill(idx, SID_A, IOVA, 0x55, 8), 0);
	assert_false(vtd_inherited(&u, SID_C));
	assert_false(vtd_inherited(&u, SID_D));
	assert_false(vtd_inherited(&u, SID_E));
	assert_denied(&u, idx, SID_C, 2);
	assert_denied(&u, idx, SID_D, 2);
	assert_denied(&u, idx, SID_E, 1);
	shut_down(&u);
	old_life_free(&o);
}

/* An old id a domain created before enable holds cannot be shared. */
static void test_inherit_did_taken(void **state)
{
	struct model_unit_config mcfg = default_cfg();
	unsigned int idx = add_unit(&mcfg);
	struct old_life o;
	struct vtd_domain *d;
	struct vtd_unit u;

	old_life_build(&o, idx);
	old_entry(&o, SID_A, o.page[2] | 1, 1 | (0U << 8));
	hw_cache_flush(table(o.page[1]), SZ_4K);
	init_unit(&u, idx, true);
	d = new_domain(&u, 39);
	assert_int_equal(vtd_domain_did(d, &u), 0);
	assert_int_equal(vtd_unit_enable(&u), 0);
	assert_int_equal(
		model_log_count(
			"not inherited (domain id out of range or in use)"),
		1);
	assert_false(vtd_inherited(&u, SID_A));
	/* Nothing copied on bus 0: its root entry is not present. */
	assert_denied(&u, idx, SID_A, 1);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
	old_life_free(&o);
}

/* Without inherit, today's takeover: default deny for everyone at once. */
static void test_inherit_off(void **state)
{
	struct model_unit_config mcfg = default_cfg();
	unsigned int idx = add_unit(&mcfg);
	struct old_life o;
	struct vtd_unit u;

	old_life_build(&o, idx);
	init_unit(&u, idx, false);
	assert_int_equal(vtd_unit_enable(&u), 0);
	model_expect_detach(idx, SID_A);
	assert_int_equal(model_log_count("inherit"), 0);
	assert_false(vtd_inherited(&u, SID_A));
	assert_int_equal(inherited_count(&u), 0);
	assert_denied(&u, idx, SID_A, 1);
	shut_down(&u);
	old_life_free(&o);
}

/* A unit that chooses scalable mode falls back to the takeover, logged. */
static void test_inherit_scalable_falls_back(void **state)
{
	struct model_unit_config mcfg = sm_cfg(7);
	unsigned int idx = add_unit(&mcfg);
	struct old_life o;
	struct vtd_unit u;

	old_life_build(&o, idx);
	init_unit(&u, idx, true);
	assert_int_equal(vtd_unit_enable(&u), 0);
	model_expect_detach(idx, SID_A);
	assert_int_equal(
		model_log_count(
			"cannot inherit translation: scalable mode chosen"),
		1);
	assert_int_equal(inherited_count(&u), 0);
	assert_int_equal(dma_fill(idx, SID_A, IOVA, 0x66, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	shut_down(&u);
	old_life_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inherit_keeps_dma, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_inherit_detach_never_attached, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_inherit_corrupt_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inherit_did_taken, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inherit_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_inherit_scalable_falls_back, setup, teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
