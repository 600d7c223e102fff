/*
 * The machine of the whole-system test and its invariant checker.
 *
 * Topology (segment 0, one VT-d unit covering everything, ATSR for all
 * root ports, ATS allowed for 01:00.0):
 *	00:01.0 root port, hot-plug slot 0 -> 01:00.0 ATS endpoint, FLR
 *	00:02.0 root port, hot-plug slot 1 -> 02:00.0 FLR and 02:00.1 PM
 *		reset: a multi-function device without ACS, one group
 *	00:03.0 root port -> 03:00.0 PCIe-to-PCI bridge -> 04:00.0 and
 *		04:01.0, conventional, one group, one requester id (04:00.0)
 *	00:04.0 root port, hot-plug slot 2 -> 05:00.0 no reset, its driver
 *		knows when its engine is idle (a quiesce hook), and 05:00.1
 *		FLR: functions isolated by ACS, so no secondary bus reset
 *	00:05.0 root port -> 06:00.0 no reset, Transactions Pending clear
 *		once its transfer stopped, and 06:00.1 whose Transactions
 *		Pending never clears: nothing proves it quiet (force)
 * Every root port has ACS, so each port's functions are a group of their
 * own, and so is each function of 05:00 and 06:00.  Each function has the fake
 *PCI topology's DMA engine; they differ in what clearing Bus Master Enable does
 *to a transfer in flight.
 *
 * The test is the kernel's thin callers: it creates guests (an owner with
 * a domain mapping its memory at GPA 0), assigns and unassigns devices,
 * drives the console's domains, claims, releases and resets, and turns
 * hot-plug events into the layer's removal hooks.  Every DMA started
 * remembers the owner it was started under; where it lands must be that
 * owner's memory, and the model checks each translation against the
 * memory its requester id's owner has now (docs/design.md, invariants 1,
 * 2 and 7).
 */
#include "tests/system/world.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"
#include "drivers/iommu/iommu.h"
#include "drivers/pci/ats.h"
#include "drivers/pci/hotplug.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/pci_regs.h"
#include "drivers/pci/reset.h"
#include "lib/errno.h"

#include "tests/model/model.h"
#include "tests/unit/pci_fake.h"

#define MS	  UINT64_C(1000000)
#define SEC	  (1000 * MS)
#define UNIT_BASE UINT64_C(0xfed90000)
#define EXP	  PCI_CFG_PORT_EXP
#define PM_POS	  0x60U
#define EXT_POS	  0x100U /* the first extended capability */
#define ACS_ALL	  (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)
#define SLOT_CAPS                                                       \
	(PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP | \
	 PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPS | PCI_EXP_SLTCAP_HPC)
#define RW	       (IOMMU_PROT_READ | IOMMU_PROT_WRITE)
#define ATS_LATENCY_NS (2 * 1000)
#define HOOK_DEVICE    0x5eed

#define NSLOTS	      3U
#define NHELD	      4U
#define NDOMS	      4U
#define NBUFS	      8U
#define NGUESTS	      4U
#define GUEST_MEM     UINT64_C(0x4000)
#define IOVA_BUF(i)   (UINT64_C(0x100000) + (uint64_t)(i)*0x1000)
#define NREGIONS      4096U
#define DMA_LEN	      16U
#define KEXEC_AT_ONCE 1000U

/*
 * Owner identities: 0 nobody; then the kernel, console claims, quarantine,
 * a deleted guest's group still in transit; then guests.
 */
#define OWNER_KERNEL	  1U
#define OWNER_CLAIM	  2U
#define OWNER_QUARANTINE  3U
#define OWNER_TRANSIT	  4U
#define OWNER_FIRST_GUEST 16U

enum reset_kind { R_NONE, R_FLR, R_PM };

/* Where each function sits, what it can do, and what the IOMMU sees. */
static const struct pos {
	const char *name;
	uint8_t bus;
	uint8_t devfn;
	int slot; /* hot-plug slot, -1: soldered */
	bool pcie;
	bool mf;  /* function of a multi-function device */
	bool acs; /* ...isolated from its siblings by ACS */
	enum reset_kind reset;
	bool ats;
	enum pci_fake_bme bme; /* what Bus Master Enable off does */
	bool tp_stuck;	       /* Transactions Pending never clears */
	uint16_t device;
	rid_t rid; /* requester id of its DMA at the IOMMU */
} positions[] = {
	{"01:00.0", 1, 0x00, 0, true, false, false, R_FLR, true,
	 PCI_FAKE_BME_STOPS, false, 0x11e8, RID(0x01, 0x00)},
	{"02:00.0", 2, 0x00, 1, true, true, false, R_FLR, false,
	 PCI_FAKE_BME_AT_END, false, 0x2000, RID(0x02, 0x00)},
	{"02:00.1", 2, 0x01, 1, true, true, false, R_PM, false,
	 PCI_FAKE_BME_AT_END, false, 0x2001, RID(0x02, 0x01)},
	{"04:00.0", 4, 0x00, -1, false, false, false, R_NONE, false,
	 PCI_FAKE_BME_AT_END, false, 0x1000, RID(0x04, 0x00)},
	{"04:01.0", 4, 0x08, -1, false, false, false, R_NONE, false,
	 PCI_FAKE_BME_IGNORED, false, 0x1001, RID(0x04, 0x00)},
	{"05:00.0", 5, 0x00, 2, true, true, true, R_NONE, false,
	 PCI_FAKE_BME_IGNORED, false, HOOK_DEVICE, RID(0x05, 0x00)},
	{"05:00.1", 5, 0x01, 2, true, true, true, R_FLR, false,
	 PCI_FAKE_BME_STOPS, false, 0x5001, RID(0x05, 0x01)},
	{"06:00.0", 6, 0x00, -1, true, true, true, R_NONE, false,
	 PCI_FAKE_BME_STOPS, false, 0x3000, RID(0x06, 0x00)},
	{"06:00.1", 6, 0x01, -1, true, true, true, R_NONE, false,
	 PCI_FAKE_BME_IGNORED, true, 0x3001, RID(0x06, 0x01)},
};
#define NPOS (sizeof(positions) / sizeof(positions[0]))

/* The port above each slot, and the functions' bus below it. */
static const uint8_t slot_port[NSLOTS] = {0x08, 0x10, 0x20};
static const uint8_t slot_bus[NSLOTS] = {1, 2, 5};

/* The transfer a function's engine has in flight, as the test started it. */
struct xfer {
	bool busy;
	uint64_t addr;
	uint64_t owner;
	uint64_t tag;
	uint64_t due;	       /* when it ends */
	unsigned long dropped; /* the engine's count at the start */
	unsigned int resets;
};

/* Whether x is still in flight on position i's engine (or landing now). */
static bool xfer_live(unsigned int i, const struct xfer *x);

/* Memory some owner has, where a DMA of that owner may land. */
struct region {
	uint64_t iova;
	uint64_t hpa;
	uint64_t len;
	uint64_t owner;
};

struct guest {
	struct iommu_owner *o; /* NULL: slot free */
	uint64_t faults;       /* DMA faults charged to it, as reported */
	uint64_t id;
	char name[IOMMU_OWNER_NAME_MAX];
	uint64_t hpa;
	struct iommu_hold *hold[NPOS];
};

/*
 * The owners (by the layer's name, "kernel" for none) a requester id had
 * when its DMA faulted since the last fault poll.
 */
#define FAULT_OWNERS 4U

struct fault_window {
	unsigned int n;
	bool unknown; /* more owners than kept, or a previous life's faults */
	char name[FAULT_OWNERS][IOMMU_OWNER_NAME_MAX];
};

struct cdom {
	bool used;
	unsigned int id; /* the console's number */
	uint64_t key;	 /* for the model: the domain's memory */
	bool mapped[NBUFS];
};

static struct world {
	struct sys_report *rep;
	bool verbose;
	uint32_t step;
	struct pci_host host;
	struct dmar dmar;
	struct iommu im;
	struct iommu_be_config *cfg;
	uint8_t *cfg_fn[NPOS];
	uint8_t *cfg_port[NSLOTS];
	uint8_t *cfg_soldered[2]; /* root ports 00:03.0 and 00:05.0 */
	bool soldered_down[2];
	int slot[NSLOTS];
	bool card_in[NSLOTS];
	bool link_ok[NSLOTS];
	struct xfer xfer[NPOS];
	struct pci_dev *held[NHELD];
	struct guest guest[NGUESTS];
	struct cdom dom[NDOMS];
	int att[NPOS];		  /* console domain index attached to, -1 */
	uint64_t inherited[NPOS]; /* previous life's key, until touched */
	uint64_t heir_of[NPOS];	  /* ...and the owner it belonged to */
	uint64_t buf[NBUFS];
	struct region region[NREGIONS];
	unsigned int regions;
	struct fault_window fw[NPOS]; /* by the first position of the rid */
	uint64_t next_owner;
	uint64_t next_key;
	uint64_t tag;
	unsigned int base_refs[NPOS];
	unsigned int base_domains;
	uint64_t forcing;      /* a forced assignment to this guest runs */
	unsigned int forgiven; /* ...and DMA landed in its memory meanwhile */
	long old_live;	       /* objects of previous lives (kexec) */
	uint64_t old_pages;    /* table pages of previous lives */
	bool in_call;
	uint64_t next_yield;	 /* when a settle wait's yield polls again */
	uint64_t hotplug_events; /* devices removed or added */
	bool unassigning;	 /* inside iommu_unassign() */
} W;

static void fail(const char *sig, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(const char *sig, const char *fmt, ...)
{
	va_list ap;

	if (W.rep->failed) {
		return;
	}
	W.rep->failed = 1;
	W.rep->step = W.step;
	snprintf(W.rep->sig, sizeof(W.rep->sig), "%s", sig);
	va_start(ap, fmt);
	vsnprintf(W.rep->what, sizeof(W.rep->what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "system: step %u: [%s] %s\n", W.step, sig, W.rep->what);
}

/* ---- budgets ------------------------------------------------------------ */

/* The back end's deadlines, set explicitly so the budget knows them. */
static const struct {
	const char *key;
	const char *us;
	uint64_t ns;
} deadlines[] = {
	{"vtd.deadline.reg", "10000", 10 * MS},
	{"vtd.deadline.iotlb", "100000", 100 * MS},
	{"vtd.deadline.devtlb", "1000000", 1000 * MS},
};

/*
 * One call waits at most one deadline per class (docs/design.md,
 * invariant 3), plus one quiesce (its 1 s deadline on top of the 100 ms + 1 ms
 * the specifications require), plus a hot-plug command's deadline.
 */
static uint64_t budget(void)
{
	uint64_t b = SEC + 101 * MS + W.host.timing.cmd_ns + 5 * MS;
	unsigned int c;

	for (c = 0; c < sizeof(deadlines) / sizeof(deadlines[0]); c++) {
		b += deadlines[c].ns;
	}
	return b;
}

static uint64_t call_start;

static void call_begin(void)
{
	call_start = model_now();
	W.in_call = true;
}

static void call_end(const char *what)
{
	uint64_t took = model_now() - call_start;

	W.in_call = false;
	if (took > W.rep->max_call_ns) {
		W.rep->max_call_ns = took;
	}
	W.rep->checks++;
	if (took > budget()) {
		fail("budget", "%s waited %llu ms, past its budget of %llu ms",
		     what, (unsigned long long)(took / MS),
		     (unsigned long long)(budget() / MS));
	}
}

/* ---- owners and their memory -------------------------------------------- */

static void region_add(uint64_t iova, uint64_t hpa, uint64_t len,
		       uint64_t owner)
{
	if (W.regions == NREGIONS) {
		fail("setup", "more than %u memory regions", NREGIONS);
		return;
	}
	W.region[W.regions++] = (struct region){iova, hpa, len, owner};
}

static const void *key_of(uint64_t id)
{
	return (const void *)(uintptr_t)id;
}

static struct guest *guest_named(const char *name)
{
	unsigned int g;

	for (g = 0; g < NGUESTS; g++) {
		if (W.guest[g].o && strcmp(W.guest[g].name, name) == 0) {
			return &W.guest[g];
		}
	}
	return NULL;
}

/* The present object at a position now, or NULL (borrowed). */
static struct pci_dev *dev_at(unsigned int i)
{
	return pci_find_dev(&W.host, 0, positions[i].bus, positions[i].devfn);
}

static int pos_of(const struct pci_dev *d)
{
	unsigned int i;

	for (i = 0; i < NPOS; i++) {
		if (positions[i].bus == d->bus &&
		    positions[i].devfn == d->devfn) {
			return (int)i;
		}
	}
	return -1;
}

/* Who owns position i's device now, by the layer's account; 0: none. */
static uint64_t owner_now(unsigned int i)
{
	struct pci_dev *d = dev_at(i);
	const char *name;
	struct guest *g;

	if (!d) {
		return 0;
	}
	/* Still translating for a previous life: still its owner's device. */
	if (W.inherited[i]) {
		return W.heir_of[i];
	}
	switch (iommu_owner_of(&W.im, d, &name)) {
	case IOMMU_OWNER_KERNEL:
		return OWNER_KERNEL;
	case IOMMU_OWNER_QUARANTINE:
		return OWNER_QUARANTINE;
	default:
		g = guest_named(name);
		if (g) {
			return g->id;
		}
		if (strcmp(name, "con") == 0) {
			return OWNER_CLAIM;
		}
		/* A deleted guest's group in transit: nobody's memory. */
		return OWNER_TRANSIT;
	}
}

static struct guest *guest_with_id(uint64_t id)
{
	unsigned int g;

	for (g = 0; g < NGUESTS; g++) {
		if (W.guest[g].o && W.guest[g].id == id) {
			return &W.guest[g];
		}
	}
	return NULL;
}

/*
 * The memory position i's DMA may reach now (a key for the model), 0 for
 * none: its guest's, its console domain's, or a previous life's.
 */
static uint64_t reach_now(unsigned int i)
{
	uint64_t owner = owner_now(i);

	if (W.inherited[i]) {
		return W.inherited[i];
	}
	if (guest_with_id(owner)) {
		return owner;
	}
	if (owner == OWNER_KERNEL && W.att[i] >= 0) {
		return W.dom[W.att[i]].key;
	}
	return 0;
}

/*
 * Position i was attached, blocked or reset: no console attachment and
 * nothing inherited left for it and what shares its requester id, nor
 * (whole_group: claims and assignments) for its whole group.
 */
static void forget(unsigned int i, bool whole_group)
{
	struct pci_dev *d = dev_at(i), *m;
	struct pci_group *grp = d ? pci_group_of(d) : NULL;
	unsigned int j;
	int k;

	for (j = 0; j < NPOS; j++) {
		if (rid_eq(positions[j].rid, positions[i].rid)) {
			W.att[j] = -1;
			W.inherited[j] = 0;
		}
	}
	if (!grp || !whole_group) {
		return;
	}
	pci_group_for_each_dev(grp, m)
	{
		k = pos_of(m);
		if (k >= 0) {
			W.att[k] = -1;
			W.inherited[k] = 0;
		}
	}
}

/* ---- DMA ---------------------------------------------------------------- */

/* The first position whose DMA carries rid, or NPOS. */
static unsigned int rid_pos(rid_t rid)
{
	unsigned int i;

	for (i = 0; i < NPOS && !rid_eq(positions[i].rid, rid); i++) {
	}
	return i;
}

/*
 * A DMA of rid faulted now: whom the layer would charge must be its
 * owner now (a guest's fault is the guest's, the kernel's or quarantine's
 * nobody's), and is remembered for the next fault poll.
 */
static void fault_seen(rid_t rid)
{
	unsigned int i = rid_pos(rid), k;
	struct fault_window *fw = &W.fw[i];
	struct iommu_owner *o;
	const char *name;
	uint64_t own;
	struct guest *g;

	/* A kernel that is still starting: whoever it charges, it decides. */
	if (!W.im.dmar) {
		fw->unknown = true;
		return;
	}
	o = iommu_fault_owner(&W.im, 0, rid);
	name = o ? o->name : "kernel";
	own = owner_now(i);
	g = guest_with_id(own);
	if (!W.inherited[i] &&
	    ((g && o != g->o) ||
	     ((own == OWNER_KERNEL || own == OWNER_QUARANTINE) && o))) {
		fail("faults",
		     "a fault of %04x now would be charged to %s, yet it is owner %llu's",
		     rid_val(rid), name, (unsigned long long)own);
	}
	for (k = 0; k < fw->n && strcmp(fw->name[k], name) != 0; k++) {
	}
	if (k < fw->n) {
		return;
	}
	if (fw->n == FAULT_OWNERS) {
		fw->unknown = true;
		return;
	}
	snprintf(fw->name[fw->n++], IOMMU_OWNER_NAME_MAX, "%s", name);
}

/*
 * A transfer lands: through the IOMMU (the model checks the translation
 * against the requester id's owner now), then where it landed must be
 * memory of the owner it was started under.
 */
static void dma_sink(void *ctx, uint16_t seg, uint16_t raw, uint64_t addr,
		     uint32_t len)
{
	rid_t rid = rid_from(raw);
	uint64_t data[DMA_LEN / 8];
	struct xfer *x = NULL;
	unsigned int i, r;
	int ret;

	/* Functions behind one bridge share a requester id: the one due first.
	 */
	for (i = 0; i < NPOS; i++) {
		if (rid_eq(positions[i].rid, rid) && xfer_live(i, &W.xfer[i]) &&
		    W.xfer[i].addr == addr && (!x || W.xfer[i].due < x->due)) {
			x = &W.xfer[i];
		}
	}
	if (!x) {
		fail("dma",
		     "a transfer from %04x to 0x%llx that nobody started landed",
		     raw, (unsigned long long)addr);
		return;
	}
	x->busy = false;
	for (i = 0; i < DMA_LEN / 8; i++) {
		data[i] = x->tag;
	}
	ret = model_dma_write(0, rid, addr, data, sizeof(data));
	W.rep->checks++;
	if (ret) {
		W.rep->dma_faulted++;
		fault_seen(rid);
		return;
	}
	W.rep->dma_landed++;
	for (r = 0; r < W.regions; r++) {
		const struct region *g = &W.region[r];
		uint64_t *at;

		if (addr < g->iova || addr - g->iova >= g->len) {
			continue;
		}
		at = hw_phys_to_virt(g->hpa + (addr - g->iova));
		if (!at || *at != x->tag) {
			continue;
		}
		if (g->owner != x->owner && g->owner == W.forcing) {
			/* What forcing accepts, if the hand-over was forced. */
			W.forgiven++;
		} else if (g->owner != x->owner) {
			fail("isolation",
			     "DMA of requester %04x started under owner %llu landed in the memory of owner %llu (iova 0x%llx, hpa 0x%llx)%s",
			     raw, (unsigned long long)x->owner,
			     (unsigned long long)g->owner,
			     (unsigned long long)addr,
			     (unsigned long long)(g->hpa + (addr - g->iova)),
			     W.in_call ? ", during a call" : "");
		}
		return;
	}
	fail("isolation",
	     "DMA of requester %04x to iova 0x%llx landed outside every owner's memory",
	     raw, (unsigned long long)addr);
}

static bool op_dma(unsigned int i, uint32_t b)
{
	static const uint64_t durations[] = {MS, 30 * MS, 300 * MS, 30 * SEC};
	uint8_t *cfg = W.cfg_fn[i];
	uint64_t addr;

	/* Nobody drives a quarantined device: it starts nothing new. */
	if (!dev_at(i) || pci_fake_dma_busy(cfg) ||
	    owner_now(i) == OWNER_QUARANTINE || owner_now(i) == OWNER_TRANSIT) {
		return false;
	}
	switch (b % 4) {
	case 0:
	case 1:
		addr = (uint64_t)(b / 4 % (GUEST_MEM / DMA_LEN)) * DMA_LEN;
		break;
	case 2:
		addr = IOVA_BUF(b / 4 % NBUFS) + (b / 32 % 8) * DMA_LEN;
		break;
	default:
		addr = UINT64_C(0x40000000) + (uint64_t)(b / 4) * 0x1000;
		break;
	}
	/* Its owner's driver programs it: bus mastering on. */
	pci_cfg_put16(cfg, PCI_COMMAND,
		      (uint16_t)(pci_cfg_get(cfg, PCI_COMMAND, 2) |
				 PCI_COMMAND_MASTER));
	if (!pci_fake_dma_start(cfg, addr, DMA_LEN, durations[b / 16 % 4])) {
		return false;
	}
	W.xfer[i] = (struct xfer){
		.busy = true,
		.addr = addr,
		.owner = owner_now(i),
		.tag = ++W.tag,
		.due = model_now() + durations[b / 16 % 4],
		.dropped = pci_fake_fn_stats(cfg)->dropped,
		.resets = pci_fake_fn_stats(cfg)->resets,
	};
	return true;
}

static bool xfer_live(unsigned int i, const struct xfer *x)
{
	const struct pci_fake_fn_stats *st = pci_fake_fn_stats(W.cfg_fn[i]);

	return x->busy && st->dropped == x->dropped && st->resets == x->resets;
}

/* ---- topology ----------------------------------------------------------- */

static uint8_t *port(uint8_t devfn, uint8_t sec, uint8_t sub)
{
	uint8_t *cfg =
		pci_cfg_add_port(0, devfn, PCI_EXP_TYPE_ROOT_PORT, sec, sub);

	pci_cfg_acs(cfg, EXT_POS, 0, ACS_ALL, 0);
	pci_cfg_window(cfg, 0xc0000000U + (uint32_t)sec * 0x100000U,
		       0xc00fffffU + (uint32_t)sec * 0x100000U);
	return cfg;
}

static uint8_t *function(const struct pos *p)
{
	uint8_t *cfg = pci_cfg_add(0, p->bus, p->devfn, 0x1234, p->device,
				   0x00ff00, p->mf ? PCI_HEADER_TYPE_MFD : 0);

	if (p->pcie) {
		pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, EXP);
		pci_cfg_pcie(cfg, EXP, PCI_EXP_TYPE_ENDPOINT,
			     p->reset == R_PM ? PM_POS : 0);
		if (p->reset == R_FLR) {
			pci_fake_flr(cfg);
		}
		if (p->reset == R_PM) {
			pci_fake_pm(cfg, PM_POS, 0, false);
		}
	}
	if (p->ats) {
		pci_cfg_ext_cap(cfg, EXT_POS, PCI_EXT_CAP_ID_ATS, 0);
		pci_cfg_writable(cfg, EXT_POS + PCI_ATS_CTRL, 2, 0x801f);
	}
	if (p->acs) {
		pci_cfg_acs(cfg, EXT_POS, 0, PCI_ACS_RR | PCI_ACS_CR, 0);
	}
	pci_fake_dma_mode(cfg, p->bme, MS);
	pci_fake_tp_stuck(cfg, p->tp_stuck);
	pci_fake_dma_rid(cfg, rid_val(p->rid));
	return cfg;
}

static void build_topology(void)
{
	unsigned int i, s;

	pci_cfg_reset();
	pci_fake_clock(model_now);
	pci_fake_dma_sink(dma_sink, NULL);
	for (s = 0; s < NSLOTS; s++) {
		W.cfg_port[s] = port(slot_port[s], slot_bus[s], slot_bus[s]);
		W.slot[s] = pci_fake_slot(W.cfg_port[s], EXP, SLOT_CAPS, s + 1);
	}
	W.cfg_soldered[0] = port(0x18, 3, 4);
	pci_cfg_add_port(3, 0, PCI_EXP_TYPE_PCI_BRIDGE, 4, 4);
	W.cfg_soldered[1] = port(0x28, 6, 6);
	for (i = 0; i < NPOS; i++) {
		const struct pos *p = &positions[i];

		W.cfg_fn[i] = function(p);
		if (p->slot >= 0) {
			pci_fake_slot_card(W.slot[p->slot], W.cfg_fn[i]);
		}
	}
	for (s = 0; s < NSLOTS; s++) {
		pci_fake_slot_boot(W.slot[s]);
		W.card_in[s] = true;
		W.link_ok[s] = true;
	}
	model_add_endpoint(0, positions[0].rid, ATS_LATENCY_NS);
}

static void build_dmar(void)
{
	memset(&W.dmar, 0, sizeof(W.dmar));
	W.dmar.usable = true;
	W.dmar.unit_count = 1;
	W.dmar.units[0].base = UNIT_BASE;
	W.dmar.units[0].size = 0x1000;
	W.dmar.units[0].flags = DMAR_DRHD_INCLUDE_PCI_ALL;
	W.dmar.atsr_count = 1;
	W.dmar.atsrs[0].flags = DMAR_ATSR_ALL_PORTS;
}

/* ---- the isolation layer ------------------------------------------------ */

/*
 * 05:00.0's driver knows when its engine is idle.  It waits as a driver
 * does (reset.h, pci_quiesce_hook): with the caller's yield, after which
 * the card may be gone, as an edu reading all-ones finds it.
 */
static int hook_quiesce(const struct pci_dev *d, uint64_t deadline_ns,
			const struct pci_yield *y)
{
	int i = pos_of(d);

	while (i >= 0 && pci_fake_dma_busy(W.cfg_fn[i])) {
		if (pci_dev_is_gone(d)) {
			return -ENODEV;
		}
		if (hw_time_after(deadline_ns)) {
			return pci_fake_dma_busy(W.cfg_fn[i]) ? -ETIMEDOUT : 0;
		}
		pci_pause(y);
	}
	return 0;
}

static const struct pci_quiesce_hook hook = {
	.vendor = 0x1234,
	.device = HOOK_DEVICE,
	.quiesce = hook_quiesce,
};

/*
 * An orderly removal blocks the device's DMA first (docs/design.md,
 * invariant 6): while it still answers, a write it makes reaches nothing.
 */
static void hp_removing(void *ctx, struct pci_dev *d)
{
	uint64_t probe = 0;
	int i = pos_of(d);

	iommu_device_removing(&W.im, d);
	if (i < 0 || !pci_fake_answers(W.cfg_fn[i])) {
		return;
	}
	W.rep->checks++;
	if (model_dma_write(0, positions[i].rid, W.xfer[i].addr, &probe,
			    sizeof(probe))) {
		fault_seen(positions[i].rid);
		return;
	}
	/*
	 * Unless the hardware has not confirmed the detach yet (its queue is
	 * stuck behind a dead device-TLB): until it does, the old translation
	 * may still be cached, and the model checks that it reaches only the
	 * memory of the owner it had (docs/design.md, invariant 4: retried
	 * until confirmed).
	 */
	if (!iommu_pending(&W.im)) {
		fail("removal",
		     "%s's DMA still reaches memory (iova 0x%llx) after its removal began",
		     positions[i].name, (unsigned long long)W.xfer[i].addr);
	}
}

static void hp_removed(void *ctx, struct pci_dev *d, bool surprise)
{
	int i = pos_of(d);

	iommu_device_removed(&W.im, d);
	W.hotplug_events++;
	if (i >= 0) {
		W.att[i] = -1;
		W.inherited[i] = 0;
	}
}

static void hp_added(void *ctx, struct pci_dev *d)
{
	iommu_device_added(&W.im, d);
	W.hotplug_events++;
}

static const struct pci_hotplug_ops hp_ops = {
	.removing = hp_removing,
	.removed = hp_removed,
	.added = hp_added,
};

/*
 * Each fault is charged to an owner its requester id had when the DMA
 * faulted, whatever changed hands before the poll read it.
 */
static void on_fault(void *ctx, const struct iommu_fault *f, const char *owner)
{
	unsigned int i = rid_pos(f->sid), k;
	const char *name = owner ? owner : "kernel";
	const struct fault_window *fw;
	struct guest *g;

	W.rep->checks++;
	if (f->irq) {
		return;
	}
	if (i == NPOS) {
		fail("faults", "a fault of %04x, which started no DMA",
		     rid_val(f->sid));
		return;
	}
	fw = &W.fw[i];
	for (k = 0; k < fw->n && strcmp(fw->name[k], name) != 0; k++) {
	}
	if (k == fw->n && !fw->unknown) {
		fail("faults",
		     "a fault of %s charged to %s, not to an owner it had when it faulted (%s%s)",
		     positions[i].name, name, fw->n ? fw->name[0] : "none",
		     fw->n > 1 ? ", ..." : "");
	}
	g = owner ? guest_named(owner) : NULL;
	if (g) {
		g->faults++;
	}
}

/* Every fault read: each guest's count is what was charged to it. */
static void faults_polled(void)
{
	unsigned int g;

	memset(W.fw, 0, sizeof(W.fw));
	for (g = 0; g < NGUESTS; g++) {
		if (W.guest[g].o && W.guest[g].o->faults != W.guest[g].faults) {
			fail("faults",
			     "%s counts %llu faults, %llu were charged to it",
			     W.guest[g].name,
			     (unsigned long long)W.guest[g].o->faults,
			     (unsigned long long)W.guest[g].faults);
		}
	}
}

static void poll_all(void)
{
	call_begin();
	pci_hotplug_poll(&W.host, &hp_ops, NULL);
	call_end("pci_hotplug_poll");
	call_begin();
	iommu_poll(&W.im);
	iommu_faults(&W.im, on_fault, NULL);
	call_end("iommu_poll");
	faults_polled();
}

/*
 * A reset's settle time lets housekeeping in, as the kernel's tick does
 * (docs/design.md, "Waits that yield"): every 50 ms of it, the polls of
 * op_time().  A card pulled before the call and not yet polled is found
 * gone in the middle of it.  Its time counts for the call around it.
 */
static void settle_yield(void *ctx)
{
	uint64_t start = call_start, events = W.hotplug_events;

	if (model_now() < W.next_yield) {
		return;
	}
	W.next_yield = model_now() + 50 * MS;
	poll_all();
	if (W.hotplug_events != events) {
		W.rep->settle_changes++;
		W.rep->settle_unassign_changes += W.unassigning;
	}
	call_start = start;
	W.in_call = true;
}

/* A fresh kernel: enumeration, the layer, translation on. */
static int boot(bool inherit)
{
	struct iommu_be_platform plat = {.inherit = inherit};
	unsigned int c;

	memset(&W.host, 0, sizeof(W.host));
	memset(&W.im, 0, sizeof(W.im));
	if (pci_host_add_range(&W.host, 0, 0, 0xff) || pci_enumerate(&W.host) ||
	    pci_quiesce_hook_add(&W.host, &hook)) {
		fail("setup", "enumeration failed");
		return -1;
	}
	W.cfg = iommu_be_config_new();
	for (c = 0; c < sizeof(deadlines) / sizeof(deadlines[0]); c++) {
		iommu_be_config_set(W.cfg, deadlines[c].key, deadlines[c].us);
	}
	iommu_init(&W.im, &W.dmar, &W.host, W.cfg, &plat);
	if (!W.im.live_units) {
		fail("setup", "no live unit");
		return -1;
	}
	iommu_ats_allow(&W.im, 0, positions[0].bus, positions[0].devfn);
	W.im.yield = (struct pci_yield){.fn = settle_yield};
	return 0;
}

/* ---- operations --------------------------------------------------------- */

static struct cdom *cdom(uint32_t a, bool used);
static struct guest *guest_from(uint32_t b);

static bool op_guest_new(unsigned int g)
{
	struct guest *gs = &W.guest[g % NGUESTS];
	int ret;

	if (gs->o) {
		return false;
	}
	memset(gs, 0, sizeof(*gs));
	gs->id = W.next_owner++;
	snprintf(gs->name, sizeof(gs->name), "g%llu",
		 (unsigned long long)gs->id);
	call_begin();
	ret = iommu_owner_new(&W.im, gs->name, &gs->o);
	if (ret == 0) {
		gs->hpa = model_ram_alloc(GUEST_MEM, 0x1000);
		ret = iommu_map(&W.im, gs->o, gs->o->dom_id, iova_make(0),
				hpa_make(gs->hpa), GUEST_MEM, RW);
		if (ret == 0) {
			region_add(0, gs->hpa, GUEST_MEM, gs->id);
			model_expect_map(key_of(gs->id), 0, gs->hpa, GUEST_MEM,
					 RW);
		} else {
			iommu_owner_del(&W.im, gs->o);
			gs->o = NULL;
		}
	}
	call_end("guest_new");
	return ret == 0;
}

static bool op_unassign(struct guest *gs, unsigned int i)
{
	struct iommu_hold *h = gs->hold[i];
	struct pci_dev *now, *was;
	uint64_t before;

	if (!h) {
		return false;
	}
	/* A hold on an object that left must not touch its successor. */
	now = dev_at(i);
	was = h->dev;
	before = now && now != was ? owner_now(i) : 0;
	call_begin();
	W.unassigning = true;
	iommu_unassign(&W.im, h);
	W.unassigning = false;
	call_end("unassign");
	gs->hold[i] = NULL;
	if (before && owner_now(i) != before) {
		fail("ownership",
		     "unassigning a hold on a removed %s changed the owner of the device now there",
		     positions[i].name);
	}
	return true;
}

static bool op_guest_del(unsigned int g)
{
	struct guest *gs = &W.guest[g % NGUESTS];
	unsigned int i;
	int ret;

	if (!gs->o) {
		return false;
	}
	for (i = 0; i < NPOS; i++) {
		op_unassign(gs, i);
	}
	call_begin();
	ret = iommu_unmap(&W.im, gs->o, gs->o->dom_id, iova_make(0), GUEST_MEM);
	if (ret) {
		ret = iommu_flush(&W.im, gs->o, gs->o->dom_id);
	}
	/* Memory whose unmap failed stays the guest's: never reused. */
	if (ret == 0) {
		model_expect_unmap(key_of(gs->id), 0, GUEST_MEM);
	}
	iommu_owner_del(&W.im, gs->o);
	call_end("guest_del");
	gs->o = NULL;
	return true;
}

/*
 * A forced hand-over: the caller accepted that DMA still in flight in the
 * group lands in the new owner's memory.  The model's complaints about
 * those landings during the call are dropped (no more than landed), and
 * what is still in flight belongs to the new owner from now on.
 */
static void forced(unsigned int i, uint64_t owner)
{
	struct pci_dev *d = dev_at(i), *m;
	struct pci_group *grp = d ? pci_group_of(d) : NULL;
	int k;

	if (model_violations() > W.forgiven) {
		return;
	}
	if (model_violations()) {
		fprintf(stderr,
			"system: step %u: forced hand-over of %s: what landed above is what force accepts\n",
			W.step, positions[i].name);
	}
	model_clear_violations();
	for (m = grp ? grp->devs : NULL; m; m = m->group_next) {
		k = pos_of(m);
		if (k >= 0) {
			W.xfer[k].owner = owner;
		}
	}
}

static bool op_assign(unsigned int i, uint32_t b, struct pci_dev *d)
{
	struct guest *gs = guest_from(b);
	bool force = b % 16 == 8;
	const char *why;
	int ret;

	if (!gs || !d || gs->hold[i]) {
		return false;
	}
	W.forcing = force ? gs->id : 0;
	W.forgiven = 0;
	call_begin();
	ret = iommu_assign(&W.im, gs->o, d, force, &gs->hold[i], &why);
	call_end("assign");
	W.forcing = 0;
	if (ret == 0 && strcmp(gs->hold[i]->method, "forced") == 0) {
		forced(i, gs->id);
	} else if (W.forgiven) {
		fail("isolation",
		     "DMA started before landed in %s's memory while %s was assigned to it without force",
		     gs->name, positions[i].name);
	}
	if (ret) {
		gs->hold[i] = NULL;
		return false;
	}
	if (pci_dev_is_gone(d)) {
		fail("ownership", "a gone %s was assigned to %s",
		     positions[i].name, gs->name);
	}
	forget(i, true);
	if (owner_now(i) != gs->id) {
		fail("ownership", "%s assigned to %s, yet owned by %llu",
		     positions[i].name, gs->name,
		     (unsigned long long)owner_now(i));
	}
	return true;
}

/* Unassign from whoever holds position i's device. */
static bool op_unassign_any(unsigned int i, uint32_t b)
{
	unsigned int g;

	for (g = 0; g < NGUESTS; g++) {
		struct guest *gs = &W.guest[(g + b) % NGUESTS];

		if (gs->o && gs->hold[i]) {
			return op_unassign(gs, i);
		}
	}
	return false;
}

static bool op_claim(unsigned int i, struct pci_dev *d, bool claim)
{
	int ret;

	call_begin();
	ret = claim ? iommu_claim(&W.im, d, "con", false)
		    : iommu_release(&W.im, d);
	call_end(claim ? "claim" : "release");
	if (ret == 0) {
		forget(i, true);
	}
	return ret == 0;
}

static bool op_reset(unsigned int i, struct pci_dev *d)
{
	const char *method = NULL;
	int ret;

	call_begin();
	ret = iommu_reset(&W.im, d, &method);
	call_end("reset");
	if (ret == 0) {
		forget(i, false);
	}
	return ret == 0;
}

/* Hot-plug polls every 20 ms until the slot settles, then the layer's. */
static void settle_slot(unsigned int s)
{
	struct pci_slot *sl = pci_find_slot(&W.host, 0, 0, slot_port[s]);
	unsigned int n;

	for (n = 0; n < 150; n++) {
		call_begin();
		pci_hotplug_poll(&W.host, &hp_ops, NULL);
		call_end("pci_hotplug_poll");
		if (!sl || sl->state == PCI_SLOT_ACTIVE ||
		    sl->state == PCI_SLOT_EMPTY || sl->state == PCI_SLOT_OFF) {
			break;
		}
		model_advance(20 * MS);
	}
	poll_all();
}

/* The link of a soldered port (a % 5 of 3 or 4) goes down or comes back. */
static bool soldered_link(uint32_t a, bool up)
{
	unsigned int k = a % 5 - 3;

	if (W.soldered_down[k] == !up) {
		return false;
	}
	pci_fake_link(W.cfg_soldered[k], up);
	W.soldered_down[k] = !up;
	return true;
}

static bool op_plug(unsigned int s)
{
	struct pci_slot *sl = pci_find_slot(&W.host, 0, 0, slot_port[s]);

	if (W.card_in[s] && W.link_ok[s] && sl &&
	    sl->state == PCI_SLOT_ACTIVE) {
		return false;
	}
	W.link_ok[s] = true;
	pci_fake_slot_link_ok(W.slot[s], true);
	if (W.card_in[s] && sl && sl->state == PCI_SLOT_ACTIVE) {
		/* The link is back before anyone noticed it was gone. */
		return true;
	}
	/* A card (back) in the slot: the same one, fresh from a reset. */
	if (W.card_in[s]) {
		pci_fake_slot_pull(W.slot[s]);
	}
	/* Out long enough for hot-plug to notice. */
	settle_slot(s);
	pci_fake_slot_insert(W.slot[s], true);
	W.card_in[s] = true;
	if (s == 0) {
		model_add_endpoint(0, positions[0].rid, ATS_LATENCY_NS);
	}
	settle_slot(s);
	return true;
}

static bool op_remove(unsigned int s, int how)
{
	if (!W.card_in[s] || !W.link_ok[s]) {
		return false;
	}
	switch (how) {
	case SYS_REMOVE:
		pci_fake_slot_button(W.slot[s]);
		settle_slot(s);
		break;
	case SYS_SURPRISE:
		pci_fake_slot_pull(W.slot[s]);
		W.card_in[s] = false;
		if (s == 0) {
			model_remove_endpoint(0, positions[0].rid);
		}
		break;
	default:
		pci_fake_slot_link_ok(W.slot[s], false);
		W.link_ok[s] = false;
		break;
	}
	return true;
}

/* The first console domain at or after a that is (not) in use. */
static struct cdom *cdom(uint32_t a, bool used)
{
	unsigned int k;

	for (k = 0; k < NDOMS; k++) {
		struct cdom *c = &W.dom[(a + k) % NDOMS];

		if (c->used == used) {
			return c;
		}
	}
	return NULL;
}

/* The first guest at or after b. */
static struct guest *guest_from(uint32_t b)
{
	unsigned int k;

	for (k = 0; k < NGUESTS; k++) {
		struct guest *gs = &W.guest[(b + k) % NGUESTS];

		if (gs->o) {
			return gs;
		}
	}
	return NULL;
}

static bool op_dom(const struct sys_op *op)
{
	unsigned int i = op->a % NPOS, b = op->b % NBUFS, j;
	struct pci_dev *d = dev_at(i);
	const char *why;
	struct cdom *c;
	int ret = -1;

	call_begin();
	switch (op->kind) {
	case SYS_DOM_NEW:
		c = cdom(op->a, false);
		if (c && iommu_domain_new(&W.im, NULL, &c->id) == 0) {
			c->used = true;
			c->key = W.next_key++;
			memset(c->mapped, 0, sizeof(c->mapped));
			ret = 0;
		}
		break;
	case SYS_DOM_DEL:
		/* Now and then a guest's domain: the console must be refused.
		 */
		if (op->b % 4 == 0 && W.guest[op->a % NGUESTS].o) {
			struct guest *gs = &W.guest[op->a % NGUESTS];

			if (iommu_domain_del(&W.im, NULL, gs->o->dom_id) == 0) {
				fail("ownership",
				     "the console deleted %s's domain",
				     gs->name);
			}
			break;
		}
		c = cdom(op->a, true);
		if (c) {
			ret = iommu_domain_del(&W.im, NULL, c->id);
			if (ret == 0) {
				/* Nothing was attached, whatever a failed call
				 * left. */
				for (j = 0; j < NPOS; j++) {
					if (W.att[j] == (int)(c - W.dom)) {
						W.att[j] = -1;
					}
				}
				c->used = false;
			}
		}
		break;
	case SYS_DOM_MAP:
		c = cdom(op->a, true);
		if (op->b % 8 == 7 && W.guest[op->a % NGUESTS].o) {
			struct guest *gs = &W.guest[op->a % NGUESTS];

			if (iommu_map(&W.im, NULL, gs->o->dom_id,
				      iova_make(IOVA_BUF(b)),
				      hpa_make(W.buf[b]), 0x1000, RW) == 0) {
				fail("ownership",
				     "the console mapped into %s's domain",
				     gs->name);
			}
			break;
		}
		if (!c) {
			break;
		}
		ret = iommu_map(&W.im, NULL, c->id, iova_make(IOVA_BUF(b)),
				hpa_make(W.buf[b]), 0x1000, RW);
		if (ret == 0) {
			c->mapped[b] = true;
			model_expect_map(key_of(c->key), IOVA_BUF(b), W.buf[b],
					 0x1000, RW);
		}
		break;
	case SYS_DOM_UNMAP:
		c = cdom(op->a, true);
		if (!c) {
			break;
		}
		for (j = 0; j < NBUFS && !c->mapped[b]; j++) {
			b = (b + 1) % NBUFS;
		}
		ret = iommu_unmap(&W.im, NULL, c->id, iova_make(IOVA_BUF(b)),
				  0x1000);
		if (ret == 0) {
			c->mapped[b] = false;
			model_expect_unmap(key_of(c->key), IOVA_BUF(b), 0x1000);
		}
		break;
	case SYS_DOM_ATTACH:
		c = cdom(op->b, true);
		if (c && d) {
			ret = iommu_attach(&W.im, d, c->id, &why);
			if (ret == 0) {
				forget(i, false);
				W.att[i] = (int)(c - W.dom);
			}
		}
		break;
	case SYS_DOM_DETACH:
		if (d) {
			ret = iommu_detach(&W.im, d);
			if (ret == 0) {
				forget(i, false);
			}
		}
		break;
	default:
		break;
	}
	call_end(sys_op_name(op->kind));
	return ret == 0;
}

static bool op_inject(uint32_t what, uint32_t after)
{
	switch (what % 3) {
	case 0:
		model_inject_iqe(0, after % 4, 1);
		break;
	case 1:
		model_inject_ice(0, after % 4, positions[0].rid);
		break;
	default:
		/* The ATS endpoint misses its completions: ITE later. */
		if (!W.card_in[0]) {
			return false;
		}
		model_add_endpoint(0, positions[0].rid, MODEL_ATS_NEVER);
		break;
	}
	return true;
}

static bool op_time(uint32_t a)
{
	static const uint64_t how_long[] = {MS, 100 * MS, SEC, 10 * SEC};
	uint64_t left = how_long[a % 4];

	while (left) {
		uint64_t t = left < SEC ? left : SEC;

		model_advance(t);
		pci_fake_tick();
		left -= t;
		poll_all();
	}
	return true;
}

/* Holds on objects of a previous life are gone with it. */
static void drop_holds(void)
{
	unsigned int i;

	for (i = 0; i < NHELD; i++) {
		if (W.held[i]) {
			pci_dev_put(W.held[i]);
			W.held[i] = NULL;
		}
	}
}

/*
 * kexec: a new kernel starts with the IOMMU translating through the old
 * one's tables, which stay in use until each device's first attach.  The
 * old kernel's objects and table pages stay where they are (its memory is
 * reserved); what the old owners had may still be reached by the DMA they
 * started, through inherited entries, and by nothing else.
 */
static bool op_kexec(uint32_t b)
{
	unsigned int i, g, n;

	/*
	 * kexec from the console: the old kernel's idle polls ran until the
	 * user typed it.  (b == KEXEC_AT_ONCE restarts with invalidations
	 * still in flight: docs/scenarios.md, kexec-in-flight; not generated.)
	 */
	for (n = 0; b != KEXEC_AT_ONCE && n < 3; n++) {
		op_time(3);
		if (!iommu_pending(&W.im)) {
			break;
		}
	}
	drop_holds();
	for (i = 0; i < NPOS; i++) {
		/* Still inherited from an earlier life: still its owner's. */
		if (!W.inherited[i]) {
			W.heir_of[i] = owner_now(i);
			W.inherited[i] = reach_now(i);
		}
		W.att[i] = -1;
	}
	for (g = 0; g < NGUESTS; g++) {
		W.guest[g].o = NULL;
	}
	memset(W.dom, 0, sizeof(W.dom));
	W.old_live = pci_alloc_live;
	/* The new kernel may read faults the old one never did. */
	for (i = 0; i < NPOS; i++) {
		W.fw[i].unknown = true;
	}
	W.old_pages = model_table_pages();
	/* A restart takes seconds: the hardware's time-outs run meanwhile. */
	model_advance(5 * SEC);
	if (boot(true)) {
		return false;
	}
	W.base_domains = iommu_counts(&W.im).domains;
	/* The new kernel denies what it cannot inherit (its log says why). */
	for (i = 0; i < NPOS; i++) {
		if (!iommu_be_inherited(W.im.units[0], positions[i].rid)) {
			W.inherited[i] = 0;
		}
	}
	return true;
}

static bool step(const struct sys_op *op)
{
	unsigned int i = op->a % NPOS;
	unsigned int s = op->a % NSLOTS;
	struct pci_dev *d = dev_at(i);

	switch (op->kind) {
	case SYS_GUEST_NEW:
		return op_guest_new(op->a);
	case SYS_GUEST_DEL:
		return op_guest_del(op->a);
	case SYS_ASSIGN:
		return op_assign(i, op->b, d);
	case SYS_UNASSIGN:
		return op_unassign_any(i, op->b);
	case SYS_CLAIM:
	case SYS_RELEASE:
		return d && op_claim(i, d, op->kind == SYS_CLAIM);
	case SYS_RESET:
		return d && op_reset(i, d);
	case SYS_DMA:
		return op_dma(i, op->b);
	case SYS_LINK_DOWN:
		if (op->a % 5 >= 3) {
			return soldered_link(op->a, false);
		}
		return op_remove(op->a % 5, op->kind);
	case SYS_REMOVE:
	case SYS_SURPRISE:
		return op_remove(s, op->kind);
	case SYS_PLUG:
		if (op->a % 5 >= 3) {
			return soldered_link(op->a, true);
		}
		return op_plug(op->a % 5);
	case SYS_HOLD:
		if (!d) {
			return false;
		}
		if (W.held[op->b % NHELD]) {
			pci_dev_put(W.held[op->b % NHELD]);
		}
		W.held[op->b % NHELD] = pci_dev_get(d);
		return true;
	case SYS_STALE:
		d = W.held[op->a % NHELD];
		if (!d || !pci_dev_is_gone(d)) {
			return false;
		}
		i = (unsigned int)pos_of(d);
		if (op->b % 2) {
			/* A guest's handle on a gone device is refused. */
			return op_assign(i, op->b / 2, d) || true;
		}
		call_begin();
		if (iommu_claim(&W.im, d, "con", false) == 0) {
			fail("ownership", "a gone %s was claimed",
			     positions[i].name);
		}
		call_end("stale claim");
		return true;
	case SYS_ATS_DEAD:
		if (!W.card_in[0]) {
			return false;
		}
		model_add_endpoint(0, positions[0].rid, MODEL_ATS_NEVER);
		return true;
	case SYS_INJECT:
		return op_inject(op->a, op->b);
	case SYS_KEXEC:
		return op_kexec(op->b);
	case SYS_TIME:
		return op_time(op->a);
	default:
		return op_dom(op);
	}
}

/* ---- invariants --------------------------------------------------------- */

/*
 * Tells the model what each requester id may reach now.  Functions
 * sharing one (behind a PCIe-to-PCI bridge) must agree.
 */
static void bind_all(void)
{
	uint64_t key[NPOS];
	unsigned int i, j;

	for (i = 0; i < NPOS; i++) {
		/* Dropped with its group (the driver knows what it still has).
		 */
		if (W.inherited[i] &&
		    !iommu_be_inherited(W.im.units[0], positions[i].rid)) {
			W.inherited[i] = 0;
		}
		key[i] = reach_now(i);
	}
	for (i = 0; i < NPOS; i++) {
		uint64_t k = key[i];

		for (j = 0; j < NPOS; j++) {
			if (!rid_eq(positions[j].rid, positions[i].rid) ||
			    !key[j]) {
				continue;
			}
			if (k && key[j] != k) {
				fail("isolation",
				     "requester id %04x reaches two address spaces (%s and %s)",
				     rid_val(positions[i].rid),
				     positions[i].name, positions[j].name);
			}
			k = key[j];
		}
		if (k) {
			model_expect_attach(0, positions[i].rid, key_of(k));
		} else {
			model_expect_detach(0, positions[i].rid);
		}
	}
}

/*
 * Positions i and j are one isolation group by the topology: one
 * requester id, or functions of one device without ACS.
 */
static bool one_group(unsigned int i, unsigned int j)
{
	const struct pos *a = &positions[i], *b = &positions[j];

	return rid_eq(a->rid, b->rid) ||
	       (a->bus == b->bus && a->mf && b->mf && !a->acs && !b->acs);
}

/*
 * Groups are what the topology makes them, whatever link is down: a
 * function that does not answer is no reason to merge it with its
 * siblings, nor (once back) to split it off (bug 6).
 */
static void check_groups(void)
{
	struct pci_dev *d, *e;
	unsigned int i, j;

	for (i = 0; i < NPOS; i++) {
		d = dev_at(i);
		for (j = i + 1; j < NPOS && d; j++) {
			e = dev_at(j);
			if (e && (pci_group_of(d) == pci_group_of(e)) !=
					 one_group(i, j)) {
				fail("groups", "%s and %s are %s",
				     positions[i].name, positions[j].name,
				     one_group(i, j) ? "one group, yet apart"
						     : "apart, yet one group");
			}
		}
	}
}

static void check_step(void)
{
	pci_fake_tick();
	W.rep->checks++;
	check_groups();
	if (model_violations()) {
		fail("model",
		     "the VT-d model saw an invariant broken (see its message above)");
	}
}

/* ---- teardown ----------------------------------------------------------- */

static void quiesce_all(void)
{
	unsigned int i, n;
	struct pci_dev *d;

	drop_holds();
	model_add_endpoint(0, positions[0].rid, ATS_LATENCY_NS);
	for (i = 0; i < NSLOTS; i++) {
		op_plug(i);
	}
	soldered_link(3, true);
	soldered_link(4, true);
	for (i = 0; i < NGUESTS; i++) {
		op_guest_del(i);
	}
	/*
	 * Everything back to the kernel, detached, console domains deleted;
	 * what waits on the hardware gets time (late completions, ITE) and
	 * is tried again.
	 */
	for (n = 0; n < 30; n++) {
		bool left = false;

		pci_for_each_dev (&W.host, d) {
			const char *name;
			enum iommu_owner_kind kind =
				iommu_owner_of(&W.im, d, &name);

			int k = pos_of(d);

			if (kind == IOMMU_OWNER_QUARANTINE) {
				iommu_reset(&W.im, d, &name);
			} else if (kind == IOMMU_OWNER_NAMED) {
				iommu_release(&W.im, d);
			}
			/* Inherited translation goes with the detach too. */
			if (iommu_detach(&W.im, d) == 0 && k >= 0) {
				forget((unsigned int)k, false);
			}
		}
		for (i = 0; i < NDOMS; i++) {
			if (W.dom[i].used &&
			    iommu_domain_del(&W.im, NULL, W.dom[i].id) == 0) {
				W.dom[i].used = false;
			}
			left |= W.dom[i].used;
		}
		if (!left && !iommu_pending(&W.im)) {
			break;
		}
		op_time(3);
	}
}

static void check_baseline(void)
{
	unsigned int i;

	if (iommu_pending(&W.im)) {
		fail("leak",
		     "the layer still waits on the hardware after 5 minutes");
	}
	if (iommu_counts(&W.im).domains != W.base_domains) {
		fail("leak", "%u domains at the end, %u at the start",
		     iommu_counts(&W.im).domains, W.base_domains);
	}
	for (i = 0; i < NDOMS; i++) {
		if (W.dom[i].used) {
			fail("leak",
			     "console domain %u cannot be deleted at the end",
			     W.dom[i].id);
		}
	}
	for (i = 0; i < NPOS; i++) {
		struct pci_dev *d = dev_at(i);

		/* A soldered function whose link was down at the last boot
		 * was never listed; nothing lists it later. */
		if (!d && positions[i].slot >= 0) {
			fail("leak", "%s is not back at the end",
			     positions[i].name);
		} else if (d && owner_now(i) != OWNER_KERNEL) {
			fail("leak",
			     "%s is not the kernel's at the end (owner %llu)",
			     positions[i].name,
			     (unsigned long long)owner_now(i));
		} else if (d && d->refs != W.base_refs[i]) {
			fail("leak",
			     "%s: %u references at the end, %u at the start",
			     positions[i].name, d->refs, W.base_refs[i]);
		}
	}
}

/* ---- run ---------------------------------------------------------------- */

/* --verbose: each position's group and owner after a step. */
static void dump_groups(void)
{
	const struct pci_group *g;
	unsigned int i;

	for (i = 0; i < NPOS; i++) {
		struct pci_dev *d = dev_at(i);
		const char *name = "-";

		g = d ? pci_group_of(d) : NULL;
		if (d) {
			iommu_owner_of(&W.im, d, &name);
		}
		fprintf(stderr, "  %s group %u owner %s%s", positions[i].name,
			g ? g->id : 0, name, i + 1 < NPOS ? ";" : "\n");
	}
}

void world_run(const struct sys_op *ops, size_t n, bool verbose,
	       struct sys_report *rep)
{
	struct model_unit_config cfg;
	unsigned int i;

	memset(&W, 0, sizeof(W));
	W.rep = rep;
	W.verbose = verbose;
	W.next_owner = OWNER_FIRST_GUEST;
	W.next_key = UINT64_C(1) << 32;
	for (i = 0; i < NPOS; i++) {
		W.att[i] = -1;
	}
	pci_alloc_live = 0;
	pci_alloc_fail_after = -1;
	model_init();
	model_set_relax(100 * 1000);
	model_unit_config_default(&cfg);
	cfg.ecap |= UINT64_C(1) << 2; /* ECAP.DT: device-TLBs */
	cfg.ite_timeout_ns = 2 * SEC;
	model_add_unit(UNIT_BASE, &cfg);
	build_topology();
	build_dmar();
	if (boot(false)) {
		return;
	}
	for (i = 0; i < NBUFS; i++) {
		W.buf[i] = model_ram_alloc(0x1000, 0x1000);
		region_add(IOVA_BUF(i), W.buf[i], 0x1000, OWNER_KERNEL);
	}
	for (i = 0; i < NPOS; i++) {
		W.base_refs[i] = dev_at(i) ? dev_at(i)->refs : 0;
	}
	W.base_domains = iommu_counts(&W.im).domains;
	for (W.step = 0; W.step < n && !rep->failed; W.step++) {
		const struct sys_op *op = &ops[W.step];

		pci_cfg_reads = 0;
		if (verbose) {
			pci_log_dump();
			pci_log_reset();
			fprintf(stderr, "step %u: %s %u %u\n", W.step,
				sys_op_name(op->kind), op->a, op->b);
		}
		if (step(op)) {
			rep->took[op->kind]++;
		}
		if (verbose) {
			dump_groups();
		}
		bind_all();
		check_step();
		rep->steps++;
	}
	for (i = 0; i < NPOS; i++) {
		rep->dma_cancelled += pci_fake_fn_stats(W.cfg_fn[i])->dropped;
	}
	if (verbose) {
		pci_log_dump();
	}
	if (rep->failed) {
		return;
	}
	W.step = (uint32_t)n;
	quiesce_all();
	check_baseline();
	if (verbose) {
		pci_log_dump();
	}
	if (rep->failed) {
		return;
	}
	iommu_fini(&W.im);
	iommu_be_config_free(W.cfg);
	pci_host_clear(&W.host);
	if (pci_alloc_live != W.old_live) {
		fail("leak",
		     "%ld objects still allocated after teardown (%ld of previous lives)",
		     pci_alloc_live, W.old_live);
	}
	if (model_table_pages() != W.old_pages) {
		fail("leak",
		     "%llu table pages still allocated after teardown (%llu of previous lives)",
		     (unsigned long long)model_table_pages(),
		     (unsigned long long)W.old_pages);
	}
	model_fini();
}
