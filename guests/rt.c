#include "guests/rt.h"

#include <stdarg.h>

#include "lib/format.h"
#include "lib/string.h"

/* Entered at MOAT_LOAD_GPA with argc, argv and an aligned stack. */
__asm__(".section .text.start, \"ax\"\n"
	".global _start\n"
	"_start:\n"
	"\tcall rt_main\n"
	"\tud2\n"
	".previous\n");

void rt_main(int argc, char **argv) __attribute__((noreturn));

void rt_main(int argc, char **argv)
{
	moat_exit((uint64_t)main(argc, argv));
}

void moat_exit(uint64_t code)
{
	moat_hc(MOAT_HC_EXIT, code, 0);
	for (;;) {
	}
}

int moat_printf(const char *fmt, ...)
{
	char buf[MOAT_WRITE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf)) {
		n = sizeof(buf) - 1;
	}
	return (int)moat_hc(MOAT_HC_WRITE, (uint64_t)buf, (uint64_t)n);
}

const struct moat_dev *moat_find_dev(uint16_t vendor, uint16_t device)
{
	static struct moat_dev devs[MOAT_DEVS_MAX];
	int64_t n, i;

	n = moat_hc(MOAT_HC_DEVICES, (uint64_t)devs, MOAT_DEVS_MAX);
	for (i = 0; i < n; i++) {
		if (devs[i].vendor == vendor && devs[i].device == device &&
		    devs[i].bar_gpa[0]) {
			return &devs[i];
		}
	}
	return NULL;
}
