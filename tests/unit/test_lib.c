/* Host tests of lib/ and the kernel's pure parsers (cmdline, console words). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "lib/bitmap.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/format.h"

#include "tests/deadline.h"

/* lib/string.c, renamed by lib_string_renamed.c. */
void *lib_memcpy(void *dst, const void *src, size_t n);
void *lib_memmove(void *dst, const void *src, size_t n);
void *lib_memset(void *dst, int c, size_t n);
int lib_memcmp(const void *a, const void *b, size_t n);
size_t lib_strlen(const char *s);
size_t lib_strnlen(const char *s, size_t max);
int lib_strcmp(const char *a, const char *b);
int lib_strncmp(const char *a, const char *b, size_t n);
char *lib_strchr(const char *s, int c);

/* The console's error sink, as kernel/console.c has it. */
static char con_err[160];

int con_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(con_err, sizeof(con_err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Our formatter must agree with the C library's on everything it supports. */
#define CHECK_FMT(...)                                                  \
	do {                                                            \
		char ours[128], libc[128];                              \
		int n1 = fmt_snprintf(ours, sizeof(ours), __VA_ARGS__); \
		int n2 = snprintf(libc, sizeof(libc), __VA_ARGS__);     \
		assert_string_equal(ours, libc);                        \
		assert_int_equal(n1, n2);                               \
	} while (0)

static void test_format_matches_libc(void **state)
{
	CHECK_FMT("plain");
	CHECK_FMT("%d %d %d", 0, -1, 2147483647);
	CHECK_FMT("%d", (int)-2147483647 - 1);
	CHECK_FMT("%lld %llu", -9223372036854775807LL - 1,
		  18446744073709551615ULL);
	CHECK_FMT("%x %X %08x %-6x|", 0xdeadU, 0xbeefU, 0x1234U, 0xabU);
	CHECK_FMT("%016llx", 0xfed90000ULL);
	CHECK_FMT("%5d|%-5d|%05d|%05d", 42, 42, 42, -42);
	CHECK_FMT("%s|%10s|%-10s|%.3s|%c", "abc", "right", "left", "truncate",
		  'z');
	CHECK_FMT("%zu %u %hhu %hu", (size_t)123456789, 7U, (unsigned char)255,
		  (unsigned short)65535);
	CHECK_FMT("%o %%", 8U);
	CHECK_FMT("%.*s", 2, "abcdef");
	CHECK_FMT("%p", (void *)0x1000);
}

static void test_format_truncates_and_counts(void **state)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fmt_snprintf(buf, sizeof(buf), "%s", "0123456789"),
			 10);
	assert_string_equal(buf, "0123456");
	assert_int_equal(fmt_snprintf(buf, 0, "abc"), 3);
	assert_int_equal(buf[0], '0');
	assert_int_equal(fmt_snprintf(buf, 1, "abc"), 3);
	assert_string_equal(buf, "");
	/* NULL strings and unknown conversions do not crash. */
	const char *volatile nul = NULL;
	const char *volatile odd = "%q%";

	assert_int_equal(fmt_snprintf(buf, sizeof(buf), "%s", nul), 6);
	fmt_snprintf(buf, sizeof(buf), odd);
	assert_string_equal(buf, "%q%");
}

static void test_parse_u64(void **state)
{
	unsigned long long v;

	assert_int_equal(fmt_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(fmt_parse_u64("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(fmt_parse_u64("0xFED90000", &v), 0);
	assert_int_equal(v, 0xfed90000ULL);
	assert_int_equal(fmt_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == ~0ULL);
	assert_int_equal(fmt_parse_u64("0xffffffffffffffff", &v), 0);
	assert_int_equal(fmt_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(fmt_parse_u64("0x10000000000000000", &v), -ERANGE);
	assert_int_equal(fmt_parse_u64("", &v), -EINVAL);
	assert_int_equal(fmt_parse_u64("0x", &v), -EINVAL);
	assert_int_equal(fmt_parse_u64("12a", &v), -EINVAL);
	assert_int_equal(fmt_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(fmt_parse_u64(" 1", &v), -EINVAL);
}

static void test_bits(void **state)
{
	assert_true(GENMASK64(63, 0) == ~0ULL);
	assert_true(GENMASK64(12, 8) == 0x1f00ULL);
	assert_true(GENMASK32(31, 31) == 0x80000000U);
	assert_int_equal(field_get64(GENMASK64(12, 8), 0x0000000000000406ULL),
			 4);
	assert_true(field_prep64(GENMASK64(47, 32), 0x1ffff) ==
		    0x0000ffff00000000ULL);
	assert_true(field_set64(GENMASK64(7, 4), 0xffULL, 0x5) == 0x5fULL);
	assert_int_equal(field_get32(GENMASK32(31, 24), 0xab000000U), 0xab);
	assert_true(bits_is_aligned(0x200000, 0x200000));
	assert_false(bits_is_aligned(0x201000, 0x200000));
}

/*
 * Ids come lowest free first, never at or past bits (here not a whole
 * number of words), never reserved ones; a freed id is the next one given.
 */
static void test_bitmap_ids(void **state)
{
	uint64_t map[BITMAP_WORDS(130)] = {0};
	struct bitmap_ids ids = {.map = map, .bits = 130};
	uint32_t id, n;

	assert_true(bitmap_id_reserve(&ids, 3));
	assert_false(bitmap_id_reserve(&ids, 3));
	for (n = 0; n < 129; n++) {
		assert_int_equal(bitmap_id_alloc(&ids, &id), 0);
		assert_int_equal(id, n < 3 ? n : n + 1);
	}
	assert_int_equal(ids.used, 130);
	assert_int_equal(bitmap_id_alloc(&ids, &id), -ENOSPC);
	bitmap_id_free(&ids, 70);
	bitmap_id_free(&ids, 5);
	assert_false(bitmap_test(map, 5));
	assert_int_equal(bitmap_id_alloc(&ids, &id), 0);
	assert_int_equal(id, 5);
	assert_int_equal(bitmap_id_alloc(&ids, &id), 0);
	assert_int_equal(id, 70);
	assert_int_equal(bitmap_id_alloc(&ids, &id), -ENOSPC);
	bitmap_id_free(&ids, 129);
	assert_int_equal(bitmap_id_alloc(&ids, &id), 0);
	assert_int_equal(id, 129);
	assert_int_equal(ids.used, 130);
}

static void test_string(void **state)
{
	char a[32], b[32];

	lib_memset(a, 'a', sizeof(a));
	assert_int_equal(a[31], 'a');
	lib_memcpy(b, "hello", 6);
	assert_string_equal(b, "hello");
	assert_int_equal(lib_strlen(b), 5);
	assert_int_equal(lib_strnlen(b, 3), 3);
	assert_int_equal(lib_strnlen(b, 10), 5);
	/* Overlapping moves in both directions. */
	strcpy(a, "0123456789");
	lib_memmove(a + 2, a, 5);
	assert_memory_equal(a, "0101234789", 10);
	strcpy(a, "0123456789");
	lib_memmove(a, a + 2, 5);
	assert_memory_equal(a, "2345656789", 10);
	assert_true(lib_memcmp("abc", "abd", 3) < 0);
	assert_true(lib_memcmp("\xff", "\x01", 1) > 0);
	assert_int_equal(lib_memcmp("abc", "abd", 2), 0);
	assert_int_equal(lib_strcmp("abc", "abc"), 0);
	assert_true(lib_strcmp("ab", "abc") < 0);
	assert_true(lib_strncmp("abcx", "abcy", 3) == 0);
	assert_true(lib_strchr("a;b", ';') != NULL);
	assert_null(lib_strchr("ab", ';'));
	assert_true(lib_strchr("ab", '\0') != NULL);
}

static void test_errno_names(void **state)
{
	assert_string_equal(errno_name(-ETIMEDOUT), "timed out");
	assert_string_equal(errno_name(EINVAL), "invalid argument");
	assert_string_equal(errno_name(-9999), "unknown error");
	assert_string_equal(errno_name(-3), "unknown error");
}

static void test_cmdline(void **state)
{
	const char *cl =
		"debug loglevel=warn run=\"pci; exit 3\" x=1 x=2 rune=no";
	char v[64];

	assert_int_equal(cmdline_get(cl, "loglevel", v, sizeof(v)), 0);
	assert_string_equal(v, "warn");
	assert_int_equal(cmdline_get(cl, "run", v, sizeof(v)), 0);
	assert_string_equal(v, "pci; exit 3");
	assert_int_equal(cmdline_get(cl, "debug", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(cmdline_get(cl, "debug", NULL, 0), 0);
	assert_int_equal(cmdline_get(cl, "x", v, sizeof(v)), 0);
	assert_string_equal(v, "2"); /* the last one wins */
	assert_int_equal(cmdline_get(cl, "ru", v, sizeof(v)), -ENOENT);
	assert_int_equal(cmdline_get(cl, "log", v, sizeof(v)), -ENOENT);
	assert_int_equal(cmdline_get("", "run", v, sizeof(v)), -ENOENT);
	assert_int_equal(cmdline_get("run=\"open", "run", v, sizeof(v)),
			 -EINVAL);
	assert_int_equal(cmdline_get("run=0123456789", "run", v, 4), -E2BIG);
}

static void test_console_split(void **state)
{
	char line[] = "  domain  map\t1 0x1000   ";
	char many[] = "a b c d";
	char *argv[4];

	assert_int_equal(con_split(line, argv, 4), 4);
	assert_string_equal(argv[0], "domain");
	assert_string_equal(argv[1], "map");
	assert_string_equal(argv[2], "1");
	assert_string_equal(argv[3], "0x1000");
	assert_int_equal(con_split(many, argv, 3), -E2BIG);
	line[0] = '\0';
	assert_int_equal(con_split(line, argv, 4), 0);
}

static void test_console_bdf(void **state)
{
	unsigned int seg, bus, devfn;
	unsigned long long v;

	assert_int_equal(con_parse_bdf("00:1f.7", &seg, &bus, &devfn), 0);
	assert_int_equal(seg, 0);
	assert_int_equal(bus, 0);
	assert_int_equal(devfn, 0x1f << 3 | 7);
	assert_int_equal(con_parse_bdf("0001:ff:00.0", &seg, &bus, &devfn), 0);
	assert_int_equal(seg, 1);
	assert_int_equal(bus, 0xff);
	assert_int_equal(devfn, 0);
	const char *bad[] = {
		"00:20.0", "00:1f.8",  "0:1f.0",	"00:1f",       "",
		"gg:00.0", "00:00.0x", "00001:00:00.0", "0000-00:00.0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		con_err[0] = '\0';
		assert_int_equal(con_parse_bdf(bad[i], &seg, &bus, &devfn),
				 -EINVAL);
		assert_non_null(strstr(con_err, "bad device address"));
	}
	assert_int_equal(con_parse_u64("length", "0x", &v), -EINVAL);
	assert_string_equal(con_err, "bad length: 0x");
	assert_int_equal(con_parse_u64("length", "99999999999999999999", &v),
			 -EINVAL);
	assert_non_null(strstr(con_err, "out of range"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_matches_libc),
		cmocka_unit_test(test_format_truncates_and_counts),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_bits),
		cmocka_unit_test(test_bitmap_ids),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_console_split),
		cmocka_unit_test(test_console_bdf),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
