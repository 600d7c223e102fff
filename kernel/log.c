#include "kernel/log.h"

#include <stdarg.h>
#include <stdint.h>

#include "arch/x86_64/arch.h"
#include "kernel/kernel.h"
#include "lib/format.h"

#define LOG_LINE_MAX 256

static enum log_level log_threshold = LOG_INFO;

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

void log_printf(enum log_level level, const char *subsys, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[LOG_ERR] = "ERROR: ",
		[LOG_WARN] = "warning: ",
		[LOG_INFO] = "",
		[LOG_DEBUG] = "debug: ",
	};
	char line[LOG_LINE_MAX];
	uint64_t ns = arch_now_ns();
	va_list ap;
	int n;

	if (level > log_threshold) {
		return;
	}
	n = fmt_snprintf(line, sizeof(line), "[%5llu.%06llu] %s: %s",
			 (unsigned long long)(ns / 1000000000),
			 (unsigned long long)(ns / 1000 % 1000000), subsys,
			 prefix[level]);
	if (n < (int)sizeof(line)) {
		va_start(ap, fmt);
		n += fmt_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if (n >= (int)sizeof(line) - 1) {
		n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	uart_write(&kernel_get()->com1, line, (size_t)n);
}
