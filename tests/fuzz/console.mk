FUZZERS += console
console_FUZZ_SRCS := tests/fuzz/fuzz_console.c kernel/console_parse.c \
	kernel/cmdline.c lib/format.c lib/errno.c
console_FUZZ_CORPUS := tests/fuzz/console-seeds
