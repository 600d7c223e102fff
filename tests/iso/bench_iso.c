/*
 * make bench, the isolation layer: what attaching a device and charging a
 * fault to its owner cost as the number of devices grows (16, 1k, 16k),
 * host time per operation with the real layer and VT-d driver over the
 * model.  The devices are hand-made objects, one per isolation group,
 * each answering configuration reads and quiesced by a hook, so that the
 * layer's own bookkeeping is what varies with the count.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/hw.h"
#include "drivers/iommu/iommu.h"
#include "drivers/pci/reset.h"
#include "lib/errno.h"

#include "tests/model/model.h"

#define UNIT_BASE UINT64_C(0xfed90000)
#define VENDOR	  0x1234U
#define DEVICE	  0xbe0cU
#define LOOKUPS	  1000000U

/*
 * Every function answers with VENDOR:DEVICE and zeroes; narrower reads and
 * the dropped writes are tests/model/pci_cfg.c's.
 */
uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return off < 4 ? (uint32_t)DEVICE << 16 | VENDOR : 0;
}

static int idle(const struct pci_dev *d, uint64_t deadline_ns,
		const struct pci_yield *y)
{
	return 0;
}

static const struct pci_quiesce_hook hook = {VENDOR, DEVICE, idle};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct pci_dev *make_dev(unsigned int i)
{
	struct pci_dev *d = calloc(1, sizeof(*d));
	struct pci_group *g = calloc(1, sizeof(*g));

	if (!d || !g) {
		abort();
	}
	d->refs = 1;
	d->state = PCI_DEV_PRESENT;
	d->bus = (uint8_t)(i >> 8);
	d->devfn = (uint8_t)i;
	d->vendor = VENDOR;
	d->device = DEVICE;
	d->group = g;
	g->id = i + 1;
	g->devs = d;
	g->dev_count = 1;
	return d;
}

static void run(unsigned int count)
{
	static struct dmar dmar;
	struct iommu_be_platform plat = {.inherit = false};
	struct model_unit_config cfg;
	struct pci_host host;
	struct pci_dev **devs = calloc(count, sizeof(*devs));
	struct iommu im;
	unsigned int i, id, owned = 0;
	const char *why;
	double t0, attach_ns, fault_ns;
	uint64_t seed = 88172645463325252ULL;

	model_init();
	model_unit_config_default(&cfg);
	model_add_unit(UNIT_BASE, &cfg);
	memset(&dmar, 0, sizeof(dmar));
	dmar.usable = true;
	dmar.unit_count = 1;
	dmar.units[0].base = UNIT_BASE;
	dmar.units[0].flags = DMAR_DRHD_INCLUDE_PCI_ALL;
	memset(&host, 0, sizeof(host));
	pci_quiesce_hook_add(&host, &hook);
	memset(&im, 0, sizeof(im));
	iommu_init(&im, &dmar, &host, iommu_be_config_new(), &plat);
	if (!devs || iommu_domain_new(&im, NULL, &id)) {
		abort();
	}
	for (i = 0; i < count; i++) {
		devs[i] = make_dev(i);
	}
	t0 = now_ns();
	for (i = 0; i < count; i++) {
		if (iommu_attach(&im, devs[i], id, &why)) {
			abort();
		}
	}
	attach_ns = (now_ns() - t0) / count;
	t0 = now_ns();
	for (i = 0; i < LOOKUPS; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		owned += iommu_fault_owner(
				 &im, 0, rid_from((uint16_t)(seed % count))) !=
			 NULL;
	}
	fault_ns = (now_ns() - t0) / LOOKUPS;
	printf("  %5u devices: attach %7.2f us/device (proof, blocking, context entry)   fault attribution %6.3f us/fault%s\n",
	       count, attach_ns / 1000, fault_ns / 1000, owned ? "" : "");
	iommu_be_config_free(im.cfg);
	iommu_fini(&im);
	for (i = 0; i < count; i++) {
		free(devs[i]->group);
		free(devs[i]);
	}
	free(devs);
	model_fini();
}

int main(void)
{
	printf("\nisolation layer (drivers/iommu/iommu.c over the VT-d driver and model), host time:\n");
	run(16);
	run(1024);
	run(16384);
	return 0;
}
