#pragma once

#include <stdint.h>

/* Port I/O and CPU instructions with explicit widths. */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void cpu_halt_forever(void)
{
	for (;;) {
		__asm__ volatile("cli; hlt");
	}
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void clflush(const volatile void *p)
{
	__asm__ volatile("clflush (%0)" : : "r"(p) : "memory");
}

static inline void mfence(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

/* Segment selectors of the GDT in arch/x86_64/cpu.c. */
#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_DS   (0x18 | 3)
#define GDT_USER_CS   (0x20 | 3)

/*
 * The GDT and IDT at their image addresses, for the firmware's page tables:
 * exceptions are reported from the first instruction on.
 */
void cpu_init(void);
/*
 * Once the kernel's page tables map the kernel window (arch.h): the GDT,
 * IDT, TSS, syscall entry and ring-3 stack at their window addresses.
 */
void cpu_init_user(void);
/*
 * Enters ring 3 under the page tables at cr3 with the registers of
 * arch_user_frame, through the window; returns at the guest's next exit.
 */
void cpu_user_enter(uint64_t cr3);

/*
 * Leave QEMU through isa-debug-exit (status (code << 1) | 1), or reset a
 * real machine through the keyboard controller and port 0xcf9.
 */
void cpu_exit(uint8_t code) __attribute__((noreturn));

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v),
			   "d"((uint32_t)(v >> 32)));
}
