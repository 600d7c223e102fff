UNIT_TESTS += lib
lib_SRCS := tests/unit/test_lib.c tests/unit/lib_string_renamed.c \
	lib/format.c lib/errno.c lib/bitmap.c kernel/cmdline.c kernel/console_parse.c
