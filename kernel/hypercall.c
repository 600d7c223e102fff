#include "kernel/hypercall.h"

#include "drivers/hw.h"
#include "kernel/console.h"
#include "lib/string.h"

/*
 * The hypercalls of docs/guest-abi.md.  A guest's registers are hostile:
 * each pointer is translated through the guest's own memory regions (never
 * its BARs, never anything else) piece by piece, each length is bounded
 * before anything is copied, and what the guest writes to the console is
 * copied out of its memory first, then printed as plain text.
 */

static int64_t err(int e)
{
	return -(int64_t)e;
}

/* Copies between guest memory at [gpa, gpa + len) and buf; -EFAULT if any
 * byte is not the guest's memory. */
static int64_t guest_copy(const struct guest *g, iova_t gpa, void *buf,
			  uint64_t len, bool to_guest)
{
	uint64_t done = 0, run, n;
	hpa_t hpa;

	while (done < len) {
		hpa = guest_gpa_to_hpa(g, iova_add(gpa, done), &run);
		if (!hpa_val(hpa)) {
			return err(MOAT_EFAULT);
		}
		n = run < len - done ? run : len - done;
		if (to_guest) {
			memcpy(hw_phys_to_virt(hpa_val(hpa)),
			       (uint8_t *)buf + done, n);
		} else {
			memcpy((uint8_t *)buf + done,
			       hw_phys_to_virt(hpa_val(hpa)), n);
		}
		done += n;
	}
	return 0;
}

static void flush_line(struct guest_run *r)
{
	r->line[r->line_len] = '\0';
	con_printf("[%s] %s\n", r->g->name, r->line);
	r->line_len = 0;
}

/* Lines are printed whole; control bytes become '.'. */
static int64_t hc_write(struct guest_run *r, uint64_t gpa, uint64_t len)
{
	char buf[MOAT_WRITE_MAX];
	int64_t ret;
	uint64_t i;

	if (len > MOAT_WRITE_MAX) {
		return err(MOAT_EINVAL);
	}
	ret = guest_copy(r->g, iova_make(gpa), buf, len, false);
	if (ret) {
		return ret;
	}
	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			flush_line(r);
			continue;
		}
		r->line[r->line_len++] = c >= 0x20 && c < 0x7f ? c : '.';
		if (r->line_len == GUEST_LINE_MAX - 1) {
			flush_line(r);
		}
	}
	return (int64_t)len;
}

static int64_t hc_devices(struct guest_run *r, uint64_t gpa, uint64_t max)
{
	uint64_t n = 0, i;
	int64_t ret;

	if (max > MOAT_DEVS_MAX) {
		return err(MOAT_EINVAL);
	}
	for (i = 0; i < MOAT_DEVS_MAX && n < max; i++) {
		if (!r->devs[i].vendor) {
			continue;
		}
		ret = guest_copy(r->g,
				 iova_make(gpa + n * sizeof(struct moat_dev)),
				 &r->devs[i], sizeof(struct moat_dev), true);
		if (ret) {
			return ret;
		}
		n++;
	}
	return (int64_t)n;
}

enum hc_action hypercall(struct guest_run *r, struct vcpu_regs *regs)
{
	uint64_t a0 = regs->rdi, a1 = regs->rsi;
	int64_t ret = 0;

	r->hypercalls++;
	switch (regs->rax) {
	case MOAT_HC_WRITE:
		ret = hc_write(r, a0, a1);
		break;
	case MOAT_HC_EXIT:
		r->exit_code = a0;
		return HC_EXIT;
	case MOAT_HC_YIELD:
		regs->rax = 0;
		return HC_YIELD;
	case MOAT_HC_WAIT_IRQ:
		if (a0 > MOAT_WAIT_MAX_US) {
			ret = err(MOAT_EINVAL);
			break;
		}
		if (r->pending) {
			ret = r->pending;
			break;
		}
		r->wait_deadline_ns = hw_now_ns() + a0 * 1000;
		return HC_WAIT;
	case MOAT_HC_DEVICES:
		ret = hc_devices(r, a0, a1);
		break;
	case MOAT_HC_IRQ_ACK:
		if (a0 >= MOAT_DEVS_MAX || !r->devs[a0].vendor) {
			ret = err(MOAT_ENOENT);
			break;
		}
		r->pending &= ~(1U << a0);
		break;
	case MOAT_HC_TIME:
		ret = (int64_t)hw_now_ns();
		break;
	default:
		ret = err(MOAT_ENOSYS);
		break;
	}
	regs->rax = (uint64_t)ret;
	return HC_RESUME;
}
