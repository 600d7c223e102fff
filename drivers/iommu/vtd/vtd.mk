# The VT-d driver: the same sources build into the kernel and, linked with
# the hardware model, into the host tests (tests/model/model.mk).
VTD_SRCS := \
	drivers/iommu/vtd/unit.c drivers/iommu/vtd/qi.c \
	drivers/iommu/vtd/qi_recover.c drivers/iommu/vtd/qi_console.c \
	drivers/iommu/vtd/qi_desc.c drivers/iommu/vtd/invalidate.c \
	drivers/iommu/vtd/device.c \
	drivers/iommu/vtd/legacy.c drivers/iommu/vtd/scalable.c \
	drivers/iommu/vtd/pgtable.c \
	drivers/iommu/vtd/domain.c drivers/iommu/vtd/ats.c \
	drivers/iommu/vtd/fault.c drivers/iommu/vtd/intremap.c \
	drivers/iommu/vtd/inherit.c lib/bitmap.c

ifeq ($(IOMMU),vtd)
KERNEL_SRCS += $(VTD_SRCS) drivers/iommu/vtd/backend.c
endif
