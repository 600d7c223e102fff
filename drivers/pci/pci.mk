# PCI: ECAM configuration access, enumeration, capabilities, the pci command.
KERNEL_SRCS += drivers/pci/ecam.c drivers/pci/pci.c drivers/pci/caps.c \
	kernel/cmd_pci.c
