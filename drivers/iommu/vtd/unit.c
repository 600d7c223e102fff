/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * One DMA-remapping hardware unit (DRHD): validation, capabilities, mode
 * choice, the software copy of GCMD and every register handshake, the
 * firmware hand-off, domain ids.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#define NS_PER_US UINT64_C(1000)
#define NS_PER_MS UINT64_C(1000000)
/* Longest deadline the command line may set: 10 minutes. */
#define DEADLINE_MAX_US (UINT64_C(600) * 1000000)

/*
 * Deadlines.  Healthy hardware finishes each class in microseconds (QEMU
 * does all of them synchronously inside the register write), so each
 * default sits orders of magnitude above a healthy completion, leaving
 * room for emulation and vCPU preemption, yet keeps a dead unit or device
 * from stalling boot or a console command noticeably:
 * - register handshakes 10 ms: GCMD/GSTS and PMEN take microseconds; a
 *   1 ms bound (ACRN) trips under QEMU TCG (docs/scenarios.md,
 *   deadline-jitter), ten times that does not;
 * - IOMMU-internal invalidations 100 ms: context, IOTLB, PASID and
 *   interrupt-entry caches, with read/write draining of in-flight DMA
 *   included.  Missing it degrades the whole unit, so it is generous;
 * - device-TLB invalidations 1 s: a round trip through the endpoint's ATS
 *   logic.  Xen's default (iommu_dev_iotlb_timeout = 1000 ms), and far
 *   below the PCIe Invalidation Completion Timeout (about a minute, up to
 *   two) after which the unit itself reports ITE: missing it quarantines
 *   one device, and the CPU is back long before the hardware gives up.
 */
void vtd_config_default(struct vtd_config *cfg)
{
	cfg->deadline_ns[VTD_DEADLINE_REG] = 10 * NS_PER_MS;
	cfg->deadline_ns[VTD_DEADLINE_IOTLB] = 100 * NS_PER_MS;
	cfg->deadline_ns[VTD_DEADLINE_DEVTLB] = 1000 * NS_PER_MS;
	cfg->mode = VTD_MODE_CHOICE_AUTO;
	cfg->x2apic = false;
	cfg->x2apic_opt_out = false;
	cfg->inherit = false;
}

static const char *const deadline_names[VTD_DEADLINE_COUNT] = {
	[VTD_DEADLINE_REG] = "reg",
	[VTD_DEADLINE_IOTLB] = "iotlb",
	[VTD_DEADLINE_DEVTLB] = "devtlb",
};

const char *vtd_deadline_name(enum vtd_deadline_class cls)
{
	return cls < VTD_DEADLINE_COUNT ? deadline_names[cls] : "unknown";
}

int vtd_config_set(struct vtd_config *cfg, const char *key,
		   unsigned long long value_us)
{
	static const char prefix[] = "vtd.deadline.";
	unsigned int cls;

	if (strncmp(key, prefix, sizeof(prefix) - 1)) {
		return -ENOENT;
	}
	for (cls = 0; cls < VTD_DEADLINE_COUNT; cls++) {
		if (strcmp(key + sizeof(prefix) - 1, deadline_names[cls])) {
			continue;
		}
		if (!value_us || value_us > DEADLINE_MAX_US) {
			return -ERANGE;
		}
		cfg->deadline_ns[cls] = value_us * NS_PER_US;
		return 0;
	}
	return -ENOENT;
}

static const char *const mode_choices[] = {
	[VTD_MODE_CHOICE_AUTO] = "auto",
	[VTD_MODE_CHOICE_LEGACY] = "legacy",
	[VTD_MODE_CHOICE_SCALABLE] = "scalable",
};

int vtd_config_set_str(struct vtd_config *cfg, const char *key,
		       const char *value)
{
	unsigned int i;

	if (strcmp(key, "vtd.mode")) {
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(mode_choices); i++) {
		if (!strcmp(value, mode_choices[i])) {
			cfg->mode = (enum vtd_mode_choice)i;
			return 0;
		}
	}
	return -EINVAL;
}

void vtd_wait_missed(struct vtd_unit *u, enum vtd_deadline_class cls,
		     uint64_t start_ns, const char *what)
{
	u->stats.timeouts++;
	vtd_wait_done(u, cls, start_ns);
	vtd_err(u, "%s did not complete within %llu us", what,
		(unsigned long long)(u->cfg.deadline_ns[cls] / 1000));
}

/*
 * The one bounded wait for register state: poll until done() or the
 * deadline of cls passes, then look once more before declaring it missed.
 */
typedef bool (*poll_fn)(struct vtd_unit *u, const void *arg);

static int poll_until(struct vtd_unit *u, enum vtd_deadline_class cls,
		      poll_fn done, const void *arg, const char *what)
{
	uint64_t start = hw_now_ns();
	uint64_t deadline = vtd_deadline(u, cls, start);
	int err = 0;

	while (!done(u, arg)) {
		if (hw_time_after(deadline)) {
			if (done(u, arg)) {
				break;
			}
			err = -ETIMEDOUT;
			break;
		}
		hw_relax();
	}
	if (err) {
		u->stats.deadline[cls].misses++;
		u->reg_late = true;
		vtd_wait_missed(u, cls, start, what);
		return err;
	}
	vtd_wait_done(u, cls, start);
	if (u->reg_late) {
		/* The unit answers handshakes again. */
		u->stats.deadline[cls].recoveries++;
		u->reg_late = false;
	}
	return 0;
}

struct reg_wait {
	uint32_t off;
	uint32_t mask;
	uint32_t want;
};

static bool reg_reached(struct vtd_unit *u, const void *arg)
{
	const struct reg_wait *w = arg;

	return (vtd_read32(u, w->off) & w->mask) == w->want;
}

static int wait_reg32(struct vtd_unit *u, uint32_t off, uint32_t mask,
		      uint32_t want, const char *what)
{
	struct reg_wait w = {.off = off, .mask = mask, .want = want};

	return poll_until(u, VTD_DEADLINE_REG, reg_reached, &w, what);
}

/*
 * Turn a persistent GCMD state (TE, QIE, IRE) on or off.  GCMD is
 * write-only and acts on every bit written, so the value written is always
 * the software copy with one bit changed, never GSTS read back (which
 * would re-trigger one-shot commands); one command per write (VT-d spec
 * 11.4.4).  The copy follows the request even on timeout: the hardware
 * converges there, and no later write may silently revert it.
 */
int vtd_gcmd_set(struct vtd_unit *u, uint32_t bit, bool on)
{
	u->gcmd = on ? u->gcmd | bit : u->gcmd & ~bit;
	vtd_write32(u, VTD_GCMD_REG, u->gcmd);
	/* GSTS reports each state at the position of its command. */
	return wait_reg32(u, VTD_GSTS_REG, bit, on ? bit : 0,
			  "GCMD state change");
}

/* A one-shot command (SRTP, WBF) on top of the persistent states. */
static int gcmd_oneshot(struct vtd_unit *u, uint32_t cmd, uint32_t status,
			uint32_t want, const char *what)
{
	vtd_write32(u, VTD_GCMD_REG, u->gcmd | cmd);
	return wait_reg32(u, VTD_GSTS_REG, status, want, what);
}

/*
 * Units with CAP.RWBF may hold table writes in a write buffer; flush it
 * when an entry becomes present without any invalidation that would flush
 * it implicitly (VT-d spec 6.8).
 */
int vtd_unit_flush_write_buffer(struct vtd_unit *u)
{
	if (!vtd_cap_rwbf(u->cap)) {
		return 0;
	}
	return gcmd_oneshot(u, VTD_GCMD_WBF, VTD_GSTS_WBFS, 0,
			    "write-buffer flush");
}

/*
 * Latch the interrupt remapping table programmed in IRTA; software must
 * then invalidate the interrupt entry cache globally (VT-d spec 11.4.4).
 */
int vtd_unit_set_irtp(struct vtd_unit *u)
{
	return gcmd_oneshot(u, VTD_GCMD_SIRTP, VTD_GSTS_IRTPS, VTD_GSTS_IRTPS,
			    "set interrupt remapping table pointer");
}

static void set_mode(struct vtd_unit *u, enum vtd_mode mode, const char *why)
{
	u->mode = mode;
	u->mode_reason = why;
}

/*
 * Scalable mode as the command line forces it: the unit must have it
 * (ECAP.SMTS) and some page-table format to run domains with (second- or
 * first-level, ECAP.SLTS or FLTS).  Refused otherwise: the unit stays in
 * legacy mode, which every unit offers, rather than not translating.
 */
static void force_scalable(struct vtd_unit *u)
{
	const char *why = NULL;

	if (!vtd_ecap_smts(u->ecap)) {
		why = "vtd.mode=scalable refused: no SMTS";
	} else if (!vtd_ecap_slts(u->ecap) && !vtd_ecap_flts(u->ecap)) {
		why = "vtd.mode=scalable refused: neither SLTS nor FLTS";
	}
	if (why) {
		vtd_warn(u, "%s; staying in legacy mode", why);
		set_mode(u, VTD_MODE_LEGACY, why);
		return;
	}
	set_mode(u, VTD_MODE_SCALABLE, "forced by vtd.mode");
}

/*
 * The one place the translation mode is chosen, per unit from its own
 * capabilities (docs/design.md, invariant 8).  Left to itself (auto), a unit
 * runs in scalable mode when it has it and can walk some page-table format
 * there (VT-d spec 11.4.3: SMTS, with SLTS or FLTS): domains then use
 * second-level tables, or first-level ones on a unit without SLTS.  A
 * unit offering first-level tables only is run as offered, not held back
 * in legacy mode, so that its scalable-mode features (PASIDs) are usable.
 */
static void choose_mode(struct vtd_unit *u)
{
	switch (u->cfg.mode) {
	case VTD_MODE_CHOICE_LEGACY:
		set_mode(u, VTD_MODE_LEGACY, "forced by vtd.mode");
		return;
	case VTD_MODE_CHOICE_SCALABLE:
		force_scalable(u);
		return;
	case VTD_MODE_CHOICE_AUTO:
		break;
	}
	if (!vtd_ecap_smts(u->ecap)) {
		set_mode(u, VTD_MODE_LEGACY, "auto: no SMTS");
	} else if (!vtd_ecap_slts(u->ecap) && !vtd_ecap_flts(u->ecap)) {
		set_mode(u, VTD_MODE_LEGACY, "auto: SMTS without SLTS or FLTS");
	} else if (!vtd_ecap_slts(u->ecap)) {
		set_mode(u, VTD_MODE_SCALABLE, "auto: SMTS and FLTS, no SLTS");
	} else {
		set_mode(u, VTD_MODE_SCALABLE, "auto: SMTS and SLTS");
	}
}

static const char *mode_name(enum vtd_mode mode)
{
	switch (mode) {
	case VTD_MODE_LEGACY:
		return "legacy";
	case VTD_MODE_SCALABLE:
		return "scalable";
	}
	return "unknown";
}

static uint64_t mode_ttm(enum vtd_mode mode)
{
	switch (mode) {
	case VTD_MODE_LEGACY:
		return VTD_RTADDR_TTM_LEGACY;
	case VTD_MODE_SCALABLE:
		return VTD_RTADDR_TTM_SCALABLE;
	}
	return VTD_RTADDR_TTM_LEGACY;
}

static bool has_supported_depth(uint64_t cap)
{
	return vtd_cap_sagaw(cap) &
	       (VTD_SAGAW_39 | VTD_SAGAW_48 | VTD_SAGAW_57);
}

/*
 * Refuse what cannot be driven safely, saying why (docs/design.md,
 * invariant 9).
 */
static int validate(struct vtd_unit *u)
{
	if (u->ver == UINT32_MAX || u->cap == UINT64_MAX ||
	    u->ecap == UINT64_MAX) {
		vtd_err(u,
			"registers at 0x%llx read all-ones; no remapping hardware answers there",
			(unsigned long long)u->reg_base);
		return -ENODEV;
	}
	if (field_get32(VTD_VER_MAX, u->ver) == 0 || u->cap == 0 ||
	    u->ecap == 0) {
		vtd_err(u,
			"registers at 0x%llx read zero; no remapping hardware answers there",
			(unsigned long long)u->reg_base);
		return -ENODEV;
	}
	if (!vtd_ecap_qi(u->ecap)) {
		vtd_err(u,
			"no queued invalidation; moat does not use register-based invalidation (gone from VT-d 6), so this unit cannot be invalidated safely");
		return -ENOTSUP;
	}
	if (!has_supported_depth(u->cap)) {
		vtd_err(u,
			"SAGAW 0x%x offers no 3-, 4- or 5-level tables; DMA remapping unusable",
			vtd_cap_sagaw(u->cap));
		return -ENOTSUP;
	}
	if (vtd_cap_nd(u->cap) > 6) {
		vtd_err(u, "CAP.ND %u is reserved", vtd_cap_nd(u->cap));
		return -ENODEV;
	}
	return 0;
}

/* Fault and IOTLB registers may lie past the first page (FRO, IRO). */
static int map_registers(struct vtd_unit *u)
{
	uint64_t end = vtd_cap_fro(u->cap) +
		       (uint64_t)vtd_cap_nfr(u->cap) * VTD_FRCD_SIZE;
	uint64_t iotlb_end = vtd_ecap_iro(u->ecap) + 16;

	if (iotlb_end > end) {
		end = iotlb_end;
	}
	if (end <= VTD_REG_PAGE) {
		return 0;
	}
	end = (end + VTD_REG_PAGE - 1) & ~(uint64_t)(VTD_REG_PAGE - 1);
	return hw_mmio_map(u->reg_base, end);
}

int vtd_unit_init(struct vtd_unit *u, unsigned int index, uint16_t segment,
		  uint64_t reg_base, const struct vtd_config *cfg)
{
	int err;

	memset(u, 0, sizeof(*u));
	u->index = index;
	u->segment = segment;
	u->reg_base = reg_base;
	if (cfg) {
		u->cfg = *cfg;
	} else {
		vtd_config_default(&u->cfg);
	}

	err = hw_mmio_map(reg_base, VTD_REG_PAGE);
	if (err) {
		vtd_err(u, "register base 0x%llx cannot be mapped",
			(unsigned long long)reg_base);
		return err;
	}
	u->ver = vtd_read32(u, VTD_VER_REG);
	u->cap = vtd_read64(u, VTD_CAP_REG);
	u->ecap = vtd_read64(u, VTD_ECAP_REG);
	err = validate(u);
	if (err) {
		return err;
	}
	err = map_registers(u);
	if (err) {
		vtd_err(u,
			"fault/IOTLB registers beyond the first page cannot be mapped");
		return err;
	}
	choose_mode(u);
	if (u->mode == VTD_MODE_SCALABLE) {
		u->pasids = vtd_pasid_limit(u);
	}

	u->dids.bits = vtd_cap_domains(u->cap);
	u->dids.map = hw_zalloc(BITMAP_WORDS(u->dids.bits) * sizeof(uint64_t));
	if (!u->dids.map) {
		return -ENOMEM;
	}
	/* With CM, hardware tags cached not-present entries with id 0 (6.1). */
	if (vtd_cap_cm(u->cap)) {
		bitmap_id_reserve(&u->dids, 0);
	}

	err = vtd_root_init(u);
	if (err) {
		goto out_free_did_map;
	}
	err = vtd_qi_init(u);
	if (err) {
		goto out_free_root;
	}
	err = vtd_devices_init(u);
	if (err) {
		goto out_free_qi;
	}
	err = vtd_ir_init(u);
	if (err) {
		goto out_free_devices;
	}

	vtd_info(u, "base 0x%llx ver %u.%u cap 0x%llx ecap 0x%llx mode %s (%s)",
		 (unsigned long long)reg_base, field_get32(VTD_VER_MAX, u->ver),
		 field_get32(VTD_VER_MIN, u->ver), (unsigned long long)u->cap,
		 (unsigned long long)u->ecap, mode_name(u->mode),
		 u->mode_reason);
	return 0;

out_free_devices:
	vtd_devices_fini(u);
out_free_qi:
	vtd_qi_fini(&u->qi);
out_free_root:
	vtd_root_fini(u);
out_free_did_map:
	hw_free(u->dids.map);
	memset(&u->dids, 0, sizeof(u->dids));
	return err;
}

/* The firmware's queue has drained, or stopped on an error for good. */
static bool firmware_queue_idle(struct vtd_unit *u, const void *arg)
{
	if (vtd_read32(u, VTD_FSTS_REG) & (VTD_FSTS_IQE | VTD_FSTS_ITE)) {
		return true;
	}
	return vtd_read64(u, VTD_IQH_REG) == vtd_read64(u, VTD_IQT_REG);
}

/*
 * Firmware left queued invalidation on: the queue address cannot be changed
 * while QIE is set, and QI may only be disabled once the queue is idle
 * (VT-d spec 11.4.4, QIE).
 */
static int firmware_queue_off(struct vtd_unit *u)
{
	int err;

	err = poll_until(u, VTD_DEADLINE_IOTLB, firmware_queue_idle, NULL,
			 "draining the firmware's invalidation queue");
	if (err) {
		return err;
	}
	return vtd_gcmd_set(u, VTD_GCMD_QIE, false);
}

/*
 * Point the unit at our root table.  With TE already on (firmware) this is
 * the atomic switch; afterwards the caches must be invalidated globally
 * before any entry of the new tables is trusted (VT-d spec 6.6), in
 * scalable mode the PASID cache too, between the context cache that
 * leads to it and the IOTLB it leads to.
 */
static int switch_root(struct vtd_unit *u)
{
	struct vtd_qi_desc inv[3];
	unsigned int n = 0;
	int err;

	vtd_write64(u, VTD_RTADDR_REG,
		    (u->root_pa & VTD_RTADDR_RTA) |
			    field_prep64(VTD_RTADDR_TTM, mode_ttm(u->mode)));
	err = gcmd_oneshot(u, VTD_GCMD_SRTP, VTD_GSTS_RTPS, VTD_GSTS_RTPS,
			   "set root table pointer");
	if (err) {
		return err;
	}
	inv[n++] = vtd_desc_cc_global();
	if (u->mode == VTD_MODE_SCALABLE) {
		inv[n++] = vtd_desc_pc_global();
	}
	inv[n++] = vtd_desc_iotlb_global(u);
	return vtd_qi_submit(u, inv, n, NULL);
}

/* Protected memory regions are dropped only once our tables are live. */
static int pmr_off(struct vtd_unit *u)
{
	uint32_t pmen;

	if (!vtd_cap_pmr(u->cap)) {
		return 0;
	}
	pmen = vtd_read32(u, VTD_PMEN_REG);
	if (!(pmen & VTD_PMEN_EPM)) {
		return 0;
	}
	vtd_warn(u, "firmware left protected memory regions on; disabling");
	vtd_write32(u, VTD_PMEN_REG, pmen & ~VTD_PMEN_EPM);
	return wait_reg32(u, VTD_PMEN_REG, VTD_PMEN_PRS, 0,
			  "protected memory disable");
}

int vtd_unit_enable(struct vtd_unit *u)
{
	uint32_t gsts;
	int err;

	/* After a failed enable, vtd_unit_disable() comes first. */
	if (vtd_unit_live(u)) {
		return u->state == VTD_UNIT_ON ? 0 : -EBUSY;
	}
	gsts = vtd_read32(u, VTD_GSTS_REG);
	u->gcmd = gsts & VTD_GCMD_PERSISTENT;
	if (gsts & (VTD_GSTS_TES | VTD_GSTS_QIES | VTD_GSTS_IRES)) {
		vtd_warn(u, "firmware left%s%s%s on; taking over",
			 gsts & VTD_GSTS_TES ? " translation" : "",
			 gsts & VTD_GSTS_QIES ? " queued-invalidation" : "",
			 gsts & VTD_GSTS_IRES ? " interrupt-remapping" : "");
	}
	/* Before anything changes: the old tables as the hardware uses them. */
	if (gsts & VTD_GSTS_TES) {
		vtd_inherit_tables(u);
	}

	/* The firmware's interrupt table is not ours to keep using. */
	if (gsts & VTD_GSTS_IRES) {
		err = vtd_gcmd_set(u, VTD_GCMD_IRE, false);
		if (err) {
			return err;
		}
	}
	if (gsts & VTD_GSTS_QIES) {
		err = firmware_queue_off(u);
		if (err) {
			return err;
		}
	}
	vtd_fault_clear_stale(u);

	/* From here on the unit may use our memory: disable undoes it. */
	u->state = VTD_UNIT_LIVE;
	err = vtd_qi_start(u);
	if (err) {
		return err;
	}
	err = switch_root(u);
	if (err) {
		return err;
	}
	/* Before TE: no window where DMA is remapped but interrupts are not. */
	err = vtd_ir_enable(u);
	if (err) {
		return err;
	}
	if (!(gsts & VTD_GSTS_TES)) {
		err = vtd_gcmd_set(u, VTD_GCMD_TE, true);
		if (err) {
			return err;
		}
	}
	err = pmr_off(u);
	if (err) {
		return err;
	}
	u->state = VTD_UNIT_ON;
	if (u->inherited_count) {
		vtd_info(
			u,
			"translation on, default deny except %u inherited requester ids",
			u->inherited_count);
	} else {
		vtd_info(u, "translation on, default deny");
	}
	return 0;
}

int vtd_unit_disable(struct vtd_unit *u)
{
	int err;

	if (!vtd_unit_live(u)) {
		return 0;
	}
	/* Whoever gets the unit next has no handler at our vector. */
	vtd_fault_event_mask(u);
	u->state = VTD_UNIT_LIVE;
	if (u->gcmd & VTD_GCMD_TE) {
		err = vtd_gcmd_set(u, VTD_GCMD_TE, false);
		if (err) {
			return err;
		}
	}
	if (u->gcmd & VTD_GCMD_IRE) {
		err = vtd_gcmd_set(u, VTD_GCMD_IRE, false);
		if (err) {
			return err;
		}
	}
	if (u->gcmd & VTD_GCMD_QIE) {
		err = vtd_qi_stop(u);
		if (err) {
			return err;
		}
	}
	u->state = VTD_UNIT_OFF;
	return 0;
}

void vtd_unit_fini(struct vtd_unit *u)
{
	/* The hardware may still use this memory: leaking beats corrupting. */
	if (vtd_unit_live(u)) {
		vtd_err(u, "still in use by the hardware; its memory is kept");
		return;
	}
	vtd_ir_fini(u);
	vtd_devices_fini(u);
	vtd_qi_fini(&u->qi);
	vtd_root_fini(u);
	vtd_inherit_fini(u);
	hw_free(u->dids.map);
	memset(&u->dids, 0, sizeof(u->dids));
}

struct vtd_unit *vtd_unit_alloc(void)
{
	return hw_zalloc(sizeof(struct vtd_unit));
}

void vtd_unit_free(struct vtd_unit *u)
{
	hw_free(u);
}

uint16_t vtd_unit_segment(const struct vtd_unit *u)
{
	return u->segment;
}

unsigned int vtd_unit_index(const struct vtd_unit *u)
{
	return u->index;
}

uint64_t vtd_unit_cap(const struct vtd_unit *u)
{
	return u->cap;
}

uint64_t vtd_unit_ecap(const struct vtd_unit *u)
{
	return u->ecap;
}

enum vtd_mode vtd_unit_mode(const struct vtd_unit *u)
{
	return u->mode;
}

uint64_t vtd_unit_deadline_ns(const struct vtd_unit *u,
			      enum vtd_deadline_class cls)
{
	return u->cfg.deadline_ns[cls];
}

bool vtd_unit_degraded(const struct vtd_unit *u)
{
	return u->qi.late > 0;
}

const struct vtd_stats *vtd_unit_stats(const struct vtd_unit *u)
{
	return &u->stats;
}

void vtd_unit_info(struct vtd_unit *u, struct vtd_unit_info *info)
{
	uint32_t gsts = vtd_read32(u, VTD_GSTS_REG);
	unsigned int sllps = vtd_cap_sllps(u->cap);
	unsigned int levels;

	memset(info, 0, sizeof(*info));
	info->index = u->index;
	info->segment = u->segment;
	info->reg_base = u->reg_base;
	info->ver_major = field_get32(VTD_VER_MAX, u->ver);
	info->ver_minor = field_get32(VTD_VER_MIN, u->ver);
	info->cap = u->cap;
	info->ecap = u->ecap;
	info->mode = mode_name(u->mode);
	info->mode_reason = u->mode_reason;
	info->pasids = u->pasids;
	info->te = gsts & VTD_GSTS_TES;
	info->qi = gsts & VTD_GSTS_QIES;
	info->ir = gsts & VTD_GSTS_IRES;
	for (levels = 3; levels <= 5; levels++) {
		if (vtd_cap_sagaw(u->cap) & vtd_sagaw_bit(levels)) {
			info->levels_mask |= 1U << levels;
		}
	}
	info->page_sizes = VTD_PAGE_4K;
	if (sllps & VTD_SLLPS_2M) {
		info->page_sizes |= VTD_PAGE_2M;
	}
	if (sllps & VTD_SLLPS_1G) {
		info->page_sizes |= VTD_PAGE_1G;
	}
	info->domains = u->dids.bits;
	info->domains_used = u->dids.used;
	info->caching_mode = vtd_cap_cm(u->cap);
	info->coherent = vtd_unit_coherent(u);
	info->ir_x2apic = u->ir_x2apic;
	info->irtes = u->irtes.used;
	info->inherited = u->inherited_count;
}

int vtd_did_alloc(struct vtd_unit *u, uint16_t *did)
{
	uint32_t id;

	if (bitmap_id_alloc(&u->dids, &id)) {
		vtd_err(u, "all %u domain ids in use", u->dids.bits);
		return -ENOSPC;
	}
	*did = (uint16_t)id;
	return 0;
}

void vtd_did_free(struct vtd_unit *u, uint16_t did)
{
	bitmap_id_free(&u->dids, did);
}
