# The isolation layer and its back end, chosen at link time: the VT-d
# driver (drivers/iommu/vtd/vtd.mk, the default), or with IOMMU=absent the
# back end of machines without an IOMMU, which refuses every assignment.
IOMMU ?= vtd
KERNEL_SRCS += drivers/iommu/iommu.c
ifeq ($(IOMMU),absent)
KERNEL_SRCS += drivers/iommu/absent.c
endif
