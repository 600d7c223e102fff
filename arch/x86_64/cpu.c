#include "arch/x86_64/cpu.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/bits.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/vcpu.h"

/*
 * Our own GDT: the firmware's lives in boot-services memory, which the page
 * allocator may hand out after ExitBootServices.  Long mode needs a 64-bit
 * code and a data descriptor per privilege level (Intel SDM vol. 3, 3.4.5)
 * and a TSS for the ring-0 stack of interrupts from ring 3 (7.7).  The
 * order of the user descriptors is the one SYSRET expects (5.8.8).
 */
#define GDT_TSS 0x28

static uint64_t gdt[] __attribute__((aligned(16))) = {
	0,
	0x00af9a000000ffffULL, /* kernel code: present, DPL 0, L=1 */
	0x00cf92000000ffffULL, /* kernel data: present, writable */
	0x00cff2000000ffffULL, /* user data: present, DPL 3, writable */
	0x00affa000000ffffULL, /* user code: present, DPL 3, L=1 */
	0,
	0, /* the TSS: a 16-byte system descriptor, filled in cpu_init */
};

/* The 64-bit TSS (SDM vol. 3, 7.7), only its ring-0 stack used. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp0;
	uint64_t rsp1;
	uint64_t rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS");

static struct tss tss __attribute__((aligned(16)));

/*
 * syscall enters at arch_user_syscall with CS/SS from STAR[47:32]; RFLAGS
 * bits in FMASK are cleared, interrupts first (SDM vol. 3, 5.8.8).
 */
#define MSR_EFER     0xc0000080
#define MSR_EFER_SCE BIT64(0)
#define MSR_STAR     0xc0000081
#define MSR_LSTAR    0xc0000082
#define MSR_FMASK    0xc0000084
#define FMASK_BITS   (BIT64(8) | BIT64(9) | BIT64(10) | BIT64(14) | BIT64(18))

/* From user.asm: the syscall entry and the frame interrupts from ring 3 fill.
 */
void arch_user_syscall(void);
extern struct vcpu_regs arch_user_frame;

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

/* Ring 3: the TSS's ring-0 stack ends at the guest frame; syscall on. */
static void user_init(void)
{
	uint64_t base = (uint64_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	tss.rsp0 = (uint64_t)&arch_user_frame + sizeof(arch_user_frame);
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: no ports for ring 3 */
	gdt[GDT_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			   UINT64_C(0x89) << 40 | /* present, 64-bit TSS */
			   (limit >> 16 & 0xf) << 48 |
			   (base >> 24 & 0xff) << 56;
	gdt[GDT_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS));
	wrmsr(MSR_STAR, (uint64_t)GDT_KERNEL_CS << 32 |
				(uint64_t)(GDT_USER_DS - 8) << 48);
	wrmsr(MSR_LSTAR, (uint64_t)arch_user_syscall);
	wrmsr(MSR_FMASK, FMASK_BITS);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | MSR_EFER_SCE);
}

void cpu_init(void)
{
	struct descriptor_ptr gp = {sizeof(gdt) - 1, (uint64_t)gdt};
	struct descriptor_ptr ip = {sizeof(idt) - 1, (uint64_t)idt};
	unsigned int v;

	__asm__ volatile("lgdt %0" : : "m"(gp));
	arch_load_segments(GDT_KERNEL_CS, GDT_KERNEL_DS);
	for (v = 0; v < IDT_VECTORS; v++) {
		idt_set(v, isr_stub_table[v]);
	}
	__asm__ volatile("lidt %0" : : "m"(ip));
	user_init();
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

uint64_t arch_image_size(void)
{
	return image_size;
}

bool arch_in_image(uint64_t addr)
{
	return addr >= image_base && addr - image_base < image_size;
}
