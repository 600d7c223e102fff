#include "kernel/guest.h"

#include "arch/x86_64/arch.h"
#include "drivers/edu/edu.h"
#include "drivers/hw.h"
#include "kernel/iommu.h"
#include "kernel/kernel.h"
#include "kernel/log.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/string.h"

#define PAGE_SIZE UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)
#define SZ_1G UINT64_C(0x40000000)

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
		if (fmt_parse_u64(p, &size) || (at && fmt_parse_u64(at, &gpa))) {
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
		for (i = 0; i < g->region_count; i++) {
			const struct guest_region *o = &g->regions[i];

			if (gpa < o->gpa + o->len && o->gpa < gpa + size) {
				return -EINVAL;
			}
		}
		r = &g->regions[g->region_count++];
		r->gpa = gpa;
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

	while (align > SZ_2M && (!bits_is_aligned(r->gpa, align) || r->len < align)) {
		align >>= 1;
	}
	for (; align >= SZ_2M; align >>= 1) {
		r->hpa = page_alloc_range(pa, r->len / PAGE_SIZE, align);
		if (r->hpa) {
			memset((void *)r->hpa, 0, r->len);
			return 0;
		}
	}
	return -ENOMEM;
}

/*
 * Unmaps what is mapped and frees the backing, but only memory whose
 * unmap completed: a page a device might still reach is never handed out
 * again (design.md, invariant 2).
 */
static void release_memory(struct guest *g, unsigned int mapped)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int i;

	for (i = 0; i < g->region_count; i++) {
		struct guest_region *r = &g->regions[i];

		if (!r->hpa) {
			continue;
		}
		if (i < mapped &&
		    vtd_domain_unmap(iommu_domain(im, g->domain), r->gpa, r->len)) {
			log_err("guest", "%s: region 0x%llx+0x%llx may still be reachable: its memory is not reused",
				g->name, (unsigned long long)r->gpa,
				(unsigned long long)r->len);
			continue;
		}
		page_free_range(&kernel_get()->pages, r->hpa, r->len / PAGE_SIZE);
		r->hpa = 0;
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
	ret = iommu_domain_new(im, &g->domain);
	if (ret) {
		goto out_free;
	}
	for (i = 0; i < g->region_count; i++) {
		ret = back_region(&g->regions[i]);
		if (ret) {
			goto out_release;
		}
	}
	for (mapped = 0; mapped < g->region_count; mapped++) {
		const struct guest_region *r = &g->regions[mapped];

		ret = vtd_domain_map(iommu_domain(im, g->domain), r->gpa, r->hpa,
				     r->len, VTD_PROT_READ | VTD_PROT_WRITE);
		if (ret) {
			goto out_release;
		}
	}
	gs->g[slot] = g;
	return 0;

out_release:
	release_memory(g, mapped);
	iommu_domain_del(im, g->domain);
out_free:
	hw_free(g);
	return ret;
}

uint64_t guest_gpa_to_hpa(const struct guest *g, uint64_t gpa, uint64_t *run)
{
	unsigned int i;

	for (i = 0; i < g->region_count; i++) {
		const struct guest_region *r = &g->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->len) {
			*run = r->len - (gpa - r->gpa);
			return r->hpa + (gpa - r->gpa);
		}
	}
	return 0;
}

/*
 * The command register an assigned device starts from: memory decode and
 * bus mastering on, I/O decode off, INTx off (its interrupts are MSIs
 * through the remapping table).  PCI Local Bus 3.0, 6.2.2.
 */
#define GUEST_PCI_COMMAND \
	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

/* A function must answer again within a second of its reset. */
#define GUEST_RESET_TIMEOUT_NS UINT64_C(1000000000)

static void set_command(const struct pci_dev *d, uint16_t cmd)
{
	hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND, cmd);
}

/*
 * d's MSI in remappable format through a fresh entry that only d's
 * requester ids may use (VT-d spec 5.1.4 and 9.10).  A unit without
 * interrupt remapping leaves the device without interrupts rather than
 * with unchecked ones.
 */
static void irq_setup(struct guest *g, unsigned int slot, struct pci_dev *d)
{
	struct guest_irq *irq = &g->irqs[slot];
	uint16_t sids[IOMMU_SIDS_MAX];
	struct vtd_unit *u;
	struct vtd_msi msi;
	const char *why;
	unsigned int n;
	int ret;

	u = iommu_unit_for(&kernel_get()->iommu, d, &why);
	if (!u || vtd_irte_alloc(u, &irq->irte)) {
		log_warn("guest", "%s: " PCI_BDF_FMT ": no remapped interrupts",
			 g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn));
		return;
	}
	irq->vector = (uint8_t)(GUEST_VECTOR_BASE +
				(g->slot * GUEST_DEVS_MAX + slot) % 0xa0);
	n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);
	ret = vtd_irte_set(u, irq->irte, arch_apic_id(), irq->vector, sids, n);
	msi = vtd_irte_msi(irq->irte);
	if (ret == 0) {
		ret = pci_msi_set(d, msi.address, msi.data);
	}
	if (ret) {
		vtd_irte_free(u, irq->irte);
		log_warn("guest", "%s: " PCI_BDF_FMT ": interrupt not set up: %s",
			 g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			 errno_name(ret));
		return;
	}
	irq->remapped = true;
}

/* The device stops sending first, then the entry goes (VT-d spec 9.10). */
static void irq_teardown(struct guest *g, unsigned int slot, struct pci_dev *d)
{
	struct guest_irq *irq = &g->irqs[slot];
	struct vtd_unit *u;
	const char *why;

	if (!irq->remapped) {
		return;
	}
	if (!pci_dev_is_gone(d)) {
		pci_msi_disable(d);
	}
	u = iommu_unit_for(&kernel_get()->iommu, d, &why);
	if (u) {
		vtd_irte_free(u, irq->irte);
	}
	irq->remapped = false;
}

static int dev_slot(const struct guest *g, const struct pci_dev *d)
{
	int i;

	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i] == d) {
			return i;
		}
	}
	return -ENOENT;
}

/* edu's interrupt arrives within microseconds; 20 ms is ample under TCG. */
#define GUEST_IRQ_WINDOW_NS UINT64_C(20000000)

int guest_irq(struct guest *g, struct pci_dev *d, const struct guest *as_g,
	      struct pci_dev *as, uint8_t *vector, bool *delivered)
{
	const struct guest_irq *irq, *entry;
	int slot = dev_slot(g, d), as_slot;
	struct vtd_msi msi;
	struct edu e;
	uint64_t before;
	int ret;

	if (slot < 0) {
		return slot;
	}
	irq = &g->irqs[slot];
	entry = irq;
	if (as) {
		as_slot = dev_slot(as_g, as);
		if (as_slot < 0) {
			return as_slot;
		}
		entry = &as_g->irqs[as_slot];
	}
	if (!irq->remapped || !entry->remapped) {
		return -ENODEV;
	}
	ret = edu_init(&e, d);
	if (ret) {
		return ret;
	}
	msi = vtd_irte_msi(entry->irte);
	ret = pci_msi_set(d, msi.address, msi.data);
	if (ret) {
		return ret;
	}
	*vector = entry->vector;
	before = arch_irq_count(entry->vector);
	edu_raise_irq(&e);
	arch_irq_window(GUEST_IRQ_WINDOW_NS);
	*delivered = arch_irq_count(entry->vector) != before;
	/* Back to its own entry. */
	msi = vtd_irte_msi(irq->irte);
	return pci_msi_set(d, msi.address, msi.data);
}

int guest_assign(struct guest *g, struct pci_dev *d)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int i, slot = GUEST_DEVS_MAX;
	int ret;

	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i] == d) {
			return -EEXIST;
		}
		if (!g->devs[i] && slot == GUEST_DEVS_MAX) {
			slot = i;
		}
	}
	if (slot == GUEST_DEVS_MAX) {
		return -ENOSPC;
	}
	ret = iommu_claim(im, d, g->name, false);
	if (ret) {
		return ret;
	}
	ret = iommu_attach(im, d, g->domain, g->name);
	if (ret) {
		iommu_release(im, d);
		return ret;
	}
	set_command(d, GUEST_PCI_COMMAND);
	g->devs[slot] = pci_dev_get(d);
	irq_setup(g, slot, d);
	return 0;
}

/* Whether another device of d's group is still assigned to g. */
static bool group_still_used(const struct guest *g, const struct pci_dev *d)
{
	unsigned int i;

	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i] && g->devs[i] != d &&
		    pci_group_of(g->devs[i]) == pci_group_of(d)) {
			return true;
		}
	}
	return false;
}

int guest_unassign(struct guest *g, struct pci_dev *d)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int i;
	int ret;

	for (i = 0; i < GUEST_DEVS_MAX && g->devs[i] != d; i++) {
	}
	if (i == GUEST_DEVS_MAX) {
		return -ENOENT;
	}
	irq_teardown(g, i, d);
	if (!pci_dev_is_gone(d)) {
		/* Blocked first: from here nothing it does reaches memory. */
		ret = iommu_block_group(im, d);
		if (ret) {
			return ret;
		}
		set_command(d, 0);
		ret = pci_reset_function(d, GUEST_RESET_TIMEOUT_NS);
		if (ret && ret != -ENOTSUP) {
			log_err("guest", "%s: " PCI_BDF_FMT " reset failed: %s; it stays blocked and %s's",
				g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
				errno_name(ret), g->name);
			return ret;
		}
		if (!group_still_used(g, d)) {
			iommu_release(im, d);
		}
	}
	g->devs[i] = NULL;
	pci_dev_put(d);
	return 0;
}

int guest_destroy(struct guests *gs, const char *name)
{
	struct iommu *im = &kernel_get()->iommu;
	struct guest *g = guest_find(gs, name);
	unsigned int i;
	int ret;

	if (!g) {
		return -ENOENT;
	}
	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		if (g->devs[i]) {
			ret = guest_unassign(g, g->devs[i]);
			if (ret) {
				return ret;
			}
		}
	}
	release_memory(g, g->region_count);
	ret = iommu_domain_del(im, g->domain);
	if (ret) {
		log_err("guest", "%s: domain %u not freed: %s", g->name,
			g->domain, errno_name(ret));
	}
	for (i = 0; i < GUESTS_MAX; i++) {
		if (gs->g[i] == g) {
			gs->g[i] = NULL;
		}
	}
	hw_free(g);
	return 0;
}
