/*
 * The VT-d hardware model behind the hw seam; see model.h for what it
 * simulates and checks.  Single-threaded and deterministic: hardware work
 * (GCMD handshakes, descriptor processing) happens when virtual time
 * reaches it, checked at every seam call.
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

struct model_state M;

uint64_t model_fld(uint64_t v, unsigned int hi, unsigned int lo)
{
	uint64_t mask = hi - lo == 63 ? ~UINT64_C(0)
				      : (UINT64_C(1) << (hi - lo + 1)) - 1;

	return (v >> lo) & mask;
}

__attribute__((format(printf, 1, 2))) void model_violation(const char *fmt, ...)
{
	char *line = M.violation_log[M.violations % VIOLATION_LINES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(M.violation_log[0]), fmt, ap);
	va_end(ap);
	M.violations++;
	fprintf(stderr, "model: model_violation: %s\n", line);
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
	model_violation("%s", msg);
}

/* ---- capabilities ---- */

unsigned int model_cap_sagaw(const struct munit *mu)
{
	return (unsigned int)model_fld(mu->cfg.cap, 12, 8);
}

unsigned int model_cap_mgaw(const struct munit *mu)
{
	return (unsigned int)model_fld(mu->cfg.cap, 21, 16) + 1;
}

uint64_t model_cap_fro(const struct munit *mu)
{
	return model_fld(mu->cfg.cap, 33, 24) * 16;
}

unsigned int model_cap_sllps(const struct munit *mu)
{
	return (unsigned int)model_fld(mu->cfg.cap, 37, 34);
}

bool model_cap_bit(const struct munit *mu, unsigned int bit)
{
	return mu->cfg.cap & (UINT64_C(1) << bit);
}

bool model_cap_cm(const struct munit *mu)
{
	return model_cap_bit(mu, 7);
}

bool model_coherent(const struct munit *mu)
{
	return mu->cfg.ecap & 1;
}

bool model_ecap_bit(const struct munit *mu, unsigned int bit)
{
	return mu->cfg.ecap & (UINT64_C(1) << bit);
}

/* The latched root table is in model_scalable mode (TTM = 01). */
bool model_scalable(const struct munit *mu)
{
	return model_fld(mu->root_active, 11, 10) == 1;
}

/* 256-bit descriptors: IQA.DW. */
unsigned int model_desc_shift(const struct munit *mu)
{
	return (unsigned int)model_fld(mu->iqa, 11, 11);
}

uint64_t model_ecap_iro(const struct munit *mu)
{
	return model_fld(mu->cfg.ecap, 17, 8) * 16;
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
		fprintf(stderr,
			"model: cannot model_reserve simulated memory\n");
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
	mu->nfr = (unsigned int)model_fld(cfg->cap, 47, 40) + 1;
	mu->frcd = calloc(mu->nfr, sizeof(*mu->frcd));
	mu->shadow = calloc(65536, sizeof(*mu->shadow));
	mu->iqe_countdown = -1;
	mu->ice_countdown = -1;
	mu->delay_countdown = -1;
	if (mu->cfg.fetch_ahead >= FETCH_MAX)
		mu->cfg.fetch_ahead = FETCH_MAX - 1;
	mu->fectl = 1U << 31;
	end = model_cap_fro(mu) + mu->nfr * 16U;
	if (model_ecap_iro(mu) + 16 > end)
		end = model_ecap_iro(mu) + 16;
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
