/* Helpers shared by the model tests; see harness.h. */
#include "tests/model/harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "lib/bits.h"

#include "tests/model/model.h"

int setup(void **state)
{
	model_init();
	return 0;
}

int teardown(void **state)
{
	unsigned int v = model_violations();

	model_fini();
	if (v)
		fprintf(stderr, "%u unexpected model violations\n", v);
	return v ? -1 : 0;
}

unsigned int add_unit(const struct model_unit_config *cfg)
{
	return model_add_unit(BASE(model_unit_count()), cfg);
}

void bring_up(struct vtd_unit *u, unsigned int idx)
{
	assert_int_equal(vtd_unit_init(u, idx, 0, BASE(idx), NULL), 0);
	assert_int_equal(vtd_unit_enable(u), 0);
}

void shut_down(struct vtd_unit *u)
{
	assert_int_equal(vtd_unit_disable(u), 0);
	vtd_unit_fini(u);
}

struct vtd_domain *new_domain(struct vtd_unit *u, unsigned int aw)
{
	struct vtd_domain *d = NULL;

	assert_int_equal(vtd_domain_create(&u, 1, aw, &d), 0);
	return d;
}

struct vtd_domain_info dom_info(const struct vtd_domain *d)
{
	struct vtd_domain_info info;

	vtd_domain_info(d, &info);
	return info;
}

void t_map(struct vtd_domain *d, iova_t iova, hpa_t hpa, uint64_t len,
	   unsigned int prot)
{
	assert_int_equal(vtd_domain_map(d, iova, hpa, len, prot), 0);
	model_expect_map(d, iova_val(iova), hpa_val(hpa), len, prot);
}

void t_unmap(struct vtd_domain *d, iova_t iova, uint64_t len)
{
	assert_int_equal(vtd_domain_unmap(d, iova, len), 0);
	model_expect_unmap(d, iova_val(iova), len);
}

void t_attach(struct vtd_domain *d, struct vtd_unit *u, rid_t sid)
{
	assert_int_equal(vtd_attach(d, u, &sid, 1), 0);
	model_expect_attach(vtd_unit_index(u), sid, d);
}

void t_detach(struct vtd_domain *d, struct vtd_unit *u, rid_t sid)
{
	assert_int_equal(vtd_detach(d, u, &sid, 1), 0);
	model_expect_detach(vtd_unit_index(u), sid);
}

struct vtd_domain *up_attached(struct vtd_unit *u, unsigned int idx,
			       unsigned int aw, rid_t sid)
{
	struct vtd_domain *d;

	bring_up(u, idx);
	d = new_domain(u, aw);
	t_attach(d, u, sid);
	return d;
}

void down_attached(struct vtd_domain *d, struct vtd_unit *u, rid_t sid)
{
	t_detach(d, u, sid);
	assert_int_equal(vtd_domain_destroy(d), 0);
	shut_down(u);
}

void t_attach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		    uint32_t pasid)
{
	assert_int_equal(vtd_attach_pasid(d, u, sid, pasid), 0);
	model_expect_attach_pasid(vtd_unit_index(u), sid, pasid, d);
}

void t_detach_pasid(struct vtd_domain *d, struct vtd_unit *u, rid_t sid,
		    uint32_t pasid)
{
	assert_int_equal(vtd_detach_pasid(d, u, sid, pasid), 0);
	model_expect_detach_pasid(vtd_unit_index(u), sid, pasid);
}

int dma_fill_pasid(unsigned int unit, rid_t sid, uint32_t pasid, uint64_t iova,
		   uint8_t byte, size_t len)
{
	uint8_t buf[256];

	memset(buf, byte, sizeof(buf));
	return model_dma_write_pasid(unit, sid, pasid, iova, buf,
				     len < 256 ? len : 256);
}

int dma_fill(unsigned int unit, rid_t sid, uint64_t iova, uint8_t byte,
	     size_t len)
{
	return dma_fill_pasid(unit, sid, MODEL_NO_PASID, iova, byte, len);
}

uint8_t ram_byte(uint64_t hpa)
{
	return *(uint8_t *)hw_phys_to_virt(hpa);
}

void on_fault(void *ctx, const struct vtd_fault *f)
{
	struct fault_log *log = ctx;

	if (log->count < 32)
		log->f[log->count] = *f;
	log->count++;
}

struct model_unit_config default_cfg(void)
{
	struct model_unit_config cfg;

	model_unit_config_default(&cfg);
	return cfg;
}

uint64_t *leaf_entry(struct vtd_domain *d, uint64_t iova)
{
	uint64_t pa = d->pt.root_pa, *table;
	unsigned int level;

	for (level = d->pt.levels; level > 1; level--) {
		table = hw_phys_to_virt(pa);
		pa = table[(iova >> (12 + 9 * (level - 1))) & 511] &
		     VTD_SL_ADDR;
	}
	return (uint64_t *)hw_phys_to_virt(pa) + ((iova >> 12) & 511);
}

void poke(uint64_t *entry, uint64_t val)
{
	*entry = val;
	hw_cache_flush(entry, sizeof(*entry));
}

struct model_unit_config sm_cfg(unsigned int pss)
{
	struct model_unit_config cfg = default_cfg();

	cfg.ecap |= VTD_ECAP_SMTS | VTD_ECAP_SLTS | VTD_ECAP_FLTS |
		    VTD_ECAP_NEST | VTD_ECAP_PT | VTD_ECAP_PASID;
	cfg.ecap = field_set64(VTD_ECAP_PSS, cfg.ecap, pss);
	return cfg;
}

void fault_expect(struct vtd_unit *u, rid_t sid, uint64_t addr, uint8_t reason,
		  bool write)
{
	struct fault_log log = {0};

	assert_int_equal(vtd_fault_poll(u, on_fault, &log), 1);
	assert_int_equal(rid_val(log.f[0].sid), rid_val(sid));
	assert_int_equal(iova_val(log.f[0].addr), addr);
	assert_int_equal(log.f[0].reason, reason);
	assert_int_equal(log.f[0].write, write);
}
