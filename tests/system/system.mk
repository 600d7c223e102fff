# The whole-system randomized test (issue 11): the isolation layer, the PCI
# layer and the VT-d driver against the VT-d model and the fake PCI
# topology with hot-plug.  Both stand-ins implement parts of the hw seam:
# the model keeps memory, MMIO and time, the fake PCI topology keeps
# configuration space (tests/unit/pci_fake_hw.c, built by iso.mk), the
# log and counted object allocation, so the model is built with those
# renamed away.
SYSTEM_SRCS := tests/system/main.c tests/system/script.c tests/system/world.c \
	tests/model/model_ir.c \
	tests/unit/pci_fake_cfg.c tests/unit/pci_fake_log.c \
	drivers/pci/pci.c drivers/pci/caps.c drivers/pci/bar.c \
	drivers/pci/group.c drivers/pci/hotplug.c drivers/pci/ats.c \
	drivers/pci/reset.c drivers/acpi/dmar.c lib/format.c lib/errno.c \
	drivers/iommu/iommu.c drivers/iommu/vtd/backend.c $(VTD_SRCS)

MODEL_AWAY := $(foreach f,hw_pci_read8 hw_pci_read16 hw_pci_read32 \
	hw_pci_write8 hw_pci_write16 hw_pci_write32 log_printf log_set_level \
	hw_zalloc hw_free,-D$(f)=model_$(f))
$(B)/host/system/model/%.o: tests/model/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $< (model without PCI, log, objects)"
	$(Q)gcc $(HOST_CFLAGS) $(MODEL_AWAY) -c $< -o $@

# Part of make test-unit (and so of make test): with no arguments it runs
# 50 seeds of 2000 steps.
UNIT_TESTS += system
system_SRCS := $(SYSTEM_SRCS)
$(B)/host/bin/system: \
	$(MODEL_CORE:tests/model/%.c=$(B)/host/system/model/%.o) \
	$(B)/host/iso/pci_fake_hw.o

test-system: $(B)/host/bin/system
	$(B)/host/bin/system --seeds $(or $(SEEDS),50) --steps $(or $(STEPS),2000)
# make soak SECONDS=N: fresh seeds until N seconds have passed.
soak: $(B)/host/bin/system
	$(B)/host/bin/system --soak $(or $(SECONDS),600) --steps $(or $(STEPS),2000)
.PHONY: test-system soak
