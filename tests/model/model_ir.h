#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/rid.h"

/*
 * Interrupt remapping in the VT-d model (VT-d spec chapter 5), in
 * model_ir.c: the table latched by SIRTP from IRTA (size, EIME), IRE and
 * CFI, an interrupt entry cache that serves the entries it holds until an
 * IEC invalidation (global, or index-selective with IM) drops them, and
 * MSI delivery through the table with the unit's checks.  A blocked MSI
 * is recorded in the unit's fault records with its interrupt index.
 *
 * Checks recorded as violations: IRE set without a table pointer or
 * without a global IEC invalidation after SIRTP; EIME without ECAP.EIM;
 * a torn entry (one seen present, then present again with another
 * source-id word, never seen not present in between: at a cache flush of
 * the table, an IEC invalidation or a delivery); a delivery served from a
 * cached entry that memory no longer holds (an update without its IEC
 * invalidation); table reads of unflushed memory on a unit without
 * ECAP.C, as for every other table.
 */

/* Interrupt-remapping fault reasons (VT-d spec 7.1.3). */
#define MODEL_IR_FR_REQ_RSVD 0x20 /* reserved field in the request */
#define MODEL_IR_FR_INDEX    0x21 /* index beyond the table */
#define MODEL_IR_FR_NP	     0x22 /* entry not present */
#define MODEL_IR_FR_READ     0x23 /* table read failed */
#define MODEL_IR_FR_RSVD     0x24 /* reserved field in the entry */
#define MODEL_IR_FR_COMPAT   0x25 /* compatibility format blocked */
#define MODEL_IR_FR_SID	     0x26 /* source-id verification failed */

/* What became of one MSI. */
struct model_msi_result {
	bool delivered;
	bool remapped;	    /* through the table (remappable format) */
	bool stale;	    /* from a cached entry memory no longer holds */
	uint8_t reason;	    /* not delivered: MODEL_IR_FR_*, 0: IR off */
	unsigned int index; /* remappable: the entry used */
	uint32_t dest;	    /* APIC id: 8 bits, 32 with EIME */
	uint8_t vector;
	uint8_t dlm;  /* delivery mode */
	bool logical; /* destination mode */
	bool level;   /* trigger mode */
};

/* Requester sid writes data to the interrupt address addr through unit. */
void model_msi(unsigned int unit, rid_t sid, uint64_t addr, uint32_t data,
	       struct model_msi_result *out);

struct model_ir_stats {
	uint64_t iec_global; /* IEC invalidations executed */
	uint64_t iec_index;
	uint64_t iec_hits; /* deliveries served from the cache */
	uint64_t delivered;
	uint64_t blocked;
};

const struct model_ir_stats *model_ir_stats(unsigned int unit);

/* ---- between model.c and model_ir.c ---- */

/* model.c gives model_ir.c the unit's state and table reads. */
bool model_table_read(unsigned int unit, uint64_t pa, uint64_t *val);
uint32_t model_unit_gsts(unsigned int unit);
uint64_t model_unit_ecap(unsigned int unit);
void model_violation_str(const char *msg);

/* model.c calls these at SIRTP, IRE changes, IEC descriptors, flushes. */
void model_ir_reset(void);
void model_ir_sirtp(unsigned int unit, uint64_t irta);
void model_ir_ire(unsigned int unit, bool on);
unsigned int model_ir_desc_check(unsigned int unit, uint64_t lo, uint64_t hi);
void model_ir_iec(unsigned int unit, uint64_t lo);
void model_ir_flushed(uint64_t pa, uint64_t len);
void model_ir_stored(uint64_t pa);
/* model_ir.c records a blocked interrupt request in the fault records. */
void model_ir_fault(unsigned int unit, uint16_t sid, unsigned int index,
		    unsigned int reason);
