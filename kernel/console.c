#include "kernel/console.h"

#include <stdarg.h>

#include "kernel/kernel.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/* The command table: every CONSOLE_CMD() lands between these (linker.ld). */
extern const struct console_cmd __start_console_cmds[];
extern const struct console_cmd __stop_console_cmds[];

static struct console *con(void)
{
	return &kernel_get()->console;
}

static void con_write(const char *s, size_t len)
{
	uart_write(&kernel_get()->uart, s, len);
}

void con_printf(const char *fmt, ...)
{
	char buf[CON_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	con_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

int con_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(con()->err, sizeof(con()->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct console_cmd *find_cmd(const char *name)
{
	const struct console_cmd *c;

	for (c = __start_console_cmds; c < __stop_console_cmds; c++) {
		if (strcmp(c->name, name) == 0) {
			return c;
		}
	}
	return NULL;
}

/* Runs one line and closes its output with "ok" or "error: ...". */
void console_run_line(char *line)
{
	char *argv[CON_MAX_ARGS];
	const struct console_cmd *c;
	int argc, ret;

	con()->err[0] = '\0';
	argc = con_split(line, argv, CON_MAX_ARGS);
	if (argc == 0) {
		return;
	}
	if (argc < 0) {
		ret = con_error("too many words (at most %d)", CON_MAX_ARGS);
	} else if (!(c = find_cmd(argv[0]))) {
		ret = con_error("unknown command '%.32s' (try help)", argv[0]);
	} else {
		ret = c->fn(argc, argv);
	}
	if (ret == 0) {
		con_printf("ok\n");
	} else if (con()->err[0]) {
		con_printf("error: %s\n", con()->err);
	} else {
		con_printf("error: %s\n", errno_name(ret));
	}
}

/* Feeds one received byte to the line editor; true when a line is complete. */
static bool con_feed(struct console *c, int ch)
{
	if (ch == '\n' && c->last_cr) {
		c->last_cr = false;
		return false;
	}
	c->last_cr = ch == '\r';
	if (ch == '\r' || ch == '\n') {
		con_write("\n", 1);
		return true;
	}
	if (ch == 0x7f || ch == 0x08) {
		if (c->len > 0 && !c->overlong) {
			c->len--;
			con_write("\b \b", 3);
		}
		return false;
	}
	if (ch == 0x03) { /* ^C drops the line */
		c->len = 0;
		c->overlong = false;
		con_write("^C\n" CON_PROMPT, 3 + sizeof(CON_PROMPT) - 1);
		return false;
	}
	if (ch < 0x20 || ch > 0x7e) {
		return false;
	}
	if (c->len + 1 >= sizeof(c->line)) {
		c->overlong = true;
		return false;
	}
	c->line[c->len++] = (char)ch;
	con_write((const char *)&c->line[c->len - 1], 1);
	return false;
}

/* How often the idle console lets the kernel look after the hardware. */
#define CON_POLL_NS UINT64_C(10000000)
/*
 * While a line is being typed, guests wait up to this long for the next
 * byte: the UART hands over one byte at a time, so a line typed in one go
 * takes one burst instead of one time slice per byte, and what guests
 * print never lands inside it.
 */
#define CON_TYPING_NS UINT64_C(50000000)

/* Waits for a person at the serial line: not a wait on hardware. */
void console_loop(void)
{
	struct console *c = con();
	uint64_t next_poll = 0, burst_end = 0;
	int ch;

	con_printf(CON_PROMPT);
	for (;;) {
		ch = uart_getc(&kernel_get()->uart);
		if (ch < 0) {
			/*
			 * Guests run, and fault events are answered, between
			 * looks at the line; never inside a line being typed.
			 */
			if (arch_now_ns() >= burst_end) {
				if (sched_poll(kernel_get())) {
					continue;
				}
				sched_idle(kernel_get());
			}
			if (arch_now_ns() >= next_poll) {
				kernel_poll();
				next_poll = arch_now_ns() + CON_POLL_NS;
			}
			cpu_relax();
			continue;
		}
		burst_end = arch_now_ns() + CON_TYPING_NS;
		if (!con_feed(c, ch)) {
			continue;
		}
		burst_end = 0;
		if (c->overlong) {
			con_printf(
				"error: line too long (at most %zu characters)\n",
				sizeof(c->line) - 1);
		} else {
			c->line[c->len] = '\0';
			console_run_line(c->line);
		}
		c->len = 0;
		c->overlong = false;
		con_printf(CON_PROMPT);
	}
}
