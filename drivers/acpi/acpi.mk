KERNEL_SRCS += drivers/acpi/acpi.c drivers/acpi/dmar.c kernel/cmd_acpi.c
