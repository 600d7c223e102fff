#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"
#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/guest.h"
#include "kernel/kernel.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"
#include "lib/string.h"

/*
 * Console commands of the IOMMU: iommu, domain, attach, detach, faults,
 * stats (docs/console.md gives the exact line formats).
 */

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	con_printf("%s\n", line);
}

static int cmd_iommu(int argc, char **argv)
{
	struct kernel *k = kernel_get();
	unsigned int i;

	if (argc != 1) {
		return con_error("usage: iommu");
	}
	if (!k->dmar_present || !k->dmar.usable) {
		return con_error("no usable DMAR table (see dmar)");
	}
	for (i = 0; i < k->dmar.unit_count; i++) {
		if (i >= k->iommu.unit_count || !k->iommu.units[i]) {
			con_printf("unit %u base 0x%llx rejected (%s)\n", i,
				   (unsigned long long)k->dmar.units[i].base,
				   k->dmar.units[i].reason);
		}
	}
	iommu_report(&k->iommu, "iommu", print_line, NULL);
	return 0;
}
CONSOLE_CMD(iommu, "iommu", "iommu", "IOMMU units, their mode and capabilities",
	    cmd_iommu);

static int parse_domain(const char *s, unsigned int *id)
{
	unsigned long long v;

	if (con_parse_u64("domain", s, &v)) {
		return -EINVAL;
	}
	if (v > IOMMU_DOMAIN_ID_MAX ||
	    !iommu_domain_exists(&kernel_get()->iommu, (unsigned int)v)) {
		return con_error("no domain %llu", v);
	}
	*id = (unsigned int)v;
	return 0;
}

static int parse_prot(const char *s, unsigned int *prot)
{
	if (strcmp(s, "r") == 0) {
		*prot = IOMMU_PROT_READ;
	} else if (strcmp(s, "w") == 0) {
		*prot = IOMMU_PROT_WRITE;
	} else if (strcmp(s, "rw") == 0) {
		*prot = IOMMU_PROT_READ | IOMMU_PROT_WRITE;
	} else {
		return con_error("access must be r, w or rw: %.8s", s);
	}
	return 0;
}

static bool page_aligned(unsigned long long v)
{
	return (v & (IOMMU_PAGE_4K - 1)) == 0;
}

static void show_mapping(void *ctx, const struct iommu_mapping *m)
{
	con_printf("iova 0x%llx hpa 0x%llx len 0x%llx page %s %s%s\n",
		   IOVA_ARG(m->iova), HPA_ARG(m->hpa),
		   (unsigned long long)m->len,
		   m->page_size == IOMMU_PAGE_1G   ? "1g"
		   : m->page_size == IOMMU_PAGE_2M ? "2m"
						   : "4k",
		   m->prot & IOMMU_PROT_READ ? "r" : "",
		   m->prot & IOMMU_PROT_WRITE ? "w" : "");
}

static void show_pasid(void *ctx, const struct pci_dev *d, uint32_t pasid)
{
	con_printf("pasid " RID_FMT " %u\n",
		   RID_ARGS(rid_make(d->bus, d->devfn)), pasid);
}

static int domain_map(int argc, char **argv, unsigned int id)
{
	unsigned long long iova, hpa, len;
	unsigned int prot = 0;
	int ret;

	if (argc != 7) {
		return con_error("usage: domain map D IOVA HPA LEN r|w|rw");
	}
	if (con_parse_u64("iova", argv[3], &iova) ||
	    con_parse_u64("hpa", argv[4], &hpa) ||
	    con_parse_u64("length", argv[5], &len) ||
	    parse_prot(argv[6], &prot)) {
		return -EINVAL;
	}
	if (!page_aligned(iova) || !page_aligned(hpa) || !page_aligned(len) ||
	    len == 0) {
		return con_error(
			"iova, hpa and length must be 4 KiB multiples");
	}
	ret = iommu_map(&kernel_get()->iommu, NULL, id, iova_make(iova),
			hpa_make(hpa), len, prot);
	if (ret == -EPERM) {
		return con_error("domain %u belongs to a guest", id);
	}
	if (ret == -EEXIST) {
		return con_error("part of 0x%llx+0x%llx is already mapped",
				 iova, len);
	}
	return ret;
}

/* Every range in one batch: one wait, then none of them is reachable. */
static int domain_unmap(int argc, char **argv, unsigned int id)
{
	struct iommu_range r[(CON_MAX_ARGS - 3) / 2];
	unsigned long long iova, len;
	unsigned int n;
	int ret;

	if (argc < 5 || (argc - 3) % 2) {
		return con_error(
			"usage: domain unmap D IOVA LEN [IOVA LEN ...]");
	}
	for (n = 0; 3 + 2 * n < (unsigned int)argc; n++) {
		if (con_parse_u64("iova", argv[3 + 2 * n], &iova) ||
		    con_parse_u64("length", argv[4 + 2 * n], &len)) {
			return -EINVAL;
		}
		if (!page_aligned(iova) || !page_aligned(len) || len == 0) {
			return con_error(
				"iova and length must be 4 KiB multiples");
		}
		r[n] = (struct iommu_range){.iova = iova_make(iova),
					    .len = len};
	}
	ret = iommu_unmap_ranges(&kernel_get()->iommu, NULL, id, r, n);
	if (ret == -EPERM) {
		return con_error("domain %u belongs to a guest", id);
	}
	if (ret == -ENOENT && n == 1) {
		return con_error("nothing mapped at 0x%llx+0x%llx", iova, len);
	}
	if (ret == -ENOENT) {
		return con_error("nothing mapped in any of the %u ranges", n);
	}
	return ret;
}

/* The console's names of table formats: sl, fl, or none (automatic). */
static const char *const format_names[] = {
	[IOMMU_FORMAT_AUTO] = "auto",
	[IOMMU_FORMAT_FIRST_LEVEL] = "fl",
	[IOMMU_FORMAT_SECOND_LEVEL] = "sl",
	[IOMMU_FORMAT_NESTED] = "nested",
};

/* domain new nested P TABLE [4|5]: first-level tables a user keeps. */
static int domain_new_nested(int argc, char **argv)
{
	unsigned long long table, levels = 4;
	unsigned int parent, id;
	int ret;

	if (argc < 5 || argc > 6) {
		return con_error("usage: domain new nested D TABLE [4|5]");
	}
	if (parse_domain(argv[3], &parent) ||
	    con_parse_u64("table", argv[4], &table) ||
	    (argc == 6 && con_parse_u64("levels", argv[5], &levels))) {
		return -EINVAL;
	}
	if (!page_aligned(table) || (levels != 4 && levels != 5)) {
		return con_error(
			"table must be a 4 KiB multiple, levels 4 or 5");
	}
	ret = iommu_domain_new_nested(&kernel_get()->iommu, NULL, parent,
				      iova_make(table), (unsigned int)levels,
				      &id);
	if (ret == -EPERM) {
		return con_error("domain %u belongs to a guest", parent);
	}
	if (ret == -ENOTSUP) {
		return con_error(
			"domain %u has no sl tables to nest first-level ones in",
			parent);
	}
	if (ret == 0) {
		con_printf("domain %u\n", id);
	}
	return ret;
}

static int domain_new(int argc, char **argv)
{
	enum iommu_format format = IOMMU_FORMAT_AUTO;
	const char *why = NULL;
	unsigned int id;
	int ret;

	if (argc >= 3 && strcmp(argv[2], "nested") == 0) {
		return domain_new_nested(argc, argv);
	}
	if (argc == 3) {
		for (format = IOMMU_FORMAT_FIRST_LEVEL;
		     format <= IOMMU_FORMAT_SECOND_LEVEL &&
		     strcmp(argv[2], format_names[format]) != 0;
		     format++) {
		}
		if (format > IOMMU_FORMAT_SECOND_LEVEL) {
			return con_error("usage: domain new [sl|fl]");
		}
	}
	ret = iommu_domain_new_format(&kernel_get()->iommu, NULL, format, &id,
				      &why);
	if (ret == -ENODEV) {
		return con_error("no VT-d unit is enabled");
	}
	if (ret == -ENOTSUP && !why) {
		return con_error("the units share no table format (see log)");
	}
	if (ret == -ENOTSUP) {
		return con_error("no unit can walk %s tables: no %s",
				 format_names[format], why);
	}
	if (ret == 0) {
		con_printf("domain %u\n", id);
	}
	return ret;
}

static int cmd_domain(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int id;
	int ret;

	if (argc >= 2 && strcmp(argv[1], "new") == 0) {
		return domain_new(argc, argv);
	}
	if (argc < 3) {
		return con_error(
			"usage: domain new [sl|fl|nested D TABLE [4|5]] | map|unmap|show|del D ...");
	}
	if (parse_domain(argv[2], &id)) {
		return -EINVAL;
	}
	if (strcmp(argv[1], "map") == 0) {
		return domain_map(argc, argv, id);
	}
	if (strcmp(argv[1], "unmap") == 0) {
		return domain_unmap(argc, argv, id);
	}
	if (strcmp(argv[1], "show") == 0 && argc == 3) {
		con_printf("domain %u tables %s\n", id,
			   format_names[iommu_domain_format(im, id)]);
		iommu_for_each_pasid(im, id, show_pasid, NULL);
		return iommu_for_each_mapping(im, id, show_mapping, NULL);
	}
	if (strcmp(argv[1], "del") == 0 && argc == 3) {
		ret = iommu_domain_del(im, NULL, id);
		if (ret == -EPERM) {
			return con_error("domain %u belongs to a guest", id);
		}
		if (ret == -EBUSY) {
			return con_error("domain %u still has devices attached",
					 id);
		}
		return ret;
	}
	return con_error(
		"usage: domain new [sl|fl|nested D TABLE [4|5]] | map|unmap|show|del D ...");
}
CONSOLE_CMD(
	domain, "domain",
	"domain new [sl|fl|nested D TABLE [4|5]]|map D IOVA HPA LEN r|w|rw|unmap D IOVA LEN [IOVA LEN ...]|show D|del D",
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
			return con_error("%s's group is owned by %s", bdf,
					 name);
		}
		if (d) {
			pci_dev_put(d);
		}
	}
	if (ret == -EBUSY) {
		return con_error(
			"a requester id of %s is attached elsewhere (see log)",
			bdf);
	}
	return ret;
}

/* PASID P of a device the console attached, or why not. */
static int pasid_error(const char *bdf, unsigned long long pasid, bool nested,
		       int ret)
{
	switch (ret) {
	case -ENOENT:
		return con_error(
			"%s or its pasid %llu is not attached (attach BDF D first)",
			bdf, pasid);
	case -E2BIG:
		return con_error(
			"%s shares its requester id: PASIDs need one of its own",
			bdf);
	case -ENOTSUP:
		return con_error("%s: its unit does no %s", bdf,
				 nested ? "nested translation" : "PASIDs");
	case -ERANGE:
		return con_error("pasid %llu is beyond what %s's unit holds",
				 pasid, bdf);
	default:
		return owner_error(bdf, ret);
	}
}

static int parse_pasid(int argc, char **argv, int at, unsigned long long *pasid)
{
	if (argc != at + 2 || strcmp(argv[at], "pasid") != 0) {
		return con_error(
			"usage: attach BDF D [pasid P] | detach BDF [pasid P]");
	}
	if (con_parse_u64("pasid", argv[at + 1], pasid)) {
		return -EINVAL;
	}
	if (*pasid == 0 || *pasid > UINT32_MAX) {
		return con_error(
			"pasid must be 1 or more (0 is the device's own)");
	}
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	struct kernel *k = kernel_get();
	unsigned long long pasid = 0;
	const char *why;
	struct pci_dev *d;
	unsigned int id;
	int ret;

	if (argc != 3 && parse_pasid(argc, argv, 3, &pasid)) {
		return -EINVAL;
	}
	if (parse_domain(argv[2], &id)) {
		return -EINVAL;
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	if (pasid) {
		ret = iommu_pasid_attach(&k->iommu, d, id, (uint32_t)pasid);
		pci_dev_put(d);
		return pasid_error(argv[1], pasid,
				   iommu_domain_format(&k->iommu, id) ==
					   IOMMU_FORMAT_NESTED,
				   ret);
	}
	if (iommu_domain_format(&k->iommu, id) == IOMMU_FORMAT_NESTED) {
		pci_dev_put(d);
		return con_error("domain %u is nested: it takes PASIDs only",
				 id);
	}
	ret = iommu_attach(&k->iommu, d, id, &why);
	pci_dev_put(d);
	if (ret == -ENODEV) {
		return con_error("%s has no usable IOMMU unit (see log)",
				 argv[1]);
	}
	if (ret == -EAGAIN) {
		return con_error("%s: its DMA cannot be proven stopped: %s",
				 argv[1], why);
	}
	if (ret == -ENOTSUP) {
		return con_error(
			"%s: its unit cannot walk domain %u's tables: no %s",
			argv[1], id, why);
	}
	return owner_error(argv[1], ret);
}
CONSOLE_CMD(
	attach, "attach", "attach BDF D [pasid P]",
	"attach a device (all its requester ids), or one PASID of it, to domain D",
	cmd_attach);

static int cmd_detach(int argc, char **argv)
{
	unsigned long long pasid = 0;
	struct pci_dev *d;
	int ret;

	if (argc != 2 && parse_pasid(argc, argv, 2, &pasid)) {
		return -EINVAL;
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	ret = pasid ? iommu_pasid_detach(&kernel_get()->iommu, d,
					 (uint32_t)pasid)
		    : iommu_detach(&kernel_get()->iommu, d);
	pci_dev_put(d);
	if (pasid) {
		return pasid_error(argv[1], pasid, false, ret);
	}
	if (ret == -ENOENT) {
		return con_error("%s is not attached", argv[1]);
	}
	return owner_error(argv[1], ret);
}
CONSOLE_CMD(detach, "detach", "detach BDF [pasid P]",
	    "block a device's DMA, or that of one PASID of it, again",
	    cmd_detach);

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
		return con_error(
			"bad owner name (1-15 characters, not kernel or quarantine)");
	}
	if (ret == -EPERM) {
		return con_error(
			"%s's group is quarantined or has an RMRR (claim with rmrr-override to take it anyway)",
			argv[1]);
	}
	return owner_error(argv[1], ret);
}
CONSOLE_CMD(claim, "claim", "claim BDF OWNER [rmrr-override]",
	    "give a device's whole isolation group to OWNER, blocked",
	    cmd_claim);

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
		return con_error("%s's group has no owner to release it",
				 argv[1]);
	}
	return ret;
}
CONSOLE_CMD(release, "release", "release BDF",
	    "return a device's group to the kernel, blocked", cmd_release);

static int cmd_stats(int argc, char **argv)
{
	if (argc != 1) {
		return con_error("usage: stats");
	}
	iommu_report(&kernel_get()->iommu, "stats", print_line, NULL);
	return 0;
}
CONSOLE_CMD(stats, "stats", "stats", "per-unit invalidation and MMIO counters",
	    cmd_stats);

static int cmd_qi(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;
	unsigned int i;
	int ret;

	if (argc == 1) {
		iommu_report(im, "qi", print_line, NULL);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "selftest") == 0) {
		ret = iommu_selftest(im, &i);
		if (ret) {
			return con_error(
				"unit %u: queue error not recovered: %s", i,
				errno_name(ret));
		}
		for (i = 0; i < im->unit_count; i++) {
			if (im->units[i]) {
				con_printf("unit %u iqe recovered\n", i);
			}
		}
		return 0;
	}
	return con_error("usage: qi [selftest]");
}
CONSOLE_CMD(qi, "qi", "qi [selftest]",
	    "invalidation queues; selftest provokes and recovers an IQE",
	    cmd_qi);

/*
 * Blocked, ATS off, then reset or quiesced by the best method the device
 * has; a quarantined group is given back afterwards, blocked.
 */
static int cmd_reset(int argc, char **argv)
{
	struct iommu *im = &kernel_get()->iommu;
	const char *method, *owner;
	bool quarantined;
	struct pci_dev *d;
	int ret;

	if (argc != 2) {
		return con_error("usage: reset BDF");
	}
	d = cmd_get_dev(argv[1]);
	if (!d) {
		return -EINVAL;
	}
	quarantined = iommu_owner_of(im, d, &owner) == IOMMU_OWNER_QUARANTINE;
	ret = iommu_reset(im, d, &method);
	pci_dev_put(d);
	if (ret == -ENOTSUP) {
		return con_error("%s cannot do a function-level reset",
				 argv[1]);
	}
	if (ret) {
		return con_error("%s: reset failed: %s", argv[1], method);
	}
	con_printf("%s reset (%s)\n", argv[1], method);
	if (quarantined) {
		con_printf("%s out of quarantine, blocked\n", argv[1]);
	}
	return 0;
}
CONSOLE_CMD(reset, "reset", "reset BDF",
	    "block, then reset a device; ends a quarantine", cmd_reset);
