#include "drivers/serial/uart16550.h"

#include "drivers/hw.h"
#include "lib/errno.h"
#include "lib/format.h"

/* Registers, as indices from the base (PC16550D data sheet, table 2). */
#define UART_RBR	      0 /* receive buffer (read, DLAB=0) */
#define UART_THR	      0 /* transmit holding (write, DLAB=0) */
#define UART_DLL	      0 /* divisor latch low (DLAB=1) */
#define UART_IER	      1
#define UART_DLM	      1 /* divisor latch high (DLAB=1) */
#define UART_FCR	      2
#define UART_FCR_ENABLE_CLEAR 0x07 /* enable and clear both FIFOs */
#define UART_LCR	      3
#define UART_LCR_8N1	      0x03
#define UART_LCR_DLAB	      0x80
#define UART_MCR	      4
#define UART_MCR_DTR_RTS      0x03
#define UART_LSR	      5
#define UART_LSR_DR	      0x01 /* data ready */
#define UART_LSR_THRE	      0x20 /* transmit holding register empty */
#define UART_SCR	      7
#define UART_REGS	      8

/*
 * How long one character may take to leave: 10 ms, ten characters' time
 * at 9600 baud.  Before the TSC is calibrated the clock runs on a
 * placeholder rate, so the bound is then only approximately 10 ms.
 */
#define UART_TX_NS 10000000ULL

static uint8_t uart_in(const struct uart *u, unsigned int reg)
{
	switch (u->cfg.access) {
	case UART_ACCESS_IO:
		return hw_io_read8((uint16_t)(u->cfg.base + reg));
	case UART_ACCESS_MMIO8:
		return hw_mmio_read8(u->cfg.base + reg);
	case UART_ACCESS_MMIO32:
		return (uint8_t)hw_mmio_read32(u->cfg.base + 4 * reg);
	}
	return 0xff;
}

static void uart_out(const struct uart *u, unsigned int reg, uint8_t val)
{
	switch (u->cfg.access) {
	case UART_ACCESS_IO:
		hw_io_write8((uint16_t)(u->cfg.base + reg), val);
		break;
	case UART_ACCESS_MMIO8:
		hw_mmio_write8(u->cfg.base + reg, val);
		break;
	case UART_ACCESS_MMIO32:
		hw_mmio_write32(u->cfg.base + 4 * reg, val);
		break;
	}
}

static unsigned int uart_stride(enum uart_access access)
{
	return access == UART_ACCESS_MMIO32 ? 4 : 1;
}

/* Divisor = clock / (16 * baud), rounded; 0 when out of the latch's range. */
static uint32_t uart_divisor(const struct uart_config *cfg)
{
	uint64_t clock = cfg->clock_hz ? cfg->clock_hz : UART_CLOCK_PC;
	uint64_t div = (clock + 8ULL * cfg->baud) / (16ULL * cfg->baud);

	return div >= 1 && div <= 0xffff ? (uint32_t)div : 0;
}

/*
 * A register with nothing behind it reads all-ones (or whatever the bus
 * last carried), so the scratch register must keep two different values
 * with another register read in between.
 */
static bool uart_scratch_ok(const struct uart *u)
{
	static const uint8_t patterns[] = {0x5a, 0xa5};
	unsigned int i;

	for (i = 0; i < sizeof(patterns); i++) {
		uart_out(u, UART_SCR, patterns[i]);
		(void)uart_in(u, UART_LSR);
		if (uart_in(u, UART_SCR) != patterns[i]) {
			return false;
		}
	}
	return true;
}

static bool uart_wait_thre(const struct uart *u)
{
	uint64_t deadline = hw_now_ns() + UART_TX_NS;

	while (!(uart_in(u, UART_LSR) & UART_LSR_THRE)) {
		if (hw_time_after(deadline)) {
			return false;
		}
		hw_relax();
	}
	return true;
}

int uart_init(struct uart *u, const struct uart_config *cfg)
{
	uint32_t div = 0;
	int ret;

	u->cfg = *cfg;
	u->present = false;
	if (cfg->baud) {
		div = uart_divisor(cfg);
		if (!div) {
			return -EINVAL;
		}
	}
	if (cfg->access == UART_ACCESS_IO) {
		if (cfg->base + UART_REGS - 1 > 0xffff) {
			return -EINVAL;
		}
	} else {
		ret = hw_mmio_map(cfg->base,
				  UART_REGS * uart_stride(cfg->access));
		if (ret) {
			return ret;
		}
	}
	if (!uart_scratch_ok(u)) {
		return -ENODEV;
	}
	uart_out(u, UART_IER, 0);
	if (div) {
		uart_out(u, UART_LCR, UART_LCR_DLAB);
		uart_out(u, UART_DLL, (uint8_t)div);
		uart_out(u, UART_DLM, (uint8_t)(div >> 8));
	}
	uart_out(u, UART_LCR, UART_LCR_8N1);
	uart_out(u, UART_FCR, UART_FCR_ENABLE_CLEAR);
	uart_out(u, UART_MCR, UART_MCR_DTR_RTS);
	if (!uart_wait_thre(u)) {
		return -ETIMEDOUT;
	}
	u->present = true;
	return 0;
}

/* A character the transmitter did not take in time is dropped. */
static void uart_putc(const struct uart *u, char c)
{
	if (uart_wait_thre(u)) {
		uart_out(u, UART_THR, (uint8_t)c);
	}
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
	if (!u->present || !(uart_in(u, UART_LSR) & UART_LSR_DR)) {
		return -1;
	}
	return uart_in(u, UART_RBR);
}

void uart_describe(const struct uart_config *cfg, char *buf, size_t size)
{
	static const char *const names[] = {
		[UART_ACCESS_IO] = "io",
		[UART_ACCESS_MMIO8] = "mmio",
		[UART_ACCESS_MMIO32] = "mmio32",
	};

	if (cfg->baud) {
		fmt_snprintf(buf, size, "%s 0x%llx %u baud", names[cfg->access],
			     (unsigned long long)cfg->base, cfg->baud);
	} else {
		fmt_snprintf(buf, size, "%s 0x%llx firmware baud",
			     names[cfg->access], (unsigned long long)cfg->base);
	}
}
