#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/edu/edu.h"
#include "drivers/hw.h"
#include "drivers/pci/hotplug.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/reset.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/pci_fake.h"

/*
 * Presence, and making sure a function's DMA is over before it changes
 * owner: one test per method and per way it can fail, each with a transfer
 * in flight that must never land once pci_dev_quiesce() returned 0.  Then
 * hot-add running out of memory, and the fake topology's own promises
 * (DMA engines, aliases) that other tests build on.
 */

#define MS	 UINT64_C(1000000)
#define TIMEOUT	 (50 * MS)
#define BAR	 0xc0000000U
#define EXP	 0x40U
#define PM	 0x60U
#define DMA_ADDR 0x1000U

static struct pci_host host;

/* Transfers that reached the IOMMU. */
static unsigned int landed;
static uint16_t landed_rid;

static void sink(void *ctx, uint16_t seg, uint16_t rid, uint64_t addr,
		 uint32_t len)
{
	landed++;
	landed_rid = rid;
}

static int setup(void **state)
{
	pci_cfg_reset();
	pci_log_reset();
	memset(&host, 0, sizeof(host));
	pci_alloc_fail_after = -1;
	landed = 0;
	landed_rid = 0;
	pci_fake_dma_sink(sink, NULL);
	return 0;
}

static int teardown(void **state)
{
	pci_host_clear(&host);
	assert_int_equal(pci_alloc_live, 0);
	return 0;
}

/* ---- topology ----------------------------------------------------------- */

/*
 * A function at bus:dev.0 with a 1 MiB BAR 0 at BAR + dev MiB, decoding and
 * mastering; a PCI Express endpoint (capability at EXP) when pcie.
 */
static uint8_t *function(uint8_t bus, unsigned int dev, bool pcie)
{
	uint8_t *cfg = pci_cfg_add(0, bus, pci_devfn(dev, 0), 0x8086,
				   (uint16_t)(0x100 + dev), 0x020000,
				   PCI_HEADER_TYPE_NORMAL);

	pci_cfg_bar(cfg, 0, 0x100000, 0);
	pci_cfg_put32(cfg, PCI_BASE_ADDRESS_0, BAR + dev * 0x100000U);
	pci_cfg_put16(cfg, PCI_COMMAND,
		      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (pcie) {
		pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, EXP);
		pci_cfg_pcie(cfg, EXP, PCI_EXP_TYPE_ENDPOINT, 0);
	}
	return cfg;
}

/* ACS with everything isolation needs, so the port is a group boundary. */
static void port_acs(uint8_t *port)
{
	pci_cfg_acs(port, 0x100, 0,
		    PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF, 0);
}

/* Root port 00:1c.0 leading to bus 1; isolating when acs. */
static uint8_t *root_port(bool acs)
{
	uint8_t *rp = pci_cfg_add_port(0, pci_devfn(0x1c, 0),
				       PCI_EXP_TYPE_ROOT_PORT, 1, 4);

	if (acs) {
		port_acs(rp);
	}
	return rp;
}

static void enumerate(void)
{
	assert_int_equal(pci_host_add_range(&host, 0, 0, 0xff), 0);
	assert_int_equal(pci_enumerate(&host), 0);
}

static struct pci_dev *find(uint8_t bus, unsigned int dev, unsigned int fn)
{
	struct pci_dev *d = pci_find_dev(&host, 0, bus, pci_devfn(dev, fn));

	assert_non_null(d);
	return d;
}

static void start_dma(uint8_t *cfg, enum pci_fake_bme mode, uint64_t drain)
{
	pci_fake_dma_mode(cfg, mode, drain);
	assert_true(pci_fake_dma_start(cfg, DMA_ADDR, 64, 10000 * MS));
}

static int quiesce(struct pci_dev *d, enum pci_quiesce_method *used,
		   uint64_t *took)
{
	uint64_t t0 = pci_fake_now_ns;
	int ret = pci_dev_quiesce(&host, d, TIMEOUT, NULL, used);

	*took = pci_fake_now_ns - t0;
	return ret;
}

/*
 * What the next owner sees: it turns bus mastering on, time passes, and
 * nothing started before the handover ever lands.
 */
static void assert_old_dma_never_lands(uint8_t *cfg, const struct pci_dev *d)
{
	unsigned int before = landed;
	uint16_t cmd = hw_pci_read16(0, d->bus, d->devfn, PCI_COMMAND);

	assert_false(cmd & PCI_COMMAND_MASTER);
	hw_pci_write16(0, d->bus, d->devfn, PCI_COMMAND,
		       (uint16_t)(cmd | PCI_COMMAND_MASTER));
	pci_fake_advance(20000 * MS);
	assert_false(pci_fake_dma_busy(cfg));
	assert_int_equal(landed, before);
}

/* BAR 0 and memory decode as before the reset, bus mastering off. */
static void assert_header_back(uint8_t *cfg, const struct pci_dev *d)
{
	uint64_t bar;

	assert_int_equal(pci_bar_mem(d, 0, &bar), 0);
	assert_int_equal(bar, BAR + rid_devfn_device(d->devfn) * 0x100000U);
	assert_int_equal(pci_cfg_get(cfg, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
}

/*
 * d was reset by method, with bus mastering already off, and comes back
 * as it was; what it had in flight never lands.  Returns the time taken.
 */
static uint64_t assert_reset_by(uint8_t *cfg, struct pci_dev *d,
				enum pci_quiesce_method method)
{
	enum pci_quiesce_method used;
	uint64_t took;

	assert_int_equal(quiesce(d, &used, &took), 0);
	assert_int_equal(used, method);
	assert_int_equal(pci_fake_fn_stats(cfg)->resets, 1);
	assert_false(pci_fake_fn_stats(cfg)->cmd_at_reset & PCI_COMMAND_MASTER);
	assert_header_back(cfg, d);
	assert_old_dma_never_lands(cfg, d);
	return took;
}

/* ---- presence ----------------------------------------------------------- */

static void test_present_when_answering_and_links_up(void **state)
{
	uint8_t *rp = root_port(true);

	function(1, 0, true);
	pci_fake_link(rp, true);
	enumerate();
	assert_true(pci_dev_present(find(1, 0, 0)));
}

static void test_not_present_when_config_reads_all_ones(void **state)
{
	uint8_t *fn = function(0, 2, true);
	struct pci_dev *d;

	enumerate();
	d = find(0, 2, 0);
	pci_cfg_dead(fn, true);
	assert_false(pci_dev_present(d));
}

/*
 * The link above goes down and nothing says so (no slot, no event): the
 * function is not present, and it is not even asked.
 */
static void test_not_present_when_link_above_down_without_event(void **state)
{
	uint8_t *rp = root_port(true);
	uint8_t *fn = function(1, 0, true);
	struct pci_dev *d;
	unsigned long seen;

	pci_fake_link(rp, true);
	enumerate();
	d = find(1, 0, 0);
	pci_fake_link(rp, false);
	seen = pci_cfg_accesses(fn);
	assert_false(pci_dev_present(d));
	assert_int_equal(pci_cfg_accesses(fn), seen);
}

/* Link Status means nothing on a port that does not report it (§7.5.3.6). */
static void test_present_below_port_without_link_reporting(void **state)
{
	root_port(true); /* LNKCAP.DLLLARC and LNKSTA.DLLLA both clear */
	function(1, 0, true);
	enumerate();
	assert_true(pci_dev_present(find(1, 0, 0)));
}

/*
 * QEMU's ACPI hot-plug: the slot reads empty and its link down under a
 * working function.  Those registers say nothing; the function answers.
 */
static void test_present_below_slot_that_reads_empty(void **state)
{
	uint8_t *rp = root_port(true);
	uint8_t *fn = function(1, 0, true);

	pci_cfg_put16(rp, EXP + PCI_EXP_FLAGS,
		      (uint16_t)(pci_cfg_get(rp, EXP + PCI_EXP_FLAGS, 2) |
				 PCI_EXP_FLAGS_SLOT));
	pci_cfg_put32(rp, EXP + PCI_EXP_SLTCAP, PCI_EXP_SLTCAP_HPC);
	pci_cfg_put32(rp, EXP + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_DLLLARC);
	enumerate();
	assert_true(pci_dev_present(find(1, 0, 0)));
	/* Then the function goes: the answer, not the registers, says so. */
	pci_cfg_dead(fn, true);
	assert_false(pci_dev_present(find(1, 0, 0)));
}

static void test_not_present_when_gone_and_not_read(void **state)
{
	uint8_t *fn = function(0, 2, true);
	struct pci_dev *d;
	unsigned long seen;

	enumerate();
	d = pci_dev_get(find(0, 2, 0));
	pci_host_clear(&host);
	seen = pci_cfg_accesses(fn);
	assert_false(pci_dev_present(d));
	assert_int_equal(pci_cfg_accesses(fn), seen);
	pci_dev_put(d);
}

/* Programming a function behind a dead link is refused, and never tried. */
static void test_msi_refused_when_link_down(void **state)
{
	uint8_t *rp = root_port(true);
	uint8_t *fn = function(1, 0, true);
	unsigned long seen;

	pci_cfg_put8(fn, EXP + PCI_CAP_LIST_NEXT, 0x60);
	pci_cfg_cap(fn, 0x60, PCI_CAP_ID_MSI, 0);
	pci_fake_link(rp, true);
	enumerate();
	pci_fake_link(rp, false);
	seen = pci_cfg_accesses(fn);
	assert_int_equal(pci_msi_set(find(1, 0, 0), 0xfee00000U, 0x10),
			 -ENODEV);
	assert_int_equal(pci_cfg_accesses(fn), seen);
}

/* ---- FLR ------------------------------------------------------------------
 */

/*
 * FLR, after bus mastering went off and Transactions Pending cleared
 * (§6.6.2), 100 ms before the function is touched, its header back after.
 */
static void test_quiesce_flr(void **state)
{
	uint8_t *fn = function(0, 2, true);

	pci_fake_flr(fn);
	enumerate();
	start_dma(fn, PCI_FAKE_BME_STOPS, 5 * MS);
	assert_true(assert_reset_by(fn, find(0, 2, 0), PCI_QUIESCE_FLR) >=
		    105 * MS);
	assert_false(pci_fake_fn_stats(fn)->tp_at_reset);
	assert_int_equal(pci_log_count(LOG_INFO, "DMA over (flr)"), 1);
}

/* A device that ignores bus master off: FLR still drops what it had. */
static void test_quiesce_flr_goes_ahead_when_pending_never_clears(void **state)
{
	uint8_t *fn = function(0, 2, true);
	enum pci_quiesce_method used;
	struct pci_dev *d;
	uint64_t took;

	pci_fake_flr(fn);
	enumerate();
	d = find(0, 2, 0);
	start_dma(fn, PCI_FAKE_BME_IGNORED, 0);
	assert_int_equal(quiesce(d, &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_FLR);
	assert_true(pci_fake_fn_stats(fn)->tp_at_reset);
	assert_true(took >= TIMEOUT + 100 * MS);
	assert_int_equal(
		pci_log_count(LOG_WARN, "Transactions Pending still set"), 1);
	assert_old_dma_never_lands(fn, d);
}

static void test_quiesce_flr_deadline_when_function_never_returns(void **state)
{
	uint8_t *fn = function(0, 2, true);
	enum pci_quiesce_method used;
	struct pci_dev *d;
	uint64_t took;

	pci_fake_flr(fn);
	pci_fake_reset_time(fn, UINT64_MAX);
	enumerate();
	d = find(0, 2, 0);
	assert_int_equal(quiesce(d, &used, &took), -ETIMEDOUT);
	assert_int_equal(used, PCI_QUIESCE_FLR);
	assert_true(took >= 100 * MS + TIMEOUT);
	assert_true(took <= 100 * MS + TIMEOUT + MS);
	assert_int_equal(pci_log_count(LOG_WARN, "flr did not make sure"), 1);
}

/* FLR comes first even where a PM reset would do. */
static void test_quiesce_prefers_flr_to_pm(void **state)
{
	uint8_t *fn = function(0, 2, true);
	enum pci_quiesce_method used;
	uint64_t took;

	pci_cfg_put8(fn, EXP + PCI_CAP_LIST_NEXT, PM);
	pci_fake_pm(fn, PM, 0, false);
	pci_fake_flr(fn);
	enumerate();
	assert_int_equal(quiesce(find(0, 2, 0), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_FLR);
}

/* pci_reset_function() is the same FLR: the header comes back too. */
static void test_reset_function_restores_header(void **state)
{
	uint8_t *fn = function(0, 2, true);
	struct pci_dev *d;

	pci_fake_flr(fn);
	enumerate();
	d = find(0, 2, 0);
	assert_int_equal(pci_reset_function(d, TIMEOUT), 0);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 1);
	assert_header_back(fn, d);
}

static void test_reset_function_refused_when_link_down(void **state)
{
	uint8_t *rp = root_port(true);
	uint8_t *fn = function(1, 0, true);

	pci_fake_flr(fn);
	pci_fake_link(rp, true);
	enumerate();
	pci_fake_link(rp, false);
	assert_int_equal(pci_reset_function(find(1, 0, 0), TIMEOUT), -ENODEV);
	pci_fake_link(rp, true);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 0);
}

/* ---- PM reset ----------------------------------------------------------- */

static uint8_t *pm_function(bool no_soft_reset, bool pcie)
{
	uint8_t *fn = function(0, 2, pcie);

	if (pcie) {
		pci_cfg_put8(fn, EXP + PCI_CAP_LIST_NEXT, PM);
	} else {
		pci_cfg_put8(fn, PCI_CAPABILITY_LIST, PM);
	}
	pci_fake_pm(fn, PM, 0, no_soft_reset);
	return fn;
}

/* D3hot, 10 ms, D0, 10 ms: a reset when No_Soft_Reset is clear. */
static void test_quiesce_pm_reset(void **state)
{
	uint8_t *fn = pm_function(false, false);

	enumerate();
	start_dma(fn, PCI_FAKE_BME_IGNORED, 0);
	assert_true(assert_reset_by(fn, find(0, 2, 0), PCI_QUIESCE_PM) >=
		    20 * MS);
	assert_int_equal(pci_cfg_get(fn, PM + PCI_PM_CTRL, 2) &
				 PCI_PM_CTRL_STATE,
			 PCI_PM_CTRL_STATE_D0);
}

/* No_Soft_Reset: D0 keeps the state, so it is no reset; the next method. */
static void test_quiesce_pm_skipped_when_no_soft_reset(void **state)
{
	uint8_t *fn = pm_function(true, true);
	enum pci_quiesce_method used;
	uint64_t took;

	enumerate();
	assert_int_equal(quiesce(find(0, 2, 0), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_PENDING);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 0);
}

static void test_quiesce_pm_deadline_when_function_never_returns(void **state)
{
	uint8_t *fn = pm_function(false, false);
	enum pci_quiesce_method used;
	uint64_t took;

	pci_fake_reset_time(fn, UINT64_MAX);
	enumerate();
	assert_int_equal(quiesce(find(0, 2, 0), &used, &took), -ETIMEDOUT);
	assert_int_equal(used, PCI_QUIESCE_PM);
	assert_true(took <= 20 * MS + TIMEOUT + MS);
}

/* ---- secondary bus reset ------------------------------------------------ */

/* A conventional function alone below a root port. */
static void test_quiesce_sbr(void **state)
{
	uint8_t *rp = root_port(true);
	uint8_t *fn = function(1, 0, false);

	enumerate();
	start_dma(fn, PCI_FAKE_BME_IGNORED, 0);
	assert_true(assert_reset_by(fn, find(1, 0, 0), PCI_QUIESCE_SBR) >=
		    101 * MS);
	assert_int_equal(pci_fake_fn_stats(rp)->resets, 0);
	assert_false(pci_cfg_get(rp, PCI_BRIDGE_CONTROL, 2) &
		     PCI_BRIDGE_CTL_BUS_RESET);
}

/*
 * A port without ACS is in the group of what is below it, and does no DMA:
 * resetting its secondary bus still resets exactly the group.
 */
static void test_quiesce_sbr_below_port_in_group(void **state)
{
	uint8_t *rp = root_port(false);
	uint8_t *fn = function(1, 0, false);
	enum pci_quiesce_method used;
	uint64_t took;

	enumerate();
	assert_ptr_equal(pci_group_of(find(1, 0, 0)),
			 pci_group_of(find(0, 0x1c, 0)));
	assert_int_equal(quiesce(find(1, 0, 0), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 1);
	assert_int_equal(pci_fake_fn_stats(rp)->resets, 0);
}

/*
 * An alias group: three conventional functions behind a PCIe-to-PCI bridge
 * share its requester id.  One reset takes all three, each transfer is
 * lost, and the bridge below the root port keeps its bus numbers.
 */
static void test_quiesce_sbr_alias_group(void **state)
{
	uint8_t *fns[3];
	uint8_t *br;
	enum pci_quiesce_method used;
	uint64_t took;
	unsigned int i;

	root_port(true);
	br = pci_fake_alias_group(1, 0, 2, 3, fns);
	enumerate();
	assert_int_equal(pci_group_of(find(2, 1, 0))->dev_count, 4);
	for (i = 0; i < 3; i++) {
		pci_cfg_put16(fns[i], PCI_COMMAND, PCI_COMMAND_MASTER);
		start_dma(fns[i], PCI_FAKE_BME_IGNORED, 0);
	}
	assert_int_equal(quiesce(find(2, 1, 0), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pci_fake_fn_stats(fns[i])->resets, 1);
		assert_false(pci_fake_dma_busy(fns[i]));
		/* The members' headers are back, with bus mastering off. */
		assert_int_equal(pci_cfg_get(fns[i], PCI_COMMAND, 2), 0);
	}
	assert_int_equal(pci_fake_fn_stats(br)->resets, 0);
	pci_fake_advance(20000 * MS);
	assert_int_equal(landed, 0);
}

/* The bridge reset is the root port's when the group reaches above it. */
static void
test_quiesce_sbr_resets_bridge_in_group_and_restores_it(void **state)
{
	uint8_t *fns[2];
	uint8_t *br;
	enum pci_quiesce_method used;
	uint64_t took;

	root_port(false);
	br = pci_fake_alias_group(1, 0, 2, 2, fns);
	enumerate();
	assert_int_equal(quiesce(find(2, 0, 0), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_int_equal(pci_fake_fn_stats(br)->resets, 1);
	assert_int_equal(pci_fake_fn_stats(fns[1])->resets, 1);
	/* Still reachable: the bridge got its bus numbers back. */
	assert_int_equal(pci_cfg_get(br, PCI_SECONDARY_BUS, 1), 2);
	assert_true(pci_dev_present(find(2, 1, 0)));
}

/* A multi-function device without ACS is one group: both reset at once. */
static void test_quiesce_sbr_multifunction_without_acs(void **state)
{
	uint8_t *fns[2];
	enum pci_quiesce_method used;
	uint64_t took;

	root_port(true);
	pci_fake_multifunction(1, 0, 2, fns);
	enumerate();
	assert_ptr_equal(pci_group_of(find(1, 0, 0)),
			 pci_group_of(find(1, 0, 1)));
	assert_int_equal(quiesce(find(1, 0, 1), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_int_equal(pci_fake_fn_stats(fns[0])->resets, 1);
	assert_int_equal(pci_fake_fn_stats(fns[1])->resets, 1);
}

/* With ACS the functions are groups of their own: no one else is reset. */
static void test_quiesce_no_sbr_when_bridge_shared(void **state)
{
	uint8_t *fns[2];
	enum pci_quiesce_method used;
	uint64_t took;

	root_port(true);
	pci_fake_multifunction(1, 0, 2, fns);
	pci_cfg_put32(fns[0], PCI_EXT_CAP_FIRST, 0);
	pci_cfg_acs(fns[0], 0x100, 0, PCI_ACS_RR | PCI_ACS_CR, 0);
	pci_cfg_acs(fns[1], 0x100, 0, PCI_ACS_RR | PCI_ACS_CR, 0);
	enumerate();
	assert_ptr_not_equal(pci_group_of(find(1, 0, 0)),
			     pci_group_of(find(1, 0, 1)));
	assert_int_equal(quiesce(find(1, 0, 1), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_PENDING);
	assert_int_equal(pci_fake_fn_stats(fns[0])->resets, 0);
	assert_int_equal(pci_fake_fn_stats(fns[1])->resets, 0);
}

static void test_quiesce_sbr_deadline_when_function_never_returns(void **state)
{
	uint8_t *fn;
	enum pci_quiesce_method used;
	uint64_t took;

	root_port(true);
	fn = function(1, 0, false);
	pci_fake_reset_time(fn, UINT64_MAX);
	enumerate();
	assert_int_equal(quiesce(find(1, 0, 0), &used, &took), -ETIMEDOUT);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_true(took <= 101 * MS + TIMEOUT + MS);
}

static void test_quiesce_sbr_out_of_memory(void **state)
{
	enum pci_quiesce_method used;
	uint64_t took;
	uint8_t *fn;

	root_port(true);
	fn = function(1, 0, false);
	enumerate();
	pci_alloc_fail_after = 0;
	assert_int_equal(quiesce(find(1, 0, 0), &used, &took), -ENOMEM);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 0);
	pci_alloc_fail_after = -1;
}

/*
 * Groups could not be computed (out of memory at enumeration): with no
 * group known, no bus reset can be shown to touch only it.
 */
static void test_quiesce_no_sbr_without_group(void **state)
{
	enum pci_quiesce_method used;
	struct pci_dev *d = NULL;
	uint64_t took;
	uint8_t *fn;
	long n;

	root_port(true);
	fn = function(1, 0, false);
	assert_int_equal(pci_host_add_range(&host, 0, 0, 0xff), 0);
	for (n = 0; n < 40 && !d; n++) {
		pci_host_clear(&host);
		pci_alloc_fail_after = n;
		if (pci_enumerate(&host) == -ENOMEM) {
			d = pci_find_dev(&host, 0, 1, 0);
		}
		pci_alloc_fail_after = -1;
		if (d && pci_group_of(d)) {
			d = NULL;
		}
	}
	assert_non_null(d);
	assert_int_equal(quiesce(d, &used, &took), -ENOTSUP);
	assert_int_equal(used, PCI_QUIESCE_NONE);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 0);
}

/* ---- the device's own quiesce: edu -------------------------------------- */

/* The edu on the root bus: no reset at all, but it knows when it is idle. */
static void test_quiesce_hook_edu(void **state)
{
	uint8_t *fn = pci_fake_edu(0, pci_devfn(3, 0), BAR);
	enum pci_quiesce_method used;
	struct pci_dev *d;
	struct edu e;
	uint64_t took;

	assert_int_equal(pci_quiesce_hook_add(&host, &edu_quiesce_hook), 0);
	enumerate();
	d = find(0, 3, 0);
	assert_int_equal(edu_init(&e, d), 0);
	assert_int_equal(edu_dma_start(&e, false, iova_make(DMA_ADDR), 64), 0);
	pci_fake_advance(60 * MS);
	assert_int_equal(quiesce(d, &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_HOOK);
	assert_false(pci_fake_dma_busy(fn));
	/* The transfer ran out 100 ms after its start, with no one to land on.
	 */
	assert_true(took >= 39 * MS && took <= 41 * MS);
	assert_int_equal(pci_fake_fn_stats(fn)->dropped, 1);
	assert_old_dma_never_lands(fn, d);
	assert_int_equal(pci_log_count(LOG_INFO, "DMA over (quiesce)"), 1);
}

/* An edu at 00:03.0, its hook registered, whose transfer never ends. */
static uint8_t *edu_stuck(void)
{
	uint8_t *fn = pci_fake_edu(0, pci_devfn(3, 0), BAR);

	assert_int_equal(pci_quiesce_hook_add(&host, &edu_quiesce_hook), 0);
	enumerate();
	pci_cfg_put16(fn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_true(pci_fake_dma_start(fn, DMA_ADDR, 64, UINT64_MAX));
	return fn;
}

static void test_quiesce_hook_deadline(void **state)
{
	enum pci_quiesce_method used;
	uint64_t took;

	edu_stuck();
	assert_int_equal(quiesce(find(0, 3, 0), &used, &took), -ETIMEDOUT);
	assert_int_equal(used, PCI_QUIESCE_HOOK);
	assert_true(took >= TIMEOUT && took <= TIMEOUT + MS);
}

/* The edu vanishes while its DMA engine is being waited for. */
static void test_quiesce_hook_device_gone_meanwhile(void **state)
{
	enum pci_quiesce_method used;
	uint64_t took;

	pci_fake_gone_at(edu_stuck(), pci_fake_now_ns + 10 * MS);
	assert_int_equal(quiesce(find(0, 3, 0), &used, &took), -ENODEV);
	assert_int_equal(used, PCI_QUIESCE_HOOK);
	assert_true(took >= 10 * MS && took < TIMEOUT);
}

/* A yield that pulls the edu out at its third turn, as housekeeping might. */
static uint8_t *pulled_fn;
static unsigned int hook_turns;

static void pull_at_third_turn(void *ctx)
{
	if (++hook_turns == 3) {
		pci_fake_gone_at(pulled_fn, pci_fake_now_ns);
	}
}

/*
 * The hook waits with the caller's yield (reset.h, pci_pause()), as the
 * resets' waits do, so a busy edu holds no CPU; the card pulled during a
 * turn ends the wait with -ENODEV, not a proof of quiet.
 */
static void test_quiesce_hook_yields(void **state)
{
	const struct pci_yield y = {.fn = pull_at_third_turn};
	enum pci_quiesce_method used;

	pulled_fn = edu_stuck();
	hook_turns = 0;
	assert_int_equal(
		pci_dev_quiesce(&host, find(0, 3, 0), TIMEOUT, &y, &used),
		-ENODEV);
	assert_int_equal(used, PCI_QUIESCE_HOOK);
	assert_true(hook_turns >= 3);
	assert_true(pci_fake_now_ns < TIMEOUT);
}

/* Without the hook registered, the same edu has no way at all. */
static void test_quiesce_hook_only_when_registered(void **state)
{
	enum pci_quiesce_method used;
	uint64_t took;

	pci_fake_edu(0, pci_devfn(3, 0), BAR);
	enumerate();
	assert_int_equal(quiesce(find(0, 3, 0), &used, &took), -ENOTSUP);
	assert_int_equal(used, PCI_QUIESCE_NONE);
}

static void test_hook_registry(void **state)
{
	static const struct pci_quiesce_hook more[PCI_QUIESCE_HOOKS_MAX] = {
		{.vendor = 1},
		{.vendor = 2},
		{.vendor = 3},
		{.vendor = 4},
	};
	unsigned int i;

	assert_int_equal(pci_quiesce_hook_add(&host, &edu_quiesce_hook), 0);
	assert_int_equal(pci_quiesce_hook_add(&host, &edu_quiesce_hook),
			 -EEXIST);
	for (i = 0; i < PCI_QUIESCE_HOOKS_MAX - 1; i++) {
		assert_int_equal(pci_quiesce_hook_add(&host, &more[i]), 0);
	}
	assert_int_equal(pci_quiesce_hook_add(&host, &more[i]), -ENOSPC);
}

/* ---- Transactions Pending ----------------------------------------------- */

static void test_quiesce_pending(void **state)
{
	uint8_t *fn = function(0, 2, true);
	enum pci_quiesce_method used;
	struct pci_dev *d;
	uint64_t took;

	enumerate();
	d = find(0, 2, 0);
	start_dma(fn, PCI_FAKE_BME_STOPS, 5 * MS);
	assert_int_equal(quiesce(d, &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_PENDING);
	assert_true(took >= 5 * MS && took <= 6 * MS);
	assert_false(pci_cfg_get(fn, EXP + PCI_EXP_DEVSTA, 2) &
		     PCI_EXP_DEVSTA_TRPND);
	assert_old_dma_never_lands(fn, d);
}

static void test_quiesce_pending_deadline(void **state)
{
	uint8_t *fn = function(0, 2, true);
	enum pci_quiesce_method used;
	uint64_t took;

	pci_fake_tp_stuck(fn, true);
	enumerate();
	assert_int_equal(quiesce(find(0, 2, 0), &used, &took), -ETIMEDOUT);
	assert_int_equal(used, PCI_QUIESCE_PENDING);
	assert_true(took >= TIMEOUT && took <= TIMEOUT + MS);
	assert_int_equal(pci_log_count(LOG_WARN, "pending did not make sure"),
			 1);
}

/* ---- refusals ----------------------------------------------------------- */

/* A conventional function on a root bus, no PM, no hook: nothing works. */
static void test_quiesce_refused_naming_what_is_missing(void **state)
{
	uint8_t *fn = function(0, 2, false);
	enum pci_quiesce_method used;
	uint64_t took;

	enumerate();
	assert_int_equal(quiesce(find(0, 2, 0), &used, &took), -ENOTSUP);
	assert_int_equal(used, PCI_QUIESCE_NONE);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 0);
	assert_false(pci_cfg_get(fn, PCI_COMMAND, 2) & PCI_COMMAND_MASTER);
	assert_int_equal(
		pci_log_count(
			LOG_WARN,
			"cannot make sure its DMA is over: no FLR, no power management (no PM reset), on a root bus (no secondary bus reset), no quiesce hook for 8086:0102, not PCI Express (no Transactions Pending)"),
		1);
}

static void test_quiesce_refused_when_link_down(void **state)
{
	uint8_t *rp = root_port(true);
	uint8_t *fn = function(1, 0, true);
	enum pci_quiesce_method used;
	uint64_t took;

	pci_fake_flr(fn);
	pci_fake_link(rp, true);
	enumerate();
	pci_fake_link(rp, false);
	assert_int_equal(quiesce(find(1, 0, 0), &used, &took), -ENODEV);
	assert_int_equal(used, PCI_QUIESCE_NONE);
	assert_int_equal(took, 0);
}

static void test_method_names(void **state)
{
	assert_string_equal(pci_quiesce_method_name(PCI_QUIESCE_NONE), "none");
	assert_string_equal(pci_quiesce_method_name(PCI_QUIESCE_FLR), "flr");
	assert_string_equal(pci_quiesce_method_name(PCI_QUIESCE_PM), "pm");
	assert_string_equal(pci_quiesce_method_name(PCI_QUIESCE_SBR), "sbr");
	assert_string_equal(pci_quiesce_method_name(PCI_QUIESCE_HOOK),
			    "quiesce");
	assert_string_equal(pci_quiesce_method_name(PCI_QUIESCE_PENDING),
			    "pending");
	assert_string_equal(
		pci_quiesce_method_name((enum pci_quiesce_method)99), "?");
}

/* ---- hot-add out of memory ---------------------------------------------- */

static unsigned int added;
static unsigned int removed;
static bool added_without_group;

static void on_removing(void *ctx, struct pci_dev *d)
{
}

static void on_removed(void *ctx, struct pci_dev *d, bool surprise)
{
	removed++;
}

static void on_added(void *ctx, struct pci_dev *d)
{
	added++;
	added_without_group |= !pci_group_of(d);
}

static const struct pci_hotplug_ops ops = {
	.removing = on_removing,
	.removed = on_removed,
	.added = on_added,
};

/*
 * Memory runs out at each allocation of a hot-add in turn: either the card
 * is reported with its group, or it is not reported and not listed, its
 * slot off; never a device without a group, never a leak.
 */
static void test_hot_add_out_of_memory_fails_closed(void **state)
{
	unsigned int fails = 0, ok = 0, ms;
	struct pci_slot *s;
	uint8_t *rp, *fn;
	long n;
	int slot;

	for (n = 0; n < 40; n++) {
		setup(state);
		rp = root_port(true);
		pci_cfg_window(rp, 0xc1000000U, 0xc11fffffU);
		slot = pci_fake_slot(rp, PCI_CFG_PORT_EXP,
				     PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP |
					     PCI_EXP_SLTCAP_HPC,
				     1);
		fn = pci_cfg_add(0, 1, 0, 0x1234, 0x11e8, 0x00ff00, 0);
		pci_cfg_bar(fn, 0, 0x100000, 0);
		pci_fake_slot_card(slot, fn);
		enumerate();
		s = pci_find_slot(&host, 0, 0, pci_devfn(0x1c, 0));
		assert_non_null(s);
		added = 0;
		added_without_group = false;
		pci_fake_slot_insert(slot, true);
		pci_alloc_fail_after = n;
		for (ms = 0; ms < 2000 && s->state != PCI_SLOT_ACTIVE &&
			     s->state != PCI_SLOT_OFF;
		     ms++) {
			pci_hotplug_poll(&host, &ops, NULL);
			pci_fake_advance(MS);
		}
		pci_alloc_fail_after = -1;
		assert_false(added_without_group);
		if (s->state == PCI_SLOT_ACTIVE) {
			assert_int_equal(added, 1);
			ok++;
		} else {
			assert_int_equal(s->state, PCI_SLOT_OFF);
			assert_int_equal(added, 0);
			assert_null(pci_find_dev(&host, 0, 1, 0));
			fails++;
		}
		teardown(state);
	}
	assert_true(fails > 0);
	assert_true(ok > 0);
}

/*
 * A secondary bus reset below a hot-plug port takes the link down and up:
 * the port reports it (DLLSC), and that is not a removal.
 */
static void test_quiesce_sbr_in_slot_is_no_removal(void **state)
{
	enum pci_quiesce_method used;
	struct pci_slot *s;
	uint8_t *rp, *fn;
	uint64_t took;
	int slot;

	rp = root_port(true);
	slot = pci_fake_slot(rp, PCI_CFG_PORT_EXP,
			     PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_HPC, 1);
	fn = function(1, 0, false);
	pci_fake_slot_card(slot, fn);
	pci_fake_slot_boot(slot);
	enumerate();
	s = pci_find_slot(&host, 0, 0, pci_devfn(0x1c, 0));
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	removed = 0;
	assert_int_equal(quiesce(find(1, 0, 0), &used, &took), 0);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 1);
	pci_hotplug_poll(&host, &ops, NULL);
	pci_hotplug_poll(&host, &ops, NULL);
	assert_int_equal(removed, 0);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	assert_true(pci_dev_present(find(1, 0, 0)));
}

/* A yield during a reset's waits: the hot-plug poll, as the kernel's tick. */
static unsigned int yields;

static void poll_slots(void *ctx)
{
	yields++;
	pci_hotplug_poll(&host, &ops, NULL);
}

/*
 * The same with the hot-plug poll running during the reset's 100 ms
 * (reset.h, struct pci_yield): the slot of the bridge being reset is left
 * alone until the reset acknowledged its link change.
 */
static void test_sbr_in_slot_yielding_is_no_removal(void **state)
{
	const struct pci_yield y = {.fn = poll_slots};
	enum pci_quiesce_method used;
	struct pci_slot *s;
	uint8_t *rp, *fn;
	int slot;

	rp = root_port(true);
	slot = pci_fake_slot(rp, PCI_CFG_PORT_EXP,
			     PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_HPC, 1);
	fn = function(1, 0, false);
	pci_fake_slot_card(slot, fn);
	pci_fake_slot_boot(slot);
	enumerate();
	s = pci_find_slot(&host, 0, 0, pci_devfn(0x1c, 0));
	removed = 0;
	yields = 0;
	assert_int_equal(
		pci_dev_quiesce(&host, find(1, 0, 0), TIMEOUT, &y, &used), 0);
	assert_int_equal(used, PCI_QUIESCE_SBR);
	assert_true(yields > 0);
	assert_int_equal(pci_fake_fn_stats(fn)->resets, 1);
	pci_hotplug_poll(&host, &ops, NULL);
	assert_int_equal(removed, 0);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	assert_null(host.resetting);
}

/* ---- the fake's promises ------------------------------------------------ */

/* What bus master off does to a transfer in flight, per kind of device. */
static void test_fake_dma_bus_master_modes(void **state)
{
	uint8_t *stops = function(0, 2, true);
	uint8_t *at_end = function(0, 3, true);
	uint8_t *ignored = function(0, 4, true);

	start_dma(stops, PCI_FAKE_BME_STOPS, MS);
	start_dma(at_end, PCI_FAKE_BME_AT_END, 0);
	start_dma(ignored, PCI_FAKE_BME_IGNORED, 0);
	pci_fake_cfg_write(0, 0, pci_devfn(2, 0), PCI_COMMAND, 2, 0);
	pci_fake_cfg_write(0, 0, pci_devfn(3, 0), PCI_COMMAND, 2, 0);
	pci_fake_cfg_write(0, 0, pci_devfn(4, 0), PCI_COMMAND, 2, 0);
	assert_false(pci_fake_dma_busy(stops));
	assert_true(pci_fake_cfg_read(0, 0, pci_devfn(2, 0),
				      EXP + PCI_EXP_DEVSTA, 2) &
		    PCI_EXP_DEVSTA_TRPND);
	pci_fake_advance(MS);
	assert_false(pci_fake_cfg_read(0, 0, pci_devfn(2, 0),
				       EXP + PCI_EXP_DEVSTA, 2) &
		     PCI_EXP_DEVSTA_TRPND);
	/* The edu's kind lands if mastering is back on by the end. */
	pci_fake_cfg_write(0, 0, pci_devfn(3, 0), PCI_COMMAND, 2,
			   PCI_COMMAND_MASTER);
	assert_true(pci_fake_dma_complete(at_end));
	assert_int_equal(landed_rid, pci_devfn(3, 0));
	assert_true(pci_fake_dma_complete(ignored));
	assert_int_equal(landed, 2);
}

/* Aliased DMA arrives with the id the driver expects to see. */
static void test_fake_alias_rid_is_the_drivers_alias(void **state)
{
	uint8_t *fns[2];
	rid_t ids[4];
	unsigned int n;

	root_port(true);
	pci_fake_alias_group(1, 0, 2, 2, fns);
	enumerate();
	pci_cfg_put16(fns[1], PCI_COMMAND, PCI_COMMAND_MASTER);
	assert_true(pci_fake_dma_start(fns[1], DMA_ADDR, 4, MS));
	pci_fake_advance(MS);
	assert_int_equal(landed, 1);
	n = pci_dma_aliases(find(2, 1, 0), ids, 4);
	assert_int_equal(n, 2);
	assert_int_equal(rid_val(ids[1]), landed_rid);
	assert_int_equal(landed_rid, 0x0200);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_present_when_answering_and_links_up),
		T(test_not_present_when_config_reads_all_ones),
		T(test_not_present_when_link_above_down_without_event),
		T(test_present_below_port_without_link_reporting),
		T(test_present_below_slot_that_reads_empty),
		T(test_not_present_when_gone_and_not_read),
		T(test_msi_refused_when_link_down),
		T(test_quiesce_flr),
		T(test_quiesce_flr_goes_ahead_when_pending_never_clears),
		T(test_quiesce_flr_deadline_when_function_never_returns),
		T(test_quiesce_prefers_flr_to_pm),
		T(test_reset_function_restores_header),
		T(test_reset_function_refused_when_link_down),
		T(test_quiesce_pm_reset),
		T(test_quiesce_pm_skipped_when_no_soft_reset),
		T(test_quiesce_pm_deadline_when_function_never_returns),
		T(test_quiesce_sbr),
		T(test_quiesce_sbr_below_port_in_group),
		T(test_quiesce_sbr_alias_group),
		T(test_quiesce_sbr_resets_bridge_in_group_and_restores_it),
		T(test_quiesce_sbr_multifunction_without_acs),
		T(test_quiesce_no_sbr_when_bridge_shared),
		T(test_quiesce_sbr_deadline_when_function_never_returns),
		T(test_quiesce_sbr_out_of_memory),
		T(test_quiesce_no_sbr_without_group),
		T(test_quiesce_hook_edu),
		T(test_quiesce_hook_yields),
		T(test_quiesce_hook_deadline),
		T(test_quiesce_hook_device_gone_meanwhile),
		T(test_quiesce_hook_only_when_registered),
		T(test_hook_registry),
		T(test_quiesce_pending),
		T(test_quiesce_pending_deadline),
		T(test_quiesce_refused_naming_what_is_missing),
		T(test_quiesce_refused_when_link_down),
		T(test_method_names),
		T(test_hot_add_out_of_memory_fails_closed),
		T(test_quiesce_sbr_in_slot_is_no_removal),
		T(test_sbr_in_slot_yielding_is_no_removal),
		T(test_fake_dma_bus_master_modes),
		T(test_fake_alias_rid_is_the_drivers_alias),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
