#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * PCI requester ids (a VT-d "source-id", VT-d spec 3.4.1): bus << 8 |
 * devfn, where devfn is device << 3 | function.  Context tables, fault
 * records, interrupt entries and invalidations all name requesters so.
 * A type of its own, so that a requester id is never taken for a domain
 * id, a PASID, an index or a segment (tests/unit/rid_swap.c): raw uint16_t
 * only where one is encoded into or decoded from an entry, register or
 * descriptor (rid_from(), rid_val()).
 */
typedef struct {
	uint16_t v;
} rid_t;

/* A constant expression, for tables and static initializers. */
#define RID(bus, devfn) ((rid_t){(uint16_t)((bus) << 8 | (devfn))})

static inline rid_t rid_make(uint8_t bus, uint8_t devfn)
{
	return RID(bus, devfn);
}

/* A requester id as hardware or a table encodes it. */
static inline rid_t rid_from(uint16_t v)
{
	return (rid_t){v};
}

static inline uint16_t rid_val(rid_t rid)
{
	return rid.v;
}

static inline bool rid_eq(rid_t a, rid_t b)
{
	return a.v == b.v;
}

static inline uint8_t rid_bus(rid_t rid)
{
	return (uint8_t)(rid.v >> 8);
}

static inline uint8_t rid_devfn(rid_t rid)
{
	return (uint8_t)rid.v;
}

/* The device and function numbers of a devfn. */
static inline unsigned int rid_devfn_device(uint8_t devfn)
{
	return (devfn >> 3) & 0x1fU;
}

static inline unsigned int rid_devfn_function(uint8_t devfn)
{
	return devfn & 0x7U;
}

static inline unsigned int rid_device(rid_t rid)
{
	return rid_devfn_device(rid_devfn(rid));
}

static inline unsigned int rid_function(rid_t rid)
{
	return rid_devfn_function(rid_devfn(rid));
}

/* "BB:DD.F", as in every log line that names a requester id. */
#define RID_FMT "%02x:%02x.%u"
#define RID_ARGS(rid) \
	(unsigned int)rid_bus(rid), rid_device(rid), rid_function(rid)
