#include <stdint.h>

#include "lib/log.h"
#include "lib/panic.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/* The stack as entry.asm leaves it, lowest address first. */
struct exception_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct exception_frame) == 22 * 8, "entry.asm layout");

void exception_handler(struct exception_frame *f);

static const char *const exception_names[32] = {
	"divide error",
	"debug",
	"nmi",
	"breakpoint",
	"overflow",
	"bound range",
	"invalid opcode",
	"device not available",
	"double fault",
	"coprocessor overrun",
	"invalid tss",
	"segment not present",
	"stack fault",
	"general protection",
	"page fault",
	"reserved",
	"x87 error",
	"alignment check",
	"machine check",
	"simd error",
	"virtualization",
	"control protection",
};

/*
 * Report everything needed to find the bug from a serial log alone, then
 * stop.  Runs with a possibly broken kernel, so it uses only panic_printf,
 * which writes straight to the UART.
 */
void exception_handler(struct exception_frame *f)
{
	const char *name = f->vector < 32 && exception_names[f->vector]
				   ? exception_names[f->vector]
				   : "exception";
	/* A stub in the kernel window is named by its place in the image. */
	uint64_t rip = arch_kwin_to_image(f->rip);

	panic_begin();
	panic_printf("\nFATAL: exception %llu (%s) error 0x%llx\n",
		     (unsigned long long)f->vector, name,
		     (unsigned long long)f->error);
	panic_printf("rip 0x%016llx (image+0x%llx) cs 0x%llx rflags 0x%llx\n",
		     (unsigned long long)f->rip,
		     (unsigned long long)(rip - arch_image_base()),
		     (unsigned long long)f->cs, (unsigned long long)f->rflags);
	panic_printf("cr2 0x%016llx cr3 0x%016llx rsp 0x%016llx\n",
		     (unsigned long long)read_cr2(),
		     (unsigned long long)read_cr3(),
		     (unsigned long long)f->rsp);
	panic_printf("rax %016llx rbx %016llx rcx %016llx rdx %016llx\n",
		     (unsigned long long)f->rax, (unsigned long long)f->rbx,
		     (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	panic_printf("rsi %016llx rdi %016llx rbp %016llx r8  %016llx\n",
		     (unsigned long long)f->rsi, (unsigned long long)f->rdi,
		     (unsigned long long)f->rbp, (unsigned long long)f->r8);
	panic_printf("r9  %016llx r10 %016llx r11 %016llx r12 %016llx\n",
		     (unsigned long long)f->r9, (unsigned long long)f->r10,
		     (unsigned long long)f->r11, (unsigned long long)f->r12);
	panic_printf("r13 %016llx r14 %016llx r15 %016llx\n",
		     (unsigned long long)f->r13, (unsigned long long)f->r14,
		     (unsigned long long)f->r15);
	panic_backtrace(rip, f->rbp);
	panic_end();
}
