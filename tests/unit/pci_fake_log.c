#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hw.h"

#include "tests/unit/pci_fake.h"

#define LOG_KEEP 4096

static struct {
	enum log_level level;
	char text[256];
} msgs[LOG_KEEP];
static unsigned int msg_count;

long pci_alloc_live;
long pci_alloc_fail_after = -1;

void log_printf(enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (msg_count == LOG_KEEP) {
		return;
	}
	msgs[msg_count].level = level;
	n = snprintf(msgs[msg_count].text, sizeof(msgs[0].text),
		     "%s: ", subsys);
	va_start(ap, fmt);
	vsnprintf(msgs[msg_count].text + n, sizeof(msgs[0].text) - (size_t)n,
		  fmt, ap);
	va_end(ap);
	msg_count++;
}

void pci_log_reset(void)
{
	msg_count = 0;
}

unsigned int pci_log_count(enum log_level level, const char *text)
{
	unsigned int i, n = 0;

	for (i = 0; i < msg_count; i++) {
		if (msgs[i].level == level && strstr(msgs[i].text, text)) {
			n++;
		}
	}
	return n;
}

void pci_log_dump(void)
{
	unsigned int i;

	for (i = 0; i < msg_count; i++) {
		fprintf(stderr, "  log[%d] %s\n", msgs[i].level, msgs[i].text);
	}
}

void *hw_zalloc(size_t size)
{
	void *p;

	if (pci_alloc_fail_after == 0) {
		return NULL;
	}
	if (pci_alloc_fail_after > 0) {
		pci_alloc_fail_after--;
	}
	p = calloc(1, size);
	if (p) {
		pci_alloc_live++;
	}
	return p;
}

void hw_free(void *p)
{
	if (p) {
		pci_alloc_live--;
	}
	free(p);
}
