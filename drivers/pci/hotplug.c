#include "drivers/pci/hotplug.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/*
 * PCIe native hot-plug, polled (hotplug.h).  QEMU 7.2 departs from the
 * specification in ways this file relies on not mattering
 * (docs/scenarios.md, qemu-native-hotplug): it never sets Data Link Layer State
 * Changed, so the link is watched as a level, never as an event; and it
 * removes the device the moment Slot Control is written with the power off
 * and the Power Indicator off.
 */

#define MS UINT64_C(1000000)

/* Event notifications: polled, so none of them may raise an interrupt. */
#define SLTCTL_EVENT_ENABLES                                                 \
	(PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PFDE | PCI_EXP_SLTCTL_MRLSCE | \
	 PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_CCIE | PCI_EXP_SLTCTL_HPIE |   \
	 PCI_EXP_SLTCTL_DLLSCE)

void pci_hotplug_timing_default(struct pci_hotplug_timing *t)
{
	/* §6.7.3.2: a port has 1 s to complete a Slot Control command. */
	t->cmd_ns = 1000 * MS;
	/* As long as Linux's pciehp gives a link to train after power on. */
	t->link_ns = 1000 * MS;
	/* §6.6.1: 100 ms from link up to the first Configuration Request. */
	t->settle_ns = 100 * MS;
	/* §6.6.1: a function silent 1 s after reset may be taken as broken. */
	t->ready_ns = 1000 * MS;
}

const char *pci_slot_state_name(enum pci_slot_state state)
{
	static const char *const names[] = {
		[PCI_SLOT_EMPTY] = "empty",
		[PCI_SLOT_POWERING] = "powering",
		[PCI_SLOT_SETTLING] = "settling",
		[PCI_SLOT_PROBING] = "probing",
		[PCI_SLOT_ACTIVE] = "active",
		[PCI_SLOT_OFF] = "off",
	};

	return (unsigned int)state < ARRAY_SIZE(names) ? names[state] : "?";
}

static uint16_t slot_read16(const struct pci_slot *s, uint16_t reg)
{
	const struct pci_dev *p = s->port;

	return hw_pci_read16(p->seg, p->bus, p->devfn,
			     (uint16_t)(s->exp + reg));
}

static void slot_write16(const struct pci_slot *s, uint16_t reg, uint16_t val)
{
	const struct pci_dev *p = s->port;

	hw_pci_write16(p->seg, p->bus, p->devfn, (uint16_t)(s->exp + reg), val);
}

#define SLOT_FMT PCI_BDF_FMT
#define SLOT_ARGS(s) \
	PCI_BDF_ARGS((s)->port->seg, (s)->port->bus, (s)->port->devfn)

/*
 * Slot Status event bits are RW1C.  Only bits read as set are written:
 * a 1 on a clear bit could clear an event that arrived since the read, and
 * QEMU undoes the whole write when it sees one.
 */
static void ack_events(const struct pci_slot *s, uint16_t seen)
{
	if (seen) {
		slot_write16(s, PCI_EXP_SLTSTA, seen);
	}
}

/*
 * One Slot Control command: the fields in mask set to val.  Unless the port
 * lacks Command Completed (NCCS), the next command must wait for it
 * (§6.7.3.2), so this waits up to the command deadline and then goes on,
 * as the specification allows.  A Command Completed left from before is
 * cleared first so that it is not taken for this command's.
 */
static void slot_command(const struct pci_host *host, const struct pci_slot *s,
			 uint16_t mask, uint16_t val)
{
	uint16_t ctl = slot_read16(s, PCI_EXP_SLTCTL);
	uint16_t sta = slot_read16(s, PCI_EXP_SLTSTA);
	uint64_t deadline;

	if (ctl == UINT16_MAX || sta == UINT16_MAX) {
		return; /* the port itself is gone */
	}
	ack_events(s, sta & PCI_EXP_SLTSTA_CC);
	slot_write16(s, PCI_EXP_SLTCTL, (uint16_t)((ctl & ~mask) | val));
	if (s->sltcap & PCI_EXP_SLTCAP_NCCS) {
		return;
	}
	deadline = hw_now_ns() + host->timing.cmd_ns;
	while (!((sta = slot_read16(s, PCI_EXP_SLTSTA)) & PCI_EXP_SLTSTA_CC)) {
		if (hw_time_after(deadline)) {
			sta = slot_read16(s, PCI_EXP_SLTSTA);
			if (sta & PCI_EXP_SLTSTA_CC) {
				break;
			}
			log_warn(
				"pci",
				SLOT_FMT
				": Slot Control command not completed in %llu ms, going on",
				SLOT_ARGS(s),
				(unsigned long long)host->timing.cmd_ns / MS);
			return;
		}
		hw_relax();
	}
	ack_events(s, PCI_EXP_SLTSTA_CC);
}

static bool slot_powered(const struct pci_slot *s, uint16_t ctl)
{
	return !(s->sltcap & PCI_EXP_SLTCAP_PCP) || !(ctl & PCI_EXP_SLTCTL_PCC);
}

/*
 * Power and Power Indicator together in one command (§6.7.1.1, §6.7.1.8).
 * Off means Power Controller off and Power Indicator off: the pair QEMU
 * takes as "remove the device".  Nothing is written when the slot already
 * is that way.
 */
static void slot_power(const struct pci_host *host, const struct pci_slot *s,
		       bool on)
{
	uint16_t mask = PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC;
	uint16_t val = (uint16_t)field_prep32(PCI_EXP_SLTCTL_PIC,
					      on ? PCI_EXP_SLTCTL_IND_ON
						 : PCI_EXP_SLTCTL_IND_OFF);
	uint16_t ctl = slot_read16(s, PCI_EXP_SLTCTL);

	if (!on) {
		val |= PCI_EXP_SLTCTL_PCC;
	}
	if (ctl == UINT16_MAX || (ctl & mask) == val) {
		return;
	}
	log_info("pci", SLOT_FMT ": slot power %s", SLOT_ARGS(s),
		 on ? "on" : "off");
	slot_command(host, s, mask, val);
}

void pci_slot_read_status(const struct pci_slot *s, struct pci_slot_status *st)
{
	uint16_t ctl = slot_read16(s, PCI_EXP_SLTCTL);
	uint16_t sta = slot_read16(s, PCI_EXP_SLTSTA);
	uint16_t lnk = slot_read16(s, PCI_EXP_LNKSTA);

	*st = (struct pci_slot_status){0};
	if (ctl == UINT16_MAX || sta == UINT16_MAX) {
		return;
	}
	st->power = slot_powered(s, ctl);
	st->presence = sta & PCI_EXP_SLTSTA_PDS;
	st->link = lnk != UINT16_MAX && (lnk & PCI_EXP_LNKSTA_DLLLA);
}

/* Without link reporting the link is taken to be up when the wait ends. */
static bool slot_link_up(const struct pci_slot *s)
{
	uint16_t lnk;

	if (!s->dlllarc) {
		return hw_time_after(s->deadline_ns);
	}
	lnk = slot_read16(s, PCI_EXP_LNKSTA);
	return lnk != UINT16_MAX && (lnk & PCI_EXP_LNKSTA_DLLLA);
}

/* Function 0 below the port answers with a real Vendor ID. */
static bool slot_answers(const struct pci_slot *s)
{
	uint16_t v = hw_pci_read16(s->port->seg, s->port->secondary,
				   pci_devfn(0, 0), PCI_VENDOR_ID);

	return v != PCI_VENDOR_ID_NONE && v != PCI_VENDOR_ID_RETRY && v != 0;
}

/*
 * Whether a wait succeeded: the condition, or, once the deadline passed,
 * the condition read once more (this poll may come long after the last).
 */
static bool waited(const struct pci_slot *s,
		   bool (*cond)(const struct pci_slot *s), bool *failed)
{
	*failed = false;
	if (cond(s)) {
		return true;
	}
	if (!hw_time_after(s->deadline_ns)) {
		return false;
	}
	*failed = !cond(s);
	return !*failed;
}

struct pci_dev *pci_slot_dev(const struct pci_host *host,
			     const struct pci_slot *s)
{
	struct pci_dev *d = pci_find_dev(host, s->port->seg, s->port->secondary,
					 pci_devfn(0, 0));

	return d && d->parent == s->port ? d : NULL;
}

/* The first listed function below the slot's port, or NULL. */
static struct pci_dev *first_below(const struct pci_host *host,
				   const struct pci_slot *s)
{
	struct pci_dev *d;

	pci_for_each_dev (host, d) {
		if (pci_dev_below(d, s->port)) {
			return d;
		}
	}
	return NULL;
}

/*
 * The card is still there: present, link up (when reported), and every
 * function right below the port answering.  Any of these failing with no
 * button pressed is a surprise removal (docs/scenarios.md,
 * silent-link-loss: a link can go down with no event at all).
 */
static bool slot_alive(const struct pci_host *host, const struct pci_slot *s,
		       uint16_t sta)
{
	const struct pci_dev *d;

	if (!(sta & PCI_EXP_SLTSTA_PDS)) {
		return false;
	}
	pci_for_each_dev (host, d) {
		if (d->parent == s->port && !pci_dev_present(d)) {
			return false;
		}
	}
	return true;
}

/* Every function below answers; false as soon as one reads all-ones. */
static bool all_answer(const struct pci_host *host, const struct pci_slot *s)
{
	const struct pci_dev *d;

	pci_for_each_dev (host, d) {
		if (pci_dev_below(d, s->port) && !pci_dev_present(d)) {
			return false;
		}
	}
	return true;
}

/*
 * Orderly removal (attention button; QEMU's device_del), in the order of
 * docs/scenarios.md, orderly-ats-shutdown: each function's Bus Master Enable
 * off (PCI 3.0 §6.2.2: it may issue no more requests) and its owner told while
 * it still answers; then the power off; then each is gone.  A function that no
 * longer answers turns this into a surprise removal: its owner must not touch
 * it. Surprise removal: each function gone at once, its owner told to block it
 * blind, and the slot powered off after.
 */
static void slot_remove(struct pci_host *host, struct pci_slot *s,
			const struct pci_hotplug_ops *ops, void *ctx,
			bool surprise)
{
	struct pci_dev *d;
	uint16_t cmd;

	if (!surprise && !all_answer(host, s)) {
		log_warn("pci",
			 SLOT_FMT
			 ": a function stopped answering before removal",
			 SLOT_ARGS(s));
		surprise = true;
	}
	log_info("pci", SLOT_FMT ": %s removal", SLOT_ARGS(s),
		 surprise ? "surprise" : "orderly");
	if (!surprise) {
		pci_for_each_dev (host, d) {
			if (!pci_dev_below(d, s->port)) {
				continue;
			}
			cmd = hw_pci_read16(d->seg, d->bus, d->devfn,
					    PCI_COMMAND);
			hw_pci_write16(d->seg, d->bus, d->devfn, PCI_COMMAND,
				       (uint16_t)(cmd & ~PCI_COMMAND_MASTER));
			d->state = PCI_DEV_REMOVING;
			ops->removing(ctx, d);
		}
		slot_power(host, s, false);
	}
	while ((d = first_below(host, s))) {
		pci_dev_unlist(host, d, surprise);
		log_info("pci", PCI_BDF_FMT ": gone%s (gen %llu)",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn),
			 surprise ? " by surprise" : "",
			 (unsigned long long)d->gen);
		ops->removed(ctx, d, surprise);
		pci_dev_put(d);
	}
	slot_power(host, s, false);
	s->state = slot_read16(s, PCI_EXP_SLTSTA) & PCI_EXP_SLTSTA_PDS
			   ? PCI_SLOT_OFF
			   : PCI_SLOT_EMPTY;
	if (pci_groups_update(host)) {
		log_err("pci", "groups not recomputed: out of memory");
	}
}

/* A card is in: power on, then wait for its link (POWERING). */
static int slot_start(const struct pci_host *host, struct pci_slot *s)
{
	if (s->port->secondary == 0 ||
	    !pci_host_has_bus(host, s->port->seg, s->port->secondary)) {
		log_warn("pci",
			 SLOT_FMT
			 ": card present but the port has no usable bus number",
			 SLOT_ARGS(s));
		s->state = PCI_SLOT_OFF;
		return -ENODEV;
	}
	log_info("pci", SLOT_FMT ": card present", SLOT_ARGS(s));
	slot_power(host, s, true);
	s->state = PCI_SLOT_POWERING;
	s->deadline_ns = hw_now_ns() + host->timing.link_ns;
	return 0;
}

static void slot_give_up(const struct pci_host *host, struct pci_slot *s,
			 const char *why)
{
	log_warn("pci", SLOT_FMT ": %s: slot powered off", SLOT_ARGS(s), why);
	slot_power(host, s, false);
	s->state = PCI_SLOT_OFF;
}

/*
 * Function 0 answered: list the card's functions, place their BARs, then
 * tell the owner about each.  A card that cannot be listed whole, with its
 * slots and isolation groups, is not reported at all (a function without a
 * group would be one the IOMMU layer cannot isolate): what was listed is
 * dropped and the slot powered off, to be tried again on the next button
 * press or insertion.
 */
static void slot_add(struct pci_host *host, struct pci_slot *s,
		     const struct pci_hotplug_ops *ops, void *ctx)
{
	struct pci_dev *d;
	unsigned int found;
	int err;

	err = pci_scan_below(host, s->port, &found);
	if (err) {
		log_err("pci",
			SLOT_FMT ": enumeration below the slot failed: %s",
			SLOT_ARGS(s), errno_name(err));
		while ((d = first_below(host, s))) {
			pci_dev_unlist(host, d, false);
			pci_dev_put(d);
		}
		slot_give_up(host, s, "card not listed");
		return;
	}
	if (found == 0) {
		slot_give_up(host, s, "no function could be listed");
		return;
	}
	pci_assign_bars(host, s->port);
	s->state = PCI_SLOT_ACTIVE;
	pci_for_each_dev (host, d) {
		if (!pci_dev_below(d, s->port)) {
			continue;
		}
		log_info("pci", PCI_BDF_FMT ": added %04x:%04x (gen %llu)",
			 PCI_BDF_ARGS(d->seg, d->bus, d->devfn), d->vendor,
			 d->device, (unsigned long long)d->gen);
		ops->added(ctx, d);
	}
}

/* POWERING -> SETTLING -> PROBING -> ACTIVE, or OFF at a deadline. */
static void slot_advance(struct pci_host *host, struct pci_slot *s,
			 const struct pci_hotplug_ops *ops, void *ctx)
{
	const struct pci_hotplug_timing *t = &host->timing;
	bool failed;

	switch (s->state) {
	case PCI_SLOT_POWERING:
		if (waited(s, slot_link_up, &failed)) {
			s->state = PCI_SLOT_SETTLING;
			s->deadline_ns = hw_now_ns() + t->settle_ns;
		} else if (failed) {
			slot_give_up(host, s, "link not up by the deadline");
		}
		break;
	case PCI_SLOT_SETTLING:
		if (hw_time_after(s->deadline_ns)) {
			s->state = PCI_SLOT_PROBING;
			s->deadline_ns = hw_now_ns() + t->ready_ns;
		}
		break;
	case PCI_SLOT_PROBING:
		if (waited(s, slot_answers, &failed)) {
			slot_add(host, s, ops, ctx);
		} else if (failed) {
			slot_give_up(
				host, s,
				"function 0 not answering by the deadline");
		}
		break;
	default:
		break;
	}
}

static void slot_poll(struct pci_host *host, struct pci_slot *s,
		      const struct pci_hotplug_ops *ops, void *ctx)
{
	uint16_t sta = slot_read16(s, PCI_EXP_SLTSTA);
	uint16_t events;
	bool present;

	/* A port that reads all-ones is gone: the slot above it acts. */
	if (sta == UINT16_MAX) {
		return;
	}
	events = sta & PCI_EXP_SLTSTA_EVENTS;
	ack_events(s, events);
	if (events & PCI_EXP_SLTSTA_PFD) {
		log_warn("pci", SLOT_FMT ": power fault", SLOT_ARGS(s));
	}
	present = sta & PCI_EXP_SLTSTA_PDS;
	switch (s->state) {
	case PCI_SLOT_ACTIVE:
		/*
		 * A presence or link change since the last look means the
		 * card may have been swapped or reset, even if all reads well
		 * now: the functions listed are not the ones there.
		 */
		if ((events & (PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC)) ||
		    !slot_alive(host, s, sta)) {
			slot_remove(host, s, ops, ctx, true);
		} else if (events & PCI_EXP_SLTSTA_ABP) {
			log_info("pci", SLOT_FMT ": attention button",
				 SLOT_ARGS(s));
			slot_remove(host, s, ops, ctx, false);
		}
		break;
	case PCI_SLOT_EMPTY:
		if (present) {
			slot_start(host, s);
		}
		break;
	case PCI_SLOT_OFF:
		if (!present) {
			s->state = PCI_SLOT_EMPTY;
		} else if (events & (PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP)) {
			slot_start(host, s);
		}
		break;
	default:
		if (!present) {
			log_info("pci",
				 SLOT_FMT ": card gone while powering up",
				 SLOT_ARGS(s));
			slot_power(host, s, false);
			s->state = PCI_SLOT_EMPTY;
		} else {
			slot_advance(host, s, ops, ctx);
		}
		break;
	}
}

/* Drops the slots whose port went away with a slot above it. */
static void slots_prune(struct pci_host *host)
{
	struct pci_slot **link = &host->slots;
	struct pci_slot *s;

	while ((s = *link)) {
		if (pci_dev_is_gone(s->port)) {
			*link = s->next;
			pci_dev_put(s->port);
			hw_free(s);
		} else {
			link = &s->next;
		}
	}
}

void pci_hotplug_poll(struct pci_host *host, const struct pci_hotplug_ops *ops,
		      void *ctx)
{
	struct pci_slot *s;

	for (s = host->slots; s; s = s->next) {
		/* A reset's link events are not a removal (reset.h). */
		if (!pci_dev_is_gone(s->port) && s->port != host->resetting) {
			slot_poll(host, s, ops, ctx);
		}
	}
	slots_prune(host);
}

static bool is_hotplug_port(const struct pci_dev *d, int pos)
{
	uint16_t flags;
	uint32_t sltcap;

	if (!pos || (d->pcie_type != PCI_EXP_TYPE_ROOT_PORT &&
		     d->pcie_type != PCI_EXP_TYPE_DOWNSTREAM)) {
		return false;
	}
	flags = hw_pci_read16(d->seg, d->bus, d->devfn,
			      (uint16_t)(pos + PCI_EXP_FLAGS));
	sltcap = hw_pci_read32(d->seg, d->bus, d->devfn,
			       (uint16_t)(pos + PCI_EXP_SLTCAP));
	return flags != UINT16_MAX && (flags & PCI_EXP_FLAGS_SLOT) &&
	       sltcap != UINT32_MAX && (sltcap & PCI_EXP_SLTCAP_HPC);
}

/*
 * Whether functions are listed below port although its Presence Detect
 * State says the slot is empty.  Presence Detect State reflects any card
 * there (§7.5.3.11), so such a slot's registers do not describe it: the
 * platform runs its hot-plug (QEMU's ACPI hot-plug, on by default, leaves
 * them so), and moat keeps its hands off.
 */
static bool firmware_slot(const struct pci_host *host,
			  const struct pci_dev *port, int pos)
{
	const struct pci_dev *d;
	uint16_t sta = hw_pci_read16(port->seg, port->bus, port->devfn,
				     (uint16_t)(pos + PCI_EXP_SLTSTA));

	if (sta & PCI_EXP_SLTSTA_PDS) {
		return false;
	}
	pci_for_each_dev (host, d) {
		if (pci_dev_below(d, port)) {
			return true;
		}
	}
	return false;
}

/*
 * A new slot: what happened before moat looked is history (its events are
 * cleared, not acted on), and notifications are turned off since nothing
 * here takes hot-plug interrupts.  Functions firmware listed below it make
 * it ACTIVE; otherwise the first poll looks at presence.
 */
static int slot_create(struct pci_host *host, struct pci_dev *port, int pos,
		       struct pci_slot ***link)
{
	struct pci_slot *s;
	uint16_t ctl;

	if (firmware_slot(host, port, pos)) {
		log_info(
			"pci",
			PCI_BDF_FMT
			": slot shows no card below listed functions: its hot-plug is left to firmware",
			PCI_BDF_ARGS(port->seg, port->bus, port->devfn));
		return 0;
	}
	s = hw_zalloc(sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->port = pci_dev_get(port);
	s->exp = (uint16_t)pos;
	s->sltcap = hw_pci_read32(port->seg, port->bus, port->devfn,
				  (uint16_t)(pos + PCI_EXP_SLTCAP));
	s->dlllarc = hw_pci_read32(port->seg, port->bus, port->devfn,
				   (uint16_t)(pos + PCI_EXP_LNKCAP)) &
		     PCI_EXP_LNKCAP_DLLLARC;
	ack_events(s, slot_read16(s, PCI_EXP_SLTSTA) & PCI_EXP_SLTSTA_EVENTS);
	ctl = slot_read16(s, PCI_EXP_SLTCTL);
	if (ctl & SLTCTL_EVENT_ENABLES) {
		slot_command(host, s, SLTCTL_EVENT_ENABLES, 0);
	}
	s->state = first_below(host, s) ? PCI_SLOT_ACTIVE : PCI_SLOT_EMPTY;
	**link = s;
	*link = &s->next;
	log_info("pci", SLOT_FMT ": hot-plug slot %u, %s", SLOT_ARGS(s),
		 (unsigned int)field_get32(PCI_EXP_SLTCAP_PSN, s->sltcap),
		 pci_slot_state_name(s->state));
	return 0;
}

int pci_slots_find(struct pci_host *host, const struct pci_dev *below)
{
	struct pci_slot **link = &host->slots;
	struct pci_dev *d;
	int pos;
	int err;

	while (*link) {
		link = &(*link)->next;
	}
	pci_for_each_dev (host, d) {
		if (below && !pci_dev_below(d, below)) {
			continue;
		}
		pos = pci_find_cap(d, PCI_CAP_ID_EXP);
		if (!is_hotplug_port(d, pos) ||
		    pci_find_slot(host, d->seg, d->bus, d->devfn)) {
			continue;
		}
		err = slot_create(host, d, pos, &link);
		if (err) {
			return err;
		}
	}
	return 0;
}

void pci_slots_clear(struct pci_host *host)
{
	struct pci_slot *s;

	while ((s = host->slots)) {
		host->slots = s->next;
		pci_dev_put(s->port);
		hw_free(s);
	}
}

struct pci_slot *pci_find_slot(const struct pci_host *host, uint16_t seg,
			       uint8_t bus, uint8_t devfn)
{
	struct pci_slot *s;

	for (s = host->slots; s; s = s->next) {
		if (s->port->seg == seg && s->port->bus == bus &&
		    s->port->devfn == devfn && !pci_dev_is_gone(s->port)) {
			return s;
		}
	}
	return NULL;
}

int pci_slot_enable(struct pci_host *host, struct pci_slot *s)
{
	uint16_t sta;

	if (s->state != PCI_SLOT_EMPTY && s->state != PCI_SLOT_OFF) {
		return -EBUSY;
	}
	sta = slot_read16(s, PCI_EXP_SLTSTA);
	if (sta == UINT16_MAX || !(sta & PCI_EXP_SLTSTA_PDS)) {
		return -ENODEV;
	}
	return slot_start(host, s);
}

void pci_slot_power_off(struct pci_host *host, struct pci_slot *s)
{
	log_info("pci", SLOT_FMT ": power off requested, no one told",
		 SLOT_ARGS(s));
	slot_power(host, s, false);
}
