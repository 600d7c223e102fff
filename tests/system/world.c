/*
 * The machine of the whole-system test and its invariant checker.
 *
 * Topology (segment 0, one VT-d unit covering everything, ATSR for all
 * root ports):
 *	00:01.0 root port, ACS, hot-plug slot 0 -> 01:00.0 ATS endpoint, FLR
 *	00:02.0 root port, ACS, hot-plug slot 1 -> 02:00.0 FLR, 02:00.1 no
 *		reset: a multi-function device without ACS, one group
 *	00:03.0 root port, ACS -> 03:00.0 PCIe-to-PCI bridge -> 04:00.0 and
 *		04:01.0, conventional: one group, one requester id (04:00.0)
 *	00:04.0 root port, ACS, hot-plug slot 2 -> 05:00.0 no reset at all
 *	00:05.0 root port, ACS -> 06:00.0 FLR
 *
 * Every function has a DMA engine: a DMA started on it stays in flight
 * (in the engine) until the engine gets to issue it, which it does only
 * with Bus Master Enable on; a Function Level Reset or the card's removal
 * drops what is in flight.  Each DMA remembers the owner it was started
 * under.  When it lands, it must land inside its owner's memory, and its
 * owner must still own the device: the model checks the first (every
 * requester id is bound, for the model, to whoever owns it now and the
 * memory they own), this file the second.
 */
#include "tests/system/world.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"
#include "drivers/pci/ats.h"
#include "drivers/pci/hotplug.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/pci_regs.h"
#include "kernel/iommu.h"
#include "lib/errno.h"
#include "tests/model/model.h"
#include "tests/unit/pci_fake.h"

#define MS UINT64_C(1000000)
#define SEC (1000 * MS)
#define UNIT_BASE UINT64_C(0xfed90000)
#define EXP PCI_CFG_PORT_EXP
#define ACS_POS 0x100u
#define ATS_POS 0x140u
#define ACS_ALL (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)
#define SLOT_CAPS                                                              \
	(PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP |        \
	 PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPS | PCI_EXP_SLTCAP_HPC)

#define NSLOTS 3u
#define NHELD 4u
#define NDOMS 4u
#define NBUFS 8u
#define INFLIGHT 8u

/* Where each function sits, what it can do, and what the IOMMU sees. */
static const struct pos {
	const char *name;
	uint8_t bus;
	uint8_t devfn;
	int slot;		/* hot-plug slot, -1: soldered */
	bool flr;
	bool ats;
	uint16_t rid;		/* requester id of its DMA at the IOMMU */
} positions[] = {
	{ "01:00.0", 1, 0x00, 0, true, true, 0x0100 },
	{ "02:00.0", 2, 0x00, 1, true, false, 0x0200 },
	{ "02:00.1", 2, 0x01, 1, false, false, 0x0201 },
	{ "04:00.0", 4, 0x00, -1, false, false, 0x0400 },
	{ "04:01.0", 4, 0x08, -1, false, false, 0x0400 },
	{ "05:00.0", 5, 0x00, 2, false, false, 0x0500 },
	{ "06:00.0", 6, 0x00, -1, true, false, 0x0600 },
};
#define NPOS (sizeof(positions) / sizeof(positions[0]))

/* The port above each slot. */
static const uint8_t slot_port[NSLOTS] = { 0x08, 0x10, 0x20 };

struct dma {
	uint64_t iova;
	uint64_t owner;		/* who started it */
	uint64_t tag;
};

struct engine {
	struct dma q[INFLIGHT];
	unsigned int count;
};

/* An owner's identity: 0 for nobody, unique per incarnation otherwise. */
#define OWNER_KERNEL 1u

struct cdom {
	bool used;
	unsigned int id;	/* the console's number */
	uint64_t key;		/* for the model: the domain's memory */
	bool mapped[NBUFS];
};

static struct world {
	struct sys_report *rep;
	bool verbose;
	uint32_t step;
	struct pci_host host;
	struct dmar dmar;
	struct iommu im;
	uint8_t *cfg[NPOS];
	int slot[NSLOTS];
	bool card_in[NSLOTS];
	bool link_ok[NSLOTS];
	struct engine eng[NPOS];
	struct pci_dev *held[NHELD];
	struct cdom dom[NDOMS];
	uint64_t buf[NBUFS];	/* 4 KiB of RAM each, mapped at IOVA_BUF */
	uint64_t next_key;
	uint64_t tag;
	unsigned int base_refs[NPOS];
	long base_live;
	uint32_t base_dids;
} W;

#define IOVA_BUF(i) (UINT64_C(0x100000) + (uint64_t)(i) * 0x1000)

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
	fprintf(stderr, "system: step %u: [%s] %s\n", W.step, sig,
		W.rep->what);
}

/* ---- budgets ------------------------------------------------------------ */

/*
 * One call waits at most one deadline per class (design.md, invariant 3),
 * plus a reset's own deadline where it resets, plus a hot-plug command.
 */
static uint64_t budget(void)
{
	uint64_t b = 0;
	unsigned int c;

	for (c = 0; c < VTD_DEADLINE_COUNT; c++) {
		b += W.im.cfg.deadline_ns[c];
	}
	return b + 2 * SEC + W.host.timing.cmd_ns + 10 * MS;
}

static uint64_t call_start;

static void call_begin(void)
{
	call_start = model_now();
}

static void call_end(const char *what)
{
	uint64_t took = model_now() - call_start;

	if (took > W.rep->max_call_ns) {
		W.rep->max_call_ns = took;
	}
	if (took > budget()) {
		fail("budget", "%s waited %llu ms, past its budget of %llu ms",
		     what, (unsigned long long)(took / MS),
		     (unsigned long long)(budget() / MS));
	}
}

/* ---- topology ----------------------------------------------------------- */

static uint8_t *port(uint8_t devfn, uint8_t sec, uint8_t sub)
{
	uint8_t *cfg = pci_cfg_add_port(0, devfn, PCI_EXP_TYPE_ROOT_PORT, sec,
					sub);

	pci_cfg_acs(cfg, ACS_POS, 0, ACS_ALL, 0);
	pci_cfg_window(cfg, 0xc0000000u + (uint32_t)sec * 0x100000u,
		       0xc00fffffu + (uint32_t)sec * 0x100000u);
	return cfg;
}

static uint8_t *function(const struct pos *p, bool multifunction)
{
	bool pcie = p->bus != 4;
	uint8_t *cfg = pci_cfg_add(0, p->bus, p->devfn, 0x1234, 0x11e8,
				   0x00ff00,
				   multifunction ? PCI_HEADER_TYPE_MFD : 0);

	pci_cfg_writable(cfg, PCI_COMMAND, 2,
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				 PCI_COMMAND_INTX_DISABLE);
	if (pcie) {
		pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, EXP);
		pci_cfg_pcie(cfg, EXP, PCI_EXP_TYPE_ENDPOINT, 0);
		if (p->flr) {
			pci_cfg_put32(cfg, EXP + PCI_EXP_DEVCAP,
				      PCI_EXP_DEVCAP_FLR);
			pci_cfg_writable(cfg, EXP + PCI_EXP_DEVCTL, 2,
					 PCI_EXP_DEVCTL_BCR_FLR);
		}
	}
	if (p->ats) {
		pci_cfg_ext_cap(cfg, ATS_POS, PCI_EXT_CAP_ID_ATS, 0);
		pci_cfg_writable(cfg, ATS_POS + PCI_ATS_CTRL, 2, 0x801f);
	}
	return cfg;
}

static void build_topology(void)
{
	unsigned int i, s;
	uint8_t *br;

	pci_cfg_reset();
	for (s = 0; s < NSLOTS; s++) {
		uint8_t sec = positions[s == 2 ? 5 : s].bus;

		W.slot[s] = pci_fake_slot(port(slot_port[s], sec, sec), EXP,
					  SLOT_CAPS, s + 1);
	}
	port(0x18, 3, 4);
	br = pci_cfg_add_bridge(0, 3, 0, 3, 4, 4);
	pci_cfg_put8(br, PCI_CAPABILITY_LIST, EXP);
	pci_cfg_pcie(br, EXP, PCI_EXP_TYPE_PCI_BRIDGE, 0);
	port(0x28, 6, 6);
	for (i = 0; i < NPOS; i++) {
		const struct pos *p = &positions[i];

		W.cfg[i] = function(p, p->bus == 2);
		if (p->slot >= 0) {
			pci_fake_slot_card(W.slot[p->slot], W.cfg[i]);
		}
	}
	for (s = 0; s < NSLOTS; s++) {
		pci_fake_slot_boot(W.slot[s]);
		W.card_in[s] = true;
		W.link_ok[s] = true;
	}
	model_add_endpoint(0, positions[0].rid, 2 * 1000);
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

/* ---- the devices as the layers see them -------------------------------- */

/* The present object at a position now, or NULL (borrowed). */
static struct pci_dev *dev_at(unsigned int i)
{
	return pci_find_dev(&W.host, 0, positions[i].bus, positions[i].devfn);
}

static bool answers(unsigned int i)
{
	return hw_pci_read16(0, positions[i].bus, positions[i].devfn,
			     PCI_VENDOR_ID) != 0xffff;
}

/* ---- the isolation layer (system under test) ---------------------------- */

static const char *const CON = "con";

/* Who owns position i's group now, by the layer's account. */
static uint64_t owner_now(unsigned int i, uint64_t *key)
{
	struct pci_dev *d = dev_at(i);
	const struct iommu_attachment *a = NULL;
	const char *name;
	unsigned int j;

	*key = 0;
	if (!d) {
		return 0;
	}
	if (iommu_owner_of(&W.im, d, &name) != IOMMU_OWNER_KERNEL) {
		return 2;	/* quarantine or "con": no memory at all */
	}
	for (j = 0; j < IOMMU_ATTACH_MAX; j++) {
		if (W.im.att[j].dev == d) {
			a = &W.im.att[j];
		}
	}
	for (j = 0; a && j < NDOMS; j++) {
		if (W.dom[j].used && W.dom[j].id == a->domain) {
			*key = W.dom[j].key;
		}
	}
	return OWNER_KERNEL;
}

static void hp_removing(void *ctx, struct pci_dev *d)
{
	iommu_device_removing(&W.im, d);
}

static void hp_removed(void *ctx, struct pci_dev *d, bool surprise)
{
	iommu_device_removed(&W.im, d);
}

static void hp_added(void *ctx, struct pci_dev *d)
{
	iommu_device_added(&W.im, d);
}

static const struct pci_hotplug_ops hp_ops = {
	.removing = hp_removing,
	.removed = hp_removed,
	.added = hp_added,
};

static void poll_all(void)
{
	call_begin();
	pci_hotplug_poll(&W.host, &hp_ops, NULL);
	call_end("pci_hotplug_poll");
	call_begin();
	iommu_poll(&W.im);
	call_end("iommu_poll");
	vtd_fault_poll(W.im.units[0], NULL, NULL);
}

static void sut_init(void)
{
	iommu_configure(&W.im, "vtd.ats=0000:01:00.0");
	iommu_init(&W.im, &W.dmar, &W.host);
}

static void sut_fini(void)
{
	if (W.im.blocking && vtd_domain_destroy(W.im.blocking)) {
		fail("leak", "blocking domain still has attachments at the end");
	}
	if (W.im.units[0]) {
		vtd_unit_disable(W.im.units[0]);
		vtd_unit_fini(W.im.units[0]);
		hw_free(W.im.units[0]);
	}
}

/* ---- DMA engines -------------------------------------------------------- */

static void engine_flush(unsigned int i)
{
	W.rep->dma_cancelled += W.eng[i].count;
	W.eng[i].count = 0;
}

/* A Function Level Reset drops what is in flight (and completes at once). */
static void engine_watch_flr(unsigned int i)
{
	uint16_t ctl;

	if (!positions[i].flr) {
		return;
	}
	ctl = (uint16_t)pci_cfg_get(W.cfg[i], EXP + PCI_EXP_DEVCTL, 2);
	if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
		engine_flush(i);
		pci_cfg_put16(W.cfg[i], EXP + PCI_EXP_DEVCTL,
			      (uint16_t)(ctl & ~PCI_EXP_DEVCTL_BCR_FLR));
		pci_cfg_put16(W.cfg[i], PCI_COMMAND, 0);
	}
}

/* The engine issues its oldest DMA, if bus mastering lets it. */
static void engine_run(unsigned int i)
{
	struct engine *e = &W.eng[i];
	struct dma dma;
	uint64_t key, owner;
	int ret;

	engine_watch_flr(i);
	if (!e->count || !answers(i) ||
	    !(pci_cfg_get(W.cfg[i], PCI_COMMAND, 2) & PCI_COMMAND_MASTER)) {
		return;
	}
	dma = e->q[0];
	memmove(&e->q[0], &e->q[1], --e->count * sizeof(e->q[0]));
	owner = owner_now(i, &key);
	ret = model_dma_write(0, positions[i].rid, dma.iova, &dma.tag,
			      sizeof(dma.tag));
	W.rep->checks++;
	if (ret) {
		W.rep->dma_faulted++;
		return;
	}
	W.rep->dma_landed++;
	if (owner != dma.owner) {
		fail("isolation",
		     "%s: a DMA started under owner %llu landed (iova 0x%llx) while owner %llu holds the device",
		     positions[i].name, (unsigned long long)dma.owner,
		     (unsigned long long)dma.iova, (unsigned long long)owner);
	}
}

/* ---- operations --------------------------------------------------------- */

static bool op_dma(unsigned int i, uint32_t where)
{
	struct engine *e = &W.eng[i];
	uint64_t key;

	if (!dev_at(i) || e->count == INFLIGHT) {
		return false;
	}
	/* Its owner's driver programs it, bus mastering on. */
	pci_cfg_put16(W.cfg[i], PCI_COMMAND,
		      (uint16_t)(pci_cfg_get(W.cfg[i], PCI_COMMAND, 2) |
				 PCI_COMMAND_MASTER));
	e->q[e->count].owner = owner_now(i, &key);
	e->q[e->count].iova = where & 1 ? IOVA_BUF(where / 2 % NBUFS) :
					  (uint64_t)(where / 2) << 21;
	e->q[e->count].tag = ++W.tag;
	e->count++;
	return true;
}

static bool op_claim(struct pci_dev *d, bool claim)
{
	int ret;

	call_begin();
	ret = claim ? iommu_claim(&W.im, d, CON, false) :
		      iommu_release(&W.im, d);
	call_end(claim ? "claim" : "release");
	return ret == 0;
}

static bool op_reset(unsigned int i, struct pci_dev *d)
{
	int ret;

	call_begin();
	ret = pci_reset_function(d, SEC);
	if (ret == 0) {
		iommu_unquarantine(&W.im, d);
	}
	call_end("reset");
	return ret == 0;
}

static void settle_slot(unsigned int s)
{
	struct pci_slot *sl = pci_find_slot(&W.host, 0, 0, slot_port[s]);
	unsigned int n;

	for (n = 0; n < 300; n++) {
		poll_all();
		if (!sl || sl->state == PCI_SLOT_ACTIVE ||
		    sl->state == PCI_SLOT_EMPTY || sl->state == PCI_SLOT_OFF) {
			break;
		}
		model_advance(10 * MS);
	}
}

static void cards_gone(unsigned int s)
{
	unsigned int i;

	for (i = 0; i < NPOS; i++) {
		if (positions[i].slot == (int)s) {
			engine_flush(i);
		}
	}
	if (s == 0) {
		model_remove_endpoint(0, positions[0].rid);
	}
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
		model_add_endpoint(0, positions[0].rid, 2 * 1000);
	}
	settle_slot(s);
	if (W.verbose) {
		printf("  slot %u: %s\n", s,
		       sl ? pci_slot_state_name(sl->state) : "none");
	}
	return true;
}

static bool op_remove(unsigned int s, int how)
{
	if (!W.card_in[s]) {
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
		break;
	default:
		pci_fake_slot_link_ok(W.slot[s], false);
		W.link_ok[s] = false;
		break;
	}
	/* Whatever the card had in flight died with its link. */
	cards_gone(s);
	return true;
}

static struct cdom *cdom(uint32_t a, bool used)
{
	struct cdom *c = &W.dom[a % NDOMS];

	return c->used == used ? c : NULL;
}

static bool op_dom(const struct sys_op *op)
{
	struct cdom *c;
	struct pci_dev *d;
	unsigned int b = op->b % NBUFS;
	int ret = -1;

	call_begin();
	switch (op->kind) {
	case SYS_DOM_NEW:
		c = cdom(op->a, false);
		if (c && iommu_domain_new(&W.im, &c->id) == 0) {
			c->used = true;
			c->key = ++W.next_key + 0x10000;
			memset(c->mapped, 0, sizeof(c->mapped));
			ret = 0;
		}
		break;
	case SYS_DOM_DEL:
		c = cdom(op->a, true);
		if (c) {
			ret = iommu_domain_del(&W.im, c->id);
			if (ret == 0) {
				for (b = 0; b < NBUFS; b++) {
					model_expect_unmap((void *)c->key,
							   IOVA_BUF(b), 0x1000);
				}
				c->used = false;
			}
		}
		break;
	case SYS_DOM_MAP:
	case SYS_DOM_UNMAP:
		c = cdom(op->a, true);
		if (!c) {
			break;
		}
		if (op->kind == SYS_DOM_MAP) {
			ret = vtd_domain_map(iommu_domain(&W.im, c->id),
					     IOVA_BUF(b), W.buf[b], 0x1000,
					     VTD_PROT_READ | VTD_PROT_WRITE);
			if (ret == 0) {
				c->mapped[b] = true;
				model_expect_map((void *)c->key, IOVA_BUF(b),
						 W.buf[b], 0x1000,
						 VTD_PROT_READ | VTD_PROT_WRITE);
			}
		} else {
			ret = vtd_domain_unmap(iommu_domain(&W.im, c->id),
					       IOVA_BUF(b), 0x1000);
			if (ret == 0) {
				c->mapped[b] = false;
				model_expect_unmap((void *)c->key, IOVA_BUF(b),
						   0x1000);
			}
		}
		break;
	case SYS_DOM_ATTACH:
		c = cdom(op->b, true);
		d = dev_at(op->a % NPOS);
		if (c && d) {
			ret = iommu_attach(&W.im, d, c->id, NULL);
		}
		break;
	case SYS_DOM_DETACH:
		d = dev_at(op->a % NPOS);
		if (d) {
			ret = iommu_detach(&W.im, d);
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
		model_add_endpoint(0, positions[0].rid, MODEL_ATS_NEVER);
		break;
	}
	return true;
}

static bool op_time(uint32_t a)
{
	static const uint64_t how_long[] = { MS, 100 * MS, SEC, 10 * SEC };
	uint64_t left = how_long[a % 4];

	while (left) {
		uint64_t t = left < 100 * MS ? left : 100 * MS;

		model_advance(t);
		left -= t;
		poll_all();
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
	case SYS_GUEST_DEL:
	case SYS_ASSIGN:
	case SYS_UNASSIGN:
	case SYS_KEXEC:
		return false;	/* needs the isolation layer (issue 11) */
	case SYS_CLAIM:
	case SYS_RELEASE:
		return d && op_claim(d, op->kind == SYS_CLAIM);
	case SYS_RESET:
		return d && op_reset(i, d);
	case SYS_DMA:
		return op_dma(i, op->b);
	case SYS_REMOVE:
	case SYS_SURPRISE:
	case SYS_LINK_DOWN:
		return op_remove(s, op->kind);
	case SYS_PLUG:
		return op_plug(s);
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
		call_begin();
		if (op->b % 2) {
			iommu_claim(&W.im, d, CON, false);
		} else {
			iommu_detach(&W.im, d);
		}
		call_end("stale");
		return true;
	case SYS_ATS_DEAD:
		if (!W.card_in[0]) {
			return false;
		}
		model_add_endpoint(0, positions[0].rid, MODEL_ATS_NEVER);
		return true;
	case SYS_INJECT:
		return op_inject(op->a, op->b);
	case SYS_TIME:
		return op_time(op->a);
	default:
		return op_dom(op);
	}
}

/* ---- invariants --------------------------------------------------------- */

/*
 * Tells the model who owns each requester id now, and so what it may
 * reach.  Functions sharing one (behind a PCIe-to-PCI bridge) must agree.
 */
static void bind_all(void)
{
	uint64_t key[NPOS];
	unsigned int i, j;

	for (i = 0; i < NPOS; i++) {
		owner_now(i, &key[i]);
	}
	for (i = 0; i < NPOS; i++) {
		uint64_t k = key[i];

		for (j = 0; j < NPOS; j++) {
			if (positions[j].rid != positions[i].rid || !key[j]) {
				continue;
			}
			if (k && key[j] != k) {
				fail("isolation", "requester id %04x reaches two address spaces (%s and %s)",
				     positions[i].rid, positions[i].name,
				     positions[j].name);
			}
			k = key[j];
		}
		if (k) {
			model_expect_attach(0, positions[i].rid, (void *)k);
		} else {
			model_expect_detach(0, positions[i].rid);
		}
	}
}

static void check_step(void)
{
	unsigned int i;

	for (i = 0; i < NPOS; i++) {
		engine_run(i);
	}
	W.rep->checks++;
	if (model_violations()) {
		fail("model", "the VT-d model saw an invariant broken (see its message above)");
	}
}

/* ---- run ---------------------------------------------------------------- */

static void quiesce_all(void)
{
	unsigned int i, n;
	struct vtd_qi_info qi;
	struct pci_dev *d;

	for (i = 0; i < NPOS; i++) {
		engine_flush(i);
	}
	for (i = 0; i < NHELD; i++) {
		if (W.held[i]) {
			pci_dev_put(W.held[i]);
			W.held[i] = NULL;
		}
	}
	for (i = 0; i < NSLOTS; i++) {
		op_plug(i);
	}
	/* Time for every late completion and time-out to arrive. */
	for (n = 0; n < 30; n++) {
		op_time(3);
		vtd_qi_info(W.im.units[0], &qi);
		if (qi.in_flight == 0 && qi.batches == 0) {
			break;
		}
	}
	for (i = 0; i < NPOS; i++) {
		const char *name;

		d = dev_at(i);
		if (d && iommu_owner_of(&W.im, d, &name) == IOMMU_OWNER_QUARANTINE) {
			op_reset(i, d);
		}
		if (d && iommu_owner_of(&W.im, d, &name) == IOMMU_OWNER_NAMED) {
			iommu_release(&W.im, d);
		}
	}
	/* Back to the start: nothing attached, not even to blocking. */
	pci_for_each_dev(&W.host, d) {
		iommu_detach(&W.im, d);
	}
	for (i = 0; i < NDOMS; i++) {
		if (W.dom[i].used &&
		    iommu_domain_del(&W.im, W.dom[i].id) == 0) {
			W.dom[i].used = false;
		}
	}
}

static void check_baseline(void)
{
	struct vtd_qi_info qi;
	unsigned int i;

	vtd_qi_info(W.im.units[0], &qi);
	if (qi.in_flight || qi.batches) {
		fail("leak", "invalidation queue: %u slots and %u batches still in flight at the end",
		     qi.in_flight, qi.batches);
	}
	if (W.im.units[0]->did_count != W.base_dids) {
		fail("leak", "domain ids: %u in use at the end, %u at the start",
		     W.im.units[0]->did_count, W.base_dids);
	}
	for (i = 0; i < NDOMS; i++) {
		if (W.dom[i].used) {
			fail("leak", "console domain %u cannot be deleted at the end",
			     W.dom[i].id);
		}
	}
	for (i = 0; i < NPOS; i++) {
		struct pci_dev *d = dev_at(i);

		if (!d) {
			fail("leak", "%s is not back at the end", positions[i].name);
		} else if (d->refs != W.base_refs[i]) {
			fail("leak", "%s: %u references at the end, %u at the start",
			     positions[i].name, d->refs, W.base_refs[i]);
		}
	}
}

bool world_supports(unsigned int kind)
{
	return kind != SYS_GUEST_NEW && kind != SYS_GUEST_DEL &&
	       kind != SYS_ASSIGN && kind != SYS_UNASSIGN && kind != SYS_KEXEC;
}

void world_run(const struct sys_op *ops, size_t n, bool verbose,
	       struct sys_report *rep)
{
	unsigned int i;

	memset(&W, 0, sizeof(W));
	W.rep = rep;
	W.verbose = verbose;
	pci_alloc_live = 0;
	pci_alloc_fail_after = -1;
	model_init();
	model_set_relax(20 * 1000);
	{
		struct model_unit_config cfg;

		model_unit_config_default(&cfg);
		cfg.ecap |= VTD_ECAP_DT;
		cfg.ite_timeout_ns = 2 * SEC;
		model_add_unit(UNIT_BASE, &cfg);
	}
	build_topology();
	build_dmar();
	if (pci_host_add_range(&W.host, 0, 0, 0xff) || pci_enumerate(&W.host)) {
		fail("setup", "enumeration failed");
		return;
	}
	sut_init();
	for (i = 0; i < NBUFS; i++) {
		W.buf[i] = model_ram_alloc(0x1000, 0x1000);
	}
	for (i = 0; i < NPOS; i++) {
		W.base_refs[i] = dev_at(i) ? dev_at(i)->refs : 0;
	}
	W.base_dids = W.im.units[0]->did_count;
	W.base_live = pci_alloc_live;
	for (W.step = 0; W.step < n && !rep->failed; W.step++) {
		const struct sys_op *op = &ops[W.step];

		pci_cfg_reads = 0;
		if (verbose) {
			printf("step %u: %s %u %u\n", W.step,
			       sys_op_name(op->kind), op->a, op->b);
		}
		if (step(op)) {
			rep->took[op->kind]++;
		}
		bind_all();
		check_step();
		rep->steps++;
	}
	if (rep->failed) {
		return;
	}
	W.step = (uint32_t)n;
	quiesce_all();
	check_baseline();
	if (rep->failed) {
		return;
	}
	sut_fini();
	pci_host_clear(&W.host);
	if (pci_alloc_live) {
		fail("leak", "%ld objects still allocated after teardown",
		     pci_alloc_live);
	}
	if (model_table_pages()) {
		fail("leak", "%llu table pages still allocated after teardown",
		     (unsigned long long)model_table_pages());
	}
	model_fini();
}
