# PCI: enumeration and capability walks over synthetic configuration spaces
# (pci), and the ECAM accessors over a fake physical memory (pci_ecam).
UNIT_TESTS += pci pci_ecam
pci_SRCS := tests/unit/test_pci.c tests/unit/pci_fake_cfg.c \
	tests/unit/pci_fake_log.c drivers/pci/pci.c drivers/pci/caps.c \
	lib/errno.c
pci_ecam_SRCS := tests/unit/test_pci_ecam.c tests/unit/pci_fake_log.c \
	drivers/pci/ecam.c lib/errno.c
