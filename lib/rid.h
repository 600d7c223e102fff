#pragma once

#include <stdint.h>

/*
 * PCI requester ids (a VT-d "source-id", VT-d spec 3.4.1): bus << 8 |
 * devfn, where devfn is device << 3 | function.  Context tables, fault
 * records, interrupt entries and invalidations all name requesters so.
 */
static inline uint16_t rid_make(uint8_t bus, uint8_t devfn)
{
	return (uint16_t)(bus << 8 | devfn);
}

static inline uint8_t rid_bus(uint16_t rid)
{
	return (uint8_t)(rid >> 8);
}

static inline uint8_t rid_devfn(uint16_t rid)
{
	return (uint8_t)rid;
}

static inline unsigned int rid_device(uint16_t rid)
{
	return (rid >> 3) & 0x1fU;
}

static inline unsigned int rid_function(uint16_t rid)
{
	return rid & 0x7U;
}

/* "BB:DD.F", as in every log line that names a requester id. */
#define RID_FMT "%02x:%02x.%u"
#define RID_ARGS(rid) \
	(unsigned int)rid_bus(rid), rid_device(rid), rid_function(rid)
