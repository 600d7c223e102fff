#include "kernel/iommu.h"

#include "drivers/hw.h"
#include "kernel/cmdline.h"
#include "kernel/log.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/string.h"

/* Widest IOVA space a domain gets: 4-level tables, enough for any guest here. */
#define IOMMU_ADDR_WIDTH_MAX 48u

static void reject(struct dmar *dmar, unsigned int i, const char *what, int err)
{
	char why[64];

	fmt_snprintf(why, sizeof(why), "%s: %s", what, errno_name(err));
	dmar_unit_reject(dmar, i, why);
	log_err("iommu", "unit %u rejected: %s", i, why);
}

struct vtd_unit *iommu_unit_for(struct iommu *im, const struct dmar *dmar,
				const struct pci_dev *d, const char **why)
{
	int i = dmar_unit_for_device(dmar, d->seg, d->bus, d->devfn);

	if (i < 0) {
		*why = i == -EEXIST ? "claimed by two DMAR units" :
				      "no DMAR unit covers it";
		return NULL;
	}
	if (!dmar_unit_usable(dmar, (unsigned int)i) || !im->units[i]) {
		*why = "its DMAR unit is rejected";
		return NULL;
	}
	return im->units[i];
}

static struct vtd_domain *att_domain(struct iommu *im,
				     const struct iommu_attachment *a)
{
	return a->domain ? im->domains[a->domain] : im->rmrr[a->unit];
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

/*
 * Records d in domain (0: the unit's RMRR domain) and attaches those of its
 * requester ids that no other device already attached there.  A requester
 * id held by a device in another domain makes the attach fail: one id
 * cannot reach two address spaces.
 */
static int attach_record(struct iommu *im, struct vtd_unit *u,
			 const struct pci_dev *d, unsigned int domain)
{
	struct iommu_attachment *a = NULL;
	uint16_t fresh[IOMMU_SIDS_MAX];
	unsigned int i, n = 0;
	int ret;

	for (i = 0; i < IOMMU_ATTACH_MAX && !a; i++) {
		if (!im->att[i].dev) {
			a = &im->att[i];
		}
	}
	if (!a) {
		return -ENOSPC;
	}
	a->unit = u->index;
	a->domain = domain;
	a->sid_count = pci_dma_aliases(d, a->sids, IOMMU_SIDS_MAX);
	for (i = 0; i < a->sid_count; i++) {
		const struct iommu_attachment *h =
			sid_holder(im, a, u->index, a->sids[i]);

		if (h && h->domain != domain) {
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
	ret = n ? vtd_attach(att_domain(im, a), u, fresh, n) : 0;
	if (ret == 0) {
		a->dev = d;
	}
	return ret;
}

static unsigned int addr_width(const struct vtd_unit *u)
{
	unsigned int w = vtd_cap_mgaw(u->cap);

	return w < IOMMU_ADDR_WIDTH_MAX ? w : IOMMU_ADDR_WIDTH_MAX;
}

/* Identity maps for every usable RMRR, each in its unit's RMRR domain. */
static void rmrr_setup(struct iommu *im, struct dmar *dmar,
		       const struct pci_host *pci)
{
	const struct pci_dev *d;
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
			u = iommu_unit_for(im, dmar, d, &why);
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
							attach_record(im, u, d, 0);
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

void iommu_configure(struct iommu *im, const char *cmdline)
{
	unsigned long long us;
	char key[32], val[24];
	unsigned int c;
	int ret;

	vtd_config_default(&im->cfg);
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

void iommu_poll(struct iommu *im)
{
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			vtd_qi_poll(im->units[i]);
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
		if (!iommu_unit_for(im, dmar, d, &why)) {
			log_warn("iommu", PCI_BDF_FMT ": no DMA through moat: %s",
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		}
	}
}

struct vtd_domain *iommu_domain(struct iommu *im, unsigned int id)
{
	return id > 0 && id < IOMMU_DOMAINS_MAX ? im->domains[id] : NULL;
}

/* A domain spanning every live unit, with their capabilities intersected. */
int iommu_domain_new(struct iommu *im, unsigned int *id)
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
	for (i = 1; i < IOMMU_DOMAINS_MAX && im->domains[i]; i++) {
	}
	if (i == IOMMU_DOMAINS_MAX) {
		return -ENOSPC;
	}
	*id = i;
	return vtd_domain_create(units, n, width, &im->domains[i]);
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

int iommu_attach(struct iommu *im, const struct dmar *dmar,
		 const struct pci_dev *d, unsigned int domain)
{
	struct iommu_attachment *a = find_att(im, d);
	struct vtd_domain *dom = iommu_domain(im, domain);
	struct vtd_unit *u;
	const char *why;
	int ret;

	if (!dom) {
		return -ENOENT;
	}
	u = iommu_unit_for(im, dmar, d, &why);
	if (!u) {
		log_warn("iommu", PCI_BDF_FMT ": cannot attach: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		return -ENODEV;
	}
	if (a && a->domain == domain) {
		return 0;
	}
	/* Detach first: a present context entry is never rewritten (inv. 5). */
	if (a) {
		ret = iommu_detach(im, d);
		if (ret) {
			return ret;
		}
	}
	return attach_record(im, u, d, domain);
}

int iommu_detach(struct iommu *im, const struct pci_dev *d)
{
	struct iommu_attachment *a = find_att(im, d);
	uint16_t gone[IOMMU_SIDS_MAX];
	unsigned int i, n = 0;
	int ret = 0;

	if (!a) {
		return -ENOENT;
	}
	/* Requester ids another device of the domain still uses stay. */
	for (i = 0; i < a->sid_count; i++) {
		if (!sid_holder(im, a, a->unit, a->sids[i])) {
			gone[n++] = a->sids[i];
		}
	}
	if (n) {
		ret = vtd_detach(att_domain(im, a), im->units[a->unit], gone, n);
	}
	if (ret == 0) {
		a->dev = NULL;
	}
	return ret;
}
