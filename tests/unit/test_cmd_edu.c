/*
 * edu dma waits about 100 ms for its transfer and gives ticks away
 * meanwhile (sched_yield()): housekeeping may read the transfer's fault
 * record before the command looks (issue 15).  The fault watch
 * (struct cmd_fault_watch) must still fail the command.  In QEMU the fault
 * and the completion arrive together, so who reads the record first is a
 * race; here the fakes decide it: the edu completes with a fault after
 * one yield, and the yield runs housekeeping's drain of every record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/edu/edu.h"
#include "kernel/cmd.h"
#include "kernel/console.h"
#include "kernel/kernel.h"
#include "lib/errno.h"

#include "tests/deadline.h"

#define SID RID(0, 0x18) /* 00:03.0 */

static struct kernel the_kernel;
static struct pci_dev dev;
static char out[4096];
static size_t out_len;
static char error[256];
/* Fault records the unit holds: read (and cleared) by iommu_faults(). */
static unsigned int records;
static bool drain_in_yield;
static bool transfer_faults;
static unsigned int yields;
extern const struct console_cmd __start_console_cmds[], __stop_console_cmds[];

struct kernel *kernel_get(void)
{
	return &the_kernel;
}

void con_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_len += (size_t)vsnprintf(out + out_len, sizeof(out) - out_len, fmt,
				     ap);
	va_end(ap);
}

int con_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, sizeof(error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int con_parse_u64(const char *what, const char *s, unsigned long long *v)
{
	return sscanf(s, "%lli", v) == 1 ? 0 : con_error("bad %s", what);
}

struct pci_dev *cmd_get_dev(const char *bdf)
{
	return &dev;
}

void pci_dev_put(struct pci_dev *d)
{
}

int iommu_kernel_may_drive(struct iommu *im, struct pci_dev *d)
{
	return 0;
}

enum iommu_owner_kind iommu_owner_of(struct iommu *im, const struct pci_dev *d,
				     const char **name)
{
	*name = "kernel";
	return IOMMU_OWNER_KERNEL;
}

unsigned int pci_dma_aliases(const struct pci_dev *d, rid_t *ids,
			     unsigned int max)
{
	ids[0] = SID;
	return 1;
}

void iommu_faults(struct iommu *im, iommu_owned_fault_fn fn, void *ctx)
{
	const struct iommu_fault f = {
		.sid = SID,
		.addr = iova_make(0x100000),
		.reason = 5,
		.write = true,
		.text = "write not permitted",
	};

	for (; records; records--) {
		fn(ctx, &f, NULL);
	}
}

/* Housekeeping's part of a yield that matters here: the fault drain. */
void sched_yield(struct kernel *k)
{
	yields++;
	if (drain_in_yield) {
		cmd_print_faults(NULL, 0);
	}
}

bool edu_match(const struct pci_dev *d)
{
	return true;
}

int edu_init(struct edu *e, const struct pci_dev *d)
{
	return 0;
}

int edu_dma_start(struct edu *e, bool to_dev, iova_t iova, uint32_t len)
{
	return 0;
}

/* The transfer (faulting or not) completes after one yield. */
int edu_dma(struct edu *e, bool to_dev, iova_t iova, uint32_t len,
	    uint64_t timeout_ns, void (*idle)(void *ctx), void *ctx)
{
	records += transfer_faults;
	idle(ctx);
	return 0;
}

static int edu_cmd(void)
{
	char *argv[] = {"edu", "dma", "00:03.0", "from-dev", "0x100000", "16"};
	const struct console_cmd *c;

	for (c = __start_console_cmds; c < __stop_console_cmds; c++) {
		if (strcmp(c->name, "edu") == 0) {
			return c->fn(6, argv);
		}
	}
	fail_msg("no edu command");
	return 0;
}

static int setup(void **state)
{
	memset(&the_kernel, 0, sizeof(the_kernel));
	out_len = 0;
	out[0] = '\0';
	error[0] = '\0';
	records = 0;
	yields = 0;
	transfer_faults = true;
	return 0;
}

/* The command reads the record itself: dma fault, the record printed. */
static void test_own_fault_fails_dma(void **state)
{
	drain_in_yield = false;
	assert_int_equal(edu_cmd(), -EFAULT);
	assert_string_equal(error, "dma fault");
	assert_non_null(strstr(out, "fault unit 0 sid 00:03.0 addr 0x100000"));
}

/*
 * Housekeeping reads it during the command's yield: still dma fault, the
 * record printed once, and no watch is left behind.
 */
static void test_fault_read_in_yield_fails_dma(void **state)
{
	drain_in_yield = true;
	assert_int_equal(edu_cmd(), -EFAULT);
	assert_true(yields > 0);
	assert_string_equal(error, "dma fault");
	assert_non_null(strstr(out, "fault unit 0 sid 00:03.0 addr 0x100000"));
	assert_null(strstr(strstr(out, "fault unit") + 1, "fault unit"));
	assert_null(the_kernel.fault_watch);
}

/* A clean transfer: no fault, no error, with housekeeping in between. */
static void test_clean_transfer_ok(void **state)
{
	drain_in_yield = true;
	transfer_faults = false;
	assert_int_equal(edu_cmd(), 0);
	assert_true(yields > 0);
	assert_string_equal(error, "");
	assert_null(strstr(out, "fault unit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_own_fault_fails_dma, setup),
		cmocka_unit_test_setup(test_fault_read_in_yield_fails_dma,
				       setup),
		cmocka_unit_test_setup(test_clean_transfer_ok, setup),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
