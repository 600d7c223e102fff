#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "drivers/pci/hotplug.h"
#include "drivers/pci/pci.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/pci_fake.h"

/*
 * Device objects and PCIe native hot-plug over modelled slots: reference
 * counts across removal and re-plug, orderly and surprise removal, hot-add
 * with BAR placement, and every deadline of the slot state machine, all on
 * a virtual clock.
 */

#define MS	     UINT64_C(1000000)
#define WINDOW_BASE  0xc1000000U
#define WINDOW_LIMIT 0xc11fffffU
#define SLOT_CAPS                                                       \
	(PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP | \
	 PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPS | PCI_EXP_SLTCAP_HPC)
#define EXP PCI_CFG_PORT_EXP

static struct pci_host host;

/* What the owner was told, in order. */
static struct told {
	char what; /* 'r' removing, 'g' removed (gone), 'a' added */
	struct pci_dev *d;
	uint64_t gen;
	bool surprise;
	bool powered;		/* slot power when told */
	bool answered;		/* the device read its Vendor ID when told */
	uint16_t cmd;		/* its Command register when told */
	unsigned long accesses; /* to the card's function 0 when told */
} told[128];
static unsigned int told_count;
static int watched_slot = -1; /* fake slot whose power is recorded */
static uint8_t *watched_fn;   /* card function whose accesses are counted */
static struct pci_dev *keep;  /* removed() takes a reference on it */

static void record(char what, struct pci_dev *d, bool surprise)
{
	struct told *t = &told[told_count++];

	assert_true(told_count < 128);
	t->what = what;
	t->d = d;
	t->gen = d->gen;
	t->surprise = surprise;
	t->powered =
		watched_slot >= 0 && pci_fake_slot_stats(watched_slot)->powered;
	t->accesses = watched_fn ? pci_cfg_accesses(watched_fn) : 0;
	if (what == 'r') {
		t->answered = hw_pci_read16(d->seg, d->bus, d->devfn,
					    PCI_VENDOR_ID) != 0xffff;
		t->cmd = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_COMMAND);
	}
}

static void on_removing(void *ctx, struct pci_dev *d)
{
	assert_int_equal(d->state, PCI_DEV_REMOVING);
	assert_ptr_equal(pci_find_dev(&host, d->seg, d->bus, d->devfn), NULL);
	record('r', d, false);
}

static void on_removed(void *ctx, struct pci_dev *d, bool surprise)
{
	assert_int_equal(d->state, PCI_DEV_GONE);
	assert_int_equal(d->surprise, surprise);
	assert_null(d->next);
	assert_null(pci_group_of(d));
	if (keep == d) {
		pci_dev_get(d);
	}
	record('g', d, surprise);
}

static void on_added(void *ctx, struct pci_dev *d)
{
	assert_true(pci_dev_present(d));
	assert_non_null(pci_group_of(d));
	record('a', d, false);
}

static const struct pci_hotplug_ops ops = {
	.removing = on_removing,
	.removed = on_removed,
	.added = on_added,
};

static int setup(void **state)
{
	pci_cfg_reset();
	pci_log_reset();
	memset(&host, 0, sizeof(host));
	memset(told, 0, sizeof(told));
	told_count = 0;
	watched_slot = -1;
	watched_fn = NULL;
	keep = NULL;
	pci_alloc_fail_after = -1;
	return 0;
}

static int teardown(void **state)
{
	pci_host_clear(&host);
	assert_int_equal(pci_alloc_live, 0);
	return 0;
}

/* ---- topology ----------------------------------------------------------- */

/* Root port 00:04.0 leading to bus 1, a hot-plug slot with a memory window. */
static int root_slot(uint8_t **port_cfg)
{
	uint8_t *cfg = pci_cfg_add_port(0, pci_devfn(4, 0),
					PCI_EXP_TYPE_ROOT_PORT, 1, 1);

	pci_cfg_window(cfg, WINDOW_BASE, WINDOW_LIMIT);
	if (port_cfg) {
		*port_cfg = cfg;
	}
	return pci_fake_slot(cfg, EXP, SLOT_CAPS, 1);
}

/* An edu-like card for slot: 01:DD.fn with a 1 MiB 32-bit memory BAR 0. */
static uint8_t *card_fn(int slot, unsigned int fn, bool multifunction)
{
	uint8_t *cfg =
		pci_cfg_add(0, 1, pci_devfn(0, fn), 0x1234, 0x11e8, 0x00ff00,
			    multifunction ? PCI_HEADER_TYPE_MFD : 0);

	pci_cfg_bar(cfg, 0, 0x100000, 0);
	pci_fake_slot_card(slot, cfg);
	return cfg;
}

static void enumerate(void)
{
	assert_int_equal(pci_host_add_range(&host, 0, 0, 0xff), 0);
	assert_int_equal(pci_enumerate(&host), 0);
}

static struct pci_slot *slot_of(uint8_t bus, unsigned int dev)
{
	struct pci_slot *s = pci_find_slot(&host, 0, bus, pci_devfn(dev, 0));

	assert_non_null(s);
	return s;
}

static void poll(void)
{
	pci_hotplug_poll(&host, &ops, NULL);
}

/* Polls once per millisecond of virtual time, ms times. */
static void poll_for(unsigned int ms)
{
	unsigned int i;

	for (i = 0; i < ms; i++) {
		poll();
		pci_fake_now_ns += MS;
	}
}

static bool transient(const struct pci_slot *s)
{
	return s->state == PCI_SLOT_POWERING || s->state == PCI_SLOT_SETTLING ||
	       s->state == PCI_SLOT_PROBING;
}

/* Polls every millisecond until the slot settles; returns the ms taken. */
static unsigned int poll_until_settled(const struct pci_slot *s)
{
	unsigned int ms;

	poll();
	for (ms = 0; transient(s) && ms < 10000; ms++) {
		pci_fake_now_ns += MS;
		poll();
	}
	assert_false(transient(s));
	return ms;
}

static unsigned int count_told(char what)
{
	unsigned int i, n = 0;

	for (i = 0; i < told_count; i++) {
		n += told[i].what == what;
	}
	return n;
}

static struct pci_dev *find(uint8_t bus, unsigned int dev, unsigned int fn)
{
	return pci_find_dev(&host, 0, bus, pci_devfn(dev, fn));
}

/* ---- device objects ----------------------------------------------------- */

static void test_refs_and_generations(void **state)
{
	struct pci_dev *a, *b, *d;
	uint64_t last = 0;

	pci_cfg_add(0, 0, pci_devfn(0, 0), 0x8086, 0x29c0, 0x060000, 0);
	pci_cfg_add(0, 0, pci_devfn(1, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	enumerate();
	pci_for_each_dev (&host, d) {
		assert_int_equal(d->refs, 1);
		assert_true(d->gen > last);
		last = d->gen;
	}
	a = pci_get_dev(&host, 0, 0, pci_devfn(1, 0));
	b = pci_get_dev(&host, 0, 0, pci_devfn(1, 0));
	assert_ptr_equal(a, b);
	assert_int_equal(a->refs, 3);
	assert_null(pci_get_dev(&host, 0, 0, pci_devfn(2, 0)));
	pci_dev_put(a);
	pci_dev_put(b);
	assert_int_equal(a->refs, 1);
}

static void test_clear_keeps_referenced_objects(void **state)
{
	struct pci_dev *d, *rp;
	long live;

	pci_cfg_add_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 1);
	pci_cfg_add(0, 1, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	enumerate();
	d = pci_get_dev(&host, 0, 1, pci_devfn(0, 0));
	rp = d->parent;
	live = pci_alloc_live;
	pci_host_clear(&host);
	assert_null(host.devs);
	/* d and its bridge (which d holds) outlive the host's list. */
	assert_true(pci_dev_is_gone(d));
	assert_true(pci_dev_is_gone(rp));
	assert_int_equal(rp->refs, 1);
	assert_false(pci_dev_present(d));
	assert_true(pci_alloc_live > 0 && pci_alloc_live < live);
	pci_dev_put(d);
	assert_int_equal(pci_alloc_live, 0);
}

static void test_remove_while_referenced_then_replug(void **state)
{
	struct pci_dev *old, *fresh;
	unsigned long seen;
	uint8_t *fn0;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	enumerate();
	old = pci_get_dev(&host, 0, 1, pci_devfn(0, 0));
	assert_non_null(old);

	pci_fake_slot_pull(slot);
	poll();
	assert_true(pci_dev_is_gone(old));
	assert_true(old->surprise);
	assert_int_equal(old->refs, 1);
	assert_null(find(1, 0, 0));
	/* Kept alive, never touched again. */
	seen = pci_cfg_accesses(fn0);
	assert_false(pci_dev_present(old));
	poll_for(5);

	/* The same card comes back at the same address: a new object. */
	pci_fake_slot_insert(slot, true);
	poll_until_settled(slot_of(0, 4));
	fresh = find(1, 0, 0);
	assert_non_null(fresh);
	assert_ptr_not_equal(fresh, old);
	assert_true(fresh->gen > old->gen);
	assert_true(pci_dev_is_gone(old));
	assert_int_equal(old->bus, 1);
	assert_true(pci_cfg_accesses(fn0) > seen); /* the new object's */
	seen = pci_cfg_accesses(fn0);
	pci_dev_put(old);
	assert_int_equal(pci_cfg_accesses(fn0), seen);
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
}

/* ---- removal ------------------------------------------------------------- */

static void test_orderly_removal_order(void **state)
{
	uint16_t on = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	uint8_t *fn0, *fn1;
	struct pci_dev *d0;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, true);
	fn1 = card_fn(slot, 1, true);
	pci_cfg_put16(fn0, PCI_COMMAND, on);
	pci_cfg_put16(fn1, PCI_COMMAND, on);
	pci_fake_slot_card(slot, fn0);
	pci_fake_slot_card(slot, fn1);
	pci_fake_slot_boot(slot);
	enumerate();
	watched_slot = slot;
	d0 = find(1, 0, 0);
	assert_int_equal(slot_of(0, 4)->state, PCI_SLOT_ACTIVE);

	/* QEMU's device_del: the button, nothing else. */
	pci_fake_slot_button(slot);
	poll();
	/* Told while powered and answering, bus mastering already off ... */
	assert_int_equal(told_count, 4);
	assert_int_equal(told[0].what, 'r');
	assert_ptr_equal(told[0].d, d0);
	assert_int_equal(told[1].what, 'r');
	assert_true(told[0].powered && told[0].answered);
	assert_true(told[1].powered && told[1].answered);
	assert_false(told[0].cmd & PCI_COMMAND_MASTER);
	assert_true(told[0].cmd & PCI_COMMAND_MEMORY);
	/* ... then gone once the power is off. */
	assert_int_equal(told[2].what, 'g');
	assert_int_equal(told[3].what, 'g');
	assert_false(told[2].surprise || told[3].surprise);
	assert_false(told[2].powered);
	assert_null(find(1, 0, 0));
	assert_null(find(1, 0, 1));
	assert_int_equal(pci_fake_slot_stats(slot)->unplugs, 1);
	assert_int_equal(slot_of(0, 4)->state, PCI_SLOT_EMPTY);
	/* Nothing more happens. */
	poll_for(10);
	assert_int_equal(told_count, 4);
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
	assert_int_equal(
		pci_log_count(LOG_INFO, "0000:00:04.0: orderly removal"), 1);
}

/* Boots with a card, then makes it vanish by way; checks a blind removal. */
static void surprise_case(void (*vanish)(int slot, uint8_t *fn0))
{
	uint8_t *fn0;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	pci_fake_slot_options(slot, false, false);
	enumerate();
	watched_slot = slot;
	watched_fn = fn0;
	vanish(slot, fn0);
	poll();
	assert_int_equal(told_count, 1);
	assert_int_equal(told[0].what, 'g');
	assert_true(told[0].surprise);
	assert_null(find(1, 0, 0));
	/* Powered off after the owner was told; the device untouched since. */
	assert_true(told[0].powered);
	assert_false(pci_fake_slot_stats(slot)->powered);
	poll_for(20);
	assert_int_equal(pci_cfg_accesses(fn0), told[0].accesses);
	assert_int_equal(told_count, 1);
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
	assert_int_equal(pci_log_count(LOG_INFO, "surprise removal"), 1);
}

static void pull(int slot, uint8_t *fn0)
{
	pci_fake_slot_pull(slot);
}

static void link_down(int slot, uint8_t *fn0)
{
	pci_fake_slot_link_ok(slot, false);
}

static void config_dead(int slot, uint8_t *fn0)
{
	pci_cfg_dead(fn0, true);
}

static void test_surprise_card_pulled(void **state)
{
	surprise_case(pull);
	assert_int_equal(slot_of(0, 4)->state, PCI_SLOT_EMPTY);
}

/*
 * docs/scenarios.md, silent-link-loss: the link drops, presence stays, no
 * event at all.
 */
static void test_surprise_link_down_without_event(void **state)
{
	surprise_case(link_down);
	assert_int_equal(slot_of(0, 4)->state, PCI_SLOT_OFF);
}

static void test_surprise_config_all_ones(void **state)
{
	surprise_case(config_dead);
	assert_int_equal(slot_of(0, 4)->state, PCI_SLOT_OFF);
}

/* slot poweroff: the power goes, no one is told first; QEMU unplugs. */
static void test_surprise_by_power_off(void **state)
{
	struct pci_slot *s;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	enumerate();
	s = slot_of(0, 4);
	pci_slot_power_off(&host, s);
	assert_int_equal(told_count, 0);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	poll();
	assert_int_equal(told_count, 1);
	assert_true(told[0].surprise);
	assert_int_equal(s->state, PCI_SLOT_EMPTY);
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
}

/* A button whose function went away meanwhile: no removing() for it. */
static void test_button_on_dead_card_is_a_surprise(void **state)
{
	uint8_t *fn0;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	enumerate();
	pci_fake_slot_button(slot);
	pci_cfg_dead(fn0, true);
	poll();
	assert_int_equal(count_told('r'), 0);
	assert_int_equal(count_told('g'), 1);
	assert_true(told[0].surprise);
}

/*
 * A button on a card with a switch whose inner link dropped with no event:
 * the function behind it is not present, so the removal is a surprise and
 * nobody is asked to touch it.
 */
static void test_button_with_inner_link_down_is_a_surprise(void **state)
{
	uint8_t *rp, *usp, *dsp, *ep;
	int slot;

	rp = pci_cfg_add_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 3);
	slot = pci_fake_slot(rp, EXP, SLOT_CAPS, 1);
	usp = pci_cfg_add_port(1, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 2, 3);
	dsp = pci_cfg_add_port(2, pci_devfn(0, 0), PCI_EXP_TYPE_DOWNSTREAM, 3,
			       3);
	pci_fake_link(dsp, true);
	ep = pci_cfg_add(0, 3, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_fake_slot_card(slot, usp);
	pci_fake_slot_card(slot, dsp);
	pci_fake_slot_card(slot, ep);
	pci_fake_slot_boot(slot);
	enumerate();
	assert_non_null(find(3, 0, 0));
	pci_fake_link(dsp, false);
	pci_fake_slot_button(slot);
	poll();
	assert_int_equal(count_told('r'), 0);
	assert_int_equal(count_told('g'), 3);
	assert_true(told[0].surprise);
}

/* Removal with the owner holding a reference taken in removed(). */
static void test_owner_reference_outlives_removal(void **state)
{
	struct pci_dev *d;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	enumerate();
	d = keep = find(1, 0, 0);
	pci_fake_slot_button(slot);
	poll();
	assert_true(pci_dev_is_gone(d));
	assert_false(d->surprise);
	assert_int_equal(d->refs, 1);
	/* Its bridge is alive and so are its parent pointers. */
	assert_int_equal(d->parent->devfn, pci_devfn(4, 0));
	pci_dev_put(d);
}

/* Stale events from before moat looked are not acted on. */
static void test_events_before_boot_ignored(void **state)
{
	uint8_t *rp;
	int slot;

	slot = root_slot(&rp);
	card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	pci_fake_slot_button(slot);
	pci_cfg_put16(rp, EXP + PCI_EXP_SLTCTL,
		      (uint16_t)(pci_cfg_get(rp, EXP + PCI_EXP_SLTCTL, 2) |
				 PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_ABPE));
	enumerate();
	/* Notifications off: nothing here takes hot-plug interrupts. */
	assert_false(pci_cfg_get(rp, EXP + PCI_EXP_SLTCTL, 2) &
		     (PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_ABPE));
	poll_for(5);
	assert_int_equal(told_count, 0);
	assert_non_null(find(1, 0, 0));
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
}

/*
 * QEMU's default ACPI hot-plug: the port says Hot-Plug Capable but its
 * Slot Status shows no card under the device firmware found.  Not moat's.
 */
static void test_firmware_handled_slot_left_alone(void **state)
{
	int slot;

	slot = root_slot(NULL);
	pci_cfg_add(0, 1, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	enumerate();
	assert_null(host.slots);
	assert_int_equal(
		pci_log_count(
			LOG_INFO,
			"0000:00:04.0: slot shows no card below listed functions"),
		1);
	poll_for(10);
	assert_non_null(find(1, 0, 0));
	assert_int_equal(pci_fake_slot_stats(slot)->commands, 0);
}

/* A switch below the slot: all of it goes, its own slots with it. */
static void test_removal_takes_switch_and_its_slots(void **state)
{
	uint8_t *rp, *usp, *dsp, *ep;
	int slot, inner;

	rp = pci_cfg_add_port(0, pci_devfn(4, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 3);
	slot = pci_fake_slot(rp, EXP, SLOT_CAPS, 1);
	usp = pci_cfg_add_port(1, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 2, 3);
	dsp = pci_cfg_add_port(2, pci_devfn(0, 0), PCI_EXP_TYPE_DOWNSTREAM, 3,
			       3);
	inner = pci_fake_slot(dsp, EXP, SLOT_CAPS, 2);
	ep = pci_cfg_add(0, 3, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_fake_slot_card(inner, ep);
	pci_fake_slot_boot(inner);
	pci_fake_slot_card(slot, usp);
	pci_fake_slot_card(slot, dsp);
	pci_fake_slot_boot(slot);
	enumerate();
	assert_non_null(find(3, 0, 0));
	assert_non_null(pci_find_slot(&host, 0, 2, pci_devfn(0, 0)));
	pci_fake_slot_pull(slot);
	poll();
	assert_int_equal(count_told('g'), 3);
	assert_null(host.devs->next);
	assert_null(pci_find_slot(&host, 0, 2, pci_devfn(0, 0)));
	assert_null(host.slots->next);
}

/* ---- hot-add ------------------------------------------------------------- */

static void test_hot_add_assigns_bar_in_window(void **state)
{
	struct pci_slot *s;
	struct pci_dev *d;
	uint64_t bar, t0;
	uint8_t *fn0;
	unsigned int ms;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	assert_int_equal(s->state, PCI_SLOT_EMPTY);
	poll_for(3);
	assert_false(pci_fake_slot_stats(slot)->powered);

	/* QEMU's device_add: presence, its change, and the button. */
	t0 = pci_fake_now_ns;
	pci_fake_slot_insert(slot, true);
	ms = poll_until_settled(s);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	/* §6.6.1: no request before 100 ms after the link came up. */
	assert_true(pci_fake_now_ns - t0 >= 100 * MS);
	assert_true(ms < 110);
	d = find(1, 0, 0);
	assert_non_null(d);
	assert_int_equal(count_told('a'), 1);
	assert_ptr_equal(told[0].d, d);
	assert_int_equal(pci_bar_mem(d, 0, &bar), 0);
	assert_int_equal(bar, WINDOW_BASE);
	assert_int_equal(pci_cfg_get(fn0, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	assert_ptr_equal(pci_slot_dev(&host, s), d);
	/* Listed where boot enumeration would have put it: after bus 0. */
	assert_ptr_equal(host.devs_last, d);
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
}

static void test_hot_add_many_bars(void **state)
{
	uint64_t a0, a1, a2, a3;
	struct pci_dev *f0, *f1;
	uint8_t *rp, *fn0, *fn1;
	int slot;

	slot = root_slot(&rp);
	pci_cfg_pref_window(rp, UINT64_C(0x800000000), UINT64_C(0x8000fffff));
	fn0 = card_fn(slot, 0, true);
	pci_cfg_bar(fn0, 1, 0x4000, 0);
	pci_cfg_bar(fn0, 2, 0x10, PCI_BASE_ADDRESS_SPACE_IO);
	pci_fake_slot_card(slot, fn0);
	fn1 = pci_cfg_add(0, 1, pci_devfn(0, 1), 0x1234, 0x11e9, 0x00ff00,
			  PCI_HEADER_TYPE_MFD);
	/* 64-bit prefetchable: goes to the prefetchable window. */
	pci_cfg_bar(fn1, 0, 0x80000,
		    PCI_BASE_ADDRESS_MEM_TYPE_64 << 1 |
			    PCI_BASE_ADDRESS_MEM_PREFETCH);
	pci_cfg_bar(fn1, 2, 0x1000, 0);
	pci_fake_slot_card(slot, fn1);
	enumerate();
	pci_fake_slot_insert(slot, false);
	poll_until_settled(slot_of(0, 4));
	f0 = find(1, 0, 0);
	f1 = find(1, 0, 1);
	assert_non_null(f0);
	assert_non_null(f1);
	assert_int_equal(pci_bar_mem(f0, 0, &a0), 0);
	assert_int_equal(pci_bar_mem(f0, 1, &a1), 0);
	assert_int_equal(pci_bar_mem(f1, 0, &a2), 0);
	assert_int_equal(pci_bar_mem(f1, 2, &a3), 0);
	assert_int_equal(pci_bar_mem(f0, 2, &a3), -ENODEV);
	/* Largest first, each aligned to its size, none overlapping. */
	assert_int_equal(a0, WINDOW_BASE);
	assert_int_equal(a1, WINDOW_BASE + 0x100000);
	assert_int_equal(a2, UINT64_C(0x800000000));
	assert_int_equal(pci_bar_mem(f1, 2, &a3), 0);
	assert_int_equal(a3, WINDOW_BASE + 0x104000);
	assert_int_equal(count_told('a'), 2);
	assert_true(pci_cfg_get(fn1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	assert_false(pci_cfg_get(fn1, PCI_COMMAND, 2) & PCI_COMMAND_MASTER);
}

static void test_hot_add_bar_too_big_for_window(void **state)
{
	uint8_t *fn0;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	pci_cfg_bar(fn0, 0, 0x400000, 0);
	pci_fake_slot_card(slot, fn0);
	enumerate();
	pci_fake_slot_insert(slot, true);
	poll_until_settled(slot_of(0, 4));
	/* Listed and announced, but decoding nothing. */
	assert_int_equal(count_told('a'), 1);
	assert_int_equal(pci_cfg_get(fn0, PCI_COMMAND, 2), 0);
	assert_int_equal(pci_cfg_get(fn0, PCI_BASE_ADDRESS_0, 4), 0);
	assert_int_equal(
		pci_log_count(LOG_WARN, "does not fit the bridge's windows"),
		1);
}

static void test_hot_add_link_never_up(void **state)
{
	struct pci_slot *s;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	pci_fake_slot_options(slot, false, false);
	pci_fake_slot_link_ok(slot, false);
	pci_fake_slot_insert(slot, true);
	poll();
	assert_int_equal(s->state, PCI_SLOT_POWERING);
	assert_true(pci_fake_slot_stats(slot)->powered);
	/* Still waiting just before the deadline, off right after it. */
	poll_for(999);
	assert_int_equal(s->state, PCI_SLOT_POWERING);
	poll_for(2);
	assert_int_equal(s->state, PCI_SLOT_OFF);
	assert_false(pci_fake_slot_stats(slot)->powered);
	assert_int_equal(told_count, 0);
	assert_int_equal(pci_log_count(LOG_WARN, "link not up by the deadline"),
			 1);
	/* It stays off with the card in; a new insertion tries again. */
	poll_for(50);
	assert_int_equal(s->state, PCI_SLOT_OFF);
	pci_fake_slot_link_ok(slot, true);
	pci_fake_slot_insert(slot, true);
	poll_until_settled(s);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	assert_int_equal(count_told('a'), 1);
}

/* The link comes up late but within the deadline: no failure. */
static void test_hot_add_late_link(void **state)
{
	struct pci_slot *s;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	pci_fake_slot_link_ok(slot, false);
	pci_fake_slot_insert(slot, true);
	poll_for(900);
	pci_fake_slot_link_ok(slot, true);
	poll_until_settled(s);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
}
static void test_hot_add_function_never_answers(void **state)
{
	struct pci_slot *s;
	uint8_t *fn0;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	pci_fake_slot_insert(slot, true);
	poll();
	/* Powered on (which resets the card), then it says nothing. */
	pci_cfg_dead(fn0, true);
	poll_for(150);
	assert_int_equal(s->state, PCI_SLOT_PROBING);
	poll_until_settled(s);
	assert_int_equal(s->state, PCI_SLOT_OFF);
	assert_int_equal(told_count, 0);
	assert_null(find(1, 0, 0));
	assert_int_equal(pci_log_count(LOG_WARN, "function 0 not answering"),
			 1);
}

static void test_card_pulled_while_powering(void **state)
{
	struct pci_slot *s;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	pci_fake_slot_insert(slot, true);
	poll_for(20);
	assert_int_equal(s->state, PCI_SLOT_SETTLING);
	pci_fake_slot_pull(slot);
	poll();
	assert_int_equal(s->state, PCI_SLOT_EMPTY);
	assert_false(pci_fake_slot_stats(slot)->powered);
	assert_int_equal(told_count, 0);
}

/* Real hardware: power off leaves the card in; the slot stays off. */
static void test_off_slot_waits_for_button(void **state)
{
	struct pci_slot *s;
	struct pci_dev *first;
	uint64_t gen;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	pci_fake_slot_options(slot, false, false);
	enumerate();
	s = slot_of(0, 4);
	first = find(1, 0, 0);
	gen = first->gen;
	pci_fake_slot_button(slot);
	poll();
	assert_int_equal(s->state, PCI_SLOT_OFF);
	assert_true(pci_fake_slot_stats(slot)->present);
	poll_for(100);
	assert_int_equal(s->state, PCI_SLOT_OFF);
	assert_false(pci_fake_slot_stats(slot)->powered);
	pci_fake_slot_button(slot);
	poll_until_settled(s);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	assert_true(find(1, 0, 0)->gen > gen);
}

static void test_slot_enable(void **state)
{
	struct pci_slot *s;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	assert_int_equal(pci_slot_enable(&host, s), -ENODEV);
	pci_fake_slot_options(slot, false, false);
	pci_fake_slot_boot(slot);
	pci_slot_power_off(&host, s);
	assert_int_equal(pci_slot_enable(&host, s), 0);
	assert_int_equal(pci_slot_enable(&host, s), -EBUSY);
	poll_until_settled(s);
	assert_int_equal(s->state, PCI_SLOT_ACTIVE);
	assert_int_equal(pci_slot_enable(&host, s), -EBUSY);
	assert_string_equal(pci_slot_state_name(s->state), "active");
}

/* No Command Completed ever: each command waits its deadline, then goes on. */
static void test_command_completed_deadline(void **state)
{
	struct pci_slot *s;
	uint64_t t0;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	enumerate();
	host.timing.cmd_ns = 2 * MS;
	s = slot_of(0, 4);
	pci_fake_slot_options(slot, true, true);
	t0 = pci_fake_now_ns;
	pci_fake_slot_button(slot);
	poll();
	assert_true(pci_fake_now_ns - t0 >= 2 * MS);
	assert_true(pci_fake_now_ns - t0 < 3 * MS);
	assert_int_equal(s->state, PCI_SLOT_EMPTY);
	assert_int_equal(
		pci_log_count(LOG_WARN, "command not completed in 2 ms"), 1);
}

static void test_reachable(void **state)
{
	uint8_t *fn0;
	struct pci_dev *d;
	int slot;

	slot = root_slot(NULL);
	fn0 = card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	pci_fake_slot_options(slot, false, false);
	enumerate();
	d = find(1, 0, 0);
	assert_true(pci_dev_present(d));
	pci_cfg_dead(fn0, true);
	assert_false(pci_dev_present(d));
	pci_cfg_dead(fn0, false);
	/* The port's link down: the device may still decode, unreachable. */
	pci_fake_slot_link_ok(slot, false);
	pci_cfg_dead(fn0, false);
	assert_false(pci_dev_present(d));
}

/* 20 removals and re-plugs: objects, groups and slots back to baseline. */
static void test_twenty_cycles(void **state)
{
	struct pci_slot *s;
	unsigned int i, groups, n;
	struct pci_group *g;
	uint64_t gen = 0;
	long live;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	pci_fake_slot_boot(slot);
	enumerate();
	s = slot_of(0, 4);
	live = pci_alloc_live;
	groups = 0;
	pci_for_each_group(&host, g)
	{
		groups++;
	}
	for (i = 0; i < 20; i++) {
		pci_fake_slot_button(slot);
		poll();
		assert_int_equal(s->state, PCI_SLOT_EMPTY);
		pci_fake_slot_insert(slot, true);
		poll_until_settled(s);
		assert_int_equal(s->state, PCI_SLOT_ACTIVE);
		assert_true(find(1, 0, 0)->gen > gen);
		gen = find(1, 0, 0)->gen;
		assert_int_equal(pci_alloc_live, live);
		n = 0;
		pci_for_each_group(&host, g)
		{
			n++;
		}
		assert_int_equal(n, groups);
	}
	assert_int_equal(count_told('r'), 20);
	assert_int_equal(count_told('g'), 20);
	assert_int_equal(count_told('a'), 20);
	assert_int_equal(pci_fake_slot_stats(slot)->unplugs, 20);
	assert_int_equal(pci_fake_slot_stats(slot)->undone_writes, 0);
}

/* Out of memory while listing a hot-added card: defined, nothing leaks. */
static void test_hot_add_out_of_memory(void **state)
{
	struct pci_slot *s;
	int slot;

	slot = root_slot(NULL);
	card_fn(slot, 0, false);
	enumerate();
	s = slot_of(0, 4);
	pci_fake_slot_insert(slot, true);
	pci_alloc_fail_after = 0;
	poll_until_settled(s);
	pci_alloc_fail_after = -1;
	assert_int_equal(s->state, PCI_SLOT_OFF);
	assert_int_equal(told_count, 0);
	assert_int_equal(pci_log_count(LOG_ERR, "out of memory"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_refs_and_generations),
		T(test_clear_keeps_referenced_objects),
		T(test_remove_while_referenced_then_replug),
		T(test_orderly_removal_order),
		T(test_surprise_card_pulled),
		T(test_surprise_link_down_without_event),
		T(test_surprise_config_all_ones),
		T(test_surprise_by_power_off),
		T(test_button_on_dead_card_is_a_surprise),
		T(test_button_with_inner_link_down_is_a_surprise),
		T(test_owner_reference_outlives_removal),
		T(test_events_before_boot_ignored),
		T(test_firmware_handled_slot_left_alone),
		T(test_removal_takes_switch_and_its_slots),
		T(test_hot_add_assigns_bar_in_window),
		T(test_hot_add_many_bars),
		T(test_hot_add_bar_too_big_for_window),
		T(test_hot_add_link_never_up),
		T(test_hot_add_late_link),
		T(test_hot_add_function_never_answers),
		T(test_card_pulled_while_powering),
		T(test_off_slot_waits_for_button),
		T(test_slot_enable),
		T(test_command_completed_deadline),
		T(test_reachable),
		T(test_twenty_cycles),
		T(test_hot_add_out_of_memory),
#undef T
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
