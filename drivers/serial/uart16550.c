#include "drivers/serial/uart16550.h"

#include "arch/x86_64/cpu.h"
#include "lib/errno.h"

/* Registers, as offsets from the base port (PC16550D data sheet, table 2). */
#define UART_RBR 0 /* receive buffer (read, DLAB=0) */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_LCR_8N1 0x03
#define UART_LCR_DLAB 0x80
#define UART_MCR 4
#define UART_MCR_DTR_RTS 0x03
#define UART_LSR 5
#define UART_LSR_DR 0x01 /* data ready */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */
#define UART_SCR 7

#define UART_CLOCK 115200
/*
 * Transmit waits are bounded by a count of status reads, not by time: the
 * console must work before the TSC is calibrated.  About 10 ms at the usual
 * ~1 us per port read, far more than one character at 115200 baud needs.
 */
#define UART_TX_SPINS 10000

int uart_init(struct uart *u, uint16_t port, uint32_t baud)
{
	uint16_t div = (uint16_t)(UART_CLOCK / baud);

	u->port = port;
	/* A port with no UART behind it reads 0xff and does not keep a scratch value. */
	outb(port + UART_SCR, 0x5a);
	u->present = inb(port + UART_SCR) == 0x5a;
	if (!u->present) {
		return -ENODEV;
	}
	outb(port + UART_IER, 0);
	outb(port + UART_LCR, UART_LCR_DLAB);
	outb(port + UART_DLL, (uint8_t)div);
	outb(port + UART_DLM, (uint8_t)(div >> 8));
	outb(port + UART_LCR, UART_LCR_8N1);
	outb(port + UART_FCR, 0x07); /* enable and clear both FIFOs */
	outb(port + UART_MCR, UART_MCR_DTR_RTS);
	return 0;
}

static void uart_putc(const struct uart *u, char c)
{
	unsigned int spins = UART_TX_SPINS;

	while (!(inb(u->port + UART_LSR) & UART_LSR_THRE) && --spins) {
		cpu_relax();
	}
	outb(u->port + UART_THR, (uint8_t)c);
}

void uart_write(const struct uart *u, const char *s, size_t len)
{
	if (!u->present) {
		return;
	}
	while (len--) {
		if (*s == '\n') {
			uart_putc(u, '\r');
		}
		uart_putc(u, *s++);
	}
}

int uart_getc(const struct uart *u)
{
	if (!u->present || !(inb(u->port + UART_LSR) & UART_LSR_DR)) {
		return -1;
	}
	return inb(u->port + UART_RBR);
}
