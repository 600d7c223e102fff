#include "lib/format.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/errno.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size) {
		o->buf[o->len] = c;
	}
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, int width,
		       bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	if (!left) {
		while (fill-- > 0) {
			put(o, pad);
		}
	}
	while (n--) {
		put(o, *s++);
	}
	if (left) {
		while (fill-- > 0) {
			put(o, ' ');
		}
	}
}

/* Digits of v in base, with a sign when negative; zero padding goes after it.
 */
static void put_number(struct out *o, unsigned long long v, bool negative,
		       unsigned int base, bool upper, int width, bool left,
		       bool zero)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = digits[v % base];
		v /= base;
	} while (v);
	if (negative) {
		if (zero && !left) {
			put(o, '-');
			width--;
		} else {
			tmp[sizeof(tmp) - 1 - n++] = '-';
		}
	}
	put_padded(o, tmp + sizeof(tmp) - n, n, width, left,
		   zero && !left ? '0' : ' ');
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

static unsigned long long arg_unsigned(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR:
		return (unsigned char)va_arg(*ap, unsigned int);
	case LEN_SHORT:
		return (unsigned short)va_arg(*ap, unsigned int);
	case LEN_LONG:
		return va_arg(*ap, unsigned long);
	case LEN_LLONG:
		return va_arg(*ap, unsigned long long);
	case LEN_SIZE:
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static long long arg_signed(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_CHAR:
		return (signed char)va_arg(*ap, int);
	case LEN_SHORT:
		return (short)va_arg(*ap, int);
	case LEN_LONG:
		return va_arg(*ap, long);
	case LEN_LLONG:
		return va_arg(*ap, long long);
	case LEN_SIZE:
		return (long long)va_arg(*ap, size_t);
	default:
		return va_arg(*ap, int);
	}
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct out o = {.buf = buf, .size = size, .len = 0};
	va_list ap;

	va_copy(ap, ap_in);
	while (*fmt) {
		const char *start = fmt;
		bool left = false, zero = false;
		int width = 0, prec = -1;
		enum length len = LEN_INT;
		unsigned long long u;
		long long s;
		const char *str;

		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-') {
				left = true;
			} else if (*fmt == '0') {
				zero = true;
			} else {
				break;
			}
		}
		while (*fmt >= '0' && *fmt <= '9' && width < 1000) {
			width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			}
			while (*fmt >= '0' && *fmt <= '9' && prec < 100000) {
				prec = prec * 10 + (*fmt++ - '0');
			}
		}
		if (*fmt == 'h') {
			fmt++;
			len = LEN_SHORT;
			if (*fmt == 'h') {
				fmt++;
				len = LEN_CHAR;
			}
		} else if (*fmt == 'l') {
			fmt++;
			len = LEN_LONG;
			if (*fmt == 'l') {
				fmt++;
				len = LEN_LLONG;
			}
		} else if (*fmt == 'z') {
			fmt++;
			len = LEN_SIZE;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			s = arg_signed(&ap, len);
			u = s < 0 ? 0ULL - (unsigned long long)s
				  : (unsigned long long)s;
			put_number(&o, u, s < 0, 10, false, width, left, zero);
			break;
		case 'u':
			put_number(&o, arg_unsigned(&ap, len), false, 10, false,
				   width, left, zero);
			break;
		case 'x':
		case 'X':
			put_number(&o, arg_unsigned(&ap, len), false, 16,
				   *fmt == 'X', width, left, zero);
			break;
		case 'o':
			put_number(&o, arg_unsigned(&ap, len), false, 8, false,
				   width, left, zero);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_number(&o, (uintptr_t)va_arg(ap, void *), false, 16,
				   false, width > 2 ? width - 2 : 0, left,
				   zero);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);

			put_padded(&o, &c, 1, width, left, ' ');
			break;
		}
		case 's': {
			size_t n = 0;

			str = va_arg(ap, const char *);
			if (!str) {
				str = "(null)";
			}
			while (str[n] && (prec < 0 || n < (size_t)prec)) {
				n++;
			}
			put_padded(&o, str, n, width, left, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default:
			/* Unknown or truncated conversion: show it as written.
			 */
			while (start < fmt) {
				put(&o, *start++);
			}
			if (*fmt) {
				put(&o, *fmt);
			} else {
				fmt--;
			}
			break;
		}
		fmt++;
	}
	if (size) {
		buf[o.len < size ? o.len : size - 1] = '\0';
	}
	va_end(ap);
	return (int)o.len;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return 99;
}

int fmt_parse_u64(const char *s, unsigned long long *out)
{
	unsigned int base = 10;
	unsigned long long v = 0;
	int d;

	if (!s || !*s) {
		return -EINVAL;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s) {
			return -EINVAL;
		}
	}
	for (; *s; s++) {
		d = digit_value(*s);
		if (d >= (int)base) {
			return -EINVAL;
		}
		if (v > (~0ULL - (unsigned int)d) / base) {
			return -ERANGE;
		}
		v = v * base + (unsigned int)d;
	}
	*out = v;
	return 0;
}
