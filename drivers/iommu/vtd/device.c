/* Section numbers: Intel VT-d specification, revision 4.1 (March 2023). */
/*
 * Devices behind a unit, by requester id: which are quarantined, which are
 * known to be gone, and how many bad device-TLB completions each sent.
 *
 * A device is quarantined when a device-TLB invalidation to it missed its
 * deadline or timed out in the hardware (ITE), or after repeated
 * invalidation completion errors (ICE): its translation cache can no
 * longer be trusted to drop what it holds.  It is not attached again and
 * gets no device-TLB invalidation until the caller reports it was reset.
 * A gone device gets no device-TLB invalidation either: one that cannot
 * complete would stall the in-order queue until the hardware's own
 * time-out, up to minutes (PCIe Invalidation Completion Timeout).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/iommu/vtd/internal.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/rid.h"
#include "lib/string.h"

#define SID_COUNT 65536U
/* Requesters whose bad completions are counted at once. */
#define ICE_SLOTS 16U
/*
 * Invalidation completion errors from one device before it is
 * quarantined: one can be a stray completion after a reset; repeated ones
 * mean its ATS state is broken (docs/scenarios.md, completion-error-storm).
 */
#define ICE_QUARANTINE 3U

struct ice_count {
	rid_t sid;
	uint16_t count; /* 0: slot unused */
};

struct vtd_devices {
	uint64_t quarantined[BITMAP_WORDS(SID_COUNT)];
	uint64_t gone[BITMAP_WORDS(SID_COUNT)];
	unsigned int quarantined_count;
	struct ice_count ice[ICE_SLOTS];
};

int vtd_devices_init(struct vtd_unit *u)
{
	u->devices = hw_zalloc(sizeof(*u->devices));
	return u->devices ? 0 : -ENOMEM;
}

void vtd_devices_fini(struct vtd_unit *u)
{
	hw_free(u->devices);
	u->devices = NULL;
}

void vtd_unit_set_presence(struct vtd_unit *u, vtd_present_fn fn, void *ctx)
{
	u->present = fn;
	u->present_ctx = ctx;
}

void vtd_device_quarantine(struct vtd_unit *u, rid_t sid, const char *why)
{
	struct vtd_devices *dev = u->devices;

	if (bitmap_test(dev->quarantined, rid_val(sid))) {
		return;
	}
	bitmap_set(dev->quarantined, rid_val(sid));
	dev->quarantined_count++;
	u->stats.quarantines++;
	vtd_err(u,
		"device " RID_FMT
		" quarantined (%s); it cannot be attached again before a reset",
		RID_ARGS(sid), why);
}

bool vtd_device_quarantined(const struct vtd_unit *u, rid_t sid)
{
	return bitmap_test(u->devices->quarantined, rid_val(sid));
}

unsigned int vtd_quarantine_count(const struct vtd_unit *u)
{
	return u->devices->quarantined_count;
}

void vtd_for_each_quarantined(struct vtd_unit *u, vtd_sid_fn fn, void *ctx)
{
	unsigned int sid;

	for (sid = 0; sid < SID_COUNT; sid++) {
		if (bitmap_test(u->devices->quarantined, (uint16_t)sid)) {
			fn(ctx, rid_from((uint16_t)sid));
		}
	}
}

void vtd_device_gone(struct vtd_unit *u, rid_t sid)
{
	bitmap_set(u->devices->gone, rid_val(sid));
}

bool vtd_device_known_gone(const struct vtd_unit *u, rid_t sid)
{
	return bitmap_test(u->devices->gone, rid_val(sid));
}

static struct ice_count *ice_slot(struct vtd_devices *dev, rid_t sid)
{
	struct ice_count *c, *victim = &dev->ice[0];
	unsigned int i;

	for (i = 0; i < ICE_SLOTS; i++) {
		c = &dev->ice[i];
		if (c->count && rid_eq(c->sid, sid)) {
			return c;
		}
		if (c->count < victim->count) {
			victim = c;
		}
	}
	/* Forgetting the least counted only delays a quarantine. */
	victim->sid = sid;
	victim->count = 0;
	return victim;
}

void vtd_device_completion_error(struct vtd_unit *u, rid_t sid)
{
	struct ice_count *c = ice_slot(u->devices, sid);

	c->count++;
	vtd_warn(u,
		 "invalidation completion error (ICE) from " RID_FMT
		 " (%u so far)",
		 RID_ARGS(sid), c->count);
	if (c->count >= ICE_QUARANTINE) {
		vtd_device_quarantine(
			u, sid, "repeated invalidation completion errors");
	}
}

void vtd_device_reset_done(struct vtd_unit *u, rid_t sid)
{
	struct vtd_devices *dev = u->devices;
	unsigned int i;

	if (bitmap_test(dev->quarantined, rid_val(sid))) {
		bitmap_clear(dev->quarantined, rid_val(sid));
		dev->quarantined_count--;
		vtd_info(u, "device " RID_FMT " reset; out of quarantine",
			 RID_ARGS(sid));
	}
	bitmap_clear(dev->gone, rid_val(sid));
	for (i = 0; i < ICE_SLOTS; i++) {
		if (rid_eq(dev->ice[i].sid, sid)) {
			dev->ice[i].count = 0;
		}
	}
}

/* May a device-TLB invalidation be sent to sid: not lost, and answering? */
bool vtd_devtlb_wanted(struct vtd_unit *u, rid_t sid)
{
	if (bitmap_test(u->devices->quarantined, rid_val(sid)) ||
	    vtd_device_known_gone(u, sid)) {
		return false;
	}
	return !u->present || u->present(u->present_ctx, u->segment, sid);
}

/*
 * Whether a device-TLB invalidation to sid may be sent now, or why not:
 * -EIO quarantined, -ENODEV gone or not answering.
 */
int vtd_devtlb_allowed(struct vtd_unit *u, rid_t sid)
{
	if (!vtd_ecap_dt(u->ecap)) {
		return -ENOTSUP;
	}
	if (!vtd_unit_live(u)) {
		return -EINVAL;
	}
	if (vtd_device_quarantined(u, sid)) {
		return -EIO;
	}
	if (!vtd_devtlb_wanted(u, sid)) {
		return -ENODEV;
	}
	return 0;
}

int vtd_devtlb_flush(struct vtd_unit *u, rid_t sid, rid_t pfsid,
		     unsigned int qdepth, iova_t addr, unsigned int order)
{
	struct vtd_qi_desc d;
	int err = vtd_devtlb_allowed(u, sid);

	if (err) {
		return err;
	}
	d = vtd_desc_devtlb(u, sid, pfsid, qdepth, addr, order);
	return vtd_qi_submit(u, &d, 1, NULL);
}
