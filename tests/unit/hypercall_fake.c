#include "tests/unit/hypercall_fake.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"
#include "kernel/console.h"

char fake_console[8192];
size_t fake_console_len;
uint64_t fake_now_ns;

void con_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(fake_console + fake_console_len,
		      sizeof(fake_console) - fake_console_len, fmt, ap);
	va_end(ap);
	if (n > 0) {
		fake_console_len += (size_t)n;
		if (fake_console_len >= sizeof(fake_console)) {
			fake_console_len = 0; /* the fuzzer writes forever */
		}
	}
}

void *hw_phys_to_virt(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

uint64_t hw_now_ns(void)
{
	return fake_now_ns;
}

void fake_region(struct guest *g, uint64_t gpa, uint64_t len)
{
	struct guest_region *r = &g->regions[g->region_count++];

	r->gpa = iova_make(gpa);
	r->len = len;
	r->hpa = hpa_make((uint64_t)(uintptr_t)calloc(1, len));
}

void fake_free_regions(struct guest *g)
{
	unsigned int i;

	for (i = 0; i < g->region_count; i++) {
		free((void *)(uintptr_t)hpa_val(g->regions[i].hpa));
	}
	g->region_count = 0;
}

int64_t fake_hc(struct guest_run *r, uint64_t nr, uint64_t a0, uint64_t a1,
		enum hc_action *act)
{
	struct vcpu_regs regs = {.rax = nr, .rdi = a0, .rsi = a1};

	*act = hypercall(r, &regs);
	return (int64_t)regs.rax;
}
