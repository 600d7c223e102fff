#pragma once

/*
 * The serial console shell.  Commands register themselves with
 * CONSOLE_CMD(); the shell splits a line into words, finds the command and
 * calls it.  A command prints its output with con_printf() and returns 0, or
 * a negative errno after printing nothing more; the shell then closes the
 * output with "ok" or "error: <message>" (con_error() sets the message, or
 * the errno's name is used).
 */
#include <stdbool.h>
#include <stddef.h>

#define CON_MAX_ARGS 16
#define CON_LINE_MAX 256
#define CON_PROMPT   "moat> "

struct console {
	char line[CON_LINE_MAX];
	size_t len;
	bool overlong; /* the line being typed is too long and will be refused
			*/
	bool last_cr;  /* swallow the LF of a CR LF pair */
	char err[160]; /* message for the closing "error: " line */
};

struct console_cmd {
	const char *name;
	const char *usage;
	const char *help;
	int (*fn)(int argc, char **argv);
};

#define CONSOLE_CMD(ident, name_, usage_, help_, fn_)                          \
	static const struct console_cmd console_cmd_##ident                    \
		__attribute__((used, section("console_cmds"), aligned(8))) = { \
			.name = name_,                                         \
			.usage = usage_,                                       \
			.help = help_,                                         \
			.fn = fn_,                                             \
	}

void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the message of the closing "error: " line; returns -EINVAL. */
int con_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parsers for command arguments; each reports a bad value with con_error(). */
int con_parse_u64(const char *what, const char *s, unsigned long long *out);
/* "SSSS:BB:DD.F" or "BB:DD.F" (segment 0). */
int con_parse_bdf(const char *s, unsigned int *seg, unsigned int *bus,
		  unsigned int *devfn);

/*
 * Splits line in place into at most max words separated by spaces or tabs.
 * Returns the count, or -E2BIG when there are more words than max.
 */
int con_split(char *line, char **argv, int max);

struct kernel;
/*
 * Chooses the console's UART (console=, ACPI SPCR, COM1) and brings it up;
 * the log buffered until then comes out first.  console_emergency puts a
 * panic that comes before the choice on COM1.
 */
void console_select(struct kernel *k);
void console_emergency(struct kernel *k);

/* Runs one command line as if typed; used for run="..." at boot. */
void console_run_line(char *line);
void console_loop(void);
