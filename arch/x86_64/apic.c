#include <stdbool.h>
#include <stdint.h>

#include "lib/bits.h"
#include "lib/errno.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/*
 * The boot CPU's local APIC, just enough to receive MSIs and tell which
 * vector arrived: interrupts are off except inside arch_irq_window().
 * xAPIC registers by MMIO, or x2APIC by MSR when firmware left it on
 * (SDM vol. 3, 10.4 and 10.12).  One CPU has one local APIC, so its state
 * is this file's own.
 */
#define MSR_APIC_BASE	     0x1b
#define MSR_APIC_BASE_X2APIC BIT64(10)
#define MSR_APIC_BASE_ADDR   GENMASK64(51, 12)
#define MSR_X2APIC_FIRST     0x800

#define APIC_ID		     0x020
#define APIC_TPR	     0x080
#define APIC_EOI	     0x0b0
#define APIC_SVR	     0x0f0
#define APIC_SVR_ENABLE	     BIT32(8)
#define APIC_LVT_TIMER	     0x320
#define APIC_TIMER_INITIAL   0x380
#define APIC_TIMER_CURRENT   0x390
#define APIC_TIMER_DIVIDE    0x3e0
#define APIC_TIMER_DIVIDE_16 0x3
#define APIC_LVT_LINT0	     0x350
#define APIC_LVT_LINT1	     0x360
#define APIC_LVT_ERROR	     0x370
#define APIC_LVT_MASKED	     BIT32(16)
#define APIC_SPURIOUS_VECTOR 0xff

/* The 8259 PICs' data ports: all lines masked, they must never interrupt. */
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1

void irq_handler(uint64_t vector);

static struct {
	bool x2apic;
	uint64_t base;
	uint64_t count[256];
	uint64_t timer_hz; /* APIC timer ticks per second at divide 16 */
} apic;

static uint32_t apic_read(uint32_t reg)
{
	if (apic.x2apic) {
		return (uint32_t)rdmsr(MSR_X2APIC_FIRST + (reg >> 4));
	}
	return *(volatile uint32_t *)(apic.base + reg);
}

static void apic_write(uint32_t reg, uint32_t val)
{
	if (apic.x2apic) {
		wrmsr(MSR_X2APIC_FIRST + (reg >> 4), val);
		return;
	}
	*(volatile uint32_t *)(apic.base + reg) = val;
}

int arch_apic_init(void)
{
	uint64_t msr = rdmsr(MSR_APIC_BASE);
	int ret;

	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	apic.x2apic = msr & MSR_APIC_BASE_X2APIC;
	apic.base = msr & MSR_APIC_BASE_ADDR;
	if (!apic.x2apic) {
		ret = arch_map(apic.base, 0x1000, ARCH_CACHE_UC);
		if (ret) {
			return ret;
		}
	}
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED);
	apic_write(APIC_LVT_LINT1, APIC_LVT_MASKED);
	apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
	return 0;
}

bool arch_apic_x2apic(void)
{
	return apic.x2apic;
}

uint32_t arch_apic_id(void)
{
	uint32_t id = apic_read(APIC_ID);

	return apic.x2apic ? id : id >> 24;
}

void irq_handler(uint64_t vector)
{
	apic.count[vector & 0xff]++;
	/* The spurious vector is not acknowledged (SDM vol. 3, 10.9). */
	if (vector != APIC_SPURIOUS_VECTOR) {
		apic_write(APIC_EOI, 0);
	}
}

/*
 * The timer's rate against the TSC: a one-shot count from its maximum over
 * a millisecond (SDM vol. 3, 10.5.4).  Needs a calibrated TSC.
 */
#define TIMER_CALIBRATE_NS UINT64_C(1000000)

int arch_timer_init(void)
{
	uint64_t start, elapsed;
	uint32_t left;

	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | ARCH_TIMER_VECTOR);
	apic_write(APIC_TIMER_DIVIDE, APIC_TIMER_DIVIDE_16);
	start = arch_now_ns();
	apic_write(APIC_TIMER_INITIAL, UINT32_MAX);
	while (arch_now_ns() - start < TIMER_CALIBRATE_NS) {
		cpu_relax();
	}
	left = apic_read(APIC_TIMER_CURRENT);
	elapsed = arch_now_ns() - start;
	apic_write(APIC_TIMER_INITIAL, 0);
	if (left == 0 || elapsed == 0) {
		return -EIO;
	}
	apic.timer_hz = (uint64_t)(UINT32_MAX - left) * 1000000000 / elapsed;
	return apic.timer_hz ? 0 : -EIO;
}

void arch_timer_oneshot(uint64_t ns)
{
	uint64_t count = apic.timer_hz * ns / 1000000000;

	if (count == 0) {
		count = 1;
	}
	if (count > UINT32_MAX) {
		count = UINT32_MAX;
	}
	apic_write(APIC_LVT_TIMER, ARCH_TIMER_VECTOR);
	apic_write(APIC_TIMER_INITIAL, (uint32_t)count);
}

uint64_t arch_irq_count(uint8_t vector)
{
	return apic.count[vector];
}

/* Interrupts on for ns nanoseconds, then off again: a bounded wait. */
void arch_irq_window(uint64_t ns)
{
	uint64_t deadline = arch_now_ns() + ns;

	__asm__ volatile("sti" ::: "memory");
	while (arch_now_ns() < deadline) {
		cpu_relax();
	}
	__asm__ volatile("cli" ::: "memory");
}
