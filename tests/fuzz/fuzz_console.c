/*
 * libFuzzer harness for everything that parses console input and the
 * command line: word splitting, numbers, device addresses, key=value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "lib/errno.h"
#include "lib/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char err[160];

int con_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[CON_LINE_MAX], value[64];
	char *argv[CON_MAX_ARGS];
	unsigned long long v;
	unsigned int seg, bus, devfn;
	int argc, i;

	if (size >= sizeof(line)) {
		size = sizeof(line) - 1;
	}
	memcpy(line, data, size);
	line[size] = '\0';
	cmdline_get(line, "run", value, sizeof(value));
	cmdline_get(line, "x", NULL, 0);
	argc = con_split(line, argv, CON_MAX_ARGS);
	for (i = 0; i < argc; i++) {
		if (strlen(argv[i]) == 0) {
			__builtin_trap(); /* split never yields empty words */
		}
		con_parse_u64("value", argv[i], &v);
		if (con_parse_bdf(argv[i], &seg, &bus, &devfn) == 0 &&
		    (seg > 0xffff || bus > 0xff || devfn > 0xff)) {
			__builtin_trap();
		}
	}
	return 0;
}
