#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/acpi/dmar.h"
#include "drivers/iommu/iommu.h"
#include "drivers/pci/pci.h"
#include "lib/log.h"

/*
 * One machine for the isolation layer's host tests: the real layer, PCI
 * layer and VT-d driver against the VT-d model (one unit, memory, time)
 * and the fake PCI topology (configuration space, resets, DMA engines,
 * hot-plug), with a DMAR table built by hand.  Every fake DMA engine's
 * transfer goes through the model's IOMMU when it lands.
 *
 * Segment 0:
 *   00:01.0 PCIe-to-PCI bridge to bus 4: 04:00.0 and 04:01.0 share its
 *           alias 04:00.0 (one isolation group)
 *   00:02.0 PCIe endpoint with FLR; its DMA stops with bus mastering
 *   00:03.0 PCIe endpoint without FLR or PM: only Transactions Pending;
 *           its DMA runs on and lands if mastering is on again at the end
 *   00:04.0 conventional function, no reset at all, DMA like 00:03.0
 *   00:05.0-1 multi-function endpoint without ACS (one group)
 *   00:1c.0 root port to bus 1: 01:00.0, PCIe endpoint with FLR and ATS
 *   00:1d.0 hot-plug slot to bus 2: card 02:00.0, PCIe endpoint with FLR
 *   00:1e.0 hot-plug slot to bus 3: card 03:00.0, like 01:00.0 (ATS)
 *   00:1a.0, 00:19.0 root ports to buses 6 and 7: 06:00.0, 07:00.0, ATS
 *   00:18.0 root port to bus 5: 05:00.0-1, multi-function endpoint with FLR
 *           whose functions isolate themselves with ACS (two groups)
 *
 * After a kexec (w_setup_kexec) 00:03.0 and 02:00.0 still translate W_OLD
 * to W.old_ram through the previous life's tables.
 */
#define W_ALIAS0   RID(0x04U, 0x00U)
#define W_ALIAS1   RID(0x04U, 0x08U)
#define W_FLR	   RID(0x00U, 0x10U)
#define W_TP	   RID(0x00U, 0x18U)
#define W_NONE	   RID(0x00U, 0x20U)
#define W_MF0	   RID(0x00U, 0x28U)
#define W_MF1	   RID(0x00U, 0x29U)
#define W_ATS	   RID(0x01U, 0x00U)
#define W_CARD	   RID(0x02U, 0x00U)
#define W_CARD_ATS RID(0x03U, 0x00U)
#define W_ATS6	   RID(0x06U, 0x00U)
#define W_ATS7	   RID(0x07U, 0x00U)
#define W_ACS0	   RID(0x05U, 0x00U)
#define W_ACS1	   RID(0x05U, 0x01U)
#define W_OLD	   UINT64_C(0x10000)
/* The unit's registers, and the vector its fault event is aimed at. */
#define W_UNIT_BASE    UINT64_C(0xfed90000)
#define W_FAULT_VECTOR 0x21U

#define W_MS UINT64_C(1000000)
/* Memory a guest or console domain gets: 2 MiB at GPA/IOVA W_GPA. */
#define W_GPA UINT64_C(0x200000)
#define W_LEN UINT64_C(0x200000)

/*
 * The isolation layer the machine runs: W.im, or with W_KERNEL_IOMMU the
 * kernel's, for code that reaches the layer through kernel_get()
 * (tests/iso/test_guest.c links kernel/guest.c).
 */
#ifdef W_KERNEL_IOMMU
#include "kernel/kernel.h"
#define W_IM (kernel_get()->iommu)
#else
#define W_IM W.im
#endif

struct world {
	struct pci_host host;
	struct dmar dmar;
	struct iommu im;
	uint8_t *cfg[0x800];   /* by requester id, for the functions above */
	uint8_t *port_ats;     /* 00:1c.0 */
	uint8_t *port_acs;     /* 00:18.0 */
	uint64_t old_pages[6]; /* the previous life's tables */
	uint64_t old_ram;
	int slot_card;
	int slot_ats;
	uint64_t landed;  /* DMA transfers that reached memory */
	uint64_t faulted; /* ... that the IOMMU stopped */
	long objects;	  /* objects live after bring-up */
	long baseline; /* objects live before (a failed test may leave some) */
};

extern struct world W;

/* cmocka setup and teardown: a fresh machine; teardown checks leaks. */
int w_setup(void **state);
int w_teardown(void **state);
/*
 * The same machine whose unit runs in scalable mode, with second- and
 * first-level tables, nesting and 2^20 PASIDs, or with first-level tables
 * only (no SLTS, no PASIDs).
 */
int w_setup_scalable(void **state);
int w_setup_fl_only(void **state);
/* The same machine whose image has the absent back end: no unit. */
int w_setup_absent(void **state);
/* The same machine after a kexec: the previous life's tables kept. */
int w_setup_kexec(void **state);

struct pci_dev *w_dev(rid_t rid);
/* Starts a DMA write of byte from rid's function to addr. */
void w_dma(rid_t rid, uint64_t addr, uint8_t byte, uint32_t len,
	   uint64_t duration_ns);
/* Moves time on, with hot-plug and the layer polled every millisecond. */
void w_run(uint64_t ns);
uint8_t w_byte(uint64_t hpa);
/* A guest: an owner with 2 MiB of fresh memory at W_GPA. */
struct iommu_owner *w_guest(const char *name, uint64_t *hpa);
void w_guest_del(struct iommu_owner *o);
/* A console domain with 2 MiB at W_GPA. */
unsigned int w_domain(uint64_t *hpa);
/* Assign (expected to succeed) and tell the model what it may do. */
struct iommu_hold *w_assign(struct iommu_owner *o, rid_t rid);
/* Console attach (expected to succeed), told to the model. */
void w_attach(rid_t rid, unsigned int id);
/* The same, proof of quiet DMA waived (a device no method can stop). */
struct iommu_hold *w_assign_force(struct iommu_owner *o, rid_t rid, bool force);
void w_unassign(struct iommu_hold *h);
/* Log lines containing text at level. */
unsigned int w_log(enum log_level level, const char *text);
