#include "lib/format.h"

#include "guests/rt.h"

/*
 * poke [GPA...]: reads each address it is given (by default the VT-d
 * unit's registers, an MMIO page no guest has).  The first one that is
 * not the guest's stops it as faulted.
 */
int main(int argc, char **argv)
{
	unsigned long long gpa = 0xfed90000;
	int i;

	for (i = 1; i < argc || i == 1; i++) {
		if (i < argc && fmt_parse_u64(argv[i], &gpa)) {
			moat_printf("poke: bad address %s\n", argv[i]);
			return 2;
		}
		moat_printf("poke: reading 0x%llx\n", gpa);
		moat_printf("poke: 0x%llx holds 0x%x\n", gpa, mmio_read32(gpa));
	}
	return 0;
}
