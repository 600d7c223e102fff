#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/iommu/vtd/internal.h"

#include "tests/model/model.h"

/*
 * What the model tests share: units at BASE(i), cmocka setup/teardown (a
 * fresh machine per test; teardown fails the test on any model violation
 * it did not expect and clear), bring-up, and driver calls that also tell
 * the model what the test now expects.
 */
#define BASE(i)		  (UINT64_C(0xfed90000) + (uint64_t)(i)*0x10000)
#define SZ_4K		  UINT64_C(0x1000)
#define SZ_2M		  UINT64_C(0x200000)
#define SZ_1G		  UINT64_C(0x40000000)
#define RW		  (VTD_PROT_READ | VTD_PROT_WRITE)
#define SID(bus, dev, fn) RID((bus), (dev) << 3 | (fn))

int setup(void **state);
int teardown(void **state);

struct model_unit_config default_cfg(void);
/*
 * QEMU's defaults in scalable mode with everything moat uses: SMTS, SLTS,
 * FLTS, nesting, pass-through, PASIDs of pss + 1 bits.
 */
struct model_unit_config sm_cfg(unsigned int pss);
unsigned int add_unit(const struct model_unit_config *cfg);
void bring_up(struct vtd_unit *u, unsigned int idx);
void shut_down(struct vtd_unit *u);
struct vtd_domain *new_domain(struct vtd_unit *u, unsigned int aw);
/* vtd_domain_info() as a value, to assert on one field. */
struct vtd_domain_info dom_info(const struct vtd_domain *d);

/*
 * The prelude most tests share: unit idx brought up, a domain of aw bits
 * on it, sid attached.  down_attached() ends it: sid detached, the domain
 * destroyed, the unit shut down, each step asserted.
 */
struct vtd_domain *up_attached(struct vtd_unit *u, unsigned int idx,
			       unsigned int aw, rid_t sid);
void down_attached(struct vtd_domain *d, struct vtd_unit *u, rid_t sid);

void t_map(struct vtd_domain *d, iova_t iova, hpa_t hpa, uint64_t len,
	   unsigned int prot);
void t_unmap(struct vtd_domain *d, iova_t iova, uint64_t len);
void t_attach(struct vtd_domain *d, struct vtd_unit *u, rid_t sid);
void t_detach(struct vtd_domain *d, struct vtd_unit *u, rid_t sid);
void t_attach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		    uint32_t pasid);
void t_detach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		    uint32_t pasid);

/* A DMA write of len (at most 256) bytes of byte; 0 or -EFAULT. */
int dma_fill(unsigned int unit, rid_t sid, uint64_t iova, uint8_t byte,
	     size_t len);
/* The same as a request with pasid (MODEL_NO_PASID: without). */
int dma_fill_pasid(unsigned int unit, rid_t sid, uint32_t pasid, uint64_t iova,
		   uint8_t byte, size_t len);
uint8_t ram_byte(uint64_t hpa);

/*
 * The 4K leaf entry for iova (tables must exist down to level 1), in
 * either format.  poke() changes an entry behind the driver's back, as a
 * buggy driver would, flushed so that any unit sees it.
 */
uint64_t *leaf_entry(struct vtd_domain *d, uint64_t iova);
void poke(uint64_t *entry, uint64_t val);

struct fault_log {
	unsigned int count;
	struct vtd_fault f[32];
};

void on_fault(void *ctx, const struct vtd_fault *f);
/* Exactly one pending fault, and it is this one. */
void fault_expect(struct vtd_unit *u, rid_t sid, uint64_t addr, uint8_t reason,
		  bool write);
