#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/acpi/dmar.h"
#include "drivers/iommu/backend.h"
#include "drivers/pci/pci.h"
#include "drivers/pci/reset.h"

/*
 * The isolation layer: what moat promises about devices' DMA, on top of
 * one IOMMU back end (backend.h).  It owns the units brought up from the
 * DMAR table, the domains (each with an owner: the console or a guest),
 * the attachment of each device object to a domain, the owner of each
 * isolation group, quarantine, removal, reset and guests' devices.  The
 * same file builds into the kernel and into host tests.
 *
 * Ownership (docs/design.md, invariant 7): every isolation group belongs
 * to the kernel, to one named owner (a guest, or a console claim), or to
 * quarantine.  A claim blocks the whole group first.  A group's DMA may
 * reach only the owner that last attached it; before it is attached for
 * anyone else it must be proven quiet: blocked, bus mastering off, then
 * reset or quiesced (pci_dev_quiesce()).  A group is never assumed quiet:
 * at boot, after kexec, and after any attach it is not.
 *
 * Lifecycle (docs/design.md, invariant 6): detach, removal and
 * quarantine complete in software.  What the hardware cannot confirm yet (an
 * invalidation behind a dead device, a domain whose last detach is pending)
 * waits on a retry list that iommu_poll() drains, holding its references until
 * then.
 *
 * Every table grows with what exists: domains, attachments, requester ids
 * and groups are hashed, so attach and fault attribution cost the same for
 * 16 or 16,384 devices.
 */
#define IOMMU_OWNER_NAME_MAX 16
#define IOMMU_SIDS_MAX	     8
#define IOMMU_ATS_ALLOW_MAX  8
/* Domain ids the console and guests see: 1 .. IOMMU_DOMAIN_ID_MAX. */
#define IOMMU_DOMAIN_ID_MAX 65535U

struct iommu_hnode {
	struct iommu_hnode *next;
	uint64_t key;
};

struct iommu_hash {
	struct iommu_hnode **buckets;
	unsigned int size; /* a power of two, or 0 before the first add */
	unsigned int count;
};

enum iommu_owner_kind {
	IOMMU_OWNER_KERNEL,
	IOMMU_OWNER_NAMED,
	IOMMU_OWNER_QUARANTINE,
};

/* A guest, or a name a console claim gave. */
struct iommu_owner {
	struct iommu_owner *next;
	uint64_t serial; /* unique, never reused; the kernel is 1 */
	char name[IOMMU_OWNER_NAME_MAX];
	bool guest; /* made by iommu_owner_new(), lives until deleted */
	unsigned int groups;	  /* groups it owns */
	struct iommu_domain *dom; /* a guest's domain */
	unsigned int dom_id;	  /* its console number */
	uint64_t faults;	  /* DMA faults its devices caused */
	uint64_t irq_faults;	  /* their interrupts blocked by remapping */
};

/* A device assigned to a guest: the guest's reference to it. */
struct iommu_hold {
	struct pci_dev *dev; /* referenced */
	struct iommu_owner *owner;
	struct iommu_grp *grp;
	const char *method; /* how the group was proven quiet, or "forced" */
};

struct iommu_domain;
struct iommu_grp;
struct iommu_att;
struct iommu_held_fault;

/* Fault records read but not reported yet, at most. */
#define IOMMU_HELD_FAULTS_MAX 1024U

struct iommu_bdf {
	uint16_t seg;
	uint8_t bus;
	uint8_t devfn;
};

struct iommu {
	struct iommu_be_config *cfg;
	struct iommu_be_platform plat;
	struct dmar *dmar;
	struct pci_host *pci;
	struct iommu_be_unit **units; /* by DMAR unit; NULL: not driven */
	unsigned int unit_count;
	unsigned int live_units;
	struct iommu_hash domains; /* by id, dying ones included */
	uint32_t *id_map;	   /* domain ids in use, bit per id */
	unsigned int id_next;	   /* where the next id search starts */
	/* No mappings at all: where claimed and released groups wait. */
	struct iommu_domain *blocking;
	struct iommu_domain **rmrr; /* per unit: identity maps of its RMRRs */
	struct iommu_hash atts;	    /* by device object */
	struct iommu_hash sids;	    /* by unit << 16 | requester id */
	struct iommu_hash grps;	    /* by PCI group id */
	struct iommu_owner *owners;
	uint64_t owner_serial;
	bool sweep_due; /* a device left: some group records may be stale */
	uint64_t sweep_gen;
	struct iommu_att *retry; /* detaches the hardware has not confirmed */
	struct iommu_domain *dying; /* domains whose destruction failed */
	unsigned int
		fault_limit; /* faults before a guest's device is quarantined */
	/* Faults charged when read, until iommu_faults() reports them. */
	struct iommu_held_fault *held;
	struct iommu_held_fault **held_tail;
	unsigned int held_count;
	uint64_t held_lost;
	struct iommu_bdf ats_allow[IOMMU_ATS_ALLOW_MAX];
	unsigned int ats_allow_count;
	/*
	 * What the settle waits of iommu_reset(), of the proof of quiet in
	 * iommu_assign() and iommu_attach(), and of the quiesce in
	 * iommu_unassign() let run (the kernel's housekeeping: hot-plug,
	 * faults, iommu_poll()); fn NULL: nothing.
	 * docs/design.md, "Waits that yield".
	 */
	struct pci_yield yield;
};

/*
 * Options: cfg from iommu_config_new() (its keys: iommu_be_option_keys),
 * then iommu_init(): every usable unit of dmar up, RMRR identity maps
 * first, translation on with default deny.  A unit that fails is rejected
 * in dmar with the reason.  fini (host tests) detaches everything, drains
 * the retry lists and frees every unit.
 */
void iommu_init(struct iommu *im, struct dmar *dmar, struct pci_host *pci,
		struct iommu_be_config *cfg,
		const struct iommu_be_platform *plat);
void iommu_fini(struct iommu *im);
/*
 * Before a restart without firmware (kexec): every unit keeps translating
 * for the next kernel, with no interrupt of its own left aimed at us.
 */
void iommu_handover(struct iommu *im);
int iommu_ats_allow(struct iommu *im, uint16_t seg, uint8_t bus, uint8_t devfn);

/* Late invalidation work, retries, and groups the back end quarantined. */
void iommu_poll(struct iommu *im);
/* Whether teardown is still waiting on the hardware. */
bool iommu_pending(const struct iommu *im);

/* The objects the layer holds, for accounting and leak checks. */
struct iommu_counts {
	unsigned int domains;	  /* dying ones included */
	unsigned int attachments; /* device objects attached */
	unsigned int sids;	  /* requester ids attached */
	unsigned int groups;	  /* group records */
};

struct iommu_counts iommu_counts(const struct iommu *im);

/* The live unit translating d's DMA, or NULL (and why, in *why). */
struct iommu_be_unit *iommu_unit_for(struct iommu *im, const struct pci_dev *d,
				     const char **why);

/*
 * Domains.  owner NULL is the console.  An owner acts only on its own
 * domains (-EPERM otherwise); -ENOENT for no such domain.  del: -EBUSY
 * while devices are attached.  unmap: on an error the range may still be
 * reachable and must not be reused until iommu_flush() succeeds.
 */
int iommu_domain_new(struct iommu *im, struct iommu_owner *owner,
		     unsigned int *id);
/*
 * The same with tables of format (iommu_domain_new(): automatic).  A
 * format asked for spans the units that can walk it: attaching a device
 * behind another is refused.  -ENOTSUP when no unit can; *why says what
 * they lack.
 */
int iommu_domain_new_format(struct iommu *im, struct iommu_owner *owner,
			    enum iommu_format format, unsigned int *id,
			    const char **why);
/*
 * A nested domain over owner's domain parent_id, which must have
 * second-level tables (-ENOTSUP): PASIDs attached to it walk the
 * first-level tables of levels (4 or 5) at table, an address in the
 * parent's IOVA space, and the parent translates every address of that
 * walk.  It maps nothing itself and takes PASIDs only; the parent cannot
 * be deleted before it.
 */
int iommu_domain_new_nested(struct iommu *im, struct iommu_owner *owner,
			    unsigned int parent_id, iova_t table,
			    unsigned int levels, unsigned int *id);
/* The format of domain id's tables (automatic for no such domain). */
enum iommu_format iommu_domain_format(struct iommu *im, unsigned int id);
int iommu_domain_del(struct iommu *im, struct iommu_owner *owner,
		     unsigned int id);
bool iommu_domain_exists(struct iommu *im, unsigned int id);
int iommu_map(struct iommu *im, struct iommu_owner *owner, unsigned int id,
	      iova_t iova, hpa_t hpa, uint64_t len, unsigned int prot);
int iommu_unmap(struct iommu *im, struct iommu_owner *owner, unsigned int id,
		iova_t iova, uint64_t len);
/*
 * count ranges (at most IOMMU_RANGES_MAX) in one batch: one wait per unit,
 * and when it returns 0 no device reaches any of them.
 */
int iommu_unmap_ranges(struct iommu *im, struct iommu_owner *owner,
		       unsigned int id, const struct iommu_range *r,
		       unsigned int count);
int iommu_flush(struct iommu *im, struct iommu_owner *owner, unsigned int id);
int iommu_for_each_mapping(struct iommu *im, unsigned int id,
			   iommu_mapping_fn fn, void *ctx);
/*
 * Whether some domain (*id, the first found) may still reach part of
 * memory [hpa, hpa + len): it maps it, or one of its unmaps failed and
 * was not flushed since (what it unmapped may still be cached).  Memory
 * is given back only when no domain can: mem free asks.
 */
bool iommu_hpa_reachable(struct iommu *im, hpa_t hpa, uint64_t len,
			 unsigned int *id);

/*
 * The console's device operations.  attach: d's group must be the
 * kernel's, and proven quiet if anyone else's DMA may be in flight
 * (-EAGAIN, *why says what is missing); d's unit must be able to walk the
 * domain's tables (-ENOTSUP, *why says what it lacks).  detach: blocked again.
 * claim: the whole group to a named owner, blocked.  release: back to the
 * kernel, blocked.  reset: d blocked, ATS off, bus mastering off, reset or
 * quiesced (method in *method); ends a quarantine of its group.
 */
int iommu_attach(struct iommu *im, struct pci_dev *d, unsigned int id,
		 const char **why);
int iommu_detach(struct iommu *im, struct pci_dev *d);
int iommu_claim(struct iommu *im, struct pci_dev *d, const char *name,
		bool rmrr_override);
/*
 * PASIDs of a device the console attached (iommu_attach(), with a
 * requester id of its own: -E2BIG otherwise; -ENOENT when not attached):
 * requests it tags with pasid translate through console domain id.  An
 * attached PASID moves to id, blocked in between.  Every PASID is blocked
 * before the device's requester id is detached, moved or removed.
 * Errors of the back end's (iommu_be_pasid_attach()).
 */
int iommu_pasid_attach(struct iommu *im, struct pci_dev *d, unsigned int id,
		       uint32_t pasid);
int iommu_pasid_detach(struct iommu *im, struct pci_dev *d, uint32_t pasid);
typedef void (*iommu_pasid_fn)(void *ctx, const struct pci_dev *d,
			       uint32_t pasid);
/* Each PASID attached to domain id (for `domain show`). */
void iommu_for_each_pasid(struct iommu *im, unsigned int id, iommu_pasid_fn fn,
			  void *ctx);
int iommu_release(struct iommu *im, struct pci_dev *d);
int iommu_reset(struct iommu *im, struct pci_dev *d, const char **method);
int iommu_quarantine(struct iommu *im, struct pci_dev *d, const char *why);
enum iommu_owner_kind iommu_owner_of(struct iommu *im, const struct pci_dev *d,
				     const char **name);
/*
 * Whether the kernel itself (the console's edu dma) may program d's DMA:
 * -ENODEV when d is gone or does not answer, -EPERM when quarantined,
 * -EBUSY when its group is a guest's, claimed, or in transit.
 */
int iommu_kernel_may_drive(struct iommu *im, struct pci_dev *d);

/*
 * Guests.  owner_new: a named owner with its own domain.  assign: claims
 * d's group, proves it quiet (or force: logged), attaches d (and what
 * shares its requester ids) to the owner's domain, turns bus mastering
 * on; *hold is the owner's reference.  unassign: group blocked, bus
 * mastering off, quiesced, and back to the kernel when the owner holds no
 * other member; frees hold.  owner_del: every hold must be gone; the
 * domain is destroyed now or by iommu_poll() later.
 */
int iommu_owner_new(struct iommu *im, const char *name,
		    struct iommu_owner **out);
void iommu_owner_del(struct iommu *im, struct iommu_owner *owner);
int iommu_assign(struct iommu *im, struct iommu_owner *owner, struct pci_dev *d,
		 bool force, struct iommu_hold **hold, const char **why);
void iommu_unassign(struct iommu *im, struct iommu_hold *hold);

/* An MSI through a remapping entry only d's requester ids may use. */
struct iommu_irq {
	struct iommu_be_unit *unit;
	unsigned int index;
	uint64_t address;
	uint32_t data;
};

int iommu_irq_setup(struct iommu *im, struct pci_dev *d, uint32_t dest,
		    uint8_t vector, struct iommu_irq *irq);
void iommu_irq_teardown(struct iommu_irq *irq);

/*
 * Hot-plug (docs/design.md, invariant 6).  removing: orderly, d still
 * answers: its DMA is blocked and ATS turned off; false when nothing was
 * attached to block. removed: d is gone; its requester ids are released
 * (inherited ones too) without touching it or waiting on it. added: a fresh
 * device: no failure of its predecessor held against it, and blocked if it
 * joins a group someone owns.
 */
bool iommu_device_removing(struct iommu *im, struct pci_dev *d);
void iommu_device_removed(struct iommu *im, struct pci_dev *d);
void iommu_device_added(struct iommu *im, struct pci_dev *d);

/* Each device attached with ATS on: its queue depth and console domain. */
typedef void (*iommu_ats_fn)(void *ctx, const struct pci_dev *d,
			     unsigned int qdepth, unsigned int domain);
void iommu_for_each_ats(struct iommu *im, iommu_ats_fn fn, void *ctx);

/*
 * Faults: each record with the owner it is charged to (NULL: the kernel):
 * its requester id's owner when it was read, and records are read before
 * any requester id changes owner or leaves.  Past fault_limit faults a
 * guest's device is quarantined (if it is still the guest's).
 */
typedef void (*iommu_owned_fault_fn)(void *ctx, const struct iommu_fault *f,
				     const char *owner);
void iommu_faults(struct iommu *im, iommu_owned_fault_fn fn, void *ctx);
/* Who a fault of (unit, sid) is charged to, or NULL for the kernel. */
struct iommu_owner *iommu_fault_owner(struct iommu *im, unsigned int unit,
				      rid_t sid);

/* The console's `iommu`, `qi` and `stats`, and `qi selftest` per unit. */
void iommu_report(struct iommu *im, const char *what, iommu_line_fn fn,
		  void *ctx);
int iommu_selftest(struct iommu *im, unsigned int *unit);
