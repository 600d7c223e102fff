#include "drivers/pci/reset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/internal.h"
#include "drivers/pci/pci.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/*
 * Resets and quiescence (reset.h).  Every wait on the device ends at a
 * deadline; the fixed delays are the specifications' minimums.
 */

#define MS UINT64_C(1000000)
/* PCIe §6.6.2: 100 ms after initiating FLR before the function is touched. */
#define FLR_WAIT_NS (100 * MS)
/* PCI Bus PM 1.2 §5.6.1, table 5-11: D0 to D3hot, D3hot to D0: 10 ms. */
#define PM_D3HOT_WAIT_NS (10 * MS)
/*
 * Secondary Bus Reset held at least 1 ms (PCI-to-PCI Bridge 1.2 §3.2.5.18,
 * Trst), then 100 ms before the first Configuration Request (PCIe §6.6.1).
 */
#define SBR_ASSERT_NS (1 * MS)
#define SBR_WAIT_NS   (100 * MS)

/* The type 0 and type 1 headers: 64 bytes. */
#define HDR_DWORDS 16U

const char *pci_quiesce_method_name(enum pci_quiesce_method method)
{
	static const char *const names[] = {
		[PCI_QUIESCE_NONE] = "none",
		[PCI_QUIESCE_FLR] = "flr",
		[PCI_QUIESCE_PM] = "pm",
		[PCI_QUIESCE_SBR] = "sbr",
		[PCI_QUIESCE_HOOK] = "quiesce",
		[PCI_QUIESCE_PENDING] = "pending",
	};

	return (unsigned int)method < ARRAY_SIZE(names) ? names[method] : "?";
}

int pci_quiesce_hook_add(struct pci_host *host,
			 const struct pci_quiesce_hook *hook)
{
	unsigned int i;

	for (i = 0; i < host->quiesce_hook_count; i++) {
		if (host->quiesce_hooks[i]->vendor == hook->vendor &&
		    host->quiesce_hooks[i]->device == hook->device) {
			return -EEXIST;
		}
	}
	if (host->quiesce_hook_count == PCI_QUIESCE_HOOKS_MAX) {
		return -ENOSPC;
	}
	host->quiesce_hooks[host->quiesce_hook_count++] = hook;
	return 0;
}

static const struct pci_quiesce_hook *find_hook(const struct pci_host *host,
						const struct pci_dev *d)
{
	unsigned int i;

	for (i = 0; i < host->quiesce_hook_count; i++) {
		if (host->quiesce_hooks[i]->vendor == d->vendor &&
		    host->quiesce_hooks[i]->device == d->device) {
			return host->quiesce_hooks[i];
		}
	}
	return NULL;
}

static uint16_t rd16(const struct pci_dev *d, unsigned int off)
{
	return hw_pci_read16(d->seg, d->bus, d->devfn, (uint16_t)off);
}

static void wr16(const struct pci_dev *d, unsigned int off, uint16_t val)
{
	hw_pci_write16(d->seg, d->bus, d->devfn, (uint16_t)off, val);
}

static void master_off(const struct pci_dev *d)
{
	uint16_t cmd = rd16(d, PCI_COMMAND);

	if (cmd != UINT16_MAX && (cmd & PCI_COMMAND_MASTER)) {
		wr16(d, PCI_COMMAND, (uint16_t)(cmd & ~PCI_COMMAND_MASTER));
	}
}

/* Between two looks: the caller's yield (reset.h, struct pci_yield). */
void pci_pause(const struct pci_yield *y)
{
	if (y) {
		y->fn(y->ctx);
	}
	hw_relax();
}

/* A delay the specification requires; no condition can end it early. */
static void delay(const struct pci_yield *y, uint64_t ns)
{
	uint64_t end = hw_now_ns() + ns;

	while (!hw_time_after(end)) {
		pci_pause(y);
	}
}

/* Not all-ones, not Configuration Request Retry Status (PCIe §2.3.1). */
static bool answers(const struct pci_dev *d)
{
	uint16_t v = rd16(d, PCI_VENDOR_ID);

	return v != PCI_VENDOR_ID_NONE && v != PCI_VENDOR_ID_RETRY;
}

/*
 * Until d answers after a reset: 0, -ETIMEDOUT at the deadline, or
 * -ENODEV once it is found gone (a yield may have seen it removed).
 */
static int wait_ready(const struct pci_yield *y, const struct pci_dev *d,
		      uint64_t deadline)
{
	while (!answers(d)) {
		if (pci_dev_is_gone(d)) {
			return -ENODEV;
		}
		if (hw_time_after(deadline)) {
			/* One more look: we may have been away past it. */
			return answers(d) ? 0 : -ETIMEDOUT;
		}
		pci_pause(y);
	}
	return 0;
}

/* 1: Transactions Pending clear, 0: set, -ENODEV: d reads all-ones. */
static int pending_clear(const struct pci_dev *d, int exp)
{
	uint16_t sta = rd16(d, (unsigned int)exp + PCI_EXP_DEVSTA);

	if (sta == UINT16_MAX) {
		return -ENODEV;
	}
	return !(sta & PCI_EXP_DEVSTA_TRPND);
}

static int wait_pending(const struct pci_yield *y, const struct pci_dev *d,
			int exp, uint64_t deadline)
{
	int ret;

	while (!(ret = pending_clear(d, exp))) {
		if (hw_time_after(deadline)) {
			ret = pending_clear(d, exp);
			return ret ? (ret < 0 ? ret : 0) : -ETIMEDOUT;
		}
		pci_pause(y);
	}
	return ret < 0 ? ret : 0;
}

/*
 * The header a reset clears, saved before it and written back after, so
 * the function decodes where PCI placed it (and a bridge below still
 * forwards its buses): BARs, bus numbers, windows, ROM, interrupt line and
 * bridge control, cache line size and latency timer, then the Command
 * register with bus mastering off (the next owner turns it on).  BIST and
 * Status are not written back (a 1 starts a self-test or clears an error
 * bit).
 */
static void hdr_save(const struct pci_dev *d, uint32_t *hdr)
{
	unsigned int i;

	for (i = 0; i < HDR_DWORDS; i++) {
		hdr[i] = hw_pci_read32(d->seg, d->bus, d->devfn,
				       (uint16_t)(4 * i));
	}
}

static void hdr_restore(const struct pci_dev *d, const uint32_t *hdr)
{
	unsigned int i;

	for (i = PCI_BASE_ADDRESS_0 / 4; i < HDR_DWORDS; i++) {
		hw_pci_write32(d->seg, d->bus, d->devfn, (uint16_t)(4 * i),
			       hdr[i]);
	}
	wr16(d, PCI_CACHE_LINE_SIZE, (uint16_t)hdr[PCI_CACHE_LINE_SIZE / 4]);
	wr16(d, PCI_COMMAND,
	     (uint16_t)(hdr[PCI_COMMAND / 4] & ~PCI_COMMAND_MASTER));
	pci_acs_enable(d);
}

static int do_flr(const struct pci_yield *y, const struct pci_dev *d, int exp,
		  uint64_t timeout_ns)
{
	uint32_t hdr[HDR_DWORDS];
	uint16_t ctl;
	int ret;

	/*
	 * §6.6.2 implementation note: wait for Transactions Pending to clear
	 * first.  Completions that arrive after the FLR are discarded, so
	 * the reset goes ahead when it does not.
	 */
	ret = wait_pending(y, d, exp, hw_now_ns() + timeout_ns);
	if (ret == -ENODEV) {
		return ret;
	}
	if (ret) {
		log_warn("pci",
			 PCI_BDF_FMT
			 ": Transactions Pending still set, FLR anyway",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
	}
	hdr_save(d, hdr);
	ctl = rd16(d, (unsigned int)exp + PCI_EXP_DEVCTL);
	wr16(d, (unsigned int)exp + PCI_EXP_DEVCTL,
	     (uint16_t)(ctl | PCI_EXP_DEVCTL_BCR_FLR));
	delay(y, FLR_WAIT_NS);
	ret = wait_ready(y, d, hw_now_ns() + timeout_ns);
	if (ret) {
		return ret;
	}
	hdr_restore(d, hdr);
	return 0;
}

/* The offset of d's PCI Express capability when it can do FLR, else 0. */
static int flr_exp(const struct pci_dev *d)
{
	int exp = pci_find_cap(d, PCI_CAP_ID_EXP);
	uint32_t cap;

	if (!exp) {
		return 0;
	}
	cap = hw_pci_read32(d->seg, d->bus, d->devfn,
			    (uint16_t)(exp + PCI_EXP_DEVCAP));
	return cap != UINT32_MAX && (cap & PCI_EXP_DEVCAP_FLR) ? exp : 0;
}

int pci_reset_function(struct pci_dev *d, uint64_t timeout_ns)
{
	int exp;

	if (!pci_dev_present(d)) {
		return -ENODEV;
	}
	exp = flr_exp(d);
	if (!exp) {
		return -ENOTSUP;
	}
	master_off(d);
	return do_flr(NULL, d, exp, timeout_ns);
}

/* The offset of d's PM capability when D3hot to D0 resets it, else 0. */
static int pm_reset_pos(const struct pci_dev *d)
{
	int pm = pci_find_cap(d, PCI_CAP_ID_PM);
	uint16_t pmcsr;

	if (!pm) {
		return 0;
	}
	pmcsr = rd16(d, (unsigned int)pm + PCI_PM_CTRL);
	return pmcsr != UINT16_MAX && !(pmcsr & PCI_PM_CTRL_NO_SOFT_RESET) ? pm
									   : 0;
}

static void pm_set_state(const struct pci_dev *d, int pm, uint32_t state)
{
	uint16_t pmcsr = rd16(d, (unsigned int)pm + PCI_PM_CTRL);

	wr16(d, (unsigned int)pm + PCI_PM_CTRL,
	     (uint16_t)((pmcsr & ~PCI_PM_CTRL_STATE) |
			field_prep32(PCI_PM_CTRL_STATE, state)));
}

static int do_pm_reset(const struct pci_yield *y, const struct pci_dev *d,
		       int pm, uint64_t timeout_ns)
{
	uint32_t hdr[HDR_DWORDS];
	int ret;

	hdr_save(d, hdr);
	pm_set_state(d, pm, PCI_PM_CTRL_STATE_D3HOT);
	delay(y, PM_D3HOT_WAIT_NS);
	pm_set_state(d, pm, PCI_PM_CTRL_STATE_D0);
	delay(y, PM_D3HOT_WAIT_NS);
	ret = wait_ready(y, d, hw_now_ns() + timeout_ns);
	if (ret) {
		return ret;
	}
	hdr_restore(d, hdr);
	return 0;
}

/*
 * Whether a Secondary Bus Reset at br resets d's whole group and nothing
 * else: every function below br is in the group, and every member is below
 * br or is br itself (a port without ACS is in the group of what is below
 * it, and does no DMA of its own).
 */
static bool resets_just_group(const struct pci_host *host,
			      const struct pci_dev *br, const struct pci_dev *d)
{
	const struct pci_dev *x;

	pci_for_each_dev (host, x) {
		if (pci_dev_below(x, br) && x->group != d->group) {
			return false;
		}
	}
	pci_group_for_each_dev(d->group, x)
	{
		if (x != br && !pci_dev_below(x, br)) {
			return false;
		}
	}
	return true;
}

/* The nearest bridge above d whose Secondary Bus Reset resets just its group.
 */
static struct pci_dev *sbr_bridge(const struct pci_host *host,
				  const struct pci_dev *d)
{
	struct pci_dev *br;

	if (!d->group) {
		return NULL;
	}
	for (br = d->parent; br; br = br->parent) {
		if (resets_just_group(host, br, d)) {
			return pci_dev_present(br) ? br : NULL;
		}
	}
	return NULL;
}

struct saved_fn {
	struct pci_dev *d; /* referenced: a yield may see it removed */
	uint32_t hdr[HDR_DWORDS];
};

/*
 * A link that went down and up again across the reset makes a hot-plug
 * port set Data Link Layer State Changed; it was us, not a removal, so it
 * is acknowledged before the next poll takes it for one.
 */
static void ack_reset_link_event(const struct pci_dev *br)
{
	int exp = pci_find_cap(br, PCI_CAP_ID_EXP);
	uint16_t sta;

	if (!exp || !(rd16(br, (unsigned int)exp + PCI_EXP_FLAGS) &
		      PCI_EXP_FLAGS_SLOT)) {
		return;
	}
	sta = rd16(br, (unsigned int)exp + PCI_EXP_SLTSTA);
	if (sta != UINT16_MAX && (sta & PCI_EXP_SLTSTA_DLLSC)) {
		wr16(br, (unsigned int)exp + PCI_EXP_SLTSTA,
		     PCI_EXP_SLTSTA_DLLSC);
	}
}

static int do_sbr(const struct pci_yield *y, struct pci_host *host,
		  struct pci_dev *br, uint64_t timeout_ns)
{
	struct pci_dev *x;
	struct saved_fn *saved;
	unsigned int i, n = 0;
	uint64_t deadline;
	uint16_t ctl;
	int ret = 0;

	pci_for_each_dev (host, x) {
		n += pci_dev_below(x, br);
	}
	saved = hw_zalloc(n * sizeof(*saved));
	if (!saved) {
		return -ENOMEM;
	}
	i = 0;
	pci_for_each_dev (host, x) {
		if (pci_dev_below(x, br)) {
			saved[i].d = pci_dev_get(x);
			hdr_save(x, saved[i++].hdr);
		}
	}
	/* Its link going down is ours: the hot-plug poll leaves it alone. */
	host->resetting = pci_dev_get(br);
	ctl = rd16(br, PCI_BRIDGE_CONTROL);
	wr16(br, PCI_BRIDGE_CONTROL,
	     (uint16_t)(ctl | PCI_BRIDGE_CTL_BUS_RESET));
	delay(y, SBR_ASSERT_NS);
	wr16(br, PCI_BRIDGE_CONTROL,
	     (uint16_t)(ctl & ~PCI_BRIDGE_CTL_BUS_RESET));
	delay(y, SBR_WAIT_NS);
	/* In list order: a bridge below gets its bus numbers back first. */
	deadline = hw_now_ns() + timeout_ns;
	for (i = 0; i < n && !ret; i++) {
		/* Removed during the wait (elsewhere below a switch): gone. */
		if (pci_dev_is_gone(saved[i].d)) {
			continue;
		}
		ret = wait_ready(y, saved[i].d, deadline);
		if (!ret) {
			hdr_restore(saved[i].d, saved[i].hdr);
		}
	}
	ack_reset_link_event(br);
	host->resetting = NULL;
	pci_dev_put(br);
	for (i = 0; i < n; i++) {
		pci_dev_put(saved[i].d);
	}
	hw_free(saved);
	return ret;
}

/* The log line of a refusal: what d lacks for each method. */
static void log_no_method(const struct pci_dev *d, bool pm)
{
	log_warn(
		"pci",
		PCI_BDF_FMT
		": cannot make sure its DMA is over: no FLR, %s, %s, no quiesce hook for %04x:%04x, not PCI Express (no Transactions Pending)",
		PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
		pm ? "No_Soft_Reset set (no PM reset)"
		   : "no power management (no PM reset)",
		d->parent
			? "no bridge above resets just its group (no secondary bus reset)"
			: "on a root bus (no secondary bus reset)",
		d->vendor, d->device);
}

int pci_dev_quiesce(struct pci_host *host, struct pci_dev *d,
		    uint64_t timeout_ns, const struct pci_yield *y,
		    enum pci_quiesce_method *used)
{
	const struct pci_quiesce_hook *hook = NULL;
	int exp = pci_find_cap(d, PCI_CAP_ID_EXP);
	uint64_t start = hw_now_ns();
	struct pci_dev *br = NULL;
	int pos;
	int ret;

	*used = PCI_QUIESCE_NONE;
	if (!pci_dev_present(d)) {
		return -ENODEV;
	}
	master_off(d);
	if ((pos = flr_exp(d))) {
		*used = PCI_QUIESCE_FLR;
		ret = do_flr(y, d, pos, timeout_ns);
	} else if ((pos = pm_reset_pos(d))) {
		*used = PCI_QUIESCE_PM;
		ret = do_pm_reset(y, d, pos, timeout_ns);
	} else if ((br = sbr_bridge(host, d))) {
		*used = PCI_QUIESCE_SBR;
		ret = do_sbr(y, host, br, timeout_ns);
	} else if ((hook = find_hook(host, d))) {
		*used = PCI_QUIESCE_HOOK;
		ret = hook->quiesce(d, hw_now_ns() + timeout_ns, y);
	} else if (exp) {
		*used = PCI_QUIESCE_PENDING;
		ret = wait_pending(y, d, exp, hw_now_ns() + timeout_ns);
	} else {
		log_no_method(d, pci_find_cap(d, PCI_CAP_ID_PM));
		return -ENOTSUP;
	}
	/* Removed while the method waited: nothing of it is left to trust. */
	if (!ret && pci_dev_is_gone(d)) {
		ret = -ENODEV;
	}
	if (ret) {
		log_warn(
			"pci",
			PCI_BDF_FMT
			": %s did not make sure its DMA is over: %s after %llu ms",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			pci_quiesce_method_name(*used), errno_name(ret),
			(unsigned long long)((hw_now_ns() - start) / MS));
		return ret;
	}
	log_info("pci", PCI_BDF_FMT ": DMA over (%s) in %llu ms",
		 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
		 pci_quiesce_method_name(*used),
		 (unsigned long long)((hw_now_ns() - start) / MS));
	return 0;
}
