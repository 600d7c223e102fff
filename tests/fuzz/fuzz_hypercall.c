/*
 * libFuzzer harness for the hypercall dispatcher: arbitrary register
 * contents from a guest with two small regions and a hole.  Sanitizers
 * catch any access outside them; the checks below catch a bad argument
 * that was not refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/hypercall_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION 0x4000U

static struct guest g = {.name = "fz"};
static struct guest_run run;

/* Whether [gpa, gpa + len) is all guest memory. */
static int inside(uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;

	if (end < gpa) {
		return 0;
	}
	return (gpa >= 0x1000 && end <= 0x1000 + REGION) ||
	       (gpa >= 0x10000 && end <= 0x10000 + REGION) || len == 0;
}

static void check(const struct vcpu_regs *in, int64_t ret, enum hc_action act)
{
	switch (in->rax) {
	case MOAT_HC_WRITE:
		if (ret >= 0 &&
		    (in->rsi > MOAT_WRITE_MAX || !inside(in->rdi, in->rsi))) {
			abort();
		}
		break;
	case MOAT_HC_DEVICES:
		if (ret > 0 &&
		    (in->rsi > MOAT_DEVS_MAX ||
		     !inside(in->rdi,
			     (uint64_t)ret * sizeof(struct moat_dev)))) {
			abort();
		}
		break;
	case MOAT_HC_WAIT_IRQ:
		if (act == HC_WAIT && in->rdi > MOAT_WAIT_MAX_US) {
			abort();
		}
		break;
	case MOAT_HC_IRQ_ACK:
		if (ret == 0 &&
		    (in->rdi >= MOAT_DEVS_MAX || !run.devs[in->rdi].vendor)) {
			abort();
		}
		break;
	case MOAT_HC_EXIT:
	case MOAT_HC_YIELD:
	case MOAT_HC_TIME:
		break;
	default:
		if (ret != -MOAT_ENOSYS) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcpu_regs regs, in;
	enum hc_action act;

	if (g.region_count == 0) {
		fake_region(&g, 0x1000, REGION);
		fake_region(&g, 0x10000, REGION);
		run.g = &g;
		run.devs[3].vendor = 0x1234;
	}
	memset(&regs, 0, sizeof(regs));
	memcpy(&regs, data, size < sizeof(regs) ? size : sizeof(regs));
	/* Mostly valid numbers, so every hypercall's checks are reached. */
	if (regs.rax < 0x100) {
		regs.rax %= 9;
	}
	in = regs;
	act = hypercall(&run, &regs);
	check(&in, (int64_t)regs.rax, act);
	run.pending = (uint32_t)in.rdx;
	return 0;
}
