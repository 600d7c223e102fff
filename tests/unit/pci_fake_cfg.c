#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/pci_regs.h"

#include "tests/unit/pci_fake.h"

#define CFG_FNS	  256
#define CFG_SLOTS 8
/* Far more than any test needs: a walk that gets here does not end. */
#define CFG_READS_MAX 1000000UL

static struct cfg_fn {
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE]; /* writable bits */
	uint8_t w1c[PCI_CFG_SPACE_EXP_SIZE];   /* write-1-to-clear bits */
	uint8_t image[PCI_CFG_SPACE_EXP_SIZE]; /* a card's function at reset */
	int slot; /* the slot whose card holds it, or -1 */
	bool dead;
	bool has_image;	   /* image holds the function's state at reset */
	bool link_down;	   /* a port whose link is down (pci_fake_link()) */
	bool sbr;	   /* a bridge holding Secondary Bus Reset */
	uint64_t ready_at; /* answers from then on, after a reset */
	uint64_t reset_ns; /* silent this long after a reset */
	uint64_t gone_at;  /* silent for good from then on; 0: never */
	unsigned long accesses;
	struct {
		bool busy; /* a transfer in flight */
		uint64_t addr;
		uint32_t len;
		uint64_t done_at;
		uint64_t drain_until; /* Transactions Pending after a stop */
		enum pci_fake_bme mode;
		uint64_t drain_ns;
		bool tp_stuck;
		bool rid_set;
		uint16_t rid;
	} dma;
	struct pci_fake_fn_stats stats;
} fns[CFG_FNS];
static unsigned int fn_count;

/*
 * A hot-plug slot at register level, after PCIe §6.7 and QEMU 7.2's
 * hw/pci/pcie.c: the card's functions answer only while the card is in,
 * powered and its link up; power follows Slot Control's PCC; every Slot
 * Control write completes at once (CC).
 */
static struct cfg_slot {
	struct cfg_fn *port;
	unsigned int exp;
	bool present;
	bool link_ok;	  /* the link trains when it can */
	bool qemu_unplug; /* power off + indicator off removes the card */
	bool no_cc;
	struct pci_fake_slot_stats stats;
} slots[CFG_SLOTS];
static unsigned int slot_count;

unsigned long pci_cfg_reads;
uint64_t pci_fake_now_ns;
static uint64_t (*clock_fn)(void);
static pci_fake_dma_sink_fn *sink_fn;
static void *sink_ctx;

void pci_cfg_reset(void)
{
	memset(fns, 0, sizeof(fns));
	memset(slots, 0, sizeof(slots));
	fn_count = 0;
	slot_count = 0;
	pci_cfg_reads = 0;
	pci_fake_now_ns = 0;
	clock_fn = NULL;
	sink_fn = NULL;
	sink_ctx = NULL;
}

uint64_t pci_fake_now(void)
{
	return clock_fn ? clock_fn() : pci_fake_now_ns;
}

void pci_fake_clock(uint64_t (*now)(void))
{
	clock_fn = now;
}

static struct cfg_fn *find(uint16_t seg, uint8_t bus, uint8_t devfn)
{
	unsigned int i;

	for (i = 0; i < fn_count; i++) {
		if (fns[i].seg == seg && fns[i].bus == bus &&
		    fns[i].devfn == devfn) {
			return &fns[i];
		}
	}
	return NULL;
}

static struct cfg_fn *fn_of(const uint8_t *cfg)
{
	unsigned int i;

	for (i = 0; i < fn_count; i++) {
		if (fns[i].cfg == cfg) {
			return &fns[i];
		}
	}
	abort();
}

static uint32_t get(const uint8_t *a, unsigned int off, unsigned int width)
{
	uint32_t v = 0;
	unsigned int i;

	for (i = 0; i < width; i++) {
		v |= (uint32_t)a[off + i] << (8 * i);
	}
	return v;
}

static void set(uint8_t *a, unsigned int off, unsigned int width, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < width; i++) {
		a[off + i] = (uint8_t)(v >> (8 * i));
	}
}

void pci_cfg_put8(uint8_t *cfg, unsigned int off, uint8_t v)
{
	set(cfg, off, 1, v);
}

void pci_cfg_put16(uint8_t *cfg, unsigned int off, uint16_t v)
{
	set(cfg, off, 2, v);
}

void pci_cfg_put32(uint8_t *cfg, unsigned int off, uint32_t v)
{
	set(cfg, off, 4, v);
}

uint32_t pci_cfg_get(const uint8_t *cfg, unsigned int off, unsigned int width)
{
	return get(cfg, off, width);
}

uint8_t *pci_cfg_add(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t vendor,
		     uint16_t device, uint32_t class24, uint8_t hdr_type)
{
	struct cfg_fn *f;

	if (fn_count == CFG_FNS || find(seg, bus, devfn)) {
		abort();
	}
	f = &fns[fn_count++];
	f->seg = seg;
	f->bus = bus;
	f->devfn = devfn;
	f->slot = -1;
	pci_cfg_put16(f->cfg, PCI_VENDOR_ID, vendor);
	pci_cfg_put16(f->cfg, PCI_DEVICE_ID, device);
	pci_cfg_put32(f->cfg, PCI_CLASS_REVISION, class24 << 8 | 0x01);
	pci_cfg_put8(f->cfg, PCI_HEADER_TYPE, hdr_type);
	/* Memory, I/O and bus master enables are always writable. */
	set(f->wmask, PCI_COMMAND, 2,
	    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return f->cfg;
}

uint8_t *pci_cfg_add_bridge(uint16_t seg, uint8_t bus, uint8_t devfn,
			    uint8_t primary, uint8_t secondary,
			    uint8_t subordinate)
{
	uint8_t *cfg = pci_cfg_add(seg, bus, devfn, 0x1b36, 0x0001, 0x060400,
				   PCI_HEADER_TYPE_BRIDGE);

	pci_cfg_put8(cfg, PCI_PRIMARY_BUS, primary);
	pci_cfg_put8(cfg, PCI_SECONDARY_BUS, secondary);
	pci_cfg_put8(cfg, PCI_SUBORDINATE_BUS, subordinate);
	/* Bus numbers are lost in a reset; Secondary Bus Reset works. */
	pci_cfg_writable(cfg, PCI_PRIMARY_BUS, 1, 0xff);
	pci_cfg_writable(cfg, PCI_SECONDARY_BUS, 1, 0xff);
	pci_cfg_writable(cfg, PCI_SUBORDINATE_BUS, 1, 0xff);
	pci_cfg_writable(cfg, PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET);
	return cfg;
}

void pci_cfg_cap(uint8_t *cfg, unsigned int pos, uint8_t id, uint8_t next)
{
	cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	cfg[pos + PCI_CAP_LIST_ID] = id;
	cfg[pos + PCI_CAP_LIST_NEXT] = next;
}

void pci_cfg_pcie(uint8_t *cfg, unsigned int pos, uint8_t type, uint8_t next)
{
	pci_cfg_cap(cfg, pos, PCI_CAP_ID_EXP, next);
	pci_cfg_put16(cfg, pos + PCI_EXP_FLAGS, (uint16_t)(type << 4 | 0x2));
}

uint8_t *pci_cfg_add_port(uint8_t bus, uint8_t devfn, uint8_t type,
			  uint8_t secondary, uint8_t subordinate)
{
	uint8_t *cfg =
		pci_cfg_add_bridge(0, bus, devfn, bus, secondary, subordinate);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, PCI_CFG_PORT_EXP);
	pci_cfg_pcie(cfg, PCI_CFG_PORT_EXP, type, 0);
	return cfg;
}

void pci_cfg_ext_cap(uint8_t *cfg, unsigned int pos, uint16_t id,
		     unsigned int next)
{
	pci_cfg_put32(cfg, pos, (uint32_t)next << 20 | 1U << 16 | id);
}

void pci_cfg_writable(uint8_t *cfg, unsigned int off, unsigned int width,
		      uint32_t mask)
{
	set(fn_of(cfg)->wmask, off, width, mask);
}

void pci_cfg_acs(uint8_t *cfg, unsigned int pos, unsigned int next,
		 uint16_t cap, uint16_t ctrl)
{
	pci_cfg_ext_cap(cfg, pos, PCI_EXT_CAP_ID_ACS, next);
	pci_cfg_put16(cfg, pos + PCI_ACS_CAP, cap);
	pci_cfg_put16(cfg, pos + PCI_ACS_CTRL, ctrl);
	pci_cfg_writable(cfg, pos + PCI_ACS_CTRL, 2, cap & 0x7f);
}

void pci_cfg_bar(uint8_t *cfg, unsigned int bar, uint64_t size, uint32_t flags)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	pci_cfg_put32(cfg, off, flags);
	if (flags & PCI_BASE_ADDRESS_SPACE_IO) {
		pci_cfg_writable(cfg, off, 4, (uint32_t)mask & ~0x3U);
		return;
	}
	pci_cfg_writable(cfg, off, 4,
			 (uint32_t)mask & PCI_BASE_ADDRESS_MEM_MASK);
	if (flags & PCI_BASE_ADDRESS_MEM_TYPE_64 << 1) {
		pci_cfg_put32(cfg, off + 4, 0);
		pci_cfg_writable(cfg, off + 4, 4, (uint32_t)(mask >> 32));
	}
}

void pci_cfg_window(uint8_t *cfg, uint32_t base, uint32_t limit)
{
	pci_cfg_put16(cfg, PCI_MEMORY_BASE, (uint16_t)(base >> 16 & 0xfff0));
	pci_cfg_put16(cfg, PCI_MEMORY_LIMIT, (uint16_t)(limit >> 16 & 0xfff0));
}

void pci_cfg_pref_window(uint8_t *cfg, uint64_t base, uint64_t limit)
{
	uint16_t type = PCI_PREF_RANGE_TYPE_64;

	pci_cfg_put16(cfg, PCI_PREF_MEMORY_BASE,
		      (uint16_t)((base >> 16 & 0xfff0) | type));
	pci_cfg_put16(cfg, PCI_PREF_MEMORY_LIMIT,
		      (uint16_t)((limit >> 16 & 0xfff0) | type));
	pci_cfg_put32(cfg, PCI_PREF_BASE_UPPER32, (uint32_t)(base >> 32));
	pci_cfg_put32(cfg, PCI_PREF_LIMIT_UPPER32, (uint32_t)(limit >> 32));
}

void pci_cfg_dead(uint8_t *cfg, bool dead)
{
	fn_of(cfg)->dead = dead;
}

unsigned long pci_cfg_accesses(const uint8_t *cfg)
{
	return fn_of(cfg)->accesses;
}

/* ---- slots ---------------------------------------------------------- */

static uint32_t port_reg(const struct cfg_slot *s, unsigned int reg,
			 unsigned int width)
{
	return get(s->port->cfg, s->exp + reg, width);
}

static void port_bits(struct cfg_slot *s, unsigned int reg, uint16_t bits,
		      bool on)
{
	uint16_t v = (uint16_t)port_reg(s, reg, 2);

	set(s->port->cfg, s->exp + reg, 2, on ? v | bits : v & ~bits);
}

static bool slot_powered(const struct cfg_slot *s)
{
	return !(port_reg(s, PCI_EXP_SLTCAP, 4) & PCI_EXP_SLTCAP_PCP) ||
	       !(port_reg(s, PCI_EXP_SLTCTL, 2) & PCI_EXP_SLTCTL_PCC);
}

static bool slot_link(const struct cfg_slot *s)
{
	return s->present && s->link_ok && slot_powered(s) && !s->port->sbr;
}

static void dma_drop(struct cfg_fn *f)
{
	if (f->dma.busy) {
		f->dma.busy = false;
		f->stats.dropped++;
	}
	f->dma.drain_until = 0;
}

/* Puts the card's functions back as they come out of reset. */
static void card_reset(const struct cfg_slot *s)
{
	unsigned int i;

	for (i = 0; i < fn_count; i++) {
		if (fns[i].slot >= 0 && &slots[fns[i].slot] == s) {
			memcpy(fns[i].cfg, fns[i].image, sizeof(fns[i].cfg));
			fns[i].dead = false;
			dma_drop(&fns[i]);
		}
	}
}

static void slot_sync(struct cfg_slot *s)
{
	port_bits(s, PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PDS, s->present);
	port_bits(s, PCI_EXP_LNKSTA, PCI_EXP_LNKSTA_DLLLA, slot_link(s));
}

static void slot_event(struct cfg_slot *s, uint16_t events)
{
	port_bits(s, PCI_EXP_SLTSTA, events, true);
}

int pci_fake_slot(uint8_t *port_cfg, unsigned int exp, uint32_t sltcap,
		  unsigned int psn)
{
	struct cfg_slot *s;

	if (slot_count == CFG_SLOTS) {
		abort();
	}
	s = &slots[slot_count];
	s->port = fn_of(port_cfg);
	s->exp = exp;
	s->link_ok = true;
	s->qemu_unplug = true;
	port_bits(s, PCI_EXP_FLAGS, PCI_EXP_FLAGS_SLOT, true);
	pci_cfg_put32(port_cfg, exp + PCI_EXP_SLTCAP, sltcap | psn << 19);
	pci_cfg_put32(port_cfg, exp + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_DLLLARC);
	/* Empty at reset: power off, indicators off (QEMU's slot reset). */
	pci_cfg_put16(port_cfg, exp + PCI_EXP_SLTCTL,
		      PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC |
			      PCI_EXP_SLTCTL_AIC);
	pci_cfg_writable(port_cfg, exp + PCI_EXP_SLTCTL, 2,
			 PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PFDE |
				 PCI_EXP_SLTCTL_MRLSCE | PCI_EXP_SLTCTL_PDCE |
				 PCI_EXP_SLTCTL_CCIE | PCI_EXP_SLTCTL_HPIE |
				 PCI_EXP_SLTCTL_AIC | PCI_EXP_SLTCTL_PIC |
				 PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_DLLSCE);
	set(s->port->w1c, exp + PCI_EXP_SLTSTA, 2, PCI_EXP_SLTSTA_EVENTS);
	slot_sync(s);
	return (int)slot_count++;
}

void pci_fake_slot_card(int slot, uint8_t *fn_cfg)
{
	struct cfg_fn *f = fn_of(fn_cfg);

	f->slot = slot;
	f->has_image = true;
	memcpy(f->image, f->cfg, sizeof(f->image));
}

void pci_fake_slot_boot(int slot)
{
	struct cfg_slot *s = &slots[slot];

	/* Populated at reset: power and its indicator on, no event. */
	s->present = true;
	port_bits(s, PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_PCC, false);
	port_bits(s, PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_PIC, false);
	port_bits(s, PCI_EXP_SLTCTL, 0x1 << 8, true);
	card_reset(s);
	slot_sync(s);
}

void pci_fake_slot_insert(int slot, bool with_button)
{
	struct cfg_slot *s = &slots[slot];

	s->present = true;
	card_reset(s);
	slot_event(s, (uint16_t)(PCI_EXP_SLTSTA_PDC |
				 (with_button ? PCI_EXP_SLTSTA_ABP : 0)));
	slot_sync(s);
}

void pci_fake_slot_pull(int slot)
{
	struct cfg_slot *s = &slots[slot];

	s->present = false;
	slot_event(s, PCI_EXP_SLTSTA_PDC);
	slot_sync(s);
}

void pci_fake_slot_button(int slot)
{
	slot_event(&slots[slot], PCI_EXP_SLTSTA_ABP);
}

void pci_fake_slot_link_ok(int slot, bool ok)
{
	slots[slot].link_ok = ok;
	slot_sync(&slots[slot]);
}

void pci_fake_slot_options(int slot, bool qemu_unplug, bool no_cc)
{
	slots[slot].qemu_unplug = qemu_unplug;
	slots[slot].no_cc = no_cc;
}

const struct pci_fake_slot_stats *pci_fake_slot_stats(int slot)
{
	struct cfg_slot *s = &slots[slot];

	s->stats.powered = slot_powered(s);
	s->stats.present = s->present;
	s->stats.link = slot_link(s);
	return &s->stats;
}

static struct cfg_slot *slot_at(const struct cfg_fn *f, unsigned int off,
				unsigned int width, unsigned int reg)
{
	unsigned int i;

	for (i = 0; i < slot_count; i++) {
		if (slots[i].port == f && off < slots[i].exp + reg + 2 &&
		    off + width > slots[i].exp + reg) {
			return &slots[i];
		}
	}
	return NULL;
}

/* QEMU's rule: a 1 written to an event bit that is clear undoes it all. */
static bool sltsta_write_refused(struct cfg_slot *s, uint32_t val)
{
	uint16_t old = (uint16_t)port_reg(s, PCI_EXP_SLTSTA, 2);

	if ((uint16_t)val & ~old & PCI_EXP_SLTSTA_EVENTS) {
		s->stats.undone_writes++;
		return true;
	}
	return false;
}

static void sltctl_written(struct cfg_slot *s, uint16_t old)
{
	uint16_t ctl = (uint16_t)port_reg(s, PCI_EXP_SLTCTL, 2);
	bool was_on = !(old & PCI_EXP_SLTCTL_PCC);
	bool off_pair = (ctl & PCI_EXP_SLTCTL_PCC) &&
			(ctl & PCI_EXP_SLTCTL_PIC) == PCI_EXP_SLTCTL_PIC;
	bool was_off_pair = (old & PCI_EXP_SLTCTL_PCC) &&
			    (old & PCI_EXP_SLTCTL_PIC) == PCI_EXP_SLTCTL_PIC;

	s->stats.commands++;
	if (s->qemu_unplug && s->present && off_pair && !was_off_pair) {
		s->stats.unplugs++;
		s->present = false;
		slot_event(s, PCI_EXP_SLTSTA_PDC);
	}
	if (!was_on && slot_powered(s)) {
		card_reset(s);
	}
	slot_sync(s);
	if (!s->no_cc) {
		slot_event(s, PCI_EXP_SLTSTA_CC);
	}
}

/* ---- resets, links, DMA ------------------------------------------- */

static bool is_bridge(const struct cfg_fn *f)
{
	return (f->cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
}

/* Whether g is a bridge that f is below, by g's bus numbers. */
static bool below(const struct cfg_fn *f, const struct cfg_fn *g)
{
	return g != f && is_bridge(g) && g->seg == f->seg &&
	       f->bus >= g->cfg[PCI_SECONDARY_BUS] &&
	       f->bus <= g->cfg[PCI_SUBORDINATE_BUS] &&
	       g->cfg[PCI_SECONDARY_BUS] != 0;
}

/* A port above f has its link down or holds its bus in reset. */
static bool cut_off(const struct cfg_fn *f)
{
	unsigned int i;

	for (i = 0; i < fn_count; i++) {
		if ((fns[i].link_down || fns[i].sbr) && below(f, &fns[i])) {
			return true;
		}
	}
	return false;
}

/* The card's function answers only while its slot's link is up. */
static bool answers(const struct cfg_fn *f)
{
	return !f->dead && pci_fake_now() >= f->ready_at &&
	       (!f->gone_at || pci_fake_now() < f->gone_at) &&
	       (f->slot < 0 || slot_link(&slots[f->slot])) && !cut_off(f);
}

/* Offset of the first capability with this ID in f's list, or 0. */
static unsigned int cap_pos(const struct cfg_fn *f, uint8_t id)
{
	unsigned int pos = f->cfg[PCI_CAPABILITY_LIST] & 0xfc;
	unsigned int n;

	if (!(f->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
		return 0;
	}
	for (n = 0; pos && n < 48; n++) {
		if (f->cfg[pos] == id) {
			return pos;
		}
		pos = f->cfg[pos + 1] & 0xfc;
	}
	return 0;
}

static bool tp(const struct cfg_fn *f)
{
	return f->dma.busy || f->dma.tp_stuck ||
	       pci_fake_now() < f->dma.drain_until;
}

static bool master(const struct cfg_fn *f)
{
	return get(f->cfg, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

/* The transfer ends: it lands if the function may master, else it is lost. */
static void dma_end(struct cfg_fn *f)
{
	bool lands = answers(f) &&
		     (f->dma.mode == PCI_FAKE_BME_IGNORED || master(f));

	f->dma.busy = false;
	if (!lands) {
		f->stats.dropped++;
		return;
	}
	f->stats.landed++;
	if (sink_fn) {
		sink_fn(sink_ctx, f->seg,
			f->dma.rid_set ? f->dma.rid
				       : (uint16_t)(f->bus << 8 | f->devfn),
			f->dma.addr, f->dma.len);
	}
}

void pci_fake_tick(void)
{
	uint64_t now = pci_fake_now();
	unsigned int i, exp;
	struct cfg_fn *f;

	for (i = 0; i < fn_count; i++) {
		f = &fns[i];
		if (f->dma.busy && now >= f->dma.done_at) {
			dma_end(f);
		}
		exp = cap_pos(f, PCI_CAP_ID_EXP);
		if (exp) {
			set(f->cfg, exp + PCI_EXP_DEVSTA, 2,
			    tp(f) ? get(f->cfg, exp + PCI_EXP_DEVSTA, 2) |
					    PCI_EXP_DEVSTA_TRPND
				  : get(f->cfg, exp + PCI_EXP_DEVSTA, 2) &
					    ~PCI_EXP_DEVSTA_TRPND);
		}
	}
}

void pci_fake_advance(uint64_t ns)
{
	pci_fake_now_ns += ns;
	pci_fake_tick();
}

/*
 * A conventional reset of f: writable bits to zero, read-only ones as they
 * were, its DMA lost; silent until ready_at.
 */
static void fn_reset(struct cfg_fn *f, uint64_t ready_at)
{
	unsigned int i;

	f->stats.resets++;
	f->stats.cmd_at_reset = (uint16_t)get(f->cfg, PCI_COMMAND, 2);
	f->stats.tp_at_reset = tp(f);
	dma_drop(f);
	for (i = 0; i < sizeof(f->cfg); i++) {
		f->cfg[i] = f->image[i] & (uint8_t)~f->wmask[i];
	}
	f->ready_at = ready_at;
}

static uint64_t ready_after(const struct cfg_fn *f)
{
	return f->reset_ns == UINT64_MAX ? UINT64_MAX
					 : pci_fake_now() + f->reset_ns;
}

static bool overlaps(unsigned int off, unsigned int width, unsigned int reg,
		     unsigned int reg_width)
{
	return off < reg + reg_width && off + width > reg;
}

/*
 * A hot-plug port's link goes down while it holds Secondary Bus Reset and
 * trains again after: Data Link Layer State Changed each time (PCIe
 * §7.5.3.11; QEMU sets it never).
 */
static void slot_sbr(const struct cfg_fn *port)
{
	unsigned int i;

	for (i = 0; i < slot_count; i++) {
		if (slots[i].port == port && slots[i].present) {
			slot_event(&slots[i], PCI_EXP_SLTSTA_DLLSC);
			slot_sync(&slots[i]);
		}
	}
}

/* What a write to f did beyond changing bits: stops, resets. */
static void written(struct cfg_fn *f, unsigned int off, unsigned int width,
		    const uint8_t *old)
{
	unsigned int exp = cap_pos(f, PCI_CAP_ID_EXP);
	unsigned int pm = cap_pos(f, PCI_CAP_ID_PM);
	uint32_t o, n;
	unsigned int i;

	if (overlaps(off, width, PCI_COMMAND, 2) &&
	    (get(old, PCI_COMMAND, 2) & PCI_COMMAND_MASTER) && !master(f) &&
	    f->dma.busy && f->dma.mode == PCI_FAKE_BME_STOPS) {
		dma_drop(f);
		f->dma.drain_until = pci_fake_now() + f->dma.drain_ns;
	}
	if (exp && overlaps(off, width, exp + PCI_EXP_DEVCTL, 2) &&
	    (get(f->cfg, exp + PCI_EXP_DEVCTL, 2) & PCI_EXP_DEVCTL_BCR_FLR) &&
	    (get(f->cfg, exp + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR)) {
		fn_reset(f, ready_after(f));
		return;
	}
	if (pm && overlaps(off, width, pm + PCI_PM_CTRL, 2)) {
		o = get(old, pm + PCI_PM_CTRL, 2);
		n = get(f->cfg, pm + PCI_PM_CTRL, 2);
		if ((o & PCI_PM_CTRL_STATE) == PCI_PM_CTRL_STATE_D3HOT &&
		    (n & PCI_PM_CTRL_STATE) == PCI_PM_CTRL_STATE_D0 &&
		    !(n & PCI_PM_CTRL_NO_SOFT_RESET)) {
			fn_reset(f, ready_after(f));
			return;
		}
	}
	if (is_bridge(f) && overlaps(off, width, PCI_BRIDGE_CONTROL, 2)) {
		o = get(old, PCI_BRIDGE_CONTROL, 2) & PCI_BRIDGE_CTL_BUS_RESET;
		n = get(f->cfg, PCI_BRIDGE_CONTROL, 2) &
		    PCI_BRIDGE_CTL_BUS_RESET;
		if (o == n) {
			return;
		}
		for (i = 0; i < fn_count; i++) {
			if (!below(&fns[i], f)) {
				continue;
			}
			if (n) {
				fn_reset(&fns[i], UINT64_MAX);
			} else {
				fns[i].ready_at = ready_after(&fns[i]);
			}
		}
		f->sbr = n;
		slot_sbr(f);
	}
}

static void take_image(struct cfg_fn *f)
{
	if (!f->has_image) {
		memcpy(f->image, f->cfg, sizeof(f->image));
		f->has_image = true;
	}
}

static void check_access(uint16_t off, unsigned int width)
{
	/* The driver must never make such an access, nor walk forever. */
	if (off % width || off + width > PCI_CFG_SPACE_EXP_SIZE ||
	    ++pci_cfg_reads > CFG_READS_MAX) {
		abort();
	}
}

uint32_t pci_fake_cfg_read(uint16_t seg, uint8_t bus, uint8_t devfn,
			   uint16_t off, unsigned int width)
{
	struct cfg_fn *f = find(seg, bus, devfn);

	check_access(off, width);
	pci_fake_tick();
	if (f) {
		f->accesses++;
		take_image(f);
	}
	if (!f || !answers(f)) {
		return UINT32_MAX >> (32 - 8 * width);
	}
	return get(f->cfg, off, width);
}

void pci_fake_cfg_write(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
			unsigned int width, uint32_t val)
{
	struct cfg_fn *f = find(seg, bus, devfn);
	uint8_t old[PCI_CFG_SPACE_EXP_SIZE];
	struct cfg_slot *sta, *ctl;
	uint16_t old_ctl = 0;
	unsigned int i;
	uint8_t b, wm;

	check_access(off, width);
	pci_fake_tick();
	if (f) {
		f->accesses++;
		take_image(f);
	}
	if (!f || !answers(f)) {
		return;
	}
	sta = slot_at(f, off, width, PCI_EXP_SLTSTA);
	ctl = slot_at(f, off, width, PCI_EXP_SLTCTL);
	if (sta && sltsta_write_refused(sta, val)) {
		return;
	}
	if (ctl) {
		old_ctl = (uint16_t)port_reg(ctl, PCI_EXP_SLTCTL, 2);
	}
	memcpy(old, f->cfg, sizeof(old));
	for (i = 0; i < width; i++) {
		b = (uint8_t)(val >> (8 * i));
		wm = f->wmask[off + i];
		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~wm) | (b & wm));
		f->cfg[off + i] &= (uint8_t) ~(b & f->w1c[off + i]);
	}
	if (ctl) {
		sltctl_written(ctl, old_ctl);
	}
	written(f, off, width, old);
	pci_fake_tick();
}

/* ---- the API of resets, links and DMA ------------------------------ */

/* The function's PCI Express capability, which the test must have added. */
static unsigned int exp_of(const uint8_t *cfg)
{
	unsigned int exp = cap_pos(fn_of(cfg), PCI_CAP_ID_EXP);

	if (!exp) {
		abort();
	}
	return exp;
}

static void set_bits32(uint8_t *cfg, unsigned int off, uint32_t bits)
{
	pci_cfg_put32(cfg, off, pci_cfg_get(cfg, off, 4) | bits);
}

void pci_fake_flr(uint8_t *cfg)
{
	unsigned int exp = exp_of(cfg);

	set_bits32(cfg, exp + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR);
	pci_cfg_writable(cfg, exp + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR);
}

void pci_fake_pm(uint8_t *cfg, unsigned int pos, uint8_t next,
		 bool no_soft_reset)
{
	pci_cfg_cap(cfg, pos, PCI_CAP_ID_PM, next);
	pci_cfg_put16(cfg, pos + 2, 0x0003); /* PM 1.2 */
	pci_cfg_put16(cfg, pos + PCI_PM_CTRL,
		      no_soft_reset ? PCI_PM_CTRL_NO_SOFT_RESET : 0);
	pci_cfg_writable(cfg, pos + PCI_PM_CTRL, 2, PCI_PM_CTRL_STATE);
}

void pci_fake_reset_time(uint8_t *cfg, uint64_t ns)
{
	fn_of(cfg)->reset_ns = ns;
}

void pci_fake_gone_at(uint8_t *cfg, uint64_t ns)
{
	fn_of(cfg)->gone_at = ns;
}

const struct pci_fake_fn_stats *pci_fake_fn_stats(const uint8_t *cfg)
{
	return &fn_of(cfg)->stats;
}

void pci_fake_link(uint8_t *port_cfg, bool up)
{
	unsigned int exp = exp_of(port_cfg);

	set_bits32(port_cfg, exp + PCI_EXP_LNKCAP, PCI_EXP_LNKCAP_DLLLARC);
	pci_cfg_put16(port_cfg, exp + PCI_EXP_LNKSTA,
		      up ? PCI_EXP_LNKSTA_DLLLA : 0);
	fn_of(port_cfg)->link_down = !up;
}

void pci_fake_dma_mode(uint8_t *cfg, enum pci_fake_bme mode, uint64_t drain_ns)
{
	struct cfg_fn *f = fn_of(cfg);

	f->dma.mode = mode;
	f->dma.drain_ns = drain_ns;
}

void pci_fake_dma_rid(uint8_t *cfg, uint16_t rid)
{
	struct cfg_fn *f = fn_of(cfg);

	f->dma.rid_set = true;
	f->dma.rid = rid;
}

void pci_fake_dma_sink(pci_fake_dma_sink_fn *fn, void *ctx)
{
	sink_fn = fn;
	sink_ctx = ctx;
}

bool pci_fake_dma_start(uint8_t *cfg, uint64_t addr, uint32_t len,
			uint64_t duration_ns)
{
	struct cfg_fn *f = fn_of(cfg);

	if (f->dma.busy || !answers(f) || !master(f)) {
		return false;
	}
	f->dma.busy = true;
	f->dma.addr = addr;
	f->dma.len = len;
	f->dma.done_at = duration_ns == UINT64_MAX
				 ? UINT64_MAX
				 : pci_fake_now() + duration_ns;
	pci_fake_tick();
	return true;
}

bool pci_fake_dma_busy(const uint8_t *cfg)
{
	return fn_of(cfg)->dma.busy;
}

bool pci_fake_dma_complete(uint8_t *cfg)
{
	struct cfg_fn *f = fn_of(cfg);
	unsigned long landed = f->stats.landed;

	if (f->dma.busy) {
		dma_end(f);
		pci_fake_tick();
	}
	return f->stats.landed > landed;
}

void pci_fake_tp_stuck(uint8_t *cfg, bool stuck)
{
	fn_of(cfg)->dma.tp_stuck = stuck;
	pci_fake_tick();
}

uint8_t *pci_fake_fn_cfg(uint16_t seg, uint8_t bus, uint8_t devfn)
{
	struct cfg_fn *f = find(seg, bus, devfn);

	return f ? f->cfg : NULL;
}

bool pci_fake_answers(const uint8_t *cfg)
{
	return answers(fn_of(cfg));
}

/* ---- topologies ----------------------------------------------------- */

uint8_t *pci_fake_alias_group(uint8_t bus, uint8_t devfn, uint8_t secondary,
			      unsigned int count, uint8_t **fn_cfgs)
{
	uint8_t *br = pci_cfg_add_port(bus, devfn, PCI_EXP_TYPE_PCI_BRIDGE,
				       secondary, secondary);
	unsigned int i;

	for (i = 0; i < count; i++) {
		fn_cfgs[i] = pci_cfg_add(0, secondary, pci_devfn(i, 0), 0x8086,
					 (uint16_t)(0x1000 + i), 0x020000,
					 PCI_HEADER_TYPE_NORMAL);
		pci_fake_dma_rid(fn_cfgs[i], (uint16_t)(secondary << 8));
	}
	return br;
}

void pci_fake_multifunction(uint8_t bus, uint8_t slot, unsigned int count,
			    uint8_t **fn_cfgs)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		fn_cfgs[i] = pci_cfg_add(0, bus, pci_devfn(slot, i), 0x8086,
					 (uint16_t)(0x2000 + i), 0x020000,
					 PCI_HEADER_TYPE_NORMAL |
						 PCI_HEADER_TYPE_MFD);
		pci_cfg_put8(fn_cfgs[i], PCI_CAPABILITY_LIST, 0x40);
		pci_cfg_pcie(fn_cfgs[i], 0x40, PCI_EXP_TYPE_ENDPOINT, 0);
	}
}
