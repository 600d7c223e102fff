#include "guests/rt.h"

/* spin: loops forever without a hypercall; only preemption stops it. */
int main(int argc, char **argv)
{
	volatile uint64_t n = 0;

	moat_printf("spin: spinning\n");
	for (;;) {
		n++;
	}
}
