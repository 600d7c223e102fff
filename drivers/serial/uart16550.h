#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A polled 16550 UART: no interrupts, no FIFO assumptions beyond the 16550. */
struct uart {
	uint16_t port;
	bool present;
};

int uart_init(struct uart *u, uint16_t port, uint32_t baud);
void uart_write(const struct uart *u, const char *s, size_t len);
/* The next received byte, or -1 when none is waiting. */
int uart_getc(const struct uart *u);
