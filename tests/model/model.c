/*
 * The VT-d hardware model behind the hw seam; see model.h for what it
 * simulates and checks.  Single-threaded and deterministic: hardware work
 * (GCMD handshakes, descriptor processing) happens when virtual time
 * reaches it, checked at every seam call.
 */
#include "tests/model/model.h"

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

#include "tests/model/model_ir.h"

/* Simulated physical memory: tables and RAM from 4 GiB up to 16 GiB. */
#define PHYS_SIZE (UINT64_C(16) << 30)
#define RAM_BASE  (UINT64_C(4) << 30)
#define PG	  4096U
#define LINE	  64U

enum page_state {
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

/* Fault reasons the model produces: legacy, then scalable mode (7.1.3). */
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
	uint16_t did; /* legacy mode; scalable entries have none */
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
	uint32_t pasid;	   /* scalable mode; 0 in legacy mode */
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

static struct {
	uint8_t *cpu;	/* what the CPU sees */
	uint8_t *dev;	/* what a non-coherent unit's walks see */
	uint8_t *state; /* enum page_state per page */
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
} M;

static void probe_all(void);

static uint64_t fld(uint64_t v, unsigned int hi, unsigned int lo)
{
	uint64_t mask = hi - lo == 63 ? ~UINT64_C(0)
				      : (UINT64_C(1) << (hi - lo + 1)) - 1;

	return (v >> lo) & mask;
}

static __attribute__((format(printf, 1, 2))) void violation(const char *fmt,
							    ...)
{
	char *line = M.violation_log[M.violations % VIOLATION_LINES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(M.violation_log[0]), fmt, ap);
	va_end(ap);
	M.violations++;
	fprintf(stderr, "model: violation: %s\n", line);
}

unsigned int model_violations(void)
{
	return M.violations;
}

bool model_violation_seen(const char *substr)
{
	unsigned int i, n = M.violations < VIOLATION_LINES ? M.violations
							   : VIOLATION_LINES;

	for (i = 0; i < n; i++) {
		if (strstr(M.violation_log[i], substr))
			return true;
	}
	return false;
}

void model_clear_violations(void)
{
	M.violations = 0;
}

void model_violation_str(const char *msg)
{
	violation("%s", msg);
}

/* ---- capabilities ---- */

static unsigned int cap_sagaw(const struct munit *mu)
{
	return (unsigned int)fld(mu->cfg.cap, 12, 8);
}

static unsigned int cap_mgaw(const struct munit *mu)
{
	return (unsigned int)fld(mu->cfg.cap, 21, 16) + 1;
}

static uint64_t cap_fro(const struct munit *mu)
{
	return fld(mu->cfg.cap, 33, 24) * 16;
}

static unsigned int cap_sllps(const struct munit *mu)
{
	return (unsigned int)fld(mu->cfg.cap, 37, 34);
}

static bool cap_bit(const struct munit *mu, unsigned int bit)
{
	return mu->cfg.cap & (UINT64_C(1) << bit);
}

static bool cap_cm(const struct munit *mu)
{
	return cap_bit(mu, 7);
}

static bool coherent(const struct munit *mu)
{
	return mu->cfg.ecap & 1;
}

static bool ecap_bit(const struct munit *mu, unsigned int bit)
{
	return mu->cfg.ecap & (UINT64_C(1) << bit);
}

/* The latched root table is in scalable mode (TTM = 01). */
static bool scalable(const struct munit *mu)
{
	return fld(mu->root_active, 11, 10) == 1;
}

/* 256-bit descriptors: IQA.DW. */
static unsigned int desc_shift(const struct munit *mu)
{
	return (unsigned int)fld(mu->iqa, 11, 11);
}

static uint64_t ecap_iro(const struct munit *mu)
{
	return fld(mu->cfg.ecap, 17, 8) * 16;
}

/* ---- memory ---- */

static uint8_t page_state(uint64_t pa)
{
	if (pa >= PHYS_SIZE)
		return PG_UNUSED;
	return M.state[pa / PG];
}

static bool readable(uint64_t pa)
{
	uint8_t s = page_state(pa);

	return s == PG_TABLE || s == PG_RAM;
}

void *hw_phys_to_virt(uint64_t pa)
{
	return readable(pa) ? M.cpu + pa : NULL;
}

uint64_t hw_virt_to_phys(const void *va)
{
	return (uint64_t)((const uint8_t *)va - M.cpu);
}

static uint64_t reserve(uint64_t len, uint64_t align, uint8_t state)
{
	uint64_t pa = (M.next_pa + align - 1) & ~(align - 1);
	uint64_t pages = (len + PG - 1) / PG, i;

	if (pa + pages * PG > PHYS_SIZE)
		return 0;
	for (i = 0; i < pages; i++)
		M.state[pa / PG + i] = state;
	M.next_pa = pa + pages * PG;
	return pa;
}

/*
 * A fresh page is zero for the CPU, but a non-coherent walker would see
 * whatever memory held before the zeroes leave the cache: poison.
 */
uint64_t hw_page_alloc(void)
{
	uint64_t pa;

	if (M.alloc_fails) {
		return 0;
	}
	if (M.recycled_count) {
		pa = M.recycled[--M.recycled_count];
		M.state[pa / PG] = PG_TABLE;
		memset(M.cpu + pa, 0, PG);
	} else {
		pa = reserve(PG, PG, PG_TABLE);
		if (!pa)
			return 0;
	}
	memset(M.dev + pa, 0xa5, PG);
	M.table_pages++;
	return pa;
}

void model_page_alloc_fail(bool fail)
{
	M.alloc_fails = fail;
}

uint64_t model_ram_alloc(uint64_t len, uint64_t align)
{
	return reserve(len, align < PG ? PG : align, PG_RAM);
}

uint64_t model_table_pages(void)
{
	return M.table_pages;
}

static bool path_uses(const struct tlb_entry *e, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < e->path_len; i++) {
		if ((e->path[i] & ~(uint64_t)(PG - 1)) == page)
			return true;
	}
	return false;
}

/*
 * docs/design.md, invariant 2: a page must not be freed while a unit can
 * still reach it through what it has latched or cached.  With TE off nothing is
 * used, and software must invalidate globally before turning it on again, so
 * the cached copies are simply dropped.
 */
static void check_free(struct munit *mu, uint64_t pa)
{
	bool te = mu->gsts & G_TE;
	unsigned int i;

	if (te && (mu->root_active & ADDR_MASK) == pa)
		violation("unit %u: root table 0x%llx freed while in use",
			  mu->index, (unsigned long long)pa);
	if ((mu->gsts & G_QIE) && (mu->iqa & ADDR_MASK) == pa)
		violation(
			"unit %u: invalidation queue 0x%llx freed while enabled",
			mu->index, (unsigned long long)pa);
	for (i = 0; i < CTX_CACHE; i++) {
		struct ctx_cache_entry *c = &mu->ctx[i];

		if (!c->valid || !c->present || (c->lo & ADDR_MASK) != pa)
			continue;
		if (te)
			violation(
				"unit %u: page 0x%llx freed while a cached context entry (sid %04x) points to it",
				mu->index, (unsigned long long)pa, c->sid);
		c->valid = false;
	}
	for (i = 0; i < PASID_CACHE; i++) {
		struct pasid_cache_entry *c = &mu->pc[i];
		unsigned int pgtt = (unsigned int)fld(c->val[0], 8, 6);
		bool uses = (c->val[0] & ADDR_MASK) == pa ||
			    (pgtt == PGTT_FL && (c->val[2] & ADDR_MASK) == pa);

		if (!c->valid || !c->present || !uses) {
			continue;
		}
		if (te) {
			violation(
				"unit %u: table page 0x%llx freed while a cached PASID entry (sid %04x PASID %u) points to it",
				mu->index, (unsigned long long)pa, c->sid,
				c->pasid);
		}
		c->valid = false;
	}
	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];

		if (!t->valid || !path_uses(t, pa))
			continue;
		if (te)
			violation(
				"unit %u: table page 0x%llx freed while the IOTLB still caches a walk through it (did %u iova 0x%llx)",
				mu->index, (unsigned long long)pa, t->did,
				(unsigned long long)t->iova);
		t->valid = false;
	}
	/* A PASID table page going away: its entries are forgotten. */
	for (i = 0; i < mu->pe_shadow_count;) {
		if ((mu->pe_shadow[i].pa & ~(uint64_t)(PG - 1)) == pa) {
			mu->pe_shadow[i] = mu->pe_shadow[--mu->pe_shadow_count];
		} else {
			i++;
		}
	}
}

void hw_page_free(uint64_t pa)
{
	uint64_t *slot;
	unsigned int i;

	if ((pa & (PG - 1)) || page_state(pa) != PG_TABLE) {
		violation("hw_page_free(0x%llx): not an allocated table page",
			  (unsigned long long)pa);
		return;
	}
	for (i = 0; i < M.unit_count; i++)
		check_free(&M.units[i], pa);
	M.state[pa / PG] = PG_FREED;
	M.table_pages--;
	/* A ring: once full, its oldest page becomes allocatable again. */
	slot = &M.quarantine[M.quarantine_count++ % QUARANTINE];
	if (M.quarantine_count > QUARANTINE) {
		M.recycled = realloc(M.recycled, (M.recycled_count + 1) *
							 sizeof(*M.recycled));
		M.recycled[M.recycled_count++] = *slot;
	}
	*slot = pa;
}

void *hw_zalloc(size_t size)
{
	return calloc(1, size);
}

void hw_free(void *p)
{
	free(p);
}

/* The device view catches up with whole cache lines. */
void hw_cache_flush(const void *va, size_t len)
{
	uint64_t pa = hw_virt_to_phys(va);
	uint64_t start = pa & ~(uint64_t)(LINE - 1);
	uint64_t end = (pa + len + LINE - 1) & ~(uint64_t)(LINE - 1);

	if (pa >= PHYS_SIZE || end > PHYS_SIZE) {
		violation("hw_cache_flush of non-model memory");
		return;
	}
	memcpy(M.dev + start, M.cpu + start, end - start);
	model_ir_flushed(start, end - start);
	probe_all();
}

void hw_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * A hardware read of remapping structures, snooped or not: root, context
 * and PASID structures as ECAP.C says; in scalable mode page tables as
 * SMPWC and the PASID entry's PWSNP say.
 */
static bool walk_read_snoop(struct munit *mu, uint64_t pa, uint64_t *val,
			    bool snoop)
{
	uint64_t cpu, dev;

	if (!readable(pa)) {
		violation("unit %u: table read at 0x%llx of %s memory",
			  mu->index, (unsigned long long)pa,
			  page_state(pa) == PG_FREED ? "freed" : "unallocated");
		return false;
	}
	memcpy(&cpu, M.cpu + pa, 8);
	if (snoop) {
		*val = cpu;
		return true;
	}
	memcpy(&dev, M.dev + pa, 8);
	/* Between a store and its flush, the old value is what it sees. */
	if (dev != cpu && !M.storing)
		violation(
			"unit %u: table entry at 0x%llx written by the CPU but not flushed (sees 0x%llx, CPU has 0x%llx)",
			mu->index, (unsigned long long)pa,
			(unsigned long long)dev, (unsigned long long)cpu);
	*val = dev;
	return true;
}

static bool walk_read(struct munit *mu, uint64_t pa, uint64_t *val)
{
	return walk_read_snoop(mu, pa, val, coherent(mu));
}

/* For model_ir.c: interrupt remapping table reads, and the unit's state. */
bool model_table_read(unsigned int unit, uint64_t pa, uint64_t *val)
{
	return walk_read(&M.units[unit], pa, val);
}

uint32_t model_unit_gsts(unsigned int unit)
{
	return M.units[unit].gsts;
}

uint64_t model_unit_ecap(unsigned int unit)
{
	return M.units[unit].cfg.ecap;
}

/* A DMA-style write by the unit itself (status words): coherent. */
static void unit_write32(struct munit *mu, uint64_t pa, uint32_t val)
{
	if (!readable(pa) || (pa & 3)) {
		violation("unit %u: status write to 0x%llx (%s)", mu->index,
			  (unsigned long long)pa,
			  page_state(pa) == PG_FREED ? "freed" : "not memory");
		return;
	}
	memcpy(M.cpu + pa, &val, 4);
	memcpy(M.dev + pa, &val, 4);
}

/* ---- time ---- */

static void gcmd_apply(struct munit *mu);
static void qi_run(struct munit *mu);
static void land_writes(struct munit *mu);

static void model_run(void)
{
	unsigned int i;

	for (i = 0; i < M.unit_count; i++) {
		struct munit *mu = &M.units[i];

		if (mu->op.active && M.now >= mu->op.due)
			gcmd_apply(mu);
		qi_run(mu);
		land_writes(mu);
	}
	probe_all();
}

uint64_t hw_now_ns(void)
{
	return M.now;
}

void hw_relax(void)
{
	M.now += M.relax_ns;
	model_run();
}

uint64_t model_now(void)
{
	return M.now;
}

void model_set_relax(uint64_t ns)
{
	M.relax_ns = ns;
}

void model_advance(uint64_t ns)
{
	M.now += ns;
	model_run();
}

/* ---- context cache, IOTLB, shadow of context entries ---- */

/*
 * docs/design.md, invariant 5: a context entry seen present must be seen
 * not present (at an invalidation or a walk) before it is seen present with
 * other contents.
 */
static void ctx_observe(struct munit *mu, uint16_t sid, uint64_t lo,
			uint64_t hi)
{
	struct shadow *s = &mu->shadow[sid];

	if (s->seen && (s->lo & 1) && (lo & 1) && (s->lo != lo || s->hi != hi))
		violation(
			"unit %u: context entry of sid %04x changed while present (%016llx:%016llx -> %016llx:%016llx)",
			mu->index, sid, (unsigned long long)s->hi,
			(unsigned long long)s->lo, (unsigned long long)hi,
			(unsigned long long)lo);
	s->seen = true;
	s->lo = lo;
	s->hi = hi;
}

/* Reads sid's context entry from memory; false if there is none. */
static bool ctx_read(struct munit *mu, uint16_t sid, uint64_t *lo, uint64_t *hi,
		     unsigned int *reason)
{
	uint64_t root = mu->root_active & ADDR_MASK, rlo, rhi, ctp;

	*reason = 0;
	if (!walk_read(mu, root + (sid >> 8) * 16, &rlo) ||
	    !walk_read(mu, root + (sid >> 8) * 16 + 8, &rhi)) {
		*reason = FR_ROOT_RSVD;
		return false;
	}
	if (!(rlo & 1)) {
		/* No context table: the entry is seen not present. */
		mu->shadow[sid].lo = 0;
		*reason = FR_ROOT_NP;
		return false;
	}
	if ((rlo & 0xffe) || rhi) {
		*reason = FR_ROOT_RSVD;
		return false;
	}
	ctp = rlo & ADDR_MASK;
	if (!walk_read(mu, ctp + (sid & 0xff) * 16, lo) ||
	    !walk_read(mu, ctp + (sid & 0xff) * 16 + 8, hi)) {
		*reason = FR_CTX_RSVD;
		return false;
	}
	ctx_observe(mu, sid, *lo, *hi);
	if (!(*lo & 1)) {
		*reason = FR_CTX_NP;
		return false;
	}
	return true;
}

/* Every context entry reachable from the root (at a context-cache flush). */
/*
 * Legacy: one context table per bus, 16-byte entries.  Scalable: one per
 * root-entry word, 128 entries of 32 bytes each.
 */
static void ctx_scan(struct munit *mu)
{
	uint64_t root = mu->root_active & ADDR_MASK, rlo, lo, hi;
	unsigned int bus, devfn, size = scalable(mu) ? 32 : 16;
	unsigned int per_table = scalable(mu) ? 128 : 256;

	if (!root || !readable(root))
		return;
	for (bus = 0; bus < 256; bus++) {
		for (devfn = 0; devfn < 256; devfn++) {
			uint64_t e;

			if (devfn % per_table == 0 &&
			    (!walk_read(mu,
					root + bus * 16 +
						(devfn / per_table) * 8,
					&rlo) ||
			     !(rlo & 1))) {
				/* No context table: its entries are not
				 * present. */
				for (e = 0; e < per_table; e++) {
					mu->shadow[bus << 8 | (devfn + e)].lo =
						0;
				}
				devfn += per_table - 1;
				continue;
			}
			e = (rlo & ADDR_MASK) + (devfn % per_table) * size;
			if (!walk_read(mu, e, &lo) ||
			    !walk_read(mu, e + 8, &hi))
				break;
			ctx_observe(mu, (uint16_t)(bus << 8 | devfn), lo, hi);
		}
	}
}

/*
 * The context entry holding pa, if pa lies in a context table the unit's
 * root table names now (CPU view: a line may be written back at any
 * moment); false otherwise.
 */
static bool ctx_entry_at(struct munit *mu, uint64_t pa, uint16_t *sid,
			 uint64_t *entry)
{
	uint64_t root = mu->root_active & ADDR_MASK, rlo, page = pa & ADDR_MASK;
	unsigned int bus, half, halves = scalable(mu) ? 2 : 1;
	unsigned int size = scalable(mu) ? 32 : 16;

	if (!root || !readable(root))
		return false;
	for (bus = 0; bus < 256; bus++) {
		for (half = 0; half < halves; half++) {
			memcpy(&rlo, M.cpu + root + bus * 16 + half * 8, 8);
			if (!(rlo & 1) || (rlo & ADDR_MASK) != page)
				continue;
			*entry = (pa & ~(uint64_t)(size - 1));
			*sid = (uint16_t)(bus << 8 | (half * 128 +
						      (pa & (PG - 1)) / size));
			return true;
		}
	}
	return false;
}

/*
 * Every store the driver makes to a structure a unit reads.  The unit may
 * read between any two: a context entry is observed at each store
 * (docs/design.md, invariant 5, whatever flushes come later), and
 * watching devices walk.
 */
void hw_table_write(uint64_t *p, uint64_t val)
{
	uint64_t pa = hw_virt_to_phys(p), entry, lo, hi;
	unsigned int i;
	uint16_t sid;

	if (pa >= PHYS_SIZE || (pa & 7) || page_state(pa) != PG_TABLE) {
		violation("table store to 0x%llx, not a table page",
			  (unsigned long long)pa);
		return;
	}
	*(volatile uint64_t *)p = val;
	for (i = 0; i < M.unit_count; i++) {
		if (!ctx_entry_at(&M.units[i], pa, &sid, &entry))
			continue;
		memcpy(&lo, M.cpu + entry, 8);
		memcpy(&hi, M.cpu + entry + 8, 8);
		ctx_observe(&M.units[i], sid, lo, hi);
	}
	model_ir_stored(pa);
	M.storing = true;
	probe_all();
	M.storing = false;
}

/* ---- scalable-mode structures ---- */

/*
 * sid's scalable-mode context entry (9.2, 9.4): the root entry's lower
 * word leads to devfn 0-127, its upper word to 128-255; words 2 and 3 of
 * the entry, and whatever the unit cannot do, are reserved.  Returns 0 or
 * a fault reason; *lo and *hi get words 0 and 1.
 */
static unsigned int sm_ctx_read(struct munit *mu, uint16_t sid, uint64_t *lo,
				uint64_t *hi)
{
	uint64_t root = mu->root_active & ADDR_MASK, half, e, w2, w3;
	uint64_t rsvd = UINT64_C(0x1e0);

	*lo = *hi = 0;
	if (!walk_read(mu, root + (sid >> 8) * 16 + (sid & 0x80 ? 8 : 0),
		       &half)) {
		return SM_ROOT_READ;
	}
	if (!(half & 1)) {
		return SM_ROOT_NP;
	}
	if (half & 0xffe) {
		return SM_ROOT_RSVD;
	}
	e = (half & ADDR_MASK) + (sid & 0x7f) * 32;
	if (!walk_read(mu, e, lo) || !walk_read(mu, e + 8, hi) ||
	    !walk_read(mu, e + 16, &w2) || !walk_read(mu, e + 24, &w3)) {
		return SM_CTX_READ;
	}
	ctx_observe(mu, sid, *lo, *hi);
	if (!(*lo & 1)) {
		return SM_CTX_NP;
	}
	if (!ecap_bit(mu, EC_DT)) {
		rsvd |= 1U << 2;
	}
	if (!ecap_bit(mu, EC_PASID)) {
		rsvd |= 1U << 3;
	}
	if (!ecap_bit(mu, EC_PRS)) {
		rsvd |= 1U << 4;
	}
	if ((*lo & rsvd) || (*hi >> 21) || w2 || w3) {
		return SM_CTX_RSVD;
	}
	return 0;
}

static struct pe_shadow *pe_shadow_of(struct munit *mu, uint64_t pa)
{
	size_t i;

	for (i = 0; i < mu->pe_shadow_count; i++) {
		if (mu->pe_shadow[i].pa == pa) {
			return &mu->pe_shadow[i];
		}
	}
	mu->pe_shadow = realloc(mu->pe_shadow, (mu->pe_shadow_count + 1) *
						       sizeof(*mu->pe_shadow));
	memset(&mu->pe_shadow[mu->pe_shadow_count], 0, sizeof(*mu->pe_shadow));
	mu->pe_shadow[mu->pe_shadow_count].pa = pa;
	return &mu->pe_shadow[mu->pe_shadow_count++];
}

/*
 * docs/design.md, invariant 5, for PASID entries: one seen present must
 * be seen not present before it is seen present with other contents.  With
 * stores in order and the unit free to read at any moment, a driver that writes
 * a present entry in place is seen here sooner or later.
 */
static void pe_observe(struct munit *mu, uint64_t pa, const uint64_t *val)
{
	struct pe_shadow *s = pe_shadow_of(mu, pa);

	if ((s->val[0] & 1) && (val[0] & 1) &&
	    memcmp(s->val, val, sizeof(s->val))) {
		violation(
			"unit %u: PASID entry at 0x%llx changed while present (%016llx:%016llx:%016llx -> %016llx:%016llx:%016llx)",
			mu->index, (unsigned long long)pa,
			(unsigned long long)s->val[2],
			(unsigned long long)s->val[1],
			(unsigned long long)s->val[0],
			(unsigned long long)val[2], (unsigned long long)val[1],
			(unsigned long long)val[0]);
	}
	memcpy(s->val, val, sizeof(s->val));
}

static bool pe_read_words(struct munit *mu, uint64_t pa, uint64_t *val)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		if (!walk_read(mu, pa + 8 * i, &val[i])) {
			return false;
		}
	}
	return true;
}

/* Every PASID entry seen so far, as the unit sees it now. */
static void pe_scan(struct munit *mu)
{
	uint64_t val[8];
	size_t i;

	for (i = 0; i < mu->pe_shadow_count; i++) {
		if (readable(mu->pe_shadow[i].pa) &&
		    pe_read_words(mu, mu->pe_shadow[i].pa, val)) {
			pe_observe(mu, mu->pe_shadow[i].pa, val);
		}
	}
}

static unsigned int levels_of_aw(uint64_t aw)
{
	return (unsigned int)aw + 2;
}

/*
 * What a present PASID entry must be (9.6): a PGTT the unit supports, AW a
 * depth in SAGAW (QEMU 7.2 requires it whatever the PGTT,
 * docs/scenarios.md, qemu-pasid-aw, and so does the model), FLPM a depth the
 * unit walks, reserved fields clear.  Stricter than hardware where moat sets
 * nothing: every field the driver does not use counts as reserved.
 */
static unsigned int pe_check(const struct munit *mu, const uint64_t *val)
{
	unsigned int pgtt = (unsigned int)fld(val[0], 8, 6), i;
	unsigned int aw = (unsigned int)fld(val[0], 4, 2);
	uint64_t rsvd1 = ~(UINT64_C(0xffff) | (UINT64_C(1) << 23));

	if (!ecap_bit(mu, EC_SMPWC)) {
		rsvd1 |= UINT64_C(1) << 23;
	}
	if ((val[0] & 0xe20) || (val[1] & rsvd1) ||
	    (val[2] & ~(ADDR_MASK | (UINT64_C(3) << 2))) ||
	    (val[2] && pgtt != PGTT_FL && pgtt != PGTT_NESTED)) {
		return SM_PE_RSVD;
	}
	for (i = 3; i < 8; i++) {
		if (val[i]) {
			return SM_PE_RSVD;
		}
	}
	if ((pgtt == PGTT_FL && !ecap_bit(mu, EC_FLTS)) ||
	    (pgtt == PGTT_SL && !ecap_bit(mu, EC_SLTS)) ||
	    (pgtt == PGTT_NESTED && !ecap_bit(mu, EC_NEST)) ||
	    (pgtt == PGTT_PT && !ecap_bit(mu, EC_PT)) || !pgtt || pgtt > 4) {
		return SM_PE_INVALID;
	}
	if (aw < 1 || aw > 3 || !(cap_sagaw(mu) & (1U << aw))) {
		return SM_PE_INVALID;
	}
	if ((pgtt == PGTT_FL || pgtt == PGTT_NESTED) &&
	    (fld(val[2], 3, 2) > 1 ||
	     (fld(val[2], 3, 2) == 1 && !cap_bit(mu, 60)))) {
		return SM_PE_INVALID;
	}
	return 0;
}

/*
 * The PASID entry of pasid behind a context entry's directory (9.5, 9.6).
 * Returns 0 or a fault reason; *pa is where the entry is.
 */
static unsigned int pe_read(struct munit *mu, uint64_t ctx_lo, uint32_t pasid,
			    uint64_t *val, uint64_t *pa)
{
	uint64_t de;

	if (!walk_read(mu, (ctx_lo & ADDR_MASK) + (pasid >> 6) * 8, &de)) {
		return SM_PDE_READ;
	}
	if (!(de & 1)) {
		return SM_PDE_NP;
	}
	if (de & 0xffc) {
		return SM_PDE_RSVD;
	}
	*pa = (de & ADDR_MASK) + (pasid & 63) * 64;
	if (!pe_read_words(mu, *pa, val)) {
		return SM_PE_READ;
	}
	pe_observe(mu, *pa, val);
	if (!(val[0] & 1)) {
		return SM_PE_NP;
	}
	return pe_check(mu, val);
}

static struct pasid_cache_entry *pc_lookup(struct munit *mu, uint16_t sid,
					   uint32_t pasid)
{
	unsigned int i;

	for (i = 0; i < PASID_CACHE; i++) {
		if (mu->pc[i].valid && mu->pc[i].sid == sid &&
		    mu->pc[i].pasid == pasid) {
			return &mu->pc[i];
		}
	}
	return NULL;
}

/* Not-present entries are cached (CM only) under domain id 0, like 6.1. */
static struct pasid_cache_entry *pc_insert(struct munit *mu, uint16_t sid,
					   uint32_t pasid, bool present,
					   const uint64_t *val)
{
	struct pasid_cache_entry *c = &mu->pc[mu->pc_next++ % PASID_CACHE];

	c->valid = true;
	c->present = present;
	c->sid = sid;
	c->pasid = pasid;
	c->did = present ? (uint16_t)fld(val[1], 15, 0) : 0;
	memcpy(c->val, val, sizeof(c->val));
	return c;
}

static struct ctx_cache_entry *ctx_lookup(struct munit *mu, uint16_t sid)
{
	unsigned int i;

	for (i = 0; i < CTX_CACHE; i++) {
		if (mu->ctx[i].valid && mu->ctx[i].sid == sid)
			return &mu->ctx[i];
	}
	return NULL;
}

static struct ctx_cache_entry *ctx_insert(struct munit *mu, uint16_t sid,
					  bool present, uint64_t lo,
					  uint64_t hi)
{
	struct ctx_cache_entry *c = &mu->ctx[mu->ctx_next++ % CTX_CACHE];

	c->valid = true;
	c->present = present;
	c->sid = sid;
	c->lo = lo;
	c->hi = hi;
	/*
	 * Not-present entries are cached under domain id 0 (CM); scalable
	 * context entries carry no domain id.
	 */
	c->did = present && !scalable(mu) ? (uint16_t)fld(hi, 23, 8) : 0;
	return c;
}

static struct tlb_entry *tlb_lookup(struct munit *mu, uint16_t did,
				    uint32_t pasid, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];

		if (t->valid && t->did == did && t->pasid == pasid &&
		    iova >= t->iova && iova - t->iova < t->size) {
			return t;
		}
	}
	return NULL;
}

static struct tlb_entry *tlb_insert(struct munit *mu)
{
	struct tlb_entry *t = &mu->tlb[mu->tlb_next++ % IOTLB_SIZE];

	memset(t, 0, sizeof(*t));
	t->valid = true;
	return t;
}

/* ---- translation ---- */

static uint64_t level_size(unsigned int level)
{
	return UINT64_C(1) << (12 + 9 * (level - 1));
}

static bool leaf_size_allowed(const struct munit *mu, unsigned int level)
{
	if (level == 2)
		return cap_sllps(mu) & 1;
	if (level == 3)
		return cap_sllps(mu) & 2;
	return false;
}

static void path_add(struct tlb_entry *t, uint64_t table)
{
	if (t->path_len < MAX_PATH) {
		t->path[t->path_len++] = table;
	} else {
		fprintf(stderr, "model: walk path too long\n");
	}
}

/*
 * Walks the second-level tables; fills t on success.  Returns 0, a legacy
 * reason (the scalable-mode caller converts it) or WALK_NP.
 */
static unsigned int sl_walk(struct munit *mu, uint64_t slptptr,
			    unsigned int levels, uint64_t iova,
			    struct tlb_entry *t, bool snoop)
{
	uint64_t table = slptptr & ADDR_MASK, e, rights = SL_R | SL_W;
	unsigned int level;

	for (level = levels; level >= 1; level--) {
		unsigned int idx = (unsigned int)fld(iova, 12 + 9 * level - 1,
						     12 + 9 * (level - 1));

		path_add(t, table);
		if (!walk_read_snoop(mu, table + idx * 8, &e, snoop)) {
			return FR_PTE_READ;
		}
		if (!(e & (SL_R | SL_W)))
			return WALK_NP; /* not present: caller decides 5/6 */
		rights &= e & (SL_R | SL_W);
		/* Stricter than hardware: moat sets nothing but R, W, PS. */
		if (e & ~(ADDR_MASK | SL_R | SL_W | SL_PS))
			return FR_PTE_RSVD;
		if (level > 1 && (e & SL_PS)) {
			uint64_t size = level_size(level);

			if (!leaf_size_allowed(mu, level) ||
			    (e & ADDR_MASK & (size - 1)))
				return FR_PTE_RSVD;
			t->iova = iova & ~(size - 1);
			t->size = size;
			t->hpa = e & ADDR_MASK;
			t->rights = rights;
			return 0;
		}
		if (level == 1) {
			if (e & SL_PS)
				return FR_PTE_RSVD;
			t->iova = iova & ~(uint64_t)(PG - 1);
			t->size = PG;
			t->hpa = e & ADDR_MASK;
			t->rights = rights;
			return 0;
		}
		table = e & ADDR_MASK;
	}
	return FR_PTE_READ;
}

/* Translate one legacy-mode access; 0 and *hpa, or a fault reason. */
static unsigned int translate_legacy(struct munit *mu, const struct request *rq,
				     uint64_t *hpa)
{
	struct ctx_cache_entry *c = ctx_lookup(mu, rq->sid);
	unsigned int reason, levels, aw;
	uint64_t lo, hi, need = rq->write ? SL_W : SL_R;
	struct tlb_entry *t, walk = {0};
	uint16_t did;

	/* Requests with PASID need scalable mode (7.1.3, 0x31). */
	if (rq->pasid != MODEL_NO_PASID) {
		return SM_TTM0_PASID;
	}
	if (!c) {
		if (!ctx_read(mu, rq->sid, &lo, &hi, &reason)) {
			if (reason == FR_CTX_NP && cap_cm(mu))
				ctx_insert(mu, rq->sid, false, lo, hi);
			return reason;
		}
		if ((lo & 0xff0) || (hi & 0xffffffffff000080ULL))
			return FR_CTX_RSVD;
		/* TT 01 (device-TLB) needs ECAP.DT; 10 is pass-through. */
		if (fld(lo, 3, 2) > 1 ||
		    (fld(lo, 3, 2) == 1 && !ecap_bit(mu, EC_DT)))
			return FR_CTX_INVALID;
		aw = (unsigned int)fld(hi, 2, 0);
		if (aw < 1 || aw > 3 || !(cap_sagaw(mu) & (1U << aw)))
			return FR_CTX_INVALID;
		c = ctx_insert(mu, rq->sid, true, lo, hi);
	}
	if (!c->present)
		return FR_CTX_NP;
	did = c->did;
	levels = (unsigned int)fld(c->hi, 2, 0) + 2;
	aw = 12 + 9 * levels;
	if (aw > cap_mgaw(mu))
		aw = cap_mgaw(mu);
	if (aw < 64 && rq->iova >> aw) {
		return FR_AW;
	}

	t = tlb_lookup(mu, did, 0, rq->iova);
	if (t) {
		mu->stats.iotlb_hits++;
	} else {
		mu->stats.iotlb_misses++;
		reason = sl_walk(mu, c->lo, levels, rq->iova, &walk,
				 coherent(mu));
		if (reason == WALK_NP) {
			/* CM: not-present leaves may be cached too. */
			if (cap_cm(mu)) {
				t = tlb_insert(mu);
				t->negative = true;
				t->did = did;
				t->pgtt = PGTT_SL;
				t->iova = rq->iova & ~(uint64_t)(PG - 1);
				t->size = PG;
			}
			return rq->write ? FR_WRITE : FR_READ;
		}
		if (reason)
			return reason;
		t = tlb_insert(mu);
		*t = walk;
		t->valid = true;
		t->did = did;
		t->pgtt = PGTT_SL;
	}
	if (t->negative || !(t->rights & need)) {
		return rq->write ? FR_WRITE : FR_READ;
	}
	*hpa = t->hpa + (rq->iova - t->iova);
	return 0;
}

/* How a first-level walk reaches memory: directly or through nesting. */
struct fl_walker {
	struct munit *mu;
	bool snoop;
	bool nested;
	uint64_t slptptr; /* nested: the second level */
	unsigned int sl_levels;
	struct tlb_entry *t; /* collects the pages read */
};

/*
 * A guest-physical address through the nested second level with the
 * rights need: 0 and *hpa, or WALK_NP when not permitted, or a reason.
 */
static unsigned int nested_sl(struct fl_walker *w, uint64_t gpa, uint64_t need,
			      uint64_t *hpa, uint64_t *size)
{
	struct tlb_entry sub = {0};
	unsigned int reason, i;

	reason = sl_walk(w->mu, w->slptptr, w->sl_levels, gpa, &sub, w->snoop);
	for (i = 0; i < sub.path_len; i++) {
		path_add(w->t, sub.path[i]);
	}
	if (reason == WALK_NP || (!reason && !(sub.rights & need))) {
		return WALK_NP;
	}
	if (reason) {
		return reason == FR_PTE_RSVD ? SM_SL_RSVD : SM_SL_READ;
	}
	*hpa = sub.hpa + (gpa - sub.iova);
	*size = sub.size;
	return 0;
}

/*
 * Hardware sets accessed and dirty flags (9.7) with an atomic write to
 * the table, which a walk that does not snoop cannot do: fault 0x90.
 */
static unsigned int fl_set_flag(struct fl_walker *w, uint64_t pa, uint64_t e,
				uint64_t flag)
{
	if (e & flag) {
		return 0;
	}
	if (!w->snoop) {
		return SM_FL_AD;
	}
	e |= flag;
	memcpy(M.cpu + pa, &e, 8);
	memcpy(M.dev + pa, &e, 8);
	w->mu->stats.ad_updates++;
	return 0;
}

/*
 * Walks first-level tables (9.7): canonical addresses, a present bit at
 * every level, R/W and U/S ANDed along the walk (requests here are user
 * requests: U/S must be set everywhere), 2 MiB leaves, 1 GiB leaves only
 * with FL1GP.  Fills t (nested: with a guest-physical output in t->hpa).
 */
static unsigned int fl_walk(struct fl_walker *w, uint64_t flptr,
			    unsigned int levels, const struct request *rq)
{
	uint64_t table = flptr & ADDR_MASK, e, pa, size, sz, top;
	unsigned int level, reason;
	bool rw = true, us = true;
	struct tlb_entry *t = w->t;

	top = rq->iova >> (12 + 9 * levels - 1);
	if (top && top != (~UINT64_C(0) >> (12 + 9 * levels - 1))) {
		return SM_NOT_CANONICAL;
	}
	for (level = levels; level >= 1; level--) {
		pa = table +
		     fld(rq->iova, 12 + 9 * level - 1, 12 + 9 * (level - 1)) *
			     8;
		if (w->nested) {
			reason = nested_sl(w, pa, SL_R, &pa, &sz);
			if (reason == WALK_NP) {
				return level == levels ? SM_NESTED_FL_TOP
						       : SM_NESTED_FL;
			}
			if (reason) {
				return reason;
			}
		}
		path_add(t, pa & ~(uint64_t)(PG - 1));
		if (!walk_read_snoop(w->mu, pa, &e, w->snoop)) {
			return SM_FL_READ;
		}
		if (!(e & FL_P)) {
			return SM_FL_NP;
		}
		/* Stricter than hardware: moat sets nothing else. */
		if (e & ~(ADDR_MASK | FL_P | FL_RW | FL_US | FL_A | FL_D |
			  FL_PS | FL_XD)) {
			return SM_FL_RSVD;
		}
		rw = rw && (e & FL_RW);
		us = us && (e & FL_US);
		reason = fl_set_flag(w, pa, e, FL_A);
		if (reason) {
			return reason;
		}
		if (level > 1 && !(e & FL_PS)) {
			table = e & ADDR_MASK;
			continue;
		}
		size = level_size(level);
		if ((level > 3) || (level == 3 && !cap_bit(w->mu, 56)) ||
		    (e & ADDR_MASK & (size - 1))) {
			return SM_FL_RSVD;
		}
		if (rq->write && rw) {
			reason = fl_set_flag(w, pa, e | FL_A, FL_D);
			if (reason) {
				return reason;
			}
		}
		t->iova = rq->iova & ~(size - 1);
		t->size = size;
		t->hpa = e & ADDR_MASK;
		t->rights = SL_R | (rw ? SL_W : 0);
		break;
	}
	return us ? 0 : SM_US;
}

/* Nested: the first-level result is a guest-physical address. */
static unsigned int nested_output(struct fl_walker *w, const struct request *rq)
{
	struct tlb_entry *t = w->t;
	uint64_t gpa = t->hpa + (rq->iova - t->iova), hpa, size;
	unsigned int reason;

	reason = nested_sl(w, gpa, t->rights & (rq->write ? SL_W : SL_R), &hpa,
			   &size);
	if (reason) {
		return reason == WALK_NP ? (rq->write ? SM_WRITE : SM_READ)
					 : reason;
	}
	/* Cached at the smaller of the two page sizes: one page here. */
	t->iova = rq->iova & ~(uint64_t)(PG - 1);
	t->size = PG;
	t->hpa = hpa & ~(uint64_t)(PG - 1);
	return 0;
}

/* Walks what a PASID entry says; fills t. */
static unsigned int sm_walk(struct munit *mu, const struct pasid_cache_entry *p,
			    const struct request *rq, struct tlb_entry *t)
{
	unsigned int pgtt = (unsigned int)fld(p->val[0], 8, 6);
	unsigned int levels = levels_of_aw(fld(p->val[0], 4, 2)), aw, reason;
	struct fl_walker w = {
		.mu = mu,
		.snoop = ecap_bit(mu, EC_SMPWC) && (p->val[1] & (1U << 23)),
		.nested = pgtt == PGTT_NESTED,
		.slptptr = p->val[0],
		.sl_levels = levels,
		.t = t,
	};
	unsigned int fl_levels = fld(p->val[2], 3, 2) ? 5 : 4;

	if (pgtt == PGTT_FL || pgtt == PGTT_NESTED) {
		reason = fl_walk(&w, p->val[2], fl_levels, rq);
		if (!reason && w.nested) {
			reason = nested_output(&w, rq);
		}
		return reason;
	}
	aw = 12 + 9 * levels;
	if (aw > cap_mgaw(mu)) {
		aw = cap_mgaw(mu);
	}
	if (rq->iova >> aw) {
		return SM_AW;
	}
	reason = sl_walk(mu, p->val[0], levels, rq->iova, t, w.snoop);
	if (reason == FR_PTE_READ) {
		return SM_SL_READ;
	}
	if (reason == FR_PTE_RSVD) {
		return SM_SL_RSVD;
	}
	return reason;
}

/* The context entry, from the cache or memory; 0 or a fault reason. */
static unsigned int sm_context(struct munit *mu, uint16_t sid,
			       struct ctx_cache_entry **c)
{
	unsigned int reason;
	uint64_t lo, hi;

	*c = ctx_lookup(mu, sid);
	if (!*c) {
		reason = sm_ctx_read(mu, sid, &lo, &hi);
		if (reason == SM_CTX_NP && cap_cm(mu)) {
			ctx_insert(mu, sid, false, lo, hi);
		}
		if (reason) {
			return reason;
		}
		*c = ctx_insert(mu, sid, true, lo, hi);
	}
	return (*c)->present ? 0 : SM_CTX_NP;
}

/*
 * The PASID entry a request uses, from the cache or memory: its own PASID
 * (PASIDE needed), or the context entry's RID_PASID (0 without ECAP.RPS).
 */
static unsigned int sm_pasid_entry(struct munit *mu, const struct request *rq,
				   struct pasid_cache_entry **p,
				   uint32_t *pasid)
{
	struct ctx_cache_entry *c;
	uint64_t val[8] = {0}, pa;
	unsigned int reason;

	reason = sm_context(mu, rq->sid, &c);
	if (reason) {
		return reason;
	}
	if (rq->pasid != MODEL_NO_PASID) {
		if (!(c->lo & (1U << 3))) {
			return SM_PASIDE;
		}
		*pasid = rq->pasid;
	} else {
		*pasid = (uint32_t)fld(c->hi, 19, 0);
		if (*pasid && !ecap_bit(mu, EC_RPS)) {
			return SM_RID_PASID;
		}
	}
	if ((*pasid >> 6) >> (fld(c->lo, 11, 9) + 7)) {
		return rq->pasid != MODEL_NO_PASID ? SM_PASID_MAX
						   : SM_RID_PASID;
	}
	*p = pc_lookup(mu, rq->sid, *pasid);
	if (*p) {
		mu->stats.pasid_cache_hits++;
	} else {
		reason = pe_read(mu, c->lo, *pasid, val, &pa);
		if (reason == SM_PE_NP && cap_cm(mu)) {
			pc_insert(mu, rq->sid, *pasid, false, val);
		}
		if (reason) {
			return reason;
		}
		*p = pc_insert(mu, rq->sid, *pasid, true, val);
	}
	return (*p)->present ? 0 : SM_PE_NP;
}

/* Translate one scalable-mode access; 0 and *hpa, or a fault reason. */
static unsigned int translate_sm(struct munit *mu, const struct request *rq,
				 uint64_t *hpa)
{
	uint64_t need = rq->write ? SL_W : SL_R;
	struct tlb_entry *t, walk = {0};
	struct pasid_cache_entry *p;
	unsigned int reason, pgtt;
	uint32_t pasid;

	reason = sm_pasid_entry(mu, rq, &p, &pasid);
	if (reason) {
		return reason;
	}
	pgtt = (unsigned int)fld(p->val[0], 8, 6);
	/* Pass-through: the PASID cache holds all there is to cache. */
	if (pgtt == PGTT_PT) {
		*hpa = rq->iova;
		return 0;
	}
	t = tlb_lookup(mu, p->did, pasid, rq->iova);
	if (t) {
		mu->stats.iotlb_hits++;
	} else {
		mu->stats.iotlb_misses++;
		reason = sm_walk(mu, p, rq, &walk);
		if (reason == WALK_NP && cap_cm(mu)) {
			t = tlb_insert(mu);
			t->negative = true;
			t->did = p->did;
			t->pasid = pasid;
			t->pgtt = pgtt;
			t->iova = rq->iova & ~(uint64_t)(PG - 1);
			t->size = PG;
		}
		if (reason == WALK_NP) {
			return rq->write ? SM_WRITE : SM_READ;
		}
		if (reason) {
			return reason;
		}
		t = tlb_insert(mu);
		*t = walk;
		t->valid = true;
		t->did = p->did;
		t->pasid = pasid;
		t->pgtt = pgtt;
	}
	if (t->negative || !(t->rights & need))
		return rq->write ? SM_WRITE : SM_READ;
	*hpa = t->hpa + (rq->iova - t->iova);
	return 0;
}

static unsigned int translate(struct munit *mu, const struct request *rq,
			      uint64_t *hpa)
{
	return scalable(mu) ? translate_sm(mu, rq, hpa)
			    : translate_legacy(mu, rq, hpa);
}

static void record_fault(struct munit *mu, const struct request *rq,
			 unsigned int reason)
{
	struct frcd *r = &mu->frcd[mu->frcd_next];

	if (r->hi & (UINT64_C(1) << 63)) {
		mu->fsts |= FS_PFO;
		mu->stats.faults_lost++;
		return;
	}
	r->lo = rq->iova & ~(uint64_t)(PG - 1);
	r->hi = (UINT64_C(1) << 63) | (rq->write ? 0 : UINT64_C(1) << 62) |
		((uint64_t)reason << 32) | rq->sid;
	if (rq->pasid != MODEL_NO_PASID) {
		r->hi |= (UINT64_C(1) << 31) | ((uint64_t)rq->pasid << 40);
	}
	mu->frcd_next = (mu->frcd_next + 1) % mu->nfr;
	mu->stats.faults++;
}

/*
 * An interrupt request blocked by remapping: its record carries the
 * interrupt index in FI[63:48] (VT-d spec 7.1.3, 11.4.14); T is undefined.
 */
void model_ir_fault(unsigned int unit, uint16_t sid, unsigned int index,
		    unsigned int reason)
{
	struct request rq = {
		.sid = sid,
		.pasid = MODEL_NO_PASID,
		.iova = (uint64_t)index << 48,
	};

	record_fault(&M.units[unit], &rq, reason);
}

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
		violation(
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
	violation(
		"unit %u: isolation broken: %s %s of iova 0x%llx reached 0x%llx outside its domain's mappings",
		mu->index, requester(rq), rq->write ? "write" : "read",
		(unsigned long long)rq->iova, (unsigned long long)hpa);
}

void model_expect_attach_pasid(unsigned int unit, uint16_t sid, uint32_t pasid,
			       const void *owner)
{
	model_expect_detach_pasid(unit, sid, pasid);
	M.bindings = realloc(M.bindings,
			     (M.binding_count + 1) * sizeof(*M.bindings));
	M.bindings[M.binding_count++] = (struct binding){
		.unit = unit,
		.sid = sid,
		.pasid = pasid,
		.owner = owner,
	};
}

void model_expect_detach_pasid(unsigned int unit, uint16_t sid, uint32_t pasid)
{
	size_t i;

	for (i = 0; i < M.binding_count; i++) {
		if (M.bindings[i].unit == unit && M.bindings[i].sid == sid &&
		    M.bindings[i].pasid == pasid) {
			M.bindings[i] = M.bindings[--M.binding_count];
			return;
		}
	}
}

void model_expect_attach(unsigned int unit, uint16_t sid, const void *owner)
{
	model_expect_attach_pasid(unit, sid, MODEL_NO_PASID, owner);
}

void model_expect_detach(unsigned int unit, uint16_t sid)
{
	model_expect_detach_pasid(unit, sid, MODEL_NO_PASID);
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
			reason = translate(mu, &rq, &hpa);
			if (reason) {
				record_fault(mu, &rq, reason);
				return -EFAULT;
			}
			check_access(mu, &rq, hpa);
		} else {
			hpa = iova;
		}
		if (page_state(hpa) != PG_RAM) {
			violation(
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

int model_dma_read(unsigned int unit, uint16_t sid, uint64_t iova, void *buf,
		   size_t len)
{
	return dma(unit, sid, MODEL_NO_PASID, iova, buf, len, false);
}

int model_dma_write(unsigned int unit, uint16_t sid, uint64_t iova,
		    const void *buf, size_t len)
{
	return dma(unit, sid, MODEL_NO_PASID, iova, (uint8_t *)buf, len, true);
}

int model_dma_read_pasid(unsigned int unit, uint16_t sid, uint32_t pasid,
			 uint64_t iova, void *buf, size_t len)
{
	return dma(unit, sid, pasid, iova, buf, len, false);
}

int model_dma_write_pasid(unsigned int unit, uint16_t sid, uint32_t pasid,
			  uint64_t iova, const void *buf, size_t len)
{
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
	reason = translate(mu, &mu->watch.rq, &hpa);
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

static void probe_all(void)
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

void model_watch_start(unsigned int unit, uint16_t sid, uint32_t pasid,
		       uint64_t iova)
{
	struct munit *mu = &M.units[unit];

	memset(&mu->watch, 0, sizeof(mu->watch));
	mu->watch.rq =
		(struct request){.sid = sid, .pasid = pasid, .iova = iova};
	mu->watch.on = true;
	probe_all();
}

void model_watch_stop(unsigned int unit)
{
	M.units[unit].watch.on = false;
}

const struct model_watch *model_watch_log(unsigned int unit)
{
	return &M.units[unit].watch.log;
}

/* ---- global command ---- */

static uint32_t lowest_bit(uint32_t v)
{
	return v & -v;
}

/* One command per write, none while one is in progress (VT-d 11.4.4). */
static void gcmd_write(struct munit *mu, uint32_t val)
{
	uint32_t changed = (val ^ mu->gsts) & G_PERSISTENT;
	uint32_t cmds = val & G_ONESHOT;
	unsigned int n = __builtin_popcount(changed) + __builtin_popcount(cmds);
	uint32_t bit;

	if (n > 1)
		violation(
			"unit %u: GCMD 0x%08x issues %u commands at once (GSTS 0x%08x); software must write one at a time from its own copy",
			mu->index, val, n, mu->gsts);
	if (!n)
		return;
	if (mu->op.active) {
		violation(
			"unit %u: GCMD written while the previous command is in progress",
			mu->index);
		return;
	}
	bit = cmds ? lowest_bit(cmds) : lowest_bit(changed);
	if (bit == G_TE && (val & G_TE) && !(mu->gsts & G_SRTP))
		violation("unit %u: TE set before a root table pointer was set",
			  mu->index);
	if (bit == G_QIE && (val & G_QIE) && !mu->iqa)
		violation("unit %u: QIE set with no queue address", mu->index);
	if (bit == G_QIE && !(val & G_QIE) && mu->exec != mu->iqt)
		violation("unit %u: QI disabled with descriptors pending",
			  mu->index);
	if (bit == G_WBF && !cap_bit(mu, 4))
		return; /* no write buffer to flush */
	if (bit == G_SRTP || bit == G_SIRTP)
		mu->gsts &= ~bit; /* RTPS, IRTPS clear at the write */
	if (bit == G_WBF)
		mu->gsts |= G_WBF; /* WBFS set until done */
	mu->op.active = true;
	mu->op.bit = bit;
	mu->op.on = val & bit;
	mu->op.due = (mu->cfg.gsts_stuck & bit)
			     ? UINT64_MAX
			     : M.now + mu->cfg.gcmd_latency_ns;
	if (M.now >= mu->op.due)
		gcmd_apply(mu);
}

static void gcmd_apply(struct munit *mu)
{
	uint32_t bit = mu->op.bit;

	mu->op.active = false;
	switch (bit) {
	case G_SRTP:
		mu->root_active = mu->rtaddr;
		mu->gsts |= G_SRTP;
		if (fld(mu->rtaddr, 11, 10) > 1 ||
		    (scalable(mu) && !ecap_bit(mu, EC_SMTS))) {
			violation(
				"unit %u: root table mode (TTM) %u the unit does not have",
				mu->index,
				(unsigned int)fld(mu->rtaddr, 11, 10));
		}
		return;
	case G_WBF:
		mu->gsts &= ~G_WBF;
		mu->stats.wbf++;
		return;
	case G_SIRTP:
		model_ir_sirtp(mu->index, mu->irta);
		mu->gsts |= bit;
		return;
	case G_SFL:
		mu->gsts |= bit;
		return;
	case G_IRE:
		model_ir_ire(mu->index, mu->op.on);
		break;
	case G_QIE:
		if (mu->op.on) {
			mu->iqh = mu->exec = 0;
			mu->fetched_count = 0;
			mu->exec_due = 0;
			mu->ready = M.now;
		}
		break;
	default:
		break;
	}
	if (mu->op.on)
		mu->gsts |= bit;
	else
		mu->gsts &= ~bit;
}

/* ---- queued invalidation ---- */

/* 2^QS pages of 128-bit or 256-bit descriptors (IQA.DW). */
static unsigned int qi_size(const struct munit *mu)
{
	return (256U << (mu->iqa & 7)) >> desc_shift(mu);
}

/* IQE: fetching stops with IQH on the descriptor at fault (6.5.2.10). */
static void raise_iqe(struct munit *mu, unsigned int iqei)
{
	mu->fsts |= FS_IQE;
	mu->iqercd = (mu->iqercd & ~UINT64_C(0xf)) | iqei;
	mu->iqe_wait_tail = true;
	mu->stats.iqe++;
}

/* New work, or the queue restarted: the engine is busy from now on. */
static void wake(struct munit *mu)
{
	if (!mu->exec_due && mu->ready < M.now)
		mu->ready = M.now;
}

/* What the hardware checks when it fetches; 0 or the IQEI of the error. */
static unsigned int desc_check(const struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int g = (unsigned int)fld(lo, 5, 4);

	if (fld(lo, 11, 9))
		return 3;
	switch (lo & 0xf) {
	case 1: /* context-cache */
		return !g || (lo & 0xffc0) || (lo >> 50) || hi ? 4 : 0;
	case 2: /* IOTLB */
		if (!g || (lo & 0xff00) || (lo >> 32) || (hi & 0xf80))
			return 4;
		if (g == 3 && cap_bit(mu, 39) &&
		    (hi & 0x3f) > fld(mu->cfg.cap, 53, 48))
			return 4;
		return 0;
	case 3: /* device-TLB: PFSID allowed, as the spec says */
		if (!(mu->cfg.ecap & 4))
			return 3;
		return (lo & 0x1f0) || (lo & 0xffe00000U) || fld(lo, 51, 48) ||
				       (hi & 0xffe)
			       ? 4
			       : 0;
	case 4: /* interrupt entry cache */
		return model_ir_desc_check(mu->index, lo, hi);
	case 5: /* wait */
		return (lo & 0xffffff80U) || (hi & 3) ? 4 : 0;
	case 6: /* PASID-based IOTLB: PASID or page within it */
		if (!ecap_bit(mu, EC_SMTS)) {
			return 3;
		}
		if (g < 2 || (lo & 0xf1c0) || (lo >> 52) || (hi & 0xf80)) {
			return 4;
		}
		return g == 3 && (hi & 0x3f) > fld(mu->cfg.cap, 53, 48) ? 4 : 0;
	case 7: /* PASID cache: domain, PASID or global */
		if (!ecap_bit(mu, EC_SMTS)) {
			return 3;
		}
		return g == 2 || (lo & 0xf1c0) || (lo >> 52) || hi ? 4 : 0;
	case 8: /* PASID-based device-TLB */
		if (!ecap_bit(mu, EC_SMTS) || !ecap_bit(mu, EC_DT)) {
			return 3;
		}
		return hi & 0x7fe ? 4 : 0;
	}
	return 3;
}

/* A device-TLB invalidation's target, whichever of the two kinds. */
static bool devtlb_target(uint64_t lo, uint16_t *sid)
{
	if ((lo & 0xf) == 3) {
		*sid = (uint16_t)fld(lo, 47, 32);
	} else if ((lo & 0xf) == 8) {
		*sid = (uint16_t)fld(lo, 31, 16);
	} else {
		return false;
	}
	return true;
}

static void cc_apply(struct munit *mu, uint64_t lo)
{
	unsigned int g = (unsigned int)fld(lo, 5, 4), i;
	uint16_t did = (uint16_t)fld(lo, 31, 16);
	uint16_t sid = (uint16_t)fld(lo, 47, 32);
	unsigned int fm = (unsigned int)fld(lo, 49, 48);
	/* FM masks function bits: 1 -> bit 2, 2 -> bits 2:1, 3 -> bits 2:0. */
	uint16_t ignore = (uint16_t)((7U << (3 - fm)) & 7);

	/*
	 * Scalable-mode context entries carry no domain id: device-selective
	 * invalidation goes by source id alone there, domain-selective
	 * cannot select and is taken as global.
	 */
	if (scalable(mu) && g == 2) {
		g = 1;
	}
	for (i = 0; i < CTX_CACHE; i++) {
		struct ctx_cache_entry *c = &mu->ctx[i];

		if (!c->valid)
			continue;
		if (g == 1 || (g == 2 && c->did == did) ||
		    (g == 3 && (scalable(mu) || c->did == did) &&
		     (c->sid & ~ignore) == (sid & ~ignore)))
			c->valid = false;
	}
	if (g == 1)
		mu->stats.cc_global++;
	else if (g == 2)
		mu->stats.cc_domain++;
	else
		mu->stats.cc_device++;
	ctx_scan(mu);
}

static void iotlb_apply(struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int g = (unsigned int)fld(lo, 5, 4), am = hi & 0x3f, i;
	uint16_t did = (uint16_t)fld(lo, 31, 16);
	uint64_t addr = hi & ~(uint64_t)(PG - 1), size = (uint64_t)PG << am;

	if (g == 3 && !cap_bit(mu, 39))
		g = 2; /* no PSI: a coarser invalidation is allowed */
	if (g == 3 && (addr & (size - 1)))
		violation(
			"unit %u: page-selective invalidation of 0x%llx not aligned to its mask %u",
			mu->index, (unsigned long long)addr, am);
	/*
	 * Page-selective: second-level (and pass-through) entries in the
	 * range; first-level and nested ones of the domain whatever their
	 * address (6.5.2.3).
	 */
	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];
		bool fl = t->pgtt == PGTT_FL || t->pgtt == PGTT_NESTED;

		if (!t->valid)
			continue;
		if (g == 1 || (g == 2 && t->did == did) ||
		    (g == 3 && t->did == did &&
		     (fl ||
		      (t->iova < addr + size && addr < t->iova + t->size))))
			t->valid = false;
	}
	if (g == 1)
		mu->stats.iotlb_global++;
	else if (g == 2)
		mu->stats.iotlb_domain++;
	else
		mu->stats.iotlb_page++;
}

/*
 * PASID-based IOTLB invalidation (6.5.2.4): everything of the domain and
 * PASID, or its first-level and nested entries in a range.
 */
static void piotlb_apply(struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int g = (unsigned int)fld(lo, 5, 4), am = hi & 0x3f, i;
	uint16_t did = (uint16_t)fld(lo, 31, 16);
	uint32_t pasid = (uint32_t)fld(lo, 51, 32);
	uint64_t addr = hi & ~(uint64_t)(PG - 1), size = (uint64_t)PG << am;

	if (g == 3 && (addr & (size - 1))) {
		violation(
			"unit %u: PASID-based invalidation of 0x%llx not aligned to its mask %u",
			mu->index, (unsigned long long)addr, am);
	}
	for (i = 0; i < IOTLB_SIZE; i++) {
		struct tlb_entry *t = &mu->tlb[i];
		bool fl = t->pgtt == PGTT_FL || t->pgtt == PGTT_NESTED;

		if (!t->valid || t->did != did || t->pasid != pasid) {
			continue;
		}
		if (g == 2 ||
		    (fl && t->iova < addr + size && addr < t->iova + t->size)) {
			t->valid = false;
		}
	}
	if (g == 2) {
		mu->stats.piotlb_pasid++;
	} else {
		mu->stats.piotlb_page++;
	}
}

/* PASID-cache invalidation (6.5.2.2): by domain, by PASID, or all. */
static void pc_apply(struct munit *mu, uint64_t lo)
{
	unsigned int g = (unsigned int)fld(lo, 5, 4), i;
	uint16_t did = (uint16_t)fld(lo, 31, 16);
	uint32_t pasid = (uint32_t)fld(lo, 51, 32);

	for (i = 0; i < PASID_CACHE; i++) {
		struct pasid_cache_entry *c = &mu->pc[i];

		if (!c->valid) {
			continue;
		}
		if (g == 3 ||
		    (c->did == did && (g == 0 || c->pasid == pasid))) {
			c->valid = false;
		}
	}
	if (g == 3) {
		mu->stats.pc_global++;
	} else if (g == 0) {
		mu->stats.pc_domain++;
	} else {
		mu->stats.pc_pasid++;
	}
	pe_scan(mu);
}

/*
 * Status writes are posted in order: a delayed one holds back every later
 * one, as PCIe ordering does on real hardware.
 */
static void status_write(struct munit *mu, uint64_t pa, uint32_t val,
			 uint64_t when)
{
	uint64_t due = when + mu->cfg.status_delay_ns;

	if (mu->delay_countdown == 0) {
		mu->delay_countdown = -1;
		due += mu->delay_ns;
	} else if (mu->delay_countdown > 0) {
		mu->delay_countdown--;
	}
	if (mu->write_count && mu->writes[mu->write_count - 1].due > due)
		due = mu->writes[mu->write_count - 1].due;
	if (!mu->write_count && due <= M.now) {
		unit_write32(mu, pa, val);
		return;
	}
	if (mu->write_count == WRITES_MAX) {
		violation("unit %u: more than %u status writes in flight",
			  mu->index, WRITES_MAX);
		return;
	}
	mu->writes[mu->write_count++] =
		(struct status_write){.pa = pa, .val = val, .due = due};
}

static void land_writes(struct munit *mu)
{
	unsigned int n = 0;

	while (n < mu->write_count && mu->writes[n].due <= M.now) {
		unit_write32(mu, mu->writes[n].pa, mu->writes[n].val);
		n++;
	}
	mu->write_count -= n;
	memmove(mu->writes, mu->writes + n,
		mu->write_count * sizeof(*mu->writes));
}

static void wait_apply(struct munit *mu, uint64_t lo, uint64_t hi,
		       uint64_t when)
{
	bool sw = lo & (1U << 5), irq = lo & (1U << 4);

	if (sw && irq)
		violation(
			"unit %u: wait descriptor with both SW and IF (QEMU 7.2 aborts on it)",
			mu->index);
	if (sw)
		status_write(mu, hi & ~UINT64_C(3), (uint32_t)(lo >> 32), when);
	mu->stats.waits++;
}

/*
 * docs/design.md, invariant 4, from the hardware's side: a wait must not
 * target a status word that a write is still on its way to.
 */
static void check_status_target(struct munit *mu, uint64_t lo, uint64_t hi)
{
	unsigned int i;

	if ((lo & 0xf) != 5 || !(lo & (1U << 5)))
		return;
	for (i = 0; i < mu->write_count; i++) {
		if (mu->writes[i].pa == (hi & ~UINT64_C(3)))
			violation(
				"unit %u: status word 0x%llx reused while the write of %u to it is still on its way",
				mu->index, (unsigned long long)mu->writes[i].pa,
				mu->writes[i].val);
	}
}

/* Fetch while the window has room, nothing stops the queue and work waits. */
static void qi_fetch(struct munit *mu)
{
	uint64_t pa, lo, hi, upper[2] = {0, 0};
	unsigned int iqei;

	while (mu->iqh != mu->iqt && mu->fetched_count <= mu->cfg.fetch_ahead &&
	       !(mu->fsts & (FS_IQE | FS_ITE)) && !mu->iqe_wait_tail) {
		pa = (mu->iqa & ADDR_MASK) + mu->iqh * (16U << desc_shift(mu));
		if (!readable(pa)) {
			violation("unit %u: descriptor fetched from %s memory",
				  mu->index,
				  page_state(pa) == PG_FREED ? "freed"
							     : "unallocated");
			raise_iqe(mu, 2);
			return;
		}
		if (mu->iqe_countdown == 0) {
			mu->iqe_countdown = -1;
			raise_iqe(mu, mu->iqe_info);
			return;
		}
		if (mu->iqe_countdown > 0)
			mu->iqe_countdown--;
		/* 128-bit descriptors are invalid in scalable mode (6.5.2). */
		if (scalable(mu) && !desc_shift(mu)) {
			raise_iqe(mu, 5);
			return;
		}
		memcpy(&lo, M.cpu + pa, 8);
		memcpy(&hi, M.cpu + pa + 8, 8);
		if (desc_shift(mu)) {
			memcpy(upper, M.cpu + pa + 16, 16);
		}
		iqei = desc_check(mu, lo, hi);
		/* Bits 255:128 are reserved in every type the model knows. */
		if (!iqei && (upper[0] || upper[1])) {
			iqei = 4;
		}
		if (iqei) {
			raise_iqe(mu, iqei);
			return;
		}
		check_status_target(mu, lo, hi);
		mu->fetched[mu->fetched_count++] = (struct mdesc){lo, hi};
		mu->iqh = (mu->iqh + 1) % qi_size(mu);
	}
}

static struct endpoint *endpoint_find(unsigned int unit, uint16_t sid)
{
	unsigned int i;

	for (i = 0; i < M.endpoint_count; i++) {
		if (M.endpoints[i].unit == unit && M.endpoints[i].sid == sid)
			return &M.endpoints[i];
	}
	return NULL;
}

/*
 * The descriptor at exec starts.  A device-TLB invalidation goes to its
 * endpoint; one that cannot answer (removed, silent, absent) makes the
 * hardware time out after ite_timeout_ns.
 */
static void qi_begin(struct munit *mu)
{
	const struct mdesc *d = &mu->fetched[0];
	uint64_t latency = mu->cfg.qi_latency_ns;
	struct endpoint *ep;
	uint16_t sid;

	mu->exec_times_out = false;
	if (devtlb_target(d->lo, &sid)) {
		ep = endpoint_find(mu->index, sid);
		mu->stats.devtlb++;
		if (ep) {
			ep->stats.invalidations++;
			if (ep->removed)
				ep->stats.after_removal++;
		}
		if (!ep || ep->removed || ep->latency_ns == MODEL_ATS_NEVER) {
			latency = mu->cfg.ite_timeout_ns;
			mu->exec_times_out = true;
		} else {
			latency = ep->latency_ns;
		}
	}
	mu->exec_due = mu->ready + latency;
}

/*
 * No device-TLB completion in time: ITE with ITESID, every fetched wait
 * aborted, nothing fetched until ITE is cleared, then fetching resumes at
 * IQH (6.5.2.10).  Whether fetched descriptors run again is left open by
 * the spec: with ite_refetch IQH goes back to the timed-out one and all
 * after it are fetched again; otherwise they are dropped unrun.
 */
static void qi_time_out(struct munit *mu)
{
	uint16_t sid = 0;

	if (!mu->cfg.ite_no_sid)
		devtlb_target(mu->fetched[0].lo, &sid);
	mu->fsts |= FS_ITE;
	mu->iqercd = (mu->iqercd & ~(UINT64_C(0xffff) << 32)) |
		     ((uint64_t)sid << 32);
	mu->stats.ite++;
	if (mu->cfg.ite_refetch)
		mu->iqh = mu->exec;
	else
		mu->exec = mu->iqh;
	mu->fetched_count = 0;
	mu->exec_due = 0;
}

/* A bad completion (invalid ITag or source id): ICE, the queue goes on. */
static void count_ice(struct munit *mu)
{
	if (mu->ice_countdown < 0)
		return;
	if (mu->ice_countdown-- > 0)
		return;
	if (!(mu->fsts & FS_ICE)) {
		mu->fsts |= FS_ICE;
		mu->iqercd = (mu->iqercd & ~(UINT64_C(0xffff) << 48)) |
			     ((uint64_t)mu->ice_sid << 48);
	}
	mu->stats.ice++;
}

static void qi_finish(struct munit *mu)
{
	struct mdesc d = mu->fetched[0];
	uint64_t when = mu->exec_due;
	struct executed *e;

	if (mu->exec_times_out) {
		qi_time_out(mu);
		return;
	}
	switch (d.lo & 0xf) {
	case 1:
		cc_apply(mu, d.lo);
		break;
	case 2:
		iotlb_apply(mu, d.lo, d.hi);
		break;
	case 4:
		model_ir_iec(mu->index, d.lo);
		break;
	case 5:
		wait_apply(mu, d.lo, d.hi, when);
		break;
	case 6:
		piotlb_apply(mu, d.lo, d.hi);
		break;
	case 7:
		pc_apply(mu, d.lo);
		break;
	}
	e = &mu->executed[mu->executed_count++ % EXEC_LOG];
	*e = (struct executed){.lo = d.lo, .hi = d.hi, .when = when};
	mu->stats.descs++;
	count_ice(mu);
	mu->fetched_count--;
	memmove(mu->fetched, mu->fetched + 1,
		mu->fetched_count * sizeof(*mu->fetched));
	mu->exec = (mu->exec + 1) % qi_size(mu);
	mu->ready = when;
	mu->exec_due = 0;
}

/* Descriptors run one after another, in order, each when its time comes. */
static void qi_run(struct munit *mu)
{
	if (!(mu->gsts & G_QIE))
		return;
	for (;;) {
		qi_fetch(mu);
		if (!mu->fetched_count || (mu->fsts & FS_ITE))
			return;
		if (!mu->exec_due)
			qi_begin(mu);
		/* Stalled: nothing finishes, however long it has been due. */
		if (mu->qi_stalled || M.now < mu->exec_due)
			return;
		qi_finish(mu);
	}
}

/* An IQT write: the tail may move forward, never past unfinished work. */
static void doorbell(struct munit *mu, uint64_t iqt)
{
	uint64_t q = qi_size(mu);

	if (iqt >= q) {
		mu->iqt = iqt;
		raise_iqe(mu, 1);
		return;
	}
	if ((iqt + q - mu->exec) % q < (mu->iqt + q - mu->exec) % q)
		violation(
			"unit %u: tail moved from %llu to %llu, over descriptors the hardware has not finished (from %llu)",
			mu->index, (unsigned long long)mu->iqt,
			(unsigned long long)iqt, (unsigned long long)mu->exec);
	mu->iqt = iqt;
	/* Tail writes while IQE is set do not restart fetching. */
	if (!(mu->fsts & FS_IQE))
		mu->iqe_wait_tail = false;
	wake(mu);
	qi_run(mu);
}

void model_inject_iqe(unsigned int unit, unsigned int after_descs,
		      unsigned int iqei)
{
	M.units[unit].iqe_countdown = (int)after_descs;
	M.units[unit].iqe_info = iqei;
}

void model_inject_ice(unsigned int unit, unsigned int after_descs, uint16_t sid)
{
	M.units[unit].ice_countdown = (int)after_descs;
	M.units[unit].ice_sid = sid;
}

void model_delay_status(unsigned int unit, unsigned int after_waits,
			uint64_t delay_ns)
{
	M.units[unit].delay_countdown = (int)after_waits;
	M.units[unit].delay_ns = delay_ns;
}

unsigned int model_executed(unsigned int unit, uint64_t lo, uint64_t hi,
			    uint64_t since_ns)
{
	const struct munit *mu = &M.units[unit];
	uint64_t n =
		mu->executed_count < EXEC_LOG ? mu->executed_count : EXEC_LOG;
	unsigned int found = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		const struct executed *e = &mu->executed[i];

		if (e->lo == lo && e->hi == hi && e->when >= since_ns)
			found++;
	}
	return found;
}

void model_add_endpoint(unsigned int unit, uint16_t sid,
			uint64_t ats_latency_ns)
{
	struct endpoint *ep = endpoint_find(unit, sid);

	if (!ep) {
		if (M.endpoint_count == MAX_ENDPOINTS) {
			fprintf(stderr, "model: too many endpoints\n");
			abort();
		}
		ep = &M.endpoints[M.endpoint_count++];
		memset(ep, 0, sizeof(*ep));
		ep->unit = unit;
		ep->sid = sid;
	}
	ep->latency_ns = ats_latency_ns;
	ep->removed = false;
}

void model_silence_endpoint(unsigned int unit, uint16_t sid, bool silent)
{
	struct endpoint *ep = endpoint_find(unit, sid);

	if (ep)
		ep->silent = silent;
}

void model_remove_endpoint(unsigned int unit, uint16_t sid)
{
	struct endpoint *ep = endpoint_find(unit, sid);

	if (ep)
		ep->removed = true;
}

const struct model_endpoint_stats *model_endpoint_stats(unsigned int unit,
							uint16_t sid)
{
	static const struct model_endpoint_stats none;
	struct endpoint *ep = endpoint_find(unit, sid);

	return ep ? &ep->stats : &none;
}

void model_qi_stall(unsigned int unit, bool stall)
{
	struct munit *mu = &M.units[unit];

	mu->qi_stalled = stall;
	if (!stall) {
		if (mu->exec_due && mu->exec_due < M.now)
			mu->exec_due = M.now;
		wake(mu);
	}
	model_run();
}

void model_unstick(unsigned int unit)
{
	struct munit *mu = &M.units[unit];

	mu->cfg.gsts_stuck = 0;
	if (mu->op.active)
		mu->op.due = M.now;
	model_run();
}

/* ---- registers ---- */

static bool is_reg32(uint32_t off)
{
	switch (off) {
	case R_VER:
	case R_GCMD:
	case R_GSTS:
	case R_FSTS:
	case R_FECTL:
	case R_FEDATA:
	case R_FEADDR:
	case R_FEUADDR:
	case R_PMEN:
	case R_PLMBASE:
	case R_PLMLIMIT:
	case R_ICS:
	case R_IECTL:
	case R_IEDATA:
	case R_IEADDR:
	case R_IEUADDR:
		return true;
	}
	return false;
}

static bool in_frcd(const struct munit *mu, uint32_t off)
{
	return off >= cap_fro(mu) && off < cap_fro(mu) + mu->nfr * 16U;
}

static bool is_reg64(const struct munit *mu, uint32_t off)
{
	if (off & 7)
		return false;
	switch (off) {
	case R_CAP:
	case R_ECAP:
	case R_RTADDR:
	case R_CCMD:
	case R_AFLOG:
	case R_PHMBASE:
	case R_PHMLIMIT:
	case R_IQH:
	case R_IQT:
	case R_IQA:
	case R_IQERCD:
	case R_IRTA:
		return true;
	}
	return off == ecap_iro(mu) || off == ecap_iro(mu) + 8 ||
	       in_frcd(mu, off);
}

static uint32_t fsts_read(const struct munit *mu)
{
	uint32_t v = mu->fsts;
	unsigned int i, idx;

	for (i = 0; i < mu->nfr; i++) {
		idx = (mu->frcd_next + i) % mu->nfr;
		if (mu->frcd[idx].hi & (UINT64_C(1) << 63)) {
			v |= FS_PPF | (idx << 8);
			break;
		}
	}
	return v;
}

static uint64_t reg_read64(struct munit *mu, uint32_t off)
{
	if (in_frcd(mu, off)) {
		struct frcd *r = &mu->frcd[(off - cap_fro(mu)) / 16];

		return (off - cap_fro(mu)) & 8 ? r->hi : r->lo;
	}
	switch (off) {
	case R_CAP:
		return mu->cfg.cap;
	case R_ECAP:
		return mu->cfg.ecap;
	case R_RTADDR:
		return mu->rtaddr;
	case R_AFLOG:
		return mu->aflog;
	case R_PHMBASE:
		return mu->phmbase;
	case R_PHMLIMIT:
		return mu->phmlimit;
	case R_IQH:
		return mu->iqh << (4 + desc_shift(mu));
	case R_IQT:
		return mu->iqt << (4 + desc_shift(mu));
	case R_IQA:
		return mu->iqa;
	case R_IQERCD:
		return mu->iqercd;
	case R_IRTA:
		return mu->irta;
	}
	return 0;
}

static uint32_t reg_read32(struct munit *mu, uint32_t off)
{
	switch (off) {
	case R_VER:
		return mu->cfg.ver;
	case R_GSTS:
		return mu->gsts;
	case R_FSTS:
		return fsts_read(mu);
	case R_FECTL:
		return mu->fectl;
	case R_FEDATA:
		return mu->fedata;
	case R_FEADDR:
		return mu->feaddr;
	case R_FEUADDR:
		return mu->feuaddr;
	case R_PMEN:
		return mu->pmen;
	case R_PLMBASE:
		return mu->plmbase;
	case R_PLMLIMIT:
		return mu->plmlimit;
	case R_ICS:
		return mu->ics;
	case R_IECTL:
		return mu->iectl;
	case R_IEDATA:
		return mu->iedata;
	case R_IEADDR:
		return mu->ieaddr;
	case R_IEUADDR:
		return mu->ieuaddr;
	}
	return 0;
}

static uint64_t merge(uint64_t old, uint64_t val, uint64_t mask)
{
	return (old & ~mask) | (val & mask);
}

static void frcd_write(struct munit *mu, uint32_t off, uint64_t val,
		       uint64_t mask)
{
	struct frcd *r = &mu->frcd[(off - cap_fro(mu)) / 16];

	if (!((off - cap_fro(mu)) & 8) ||
	    mask != UINT64_C(0xffffffff00000000)) {
		violation(
			"unit %u: fault record written at +0x%x with mask 0x%llx; F is cleared by a 32-bit write to the top dword",
			mu->index, (off - (uint32_t)cap_fro(mu)) % 16,
			(unsigned long long)mask);
		return;
	}
	if (val & (UINT64_C(1) << 63))
		r->hi &= ~(UINT64_C(1) << 63);
}

static void reg_write64(struct munit *mu, uint32_t off, uint64_t val,
			uint64_t mask)
{
	uint64_t qt;

	if (in_frcd(mu, off)) {
		frcd_write(mu, off, val, mask);
		return;
	}
	if (off == ecap_iro(mu) || off == ecap_iro(mu) + 8 || off == R_CCMD) {
		violation("unit %u: register-based invalidation used (0x%x)",
			  mu->index, off);
		return;
	}
	switch (off) {
	case R_RTADDR:
		mu->rtaddr = merge(mu->rtaddr, val, mask);
		return;
	case R_IQA:
		if (mu->gsts & G_QIE)
			violation("unit %u: IQA written while QI is enabled",
				  mu->index);
		mu->iqa = merge(mu->iqa, val, mask);
		if (desc_shift(mu) && !ecap_bit(mu, EC_SMTS)) {
			violation(
				"unit %u: 256-bit descriptors (IQA.DW) on a unit without SMTS",
				mu->index);
		}
		return;
	case R_IQT:
		val = merge(mu->iqt << (4 + desc_shift(mu)), val, mask);
		/* With 256-bit descriptors bit 4 is reserved too. */
		qt = UINT64_C(0x7fff0) & ~(desc_shift(mu) ? UINT64_C(0x10) : 0);
		if (val & ~qt) {
			violation("unit %u: IQT reserved bits 0x%llx",
				  mu->index, (unsigned long long)val);
		}
		if ((mask & 0xffffffffU) && (mu->gsts & G_QIE))
			doorbell(mu, fld(val, 18, 4) >> desc_shift(mu));
		else
			mu->iqt = fld(val, 18, 4) >> desc_shift(mu);
		return;
	case R_AFLOG:
		mu->aflog = merge(mu->aflog, val, mask);
		return;
	case R_PHMBASE:
		mu->phmbase = merge(mu->phmbase, val, mask);
		return;
	case R_PHMLIMIT:
		mu->phmlimit = merge(mu->phmlimit, val, mask);
		return;
	case R_IRTA:
		mu->irta = merge(mu->irta, val, mask);
		return;
	}
}

static void reg_write32(struct munit *mu, uint32_t off, uint32_t val)
{
	switch (off) {
	case R_GCMD:
		gcmd_write(mu, val);
		return;
	case R_FSTS:
		mu->fsts &= ~(val & FS_W1C);
		/*
		 * Clearing ITE resumes fetching at IQH (6.5.2.10), at once:
		 * whatever the driver has not fixed in the ring by then is
		 * fetched as it stands.
		 */
		if (val & FS_ITE) {
			wake(mu);
			qi_fetch(mu);
		}
		return;
	case R_FECTL:
		mu->fectl = (mu->fectl & ~(1U << 31)) | (val & (1U << 31));
		return;
	case R_FEDATA:
		mu->fedata = val;
		return;
	case R_FEADDR:
		mu->feaddr = val;
		return;
	case R_FEUADDR:
		mu->feuaddr = val;
		return;
	case R_PMEN:
		mu->pmen = (val & PMEN_EPM) ? PMEN_EPM | PMEN_PRS : 0;
		return;
	case R_PLMBASE:
		mu->plmbase = val;
		return;
	case R_PLMLIMIT:
		mu->plmlimit = val;
		return;
	case R_ICS:
		mu->ics &= ~(val & 1);
		return;
	case R_IECTL:
		mu->iectl = val;
		return;
	case R_IEDATA:
		mu->iedata = val;
		return;
	case R_IEADDR:
		mu->ieaddr = val;
		return;
	case R_IEUADDR:
		mu->ieuaddr = val;
		return;
	}
}

int hw_mmio_map(uint64_t pa, uint64_t len)
{
	if (!len || pa + len < pa || (pa < PHYS_SIZE && pa + len > RAM_BASE))
		return -EINVAL;
	if (M.range_count < MAX_RANGES)
		M.ranges[M.range_count++] =
			(struct mmio_range){.pa = pa, .len = len};
	return 0;
}

/* The unit owning pa, or NULL: then reads return all-ones. */
static struct munit *mmio_target(uint64_t pa, unsigned int width, uint32_t *off)
{
	unsigned int i;
	bool mapped = false;

	for (i = 0; i < M.range_count; i++) {
		if (pa >= M.ranges[i].pa &&
		    pa + width <= M.ranges[i].pa + M.ranges[i].len)
			mapped = true;
	}
	if (!mapped)
		violation("MMIO access to unmapped 0x%llx",
			  (unsigned long long)pa);
	if (pa & (width - 1))
		violation("misaligned %u-byte MMIO access at 0x%llx", width,
			  (unsigned long long)pa);
	model_run();
	for (i = 0; i < M.unit_count; i++) {
		struct munit *mu = &M.units[i];

		if (pa >= mu->base && pa < mu->base + mu->size) {
			*off = (uint32_t)(pa - mu->base);
			return mu;
		}
	}
	return NULL;
}

uint32_t hw_mmio_read32(uint64_t pa)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 4, &off);

	if (!mu)
		return UINT32_MAX;
	if (is_reg32(off))
		return reg_read32(mu, off);
	if (is_reg64(mu, off & ~7U))
		return (uint32_t)(reg_read64(mu, off & ~7U) >> ((off & 4) * 8));
	return 0;
}

uint64_t hw_mmio_read64(uint64_t pa)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 8, &off);

	if (!mu)
		return UINT64_MAX;
	if (!is_reg64(mu, off)) {
		violation("unit %u: 64-bit read at 0x%x, not a 64-bit register",
			  mu->index, off);
		return 0;
	}
	return reg_read64(mu, off);
}

void hw_mmio_write32(uint64_t pa, uint32_t val)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 4, &off);
	unsigned int shift;

	if (!mu)
		return;
	if (is_reg32(off)) {
		reg_write32(mu, off, val);
		return;
	}
	if (is_reg64(mu, off & ~7U)) {
		shift = (off & 4) * 8;
		reg_write64(mu, off & ~7U, (uint64_t)val << shift,
			    UINT64_C(0xffffffff) << shift);
	}
}

void hw_mmio_write64(uint64_t pa, uint64_t val)
{
	uint32_t off;
	struct munit *mu = mmio_target(pa, 8, &off);

	if (!mu)
		return;
	if (!is_reg64(mu, off)) {
		violation(
			"unit %u: 64-bit write at 0x%x, not a 64-bit register (QEMU aborts)",
			mu->index, off);
		return;
	}
	reg_write64(mu, off, val, ~UINT64_C(0));
}

/*
 * PCI configuration space: endpoints answer with a vendor and device id
 * at offset 0 and zeroes elsewhere until removed; everything else reads
 * all-ones.  Writes are dropped.
 */
uint32_t hw_pci_read32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	uint16_t sid = (uint16_t)(bus << 8 | devfn);
	unsigned int i;

	for (i = 0; i < M.endpoint_count; i++) {
		if (M.endpoints[i].sid == sid && !M.endpoints[i].removed &&
		    !M.endpoints[i].silent && !seg)
			return off < 4 ? 0x12348086U : 0;
	}
	return UINT32_MAX;
}

uint16_t hw_pci_read16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint16_t)(hw_pci_read32(seg, bus, devfn, off & ~3U) >>
			  ((off & 2) * 8));
}

uint8_t hw_pci_read8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off)
{
	return (uint8_t)(hw_pci_read32(seg, bus, devfn, off & ~3U) >>
			 ((off & 3) * 8));
}

void hw_pci_write8(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		   uint8_t val)
{
}

void hw_pci_write16(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint16_t val)
{
}

void hw_pci_write32(uint16_t seg, uint8_t bus, uint8_t devfn, uint16_t off,
		    uint32_t val)
{
}

/* ---- log ---- */

void log_printf(enum log_level level, const char *subsys, const char *fmt, ...)
{
	char *line = M.log[M.log_count++ % LOG_LINES];
	int n;
	va_list ap;

	n = snprintf(line, sizeof(M.log[0]), "%s: ", subsys);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(M.log[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	if (M.verbose)
		fprintf(stderr, "[%llu.%06llu] %s\n",
			(unsigned long long)(M.now / 1000000000),
			(unsigned long long)(M.now / 1000 % 1000000), line);
}

void log_set_level(enum log_level level)
{
}

unsigned int model_log_count(const char *substr)
{
	unsigned int i, n = M.log_count < LOG_LINES ? M.log_count : LOG_LINES;
	unsigned int found = 0;

	for (i = 0; i < n; i++) {
		if (strstr(M.log[i], substr))
			found++;
	}
	return found;
}

void model_log_clear(void)
{
	M.log_count = 0;
}

/* ---- set-up ---- */

void model_unit_config_default(struct model_unit_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ver = 0x10;
	cfg->cap = UINT64_C(0x00d2008c22260206);
	cfg->ecap = UINT64_C(0xf00f4a);
	cfg->gcmd_latency_ns = 1000;
	cfg->qi_latency_ns = 1000;
	cfg->ite_timeout_ns = UINT64_C(60000000000);
}

void model_init(void)
{
	memset(&M, 0, sizeof(M));
	M.cpu = mmap(NULL, PHYS_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	M.dev = mmap(NULL, PHYS_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	M.state = calloc(PHYS_SIZE / PG, 1);
	if (M.cpu == MAP_FAILED || M.dev == MAP_FAILED || !M.state) {
		fprintf(stderr, "model: cannot reserve simulated memory\n");
		abort();
	}
	M.next_pa = RAM_BASE;
	M.now = UINT64_C(1000000000);
	M.relax_ns = 1000;
	M.verbose = getenv("MODEL_VERBOSE");
	model_ir_reset();
}

void model_fini(void)
{
	unsigned int i;

	for (i = 0; i < M.unit_count; i++) {
		free(M.units[i].frcd);
		free(M.units[i].shadow);
		free(M.units[i].pe_shadow);
	}
	free(M.bindings);
	free(M.expects);
	free(M.recycled);
	free(M.state);
	model_ir_reset();
	munmap(M.cpu, PHYS_SIZE);
	munmap(M.dev, PHYS_SIZE);
	memset(&M, 0, sizeof(M));
}

unsigned int model_add_unit(uint64_t base, const struct model_unit_config *cfg)
{
	struct munit *mu = &M.units[M.unit_count];
	uint64_t end;

	memset(mu, 0, sizeof(*mu));
	mu->index = M.unit_count;
	mu->base = base;
	mu->cfg = *cfg;
	mu->nfr = (unsigned int)fld(cfg->cap, 47, 40) + 1;
	mu->frcd = calloc(mu->nfr, sizeof(*mu->frcd));
	mu->shadow = calloc(65536, sizeof(*mu->shadow));
	mu->iqe_countdown = -1;
	mu->ice_countdown = -1;
	mu->delay_countdown = -1;
	if (mu->cfg.fetch_ahead >= FETCH_MAX)
		mu->cfg.fetch_ahead = FETCH_MAX - 1;
	mu->fectl = 1U << 31;
	end = cap_fro(mu) + mu->nfr * 16U;
	if (ecap_iro(mu) + 16 > end)
		end = ecap_iro(mu) + 16;
	mu->size = end > PG ? (end + PG - 1) & ~(uint64_t)(PG - 1) : PG;
	return M.unit_count++;
}

unsigned int model_unit_count(void)
{
	return M.unit_count;
}

void model_set_firmware_state(unsigned int unit,
			      const struct model_firmware_state *fw)
{
	struct munit *mu = &M.units[unit];

	if (fw->root_pa) {
		mu->rtaddr = fw->root_pa;
		mu->root_active = fw->root_pa;
		mu->gsts |= G_SRTP;
	}
	if (fw->te)
		mu->gsts |= G_TE;
	if (fw->ir)
		mu->gsts |= G_IRE | G_SIRTP;
	if (fw->iqa) {
		mu->iqa = fw->iqa;
		mu->iqh = mu->iqt = mu->exec = 3;
		mu->gsts |= G_QIE;
	}
	if (fw->pmr)
		mu->pmen = PMEN_EPM | PMEN_PRS;
	mu->fsts |= fw->fsts;
}

const struct model_unit_stats *model_unit_stats(unsigned int unit)
{
	return &M.units[unit].stats;
}

void model_reset_stats(unsigned int unit)
{
	memset(&M.units[unit].stats, 0, sizeof(M.units[unit].stats));
}
