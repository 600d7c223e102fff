KERNEL_SRCS += drivers/acpi/acpi.c drivers/acpi/dmar.c drivers/acpi/spcr.c \
	kernel/cmd_acpi.c
