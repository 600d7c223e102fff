/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * The VT-d driver behind the isolation layer's back end interface
 * (drivers/iommu/backend.h): units, domains, attach and detach, faults,
 * interrupt remapping and the console's reports, in VT-d's own terms
 * below this file and in neutral ones above it.
 */
#include "drivers/iommu/backend.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/regs.h"
#include "drivers/iommu/vtd/vtd.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/rid.h"
#include "lib/string.h"

/* Widest IOVA space a domain gets: 4-level tables, enough for any guest here.
 */
#define VTD_BE_ADDR_WIDTH_MAX 48U
#define VTD_BE_LINE_MAX	      200U

struct iommu_be_config {
	struct vtd_config cfg;
};

struct iommu_be_unit {
	struct vtd_unit *u;
};

/* A nested domain shares its parent's d and has a parent. */
struct iommu_be_domain {
	struct vtd_domain *d;
	struct iommu_be_domain *parent;
	iova_t table;
	unsigned int levels;
};

_Static_assert(VTD_PROT_READ == IOMMU_PROT_READ &&
		       VTD_PROT_WRITE == IOMMU_PROT_WRITE &&
		       VTD_PAGE_2M == IOMMU_PAGE_2M &&
		       VTD_PAGE_1G == IOMMU_PAGE_1G,
	       "VT-d and neutral protections and page sizes agree");

const char *const iommu_be_option_keys[] = {
	"vtd.mode",
	"vtd.deadline.reg",
	"vtd.deadline.iotlb",
	"vtd.deadline.devtlb",
	NULL,
};

struct iommu_be_config *iommu_be_config_new(void)
{
	struct iommu_be_config *c = hw_zalloc(sizeof(*c));

	if (c) {
		vtd_config_default(&c->cfg);
	}
	return c;
}

void iommu_be_config_free(struct iommu_be_config *cfg)
{
	hw_free(cfg);
}

int iommu_be_config_set(struct iommu_be_config *cfg, const char *key,
			const char *value)
{
	unsigned long long us;
	int ret;

	if (strcmp(key, "vtd.mode") == 0) {
		return vtd_config_set_str(&cfg->cfg, key, value);
	}
	ret = fmt_parse_u64(value, &us);
	return ret ? ret : vtd_config_set(&cfg->cfg, key, us);
}

int iommu_be_unit_init(const struct iommu_be_config *cfg,
		       const struct iommu_be_platform *plat, unsigned int index,
		       uint16_t segment, uint64_t base,
		       iommu_present_fn present, void *present_ctx,
		       struct iommu_be_unit **out)
{
	struct iommu_be_unit *bu = hw_zalloc(sizeof(*bu));
	struct vtd_config c = cfg->cfg;
	int ret;

	if (bu) {
		bu->u = vtd_unit_alloc();
	}
	if (!bu || !bu->u) {
		hw_free(bu);
		return -ENOMEM;
	}
	c.inherit = plat->inherit;
	c.x2apic = plat->x2apic;
	c.x2apic_opt_out = plat->x2apic_opt_out;
	c.fault_vector = plat->fault_vector;
	c.fault_apic = plat->fault_apic;
	ret = vtd_unit_init(bu->u, index, segment, base, &c);
	if (ret) {
		vtd_unit_free(bu->u);
		hw_free(bu);
		return ret;
	}
	vtd_unit_set_presence(bu->u, present, present_ctx);
	*out = bu;
	return 0;
}

int iommu_be_unit_enable(struct iommu_be_unit *u)
{
	int ret = vtd_unit_enable(u->u);

	if (ret == 0) {
		vtd_fault_event_enable(u->u);
	}
	return ret;
}

void iommu_be_unit_handover(struct iommu_be_unit *u)
{
	vtd_fault_event_mask(u->u);
}

void iommu_be_unit_fini(struct iommu_be_unit *u)
{
	vtd_unit_disable(u->u);
	vtd_unit_fini(u->u);
	vtd_unit_free(u->u);
	hw_free(u);
}

uint16_t iommu_be_unit_segment(const struct iommu_be_unit *u)
{
	return vtd_unit_segment(u->u);
}

bool iommu_be_unit_degraded(const struct iommu_be_unit *u)
{
	return vtd_unit_degraded(u->u);
}

const char *iommu_be_unit_no_ats(const struct iommu_be_unit *u)
{
	if (!vtd_ecap_dt(vtd_unit_ecap(u->u))) {
		return "its unit has no device-TLB support";
	}
	/* vtd_attach_ats() programs legacy context entries only. */
	return vtd_unit_mode(u->u) == VTD_MODE_LEGACY
		       ? NULL
		       : "it needs legacy mode (vtd.mode=legacy)";
}

static enum vtd_format vtd_format(enum iommu_format format)
{
	return format == IOMMU_FORMAT_FIRST_LEVEL ? VTD_FORMAT_FIRST_LEVEL
						  : VTD_FORMAT_SECOND_LEVEL;
}

const char *iommu_be_unit_no_format(const struct iommu_be_unit *u,
				    enum iommu_format format)
{
	return format == IOMMU_FORMAT_AUTO
		       ? NULL
		       : vtd_unit_no_format(u->u, vtd_format(format));
}

int iommu_be_domain_create(struct iommu_be_unit *const *units,
			   unsigned int count, enum iommu_format format,
			   struct iommu_be_domain **out)
{
	struct vtd_unit *vu[VTD_DOMAIN_MAX_UNITS];
	unsigned int i, n = 0, width = VTD_BE_ADDR_WIDTH_MAX;
	struct iommu_be_domain *bd;
	int ret;

	if (count == 0 || count > VTD_DOMAIN_MAX_UNITS) {
		return count ? -ENOSPC : -ENODEV;
	}
	for (i = 0; i < count; i++) {
		if (iommu_be_unit_no_format(units[i], format)) {
			continue;
		}
		vu[n] = units[i]->u;
		if (vtd_cap_mgaw(vtd_unit_cap(vu[n])) < width) {
			width = vtd_cap_mgaw(vtd_unit_cap(vu[n]));
		}
		n++;
	}
	if (n == 0) {
		return -ENOTSUP;
	}
	/* 4-level first-level tables cover 47 bits (VT-d spec 3.6). */
	if (format == IOMMU_FORMAT_FIRST_LEVEL && width > 47) {
		width = 47;
	}
	bd = hw_zalloc(sizeof(*bd));
	if (!bd) {
		return -ENOMEM;
	}
	ret = format == IOMMU_FORMAT_AUTO
		      ? vtd_domain_create(vu, n, width, &bd->d)
		      : vtd_domain_create_fmt(vu, n, width, vtd_format(format),
					      &bd->d);
	if (ret) {
		hw_free(bd);
		return ret;
	}
	*out = bd;
	return 0;
}

enum iommu_format iommu_be_domain_format(const struct iommu_be_domain *d)
{
	if (d->parent) {
		return IOMMU_FORMAT_NESTED;
	}
	return vtd_domain_format(d->d) == VTD_FORMAT_FIRST_LEVEL
		       ? IOMMU_FORMAT_FIRST_LEVEL
		       : IOMMU_FORMAT_SECOND_LEVEL;
}

const char *iommu_be_domain_no_unit(const struct iommu_be_domain *d,
				    const struct iommu_be_unit *u)
{
	const char *missing;

	if (vtd_domain_did(d->d, u->u) >= 0) {
		return NULL;
	}
	missing = iommu_be_unit_no_format(
		u, iommu_be_domain_format(d->parent ? d->parent : d));
	return missing ? missing : "the domain was made without its unit";
}

int iommu_be_domain_nested(struct iommu_be_domain *parent, iova_t table,
			   unsigned int levels, struct iommu_be_domain **out)
{
	struct iommu_be_domain *bd;

	if (parent->parent ||
	    iommu_be_domain_format(parent) != IOMMU_FORMAT_SECOND_LEVEL) {
		return -ENOTSUP;
	}
	bd = hw_zalloc(sizeof(*bd));
	if (!bd) {
		return -ENOMEM;
	}
	bd->d = parent->d;
	bd->parent = parent;
	bd->table = table;
	bd->levels = levels;
	*out = bd;
	return 0;
}

int iommu_be_domain_destroy(struct iommu_be_domain *d)
{
	int ret = d->parent ? 0 : vtd_domain_destroy(d->d);

	if (ret == 0) {
		hw_free(d);
	}
	return ret;
}

int iommu_be_map(struct iommu_be_domain *d, iova_t iova, hpa_t hpa,
		 uint64_t len, unsigned int prot)
{
	return d->parent ? -ENOTSUP
			 : vtd_domain_map(d->d, iova, hpa, len, prot);
}

int iommu_be_unmap(struct iommu_be_domain *d, const struct iommu_range *r,
		   unsigned int count)
{
	struct vtd_range ranges[IOMMU_RANGES_MAX];
	unsigned int i;

	if (d->parent) {
		return -ENOTSUP;
	}
	if (count > IOMMU_RANGES_MAX) {
		return -EINVAL;
	}
	for (i = 0; i < count; i++) {
		ranges[i] =
			(struct vtd_range){.iova = r[i].iova, .len = r[i].len};
	}
	return vtd_domain_unmap_ranges(d->d, ranges, count);
}

int iommu_be_flush(struct iommu_be_domain *d)
{
	return vtd_domain_flush(d->d);
}

struct mapping_ctx {
	iommu_mapping_fn fn;
	void *ctx;
};

static void each_mapping(void *ctx, const struct vtd_mapping *m)
{
	struct mapping_ctx *mc = ctx;
	struct iommu_mapping n = {
		.iova = m->iova,
		.hpa = m->hpa,
		.len = m->len,
		.page_size = m->page_size,
		.prot = m->prot,
	};

	mc->fn(mc->ctx, &n);
}

void iommu_be_for_each_mapping(struct iommu_be_domain *d, iommu_mapping_fn fn,
			       void *ctx)
{
	struct mapping_ctx mc = {fn, ctx};

	/* A nested domain's mappings are its user's, in its tables. */
	if (!d->parent) {
		vtd_domain_for_each_mapping(d->d, each_mapping, &mc);
	}
}

int iommu_be_attach(struct iommu_be_domain *d, struct iommu_be_unit *u,
		    const rid_t *sids, unsigned int count)
{
	return d->parent ? -ENOTSUP : vtd_attach(d->d, u->u, sids, count);
}

int iommu_be_attach_ats(struct iommu_be_domain *d, struct iommu_be_unit *u,
			rid_t sid, unsigned int qdepth)
{
	return d->parent ? -ENOTSUP
			 : vtd_attach_ats(d->d, u->u, sid, sid, qdepth);
}

int iommu_be_detach(struct iommu_be_domain *d, struct iommu_be_unit *u,
		    const rid_t *sids, unsigned int count)
{
	return d->parent ? -EINVAL : vtd_detach(d->d, u->u, sids, count);
}

int iommu_be_pasid_attach(struct iommu_be_domain *d, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid)
{
	if (pasid == VTD_RID_PASID) {
		return -ERANGE;
	}
	return d->parent ? vtd_attach_nested(d->d, u->u, sid, pasid, d->table,
					     d->levels)
			 : vtd_attach_pasid(d->d, u->u, sid, pasid);
}

int iommu_be_pasid_detach(struct iommu_be_domain *d, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid)
{
	return pasid == VTD_RID_PASID
		       ? -ERANGE
		       : vtd_detach_pasid(d->d, u->u, sid, pasid);
}

int iommu_be_pasid_switch(struct iommu_be_domain *from,
			  struct iommu_be_domain *to, struct iommu_be_unit *u,
			  rid_t sid, uint32_t pasid)
{
	if (pasid == VTD_RID_PASID) {
		return -ERANGE;
	}
	return from->parent || to->parent
		       ? -EINVAL
		       : vtd_switch_pasid(from->d, to->d, u->u, sid, pasid);
}

int iommu_be_devtlb_flush(struct iommu_be_unit *u, rid_t sid,
			  unsigned int qdepth)
{
	return vtd_devtlb_flush(u->u, sid, sid, qdepth, iova_make(0),
				VTD_DEVTLB_ALL);
}

bool iommu_be_inherited(const struct iommu_be_unit *u, rid_t sid)
{
	return vtd_inherited(u->u, sid);
}

void iommu_be_device_gone(struct iommu_be_unit *u, rid_t sid)
{
	vtd_device_gone(u->u, sid);
}

void iommu_be_device_reset(struct iommu_be_unit *u, rid_t sid)
{
	vtd_device_reset_done(u->u, sid);
}

bool iommu_be_device_quarantined(const struct iommu_be_unit *u, rid_t sid)
{
	return vtd_device_quarantined(u->u, sid);
}

void iommu_be_poll(struct iommu_be_unit *u, iommu_sid_fn quarantined, void *ctx)
{
	vtd_qi_poll(u->u);
	vtd_for_each_quarantined(u->u, quarantined, ctx);
}

struct fault_ctx {
	iommu_fault_fn fn;
	void *ctx;
};

static void each_fault(void *ctx, const struct vtd_fault *f)
{
	struct fault_ctx *fc = ctx;
	struct iommu_fault n = {
		.unit = f->unit,
		.sid = f->sid,
		.irq = f->irq,
		.index = f->index,
		.addr = f->addr,
		.reason = f->reason,
		.write = f->write,
		.text = f->text,
	};

	fc->fn(fc->ctx, &n);
}

int iommu_be_fault_poll(struct iommu_be_unit *u, iommu_fault_fn fn, void *ctx)
{
	struct fault_ctx fc = {fn, ctx};

	return vtd_fault_poll(u->u, fn ? each_fault : NULL, &fc);
}

int iommu_be_irq_alloc(struct iommu_be_unit *u, unsigned int *index)
{
	return vtd_irte_alloc(u->u, index);
}

int iommu_be_irq_set(struct iommu_be_unit *u, unsigned int index, uint32_t dest,
		     uint8_t vector, const rid_t *sids, unsigned int count)
{
	return vtd_irte_set(u->u, index, dest, vector, sids, count);
}

void iommu_be_irq_free(struct iommu_be_unit *u, unsigned int index)
{
	vtd_irte_free(u->u, index);
}

void iommu_be_irq_msi(unsigned int index, uint64_t *address, uint32_t *data)
{
	struct vtd_msi m = vtd_irte_msi(index);

	*address = m.address;
	*data = m.data;
}

/* fmt_snprintf into a line, handed on whole. */
struct line {
	char buf[VTD_BE_LINE_MAX];
	size_t len;
};

static void line_add(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1) {
		return;
	}
	va_start(ap, fmt);
	n = fmt_vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0) {
		l->len += (size_t)n;
		if (l->len >= sizeof(l->buf)) {
			l->len = sizeof(l->buf) - 1;
		}
	}
}

static void line_send(struct line *l, iommu_line_fn fn, void *ctx)
{
	fn(ctx, l->buf);
	l->len = 0;
	l->buf[0] = '\0';
}

static const char *on_off(bool b)
{
	return b ? "on" : "off";
}

void iommu_be_report_unit(struct iommu_be_unit *u, iommu_line_fn fn, void *ctx)
{
	struct vtd_unit_info info;
	struct line l = {.len = 0};
	const char *sep = "";
	unsigned int lv;

	vtd_unit_info(u->u, &info);
	line_add(
		&l,
		"unit %u base 0x%llx ver %u.%u cap 0x%llx ecap 0x%llx mode %s te %s qi %s ir %s",
		info.index, (unsigned long long)info.reg_base, info.ver_major,
		info.ver_minor, (unsigned long long)info.cap,
		(unsigned long long)info.ecap, info.mode, on_off(info.te),
		on_off(info.qi), on_off(info.ir));
	line_send(&l, fn, ctx);
	line_add(&l, "  levels ");
	for (lv = 2; lv <= 5; lv++) {
		if (info.levels_mask & (1U << lv)) {
			line_add(&l, "%s%u", sep, lv);
			sep = ",";
		}
	}
	line_add(&l, " pages 4k%s%s",
		 info.page_sizes & VTD_PAGE_2M ? ",2m" : "",
		 info.page_sizes & VTD_PAGE_1G ? ",1g" : "");
	line_add(
		&l,
		" domain-ids %u caching-mode %s coherent %s pasids %u inherited %u",
		info.domains, on_off(info.caching_mode),
		info.coherent ? "yes" : "no", info.pasids, info.inherited);
	line_send(&l, fn, ctx);
	line_add(&l, "  mode %s: %s", info.mode, info.mode_reason);
	line_send(&l, fn, ctx);
}

struct batch_ctx {
	iommu_line_fn fn;
	void *ctx;
};

static void print_batch(void *ctx, const struct vtd_qi_batch_info *b)
{
	struct batch_ctx *bc = ctx;
	struct line l = {.len = 0};

	line_add(&l, "  batch seq %u slots %u-%u descriptors %u class %s",
		 b->seq, b->first, b->wait, b->count,
		 vtd_deadline_name(b->cls));
	if (b->has_sid) {
		line_add(&l, " sid " RID_FMT, RID_ARGS(b->sid));
	}
	line_add(&l, " age %llu us state %s",
		 (unsigned long long)(b->age_ns / 1000), b->state);
	line_send(&l, bc->fn, bc->ctx);
}

void iommu_be_report_qi(struct iommu_be_unit *u, iommu_line_fn fn, void *ctx)
{
	struct batch_ctx bc = {fn, ctx};
	struct line l = {.len = 0};
	struct vtd_qi_info q;

	vtd_qi_info(u->u, &q);
	line_add(
		&l,
		"unit %u head %u tail %u oldest %u in-flight %u batches %u seq %u done %u errors 0x%x degraded %s quarantined %u",
		vtd_unit_index(u->u), q.head, q.tail, q.oldest, q.in_flight,
		q.batches, q.seq, q.done_seq, q.errors,
		q.degraded ? "yes" : "no", q.quarantined);
	line_send(&l, fn, ctx);
	vtd_qi_for_each_batch(u->u, print_batch, &bc);
}

void iommu_be_report_stats(struct iommu_be_unit *u,
			   const struct iommu_be_config *cfg, iommu_line_fn fn,
			   void *ctx)
{
	const struct vtd_stats *s = vtd_unit_stats(u->u);
	struct line l = {.len = 0};
	unsigned int c;

	line_add(
		&l,
		"unit %u descriptors %llu batches %llu doorbells %llu waits %llu timeouts %llu mmio-reads %llu mmio-writes %llu faults %llu",
		vtd_unit_index(u->u), (unsigned long long)s->descriptors,
		(unsigned long long)s->batches,
		(unsigned long long)s->doorbells, (unsigned long long)s->waits,
		(unsigned long long)s->timeouts,
		(unsigned long long)s->mmio_reads,
		(unsigned long long)s->mmio_writes,
		(unsigned long long)s->faults);
	line_send(&l, fn, ctx);
	line_add(
		&l,
		"  iqe %llu ite %llu ice %llu aborted %llu resubmitted %llu quarantines %llu",
		(unsigned long long)s->iqe, (unsigned long long)s->ite,
		(unsigned long long)s->ice, (unsigned long long)s->aborted,
		(unsigned long long)s->resubmitted,
		(unsigned long long)s->quarantines);
	line_send(&l, fn, ctx);
	for (c = 0; c < VTD_DEADLINE_COUNT; c++) {
		const struct vtd_deadline_stats *ds = &s->deadline[c];

		line_add(
			&l,
			"  deadline %s %llu us misses %llu recoveries %llu max-wait %llu us",
			vtd_deadline_name((enum vtd_deadline_class)c),
			(unsigned long long)(cfg->cfg.deadline_ns[c] / 1000),
			(unsigned long long)ds->misses,
			(unsigned long long)ds->recoveries,
			(unsigned long long)(ds->max_wait_ns / 1000));
		line_send(&l, fn, ctx);
	}
}

int iommu_be_selftest(struct iommu_be_unit *u)
{
	return vtd_qi_selftest_iqe(u->u);
}
