#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/rid.h"

/*
 * A register-level model of VT-d remapping units for host tests.  It
 * implements the whole drivers/hw.h seam (and log_printf), so the driver's
 * unchanged .c files run against it:
 * - simulated physical memory: pages from hw_page_alloc() and RAM for DMA
 *   targets; a freed page is not handed out again before 4096 more pages
 *   were freed, so late accesses to it are caught; units without page-walk
 *   coherency (ECAP.C = 0) read tables from a device view that only
 *   hw_cache_flush() updates;
 * - a virtual clock: hw_now_ns() is virtual time, hw_relax() advances it;
 * - per unit: register file with width checks, GCMD/GSTS handshakes with
 *   latency, root/context/second-level walks with permission and
 *   reserved-bit checks, a context cache and an IOTLB (with the table pages
 *   each walk used) that serve stale entries until correctly invalidated,
 *   fault records (NFR, FRI wrap-around, overflow, PASID);
 * - scalable mode (RTADDR.TTM = 01): root entries with two context tables,
 *   256-bit context entries, PASID directories and tables, PASID entries
 *   translating first-level (the IA-32e format, with its present, R/W,
 *   U/S and A/D bits), second-level, nested or pass-through, requests with
 *   and without PASID (RID_PASID), a PASID cache and IOTLB entries tagged
 *   by domain and PASID that stay stale until the right invalidation
 *   (context, PASID-cache, IOTLB or PASID-based IOTLB), scalable-mode
 *   fault reasons, walks snooped only with ECAP.SMPWC and PWSNP;
 * - queued invalidation: descriptors checked when fetched (IQE with its
 *   IQEI), fetch-ahead, per-descriptor latency, in-order execution, status
 *   writes that may land late (in order), device-TLB invalidations
 *   answered by ATS endpoints late, never or not at all once removed,
 *   ITE after the hardware's own time-out (aborting fetched waits, and
 *   optionally fetching again from the timed-out descriptor), injected
 *   IQE and ICE; 256-bit descriptors (IQA.DW), required in scalable mode;
 * - checks of the design's invariants, recorded as violations: default
 *   deny and isolation on every DMA (against the mappings the test says it
 *   expects), no table page freed while a unit can still reach it, no
 *   hardware read of freed or unflushed table memory, no in-place change of
 *   a present context or PASID entry (a present entry seen with another
 *   content without having been seen not present in between, at every
 *   store through hw_table_write(), a walk, a cache invalidation or a
 *   watching device's probe, which also runs at every store), register protocol
 *   rules (access widths, one
 *   GCMD command per write, no command while one is in progress), and for
 *   the queue: the tail never moves over unfinished descriptors, no wait
 *   targets a status word whose previous write is still on its way.
 *
 * The model deliberately does not include the driver's regs.h: it is a
 * second reading of the spec, so a wrong field in one shows up against the
 * other.
 */

#define MODEL_MAX_UNITS 16U

struct model_unit_config {
	uint32_t ver;
	uint64_t cap;
	uint64_t ecap;
	uint64_t gcmd_latency_ns; /* GSTS follows GCMD after this */
	uint64_t qi_latency_ns;	  /* per invalidation descriptor */
	uint32_t gsts_stuck;	  /* GSTS bits that never follow */
	unsigned int fetch_ahead; /* fetched beyond the one running */
	uint64_t ite_timeout_ns;  /* no ATS completion this long: ITE */
	bool ite_refetch;	  /* after ITE, fetch again from there */
	bool ite_no_sid;	  /* IQERCD.ITESID reads 0 (older units) */
	uint64_t status_delay_ns; /* status writes land this late */
};

/*
 * QEMU 7.2's intel-iommu defaults, with 1 us handshakes and descriptors,
 * no fetch-ahead and a 60 s device-TLB time-out.
 */
void model_unit_config_default(struct model_unit_config *cfg);

/* A fresh machine: empty memory, virtual time 1 s, no units. */
void model_init(void);
/* Frees the machine; violations are left for the caller to have checked. */
void model_fini(void);

/* A unit whose registers sit at base; returns its index. */
unsigned int model_add_unit(uint64_t base, const struct model_unit_config *cfg);
unsigned int model_unit_count(void);

/* What firmware may leave behind at hand-off. */
struct model_firmware_state {
	uint64_t root_pa; /* latched root table; TE needs one */
	bool te;
	bool ir;
	uint64_t iqa;  /* non-zero: QI on with this queue (idle) */
	bool pmr;      /* protected memory enabled */
	uint32_t fsts; /* stale error bits (IQE, ITE, ...) */
};

void model_set_firmware_state(unsigned int unit,
			      const struct model_firmware_state *fw);

/* While fail is set, hw_page_alloc() finds no memory. */
void model_page_alloc_fail(bool fail);

/* RAM for DMA buffers: len bytes at an address aligned to align. */
uint64_t model_ram_alloc(uint64_t len, uint64_t align);

/* Simulated DMA by requester sid through unit; 0 or -EFAULT (faulted). */
int model_dma_read(unsigned int unit, rid_t sid, uint64_t iova, void *buf,
		   size_t len);
int model_dma_write(unsigned int unit, rid_t sid, uint64_t iova,
		    const void *buf, size_t len);

/* The same as requests with a PASID (MODEL_NO_PASID: without). */
#define MODEL_NO_PASID UINT32_MAX

int model_dma_read_pasid(unsigned int unit, rid_t sid, uint32_t pasid,
			 uint64_t iova, void *buf, size_t len);
int model_dma_write_pasid(unsigned int unit, rid_t sid, uint32_t pasid,
			  uint64_t iova, const void *buf, size_t len);

/*
 * A device that keeps reading iova (with pasid) all the time: the model
 * translates it at every step the driver takes (each register access,
 * cache flush and poll), through the caches, checking every result as a
 * DMA, without recording faults.  The log keeps each change of outcome:
 * the page reached, or MODEL_WATCH_FAULT | the fault reason.
 */
#define MODEL_WATCH_LOG	  32U
#define MODEL_WATCH_FAULT (UINT64_C(1) << 63)

struct model_watch {
	uint64_t probes;
	unsigned int changes; /* outcomes logged (may exceed the log) */
	uint64_t outcome[MODEL_WATCH_LOG];
};

void model_watch_start(unsigned int unit, rid_t sid, uint32_t pasid,
		       uint64_t iova);
void model_watch_stop(unsigned int unit);
const struct model_watch *model_watch_log(unsigned int unit);

/*
 * What the test expects the hardware to allow.  Every successful
 * translated DMA must be covered: the sid bound to an owner, the IOVA in
 * one of the owner's mappings, to the right address, with the right.
 */
void model_expect_attach(unsigned int unit, rid_t sid, const void *owner);
void model_expect_detach(unsigned int unit, rid_t sid);
/* Requests with a PASID are bound per (sid, PASID). */
void model_expect_attach_pasid(unsigned int unit, rid_t sid, uint32_t pasid,
			       const void *owner);
void model_expect_detach_pasid(unsigned int unit, rid_t sid, uint32_t pasid);
void model_expect_map(const void *owner, uint64_t iova, uint64_t hpa,
		      uint64_t len, unsigned int prot);
void model_expect_unmap(const void *owner, uint64_t iova, uint64_t len);

unsigned int model_violations(void);
bool model_violation_seen(const char *substr);
void model_clear_violations(void);

/*
 * ATS endpoints: a device-TLB invalidation to sid on unit completes after
 * ats_latency_ns (MODEL_ATS_NEVER: never).  Adding one again revives it
 * (after a reset).  A removed endpoint answers no new invalidation and its
 * configuration space reads all-ones; one already answered still lands.
 * Invalidations to a requester without an endpoint never complete either.
 */
#define MODEL_ATS_NEVER UINT64_MAX

struct model_endpoint_stats {
	uint64_t invalidations; /* device-TLB invalidations received */
	uint64_t after_removal; /* ...sent to it after its removal */
};

void model_add_endpoint(unsigned int unit, rid_t sid, uint64_t ats_latency_ns);
void model_remove_endpoint(unsigned int unit, rid_t sid);
/* Its config space reads all-ones for a while (link retrain); nothing else
 * changes. */
void model_silence_endpoint(unsigned int unit, rid_t sid, bool silent);
const struct model_endpoint_stats *model_endpoint_stats(unsigned int unit,
							rid_t sid);

/*
 * Injection, counted from now: IQE with IQEI iqei when fetching the
 * descriptor after after_descs more; ICE naming sid when the one after
 * after_descs more runs; the status write of the wait after after_waits
 * more lands delay_ns late (and every later one behind it).
 */
void model_inject_iqe(unsigned int unit, unsigned int after_descs,
		      unsigned int iqei);
void model_inject_ice(unsigned int unit, unsigned int after_descs, rid_t sid);
void model_delay_status(unsigned int unit, unsigned int after_waits,
			uint64_t delay_ns);
void model_qi_stall(unsigned int unit, bool stall);
/* Stuck GSTS bits follow after all: the pending command completes now. */
void model_unstick(unsigned int unit);

/* Time.  hw_relax() advances it by the relax step (1 us by default). */
uint64_t model_now(void);
void model_advance(uint64_t ns);
void model_set_relax(uint64_t ns);

/* What the hardware did, for assertions and the bench. */
struct model_unit_stats {
	uint64_t descs;
	uint64_t waits;
	uint64_t cc_global;
	uint64_t cc_domain;
	uint64_t cc_device;
	uint64_t iotlb_global;
	uint64_t iotlb_domain;
	uint64_t iotlb_page;
	uint64_t iotlb_hits;
	uint64_t iotlb_misses;
	uint64_t faults;
	uint64_t faults_lost;
	uint64_t wbf;	    /* write-buffer flushes */
	uint64_t devtlb;    /* device-TLB invalidations sent */
	uint64_t pc_global; /* PASID-cache invalidations */
	uint64_t pc_domain;
	uint64_t pc_pasid;
	uint64_t piotlb_pasid; /* PASID-based IOTLB invalidations */
	uint64_t piotlb_page;
	uint64_t pasid_cache_hits;
	uint64_t ad_updates; /* first-level A/D bits the unit had to set */
	uint64_t iqe;
	uint64_t ite;
	uint64_t ice;
};

/* How often a descriptor equal to lo:hi ran at or after since_ns. */
unsigned int model_executed(unsigned int unit, uint64_t lo, uint64_t hi,
			    uint64_t since_ns);

const struct model_unit_stats *model_unit_stats(unsigned int unit);
void model_reset_stats(unsigned int unit);

/* Table pages handed out and not yet freed. */
uint64_t model_table_pages(void);

/* Log lines (the driver's) containing substr since the last clear. */
unsigned int model_log_count(const char *substr);
void model_log_clear(void);
