#include "kernel/guest.h"

#include "drivers/edu/edu.h"
#include "drivers/hw.h"
#include "kernel/kernel.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

#define PAGE_SIZE UINT64_C(0x1000)
#define SZ_2M	  UINT64_C(0x200000)
#define SZ_1G	  UINT64_C(0x40000000)

struct guest *guest_find(struct guests *gs, const char *name)
{
	unsigned int i;

	for (i = 0; i < GUESTS_MAX; i++) {
		if (gs->g[i] && strcmp(gs->g[i]->name, name) == 0) {
			return gs->g[i];
		}
	}
	return NULL;
}

/* "SIZE" or "SIZE@GPA,SIZE@GPA,...": 2 MiB multiples, no overlaps. */
static int parse_layout(struct guest *g, const char *layout)
{
	char buf[128], *p, *next, *at;
	unsigned long long size, gpa;
	unsigned int i;

	if (strlen(layout) >= sizeof(buf)) {
		return -E2BIG;
	}
	memcpy(buf, layout, strlen(layout) + 1);
	for (p = buf; p; p = next) {
		struct guest_region *r;

		next = strchr(p, ',');
		if (next) {
			*next++ = '\0';
		}
		at = strchr(p, '@');
		if (at) {
			*at++ = '\0';
		}
		if (fmt_parse_u64(p, &size) ||
		    (at && fmt_parse_u64(at, &gpa))) {
			return -EINVAL;
		}
		if (!at) {
			gpa = g->region_count ? ~0ULL : 0;
		}
		if (size == 0 || !bits_is_aligned(size, SZ_2M) ||
		    !bits_is_aligned(gpa, SZ_2M) || gpa + size < gpa ||
		    g->region_count == GUEST_REGIONS_MAX) {
			return -EINVAL;
		}
		if (gpa + size > MOAT_GPA_END) {
			return -ERANGE;
		}
		for (i = 0; i < g->region_count; i++) {
			const struct guest_region *o = &g->regions[i];

			if (gpa < iova_val(o->gpa) + o->len &&
			    iova_val(o->gpa) < gpa + size) {
				return -EINVAL;
			}
		}
		r = &g->regions[g->region_count++];
		r->gpa = iova_make(gpa);
		r->len = size;
	}
	return 0;
}

/*
 * Backing for one region, aligned like its GPA (up to 1 GiB) so the domain
 * can map it with the largest pages; 2 MiB alignment when memory is too
 * fragmented for more.
 */
static int back_region(struct guest_region *r)
{
	struct page_alloc *pa = &kernel_get()->pages;
	uint64_t align = SZ_1G;

	while (align > SZ_2M &&
	       (!iova_aligned(r->gpa, align) || r->len < align)) {
		align >>= 1;
	}
	for (; align >= SZ_2M; align >>= 1) {
		r->hpa = hpa_make(
			page_alloc_range(pa, r->len / PAGE_SIZE, align));
		if (hpa_val(r->hpa)) {
			memset((void *)hpa_val(r->hpa), 0, r->len);
			return 0;
		}
	}
	return -ENOMEM;
}

/*
 * Unmaps what is mapped and frees the backing, but only memory no device
 * can reach any more: after an unmap that failed, a flush of the domain
 * must succeed first (docs/design.md, invariant 2); otherwise the memory is
 * never handed out again.
 */
static void release_memory(struct guest *g, unsigned int mapped)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int i;

	for (i = 0; i < g->region_count; i++) {
		struct guest_region *r = &g->regions[i];

		if (!hpa_val(r->hpa)) {
			continue;
		}
		if (i < mapped &&
		    iommu_unmap(im, g->owner, g->domain, r->gpa, r->len) &&
		    iommu_flush(im, g->owner, g->domain)) {
			log_err("guest",
				"%s: region 0x%llx+0x%llx may still be reachable: its memory is not reused",
				g->name, IOVA_ARG(r->gpa),
				(unsigned long long)r->len);
			continue;
		}
		page_free_range(&kernel_get()->pages, hpa_val(r->hpa),
				r->len / PAGE_SIZE);
		r->hpa = hpa_make(0);
	}
}

int guest_create(struct guests *gs, const char *name, const char *layout)
{
	struct iommu *im = &kernel_get()->iommu;
	struct guest *g;
	unsigned int i, slot, mapped = 0;
	int ret;

	if (strlen(name) == 0 || strlen(name) >= GUEST_NAME_MAX) {
		return -EINVAL;
	}
	if (guest_find(gs, name)) {
		return -EEXIST;
	}
	for (slot = 0; slot < GUESTS_MAX && gs->g[slot]; slot++) {
	}
	if (slot == GUESTS_MAX) {
		return -ENOSPC;
	}
	g = hw_zalloc(sizeof(*g));
	if (!g) {
		return -ENOMEM;
	}
	g->slot = slot;
	memcpy(g->name, name, strlen(name) + 1);
	ret = parse_layout(g, layout);
	if (ret) {
		goto out_free;
	}
	ret = iommu_owner_new(im, name, &g->owner);
	if (ret) {
		goto out_free;
	}
	g->domain = g->owner->dom_id;
	for (i = 0; i < g->region_count; i++) {
		ret = back_region(&g->regions[i]);
		if (ret) {
			goto out_release;
		}
	}
	for (mapped = 0; mapped < g->region_count; mapped++) {
		const struct guest_region *r = &g->regions[mapped];

		ret = iommu_map(im, g->owner, g->domain, r->gpa, r->hpa, r->len,
				IOMMU_PROT_READ | IOMMU_PROT_WRITE);
		if (ret) {
			goto out_release;
		}
	}
	gs->g[slot] = g;
	return 0;

out_release:
	release_memory(g, mapped);
	iommu_owner_del(im, g->owner);
out_free:
	hw_free(g);
	return ret;
}

/*
 * d's MSI in remappable format through a fresh entry that only d's
 * requester ids may use (VT-d spec 5.1.4 and 9.10).  A unit without
 * interrupt remapping leaves the device without interrupts rather than
 * with unchecked ones.
 */
static void irq_setup(struct guest *g, unsigned int slot)
{
	struct guest_dev *gd = &g->devs[slot];
	struct pci_dev *d = gd->hold->dev;
	int ret;

	gd->vector = (uint8_t)(GUEST_VECTOR_BASE +
			       (g->slot * GUEST_DEVS_MAX + slot) % 0xa0);
	ret = iommu_irq_setup(&kernel_get()->iommu, d, arch_apic_id(),
			      gd->vector, &gd->irq);
	gd->unchecked = ret == -ENOTSUP;
	if (ret == 0) {
		ret = pci_msi_set(d, gd->irq.address, gd->irq.data);
		if (ret) {
			iommu_irq_teardown(&gd->irq);
		}
	}
	if (ret) {
		log_warn("guest",
			 "%s: " PCI_BDF_FMT ": no remapped interrupts: %s",
			 g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			 errno_name(ret));
		return;
	}
	gd->remapped = true;
}

/* The device stops sending first, then the entry goes (VT-d spec 9.10). */
static void irq_teardown(struct guest *g, unsigned int slot)
{
	struct guest_dev *gd = &g->devs[slot];

	if (!gd->remapped) {
		return;
	}
	if (!pci_dev_is_gone(gd->hold->dev)) {
		pci_msi_disable(gd->hold->dev);
	}
	iommu_irq_teardown(&gd->irq);
	gd->remapped = false;
}

/*
 * Without interrupt remapping the unit passes any write to the interrupt
 * address range on as an interrupt (VT-d spec 5.1): a device its guest
 * programs could raise any vector, NMI or INIT on the CPU.  Such a device
 * may be the kernel's or an idle guest's, never a running guest's.
 */
struct pci_dev *guest_unchecked_dev(const struct guest *g)
{
	unsigned int i;

	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i].hold && g->devs[i].unchecked) {
			return g->devs[i].hold->dev;
		}
	}
	return NULL;
}

int guest_dev_slot(const struct guest *g, const struct pci_dev *d)
{
	int i;

	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i].hold && g->devs[i].hold->dev == d) {
			return i;
		}
	}
	return -ENOENT;
}

/* edu's interrupt arrives within microseconds; 20 ms is ample under TCG. */
#define GUEST_IRQ_WINDOW_NS UINT64_C(20000000)

int guest_irq(struct guest *g, unsigned int slot, const struct guest *as_g,
	      int as_slot, uint8_t *vector, bool *delivered)
{
	const struct guest_dev *gd = &g->devs[slot], *entry = gd;
	struct pci_dev *d = gd->hold->dev;
	struct edu e;
	uint64_t before;
	int ret;

	if (as_g) {
		entry = &as_g->devs[as_slot];
	}
	if (!gd->remapped || !entry->remapped) {
		return -ENODEV;
	}
	ret = edu_init(&e, d);
	if (ret) {
		return ret;
	}
	ret = pci_msi_set(d, entry->irq.address, entry->irq.data);
	if (ret) {
		return ret;
	}
	*vector = entry->vector;
	before = arch_irq_count(entry->vector);
	edu_raise_irq(&e);
	arch_irq_window(GUEST_IRQ_WINDOW_NS);
	*delivered = arch_irq_count(entry->vector) != before;
	/* Back to its own entry. */
	return pci_msi_set(d, gd->irq.address, gd->irq.data);
}

int guest_assign(struct guest *g, struct pci_dev *d, bool force,
		 const char **why)
{
	unsigned int i, slot = GUEST_DEVS_MAX;
	int ret;

	*why = NULL;
	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i].hold && g->devs[i].hold->dev == d) {
			return -EEXIST;
		}
		if (!g->devs[i].hold && slot == GUEST_DEVS_MAX) {
			slot = i;
		}
	}
	if (slot == GUEST_DEVS_MAX) {
		return -ENOSPC;
	}
	ret = iommu_assign(&kernel_get()->iommu, g->owner, d, force,
			   &g->devs[slot].hold, why);
	if (ret) {
		return ret;
	}
	irq_setup(g, slot);
	return 0;
}

void guest_unassign(struct guest *g, unsigned int slot)
{
	struct iommu_hold *h = g->devs[slot].hold;

	irq_teardown(g, slot);
	/*
	 * No longer the guest's before the quiesce's settle waits, which
	 * let guests run (docs/design.md, "Waits that yield"): its BARs
	 * are revoked before the guest runs again (sched.c).
	 */
	g->devs[slot].hold = NULL;
	iommu_unassign(&kernel_get()->iommu, h);
}

int guest_destroy(struct guests *gs, const char *name)
{
	struct guest *g = guest_find(gs, name);
	unsigned int i;

	if (!g) {
		return -ENOENT;
	}
	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i].hold) {
			guest_unassign(g, i);
		}
	}
	release_memory(g, g->region_count);
	/* A domain still busy is destroyed by iommu_poll() later. */
	iommu_owner_del(&kernel_get()->iommu, g->owner);
	for (i = 0; i < GUESTS_MAX; i++) {
		if (gs->g[i] == g) {
			gs->g[i] = NULL;
		}
	}
	hw_free(g);
	return 0;
}
