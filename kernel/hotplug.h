#pragma once

#include "kernel/kernel.h"

/*
 * The kernel's side of PCI hot-plug: it owns the devices' DMA, so it is
 * told of every removal and addition (drivers/pci/hotplug.h) and keeps the
 * IOMMU in step with the slots.
 */

/* One look at every hot-plug slot; the idle console calls it. */
void hotplug_poll(struct kernel *k);
