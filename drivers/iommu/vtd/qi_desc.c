/*
 * Invalidation descriptors (VT-d spec 6.5.2), 128-bit.  Every builder
 * starts from zero and sets only the fields it names, so reserved fields
 * are always zero: a descriptor built here never raises an invalidation
 * queue error for a reserved bit (6.5.2.10).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bits.h"
#include "drivers/iommu/vtd/internal.h"

/* Device-TLB invalidate queue depth: MIP 0 stands for 32 (PCIe ATS). */
#define DEVTLB_QDEPTH_MAX 32u

/* Drain in-flight DMA with the invalidation where the unit can. */
static uint64_t iotlb_drain(const struct vtd_unit *u)
{
	uint64_t bits = 0;

	if (u->cap & VTD_CAP_DRD)
		bits |= VTD_QI_IOTLB_DR;
	if (u->cap & VTD_CAP_DWD)
		bits |= VTD_QI_IOTLB_DW;
	return bits;
}

struct vtd_qi_desc vtd_qi_cc_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_CC) |
		      field_prep64(VTD_QI_CC_G, VTD_QI_CC_G_GLOBAL),
	};

	return d;
}

struct vtd_qi_desc vtd_qi_cc_device(uint16_t did, uint16_t sid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_CC) |
		      field_prep64(VTD_QI_CC_G, VTD_QI_CC_G_DEVICE) |
		      field_prep64(VTD_QI_CC_DID, did) |
		      field_prep64(VTD_QI_CC_SID, sid),
	};

	return d;
}

struct vtd_qi_desc vtd_qi_iotlb_global(const struct vtd_unit *u)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_GLOBAL) |
		      iotlb_drain(u),
	};

	return d;
}

struct vtd_qi_desc vtd_qi_iotlb_domain(const struct vtd_unit *u, uint16_t did)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_DOMAIN) |
		      field_prep64(VTD_QI_IOTLB_DID, did) | iotlb_drain(u),
	};

	return d;
}

/*
 * 2^order pages at addr.  One page: S = 0.  More: S = 1, and the address
 * bits below the size's own bit are ones, the size's bit zero (the PCIe
 * ATS range encoding the descriptor carries, VT-d spec 6.5.2.5).
 */
static uint64_t devtlb_range(uint64_t addr, unsigned int order)
{
	uint64_t ones;

	if (!order)
		return addr & VTD_QI_DEVTLB_HI_ADDR;
	if (order > VTD_DEVTLB_ALL)
		order = VTD_DEVTLB_ALL;
	ones = ((UINT64_C(1) << (order - 1)) - 1) << VTD_PAGE_SHIFT;
	if (order < VTD_DEVTLB_ALL)
		addr &= ~((UINT64_C(1) << (VTD_PAGE_SHIFT + order)) - 1);
	else
		addr = 0;
	return addr | ones | VTD_QI_DEVTLB_HI_S;
}

/* PFSID only where the unit uses it (ECAP.DIT); elsewhere it is zero. */
struct vtd_qi_desc vtd_qi_devtlb(const struct vtd_unit *u, uint16_t sid,
				 uint16_t pfsid, unsigned int qdepth,
				 uint64_t addr, unsigned int order)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_DEVTLB) |
		      field_prep64(VTD_QI_DEVTLB_SID, sid) |
		      field_prep64(VTD_QI_DEVTLB_MIP,
				   qdepth >= DEVTLB_QDEPTH_MAX ? 0 : qdepth),
		.hi = devtlb_range(addr, order),
	};

	if (vtd_ecap_dit(u->ecap))
		d.lo |= field_prep64(VTD_QI_DEVTLB_PFSID_LO, pfsid) |
			field_prep64(VTD_QI_DEVTLB_PFSID_HI, pfsid >> 4);
	return d;
}

/*
 * Status write of seq to status_pa; FN keeps later descriptors from
 * passing it (6.5.2.8).  IF stays clear: the queue is polled, and QEMU
 * aborts on SW and IF together.
 */
struct vtd_qi_desc vtd_qi_wait_desc(uint64_t status_pa, uint32_t seq)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_WAIT) |
		      VTD_QI_WAIT_SW | VTD_QI_WAIT_FN |
		      field_prep64(VTD_QI_WAIT_SDATA, seq),
		.hi = status_pa & VTD_QI_WAIT_HI_SADDR,
	};

	return d;
}

/* A device-TLB invalidation, and its target in *sid. */
bool vtd_qi_is_devtlb(const struct vtd_qi_desc *d, uint16_t *sid)
{
	if (field_get64(VTD_QI_TYPE, d->lo) != VTD_QI_TYPE_DEVTLB)
		return false;
	*sid = (uint16_t)field_get64(VTD_QI_DEVTLB_SID, d->lo);
	return true;
}

/*
 * Page-selective: 2^am pages at addr, which must be aligned to that size
 * (VT-d spec 6.5.2.3).  IH stays 0: page-table pages may have been freed,
 * so paging-structure caches must go too.
 */
static struct vtd_qi_desc iotlb_page(const struct vtd_unit *u, uint16_t did,
				     uint64_t addr, unsigned int am)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_PAGE) |
		      field_prep64(VTD_QI_IOTLB_DID, did) | iotlb_drain(u),
		.hi = (addr & VTD_QI_IOTLB_HI_ADDR) |
		      field_prep64(VTD_QI_IOTLB_HI_AM, am),
	};

	return d;
}

/*
 * Split [iova, iova + len) into naturally aligned power-of-two chunks no
 * larger than 2^MAMV pages.  Returns the descriptor count, or 0 when the
 * range needs more than a batch holds.
 */
static unsigned int page_chunks(const struct vtd_unit *u, uint16_t did,
				uint64_t iova, uint64_t len,
				struct vtd_qi_desc *descs)
{
	uint64_t page = iova >> VTD_PAGE_SHIFT;
	uint64_t pages = len >> VTD_PAGE_SHIFT;
	unsigned int mamv = vtd_cap_mamv(u->cap);
	unsigned int n = 0, am;

	while (pages) {
		if (n == VTD_QI_BATCH_MAX)
			return 0;
		am = page ? bits_lowest_set(page) : 63;
		if (am > mamv)
			am = mamv;
		while ((UINT64_C(1) << am) > pages)
			am--;
		descs[n++] = iotlb_page(u, did, page << VTD_PAGE_SHIFT, am);
		page += UINT64_C(1) << am;
		pages -= UINT64_C(1) << am;
	}
	return n;
}

/*
 * Invalidate a domain's IOVA range on one unit: page-selective chunks when
 * the unit has PSI and the range fits one batch, else the whole domain.
 */
int vtd_qi_flush_range(struct vtd_unit *u, uint16_t did, uint64_t iova,
		       uint64_t len, uint32_t *seq)
{
	struct vtd_qi_desc descs[VTD_QI_BATCH_MAX];
	unsigned int n = 0;

	if (vtd_cap_psi(u->cap))
		n = page_chunks(u, did, iova, len, descs);
	if (!n) {
		descs[0] = vtd_qi_iotlb_domain(u, did);
		n = 1;
	}
	return vtd_qi_submit(u, descs, n, seq);
}
