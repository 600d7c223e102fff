#include "arch/x86_64/cpu.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/bits.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/vcpu.h"

/*
 * The objects the CPU itself reads on every entry from ring 3 live in the
 * kernel window (.data.kwin; arch.h, linker.ld): the GDT, the IDT and the
 * TSS, so that they are there under a guest's page tables too.
 */
#define KWIN_DATA __attribute__((section(".data.kwin")))

/*
 * Our own GDT: the firmware's lives in boot-services memory, which the page
 * allocator may hand out after ExitBootServices.  Long mode needs a 64-bit
 * code and a data descriptor per privilege level (Intel SDM vol. 3, 3.4.5)
 * and a TSS for the ring-0 stack of interrupts from ring 3 (7.7).  The
 * order of the user descriptors is the one SYSRET expects (5.8.8).
 */
#define GDT_TSS 0x28

static uint64_t gdt[] KWIN_DATA __attribute__((aligned(16))) = {
	0,
	0x00af9a000000ffffULL, /* kernel code: present, DPL 0, L=1 */
	0x00cf92000000ffffULL, /* kernel data: present, writable */
	0x00cff2000000ffffULL, /* user data: present, DPL 3, writable */
	0x00affa000000ffffULL, /* user code: present, DPL 3, L=1 */
	0,
	0, /* the TSS: a 16-byte system descriptor, filled in cpu_init_user */
};

/*
 * The 64-bit TSS (SDM vol. 3, 7.7): RSP0, the stack the CPU loads on an
 * interrupt or exception from ring 3 (6.14.4), and IST1.
 */
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

static struct tss tss KWIN_DATA __attribute__((aligned(16)));

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

/* From user.asm, all in the window. */
void arch_user_enter(uint64_t cr3);
void arch_user_syscall(void);
extern struct vcpu_regs arch_user_frame;
extern uint64_t arch_kernel_cr3;

/* The window's bounds in the image (linker.ld). */
extern char __kwin_text_start[], __kwin_text_end[];
extern char __kwin_data_start[], __kwin_data_end[];

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
static struct idt_gate idt[IDT_VECTORS] KWIN_DATA __attribute__((aligned(16)));

/* Stubs from entry.asm, one per vector: exceptions, then interrupts. */
extern const uint64_t isr_stub_table[IDT_VECTORS];
void arch_load_segments(uint16_t cs, uint16_t ds);

/*
 * NMI, double fault and machine check may arrive anywhere, also in the
 * syscall stub before it leaves the guest's stack: IST1 gives them a
 * known stack in the window whatever RSP held (SDM vol. 3, 6.14.5).
 */
#define IST_FATAL 1
static bool vector_uses_ist(unsigned int vec)
{
	return vec == 2 || vec == 8 || vec == 18;
}

/* The distance from an object of the window in the image to its alias. */
static uint64_t kwin_delta(void)
{
	return ARCH_KWIN_BASE - (uint64_t)__kwin_text_start;
}

void arch_kwin_ranges(struct arch_kwin_range r[ARCH_KWIN_RANGES])
{
	uint64_t text = (uint64_t)__kwin_text_start;
	uint64_t data = (uint64_t)__kwin_data_start;

	r[0] = (struct arch_kwin_range){
		.va = text + kwin_delta(),
		.pa = text,
		.len = (uint64_t)__kwin_text_end - text,
		.writable = false,
	};
	r[1] = (struct arch_kwin_range){
		.va = data + kwin_delta(),
		.pa = data,
		.len = (uint64_t)__kwin_data_end - data,
		.writable = true,
	};
}

uint64_t arch_kwin_to_image(uint64_t va)
{
	struct arch_kwin_range r[ARCH_KWIN_RANGES];
	unsigned int i;

	arch_kwin_ranges(r);
	for (i = 0; i < ARCH_KWIN_RANGES; i++) {
		if (va >= r[i].va && va - r[i].va < r[i].len) {
			return va - r[i].va + r[i].pa;
		}
	}
	return va;
}

static void idt_set(unsigned int vec, uint64_t handler, unsigned int ist)
{
	idt[vec].lo = (handler & 0xffff) | ((uint64_t)GDT_KERNEL_CS << 16) |
		      ((uint64_t)ist << 32) |
		      (UINT64_C(0x8e) << 40) | /* present, interrupt gate */
		      ((handler >> 16 & 0xffff) << 48);
	idt[vec].hi = handler >> 32;
}

/*
 * Loads the GDT and an IDT whose gates lead to the stubs, all at their
 * image address plus delta: 0 before paging, the window's after.
 */
static void load_tables(uint64_t delta, unsigned int ist)
{
	struct descriptor_ptr gp = {sizeof(gdt) - 1, (uint64_t)gdt + delta};
	struct descriptor_ptr ip = {sizeof(idt) - 1, (uint64_t)idt + delta};
	unsigned int v;

	for (v = 0; v < IDT_VECTORS; v++) {
		idt_set(v, isr_stub_table[v] + delta,
			vector_uses_ist(v) ? ist : 0);
	}
	__asm__ volatile("lgdt %0" : : "m"(gp));
	__asm__ volatile("lidt %0" : : "m"(ip));
}

void cpu_init(void)
{
	load_tables(0, 0);
	arch_load_segments(GDT_KERNEL_CS, GDT_KERNEL_DS);
	/* The tables a report of an exception in the stubs switches to. */
	arch_kernel_cr3 = read_cr3();
}

/*
 * Ring 3: the GDT, IDT and TSS at their window addresses; RSP0 and IST1 at
 * the top of the guest frame, where interrupts from ring 3 fill it in
 * place; syscall on, entering at the window.  The descriptor caches of the
 * segment registers stay valid across lgdt, so only TR is loaded.
 */
void cpu_init_user(void)
{
	uint64_t delta = kwin_delta();
	uint64_t base = (uint64_t)&tss + delta;
	uint64_t limit = sizeof(tss) - 1;
	uint64_t stack = (uint64_t)&arch_user_frame + sizeof(arch_user_frame);

	tss.rsp0 = stack + delta;
	tss.ist[IST_FATAL - 1] = stack + delta;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: no ports for ring 3 */
	/* Available, not busy: ltr faults on a busy TSS (SDM vol. 2A, LTR). */
	gdt[GDT_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			   UINT64_C(0x89) << 40 | /* present, 64-bit TSS */
			   (limit >> 16 & 0xf) << 48 |
			   (base >> 24 & 0xff) << 56;
	gdt[GDT_TSS / 8 + 1] = base >> 32;
	load_tables(delta, IST_FATAL);
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS));
	arch_kernel_cr3 = read_cr3();
	wrmsr(MSR_STAR, (uint64_t)GDT_KERNEL_CS << 32 |
				(uint64_t)(GDT_USER_DS - 8) << 48);
	wrmsr(MSR_LSTAR, (uint64_t)arch_user_syscall + delta);
	wrmsr(MSR_FMASK, FMASK_BITS);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | MSR_EFER_SCE);
}

void cpu_user_enter(uint64_t cr3)
{
	void (*enter)(uint64_t) =
		(void (*)(uint64_t))((uint64_t)arch_user_enter + kwin_delta());

	enter(cr3);
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
