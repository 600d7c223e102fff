#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bits.h"
#include "lib/log.h"

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
 * level (PCIe §6.7, and QEMU 7.2 where it differs).  Functions can reset
 * (FLR, PM, Secondary Bus Reset), links can go down with no event, and each
 * function has a DMA engine whose transfers stay in flight until they
 * complete; all on a virtual clock.
 *
 * pci_fake_hw.c: hw_pci_read*() / hw_pci_write*() over the fake, and
 * hw_now_ns() as the fake's clock that hw_relax() moves by 1 us.  A test
 * with its own seam (the VT-d model) leaves it out and routes its
 * configuration accesses to pci_fake_cfg_read() / pci_fake_cfg_write(),
 * and its clock with pci_fake_clock().
 *
 * pci_fake_edu.c: hw_mmio_*() for QEMU edu functions (pci_fake_edu()):
 * BAR0's DMA registers drive the function's fake DMA engine.
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
	unsigned int commands;	    /* Slot Control writes */
	unsigned int unplugs;	    /* cards removed by a power-off write */
	unsigned int undone_writes; /* Slot Status writes QEMU would undo */
};
const struct pci_fake_slot_stats *pci_fake_slot_stats(int slot);

extern uint64_t pci_fake_now_ns;

/* ---- configuration access and the clock ---------------------------- */

/*
 * A configuration read or write of width bytes, as the hw seam makes them:
 * all-ones from a function that was not added or does not answer.  Each
 * runs pci_fake_tick() first.
 */
uint32_t pci_fake_cfg_read(uint16_t seg, uint8_t bus, uint8_t devfn,
			   uint16_t off, unsigned int width);
void pci_fake_cfg_write(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
			unsigned int width, uint32_t val);

/*
 * The fake's time: pci_fake_now_ns, or what now() returns once given
 * (NULL: back to pci_fake_now_ns).  pci_fake_cfg_reset() forgets it.
 */
uint64_t pci_fake_now(void);
void pci_fake_clock(uint64_t (*now)(void));
/* Ends the transfers that are due and updates Transactions Pending. */
void pci_fake_tick(void);
/* pci_fake_now_ns moves on by ns, then pci_fake_tick(). */
void pci_fake_advance(uint64_t ns);

/* The configuration space of the function at (seg, bus, devfn), or NULL. */
uint8_t *pci_fake_fn_cfg(uint16_t seg, uint8_t bus, uint8_t devfn);
/* Whether it answers now (not dead, not in reset, every link above up). */
bool pci_fake_answers(const uint8_t *cfg);

/* ---- resets --------------------------------------------------------- */

/*
 * A reset puts the function's writable bits to zero (BARs, Command, bus
 * numbers of a bridge, ACS Control, ...) and keeps the read-only ones as
 * they were at the first access (a slot's card: as given), loses its DMA in
 * flight, and leaves it silent (all-ones) for its reset time.
 *
 * pci_fake_flr(): Function Level Reset Capability in the function's PCI
 * Express capability (added before); writing Initiate FLR resets it.
 * pci_fake_pm(): a PCI PM 1.2 capability at pos; PowerState D3hot then D0
 * resets the function unless no_soft_reset.
 * Every bridge implements Secondary Bus Reset: while it is set, every
 * function on the bridge's buses is held in reset and silent, and a slot's
 * link is down (Data Link Layer State Changed as it goes down and up).
 */
void pci_fake_flr(uint8_t *cfg);
void pci_fake_pm(uint8_t *cfg, unsigned int pos, uint8_t next,
		 bool no_soft_reset);
/* Silent this long after a reset (default 0; UINT64_MAX: never back). */
void pci_fake_reset_time(uint8_t *cfg, uint64_t ns);
/* Stops answering for good once the clock reaches ns (in the middle of a
 * wait, say); 0: never. */
void pci_fake_gone_at(uint8_t *cfg, uint64_t ns);

struct pci_fake_fn_stats {
	unsigned int resets;
	uint16_t cmd_at_reset; /* Command register just before the last */
	bool tp_at_reset;      /* Transactions Pending just before the last */
	unsigned long landed;  /* transfers that reached the sink */
	unsigned long dropped; /* transfers lost: stopped, reset, no master */
};
const struct pci_fake_fn_stats *pci_fake_fn_stats(const uint8_t *cfg);

/* ---- links ---------------------------------------------------------- */

/*
 * The port (a bridge with a PCI Express capability) reports its link
 * (DLLLARC) and the link is up or down.  Down: every function on its buses
 * reads all-ones and ignores writes, and no event is raised anywhere.
 */
void pci_fake_link(uint8_t *port_cfg, bool up);

/* ---- DMA ------------------------------------------------------------ */

/*
 * One transfer at a time per function.  It is in flight from
 * pci_fake_dma_start() until its duration has passed on the clock (or
 * pci_fake_dma_complete()); a PCI Express function reads Transactions
 * Pending set meanwhile.  At the end it lands (the sink is called with the
 * requester id the IOMMU sees) if the function still answers and may
 * master, else it is dropped.  A reset drops it.  What clearing Bus Master
 * Enable does to it depends on the function:
 */
enum pci_fake_bme {
	/* Stops: dropped at once; Transactions Pending for drain_ns more. */
	PCI_FAKE_BME_STOPS,
	/* Runs on and lands only if Bus Master Enable is set again by the
	 * end (QEMU's edu: its transfer runs 100 ms after the start). */
	PCI_FAKE_BME_AT_END,
	/* Runs on and lands anyway: a device that ignores the bit. */
	PCI_FAKE_BME_IGNORED,
};
void pci_fake_dma_mode(uint8_t *cfg, enum pci_fake_bme mode, uint64_t drain_ns);
/* The requester id its DMA carries (default: its own bus and devfn). */
void pci_fake_dma_rid(uint8_t *cfg, uint16_t rid);
typedef void pci_fake_dma_sink_fn(void *ctx, uint16_t seg, uint16_t rid,
				  uint64_t addr, uint32_t len);
/* Where landing transfers go (NULL: counted only). */
void pci_fake_dma_sink(pci_fake_dma_sink_fn *fn, void *ctx);
/*
 * A transfer of len bytes at addr, for duration_ns (UINT64_MAX: until
 * pci_fake_dma_complete()).  False when one is in flight, the function
 * does not answer or its Bus Master Enable is off.
 */
bool pci_fake_dma_start(uint8_t *cfg, uint64_t addr, uint32_t len,
			uint64_t duration_ns);
bool pci_fake_dma_busy(const uint8_t *cfg);
/* Ends the transfer in flight now; true when it landed. */
bool pci_fake_dma_complete(uint8_t *cfg);
/* Transactions Pending set whatever the engine does (until false). */
void pci_fake_tp_stuck(uint8_t *cfg, bool stuck);

/* ---- topologies ----------------------------------------------------- */

/*
 * An alias group on segment 0: a PCIe to PCI bridge at (bus, devfn) with
 * bus secondary below it, and count conventional functions on it (devices
 * 0..count-1, function 0), whose DMA carries the bridge's alias
 * (secondary, devfn 0).  Returns the bridge; fn_cfgs gets the functions.
 */
uint8_t *pci_fake_alias_group(uint8_t bus, uint8_t devfn, uint8_t secondary,
			      unsigned int count, uint8_t **fn_cfgs);
/*
 * A multi-function PCI Express endpoint without ACS on segment 0: count
 * functions of device slot on bus, capability at 0x40.
 */
void pci_fake_multifunction(uint8_t bus, uint8_t slot, unsigned int count,
			    uint8_t **fn_cfgs);

/*
 * A QEMU edu function (vendor 1234h, device 11e8h) on segment 0 with a
 * 1 MiB BAR0 at bar0 and memory decode on; its DMA engine runs each
 * transfer 100 ms (PCI_FAKE_BME_AT_END), as QEMU 7.2's does.  Its BAR0
 * registers are served by pci_fake_edu.c's hw_mmio_*().
 */
uint8_t *pci_fake_edu(uint8_t bus, uint8_t devfn, uint32_t bar0);
