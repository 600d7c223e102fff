#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci/pci.h"

/*
 * PCI Express native hot-plug (PCIe §6.7), polled: no interrupt is needed.
 * Every root or switch downstream port whose Slot Capabilities say Hot-Plug
 * Capable is a slot.  pci_hotplug_poll() reads each slot's Slot Status and
 * Link Status and moves it through these states:
 *
 *   EMPTY --card present--> POWERING --link up--> SETTLING --100 ms-->
 *   PROBING --function 0 answers--> ACTIVE (functions listed, added())
 *           or OFF when they cannot all be listed with their groups
 *
 *   ACTIVE --Attention Button--> removing() each function, power off,
 *            removed(surprise=false) each function --> OFF or EMPTY
 *   ACTIVE --presence lost, link down, or function 0 reads all-ones-->
 *            removed(surprise=true) each function, power off --> OFF or EMPTY
 *
 * A deadline missed while POWERING (no link) or PROBING (no answer) powers
 * the slot off: OFF.  OFF is a slot moat powered off with a card still in
 * it; it stays off until the card is replaced (Presence Detect Changed), the
 * button is pressed again, or pci_slot_enable().  Event bits are cleared by
 * writing back exactly the ones read as set: QEMU undoes a Slot Status
 * write that clears anything else.
 */

enum pci_slot_state {
	PCI_SLOT_EMPTY,	   /* no card; nothing listed below */
	PCI_SLOT_POWERING, /* power on, waiting for the link */
	PCI_SLOT_SETTLING, /* link up, not yet allowed to send requests */
	PCI_SLOT_PROBING,  /* waiting for function 0 to answer */
	PCI_SLOT_ACTIVE,   /* the card's functions are listed */
	PCI_SLOT_OFF,	   /* powered off by moat with a card in it */
};

/* One hot-plug capable port. */
struct pci_slot {
	struct pci_slot *next;
	struct pci_dev *port; /* referenced */
	uint16_t exp;	      /* offset of the port's PCI Express Capability */
	uint32_t sltcap;      /* Slot Capabilities */
	bool dlllarc;	      /* the port reports Data Link Layer Link Active */
	enum pci_slot_state state;
	uint64_t deadline_ns; /* of the wait the state stands for */
};

/*
 * What the owner of the devices (the kernel's IOMMU layer) is told.  Each
 * is called once per function, in enumeration order.
 *
 * removing: an orderly removal (attention button) is under way.  The
 * function still answers and its Bus Master Enable is already off; the
 * owner blocks its DMA, flushes what it must (ATS included) and returns.
 * The slot is powered off only after every function's removing() returned.
 *
 * removed: the function is gone and unlisted.  After an orderly removal
 * the slot is off; after a surprise (surprise == true) nothing was said
 * beforehand, the owner must block its DMA now and must not touch the
 * device (no configuration access, no device-TLB invalidation).  The slot is
 * powered off after removed() returned.  The object lives on while
 * references remain.
 *
 * added: a new function is listed, its memory BARs assigned inside the
 * port's windows, its memory decode on, bus mastering still off, its group
 * computed.
 */
struct pci_hotplug_ops {
	void (*removing)(void *ctx, struct pci_dev *d);
	void (*removed)(void *ctx, struct pci_dev *d, bool surprise);
	void (*added)(void *ctx, struct pci_dev *d);
};

/* Defaults of struct pci_hotplug_timing, from the PCIe specification. */
void pci_hotplug_timing_default(struct pci_hotplug_timing *t);

/*
 * One look at every slot, acting on what changed.  Never waits longer than
 * a Slot Control command's deadline; longer waits (link, settle, probe)
 * span polls.
 */
void pci_hotplug_poll(struct pci_host *host, const struct pci_hotplug_ops *ops,
		      void *ctx);

/* The slot of the port at (seg, bus, devfn), or NULL. */
struct pci_slot *pci_find_slot(const struct pci_host *host, uint16_t seg,
			       uint8_t bus, uint8_t devfn);

/* The present function 0 below the slot's port, or NULL (borrowed). */
struct pci_dev *pci_slot_dev(const struct pci_host *host,
			     const struct pci_slot *s);

/* The slot's registers as they read now. */
struct pci_slot_status {
	bool power;    /* Power Controller on (always, without one) */
	bool presence; /* Presence Detect State */
	bool link;     /* Data Link Layer Link Active */
};
void pci_slot_read_status(const struct pci_slot *s, struct pci_slot_status *st);

/*
 * Powers a slot on that is EMPTY or OFF with a card in it: the next polls
 * take it through POWERING.  -EBUSY when it is in any other state, -ENODEV
 * when no card is present.
 */
int pci_slot_enable(struct pci_host *host, struct pci_slot *s);

/*
 * Turns the slot's power off (and its Power Indicator) at once, telling no
 * one and leaving the slot's state alone: for the next poll this is a
 * surprise removal.  A test tool, not an orderly path.
 */
void pci_slot_power_off(struct pci_host *host, struct pci_slot *s);

const char *pci_slot_state_name(enum pci_slot_state state);
