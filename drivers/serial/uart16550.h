#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A polled 16550 UART: no interrupts, no FIFO assumptions beyond the 16550.
 * Its registers sit at I/O ports, or in memory with byte or dword stride
 * (PC16550D data sheet; ACPI SPCR "16550-compatible" interfaces).  Every
 * access goes through the hardware seam (drivers/hw.h).
 */
enum uart_access {
	UART_ACCESS_IO,	    /* register r at I/O port base + r */
	UART_ACCESS_MMIO8,  /* register r is the byte at base + r */
	UART_ACCESS_MMIO32, /* register r is the dword at base + 4 * r */
};

/* The PC's UART input clock, 1.8432 MHz: divisor 1 gives 115200 baud. */
#define UART_CLOCK_PC 1843200U

struct uart_config {
	enum uart_access access;
	uint64_t base;	   /* I/O port or physical address */
	uint32_t baud;	   /* 0: keep the divisor the firmware programmed */
	uint32_t clock_hz; /* input clock; 0 stands for UART_CLOCK_PC */
};

struct uart {
	struct uart_config cfg;
	bool present;
};

/*
 * Probes the UART (scratch register test, then the transmitter must empty
 * within a deadline) and programs 8N1 at cfg->baud.  Returns 0, -EINVAL (a
 * port above 0xffff, registers that cannot be mapped, a baud rate the clock
 * cannot make), -ENODEV (the scratch register does not keep a value) or
 * -ETIMEDOUT (the transmitter never empties).  u->present says whether
 * uart_write and uart_getc reach it.
 */
int uart_init(struct uart *u, const struct uart_config *cfg);
void uart_write(const struct uart *u, const char *s, size_t len);
/* The next received byte, or -1 when none is waiting. */
int uart_getc(const struct uart *u);

/* "io 0x3f8", "mmio32 0xfe030000", then "115200 baud" or "firmware baud". */
void uart_describe(const struct uart_config *cfg, char *buf, size_t size);
