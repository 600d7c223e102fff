#include "lib/log.h"

#include <stdarg.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "lib/format.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

#define LOG_LINE_MAX 256
/* Room for the lines logged before the console's UART is chosen. */
#define LOG_EARLY_MAX 16384

static enum log_level log_threshold = LOG_INFO;

/*
 * Until console_select() has brought a UART up, lines wait here; they go
 * out in order, before the first line written after it.  The firmware's
 * console is gone by then (boot/efi_main.c), so no line is ever written
 * twice, wherever the firmware mirrored its console to.
 */
static struct {
	char buf[LOG_EARLY_MAX];
	size_t len;
	unsigned int dropped;
} log_early;

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

static void log_emit(const char *line, size_t n)
{
	const struct uart *u = &kernel_get()->uart;
	char note[64];
	int len;

	if (!u->present) {
		if (log_early.len + n > sizeof(log_early.buf)) {
			log_early.dropped++;
			return;
		}
		memcpy(log_early.buf + log_early.len, line, n);
		log_early.len += n;
		return;
	}
	if (log_early.len) {
		uart_write(u, log_early.buf, log_early.len);
		log_early.len = 0;
	}
	if (log_early.dropped) {
		len = fmt_snprintf(
			note, sizeof(note),
			"(%u early log lines dropped: buffer full)\n",
			log_early.dropped);
		uart_write(u, note, (size_t)len);
		log_early.dropped = 0;
	}
	uart_write(u, line, n);
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
	log_emit(line, (size_t)n);
}
