/*
 * The VT-d hardware model: expectations of what DMA may reach (invariants
 * 1 and 2) and DMA requests.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "drivers/hw.h"
#include "lib/log.h"

#include "tests/model/model_int.h"
#include "tests/model/model_ir.h"

/* ---- expectations (docs/design.md, invariants 1 and 2) ---- */

static const void *owner_of(unsigned int unit, uint16_t sid, uint32_t pasid)
{
	size_t i;

	for (i = 0; i < M.binding_count; i++) {
		if (M.bindings[i].unit == unit && M.bindings[i].sid == sid &&
		    M.bindings[i].pasid == pasid) {
			return M.bindings[i].owner;
		}
	}
	return NULL;
}

/* "sid 0010" or "sid 0010 PASID 5", for messages. */
static const char *requester(const struct request *rq)
{
	static char buf[40];

	if (rq->pasid == MODEL_NO_PASID) {
		snprintf(buf, sizeof(buf), "sid %04x", rq->sid);
	} else {
		snprintf(buf, sizeof(buf), "sid %04x PASID %u", rq->sid,
			 rq->pasid);
	}
	return buf;
}

/* A mapping of the owner (there may be several) allows this access. */
static void check_access(struct munit *mu, const struct request *rq,
			 uint64_t hpa)
{
	const void *owner = owner_of(mu->index, rq->sid, rq->pasid);
	unsigned int need = rq->write ? 2 : 1;
	size_t i;

	if (!owner) {
		model_violation(
			"unit %u: default deny broken: %s is attached to nothing, yet its %s of iova 0x%llx reached 0x%llx",
			mu->index, requester(rq), rq->write ? "write" : "read",
			(unsigned long long)rq->iova, (unsigned long long)hpa);
		return;
	}
	for (i = 0; i < M.expect_count; i++) {
		struct expect *e = &M.expects[i];

		if (e->owner == owner && rq->iova >= e->iova &&
		    rq->iova - e->iova < e->len &&
		    hpa == e->hpa + (rq->iova - e->iova) && (e->prot & need)) {
			return;
		}
	}
	model_violation(
		"unit %u: isolation broken: %s %s of iova 0x%llx reached 0x%llx outside its domain's mappings",
		mu->index, requester(rq), rq->write ? "write" : "read",
		(unsigned long long)rq->iova, (unsigned long long)hpa);
}

void model_expect_attach_pasid(unsigned int unit, rid_t rid, uint32_t pasid,
			       const void *owner)
{
	model_expect_detach_pasid(unit, rid, pasid);
	M.bindings = realloc(M.bindings,
			     (M.binding_count + 1) * sizeof(*M.bindings));
	M.bindings[M.binding_count++] = (struct binding){
		.unit = unit,
		.sid = rid_val(rid),
		.pasid = pasid,
		.owner = owner,
	};
}

void model_expect_detach_pasid(unsigned int unit, rid_t rid, uint32_t pasid)
{
	uint16_t sid = rid_val(rid);
	size_t i;

	for (i = 0; i < M.binding_count; i++) {
		if (M.bindings[i].unit == unit && M.bindings[i].sid == sid &&
		    M.bindings[i].pasid == pasid) {
			M.bindings[i] = M.bindings[--M.binding_count];
			return;
		}
	}
}

void model_expect_attach(unsigned int unit, rid_t rid, const void *owner)
{
	model_expect_attach_pasid(unit, rid, MODEL_NO_PASID, owner);
}

void model_expect_detach(unsigned int unit, rid_t rid)
{
	model_expect_detach_pasid(unit, rid, MODEL_NO_PASID);
}

static void expect_add(const void *owner, uint64_t iova, uint64_t hpa,
		       uint64_t len, unsigned int prot)
{
	M.expects =
		realloc(M.expects, (M.expect_count + 1) * sizeof(*M.expects));
	M.expects[M.expect_count++] = (struct expect){
		.owner = owner,
		.iova = iova,
		.hpa = hpa,
		.len = len,
		.prot = prot,
	};
}

void model_expect_map(const void *owner, uint64_t iova, uint64_t hpa,
		      uint64_t len, unsigned int prot)
{
	expect_add(owner, iova, hpa, len, prot);
}

/* Removes [iova, iova + len) from the owner's mappings, splitting ranges. */
void model_expect_unmap(const void *owner, uint64_t iova, uint64_t len)
{
	uint64_t end = iova + len;
	size_t i = 0;

	while (i < M.expect_count) {
		struct expect e = M.expects[i];
		uint64_t e_end = e.iova + e.len;

		if (e.owner != owner || e_end <= iova || e.iova >= end) {
			i++;
			continue;
		}
		M.expects[i] = M.expects[--M.expect_count];
		if (e.iova < iova)
			expect_add(owner, e.iova, e.hpa, iova - e.iova, e.prot);
		if (e_end > end)
			expect_add(owner, end, e.hpa + (end - e.iova),
				   e_end - end, e.prot);
	}
}

/* ---- DMA ---- */

static int dma(unsigned int unit, uint16_t sid, uint32_t pasid, uint64_t iova,
	       uint8_t *buf, size_t len, bool write)
{
	struct munit *mu = &M.units[unit];
	struct request rq = {.sid = sid, .pasid = pasid, .write = write};
	unsigned int reason;
	uint64_t hpa;
	size_t chunk;

	model_run();
	while (len) {
		chunk = PG - (iova & (PG - 1));
		if (chunk > len)
			chunk = len;
		rq.iova = iova;
		if (mu->gsts & G_TE) {
			reason = model_translate(mu, &rq, &hpa);
			if (reason) {
				model_record_fault(mu, &rq, reason);
				return -EFAULT;
			}
			check_access(mu, &rq, hpa);
		} else {
			hpa = iova;
		}
		if (model_page_state(hpa) != PG_RAM) {
			model_violation(
				"unit %u: %s DMA reached 0x%llx, which is not DMA RAM",
				unit, requester(&rq), (unsigned long long)hpa);
			return -EFAULT;
		}
		if (write)
			memcpy(M.cpu + hpa, buf, chunk);
		else
			memcpy(buf, M.cpu + hpa, chunk);
		iova += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int model_dma_read(unsigned int unit, rid_t rid, uint64_t iova, void *buf,
		   size_t len)
{
	uint16_t sid = rid_val(rid);

	return dma(unit, sid, MODEL_NO_PASID, iova, buf, len, false);
}

int model_dma_write(unsigned int unit, rid_t rid, uint64_t iova,
		    const void *buf, size_t len)
{
	uint16_t sid = rid_val(rid);

	return dma(unit, sid, MODEL_NO_PASID, iova, (uint8_t *)buf, len, true);
}

int model_dma_read_pasid(unsigned int unit, rid_t rid, uint32_t pasid,
			 uint64_t iova, void *buf, size_t len)
{
	uint16_t sid = rid_val(rid);

	return dma(unit, sid, pasid, iova, buf, len, false);
}

int model_dma_write_pasid(unsigned int unit, rid_t rid, uint32_t pasid,
			  uint64_t iova, const void *buf, size_t len)
{
	uint16_t sid = rid_val(rid);

	return dma(unit, sid, pasid, iova, (uint8_t *)buf, len, true);
}

/*
 * A watching device reads its address whenever the driver does anything:
 * the unit may walk at any moment, so whatever the driver exposes between
 * two stores it publishes, the device finds.
 */
static void probe(struct munit *mu)
{
	struct model_watch *log = &mu->watch.log;
	uint64_t hpa, outcome;
	unsigned int reason;

	if (!mu->watch.on || !(mu->gsts & G_TE)) {
		return;
	}
	log->probes++;
	reason = model_translate(mu, &mu->watch.rq, &hpa);
	if (reason) {
		outcome = MODEL_WATCH_FAULT | reason;
	} else {
		check_access(mu, &mu->watch.rq, hpa);
		outcome = hpa & ~(uint64_t)(PG - 1);
	}
	if (log->changes &&
	    log->outcome[(log->changes - 1) % MODEL_WATCH_LOG] == outcome) {
		return;
	}
	log->outcome[log->changes++ % MODEL_WATCH_LOG] = outcome;
}

void model_probe_all(void)
{
	unsigned int i;

	if (M.probing) {
		return;
	}
	M.probing = true;
	for (i = 0; i < M.unit_count; i++) {
		probe(&M.units[i]);
	}
	M.probing = false;
}

void model_watch_start(unsigned int unit, rid_t rid, uint32_t pasid,
		       uint64_t iova)
{
	uint16_t sid = rid_val(rid);
	struct munit *mu = &M.units[unit];

	memset(&mu->watch, 0, sizeof(mu->watch));
	mu->watch.rq =
		(struct request){.sid = sid, .pasid = pasid, .iova = iova};
	mu->watch.on = true;
	model_probe_all();
}

void model_watch_stop(unsigned int unit)
{
	M.units[unit].watch.on = false;
}

const struct model_watch *model_watch_log(unsigned int unit)
{
	return &M.units[unit].watch.log;
}
