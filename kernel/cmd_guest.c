#include <stdbool.h>
#include <stdint.h>

#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/guest.h"
#include "kernel/kernel.h"
#include "kernel/sched.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

/* The guest command (docs/console.md): guests, their memory and devices. */

#define GUEST_READ_MAX 4096U

static int guest_new(int argc, char **argv)
{
	struct guests *gs = &kernel_get()->guests;
	const struct guest *g;
	unsigned int i;
	int ret;

	if (argc != 4) {
		return con_error(
			"usage: guest new NAME SIZE|SIZE@GPA[,SIZE@GPA...]");
	}
	ret = guest_create(gs, argv[2], argv[3]);
	if (ret == -EINVAL) {
		return con_error(
			"bad name or layout (2 MiB multiples, no overlaps, at most %u regions)",
			GUEST_REGIONS_MAX);
	}
	if (ret == -EEXIST) {
		return con_error("guest %s exists", argv[2]);
	}
	if (ret == -ERANGE) {
		return con_error(
			"guest memory must end by 0x%llx: the upper half of a guest's address space is the kernel's",
			(unsigned long long)MOAT_GPA_END);
	}
	if (ret) {
		return ret;
	}
	g = guest_find(gs, argv[2]);
	con_printf("guest %s domain %u\n", g->name, g->domain);
	for (i = 0; i < g->region_count; i++) {
		con_printf("region gpa 0x%llx hpa 0x%llx len 0x%llx\n",
			   IOVA_ARG(g->regions[i].gpa),
			   HPA_ARG(g->regions[i].hpa),
			   (unsigned long long)g->regions[i].len);
	}
	return 0;
}

static int guest_show(const struct guest *g)
{
	const char *owner;
	unsigned int i;

	con_printf("guest %s domain %u faults %llu irq-faults %llu\n", g->name,
		   g->domain, (unsigned long long)g->owner->faults,
		   (unsigned long long)g->owner->irq_faults);
	for (i = 0; i < g->region_count; i++) {
		con_printf("region gpa 0x%llx hpa 0x%llx len 0x%llx\n",
			   IOVA_ARG(g->regions[i].gpa),
			   HPA_ARG(g->regions[i].hpa),
			   (unsigned long long)g->regions[i].len);
	}
	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		const struct iommu_hold *h = g->devs[i].hold;

		if (!h) {
			continue;
		}
		con_printf(
			"device " PCI_BDF_FMT " %s\n",
			PCI_BDF_ARGS(h->dev->seg, h->dev->bus, h->dev->devfn),
			pci_dev_is_gone(h->dev) ? "gone"
			: iommu_owner_of(&kernel_get()->iommu, h->dev,
					 &owner) == IOMMU_OWNER_QUARANTINE
				? "quarantined"
				: "assigned");
		/* How its DMA was proven over before the guest got it. */
		con_printf("  quiet %s\n", h->method);
	}
	return 0;
}

/* [gpa, gpa + len) inside the guest's memory: the bytes, region by region. */
static int guest_access(const struct guest *g, iova_t gpa, uint64_t len,
			int fill)
{
	uint64_t done = 0, run, n, i;
	hpa_t hpa;

	if (len == 0 || iova_lt(iova_add(gpa, len), gpa)) {
		return con_error("bad range");
	}
	while (done < len) {
		hpa = guest_gpa_to_hpa(g, iova_add(gpa, done), &run);
		if (!hpa_val(hpa)) {
			return con_error("gpa 0x%llx is not guest memory",
					 IOVA_ARG(iova_add(gpa, done)));
		}
		n = run < len - done ? run : len - done;
		for (i = 0; i < n; i++) {
			uint8_t *p = (uint8_t *)hpa_val(hpa_add(hpa, i));

			if (fill >= 0) {
				*p = (uint8_t)fill;
				continue;
			}
			if ((done + i) % 16 == 0) {
				con_printf("%s0x%llx:", done + i ? "\n" : "",
					   IOVA_ARG(iova_add(gpa, done + i)));
			}
			con_printf(" %02x", *p);
		}
		done += n;
	}
	if (fill < 0) {
		con_printf("\n");
	}
	return 0;
}

/* guest assign NAME BDF [force] */
static int guest_assign_cmd(struct guest *g, const char *bdf, bool force)
{
	struct pci_dev *d = cmd_get_dev(bdf);
	const char *why;
	int ret;

	if (!d) {
		return -EINVAL;
	}
	if (force) {
		log_warn("guest", "%s: assigning %s with force", g->name, bdf);
	}
	ret = guest_assign(g, d, force, &why);
	if (ret == 0 && guest_unchecked_dev(g) == d &&
	    sched_running(&kernel_get()->sched, g)) {
		guest_unassign(g, (unsigned int)guest_dev_slot(g, d));
		ret = cmd_guest_unchecked(g, d);
	}
	pci_dev_put(d);
	if (ret == -EAGAIN) {
		return con_error(
			"%s: its DMA cannot be proven stopped: %s (guest assign %s %s force takes it anyway)",
			bdf, why, g->name, bdf);
	}
	if (ret == -EBUSY || ret == -EPERM) {
		return con_error(
			"%s's group belongs to someone else or is quarantined",
			bdf);
	}
	return ret;
}

/*
 * The slot of the device the guest holds at bdf.  The guest holds the
 * device object: if it went away, a new device at that address is not it.
 * live: the command needs the device itself, which must not be gone.
 */
static int guest_dev_index(const struct guest *g, const char *bdf, bool live)
{
	unsigned int seg, bus, devfn, i;

	if (con_parse_bdf(bdf, &seg, &bus, &devfn)) {
		return -EINVAL;
	}
	for (i = 0; i < GUEST_DEVS_MAX; i++) {
		const struct iommu_hold *h = g->devs[i].hold;

		if (h && h->dev->seg == seg && h->dev->bus == bus &&
		    h->dev->devfn == devfn) {
			if (live && pci_dev_is_gone(h->dev)) {
				return con_error("%s is gone", bdf);
			}
			return (int)i;
		}
	}
	return con_error("%s is not assigned to %s", bdf, g->name);
}

/* guest irq NAME BDF [as NAME2 BDF2] */
static int guest_irq_cmd(struct guest *g, int argc, char **argv)
{
	struct guest *as_g = NULL;
	bool delivered = false;
	uint8_t vector = 0;
	int i, j = 0, ret;

	i = guest_dev_index(g, argv[3], true);
	if (i < 0) {
		return i;
	}
	if (argc == 7) {
		as_g = guest_find(&kernel_get()->guests, argv[5]);
		if (strcmp(argv[4], "as") != 0 || !as_g) {
			return con_error(
				"usage: guest irq NAME BDF [as NAME2 BDF2]");
		}
		j = guest_dev_index(as_g, argv[6], true);
		if (j < 0) {
			return j;
		}
	}
	ret = guest_irq(g, (unsigned int)i, as_g, j, &vector, &delivered);
	if (ret == -ENODEV) {
		return con_error("%s has no remapped interrupt", argv[3]);
	}
	if (ret == 0) {
		con_printf("irq vector 0x%02x apic %u %s\n", vector,
			   arch_apic_id(),
			   delivered ? "delivered" : "not delivered");
	}
	return ret;
}

static int cmd_guest(int argc, char **argv)
{
	struct guests *gs = &kernel_get()->guests;
	unsigned long long gpa, len, byte;
	struct guest *g;
	int i, ret;

	if (argc >= 2 && strcmp(argv[1], "new") == 0) {
		return guest_new(argc, argv);
	}
	if (argc < 3) {
		return con_error(
			"usage: guest new|del|show|assign|unassign|write|read|dma|irq|run|stop NAME ...");
	}
	g = guest_find(gs, argv[2]);
	if (!g) {
		return con_error("no guest %.16s", argv[2]);
	}
	if (strcmp(argv[1], "del") == 0 && argc == 3) {
		sched_forget(&kernel_get()->sched, g); /* running: stopped */
		return guest_destroy(gs, argv[2]);
	}
	if (strcmp(argv[1], "show") == 0 && argc == 3) {
		ret = guest_show(g);
		return ret ? ret : cmd_guest_show_run(g);
	}
	/* Running guests: kernel/cmd_sched.c. */
	if (strcmp(argv[1], "run") == 0 && argc >= 4) {
		return cmd_guest_run(g, argc - 3, argv + 3);
	}
	if (strcmp(argv[1], "stop") == 0 && argc == 3) {
		return cmd_guest_stop(g);
	}
	if (strcmp(argv[1], "assign") == 0 &&
	    (argc == 4 || (argc == 5 && strcmp(argv[4], "force") == 0))) {
		return guest_assign_cmd(g, argv[3], argc == 5);
	}
	if (strcmp(argv[1], "unassign") == 0 && argc == 4) {
		i = guest_dev_index(g, argv[3], false);
		if (i >= 0) {
			guest_unassign(g, (unsigned int)i);
		}
		return i < 0 ? i : 0;
	}
	if (strcmp(argv[1], "write") == 0 && argc == 6) {
		if (con_parse_u64("gpa", argv[3], &gpa) ||
		    con_parse_u64("byte", argv[4], &byte) ||
		    con_parse_u64("length", argv[5], &len)) {
			return -EINVAL;
		}
		if (byte > 0xff) {
			return con_error("byte out of range: 0x%llx", byte);
		}
		return guest_access(g, iova_make(gpa), len, (int)byte);
	}
	if (strcmp(argv[1], "read") == 0 && argc == 5) {
		if (con_parse_u64("gpa", argv[3], &gpa) ||
		    con_parse_u64("length", argv[4], &len)) {
			return -EINVAL;
		}
		if (len > GUEST_READ_MAX) {
			return con_error("at most %u bytes at a time",
					 GUEST_READ_MAX);
		}
		return guest_access(g, iova_make(gpa), len, -1);
	}
	if (strcmp(argv[1], "dma") == 0 &&
	    (argc == 7 || (argc == 8 && strcmp(argv[7], "nowait") == 0))) {
		i = guest_dev_index(g, argv[3], true);
		if (i < 0 || con_parse_u64("gpa", argv[5], &gpa)) {
			return -EINVAL;
		}
		return cmd_edu_dma(g->devs[i].hold->dev, argv[4],
				   iova_make(gpa), argv[6], argc == 7);
	}
	if (strcmp(argv[1], "irq") == 0 && (argc == 4 || argc == 7)) {
		return guest_irq_cmd(g, argc, argv);
	}
	return con_error(
		"usage: guest new|del|show|assign|unassign|write|read|dma|irq|run|stop NAME ...");
}
CONSOLE_CMD(
	guest, "guest",
	"guest new|del|show|assign|unassign|write|read|dma|irq|run|stop NAME ... (assign NAME BDF [force])",
	"guests: isolated memory and assigned devices", cmd_guest);
