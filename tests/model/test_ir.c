/*
 * Interrupt remapping against the model: the table enabled with the unit,
 * delivery through remappable-format MSIs, source-id verification (single
 * ids, phantom functions, bridge aliases), entry updates with the
 * interrupt entry cache checked, x2APIC mode, compatibility format, a
 * late invalidation; in legacy and scalable mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "lib/bits.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/model/harness.h"
#include "tests/model/model.h"
#include "tests/model/model_ir.h"

#define DEV	 SID(0, 3, 0)
#define OTHER	 SID(0, 4, 0)
#define VEC	 0x41
#define VEC2	 0x52
#define APIC	 3U
#define RELAX_NS UINT64_C(100000)

/* Which unit a test runs on. */
struct mode {
	bool scalable;
};

static const struct mode legacy = {.scalable = false};
static const struct mode scalable = {.scalable = true};

static struct model_unit_config mode_cfg(void **state)
{
	const struct mode *m = *state;

	return m->scalable ? sm_cfg(4) : default_cfg();
}

/*
 * Entry index of u's interrupt remapping table in memory, found as the
 * unit finds it: through the address latched in IRTA.
 */
static struct vtd_irte *irte_at(const struct vtd_unit *u, unsigned int index)
{
	uint64_t irta = hw_mmio_read64(BASE(vtd_unit_index(u)) + VTD_IRTA_REG);
	struct vtd_irte *table = hw_phys_to_virt(irta & VTD_IRTA_IRTA);

	return &table[index];
}

/* A unit up with interrupt remapping, the config adjusted by the test. */
static unsigned int up(struct vtd_unit *u, struct model_unit_config cfg,
		       const struct vtd_config *vc)
{
	unsigned int idx = add_unit(&cfg);

	assert_int_equal(vtd_unit_init(u, idx, 0, BASE(idx), vc), 0);
	assert_int_equal(vtd_unit_enable(u), 0);
	return idx;
}

static struct model_msi_result send(unsigned int idx, rid_t sid,
				    unsigned int index)
{
	struct vtd_msi msg = vtd_irte_msi(index);
	struct model_msi_result r;

	model_msi(idx, sid, msg.address, msg.data, &r);
	return r;
}

static void expect_delivered(unsigned int idx, rid_t sid, unsigned int index,
			     uint32_t dest, uint8_t vector)
{
	struct model_msi_result r = send(idx, sid, index);

	assert_true(r.delivered);
	assert_true(r.remapped);
	assert_false(r.stale);
	assert_int_equal(r.index, index);
	assert_int_equal(r.dest, dest);
	assert_int_equal(r.vector, vector);
	/* Fixed delivery, physical destination, edge. */
	assert_int_equal(r.dlm, 0);
	assert_false(r.logical);
	assert_false(r.level);
}

static void expect_blocked(unsigned int idx, rid_t sid, unsigned int index,
			   uint8_t reason)
{
	struct model_msi_result r = send(idx, sid, index);

	assert_false(r.delivered);
	assert_int_equal(r.reason, reason);
}

static unsigned int program(struct vtd_unit *u, rid_t sid, uint8_t vector)
{
	unsigned int index;

	assert_int_equal(vtd_irte_alloc(u, &index), 0);
	assert_int_equal(vtd_irte_set(u, index, APIC, vector, &sid, 1), 0);
	return index;
}

/* Remapping comes on with the unit and goes off with it. */
static void test_enabled_with_unit(void **state)
{
	struct vtd_unit_info info;
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL);

	vtd_unit_info(&u, &info);
	assert_true(info.ir);
	assert_true(info.te);
	assert_false(info.ir_x2apic);
	assert_int_equal(info.irtes, 0);
	assert_int_equal(model_ir_stats(idx)->iec_global, 1);
	/* Nothing programmed: every remappable interrupt is blocked. */
	expect_blocked(idx, DEV, 0, MODEL_IR_FR_NP);
	shut_down(&u);
	vtd_unit_info(&u, &info);
	assert_false(info.ir);
}

/* A unit without ECAP.IR has no table, and says so. */
static void test_no_ir(void **state)
{
	struct model_unit_config cfg = mode_cfg(state);
	struct vtd_unit_info info;
	struct vtd_unit u;
	unsigned int index;

	cfg.ecap &= ~VTD_ECAP_IR;
	up(&u, cfg, NULL);
	vtd_unit_info(&u, &info);
	assert_false(info.ir);
	assert_int_equal(vtd_irte_alloc(&u, &index), -ENOTSUP);
	shut_down(&u);
}

static void test_deliver(void **state)
{
	struct vtd_unit_info info;
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL), first, index;
	uint64_t before = model_ir_stats(idx)->iec_index;

	assert_int_equal(vtd_irte_alloc(&u, &first), 0);
	index = program(&u, DEV, VEC);
	assert_int_equal(index, first + 1);
	assert_int_equal(model_ir_stats(idx)->iec_index, before + 1);
	expect_delivered(idx, DEV, index, APIC, VEC);
	/* The neighbour was never programmed. */
	expect_blocked(idx, DEV, first, MODEL_IR_FR_NP);
	/* Beyond the table's 256 entries. */
	expect_blocked(idx, DEV, VTD_IRTE_COUNT, MODEL_IR_FR_INDEX);
	vtd_unit_info(&u, &info);
	assert_int_equal(info.irtes, 2);
	assert_int_equal(vtd_irte_free(&u, index), 0);
	assert_int_equal(vtd_irte_free(&u, first), 0);
	expect_blocked(idx, DEV, index, MODEL_IR_FR_NP);
	vtd_unit_info(&u, &info);
	assert_int_equal(info.irtes, 0);
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC, (rid_t[]){DEV}, 1),
			 -EINVAL);
	shut_down(&u);
}

/* An interrupt from a requester that does not own the entry is dropped. */
static void test_source_mismatch(void **state)
{
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL);
	unsigned int index = program(&u, DEV, VEC);

	expect_blocked(idx, OTHER, index, MODEL_IR_FR_SID);
	expect_blocked(idx, SID(1, 3, 0), index, MODEL_IR_FR_SID);
	expect_blocked(idx, SID(0, 3, 1), index, MODEL_IR_FR_SID);
	expect_delivered(idx, DEV, index, APIC, VEC);
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC, NULL, 0), -EINVAL);
	shut_down(&u);
}

/*
 * A blocked interrupt leaves a fault record with its index instead of an
 * address (VT-d spec 7.1.3): decoded as an interrupt fault, apart from
 * the DMA fault that follows it from the same requester.
 */
static void test_blocked_interrupt_recorded(void **state)
{
	struct fault_log log = {0};
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL), first, index;

	/* Not entry 0: the index must come from FI[63:48] exactly. */
	assert_int_equal(vtd_irte_alloc(&u, &first), 0);
	index = program(&u, DEV, VEC);
	assert_int_not_equal(index, 0);
	expect_blocked(idx, OTHER, index, MODEL_IR_FR_SID);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 1);
	assert_int_equal(dma_fill(idx, OTHER, 0x5000, 0x11, 8), -EFAULT);
	assert_int_equal(vtd_fault_poll(&u, on_fault, &log), 1);
	assert_true(log.f[0].irq);
	assert_int_equal(rid_val(log.f[0].sid), rid_val(OTHER));
	assert_int_equal(log.f[0].index, index);
	assert_int_equal(log.f[0].reason, MODEL_IR_FR_SID);
	assert_int_equal(iova_val(log.f[0].addr), 0);
	assert_string_equal(log.f[0].text, "IR: source-id verification failed");
	assert_false(log.f[1].irq);
	assert_int_equal(rid_val(log.f[1].sid), rid_val(OTHER));
	assert_int_equal(iova_val(log.f[1].addr), 0x5000);
	assert_true(log.f[1].write);
	shut_down(&u);
}

/* An entry for every id in ids, each delivered; its source-id word. */
static uint64_t program_ids(struct vtd_unit *u, unsigned int idx,
			    const rid_t *ids, unsigned int count,
			    unsigned int *index)
{
	unsigned int i;

	assert_int_equal(vtd_irte_alloc(u, index), 0);
	assert_int_equal(vtd_irte_set(u, *index, APIC, VEC, ids, count), 0);
	for (i = 0; i < count; i++) {
		expect_delivered(idx, ids[i], *index, APIC, VEC);
	}
	return irte_at(u, *index)->hi;
}

/*
 * A conventional PCI device behind a PCIe-to-PCI bridge: its interrupts
 * may carry its own id or the bridge's alias (secondary bus, devfn 0).
 * Both are accepted, another bus is not.
 */
static void test_bridge_alias(void **state)
{
	const rid_t ids[] = {SID(5, 2, 0), SID(5, 0, 0)};
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL), index;
	uint64_t hi = program_ids(&u, idx, ids, 2, &index);

	assert_int_equal(field_get64(VTD_IRTE_HI_SVT, hi), VTD_IRTE_SVT_BUS);
	assert_int_equal(field_get64(VTD_IRTE_HI_SID, hi), 0x0505);
	expect_blocked(idx, SID(4, 2, 0), index, MODEL_IR_FR_SID);
	expect_blocked(idx, SID(6, 0, 0), index, MODEL_IR_FR_SID);
	shut_down(&u);
}

/* Phantom functions: SQ leaves out the function bits that differ. */
static void test_phantom_functions(void **state)
{
	const rid_t ids[] = {SID(1, 2, 0), SID(1, 2, 4)};
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL), index;
	uint64_t hi = program_ids(&u, idx, ids, 2, &index);

	assert_int_equal(field_get64(VTD_IRTE_HI_SVT, hi), VTD_IRTE_SVT_SID);
	assert_int_equal(field_get64(VTD_IRTE_HI_SQ, hi), 1);
	expect_blocked(idx, SID(1, 2, 1), index, MODEL_IR_FR_SID);
	expect_blocked(idx, SID(1, 3, 0), index, MODEL_IR_FR_SID);
	shut_down(&u);
}

/*
 * Updates: a new vector in place, a new owner through not-present, then
 * clear.  The model checks each delivery against the IEC and memory, and
 * every flush of the table for a torn entry.
 */
static void test_update_with_iec(void **state)
{
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL);
	unsigned int index = program(&u, DEV, VEC);
	rid_t other = OTHER;
	uint64_t before;

	expect_delivered(idx, DEV, index, APIC, VEC);
	before = model_ir_stats(idx)->iec_index;
	assert_int_equal(
		vtd_irte_set(&u, index, APIC + 1, VEC2, (rid_t[]){DEV}, 1), 0);
	/* Same owner: one store, one invalidation. */
	assert_int_equal(model_ir_stats(idx)->iec_index, before + 1);
	expect_delivered(idx, DEV, index, APIC + 1, VEC2);
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC, &other, 1), 0);
	/* New owner: blocked and invalidated first, then published. */
	assert_int_equal(model_ir_stats(idx)->iec_index, before + 3);
	expect_delivered(idx, OTHER, index, APIC, VEC);
	expect_blocked(idx, DEV, index, MODEL_IR_FR_SID);
	assert_int_equal(vtd_irte_clear(&u, index), 0);
	expect_blocked(idx, OTHER, index, MODEL_IR_FR_NP);
	assert_int_equal(irte_at(&u, index)->lo, 0);
	assert_int_equal(irte_at(&u, index)->hi, 0);
	/* Clearing an empty entry touches nothing. */
	before = model_ir_stats(idx)->iec_index;
	assert_int_equal(vtd_irte_clear(&u, index), 0);
	assert_int_equal(model_ir_stats(idx)->iec_index, before);
	assert_int_equal(model_violations(), 0);
	shut_down(&u);
}

/* Change an entry behind the driver's back, flushed so the unit sees it. */
static void poke_irte(struct vtd_unit *u, unsigned int index, uint64_t lo,
		      uint64_t hi)
{
	struct vtd_irte *e = irte_at(u, index);

	e->lo = lo;
	e->hi = hi;
	hw_cache_flush(e, sizeof(*e));
}

/*
 * A driver that skips the IEC invalidation: the unit keeps delivering the
 * old entry, and the model says so.  The driver's own update fixes it.
 */
static void test_stale_entry_caught(void **state)
{
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL);
	unsigned int index = program(&u, DEV, VEC);
	struct vtd_irte old = *irte_at(&u, index);
	struct model_msi_result r;

	expect_delivered(idx, DEV, index, APIC, VEC);
	poke_irte(&u, index, field_set64(VTD_IRTE_LO_V, old.lo, VEC2), old.hi);
	r = send(idx, DEV, index);
	assert_true(r.delivered);
	assert_true(r.stale);
	assert_int_equal(r.vector, VEC);
	assert_true(model_violation_seen("stale interrupt entry cache"));
	model_clear_violations();
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC2, (rid_t[]){DEV}, 1),
			 0);
	expect_delivered(idx, DEV, index, APIC, VEC2);
	shut_down(&u);
}

/*
 * A driver that rewrites the source-id word of a present entry: the unit
 * sees present, then present with another owner.  The model flags it;
 * the driver's path through not-present does not (test_update_with_iec).
 */
static void test_torn_entry_caught(void **state)
{
	struct vtd_unit u;
	unsigned int idx = up(&u, mode_cfg(state), NULL);
	unsigned int index = program(&u, DEV, VEC);
	struct vtd_irte old = *irte_at(&u, index);

	expect_delivered(idx, DEV, index, APIC, VEC);
	poke_irte(&u, index, old.lo,
		  field_set64(VTD_IRTE_HI_SID, old.hi, rid_val(OTHER)));
	assert_true(model_violation_seen("torn"));
	model_clear_violations();
	assert_int_equal(vtd_irte_clear(&u, index), 0);
	assert_int_equal(model_violations(), 0);
	shut_down(&u);
}

/* x2APIC mode only with ECAP.EIM, a caller in x2APIC mode and no opt-out. */
static void test_x2apic(void **state)
{
	struct model_unit_config cfg = mode_cfg(state);
	const rid_t sid = DEV;
	struct vtd_unit_info info;
	struct vtd_config vc;
	struct vtd_unit u, v, w;
	unsigned int idx, index;

	vtd_config_default(&vc);
	vc.x2apic = true;
	cfg.ecap |= VTD_ECAP_EIM;
	idx = up(&u, cfg, &vc);
	vtd_unit_info(&u, &info);
	assert_true(info.ir_x2apic);
	assert_int_equal(vtd_irte_alloc(&u, &index), 0);
	assert_int_equal(vtd_irte_set(&u, index, 0x12345, VEC, &sid, 1), 0);
	expect_delivered(idx, DEV, index, 0x12345, VEC);
	shut_down(&u);

	/* Firmware opts out: 8-bit destinations only. */
	vc.x2apic_opt_out = true;
	idx = up(&v, cfg, &vc);
	vtd_unit_info(&v, &info);
	assert_false(info.ir_x2apic);
	assert_int_equal(vtd_irte_alloc(&v, &index), 0);
	assert_int_equal(vtd_irte_set(&v, index, 0x100, VEC, &sid, 1), -ERANGE);
	assert_int_equal(vtd_irte_set(&v, index, 0xff, VEC, &sid, 1), 0);
	expect_delivered(idx, DEV, index, 0xff, VEC);
	shut_down(&v);

	/* No ECAP.EIM. */
	vc.x2apic_opt_out = false;
	cfg.ecap &= ~VTD_ECAP_EIM;
	up(&w, cfg, &vc);
	vtd_unit_info(&w, &info);
	assert_false(info.ir_x2apic);
	shut_down(&w);
}

/* Compatibility format passes with remapping off, blocked with it on. */
static void test_compat_blocked(void **state)
{
	struct model_unit_config cfg = mode_cfg(state);
	uint64_t addr = UINT64_C(0xfee00000) | APIC << 12;
	struct model_msi_result r;
	struct vtd_unit u;
	unsigned int idx = add_unit(&cfg);

	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), NULL), 0);
	model_msi(idx, DEV, addr, VEC, &r);
	assert_true(r.delivered);
	assert_false(r.remapped);
	assert_int_equal(r.vector, VEC);
	assert_int_equal(r.dest, APIC);
	assert_int_equal(vtd_unit_enable(&u), 0);
	model_msi(idx, DEV, addr, VEC, &r);
	assert_false(r.delivered);
	assert_int_equal(r.reason, MODEL_IR_FR_COMPAT);
	shut_down(&u);
}

/* Firmware's remapping is replaced by ours, the IEC flushed after SIRTP. */
static void test_firmware_ir_replaced(void **state)
{
	struct model_unit_config cfg = mode_cfg(state);
	struct model_firmware_state fw = {.ir = true};
	struct vtd_unit_info info;
	struct vtd_unit u;
	unsigned int idx = add_unit(&cfg), index;

	model_set_firmware_state(idx, &fw);
	assert_int_equal(vtd_unit_init(&u, idx, 0, BASE(idx), NULL), 0);
	assert_int_equal(vtd_unit_enable(&u), 0);
	vtd_unit_info(&u, &info);
	assert_true(info.ir);
	index = program(&u, DEV, VEC);
	expect_delivered(idx, DEV, index, APIC, VEC);
	shut_down(&u);
}

/*
 * An IEC invalidation that misses its deadline: -ETIMEDOUT, the unit is
 * degraded (no new entries) until the invalidation completes.
 */
static void test_iec_deadline(void **state)
{
	struct model_unit_config cfg = mode_cfg(state);
	const rid_t sid = DEV;
	struct vtd_config vc;
	struct vtd_unit u;
	unsigned int idx, index;
	uint64_t t0;

	model_set_relax(RELAX_NS);
	vtd_config_default(&vc);
	assert_int_equal(vtd_config_set(&vc, "vtd.deadline.iotlb", 5000), 0);
	idx = up(&u, cfg, &vc);
	assert_int_equal(vtd_irte_alloc(&u, &index), 0);
	model_qi_stall(idx, true);
	t0 = model_now();
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC, &sid, 1),
			 -ETIMEDOUT);
	assert_true(model_now() - t0 >= 5 * UINT64_C(1000000));
	assert_true(model_now() - t0 <=
		    vtd_unit_deadline_ns(&u, VTD_DEADLINE_IOTLB) +
			    2 * RELAX_NS);
	/* The batch stays at the head of the queue: the poll sees it late. */
	vtd_qi_poll(&u);
	assert_true(vtd_unit_degraded(&u));
	assert_int_equal(
		vtd_unit_stats(&u)->deadline[VTD_DEADLINE_IOTLB].misses, 1);
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC, &sid, 1),
			 -ETIMEDOUT);
	model_qi_stall(idx, false);
	model_advance(10000);
	vtd_qi_poll(&u);
	assert_false(vtd_unit_degraded(&u));
	assert_int_equal(vtd_irte_set(&u, index, APIC, VEC, &sid, 1), 0);
	expect_delivered(idx, DEV, index, APIC, VEC);
	shut_down(&u);
}

/* The handle split over address bits 19:5 and 2 (VT-d spec 5.1.5.2). */
static void test_msi_format(void **state)
{
	struct vtd_msi m = vtd_irte_msi(0x8003);

	assert_int_equal(m.address,
			 UINT64_C(0xfee00000) | 3 << 5 | 1 << 4 | 1 << 2);
	assert_int_equal(m.data, 0);
	m = vtd_irte_msi(0x7fff);
	assert_int_equal(m.address,
			 UINT64_C(0xfee00000) | 0x7fff << 5 | 1 << 4);
}

#define MODE(f, m)                                                   \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, \
						 (void *)&(m))
#define BOTH(f) MODE(f, legacy), MODE(f, scalable)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_enabled_with_unit),
		BOTH(test_no_ir),
		BOTH(test_deliver),
		BOTH(test_source_mismatch),
		BOTH(test_blocked_interrupt_recorded),
		BOTH(test_bridge_alias),
		BOTH(test_phantom_functions),
		BOTH(test_update_with_iec),
		BOTH(test_stale_entry_caught),
		BOTH(test_torn_entry_caught),
		BOTH(test_x2apic),
		BOTH(test_compat_blocked),
		BOTH(test_firmware_ir_replaced),
		BOTH(test_iec_deadline),
		cmocka_unit_test(test_msi_format),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
