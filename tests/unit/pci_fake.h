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
 * pci_fake_cfg.c: hw_pci_read*() over synthetic configuration spaces; a
 * function that was not added reads all-ones, and an access the driver must
 * never make (misaligned, beyond 4 KiB) aborts the test.
 */

void pci_log_reset(void);
/* Messages at this level containing text. */
unsigned int pci_log_count(enum log_level level, const char *text);
void pci_log_dump(void);

/* Allocations still live, and how many succeed before one fails (-1: none). */
extern long pci_alloc_live;
extern long pci_alloc_fail_after;

void pci_cfg_reset(void);
/* A new function's configuration space, with IDs, class and header type. */
uint8_t *pci_cfg_add(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t vendor,
		     uint16_t device, uint32_t class24, uint8_t hdr_type);
/* A PCI-to-PCI bridge (class 060400) with its bus numbers. */
uint8_t *pci_cfg_add_bridge(uint16_t seg, uint8_t bus, uint8_t devfn,
			    uint8_t primary, uint8_t secondary,
			    uint8_t subordinate);
void pci_cfg_put8(uint8_t *cfg, unsigned int off, uint8_t v);
void pci_cfg_put16(uint8_t *cfg, unsigned int off, uint16_t v);
void pci_cfg_put32(uint8_t *cfg, unsigned int off, uint32_t v);
/* A capability header at pos; also sets the Capabilities List status bit. */
void pci_cfg_cap(uint8_t *cfg, unsigned int pos, uint8_t id, uint8_t next);
/* A PCI Express capability of this Device/Port Type at pos. */
void pci_cfg_pcie(uint8_t *cfg, unsigned int pos, uint8_t type, uint8_t next);
void pci_cfg_ext_cap(uint8_t *cfg, unsigned int pos, uint16_t id,
		     unsigned int next);
/* Configuration reads served so far. */
extern unsigned long pci_cfg_reads;
