#include "lib/format.h"
#include "lib/string.h"

#include "guests/edu.h"

/*
 * rogue [HPA...]: has its edu write outside the guest's memory, at each
 * address given (another guest's memory, the kernel's image, a kernel
 * buffer) and at the interrupt address range, where a write is an MSI,
 * round after round until the kernel stops it.
 */
#define BAIT_GPA    0x400000
#define LEN	    64U
#define TARGETS_MAX 16
#define MSI_ADDRESS 0xfee00000ULL

unsigned int edu_spurious;

int main(int argc, char **argv)
{
	unsigned long long targets[TARGETS_MAX];
	const struct moat_dev *d;
	unsigned int n = 0, round, t;
	int i;

	for (i = 1; i < argc && n < TARGETS_MAX - 1; i++) {
		if (fmt_parse_u64(argv[i], &targets[n])) {
			moat_printf("rogue: bad address %s\n", argv[i]);
			return 2;
		}
		n++;
	}
	targets[n++] = MSI_ADDRESS;
	d = moat_find_dev(EDU_VENDOR, EDU_DEVICE);
	if (!d) {
		moat_printf("rogue: no edu\n");
		return 1;
	}
	/* What a successful attack would leave behind: 0x6b bytes. */
	memset((void *)BAIT_GPA, 0x6b, LEN);
	edu_dma(d, 0, BAIT_GPA, LEN);
	for (round = 1;; round++) {
		for (t = 0; t < n; t++) {
			edu_dma(d, 1, targets[t], LEN);
		}
		moat_printf("rogue: round %u: %u attacks\n", round, n);
	}
}
