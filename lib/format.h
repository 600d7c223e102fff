#pragma once

#include <stdarg.h>
#include <stddef.h>

/*
 * printf-style formatting into a buffer.  Supports flags '-' and '0', a
 * width, a precision for %s, length modifiers hh h l ll z, and the
 * conversions d i u x X o c s p %.  Always NUL-terminates when size > 0 and
 * returns the length the full output would have had, as C's snprintf does.
 * Unknown conversions are printed verbatim rather than guessed at.
 */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Number parsing for console input and the command line: decimal, or hex
 * with 0x.  Returns 0, -EINVAL for anything that is not entirely a number,
 * -ERANGE if it does not fit in 64 bits.
 */
int fmt_parse_u64(const char *s, unsigned long long *out);
