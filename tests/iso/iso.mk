# The isolation layer's host tests (issue 11): drivers/iommu/iommu.c, the
# PCI layer and the VT-d driver against the VT-d model and the fake PCI
# topology.  The model keeps memory, MMIO and time; the fake topology
# configuration space (through tests/iso/seam.c), the log and counted
# object allocation: each is built with the other's functions renamed away.
ISO_SRCS := tests/iso/world.c tests/iso/seam.c tests/model/model_ir.c \
	tests/unit/pci_fake_log.c tests/unit/pci_fake_cfg.c drivers/pci/pci.c drivers/pci/caps.c \
	drivers/pci/bar.c drivers/pci/group.c drivers/pci/hotplug.c \
	drivers/pci/ats.c drivers/pci/reset.c drivers/acpi/dmar.c \
	drivers/iommu/iommu.c lib/errno.c lib/format.c
ISO_RENAMED := $(B)/host/iso/model.o

ISO_MODEL_AWAY := $(foreach f,hw_pci_read8 hw_pci_read16 hw_pci_read32 \
	hw_pci_write8 hw_pci_write16 hw_pci_write32 log_printf log_set_level \
	hw_zalloc hw_free,-D$(f)=model_$(f))
$(B)/host/iso/model.o: tests/model/model.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $< (model without PCI, log, objects)"
	$(Q)gcc $(HOST_CFLAGS) $(ISO_MODEL_AWAY) -c $< -o $@

# One named test per scenario of issue 11, over the VT-d back end.
UNIT_TESTS += iso
iso_SRCS := tests/iso/test_iso.c $(ISO_SRCS) drivers/iommu/vtd/backend.c \
	$(VTD_SRCS)
$(B)/host/bin/iso: $(ISO_RENAMED)
# The same layer over the absent back end: every assignment refused.
UNIT_TESTS += iso_absent
iso_absent_SRCS := tests/iso/test_absent.c $(ISO_SRCS) drivers/iommu/absent.c
$(B)/host/bin/iso_absent: $(ISO_RENAMED)
