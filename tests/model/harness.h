#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/iommu/vtd/vtd.h"
#include "tests/model/model.h"

/*
 * What the model tests share: units at BASE(i), cmocka setup/teardown (a
 * fresh machine per test; teardown fails the test on any model violation
 * it did not expect and clear), bring-up, and driver calls that also tell
 * the model what the test now expects.
 */
#define BASE(i) (UINT64_C(0xfed90000) + (uint64_t)(i) * 0x10000)
#define SZ_4K UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)
#define SZ_1G UINT64_C(0x40000000)
#define RW (VTD_PROT_READ | VTD_PROT_WRITE)
#define SID(bus, dev, fn) ((uint16_t)((bus) << 8 | (dev) << 3 | (fn)))

int setup(void **state);
int teardown(void **state);

struct model_unit_config default_cfg(void);
unsigned int add_unit(const struct model_unit_config *cfg);
void bring_up(struct vtd_unit *u, unsigned int idx);
void shut_down(struct vtd_unit *u);
struct vtd_domain *new_domain(struct vtd_unit *u, unsigned int aw);

void t_map(struct vtd_domain *d, uint64_t iova, uint64_t hpa, uint64_t len,
	   unsigned int prot);
void t_unmap(struct vtd_domain *d, uint64_t iova, uint64_t len);
void t_attach(struct vtd_domain *d, struct vtd_unit *u, uint16_t sid);
void t_detach(struct vtd_domain *d, struct vtd_unit *u, uint16_t sid);

/* A DMA write of len (at most 256) bytes of byte; 0 or -EFAULT. */
int dma_fill(unsigned int unit, uint16_t sid, uint64_t iova, uint8_t byte,
	     size_t len);
uint8_t ram_byte(uint64_t hpa);

struct fault_log {
	unsigned int count;
	struct vtd_fault f[32];
};

void on_fault(void *ctx, const struct vtd_fault *f);
/* Exactly one pending fault, and it is this one. */
void fault_expect(struct vtd_unit *u, uint16_t sid, uint64_t addr,
		  uint8_t reason, bool write);
