/*
 * Compiled, never run (tests/unit/types.mk): an IOVA and an HPA swapped in
 * a call must not compile (lib/addr.h).  SWAP swaps them; PLAIN
 * stands in plain typedefs for the distinct types, under which the same
 * swap compiles silently: the check proves that it would notice.
 */
#include <stdint.h>

#ifdef PLAIN
typedef uint64_t iova_t;
typedef uint64_t hpa_t;
struct vtd_domain;
int vtd_domain_map(struct vtd_domain *d, iova_t iova, hpa_t hpa, uint64_t len,
		   unsigned int prot);
#else
#include "drivers/iommu/vtd/vtd.h"
#endif

int addr_swap_map(struct vtd_domain *d, iova_t iova, hpa_t hpa);

int addr_swap_map(struct vtd_domain *d, iova_t iova, hpa_t hpa)
{
#ifdef SWAP
	return vtd_domain_map(d, hpa, iova, 4096, 1);
#else
	return vtd_domain_map(d, iova, hpa, 4096, 1);
#endif
}
