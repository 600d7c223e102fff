#include "lib/panic.h"

#include <stdarg.h>
#include <stdbool.h>

#include "kernel/kernel.h"
#include "lib/format.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

#define BACKTRACE_DEPTH 16

static bool in_panic;

void panic_begin(void)
{
	__asm__ volatile("cli");
	if (in_panic) {
		/* A fault while reporting a fault: stop without another word.
		 */
		cpu_exit(PANIC_EXIT_CODE);
	}
	in_panic = true;
	console_emergency(kernel_get());
}

void panic_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	uart_write(&kernel_get()->uart, buf,
		   n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/*
 * Follows the frame-pointer chain (the kernel is built with frame
 * pointers), trusting only frames inside mapped memory and return
 * addresses inside the image.
 */
void panic_backtrace(uint64_t rip, uint64_t rbp)
{
	unsigned int i;

	panic_printf("backtrace (image base 0x%llx):\n",
		     (unsigned long long)arch_image_base());
	panic_printf("  #0 0x%llx image+0x%llx\n", (unsigned long long)rip,
		     (unsigned long long)(rip - arch_image_base()));
	for (i = 1; i < BACKTRACE_DEPTH; i++) {
		const uint64_t *frame = (const uint64_t *)rbp;
		uint64_t ret;

		if (!rbp || (rbp & 7) || !arch_is_mapped(rbp, 16)) {
			break;
		}
		ret = frame[1];
		if (!arch_in_image(ret)) {
			break;
		}
		panic_printf("  #%u 0x%llx image+0x%llx\n", i,
			     (unsigned long long)ret,
			     (unsigned long long)(ret - arch_image_base()));
		rbp = frame[0];
	}
}

void panic_end(void)
{
	panic_printf("machine stopped\n");
	cpu_exit(PANIC_EXIT_CODE);
}

void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	panic_begin();
	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	panic_printf("\nPANIC: %s\n", buf);
	/* Start from our caller's frame: panic itself is not interesting. */
	panic_backtrace((uint64_t)__builtin_return_address(0),
			*(const uint64_t *)__builtin_frame_address(0));
	panic_end();
}
