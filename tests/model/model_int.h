#pragma once

/*
 * The model's own state and the functions its files share (model.c: set-up,
 * capabilities, violations, log; model_mem.c: memory; model_time.c: time;
 * model_translate.c: caches and translation; model_dma.c: expectations and
 * DMA; model_regs.c: registers and global command; model_qi.c: queued
 * invalidation).  Not for tests: they use model.h.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/model/model.h"

/* Simulated physical memory: tables and RAM from 4 GiB up to 16 GiB. */
#define PHYS_SIZE (UINT64_C(16) << 30)
#define RAM_BASE  (UINT64_C(4) << 30)
#define PG	  4096U
#define LINE	  64U

enum model_page_state {
	PG_UNUSED,
	PG_TABLE, /* from hw_page_alloc */
	PG_RAM,	  /* from model_ram_alloc */
	PG_FREED, /* freed by hw_page_free, in quarantine */
};

/* Registers (offsets and bits read from the spec, independently of the
 * driver's regs.h). */
enum {
	R_VER = 0x00,
	R_CAP = 0x08,
	R_ECAP = 0x10,
	R_GCMD = 0x18,
	R_GSTS = 0x1c,
	R_RTADDR = 0x20,
	R_CCMD = 0x28,
	R_FSTS = 0x34,
	R_FECTL = 0x38,
	R_FEDATA = 0x3c,
	R_FEADDR = 0x40,
	R_FEUADDR = 0x44,
	R_AFLOG = 0x58,
	R_PMEN = 0x64,
	R_PLMBASE = 0x68,
	R_PLMLIMIT = 0x6c,
	R_PHMBASE = 0x70,
	R_PHMLIMIT = 0x78,
	R_IQH = 0x80,
	R_IQT = 0x88,
	R_IQA = 0x90,
	R_ICS = 0x9c,
	R_IECTL = 0xa0,
	R_IEDATA = 0xa4,
	R_IEADDR = 0xa8,
	R_IEUADDR = 0xac,
	R_IQERCD = 0xb0,
	R_IRTA = 0xb8,
};

#define G_TE	     (1U << 31)
#define G_SRTP	     (1U << 30)
#define G_SFL	     (1U << 29)
#define G_EAFL	     (1U << 28)
#define G_WBF	     (1U << 27)
#define G_QIE	     (1U << 26)
#define G_IRE	     (1U << 25)
#define G_SIRTP	     (1U << 24)
#define G_CFI	     (1U << 23)
#define G_PERSISTENT (G_TE | G_EAFL | G_QIE | G_IRE | G_CFI)
#define G_ONESHOT    (G_SRTP | G_SFL | G_WBF | G_SIRTP)

#define FS_PFO (1U << 0)
#define FS_PPF (1U << 1)
#define FS_IQE (1U << 4)
#define FS_ICE (1U << 5)
#define FS_ITE (1U << 6)
#define FS_W1C 0x7dU /* PFO AFO APF IQE ICE ITE */

#define PMEN_EPM (1U << 31)
#define PMEN_PRS (1U << 0)

#define SL_R	  (UINT64_C(1) << 0)
#define SL_W	  (UINT64_C(1) << 1)
#define SL_PS	  (UINT64_C(1) << 7)
#define ADDR_MASK UINT64_C(0x000ffffffffff000)

/* First-level entries: the IA-32e paging format. */
#define FL_P  (UINT64_C(1) << 0)
#define FL_RW (UINT64_C(1) << 1)
#define FL_US (UINT64_C(1) << 2)
#define FL_A  (UINT64_C(1) << 5)
#define FL_D  (UINT64_C(1) << 6)
#define FL_PS (UINT64_C(1) << 7)
#define FL_XD (UINT64_C(1) << 63)

/* ECAP bits the model reads (11.4.3). */
#define EC_DT	 2
#define EC_PT	 6
#define EC_NEST	 26
#define EC_PRS	 29
#define EC_PASID 40
#define EC_SMTS	 43
#define EC_SLTS	 46
#define EC_FLTS	 47
#define EC_SMPWC 48
#define EC_RPS	 49

/* PASID-table entry translation types. */
enum { PGTT_FL = 1, PGTT_SL = 2, PGTT_NESTED = 3, PGTT_PT = 4 };

#define CTX_CACHE   64U
#define PASID_CACHE 64U
#define IOTLB_SIZE  512U
/* Table pages one walk reads: a nested walk reads second-level tables
 * for each first-level table and for its result. */
#define MAX_PATH 40U

/* Fault reasons the model produces: legacy, then model_scalable mode (7.1.3).
 */
enum {
	FR_ROOT_NP = 1,
	FR_CTX_NP = 2,
	FR_CTX_INVALID = 3,
	FR_AW = 4,
	FR_WRITE = 5,
	FR_READ = 6,
	FR_PTE_READ = 7,
	FR_ROOT_RSVD = 0xa,
	FR_CTX_RSVD = 0xb,
	FR_PTE_RSVD = 0xc,
	SM_TTM0_PASID = 0x31,
	SM_ROOT_READ = 0x38,
	SM_ROOT_NP = 0x39,
	SM_ROOT_RSVD = 0x3a,
	SM_CTX_READ = 0x40,
	SM_CTX_NP = 0x41,
	SM_CTX_RSVD = 0x42,
	SM_PASIDE = 0x45,
	SM_PASID_MAX = 0x46,
	SM_RID_PASID = 0x48,
	SM_PDE_READ = 0x50,
	SM_PDE_NP = 0x51,
	SM_PDE_RSVD = 0x52,
	SM_PE_READ = 0x58,
	SM_PE_NP = 0x59,
	SM_PE_RSVD = 0x5a,
	SM_PE_INVALID = 0x5b,
	SM_FL_READ = 0x70,
	SM_FL_NP = 0x71,
	SM_FL_RSVD = 0x72,
	SM_NESTED_FL_TOP = 0x75,
	SM_NESTED_FL = 0x76,
	SM_SL_READ = 0x78,
	SM_SL_RSVD = 0x7a,
	SM_NOT_CANONICAL = 0x80,
	SM_US = 0x81,
	SM_AW = 0x83,
	SM_WRITE = 0x85,
	SM_READ = 0x86,
	SM_FL_AD = 0x90,
};

/* A walk result meaning "not present": the caller picks the reason. */
#define WALK_NP 0xffU

struct ctx_cache_entry {
	bool valid;
	bool present;
	uint16_t sid;
	uint16_t did; /* legacy mode; model_scalable entries have none */
	uint64_t lo;
	uint64_t hi;
};

/* Scalable mode: a cached PASID-table entry, tagged as 6.2.1 says. */
struct pasid_cache_entry {
	bool valid;
	bool present;
	uint16_t sid;
	uint32_t pasid;
	uint16_t did;
	uint64_t val[3];
};

struct tlb_entry {
	bool valid;
	bool negative; /* CM: a cached not-present leaf */
	uint16_t did;
	uint32_t pasid;	   /* model_scalable mode; 0 in legacy mode */
	unsigned int pgtt; /* what walked it; legacy: second-level */
	uint64_t iova;
	uint64_t size;
	uint64_t hpa;
	uint64_t rights; /* SL_R | SL_W */
	unsigned int path_len;
	uint64_t path[MAX_PATH];
};

struct shadow {
	uint64_t lo;
	uint64_t hi;
	bool seen;
};

/* What the unit last saw of a PASID-table entry, by its address. */
struct pe_shadow {
	uint64_t pa;
	uint64_t val[8];
};

/* A request as the unit receives it. */
struct request {
	uint16_t sid;
	uint32_t pasid; /* MODEL_NO_PASID: without */
	uint64_t iova;
	bool write;
};

struct frcd {
	uint64_t lo;
	uint64_t hi;
};

#define FETCH_MAX     64U
#define WRITES_MAX    1024U
#define EXEC_LOG      4096U
#define MAX_ENDPOINTS 64U

struct mdesc {
	uint64_t lo;
	uint64_t hi;
};

/* A status write on its way to memory. */
struct status_write {
	uint64_t pa;
	uint32_t val;
	uint64_t due;
};

struct executed {
	uint64_t lo;
	uint64_t hi;
	uint64_t when;
};

/* An ATS endpoint: answers device-TLB invalidations after latency_ns. */
struct endpoint {
	unsigned int unit;
	uint16_t sid;
	uint64_t latency_ns;
	bool removed;
	bool silent; /* config reads all-ones for now */
	struct model_endpoint_stats stats;
};

struct munit {
	unsigned int index;
	uint64_t base;
	uint64_t size;
	struct model_unit_config cfg;
	uint32_t gsts;
	struct {
		bool active;
		uint64_t due;
		uint32_t bit;
		bool on;
	} op;
	uint64_t rtaddr;
	uint64_t root_active;
	uint32_t fsts; /* the RW1C bits */
	uint32_t fectl, fedata, feaddr, feuaddr, pmen, plmbase, plmlimit;
	uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
	uint64_t phmbase, phmlimit, irta, aflog;
	uint64_t iqa, iqh, iqt, iqercd; /* iqh/iqt as descriptor indexes */
	/* Descriptors fetched and not finished: [exec, iqh), as fetched. */
	uint64_t exec;
	struct mdesc fetched[FETCH_MAX];
	unsigned int fetched_count;
	uint64_t ready;	     /* the engine may start work from then */
	uint64_t exec_due;   /* the one at exec finishes; 0: not begun */
	bool exec_times_out; /* ...by a device-TLB time-out (ITE) */
	bool iqe_wait_tail;  /* after IQE, an IQT write restarts */
	int iqe_countdown;   /* -1: no injection */
	unsigned int iqe_info;
	int ice_countdown;
	uint16_t ice_sid;
	int delay_countdown;
	uint64_t delay_ns;
	struct status_write writes[WRITES_MAX]; /* landing in this order */
	unsigned int write_count;
	struct executed executed[EXEC_LOG];
	uint64_t executed_count;
	bool qi_stalled;
	struct frcd *frcd;
	unsigned int nfr;
	unsigned int frcd_next;
	struct ctx_cache_entry ctx[CTX_CACHE];
	unsigned int ctx_next;
	struct pasid_cache_entry pc[PASID_CACHE];
	unsigned int pc_next;
	struct tlb_entry tlb[IOTLB_SIZE];
	unsigned int tlb_next;
	struct shadow *shadow;	     /* per sid, context entries seen */
	struct pe_shadow *pe_shadow; /* PASID entries seen */
	size_t pe_shadow_count;
	struct {
		bool on;
		struct request rq;
		struct model_watch log;
	} watch;
	struct model_unit_stats stats;
};

struct binding {
	unsigned int unit;
	uint16_t sid;
	uint32_t pasid;
	const void *owner;
};

struct expect {
	const void *owner;
	uint64_t iova;
	uint64_t hpa;
	uint64_t len;
	unsigned int prot;
};

struct mmio_range {
	uint64_t pa;
	uint64_t len;
};

#define QUARANTINE	4096U
#define LOG_LINES	256U
#define VIOLATION_LINES 64U
#define MAX_RANGES	32U

struct model_state {
	uint8_t *cpu;	/* what the CPU sees */
	uint8_t *dev;	/* what a non-model_coherent unit's walks see */
	uint8_t *state; /* enum model_page_state per page */
	uint64_t next_pa;
	uint64_t table_pages;
	/* Freed pages rest here before reuse, so late accesses are caught. */
	uint64_t quarantine[QUARANTINE];
	uint64_t quarantine_count;
	uint64_t *recycled;
	size_t recycled_count;
	uint64_t now;
	uint64_t relax_ns;
	struct munit units[MODEL_MAX_UNITS];
	unsigned int unit_count;
	struct mmio_range ranges[MAX_RANGES];
	unsigned int range_count;
	struct binding *bindings;
	size_t binding_count;
	struct expect *expects;
	size_t expect_count;
	struct endpoint endpoints[MAX_ENDPOINTS];
	unsigned int endpoint_count;
	unsigned int violations;
	char violation_log[VIOLATION_LINES][256];
	char log[LOG_LINES][256];
	unsigned int log_count;
	bool verbose;
	bool probing;	  /* a watching device's probe is running */
	bool alloc_fails; /* hw_page_alloc() runs out of memory */
	bool storing;	  /* probes between two table stores */
};

extern struct model_state M;

/* model.c */
uint64_t model_fld(uint64_t v, unsigned int hi, unsigned int lo);
__attribute__((format(printf, 1, 2))) void model_violation(const char *fmt,
							   ...);
unsigned int model_cap_sagaw(const struct munit *mu);
unsigned int model_cap_mgaw(const struct munit *mu);
uint64_t model_cap_fro(const struct munit *mu);
unsigned int model_cap_sllps(const struct munit *mu);
bool model_cap_bit(const struct munit *mu, unsigned int bit);
bool model_cap_cm(const struct munit *mu);
bool model_coherent(const struct munit *mu);
bool model_ecap_bit(const struct munit *mu, unsigned int bit);
bool model_scalable(const struct munit *mu);
unsigned int model_desc_shift(const struct munit *mu);
uint64_t model_ecap_iro(const struct munit *mu);

/* model_mem.c */
uint8_t model_page_state(uint64_t pa);
bool model_readable(uint64_t pa);
uint64_t model_reserve(uint64_t len, uint64_t align, uint8_t state);
bool model_walk_read_snoop(struct munit *mu, uint64_t pa, uint64_t *val,
			   bool snoop);
bool model_walk_read(struct munit *mu, uint64_t pa, uint64_t *val);
void model_unit_write32(struct munit *mu, uint64_t pa, uint32_t val);

/* model_time.c */
void model_run(void);

/* model_translate.c */
void model_ctx_scan(struct munit *mu);
void model_pe_scan(struct munit *mu);
unsigned int model_translate(struct munit *mu, const struct request *rq,
			     uint64_t *hpa);
void model_record_fault(struct munit *mu, const struct request *rq,
			unsigned int reason);

/* model_dma.c */
void model_probe_all(void);

/* model_regs.c */
void model_gcmd_apply(struct munit *mu);

/* model_qi.c */
void model_qi_run(struct munit *mu);
void model_land_writes(struct munit *mu);
void model_wake(struct munit *mu);
void model_qi_fetch(struct munit *mu);
void model_doorbell(struct munit *mu, uint64_t iqt);
