/*
 * Scalable mode against the hardware model: mode choice, scalable root and
 * context tables, PASID directories and tables, every PASID translation
 * type, PASID-cache and PASID-based invalidations, 256-bit descriptors.
 * As in test_vtd.c, the teardown fails a test on any model violation it
 * did not expect and clear.
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

#define IOVA	   UINT64_C(0x1000)
#define SM_ROOT_NP 0x39
#define SM_CTX_NP  0x41
#define SM_PASIDE  0x45
#define SM_PDE_NP  0x51
#define SM_PE_NP   0x59
#define SM_WRITE   0x85

static void last_mapping(void *ctx, const struct vtd_mapping *m)
{
	*(struct vtd_mapping *)ctx = *m;
}

static struct vtd_domain *fmt_domain(struct vtd_unit *u, unsigned int aw,
				     enum vtd_format format)
{
	struct vtd_domain *d = NULL;

	assert_int_equal(vtd_domain_create_fmt(&u, 1, aw, format, &d), 0);
	return d;
}

/* The model's key for requests through pasid's entry. */
static uint32_t request_pasid(uint32_t pasid)
{
	return pasid == VTD_RID_PASID ? MODEL_NO_PASID : pasid;
}

/* Exactly one pending fault: reason and, for requests with one, PASID. */
static void sm_fault_expect(struct vtd_unit *u, rid_t sid, uint32_t pasid,
			    uint8_t reason)
{
	struct fault_log log = {0};

	assert_int_equal(vtd_fault_poll(u, on_fault, &log), 1);
	assert_int_equal(rid_val(log.f[0].sid), rid_val(sid));
	assert_int_equal(log.f[0].reason, reason);
	assert_int_equal(log.f[0].pasid_present, pasid != MODEL_NO_PASID);
	if (pasid != MODEL_NO_PASID) {
		assert_int_equal(log.f[0].pasid, pasid);
	}
	assert_string_equal(log.f[0].text, vtd_fault_reason_text(reason));
}

static void submit(struct vtd_unit *u, struct vtd_qi_desc d)
{
	assert_int_equal(vtd_qi_submit(u, &d, 1, NULL), 0);
}

/* ---- mode choice ---- */

static void assert_mode(struct vtd_unit *u, const char *mode, const char *why)
{
	struct vtd_unit_info info;

	vtd_unit_info(u, &info);
	assert_string_equal(info.mode, mode);
	assert_string_equal(info.mode_reason, why);
}

static void test_mode_choice(void **state)
{
	struct model_unit_config legacy = default_cfg(), fl_only = sm_cfg(19),
				 sm = sm_cfg(19), neither = sm_cfg(19);
	struct vtd_config cfg;
	struct vtd_unit u[6];
	unsigned int i, idx[6];

	vtd_config_default(&cfg);
	assert_int_equal(cfg.mode, VTD_MODE_CHOICE_AUTO);
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.mode", "bogus"),
			 -EINVAL);
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.other", "legacy"),
			 -ENOENT);
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.mode", "legacy"), 0);
	assert_int_equal(cfg.mode, VTD_MODE_CHOICE_LEGACY);
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.mode", "auto"), 0);
	assert_int_equal(cfg.mode, VTD_MODE_CHOICE_AUTO);

	fl_only.ecap &= ~VTD_ECAP_SLTS;
	neither.ecap &= ~(VTD_ECAP_SLTS | VTD_ECAP_FLTS);
	idx[0] = add_unit(&legacy);
	idx[1] = add_unit(&fl_only);
	idx[2] = add_unit(&sm);
	idx[3] = add_unit(&sm);
	idx[4] = add_unit(&legacy);
	idx[5] = add_unit(&neither);

	/* Auto: per unit, from its own capabilities. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(
			vtd_unit_init(&u[i], idx[i], 0, BASE(idx[i]), &cfg), 0);
	}
	assert_mode(&u[0], "legacy", "auto: no SMTS");
	/* First-level tables only: scalable mode, as offered (issue 13). */
	assert_mode(&u[1], "scalable", "auto: SMTS and FLTS, no SLTS");
	assert_mode(&u[2], "scalable", "auto: SMTS and SLTS");
	assert_int_equal(vtd_unit_init(&u[5], idx[5], 0, BASE(idx[5]), &cfg),
			 0);
	assert_mode(&u[5], "legacy", "auto: SMTS without SLTS or FLTS");

	/* Forced: obeyed where the unit can, refused with a reason else. */
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.mode", "legacy"), 0);
	assert_int_equal(vtd_unit_init(&u[3], idx[3], 0, BASE(idx[3]), &cfg),
			 0);
	assert_mode(&u[3], "legacy", "forced by vtd.mode");
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.mode", "scalable"), 0);
	vtd_unit_fini(&u[1]);
	assert_int_equal(vtd_unit_init(&u[1], idx[1], 0, BASE(idx[1]), &cfg),
			 0);
	assert_mode(&u[1], "scalable", "forced by vtd.mode");
	model_log_clear();
	assert_int_equal(vtd_unit_init(&u[4], idx[4], 0, BASE(idx[4]), &cfg),
			 0);
	assert_mode(&u[4], "legacy", "vtd.mode=scalable refused: no SMTS");
	assert_int_equal(
		model_log_count("refused: no SMTS; staying in legacy mode"), 1);

	/* What each mode programs: TTM, descriptor width. */
	for (i = 0; i < 6; i++) {
		bool sm_mode = vtd_unit_mode(&u[i]) == VTD_MODE_SCALABLE;

		assert_int_equal(vtd_unit_enable(&u[i]), 0);
		assert_int_equal(field_get64(VTD_RTADDR_TTM,
					     hw_mmio_read64(BASE(idx[i]) +
							    VTD_RTADDR_REG)),
				 sm_mode ? VTD_RTADDR_TTM_SCALABLE
					 : VTD_RTADDR_TTM_LEGACY);
		assert_int_equal(!!(hw_mmio_read64(BASE(idx[i]) + VTD_IQA_REG) &
				    VTD_IQA_DW),
				 sm_mode);
		/* Scalable mode invalidates the PASID cache after SRTP. */
		assert_int_equal(model_unit_stats(idx[i])->pc_global, sm_mode);
		shut_down(&u[i]);
	}
}

/* ---- bring-up, default deny, RID_PASID ---- */

static void test_sm_bringup_default_deny(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 2, 0);
	struct vtd_unit_info info;
	struct vtd_domain *d;
	struct vtd_unit u;

	bring_up(&u, idx);
	vtd_unit_info(&u, &info);
	assert_string_equal(info.mode, "scalable");
	assert_int_equal(info.pasids, 1U << 15);
	assert_true(info.te && info.qi);

	/* Nothing attached: no root entry, with or without PASID. */
	assert_int_equal(dma_fill(idx, sid, IOVA, 0x11, 8), -EFAULT);
	sm_fault_expect(&u, sid, MODEL_NO_PASID, SM_ROOT_NP);
	assert_int_equal(dma_fill_pasid(idx, sid, 3, IOVA, 0x11, 8), -EFAULT);
	sm_fault_expect(&u, sid, 3, SM_ROOT_NP);

	d = new_domain(&u, 39);
	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	t_attach(d, &u, sid);
	assert_int_equal(dma_fill(idx, sid, IOVA, 0x22, 8), 0);
	assert_int_equal(ram_byte(ram), 0x22);
	/* RID_PASID is attached, no other PASID of the same device. */
	assert_int_equal(dma_fill_pasid(idx, sid, 3, IOVA, 0x33, 8), -EFAULT);
	sm_fault_expect(&u, sid, 3, SM_PE_NP);
	assert_int_equal(dma_fill_pasid(idx, sid, 300, IOVA, 0x33, 8), -EFAULT);
	sm_fault_expect(&u, sid, 300, SM_PDE_NP);
	/* Its neighbours: same context table, and the upper half of the bus. */
	assert_int_equal(dma_fill(idx, SID(0, 3, 0), IOVA, 0x44, 8), -EFAULT);
	sm_fault_expect(&u, SID(0, 3, 0), MODEL_NO_PASID, SM_CTX_NP);
	assert_int_equal(dma_fill(idx, SID(0, 17, 0), IOVA, 0x44, 8), -EFAULT);
	sm_fault_expect(&u, SID(0, 17, 0), MODEL_NO_PASID, SM_ROOT_NP);
	assert_int_equal(ram_byte(ram), 0x22);
	assert_int_equal(vtd_attach(d, &u, &sid, 1), -EBUSY);

	/* Detach takes the context entry down with the last PASID. */
	t_detach(d, &u, sid);
	assert_int_equal(dma_fill(idx, sid, IOVA, 0x55, 8), -EFAULT);
	sm_fault_expect(&u, sid, MODEL_NO_PASID, SM_CTX_NP);
	assert_int_equal(ram_byte(ram), 0x22);
	assert_int_equal(vtd_detach(d, &u, &sid, 1), -EINVAL);
	t_unmap(d, iova_make(IOVA), SZ_4K);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

/*
 * Firmware left legacy-mode translation and its queue running: the unit
 * switches to scalable mode atomically at SRTP, with the RMRR identity
 * map (built before enable) in place from the first instant.
 */
static void test_sm_takeover_with_rmrr(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(2 * SZ_4K, SZ_4K);
	struct model_firmware_state fw = {
		.root_pa = hw_page_alloc(),
		.te = true,
		.iqa = hw_page_alloc(),
	};
	rid_t sid = SID(0, 20, 0);
	struct vtd_domain *d;
	struct vtd_unit u;

	model_set_firmware_state(idx, &fw);
	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), NULL), 0);
	d = new_domain(&u, 39);
	assert_int_equal(vtd_domain_map(d, iova_make(ram), hpa_make(ram), SZ_4K,
					VTD_PROT_READ | VTD_PROT_WRITE),
			 0);
	assert_int_equal(vtd_attach(d, &u, &sid, 1), 0);
	model_expect_attach(idx, sid, d);
	model_expect_map(d, ram, ram, SZ_4K, RW);
	assert_int_equal(vtd_unit_enable(&u), 0);
	assert_mode(&u, "scalable", "auto: SMTS and SLTS");
	assert_int_equal(dma_fill(idx, sid, ram, 0x5a, 8), 0);
	assert_int_equal(ram_byte(ram), 0x5a);
	assert_int_equal(dma_fill(idx, sid, ram + SZ_4K, 0x5b, 8), -EFAULT);
	sm_fault_expect(&u, sid, MODEL_NO_PASID, SM_WRITE);
	assert_int_equal(dma_fill(idx, SID(0, 21, 0), ram, 0x5c, 8), -EFAULT);
	sm_fault_expect(&u, SID(0, 21, 0), MODEL_NO_PASID, SM_CTX_NP);

	t_detach(d, &u, sid);
	t_unmap(d, iova_make(ram), SZ_4K);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
	hw_page_free(fw.root_pa);
	hw_page_free(fw.iqa);
}

/* ---- PASID table sizes ---- */

static void test_pasid_table_sizes(void **state)
{
	static const unsigned int pss[] = {0, 4, 9, 14, 19};
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	struct model_unit_config cfg;
	struct vtd_unit_info info;
	struct vtd_domain *d;
	struct vtd_unit u;
	unsigned int i, idx;
	uint32_t last;

	for (i = 0; i < ARRAY_SIZE(pss); i++) {
		cfg = sm_cfg(pss[i]);
		idx = add_unit(&cfg);
		bring_up(&u, idx);
		vtd_unit_info(&u, &info);
		/* PSS + 1 bits, as far as one directory page reaches. */
		assert_int_equal(info.pasids,
				 1U << (pss[i] + 1 < 15 ? pss[i] + 1 : 15));
		last = info.pasids - 1;
		d = new_domain(&u, 39);
		t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
		/* The largest PASID: the context's PDTS must cover it. */
		t_attach_pasid(d, &u, SID(1, 0, 0), last);
		assert_int_equal(dma_fill_pasid(idx, SID(1, 0, 0), last, IOVA,
						(uint8_t)(i + 1), 8),
				 0);
		assert_int_equal(ram_byte(ram), i + 1);
		assert_int_equal(
			vtd_attach_pasid(d, &u, SID(1, 0, 0), info.pasids),
			-ERANGE);
		t_detach_pasid(d, &u, SID(1, 0, 0), last);
		assert_int_equal(
			dma_fill_pasid(idx, SID(1, 0, 0), last, IOVA, 0, 8),
			-EFAULT);
		sm_fault_expect(&u, SID(1, 0, 0), last, SM_CTX_NP);
		t_unmap(d, iova_make(IOVA), SZ_4K);
		assert_int_equal(vtd_domain_destroy(d), 0);
		shut_down(&u);
	}

	/* Without ECAP.PASID only requests without PASID exist. */
	cfg = sm_cfg(19);
	cfg.ecap &= ~VTD_ECAP_PASID;
	idx = add_unit(&cfg);
	bring_up(&u, idx);
	vtd_unit_info(&u, &info);
	assert_int_equal(info.pasids, 1);
	d = new_domain(&u, 39);
	assert_int_equal(vtd_attach_pasid(d, &u, SID(1, 0, 0), 1), -ENOTSUP);
	t_attach(d, &u, SID(1, 0, 0));
	assert_int_equal(dma_fill_pasid(idx, SID(1, 0, 0), 1, IOVA, 0, 8),
			 -EFAULT);
	sm_fault_expect(&u, SID(1, 0, 0), 1, SM_PASIDE);
	down_attached(d, &u, SID(1, 0, 0));
}

/* ---- every PASID translation type ---- */

#define FL_TABLE (VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A)

/*
 * A guest's 4-level first-level tables, in memory that the parent domain
 * maps at gpa (four pages), translating iova to out_gpa.  Returns the
 * table's guest-physical address, for the nested PASID entry.
 */
static uint64_t guest_tables(struct vtd_domain *parent, uint64_t gpa,
			     uint64_t iova, uint64_t out_gpa)
{
	uint64_t ram = model_ram_alloc(4 * SZ_4K, SZ_4K), *table;
	unsigned int level;

	t_map(parent, iova_make(gpa), hpa_make(ram), 4 * SZ_4K, RW);
	for (level = 4; level >= 1; level--) {
		table = (uint64_t *)hw_phys_to_virt(ram + (4 - level) * SZ_4K) +
			((iova >> (12 + 9 * (level - 1))) & 511);
		poke(table, level > 1 ? (gpa + (5 - level) * SZ_4K) | FL_TABLE
				      : out_gpa | FL_TABLE | VTD_FL_D);
	}
	return gpa;
}

static void test_every_pgtt(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(4 * SZ_4K, SZ_4K), tables, fl_root;
	struct vtd_domain *sl, *fl, *pt, *parent;
	rid_t sid = SID(0, 5, 0);
	static const char nested;
	struct vtd_unit u;
	uint32_t p;

	bring_up(&u, idx);
	sl = new_domain(&u, 39);
	fl = fmt_domain(&u, 39, VTD_FORMAT_FIRST_LEVEL);
	pt = fmt_domain(&u, 39, VTD_FORMAT_PASSTHROUGH);
	parent = new_domain(&u, 39);
	assert_int_equal(dom_info(fl).levels, 4);
	t_map(sl, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	t_map(fl, iova_make(IOVA), hpa_make(ram + SZ_4K), SZ_4K, RW);
	model_expect_map(pt, 0, 0, UINT64_C(1) << 48, RW);
	/* Nested: guest tables at GPA 64 MiB, the page at GPA 128 MiB. */
	fl_root = guest_tables(parent, 64 << 20, IOVA, 128 << 20);
	t_map(parent, iova_make(128 << 20), hpa_make(ram + 3 * SZ_4K), SZ_4K,
	      RW);
	model_expect_map(&nested, IOVA, ram + 3 * SZ_4K, SZ_4K, RW);
	tables = model_table_pages();

	t_attach(sl, &u, sid);
	t_attach_pasid(fl, &u, sid, 1);
	t_attach_pasid(pt, &u, sid, 2);
	assert_int_equal(
		vtd_attach_nested(parent, &u, sid, 3, iova_make(fl_root), 4),
		0);
	model_expect_attach_pasid(idx, sid, 3, &nested);

	assert_int_equal(dma_fill(idx, sid, IOVA, 0x10, 8), 0);
	assert_int_equal(ram_byte(ram), 0x10);
	assert_int_equal(dma_fill_pasid(idx, sid, 1, IOVA, 0x11, 8), 0);
	assert_int_equal(ram_byte(ram + SZ_4K), 0x11);
	assert_int_equal(dma_fill_pasid(idx, sid, 2, ram + 2 * SZ_4K, 0x12, 8),
			 0);
	assert_int_equal(ram_byte(ram + 2 * SZ_4K), 0x12);
	assert_int_equal(dma_fill_pasid(idx, sid, 3, IOVA, 0x13, 8), 0);
	assert_int_equal(ram_byte(ram + 3 * SZ_4K), 0x13);
	/* First-level walks found A and D set: the unit wrote nothing. */
	assert_int_equal(model_unit_stats(idx)->ad_updates, 0);

	/* Detaching a PASID blocks that PASID only. */
	t_detach_pasid(fl, &u, sid, 1);
	assert_int_equal(dma_fill_pasid(idx, sid, 1, IOVA, 0x21, 8), -EFAULT);
	sm_fault_expect(&u, sid, 1, SM_PE_NP);
	assert_int_equal(ram_byte(ram + SZ_4K), 0x11);
	assert_int_equal(dma_fill(idx, sid, IOVA, 0x20, 8), 0);
	assert_int_equal(dma_fill_pasid(idx, sid, 2, ram + 2 * SZ_4K, 0x22, 8),
			 0);
	assert_int_equal(dma_fill_pasid(idx, sid, 3, IOVA, 0x23, 8), 0);
	assert_int_equal(ram_byte(ram + 3 * SZ_4K), 0x23);

	/* The same domain may serve several PASIDs and devices. */
	t_attach_pasid(sl, &u, sid, 1);
	t_attach_pasid(sl, &u, SID(0, 6, 0), 9);
	assert_int_equal(dma_fill_pasid(idx, sid, 1, IOVA, 0x31, 8), 0);
	assert_int_equal(dma_fill_pasid(idx, SID(0, 6, 0), 9, IOVA, 0x32, 8),
			 0);
	assert_int_equal(ram_byte(ram), 0x32);
	assert_int_equal(vtd_domain_destroy(sl), -EBUSY);

	t_detach_pasid(sl, &u, SID(0, 6, 0), 9);
	t_detach_pasid(sl, &u, sid, 1);
	assert_int_equal(vtd_detach_pasid(parent, &u, sid, 3), 0);
	model_expect_detach_pasid(idx, sid, 3);
	t_detach_pasid(pt, &u, sid, 2);
	t_detach(sl, &u, sid);
	for (p = 0; p < 4; p++) {
		assert_int_equal(
			dma_fill_pasid(idx, sid, request_pasid(p), IOVA, 0, 8),
			-EFAULT);
		sm_fault_expect(&u, sid, request_pasid(p), SM_CTX_NP);
	}
	/* Directories and PASID tables went with the last PASIDs. */
	assert_int_equal(model_table_pages(), tables + 1);
	assert_int_equal(vtd_domain_destroy(sl), 0);
	assert_int_equal(vtd_domain_destroy(fl), 0);
	assert_int_equal(vtd_domain_destroy(pt), 0);
	assert_int_equal(vtd_domain_destroy(parent), 0);
	shut_down(&u);
}

/* ---- first-level tables ---- */

/*
 * A first-level domain used through two PASIDs: an unmap invalidates the
 * range for each of them, and a device watching through the PASID being
 * detached finds it blocked once the detach returns, whatever it read
 * between the driver's stores.
 */
static void test_first_level_pasids(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	unsigned int idx = add_unit(&cfg);
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(2, 2, 0);
	const struct model_watch *w;
	struct vtd_domain *d;
	struct vtd_unit u;
	uint32_t pasid;

	bring_up(&u, idx);
	d = fmt_domain(&u, 47, VTD_FORMAT_FIRST_LEVEL);
	t_attach_pasid(d, &u, sid, 1);
	t_attach_pasid(d, &u, sid, 2);
	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	for (pasid = 1; pasid <= 2; pasid++)
		assert_int_equal(dma_fill_pasid(idx, sid, pasid, IOVA, 1, 8),
				 0);
	t_unmap(d, iova_make(IOVA), SZ_4K);
	for (pasid = 1; pasid <= 2; pasid++) {
		assert_int_equal(dma_fill_pasid(idx, sid, pasid, IOVA, 2, 8),
				 -EFAULT);
		assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	}

	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	model_watch_start(idx, sid, 2, IOVA);
	t_detach_pasid(d, &u, sid, 2);
	w = model_watch_log(idx);
	assert_true(w->changes >= 2);
	assert_true(w->outcome[(w->changes - 1) % MODEL_WATCH_LOG] &
		    MODEL_WATCH_FAULT);
	model_watch_stop(idx);
	assert_int_equal(dma_fill_pasid(idx, sid, 2, IOVA, 3, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, NULL, NULL), 1);
	assert_int_equal(dma_fill_pasid(idx, sid, 1, IOVA, 4, 8), 0);

	t_unmap(d, iova_make(IOVA), SZ_4K);
	t_detach_pasid(d, &u, sid, 1);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

static void test_first_level_format(void **state)
{
	struct model_unit_config plain = sm_cfg(19), big = sm_cfg(19),
				 no_fl = sm_cfg(19), legacy = default_cfg();
	uint64_t ram = model_ram_alloc(2 * SZ_1G, SZ_1G), e;
	struct vtd_domain *d, *d5, *bad;
	struct vtd_unit u[4], *up;
	rid_t sid = SID(2, 1, 0);
	unsigned int idx[4], i;
	struct vtd_mapping m;

	big.cap |= VTD_CAP_FL1GP | VTD_CAP_FL5LP;
	no_fl.ecap &= ~VTD_ECAP_FLTS;
	idx[0] = add_unit(&plain);
	idx[1] = add_unit(&big);
	idx[2] = add_unit(&no_fl);
	idx[3] = add_unit(&legacy);
	for (i = 0; i < 4; i++) {
		bring_up(&u[i], idx[i]);
	}

	/* Who can have first-level tables, and how deep, how large. */
	for (i = 2; i < 4; i++) {
		up = &u[i];
		assert_int_equal(vtd_domain_create_fmt(&up, 1, 39,
						       VTD_FORMAT_FIRST_LEVEL,
						       &bad),
				 -ENOTSUP);
		assert_int_equal(vtd_domain_create_fmt(&up, 1, 39,
						       VTD_FORMAT_PASSTHROUGH,
						       &bad),
				 i == 2 ? 0 : -ENOTSUP);
	}
	assert_int_equal(vtd_domain_destroy(bad), 0);
	up = &u[0];
	assert_int_equal(
		vtd_domain_create_fmt(&up, 1, 48, VTD_FORMAT_FIRST_LEVEL, &bad),
		-ENOTSUP);
	assert_int_equal(
		vtd_domain_create_fmt(&up, 1, 57, VTD_FORMAT_FIRST_LEVEL, &bad),
		-ERANGE);
	d = fmt_domain(&u[0], 47, VTD_FORMAT_FIRST_LEVEL);
	d5 = fmt_domain(&u[1], 48, VTD_FORMAT_FIRST_LEVEL);
	assert_int_equal(dom_info(d).levels, 4);
	assert_int_equal(dom_info(d).page_sizes, VTD_PAGE_4K | VTD_PAGE_2M);
	assert_int_equal(dom_info(d5).levels, 5);
	assert_int_equal(dom_info(d5).page_sizes,
			 VTD_PAGE_4K | VTD_PAGE_2M | VTD_PAGE_1G);

	/* No write-only pages; a pass-through domain has nothing to map. */
	assert_int_equal(vtd_domain_map(d, iova_make(0), hpa_make(ram), SZ_4K,
					VTD_PROT_WRITE),
			 -EINVAL);

	/* Rights of its own: present means readable, R/W decides writes. */
	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, VTD_PROT_READ);
	e = *leaf_entry(d, IOVA);
	assert_int_equal(e & ~VTD_FL_ADDR,
			 VTD_FL_P | VTD_FL_US | VTD_FL_A | VTD_FL_XD);
	t_attach_pasid(d, &u[0], sid, 4);
	assert_int_equal(dma_fill_pasid(idx[0], sid, 4, IOVA, 1, 8), -EFAULT);
	sm_fault_expect(&u[0], sid, 4, SM_WRITE);
	assert_int_equal(model_dma_read_pasid(idx[0], sid, 4, IOVA, &e, 8), 0);
	t_unmap(d, iova_make(IOVA), SZ_4K);
	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	assert_int_equal(*leaf_entry(d, IOVA) & ~VTD_FL_ADDR,
			 VTD_FL_P | VTD_FL_RW | VTD_FL_US | VTD_FL_A |
				 VTD_FL_D | VTD_FL_XD);
	assert_int_equal(dma_fill_pasid(idx[0], sid, 4, IOVA, 2, 8), 0);
	assert_int_equal(ram_byte(ram), 2);

	/* 1 GiB leaves only with FL1GP; 5 levels reach above 2^47. */
	t_map(d, iova_make(SZ_1G), hpa_make(ram), SZ_1G, RW);
	t_map(d5, iova_make(UINT64_C(1) << 47), hpa_make(ram), SZ_1G, RW);
	vtd_domain_for_each_mapping(d5, last_mapping, &m);
	assert_int_equal(m.page_size, VTD_PAGE_1G);
	t_attach(d5, &u[1], sid);
	assert_int_equal(
		dma_fill(idx[1], sid, (UINT64_C(1) << 47) + SZ_2M, 3, 8), 0);
	assert_int_equal(ram_byte(ram + SZ_2M), 3);
	assert_int_equal(dma_fill_pasid(idx[0], sid, 4, SZ_1G + SZ_2M, 4, 8),
			 0);
	assert_int_equal(ram_byte(ram + SZ_2M), 4);
	/* Splitting a leaf in the middle keeps the rest reachable. */
	t_unmap(d, iova_make(SZ_1G + SZ_2M), SZ_4K);
	assert_int_equal(dma_fill_pasid(idx[0], sid, 4, SZ_1G + SZ_2M, 5, 8),
			 -EFAULT);
	sm_fault_expect(&u[0], sid, 4, 0x71);
	assert_int_equal(
		dma_fill_pasid(idx[0], sid, 4, SZ_1G + 2 * SZ_2M, 6, 8), 0);
	assert_int_equal(model_unit_stats(idx[0])->ad_updates, 0);

	t_detach_pasid(d, &u[0], sid, 4);
	t_detach(d5, &u[1], sid);
	t_unmap(d, iova_make(IOVA), SZ_4K);
	t_unmap(d, iova_make(SZ_1G), SZ_2M);
	t_unmap(d, iova_make(SZ_1G + SZ_2M + SZ_4K), SZ_1G - SZ_2M - SZ_4K);
	t_unmap(d5, iova_make(UINT64_C(1) << 47), SZ_1G);
	assert_int_equal(vtd_domain_destroy(d), 0);
	assert_int_equal(vtd_domain_destroy(d5), 0);
	for (i = 0; i < 4; i++) {
		shut_down(&u[i]);
	}
}

/*
 * A unit in scalable mode with FLTS and no SLTS: vtd_domain_create() gives
 * first-level tables, narrowed to the 47 bits 4 levels cover, so its
 * callers (the blocking domain included) need not know the format.  A
 * unit that cannot walk them makes a shared domain fail, with the reason.
 */
static void test_fl_only_unit_default_format(void **state)
{
	struct model_unit_config fl_only = sm_cfg(19), no_fl = sm_cfg(19),
				 legacy = default_cfg();
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K);
	struct vtd_domain *d, *bad = NULL;
	struct vtd_unit u[3], *pair[2];
	rid_t sid = SID(3, 1, 0);
	struct vtd_config cfg;
	unsigned int idx[3], i;

	fl_only.ecap &= ~VTD_ECAP_SLTS;
	no_fl.ecap &= ~VTD_ECAP_FLTS;
	idx[0] = add_unit(&fl_only);
	idx[1] = add_unit(&no_fl);
	idx[2] = add_unit(&legacy);
	vtd_config_default(&cfg);
	assert_int_equal(vtd_config_set_str(&cfg, "vtd.mode", "scalable"), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(
			vtd_unit_init(&u[i], idx[i], 0, BASE(idx[i]), &cfg), 0);
		assert_int_equal(vtd_unit_enable(&u[i]), 0);
	}
	assert_mode(&u[0], "scalable", "forced by vtd.mode");

	d = new_domain(&u[0], 48);
	assert_int_equal(dom_info(d).format, VTD_FORMAT_FIRST_LEVEL);
	assert_int_equal(dom_info(d).addr_width, 47);
	assert_int_equal(dom_info(d).levels, 4);
	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	t_attach(d, &u[0], sid);
	assert_int_equal(dma_fill(idx[0], sid, IOVA, 0x61, 8), 0);
	assert_int_equal(ram_byte(ram), 0x61);
	t_unmap(d, iova_make(IOVA), SZ_4K);
	assert_int_equal(dma_fill(idx[0], sid, IOVA, 0x62, 8), -EFAULT);
	sm_fault_expect(&u[0], sid, MODEL_NO_PASID, 0x71);
	assert_int_equal(ram_byte(ram), 0x61);
	t_detach(d, &u[0], sid);
	assert_int_equal(vtd_domain_destroy(d), 0);

	/* Second-level tables stay the choice wherever a unit has SLTS. */
	d = new_domain(&u[1], 39);
	assert_int_equal(dom_info(d).format, VTD_FORMAT_SECOND_LEVEL);
	assert_int_equal(vtd_domain_destroy(d), 0);

	/* Shared with a unit that walks no first-level tables: refused. */
	for (i = 1; i < 3; i++) {
		pair[0] = &u[0];
		pair[1] = &u[i];
		model_log_clear();
		assert_int_equal(vtd_domain_create(pair, 2, 39, &bad),
				 -ENOTSUP);
		assert_int_equal(
			model_log_count(
				i == 1 ? "no first-level translation (FLTS)"
				       : "no scalable mode"),
			1);
	}
	for (i = 0; i < 3; i++) {
		shut_down(&u[i]);
	}
}

/* ---- the model's caches: stale until the right invalidation ---- */

/*
 * Programmed behind the driver's back, the PASID cache and the IOTLB keep
 * serving what they hold until the invalidation naming it: a missing or
 * wrong PASID-cache or PASID-based IOTLB invalidation is visible.
 */
static void test_model_stale_pasid_caches(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	unsigned int idx = add_unit(&cfg);
	uint64_t a = model_ram_alloc(SZ_4K, SZ_4K);
	uint64_t b = model_ram_alloc(SZ_4K, SZ_4K);
	struct vtd_pasid_ref right = {.pasid = 5, .refs = 1};
	struct vtd_pasid_ref wrong = {.pasid = 6, .refs = 1};
	struct vtd_freelist fl = {0};
	struct vtd_pasid_entry *pe;
	rid_t sid = SID(0, 12, 0);
	uint16_t did;
	struct vtd_domain *d;
	uint64_t val0, unmapped;
	struct vtd_unit u;

	bring_up(&u, idx);
	d = fmt_domain(&u, 39, VTD_FORMAT_FIRST_LEVEL);
	did = (uint16_t)vtd_domain_did(d, &u);
	t_map(d, iova_make(IOVA), hpa_make(a), SZ_4K, RW);
	t_attach_pasid(d, &u, sid, 5);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x11, 8), 0);

	/* A first-level leaf repointed without invalidation: the old page. */
	poke(leaf_entry(d, IOVA), b | (*leaf_entry(d, IOVA) & ~VTD_FL_ADDR));
	model_expect_unmap(d, IOVA, SZ_4K);
	model_expect_map(d, IOVA, b, SZ_4K, RW);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x22, 8), 0);
	assert_int_equal(ram_byte(a), 0x22);
	assert_true(model_violation_seen("isolation broken"));
	model_clear_violations();
	/* Another PASID, another domain: still the old page. */
	assert_int_equal(vtd_qi_flush_ranges_pasids(
				 &u, did, &wrong, 1,
				 &(struct vtd_range){iova_make(IOVA), SZ_4K}, 1,
				 NULL),
			 0);
	assert_int_equal(
		vtd_qi_flush_ranges(&u, did + 1,
				    &(struct vtd_range){iova_make(IOVA), SZ_4K},
				    1, NULL),
		0);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x33, 8), 0);
	assert_int_equal(ram_byte(a), 0x33);
	model_clear_violations();
	/* The PASID-based invalidation naming it. */
	assert_int_equal(vtd_qi_flush_ranges_pasids(
				 &u, did, &right, 1,
				 &(struct vtd_range){iova_make(IOVA), SZ_4K}, 1,
				 NULL),
			 0);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x44, 8), 0);
	assert_int_equal(ram_byte(b), 0x44);

	/* A PASID entry made not present works on from the PASID cache... */
	pe = vtd_sm_pasid_entry(&u, sid, 5, false);
	val0 = pe->val[0];
	poke(&pe->val[0], val0 & ~VTD_PE_0_P);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x55, 8), 0);
	/* ...until the PASID-cache invalidation naming domain and PASID. */
	submit(&u, vtd_desc_pc_pasid(did + 1, 5));
	submit(&u, vtd_desc_pc_pasid(did, 6));
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x66, 8), 0);
	submit(&u, vtd_desc_pc_pasid(did, 5));
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 0x77, 8), -EFAULT);
	sm_fault_expect(&u, sid, 5, SM_PE_NP);
	poke(&pe->val[0], val0);
	assert_int_equal(ram_byte(b), 0x66);

	/* Tables freed with no IOTLB invalidation: caught at the free. */
	assert_int_equal(vtd_pgtable_unmap(&d->pt, iova_make(IOVA), SZ_4K,
					   &unmapped, &fl),
			 0);
	model_expect_unmap(d, IOVA, SZ_4K);
	assert_int_equal(fl.count, 3);
	vtd_freelist_release(&fl);
	assert_true(model_violation_seen("freed while the IOTLB still caches"));
	model_clear_violations();

	t_detach_pasid(d, &u, sid, 5);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(&u);
}

/*
 * docs/design.md, invariant 5, as the model checks it for PASID entries:
 * the update protocol without its PASID-cache invalidation.  The device keeps
 * using the old domain, and once the unit looks at the entry again it finds it
 * changed without ever having been not present.
 */
static void test_model_catches_missing_pasid_cache_invalidation(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	unsigned int idx = add_unit(&cfg);
	uint64_t pa = model_ram_alloc(SZ_4K, SZ_4K);
	uint64_t pb = model_ram_alloc(SZ_4K, SZ_4K);
	rid_t sid = SID(0, 13, 0);
	uint16_t did_a, did_b;
	const struct model_watch *w;
	struct vtd_pasid_entry *pe;
	struct vtd_domain *a, *b;
	uint64_t saved[8];
	struct vtd_unit u;

	bring_up(&u, idx);
	a = new_domain(&u, 39);
	b = new_domain(&u, 39);
	did_a = (uint16_t)vtd_domain_did(a, &u);
	did_b = (uint16_t)vtd_domain_did(b, &u);
	t_map(a, iova_make(IOVA), hpa_make(pa), SZ_4K, RW);
	t_map(b, iova_make(IOVA), hpa_make(pb), SZ_4K, RW);
	t_attach_pasid(a, &u, sid, 9);
	assert_int_equal(dma_fill_pasid(idx, sid, 9, IOVA, 1, 8), 0);
	model_watch_start(idx, sid, 9, IOVA);

	pe = vtd_sm_pasid_entry(&u, sid, 9, false);
	memcpy(saved, pe->val, sizeof(saved));
	poke(&pe->val[0], saved[0] & ~VTD_PE_0_P);
	poke(&pe->val[1], field_set64(VTD_PE_1_DID, saved[1], did_b));
	poke(&pe->val[0], (saved[0] & ~VTD_PE_0_SLPTPTR) | b->pt.root_pa);
	model_expect_attach_pasid(idx, sid, 9, b);
	assert_int_equal(dma_fill_pasid(idx, sid, 9, IOVA, 2, 8), 0);
	assert_int_equal(ram_byte(pa), 2);
	assert_true(model_violation_seen("isolation broken"));
	model_clear_violations();
	submit(&u, vtd_desc_pc_pasid(did_a, 9));
	assert_true(model_violation_seen("PASID entry at"));
	assert_true(model_violation_seen("changed while present"));
	model_clear_violations();
	assert_int_equal(dma_fill_pasid(idx, sid, 9, IOVA, 3, 8), 0);
	assert_int_equal(ram_byte(pb), 3);
	/* The watching device went from one domain to the other directly. */
	w = model_watch_log(idx);
	assert_int_equal(w->changes, 2);
	assert_int_equal(w->outcome[0], pa);
	assert_int_equal(w->outcome[1], pb);
	model_watch_stop(idx);

	/* Back the proper way: not present, invalidate, rewrite, present. */
	poke(&pe->val[0], pe->val[0] & ~VTD_PE_0_P);
	submit(&u, vtd_desc_pc_pasid(did_b, 9));
	submit(&u, vtd_desc_iotlb_domain(&u, did_b));
	poke(&pe->val[1], saved[1]);
	poke(&pe->val[0], saved[0]);
	model_expect_attach_pasid(idx, sid, 9, a);
	assert_int_equal(dma_fill_pasid(idx, sid, 9, IOVA, 4, 8), 0);
	assert_int_equal(ram_byte(pa), 4);

	t_detach_pasid(a, &u, sid, 9);
	assert_int_equal(vtd_domain_destroy(a), 0);
	assert_int_equal(vtd_domain_destroy(b), 0);
	shut_down(&u);
}

/* ---- switching a live PASID ---- */

/*
 * The watching device saw from, then only "not present", then to (it
 * reads once more after the switch returned).
 */
static void expect_switched(unsigned int idx, uint64_t from, uint64_t to)
{
	const struct model_watch *w = model_watch_log(idx);
	unsigned int i;

	model_advance(0);
	assert_true(w->changes >= 3 && w->changes <= MODEL_WATCH_LOG);
	assert_int_equal(w->outcome[0], from);
	for (i = 1; i + 1 < w->changes; i++) {
		assert_int_equal(w->outcome[i], MODEL_WATCH_FAULT | SM_PE_NP);
	}
	assert_int_equal(w->outcome[w->changes - 1], to);
}

static void switch_case(const struct model_unit_config *cfg, uint32_t pasid)
{
	unsigned int idx = add_unit(cfg);
	uint64_t pa = model_ram_alloc(SZ_4K, SZ_4K);
	uint64_t pb = model_ram_alloc(SZ_4K, SZ_4K);
	uint32_t key = request_pasid(pasid);
	rid_t sid = SID(3, 1, 0);
	static const char either;
	struct vtd_domain *a, *b;
	struct vtd_unit u;

	bring_up(&u, idx);
	a = new_domain(&u, 39);
	b = fmt_domain(&u, 39, VTD_FORMAT_FIRST_LEVEL);
	t_map(a, iova_make(IOVA), hpa_make(pa), SZ_4K, RW);
	t_map(b, iova_make(IOVA), hpa_make(pb), SZ_4K, RW);
	model_expect_map(&either, IOVA, pa, SZ_4K, RW);
	model_expect_map(&either, IOVA, pb, SZ_4K, RW);
	assert_int_equal(vtd_attach_pasid(a, &u, sid, pasid), 0);
	model_expect_attach_pasid(idx, sid, key, &either);

	model_watch_start(idx, sid, key, IOVA);
	assert_int_equal(vtd_switch_pasid(a, b, &u, sid, pasid), 0);
	expect_switched(idx, pa, pb);
	model_watch_start(idx, sid, key, IOVA);
	assert_int_equal(vtd_switch_pasid(b, a, &u, sid, pasid), 0);
	expect_switched(idx, pb, pa);
	model_watch_stop(idx);
	assert_int_equal(vtd_switch_pasid(b, a, &u, sid, pasid), -EINVAL);
	assert_int_equal(vtd_domain_destroy(b), 0);

	assert_int_equal(vtd_detach_pasid(a, &u, sid, pasid), 0);
	model_expect_detach_pasid(idx, sid, key);
	model_expect_unmap(&either, IOVA, SZ_4K);
	t_unmap(a, iova_make(IOVA), SZ_4K);
	assert_int_equal(vtd_domain_destroy(a), 0);
	shut_down(&u);
}

static void test_switch_pasid_no_torn_entry(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);

	switch_case(&cfg, 7);
	switch_case(&cfg, VTD_RID_PASID);
	cfg.cap |= VTD_CAP_CM;
	switch_case(&cfg, 7);
	cfg.cap &= ~VTD_CAP_CM;
	cfg.ecap |= VTD_ECAP_C | VTD_ECAP_SMPWC;
	switch_case(&cfg, 7);
	cfg.fetch_ahead = 8;
	cfg.qi_latency_ns = 50000;
	switch_case(&cfg, 7);
}

/* ---- caching mode, coherency ---- */

/*
 * In caching mode the unit keeps not-present entries too: requests made
 * before an attach or a map must not keep faulting after it.
 */
static void test_sm_caching_mode(void **state)
{
	struct model_unit_config cfg = sm_cfg(19);
	uint64_t ram = model_ram_alloc(2 * SZ_4K, SZ_4K);
	rid_t sid = SID(0, 7, 0);
	struct vtd_domain *d, *f;
	struct vtd_unit u;
	unsigned int idx;

	cfg.cap |= VTD_CAP_CM;
	idx = add_unit(&cfg);
	bring_up(&u, idx);
	d = new_domain(&u, 39);
	f = fmt_domain(&u, 39, VTD_FORMAT_FIRST_LEVEL);
	assert_int_equal(vtd_domain_did(d, &u), 1); /* never 0 with CM */
	t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	t_map(f, iova_make(IOVA), hpa_make(ram + SZ_4K), SZ_4K, RW);
	t_attach(d, &u, sid);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 1, 8), -EFAULT);
	sm_fault_expect(&u, sid, 5, SM_PE_NP);
	t_attach_pasid(f, &u, sid, 5);
	assert_int_equal(dma_fill_pasid(idx, sid, 5, IOVA, 2, 8), 0);
	assert_int_equal(ram_byte(ram + SZ_4K), 2);
	assert_true(model_unit_stats(idx)->pc_pasid >= 2);

	/* A faulting request caches the not-present leaf; the map drops it. */
	assert_int_equal(dma_fill(idx, sid, IOVA + SZ_4K, 3, 8), -EFAULT);
	sm_fault_expect(&u, sid, MODEL_NO_PASID, SM_WRITE);
	t_map(d, iova_make(IOVA + SZ_4K), hpa_make(ram + SZ_4K), SZ_4K, RW);
	assert_int_equal(dma_fill(idx, sid, IOVA + SZ_4K, 4, 8), 0);
	assert_int_equal(ram_byte(ram + SZ_4K), 4);

	t_detach_pasid(f, &u, sid, 5);
	t_detach(d, &u, sid);
	assert_int_equal(vtd_domain_destroy(d), 0);
	assert_int_equal(vtd_domain_destroy(f), 0);
	shut_down(&u);
}

/*
 * Page walks are snooped in scalable mode only with SMPWC (and PWSNP in
 * the PASID entry): then table writes need no flush, else every one does.
 */
static void test_sm_walk_coherency(void **state)
{
	struct model_unit_config cfg[2] = {sm_cfg(19), sm_cfg(19)};
	uint64_t ram = model_ram_alloc(2 * SZ_4K, SZ_4K), *pte;
	rid_t sid = SID(0, 8, 0);
	struct vtd_pasid_entry *pe;
	struct vtd_domain *d;
	struct vtd_unit u[2];
	unsigned int i, idx;

	cfg[0].ecap |= VTD_ECAP_SMPWC;
	for (i = 0; i < 2; i++) {
		idx = add_unit(&cfg[i]);
		bring_up(&u[i], idx);
		d = new_domain(&u[i], 39);
		assert_int_equal(dom_info(d).coherent, i == 0);
		t_map(d, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
		t_attach_pasid(d, &u[i], sid, 2);
		pe = vtd_sm_pasid_entry(&u[i], sid, 2, false);
		assert_int_equal(!!(pe->val[1] & VTD_PE_1_PWSNP), i == 0);
		/* A new leaf written, not flushed. */
		pte = leaf_entry(d, IOVA + SZ_4K);
		*pte = (ram + SZ_4K) | VTD_SL_R | VTD_SL_W;
		model_expect_map(d, IOVA + SZ_4K, ram + SZ_4K, SZ_4K, RW);
		if (i == 1) {
			assert_int_equal(
				dma_fill_pasid(idx, sid, 2, IOVA + SZ_4K, 5, 8),
				-EFAULT);
			assert_true(model_violation_seen("not flushed"));
			model_clear_violations();
			sm_fault_expect(&u[i], sid, 2, SM_WRITE);
			hw_cache_flush(pte, sizeof(*pte));
		}
		assert_int_equal(
			dma_fill_pasid(idx, sid, 2, IOVA + SZ_4K, 6, 8), 0);
		assert_int_equal(ram_byte(ram + SZ_4K), 6);
		t_unmap(d, iova_make(IOVA), 2 * SZ_4K);
		t_detach_pasid(d, &u[i], sid, 2);
		assert_int_equal(vtd_domain_destroy(d), 0);
		shut_down(&u[i]);
	}
}

/* ---- the invalidation queue in scalable mode ---- */

#define LIVE SID(4, 0, 0)
#define DEAD SID(4, 1, 0)

static void test_sm_queue(void **state)
{
	struct model_unit_config cfg = sm_cfg(19), legacy = default_cfg();
	uint64_t ram = model_ram_alloc(SZ_4K, SZ_4K), before;
	rid_t sid = SID(0, 9, 0);
	struct vtd_unit u, lu;
	struct vtd_qi_desc d;
	struct vtd_domain *dom;
	unsigned int idx, lidx;

	cfg.ecap |= VTD_ECAP_DT;
	cfg.fetch_ahead = 4;
	legacy.ecap |= VTD_ECAP_DT;
	idx = add_unit(&cfg);
	lidx = add_unit(&legacy);
	model_add_endpoint(idx, LIVE, 2000);
	model_add_endpoint(idx, DEAD, MODEL_ATS_NEVER);
	bring_up(&u, idx);
	bring_up(&lu, lidx);

	/* 256-bit descriptors: half the slots, IQT counting 128-bit units. */
	assert_int_equal(u.qi.slots, VTD_QI_SLOTS / 2);
	assert_int_equal(lu.qi.slots, VTD_QI_SLOTS);
	dom = new_domain(&u, 39);
	t_map(dom, iova_make(IOVA), hpa_make(ram), SZ_4K, RW);
	t_attach(dom, &u, sid);
	t_unmap(dom, iova_make(IOVA), SZ_4K);
	assert_int_equal(hw_mmio_read64(BASE(idx) + VTD_IQT_REG),
			 (uint64_t)u.qi.tail << 5);

	/* A queue error is recovered as in legacy mode. */
	model_inject_iqe(idx, 0, VTD_IQEI_RSVD);
	assert_int_equal(vtd_domain_flush(dom), -EIO);
	assert_int_equal(vtd_domain_flush(dom), 0);
	assert_int_equal(vtd_unit_stats(&u)->iqe, 1);

	/* A device-TLB invalidation in a 256-bit slot: its fields, its
	 * endpoint. */
	before = model_now();
	assert_int_equal(
		vtd_devtlb_flush(&u, LIVE, LIVE, 0, iova_make(0x40000), 2), 0);
	d = vtd_desc_devtlb(&u, LIVE, LIVE, 0, iova_make(0x40000), 2);
	assert_int_equal(field_get64(VTD_QI_TYPE, d.lo), VTD_QI_TYPE_DEVTLB);
	assert_int_equal(field_get64(VTD_QI_DEVTLB_SID, d.lo), rid_val(LIVE));
	assert_int_equal(d.hi, 0x41000 | VTD_QI_DEVTLB_HI_S);
	assert_int_equal(model_executed(idx, d.lo, d.hi, before), 1);
	assert_int_equal(model_endpoint_stats(idx, LIVE)->invalidations, 1);

	/* A device that never answers: quarantined; the ITE recovered. */
	assert_int_equal(vtd_devtlb_flush(&u, DEAD, DEAD, 0, iova_make(0),
					  VTD_DEVTLB_ALL),
			 -ETIMEDOUT);
	assert_true(vtd_device_quarantined(&u, DEAD));
	model_advance(UINT64_C(61000000000));
	vtd_qi_poll(&u);
	assert_int_equal(vtd_unit_stats(&u)->ite, 1);
	assert_int_equal(vtd_devtlb_flush(&u, DEAD, DEAD, 0, iova_make(0), 0),
			 -EIO);
	assert_int_equal(vtd_domain_flush(dom), 0);

	/* PASIDs only in scalable mode. */
	assert_int_equal(vtd_attach_pasid(dom, &lu, sid, 5), -EINVAL);

	t_detach(dom, &u, sid);
	assert_int_equal(vtd_domain_destroy(dom), 0);
	shut_down(&u);
	shut_down(&lu);
}

static void test_sm_fault_reasons(void **state)
{
	assert_string_equal(vtd_fault_reason_text(0x39),
			    "SM: root entry not present");
	assert_string_equal(vtd_fault_reason_text(0x59),
			    "SM: PASID table entry not present");
	assert_string_equal(vtd_fault_reason_text(0x85),
			    "SM: write not permitted");
	assert_string_equal(
		vtd_fault_reason_text(0x90),
		"SM: first-level A/D update needed while walks do not snoop");
	assert_string_equal(vtd_fault_reason_text(0x35), "unknown reason");
	assert_string_equal(vtd_fault_reason_text(0xff), "unknown reason");
	/* The legacy table is still there. */
	assert_string_equal(vtd_fault_reason_text(0x2),
			    "context entry not present");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mode_choice, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sm_bringup_default_deny,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sm_takeover_with_rmrr,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pasid_table_sizes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_every_pgtt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_first_level_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_first_level_pasids, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_fl_only_unit_default_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_model_stale_pasid_caches,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_model_catches_missing_pasid_cache_invalidation,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_switch_pasid_no_torn_entry,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sm_caching_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sm_walk_coherency, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sm_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sm_fault_reasons, setup,
						teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
