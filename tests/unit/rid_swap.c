/*
 * Compiled, never run (tests/unit/types.mk): a requester id and a PASID
 * swapped in a call must not compile (lib/rid.h).  SWAP swaps them; PLAIN
 * stands in a plain typedef for rid_t, under which the same swap compiles
 * silently: the check proves that it would notice.
 */
#include <stdint.h>

#ifdef PLAIN
typedef uint16_t rid_t;
struct vtd_domain;
struct vtd_unit;
int vtd_attach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		     uint32_t pasid);
#else
#include "drivers/iommu/vtd/vtd.h"
#endif

int rid_swap_attach(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		    uint32_t pasid);

int rid_swap_attach(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		    uint32_t pasid)
{
#ifdef SWAP
	return vtd_attach_pasid(d, u, pasid, sid);
#else
	return vtd_attach_pasid(d, u, sid, pasid);
#endif
}
