#include <stdbool.h>

#include "kernel/console.h"
#include "lib/errno.h"
#include "lib/format.h"
#include "lib/string.h"

/*
 * The pure part of the console: splitting lines and parsing arguments.  No
 * I/O, so the fuzzer (tests/fuzz/fuzz_console.c) runs it on the host.
 */

int con_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t') {
			*p++ = '\0';
		}
		if (!*p) {
			return argc;
		}
		if (argc == max) {
			return -E2BIG;
		}
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t') {
			p++;
		}
	}
}

int con_parse_u64(const char *what, const char *s, unsigned long long *out)
{
	int ret = fmt_parse_u64(s, out);

	if (ret == -ERANGE) {
		return con_error("%s out of range: %.40s", what, s);
	}
	if (ret) {
		return con_error("bad %s: %.40s", what, s);
	}
	return 0;
}

/* Exactly n hex digits at s, at most max in value. */
static bool parse_hex_field(const char *s, size_t n, unsigned int max,
			    unsigned int *out)
{
	unsigned int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9') {
			d = (unsigned int)(c - '0');
		} else if (c >= 'a' && c <= 'f') {
			d = (unsigned int)(c - 'a' + 10);
		} else if (c >= 'A' && c <= 'F') {
			d = (unsigned int)(c - 'A' + 10);
		} else {
			return false;
		}
		v = v * 16 + d;
	}
	if (v > max) {
		return false;
	}
	*out = v;
	return true;
}

int con_parse_bdf(const char *s, unsigned int *seg, unsigned int *bus,
		  unsigned int *devfn)
{
	const char *text = s;
	size_t len = strnlen(s, 16);
	unsigned int dev, fn;

	*seg = 0;
	if (len == 12 && s[4] == ':') {
		if (!parse_hex_field(s, 4, 0xffff, seg)) {
			goto bad;
		}
		s += 5;
		len -= 5;
	}
	/* BB:DD.F, device 0-0x1f, function 0-7 (PCI Local Bus 3.0, 6.1). */
	if (len != 7 || s[2] != ':' || s[5] != '.' ||
	    !parse_hex_field(s, 2, 0xff, bus) ||
	    !parse_hex_field(s + 3, 2, 0x1f, &dev) ||
	    !parse_hex_field(s + 6, 1, 7, &fn)) {
		goto bad;
	}
	*devfn = dev << 3 | fn;
	return 0;
bad:
	return con_error("bad device address (want [SSSS:]BB:DD.F): %.20s",
			 text);
}
