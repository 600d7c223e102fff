#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/acpi/acpi.h"
#include "lib/rid.h"

/*
 * The DMA Remapping Reporting table (VT-d spec 4.1, chapter 8) parsed into
 * plain structs, with a verdict on every unit and every scoped structure.
 *
 * The parser reads a byte buffer and trusts nothing in it: every length is
 * checked against the table and against the structure that contains it,
 * unknown structure types are skipped by their length, structures may come
 * in any order.  What cannot be trusted is rejected with a reason, and a
 * rejection fails closed: a rejected unit is never used, and the devices it
 * (or a unit whose scopes could not be read) covers are still attributed to
 * it, never to the INCLUDE_PCI_ALL unit, so that callers give them no DMA.
 *
 * Device scopes are kept in ACPI form (start bus and a path of device and
 * function numbers) and resolved to a bus number only when asked, by reading
 * the bridges' secondary bus numbers through the hw seam, so that they stay
 * right after hot-plug or bus renumbering (VT-d spec 8.3.1, 8.3.6).
 *
 * Capacities are fixed; a table that exceeds one is rejected as a whole with
 * a reason naming the limit.
 */

#define DMAR_MAX_UNITS	      64U
#define DMAR_MAX_RMRRS	      64U
#define DMAR_MAX_DEVSETS      32U /* each of ATSR, SATC and SIDP */
#define DMAR_MAX_RHSAS	      64U
#define DMAR_MAX_ANDDS	      32U
#define DMAR_MAX_SCOPES	      1024U /* all device scopes of the table */
#define DMAR_MAX_STRUCTS      512U  /* remapping structures of any type */
#define DMAR_MAX_PATH	      16U /* (device, function) entries in one scope */
#define DMAR_ANDD_NAME_LEN    64U /* longer names are cut, with a warning */
#define DMAR_REASON_LEN	      64U
#define DMAR_TABLE_REASON_LEN 96U

/* VT-d spec 8.1: DMAR header flags. */
#define DMAR_FLAG_INTR_REMAP		   0x01U
#define DMAR_FLAG_X2APIC_OPT_OUT	   0x02U
#define DMAR_FLAG_DMA_CTRL_PLATFORM_OPT_IN 0x04U

/* VT-d spec 8.3: DRHD flags. */
#define DMAR_DRHD_INCLUDE_PCI_ALL 0x01U
/* VT-d spec 8.5: ATSR flags. */
#define DMAR_ATSR_ALL_PORTS 0x01U
/* VT-d spec 8.8: SATC flags. */
#define DMAR_SATC_ATC_REQUIRED 0x01U

/* VT-d spec 8.2: remapping structure types. */
enum dmar_struct_type {
	DMAR_TYPE_DRHD = 0,
	DMAR_TYPE_RMRR = 1,
	DMAR_TYPE_ATSR = 2,
	DMAR_TYPE_RHSA = 3,
	DMAR_TYPE_ANDD = 4,
	DMAR_TYPE_SATC = 5,
	DMAR_TYPE_SIDP = 6,
};

/* VT-d spec 8.3.1: device scope types. */
enum dmar_scope_type {
	DMAR_SCOPE_PCI_ENDPOINT = 1,
	DMAR_SCOPE_PCI_SUBHIERARCHY = 2,
	DMAR_SCOPE_IOAPIC = 3,
	DMAR_SCOPE_HPET = 4,
	DMAR_SCOPE_ACPI_NAMESPACE = 5,
};

struct dmar_path_entry {
	uint8_t dev;
	uint8_t fn;
};

/** One device scope, in ACPI form (VT-d spec 8.3.1). */
struct dmar_scope {
	uint8_t type;	 /* enum dmar_scope_type; other values are kept */
	uint8_t flags;	 /* VT-d 4.x scope flags; 0 in older tables */
	uint8_t enum_id; /* IOAPIC id, HPET number, ANDD device number */
	uint8_t start_bus;
	uint8_t path_len; /* at least 1 */
	struct dmar_path_entry path[DMAR_MAX_PATH];
};

/* A structure's scopes: d->scopes[first] .. d->scopes[first + count - 1]. */
struct dmar_scopes {
	uint16_t first;
	uint16_t count;
};

_Static_assert(DMAR_MAX_SCOPES <= UINT16_MAX, "scope indexes are 16-bit");
_Static_assert(DMAR_MAX_UNITS <= 0x7fff, "unit indexes are returned as int");

/** A DRHD: one remapping hardware unit (VT-d spec 8.3). */
struct dmar_unit {
	uint64_t base; /* register base address */
	uint64_t size; /* bytes of registers: 4 KiB << size field */
	uint16_t segment;
	uint8_t flags;	    /* DMAR_DRHD_* */
	uint8_t size_field; /* raw Size byte (VT-d 4.x), 0 in older tables */
	bool scopes_incomplete; /* a malformed scope stopped the scope walk */
	struct dmar_scopes scopes;
	char reason[DMAR_REASON_LEN]; /* empty when the unit may be used */
};

/** An RMRR: memory firmware keeps using for DMA (VT-d spec 8.4). */
struct dmar_rmrr {
	uint64_t base;
	uint64_t limit; /* inclusive */
	uint16_t segment;
	struct dmar_scopes scopes;
	char reason[DMAR_REASON_LEN];
};

/**
 * A set of devices with a property, the shape shared by ATSR (root ports
 * that support ATS, VT-d spec 8.5), SATC (SoC devices with an address
 * translation cache, 8.8) and SIDP (SoC integrated device properties, 8.9).
 */
struct dmar_devset {
	uint16_t segment;
	uint8_t flags; /* DMAR_ATSR_* or DMAR_SATC_*; 0 for SIDP */
	struct dmar_scopes scopes;
	char reason[DMAR_REASON_LEN];
};

/** RHSA: the NUMA proximity domain of a unit (VT-d spec 8.6). */
struct dmar_rhsa {
	uint64_t base;
	uint32_t domain;
};

/** ANDD: an ACPI namespace device named by ACPI_NAMESPACE scopes (8.7). */
struct dmar_andd {
	uint8_t id;
	char name[DMAR_ANDD_NAME_LEN]; /* non-printable bytes shown as '?' */
};

/* The table's structures in table order, for the console. */
struct dmar_struct_ref {
	uint16_t type;
	uint16_t length;
	uint16_t index; /* into the array of its type; unused when unknown */
};

/**
 * The parsed table.  usable is false when the table as a whole must not be
 * used (bad signature, truncated, bad checksum, a structure that overruns
 * it, a capacity exceeded); reason then says why and every unit and scoped
 * structure carries a reason too.
 */
struct dmar {
	bool usable;
	bool header_valid; /* the header fields below were read */
	char reason[DMAR_TABLE_REASON_LEN];
	uint32_t length;
	uint8_t revision;
	uint8_t haw;   /* raw field N: the host address width is N + 1 */
	uint8_t flags; /* DMAR_FLAG_* */

	unsigned int unit_count;
	unsigned int rmrr_count;
	unsigned int atsr_count;
	unsigned int satc_count;
	unsigned int sidp_count;
	unsigned int rhsa_count;
	unsigned int andd_count;
	unsigned int unknown_count;
	unsigned int scope_count;
	unsigned int struct_count;

	struct dmar_unit units[DMAR_MAX_UNITS];
	struct dmar_rmrr rmrrs[DMAR_MAX_RMRRS];
	struct dmar_devset atsrs[DMAR_MAX_DEVSETS];
	struct dmar_devset satcs[DMAR_MAX_DEVSETS];
	struct dmar_devset sidps[DMAR_MAX_DEVSETS];
	struct dmar_rhsa rhsas[DMAR_MAX_RHSAS];
	struct dmar_andd andds[DMAR_MAX_ANDDS];
	struct dmar_scope scopes[DMAR_MAX_SCOPES];
	struct dmar_struct_ref structs[DMAR_MAX_STRUCTS];
};

/*
 * The memory map the verdicts are checked against.  The kernel builds it
 * from the UEFI map: RAM is conventional, loader and boot-services memory,
 * RESERVED is every other type.  Addresses in no range are holes (MMIO).
 */
enum dmar_mem_kind {
	DMAR_MEM_RAM,
	DMAR_MEM_RESERVED,
};

struct dmar_mem_range {
	uint64_t base;
	uint64_t len;
	enum dmar_mem_kind kind;
};

struct dmar_mem_map {
	const struct dmar_mem_range *ranges;
	unsigned int count;
};

/*
 * Parses the DMAR table in tbl[0 .. len) into out and validates it against
 * the memory map mm (NULL: the memory-map checks are skipped).  Returns 0
 * when the table may be used (individual units may still be rejected), or
 * -EINVAL when it may not; out is fully set in both cases and every
 * rejection is logged with its reason.
 *
 * Unit verdicts (VT-d spec 8.3): register base zero, all-ones, not 4 KiB
 * aligned, register span wrapping, overlapping another unit's span, or
 * touching RAM; a malformed scope; a second INCLUDE_PCI_ALL unit on the
 * same segment.  RMRR verdicts (8.4): limit below base, not 4 KiB aligned,
 * covering address 0, beyond the host address width, no device scope,
 * touching RAM, not reserved in the memory map; a malformed scope.
 */
int dmar_parse(const void *tbl, size_t len, const struct dmar_mem_map *mm,
	       struct dmar *out);

/*
 * Rejects a unit after parsing (for example when its registers do not
 * answer), with a reason copied into the unit.  A unit keeps the first
 * reason it was given.  Out-of-range unit numbers are ignored.
 */
void dmar_unit_reject(struct dmar *d, unsigned int unit, const char *reason);

/*
 * Maps each usable unit's registers with hw_mmio_map() and rejects those
 * that cannot be mapped or do not answer: VER (offset 0x0) or CAP (0x8)
 * reading all-ones or zero, or a VER that is not a version (VT-d spec
 * 11.4.1).  Returns 0, or -ENODEV when no unit is usable afterwards.
 */
int dmar_probe_units(struct dmar *d);

/* Whether a unit, RMRR or ATSR/SATC/SIDP may be used: table and it sound. */
bool dmar_unit_usable(const struct dmar *d, unsigned int unit);
bool dmar_rmrr_usable(const struct dmar *d, unsigned int rmrr);
bool dmar_devset_usable(const struct dmar *d, const struct dmar_devset *set);

/*
 * Follows a scope's path from its start bus through the bridges' current
 * secondary bus numbers (VT-d spec 8.3.1) and returns the requester id
 * (bus and devfn) the last path entry names.  -ENODEV when an intermediate
 * entry is absent, not a PCI-to-PCI bridge, or a bridge whose secondary bus is
 * not above its own bus (unconfigured, or a loop).  The last entry itself is
 * not read: for IOAPIC and HPET scopes it is a source-id, not a PCI function.
 */
int dmar_scope_resolve(const struct dmar_scope *s, uint16_t segment,
		       rid_t *rid);

/*
 * Whether an RMRR, or an ATSR, SATC or SIDP, lists the PCI function
 * seg:bus:devfn now: one of its PCI endpoint scopes resolves to it, or one
 * of its PCI sub-hierarchy scopes resolves to a bridge that is it or has it
 * below (VT-d spec 8.3.1).  Other scope types never cover a PCI function.
 */
bool dmar_rmrr_covers(const struct dmar *d, unsigned int rmrr, uint16_t seg,
		      uint8_t bus, uint8_t devfn);
bool dmar_devset_covers(const struct dmar *d, const struct dmar_devset *set,
			uint16_t seg, uint8_t bus, uint8_t devfn);

/*
 * The unit that translates DMA from seg:bus:devfn (VT-d spec 8.3): the unit
 * of that segment whose scopes cover it (as for dmar_rmrr_covers()); else,
 * when a unit of that segment has scopes that could not be read, that
 * (rejected) unit; else the segment's INCLUDE_PCI_ALL unit, wherever it is
 * in the table.  Rejected units are returned like any other: check
 * dmar_unit_usable().  -EEXIST when two units claim the function, -ENODEV
 * when none does.  Any negative value or unusable unit means the function
 * must get no DMA.
 */
int dmar_unit_for_device(const struct dmar *d, uint16_t seg, uint8_t bus,
			 uint8_t devfn);

/*
 * The one scope of the given type (IOAPIC, HPET or ACPI namespace) with the
 * given enumeration id, and the unit that lists it.  -ENOENT when no unit
 * lists it, -EEXIST when it is listed more than once (then no source-id can
 * be trusted for it).
 */
int dmar_enum_scope(const struct dmar *d, uint8_t type, uint8_t enum_id,
		    unsigned int *unit, const struct dmar_scope **scope);

/*
 * The parsed table for the console (docs/console.md, `dmar`): the header,
 * the table verdict, each structure in table order with its scopes indented
 * below it, then a verdict line per unit, RMRR, ATSR, SATC and SIDP.
 */
void dmar_format(const struct dmar *d, acpi_emit_fn emit, void *ctx);
