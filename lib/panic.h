#pragma once

#include <stdint.h>

/*
 * Fatal errors: print and stop the machine (kernel/panic.c; declared here
 * so that arch's exception handler reaches it without including kernel/).  Only
 * for broken invariants and for boot failures the kernel cannot continue from;
 * never for bad input. With isa-debug-exit present QEMU exits with status 255
 * (PANIC_EXIT_CODE).
 */
#define PANIC_EXIT_CODE 0x7f

void panic(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* Pieces of panic() for the exception handler's longer report. */
void panic_begin(void);
void panic_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void panic_backtrace(uint64_t rip, uint64_t rbp);
void panic_end(void) __attribute__((noreturn));
