#include "kernel/iommu.h"

#include "drivers/hw.h"
#include "drivers/pci/ats.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

/* Widest IOVA space a domain gets: 4-level tables, enough for any guest here. */
#define IOMMU_ADDR_WIDTH_MAX 48u

static void reject(struct dmar *dmar, unsigned int i, const char *what, int err)
{
	char why[64];

	fmt_snprintf(why, sizeof(why), "%s: %s", what, errno_name(err));
	dmar_unit_reject(dmar, i, why);
	log_err("iommu", "unit %u rejected: %s", i, why);
}

struct vtd_unit *iommu_unit_for(struct iommu *im, const struct pci_dev *d,
				const char **why)
{
	int i;

	if (!im->dmar) {
		*why = "no usable DMAR table";
		return NULL;
	}
	i = dmar_unit_for_device(im->dmar, d->seg, d->bus, d->devfn);
	if (i < 0) {
		*why = i == -EEXIST ? "claimed by two DMAR units" :
				      "no DMAR unit covers it";
		return NULL;
	}
	if (!dmar_unit_usable(im->dmar, (unsigned int)i) || !im->units[i]) {
		*why = "its DMAR unit is rejected";
		return NULL;
	}
	return im->units[i];
}

static struct iommu_attachment *find_att(struct iommu *im,
					 const struct pci_dev *d)
{
	unsigned int i;

	for (i = 0; i < IOMMU_ATTACH_MAX; i++) {
		if (im->att[i].dev == d) {
			return &im->att[i];
		}
	}
	return NULL;
}

/* Another attachment on the same unit that holds sid, or NULL. */
static const struct iommu_attachment *
sid_holder(struct iommu *im, const struct iommu_attachment *self,
	   unsigned int unit, uint16_t sid)
{
	unsigned int i, j;

	for (i = 0; i < IOMMU_ATTACH_MAX; i++) {
		const struct iommu_attachment *a = &im->att[i];

		if (!a->dev || a == self || a->unit != unit) {
			continue;
		}
		for (j = 0; j < a->sid_count; j++) {
			if (a->sids[j] == sid) {
				return a;
			}
		}
	}
	return NULL;
}

static bool ats_allowed(const struct iommu *im, const struct pci_dev *d)
{
	unsigned int i;

	for (i = 0; i < im->ats_allow_count; i++) {
		if (im->ats_allow[i].seg == d->seg &&
		    im->ats_allow[i].bus == d->bus &&
		    im->ats_allow[i].devfn == d->devfn) {
			return true;
		}
	}
	return false;
}

/* An ATSR (root ports, VT-d spec 8.5) or SATC (8.8) of d's segment has d. */
static bool ats_covered(const struct dmar *dmar, const struct pci_dev *d)
{
	const struct dmar_devset *set;
	unsigned int i;

	for (i = 0; i < dmar->atsr_count + dmar->satc_count; i++) {
		set = i < dmar->atsr_count ? &dmar->atsrs[i] :
					     &dmar->satcs[i - dmar->atsr_count];
		if (set->segment != d->seg || !dmar_devset_usable(dmar, set)) {
			continue;
		}
		/* ALL_PORTS: every root port of the segment supports ATS. */
		if ((i < dmar->atsr_count &&
		     (set->flags & DMAR_ATSR_ALL_PORTS) && d->parent &&
		     d->parent->pcie_type == PCI_EXP_TYPE_ROOT_PORT) ||
		    dmar_devset_covers(dmar, set, d->seg, d->bus, d->devfn)) {
			return true;
		}
	}
	return false;
}

/*
 * The ATS invalidate queue depth d is attached to dom with, or 0 for no
 * ATS: off unless allow-listed, covered by an ATSR or SATC, on a unit
 * with device-TLBs (ECAP.DT) in legacy mode, with a requester id of its
 * own and an ATS capability.  The blocking domain never needs it.
 */
static unsigned int ats_depth(struct iommu *im, struct vtd_unit *u,
			      struct pci_dev *d, const struct vtd_domain *dom,
			      unsigned int sid_count)
{
	int qdepth;

	if (dom == im->blocking || sid_count != 1 || !ats_allowed(im, d) ||
	    !vtd_ecap_dt(u->ecap) || !ats_covered(im->dmar, d)) {
		return 0;
	}
	/* vtd_attach_ats() programs legacy context entries only. */
	if (u->mode != VTD_MODE_LEGACY) {
		log_info("iommu", PCI_BDF_FMT ": ATS off: it needs legacy mode (vtd.mode=legacy)",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
		return 0;
	}
	qdepth = pci_ats_queue_depth(d);
	return qdepth > 0 ? (unsigned int)qdepth : 0;
}

/*
 * ATS on for d, attached through sid (VT-d spec 4.2): the context entry
 * takes translation requests first, then the device may send them.
 */
static int attach_ats(struct vtd_domain *dom, struct vtd_unit *u,
		      struct pci_dev *d, uint16_t sid, unsigned int qdepth)
{
	int ret = vtd_attach_ats(dom, u, sid, sid, qdepth);

	if (ret) {
		return ret;
	}
	ret = pci_ats_enable(d, 0);
	if (ret) {
		vtd_detach(dom, u, &sid, 1);
		return ret;
	}
	log_info("iommu", PCI_BDF_FMT ": ATS on (queue depth %u)",
		 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), qdepth);
	return 0;
}

/*
 * Records d in dom and attaches those of its requester ids that no other
 * device already attached there.  A requester id held by a device in
 * another domain makes the attach fail: one id cannot reach two address
 * spaces.  The record holds a reference on d.
 */
static int attach_record(struct iommu *im, struct vtd_unit *u,
			 struct pci_dev *d, struct vtd_domain *dom,
			 unsigned int domain)
{
	struct iommu_attachment *a = find_att(im, NULL);
	uint16_t fresh[IOMMU_SIDS_MAX];
	unsigned int i, n = 0;
	int ret;

	if (!a) {
		return -ENOSPC;
	}
	a->unit = u->index;
	a->dom = dom;
	a->domain = domain;
	a->sid_count = pci_dma_aliases(d, a->sids, IOMMU_SIDS_MAX);
	for (i = 0; i < a->sid_count; i++) {
		const struct iommu_attachment *h =
			sid_holder(im, a, u->index, a->sids[i]);

		if (h && h->dom != dom) {
			log_warn("iommu",
				 PCI_BDF_FMT ": requester id %02x:%02x.%u is in use by " PCI_BDF_FMT,
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				 a->sids[i] >> 8, (a->sids[i] >> 3) & 0x1f,
				 a->sids[i] & 7,
				 PCI_BDF_ARGS(h->dev->seg, h->dev->bus,
					      h->dev->devfn));
			return -EBUSY;
		}
		if (!h) {
			fresh[n++] = a->sids[i];
		}
	}
	a->ats_qdepth = n == 1 ? ats_depth(im, u, d, dom, a->sid_count) : 0;
	if (a->ats_qdepth) {
		ret = attach_ats(dom, u, d, fresh[0], a->ats_qdepth);
	} else {
		ret = n ? vtd_attach(dom, u, fresh, n) : 0;
	}
	if (ret == 0) {
		a->dev = pci_dev_get(d);
	}
	return ret;
}

/*
 * ATS off after the detach blocked d, invalidated the IOTLB and its
 * device-TLB; then its device-TLB once more for anything it translated in
 * between, within the device-TLB deadline (seed 002).  A device that
 * misses it is quarantined by the driver.
 */
static void ats_off(struct vtd_unit *u, struct iommu_attachment *a)
{
	int ret;

	pci_ats_disable(a->dev);
	ret = vtd_devtlb_flush(u, a->sids[0], a->sids[0], a->ats_qdepth, 0,
			       VTD_DEVTLB_ALL);
	if (ret && ret != -ENODEV) {
		log_warn("iommu", PCI_BDF_FMT ": device-TLB not flushed after ATS off: %s",
			 PCI_BDF_ARGS(a->dev->seg, a->dev->bus, a->dev->devfn),
			 errno_name(ret));
	}
	a->ats_qdepth = 0;
}

/*
 * Makes d's requester ids not present again, except those another device
 * of the same domain still uses, and drops the record.  gone: the device
 * was removed; it must never get a device-TLB invalidation.
 */
static int detach_record(struct iommu *im, struct iommu_attachment *a,
			 bool gone)
{
	struct vtd_unit *u = im->units[a->unit];
	uint16_t ids[IOMMU_SIDS_MAX];
	unsigned int i, n = 0;
	int ret = 0;

	for (i = 0; i < a->sid_count; i++) {
		if (gone) {
			vtd_device_gone(u, a->sids[i]);
		}
		if (!sid_holder(im, a, a->unit, a->sids[i])) {
			ids[n++] = a->sids[i];
		}
	}
	if (n) {
		ret = vtd_detach(a->dom, u, ids, n);
	}
	/* A device that is gone is never touched, its config space neither. */
	if (ret == 0 && a->ats_qdepth && !gone) {
		ats_off(u, a);
	}
	if (ret == 0) {
		a->ats_qdepth = 0;
		pci_dev_put(a->dev);
		a->dev = NULL;
	}
	return ret;
}

/* d into dom: detached first, a present context entry is never rewritten. */
static int move(struct iommu *im, struct pci_dev *d, struct vtd_domain *dom,
		unsigned int domain)
{
	struct iommu_attachment *a = find_att(im, d);
	struct vtd_unit *u;
	const char *why;
	int ret;

	/* Nothing is ever set up for a device that is gone. */
	if (pci_dev_is_gone(d)) {
		return -ENODEV;
	}
	u = iommu_unit_for(im, d, &why);
	if (!u) {
		log_warn("iommu", PCI_BDF_FMT ": cannot attach: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		return -ENODEV;
	}
	if (a && a->dom == dom) {
		return 0;
	}
	if (a) {
		ret = detach_record(im, a, false);
		if (ret) {
			return ret;
		}
	}
	return attach_record(im, u, d, dom, domain);
}

static unsigned int addr_width(const struct vtd_unit *u)
{
	unsigned int w = vtd_cap_mgaw(u->cap);

	return w < IOMMU_ADDR_WIDTH_MAX ? w : IOMMU_ADDR_WIDTH_MAX;
}

/* A domain spanning every live unit, with their capabilities intersected. */
static int domain_create(struct iommu *im, struct vtd_domain **out)
{
	struct vtd_unit *units[DMAR_MAX_UNITS];
	unsigned int i, n = 0, width = IOMMU_ADDR_WIDTH_MAX;

	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			units[n++] = im->units[i];
			if (addr_width(im->units[i]) < width) {
				width = addr_width(im->units[i]);
			}
		}
	}
	if (n == 0) {
		return -ENODEV;
	}
	return vtd_domain_create(units, n, width, out);
}

/* Identity maps for every usable RMRR, each in its unit's RMRR domain. */
static void rmrr_setup(struct iommu *im, struct dmar *dmar,
		       const struct pci_host *pci)
{
	struct pci_dev *d;
	unsigned int r;
	const char *why;
	int ret;

	for (r = 0; r < dmar->rmrr_count; r++) {
		const struct dmar_rmrr *rm = &dmar->rmrrs[r];
		uint64_t len = rm->limit - rm->base + 1;

		if (!dmar_rmrr_usable(dmar, r)) {
			continue;
		}
		pci_for_each_dev(pci, d) {
			struct vtd_unit *u;
			struct vtd_domain **dom;

			if (!dmar_rmrr_covers(dmar, r, d->seg, d->bus,
					      d->devfn)) {
				continue;
			}
			u = iommu_unit_for(im, d, &why);
			if (!u) {
				continue;
			}
			dom = &im->rmrr[u->index];
			if (!*dom) {
				ret = vtd_domain_create(&u, 1, addr_width(u),
							dom);
				if (ret) {
					log_err("iommu", "unit %u: no RMRR domain: %s",
						u->index, errno_name(ret));
					continue;
				}
			}
			/* Several devices may share an RMRR: map it once. */
			ret = vtd_domain_map(*dom, rm->base, rm->base, len,
					     VTD_PROT_READ | VTD_PROT_WRITE);
			if (ret == 0 || ret == -EEXIST) {
				ret = find_att(im, d) ? 0 :
							attach_record(im, u, d, *dom, 0);
			}
			if (ret) {
				log_err("iommu", PCI_BDF_FMT ": RMRR 0x%llx-0x%llx not mapped: %s",
					PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
					(unsigned long long)rm->base,
					(unsigned long long)rm->limit,
					errno_name(ret));
			}
		}
	}
}

/* vtd.ats=BDF[,BDF...]: the allow-list; a bad entry ends it. */
static void configure_ats(struct iommu *im, const char *cmdline)
{
	char list[IOMMU_ATS_ALLOW_MAX * 13 + 1], *p, *next;
	unsigned int seg, bus, devfn;

	im->ats_allow_count = 0;
	if (cmdline_get(cmdline, "vtd.ats", list, sizeof(list))) {
		return;
	}
	for (p = list; p && *p; p = next) {
		next = strchr(p, ',');
		if (next) {
			*next++ = '\0';
		}
		if (im->ats_allow_count == IOMMU_ATS_ALLOW_MAX ||
		    con_parse_bdf(p, &seg, &bus, &devfn)) {
			log_err("iommu", "vtd.ats: %s ignored ([SSSS:]BB:DD.F, at most %u)",
				p, IOMMU_ATS_ALLOW_MAX);
			return;
		}
		im->ats_allow[im->ats_allow_count].seg = (uint16_t)seg;
		im->ats_allow[im->ats_allow_count].bus = (uint8_t)bus;
		im->ats_allow[im->ats_allow_count++].devfn = (uint8_t)devfn;
	}
}

void iommu_configure(struct iommu *im, const char *cmdline)
{
	unsigned long long us;
	char key[32], val[24];
	unsigned int c;
	int ret;

	vtd_config_default(&im->cfg);
	if (cmdline_get(cmdline, "vtd.mode", val, sizeof(val)) == 0) {
		ret = vtd_config_set_str(&im->cfg, "vtd.mode", val);
		if (ret) {
			log_err("iommu", "vtd.mode=%s ignored (legacy, scalable or auto)",
				val);
		}
	}
	for (c = 0; c < VTD_DEADLINE_COUNT; c++) {
		fmt_snprintf(key, sizeof(key), "vtd.deadline.%s",
			     vtd_deadline_name((enum vtd_deadline_class)c));
		if (cmdline_get(cmdline, key, val, sizeof(val))) {
			continue;
		}
		ret = fmt_parse_u64(val, &us);
		if (ret == 0) {
			ret = vtd_config_set(&im->cfg, key, us);
		}
		if (ret) {
			log_err("iommu", "%s=%s ignored: %s", key, val,
				errno_name(ret));
		}
	}
	configure_ats(im, cmdline);
}

/*
 * Whether the function at sid still answers: no device-TLB invalidation
 * is sent to one that does not (it could never complete).
 */
static bool pci_present(void *ctx, uint16_t segment, uint16_t sid)
{
	return hw_pci_read16(segment, (uint8_t)(sid >> 8), (uint8_t)sid,
			     PCI_VENDOR_ID) != PCI_VENDOR_ID_NONE;
}

static int set_owner(struct iommu *im, const struct pci_dev *d,
		     enum iommu_owner_kind kind, const char *name);

struct quarantine_ctx {
	struct iommu *im;
	struct vtd_unit *u;
};

int iommu_quarantine(struct iommu *im, struct pci_dev *d, const char *why)
{
	const char *name;
	int ret;

	if (iommu_owner_of(im, d, &name) == IOMMU_OWNER_QUARANTINE) {
		return 0;
	}
	log_err("iommu", PCI_BDF_FMT ": quarantined (was %s's): %s; its group stays blocked until reset",
		PCI_BDF_ARGS(d->seg, d->bus, d->devfn), name, why);
	ret = iommu_block_group(im, d);
	if (ret == 0) {
		ret = set_owner(im, d, IOMMU_OWNER_QUARANTINE, "quarantine");
	}
	return ret;
}

/* A device the driver quarantined: its whole group stays blocked. */
static void quarantine_sid(void *ctx, uint16_t sid)
{
	struct quarantine_ctx *q = ctx;
	struct pci_dev *d;

	d = pci_get_dev(q->im->pci, q->u->segment, (uint8_t)(sid >> 8),
			(uint8_t)sid);
	if (d) {
		iommu_quarantine(q->im, d, "its invalidations failed");
		pci_dev_put(d);
	}
}

void iommu_poll(struct iommu *im)
{
	struct quarantine_ctx q = { im, NULL };
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		q.u = im->units[i];
		if (q.u) {
			vtd_qi_poll(q.u);
			vtd_for_each_quarantined(q.u, quarantine_sid, &q);
		}
	}
}

void iommu_init(struct iommu *im, struct dmar *dmar,
		const struct pci_host *pci)
{
	const struct pci_dev *d;
	const char *why;
	unsigned int i;
	int ret;

	im->dmar = dmar;
	im->pci = pci;
	/* Remapped interrupts name x2APIC ids only if the CPU uses them and
	 * firmware does not opt out (VT-d spec 8.1, X2APIC_OPT_OUT). */
	im->cfg.x2apic = arch_apic_x2apic();
	im->cfg.x2apic_opt_out = dmar->flags & DMAR_FLAG_X2APIC_OPT_OUT;
	im->unit_count = dmar->unit_count;
	for (i = 0; i < dmar->unit_count; i++) {
		const struct dmar_unit *du = &dmar->units[i];
		struct vtd_unit *u;

		if (!dmar_unit_usable(dmar, i)) {
			continue;
		}
		u = hw_zalloc(sizeof(*u));
		if (!u) {
			reject(dmar, i, "driver", -ENOMEM);
			continue;
		}
		ret = vtd_unit_init(u, i, du->segment, du->base, &im->cfg);
		if (ret) {
			hw_free(u);
			reject(dmar, i, "driver refused it", ret);
			continue;
		}
		vtd_unit_set_presence(u, pci_present, NULL);
		im->units[i] = u;
	}
	/* RMRR identity maps exist before the first instant of translation. */
	rmrr_setup(im, dmar, pci);
	for (i = 0; i < dmar->unit_count; i++) {
		struct vtd_unit *u = im->units[i];

		if (!u) {
			continue;
		}
		ret = vtd_unit_enable(u);
		if (ret) {
			/* Memory the hardware may still reach stays allocated. */
			vtd_unit_disable(u);
			vtd_unit_fini(u);
			im->units[i] = NULL;
			reject(dmar, i, "enable failed", ret);
			continue;
		}
		log_info("iommu", "unit %u at 0x%llx: translation on, default deny",
			 i, (unsigned long long)u->reg_base);
	}
	pci_for_each_dev(pci, d) {
		if (!iommu_unit_for(im, d, &why)) {
			log_warn("iommu", PCI_BDF_FMT ": no DMA through moat: %s",
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		}
	}
	ret = domain_create(im, &im->blocking);
	if (ret && ret != -ENODEV) {
		log_err("iommu", "no blocking domain: %s; claims will fail",
			errno_name(ret));
	}
}

struct vtd_domain *iommu_domain(struct iommu *im, unsigned int id)
{
	return id > 0 && id < IOMMU_DOMAINS_MAX ? im->domains[id] : NULL;
}

int iommu_domain_new(struct iommu *im, unsigned int *id)
{
	unsigned int i;

	for (i = 1; i < IOMMU_DOMAINS_MAX && im->domains[i]; i++) {
	}
	if (i == IOMMU_DOMAINS_MAX) {
		return -ENOSPC;
	}
	*id = i;
	return domain_create(im, &im->domains[i]);
}

int iommu_domain_del(struct iommu *im, unsigned int id)
{
	struct vtd_domain *dom = iommu_domain(im, id);
	int ret;

	if (!dom) {
		return -ENOENT;
	}
	ret = vtd_domain_destroy(dom);
	if (ret == 0) {
		im->domains[id] = NULL;
	}
	return ret;
}

static struct iommu_owner *owner_slot(struct iommu *im, unsigned int group)
{
	unsigned int i;

	for (i = 0; i < IOMMU_OWNERS_MAX; i++) {
		if (im->owners[i].group == group) {
			return &im->owners[i];
		}
	}
	return NULL;
}

enum iommu_owner_kind iommu_owner_of(struct iommu *im, const struct pci_dev *d,
				     const char **name)
{
	const struct pci_group *g = pci_group_of(d);
	const struct iommu_owner *o = g ? owner_slot(im, g->id) : NULL;

	*name = o ? o->name : "kernel";
	return o ? o->kind : IOMMU_OWNER_KERNEL;
}

/* Whether owner (NULL: the kernel) may act on d's group. */
static int check_owner(struct iommu *im, const struct pci_dev *d,
		       const char *owner)
{
	const char *name;
	enum iommu_owner_kind kind = iommu_owner_of(im, d, &name);

	if (kind == IOMMU_OWNER_QUARANTINE) {
		return -EPERM;
	}
	if (kind == IOMMU_OWNER_KERNEL) {
		return owner ? -EBUSY : 0;
	}
	return owner && strcmp(owner, name) == 0 ? 0 : -EBUSY;
}

int iommu_attach(struct iommu *im, struct pci_dev *d, unsigned int domain,
		 const char *owner)
{
	struct vtd_domain *dom = iommu_domain(im, domain);
	int ret;

	if (!dom) {
		return -ENOENT;
	}
	ret = check_owner(im, d, owner);
	if (ret) {
		return ret;
	}
	return move(im, d, dom, domain);
}

int iommu_detach(struct iommu *im, struct pci_dev *d)
{
	struct iommu_attachment *a = find_att(im, d);
	int ret = check_owner(im, d, NULL);

	if (ret) {
		return ret;
	}
	if (!a) {
		return -ENOENT;
	}
	return detach_record(im, a, false);
}

int iommu_block_group(struct iommu *im, struct pci_dev *d)
{
	struct pci_group *g = pci_group_of(d);
	struct pci_dev *m;
	int ret;

	if (!im->blocking) {
		return -ENODEV;
	}
	if (!g) {
		return move(im, d, im->blocking, 0);
	}
	pci_group_for_each_dev(g, m) {
		ret = move(im, m, im->blocking, 0);
		if (ret) {
			return ret;
		}
	}
	return 0;
}

static bool group_has_rmrr(struct iommu *im, struct pci_dev *d)
{
	struct pci_group *g = pci_group_of(d);
	struct pci_dev *m;
	unsigned int r;

	for (m = g ? g->devs : d; m; m = g ? m->group_next : NULL) {
		for (r = 0; r < im->dmar->rmrr_count; r++) {
			if (dmar_rmrr_usable(im->dmar, r) &&
			    dmar_rmrr_covers(im->dmar, r, m->seg, m->bus,
					     m->devfn)) {
				return true;
			}
		}
	}
	return false;
}

static int set_owner(struct iommu *im, const struct pci_dev *d,
		     enum iommu_owner_kind kind, const char *name)
{
	const struct pci_group *g = pci_group_of(d);
	struct iommu_owner *o;

	if (!g) {
		return -ENODEV;
	}
	o = owner_slot(im, g->id);
	if (kind == IOMMU_OWNER_KERNEL) {
		if (o) {
			o->group = 0;
		}
		return 0;
	}
	if (!o) {
		o = owner_slot(im, 0);
	}
	if (!o) {
		return -ENOSPC;
	}
	o->group = g->id;
	o->kind = kind;
	fmt_snprintf(o->name, sizeof(o->name), "%s", name);
	return 0;
}

int iommu_claim(struct iommu *im, struct pci_dev *d, const char *owner,
		bool rmrr_override)
{
	int ret;

	if (!owner || !*owner || strlen(owner) >= IOMMU_OWNER_NAME_MAX ||
	    strcmp(owner, "kernel") == 0 || strcmp(owner, "quarantine") == 0) {
		return -EINVAL;
	}
	ret = check_owner(im, d, NULL);
	if (ret == -EBUSY && check_owner(im, d, owner) == 0) {
		return 0; /* already ours */
	}
	if (ret) {
		return ret;
	}
	if (group_has_rmrr(im, d)) {
		if (!rmrr_override) {
			return -EPERM;
		}
		log_warn("iommu", PCI_BDF_FMT ": claimed for %s despite an RMRR: firmware DMA to it is now blocked",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), owner);
	}
	ret = iommu_block_group(im, d);
	if (ret) {
		return ret;
	}
	return set_owner(im, d, IOMMU_OWNER_NAMED, owner);
}

int iommu_unquarantine(struct iommu *im, struct pci_dev *d)
{
	struct pci_group *g = pci_group_of(d);
	struct pci_dev *m;
	struct vtd_unit *u;
	const char *why;

	if (iommu_owner_of(im, d, &why) != IOMMU_OWNER_QUARANTINE) {
		return -EINVAL;
	}
	for (m = g ? g->devs : d; m; m = g ? m->group_next : NULL) {
		u = iommu_unit_for(im, m, &why);
		if (u) {
			vtd_device_reset_done(u, (uint16_t)(m->bus << 8 | m->devfn));
		}
	}
	return set_owner(im, d, IOMMU_OWNER_KERNEL, NULL);
}

int iommu_release(struct iommu *im, struct pci_dev *d)
{
	const char *name;
	int ret;

	if (iommu_owner_of(im, d, &name) != IOMMU_OWNER_NAMED) {
		return -EINVAL;
	}
	ret = iommu_block_group(im, d);
	if (ret) {
		return ret;
	}
	return set_owner(im, d, IOMMU_OWNER_KERNEL, NULL);
}

void iommu_device_removing(struct iommu *im, struct pci_dev *d)
{
	struct iommu_attachment *a = find_att(im, d);
	int ret;

	if (!a) {
		return;
	}
	/* Blocked while it still answers; nothing in flight reaches memory. */
	ret = im->blocking ? move(im, d, im->blocking, 0) : detach_record(im, a, false);
	if (ret) {
		log_err("iommu", PCI_BDF_FMT ": DMA not blocked before removal: %s",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn), errno_name(ret));
	}
}

void iommu_device_removed(struct iommu *im, struct pci_dev *d)
{
	struct iommu_attachment *a = find_att(im, d);
	int ret;

	if (!a) {
		return;
	}
	/*
	 * Its context entries go back to not present, so a device plugged in
	 * at the same address later starts from default deny; the IOMMU is
	 * touched, the vanished device never is.
	 */
	ret = detach_record(im, a, true);
	if (ret) {
		log_err("iommu", PCI_BDF_FMT ": requester ids of a removed device not cleared: %s",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn), errno_name(ret));
	}
}

void iommu_for_each_ats(struct iommu *im, iommu_att_fn fn, void *ctx)
{
	unsigned int i;

	for (i = 0; i < IOMMU_ATTACH_MAX; i++) {
		if (im->att[i].dev && im->att[i].ats_qdepth) {
			fn(ctx, &im->att[i]);
		}
	}
}

void iommu_device_added(struct iommu *im, struct pci_dev *d)
{
	const char *name;
	struct vtd_unit *u = iommu_unit_for(im, d, &name);
	int ret;

	/* A new device at an old address starts with no failures held against it. */
	if (u) {
		vtd_device_reset_done(u, (uint16_t)(d->bus << 8 | d->devfn));
	}
	if (iommu_owner_of(im, d, &name) == IOMMU_OWNER_KERNEL) {
		return;
	}
	ret = iommu_block_group(im, d);
	if (ret) {
		log_err("iommu", PCI_BDF_FMT ": new member of %s's group not blocked: %s",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn), name,
			errno_name(ret));
	}
}
