/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/iommu/vtd/regs.h"
#include "lib/addr.h"
#include "lib/rid.h"

/*
 * The VT-d driver's public interface: one struct vtd_unit per DRHD, domains
 * (I/O address spaces with their own second-level page tables), attach and
 * detach of requester ids, polled fault records.  Every function that
 * touches hardware returns 0 or a negative errno; no wait on hardware
 * outlasts its deadline (docs/design.md, invariant 3).
 *
 * Typical bring-up of one unit, RMRR identity maps before TE:
 *	u = vtd_unit_alloc();
 *	vtd_unit_init(u, ...);		registers checked, tables built
 *	vtd_domain_create(&u, 1, aw, &d);
 *	vtd_domain_map(d, base, base, len, rw);
 *	vtd_attach(d, u, sids, n);
 *	vtd_unit_enable(u);		QI, root table, IR, TE: default deny
 *
 * Units and domains are opaque: their layout is the driver's
 * (internal.h).  Nothing here is thread-safe: callers serialise all calls
 * per unit.
 */

struct vtd_unit;
struct vtd_domain;

/*
 * Classes of hardware wait, each with its own deadline (docs/design.md,
 * invariant 3).  A queued invalidation's time counts from when it reaches the
 * head of the queue; the CPU never waits longer than the deadline in any case.
 */
enum vtd_deadline_class {
	VTD_DEADLINE_REG,    /* register handshakes: GCMD/GSTS, PMEN */
	VTD_DEADLINE_IOTLB,  /* IOMMU-internal: context, IOTLB, PASID, IEC */
	VTD_DEADLINE_DEVTLB, /* device-TLB invalidations (ATS) */
	VTD_DEADLINE_COUNT,
};

/*
 * Translation table format chosen per unit (VT-d spec 3.4 and 3.5):
 * legacy root/context tables, or scalable-mode root/context tables with
 * PASID directories and tables.
 */
enum vtd_mode {
	VTD_MODE_LEGACY,
	VTD_MODE_SCALABLE,
};

/* vtd.mode on the command line: which mode units may choose. */
enum vtd_mode_choice {
	VTD_MODE_CHOICE_AUTO, /* scalable where the unit supports it */
	VTD_MODE_CHOICE_LEGACY,
	VTD_MODE_CHOICE_SCALABLE, /* refused, with a reason, where not */
};

struct vtd_config {
	uint64_t deadline_ns[VTD_DEADLINE_COUNT];
	enum vtd_mode_choice mode;
	/*
	 * Interrupt remapping in x2APIC mode (32-bit destination ids,
	 * IRTA.EIME) where the caller runs its APICs in x2APIC mode, the unit
	 * has ECAP.EIM and the DMAR table does not set X2APIC_OPT_OUT.
	 */
	bool x2apic;
	bool x2apic_opt_out; /* DMAR flags bit 1, as firmware asks */
	/*
	 * The fault event interrupt: vector (0: none, faults are only
	 * polled) sent to the local APIC with id fault_apic.
	 */
	uint8_t fault_vector;
	uint32_t fault_apic;
	/*
	 * A unit found translating in legacy mode keeps the previous life's
	 * context entries (moat restarted with the IOMMU running, its old
	 * tables reserved) until each requester's first attach or detach,
	 * instead of denying every requester at once.  See vtd_inherited().
	 */
	bool inherit;
};

/* The defaults and their reasons are documented at vtd_config_default(). */
void vtd_config_default(struct vtd_config *cfg);

/* "reg", "iotlb", "devtlb": for messages and the console. */
const char *vtd_deadline_name(enum vtd_deadline_class cls);

/*
 * Set one deadline from a command-line option: key is
 * "vtd.deadline.<name>" (see vtd_deadline_name()), value_us the deadline in
 * microseconds.  -ENOENT for another key, -ERANGE for 0 or more than 10
 * minutes.
 */
int vtd_config_set(struct vtd_config *cfg, const char *key,
		   unsigned long long value_us);

/*
 * Set a string option from the command line: key "vtd.mode", value
 * "legacy", "scalable" or "auto".  -ENOENT for another key, -EINVAL for
 * another value.
 */
int vtd_config_set_str(struct vtd_config *cfg, const char *key,
		       const char *value);

/* Waits of one deadline class. */
struct vtd_deadline_stats {
	uint64_t misses;      /* deadlines missed (queue: at its head) */
	uint64_t recoveries;  /* ...and later completed or reported */
	uint64_t max_wait_ns; /* longest time a CPU waited */
};

struct vtd_stats {
	uint64_t descriptors; /* invalidation descriptors, waits included */
	uint64_t batches;     /* batches, each ended by a wait descriptor */
	uint64_t doorbells;   /* IQT writes */
	uint64_t waits;	      /* polled completion waits */
	uint64_t timeouts;    /* waits that returned -ETIMEDOUT */
	uint64_t mmio_reads;
	uint64_t mmio_writes;
	uint64_t faults;      /* fault records read */
	uint64_t iqe;	      /* invalidation queue errors recovered */
	uint64_t ite;	      /* invalidation time-out errors recovered */
	uint64_t ice;	      /* invalidation completion errors cleared */
	uint64_t aborted;     /* batches an ITE aborted */
	uint64_t resubmitted; /* aborted batches queued again */
	uint64_t quarantines; /* devices quarantined */
	struct vtd_deadline_stats deadline[VTD_DEADLINE_COUNT];
};

/*
 * Whether the device at sid answers now (config space not all-ones, link
 * up).  The kernel's PCI layer provides it.  Presence checks race with
 * removal: this only avoids sending invalidations that cannot complete;
 * the deadline is the defence.
 */
typedef bool (*vtd_present_fn)(void *ctx, uint16_t segment, rid_t sid);

/*
 * Map the unit's registers, read VER/CAP/ECAP once, refuse units that
 * cannot be driven safely (-ENODEV for registers reading all-ones or zero,
 * -ENOTSUP for no queued invalidation or no usable address width), and
 * allocate the root table and invalidation queue.  Touches no control
 * register: whatever firmware left running keeps running until
 * vtd_unit_enable().
 */
int vtd_unit_init(struct vtd_unit *u, unsigned int index, uint16_t segment,
		  uint64_t reg_base, const struct vtd_config *cfg);

/*
 * Take the unit over and turn translation on with default deny: clear stale
 * faults, disable interrupt remapping and a firmware invalidation queue,
 * start our queue, switch to our root table (atomically, even if firmware
 * left TE on), invalidate globally, turn interrupt remapping on with our
 * table (ECAP.IR), set TE, then drop protected memory regions.  Every
 * requester not attached by then hits a not-present entry, every
 * interrupt not programmed a not-present interrupt remapping entry.
 */
int vtd_unit_enable(struct vtd_unit *u);

/*
 * Fault event masked, then translation, interrupt remapping and queue off
 * (shutdown, tests, or after a failed enable); domains must be detached.
 */
int vtd_unit_disable(struct vtd_unit *u);

/*
 * Free the unit's memory.  While the hardware may still use it (enable
 * started, disable not done) it is kept instead, with an error logged.
 */
void vtd_unit_fini(struct vtd_unit *u);

/* A zeroed unit for vtd_unit_init(), NULL without memory; freed after fini. */
struct vtd_unit *vtd_unit_alloc(void);
void vtd_unit_free(struct vtd_unit *u);

uint16_t vtd_unit_segment(const struct vtd_unit *u);
unsigned int vtd_unit_index(const struct vtd_unit *u);

/* CAP and ECAP as read at vtd_unit_init() (decoders in regs.h). */
uint64_t vtd_unit_cap(const struct vtd_unit *u);
uint64_t vtd_unit_ecap(const struct vtd_unit *u);
enum vtd_mode vtd_unit_mode(const struct vtd_unit *u);
/*
 * The deadline of one wait of class cls on u (its vtd_config): a call
 * waits at most one per class (docs/design.md, invariant 3).
 */
uint64_t vtd_unit_deadline_ns(const struct vtd_unit *u,
			      enum vtd_deadline_class cls);

/*
 * An IOMMU-internal invalidation missed its deadline and has not completed
 * yet: the unit takes no new attachments.
 */
bool vtd_unit_degraded(const struct vtd_unit *u);

const struct vtd_stats *vtd_unit_stats(const struct vtd_unit *u);

/* What the console's `iommu` command prints. */
struct vtd_unit_info {
	unsigned int index;
	uint16_t segment;
	uint64_t reg_base;
	unsigned int ver_major;
	unsigned int ver_minor;
	uint64_t cap;
	uint64_t ecap;
	const char *mode;	 /* "legacy" or "scalable" */
	const char *mode_reason; /* e.g. "auto: no SMTS" */
	uint32_t pasids;	 /* PASIDs usable (scalable mode), else 0 */
	bool te;		 /* from GSTS */
	bool qi;
	bool ir;
	unsigned int levels_mask; /* BIT(n): n-level tables supported */
	uint64_t page_sizes;	  /* VTD_PAGE_* sizes the unit can map */
	uint32_t domains;	  /* domain ids */
	uint32_t domains_used;	  /* of them in use, reserved ones included */
	bool caching_mode;
	bool coherent;
	bool ir_x2apic;	    /* remapped destinations are x2APIC ids */
	uint32_t irtes;	    /* interrupt remapping entries in use */
	uint32_t inherited; /* requester ids still on inherited entries */
};

void vtd_unit_info(struct vtd_unit *u, struct vtd_unit_info *info);

/*
 * Inherited translation (vtd_config.inherit): when vtd_unit_enable() finds
 * the unit translating in legacy mode with legacy tables, it copies every
 * valid present context entry of the old tables into its own, keeps the
 * old domain ids out of use, and switches to its tables with translation
 * left on, so those requesters' DMA goes on through the old page tables
 * (never freed by moat: they belong to the previous life).  Every other
 * requester is denied, as without inherit; so is one whose old entry is
 * unreachable or malformed (logged).  Anything else (scalable mode, old
 * tables in another mode) falls back to the plain takeover, logged.
 *
 * An inherited requester id keeps that entry until vtd_attach() or
 * vtd_detach() names it: its entry is made not present and invalidated
 * under the old domain id first (docs/design.md, invariant 5), then attach
 * proceeds as for any detached id; detach leaves it blocked.  An old domain id
 * is released when its last inherited requester id was.
 */
bool vtd_inherited(const struct vtd_unit *u, rid_t sid);

/*
 * Devices behind a unit, by requester id (bus << 8 | devfn).  A device
 * whose device-TLB invalidation missed its deadline or timed out (ITE), or
 * that sent repeated bad completions (ICE), is quarantined: it cannot be
 * attached and gets no device-TLB invalidation until vtd_device_reset_done().
 */
void vtd_unit_set_presence(struct vtd_unit *u, vtd_present_fn fn, void *ctx);

/* The device at sid was removed: it gets no device-TLB invalidation. */
void vtd_device_gone(struct vtd_unit *u, rid_t sid);

/* The device at sid was reset, or a new one appeared there: fresh state. */
void vtd_device_reset_done(struct vtd_unit *u, rid_t sid);

bool vtd_device_quarantined(const struct vtd_unit *u, rid_t sid);

typedef void (*vtd_sid_fn)(void *ctx, rid_t sid);

/* Calls fn for each quarantined requester id, in order (for `qi`). */
void vtd_for_each_quarantined(struct vtd_unit *u, vtd_sid_fn fn, void *ctx);

/* Order for vtd_devtlb_flush(): the whole address space. */
#define VTD_DEVTLB_ALL 52U

/*
 * Invalidate the device-TLB (ATS translation cache) of the device at sid:
 * 2^order pages at addr, aligned to that size, or everything with order
 * VTD_DEVTLB_ALL.  pfsid is its physical function's requester id (its own
 * unless it is an SR-IOV VF), qdepth its ATS invalidate queue depth.
 * -ENOTSUP without device-TLB support (ECAP.DT), -EIO when quarantined and
 * -ENODEV when known absent (nothing is sent then), -ETIMEDOUT when the
 * device-TLB deadline passed: the device is quarantined.
 */
int vtd_devtlb_flush(struct vtd_unit *u, rid_t sid, rid_t pfsid,
		     unsigned int qdepth, iova_t addr, unsigned int order);

/*
 * Move the invalidation queue on without waiting: notice completions,
 * missed deadlines and queue errors (IQE, ITE, ICE), and recover from them.
 * Call it periodically, like vtd_fault_poll(): an ITE arrives up to minutes
 * after the deadline that gave up on it, maybe while no other call is made.
 */
void vtd_qi_poll(struct vtd_unit *u);

/*
 * Prove IQE recovery on real or emulated hardware (console, QEMU tests):
 * queue an IOTLB invalidation with a reserved bit set, which the unit
 * must refuse with an invalidation queue error, then a valid one.  0 when
 * the error was raised and recovered and the queue works again; -EIO when
 * the unit raised no error; otherwise the valid invalidation's error.
 */
int vtd_qi_selftest_iqe(struct vtd_unit *u);

/* What the console's `qi` command prints for a unit. */
struct vtd_qi_info {
	unsigned int head;	/* IQH: the next slot the hardware fetches */
	unsigned int tail;	/* IQT: the next slot software fills */
	unsigned int oldest;	/* first slot the hardware has not passed */
	unsigned int in_flight; /* slots from oldest to tail */
	unsigned int batches;	/* batches in flight or to be queued again */
	uint32_t seq;		/* last sequence number issued */
	uint32_t done_seq;	/* every batch up to this one finished */
	uint32_t errors;	/* FSTS.IQE, ICE, ITE as read now */
	bool degraded; /* an internal invalidation is past its deadline */
	unsigned int quarantined; /* devices */
};

void vtd_qi_info(struct vtd_unit *u, struct vtd_qi_info *info);

/* One batch in flight or waiting to be queued again after an ITE. */
struct vtd_qi_batch_info {
	uint32_t seq;
	unsigned int first; /* slots; both VTD_QI_SLOTS while not queued */
	unsigned int wait;
	unsigned int count; /* descriptors before the wait */
	enum vtd_deadline_class cls;
	bool has_sid;
	rid_t sid;	   /* its device-TLB target */
	uint64_t age_ns;   /* since its doorbell; 0 before */
	uint64_t head_ns;  /* time at the head of the queue; 0 before */
	const char *state; /* "queued", "at head", "late", "failed",
			    * "aborted", "redo" */
};

typedef void (*vtd_qi_batch_fn)(void *ctx, const struct vtd_qi_batch_info *b);

/* Calls fn for each batch, oldest first (for `qi`). */
void vtd_qi_for_each_batch(struct vtd_unit *u, vtd_qi_batch_fn fn, void *ctx);

/* Page sizes, as byte counts that can be OR-ed into a mask. */
#define VTD_PAGE_4K (UINT64_C(1) << 12)
#define VTD_PAGE_2M (UINT64_C(1) << 21)
#define VTD_PAGE_1G (UINT64_C(1) << 30)

/* Access rights of a mapping. */
#define VTD_PROT_READ  1U
#define VTD_PROT_WRITE 2U

/*
 * How a domain translates, its choice at creation (VT-d spec 3.6 to 3.8).
 * Second-level tables work in both modes.  First-level tables (the IA-32e
 * paging format: a present bit, no write-only pages, 1 GiB leaves only
 * with CAP.FL1GP) and pass-through need every unit of the domain in
 * scalable mode, with ECAP.FLTS and ECAP.PT respectively.
 */
enum vtd_format {
	VTD_FORMAT_SECOND_LEVEL,
	VTD_FORMAT_FIRST_LEVEL,
	VTD_FORMAT_PASSTHROUGH,
};

#define VTD_DOMAIN_MAX_UNITS 16U

/*
 * A domain usable on every unit in units[] (capabilities intersected:
 * table depth, large pages, coherency), with a domain id on each.
 * addr_width is the IOVA width asked for (e.g. 39 or 48).  Its tables are
 * second-level, or first-level where a unit in scalable mode has FLTS
 * without SLTS; first-level IOVAs are then narrowed to what those tables
 * cover (d->addr_width: 47 bits, 56 with CAP.FL5LP).  -ENOTSUP, with the
 * reason logged, when some unit cannot walk the format.
 */
int vtd_domain_create(struct vtd_unit *const *units, unsigned int unit_count,
		      unsigned int addr_width, struct vtd_domain **out);

/*
 * The same with the domain's table format (vtd_domain_create() uses
 * second-level tables).  -ENOTSUP when a unit cannot walk that format.
 * First-level tables have 4 levels up to 47-bit IOVAs (canonical lower
 * half), 5 levels up to 56 bits with CAP.FL5LP.  A pass-through domain
 * maps every address to itself: vtd_domain_map() and vtd_domain_unmap()
 * refuse it.
 */
int vtd_domain_create_fmt(struct vtd_unit *const *units,
			  unsigned int unit_count, unsigned int addr_width,
			  enum vtd_format format, struct vtd_domain **out);

/*
 * What u lacks to walk tables of format (VT-d spec 11.4.3: SLTS, FLTS,
 * PT in scalable mode; legacy mode walks second-level tables only), as
 * "scalable mode" or "first-level translation (FLTS)"; NULL if nothing.
 */
const char *vtd_unit_no_format(const struct vtd_unit *u,
			       enum vtd_format format);

/* -EBUSY while requester ids are attached. */
int vtd_domain_destroy(struct vtd_domain *d);

/*
 * Map [iova, iova + len) to [hpa, hpa + len) with VTD_PROT_* rights, using
 * the largest leaves that alignment, length and the units allow.  All
 * arguments 4 KiB aligned.  -EEXIST if part of the range is mapped (nothing
 * is left mapped then).
 */
int vtd_domain_map(struct vtd_domain *d, iova_t iova, hpa_t hpa, uint64_t len,
		   unsigned int prot);

/*
 * Unmap [iova, iova + len), splitting large leaves that straddle its ends.
 * Returns when the invalidation covering it completed on every unit: the
 * devices can no longer reach that memory.  -ENOENT if nothing was mapped
 * there.  On -ETIMEDOUT, -EIO or -EBUSY the range may still be reachable:
 * the caller must not reuse the memory behind it before vtd_domain_flush()
 * succeeds.
 */
int vtd_domain_unmap(struct vtd_domain *d, iova_t iova, uint64_t len);

/* One IOVA range, 4 KiB aligned. */
struct vtd_range {
	iova_t iova;
	uint64_t len;
};

/*
 * Unmap count ranges as vtd_domain_unmap() does one, with one
 * invalidation batch per unit for all of them: page-selective
 * descriptors (one per range, fewer where ranges touch and align, or one
 * domain-selective when they do not fit a batch), one wait, one
 * doorbell.  When it returns 0 nothing in any range is reachable.
 * -EINVAL before any change if a range is invalid; -ENOENT if nothing
 * was mapped in any of them.
 */
int vtd_domain_unmap_ranges(struct vtd_domain *d, const struct vtd_range *r,
			    unsigned int count);

/*
 * Invalidate everything the units cache for d and wait.  After 0, nothing
 * unmapped earlier is reachable, even after an unmap that failed, and the
 * table pages waiting for invalidations are freed.
 */
int vtd_domain_flush(struct vtd_domain *d);

/* One run of equal-sized leaves with contiguous IOVAs and addresses. */
struct vtd_mapping {
	iova_t iova;
	hpa_t hpa;
	uint64_t len;
	uint64_t page_size;
	unsigned int prot;
};

typedef void (*vtd_mapping_fn)(void *ctx, const struct vtd_mapping *m);

/* Calls fn for each run in IOVA order (for `domain show`). */
void vtd_domain_for_each_mapping(struct vtd_domain *d, vtd_mapping_fn fn,
				 void *ctx);

/* Domain id of d on u, or -ENOENT if d does not span u. */
int vtd_domain_did(const struct vtd_domain *d, const struct vtd_unit *u);

/* The table format d's page tables use. */
enum vtd_format vtd_domain_format(const struct vtd_domain *d);

/* The shape of d's tables and the memory they hold, for accounting. */
struct vtd_domain_info {
	enum vtd_format format;
	unsigned int addr_width; /* IOVAs are below 2^addr_width */
	unsigned int levels;	 /* table depth */
	uint64_t page_sizes;	 /* leaf sizes used (VTD_PAGE_*) */
	bool coherent;		 /* no cache flush after a table write */
	uint64_t table_pages;	 /* pages in the tables, root included */
	/*
	 * Batches of freed table pages still waiting for an invalidation to
	 * complete before they go back to hw_page_free() (vtd_domain_flush()
	 * settles them).
	 */
	unsigned int deferred;
};

void vtd_domain_info(const struct vtd_domain *d, struct vtd_domain_info *info);

/*
 * Attach requester ids (bus << 8 | devfn; a device behind a PCIe-to-PCI
 * bridge also needs the bridge's alias) to d through unit u: their context
 * entries (legacy mode) or their RID_PASID entries (scalable mode, where
 * the context entry and PASID directory are set up with the first PASID
 * of an id and torn down with its last).  Each id must
 * be detached or inherited (see vtd_inherited()): a present context entry
 * is never rewritten (docs/design.md, invariant 5), -EBUSY otherwise.  -EIO for
 * a quarantined device; -ETIMEDOUT while the unit is degraded (an internal
 * invalidation missed its deadline).
 */
int vtd_attach(struct vtd_domain *d, struct vtd_unit *u,
	       const rid_t *source_ids, unsigned int count);

/*
 * Attach one requester id with ATS (VT-d spec 4.2, 9.3): the legacy
 * context entry takes translation requests and translated requests
 * (TT 01), so enable ATS in the device only after this returned.  From
 * then on every invalidation of a range of d is followed by a device-TLB
 * invalidation to sid (pfsid and qdepth as for vtd_devtlb_flush()), and
 * vtd_detach() ends with one for everything.  -ENOTSUP without ECAP.DT
 * or in scalable mode; otherwise errors as for vtd_attach().
 */
int vtd_attach_ats(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		   rid_t pfsid, unsigned int qdepth);

/*
 * Block the requester ids again: context entries (RID_PASID entries in
 * scalable mode) not present, caches invalidated.  -EINVAL if one of them
 * is not attached to d.  Inherited requester ids (see vtd_inherited()) are
 * blocked and dropped whatever d is, as long as d spans u; a list mixing
 * them with attached ones is refused (-EINVAL).
 */
int vtd_detach(struct vtd_domain *d, struct vtd_unit *u,
	       const rid_t *source_ids, unsigned int count);

/*
 * PASIDs (scalable mode; -ENOTSUP on a unit in legacy mode).  Requests
 * without PASID translate through the entry of VTD_RID_PASID, the one
 * vtd_attach() and vtd_detach() use there.  Other PASIDs need ECAP.PASID
 * and must be below the unit's vtd_unit_info.pasids (-ERANGE).  An entry
 * is never rewritten while present (docs/design.md, invariant 5): attach
 * needs it empty (-EBUSY), detach leaves it empty, and a switch blocks it
 * in between.  Errors as for vtd_attach() and vtd_detach().
 *
 * moat's console reaches these and nested attach (`attach BDF D pasid P`),
 * but QEMU emulates no PASID-tagged DMA: the model tests
 * (tests/model/test_sm.c) judge their effect.
 */
#define VTD_RID_PASID 0U

int vtd_attach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		     uint32_t pasid);

/* Blocks that PASID of that requester only. */
int vtd_detach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		     uint32_t pasid);

/*
 * Move an attached PASID from one domain to another: the entry is made not
 * present, the caches holding it are invalidated, then it is written for
 * to and made present again.  Requests in between fault; none ever sees a
 * mix of the two.  If the invalidation fails, the PASID stays blocked,
 * still attached to from (detach it to retry).
 */
int vtd_switch_pasid(struct vtd_domain *from, struct vtd_domain *to,
		     struct vtd_unit *u, rid_t sid, uint32_t pasid);

/*
 * Nested translation (ECAP.NEST): the PASID's requests walk first-level
 * tables of fl_levels (4, or 5 with CAP.FL5LP) at fl_table, an address in
 * parent's IOVA space, and every address that walk produces or reads
 * through is translated by parent's second-level tables.  The first-level
 * tables belong to the caller (a guest); after changing them it calls
 * vtd_domain_flush(parent).  Detach with vtd_detach_pasid(parent, ...).
 */
int vtd_attach_nested(struct vtd_domain *parent, struct vtd_unit *u, rid_t sid,
		      uint32_t pasid, iova_t fl_table, unsigned int fl_levels);

/*
 * One primary fault record: a DMA request's (addr, write), or with irq an
 * interrupt request's, blocked by interrupt remapping (index).
 */
struct vtd_fault {
	unsigned int unit;
	rid_t sid;
	bool irq;
	iova_t addr;	/* faulting page */
	uint16_t index; /* interrupt index */
	uint8_t reason;
	bool write;
	bool pasid_present;
	uint32_t pasid;
	const char *text; /* the reason, decoded */
};

typedef void (*vtd_fault_fn)(void *ctx, const struct vtd_fault *f);

/*
 * Read every pending fault record starting at FSTS.FRI (wrapping), hand
 * each to fn (may be NULL), clear it, then clear an overflow.  Logging is
 * rate-limited per requester.  Returns the number of records read.
 */
int vtd_fault_poll(struct vtd_unit *u, vtd_fault_fn fn, void *ctx);

/*
 * Unmasks the fault event interrupt at cfg.fault_vector (nothing when it
 * is 0): a new fault record then sends it, so the caller learns of faults
 * without waiting for its next vtd_fault_poll().
 */
void vtd_fault_event_enable(struct vtd_unit *u);
/*
 * Masks it again: vtd_unit_disable() does, and a kernel handing the unit
 * over (kexec) must, since the next one has no handler at that vector
 * until it unmasks the event itself.
 */
void vtd_fault_event_mask(struct vtd_unit *u);

/*
 * Interrupt remapping (VT-d spec chapter 5), on every unit with ECAP.IR:
 * vtd_unit_enable() programs the unit's table, invalidates the interrupt
 * entry cache and turns remapping on with compatibility-format
 * interrupts blocked, so only interrupts a present entry allows reach a
 * CPU.  An entry is programmed for one vector and destination APIC id
 * (fixed delivery, edge, physical destination) and verifies the
 * requester: every requester id the device's interrupts may carry must
 * be given, as for vtd_attach().  Each change is published without a torn
 * entry ever being present and returns after the interrupt entry cache
 * invalidation completed (IOMMU-internal deadline): -ETIMEDOUT degrades
 * the unit like any late internal invalidation.
 *
 * Programming an edu's MSI on unit u:
 *	vtd_irte_alloc(u, &index);
 *	vtd_irte_set(u, index, apic_id, vector, rids, rid_count);
 *	msg = vtd_irte_msi(index);	address and data for the capability
 * and on release: mask the MSI in the device, then vtd_irte_free(u, index).
 */

/* An entry index; -ENOTSUP without interrupt remapping, -ENOSPC if full. */
int vtd_irte_alloc(struct vtd_unit *u, unsigned int *index);

/*
 * Program entry index to deliver vector to the APIC with id dest, only
 * for requests from the count requester ids.  -EINVAL for an index not
 * allocated or no requester id, -ERANGE for a destination the unit's
 * mode cannot address (above 255 without x2APIC mode), -EIO for a
 * quarantined requester, -ETIMEDOUT while the unit is degraded or when
 * the invalidation missed its deadline (the entry may then not be
 * present yet; set it again or clear it).
 */
int vtd_irte_set(struct vtd_unit *u, unsigned int index, uint32_t dest,
		 uint8_t vector, const rid_t *source_ids, unsigned int count);

/* Clear the entry and release the index, even when clearing failed. */
int vtd_irte_free(struct vtd_unit *u, unsigned int index);

/* An MSI message: what the device's MSI or MSI-X entry is given. */
struct vtd_msi {
	uint64_t address;
	uint32_t data;
};

/* The remappable-format message naming entry index (VT-d spec 5.1.5.2). */
struct vtd_msi vtd_irte_msi(unsigned int index);
