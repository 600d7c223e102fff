# PCI: enumeration and capability walks over synthetic configuration spaces
# (pci), the ECAM accessors over a fake physical memory (pci_ecam), device
# lifetimes, BAR placement and hot-plug over modelled slots (pci_hotplug),
# ACS and isolation groups (pci_group), presence, resets and quiescence
# over fake functions with DMA engines, and hot-add out of memory
# (pci_reset).
UNIT_TESTS += pci pci_ecam pci_hotplug pci_group pci_reset
PCI_TEST_SRCS := tests/unit/pci_fake_cfg.c tests/unit/pci_fake_hw.c \
	tests/unit/pci_fake_log.c \
	drivers/pci/pci.c drivers/pci/caps.c drivers/pci/bar.c \
	drivers/pci/group.c drivers/pci/hotplug.c drivers/pci/reset.c \
	lib/errno.c
pci_SRCS := tests/unit/test_pci.c $(PCI_TEST_SRCS)
pci_hotplug_SRCS := tests/unit/test_pci_hotplug.c $(PCI_TEST_SRCS)
pci_group_SRCS := tests/unit/test_pci_group.c $(PCI_TEST_SRCS)
pci_ecam_SRCS := tests/unit/test_pci_ecam.c tests/unit/pci_fake_log.c \
	drivers/pci/ecam.c lib/errno.c
pci_reset_SRCS := tests/unit/test_pci_reset.c tests/unit/pci_fake_edu.c \
	drivers/edu/edu.c drivers/pci/msi.c $(PCI_TEST_SRCS)
