#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/guest_abi.h"

/*
 * The guest programs' runtime: hypercalls (docs/guest-abi.md), console
 * output and MMIO.  A program defines main(); its return value is its
 * exit code.
 */
int main(int argc, char **argv);

static inline int64_t moat_hc(uint64_t nr, uint64_t a0, uint64_t a1)
{
	int64_t ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1)
			 : "rcx", "r11", "memory");
	return ret;
}

void moat_exit(uint64_t code) __attribute__((noreturn));
int moat_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline int64_t moat_wait_irq(uint64_t timeout_us)
{
	return moat_hc(MOAT_HC_WAIT_IRQ, timeout_us, 0);
}

static inline int64_t moat_irq_ack(uint32_t index)
{
	return moat_hc(MOAT_HC_IRQ_ACK, index, 0);
}

static inline uint64_t moat_time_ns(void)
{
	return (uint64_t)moat_hc(MOAT_HC_TIME, 0, 0);
}

/* The first assigned device vendor:device with memory BAR 0 mapped. */
const struct moat_dev *moat_find_dev(uint16_t vendor, uint16_t device);

static inline uint32_t mmio_read32(uint64_t gpa)
{
	return *(volatile uint32_t *)gpa;
}

static inline void mmio_write32(uint64_t gpa, uint32_t v)
{
	*(volatile uint32_t *)gpa = v;
}

static inline void mmio_write64(uint64_t gpa, uint64_t v)
{
	*(volatile uint64_t *)gpa = v;
}
