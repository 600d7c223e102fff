# The isolation layer's host tests (issue 11): drivers/iommu/iommu.c, the
# PCI layer and the VT-d driver against the VT-d model and the fake PCI
# topology.  The model keeps memory, MMIO and time; the fake topology
# configuration space (pci_fake_hw.c, its clock renamed away), the log and counted
# object allocation: each is built with the other's functions renamed away.
ISO_SRCS := tests/iso/world.c tests/model/model_ir.c \
	tests/unit/pci_fake_log.c tests/unit/pci_fake_cfg.c drivers/pci/pci.c drivers/pci/caps.c \
	drivers/pci/bar.c drivers/pci/group.c drivers/pci/hotplug.c \
	drivers/pci/ats.c drivers/pci/reset.c drivers/acpi/dmar.c \
	drivers/iommu/iommu.c lib/errno.c lib/format.c
ISO_RENAMED := $(MODEL_CORE:tests/model/%.c=$(B)/host/iso/model/%.o) \
	$(B)/host/iso/pci_fake_hw.o

$(B)/host/iso/pci_fake_hw.o: tests/unit/pci_fake_hw.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $< (fake PCI without a clock)"
	$(Q)gcc $(HOST_CFLAGS) -Dhw_now_ns=pci_fake_hw_now_ns \
		-Dhw_relax=pci_fake_hw_relax -c $< -o $@

ISO_MODEL_AWAY := $(foreach f,hw_pci_read8 hw_pci_read16 hw_pci_read32 \
	hw_pci_write8 hw_pci_write16 hw_pci_write32 log_printf log_set_level \
	hw_zalloc hw_free,-D$(f)=model_$(f))
$(B)/host/iso/model/%.o: tests/model/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $< (model without PCI, log, objects)"
	$(Q)gcc $(HOST_CFLAGS) $(ISO_MODEL_AWAY) -c $< -o $@

# One named test per scenario of issue 11, over the VT-d back end.
UNIT_TESTS += iso
iso_SRCS := tests/iso/test_iso.c $(ISO_SRCS) drivers/iommu/vtd/backend.c \
	$(VTD_SRCS)
$(B)/host/bin/iso: $(ISO_RENAMED)
# Table formats asked for and chosen, ATS falling back in scalable mode.
UNIT_TESTS += iso_format
iso_format_SRCS := tests/iso/test_format.c $(ISO_SRCS) \
	drivers/iommu/vtd/backend.c $(VTD_SRCS)
$(B)/host/bin/iso_format: $(ISO_RENAMED)
# The same layer over the absent back end: every assignment refused.
UNIT_TESTS += iso_absent
iso_absent_SRCS := tests/iso/test_absent.c $(ISO_SRCS) drivers/iommu/absent.c
$(B)/host/bin/iso_absent: $(ISO_RENAMED)

# make bench: attach and fault attribution at 16, 1k and 16k devices,
# built like the kernel (-O2, no sanitizers); the bench answers
# configuration reads itself, so the model's are renamed away.
ISO_BENCH_CFLAGS := -std=c11 -O2 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
	-Wno-unused-parameter -I.
ISO_BENCH_SRCS := tests/iso/bench_iso.c tests/model/model_ir.c tests/model/pci_cfg.c \
	drivers/pci/pci.c drivers/pci/caps.c drivers/pci/bar.c \
	drivers/pci/group.c drivers/pci/hotplug.c drivers/pci/ats.c \
	drivers/pci/reset.c drivers/acpi/dmar.c drivers/iommu/iommu.c \
	drivers/iommu/vtd/backend.c $(VTD_SRCS) lib/errno.c lib/format.c
$(B)/host/iso-bench/model/%.o: tests/model/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(Q)gcc $(ISO_BENCH_CFLAGS) -Dhw_pci_read32=model_hw_pci_read32 \
		-c $< -o $@
$(B)/host/iso-bench/bench: $(ISO_BENCH_SRCS) \
	$(MODEL_CORE:tests/model/%.c=$(B)/host/iso-bench/model/%.o) | $(DEPS_STAMP)
	@echo "  HOSTLD  $@"
	$(Q)gcc $(ISO_BENCH_CFLAGS) $^ -o $@
BENCH_EXTRA += $(B)/host/iso-bench/bench

# The layer at its size limits: 16 units (its own machine, not world.c's).
UNIT_TESTS += iso_units
iso_units_SRCS := tests/iso/test_units.c \
	$(filter-out tests/iso/world.c,$(ISO_SRCS)) \
	drivers/iommu/vtd/backend.c $(VTD_SRCS)
$(B)/host/bin/iso_units: $(ISO_RENAMED)

# kernel/guest.c on the host (tests/iso/test_guest.c): the world's layer is
# the kernel's (W_KERNEL_IOMMU); guest.c zeroes its memory through the
# model and its guest objects are counted (memset, hw_zalloc and hw_free
# renamed to the test's).
UNIT_TESTS += iso_guest
iso_guest_SRCS := tests/iso/test_guest.c \
	$(filter-out tests/iso/world.c,$(ISO_SRCS)) drivers/edu/edu.c \
	drivers/pci/msi.c drivers/iommu/vtd/backend.c $(VTD_SRCS)
$(B)/host/iso/guest/world.o: tests/iso/world.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $< (the kernel's iommu)"
	$(Q)gcc $(HOST_CFLAGS) -DW_KERNEL_IOMMU -c $< -o $@
$(B)/host/iso/guest/guest.o: kernel/guest.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $< (memset through the model, objects counted)"
	$(Q)gcc $(HOST_CFLAGS) -Dmemset=guest_test_memset \
		-Dhw_zalloc=guest_test_zalloc -Dhw_free=guest_test_free \
		-c $< -o $@
$(B)/host/bin/iso_guest: $(ISO_RENAMED) $(B)/host/iso/guest/world.o \
	$(B)/host/iso/guest/guest.o
