# PCI: ECAM access, enumeration, device objects, BARs, isolation groups,
# native hot-plug, and the console commands over them.
KERNEL_SRCS += drivers/pci/ecam.c drivers/pci/pci.c drivers/pci/caps.c \
	drivers/pci/bar.c drivers/pci/group.c drivers/pci/hotplug.c \
	drivers/pci/ats.c drivers/pci/reset.c kernel/cmd_ats.c \
	kernel/cmd_pci.c kernel/cmd_hotplug.c kernel/hotplug.c
KERNEL_SRCS += drivers/pci/msi.c
