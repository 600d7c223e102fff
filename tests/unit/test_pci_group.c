#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/pci/hotplug.h"
#include "drivers/pci/pci.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/pci_fake.h"

/*
 * Isolation groups from topology: requester-id aliases, bridges that do
 * not isolate, multi-function devices without ACS, ACS turned on where
 * implemented, and group identity across hot-plug.
 */

#define EXP PCI_CFG_PORT_EXP
#define ACS 0x100U
#define ACS_PORT \
	(PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)
#define MS UINT64_C(1000000)

static struct pci_host host;

static int setup(void **state)
{
	pci_cfg_reset();
	pci_log_reset();
	memset(&host, 0, sizeof(host));
	pci_alloc_fail_after = -1;
	return 0;
}

static int teardown(void **state)
{
	pci_host_clear(&host);
	assert_int_equal(pci_alloc_live, 0);
	return 0;
}

/* A port implementing ACS (caps), Control as firmware left it (ctrl). */
static uint8_t *acs_port(uint8_t bus, uint8_t devfn, uint8_t type, uint8_t sec,
			 uint8_t sub, uint16_t caps, uint16_t ctrl)
{
	uint8_t *cfg = pci_cfg_add_port(bus, devfn, type, sec, sub);

	pci_cfg_acs(cfg, ACS, 0, caps, ctrl);
	return cfg;
}

/* A conventional PCI function. */
static uint8_t *conv(uint8_t bus, unsigned int dev, unsigned int fn,
		     bool multifunction)
{
	return pci_cfg_add(0, bus, pci_devfn(dev, fn), 0x1234, 0x11e8, 0x00ff00,
			   multifunction ? PCI_HEADER_TYPE_MFD : 0);
}

/* A PCIe endpoint, with ACS when caps is not 0xffff. */
static uint8_t *endpoint(uint8_t bus, unsigned int dev, unsigned int fn,
			 bool multifunction, uint16_t caps, uint16_t ctrl)
{
	uint8_t *cfg = conv(bus, dev, fn, multifunction);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, EXP);
	pci_cfg_pcie(cfg, EXP, PCI_EXP_TYPE_ENDPOINT, 0);
	if (caps != 0xffff) {
		pci_cfg_acs(cfg, ACS, 0, caps, ctrl);
	}
	return cfg;
}

static void enumerate(void)
{
	assert_int_equal(pci_host_add_range(&host, 0, 0, 0xff), 0);
	assert_int_equal(pci_enumerate(&host), 0);
}

/* "BB:DD.F BB:DD.F | BB:DD.F ..." for every group, by id. */
static const char *groups_str(void)
{
	static char buf[4096];
	const struct pci_group *g;
	const struct pci_dev *d;
	size_t n = 0;

	buf[0] = '\0';
	pci_for_each_group(&host, g)
	{
		unsigned int count = 0;

		if (n) {
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " | ");
		}
		pci_group_for_each_dev(g, d)
		{
			assert_ptr_equal(pci_group_of(d), g);
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "%s%02x:%02x.%x",
					      count ? " " : "", d->bus,
					      rid_devfn_device(d->devfn),
					      rid_devfn_function(d->devfn));
			count++;
		}
		assert_int_equal(count, g->dev_count);
	}
	return buf;
}

static struct pci_dev *dev(uint8_t bus, unsigned int slot, unsigned int fn)
{
	struct pci_dev *d = pci_find_dev(&host, 0, bus, pci_devfn(slot, fn));

	assert_non_null(d);
	return d;
}

static unsigned int group_id(uint8_t bus, unsigned int slot, unsigned int fn)
{
	return pci_group_of(dev(bus, slot, fn))->id;
}

static void test_conventional_multifunction_shares(void **state)
{
	pci_cfg_add(0, 0, pci_devfn(0, 0), 0x8086, 0x29c0, 0x060000, 0);
	conv(0, 3, 0, false);
	conv(0, 6, 0, true);
	conv(0, 6, 1, false); /* functions 1-7 need not repeat the MFD bit */
	enumerate();
	assert_string_equal(groups_str(),
			    "00:00.0 | 00:03.0 | 00:06.0 00:06.1");
	assert_int_equal(group_id(0, 0, 0), 1);
	assert_int_equal(group_id(0, 6, 1), 3);
}

static void test_pcie_multifunction_with_and_without_acs(void **state)
{
	uint8_t *f;

	/* No ACS capability: one group. */
	endpoint(0, 2, 0, true, 0xffff, 0);
	endpoint(0, 2, 1, true, 0xffff, 0);
	/* ACS implemented but off: enumeration turns it on; isolated. */
	f = endpoint(0, 3, 0, true, PCI_ACS_RR | PCI_ACS_CR, 0);
	endpoint(0, 3, 1, true, PCI_ACS_RR | PCI_ACS_CR, 0);
	/* ACS implementing no redirect: no peer-to-peer path; isolated. */
	endpoint(0, 4, 0, true, 0, 0);
	endpoint(0, 4, 1, true, 0, 0);
	/* One function isolated, two not: those two share. */
	endpoint(0, 5, 0, true, PCI_ACS_RR | PCI_ACS_CR, 0);
	endpoint(0, 5, 1, true, 0xffff, 0);
	endpoint(0, 5, 2, true, 0xffff, 0);
	enumerate();
	assert_int_equal(pci_cfg_get(f, ACS + PCI_ACS_CTRL, 2),
			 PCI_ACS_RR | PCI_ACS_CR);
	assert_string_equal(groups_str(),
			    "00:02.0 00:02.1 | 00:03.0 | 00:03.1 | 00:04.0 | "
			    "00:04.1 | 00:05.0 | 00:05.1 00:05.2");
}

/*
 * A PCIe-to-PCI bridge below a root port with ACS: the bridge and its
 * conventional devices (which all reach the IOMMU as its alias) are one
 * group; the root port is alone.
 */
static void test_behind_pcie_to_pci_bridge(void **state)
{
	uint8_t *rp;

	rp = acs_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 2,
		      ACS_PORT, 0);
	pci_cfg_add_port(1, pci_devfn(0, 0), PCI_EXP_TYPE_PCI_BRIDGE, 2, 2);
	conv(2, 1, 0, false);
	conv(2, 2, 0, false);
	enumerate();
	/* SV, RR, CR and UF on; Translation Blocking left alone. */
	assert_int_equal(pci_cfg_get(rp, ACS + PCI_ACS_CTRL, 2),
			 PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
	assert_string_equal(groups_str(), "00:04.0 | 01:00.0 02:01.0 02:02.0");
}

static void test_conventional_bridge_subtree(void **state)
{
	pci_cfg_add_bridge(0, 0, pci_devfn(1, 0), 0, 1, 2);
	pci_cfg_add_bridge(0, 1, pci_devfn(0, 0), 1, 2, 2);
	conv(1, 1, 0, false);
	conv(2, 0, 0, false);
	conv(0, 2, 0, false);
	enumerate();
	assert_string_equal(groups_str(),
			    "00:01.0 01:00.0 01:01.0 02:00.0 | 00:02.0");
}

static void test_root_ports_with_and_without_acs(void **state)
{
	/* ACS: the endpoint has a group of its own. */
	acs_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 1, ACS_PORT, 0);
	conv(1, 0, 0, false);
	/* No ACS capability: port and endpoint together. */
	pci_cfg_add_port(0, pci_devfn(5, 0), PCI_EXP_TYPE_ROOT_PORT, 2, 2);
	conv(2, 0, 0, false);
	/* ACS without Source Validation (required): not isolating. */
	acs_port(0, pci_devfn(6, 0), PCI_EXP_TYPE_ROOT_PORT, 3, 3,
		 PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF, 0);
	conv(3, 0, 0, false);
	/* ACS with only Source Validation: the others have no path. */
	acs_port(0, pci_devfn(7, 0), PCI_EXP_TYPE_ROOT_PORT, 4, 4, PCI_ACS_SV,
		 0);
	conv(4, 0, 0, false);
	enumerate();
	assert_string_equal(groups_str(),
			    "00:04.0 | 00:05.0 02:00.0 | 00:06.0 03:00.0 | "
			    "00:07.0 | 01:00.0 | 04:00.0");
}

/* Control bits firmware set and that cannot be changed still count. */
static void test_acs_control_read_only(void **state)
{
	uint8_t *rp;

	rp = acs_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 1,
		      ACS_PORT, 0);
	pci_cfg_writable(rp, ACS + PCI_ACS_CTRL, 2, 0);
	conv(1, 0, 0, false);
	enumerate();
	/* The write did not stick: not isolating. */
	assert_string_equal(groups_str(), "00:04.0 01:00.0");
}

/*
 * A switch: downstream ports with ACS isolate their endpoints, one without
 * joins its endpoint; a root port without ACS above takes all of it.
 */
static void test_switch(void **state)
{
	acs_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 4, ACS_PORT, 0);
	pci_cfg_add_port(1, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 2, 4);
	acs_port(2, pci_devfn(0, 0), PCI_EXP_TYPE_DOWNSTREAM, 3, 3, ACS_PORT,
		 0);
	pci_cfg_add_port(2, pci_devfn(1, 0), PCI_EXP_TYPE_DOWNSTREAM, 4, 4);
	endpoint(3, 0, 0, false, 0xffff, 0);
	endpoint(4, 0, 0, false, 0xffff, 0);
	pci_cfg_add_port(0, pci_devfn(5, 0), PCI_EXP_TYPE_ROOT_PORT, 5, 7);
	pci_cfg_add_port(5, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 6, 7);
	acs_port(6, pci_devfn(0, 0), PCI_EXP_TYPE_DOWNSTREAM, 7, 7, ACS_PORT,
		 0);
	endpoint(7, 0, 0, false, 0xffff, 0);
	enumerate();
	assert_string_equal(groups_str(),
			    "00:04.0 | 00:05.0 05:00.0 06:00.0 07:00.0 | "
			    "01:00.0 | 02:00.0 | 02:01.0 04:00.0 | 03:00.0");
}

static void ignore_dev(void *ctx, struct pci_dev *d)
{
}

static void ignore_removed(void *ctx, struct pci_dev *d, bool surprise)
{
}

static const struct pci_hotplug_ops ignore = {
	.removing = ignore_dev,
	.removed = ignore_removed,
	.added = ignore_dev,
};

/* Polls every millisecond until s is ACTIVE, at most 1 s. */
static void poll_until_active(const struct pci_slot *s)
{
	unsigned int ms;

	for (ms = 0; ms < 1000 && s->state != PCI_SLOT_ACTIVE; ms++) {
		pci_hotplug_poll(&host, &ignore, NULL);
		pci_fake_now_ns += MS;
	}
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
}

/* Root port 00:DD.0 leading to bus sec, a slot with card 'sec:00.0'. */
static int slot_with_card(unsigned int dev, uint8_t sec, bool acs)
{
	uint8_t *rp =
		acs ? acs_port(0, pci_devfn(dev, 0), PCI_EXP_TYPE_ROOT_PORT,
			       sec, sec, ACS_PORT, 0)
		    : pci_cfg_add_port(0, pci_devfn(dev, 0),
				       PCI_EXP_TYPE_ROOT_PORT, sec, sec);
	int slot = pci_fake_slot(rp, EXP,
				 PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP |
					 PCI_EXP_SLTCAP_HPC,
				 dev);

	pci_fake_slot_card(slot, conv(sec, 0, 0, false));
	return slot;
}

/* Groups keep their ids across hot-plug; a new member joins by topology. */
static void test_ids_stable_across_hotplug(void **state)
{
	unsigned int mf, lone, port2;
	struct pci_slot *s1, *s2;
	int slot1, slot2;

	conv(0, 6, 0, true);
	conv(0, 6, 1, false);
	slot1 = slot_with_card(4, 1, true);
	pci_fake_slot_boot(slot1);
	/* A port without ACS: its card will join the port's group. */
	slot2 = slot_with_card(5, 2, false);
	conv(0, 7, 0, false);
	enumerate();
	s1 = pci_find_slot(&host, 0, 0, pci_devfn(4, 0));
	s2 = pci_find_slot(&host, 0, 0, pci_devfn(5, 0));
	assert_string_equal(
		groups_str(),
		"00:04.0 | 00:05.0 | 00:06.0 00:06.1 | 00:07.0 | 01:00.0");
	mf = group_id(0, 6, 0);
	lone = group_id(0, 7, 0);
	port2 = group_id(0, 5, 0);

	pci_fake_slot_pull(slot1);
	pci_fake_slot_insert(slot2, true);
	poll_until_active(s2);
	assert_string_equal(
		groups_str(),
		"00:04.0 | 00:05.0 02:00.0 | 00:06.0 00:06.1 | 00:07.0");
	assert_int_equal(group_id(0, 6, 0), mf);
	assert_int_equal(group_id(0, 7, 0), lone);
	assert_int_equal(group_id(2, 0, 0), port2);
	/* The card back in slot 1: a new group, a new id. */
	pci_fake_slot_insert(slot1, true);
	poll_until_active(s1);
	assert_int_equal(group_id(1, 0, 0), 6);
	assert_int_equal(group_id(0, 6, 1), mf);
}

/*
 * Out of memory when groups are recomputed after a removal: the removed
 * device has left its group already, every other group is as it was.
 */
static void test_out_of_memory_keeps_groups(void **state)
{
	struct pci_dev *d;
	int slot;

	conv(0, 6, 0, true);
	conv(0, 6, 1, false);
	slot = slot_with_card(5, 2, false);
	pci_fake_slot_boot(slot);
	enumerate();
	assert_string_equal(groups_str(), "00:05.0 02:00.0 | 00:06.0 00:06.1");
	d = pci_get_dev(&host, 0, 2, pci_devfn(0, 0));
	pci_fake_slot_pull(slot);
	pci_alloc_fail_after = 0;
	pci_hotplug_poll(&host, &ignore, NULL);
	pci_alloc_fail_after = -1;
	assert_true(pci_dev_is_gone(d));
	assert_null(pci_group_of(d));
	assert_string_equal(groups_str(), "00:05.0 | 00:06.0 00:06.1");
	assert_int_equal(pci_log_count(LOG_ERR, "groups not recomputed"), 1);
	pci_dev_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_conventional_multifunction_shares),
		T(test_pcie_multifunction_with_and_without_acs),
		T(test_behind_pcie_to_pci_bridge),
		T(test_conventional_bridge_subtree),
		T(test_root_ports_with_and_without_acs),
		T(test_acs_control_read_only),
		T(test_switch),
		T(test_ids_stable_across_hotplug),
		T(test_out_of_memory_keeps_groups),
#undef T
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
