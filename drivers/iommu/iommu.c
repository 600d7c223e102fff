#include "drivers/iommu/iommu.h"

#include <stddef.h>

#include "drivers/hw.h"
#include "drivers/pci/ats.h"
#include "drivers/pci/reset.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/rid.h"
#include "lib/string.h"

/*
 * Where a group's DMA may go (struct iommu_grp.dma_from): proven nowhere,
 * anywhere (never proven quiet), or to the owner with that serial.
 */
#define DMA_QUIET   UINT64_C(0)
#define DMA_KERNEL  UINT64_C(1)
#define DMA_UNKNOWN UINT64_MAX

/* Each wait of a reset or quiesce, on top of the specified delays. */
#define IOMMU_QUIESCE_TIMEOUT_NS UINT64_C(1000000000)
#define HASH_MIN		 16U
#define ID_WORDS		 ((IOMMU_DOMAIN_ID_MAX + 1) / 32)
/* Polls fini waits for the hardware to confirm pending teardown. */
#define FINI_POLLS 100000U

#define entry_of(n, type) ((type *)((char *)(n)-offsetof(type, node)))

struct iommu_domain {
	struct iommu_hnode node; /* key: id; internal domains are not listed */
	struct iommu_be_domain *be;
	struct iommu_owner *owner; /* NULL: the console's, or internal */
	unsigned int id;	   /* 0: internal (blocking, RMRR) */
	unsigned int records; /* attachments, PASIDs and nested domains in it */
	struct iommu_domain *parent; /* a nested domain's (referenced) */
	bool dying; /* destruction failed: retried by iommu_poll() */
	/* An unmap failed: what it unmapped may be cached until a flush. */
	bool unflushed;
	struct iommu_domain *dying_next;
};

struct iommu_grp {
	struct iommu_hnode node; /* key: PCI group id */
	enum iommu_owner_kind kind;
	struct iommu_owner *owner; /* IOMMU_OWNER_NAMED only */
	unsigned int holds;	   /* guests' holds on its members */
	uint64_t dma_from;
	const char *method; /* how it was last proven quiet */
	uint64_t seen;	    /* sweep generation its PCI group was last seen */
	unsigned int
		pending; /* members' detaches the hardware has not confirmed */
	bool releasing;	 /* back to the kernel once pending reaches 0 */
	bool dead;	 /* its PCI group is gone; freed with its last hold */
	/* Being proven quiet with housekeeping let in: in transit, kept. */
	unsigned int busy;
};

/* A PASID of an attached device, translating through dom. */
struct iommu_pasid {
	struct iommu_pasid *next;
	struct iommu_domain *dom;
	uint32_t pasid;
};

/* One device object attached to one domain, holding a reference. */
struct iommu_att {
	struct iommu_hnode node; /* key: the device object */
	struct iommu_att *retry_next;
	struct pci_dev *dev;
	struct iommu_domain *dom;
	unsigned int unit;
	unsigned int gid; /* its group when attached */
	unsigned int sid_count;
	rid_t sids[IOMMU_SIDS_MAX];
	struct iommu_att *sid_next[IOMMU_SIDS_MAX]; /* other holders */
	unsigned int ats_qdepth;    /* ATS on with this depth; 0: off */
	bool retrying;		    /* its detach waits on the hardware */
	struct iommu_pasid *pasids; /* go before its requester id does */
	bool blocked; /* requester ids detached, PASIDs not all yet */
};

/* A requester id attached through a unit, and the records that use it. */
struct iommu_sid {
	struct iommu_hnode node; /* key: unit << 16 | sid */
	struct iommu_domain *dom;
	struct iommu_att *atts;
	bool releasing; /* a detach of it failed: nobody joins until done */
};

static struct iommu_grp *grp_get(struct iommu *im, unsigned int gid);
static void grp_confirmed(struct iommu *im, unsigned int gid);

/* ---- hash tables ---- */

static void hold_faults(struct iommu *im);

static unsigned int hash_slot(unsigned int size, uint64_t key)
{
	key ^= key >> 33;
	key *= UINT64_C(0xff51afd7ed558ccd);
	key ^= key >> 33;
	return (unsigned int)key & (size - 1);
}

static struct iommu_hnode *hash_find(const struct iommu_hash *h, uint64_t key)
{
	struct iommu_hnode *n;

	if (!h->size) {
		return NULL;
	}
	for (n = h->buckets[hash_slot(h->size, key)]; n; n = n->next) {
		if (n->key == key) {
			return n;
		}
	}
	return NULL;
}

/* Twice the buckets; on no memory the chains just grow longer. */
static void hash_grow(struct iommu_hash *h)
{
	unsigned int size = h->size ? h->size * 2 : HASH_MIN, i;
	struct iommu_hnode **b = hw_zalloc(size * sizeof(*b)), *n, *next;

	if (!b) {
		return;
	}
	for (i = 0; i < h->size; i++) {
		for (n = h->buckets[i]; n; n = next) {
			next = n->next;
			n->next = b[hash_slot(size, n->key)];
			b[hash_slot(size, n->key)] = n;
		}
	}
	hw_free(h->buckets);
	h->buckets = b;
	h->size = size;
}

static int hash_add(struct iommu_hash *h, struct iommu_hnode *n)
{
	unsigned int s;

	if (h->count >= h->size) {
		hash_grow(h);
	}
	if (!h->size) {
		return -ENOMEM;
	}
	s = hash_slot(h->size, n->key);
	n->next = h->buckets[s];
	h->buckets[s] = n;
	h->count++;
	return 0;
}

static void hash_del(struct iommu_hash *h, struct iommu_hnode *n)
{
	struct iommu_hnode **p = &h->buckets[hash_slot(h->size, n->key)];

	while (*p != n) {
		p = &(*p)->next;
	}
	*p = n->next;
	h->count--;
}

/* Any entry, to empty a table one by one; NULL when empty. */
static struct iommu_hnode *hash_any(const struct iommu_hash *h)
{
	unsigned int i;

	for (i = 0; h->count && i < h->size; i++) {
		if (h->buckets[i]) {
			return h->buckets[i];
		}
	}
	return NULL;
}

static void hash_free(struct iommu_hash *h)
{
	hw_free(h->buckets);
	h->buckets = NULL;
	h->size = 0;
	h->count = 0;
}

/* ---- units ---- */

/* The index of the live unit translating d's DMA, or -ENODEV (why). */
static int unit_index(struct iommu *im, const struct pci_dev *d,
		      const char **why)
{
	int i;

	if (!im->dmar) {
		*why = "no usable DMAR table";
		return -ENODEV;
	}
	i = dmar_unit_for_device(im->dmar, d->seg, d->bus, d->devfn);
	if (i < 0) {
		*why = i == -EEXIST ? "claimed by two DMAR units"
				    : "no DMAR unit covers it";
		return -ENODEV;
	}
	if ((unsigned int)i >= im->unit_count || !im->units[i]) {
		*why = "its DMAR unit is rejected";
		return -ENODEV;
	}
	return i;
}

struct iommu_be_unit *iommu_unit_for(struct iommu *im, const struct pci_dev *d,
				     const char **why)
{
	int i = unit_index(im, d, why);

	return i < 0 ? NULL : im->units[i];
}

/* ---- requester ids and attachment records ---- */

static uint64_t sid_key(unsigned int unit, rid_t sid)
{
	return (uint64_t)unit << 16 | rid_val(sid);
}

static struct iommu_sid *sid_find(const struct iommu *im, unsigned int unit,
				  rid_t sid)
{
	struct iommu_hnode *n = hash_find(&im->sids, sid_key(unit, sid));

	return n ? entry_of(n, struct iommu_sid) : NULL;
}

static struct iommu_att *att_find(const struct iommu *im,
				  const struct pci_dev *d)
{
	struct iommu_hnode *n = hash_find(&im->atts, (uintptr_t)d);

	return n ? entry_of(n, struct iommu_att) : NULL;
}

static struct iommu_grp *grp_find(const struct iommu *im, unsigned int gid)
{
	struct iommu_hnode *n = hash_find(&im->grps, gid);

	return n ? entry_of(n, struct iommu_grp) : NULL;
}

static unsigned int gid_of(const struct pci_dev *d)
{
	const struct pci_group *g = pci_group_of(d);

	return g ? g->id : 0;
}

/* The index of sid in a, or sid_count. */
static unsigned int sid_index(const struct iommu_att *a, rid_t sid)
{
	unsigned int i;

	for (i = 0; i < a->sid_count && !rid_eq(a->sids[i], sid); i++) {
	}
	return i;
}

/* a's requester ids that no other record uses: the ones to detach. */
static unsigned int sole_sids(const struct iommu *im, const struct iommu_att *a,
			      rid_t *ids)
{
	unsigned int i, n = 0;

	for (i = 0; i < a->sid_count; i++) {
		const struct iommu_sid *s = sid_find(im, a->unit, a->sids[i]);

		if (s && s->atts == a && !a->sid_next[i]) {
			ids[n++] = a->sids[i];
		}
	}
	return n;
}

/*
 * Takes a out of the holders of each of its requester ids (faults so far
 * charged to their owner first).
 */
static void sids_leave(struct iommu *im, struct iommu_att *a)
{
	unsigned int i;

	hold_faults(im);
	for (i = 0; i < a->sid_count; i++) {
		struct iommu_sid *s = sid_find(im, a->unit, a->sids[i]);
		struct iommu_att **p;

		if (!s) {
			continue;
		}
		for (p = &s->atts; *p && *p != a;
		     p = &(*p)->sid_next[sid_index(*p, a->sids[i])]) {
		}
		if (*p) {
			*p = a->sid_next[i];
		}
		a->sid_next[i] = NULL;
		if (!s->atts) {
			hash_del(&im->sids, &s->node);
			hw_free(s);
		}
	}
}

static void att_free(struct iommu *im, struct iommu_att *a)
{
	sids_leave(im, a);
	a->dom->records--;
	pci_dev_put(a->dev);
	hw_free(a);
}

static void ats_off(struct iommu *im, struct iommu_att *a)
{
	int ret;

	pci_ats_disable(a->dev);
	ret = iommu_be_devtlb_flush(im->units[a->unit], a->sids[0],
				    a->ats_qdepth);
	if (ret && ret != -ENODEV) {
		log_warn("iommu",
			 PCI_BDF_FMT
			 ": device-TLB not flushed after ATS off: %s",
			 PCI_BDF_ARGS(a->dev->seg, a->dev->bus, a->dev->devfn),
			 errno_name(ret));
	}
	a->ats_qdepth = 0;
}

/*
 * The hardware did not confirm the detach of ids: a keeps its reference
 * and waits on the retry list, its ids marked so that nobody joins them.
 */
static void att_retry(struct iommu *im, struct iommu_att *a, const rid_t *ids,
		      unsigned int n, int err)
{
	struct iommu_grp *r;
	unsigned int i;

	log_warn("iommu",
		 PCI_BDF_FMT
		 ": detach not confirmed (%s): blocked, retried until it is",
		 PCI_BDF_ARGS(a->dev->seg, a->dev->bus, a->dev->devfn),
		 errno_name(err));
	for (i = 0; i < n; i++) {
		sid_find(im, a->unit, ids[i])->releasing = true;
	}
	a->retrying = true;
	a->retry_next = im->retry;
	im->retry = a;
	r = grp_get(im, a->gid);
	if (r) {
		r->pending++;
	}
}

/* pasid of a's device out of the domain its record p names. */
static int pasid_drop(struct iommu *im, struct iommu_att *a,
		      struct iommu_pasid **pp)
{
	struct iommu_pasid *p = *pp;
	int err = iommu_be_pasid_detach(p->dom->be, im->units[a->unit],
					a->sids[0], p->pasid);

	if (err == 0) {
		*pp = p->next;
		p->dom->records--;
		hw_free(p);
	}
	return err;
}

/* Blocks a's PASIDs, as many as the hardware confirms. */
static int pasids_release(struct iommu *im, struct iommu_att *a)
{
	int ret = 0;

	while (a->pasids && ret == 0) {
		ret = pasid_drop(im, a, &a->pasids);
	}
	return ret;
}

/*
 * Detaches a and frees the record, in software at once: its PASIDs and
 * the requester ids no other record uses go back to not present (blocked). When
 * the hardware cannot confirm that now, the record waits on the retry list and
 * iommu_poll() finishes the job.  gone: the device is never touched nor
 * waited on.
 */
static void att_release(struct iommu *im, struct iommu_att *a, bool gone)
{
	struct iommu_be_unit *u = im->units[a->unit];
	rid_t ids[IOMMU_SIDS_MAX];
	unsigned int i, n;
	int ret, err;

	if (gone) {
		for (i = 0; i < a->sid_count; i++) {
			iommu_be_device_gone(u, a->sids[i]);
		}
	}
	err = pasids_release(im, a);
	n = sole_sids(im, a, ids);
	ret = n ? iommu_be_detach(a->dom->be, u, ids, n) : 0;
	a->blocked = ret == 0;
	ret = ret ? ret : err;
	if (a->ats_qdepth && !gone && !pci_dev_is_gone(a->dev)) {
		ats_off(im, a);
	}
	hash_del(&im->atts, &a->node);
	if (ret) {
		att_retry(im, a, ids, n, ret);
		return;
	}
	att_free(im, a);
}

/*
 * One more attempt for each pending detach.  Once the detach of a gone
 * device is confirmed, whatever is plugged in at its address now starts
 * with no failure of its predecessor held against it.
 */
static void retry_detaches(struct iommu *im)
{
	struct iommu_att **p = &im->retry, *a;
	rid_t ids[IOMMU_SIDS_MAX];
	unsigned int i, n;

	while ((a = *p)) {
		struct iommu_be_unit *u = im->units[a->unit];

		/* A queue that is still late is not waited on again. */
		n = sole_sids(im, a, ids);
		if (pasids_release(im, a) ||
		    (n && !a->blocked &&
		     (iommu_be_unit_degraded(u) ||
		      iommu_be_detach(a->dom->be, u, ids, n)))) {
			p = &a->retry_next;
			continue;
		}
		*p = a->retry_next;
		log_info("iommu", PCI_BDF_FMT ": pending detach confirmed",
			 PCI_BDF_ARGS(a->dev->seg, a->dev->bus, a->dev->devfn));
		for (i = 0; i < n && pci_dev_is_gone(a->dev); i++) {
			iommu_be_device_reset(u, ids[i]);
		}
		grp_confirmed(im, a->gid);
		att_free(im, a);
	}
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
		set = i < dmar->atsr_count ? &dmar->atsrs[i]
					   : &dmar->satcs[i - dmar->atsr_count];
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
 * The ATS queue depth d gets in dom, or 0: off unless allow-listed,
 * covered by an ATSR or SATC, behind a unit with device-TLBs, with a
 * requester id of its own and an ATS capability.  Never when blocked.
 */
static unsigned int ats_depth(struct iommu *im, struct iommu_be_unit *u,
			      struct pci_dev *d, const struct iommu_domain *dom,
			      unsigned int sid_count)
{
	const char *why;
	int qdepth;

	if (dom == im->blocking || sid_count != 1 || !ats_allowed(im, d) ||
	    !ats_covered(im->dmar, d)) {
		return 0;
	}
	why = iommu_be_unit_no_ats(u);
	if (why) {
		log_info("iommu", PCI_BDF_FMT ": ATS off: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		return 0;
	}
	qdepth = pci_ats_queue_depth(d);
	return qdepth > 0 ? (unsigned int)qdepth : 0;
}

/*
 * A new record of d in dom: requester ids no record uses are attached,
 * the others (already in dom) are shared.  An attach the hardware did
 * not confirm may have left the ids attached: they are detached again
 * through the retry path, never forgotten.
 */
static int att_create(struct iommu *im, unsigned int unit, struct pci_dev *d,
		      struct iommu_domain *dom, const rid_t *sids,
		      unsigned int count)
{
	struct iommu_be_unit *u = im->units[unit];
	struct iommu_att *a = hw_zalloc(sizeof(*a));
	rid_t fresh[IOMMU_SIDS_MAX];
	unsigned int i, n = 0;
	int ret, err;

	if (!a) {
		return -ENOMEM;
	}
	a->node.key = (uintptr_t)d;
	a->dev = pci_dev_get(d);
	a->dom = dom;
	a->unit = unit;
	a->gid = gid_of(d);
	a->sid_count = count;
	memcpy(a->sids, sids, count * sizeof(*sids));
	dom->records++;
	for (i = 0; i < count; i++) {
		struct iommu_sid *s = sid_find(im, unit, sids[i]);

		if (s && (s->releasing || s->dom != dom)) {
			ret = -EBUSY;
			goto out_leave;
		}
		if (!s) {
			s = hw_zalloc(sizeof(*s));
			if (!s) {
				ret = -ENOMEM;
				goto out_leave;
			}
			s->node.key = sid_key(unit, sids[i]);
			s->dom = dom;
			if (hash_add(&im->sids, &s->node)) {
				hw_free(s);
				ret = -ENOMEM;
				goto out_leave;
			}
			fresh[n++] = sids[i];
		}
		a->sid_next[i] = s->atts;
		s->atts = a;
	}
	a->ats_qdepth = n == 1 ? ats_depth(im, u, d, dom, count) : 0;
	if (a->ats_qdepth) {
		ret = iommu_be_attach_ats(dom->be, u, fresh[0], a->ats_qdepth);
		if (ret == 0 && pci_ats_enable(d, 0) == 0) {
			log_info("iommu",
				 PCI_BDF_FMT ": ATS on (queue depth %u)",
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				 a->ats_qdepth);
		} else if (ret == 0) {
			ret = -EIO;
		}
	} else {
		ret = n ? iommu_be_attach(dom->be, u, fresh, n) : 0;
	}
	if (ret == 0) {
		ret = hash_add(&im->atts, &a->node);
		if (ret == 0) {
			return 0;
		}
	}
	/*
	 * Whatever the attach left behind is detached: -EINVAL says nothing
	 * was attached; a detach the hardware does not confirm is retried.
	 */
	err = n ? iommu_be_detach(dom->be, u, fresh, n) : 0;
	if (err && err != -EINVAL) {
		att_retry(im, a, fresh, n, err);
		return ret;
	}
	a->ats_qdepth = 0;
	att_free(im, a);
	return ret;

out_leave:
	sids_leave(im, a);
	dom->records--;
	pci_dev_put(a->dev);
	hw_free(a);
	return ret;
}

/* Whether d and m share a requester id (both behind one bridge). */
static bool shares_sid(const rid_t *sids, unsigned int n,
		       const struct pci_dev *m)
{
	rid_t ms[IOMMU_SIDS_MAX];
	unsigned int i, j, k = pci_dma_aliases(m, ms, IOMMU_SIDS_MAX);

	for (i = 0; i < n; i++) {
		for (j = 0; j < k; j++) {
			if (rid_eq(sids[i], ms[j])) {
				return true;
			}
		}
	}
	return false;
}

/*
 * d into dom.  A present entry is never rewritten: d leaves its old
 * domain first.  Members of d's group that share a requester id with it
 * cannot be kept apart from it and move along; an id held in another
 * domain by anyone else is refused (-EBUSY).
 */
static int move(struct iommu *im, struct pci_dev *d, struct iommu_domain *dom)
{
	struct iommu_att *a = att_find(im, d), *h;
	struct pci_group *g = pci_group_of(d);
	rid_t sids[IOMMU_SIDS_MAX];
	unsigned int i, n, gid = gid_of(d);
	struct pci_dev *m;
	const char *why;
	int unit, ret;

	if (pci_dev_is_gone(d)) {
		return -ENODEV;
	}
	unit = unit_index(im, d, &why);
	if (unit < 0) {
		log_warn("iommu", PCI_BDF_FMT ": cannot attach: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		return -ENODEV;
	}
	if (a && a->dom == dom) {
		return 0;
	}
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	for (i = 0; i < n; i++) {
		struct iommu_sid *s = sid_find(im, (unsigned int)unit, sids[i]);

		/* Only iommu_poll() retries: group records stay put here. */
		if (s && s->releasing) {
			log_warn("iommu",
				 PCI_BDF_FMT ": requester id " RID_FMT
					     " is still being released",
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				 RID_ARGS(sids[i]));
			return -EBUSY;
		}
		for (h = s ? s->atts : NULL; h;
		     h = h->sid_next[sid_index(h, sids[i])]) {
			if (h != a && h->dom != dom && h->gid != gid) {
				log_warn("iommu",
					 PCI_BDF_FMT
					 ": requester id " RID_FMT
					 " is in use by " PCI_BDF_FMT,
					 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
					 RID_ARGS(sids[i]),
					 PCI_BDF_ARGS(h->dev->seg, h->dev->bus,
						      h->dev->devfn));
				return -EBUSY;
			}
		}
	}
	if (a) {
		att_release(im, a, false);
	}
	/* Members sharing an id leave their domains, then join d in dom. */
	for (m = g ? g->devs : NULL; m; m = m->group_next) {
		h = m != d ? att_find(im, m) : NULL;
		if (h && h->dom != dom && shares_sid(sids, n, m)) {
			att_release(im, h, false);
		}
	}
	ret = att_create(im, (unsigned int)unit, d, dom, sids, n);
	for (m = g ? g->devs : NULL; ret == 0 && m; m = m->group_next) {
		if (m != d && !att_find(im, m) && shares_sid(sids, n, m)) {
			rid_t ms[IOMMU_SIDS_MAX];
			unsigned int k = pci_dma_aliases(m, ms, IOMMU_SIDS_MAX);

			ret = att_create(im, (unsigned int)unit, m, dom, ms, k);
		}
	}
	return ret;
}

/*
 * Members of d's group attached under a requester id d also uses: they
 * cannot be kept apart from d, so they are detached with it.
 */
static void release_sharers(struct iommu *im, struct pci_dev *d)
{
	struct pci_group *g = pci_group_of(d);
	rid_t sids[IOMMU_SIDS_MAX];
	unsigned int n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	struct iommu_att *h;
	struct pci_dev *m;

	for (m = g ? g->devs : NULL; m; m = m->group_next) {
		h = m != d ? att_find(im, m) : NULL;
		if (h && shares_sid(sids, n, m)) {
			att_release(im, h, false);
		}
	}
}

/*
 * Requester ids of d still translating through a previous life's tables
 * (kexec) and used by no record: blocked and dropped.
 */
static void release_inherited(struct iommu *im, const struct pci_dev *d)
{
	rid_t sids[IOMMU_SIDS_MAX], ids[IOMMU_SIDS_MAX];
	unsigned int i, n, k = 0;
	const char *why;
	int unit = unit_index(im, d, &why), ret;

	if (unit < 0 || !im->blocking) {
		return;
	}
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	for (i = 0; i < n; i++) {
		if (iommu_be_inherited(im->units[unit], sids[i]) &&
		    !sid_find(im, (unsigned int)unit, sids[i])) {
			ids[k++] = sids[i];
		}
	}
	ret = k ? iommu_be_detach(im->blocking->be, im->units[unit], ids, k)
		: 0;
	if (ret) {
		log_err("iommu",
			PCI_BDF_FMT ": inherited translation not dropped: %s",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			errno_name(ret));
	} else if (k) {
		log_info("iommu", PCI_BDF_FMT ": inherited translation dropped",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
	}
}

/* d's DMA blocked: in the blocking domain, or not present at all. */
static void block_dev(struct iommu *im, struct pci_dev *d)
{
	struct iommu_att *a;
	int ret = im->blocking ? move(im, d, im->blocking) : -ENODEV;

	if (ret == 0 || pci_dev_is_gone(d)) {
		return;
	}
	/* A quarantined device cannot join: not present blocks it as well. */
	a = att_find(im, d);
	if (a) {
		att_release(im, a, false);
	}
	release_inherited(im, d);
}

/*
 * Bus mastering off: d may issue no new request.  A bridge's bit gates
 * what it forwards for the functions below it, whose own bits count;
 * bridges are left alone, here and when proving a group quiet.
 */
static void bus_master_off(struct pci_dev *d)
{
	uint16_t cmd;

	if (pci_dev_is_gone(d) || pci_is_bridge(d)) {
		return;
	}
	cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
	if (cmd != 0xffff && (cmd & PCI_COMMAND_MASTER)) {
		hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
			       (uint16_t)(cmd & ~PCI_COMMAND_MASTER));
	}
}

/* Every member of d's group blocked, bus mastering off. */
static void block_group(struct iommu *im, struct pci_dev *d)
{
	struct pci_group *g = pci_group_of(d);
	struct pci_dev *m;

	if (!g) {
		block_dev(im, d);
		bus_master_off(d);
		return;
	}
	pci_group_for_each_dev(g, m)
	{
		block_dev(im, m);
		bus_master_off(m);
	}
}

/* ---- groups and owners ---- */

/* The yield a settle wait may use (docs/design.md, "Waits that yield"). */
static const struct pci_yield *yield_of(const struct iommu *im)
{
	return im->yield.fn ? &im->yield : NULL;
}

/*
 * d's DMA over (drivers/pci/reset.h): the method used, or what is
 * missing for any method to apply.  y: what runs while it waits.
 */
static int quiesce(struct iommu *im, struct pci_dev *d,
		   const struct pci_yield *y, const char **how)
{
	enum pci_quiesce_method used;
	int ret =
		pci_dev_quiesce(im->pci, d, IOMMU_QUIESCE_TIMEOUT_NS, y, &used);

	*how = ret == 0 ? pci_quiesce_method_name(used)
	       : ret == -ENOTSUP
		       ? "no FLR, PM reset, bus reset of its own, quiesce hook or Transactions Pending"
		       : errno_name(ret);
	return ret;
}

static struct iommu_grp *grp_get(struct iommu *im, unsigned int gid)
{
	struct iommu_grp *r = grp_find(im, gid);

	if (r || !gid) {
		return r;
	}
	r = hw_zalloc(sizeof(*r));
	if (!r) {
		return NULL;
	}
	r->node.key = gid;
	r->kind = IOMMU_OWNER_KERNEL;
	r->dma_from = DMA_UNKNOWN;
	if (hash_add(&im->grps, &r->node)) {
		hw_free(r);
		return NULL;
	}
	return r;
}

static void owner_put(struct iommu *im, struct iommu_owner *o)
{
	struct iommu_owner **p;

	if (o->guest || o->groups) {
		return;
	}
	for (p = &im->owners; *p != o; p = &(*p)->next) {
	}
	*p = o->next;
	hw_free(o);
}

/* Changes a group's owner; the caller blocked it. */
static void grp_set_owner(struct iommu *im, struct iommu_grp *r,
			  enum iommu_owner_kind kind, struct iommu_owner *o)
{
	struct iommu_owner *old = r->owner;

	hold_faults(im);
	if (old) {
		old->groups--;
	}
	r->kind = kind;
	r->owner = kind == IOMMU_OWNER_NAMED ? o : NULL;
	if (r->owner) {
		r->owner->groups++;
	}
	if (old) {
		owner_put(im, old);
	}
}

/* Drops a record that remembers nothing. */
static void grp_put(struct iommu *im, struct iommu_grp *r)
{
	if (r->holds || r->pending || r->busy ||
	    (!r->dead &&
	     (r->kind != IOMMU_OWNER_KERNEL || r->dma_from != DMA_UNKNOWN))) {
		return;
	}
	grp_set_owner(im, r, IOMMU_OWNER_KERNEL, NULL);
	hash_del(&im->grps, &r->node);
	hw_free(r);
}

enum iommu_owner_kind iommu_owner_of(struct iommu *im, const struct pci_dev *d,
				     const char **name)
{
	const struct iommu_grp *r = grp_find(im, gid_of(d));

	*name = !r || r->kind == IOMMU_OWNER_KERNEL ? "kernel"
		: r->kind == IOMMU_OWNER_QUARANTINE ? "quarantine"
						    : r->owner->name;
	return r ? r->kind : IOMMU_OWNER_KERNEL;
}

static struct iommu_owner *owner_find(struct iommu *im, const char *name)
{
	struct iommu_owner *o;

	for (o = im->owners; o && strcmp(o->name, name) != 0; o = o->next) {
	}
	return o;
}

static int owner_make(struct iommu *im, const char *name,
		      struct iommu_owner **out)
{
	struct iommu_owner *o;

	if (!name || !*name || strlen(name) >= IOMMU_OWNER_NAME_MAX ||
	    strcmp(name, "kernel") == 0 || strcmp(name, "quarantine") == 0) {
		return -EINVAL;
	}
	o = hw_zalloc(sizeof(*o));
	if (!o) {
		return -ENOMEM;
	}
	o->serial = ++im->owner_serial;
	memcpy(o->name, name, strlen(name) + 1);
	o->next = im->owners;
	im->owners = o;
	*out = o;
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

/*
 * The members of g a quiesce acts on (bridges are left alone, see
 * bus_master_off()), referenced in an array: a settle wait that yields
 * runs outside any iteration over g, and housekeeping may remove them
 * meanwhile (docs/design.md, "Waits that yield").  NULL: out of memory.
 */
static struct pci_dev **members_get(struct pci_group *g, unsigned int *n)
{
	struct pci_dev **mv, *m;
	unsigned int k = 0;

	*n = 0;
	pci_group_for_each_dev(g, m)
	{
		k++;
	}
	mv = hw_zalloc(k * sizeof(*mv));
	if (!mv) {
		return NULL;
	}
	pci_group_for_each_dev(g, m)
	{
		if (!pci_is_bridge(m)) {
			mv[(*n)++] = pci_dev_get(m);
		}
	}
	return mv;
}

static void members_put(struct pci_dev **mv, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		pci_dev_put(mv[i]);
	}
	hw_free(mv);
}

/*
 * Proves that no DMA of r's group started for someone else is still on
 * its way before owner serial gets it attached: the group is blocked and
 * bus mastering off, then each member is reset or quiesced.  A group
 * proven quiet, or whose DMA can only be serial's own, needs nothing.
 * -EAGAIN with *why naming what is missing, unless forced (logged).
 */
static int prove_quiet(struct iommu *im, struct pci_dev *d, struct iommu_grp *r,
		       uint64_t serial, bool force, const char **why)
{
	struct pci_group *g = pci_group_of(d);
	enum iommu_owner_kind kind = r->kind;
	struct iommu_owner *owner = r->owner;
	const char *method = NULL, *how;
	struct pci_dev **mv, *m;
	unsigned int i, n = 0;
	int ret = 0;

	if (r->dma_from == DMA_QUIET || r->dma_from == serial) {
		return 0;
	}
	/*
	 * What is attached is blocked, a previous life's translation
	 * dropped; what is not present is blocked already.
	 */
	pci_group_for_each_dev(g, m)
	{
		if (att_find(im, m)) {
			block_dev(im, m);
		} else {
			release_inherited(im, m);
		}
		bus_master_off(m);
	}
	mv = members_get(g, &n);
	if (!mv) {
		return -ENOMEM;
	}
	r->busy++;
	for (i = 0; i < n && !ret; i++) {
		m = mv[i];
		if (pci_dev_is_gone(m)) {
			continue;
		}
		ret = quiesce(im, m, yield_of(im), &how);
		if (ret && !force) {
			*why = how;
			log_warn("iommu",
				 PCI_BDF_FMT ": DMA not proven stopped: %s",
				 PCI_BDF_ARGS(m->seg, m->bus, m->devfn), how);
			ret = -EAGAIN;
			break;
		}
		if (ret) {
			log_warn(
				"iommu",
				PCI_BDF_FMT
				": handed over without proof its DMA stopped (%s): forced",
				PCI_BDF_ARGS(m->seg, m->bus, m->devfn), how);
			how = "forced";
			ret = 0;
		}
		log_info("iommu", PCI_BDF_FMT ": quiet: %s",
			 PCI_BDF_ARGS(m->seg, m->bus, m->devfn), how);
		if (!method || strcmp(how, "forced") == 0) {
			method = how;
		}
	}
	r->busy--;
	members_put(mv, n);
	/* What housekeeping did meanwhile comes before what the wait said. */
	if (pci_dev_is_gone(d)) {
		*why = "removed while it was being quiesced";
		return -ENODEV;
	}
	if (r->dead || grp_find(im, gid_of(d)) != r) {
		*why = "its isolation group changed while it was being quiesced";
		return -EAGAIN;
	}
	if (r->kind != kind || r->owner != owner) {
		*why = "taken away (quarantined) while it was being quiesced";
		return -EPERM;
	}
	if (ret) {
		return ret;
	}
	r->dma_from = DMA_QUIET;
	r->method = method;
	return 0;
}

/* Whether owner (NULL: the kernel) may act on d's group. */
static int check_owner(struct iommu *im, const struct pci_dev *d,
		       const struct iommu_owner *owner)
{
	const struct iommu_grp *r = grp_find(im, gid_of(d));
	enum iommu_owner_kind kind = r ? r->kind : IOMMU_OWNER_KERNEL;

	if (kind == IOMMU_OWNER_QUARANTINE) {
		return -EPERM;
	}
	/*
	 * In transit: nobody's until the hardware confirms its detach, or
	 * while a wait that lets housekeeping in proves it quiet.
	 */
	if (r && (r->releasing || r->busy)) {
		return -EBUSY;
	}
	if (kind == IOMMU_OWNER_KERNEL) {
		return owner ? -EBUSY : 0;
	}
	return owner == r->owner ? 0 : -EBUSY;
}

int iommu_kernel_may_drive(struct iommu *im, struct pci_dev *d)
{
	if (!pci_dev_present(d)) {
		return -ENODEV;
	}
	return check_owner(im, d, NULL);
}

/* The group of d to owner o, blocked first.  Already o's: nothing. */
static int claim(struct iommu *im, struct pci_dev *d, struct iommu_owner *o,
		 bool rmrr_override)
{
	struct iommu_grp *r;
	int ret;

	if (pci_dev_is_gone(d) || !pci_group_of(d)) {
		return -ENODEV;
	}
	ret = check_owner(im, d, o);
	if (ret == 0) {
		return 0;
	}
	ret = check_owner(im, d, NULL);
	if (ret) {
		return ret;
	}
	if (!im->blocking) {
		return -ENODEV;
	}
	if (group_has_rmrr(im, d)) {
		if (!rmrr_override) {
			return -EPERM;
		}
		log_warn(
			"iommu",
			PCI_BDF_FMT
			": claimed for %s despite an RMRR: firmware DMA to it is now blocked",
			PCI_BDF_ARGS(d->seg, d->bus, d->devfn), o->name);
	}
	r = grp_get(im, gid_of(d));
	if (!r) {
		return -ENOMEM;
	}
	block_group(im, d);
	grp_set_owner(im, r, IOMMU_OWNER_NAMED, o);
	return 0;
}

/*
 * The group r back to the kernel, its members (those of g) blocked.  The
 * kernel may start DMA on it at any time from now: whatever was proven
 * about it no longer holds.  While a member's detach waits on the
 * hardware, the old translation may still be cached: the group stays in
 * transit, with its old owner and attachable by nobody, until
 * iommu_poll() confirms it.
 */
static void release_group(struct iommu *im, struct pci_group *g,
			  struct iommu_grp *r)
{
	if (g) {
		block_group(im, g->devs);
	}
	r->dma_from = DMA_UNKNOWN;
	if (r->pending) {
		r->releasing = true;
		log_info("iommu",
			 "group %u: the kernel's once its detach is confirmed",
			 (unsigned int)r->node.key);
	} else {
		grp_set_owner(im, r, IOMMU_OWNER_KERNEL, NULL);
	}
	grp_put(im, r);
}

/* A detach of a member of group gid was confirmed. */
static void grp_confirmed(struct iommu *im, unsigned int gid)
{
	struct iommu_grp *r = grp_find(im, gid);

	if (!r || --r->pending) {
		return;
	}
	if (r->releasing) {
		r->releasing = false;
		grp_set_owner(im, r, IOMMU_OWNER_KERNEL, NULL);
	}
	grp_put(im, r);
}

static void release(struct iommu *im, struct pci_dev *d, struct iommu_grp *r)
{
	release_group(im, pci_group_of(d), r);
}

int iommu_claim(struct iommu *im, struct pci_dev *d, const char *name,
		bool rmrr_override)
{
	struct iommu_owner *o = name ? owner_find(im, name) : NULL;
	int ret;

	if (!o) {
		ret = owner_make(im, name, &o);
		if (ret) {
			return ret;
		}
	}
	ret = claim(im, d, o, rmrr_override);
	owner_put(im, o);
	return ret;
}

int iommu_release(struct iommu *im, struct pci_dev *d)
{
	struct iommu_grp *r = grp_find(im, gid_of(d));

	if (!r || r->kind != IOMMU_OWNER_NAMED || r->owner->guest) {
		return -EINVAL;
	}
	release(im, d, r);
	return 0;
}

int iommu_quarantine(struct iommu *im, struct pci_dev *d, const char *why)
{
	struct pci_group *g = pci_group_of(d);
	struct iommu_grp *r = grp_get(im, gid_of(d));
	const char *name;
	struct iommu_att *a;
	struct pci_dev *m;

	if (!r) {
		return -ENODEV;
	}
	if (r->kind == IOMMU_OWNER_QUARANTINE) {
		return 0;
	}
	iommu_owner_of(im, d, &name);
	log_err("iommu",
		PCI_BDF_FMT
		": quarantined (was %s's): %s; its group stays blocked until reset",
		PCI_BDF_ARGS(d->seg, d->bus, d->devfn), name, why);
	/* Not present: a quarantined device may not join any domain. */
	pci_group_for_each_dev(g, m)
	{
		a = att_find(im, m);
		if (a) {
			att_release(im, a, false);
		}
		bus_master_off(m);
	}
	r->dma_from = DMA_UNKNOWN;
	grp_set_owner(im, r, IOMMU_OWNER_QUARANTINE, NULL);
	return 0;
}

/* ---- domains ---- */

static struct iommu_domain *domain_find(struct iommu *im, unsigned int id)
{
	struct iommu_hnode *n = id ? hash_find(&im->domains, id) : NULL;
	struct iommu_domain *dom = n ? entry_of(n, struct iommu_domain) : NULL;

	return dom && !dom->dying ? dom : NULL;
}

bool iommu_domain_exists(struct iommu *im, unsigned int id)
{
	return domain_find(im, id) != NULL;
}

enum iommu_format iommu_domain_format(struct iommu *im, unsigned int id)
{
	struct iommu_domain *dom = domain_find(im, id);

	return dom ? iommu_be_domain_format(dom->be) : IOMMU_FORMAT_AUTO;
}

/* owner's own domain id, or an error. */
static struct iommu_domain *domain_of(struct iommu *im,
				      const struct iommu_owner *owner,
				      unsigned int id, int *err)
{
	struct iommu_domain *dom = domain_find(im, id);

	*err = !dom ? -ENOENT : dom->owner != owner ? -EPERM : 0;
	return *err ? NULL : dom;
}

/* A domain spanning every live unit that can walk its format. */
static int domain_create(struct iommu *im, enum iommu_format format,
			 struct iommu_be_domain **out)
{
	struct iommu_be_unit **units;
	unsigned int i, n = 0;
	int ret;

	if (!im->live_units) {
		return -ENODEV;
	}
	units = hw_zalloc(im->live_units * sizeof(*units));
	if (!units) {
		return -ENOMEM;
	}
	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			units[n++] = im->units[i];
		}
	}
	ret = iommu_be_domain_create(units, n, format, out);
	hw_free(units);
	return ret;
}

static int id_alloc(struct iommu *im, unsigned int *id)
{
	unsigned int i, v;

	for (i = 0; i <= IOMMU_DOMAIN_ID_MAX; i++) {
		v = (im->id_next + i) % (IOMMU_DOMAIN_ID_MAX + 1);
		if (v && !(im->id_map[v / 32] & (UINT32_C(1) << (v % 32)))) {
			im->id_map[v / 32] |= UINT32_C(1) << (v % 32);
			im->id_next = v + 1;
			*id = v;
			return 0;
		}
	}
	return -ENOSPC;
}

static void id_free(struct iommu *im, unsigned int id)
{
	im->id_map[id / 32] &= ~(UINT32_C(1) << (id % 32));
}

int iommu_domain_new(struct iommu *im, struct iommu_owner *owner,
		     unsigned int *id)
{
	return iommu_domain_new_format(im, owner, IOMMU_FORMAT_AUTO, id, NULL);
}

/* Why no live unit can walk format, logged per unit. */
static const char *no_format(struct iommu *im, enum iommu_format format)
{
	const char *why = NULL, *missing;
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		missing = im->units[i] ? iommu_be_unit_no_format(im->units[i],
								 format)
				       : NULL;
		if (missing) {
			log_warn(
				"iommu",
				"unit %u cannot walk the tables asked for: no %s",
				i, missing);
			why = why ? why : missing;
		}
	}
	return why;
}

/* A listed domain: of format, or nested over parent (table, levels). */
static int domain_new(struct iommu *im, struct iommu_owner *owner,
		      enum iommu_format format, struct iommu_domain *parent,
		      iova_t table, unsigned int levels, unsigned int *id,
		      const char **why)
{
	struct iommu_domain *dom;
	int ret;

	if (!im->id_map) {
		return -ENODEV;
	}
	dom = hw_zalloc(sizeof(*dom));
	if (!dom) {
		return -ENOMEM;
	}
	ret = id_alloc(im, &dom->id);
	if (ret) {
		goto out_free;
	}
	ret = parent ? iommu_be_domain_nested(parent->be, table, levels,
					      &dom->be)
		     : domain_create(im, format, &dom->be);
	if (ret == -ENOTSUP && why) {
		*why = no_format(im, format);
	}
	if (ret) {
		goto out_id;
	}
	dom->owner = owner;
	dom->node.key = dom->id;
	ret = hash_add(&im->domains, &dom->node);
	if (ret) {
		goto out_be;
	}
	dom->parent = parent;
	if (parent) {
		parent->records++;
	}
	*id = dom->id;
	return 0;

out_be:
	iommu_be_domain_destroy(dom->be);
out_id:
	id_free(im, dom->id);
out_free:
	hw_free(dom);
	return ret;
}

int iommu_domain_new_format(struct iommu *im, struct iommu_owner *owner,
			    enum iommu_format format, unsigned int *id,
			    const char **why)
{
	return domain_new(im, owner, format, NULL, iova_make(0), 0, id, why);
}

int iommu_domain_new_nested(struct iommu *im, struct iommu_owner *owner,
			    unsigned int parent_id, iova_t table,
			    unsigned int levels, unsigned int *id)
{
	int err;
	struct iommu_domain *parent = domain_of(im, owner, parent_id, &err);

	if (!parent) {
		return err;
	}
	return domain_new(im, owner, IOMMU_FORMAT_NESTED, parent, table, levels,
			  id, NULL);
}

static void domain_free(struct iommu *im, struct iommu_domain *dom)
{
	if (dom->parent) {
		dom->parent->records--;
	}
	hash_del(&im->domains, &dom->node);
	id_free(im, dom->id);
	hw_free(dom);
}

/* Destroyed now, or kept on the dying list (its id with it) until it is. */
/*
 * Destroys dom's tables once nothing is attached and everything it
 * unmapped is proven unreachable (a failed unmap left pages waiting for
 * an invalidation): -EBUSY, or the flush's error.
 */
static int domain_try_destroy(struct iommu_domain *dom)
{
	int ret = dom->records ? -EBUSY : iommu_be_flush(dom->be);

	return ret ? ret : iommu_be_domain_destroy(dom->be);
}

static void domain_destroy(struct iommu *im, struct iommu_domain *dom)
{
	int ret = domain_try_destroy(dom);

	if (ret == 0) {
		domain_free(im, dom);
		return;
	}
	log_warn("iommu", "domain %u: not destroyed yet (%s): retried", dom->id,
		 errno_name(ret));
	dom->dying = true;
	dom->owner = NULL;
	dom->dying_next = im->dying;
	im->dying = dom;
}

static void retry_domains(struct iommu *im)
{
	struct iommu_domain **p = &im->dying, *dom;

	while ((dom = *p)) {
		if (domain_try_destroy(dom)) {
			p = &dom->dying_next;
			continue;
		}
		*p = dom->dying_next;
		log_info("iommu", "domain %u: destroyed", dom->id);
		domain_free(im, dom);
	}
}

int iommu_domain_del(struct iommu *im, struct iommu_owner *owner,
		     unsigned int id)
{
	int err;
	struct iommu_domain *dom = domain_of(im, owner, id, &err);

	if (!dom) {
		return err;
	}
	err = domain_try_destroy(dom);
	if (err == 0) {
		domain_free(im, dom);
	}
	return err;
}

int iommu_map(struct iommu *im, struct iommu_owner *owner, unsigned int id,
	      iova_t iova, hpa_t hpa, uint64_t len, unsigned int prot)
{
	int err;
	struct iommu_domain *dom = domain_of(im, owner, id, &err);

	return dom ? iommu_be_map(dom->be, iova, hpa, len, prot) : err;
}

int iommu_unmap(struct iommu *im, struct iommu_owner *owner, unsigned int id,
		iova_t iova, uint64_t len)
{
	struct iommu_range r = {.iova = iova, .len = len};

	return iommu_unmap_ranges(im, owner, id, &r, 1);
}

int iommu_unmap_ranges(struct iommu *im, struct iommu_owner *owner,
		       unsigned int id, const struct iommu_range *r,
		       unsigned int count)
{
	int err;
	struct iommu_domain *dom = domain_of(im, owner, id, &err);

	if (!dom) {
		return err;
	}
	err = iommu_be_unmap(dom->be, r, count);
	if (err && err != -ENOENT && err != -EINVAL) {
		dom->unflushed = true;
	}
	return err;
}

int iommu_flush(struct iommu *im, struct iommu_owner *owner, unsigned int id)
{
	int err;
	struct iommu_domain *dom = domain_of(im, owner, id, &err);

	if (!dom) {
		return err;
	}
	err = iommu_be_flush(dom->be);
	if (err == 0) {
		dom->unflushed = false;
	}
	return err;
}

struct hpa_range {
	hpa_t hpa;
	uint64_t len;
	bool hit;
};

static void hpa_overlap(void *ctx, const struct iommu_mapping *m)
{
	struct hpa_range *r = ctx;

	r->hit |= hpa_val(m->hpa) < hpa_val(r->hpa) + r->len &&
		  hpa_val(r->hpa) < hpa_val(m->hpa) + m->len;
}

bool iommu_hpa_reachable(struct iommu *im, hpa_t hpa, uint64_t len,
			 unsigned int *id)
{
	struct hpa_range r = {hpa, len, false};
	struct iommu_domain *dom;
	struct iommu_hnode *n;
	unsigned int i;

	/* Dying domains too: their tables still translate until destroyed. */
	for (i = 0; i < im->domains.size; i++) {
		for (n = im->domains.buckets[i]; n; n = n->next) {
			dom = entry_of(n, struct iommu_domain);
			if (!dom->unflushed) {
				iommu_be_for_each_mapping(dom->be, hpa_overlap,
							  &r);
			}
			if (dom->unflushed || r.hit) {
				*id = dom->id;
				return true;
			}
		}
	}
	return false;
}

int iommu_for_each_mapping(struct iommu *im, unsigned int id,
			   iommu_mapping_fn fn, void *ctx)
{
	struct iommu_domain *dom = domain_find(im, id);

	if (!dom) {
		return -ENOENT;
	}
	iommu_be_for_each_mapping(dom->be, fn, ctx);
	return 0;
}

/* ---- the console's device operations ---- */

int iommu_attach(struct iommu *im, struct pci_dev *d, unsigned int id,
		 const char **why)
{
	int err;
	struct iommu_domain *dom = domain_of(im, NULL, id, &err);
	struct iommu_grp *r;
	int unit;

	if (!dom) {
		return err;
	}
	if (pci_dev_is_gone(d)) {
		return -ENODEV;
	}
	err = check_owner(im, d, NULL);
	if (err) {
		return err;
	}
	if (dom->parent) {
		return -EINVAL;
	}
	unit = unit_index(im, d, why);
	*why = unit < 0 ? NULL
			: iommu_be_domain_no_unit(dom->be, im->units[unit]);
	if (*why) {
		return -ENOTSUP;
	}
	r = grp_get(im, gid_of(d));
	if (!r) {
		return -ENOMEM;
	}
	err = prove_quiet(im, d, r, DMA_KERNEL, false, why);
	if (err == 0) {
		err = move(im, d, dom);
	}
	if (err == 0) {
		r->dma_from = DMA_KERNEL;
	}
	grp_put(im, r);
	return err;
}

int iommu_detach(struct iommu *im, struct pci_dev *d)
{
	struct iommu_att *a = att_find(im, d);
	int ret = check_owner(im, d, NULL);
	bool inherited = false;
	rid_t sids[IOMMU_SIDS_MAX];
	unsigned int i, n;
	const char *why;
	int unit;

	if (ret) {
		return ret;
	}
	if (a) {
		release_sharers(im, d);
		att_release(im, a, false);
		return 0;
	}
	unit = unit_index(im, d, &why);
	n = unit < 0 ? 0 : pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	for (i = 0; i < n; i++) {
		inherited |= iommu_be_inherited(im->units[unit], sids[i]);
	}
	if (!inherited) {
		return -ENOENT;
	}
	release_inherited(im, d);
	return 0;
}

/* The console's own attachment of d, with a requester id of its own. */
static struct iommu_att *pasid_att(struct iommu *im, struct pci_dev *d,
				   int *err)
{
	struct iommu_att *a = att_find(im, d);
	struct iommu_sid *s;

	*err = check_owner(im, d, NULL);
	if (*err) {
		return NULL;
	}
	if (!a || a->retrying || a->dom->owner || a->dom == im->blocking) {
		*err = -ENOENT;
		return NULL;
	}
	s = sid_find(im, a->unit, a->sids[0]);
	if (a->sid_count != 1 || s->atts != a || a->sid_next[0]) {
		*err = -E2BIG;
		return NULL;
	}
	return a;
}

static struct iommu_pasid **pasid_find(struct iommu_att *a, uint32_t pasid)
{
	struct iommu_pasid **p = &a->pasids;

	while (*p && (*p)->pasid != pasid) {
		p = &(*p)->next;
	}
	return p;
}

int iommu_pasid_attach(struct iommu *im, struct pci_dev *d, unsigned int id,
		       uint32_t pasid)
{
	int err;
	struct iommu_domain *dom = domain_of(im, NULL, id, &err);
	struct iommu_att *a = dom ? pasid_att(im, d, &err) : NULL;
	struct iommu_pasid **pp, *p;
	struct iommu_be_unit *u;

	if (!a) {
		return err;
	}
	u = im->units[a->unit];
	pp = pasid_find(a, pasid);
	p = *pp;
	if (p && p->dom == dom) {
		return 0;
	}
	/* Moved without a mix where it can be, else blocked in between. */
	if (p && !p->dom->parent && !dom->parent) {
		err = iommu_be_pasid_switch(p->dom->be, dom->be, u, a->sids[0],
					    pasid);
		if (err == 0) {
			p->dom->records--;
			p->dom = dom;
			dom->records++;
		}
		return err;
	}
	err = p ? pasid_drop(im, a, pp) : 0;
	if (err) {
		return err;
	}
	p = hw_zalloc(sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	err = iommu_be_pasid_attach(dom->be, u, a->sids[0], pasid);
	if (err) {
		hw_free(p);
		return err;
	}
	p->pasid = pasid;
	p->dom = dom;
	p->next = a->pasids;
	a->pasids = p;
	dom->records++;
	return 0;
}

int iommu_pasid_detach(struct iommu *im, struct pci_dev *d, uint32_t pasid)
{
	int err;
	struct iommu_att *a = pasid_att(im, d, &err);
	struct iommu_pasid **pp;

	if (!a) {
		return err;
	}
	pp = pasid_find(a, pasid);
	return *pp ? pasid_drop(im, a, pp) : -ENOENT;
}

void iommu_for_each_pasid(struct iommu *im, unsigned int id, iommu_pasid_fn fn,
			  void *ctx)
{
	struct iommu_domain *dom = domain_find(im, id);
	struct iommu_hnode *n;
	struct iommu_pasid *p;
	unsigned int b;

	for (b = 0; dom && b < im->atts.size; b++) {
		for (n = im->atts.buckets[b]; n; n = n->next) {
			struct iommu_att *a = entry_of(n, struct iommu_att);

			for (p = a->pasids; p; p = p->next) {
				if (p->dom == dom) {
					fn(ctx, a->dev, p->pasid);
				}
			}
		}
	}
}

int iommu_reset(struct iommu *im, struct pci_dev *d, const char **method)
{
	struct iommu_grp *r = grp_find(im, gid_of(d));
	enum pci_quiesce_method used;
	rid_t sids[IOMMU_SIDS_MAX];
	unsigned int i, n;
	const char *why;
	int unit, ret;

	if (pci_dev_is_gone(d)) {
		return -ENODEV;
	}
	/* Blocked and ATS off before the reset drops its translations. */
	if (!r || r->kind != IOMMU_OWNER_QUARANTINE) {
		block_dev(im, d);
	}
	bus_master_off(d);
	ret = pci_dev_quiesce(im->pci, d, IOMMU_QUIESCE_TIMEOUT_NS,
			      yield_of(im), &used);
	/* Housekeeping ran meanwhile: d may be gone, its group another. */
	if (pci_dev_is_gone(d)) {
		*method = "removed during the reset";
		return -ENODEV;
	}
	*method = ret ? errno_name(ret) : pci_quiesce_method_name(used);
	if (ret) {
		return ret;
	}
	r = grp_find(im, gid_of(d));
	/* Only a reset clears what the device cached and what it did. */
	if (used != PCI_QUIESCE_FLR && used != PCI_QUIESCE_PM &&
	    used != PCI_QUIESCE_SBR) {
		return -ENOTSUP;
	}
	unit = unit_index(im, d, &why);
	n = unit < 0 ? 0 : pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	for (i = 0; i < n; i++) {
		iommu_be_device_reset(im->units[unit], sids[i]);
	}
	if (r && r->kind == IOMMU_OWNER_QUARANTINE) {
		grp_set_owner(im, r, IOMMU_OWNER_KERNEL, NULL);
		block_group(im, d);
		log_info("iommu",
			 PCI_BDF_FMT ": out of quarantine (%s), blocked",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), *method);
	}
	return 0;
}

/* ---- guests ---- */

int iommu_owner_new(struct iommu *im, const char *name,
		    struct iommu_owner **out)
{
	struct iommu_owner *o;
	unsigned int id;
	int ret;

	if (name && owner_find(im, name)) {
		return -EEXIST;
	}
	ret = owner_make(im, name, &o);
	if (ret) {
		return ret;
	}
	o->guest = true;
	ret = iommu_domain_new(im, o, &id);
	if (ret) {
		o->guest = false;
		owner_put(im, o);
		return ret;
	}
	o->dom = domain_find(im, id);
	o->dom_id = id;
	*out = o;
	return 0;
}

void iommu_owner_del(struct iommu *im, struct iommu_owner *owner)
{
	if (owner->dom) {
		domain_destroy(im, owner->dom);
		owner->dom = NULL;
	}
	owner->guest = false;
	owner_put(im, owner);
}

/* The PCI group with id gid, or NULL once it is gone. */
static struct pci_group *group_by_id(const struct iommu *im, unsigned int gid)
{
	struct pci_group *g;

	pci_for_each_group(im->pci, g)
	{
		if (g->id == gid) {
			return g;
		}
	}
	return NULL;
}

int iommu_assign(struct iommu *im, struct iommu_owner *owner, struct pci_dev *d,
		 bool force, struct iommu_hold **hold, const char **why)
{
	struct iommu_hold *h;
	struct iommu_grp *r;
	bool claimed;
	int ret;

	*why = NULL;
	if (pci_dev_is_gone(d)) {
		return -ENODEV;
	}
	claimed = check_owner(im, d, owner) != 0;
	ret = claim(im, d, owner, false);
	if (ret) {
		return ret;
	}
	r = grp_find(im, gid_of(d));
	h = hw_zalloc(sizeof(*h));
	if (!h) {
		ret = -ENOMEM;
		goto out_release;
	}
	ret = prove_quiet(im, d, r, owner->serial, force, why);
	if (ret) {
		goto out_free;
	}
	ret = move(im, d, owner->dom);
	if (ret) {
		goto out_free;
	}
	r->dma_from = owner->serial;
	hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
		       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			       PCI_COMMAND_INTX_DISABLE);
	h->dev = pci_dev_get(d);
	h->owner = owner;
	h->grp = r;
	h->method = r->method ? r->method : "none needed";
	r->holds++;
	*hold = h;
	log_info("iommu", PCI_BDF_FMT ": assigned to %s (quiet: %s)",
		 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), owner->name,
		 h->method);
	return 0;

out_free:
	hw_free(h);
out_release:
	if (r->kind != IOMMU_OWNER_NAMED || r->owner != owner) {
		grp_put(im, r); /* quarantined while proven quiet: stays so */
	} else if (claimed && !r->holds) {
		/* Its members as they are now: d may be gone, g recomputed. */
		release_group(im, group_by_id(im, r->node.key), r);
	} else {
		block_dev(im, d);
		r->dma_from = r->holds ? owner->serial : DMA_UNKNOWN;
		grp_put(im, r);
	}
	return ret;
}

/*
 * Quiesces what is left of the members in mv (blocked already), letting
 * housekeeping in during the settle waits.  One removed meanwhile needs
 * nothing more.
 */
static void quiesce_members(struct iommu *im, struct pci_dev **mv,
			    unsigned int n)
{
	struct pci_dev *m;
	const char *how;
	unsigned int i;

	for (i = 0; i < n; i++) {
		m = mv[i];
		if (!pci_dev_is_gone(m) && quiesce(im, m, yield_of(im), &how) &&
		    !pci_dev_is_gone(m)) {
			log_warn("iommu",
				 PCI_BDF_FMT ": DMA not proven stopped: %s",
				 PCI_BDF_ARGS(m->seg, m->bus, m->devfn), how);
		}
	}
}

/* Whether r is still owner o's: not quarantined or taken away. */
static bool held_by(const struct iommu_grp *r, const struct iommu_owner *o)
{
	return r->kind == IOMMU_OWNER_NAMED && r->owner == o;
}

/*
 * Blocks what unassigning d stops, before any wait: d alone while its
 * owner keeps other members of its group, else the whole group, found as
 * it is now.  Returns the members to quiesce, referenced (members_get());
 * NULL with *n 0 when there are none, or no memory for them (logged:
 * they stay blocked, and the next owner proves them quiet anyway).
 */
static struct pci_dev **unassign_block(struct iommu *im, struct iommu_grp *r,
				       struct pci_dev *d, unsigned int *n)
{
	struct pci_dev **mv = NULL;
	struct pci_group *g;

	*n = 0;
	if (r->holds) {
		if (pci_dev_is_gone(d)) {
			return NULL;
		}
		block_dev(im, d);
		bus_master_off(d);
		mv = hw_zalloc(sizeof(*mv));
		if (mv) {
			mv[(*n)++] = pci_dev_get(d);
		}
	} else {
		g = pci_dev_is_gone(d) ? group_by_id(im, r->node.key)
				       : pci_group_of(d);
		if (!g) {
			return NULL;
		}
		block_group(im, g->devs);
		mv = members_get(g, n);
	}
	if (!mv) {
		log_warn("iommu",
			 PCI_BDF_FMT ": not quiesced: out of memory; blocked",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
	}
	return mv;
}

/*
 * What happened to h's device or its group record r that matters to
 * unassigning it, or NULL: nothing.  Compared before and after the wait,
 * it is what housekeeping did meanwhile.
 */
static const char *unassign_changed(struct iommu *im, struct iommu_grp *r,
				    const struct iommu_hold *h)
{
	if (!held_by(r, h->owner)) {
		return "quarantined while it was being quiesced: stays blocked";
	}
	if (pci_dev_is_gone(h->dev)) {
		return "removed while it was being quiesced";
	}
	if (r->dead || grp_find(im, gid_of(h->dev)) != r) {
		return "its isolation group changed while it was being quiesced";
	}
	return NULL;
}

void iommu_unassign(struct iommu *im, struct iommu_hold *h)
{
	struct iommu_grp *r = h->grp;
	struct pci_dev *d = h->dev, **mv;
	const char *before, *changed;
	unsigned int n;

	r->holds--;
	if (!held_by(r, h->owner)) {
		goto out_put; /* quarantined meanwhile: stays blocked */
	}
	/*
	 * Blocked first, then stopped with housekeeping let in during the
	 * settle waits, in transit meanwhile (docs/design.md, "Waits that
	 * yield").  The last hold gives the group back; the next owner
	 * proves it quiet again, whatever happens meanwhile.
	 */
	before = unassign_changed(im, r, h);
	mv = unassign_block(im, r, d, &n);
	r->busy++;
	quiesce_members(im, mv, n);
	r->busy--;
	members_put(mv, n);
	/* What housekeeping did meanwhile is what the log has to tell. */
	changed = unassign_changed(im, r, h);
	if (changed && changed != before) {
		log_warn("iommu", PCI_BDF_FMT ": unassigned from %s: %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), h->owner->name,
			 changed);
	} else {
		log_info("iommu", PCI_BDF_FMT ": unassigned from %s",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			 h->owner->name);
	}
	if (r->holds || !held_by(r, h->owner)) {
		goto out_put; /* a quarantine is never undone here */
	}
	/* Its members as they are now, by id: none once its group is gone. */
	release_group(im, group_by_id(im, r->node.key), r);
	pci_dev_put(d);
	hw_free(h);
	return;
out_put:
	grp_put(im, r);
	pci_dev_put(d);
	hw_free(h);
}

int iommu_irq_setup(struct iommu *im, struct pci_dev *d, uint32_t dest,
		    uint8_t vector, struct iommu_irq *irq)
{
	rid_t sids[IOMMU_SIDS_MAX];
	struct iommu_be_unit *u;
	const char *why;
	unsigned int n;
	int ret;

	u = iommu_unit_for(im, d, &why);
	if (!u) {
		return -ENODEV;
	}
	ret = iommu_be_irq_alloc(u, &irq->index);
	if (ret) {
		return ret;
	}
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	ret = iommu_be_irq_set(u, irq->index, dest, vector, sids, n);
	if (ret) {
		iommu_be_irq_free(u, irq->index);
		return ret;
	}
	irq->unit = u;
	iommu_be_irq_msi(irq->index, &irq->address, &irq->data);
	return 0;
}

void iommu_irq_teardown(struct iommu_irq *irq)
{
	iommu_be_irq_free(irq->unit, irq->index);
	irq->unit = NULL;
}

/* ---- hot-plug ---- */

bool iommu_device_removing(struct iommu *im, struct pci_dev *d)
{
	bool attached = att_find(im, d) != NULL;

	/* Blocked while it still answers; ATS off with it. */
	if (attached) {
		block_dev(im, d);
	} else {
		release_inherited(im, d);
	}
	bus_master_off(d);
	return attached;
}

/* Group records whose PCI group is gone: freed, or with their last hold. */
static void sweep_groups(struct iommu *im)
{
	const struct pci_group *g;
	struct iommu_att *a;
	struct pci_dev *m;
	struct iommu_hnode *n, *next;
	struct iommu_grp *r;
	unsigned int i;

	im->sweep_due = false;
	im->sweep_gen++;
	pci_for_each_group(im->pci, g)
	{
		r = grp_find(im, g->id);
		if (r) {
			r->seen = im->sweep_gen;
		}
		/*
		 * A member attached while in another group (groups split or
		 * merged): whatever its old group's owner allowed no longer
		 * holds, so it is blocked until its new group's owner acts.
		 */
		for (m = g->devs; m; m = m->group_next) {
			a = att_find(im, m);
			if (a && a->gid != g->id && a->dom != im->blocking) {
				log_warn("iommu",
					 PCI_BDF_FMT
					 ": moved to group %u: blocked",
					 PCI_BDF_ARGS(m->seg, m->bus, m->devfn),
					 g->id);
				block_dev(im, m);
			}
		}
	}
	for (i = 0; i < im->grps.size; i++) {
		for (n = im->grps.buckets[i]; n; n = next) {
			next = n->next;
			r = entry_of(n, struct iommu_grp);
			if (r->seen != im->sweep_gen && !r->dead) {
				r->dead = true;
				grp_put(im, r);
			}
		}
	}
}

void iommu_device_removed(struct iommu *im, struct pci_dev *d)
{
	struct iommu_att *a = att_find(im, d);

	/*
	 * Its entries go back to not present, so a device plugged in at the
	 * same address later starts from default deny; the IOMMU is
	 * touched, the vanished device never is.
	 */
	if (a) {
		att_release(im, a, true);
	}
	release_inherited(im, d);
	/* PCI recomputes its groups after this: swept at the next poll. */
	im->sweep_due = true;
}

void iommu_device_added(struct iommu *im, struct pci_dev *d)
{
	rid_t sids[IOMMU_SIDS_MAX];
	const struct iommu_grp *r;
	unsigned int i, n;
	const char *why;
	int unit = unit_index(im, d, &why);

	/* PCI recomputed its groups before this: swept at the next poll. */
	im->sweep_due = true;
	if (unit < 0) {
		return;
	}
	/* A new device at an old address: no failure held against it. */
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	for (i = 0; i < n; i++) {
		if (!sid_find(im, (unsigned int)unit, sids[i])) {
			iommu_be_device_reset(im->units[unit], sids[i]);
		}
	}
	r = grp_find(im, gid_of(d));
	if (r && r->kind != IOMMU_OWNER_KERNEL) {
		block_dev(im, d);
	}
}

void iommu_for_each_ats(struct iommu *im, iommu_ats_fn fn, void *ctx)
{
	struct iommu_hnode *n;
	unsigned int i;

	for (i = 0; i < im->atts.size; i++) {
		for (n = im->atts.buckets[i]; n; n = n->next) {
			const struct iommu_att *a =
				entry_of(n, struct iommu_att);

			if (a->ats_qdepth) {
				fn(ctx, a->dev, a->ats_qdepth, a->dom->id);
			}
		}
	}
}

/* ---- faults ---- */

/*
 * The device a fault of (unit, sid) came from and its group id: the one
 * attached with sid, else the present function at that address (a member
 * of an owned group need not be attached).  NULL: none.
 */
static struct pci_dev *fault_dev(struct iommu *im, unsigned int unit, rid_t sid,
				 unsigned int *gid)
{
	const struct iommu_sid *s = sid_find(im, unit, sid);
	struct pci_dev *d;

	if (s) {
		*gid = s->atts->gid;
		return s->atts->dev;
	}
	d = pci_find_dev(im->pci, im->dmar->units[unit].segment, rid_bus(sid),
			 rid_devfn(sid));
	*gid = d ? gid_of(d) : 0;
	return d;
}

struct iommu_owner *iommu_fault_owner(struct iommu *im, unsigned int unit,
				      rid_t sid)
{
	unsigned int gid;
	const struct iommu_grp *r =
		fault_dev(im, unit, sid, &gid) ? grp_find(im, gid) : NULL;

	return r && r->kind == IOMMU_OWNER_NAMED ? r->owner : NULL;
}

/*
 * A fault record read from a unit, charged to the owner its requester id
 * had then, until iommu_faults() reports it.
 */
struct iommu_held_fault {
	struct iommu_held_fault *next;
	struct iommu_fault f;
	uint64_t serial; /* the owner's; 0: the kernel */
	char owner[IOMMU_OWNER_NAME_MAX];
	bool limit; /* the owner's fault_limit-th fault */
};

static void hold_one(void *ctx, const struct iommu_fault *f)
{
	struct iommu *im = ctx;
	struct iommu_owner *o = iommu_fault_owner(im, f->unit, f->sid);
	struct iommu_held_fault *h;
	bool limit = false;

	/* A blocked interrupt is counted apart: it never quarantines. */
	if (o && f->irq) {
		o->irq_faults++;
	} else if (o && o->guest) {
		limit = ++o->faults == im->fault_limit;
	}
	h = im->held_count < IOMMU_HELD_FAULTS_MAX ? hw_zalloc(sizeof(*h))
						   : NULL;
	if (!h) {
		im->held_lost++;
		return;
	}
	h->f = *f;
	h->limit = limit;
	if (o) {
		h->serial = o->serial;
		memcpy(h->owner, o->name, sizeof(h->owner));
	}
	*im->held_tail = h;
	im->held_tail = &h->next;
	im->held_count++;
}

/*
 * Reads every unit's fault records and charges each to the owner of its
 * requester id now: called before any requester id changes owner or
 * leaves, so that a fault is never charged to whoever comes next.
 */
static void hold_faults(struct iommu *im)
{
	unsigned int i;

	if (!im->held_tail) {
		im->held_tail = &im->held;
	}
	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			iommu_be_fault_poll(im->units[i], hold_one, im);
		}
	}
}

/* A guest's device past its fault limit, if it is still that guest's. */
static void quarantine_faulty(struct iommu *im,
			      const struct iommu_held_fault *h)
{
	struct iommu_owner *o = iommu_fault_owner(im, h->f.unit, h->f.sid);
	unsigned int gid;
	struct pci_dev *d = fault_dev(im, h->f.unit, h->f.sid, &gid);

	if (!o || o->serial != h->serial) {
		return;
	}
	log_err("guest", "%s: " PCI_BDF_FMT " quarantined after %u faults",
		o->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
		im->fault_limit);
	iommu_quarantine(im, d, "too many DMA faults");
}

void iommu_faults(struct iommu *im, iommu_owned_fault_fn fn, void *ctx)
{
	struct iommu_held_fault *h;

	hold_faults(im);
	if (im->held_lost) {
		log_warn("iommu",
			 "%llu fault records charged but not kept for report",
			 (unsigned long long)im->held_lost);
		im->held_lost = 0;
	}
	while ((h = im->held)) {
		im->held = h->next;
		im->held_count--;
		fn(ctx, &h->f, h->serial ? h->owner : NULL);
		if (h->limit) {
			quarantine_faulty(im, h);
		}
		hw_free(h);
	}
	im->held_tail = &im->held;
}

/* ---- bring-up, poll, fini ---- */

/*
 * Whether the function at sid still answers (config space and links
 * above): no device-TLB invalidation is sent to one that does not.
 */
static bool present(void *ctx, uint16_t segment, rid_t sid)
{
	struct iommu *im = ctx;
	const struct pci_dev *d;
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		const struct iommu_sid *s =
			im->units[i] && iommu_be_unit_segment(im->units[i]) ==
						segment
				? sid_find(im, i, sid)
				: NULL;

		if (s) {
			return pci_dev_present(s->atts->dev);
		}
	}
	d = pci_find_dev(im->pci, segment, rid_bus(sid), rid_devfn(sid));
	return d && pci_dev_present(d);
}

struct quarantine_ctx {
	struct iommu *im;
	unsigned int unit;
};

/* A device the back end quarantined: its whole group stays blocked. */
static void quarantine_sid(void *ctx, rid_t sid)
{
	struct quarantine_ctx *q = ctx;
	const struct iommu_sid *s = sid_find(q->im, q->unit, sid);
	struct iommu_grp *r;
	struct pci_dev *d;

	d = s ? s->atts->dev
	      : pci_find_dev(q->im->pci,
			     iommu_be_unit_segment(q->im->units[q->unit]),
			     rid_bus(sid), rid_devfn(sid));
	if (!d || pci_dev_is_gone(d)) {
		return;
	}
	r = grp_find(q->im, gid_of(d));
	if (!r || r->kind != IOMMU_OWNER_QUARANTINE) {
		iommu_quarantine(q->im, d, "its invalidations failed");
	}
}

void iommu_poll(struct iommu *im)
{
	struct quarantine_ctx q = {im, 0};

	for (q.unit = 0; q.unit < im->unit_count; q.unit++) {
		if (im->units[q.unit]) {
			iommu_be_poll(im->units[q.unit], quarantine_sid, &q);
		}
	}
	retry_detaches(im);
	retry_domains(im);
	if (im->sweep_due) {
		sweep_groups(im);
	}
}

bool iommu_pending(const struct iommu *im)
{
	return im->retry || im->dying;
}

struct iommu_counts iommu_counts(const struct iommu *im)
{
	return (struct iommu_counts){
		.domains = im->domains.count,
		.attachments = im->atts.count,
		.sids = im->sids.count,
		.groups = im->grps.count,
	};
}

static void reject(struct dmar *dmar, unsigned int i, const char *what, int err)
{
	char why[64];

	fmt_snprintf(why, sizeof(why), "%s: %s", what, errno_name(err));
	dmar_unit_reject(dmar, i, why);
	log_err("iommu", "unit %u rejected: %s", i, why);
}

static struct iommu_domain *internal_domain(struct iommu *im,
					    struct iommu_be_unit *u)
{
	struct iommu_domain *dom = hw_zalloc(sizeof(*dom));
	int ret;

	if (!dom) {
		return NULL;
	}
	ret = u ? iommu_be_domain_create(&u, 1, IOMMU_FORMAT_AUTO, &dom->be)
		: domain_create(im, IOMMU_FORMAT_AUTO, &dom->be);
	if (ret) {
		hw_free(dom);
		return NULL;
	}
	return dom;
}

/* Identity maps for every usable RMRR, each in its unit's RMRR domain. */
static void rmrr_setup(struct iommu *im)
{
	struct pci_dev *d;
	unsigned int r;
	const char *why;
	int ret, unit;

	for (r = 0; r < im->dmar->rmrr_count; r++) {
		const struct dmar_rmrr *rm = &im->dmar->rmrrs[r];
		uint64_t len = rm->limit - rm->base + 1;

		if (!dmar_rmrr_usable(im->dmar, r)) {
			continue;
		}
		pci_for_each_dev (im->pci, d) {
			struct iommu_domain **dom;

			if (!dmar_rmrr_covers(im->dmar, r, d->seg, d->bus,
					      d->devfn)) {
				continue;
			}
			unit = unit_index(im, d, &why);
			if (unit < 0) {
				continue;
			}
			dom = &im->rmrr[unit];
			if (!*dom) {
				*dom = internal_domain(im, im->units[unit]);
			}
			/* An RMRR is an identity map: IOVA = HPA (VT-d
			 * spec 8.4). */
			ret = *dom ? iommu_be_map(
					     (*dom)->be, iova_make(rm->base),
					     hpa_make(rm->base), len,
					     IOMMU_PROT_READ | IOMMU_PROT_WRITE)
				   : -ENOMEM;
			/* Several devices may share an RMRR: mapped once. */
			if (ret == 0 || ret == -EEXIST) {
				ret = att_find(im, d) ? 0 : move(im, d, *dom);
			}
			if (ret) {
				log_err("iommu",
					PCI_BDF_FMT
					": RMRR 0x%llx-0x%llx not mapped: %s",
					PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
					(unsigned long long)rm->base,
					(unsigned long long)rm->limit,
					errno_name(ret));
			}
		}
	}
}

int iommu_ats_allow(struct iommu *im, uint16_t seg, uint8_t bus, uint8_t devfn)
{
	if (im->ats_allow_count == IOMMU_ATS_ALLOW_MAX) {
		return -ENOSPC;
	}
	im->ats_allow[im->ats_allow_count].seg = seg;
	im->ats_allow[im->ats_allow_count].bus = bus;
	im->ats_allow[im->ats_allow_count++].devfn = devfn;
	return 0;
}

void iommu_init(struct iommu *im, struct dmar *dmar, struct pci_host *pci,
		struct iommu_be_config *cfg,
		const struct iommu_be_platform *plat)
{
	const struct pci_dev *d;
	const char *why;
	unsigned int i;
	int ret;

	im->dmar = dmar;
	im->pci = pci;
	im->cfg = cfg;
	im->plat = *plat;
	im->owner_serial = DMA_KERNEL;
	im->unit_count = dmar->unit_count;
	im->units = hw_zalloc(dmar->unit_count * sizeof(*im->units) + 1);
	im->rmrr = hw_zalloc(dmar->unit_count * sizeof(*im->rmrr) + 1);
	im->id_map = hw_zalloc(ID_WORDS * sizeof(*im->id_map));
	if (!im->units || !im->rmrr || !im->id_map) {
		log_err("iommu", "no memory: every DMAR unit stays off");
		for (i = 0; i < dmar->unit_count; i++) {
			dmar_unit_reject(dmar, i, "driver: no memory");
		}
		im->unit_count = 0;
		return;
	}
	for (i = 0; i < dmar->unit_count; i++) {
		const struct dmar_unit *du = &dmar->units[i];

		if (!dmar_unit_usable(dmar, i)) {
			continue;
		}
		ret = iommu_be_unit_init(cfg, plat, i, du->segment, du->base,
					 present, im, &im->units[i]);
		if (ret) {
			im->units[i] = NULL;
			reject(dmar, i, "driver refused it", ret);
		}
	}
	/* RMRR identity maps exist before the first instant of translation. */
	rmrr_setup(im);
	for (i = 0; i < dmar->unit_count; i++) {
		if (!im->units[i]) {
			continue;
		}
		ret = iommu_be_unit_enable(im->units[i]);
		if (ret) {
			/* Memory the hardware may still reach stays allocated.
			 */
			iommu_be_unit_fini(im->units[i]);
			im->units[i] = NULL;
			reject(dmar, i, "enable failed", ret);
			continue;
		}
		im->live_units++;
		log_info("iommu",
			 "unit %u at 0x%llx: translation on, default deny", i,
			 (unsigned long long)dmar->units[i].base);
	}
	pci_for_each_dev (pci, d) {
		if (!iommu_unit_for(im, d, &why)) {
			log_warn("iommu",
				 PCI_BDF_FMT ": no DMA through moat: %s",
				 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), why);
		}
	}
	im->blocking = im->live_units ? internal_domain(im, NULL) : NULL;
	if (im->live_units && !im->blocking) {
		log_err("iommu", "no blocking domain; claims will fail");
	}
}

/* Everything released, as if every device went away; then the units. */
void iommu_fini(struct iommu *im)
{
	struct iommu_hnode *n;
	unsigned int i;

	while ((n = hash_any(&im->atts))) {
		att_release(im, entry_of(n, struct iommu_att), false);
	}
	for (i = 0; i < FINI_POLLS && iommu_pending(im); i++) {
		iommu_poll(im);
		hw_relax();
	}
	if (iommu_pending(im)) {
		log_err("iommu", "teardown still pending: units kept");
		return;
	}
	/* Every domain goes: nested ones hold their parents no more. */
	for (i = 0; i < im->domains.size; i++) {
		for (n = im->domains.buckets[i]; n; n = n->next) {
			entry_of(n, struct iommu_domain)->parent = NULL;
		}
	}
	while ((n = hash_any(&im->domains))) {
		struct iommu_domain *dom = entry_of(n, struct iommu_domain);

		iommu_be_domain_destroy(dom->be);
		domain_free(im, dom);
	}
	while ((n = hash_any(&im->grps))) {
		struct iommu_grp *r = entry_of(n, struct iommu_grp);

		r->holds = 0;
		r->dead = true;
		grp_put(im, r);
	}
	while (im->owners) {
		struct iommu_owner *o = im->owners;

		im->owners = o->next;
		hw_free(o);
	}
	/* Faults nobody asked for any more. */
	while (im->held) {
		struct iommu_held_fault *h = im->held;

		im->held = h->next;
		hw_free(h);
	}
	if (im->blocking) {
		iommu_be_domain_destroy(im->blocking->be);
		hw_free(im->blocking);
	}
	for (i = 0; i < im->unit_count; i++) {
		if (im->rmrr[i]) {
			iommu_be_domain_destroy(im->rmrr[i]->be);
			hw_free(im->rmrr[i]);
		}
	}
	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			iommu_be_unit_fini(im->units[i]);
		}
	}
	hash_free(&im->atts);
	hash_free(&im->sids);
	hash_free(&im->grps);
	hash_free(&im->domains);
	hw_free(im->units);
	hw_free(im->rmrr);
	hw_free(im->id_map);
	memset(im, 0, sizeof(*im));
}

void iommu_handover(struct iommu *im)
{
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			iommu_be_unit_handover(im->units[i]);
		}
	}
}

/* ---- console reports ---- */

void iommu_report(struct iommu *im, const char *what, iommu_line_fn fn,
		  void *ctx)
{
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		if (!im->units[i]) {
			continue;
		}
		if (strcmp(what, "iommu") == 0) {
			iommu_be_report_unit(im->units[i], fn, ctx);
		} else if (strcmp(what, "qi") == 0) {
			iommu_be_report_qi(im->units[i], fn, ctx);
		} else {
			iommu_be_report_stats(im->units[i], im->cfg, fn, ctx);
		}
	}
}

int iommu_selftest(struct iommu *im, unsigned int *unit)
{
	int ret;

	for (*unit = 0; *unit < im->unit_count; (*unit)++) {
		if (!im->units[*unit]) {
			continue;
		}
		ret = iommu_be_selftest(im->units[*unit]);
		if (ret) {
			return ret;
		}
	}
	return 0;
}
