/*
 * The back end of a machine without a usable IOMMU (backend.h): no unit
 * can be brought up, so no domain exists and every attach, and with it
 * every assignment to a guest, is refused.  Devices' DMA is then not
 * isolated at all, which the isolation layer says for each device.
 */
#include "drivers/iommu/backend.h"
#include "lib/errno.h"

const char *const iommu_be_option_keys[] = {NULL};

/* The configuration has nothing to hold: one static placeholder. */
struct iommu_be_config {
	char unused;
};

static struct iommu_be_config absent_config;

struct iommu_be_config *iommu_be_config_new(void)
{
	return &absent_config;
}

void iommu_be_config_free(struct iommu_be_config *cfg)
{
}

int iommu_be_config_set(struct iommu_be_config *cfg, const char *key,
			const char *value)
{
	return -ENOENT;
}

int iommu_be_unit_init(const struct iommu_be_config *cfg,
		       const struct iommu_be_platform *plat, unsigned int index,
		       uint16_t segment, uint64_t base,
		       iommu_present_fn present, void *present_ctx,
		       struct iommu_be_unit **out)
{
	return -ENODEV;
}

/*
 * With no unit there is never a unit, domain or entry to act on: what
 * follows is unreachable, and refuses all the same.
 */
int iommu_be_unit_enable(struct iommu_be_unit *u)
{
	return -ENODEV;
}

void iommu_be_unit_fini(struct iommu_be_unit *u)
{
}

void iommu_be_unit_handover(struct iommu_be_unit *u)
{
}

uint16_t iommu_be_unit_segment(const struct iommu_be_unit *u)
{
	return 0;
}

bool iommu_be_unit_degraded(const struct iommu_be_unit *u)
{
	return false;
}

const char *iommu_be_unit_no_ats(const struct iommu_be_unit *u)
{
	return "no IOMMU";
}

const char *iommu_be_unit_no_format(const struct iommu_be_unit *u,
				    enum iommu_format format)
{
	return "no IOMMU";
}

int iommu_be_domain_create(struct iommu_be_unit *const *units,
			   unsigned int count, enum iommu_format format,
			   struct iommu_be_domain **out)
{
	return -ENODEV;
}

int iommu_be_domain_nested(struct iommu_be_domain *parent, iova_t table,
			   unsigned int levels, struct iommu_be_domain **out)
{
	return -ENODEV;
}

int iommu_be_pasid_attach(struct iommu_be_domain *d, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid)
{
	return -ENODEV;
}

int iommu_be_pasid_switch(struct iommu_be_domain *from,
			  struct iommu_be_domain *to, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid)
{
	return -ENODEV;
}

int iommu_be_pasid_detach(struct iommu_be_domain *d, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid)
{
	return -ENODEV;
}

enum iommu_format iommu_be_domain_format(const struct iommu_be_domain *d)
{
	return IOMMU_FORMAT_AUTO;
}

const char *iommu_be_domain_no_unit(const struct iommu_be_domain *d,
				    const struct iommu_be_unit *u)
{
	return "no IOMMU";
}

int iommu_be_domain_destroy(struct iommu_be_domain *d)
{
	return -ENODEV;
}

int iommu_be_map(struct iommu_be_domain *d, iova_t iova, hpa_t hpa,
		 uint64_t len, unsigned int prot)
{
	return -ENODEV;
}

int iommu_be_unmap(struct iommu_be_domain *d, const struct iommu_range *r,
		   unsigned int count)
{
	return -ENODEV;
}

int iommu_be_flush(struct iommu_be_domain *d)
{
	return -ENODEV;
}

void iommu_be_for_each_mapping(struct iommu_be_domain *d, iommu_mapping_fn fn,
			       void *ctx)
{
}

int iommu_be_attach(struct iommu_be_domain *d, struct iommu_be_unit *u,
		    const rid_t *sids, unsigned int count)
{
	return -ENODEV;
}

int iommu_be_attach_ats(struct iommu_be_domain *d, struct iommu_be_unit *u,
			rid_t sid, unsigned int qdepth)
{
	return -ENODEV;
}

int iommu_be_detach(struct iommu_be_domain *d, struct iommu_be_unit *u,
		    const rid_t *sids, unsigned int count)
{
	return -EINVAL;
}

int iommu_be_devtlb_flush(struct iommu_be_unit *u, rid_t sid,
			  unsigned int qdepth)
{
	return -ENODEV;
}

bool iommu_be_inherited(const struct iommu_be_unit *u, rid_t sid)
{
	return false;
}

void iommu_be_device_gone(struct iommu_be_unit *u, rid_t sid)
{
}

void iommu_be_device_reset(struct iommu_be_unit *u, rid_t sid)
{
}

bool iommu_be_device_quarantined(const struct iommu_be_unit *u, rid_t sid)
{
	return false;
}

void iommu_be_poll(struct iommu_be_unit *u, iommu_sid_fn quarantined, void *ctx)
{
}

int iommu_be_fault_poll(struct iommu_be_unit *u, iommu_fault_fn fn, void *ctx)
{
	return 0;
}

int iommu_be_irq_alloc(struct iommu_be_unit *u, unsigned int *index)
{
	return -ENOTSUP;
}

int iommu_be_irq_set(struct iommu_be_unit *u, unsigned int index, uint32_t dest,
		     uint8_t vector, const rid_t *sids, unsigned int count)
{
	return -ENOTSUP;
}

void iommu_be_irq_free(struct iommu_be_unit *u, unsigned int index)
{
}

void iommu_be_irq_msi(unsigned int index, uint64_t *address, uint32_t *data)
{
	*address = 0;
	*data = 0;
}

void iommu_be_report_unit(struct iommu_be_unit *u, iommu_line_fn fn, void *ctx)
{
}

void iommu_be_report_qi(struct iommu_be_unit *u, iommu_line_fn fn, void *ctx)
{
}

void iommu_be_report_stats(struct iommu_be_unit *u,
			   const struct iommu_be_config *cfg, iommu_line_fn fn,
			   void *ctx)
{
}

int iommu_be_selftest(struct iommu_be_unit *u)
{
	return -ENODEV;
}
