#pragma once

#include "guests/rt.h"

/*
 * QEMU's edu device as a guest drives it through its BAR 0 (QEMU 7.2
 * hw/misc/edu.c; drivers/edu/edu.c is the kernel's own driver).
 */
#define EDU_VENDOR     0x1234
#define EDU_DEVICE     0x11e8
#define EDU_ID	       0x00
#define EDU_ID_VALUE   0x010000edU
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_COUNT  0x90
#define EDU_DMA_CMD    0x98
#define EDU_DMA_START  0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_DMA_IRQ    0x4
#define EDU_BUF	       0x40000U
/* The edu's buffer is 4 KiB; QEMU 7.2 aborts on one ending at its end. */
#define EDU_DMA_MAX 4095U
/* A transfer takes about 100 ms of QEMU's virtual time. */
#define EDU_WAIT_US 2000000U

/* Interrupts that came while the device had not finished (edu_dma). */
extern unsigned int edu_spurious;

/*
 * One transfer between guest memory at gpa and the device's buffer, with
 * the completion interrupt: 0, or -MOAT_ETIMEDOUT.  An interrupt is only
 * a hint: the transfer is done when the device says so.  (A spurious one
 * happens: in QEMU 7.2 another device's DMA to the interrupt address
 * range can raise this device's vector, docs/guest-abi.md.)
 */
static inline int64_t edu_dma(const struct moat_dev *d, int to_ram,
			      uint64_t gpa, uint32_t len)
{
	uint64_t bar = d->bar_gpa[0];
	uint64_t deadline;
	int64_t ret;

	mmio_write64(bar + EDU_DMA_SRC, to_ram ? EDU_BUF : gpa);
	mmio_write64(bar + EDU_DMA_DST, to_ram ? gpa : EDU_BUF);
	mmio_write64(bar + EDU_DMA_COUNT, len);
	mmio_write32(bar + EDU_DMA_CMD, EDU_DMA_START | EDU_DMA_IRQ |
						(to_ram ? EDU_DMA_TO_RAM : 0));
	deadline = moat_time_ns() + EDU_WAIT_US * 1000ULL;
	for (;;) {
		ret = moat_wait_irq(EDU_WAIT_US);
		moat_irq_ack(d->index);
		if (!(mmio_read32(bar + EDU_DMA_CMD) & EDU_DMA_START)) {
			mmio_write32(bar + EDU_IRQ_ACK,
				     mmio_read32(bar + EDU_IRQ_STATUS));
			return 0;
		}
		if (ret < 0 || moat_time_ns() > deadline) {
			return -MOAT_ETIMEDOUT;
		}
		edu_spurious++;
	}
}
