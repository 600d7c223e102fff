#pragma once

#include <stdint.h>

#include "drivers/pci/pci.h"

/*
 * Making sure a function's DMA is over before it changes owner
 * (docs/design.md, invariant 7).
 *
 * The contract with the caller (the isolation layer):
 * - Before: the caller has moved the function's whole isolation group to
 *   the blocking domain in the IOMMU, so a request still in flight reaches
 *   nothing that belongs to anyone.
 * - pci_dev_quiesce() turns the function's Bus Master Enable off (PCI 3.0
 *   §6.2.2: it may then issue no new request) and makes sure nothing it
 *   started before can still be issued, by the first method that applies:
 *
 *   FLR      Function Level Reset (PCIe §6.6.2): Transactions Pending is
 *            waited for first, then the reset, then 100 ms, then the
 *            function must answer again.
 *   pm       D3hot then D0 (PCI Bus Power Management 1.2 §5.6.1, 10 ms
 *            each way), only when No_Soft_Reset is clear: then D0 is a
 *            reset.
 *   sbr      Secondary Bus Reset of the bridge right above, only when
 *            everything below that bridge is in the function's isolation
 *            group and the whole group is below it (the bridge itself may
 *            be a member): nobody else's device is reset.  1 ms asserted,
 *            then 100 ms (PCIe §6.6.1), then every function below must
 *            answer again.  It resets the whole group: the caller need not
 *            quiesce the other members.
 *   quiesce  a device-specific hook (pci_quiesce_hook_add()) that knows
 *            when the device's DMA engine is idle.
 *   pending  a PCI Express function's Transactions Pending (PCIe
 *            §7.5.3.5) read clear with bus mastering off.
 *
 *   A reset leaves the header as it was (BARs, bus numbers and windows of
 *   bridges below, memory and I/O decode) and ACS turned on again as at
 *   enumeration; MSI and everything else come back in their reset state,
 *   and Bus Master Enable stays off: the next owner turns on what it uses.
 * - After: the caller may hand the group to the next owner.
 *
 * Each wait on the device is bounded by timeout_ns on top of the fixed
 * delays the specifications require (at most 100 ms + 1 ms per method),
 * measured with hw_now_ns().
 */

enum pci_quiesce_method {
	PCI_QUIESCE_NONE, /* no method could be used */
	PCI_QUIESCE_FLR,
	PCI_QUIESCE_PM,
	PCI_QUIESCE_SBR,
	PCI_QUIESCE_HOOK,
	PCI_QUIESCE_PENDING,
};

/* "none", "flr", "pm", "sbr", "quiesce", "pending": for logs and guest show. */
const char *pci_quiesce_method_name(enum pci_quiesce_method method);

/*
 * What a caller lets run while a method waits (the 100 ms after an FLR or
 * a secondary bus reset, the polls after them): fn(ctx) between two looks
 * at the device.  It may remove devices (housekeeping finds them gone): a
 * function being reset that is removed meanwhile ends the method with
 * -ENODEV, and the hot-plug poll leaves alone the slot of a bridge whose
 * secondary bus is being reset (pci_host.resetting).  NULL: no yield.
 */
struct pci_yield {
	void (*fn)(void *ctx);
	void *ctx;
};

/*
 * *used is the method chosen (PCI_QUIESCE_NONE when none was).  0 when d's
 * DMA is over; -ENODEV when d is not present (pci_dev_present()) or stops
 * answering; -ENOTSUP when no method applies (the log line names what d
 * lacks for each); -ETIMEDOUT when the method's wait ran out; -ENOMEM when
 * the state of the functions a secondary bus reset would clear cannot be
 * saved.  On any error d's DMA may not be over and the caller must not
 * hand it on (unless it forces, knowingly).
 */
int pci_dev_quiesce(struct pci_host *host, struct pci_dev *d,
		    uint64_t timeout_ns, const struct pci_yield *y,
		    enum pci_quiesce_method *used);

/*
 * Between two looks at a device: y's fn, if any, then a CPU pause.  Every
 * wait of a method, a quiesce hook's included, goes through it.
 */
void pci_pause(const struct pci_yield *y);

/*
 * A device-specific quiesce for the functions with this vendor and device
 * ID.  quiesce() is called with the function's bus mastering off and
 * returns 0 once no DMA it started can still be issued, -ETIMEDOUT at
 * deadline_ns, -ENODEV when it stops answering.  It waits with
 * pci_pause(y), so the caller's yield runs as in the other methods: the
 * device may be found gone afterwards.
 */
struct pci_quiesce_hook {
	uint16_t vendor;
	uint16_t device;
	int (*quiesce)(const struct pci_dev *d, uint64_t deadline_ns,
		       const struct pci_yield *y);
};

/*
 * Registers a hook with the host; the hook must outlive it.  -EEXIST when
 * one is registered for the same IDs, -ENOSPC when PCI_QUIESCE_HOOKS_MAX
 * are.
 */
int pci_quiesce_hook_add(struct pci_host *host,
			 const struct pci_quiesce_hook *hook);
