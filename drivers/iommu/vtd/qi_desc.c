/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Invalidation descriptors (VT-d spec 6.5.2), the first 128 bits of each:
 * in scalable mode the queue holds 256-bit descriptors whose upper half
 * is reserved for every type built here.  Every builder starts from zero
 * and sets only the fields it names, so reserved fields are always zero:
 * a descriptor built here never raises an invalidation queue error for a
 * reserved bit (6.5.2.10).  What to invalidate when: invalidate.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"

/* Device-TLB invalidate queue depth: MIP 0 stands for 32 (PCIe ATS). */
#define DEVTLB_QDEPTH_MAX 32U

/* Drain in-flight DMA with the invalidation where the unit can. */
static uint64_t iotlb_drain(const struct vtd_unit *u)
{
	uint64_t bits = 0;

	if (u->cap & VTD_CAP_DRD) {
		bits |= VTD_QI_IOTLB_DR;
	}
	if (u->cap & VTD_CAP_DWD) {
		bits |= VTD_QI_IOTLB_DW;
	}
	return bits;
}

struct vtd_qi_desc vtd_desc_cc_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_CC) |
		      field_prep64(VTD_QI_CC_G, VTD_QI_CC_G_GLOBAL),
	};

	return d;
}

struct vtd_qi_desc vtd_desc_cc_device(uint16_t did, rid_t sid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_CC) |
		      field_prep64(VTD_QI_CC_G, VTD_QI_CC_G_DEVICE) |
		      field_prep64(VTD_QI_CC_DID, did) |
		      field_prep64(VTD_QI_CC_SID, rid_val(sid)),
	};

	return d;
}

struct vtd_qi_desc vtd_desc_iotlb_global(const struct vtd_unit *u)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_GLOBAL) |
		      iotlb_drain(u),
	};

	return d;
}

struct vtd_qi_desc vtd_desc_iotlb_domain(const struct vtd_unit *u, uint16_t did)
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

	if (!order) {
		return addr & VTD_QI_DEVTLB_HI_ADDR;
	}
	if (order > VTD_DEVTLB_ALL) {
		order = VTD_DEVTLB_ALL;
	}
	ones = ((UINT64_C(1) << (order - 1)) - 1) << VTD_PAGE_SHIFT;
	if (order < VTD_DEVTLB_ALL) {
		addr &= ~((UINT64_C(1) << (VTD_PAGE_SHIFT + order)) - 1);
	} else {
		addr = 0;
	}
	return addr | ones | VTD_QI_DEVTLB_HI_S;
}

/* MIP 0 stands for a queue depth of 32. */
static uint64_t devtlb_mip(unsigned int qdepth)
{
	return qdepth >= DEVTLB_QDEPTH_MAX ? 0 : qdepth;
}

/* PFSID only where the unit uses it (ECAP.DIT); elsewhere it is zero. */
static uint64_t devtlb_pfsid(const struct vtd_unit *u, rid_t pfsid)
{
	if (!vtd_ecap_dit(u->ecap)) {
		return 0;
	}
	return field_prep64(VTD_QI_DEVTLB_PFSID_LO, rid_val(pfsid)) |
	       field_prep64(VTD_QI_DEVTLB_PFSID_HI, rid_val(pfsid) >> 4);
}

struct vtd_qi_desc vtd_desc_devtlb(const struct vtd_unit *u, rid_t sid,
				   rid_t pfsid, unsigned int qdepth,
				   iova_t addr, unsigned int order)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_DEVTLB) |
		      field_prep64(VTD_QI_DEVTLB_SID, rid_val(sid)) |
		      field_prep64(VTD_QI_DEVTLB_MIP, devtlb_mip(qdepth)) |
		      devtlb_pfsid(u, pfsid),
		.hi = devtlb_range(iova_val(addr), order),
	};

	return d;
}

/* Every PASID-cache entry (6.5.2.2): after the root table switched. */
struct vtd_qi_desc vtd_desc_pc_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PC) |
		      field_prep64(VTD_QI_PC_G, VTD_QI_PC_G_GLOBAL),
	};

	return d;
}

/* The PASID-cache entries of one PASID tagged with domain id did. */
struct vtd_qi_desc vtd_desc_pc_pasid(uint16_t did, uint32_t pasid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PC) |
		      field_prep64(VTD_QI_PC_G, VTD_QI_PC_G_PASID) |
		      field_prep64(VTD_QI_PC_DID, did) |
		      field_prep64(VTD_QI_PC_PASID, pasid),
	};

	return d;
}

/*
 * Everything the IOTLB and paging-structure caches hold for one PASID of a
 * domain, whatever its translation type (6.5.2.4).
 */
struct vtd_qi_desc vtd_desc_piotlb_pasid(uint16_t did, uint32_t pasid)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PIOTLB) |
		      field_prep64(VTD_QI_PIOTLB_G, VTD_QI_PIOTLB_G_PASID) |
		      field_prep64(VTD_QI_PIOTLB_DID, did) |
		      field_prep64(VTD_QI_PIOTLB_PASID, pasid),
	};

	return d;
}

/*
 * Status write of seq to status_pa; FN keeps later descriptors from
 * passing it (6.5.2.8).  IF stays clear: the queue is polled, and QEMU
 * aborts on SW and IF together.
 */
struct vtd_qi_desc vtd_desc_wait(uint64_t status_pa, uint32_t seq)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_WAIT) |
		      VTD_QI_WAIT_SW | VTD_QI_WAIT_FN |
		      field_prep64(VTD_QI_WAIT_SDATA, seq),
		.hi = status_pa & VTD_QI_WAIT_HI_SADDR,
	};

	return d;
}

/* Every interrupt entry cache entry (6.5.2.7): after SIRTP. */
struct vtd_qi_desc vtd_desc_iec_global(void)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IEC),
	};

	return d;
}

/* The cached copies of one entry (index-selective, IM = 0). */
struct vtd_qi_desc vtd_desc_iec_index(uint16_t index)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IEC) |
		      VTD_QI_IEC_G | field_prep64(VTD_QI_IEC_IIDX, index),
	};

	return d;
}

/*
 * A device-TLB invalidation, and its target in *sid.  The driver sends no
 * PASID-based ones: it never sets a scalable-mode context entry's DTE, so
 * no device caches a translation for a PASID.
 */
bool vtd_desc_is_devtlb(const struct vtd_qi_desc *d, rid_t *sid)
{
	if (field_get64(VTD_QI_TYPE, d->lo) != VTD_QI_TYPE_DEVTLB) {
		return false;
	}
	*sid = rid_from((uint16_t)field_get64(VTD_QI_DEVTLB_SID, d->lo));
	return true;
}

/*
 * Page-selective: 2^am pages at addr, which must be aligned to that size
 * (VT-d spec 6.5.2.3).  IH stays 0: page-table pages may have been freed,
 * so paging-structure caches must go too.
 */
struct vtd_qi_desc vtd_desc_iotlb_page(const struct vtd_unit *u, uint16_t did,
				       iova_t addr, unsigned int am)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_IOTLB) |
		      field_prep64(VTD_QI_IOTLB_G, VTD_QI_IOTLB_G_PAGE) |
		      field_prep64(VTD_QI_IOTLB_DID, did) | iotlb_drain(u),
		.hi = (iova_val(addr) & VTD_QI_IOTLB_HI_ADDR) |
		      field_prep64(VTD_QI_IOTLB_HI_AM, am),
	};

	return d;
}

/* The first-level and nested counterpart, for one PASID (6.5.2.4). */
struct vtd_qi_desc vtd_desc_piotlb_page(uint16_t did, uint32_t pasid,
					iova_t addr, unsigned int am)
{
	struct vtd_qi_desc d = {
		.lo = field_prep64(VTD_QI_TYPE, VTD_QI_TYPE_PIOTLB) |
		      field_prep64(VTD_QI_PIOTLB_G, VTD_QI_PIOTLB_G_PAGE) |
		      field_prep64(VTD_QI_PIOTLB_DID, did) |
		      field_prep64(VTD_QI_PIOTLB_PASID, pasid),
		.hi = (iova_val(addr) & VTD_QI_PIOTLB_HI_ADDR) |
		      field_prep64(VTD_QI_PIOTLB_HI_AM, am),
	};

	return d;
}
