#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"
#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/guest.h"
#include "kernel/iommu.h"
#include "kernel/kernel.h"
#include "kernel/log.h"
#include "lib/errno.h"
#include "lib/string.h"

/*
 * Console commands of the IOMMU: iommu, domain, attach, detach, faults,
 * stats (docs/console.md gives the exact line formats).
 */

/* A function must answer again within a second of its reset. */
#define PCI_RESET_TIMEOUT_NS UINT64_C(1000000000)

static const char *on_off(bool b)
{
	return b ? "on" : "off";
}

static void print_page_sizes(uint64_t sizes)
{
	con_printf("pages 4k%s%s", sizes & VTD_PAGE_2M ? ",2m" : "",
		   sizes & VTD_PAGE_1G ? ",1g" : "");
}

static int cmd_iommu(int argc, char **argv)
{
	struct kernel *k = kernel_get();
	struct vtd_unit_info info;
	unsigned int i, l;

	if (argc != 1) {
		return con_error("usage: iommu");
	}
	if (!k->dmar_present || !k->dmar.usable) {
		return con_error("no usable DMAR table (see dmar)");
	}
	for (i = 0; i < k->dmar.unit_count; i++) {
		struct vtd_unit *u = k->iommu.units[i];
		const char *sep = "";

		if (!u) {
			con_printf("unit %u base 0x%llx rejected (%s)\n", i,
				   (unsigned long long)k->dmar.units[i].base,
				   k->dmar.units[i].reason);
			continue;
		}
		vtd_unit_info(u, &info);
		con_printf("unit %u base 0x%llx ver %u.%u cap 0x%llx ecap 0x%llx mode %s te %s qi %s ir %s\n",
			   i, (unsigned long long)info.reg_base, info.ver_major,
			   info.ver_minor, (unsigned long long)info.cap,
			   (unsigned long long)info.ecap, info.mode,
			   on_off(info.te), on_off(info.qi), on_off(info.ir));
		con_printf("  levels ");
		for (l = 2; l <= 5; l++) {
			if (info.levels_mask & (1u << l)) {
				con_printf("%s%u", sep, l);
				sep = ",";
			}
		}
		con_printf(" ");
		print_page_sizes(info.page_sizes);
		con_printf(" domain-ids %u caching-mode %s coherent %s pasids %u inherited %u\n",
			   info.domains, on_off(info.caching_mode),
			   info.coherent ? "yes" : "no", info.pasids,
			   info.inherited);
		con_printf("  mode %s: %s\n", info.mode, info.mode_reason);
	}
	return 0;
}
CONSOLE_CMD(iommu, "iommu", "iommu", "VT-d units, their mode and capabilities",
	    cmd_iommu);

static int parse_domain(const char *s, unsigned int *id)
{
	unsigned long long v;

	if (con_parse_u64("domain", s, &v)) {
		return -EINVAL;
	}
	if (v >= IOMMU_DOMAINS_MAX ||
	    !iommu_domain(&kernel_get()->iommu, (unsigned int)v)) {
		return con_error("no domain %llu", v);
	}
	*id = (unsigned int)v;
	return 0;
}

static int parse_prot(const char *s, unsigned int *prot)
{
	if (strcmp(s, "r") == 0) {
		*prot = VTD_PROT_READ;
	} else if (strcmp(s, "w") == 0) {
		*prot = VTD_PROT_WRITE;
	} else if (strcmp(s, "rw") == 0) {
		*prot = VTD_PROT_READ | VTD_PROT_WRITE;
	} else {
		return con_error("access must be r, w or rw: %.8s", s);
	}
	return 0;
}

static bool page_aligned(unsigned long long v)
{
	return (v & (VTD_PAGE_4K - 1)) == 0;
}

static void show_mapping(void *ctx, const struct vtd_mapping *m)
{
	con_printf("iova 0x%llx hpa 0x%llx len 0x%llx page %s %s%s\n",
		   (unsigned long long)m->iova, (unsigned long long)m->hpa,
		   (unsigned long long)m->len,
		   m->page_size == VTD_PAGE_1G ? "1g" :
		   m->page_size == VTD_PAGE_2M ? "2m" : "4k",
		   m->prot & VTD_PROT_READ ? "r" : "",
		   m->prot & VTD_PROT_WRITE ? "w" : "");
}

static int domain_map(int argc, char **argv, struct vtd_domain *d)
{
	unsigned long long iova, hpa, len;
	unsigned int prot = 0;
	int ret;

	if (argc != 7) {
		return con_error("usage: domain map D IOVA HPA LEN r|w|rw");
	}
	if (con_parse_u64("iova", argv[3], &iova) ||
	    con_parse_u64("hpa", argv[4], &hpa) ||
	    con_parse_u64("length", argv[5], &len) || parse_prot(argv[6], &prot)) {
		return -EINVAL;
	}
	if (!page_aligned(iova) || !page_aligned(hpa) || !page_aligned(len) ||
	    len == 0) {
		return con_error("iova, hpa and length must be 4 KiB multiples");
	}
	ret = vtd_domain_map(d, iova, hpa, len, prot);
	if (ret == -EEXIST) {
		return con_error("part of 0x%llx+0x%llx is already mapped", iova,
				 len);
	}
	return ret;
}

static int domain_unmap(int argc, char **argv, struct vtd_domain *d)
{
	unsigned long long iova, len;
	int ret;

	if (argc != 5) {
		return con_error("usage: domain unmap D IOVA LEN");
	}
	if (con_parse_u64("iova", argv[3], &iova) ||
	    con_parse_u64("length", argv[4], &len)) {
		return -EINVAL;
	}
	if (!page_aligned(iova) || !page_aligned(len) || len == 0) {
		return con_error("iova and length must be 4 KiB multiples");
	}
	ret = vtd_domain_unmap(d, iova, len);
	if (ret == -ENOENT) {
		return con_error("nothing mapped at 0x%llx+0x%llx", iova, len);
	}
	return ret;
}

static int cmd_domain(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int id;
	int ret;

	if (argc == 2 && strcmp(argv[1], "new") == 0) {
		ret = iommu_domain_new(im, &id);
		if (ret == -ENODEV) {
			return con_error("no VT-d unit is enabled");
		}
		if (ret == 0) {
			con_printf("domain %u\n", id);
		}
		return ret;
	}
	if (argc < 3) {
		return con_error("usage: domain new | map|unmap|show|del D ...");
	}
	if (parse_domain(argv[2], &id)) {
		return -EINVAL;
	}
	if (strcmp(argv[1], "map") == 0) {
		return domain_map(argc, argv, iommu_domain(im, id));
	}
	if (strcmp(argv[1], "unmap") == 0) {
		return domain_unmap(argc, argv, iommu_domain(im, id));
	}
	if (strcmp(argv[1], "show") == 0 && argc == 3) {
		vtd_domain_for_each_mapping(iommu_domain(im, id), show_mapping,
					    NULL);
		return 0;
	}
	if (strcmp(argv[1], "del") == 0 && argc == 3) {
		ret = iommu_domain_del(im, id);
		if (ret == -EBUSY) {
			return con_error("domain %u still has devices attached",
					 id);
		}
		return ret;
	}
	return con_error("usage: domain new | map|unmap|show|del D ...");
}
CONSOLE_CMD(domain, "domain",
	    "domain new|map D IOVA HPA LEN r|w|rw|unmap D IOVA LEN|show D|del D",
	    "I/O address spaces", cmd_domain);

/* Says why owner checks refused a device. */
static int owner_error(const char *bdf, int ret)
{
	const char *name;
	struct pci_dev *d;

	if (ret == -EBUSY || ret == -EPERM) {
		d = cmd_get_dev(bdf);
		if (d && iommu_owner_of(&kernel_get()->iommu, d, &name) !=
				 IOMMU_OWNER_KERNEL) {
			pci_dev_put(d);
			return con_error("%s's group is owned by %s", bdf, name);
		}
		if (d) {
			pci_dev_put(d);
		}
	}
	if (ret == -EBUSY) {
		return con_error("a requester id of %s is attached elsewhere (see log)",
				 bdf);
	}
	return ret;
}

static int cmd_attach(int argc, char **argv)
{
	struct kernel *k = kernel_get();
	struct pci_dev *d;
	unsigned int id;
	int ret;

	if (argc != 3) {
		return con_error("usage: attach BDF D");
	}
	if (parse_domain(argv[2], &id)) {
		return -EINVAL;
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	ret = iommu_attach(&k->iommu, d, id, NULL);
	pci_dev_put(d);
	if (ret == -ENODEV) {
		return con_error("%s has no usable VT-d unit (see log)", argv[1]);
	}
	return owner_error(argv[1], ret);
}
CONSOLE_CMD(attach, "attach", "attach BDF D",
	    "attach a device (all its requester ids) to domain D", cmd_attach);

static int cmd_detach(int argc, char **argv)
{
	struct pci_dev *d;
	int ret;

	if (argc != 2) {
		return con_error("usage: detach BDF");
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	ret = iommu_detach(&kernel_get()->iommu, d);
	pci_dev_put(d);
	if (ret == -ENOENT) {
		return con_error("%s is not attached", argv[1]);
	}
	return owner_error(argv[1], ret);
}
CONSOLE_CMD(detach, "detach", "detach BDF",
	    "block a device's DMA again", cmd_detach);

static int cmd_claim(int argc, char **argv)
{
	struct pci_dev *d;
	bool force;
	int ret;

	force = argc == 4 && strcmp(argv[3], "rmrr-override") == 0;
	if (argc != 3 && !force) {
		return con_error("usage: claim BDF OWNER [rmrr-override]");
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	ret = iommu_claim(&kernel_get()->iommu, d, argv[2], force);
	pci_dev_put(d);
	if (ret == -EINVAL) {
		return con_error("bad owner name (1-15 characters, not kernel or quarantine)");
	}
	if (ret == -EPERM) {
		return con_error("%s's group is quarantined or has an RMRR (claim with rmrr-override to take it anyway)",
				 argv[1]);
	}
	return owner_error(argv[1], ret);
}
CONSOLE_CMD(claim, "claim", "claim BDF OWNER [rmrr-override]",
	    "give a device's whole isolation group to OWNER, blocked", cmd_claim);

static int cmd_release(int argc, char **argv)
{
	struct pci_dev *d;
	int ret;

	if (argc != 2) {
		return con_error("usage: release BDF");
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	ret = iommu_release(&kernel_get()->iommu, d);
	pci_dev_put(d);
	if (ret == -EINVAL) {
		return con_error("%s's group has no owner to release it", argv[1]);
	}
	return ret;
}
CONSOLE_CMD(release, "release", "release BDF",
	    "return a device's group to the kernel, blocked", cmd_release);

struct fault_match {
	const uint16_t *sids;
	unsigned int sid_count;
	unsigned int matched;
	uint16_t segment; /* of the unit being polled */
};

/*
 * Charges a fault to the guest that owns the device, if one does.  A
 * blocked interrupt is counted apart: it never quarantines the device.
 */
static const char *charge_fault(uint16_t seg, uint16_t sid, bool irq)
{
	struct kernel *k = kernel_get();
	struct pci_dev *d;
	struct guest *g;
	const char *owner = NULL;

	d = pci_get_dev(&k->pci, seg, (uint8_t)(sid >> 8), (uint8_t)sid);
	if (!d) {
		return NULL;
	}
	if (iommu_owner_of(&k->iommu, d, &owner) != IOMMU_OWNER_NAMED) {
		owner = NULL;
	}
	g = owner ? guest_find(&k->guests, owner) : NULL;
	if (g && irq) {
		g->irq_faults++;
	} else if (g && ++g->faults == k->guests.fault_limit) {
		iommu_quarantine(&k->iommu, d, "too many DMA faults");
		log_err("guest", "%s: " PCI_BDF_FMT " quarantined after %u faults",
			g->name, PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			k->guests.fault_limit);
	}
	pci_dev_put(d);
	return owner;
}

static void print_fault(void *ctx, const struct vtd_fault *f)
{
	struct fault_match *m = ctx;
	const char *owner = charge_fault(m->segment, f->sid, f->irq);
	unsigned int i;

	/* Not a DMA fault: it must not fail the requester's next DMA. */
	if (f->irq) {
		con_printf("irq fault unit %u sid %02x:%02x.%u index 0x%x reason 0x%02x %s%s%s\n",
			   f->unit, f->sid >> 8, (f->sid >> 3) & 0x1f,
			   f->sid & 7, f->index, f->reason, f->text,
			   owner ? " owner " : "", owner ? owner : "");
		return;
	}
	con_printf("fault unit %u sid %02x:%02x.%u addr 0x%llx reason 0x%02x %s %s%s%s\n",
		   f->unit, f->sid >> 8, (f->sid >> 3) & 0x1f, f->sid & 7,
		   (unsigned long long)f->addr, f->reason,
		   f->write ? "write" : "read", f->text, owner ? " owner " : "",
		   owner ? owner : "");
	for (i = 0; i < m->sid_count; i++) {
		if (m->sids[i] == f->sid) {
			m->matched++;
		}
	}
}

unsigned int iommu_print_faults(struct iommu *im, const uint16_t *sids,
				unsigned int sid_count)
{
	struct fault_match m = { sids, sid_count, 0, 0 };
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		if (im->units[i]) {
			m.segment = im->units[i]->segment;
			vtd_fault_poll(im->units[i], print_fault, &m);
		}
	}
	return m.matched;
}

static int cmd_faults(int argc, char **argv)
{
	if (argc != 1) {
		return con_error("usage: faults");
	}
	iommu_print_faults(&kernel_get()->iommu, NULL, 0);
	return 0;
}
CONSOLE_CMD(faults, "faults", "faults",
	    "print and clear the recorded DMA faults", cmd_faults);

static int cmd_stats(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int i, c;

	if (argc != 1) {
		return con_error("usage: stats");
	}
	for (i = 0; i < im->unit_count; i++) {
		const struct vtd_stats *s;

		if (!im->units[i]) {
			continue;
		}
		s = &im->units[i]->stats;
		con_printf("unit %u descriptors %llu batches %llu doorbells %llu waits %llu timeouts %llu mmio-reads %llu mmio-writes %llu faults %llu\n",
			   i, (unsigned long long)s->descriptors,
			   (unsigned long long)s->batches,
			   (unsigned long long)s->doorbells,
			   (unsigned long long)s->waits,
			   (unsigned long long)s->timeouts,
			   (unsigned long long)s->mmio_reads,
			   (unsigned long long)s->mmio_writes,
			   (unsigned long long)s->faults);
		con_printf("  iqe %llu ite %llu ice %llu aborted %llu resubmitted %llu quarantines %llu\n",
			   (unsigned long long)s->iqe,
			   (unsigned long long)s->ite,
			   (unsigned long long)s->ice,
			   (unsigned long long)s->aborted,
			   (unsigned long long)s->resubmitted,
			   (unsigned long long)s->quarantines);
		for (c = 0; c < VTD_DEADLINE_COUNT; c++) {
			const struct vtd_deadline_stats *ds = &s->deadline[c];

			con_printf("  deadline %s %llu us misses %llu recoveries %llu max-wait %llu us\n",
				   vtd_deadline_name((enum vtd_deadline_class)c),
				   (unsigned long long)(im->cfg.deadline_ns[c] / 1000),
				   (unsigned long long)ds->misses,
				   (unsigned long long)ds->recoveries,
				   (unsigned long long)(ds->max_wait_ns / 1000));
		}
	}
	return 0;
}
CONSOLE_CMD(stats, "stats", "stats", "per-unit invalidation and MMIO counters",
	    cmd_stats);

static void print_batch(void *ctx, const struct vtd_qi_batch_info *b)
{
	con_printf("  batch seq %u slots %u-%u descriptors %u class %s",
		   b->seq, b->first, b->wait, b->count,
		   vtd_deadline_name(b->cls));
	if (b->has_sid) {
		con_printf(" sid %02x:%02x.%u", b->sid >> 8, (b->sid >> 3) & 0x1f,
			   b->sid & 7);
	}
	con_printf(" age %llu us state %s\n",
		   (unsigned long long)(b->age_ns / 1000), b->state);
}

/* Per unit: the queue's registers and software state, then each batch. */
static int qi_show(struct iommu *im)
{
	struct vtd_qi_info q;
	unsigned int i;

	for (i = 0; i < im->unit_count; i++) {
		if (!im->units[i]) {
			continue;
		}
		vtd_qi_info(im->units[i], &q);
		con_printf("unit %u head %u tail %u oldest %u in-flight %u batches %u seq %u done %u errors 0x%x degraded %s quarantined %u\n",
			   i, q.head, q.tail, q.oldest, q.in_flight, q.batches,
			   q.seq, q.done_seq, q.errors, q.degraded ? "yes" : "no",
			   q.quarantined);
		vtd_qi_for_each_batch(im->units[i], print_batch, NULL);
	}
	return 0;
}

/* Sends a malformed descriptor on purpose and checks the recovery. */
static int qi_selftest(struct iommu *im)
{
	unsigned int i;
	int ret;

	for (i = 0; i < im->unit_count; i++) {
		if (!im->units[i]) {
			continue;
		}
		ret = vtd_qi_selftest_iqe(im->units[i]);
		if (ret) {
			return con_error("unit %u: queue error not recovered: %s",
					 i, errno_name(ret));
		}
		con_printf("unit %u iqe recovered\n", i);
	}
	return 0;
}

static int cmd_qi(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;

	if (argc == 1) {
		return qi_show(im);
	}
	if (argc == 2 && strcmp(argv[1], "selftest") == 0) {
		return qi_selftest(im);
	}
	return con_error("usage: qi [selftest]");
}
CONSOLE_CMD(qi, "qi", "qi [selftest]",
	    "invalidation queues; selftest provokes and recovers an IQE", cmd_qi);

/* A function-level reset; a quarantined group is given back afterwards. */
static int cmd_reset(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;
	const char *owner;
	struct pci_dev *d;
	int ret;

	if (argc != 2) {
		return con_error("usage: reset BDF");
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	ret = pci_reset_function(d, PCI_RESET_TIMEOUT_NS);
	if (ret == -ENOTSUP) {
		ret = con_error("%s cannot do a function-level reset", argv[1]);
	} else if (ret == 0 &&
		   iommu_owner_of(im, d, &owner) == IOMMU_OWNER_QUARANTINE) {
		ret = iommu_unquarantine(im, d);
		if (ret == 0) {
			con_printf("%s out of quarantine, blocked\n", argv[1]);
		}
	}
	pci_dev_put(d);
	return ret;
}
CONSOLE_CMD(reset, "reset", "reset BDF",
	    "function-level reset; ends a quarantine", cmd_reset);
