#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/log.h"

/*
 * Stand-ins for the PCI tests.
 *
 * pci_fake_log.c: log_printf() recording every message, and hw_zalloc() /
 * hw_free() over calloc()/free() with a count of live objects and a point
 * at which allocation starts to fail.
 *
 * pci_fake_cfg.c: hw_pci_read*() and hw_pci_write*() over synthetic
 * configuration spaces.  A function that was not added reads all-ones and
 * ignores writes; an access the driver must never make (misaligned, beyond
 * 4 KiB) aborts the test.  Writes change only the bits made writable, and
 * clear the write-1-to-clear ones.  Hot-plug slots are modelled at register
 * level (PCIe §6.7, and QEMU 7.2 where it differs); hw_now_ns() is a virtual
 * clock that hw_relax() moves by 1 us.
 */

void pci_log_reset(void);
/* Messages at this level containing text. */
unsigned int pci_log_count(enum log_level level, const char *text);
void pci_log_dump(void);

/* Allocations still live, and how many succeed before one fails (-1: none). */
extern long pci_alloc_live;
extern long pci_alloc_fail_after;

void pci_cfg_reset(void);
/*
 * A new function's configuration space, with IDs, class and header type;
 * its Command register's decode and bus master enables are writable.
 */
uint8_t *pci_cfg_add(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t vendor,
		     uint16_t device, uint32_t class24, uint8_t hdr_type);
/* A PCI-to-PCI bridge (class 060400) with its bus numbers. */
uint8_t *pci_cfg_add_bridge(uint16_t seg, uint8_t bus, uint8_t devfn,
			    uint8_t primary, uint8_t secondary,
			    uint8_t subordinate);
void pci_cfg_put8(uint8_t *cfg, unsigned int off, uint8_t v);
void pci_cfg_put16(uint8_t *cfg, unsigned int off, uint16_t v);
void pci_cfg_put32(uint8_t *cfg, unsigned int off, uint32_t v);
uint32_t pci_cfg_get(const uint8_t *cfg, unsigned int off, unsigned int width);
/* A capability header at pos; also sets the Capabilities List status bit. */
void pci_cfg_cap(uint8_t *cfg, unsigned int pos, uint8_t id, uint8_t next);
/* A PCI Express capability of this Device/Port Type at pos. */
void pci_cfg_pcie(uint8_t *cfg, unsigned int pos, uint8_t type, uint8_t next);
/* A PCIe port on segment 0: a bridge whose only capability is PCIe at 0x40. */
#define PCI_CFG_PORT_EXP 0x40U
uint8_t *pci_cfg_add_port(uint8_t bus, uint8_t devfn, uint8_t type,
			  uint8_t secondary, uint8_t subordinate);
void pci_cfg_ext_cap(uint8_t *cfg, unsigned int pos, uint16_t id,
		     unsigned int next);
/* Makes the bits of mask writable in the width-byte register at off. */
void pci_cfg_writable(uint8_t *cfg, unsigned int off, unsigned int width,
		      uint32_t mask);
/* An ACS capability at pos: what it implements, and its Control value. */
void pci_cfg_acs(uint8_t *cfg, unsigned int pos, unsigned int next,
		 uint16_t cap, uint16_t ctrl);
/* BAR bar of size bytes with these low flag bits (type, prefetchable, I/O). */
void pci_cfg_bar(uint8_t *cfg, unsigned int bar, uint64_t size, uint32_t flags);
/* A bridge's memory window and 64-bit prefetchable window. */
void pci_cfg_window(uint8_t *cfg, uint32_t base, uint32_t limit);
void pci_cfg_pref_window(uint8_t *cfg, uint64_t base, uint64_t limit);
/* The function stops answering (reads all-ones), or answers again. */
void pci_cfg_dead(uint8_t *cfg, bool dead);
/* Reads and writes addressed to the function so far. */
unsigned long pci_cfg_accesses(const uint8_t *cfg);
/* Configuration reads served so far. */
extern unsigned long pci_cfg_reads;

/*
 * Hot-plug slots.  pci_fake_slot() makes the port whose PCI Express
 * capability is at exp a slot with these Slot Capabilities, link reporting,
 * and the registers of an empty slot after reset (power off).  Functions
 * given to pci_fake_slot_card() are the card: they answer only while the
 * card is in, powered and its link up, and come back as they were when
 * given (reset) each time the card is inserted or powered on.  By default
 * the link trains, Command Completed follows every Slot Control write, and
 * power off with the Power Indicator off removes the card (QEMU).
 */
int pci_fake_slot(uint8_t *port_cfg, unsigned int exp, uint32_t sltcap,
		  unsigned int psn);
void pci_fake_slot_card(int slot, uint8_t *fn_cfg);
/* The card was in at boot: powered, link up, no event. */
void pci_fake_slot_boot(int slot);
/* Inserted: Presence Detect Changed, and the Attention Button (QEMU). */
void pci_fake_slot_insert(int slot, bool with_button);
void pci_fake_slot_pull(int slot);
void pci_fake_slot_button(int slot);
/* Whether the link may come up; false also takes an up link down. */
void pci_fake_slot_link_ok(int slot, bool ok);
void pci_fake_slot_options(int slot, bool qemu_unplug, bool no_cc);

struct pci_fake_slot_stats {
	bool powered;
	bool present;
	bool link;
	unsigned int commands; /* Slot Control writes */
	unsigned int unplugs; /* cards removed by a power-off write */
	unsigned int undone_writes; /* Slot Status writes QEMU would undo */
};
const struct pci_fake_slot_stats *pci_fake_slot_stats(int slot);

extern uint64_t pci_fake_now_ns;
