#pragma once

#include <stdint.h>

#include "boot/boot_info.h"
#include "drivers/acpi/acpi.h"
#include "drivers/acpi/dmar.h"
#include "drivers/iommu/iommu.h"
#include "drivers/pci/pci.h"
#include "drivers/serial/uart16550.h"
#include "kernel/console.h"
#include "kernel/guest.h"
#include "kernel/heap.h"
#include "kernel/page_alloc.h"
#include "kernel/sched.h"

/*
 * The kernel's state, in one explicit struct.  Console commands and the seam
 * implementations reach it through kernel_get(); drivers never do, they are
 * handed what they need.
 */
/* A buffer handed out by "mem alloc", the only memory "mem fill/read" touch. */
struct mem_buffer {
	hpa_t hpa;
	uint64_t len;
};

#define MEM_BUFFERS_MAX 64

struct kernel {
	struct boot_info *boot;
	struct uart
		uart; /* the console's serial line (kernel/console_uart.c) */
	char console_desc[112]; /* which UART, and what chose it */
	struct console console;
	struct page_alloc pages;
	struct heap heap;
	struct mem_buffer buffers[MEM_BUFFERS_MAX]; /* len 0: unused */
	struct acpi_tables acpi;
	struct dmar dmar;
	bool dmar_present; /* a DMAR table was found (usable or not) */
	struct iommu iommu;
	struct guests guests;
	struct sched sched; /* guests that run (kernel/sched.c) */
	struct cmd_fault_watch *fault_watch; /* see kernel/cmd.h */
	struct pci_host pci;
	uint64_t ready_ns; /* time of "moat: ready" */
};

struct kernel *kernel_get(void);

/* Periodic housekeeping while the console waits for input. */
void kernel_poll(void);

#define MOAT_VERSION "0.1.0"
