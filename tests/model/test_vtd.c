/*
 * The VT-d driver against the hardware model.  Every test starts a fresh
 * machine; the teardown fails the test if the model recorded a violation
 * of the design invariants that the test did not expect and clear.
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
#include "lib/bits.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"

static uint64_t with_field(uint64_t reg, uint64_t mask, uint64_t val)
{
	return field_set64(mask, reg, val);
}

struct map_log {
	unsigned int count;
	struct vtd_mapping m[8];
};

static void on_mapping(void *ctx, const struct vtd_mapping *m)
{
	struct map_log *log = ctx;

	if (log->count < 8)
		log->m[log->count] = *m;
	log->count++;
}

static struct map_log mappings(struct vtd_domain *d)
{
	struct map_log log = {0};

	vtd_domain_for_each_mapping(d, on_mapping, &log);
	return log;
}

/* ---- bring-up ---- */

static void test_bringup_default_deny(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	struct vtd_unit_info info;
	struct vtd_domain *d;
	struct vtd_unit u;

	bring_up(&u, idx);
	vtd_unit_info(&u, &info);
	assert_true(info.te);
	assert_true(info.qi);
	assert_true(info.ir); /* QEMU's defaults have ECAP.IR */
	assert_string_equal(info.mode, "legacy");
	assert_int_equal(info.ver_major, 1);
	assert_int_equal(info.ver_minor, 0);
	assert_int_equal(info.levels_mask, 1U << 3);
	assert_int_equal(info.page_sizes,
			 VTD_PAGE_4K | VTD_PAGE_2M | VTD_PAGE_1G);
	assert_false(info.coherent);
	assert_int_equal(info.domains, 65536);

	/* Nothing attached: the root entry is not present. */
	assert_int_equal(dma_fill(idx, SID(0, 3, 0), 0x1000, 0x11, 8), -EFAULT);
	fault_expect(&u, SID(0, 3, 0), 0x1000, 1, true);

	d = new_domain(&u, 39);
	t_map(d, iova_make(0x1000), hpa_make(ram), SZ_4K, RW);
	t_attach(d, &u, SID(0, 2, 0));
	assert_int_equal(dma_fill(idx, SID(0, 2, 0), 0x1000, 0x22, 8), 0);
	assert_int_equal(ram_byte(ram), 0x22);
	/* Its neighbour on the same bus hits a not-present context entry. */
	assert_int_equal(dma_fill(idx, SID(0, 3, 0), 0x1000, 0x33, 8), -EFAULT);
	assert_int_equal(ram_byte(ram), 0x22);
	fault_expect(&u, SID(0, 3, 0), 0x1000, 2, true);

	t_detach(d, &u, SID(0, 2, 0));
	assert_int_equal(dma_fill(idx, SID(0, 2, 0), 0x1000, 0x44, 8), -EFAULT);
	assert_int_equal(ram_byte(ram), 0x22);
	fault_expect(&u, SID(0, 2, 0), 0x1000, 2, true);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

static void test_bringup_heterogeneous(void **state)
{
	struct model_unit_config a = default_cfg(), b = default_cfg(),
				 c = default_cfg();
	struct vtd_unit u[3];
	struct vtd_unit *pair[2];
	struct vtd_domain *d[3], *span;
	uint64_t ram = model_ram_alloc(SZ_2M, SZ_2M);
	uint64_t want_sizes[3] = {SZ_2M, SZ_2M, SZ_4K};
	unsigned int i, idx[3];
	struct map_log log;

	/* b: 4-level only, caching mode, coherent walks, 2M leaves only. */
	b.cap = with_field(b.cap, VTD_CAP_SAGAW, 0x4);
	b.cap = with_field(b.cap, VTD_CAP_MGAW, 47);
	b.cap = with_field(b.cap, VTD_CAP_SLLPS, VTD_SLLPS_2M);
	b.cap |= VTD_CAP_CM;
	b.ecap |= VTD_ECAP_C;
	/* c: 3 and 4 levels, no large pages, no PSI, 16 domain ids, RWBF. */
	c.cap = with_field(c.cap, VTD_CAP_SAGAW, 0x6);
	c.cap = with_field(c.cap, VTD_CAP_MGAW, 47);
	c.cap = with_field(c.cap, VTD_CAP_SLLPS, 0);
	c.cap = with_field(c.cap, VTD_CAP_ND, 0);
	c.cap = (c.cap & ~VTD_CAP_PSI) | VTD_CAP_RWBF;
	idx[0] = add_unit(&a);
	idx[1] = add_unit(&b);
	idx[2] = add_unit(&c);
	for (i = 0; i < 3; i++)
		bring_up(&u[i], idx[i]);

	d[0] = new_domain(&u[0], 39);
	d[1] = new_domain(&u[1], 39);
	d[2] = new_domain(&u[2], 48);
	assert_int_equal(dom_info(d[0]).levels, 3);
	assert_int_equal(dom_info(d[1]).levels, 4); /* no 3-level tables on b */
	assert_int_equal(dom_info(d[2]).levels, 4);
	assert_int_equal(dom_info(d[0]).page_sizes,
			 VTD_PAGE_4K | VTD_PAGE_2M | VTD_PAGE_1G);
	assert_int_equal(dom_info(d[1]).page_sizes, VTD_PAGE_4K | VTD_PAGE_2M);
	assert_int_equal(dom_info(d[2]).page_sizes, VTD_PAGE_4K);
	assert_false(dom_info(d[0]).coherent);
	assert_true(dom_info(d[1]).coherent);
	assert_int_equal(vtd_domain_did(d[0], &u[0]), 0);
	assert_int_equal(vtd_domain_did(d[1], &u[1]), 1); /* CM: never 0 */
	assert_int_equal(vtd_domain_did(d[2], &u[2]), 0);
	assert_int_equal(vtd_domain_did(d[0], &u[1]), -ENOENT);

	for (i = 0; i < 3; i++) {
		t_attach(d[i], &u[i], SID(0, 4, 0));
		t_map(d[i], iova_make(SZ_2M), hpa_make(ram), SZ_2M, RW);
		assert_int_equal(dma_fill(idx[i], SID(0, 4, 0),
					  SZ_2M + 0x1000 * (i + 1), 0x50 + i,
					  16),
				 0);
		assert_int_equal(ram_byte(ram + 0x1000 * (i + 1)), 0x50 + i);
		log = mappings(d[i]);
		assert_int_equal(log.count, 1);
		assert_int_equal(log.m[0].page_size, want_sizes[i]);
		assert_int_equal(log.m[0].len, SZ_2M);
	}
	/* Not caching mode, but a write buffer: flushed after the map. */
	assert_true(model_unit_stats(idx[2])->wbf > 0);

	/* a offers only 3 levels, b only 4: nothing in common. */
	pair[0] = &u[0];
	pair[1] = &u[1];
	assert_int_equal(vtd_domain_create(pair, 2, 39, &span), -ENOTSUP);
	pair[0] = &u[1];
	pair[1] = &u[2];
	assert_int_equal(vtd_domain_create(pair, 2, 39, &span), 0);
	assert_int_equal(dom_info(span).levels, 4);
	assert_int_equal(dom_info(span).page_sizes, VTD_PAGE_4K);
	assert_false(dom_info(span).coherent);
	assert_int_equal(vtd_domain_destroy(span), 0);
	assert_int_equal(vtd_domain_create(pair, 0, 39, &span), -EINVAL);
	/* 4-level tables are not on a; 48-bit IOVAs exceed its MGAW anyway. */
	pair[0] = &u[0];
	assert_int_equal(vtd_domain_create(pair, 1, 48, &span), -ENOTSUP);

	for (i = 0; i < 3; i++) {
		t_unmap(d[i], iova_make(SZ_2M), SZ_2M);
		assert_int_equal(dma_fill(idx[i], SID(0, 4, 0), SZ_2M, 0, 8),
				 -EFAULT);
		fault_expect(&u[i], SID(0, 4, 0), SZ_2M, 5, true);
		t_detach(d[i], &u[i], SID(0, 4, 0));
		assert_int_equal(vtd_domain_destroy(d[i]), 0);
		shut_down(&u[i]);
	}
}

static void test_refuse_bad_units(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_unit u;

	/* Nothing answers at BASE(0) yet: all-ones. */
	assert_int_equal(vtd_unit_init(&u, 0, 0, BASE(0), NULL), -ENODEV);
	assert_int_equal(model_log_count("all-ones"), 1);

	cfg.ecap &= ~VTD_ECAP_QI;
	add_unit(&cfg);
	assert_int_equal(vtd_unit_init(&u, 0, 0, BASE(0), NULL), -ENOTSUP);
	assert_int_equal(model_log_count("no queued invalidation"), 1);

	cfg = default_cfg();
	cfg.cap = 0;
	add_unit(&cfg);
	assert_int_equal(vtd_unit_init(&u, 1, 0, BASE(1), NULL), -ENODEV);
	assert_int_equal(model_log_count("read zero"), 1);

	cfg = default_cfg();
	cfg.cap = with_field(cfg.cap, VTD_CAP_SAGAW, 0x10);
	add_unit(&cfg);
	assert_int_equal(vtd_unit_init(&u, 2, 0, BASE(2), NULL), -ENOTSUP);
	assert_int_equal(model_log_count("SAGAW"), 1);

	/* A register base inside RAM is refused by the seam. */
	assert_int_equal(vtd_unit_init(&u, 3, 0, UINT64_C(0x100000000), NULL),
			 -EINVAL);
}

/* IOVAs wider than MGAW are refused even where SAGAW has the depth. */
static void test_domain_width_within_mgaw(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_domain *d = NULL;
	struct vtd_unit u, *up = &u;
	unsigned int idx;

	cfg.cap = with_field(cfg.cap, VTD_CAP_SAGAW, 0x6);
	cfg.cap = with_field(cfg.cap, VTD_CAP_MGAW, 38);
	idx = add_unit(&cfg);
	bring_up(&u, idx);
	assert_int_equal(vtd_domain_create(&up, 1, 40, &d), -ERANGE);
	assert_int_equal(model_log_count("exceed MGAW"), 1);
	assert_int_equal(vtd_domain_create(&up, 1, 39, &d), 0);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

/* Firmware left translation, its own queue, IR and PMRs on. */
static void test_takeover_from_firmware(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx;
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	uint64_t root = hw_page_alloc(), ctx = hw_page_alloc();
	uint64_t l3 = hw_page_alloc(), l2 = hw_page_alloc();
	uint64_t l1 = hw_page_alloc(), iq = hw_page_alloc();
	struct model_firmware_state fw = {
		.root_pa = root,
		.te = true,
		.ir = true,
		.iqa = iq,
		.pmr = true,
		.fsts = VTD_FSTS_IQE,
	};
	static const char firmware;
	uint64_t *p;
	struct vtd_unit_info info;
	struct vtd_unit u;

	cfg.cap |= VTD_CAP_PLMR;
	idx = add_unit(&cfg);
	/* The firmware's identity map of one page for 00:01.0. */
	p = hw_phys_to_virt(root);
	p[0] = ctx | 1;
	p = hw_phys_to_virt(ctx);
	p[rid_val(SID(0, 1, 0)) * 2] = l3 | 1;
	p[rid_val(SID(0, 1, 0)) * 2 + 1] = 1 | (5U << 8);
	((uint64_t *)hw_phys_to_virt(l3))[(ram >> 30) & 511] = l2 | 3;
	((uint64_t *)hw_phys_to_virt(l2))[(ram >> 21) & 511] = l1 | 3;
	((uint64_t *)hw_phys_to_virt(l1))[(ram >> 12) & 511] = ram | 3;
	hw_cache_flush(hw_phys_to_virt(root), 4096);
	hw_cache_flush(hw_phys_to_virt(ctx), 4096);
	hw_cache_flush(hw_phys_to_virt(l3), 4096);
	hw_cache_flush(hw_phys_to_virt(l2), 4096);
	hw_cache_flush(hw_phys_to_virt(l1), 4096);
	model_set_firmware_state(idx, &fw);
	model_expect_attach(idx, SID(0, 1, 0), &firmware);
	model_expect_map(&firmware, ram, ram, SZ_4K, RW);

	/* Firmware DMA fills the caches; another device leaves a fault. */
	assert_int_equal(dma_fill(idx, SID(0, 1, 0), ram, 0x5a, 8), 0);
	assert_int_equal(dma_fill(idx, SID(0, 2, 0), ram, 0x5b, 8), -EFAULT);

	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), NULL), 0);
	assert_int_equal(vtd_unit_enable(&u), 0);
	model_expect_detach(idx, SID(0, 1, 0));
	assert_int_equal(
		model_log_count(
			"firmware left translation queued-invalidation interrupt-remapping"),
		1);
	assert_int_equal(
		model_log_count("cleared fault records left by firmware"), 1);
	assert_int_equal(model_log_count("protected memory"), 1);

	vtd_unit_info(&u, &info);
	assert_true(info.te);
	assert_true(info.qi);
	assert_true(info.ir); /* ours now, not firmware's */
	assert_int_equal(hw_mmio_read64(BASE(idx) + VTD_IRTA_REG) & ~0xfffULL,
			 u.irt_pa);
	assert_int_equal(hw_mmio_read32(BASE(idx) + VTD_PMEN_REG), 0);
	assert_int_equal(hw_mmio_read64(BASE(idx) + VTD_IQA_REG) & ~0xfffULL,
			 u.qi.ring_pa);
	assert_int_equal(
		hw_mmio_read32(BASE(idx) + VTD_FSTS_REG) & VTD_FSTS_ERRORS, 0);

	/* Default deny at once: no stale firmware translation survives. */
	assert_int_equal(dma_fill(idx, SID(0, 1, 0), ram, 0x77, 8), -EFAULT);
	assert_int_equal(ram_byte(ram), 0x5a);
	fault_expect(&u, SID(0, 1, 0), ram, 1, true);
	shut_down(&u);
}

/* ---- map, unmap, attach, detach ---- */

static void test_map_unmap_4k(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(2 * SZ_4K, SZ_4K);
	const struct model_unit_stats *st = model_unit_stats(idx);
	struct vtd_stats s0;
	uint8_t buf[64];
	struct vtd_domain *d;
	struct vtd_unit u;

	d = up_attached(&u, idx, 39, SID(0, 5, 0));
	t_map(d, iova_make(0x10000), hpa_make(ram), SZ_4K, RW);
	t_map(d, iova_make(0x20000), hpa_make(ram + SZ_4K), SZ_4K,
	      VTD_PROT_READ);

	assert_int_equal(dma_fill(idx, SID(0, 5, 0), 0x10010, 0xaa, 32), 0);
	assert_int_equal(model_dma_read(idx, SID(0, 5, 0), 0x10010, buf, 32),
			 0);
	assert_int_equal(buf[31], 0xaa);
	assert_int_equal(ram_byte(ram + 0x10), 0xaa);

	/* Read-only: a write faults, a read works. */
	assert_int_equal(dma_fill(idx, SID(0, 5, 0), 0x20000, 0xbb, 8),
			 -EFAULT);
	fault_expect(&u, SID(0, 5, 0), 0x20000, 5, true);
	assert_int_equal(model_dma_read(idx, SID(0, 5, 0), 0x20000, buf, 8), 0);

	/* One page: one page-selective invalidation, one doorbell, one wait. */
	model_reset_stats(idx);
	s0 = *vtd_unit_stats(&u);
	t_unmap(d, iova_make(0x10000), SZ_4K);
	assert_int_equal(st->iotlb_page, 1);
	assert_int_equal(st->iotlb_domain, 0);
	assert_int_equal(st->iotlb_global, 0);
	assert_int_equal(vtd_unit_stats(&u)->doorbells - s0.doorbells, 1);
	assert_int_equal(vtd_unit_stats(&u)->descriptors - s0.descriptors, 2);
	assert_int_equal(vtd_unit_stats(&u)->waits - s0.waits, 1);
	assert_int_equal(dma_fill(idx, SID(0, 5, 0), 0x10000, 0xcc, 8),
			 -EFAULT);
	assert_int_equal(ram_byte(ram), 0);
	fault_expect(&u, SID(0, 5, 0), 0x10000, 5, true);
	assert_int_equal(model_dma_read(idx, SID(0, 5, 0), 0x10000, buf, 8),
			 -EFAULT);
	fault_expect(&u, SID(0, 5, 0), 0x10000, 6, false);

	assert_int_equal(vtd_domain_unmap(d, iova_make(0x10000), SZ_4K),
			 -ENOENT);
	assert_int_equal(
		vtd_domain_map(d, iova_make(0x10001), hpa_make(ram), SZ_4K, RW),
		-EINVAL);
	assert_int_equal(
		vtd_domain_map(d, iova_make(0x10000), hpa_make(ram), SZ_4K, 0),
		-EINVAL);
	assert_int_equal(vtd_domain_map(d, iova_make(UINT64_C(1) << 39),
					hpa_make(ram), SZ_4K, RW),
			 -EINVAL);
	assert_int_equal(
		vtd_domain_map(d, iova_make(0x20000), hpa_make(ram), SZ_4K, RW),
		-EEXIST);

	t_unmap(d, iova_make(0x20000), SZ_4K);
	down_attached(d, &u, SID(0, 5, 0));
}

static void test_map_overlap_rolls_back(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(8 * SZ_4K, SZ_4K);
	struct vtd_domain *d;
	struct vtd_unit u;
	struct map_log log;
	uint64_t pages;

	d = up_attached(&u, idx, 39, SID(0, 5, 0));
	t_map(d, iova_make(0x10000), hpa_make(ram), 4 * SZ_4K, RW);
	pages = dom_info(d).table_pages;
	assert_int_equal(vtd_domain_map(d, iova_make(0xe000),
					hpa_make(ram + 4 * SZ_4K), 4 * SZ_4K,
					RW),
			 -EEXIST);
	log = mappings(d);
	assert_int_equal(log.count, 1);
	assert_int_equal(iova_val(log.m[0].iova), 0x10000);
	assert_int_equal(log.m[0].len, 4 * SZ_4K);
	assert_int_equal(dom_info(d).table_pages, pages);
	assert_int_equal(dma_fill(idx, SID(0, 5, 0), 0xe000, 1, 8), -EFAULT);
	fault_expect(&u, SID(0, 5, 0), 0xe000, 5, true);

	t_unmap(d, iova_make(0x10000), 4 * SZ_4K);
	down_attached(d, &u, SID(0, 5, 0));
}

static void test_superpages(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram2m = model_ram_alloc(2 * SZ_2M, SZ_2M);
	uint64_t ram1g = model_ram_alloc(SZ_1G, SZ_1G);
	struct vtd_domain *d;
	struct vtd_unit u;
	struct map_log log;

	d = up_attached(&u, idx, 39, SID(0, 6, 0));
	assert_int_equal(dom_info(d).table_pages, 1);

	t_map(d, iova_make(SZ_1G), hpa_make(ram1g), SZ_1G,
	      RW); /* a leaf in the root table */
	assert_int_equal(dom_info(d).table_pages, 1);
	t_map(d, iova_make(SZ_2M), hpa_make(ram2m), SZ_2M,
	      RW); /* one level-2 table */
	assert_int_equal(dom_info(d).table_pages, 2);
	/* IOVA aligned, address not: 512 small pages. */
	t_map(d, iova_make(2 * SZ_1G), hpa_make(ram2m + SZ_4K), SZ_2M,
	      VTD_PROT_READ);
	assert_int_equal(dom_info(d).table_pages, 4);

	log = mappings(d);
	assert_int_equal(log.count, 3);
	assert_int_equal(iova_val(log.m[0].iova), SZ_2M);
	assert_int_equal(log.m[0].page_size, SZ_2M);
	assert_int_equal(iova_val(log.m[1].iova), SZ_1G);
	assert_int_equal(log.m[1].page_size, SZ_1G);
	assert_int_equal(hpa_val(log.m[1].hpa), ram1g);
	assert_int_equal(log.m[2].page_size, SZ_4K);
	assert_int_equal(log.m[2].len, SZ_2M);
	assert_int_equal(log.m[2].prot, VTD_PROT_READ);

	assert_int_equal(
		dma_fill(idx, SID(0, 6, 0), SZ_1G + 0x3ff00000, 0x61, 8), 0);
	assert_int_equal(ram_byte(ram1g + 0x3ff00000), 0x61);
	assert_int_equal(dma_fill(idx, SID(0, 6, 0), SZ_2M + 0x1ff000, 0x62, 8),
			 0);
	assert_int_equal(ram_byte(ram2m + 0x1ff000), 0x62);

	t_unmap(d, iova_make(SZ_1G), SZ_1G);
	t_unmap(d, iova_make(SZ_2M), SZ_2M);
	t_unmap(d, iova_make(2 * SZ_1G), SZ_2M);
	assert_int_equal(dom_info(d).table_pages, 1);
	assert_int_equal(dma_fill(idx, SID(0, 6, 0), SZ_1G, 0x63, 8), -EFAULT);
	fault_expect(&u, SID(0, 6, 0), SZ_1G, 5, true);
	down_attached(d, &u, SID(0, 6, 0));
}

static void test_split_and_merge(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram2m = model_ram_alloc(SZ_2M, SZ_2M);
	uint64_t ram1g = model_ram_alloc(SZ_1G, SZ_1G);
	uint64_t hole = SZ_2M + 0x5000, pages;
	struct vtd_domain *d;
	struct vtd_unit u;
	struct map_log log;

	d = up_attached(&u, idx, 39, SID(0, 7, 0));
	t_map(d, iova_make(SZ_2M), hpa_make(ram2m), SZ_2M, RW);
	pages = dom_info(d).table_pages;
	/* The 2M leaf is now in the IOTLB. */
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), hole, 0x71, 8), 0);

	/* Cut a 4K hole: the leaf splits into a table of 4K leaves. */
	t_unmap(d, iova_make(hole), SZ_4K);
	assert_int_equal(dom_info(d).table_pages, pages + 1);
	log = mappings(d);
	assert_int_equal(log.count, 2);
	assert_int_equal(log.m[0].page_size, SZ_4K);
	assert_int_equal(log.m[0].len, 0x5000);
	assert_int_equal(iova_val(log.m[1].iova), hole + SZ_4K);
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), hole, 0x72, 8), -EFAULT);
	assert_int_equal(ram_byte(ram2m + 0x5000), 0x71);
	fault_expect(&u, SID(0, 7, 0), hole, 5, true);
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), hole + SZ_4K, 0x73, 8), 0);
	assert_int_equal(ram_byte(ram2m + 0x6000), 0x73);
	/* Leaves far from the hole were published with the new table. */
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), SZ_2M + 0x100000, 0x75, 8),
			 0);
	assert_int_equal(ram_byte(ram2m + 0x100000), 0x75);

	/* Fill it again with the same address: back to one 2M leaf. */
	t_map(d, iova_make(hole), hpa_make(ram2m + 0x5000), SZ_4K, RW);
	assert_int_equal(dom_info(d).table_pages, pages);
	log = mappings(d);
	assert_int_equal(log.count, 1);
	assert_int_equal(log.m[0].page_size, SZ_2M);
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), hole, 0x74, 8), 0);
	assert_int_equal(ram_byte(ram2m + 0x5000), 0x74);

	/* A 1G leaf split into 2M leaves around a 2M hole, then merged. */
	t_map(d, iova_make(SZ_1G), hpa_make(ram1g), SZ_1G, RW);
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), SZ_1G + 3 * SZ_2M, 1, 8),
			 0);
	t_unmap(d, iova_make(SZ_1G + 3 * SZ_2M), SZ_2M);
	log = mappings(d);
	assert_int_equal(log.count, 3);
	assert_int_equal(log.m[1].page_size, SZ_2M);
	assert_int_equal(log.m[1].len, 3 * SZ_2M);
	assert_int_equal(dma_fill(idx, SID(0, 7, 0), SZ_1G + 3 * SZ_2M, 2, 8),
			 -EFAULT);
	fault_expect(&u, SID(0, 7, 0), SZ_1G + 3 * SZ_2M, 5, true);
	t_map(d, iova_make(SZ_1G + 3 * SZ_2M), hpa_make(ram1g + 3 * SZ_2M),
	      SZ_2M, RW);
	log = mappings(d);
	assert_int_equal(log.count, 2);
	assert_int_equal(log.m[1].page_size, SZ_1G);

	t_unmap(d, iova_make(SZ_2M), SZ_2M);
	t_unmap(d, iova_make(SZ_1G), SZ_1G);
	assert_int_equal(dom_info(d).table_pages, 1);
	down_attached(d, &u, SID(0, 7, 0));
}

/*
 * Page-selective while one round of batches (one doorbell) holds the
 * chunks, 16 a batch each with its wait; domain-wide beyond.
 */
static void test_unmap_invalidation_granularity(void **state)
{
	struct model_unit_config one = default_cfg(), nopsi = default_cfg();
	uint64_t ram = model_ram_alloc(160 * SZ_4K, SZ_4K);
	uint64_t bells;
	const struct model_unit_stats *st;
	struct vtd_domain *d;
	struct vtd_unit u[2];
	unsigned int idx[2];

	one.cap = with_field(one.cap, VTD_CAP_MAMV, 0); /* one page per desc */
	nopsi.cap &= ~VTD_CAP_PSI;
	idx[0] = add_unit(&one);
	idx[1] = add_unit(&nopsi);
	bring_up(&u[0], idx[0]);
	bring_up(&u[1], idx[1]);

	d = new_domain(&u[0], 39);
	t_attach(d, &u[0], SID(0, 8, 0));
	t_map(d, iova_make(0), hpa_make(ram), 160 * SZ_4K, RW);
	st = model_unit_stats(idx[0]);
	model_reset_stats(idx[0]);
	t_unmap(d, iova_make(0), 16 * SZ_4K);
	assert_int_equal(st->iotlb_page, 16);
	assert_int_equal(st->iotlb_domain, 0);
	model_reset_stats(idx[0]);
	bells = vtd_unit_stats(&u[0])->doorbells;
	t_unmap(d, iova_make(16 * SZ_4K), 17 * SZ_4K);
	assert_int_equal(st->iotlb_page, 17);
	assert_int_equal(st->iotlb_domain, 0);
	assert_int_equal(st->waits, 2);
	assert_int_equal(vtd_unit_stats(&u[0])->doorbells - bells, 1);
	/* 7 batches of 16 fill half the ring of 256 slots: 112 chunks. */
	model_reset_stats(idx[0]);
	t_unmap(d, iova_make(33 * SZ_4K), 113 * SZ_4K);
	assert_int_equal(st->iotlb_page, 0);
	assert_int_equal(st->iotlb_domain, 1);
	t_unmap(d, iova_make(146 * SZ_4K), 14 * SZ_4K);
	t_detach(d, &u[0], SID(0, 8, 0));
	assert_int_equal(vtd_domain_destroy(d), 0);

	d = new_domain(&u[1], 39);
	t_attach(d, &u[1], SID(0, 8, 0));
	t_map(d, iova_make(0), hpa_make(ram), SZ_4K, RW);
	st = model_unit_stats(idx[1]);
	model_reset_stats(idx[1]);
	t_unmap(d, iova_make(0), SZ_4K);
	assert_int_equal(st->iotlb_page, 0);
	assert_int_equal(st->iotlb_domain, 1);
	t_detach(d, &u[1], SID(0, 8, 0));
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u[0]);
	shut_down(&u[1]);
}

/* Caching mode: not-present entries are cached until invalidated. */
static void test_caching_mode(void **state)
{
	struct model_unit_config cfg = default_cfg();
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	struct vtd_domain *d;
	struct vtd_unit u;
	unsigned int idx;

	cfg.cap |= VTD_CAP_CM;
	idx = add_unit(&cfg);
	bring_up(&u, idx);
	d = new_domain(&u, 39);
	assert_int_equal(vtd_domain_did(d, &u), 1);

	/* The device faults before the map: a negative entry is cached. */
	t_attach(d, &u, SID(0, 9, 0));
	assert_int_equal(dma_fill(idx, SID(0, 9, 0), 0x3000, 1, 8), -EFAULT);
	fault_expect(&u, SID(0, 9, 0), 0x3000, 5, true);
	model_reset_stats(idx);
	t_map(d, iova_make(0x3000), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(model_unit_stats(idx)->iotlb_page, 1);
	assert_int_equal(dma_fill(idx, SID(0, 9, 0), 0x3000, 2, 8), 0);
	assert_int_equal(ram_byte(ram), 2);

	/* A not-present context entry is cached (domain id 0) too. */
	assert_int_equal(dma_fill(idx, SID(0, 9, 1), 0x3000, 3, 8), -EFAULT);
	fault_expect(&u, SID(0, 9, 1), 0x3000, 2, true);
	t_attach(d, &u, SID(0, 9, 1));
	assert_int_equal(dma_fill(idx, SID(0, 9, 1), 0x3000, 4, 8), 0);
	assert_int_equal(ram_byte(ram), 4);

	t_unmap(d, iova_make(0x3000), SZ_4K);
	t_detach(d, &u, SID(0, 9, 0));
	down_attached(d, &u, SID(0, 9, 1));
}

static void test_attach_detach_paths(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	/* A conventional PCI device behind a PCIe-to-PCI bridge at 00:1e.0. */
	rid_t ids[2] = {SID(1, 0, 0), SID(0, 30, 0)};
	rid_t dup[2] = {SID(2, 0, 0), SID(2, 0, 0)};
	struct vtd_domain *d, *other;
	struct vtd_unit u;
	unsigned int i;

	bring_up(&u, idx);
	d = new_domain(&u, 39);
	other = new_domain(&u, 39);
	assert_int_not_equal(vtd_domain_did(d, &u), vtd_domain_did(other, &u));
	t_map(d, iova_make(0x4000), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(vtd_attach(d, &u, ids, 2), 0);
	for (i = 0; i < 2; i++) {
		model_expect_attach(idx, ids[i], d);
		assert_int_equal(dma_fill(idx, ids[i], 0x4000, 0x10 + i, 8), 0);
		assert_int_equal(ram_byte(ram), 0x10 + i);
	}
	assert_int_equal(vtd_attach(d, &u, ids, 1), -EBUSY);
	assert_int_equal(vtd_attach(other, &u, &ids[1], 1), -EBUSY);
	assert_int_equal(vtd_detach(other, &u, ids, 1), -EINVAL);
	assert_int_equal(vtd_domain_destroy(d), -EBUSY);
	assert_int_equal(vtd_attach(d, &u, dup, 2), -EINVAL);
	assert_int_equal(vtd_attach(d, &u, ids, 0), -EINVAL);

	/* Move the bridge alias to the other domain: blocked in between. */
	t_detach(d, &u, ids[1]);
	assert_int_equal(dma_fill(idx, ids[1], 0x4000, 0x20, 8), -EFAULT);
	fault_expect(&u, ids[1], 0x4000, 2, true);
	t_attach(other, &u, ids[1]);
	assert_int_equal(dma_fill(idx, ids[1], 0x4000, 0x21, 8), -EFAULT);
	fault_expect(&u, ids[1], 0x4000, 5, true);
	assert_int_equal(ram_byte(ram), 0x11);
	t_detach(other, &u, ids[1]);
	assert_int_equal(vtd_detach(d, &u, ids, 2), -EINVAL);
	t_detach(d, &u, ids[0]);
	assert_int_equal(dma_fill(idx, ids[0], 0x4000, 0x22, 8), -EFAULT);
	fault_expect(&u, ids[0], 0x4000, 2, true);

	t_unmap(d, iova_make(0x4000), SZ_4K);
	assert_int_equal(vtd_domain_destroy(d), 0);
	assert_int_equal(vtd_domain_destroy(other), 0);
	shut_down(&u);
}

/* An RMRR device keeps working from the instant TE is set. */
static void test_rmrr_before_enable(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t rmrr = model_ram_alloc(3 * SZ_4K, SZ_4K);
	rid_t usb = SID(0, 20, 0);
	struct vtd_domain *d;
	struct vtd_unit u;

	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), NULL), 0);
	d = new_domain(&u, 39);
	assert_int_equal(vtd_domain_map(d, iova_make(rmrr), hpa_make(rmrr),
					3 * SZ_4K,
					VTD_PROT_READ | VTD_PROT_WRITE),
			 0);
	assert_int_equal(vtd_attach(d, &u, &usb, 1), 0);
	model_expect_attach(idx, usb, d);
	model_expect_map(d, rmrr, rmrr, 3 * SZ_4K, RW);
	assert_int_equal(vtd_unit_enable(&u), 0);

	assert_int_equal(dma_fill(idx, usb, rmrr + 0x2100, 0x99, 8), 0);
	assert_int_equal(ram_byte(rmrr + 0x2100), 0x99);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 0);
	assert_int_equal(dma_fill(idx, SID(0, 21, 0), rmrr, 0x98, 8), -EFAULT);
	fault_expect(&u, SID(0, 21, 0), rmrr, 2, true);

	down_attached(d, &u, usb);
}

/* One domain on two different units: capabilities intersected. */
static void test_domain_spans_units(void **state)
{
	struct model_unit_config a = default_cfg(), b = default_cfg();
	uint64_t ram = model_ram_alloc(SZ_2M, SZ_2M);
	struct vtd_unit u[2];
	struct vtd_unit *units[2] = {&u[0], &u[1]};
	struct vtd_domain *d;
	unsigned int idx[2], i;

	b.cap |= VTD_CAP_CM;
	b.cap = with_field(b.cap, VTD_CAP_SAGAW, 0x6);
	b.cap = with_field(b.cap, VTD_CAP_SLLPS, VTD_SLLPS_2M);
	b.ecap |= VTD_ECAP_C;
	idx[0] = add_unit(&a);
	idx[1] = add_unit(&b);
	bring_up(&u[0], idx[0]);
	bring_up(&u[1], idx[1]);
	assert_int_equal(vtd_domain_create(units, 2, 39, &d), 0);
	assert_int_equal(dom_info(d).levels, 3);
	assert_int_equal(dom_info(d).page_sizes, VTD_PAGE_4K | VTD_PAGE_2M);
	assert_false(dom_info(d).coherent);
	assert_int_equal(vtd_domain_did(d, &u[0]), 0);
	assert_int_equal(vtd_domain_did(d, &u[1]), 1);

	t_attach(d, &u[0], SID(0, 1, 0));
	t_attach(d, &u[1], SID(3, 0, 0));
	t_map(d, iova_make(0), hpa_make(ram), SZ_2M, RW);
	for (i = 0; i < 2; i++) {
		assert_int_equal(dma_fill(idx[i],
					  i ? SID(3, 0, 0) : SID(0, 1, 0),
					  0x1000 * i, 0x30 + i, 8),
				 0);
		assert_int_equal(ram_byte(ram + 0x1000 * i), 0x30 + i);
		model_reset_stats(idx[i]);
	}
	t_unmap(d, iova_make(0), SZ_2M);
	for (i = 0; i < 2; i++) {
		assert_int_equal(model_unit_stats(idx[i])->iotlb_page, 1);
		assert_int_equal(dma_fill(idx[i],
					  i ? SID(3, 0, 0) : SID(0, 1, 0), 0, 0,
					  8),
				 -EFAULT);
		fault_expect(&u[i], i ? SID(3, 0, 0) : SID(0, 1, 0), 0, 5,
			     true);
	}
	t_detach(d, &u[0], SID(0, 1, 0));
	t_detach(d, &u[1], SID(3, 0, 0));
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u[0]);
	shut_down(&u[1]);
}

static void test_domain_ids_run_out(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_domain *d[16], *extra;
	struct vtd_unit u, *up = &u;
	unsigned int i, idx;

	cfg.cap = with_field(cfg.cap, VTD_CAP_ND, 0) | VTD_CAP_CM;
	idx = add_unit(&cfg);
	bring_up(&u, idx);
	for (i = 0; i < 15; i++)
		d[i] = new_domain(&u, 39);
	assert_int_equal(vtd_domain_create(&up, 1, 39, &extra), -ENOSPC);
	for (i = 0; i < 15; i++)
		assert_int_equal(vtd_domain_destroy(d[i]), 0);
	shut_down(&u);
}

/* ---- the model itself: stale caches and invariant checks ---- */

/*
 * Programmed behind the driver's back, the model keeps serving cached
 * translations and context entries until the right invalidation: the
 * property that makes a missing or wrong invalidation visible.
 */
static void test_model_stale_until_invalidated(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t a = model_ram_alloc(SZ_4K, SZ_4K),
		 b = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 12, 0);
	struct vtd_context_entry *ce;
	struct vtd_qi_desc inv[2];
	struct vtd_domain *d;
	struct vtd_unit u;
	uint16_t did;
	uint64_t lo;

	bring_up(&u, idx);
	d = new_domain(&u, 39);
	did = (uint16_t)vtd_domain_did(d, &u);
	t_attach(d, &u, sid);
	t_map(d, iova_make(0x7000), hpa_make(a), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x11, 8), 0);

	/* Repoint the leaf without invalidating: the old page is still used. */
	poke(leaf_entry(d, 0x7000), b | VTD_SL_R | VTD_SL_W);
	model_expect_unmap(d, 0x7000, SZ_4K);
	model_expect_map(d, 0x7000, b, SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x22, 8), 0);
	assert_int_equal(ram_byte(a), 0x22);
	assert_int_equal(ram_byte(b), 0);
	assert_true(model_violation_seen("isolation broken"));
	model_clear_violations();
	/* A wrong invalidation (another domain id) changes nothing. */
	assert_int_equal(vtd_qi_flush_ranges(
				 &u, did + 1,
				 &(struct vtd_range){iova_make(0x7000), SZ_4K},
				 1, NULL),
			 0);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x33, 8), 0);
	assert_int_equal(ram_byte(a), 0x33);
	model_clear_violations();
	/* The right one does. */
	assert_int_equal(vtd_qi_flush_ranges(
				 &u, did,
				 &(struct vtd_range){iova_make(0x7000), SZ_4K},
				 1, NULL),
			 0);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x44, 8), 0);
	assert_int_equal(ram_byte(b), 0x44);
	assert_int_equal(ram_byte(a), 0x33);

	/* A cleared context entry keeps working from the caches... */
	ce = vtd_context_get(&u, sid, false);
	lo = ce->lo;
	poke(&ce->lo, 0);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x55, 8), 0);
	/* ...until the context cache and then the IOTLB are invalidated. */
	inv[0] = vtd_desc_cc_device(did, sid);
	assert_int_equal(vtd_qi_submit(&u, inv, 1, NULL), 0);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x66, 8), -EFAULT);
	fault_expect(&u, sid, 0x7000, 2, true);
	inv[0] = vtd_desc_cc_device(did, sid);
	inv[1] = vtd_desc_iotlb_domain(&u, did);
	poke(&ce->lo, lo);
	assert_int_equal(vtd_qi_submit(&u, inv, 2, NULL), 0);
	assert_int_equal(dma_fill(idx, sid, 0x7000, 0x77, 8), 0);
	assert_int_equal(ram_byte(b), 0x77);

	t_unmap(d, iova_make(0x7000), SZ_4K);
	down_attached(d, &u, sid);
}

/* docs/design.md, invariant 5, as the model checks it. */
static void test_model_catches_in_place_context_rewrite(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 13, 0);
	struct vtd_context_entry *ce, saved;
	struct vtd_domain *d, *other;
	struct vtd_qi_desc inv[2];
	struct vtd_unit u;

	bring_up(&u, idx);
	d = new_domain(&u, 39);
	other = new_domain(&u, 39);
	t_attach(d, &u, sid);
	t_map(d, iova_make(0x1000), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 0x1000, 1, 8), 0);

	/* Switch domains in place, present all along. */
	ce = vtd_context_get(&u, sid, false);
	saved = *ce;
	poke(&ce->hi, field_set64(VTD_CTX_HI_DID, ce->hi,
				  (uint64_t)vtd_domain_did(other, &u)));
	poke(&ce->lo, other->pt.root_pa | VTD_CTX_LO_P);
	inv[0] = vtd_desc_cc_global();
	inv[1] = vtd_desc_iotlb_global(&u);
	assert_int_equal(vtd_qi_submit(&u, inv, 2, NULL), 0);
	assert_true(model_violation_seen("changed while present"));
	model_clear_violations();

	/* Put it back the proper way: not present, invalidate, rewrite. */
	poke(&ce->lo, 0);
	assert_int_equal(vtd_qi_submit(&u, inv, 2, NULL), 0);
	poke(&ce->hi, saved.hi);
	poke(&ce->lo, saved.lo);
	assert_int_equal(dma_fill(idx, sid, 0x1000, 2, 8), 0);
	assert_int_equal(model_violations(), 0);

	/*
	 * Present before the body: two stores and then one flush look
	 * atomic to a walk, but the unit may read between any two stores.
	 */
	poke(&ce->lo, 0);
	assert_int_equal(vtd_qi_submit(&u, inv, 2, NULL), 0);
	poke(&ce->hi, 0);
	hw_table_write(&ce->lo, saved.lo);
	hw_table_write(&ce->hi, saved.hi);
	hw_cache_flush(ce, sizeof(*ce));
	assert_true(model_violation_seen("changed while present"));
	model_clear_violations();

	t_unmap(d, iova_make(0x1000), SZ_4K);
	t_detach(d, &u, sid);
	assert_int_equal(vtd_domain_destroy(d), 0);
	assert_int_equal(vtd_domain_destroy(other), 0);
	shut_down(&u);
}

/*
 * Unlinking tables without the invalidation: DMA still gets through, and
 * freeing the tables is caught as a page the unit can still reach.
 */
static void test_model_catches_missing_invalidation(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 14, 0);
	struct vtd_freelist fl = {0};
	struct vtd_domain *d;
	struct vtd_unit u;
	uint64_t unmapped;

	d = up_attached(&u, idx, 39, sid);
	t_map(d, iova_make(3 * SZ_1G), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 3 * SZ_1G, 1, 8), 0);

	assert_int_equal(vtd_pgtable_unmap(&d->pt, iova_make(3 * SZ_1G), SZ_4K,
					   &unmapped, &fl),
			 0);
	model_expect_unmap(d, 3 * SZ_1G, SZ_4K);
	assert_int_equal(fl.count, 2);
	assert_int_equal(dma_fill(idx, sid, 3 * SZ_1G, 2, 8), 0);
	assert_true(model_violation_seen("isolation broken"));
	vtd_freelist_release(&fl);
	assert_true(model_violation_seen("freed while the IOTLB still caches"));
	model_clear_violations();

	down_attached(d, &u, sid);
}

/* A unit that does not snoop its walks sees only what was flushed. */
static void test_model_noncoherent_sees_only_flushed(void **state)
{
	struct model_unit_config nc = default_cfg(), co = default_cfg();
	uint64_t ram = model_ram_alloc(2 * SZ_4K, SZ_4K);
	rid_t sid = SID(0, 15, 0);
	struct vtd_domain *d;
	struct vtd_unit u[2];
	unsigned int idx[2], i;
	uint64_t *pte;

	co.ecap |= VTD_ECAP_C;
	idx[0] = add_unit(&nc);
	idx[1] = add_unit(&co);
	for (i = 0; i < 2; i++) {
		bring_up(&u[i], idx[i]);
		d = new_domain(&u[i], 39);
		t_attach(d, &u[i], sid);
		t_map(d, iova_make(0x1000), hpa_make(ram), SZ_4K, RW);
		/* A new entry written, not flushed. */
		pte = leaf_entry(d, 0x2000);
		*pte = (ram + SZ_4K) | VTD_SL_R | VTD_SL_W;
		model_expect_map(d, 0x2000, ram + SZ_4K, SZ_4K, RW);
		if (i == 0) {
			assert_int_equal(dma_fill(idx[i], sid, 0x2000, 5, 8),
					 -EFAULT);
			assert_true(model_violation_seen("not flushed"));
			model_clear_violations();
			fault_expect(&u[i], sid, 0x2000, 5, true);
			hw_cache_flush(pte, sizeof(*pte));
		}
		assert_int_equal(dma_fill(idx[i], sid, 0x2000, 6, 8), 0);
		assert_int_equal(ram_byte(ram + SZ_4K), 6);
		t_unmap(d, iova_make(0x1000), 2 * SZ_4K);
		t_detach(d, &u[i], sid);
		assert_int_equal(vtd_domain_destroy(d), 0);
		shut_down(&u[i]);
	}
}

/* ---- deadlines, queue errors, reclaim ---- */

static void test_gcmd_handshake_deadline(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_unit u;
	uint64_t t0, spent;
	unsigned int idx;

	cfg.gsts_stuck = VTD_GSTS_TES;
	idx = add_unit(&cfg);
	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), NULL), 0);
	t0 = model_now();
	assert_int_equal(vtd_unit_enable(&u), -ETIMEDOUT);
	spent = model_now() - t0;
	assert_true(spent >= vtd_unit_deadline_ns(&u, VTD_DEADLINE_REG));
	assert_true(spent <
		    vtd_unit_deadline_ns(&u, VTD_DEADLINE_REG) + 100000);
	assert_int_equal(vtd_unit_stats(&u)->timeouts, 1);
	assert_int_equal(model_log_count("did not complete within 10000 us"),
			 1);
	assert_int_not_equal(u.state, VTD_UNIT_ON);
	assert_int_equal(vtd_unit_enable(&u), -EBUSY);

	/* The hardware finally answers; the unit can be shut down cleanly. */
	model_unstick(idx);
	shut_down(&u);
}

static void test_qi_deadline(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 16, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	uint64_t t0, spent;

	d = up_attached(&u, idx, 39, sid);
	t_map(d, iova_make(0x1000), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 0x1000, 1, 8), 0);

	model_qi_stall(idx, true);
	t0 = model_now();
	assert_int_equal(vtd_domain_unmap(d, iova_make(0x1000), SZ_4K),
			 -ETIMEDOUT);
	spent = model_now() - t0;
	assert_true(spent >= vtd_unit_deadline_ns(&u, VTD_DEADLINE_IOTLB));
	assert_true(spent <
		    vtd_unit_deadline_ns(&u, VTD_DEADLINE_IOTLB) + 100000);
	assert_int_equal(vtd_unit_stats(&u)->timeouts, 1);
	/* Not complete: the device may still reach the page. */
	assert_int_equal(dma_fill(idx, sid, 0x1000, 2, 8), 0);

	/* Late completion: only then is the page out of reach. */
	model_qi_stall(idx, false);
	model_expect_unmap(d, 0x1000, SZ_4K);
	assert_int_equal(dma_fill(idx, sid, 0x1000, 3, 8), -EFAULT);
	fault_expect(&u, sid, 0x1000, 5, true);

	down_attached(d, &u, sid);
}

/*
 * IQE on the unmap's invalidation: the driver replaces the descriptor,
 * restarts the queue and fails the unmap; the range stays reachable and
 * its table pages stay allocated until a flush succeeds.
 */
static void test_iqe_returns_error(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 17, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	uint64_t t0, pages;

	d = up_attached(&u, idx, 39, sid);
	t_map(d, iova_make(2 * SZ_1G), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 2 * SZ_1G, 1, 8), 0);
	pages = model_table_pages();

	model_inject_iqe(idx, 0, VTD_IQEI_RSVD);
	t0 = model_now();
	assert_int_equal(vtd_domain_unmap(d, iova_make(2 * SZ_1G), SZ_4K),
			 -EIO);
	assert_true(model_now() - t0 < 1000000);
	assert_int_equal(
		model_log_count(
			"invalidation queue error (IQEI 4, reserved field set)"),
		1);
	assert_int_equal(vtd_unit_stats(&u)->iqe, 1);
	assert_true(vtd_qi_idle(&u));
	/* The invalidation never ran: the stale translation still serves. */
	assert_int_equal(dma_fill(idx, sid, 2 * SZ_1G, 2, 8), 0);
	assert_int_equal(ram_byte(ram), 2);
	assert_int_equal(model_table_pages(), pages);
	assert_int_not_equal(dom_info(d).deferred, 0);

	assert_int_equal(vtd_domain_flush(d), 0);
	assert_int_equal(dom_info(d).deferred, 0);
	assert_int_equal(model_table_pages(), pages - 2);
	model_expect_unmap(d, 2 * SZ_1G, SZ_4K);
	assert_int_equal(dma_fill(idx, sid, 2 * SZ_1G, 3, 8), -EFAULT);
	fault_expect(&u, sid, 2 * SZ_1G, 5, true);

	down_attached(d, &u, sid);
}

/* A detach whose invalidation times out stays retryable and blocks reuse. */
static void test_detach_retry_after_timeout(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 19, 0);
	struct vtd_domain *d, *other;
	struct vtd_unit u;

	bring_up(&u, idx);
	d = new_domain(&u, 39);
	other = new_domain(&u, 39);
	t_attach(d, &u, sid);
	t_map(d, iova_make(0x1000), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 0x1000, 1, 8), 0);

	model_qi_stall(idx, true);
	assert_int_equal(vtd_detach(d, &u, &sid, 1), -ETIMEDOUT);
	assert_int_equal(vtd_domain_destroy(d), -EBUSY);
	assert_int_equal(vtd_attach(other, &u, &sid, 1), -EBUSY);
	model_qi_stall(idx, false);
	t_detach(d, &u, sid);
	assert_int_equal(dma_fill(idx, sid, 0x1000, 2, 8), -EFAULT);
	fault_expect(&u, sid, 0x1000, 2, true);
	t_attach(other, &u, sid);

	t_detach(other, &u, sid);
	t_unmap(d, iova_make(0x1000), SZ_4K);
	assert_int_equal(vtd_domain_destroy(d), 0);
	assert_int_equal(vtd_domain_destroy(other), 0);
	shut_down(&u);
}

/* Table pages are freed only once the invalidation covering them passed. */
static void test_reclaim_after_completion(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx;
	uint64_t ram = model_ram_alloc(2 * SZ_4K, SZ_4K);
	rid_t sid = SID(0, 18, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	uint64_t pages;

	cfg.qi_latency_ns = 50000; /* waits really wait */
	idx = add_unit(&cfg);
	d = up_attached(&u, idx, 39, sid);
	pages = model_table_pages();
	t_map(d, iova_make(4 * SZ_1G), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 4 * SZ_1G, 1, 8), 0);
	assert_int_equal(model_table_pages(), pages + 2);
	t_unmap(d, iova_make(4 * SZ_1G), SZ_4K);
	assert_int_equal(model_table_pages(), pages);

	/* A stalled invalidation: the pages stay until it completes. */
	t_map(d, iova_make(4 * SZ_1G), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, 4 * SZ_1G, 2, 8), 0);
	model_qi_stall(idx, true);
	assert_int_equal(vtd_domain_unmap(d, iova_make(4 * SZ_1G), SZ_4K),
			 -ETIMEDOUT);
	assert_int_equal(model_table_pages(), pages + 2);
	model_qi_stall(idx, false);
	model_advance(1000000);
	model_expect_unmap(d, 4 * SZ_1G, SZ_4K);
	/* The next operation reaps them (and makes two tables of its own). */
	t_map(d, iova_make(0), hpa_make(ram + SZ_4K), SZ_4K, RW);
	assert_int_equal(model_table_pages(), pages + 2);
	assert_int_equal(dom_info(d).deferred, 0);

	t_unmap(d, iova_make(0), SZ_4K);
	down_attached(d, &u, sid);
}

/*
 * A map that fails after writing its entries takes them back itself: the
 * range is not reachable when it returns, on a caching-mode unit whose
 * invalidation fails, and next to existing leaves that a merge would have
 * folded into a superpage, with no memory left to split it again.
 */
static void test_map_error_rolls_back(void **state)
{
	struct model_unit_config cfg = default_cfg();
	uint64_t ram = model_ram_alloc(4 * SZ_2M, SZ_2M), x = 32 * SZ_2M;
	rid_t sid = SID(0, 9, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	unsigned int idx;

	cfg.cap |= VTD_CAP_CM;
	idx = add_unit(&cfg);
	d = up_attached(&u, idx, 39, sid);
	t_map(d, iova_make(0x5000), hpa_make(ram), SZ_4K, RW);
	model_inject_iqe(idx, 0, VTD_IQEI_RSVD);
	assert_int_equal(
		vtd_domain_map(d, iova_make(0x3000), hpa_make(ram), SZ_4K, RW),
		-EIO);
	assert_int_equal(dma_fill(idx, sid, 0x3000, 1, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	assert_int_equal(dma_fill(idx, sid, 0x5000, 2, 8), 0);

	/* [x, x + 1M) and [x + 2M, + 4K) mapped; then [x + 1M, x + 2M + 4K). */
	t_map(d, iova_make(x), hpa_make(ram), SZ_2M / 2, RW);
	t_map(d, iova_make(x + SZ_2M), hpa_make(ram + SZ_2M), SZ_4K, RW);
	model_page_alloc_fail(true);
	assert_int_equal(vtd_domain_map(d, iova_make(x + SZ_2M / 2),
					hpa_make(ram + SZ_2M / 2),
					SZ_2M / 2 + SZ_4K, RW),
			 -EEXIST);
	model_page_alloc_fail(false);
	assert_int_equal(dma_fill(idx, sid, x + SZ_2M / 2, 3, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	assert_int_equal(dma_fill(idx, sid, x + SZ_2M - SZ_4K, 3, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	assert_int_equal(dma_fill(idx, sid, x + SZ_2M / 2 - SZ_4K, 4, 8), 0);
	assert_int_equal(dma_fill(idx, sid, x + SZ_2M, 5, 8), 0);

	t_unmap(d, iova_make(x), SZ_2M / 2);
	t_unmap(d, iova_make(x + SZ_2M), SZ_4K);
	t_unmap(d, iova_make(0x5000), SZ_4K);
	t_detach(d, &u, sid);
	assert_int_equal(vtd_domain_flush(d), 0);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

/*
 * One unmap of many pages, each cached by a DMA before: every page faults
 * afterwards, at any alignment (page-selective invalidations cover the
 * whole range, both halves of every chunk).
 */
static void test_unmap_range_every_page(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg), i, c;
	uint64_t ram = model_ram_alloc(64 * SZ_4K, SZ_4K);
	static const uint64_t starts[] = {0x10000, 0x23000};
	static const unsigned int counts[] = {16, 37};
	rid_t sid = SID(0, 21, 0);
	struct vtd_domain *d;
	struct vtd_unit u;

	d = up_attached(&u, idx, 39, sid);
	for (c = 0; c < 2; c++) {
		t_map(d, iova_make(starts[c]), hpa_make(ram), counts[c] * SZ_4K,
		      RW);
		for (i = 0; i < counts[c]; i++)
			assert_int_equal(
				dma_fill(idx, sid, starts[c] + i * SZ_4K, 1, 8),
				0);
		t_unmap(d, iova_make(starts[c]), counts[c] * SZ_4K);
		for (i = 0; i < counts[c]; i++) {
			assert_int_equal(
				dma_fill(idx, sid, starts[c] + i * SZ_4K, 2, 8),
				-EFAULT);
			assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
		}
	}
	down_attached(d, &u, sid);
}

/*
 * A merge needs all 512 entries: 511 contiguous pages and a last one
 * elsewhere stay 4K leaves, and the last page reaches its own memory.
 */
static void test_merge_needs_every_entry(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(2 * SZ_2M, SZ_2M);
	uint64_t x = 8 * SZ_2M, last = x + SZ_2M - SZ_4K;
	rid_t sid = SID(0, 22, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	struct map_log log;

	d = up_attached(&u, idx, 39, sid);
	t_map(d, iova_make(x), hpa_make(ram), SZ_2M - SZ_4K, RW);
	t_map(d, iova_make(last), hpa_make(ram + SZ_2M), SZ_4K, RW);
	log = mappings(d);
	assert_int_equal(log.count, 2);
	assert_int_equal(log.m[0].page_size, SZ_4K);
	assert_int_equal(hpa_val(log.m[1].hpa), ram + SZ_2M);
	assert_int_equal(dma_fill(idx, sid, last, 0x5a, 8), 0);
	assert_int_equal(ram_byte(ram + SZ_2M), 0x5a);
	assert_int_equal(ram_byte(ram + SZ_2M - SZ_4K), 0);
	/* Read-only last page: same address, other rights, no merge either. */
	t_unmap(d, iova_make(last), SZ_4K);
	t_map(d, iova_make(last), hpa_make(ram + SZ_2M - SZ_4K), SZ_4K,
	      VTD_PROT_READ);
	log = mappings(d);
	assert_int_equal(log.count, 2);
	assert_int_equal(dma_fill(idx, sid, last, 0x5b, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	t_unmap(d, iova_make(x), SZ_2M);
	down_attached(d, &u, sid);
}

/*
 * A merge that completes the run of the table above: the last 4K page of
 * a 1 GiB range mapped as 511 2 MiB leaves and 511 4K pages folds its
 * table into a 2 MiB leaf, and that leaf's table into a 1 GiB leaf, in
 * the same walk (pgtable.c, vtd_pgtable_merge()), which leaves no merge
 * asked for behind it.
 */
static void test_merge_cascades(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_1G, SZ_1G);
	uint64_t x = 2 * SZ_1G, last = SZ_1G - SZ_4K, pages;
	rid_t sid = SID(0, 25, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	struct map_log log;

	d = up_attached(&u, idx, 39, sid);
	pages = dom_info(d).table_pages;
	t_map(d, iova_make(x), hpa_make(ram), last, RW);
	assert_int_equal(dom_info(d).table_pages, pages + 2);
	t_map(d, iova_make(x + last), hpa_make(ram + last), SZ_4K, RW);
	assert_int_equal(dom_info(d).table_pages, pages);
	log = mappings(d);
	assert_int_equal(log.count, 1);
	assert_int_equal(log.m[0].page_size, SZ_1G);
	assert_false(d->pt.merge_pending);
	assert_int_equal(dma_fill(idx, sid, x + last, 0x5e, 8), 0);
	assert_int_equal(ram_byte(ram + last), 0x5e);
	t_unmap(d, iova_make(x), SZ_1G);
	down_attached(d, &u, sid);
}

/*
 * Ranges within one level-1 table (pgtable.c, map_one_table()): walked
 * down to without map_level(), refused at a large leaf on the way, the
 * table remembered from its entry 0, merged once its 512 leaves form one
 * run; a range one 2 MiB leaf maps takes that leaf at once, with nothing
 * to fold and so nothing to invalidate on a unit not in caching mode.
 */
static void test_map_within_one_table(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(2 * SZ_2M, SZ_2M);
	uint64_t ram1g = model_ram_alloc(SZ_1G, SZ_1G);
	uint64_t x = 16 * SZ_2M, half = SZ_2M / 2, pages, desc;
	rid_t sid = SID(0, 23, 0);
	struct vtd_domain *d;
	struct vtd_unit u;
	struct map_log log;

	d = up_attached(&u, idx, 39, sid);

	/* One 2 MiB leaf: no level-1 table, no invalidation. */
	desc = vtd_unit_stats(&u)->descriptors;
	t_map(d, iova_make(x), hpa_make(ram), SZ_2M, RW);
	assert_int_equal(vtd_unit_stats(&u)->descriptors, desc);
	log = mappings(d);
	assert_int_equal(log.count, 1);
	assert_int_equal(log.m[0].page_size, SZ_2M);

	/* Inside that leaf, or inside a 1 GiB one: refused, nothing changed. */
	pages = dom_info(d).table_pages;
	assert_int_equal(vtd_domain_map(d, iova_make(x + SZ_4K),
					hpa_make(ram + SZ_2M), SZ_4K, RW),
			 -EEXIST);
	t_map(d, iova_make(SZ_1G), hpa_make(ram1g), SZ_1G, RW);
	assert_int_equal(vtd_domain_map(d, iova_make(SZ_1G + SZ_2M),
					hpa_make(ram + SZ_2M), 2 * SZ_4K, RW),
			 -EEXIST);
	assert_int_equal(dom_info(d).table_pages, pages);
	log = mappings(d);
	assert_int_equal(log.count, 2);
	assert_int_equal(log.m[0].page_size, SZ_2M);
	assert_int_equal(log.m[1].page_size, SZ_1G);
	t_unmap(d, iova_make(SZ_1G), SZ_1G);
	t_unmap(d, iova_make(x), SZ_2M);

	/*
	 * Two pages from the middle of a fresh table, then one in the next
	 * table: it lands there, not at the same offset of the first.
	 */
	t_map(d, iova_make(x + half), hpa_make(ram), 2 * SZ_4K, RW);
	t_map(d, iova_make(x + SZ_2M + SZ_4K), hpa_make(ram + SZ_2M), SZ_4K,
	      RW);
	log = mappings(d);
	assert_int_equal(log.count, 2);
	assert_int_equal(iova_val(log.m[0].iova), x + half);
	assert_int_equal(iova_val(log.m[1].iova), x + SZ_2M + SZ_4K);
	assert_int_equal(dma_fill(idx, sid, x + SZ_2M + SZ_4K, 0x5c, 8), 0);
	assert_int_equal(ram_byte(ram + SZ_2M), 0x5c);
	assert_int_equal(dma_fill(idx, sid, x + SZ_4K, 0x5d, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	t_unmap(d, iova_make(x + half), 2 * SZ_4K);
	t_unmap(d, iova_make(x + SZ_2M + SZ_4K), SZ_4K);

	/* Two halves of one aligned run: the second completes it, a merge. */
	t_map(d, iova_make(x), hpa_make(ram), half, RW);
	pages = dom_info(d).table_pages;
	t_map(d, iova_make(x + half), hpa_make(ram + half), half, RW);
	assert_int_equal(dom_info(d).table_pages, pages - 1);
	log = mappings(d);
	assert_int_equal(log.count, 1);
	assert_int_equal(log.m[0].page_size, SZ_2M);
	t_unmap(d, iova_make(x), SZ_2M);
	down_attached(d, &u, sid);
}

/*
 * A range across two level-1 tables (map_level(), not map_one_table()),
 * on a unit that does not snoop its walks (the default): every entry it
 * wrote in either table was flushed, 16 in each, two cache lines' worth,
 * so each page is reached.
 */
static void test_map_across_tables_flushed(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg), i;
	uint64_t ram = model_ram_alloc(32 * SZ_4K, SZ_4K);
	uint64_t x = 20 * SZ_2M - 16 * SZ_4K;
	rid_t sid = SID(0, 24, 0);
	struct vtd_domain *d;
	struct vtd_unit u;

	d = up_attached(&u, idx, 39, sid);
	t_map(d, iova_make(x), hpa_make(ram), 32 * SZ_4K, RW);
	for (i = 0; i < 32; i++) {
		assert_int_equal(dma_fill(idx, sid, x + i * SZ_4K, 0x40 + i, 8),
				 0);
		assert_int_equal(ram_byte(ram + i * SZ_4K), 0x40 + i);
	}
	t_unmap(d, iova_make(x), 32 * SZ_4K);
	down_attached(d, &u, sid);
}

static void test_qi_sequence_wraps(void **state)
{
	struct model_unit_config cfg = default_cfg();
	unsigned int idx = add_unit(&cfg), i;
	struct vtd_unit u;
	uint32_t seq;

	bring_up(&u, idx);
	u.qi.seq = UINT32_MAX - 2;
	for (i = 0; i < 5; i++) {
		assert_int_equal(
			vtd_qi_flush_ranges(
				&u, 0, &(struct vtd_range){iova_make(0), SZ_4K},
				1, &seq),
			0);
		assert_int_not_equal(seq, 0);
	}
	assert_int_equal(seq, 3); /* MAX-1, MAX, then 1, 2, 3 */
	assert_true(vtd_qi_passed(&u, UINT32_MAX - 1));
	assert_true(vtd_qi_passed(&u, 3));
	assert_false(vtd_qi_passed(&u, 4));
	/* Many batches: slots are reused only after they passed. */
	for (i = 0; i < 300; i++)
		assert_int_equal(
			vtd_qi_flush_ranges(
				&u, 0, &(struct vtd_range){iova_make(0), SZ_4K},
				1, NULL),
			0);
	assert_true(vtd_qi_idle(&u));
	shut_down(&u);
}

/* ---- faults ---- */

static void test_faults_wrap_and_overflow(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct fault_log log = {0};
	struct vtd_unit u;
	unsigned int idx, i;

	cfg.cap = with_field(cfg.cap, VTD_CAP_NFR, 3); /* 4 records */
	idx = add_unit(&cfg);
	bring_up(&u, idx);

	for (i = 0; i < 3; i++)
		dma_fill(idx, SID(1, i, 0), 0x1000 * i, 0, 8);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rid_val(log.f[i].sid), rid_val(SID(1, i, 0)));
		assert_int_equal(iova_val(log.f[i].addr), 0x1000 * i);
		assert_string_equal(log.f[i].text, "root entry not present");
	}

	/* Records 3, 0, 1: FRI is 3 and the walk wraps. */
	memset(&log, 0, sizeof(log));
	for (i = 3; i < 6; i++)
		model_dma_read(idx, SID(1, i, 0), 0x1000 * i, &log, 1);
	memset(&log, 0, sizeof(log));
	assert_int_equal(hw_mmio_read32(BASE(idx) + VTD_FSTS_REG) >> 8 & 0xff,
			 3);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rid_val(log.f[i].sid),
				 rid_val(SID(1, 3 + i, 0)));
		assert_false(log.f[i].write);
	}

	/* Six faults into four records: two lost, overflow reported. */
	memset(&log, 0, sizeof(log));
	for (i = 0; i < 6; i++)
		dma_fill(idx, SID(2, i, 0), 0, 0, 8);
	assert_int_equal(model_unit_stats(idx)->faults_lost, 2);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 4);
	assert_int_equal(rid_val(log.f[0].sid), rid_val(SID(2, 0, 0)));
	assert_int_equal(rid_val(log.f[3].sid), rid_val(SID(2, 3, 0)));
	assert_int_equal(model_log_count("overflowed"), 1);
	assert_int_equal(hw_mmio_read32(BASE(idx) + VTD_FSTS_REG) &
				 (VTD_FSTS_PFO | VTD_FSTS_PPF),
			 0);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 0);
	assert_int_equal(vtd_unit_stats(&u)->faults, 10);
	shut_down(&u);
}

static void test_fault_log_rate_limited(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct fault_log log = {0};
	struct vtd_unit u;
	unsigned int idx, i;

	cfg.cap = with_field(cfg.cap, VTD_CAP_NFR, 15);
	idx = add_unit(&cfg);
	bring_up(&u, idx);
	model_log_clear();
	for (i = 0; i < 12; i++)
		dma_fill(idx, SID(4, 1, 0), 0x1000 * i, 0, 8);
	dma_fill(idx, SID(4, 2, 0), 0, 0, 8);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 13);
	assert_int_equal(log.count, 13);
	assert_int_equal(model_log_count("fault sid 04:01.0"), 5);
	assert_int_equal(model_log_count("fault sid 04:02.0"), 1);

	model_advance(2000000000);
	dma_fill(idx, SID(4, 1, 0), 0, 0, 8);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	assert_int_equal(model_log_count("7 more faults from sid 04:01.0"), 1);
	assert_int_equal(model_log_count("fault sid 04:01.0"), 6);
	shut_down(&u);
}

/*
 * The fault event (VT-d spec 7.3): masked at takeover even where a
 * previous owner left it on, then aimed at the kernel's vector and APIC (x2APIC
 * id: its upper bits in FEUADDR) and unmasked; with no vector it stays masked.
 */
static void test_fault_event_programmed(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_config vc;
	struct vtd_unit u;
	unsigned int idx;
	uint64_t base;

	idx = add_unit(&cfg);
	base = BASE(idx);
	vtd_config_default(&vc);
	assert_int_equal(vtd_unit_init(&u, idx, 0, base, &vc), 0);
	assert_int_equal(vtd_unit_enable(&u), 0);
	hw_mmio_write32(base + VTD_FECTL_REG,
			0); /* as a previous owner left it */
	vtd_fault_clear_stale(&u);
	vtd_fault_event_enable(&u);
	assert_int_equal(hw_mmio_read32(base + VTD_FECTL_REG), VTD_FECTL_IM);

	u.cfg.fault_vector = 0x21;
	u.cfg.fault_apic = 0x1234;
	vtd_fault_event_enable(&u);
	assert_int_equal(hw_mmio_read32(base + VTD_FEDATA_REG), 0x21);
	assert_int_equal(hw_mmio_read32(base + VTD_FEADDR_REG), 0xfee34000U);
	assert_int_equal(hw_mmio_read32(base + VTD_FEUADDR_REG), 0x1200U);
	assert_int_equal(hw_mmio_read32(base + VTD_FECTL_REG), 0);
	shut_down(&u);
}

/*
 * Disabling a unit masks its fault event first (FECTL.IM, VT-d spec
 * 11.4.10): whoever gets the unit next has no handler at our vector.
 */
static void test_fault_event_masked_on_disable(void **state)
{
	struct model_unit_config cfg = default_cfg();
	struct vtd_config vc;
	struct vtd_unit u;
	unsigned int idx;
	uint64_t base;

	idx = add_unit(&cfg);
	base = BASE(idx);
	vtd_config_default(&vc);
	vc.fault_vector = 0x21;
	assert_int_equal(vtd_unit_init(&u, idx, 0, base, &vc), 0);
	assert_int_equal(vtd_unit_enable(&u), 0);
	vtd_fault_event_enable(&u);
	assert_int_equal(hw_mmio_read32(base + VTD_FECTL_REG), 0);
	assert_int_equal(vtd_unit_disable(&u), 0);
	assert_int_equal(hw_mmio_read32(base + VTD_FECTL_REG), VTD_FECTL_IM);
	assert_int_equal(hw_mmio_read32(base + VTD_GSTS_REG) & VTD_GSTS_TES, 0);
	vtd_unit_fini(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bringup_default_deny,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_event_programmed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_event_masked_on_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bringup_heterogeneous,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_bad_units, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_takeover_from_firmware,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_unmap_4k, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_overlap_rolls_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_superpages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_and_merge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_unmap_invalidation_granularity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caching_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_attach_detach_paths, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rmrr_before_enable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_domain_spans_units, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_domain_ids_run_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_model_stale_until_invalidated, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_model_catches_in_place_context_rewrite, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_model_catches_missing_invalidation, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_model_noncoherent_sees_only_flushed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_gcmd_handshake_deadline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qi_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_iqe_returns_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_detach_retry_after_timeout,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_after_completion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qi_sequence_wraps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_error_rolls_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_width_within_mgaw,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_range_every_page,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_within_one_table,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_across_tables_flushed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_cascades, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_merge_needs_every_entry,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults_wrap_and_overflow,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_log_rate_limited,
						setup, teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
