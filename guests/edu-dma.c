#include "lib/format.h"
#include "lib/rid.h"
#include "lib/string.h"

#include "guests/edu.h"

/*
 * edu-dma [N]: N round trips (default 100) of DMA between its own memory
 * and its own edu, at its own GPAs, each transfer ended by the device's
 * MSI; every round trip's bytes are checked (a pattern of the round and
 * the device's address, so two guests' buffers differ).  Then the time from
 * raising the device's interrupt to this code running again, over MSI_ROUNDS.
 */
#define SRC_GPA	   0x400000
#define DST_GPA	   0x500000
#define LEN	   1024U
#define MSI_ROUNDS 20

unsigned int edu_spurious;

static void msi_latency(const struct moat_dev *d)
{
	unsigned long long t0, dt, sum = 0, min = ~0ULL, max = 0;
	unsigned int i, got = 0;

	for (i = 0; i < MSI_ROUNDS; i++) {
		t0 = moat_time_ns();
		mmio_write32(d->bar_gpa[0] + EDU_IRQ_RAISE, 1);
		if (moat_wait_irq(EDU_WAIT_US) < 0) {
			continue;
		}
		dt = moat_time_ns() - t0;
		mmio_write32(d->bar_gpa[0] + EDU_IRQ_ACK,
			     mmio_read32(d->bar_gpa[0] + EDU_IRQ_STATUS));
		moat_irq_ack(d->index);
		got++;
		sum += dt;
		min = dt < min ? dt : min;
		max = dt > max ? dt : max;
	}
	if (got) {
		moat_printf(
			"edu-dma: msi latency mean %llu us min %llu us max %llu us over %u\n",
			sum / got / 1000, min / 1000, max / 1000, got);
	} else {
		moat_printf("edu-dma: no interrupt arrived\n");
	}
}

int main(int argc, char **argv)
{
	uint8_t *src = (uint8_t *)SRC_GPA, *dst = (uint8_t *)DST_GPA;
	unsigned long long n = 100, i, ok = 0;
	const struct moat_dev *d;
	unsigned long long t0, sum = 0;
	unsigned int j;

	if (argc > 1 && fmt_parse_u64(argv[1], &n)) {
		moat_printf("edu-dma: bad count %s\n", argv[1]);
		return 2;
	}
	d = moat_find_dev(EDU_VENDOR, EDU_DEVICE);
	if (!d || !(d->flags & MOAT_DEV_IRQ) ||
	    mmio_read32(d->bar_gpa[0] + EDU_ID) != EDU_ID_VALUE) {
		moat_printf("edu-dma: no edu with an interrupt\n");
		return 1;
	}
	moat_printf("edu-dma: edu " RID_FMT " at 0x%llx\n",
		    RID_ARGS(rid_from((uint16_t)d->bdf)),
		    (unsigned long long)d->bar_gpa[0]);
	msi_latency(d);
	for (i = 0; i < n; i++) {
		t0 = moat_time_ns();
		for (j = 0; j < LEN; j++) {
			src[j] = (uint8_t)(i * 7 + j + d->bdf);
		}
		memset(dst, 0, LEN);
		if (edu_dma(d, 0, SRC_GPA, LEN) ||
		    edu_dma(d, 1, DST_GPA, LEN)) {
			moat_printf("edu-dma: round trip %llu: no completion\n",
				    i);
			continue;
		}
		sum += moat_time_ns() - t0;
		if (memcmp(src, dst, LEN) == 0) {
			ok++;
		} else {
			moat_printf("edu-dma: round trip %llu: bytes differ\n",
				    i);
		}
	}
	if (n) {
		moat_printf("edu-dma: round-trip mean %llu us\n",
			    sum / n / 1000);
	}
	if (edu_spurious) {
		moat_printf("edu-dma: %u spurious interrupts\n", edu_spurious);
	}
	moat_printf("edu-dma: %llu round-trips, %llu ok\n", n, ok);
	return ok == n ? 0 : 1;
}
