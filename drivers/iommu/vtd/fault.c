/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Primary fault recording (VT-d spec 7.2 and 11.4.14): walk the fault
 * records from FSTS.FRI with wrap-around, decode and clear each, then
 * clear an overflow.  The fault event interrupt says when to look; the
 * caller's periodic poll stays the fallback.  Logging is rate-limited per
 * requester so a device hammering an unmapped address cannot flood the
 * console.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"
#include "lib/string.h"

/* At most FAULT_LOG_BURST log lines per requester per window. */
#define FAULT_LOG_WINDOW_NS UINT64_C(1000000000)
#define FAULT_LOG_BURST	    5U

/*
 * Fault reasons (VT-d spec 7.1.3): the legacy-mode ones, the interrupt-
 * remapping ones (0x20-0x26, in either mode), then from 0x30 the
 * scalable-mode ones, named for the structure and check that failed.
 * QEMU 7.2 reports legacy codes in scalable mode too, plus 0x58 for any
 * PASID directory or table problem and 0x87.
 */
static const char *const reasons[] = {
	[0x1] = "root entry not present",
	[0x2] = "context entry not present",
	[0x3] = "invalid context entry",
	[0x4] = "address beyond the address width",
	[0x5] = "write not permitted",
	[0x6] = "read not permitted",
	[0x7] = "page-table entry unreadable",
	[0x8] = "root table unreadable",
	[0x9] = "context table unreadable",
	[0xa] = "root entry reserved bits set",
	[0xb] = "context entry reserved bits set",
	[0xc] = "page-table entry reserved bits set",
	[0xd] = "translation type blocked by context entry",
	/* QEMU reports DMA into the interrupt window with this code. */
	[0xe] = "access to the interrupt address range",
	[0x20] = "IR: reserved fields set in the interrupt request",
	[0x21] = "IR: interrupt index beyond the remapping table (IRTA.S)",
	[0x22] = "IR: remapping table entry not present",
	[0x23] = "IR: remapping table unreadable",
	[0x24] = "IR: remapping table entry reserved bits set",
	[0x25] = "IR: compatibility-format interrupt blocked",
	[0x26] = "IR: source-id verification failed",
	[0x30] = "SM: invalid root table address",
	[0x31] = "SM: request with PASID while not in scalable mode",
	[0x32] = "SM: page request while not in scalable mode",
	[0x38] = "SM: root entry unreadable",
	[0x39] = "SM: root entry not present",
	[0x3a] = "SM: root entry reserved bits set",
	[0x40] = "SM: context entry unreadable",
	[0x41] = "SM: context entry not present",
	[0x42] = "SM: context entry reserved bits set",
	[0x43] = "SM: invalid context entry",
	[0x44] = "SM: translation request with device-TLB disabled (DTE)",
	[0x45] = "SM: request with PASID, PASIDs disabled (PASIDE)",
	[0x46] = "SM: PASID beyond the PASID directory",
	[0x47] = "SM: page request disabled (PRE)",
	[0x48] = "SM: invalid RID_PASID in context entry",
	[0x50] = "SM: PASID directory entry unreadable",
	[0x51] = "SM: PASID directory entry not present",
	[0x52] = "SM: PASID directory entry reserved bits set",
	[0x58] = "SM: PASID table entry unreadable",
	[0x59] = "SM: PASID table entry not present",
	[0x5a] = "SM: PASID table entry reserved bits set",
	[0x5b] = "SM: invalid PASID table entry",
	[0x5c] = "SM: execute request, execute disabled (ERE)",
	[0x5d] = "SM: supervisor request, supervisor disabled (SRE)",
	[0x70] = "SM: first-level entry unreadable",
	[0x71] = "SM: first-level entry not present",
	[0x72] = "SM: first-level entry reserved bits set",
	[0x73] = "SM: first-level top entry unreadable (nested)",
	[0x74] = "SM: first-level entry address beyond MGAW (nested)",
	[0x75] = "SM: first-level top entry not readable (nested)",
	[0x76] = "SM: first-level entry not readable (nested)",
	[0x77] = "SM: first-level entry not writable (nested)",
	[0x78] = "SM: second-level entry unreadable",
	[0x79] = "SM: second-level entry rights violated",
	[0x7a] = "SM: second-level entry reserved bits set",
	[0x7b] = "SM: invalid second-level table pointer",
	[0x7c] = "SM: second-level A/D update needed while walks do not snoop",
	[0x80] = "SM: address not canonical for first-level translation",
	[0x81] = "SM: user request to a supervisor page (U/S clear)",
	[0x82] = "SM: execute request to a non-executable page",
	[0x83] = "SM: address beyond the address width",
	[0x84] = "SM: second-level output address beyond the address width",
	[0x85] = "SM: write not permitted",
	[0x86] = "SM: read not permitted",
	[0x87] = "SM: access to the interrupt address range",
	[0x90] = "SM: first-level A/D update needed while walks do not snoop",
};

const char *vtd_fault_reason_text(uint8_t reason)
{
	if (reason < ARRAY_SIZE(reasons) && reasons[reason]) {
		return reasons[reason];
	}
	return "unknown reason";
}

static struct vtd_fault_rate *rate_slot(struct vtd_unit *u, rid_t sid,
					uint64_t now)
{
	struct vtd_fault_rate *r, *victim = &u->fault_rate[0];
	unsigned int i;

	for (i = 0; i < VTD_FAULT_RATE_SLOTS; i++) {
		r = &u->fault_rate[i];
		if (r->used && rid_eq(r->sid, sid)) {
			return r;
		}
		if (victim->used &&
		    (!r->used ||
		     r->window_start_ns < victim->window_start_ns)) {
			victim = r;
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->sid = sid;
	victim->window_start_ns = now;
	return victim;
}

static bool rate_allow(struct vtd_unit *u, rid_t sid)
{
	uint64_t now = hw_now_ns();
	struct vtd_fault_rate *r = rate_slot(u, sid, now);

	if (now - r->window_start_ns >= FAULT_LOG_WINDOW_NS) {
		if (r->suppressed) {
			vtd_warn(u,
				 "%u more faults from sid " RID_FMT
				 " not logged",
				 r->suppressed, RID_ARGS(sid));
		}
		r->window_start_ns = now;
		r->count = 0;
		r->suppressed = 0;
	}
	if (r->count < FAULT_LOG_BURST) {
		r->count++;
		return true;
	}
	r->suppressed++;
	return false;
}

static void decode(const struct vtd_unit *u, uint64_t lo, uint64_t hi,
		   struct vtd_fault *f)
{
	memset(f, 0, sizeof(*f));
	f->unit = u->index;
	f->sid = rid_from((uint16_t)field_get64(VTD_FRCD_SID, hi));
	f->reason = (uint8_t)field_get64(VTD_FRCD_FR, hi);
	/* An interrupt request has no address and no direction (7.1.3). */
	f->irq = f->reason >= VTD_FR_IR_FIRST && f->reason <= VTD_FR_IR_LAST;
	if (f->irq) {
		f->index = (uint16_t)field_get64(VTD_FRCD_FI_IR, lo);
	} else {
		f->addr = iova_make(lo & VTD_FRCD_FI);
		f->write = !(hi & VTD_FRCD_T1);
	}
	/* PV is meaningful only with PP (QEMU leaves junk there). */
	f->pasid_present = hi & VTD_FRCD_PP;
	if (f->pasid_present) {
		f->pasid = (uint32_t)field_get64(VTD_FRCD_PV, hi);
	}
	f->text = vtd_fault_reason_text(f->reason);
}

int vtd_fault_poll(struct vtd_unit *u, vtd_fault_fn fn, void *ctx)
{
	uint32_t fsts = vtd_read32(u, VTD_FSTS_REG);
	unsigned int nfr = vtd_cap_nfr(u->cap);
	unsigned int idx, i;
	struct vtd_fault f;
	uint64_t lo, hi;
	uint32_t off;
	int handled = 0;

	if (fsts & VTD_FSTS_PPF) {
		idx = field_get32(VTD_FSTS_FRI, fsts);
		if (idx >= nfr) {
			idx = 0;
		}
		/* Records are 128-bit; FRI names the first pending one. */
		for (i = 0; i < nfr; i++) {
			off = (uint32_t)(vtd_cap_fro(u->cap) +
					 idx * VTD_FRCD_SIZE);
			hi = vtd_read64(u, off + 8);
			if (!(hi & VTD_FRCD_F)) {
				break;
			}
			lo = vtd_read64(u, off);
			/* F is RW1C in the top dword: a 32-bit write, nothing
			 * else. */
			vtd_write32(u, off + VTD_FRCD_F_DWORD_OFF,
				    VTD_FRCD_F_DWORD);
			decode(u, lo, hi, &f);
			u->stats.faults++;
			handled++;
			if (f.irq && rate_allow(u, f.sid)) {
				vtd_warn(u,
					 "irq fault sid " RID_FMT
					 " index 0x%x reason 0x%02x %s",
					 RID_ARGS(f.sid), f.index, f.reason,
					 f.text);
			} else if (rate_allow(u, f.sid)) {
				vtd_warn(u,
					 "fault sid " RID_FMT
					 " addr 0x%llx reason 0x%02x %s %s",
					 RID_ARGS(f.sid), IOVA_ARG(f.addr),
					 f.reason, f.write ? "write" : "read",
					 f.text);
			}
			if (fn) {
				fn(ctx, &f);
			}
			idx = (idx + 1) % nfr;
		}
	}
	/* Overflow is cleared only after the records that caused it. */
	if (fsts & VTD_FSTS_PFO) {
		vtd_write32(u, VTD_FSTS_REG, VTD_FSTS_PFO);
		vtd_warn(u, "fault records overflowed; later faults were lost");
	}
	return handled;
}

/*
 * Before taking a unit over: drain whatever firmware left in the fault
 * records, mask the fault event a previous owner may have left aimed at
 * its own vector, and clear stale error bits that would otherwise stop
 * our queue or be blamed on us.  Writing exactly the bits read acknowledges
 * only those (RW1C).
 */
void vtd_fault_clear_stale(struct vtd_unit *u)
{
	uint32_t errors;

	if (vtd_fault_poll(u, NULL, NULL)) {
		vtd_warn(u, "cleared fault records left by firmware");
	}
	vtd_fault_event_mask(u);
	errors =
		vtd_read32(u, VTD_FSTS_REG) & (VTD_FSTS_ERRORS & ~VTD_FSTS_PFO);
	if (errors) {
		vtd_warn(u, "clearing stale fault status 0x%x", errors);
		vtd_write32(u, VTD_FSTS_REG, errors);
	}
}

/*
 * FECTL.IM (VT-d spec 11.4.10): while set, the unit sends no fault event;
 * a fault recorded meanwhile only sets FECTL.IP.
 */
void vtd_fault_event_mask(struct vtd_unit *u)
{
	vtd_write32(u, VTD_FECTL_REG, VTD_FECTL_IM);
}

/*
 * The fault event (VT-d spec 7.3; FECTL, FEDATA, FEADDR and FEUADDR in
 * 11.4.10-11.4.13): an MSI the unit sends itself, outside interrupt
 * remapping, when a fault is recorded while none was pending.  Clearing
 * every record (vtd_fault_poll()) clears FECTL.IP, so the next fault
 * interrupts again.  FEUADDR carries the x2APIC id's upper bits (EIM).
 */
void vtd_fault_event_enable(struct vtd_unit *u)
{
	uint32_t apic = u->cfg.fault_apic;

	if (!u->cfg.fault_vector) {
		return;
	}
	vtd_fault_event_mask(u);
	vtd_write32(u, VTD_FEDATA_REG, u->cfg.fault_vector);
	vtd_write32(u, VTD_FEADDR_REG,
		    VTD_FEADDR_BASE |
			    field_prep32(VTD_FEADDR_DEST, apic & 0xffU));
	vtd_write32(u, VTD_FEUADDR_REG, apic & ~0xffU);
	vtd_write32(u, VTD_FECTL_REG, 0);
}
