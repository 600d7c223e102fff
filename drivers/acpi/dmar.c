#include "drivers/acpi/dmar.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/acpi/acpi.h"
#include "drivers/hw.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/string.h"

/* VT-d spec 8.1: the DMAR header that follows the ACPI header. */
#define DMAR_HDR_HAW   36U
#define DMAR_HDR_FLAGS 37U
#define DMAR_HDR_LEN   48U

/* VT-d spec 8.2: every remapping structure starts with type and length. */
#define STRUCT_TYPE    0U
#define STRUCT_LENGTH  2U
#define STRUCT_HDR_LEN 4U

/* VT-d spec 8.3: DRHD. */
#define DRHD_FLAGS	4U
#define DRHD_SIZE	5U
#define DRHD_SIZE_PAGES GENMASK32(3, 0) /* register set is 2^N 4 KiB pages */
#define DRHD_SEGMENT	6U
#define DRHD_BASE	8U
#define DRHD_SCOPES	16U

/* VT-d spec 8.4: RMRR. */
#define RMRR_SEGMENT 6U
#define RMRR_BASE    8U
#define RMRR_LIMIT   16U
#define RMRR_SCOPES  24U

/* VT-d spec 8.5 (ATSR), 8.8 (SATC) and 8.9 (SIDP) share this layout. */
#define DEVSET_FLAGS   4U /* reserved in SIDP */
#define DEVSET_SEGMENT 6U
#define DEVSET_SCOPES  8U

/* VT-d spec 8.6: RHSA. */
#define RHSA_BASE   8U
#define RHSA_DOMAIN 16U
#define RHSA_LEN    20U

/* VT-d spec 8.7: ANDD. */
#define ANDD_ID	  7U
#define ANDD_NAME 8U

/* VT-d spec 8.3.1: device scope. */
#define SCOPE_TYPE	     0U
#define SCOPE_LENGTH	     1U
#define SCOPE_FLAGS	     2U
#define SCOPE_ENUM_ID	     4U
#define SCOPE_START_BUS	     5U
#define SCOPE_PATH	     6U
#define SCOPE_PATH_ENTRY_LEN 2U
#define PCI_DEV_MAX	     31U
#define PCI_FN_MAX	     7U

#define PAGE_4K 0x1000U

/*
 * The type 1 configuration header fields the scope walk reads (PCI-to-PCI
 * Bridge Architecture Specification 1.2, 3.2).  drivers/pci has them too,
 * but that layer sits above this one.
 */
#define CFG_HEADER_TYPE	    0x0eU
#define CFG_HEADER_LAYOUT   0x7fU
#define CFG_HEADER_BRIDGE   0x01U
#define CFG_SECONDARY_BUS   0x19U
#define CFG_SUBORDINATE_BUS 0x1aU

/* VT-d spec 11.4.1 and 11.4.2: the registers a unit probe reads. */
#define REG_VER	      0x0U
#define REG_VER_MAJOR GENMASK32(7, 4)
#define REG_VER_RSVD  GENMASK32(31, 8)
#define REG_CAP	      0x8U

static const char *const struct_names[] = {
	[DMAR_TYPE_DRHD] = "drhd", [DMAR_TYPE_RMRR] = "rmrr",
	[DMAR_TYPE_ATSR] = "atsr", [DMAR_TYPE_RHSA] = "rhsa",
	[DMAR_TYPE_ANDD] = "andd", [DMAR_TYPE_SATC] = "satc",
	[DMAR_TYPE_SIDP] = "sidp",
};

static const char *kind_name(uint16_t type)
{
	return type < ARRAY_SIZE(struct_names) ? struct_names[type]
					       : "structure";
}

static uint8_t devfn_of(struct dmar_path_entry e)
{
	return (uint8_t)(e.dev << 3 | e.fn);
}

static void vformat_once(char *buf, size_t size, const char *fmt, va_list ap)
{
	/* The first reason found is the one reported. */
	if (buf[0] == '\0') {
		fmt_vsnprintf(buf, size, fmt, ap);
	}
}

static void set_reason(char reason[DMAR_REASON_LEN], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(char reason[DMAR_REASON_LEN], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_once(reason, DMAR_REASON_LEN, fmt, ap);
	va_end(ap);
}

/* Marks the whole table unusable; returns -EINVAL for the caller to pass on. */
static int reject_table(struct dmar *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int reject_table(struct dmar *d, const char *fmt, ...)
{
	va_list ap;

	d->usable = false;
	va_start(ap, fmt);
	vformat_once(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * Parses the device scopes in s[off .. len) (VT-d spec 8.3.1) into the
 * table's scope pool.  0 when all are well-formed; -EINVAL with reason set
 * when one is not (the scopes before it are kept); -ENOSPC, with the table
 * rejected, when the pool is full.
 */
static int parse_scopes(struct dmar *d, const uint8_t *s, uint32_t len,
			uint32_t off, struct dmar_scopes *out, char *reason)
{
	unsigned int n;

	out->first = (uint16_t)d->scope_count;
	out->count = 0;
	for (n = 0; off < len; n++) {
		const uint8_t *p = s + off;
		struct dmar_scope *sc;
		unsigned int i, slen, depth;

		if (len - off < SCOPE_PATH) {
			set_reason(reason, "scope %u overruns its structure",
				   n);
			return -EINVAL;
		}
		slen = p[SCOPE_LENGTH];
		if (slen < SCOPE_PATH) {
			set_reason(reason, "scope %u length %u is below 6", n,
				   slen);
			return -EINVAL;
		}
		if (slen > len - off) {
			set_reason(reason, "scope %u overruns its structure",
				   n);
			return -EINVAL;
		}
		if ((slen - SCOPE_PATH) % SCOPE_PATH_ENTRY_LEN != 0) {
			set_reason(reason, "scope %u has odd length %u", n,
				   slen);
			return -EINVAL;
		}
		depth = (slen - SCOPE_PATH) / SCOPE_PATH_ENTRY_LEN;
		if (depth == 0) {
			set_reason(reason, "scope %u has an empty path", n);
			return -EINVAL;
		}
		if (depth > DMAR_MAX_PATH) {
			set_reason(reason, "scope %u path is deeper than %u", n,
				   DMAR_MAX_PATH);
			return -EINVAL;
		}
		if (d->scope_count == DMAR_MAX_SCOPES) {
			reject_table(d, "more than %u device scopes",
				     DMAR_MAX_SCOPES);
			return -ENOSPC;
		}
		/* Filled in place, kept only once its path is valid. */
		sc = &d->scopes[d->scope_count];
		sc->type = p[SCOPE_TYPE];
		sc->flags = p[SCOPE_FLAGS];
		sc->enum_id = p[SCOPE_ENUM_ID];
		sc->start_bus = p[SCOPE_START_BUS];
		sc->path_len = (uint8_t)depth;
		for (i = 0; i < depth; i++) {
			sc->path[i].dev =
				p[SCOPE_PATH + SCOPE_PATH_ENTRY_LEN * i];
			sc->path[i].fn =
				p[SCOPE_PATH + SCOPE_PATH_ENTRY_LEN * i + 1];
			if (sc->path[i].dev > PCI_DEV_MAX ||
			    sc->path[i].fn > PCI_FN_MAX) {
				break;
			}
		}
		if (i < depth) {
			set_reason(reason,
				   "scope %u path entry %02x.%x is invalid", n,
				   sc->path[i].dev, sc->path[i].fn);
			return -EINVAL;
		}
		d->scope_count++;
		out->count++;
		off += slen;
	}
	return 0;
}

/*
 * Each parse_*() below stores one structure s of len bytes (at least its
 * type's minimum, checked by the caller), and returns
 * its index in the array of its type, or a negative errno when the table
 * has been rejected.
 */
static int parse_drhd(struct dmar *d, enum dmar_struct_type type,
		      const uint8_t *s, uint32_t len)
{
	struct dmar_unit *u;
	int ret;

	if (d->unit_count == DMAR_MAX_UNITS) {
		return reject_table(d, "more than %u %s structures",
				    DMAR_MAX_UNITS, kind_name(type));
	}
	u = &d->units[d->unit_count];
	u->flags = s[DRHD_FLAGS];
	u->size_field = s[DRHD_SIZE];
	u->size = (uint64_t)PAGE_4K
		  << field_get32(DRHD_SIZE_PAGES, u->size_field);
	u->segment = acpi_get16(s + DRHD_SEGMENT);
	u->base = acpi_get64(s + DRHD_BASE);
	ret = parse_scopes(d, s, len, DRHD_SCOPES, &u->scopes, u->reason);
	if (ret == -ENOSPC) {
		return ret;
	}
	u->scopes_incomplete = ret < 0;
	return (int)d->unit_count++;
}

static int parse_rmrr(struct dmar *d, enum dmar_struct_type type,
		      const uint8_t *s, uint32_t len)
{
	struct dmar_rmrr *r;

	if (d->rmrr_count == DMAR_MAX_RMRRS) {
		return reject_table(d, "more than %u %s structures",
				    DMAR_MAX_RMRRS, kind_name(type));
	}
	r = &d->rmrrs[d->rmrr_count];
	r->segment = acpi_get16(s + RMRR_SEGMENT);
	r->base = acpi_get64(s + RMRR_BASE);
	r->limit = acpi_get64(s + RMRR_LIMIT);
	if (parse_scopes(d, s, len, RMRR_SCOPES, &r->scopes, r->reason) ==
	    -ENOSPC) {
		return -ENOSPC;
	}
	return (int)d->rmrr_count++;
}

static int parse_devset(struct dmar *d, enum dmar_struct_type type,
			const uint8_t *s, uint32_t len)
{
	struct dmar_devset *arr = type == DMAR_TYPE_ATSR   ? d->atsrs
				  : type == DMAR_TYPE_SATC ? d->satcs
							   : d->sidps;
	unsigned int *count = type == DMAR_TYPE_ATSR   ? &d->atsr_count
			      : type == DMAR_TYPE_SATC ? &d->satc_count
						       : &d->sidp_count;
	struct dmar_devset *set;

	if (*count == DMAR_MAX_DEVSETS) {
		return reject_table(d, "more than %u %s structures",
				    DMAR_MAX_DEVSETS, kind_name(type));
	}
	set = &arr[*count];
	set->flags = type == DMAR_TYPE_SIDP ? 0 : s[DEVSET_FLAGS];
	set->segment = acpi_get16(s + DEVSET_SEGMENT);
	if (parse_scopes(d, s, len, DEVSET_SCOPES, &set->scopes, set->reason) ==
	    -ENOSPC) {
		return -ENOSPC;
	}
	return (int)(*count)++;
}

static int parse_rhsa(struct dmar *d, enum dmar_struct_type type,
		      const uint8_t *s, uint32_t len)
{
	if (d->rhsa_count == DMAR_MAX_RHSAS) {
		return reject_table(d, "more than %u %s structures",
				    DMAR_MAX_RHSAS, kind_name(type));
	}
	d->rhsas[d->rhsa_count] = (struct dmar_rhsa){
		.base = acpi_get64(s + RHSA_BASE),
		.domain = acpi_get32(s + RHSA_DOMAIN),
	};
	return (int)d->rhsa_count++;
}

/*
 * The name is ASCII and NUL-terminated (VT-d spec 8.7), but it is printed on
 * the console, so anything else becomes '?'.  It decides nothing in moat, so
 * a name longer than we keep is cut rather than rejected.
 */
static int parse_andd(struct dmar *d, enum dmar_struct_type type,
		      const uint8_t *s, uint32_t len)
{
	struct dmar_andd *a;
	uint32_t i;

	if (d->andd_count == DMAR_MAX_ANDDS) {
		return reject_table(d, "more than %u %s structures",
				    DMAR_MAX_ANDDS, kind_name(type));
	}
	a = &d->andds[d->andd_count];
	a->id = s[ANDD_ID];
	for (i = 0; ANDD_NAME + i < len && s[ANDD_NAME + i] != '\0'; i++) {
		if (i == DMAR_ANDD_NAME_LEN - 1) {
			log_warn("dmar",
				 "andd id %u: name cut to %u characters", a->id,
				 i);
			break;
		}
		a->name[i] = acpi_printable(s[ANDD_NAME + i]);
	}
	return (int)d->andd_count++;
}

/* Each type's fixed part (the minimum length) and its parser. */
static const struct {
	uint32_t min_len;
	int (*parse)(struct dmar *d, enum dmar_struct_type type,
		     const uint8_t *s, uint32_t len);
} kinds[] = {
	[DMAR_TYPE_DRHD] = {DRHD_SCOPES, parse_drhd},
	[DMAR_TYPE_RMRR] = {RMRR_SCOPES, parse_rmrr},
	[DMAR_TYPE_ATSR] = {DEVSET_SCOPES, parse_devset},
	[DMAR_TYPE_RHSA] = {RHSA_LEN, parse_rhsa},
	[DMAR_TYPE_ANDD] = {ANDD_NAME, parse_andd},
	[DMAR_TYPE_SATC] = {DEVSET_SCOPES, parse_devset},
	[DMAR_TYPE_SIDP] = {DEVSET_SCOPES, parse_devset},
};

_Static_assert(ARRAY_SIZE(kinds) == ARRAY_SIZE(struct_names),
	       "every structure type has a name and a parser");

/*
 * Walks the remapping structures (VT-d spec 8.2).  Types this parser does
 * not know are skipped by their length, as the spec asks of reserved types.
 * A structure whose length is below 4 or past the end of the table stops
 * the walk and rejects the table: nothing after it can be located, and a
 * unit hidden there could claim devices that would otherwise be taken for
 * the INCLUDE_PCI_ALL unit's.
 */
static void walk(struct dmar *d, const uint8_t *p)
{
	uint32_t off, len;

	for (off = DMAR_HDR_LEN; off < d->length; off += len) {
		uint32_t left = d->length - off;
		uint16_t type;
		int idx = 0;

		if (left < STRUCT_HDR_LEN) {
			reject_table(d, "%u stray bytes at offset 0x%x", left,
				     off);
			return;
		}
		type = acpi_get16(p + off + STRUCT_TYPE);
		len = acpi_get16(p + off + STRUCT_LENGTH);
		if (len < STRUCT_HDR_LEN || len > left) {
			reject_table(d, "%s at offset 0x%x: length 0x%x %s",
				     kind_name(type), off, len,
				     len > left ? "overruns the table"
						: "is below 4");
			return;
		}
		if (d->struct_count == DMAR_MAX_STRUCTS) {
			reject_table(d, "more than %u structures",
				     DMAR_MAX_STRUCTS);
			return;
		}
		if (type >= ARRAY_SIZE(kinds)) {
			d->unknown_count++;
		} else if (len < kinds[type].min_len) {
			reject_table(
				d,
				"%s at offset 0x%x: length 0x%x is below 0x%x",
				kind_name(type), off, len, kinds[type].min_len);
			return;
		} else {
			idx = kinds[type].parse(d, type, p + off, len);
			if (idx < 0) {
				return;
			}
		}
		d->structs[d->struct_count++] = (struct dmar_struct_ref){
			.type = type,
			.length = (uint16_t)len,
			.index = (uint16_t)idx,
		};
	}
}

/* The last byte of [base, base + len), len > 0, saturated at 2^64 - 1. */
static uint64_t last_byte(uint64_t base, uint64_t len)
{
	return base > UINT64_MAX - (len - 1) ? UINT64_MAX : base + len - 1;
}

static bool touches_ram(const struct dmar_mem_map *mm, uint64_t first,
			uint64_t last)
{
	unsigned int i;

	for (i = 0; i < mm->count; i++) {
		const struct dmar_mem_range *r = &mm->ranges[i];

		if (r->kind == DMAR_MEM_RAM && r->len != 0 && r->base <= last &&
		    first <= last_byte(r->base, r->len)) {
			return true;
		}
	}
	return false;
}

/* Whether reserved ranges, possibly several adjacent ones, cover it all. */
static bool all_reserved(const struct dmar_mem_map *mm, uint64_t first,
			 uint64_t last)
{
	uint64_t pos = first, end;
	unsigned int i, step;

	/* Each step passes the end of a range: at most count steps. */
	for (step = 0; step <= mm->count; step++) {
		for (i = 0; i < mm->count; i++) {
			const struct dmar_mem_range *r = &mm->ranges[i];

			if (r->kind == DMAR_MEM_RESERVED && r->len != 0 &&
			    r->base <= pos &&
			    pos <= last_byte(r->base, r->len)) {
				break;
			}
		}
		if (i == mm->count) {
			return false;
		}
		end = last_byte(mm->ranges[i].base, mm->ranges[i].len);
		if (end >= last) {
			return true;
		}
		pos = end + 1;
	}
	return false;
}

/* VT-d spec 8.3: what makes a unit's registers untrustworthy. */
static void validate_units(struct dmar *d, const struct dmar_mem_map *mm)
{
	unsigned int i, j;

	for (i = 0; i < d->unit_count; i++) {
		struct dmar_unit *u = &d->units[i];
		uint64_t last = last_byte(u->base, u->size);

		if (u->base == 0) {
			set_reason(u->reason, "register base is zero");
		} else if (u->base == UINT64_MAX || u->base == UINT32_MAX) {
			set_reason(u->reason, "register base is all-ones");
		} else if (!bits_is_aligned(u->base, PAGE_4K)) {
			set_reason(u->reason,
				   "register base not 4 KiB aligned");
		} else if (last - u->base != u->size - 1) {
			set_reason(u->reason, "registers wrap past 2^64");
		} else if (mm && touches_ram(mm, u->base, last)) {
			set_reason(u->reason, "registers inside RAM");
		}
		for (j = 0; j < i; j++) {
			struct dmar_unit *v = &d->units[j];

			if (u->base <= last_byte(v->base, v->size) &&
			    v->base <= last) {
				set_reason(u->reason,
					   "registers overlap unit %u", j);
				set_reason(v->reason,
					   "registers overlap unit %u", i);
			}
			/* VT-d spec 8.3: at most one per segment. */
			if (u->segment == v->segment &&
			    (u->flags & v->flags & DMAR_DRHD_INCLUDE_PCI_ALL)) {
				set_reason(u->reason,
					   "INCLUDE_PCI_ALL also on unit %u",
					   j);
				set_reason(v->reason,
					   "INCLUDE_PCI_ALL also on unit %u",
					   i);
			}
		}
	}
}

/*
 * VT-d spec 8.4: an RMRR is a 4 KiB aligned range, limit inclusive, that the
 * firmware reports as reserved in the memory map.  Address 0 is refused as
 * well: no firmware keeps DMA buffers in the real-mode vector page, and a
 * base of 0 is what an unfilled RMRR template looks like.
 */
static void validate_rmrrs(struct dmar *d, const struct dmar_mem_map *mm)
{
	unsigned int i;
	unsigned int width = d->haw + 1U;

	for (i = 0; i < d->rmrr_count; i++) {
		struct dmar_rmrr *r = &d->rmrrs[i];

		if (r->limit < r->base) {
			set_reason(r->reason, "limit below base");
		} else if (!bits_is_aligned(r->base, PAGE_4K) ||
			   !bits_is_aligned(r->limit + 1, PAGE_4K)) {
			set_reason(r->reason, "range not 4 KiB aligned");
		} else if (r->base == 0) {
			set_reason(r->reason, "range covers address 0");
		} else if (width < 64 && (r->limit >> width) != 0) {
			set_reason(r->reason,
				   "range beyond the host address width");
		} else if (r->scopes.count == 0) {
			set_reason(r->reason, "no device scope");
		} else if (mm && touches_ram(mm, r->base, r->limit)) {
			set_reason(r->reason, "range inside RAM");
		} else if (mm && !all_reserved(mm, r->base, r->limit)) {
			set_reason(r->reason,
				   "range not reserved in the memory map");
		}
	}
}

/* VT-d spec 8.3.1: an IOAPIC or HPET source-id must be unambiguous. */
static void warn_duplicate_id(const struct dmar *d, const struct dmar_scope *s)
{
	const struct dmar_scope *first;
	unsigned int unit;

	if ((s->type == DMAR_SCOPE_IOAPIC || s->type == DMAR_SCOPE_HPET) &&
	    dmar_enum_scope(d, s->type, s->enum_id, &unit, &first) == -EEXIST &&
	    first == s) {
		log_warn("dmar", "%s id %u is listed more than once",
			 s->type == DMAR_SCOPE_IOAPIC ? "ioapic" : "hpet",
			 s->enum_id);
	}
}

/* Oddities that decide no verdict but deserve a line in the log. */
static void warn_oddities(const struct dmar *d)
{
	unsigned int i, j, k;

	/* VT-d spec 8.6: an RHSA names the base of a unit. */
	for (i = 0; i < d->rhsa_count; i++) {
		for (j = 0; j < d->unit_count; j++) {
			if (d->units[j].base == d->rhsas[i].base) {
				break;
			}
		}
		if (j == d->unit_count) {
			log_warn("dmar", "rhsa base 0x%llx names no unit",
				 (unsigned long long)d->rhsas[i].base);
		}
	}
	for (i = 0; i < d->unit_count; i++) {
		struct dmar_scopes sc = d->units[i].scopes;

		for (k = sc.first; k < sc.first + sc.count; k++) {
			warn_duplicate_id(d, &d->scopes[k]);
		}
	}
}

/* Logs every verdict; a rejected table then rejects all it holds. */
static void finish(struct dmar *d)
{
	unsigned int i;
	struct {
		const char *name;
		struct dmar_devset *sets;
		unsigned int count;
	} devsets[] = {
		{"atsr", d->atsrs, d->atsr_count},
		{"satc", d->satcs, d->satc_count},
		{"sidp", d->sidps, d->sidp_count},
	};

	for (i = 0; i < d->unit_count; i++) {
		if (d->units[i].reason[0]) {
			log_warn("dmar", "unit %u base 0x%llx: rejected (%s)",
				 i, (unsigned long long)d->units[i].base,
				 d->units[i].reason);
		}
	}
	for (i = 0; i < d->rmrr_count; i++) {
		if (d->rmrrs[i].reason[0]) {
			log_warn("dmar", "rmrr %u base 0x%llx: rejected (%s)",
				 i, (unsigned long long)d->rmrrs[i].base,
				 d->rmrrs[i].reason);
		}
	}
	for (i = 0; i < ARRAY_SIZE(devsets); i++) {
		unsigned int j;

		for (j = 0; j < devsets[i].count; j++) {
			if (devsets[i].sets[j].reason[0]) {
				log_warn("dmar", "%s %u: rejected (%s)",
					 devsets[i].name, j,
					 devsets[i].sets[j].reason);
			}
		}
	}
	if (d->usable) {
		return;
	}
	log_err("dmar", "table rejected: %s", d->reason);
	for (i = 0; i < d->unit_count; i++) {
		set_reason(d->units[i].reason, "table rejected");
	}
	for (i = 0; i < d->rmrr_count; i++) {
		set_reason(d->rmrrs[i].reason, "table rejected");
	}
	for (i = 0; i < ARRAY_SIZE(devsets); i++) {
		unsigned int j;

		for (j = 0; j < devsets[i].count; j++) {
			set_reason(devsets[i].sets[j].reason, "table rejected");
		}
	}
}

int dmar_parse(const void *tbl, size_t len, const struct dmar_mem_map *mm,
	       struct dmar *d)
{
	const uint8_t *p = tbl;

	memset(d, 0, sizeof(*d));
	d->usable = true;
	if (!p || len < DMAR_HDR_LEN) {
		reject_table(d, "%zu bytes, shorter than the DMAR header", len);
		goto out;
	}
	if (memcmp(p + ACPI_HDR_SIGNATURE, "DMAR", ACPI_SIG_LEN) != 0) {
		reject_table(d, "signature is not DMAR");
		goto out;
	}
	d->header_valid = true;
	d->length = acpi_get32(p + ACPI_HDR_LENGTH);
	d->revision = p[ACPI_HDR_REVISION];
	d->haw = p[DMAR_HDR_HAW];
	d->flags = p[DMAR_HDR_FLAGS];
	if (d->length < DMAR_HDR_LEN) {
		reject_table(d, "length 0x%x is shorter than the DMAR header",
			     d->length);
		goto out;
	}
	if (d->length > len) {
		reject_table(d, "truncated: length 0x%x, 0x%zx bytes present",
			     d->length, len);
		goto out;
	}
	/* Parsed all the same, so that the console can show what is wrong. */
	if (!acpi_checksum_ok(p, d->length)) {
		reject_table(d, "bad checksum");
	}
	walk(d, p);
	validate_units(d, mm);
	validate_rmrrs(d, mm);
	warn_oddities(d);
out:
	finish(d);
	return d->usable ? 0 : -EINVAL;
}

static void reject_unit(struct dmar *d, unsigned int unit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reject_unit(struct dmar *d, unsigned int unit, const char *fmt, ...)
{
	struct dmar_unit *u = &d->units[unit];
	va_list ap;

	va_start(ap, fmt);
	vformat_once(u->reason, sizeof(u->reason), fmt, ap);
	va_end(ap);
	log_warn("dmar", "unit %u base 0x%llx: rejected (%s)", unit,
		 (unsigned long long)u->base, u->reason);
}

void dmar_unit_reject(struct dmar *d, unsigned int unit, const char *reason)
{
	if (unit < d->unit_count) {
		reject_unit(d, unit, "%s", reason);
	}
}

int dmar_probe_units(struct dmar *d)
{
	unsigned int i, usable = 0;

	for (i = 0; i < d->unit_count; i++) {
		const struct dmar_unit *u = &d->units[i];
		uint32_t ver;
		uint64_t cap;
		int ret;

		if (!dmar_unit_usable(d, i)) {
			continue;
		}
		ret = hw_mmio_map(u->base, u->size);
		if (ret < 0) {
			reject_unit(d, i, "registers cannot be mapped (%d)",
				    ret);
			continue;
		}
		/* A decoded unit reads a version and a non-trivial CAP. */
		ver = hw_mmio_read32(u->base + REG_VER);
		cap = hw_mmio_read64(u->base + REG_CAP);
		if ((ver & REG_VER_RSVD) != 0 ||
		    field_get32(REG_VER_MAJOR, ver) == 0) {
			reject_unit(d, i, "registers do not answer (VER 0x%x)",
				    ver);
			continue;
		}
		if (cap == 0 || cap == UINT64_MAX) {
			reject_unit(d, i,
				    "registers do not answer (CAP 0x%llx)",
				    (unsigned long long)cap);
			continue;
		}
		usable++;
	}
	return usable ? 0 : -ENODEV;
}

bool dmar_unit_usable(const struct dmar *d, unsigned int unit)
{
	return d->usable && unit < d->unit_count &&
	       d->units[unit].reason[0] == '\0';
}

bool dmar_rmrr_usable(const struct dmar *d, unsigned int rmrr)
{
	return d->usable && rmrr < d->rmrr_count &&
	       d->rmrrs[rmrr].reason[0] == '\0';
}

bool dmar_devset_usable(const struct dmar *d, const struct dmar_devset *set)
{
	return d->usable && set->reason[0] == '\0';
}

/*
 * The bus range behind the PCI-to-PCI bridge at bus:devfn.  False unless it
 * is a bridge (an absent function reads all-ones, which is no bridge) with a
 * secondary bus above its own bus and a subordinate bus not below that.
 */
static bool bridge_buses(uint16_t seg, uint8_t bus, uint8_t devfn,
			 uint8_t *secondary, uint8_t *subordinate)
{
	uint8_t hdr = hw_pci_read8(seg, bus, devfn, CFG_HEADER_TYPE);

	if ((hdr & CFG_HEADER_LAYOUT) != CFG_HEADER_BRIDGE) {
		return false;
	}
	*secondary = hw_pci_read8(seg, bus, devfn, CFG_SECONDARY_BUS);
	*subordinate = hw_pci_read8(seg, bus, devfn, CFG_SUBORDINATE_BUS);
	return *secondary > bus && *subordinate >= *secondary;
}

int dmar_scope_resolve(const struct dmar_scope *s, uint16_t segment, rid_t *rid)
{
	uint8_t b = s->start_bus, next, subordinate;
	unsigned int i;

	if (s->path_len == 0 || s->path_len > DMAR_MAX_PATH) {
		return -EINVAL;
	}
	for (i = 0; i + 1 < s->path_len; i++) {
		if (!bridge_buses(segment, b, devfn_of(s->path[i]), &next,
				  &subordinate)) {
			return -ENODEV;
		}
		b = next;
	}
	*rid = rid_make(b, devfn_of(s->path[s->path_len - 1]));
	return 0;
}

static bool scope_covers(const struct dmar_scope *s, uint16_t seg, uint8_t bus,
			 uint8_t devfn)
{
	uint8_t secondary, subordinate;
	rid_t r;

	if (s->type != DMAR_SCOPE_PCI_ENDPOINT &&
	    s->type != DMAR_SCOPE_PCI_SUBHIERARCHY) {
		return false;
	}
	if (dmar_scope_resolve(s, seg, &r) < 0) {
		return false;
	}
	if (rid_eq(r, rid_make(bus, devfn))) {
		return true;
	}
	return s->type == DMAR_SCOPE_PCI_SUBHIERARCHY &&
	       bridge_buses(seg, rid_bus(r), rid_devfn(r), &secondary,
			    &subordinate) &&
	       bus >= secondary && bus <= subordinate;
}

static bool scopes_cover(const struct dmar *d, struct dmar_scopes sc,
			 uint16_t owner_seg, uint16_t seg, uint8_t bus,
			 uint8_t devfn)
{
	unsigned int k;

	if (owner_seg != seg) {
		return false;
	}
	for (k = sc.first; k < sc.first + sc.count; k++) {
		if (scope_covers(&d->scopes[k], seg, bus, devfn)) {
			return true;
		}
	}
	return false;
}

bool dmar_rmrr_covers(const struct dmar *d, unsigned int rmrr, uint16_t seg,
		      uint8_t bus, uint8_t devfn)
{
	return rmrr < d->rmrr_count &&
	       scopes_cover(d, d->rmrrs[rmrr].scopes, d->rmrrs[rmrr].segment,
			    seg, bus, devfn);
}

bool dmar_devset_covers(const struct dmar *d, const struct dmar_devset *set,
			uint16_t seg, uint8_t bus, uint8_t devfn)
{
	return scopes_cover(d, set->scopes, set->segment, seg, bus, devfn);
}

int dmar_unit_for_device(const struct dmar *d, uint16_t seg, uint8_t bus,
			 uint8_t devfn)
{
	int found = -ENODEV, incomplete = -ENODEV, include_all = -ENODEV;
	unsigned int i;

	for (i = 0; i < d->unit_count; i++) {
		const struct dmar_unit *u = &d->units[i];

		if (u->segment != seg) {
			continue;
		}
		if (u->flags & DMAR_DRHD_INCLUDE_PCI_ALL) {
			if (include_all < 0) {
				include_all = (int)i;
			}
			continue;
		}
		if (u->scopes_incomplete && incomplete < 0) {
			incomplete = (int)i;
		}
		if (!scopes_cover(d, u->scopes, u->segment, seg, bus, devfn)) {
			continue;
		}
		if (found >= 0) {
			return -EEXIST;
		}
		found = (int)i;
	}
	if (found >= 0) {
		return found;
	}
	/*
	 * A unit whose scopes could not all be read may be the one that
	 * claims this function: the INCLUDE_PCI_ALL unit cannot be assumed.
	 */
	return incomplete >= 0 ? incomplete : include_all;
}

int dmar_enum_scope(const struct dmar *d, uint8_t type, uint8_t enum_id,
		    unsigned int *unit, const struct dmar_scope **scope)
{
	unsigned int i, k, found = 0;

	for (i = 0; i < d->unit_count; i++) {
		struct dmar_scopes sc = d->units[i].scopes;

		for (k = sc.first; k < sc.first + sc.count; k++) {
			const struct dmar_scope *s = &d->scopes[k];

			if (s->type != type || s->enum_id != enum_id) {
				continue;
			}
			if (found++ == 0) {
				*unit = i;
				*scope = s;
			}
		}
	}
	if (found == 0) {
		return -ENOENT;
	}
	return found == 1 ? 0 : -EEXIST;
}

static void format_scopes(const struct dmar *d, struct dmar_scopes sc,
			  acpi_emit_fn emit, void *ctx)
{
	static const char *const names[] = {
		[DMAR_SCOPE_PCI_ENDPOINT] = "pci-endpoint",
		[DMAR_SCOPE_PCI_SUBHIERARCHY] = "pci-subhierarchy",
		[DMAR_SCOPE_IOAPIC] = "ioapic",
		[DMAR_SCOPE_HPET] = "hpet",
		[DMAR_SCOPE_ACPI_NAMESPACE] = "acpi-namespace",
	};
	unsigned int k, i;

	for (k = sc.first; k < sc.first + sc.count; k++) {
		const struct dmar_scope *s = &d->scopes[k];
		char path[DMAR_MAX_PATH * sizeof("/DD.F") + 1];
		char unknown[16];
		char flags[16] = "";
		const char *type = NULL;
		size_t n = 0;

		for (i = 0; i < s->path_len && i < DMAR_MAX_PATH; i++) {
			n += (size_t)fmt_snprintf(
				path + n, sizeof(path) - n, "%s%02x.%x",
				i ? "/" : "", s->path[i].dev, s->path[i].fn);
		}
		if (s->type < ARRAY_SIZE(names)) {
			type = names[s->type];
		}
		if (!type) {
			fmt_snprintf(unknown, sizeof(unknown), "type-%u",
				     s->type);
			type = unknown;
		}
		if (s->flags) {
			fmt_snprintf(flags, sizeof(flags), " flags 0x%x",
				     s->flags);
		}
		acpi_emitf(emit, ctx, "  scope %s id %u bus 0x%02x path %s%s",
			   type, s->enum_id, s->start_bus, path, flags);
	}
}

static void format_struct(const struct dmar *d,
			  const struct dmar_struct_ref *ref, acpi_emit_fn emit,
			  void *ctx)
{
	const struct dmar_unit *u;
	const struct dmar_rmrr *r;
	const struct dmar_devset *set;
	const char *name = kind_name(ref->type);

	switch (ref->type) {
	case DMAR_TYPE_DRHD:
		u = &d->units[ref->index];
		acpi_emitf(emit, ctx,
			   "drhd seg %u base 0x%llx flags 0x%x scopes %u"
			   " size 0x%llx",
			   u->segment, (unsigned long long)u->base, u->flags,
			   u->scopes.count, (unsigned long long)u->size);
		format_scopes(d, u->scopes, emit, ctx);
		break;
	case DMAR_TYPE_RMRR:
		r = &d->rmrrs[ref->index];
		acpi_emitf(emit, ctx,
			   "rmrr seg %u base 0x%llx limit 0x%llx scopes %u",
			   r->segment, (unsigned long long)r->base,
			   (unsigned long long)r->limit, r->scopes.count);
		format_scopes(d, r->scopes, emit, ctx);
		break;
	case DMAR_TYPE_RHSA:
		acpi_emitf(emit, ctx, "rhsa base 0x%llx domain %u",
			   (unsigned long long)d->rhsas[ref->index].base,
			   d->rhsas[ref->index].domain);
		break;
	case DMAR_TYPE_ANDD:
		acpi_emitf(emit, ctx, "andd id %u name %s",
			   d->andds[ref->index].id, d->andds[ref->index].name);
		break;
	case DMAR_TYPE_ATSR:
	case DMAR_TYPE_SATC:
		set = ref->type == DMAR_TYPE_ATSR ? &d->atsrs[ref->index]
						  : &d->satcs[ref->index];
		acpi_emitf(emit, ctx, "%s seg %u flags 0x%x scopes %u", name,
			   set->segment, set->flags, set->scopes.count);
		format_scopes(d, set->scopes, emit, ctx);
		break;
	case DMAR_TYPE_SIDP:
		set = &d->sidps[ref->index];
		acpi_emitf(emit, ctx, "sidp seg %u scopes %u", set->segment,
			   set->scopes.count);
		format_scopes(d, set->scopes, emit, ctx);
		break;
	default:
		acpi_emitf(emit, ctx, "unknown type %u len 0x%x", ref->type,
			   ref->length);
		break;
	}
}

static void format_verdict(acpi_emit_fn emit, void *ctx, const char *what,
			   const char *reason)
{
	if (reason[0]) {
		acpi_emitf(emit, ctx, "%s: rejected (%s)", what, reason);
	} else {
		acpi_emitf(emit, ctx, "%s: used", what);
	}
}

static void format_devset_verdicts(const char *name,
				   const struct dmar_devset *sets,
				   unsigned int count, acpi_emit_fn emit,
				   void *ctx)
{
	char what[32];
	unsigned int i;

	for (i = 0; i < count; i++) {
		fmt_snprintf(what, sizeof(what), "%s %u seg %u", name, i,
			     sets[i].segment);
		format_verdict(emit, ctx, what, sets[i].reason);
	}
}

void dmar_format(const struct dmar *d, acpi_emit_fn emit, void *ctx)
{
	char what[48];
	unsigned int i;

	if (d->header_valid) {
		acpi_emitf(emit, ctx, "dmar haw %u flags 0x%x rev %u len 0x%x",
			   d->haw + 1U, d->flags, d->revision, d->length);
	}
	/* A table never parsed (usable false, no reason) is not shown used. */
	format_verdict(emit, ctx, "dmar table",
		       d->usable      ? ""
		       : d->reason[0] ? d->reason
				      : "not parsed");
	for (i = 0; i < d->struct_count; i++) {
		format_struct(d, &d->structs[i], emit, ctx);
	}
	for (i = 0; i < d->unit_count; i++) {
		fmt_snprintf(what, sizeof(what), "unit %u base 0x%llx", i,
			     (unsigned long long)d->units[i].base);
		format_verdict(emit, ctx, what, d->units[i].reason);
	}
	for (i = 0; i < d->rmrr_count; i++) {
		fmt_snprintf(what, sizeof(what), "rmrr %u base 0x%llx", i,
			     (unsigned long long)d->rmrrs[i].base);
		format_verdict(emit, ctx, what, d->rmrrs[i].reason);
	}
	format_devset_verdicts("atsr", d->atsrs, d->atsr_count, emit, ctx);
	format_devset_verdicts("satc", d->satcs, d->satc_count, emit, ctx);
	format_devset_verdicts("sidp", d->sidps, d->sidp_count, emit, ctx);
}
