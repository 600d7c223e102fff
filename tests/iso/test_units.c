/*
 * The isolation layer at its size limits (issue 11), over the real VT-d
 * driver and the VT-d model:
 * - 16 units: one function behind each of 16 remapping units, all
 *   assigned to one guest, whose domain spans every unit; each DMA lands
 *   in that guest's memory through its own unit and nowhere else, and
 *   after unassignment and deletion everything is back to where it was;
 * - 65,535 domains at once (every console id), a few of them used, all
 *   deleted: every count back to its baseline (on one unit: on 16 it
 *   takes over a minute under ASan).
 *
 * Segment 0: root ports 00:01.0 .. 00:10.0 (ACS), each to bus N with one
 * PCIe endpoint N:00.0 with FLR.  Unit N-1 lists N:00.0 by an endpoint
 * scope; unit 15 is the INCLUDE_PCI_ALL unit (the ports, and 10:00.0).
 * The domain count is tested on one INCLUDE_PCI_ALL unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/iommu/iommu.h"
#include "drivers/pci/pci.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/model.h"
#include "tests/unit/pci_fake.h"

#define UNITS	  16U
#define UNIT_BASE UINT64_C(0xfed00000)
#define GPA	  UINT64_C(0x200000)
#define LEN	  UINT64_C(0x10000)
#define DMA_LEN	  64U
#define RW	  (IOMMU_PROT_READ | IOMMU_PROT_WRITE)

static struct {
	struct pci_host host;
	struct dmar dmar;
	struct iommu im;
	long baseline;
} M;

static rid_t rid(unsigned int i)
{
	return rid_make((uint8_t)(i + 1), 0);
}

static struct pci_dev *dev(unsigned int i)
{
	struct pci_dev *d = pci_find_dev(&M.host, 0, (uint8_t)(i + 1), 0);

	assert_non_null(d);
	return d;
}

static void topology(void)
{
	unsigned int i;
	uint8_t *cfg, *port;

	for (i = 0; i < UNITS; i++) {
		port = pci_cfg_add_port(0, pci_devfn(i + 1, 0),
					PCI_EXP_TYPE_ROOT_PORT,
					(uint8_t)(i + 1), (uint8_t)(i + 1));
		pci_cfg_acs(port, 0x100, 0,
			    PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF,
			    0);
		cfg = pci_cfg_add(0, (uint8_t)(i + 1), 0, 0x8086, 0x1000,
				  0x020000, PCI_HEADER_TYPE_NORMAL);
		pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
		pci_cfg_pcie(cfg, 0x40, PCI_EXP_TYPE_ENDPOINT, 0);
		pci_fake_flr(cfg);
	}
}

/* Unit i lists (i + 1):00.0; the last one takes everything else. */
static void dmar_table(unsigned int units)
{
	struct dmar_unit *u;
	unsigned int i;

	memset(&M.dmar, 0, sizeof(M.dmar));
	M.dmar.usable = true;
	M.dmar.unit_count = units;
	for (i = 0; i < units; i++) {
		u = &M.dmar.units[i];
		u->base = UNIT_BASE + i * UINT64_C(0x10000);
		if (i == units - 1) {
			u->flags = DMAR_DRHD_INCLUDE_PCI_ALL;
			continue;
		}
		u->scopes.first = (uint16_t)M.dmar.scope_count;
		u->scopes.count = 1;
		M.dmar.scopes[M.dmar.scope_count++] = (struct dmar_scope){
			.type = DMAR_SCOPE_PCI_ENDPOINT,
			.start_bus = (uint8_t)(i + 1),
			.path_len = 1,
		};
	}
}

static int setup(unsigned int units)
{
	struct model_unit_config cfg;
	struct iommu_be_platform plat = {0};
	struct iommu_be_config *bc;
	unsigned int i;

	memset(&M, 0, sizeof(M));
	M.baseline = pci_alloc_live;
	model_init();
	pci_cfg_reset();
	pci_log_reset();
	pci_alloc_fail_after = -1;
	pci_fake_clock(model_now);
	model_unit_config_default(&cfg);
	for (i = 0; i < units; i++) {
		model_add_unit(UNIT_BASE + i * UINT64_C(0x10000), &cfg);
	}
	topology();
	assert_int_equal(pci_host_add_range(&M.host, 0, 0, 0xff), 0);
	assert_int_equal(pci_enumerate(&M.host), 0);
	dmar_table(units);
	bc = iommu_be_config_new();
	assert_non_null(bc);
	iommu_init(&M.im, &M.dmar, &M.host, bc, &plat);
	assert_int_equal(M.im.live_units, units);
	return 0;
}

static int setup_units(void **state)
{
	return setup(UNITS);
}

/* One unit for everything (65,535 domains on 16 units take minutes). */
static int setup_one_unit(void **state)
{
	return setup(1);
}

static int teardown(void **state)
{
	struct iommu_be_config *bc = M.im.cfg;

	if (getenv("ISO_LOG")) {
		pci_log_dump();
	}
	iommu_fini(&M.im);
	iommu_be_config_free(bc);
	pci_host_clear(&M.host);
	if (model_violations()) {
		fail_msg("model: %u violations", model_violations());
	}
	assert_int_equal(model_table_pages(), 0);
	assert_int_equal(pci_alloc_live, M.baseline);
	model_fini();
	return 0;
}

/* How many of the DMA_LEN bytes at hpa are byte. */
static unsigned int bytes_of(uint64_t hpa, uint8_t byte)
{
	const uint8_t *p = hw_phys_to_virt(hpa);
	unsigned int i, n = 0;

	for (i = 0; i < DMA_LEN; i++) {
		n += p[i] == byte;
	}
	return n;
}

static int dma(unsigned int unit, unsigned int i, uint64_t iova)
{
	uint8_t buf[DMA_LEN];

	memset(buf, (int)(0x40 + i), sizeof(buf));
	return model_dma_write(unit, rid(i), iova, buf, sizeof(buf));
}

static struct iommu_owner *guest(const char *name, uint64_t *hpa)
{
	struct iommu_owner *o;

	assert_int_equal(iommu_owner_new(&M.im, name, &o), 0);
	*hpa = model_ram_alloc(LEN, LEN);
	memset(hw_phys_to_virt(*hpa), 0, LEN);
	assert_int_equal(iommu_map(&M.im, o, o->dom_id, iova_make(GPA),
				   hpa_make(*hpa), LEN, RW),
			 0);
	model_expect_map(o, GPA, *hpa, LEN, RW);
	return o;
}

static void guest_del(struct iommu_owner *o)
{
	assert_int_equal(iommu_unmap(&M.im, o, o->dom_id, iova_make(GPA), LEN),
			 0);
	model_expect_unmap(o, GPA, LEN);
	iommu_owner_del(&M.im, o);
}

static void test_sixteen_units_one_domain(void **state)
{
	struct iommu_hold *h[UNITS];
	struct iommu_owner *a, *b;
	unsigned int i, domains = iommu_counts(&M.im).domains;
	uint64_t ha, hb;
	const char *why;

	a = guest("a", &ha);
	b = guest("b", &hb);
	for (i = 0; i < UNITS; i++) {
		assert_int_equal(
			iommu_assign(&M.im, a, dev(i), false, &h[i], &why), 0);
		assert_ptr_equal(iommu_unit_for(&M.im, dev(i), &why),
				 M.im.units[i]);
		model_expect_attach(i, rid(i), a);
	}
	/* Each through its own unit, into a's memory only. */
	for (i = 0; i < UNITS; i++) {
		assert_int_equal(dma(i, i, GPA + i * DMA_LEN), 0);
		assert_int_equal(bytes_of(ha + i * DMA_LEN, 0x40 + i), DMA_LEN);
		/* Another unit has no entry for it: default deny. */
		assert_int_equal(dma((i + 1) % UNITS, i, GPA), -EFAULT);
	}
	for (i = 0; i < UNITS; i++) {
		assert_int_equal(bytes_of(hb + i * DMA_LEN, 0x40 + i), 0);
	}
	/* Teardown: every unit's entry goes; nothing stays behind. */
	for (i = 0; i < UNITS; i++) {
		iommu_unassign(&M.im, h[i]);
		model_expect_detach(i, rid(i));
	}
	for (i = 0; i < UNITS; i++) {
		assert_int_equal(dma(i, i, GPA), -EFAULT);
		assert_int_equal(iommu_detach(&M.im, dev(i)), 0);
	}
	guest_del(a);
	guest_del(b);
	iommu_poll(&M.im);
	assert_int_equal(iommu_counts(&M.im).domains, domains);
	assert_int_equal(iommu_counts(&M.im).attachments, 0);
	assert_int_equal(iommu_counts(&M.im).sids, 0);
	assert_false(iommu_pending(&M.im));
}

/*
 * Every console domain id in use at once: 65,535 domains through the
 * layer, the next refused; a few used (mapped, attached, DMA through
 * them); all deleted, and the counts are back where they started.
 */
static void test_all_domain_ids(void **state)
{
	static unsigned int ids[IOMMU_DOMAIN_ID_MAX];
	unsigned int i, extra, domains = iommu_counts(&M.im).domains;
	long objects;
	uint64_t pages, hc;
	uint8_t buf[DMA_LEN];
	const char *why;

	/* The unit's context table for bus 1 comes with the first attach. */
	assert_int_equal(iommu_domain_new(&M.im, NULL, &extra), 0);
	assert_int_equal(iommu_attach(&M.im, dev(0), extra, &why), 0);
	assert_int_equal(iommu_detach(&M.im, dev(0)), 0);
	assert_int_equal(iommu_domain_del(&M.im, NULL, extra), 0);
	objects = pci_alloc_live;
	pages = model_table_pages();
	for (i = 0; i < IOMMU_DOMAIN_ID_MAX; i++) {
		assert_int_equal(iommu_domain_new(&M.im, NULL, &ids[i]), 0);
	}
	assert_int_equal(iommu_domain_new(&M.im, NULL, &extra), -ENOSPC);
	assert_int_equal(iommu_counts(&M.im).domains,
			 domains + IOMMU_DOMAIN_ID_MAX);
	/* The first, a middle one and the last: each translates alone. */
	for (i = 0; i < IOMMU_DOMAIN_ID_MAX; i += IOMMU_DOMAIN_ID_MAX / 2) {
		hc = model_ram_alloc(0x1000, 0x1000);
		memset(hw_phys_to_virt(hc), 0, 0x1000);
		assert_int_equal(iommu_map(&M.im, NULL, ids[i], iova_make(GPA),
					   hpa_make(hc), 0x1000,
					   IOMMU_PROT_WRITE),
				 0);
		model_expect_map(&ids[i], GPA, hc, 0x1000, IOMMU_PROT_WRITE);
		assert_int_equal(iommu_attach(&M.im, dev(0), ids[i], &why), 0);
		model_expect_attach(0, rid(0), &ids[i]);
		memset(buf, (int)(i & 0xff) | 1, sizeof(buf));
		assert_int_equal(
			model_dma_write(0, rid(0), GPA, buf, sizeof(buf)), 0);
		assert_int_equal(bytes_of(hc, (uint8_t)((i & 0xff) | 1)),
				 DMA_LEN);
		assert_int_equal(iommu_detach(&M.im, dev(0)), 0);
		model_expect_detach(0, rid(0));
		assert_int_equal(iommu_unmap(&M.im, NULL, ids[i],
					     iova_make(GPA), 0x1000),
				 0);
		model_expect_unmap(&ids[i], GPA, 0x1000);
	}
	for (i = 0; i < IOMMU_DOMAIN_ID_MAX; i++) {
		assert_int_equal(iommu_domain_del(&M.im, NULL, ids[i]), 0);
	}
	assert_int_equal(iommu_counts(&M.im).domains, domains);
	assert_int_equal(model_table_pages(), pages);
	assert_int_equal(pci_alloc_live, objects);
	/* Every id is free again. */
	assert_int_equal(iommu_domain_new(&M.im, NULL, &extra), 0);
	assert_int_equal(iommu_domain_del(&M.im, NULL, extra), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sixteen_units_one_domain,
						setup_units, teardown),
		cmocka_unit_test_setup_teardown(test_all_domain_ids,
						setup_one_unit, teardown),
	};

	if (argc > 1) {
		cmocka_set_test_filter(argv[1]);
	}
	return deadline_run_group_tests(tests, NULL, NULL);
}
