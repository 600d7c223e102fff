#include "arch/x86_64/cpu.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/arch.h"

#include "lib/bits.h"

/*
 * Our own GDT: the firmware's lives in boot-services memory, which the page
 * allocator may hand out after ExitBootServices.  Long mode needs only a
 * 64-bit code and a data descriptor (Intel SDM vol. 3, 3.4.5).
 */
#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10

static const uint64_t gdt[] __attribute__((aligned(16))) = {
	0,
	0x00af9a000000ffffULL, /* code: present, DPL 0, L=1 */
	0x00cf92000000ffffULL, /* data: present, writable */
};

struct descriptor_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));
_Static_assert(sizeof(struct descriptor_ptr) == 10, "lgdt/lidt operand");

/* One IDT gate (SDM vol. 3, 6.14.1), kept as two 64-bit words. */
struct idt_gate {
	uint64_t lo;
	uint64_t hi;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");

#define IDT_VECTORS 256
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));

/* Stubs from entry.asm, one per vector: exceptions, then interrupts. */
extern const uint64_t isr_stub_table[IDT_VECTORS];
void arch_load_segments(uint16_t cs, uint16_t ds);

static void idt_set(unsigned int vec, uint64_t handler)
{
	idt[vec].lo = (handler & 0xffff) | ((uint64_t)GDT_KERNEL_CS << 16) |
		      (UINT64_C(0x8e) << 40) | /* present, interrupt gate */
		      ((handler >> 16 & 0xffff) << 48);
	idt[vec].hi = handler >> 32;
}

void cpu_init(void)
{
	struct descriptor_ptr gp = { sizeof(gdt) - 1, (uint64_t)gdt };
	struct descriptor_ptr ip = { sizeof(idt) - 1, (uint64_t)idt };
	unsigned int v;

	__asm__ volatile("lgdt %0" : : "m"(gp));
	arch_load_segments(GDT_KERNEL_CS, GDT_KERNEL_DS);
	for (v = 0; v < IDT_VECTORS; v++) {
		idt_set(v, isr_stub_table[v]);
	}
	__asm__ volatile("lidt %0" : : "m"(ip));
}

void cpu_exit(uint8_t code)
{
	outb(0xf4, code);
	/* Not under QEMU: reset through the keyboard controller, then 0xcf9. */
	outb(0x64, 0xfe);
	outb(0xcf9, 0x06);
	cpu_halt_forever();
	__builtin_unreachable();
}

/* The image as loaded, for backtraces and the debugger. */
static uint64_t image_base, image_size;

void arch_set_image(uint64_t base, uint64_t size)
{
	image_base = base;
	image_size = size;
}

uint64_t arch_image_base(void)
{
	return image_base;
}

bool arch_in_image(uint64_t addr)
{
	return addr >= image_base && addr - image_base < image_size;
}
