#include "tests/iso/world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/pci/ats.h"
#include "drivers/pci/hotplug.h"
#include "lib/bits.h"
#include "lib/errno.h"

#include "tests/model/model.h"
#include "tests/unit/pci_fake.h"

#define SLOT_CAPS                                                       \
	(PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP | \
	 PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPS | PCI_EXP_SLTCAP_HPC)
#define ATS_POS 0x100U

struct world W;

/* Stand-ins for the console domains' owners in the model's checks. */
static char console_owner[64];

/* The byte each function's DMA carries, by requester id. */
static uint8_t dma_byte[0x10000];

static void sink(void *ctx, uint16_t seg, uint16_t rid, uint64_t addr,
		 uint32_t len)
{
	uint8_t buf[4096];

	if (len > sizeof(buf)) {
		len = sizeof(buf);
	}
	memset(buf, dma_byte[rid], len);
	if (model_dma_write(0, rid_from(rid), addr, buf, len) == 0) {
		W.landed++;
	} else {
		W.faulted++;
	}
}

static uint8_t *endpoint(uint8_t bus, uint8_t devfn, bool flr, bool ats)
{
	uint8_t *cfg = pci_cfg_add(0, bus, devfn, 0x8086, 0x1000 + devfn,
				   0x020000, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_pcie(cfg, 0x40, PCI_EXP_TYPE_ENDPOINT, 0);
	if (flr) {
		pci_fake_flr(cfg);
	}
	if (ats) {
		pci_cfg_ext_cap(cfg, ATS_POS, PCI_EXT_CAP_ID_ATS, 0);
		pci_cfg_put16(cfg, ATS_POS + PCI_ATS_CAP, 4);
		pci_cfg_writable(cfg, ATS_POS + PCI_ATS_CTRL, 2,
				 PCI_ATS_CTRL_ENABLE | PCI_ATS_CTRL_STU);
	}
	W.cfg[bus << 8 | devfn] = cfg;
	return cfg;
}

/* A root port to bus sec that isolates what is below it (ACS). */
static uint8_t *root_port(unsigned int dev, uint8_t sec)
{
	uint8_t *port = pci_cfg_add_port(0, pci_devfn(dev, 0),
					 PCI_EXP_TYPE_ROOT_PORT, sec, sec);

	pci_cfg_acs(port, 0x100, 0,
		    PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF, 0);
	return port;
}

static void topology(void)
{
	uint8_t *alias[2], *mf[2], *cfg, *port;
	unsigned int i;

	pci_fake_alias_group(0, pci_devfn(1, 0), 4, 2, alias);
	W.cfg[rid_val(W_ALIAS0)] = alias[0];
	W.cfg[rid_val(W_ALIAS1)] = alias[1];
	endpoint(0, pci_devfn(2, 0), true, false);
	cfg = endpoint(0, pci_devfn(3, 0), false, false);
	pci_fake_dma_mode(cfg, PCI_FAKE_BME_AT_END, 0);
	cfg = pci_cfg_add(0, 0, pci_devfn(4, 0), 0x8086, 0x1020, 0x020000,
			  PCI_HEADER_TYPE_NORMAL);
	pci_fake_dma_mode(cfg, PCI_FAKE_BME_AT_END, 0);
	W.cfg[rid_val(W_NONE)] = cfg;
	pci_fake_multifunction(0, 5, 2, mf);
	W.cfg[rid_val(W_MF0)] = mf[0];
	W.cfg[rid_val(W_MF1)] = mf[1];
	W.port_ats = root_port(0x1c, 1);
	endpoint(1, 0, true, true);
	root_port(0x1a, 6);
	endpoint(6, 0, true, true);
	root_port(0x19, 7);
	endpoint(7, 0, true, true);
	W.port_acs = root_port(0x18, 5);
	pci_fake_multifunction(5, 0, 2, mf);
	for (i = 0; i < 2; i++) {
		pci_fake_flr(mf[i]);
		pci_cfg_acs(mf[i], ATS_POS, 0, PCI_ACS_RR | PCI_ACS_CR, 0);
		W.cfg[rid_val(W_ACS0) + i] = mf[i];
	}
	port = root_port(0x1d, 2);
	W.slot_card = pci_fake_slot(port, PCI_CFG_PORT_EXP, SLOT_CAPS, 1);
	pci_fake_slot_card(W.slot_card, endpoint(2, 0, true, false));
	pci_fake_slot_boot(W.slot_card);
	port = root_port(0x1e, 3);
	W.slot_ats = pci_fake_slot(port, PCI_CFG_PORT_EXP, SLOT_CAPS, 2);
	pci_fake_slot_card(W.slot_ats, endpoint(3, 0, true, true));
	pci_fake_slot_boot(W.slot_ats);
}

static void dmar_table(void)
{
	memset(&W.dmar, 0, sizeof(W.dmar));
	W.dmar.usable = true;
	W.dmar.unit_count = 1;
	W.dmar.units[0].base = W_UNIT_BASE;
	W.dmar.units[0].flags = DMAR_DRHD_INCLUDE_PCI_ALL;
	/* ATS behind every root port (VT-d spec 8.5). */
	W.dmar.atsr_count = 1;
	W.dmar.atsrs[0].flags = DMAR_ATSR_ALL_PORTS;
}

/* Owner of the previous life's translation in the model's checks. */
static const char previous;

static uint64_t *table(uint64_t pa)
{
	return hw_phys_to_virt(pa);
}

/*
 * Tables a previous life left running (legacy mode, translation on):
 * 00:03.0 and 02:00.0 map W_OLD to old_ram with domain id 5, through one
 * 3-level table.
 */
static void old_life(void)
{
	struct model_firmware_state fw = {.te = true};
	const rid_t sids[] = {W_TP, W_CARD};
	uint64_t *p;
	unsigned int i;

	for (i = 0; i < 6; i++) {
		W.old_pages[i] = hw_page_alloc();
		assert_true(W.old_pages[i]);
	}
	W.old_ram = model_ram_alloc(0x1000, 0x1000);
	/* Root entries of buses 0 and 2, their context tables. */
	table(W.old_pages[0])[0 * 2] = W.old_pages[1] | 1;
	table(W.old_pages[0])[2 * 2] = W.old_pages[2] | 1;
	table(W.old_pages[3])[(W_OLD >> 30) & 511] = W.old_pages[4] | 3;
	table(W.old_pages[4])[(W_OLD >> 21) & 511] = W.old_pages[5] | 3;
	table(W.old_pages[5])[(W_OLD >> 12) & 511] = W.old_ram | 3;
	for (i = 0; i < 2; i++) {
		p = table(W.old_pages[rid_bus(sids[i]) ? 2 : 1]) +
		    rid_devfn(sids[i]) * 2;
		p[0] = W.old_pages[3] | 1;
		p[1] = 1 | (5U << 8);
		model_expect_attach(0, sids[i], &previous);
	}
	for (i = 0; i < 6; i++) {
		hw_cache_flush(table(W.old_pages[i]), 0x1000);
	}
	model_expect_map(&previous, W_OLD, W.old_ram, 0x1000,
			 IOMMU_PROT_READ | IOMMU_PROT_WRITE);
	fw.root_pa = W.old_pages[0];
	model_set_firmware_state(0, &fw);
}

/* The unit has the default capabilities, device-TLBs and ecap on top. */
static int bring_up(bool inherit, unsigned int units, uint64_t ecap)
{
	struct model_unit_config cfg;
	struct iommu_be_platform plat = {
		.inherit = inherit,
		.fault_vector = W_FAULT_VECTOR,
	};
	struct iommu_be_config *bc;

	model_unit_config_default(&cfg);
	cfg.ecap |= VTD_ECAP_DT | ecap;
	/* An unanswered device-TLB invalidation times out in 2 s, not 60. */
	cfg.ite_timeout_ns = 2000 * W_MS;
	model_add_unit(W_UNIT_BASE, &cfg);
	model_add_endpoint(0, W_ATS, 0);
	model_add_endpoint(0, W_CARD_ATS, 0);
	model_add_endpoint(0, W_ATS6, 0);
	model_add_endpoint(0, W_ATS7, 0);
	if (inherit) {
		old_life();
	}
	pci_fake_clock(model_now);
	pci_fake_dma_sink(sink, NULL);
	topology();
	assert_int_equal(pci_host_add_range(&W.host, 0, 0, 0xff), 0);
	assert_int_equal(pci_enumerate(&W.host), 0);
	dmar_table();
	bc = iommu_be_config_new();
	assert_non_null(bc);
	W_IM.fault_limit = 64;
	assert_int_equal(iommu_ats_allow(&W_IM, 0, 1, 0), 0);
	assert_int_equal(iommu_ats_allow(&W_IM, 0, 3, 0), 0);
	assert_int_equal(iommu_ats_allow(&W_IM, 0, 6, 0), 0);
	assert_int_equal(iommu_ats_allow(&W_IM, 0, 7, 0), 0);
	iommu_init(&W_IM, &W.dmar, &W.host, bc, &plat);
	assert_int_equal(W_IM.live_units, units);
	W.objects = pci_alloc_live;
	return 0;
}

static int setup_with(uint64_t ecap)
{
	memset(&W, 0, sizeof(W));
	W.baseline = pci_alloc_live;
	memset(dma_byte, 0, sizeof(dma_byte));
	model_init();
	pci_cfg_reset();
	pci_log_reset();
	pci_alloc_fail_after = -1;
	return bring_up(false, 1, ecap);
}

int w_setup(void **state)
{
	return setup_with(0);
}

int w_setup_scalable(void **state)
{
	return setup_with(VTD_ECAP_SMTS | VTD_ECAP_SLTS | VTD_ECAP_FLTS |
			  VTD_ECAP_NEST | VTD_ECAP_PASID |
			  field_set64(VTD_ECAP_PSS, 0, 19));
}

int w_setup_fl_only(void **state)
{
	return setup_with(VTD_ECAP_SMTS | VTD_ECAP_FLTS);
}

int w_setup_absent(void **state)
{
	memset(&W, 0, sizeof(W));
	W.baseline = pci_alloc_live;
	model_init();
	pci_cfg_reset();
	pci_log_reset();
	pci_alloc_fail_after = -1;
	return bring_up(false, 0, 0);
}

int w_setup_kexec(void **state)
{
	memset(&W, 0, sizeof(W));
	W.baseline = pci_alloc_live;
	memset(dma_byte, 0, sizeof(dma_byte));
	model_init();
	pci_cfg_reset();
	pci_log_reset();
	pci_alloc_fail_after = -1;
	return bring_up(true, 1, 0);
}

int w_teardown(void **state)
{
	struct iommu_be_config *bc = W_IM.cfg;
	unsigned int i;

	if (getenv("ISO_LOG")) {
		pci_log_dump();
	}
	iommu_fini(&W_IM);
	iommu_be_config_free(bc);
	for (i = 0; i < 6 && W.old_pages[i]; i++) {
		hw_page_free(W.old_pages[i]);
	}
	pci_host_clear(&W.host);
	if (model_violations()) {
		fail_msg("model: %u violations", model_violations());
	}
	assert_int_equal(model_table_pages(), 0);
	assert_int_equal(pci_alloc_live, W.baseline);
	model_fini();
	return 0;
}

struct pci_dev *w_dev(rid_t rid)
{
	struct pci_dev *d =
		pci_find_dev(&W.host, 0, rid_bus(rid), rid_devfn(rid));

	assert_non_null(d);
	return d;
}

void w_dma(rid_t rid, uint64_t addr, uint8_t byte, uint32_t len,
	   uint64_t duration_ns)
{
	rid_t ids[IOMMU_SIDS_MAX];
	unsigned int i, n = pci_dma_aliases(w_dev(rid), ids, IOMMU_SIDS_MAX);
	uint16_t cmd;

	/* What it carries, whichever requester id the IOMMU sees. */
	for (i = 0; i < n; i++) {
		dma_byte[rid_val(ids[i])] = byte;
	}
	cmd = (uint16_t)pci_cfg_get(W.cfg[rid_val(rid)], PCI_COMMAND, 2);
	pci_cfg_put16(W.cfg[rid_val(rid)], PCI_COMMAND,
		      cmd | PCI_COMMAND_MASTER);
	assert_true(pci_fake_dma_start(W.cfg[rid_val(rid)], addr, len,
				       duration_ns));
}

static void on_removing(void *ctx, struct pci_dev *d)
{
	iommu_device_removing(&W_IM, d);
}

static void on_removed(void *ctx, struct pci_dev *d, bool surprise)
{
	iommu_device_removed(&W_IM, d);
}

static void on_added(void *ctx, struct pci_dev *d)
{
	iommu_device_added(&W_IM, d);
}

static const struct pci_hotplug_ops ops = {
	.removing = on_removing,
	.removed = on_removed,
	.added = on_added,
};

void w_run(uint64_t ns)
{
	uint64_t end = model_now() + ns;

	do {
		pci_hotplug_poll(&W.host, &ops, NULL);
		iommu_poll(&W_IM);
		pci_fake_tick();
		model_advance(W_MS);
	} while (model_now() < end);
}

uint8_t w_byte(uint64_t hpa)
{
	return *(uint8_t *)hw_phys_to_virt(hpa);
}

struct iommu_owner *w_guest(const char *name, uint64_t *hpa)
{
	struct iommu_owner *o;

	assert_int_equal(iommu_owner_new(&W_IM, name, &o), 0);
	*hpa = model_ram_alloc(W_LEN, W_LEN);
	memset(hw_phys_to_virt(*hpa), 0, W_LEN);
	assert_int_equal(iommu_map(&W_IM, o, o->dom_id, iova_make(W_GPA),
				   hpa_make(*hpa), W_LEN,
				   IOMMU_PROT_READ | IOMMU_PROT_WRITE),
			 0);
	model_expect_map(o, W_GPA, *hpa, W_LEN,
			 IOMMU_PROT_READ | IOMMU_PROT_WRITE);
	return o;
}

void w_guest_del(struct iommu_owner *o)
{
	assert_int_equal(
		iommu_unmap(&W_IM, o, o->dom_id, iova_make(W_GPA), W_LEN), 0);
	model_expect_unmap(o, W_GPA, W_LEN);
	iommu_owner_del(&W_IM, o);
}

unsigned int w_domain(uint64_t *hpa)
{
	unsigned int id;

	assert_int_equal(iommu_domain_new(&W_IM, NULL, &id), 0);
	*hpa = model_ram_alloc(W_LEN, W_LEN);
	memset(hw_phys_to_virt(*hpa), 0, W_LEN);
	assert_int_equal(iommu_map(&W_IM, NULL, id, iova_make(W_GPA),
				   hpa_make(*hpa), W_LEN,
				   IOMMU_PROT_READ | IOMMU_PROT_WRITE),
			 0);
	assert_true(id < sizeof(console_owner));
	model_expect_map(&console_owner[id], W_GPA, *hpa, W_LEN,
			 IOMMU_PROT_READ | IOMMU_PROT_WRITE);
	return id;
}

static void expect_attach(struct pci_dev *d, const void *owner)
{
	rid_t sids[IOMMU_SIDS_MAX];
	unsigned int i, n = pci_dma_aliases(d, sids, IOMMU_SIDS_MAX);

	for (i = 0; i < n; i++) {
		if (owner) {
			model_expect_attach(0, sids[i], owner);
		} else {
			model_expect_detach(0, sids[i]);
		}
	}
}

struct iommu_hold *w_assign(struct iommu_owner *o, rid_t rid)
{
	return w_assign_force(o, rid, false);
}

struct iommu_hold *w_assign_force(struct iommu_owner *o, rid_t rid, bool force)
{
	struct iommu_hold *h = NULL;
	const char *why;
	int ret = iommu_assign(&W_IM, o, w_dev(rid), force, &h, &why);

	if (ret) {
		fail_msg("assign %04x to %s: %d (%s)", rid, o->name, ret,
			 why ? why : "");
	}
	expect_attach(h->dev, o);
	return h;
}

void w_attach(rid_t rid, unsigned int id)
{
	const char *why = NULL;
	int ret = iommu_attach(&W_IM, w_dev(rid), id, &why);

	if (ret) {
		fail_msg("attach %04x to %u: %d (%s)", rid, id, ret,
			 why ? why : "");
	}
	expect_attach(w_dev(rid), &console_owner[id]);
}

void w_unassign(struct iommu_hold *h)
{
	if (!pci_dev_is_gone(h->dev)) {
		expect_attach(h->dev, NULL);
	}
	iommu_unassign(&W_IM, h);
}

unsigned int w_log(enum log_level level, const char *text)
{
	return pci_log_count(level, text);
}
