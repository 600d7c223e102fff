#include <stdbool.h>
#include <stdint.h>

#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/*
 * Monotonic time from the TSC.  Until calibration the TSC is taken to run at
 * 1 GHz, so early deadlines still expire, only less precisely.  The
 * reference is the HPET, else the ACPI PM timer, else CPUID leaf 0x15 when
 * it states the crystal frequency; all of them are read-only here.
 */
#define NSEC_PER_SEC UINT64_C(1000000000)
#define CAL_NS	     UINT64_C(20000000) /* 20 ms of reference time */

/* HPET registers (IA-PC HPET spec 1.0a, 2.3). */
#define HPET_GCAP_ID	     0x000
#define HPET_GCAP_CLK_PERIOD GENMASK64(63, 32) /* femtoseconds */
#define HPET_GEN_CONF	     0x010
#define HPET_GEN_CONF_ENABLE BIT64(0)
#define HPET_MAIN_COUNTER    0x0f0

#define PM_TIMER_HZ UINT64_C(3579545) /* ACPI 6.4, 4.8.3.3 */

static struct {
	uint64_t tsc0;
	uint64_t hz;
	const char *source;
} clk = {0, NSEC_PER_SEC, "uncalibrated"};

static volatile uint64_t *hpet_reg(uint64_t base, uint64_t off)
{
	return (volatile uint64_t *)(base + off);
}

/*
 * Counts TSC cycles over ref_ns of reference time.  read() returns the
 * reference counter; mask is its width.  Bounded by TSC cycles too, in case
 * the reference is stuck.
 */
static int measure(uint64_t (*read)(const struct arch_clock_ref *),
		   const struct arch_clock_ref *ref, uint64_t mask,
		   uint64_t ref_hz, uint64_t *tsc_hz)
{
	uint64_t want = ref_hz * CAL_NS / NSEC_PER_SEC;
	uint64_t r0, r1, t0, t1, elapsed = 0;

	r0 = read(ref);
	t0 = rdtsc();
	do {
		r1 = read(ref);
		t1 = rdtsc();
		elapsed = (r1 - r0) & mask;
		/* 20 ms at 100 GHz: the reference is not counting. */
		if (t1 - t0 > UINT64_C(2000000000)) {
			return -ETIMEDOUT;
		}
	} while (elapsed < want);
	*tsc_hz = (t1 - t0) * ref_hz / elapsed;
	return 0;
}

static uint64_t read_hpet(const struct arch_clock_ref *ref)
{
	return *hpet_reg(ref->hpet_base, HPET_MAIN_COUNTER);
}

static uint64_t read_pm_timer(const struct arch_clock_ref *ref)
{
	return inl(ref->pm_timer_port);
}

static int calibrate_hpet(const struct arch_clock_ref *ref, uint64_t *hz)
{
	uint64_t period_fs;
	volatile uint64_t *conf;

	if (arch_map(ref->hpet_base, 0x400, ARCH_CACHE_UC)) {
		return -EINVAL;
	}
	period_fs = field_get64(HPET_GCAP_CLK_PERIOD,
				*hpet_reg(ref->hpet_base, HPET_GCAP_ID));
	/* The spec bounds the period to at most 100 ns (10^8 fs). */
	if (period_fs == 0 || period_fs > UINT64_C(100000000)) {
		return -EINVAL;
	}
	conf = hpet_reg(ref->hpet_base, HPET_GEN_CONF);
	*conf |= HPET_GEN_CONF_ENABLE;
	return measure(read_hpet, ref, ~UINT64_C(0),
		       UINT64_C(1000000000000000) / period_fs, hz);
}

static int calibrate_cpuid(uint64_t *hz)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	if (r[0] < 0x15) {
		return -ENODEV;
	}
	/* Leaf 0x15: TSC = crystal (ECX Hz) * EBX / EAX (SDM vol. 2A, CPUID).
	 */
	cpuid(0x15, 0, r);
	if (r[0] == 0 || r[1] == 0 || r[2] == 0) {
		return -ENODEV;
	}
	*hz = (uint64_t)r[2] * r[1] / r[0];
	return 0;
}

int arch_tsc_calibrate(const struct arch_clock_ref *ref)
{
	uint64_t hz = 0, now;
	int ret = -ENODEV;

	if (ref->hpet_base) {
		ret = calibrate_hpet(ref, &hz);
		clk.source = "hpet";
	}
	if (ret && ref->pm_timer_port) {
		ret = measure(read_pm_timer, ref,
			      ref->pm_timer_32bit ? 0xffffffffU : 0xffffffU,
			      PM_TIMER_HZ, &hz);
		clk.source = "acpi-pm-timer";
	}
	if (ret) {
		ret = calibrate_cpuid(&hz);
		clk.source = "cpuid-0x15";
	}
	if (ret || hz < UINT64_C(10000000)) {
		clk.source = "uncalibrated";
		log_warn("time",
			 "no usable reference clock: assuming 1 GHz TSC");
		return ret ? ret : -ERANGE;
	}
	/* Keep time continuous across the change of rate. */
	now = arch_now_ns();
	clk.tsc0 = rdtsc() - (now / NSEC_PER_SEC * hz +
			      now % NSEC_PER_SEC * hz / NSEC_PER_SEC);
	clk.hz = hz;
	return 0;
}

uint64_t arch_now_ns(void)
{
	uint64_t d = rdtsc() - clk.tsc0;

	return d / clk.hz * NSEC_PER_SEC + d % clk.hz * NSEC_PER_SEC / clk.hz;
}

uint64_t arch_tsc_hz(void)
{
	return clk.hz;
}

const char *arch_tsc_source(void)
{
	return clk.source;
}
